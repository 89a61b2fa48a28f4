//! Request objects (RFC 9101): arbitrary tokens never panic when read and never verify against a key they were
//! not signed with; arbitrary claims never panic when checked, and what passes holds the sent `client_id` once,
//! first, and nothing about the object itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;
use tessera::oauth::client_keys::ClientJwks;
use tessera::oauth::request_object::{parameters, ObjectRules, RequestObject};

const NOW: i64 = 1_800_000_000;

static KEYS: LazyLock<ClientJwks> = LazyLock::new(|| {
    let pair = josekit::jws::RS256.generate_key_pair(2048).expect("a test key");
    let mut jwk = josekit::jwk::KeyPair::to_jwk_public_key(&pair);
    jwk.set_key_id("k1");
    jwk.set_algorithm("RS256");
    let set = json!({ "keys": [serde_json::to_value(&jwk).expect("a JWK")] });
    ClientJwks::parse(&set).expect("a JWK Set")
});

const RULES: ObjectRules<'static> =
    ObjectRules { client_id: "app", issuer: "http://127.0.0.1:8080", now: NOW, leeway: 30 };

fn check(claims: &Map<String, Value>) {
    let Ok(pairs) = parameters(claims, &RULES) else { return };
    assert_eq!(pairs.first().map(|(n, v)| (n.as_str(), v.as_str())), Some(("client_id", "app")));
    for (name, _) in &pairs[1..] {
        let forbidden = ["client_id", "iss", "aud", "exp", "nbf", "iat", "jti", "request", "request_uri"];
        assert!(!forbidden.contains(&name.as_str()), "{name} passed as a parameter");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(object) = RequestObject::parse(text) {
        assert!(object.verify(&KEYS).is_err(), "a fuzzed request object verified");
    }
    if let Ok(Value::Object(mut claims)) = serde_json::from_str(text) {
        check(&claims);
        // Past the checks of who wrote it and when, so the parameters themselves are read.
        claims.entry("iss").or_insert_with(|| json!("app"));
        claims.entry("aud").or_insert_with(|| json!("http://127.0.0.1:8080"));
        claims.entry("exp").or_insert_with(|| json!(NOW + 60));
        check(&claims);
    }
});
