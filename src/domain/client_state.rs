//! The `state` a client sends to the authorization endpoint and gets back with the answer (RFC 6749 §4.1.1).
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a `state` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("state may hold printable ASCII characters and spaces only (RFC 6749 Appendix A.5)")]
pub struct ClientStateError;

/// `state = 1*VSCHAR` (RFC 6749 Appendix A.5): printable ASCII and space, %x20-7E, sent back as given. Nothing
/// else is kept for half an hour with a pending sign-in, where a control character would take six bytes in its
/// JSON form. Its length is bounded by the request's.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientState(String);

impl ClientState {
    /// Parses a non-empty run of VSCHAR.
    pub fn parse(s: impl Into<String>) -> Result<Self, ClientStateError> {
        let s = s.into();
        if s.is_empty() || !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(ClientStateError);
        }
        Ok(Self(s))
    }

    /// The value as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientState {
    type Error = ClientStateError;
    fn try_from(s: String) -> Result<Self, ClientStateError> {
        Self::parse(s)
    }
}

impl From<ClientState> for String {
    fn from(state: ClientState) -> String {
        state.0
    }
}

impl fmt::Debug for ClientState {
    // The client's CSRF defence: its length is enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientState({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_vschar() {
        for ok in ["a", " ", "~", "xyz ABC-._~!\"#$%&'()*+,/:;<=>?@[\\]^`{|}", &"s".repeat(8192)] {
            assert_eq!(ClientState::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a\u{0}b", "tab\there", "new\nline", "\u{7f}", "caf\u{e9}", "\u{202e}", "\u{1f600}"] {
            assert_eq!(ClientState::parse(bad), Err(ClientStateError), "{bad:?}");
        }
    }

    #[test]
    fn stored_states_are_parsed_again() {
        let state = ClientState::parse("xyz").unwrap();
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, "\"xyz\"");
        assert_eq!(serde_json::from_str::<ClientState>(&json).unwrap(), state);
        assert!(serde_json::from_str::<ClientState>("\"a\\u0000b\"").is_err());
        assert_eq!(format!("{state:?}"), "ClientState(3 bytes)");
    }
}
