//! The device authorization grant (RFC 8628): the device's requests (`/device_authorization`, polling `/token`),
//! the verification page a user approves it on (`/device`, driven here with plain HTTP as a browser would), and
//! what ends the grant.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, hidden, introspect_basic, location, PASSWORD};
use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    ClientId, ClientSecret, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A device client added with the CLI: public (`--public`) or confidential, with refresh tokens.
pub(crate) fn add_device_client(app: &TestApp, public: bool) -> Value {
    let mut args = vec![
        "clients",
        "add",
        "--name",
        "Living room TV",
        "--grant-type",
        DEVICE_GRANT,
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile email offline_access",
    ];
    if public {
        args.push("--public");
    }
    app.cli_json(&args, None)
}

fn id_of(client: &Value) -> String {
    client["client_id"].as_str().unwrap().to_owned()
}

/// POSTs `form` to `path` as `client` (Basic when it has a secret, else `client_id` in the form).
async fn post_as(app: &TestApp, path: &str, client: &Value, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let id = id_of(client);
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut req = app.api_client.post(app.url(path));
    match client["client_secret"].as_str() {
        Some(secret) => req = req.basic_auth(&id, Some(secret)),
        None => form.push(("client_id", &id)),
    }
    let r = req.form(&form).send().await.unwrap();
    let status = r.status();
    assert_eq!(r.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    (status, r.json().await.unwrap())
}

/// A device authorization for `scope`.
pub(crate) async fn authorize_device(app: &TestApp, client: &Value, scope: &str) -> (StatusCode, Value) {
    post_as(app, "/device_authorization", client, &[("scope", scope)]).await
}

/// One poll of the token endpoint with `device_code`.
pub(crate) async fn poll(app: &TestApp, client: &Value, device_code: &str) -> (StatusCode, Value) {
    post_as(app, "/token", client, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await
}

fn error_of(reply: &(StatusCode, Value)) -> (StatusCode, &str) {
    (reply.0, reply.1["error"].as_str().unwrap_or("<none>"))
}

/// A browser of its own: cookies kept, no redirects followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

async fn post_page(app: &TestApp, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(app.url(path)).header("Origin", &app.address).form(form).send().await.unwrap()
}

/// Enters `typed` on the verification page in browser `b`, signed out: found, it sends the browser to sign in,
/// and back to the approval page once alice has. Returns that page.
async fn enter_and_sign_in(app: &TestApp, b: &reqwest::Client, typed: &str) -> String {
    let html = b.get(app.url("/device")).send().await.unwrap().text().await.unwrap();
    let r = post_page(app, b, "/device", &[("csrf", &hidden(&html, "csrf")), ("user_code", typed)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let login = location(&r);
    assert!(login.starts_with("/login?return=device&user_code="), "{login}");
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("to connect your device"), "{html}");
    let form = [
        ("return", "device".to_owned()),
        ("user_code", hidden(&html, "user_code")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_page(app, b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let back = location(&r);
    assert!(back.starts_with("/device?user_code="), "{back}");
    let r = b.get(app.url(&back)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    r.text().await.unwrap()
}

/// Answers the approval page `html` with `decision` (`allow` or `deny`); the page that follows.
async fn answer(app: &TestApp, b: &reqwest::Client, html: &str, decision: &str) -> String {
    let form = [("user_code", hidden(html, "user_code")), ("csrf", hidden(html, "csrf"))];
    let form = [("user_code", form[0].1.as_str()), ("csrf", form[1].1.as_str()), ("decision", decision)];
    let r = post_page(app, b, "/device", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// Approves `user_code` as alice in a new browser.
pub(crate) async fn approve(app: &TestApp, user_code: &str) -> reqwest::Client {
    let b = browser();
    let html = enter_and_sign_in(app, &b, user_code).await;
    let done = answer(app, &b, &html, "allow").await;
    assert!(done.contains("You may return to your device"), "{done}");
    b
}

both_backends!(
    a_relying_party_gets_tokens_through_the_device_flow,
    |raw| {
        raw.device.interval_seconds = 1;
    },
    async |app| {
        let alice = add_alice(&app);
        let client = add_device_client(&app, false);
        let http = oidc_http_client();
        let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
        let endpoint = doc["device_authorization_endpoint"].as_str().expect("advertised").to_owned();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
        let secret = client["client_secret"].as_str().unwrap().to_owned();
        let rp = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(id_of(&client)),
            Some(ClientSecret::new(secret)),
        )
        .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint).unwrap());
        let details: CoreDeviceAuthorizationResponse = rp
            .exchange_device_code()
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(&http)
            .await
            .expect("device authorization");
        assert_eq!(details.verification_uri().as_str(), app.url("/device"));
        let shown = details.user_code().secret().clone();
        assert!(shown.len() == 9 && shown.as_bytes()[4] == b'-', "{shown}");
        let complete = details.verification_uri_complete().expect("verification_uri_complete").secret().clone();
        assert_eq!(complete, app.url(&format!("/device?user_code={}", shown.replace('-', ""))));
        assert_eq!((details.expires_in(), details.interval()), (Duration::from_secs(600), Duration::from_secs(1)));

        // The device polls while the user approves in a browser.
        let polling = {
            let rp = rp.clone();
            let details = details.clone();
            tokio::spawn(async move {
                let http = oidc_http_client();
                rp.exchange_device_access_token(&details)
                    .unwrap()
                    .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(60)))
                    .await
            })
        };
        // The link from verification_uri_complete fills the code in; typed in lower case it is the same code.
        let b = browser();
        let html = b.get(&complete).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(&format!("value=\"{shown}\"")), "{html}");
        let html = enter_and_sign_in(&app, &b, &shown.to_lowercase()).await;
        assert!(html.contains("<bdi>Living room TV</bdi>") && html.contains(&shown), "{html}");
        assert!(html.contains("Only continue if you started this on a device of your own"), "{html}");
        let done = answer(&app, &b, &html, "allow").await;
        assert!(done.contains("You may return to your device"), "{done}");

        let tokens = polling.await.unwrap().expect("tokens after the approval");
        let id_token = tokens.id_token().expect("an ID token for openid");
        let claims = id_token.claims(&rp.id_token_verifier(), |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("a nonce in a device grant's ID token".to_owned()),
        });
        let claims = claims.expect("a valid ID token");
        assert_eq!(claims.subject().as_str(), alice["id"].as_str().unwrap());
        assert!(claims.auth_time().is_some());
        let refresh = tokens.refresh_token().expect("a refresh token: the client may refresh").secret().clone();
        let at = tokens.access_token().secret().clone();
        let (_, at_claims) = decode_unverified(&at);
        assert!(at_claims.get("sid").is_none(), "not bound to the browser session: {at_claims}");
        assert_eq!(at_claims["client_id"], id_of(&client));

        let info: CoreUserInfoClaims = rp
            .user_info(tokens.access_token().to_owned(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .expect("userinfo");
        assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

        // Consent is remembered as for the code flow, and audited.
        let audit = app.cli_json(&["audit", "list", "--client", &id_of(&client)], None);
        assert!(audit.to_string().contains("consent_granted"), "{audit}");

        // The refresh token rotates as usual.
        let (status, body) =
            post_as(&app, "/token", &client, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

/// The claims of a JWT, unverified.
fn decode_unverified(jwt: &str) -> (Value, Value) {
    use base64::Engine;
    let part = |i: usize| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(0), part(1))
}

both_backends!(a_public_device_waits_is_slowed_down_and_is_denied, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let (status, auth) = authorize_device(&app, &client, "openid profile").await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    assert_eq!((auth["expires_in"].as_i64(), auth["interval"].as_i64()), (Some(600), Some(5)));
    let device_code = auth["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "high entropy: {device_code}");

    assert_eq!(error_of(&poll(&app, &client, device_code).await), (StatusCode::BAD_REQUEST, "authorization_pending"));
    // At once again: sooner than the interval.
    let slowed = poll(&app, &client, device_code).await;
    assert_eq!(error_of(&slowed), (StatusCode::BAD_REQUEST, "slow_down"));
    assert!(slowed.1["error_description"].as_str().unwrap().contains("10 seconds"), "{}", slowed.1);
    assert_eq!(error_of(&poll(&app, &client, device_code).await).1, "slow_down", "the interval grew to 15 s");

    let b = browser();
    let html = enter_and_sign_in(&app, &b, auth["user_code"].as_str().unwrap()).await;
    let done = answer(&app, &b, &html, "deny").await;
    assert!(done.contains("Access denied"), "{done}");
    assert_eq!(error_of(&poll(&app, &client, device_code).await), (StatusCode::BAD_REQUEST, "access_denied"));
    // The code is answered: entered again, it finds nothing.
    let html = b.get(app.url(&format!("/device?user_code={}", auth["user_code"].as_str().unwrap()))).send().await;
    let html = html.unwrap().text().await.unwrap();
    assert!(html.contains("That code is not valid"), "{html}");
    let audit = app.cli_json(&["audit", "list", "--client", &id_of(&client)], None);
    assert!(audit.to_string().contains("consent_denied"), "{audit}");
});

both_backends!(an_approved_code_is_exchanged_once_and_only_by_its_client, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, false);
    let other = add_device_client(&app, true);
    let (_, auth) = authorize_device(&app, &client, "openid").await;
    let device_code = auth["device_code"].as_str().unwrap();
    approve(&app, auth["user_code"].as_str().unwrap()).await;

    let stolen = poll(&app, &other, device_code).await;
    assert_eq!(error_of(&stolen), (StatusCode::BAD_REQUEST, "invalid_grant"), "{}", stolen.1);
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(tokens["scope"], "openid");
    let again = poll(&app, &client, device_code).await;
    assert_eq!(error_of(&again), (StatusCode::BAD_REQUEST, "invalid_grant"), "{}", again.1);
    assert_eq!(error_of(&poll(&app, &client, "not-a-device-code").await).1, "invalid_grant");
});

// Regression: a device code's refresh token family was derived as an authorization code's, so a device code
// sent to the code grant was taken for a replayed code and revoked the device's tokens.
both_backends!(a_device_code_sent_as_an_authorization_code_is_only_unknown, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, false);
    let (_, auth) = authorize_device(&app, &client, "openid offline_access").await;
    let device_code = s(&auth, "device_code");
    approve(&app, s(&auth, "user_code")).await;
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Sent by an app of the code flow, which needs no more than the device code to try.
    let app_client = add_client(&app, &[]);
    let verifier = "v".repeat(43);
    let form = [("grant_type", "authorization_code"), ("code", device_code), ("code_verifier", &verifier)];
    let (status, refused) = post_as(&app, "/token", &app_client, &form).await;
    let unknown = Some("invalid or expired authorization code");
    assert_eq!((status, refused["error_description"].as_str()), (StatusCode::BAD_REQUEST, unknown), "{refused}");
    let (id, secret) = (id_of(&client), s(&client, "client_secret"));
    let active = introspect_basic(&app, &id, secret, s(&tokens, "access_token")).await;
    assert_eq!(active["active"], true, "{active}");
    let form = [("grant_type", "refresh_token"), ("refresh_token", s(&tokens, "refresh_token"))];
    let (status, refreshed) = post_as(&app, "/token", &client, &form).await;
    assert_eq!(status, StatusCode::OK, "the device's grant lives on: {refreshed}");
});

both_backends!(
    a_code_expires,
    |raw| {
        raw.device.code_ttl_seconds = 10;
        raw.device.interval_seconds = 1;
    },
    async |app| {
        add_alice(&app);
        let client = add_device_client(&app, true);
        let (_, auth) = authorize_device(&app, &client, "openid").await;
        assert_eq!(auth["expires_in"], 10);
        let device_code = auth["device_code"].as_str().unwrap();
        let b = browser();
        let html = enter_and_sign_in(&app, &b, auth["user_code"].as_str().unwrap()).await;
        sleep_until_unix(tessera::domain::now() + 11).await;
        assert_eq!(error_of(&poll(&app, &client, device_code).await), (StatusCode::BAD_REQUEST, "expired_token"));
        // Approving the page left open is too late.
        let page = answer(&app, &b, &html, "allow").await;
        assert!(page.contains("That code is not valid"), "{page}");
        assert_eq!(error_of(&poll(&app, &client, device_code).await).1, "expired_token");
    }
);

both_backends!(requests_are_checked_as_at_the_token_and_authorization_endpoints, async |app| {
    let device = add_device_client(&app, false);
    let code_only = add_client(&app, &[]);
    let (status, body) = authorize_device(&app, &code_only, "openid").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");
    let (status, body) = authorize_device(&app, &device, "openid tessera:admin").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")), "{body}");
    let (status, body) = authorize_device(&app, &device, "openid calendar").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")), "{body}");
    let wrong = json!({ "client_id": device["client_id"], "client_secret": "wrong secret" });
    let (status, body) = authorize_device(&app, &wrong, "openid").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    // A confidential client must authenticate: its client_id alone is not enough.
    let bare = app
        .api_client
        .post(app.url("/device_authorization"))
        .form(&[("client_id", id_of(&device).as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    // The token endpoint refuses the grant to a client not registered for it.
    let (status, body) =
        post_as(&app, "/token", &code_only, &[("grant_type", DEVICE_GRANT), ("device_code", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");
    let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(doc["device_authorization_endpoint"], app.url("/device_authorization"));
    assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!(DEVICE_GRANT)), "{doc}");
});

both_backends!(
    wrong_codes_are_refused_and_guessing_is_limited,
    |raw| {
        raw.limits.login_ip_failures = 3;
    },
    async |app| {
        let b = browser();
        let html = b.get(app.url("/device")).send().await.unwrap().text().await.unwrap();
        assert!(
            html.contains("autocomplete=\"off\"")
                && html.contains("autofocus")
                && html.contains("<label for=\"user_code\">")
        );
        let csrf = hidden(&html, "csrf");
        let r = post_page(&app, &b, "/device", &[("csrf", &csrf), ("user_code", "ABCD-1234")]).await;
        let html = r.text().await.unwrap();
        assert!(html.contains("codes are 8 letters") && html.contains("aria-invalid=\"true\""), "{html}");
        for i in 0..2 {
            let r = post_page(&app, &b, "/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")]).await;
            assert_eq!(r.status(), StatusCode::OK, "{i}");
            assert!(r.text().await.unwrap().contains("That code is not valid"), "{i}");
        }
        let r = post_page(&app, &b, "/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJL")]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().get("retry-after").is_some());
        // Locked: even a real code is not looked up now.
        add_alice(&app);
        let client = add_device_client(&app, true);
        let (_, auth) = authorize_device(&app, &client, "openid").await;
        let r = post_page(&app, &b, "/device", &[("csrf", &csrf), ("user_code", auth["user_code"].as_str().unwrap())])
            .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

// Regression: the approval form's answer looked its code up outside the code entry's limit, so a signed-in browser
// could guess codes there without end (answering "deny" to other people's devices), even once locked out.
both_backends!(
    an_answer_with_a_guessed_code_counts_as_a_guess,
    |raw| {
        raw.limits.login_ip_failures = 3;
    },
    async |app| {
        add_alice(&app);
        let client = add_device_client(&app, true);
        let (_, mine) = authorize_device(&app, &client, "openid").await;
        let b = browser();
        let html = enter_and_sign_in(&app, &b, mine["user_code"].as_str().unwrap()).await;
        let csrf = hidden(&html, "csrf");
        let guess = |code: String| {
            let form = [("csrf", csrf.clone()), ("user_code", code), ("decision", "deny".to_owned())];
            let r = b.post(app.url("/device")).header("Origin", &app.address).form(&form).send();
            async move { r.await.unwrap().status() }
        };
        let statuses = [guess("BCDF-GHJK".into()).await, guess("BCDF-GHJL".into()).await];
        assert_eq!(statuses, [StatusCode::OK, StatusCode::OK]);
        assert_eq!(guess("BCDF-GHJM".into()).await, StatusCode::TOO_MANY_REQUESTS);
        // Locked out: another's real code is not looked up, and their device still waits.
        let (_, theirs) = authorize_device(&app, &client, "openid").await;
        assert_eq!(guess(s(&theirs, "user_code").to_owned()).await, StatusCode::TOO_MANY_REQUESTS);
        let (_, pending) = poll(&app, &client, s(&theirs, "device_code")).await;
        assert_eq!(pending["error"], "authorization_pending", "{pending}");
    }
);

// Regression: an approval whose consent could not be stored showed the error page, yet the device got tokens.
both_backends!(an_approval_that_fails_connects_no_device, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let (_, auth) = authorize_device(&app, &client, "openid").await;
    let b = browser();
    let html = enter_and_sign_in(&app, &b, s(&auth, "user_code")).await;
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    crate::account::execute(&store, "DROP TABLE consents".into()).await;
    let form = [("user_code", hidden(&html, "user_code")), ("csrf", hidden(&html, "csrf"))];
    let form = [("user_code", form[0].1.as_str()), ("csrf", form[1].1.as_str()), ("decision", "allow")];
    let r = post_page(&app, &b, "/device", &form).await;
    assert!(r.status().is_server_error(), "{}", r.status());
    let (status, polled) = poll(&app, &client, s(&auth, "device_code")).await;
    assert_eq!((status, polled["error"].as_str()), (StatusCode::BAD_REQUEST, Some("access_denied")), "{polled}");
});

both_backends!(the_forms_need_their_csrf_tokens_and_our_origin, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let (_, auth) = authorize_device(&app, &client, "openid").await;
    let user_code = auth["user_code"].as_str().unwrap();
    let b = browser();
    b.get(app.url("/device")).send().await.unwrap();
    let r = post_page(&app, &b, "/device", &[("user_code", user_code)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let html = enter_and_sign_in(&app, &b, user_code).await;
    let code = hidden(&html, "user_code");
    let r = post_page(&app, &b, "/device", &[("user_code", &code), ("decision", "allow")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF token on the answer");
    let r = post_page(&app, &b, "/device", &[("user_code", &code), ("decision", "allow"), ("csrf", "forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a forged CSRF token");
    let form = [("user_code", code.as_str()), ("decision", "allow"), ("csrf", &hidden(&html, "csrf"))];
    let r = b.post(app.url("/device")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "from another origin");
    assert_eq!(error_of(&poll(&app, &client, auth["device_code"].as_str().unwrap()).await).1, "authorization_pending");
    // The real answer still goes through.
    assert!(answer(&app, &b, &html, "allow").await.contains("You may return to your device"));
});

both_backends!(signing_out_of_the_browser_leaves_the_device_but_withdrawing_the_app_ends_it, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, false);
    let (id, secret) = (id_of(&client), client["client_secret"].as_str().unwrap().to_owned());
    let (_, auth) = authorize_device(&app, &client, "openid offline_access").await;
    let b = approve(&app, auth["user_code"].as_str().unwrap()).await;
    let (status, tokens) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();

    // Signing out of the browser the code was approved in leaves the device signed in.
    let html = b.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let r = b.post(app.url("/logout")).form(&[("csrf", hidden(&html, "csrf")), ("decision", "logout".into())]);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(introspect_basic(&app, &id, &secret, at).await["active"], true);
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, rotated) =
        post_as(&app, "/token", &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");

    // Withdrawing the app on the account page ends it.
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    assert_eq!(post_page(&app, &b, "/login", &form).await.status(), StatusCode::SEE_OTHER);
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<bdi>Living room TV</bdi>"), "{html}");
    let r = post_page(&app, &b, "/account/apps/revoke", &[("csrf", &hidden(&html, "csrf")), ("client_id", &id)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let rt = rotated["refresh_token"].as_str().unwrap();
    let (status, body) =
        post_as(&app, "/token", &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    let at = rotated["access_token"].as_str().unwrap();
    assert_eq!(introspect_basic(&app, &id, &secret, at).await["active"], false);
});

both_backends!(an_approval_is_refused_once_the_user_signed_out_everywhere, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let (_, auth) = authorize_device(&app, &client, "openid").await;
    approve(&app, auth["user_code"].as_str().unwrap()).await;
    next_second().await;
    let out = app.cli(&["users", "revoke", "alice"], None);
    assert_success(&out, &["users", "revoke", "alice"]);
    let refused = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&refused), (StatusCode::BAD_REQUEST, "invalid_grant"), "{}", refused.1);
});

both_backends!(
    device_clients_register_through_the_cli_and_rfc_7591,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let cli = add_device_client(&app, true);
        let shown = app.cli_json(&["clients", "show", &id_of(&cli)], None);
        assert_eq!(shown["grant_types"], json!(["refresh_token", DEVICE_GRANT]), "{shown}");
        assert_eq!(shown["redirect_uris"], json!([]), "{shown}");
        let body = json!({
            "client_name": "Kitchen radio",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "token_endpoint_auth_method": "none",
            "response_types": [],
        });
        let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let registered: Value = r.json().await.unwrap();
        assert_eq!(registered["grant_types"], json!(["refresh_token", DEVICE_GRANT]), "{registered}");
        assert!(registered.get("client_secret").is_none());
        let (status, auth) = authorize_device(&app, &registered, "openid").await;
        assert_eq!(status, StatusCode::OK, "{auth}");
        // refresh_token alone still needs a grant that gives a first one.
        let r =
            app.api_client.post(app.url("/register")).json(&json!({ "grant_types": ["refresh_token"] })).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::BAD_REQUEST);
    }
);

both_backends!(an_approval_remembers_consent_and_the_page_asks_again_all_the_same, async |app| {
    add_alice(&app);
    let grant = ["clients", "add", "--name", "Kitchen radio", "--grant-type", DEVICE_GRANT, "--public"];
    let client = app.cli_json(&grant, None);
    let (_, first) = authorize_device(&app, &client, "openid profile").await;
    let b = approve(&app, first["user_code"].as_str().unwrap()).await;
    // No refresh token was issued (nor asked for yet): the app is connected by the consent alone.
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<bdi>Kitchen radio</bdi>"), "{html}");

    // The next code of the same app, entered signed in, is asked about again.
    let (_, second) = authorize_device(&app, &client, "openid profile").await;
    let html = b.get(app.url("/device")).send().await.unwrap().text().await.unwrap();
    let code = second["user_code"].as_str().unwrap();
    let r = post_page(&app, &b, "/device", &[("csrf", &hidden(&html, "csrf")), ("user_code", code)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"decision\" value=\"allow\"") && html.contains(code), "{html}");
    assert_eq!(
        error_of(&poll(&app, &client, second["device_code"].as_str().unwrap()).await).1,
        "authorization_pending"
    );
});

// Anyone may ask for a device code with a public client: the in-process cache holds the requests within the
// budget of pending sign-ins, and refuses new ones past it (as Redis's `maxmemory` would), so both backends run on
// the in-process cache here.
both_backends!(
    device_requests_past_the_memory_budget_are_refused,
    |raw| {
        raw.redis.url = None;
        raw.limits.pending_sign_ins_memory_kib = 1;
    },
    async |app| {
        let client = add_device_client(&app, true);
        let mut refused = None;
        for i in 0..20 {
            let reply = authorize_device(&app, &client, "openid").await;
            if reply.0 != StatusCode::OK {
                refused = Some((i, reply));
                break;
            }
        }
        let (i, reply) = refused.expect("1 KiB holds fewer than 20 requests");
        assert!(i > 0, "the first request fits");
        assert_eq!(error_of(&reply), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"), "{}", reply.1);
    }
);

// Regression: the cut-off of a withdrawal was kept as long as codes and access tokens live, and a device code may
// live longer: once the purge had deleted it, a device approved before the withdrawal still got its tokens.
both_backends!(
    a_withdrawal_outlives_the_devices_approved_before_it,
    |raw| {
        raw.device.code_ttl_seconds = 1800;
    },
    async |app| {
        add_alice(&app);
        let client = add_device_client(&app, false);
        let (_, auth) = authorize_device(&app, &client, "openid offline_access").await;
        let b = approve(&app, auth["user_code"].as_str().unwrap()).await;
        let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
        let form = [("csrf", hidden(&html, "csrf")), ("client_id", id_of(&client))];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(post_page(&app, &b, "/account/apps/revoke", &form).await.status(), StatusCode::SEE_OTHER);
        // The purge of the hour after the access tokens' end, within the device code's life.
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        tessera::storage::RevocationStore::purge_expired_revocations(&store, tessera::domain::now() + 1200)
            .await
            .unwrap();
        let (status, body) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    }
);
