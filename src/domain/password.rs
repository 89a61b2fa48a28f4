//! People's passwords: argon2id with a configurable cost. CPU-heavy: callers run these on the blocking pool.
//!
//! A password is hashed in NFC ([`text::nfc`], as RFC 8265 prepares passwords), so that one typed with "é" as a
//! single character and as "e" and a combining accent is the same password whichever way it was set. Hashes
//! stored before were made from the password as typed: a sign-in checks the NFC form first, then, when that is
//! not what was typed, the typed form too ([`PasswordChecker::verify`]).
//!
//! A hash keeps the algorithm and cost it was made with. A check tells when an accepted hash is not as it would be
//! made now (another cost than the configured one, or made from the password as typed: [`Verdict::Stale`]), so
//! that the sign-in can store it again ([`PasswordChecker::rehash`]): raising the cost reaches every password as
//! its user next signs in, as Keycloak does when its hashing policy changes.
use crate::domain::text;
use argon2::password_hash::{PasswordHash, PasswordHasher, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use subtle::ConstantTimeEq;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordCost {
    /// One of OWASP's equivalent argon2id settings (9 MiB, 4 passes, 1 lane): the same defence and about the
    /// same CPU time as its 19 MiB / 2 passes, with half the memory held by each sign-in in flight.
    fn default() -> Self {
        Self { memory_kib: 9_216, iterations: 4, parallelism: 1 }
    }
}

/// Password hashing failed or the stored hash is unreadable.
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct PasswordError(String);

/// A password typed by a person. Its `Debug` never shows it.
pub struct Password(String);

impl Password {
    /// Minimum length, in characters, of a password an operator sets (`tessera users`, the admin API).
    pub const MIN_LEN: usize = 8;
    /// Maximum length, in bytes of its NFC form, of any new password: bounds the argon2 input.
    pub const MAX_BYTES: usize = 1024;

    /// Wraps a password for checking against a stored hash.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// Parses a new password set by an operator, in NFC ([`text::nfc`]; lengths are counted so), refusing ones
    /// shorter than [`Self::MIN_LEN`] characters or longer than [`Self::MAX_BYTES`] bytes.
    pub fn parse_new(s: impl Into<String>) -> Result<Self, String> {
        Self::parse_new_at_least(s, Self::MIN_LEN).map_err(|e| e.to_string())
    }

    /// Parses a new password of at least `min_chars` Unicode characters and at most [`Self::MAX_BYTES`] bytes,
    /// both counted in its NFC form, which is what it becomes.
    pub fn parse_new_at_least(s: impl Into<String>, min_chars: usize) -> Result<Self, NewPasswordError> {
        Self::new(s).as_new(min_chars)
    }

    /// This password as a new one ([`Self::parse_new_at_least`]).
    pub fn as_new(self, min_chars: usize) -> Result<Self, NewPasswordError> {
        let s = self.0;
        let s = match text::nfc(&s) {
            Cow::Borrowed(_) => s,
            Cow::Owned(composed) => composed,
        };
        if s.chars().count() < min_chars {
            return Err(NewPasswordError::TooShort(min_chars));
        }
        if s.len() > Self::MAX_BYTES {
            return Err(NewPasswordError::TooLong);
        }
        Ok(Self(s))
    }

    /// Whether `other` is the same password: the same NFC form, compared in constant time.
    pub fn same_as(&self, other: &Password) -> bool {
        text::nfc(&self.0).as_bytes().ct_eq(text::nfc(&other.0).as_bytes()).into()
    }

    /// Whether nothing was typed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The password as typed, for the comparisons of [`super::password_policy`]; never shown.
    pub(super) fn typed(&self) -> &str {
        &self.0
    }
}

/// Why a new password is refused ([`Password::parse_new_at_least`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NewPasswordError {
    /// Fewer characters than the minimum, which it carries.
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    /// More than [`Password::MAX_BYTES`] bytes.
    #[error("password must be at most 1024 bytes")]
    TooLong,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Password").finish_non_exhaustive()
    }
}

fn hasher(cost: PasswordCost) -> Result<Argon2<'static>, PasswordError> {
    // The output length is fixed (argon2's default) so that a hash of another length shows as stale.
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(Params::DEFAULT_OUTPUT_LEN))
        .map_err(|e| PasswordError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The stored "hash" of an account that has no password (one a federated sign-in created): not a PHC string, so
/// no password matches it, until an operator sets one.
pub const NO_PASSWORD: &str = "!";

/// Hashes a password, in NFC, into a PHC string (the parameters travel inside it).
pub fn hash_password(password: &Password, cost: PasswordCost) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    crate::domain::secret::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError(e.to_string()))?;
    hasher(cost)?
        .hash_password(text::nfc(&password.0).as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// What [`PasswordChecker::verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password is wrong, the user unknown or the stored hash unreadable.
    Refused,
    /// The password is right and its hash is as [`PasswordChecker::rehash`] would make it now.
    Accepted,
    /// The password is right but its hash is not as it would be made now: another algorithm, version, cost or
    /// output length than the configured ones, or made from the password as typed rather than in NFC. Worth
    /// replacing with [`PasswordChecker::rehash`].
    Stale,
}

impl Verdict {
    /// Whether the password is right.
    pub fn is_accepted(self) -> bool {
        self != Self::Refused
    }
}

/// Checks sign-in passwords against stored hashes, keeping argon2's working memory from one check to the next.
///
/// Each check hashes into the cost's memory (9 MiB by default). Allocated afresh, that memory is mapped,
/// faulted in page by page, zeroed by the kernel and unmapped again: a quarter of a sign-in's CPU in a
/// profile. argon2 writes every block before it reads it, so a buffer serves the next check as it is. At most
/// `keep` buffers are kept (one per check that can run at once); a hash stored at another cost gets its own.
/// [`PasswordChecker::take_if_idle`] gives them up, to be freed, once sign-ins stop.
pub struct PasswordChecker {
    /// The configured cost: hashes of another are stale.
    cost: PasswordCost,
    /// The argon2 parameters of `cost`, as read back from a PHC string made with them.
    params: Params,
    /// A hash of a random password at the configured cost: unknown users are checked against it so that
    /// they cost the same time as known ones.
    dummy_hash: String,
    /// Blocks of the configured cost, the size of every kept buffer.
    blocks: usize,
    keep: usize,
    spare: Mutex<Vec<Vec<Block>>>,
    /// Whether a check ran since the last `take_if_idle`.
    busy: AtomicBool,
}

/// Argon2 buffers a [`PasswordChecker`] no longer keeps; their memory goes back to the system when this drops.
#[must_use = "dropping the buffers unmaps them: drop them off the reactor"]
pub struct IdleBuffers(Vec<Vec<Block>>);

impl IdleBuffers {
    /// Whether there is nothing to free.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PasswordChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChecker")
            .field("blocks", &self.blocks)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl PasswordChecker {
    /// A checker for hashes of `cost`, keeping up to `keep` buffers. Hashes the dummy password (argon2: call it
    /// on the blocking pool).
    pub fn new(cost: PasswordCost, keep: usize) -> Result<Self, PasswordError> {
        let dummy_hash = hash_password(&Password::new(crate::domain::secret::random_token(16)), cost)?;
        let params = hasher(cost)?.params().clone();
        let blocks = params.block_count();
        Ok(Self { cost, params, dummy_hash, blocks, keep, spare: Mutex::new(Vec::new()), busy: AtomicBool::new(false) })
    }

    /// A new hash of `password` (in NFC) at the configured cost, to replace a [`Verdict::Stale`] one (argon2: call
    /// it on the blocking pool).
    pub fn rehash(&self, password: &Password) -> Result<String, PasswordError> {
        hash_password(password, self.cost)
    }

    /// Checks a password against a stored PHC string: its NFC form, as passwords are hashed, then, when that
    /// fails and the password was not typed in NFC, the password as typed, as hashes stored before NFC were made
    /// (someone who set theirs with a combining accent and types it so again). With `None` (unknown user) it
    /// checks against the dummy hash the same way, so the answer takes the same time whether or not the user
    /// exists: one check, or two for a password not typed in NFC. Whether an accepted hash is stale costs no
    /// further hashing.
    pub fn verify(&self, password: &Password, stored: Option<&str>) -> Verdict {
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            // An account without a password ([`NO_PASSWORD`]) is refused at the cost of an unknown user's check.
            return if real { self.verify(password, None) } else { Verdict::Refused };
        };
        let (matched, as_typed) = match text::nfc(&password.0) {
            Cow::Borrowed(typed) => (self.matches(typed, &parsed), false),
            Cow::Owned(composed) => match self.matches(&composed, &parsed) {
                Some(false) => (self.matches(&password.0, &parsed), true),
                known => (known, false),
            },
        };
        if !(matched.unwrap_or(false) && real) {
            Verdict::Refused
        } else if as_typed || !self.is_current(&parsed) {
            Verdict::Stale
        } else {
            Verdict::Accepted
        }
    }

    /// Whether `parsed` was made as [`hash_password`] makes hashes at the configured cost.
    fn is_current(&self, parsed: &PasswordHash<'_>) -> bool {
        parsed.algorithm == Algorithm::Argon2id.ident()
            && parsed.version == Some(Version::V0x13.into())
            && Params::try_from(parsed).is_ok_and(|params| params == self.params)
    }

    /// Whether `password` hashes to `parsed` with the parameters stored in it; `None` when it is unusable.
    fn matches(&self, password: &str, parsed: &PasswordHash<'_>) -> Option<bool> {
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        let argon2 = Argon2::new(algorithm, version, Params::try_from(parsed).ok()?);
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut computed = vec![0u8; expected.len()];
        let mut blocks = self.take(argon2.params().block_count());
        let hashed = argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut blocks[..]);
        self.give_back(blocks);
        hashed.ok()?;
        Some(expected.as_bytes().ct_eq(&computed).into())
    }

    /// Takes the kept buffers unless a check ran since the previous call: called every so often, it gives
    /// their memory back between bursts of sign-ins and keeps it during one. Dropping what it returns unmaps
    /// the memory: do that on the blocking pool.
    pub fn take_if_idle(&self) -> IdleBuffers {
        if self.busy.swap(false, Ordering::Relaxed) {
            return IdleBuffers(Vec::new());
        }
        IdleBuffers(std::mem::take(&mut *self.spare.lock().unwrap_or_else(PoisonError::into_inner)))
    }

    fn take(&self, count: usize) -> Vec<Block> {
        self.busy.store(true, Ordering::Relaxed);
        let spare = (count == self.blocks).then(|| self.spare.lock().unwrap_or_else(PoisonError::into_inner).pop());
        spare.flatten().unwrap_or_else(|| vec![Block::default(); count])
    }

    fn give_back(&self, blocks: Vec<Block>) {
        if blocks.len() == self.blocks {
            let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
            if spare.len() < self.keep {
                spare.push(blocks);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: PasswordCost = PasswordCost { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn verifies_the_right_password_only() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let pw = Password::parse_new("correct horse").unwrap();
        let h = hash_password(&pw, CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(checker.verify(&Password::new("correct horse"), Some(&h)).is_accepted());
        assert!(!checker.verify(&Password::new("wrong horse!"), Some(&h)).is_accepted());
        assert!(!checker.verify(&Password::new("correct horse"), None).is_accepted());
        assert!(!checker.verify(&Password::new("correct horse"), Some("not a hash")).is_accepted());
    }

    #[test]
    fn a_kept_buffer_gives_the_same_answers_as_a_fresh_one() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let right = hash_password(&Password::new("correct horse"), CHEAP).unwrap();
        let other = hash_password(&Password::new("battery staple"), CHEAP).unwrap();
        // The second and later checks run in the buffer the previous one left filled.
        for _ in 0..3 {
            assert!(checker.verify(&Password::new("correct horse"), Some(&right)).is_accepted());
            assert!(!checker.verify(&Password::new("correct horse"), Some(&other)).is_accepted());
            assert!(checker.verify(&Password::new("battery staple"), Some(&other)).is_accepted());
        }
        assert_eq!(checker.spare.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_hash_of_another_cost_still_verifies_and_its_buffer_is_not_kept() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let costlier = PasswordCost { memory_kib: 128, iterations: 2, parallelism: 2 };
        let h = hash_password(&Password::new("correct horse"), costlier).unwrap();
        assert!(checker.verify(&Password::new("correct horse"), Some(&h)).is_accepted());
        assert!(!checker.verify(&Password::new("wrong horse!"), Some(&h)).is_accepted());
        assert!(checker.spare.lock().unwrap().is_empty());
    }

    #[test]
    fn buffers_are_released_after_an_idle_period_only() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let h = hash_password(&Password::new("correct horse"), CHEAP).unwrap();
        assert!(checker.verify(&Password::new("correct horse"), Some(&h)).is_accepted());
        // A check ran in this period: the buffer stays for the next burst.
        assert!(checker.take_if_idle().is_empty());
        assert_eq!(checker.spare.lock().unwrap().len(), 1);
        // None in the next one: it goes.
        assert!(!checker.take_if_idle().is_empty());
        assert!(checker.spare.lock().unwrap().is_empty());
        assert!(checker.take_if_idle().is_empty());
        assert!(checker.verify(&Password::new("correct horse"), Some(&h)).is_accepted());
    }

    #[test]
    fn keeps_no_more_buffers_than_asked() {
        let checker = PasswordChecker::new(CHEAP, 2).unwrap();
        let buffers: Vec<_> = (0..3).map(|_| checker.take(checker.blocks)).collect();
        for b in buffers {
            checker.give_back(b);
        }
        assert_eq!(checker.spare.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_new_password_is_held_to_the_minimum_asked_in_characters_and_to_1024_bytes() {
        assert_eq!(Password::parse_new_at_least("abc", 4).unwrap_err(), NewPasswordError::TooShort(4));
        assert!(Password::parse_new_at_least("abcd", 4).is_ok());
        // Characters, not bytes: four two-byte letters are four.
        assert!(Password::parse_new_at_least("éééé", 4).is_ok());
        assert!(Password::parse_new_at_least("e\u{301}e\u{301}e\u{301}", 4).is_err(), "three once composed");
        assert!(Password::parse_new_at_least("é".repeat(512), 1).is_ok());
        assert_eq!(Password::parse_new_at_least("é".repeat(513), 1).unwrap_err(), NewPasswordError::TooLong);
        // What operators get stays as it was.
        assert_eq!(Password::parse_new("1234567").unwrap_err(), "password must be at least 8 characters");
        assert_eq!(Password::parse_new("x".repeat(1025)).unwrap_err(), "password must be at most 1024 bytes");
    }

    #[test]
    fn the_same_password_in_either_form_is_the_same() {
        let composed = Password::new("cr\u{e8}me br\u{fb}l\u{e9}e");
        assert!(composed.same_as(&Password::new("cre\u{300}me bru\u{302}le\u{301}e")));
        assert!(!composed.same_as(&Password::new("creme brulee")));
    }

    #[test]
    fn refuses_short_passwords() {
        assert!(Password::parse_new("short").is_err());
        // Counted in NFC: seven letters, one of them typed as "e" and a combining accent.
        assert!(Password::parse_new("cre\u{300}me b").is_err());
        assert!(Password::parse_new("cre\u{300}me br").is_ok());
    }

    #[test]
    fn an_account_without_a_password_refuses_every_password() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        for typed in ["", "!", "correct horse"] {
            assert_eq!(checker.verify(&Password::new(typed), Some(NO_PASSWORD)), Verdict::Refused);
        }
    }

    const COMPOSED: &str = "cr\u{e8}me br\u{fb}l\u{e9}e";
    const DECOMPOSED: &str = "cre\u{300}me bru\u{302}le\u{301}e";

    // Regression: a password was hashed as typed, so one set with "é" as a single character (U+00E9) was refused
    // when typed as "e" and a combining accent (U+0301), as another keyboard or system may send it, and the reverse.
    #[test]
    fn a_password_set_in_either_form_signs_in_typed_in_either() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        for set in [COMPOSED, DECOMPOSED] {
            let h = hash_password(&Password::parse_new(set).unwrap(), CHEAP).unwrap();
            // However the Password came to be.
            let unparsed = hash_password(&Password::new(set), CHEAP).unwrap();
            for typed in [COMPOSED, DECOMPOSED] {
                assert!(checker.verify(&Password::new(typed), Some(&h)).is_accepted(), "set {set:?}, typed {typed:?}");
                assert!(
                    checker.verify(&Password::new(typed), Some(&unparsed)).is_accepted(),
                    "set {set:?}, typed {typed:?}"
                );
            }
            assert!(!checker.verify(&Password::new("creme brulee"), Some(&h)).is_accepted());
        }
    }

    /// A hash of the password as typed, as made before passwords were hashed in NFC.
    fn hash_as_typed(password: &str) -> String {
        let salt = SaltString::encode_b64(&[7; 16]).unwrap();
        hasher(CHEAP).unwrap().hash_password(password.as_bytes(), &salt).unwrap().to_string()
    }

    // A password set with combining accents before NFC was applied still signs in typed so; typed composed it is
    // another password, as it was then. One set composed then was already in NFC and signs in either way.
    #[test]
    fn a_hash_made_before_nfc_still_verifies_as_it_was_typed() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let decomposed = hash_as_typed(DECOMPOSED);
        assert!(checker.verify(&Password::new(DECOMPOSED), Some(&decomposed)).is_accepted());
        assert!(!checker.verify(&Password::new(COMPOSED), Some(&decomposed)).is_accepted());
        assert!(!checker.verify(&Password::new("cre\u{300}me bru\u{302}le\u{301}es"), Some(&decomposed)).is_accepted());
        let composed = hash_as_typed(COMPOSED);
        for typed in [COMPOSED, DECOMPOSED] {
            assert!(checker.verify(&Password::new(typed), Some(&composed)).is_accepted(), "{typed:?}");
        }
        // An unknown user is refused, in either form.
        for typed in [COMPOSED, DECOMPOSED] {
            assert!(!checker.verify(&Password::new(typed), None).is_accepted());
        }
    }

    // A hash made at another cost than the configured one, or of another output length or algorithm, is accepted
    // but stale; its replacement carries the configured parameters and is not.
    #[test]
    fn a_hash_of_another_cost_is_stale_and_its_rehash_is_not() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let right = Password::new("correct horse");
        for other in [
            PasswordCost { memory_kib: 128, ..CHEAP },
            PasswordCost { iterations: 2, ..CHEAP },
            PasswordCost { parallelism: 2, ..CHEAP },
        ] {
            let h = hash_password(&right, other).unwrap();
            assert_eq!(checker.verify(&right, Some(&h)), Verdict::Stale, "{other:?}");
            assert_eq!(checker.verify(&Password::new("wrong horse!"), Some(&h)), Verdict::Refused, "{other:?}");
            // Where that cost is the configured one, the same hash is current.
            let there = PasswordChecker::new(other, 1).unwrap();
            assert_eq!(there.verify(&right, Some(&h)), Verdict::Accepted, "{other:?}");
        }
        let salt = SaltString::encode_b64(&[7; 16]).unwrap();
        let long = Params::new(CHEAP.memory_kib, CHEAP.iterations, CHEAP.parallelism, Some(64)).unwrap();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, hasher(CHEAP).unwrap().params().clone());
        for other in [Argon2::new(Algorithm::Argon2id, Version::V0x13, long), argon2i] {
            let h = other.hash_password(b"correct horse", &salt).unwrap().to_string();
            assert_eq!(checker.verify(&right, Some(&h)), Verdict::Stale, "{h}");
        }

        let rehashed = checker.rehash(&right).unwrap();
        assert!(rehashed.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{rehashed}");
        assert_eq!(checker.verify(&right, Some(&rehashed)), Verdict::Accepted);
    }

    // A hash that matched only the password as typed, not in NFC, is stale: its replacement is made in NFC, and
    // then signs in typed either way.
    #[test]
    fn a_hash_matched_only_as_typed_is_stale_and_its_rehash_is_in_nfc() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        let decomposed = hash_as_typed(DECOMPOSED);
        assert_eq!(checker.verify(&Password::new(DECOMPOSED), Some(&decomposed)), Verdict::Stale);
        assert_eq!(checker.verify(&Password::new(COMPOSED), Some(&decomposed)), Verdict::Refused);

        let rehashed = checker.rehash(&Password::new(DECOMPOSED)).unwrap();
        for typed in [COMPOSED, DECOMPOSED] {
            assert_eq!(checker.verify(&Password::new(typed), Some(&rehashed)), Verdict::Accepted, "{typed:?}");
        }
    }

    // A hash at the configured cost, made in NFC, is current however the password is typed: an up-to-date
    // sign-in is never stored again.
    #[test]
    fn a_current_hash_is_not_stale() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        for set in [COMPOSED, DECOMPOSED] {
            let h = hash_password(&Password::new(set), CHEAP).unwrap();
            for typed in [COMPOSED, DECOMPOSED] {
                assert_eq!(checker.verify(&Password::new(typed), Some(&h)), Verdict::Accepted, "{set:?} {typed:?}");
            }
        }
        // Made before NFC from a password typed composed, it was already in NFC.
        assert_eq!(checker.verify(&Password::new(COMPOSED), Some(&hash_as_typed(COMPOSED))), Verdict::Accepted);
        assert_eq!(checker.verify(&Password::new("creme brulee"), Some(&hash_as_typed(COMPOSED))), Verdict::Refused);
    }

    // An unknown user is refused, never stale, in either form: checked against the dummy hash as before.
    #[test]
    fn an_unknown_user_is_refused_whatever_is_typed() {
        let checker = PasswordChecker::new(CHEAP, 1).unwrap();
        for typed in [COMPOSED, DECOMPOSED, "correct horse"] {
            assert_eq!(checker.verify(&Password::new(typed), None), Verdict::Refused, "{typed:?}");
        }
        // The check ran (into the kept buffer), as it does for a known user.
        assert_eq!(checker.spare.lock().unwrap().len(), 1);
        assert!(checker.take_if_idle().is_empty());
    }
}
