//! "Forgot your password?" (`[mail]`): the login page's link, the request page and its one answer, the mail as
//! an SMTP server receives it, the reset page, the limits, the form checks, and the routes while mail is off.
use crate::account::{other_browser, sign_in_to_account};
use crate::helpers::*;
use crate::otp::post;
use crate::signin::{add_alice, add_client, auth_url, hidden, location, pkce_pair, signs_in, PASSWORD};
use crate::smtp_sink::{Captured, SmtpSink};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

pub(crate) const NEW_PASSWORD: &str = "a brand new secret";
pub(crate) const SENT: &str = "<h1>Check your mail</h1>";
pub(crate) const DONE: &str = "<h1>Password changed</h1>";
const DEAD_LINK: &str = "This password reset link does not work";

/// Runs a test body once per backend with a server whose mail goes to a fresh [`SmtpSink`]:
/// `with_mail!(name, |raw| { .. }, async |app, sink| { .. })`.
macro_rules! with_mail {
    ($name:ident, async |$app:ident, $sink:ident| $body:block) => {
        with_mail!($name, |_raw| {}, async |$app, $sink| $body);
    };
    ($name:ident, |$raw:ident| $tweak:block, async |$app:ident, $sink:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body(backend: Backend) {
                let $sink = SmtpSink::start().await;
                let url = $sink.url();
                let $app = spawn_app_with(backend, |$raw: &mut tessera::config::RawSettings| {
                    $raw.mail.smtp_url = Some(url);
                    $raw.mail.from = Some("Tessera <no-reply@example.com>".into());
                    $tweak
                })
                .await;
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
}

pub(crate) use with_mail;

/// Starts an authorization in browser `b` and opens its login page: the interaction id and the page.
pub(crate) async fn login_page(app: &TestApp, b: &reqwest::Client, client_id: &str) -> (String, String) {
    let (challenge, _) = pkce_pair();
    let login = location(&b.get(auth_url(app, client_id, &challenge, "")).send().await.unwrap());
    assert!(login.starts_with("/login?interaction="), "{login}");
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    (hidden(&html, "interaction"), html)
}

/// The forgot page of the interaction `id` in browser `b`: its CSRF token.
pub(crate) async fn forgot_page(app: &TestApp, b: &reqwest::Client, id: &str) -> String {
    let r = b.get(app.url(&format!("/login/forgot?interaction={id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Reset your password</h1>") && html.contains("action=\"/login/forgot\""), "{html}");
    hidden(&html, "csrf")
}

/// Asks for a link for `login` from browser `b`'s interaction `id`: the response's status and page.
pub(crate) async fn ask(app: &TestApp, b: &reqwest::Client, id: &str, csrf: &str, login: &str) -> (StatusCode, String) {
    let r = post(app, b, "/login/forgot", &[("interaction", id), ("csrf", csrf), ("login", login)]).await;
    (r.status(), r.text().await.unwrap())
}

/// The reset link in a mail.
pub(crate) fn link_in(mail: &Captured) -> String {
    let body = mail.body();
    let start = body.find("http://").unwrap_or_else(|| panic!("no link in {body}"));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

/// Posts the reset form of `token` from browser `b`.
pub(crate) async fn reset(
    app: &TestApp,
    b: &reqwest::Client,
    token: &str,
    password: &str,
    again: &str,
) -> (StatusCode, String) {
    let r = post(app, b, "/login/reset", &[("token", token), ("password", password), ("password_again", again)]).await;
    (r.status(), r.text().await.unwrap())
}

pub(crate) fn token_of(link: &str) -> String {
    let query = link.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").unwrap().1.into_owned()
}

/// A public client, a browser at its sign-in, and the token of the reset link that alice asks for there (the
/// sink's first mail).
pub(crate) async fn alice_reset_link(app: &TestApp, sink: &SmtpSink) -> (String, reqwest::Client, String) {
    let client = add_client(app, &["--public"]);
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let b = other_browser();
    let (id, _) = login_page(app, &b, &client_id).await;
    let csrf = forgot_page(app, &b, &id).await;
    assert_eq!(ask(app, &b, &id, &csrf, "alice").await.0, StatusCode::OK);
    let token = token_of(&link_in(&sink.nth(1).await));
    (client_id, b, token)
}

pub(crate) fn events(app: &TestApp, user_id: &str, kind: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

with_mail!(a_forgotten_password_is_reset_through_the_mailed_link, async |app, sink| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let client = add_client(&app, &["--public"]);
    let client_id = client["client_id"].as_str().unwrap();
    // A session elsewhere, which the reset must end.
    let elsewhere = other_browser();
    sign_in_to_account(&app, &elsewhere).await;

    let b = other_browser();
    let (id, html) = login_page(&app, &b, client_id).await;
    assert!(html.contains(&format!("href=\"/login/forgot?interaction={id}\">Forgot your password?</a>")), "{html}");
    let csrf = forgot_page(&app, &b, &id).await;
    let (status, page) = ask(&app, &b, &id, &csrf, "alice").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(SENT) && page.contains(&format!("href=\"/login?interaction={id}\"")), "{page}");

    let mail = sink.nth(1).await;
    assert_eq!(
        (mail.from.as_str(), mail.to.as_slice()),
        ("no-reply@example.com", ["alice@example.com".to_owned()].as_slice())
    );
    assert_eq!(mail.header("Subject").as_deref(), Some("Reset your password"));
    let link = link_in(&mail);
    assert!(link.starts_with(&format!("{}/login/reset?token=", app.address)), "{link}");
    let token = token_of(&link);
    assert!(token.len() >= 43, "256 bits: {token}");
    let html = mail.html().unwrap_or_else(|| panic!("no HTML part: {}", mail.data));
    let escaped = link.replace('&', "&#38;");
    assert!(html.contains(&format!("<a href=\"{escaped}\"")) && html.contains("<h1"), "the same link: {html}");

    // Opened in another browser, as a mail client would.
    let c = other_browser();
    let r = c.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Choose a new password</h1>") && hidden(&html, "token") == token, "{html}");
    // The password rules of the account page; a refusal keeps the link.
    let (status, html) = reset(&app, &c, &token, NEW_PASSWORD, "something else").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("The two passwords are not the same"), "{html}");
    let (status, html) = reset(&app, &c, &token, "short", "short").await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains("at least 8 characters"), "{html}");
    let (status, html) = reset(&app, &c, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(DONE) && html.contains(&format!("href=\"/login?interaction={id}\"")), "{html}");

    assert!(!signs_in(&app, client_id, "alice", PASSWORD).await, "the old password is refused");
    assert!(signs_in(&app, client_id, "alice", NEW_PASSWORD).await, "the new one signs in");
    let r = elsewhere.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account", "the other session was ended");
    // The pending authorization goes on with the new password.
    let html = b.get(app.url(&format!("/login?interaction={id}"))).send().await.unwrap().text().await.unwrap();
    let form = [
        ("interaction", id.as_str()),
        ("csrf", &hidden(&html, "csrf")),
        ("username", "alice"),
        ("password", NEW_PASSWORD),
    ];
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());

    // The link works once.
    let (status, html) = reset(&app, &c, &token, "yet another password", "yet another password").await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
    let r = c.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(signs_in(&app, client_id, "alice", NEW_PASSWORD).await);

    assert_eq!(events(&app, alice_id, "password_reset_requested").len(), 1);
    assert_eq!(events(&app, alice_id, "password_reset").len(), 1);
    let trail = app.cli_json(&["audit", "list", "--user", alice_id], None).to_string();
    assert!(!trail.contains(&token) && !trail.contains(NEW_PASSWORD), "{trail}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("tessera_mails_total{result=\"sent\"} 1"), "{metrics}");
});

// A reset sets a password the user chose: a temporary one is temporary no more, and the next sign-in asks nothing.
// Regression: the page after a reset led to the device approval page of the code the reset's requester named,
// whoever that was: someone could ask for a reset of alice's account naming their own device's code, and lead her
// from her own mail to approving it (RFC 8628 §5.4). It leads to the device page, where her own code is typed.
with_mail!(a_reset_asked_for_by_a_device_sign_in_leads_to_the_code_entry, async |app, sink| {
    add_alice(&app);
    let b = other_browser();
    let page = b.get(app.url("/login/forgot?return=device&user_code=BCDF-GHJK")).send().await.unwrap();
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    let form = [("return", "device"), ("user_code", "BCDF-GHJK"), ("csrf", &csrf), ("login", "alice")];
    let r = post(&app, &b, "/login/forgot", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = token_of(&link_in(&sink.nth(1).await));
    let (status, page) = reset(&app, &other_browser(), &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(DONE) && page.contains("href=\"/device\"") && !page.contains("BCDF"), "{page}");
});

with_mail!(a_reset_replaces_a_temporary_password, async |app, sink| {
    let args = ["users", "add", "alice", "--password-stdin", "--email", "alice@example.com", "--temporary"];
    app.cli_json(&args, Some(PASSWORD));
    let (client_id, b, token) = alice_reset_link(&app, &sink).await;
    assert_eq!(reset(&app, &b, &token, NEW_PASSWORD, NEW_PASSWORD).await.0, StatusCode::OK);
    assert_eq!(app.cli_json(&["users", "show", "alice"], None)["password_change_required"], false);
    assert!(signs_in(&app, &client_id, "alice", NEW_PASSWORD).await, "no new password page");
});

with_mail!(a_link_stops_working_once_the_password_changed_another_way, async |app, sink| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
    let csrf = forgot_page(&app, &b, &id).await;
    // By email address, in another letter case.
    assert_eq!(ask(&app, &b, &id, &csrf, "Alice@Example.com").await.0, StatusCode::OK);
    assert_eq!(ask(&app, &b, &id, &csrf, "alice").await.0, StatusCode::OK);
    let (first, second) = (token_of(&link_in(&sink.nth(1).await)), token_of(&link_in(&sink.nth(2).await)));
    assert_ne!(first, second);
    let (status, _) = reset(&app, &b, &second, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (status, html) = reset(&app, &b, &first, "yet another password", "yet another password").await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
    assert!(signs_in(&app, client["client_id"].as_str().unwrap(), "alice", NEW_PASSWORD).await);
});

// Regression: a link was bound to the password hash alone, so one mailed to an address the account no longer has
// (an operator moved it away from a mailbox lost to someone) still reset the password.
with_mail!(a_link_stops_working_once_the_address_changed, async |app, sink| {
    use tessera::storage::{UserStore, UserUpdate};
    let alice = add_alice(&app);
    let (client_id, b, token) = alice_reset_link(&app, &sink).await;
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let alice_id = tessera::domain::UserId::parse(alice["id"].as_str().unwrap()).unwrap();
    let moved = UserUpdate { email: Some(Some("alice@elsewhere.example".into())), ..UserUpdate::default() };
    store.update_user(&alice_id, moved, tessera::domain::now()).await.unwrap();
    let (status, html) = reset(&app, &b, &token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
    assert!(signs_in(&app, &client_id, "alice", PASSWORD).await, "the password stays");
});

// Regression: the account of a username went before those of the address, so an account made as
// "alice@example.com" (a sign-up, a federated sign-in's preferred_username) took alice's links for itself.
with_mail!(a_username_that_looks_like_an_address_hides_no_account_of_it, async |app, sink| {
    add_alice(&app);
    let args = ["users", "add", "alice@example.com", "--password-stdin", "--email", "mallory@example.com"];
    app.cli_json(&args, Some(PASSWORD));
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
    let csrf = forgot_page(&app, &b, &id).await;
    assert_eq!(ask(&app, &b, &id, &csrf, "alice@example.com").await.0, StatusCode::OK);
    sink.nth(2).await;
    let mut to: Vec<String> = sink.mails().into_iter().flat_map(|m| m.to).collect();
    to.sort();
    assert_eq!(to, ["alice@example.com", "mallory@example.com"]);
});

with_mail!(unknown_and_mailless_accounts_get_the_same_answer_and_no_mail, async |app, sink| {
    add_alice(&app);
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(PASSWORD));
    app.cli_json(&["users", "add", "carol", "--password-stdin", "--email", "carol@example.com"], Some(PASSWORD));
    app.cli_json(&["users", "disable", "carol"], None);
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
    let csrf = forgot_page(&app, &b, &id).await;
    let (status, for_alice) = ask(&app, &b, &id, &csrf, "alice").await;
    assert_eq!(status, StatusCode::OK);
    for who in ["nobody", "nobody@example.com", "bob", "carol", "carol@example.com"] {
        let (status, page) = ask(&app, &b, &id, &csrf, who).await;
        assert_eq!((status, page.as_str()), (StatusCode::OK, for_alice.as_str()), "{who}");
    }
    // One more for alice: once both of hers arrived (and a moment more), none went to the others.
    assert_eq!(ask(&app, &b, &id, &csrf, "alice").await.0, StatusCode::OK);
    let second = sink.nth(2).await;
    assert_eq!(second.to, ["alice@example.com"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = sink.mails();
    assert!(mails.len() == 2 && mails.iter().all(|m| m.to == ["alice@example.com"]), "{mails:?}");
    // An empty form is refused with a message, not answered as sent.
    let (status, page) = ask(&app, &b, &id, &csrf, "  ").await;
    assert!(status == StatusCode::BAD_REQUEST && page.contains("Enter your username or email address."), "{page}");
});

with_mail!(
    requests_are_limited_per_ip_and_mails_per_account,
    |raw| {
        raw.limits.password_reset_ip_requests = 4;
        raw.limits.password_reset_user_requests = 2;
    },
    async |app, sink| {
        add_alice(&app);
        let client = add_client(&app, &["--public"]);
        let b = other_browser();
        let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
        let csrf = forgot_page(&app, &b, &id).await;
        for _ in 0..4 {
            let (status, page) = ask(&app, &b, &id, &csrf, "alice").await;
            assert!(status == StatusCode::OK && page.contains(SENT), "{page}");
        }
        sink.nth(2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.mails().len(), 2, "two mails to one account per window");
        let r = post(&app, &b, "/login/forgot", &[("interaction", &id), ("csrf", &csrf), ("login", "alice")]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "{wait}");
        assert!(r.text().await.unwrap().contains("Too many reset requests"));
    }
);

with_mail!(the_forms_refuse_other_origins_and_missing_csrf_tokens, async |app, sink| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
    let csrf = forgot_page(&app, &b, &id).await;
    let r = post(&app, &b, "/login/forgot", &[("interaction", &id), ("login", "alice")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let r = post(&app, &b, "/login/forgot", &[("interaction", &id), ("csrf", "forged"), ("login", "alice")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a wrong CSRF token");
    let form = [("interaction", id.as_str()), ("csrf", csrf.as_str()), ("login", "alice")];
    let r = b.post(app.url("/login/forgot")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "another origin");
    // Another browser has no such interaction.
    let (status, _) = ask(&app, &other_browser(), &id, &csrf, "alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails().is_empty(), "no mail for a refused form");

    assert_eq!(ask(&app, &b, &id, &csrf, "alice").await.0, StatusCode::OK);
    let token = token_of(&link_in(&sink.nth(1).await));
    let form = [("token", token.as_str()), ("password", NEW_PASSWORD), ("password_again", NEW_PASSWORD)];
    let r = b.post(app.url("/login/reset")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b.post(app.url("/login/reset")).header("Sec-Fetch-Site", "cross-site").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let client_id = client["client_id"].as_str().unwrap();
    assert!(signs_in(&app, client_id, "alice", PASSWORD).await, "nothing changed");
    assert_eq!(reset(&app, &b, &token, NEW_PASSWORD, NEW_PASSWORD).await.0, StatusCode::OK, "the link still works");
    let (status, html) = reset(&app, &b, "made-up-token", NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
});

with_mail!(
    an_expired_link_does_not_work,
    |raw| {
        raw.passwords.reset_link_seconds = 1;
    },
    async |app, sink| {
        add_alice(&app);
        let client = add_client(&app, &["--public"]);
        let b = other_browser();
        let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
        let csrf = forgot_page(&app, &b, &id).await;
        assert_eq!(ask(&app, &b, &id, &csrf, "alice").await.0, StatusCode::OK);
        let link = link_in(&sink.nth(1).await);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let r = b.get(&link).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains(DEAD_LINK));
        let (status, _) = reset(&app, &b, &token_of(&link), NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(signs_in(&app, client["client_id"].as_str().unwrap(), "alice", PASSWORD).await);
    }
);

both_backends!(without_mail_there_is_no_link_and_no_page, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (id, html) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
    assert!(!html.contains("/login/forgot"), "{html}");
    let r = b.get(app.url(&format!("/login/forgot?interaction={id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(&app, &b, "/login/forgot", &[("interaction", &id), ("login", "alice")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(b.get(app.url("/login/reset?token=x")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
});

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

both_backends!(
    an_undelivered_mail_is_counted_and_the_answer_stays_the_same,
    |raw| {
        raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{}", closed_port()));
        raw.mail.from = Some("no-reply@example.com".into());
        raw.mail.timeout_seconds = 2;
        raw.mail.retry_seconds = 1;
    },
    async |app| {
        add_alice(&app);
        let client = add_client(&app, &["--public"]);
        let b = other_browser();
        let (id, _) = login_page(&app, &b, client["client_id"].as_str().unwrap()).await;
        let csrf = forgot_page(&app, &b, &id).await;
        let (status, page) = ask(&app, &b, &id, &csrf, "alice").await;
        assert!(status == StatusCode::OK && page.contains(SENT), "{page}");
        let metrics = eventually("the failure counted", Duration::from_secs(10), || async {
            let metrics = app.get("/metrics").await.text().await.unwrap();
            metrics.contains("tessera_mails_total{result=\"failed\"} 1").then_some(metrics)
        })
        .await;
        // No connection may pass: given up after the third attempt.
        assert!(metrics.contains("tessera_mails_total{result=\"retried\"} 2\n"), "{metrics}");
    }
);

both_backends!(an_account_without_a_password_gets_no_mail, async |app| {
    // A federated sign-in makes alice at the downstream, with the upstream's address and no password.
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let f = crate::federation::Federation::around_with(app, false, crate::signin::REDIRECT, |raw| {
        raw.mail.smtp_url = Some(url);
        raw.mail.from = Some("no-reply@example.com".into());
    })
    .await;
    crate::federation::sign_in(&f, &crate::federation::browser()).await;
    let down = &f.down;
    let alice = &down.cli_json(&["users", "list"], None)["users"][0];
    assert_eq!((alice["username"].as_str(), alice["email"].as_str()), (Some("alice"), Some("alice@example.com")));
    down.cli_json(&["users", "add", "bob", "--password-stdin", "--email", "bob@example.com"], Some(PASSWORD));

    let b = other_browser();
    let html = b.get(down.url("/login/forgot?return=account")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let mut answers = Vec::new();
    for login in ["alice", "alice@example.com", "bob"] {
        let r = post(down, &b, "/login/forgot", &[("return", "account"), ("csrf", &csrf), ("login", login)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{login}");
        answers.push(r.text().await.unwrap());
    }
    assert!(answers.iter().all(|a| a.contains(SENT) && *a == answers[0]), "the same answer for each");
    // Bob's mail, asked for last, arrives; none went to alice before or with it.
    assert_eq!(sink.nth(1).await.to, ["bob@example.com"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 1, "{:?}", sink.mails());
});
