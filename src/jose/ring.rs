//! The live key ring: a snapshot of the SQL ring held in memory, reloaded when the ring's version changes,
//! and maintained on a timer by every instance (the SQL version check makes exactly one of them win).
use super::key::{NewKey, SigningKey, ALG_RS256};
use super::plan::{self, KeyState, KeyTimes};
use super::{JoseError, Kek};
use crate::domain::UnixTime;
use crate::storage::{AuditEvent, AuditStore, KeyStore, StoredKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsHeader, JwsVerifier};
use josekit::jwt::JwtPayload;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

pub use super::plan::RotationPolicy;

/// How many times a ring change is retried when another instance changed the ring first.
const CAS_ATTEMPTS: usize = 4;

/// An immutable view of the ring: what signs, what verifies, and the JWKS bytes.
pub struct RingSnapshot {
    version: i64,
    /// Newest activation first.
    keys: Vec<Arc<SigningKey>>,
    jwks: Vec<u8>,
    etag: String,
}

/// One key as `tessera keys list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// `next`, `current` or `retired`.
    pub state: &'static str,
    /// Algorithm.
    pub alg: &'static str,
    /// Creation time.
    pub created_at: UnixTime,
    /// When it signs (signed) first.
    pub activates_at: UnixTime,
    /// When a newer key took over, for retired keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<UnixTime>,
}

impl RingSnapshot {
    fn build(version: i64, mut keys: Vec<Arc<SigningKey>>) -> Result<Self, JoseError> {
        keys.sort_by(|a, b| (b.activates_at, b.created_at, &b.kid).cmp(&(a.activates_at, a.created_at, &a.kid)));
        let jwks = serde_json::to_vec(&serde_json::json!({
            "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>()
        }))
        .map_err(|e| JoseError::Jose(e.to_string()))?;
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&Sha256::digest(&jwks)[..16]));
        Ok(Self { version, keys, jwks, etag })
    }

    /// A snapshot of the given keys outside any stored ring (tests and fuzzing).
    pub fn from_keys(keys: Vec<Arc<SigningKey>>) -> Result<Self, JoseError> {
        Self::build(-1, keys)
    }

    /// The ring version this snapshot was loaded at.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The key that signs at `now`: the newest one already active.
    pub fn signing_key(&self, now: UnixTime) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.activates_at <= now)
    }

    /// When a key added "immediately" at `now` should activate: `now`, or just after any key that activates
    /// in the same second or the seconds right after (earlier immediate rotations). Times are whole seconds, so
    /// without this two keys would tie and the tie-break could leave the old key signing.
    pub fn immediate_activation(&self, now: UnixTime) -> UnixTime {
        let mut activations: Vec<UnixTime> = self.keys.iter().map(|k| k.activates_at).collect();
        activations.sort_unstable();
        activations.into_iter().fold(now, |at, a| if a >= now && a <= at { a + 1 } else { at })
    }

    /// A published key by id.
    pub fn key(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// When the key `kid` stopped (or will stop) signing: when the next newer key activates; `None` for the
    /// newest key and for unknown ids.
    pub fn retired_at(&self, kid: &str) -> Option<UnixTime> {
        let key = self.key(kid)?;
        self.keys.iter().map(|k| k.activates_at).filter(|&at| at > key.activates_at).min()
    }

    /// The JWKS document, serialized once per ring change.
    pub fn jwks_json(&self) -> &[u8] {
        &self.jwks
    }

    /// Strong ETag of [`RingSnapshot::jwks_json`].
    pub fn jwks_etag(&self) -> &str {
        &self.etag
    }

    /// The keys with their states at `now`.
    pub fn list(&self, now: UnixTime) -> Vec<KeyInfo> {
        plan::states(&self.times(), now)
            .into_iter()
            .filter_map(|(t, s)| {
                let k = self.key(&t.kid)?;
                Some(KeyInfo {
                    kid: k.kid.clone(),
                    state: s.name(),
                    alg: ALG_RS256,
                    created_at: k.created_at,
                    activates_at: k.activates_at,
                    retired_at: match s {
                        KeyState::Retired { since } => Some(since),
                        _ => None,
                    },
                })
            })
            .collect()
    }

    fn times(&self) -> Vec<KeyTimes> {
        self.keys
            .iter()
            .map(|k| KeyTimes { kid: k.kid.clone(), created_at: k.created_at, activates_at: k.activates_at })
            .collect()
    }

    /// Signs `payload` with the current key (see `SigningKey::sign_jwt`). CPU work: call it from the blocking
    /// pool.
    pub fn sign(&self, payload: &JwtPayload, typ: &str, now: UnixTime) -> Result<String, JoseError> {
        self.signing_key(now).ok_or(JoseError::NoSigningKey)?.sign_jwt(payload, typ)
    }

    /// Verifies a JWT signed by a key of this ring: RS256 only and the `kid` must resolve. Claims (`typ`,
    /// `iss`, `aud`, `exp`, …) are the caller's to check.
    pub fn verify(&self, token: &str) -> Result<(JwtPayload, JwsHeader), JoseError> {
        josekit::jwt::decode_with_verifier_selector(token, |header| {
            if header.algorithm() != Some(ALG_RS256) {
                return Ok(None);
            }
            Ok(header.key_id().and_then(|kid| self.key(kid)).map(|k| k.verifier() as &dyn JwsVerifier))
        })
        .map_err(JoseError::from)
    }

    /// The `kid` a token names when this ring has no such key.
    pub fn unknown_kid(&self, token: &str) -> Option<String> {
        let header = josekit::jwt::decode_header(token).ok()?;
        let kid = header.claim("kid")?.as_str()?;
        self.key(kid).is_none().then(|| kid.to_owned())
    }
}

/// Who changes the ring through a [`KeyRing`] handle, as the audit trail names them: its `actor` and
/// `user_agent`, as for every other change an operator's command makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingActor {
    /// The event's `actor` (`cli`).
    pub name: &'static str,
    /// The event's `user_agent` (`tessera-cli`).
    pub user_agent: &'static str,
}

/// The shared, refreshable key ring.
pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    audit: Arc<dyn AuditStore>,
    kek: Kek,
    policy: RotationPolicy,
    bits: u32,
    snapshot: RwLock<Arc<RingSnapshot>>,
    /// Who changes the ring through this handle: an operator's command, or `None` for the server, whose changes
    /// follow the schedule.
    actor: Option<RingActor>,
    /// When (Unix seconds) a token's unknown `kid` last made the ring look for a change.
    looked_for_unknown_kid: AtomicI64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// What a manual rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotateOutcome {
    /// The key that will sign (or signs, with `immediately`).
    pub kid: String,
    /// When it signs.
    pub activates_at: UnixTime,
    /// False when a staged key already existed and was kept.
    pub created: bool,
}

impl KeyRing {
    /// Loads the ring, creating a key that signs at once when none signs or is staged (the first start). The
    /// schedule ([`KeyRing::maintain`]) is the server's to run, with its own settings: an operator command run
    /// with other ones (another `tokens.*` lifetime, another `publish_ahead`) must not remove a retired key
    /// whose tokens still live, nor stage keys on its own timetable. Every change made through it names
    /// `actor` in the audit trail.
    pub async fn open(
        store: Arc<dyn KeyStore>,
        audit: Arc<dyn AuditStore>,
        kek: Kek,
        policy: RotationPolicy,
        bits: u32,
        actor: Option<RingActor>,
        now: UnixTime,
    ) -> Result<Self, JoseError> {
        let empty = RingSnapshot::build(-1, Vec::new())?;
        let snapshot = RwLock::new(Arc::new(empty));
        let looked_for_unknown_kid = AtomicI64::new(0);
        let ring = Self { store, audit, kek, policy, bits, snapshot, actor, looked_for_unknown_kid };
        ring.reload().await?;
        ring.change(|snap| (plan::needs_signing_key(&snap.times(), now).then_some(now), Vec::new()), now).await?;
        Ok(ring)
    }

    /// The key-encryption key, which also seals users' TOTP secrets.
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// The current snapshot; cheap (an `Arc` clone).
    pub fn snapshot(&self) -> Arc<RingSnapshot> {
        self.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads from SQL unconditionally.
    pub async fn reload(&self) -> Result<(), JoseError> {
        let (version, stored) = self.store.load_ring().await?;
        let kek = self.kek.clone();
        // Unsealing parses RSA keys: CPU work, off the reactor.
        let keys = tokio::task::spawn_blocking(move || {
            stored.iter().map(|s| SigningKey::unseal(s, &kek).map(Arc::new)).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| JoseError::Jose(format!("key loading task failed: {e}")))??;
        let snap = Arc::new(RingSnapshot::build(version, keys)?);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snap;
        Ok(())
    }

    /// Reloads when another instance changed the ring; returns whether it did.
    pub async fn refresh(&self) -> Result<bool, JoseError> {
        let version = self.store.ring_version().await?;
        if version == self.snapshot().version {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Refreshes the ring for a token whose `kid` it does not have, at most once a second: another instance
    /// may have added the key and signed with it at once (`keys rotate --now`) before this one's periodic
    /// refresh. Returns whether the ring changed.
    pub async fn refresh_for_unknown_kid(&self, now: UnixTime) -> bool {
        let last = self.looked_for_unknown_kid.load(Ordering::Relaxed);
        if now <= last
            || self.looked_for_unknown_kid.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return false;
        }
        match self.refresh().await {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(error = %e, "key ring refresh for an unknown kid failed");
                false
            }
        }
    }

    /// Applies the automatic schedule at `now` (see [`plan::plan`]).
    pub async fn maintain(&self, now: UnixTime) -> Result<(), JoseError> {
        self.change(
            |snap| {
                let p = plan::plan(&snap.times(), now, &self.policy);
                (p.add_activating_at, p.remove)
            },
            now,
        )
        .await
        .map(|_| ())
    }

    /// Stages a new key: published now, signing after `publish_ahead` (or at once with `immediately`, for a
    /// compromised key; clients that cached the JWKS then refetch it on the unknown `kid`). Without
    /// `immediately`, an already staged key is kept rather than stacking another.
    pub async fn rotate(&self, now: UnixTime, immediately: bool) -> Result<RotateOutcome, JoseError> {
        let publish_ahead = self.policy.publish_ahead;
        let staged = |snap: &RingSnapshot| snap.keys.iter().find(|k| k.activates_at > now).cloned();
        if !immediately {
            if let Some(k) = staged(&self.snapshot()) {
                return Ok(RotateOutcome { kid: k.kid.clone(), activates_at: k.activates_at, created: false });
            }
        }
        let at = if immediately { self.snapshot().immediate_activation(now) } else { now + publish_ahead };
        // Looked at again on every attempt: a rotation run at the same time may have staged one meanwhile.
        let decide = |snap: &RingSnapshot| (immediately || staged(snap).is_none()).then_some(at);
        if let Some(kid) = self.change(|snap| (decide(snap), Vec::new()), now).await? {
            return Ok(RotateOutcome { kid, activates_at: at, created: true });
        }
        let k = staged(&self.snapshot()).ok_or_else(|| JoseError::Jose("rotation added no key".into()))?;
        Ok(RotateOutcome { kid: k.kid.clone(), activates_at: k.activates_at, created: false })
    }

    /// Imports an operator's PEM key, staged like [`KeyRing::rotate`].
    pub async fn import(&self, pem: &str, now: UnixTime, immediately: bool) -> Result<RotateOutcome, JoseError> {
        let new = NewKey::import_pem(pem)?;
        if self.snapshot().key(&new.kid).is_some() {
            return Err(JoseError::Import(format!("key {} is already in the ring", new.kid)));
        }
        let at = if immediately { self.snapshot().immediate_activation(now) } else { now + self.policy.publish_ahead };
        let stored = new.seal(&self.kek, now, at)?;
        for _ in 0..CAS_ATTEMPTS {
            let version = self.snapshot().version;
            if self.store.update_ring(version, vec![stored.clone()], Vec::new()).await? {
                self.record("key_imported", json!({ "kid": new.kid, "activates_at": at }), now).await;
                self.reload().await?;
                return Ok(RotateOutcome { kid: new.kid, activates_at: at, created: true });
            }
            self.reload().await?;
        }
        Err(JoseError::Jose("the key ring kept changing; try again".into()))
    }

    /// Runs `decide` on the latest snapshot and applies its (add, remove) with the SQL version check,
    /// retrying on a lost race. Returns the kid added, if any.
    async fn change<F>(&self, decide: F, now: UnixTime) -> Result<Option<String>, JoseError>
    where
        F: Fn(&RingSnapshot) -> (Option<UnixTime>, Vec<String>),
    {
        for _ in 0..CAS_ATTEMPTS {
            let snap = self.snapshot();
            let (add_at, remove) = decide(&snap);
            if add_at.is_none() && remove.is_empty() {
                return Ok(None);
            }
            let add: Vec<StoredKey> = match add_at {
                Some(at) => vec![self.generate(now, at).await?],
                None => Vec::new(),
            };
            let kid = add.first().map(|k| k.kid.clone());
            let details = json!({ "added": kid, "activates_at": add_at, "removed": remove });
            if self.store.update_ring(snap.version, add, remove).await? {
                self.record("key_ring_changed", details, now).await;
                self.reload().await?;
                return Ok(kid);
            }
            // Another instance changed the ring first: look again at what it did.
            self.reload().await?;
        }
        Err(JoseError::Jose("the key ring kept changing; try again".into()))
    }

    /// Records a ring change in the audit trail (a failed write is logged: the change itself stands).
    async fn record(&self, kind: &str, details: serde_json::Value, now: UnixTime) {
        tracing::info!(event = kind, %details, "key ring changed");
        let event = AuditEvent {
            id: AuditEvent::new_id(),
            at: now,
            kind: kind.to_owned(),
            actor: self.actor.map(|a| a.name.to_owned()),
            user_id: None,
            client_id: None,
            ip: None,
            user_agent: self.actor.map(|a| a.user_agent.to_owned()),
            request_id: None,
            details,
        };
        if let Err(e) = self.audit.record_event(&event).await {
            tracing::error!(error = %e, "key ring change not recorded in the audit trail");
        }
    }

    async fn generate(&self, now: UnixTime, activates_at: UnixTime) -> Result<StoredKey, JoseError> {
        let bits = self.bits;
        let kek = self.kek.clone();
        tokio::task::spawn_blocking(move || NewKey::generate(bits)?.seal(&kek, now, activates_at))
            .await
            .map_err(|e| JoseError::Jose(format!("key generation task failed: {e}")))?
    }

    /// Refreshes and maintains the ring every `every` until `stop` resolves. Errors are logged and retried
    /// on the next tick: a database hiccup must not stop rotation for good.
    pub async fn run_maintenance(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "key ring refresh failed");
                continue;
            }
            if let Err(e) = self.maintain(crate::domain::now()).await {
                tracing::warn!(error = %e, "key ring maintenance failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::key::NewKey;
    use crate::jose::Kek;

    fn key(kek: &Kek, created_at: UnixTime, activates_at: UnixTime) -> Arc<SigningKey> {
        let stored = NewKey::generate(2048).and_then(|k| k.seal(kek, created_at, activates_at)).unwrap();
        Arc::new(SigningKey::unseal(&stored, kek).unwrap())
    }

    #[test]
    fn a_key_retires_when_the_next_newer_one_activates() {
        let kek = Kek::from_bytes([9; 32]);
        let (old, current, next) = (key(&kek, 0, 0), key(&kek, 50, 100), key(&kek, 150, 200));
        let ring = RingSnapshot::from_keys(vec![Arc::clone(&next), Arc::clone(&old), Arc::clone(&current)]).unwrap();
        assert_eq!(ring.retired_at(&old.kid), Some(100));
        assert_eq!(ring.retired_at(&current.kid), Some(200), "staged: it stops signing when the next activates");
        assert_eq!(ring.retired_at(&next.kid), None);
        assert_eq!(ring.retired_at("unknown"), None);
    }
}
