//! The refresh grace window (DESIGN.md §4): a client that retries a refresh it already made (multi-tab
//! races, lost responses) within the window gets the very same response again, not new tokens. The
//! response is kept in the cache encrypted under a key derived from the refresh token that was presented,
//! so only a holder of that token can read it.
use super::cache_keys;
use super::error::OAuthError;
use super::provider::Provider;
use super::token::TokenResponse;
use crate::domain::secret::SecretHash;
use crate::jose::Kek;
use sha2::{Digest, Sha256};
use std::time::Duration;

fn sealer(refresh_token: &str) -> Kek {
    let mut h = Sha256::new();
    h.update(b"tessera refresh grace v1\0");
    h.update(refresh_token.as_bytes());
    Kek::from_bytes(h.finalize().into())
}

impl Provider {
    /// Keeps `response` for retries of `refresh_token` during the grace window.
    pub async fn remember_refresh_response(
        &self,
        refresh_token: &str,
        response: &TokenResponse,
    ) -> Result<(), OAuthError> {
        if self.tokens.refresh_grace <= 0 {
            return Ok(());
        }
        let hash = SecretHash::of(refresh_token);
        let plain = serde_json::to_vec(response).map_err(OAuthError::server)?;
        let sealed = sealer(refresh_token).seal(&plain, hash.as_str().as_bytes())?;
        let ttl = Duration::from_secs(self.tokens.refresh_grace as u64);
        self.cache.set(&cache_keys::refresh_grace(hash.as_str()), &sealed, ttl).await?;
        Ok(())
    }

    /// The response kept for `refresh_token`, if still in the window.
    pub async fn remembered_refresh_response(&self, refresh_token: &str) -> Result<Option<TokenResponse>, OAuthError> {
        let hash = SecretHash::of(refresh_token);
        let Some(sealed) = self.cache.get(&cache_keys::refresh_grace(hash.as_str())).await? else {
            return Ok(None);
        };
        let plain = sealer(refresh_token).open(&sealed, hash.as_str().as_bytes()).map_err(OAuthError::server)?;
        Ok(Some(serde_json::from_slice(&plain).map_err(OAuthError::server)?))
    }
}
