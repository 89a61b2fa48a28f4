//! People who sign in.
use crate::domain::{text, UnixTime, UserId};
use std::fmt;

/// A username: what a person types at the login page. It is kept and shown as created ("Alice"; in NFC, see
/// [`Username::parse_new`]), and matched in any letter case and either Unicode form through its
/// [`Username::folded`] form: "alice" signs in as "Alice", "José" typed with a combining accent as "José", and no
/// second account may be created as "ALICE". Accounts stored before that rule which fold alike are matched by
/// their exact name only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Most characters a username may have.
    pub const MAX_LEN: usize = 64;

    /// Parses a username: 1 to 64 printable characters without spaces at either end or control characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::checked(s).map_err(|flaw| flaw.to_string())
    }

    /// [`Username::parse`], saying why not as a [`UsernameFlaw`].
    fn checked(s: &str) -> Result<Self, UsernameFlaw> {
        if s.is_empty() || s.chars().count() > Self::MAX_LEN {
            return Err(UsernameFlaw::Length);
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err(UsernameFlaw::Control);
        }
        Ok(Self(s.to_owned()))
    }

    /// Parses the username of an account being created: brought to NFC ([`text::nfc`]: "José" typed with a
    /// combining accent is kept with the composed "é", the one form pages then show), then [`Username::parse`], and
    /// no invisible character at all ([`text::is_invisible`]: bidi controls, zero-width characters, joiners), since
    /// pages show it amid their own words and another account's name must not be imitable. Stored rows and what is
    /// typed at sign-in go through [`Username::parse`] alone, so that an account made before this rule still loads
    /// and signs in by the name it was given.
    pub fn parse_new(s: &str) -> Result<Self, String> {
        Self::check_new(s).map_err(|flaw| flaw.to_string())
    }

    /// [`Username::parse_new`], saying why not as a [`UsernameFlaw`] (for pages, which say it in their own words).
    pub fn check_new(s: &str) -> Result<Self, UsernameFlaw> {
        let s = text::nfc(s);
        let username = Self::checked(&s)?;
        if s.chars().any(text::is_invisible) {
            return Err(UsernameFlaw::Invisible);
        }
        Ok(username)
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which usernames are matched in any letter case and either Unicode form ([`fold`]). Two
    /// usernames that fold alike name one account.
    pub fn folded(&self) -> String {
        fold(&self.0)
    }
}

/// Why text is not a username ([`Username::parse`], [`Username::check_new`]); its `Display` is the reason operators
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameFlaw {
    /// Empty, or longer than [`Username::MAX_LEN`] characters.
    #[error("username must be 1 to {} characters", Username::MAX_LEN)]
    Length,
    /// A control character, or spaces at either end.
    #[error("username must not contain control characters or surrounding spaces")]
    Control,
    /// An invisible formatting character (a new username only).
    #[error("username must not contain invisible formatting characters (bidi controls, zero-width characters)")]
    Invisible,
}

/// Folds Unicode form and letter case: NFC ([`text::nfc`]), so that "é" typed as one character or as "e" and a
/// combining accent is one letter; then lower, upper, and lower case again, since lower case alone keeps apart
/// letters that are one letter in another case ("ß" and "SS", "ſ" and "s", the micro sign and "μ", final and
/// medial sigma, "ẞ" and "ss") and the round trip folds them as Unicode case folding does; then NFC again, since
/// a case mapping may leave text that is not ("ǰ" has no capital of its own: it upper-cases to "J" and a
/// combining caron, which may then stand after another mark).
pub fn fold(s: &str) -> String {
    let cased = text::nfc(s).to_lowercase().to_uppercase().to_lowercase();
    text::nfc(&cased).into_owned()
}

/// The key an email address is matched by: NFC, then lower case, then NFC again (a case mapping may leave text
/// that is not), so that "ÉLODIE@…" and "élodie@…", typed composed or with a combining accent, are one address.
/// Only lower case, not [`fold`]'s round trip through upper case: "ß" and "ss", "ı" and "i" are other letters in
/// an address, and may be other mailboxes ("boß.com" is not "boss.com").
pub fn email_key(address: &str) -> String {
    let lower = text::nfc(address).to_lowercase();
    text::nfc(&lower).into_owned()
}

/// Whether two email addresses are the same mailbox as far as this server can tell: the same text in NFC but for
/// ASCII letter case. Stricter than [`email_key`], for what hands over an account (a federated sign-in linked by
/// its address): a letter outside ASCII in another case ("É", "é") is another address here.
pub fn same_address(a: &str, b: &str) -> bool {
    text::nfc(a).eq_ignore_ascii_case(&text::nfc(b))
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

/// A user's identity at an upstream OpenID provider ("Sign in with …"): the provider's `sub` for them, linked to
/// one local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    /// The provider's id in `[[federation.providers]]`.
    pub provider_id: String,
    /// The provider's `sub`.
    pub subject: String,
    /// The local user.
    pub user_id: UserId,
    /// When it was linked.
    pub created_at: UnixTime,
    /// When it last signed the user in.
    pub last_used_at: UnixTime,
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
    /// The password is temporary (an operator's): the next sign-in ends only once the user chose a new one.
    pub password_change_required: bool,
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
    /// Whether the address is known to be the user's (stored only with an address).
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Whether the password is temporary ([`User::password_change_required`]).
    pub password_change_required: bool,
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

    #[test]
    fn usernames_fold_to_lowercase() {
        let folded = |s: &str| Username::parse(s).unwrap().folded();
        assert_eq!(folded("Alice"), "alice");
        assert_eq!(folded("ALICE"), folded("alice"));
        assert_eq!(folded("ÅLICE Ö'NEIL"), "ålice ö'neil");
        // Letters that lower case alone keeps apart.
        for (a, b) in [("straße", "STRASSE"), ("ẞ", "ss"), ("\u{b5}-ops", "\u{3bc}-ops"), ("ſam", "sam"), ("ας", "ασ")]
        {
            assert_eq!(folded(a), folded(b), "{a} {b}");
        }
        // Shown as created.
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "Alice");
    }

    // Regression: "José" typed with a composed "é" (U+00E9) and with "e" and a combining acute (U+0301) were two
    // names: the one created in one form could not sign in typing the other, and the other could be created beside
    // it and look the same on every page.
    #[test]
    fn usernames_fold_either_unicode_form_alike() {
        let folded = |s: &str| Username::parse(s).unwrap().folded();
        let (composed, decomposed) = ("Jos\u{e9}", "Jose\u{301}");
        assert_eq!(folded(composed), "jos\u{e9}");
        assert_eq!(folded(decomposed), "jos\u{e9}");
        assert_eq!(folded("JOSE\u{301}"), "jos\u{e9}");
        // Marks in another order, and a case mapping that leaves a mark to compose again: "ǰ" with a dot below
        // upper-cases to "J", caron, dot below; "J", dot below, caron is the same text.
        assert_eq!(folded("\u{1f0}\u{323}"), folded("J\u{323}\u{30c}"));
        assert_eq!(folded("\u{1f0}\u{323}"), "\u{1f0}\u{323}");
        // The Angstrom sign is the letter Å.
        assert_eq!(folded("\u{212b}ngstr\u{f6}m"), folded("\u{c5}ngstro\u{308}m"));
        // A stored or typed name keeps its form; a new one is kept composed.
        assert_eq!(Username::parse(decomposed).unwrap().as_str(), decomposed);
        assert_eq!(Username::parse_new(decomposed).unwrap().as_str(), composed);
        assert_eq!(Username::parse_new(composed).unwrap().as_str(), composed);
        // Counted once composed: 64 "é" typed decomposed are 128 characters.
        assert!(Username::parse_new(&"e\u{301}".repeat(Username::MAX_LEN)).is_ok());
    }

    // Regression: email addresses were keyed by the username fold, which takes "ß" for "ss" and "ı" for "i", so
    // "alice@boß.com", another domain, was taken for "alice@boss.com".
    #[test]
    fn email_addresses_are_keyed_in_lower_case_only() {
        assert_eq!(email_key("\u{c9}LODIE@Example.com"), "\u{e9}lodie@example.com");
        assert_eq!(email_key("E\u{301}LODIE@EXAMPLE.COM"), "\u{e9}lodie@example.com");
        for (a, b) in [("alice@bo\u{df}.com", "alice@boss.com"), ("\u{131}van@x", "ivan@x"), ("\u{17f}am@x", "sam@x")] {
            assert_ne!(email_key(a), email_key(b), "{a} {b}");
        }
        assert!(same_address("Alice@Example.COM", "alice@example.com"));
        assert!(same_address("jos\u{e9}@x", "jose\u{301}@x"));
        assert!(!same_address("\u{c9}lodie@x", "\u{e9}lodie@x"), "a letter outside ASCII in another case");
        assert_eq!(email_key("\u{c9}lodie@x"), email_key("\u{e9}lodie@x"), "though the key is one");
        // The Kelvin sign is a K, in NFC.
        assert!(same_address("\u{212a}ate@x", "kate@x"));
    }

    // Regression: usernames refused control characters only, so an account could be created as "\u{202E}nimda"
    // or "ali\u{200B}ce" and show on pages as another. A stored row or a sign-in attempt with one still parses.
    #[test]
    fn new_usernames_hold_no_invisible_character() {
        for bad in
            ["\u{202E}nimda", "ali\u{200B}ce", "a\u{200D}b", "\u{2066}alice\u{2069}", "ali\u{00AD}ce", "a\u{2028}b"]
        {
            assert!(Username::parse_new(bad).is_err(), "{bad:?}");
            assert!(Username::parse(bad).is_ok(), "{bad:?}");
        }
        // Even where a script joins: a username is typed, and a joiner cannot be seen to type it.
        assert!(Username::parse_new("\u{0645}\u{06cc}\u{200c}\u{062e}").is_err());
        for fine in ["alice", "Ålice O'Neil", "\u{0645}\u{06cc}\u{062e}"] {
            assert_eq!(Username::parse_new(fine).map(|u| u.0), Ok(fine.to_owned()));
        }
        assert!(Username::parse_new(" alice").is_err());
    }
}
