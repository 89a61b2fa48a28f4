//! Sign-in: checking a password at equal cost for unknown users, and starting a browser session.
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::password::{verify_password, Password};
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::{Session, UnixTime, User, Username};

impl Provider {
    /// Checks a username and password. `Ok(None)` for a wrong password, an unknown or a disabled user
    /// alike, after the same argon2 work, so the answer reveals nothing about which part was wrong.
    pub async fn check_password(&self, username: &str, password: Password) -> Result<Option<User>, OAuthError> {
        let found = match Username::parse(username) {
            Ok(name) => self.users.user_by_username(&name).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let dummy = self.dummy_password_hash.clone();
        let ok = self
            .password_pool
            .run(move || verify_password(&password, hash.as_deref(), &dummy))
            .await
            .map_err(OAuthError::server)?;
        Ok(user.filter(|u| ok && !u.disabled))
    }

    /// Starts a session for `user`: a new random id (never reusing one the browser had, against session
    /// fixation), of which only the hash is stored. Returns the cookie value.
    pub async fn start_session(
        &self,
        user: &User,
        amr: Vec<String>,
        now: UnixTime,
    ) -> Result<(PlainSecret, Session), OAuthError> {
        let cookie = PlainSecret::generate();
        let session = Session {
            id_hash: cookie.hash().as_str().to_owned(),
            user_id: user.id.clone(),
            auth_time: now,
            amr,
            created_at: now,
            expires_at: now + self.session_ttl,
            revoked: false,
        };
        self.sessions.create_session(&session).await?;
        Ok((cookie, session))
    }

    /// The active session a cookie value names, if any.
    pub async fn session_from_cookie(&self, cookie: &str, now: UnixTime) -> Result<Option<Session>, OAuthError> {
        if cookie.len() > 128 {
            return Ok(None);
        }
        let hash = SecretHash::of(cookie);
        Ok(self.sessions.session(hash.as_str()).await?.filter(|s| s.is_active(now)))
    }
}
