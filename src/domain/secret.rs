//! High-entropy secrets (client secrets, tokens, codes): generation, hashing at rest, constant-time comparison.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// `n` random bytes from the operating system's CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Fills `buf` from the OpenSSL CSPRNG (seeded by the OS).
pub fn fill_random(buf: &mut [u8]) {
    // OpenSSL's RAND_bytes only fails when the OS entropy source is gone; there is no safe way on from there.
    #[allow(clippy::expect_used)]
    openssl::rand::rand_bytes(buf).expect("the operating system's random source failed");
}

/// A secret in plain text, as handed to its owner once. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    /// A new 256-bit secret.
    pub fn generate() -> Self {
        Self(random_token(32))
    }

    /// Wraps a secret received from a caller.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that shows or sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value stored at rest.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainSecret").finish_non_exhaustive()
    }
}

/// SHA-256 of a high-entropy secret, base64url: what is stored instead of the secret. A slow password hash
/// would add nothing for 256 random bits and would make every token request slow.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    /// Hashes a secret.
    pub fn of(secret: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes())))
    }

    /// SHA-256 of arbitrary bytes, base64url (also used for ETags).
    pub fn of_bytes(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
    }

    /// Restores a stored hash.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` hashes to this value, compared in constant time.
    pub fn matches(&self, candidate: &str) -> bool {
        let other = Self::of(candidate);
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHash").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_only_its_secret() {
        let s = PlainSecret::generate();
        let h = s.hash();
        assert!(h.matches(s.expose()));
        assert!(!h.matches("something else"));
        assert_eq!(s.expose().len(), 43);
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = PlainSecret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", s.hash()).contains(s.hash().as_str()));
    }
}
