//! Browser sessions: who signed in, when, and how.
use crate::domain::{UnixTime, UserId};

/// A signed-in browser. The cookie carries a random id; only its hash (`id_hash`) is stored, and it doubles
/// as the public session id (`sid` claim), since the hash reveals nothing about the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value, base64url.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// When the user last authenticated (`auth_time`).
    pub auth_time: UnixTime,
    /// Authentication methods used (`amr`), e.g. `pwd`.
    pub amr: Vec<String>,
    /// When the session was created.
    pub created_at: UnixTime,
    /// When it ends regardless of activity.
    pub expires_at: UnixTime,
    /// Ended by logout or revocation.
    pub revoked: bool,
}

impl Session {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        !self.revoked && now < self.expires_at
    }
}
