//! People who sign in.
use crate::domain::{UnixTime, UserId};
use std::fmt;

/// A username: what a person types at the login page. Case is kept; lookups are exact.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Most characters a username may have.
    pub const MAX_LEN: usize = 64;

    /// Parses a username: 1 to 64 printable characters without spaces at either end or control characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.chars().count() > Self::MAX_LEN {
            return Err(format!("username must be 1 to {} characters", Self::MAX_LEN));
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err("username must not contain control characters or surrounding spaces".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id: the `sub` claim.
    pub id: UserId,
    /// Login name.
    pub username: Username,
    /// Email address, if known.
    pub email: Option<String>,
    /// Whether the email address was verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Disabled users cannot sign in or refresh.
    pub disabled: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change of the profile.
    pub updated_at: UnixTime,
    /// Tokens issued to this user before this moment are invalid ("sign out everywhere").
    pub revoked_before: Option<UnixTime>,
}

/// What it takes to create a user; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Stable id.
    pub id: UserId,
    /// Login name.
    pub username: Username,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Creation time.
    pub created_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("Ålice O'Neil").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(" alice").is_err());
        assert!(Username::parse("al\nice").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }
}
