//! The UserInfo endpoint (OIDC Core §5.3) and the validation of access tokens presented to us.
use super::claims::add_user_claims;
use super::dpop::Presentation;
use super::error::{ErrorCode, OAuthError};
use super::params::MAX_TOKEN_LEN;
use super::provider::Provider;
use super::subject::SEALED_USER_CLAIM;
use super::tokens::{ACCESS_TOKEN_TYP, USERINFO_CLAIMS};
use super::verified::LiveToken;
use crate::domain::secret::SecretHash;
use crate::domain::{ClaimNames, ClientId, GroupName, Scope, UnixTime, User, UserId};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A verified access token.
#[derive(Debug, Clone)]
pub struct AccessTokenClaims {
    /// `sub`.
    pub sub: String,
    /// `client_id`.
    pub client_id: String,
    /// `scope`.
    pub scope: Scope,
    /// `jti`.
    pub jti: String,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp`.
    pub exp: UnixTime,
    /// All claims as sent.
    pub claims: Map<String, Value>,
}

impl AccessTokenClaims {
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6.1), if it is.
    pub fn bound_key(&self) -> Option<&str> {
        self.claims.get("cnf").and_then(|c| c.get("jkt")).and_then(Value::as_str)
    }

    /// The session (`sid`) the token ends with, as the refresh tokens of its grant do: none for
    /// `offline_access`, which is meant to outlive the session.
    fn bound_session(&self) -> Option<&str> {
        self.claims.get("sid").and_then(Value::as_str).filter(|_| !self.scope.contains(Scope::OFFLINE_ACCESS))
    }
}

fn invalid(d: &str) -> OAuthError {
    OAuthError::invalid_token(d)
}

impl Provider {
    /// Checks what an access token says of itself: our signature (RS256, known `kid`), `typ: at+jwt` (an ID
    /// token is not an access token), our `iss`, `exp`, and `iat` with the leeway. Whether it was revoked is
    /// [`Provider::live_access_token`]'s question.
    fn access_token_claims(&self, token: &str, now: UnixTime) -> Result<AccessTokenClaims, OAuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("the access token is too large"));
        }
        let snapshot = self.keys.snapshot();
        let (payload, header) = snapshot.verify(token).map_err(|_| invalid("the access token is invalid"))?;
        if header.token_type() != Some(ACCESS_TOKEN_TYP) {
            return Err(invalid("not an access token"));
        }
        let c = payload.claims_set().clone();
        let str_claim = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        if str_claim("iss").as_deref() != Some(self.issuer.as_str()) {
            return Err(invalid("the access token was issued by someone else"));
        }
        let (exp, iat) = self.check_lifetime(&c, now)?;
        // What no instance of this server could have signed: a token longer-lived than any client may get,
        // or one a key signed after it stopped signing (after `keys rotate --now` for a compromised key, its
        // holder could otherwise mint tokens until the key leaves the ring). Other instances pick a rotation
        // up within a ring refresh, their clocks within the leeway.
        if exp - iat > self.tokens.max_access_token_ttl {
            return Err(invalid("the access token lives longer than this server issues them"));
        }
        let retired_at = header.key_id().and_then(|kid| snapshot.retired_at(kid));
        if retired_at.is_some_and(|at| iat > at.saturating_add(self.key_refresh).saturating_add(self.leeway)) {
            return Err(invalid("the access token was signed by a key after it was retired"));
        }
        Ok(AccessTokenClaims {
            sub: str_claim("sub").ok_or_else(|| invalid("the access token has no sub"))?,
            client_id: str_claim("client_id").ok_or_else(|| invalid("the access token has no client_id"))?,
            scope: Scope::parse(&str_claim("scope").unwrap_or_default()).map_err(|_| invalid("bad scope"))?,
            jti: str_claim("jti").ok_or_else(|| invalid("the access token has no jti"))?,
            iat,
            exp,
            claims: c,
        })
    }

    /// `exp` against `now`, and `iat` and `nbf` with the leeway; returns `(exp, iat)`. `exp` gets no leeway:
    /// this server set it, and revocations are kept (denylist, `revocations` rows) only until `exp`, so a
    /// token honoured past it could come back to life once its revocation is purged (RFC 7009 §2.1).
    fn check_lifetime(&self, c: &Map<String, Value>, now: UnixTime) -> Result<(UnixTime, UnixTime), OAuthError> {
        let int_claim = |k: &str| c.get(k).and_then(Value::as_i64);
        let exp = int_claim("exp").ok_or_else(|| invalid("the access token has no exp"))?;
        let iat = int_claim("iat").ok_or_else(|| invalid("the access token has no iat"))?;
        if now >= exp {
            return Err(invalid("the access token has expired"));
        }
        if iat > now + self.leeway || int_claim("nbf").is_some_and(|nbf| nbf > now + self.leeway) {
            return Err(invalid("the access token is not valid yet"));
        }
        Ok((exp, iat))
    }

    /// [`Provider::access_token_claims`], plus what SQL says now: the client and the user (for user tokens)
    /// still exist, are not disabled, and were not "revoked everywhere" after the token was issued. A token
    /// found live before is answered from [`VerifiedTokens`] while no revocation happened since.
    pub async fn live_access_token(&self, token: &str, now: UnixTime) -> Result<LiveToken, OAuthError> {
        let key = SecretHash::of(token);
        let ring_version = self.keys.snapshot().version();
        let epoch = self.revocation_epoch.current().await;
        if let Some(live) = epoch.as_ref().and_then(|e| self.verified_tokens.get(&key, e, ring_version)) {
            self.check_lifetime(&live.0.claims, now)?;
            return Ok((*live).clone());
        }
        let live = match self.live_access_token_from_store(token, now).await {
            // Signed by a key another instance has just added (`keys rotate --now`) and this one not loaded yet.
            Err(e)
                if self.keys.snapshot().unknown_kid(token).is_some()
                    && self.keys.refresh_for_unknown_kid(now).await =>
            {
                tracing::debug!(error = %e, "the key ring changed; checking the token again");
                self.live_access_token_from_store(token, now).await?
            }
            other => other?,
        };
        if let Some(epoch) = epoch {
            self.verified_tokens.insert(key, epoch, ring_version, Arc::new(live.clone()));
        }
        Ok(live)
    }

    async fn live_access_token_from_store(&self, token: &str, now: UnixTime) -> Result<LiveToken, OAuthError> {
        let at = self.access_token_claims(token, now)?;
        if self.is_denylisted(&at.jti).await {
            return Err(invalid("the access token was revoked"));
        }
        let client_id = ClientId::parse(at.client_id.clone()).map_err(|_| invalid("the access token has no client"))?;
        // Client-credentials tokens name the client as their subject; every other token names a user, a
        // pairwise client's by a subject of its own, with the user sealed beside it.
        let user_id = match at.claims.get(SEALED_USER_CLAIM).and_then(Value::as_str) {
            Some(sealed) => Some(
                self.subjects.open_user(sealed, &client_id).ok_or_else(|| invalid("the access token has no user"))?,
            ),
            None if at.sub == at.client_id => None,
            None => Some(UserId::parse(at.sub.clone()).map_err(|_| invalid("the access token has no user"))?),
        };
        let session = at.bound_session().map(|sid| (sid, now));
        let standing = self.revocations.access_token_standing(&at.jti, &client_id, user_id.as_ref(), session).await?;
        if standing.revoked {
            return Err(invalid("the access token was revoked"));
        }
        if !standing.session_live {
            return Err(invalid("the session the access token was issued in has ended"));
        }
        if standing.grant_revoked_before.is_some_and(|t| at.iat <= t) {
            return Err(invalid("the user has withdrawn this client's access"));
        }
        let client = standing.client.ok_or_else(|| invalid("the client no longer exists"))?;
        if client.revoked_before.is_some_and(|t| at.iat <= t) {
            return Err(invalid("the access token was revoked"));
        }
        // Issued to an earlier client of the same id (`clients add --client-id` after `clients remove`).
        if at.iat < client.created_at {
            return Err(invalid("the access token was issued to a client since removed"));
        }
        if user_id.is_none() {
            return Ok((at, None));
        }
        let user = standing
            .user
            .filter(|u| !u.disabled && u.revoked_before.is_none_or(|t| at.iat > t))
            .ok_or_else(|| invalid("the access token was revoked"))?;
        Ok((at, Some(user)))
    }

    /// RFC 9068 §4: a token for a named resource is that resource's alone. Only tokens for no named resource
    /// (the issuer, or the configured default audience) are for this server's own APIs (UserInfo, admin).
    pub(crate) fn is_for_this_server(&self, at: &AccessTokenClaims) -> bool {
        let for_us = |aud: &Value| {
            aud.as_str().is_some_and(|a| a == self.issuer || self.tokens.default_audience.as_deref() == Some(a))
        };
        at.claims.get("aud").is_some_and(|a| for_us(a) || a.as_array().is_some_and(|all| all.iter().any(for_us)))
    }

    /// Whether `at` (the token `token`) may be used as it was presented (RFC 9449 §7): a bound token only with
    /// the `DPoP` scheme and a proof of its key for this request, and the `DPoP` scheme only with a bound token.
    pub async fn check_presentation(
        &self,
        token: &str,
        at: &AccessTokenClaims,
        presented: Presentation<'_>,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        match (presented, at.bound_key()) {
            (Presentation::Bearer, None) => Ok(()),
            (Presentation::Bearer, Some(_)) => {
                Err(invalid("the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof"))
            }
            (Presentation::Dpop { .. }, None) => Err(invalid("the access token is not DPoP-bound: use Bearer")),
            (Presentation::Dpop { proof: None, .. }, Some(_)) => {
                Err(OAuthError::new(ErrorCode::InvalidDpopProof, "a DPoP proof must come with the access token"))
            }
            (Presentation::Dpop { proof: Some(proof), method, path }, Some(bound)) => {
                let jkt = self.check_dpop_proof(proof, method, path, Some(token), now).await?;
                if jkt.as_str() != bound {
                    return Err(invalid("the DPoP proof's key is not the one the access token is bound to"));
                }
                Ok(())
            }
        }
    }

    /// The claims UserInfo returns for a verified access token, presented as `presented` says.
    pub async fn userinfo(&self, token: &str, presented: Presentation<'_>, now: UnixTime) -> Result<Value, OAuthError> {
        let (at, user) = self.live_access_token(token, now).await?;
        self.check_presentation(token, &at, presented, now).await?;
        if !self.is_for_this_server(&at) {
            return Err(invalid("the access token is for another resource"));
        }
        if !at.scope.contains(Scope::OPENID) {
            return Err(OAuthError::new(ErrorCode::InsufficientScope, "the access token lacks the openid scope"));
        }
        let user = user.ok_or_else(|| OAuthError::new(ErrorCode::InsufficientScope, "the access token has no user"))?;
        let named = at.claims.get(USERINFO_CLAIMS).and_then(Value::as_str).unwrap_or_default();
        let named = ClaimNames::parse(named).map_err(|_| invalid("bad userinfo_claims"))?;
        let groups = self.userinfo_groups(&user.id, &at.scope, &named).await?;
        // The token's `sub` is the one its client sees (OIDC Core §5.3.2: the same as in the ID token).
        Ok(user_claims(&at.sub, &user, &at.scope, &named, groups.as_ref()))
    }
}

/// Claims by scope (OIDC Core §5.4), and those asked for by name with the `claims` parameter (§5.5), for a client
/// that knows the user as `sub`; `groups` when they are released.
pub fn user_claims(
    sub: &str,
    user: &User,
    scope: &Scope,
    named: &ClaimNames,
    groups: Option<&Vec<GroupName>>,
) -> Value {
    let mut m = Map::new();
    m.insert("sub".into(), json!(sub));
    add_user_claims(&mut m, user, |s| scope.contains(s), named);
    super::groups::insert_groups(&mut m, groups);
    Value::Object(m)
}
