//! New recovery codes from the account page: a current code of the app replaces every earlier recovery code,
//! and wrong codes there count as failed sign-ins.
use crate::account::other_browser;
use crate::helpers::*;
use crate::otp::{account_csrf, code_form, enrol, post, send_code, App};
use crate::signin::{add_alice, hidden, location, PASSWORD};
use reqwest::StatusCode;

/// Alice's password at the account page's sign-in in browser `b`: the code step's form.
pub(crate) async fn code_step(app: &TestApp, b: &reqwest::Client) -> (String, String) {
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    code_form(&post(app, b, "/login", &form).await.text().await.unwrap())
}

/// Alice signed in to her account page in a new browser with recovery code `n`.
pub(crate) async fn signed_in_with_recovery(app: &TestApp, otp: &App, n: usize) -> reqwest::Client {
    let b = other_browser();
    let form = code_step(app, &b).await;
    assert_eq!(location(&send_code(app, &b, &form, &otp.recovery[n]).await), "/account");
    b
}

fn shown_codes(html: &str) -> Vec<String> {
    html.split("<li><code translate=\"no\">").skip(1).map(|part| part[..part.find('<').unwrap()].to_owned()).collect()
}

fn renewals(app: &TestApp, user_id: &str) -> usize {
    crate::otp::audit_reasons(app, user_id, "otp_recovery_codes_renewed").len()
}

both_backends!(new_recovery_codes_replace_the_earlier_ones, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let otp = enrol(&app).await;
    let b = signed_in_with_recovery(&app, &otp, 0).await;
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("action=\"/account/otp/recovery\"") && html.contains("New recovery codes"), "{html}");
    let csrf = hidden(&html, "csrf");

    // Another site cannot ask for them, nor a form without the page's token; a GET only shows the page.
    let form = [("csrf", csrf.as_str()), ("code", &otp.code(0))];
    let r = b.post(app.url("/account/otp/recovery")).header("Origin", "https://evil.example").form(&form);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(&app, &b, "/account/otp/recovery", &[("csrf", "forged"), ("code", &otp.code(0))]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(location(&b.get(app.url("/account/otp/recovery")).send().await.unwrap()), "/account");
    // A recovery code is not a code of the app.
    let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.recovery[1])]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(renewals(&app, alice_id), 0);

    let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.code(0))]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>New recovery codes</h1>") && html.contains("no longer work"), "{html}");
    let renewed = shown_codes(&html);
    assert_eq!(renewed.len(), 10, "{html}");
    assert!(renewed.iter().all(|c| !otp.recovery.contains(c)), "{renewed:?}");
    assert_eq!(renewals(&app, alice_id), 1);
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains(&renewed[0]), "shown once");
    // The code that asked for them is used.
    let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.code(0))]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // An earlier code, never used, signs in no more; a new one does, once.
    let b = other_browser();
    let form = code_step(&app, &b).await;
    let r = send_code(&app, &b, &form, &otp.recovery[2]).await;
    assert!(r.text().await.unwrap().contains("That code is not right"));
    assert_eq!(location(&send_code(&app, &b, &form, &renewed[0]).await), "/account");
    let b = other_browser();
    let form = code_step(&app, &b).await;
    assert!(send_code(&app, &b, &form, &renewed[0]).await.text().await.unwrap().contains("That code is not right"));
});

both_backends!(
    wrong_codes_for_new_recovery_codes_count_as_failed_sign_ins,
    |raw| {
        raw.limits.login_user_failures = 3;
    },
    async |app| {
        let alice = add_alice(&app);
        let otp = enrol(&app).await;
        let b = signed_in_with_recovery(&app, &otp, 0).await;
        let csrf = account_csrf(&app, &b).await;
        for _ in 0..2 {
            let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.wrong())]).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert!(r.text().await.unwrap().contains("Your recovery codes are unchanged."));
        }
        let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.wrong())]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the third failure locks the name");
        assert!(r.headers().contains_key("retry-after"));
        // Locked: the right code is refused unchecked, and so is the password.
        let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &otp.code(0))]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let b = other_browser();
        let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
        let form =
            [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
        assert_eq!(post(&app, &b, "/login", &form).await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(renewals(&app, alice["id"].as_str().unwrap()), 0);
    }
);
