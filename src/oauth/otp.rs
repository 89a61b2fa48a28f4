//! Two-step sign-in with TOTP (RFC 6238, `domain::totp`): the secret sealed at rest with the key-encryption key
//! (as signing keys are), a code taken once (the last accepted step is kept), enrolment from the account page
//! (the new secret kept in the cache, sealed and bound to the session, until a code from it is confirmed), and the
//! pending second step of a password sign-in (kept in the cache under the hash of a random id, bound to the
//! browser, for [`SECOND_STEP_TTL`]).
use super::audit::{EventFacts, RequestMeta};
use super::cache_keys;
use super::error::OAuthError;
use super::interaction::Continuation;
use super::provider::Provider;
use super::session::SignedIn;
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::totp::{self, RecoveryCode, TotpCode, TotpSecret, RECOVERY_CODES};
use crate::domain::{UnixTime, User, UserId};
use crate::storage::StoredOtp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long the second step of a sign-in may wait for its code.
pub const SECOND_STEP_TTL: i64 = 5 * 60;
/// How long a secret shown for enrolment waits for its first code.
pub const ENROLMENT_TTL: i64 = 15 * 60;
/// The `amr` of a sign-in with a password and a code (RFC 8176).
pub const PASSWORD_AND_OTP_AMR: [&str; 2] = ["pwd", "otp"];

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// Right, and now used.
    Accepted,
    /// One of the user's recovery codes, now used up.
    RecoveryCodeUsed,
    /// Not a code of the user's secret near now.
    Wrong,
    /// Right for a step already used (or older than one used): a replay.
    Replayed,
    /// The user has no TOTP (turned off meanwhile).
    NotEnabled,
}

impl OtpCheck {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::RecoveryCodeUsed => "recovery_code",
            Self::Wrong => "wrong_otp",
            Self::Replayed => "replayed_otp",
            Self::NotEnabled => "otp_not_enabled",
        }
    }

    /// Whether the code was right (a TOTP code or a recovery code).
    pub fn is_accepted(self) -> bool {
        matches!(self, Self::Accepted | Self::RecoveryCodeUsed)
    }
}

/// What a recovery code is stored as: a hash of the user's id and the code, so equal codes of two users differ.
fn recovery_hash(user_id: &UserId, code: &RecoveryCode) -> String {
    SecretHash::of(&format!("{}:{}", user_id.as_str(), code.as_str())).as_str().to_owned()
}

/// A secret being set up: what the account page shows. Its `Debug` shows neither (the URI carries the secret).
pub struct Enrolment {
    /// The new secret.
    pub secret: TotpSecret,
    /// Its `otpauth://` URI, for the QR code.
    pub uri: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment").finish_non_exhaustive()
    }
}

/// A sign-in whose password was right, waiting for its code. Its `Debug` leaves out the CSRF token and the
/// browser binding.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecondStep {
    /// The user signing in.
    pub user_id: UserId,
    /// The name as typed at the password step: the sign-in limits count under it.
    pub username: String,
    /// Where the sign-in continues.
    pub continuation: Continuation,
    /// The client of the authorization it continues, for the audit trail.
    pub client_id: Option<String>,
    /// The CSRF token of the code form.
    pub csrf: String,
    /// Hash of the browser-binding cookie.
    browser: String,
    /// When the password was accepted.
    pub created_at: UnixTime,
}

impl std::fmt::Debug for SecondStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondStep")
            .field("user_id", &self.user_id)
            .field("continuation", &self.continuation)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What a second step's entry holds once a request has completed it.
const TAKEN: &[u8] = b"taken";

/// The label apps show the account under: the issuer's host, so two deployments are told apart.
fn issuer_label(issuer: &str) -> String {
    url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| issuer.to_owned())
}

impl Provider {
    fn seal_otp(&self, aad: &str, secret: &TotpSecret) -> Result<Vec<u8>, OAuthError> {
        self.keys.kek().seal(secret.as_bytes(), aad.as_bytes()).map_err(OAuthError::server)
    }

    fn open_otp(&self, aad: &str, sealed: &[u8]) -> Result<TotpSecret, OAuthError> {
        let bytes = self.keys.kek().open(sealed, aad.as_bytes()).map_err(OAuthError::server)?;
        TotpSecret::from_bytes(&bytes).ok_or_else(|| OAuthError::server("a sealed TOTP secret of the wrong length"))
    }

    /// Whether the user has TOTP turned on.
    pub async fn otp_enabled(&self, user_id: &UserId) -> Result<bool, OAuthError> {
        Ok(self.otps.otp(user_id).await?.is_some())
    }

    /// Checks `typed` against the user's secret at `now`, and uses the code when it is right: its step and
    /// earlier ones are refused from then on, on every instance. A recovery code is used up instead.
    pub async fn check_otp(&self, user_id: &UserId, typed: &str, now: UnixTime) -> Result<OtpCheck, OAuthError> {
        let Some(stored) = self.otps.otp(user_id).await? else { return Ok(OtpCheck::NotEnabled) };
        let Some(code) = TotpCode::parse(typed) else {
            let Some(recovery) = RecoveryCode::parse(typed) else { return Ok(OtpCheck::Wrong) };
            let used = self.otps.use_recovery_code(user_id, &recovery_hash(user_id, &recovery)).await?;
            return Ok(if used { OtpCheck::RecoveryCodeUsed } else { OtpCheck::Wrong });
        };
        let secret = self.open_otp(user_id.as_str(), &stored.secret_sealed)?;
        match totp::verify(&secret, &code, now, Some(stored.last_step)) {
            Some(step) if self.otps.accept_otp_step(user_id, step).await? => Ok(OtpCheck::Accepted),
            // Another request used it first.
            Some(_) => Ok(OtpCheck::Replayed),
            None if totp::verify(&secret, &code, now, None).is_some() => Ok(OtpCheck::Replayed),
            None => Ok(OtpCheck::Wrong),
        }
    }

    /// A new secret for the signed-in user to set up, kept (sealed, bound to the session) until a code from it
    /// is confirmed or [`ENROLMENT_TTL`] passes; starting again replaces it.
    pub async fn begin_otp_enrolment(&self, signed_in: &SignedIn) -> Result<Enrolment, OAuthError> {
        let secret = TotpSecret::generate();
        let sealed = self.seal_otp(&signed_in.session.id_hash, &secret)?;
        let ttl = Duration::from_secs(ENROLMENT_TTL as u64);
        self.cache.set(&cache_keys::otp_enrolment(&signed_in.session.id_hash), &sealed, ttl).await?;
        self.enrolment(signed_in, secret)
    }

    /// The secret being set up in this session, if any.
    pub async fn pending_otp_enrolment(&self, signed_in: &SignedIn) -> Result<Option<Enrolment>, OAuthError> {
        let key = cache_keys::otp_enrolment(&signed_in.session.id_hash);
        let Some(sealed) = self.cache.get(&key).await? else { return Ok(None) };
        let secret = self.open_otp(&signed_in.session.id_hash, &sealed)?;
        self.enrolment(signed_in, secret).map(Some)
    }

    fn enrolment(&self, signed_in: &SignedIn, secret: TotpSecret) -> Result<Enrolment, OAuthError> {
        let uri = secret
            .otpauth_uri(&issuer_label(&self.issuer), signed_in.user.username.as_str())
            .ok_or_else(|| OAuthError::server("cannot build the otpauth URI"))?;
        Ok(Enrolment { secret, uri })
    }

    /// Turns TOTP on with the secret being set up, if `typed` is a current code of it, with new recovery codes,
    /// returned to be shown this once (only their hashes are kept): `None` when the code is not right (or nothing
    /// is being set up). The confirming code's step counts as used. Audited as `otp_enabled`.
    pub async fn confirm_otp_enrolment(
        &self,
        signed_in: &SignedIn,
        typed: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Option<Vec<RecoveryCode>>, OAuthError> {
        let Some(enrolment) = self.pending_otp_enrolment(signed_in).await? else { return Ok(None) };
        let Some(step) = TotpCode::parse(typed).and_then(|c| totp::verify(&enrolment.secret, &c, now, None)) else {
            return Ok(None);
        };
        let user = &signed_in.user;
        let stored = StoredOtp {
            secret_sealed: self.seal_otp(user.id.as_str(), &enrolment.secret)?,
            last_step: step,
            enabled_at: now,
        };
        let recovery: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        let hashes: Vec<String> = recovery.iter().map(|c| recovery_hash(&user.id, c)).collect();
        self.otps.enable_otp(&user.id, &stored, &hashes).await?;
        self.cache.delete(&cache_keys::otp_enrolment(&signed_in.session.id_hash)).await?;
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "sid": signed_in.session.id_hash }),
        };
        self.audit("otp_enabled", facts, meta, now).await;
        Ok(Some(recovery))
    }

    /// Turns the signed-in user's TOTP off, given a current code (or a recovery code): what checking it found.
    pub async fn disable_own_otp(
        &self,
        signed_in: &SignedIn,
        typed: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<OtpCheck, OAuthError> {
        let user = &signed_in.user;
        let check = self.check_otp(&user.id, typed, now).await?;
        if check.is_accepted() {
            self.turn_otp_off(user, Some(user.id.as_str().to_owned()), json!({}), meta, now).await?;
        }
        Ok(check)
    }

    /// Turns a user's TOTP off (an operator's reset, or the user's own with a code), audited as `otp_disabled`
    /// by `actor`: whether it was on.
    pub async fn turn_otp_off(
        &self,
        user: &User,
        actor: Option<String>,
        details: serde_json::Value,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<bool, OAuthError> {
        let was_on = self.otps.disable_otp(&user.id).await?;
        if was_on {
            let facts = EventFacts { actor, user_id: Some(user.id.as_str().to_owned()), client_id: None, details };
            self.audit("otp_disabled", facts, meta, now).await;
        }
        Ok(was_on)
    }

    /// Keeps the second step of a sign-in whose password was right for `user` (typed as `username`), which
    /// continues to a target (with its client, if any), bound to `browser` (the browser-binding cookie):
    /// returns its id, for the code form.
    pub async fn start_second_step(
        &self,
        user: &User,
        username: &str,
        (continuation, client_id): (Continuation, Option<String>),
        browser: &str,
        now: UnixTime,
    ) -> Result<(String, SecondStep), OAuthError> {
        let id = random_token(32);
        let step = SecondStep {
            user_id: user.id.clone(),
            username: username.to_owned(),
            continuation,
            client_id,
            csrf: random_token(32),
            browser: SecretHash::of(browser).as_str().to_owned(),
            created_at: now,
        };
        let bytes = serde_json::to_vec(&step).map_err(OAuthError::server)?;
        let ttl = Duration::from_secs(SECOND_STEP_TTL as u64);
        self.cache.set(&second_step_key(&id), &bytes, ttl).await?;
        Ok((id, step))
    }

    /// The second step `id`, if it is pending for this browser and has not expired.
    pub async fn load_second_step(
        &self,
        id: &str,
        browser: &str,
        now: UnixTime,
    ) -> Result<Option<SecondStep>, OAuthError> {
        if id.len() > 64 {
            return Ok(None);
        }
        let Some(bytes) = self.cache.get(&second_step_key(id)).await? else { return Ok(None) };
        if bytes == TAKEN {
            return Ok(None);
        }
        let step: SecondStep = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;
        let same_browser: bool = SecretHash::of(browser).as_str().as_bytes().ct_eq(step.browser.as_bytes()).into();
        Ok((same_browser && now < step.created_at + SECOND_STEP_TTL).then_some(step))
    }

    /// Takes the second step `id` for the request whose code was right: `false` when another took it first.
    pub async fn take_second_step(&self, id: &str) -> Result<bool, OAuthError> {
        let ttl = Duration::from_secs(SECOND_STEP_TTL as u64);
        let previous = self.cache.replace(&second_step_key(id), TAKEN, ttl).await?;
        Ok(previous.is_some_and(|p| p != TAKEN))
    }

    /// The user of a second step whose code was right (its `user_id`), as they are now: `None` when disabled or
    /// removed since the password was checked (as if that had come first).
    pub async fn second_step_user(&self, user_id: &UserId) -> Result<Option<User>, OAuthError> {
        Ok(self.users.user_by_id(user_id).await?.filter(|user| !user.disabled))
    }
}

fn second_step_key(id: &str) -> String {
    cache_keys::second_step(SecretHash::of(id).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrolment_shows_no_secret_in_debug() {
        let secret = TotpSecret::generate();
        let shown = secret.base32();
        let uri = secret.otpauth_uri("id.example.com", "alice").unwrap();
        assert!(uri.contains(&shown));
        let debug = format!("{:?}", Enrolment { secret, uri });
        assert!(!debug.contains(&shown), "{debug}");
    }

    #[test]
    fn the_label_is_the_issuer_host() {
        assert_eq!(issuer_label("https://id.example.com/tenant"), "id.example.com");
        assert_eq!(issuer_label("http://127.0.0.1:8080"), "127.0.0.1");
    }
}
