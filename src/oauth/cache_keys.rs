//! The cache key of every kind of hot state, in one place so no two kinds can collide.

/// An unredeemed authorization code, by the hash of the code.
pub fn code(code_hash: &str) -> String {
    format!("code:{code_hash}")
}

/// What a redeemed code issued, so a replay can revoke it.
pub fn code_used(code_hash: &str) -> String {
    format!("code-used:{code_hash}")
}

/// A pending authorization request while the user signs in and consents.
pub fn interaction(id: &str) -> String {
    format!("interaction:{id}")
}

/// A revoked access token.
pub fn denied_jti(jti: &str) -> String {
    format!("deny:{jti}")
}
