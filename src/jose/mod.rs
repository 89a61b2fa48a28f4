//! JOSE: the signing key ring (states, staged rotation, encryption at rest), RS256 signing and verification
//! through OpenSSL (via josekit), and the published JWKS.
//!
//! Signing and key generation are CPU work: callers run them on the blocking pool, never on the reactor.
pub mod kek;
pub mod key;
pub mod plan;
pub mod ring;

pub use kek::Kek;
pub use key::SigningKey;
pub use ring::{KeyRing, RingActor, RingSnapshot, RotationPolicy};

/// A failure in key handling, signing or verification.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    /// The key-encryption key is missing, unreadable or malformed.
    #[error("key-encryption key: {0}")]
    Kek(String),
    /// A stored key could not be decrypted or parsed (wrong KEK, or corrupted row).
    #[error("key {kid}: {why}")]
    BadStoredKey {
        /// The key concerned.
        kid: String,
        /// What went wrong.
        why: String,
    },
    /// A key given by an operator is unusable.
    #[error("key import: {0}")]
    Import(String),
    /// The ring has no key that may sign now.
    #[error("no signing key is active")]
    NoSigningKey,
    /// JWT or JWK handling failed.
    #[error("jose: {0}")]
    Jose(String),
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
}

impl From<josekit::JoseError> for JoseError {
    fn from(e: josekit::JoseError) -> Self {
        Self::Jose(e.to_string())
    }
}
