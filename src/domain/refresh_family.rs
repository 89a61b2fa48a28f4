//! Refresh token families that their tokens name. A family has a 256-bit secret `s`, and its id is derived
//! from `s` one-way; each token is `s || r` (32 fresh random bytes `r`), base64url: 86 characters. A token whose
//! row was purged after its rotation still names its family, so presenting it can still be told apart from
//! an unknown token (reuse detection for the family's whole life); the id, which audit events show, does not
//! give `s`. Tokens of the earlier form (a bare 256-bit secret, 43 characters) name no family.
use super::secret::{fill_random, PlainSecret, SecretHash};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;

const SECRET_LEN: usize = 32;
/// `s || r`.
const TOKEN_BYTES: usize = 2 * SECRET_LEN;
/// The base64url length of [`TOKEN_BYTES`] without padding.
const TOKEN_CHARS: usize = 86;

/// The secret of a refresh token family. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct FamilySecret([u8; SECRET_LEN]);

impl FamilySecret {
    /// The secret of the family an authorization code's redemption starts. Whoever holds the code can revoke
    /// the family by replaying it already, so deriving the secret from it gives nobody more.
    pub fn of_code(code: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"tessera refresh family secret v1\0");
        h.update(code.as_bytes());
        Self(h.finalize().into())
    }

    /// The secret of the family a device code's redemption starts, as [`FamilySecret::of_code`] but apart from
    /// it: a device code sent to the authorization code grant must not be taken for a replayed code there.
    pub fn of_device_code(device_code: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"tessera device refresh family secret v1\0");
        h.update(device_code.as_bytes());
        Self(h.finalize().into())
    }

    /// The family secret a refresh token of this form names: `None` for anything but canonical unpadded
    /// base64url of exactly 64 bytes (tokens of the earlier form included).
    pub fn parse(presented: &str) -> Option<Self> {
        if presented.len() != TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(presented).ok()?;
        // The length and the engine's refusal of trailing bits make the text canonical; checked here anyway,
        // since one token must have one hash.
        if bytes.len() != TOKEN_BYTES || URL_SAFE_NO_PAD.encode(&bytes) != presented {
            return None;
        }
        bytes[..SECRET_LEN].try_into().ok().map(Self)
    }

    /// The family's id, as stored (`refresh_tokens.family_id`) and shown in audit events: base64url SHA-256.
    pub fn family_id(&self) -> String {
        SecretHash::of_bytes(&[b"tessera refresh family v2\0".as_slice(), &self.0].concat())
    }

    /// A new refresh token of the family.
    pub fn issue_token(&self) -> PlainSecret {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..SECRET_LEN].copy_from_slice(&self.0);
        fill_random(&mut bytes[SECRET_LEN..]);
        PlainSecret::new(URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl fmt::Debug for FamilySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FamilySecret").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_family() {
        let secret = FamilySecret::of_code("a code");
        let (a, b) = (secret.issue_token(), secret.issue_token());
        assert_eq!(a.expose().len(), 86);
        assert_ne!(a, b, "each token has its own random part");
        for token in [&a, &b] {
            assert_eq!(FamilySecret::parse(token.expose()), Some(secret.clone()));
        }
        assert_eq!(FamilySecret::parse(a.expose()).map(|s| s.family_id()), Some(secret.family_id()));
        assert_ne!(FamilySecret::of_code("another code").family_id(), secret.family_id());
        assert_ne!(FamilySecret::of_device_code("a code").family_id(), secret.family_id(), "a device code's is apart");
    }

    #[test]
    fn only_the_canonical_form_of_64_bytes_parses() {
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let token = FamilySecret::of_code("a code").issue_token();
        let token = token.expose();
        let (head, last) = token.split_at(TOKEN_CHARS - 1);
        // 86 characters carry 516 bits: the last one's low 4 bits are padding, which must be 0.
        let value = ALPHABET.find(last).expect("base64url");
        let trailing_bits = format!("{head}{}", &ALPHABET[value | 1..=value | 1]);
        for text in [
            PlainSecret::generate().expose().to_owned(),
            trailing_bits,
            format!("{token}=="),
            format!("{token}A"),
            URL_SAFE_NO_PAD.encode([7u8; 65]),
            head.to_owned(),
            format!("{head}."),
            format!("+{}", &token[1..]),
            String::new(),
        ] {
            assert_eq!(FamilySecret::parse(&text), None, "{text}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = FamilySecret::of_code("a code");
        assert_eq!(format!("{secret:?}"), "FamilySecret { .. }");
    }
}
