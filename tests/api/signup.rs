//! Users creating their own account (`users.self_registration`): the login page's link, the sign-up page of the
//! pending authorization, its rules and refusals, the IP limit, `prompt=create` (Initiating User Registration via
//! OpenID Connect 1.0) and discovery, the routes while it is off, and `otp.required`.
use crate::account::other_browser;
use crate::helpers::*;
use crate::otp::{audit_reasons, post};
use crate::signin::{
    add_alice, add_client, auth_url, discovered_rp, hidden, location, pkce_pair, query_of, signs_in, PASSWORD, REDIRECT,
};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;

const NEW_PASSWORD: &str = "a long new password";

pub(crate) fn on(raw: &mut tessera::config::RawSettings) {
    raw.users.self_registration = true;
}

/// The sign-up form's hidden fields, from the page at `path` in browser `b`.
pub(crate) async fn sign_up_page(app: &TestApp, b: &reqwest::Client, path: &str) -> (String, String, String) {
    let r = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Create an account</h1>") && html.contains("action=\"/login/register\""), "{html}");
    (hidden(&html, "interaction"), hidden(&html, "csrf"), html)
}

/// Starts an authorization of `client_id` in browser `b` (with `extra` parameters) and follows it to the page it
/// sends to: that page's path.
async fn start(app: &TestApp, b: &reqwest::Client, client_id: &str, extra: &str) -> String {
    let (challenge, _) = pkce_pair();
    let r = b.get(auth_url(app, client_id, &challenge, extra)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

/// The sign-up page of a new authorization of `client_id` in browser `b`, reached by the login page's link.
async fn through_the_login_page(app: &TestApp, b: &reqwest::Client, client_id: &str) -> (String, String, String) {
    let login = start(app, b, client_id, "").await;
    assert!(login.starts_with("/login?interaction="), "{login}");
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let interaction = hidden(&html, "interaction");
    let link = format!("href=\"/login/register?interaction={interaction}\"");
    assert!(html.contains(&link) && html.contains(">Create an account</a>"), "{html}");
    sign_up_page(app, b, &format!("/login/register?interaction={interaction}")).await
}

/// Posts the sign-up form with `fields` over the interaction's hidden ones.
pub(crate) async fn submit(
    app: &TestApp,
    b: &reqwest::Client,
    page: &(String, String, String),
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("interaction", page.0.as_str()), ("csrf", page.1.as_str())];
    form.extend_from_slice(fields);
    post(app, b, "/login/register", &form).await
}

pub(crate) fn fields<'a>(username: &'a str, password: &'a str, again: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("email", "new@example.com"),
        ("name", "New Person"),
        ("password", password),
        ("password_again", again),
    ]
}

pub(crate) fn user_named(app: &TestApp, username: &str) -> Option<Value> {
    let users = app.cli_json(&["users", "list"], None);
    users["users"].as_array().unwrap().iter().find(|u| u["username"] == username).cloned()
}

both_backends!(a_new_user_signs_up_and_the_relying_party_gets_their_id_token, |raw| { on(raw) }, async |app| {
    let client = add_client(&app, &[]);
    let http = oidc_http_client();
    let rp = discovered_rp(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = other_browser();
    let r = b.get(url.as_str()).send().await.unwrap();
    let login = location(&r);
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let interaction = hidden(&html, "interaction");
    assert!(html.contains(&format!("href=\"/login/register?interaction={interaction}\"")), "{html}");
    let page = sign_up_page(&app, &b, &format!("/login/register?interaction={interaction}")).await;
    let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let cookies: Vec<String> = r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().into()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("tessera=")), "a session starts: {cookies:?}");
    assert!(location(&r).starts_with("/consent?interaction="), "{}", location(&r));
    let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Signed in as <strong><bdi>newcomer</bdi></strong>"), "{html}");
    let form =
        [("interaction", hidden(&html, "interaction")), ("csrf", hidden(&html, "csrf")), ("decision", "allow".into())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = location(&post(&app, &b, "/consent", &form).await);
    assert!(back.starts_with(REDIRECT), "{back}");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let claims = tokens.id_token().expect("an ID token").claims(&rp.id_token_verifier(), &nonce).expect("valid");
    let user = user_named(&app, "newcomer").expect("the user was created");
    assert_eq!(claims.subject().as_str(), user["id"].as_str().unwrap());
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(tokens.access_token().secret());
    let info: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!((&info["preferred_username"], &info["name"]), (&"newcomer".into(), &"New Person".into()), "{info}");
    assert_eq!((&info["email"], &info["email_verified"]), (&"new@example.com".into(), &false.into()), "{info}");
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(amr, ["pwd"]);

    let id = user["id"].as_str().unwrap();
    assert_eq!(audit_reasons(&app, id, "user_registered").len(), 1);
    let events = app.cli_json(&["audit", "list", "--user", id], None).to_string();
    assert!(!events.contains(NEW_PASSWORD), "no password in the audit trail");
    // The new user signs in later with the password they chose.
    let public = add_client(&app, &["--public"]);
    assert!(signs_in(&app, public["client_id"].as_str().unwrap(), "newcomer", NEW_PASSWORD).await);
});

both_backends!(sign_up_refuses_what_the_rules_refuse_and_creates_nothing, |raw| { on(raw) }, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();
    let b = other_browser();
    let page = through_the_login_page(&app, &b, id).await;
    let refused = |r: reqwest::Response, status: StatusCode, words: &'static str, field: &'static str| async move {
        assert_eq!(r.status(), status);
        assert!(r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tessera=")));
        let html = r.text().await.unwrap();
        assert!(html.contains("role=\"alert\"") && html.contains(words), "{words}: {html}");
        let invalid = format!("id=\"{field}\" name=");
        let at = html.find(&invalid).unwrap_or_else(|| panic!("no field {field}"));
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(tag.contains("aria-invalid=\"true\""), "{field} is marked: {tag}");
        assert!(!html.contains(NEW_PASSWORD), "a password is never shown again");
        html
    };
    // Taken, in another letter case too: said so.
    let r = submit(&app, &b, &page, &fields("ALICE", NEW_PASSWORD, NEW_PASSWORD)).await;
    let html = refused(r, StatusCode::CONFLICT, "That username is taken", "username").await;
    assert!(html.contains("value=\"ALICE\"") && html.contains("value=\"new@example.com\""), "typed fields stay");
    let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, "another password")).await;
    refused(r, StatusCode::BAD_REQUEST, "The two passwords are not the same", "password-again").await;
    let r = submit(&app, &b, &page, &fields("newcomer", "short", "short")).await;
    refused(r, StatusCode::BAD_REQUEST, "at least 8 characters", "password").await;
    let long = "x".repeat(1025);
    let r = submit(&app, &b, &page, &fields("newcomer", &long, &long)).await;
    refused(r, StatusCode::BAD_REQUEST, "The password is too long", "password").await;
    let r = submit(&app, &b, &page, &fields("zero\u{200b}width", NEW_PASSWORD, NEW_PASSWORD)).await;
    refused(r, StatusCode::BAD_REQUEST, "invisible formatting characters", "username").await;
    let mut bad_email = fields("newcomer", NEW_PASSWORD, NEW_PASSWORD);
    bad_email[1] = ("email", "not an address");
    let r = submit(&app, &b, &page, &bad_email).await;
    refused(r, StatusCode::BAD_REQUEST, "That is not an email address", "email").await;

    // Not from our page: a wrong CSRF token, another origin, another browser.
    let forged = (page.0.clone(), "wrong".to_owned(), String::new());
    let r = submit(&app, &b, &forged, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let form = [
        ("interaction", page.0.as_str()),
        ("csrf", page.1.as_str()),
        ("username", "newcomer"),
        ("password", NEW_PASSWORD),
        ("password_again", NEW_PASSWORD),
    ];
    let r = b.post(app.url("/login/register")).header("Origin", "https://evil.example").form(&form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::FORBIDDEN);
    let r = b.post(app.url("/login/register")).header("Sec-Fetch-Site", "cross-site").form(&form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(&app, &other_browser(), "/login/register", &form).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "another browser's sign-in is not this one's");
    assert!(user_named(&app, "newcomer").is_none(), "nothing was created");
    // The form still works afterwards.
    let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(user_named(&app, "newcomer").is_some());
});

both_backends!(
    sign_ups_are_limited_per_ip,
    |raw| {
        on(raw);
        raw.limits.user_registration_ip_requests = 2;
    },
    async |app| {
        add_alice(&app);
        let client = add_client(&app, &["--public"]);
        let id = client["client_id"].as_str().unwrap();
        let b = other_browser();
        let page = through_the_login_page(&app, &b, id).await;
        // A taken name counts (it tells that the name exists), an inconsistent form does not.
        for _ in 0..3 {
            let r = submit(&app, &b, &page, &fields("newcomer", "short", "short")).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        }
        for _ in 0..2 {
            let r = submit(&app, &b, &page, &fields("alice", NEW_PASSWORD, NEW_PASSWORD)).await;
            assert_eq!(r.status(), StatusCode::CONFLICT);
        }
        let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((3590..=3600).contains(&wait), "{wait}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Too many accounts were created from your network"), "{html}");
        assert!(user_named(&app, "newcomer").is_none());
    }
);

both_backends!(prompt_create_shows_the_sign_up_page_even_over_a_session, |raw| { on(raw) }, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert!(discovery["prompt_values_supported"].as_array().unwrap().iter().any(|v| v == "create"), "{discovery}");

    let b = other_browser();
    let to = start(&app, &b, id, "&prompt=create").await;
    assert!(to.starts_with("/login/register?interaction="), "{to}");
    // Signed in already: still the sign-up page.
    let login = start(&app, &b, id, "").await;
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let form = [
        ("interaction", hidden(&html, "interaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, &b, "/login", &form).await.status(), StatusCode::SEE_OTHER);
    let to = start(&app, &b, id, "&prompt=create").await;
    assert!(to.starts_with("/login/register?interaction="), "{to}");
    let page = sign_up_page(&app, &b, &to).await;
    let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The new user's session replaced alice's; on to consent for the new user.
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let html = b.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Signed in as <strong><bdi>newcomer</bdi></strong>"), "{html}");

    // With none: invalid_request, to the app.
    let back = start(&app, &b, id, "&prompt=none%20create").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_of(&back)["error"], "invalid_request");
});

both_backends!(with_sign_up_off_nothing_offers_or_takes_it, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    let prompts = discovery["prompt_values_supported"].as_array().unwrap();
    assert!(!prompts.iter().any(|v| v == "create"), "{discovery}");

    let b = other_browser();
    let login = start(&app, &b, id, "").await;
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("/login/register") && !html.contains("Create an account"), "{html}");
    let interaction = hidden(&html, "interaction");
    let r = b.get(app.url(&format!("/login/register?interaction={interaction}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", &hidden(&html, "csrf")),
        ("username", "newcomer"),
        ("password", NEW_PASSWORD),
        ("password_again", NEW_PASSWORD),
    ];
    assert_eq!(post(&app, &b, "/login/register", &form).await.status(), StatusCode::NOT_FOUND);
    assert!(user_named(&app, "newcomer").is_none());

    // prompt=create is a value not supported here: invalid_request (Initiating User Registration §4.1).
    let back = start(&app, &b, id, "&prompt=create").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("prompt=create"), "{q:?}");
});

both_backends!(
    under_otp_required_a_new_user_sets_up_two_step_verification_first,
    |raw| {
        on(raw);
        raw.otp.required = true;
    },
    async |app| {
        let client = add_client(&app, &["--public"]);
        let id = client["client_id"].as_str().unwrap();
        let b = other_browser();
        let page = through_the_login_page(&app, &b, id).await;
        let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookies: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().all(|c| !c.starts_with("tessera=")), "no session yet: {cookies:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Signing in here needs two-step verification"), "{html}");
        assert!(html.contains("action=\"/login/enrol\""), "{html}");
        assert!(user_named(&app, "newcomer").is_some(), "the account exists; its sign-in waits for the set-up");
    }
);

/// The sign-up page of the account page's sign-in in browser `b`, reached by that sign-in's link: its `csrf`.
async fn from_the_account_sign_in(app: &TestApp, b: &reqwest::Client) -> String {
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account");
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("href=\"/login/register?return=account\"") && html.contains(">Create an account</a>"));
    let r = b.get(app.url("/login/register?return=account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Create an account</h1>") && html.contains("action=\"/login/register\""), "{html}");
    assert!(html.contains("name=\"return\" value=\"account\"") && !html.contains("name=\"interaction\""), "{html}");
    assert!(html.contains("href=\"/login?return=account\""), "the way back to the sign-in: {html}");
    hidden(&html, "csrf")
}

/// Posts the account sign-up form with `csrf` and `fields` from browser `b`.
async fn submit_account(app: &TestApp, b: &reqwest::Client, csrf: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("return", "account"), ("csrf", csrf)];
    form.extend_from_slice(fields);
    post(app, b, "/login/register", &form).await
}

both_backends!(a_sign_up_from_the_account_pages_sign_in_lands_there_signed_in, |raw| { on(raw) }, async |app| {
    add_alice(&app);
    let b = other_browser();
    let csrf = from_the_account_sign_in(&app, &b).await;
    // Meanwhile another user signs in in this browser: the sign-up ends that session (against fixation).
    crate::account::sign_in_to_account(&app, &b).await;
    let r = b.get(app.url("/login/register?return=account")).send().await.unwrap();
    assert_eq!(location(&r), "/account", "signed in already: the page");
    assert_eq!(app.cli_json(&["users", "sessions", "alice"], None)["sessions"].as_array().unwrap().len(), 1);

    // Refused from another browser (its token is bound to this one's cookie) and from another site.
    let r = submit_account(&app, &other_browser(), &csrf, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no browser cookie: cookies blocked");
    let form = [("return", "account"), ("csrf", csrf.as_str()), ("username", "newcomer")];
    let r = b.post(app.url("/login/register")).header("Origin", "https://evil.example").form(&form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        submit_account(&app, &b, "forged", &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await.status(),
        StatusCode::FORBIDDEN
    );
    // A refusal shows this form again, the account page's.
    let r = submit_account(&app, &b, &csrf, &fields("alice", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("name=\"return\" value=\"account\""));
    assert!(user_named(&app, "newcomer").is_none());

    let r = submit_account(&app, &b, &csrf, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/account");
    let cookies: Vec<String> = r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().into()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("tessera=") && !c.starts_with("tessera=;")), "{cookies:?}");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Signed in as <strong><bdi>newcomer</bdi></strong>"), "{html}");
    assert_eq!(html.matches("name=\"session\"").count(), 1, "a session of its own: {html}");
    assert!(app.cli_json(&["users", "sessions", "alice"], None)["sessions"].as_array().unwrap().is_empty());
    let id = user_named(&app, "newcomer").expect("created")["id"].as_str().unwrap().to_owned();
    assert_eq!(audit_reasons(&app, &id, "user_registered").len(), 1);
    let events = app.cli_json(&["audit", "list", "--user", &id], None);
    let signed_in: Vec<&Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "login_succeeded").collect();
    assert_eq!((signed_in.len(), &signed_in[0]["details"]["registered"]), (1, &Value::Bool(true)));
    assert!(signed_in[0]["client_id"].is_null(), "no app: {}", signed_in[0]);

    // The device page's sign-in offers no sign-up.
    let html = other_browser().get(app.url("/login?return=device&user_code=BCDF-GHJK")).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(html.contains("to connect your device") && !html.contains("/login/register"), "{html}");
    let r = b.get(app.url("/login/register?return=device&user_code=BCDF-GHJK")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
});

both_backends!(with_sign_up_off_the_account_sign_in_offers_none, async |app| {
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("/login/register") && !html.contains("Create an account"), "{html}");
    let r = b.get(app.url("/login/register?return=account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "newcomer")];
    assert_eq!(post(&app, &b, "/login/register", &form).await.status(), StatusCode::NOT_FOUND);
});
