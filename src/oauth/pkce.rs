//! PKCE (RFC 7636), S256 only: `plain` would let anyone who sees the authorization request redeem the code.
use super::error::OAuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A `code_challenge` sent with `code_challenge_method=S256`: 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChallenge(String);

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

impl CodeChallenge {
    /// Parses the challenge and its method; the method defaults to `plain` in RFC 7636, which is refused.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request("code_challenge_method must be S256 (plain is not allowed)"))
            }
            Some(_) => return Err(OAuthError::invalid_request("unsupported code_challenge_method")),
        }
        // SHA-256 is 32 bytes: exactly 43 base64url characters without padding.
        if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(OAuthError::invalid_request("code_challenge must be a base64url SHA-256 (43 characters)"));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Whether `verifier` hashes to this challenge, compared in constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A `code_verifier`: 43 to 128 unreserved characters (RFC 7636 §4.1).
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeVerifier").finish_non_exhaustive()
    }
}

impl CodeVerifier {
    /// Parses a verifier.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        if !(43..=128).contains(&s.len()) || !s.bytes().all(is_unreserved) {
            return Err(OAuthError::invalid_grant("code_verifier must be 43 to 128 unreserved characters"));
        }
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256")).unwrap();
        assert!(c.verify(&CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap()));
        assert!(!c.verify(&CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx").unwrap()));
    }

    #[test]
    fn plain_and_malformed_are_refused() {
        let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(ch, None).is_err());
        assert!(CodeChallenge::parse(ch, Some("plain")).is_err());
        assert!(CodeChallenge::parse("short", Some("S256")).is_err());
        assert!(CodeVerifier::parse("short").is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
    }
}
