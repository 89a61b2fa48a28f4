//! People's passwords: argon2id with a configurable cost. CPU-heavy: callers run these on the blocking pool.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::fmt;

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
    /// Minimum length accepted for a new password.
    pub const MIN_LEN: usize = 8;

    /// Wraps a password for checking against a stored hash.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// Parses a new password, refusing ones too short to be worth storing.
    pub fn parse_new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        if s.chars().count() < Self::MIN_LEN {
            return Err(format!("password must be at least {} characters", Self::MIN_LEN));
        }
        if s.len() > 1024 {
            return Err("password must be at most 1024 bytes".into());
        }
        Ok(Self(s))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Password").finish_non_exhaustive()
    }
}

fn hasher(cost: PasswordCost) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| PasswordError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (the parameters travel inside it).
pub fn hash_password(password: &Password, cost: PasswordCost) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    crate::domain::secret::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError(e.to_string()))?;
    hasher(cost)?
        .hash_password(password.0.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Checks a password against a stored PHC string. With `None` (unknown user) it checks against a dummy
/// hash of the same cost, so the answer takes the same time whether or not the user exists.
pub fn verify_password(password: &Password, stored: Option<&str>, dummy: &str) -> bool {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The stored hash carries its own parameters; the default Argon2 reads them from it.
    let ok = Argon2::default().verify_password(password.0.as_bytes(), &parsed).is_ok();
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: PasswordCost = PasswordCost { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn verifies_the_right_password_only() {
        let pw = Password::parse_new("correct horse").unwrap();
        let h = hash_password(&pw, CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&Password::new("correct horse"), Some(&h), &h));
        assert!(!verify_password(&Password::new("wrong horse!"), Some(&h), &h));
        assert!(!verify_password(&Password::new("correct horse"), None, &h));
    }

    #[test]
    fn refuses_short_passwords() {
        assert!(Password::parse_new("short").is_err());
    }
}
