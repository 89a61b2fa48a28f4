//! Passkeys over HTTP, with a software authenticator ([`authenticator`]) playing the browser's part: added on the
//! account page, used to sign in to an app (the `openidconnect` relying party checks `amr`), not asked for a TOTP
//! code under `otp.required`, refused once removed, for a disabled user, for a cloned authenticator, from another
//! browser and twice; failures count on the IP's sign-in limit; stepping a password session up ([`step_up`]);
//! operators' listing and removal ([`admin`]); refusals and the last way in ([`refusals`]). The servers are named
//! `localhost`: WebAuthn takes no IP address, and a server named by one offers no passkeys.
use crate::account::{other_browser, sign_in_to_account};
use crate::helpers::*;
use crate::otp::account_csrf;
use crate::signin::{add_alice, add_client, discovered_rp, hidden, location, query_of, REDIRECT};
use authenticator::SoftAuthenticator;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, TokenResponse};
use reqwest::StatusCode;
use serde_json::Value;

mod authenticator;

/// Runs a test body on each backend with a server named `localhost` (settings tweaked by the first form).
macro_rules! on_localhost {
    ($name:ident, |$raw:ident| $tweak:block, async |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body(backend: Backend) {
                let $app =
                    spawn_app_named(backend, "localhost", |$raw: &mut tessera::config::RawSettings| $tweak).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body(Backend::Postgres).await
            }
        }
    };
    ($name:ident, async |$app:ident| $body:block) => {
        on_localhost!($name, |_raw| {}, async |$app| $body);
    };
}

// After the macro, which they use.
mod admin;
mod refusals;
mod step_up;

/// The issuer's origin: a page's, and a WebAuthn client's. A peer's differs from its address.
fn origin(app: &TestApp) -> String {
    app.settings.issuer.origin().ascii_serialization()
}

/// A form posted from our own page.
async fn post(app: &TestApp, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(app.url(path)).header("Origin", origin(app)).form(form).send().await.unwrap()
}

/// Adds a passkey named `name` on the account page of browser `b` (signed in): its authenticator.
async fn add_passkey(app: &TestApp, b: &reqwest::Client, name: &str) -> SoftAuthenticator {
    let csrf = account_csrf(app, b).await;
    let r = post(app, b, "/account/passkeys/options", &[("csrf", &csrf), ("name", name)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let started: Value = r.json().await.unwrap();
    let (key, answer) = SoftAuthenticator::create(&started["publicKey"], &origin(app));
    let ceremony = started["ceremony"].as_str().unwrap();
    let r =
        post(app, b, "/account/passkeys", &[("csrf", &csrf), ("ceremony", ceremony), ("credential", &answer)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/account?done=passkey-added");
    key
}

/// The sign-in form's fields of a login page (`interaction` or `return`, and `csrf`).
fn sign_in_fields(html: &str) -> Vec<(String, String)> {
    assert!(html.contains("id=\"passkey-sign-in\"") && html.contains("/static/passkeys.js"), "{html}");
    let target = if html.contains("name=\"return\"") { "return" } else { "interaction" };
    vec![(target.into(), hidden(html, target)), ("csrf".into(), hidden(html, "csrf"))]
}

/// The options of a passkey sign-in from the login page `html` in browser `b`: the ceremony and the `publicKey`.
async fn sign_in_options(app: &TestApp, b: &reqwest::Client, html: &str) -> (String, Value) {
    let fields = sign_in_fields(html);
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = post(app, b, "/login/passkey/options", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let started: Value = r.json().await.unwrap();
    (started["ceremony"].as_str().unwrap().to_owned(), started["publicKey"].clone())
}

/// Posts `credential` as the answer to `ceremony` from the login page `html`.
async fn answer(app: &TestApp, b: &reqwest::Client, html: &str, ceremony: &str, credential: &str) -> reqwest::Response {
    let mut fields = sign_in_fields(html);
    fields.push(("ceremony".into(), ceremony.into()));
    fields.push(("credential".into(), credential.into()));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post(app, b, "/login/passkey", &form).await
}

/// Signs in with `key` from the login page `html` in browser `b`: the answer to the passkey form.
async fn sign_in_with(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    key: &mut SoftAuthenticator,
) -> reqwest::Response {
    let (ceremony, options) = sign_in_options(app, b, html).await;
    let credential = key.get(&options, &origin(app));
    answer(app, b, html, &ceremony, &credential).await
}

/// The account sign-in page in browser `b`.
async fn account_login_page(app: &TestApp, b: &reqwest::Client) -> String {
    b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap()
}

/// The login page of an authorization request in browser `b`.
async fn authorization_login_page(app: &TestApp, b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r);
    assert!(login.starts_with("/login?interaction="), "{login}");
    b.get(app.url(&login)).send().await.unwrap().text().await.unwrap()
}

/// alice's audit events of `kind`, newest first.
fn events(app: &TestApp, kind: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list"], None);
    events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// Alice with a passkey added on the account page: her authenticator, and her browser, signed in.
async fn alice_with_a_passkey(app: &TestApp) -> (SoftAuthenticator, reqwest::Client) {
    add_alice(app);
    let b = other_browser();
    sign_in_to_account(app, &b).await;
    (add_passkey(app, &b, "Laptop").await, b)
}

/// The sign-in form again with the passkey refusal.
async fn assert_refused(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tessera=")));
    let html = r.text().await.unwrap();
    assert!(html.contains("That passkey did not sign you in."), "{html}");
}

on_localhost!(a_passkey_added_on_the_account_page_signs_in_to_an_app_as_possession_and_more, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"passkeys-heading\"") && html.contains("id=\"passkey-add\""), "{html}");
    let mut key = add_passkey(&app, &b, "  Laptop ").await;
    let html = b.get(app.url("/account?done=passkey-added")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Passkey added.") && html.contains("<bdi>Laptop</bdi>"), "{html}");
    assert!(html.contains("<dt>Last used</dt><dd>Never</dd>"), "{html}");
    let added = &events(&app, "passkey_added")[0];
    assert_eq!((&added["user_id"], &added["details"]["name"]), (&alice["id"], &Value::from("Laptop")));

    // Another browser signs in to the app with it, no name typed, through the relying party.
    let rp = discovered_rp(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let c = other_browser();
    let html = authorization_login_page(&app, &c, url.as_str()).await;
    let r = sign_in_with(&app, &c, &html, &mut key).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
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
    let id_token = tokens.id_token().expect("an id_token");
    let claims = id_token.claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), alice["id"].as_str().unwrap());
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(amr, ["pop", "mfa"]);

    let signed_in = &events(&app, "login_succeeded")[0];
    assert_eq!(signed_in["details"]["amr"], serde_json::json!(["pop", "mfa"]), "{signed_in}");
    assert!(signed_in["details"]["passkey"].is_string(), "{signed_in}");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<dt>Last used</dt><dd>Never</dd>"), "its use is recorded: {html}");

    // The options of another passkey exclude this one, so that one authenticator does not hold two.
    let csrf = account_csrf(&app, &b).await;
    let r = post(&app, &b, "/account/passkeys/options", &[("csrf", &csrf), ("name", "Again")]).await;
    let started: Value = r.json().await.unwrap();
    let excluded = &started["publicKey"]["excludeCredentials"];
    assert_eq!(excluded.as_array().map(Vec::len), Some(1), "{started}");
});

on_localhost!(otp_required_asks_no_code_after_a_passkey, async |app| {
    let (mut key, _b) = alice_with_a_passkey(&app).await;
    // Another instance of the deployment requires two-step verification of password sign-ins.
    let strict = app.spawn_peer_with(|raw| raw.otp.required = true).await;
    let c = other_browser();
    let html = account_login_page(&strict, &c).await;
    let r = post(
        &strict,
        &c,
        "/login",
        &[
            ("return", "account"),
            ("csrf", &hidden(&html, "csrf")),
            ("username", "alice"),
            ("password", crate::signin::PASSWORD),
        ],
    )
    .await;
    assert!(
        r.text().await.unwrap().contains("Signing in here needs two-step verification"),
        "a password is not enough"
    );
    let r = sign_in_with(&strict, &c, &html, &mut key).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/account", "signed in, with no code asked");
    let page = c.get(strict.url("/account")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
});

on_localhost!(
    a_removed_passkey_signs_in_no_more_and_refusals_count_on_the_ip,
    |raw| {
        raw.limits.login_ip_failures = 3;
    },
    async |app| {
        let (mut key, b) = alice_with_a_passkey(&app).await;
        let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
        let id = hidden(&html, "passkey");
        let csrf = account_csrf(&app, &b).await;
        // Not from another site, and not without the page's token.
        let forged = b.post(app.url("/account/passkeys/remove")).header("Origin", "https://evil.example");
        let r = forged.form(&[("csrf", csrf.as_str()), ("passkey", id.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post(&app, &b, "/account/passkeys/remove", &[("passkey", &id)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post(&app, &b, "/account/passkeys/remove", &[("csrf", &csrf), ("passkey", &id)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/account?done=passkey-removed");
        let html = b.get(app.url("/account?done=passkey-removed")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Passkey removed.") && !html.contains("<bdi>Laptop</bdi>"), "{html}");
        assert_eq!(events(&app, "passkey_removed")[0]["details"]["passkey"], id.as_str());

        // Its sign-ins are refused, each a failure of the IP.
        let c = other_browser();
        let html = account_login_page(&app, &c).await;
        for _ in 0..2 {
            assert_refused(sign_in_with(&app, &c, &html, &mut key).await).await;
        }
        let failed = &events(&app, "login_failed")[0];
        assert_eq!(failed["details"]["reason"], "passkey_unknown", "{failed}");
        let r = sign_in_with(&app, &c, &html, &mut key).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the third failure locks the IP");
        assert!(r.headers().contains_key("retry-after"));
        // And a locked IP's passwords are refused too: the same limit.
        let r = post(
            &app,
            &c,
            "/login",
            &[
                ("return", "account"),
                ("csrf", &hidden(&html, "csrf")),
                ("username", "alice"),
                ("password", crate::signin::PASSWORD),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
);

on_localhost!(a_disabled_user_and_a_cloned_passkey_are_refused, async |app| {
    let (mut key, _b) = alice_with_a_passkey(&app).await;
    let mut clone = key.clone();
    let c = other_browser();
    let html = account_login_page(&app, &c).await;
    let r = sign_in_with(&app, &c, &html, &mut key).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));

    // The clone's counter (1) is not past the last one seen (1): the credential may have been copied.
    let c = other_browser();
    let html = account_login_page(&app, &c).await;
    assert_refused(sign_in_with(&app, &c, &html, &mut clone).await).await;
    assert_eq!(events(&app, "login_failed")[0]["details"]["reason"], "passkey_possible_clone");

    app.cli_json(&["users", "disable", "alice"], None);
    assert_refused(sign_in_with(&app, &c, &html, &mut key).await).await;
    assert_eq!(events(&app, "login_failed")[0]["details"]["reason"], "disabled");
});

on_localhost!(a_ceremony_is_this_browsers_its_targets_and_answered_once, async |app| {
    let (mut key, _b) = alice_with_a_passkey(&app).await;
    let c = other_browser();
    let html = account_login_page(&app, &c).await;

    // Its options need the form's token, from our own origin.
    let fields = sign_in_fields(&html);
    let r = post(&app, &c, "/login/passkey/options", &[("return", "account")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let forged = c.post(app.url("/login/passkey/options")).header("Origin", "https://evil.example");
    let r = forged.form(&[("return", "account"), ("csrf", fields[1].1.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Another browser's ceremony, or one answered already, signs nobody in.
    let (ceremony, options) = sign_in_options(&app, &c, &html).await;
    let credential = key.get(&options, &origin(&app));
    let d = other_browser();
    let other_html = account_login_page(&app, &d).await;
    let r = answer(&app, &d, &other_html, &ceremony, &credential).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("took too long"));
    let r = answer(&app, &c, &html, &ceremony, &credential).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    let r = answer(&app, &c, &html, &ceremony, &credential).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "answered once");

    // An answer made for another origin does not verify.
    let c = other_browser();
    let html = account_login_page(&app, &c).await;
    let (ceremony, options) = sign_in_options(&app, &c, &html).await;
    let credential = key.get(&options, "http://localhost:1");
    assert_refused(answer(&app, &c, &html, &ceremony, &credential).await).await;
    assert_eq!(events(&app, "login_failed")[0]["details"]["reason"], "passkey_invalid");
});

both_backends!(a_server_named_by_an_ip_address_offers_no_passkeys, async |app| {
    add_alice(&app);
    let b = other_browser();
    let html = account_login_page(&app, &b).await;
    assert!(!html.contains("passkey"), "{html}");
    let r = post(&app, &b, "/login/passkey/options", &[("return", "account"), ("csrf", &hidden(&html, "csrf"))]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    sign_in_to_account(&app, &b).await;
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("Passkeys"), "{html}");
});

// A passkey signs in a user whose password is temporary only as far as the new password page (Keycloak runs its
// required actions after any authentication); the session then starts with the passkey's `amr`.
on_localhost!(a_passkey_sign_in_replaces_a_temporary_password_first, async |app| {
    let (mut key, _) = alice_with_a_passkey(&app).await;
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(crate::signin::PASSWORD));
    let b = other_browser();
    let html = account_login_page(&app, &b).await;
    let r = sign_in_with(&app, &b, &html, &mut key).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (pending, csrf) = crate::temporary_password::new_password_form(&r.text().await.unwrap());
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");
    let chosen = crate::temporary_password::CHOSEN;
    let form = [("pending", pending.as_str()), ("csrf", &csrf), ("password", chosen), ("password_again", chosen)];
    assert_eq!(location(&post(&app, &b, "/login/new-password", &form).await), "/account");
    let signed_in = &events(&app, "login_succeeded")[0];
    assert_eq!(signed_in["details"]["amr"], serde_json::json!(["pop", "mfa"]), "{signed_in}");
    assert!(signed_in["details"]["passkey"].is_string(), "{signed_in}");
    assert_eq!(signed_in["details"]["password_changed"], true, "{signed_in}");
});
