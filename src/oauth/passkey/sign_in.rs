//! Signing in with a passkey: the options of a ceremony for any discoverable credential of this RP (no name
//! typed), kept bound to the browser and the sign-in's target, and the check of the browser's answer, which
//! starts a session as the password step does (`amr` [`super::PASSKEY_AMR`]), or, as it does, first asks for a
//! new password when the user's is temporary. The passkey is found by its
//! credential id; the user handle the authenticator returns must be its user's; the signature, user
//! verification and signature counter are `webauthn-rs`'s to check: a counter that did not grow where the
//! authenticator keeps one says the credential may have been cloned, and the sign-in is refused.
use super::{ceremony_key, ceremony_ttl, credential_key, user_handle, CeremonyStarted, CEREMONY_TTL, TAKEN};
use crate::domain::secret::{random_token, PlainSecret, SecretHash};
use crate::domain::{Device, Session, UnixTime, User};
use crate::oauth::error::OAuthError;
use crate::oauth::interaction::Continuation;
use crate::oauth::limits::Limited;
use crate::oauth::provider::Provider;
use crate::oauth::session::Finished;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use subtle::ConstantTimeEq;
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential, WebauthnError};

/// A passkey sign-in waiting for the browser's answer. Its `Debug` leaves out the verifier's state and the
/// browser binding.
#[derive(Serialize, Deserialize)]
pub struct PendingPasskeySignIn {
    state: DiscoverableAuthentication,
    /// Hash of the browser-binding cookie.
    browser: String,
    /// Where the sign-in continues.
    pub continuation: Continuation,
    /// The client of the authorization it continues, for the audit trail.
    pub client_id: Option<String>,
    created_at: UnixTime,
}

impl std::fmt::Debug for PendingPasskeySignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPasskeySignIn")
            .field("continuation", &self.continuation)
            .field("client_id", &self.client_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of asking for a passkey sign-in's options.
#[derive(Debug)]
pub enum PasskeySignInStart {
    /// The ceremony is kept: its options for the browser.
    Started(CeremonyStarted),
    /// Too many new sign-ins from this IP (the rate of pending authorizations).
    Limited(Limited),
    /// The in-process cache has no room for more pending sign-ins.
    Full,
}

/// Why a passkey sign-in was refused: for the audit trail only. The page says the same in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRefusal {
    /// Not the JSON of an assertion, or without a user handle.
    Malformed,
    /// No stored passkey has that credential id.
    UnknownPasskey,
    /// The user handle is not the passkey's user's.
    WrongUser,
    /// The assertion does not verify (signature, challenge, origin, RP ID, user verification).
    Invalid,
    /// The signature counter did not grow: the credential may have been cloned.
    PossibleClone,
    /// The passkey's user is disabled.
    Disabled,
    /// The passkey's user is gone.
    UnknownUser,
}

impl PasskeyRefusal {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "passkey_malformed",
            Self::UnknownPasskey => "passkey_unknown",
            Self::WrongUser => "passkey_wrong_user",
            Self::Invalid => "passkey_invalid",
            Self::PossibleClone => "passkey_possible_clone",
            Self::Disabled => "disabled",
            Self::UnknownUser => "unknown_user",
        }
    }
}

/// The outcome of a passkey sign-in ([`Provider::passkey_sign_in`]).
#[derive(Debug)]
// Made once per sign-in and matched at once: boxing the session would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum PasskeySignIn {
    /// The assertion verified, the account is active, and a session started.
    Started {
        /// The account.
        user: User,
        /// The id of the passkey used.
        passkey_id: String,
        /// The session cookie's value.
        cookie: PlainSecret,
        /// The session stored.
        session: Session,
    },
    /// The assertion verified and the account is active, but its password is temporary: no session until the
    /// user chose a new one ([`crate::oauth::temporary_password`]).
    NeedsNewPassword {
        /// The account.
        user: User,
        /// The id of the passkey used.
        passkey_id: String,
        /// The `amr` of the session that the new password starts.
        amr: Vec<String>,
    },
    /// Refused; `user` is the account the passkey belongs to, if one was found.
    Refused {
        /// The passkey's user, when found.
        user: Option<User>,
        /// Why.
        refusal: PasskeyRefusal,
    },
}

fn refused(user: Option<User>, refusal: PasskeyRefusal) -> Result<PasskeySignIn, OAuthError> {
    Ok(PasskeySignIn::Refused { user, refusal })
}

impl Provider {
    /// Starts a passkey sign-in that continues to `target` (with its client, if any), bound to `browser` (the
    /// browser-binding cookie). It counts as a new pending sign-in of `ip`, and is kept within the in-process
    /// cache's budget as pending authorizations are.
    pub async fn begin_passkey_sign_in(
        &self,
        (continuation, client_id): (Continuation, Option<String>),
        browser: &str,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<PasskeySignInStart, OAuthError> {
        let rp = self.rp()?;
        if let Err(limited) = self.limits.check_new_sign_in(ip, now).await {
            return Ok(PasskeySignInStart::Limited(limited));
        }
        let (options, state) = rp.sign_in_options()?;
        let pending = PendingPasskeySignIn {
            state,
            browser: SecretHash::of(browser).as_str().to_owned(),
            continuation,
            client_id,
            created_at: now,
        };
        let ceremony = random_token(32);
        let bytes = serde_json::to_vec(&pending).map_err(OAuthError::server)?;
        if !self.cache.set_within_budget(&ceremony_key("sign-in", &ceremony), &bytes, ceremony_ttl()).await? {
            return Ok(PasskeySignInStart::Full);
        }
        let options = serde_json::to_value(&options).map_err(OAuthError::server)?;
        Ok(PasskeySignInStart::Started(CeremonyStarted { ceremony, options }))
    }

    /// Takes the passkey sign-in `ceremony` for its answer, if it is this browser's, live, and continues to
    /// `continuation` (the target the answer's form names): `None` otherwise, or when another answer took it.
    pub async fn take_passkey_sign_in(
        &self,
        ceremony: &str,
        browser: &str,
        continuation: &Continuation,
        now: UnixTime,
    ) -> Result<Option<PendingPasskeySignIn>, OAuthError> {
        if ceremony.len() > super::MAX_CEREMONY_ID {
            return Ok(None);
        }
        let key = ceremony_key("sign-in", ceremony);
        let Some(bytes) = self.cache.get(&key).await? else { return Ok(None) };
        if bytes == TAKEN {
            return Ok(None);
        }
        let pending: PendingPasskeySignIn = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;
        let same_browser: bool = SecretHash::of(browser).as_str().as_bytes().ct_eq(pending.browser.as_bytes()).into();
        let live = now < pending.created_at + CEREMONY_TTL;
        if !(same_browser && live && pending.continuation == *continuation && self.take_ceremony(&key).await?) {
            return Ok(None);
        }
        Ok(Some(pending))
    }

    /// Checks the browser's answer (`credential`, the JSON of its `PublicKeyCredential`) to a taken passkey
    /// sign-in and, when it verifies for an active user, records the passkey's use (its new signature counter)
    /// and starts a session for the user on `device` with `amr` [`super::PASSKEY_AMR`].
    pub async fn passkey_sign_in(
        &self,
        pending: PendingPasskeySignIn,
        credential: &str,
        device: Device,
        now: UnixTime,
    ) -> Result<PasskeySignIn, OAuthError> {
        let rp = self.rp()?;
        let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
            return refused(None, PasskeyRefusal::Malformed);
        };
        let Ok((handle, raw_id)) = rp.webauthn.identify_discoverable_authentication(&answer) else {
            return refused(None, PasskeyRefusal::Malformed);
        };
        let Some(stored) = self.passkeys.passkey_by_credential(&credential_key(raw_id)).await? else {
            return refused(None, PasskeyRefusal::UnknownPasskey);
        };
        let user = self.users.user_by_id(&stored.user_id).await?;
        if handle != user_handle(&stored.user_id) {
            return refused(user, PasskeyRefusal::WrongUser);
        }
        let mut passkey: Passkey = serde_json::from_str(&stored.credential).map_err(OAuthError::server)?;
        let (key, state) = (DiscoverableKey::from(&passkey), pending.state);
        let verified = rp
            .on_pool(&self.signing_pool, move |w| w.finish_discoverable_authentication(&answer, state, &[key]))
            .await?;
        let result = match verified {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                tracing::warn!(passkey = %stored.id, "a passkey's signature counter went back: it may have been cloned");
                return refused(user, PasskeyRefusal::PossibleClone);
            }
            Err(error) => {
                tracing::info!(%error, passkey = %stored.id, "a passkey sign-in did not verify");
                return refused(user, PasskeyRefusal::Invalid);
            }
        };
        let user = match user {
            None => return refused(None, PasskeyRefusal::UnknownUser),
            Some(u) if u.disabled => return refused(Some(u), PasskeyRefusal::Disabled),
            Some(u) => u,
        };
        passkey.update_credential(&result);
        let updated = serde_json::to_string(&passkey).map_err(OAuthError::server)?;
        if !self.passkeys.record_passkey_use(&stored.id, &stored.credential, &updated, now).await? {
            // Removed since it was read: as if the removal had come first.
            if self.passkeys.passkey_by_credential(&stored.credential_id).await?.is_none() {
                return refused(Some(user), PasskeyRefusal::UnknownPasskey);
            }
            // Used by another sign-in meanwhile, whose counter this one was not checked against: the two at once
            // could be the passkey and a clone. This one is refused; another try is checked against both.
            tracing::warn!(passkey = %stored.id, "a passkey signed in twice at once: one sign-in is refused");
            return refused(Some(user), PasskeyRefusal::Invalid);
        }
        let amr = super::PASSKEY_AMR.iter().map(|m| (*m).to_owned()).collect();
        let passkey_id = stored.id;
        match self.finish_sign_in(&user, amr, device, now, now).await? {
            Some(Finished::Started { cookie, session }) => {
                Ok(PasskeySignIn::Started { user, passkey_id, cookie, session })
            }
            Some(Finished::NewPasswordFirst { amr }) => Ok(PasskeySignIn::NeedsNewPassword { user, passkey_id, amr }),
            None => refused(None, PasskeyRefusal::UnknownUser),
        }
    }
}
