//! Temporary passwords (Keycloak's "Temporary" switch): an operator sets one with `--temporary` or the admin API's
//! `"temporary": true`, and the user's next sign-in shows "Choose a new password" before it signs anyone in: the
//! app gets its code only after the change, through the `openidconnect` relying party; the page's refusals; the
//! account, device and two-step sign-ins; and what sets and clears the flag.
use crate::account::{other_browser, sign_in_to_account};
use crate::device::{add_device_client, authorize_device};
use crate::helpers::*;
use crate::otp::{account_csrf, audit_reasons, claims_of, code_form, enrol, password_step, post, send_code};
use crate::signin::{
    add_alice, add_client, auth_url, discovered_rp, hidden, location, pkce_pair, query_of, redeem_code, signs_in,
    token_basic, PASSWORD, REDIRECT,
};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The password alice chooses.
pub(crate) const CHOSEN: &str = "my very own secret";
const PAGE: &str = "<h1>Choose a new password</h1>";

/// alice, whose password ([`PASSWORD`]) is temporary.
pub(crate) fn add_temporary_alice(app: &TestApp) -> Value {
    let args = ["users", "add", "alice", "--password-stdin", "--email", "alice@example.com", "--temporary"];
    app.cli_json(&args, Some(PASSWORD))
}

/// The fields of the "Choose a new password" page, which `html` must be.
pub(crate) fn new_password_form(html: &str) -> (String, String) {
    assert!(html.contains(PAGE) && html.contains("action=\"/login/new-password\""), "{html}");
    assert!(html.contains("autocomplete=\"new-password\""), "{html}");
    (hidden(html, "pending"), hidden(html, "csrf"))
}

/// Posts `new` and `again` to the page whose fields are `form`, from browser `b`.
pub(crate) async fn send_new(
    app: &TestApp,
    b: &reqwest::Client,
    form: &(String, String),
    new: &str,
    again: &str,
) -> reqwest::Response {
    let fields = [("pending", form.0.as_str()), ("csrf", &form.1), ("password", new), ("password_again", again)];
    post(app, b, "/login/new-password", &fields).await
}

/// Whether `username`'s password is temporary, as `tessera users show` says.
fn flagged(app: &TestApp, username: &str) -> bool {
    app.cli_json(&["users", "show", username], None)["password_change_required"].as_bool().unwrap()
}

fn sets_a_session(r: &reqwest::Response) -> bool {
    r.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("tessera="))
}

/// The newest audit event of `kind` of user `id`.
fn last_event(app: &TestApp, id: &str, kind: &str) -> Value {
    let events = app.cli_json(&["audit", "list", "--user", id], None);
    events["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind).cloned().unwrap_or(Value::Null)
}

both_backends!(the_app_gets_its_code_only_once_a_temporary_password_is_replaced, async |app| {
    let alice = add_temporary_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    assert_eq!(alice["password_change_required"], true, "{alice}");
    let client = add_client(&app, &["--first-party"]);
    let rp = discovered_rp(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();

    let b = other_browser();
    let r = password_step(&app, &b, url.as_str()).await;
    assert_eq!(r.status(), StatusCode::OK, "the right password is not the end of the sign-in");
    assert!(!sets_a_session(&r));
    let form = new_password_form(&r.text().await.unwrap());
    // Not signed in: the app asking again without a page is told so, and the account page asks for a sign-in.
    let r = b.get(format!("{url}&prompt=none")).send().await.unwrap();
    let back = location(&r);
    assert!(back.starts_with(REDIRECT) && query_of(&back)["error"] == "login_required", "{back}");
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");

    // Refused for what the form says: the page again, the step kept.
    let long = "x".repeat(1025);
    for (new, again, why) in [
        (CHOSEN, "my very own secreT", "The two new passwords are not the same."),
        ("short", "short", "The new password is too short: use at least 8 characters."),
        (long.as_str(), long.as_str(), "The new password is too long: at most 1024 bytes"),
        (PASSWORD, PASSWORD, "The new password is your current one. Choose another."),
    ] {
        let r = send_new(&app, &b, &form, new, again).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(!sets_a_session(&r));
        let html = r.text().await.unwrap();
        assert!(html.contains(why) && html.contains("aria-invalid=\"true\""), "{why}: {html}");
        assert_eq!(new_password_form(&html), form);
    }
    // Not from another site, not without the page's token, not in another browser.
    let fields = [("pending", form.0.as_str()), ("csrf", &form.1), ("password", CHOSEN), ("password_again", CHOSEN)];
    let r = b.post(app.url("/login/new-password")).header("Origin", "https://evil.example").form(&fields);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let forged = (form.0.clone(), "forged".to_owned());
    assert_eq!(send_new(&app, &b, &forged, CHOSEN, CHOSEN).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(send_new(&app, &other_browser(), &form, CHOSEN, CHOSEN).await.status(), StatusCode::BAD_REQUEST);
    assert!(flagged(&app, "alice"), "nothing changed yet");
    assert!(audit_reasons(&app, alice_id, "password_changed").is_empty());
    assert!(last_event(&app, alice_id, "login_succeeded").is_null());

    // The new password: then, and only then, the session and the code.
    let r = send_new(&app, &b, &form, CHOSEN, CHOSEN).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(sets_a_session(&r));
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q.get("state"), Some(state.secret()));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http_client())
        .await
        .expect("token exchange");
    let claims = tokens.id_token().expect("an ID token").claims(&rp.id_token_verifier(), &nonce).expect("valid");
    assert_eq!(claims.subject().as_str(), alice_id);
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK, "signed in now");

    assert!(!flagged(&app, "alice"), "the flag is cleared");
    assert_eq!(audit_reasons(&app, alice_id, "password_changed"), ["required"]);
    let signed_in = last_event(&app, alice_id, "login_succeeded");
    assert_eq!(signed_in["details"]["password_changed"], true, "{signed_in}");
    let trail = app.cli_json(&["audit", "list", "--user", alice_id], None).to_string();
    assert!(!trail.contains(CHOSEN) && !trail.contains(PASSWORD), "{trail}");
    // The step is taken once.
    assert_eq!(send_new(&app, &b, &form, "yet another one", "yet another one").await.status(), StatusCode::BAD_REQUEST);
    // The temporary password is gone; the chosen one signs in with no page.
    let public = add_client(&app, &["--public"]);
    let public_id = public["client_id"].as_str().unwrap();
    assert!(!signs_in(&app, public_id, "alice", PASSWORD).await);
    assert!(signs_in(&app, public_id, "alice", CHOSEN).await);
});

both_backends!(the_account_and_device_sign_ins_ask_for_it_too, async |app| {
    add_temporary_alice(&app);
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fields = new_password_form(&r.text().await.unwrap());
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");
    // An operator sets another password meanwhile: the page, made for the one before, changes nothing.
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some("another temporary one"));
    assert_eq!(send_new(&app, &b, &fields, CHOSEN, CHOSEN).await.status(), StatusCode::BAD_REQUEST);
    assert!(flagged(&app, "alice"));
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [
        ("return", "account"),
        ("csrf", &hidden(&html, "csrf")),
        ("username", "alice"),
        ("password", "another temporary one"),
    ];
    let fields = new_password_form(&post(&app, &b, "/login", &form).await.text().await.unwrap());
    assert_eq!(location(&send_new(&app, &b, &fields, CHOSEN, CHOSEN).await), "/account");
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);

    // Temporary again: the device verification page's sign-in.
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(PASSWORD));
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
    let fields = new_password_form(&r.text().await.unwrap());
    let r = send_new(&app, &b, &fields, "the device's own secret", "the device's own secret").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(location(&r).starts_with("/device?user_code="), "{}", location(&r));
    assert!(!flagged(&app, "alice"));
});

both_backends!(with_two_step_verification_the_code_comes_first, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let (client_id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let otp = enrol(&app).await;
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(PASSWORD));

    let b = other_browser();
    let (challenge, verifier) = pkce_pair();
    let r = password_step(&app, &b, &auth_url(&app, client_id, &challenge, "")).await;
    let codes = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b, &codes, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::OK, "a right code is not the end of the sign-in either");
    assert!(!sets_a_session(&r));
    let fields = new_password_form(&r.text().await.unwrap());
    let r = send_new(&app, &b, &fields, CHOSEN, CHOSEN).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let (status, tokens) = redeem_code(&app, client_id, secret, &query_of(&location(&r))["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(claims_of(tokens["id_token"].as_str().unwrap())["amr"], json!(["pwd", "otp"]));
    let signed_in = last_event(&app, alice["id"].as_str().unwrap(), "login_succeeded");
    assert_eq!(signed_in["details"]["amr"], json!(["pwd", "otp"]), "{signed_in}");
    assert_eq!(signed_in["details"]["password_changed"], true, "{signed_in}");
});

// The flag goes with the password an operator sets: `--temporary` sets it, a password without clears it. Setting
// one ends no session (as `users passwd` never did), and the user's own change on the account page clears it.
both_backends!(operators_set_it_with_a_password_and_an_ordinary_one_clears_it, async |app| {
    let alice = add_temporary_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let shown = app.cli_json(&["users", "show", "alice"], None);
    assert_eq!((&shown["id"], &shown["password_change_required"]), (&alice["id"], &json!(true)), "{shown}");
    let text = String::from_utf8(app.cli(&["users", "show", "alice"], None).stdout).unwrap();
    assert!(text.contains("temporary password  yes"), "{text}");
    let text = String::from_utf8(app.cli(&["users", "list"], None).stdout).unwrap();
    assert!(text.contains("(temporary password)"), "{text}");
    assert_eq!(app.cli_json(&["users", "list"], None)["users"][0]["password_change_required"], true);
    assert_eq!(last_event(&app, alice_id, "user_created")["details"]["temporary"], true);

    let changed = app.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some(PASSWORD));
    assert_eq!(changed["password_change_required"], false, "{changed}");
    assert!(!flagged(&app, "alice"));
    assert_eq!(last_event(&app, alice_id, "user_password_changed")["details"]["temporary"], false);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;

    let changed = app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(PASSWORD));
    assert_eq!(changed["password_change_required"], true, "{changed}");
    assert_eq!(last_event(&app, alice_id, "user_password_changed")["details"]["temporary"], true);
    let text = String::from_utf8(
        app.cli(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(PASSWORD)).stdout,
    )
    .unwrap();
    assert!(text.contains("the password is temporary"), "{text}");
    // The session open before lives on, and changes the password on the account page, which clears the flag.
    let csrf = account_csrf(&app, &b).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("current_password", PASSWORD),
        ("new_password", CHOSEN),
        ("new_password_again", CHOSEN),
    ];
    let r = post(&app, &b, "/account/password", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(!flagged(&app, "alice"));
    assert_eq!(audit_reasons(&app, alice_id, "password_changed"), [""], "the account page's change");
});

/// `method path` with a JSON `body` on the admin API: the status and the JSON answer.
async fn admin(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app.api_client.request(method, app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

both_backends!(the_admin_api_sets_it_with_a_password, async |app| {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (_, token) =
        token_basic(&app, id, secret, &[("grant_type", "client_credentials"), ("scope", "tessera:admin")]).await;
    let token = token["access_token"].as_str().unwrap();

    let body = json!({ "username": "alice", "password": PASSWORD, "temporary": true });
    let (status, alice) = admin(&app, token, Method::POST, "/admin/api/users", body).await;
    assert_eq!(status, StatusCode::CREATED, "{alice}");
    assert_eq!(alice["password_change_required"], true, "{alice}");
    let alice_id = alice["id"].as_str().unwrap();
    assert_eq!(last_event(&app, alice_id, "admin_user_created")["details"]["temporary"], true);
    let body = json!({ "username": "bob", "password": PASSWORD });
    let (_, bob) = admin(&app, token, Method::POST, "/admin/api/users", body).await;
    assert_eq!(bob["password_change_required"], false, "not unless asked: {bob}");

    // It asks at the next sign-in.
    let client = add_client(&app, &["--public"]);
    let (challenge, _) = pkce_pair();
    let r =
        password_step(&app, &other_browser(), &auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, ""))
            .await;
    new_password_form(&r.text().await.unwrap());

    let path = format!("/admin/api/users/{alice_id}");
    let (status, body) = admin(&app, token, Method::PATCH, &path, json!({ "temporary": false })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only with a password: {body}");
    let (_, changed) = admin(&app, token, Method::PATCH, &path, json!({ "name": "Alice" })).await;
    assert_eq!(changed["password_change_required"], true, "another change leaves it: {changed}");
    let (_, changed) = admin(&app, token, Method::PATCH, &path, json!({ "password": CHOSEN })).await;
    assert_eq!(changed["password_change_required"], false, "a password without it clears it: {changed}");
    assert_eq!(last_event(&app, alice_id, "admin_user_updated")["details"]["temporary"], false);
    let (_, changed) =
        admin(&app, token, Method::PATCH, &path, json!({ "password": PASSWORD, "temporary": true })).await;
    assert_eq!(changed["password_change_required"], true, "{changed}");
    assert_eq!(last_event(&app, alice_id, "admin_user_updated")["details"]["temporary"], true);
    let r = app.api_client.get(app.url(&path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["password_change_required"], true);
});
