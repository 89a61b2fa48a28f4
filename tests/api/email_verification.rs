//! Email verification (`[mail]`): the link a sign-up mails, the account page's "Send a verification link" (its
//! form checks and limit), the page the link opens (once, not expired, only for the address it was sent to), and
//! nothing of it while mail is off. Also the account and device sign-ins' "Forgot your password?".
use crate::account::{other_browser, sign_in_to_account};
use crate::helpers::*;
use crate::otp::post;
use crate::password_reset::{events, link_in, token_of, with_mail, DONE, NEW_PASSWORD, SENT};
use crate::signin::{add_alice, add_client, discovered_rp, hidden, location, query_of, token_basic, PASSWORD};
use crate::signup::{fields, on, sign_up_page, submit, user_named};
use crate::smtp_sink::SmtpSink;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const VERIFIED: &str = "Your email address is verified";
const DEAD_LINK: &str = "This verification link does not work";
const CONFIRM: &str = "<h1>Verify your email address</h1>";

/// The account page of browser `b`, signed in.
async fn account_page(app: &TestApp, b: &reqwest::Client) -> String {
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers().get("location"));
    r.text().await.unwrap()
}

/// Posts the account page's "Send a verification link" from browser `b`.
async fn ask_for_link(app: &TestApp, b: &reqwest::Client) -> reqwest::Response {
    let csrf = hidden(&account_page(app, b).await, "csrf");
    post(app, b, "/account/email/verify", &[("csrf", &csrf)]).await
}

/// Opens `link` in a browser of its own, as a mail client would: the status and the page.
async fn open(link: &str) -> (StatusCode, String) {
    let r = other_browser().get(link).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Opens `link` in a browser of its own and presses its button: the status and the page.
async fn confirm(app: &TestApp, link: &str) -> (StatusCode, String) {
    let b = other_browser();
    let r = b.get(link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(CONFIRM) && html.contains("action=\"/login/verify-email\""), "{html}");
    let r = post(app, &b, "/login/verify-email", &[("token", &hidden(&html, "token"))]).await;
    (r.status(), r.text().await.unwrap())
}

fn verified(app: &TestApp, username: &str) -> bool {
    user_named(app, username).unwrap()["email_verified"].as_bool().unwrap()
}

with_mail!(
    a_sign_up_mails_a_link_that_verifies_the_address,
    |raw| {
        on(raw);
    },
    async |app, sink| {
        let client = add_client(&app, &[]);
        let http = oidc_http_client();
        let rp = discovered_rp(&app, &client).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _csrf, _nonce) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let b = other_browser();
        let login = location(&b.get(url.as_str()).send().await.unwrap());
        let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
        let page =
            sign_up_page(&app, &b, &format!("/login/register?interaction={}", hidden(&html, "interaction"))).await;
        let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
        let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
        let form = [
            ("interaction", hidden(&html, "interaction")),
            ("csrf", hidden(&html, "csrf")),
            ("decision", "allow".into()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let back = location(&post(&app, &b, "/consent", &form).await);
        let tokens = rp
            .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("token exchange");
        let userinfo = || async {
            let r = app.api_client.get(app.url("/userinfo")).bearer_auth(tokens.access_token().secret());
            let info: Value = r.send().await.unwrap().json().await.unwrap();
            info
        };
        assert_eq!(userinfo().await["email_verified"], false);

        let mail = sink.nth(1).await;
        assert_eq!(mail.to, ["new@example.com"]);
        assert_eq!(mail.header("Subject").as_deref(), Some("Verify your email address"));
        let link = link_in(&mail);
        assert!(link.starts_with(&format!("{}/login/verify-email?token=", app.address)), "{link}");
        let (status, html) = confirm(&app, &link).await;
        assert!(status == StatusCode::OK && html.contains(VERIFIED), "{html}");
        let info = userinfo().await;
        assert_eq!((&info["email"], &info["email_verified"]), (&"new@example.com".into(), &true.into()), "{info}");

        // The link works once.
        let (status, html) = open(&link).await;
        assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
        let id = user_named(&app, "newcomer").unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(events(&app, &id, "email_verification_sent").len(), 1);
        assert_eq!(events(&app, &id, "email_verified").len(), 1);
        let trail = app.cli_json(&["audit", "list", "--user", &id], None).to_string();
        assert!(!trail.contains(&token_of(&link)), "{trail}");
    }
);

with_mail!(the_account_page_sends_a_link_for_an_unverified_address, async |app, sink| {
    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, &b).await;
    assert!(html.contains("alice@example.com</bdi> <span class=\"tag\" id=\"email-state\">not verified"), "{html}");
    assert!(html.contains("action=\"/account/email/verify\""), "{html}");
    let r = ask_for_link(&app, &b).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account?done=verification-sent");
    let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("We sent a verification link to your email address."), "{html}");
    let mail = sink.nth(1).await;
    assert_eq!(mail.to, ["alice@example.com"]);
    let (status, html) = confirm(&app, &link_in(&mail)).await;
    assert!(status == StatusCode::OK && html.contains(VERIFIED), "{html}");
    assert!(verified(&app, "alice"));
    let html = account_page(&app, &b).await;
    assert!(html.contains("id=\"email-state\">verified") && !html.contains("/account/email/verify"), "{html}");
});

with_mail!(
    an_expired_link_does_not_verify,
    |raw| {
        raw.users.email_verification_link_seconds = 1;
    },
    async |app, sink| {
        add_alice(&app);
        let b = other_browser();
        sign_in_to_account(&app, &b).await;
        assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
        let link = link_in(&sink.nth(1).await);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (status, html) = open(&link).await;
        assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
        assert!(!verified(&app, "alice"));
    }
);

with_mail!(a_link_for_an_address_since_changed_does_not_verify, async |app, sink| {
    let alice = add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
    let link = link_in(&sink.nth(1).await);

    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (admin["client_id"].as_str().unwrap(), admin["client_secret"].as_str().unwrap());
    let (_, token) =
        token_basic(&app, id, secret, &[("grant_type", "client_credentials"), ("scope", "tessera:admin")]).await;
    let path = format!("/admin/api/users/{}", alice["id"].as_str().unwrap());
    let r = app.api_client.patch(app.url(&path)).bearer_auth(token["access_token"].as_str().unwrap());
    let r = r.json(&json!({ "email": "alice@example.org" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let (status, html) = confirm(&app, &link).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
    assert!(!verified(&app, "alice"));
    // A link for the new address does.
    assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
    let mail = sink.nth(2).await;
    assert_eq!(mail.to, ["alice@example.org"]);
    assert_eq!(confirm(&app, &link_in(&mail)).await.0, StatusCode::OK);
    assert!(verified(&app, "alice"));
});

with_mail!(
    the_account_form_checks_csrf_and_origin_and_is_limited,
    |raw| {
        raw.limits.email_verification_user_requests = 2;
    },
    async |app, sink| {
        add_alice(&app);
        let b = other_browser();
        sign_in_to_account(&app, &b).await;
        let csrf = hidden(&account_page(&app, &b).await, "csrf");
        assert_eq!(post(&app, &b, "/account/email/verify", &[]).await.status(), StatusCode::FORBIDDEN);
        let forged = post(&app, &b, "/account/email/verify", &[("csrf", "forged")]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let r = b.post(app.url("/account/email/verify")).header("Origin", "https://evil.example");
        assert_eq!(r.form(&[("csrf", &csrf)]).send().await.unwrap().status(), StatusCode::FORBIDDEN);
        // Without a session, the form asks to sign in.
        let r = post(&app, &other_browser(), "/account/email/verify", &[("csrf", &csrf)]).await;
        assert_eq!(location(&r), "/login?return=account");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(sink.mails().is_empty(), "no mail for a refused form");

        for _ in 0..2 {
            assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
        }
        let r = ask_for_link(&app, &b).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "{wait}");
        assert!(r.text().await.unwrap().contains("Too many verification links"));
        sink.nth(2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.mails().len(), 2);
    }
);

both_backends!(without_mail_nothing_is_sent_or_offered, |raw| { on(raw) }, async |app| {
    let client = add_client(&app, &["--public"]);
    let b = other_browser();
    let (challenge, _) = crate::signin::pkce_pair();
    let login = location(
        &b.get(crate::signin::auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, ""))
            .send()
            .await
            .unwrap(),
    );
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let page = sign_up_page(&app, &b, &format!("/login/register?interaction={}", hidden(&html, "interaction"))).await;
    let r = submit(&app, &b, &page, &fields("newcomer", NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let user = user_named(&app, "newcomer").unwrap();
    assert!(events(&app, user["id"].as_str().unwrap(), "email_verification_sent").is_empty());

    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, &b).await;
    assert!(html.contains("not verified") && !html.contains("/account/email/verify"), "{html}");
    let r = post(&app, &b, "/account/email/verify", &[("csrf", &hidden(&html, "csrf"))]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(b.get(app.url("/login/verify-email?token=x")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let r = post(&app, &b, "/login/verify-email", &[("token", "x")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
});

with_mail!(opening_the_link_does_not_verify_pressing_its_button_does, async |app, sink| {
    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
    let link = link_in(&sink.nth(1).await);
    let token = token_of(&link);
    // A mail scanner opens the link, perhaps more than once: the page asks, and nothing is used up.
    for _ in 0..3 {
        let (status, html) = open(&link).await;
        assert!(status == StatusCode::OK && html.contains(CONFIRM) && html.contains("Verify my address"), "{html}");
        assert_eq!(hidden(&html, "token"), token);
    }
    assert!(!verified(&app, "alice"));
    let (status, html) = open(&app.url("/login/verify-email?token=made-up")).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");

    // The form of another site is refused, and uses nothing up.
    let c = other_browser();
    let form = [("token", token.as_str())];
    let r = c.post(app.url("/login/verify-email")).header("Origin", "https://evil.example").form(&form);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = c.post(app.url("/login/verify-email")).header("Sec-Fetch-Site", "cross-site").form(&form);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(&app, &c, "/login/verify-email", &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no token");
    assert!(!verified(&app, "alice"));

    let (status, html) = confirm(&app, &link).await;
    assert!(status == StatusCode::OK && html.contains(VERIFIED), "{html}");
    assert!(verified(&app, "alice"));
    // Used: the page and its form say so.
    let (status, html) = open(&link).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains(DEAD_LINK), "{html}");
    let r = post(&app, &c, "/login/verify-email", &form).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let id = user_named(&app, "alice").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(events(&app, &id, "email_verified").len(), 1);
});

with_mail!(the_mail_has_an_html_part_with_the_same_link_and_escaped_values, async |app, sink| {
    let name = "Al <b>\"&\"</b> <script>x</script>";
    app.cli_json(
        &["users", "add", "alice", "--password-stdin", "--email", "alice@example.com", "--name", name],
        Some(crate::signin::PASSWORD),
    );
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    assert_eq!(ask_for_link(&app, &b).await.status(), StatusCode::SEE_OTHER);
    let mail = sink.nth(1).await;
    let content_type = mail.header("Content-Type").unwrap();
    assert!(content_type.starts_with("multipart/alternative"), "{content_type}");
    let (text, link) = (mail.body(), link_in(&mail));
    assert!(text.contains(&format!("Hello {name},")), "the text part stays plain: {text}");
    let html = mail.html().unwrap_or_else(|| panic!("no HTML part: {}", mail.data));
    // The same link, its `&` escaped as every value in the markup.
    let link = link.replace('&', "&#38;");
    assert!(html.contains(&format!("<a href=\"{link}\"")) && html.contains(&format!(">{link}</span>")), "{html}");
    assert!(html.contains("<html lang=\"en\">") && html.contains("<h1"), "{html}");
    assert!(!html.contains("<b>") && !html.contains("<script"), "escaped: {html}");
    assert!(html.contains("Al &#60;b&#62;&#34;&#38;&#34;&#60;/b&#62;"), "{html}");
    assert!(!html.contains("<img") && !html.contains("src="), "nothing to load: {html}");
});

/// The forgot page at `query` in browser `b`, reached from the sign-in page at `login`: its CSRF token.
async fn forgot_from(app: &TestApp, b: &reqwest::Client, login: &str, query: &str) -> String {
    let html = b.get(app.url(login)).send().await.unwrap().text().await.unwrap();
    let href = format!("href=\"/login/forgot?{}\">Forgot your password?</a>", query.replace('&', "&#38;"));
    assert!(html.contains(&href), "{html}");
    let r = b.get(app.url(&format!("/login/forgot?{query}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    hidden(&r.text().await.unwrap(), "csrf")
}

with_mail!(the_account_and_device_sign_ins_offer_forgot_and_lead_back, async |app, sink| {
    add_alice(&app);
    let b = other_browser();
    let csrf = forgot_from(&app, &b, "/login?return=account", "return=account").await;
    let form = [("return", "account"), ("csrf", "forged"), ("login", "alice")];
    assert_eq!(post(&app, &b, "/login/forgot", &form).await.status(), StatusCode::FORBIDDEN);
    let form = [("return", "account"), ("csrf", csrf.as_str()), ("login", "alice")];
    let r = post(&app, &b, "/login/forgot", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(SENT) && html.contains("href=\"/login?return=account\""), "{html}");
    let token = token_of(&link_in(&sink.nth(1).await));
    let form = [("token", token.as_str()), ("password", NEW_PASSWORD), ("password_again", NEW_PASSWORD)];
    let html = post(&app, &b, "/login/reset", &form).await.text().await.unwrap();
    assert!(html.contains(DONE) && html.contains("id=\"sign-in\" href=\"/account\""), "{html}");

    let code = "BCDFGHJK";
    let login = format!("/login?return=device&user_code={code}");
    let query = format!("return=device&user_code={code}");
    let csrf = forgot_from(&app, &b, &login, &query).await;
    let form = [("return", "device"), ("user_code", code), ("csrf", csrf.as_str()), ("login", "alice")];
    assert_eq!(post(&app, &b, "/login/forgot", &form).await.status(), StatusCode::OK);
    let token = token_of(&link_in(&sink.nth(2).await));
    let form = [("token", token.as_str()), ("password", PASSWORD), ("password_again", PASSWORD)];
    let html = post(&app, &b, "/login/reset", &form).await.text().await.unwrap();
    // The device page, where the code on the device is typed: whoever asked for the link chose this one.
    assert!(html.contains(DONE) && html.contains("href=\"/device\"") && !html.contains(code), "{html}");
});
