//! Clients' JWK Sets as parsed, kept in-process, so that a `private_key_jwt` assertion or a signed request object
//! does not parse its client's keys from JSON again (each key is checked and decoded). An entry is keyed by the
//! client and the SHA-256 of the text it was parsed from, and of where that text came from (registered inline
//! or fetched from the `jwks_uri`, which are parsed by different rules): a changed set, whatever changed it (an
//! admin update, `PUT /register/{client_id}`, another instance, a refetch), has another digest and is parsed
//! anew, so it is never served stale and needs no invalidation. A set that fails to parse is not kept.
use super::client_keys::{ClientJwks, JwksError};
use crate::domain::ClientId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most clients whose parsed keys are kept; beyond that the cache starts over (a cheap bound: the clients that
/// sign are few, and a parse is all a miss costs).
pub const MAX_KEY_SETS: usize = 4096;

/// Where a JWK Set's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Registered with the client (`jwks`), read leniently ([`ClientJwks::parse_stored`]).
    Inline,
    /// Served at the client's `jwks_uri`, read strictly ([`ClientJwks::from_slice`]).
    Fetched,
}

type SetDigest = [u8; 32];

/// Parsed JWK Sets, one per client: the last one parsed.
#[derive(Default)]
pub struct ParsedKeySets {
    entries: Mutex<HashMap<ClientId, (SetDigest, Arc<ClientJwks>)>>,
}

impl std::fmt::Debug for ParsedKeySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedKeySets").finish_non_exhaustive()
    }
}

fn digest(source: KeySource, text: &str) -> SetDigest {
    let mut hash = Sha256::new();
    hash.update(match source {
        KeySource::Inline => b"inline\0",
        KeySource::Fetched => b"remote\0",
    });
    hash.update(text.as_bytes());
    hash.finalize().into()
}

impl ParsedKeySets {
    /// The keys `client` has in `text` (from `source`): as parsed before if this very text was, else `parse`d
    /// now and kept in place of the client's previous set.
    pub fn get_or_parse(
        &self,
        client: &ClientId,
        source: KeySource,
        text: &str,
        parse: impl FnOnce() -> Result<ClientJwks, JwksError>,
    ) -> Result<Arc<ClientJwks>, JwksError> {
        let digest = digest(source, text);
        if let Some((kept, keys)) = self.lock().get(client) {
            if *kept == digest {
                return Ok(Arc::clone(keys));
            }
        }
        // Parsed outside the lock: two requests may both parse a new set, and the second keeps its own.
        let keys = Arc::new(parse()?);
        let mut entries = self.lock();
        if entries.len() >= MAX_KEY_SETS && !entries.contains_key(client) {
            entries.clear();
        }
        entries.insert(client.clone(), (digest, Arc::clone(&keys)));
        Ok(keys)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, (SetDigest, Arc<ClientJwks>)>> {
        // The map holds no invariant a panic could break halfway.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client_assertion::AssertionAlg;
    use serde_json::{json, Value};
    use std::cell::Cell;

    fn ec_key(kid: &str) -> Value {
        let mut jwk = josekit::jws::ES256.generate_key_pair().unwrap().to_jwk_public_key();
        jwk.set_key_id(kid);
        serde_json::to_value(&jwk).unwrap()
    }

    fn client(id: &str) -> ClientId {
        ClientId::parse(id).unwrap()
    }

    /// The kids of the ES256 keys `sets` gives for `text`, and whether it had to parse.
    fn read(sets: &ParsedKeySets, id: &str, source: KeySource, text: &str) -> (Vec<String>, bool) {
        let parsed = Cell::new(false);
        let keys = sets
            .get_or_parse(&client(id), source, text, || {
                parsed.set(true);
                ClientJwks::from_slice(text.as_bytes())
            })
            .unwrap();
        let kids = keys.candidates(None, AssertionAlg::Es256).iter().map(|k| k.key_id().unwrap().to_owned()).collect();
        (kids, parsed.get())
    }

    #[test]
    fn a_set_is_parsed_once_and_a_changed_one_again() {
        let sets = ParsedKeySets::default();
        let first = json!({ "keys": [ec_key("k1")] }).to_string();
        assert_eq!(read(&sets, "c1", KeySource::Inline, &first), (vec!["k1".to_owned()], true));
        assert_eq!(read(&sets, "c1", KeySource::Inline, &first), (vec!["k1".to_owned()], false), "kept");

        // The client's keys changed (an update, a refetch): the new set, never the one kept.
        let second = json!({ "keys": [ec_key("k2")] }).to_string();
        assert_eq!(read(&sets, "c1", KeySource::Inline, &second), (vec!["k2".to_owned()], true));
        assert_eq!(read(&sets, "c1", KeySource::Inline, &second), (vec!["k2".to_owned()], false));
        // And back: parsed again, since only the last set of a client is kept.
        assert_eq!(read(&sets, "c1", KeySource::Inline, &first), (vec!["k1".to_owned()], true));

        // The same text from elsewhere is read by other rules, and another client's is its own.
        assert!(read(&sets, "c1", KeySource::Fetched, &first).1);
        assert!(read(&sets, "c2", KeySource::Fetched, &first).1);
        assert!(!read(&sets, "c1", KeySource::Fetched, &first).1);
        assert_eq!(sets.len(), 2, "one set per client");
    }

    #[test]
    fn a_set_that_fails_to_parse_is_not_kept() {
        let sets = ParsedKeySets::default();
        let refused = || Err(ClientJwks::from_slice(b"{}").unwrap_err());
        assert!(sets.get_or_parse(&client("c1"), KeySource::Fetched, "{}", refused).is_err());
        assert_eq!(sets.len(), 0);
        let good = json!({ "keys": [ec_key("k1")] }).to_string();
        assert!(read(&sets, "c1", KeySource::Fetched, &good).1);
        // A failure leaves the client's last good set in place.
        assert!(sets.get_or_parse(&client("c1"), KeySource::Fetched, "{}", refused).is_err());
        assert!(!read(&sets, "c1", KeySource::Fetched, &good).1);
    }

    #[test]
    fn the_cache_is_bounded() {
        let sets = ParsedKeySets::default();
        let text = json!({ "keys": [ec_key("k1")] }).to_string();
        for i in 0..MAX_KEY_SETS {
            read(&sets, &format!("c{i}"), KeySource::Inline, &text);
        }
        assert_eq!(sets.len(), MAX_KEY_SETS);
        // A known client's new set replaces its old one.
        read(&sets, "c0", KeySource::Fetched, &text);
        assert_eq!(sets.len(), MAX_KEY_SETS);
        // One more client starts over.
        assert!(read(&sets, "another", KeySource::Inline, &text).1);
        assert_eq!(sets.len(), 1);
    }
}
