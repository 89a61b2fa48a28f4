//! The account page's "Delete account" section in a real browser, checked for accessibility: the browser's own
//! check of "I understand" first (the form is not sent without it), a wrong password refused, then the deletion
//! and the page that says so, signed out.
use super::accessibility::{assert_accessible, axe_source, wait_for_title};
use super::{on_server, wait_for_account, PASSWORD, USERNAME};
use crate::helpers::{spawn_app_with, Backend};
use crate::webdriver::Browser;

// The markup is the same on both backends: one is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_deleted_from_its_page_in_a_real_browser() {
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.users.self_deletion = true).await;
    app.cli_json(&["users", "add", USERNAME, "--password-stdin"], Some(PASSWORD));
    let axe = axe_source();
    let browser = Browser::start().await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("id=\"delete-heading\"")).await;
    assert_accessible(&browser, &axe, "the account page with its deletion section").await;

    // Without "I understand", the browser keeps the form (required) and nothing is sent.
    browser.find("input#delete-password").await.send_keys(PASSWORD).await;
    browser.find("button#delete-account").await.click().await;
    let valid = browser.execute("return document.querySelector('input#delete-confirm').validity.valid;").await;
    assert_eq!(valid, false);
    assert!(browser.try_find("#delete-error").await.is_none(), "{}", browser.source_excerpt().await);

    // A wrong password: the section's alert, its field marked invalid.
    browser.find("input#delete-password").await.clear().await;
    browser.find("input#delete-password").await.send_keys("not the password").await;
    browser.find("input#delete-confirm").await.click().await;
    browser.find("button#delete-account").await.click().await;
    browser.wait_for("#delete-error[role=alert]").await;
    browser.wait_for("input#delete-password[aria-invalid=true]").await;
    assert_accessible(&browser, &axe, "the account page after a refused deletion").await;

    browser.find("input#delete-password").await.send_keys(PASSWORD).await;
    browser.find("input#delete-confirm").await.click().await;
    browser.find("button#delete-account").await.click().await;
    wait_for_title(&browser, "Account deleted · Tessera").await;
    assert_accessible(&browser, &axe, "the page after the deletion").await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the sign-in, signed out", |u| on_server(&app, u, "/login")).await;
    browser.quit().await;
    let users = app.cli_json(&["users", "list"], None);
    assert_eq!(users["users"].as_array().unwrap().len(), 0, "{users}");
}
