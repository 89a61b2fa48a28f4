//! Passkeys in a real browser, with Chromium's virtual authenticator (the WebAuthn WebDriver extension) in place of
//! a device: added on the account page, then used to sign in to an app's authorization after signing out (its ID
//! token says `amr` pop+mfa), then removed, after which the same authenticator's sign-in is refused; signed out
//! elsewhere, adding one shows the server's reason. The pages with the passkey forms are checked by axe. The server is named `localhost`: WebAuthn takes no IP address, and
//! Chromium counts `http://localhost` as a secure context.
use super::accessibility::{assert_accessible, axe_source};
use super::{at_redirect_uri, expect_consent_page, on_server, query, redeem, setup, wait_for_account};
use super::{PASSWORD, USERNAME};
use crate::helpers::{spawn_app_named, Backend, TestApp};
use crate::webdriver::Browser;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// Signs out of the current session from the account page.
async fn sign_out(app: &TestApp, browser: &Browser) {
    browser.find("button[aria-label=\"Sign out of this session\"]").await.click().await;
    browser.wait_for_url("the sign-in after signing out", |u| on_server(app, u, "/login")).await;
}

async fn passkeys_in_a_real_browser(backend: Backend) {
    let app = spawn_app_named(backend, "localhost", |_| {}).await;
    let flow = setup(&app);
    let axe = axe_source();
    let browser = Browser::start().await;
    let authenticator = browser.add_virtual_authenticator().await;

    // Signed in with the password, alice adds a passkey on her account page.
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("id=\"passkeys-heading\"")).await;
    let add = browser.find("form#passkey-add").await;
    assert!(add.is_displayed().await, "the script shows the form");
    assert!(!browser.find("#passkey-unsupported").await.is_displayed().await);
    assert_accessible(&browser, &axe, "the account page with its passkey form").await;
    browser.find("input#passkey-name").await.send_keys("Laptop").await;
    browser.find("form#passkey-add button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the page after adding", |s| s.contains("Passkey added.")).await;
    assert!(browser.source().await.contains("<bdi>Laptop</bdi>"));
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "a credential on the authenticator");
    assert_accessible(&browser, &axe, "the account page with a passkey").await;

    // Signed out, she signs in to the app with it: no name, no password.
    sign_out(&app, &browser).await;
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    let button = browser.wait_for("button#passkey-button").await;
    assert!(button.is_displayed().await);
    assert_accessible(&browser, &axe, "the login page with the passkey button").await;
    button.click().await;
    expect_consent_page(&app, &browser).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    let landed = browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;
    let tokens = redeem(&app, &flow, &query(&landed)["code"]).await;
    let id_token = tokens["id_token"].as_str().unwrap_or_else(|| panic!("no id_token: {tokens}"));
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["amr"], serde_json::json!(["pop", "mfa"]), "{claims}");

    // She removes it; the authenticator still offers it, and the server refuses it.
    browser.goto(&app.url("/account")).await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("<bdi>Laptop</bdi>")).await;
    browser.find("button[aria-label=\"Remove passkey Laptop\"]").await.click().await;
    wait_for_account(&app, &browser, "the page after removing", |s| s.contains("Passkey removed.")).await;
    assert!(!browser.source().await.contains("<bdi>Laptop</bdi>"));
    sign_out(&app, &browser).await;
    browser.wait_for("button#passkey-button").await.click().await;
    let alert = browser.wait_for("[role=alert]").await.text().await;
    assert!(alert.contains("That passkey did not sign you in."), "{alert}");
    assert_accessible(&browser, &axe, "the login page after a refused passkey").await;

    // Signed out elsewhere while her account page is open, adding a passkey says why it cannot: the options
    // endpoint answers in JSON, whose sentence the script shows, rather than a redirect it would follow.
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("form[action=\"/login\"] button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the account page again", |s| s.contains("id=\"passkey-add\"")).await;
    let out = app.cli(&["users", "revoke", USERNAME], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    browser.find("input#passkey-name").await.send_keys("Phone").await;
    browser.find("form#passkey-add button[type=submit]").await.click().await;
    let alert = browser.wait_for("form#passkey-add .passkey-error[role=alert]").await.text().await;
    assert!(alert.contains("You are signed out. Nothing was changed."), "{alert}");
    assert_accessible(&browser, &axe, "the account page with the passkey form's error").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    passkeys_in_a_real_browser(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    passkeys_in_a_real_browser(Backend::Postgres).await
}
