//! Access tokens this instance found live (signature, claims, not revoked, client and user in good standing),
//! remembered so that a token presented again and again (a resource server introspecting it, UserInfo) costs
//! one cache read instead of an RSA verification and several SQL reads. A verdict is reused only under the
//! same revocation epoch ([`crate::storage::revocation_epoch`]) and key ring version it was reached under, so
//! it never outlives a revocation; times (`exp`, `nbf`) are checked again on every use.
use super::userinfo::AccessTokenClaims;
use crate::domain::secret::SecretHash;
use crate::domain::User;
use crate::storage::revocation_epoch::{Epoch, VERDICT_MAX_AGE};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most verdicts kept; beyond that the map starts over (a cheap bound: the hot set is the live tokens of
/// busy resource servers).
const MAX_ENTRIES: usize = 10_000;

/// A live access token: its claims, and its user (none for client-credentials tokens).
pub type LiveToken = (AccessTokenClaims, Option<User>);

struct Verdict {
    epoch: Epoch,
    ring_version: i64,
    live: Arc<LiveToken>,
    at: Instant,
}

/// The remembered verdicts, by the hash of the token (the token itself is never kept).
#[derive(Default)]
pub struct VerifiedTokens {
    verdicts: Mutex<HashMap<SecretHash, Verdict>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").finish_non_exhaustive()
    }
}

impl VerifiedTokens {
    /// The verdict on `key` if it was reached under `epoch` and `ring_version`, and is not too old.
    pub fn get(&self, key: &SecretHash, epoch: &Epoch, ring_version: i64) -> Option<Arc<LiveToken>> {
        let verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        let v = verdicts.get(key)?;
        (v.epoch == *epoch && v.ring_version == ring_version && v.at.elapsed() < VERDICT_MAX_AGE)
            .then(|| Arc::clone(&v.live))
    }

    /// Remembers a verdict reached under `epoch` (read before the reads that led to it).
    pub fn insert(&self, key: SecretHash, epoch: Epoch, ring_version: i64, live: Arc<LiveToken>) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        if verdicts.len() >= MAX_ENTRIES {
            verdicts.clear();
        }
        verdicts.insert(key, Verdict { epoch, ring_version, live, at: Instant::now() });
    }
}
