//! Two-step verification (TOTP): enrolment on the account page, the code step of every password sign-in
//! (authorization, account page, device verification page), its limits and audit trail, and the operators'
//! reset. Codes are computed from the secret the set-up page shows, as an authenticator app would.
use crate::account::other_browser;
use crate::device::{add_device_client, authorize_device};
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, hidden, location, pkce_pair, query_of, redeem_code, token_basic, PASSWORD,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use tessera::domain::totp::{code_at_step, time_step, TotpSecret};

pub(crate) async fn post(app: &TestApp, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(app.url(path)).header("Origin", &app.address).form(form).send().await.unwrap()
}

/// Base32 (RFC 4648) without padding, spaces ignored.
pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        buffer = (buffer << 5) | ALPHABET.find(c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The secret a set-up page shows as text.
pub(crate) fn shown_secret(html: &str) -> TotpSecret {
    let start = html.find("<code class=\"secret\" translate=\"no\">").expect("the secret is shown") + 36;
    let text = &html[start..start + html[start..].find('<').unwrap()];
    TotpSecret::from_bytes(&base32_decode(text)).expect("20 bytes")
}

/// Alice's authenticator app: her secret and the step the test started in. Enrolment confirms the code of the
/// step before it, so the test has two codes left, that step's and the next one's, valid for 45 s at least
/// ([`enrol`] starts in the first half of a step).
pub(crate) struct App {
    secret: TotpSecret,
    step: i64,
    /// The recovery codes shown once it was on.
    pub(crate) recovery: Vec<String>,
}

impl App {
    /// The code of the test's step plus `offset`.
    pub(crate) fn code(&self, offset: i64) -> String {
        code_at_step(&self.secret, self.step + offset).unwrap()
    }

    /// A code of none of the steps near the test's.
    pub(crate) fn wrong(&self) -> String {
        let near: Vec<String> = (-2..=2).map(|o| self.code(o)).collect();
        (0..).map(|n| format!("{n:06}")).find(|c| !near.contains(c)).unwrap()
    }
}

/// The account page's CSRF token in browser `b`, signed in.
pub(crate) async fn account_csrf(app: &TestApp, b: &reqwest::Client) -> String {
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    hidden(&html, "csrf")
}

/// Alice turns two-step verification on from the account page in a browser of her own, with the code of the
/// step before the current one (an app whose clock is a little behind), which is used from then on.
pub(crate) async fn enrol(app: &TestApp) -> App {
    if tessera::domain::now() % 30 >= 15 {
        sleep_until_unix((time_step(tessera::domain::now()) + 1) * 30).await;
    }
    let b = other_browser();
    crate::account::sign_in_to_account(app, &b).await;
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Two-step verification") && html.contains("action=\"/account/otp/setup\""), "{html}");
    let csrf = hidden(&html, "csrf");
    let r = post(app, &b, "/account/otp/setup", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("<svg class=\"qr\" role=\"img\""), "{html}");
    assert!(!html.contains("style="), "no inline style for the CSP to refuse");
    assert!(html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\""));
    let mut otp = App { secret: shown_secret(&html), step: time_step(tessera::domain::now()), recovery: Vec::new() };
    assert!(!html.contains("name=\"secret\""), "the secret is kept server-side, not in the form");

    // A wrong code turns nothing on and shows the same secret again.
    let r = post(app, &b, "/account/otp/confirm", &[("csrf", &csrf), ("code", &otp.wrong())]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(shown_secret(&r.text().await.unwrap()), otp.secret);
    // Another site cannot confirm one.
    let r = b
        .post(app.url("/account/otp/confirm"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("code", &otp.code(-1))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = post(app, &b, "/account/otp/confirm", &[("csrf", &csrf), ("code", &otp.code(-1))]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Two-step verification is on"), "{html}");
    otp.recovery = html
        .split("<li><code translate=\"no\">")
        .skip(1)
        .map(|part| part[..part.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(otp.recovery.len(), 10, "{html}");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/account/otp/disable") && !html.contains(&otp.recovery[0]), "shown once: {html}");
    otp
}

pub(crate) fn audit_reasons(app: &TestApp, user_id: &str, kind: &str) -> Vec<String> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    let events = events["events"].as_array().unwrap();
    events.iter().filter(|e| e["kind"] == kind).map(|e| e["details"]["reason"].as_str().unwrap_or("").into()).collect()
}

/// Follows `/authorize` in browser `b` to the login page and posts alice's password: the response.
pub(crate) async fn password_step(app: &TestApp, b: &reqwest::Client, url: &str) -> reqwest::Response {
    let form = password_form(app, b, url).await;
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post(app, b, "/login", &form).await
}

/// Alice's password form for the authorization request `url`, opened in browser `b`.
async fn password_form(app: &TestApp, b: &reqwest::Client, url: &str) -> [(&'static str, String); 4] {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    [
        ("interaction", hidden(&html, "interaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ]
}

/// The code page's form fields.
pub(crate) fn code_form(html: &str) -> (String, String) {
    assert!(html.contains("Enter the 6-digit code from your authenticator app"), "{html}");
    assert!(html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\""));
    (hidden(html, "pending"), hidden(html, "csrf"))
}

pub(crate) async fn send_code(
    app: &TestApp,
    b: &reqwest::Client,
    form: &(String, String),
    code: &str,
) -> reqwest::Response {
    post(app, b, "/login/code", &[("pending", &form.0), ("csrf", &form.1), ("code", code)]).await
}

pub(crate) fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

both_backends!(an_authorization_sign_in_needs_the_code_after_the_password, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let client = add_client(&app, &["--first-party"]);
    let (client_id, secret_of_client) =
        (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let otp = enrol(&app).await;

    let b = other_browser();
    let (challenge, verifier) = pkce_pair();
    let url = auth_url(&app, client_id, &challenge, "");
    let r = password_step(&app, &b, &url).await;
    assert_eq!(r.status(), StatusCode::OK, "the right password is not the end of the sign-in");
    assert!(r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tessera=")));
    let form = code_form(&r.text().await.unwrap());
    // The password step did not sign the browser in.
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account");

    // A wrong code, then the code already used at enrolment (a replay): both refused, the page again.
    for refused in [otp.wrong(), otp.code(-1)] {
        let r = send_code(&app, &b, &form, &refused).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("That code is not right"));
    }
    // Another site cannot post a code, nor can a code be sent without the form's token.
    let r = send_code(&app, &b, &(form.0.clone(), "forged".into()), &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Another browser cannot finish this sign-in.
    let r = send_code(&app, &other_browser(), &form, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let next = otp.code(0);
    let r = send_code(&app, &b, &form, &next).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let q = query_of(&location(&r));
    let (status, tokens) = redeem_code(&app, client_id, secret_of_client, &q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], serde_json::json!(["pwd", "otp"]), "{id_token}");
    // Signed in now.
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);
    // The completed step cannot be used again.
    assert_eq!(send_code(&app, &b, &form, &otp.code(1)).await.status(), StatusCode::BAD_REQUEST);

    // In another browser, the code just used is a replay.
    let b2 = other_browser();
    let (challenge, _) = pkce_pair();
    let r = password_step(&app, &b2, &auth_url(&app, client_id, &challenge, "")).await;
    let form2 = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b2, &form2, &next).await;
    assert_eq!(r.status(), StatusCode::OK);

    assert_eq!(audit_reasons(&app, alice_id, "login_failed"), ["replayed_otp", "replayed_otp", "wrong_otp"]);
    assert_eq!(audit_reasons(&app, alice_id, "otp_enabled").len(), 1);
});

both_backends!(the_account_and_device_sign_ins_ask_for_the_code_too, async |app| {
    add_alice(&app);
    let otp = enrol(&app).await;

    // The account page's sign-in.
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes = code_form(&r.text().await.unwrap());
    // Posting the password again only asks again: it never skips the code.
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    code_form(&r.text().await.unwrap());
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");
    let r = send_code(&app, &b, &codes, &otp.code(0)).await;
    assert_eq!(location(&r), "/account");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("(password, one-time code)"), "the session's methods: {html}");

    // The device verification page's sign-in.
    let device = add_device_client(&app, true);
    let (status, auth) = authorize_device(&app, &device, "openid").await;
    assert_eq!(status, StatusCode::OK);
    let b = other_browser();
    let html = b.get(app.url("/device")).send().await.unwrap().text().await.unwrap();
    let user_code = auth["user_code"].as_str().unwrap();
    let r = post(&app, &b, "/device", &[("csrf", &hidden(&html, "csrf")), ("user_code", user_code)]).await;
    let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    let form = [
        ("return", "device".to_owned()),
        ("user_code", hidden(&html, "user_code")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b, &codes, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::OK, "the code the account sign-in used is a replay here");
    let r = send_code(&app, &b, &codes, &otp.code(1)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(location(&r).starts_with("/device?user_code="), "{}", location(&r));
});

both_backends!(
    wrong_codes_count_toward_the_sign_in_lock,
    |raw| {
        raw.limits.login_user_failures = 3;
    },
    async |app| {
        add_alice(&app);
        let otp = enrol(&app).await;
        let b = other_browser();
        let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
        let form =
            [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
        let codes = code_form(&post(&app, &b, "/login", &form).await.text().await.unwrap());
        for _ in 0..2 {
            assert_eq!(send_code(&app, &b, &codes, &otp.wrong()).await.status(), StatusCode::OK);
        }
        let r = send_code(&app, &b, &codes, &otp.wrong()).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the third failure locks the name");
        assert!(r.headers().contains_key("retry-after"));
        // Locked: even the right code is refused unchecked, and so is the password.
        assert_eq!(send_code(&app, &b, &codes, &otp.code(0)).await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(post(&app, &b, "/login", &form).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

// Regression: a browser's session alone could set up an authenticator app over the one already set up (and get
// new recovery codes) with no code of it, locking its user's app out.
both_backends!(a_session_alone_does_not_replace_the_app_set_up, async |app| {
    let alice = add_alice(&app);
    let b = other_browser();
    crate::account::sign_in_to_account(&app, &b).await;
    let csrf = account_csrf(&app, &b).await;
    let r = post(&app, &b, "/account/otp/setup", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let begun = shown_secret(&r.text().await.unwrap());
    // Meanwhile alice turns it on in another browser.
    let otp = enrol(&app).await;
    let code = code_at_step(&begun, time_step(tessera::domain::now())).unwrap();
    let r = post(&app, &b, "/account/otp/confirm", &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("Two-step verification is on already"));
    let r = post(&app, &b, "/account/otp/setup", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let enabled = audit_reasons(&app, alice["id"].as_str().unwrap(), "otp_enabled");
    assert_eq!(enabled.len(), 1, "{enabled:?}");

    // Her app's codes still sign her in.
    let client = add_client(&app, &["--first-party"]);
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "");
    let signing_in = other_browser();
    let form = code_form(&password_step(&app, &signing_in, &url).await.text().await.unwrap());
    let r = send_code(&app, &signing_in, &form, &otp.code(0)).await;
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
});

both_backends!(turning_it_off_needs_a_current_code, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let otp = enrol(&app).await;
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let codes = code_form(&post(&app, &b, "/login", &form).await.text().await.unwrap());
    assert_eq!(location(&send_code(&app, &b, &codes, &otp.code(0)).await), "/account");

    let csrf = account_csrf(&app, &b).await;
    let r = post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &otp.wrong())]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Its language switcher leads to the account page it links to.
    let html = r.text().await.unwrap();
    assert!(html.contains("<a href=\"/account?lang=fr\" hreflang=\"fr\""), "{html}");
    let r = post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &otp.code(0))]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a used code does not turn it off");
    let r = post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &otp.code(1))]).await;
    assert_eq!(location(&r), "/account?done=otp-off");
    assert_eq!(audit_reasons(&app, alice_id, "otp_disabled").len(), 1);
    // Password alone signs in again.
    let b = other_browser();
    crate::account::sign_in_to_account(&app, &b).await;
});

/// `method path` on the admin API with a fresh `tessera:admin` token: the status and the JSON body, if any.
pub(crate) async fn admin_call(app: &TestApp, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (_, token) =
        token_basic(app, id, secret, &[("grant_type", "client_credentials"), ("scope", "tessera:admin")]).await;
    let r = app.api_client.request(method, app.url(path)).bearer_auth(token["access_token"].as_str().unwrap());
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

both_backends!(operators_turn_it_off_for_a_user_who_lost_their_phone, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    assert_eq!(alice["otp_enabled"], false);
    enrol(&app).await;
    let listed = app.cli_json(&["users", "list"], None);
    assert_eq!(listed["users"][0]["otp_enabled"], true, "{listed}");
    let user_path = format!("/admin/api/users/{alice_id}");
    let (status, user) = admin_call(&app, reqwest::Method::GET, &user_path).await;
    assert_eq!((status, &user["otp_enabled"]), (StatusCode::OK, &Value::Bool(true)), "{user}");
    let (_, users) = admin_call(&app, reqwest::Method::GET, "/admin/api/users").await;
    assert_eq!(users["items"][0]["otp_enabled"], true, "{users}");

    let unknown = format!("/admin/api/users/{}/otp", tessera::domain::UserId::generate());
    assert_eq!(admin_call(&app, reqwest::Method::DELETE, &unknown).await.0, StatusCode::NOT_FOUND);
    let (status, body) = admin_call(&app, reqwest::Method::DELETE, &format!("{user_path}/otp")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(admin_call(&app, reqwest::Method::GET, &user_path).await.1["otp_enabled"], false);
    // The password alone signs in again.
    crate::account::sign_in_to_account(&app, &other_browser()).await;

    enrol(&app).await;
    let reset = app.cli_json(&["users", "reset-otp", "alice"], None);
    assert_eq!(reset["was_enabled"], true, "{reset}");
    assert_eq!(app.cli_json(&["users", "reset-otp", "alice"], None)["was_enabled"], false);
    crate::account::sign_in_to_account(&app, &other_browser()).await;
    assert_eq!(audit_reasons(&app, alice_id, "otp_disabled"), ["cli_reset", "admin_reset"]);
    assert_failure(&app.cli(&["users", "reset-otp", "nobody"], None), &["users", "reset-otp", "nobody"]);
});

both_backends!(a_recovery_code_stands_in_for_a_code_once, async |app| {
    let alice = add_alice(&app);
    let otp = enrol(&app).await;
    let sign_in = async |b: &reqwest::Client| {
        let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
        let form =
            [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
        code_form(&post(&app, b, "/login", &form).await.text().await.unwrap())
    };
    let b = other_browser();
    let codes = sign_in(&b).await;
    // Typed in capitals, as shown: it works.
    let r = send_code(&app, &b, &codes, &otp.recovery[3].to_uppercase()).await;
    assert_eq!(location(&r), "/account");
    // Once.
    let b = other_browser();
    let codes = sign_in(&b).await;
    let r = send_code(&app, &b, &codes, &otp.recovery[3]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("That code is not right"));
    assert_eq!(location(&send_code(&app, &b, &codes, &otp.recovery[4]).await), "/account");
    let events = app.cli_json(&["audit", "list", "--user", alice["id"].as_str().unwrap()], None);
    let used = events["events"].as_array().unwrap().iter().filter(|e| e["details"]["recovery_code"] == true).count();
    assert_eq!(used, 2, "{events}");
});

both_backends!(a_user_disabled_after_the_password_is_not_signed_in_by_the_code, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let otp = enrol(&app).await;
    let b = other_browser();
    let (challenge, _) = pkce_pair();
    let r = password_step(&app, &b, &auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "")).await;
    let form = code_form(&r.text().await.unwrap());

    // Between the two steps an operator disables her: the right code then ends nothing but the sign-in.
    assert_success(&app.cli(&["users", "disable", "alice"], None), &["users", "disable", "alice"]);
    let r = send_code(&app, &b, &form, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("This sign-in has expired"));
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account", "no session");
});

// Regression: the code step of a sign-in outlived a sign-out everywhere and a new password set after its password
// was accepted, so whoever had the old password and a code was still signed in.
both_backends!(a_code_step_ends_with_a_sign_out_everywhere_or_a_new_password, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "");
    let otp = enrol(&app).await;
    // The new password first: it signs nobody out, so the second sign-in is not ended by the first's change.
    // One code for both: a step that cannot end uses none.
    for change in [&["users", "passwd", "alice", "--password-stdin"][..], &["users", "revoke", "alice"]] {
        let b = other_browser();
        let r = password_step(&app, &b, &url).await;
        let form = code_form(&r.text().await.unwrap());
        assert_success(&app.cli(change, Some(PASSWORD)), change);
        let r = send_code(&app, &b, &form, &otp.code(0)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{change:?}");
        assert!(r.text().await.unwrap().contains("This sign-in has expired"));
        let r = b.get(app.url("/account")).send().await.unwrap();
        assert_eq!(location(&r), "/login?return=account", "no session after {change:?}");
    }
});

// Regression: a code was checked, and a recovery code used up, before the step knew that its sign-in could end:
// an authorization completed meanwhile in another tab cost one of the ten recovery codes.
both_backends!(a_recovery_code_is_not_spent_on_a_sign_in_that_cannot_end, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let (challenge, _) = pkce_pair();
    let otp = enrol(&app).await;
    let b = other_browser();
    let password =
        password_form(&app, &b, &auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "")).await;
    let password: Vec<(&str, &str)> = password.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Two tabs of one authorization: one completes it, then the other's recovery code is refused unused.
    let first = code_form(&post(&app, &b, "/login", &password).await.text().await.unwrap());
    let second = code_form(&post(&app, &b, "/login", &password).await.text().await.unwrap());
    let r = send_code(&app, &b, &first, &otp.code(0)).await;
    assert!(location(&r).starts_with(crate::signin::REDIRECT), "completed: {}", location(&r));
    let r = send_code(&app, &b, &second, &otp.recovery[0]).await;
    assert!(r.status().is_client_error(), "{}", r.status());

    let c = other_browser();
    let html = c.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let codes = code_form(&post(&app, &c, "/login", &form).await.text().await.unwrap());
    assert_eq!(location(&send_code(&app, &c, &codes, &otp.recovery[0]).await), "/account", "still unused");
});
