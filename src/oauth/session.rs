//! Sign-in: checking a password at equal cost for unknown users, starting a browser session, and which
//! sessions still count as signed in.
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::limits::Lock;
use super::provider::Provider;
use crate::domain::password::{Password, Verdict};
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::{ClientId, Consent, Device, Session, UnixTime, User, Username};
use crate::storage::{SessionContext, StoreError};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

/// Why a sign-in was refused: for the audit trail only. The page says the same in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No account has that name.
    UnknownUser,
    /// The password is wrong.
    WrongPassword,
    /// The password is right but the account is disabled.
    Disabled,
}

impl Refusal {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
        }
    }
}

/// The outcome of checking a sign-in's password.
#[derive(Debug)]
enum PasswordCheck {
    /// The password is right and the account active.
    Accepted(User),
    /// Refused; `user` is the account the name belongs to, if any.
    Refused {
        /// The account named, when it exists.
        user: Option<User>,
        /// Why.
        refusal: Refusal,
    },
}

/// How old a session's recorded last use must be before a use is written again: one write a minute per session
/// at most, so that single sign-on stays one read of the database.
pub const SESSION_USE_INTERVAL: UnixTime = 60;

/// The stored last use before which a use at `now` is recorded: one at least [`SESSION_USE_INTERVAL`] old.
pub fn stale_use_before(now: UnixTime) -> UnixTime {
    now - SESSION_USE_INTERVAL + 1
}

/// Whether a session whose stored last use is `last_used_at` is to be recorded as used at `now`.
pub fn use_is_stale(last_used_at: UnixTime, now: UnixTime) -> bool {
    last_used_at < stale_use_before(now)
}

/// Whether `session` has gone unused in the browser for `idle_timeout` (`sessions.idle_timeout_seconds`) at
/// `now`. The stored last use may lag the real one by up to [`SESSION_USE_INTERVAL`], so that much is added:
/// a session is never idle early, and at most a minute late.
pub fn is_idle(session: &Session, idle_timeout: Option<UnixTime>, now: UnixTime) -> bool {
    // A row an earlier release stored during a rolling update has no time (0): its start counts.
    let last_used = session.last_used_at.max(session.created_at);
    idle_timeout.is_some_and(|timeout| now - last_used >= timeout + SESSION_USE_INTERVAL)
}

/// The outcome of a sign-in ([`Provider::sign_in`]).
#[derive(Debug)]
pub enum SignIn {
    /// The password is right, the account active, and a session started.
    Started {
        /// The account.
        user: User,
        /// The session cookie's value.
        cookie: PlainSecret,
        /// The session stored.
        session: Session,
    },
    /// Refused; `user` is the account the name belongs to, if any.
    Refused {
        /// The account named, when it exists.
        user: Option<User>,
        /// Why.
        refusal: Refusal,
    },
    /// The password is right and the account active, but the user has two-step verification: no session
    /// until a code is given ([`super::otp`]).
    NeedsCode {
        /// The account.
        user: User,
    },
    /// The password is right and the account active, but the user has no two-step verification while every
    /// password sign-in needs it (`otp.required`): no session until they set it up ([`super::otp`]).
    NeedsEnrolment {
        /// The account.
        user: User,
    },
    /// The password is right and the account active, but the password is temporary: no session until the user
    /// chose a new one ([`super::temporary_password`]).
    NeedsNewPassword {
        /// The account.
        user: User,
        /// The `amr` of the session that the new password starts.
        amr: Vec<String>,
    },
}

/// The end of a sign-in whose every factor was right ([`Provider::finish_sign_in`]).
#[derive(Debug)]
pub enum Finished {
    /// A session was started.
    Started {
        /// The session cookie's value.
        cookie: PlainSecret,
        /// The session stored.
        session: Session,
    },
    /// None yet: the user's password is temporary, and they choose a new one first, which starts the session with
    /// this `amr` ([`super::temporary_password`]).
    NewPasswordFirst {
        /// How the user signed in.
        amr: Vec<String>,
    },
}

/// How recent a session's sign-in must be for what a browser left signed in must not do alone (deleting the account
/// without a password, setting up two-step verification, adding a passkey), as Keycloak's "Maximum Age of
/// Authentication": long enough to go from the sign-in to the form, short enough that a browser left signed in is
/// not enough.
pub const RECENT_SIGN_IN_SECONDS: UnixTime = 5 * 60;

/// A browser session that counts as signed in, with its user and their consent for one client.
/// [`SignedIn::from_context`] makes one from what the store read.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session, active.
    pub session: Session,
    /// Its user, who may still sign in.
    pub user: User,
    /// What the user granted the client, if anything.
    pub consent: Option<Consent>,
}

impl SignedIn {
    /// The session of `ctx` if it counts as signed in at `now`: active and not idle ([`is_idle`]), and its user
    /// exists, is enabled and was not signed out everywhere since the session began. Any other session is
    /// treated as none, so the user is sent to sign in rather than the app told that they cannot.
    pub fn from_context(ctx: SessionContext, now: UnixTime, idle_timeout: Option<UnixTime>) -> Option<Self> {
        let SessionContext { session, user, consent } = ctx;
        let user = user.filter(|u| !u.disabled && u.revoked_before.is_none_or(|t| session.created_at > t))?;
        (session.is_active(now) && !is_idle(&session, idle_timeout, now)).then_some(Self { session, user, consent })
    }

    /// Whether the user authenticated within [`RECENT_SIGN_IN_SECONDS`] of `now`.
    pub fn recently(&self, now: UnixTime) -> bool {
        now.saturating_sub(self.session.auth_time) <= RECENT_SIGN_IN_SECONDS
    }
}

impl Provider {
    /// Checks a username and password, saying why a sign-in was refused (for the audit trail). A wrong
    /// password, an unknown and a disabled user cost the same argon2 work, so the time taken reveals nothing
    /// about which part was wrong. An accepted password whose hash is stale gets a new hash first
    /// ([`Provider::upgrade_password_hash`]).
    async fn verify_sign_in(&self, username: &str, password: Password) -> Result<PasswordCheck, OAuthError> {
        let found = match Username::parse(username) {
            Ok(name) => self.users.user_by_username(&name).await?,
            Err(_) => None,
        };
        let stored = found.as_ref().map(|(_, hash)| hash.clone());
        let checker = Arc::clone(&self.password_checker);
        let (verdict, password) = self
            .password_pool
            .run(move || (checker.verify(&password, stored.as_deref()), password))
            .await
            .map_err(OAuthError::server)?;
        Ok(match found {
            None => PasswordCheck::Refused { user: None, refusal: Refusal::UnknownUser },
            Some((u, _)) if !verdict.is_accepted() => {
                PasswordCheck::Refused { user: Some(u), refusal: Refusal::WrongPassword }
            }
            Some((u, _)) if u.disabled => PasswordCheck::Refused { user: Some(u), refusal: Refusal::Disabled },
            Some((u, checked)) => {
                if verdict == Verdict::Stale {
                    self.upgrade_password_hash(&u, password, checked).await;
                }
                PasswordCheck::Accepted(u)
            }
        })
    }

    /// Stores a new hash of an accepted sign-in's password in place of `checked`, the stale hash it matched, so
    /// that a raised cost or the NFC form reaches each user at their next sign-in. Only while the stored hash is
    /// still `checked`: a password changed meanwhile stays. Not a password change (no audit event, nothing
    /// revoked), and a failure leaves the old hash, which still works, and the sign-in goes on.
    async fn upgrade_password_hash(&self, user: &User, password: Password, checked: String) {
        let checker = Arc::clone(&self.password_checker);
        let stored = match self.password_pool.run(move || checker.rehash(&password)).await {
            Ok(Ok(hash)) => self.users.upgrade_password_hash(&user.id, &checked, hash).await.map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let user_id = user.id.as_str();
        match stored {
            Ok(true) => tracing::info!(user_id, "password hash upgraded to the configured cost"),
            // Changed or removed since the check: what is stored now is newer than this sign-in's hash.
            Ok(false) => {}
            Err(error) => tracing::warn!(user_id, %error, "a stale password hash could not be upgraded"),
        }
    }

    /// Checks a sign-in's password and, when it is accepted, starts a session for the user on `device`, unless
    /// they have two-step verification, which a code must complete ([`Provider::start_otp_session`]), or must set
    /// it up first (`otp.required`), which a code of the new secret completes the same way, or their password is
    /// temporary ([`Provider::finish_sign_in`]). A user
    /// removed between the password check and the session's insert is refused as unknown, as if the removal had
    /// come first: the ordinary failed sign-in, not a server error.
    pub async fn sign_in(
        &self,
        username: &str,
        password: Password,
        amr: Vec<String>,
        device: Device,
        now: UnixTime,
    ) -> Result<SignIn, OAuthError> {
        let user = match self.verify_sign_in(username, password).await? {
            PasswordCheck::Accepted(user) => user,
            PasswordCheck::Refused { user, refusal } => return Ok(SignIn::Refused { user, refusal }),
        };
        if self.otp_enabled(&user.id).await? {
            return Ok(SignIn::NeedsCode { user });
        }
        if self.otp.required {
            return Ok(SignIn::NeedsEnrolment { user });
        }
        Ok(match self.finish_sign_in(&user, amr, device, now, now).await? {
            Some(Finished::Started { cookie, session }) => SignIn::Started { user, cookie, session },
            Some(Finished::NewPasswordFirst { amr }) => SignIn::NeedsNewPassword { user, amr },
            None => SignIn::Refused { user: None, refusal: Refusal::UnknownUser },
        })
    }

    /// Ends a sign-in of `user` (as read after its last factor) whose every factor was right (`amr`, the last at
    /// `auth_time`): starts their session, unless their password is temporary, which they replace first,
    /// whatever way they signed in (as Keycloak runs its required actions after any authentication). `None` when
    /// the user was removed meanwhile.
    pub(super) async fn finish_sign_in(
        &self,
        user: &User,
        amr: Vec<String>,
        device: Device,
        auth_time: UnixTime,
        now: UnixTime,
    ) -> Result<Option<Finished>, OAuthError> {
        if user.password_change_required {
            return Ok(Some(Finished::NewPasswordFirst { amr }));
        }
        match self.start_session(user, amr, device, auth_time, now).await {
            Ok((cookie, session)) => Ok(Some(Finished::Started { cookie, session })),
            Err(StoreError::ReferenceGone(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs in `user`, whose account the user just created with a password ([`super::signup`]), as a password
    /// sign-in of theirs would end: a new session with `amr` `pwd`, or, while every password sign-in needs
    /// two-step verification (`otp.required`), none until they set it up ([`SignIn::NeedsEnrolment`]). A user
    /// removed meanwhile is refused as unknown.
    pub async fn start_signed_up_session(
        &self,
        user: User,
        device: Device,
        now: UnixTime,
    ) -> Result<SignIn, OAuthError> {
        if self.otp.required {
            return Ok(SignIn::NeedsEnrolment { user });
        }
        match self.start_session(&user, vec!["pwd".into()], device, now, now).await {
            Ok((cookie, session)) => Ok(SignIn::Started { user, cookie, session }),
            Err(StoreError::ReferenceGone(_)) => Ok(SignIn::Refused { user: None, refusal: Refusal::UnknownUser }),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends a federated sign-in ([`super::federation`]) of `user`, whose `amr` is
    /// [`super::federation::FEDERATED_AMR`] ([`Provider::finish_sign_in`]); `None` when the user was removed
    /// meanwhile. The session's `auth_time` is the upstream's (`upstream_auth_time`, never later than `now`): a
    /// sign-in the upstream's own session answered silently is no fresh authentication here either, for a
    /// client's `max_age` or the account page's recent sign-in. An upstream that does not say is taken to have
    /// authenticated the user now.
    pub async fn start_federated_session(
        &self,
        user: &User,
        device: Device,
        upstream_auth_time: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<Option<Finished>, OAuthError> {
        let amr = vec![super::federation::FEDERATED_AMR.to_owned()];
        self.finish_sign_in(user, amr, device, upstream_auth_time.map_or(now, |at| at.min(now)), now).await
    }

    /// Ends a sign-in whose password and TOTP code were both right ([`super::otp`]), whose `amr` is `pwd` and
    /// `otp` ([`Provider::finish_sign_in`]); `None` when the user was removed meanwhile.
    pub async fn start_otp_session(
        &self,
        user: &User,
        device: Device,
        now: UnixTime,
    ) -> Result<Option<Finished>, OAuthError> {
        let amr = super::otp::PASSWORD_AND_OTP_AMR.iter().map(|m| (*m).to_owned()).collect();
        self.finish_sign_in(user, amr, device, now, now).await
    }

    /// Records a sign-in that `lock` refused unchecked: every refusal in `tessera_sign_ins_total` (`locked`), and
    /// as `login_refused_locked` once per lock, on its first refusal (any instance;
    /// [`super::limits::Limiter::first_refusal`]), so that guessing during a lock shows in the audit trail without
    /// each guess adding a row. The user is the one `username` names, if any, looked up for that one event only; a
    /// failing look-up leaves the event without a user rather than unrecorded.
    pub async fn sign_in_refused_while_locked(
        &self,
        lock: Lock,
        ip: Option<IpAddr>,
        username: &str,
        client_id: Option<String>,
        meta: &RequestMeta,
        now: UnixTime,
    ) {
        self.metrics.sign_in(crate::metrics::SignIn::Locked);
        if !self.limits.first_refusal(lock, ip, username, now).await {
            return;
        }
        let user = match Username::parse(username) {
            Ok(name) => self.users.user_by_username(&name).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the user of a refused sign-in could not be looked up");
                None
            }),
            Err(_) => None,
        };
        let facts = EventFacts {
            actor: None,
            user_id: user.map(|(u, _)| u.id.as_str().to_owned()),
            client_id,
            details: json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after }),
        };
        self.audit("login_refused_locked", facts, meta, now).await;
    }

    /// Starts a session for `user`, who authenticated at `auth_time`: a new random id (never reusing one the
    /// browser had, against session fixation), of which only the hash is stored. Returns the cookie value;
    /// `ReferenceGone` when the user no longer exists.
    pub(super) async fn start_session(
        &self,
        user: &User,
        amr: Vec<String>,
        device: Device,
        auth_time: UnixTime,
        now: UnixTime,
    ) -> Result<(PlainSecret, Session), StoreError> {
        let cookie = PlainSecret::generate();
        let session = Session {
            id_hash: cookie.hash().as_str().to_owned(),
            user_id: user.id.clone(),
            auth_time,
            amr,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.session_ttl,
            revoked: false,
            device,
        };
        self.sessions.create_session(&session).await?;
        Ok((cookie, session))
    }

    /// Moves `session` to a new random id, as a sign-in would, and returns the new cookie: a copy of the old one
    /// taken before a password change then signs nothing in. The session keeps its sign-in (time, methods, device,
    /// end); the old id hands over to the new one, so its tokens live on under the `sid` their apps know.
    pub(super) async fn renew_session(&self, session: &Session, now: UnixTime) -> Result<PlainSecret, StoreError> {
        let cookie = PlainSecret::generate();
        let renewed = Session {
            id_hash: cookie.hash().as_str().to_owned(),
            last_used_at: now,
            revoked: false,
            ..session.clone()
        };
        self.sessions.renew_session(&session.id_hash, &renewed).await?;
        Ok(cookie)
    }

    /// Settles the session the browser had before `new` replaced it (the cookie is replaced at every sign-in,
    /// against fixation). The same user's session hands over to `new`: the tokens bound to it live as long as
    /// `new` does and end with it, keeping the `sid` their apps know, as when the session had stayed. Another user's session ends as at logout: one browser, one signed-in user. Returns
    /// the session handed over, for the audit trail.
    pub async fn supersede_session(
        &self,
        previous_cookie: &str,
        new: &Session,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Option<String>, OAuthError> {
        let Some(previous) = self.stored_session(previous_cookie).await? else { return Ok(None) };
        if previous.revoked || previous.id_hash == new.id_hash {
            return Ok(None);
        }
        if previous.user_id == new.user_id {
            self.sessions.hand_over_session(&previous.id_hash, &new.id_hash).await?;
            return Ok(Some(previous.id_hash));
        }
        let facts = EventFacts {
            actor: Some(new.user_id.as_str().to_owned()),
            user_id: Some(previous.user_id.as_str().to_owned()),
            client_id: None,
            details: json!({ "sid": previous.id_hash, "reason": "another user signed in" }),
        };
        self.end_stored_session(&previous, facts, "session_replaced", meta, now).await?;
        Ok(None)
    }

    /// Records that the browser used `session` at `now` (its cookie was presented and acted on for the user), when
    /// the last use read with it is stale ([`use_is_stale`]); otherwise nothing is written. The store writes only
    /// over a stale time too, so requests that read the same one at once write once. The time is only shown to
    /// the user: a failure to record it is logged and the request goes on.
    pub(super) async fn record_session_use(&self, session: &Session, now: UnixTime) {
        if !use_is_stale(session.last_used_at, now) {
            return;
        }
        if let Err(error) = self.sessions.record_session_use(&session.id_hash, now, stale_use_before(now)).await {
            tracing::warn!(%error, "the use of a session could not be recorded");
        }
    }

    /// The session a cookie value names, in whatever state, if any.
    pub(super) async fn stored_session(&self, cookie: &str) -> Result<Option<Session>, OAuthError> {
        if cookie.len() > 128 {
            return Ok(None);
        }
        Ok(self.sessions.session(SecretHash::of(cookie).as_str()).await?)
    }

    /// The active session a cookie value names, if any.
    pub async fn session_from_cookie(&self, cookie: &str, now: UnixTime) -> Result<Option<Session>, OAuthError> {
        Ok(self.stored_session(cookie).await?.filter(|s| s.is_active(now)))
    }

    /// The session a cookie names, with its user and their consent for `client_id`, if it counts as signed
    /// in ([`SignedIn::from_context`]).
    pub async fn session_for_client(
        &self,
        cookie: &str,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Option<SignedIn>, OAuthError> {
        if cookie.len() > 128 {
            return Ok(None);
        }
        let hash = SecretHash::of(cookie);
        let found = self.sessions.session_for_client(hash.as_str(), client_id).await?;
        Ok(found.and_then(|c| SignedIn::from_context(c, now, self.session_idle_timeout)))
    }

    /// [`Provider::session_for_client`] for a step of the consent page, which acts on the session for its user:
    /// the use is recorded ([`Provider::record_session_use`]).
    pub async fn consent_session(
        &self,
        cookie: &str,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Option<SignedIn>, OAuthError> {
        let signed_in = self.session_for_client(cookie, client_id, now).await?;
        if let Some(s) = &signed_in {
            self.record_session_use(&s.session, now).await;
        }
        Ok(signed_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn context(user: Option<User>) -> SessionContext {
        let session = Session {
            id_hash: "h".into(),
            user_id: UserId::parse("u").unwrap(),
            auth_time: 100,
            amr: vec!["pwd".into()],
            created_at: 100,
            last_used_at: 100,
            expires_at: 1000,
            revoked: false,
            device: Device::default(),
        };
        SessionContext { session, user, consent: None }
    }

    fn user(disabled: bool, revoked_before: Option<UnixTime>) -> User {
        User {
            id: UserId::parse("u").unwrap(),
            username: Username::parse("alice").unwrap(),
            email: None,
            email_verified: false,
            name: None,
            disabled,
            created_at: 0,
            updated_at: 0,
            revoked_before,
            password_change_required: false,
        }
    }

    #[test]
    fn a_use_is_recorded_once_the_last_recorded_is_a_minute_old() {
        assert!(!use_is_stale(1_000, 1_000), "just recorded");
        assert!(!use_is_stale(1_000, 1_059));
        assert!(use_is_stale(1_000, 1_060));
        assert!(use_is_stale(0, 1_000), "a row without a time");
        assert!(!use_is_stale(1_100, 1_000), "a clock behind the stored time writes nothing");
        assert_eq!(stale_use_before(1_060), 1_001, "the store's condition agrees: 1_000 < 1_001");
    }

    #[test]
    fn a_session_is_idle_a_minute_after_its_timeout_from_the_recorded_use() {
        let mut session = context(None).session;
        session.last_used_at = 400;
        assert!(!is_idle(&session, None, 1_000_000), "no timeout");
        // The real last use may be up to 59 s after the recorded one: never idle before timeout + 60.
        assert!(!is_idle(&session, Some(600), 400 + 600 + 59));
        assert!(is_idle(&session, Some(600), 400 + 600 + 60));
        session.last_used_at = 0;
        assert!(!is_idle(&session, Some(600), 100 + 600 + 59), "without a recorded use, from its start");
        assert!(is_idle(&session, Some(600), 100 + 600 + 60));
    }

    #[test]
    fn a_sign_in_is_recent_for_five_minutes() {
        let signed_in = SignedIn::from_context(context(Some(user(false, None))), 100, None).unwrap();
        assert!(signed_in.recently(100));
        assert!(signed_in.recently(400));
        assert!(!signed_in.recently(401));
        // A clock that went back a little makes it no less recent.
        assert!(signed_in.recently(90));
    }

    #[test]
    fn only_a_live_session_of_a_user_in_good_standing_is_signed_in() {
        let signed_in = |ctx: SessionContext, now: UnixTime| SignedIn::from_context(ctx, now, Some(600)).is_some();
        assert!(signed_in(context(Some(user(false, None))), 200));
        assert!(signed_in(context(Some(user(false, Some(99)))), 200), "signed out everywhere before it began");
        assert!(!signed_in(context(None), 200), "the user is gone");
        assert!(!signed_in(context(Some(user(true, None))), 200), "the user is disabled");
        assert!(!signed_in(context(Some(user(false, Some(100)))), 200), "signed out everywhere since");
        assert!(!signed_in(context(Some(user(false, None))), 1000), "the session expired");
        let mut revoked = context(Some(user(false, None)));
        revoked.session.revoked = true;
        assert!(!signed_in(revoked, 200), "the session was logged out");
        assert!(signed_in(context(Some(user(false, None))), 759));
        assert!(!signed_in(context(Some(user(false, None))), 760), "the session is idle");
    }
}
