//! Access-token parsing and verification against a key ring: arbitrary input never panics and never
//! verifies (it was not signed by the ring's key).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use tessera::jose::key::NewKey;
use tessera::jose::{Kek, RingSnapshot, SigningKey};
use tessera::oauth::client_auth::BasicCredentials;

static RING: LazyLock<RingSnapshot> = LazyLock::new(|| {
    let kek = Kek::from_bytes([7; 32]);
    let stored = NewKey::generate(2048).and_then(|k| k.seal(&kek, 0, 0)).expect("a test key");
    let key = SigningKey::unseal(&stored, &kek).expect("the test key opens");
    RingSnapshot::from_keys(vec![Arc::new(key)]).expect("a ring")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    assert!(RING.verify(text).is_err(), "fuzzed input verified against a fresh key");
    let _ = BasicCredentials::parse(text);
});
