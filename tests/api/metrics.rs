//! `GET /metrics`: the Prometheus text moves with what the server did, and names no client, user or token.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, auth_url, browse, pkce_pair, query_of, REDIRECT};
use reqwest::StatusCode;
use serde_json::Value;

/// The value of the sample `series` (name and labels exactly as written), 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse::<f64>().unwrap_or_else(|e| panic!("{series}: {v}: {e}")))
        .next()
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.text().await.unwrap()
}

async fn token(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app.api_client.post(app.url("/token")).basic_auth(id, Some(secret)).form(form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

both_backends!(metrics_count_tokens_errors_and_sign_ins, async |app| {
    let before = scrape(&app).await;
    assert!(before.contains("# TYPE tessera_tokens_issued_total counter\n"), "{before}");
    assert!(before.contains("# TYPE tessera_http_request_duration_seconds histogram\n"), "{before}");

    let service = app.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
    let (id, secret) = (service["client_id"].as_str().unwrap(), service["client_secret"].as_str().unwrap());
    let (status, issued) = token(&app, id, secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let (status, refused) = token(&app, id, "not-the-secret", &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");

    // A sign-in, and its code redeemed twice: the second is a replay.
    add_alice(&app);
    let web = add_client(&app, &[]);
    let (web_id, web_secret) = (web["client_id"].as_str().unwrap(), web["client_secret"].as_str().unwrap());
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, web_id, &challenge, ""), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    let (status, first) = token(&app, web_id, web_secret, &form).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, replay) = token(&app, web_id, web_secret, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{replay}");
    let _ = app.get("/no/such/page").await;

    let after = scrape(&app).await;
    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(moved(r#"tessera_tokens_issued_total{grant_type="client_credentials"}"#), 1.0, "{after}");
    assert_eq!(moved(r#"tessera_tokens_issued_total{grant_type="authorization_code"}"#), 1.0, "{after}");
    assert_eq!(moved(r#"tessera_token_errors_total{error="invalid_client"}"#), 1.0, "{after}");
    assert_eq!(moved(r#"tessera_token_errors_total{error="invalid_grant"}"#), 1.0, "{after}");
    assert_eq!(moved(r#"tessera_sign_ins_total{result="succeeded"}"#), 1.0, "{after}");
    assert_eq!(moved("tessera_code_replays_total"), 1.0, "{after}");
    assert_eq!(moved(r#"tessera_http_requests_total{route="/token",status="2xx"}"#), 2.0, "{after}");
    assert_eq!(moved(r#"tessera_http_requests_total{route="/token",status="4xx"}"#), 2.0, "{after}");
    assert_eq!(moved(r#"tessera_http_request_duration_seconds_count{route="/token"}"#), 4.0, "{after}");
    assert_eq!(moved(r#"tessera_http_request_duration_seconds_bucket{route="/token",le="+Inf"}"#), 4.0, "{after}");
    assert!(sample(&after, r#"tessera_http_requests_total{route="unmatched",status="4xx"}"#) >= 1.0, "{after}");
    // The first scrape was counted by the time of the second.
    assert!(sample(&after, r#"tessera_http_requests_total{route="/metrics",status="2xx"}"#) >= 1.0, "{after}");
    assert!(sample(&after, "tessera_process_start_time_seconds") > 1.7e9, "{after}");
    assert!(sample(&after, r#"tessera_blocking_pool_threads{pool="database"}"#) >= 1.0, "{after}");

    // Routes by pattern, never by path; no client, user, token, secret or address.
    let access_token = issued["access_token"].as_str().unwrap();
    for secret_or_name in [id, secret, web_id, web_secret, access_token, &code, "alice", "127.0.0.1", "/no/such/page"] {
        assert!(!after.contains(secret_or_name), "{secret_or_name} in /metrics:\n{after}");
    }
});

/// `tessera_sign_ins_total{result="locked"}` now.
async fn locked_sign_ins(app: &TestApp) -> f64 {
    sample(&scrape(app).await, r#"tessera_sign_ins_total{result="locked"}"#)
}

/// `r`, from `what`, was refused while locked and counted once since `seen`, which it moves on.
async fn counted_once(app: &TestApp, what: &str, r: reqwest::Response, seen: &mut f64) {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
    let now = locked_sign_ins(app).await;
    assert_eq!(now - *seen, 1.0, "{what}");
    *seen = now;
}

both_backends!(
    every_sign_in_refused_while_locked_counts_once,
    |raw| {
        raw.limits.login_user_failures = 3;
    },
    async |app| {
        use crate::otp::{account_csrf, enrol, post, send_code};
        use crate::otp_recovery::{code_step, signed_in_with_recovery};
        let alice = add_alice(&app);
        let otp = enrol(&app).await;
        let b = signed_in_with_recovery(&app, &otp, 0).await;
        let csrf = account_csrf(&app, &b).await;
        // A code step begun before the lock, in another browser.
        let other = crate::account::other_browser();
        let pending = code_step(&app, &other).await;
        for _ in 0..3 {
            post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &otp.wrong())]).await;
        }

        let mut seen = locked_sign_ins(&app).await;
        let login = crate::account::other_browser();
        let html = login.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
        let form = [
            ("return", "account"),
            ("csrf", &crate::signin::hidden(&html, "csrf")),
            ("username", "alice"),
            ("password", crate::signin::PASSWORD),
        ];
        let password_form = [
            ("csrf", csrf.as_str()),
            ("current_password", crate::signin::PASSWORD),
            ("new_password", "a new and longer secret"),
            ("new_password_again", "a new and longer secret"),
        ];
        let code = otp.code(0);
        let r = post(&app, &login, "/login", &form).await;
        counted_once(&app, "the login page", r, &mut seen).await;
        let r = send_code(&app, &other, &pending, &code).await;
        counted_once(&app, "the code step", r, &mut seen).await;
        let r = post(&app, &b, "/account/password", &password_form).await;
        counted_once(&app, "the password change", r, &mut seen).await;
        let r = post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &code)]).await;
        counted_once(&app, "turning two-step verification off", r, &mut seen).await;
        let r = post(&app, &b, "/account/otp/recovery", &[("csrf", &csrf), ("code", &code)]).await;
        counted_once(&app, "new recovery codes", r, &mut seen).await;
        // The audit trail records the lock's refusals once.
        let events = app.cli_json(&["audit", "list", "--user", alice["id"].as_str().unwrap()], None);
        let kinds = events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "login_refused_locked");
        assert_eq!(kinds.count(), 1, "{events}");
    }
);
