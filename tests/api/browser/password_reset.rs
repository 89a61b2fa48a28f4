//! "Forgot your password?" in a real browser: the login page's link, the request page and its answer, the page
//! the mailed link opens (a refusal, then a new password), each checked for accessibility, and the sign-in that
//! goes on with the new password.
use super::accessibility::{assert_accessible, axe_source, wait_for_title};
use super::{expect_consent_page, on_server, setup, USERNAME};
use crate::helpers::{spawn_app_with, Backend};
use crate::password_reset::link_in;
use crate::smtp_sink::SmtpSink;
use crate::webdriver::Browser;

const NEW_PASSWORD: &str = "a brand new secret";

async fn a_password_is_reset_through_the_pages(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(backend, |raw| {
        raw.mail.smtp_url = Some(url);
        raw.mail.from = Some("no-reply@example.com".into());
    })
    .await;
    let flow = setup(&app);
    let axe = axe_source();
    let browser = Browser::start().await;
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    browser.find("a#forgot-password").await.click().await;
    browser.wait_for_url("the forgot page", |u| on_server(&app, u, "/login/forgot")).await;
    assert_accessible(&browser, &axe, "the forgot page").await;
    browser.find("input#login").await.send_keys(USERNAME).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, "Check your mail · Tessera").await;
    assert_accessible(&browser, &axe, "the forgot page once sent").await;

    let link = link_in(&sink.nth(1).await);
    browser.goto(&link).await;
    browser.wait_for_url("the reset page", |u| on_server(&app, u, "/login/reset")).await;
    assert_accessible(&browser, &axe, "the reset page").await;
    browser.find("input#password").await.send_keys(NEW_PASSWORD).await;
    browser.find("input#password-again").await.send_keys("not the same one").await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("#reset-error[role=alert]").await;
    browser.wait_for("input#password-again[aria-invalid=true]").await;
    assert_accessible(&browser, &axe, "the reset page after a refusal").await;
    browser.find("input#password").await.send_keys(NEW_PASSWORD).await;
    browser.find("input#password-again").await.send_keys(NEW_PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, "Password changed · Tessera").await;
    assert_accessible(&browser, &axe, "the reset page once done").await;

    // Back to the pending authorization, signed in with the new password.
    browser.find("a#sign-in").await.click().await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(NEW_PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    expect_consent_page(&app, &browser).await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_through_the_pages_in_a_real_browser_sqlite() {
    a_password_is_reset_through_the_pages(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_through_the_pages_in_a_real_browser_postgres() {
    a_password_is_reset_through_the_pages(Backend::Postgres).await
}
