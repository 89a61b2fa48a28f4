//! Password policies (`passwords.history`, `not_username`, `not_email`, `blocklist_file`) on each page where users
//! choose a password: the account page, the "Choose a new password" step, a reset by mail, and sign-up. Each refusal
//! says why on the page that asked, counts nothing and changes nothing; operators' passwords are only recorded.
use crate::account::{other_browser, sign_in_to_account};
use crate::helpers::*;
use crate::otp::post;
use crate::password_reset::{alice_reset_link, events, reset, with_mail, DONE};
use crate::signin::{add_alice, hidden, location, PASSWORD};
use crate::signup::{on, user_named};
use crate::smtp_sink::SmtpSink;
use crate::temporary_password::{add_temporary_alice, new_password_form, send_new, CHOSEN};
use reqwest::StatusCode;
use tessera::config::RawSettings;

const BLOCKED: &str = "blocked password 1";
const BY_NAME: &str = "The password may not be your username. Choose another.";
const BY_EMAIL: &str = "The password may not be your email address. Choose another.";
const BY_LIST: &str = "This password is too common or too easily guessed. Choose another.";

/// The policy under test: a history of `history`, the example list, and names short enough to be passwords.
fn policy(raw: &mut RawSettings, history: usize) {
    raw.passwords.history = history;
    raw.passwords.min_length = 5;
    raw.passwords.blocklist_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/blocked-passwords.txt").into());
    raw.limits.login_user_failures = 2;
}

/// Whether alice signs in to the account page with `password` in a new browser.
async fn signs_in(app: &TestApp, password: &str) -> bool {
    crate::account_password::signs_in(app, password).await
}

/// Posts the account page's password form from browser `c` (its other sessions kept): the status and page.
async fn change(app: &TestApp, c: &reqwest::Client, current: &str, new: &str) -> (StatusCode, String) {
    let html = c.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let form =
        [("csrf", csrf.as_str()), ("current_password", current), ("new_password", new), ("new_password_again", new)];
    let r = post(app, c, "/account/password", &form).await;
    (r.status(), r.text().await.unwrap())
}

both_backends!(
    the_account_page_refuses_what_the_policy_forbids_and_counts_nothing,
    |raw| { policy(raw, 3) },
    async |app| {
        let alice = add_alice(&app);
        let alice_id = alice["id"].as_str().unwrap();
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        // Each refused twice: a count would have locked the name.
        for (new, why) in [("ALICE", BY_NAME), ("Alice@Example.com", BY_EMAIL), ("BLOCKED password 1", BY_LIST)] {
            for _ in 0..2 {
                let (status, html) = change(&app, c, PASSWORD, new).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{new}");
                assert!(html.contains(&format!("id=\"password-error\">{why}</p>")), "{new}: {html}");
            }
        }
        assert!(signs_in(&app, PASSWORD).await, "nothing changed, nothing locked");
        assert!(events(&app, alice_id, "password_change_failed").is_empty());

        // The last three passwords, the current one included: the one set by the operator is the first.
        assert_eq!(change(&app, c, PASSWORD, "second secret").await.0, StatusCode::SEE_OTHER);
        assert_eq!(change(&app, c, "second secret", "third secret").await.0, StatusCode::SEE_OTHER);
        for _ in 0..2 {
            let (status, html) = change(&app, c, "third secret", PASSWORD).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(html.contains("The password is one of your last 3 passwords. Choose another."), "{html}");
        }
        assert!(signs_in(&app, "third secret").await, "nothing changed, nothing locked");
        // A fourth pushes the first out of the history.
        assert_eq!(change(&app, c, "third secret", "fourth secret").await.0, StatusCode::SEE_OTHER);
        assert_eq!(change(&app, c, "fourth secret", PASSWORD).await.0, StatusCode::SEE_OTHER);
        assert!(signs_in(&app, PASSWORD).await);
        let trail = app.cli_json(&["audit", "list", "--user", alice_id], None).to_string();
        assert!(!trail.contains(BLOCKED) && !trail.contains("third secret"), "{trail}");

        // Operators keep their rules: a password the policy refuses to users is theirs to set.
        app.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some("alice@example.com"));
        assert!(signs_in(&app, "alice@example.com").await);
    }
);

both_backends!(the_new_password_step_refuses_what_the_policy_forbids, |raw| { policy(raw, 2) }, async |app| {
    add_temporary_alice(&app);
    // Operators' passwords count in the history: the first temporary one, then this one.
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some("temporary two"));
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form =
        [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", "temporary two")];
    let fields = new_password_form(&post(&app, &b, "/login", &form).await.text().await.unwrap());
    for (new, why) in [
        ("alice", BY_NAME),
        ("ALICE@example.com", BY_EMAIL),
        (BLOCKED, BY_LIST),
        ("temporary two", "The new password is your current one. Choose another."),
        (PASSWORD, "The password is one of your last 2 passwords. Choose another."),
    ] {
        let r = send_new(&app, &b, &fields, new, new).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{new}");
        let html = r.text().await.unwrap();
        assert!(html.contains(why), "{new}: {html}");
        new_password_form(&html);
    }
    assert_eq!(location(&send_new(&app, &b, &fields, CHOSEN, CHOSEN).await), "/account");
    assert!(signs_in(&app, CHOSEN).await);
});

with_mail!(
    a_reset_refuses_what_the_policy_forbids_and_keeps_the_link,
    |raw| {
        policy(raw, 2);
    },
    async |app, sink| {
        add_alice(&app);
        let (_, b, token) = alice_reset_link(&app, &sink).await;
        for (new, why) in [
            ("Alice", BY_NAME),
            ("alice@example.COM", BY_EMAIL),
            ("LetMeIn-Forever", BY_LIST),
            // With a history kept, the password the user forgot is one they may not choose again.
            (PASSWORD, "The new password is your current one. Choose another."),
        ] {
            let (status, html) = reset(&app, &b, &token, new, new).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{new}");
            assert!(html.contains(why), "{new}: {html}");
        }
        let (status, html) = reset(&app, &b, &token, CHOSEN, CHOSEN).await;
        assert!(status == StatusCode::OK && html.contains(DONE), "the link was kept: {html}");
        assert!(signs_in(&app, CHOSEN).await);
    }
);

both_backends!(
    sign_up_refuses_the_new_names_and_the_blocklist,
    |raw| {
        on(raw);
        policy(raw, 2);
    },
    async |app| {
        let b = other_browser();
        b.get(app.url("/login?return=account")).send().await.unwrap();
        let html = b.get(app.url("/login/register?return=account")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&html, "csrf");
        let fields = |password| {
            [
                ("return", "account"),
                ("csrf", csrf.as_str()),
                ("username", "newperson"),
                ("email", "new@example.com"),
                ("name", ""),
                ("password", password),
                ("password_again", password),
            ]
        };
        for (password, why) in [("NewPerson", BY_NAME), ("New@Example.com", BY_EMAIL), (BLOCKED, BY_LIST)] {
            let r = post(&app, &b, "/login/register", &fields(password)).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{password}");
            let html = r.text().await.unwrap();
            assert!(html.contains(why), "{password}: {html}");
        }
        assert!(user_named(&app, "newperson").is_none());
        let r = post(&app, &b, "/login/register", &fields(CHOSEN)).await;
        assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
        assert!(user_named(&app, "newperson").is_some());
    }
);
