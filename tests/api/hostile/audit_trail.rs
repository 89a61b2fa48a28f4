//! The audit trail of sign-in and consent: `login_failed`, `login_succeeded`, `consent_denied`,
//! `consent_granted`, each with the user (when known), the client, the IP, the user agent and the request id, and
//! never a password or a session cookie.
use super::*;
use crate::signin::{add_alice, add_client};
use reqwest::cookie::CookieStore;
use std::sync::Arc;

const AGENT: &str = "hostile-suite/1.0";
const WRONG: &str = "not-the-password-7781";
const GHOST_PASSWORD: &str = "ghost-password-9924";

both_backends!(sign_in_and_consent_are_audited_without_secrets, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id").to_owned();
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::clone(&jar))
        .user_agent(AGENT)
        .build()
        .unwrap();
    let (challenge, _) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, "");
    let form = open_login(&app, &b, &url).await;
    assert_eq!(submit_login(&app, &b, &form, "alice", WRONG).await.status(), StatusCode::OK);
    assert_eq!(submit_login(&app, &b, &form, "ghost", GHOST_PASSWORD).await.status(), StatusCode::OK);
    // Deny, then allow.
    let back = drive(&app, &b, &url, "deny").await;
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("access_denied"));
    let back = drive(&app, &b, &url, "allow").await;
    assert!(query_of(&back).contains_key("code"));
    let cookies = jar.cookies(&url::Url::parse(&app.address).unwrap()).unwrap().to_str().unwrap().to_owned();
    let session = cookies.split("; ").find_map(|c| c.strip_prefix("tessera=")).expect("a session cookie").to_owned();

    let events = audit_events(&app);
    let common = |e: &Value, kind: &str| {
        assert_eq!(e["client_id"], id.as_str(), "{kind}: {e}");
        assert_eq!(e["ip"], "127.0.0.1", "{kind}: {e}");
        assert_eq!(e["user_agent"], AGENT, "{kind}: {e}");
        assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{kind}: {e}");
    };
    let failed = events_of(&events, "login_failed");
    assert_eq!(failed.len(), 2, "{events:?}");
    for e in &failed {
        common(e, "login_failed");
    }
    let wrong = failed.iter().find(|e| e["details"]["reason"] == "wrong_password").expect("a wrong password");
    assert_eq!(wrong["user_id"], alice_id.as_str());
    let unknown = failed.iter().find(|e| e["details"]["reason"] == "unknown_user").expect("an unknown user");
    assert!(unknown["user_id"].is_null(), "{unknown}");

    let succeeded = events_of(&events, "login_succeeded");
    assert_eq!(succeeded.len(), 1, "{events:?}");
    common(succeeded[0], "login_succeeded");
    assert_eq!(succeeded[0]["user_id"], alice_id.as_str());
    assert_eq!(succeeded[0]["details"]["amr"], serde_json::json!(["pwd"]));

    for kind in ["consent_denied", "consent_granted"] {
        let found = events_of(&events, kind);
        assert_eq!(found.len(), 1, "{kind}: {events:?}");
        common(found[0], kind);
        assert_eq!(found[0]["user_id"], alice_id.as_str());
        assert_eq!(found[0]["details"]["scope"], "openid");
    }

    // No secret in any event.
    let all = serde_json::to_string(&events).unwrap();
    for secret in [PASSWORD, WRONG, GHOST_PASSWORD, session.as_str(), "ghost"] {
        assert!(!all.contains(secret), "{secret:?} is in the audit trail: {all}");
    }
});

// A proxy in front (127.0.0.1, where the test client connects from) that appends its own X-Forwarded-For line:
// the client is the address nearest that proxy, on the last line, not what the first line (the client's own
// header) claims.
both_backends!(
    forwarded_for_lines_are_read_in_order_from_a_trusted_proxy,
    |raw| {
        raw.http.trusted_proxies = vec!["127.0.0.1".into()];
    },
    async |app| {
        let ip = ip_of_a_failed_sign_in(&app, &["203.0.113.9", "198.51.100.7, 127.0.0.1"]).await;
        assert_eq!(ip, "198.51.100.7");
    }
);

// Proxies given as a range (an ingress whose pod addresses change): every hop inside it is stepped over, and the
// client is the nearest address outside it.
both_backends!(
    forwarded_for_is_walked_over_a_trusted_proxy_range,
    |raw| {
        raw.http.trusted_proxies = vec!["127.0.0.0/8".into(), "fd00::/8".into()];
    },
    async |app| {
        let ip = ip_of_a_failed_sign_in(&app, &["203.0.113.9, 198.51.100.7, 127.0.0.9, fd00::2"]).await;
        assert_eq!(ip, "198.51.100.7");
    }
);

/// Alice's failed sign-in, sent with these `X-Forwarded-For` lines: the `ip` its audit event records.
async fn ip_of_a_failed_sign_in(app: &TestApp, forwarded_for: &[&str]) -> Value {
    add_alice(app);
    let client = add_client(app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let b = browser();
    let (challenge, _) = pkce_pair();
    let form = open_login(app, &b, &authorize_url(app, &id, &challenge, "")).await;
    let mut post = b.post(app.url("/login")).header("Origin", &app.address);
    for line in forwarded_for {
        post = post.header("x-forwarded-for", *line);
    }
    let form = [
        ("interaction", form.interaction.as_str()),
        ("csrf", form.csrf.as_str()),
        ("username", "alice"),
        ("password", WRONG),
    ];
    post.form(&form).send().await.unwrap();
    let events = audit_events(app);
    let failed = events_of(&events, "login_failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    failed[0]["ip"].clone()
}

// A `User-Agent` that is not UTF-8 (or not ASCII) is kept with U+FFFD for what cannot be read, not dropped, and
// no longer than 256 characters.
both_backends!(
    user_agents_that_are_not_utf8_are_kept_lossily,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let long = "é".repeat(300);
        let sent: [(&[u8], String); 3] = [
            (b"probe/\xff\xfe 1.0", "probe/\u{fffd}\u{fffd} 1.0".into()),
            ("sonde/1.0 (été)".as_bytes(), "sonde/1.0 (été)".into()),
            (long.as_bytes(), "é".repeat(256)),
        ];
        for (agent, _) in &sent {
            let r = app
                .api_client
                .post(app.url("/register"))
                .header("user-agent", reqwest::header::HeaderValue::from_bytes(agent).unwrap())
                .json(&serde_json::json!({ "redirect_uris": ["ftp://app.example/cb"] }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        }
        let events = audit_events(&app);
        let agents: Vec<&Value> =
            events_of(&events, "client_registration_refused").iter().map(|e| &e["user_agent"]).collect();
        for (_, stored) in &sent {
            assert!(agents.iter().any(|a| *a == stored), "{stored:?} not in {agents:?}");
        }
    }
);
