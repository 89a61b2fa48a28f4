//! Self-registration in a real browser: the login page's "Create an account" link, the sign-up page (the
//! browser's own checks, then the server's refusal of a mismatch), a new account, consent and the app's code.
use super::{at_redirect_uri, expect_consent_page, on_server, query, setup, STATE};
use crate::webdriver::Browser;

const NEW_PASSWORD: &str = "a long new password";

both_backends!(
    a_new_user_signs_up_through_the_pages_in_a_real_browser,
    |raw| {
        raw.users.self_registration = true;
    },
    async |app| {
        let flow = setup(&app);
        let browser = Browser::start().await;
        browser.goto(&flow.authorize_url).await;
        browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
        browser.find("a#sign-up").await.click().await;
        browser.wait_for_url("the sign-up page", |u| on_server(&app, u, "/login/register")).await;

        browser.find("input#username").await.send_keys("newcomer").await;
        browser.find("input#email").await.send_keys("new@example.com").await;
        browser.find("input#name").await.send_keys("New Person").await;
        // Under the minimum, the browser keeps the form (minlength) and nothing is sent.
        browser.find("input#password").await.send_keys("short").await;
        browser.find("input#password-again").await.send_keys("short").await;
        browser.find("button[type=submit]").await.click().await;
        let valid = browser.execute("return document.querySelector('input#password').validity.valid;").await;
        assert_eq!(valid, false);
        // Typed twice differently: the server says so, next to the field, and keeps what was typed but passwords.
        browser.find("input#password").await.clear().await;
        browser.find("input#password").await.send_keys(NEW_PASSWORD).await;
        browser.find("input#password-again").await.clear().await;
        browser.find("input#password-again").await.send_keys("another long password").await;
        browser.find("button[type=submit]").await.click().await;
        browser.wait_for("#signup-error[role=alert]").await;
        browser.wait_for("input#password-again[aria-invalid=true]").await;
        assert_eq!(browser.find("input#username").await.property("value").await, "newcomer");
        browser.find("input#password").await.send_keys(NEW_PASSWORD).await;
        browser.find("input#password-again").await.send_keys(NEW_PASSWORD).await;
        browser.find("button[type=submit]").await.click().await;

        expect_consent_page(&app, &browser).await;
        browser.find("button[name=decision][value=allow]").await.click().await;
        let back = browser.wait_for_url("the redirect to the app", |u| at_redirect_uri(&flow, u)).await;
        let q = query(&back);
        assert_eq!(q.get("state").map(String::as_str), Some(STATE));
        assert!(q.contains_key("code"), "{back}");
        browser.quit().await;
        let users = app.cli_json(&["users", "list"], None);
        assert!(users["users"].as_array().unwrap().iter().any(|u| u["username"] == "newcomer"), "{users}");
    }
);
