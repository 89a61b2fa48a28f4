//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6): find the code, check it belongs to
//! this client and redirect URI, check PKCE, and issue tokens. A code is consumed by its first use, right or
//! wrong; a second use revokes what the first one issued (RFC 6749 §4.1.2).
use super::{scope_string, TokenResponse};
use crate::domain::secret::SecretHash;
use crate::domain::{Client, GrantType, Scope, UnixTime};
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::cache_keys;
use crate::oauth::code::{code_family_id, CodeGrant, CodeRedemption};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeVerifier;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant, IdTokenExtras};
use crate::storage::CodeGrantStanding;
use std::time::Duration;

impl Provider {
    pub(super) async fn authorization_code_grant(
        &self,
        client: &Client,
        params: &Params,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params.require("code")?;
        if code.len() > 128 {
            return Err(OAuthError::invalid_grant("invalid authorization code"));
        }
        let hash = SecretHash::of(code);
        let Some(bytes) = self.cache.take(&cache_keys::code(hash.as_str())).await? else {
            return Err(self.replayed_or_unknown(code, hash.as_str(), client, meta, now).await);
        };
        let grant: CodeGrant = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;

        if grant.client_id != client.id {
            return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
        }
        if now >= grant.expires_at {
            return Err(OAuthError::invalid_grant("the authorization code has expired"));
        }
        if params.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
        }
        match (&grant.code_challenge, params.get("code_verifier")) {
            (Some(challenge), Some(v)) => {
                if !challenge.verify(&CodeVerifier::parse(v)?) {
                    return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(OAuthError::invalid_grant("missing code_verifier")),
            // A verifier for a code issued without a challenge is a PKCE downgrade attempt (RFC 9700 §2.1.1).
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant("code_verifier given, but the request had no code_challenge"))
            }
            (None, None) => {}
        }
        // RFC 8707 §2.2: the token request may repeat the authorization request's resource, not change it.
        let resource = super::resource::for_grant(params, client, grant.resource.as_deref())?;
        let ttl = self.access_ttl(client);
        let jti = new_jti();
        let refresh = if client.allows_grant(GrantType::RefreshToken) {
            let session_end = match grant.session_expires_at {
                Some(end) => end,
                None => self.sessions.session(&grant.sid).await?.map(|s| s.expires_at).unwrap_or(now),
            };
            Some(self.first_refresh_token(
                code_family_id(code),
                client,
                Some(grant.user_id.clone()),
                Some((grant.sid.as_str(), session_end)),
                &grant.scope,
                resource.clone(),
                Some(grant.auth_time),
                (jti.as_str(), now + ttl),
                now,
            ))
        } else {
            None
        };
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: Some(grant.user_id.clone()),
            scope: grant.scope.clone(),
            audience: self.audience(resource.as_deref()),
            auth_time: Some(grant.auth_time),
            sid: Some(grant.sid.clone()),
            ttl,
        };
        let id = grant.scope.contains(Scope::OPENID).then(|| IdTokenExtras {
            nonce: grant.nonce.clone(),
            amr: grant.amr.clone(),
            ttl: self.tokens.id_token_ttl,
        });
        // What a replay must revoke is recorded before the tokens leave, so that a replay racing this request
        // can still revoke them: the refresh token family (its first row links the access token) is stored
        // under an id derived from the code; without one, the access token is recorded in the cache.
        let recording = async {
            if refresh.is_some() {
                return Ok(());
            }
            let redemption = serde_json::to_vec(&CodeRedemption { jti: jti.clone(), expires_at: now + ttl })
                .map_err(OAuthError::server)?;
            let used_key = cache_keys::code_used(hash.as_str());
            self.cache.set(&used_key, &redemption, Duration::from_secs(ttl.max(1) as u64)).await?;
            Ok::<_, OAuthError>(())
        };
        // The user may have been disabled, or the session logged out of, since the code was issued.
        let storing =
            self.refresh_tokens.redeem_code_grant(&grant.user_id, &grant.sid, refresh.as_ref().map(|(_, r)| r), now);
        // The three are independent: the signatures are made while the cache and the database answer, and
        // tokens of a grant found ended are dropped unseen.
        let (recorded, standing, minted) = tokio::join!(recording, storing, self.mint(&access, id, jti.clone(), now));
        recorded?;
        match standing? {
            CodeGrantStanding::Live => {}
            CodeGrantStanding::UserCannotSignIn => {
                return Err(OAuthError::invalid_grant("the user can no longer sign in"))
            }
            CodeGrantStanding::SessionEnded => {
                return Err(OAuthError::invalid_grant("the session the code was issued in has ended"))
            }
        }
        let minted = minted?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: "Bearer".into(),
            expires_in: ttl,
            scope: scope_string(&grant.scope),
            id_token: minted.id_token,
            refresh_token: refresh.map(|(token, _)| token.expose().to_owned()),
        })
    }

    /// The answer to an unknown code; when it is one that was already redeemed, what its first use issued
    /// is revoked first.
    async fn replayed_or_unknown(
        &self,
        code: &str,
        code_hash: &str,
        client: &Client,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> OAuthError {
        match self.first_redemption(code, code_hash).await {
            Ok(Some(redeemed)) => {
                let family_id = match redeemed {
                    Redeemed::AccessToken(r) => {
                        self.revoke_access_tokens(&[(r.jti, r.expires_at)], now).await;
                        None
                    }
                    Redeemed::Family(family_id) => {
                        match self.refresh_tokens.revoke_family(&family_id, now).await {
                            Ok(issued) => self.revoke_access_tokens(&issued, now).await,
                            Err(e) => {
                                tracing::error!(error = %e, "could not revoke the refresh tokens of a replayed code")
                            }
                        }
                        Some(family_id)
                    }
                };
                let facts = EventFacts {
                    actor: Some(client.id.as_str().to_owned()),
                    client_id: Some(client.id.as_str().to_owned()),
                    details: serde_json::json!({ "family_id": family_id }),
                    ..EventFacts::default()
                };
                self.audit("code_replay", facts, meta, now).await;
                OAuthError::invalid_grant("the authorization code was already used")
            }
            Ok(None) => OAuthError::invalid_grant("invalid or expired authorization code"),
            Err(e) => e,
        }
    }

    /// What the first redemption of `code` issued, if it was redeemed: the access token recorded in the cache,
    /// or the refresh token family stored under the id derived from the code.
    async fn first_redemption(&self, code: &str, code_hash: &str) -> Result<Option<Redeemed>, OAuthError> {
        if let Some(bytes) = self.cache.get(&cache_keys::code_used(code_hash)).await? {
            return Ok(serde_json::from_slice(&bytes).ok().map(Redeemed::AccessToken));
        }
        let family_id = code_family_id(code);
        Ok(self.refresh_tokens.refresh_family_exists(&family_id).await?.then_some(Redeemed::Family(family_id)))
    }
}

/// What a code's first redemption issued, as a replay finds it.
enum Redeemed {
    AccessToken(CodeRedemption),
    Family(String),
}
