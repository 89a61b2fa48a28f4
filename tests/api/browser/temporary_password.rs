//! "Choose a new password" in a real browser: a sign-in with a temporary password stops at the page (checked by
//! axe, at first and after a refusal, with the refused field marked; "Sign out of other devices" ticked at first,
//! and its label toggling it), which sends nothing under the minimum, and whose new password leads on to the
//! consent page and the app's code.
use super::accessibility::{assert_accessible, axe_source, wait_for_title};
use super::{at_redirect_uri, expect_consent_page, on_server, query, redeem, setup, signed_in, PASSWORD, USERNAME};
use crate::helpers::{spawn_app, Backend};
use crate::webdriver::Browser;

const CHOSEN: &str = "my very own secret";
const TITLE: &str = "Choose a new password · Tessera";

// The page's markup is the same on both backends (the API tests run the change on each): one is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_password_is_replaced_in_a_real_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    let flow = setup(&app);
    app.cli_json(&["users", "passwd", USERNAME, "--password-stdin", "--temporary"], Some(PASSWORD));
    let axe = axe_source();
    let browser = Browser::start().await;
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, TITLE).await;
    assert_accessible(&browser, &axe, "the new password page").await;
    browser.wait_for("input#sign-out-others[type=checkbox]:checked").await;
    browser.find("label[for=sign-out-others]").await.click().await;
    browser.wait_for("input#sign-out-others:not(:checked)").await;
    // Leaving the page signs nobody in: the next sign-in stops at it again.
    assert!(!signed_in(&browser, &flow).await, "the page signs nobody in");
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, TITLE).await;

    // Under the minimum, the browser keeps the form (minlength) and nothing is sent.
    browser.find("input#new-password").await.send_keys("short").await;
    browser.find("input#new-password-again").await.send_keys("short").await;
    browser.find("button[type=submit]").await.click().await;
    let valid = browser.execute("return document.querySelector('input#new-password').validity.valid;").await;
    assert_eq!(valid, false);
    assert!(browser.try_find("#new-password-error").await.is_none(), "{}", browser.source_excerpt().await);

    // The temporary password again: refused by the server, the field marked.
    for (field, typed) in [("input#new-password", PASSWORD), ("input#new-password-again", PASSWORD)] {
        browser.find(field).await.clear().await;
        browser.find(field).await.send_keys(typed).await;
    }
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("#new-password-error[role=alert]").await;
    browser.wait_for("input#new-password[aria-invalid=true]").await;
    assert_accessible(&browser, &axe, "the new password page after a refusal").await;

    browser.find("input#new-password").await.send_keys(CHOSEN).await;
    browser.find("input#new-password-again").await.send_keys(CHOSEN).await;
    browser.find("button[type=submit]").await.click().await;
    expect_consent_page(&app, &browser).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    let landed = browser.wait_for_url("the redirect to the client", |u| at_redirect_uri(&flow, u)).await;
    browser.quit().await;
    let code = query(&landed).remove("code").unwrap_or_else(|| panic!("no code in {landed}"));
    assert!(redeem(&app, &flow, &code).await["id_token"].is_string());
    assert_eq!(app.cli_json(&["users", "show", USERNAME], None)["password_change_required"], false);
}
