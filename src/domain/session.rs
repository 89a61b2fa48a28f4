//! Browser sessions: who signed in, when, how, and from where.
use crate::domain::{UnixTime, UserId};
use std::net::IpAddr;

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
    /// When the browser last used it: its creation, or a later request that acted on it for the user (recorded
    /// at most once a minute, so up to a minute old).
    pub last_used_at: UnixTime,
    /// When it ends regardless of activity.
    pub expires_at: UnixTime,
    /// Ended by logout or revocation.
    pub revoked: bool,
    /// Where the sign-in came from, so that the user can tell their sessions apart.
    pub device: Device,
}

impl Session {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        !self.revoked && now < self.expires_at
    }
}

/// Where a session was started from, as far as the request said. Sessions stored before this was recorded,
/// and requests without the headers, have neither part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The client IP (behind `http.trusted_proxies`, the address they forwarded).
    pub ip: Option<IpAddr>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<UserAgent>,
}

/// A `User-Agent` as kept with a session: at most [`UserAgent::MAX_LEN`] bytes of text, with no control
/// characters (Postgres refuses NUL in text, and none has a place on a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent(String);

impl UserAgent {
    /// The most bytes kept: more than any real browser sends, little enough for a row per session.
    pub const MAX_LEN: usize = 512;

    /// The header's bytes, decoded lossily (a header value need not be UTF-8) and cut at a character boundary
    /// within [`Self::MAX_LEN`]; `None` when nothing printable is left.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        Self::from_text(&String::from_utf8_lossy(value))
    }

    /// Text as stored, bounded and cleaned like a header's.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut kept = String::with_capacity(text.len().min(Self::MAX_LEN));
        for c in text.chars().filter(|c| !c.is_control()) {
            if kept.len() + c.len_utf8() > Self::MAX_LEN {
                break;
            }
            kept.push(c);
        }
        let kept = kept.trim();
        (!kept.is_empty()).then(|| Self(kept.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_bounded_at_a_character_boundary() {
        let short = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(UserAgent::from_header(short.as_bytes()).unwrap().as_str(), short);
        let long = format!("{}é", "a".repeat(UserAgent::MAX_LEN - 1));
        assert_eq!(UserAgent::from_text(&long).unwrap().as_str(), "a".repeat(UserAgent::MAX_LEN - 1));
        let wide = "é".repeat(UserAgent::MAX_LEN);
        assert_eq!(UserAgent::from_text(&wide).unwrap().as_str().len(), UserAgent::MAX_LEN);
    }

    #[test]
    fn a_user_agent_that_is_not_text_is_kept_lossily_without_control_characters() {
        assert_eq!(UserAgent::from_header(b"Agent/\xff1.0").unwrap().as_str(), "Agent/\u{fffd}1.0");
        assert_eq!(UserAgent::from_header(b"Agent\0/1\t.0\x7f").unwrap().as_str(), "Agent/1.0");
        for nothing in [&b""[..], b"   ", b"\0\x01"] {
            assert_eq!(UserAgent::from_header(nothing), None, "{nothing:?}");
        }
    }
}
