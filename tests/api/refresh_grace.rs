//! The refresh grace window: a client retrying a refresh within `tokens.refresh_grace_seconds` gets the very same
//! response, from the record the rotation kept in the rotated token's row.
use crate::helpers::*;
use crate::lifecycle::{code_flow, introspect, refresh, sign_in};
use crate::signin::token_basic;
use reqwest::StatusCode;
use serde_json::Value;

both_backends!(
    grace_window_retry_gets_the_identical_response,
    |raw| {
        raw.tokens.refresh_grace_seconds = 2;
    },
    async |app| {
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let rt = s(&g.tokens, "refresh_token").to_owned();
        let (st, a) = refresh(&app, &g, &rt).await;
        assert_eq!(st, StatusCode::OK);
        // A second later, still in the window.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (st, mut b) = refresh(&app, &g, &rt).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let (first_life, retry_life) = (a["expires_in"].as_i64().unwrap(), b["expires_in"].as_i64().unwrap());
        assert!(retry_life < first_life, "the same access token has less left to live: {retry_life} {first_life}");
        b["expires_in"] = a["expires_in"].clone();
        assert_eq!(a, b, "a retry within the window gets the very same tokens");
        assert_eq!(introspect(&app, &g, s(&a, "refresh_token")).await["active"], true);
        // After the window the same replay is reuse: the family is revoked.
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        let (st, e) = refresh(&app, &g, &rt).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        assert_eq!(introspect(&app, &g, s(&a, "refresh_token")).await["active"], false);
    }
);

// A retry inside the grace window got the kept response, tokens already dead, after the user was disabled or
// signed out everywhere, or the client's tokens revoked, since the first use.
both_backends!(a_grace_retry_is_refused_once_the_grant_no_longer_stands, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let changes: [(&[&str], &[&str]); 3] = [
        (&["users", "disable", "alice"], &["users", "enable", "alice"]),
        (&["users", "revoke", "alice"], &[]),
        (&["clients", "revoke-tokens", &g.client_id], &[]),
    ];
    for (change, undo) in changes {
        let fresh = code_flow(&app, &g.client_id, &g.secret, "openid offline_access").await;
        let rt = s(&fresh, "refresh_token");
        let (st, first) = refresh(&app, &g, rt).await;
        assert_eq!(st, StatusCode::OK, "{first}");
        app.cli_json(change, None);
        let (st, e) = refresh(&app, &g, rt).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{change:?}: {e}");
        if !undo.is_empty() {
            app.cli_json(undo, None);
        }
    }
});

both_backends!(
    a_grace_retry_after_a_key_rotation_is_still_the_identical_response,
    |raw| {
        raw.keys.refresh_seconds = 1;
    },
    async |app| {
        let g = sign_in(&app, "openid email offline_access", &[]).await;
        let rt = s(&g.tokens, "refresh_token").to_owned();
        let narrowed = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("scope", "openid email")];
        let (st, a) = token_basic(&app, &g.client_id, &g.secret, &narrowed).await;
        assert_eq!(st, StatusCode::OK, "{a}");
        assert_eq!(s(&a, "scope"), "email openid");

        // A new key signs from now on; the retry is still answered with what the old key signed.
        assert_eq!(app.cli_json(&["keys", "rotate", "--now"], None)["created"], true);
        let jwks =
            || async { app.api_client.get(app.url("/jwks")).send().await.unwrap().json::<Value>().await.unwrap() };
        while jwks().await["keys"].as_array().unwrap().len() < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (st, b) = refresh(&app, &g, &rt).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        // The same tokens; only expires_in counts down.
        let mut same = b.clone();
        same["expires_in"] = a["expires_in"].clone();
        assert_eq!(a, same, "a retry within the window gets the very same tokens");
        let (st, c) = refresh(&app, &g, s(&b, "refresh_token")).await;
        assert_eq!(st, StatusCode::OK, "{c}");
        let kid = |jwt: &str| josekit::jwt::decode_header(jwt).unwrap().claim("kid").unwrap().clone();
        assert_ne!(kid(s(&c, "access_token")), kid(s(&b, "access_token")), "the new key signs new tokens");
    }
);

both_backends!(twenty_concurrent_refreshes_rotate_once, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, url, id, secret, rt) =
            (app.api_client.clone(), app.url("/token"), g.client_id.clone(), g.secret.clone(), rt.clone());
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut issued = std::collections::HashSet::new();
    let mut ok = 0;
    for t in tasks {
        let (st, body) = t.await.unwrap();
        if st == StatusCode::OK {
            ok += 1;
            issued.insert(s(&body, "refresh_token").to_owned());
        } else {
            assert_eq!(s(&body, "error"), "invalid_grant", "{body}");
        }
    }
    // One rotation; every other request finds its record as soon as it finds the token used.
    assert_eq!(ok, 20, "every request is answered");
    assert_eq!(issued.len(), 1, "every success is the same rotation: {issued:?}");
    let new = issued.into_iter().next().unwrap();
    assert_eq!(introspect(&app, &g, &new).await["active"], true);
    assert_eq!(introspect(&app, &g, &rt).await["active"], false);
});

// The record is in the database, not in a cache: another instance answers the retry (on the embedded default its
// in-process cache is its own), and so does one whose Redis has lost everything.
both_backends!(a_grace_retry_is_answered_by_any_instance_whatever_the_cache_kept, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let (st, a) = refresh(&app, &g, &rt).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let peer = app.spawn_peer().await;
    app.forget_cache();
    for instance in [&peer, &app] {
        let (st, mut b) = refresh(instance, &g, &rt).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        b["expires_in"] = a["expires_in"].clone();
        assert_eq!(a, b, "a retry within the window gets the very same tokens");
    }
    assert_eq!(introspect(&app, &g, s(&a, "refresh_token")).await["active"], true);
});
