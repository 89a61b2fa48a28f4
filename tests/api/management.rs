//! The management listener (`http.management_bind`): `/metrics` moves there from the public listener, the probes
//! are on both, and nothing else is served on it.
use crate::helpers::*;
use crate::metrics::sample;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// `GET url`, with a client of its own (the app's keeps cookies).
async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn scrape(management: &str) -> String {
    let resp = get(&format!("{management}/metrics")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    resp.text().await.unwrap()
}

both_backends!(without_a_management_listener_metrics_are_served_on_the_public_one, async |app| {
    assert_eq!(app.management_address, None);
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("# TYPE tessera_tokens_issued_total counter\n"));
});

both_backends!(
    a_management_listener_serves_metrics_of_the_public_requests_and_nothing_else,
    |raw| {
        raw.http.management_bind = Some("127.0.0.1:0".into());
    },
    async |app| {
        let management = app.management_address.clone().expect("a management listener");
        assert_ne!(management, app.address);
        let before = scrape(&management).await;

        // Public requests, counted in the registry the management listener shows.
        assert_eq!(app.get("/jwks").await.status(), StatusCode::OK);
        let refused = app
            .api_client
            .post(app.url("/token"))
            .basic_auth("no-such-client", Some("x"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        // `/metrics` is no longer public: an unknown path there.
        let public_metrics = app.get("/metrics").await;
        assert_eq!(public_metrics.status(), StatusCode::NOT_FOUND);
        assert_eq!(public_metrics.text().await.unwrap(), "");

        let after = scrape(&management).await;
        let moved = |series: &str| sample(&after, series) - sample(&before, series);
        assert_eq!(moved(r#"tessera_http_requests_total{route="/jwks",status="2xx"}"#), 1.0, "{after}");
        assert_eq!(moved(r#"tessera_token_errors_total{error="invalid_client"}"#), 1.0, "{after}");
        assert_eq!(moved(r#"tessera_http_requests_total{route="unmatched",status="4xx"}"#), 1.0, "{after}");
        assert_eq!(moved(r#"tessera_http_requests_total{route="/metrics",status="2xx"}"#), 1.0, "{after}");

        // The probes answer on both listeners, from the same backends.
        for base in [&app.address, &management] {
            let resp = get(&format!("{base}/healthz")).await;
            assert_eq!(resp.status(), StatusCode::OK, "{base}");
            assert_eq!(resp.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
            let resp = get(&format!("{base}/readyz")).await;
            assert_eq!(resp.status(), StatusCode::OK, "{base}");
            assert!(resp.headers().contains_key("x-request-id"), "{base}");
            assert_eq!(
                resp.json::<Value>().await.unwrap(),
                json!({ "status": "ready", "database": "up", "cache": "up" })
            );
        }

        // No protocol endpoint, page, asset or API on the management listener.
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for (method, path) in [
            ("POST", "/token"),
            ("GET", "/authorize?client_id=x&response_type=code"),
            ("GET", "/.well-known/openid-configuration"),
            ("GET", "/jwks"),
            ("GET", "/login"),
            ("GET", "/account"),
            ("POST", "/register"),
            ("GET", "/admin/api/clients"),
            ("GET", "/static/tessera.css"),
        ] {
            let resp = client
                .request(method.parse().unwrap(), format!("{management}{path}"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(resp.text().await.unwrap(), "", "{method} {path}");
        }
        // Those are the same answers from the public listener: the routes exist there.
        assert_eq!(app.get("/.well-known/openid-configuration").await.status(), StatusCode::OK);
        assert_eq!(app.get("/authorize").await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/static/tessera.css").await.status(), StatusCode::OK);
    }
);

/// `tessera --json serve` with a management listener: the JSON line names both addresses, each serves what it
/// should, and SIGTERM stops the process with both listeners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_names_the_management_listener_and_stops_it_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [("TESSERA__HTTP__BIND", "127.0.0.1:0"), ("TESSERA__HTTP__MANAGEMENT_BIND", "127.0.0.1:0")];
    let path = dir.path().to_owned();
    let (mut child, v) = tokio::task::spawn_blocking(move || serve_json(&path, &settings)).await.unwrap();
    let (public, management) = (v["listening"].as_str().unwrap(), v["management"].as_str().unwrap());
    assert!(management.starts_with("127.0.0.1:") && !management.ends_with(":0") && management != public, "{v}");

    assert_eq!(get(&format!("http://{management}/metrics")).await.status(), StatusCode::OK);
    assert_eq!(get(&format!("http://{public}/metrics")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&format!("http://{public}/healthz")).await.status(), StatusCode::OK);

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: sends a signal to the child this test started and still owns (not yet waited for).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = eventually("serve to exit after SIGTERM", Duration::from_secs(20), || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(status.success(), "{status}");
    let refused = reqwest::get(format!("http://{management}/healthz")).await;
    assert!(refused.is_err_and(|e| e.is_connect()), "the management listener is closed");
}
