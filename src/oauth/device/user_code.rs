//! User codes (RFC 8628 §6.1): 8 characters of the 20 consonants `BCDFGHJKLMNPQRSTVWXZ`, which spell no word and
//! hold no look-alikes (no vowel, no 0/O or 1/I), shown as `XXXX-XXXX`. What the user types is read in any letter
//! case, with dashes and spaces anywhere. 20^8 is about 2^34.6 codes: with the codes short-lived and guesses
//! limited per IP, a guess has no useful chance (RFC 8628 §5.1).
use crate::domain::secret::{fill_random, SecretHash};
use std::fmt;

/// The characters of a user code.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How many characters a user code has (the dash it is shown with aside).
pub const USER_CODE_LEN: usize = 8;
/// The longest input read as a user code: room for spaces and dashes around the characters, no more.
const MAX_INPUT: usize = 32;

/// A user code in its normal form (8 capital letters of [`USER_CODE_ALPHABET`]). Its `Debug` never shows it:
/// with the device code it stands for, it is a way to approve a device.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

/// Why typed text is not a user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserCodeError {
    /// Nothing was typed.
    #[error("enter the code shown on your device")]
    Empty,
    /// Not 8 letters of the alphabet.
    #[error("that is not a code this server gives: codes are 8 letters, like BCDF-GHJK")]
    Malformed,
}

impl UserCode {
    /// A new code, each character drawn uniformly from the alphabet (bytes of 240 and above are drawn again, so
    /// that no character is likelier than another).
    pub fn generate() -> Self {
        let mut code = String::with_capacity(USER_CODE_LEN);
        let mut buf = [0u8; 16];
        while code.len() < USER_CODE_LEN {
            fill_random(&mut buf);
            for b in buf.iter().filter(|b| **b < 240) {
                if code.len() == USER_CODE_LEN {
                    break;
                }
                code.push(char::from(USER_CODE_ALPHABET[usize::from(*b % 20)]));
            }
        }
        Self(code)
    }

    /// Reads a code as a user typed it: any letter case, dashes and white space ignored.
    pub fn parse(input: &str) -> Result<Self, UserCodeError> {
        if input.len() > MAX_INPUT {
            return Err(UserCodeError::Malformed);
        }
        let code: String =
            input.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        if code.is_empty() {
            return Err(UserCodeError::Empty);
        }
        let valid = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        if valid {
            Ok(Self(code))
        } else {
            Err(UserCodeError::Malformed)
        }
    }

    /// The normal form, 8 letters: what links carry.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(USER_CODE_LEN / 2);
        format!("{a}-{b}")
    }

    /// What the cache is keyed by: a hash, so that the cache holds no code a user could type.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&format!("tessera user code\0{}", self.0))
    }
}

impl fmt::Debug for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCode").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_eight_letters_of_the_alphabet_shown_with_a_dash() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let code = UserCode::generate();
            assert_eq!(code.as_str().len(), 8);
            assert!(code.as_str().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{}", code.as_str());
            let shown = code.display();
            assert_eq!((shown.len(), &shown[4..5]), (9, "-"));
            assert_eq!(UserCode::parse(&shown), Ok(code.clone()));
            seen.insert(code.0);
        }
        assert!(seen.len() > 195, "codes repeat: {}", seen.len());
    }

    #[test]
    fn every_letter_of_the_alphabet_is_drawn() {
        let mut counts = [0u32; 20];
        for _ in 0..500 {
            for b in UserCode::generate().as_str().bytes() {
                counts[USER_CODE_ALPHABET.iter().position(|a| *a == b).unwrap()] += 1;
            }
        }
        // 4,000 draws, 200 expected per letter: a letter never or seldom drawn would be a skewed draw.
        assert!(counts.iter().all(|c| (120..300).contains(c)), "{counts:?}");
    }

    #[test]
    fn typed_codes_are_read_in_any_case_with_dashes_and_spaces_anywhere() {
        let code = UserCode::parse("BCDF-GHJK").unwrap();
        for typed in ["bcdfghjk", "BCDF GHJK", " bcdf-ghjk ", "b-c-d-f g h j k", "Bcdf\tGhjk", "BCDF--GHJK"] {
            assert_eq!(UserCode::parse(typed), Ok(code.clone()), "{typed:?}");
        }
        assert_eq!(code.as_str(), "BCDFGHJK");
        assert_eq!(code.display(), "BCDF-GHJK");
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(UserCode::parse(""), Err(UserCodeError::Empty));
        assert_eq!(UserCode::parse(" - "), Err(UserCodeError::Empty));
        for bad in [
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ0",
            "BCDF_GHJK",
            "ВCDF-GHJK",
            "BCDF-GHJK\u{0}",
            &"B".repeat(33),
            &format!("{}BCDFGHJK", " ".repeat(30)),
        ] {
            assert_eq!(UserCode::parse(bad), Err(UserCodeError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_is_of_the_normal_form_and_debug_hides_the_code() {
        let a = UserCode::parse("bcdf-ghjk").unwrap();
        let b = UserCode::parse("BCDFGHJK").unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash().as_str(), SecretHash::of("BCDFGHJK").as_str());
        assert!(!format!("{a:?}").contains("BCDF"));
    }
}
