//! The login and consent pages in a real headless Chromium (through [`crate::webdriver`]), and their
//! security headers and markup as served. The user and client are made with the real CLI.
use crate::helpers::*;
use crate::webdriver::Browser;
use app_site::AppSite;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// The device verification page (RFC 8628), in its own file to keep this one short.
mod accessibility;
/// The account page's "Delete account" section.
mod account_deletion;
/// The app's own site, another site than the server's.
mod app_site;
/// Claims asked for by name (`claims`) on the consent page.
mod claims;
mod device;
/// Email verification: the account page's button and the page the mailed link opens.
mod email_verification;
/// A federated sign-in across two servers.
mod federation;
/// Front-channel logout: the app, framed by the signed-out page, hears of the logout.
mod frontchannel;
/// The pages in the language a sign-in asked for.
mod languages;
/// Passkeys, with the browser's virtual authenticator.
mod passkeys;
/// The account page's password form.
mod password;
/// "Forgot your password?": the request page and the page the mailed link opens.
mod password_reset;
/// Self-registration's sign-up page.
mod signup;
/// "Choose a new password" after a sign-in with a temporary password.
mod temporary_password;

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const CLIENT_NAME: &str = "Browser App";
const STATE: &str = "xyz";

/// A user, a public client and an authorization request for them.
struct Flow {
    client_id: String,
    redirect_uri: String,
    post_logout_redirect_uri: String,
    verifier: String,
    authorize_url: String,
}

/// Makes alice and the "Browser App" client with the CLI; the redirect URIs are on a free loopback port
/// where nothing listens.
fn setup(app: &TestApp) -> Flow {
    setup_named(app, CLIENT_NAME)
}

/// [`setup`] with a client named `client_name`.
fn setup_named(app: &TestApp, client_name: &str) -> Flow {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    setup_at(app, client_name, &format!("http://127.0.0.1:{port}"), &[])
}

/// [`setup`] with a client named `client_name` whose redirect URIs are on `origin`, made with `extra` flags too.
fn setup_at(app: &TestApp, client_name: &str, origin: &str, extra: &[&str]) -> Flow {
    let user = app.cli_json(
        &["users", "add", USERNAME, "--password-stdin", "--email", "alice@example.com", "--name", "Alice"],
        Some(PASSWORD),
    );
    assert_eq!(user["username"], USERNAME, "users add printed {user}");
    let redirect_uri = format!("{origin}/cb");
    let post_logout_redirect_uri = format!("{origin}/bye");
    let mut args = vec![
        "clients",
        "add",
        "--name",
        client_name,
        "--redirect-uri",
        &redirect_uri,
        "--post-logout-redirect-uri",
        &post_logout_redirect_uri,
        "--public",
        "--json",
    ];
    args.extend_from_slice(extra);
    let client = app.cli_json(&args, None);
    let client_id = client["client_id"].as_str().unwrap_or_else(|| panic!("clients add printed {client}")).to_owned();
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut authorize = url::Url::parse(&app.url("/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", STATE)
        .append_pair("nonce", "n1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // `%20` rather than `+` between scopes, as a relying party would usually write it.
    let authorize_url = authorize.as_str().replace('+', "%20");
    Flow { client_id, redirect_uri, post_logout_redirect_uri, verifier, authorize_url }
}

/// The query of `url` as a map (each name once).
fn query(url: &url::Url) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url.query_pairs() {
        assert!(out.insert(k.to_string(), v.to_string()).is_none(), "{k} appears twice in {url}");
    }
    out
}

/// Whether `url` is on the server (same origin as `app.address`) at `path`.
fn on_server(app: &TestApp, url: &url::Url, path: &str) -> bool {
    url.origin().ascii_serialization() == app.address && url.path() == path
}

/// Whether `url` is the flow's redirect URI, with a query.
fn at_redirect_uri(flow: &Flow, url: &url::Url) -> bool {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    bare.as_str() == flow.redirect_uri && url.query().is_some()
}

/// Opens the authorization request and signs in as alice on the login page; returns on the consent page.
async fn sign_in(app: &TestApp, browser: &Browser, flow: &Flow) {
    browser.goto(&flow.authorize_url).await;
    let login = browser.wait_for_url("the login page", |u| on_server(app, u, "/login")).await;
    assert!(query(&login).get("interaction").is_some_and(|i| !i.is_empty()), "no interaction in {login}");
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    expect_consent_page(app, browser).await;
}

/// Waits for the consent page after a correct sign-in, failing at once when a page shows an error instead.
async fn expect_consent_page(app: &TestApp, browser: &Browser) {
    let started = std::time::Instant::now();
    loop {
        let current = browser.current_url().await;
        let url = url::Url::parse(&current).unwrap_or_else(|e| panic!("the browser is on {current:?}: {e}"));
        if on_server(app, &url, "/consent") {
            assert!(query(&url).get("interaction").is_some_and(|i| !i.is_empty()), "no interaction in {url}");
            return;
        }
        // The page of the earlier wrong password (with its alert) stays up until the navigation commits, so an
        // alert seen here means nothing until the wait runs out.
        if started.elapsed() >= crate::webdriver::WAIT_TIMEOUT {
            panic!("no consent page after signing in; on {url}\n{}", browser.source_excerpt().await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

both_backends!(signs_in_and_allows_in_a_real_browser, async |app| {
    let flow = setup(&app);
    let browser = Browser::start().await;
    browser.goto(&flow.authorize_url).await;

    // The request is handed to the login page.
    let login = browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert!(query(&login).get("interaction").is_some_and(|i| !i.is_empty()), "no interaction in {login}");
    assert!(browser.source().await.contains(CLIENT_NAME), "the login page does not name the client");
    assert!(browser.try_find("[role=alert]").await.is_none(), "the fresh login page shows an error");

    // A wrong password: the login page again, with a visible error, still on the server.
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys("not the password").await;
    browser.find("button[type=submit]").await.click().await;
    let alert = browser.wait_for("[role=alert]").await;
    assert!(alert.is_displayed().await, "the sign-in error is not displayed");
    let message = alert.text().await;
    assert!(!message.trim().is_empty(), "the sign-in error is empty");
    let after_failure = url::Url::parse(&browser.current_url().await).unwrap();
    assert!(on_server(&app, &after_failure, "/login"), "a wrong password navigated away, to {after_failure}");
    if browser.try_find("input#password").await.is_none() {
        panic!("not the login page after a failed sign-in ({message}):\n{}", browser.source_excerpt().await);
    }

    // Then the right one.
    let username = browser.find("input#username").await;
    username.clear().await;
    username.send_keys(USERNAME).await;
    let password = browser.find("input#password").await;
    password.clear().await;
    password.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;

    // The consent page names the client; Allow.
    expect_consent_page(&app, &browser).await;
    let source = browser.source().await;
    assert!(source.contains(CLIENT_NAME), "the consent page does not name {CLIENT_NAME:?}:\n{source}");
    assert!(browser.try_find("button[name=decision][value=deny]").await.is_some(), "no Deny button");
    browser.find("button[name=decision][value=allow]").await.click().await;

    // The browser lands on the client's redirect URI with a code (nothing listens there; the URL still shows).
    let landed = browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;
    browser.quit().await;
    let params = query(&landed);
    let code = params.get("code").unwrap_or_else(|| panic!("no code in {landed}"));
    assert!(!code.is_empty(), "empty code in {landed}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE), "state in {landed}");
    assert_eq!(params.get("iss"), Some(&app.address), "iss in {landed}");
    assert!(!params.contains_key("error"), "error in {landed}");

    // The code is real: the client redeems it with the verifier.
    let tokens = redeem(&app, &flow, code).await;
    assert!(tokens["access_token"].is_string(), "no access_token: {tokens}");
    assert!(tokens["id_token"].is_string(), "no id_token: {tokens}");
});

/// Makes the page in `browser` note in `sessionStorage` (which a reload keeps) when the browser shows it again
/// from its back/forward cache rather than asking the server for it.
async fn note_restores(browser: &Browser) {
    let script = "const key = 'restored ' + location.pathname; sessionStorage.removeItem(key); \
                  addEventListener('pageshow', e => { if (e.persisted) sessionStorage.setItem(key, 'yes'); }); \
                  return 1;";
    browser.execute(script).await;
}

// Regression: Chromium restored a finished consent page from its back/forward cache, and Allow on it then
// showed an "expired" page. A restored page now reloads, and says that the request was completed.
both_backends!(a_consent_page_restored_from_the_back_forward_cache_reloads, async |app| {
    let flow = setup(&app);
    let browser = Browser::start().await;
    sign_in(&app, &browser, &flow).await;
    note_restores(&browser).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;

    browser.call(reqwest::Method::POST, "/back", Some(serde_json::json!({}))).await;
    browser.wait_for_url("the consent page again", |u| on_server(&app, u, "/consent")).await;
    let alert = browser.wait_for("[role=alert]").await.text().await;
    assert!(alert.contains("completed already"), "the consent page after going back says {alert:?}");
    assert!(browser.try_find("form").await.is_none(), "a form after going back:\n{}", browser.source_excerpt().await);
    // Else the page was asked for again, and this tested nothing.
    let restored = browser.execute("return sessionStorage.getItem('restored /consent');").await;
    assert_eq!(restored, "yes", "Chromium did not take the consent page from its back/forward cache");
    browser.quit().await;

    // The script is served (under the pages' CSP, `script-src 'self'`) and the sign-in page loads it too.
    let js = app.get("/static/reload_restored.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let js = js.text().await.unwrap();
    assert!(js.contains("pageshow") && js.contains("persisted") && js.contains("reload()"), "{js}");
    let login = app.api_client.get(&flow.authorize_url).send().await.unwrap();
    let html = app.api_client.get(see_other(&app, &login, "GET /authorize")).send().await.unwrap();
    assert!(html.text().await.unwrap().contains("<script src=\"/static/reload_restored.js\"></script>"));
});

/// Redeems a code of the flow's client with its verifier, as the client would.
async fn redeem(app: &TestApp, flow: &Flow, code: &str) -> Value {
    let resp = app
        .api_client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("client_id", flow.client_id.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await
        .expect("POST /token");
    let status = resp.status();
    let tokens: Value = resp.json().await.expect("/token answers JSON");
    assert_eq!(status, 200, "redeeming the browser's code: {tokens}");
    tokens
}

both_backends!(deny_in_a_real_browser_returns_access_denied, async |app| {
    let flow = setup(&app);
    let browser = Browser::start().await;
    sign_in(&app, &browser, &flow).await;
    assert!(browser.source().await.contains(CLIENT_NAME), "the consent page does not name {CLIENT_NAME:?}");
    browser.find("button[name=decision][value=deny]").await.click().await;
    let landed = browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;
    browser.quit().await;
    let params = query(&landed);
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"), "error in {landed}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE), "state in {landed}");
    assert_eq!(params.get("iss"), Some(&app.address), "iss in {landed}");
    assert!(!params.contains_key("code"), "a code after Deny: {landed}");
});

/// Whether the browser's session is live: an authorization with `prompt=none` gets a code, not
/// `login_required`.
async fn signed_in(browser: &Browser, flow: &Flow) -> bool {
    // The navigation ends at the redirect URI, where nothing listens: a failed load, but the URL is there.
    let url = format!("{}&prompt=none", flow.authorize_url);
    if let Err(e) = browser.try_call(reqwest::Method::POST, "/url", Some(serde_json::json!({ "url": url }))).await {
        assert!(e.message.contains("ERR_CONNECTION_REFUSED"), "opening {url}: {e}");
    }
    let landed = browser.wait_for_url("the answer to prompt=none", |u| at_redirect_uri(flow, u)).await;
    let params = query(&landed);
    assert!(
        params.contains_key("code") || params.get("error").map(String::as_str) == Some("login_required"),
        "prompt=none answered {landed}"
    );
    params.contains_key("code")
}

// Regression: the session cookie is SameSite=Lax, so a form posted from the app's own site reaches the server
// without it. Such a logout used to report "signed out" while the session lived on, and such an
// authorization used to answer prompt=none with login_required.
both_backends!(posts_from_the_app_site_see_the_session, async |app| {
    let flow = setup(&app);
    let browser = Browser::start().await;
    sign_in(&app, &browser, &flow).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    let landed = browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;
    let code = query(&landed).remove("code").unwrap_or_else(|| panic!("no code in {landed}"));
    let id_token = redeem(&app, &flow, &code).await["id_token"].as_str().expect("an id_token").to_owned();

    // Signing in by form post: the signed-in user gets a code without a page.
    let mut authorize = url::Url::parse(&flow.authorize_url).unwrap();
    let mut fields: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    fields.push(("prompt".into(), "none".into()));
    authorize.set_query(None);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let site = AppSite::auto_post(authorize.as_str(), &pairs);
    browser.goto(&site.url).await;
    let landed = browser.wait_for_url("the answer to the posted authorization", |u| at_redirect_uri(&flow, u)).await;
    let params = query(&landed);
    assert!(params.contains_key("code"), "a posted prompt=none did not see the session: {landed}");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE), "state in {landed}");

    // Signing out by form post: back at the app, and really signed out.
    let site = AppSite::auto_post(
        &app.url("/logout"),
        &[("id_token_hint", &id_token), ("post_logout_redirect_uri", &flow.post_logout_redirect_uri), ("state", "bye")],
    );
    browser.goto(&site.url).await;
    let back = format!("{}?state=bye", flow.post_logout_redirect_uri);
    browser.wait_for_url("the redirect after logout", |u| u.as_str() == back).await;
    assert!(!signed_in(&browser, &flow).await, "the posted logout left the session alive");
    browser.quit().await;
});

/// Asserts the headers every interaction page must carry.
fn assert_page_headers(resp: &reqwest::Response, page: &str) {
    let h = resp.headers();
    let get = |name: header::HeaderName| -> String {
        let all: Vec<_> = h.get_all(&name).iter().map(|v| v.to_str().unwrap_or("<not ASCII>").to_owned()).collect();
        assert_eq!(all.len(), 1, "{page}: expected one {name} header, got {all:?}");
        all.into_iter().next().unwrap()
    };
    let csp = get(header::CONTENT_SECURITY_POLICY);
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"frame-ancestors 'none'"), "{page}: CSP without frame-ancestors 'none': {csp}");
    assert!(!csp.contains("unsafe-inline"), "{page}: CSP allows inline code: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{page}: CSP allows eval: {csp}");
    assert!(get(header::X_FRAME_OPTIONS).eq_ignore_ascii_case("DENY"), "{page}: X-Frame-Options");
    assert_eq!(get(header::REFERRER_POLICY), "no-referrer", "{page}: Referrer-Policy");
    assert_eq!(get(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{page}: X-Content-Type-Options");
    assert_eq!(get(header::CACHE_CONTROL), "no-store", "{page}: Cache-Control");
    assert!(get(header::CONTENT_TYPE).starts_with("text/html"), "{page}: Content-Type");
}

/// The start tags of `html` (`<name ...>`, lowercased), quotes respected.
fn start_tags(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let start = i;
            let mut quote = None;
            i += 1;
            while i < bytes.len() {
                match (quote, bytes[i]) {
                    (None, b'"' | b'\'') => quote = Some(bytes[i]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                i += 1;
            }
            tags.push(lower[start..=i.min(bytes.len() - 1)].to_owned());
        }
        i += 1;
    }
    tags
}

/// The tag name and attribute names of a start tag.
fn tag_parts(tag: &str) -> (String, Vec<String>) {
    let inner = tag.trim_start_matches('<').trim_end_matches('>').trim_end_matches('/');
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for c in inner.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut words = words.into_iter();
    let name = words.next().unwrap_or_default();
    let attrs = words.map(|w| w.split('=').next().unwrap_or_default().to_owned()).filter(|a| !a.is_empty()).collect();
    (name, attrs)
}

/// Asserts the page has no inline script, style or event handler (the CSP forbids them anyway).
fn assert_no_inline_code(html: &str, page: &str) {
    if let Some(problem) = inline_code(html) {
        panic!("{page}: {problem}\n{html}");
    }
}

/// The first inline script, style or event handler in `html`.
fn inline_code(html: &str) -> Option<String> {
    if html.to_ascii_lowercase().contains(" style=") {
        return Some("a style attribute".into());
    }
    for tag in start_tags(html) {
        let (name, attrs) = tag_parts(&tag);
        if name == "style" {
            return Some("a <style> element".into());
        }
        if name == "script" && !attrs.iter().any(|a| a == "src") {
            return Some(format!("an inline <script>: {tag}"));
        }
        if let Some(attr) = attrs.iter().find(|a| a.starts_with("on") || *a == "style") {
            return Some(format!("an inline {attr} attribute: {tag}"));
        }
    }
    None
}

/// The value of the hidden input `name` of a page.
fn hidden_field(html: &str, name: &str) -> String {
    let tag = start_tags(html)
        .into_iter()
        .find(|t| t.starts_with("<input") && t.contains(&format!("name=\"{name}\"")))
        .unwrap_or_else(|| panic!("no input named {name} in:\n{html}"));
    // Lowercased by start_tags: find the position in the original to keep the value's case.
    let start = html.to_ascii_lowercase().find(&tag).expect("the tag is in the page");
    let original = &html[start..start + tag.len()];
    let value = original.split("value=\"").nth(1).unwrap_or_else(|| panic!("input {name} has no value: {original}"));
    let value = &value[..value.find('"').expect("a closing quote")];
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `Location` of a 303, resolved against the server.
fn see_other(app: &TestApp, resp: &reqwest::Response, what: &str) -> String {
    assert_eq!(resp.status(), 303, "{what}: expected a 303");
    let location = resp.headers()[header::LOCATION].to_str().expect("an ASCII Location").to_owned();
    url::Url::parse(&app.address).unwrap().join(&location).expect("a valid Location").to_string()
}

both_backends!(pages_send_security_headers_and_no_inline_code, async |app| {
    let flow = setup(&app);
    let client = &app.api_client;

    let resp = client.get(&flow.authorize_url).send().await.expect("GET /authorize");
    let login_url = see_other(&app, &resp, "GET /authorize");
    assert!(login_url.starts_with(&app.url("/login?interaction=")), "/authorize sent the browser to {login_url}");

    let resp = client.get(&login_url).send().await.expect("GET /login");
    assert_eq!(resp.status(), 200, "GET {login_url}");
    assert_page_headers(&resp, "the login page");
    let html = resp.text().await.unwrap();
    assert_no_inline_code(&html, "the login page");
    assert!(html.contains(CLIENT_NAME), "the login page does not name the client");
    let interaction = hidden_field(&html, "interaction");
    let csrf = hidden_field(&html, "csrf");
    assert!(!csrf.is_empty(), "an empty CSRF token");

    // A failed sign-in shows the page again, as strictly served, and starts no session.
    let resp = client
        .post(app.url("/login"))
        .header(header::ORIGIN, &app.address)
        .form(&[("interaction", &*interaction), ("csrf", &*csrf), ("username", USERNAME), ("password", "wrong")])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(resp.status(), 200, "POST /login with a wrong password");
    assert_page_headers(&resp, "the failed login page");
    assert!(resp.headers().get_all(header::SET_COOKIE).iter().all(|c| !c.as_bytes().starts_with(b"tessera=")));
    let html = resp.text().await.unwrap();
    assert_no_inline_code(&html, "the failed login page");
    assert!(html.contains("role=\"alert\""), "the failed login page shows no alert");
    let csrf = hidden_field(&html, "csrf");
    let interaction = hidden_field(&html, "interaction");

    let resp = client
        .post(app.url("/login"))
        .header(header::ORIGIN, &app.address)
        .form(&[("interaction", &*interaction), ("csrf", &*csrf), ("username", USERNAME), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST /login");
    let cookies: Vec<String> =
        resp.headers().get_all(header::SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tessera="))
        .unwrap_or_else(|| panic!("no tessera session cookie after signing in: {cookies:?}"));
    let attrs: Vec<String> = session.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
    assert!(
        session.len() > "tessera=".len() && !session.starts_with("tessera=;"),
        "an empty session cookie: {session}"
    );
    assert!(attrs.iter().any(|a| a == "httponly"), "the session cookie is not HttpOnly: {session}");
    assert!(attrs.iter().any(|a| a == "samesite=lax"), "the session cookie is not SameSite=Lax: {session}");
    assert!(attrs.iter().any(|a| a == "path=/"), "the session cookie is not Path=/: {session}");
    let consent_url = see_other(&app, &resp, "POST /login");
    assert!(consent_url.starts_with(&app.url("/consent?interaction=")), "signing in went to {consent_url}");

    let resp = client.get(&consent_url).send().await.expect("GET /consent");
    assert_eq!(resp.status(), 200, "GET {consent_url}");
    assert_page_headers(&resp, "the consent page");
    let html = resp.text().await.unwrap();
    assert_no_inline_code(&html, "the consent page");
    assert!(html.contains(CLIENT_NAME), "the consent page does not name {CLIENT_NAME:?}");
    for decision in ["allow", "deny"] {
        let button = start_tags(&html).into_iter().find(|t| {
            let (name, _) = tag_parts(t);
            name == "button" && t.contains("name=\"decision\"") && t.contains(&format!("value=\"{decision}\""))
        });
        assert!(button.is_some(), "the consent page has no {decision} button");
    }

    // What the pages load instead of inline code is served from our origin.
    let resp = app.get("/static/tessera.css").await;
    assert_eq!(resp.status(), 200, "GET /static/tessera.css");
    assert!(resp.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
});

#[test]
fn the_markup_checks_catch_inline_code() {
    let clean = r#"<p class="x">a</p><script src="/static/a.js"></script><input name="csrf" value="AbC">"#;
    assert_no_inline_code(clean, "clean");
    assert_eq!(hidden_field(clean, "csrf"), "AbC");
    for bad in [
        "<script>alert(1)</script>",
        "<p style=\"color:red\">x</p>",
        "<style>p{}</style>",
        "<button onclick=\"x()\">x</button>",
        "<img src=x\nonerror=y>",
    ] {
        assert!(inline_code(bad).is_some(), "not caught: {bad}");
    }
}

/// Waits until the browser is on the account page and its source satisfies `check`.
async fn wait_for_account(app: &TestApp, browser: &Browser, what: &str, check: impl Fn(&str) -> bool) -> String {
    let started = std::time::Instant::now();
    loop {
        let url = url::Url::parse(&browser.current_url().await).unwrap();
        let source = browser.source().await;
        if on_server(app, &url, "/account") && check(&source) {
            return source;
        }
        if started.elapsed() >= crate::webdriver::WAIT_TIMEOUT {
            panic!("{what}: on {url}\n{}", browser.source_excerpt().await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both_backends!(account_page_signs_in_and_removes_an_app_in_a_real_browser, async |app| {
    let flow = setup(&app);
    let browser = Browser::start().await;

    // Signed out, the account page hands over to the sign-in, which comes back to it.
    browser.goto(&app.url("/account")).await;
    let login = browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert_eq!(query(&login).get("return").map(String::as_str), Some("account"), "{login}");
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    let source = wait_for_account(&app, &browser, "no account page after signing in", |s| s.contains("Sessions")).await;
    assert!(source.contains("No app has access"), "an app before any consent:\n{source}");
    // The session is described by the browser that started it, Debian's chromium here.
    assert!(source.contains("Headless Chrome on Linux"), "the session's browser:\n{source}");

    // The session counts for an authorization: only consent is asked.
    browser.goto(&flow.authorize_url).await;
    expect_consent_page(&app, &browser).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;

    // The app is listed; its button takes the access back.
    browser.goto(&app.url("/account")).await;
    wait_for_account(&app, &browser, "the app is not listed", |s| s.contains(CLIENT_NAME)).await;
    let button = format!("button[aria-label=\"Remove access for {CLIENT_NAME}\"]");
    browser.find(&button).await.click().await;
    // Back on the page, which says what was done where screen readers announce it, and lists the app no more.
    let done = format!("role=\"status\">Access removed for {CLIENT_NAME}.</p>");
    let still_listed = format!("Remove access for {CLIENT_NAME}");
    wait_for_account(&app, &browser, "the app is still listed", |s| s.contains(&done) && !s.contains(&still_listed))
        .await;

    // Signing out of this session from the page ends it.
    browser.find("button[aria-label=\"Sign out of this session\"]").await.click().await;
    browser.wait_for_url("the login page after signing out", |u| on_server(&app, u, "/login")).await;
    browser.quit().await;

    // As served: strict headers and no inline code on the account sign-in and the account page.
    let client = &app.api_client;
    let resp = client.get(app.url("/login?return=account")).send().await.unwrap();
    assert_page_headers(&resp, "the account sign-in page");
    let html = resp.text().await.unwrap();
    assert_no_inline_code(&html, "the account sign-in page");
    let resp = client
        .post(app.url("/login"))
        .header(header::ORIGIN, &app.address)
        .form(&[
            ("return", "account"),
            ("csrf", &*hidden_field(&html, "csrf")),
            ("username", USERNAME),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(see_other(&app, &resp, "POST /login"), app.url("/account"));
    let resp = client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_page_headers(&resp, "the account page");
    assert_no_inline_code(&resp.text().await.unwrap(), "the account page");
});

/// Asserts every time `name` shows in the text of `html` it is isolated in its own `<bdi>`, so that its
/// direction cannot spill over the page's words; inside a tag (an attribute value) it does not render.
fn assert_isolated(html: &str, name: &str, page: &str) {
    let isolated = format!("<bdi>{name}</bdi>");
    assert!(html.contains(&isolated), "{page} does not show {name:?} isolated:\n{html}");
    let rest = html.replace(&isolated, "");
    for (at, _) in rest.match_indices(name) {
        let before = &rest[..at];
        let in_tag = before.rfind('<') > before.rfind('>');
        assert!(in_tag, "{page} shows {name:?} outside a <bdi>:\n{html}");
    }
}

// Regression: a client name ending in a right-to-left override (stored before names were checked for it)
// reversed the page's own words after it, as the browser rendered them.
both_backends!(client_names_are_isolated_from_the_page_text, async |app| {
    let flow = setup(&app);
    let name = "Photos \u{202e}";
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    use tessera::storage::ClientStore;
    let id = tessera::domain::ClientId::parse(&flow.client_id).unwrap();
    let mut client = store.client(&id).await.unwrap().unwrap();
    client.name = name.to_owned();
    store.update_client(&client).await.unwrap();
    let c = &app.api_client;

    let login_url = see_other(&app, &c.get(&flow.authorize_url).send().await.unwrap(), "GET /authorize");
    let html = c.get(&login_url).send().await.unwrap().text().await.unwrap();
    assert_isolated(&html, name, "the login page");
    let form = [
        ("interaction", hidden_field(&html, "interaction")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", USERNAME.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let resp = c.post(app.url("/login")).header(header::ORIGIN, &app.address).form(&form).send().await.unwrap();
    let consent_url = see_other(&app, &resp, "POST /login");
    let html = c.get(&consent_url).send().await.unwrap().text().await.unwrap();
    assert_isolated(&html, name, "the consent page");
    let form = [
        ("interaction", hidden_field(&html, "interaction")),
        ("csrf", hidden_field(&html, "csrf")),
        ("decision", "allow".to_owned()),
    ];
    let resp = c.post(app.url("/consent")).header(header::ORIGIN, &app.address).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 303);

    let html = c.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert_isolated(&html, name, "the account page");
    let html = c.get(app.url(&format!("/logout?client_id={}", flow.client_id))).send().await.unwrap().text().await;
    assert_isolated(&html.unwrap(), name, "the logout page");
});

// Regression: the consent and account pages showed the username bare, so one with a right-to-left override
// (stored before usernames were checked for it) reversed the page's own words after it.
both_backends!(usernames_are_isolated_from_the_page_text, async |app| {
    let flow = setup(&app);
    let name = "eve \u{202e}";
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    use tessera::storage::UserStore;
    let (alice, hash) =
        store.user_by_username(&tessera::domain::Username::parse(USERNAME).unwrap()).await.unwrap().unwrap();
    let eve = tessera::domain::NewUser {
        id: tessera::domain::UserId::generate(),
        username: tessera::domain::Username::parse(name).unwrap(),
        password_hash: hash,
        email: None,
        email_verified: false,
        name: None,
        password_change_required: false,
        created_at: alice.created_at,
    };
    store.create_user(eve).await.unwrap();
    let c = &app.api_client;

    let login_url = see_other(&app, &c.get(&flow.authorize_url).send().await.unwrap(), "GET /authorize");
    let html = c.get(&login_url).send().await.unwrap().text().await.unwrap();
    let form = [
        ("interaction", hidden_field(&html, "interaction")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", name.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let resp = c.post(app.url("/login")).header(header::ORIGIN, &app.address).form(&form).send().await.unwrap();
    let consent_url = see_other(&app, &resp, "POST /login");
    let html = c.get(&consent_url).send().await.unwrap().text().await.unwrap();
    assert_isolated(&html, name, "the consent page");
    let html = c.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert_isolated(&html, name, "the account page");
});

/// Asserts the page in `browser` is no wider than its window: no horizontal scrolling, nothing of the card cut.
async fn assert_fits(browser: &Browser, width: u32, page: &str) {
    let sizes = browser
        .execute(
            "const d = document.documentElement, c = document.querySelector('.card'); \
             return [window.innerWidth, d.scrollWidth, d.clientWidth, c.scrollWidth, c.clientWidth];",
        )
        .await;
    let n = |i: usize| sizes[i].as_i64().unwrap_or_else(|| panic!("{page}: sizes {sizes}"));
    assert!(n(0) <= i64::from(width), "{page}: the window is {} px wide, not {width}", n(0));
    assert!(n(1) <= n(2), "{page} at {width} px scrolls sideways: {sizes} (window, page, card widths)");
    assert!(n(3) <= n(4), "{page} at {width} px overflows its card: {sizes} (window, page, card widths)");
}

// Regression: a long name without spaces widened the login, consent, logout and account pages past a phone's
// width (360 px), and the account page past 640 px too: the page scrolled sideways and the heading was cut.
both_backends!(long_client_names_wrap_on_a_narrow_window, async |app| {
    let long = "MyCompanyIntranetDashboard2024".repeat(6);
    let flow = setup_named(&app, &long);
    let browser = Browser::start().await;
    browser.set_window_size(360, 800).await;
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert_fits(&browser, 360, "the login page").await;
    sign_in(&app, &browser, &flow).await;
    assert!(browser.source().await.contains(&long), "the consent page does not name the client");
    assert_fits(&browser, 360, "the consent page").await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;

    browser.goto(&app.url("/account")).await;
    wait_for_account(&app, &browser, "the app is not listed", |s| s.contains(&long)).await;
    assert_fits(&browser, 360, "the account page").await;
    browser.set_window_size(640, 800).await;
    assert_fits(&browser, 640, "the account page").await;

    browser.set_window_size(360, 800).await;
    browser.goto(&app.url(&format!("/logout?client_id={}", flow.client_id))).await;
    browser.wait_for("button[name=decision][value=logout]").await;
    assert!(browser.source().await.contains(&long), "the logout page does not name the client");
    assert_fits(&browser, 360, "the logout page").await;
    browser.quit().await;

    // The rule is served.
    let css = app.get("/static/tessera.css").await.text().await.unwrap();
    assert!(css.contains("overflow-wrap: anywhere"), "{css}");
});
