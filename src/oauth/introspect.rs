//! Token introspection (RFC 7662) for authenticated clients: anything not live is `{"active": false}`. Access
//! tokens are for any confidential client (the resource servers); a refresh token only for its own client,
//! which alone can use it: anyone else could test a stolen one without using it, out of reuse detection's sight.
use super::dpop::DPOP_SCHEME;
use super::error::OAuthError;
use super::params::Params;
use super::params::MAX_TOKEN_LEN;
use super::provider::Provider;
use super::subject::SEALED_USER_CLAIM;
use crate::domain::secret::SecretHash;
use crate::domain::{ClientId, UnixTime};
use serde_json::{json, Value};

fn inactive() -> Value {
    json!({ "active": false })
}

impl Provider {
    /// The introspection answer for `token`, asked by `caller` (`token_type_hint` only orders the lookups).
    pub async fn introspect(&self, caller: &ClientId, params: &Params, now: UnixTime) -> Result<Value, OAuthError> {
        let token = params.require("token")?;
        if token.len() > MAX_TOKEN_LEN {
            return Ok(inactive());
        }
        let refresh_first = params.get("token_type_hint") == Some("refresh_token");
        if refresh_first {
            if let Some(v) = self.introspect_refresh(caller, token, now).await? {
                return Ok(v);
            }
        }
        if token.matches('.').count() == 2 {
            return match self.live_access_token(token, now).await {
                Ok((at, user)) => {
                    let mut claims = at.claims.clone();
                    // A pairwise client's token: the sealed user is for this server, and the username would
                    // tell the resource server who is behind the pairwise subject.
                    let pairwise = claims.remove(SEALED_USER_CLAIM).is_some();
                    let mut v = Value::Object(claims);
                    v["active"] = json!(true);
                    // RFC 9449 §6.2: a bound token's `cnf` is among its claims, and its type is DPoP.
                    v["token_type"] = json!(if at.bound_key().is_some() { DPOP_SCHEME } else { "Bearer" });
                    if let Some(u) = user.filter(|_| !pairwise) {
                        v["username"] = json!(u.username.as_str());
                    }
                    Ok(v)
                }
                Err(e) if e.code == super::error::ErrorCode::InvalidToken => Ok(inactive()),
                Err(e) => Err(e),
            };
        }
        if !refresh_first {
            if let Some(v) = self.introspect_refresh(caller, token, now).await? {
                return Ok(v);
            }
        }
        Ok(inactive())
    }

    async fn introspect_refresh(
        &self,
        caller: &ClientId,
        token: &str,
        now: UnixTime,
    ) -> Result<Option<Value>, OAuthError> {
        if token.len() > 128 {
            return Ok(None);
        }
        let Some((rt, user)) =
            self.refresh_tokens.refresh_token_and_user_by_hash(SecretHash::of(token).as_str()).await?
        else {
            return Ok(None);
        };
        if rt.client_id != *caller {
            return Ok(Some(inactive()));
        }
        let mut live = !rt.revoked && rt.used_at.is_none() && now < rt.expires_at && now < rt.idle_expires_at;
        let mut client = None;
        if live {
            client = self.clients.client(&rt.client_id).await?;
            live = client.as_ref().is_some_and(|c| c.revoked_before.is_none_or(|t| rt.created_at > t));
        }
        let mut username = None;
        if live && rt.user_id.is_some() {
            live = user.as_ref().is_some_and(|u| !u.disabled && u.revoked_before.is_none_or(|t| rt.created_at > t));
            username = user.map(|u| u.username.as_str().to_owned());
        }
        if !live {
            return Ok(Some(inactive()));
        }
        // The caller is the token's client: it knows the user by the subject it sees.
        let sub = match (&rt.user_id, &client) {
            (Some(u), Some(c)) => self.subjects.for_client(c, u),
            (Some(u), None) => u.as_str().to_owned(),
            (None, _) => rt.client_id.as_str().to_owned(),
        };
        if client.as_ref().is_some_and(|c| c.sector().is_some()) {
            username = None;
        }
        let mut v = json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": rt.client_id.as_str(),
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience(rt.resource.as_deref()),
            "iat": rt.created_at,
            "exp": rt.expires_at.min(rt.idle_expires_at),
            "jti": rt.id,
        });
        if !rt.scope.is_empty() {
            v["scope"] = json!(rt.scope.to_string());
        }
        if let Some(name) = username {
            v["username"] = json!(name);
        }
        Ok(Some(v))
    }
}
