//! A user's passkey (a WebAuthn credential) as stored, and the name the user gives it.
use super::text;
use super::{UnixTime, UserId};
use std::fmt;

/// The name a user gives a passkey, to tell theirs apart ("Laptop", "Phone"): trimmed, in NFC, 1 to
/// [`PasskeyName::MAX_CHARS`] characters, no control or invisible formatting character (the account page shows
/// it, and a hidden character could make two names look alike).
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

impl PasskeyName {
    /// Most characters of a name.
    pub const MAX_CHARS: usize = 64;

    /// Parses what the user typed.
    pub fn parse(typed: &str) -> Result<Self, PasskeyNameError> {
        let name = text::nfc(typed.trim()).into_owned();
        if name.is_empty() {
            return Err(PasskeyNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(PasskeyNameError::TooLong);
        }
        if name.chars().any(char::is_control) || text::has_hidden_character(&name) {
            return Err(PasskeyNameError::HiddenCharacter);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasskeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasskeyName({:?})", self.0)
    }
}

/// Why a passkey name was refused; its `Display` is the sentence the account page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyNameError {
    /// Nothing but spaces.
    #[error("Give the passkey a name, such as the device it is on.")]
    Empty,
    /// Longer than [`PasskeyName::MAX_CHARS`].
    #[error("The name can be at most 64 characters long.")]
    TooLong,
    /// A control or invisible formatting character.
    #[error("The name cannot hold control or invisible formatting characters.")]
    HiddenCharacter,
}

/// A passkey of a user, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Our id of it (random), which the account page's remove form names.
    pub id: String,
    /// Its user.
    pub user_id: UserId,
    /// The authenticator's id of the credential (base64url, unique): how a sign-in finds it.
    pub credential_id: String,
    /// The verifier's record of the credential (JSON): public key, signature counter, flags. Not a secret.
    pub credential: String,
    /// The name the user gave it.
    pub name: String,
    /// When it was added.
    pub created_at: UnixTime,
    /// When it last signed the user in, if ever.
    pub last_used_at: Option<UnixTime>,
}

impl fmt::Debug for StoredPasskey {
    // The credential is public, but long and of no use in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_held_to_its_rules() {
        assert_eq!(PasskeyName::parse("  Laptop ").unwrap().as_str(), "Laptop");
        assert_eq!(PasskeyName::parse("Cafe\u{301}").unwrap().as_str(), "Caf\u{e9}", "NFC");
        assert_eq!(PasskeyName::parse("   "), Err(PasskeyNameError::Empty));
        assert_eq!(PasskeyName::parse(&"é".repeat(64)).unwrap().as_str().chars().count(), 64);
        assert_eq!(PasskeyName::parse(&"x".repeat(65)), Err(PasskeyNameError::TooLong));
        assert_eq!(PasskeyName::parse("a\u{7}b"), Err(PasskeyNameError::HiddenCharacter));
        assert_eq!(PasskeyName::parse("Pay\u{202e}lap"), Err(PasskeyNameError::HiddenCharacter), "a bidi control");
        assert_eq!(PasskeyName::parse("a\u{200b}b"), Err(PasskeyNameError::HiddenCharacter), "zero width space");
    }
}
