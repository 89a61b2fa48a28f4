//! A user's change of their own password, from the account page. The current password is checked as at sign-in
//! (the same checker on the password pool) and counts as a sign-in of the user's name from the request's IP on
//! the same counters and locks ([`super::limits`]): a session cannot be used to guess the password faster than the
//! sign-in page allows, and a locked name is refused without a check. The new password is held to the
//! [`PasswordPolicy`] of every password a user chooses (its history checked on the pool once the current password
//! proved right): operators (`tessera users`, the admin API) keep their own rule.
//! The user may sign out their other sessions, each as logout ends one; the current session stays.
//!
//! A user without a password (one a federated sign-in created) cannot set one this way: the session proves the
//! upstream provider's sign-in, not a password, and a first password is an operator's decision.
use super::account::matches;
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::limits::{Lock, SignInAttempt};
use super::provider::Provider;
use super::session::SignedIn;
use crate::domain::password::{Password, PasswordChecker, NO_PASSWORD};
pub use crate::domain::password_policy::PasswordRule;
use crate::domain::password_policy::{Owner, PasswordPolicy};
use crate::domain::secret::PlainSecret;
use crate::domain::{UnixTime, User};
use serde_json::json;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// What the password form gave. Every password in it keeps out of `Debug`.
#[derive(Debug)]
pub struct PasswordChange {
    /// The password the user has now.
    pub current: Password,
    /// The one they want.
    pub new: Password,
    /// The one they want, typed again.
    pub again: Password,
    /// Whether to end the user's other sessions.
    pub sign_out_others: bool,
}

/// A change whose form is consistent ([`check_change`]).
#[derive(Debug)]
pub struct CheckedChange {
    /// The password the user says they have now, to be checked.
    pub current: Password,
    /// The new password, in NFC.
    pub new: Password,
    /// Whether to end the user's other sessions.
    pub sign_out_others: bool,
}

/// `change` if its form is consistent: a current password given, the new one not the current one and held to
/// `policy` for `owner` ([`PasswordPolicy::check_new`]: typed twice alike in either Unicode form, its length, the
/// user's names, the blocklist). Checks no hash: none of this says anything about the stored password.
pub fn check_change(
    change: PasswordChange,
    policy: &PasswordPolicy,
    owner: Owner<'_>,
) -> Result<CheckedChange, PasswordRule> {
    let PasswordChange { current, new, again, sign_out_others } = change;
    if current.is_empty() {
        return Err(PasswordRule::CurrentMissing);
    }
    if new.same_as(&again) && new.same_as(&current) {
        return Err(PasswordRule::SameAsCurrent);
    }
    let new = policy.check_new(new, &again, owner)?;
    Ok(CheckedChange { current, new, sign_out_others })
}

/// Whose password `user`'s is, for the policy.
pub(super) fn owner(user: &User) -> Owner<'_> {
    Owner { username: user.username.as_str(), email: user.email.as_deref() }
}

/// Why a password typed on the account page is checked ([`Provider::check_own_password`]): where from, and
/// what the audit trail calls a wrong one and the lock it starts.
#[derive(Debug, Clone, Copy)]
pub(super) struct OwnCheck<'a> {
    /// The client IP, counted as a sign-in's.
    pub ip: Option<IpAddr>,
    /// The event a wrong password records.
    pub failed_event: &'static str,
    /// The `during` of the `login_lockout` it starts.
    pub during: &'static str,
    /// The request, for the audit trail.
    pub meta: &'a RequestMeta,
}

/// How a password typed on the account page fared ([`Provider::check_own_password`]).
pub(super) enum OwnPassword<T> {
    /// Right: what was made of it on the pool.
    Right(T),
    /// Wrong, counted as a failed sign-in.
    Wrong,
    /// Too many failed sign-ins of the name or from the IP: refused unchecked, or this failure started the lock.
    Locked(Lock),
}

/// The outcome of [`Provider::change_own_password`].
#[derive(Debug)]
pub enum PasswordChanged {
    /// The new password is stored (and the other sessions ended, if asked); the browser's session goes on under
    /// this new cookie.
    Changed(PlainSecret),
    /// The form is inconsistent, or the new password breaks the policy: nothing was changed or counted as a
    /// failure (a history refusal comes once the current password proved right).
    Refused(PasswordRule),
    /// The user has no password to change.
    NoPassword,
    /// The current password is wrong (counted as a failed sign-in).
    WrongCurrent,
    /// Too many failed sign-ins of the name or from the IP: refused unchecked, or this failure started the lock.
    Locked(Lock),
    /// The password was changed by someone else between the check and the write: nothing was changed.
    ChangedMeanwhile,
}

impl Provider {
    /// Whether `user` has a password ([`NO_PASSWORD`] is none).
    pub async fn has_password(&self, user: &User) -> Result<bool, OAuthError> {
        Ok(self.stored_password_hash(user).await?.is_some())
    }

    /// The user's stored password hash, unless they have none.
    pub(super) async fn stored_password_hash(&self, user: &User) -> Result<Option<String>, OAuthError> {
        let found = self.users.user_by_username(&user.username).await?;
        Ok(found.filter(|(u, hash)| u.id == user.id && hash != NO_PASSWORD).map(|(_, hash)| hash))
    }

    /// Changes the signed-in user's password (see the module's documentation), from `ip`. Audited as
    /// `password_changed`; a wrong current password as `password_change_failed`, and the lock it starts as
    /// `login_lockout`.
    pub async fn change_own_password(
        &self,
        signed_in: &SignedIn,
        change: PasswordChange,
        ip: Option<IpAddr>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<PasswordChanged, OAuthError> {
        let user = &signed_in.user;
        let Some(stored) = self.stored_password_hash(user).await? else { return Ok(PasswordChanged::NoPassword) };
        let checked = check_change(change, &self.password_policy, owner(user));
        let CheckedChange { current, new, sign_out_others } = match checked {
            Ok(checked) => checked,
            Err(rule) => return Ok(PasswordChanged::Refused(rule)),
        };
        // The new password is known not to be the current one: only the earlier ones are verified.
        let earlier = self.earlier_passwords(&user.id, &stored, false).await?;
        let then = move |c: &PasswordChecker| match earlier.refusal(c, &new) {
            Some(rule) => Ok(Err(rule)),
            None => c.rehash(&new).map(Ok),
        };
        let check = OwnCheck { ip, failed_event: "password_change_failed", during: "password_change", meta };
        let hash = match self.check_own_password(user, stored.clone(), current, then, check, now).await? {
            OwnPassword::Right(Ok(hash)) => hash,
            OwnPassword::Right(Err(rule)) => return Ok(PasswordChanged::Refused(rule)),
            OwnPassword::Wrong => return Ok(PasswordChanged::WrongCurrent),
            OwnPassword::Locked(lock) => return Ok(PasswordChanged::Locked(lock)),
        };
        if !self.users.change_password_hash(&user.id, &stored, hash, now).await? {
            return Ok(PasswordChanged::ChangedMeanwhile);
        }
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "sign_out_others": sign_out_others }),
        };
        self.audit("password_changed", facts, meta, now).await;
        let cookie = self.renew_session(&signed_in.session, now).await?;
        if sign_out_others {
            // The old id is handed over (no longer active): only the renewed one is kept.
            let kept = cookie.hash();
            self.end_sessions_for_new_password(user, Some(kept.as_str()), meta, now).await?;
        }
        Ok(PasswordChanged::Changed(cookie))
    }

    /// Checks `typed` against the user's `stored` hash as at sign-in: on the password pool, as a sign-in of the
    /// user's name from `check.ip` on the same counters and locks, refused unchecked while either is locked. A
    /// right password then runs `then` on the pool in the same trip (a new hash, say); a wrong one is audited as
    /// `check.failed_event` (`reason` `wrong_password`), and the lock it starts as `login_lockout`.
    pub(super) async fn check_own_password<T, E>(
        &self,
        user: &User,
        stored: String,
        typed: Password,
        then: impl FnOnce(&PasswordChecker) -> Result<T, E> + Send + 'static,
        check: OwnCheck<'_>,
        now: UnixTime,
    ) -> Result<OwnPassword<T>, OAuthError>
    where
        T: Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let (username, ip, meta) = (user.username.as_str(), check.ip, check.meta);
        let attempt = match self.limits.begin_sign_in(ip, username, now).await {
            Ok(attempt) => attempt,
            Err(lock) => {
                self.sign_in_refused_while_locked(lock, ip, username, None, meta, now).await;
                return Ok(OwnPassword::Locked(lock));
            }
        };
        let checker = Arc::clone(&self.password_checker);
        let ran = self
            .password_pool
            .run(move || checker.verify(&typed, Some(&stored)).is_accepted().then(|| then(&checker)))
            .await;
        let made = match ran {
            Ok(Some(Ok(made))) => made,
            Ok(None) => return Ok(self.wrong_own_password(attempt, user, &check, now).await),
            Ok(Some(Err(e))) => return Err(self.abandoned(attempt, OAuthError::server(e), now).await),
            Err(e) => return Err(self.abandoned(attempt, OAuthError::server(e), now).await),
        };
        self.limits.sign_in_succeeded(attempt, username, now).await;
        Ok(OwnPassword::Right(made))
    }

    async fn abandoned(&self, attempt: SignInAttempt, e: OAuthError, now: UnixTime) -> OAuthError {
        self.limits.sign_in_abandoned(attempt, now).await;
        e
    }

    /// Settles a wrong password as a failed sign-in, and records it (and the lock it starts, if any).
    async fn wrong_own_password<T>(
        &self,
        attempt: SignInAttempt,
        user: &User,
        check: &OwnCheck<'_>,
        now: UnixTime,
    ) -> OwnPassword<T> {
        let facts = |details| EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details,
        };
        let meta = check.meta;
        self.audit(check.failed_event, facts(json!({ "reason": "wrong_password" })), meta, now).await;
        let Some(lock) = self.limits.sign_in_failed(attempt, now).await else { return OwnPassword::Wrong };
        let details = json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after, "during": check.during });
        self.audit("login_lockout", facts(details), meta, now).await;
        OwnPassword::Locked(lock)
    }

    /// Ends every live session of `user` but the one whose id hash is `keep` (all of them when none), each as the
    /// account page ends one: its session-bound tokens revoked, its apps sent back-channel logout tokens, audited as
    /// `account_session_revoked` (`reason` `password_changed`) with the user as actor.
    pub(super) async fn end_sessions_for_new_password(
        &self,
        user: &User,
        keep: Option<&str>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let sessions = self.sessions.sessions_of_user(&user.id, now).await?;
        for session in sessions {
            if !session.is_active(now) || keep.is_some_and(|kept| matches(&session.id_hash, kept)) {
                continue;
            }
            let details = json!({ "reason": "password_changed", "sid": session.id_hash, "current": false });
            let facts = EventFacts {
                actor: Some(user.id.as_str().to_owned()),
                user_id: Some(session.user_id.as_str().to_owned()),
                client_id: None,
                details,
            };
            self.end_stored_session(&session, facts, "account_session_revoked", meta, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(current: &str, new: &str, again: &str) -> PasswordChange {
        PasswordChange {
            current: Password::new(current),
            new: Password::new(new),
            again: Password::new(again),
            sign_out_others: true,
        }
    }

    fn policy(min_length: usize) -> PasswordPolicy {
        PasswordPolicy { min_length, history: 0, not_username: true, not_email: true, blocklist: Default::default() }
    }

    const OWNER: Owner<'static> = Owner { username: "alice", email: Some("alice@example.com") };

    fn rule(current: &str, new: &str, again: &str, min: usize) -> Result<(), PasswordRule> {
        check_change(change(current, new, again), &policy(min), OWNER).map(drop)
    }

    #[test]
    fn a_consistent_form_gives_the_new_password_in_nfc() {
        let typed = change("old secret", "cre\u{300}me brule\u{301}e", "cr\u{e8}me brul\u{e9}e");
        let checked = check_change(typed, &policy(8), OWNER).unwrap();
        assert!(checked.new.same_as(&Password::new("cr\u{e8}me brul\u{e9}e")));
        assert!(checked.current.same_as(&Password::new("old secret")));
        assert!(checked.sign_out_others);
    }

    #[test]
    fn the_form_is_refused_for_what_it_says_in_this_order() {
        assert_eq!(rule("", "new secret", "new secret", 8), Err(PasswordRule::CurrentMissing));
        assert_eq!(rule("old secret", "new secret", "new secreT", 8), Err(PasswordRule::Mismatch));
        assert_eq!(rule("old", "new", "newer", 8), Err(PasswordRule::Mismatch), "a mismatch before the length");
        assert_eq!(rule("old secret", "old secret", "old secret", 8), Err(PasswordRule::SameAsCurrent));
        // The same password in the other Unicode form is the same password.
        assert_eq!(
            rule(
                "cr\u{e8}me br\u{fb}l\u{e9}e",
                "cre\u{300}me bru\u{302}le\u{301}e",
                "cre\u{300}me bru\u{302}le\u{301}e",
                8
            ),
            Err(PasswordRule::SameAsCurrent)
        );
        assert_eq!(rule("old secret", "short", "short", 8), Err(PasswordRule::TooShort(8)));
        assert_eq!(rule("old secret", "", "", 1), Err(PasswordRule::TooShort(1)));
        let long = "x".repeat(Password::MAX_BYTES + 1);
        assert_eq!(rule("old secret", &long, &long, 8), Err(PasswordRule::TooLong));
        // The policy's rules on what the password is come last.
        assert_eq!(rule("old secret", "Alice@Example.COM", "Alice@Example.COM", 8), Err(PasswordRule::SameAsEmail));
    }

    #[test]
    fn the_minimum_is_the_configured_one_in_characters() {
        assert_eq!(rule("old secret", "1234567890a", "1234567890a", 12), Err(PasswordRule::TooShort(12)));
        assert_eq!(rule("old secret", "1234567890ab", "1234567890ab", 12), Ok(()));
        // Four characters of two bytes each are four, not eight.
        assert_eq!(rule("old secret", "éééé", "éééé", 5), Err(PasswordRule::TooShort(5)));
        assert_eq!(rule("old secret", "abc", "abc", 3), Ok(()), "below the operators' 8 when so configured");
        let longest = "é".repeat(Password::MAX_BYTES / 2);
        assert_eq!(rule("old secret", &longest, &longest, 8), Ok(()));
    }
}
