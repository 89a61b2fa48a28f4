//! Client-assertion parsing (RFC 7523): arbitrary assertions never panic and never verify against a key
//! they were not signed with; arbitrary claims and JWK Sets never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tessera::oauth::client_assertion::{check_claims, AssertionRules, AssertionTyp, ClientAssertion};
use tessera::oauth::client_keys::ClientJwks;

static KEYS: LazyLock<ClientJwks> = LazyLock::new(|| {
    let pair = josekit::jws::RS256.generate_key_pair(2048).expect("a test key");
    let mut jwk = josekit::jwk::KeyPair::to_jwk_public_key(&pair);
    jwk.set_key_id("k1");
    jwk.set_algorithm("RS256");
    let set = serde_json::json!({ "keys": [serde_json::to_value(&jwk).expect("a JWK")] });
    ClientJwks::parse(&set).expect("a JWK Set")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(assertion) = ClientAssertion::parse(text.to_owned()) {
        assert!(assertion.verify(&KEYS).is_err(), "a fuzzed assertion verified");
    }
    let _ = ClientJwks::from_slice(data);
    if let Ok(serde_json::Value::Object(claims)) = serde_json::from_str(text) {
        for token_endpoint in [Some("http://127.0.0.1:8080/token"), None] {
            let rules = AssertionRules {
                client_id: "app",
                issuer: "http://127.0.0.1:8080",
                token_endpoint,
                now: 1_800_000_000,
                leeway: 30,
            };
            for typ in [AssertionTyp::Untyped, AssertionTyp::ClientAuthentication] {
                let _ = check_claims(&claims, typ, &rules);
            }
        }
    }
});
