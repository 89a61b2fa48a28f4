//! Provider metadata (OpenID Connect Discovery 1.0, RFC 8414), read by a real relying party.
use crate::helpers::*;
use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use serde_json::Value;

both_backends!(relying_party_discovers_the_provider, async |app| {
    let http = oidc_http_client();
    let issuer = IssuerUrl::new(app.address.clone()).unwrap();
    // discover_async also checks that `issuer` equals the URL it was asked for, and fetches the JWKS.
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.expect("discovery succeeds");
    assert_eq!(metadata.issuer().as_str(), app.address);
    assert_eq!(metadata.jwks_uri().as_str(), app.url("/jwks"));
    assert_eq!(metadata.authorization_endpoint().as_str(), app.url("/authorize"));
    assert!(!metadata.jwks().keys().is_empty(), "the discovered JWKS has a key");
});

both_backends!(both_well_known_paths_serve_the_same_document, async |app| {
    let oidc = app.get("/.well-known/openid-configuration").await;
    assert_eq!(oidc.status(), 200);
    assert_eq!(oidc.headers()["content-type"], "application/json");
    let oidc = oidc.bytes().await.unwrap();
    let oauth = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(oauth.status(), 200);
    assert_eq!(oauth.bytes().await.unwrap(), oidc);
});

both_backends!(issuer_is_the_address_and_pkce_is_s256_only, async |app| {
    let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    // Exactly, with no trailing slash: relying parties compare the strings (OIDC Discovery §4.3).
    assert_eq!(doc["issuer"], Value::String(app.address.clone()));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    for (key, value) in doc.as_object().unwrap() {
        if let Some(url) = value.as_str().filter(|_| key.ends_with("_endpoint") || key.ends_with("_uri")) {
            assert!(url.starts_with(&app.address), "{key} = {url} is not under the issuer");
        }
    }
});

both_backends!(discovery_honours_if_none_match, async |app| {
    let path = "/.well-known/openid-configuration";
    let first = app.get(path).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "strong ETag, quoted: {etag}");
    let cache_control = first.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache_control.contains("public") && cache_control.contains("max-age="), "{cache_control}");

    let again = app.get_if_none_match(path, &etag).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let other = app.get_if_none_match(path, "\"something-else\"").await;
    assert_eq!(other.status(), 200);
    let other = app.get_if_none_match("/.well-known/oauth-authorization-server", &etag).await;
    assert_eq!(other.status(), 304, "both paths serve one document with one ETag");
});
