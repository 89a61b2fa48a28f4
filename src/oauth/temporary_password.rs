//! Temporary passwords, as Keycloak's "Temporary" switch and its "Update Password" required action: an operator
//! sets a password as temporary (`tessera users add|passwd --temporary`, the admin API's `"temporary": true`;
//! [`crate::domain::User::password_change_required`]), and the user's next sign-in, whatever way they sign in and
//! once every factor is right, starts no session ([`Provider::finish_sign_in`]): it waits as a
//! [`SecondStep`] of its own, bound to the browser with its own CSRF token, made for the password stored then,
//! until the user chooses a new one ([`Provider::change_required_password`]). The new password follows the account
//! page's rules (the [`PasswordPolicy`](crate::domain::password_policy::PasswordPolicy), its history included,
//! and not the current one); its hash replaces the one the step was made
//! for (`UserStore::change_password_hash`, which clears the flag), and only then does the session start, with
//! the sign-in's `amr`. Sessions and tokens the user held before stay, as they do when the password is set, unless
//! the user ticks "Sign out of other devices" (as Keycloak's action has): then each ends as a password change on
//! the account page ends the others ([`Provider::end_sessions_for_new_password`]), before the new one starts.
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::otp::{SecondStep, SignInTarget, StepKind};
use super::password_change::{owner, PasswordRule};
use super::provider::Provider;
use crate::domain::password::Password;
use crate::domain::secret::PlainSecret;
use crate::domain::{Device, Session, UnixTime, User};
use crate::storage::StoreError;
use serde_json::json;
use std::sync::Arc;

/// How long the "Choose a new password" page waits (a password manager may need a moment).
pub const NEW_PASSWORD_STEP_SECONDS: i64 = 900;

/// The outcome of a new password posted to its step ([`Provider::change_required_password`]).
#[derive(Debug)]
// Made once per change and matched at once: boxing the session would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum RequiredChange {
    /// The password is changed and the session started: the sign-in ends as any does.
    Changed {
        /// The user, as they are now.
        user: User,
        /// The session cookie's value.
        cookie: PlainSecret,
        /// The session stored.
        session: Session,
        /// What the sign-in's `login_succeeded` event adds.
        details: serde_json::Value,
    },
    /// The form is refused for what it says: the page again, the step kept.
    Refused(PasswordRule),
    /// The step was taken meanwhile, its user disabled or removed, or their password set since it began.
    Gone,
}

impl Provider {
    /// The password hash stored for `user` now (empty when they are gone: no stored hash is).
    pub(super) async fn password_hash_of(&self, user: &User) -> Result<String, OAuthError> {
        let found = self.users.user_by_username(&user.username).await?;
        Ok(found.filter(|(u, _)| u.id == user.id).map(|(_, hash)| hash).unwrap_or_default())
    }

    /// Keeps the step of a sign-in of `user` (typed as `username`; their own name when none was typed) whose every
    /// factor was right, whose password is temporary: it continues to `target` (its page in the sign-in's language),
    /// bound to `browser`, and ends with a session of `amr`, its `login_succeeded` with `details`. Returns its id,
    /// for the page's form.
    pub async fn start_new_password_step(
        &self,
        user: &User,
        username: &str,
        target: SignInTarget,
        browser: &str,
        (amr, details): (Vec<String>, serde_json::Value),
        now: UnixTime,
    ) -> Result<(String, SecondStep), OAuthError> {
        let stored = self.password_hash_of(user).await?;
        let step = SecondStep::new_password(user, username, target, browser, (amr, details, &stored), now);
        Ok((self.keep_step(&step).await?, step))
    }

    /// Sets `new` (typed again as `again`) as the password of the user of the new-password step `id` and starts
    /// their session on `device`: the step is taken, the hash replaced only while it is the one the step was made
    /// for, audited as `password_changed` (`reason` `required`, `sign_out_others`). With `sign_out_others`, every
    /// session the user had ends first; the one this starts is not among them.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_required_password(
        &self,
        id: &str,
        step: &SecondStep,
        new: Password,
        again: &Password,
        sign_out_others: bool,
        device: Device,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<RequiredChange, OAuthError> {
        let Some((amr, mut details)) = step.session_to_start() else {
            return Err(OAuthError::server("a second step without a session to start"));
        };
        let Some(user) = self.second_step_user(step).await? else { return Ok(RequiredChange::Gone) };
        let new = match self.password_policy.check_new(new, again, owner(&user)) {
            Ok(new) => new,
            Err(rule) => return Ok(RequiredChange::Refused(rule)),
        };
        let stored = self.password_hash_of(&user).await?;
        // Read again for the write below, which replaces only this hash: it must still be the step's.
        if !step.made_for_password(&stored) {
            return Ok(RequiredChange::Gone);
        }
        let checker = Arc::clone(&self.password_checker);
        let earlier = self.earlier_passwords(&user.id, &stored, false).await?;
        let checked = stored.clone();
        // One trip to the pool: the new hash only once the new password is known to be neither the current one
        // nor an earlier one.
        let ran = self
            .password_pool
            .run(move || {
                if checker.verify(&new, Some(&checked)).is_accepted() {
                    return Ok(Err(PasswordRule::SameAsCurrent));
                }
                match earlier.refusal(&checker, &new) {
                    Some(rule) => Ok(Err(rule)),
                    None => checker.rehash(&new).map(Ok),
                }
            })
            .await
            .map_err(OAuthError::server)?
            .map_err(OAuthError::server)?;
        let hash = match ran {
            Ok(hash) => hash,
            Err(rule) => return Ok(RequiredChange::Refused(rule)),
        };
        if !self.take_second_step(id, StepKind::NewPassword).await?
            || !self.users.change_password_hash(&user.id, &stored, hash, now).await?
        {
            return Ok(RequiredChange::Gone);
        }
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: step.client_id.clone(),
            details: json!({ "reason": "required", "sign_out_others": sign_out_others }),
        };
        self.audit("password_changed", facts, meta, now).await;
        if sign_out_others {
            self.end_sessions_for_new_password(&user, None, meta, now).await?;
        }
        let user = User { password_change_required: false, ..user };
        let (cookie, session) = match self.start_session(&user, amr, device, now, now).await {
            Ok(started) => started,
            Err(StoreError::ReferenceGone(_)) => return Ok(RequiredChange::Gone),
            Err(e) => return Err(e.into()),
        };
        details["password_changed"] = json!(true);
        Ok(RequiredChange::Changed { user, cookie, session, details })
    }
}
