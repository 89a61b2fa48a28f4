//! Hostile input: one module per attack, named after the section of RFC 9700 (OAuth 2.0 Security Best Current
//! Practice) that describes it where there is one, plus the abuse limits and the sign-in audit trail. Every test
//! runs on both backends and asserts what the attacker gets: a page instead of a redirect, an error code, a
//! status, escaped text. None of them may see a 500.
mod audit_trail;
mod brute_force;
mod code_injection;
mod csrf;
mod escaping;
mod forged_tokens;
mod mix_up;
mod oversize;
mod redirect_uri;
mod slow_body;
mod token_replay;

use crate::helpers::{s, TestApp};
use crate::signin::{hidden, location, pkce_pair, query_of, urlencode, PASSWORD, REDIRECT};
use reqwest::StatusCode;
use serde_json::Value;

/// A browser of its own: cookies kept, no redirects followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("building an HTTP client")
}

/// An authorization URL for `client_id` on the test redirect URI with S256 PKCE, `state=st`, then `extra`.
pub fn authorize_url(app: &TestApp, client_id: &str, challenge: &str, extra: &str) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=st&code_challenge={challenge}&code_challenge_method=S256{extra}",
        app.address,
        urlencode(REDIRECT)
    )
}

/// Asserts `r` is an HTML page with a 4xx status that sends the browser nowhere; returns its body.
pub async fn assert_page_not_redirect(r: reqwest::Response, case: &str) -> String {
    let status = r.status();
    assert!(status.is_client_error(), "{case}: status {status}");
    assert!(r.headers().get("location").is_none(), "{case}: redirects to {:?}", r.headers().get("location"));
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{case}: content-type {ct}");
    r.text().await.expect("a body")
}

/// The login form of an authorization: its page, interaction id and CSRF token.
pub struct LoginForm {
    pub html: String,
    pub interaction: String,
    pub csrf: String,
}

/// Starts the authorization at `url` in `browser` and opens the login page it leads to.
pub async fn open_login(app: &TestApp, browser: &reqwest::Client, url: &str) -> LoginForm {
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{url}");
    let loc = location(&r);
    assert!(loc.starts_with("/login"), "expected the login page, got {loc}");
    let page = browser.get(app.url(&loc)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    LoginForm { interaction: hidden(&html, "interaction"), csrf: hidden(&html, "csrf"), html }
}

/// Posts the login form as our page would (same Origin).
pub async fn submit_login(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &LoginForm,
    username: &str,
    password: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/login"))
        .header("Origin", &app.address)
        .form(&[
            ("interaction", form.interaction.as_str()),
            ("csrf", form.csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Follows an authorization in `browser` to its end, signing in as alice and answering consent with `consent`
/// when asked; returns the final redirect URL (to the client).
pub async fn drive(app: &TestApp, browser: &reqwest::Client, url: &str, consent: &str) -> String {
    let mut resp = browser.get(url).send().await.unwrap();
    for _ in 0..4 {
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
        let loc = location(&resp);
        if !loc.starts_with('/') {
            return loc;
        }
        let html = browser.get(app.url(&loc)).send().await.unwrap().text().await.unwrap();
        let (interaction, csrf) = (hidden(&html, "interaction"), hidden(&html, "csrf"));
        resp = if loc.starts_with("/login") {
            let form = LoginForm { html, interaction, csrf };
            submit_login(app, browser, &form, "alice", PASSWORD).await
        } else {
            browser
                .post(app.url("/consent"))
                .header("Origin", &app.address)
                .form(&[("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", consent)])
                .send()
                .await
                .unwrap()
        };
    }
    panic!("too many steps");
}

/// A code for `client_id` on the test redirect URI (signing in and consenting in the app's own browser), with
/// its PKCE verifier.
pub async fn code_for(app: &TestApp, client_id: &str) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let back = drive(app, &app.api_client, &authorize_url(app, client_id, &challenge, ""), "allow").await;
    (query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}")), verifier)
}

/// `POST /token` with `form`, authenticated with Basic credentials when `basic` is given.
pub async fn token(app: &TestApp, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = app.api_client.post(app.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "the token endpoint failed");
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The kinds of the audit events recorded so far, oldest first.
pub fn audit_events(app: &TestApp) -> Vec<Value> {
    let mut events = app.cli_json(&["audit", "list"], None)["events"].as_array().cloned().unwrap_or_default();
    events.sort_by_key(|e| e["at"].as_i64());
    events
}

/// The events of `kind`.
pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}
