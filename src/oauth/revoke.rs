//! Revoking access tokens by `jti`: SQL is the record (it survives a cache restart), the cache denylist
//! makes the check cheap and reaches every instance at once.
use super::cache_keys;
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::UnixTime;
use std::time::Duration;

impl Provider {
    /// Revokes an access token until it would have expired anyway.
    pub async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime, now: UnixTime) -> Result<(), OAuthError> {
        self.revocations.revoke_jti(jti, expires_at).await?;
        let ttl = (expires_at - now).max(1) as u64;
        if let Err(e) = self.cache.set(&cache_keys::denied_jti(jti), b"1", Duration::from_secs(ttl)).await {
            // SQL has it; checks fall back to SQL when the cache does not answer.
            tracing::warn!(error = %e, "revocation not cached");
        }
        Ok(())
    }

    /// Whether an access token is revoked. The cache answers "revoked" fast; otherwise SQL decides, so a
    /// cache that lost its data or is down never lets a revoked token through.
    pub async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, OAuthError> {
        if let Ok(Some(_)) = self.cache.get(&cache_keys::denied_jti(jti)).await {
            return Ok(true);
        }
        Ok(self.revocations.is_jti_revoked(jti).await?)
    }
}
