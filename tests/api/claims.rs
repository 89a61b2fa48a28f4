//! The `claims` request parameter (OpenID Connect Core §5.5): claims asked for one by one, for the ID token (a
//! refresh's too) or UserInfo, at `/authorize`, through `/par`, with their consent; malformed ones refused; a `sub`
//! value answered for that user only.
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, browse, consent_page, discovered_rp, location, pkce_pair, query_of, redeem_code,
    token_basic, urlencode, REDIRECT,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreUserInfoClaims};
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, TokenResponse};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Email in the ID token, the name from UserInfo: neither is released by the `openid` scope alone.
const EMAIL_AND_NAME: &str = r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null,"acr":null}}"#;

/// An authorization URL for `client_id` with scope `openid` only, and `claims`.
fn openid_url(app: &TestApp, client_id: &str, challenge: &str, claims: &str) -> String {
    let url = auth_url(app, client_id, challenge, &format!("&claims={}", urlencode(claims)));
    url.replace("scope=openid%20profile%20email", "scope=openid")
}

/// UserInfo's answer to `access_token`.
async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

both_backends!(claims_asked_for_by_name_go_where_they_were_asked_for, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &[]);
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["claims_parameter_supported"], true);

    // The relying party asks for the openid scope alone, and for claims by name.
    let http = oidc_http_client();
    let rp = discovered_rp(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("claims", EMAIL_AND_NAME)
        .url();
    let back = browse(&app, url.as_str(), Some("allow")).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    assert_eq!(tokens.scopes().map(|s| s.len()), Some(1), "the openid scope alone");
    let id_token = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(id_token.email().map(|e| e.as_str()), Some("alice@example.com"), "asked for in id_token");
    assert_eq!(id_token.name(), None, "asked for in userinfo only");
    assert_eq!(id_token.subject().as_str(), s(&alice, "id"));

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), Some(id_token.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    let name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    assert_eq!(name, Some("Alice"), "asked for in userinfo");
    assert_eq!(info.email(), None, "asked for in id_token only");
    assert_eq!(info.preferred_username(), None, "the profile scope was not granted");

    // Refreshed access tokens keep what UserInfo returns.
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let rt = tokens.refresh_token().expect("a refresh token").secret().clone();
    let (status, refreshed) =
        token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let info = userinfo(&app, s(&refreshed, "access_token")).await;
    assert_eq!(info["name"], "Alice", "{info}");
    assert!(info.get("email").is_none(), "{info}");
    // And once more, from the rotated token.
    let rt = s(&refreshed, "refresh_token").to_owned();
    let (status, again) =
        token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(userinfo(&app, s(&again, "access_token")).await["name"], "Alice");

    // Without claims, the same client and user get neither.
    let (challenge, verifier) = pkce_pair();
    let url = auth_url(&app, id, &challenge, "").replace("scope=openid%20profile%20email", "scope=openid");
    let back = browse(&app, &url, None).await;
    let (status, plain) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let info = userinfo(&app, s(&plain, "access_token")).await;
    assert!(info.get("name").is_none() && info.get("email").is_none(), "{info}");
    let (_, claims) = verified(&app, s(&plain, "id_token")).await;
    assert!(claims.get("email").is_none(), "{claims}");
});

both_backends!(malformed_claims_are_sent_back_as_invalid_request, async |app| {
    let client = add_client(&app, &[]);
    let id = s(&client, "client_id");
    let (challenge, _) = pkce_pair();
    for (claims, said) in [
        ("{not json", "not valid JSON"),
        (r#"["email"]"#, "claims must be a JSON object"),
        (r#"{"id_token":"email"}"#, "claims.id_token must be a JSON object"),
        (r#"{"userinfo":{"name":true}}"#, "claims.userinfo.name must be null or a JSON object"),
        (r#"{"id_token":{"email":{"essential":1}}}"#, "essential must be a boolean"),
        (&format!(r#"{{"id_token":{{"email":{{"value":"{}"}}}}}}"#, "x".repeat(5000)), "at most 4096 bytes"),
    ] {
        let r = app.api_client.get(openid_url(&app, id, &challenge, claims)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{claims}");
        let back = location(&r);
        assert!(back.starts_with(REDIRECT), "{back}");
        let q = query_of(&back);
        assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{claims}: {back}");
        assert!(q["error_description"].contains(said), "{claims}: {}", q["error_description"]);
        assert_eq!(q.get("state").map(String::as_str), Some("st"));
    }
    // Pushed, the same refusal comes back at once.
    let secret = s(&client, "client_secret");
    let form = [
        ("client_id", id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("claims", r#"{"id_token":[]}"#),
    ];
    let r = app.api_client.post(app.url("/par")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (s(&e, "error"), s(&e, "error_description")),
        ("invalid_request", "claims.id_token must be a JSON object")
    );
});

both_backends!(pushed_claims_reach_the_id_token, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let (challenge, verifier) = pkce_pair();
    let form = [
        ("client_id", id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("nonce", "n"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("claims", r#"{"id_token":{"email":null,"email_verified":null,"name":{"value":"Bob"}}}"#),
    ];
    let r = app.api_client.post(app.url("/par")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pushed: Value = r.json().await.unwrap();
    let url = format!("{}/authorize?client_id={id}&request_uri={}", app.address, urlencode(s(&pushed, "request_uri")));
    let back = browse(&app, &url, Some("allow")).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, claims) = verified(&app, s(&tokens, "id_token")).await;
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    assert_eq!(claims["email_verified"], false, "{claims}");
    // A value asked for is advisory: the user's own is returned.
    assert_eq!(claims["name"], "Alice", "{claims}");
});

both_backends!(the_consent_lists_the_claims_and_is_asked_again_for_new_ones, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let id = s(&client, "client_id");
    let (challenge, _) = pkce_pair();
    let html = consent_page(&app, &openid_url(&app, id, &challenge, EMAIL_AND_NAME)).await;
    assert!(html.contains("<li>See your email address</li>"), "{html}");
    assert!(html.contains("<li>See your name</li>"), "{html}");
    assert!(!html.contains("username"), "not asked for: {html}");
    // Allowed once, the same claims need no page, nor do fewer.
    let back = browse(&app, &openid_url(&app, id, &challenge, EMAIL_AND_NAME), Some("allow")).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    // The account page lists what was granted by name beside the scopes.
    let page = app.api_client.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<li>See your email address</li>") && page.contains("<li>See your name</li>"), "{page}");
    let back = browse(&app, &openid_url(&app, id, &challenge, r#"{"id_token":{"name":null}}"#), None).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    // A claim not granted yet asks again; prompt=none cannot.
    let more = r#"{"userinfo":{"preferred_username":null}}"#;
    let url = format!("{}&prompt=none", openid_url(&app, id, &challenge, more));
    let r = app.api_client.get(url).send().await.unwrap();
    assert_eq!(query_of(&location(&r)).get("error").map(String::as_str), Some("consent_required"));
    let html = consent_page(&app, &openid_url(&app, id, &challenge, more)).await;
    assert!(html.contains("<li>See your username</li>"), "{html}");
    // A scope granted earlier covers the claims it releases.
    let back = browse(&app, &auth_url(&app, id, &challenge, ""), Some("allow")).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    let back = browse(&app, &openid_url(&app, id, &challenge, more), None).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
});

both_backends!(a_sub_value_answers_only_for_that_user, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &[]);
    let id = s(&client, "client_id");
    let (challenge, _) = pkce_pair();
    let sub = |value: &str| format!(r#"{{"id_token":{{"sub":{{"value":"{value}"}}}}}}"#);
    let back = browse(&app, &openid_url(&app, id, &challenge, &sub(s(&alice, "id"))), Some("allow")).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    // Signed in as alice: a request for someone else is not answered without a sign-in.
    let url = format!("{}&prompt=none", openid_url(&app, id, &challenge, &sub("someone-else")));
    let r = app.api_client.get(url).send().await.unwrap();
    let q = query_of(&location(&r));
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "{q:?}");
    let r = app.api_client.get(openid_url(&app, id, &challenge, &sub("someone-else"))).send().await.unwrap();
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    let url = format!("{}&prompt=none", openid_url(&app, id, &challenge, &sub(s(&alice, "id"))));
    let r = app.api_client.get(url).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "alice herself");
});

/// A refresh of `refresh_token` by the client `id`, which succeeds.
async fn refreshed(app: &TestApp, id: &str, secret: &str, refresh_token: &str) -> Value {
    let (status, tokens) =
        token_basic(app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

both_backends!(a_refreshed_id_token_carries_the_claims_asked_for_it_by_name, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let grant = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, admin) = token_basic(&app, s(&admin, "client_id"), s(&admin, "client_secret"), &grant).await;

    let asked = r#"{"id_token":{"email":null,"name":{"essential":true}},"userinfo":{"email_verified":null}}"#;
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &openid_url(&app, id, &challenge, asked), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, signed_in) = verified(&app, s(&tokens, "id_token")).await;
    let rt = s(&tokens, "refresh_token");
    let first = refreshed(&app, id, secret, rt).await;
    let (_, claims) = verified(&app, s(&first, "id_token")).await;
    assert_eq!((&claims["email"], &claims["name"]), (&json!("alice@example.com"), &json!("Alice")), "{claims}");
    assert!(claims.get("email_verified").is_none(), "asked for in userinfo only: {claims}");
    assert!(claims.get("nonce").is_none() && signed_in.get("nonce").is_some(), "{claims}");
    for same in ["sub", "aud", "azp", "auth_time", "acr", "amr", "sid"] {
        assert_eq!(claims[same], signed_in[same], "{same}: {claims}");
    }

    // The values are the user's at each refresh; a retry within the grace window gets the same ID token again.
    let r = app
        .api_client
        .patch(app.url(&format!("/admin/api/users/{}", s(&alice, "id"))))
        .bearer_auth(s(&admin, "access_token"))
        .json(&json!({ "name": "Alice Liddell" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let retried = refreshed(&app, id, secret, rt).await;
    assert_eq!(retried["id_token"], first["id_token"]);
    let next = refreshed(&app, id, secret, s(&first, "refresh_token")).await;
    let (_, claims) = verified(&app, s(&next, "id_token")).await;
    assert_eq!((&claims["email"], &claims["name"]), (&json!("alice@example.com"), &json!("Alice Liddell")));
    assert_eq!((&claims["acr"], &claims["amr"]), (&json!("1"), &json!(["pwd"])), "kept by each rotation");

    // A grant that asked for none: none.
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &openid_url(&app, id, &challenge, r#"{"userinfo":{"name":null}}"#), None).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let plain = refreshed(&app, id, secret, s(&tokens, "refresh_token")).await;
    let (_, claims) = verified(&app, s(&plain, "id_token")).await;
    assert!(claims.get("email").is_none() && claims.get("name").is_none(), "{claims}");
    assert_eq!(claims["acr"], "1", "{claims}");
});

both_backends!(an_id_token_hint_and_a_sub_value_must_name_the_same_user, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, id, &challenge, ""), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let sub = |value: &str| format!(r#"{{"id_token":{{"sub":{{"value":"{value}"}}}}}}"#);
    let hinted = |claims: &str, prompt: &str| {
        let url = openid_url(&app, id, &challenge, claims);
        format!("{url}{prompt}&id_token_hint={}", s(&tokens, "id_token"))
    };

    // Both name alice, who is signed in: answered at once.
    let r = app.api_client.get(hinted(&sub(s(&alice, "id")), "&prompt=none")).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
    // They name two users: refused, sent back to the app, whoever is signed in and whatever the prompt.
    for prompt in ["&prompt=none", "", "&prompt=login"] {
        let r = app.api_client.get(hinted(&sub("someone-else"), prompt)).send().await.unwrap();
        let back = location(&r);
        assert!(back.starts_with(REDIRECT), "{prompt}: {back}");
        let q = query_of(&back);
        assert_eq!(q.get("error").map(String::as_str), Some("login_required"), "{prompt}: {back}");
        assert_eq!(q["error_description"], "id_token_hint and the sub claim's value name different users");
        assert_eq!(q.get("state").map(String::as_str), Some("st"));
    }
});
