//! Multi-step benchmark driver for `benches/bench.sh`: the authorization-code flow with an existing browser
//! session, refresh-token rotation, and password login, against Tessera or the reference peer (node
//! oidc-provider through its devInteractions pages). Loopback only; every loop is bounded in time.
//!
//! ```text
//! cargo build --release --bench flows      # then run target/release/deps/flows-<hash> directly:
//! flows --base http://127.0.0.1:3000 --server tessera --scenarios flow_session,refresh,login \
//!       --concurrency 1,16 --duration 10 --warmup 3 --server-pid PID --json-out runs.jsonl
//! ```
//!
//! The client secret and the benchmark user's password come from `FLOW_CLIENT_SECRET` and `FLOW_PASSWORD`
//! (or `--client-secret` / `--password`). Scenarios, one worker task per concurrent "browser", each worker
//! with its own cookie jar and connections:
//!
//! - `flow_session`: each worker signs in and consents once (untimed, `prompt=consent`), then loops
//!   `GET authorize` (no prompt, the session cookie) → redirect with code, `state` and `iss` checked →
//!   `POST token` (`authorization_code`, PKCE S256, `client_secret_basic`) → id_token verified (RS256
//!   against the JWKS, `iss`, `aud`, `nonce`, `exp`, same `sub`).
//! - `refresh`: each worker gets a refresh token from one consented flow with `offline_access`, then loops
//!   `grant_type=refresh_token` with the refresh token just returned.
//! - `login`: each iteration is a fresh cookie jar. Tessera: `GET authorize` → login page → `POST /login`
//!   (argon2id check; consent remembered) → code → token. Peer: the kit's `flow.mjs` flow (devInteractions
//!   login, which checks no password, and its consent page every time).
//!
//! Each (scenario, concurrency) prints one JSON line with the field names of the peer kit's `runs.jsonl`
//! (`scenario`, `conns`, `rps`, `p50_ms`, `p99_ms`, `status_ge_400`, `duration_s`, `server_cpu_cores`,
//! `vmhwm_kb`, …), so `benches/compare.py` tabulates both. `status_ge_400` counts failed operations (any
//! unexpected status, missing code, wrong state or iss, bad id_token), and the exit status is 1 when any
//! occurred.
use anyhow::{anyhow, bail, ensure, Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Parser, ValueEnum};
use josekit::jwk::JwkSet;
use josekit::jws::{JwsVerifier, RS256};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderValue, AUTHORIZATION, LOCATION, ORIGIN};
use reqwest::{redirect, Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Barrier;
use url::Url;

/// Failures printed per run; the rest are only counted.
const ERRORS_SHOWN: usize = 5;
/// No single request may hold a worker past its time budget for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Server {
    Tessera,
    Peer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    #[value(name = "flow_session")]
    FlowSession,
    #[value(name = "refresh")]
    Refresh,
    #[value(name = "login")]
    Login,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::FlowSession => "flow_session",
            Self::Refresh => "refresh",
            Self::Login => "login",
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "flows", about = "Multi-step OAuth/OIDC benchmark scenarios (see benches/bench.sh)")]
struct Args {
    /// The server's issuer URL; only 127.0.0.1, localhost and [::1] are accepted.
    #[arg(long)]
    base: String,
    /// Which pages to drive.
    #[arg(long, value_enum)]
    server: Server,
    /// Scenarios to run, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "flow_session,refresh,login")]
    scenarios: Vec<Scenario>,
    /// Concurrent workers, comma separated: one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before each run (after every worker has its session or refresh token).
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    #[arg(long, default_value = "bench-client")]
    client_id: String,
    #[arg(long, env = "FLOW_CLIENT_SECRET", default_value = "bench-secret", hide_env_values = true)]
    client_secret: String,
    #[arg(long, default_value = "http://127.0.0.1:9999/cb")]
    redirect_uri: String,
    #[arg(long, default_value = "openid email offline_access")]
    scope: String,
    /// Tessera's benchmark user (the peer accepts any login name and checks no password).
    #[arg(long, default_value = "bench-user")]
    username: String,
    #[arg(long, env = "FLOW_PASSWORD", default_value = "", hide_env_values = true)]
    password: String,
    /// The server's PID: its CPU time over the window and its VmHWM go into each line.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also append each JSON line to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, env = "CLK_TCK", default_value_t = 100)]
    clk_tck: u64,
    /// Free text about the server, copied into every line as `server_note` (e.g. the argon2 cost).
    #[arg(long, default_value = "")]
    note: String,
}

/// Refuses anything but a loopback http(s) origin.
fn loopback(base: &str) -> Result<Url> {
    let url = Url::parse(base).with_context(|| format!("--base {base:?} is not a URL"))?;
    let local = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    ensure!(local, "refusing the non-loopback base URL {base}");
    ensure!(matches!(url.scheme(), "http" | "https"), "the base URL must be http or https");
    ensure!(url.path() == "/" && url.query().is_none(), "the base URL must be an origin (no path or query)");
    Ok(url)
}

fn random(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What the workers share: the server's endpoints (from its discovery document), the client, the user, and
/// the RS256 verifiers of its JWKS by kid (built once: parsing a key per id_token would be client work
/// that shows up as server slowness).
struct Target {
    server: Server,
    base: Url,
    issuer: String,
    origin: HeaderValue,
    authorize: Url,
    token: Url,
    client_id: String,
    basic: HeaderValue,
    redirect_uri: Url,
    scope: String,
    username: String,
    password: String,
    keys: HashMap<String, Box<dyn JwsVerifier>>,
}

impl Target {
    async fn discover(args: &Args) -> Result<Self> {
        let base = loopback(&args.base)?;
        let http = Client::builder().redirect(redirect::Policy::none()).no_proxy().timeout(REQUEST_TIMEOUT).build()?;
        let disco: Value = http
            .get(base.join("/.well-known/openid-configuration")?)
            .send()
            .await?
            .error_for_status()
            .context("discovery")?
            .json()
            .await?;
        let issuer = disco["issuer"].as_str().context("discovery has no issuer")?.to_owned();
        ensure!(issuer == base.as_str().trim_end_matches('/'), "issuer {issuer} is not the base URL {base}");
        // Every request stays on the base origin.
        let endpoint = |key: &str| -> Result<Url> {
            let u = Url::parse(disco[key].as_str().with_context(|| format!("discovery has no {key}"))?)?;
            ensure!(u.origin() == base.origin(), "{key} {u} is not on {base}");
            Ok(u)
        };
        let jwks = http.get(endpoint("jwks_uri")?).send().await?.error_for_status().context("jwks")?.bytes().await?;
        let mut keys: HashMap<String, Box<dyn JwsVerifier>> = HashMap::new();
        for jwk in JwkSet::from_bytes(&jwks)?.keys() {
            let signs_rs256 = jwk.key_type() == "RSA"
                && jwk.key_use().is_none_or(|u| u == "sig")
                && jwk.algorithm().is_none_or(|a| a == "RS256");
            if let (true, Some(kid)) = (signs_rs256, jwk.key_id()) {
                keys.insert(kid.to_owned(), Box::new(RS256.verifier_from_jwk(jwk)?));
            }
        }
        ensure!(!keys.is_empty(), "the JWKS has no RS256 signing key with a kid");
        let credentials = format!("{}:{}", form_encode(&args.client_id), form_encode(&args.client_secret));
        ensure!(args.server == Server::Peer || !args.password.is_empty(), "Tessera needs FLOW_PASSWORD");
        Ok(Self {
            server: args.server,
            origin: HeaderValue::from_str(&base.origin().ascii_serialization())?,
            authorize: endpoint("authorization_endpoint")?,
            token: endpoint("token_endpoint")?,
            base,
            issuer,
            client_id: args.client_id.clone(),
            basic: HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))?,
            redirect_uri: Url::parse(&args.redirect_uri)?,
            scope: args.scope.clone(),
            username: args.username.clone(),
            password: args.password.clone(),
            keys,
        })
    }

    /// Checks an id_token as a relying party would; returns its `sub`.
    fn verify_id_token(&self, jwt: &str, nonce: Option<&str>) -> Result<String> {
        let (payload, header) = josekit::jwt::decode_with_verifier_selector(jwt, |h| {
            Ok(h.key_id().and_then(|kid| self.keys.get(kid)).map(|v| v.as_ref()))
        })
        .map_err(|e| anyhow!("id_token rejected: {e}"))?;
        ensure!(header.algorithm() == Some("RS256"), "id_token alg is not RS256");
        ensure!(payload.issuer() == Some(self.issuer.as_str()), "id_token iss is not {}", self.issuer);
        ensure!(
            payload.audience().is_some_and(|a| a.contains(&self.client_id.as_str())),
            "id_token aud lacks the client"
        );
        if let Some(n) = nonce {
            ensure!(payload.claim("nonce").and_then(Value::as_str) == Some(n), "id_token nonce mismatch");
        }
        ensure!(payload.expires_at().is_some_and(|exp| exp > SystemTime::now()), "id_token expired or without exp");
        let sub = payload.subject().filter(|s| !s.is_empty()).context("id_token has no sub")?;
        Ok(sub.to_owned())
    }
}

/// A cookie jar that can be swapped for an empty one: a fresh "browser" per login iteration while the
/// worker keeps its one `reqwest::Client` and its connections (a new client per iteration would measure
/// TLS-config and pool setup in the driver instead of the server).
#[derive(Default)]
struct Cookies(RwLock<Arc<Jar>>);

impl Cookies {
    fn jar(&self) -> Arc<Jar> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn clear(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::default();
    }
}

impl CookieStore for Cookies {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.jar().set_cookies(headers, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.jar().cookies(url)
    }
}

/// One authorization request's secrets.
struct Pending {
    verifier: String,
    state: String,
    nonce: String,
}

impl Pending {
    fn new() -> Result<Self> {
        Ok(Self { verifier: random(32)?, state: random(16)?, nonce: random(16)? })
    }
}

/// A code from the redirect, with the request it answers.
struct Code {
    code: String,
    pending: Pending,
}

/// A checked token response.
struct Tokens {
    sub: String,
    refresh_token: Option<String>,
}

/// A `<form method="post">` of a page: where it posts and its hidden fields.
struct HtmlForm {
    action: Url,
    fields: Vec<(String, String)>,
}

/// The text of each `<name …>` opening tag.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let end = after.find('>').unwrap_or(after.len());
        if after.starts_with(|c: char| c.is_ascii_whitespace()) {
            out.push(&after[..end]);
        }
        rest = &after[end..];
    }
    out
}

/// The double-quoted value of attribute `name` in a tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!("{name}=\"");
    let mut from = 0;
    while let Some(i) = tag[from..].find(&pat) {
        let at = from + i;
        let start = at + pat.len();
        if tag[..at].ends_with(|c: char| c.is_ascii_whitespace()) {
            let len = tag[start..].find('"')?;
            return Some(&tag[start..start + len]);
        }
        from = start;
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn parse_form(html: &str, base: &Url, page: &str) -> Result<HtmlForm> {
    let form = tags(html, "form")
        .into_iter()
        .find(|t| attr(t, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")))
        .with_context(|| format!("{page}: no POST form"))?;
    let action = base.join(&unescape(attr(form, "action").with_context(|| format!("{page}: form without action"))?))?;
    let fields = tags(html, "input")
        .into_iter()
        .filter(|t| attr(t, "type") == Some("hidden"))
        .filter_map(|t| Some((unescape(attr(t, "name")?), unescape(attr(t, "value").unwrap_or_default()))))
        .collect();
    Ok(HtmlForm { action, fields })
}

/// One simulated browser (cookie jar, redirects not followed) plus the relying party's back channel to the
/// token endpoint (no cookies, as a server-side client would send none).
struct Agent {
    t: Arc<Target>,
    id: usize,
    jar: Arc<Cookies>,
    browser: Client,
    backend: Client,
    seq: u64,
}

impl Agent {
    fn new(t: Arc<Target>, id: usize) -> Result<Self> {
        let jar = Arc::new(Cookies::default());
        let builder = || Client::builder().redirect(redirect::Policy::none()).no_proxy().timeout(REQUEST_TIMEOUT);
        Ok(Self {
            browser: builder().cookie_provider(jar.clone()).build()?,
            backend: builder().build()?,
            t,
            id,
            jar,
            seq: 0,
        })
    }

    fn authorize_url(&self, p: &Pending, prompt: Option<&str>) -> Url {
        let mut url = self.t.authorize.clone();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(p.verifier.as_bytes()));
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &self.t.client_id)
            .append_pair("redirect_uri", self.t.redirect_uri.as_str())
            .append_pair("scope", &self.t.scope)
            .append_pair("state", &p.state)
            .append_pair("nonce", &p.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(prompt) = prompt {
            q.append_pair("prompt", prompt);
        }
        drop(q);
        url
    }

    async fn get(&self, url: Url, step: &str) -> Result<Response> {
        self.browser.get(url).send().await.with_context(|| format!("{step}: request failed"))
    }

    /// A form post as a browser sends it from the server's own page.
    async fn post_form(&self, url: Url, fields: &[(String, String)], step: &str) -> Result<Response> {
        self.browser
            .post(url)
            .header(ORIGIN, self.t.origin.clone())
            .header("sec-fetch-site", "same-origin")
            .form(fields)
            .send()
            .await
            .with_context(|| format!("{step}: request failed"))
    }

    /// Where a 302/303 points (the body is read so the connection is reused).
    async fn redirect(&self, resp: Response, step: &str) -> Result<Url> {
        let status = resp.status();
        ensure!(
            matches!(status, StatusCode::FOUND | StatusCode::SEE_OTHER),
            "{step}: expected a redirect, got {status}"
        );
        let to = resp.headers().get(LOCATION).with_context(|| format!("{step}: redirect without Location"))?;
        let to = self.t.base.join(to.to_str()?)?;
        resp.bytes().await?;
        Ok(to)
    }

    async fn page(&self, url: Url, step: &str) -> Result<String> {
        let resp = self.get(url, step).await?;
        ensure!(resp.status() == StatusCode::OK, "{step}: got {}", resp.status());
        Ok(resp.text().await?)
    }

    /// The redirect back to the client: redirect_uri, no error, our state, `iss` (RFC 9207), a code.
    fn callback(&self, at: &Url, pending: Pending) -> Result<Code> {
        let mut bare = at.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        ensure!(bare == self.t.redirect_uri, "redirected to {bare}, not to the redirect_uri");
        let q: HashMap<String, String> = at.query_pairs().into_owned().collect();
        if let Some(e) = q.get("error") {
            bail!("authorization error {e}: {}", q.get("error_description").map_or("", String::as_str));
        }
        ensure!(q.get("state") == Some(&pending.state), "state mismatch");
        ensure!(q.get("iss") == Some(&self.t.issuer), "iss (RFC 9207) missing or not the issuer");
        let code = q.get("code").filter(|c| !c.is_empty()).context("no code")?.clone();
        Ok(Code { code, pending })
    }

    /// Tessera's login page: posts the user's name and password; returns where the server sends us next.
    async fn tessera_login(&self, url: Url) -> Result<Url> {
        ensure!(url.path() == "/login", "expected the login page, was sent to {}", url.path());
        let html = self.page(url, "GET /login").await?;
        let form = parse_form(&html, &self.t.base, "login page")?;
        let mut fields = form.fields;
        fields.push(("username".into(), self.t.username.clone()));
        fields.push(("password".into(), self.t.password.clone()));
        let resp = self.post_form(form.action, &fields, "POST /login").await?;
        self.redirect(resp, "POST /login").await
    }

    /// Tessera's consent page: Allow.
    async fn tessera_consent(&self, url: Url) -> Result<Url> {
        ensure!(url.path() == "/consent", "expected the consent page, was sent to {}", url.path());
        let html = self.page(url, "GET /consent").await?;
        let form = parse_form(&html, &self.t.base, "consent page")?;
        let mut fields = form.fields;
        fields.push(("decision".into(), "allow".into()));
        let resp = self.post_form(form.action, &fields, "POST /consent").await?;
        self.redirect(resp, "POST /consent").await
    }

    /// One devInteractions page of the peer (as `flow.mjs` drives it), then the resume redirect.
    async fn peer_interact(&self, url: Url, prompt: &str, extra: &[(&str, &str)]) -> Result<Url> {
        ensure!(url.path().starts_with("/interaction/"), "expected an interaction page, was sent to {}", url.path());
        let html = self.page(url, "GET interaction").await?;
        let form = parse_form(&html, &self.t.base, prompt)?;
        ensure!(form.fields.iter().any(|(k, v)| k == "prompt" && v == prompt), "interaction prompt is not {prompt}");
        let mut fields = form.fields;
        fields.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let resume = self.redirect(self.post_form(form.action, &fields, prompt).await?, prompt).await?;
        let resp = self.get(resume, "resume").await?;
        self.redirect(resp, "resume").await
    }

    /// authorize with `prompt=consent` → sign in → consent → code. Leaves a signed-in session in the jar and,
    /// on both servers, a remembered grant of the scope.
    async fn code_with_consent(&self, login: &str) -> Result<Code> {
        let pending = Pending::new()?;
        let first = self.get(self.authorize_url(&pending, Some("consent")), "GET authorize").await?;
        let mut at = self.redirect(first, "GET authorize").await?;
        match self.t.server {
            Server::Tessera => {
                at = self.tessera_login(at).await?;
                at = self.tessera_consent(at).await?;
            }
            Server::Peer => {
                at = self.peer_interact(at, "login", &[("login", login), ("password", "any")]).await?;
                at = self.peer_interact(at, "consent", &[]).await?;
            }
        }
        self.callback(&at, pending)
    }

    /// authorize with the session cookie and no prompt: the code must come back at once.
    async fn code_with_session(&self) -> Result<Code> {
        let pending = Pending::new()?;
        let resp = self.get(self.authorize_url(&pending, None), "GET authorize").await?;
        let at = self.redirect(resp, "GET authorize").await?;
        self.callback(&at, pending)
    }

    /// A fresh browser signs in. Returns the code and the peer's login name (its `sub`).
    async fn code_with_password(&mut self) -> Result<(Code, Option<String>)> {
        self.jar.clear();
        match self.t.server {
            Server::Tessera => {
                let pending = Pending::new()?;
                let resp = self.get(self.authorize_url(&pending, None), "GET authorize").await?;
                let at = self.redirect(resp, "GET authorize").await?;
                let at = self.tessera_login(at).await?;
                Ok((self.callback(&at, pending)?, None))
            }
            Server::Peer => {
                self.seq += 1;
                let login = format!("login-{}-{}", self.id, self.seq);
                Ok((self.code_with_consent(&login).await?, Some(login)))
            }
        }
    }

    /// A token request; the JSON of a 200, or an error with the status and the OAuth error code.
    async fn token_request(&self, form: &[(&str, &str)], step: &str) -> Result<Value> {
        let resp = self
            .backend
            .post(self.t.token.clone())
            .header(AUTHORIZATION, self.t.basic.clone())
            .form(form)
            .send()
            .await
            .with_context(|| format!("{step}: request failed"))?;
        let status = resp.status();
        let body: Value = resp.json().await.with_context(|| format!("{step}: {status}, not JSON"))?;
        ensure!(status == StatusCode::OK, "{step}: {status} {}", body["error"]);
        ensure!(body["access_token"].as_str().is_some_and(|a| !a.is_empty()), "{step}: no access_token");
        ensure!(body["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer")), "{step}: not Bearer");
        Ok(body)
    }

    async fn redeem(&self, c: Code, sub: Option<&str>) -> Result<Tokens> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", c.code.as_str()),
            ("redirect_uri", self.t.redirect_uri.as_str()),
            ("code_verifier", c.pending.verifier.as_str()),
        ];
        let body = self.token_request(&form, "POST token (code)").await?;
        let id_token = body["id_token"].as_str().context("no id_token")?;
        let got = self.t.verify_id_token(id_token, Some(&c.pending.nonce))?;
        if let Some(want) = sub {
            ensure!(got == want, "id_token sub is not the signed-in user");
        }
        Ok(Tokens { sub: got, refresh_token: body["refresh_token"].as_str().map(str::to_owned) })
    }

    /// One refresh; returns the refresh token to use next (the same one when the server did not rotate).
    async fn refresh(&self, rt: &str, sub: &str) -> Result<String> {
        let body = self
            .token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt)], "POST token (refresh)")
            .await?;
        if let Some(id_token) = body["id_token"].as_str() {
            ensure!(self.t.verify_id_token(id_token, None)? == sub, "refreshed id_token has another sub");
        }
        Ok(body["refresh_token"].as_str().unwrap_or(rt).to_owned())
    }

    /// A signed-in, consented session in this worker's jar; returns the tokens of that first flow.
    async fn sign_in_once(&self, purpose: &str) -> Result<Tokens> {
        let code = self.code_with_consent(&format!("{purpose}-{}", self.id)).await?;
        self.redeem(code, None).await
    }

    /// The untimed preparation of one worker.
    async fn prepare(&self, scenario: Scenario, login_sub: Option<&str>) -> Result<Held> {
        Ok(match scenario {
            Scenario::FlowSession => Held { sub: Some(self.sign_in_once("session").await?.sub), refresh_token: None },
            Scenario::Refresh => self.refresh_grant().await?,
            Scenario::Login => Held { sub: login_sub.map(str::to_owned), refresh_token: None },
        })
    }

    async fn refresh_grant(&self) -> Result<Held> {
        let t = self.sign_in_once("refresh").await?;
        let rt = t.refresh_token.context("no refresh_token from a consented offline_access flow")?;
        Ok(Held { sub: Some(t.sub), refresh_token: Some(rt) })
    }

    /// One measured operation.
    async fn iterate(&mut self, scenario: Scenario, held: &mut Held, tally: &mut Tally) -> Result<()> {
        match scenario {
            Scenario::FlowSession => {
                let code = self.code_with_session().await?;
                let tokens = self.redeem(code, held.sub.as_deref()).await?;
                tally.refresh_tokens_issued += u64::from(tokens.refresh_token.is_some());
            }
            Scenario::Refresh => {
                // After a failure the token may be revoked (reuse detection): start a new grant.
                if held.refresh_token.is_none() {
                    *held = self.refresh_grant().await?;
                }
                let (Some(rt), Some(sub)) = (held.refresh_token.take(), held.sub.as_deref()) else {
                    bail!("no refresh token held");
                };
                let next = self.refresh(&rt, sub).await?;
                tally.refresh_rotated += u64::from(next != rt);
                held.refresh_token = Some(next);
            }
            Scenario::Login => {
                let (code, login) = self.code_with_password().await?;
                let tokens = self.redeem(code, login.as_deref().or(held.sub.as_deref())).await?;
                tally.refresh_tokens_issued += u64::from(tokens.refresh_token.is_some());
            }
        }
        Ok(())
    }
}

/// What a worker keeps between iterations.
struct Held {
    sub: Option<String>,
    refresh_token: Option<String>,
}

/// One worker's counts.
#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    failures: u64,
    warmup_failures: u64,
    refresh_rotated: u64,
    refresh_tokens_issued: u64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.latencies_ms.extend(o.latencies_ms);
        self.failures += o.failures;
        self.warmup_failures += o.warmup_failures;
        self.refresh_rotated += o.refresh_rotated;
        self.refresh_tokens_issued += o.refresh_tokens_issued;
    }
}

/// Prints the first few failures of a run to stderr.
struct ErrorLog {
    label: String,
    shown: AtomicUsize,
}

impl ErrorLog {
    fn report(&self, worker: usize, phase: &str, e: &anyhow::Error) {
        if self.shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
            eprintln!("flows: {} worker {worker} {phase} failed: {e:#}", self.label);
        }
    }
}

/// Two barriers split a run: every worker prepared, then warm-up over (the measured window starts).
async fn worker(
    mut agent: Agent,
    scenario: Scenario,
    login_sub: Option<String>,
    gate: Arc<Barrier>,
    (warmup, duration): (Duration, Duration),
    errors: Arc<ErrorLog>,
) -> Tally {
    let mut tally = Tally::default();
    let mut held = match agent.prepare(scenario, login_sub.as_deref()).await {
        Ok(h) => Some(h),
        Err(e) => {
            errors.report(agent.id, "preparation", &e);
            tally.failures += 1;
            None
        }
    };
    gate.wait().await;
    let mut scratch = Tally::default();
    if let Some(h) = held.as_mut() {
        let end = Instant::now() + warmup;
        while Instant::now() < end {
            if let Err(e) = agent.iterate(scenario, h, &mut scratch).await {
                errors.report(agent.id, "warm-up", &e);
                tally.warmup_failures += 1;
            }
        }
    }
    gate.wait().await;
    if let Some(h) = held.as_mut() {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            let start = Instant::now();
            match agent.iterate(scenario, h, &mut tally).await {
                Ok(()) => tally.latencies_ms.push(start.elapsed().as_secs_f64() * 1e3),
                Err(e) => {
                    errors.report(agent.id, "iteration", &e);
                    tally.failures += 1;
                }
            }
        }
    }
    tally
}

/// utime + stime of a process (`self` or a PID), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A `kB` line of /proc/PID/status (`VmHWM`, `VmRSS`).
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn load1() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// The percentile of sorted values, as the kit's flow.mjs computes it.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// HTTP requests in one operation, and what differs between the two servers.
fn shape(server: Server, scenario: Scenario) -> (u32, &'static str) {
    match (server, scenario) {
        (Server::Tessera, Scenario::FlowSession) => {
            (2, "authorize with session + remembered consent -> code -> token; a refresh token is issued and stored per flow (the client may refresh)")
        }
        (Server::Peer, Scenario::FlowSession) => {
            (2, "authorize with session + remembered grant -> code -> token; offline_access is dropped without prompt=consent, so no refresh token per flow")
        }
        (Server::Tessera, Scenario::Refresh) => (1, "rotates the refresh token on every use (reuse detection, grace window)"),
        (Server::Peer, Scenario::Refresh) => {
            (1, "does not rotate refresh tokens of confidential clients by default (rotateRefreshToken)")
        }
        (Server::Tessera, Scenario::Login) => {
            (4, "fresh jar: authorize -> login page -> POST password (argon2id) -> code (consent remembered) -> token")
        }
        (Server::Peer, Scenario::Login) => {
            (8, "flow.mjs full flow: devInteractions login checks NO password, consent page every time (prompt=consent)")
        }
    }
}

async fn run(args: &Args, t: &Arc<Target>, scenario: Scenario, conns: usize, login_sub: Option<&str>) -> Result<Value> {
    let label = format!("{:?} {} c{conns}", t.server, scenario.name()).to_lowercase();
    let errors = Arc::new(ErrorLog { label: label.clone(), shown: AtomicUsize::new(0) });
    let gate = Arc::new(Barrier::new(conns + 1));
    let budget = (Duration::from_secs(args.warmup), Duration::from_secs(args.duration));
    let mut workers = Vec::with_capacity(conns);
    for id in 0..conns {
        let agent = Agent::new(t.clone(), id)?;
        let sub = login_sub.map(str::to_owned);
        workers.push(tokio::spawn(worker(agent, scenario, sub, gate.clone(), budget, errors.clone())));
    }
    gate.wait().await;
    gate.wait().await;
    let pid = args.server_pid;
    let (server0, client0) = (pid.and_then(|p| cpu_ticks(&p.to_string())), cpu_ticks("self"));
    let started = Instant::now();
    let mut all = Tally::default();
    for w in workers {
        all.merge(w.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    let (server1, client1) = (pid.and_then(|p| cpu_ticks(&p.to_string())), cpu_ticks("self"));
    let cores = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(round((b.saturating_sub(a)) as f64 / args.clk_tck as f64 / secs, 2)),
        _ => None,
    };
    let mut lat = all.latencies_ms;
    lat.sort_by(f64::total_cmp);
    let ok = lat.len();
    let (per_op, notes) = shape(t.server, scenario);
    let line = json!({
        "scenario": scenario.name(),
        "conns": conns,
        "server": format!("{:?}", t.server).to_lowercase(),
        "requests": ok,
        "duration_s": round(secs, 3),
        "warmup_s": args.warmup,
        "rps": round(ok as f64 / secs, 1),
        "p50_ms": round(pct(&lat, 50.0), 3),
        "p90_ms": round(pct(&lat, 90.0), 3),
        "p99_ms": round(pct(&lat, 99.0), 3),
        "max_ms": round(lat.last().copied().unwrap_or(0.0), 3),
        "mean_ms": round(if ok == 0 { 0.0 } else { lat.iter().sum::<f64>() / ok as f64 }, 3),
        "status_ge_400": all.failures,
        "warmup_failures": all.warmup_failures,
        "http_requests_per_op": per_op,
        "refresh_rotated": all.refresh_rotated,
        "refresh_tokens_issued": all.refresh_tokens_issued,
        "server_cpu_cores": cores(server0, server1),
        "client_cpu_cores": cores(client0, client1),
        "vmhwm_kb": pid.and_then(|p| status_kb(p, "VmHWM")),
        "vmrss_kb": pid.and_then(|p| status_kb(p, "VmRSS")),
        "load1": load1(),
        "notes": notes,
        "server_note": args.note,
    });
    eprintln!(
        "flows: {label}: {:.1} ops/s, p50 {:.2} ms, p99 {:.2} ms, {} failed, server {} cores, client {} cores",
        ok as f64 / secs,
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        all.failures,
        line["server_cpu_cores"],
        line["client_cpu_cores"],
    );
    Ok(line)
}

/// Tessera's login scenario expects consent to be remembered already: one consented sign-in first (untimed).
/// Returns the user's `sub`.
async fn remember_consent(t: &Arc<Target>) -> Result<String> {
    let agent = Agent::new(t.clone(), 0)?;
    Ok(agent.sign_in_once("consent").await?.sub)
}

async fn measure(args: Args) -> Result<u64> {
    let t = Arc::new(Target::discover(&args).await?);
    let mut out = match &args.json_out {
        Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    let mut failures = 0;
    for &scenario in &args.scenarios {
        let login_sub = match (t.server, scenario) {
            (Server::Tessera, Scenario::Login) => Some(remember_consent(&t).await.context("remembering consent")?),
            _ => None,
        };
        for &conns in &args.concurrency {
            ensure!(conns > 0, "a concurrency of 0 measures nothing");
            let line = run(&args, &t, scenario, conns, login_sub.as_deref()).await?;
            failures += line["status_ge_400"].as_u64().unwrap_or(0);
            println!("{line}");
            if let Some(f) = out.as_mut() {
                writeln!(f, "{line}")?;
            }
        }
    }
    Ok(failures)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`, and `cargo test --all-targets` runs bench targets without arguments:
    // with nothing to measure, say so and succeed.
    let given: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if given.is_empty() {
        eprintln!("flows: nothing to measure without --base; benches/bench.sh runs this driver (see --help)");
        return ExitCode::SUCCESS;
    }
    let args = Args::parse_from(std::iter::once("flows".to_owned()).chain(given));
    // One thread, like the kit's node client: it leaves the other core to the server, and client_cpu_cores
    // shows when the driver itself becomes the limit (close to 1.0).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    match runtime.map_err(anyhow::Error::from).and_then(|rt| rt.block_on(measure(args))) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("flows: {n} failed operations");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("flows: {e:#}");
            ExitCode::FAILURE
        }
    }
}
