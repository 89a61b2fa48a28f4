//! The second step of a password sign-in whose password was right, kept in the cache under the hash of a random
//! id, bound to the browser, with its own CSRF token, and taken once: the code of a user with TOTP
//! (`otp.code_step_seconds`), or, under `otp.required`, the set-up of a user without it (`otp.setup_seconds`),
//! whose new secret is sealed in the step, bound to its id. A right code of that secret turns TOTP on and takes
//! the step; a new step then waits (`otp.code_step_seconds`) for the browser to continue past the recovery codes.
//! A sign-in of any kind whose every factor was right, of a user whose password is temporary, waits as a step of
//! its own for a new password ([`crate::oauth::temporary_password`]).
use super::{confirming_step, Enrolment, Provider};
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::totp::{RecoveryCode, TotpSecret};
use crate::domain::{UnixTime, User, UserId};
use crate::i18n::Locale;
use crate::oauth::audit::RequestMeta;
use crate::oauth::cache_keys;
use crate::oauth::error::OAuthError;
use crate::oauth::interaction::Continuation;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// What a pending second step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A code of the user's TOTP (`POST /login/code`).
    Code,
    /// A first code of a new secret, shown for set-up: a user without TOTP under `otp.required`.
    Enrol,
    /// Nothing more: TOTP was just set up, and the browser continues the sign-in once the recovery codes are shown.
    Enrolled,
    /// A new password: the user's is temporary (`POST /login/new-password`).
    NewPassword,
}

/// [`StepKind`] as kept, with what it needs.
#[derive(Clone, Default, Serialize, Deserialize)]
enum Stage {
    /// Steps kept before there were other kinds have none: they wait for a code.
    #[default]
    Code,
    Enrol {
        /// The new secret, sealed (base64) with the step's id hash as associated data.
        sealed: String,
        /// The username the app labels it with.
        account: String,
    },
    Enrolled,
    NewPassword {
        /// The `amr` of the session the step ends with: how the user signed in.
        amr: Vec<String>,
        /// What the sign-in's `login_succeeded` event adds (a passkey's id, a recovery code used, …).
        details: serde_json::Value,
    },
}

/// The outcome of a code posted to set up TOTP at a sign-in ([`Provider::confirm_step_enrolment`]).
pub enum EnrolCheck {
    /// Right: TOTP is on. The recovery codes to show this once, and the id and CSRF token of the step that
    /// continues the sign-in from the page that shows them.
    TurnedOn {
        /// The recovery codes.
        codes: Vec<RecoveryCode>,
        /// The continuing step's id.
        next: String,
        /// Its CSRF token.
        csrf: String,
    },
    /// Not a current code of the secret shown.
    Wrong,
    /// The step was taken meanwhile, the user disabled or removed, or TOTP turned on elsewhere first.
    Gone,
}

impl std::fmt::Debug for EnrolCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TurnedOn { .. } => "TurnedOn { .. }",
            Self::Wrong => "Wrong",
            Self::Gone => "Gone",
        })
    }
}

/// A sign-in whose password was right, waiting for its second step. Its `Debug` leaves out the CSRF token, the
/// browser binding and the sealed secret.
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
    /// The CSRF token of the step's form.
    pub csrf: String,
    /// Hash of the browser-binding cookie.
    browser: String,
    /// When the step began: the password accepted, or, for [`StepKind::Enrolled`], TOTP turned on.
    pub created_at: UnixTime,
    /// When the password was accepted: a sign-out everywhere since (a reset, `users revoke`) ends the step, as it
    /// ends the sessions begun before it. Steps kept before it was recorded have 0, and end at any such sign-out.
    #[serde(default)]
    signed_in_at: UnixTime,
    /// Hash of the password hash the step was made for: a password set meanwhile ends it. Steps kept before it
    /// was recorded have none, and end.
    #[serde(default)]
    for_password: String,
    #[serde(default)]
    stage: Stage,
    /// The language the sign-in's authorization request asked its pages in (`ui_locales`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

impl std::fmt::Debug for SecondStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondStep")
            .field("user_id", &self.user_id)
            .field("continuation", &self.continuation)
            .field("kind", &self.kind())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where a sign-in continues, its client if any, and the language its pages are in if the sign-in chose one.
pub type SignInTarget = (Continuation, Option<String>, Option<Locale>);

impl SecondStep {
    /// A step of `user`, whose stored password hash is `stored`.
    fn new(
        (user, stored): (&User, &str),
        username: &str,
        (continuation, client_id, locale): SignInTarget,
        browser: &str,
        now: UnixTime,
        stage: Stage,
    ) -> Self {
        Self {
            user_id: user.id.clone(),
            username: username.to_owned(),
            continuation,
            client_id,
            csrf: random_token(32),
            browser: SecretHash::of(browser).as_str().to_owned(),
            created_at: now,
            signed_in_at: now,
            for_password: SecretHash::of(stored).as_str().to_owned(),
            stage,
            locale,
        }
    }

    /// What the step waits for.
    pub fn kind(&self) -> StepKind {
        match self.stage {
            Stage::Code => StepKind::Code,
            Stage::Enrol { .. } => StepKind::Enrol,
            Stage::Enrolled => StepKind::Enrolled,
            Stage::NewPassword { .. } => StepKind::NewPassword,
        }
    }

    /// A step waiting for a new password of `user`, whose stored password hash is `stored`, ending with a session
    /// of `amr` and a `login_succeeded` event with `details`.
    pub(crate) fn new_password(
        user: &User,
        username: &str,
        target: SignInTarget,
        browser: &str,
        (amr, details, stored): (Vec<String>, serde_json::Value, &str),
        now: UnixTime,
    ) -> Self {
        let stage = Stage::NewPassword { amr, details };
        Self::new((user, stored), username, target, browser, now, stage)
    }

    /// What a new-password step ends with: the session's `amr` and the sign-in's audit details; `None` for other
    /// steps.
    pub(crate) fn session_to_start(&self) -> Option<(Vec<String>, serde_json::Value)> {
        match &self.stage {
            Stage::NewPassword { amr, details, .. } => Some((amr.clone(), details.clone())),
            _ => None,
        }
    }

    /// Whether the step was made for the password whose stored hash is `stored`.
    pub(crate) fn made_for_password(&self, stored: &str) -> bool {
        SecretHash::of(stored).as_str().as_bytes().ct_eq(self.for_password.as_bytes()).into()
    }
}

/// What a second step's entry holds once a request has completed it.
const TAKEN: &[u8] = b"taken";

fn second_step_key(id: &str) -> String {
    cache_keys::second_step(SecretHash::of(id).as_str())
}

impl Provider {
    /// How long a step of `kind` waits: a code's step and a continuation `otp.code_step_seconds`, a set-up
    /// `otp.setup_seconds` (which may mean installing an app first).
    fn step_ttl(&self, kind: StepKind) -> i64 {
        match kind {
            StepKind::Code | StepKind::Enrolled => self.otp.code_step,
            StepKind::Enrol => self.otp.setup,
            StepKind::NewPassword => crate::oauth::temporary_password::NEW_PASSWORD_STEP_SECONDS,
        }
    }

    /// Keeps a second step and returns its new id.
    pub(crate) async fn keep_step(&self, step: &SecondStep) -> Result<String, OAuthError> {
        let id = random_token(32);
        self.store_step(&id, step).await?;
        Ok(id)
    }

    async fn store_step(&self, id: &str, step: &SecondStep) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(step).map_err(OAuthError::server)?;
        let ttl = Duration::from_secs(self.step_ttl(step.kind()).unsigned_abs());
        Ok(self.cache.set(&second_step_key(id), &bytes, ttl).await?)
    }

    /// Stores `step` again under `id` with its new language (`locale`, which the user chose on its page), for the
    /// rest of its time from `now`, unless another request took it meanwhile: a completed step stays completed.
    pub async fn keep_step_locale(&self, id: &str, step: &SecondStep, now: UnixTime) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(step).map_err(OAuthError::server)?;
        let ttl = self.step_ttl(step.kind());
        let left = Duration::from_secs((step.created_at + ttl - now).clamp(1, ttl.max(1)).unsigned_abs());
        let key = second_step_key(id);
        if self.cache.replace(&key, &bytes, left).await?.as_deref() == Some(TAKEN) {
            self.cache.set(&key, TAKEN, left).await?;
        }
        Ok(())
    }

    /// Keeps the second step of a sign-in whose password was right for `user` (typed as `username`), which
    /// continues to a target (with its client, if any), bound to `browser` (the browser-binding cookie):
    /// returns its id, for the code form.
    pub async fn start_second_step(
        &self,
        user: &User,
        username: &str,
        target: SignInTarget,
        browser: &str,
        now: UnixTime,
    ) -> Result<(String, SecondStep), OAuthError> {
        let stored = self.password_hash_of(user).await?;
        let step = SecondStep::new((user, &stored), username, target, browser, now, Stage::Code);
        Ok((self.keep_step(&step).await?, step))
    }

    /// [`Provider::start_second_step`] for a user without TOTP while `otp.required`: the step sets it up, with a
    /// new secret sealed in it, returned to be shown.
    pub async fn start_enrolment_step(
        &self,
        user: &User,
        username: &str,
        target: SignInTarget,
        browser: &str,
        now: UnixTime,
    ) -> Result<(String, SecondStep, Enrolment), OAuthError> {
        let id = random_token(32);
        let secret = TotpSecret::generate();
        let sealed = STANDARD.encode(self.seal_otp(SecretHash::of(&id).as_str(), &secret)?);
        let stage = Stage::Enrol { sealed, account: user.username.as_str().to_owned() };
        let stored = self.password_hash_of(user).await?;
        let step = SecondStep::new((user, &stored), username, target, browser, now, stage);
        self.store_step(&id, &step).await?;
        let enrolment = self.enrolment(user.username.as_str(), secret)?;
        Ok((id, step, enrolment))
    }

    /// The second step `id`, if it waits for `kind`, is pending for this browser and has not expired.
    pub async fn load_second_step(
        &self,
        id: &str,
        browser: &str,
        kind: StepKind,
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
        let live = now < step.created_at + self.step_ttl(step.kind());
        Ok((same_browser && live && step.kind() == kind).then_some(step))
    }

    /// The secret a set-up step `id` shows, again.
    pub async fn step_enrolment(&self, id: &str, step: &SecondStep) -> Result<Enrolment, OAuthError> {
        let Stage::Enrol { sealed, account } = &step.stage else {
            return Err(OAuthError::server("a second step without a secret to set up"));
        };
        let sealed = STANDARD.decode(sealed).map_err(OAuthError::server)?;
        let secret = self.open_otp(SecretHash::of(id).as_str(), &sealed)?;
        self.enrolment(account, secret)
    }

    /// Turns TOTP on for the user of the set-up step `id` if `typed` is a current code of its secret: the step is
    /// taken, and a new one (its own id and CSRF token) continues the sign-in. Audited as `otp_enabled`.
    pub async fn confirm_step_enrolment(
        &self,
        id: &str,
        step: &SecondStep,
        typed: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<EnrolCheck, OAuthError> {
        let enrolment = self.step_enrolment(id, step).await?;
        let Some(confirmed) = confirming_step(&enrolment.secret, typed, now) else { return Ok(EnrolCheck::Wrong) };
        if !self.take_second_step(id, step.kind()).await? || self.second_step_user(step).await?.is_none() {
            return Ok(EnrolCheck::Gone);
        }
        let details = json!({ "at_sign_in": true });
        let turned_on =
            self.turn_otp_on(&step.user_id, &enrolment.secret, confirmed, step.client_id.clone(), details, meta, now);
        // Set up in another browser meanwhile: replacing that secret would lock out the app that has it.
        let Some(recovery) = turned_on.await? else { return Ok(EnrolCheck::Gone) };
        let next = SecondStep { csrf: random_token(32), created_at: now, stage: Stage::Enrolled, ..step.clone() };
        Ok(EnrolCheck::TurnedOn { codes: recovery, next: self.keep_step(&next).await?, csrf: next.csrf })
    }

    /// Takes the second step `id` (of `kind`) for the request that completes it: `false` when another took it
    /// first.
    pub async fn take_second_step(&self, id: &str, kind: StepKind) -> Result<bool, OAuthError> {
        let ttl = Duration::from_secs(self.step_ttl(kind).unsigned_abs());
        let previous = self.cache.replace(&second_step_key(id), TAKEN, ttl).await?;
        Ok(previous.is_some_and(|p| p != TAKEN))
    }

    /// The user of a second step that was completed, as they are now: `None` when, since the password was
    /// checked, they were disabled or removed, signed out everywhere, or given another password (as if that had
    /// come first).
    pub async fn second_step_user(&self, step: &SecondStep) -> Result<Option<User>, OAuthError> {
        let Some(user) = self.users.user_by_id(&step.user_id).await? else { return Ok(None) };
        let cut_off = user.revoked_before.is_some_and(|t| step.signed_in_at <= t);
        if user.disabled || cut_off || !step.made_for_password(&self.password_hash_of(&user).await?) {
            return Ok(None);
        }
        Ok(Some(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_kept_before_set_up_steps_existed_waits_for_a_code() {
        let step: SecondStep = serde_json::from_value(json!({
            "user_id": UserId::generate().as_str(),
            "username": "alice",
            "continuation": "Account",
            "client_id": null,
            "csrf": "c",
            "browser": "b",
            "created_at": 1,
        }))
        .unwrap();
        assert_eq!(step.kind(), StepKind::Code);
    }

    #[test]
    fn a_set_up_step_shows_neither_its_secret_nor_its_tokens_in_debug() {
        let step = SecondStep {
            user_id: UserId::generate(),
            username: "alice".into(),
            continuation: Continuation::Account,
            client_id: None,
            csrf: "the-csrf-token".into(),
            browser: "the-browser-hash".into(),
            created_at: 1,
            signed_in_at: 1,
            for_password: "the-password-hash-hash".into(),
            stage: Stage::Enrol { sealed: "the-sealed-secret".into(), account: "alice".into() },
            locale: None,
        };
        let debug = format!("{step:?}");
        assert!(debug.contains("Enrol"), "{debug}");
        for hidden in ["the-csrf-token", "the-browser-hash", "the-sealed-secret", "the-password-hash-hash"] {
            assert!(!debug.contains(hidden), "{debug}");
        }
    }
}
