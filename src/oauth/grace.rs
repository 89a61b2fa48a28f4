//! The refresh grace window (DESIGN.md §4): a client that retries a refresh it already made (multi-tab
//! races, lost responses) within the window gets the very same response again, not new tokens. What is kept
//! is not the response but what it was signed from (a fifth of its size): RS256 signatures are
//! deterministic, so signing the same claims with the same key gives the same tokens. It is kept in the
//! cache encrypted under a key derived from the refresh token that was presented, so only a holder of that
//! token can read it.
use super::cache_keys;
use super::error::OAuthError;
use super::provider::Provider;
use super::token::TokenResponse;
use super::tokens::{AccessGrant, IdTokenExtras};
use crate::domain::secret::SecretHash;
use crate::domain::UnixTime;
use crate::jose::Kek;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a rotation issued: its new refresh token and the inputs of its signed tokens.
#[derive(Serialize, Deserialize)]
pub struct IssuedRefresh {
    /// The successor refresh token.
    pub refresh_token: String,
    /// The access token's grant.
    pub grant: AccessGrant,
    /// Its `jti`.
    pub jti: String,
    /// `iat` of both tokens.
    pub issued_at: UnixTime,
    /// The ID token's lifetime, when one was issued (a refresh's ID token has no nonce and no `amr`).
    pub id_token_ttl: Option<i64>,
    /// The key that signed them.
    pub kid: String,
}

impl IssuedRefresh {
    fn id_token(&self) -> Option<IdTokenExtras> {
        self.id_token_ttl.map(|ttl| IdTokenExtras { nonce: None, amr: Vec::new(), ttl })
    }
}

fn sealer(refresh_token: &str) -> Kek {
    let mut h = Sha256::new();
    h.update(b"tessera refresh grace v2\0");
    h.update(refresh_token.as_bytes());
    Kek::from_bytes(h.finalize().into())
}

impl Provider {
    /// Keeps what the rotation of `refresh_token` issued, for retries during the grace window.
    pub async fn remember_refresh(&self, refresh_token: &str, issued: &IssuedRefresh) -> Result<(), OAuthError> {
        if self.tokens.refresh_grace <= 0 {
            return Ok(());
        }
        let hash = SecretHash::of(refresh_token);
        let plain = serde_json::to_vec(issued).map_err(OAuthError::server)?;
        let sealed = sealer(refresh_token).seal(&plain, hash.as_str().as_bytes())?;
        let ttl = Duration::from_secs(self.tokens.refresh_grace as u64);
        self.cache.set(&cache_keys::refresh_grace(hash.as_str()), &sealed, ttl).await?;
        Ok(())
    }

    /// The response the rotation of `refresh_token` gave, if still in the window, with `expires_in` counted
    /// from `now` (the tokens are the same, so they expire when they did).
    pub async fn remembered_refresh_response(
        &self,
        refresh_token: &str,
        now: UnixTime,
    ) -> Result<Option<TokenResponse>, OAuthError> {
        let hash = SecretHash::of(refresh_token);
        let Some(sealed) = self.cache.get(&cache_keys::refresh_grace(hash.as_str())).await? else {
            return Ok(None);
        };
        let plain = sealer(refresh_token).open(&sealed, hash.as_str().as_bytes()).map_err(OAuthError::server)?;
        let issued: IssuedRefresh = serde_json::from_slice(&plain).map_err(OAuthError::server)?;
        let minted = self
            .remint(&issued.kid, &issued.grant, issued.id_token(), issued.jti.clone(), issued.issued_at)
            .await?
            .ok_or_else(|| OAuthError::server("the key that signed the kept response has left the ring"))?;
        Ok(Some(TokenResponse {
            access_token: minted.access_token,
            token_type: "Bearer".into(),
            expires_in: (issued.issued_at + issued.grant.ttl - now).max(0),
            scope: super::token::scope_string(&issued.grant.scope),
            id_token: minted.id_token,
            refresh_token: Some(issued.refresh_token),
        }))
    }
}
