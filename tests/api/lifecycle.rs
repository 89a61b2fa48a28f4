//! Token lifecycle: refresh rotation with reuse detection (the grace window: `refresh_grace.rs`), revocation,
//! introspection, logout, and "sign out everywhere", on one instance, across instances, and with Redis gone.
use crate::health::TcpRelay;
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, browse, introspect_basic, location, pkce_pair, query_of, redeem_code, token_basic,
    urlencode, without_cookies, REDIRECT,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A confidential client (refresh grant allowed by default) and alice's tokens from a code flow.
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) secret: String,
    pub(crate) tokens: Value,
}

pub(crate) async fn sign_in(app: &TestApp, scope: &str, extra_client_args: &[&str]) -> Grant {
    add_alice(app);
    let mut args = vec!["--post-logout-redirect-uri", "http://127.0.0.1:9/bye"];
    args.extend_from_slice(extra_client_args);
    let client = add_client(app, &args);
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let tokens = code_flow(app, &client_id, &secret, scope).await;
    Grant { client_id, secret, tokens }
}

pub(crate) async fn code_flow(app: &TestApp, client_id: &str, secret: &str, scope: &str) -> Value {
    let (code, verifier) = authorization_code(app, client_id, scope).await;
    let (status, body) = redeem_code(app, client_id, secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A code for alice (signing in and consenting as needed) and its PKCE verifier.
async fn authorization_code(app: &TestApp, client_id: &str, scope: &str) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        urlencode(REDIRECT),
        urlencode(scope)
    );
    let back = browse(app, &url, Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    (code, verifier)
}

pub(crate) async fn refresh(app: &TestApp, g: &Grant, rt: &str) -> (StatusCode, Value) {
    token_basic(app, &g.client_id, &g.secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

pub(crate) async fn introspect(app: &TestApp, g: &Grant, tok: &str) -> Value {
    introspect_basic(app, &g.client_id, &g.secret, tok).await
}

/// `POST /revoke` of `form` by the grant's client.
async fn revoke(app: &TestApp, g: &Grant, form: &[(&str, &str)]) -> StatusCode {
    let r = app.api_client.post(app.url("/revoke")).basic_auth(&g.client_id, Some(&g.secret)).form(form);
    r.send().await.unwrap().status()
}

async fn userinfo_status(app: &TestApp, at: &str) -> StatusCode {
    app.api_client.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status()
}

// Without a grace window, so that the replay below is plain reuse.
both_backends!(
    refresh_rotation_chain_and_reuse_detection,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
    },
    async |app| {
        let g = sign_in(&app, "openid profile offline_access", &[]).await;
        let first = s(&g.tokens, "refresh_token").to_owned();
        // A chain of rotations: each use returns a new refresh token and the used one dies.
        let mut current = first.clone();
        let mut seen = vec![first.clone()];
        for _ in 0..3 {
            let (st, body) = refresh(&app, &g, &current).await;
            assert_eq!(st, StatusCode::OK, "{body}");
            let next = s(&body, "refresh_token").to_owned();
            assert!(!seen.contains(&next));
            assert!(body.get("id_token").is_some(), "openid refreshes return an ID token");
            assert_eq!(introspect(&app, &g, &current).await["active"], false);
            assert_eq!(introspect(&app, &g, &next).await["active"], true);
            seen.push(next.clone());
            current = next;
        }
        let (_, latest) = refresh(&app, &g, &current).await;
        let newest_rt = s(&latest, "refresh_token").to_owned();
        let newest_at = s(&latest, "access_token").to_owned();
        assert_eq!(userinfo_status(&app, &newest_at).await, StatusCode::OK);

        // Replaying a rotated token revokes the whole family, including the newest tokens.
        let (st, e) = refresh(&app, &g, &seen[1]).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        let _ = first;
        assert_eq!(introspect(&app, &g, &newest_rt).await["active"], false, "the newest refresh token is revoked too");
        assert_eq!(introspect(&app, &g, &newest_at).await["active"], false, "and its access token");
        assert_eq!(userinfo_status(&app, &newest_at).await, StatusCode::UNAUTHORIZED);
        let (st, _) = refresh(&app, &g, &newest_rt).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        // The reuse is a security event in the audit trail.
        let events = app.cli_json(&["audit", "list"], None);
        let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
        assert!(kinds.contains(&"refresh_token_reuse"), "{kinds:?}");
    }
);

both_backends!(scope_can_narrow_not_widen, async |app| {
    let g = sign_in(&app, "openid profile offline_access", &[]).await;
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let (st, e) = token_basic(
        &app,
        &g.client_id,
        &g.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "openid email")],
    )
    .await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"));
    let (st, body) = token_basic(
        &app,
        &g.client_id,
        &g.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "openid")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(s(&body, "scope"), "openid");
    // Another client cannot use it.
    let other = add_client(&app, &[]);
    let (st, e) = token_basic(
        &app,
        s(&other, "client_id"),
        s(&other, "client_secret"),
        &[("grant_type", "refresh_token"), ("refresh_token", s(&body, "refresh_token"))],
    )
    .await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
});

both_backends!(revocation_and_introspection, async |app| {
    let g = sign_in(&app, "openid profile offline_access", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let active = introspect(&app, &g, &at).await;
    assert_eq!(active["active"], true);
    for k in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "token_type", "jti"] {
        assert!(active.get(k).is_some(), "introspection lacks {k}: {active}");
    }
    let rt_info = introspect(&app, &g, &rt).await;
    assert_eq!(
        (rt_info["active"].clone(), rt_info["token_type"].clone()),
        (Value::Bool(true), Value::from("refresh_token"))
    );

    // Introspection needs client authentication.
    let r = app.api_client.post(app.url("/introspect")).form(&[("token", at.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Unknown and garbage tokens are inactive, and revoking them is a quiet success.
    assert_eq!(introspect(&app, &g, "nonsense").await, serde_json::json!({ "active": false }));
    assert_eq!(revoke(&app, &g, &[("token", "nonsense")]).await, StatusCode::OK);

    // Another client may not revoke them: refused and told so (RFC 7009 §2.1), and they stay live.
    let other = add_client(&app, &[]);
    let (other_id, other_secret) = (s(&other, "client_id"), s(&other, "client_secret"));
    for token in [&at, &rt] {
        let r = app.api_client.post(app.url("/revoke")).basic_auth(other_id, Some(other_secret));
        let r = r.form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
        assert_eq!(introspect(&app, &g, token).await["active"], true);
    }

    // Revoking the access token: inactive, and userinfo refuses it.
    assert_eq!(revoke(&app, &g, &[("token", at.as_str()), ("token_type_hint", "access_token")]).await, StatusCode::OK);
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    // Revoking the refresh token kills the family.
    let (_, next) = refresh(&app, &g, &rt).await;
    let next_rt = s(&next, "refresh_token").to_owned();
    let next_at = s(&next, "access_token").to_owned();
    assert_eq!(revoke(&app, &g, &[("token", next_rt.as_str())]).await, StatusCode::OK);
    assert_eq!(introspect(&app, &g, &next_rt).await["active"], false);
    assert_eq!(introspect(&app, &g, &next_at).await["active"], false);
    let (st, _) = refresh(&app, &g, &next_rt).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
});

// The leeway covers clocks that run ahead (iat, nbf), not expiry: a token past its exp is inactive at once,
// even with a generous leeway, since its revocation record is only kept until exp.
both_backends!(
    access_tokens_expire_at_exp,
    |raw| {
        raw.tokens.access_token_ttl_seconds = 2;
        raw.tokens.leeway_seconds = 60;
    },
    async |app| {
        let g = sign_in(&app, "openid profile", &[]).await;
        let at = s(&g.tokens, "access_token").to_owned();
        let exp = introspect(&app, &g, &at).await["exp"].as_i64().unwrap();
        assert_eq!(userinfo_status(&app, &at).await, StatusCode::OK);
        sleep_until_unix(exp).await;
        assert_eq!(introspect(&app, &g, &at).await, serde_json::json!({ "active": false }));
        assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    }
);

both_backends!(logout_ends_the_session, async |app| {
    let g = sign_in(&app, "openid profile", &[]).await;
    let id_token = s(&g.tokens, "id_token").to_owned();
    let session_rt = s(&g.tokens, "refresh_token").to_owned();
    // An unregistered post_logout_redirect_uri is refused with a page, never followed.
    let r = app
        .api_client
        .get(format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            app.address,
            urlencode("http://127.0.0.1:9/evil")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>This sign-out request cannot be completed</h1>"), "{html}");
    assert!(!html.contains("sign-in"), "a sign-out error page speaks of signing in:\n{html}");
    assert!(html.contains("not registered for this client"), "{html}");
    // A registered address with nothing that names its client: the page says what is missing, not that the
    // address is unknown.
    let bye = urlencode("http://127.0.0.1:9/bye");
    let access_token = s(&g.tokens, "access_token");
    for (query, says) in [
        (format!("post_logout_redirect_uri={bye}"), "needs an id_token_hint or a client_id"),
        (format!("id_token_hint={access_token}&post_logout_redirect_uri={bye}"), "not an ID token of this server"),
        (format!("client_id=nobody&post_logout_redirect_uri={bye}"), "does not exist"),
    ] {
        let r = app.api_client.get(format!("{}/logout?{query}", app.address)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(html.contains(says) && !html.contains("not registered"), "{says}: {html}");
    }
    // With a valid hint: straight back to the registered URI with state.
    let r = app
        .api_client
        .get(format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
            app.address,
            urlencode("http://127.0.0.1:9/bye")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=bye");
    // The session is over: prompt=none now answers login_required.
    let (challenge, _) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&prompt=none&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        g.client_id,
        urlencode(REDIRECT)
    );
    let r = app.api_client.get(&url).send().await.unwrap();
    assert_eq!(query_of(&location(&r)).get("error").map(String::as_str), Some("login_required"));
    // The session-bound refresh token died with the session.
    assert_eq!(introspect(&app, &g, &session_rt).await["active"], false);
});

both_backends!(logout_without_hint_asks_first, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    // "Stay signed in" keeps the session and does not send the browser to the app as if it had signed out
    // (RP-Initiated Logout §3 redirects after a logout): a page says so, uncached, and leads to the account.
    let r = app
        .api_client
        .get(format!(
            "{}/logout?client_id={}&post_logout_redirect_uri={}&state=st",
            app.address,
            g.client_id,
            urlencode("http://127.0.0.1:9/bye")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let form = [
        ("csrf", crate::signin::hidden(&html, "csrf")),
        ("client_id", g.client_id.clone()),
        ("post_logout_redirect_uri", "http://127.0.0.1:9/bye".to_owned()),
        ("state", "st".to_owned()),
        ("decision", "stay".to_owned()),
    ];
    let r = app.api_client.post(app.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());
    assert_eq!(r.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>You are still signed in</h1>") && html.contains("<a href=\"/account\">"), "{html}");
    assert!(!html.contains("127.0.0.1:9"), "{html}");
    // Its language switcher leads to that account page, not to the logout request.
    assert!(html.contains("<a href=\"/account?lang=de\" hreflang=\"de\""), "{html}");
    assert!(signed_in(&app, &g.client_id).await, "staying signed in ended the session");
    let r = app.api_client.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let csrf = crate::signin::hidden(&html, "csrf");
    // A forged confirmation is refused.
    let r = app
        .api_client
        .post(app.url("/logout"))
        .form(&[("csrf", "forged"), ("decision", "logout")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .api_client
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str()), ("decision", "logout")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("signed out"));
    let _ = g;
});

// A confirmation page left open while the browser signed in again (another tab) carries the earlier session's
// token: posted from our own page, the question is asked again for the session there is now, and nothing ends.
both_backends!(a_logout_form_from_a_stale_page_is_asked_again, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let html = app.api_client.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let stale = crate::signin::hidden(&html, "csrf");
    sign_in_again(&app, &g, "alice").await;
    let form = [("csrf", stale.as_str()), ("decision", "logout")];
    let post = |origin: &str| app.api_client.post(app.url("/logout")).header("Origin", origin).form(&form).send();
    let r = post(&app.address).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let fresh = crate::signin::hidden(&html, "csrf");
    assert!(!fresh.is_empty() && fresh != stale, "{html}");
    assert!(signed_in(&app, &g.client_id).await, "a stale page's form ended the session");
    // From another site it is refused, as before.
    assert_eq!(post("https://evil.example").await.unwrap().status(), StatusCode::FORBIDDEN);
    // The question asked again is answered.
    let form = [("csrf", fresh.as_str()), ("decision", "logout")];
    let r = app.api_client.post(app.url("/logout")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!signed_in(&app, &g.client_id).await, "the answered question signs out");
});

/// The code flow again in the same browser with `prompt=login`, signing in as `username`.
async fn sign_in_again(app: &TestApp, g: &Grant, username: &str) -> Value {
    let (challenge, verifier) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&prompt=login&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        g.client_id,
        urlencode(REDIRECT)
    );
    let back = crate::signin::browse_as(app, username, &url, Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, body) = redeem_code(app, &g.client_id, &g.secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The user signs out in the confirmation page.
async fn confirm_logout(app: &TestApp) {
    let html = app.api_client.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::signin::hidden(&html, "csrf");
    let form = [("csrf", csrf.as_str()), ("decision", "logout")];
    let r = app.api_client.post(app.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

// Regression: any client could introspect another's refresh token, and so test a stolen one without using it.
both_backends!(a_refresh_token_is_introspected_by_its_own_client_only, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let other = add_client(&app, &[]);
    let ask = |token: String| {
        let (app, other) = (&app, &other);
        async move { introspect_basic(app, s(other, "client_id"), s(other, "client_secret"), &token).await }
    };
    assert_eq!(ask(s(&g.tokens, "refresh_token").to_owned()).await, serde_json::json!({ "active": false }));
    assert_eq!(introspect(&app, &g, s(&g.tokens, "refresh_token")).await["active"], true);
    // Access tokens are for resource servers, which are clients of their own.
    assert_eq!(ask(s(&g.tokens, "access_token").to_owned()).await["active"], true);
});

// Regression: an access token issued without a refresh token (the client cannot refresh) outlived the logout of
// its session.
both_backends!(logout_ends_the_session_s_access_tokens, async |app| {
    let g = sign_in(&app, "openid profile", &["--grant-type", "authorization_code"]).await;
    assert!(g.tokens.get("refresh_token").is_none(), "{}", g.tokens);
    let bound_at = s(&g.tokens, "access_token").to_owned();
    assert_eq!(userinfo_status(&app, &bound_at).await, StatusCode::OK);
    // Offline access is meant to outlive the session, with the access tokens issued with it.
    let offline_client = add_client(&app, &[]);
    let offline = Grant {
        client_id: s(&offline_client, "client_id").to_owned(),
        secret: s(&offline_client, "client_secret").to_owned(),
        tokens: Value::Null,
    };
    let tokens = code_flow(&app, &offline.client_id, &offline.secret, "openid offline_access").await;
    let (st, refreshed) = refresh(&app, &offline, s(&tokens, "refresh_token")).await;
    assert_eq!(st, StatusCode::OK, "{refreshed}");

    confirm_logout(&app).await;
    assert_eq!(userinfo_status(&app, &bound_at).await, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&app, &g, &bound_at).await["active"], false);
    for at in [s(&tokens, "access_token"), s(&refreshed, "access_token")] {
        assert_eq!(introspect(&app, &g, at).await["active"], true);
        assert_eq!(userinfo_status(&app, at).await, StatusCode::OK);
    }
    let (st, body) = refresh(&app, &offline, s(&refreshed, "refresh_token")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(introspect(&app, &g, s(&body, "access_token")).await["active"], true);
});

// Regression: signing in again (prompt=login) left the earlier session alive with its tokens, which then
// outlived the logout.
both_backends!(signing_in_again_hands_the_session_over, async |app| {
    let g = sign_in(&app, "openid profile", &[]).await;
    let first_rt = s(&g.tokens, "refresh_token").to_owned();
    let first_sid = crate::otp::claims_of(s(&g.tokens, "id_token"))["sid"].clone();
    let again = sign_in_again(&app, &g, "alice").await;
    // The earlier sign-in's tokens live on, ending with the new session. Regression: only its refresh tokens
    // did; its access tokens were refused (their session ended), and a refresh named the new session's sid,
    // which the app was never told and its logout messages never name.
    let first_at = s(&g.tokens, "access_token");
    assert_eq!(userinfo_status(&app, first_at).await, StatusCode::OK);
    assert_eq!(introspect(&app, &g, first_at).await["active"], true);
    let (st, body) = refresh(&app, &g, &first_rt).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(crate::otp::claims_of(s(&body, "id_token"))["sid"], first_sid, "the sid the app knows");
    assert_eq!(userinfo_status(&app, s(&body, "access_token")).await, StatusCode::OK);
    let moved_rt = s(&body, "refresh_token").to_owned();
    let events = app.cli_json(&["audit", "list"], None);
    let logins: Vec<&Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "login_succeeded").collect();
    assert_eq!(logins.len(), 2, "{events}");
    // Events of one second come in no particular order.
    let (first, second) = if logins[0]["details"]["continues_sid"].is_null() { (0, 1) } else { (1, 0) };
    assert_eq!(logins[second]["details"]["continues_sid"], logins[first]["details"]["sid"], "{events}");
    // One logout ends both sign-ins' tokens.
    confirm_logout(&app).await;
    for rt in [moved_rt.as_str(), s(&again, "refresh_token")] {
        assert_eq!(introspect(&app, &g, rt).await["active"], false);
    }
    assert_eq!(userinfo_status(&app, first_at).await, StatusCode::UNAUTHORIZED);
});

// Regression: another user signing in in the same browser left the first user's session, and its tokens, alive.
both_backends!(another_user_signing_in_ends_the_session, async |app| {
    let g = sign_in(&app, "openid profile", &[]).await;
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(crate::signin::PASSWORD));
    let bobs = sign_in_again(&app, &g, "bob").await;
    assert_eq!(introspect(&app, &g, s(&g.tokens, "refresh_token")).await["active"], false);
    assert_eq!(userinfo_status(&app, s(&g.tokens, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&app, &g, s(&bobs, "refresh_token")).await["active"], true);
    let events = app.cli_json(&["audit", "list"], None);
    let of_kind = |kind: &str| -> Vec<&Value> {
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).collect()
    };
    let (logins, replaced) = (of_kind("login_succeeded"), of_kind("session_replaced"));
    assert_eq!((logins.len(), replaced.len()), (2, 1), "{events}");
    // Bob's sign-in ended alice's session (events of one second come in no particular order).
    let (alices, bobs) = if logins[0]["details"]["sid"] == replaced[0]["details"]["sid"] { (0, 1) } else { (1, 0) };
    assert_eq!(replaced[0]["details"]["sid"], logins[alices]["details"]["sid"], "{events}");
    assert_eq!(replaced[0]["user_id"], logins[alices]["user_id"], "{events}");
    assert_eq!(replaced[0]["actor"], logins[bobs]["user_id"], "{events}");
});

/// Whether the api client's session is live: `prompt=none` gets a code rather than `login_required`.
async fn signed_in(app: &TestApp, client_id: &str) -> bool {
    let (challenge, _) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s&prompt=none&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        urlencode(REDIRECT)
    );
    let q = query_of(&location(&app.api_client.get(&url).send().await.unwrap()));
    assert!(q.contains_key("code") || q.get("error").map(String::as_str) == Some("login_required"), "{q:?}");
    q.contains_key("code")
}

// Regression: the session cookie is SameSite=Lax, so an RP's logout form posted from its own site arrives
// without it. It used to be taken for "already signed out": the RP was told the user had signed out while
// the session lived on.
both_backends!(logout_posted_without_the_cookie_is_asked_again_as_a_get, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let form = [
        ("id_token_hint", s(&g.tokens, "id_token")),
        ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
        ("state", "bye"),
    ];
    let r = without_cookies().post(app.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let get = location(&r);
    assert!(get.starts_with("/logout?"), "{get}");
    let sent: std::collections::HashMap<String, String> =
        form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(query_of(&app.url(&get)), sent, "the GET carries the same parameters");
    assert!(signed_in(&app, &g.client_id).await, "the cookieless post alone ended nothing");
    // The GET, without the cookie either, never leads back to /logout.
    let r = without_cookies().get(app.url(&get)).send().await.unwrap();
    assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=bye");
    // The browser follows with its cookie: the session ends.
    let r = app.api_client.get(app.url(&get)).send().await.unwrap();
    assert_eq!(location(&r), "http://127.0.0.1:9/bye?state=bye");
    assert!(!signed_in(&app, &g.client_id).await, "the session outlived the logout");

    // A post that carries the session (the RP on our site) is answered at once.
    let tokens = code_flow(&app, &g.client_id, &g.secret, "openid").await;
    let form = [("id_token_hint", s(&tokens, "id_token")), ("post_logout_redirect_uri", "http://127.0.0.1:9/bye")];
    let r = app.api_client.post(app.url("/logout")).form(&form).send().await.unwrap();
    assert_eq!(location(&r), "http://127.0.0.1:9/bye");
    assert!(!signed_in(&app, &g.client_id).await, "the session outlived the logout");
});

// Regression: a valid ID token from an earlier session of the same user ended the current session without
// asking. RP-Initiated Logout §2: the user is asked unless the token belongs to the current session.
both_backends!(logout_hint_of_an_earlier_session_asks_first, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let earlier = s(&g.tokens, "id_token").to_owned();
    let r = app.api_client.get(format!("{}/logout?id_token_hint={earlier}", app.address)).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("You are signed out"));
    let tokens = code_flow(&app, &g.client_id, &g.secret, "openid").await;
    assert!(signed_in(&app, &g.client_id).await);
    let r = app.api_client.get(format!("{}/logout?id_token_hint={earlier}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Sign out?"), "no confirmation for an earlier session's token");
    assert!(signed_in(&app, &g.client_id).await, "the current session ended without asking");
    // The current session's own token needs no confirmation.
    let current = s(&tokens, "id_token");
    let r = app.api_client.get(format!("{}/logout?id_token_hint={current}", app.address)).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!signed_in(&app, &g.client_id).await);
});

// Regression: a disabled user's live session counted as signed in. The app got login_required without asking
// for prompt=none, and the consent page still asked the disabled account and stored what it approved.
both_backends!(a_disabled_users_session_counts_as_none, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let (challenge, _) = pkce_pair();
    let url = |scope: &str, extra: &str| {
        format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s&code_challenge={challenge}&code_challenge_method=S256{extra}",
            app.address,
            g.client_id,
            urlencode(REDIRECT),
            urlencode(scope)
        )
    };
    // A consent page for more than alice approved so far, left open.
    let consent = location(&app.api_client.get(url("openid profile", "")).send().await.unwrap());
    assert!(consent.starts_with("/consent"), "{consent}");
    let html = app.api_client.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
    let form = [
        ("interaction", crate::signin::hidden(&html, "interaction")),
        ("csrf", crate::signin::hidden(&html, "csrf")),
        ("decision", "allow".to_owned()),
    ];
    app.cli_json(&["users", "disable", "alice"], None);
    // The browser is sent to sign in; the app hears login_required only when it asked for no pages.
    let r = app.api_client.get(url("openid", "")).send().await.unwrap();
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let r = app.api_client.get(url("openid", "&prompt=none")).send().await.unwrap();
    assert_eq!(query_of(&location(&r)).get("error").map(String::as_str), Some("login_required"));
    // The consent page is refused, and the approval is not stored.
    let r = app.api_client.get(app.url(&consent)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("expired"));
    let r = app.api_client.post(app.url("/consent")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    app.cli_json(&["users", "enable", "alice"], None);
    let r = app.api_client.get(url("openid profile", "&prompt=none")).send().await.unwrap();
    let q = query_of(&location(&r));
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "the disable ended the session: {q:?}");
    // Signed in again, alice is asked: the approval was not stored.
    let html = crate::signin::consent_page(&app, &url("openid profile", "")).await;
    assert!(html.contains("Allow access?"), "{html}");
});

both_backends!(offline_tokens_survive_logout_but_not_users_revoke, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let id_token = s(&g.tokens, "id_token").to_owned();
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let at = s(&g.tokens, "access_token").to_owned();
    let r = app.api_client.get(format!("{}/logout?id_token_hint={id_token}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &g, &rt).await["active"], true, "offline_access tokens outlive the session");
    // Sign out everywhere: refresh and access tokens issued before now stop working.
    app.cli_json(&["users", "revoke", "alice"], None);
    assert_eq!(introspect(&app, &g, &rt).await["active"], false);
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
});

// `users remove` ends everything the user held, as the admin API's DELETE does, and says so in the audit trail.
both_backends!(users_remove_ends_every_token_and_session_of_the_user, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let rt = s(&g.tokens, "refresh_token").to_owned();
    let at = s(&g.tokens, "access_token").to_owned();
    assert_eq!(introspect(&app, &g, &at).await["active"], true);
    let sub = introspect(&app, &g, &at).await["sub"].as_str().unwrap().to_owned();

    let removed = app.cli_json(&["users", "remove", "alice"], None);
    assert_eq!(
        (&removed["id"], &removed["username"], &removed["removed"], &removed["sessions_ended"]),
        (&json!(sub), &json!("alice"), &json!(true), &json!(1))
    );
    assert_eq!(introspect(&app, &g, &rt).await["active"], false);
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    let (st, e) = refresh(&app, &g, &rt).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let list = app.cli_json(&["users", "list"], None);
    assert!(!list.to_string().contains("\"alice\""), "{list}");

    let events = app.cli_json(&["audit", "list", "--user", &sub], None);
    let deleted = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "user_deleted").cloned();
    let deleted = deleted.unwrap_or_else(|| panic!("no user_deleted in {events}"));
    assert_eq!((&deleted["actor"], &deleted["details"]["username"]), (&json!("cli"), &json!("alice")));

    let args = ["users", "remove", "alice"];
    let err = assert_failure(&app.cli(&args, None), &args);
    assert!(err.contains("no user named alice"), "{err}");
});

// With Redis, a token found live is remembered; every operator change that can end it must be seen at once.
both_backends!(a_remembered_verdict_never_outlives_an_operator_change, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    let rs = add_client(&app, &[]);
    let rs = Grant {
        client_id: s(&rs, "client_id").to_owned(),
        secret: s(&rs, "client_secret").to_owned(),
        tokens: Value::Null,
    };
    for _ in 0..2 {
        assert_eq!(introspect(&app, &rs, &at).await["active"], true);
        assert_eq!(userinfo_status(&app, &at).await, StatusCode::OK);
    }
    app.cli_json(&["users", "disable", "alice"], None);
    assert_eq!(introspect(&app, &rs, &at).await["active"], false, "the user was disabled");
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    app.cli_json(&["users", "enable", "alice"], None);
    assert_eq!(introspect(&app, &rs, &at).await["active"], false, "enabling does not bring old tokens back");
    let at = s(&code_flow(&app, &g.client_id, &g.secret, "openid").await, "access_token").to_owned();
    for _ in 0..2 {
        assert_eq!(introspect(&app, &rs, &at).await["active"], true, "signed in again");
    }
    app.cli_json(&["clients", "remove", &g.client_id], None);
    assert_eq!(introspect(&app, &rs, &at).await["active"], false, "the client was removed");
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
});

// Regression: `users enable` brought back every token and session the user held before `users disable`, so
// disabling a compromised account and enabling it again after a password reset left the stolen tokens working.
both_backends!(a_disabled_user_enabled_again_holds_nothing_from_before, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let (at, rt) = (s(&g.tokens, "access_token").to_owned(), s(&g.tokens, "refresh_token").to_owned());
    let disabled = app.cli_json(&["users", "disable", "alice"], None);
    assert_eq!((disabled["disabled"].as_bool(), disabled["sessions_ended"].as_u64()), (Some(true), Some(1)));
    app.cli_json(&["users", "enable", "alice"], None);
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(introspect(&app, &g, &rt).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    let (st, e) = refresh(&app, &g, &rt).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{e}");
    assert!(!signed_in(&app, &g.client_id).await, "the browser session ended with the disable");
    // Signing in afresh works at once.
    let fresh = code_flow(&app, &g.client_id, &g.secret, "openid offline_access").await;
    assert_eq!(userinfo_status(&app, s(&fresh, "access_token")).await, StatusCode::OK);
    assert_eq!(refresh(&app, &g, s(&fresh, "refresh_token")).await.0, StatusCode::OK);
});

both_backends!(clients_revoke_tokens, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    let rt = s(&g.tokens, "refresh_token").to_owned();
    app.cli_json(&["clients", "revoke-tokens", &g.client_id], None);
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(introspect(&app, &g, &rt).await["active"], false);
});

// Regression: a code issued before `clients revoke-tokens` was redeemed after it for live tokens.
both_backends!(clients_revoke_tokens_ends_unredeemed_codes, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let (code, verifier) = authorization_code(&app, &g.client_id, "openid").await;
    app.cli_json(&["clients", "revoke-tokens", &g.client_id], None);
    let (status, body) = redeem_code(&app, &g.client_id, &g.secret, &code, &verifier).await;
    assert_eq!((status, s(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    // A code issued after the command returned is good.
    code_flow(&app, &g.client_id, &g.secret, "openid").await;
});

// Cut-offs are whole seconds, so what is issued in a revocation's second after it returned must still live.
both_backends!(what_is_issued_right_after_a_revocation_lives, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let before = s(&g.tokens, "access_token").to_owned();
    // Started at the top of a second, the command and the sign-in after it share that second.
    sleep_until_unix(tessera::domain::now() + 1).await;
    app.cli_json(&["users", "revoke", "alice"], None);
    let after = code_flow(&app, &g.client_id, &g.secret, "openid").await;
    assert_eq!(userinfo_status(&app, s(&after, "access_token")).await, StatusCode::OK);
    assert_eq!(userinfo_status(&app, &before).await, StatusCode::UNAUTHORIZED);

    let svc = app.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
    let svc = Grant {
        client_id: s(&svc, "client_id").to_owned(),
        secret: s(&svc, "client_secret").to_owned(),
        tokens: Value::Null,
    };
    let grant = [("grant_type", "client_credentials")];
    let (_, before) = token_basic(&app, &svc.client_id, &svc.secret, &grant).await;
    sleep_until_unix(tessera::domain::now() + 1).await;
    app.cli_json(&["clients", "revoke-tokens", &svc.client_id], None);
    let (status, after) = token_basic(&app, &svc.client_id, &svc.secret, &grant).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(introspect(&app, &svc, s(&after, "access_token")).await["active"], true);
    assert_eq!(introspect(&app, &svc, s(&before, "access_token")).await["active"], false);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_through_one_instance_is_seen_by_another_postgres() {
    let a = spawn_app(Backend::Postgres).await;
    let b = a.spawn_peer().await;
    let g = sign_in(&a, "openid offline_access", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    let rt = s(&g.tokens, "refresh_token").to_owned();
    assert_eq!(introspect(&b, &g, &at).await["active"], true);
    assert_eq!(revoke(&a, &g, &[("token", at.as_str())]).await, StatusCode::OK);
    assert_eq!(introspect(&b, &g, &at).await["active"], false, "no cache delay across instances");
    assert_eq!(userinfo_status(&b, &at).await, StatusCode::UNAUTHORIZED);
    assert_eq!(revoke(&a, &g, &[("token", rt.as_str())]).await, StatusCode::OK);
    let (st, _) = refresh(&b, &g, &rt).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

// An instance that cannot reach Redis when it revokes (its connection cut here; a failover or a paused Redis
// does the same) tells the others once Redis takes its writes again, instead of leaving them to answer from
// what they checked before the revocation until that ages out (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_redis_refused_reaches_other_instances_when_it_is_back_postgres() {
    let upstream = redis_socket_addr(&redis_url());
    let mut relay = TcpRelay::start(upstream, 0);
    let port = relay.addr.port();
    let mut relay_url = url::Url::parse(&redis_url()).unwrap();
    relay_url.set_host(Some("127.0.0.1")).unwrap();
    relay_url.set_port(Some(port)).unwrap();
    let other = spawn_app(Backend::Postgres).await;
    let revoker = other
        .spawn_peer_with(|raw| {
            raw.redis.url = Some(relay_url.to_string());
            raw.redis.timeout_ms = 300;
        })
        .await;
    let g = sign_in(&other, "openid", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    // Twice: the second check is made under an epoch and remembered.
    for _ in 0..2 {
        assert_eq!(introspect(&other, &g, &at).await["active"], true);
    }
    relay.stop();
    assert_eq!(revoke(&revoker, &g, &[("token", at.as_str())]).await, StatusCode::OK);
    assert_eq!(introspect(&revoker, &g, &at).await["active"], false, "the revoking instance knows");
    assert_eq!(introspect(&other, &g, &at).await["active"], true, "the other one cannot know yet");
    let _relay = TcpRelay::start(upstream, port);
    let back = std::time::Instant::now();
    while introspect(&other, &g, &at).await["active"] == true {
        assert!(back.elapsed() < std::time::Duration::from_secs(5), "not told within 5 s of Redis coming back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_stay_revoked_when_redis_is_gone_postgres() {
    let upstream = redis_socket_addr(&redis_url());
    let mut relay = TcpRelay::start(upstream, 0);
    let mut relay_url = url::Url::parse(&redis_url()).unwrap();
    relay_url.set_host(Some("127.0.0.1")).unwrap();
    relay_url.set_port(Some(relay.addr.port())).unwrap();
    let app = spawn_app_with(Backend::Postgres, |raw| {
        raw.redis.url = Some(relay_url.to_string());
        raw.redis.timeout_ms = 300;
    })
    .await;
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let at = s(&g.tokens, "access_token").to_owned();
    assert_eq!(revoke(&app, &g, &[("token", at.as_str())]).await, StatusCode::OK);
    relay.stop();
    // The denylist is unreachable: the SQL record still says revoked. Never fail open.
    assert_eq!(introspect(&app, &g, &at).await["active"], false);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
}

both_backends!(
    refresh_refused_after_idle_lifetime_and_for_disabled_users,
    |raw| {
        raw.tokens.refresh_idle_seconds = 1;
    },
    async |app| {
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let rt = s(&g.tokens, "refresh_token").to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (st, e) = refresh(&app, &g, &rt).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "idle lifetime over");

        let fresh = code_flow(&app, &g.client_id, &g.secret, "openid offline_access").await;
        app.cli_json(&["users", "disable", "alice"], None);
        let (st, e) = refresh(&app, &g, s(&fresh, "refresh_token")).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "disabled user");
        assert_eq!(userinfo_status(&app, s(&fresh, "access_token")).await, StatusCode::UNAUTHORIZED);
    }
);

both_backends!(a_code_is_refused_once_its_user_is_disabled, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let (code, verifier) = authorization_code(&app, &g.client_id, "openid offline_access").await;
    app.cli_json(&["users", "disable", "alice"], None);
    let (st, e) = redeem_code(&app, &g.client_id, &g.secret, &code, &verifier).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{e}");
    // The code is spent all the same.
    app.cli_json(&["users", "enable", "alice"], None);
    let (st, e) = redeem_code(&app, &g.client_id, &g.secret, &code, &verifier).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{e}");
});

// The client was removed by the CLI while this instance's client cache still held it: the refresh token's insert
// met the foreign key and the code grant answered 500.
both_backends!(a_code_of_a_removed_client_is_invalid_grant_not_a_server_error, async |app| {
    let g = sign_in(&app, "openid offline_access", &[]).await;
    let (code, verifier) = authorization_code(&app, &g.client_id, "openid offline_access").await;
    app.cli_json(&["clients", "remove", &g.client_id], None);
    let (st, e) = redeem_code(&app, &g.client_id, &g.secret, &code, &verifier).await;
    assert!(
        matches!(
            (st, s(&e, "error")),
            (StatusCode::BAD_REQUEST, "invalid_grant") | (StatusCode::UNAUTHORIZED, "invalid_client")
        ),
        "{st} {e}"
    );
});

both_backends!(a_code_is_refused_once_its_session_is_logged_out, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let (code, verifier) = authorization_code(&app, &g.client_id, "openid").await;
    let logout = format!(
        "{}/logout?id_token_hint={}&post_logout_redirect_uri={}",
        app.address,
        s(&g.tokens, "id_token"),
        urlencode("http://127.0.0.1:9/bye")
    );
    let r = app.api_client.get(logout).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // No tokens, and above all no refresh token bound to the session that just ended.
    let (st, e) = redeem_code(&app, &g.client_id, &g.secret, &code, &verifier).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{e}");
    assert!(s(&e, "error_description").contains("session"), "{e}");
});

both_backends!(operator_actions_are_audited, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let id = s(&client, "client_id").to_owned();
    app.cli_json(&["clients", "rotate-secret", &id], None);
    app.cli_json(&["users", "disable", "alice"], None);
    let rotated = app.cli_json(&["keys", "rotate"], None);
    assert_eq!(rotated["created"], true, "{rotated}");
    let pem = openssl_rsa_key(app.dir.path(), "operator.pem", 2048, false);
    let imported = app.cli_json(&["keys", "import", pem.to_str().unwrap()], None);
    app.cli_json(&["clients", "remove", &id], None);
    let events = app.cli_json(&["audit", "list", "--limit", "50"], None);
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "user_created",
        "client_created",
        "client_secret_rotated",
        "user_disabled",
        "user_tokens_revoked",
        "key_ring_changed",
        "key_imported",
        "client_deleted",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // Every one of them names the command line as its actor and user agent, but the server's own first key.
    let all_events = events["events"].as_array().unwrap();
    let server_first_key = |e: &&Value| e["kind"] == "key_ring_changed" && e["details"]["added"] != rotated["kid"];
    for e in all_events.iter().filter(|e| !server_first_key(e)) {
        assert_eq!((&e["actor"], &e["user_agent"]), (&json!("cli"), &json!("tessera-cli")), "{e}");
    }
    assert!(all_events.iter().any(|e| e["kind"] == "key_ring_changed" && e["details"]["added"] == rotated["kid"]));
    assert!(all_events.iter().any(|e| e["kind"] == "key_imported" && e["details"]["kid"] == imported["kid"]));
    let text = events.to_string();
    assert!(!text.contains(s(&client, "client_secret")), "a secret reached the audit trail");
    assert!(events["next"].is_null(), "everything fits in one listing: {events}");

    // Two at a time with --after, the same events in the same order; a limit past the store's is refused.
    let (mut paged, mut after) = (Vec::new(), None::<String>);
    loop {
        let mut args = vec!["audit", "list", "--limit", "2"];
        if let Some(a) = after.as_deref() {
            args.extend(["--after", a]);
        }
        let page = app.cli_json(&args, None);
        paged.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let all: Vec<Value> = events["events"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(paged, all);
    for bad in [["--limit", "1001"], ["--after", "nonsense"], ["--user", "nobody"]] {
        let args = [&["audit", "list"][..], &bad[..]].concat();
        crate::helpers::assert_failure(&app.cli(&args, None), &args);
    }

    // A user's events by username, or by the id they carry (how a deleted user is named).
    let of_alice = app.cli_json(&["audit", "list", "--user", "alice"], None);
    let alice_id = of_alice["events"][0]["user_id"].as_str().unwrap().to_owned();
    let by_id = app.cli_json(&["audit", "list", "--user", &alice_id], None);
    assert_eq!(by_id["events"], of_alice["events"]);
    let kinds: Vec<&str> = by_id["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"user_disabled") && kinds.contains(&"user_created"), "{kinds:?}");
});

// Regression: a valid ID token of another user must not sign this browser out without asking (anyone can
// get an ID token of their own and send a victim to /logout with it).
both_backends!(logout_hint_of_another_user_asks_first, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    app.cli_json(&["users", "add", "mallory", "--password-stdin"], Some("mallory's long password"));
    // Mallory's own ID token, from a separate browser.
    let mallory =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let (challenge, verifier) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        app.address, g.client_id, urlencode(REDIRECT)
    );
    let r = mallory.get(&url).send().await.unwrap();
    let page = mallory.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    let r = mallory
        .post(app.url("/login"))
        .header("Origin", &app.address)
        .form(&[
            ("interaction", crate::signin::hidden(&page, "interaction")),
            ("csrf", crate::signin::hidden(&page, "csrf")),
            ("username", "mallory".into()),
            ("password", "mallory's long password".into()),
        ])
        .send()
        .await
        .unwrap();
    let consent = mallory.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    let r = mallory
        .post(app.url("/consent"))
        .header("Origin", &app.address)
        .form(&[
            ("interaction", crate::signin::hidden(&consent, "interaction")),
            ("csrf", crate::signin::hidden(&consent, "csrf")),
            ("decision", "allow".into()),
        ])
        .send()
        .await
        .unwrap();
    let code = query_of(&location(&r)).remove("code").unwrap();
    let (_, tokens) = token_basic(
        &app,
        &g.client_id,
        &g.secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let hint = s(&tokens, "id_token");
    // Alice's browser follows Mallory's link: it is asked, not signed out.
    let r = app.api_client.get(format!("{}/logout?id_token_hint={hint}", app.address)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Sign out?"));
    let (challenge, _) = pkce_pair();
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&prompt=none&code_challenge={challenge}&code_challenge_method=S256",
        app.address, g.client_id, urlencode(REDIRECT)
    );
    let r = app.api_client.get(&url).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "alice is still signed in");
});

both_backends!(
    housekeeping_deletes_expired_refresh_tokens,
    |raw| {
        raw.database.purge_interval_seconds = 1;
        // Long enough for the first look below to come before the token expires, even on a slow machine.
        raw.tokens.refresh_token_ttl_seconds = 3;
    },
    async |app| {
        use tessera::storage::RefreshTokenStore;
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let hash = tessera::domain::secret::SecretHash::of(s(&g.tokens, "refresh_token"));
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        assert!(store.refresh_token_by_hash(hash.as_str()).await.unwrap().is_some());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.refresh_token_by_hash(hash.as_str()).await.unwrap().is_some() {
            assert!(std::time::Instant::now() < deadline, "the expired refresh token is still stored");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
);

/// Purges the rows of rotated refresh tokens as the purge an hour from now would (past a short retention and
/// the access token issued with each), sparing their families' newest tokens, which keep the family's expiry.
async fn purge_rotated_refresh_tokens(store: &tessera::storage::diesel::DieselStore) {
    use tessera::storage::RefreshTokenStore;
    store.purge_expired_refresh_tokens(tessera::domain::now() + 3600).await.unwrap();
}

async fn stored(
    store: &tessera::storage::diesel::DieselStore,
    token: &str,
) -> Option<tessera::storage::RefreshTokenRecord> {
    use tessera::storage::RefreshTokenStore;
    let hash = tessera::domain::secret::SecretHash::of(token);
    store.refresh_token_by_hash(hash.as_str()).await.unwrap()
}

/// The refresh token `rt` rotates to.
async fn rotated(app: &TestApp, g: &Grant, rt: &str) -> String {
    let (st, body) = refresh(app, g, rt).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s(&body, "refresh_token").to_owned()
}

/// The `refresh_token_reuse` events recorded so far.
fn reuse_events(app: &TestApp) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list"], None)["events"].as_array().cloned().unwrap_or_default();
    events.into_iter().filter(|e| e["kind"] == "refresh_token_reuse").collect()
}

// A rotated token is kept for the retention, then purged; replayed before or after, it revokes its family,
// which its token names.
both_backends!(
    a_rotated_refresh_token_revokes_its_family_after_its_retention_too,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
        raw.tokens.rotated_refresh_retention_seconds = 2;
    },
    async |app| {
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let store = tessera::startup::open_store(&app.settings).await.unwrap();

        // Inside the retention a replay is reuse.
        let reused = s(&g.tokens, "refresh_token").to_owned();
        assert_eq!(reused.len(), 86);
        let (st, body) = refresh(&app, &g, &reused).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (st, e) = refresh(&app, &g, &reused).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        assert_eq!(introspect(&app, &g, s(&body, "refresh_token")).await["active"], false, "the family is revoked");
        assert_eq!(reuse_events(&app).len(), 1);

        // Another grant, rotated twice: its rotated tokens go with the first purge after the retention.
        let tokens = code_flow(&app, &g.client_id, &g.secret, "openid offline_access").await;
        let old = s(&tokens, "refresh_token").to_owned();
        let middle = rotated(&app, &g, &old).await;
        let (st, body) = refresh(&app, &g, &middle).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (newest, access) = (s(&body, "refresh_token").to_owned(), s(&body, "access_token").to_owned());
        purge_rotated_refresh_tokens(&store).await;
        for token in [&old, &middle] {
            assert!(stored(&store, token).await.is_none(), "a rotated refresh token is still stored");
        }
        assert!(stored(&store, &newest).await.is_some());

        // A token rotated from one that names its family names it too.
        let (st, e) = refresh(&app, &g, &middle).await;
        assert_eq!(
            (st, s(&e, "error"), s(&e, "error_description")),
            (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the refresh token was already used; the grant has been revoked"
            )
        );
        let (st, e) = refresh(&app, &g, &newest).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "the newest token is revoked");
        assert_eq!(introspect(&app, &g, &access).await["active"], false, "with the access token issued with it");
        let events = reuse_events(&app);
        assert_eq!(events.len(), 2, "{events:?}");
        let purged = events.iter().find(|e| e["details"]["purged"] == true).unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(purged["details"]["family_id"], json!(stored(&store, &newest).await.unwrap().family_id));
        assert_eq!(
            (s(purged, "client_id"), purged["details"]["presented_by"].as_str()),
            (g.client_id.as_str(), Some(g.client_id.as_str()))
        );
        assert!(purged["user_id"].is_string(), "{purged}");

        // Once the family is revoked, a purged token of it is only unknown: it records nothing more.
        let (st, e) = refresh(&app, &g, &old).await;
        assert_eq!(
            (st, s(&e, "error"), s(&e, "error_description")),
            (StatusCode::BAD_REQUEST, "invalid_grant", "invalid refresh token")
        );
        assert_eq!(reuse_events(&app).len(), 2);
    }
);

// A family that ended (revoked, or past its idle end) is not revoked again by a purged token of it: the
// token is unknown, and the reuse is not recorded.
both_backends!(
    a_purged_refresh_token_of_an_ended_family_revokes_nothing,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
        raw.tokens.rotated_refresh_retention_seconds = 1;
        raw.tokens.refresh_idle_seconds = 3;
    },
    async |app| {
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let store = tessera::startup::open_store(&app.settings).await.unwrap();

        // Revoked at /revoke.
        let old = s(&g.tokens, "refresh_token").to_owned();
        assert_eq!(old.len(), 86, "a token that names its family");
        let newest = rotated(&app, &g, &old).await;
        assert_eq!(revoke(&app, &g, &[("token", &newest)]).await, StatusCode::OK);
        purge_rotated_refresh_tokens(&store).await;
        assert!(stored(&store, &old).await.is_none());
        let (st, e) = refresh(&app, &g, &old).await;
        assert_eq!((st, s(&e, "error_description")), (StatusCode::BAD_REQUEST, "invalid refresh token"));

        // Idle past its end.
        let tokens = code_flow(&app, &g.client_id, &g.secret, "openid offline_access").await;
        let old = s(&tokens, "refresh_token").to_owned();
        let newest = rotated(&app, &g, &old).await;
        purge_rotated_refresh_tokens(&store).await;
        assert!(stored(&store, &old).await.is_none());
        sleep_until_unix(stored(&store, &newest).await.unwrap().idle_expires_at + 1).await;
        let (st, e) = refresh(&app, &g, &old).await;
        assert_eq!((st, s(&e, "error_description")), (StatusCode::BAD_REQUEST, "invalid refresh token"));
        assert!(!stored(&store, &newest).await.unwrap().revoked, "the ended family was revoked");
        assert_eq!(reuse_events(&app), Vec::<Value>::new());
    }
);

// A family started before tokens named it rotates on in the earlier form, with the earlier trade-off: a token
// presented after its purge is unknown, and its family lives on.
both_backends!(
    a_family_of_the_earlier_form_keeps_it,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
        raw.tokens.rotated_refresh_retention_seconds = 1;
    },
    async |app| {
        use tessera::storage::RefreshTokenStore;
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        assert_eq!(s(&g.tokens, "refresh_token").len(), 86, "a new family's tokens name it");
        // A family as the earlier release stored it: its id derived from a code, its token a bare secret.
        let earlier = tessera::domain::secret::PlainSecret::generate();
        let record = stored(&store, s(&g.tokens, "refresh_token")).await.unwrap();
        let record = tessera::storage::RefreshTokenRecord {
            id: uuid::Uuid::now_v7().to_string(),
            token_hash: earlier.hash().as_str().to_owned(),
            family_id: tessera::domain::secret::SecretHash::of_bytes(b"tessera code family v1\0an earlier code"),
            access_jti: None,
            access_expires_at: None,
            ..record
        };
        store.insert_refresh_token(&record).await.unwrap();

        let old = earlier.expose().to_owned();
        let (st, body) = refresh(&app, &g, &old).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let next = s(&body, "refresh_token").to_owned();
        assert_eq!(next.len(), 43, "{next}");
        assert_eq!(stored(&store, &next).await.unwrap().family_id, record.family_id);
        purge_rotated_refresh_tokens(&store).await;
        assert!(stored(&store, &old).await.is_none());

        let (st, e) = refresh(&app, &g, &old).await;
        assert_eq!((st, s(&e, "error_description")), (StatusCode::BAD_REQUEST, "invalid refresh token"));
        assert_eq!(introspect(&app, &g, &next).await["active"], true, "the family is untouched");
        assert_eq!(reuse_events(&app), Vec::<Value>::new());
        let (st, body) = refresh(&app, &g, &next).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(s(&body, "refresh_token").len(), 43);
    }
);

// A family revocation ends the access tokens its refresh tokens record: a rotated one stays stored, past its
// retention, as long as the access token issued with it lives.
both_backends!(
    a_rotated_refresh_token_is_kept_while_its_access_token_lives,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
        raw.tokens.rotated_refresh_retention_seconds = 1;
        raw.tokens.access_token_ttl_seconds = 6;
    },
    async |app| {
        use tessera::storage::RefreshTokenStore;
        let g = sign_in(&app, "openid offline_access", &[]).await;
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        let (old, access) = (s(&g.tokens, "refresh_token"), s(&g.tokens, "access_token"));
        let (st, body) = refresh(&app, &g, old).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        // Past the retention, within the access token's life.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        store.purge_expired_refresh_tokens(tessera::domain::now()).await.unwrap();
        assert_eq!(introspect(&app, &g, access).await["active"], true);
        let (st, e) = refresh(&app, &g, old).await;
        assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
        assert_eq!(introspect(&app, &g, s(&body, "refresh_token")).await["active"], false, "the family is revoked");
        assert_eq!(introspect(&app, &g, access).await["active"], false, "with the rotated token's access token");
    }
);

// Regression: a logout `state` over 512 bytes was dropped silently, while /authorize returns any state it is
// given (RP-Initiated Logout 1.0 §2: the OP passes it back).
both_backends!(logout_returns_a_long_state_as_given, async |app| {
    let g = sign_in(&app, "openid", &[]).await;
    let state = "s".repeat(2000);
    // Through the confirmation page, then with a hint.
    let r = app
        .api_client
        .get(format!(
            "{}/logout?client_id={}&post_logout_redirect_uri={}&state={state}",
            app.address,
            g.client_id,
            urlencode("http://127.0.0.1:9/bye")
        ))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert_eq!(crate::signin::hidden(&html, "state"), state);
    let r = app
        .api_client
        .get(format!(
            "{}/logout?id_token_hint={}&post_logout_redirect_uri={}&state={state}",
            app.address,
            s(&g.tokens, "id_token"),
            urlencode("http://127.0.0.1:9/bye")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("http://127.0.0.1:9/bye?state={state}"));
});

// Regression: an operator narrowing a client's scopes reached none of its refresh tokens, which went on issuing
// access tokens with what had been taken away until they expired. A refresh now gives the grant's scopes that
// the client still has, as Keycloak evaluates client scopes anew at each refresh.
both_backends!(a_refresh_gives_only_the_scopes_the_client_still_has, async |app| {
    let g = sign_in(&app, "openid profile email offline_access", &[]).await;
    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, token) = crate::signin::token_basic(&app, s(&admin, "client_id"), s(&admin, "client_secret"), &form).await;
    let path = app.url(&format!("/admin/api/clients/{}", g.client_id));
    let bearer = s(&token, "access_token").to_owned();
    let mut edited: Value = app.api_client.get(&path).bearer_auth(&bearer).send().await.unwrap().json().await.unwrap();
    edited["scope"] = json!("openid offline_access");
    let r = app.api_client.put(&path).bearer_auth(&bearer).json(&edited).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let (st, body) = refresh(&app, &g, s(&g.tokens, "refresh_token")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "offline_access openid", "{body}");
    let claims = crate::otp::claims_of(s(&body, "access_token"));
    assert_eq!(claims["scope"], "offline_access openid", "{claims}");
    let info = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&body, "access_token")).send().await.unwrap();
    let info: Value = info.json().await.unwrap();
    assert!(info.get("email").is_none() && info.get("name").is_none(), "{info}");
});
