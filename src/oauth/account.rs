//! The account page (`/account`): the signed-in user's own sessions and connected apps, and what revoking
//! one of them ends. A session is named by its `id_hash` (the SHA-256 of the cookie value, already the `sid` of
//! its tokens): it cannot be presented as a cookie, and a user can only end sessions of their own. Connected
//! apps, and what removing one withdraws, are [`super::grants`]'s, which operators use too.
//!
//! Its password form is [`super::password_change`].
//!
//! The forms are protected by CSRF tokens bound to a cookie: the session cookie for the account page's own
//! forms, the browser-binding cookie for the sign-in form that leads back to the account page.
use super::audit::{EventFacts, RequestMeta};
use super::backchannel::LogoutNotice;
use super::error::OAuthError;
use super::frontchannel::LogoutFrames;
use super::grants::{ConnectedApp, Withdrawer};
use super::provider::Provider;
use super::session::{is_idle, SignedIn};
use crate::domain::secret::SecretHash;
use crate::domain::{ClientId, Device, Session, UnixTime};
use crate::storage::SessionContext;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest cookie or session reference looked up; anything longer names nothing of ours.
const MAX_REFERENCE: usize = 128;

pub(crate) fn bound_token(label: &[u8], cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(label);
    h.update(cookie.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

pub(crate) fn matches(expected: &str, presented: &str) -> bool {
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// The CSRF token of the account page's forms: bound to the session cookie, so only the page served to that
/// browser can carry it, and different from the logout form's.
pub fn account_csrf(session_cookie: &str) -> String {
    bound_token(b"tessera account\0", session_cookie)
}

/// Whether `presented` is the account CSRF token for `session_cookie`.
pub fn account_csrf_matches(session_cookie: &str, presented: &str) -> bool {
    matches(&account_csrf(session_cookie), presented)
}

/// The CSRF token of the sign-in form that returns to the account page: bound to the browser-binding cookie
/// (there is no session yet), so another site cannot sign the browser in to an account of its choosing.
pub fn account_login_csrf(browser_cookie: &str) -> String {
    bound_token(b"tessera account login\0", browser_cookie)
}

/// Whether `presented` is the account sign-in CSRF token for `browser_cookie`.
pub fn account_login_csrf_matches(browser_cookie: &str, presented: &str) -> bool {
    matches(&account_login_csrf(browser_cookie), presented)
}

/// One live session of the user, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// What the revoke form names it by: its `id_hash`.
    pub reference: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When it began.
    pub created_at: UnixTime,
    /// When the browser last used it.
    pub last_used_at: UnixTime,
    /// When it ends.
    pub expires_at: UnixTime,
    /// How the user authenticated (`amr`).
    pub amr: Vec<String>,
    /// Where it was started from.
    pub device: Device,
    /// Whether it is the session of this request.
    pub current: bool,
    /// Whether it went unused past `sessions.idle_timeout_seconds` ([`super::session::is_idle`]): it signs the
    /// user in no more, while apps' tokens from it live on until it ends.
    pub idle: bool,
}

/// Everything the account page shows.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    /// The live sessions, the current one first, then newest first.
    pub sessions: Vec<SessionEntry>,
    /// The connected apps, by name (ignoring case), then client id.
    pub apps: Vec<ConnectedApp>,
    /// Whether the user has a password to change ([`super::password_change`]).
    pub has_password: bool,
}

/// The outcome of revoking a session from the account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRevoked {
    /// It was the session of this request: the user is signed out, and the signed-out page has these frames
    /// (front-channel logout).
    Current(LogoutFrames),
    /// Another session of the user ended.
    Other,
    /// No live session of this user has that reference (already ended, or someone else's).
    Unknown,
}

/// The live sessions as listed: the current one first, then newest first.
pub fn session_entries(
    sessions: Vec<Session>,
    current_hash: &str,
    now: UnixTime,
    idle_timeout: Option<UnixTime>,
) -> Vec<SessionEntry> {
    let mut entries: Vec<SessionEntry> = sessions
        .into_iter()
        .filter(|s| s.is_active(now))
        .map(|s| SessionEntry {
            current: matches(&s.id_hash, current_hash),
            idle: is_idle(&s, idle_timeout, now),
            reference: s.id_hash,
            auth_time: s.auth_time,
            created_at: s.created_at,
            // Never before it began: a row an earlier release stored during a rolling update has no time (0).
            last_used_at: s.last_used_at.max(s.created_at),
            expires_at: s.expires_at,
            amr: s.amr,
            device: s.device,
        })
        .collect();
    entries.sort_by(|a, b| b.current.cmp(&a.current).then(b.created_at.cmp(&a.created_at)));
    entries
}

impl Provider {
    /// The session a cookie names, with its user, if it counts as signed in ([`SignedIn::from_context`]); its use
    /// is recorded.
    pub async fn account_session(&self, cookie: &str, now: UnixTime) -> Result<Option<SignedIn>, OAuthError> {
        if cookie.len() > MAX_REFERENCE {
            return Ok(None);
        }
        let hash = SecretHash::of(cookie);
        let Some(session) = self.sessions.session(hash.as_str()).await? else { return Ok(None) };
        if !session.is_active(now) {
            return Ok(None);
        }
        let user = self.users.user_by_id(&session.user_id).await?;
        let context = SessionContext { session, user, consent: None };
        let signed_in = SignedIn::from_context(context, now, self.session_idle_timeout);
        // The account page's every step acts on the session for its user.
        if let Some(s) = &signed_in {
            self.record_session_use(&s.session, now).await;
        }
        Ok(signed_in)
    }

    /// The signed-in user's live sessions and connected apps, the apps by name. Apps whose client is gone are
    /// left out (their grants went with it).
    pub async fn account_overview(&self, signed_in: &SignedIn, now: UnixTime) -> Result<AccountOverview, OAuthError> {
        let user_id = &signed_in.user.id;
        let sessions = self.sessions.sessions_of_user(user_id, now).await?;
        Ok(AccountOverview {
            sessions: session_entries(sessions, &signed_in.session.id_hash, now, self.session_idle_timeout),
            apps: self.connected_apps(user_id, now).await?,
            has_password: self.has_password(&signed_in.user).await?,
        })
    }

    /// The name of the app `client_id` if its access is withdrawn: it exists and `overview` does not list it.
    /// The account page names it after the withdrawal, and names nothing for a link about an app still
    /// connected.
    pub async fn withdrawn_app_name(
        &self,
        overview: &AccountOverview,
        client_id: &ClientId,
    ) -> Result<Option<String>, OAuthError> {
        if overview.apps.iter().any(|a| a.grant.client_id == *client_id) {
            return Ok(None);
        }
        Ok(self.clients.client(client_id).await?.map(|c| c.name))
    }

    /// Ends the session `reference` names if it is a live session of the signed-in user, like logout does:
    /// the session and its session-bound refresh tokens with their access tokens.
    pub async fn revoke_account_session(
        &self,
        signed_in: &SignedIn,
        reference: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<SessionRevoked, OAuthError> {
        if reference.len() > MAX_REFERENCE {
            return Ok(SessionRevoked::Unknown);
        }
        let Some(session) = self.sessions.session(reference).await? else { return Ok(SessionRevoked::Unknown) };
        if session.user_id != signed_in.user.id || !session.is_active(now) {
            return Ok(SessionRevoked::Unknown);
        }
        let (current, told) = self.end_own_session(signed_in, &session, json!({}), meta, now).await?;
        Ok(if current { SessionRevoked::Current(self.logout_frames(&told).await) } else { SessionRevoked::Other })
    }

    /// Ends `session`, one of the signed-in user's own, as logout does ([`Provider::end_stored_session`]), audited
    /// as `account_session_revoked` with `details` (an object) and its `sid`; returns whether it was the current
    /// session, and the clients told.
    pub(super) async fn end_own_session(
        &self,
        signed_in: &SignedIn,
        session: &Session,
        mut details: serde_json::Value,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(bool, Vec<LogoutNotice>), OAuthError> {
        let current = matches(&session.id_hash, &signed_in.session.id_hash);
        details["sid"] = json!(session.id_hash);
        details["current"] = json!(current);
        let actor = Some(signed_in.user.id.as_str().to_owned());
        let facts = EventFacts { actor, user_id: Some(session.user_id.as_str().to_owned()), client_id: None, details };
        let told = self.end_stored_session(session, facts, "account_session_revoked", meta, now).await?;
        Ok((current, told))
    }

    /// Withdraws what the signed-in user gave `client_id` ([`Provider::withdraw_apps`], the user acting).
    pub async fn revoke_account_app(
        &self,
        signed_in: &SignedIn,
        client_id: &ClientId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let user_id = &signed_in.user.id;
        self.withdraw_apps(Withdrawer::User, user_id, std::slice::from_ref(client_id), meta, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn session(id: &str, created_at: UnixTime, expires_at: UnixTime, revoked: bool) -> Session {
        Session {
            id_hash: id.into(),
            user_id: UserId::parse("alice").unwrap(),
            auth_time: created_at,
            amr: vec!["pwd".into()],
            created_at,
            last_used_at: created_at,
            expires_at,
            revoked,
            device: Default::default(),
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_cookie_and_purpose() {
        let t = account_csrf("cookie-a");
        assert!(account_csrf_matches("cookie-a", &t));
        assert!(!account_csrf_matches("cookie-b", &t));
        assert!(!account_csrf_matches("cookie-a", ""));
        assert_ne!(t, super::super::end_session::logout_csrf("cookie-a"), "the logout form's token is another");
        let l = account_login_csrf("browser-a");
        assert!(account_login_csrf_matches("browser-a", &l));
        assert!(!account_login_csrf_matches("browser-b", &l));
        assert!(!account_login_csrf_matches("browser-a", &account_csrf("browser-a")));
    }

    #[test]
    fn sessions_list_the_current_one_first_and_only_live_ones() {
        let sessions = vec![
            session("newest", 300, 1000, false),
            session("current", 100, 1000, false),
            session("older", 200, 1000, false),
            session("revoked", 400, 1000, true),
            session("ended", 400, 500, false),
        ];
        let entries = session_entries(sessions, "current", 500, None);
        let shown: Vec<(&str, bool)> = entries.iter().map(|e| (e.reference.as_str(), e.current)).collect();
        assert_eq!(shown, [("current", true), ("newest", false), ("older", false)]);
    }

    #[test]
    fn sessions_show_their_last_use_never_before_they_began() {
        let used = Session { last_used_at: 450, ..session("used", 300, 1000, false) };
        let untimed = Session { last_used_at: 0, ..session("untimed", 200, 1000, false) };
        let entries = session_entries(vec![used, untimed], "used", 500, None);
        let shown: Vec<(&str, UnixTime)> = entries.iter().map(|e| (e.reference.as_str(), e.last_used_at)).collect();
        assert_eq!(shown, [("used", 450), ("untimed", 200)]);
    }

    #[test]
    fn sessions_unused_past_the_idle_timeout_are_listed_as_idle() {
        let recent = Session { last_used_at: 450, ..session("recent", 300, 2000, false) };
        let stale = Session { last_used_at: 310, ..session("stale", 300, 2000, false) };
        let idle = |timeout| -> Vec<bool> {
            session_entries(vec![recent.clone(), stale.clone()], "recent", 1000, timeout)
                .iter()
                .map(|e| e.idle)
                .collect()
        };
        assert_eq!(idle(Some(600)), [false, true]);
        assert_eq!(idle(None), [false, false]);
    }
}
