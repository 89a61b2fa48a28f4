//! The notice mailed to a user who deleted their own account (while mail is on and they had an address): after
//! the deletion, in the page's language, with no link; none for an account without an address or an operator's
//! deletion; and a refused mail undoes nothing.
use crate::account::other_browser;
use crate::helpers::*;
use crate::otp::post;
use crate::password_reset::with_mail;
use crate::signin::{add_alice, hidden, location, PASSWORD};
use crate::smtp_sink::SmtpSink;
use reqwest::StatusCode;
use std::time::Duration;

fn on(raw: &mut tessera::config::RawSettings) {
    raw.users.self_deletion = true;
}

fn add_user(app: &TestApp, username: &str, email: Option<&str>) {
    let mut args = vec!["users", "add", username, "--password-stdin"];
    if let Some(email) = email {
        args.extend(["--email", email]);
    }
    app.cli_json(&args, Some(PASSWORD));
}

/// Signs `username` in to the account page in a browser of its own, and deletes the account from there with the
/// page in `language`: the answer's status.
async fn delete_own(app: &TestApp, username: &str, language: &str) -> StatusCode {
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form =
        [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", username), ("password", PASSWORD)];
    assert_eq!(location(&post(app, &b, "/login", &form).await), "/account");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("password", PASSWORD.to_owned()), ("confirm", "on".to_owned())];
    let r = b.post(app.url("/account/delete")).header("Origin", &app.address).header("Accept-Language", language);
    let r = r.form(&form).send().await.unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        assert!(r.text().await.unwrap().contains("<h1"), "a page");
    }
    status
}

fn user_exists(app: &TestApp, username: &str) -> bool {
    let users = app.cli_json(&["users", "list"], None);
    users["users"].as_array().unwrap().iter().any(|u| u["username"] == username)
}

with_mail!(
    a_deleted_account_is_told_by_mail_in_the_pages_language,
    |raw| {
        on(raw);
    },
    async |app, sink| {
        add_alice(&app);
        assert_eq!(delete_own(&app, "alice", "en").await, StatusCode::OK);
        let mail = sink.nth(1).await;
        assert!(!user_exists(&app, "alice"), "deleted first");
        assert_eq!(mail.to, ["alice@example.com"]);
        assert_eq!(mail.header("Subject").as_deref(), Some("Your account was deleted"));
        let body = mail.body();
        assert!(body.starts_with("Hello Alice,"), "{body}");
        assert!(body.contains("your account alice was deleted, as you asked."), "{body}");
        assert!(body.contains("If you did not delete it, tell the administrator of this site."), "{body}");
        let html = mail.html().expect("an HTML part");
        assert!(html.contains("<html lang=\"en\">") && html.contains("<strong>alice</strong>"), "{html}");
        assert!(!body.contains("http") && !html.contains("href") && !html.contains("http"), "no link: {html}");

        add_user(&app, "bruno", Some("bruno@example.com"));
        assert_eq!(delete_own(&app, "bruno", "de-DE,de;q=0.9").await, StatusCode::OK);
        let mail = sink.nth(2).await;
        assert_eq!(mail.to, ["bruno@example.com"]);
        assert!(mail.body().contains("Ihr Konto bruno wurde auf Ihren Wunsch gelöscht."), "{}", mail.body());
        assert!(mail.html().unwrap().contains("<html lang=\"de\">"));
    }
);

with_mail!(
    no_address_or_an_operators_deletion_sends_nothing_and_a_refused_mail_undoes_nothing,
    |raw| {
        on(raw);
    },
    async |app, sink| {
        add_user(&app, "nomail", None);
        assert_eq!(delete_own(&app, "nomail", "en").await, StatusCode::OK);
        assert!(!user_exists(&app, "nomail"));
        add_user(&app, "carol", Some("carol@example.com"));
        app.cli_json(&["users", "remove", "carol"], None);
        assert!(!user_exists(&app, "carol"));
        // A mail after them all, then a moment: had either sent one, it would be here.
        add_alice(&app);
        assert_eq!(delete_own(&app, "alice", "en").await, StatusCode::OK);
        sink.nth(1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let to: Vec<Vec<String>> = sink.mails().into_iter().map(|m| m.to).collect();
        assert_eq!(to, [["alice@example.com"]]);

        // The SMTP server refuses the notice: the account is gone all the same.
        sink.refuse_next("554 5.7.1 refused\r\n");
        add_user(&app, "dora", Some("dora@example.com"));
        assert_eq!(delete_own(&app, "dora", "en").await, StatusCode::OK);
        sink.nth_attempt(2).await;
        assert!(!user_exists(&app, "dora"));
        assert_eq!(sink.mails().len(), 1);
    }
);
