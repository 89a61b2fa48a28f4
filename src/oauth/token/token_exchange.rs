//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a service that received a user's
//! access token exchanges it for one to call another service on that user's behalf.
//!
//! - Only a confidential client the operator allowed the grant (a stranger cannot register it).
//! - The `subject_token` is one of our access tokens, live as introspection finds it (signature, issuer,
//!   expiry, revocation, client and user standing, session), that names a user and that was meant for the
//!   requester: issued to it, or addressed to it (`aud` its id or one of the resources registered for it,
//!   the requester being taken to serve those). A client's own token (client credentials) is refused: a
//!   client acting for itself asks for a token of its own. The `actor_token`, when given, passes the same
//!   checks but may be a client's own token.
//! - One target (`resource` or `audience`, RFC 8707 §2 / RFC 8693 §2.1), among the requester's registered
//!   resources; none gives the default audience, as client credentials does.
//! - The scope narrows: within the subject token's and the requester's; by default their intersection.
//! - The new token says who acts (`act`, RFC 8693 §4.1): the actor token's subject, else the requester, with
//!   the subject token's own `act` nested inside, so the whole chain is visible. It keeps the subject token's
//!   session (`sid`): ending that session ends it too. It lives no longer than the subject token, and no
//!   refresh token comes with it.
use super::{resource, scope_string, TokenResponse};
use crate::domain::{Client, Scope, UnixTime};
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::dpop::Jkt;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant};
use crate::oauth::verified::LiveToken;
use serde_json::{json, Map, Value};

/// RFC 8693 §3: an access token of this server.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3: a JWT; our access tokens are JWTs, so it may be asked for and gets the same.
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description)
}

impl Provider {
    pub(super) async fn token_exchange_grant(
        &self,
        client: &Client,
        params: &Params,
        dpop: Option<&Jkt>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "public clients cannot exchange tokens"));
        }
        check_requested_type(params.get("requested_token_type"))?;
        let (subject, user) = self.presented_token(params, Presented::Subject, client, now).await?;
        let user = user.ok_or_else(|| {
            invalid_request("the subject_token names no user: a client acting for itself uses client_credentials")
        })?;
        let actor = match params.get("actor_token") {
            Some(_) => Some(self.presented_token(params, Presented::Actor, client, now).await?.0),
            None if params.get("actor_token_type").is_some() => {
                return Err(invalid_request("actor_token_type without actor_token"))
            }
            None => None,
        };
        let target = target(params, client)?;
        let scope = exchanged_scope(params.get("scope"), &subject.scope, &client.scope)?;
        let actor_sub = actor.as_ref().map_or(client.id.as_str(), |a| a.sub.as_str());
        let act = act_claim(actor_sub, subject.claims.get("act"));
        let claim_str = |k: &str| subject.claims.get(k).and_then(Value::as_str).map(str::to_owned);
        // The memberships of now, not those the subject token carries.
        let groups = self.groups_claim(&user.id, &scope, None).await?.access;
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: Some(user.id),
            scope,
            audience: self.audience(target.as_deref()),
            auth_time: subject.claims.get("auth_time").and_then(Value::as_i64),
            sid: claim_str("sid"),
            // A token no longer-lived than the one it stands for: the exchange cannot extend a user's access.
            ttl: self.access_ttl(client).min(subject.exp - now),
            act: Some(act),
            jkt: dpop.cloned(),
            sector: client.sector(),
            userinfo_claims: Default::default(),
            groups,
        };
        let minted = self.mint(&access, None, new_jti(), now).await?;
        let facts = EventFacts {
            actor: Some(actor_sub.to_owned()),
            user_id: access.user_id.as_ref().map(|u| u.as_str().to_owned()),
            client_id: Some(client.id.as_str().to_owned()),
            details: json!({
                "subject_client_id": subject.client_id,
                "audience": access.audience,
                "scope": access.scope.to_string(),
                "jti": minted.jti,
            }),
        };
        self.audit("token_exchanged", facts, meta, now).await;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: access.token_type().into(),
            expires_in: access.ttl,
            scope: scope_string(&access.scope),
            id_token: None,
            refresh_token: None,
            issued_token_type: Some(ACCESS_TOKEN_TYPE.into()),
        })
    }

    /// The subject or actor token of the request, live and meant for `client`. RFC 8693 §2.2.2: a token
    /// that is invalid or unacceptable is `invalid_request`.
    async fn presented_token(
        &self,
        params: &Params,
        which: Presented,
        client: &Client,
        now: UnixTime,
    ) -> Result<LiveToken, OAuthError> {
        let (name, type_name) = which.names();
        let token = params.require(name)?;
        check_presented_type(type_name, params.get(type_name))?;
        let live = self.live_access_token(token, now).await.map_err(|e| match e.code {
            ErrorCode::InvalidToken => invalid_request(format!("{name}: {}", e.description)),
            _ => e,
        })?;
        if !meant_for(&live.0.claims, client) {
            return Err(invalid_request(format!("{name} was not issued to this client nor addressed to it")));
        }
        Ok(live)
    }
}

/// Which presented token.
#[derive(Clone, Copy)]
enum Presented {
    Subject,
    Actor,
}

impl Presented {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Subject => ("subject_token", "subject_token_type"),
            Self::Actor => ("actor_token", "actor_token_type"),
        }
    }
}

/// A presented token's type (required, RFC 8693 §2.1): only our access tokens can be checked here.
fn check_presented_type(name: &str, value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        Some(ACCESS_TOKEN_TYPE) => Ok(()),
        Some(other) => Err(invalid_request(format!(
            "{name} {:?} is not supported: only {ACCESS_TOKEN_TYPE} (an access token of this server)",
            other.chars().take(100).collect::<String>()
        ))),
        None => Err(invalid_request(format!("missing parameter {name}"))),
    }
}

/// `requested_token_type`, when given: an access token, which is a JWT here.
fn check_requested_type(value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        None | Some(ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE) => Ok(()),
        Some(other) => Err(invalid_request(format!(
            "requested_token_type {:?} is not supported: only {ACCESS_TOKEN_TYPE}",
            other.chars().take(100).collect::<String>()
        ))),
    }
}

/// Whether a token with `claims` was meant for `client`: issued to it, or addressed to it (its id, or a
/// resource registered for it, is among the `aud` values).
fn meant_for(claims: &Map<String, Value>, client: &Client) -> bool {
    if claims.get("client_id").and_then(Value::as_str) == Some(client.id.as_str()) {
        return true;
    }
    let names_client =
        |aud: &Value| aud.as_str().is_some_and(|a| a == client.id.as_str() || client.resources.iter().any(|r| r == a));
    claims.get("aud").is_some_and(|a| names_client(a) || a.as_array().is_some_and(|all| all.iter().any(names_client)))
}

/// The one target of the exchange: `resource` or `audience` (the same list, the client's registered resources);
/// both may be given only when they name the same one.
fn target(params: &Params, client: &Client) -> Result<Option<String>, OAuthError> {
    let resource = resource::requested(params, client)?;
    if params.names_several_audiences() {
        return Err(OAuthError::new(ErrorCode::InvalidTarget, "one audience per request"));
    }
    let Some(audience) = params.get("audience") else { return Ok(resource) };
    if !client.resources.iter().any(|r| r == audience) {
        return Err(OAuthError::new(ErrorCode::InvalidTarget, "this client may not request that audience"));
    }
    match resource {
        Some(r) if r != audience => {
            Err(OAuthError::new(ErrorCode::InvalidTarget, "resource and audience name two targets: one per request"))
        }
        _ => Ok(Some(audience.to_owned())),
    }
}

/// The scope of the new token: what is asked, within both the subject token's and the client's scope; by
/// default all that both have.
fn exchanged_scope(requested: Option<&str>, subject: &Scope, client: &Scope) -> Result<Scope, OAuthError> {
    let allowed = subject.intersection(client);
    let Some(requested) = requested else { return Ok(allowed) };
    let scope = Scope::parse(requested).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
    if !scope.is_subset_of(&allowed) {
        let extra: Vec<&str> = scope.iter().filter(|s| !allowed.contains(s)).collect();
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope beyond the subject_token's or this client's: {}", extra.join(" ")),
        ));
    }
    Ok(scope)
}

/// `act` for the new token: the current actor, with the chain the subject token carried nested inside.
fn act_claim(actor_sub: &str, prior: Option<&Value>) -> Value {
    let mut act = json!({ "sub": actor_sub });
    if let Some(prior) = prior.filter(|p| p.is_object()) {
        act["act"] = prior.clone();
    }
    act
}

#[cfg(test)]
mod tests;
