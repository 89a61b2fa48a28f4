//! The test harness: [`spawn_app`] starts a real server on a free loopback port with a fresh database (a temp
//! SQLite file and the in-process cache, or a `t_<uuid>` Postgres database and Redis under `t:<uuid>:`), and
//! [`TestApp::cli`] runs the real `tessera` binary against the same backend. [`both_backends!`] runs one test
//! body on each backend. Postgres and Redis tests fail, never skip, when the servers cannot be reached.
#![allow(dead_code)] // Each test module uses a different part of the harness.

use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tessera::config::{LogSettings, RawSettings, Settings};
use tessera::jose::key::NewKey;
use tessera::jose::{Kek, KeyRing};
use tessera::startup::{self, Application};
use tessera::storage::diesel::{testing, Db, DieselStore};
use tessera::storage::KeyStore;

/// Runs a test body once per backend: `both_backends!(name, async |app| { .. })` makes a module `name` with
/// the tests `name::sqlite` and `name::postgres`, each given its own `app` from [`spawn_app`]. A second form
/// tweaks the settings first: `both_backends!(name, |raw| { raw.keys.refresh_seconds = 1; }, async |app| { .. })`.
/// Attributes before the name (`#[ignore = ".."]`) go on both tests. The body sees the enclosing module's imports.
macro_rules! both_backends {
    ($(#[$meta:meta])* $name:ident, async |$app:ident| $body:block) => {
        both_backends!($(#[$meta])* $name, |_raw| {}, async |$app| $body);
    };
    ($(#[$meta:meta])* $name:ident, |$raw:ident| $tweak:block, async |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body(backend: crate::helpers::Backend) {
                let $app = crate::helpers::spawn_app_with(backend, |$raw: &mut ::tessera::config::RawSettings| $tweak).await;
                $body
            }

            $(#[$meta])*
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(crate::helpers::Backend::Sqlite).await
            }

            $(#[$meta])*
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body(crate::helpers::Backend::Postgres).await
            }
        }
    };
}

/// Where Redis runs for tests (a loopback server by default).
pub const REDIS_URL_ENV: &str = "TESSERA_TEST_REDIS_URL";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Logs go to stderr only with `TEST_LOG` set; otherwise no subscriber is installed and tests stay quiet.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        tessera::telemetry::init(&LogSettings { json: false, level: "info".into(), access: false });
    }
});

/// The storage a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the app's temp dir, with the in-process cache.
    Sqlite,
    /// A fresh Postgres database, with Redis.
    Postgres,
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` (or `localhost`, [`spawn_app_named`]), which is also the issuer.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// `http://<address>` of the management listener, when `http.management_bind` is set.
    pub management_address: Option<String>,
    /// The backend it runs on.
    pub backend: Backend,
    /// The settings it was built with (validated).
    pub settings: Settings,
    /// The same settings as given, for the CLI and for peers.
    pub raw: RawSettings,
    /// No redirects followed, cookies kept (in `cookies`).
    pub api_client: reqwest::Client,
    /// The cookies `api_client` holds.
    pub cookies: Arc<reqwest::cookie::Jar>,
    /// Holds `keys.dir` and the SQLite file; removed on drop.
    pub dir: TempDir,
    /// Whether dropping this app drops the Postgres database (peers share their origin's).
    owns_database: bool,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.owns_database && self.backend == Backend::Postgres {
            // Best effort: leftovers are harmless (cache entries expire anyway); DROP … WITH (FORCE) disconnects
            // the server.
            let _ = testing::drop_postgres_database_blocking(self.settings.database.url());
            if let Some(redis) = &self.settings.redis {
                let _ = delete_redis_prefix(redis.url(), &self.settings.redis_prefix);
            }
        }
    }
}

fn delete_redis_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn)?;
    if !keys.is_empty() {
        redis::cmd("DEL").arg(keys).query::<()>(&mut conn)?;
    }
    Ok(())
}

/// A server on `backend` with the test defaults.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// A server on `backend` whose settings `tweak` adjusts before validation. `http.bind` and `issuer` are set
/// afterwards (to the free port picked), so a tweak cannot change them.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut RawSettings)) -> TestApp {
    spawn_app_named(backend, "127.0.0.1", tweak).await
}

/// [`spawn_app_with`] whose issuer (and `address`) names the loopback listener by `host` (`127.0.0.1` or
/// `localhost`): a browser keeps apart the cookies of two servers only when their host names differ.
pub async fn spawn_app_named(backend: Backend, host: &str, tweak: impl FnOnce(&mut RawSettings)) -> TestApp {
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let mut raw = RawSettings::default();
    raw.http.workers = Some(1);
    raw.keys.dir = dir.path().join("keys");
    raw.database.max_connections = Some(4);
    raw.passwords.memory_kib = 64;
    raw.passwords.iterations = 1;
    match backend {
        Backend::Sqlite => {
            raw.database.url = testing::sqlite_url(&dir.path().join("tessera.db"));
        }
        Backend::Postgres => {
            raw.database.url = testing::migrated_postgres_url().await;
            raw.redis.url = Some(redis_url());
            raw.redis.prefix = format!("t:{}:", uuid::Uuid::new_v4().simple());
            raw.keys.kek = Some(random_kek());
        }
    }
    tweak(&mut raw);
    start(backend, raw, dir, Some(host)).await
}

impl TestApp {
    /// A second instance of the same deployment: same database, Redis prefix, KEK and key directory, its own
    /// port. Only the original drops the database, so keep it alive at least as long as the peer.
    pub async fn spawn_peer(&self) -> TestApp {
        self.spawn_peer_with(|_| {}).await
    }

    /// [`TestApp::spawn_peer`] with settings adjusted by `tweak`.
    pub async fn spawn_peer_with(&self, tweak: impl FnOnce(&mut RawSettings)) -> TestApp {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let mut raw = self.raw.clone();
        tweak(&mut raw);
        start(self.backend, raw, dir, None).await
    }

    /// Empties what this deployment keeps in Redis, as a Redis that lost its data would be (nothing on the
    /// embedded default, whose cache is in each instance's process).
    pub fn forget_cache(&self) {
        if let Some(redis) = &self.settings.redis {
            delete_redis_prefix(redis.url(), &self.settings.redis_prefix).expect("emptying the Redis prefix");
        }
    }

    /// A browser holding a copy of the cookies `api_client` has for this app now, as one who stole them would.
    pub fn cookie_thief(&self) -> reqwest::Client {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.address).expect("the app's address is a URL");
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(cookies) = self.cookies.cookies(&url) {
            headers.insert(reqwest::header::COOKIE, cookies);
        }
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("building the HTTP client")
    }

    /// `address` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.api_client.get(self.url(path)).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path` with `If-None-Match: etag`.
    pub async fn get_if_none_match(&self, path: &str, etag: &str) -> reqwest::Response {
        self.api_client
            .get(self.url(path))
            .header(reqwest::header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The served JWKS as JSON.
    pub async fn jwks(&self) -> Value {
        let resp = self.get("/jwks").await;
        assert_eq!(resp.status(), 200, "GET /jwks");
        resp.json().await.expect("/jwks is JSON")
    }

    /// The kids in the served JWKS.
    pub async fn served_kids(&self) -> Vec<String> {
        kids(&self.jwks().await)
    }

    /// The store and a second key ring on the app's database, as another instance would open them.
    pub async fn open_key_ring(&self) -> (DieselStore, KeyRing) {
        let store = startup::open_store(&self.settings).await.expect("opening the app's store");
        let ring = startup::open_key_ring(&self.settings, &store).await.expect("opening the app's key ring");
        (store, ring)
    }

    /// The settings as `TESSERA__…` variables: every value that differs from the embedded defaults, so the
    /// CLI sees exactly this app's configuration (database, Redis, KEK, key dir, cost, issuer, tweaks).
    pub fn cli_env(&self) -> Vec<(String, String)> {
        settings_env(&self.raw)
    }

    /// Runs the `tessera` binary with `args` against this app's backend, `stdin` piped in when given.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = tessera_command(self.dir.path());
        cmd.envs(self.cli_env()).args(args);
        run(cmd, stdin)
    }

    /// Runs `tessera --json <args>`, asserts it succeeded and parses its output.
    pub fn cli_json(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all, stdin);
        assert_success(&out, &all);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("tessera {all:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })
    }
}

/// How many first signing keys the test process makes; later apps reuse them in turn.
const FIRST_KEYS: usize = 16;
static FIRST_KEY_POOL: Mutex<Vec<Arc<NewKey>>> = Mutex::new(Vec::new());
static FIRST_KEYS_HANDED: AtomicUsize = AtomicUsize::new(0);

/// A first signing key for a new app: one of [`FIRST_KEYS`] made by this process. Generating an RSA key at each
/// app's start took most of the test process's CPU time (0.2 s each here), and a key made for one test's database
/// serves another's as well. Rotations, imports and CLI commands still make their keys as they would.
fn first_key() -> Arc<NewKey> {
    let n = FIRST_KEYS_HANDED.fetch_add(1, Ordering::Relaxed);
    if n >= FIRST_KEYS {
        let pool = FIRST_KEY_POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = pool.get(n % pool.len().max(1)) {
            return Arc::clone(key);
        }
    }
    let key = Arc::new(NewKey::generate(2048).expect("generating an RSA key"));
    FIRST_KEY_POOL.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::clone(&key));
    key
}

/// Migrates the new database of `settings` and puts a [`first_key`] in its empty key ring, active now, as the
/// server's start would have generated one.
async fn seed_first_key(settings: &Settings) {
    let db = Db::connect(settings.database.url(), 1, Duration::from_secs(10)).await.expect("opening the test database");
    db.migrate().await.expect("migrating the test database");
    let store = DieselStore::new(db);
    let kek = Kek::load(&settings.keys.kek).expect("loading the test KEK");
    let key = tokio::task::spawn_blocking(first_key).await.expect("making a first key");
    let now = tessera::domain::now();
    let sealed = key.seal(&kek, now, now).expect("sealing the first key");
    let (version, keys) = store.load_ring().await.expect("reading the key ring");
    assert!(keys.is_empty(), "a new database has an empty key ring");
    assert!(store.update_ring(version, vec![sealed], Vec::new()).await.expect("storing the first key"));
}

/// Starts a server; `host` names its issuer's host when it owns its database (a peer keeps the origin's issuer).
async fn start(backend: Backend, mut raw: RawSettings, dir: TempDir, host: Option<&str>) -> TestApp {
    let owns_database = host.is_some();
    if owns_database {
        seed_first_key(&raw.clone().validate().unwrap_or_else(|e| panic!("test settings are invalid: {e}"))).await;
    }
    // The issuer must name the bound port, so the port is picked before the server binds it. Another test can
    // take it in between; then the bind fails and a new port is tried.
    for _ in 0..5 {
        let port = free_port();
        raw.http.bind = format!("127.0.0.1:{port}");
        // Peers are instances of one deployment behind one public address: they share the origin's issuer.
        if let Some(host) = host {
            raw.issuer = format!("http://{host}:{port}");
        }
        let settings = raw.clone().validate().unwrap_or_else(|e| panic!("test settings are invalid: {e}"));
        let app = match Application::build(settings.clone()).await {
            Ok(app) => app,
            Err(e) if is_addr_in_use(&e) => continue,
            Err(e) => {
                if owns_database && backend == Backend::Postgres {
                    let _ = testing::drop_postgres_database(settings.database.url()).await;
                }
                panic!("starting the app on {backend:?}: {e:#}")
            }
        };
        assert_eq!(app.port(), port);
        let management_address = app.management_addr().map(|addr| format!("http://{addr}"));
        tokio::spawn(app.run_until_stopped());
        let cookies = Arc::new(reqwest::cookie::Jar::default());
        let api_client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(Arc::clone(&cookies))
            .build()
            .expect("building the HTTP client");
        return TestApp {
            address: format!("http://{}:{port}", host.unwrap_or("127.0.0.1")),
            port,
            management_address,
            backend,
            settings,
            raw,
            api_client,
            cookies,
            dir,
            owns_database,
        };
    }
    panic!("no free port after 5 attempts");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse))
}

/// Whether `password` matches a stored PHC hash, checked by the argon2 crate itself (not the server's checker).
pub fn password_matches(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// The Redis server for tests.
pub fn redis_url() -> String {
    std::env::var(REDIS_URL_ENV).unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// A fresh key-encryption key, base64 (what `openssl rand -base64 32` prints).
pub fn random_kek() -> String {
    let mut key = [0u8; 32];
    openssl::rand::rand_bytes(&mut key).expect("random bytes");
    STANDARD.encode(key)
}

/// Every setting of `raw` that differs from the defaults, as `TESSERA__SECTION__KEY` variables.
pub fn settings_env(raw: &RawSettings) -> Vec<(String, String)> {
    let ours = serde_json::to_value(raw).expect("settings serialize");
    let defaults = serde_json::to_value(RawSettings::default()).expect("settings serialize");
    let mut env = Vec::new();
    let Value::Object(sections) = ours else { unreachable!("settings are a map") };
    for (section, value) in sections {
        match value {
            Value::Object(keys) => {
                for (key, v) in keys {
                    if defaults[&section][&key] != v {
                        env.push((
                            format!("TESSERA__{}__{}", section.to_uppercase(), key.to_uppercase()),
                            env_value(&v),
                        ));
                    }
                }
            }
            v if defaults[&section] != v => env.push((format!("TESSERA__{}", section.to_uppercase()), env_value(&v))),
            _ => {}
        }
    }
    env
}

fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        // A list of tables (`federation.providers`) in figment's own syntax: `[{id="corp", trust_email=true}]`.
        Value::Array(items) if items.iter().any(Value::is_object) => {
            format!("[{}]", items.iter().map(env_value).collect::<Vec<_>>().join(", "))
        }
        Value::Object(table) => {
            let entries = table.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s:?}"),
                other => format!("{k}={}", env_value(other)),
            });
            format!("{{{}}}", entries.collect::<Vec<_>>().join(", "))
        }
        // A list is written as JSON, as in `deploy/compose.yaml` (`TESSERA__HTTP__TRUSTED_PROXIES: '["…"]'`).
        Value::Array(_) => v.to_string(),
        other => panic!("no environment form for the setting value {other}"),
    }
}

/// A `tessera` command with a clean environment: no `TESSERA__…` (or any other) variable leaks in from the
/// outer environment but `PATH` and `HOME`; it runs in `cwd`, so relative default paths stay in a temp dir.
pub fn tessera_command(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.env_clear().current_dir(cwd);
    for var in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd
}

/// Starts `tessera --json serve` in `cwd` with `settings` (environment variables) and reads the one JSON line it
/// prints once it listens, waiting up to 30 s; the process keeps running, and is killed if no line came.
pub fn serve_json(cwd: &Path, settings: &[(&str, &str)]) -> (std::process::Child, Value) {
    use std::io::{BufRead, BufReader};
    let mut cmd = tessera_command(cwd);
    cmd.envs(settings.iter().copied()).args(["--json", "serve"]).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("starting the tessera binary");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no line from serve within 30 s");
    };
    let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (child, v)
}

/// Runs `cmd` to completion with `stdin` piped in (or closed).
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting the tessera binary");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes()).expect("writing to the CLI's stdin");
    }
    child.wait_with_output().expect("waiting for the tessera binary")
}

/// Like [`run`] without stdin, killing the process when it runs longer than `limit` (a `serve` that should
/// have refused its configuration must not hang the suite).
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting the tessera binary");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("polling the tessera binary").is_some() {
            return child.wait_with_output().expect("collecting the output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting the output");
            panic!(
                "tessera still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a CLI run succeeded, showing its output when it did not.
pub fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "tessera {args:?} failed ({})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a CLI run failed with a non-zero status and returns its stderr.
pub fn assert_failure(out: &Output, args: &[&str]) -> String {
    assert!(
        !out.status.success(),
        "tessera {args:?} should have failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.code().is_some_and(|c| c != 0), "tessera {args:?}: {}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `check` every 100 ms until it returns `Some`, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sleeps until the Unix time `t` (seconds) has been reached.
pub async fn sleep_until_unix(t: i64) {
    loop {
        let now = tessera::domain::now();
        if now >= t {
            return;
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_millis();
        tokio::time::sleep(Duration::from_millis(u64::from(1000 - ms) + 5)).await;
    }
}

/// Sleeps into the next second of Unix time, so a key made now activates later than one made before.
pub async fn next_second() {
    sleep_until_unix(tessera::domain::now() + 1).await;
}

/// RFC 7638 JWK thumbprint of an RSA key, computed here independently of the server: SHA-256 over the
/// required members in lexicographic order without whitespace (serde_json writes a `BTreeMap` that way).
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    let members: std::collections::BTreeMap<&str, &str> = [("e", e), ("kty", "RSA"), ("n", n)].into();
    let canonical = serde_json::to_string(&members).expect("serializable");
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The `kid`s of a JWKS document, in order.
pub fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("JWKS has a keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("every key has a kid").to_owned())
        .collect()
}

/// The `kid` in a JWS header, read without verifying.
pub fn token_kid(token: &str) -> String {
    let header = josekit::jwt::decode_header(token).expect("a JWT header");
    header.claim("kid").and_then(Value::as_str).expect("the header has a kid").to_owned()
}

/// Verifies `jwt` (RS256) with the served key its header names: its header and claims.
pub async fn verified(app: &TestApp, jwt: &str) -> (josekit::jws::JwsHeader, Value) {
    let jwks = josekit::jwk::JwkSet::from_bytes(serde_json::to_vec(&app.jwks().await).unwrap()).unwrap();
    let key = jwks.get(&token_kid(jwt)).into_iter().next().expect("the token's kid is served");
    let verifier = josekit::jws::RS256.verifier_from_jwk(key).unwrap();
    let (payload, header) = josekit::jwt::decode_with_verifier(jwt, &verifier).expect("a valid signature");
    (header, Value::Object(payload.claims_set().clone()))
}

/// A string field of a JSON value.
pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

/// The HTTP client the `openidconnect` relying party uses (no redirects, as its docs require).
pub fn oidc_http_client() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("building the RP's HTTP client")
}

/// An RSA private key made by the `openssl` tool, written to `dir/name`. `traditional` gives PKCS#1
/// (`BEGIN RSA PRIVATE KEY`), otherwise PKCS#8.
pub fn openssl_rsa_key(dir: &Path, name: &str, bits: u32, traditional: bool) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("openssl");
    cmd.arg("genrsa");
    if traditional {
        cmd.arg("-traditional");
    }
    cmd.arg("-out").arg(&path).arg(bits.to_string());
    let out = cmd.output().expect("running openssl (is it installed?)");
    assert!(out.status.success(), "openssl genrsa failed: {}", String::from_utf8_lossy(&out.stderr));
    path
}

/// The RSA modulus of a PEM key as base64url (the JWK `n`), read by the `openssl` tool.
pub fn openssl_modulus_b64(pem: &Path) -> String {
    let out = Command::new("openssl").args(["rsa", "-noout", "-modulus", "-in"]).arg(pem).output().expect("openssl");
    assert!(out.status.success(), "openssl rsa -modulus failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("ASCII");
    let hex = text.trim().strip_prefix("Modulus=").expect("Modulus=<hex>");
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(0);
    URL_SAFE_NO_PAD.encode(&bytes[first..])
}

/// A loopback socket address from a `redis://host:port` URL, for the relay in the health tests.
pub fn redis_socket_addr(url: &str) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let parsed = url::Url::parse(url).expect("a Redis URL");
    let host = parsed.host_str().expect("Redis URL with a host");
    let port = parsed.port().unwrap_or(6379);
    (host, port).to_socket_addrs().expect("resolving Redis").next().expect("a Redis address")
}
