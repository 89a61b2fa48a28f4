//! The account page's password form in a real browser: the browser's own checks first (a new password under the
//! minimum is not sent), then a change, after which only the new password signs in.
use super::{on_server, wait_for_account, PASSWORD, USERNAME};
use crate::webdriver::Browser;

const NEW_PASSWORD: &str = "a new and longer secret";

both_backends!(a_password_is_changed_from_the_account_page_in_a_real_browser, async |app| {
    app.cli_json(&["users", "add", USERNAME, "--password-stdin"], Some(PASSWORD));
    let browser = Browser::start().await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("id=\"password-heading\"")).await;
    assert_eq!(browser.find("input#sign-out-others").await.property("checked").await, true);

    // Under the minimum, the browser keeps the form (minlength) and nothing is sent.
    browser.find("input#current-password").await.send_keys(PASSWORD).await;
    browser.find("input#new-password").await.send_keys("short").await;
    browser.find("input#new-password-again").await.send_keys("short").await;
    browser.find("form[action=\"/account/password\"] button").await.click().await;
    let valid = browser.execute("return document.querySelector('input#new-password').validity.valid;").await;
    assert_eq!(valid, false);
    assert!(browser.try_find("#password-error").await.is_none(), "{}", browser.source_excerpt().await);

    browser.find("input#new-password").await.clear().await;
    browser.find("input#new-password").await.send_keys(NEW_PASSWORD).await;
    browser.find("input#new-password-again").await.clear().await;
    browser.find("input#new-password-again").await.send_keys(NEW_PASSWORD).await;
    browser.find("form[action=\"/account/password\"] button").await.click().await;
    wait_for_account(&app, &browser, "the page after the change", |s| {
        s.contains("Your password is changed, and your other sessions are signed out.")
    })
    .await;
    browser.quit().await;

    let (signs_in, old_refused) = (
        crate::account_password::signs_in(&app, NEW_PASSWORD).await,
        !crate::account_password::signs_in(&app, PASSWORD).await,
    );
    assert!(signs_in && old_refused);
});
