//! The token endpoint (RFC 6749 §3.2): client authentication, then one handler per grant type.
mod authorization_code;
mod client_credentials;
pub mod device_code;
mod refresh_token;
pub(crate) mod resource;
mod token_exchange;

use super::audit::RequestMeta;
use super::client_auth::BasicCredentials;
use super::discovery::paths;
use super::dpop::Jkt;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::provider::Provider;
use crate::domain::{Client, GrantType, Scope, UnixTime};
use serde::Serialize;

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for an access token bound to a key (RFC 9449 §5).
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Granted scope; left out when empty, which RFC 6749 §3.3's grammar does not allow as a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The ID token, for OpenID requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// What a token exchange issued (RFC 8693 §2.2.1); only that grant answers with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl Provider {
    /// Handles a token request: `params` is the form body, `authorization` the raw header, if any, and `dpop`
    /// the one `DPoP` header, if any.
    pub async fn token(
        &self,
        mut params: Params,
        authorization: Option<&str>,
        dpop: Option<&str>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let basic = match authorization {
            Some(h) => BasicCredentials::parse(h)?,
            None => None,
        };
        let client = self.authenticate_client(&mut params, basic, now).await?;
        let grant = params.require("grant_type")?;
        let grant: GrantType =
            grant.parse().map_err(|_| OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type"))?;
        if !client.allows_grant(grant) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use this grant type"));
        }
        let dpop = match dpop {
            Some(proof) => Some(self.check_dpop_proof(proof, "POST", paths::TOKEN, None, now).await?),
            // RFC 9449 §5.2: a client registered for bound tokens gets no bearer token.
            None if client.metadata.dpop_bound_access_tokens == Some(true) => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidDpopProof,
                    "this client's access tokens are DPoP-bound: send a DPoP proof",
                ))
            }
            None => None,
        };
        let dpop = dpop.as_ref();
        match grant {
            GrantType::AuthorizationCode => self.authorization_code_grant(&client, &params, dpop, meta, now).await,
            GrantType::RefreshToken => self.refresh_token_grant(&client, &params, dpop, meta, now).await,
            GrantType::ClientCredentials => self.client_credentials_grant(&client, &params, dpop, now).await,
            GrantType::DeviceCode => self.device_code_grant(&client, &params, dpop, now).await,
            GrantType::TokenExchange => self.token_exchange_grant(&client, &params, dpop, meta, now).await,
        }
    }

    /// The key a new refresh token family is bound to: a public client's proof key (RFC 9449 §5), since it has
    /// no other credential; a confidential client's refresh tokens are bound to its authentication.
    fn refresh_binding(client: &Client, dpop: Option<&Jkt>) -> Option<Jkt> {
        dpop.filter(|_| client.is_public()).cloned()
    }

    /// The access token lifetime for `client`. Retired keys stay published only for the ceiling, so a
    /// lifetime stored above it (before it existed, or before it was lowered) is cut to it.
    pub fn access_ttl(&self, client: &Client) -> i64 {
        client.access_token_ttl.unwrap_or(self.tokens.access_token_ttl).min(self.tokens.max_access_token_ttl)
    }

    /// The `aud` of an access token: the requested resource, else the configured default, else the issuer.
    pub fn audience(&self, resource: Option<&str>) -> String {
        resource
            .map(str::to_owned)
            .or_else(|| self.tokens.default_audience.clone())
            .unwrap_or_else(|| self.issuer.clone())
    }
}

/// Scope as the token response reports it: none when empty.
pub(super) fn scope_string(scope: &Scope) -> Option<String> {
    (!scope.is_empty()).then(|| scope.to_string())
}
