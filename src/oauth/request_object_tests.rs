//! Tests of reading request objects and of their claims.
use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

const NOW: UnixTime = 1_700_000_000;
const CLIENT: &str = "client-1";
const ISSUER: &str = "https://id.example";

fn rules() -> ObjectRules<'static> {
    ObjectRules { client_id: CLIENT, issuer: ISSUER, now: NOW, leeway: 30 }
}

fn claims(extra: Value) -> Map<String, Value> {
    let mut base = json!({ "iss": CLIENT, "aud": ISSUER, "exp": NOW + 300, "nbf": NOW, "iat": NOW, "jti": "j1",
                           "response_type": "code", "redirect_uri": "https://app.example/cb" });
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            if v == json!("<absent>") {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    let Value::Object(map) = base else { panic!("an object") };
    map
}

fn params_of(extra: Value) -> Result<Vec<(String, String)>, OAuthError> {
    parameters(&claims(extra), &rules())
}

fn refusal(extra: Value) -> String {
    let e = params_of(extra.clone()).expect_err(&extra.to_string());
    assert_eq!(e.code, ErrorCode::InvalidRequestObject, "{extra}");
    e.description
}

fn compact(header: Value, claims: Value, parts: usize) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let mut all = vec![enc(&header), enc(&claims), "c2ln".to_owned()];
    all.resize(parts, "eA".to_owned());
    all.join(".")
}

#[test]
fn the_claims_are_the_parameters_with_the_client_id() {
    let mut got = params_of(json!({ "state": "s", "max_age": 600, "claims": { "userinfo": {} } })).unwrap();
    got.sort();
    let want: Vec<(String, String)> = [
        // A JSON object (OIDC Core §6.1), passed on as the parameter's text.
        ("claims", r#"{"userinfo":{}}"#),
        ("client_id", CLIENT),
        ("max_age", "600"),
        ("redirect_uri", "https://app.example/cb"),
        ("response_type", "code"),
        ("state", "s"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "JWT claims left out, max_age as a number, claims as its JSON text");
    assert!(params_of(json!({ "client_id": CLIENT })).is_ok());
    assert!(params_of(json!({ "aud": ["https://other.example", ISSUER] })).is_ok(), "an array holding the issuer");
}

#[test]
fn claims_that_do_not_hold_are_refused() {
    assert!(refusal(json!({ "iss": "other" })).contains("iss"));
    assert!(refusal(json!({ "iss": "<absent>" })).contains("iss"));
    assert!(refusal(json!({ "aud": "https://other.example" })).contains("aud"));
    assert!(refusal(json!({ "aud": ["https://other.example"] })).contains("aud"));
    assert!(refusal(json!({ "aud": "<absent>" })).contains("aud"));
    assert!(refusal(json!({ "exp": "<absent>" })).contains("no exp"));
    assert!(refusal(json!({ "exp": NOW - 31 })).contains("expired"));
    assert!(params_of(json!({ "exp": NOW + 29, "nbf": NOW - 60 })).is_ok(), "within the leeway");
    assert!(refusal(json!({ "exp": "soon" })).contains("exp must be a number"));
    // RFC 7519 §2: a NumericDate may have a fraction, as client assertions and DPoP proofs may.
    let fractions = json!({ "exp": NOW as f64 + 300.5, "nbf": NOW as f64 - 0.25, "iat": NOW as f64 - 0.25 });
    assert!(params_of(fractions).is_ok(), "a fraction of a second");
    assert!(refusal(json!({ "nbf": NOW + 60, "exp": NOW + 120 })).contains("not valid yet"));
    assert!(refusal(json!({ "iat": NOW + 60, "nbf": "<absent>" })).contains("future"));
    assert!(refusal(json!({ "nbf": NOW - 10, "exp": NOW + 3591 })).contains("at most 3600 seconds"));
    assert!(params_of(json!({ "nbf": NOW - 10, "exp": NOW + 3590 })).is_ok(), "an hour exactly");
    assert!(refusal(json!({ "nbf": "<absent>", "iat": NOW - 100, "exp": NOW + 3550 })).contains("at most"));
    assert!(refusal(json!({ "nbf": "<absent>", "iat": "<absent>", "exp": NOW + 3700 })).contains("at most"));
    assert!(refusal(json!({ "client_id": "other" })).contains("client_id"));
    assert!(refusal(json!({ "request": "x" })).contains("must not hold request"));
    assert!(refusal(json!({ "request_uri": "urn:x" })).contains("must not hold request_uri"));
    assert!(refusal(json!({ "max_age": -1 })).contains("max_age"));
    assert!(refusal(json!({ "max_age": 1.5 })).contains("max_age"));
    assert!(refusal(json!({ "scope": ["openid"] })).contains("scope must be a string"));
    assert!(refusal(json!({ "state": 7 })).contains("state must be a string"));
    assert!(refusal(json!({ "client_id": 1 })).contains("client_id must be a string"));
    assert!(refusal(json!({ "claims": ["email"] })).contains("claims must be a JSON object"));
    assert!(refusal(json!({ "claims": 7 })).contains("claims must be a JSON object"));
}

#[test]
fn only_signed_compact_objects_are_read() {
    let body = json!({ "iss": CLIENT });
    let parse = |token: String| RequestObject::parse(&token).map(|o| o.alg());
    assert_eq!(parse(compact(json!({ "alg": "RS256" }), body.clone(), 3)), Ok(AssertionAlg::Rs256));
    assert_eq!(
        parse(compact(json!({ "alg": "ES256", "typ": "oauth-authz-req+jwt" }), body.clone(), 3)),
        Ok(AssertionAlg::Es256)
    );
    let refused = |token: String, said: &str| {
        let e = RequestObject::parse(&token).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequestObject);
        assert!(e.description.contains(said), "{}", e.description);
    };
    refused(compact(json!({ "alg": "none" }), body.clone(), 3), "alg none");
    refused(compact(json!({ "alg": "HS256" }), body.clone(), 3), "RS256 or ES256");
    refused(compact(json!({ "alg": "RSA-OAEP", "enc": "A256GCM" }), body.clone(), 5), "encrypted");
    refused(compact(json!({ "alg": "RS256" }), body.clone(), 2), "not a signed JWT");
    refused("not a jwt".to_owned(), "not a signed JWT");
    refused(compact(json!({ "alg": "RS256", "crit": ["b64"] }), body.clone(), 3), "critical");
    refused(compact(json!({ "alg": "RS256", "typ": "at+jwt" }), body.clone(), 3), "typ");
    refused(compact(json!({ "alg": "RS256", "kid": 1 }), body.clone(), 3), "kid");
    refused(format!("{}.!!.c2ln", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#)), "claims are malformed");
}

#[test]
fn the_signature_is_verified_with_the_client_keys() {
    use josekit::jws::{JwsHeader, RS256};
    let pair = RS256.generate_key_pair(2048).unwrap();
    let other = RS256.generate_key_pair(2048).unwrap();
    let keys = |pair: &josekit::jwk::alg::rsa::RsaKeyPair| {
        ClientJwks::parse(&json!({ "keys": [serde_json::to_value(pair.to_jwk_public_key()).unwrap()] })).unwrap()
    };
    let mut header = JwsHeader::new();
    header.set_token_type(REQUEST_OBJECT_TYP);
    let payload = serde_json::to_vec(&Value::Object(claims(json!({})))).unwrap();
    let signer = RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
    let token = josekit::jws::serialize_compact(&payload, &header, &signer).unwrap();
    let object = RequestObject::parse(&token).unwrap();
    assert!(object.verify(&keys(&pair)).is_ok());
    assert_eq!(object.verify(&keys(&other)).unwrap_err(), SignatureError::Invalid);
    assert!(!format!("{object:?}").contains("redirect_uri"), "Debug leaves out the claims");
}
