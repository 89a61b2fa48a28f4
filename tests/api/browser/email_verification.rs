//! Email verification in a real browser: the account page with an unverified address and its button, the page
//! the mailed link opens and its button, and the account sign-in's "Forgot your password?", each checked for
//! accessibility.
use super::accessibility::{assert_accessible, axe_source, wait_for_title};
use super::{on_server, wait_for_account, PASSWORD, USERNAME};
use crate::helpers::{spawn_app_with, Backend};
use crate::password_reset::link_in;
use crate::smtp_sink::SmtpSink;
use crate::webdriver::Browser;

async fn an_address_is_verified_from_the_account_page(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(backend, |raw| {
        raw.mail.smtp_url = Some(url);
        raw.mail.from = Some("no-reply@example.com".into());
    })
    .await;
    app.cli_json(&["users", "add", USERNAME, "--password-stdin", "--email", "alice@example.com"], Some(PASSWORD));
    let axe = axe_source();
    let browser = Browser::start().await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;
    // The account sign-in offers "Forgot your password?" too.
    browser.find("a#forgot-password").await.click().await;
    browser.wait_for_url("the forgot page", |u| on_server(&app, u, "/login/forgot")).await;
    assert_accessible(&browser, &axe, "the account sign-in's forgot page").await;
    browser.find("a#back-to-sign-in").await.click().await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;

    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("not verified")).await;
    assert_accessible(&browser, &axe, "the account page with an unverified address").await;
    browser.find("button#send-verification").await.click().await;
    wait_for_account(&app, &browser, "the page once sent", |s| s.contains("We sent a verification link")).await;
    assert_accessible(&browser, &axe, "the account page once the link was sent").await;

    let link = link_in(&sink.nth(1).await);
    browser.goto(&link).await;
    wait_for_title(&browser, "Verify your email address · Tessera").await;
    assert_accessible(&browser, &axe, "the page the link opens").await;
    browser.find("button#verify-email").await.click().await;
    wait_for_title(&browser, "Your email address is verified · Tessera").await;
    assert_accessible(&browser, &axe, "the verification page").await;
    browser.goto(&link).await;
    wait_for_title(&browser, "This verification link does not work · Tessera").await;
    assert_accessible(&browser, &axe, "the verification page of a used link").await;
    browser.goto(&app.url("/account")).await;
    wait_for_account(&app, &browser, "the account page", |s| s.contains("id=\"email-state\">verified")).await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_verified_from_the_account_page_in_a_real_browser_sqlite() {
    an_address_is_verified_from_the_account_page(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_verified_from_the_account_page_in_a_real_browser_postgres() {
    an_address_is_verified_from_the_account_page(Backend::Postgres).await
}
