//! Two-step sign-in with TOTP (RFC 6238, `domain::totp`): the secret sealed at rest with the key-encryption key
//! (as signing keys are), a code taken once (the last accepted step is kept), enrolment from the account page
//! (the new secret kept in the cache, sealed and bound to the session, for `otp.setup_seconds`, until a code from
//! it is confirmed), and the pending second step of a password sign-in ([`second_step`]: a code, or, under
//! `otp.required`, the set-up of a user without TOTP).
use super::audit::{EventFacts, RequestMeta};
use super::cache_keys;
use super::error::OAuthError;
use super::provider::Provider;
use super::session::SignedIn;
use crate::domain::secret::SecretHash;
use crate::domain::totp::{self, RecoveryCode, TotpCode, TotpSecret, RECOVERY_CODES};
use crate::domain::{UnixTime, User, UserId};
use crate::storage::StoredOtp;
use serde_json::json;
use std::time::Duration;

mod second_step;
pub use second_step::{EnrolCheck, SecondStep, SignInTarget, StepKind};

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

/// Whether the account page's set-up could begin.
#[derive(Debug)]
pub enum EnrolmentStart {
    /// Begun: the secret to show.
    Begun(Enrolment),
    /// Two-step verification is on already: another app's secret takes turning it off first, with a code of it.
    AlreadyOn,
    /// The session's sign-in is not recent ([`super::session::RECENT_SIGN_IN_SECONDS`]): a browser left signed in
    /// does not set up a factor that would lock its user out.
    SignInAgain,
}

/// What confirming the account page's set-up did.
#[derive(Debug)]
pub enum EnrolmentEnd {
    /// Turned on: the recovery codes, to show this once.
    On(Vec<RecoveryCode>),
    /// The code is not right, or nothing is being set up.
    NotRight,
    /// Turned on meanwhile (in another browser): that secret stays.
    AlreadyOn,
}

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

    /// Whether the user has a second factor to step up a sign-in with ([`super::acr`]): a TOTP secret, or a
    /// passkey while passkeys are on.
    pub async fn has_second_factor(&self, user_id: &UserId) -> Result<bool, OAuthError> {
        if self.otp_enabled(user_id).await? {
            return Ok(true);
        }
        Ok(self.passkey_rp.is_some() && !self.passkeys.passkeys_of(user_id).await?.is_empty())
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
    /// is confirmed or `otp.setup_seconds` pass; starting again replaces it. Only for a user without two-step
    /// verification, in a session signed in recently.
    pub async fn begin_otp_enrolment(&self, signed_in: &SignedIn, now: UnixTime) -> Result<EnrolmentStart, OAuthError> {
        if self.otp_enabled(&signed_in.user.id).await? {
            return Ok(EnrolmentStart::AlreadyOn);
        }
        if !signed_in.recently(now) {
            return Ok(EnrolmentStart::SignInAgain);
        }
        let secret = TotpSecret::generate();
        let sealed = self.seal_otp(&signed_in.session.id_hash, &secret)?;
        let ttl = Duration::from_secs(self.otp.setup.unsigned_abs());
        self.cache.set(&cache_keys::otp_enrolment(&signed_in.session.id_hash), &sealed, ttl).await?;
        self.enrolment(signed_in.user.username.as_str(), secret).map(EnrolmentStart::Begun)
    }

    /// The secret being set up in this session, if any.
    pub async fn pending_otp_enrolment(&self, signed_in: &SignedIn) -> Result<Option<Enrolment>, OAuthError> {
        let key = cache_keys::otp_enrolment(&signed_in.session.id_hash);
        let Some(sealed) = self.cache.get(&key).await? else { return Ok(None) };
        let secret = self.open_otp(&signed_in.session.id_hash, &sealed)?;
        self.enrolment(signed_in.user.username.as_str(), secret).map(Some)
    }

    /// What a set-up page shows of `secret`, for the account `username`.
    fn enrolment(&self, username: &str, secret: TotpSecret) -> Result<Enrolment, OAuthError> {
        let uri = secret
            .otpauth_uri(&issuer_label(&self.issuer), username)
            .ok_or_else(|| OAuthError::server("cannot build the otpauth URI"))?;
        Ok(Enrolment { secret, uri })
    }

    /// Turns TOTP on with the secret being set up, if `typed` is a current code of it, with new recovery codes,
    /// returned to be shown this once (only their hashes are kept). The confirming code's step counts as used.
    /// Audited as `otp_enabled`. A secret turned on meanwhile (in another browser) is not replaced: the app that
    /// has it would stop working.
    pub async fn confirm_otp_enrolment(
        &self,
        signed_in: &SignedIn,
        typed: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<EnrolmentEnd, OAuthError> {
        let Some(enrolment) = self.pending_otp_enrolment(signed_in).await? else { return Ok(EnrolmentEnd::NotRight) };
        let Some(step) = confirming_step(&enrolment.secret, typed, now) else { return Ok(EnrolmentEnd::NotRight) };
        let details = json!({ "sid": signed_in.session.id_hash });
        let recovery = self.turn_otp_on(&signed_in.user.id, &enrolment.secret, step, None, details, meta, now).await?;
        self.cache.delete(&cache_keys::otp_enrolment(&signed_in.session.id_hash)).await?;
        Ok(recovery.map_or(EnrolmentEnd::AlreadyOn, EnrolmentEnd::On))
    }

    /// Turns the user's TOTP on with `secret`, whose code of `step` confirmed it (so that step counts as used),
    /// with new recovery codes, returned to be shown this once (only their hashes are kept). Audited as
    /// `otp_enabled` by the user, with `details` (and the client of the sign-in it happens in, if any). `None`,
    /// and nothing changed, when TOTP is on already: set up elsewhere meanwhile, its secret is not replaced.
    #[allow(clippy::too_many_arguments)]
    async fn turn_otp_on(
        &self,
        user_id: &UserId,
        secret: &TotpSecret,
        step: i64,
        client_id: Option<String>,
        details: serde_json::Value,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Option<Vec<RecoveryCode>>, OAuthError> {
        let stored =
            StoredOtp { secret_sealed: self.seal_otp(user_id.as_str(), secret)?, last_step: step, enabled_at: now };
        let recovery: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        let hashes: Vec<String> = recovery.iter().map(|c| recovery_hash(user_id, c)).collect();
        if !self.otps.enable_otp(user_id, &stored, &hashes).await? {
            return Ok(None);
        }
        let user = Some(user_id.as_str().to_owned());
        let facts = EventFacts { actor: user.clone(), user_id: user, client_id, details };
        self.audit("otp_enabled", facts, meta, now).await;
        Ok(Some(recovery))
    }

    /// Replaces the signed-in user's recovery codes with new ones, given a current code of their app (not a
    /// recovery code: new codes are for someone who still has the app): what checking it found, with the new
    /// codes when it was right, to be shown this once. Audited as `otp_recovery_codes_renewed`.
    pub async fn renew_own_recovery_codes(
        &self,
        signed_in: &SignedIn,
        typed: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(OtpCheck, Option<Vec<RecoveryCode>>), OAuthError> {
        let user_id = &signed_in.user.id;
        let check = match TotpCode::parse(typed) {
            Some(_) => self.check_otp(user_id, typed, now).await?,
            None if self.otp_enabled(user_id).await? => OtpCheck::Wrong,
            None => OtpCheck::NotEnabled,
        };
        if check != OtpCheck::Accepted {
            return Ok((check, None));
        }
        let recovery: Vec<RecoveryCode> = (0..RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
        let hashes: Vec<String> = recovery.iter().map(|c| recovery_hash(user_id, c)).collect();
        if !self.otps.renew_recovery_codes(user_id, &hashes).await? {
            // Turned off since the code was taken.
            return Ok((OtpCheck::NotEnabled, None));
        }
        let user = Some(user_id.as_str().to_owned());
        let details = json!({ "sid": signed_in.session.id_hash });
        let facts = EventFacts { actor: user.clone(), user_id: user, client_id: None, details };
        self.audit("otp_recovery_codes_renewed", facts, meta, now).await;
        Ok((check, Some(recovery)))
    }

    /// Whether the user may turn their own TOTP off: not while every password sign-in needs it (`otp.required`).
    pub fn own_otp_may_be_turned_off(&self) -> bool {
        !self.otp.required
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
}

/// The step of a current code of `secret` (within the drift window) that `typed` is, if it is one.
fn confirming_step(secret: &TotpSecret, typed: &str, now: UnixTime) -> Option<i64> {
    TotpCode::parse(typed).and_then(|code| totp::verify(secret, &code, now, None))
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
