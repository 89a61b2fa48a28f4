//! `/jwks`: what is published, how it caches, and that it verifies what the key ring signs.
use crate::helpers::*;
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use josekit::jwt::JwtPayload;
use openidconnect::core::{CoreJsonWebKeySet, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Verifies `token` with the served key its header names, as a relying party would.
pub fn verify_with_jwks(jwks: &Value, token: &str) -> Result<JwtPayload, String> {
    let kid = token_kid(token);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    verify_with_key(jwk, token)
}

fn verify_with_key(jwk: &Value, token: &str) -> Result<JwtPayload, String> {
    let jwk = Jwk::from_map(jwk.as_object().unwrap().clone()).map_err(|e| e.to_string())?;
    let verifier = RS256.verifier_from_jwk(&jwk).map_err(|e| e.to_string())?;
    josekit::jwt::decode_with_verifier(token, &verifier).map(|(p, _)| p).map_err(|e| e.to_string())
}

/// A small payload to sign.
pub fn test_payload(app: &TestApp) -> JwtPayload {
    let mut p = JwtPayload::new();
    p.set_issuer(&app.address);
    p.set_subject("test-subject");
    p.set_issued_at(&SystemTime::now());
    p.set_expires_at(&(SystemTime::now() + Duration::from_secs(300)));
    p
}

both_backends!(jwks_publishes_public_rs256_keys_named_by_their_thumbprint, async |app| {
    let resp = app.get("/jwks").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.bytes().await.unwrap();

    let set: CoreJsonWebKeySet = serde_json::from_slice(&bytes).expect("a JWKS openidconnect accepts");
    assert!(!set.keys().is_empty());
    for key in set.keys() {
        assert_eq!(*key.key_type(), CoreJsonWebKeyType::RSA);
        assert_eq!(key.key_use(), Some(&CoreJsonWebKeyUse::Signature));
        assert!(matches!(
            key.signing_alg(),
            JsonWebKeyAlgorithm::Algorithm(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)
        ));
        assert!(key.key_id().is_some());
    }

    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    for key in raw["keys"].as_array().unwrap() {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        let (n, e) = (key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
        assert_eq!(key["kid"].as_str().unwrap(), rsa_thumbprint(n, e), "kid is the RFC 7638 thumbprint");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none(), "private member {private} published: {key}");
        }
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert!(n.len() >= 342, "modulus too short: {} characters", n.len());
    }
});

both_backends!(jwks_is_cacheable_and_honours_if_none_match, async |app| {
    let first = app.get("/jwks").await;
    assert_eq!(first.status(), 200);
    let cache_control = first.headers()["cache-control"].to_str().unwrap().to_owned();
    let directives: Vec<&str> = cache_control.split(',').map(str::trim).collect();
    assert!(directives.contains(&"public"), "{cache_control}");
    let max_age = format!("max-age={}", app.settings.keys.jwks_max_age);
    assert!(directives.contains(&max_age.as_str()), "{cache_control} should have {max_age}");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    let again = app.get_if_none_match("/jwks", &etag).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.headers()["cache-control"].to_str().unwrap().contains("max-age="));
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app.get_if_none_match("/jwks", "\"not-the-etag\"").await;
    assert_eq!(stale.status(), 200);
});

both_backends!(
    token_verifies_against_served_jwks_until_its_key_is_removed,
    |raw| {
        raw.keys.refresh_seconds = 1;
    },
    async |app| {
        let (_store, ring) = app.open_key_ring().await;
        let now = tessera::domain::now();
        let token = ring.snapshot().sign(&test_payload(&app), "JWT", now).expect("the ring signs");
        let kid = token_kid(&token);
        let jwks = app.jwks().await;
        assert_eq!(kids(&jwks), vec![kid.clone()], "the one key of a new ring signs and is served");
        let claims = verify_with_jwks(&jwks, &token).expect("the token verifies against the served JWKS");
        assert_eq!(claims.subject(), Some("test-subject"));

        // Two emergency rotations retire the signing key; then, once nothing it signed can still be valid,
        // maintenance removes it. Each rotation waits for the next second: keys activating in the same second
        // are ordered by kid (see keys::regression_rotate_now_in_the_same_second_signs_with_the_new_key).
        for _ in 0..2 {
            next_second().await;
            let r = app.cli_json(&["keys", "rotate", "--now"], None);
            assert_eq!(r["created"], true);
        }
        ring.refresh().await.unwrap();
        assert!(ring.snapshot().key(&kid).is_some(), "a retired key stays in the ring");
        let retain = tessera::startup::rotation_policy(&app.settings).retain_retired;
        ring.maintain(tessera::domain::now() + retain + 1).await.unwrap();
        assert!(ring.snapshot().key(&kid).is_none(), "maintenance removed the retired key");

        // The server reloads the ring every `keys.refresh_seconds`.
        let jwks = eventually("the server to stop publishing the removed key", Duration::from_secs(10), || async {
            let jwks = app.jwks().await;
            (!kids(&jwks).contains(&kid)).then_some(jwks)
        })
        .await;
        assert!(!kids(&jwks).is_empty(), "a current key is still published");
        let err = verify_with_jwks(&jwks, &token).expect_err("the removed key's token no longer verifies");
        assert!(err.contains("not in the JWKS"), "{err}");
        for key in jwks["keys"].as_array().unwrap() {
            assert!(verify_with_key(key, &token).is_err(), "verified with another key {}", key["kid"]);
        }
    }
);
