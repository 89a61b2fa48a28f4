//! The rules of a password a user chooses (Keycloak's password policies): typed twice alike, at least
//! `passwords.min_length` characters and at most [`Password::MAX_BYTES`] bytes, not the user's name
//! (`passwords.not_username`) nor their email address (`passwords.not_email`), not on the operator's list of
//! forbidden passwords (`passwords.blocklist_file`), and not one of their last `passwords.history` passwords. One
//! [`PasswordPolicy`], built from the configuration, serves every form where users choose a password (the account
//! page, a reset by mail, the "Choose a new password" step, sign-up). The history needs argon2 and the store, so
//! `oauth::password_history` checks it; everything else is decided here, on the password alone. Operators'
//! passwords (`tessera users`, the admin API) keep their own rule ([`Password::parse_new`]).
use crate::domain::password::{NewPasswordError, Password};
use crate::domain::text;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Why a password a user chose is refused. None of these is checked against the stored password or counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    /// No current password typed.
    CurrentMissing,
    /// The new password and its repetition differ.
    Mismatch,
    /// The new password has fewer characters than the minimum, which this carries.
    TooShort(usize),
    /// The new password is longer than [`Password::MAX_BYTES`] bytes.
    TooLong,
    /// The new password is the current one.
    SameAsCurrent,
    /// The new password is the username, in any letter case (`passwords.not_username`).
    SameAsUsername,
    /// The new password is the email address, in any letter case (`passwords.not_email`).
    SameAsEmail,
    /// The new password is on the list of forbidden ones (`passwords.blocklist_file`).
    Blocklisted,
    /// The new password is one of the user's last passwords, as many as this carries (`passwords.history`).
    Reused(usize),
}

/// Passwords nobody may choose, one per line of the operator's file, kept folded ([`folded`]) so that a password
/// is refused in any letter case and Unicode form. Its `Debug` shows only how many it holds.
#[derive(Default)]
pub struct Blocklist(HashSet<String>);

impl Blocklist {
    /// The list in `text`: one password per line (a Windows line end is a line end), blank lines skipped.
    pub fn parse(text: &str) -> Self {
        let lines = text.lines().map(|line| line.strip_suffix('\r').unwrap_or(line));
        Self(lines.filter(|line| !line.is_empty()).map(folded).collect())
    }

    /// How many passwords the list holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Blocklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blocklist({} passwords)", self.0.len())
    }
}

/// `s` compared "case-insensitively, in NFC": lowercased, in NFC before and after (lowercasing may decompose).
fn folded(s: &str) -> String {
    text::nfc(&text::nfc(s).to_lowercase()).into_owned()
}

/// Whose password it is, for the rules that compare it with the account's own names.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The username.
    pub username: &'a str,
    /// The email address, if the account has one.
    pub email: Option<&'a str>,
}

/// The rules of a password a user chooses, from `[passwords]` (see the module's documentation).
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Fewest characters, in NFC (`passwords.min_length`).
    pub min_length: usize,
    /// How many of the user's last passwords, the current one included, a new one may not be (0: none).
    pub history: usize,
    /// Whether the username is refused.
    pub not_username: bool,
    /// Whether the email address is refused.
    pub not_email: bool,
    /// Passwords refused to everyone.
    pub blocklist: Arc<Blocklist>,
}

impl PasswordPolicy {
    /// `new`, in NFC, if it is typed twice alike (`again`, in either Unicode form) and follows every rule but the
    /// history, for `owner`. A mismatch is said first, then the length, then what the password is.
    pub fn check_new(&self, new: Password, again: &Password, owner: Owner<'_>) -> Result<Password, PasswordRule> {
        if !new.same_as(again) {
            return Err(PasswordRule::Mismatch);
        }
        let new = new.as_new(self.min_length).map_err(|e| match e {
            NewPasswordError::TooShort(min) => PasswordRule::TooShort(min),
            NewPasswordError::TooLong => PasswordRule::TooLong,
        })?;
        let typed = folded(new.typed());
        if self.not_username && typed == folded(owner.username) {
            return Err(PasswordRule::SameAsUsername);
        }
        if self.not_email && owner.email.is_some_and(|email| typed == folded(email)) {
            return Err(PasswordRule::SameAsEmail);
        }
        if self.blocklist.0.contains(&typed) {
            return Err(PasswordRule::Blocklisted);
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(blocklist: &str) -> PasswordPolicy {
        PasswordPolicy {
            min_length: 8,
            history: 0,
            not_username: true,
            not_email: true,
            blocklist: Arc::new(Blocklist::parse(blocklist)),
        }
    }

    const ALICE: Owner<'static> = Owner { username: "Alice.Liddell", email: Some("alice@example.com") };

    fn check(p: &PasswordPolicy, new: &str, owner: Owner<'_>) -> Result<(), PasswordRule> {
        p.check_new(Password::new(new), &Password::new(new), owner).map(drop)
    }

    #[test]
    fn a_password_breaking_no_rule_is_taken_in_nfc() {
        let p = policy("");
        let new =
            p.check_new(Password::new("cre\u{300}me brule\u{301}e"), &Password::new("cr\u{e8}me brul\u{e9}e"), ALICE);
        assert!(new.unwrap().same_as(&Password::new("cr\u{e8}me brul\u{e9}e")));
    }

    #[test]
    fn the_username_and_the_email_address_are_refused_in_any_case_and_form() {
        let p = policy("");
        assert_eq!(check(&p, "alice.liddell", ALICE), Err(PasswordRule::SameAsUsername));
        assert_eq!(check(&p, "ALICE.LIDDELL", ALICE), Err(PasswordRule::SameAsUsername));
        assert_eq!(check(&p, "Alice@Example.com", ALICE), Err(PasswordRule::SameAsEmail));
        let jose = Owner { username: "Jos\u{e9}-Mar\u{ed}a", email: None };
        assert_eq!(check(&p, "JOSE\u{301}-MARI\u{301}A", jose), Err(PasswordRule::SameAsUsername));
        // Only equality is refused, and an account without an address has none to refuse.
        assert_eq!(check(&p, "alice.liddell1", ALICE), Ok(()));
        assert_eq!(check(&p, "alice@example.com", Owner { email: None, ..ALICE }), Ok(()));
    }

    #[test]
    fn each_name_rule_can_be_turned_off() {
        let p = PasswordPolicy { not_username: false, not_email: false, ..policy("") };
        assert_eq!(check(&p, "alice.liddell", ALICE), Ok(()));
        assert_eq!(check(&p, "alice@example.com", ALICE), Ok(()));
    }

    #[test]
    fn the_blocklist_refuses_its_lines_in_any_case_and_form() {
        let p = policy("password1\r\n\nLetMeIn!!\ncre\u{300}me brule\u{301}e\n");
        assert_eq!(p.blocklist.len(), 3);
        assert_eq!(check(&p, "PASSWORD1", ALICE), Err(PasswordRule::Blocklisted));
        assert_eq!(check(&p, "letmein!!", ALICE), Err(PasswordRule::Blocklisted));
        assert_eq!(check(&p, "Cr\u{e8}me Br\u{fb}l\u{e9}e", ALICE), Ok(()), "another word");
        assert_eq!(check(&p, "CR\u{c8}ME BRUL\u{c9}E", ALICE), Err(PasswordRule::Blocklisted));
        assert_eq!(check(&p, "password12", ALICE), Ok(()), "whole lines only");
        assert_eq!(format!("{:?}", p.blocklist), "Blocklist(3 passwords)");
    }

    #[test]
    fn the_form_is_judged_before_what_the_password_is() {
        let p = policy("short");
        let r = p.check_new(Password::new("alice.liddell"), &Password::new("alice.liddelL"), ALICE);
        assert_eq!(r.map(drop), Err(PasswordRule::Mismatch));
        assert_eq!(check(&p, "short", ALICE), Err(PasswordRule::TooShort(8)));
        let long = "x".repeat(Password::MAX_BYTES + 1);
        assert_eq!(check(&p, &long, ALICE), Err(PasswordRule::TooLong));
        let p = PasswordPolicy { min_length: 12, ..p };
        assert_eq!(check(&p, "1234567890a", ALICE), Err(PasswordRule::TooShort(12)));
        assert_eq!(check(&p, "1234567890ab", ALICE), Ok(()));
    }
}
