//! Replayed tokens: an access token after its revocation (RFC 9700 §2.2, RFC 7009), a rotated refresh token
//! (RFC 9700 §4.14.2: the whole family is revoked), and a redeemed authorization code (RFC 9700 §4.5, RFC 6749
//! §4.1.2: what it issued is revoked).
use super::*;
use crate::signin::{add_alice, add_client};

struct Grant {
    id: String,
    secret: String,
    tokens: Value,
}

async fn grant(app: &TestApp, scope: &str) -> Grant {
    add_alice(app);
    let client = add_client(app, &[]);
    let (id, secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
    let (challenge, verifier) = pkce_pair();
    let url = authorize_url(app, &id, &challenge, "").replace("scope=openid", &format!("scope={}", urlencode(scope)));
    let back = drive(app, &app.api_client, &url, "allow").await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (st, tokens) = token(app, Some((&id, &secret)), &form).await;
    assert_eq!(st, StatusCode::OK, "{tokens}");
    // A replay of the same code: refused, and what it issued is revoked.
    let (st, e) = token(app, Some((&id, &secret)), &form).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    Grant { id, secret, tokens }
}

impl Grant {
    async fn introspect(&self, app: &TestApp, token: &str) -> Value {
        let r = app
            .api_client
            .post(app.url("/introspect"))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn revoke(&self, app: &TestApp, token: &str) {
        let r = app
            .api_client
            .post(app.url("/revoke"))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn refresh(&self, app: &TestApp, rt: &str) -> (StatusCode, Value) {
        token(app, Some((&self.id, &self.secret)), &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
    }
}

async fn userinfo(app: &TestApp, at: &str) -> reqwest::Response {
    app.api_client.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap()
}

both_backends!(code_replay_revokes_what_the_code_issued, async |app| {
    let g = grant(&app, "openid offline_access").await;
    let r = userinfo(&app, s(&g.tokens, "access_token")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the access token of a replayed code is revoked");
    assert_eq!(g.introspect(&app, s(&g.tokens, "refresh_token")).await["active"], false);
});

both_backends!(rfc9700_2_2_access_token_replay_after_revocation, async |app| {
    // Signing in once more after the code replay of `grant` revoked the first tokens.
    let g = grant(&app, "openid").await;
    let (challenge, verifier) = pkce_pair();
    let back = drive(&app, &app.api_client, &authorize_url(&app, &g.id, &challenge, ""), "allow").await;
    let code = query_of(&back).remove("code").unwrap();
    let (_, tokens) = token(
        &app,
        Some((&g.id, &g.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    let at = s(&tokens, "access_token").to_owned();
    assert_eq!(userinfo(&app, &at).await.status(), StatusCode::OK);
    g.revoke(&app, &at).await;
    let r = userinfo(&app, &at).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_eq!(g.introspect(&app, &at).await, serde_json::json!({ "active": false }));
    // Revoking again is a quiet success and changes nothing.
    g.revoke(&app, &at).await;
    assert_eq!(userinfo(&app, &at).await.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(
    rfc9700_4_14_2_refresh_token_replay_revokes_the_family,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
    },
    async |app| {
        add_alice(&app);
        let client = add_client(&app, &[]);
        let (id, secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
        let (challenge, verifier) = pkce_pair();
        let url = authorize_url(&app, &id, &challenge, "").replace("scope=openid", "scope=openid%20offline_access");
        let back = drive(&app, &app.api_client, &url, "allow").await;
        let code = query_of(&back).remove("code").unwrap();
        let (_, tokens) = token(
            &app,
            Some((&id, &secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ],
        )
        .await;
        let g = Grant { id, secret, tokens };
        let stolen = s(&g.tokens, "refresh_token").to_owned();
        // The legitimate client rotates.
        let (st, next) = g.refresh(&app, &stolen).await;
        assert_eq!(st, StatusCode::OK, "{next}");
        let (rt, at) = (s(&next, "refresh_token").to_owned(), s(&next, "access_token").to_owned());
        // The attacker replays the stolen (rotated) token: refused, and the family dies.
        let (st, e) = g.refresh(&app, &stolen).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        assert_eq!(g.introspect(&app, &rt).await["active"], false, "the current refresh token is revoked");
        assert_eq!(g.introspect(&app, &at).await["active"], false, "its access token too");
        assert_eq!(userinfo(&app, &at).await.status(), StatusCode::UNAUTHORIZED);
        let (st, e) = g.refresh(&app, &rt).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        // Another client cannot use a refresh token either (it is bound to its client).
        let other = add_client(&app, &[]);
        let (st, e) = token(
            &app,
            Some((s(&other, "client_id"), s(&other, "client_secret"))),
            &[("grant_type", "refresh_token"), ("refresh_token", &stolen)],
        )
        .await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        let kinds: Vec<String> =
            audit_events(&app).iter().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect();
        assert!(kinds.iter().any(|k| k == "refresh_token_reuse"), "{kinds:?}");
    }
);

// A replay waits for the family a running first redemption may yet store, but not for one a failed redemption
// never will: replays of a code redeemed with a wrong verifier cost one look each, not three seconds of them.
both_backends!(a_replay_of_a_code_whose_redemption_failed_does_not_wait, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
    let (challenge, verifier) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, "").replace("scope=openid", "scope=openid%20offline_access");
    let code = query_of(&drive(&app, &app.api_client, &url, "allow").await).remove("code").unwrap();
    let redeem = async |verifier: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        token(&app, Some((&id, &secret)), &form).await
    };
    let (st, e) = redeem(&"x".repeat(43)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{e}");
    let started = std::time::Instant::now();
    let (st, e) = redeem(&verifier).await;
    assert_eq!((st, s(&e, "error_description")), (StatusCode::BAD_REQUEST, "the authorization code was already used"));
    // Without the mark of the failure, the replay looks for the family for 3 s before it answers.
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
    let events = audit_events(&app);
    assert_eq!(events_of(&events, "code_replay").len(), 1, "{events:?}");
});
