//! Forged and misused JWTs at the protected resources (userinfo) and at introspection (RFC 8725 §2.1, §3.1;
//! RFC 9068 §4): `alg: none`, an HS256 token keyed with our public key, a `kid` that names no key of ours, an
//! attacker's key embedded in the header, a tampered payload, and an ID token presented as an access token. Each
//! is 401 `invalid_token` at userinfo and inactive at introspection, while the genuine token works.
use super::*;
use crate::signin::{add_alice, add_client};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsSigner, HS256, RS256};
use serde_json::json;

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A compact JWS of `header` and `payload`, signed by `sign` over the signing input.
fn compact(header: &Value, payload: &Value, sign: &dyn Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.api_client.get(app.url("/userinfo")).bearer_auth(token).send().await.unwrap()
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let r = app
        .api_client
        .post(app.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

both_backends!(forged_and_misused_jwts_are_rejected, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
    let (code, verifier) = code_for(&app, &id).await;
    let (st, tokens) = token(
        &app,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{tokens}");
    let at = s(&tokens, "access_token").to_owned();
    let id_token = s(&tokens, "id_token").to_owned();
    // The genuine token works: the refusals below are about the forgery.
    assert_eq!(userinfo(&app, &at).await.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &id, &secret, &at).await["active"], true);

    let parts: Vec<&str> = at.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let kid = s(&header, "kid").to_owned();
    let jwks = app.jwks().await;
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("the signing key");
    let n_b64 = s(key, "n").to_owned();
    let n_bytes = URL_SAFE_NO_PAD.decode(&n_b64).unwrap();

    let attacker = RS256.generate_key_pair(2048).unwrap();
    let attacker_signer = RS256.signer_from_der(attacker.to_der_private_key()).unwrap();
    let attacker_sign = |m: &[u8]| attacker_signer.sign(m).unwrap();
    let attacker_jwk: Value = serde_json::from_str(&attacker.to_jwk_public_key().to_string()).unwrap();
    let hmac_n = HS256.signer_from_bytes(&n_bytes).unwrap();
    let hmac_n_text = HS256.signer_from_bytes(n_b64.as_bytes()).unwrap();
    let unsigned = |_: &[u8]| Vec::new();

    let mut wider = claims.clone();
    wider["scope"] = json!("openid profile email tessera:admin");
    let mut later = claims.clone();
    later["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);

    let forgeries: Vec<(&str, String)> = vec![
        ("alg none", compact(&json!({"alg": "none", "typ": "at+jwt", "kid": kid}), &claims, &unsigned)),
        ("alg None", compact(&json!({"alg": "None", "typ": "at+jwt", "kid": kid}), &claims, &unsigned)),
        ("alg none without typ or kid", compact(&json!({"alg": "none"}), &claims, &unsigned)),
        (
            "HS256 keyed with the JWKS modulus bytes",
            compact(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), &claims, &|m| hmac_n.sign(m).unwrap()),
        ),
        (
            "HS256 keyed with the JWKS modulus text",
            compact(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), &claims, &|m| hmac_n_text.sign(m).unwrap()),
        ),
        (
            "kid pointing nowhere",
            compact(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "nowhere"}), &claims, &attacker_sign),
        ),
        ("no kid", compact(&json!({"alg": "RS256", "typ": "at+jwt"}), &claims, &attacker_sign)),
        (
            "our kid, the attacker's key",
            compact(&json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}), &claims, &attacker_sign),
        ),
        (
            "the attacker's key embedded as jwk",
            compact(&json!({"alg": "RS256", "typ": "at+jwt", "jwk": attacker_jwk}), &claims, &attacker_sign),
        ),
        (
            "jku pointing at the attacker",
            compact(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "a", "jku": "https://evil.example/jwks"}),
                &claims,
                &attacker_sign,
            ),
        ),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
        ("scope widened, signature kept", format!("{}.{}.{}", parts[0], b64(&wider), parts[2])),
        ("expiry extended, signature kept", format!("{}.{}.{}", parts[0], b64(&later), parts[2])),
        ("ID token used as an access token", id_token.clone()),
        ("two tokens glued", format!("{at}.{at}")),
    ];
    for (attack, forged) in &forgeries {
        let r = userinfo(&app, forged).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "userinfo: {attack}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "userinfo: {attack}: {challenge}");
        assert_eq!(introspect(&app, &id, &secret, forged).await, json!({ "active": false }), "introspection: {attack}");
    }
    // None of it disturbed the genuine token.
    assert_eq!(userinfo(&app, &at).await.status(), StatusCode::OK);
});
