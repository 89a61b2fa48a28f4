//! Passkeys: WebAuthn (Level 2) credentials with user verification, verified by `webauthn-rs`. A signed-in user
//! adds them on the account page and signs in with one on the sign-in page without typing a name (a
//! discoverable credential).
//!
//! The relying party is the issuer: its host is the RP ID and its origin the one origin accepted
//! ([`PasskeyRp::for_issuer`]). WebAuthn takes a domain only, so an issuer named by an IP address has no
//! passkeys (the pages offer none).
//!
//! Each ceremony has two steps: its options (with a fresh challenge) go to the browser, and the browser's answer
//! comes back. Between them the verifier's state waits in the cache under the hash of a random id, bound to what
//! started it (the session for an addition, the browser and the sign-in's target for a sign-in), for
//! [`CEREMONY_TTL`], and the answer takes it once. The state is serialised into the cache only: it never leaves
//! the server. Answers are verified on the signing pool (`PasskeyRp::on_pool`), never on the reactor.
//!
//! A passkey's user handle is the user id when it is a UUID (the ids this server makes), else 16 bytes of a hash
//! of it ([`user_handle`]); a sign-in checks that the handle the authenticator returns is that of the passkey's
//! user. The stored credential is public (a public key and a signature counter).
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::provider::Provider;
use super::session::SignedIn;
use crate::blocking::CpuPool;
use crate::domain::passkey::{PasskeyName, StoredPasskey};
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::{UnixTime, User, UserId};
use crate::storage::{PasskeyRemoval, StoreError, WaysIn};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use url::Url;
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

pub mod sign_in;

/// The `amr` of a passkey sign-in (RFC 8176 §2): `pop`, proof of possession of a key, which may be bound to a
/// device's hardware or synced between devices in software (with attestation `none` the server cannot tell, so
/// neither `hwk` nor `swk` is claimed); and `mfa`, since user verification is required: the authenticator
/// checked a PIN or a biometric of its own besides the possession (which of them it does not say, so neither
/// `pin` nor `fpt` is claimed). Such a sign-in counts as two-step: `otp.required` asks no code after it.
pub const PASSKEY_AMR: [&str; 2] = ["pop", "mfa"];

/// How long a ceremony waits for the browser's answer: the authenticator's five minutes (the options'
/// `timeout`, `webauthn-rs`'s default), and one more to post it.
pub const CEREMONY_TTL: i64 = 360;

/// What a ceremony's entry holds once an answer has taken it.
const TAKEN: &[u8] = b"taken";

/// Longest ceremony id looked up; ours are 43 characters.
const MAX_CEREMONY_ID: usize = 64;

/// The WebAuthn relying party of this server.
pub struct PasskeyRp {
    /// Shared with the signing pool's threads, where answers are verified (`PasskeyRp::on_pool`).
    webauthn: Arc<Webauthn>,
    rp_id: String,
}

impl std::fmt::Debug for PasskeyRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRp").field("rp_id", &self.rp_id).finish_non_exhaustive()
    }
}

impl PasskeyRp {
    /// The relying party of `issuer`: its host is the RP ID (also the name authenticators show), its origin
    /// (`scheme://host[:port]`) the only origin accepted. `None` when the host is not a domain (an IP address),
    /// which WebAuthn does not take.
    pub fn for_issuer(issuer: &Url) -> Option<Self> {
        let rp_id = issuer.domain()?.to_owned();
        let origin = Url::parse(&issuer.origin().ascii_serialization()).ok()?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin).ok()?.rp_name(&rp_id).build().ok()?;
        Some(Self { webauthn: Arc::new(webauthn), rp_id })
    }

    /// The RP ID.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The options and verifier's state of a new passkey for `user`: a discoverable credential (one the
    /// authenticator finds by itself at sign-in, with no name typed; `webauthn-rs` leaves that to the caller),
    /// with user verification, none of `exclude` (the user's passkeys already stored).
    fn registration_options(
        &self,
        user: &User,
        exclude: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), OAuthError> {
        let display = user.name.as_deref().unwrap_or(user.username.as_str());
        let (mut options, state) = self
            .webauthn
            .start_passkey_registration(user_handle(&user.id), user.username.as_str(), display, Some(exclude))
            .map_err(OAuthError::server)?;
        let selection = options.public_key.authenticator_selection.get_or_insert_with(Default::default);
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        Ok((options, state))
    }

    /// Runs `check` with the verifier on `pool`, the signing pool: verifying an answer checks signatures and
    /// reads public keys with OpenSSL, blocking work that never runs on the reactor. A saturated pool queues it
    /// as it queues token signing.
    async fn on_pool<T, F>(&self, pool: &CpuPool, check: F) -> Result<T, OAuthError>
    where
        F: FnOnce(&Webauthn) -> T + Send + 'static,
        T: Send + 'static,
    {
        let webauthn = Arc::clone(&self.webauthn);
        pool.run(move || check(&webauthn)).await.map_err(OAuthError::server)
    }

    /// The options and verifier's state of a sign-in with any passkey of this RP.
    fn sign_in_options(&self) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), OAuthError> {
        let (mut options, state) = self.webauthn.start_discoverable_authentication().map_err(OAuthError::server)?;
        // A button press, not the autofill of a username field (`conditional`): the browser shows its own dialog.
        options.mediation = None;
        Ok((options, state))
    }
}

/// The WebAuthn user handle of `user_id`: the id itself when it is a UUID, else the first 16 bytes of a hash
/// of it. The same for a user at every ceremony, and different for every user.
pub fn user_handle(user_id: &UserId) -> Uuid {
    Uuid::parse_str(user_id.as_str()).unwrap_or_else(|_| {
        let digest = Sha256::new().chain_update(b"tessera passkey user handle\0").chain_update(user_id.as_str());
        let mut bytes = [0u8; 16];
        bytes.iter_mut().zip(digest.finalize()).for_each(|(b, d)| *b = d);
        Uuid::from_bytes(bytes)
    })
}

/// The base64url form of a credential id, as stored.
pub(crate) fn credential_key(raw_id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw_id)
}

/// A ceremony's first step, for the browser: the id its answer names, and the options (JSON) for
/// `navigator.credentials.create` or `.get`.
#[derive(Debug)]
pub struct CeremonyStarted {
    /// The id the answer names (`ceremony`).
    pub ceremony: String,
    /// `{"publicKey": …}`, binary members in base64url.
    pub options: serde_json::Value,
}

/// Whether the account page's addition of a passkey could begin.
#[derive(Debug)]
pub enum RegistrationStart {
    /// Begun: the browser makes the passkey.
    Begun(CeremonyStarted),
    /// The session's sign-in is not recent ([`super::session::RECENT_SIGN_IN_SECONDS`]): a browser left signed in
    /// does not add a way in that outlives a new password and counts as two-step.
    SignInAgain,
}

/// An addition of a passkey waiting for the browser's answer.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    state: PasskeyRegistration,
    /// The hash of the session that started it: another session cannot finish it.
    session: String,
    user_id: UserId,
    name: String,
    created_at: UnixTime,
}

/// The outcome of the answer to an addition ([`Provider::finish_passkey_registration`]).
#[derive(Debug)]
pub enum PasskeyRegistered {
    /// Stored.
    Added(StoredPasskey),
    /// No such ceremony for this session: expired, answered already, or another session's.
    Gone,
    /// The answer does not verify (or is not an answer): nothing stored.
    Refused,
    /// The authenticator's credential is registered already (to this user or another).
    Duplicate,
}

fn ceremony_key(kind: &str, id: &str) -> String {
    super::cache_keys::passkey_ceremony(kind, SecretHash::of(id).as_str())
}

fn ceremony_ttl() -> Duration {
    Duration::from_secs(CEREMONY_TTL.unsigned_abs())
}

impl Provider {
    /// The relying party, when passkeys are on (an issuer named by a domain).
    pub fn passkey_rp(&self) -> Option<&PasskeyRp> {
        self.passkey_rp.as_ref()
    }

    fn rp(&self) -> Result<&PasskeyRp, OAuthError> {
        self.passkey_rp().ok_or_else(|| OAuthError::server("passkeys are off: the issuer is not named by a domain"))
    }

    /// The user's passkeys, oldest first.
    pub async fn own_passkeys(&self, user_id: &UserId) -> Result<Vec<StoredPasskey>, OAuthError> {
        Ok(self.passkeys.passkeys_of(user_id).await?)
    }

    /// Starts adding a passkey named `name` for the signed-in user, in a session signed in recently: options that
    /// ask for a discoverable credential with user verification, excluding the user's passkeys already stored.
    pub async fn begin_passkey_registration(
        &self,
        signed_in: &SignedIn,
        name: &PasskeyName,
        now: UnixTime,
    ) -> Result<RegistrationStart, OAuthError> {
        let rp = self.rp()?;
        if !signed_in.recently(now) {
            return Ok(RegistrationStart::SignInAgain);
        }
        let user = &signed_in.user;
        let existing = self.own_passkeys(&user.id).await?;
        let exclude = existing
            .iter()
            .map(|p| serde_json::from_str::<Passkey>(&p.credential).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(OAuthError::server)?;
        let (options, state) = rp.registration_options(user, exclude)?;
        let pending = PendingRegistration {
            state,
            session: signed_in.session.id_hash.clone(),
            user_id: user.id.clone(),
            name: name.as_str().to_owned(),
            created_at: now,
        };
        let ceremony = random_token(32);
        let bytes = serde_json::to_vec(&pending).map_err(OAuthError::server)?;
        self.cache.set(&ceremony_key("registration", &ceremony), &bytes, ceremony_ttl()).await?;
        let options = serde_json::to_value(&options).map_err(OAuthError::server)?;
        Ok(RegistrationStart::Begun(CeremonyStarted { ceremony, options }))
    }

    /// Finishes the addition `ceremony` of the signed-in session with the browser's answer (`credential`, the
    /// JSON of its `PublicKeyCredential`): verified, stored, audited as `passkey_added`.
    pub async fn finish_passkey_registration(
        &self,
        signed_in: &SignedIn,
        ceremony: &str,
        credential: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<PasskeyRegistered, OAuthError> {
        let rp = self.rp()?;
        let key = ceremony_key("registration", ceremony);
        let Some(pending) = self.pending_registration(&key, signed_in, now).await? else {
            return Ok(PasskeyRegistered::Gone);
        };
        if !self.take_ceremony(&key).await? {
            return Ok(PasskeyRegistered::Gone);
        }
        let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(credential) else {
            return Ok(PasskeyRegistered::Refused);
        };
        let state = pending.state;
        let verified = rp.on_pool(&self.signing_pool, move |w| w.finish_passkey_registration(&answer, &state)).await?;
        let passkey = match verified {
            Ok(passkey) => passkey,
            Err(error) => {
                tracing::info!(%error, "a passkey's registration did not verify");
                return Ok(PasskeyRegistered::Refused);
            }
        };
        let stored = StoredPasskey {
            id: random_token(16),
            user_id: pending.user_id,
            credential_id: credential_key(passkey.cred_id()),
            credential: serde_json::to_string(&passkey).map_err(OAuthError::server)?,
            name: pending.name,
            created_at: now,
            last_used_at: None,
        };
        match self.passkeys.add_passkey(&stored).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(PasskeyRegistered::Duplicate),
            Err(StoreError::ReferenceGone(_)) => return Ok(PasskeyRegistered::Gone),
            Err(e) => return Err(e.into()),
        }
        let user_id = Some(stored.user_id.as_str().to_owned());
        let details = json!({ "passkey": stored.id, "name": stored.name });
        let facts = EventFacts { actor: user_id.clone(), user_id, client_id: None, details };
        self.audit("passkey_added", facts, meta, now).await;
        Ok(PasskeyRegistered::Added(stored))
    }

    /// The addition kept under `key`, if it is the signed-in session's and live.
    async fn pending_registration(
        &self,
        key: &str,
        signed_in: &SignedIn,
        now: UnixTime,
    ) -> Result<Option<PendingRegistration>, OAuthError> {
        let Some(bytes) = self.cache.get(key).await? else { return Ok(None) };
        if bytes == TAKEN {
            return Ok(None);
        }
        let pending: PendingRegistration = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;
        let same_session: bool = pending.session.as_bytes().ct_eq(signed_in.session.id_hash.as_bytes()).into();
        let live = now < pending.created_at + CEREMONY_TTL;
        Ok((same_session && pending.user_id == signed_in.user.id && live).then_some(pending))
    }

    /// Takes the ceremony under `key` for the answer that finishes it: `false` when another took it first.
    async fn take_ceremony(&self, key: &str) -> Result<bool, OAuthError> {
        let previous = self.cache.replace(key, TAKEN, ceremony_ttl()).await?;
        Ok(previous.is_some_and(|p| p != TAKEN))
    }

    /// Removes the passkey `id` of `user_id` on behalf of `actor`, audited as `passkey_removed`. With
    /// `keep_a_way_in` (the user's own request), only when the user can still sign in afterwards: with a password,
    /// another passkey, or a link at a configured provider ([`WaysIn`]). `NotFound` when the user has no such
    /// passkey (another user's included).
    pub async fn remove_passkey(
        &self,
        actor: &str,
        user_id: &UserId,
        id: &str,
        keep_a_way_in: Option<&WaysIn>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<PasskeyRemoval, OAuthError> {
        if id.is_empty() || id.len() > MAX_CEREMONY_ID {
            return Ok(PasskeyRemoval::NotFound);
        }
        let removal = self.passkeys.remove_passkey(user_id, id, keep_a_way_in).await?;
        if let PasskeyRemoval::Removed(removed) = &removal {
            let facts = EventFacts {
                actor: Some(actor.to_owned()),
                user_id: Some(user_id.as_str().to_owned()),
                client_id: None,
                details: json!({ "passkey": removed.id, "name": removed.name }),
            };
            self.audit("passkey_removed", facts, meta, now).await;
        }
        Ok(removal)
    }

    /// What signs a user in on this server besides a password, for the account page's removals: a link at one of
    /// `providers` (those configured now), and a passkey while passkeys are on.
    pub fn ways_in(&self, providers: Vec<String>) -> WaysIn {
        WaysIn { providers, passkeys: self.passkey_rp.is_some() }
    }
}

#[cfg(test)]
mod tests;
