//! A minimal W3C WebDriver client (https://www.w3.org/TR/webdriver2/) on `reqwest`, for the browser tests:
//! Debian's `/usr/bin/chromium`, headless, driven by `/usr/bin/chromedriver` (apt packages `chromium` and
//! `chromium-driver`). [`Browser::start`] runs a chromedriver on a free loopback port with a fresh profile
//! and opens one session; dropping the [`Browser`] ends the session and kills the driver. Every failure
//! panics with what was being done, and every wait is bounded.
#![allow(dead_code)] // Not every test uses every command.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The browser (Debian's wrapper script, which chromedriver starts).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The limit on one WebDriver command.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The limit on the driver becoming ready and on opening the session (Chromium starts slowly on 2 cores).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The default limit of [`Browser::wait_for`] and [`Browser::wait_for_url`].
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The key of a web element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process in its own process group, with its temp dir (log and browser profile).
struct Driver {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Driver {
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("chromedriver.log")
    }

    /// The end of the driver's log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
        log[start..].to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser process it left behind (the session is normally
        // deleted first, which already closes the browser).
        let pid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An error a WebDriver command answered with.
#[derive(Debug)]
pub struct WebDriverError {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The WebDriver error code, like `no such element`.
    pub error: String,
    /// The driver's message.
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.message)
    }
}

/// One headless Chromium session.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    deleted: bool,
    // Dropped after `Drop for Browser` has deleted the session.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and opens a session with a fresh profile.
    pub async fn start() -> Browser {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(CALL_TIMEOUT)
            .build()
            .expect("building the WebDriver HTTP client");
        let driver = start_driver(&http).await;
        let profile = driver.dir.path().join("profile");
        std::fs::create_dir(&profile).expect("creating the browser profile dir");
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 30_000, "script": 30_000 },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--no-first-run",
                            "--disable-quic",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                },
            },
        });
        let url = format!("http://127.0.0.1:{}/session", driver.port);
        let resp = http
            .post(&url)
            .timeout(START_TIMEOUT)
            .json(&capabilities)
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver POST /session: {e}\nchromedriver log:\n{}", driver.log_tail()));
        let value = match answer(resp).await {
            Ok(v) => v,
            Err(e) => panic!("cannot start {CHROMIUM}: {e}\nchromedriver log:\n{}", driver.log_tail()),
        };
        let session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /session answered without a sessionId: {value}"))
            .to_owned();
        Browser { http, session, deleted: false, driver }
    }

    /// Runs a command of this session (`path` is relative to `/session/{id}`), returning its `value`.
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
        let url = format!("http://127.0.0.1:{}/session/{}{path}", self.driver.port, self.session);
        let mut req = self.http.request(method.clone(), &url);
        if method == Method::POST {
            // WebDriver wants a JSON body on every POST, `{}` when there are no parameters.
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            panic!("WebDriver {method} {path}: {e}\nchromedriver log:\n{}", self.driver.log_tail())
        });
        answer(resp).await
    }

    /// [`Browser::try_call`], panicking on an error.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
        }
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The current top-level URL (for a failed navigation, the URL that failed to load).
    pub async fn current_url(&self) -> String {
        let v = self.call(Method::GET, "/url", None).await;
        v.as_str().unwrap_or_else(|| panic!("GET /url answered {v}")).to_owned()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        let v = self.call(Method::GET, "/title", None).await;
        v.as_str().unwrap_or_else(|| panic!("GET /title answered {v}")).to_owned()
    }

    /// The page's HTML as the browser serializes its DOM.
    pub async fn source(&self) -> String {
        let v = self.call(Method::GET, "/source", None).await;
        v.as_str().unwrap_or_else(|| panic!("GET /source answered {v}")).to_owned()
    }

    /// The first element matching the CSS selector, if there is one now.
    pub async fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.try_call(Method::POST, "/element", Some(body)).await {
            Ok(v) => Some(self.element(css, &v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css:?}: {e}"),
        }
    }

    /// The first element matching the CSS selector; panics, showing the page, when there is none.
    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Some(el) => el,
            None => {
                panic!("no element matches {css:?} on {}\n{}", self.current_url().await, self.source_excerpt().await)
            }
        }
    }

    /// Every element matching the CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.call(Method::POST, "/elements", Some(body)).await;
        let all = v.as_array().unwrap_or_else(|| panic!("POST /elements answered {v}"));
        all.iter().map(|e| self.element(css, e)).collect()
    }

    /// Waits (up to [`WAIT_TIMEOUT`]) for an element matching the CSS selector.
    pub async fn wait_for(&self, css: &str) -> Element<'_> {
        let started = Instant::now();
        loop {
            if let Some(el) = self.try_find(css).await {
                return el;
            }
            if started.elapsed() > WAIT_TIMEOUT {
                panic!(
                    "no element matches {css:?} after {WAIT_TIMEOUT:?} on {}\n{}",
                    self.current_url().await,
                    self.source_excerpt().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to [`WAIT_TIMEOUT`]) until the current URL satisfies `done`, and returns it.
    pub async fn wait_for_url(&self, what: &str, done: impl Fn(&url::Url) -> bool) -> url::Url {
        let started = Instant::now();
        loop {
            let current = self.current_url().await;
            if let Some(u) = url::Url::parse(&current).ok().filter(|u| done(u)) {
                return u;
            }
            if started.elapsed() > WAIT_TIMEOUT {
                panic!(
                    "timed out after {WAIT_TIMEOUT:?} waiting for {what}; still on {current}\n{}",
                    self.source_excerpt().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        self.call(Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    /// Renders pages as for a user who prefers `scheme` (`light` or `dark`), through the DevTools protocol.
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        let features = json!([{ "name": "prefers-color-scheme", "value": scheme }]);
        let command = json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "features": features } });
        self.call(Method::POST, "/goog/cdp/execute", Some(command)).await;
    }

    /// Adds a virtual authenticator to the browser (W3C WebAuthn §11.3, its WebDriver extension): a platform
    /// authenticator (CTAP2, `internal`) that keeps discoverable credentials and verifies its user, answering the
    /// page's `navigator.credentials` calls with no dialog. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let v = self.call(Method::POST, "/webauthn/authenticator", Some(options)).await;
        v.as_str().unwrap_or_else(|| panic!("POST /webauthn/authenticator answered {v}")).to_owned()
    }

    /// The credentials the virtual authenticator `id` holds (§11.7).
    pub async fn virtual_credentials(&self, id: &str) -> Vec<Value> {
        let v = self.call(Method::GET, &format!("/webauthn/authenticator/{id}/credentials"), None).await;
        v.as_array().unwrap_or_else(|| panic!("GET …/credentials answered {v}")).clone()
    }

    /// Resizes the browser window.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.call(Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    /// The start of the page source, for failure messages.
    pub async fn source_excerpt(&self) -> String {
        match self.try_call(Method::GET, "/source", None).await {
            Ok(Value::String(s)) => s.chars().take(3000).collect(),
            Ok(v) => format!("(page source: {v})"),
            Err(e) => format!("(no page source: {e})"),
        }
    }

    /// Ends the session, closing the browser (dropping does the same, blocking).
    pub async fn quit(mut self) {
        let url = format!("http://127.0.0.1:{}/session/{}", self.driver.port, self.session);
        let resp = self.http.delete(&url).send().await.unwrap_or_else(|e| panic!("WebDriver DELETE /session: {e}"));
        self.deleted = true;
        if let Err(e) = answer(resp).await {
            panic!("WebDriver DELETE /session failed: {e}");
        }
    }

    fn element(&self, css: &str, v: &Value) -> Element<'_> {
        let id = v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("finding {css:?} answered no element: {v}"));
        Element { browser: self, id: id.to_owned(), css: css.to_owned() }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.deleted {
            // Plain blocking HTTP: Drop cannot await, and this also works while a test panics.
            let path = format!("/session/{}", self.session);
            if let Err(e) = blocking_delete(self.driver.port, &path) {
                eprintln!("WebDriver DELETE {path}: {e}");
            }
        }
    }
}

/// An element of the page it was found on.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
    css: String,
}

impl Element<'_> {
    async fn call(&self, method: Method, command: &str, body: Option<Value>) -> Value {
        let path = format!("/element/{}{command}", self.id);
        match self.browser.try_call(method.clone(), &path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {command} on {:?} failed: {e}", self.css),
        }
    }

    /// Clicks it (waiting for a navigation it starts).
    pub async fn click(&self) {
        self.call(Method::POST, "/click", None).await;
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) {
        self.call(Method::POST, "/value", Some(json!({ "text": text }))).await;
    }

    /// Empties an input.
    pub async fn clear(&self) {
        self.call(Method::POST, "/clear", None).await;
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let v = self.call(Method::GET, "/text", None).await;
        v.as_str().unwrap_or_else(|| panic!("text of {:?} is {v}", self.css)).to_owned()
    }

    /// A DOM property (`value` of an input, say), `Null` when absent.
    pub async fn property(&self, name: &str) -> Value {
        self.call(Method::GET, &format!("/property/{name}"), None).await
    }

    /// Whether it is displayed.
    pub async fn is_displayed(&self) -> bool {
        let v = self.call(Method::GET, "/displayed", None).await;
        v.as_bool().unwrap_or_else(|| panic!("displayed of {:?} is {v}", self.css))
    }
}

/// The `value` of a WebDriver answer, or its error.
async fn answer(resp: reqwest::Response) -> Result<Value, WebDriverError> {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_else(|e| panic!("reading a WebDriver answer ({status}): {e}"));
    let mut v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("WebDriver answered {status} with something other than JSON ({e}): {text}"));
    let value = v["value"].take();
    if status.is_success() {
        return Ok(value);
    }
    Err(WebDriverError {
        status,
        error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
        message: value["message"].as_str().unwrap_or(&text).to_owned(),
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Starts chromedriver on a free port and waits for `GET /status` to say it is ready.
async fn start_driver(http: &reqwest::Client) -> Driver {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (scripts/services.sh does)"
    );
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMEDRIVER} is missing: install Debian's chromium-driver (scripts/services.sh does)"
    );
    // Another process can take the port between picking and binding it; then the driver exits and a new
    // port is tried.
    for _ in 0..5 {
        let port = free_port();
        let dir = tempfile::tempdir().expect("creating a temp dir for chromedriver");
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let mut driver = Driver { child, port, dir };
        let started = Instant::now();
        loop {
            if let Some(status) = driver.child.try_wait().expect("polling chromedriver") {
                let log = driver.log_tail();
                if log.contains("bind") || log.contains("in use") {
                    break; // The port was taken: try another.
                }
                panic!("{CHROMEDRIVER} exited ({status}) before it was ready\nlog:\n{log}");
            }
            let status =
                http.get(format!("http://127.0.0.1:{port}/status")).timeout(Duration::from_secs(5)).send().await;
            if let Ok(resp) = status {
                if let Ok(v) = resp.json::<Value>().await {
                    if v["value"]["ready"] == Value::Bool(true) {
                        return driver;
                    }
                }
            }
            if started.elapsed() > START_TIMEOUT {
                panic!("{CHROMEDRIVER} not ready after {START_TIMEOUT:?}\nlog:\n{}", driver.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("{CHROMEDRIVER} found no free port after 5 attempts");
}

/// `DELETE path` over a plain blocking connection, waiting (bounded) for the whole answer: the driver
/// answers once the browser has closed, and may keep the connection open afterwards.
fn blocking_delete(port: u16, path: &str) -> std::io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    stream.set_write_timeout(Some(CALL_TIMEOUT))?;
    write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}
