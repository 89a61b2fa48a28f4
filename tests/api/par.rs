//! Pushed authorization requests (RFC 9126): the relying party pushes its request over the back channel and
//! sends the browser with only `client_id` and the `request_uri`.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, auth_url, browse, location, pkce_pair, query_of, redeem_code, REDIRECT};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `POST /par` with `form`, as `client_id` with `secret` in HTTP Basic (none for a public client).
async fn push(app: &TestApp, client_id: &str, secret: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = app.api_client.post(app.url("/par")).form(form);
    if let Some(secret) = secret {
        req = req.basic_auth(client_id, Some(secret));
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

/// The parameters of an authorization request for `client_id` with PKCE `challenge`.
fn request<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "pushed"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Where `/authorize` with `client_id` and `request_uri` sends a browser, and the page it shows when it stays.
async fn authorize_pushed(app: &TestApp, client_id: &str, request_uri: &str) -> (StatusCode, String) {
    let url = format!("{}/authorize?client_id={client_id}&request_uri={}", app.address, urlencode(request_uri));
    let r = app.api_client.get(url).send().await.unwrap();
    let status = r.status();
    if status == StatusCode::SEE_OTHER {
        return (status, location(&r));
    }
    (status, r.text().await.unwrap())
}

fn urlencode(s: &str) -> String {
    crate::signin::urlencode(s)
}

both_backends!(a_relying_party_pushes_its_request_and_signs_in_with_the_request_uri, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["pushed_authorization_request_endpoint"], app.url("/par"));
    assert_eq!(discovery["require_pushed_authorization_requests"], false);

    let http = oidc_http_client();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http).await.unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        Some(ClientSecret::new(secret.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    // What the relying party would have put in the browser's URL goes over the back channel instead.
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.api_client.post(app.url("/par")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let pushed: Value = r.json().await.unwrap();
    assert_eq!(pushed["expires_in"], 60, "{pushed}");
    let request_uri = pushed["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(PREFIX) && request_uri.len() > PREFIX.len() + 40, "{request_uri}");

    // Only client_id and request_uri travel; anything else in the query is ignored (RFC 9101 §6.3).
    let url = format!(
        "{}/authorize?client_id={id}&request_uri={}&state=tampered&scope=openid%20email",
        app.address,
        urlencode(request_uri)
    );
    let back = browse(&app, &url, Some("allow")).await;
    let q = query_of(&back);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(q.get("state"), Some(csrf.secret()), "the pushed state, not the query's");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let claims = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), alice["id"].as_str().unwrap());
    assert_eq!(tokens.scopes().map(|s| s.len()), Some(1), "the pushed scope alone: {:?}", tokens.scopes());

    // A request_uri is used once.
    let (status, page) = authorize_pushed(&app, id, request_uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("invalid_request_uri") && page.contains("used already"), "{page}");
});

both_backends!(a_pushed_request_is_checked_when_pushed_and_bound_to_its_client, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let (challenge, _) = pkce_pair();
    let good = request(id, &challenge);

    let (status, body) = push(&app, id, Some("wrong secret"), &good).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut form: Vec<(&str, &str)> = good.iter().copied().filter(|(k, _)| *k != name).collect();
        form.push((name, value));
        form
    };
    for (what, form, error) in [
        ("a request_uri", with("request_uri", "urn:ietf:params:oauth:request_uri:x"), "invalid_request"),
        ("a redirect URI not registered", with("redirect_uri", "https://evil.example/cb"), "invalid_request"),
        ("a scope the client may not ask", with("scope", "openid tessera:admin"), "invalid_scope"),
        (
            "no PKCE",
            good.iter().copied().filter(|(k, _)| !k.starts_with("code_challenge")).collect(),
            "invalid_request",
        ),
        ("another response type", with("response_type", "token"), "unsupported_response_type"),
    ] {
        let (status, body) = push(&app, id, Some(secret), &form).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{what}: {body}");
    }
    let (status, body) = push(&app, id, Some(secret), &with("client_id", "someone-else")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "client_id must be the authenticated client: {body}");

    // A public client pushes with its client_id alone, as at the token endpoint.
    let public = add_client(&app, &["--public"]);
    let public_id = public["client_id"].as_str().unwrap();
    let (status, body) = push(&app, public_id, None, &request(public_id, &challenge)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();

    // Only the client that pushed it may use a request_uri; a failed attempt spends it.
    let (status, page) = authorize_pushed(&app, id, &request_uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("pushed by another client"), "{page}");
    for unknown in [format!("{PREFIX}nope"), "https://app.example/request.jwt".to_owned()] {
        let (status, page) = authorize_pushed(&app, id, &unknown).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{unknown}");
        assert!(page.contains("invalid_request_uri"), "{unknown}: {page}");
    }
});

both_backends!(
    a_pushed_request_expires,
    |raw| {
        raw.par.request_ttl_seconds = 1;
    },
    async |app| {
        let client = add_client(&app, &[]);
        let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        let (challenge, _) = pkce_pair();
        let (status, body) = push(&app, id, Some(secret), &request(id, &challenge)).await;
        assert_eq!((status, &body["expires_in"]), (StatusCode::CREATED, &serde_json::json!(1)), "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (status, page) = authorize_pushed(&app, id, body["request_uri"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("unknown or expired"), "{page}");
    }
);

// A client registered to push (RFC 9126 §6), or every client under `par.required`, may not send its request
// through the browser: the refusal goes back to its verified redirect URI, as any other.
both_backends!(a_client_may_be_held_to_pushing_its_requests, async |app| {
    add_alice(&app);
    let held = add_client(&app, &["--require-par"]);
    let (id, secret) = (held["client_id"].as_str().unwrap(), held["client_secret"].as_str().unwrap());
    let shown = app.cli_json(&["clients", "show", id], None);
    assert_eq!(shown["require_pushed_authorization_requests"], true, "{shown}");
    let (challenge, verifier) = pkce_pair();
    let to = location(&app.api_client.get(auth_url(&app, id, &challenge, "")).send().await.unwrap());
    let q = query_of(&to);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{to}");
    assert!(q["error_description"].contains("push"), "{to}");

    let (status, body) = push(&app, id, Some(secret), &request(id, &challenge)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = format!(
        "{}/authorize?client_id={id}&request_uri={}",
        app.address,
        urlencode(body["request_uri"].as_str().unwrap())
    );
    let code = query_of(&browse(&app, &url, Some("allow")).await).remove("code").unwrap();
    assert_eq!(redeem_code(&app, id, secret, &code, &verifier).await.0, StatusCode::OK);

    // Other clients are not held to it, unless the server holds every one.
    let free = add_client(&app, &[]);
    let free_id = free["client_id"].as_str().unwrap();
    assert!(query_of(&browse(&app, &auth_url(&app, free_id, &challenge, ""), Some("allow")).await).contains_key("code"));
    let strict = app.spawn_peer_with(|raw| raw.par.required = true).await;
    let discovery: Value = strict.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["require_pushed_authorization_requests"], true);
    let url = auth_url(&app, free_id, &challenge, "").replacen(&app.address, &strict.address, 1);
    let to = location(&strict.api_client.get(url).send().await.unwrap());
    assert_eq!(query_of(&to).get("error").map(String::as_str), Some("invalid_request"), "{to}");
});
