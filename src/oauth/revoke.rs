//! Taking tokens back. Access tokens are revoked by `jti`: SQL is the record (it survives a cache restart),
//! the cache denylist makes the check cheap and reaches every instance at once. Refresh tokens are revoked
//! by family, with the access tokens issued alongside them.
use super::audit::{EventFacts, RequestMeta};
use super::cache_keys;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::params::MAX_TOKEN_LEN;
use super::provider::Provider;
use super::subject::SEALED_USER_CLAIM;
use super::tokens::ACCESS_TOKEN_TYP;
use crate::domain::secret::SecretHash;
use crate::domain::{Client, ClientId, UnixTime, UserId};
use crate::storage::StoreError;
use serde_json::{json, Value};
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

    /// Revokes the unexpired access tokens in `issued`; failures are logged (the refresh side is already
    /// revoked and the tokens expire soon).
    pub async fn revoke_access_tokens(&self, issued: &[(String, UnixTime)], now: UnixTime) {
        for (jti, exp) in issued.iter().filter(|(_, exp)| *exp > now) {
            if let Err(e) = self.revoke_access_token(jti, *exp, now).await {
                tracing::error!(error = ?e, "could not revoke an access token");
            }
        }
    }

    /// Whether the cache's denylist has `jti`: a fast "revoked". A miss proves nothing (the cache may have
    /// lost its data or be down): SQL has the last word.
    pub async fn is_denylisted(&self, jti: &str) -> bool {
        matches!(self.cache.get(&cache_keys::denied_jti(jti)).await, Ok(Some(_)))
    }

    /// `POST /revoke` (RFC 7009) for an authenticated `client`. A refresh token revokes its family; an access
    /// token its `jti`. Unknown tokens are answered with success (§2.2); a token of another client is refused
    /// and left alone (§2.1). `token_type_hint` only orders the lookups.
    pub async fn revoke_request(
        &self,
        client: &Client,
        params: &Params,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let token = params.require("token")?;
        if token.len() > MAX_TOKEN_LEN {
            return Ok(());
        }
        let access_first = params.get("token_type_hint") == Some("access_token");
        if access_first {
            if self.revoke_if_access_token(client, token, meta, now).await? {
                return Ok(());
            }
            self.revoke_if_refresh_token(client, token, meta, now).await?;
        } else if !self.revoke_if_refresh_token(client, token, meta, now).await? {
            self.revoke_if_access_token(client, token, meta, now).await?;
        }
        Ok(())
    }

    async fn revoke_if_refresh_token(
        &self,
        client: &Client,
        token: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<bool, OAuthError> {
        if token.len() > 128 {
            return Ok(false);
        }
        let Some(rt) = self.refresh_tokens.refresh_token_by_hash(SecretHash::of(token).as_str()).await? else {
            return Ok(false);
        };
        if rt.client_id != client.id {
            return Err(issued_to_another_client());
        }
        let issued = self.refresh_tokens.revoke_family(&rt.family_id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        let facts = EventFacts {
            actor: Some(client.id.as_str().to_owned()),
            user_id: rt.user_id.as_ref().map(|u| u.as_str().to_owned()),
            client_id: Some(client.id.as_str().to_owned()),
            details: json!({ "token_type": "refresh_token", "family_id": rt.family_id }),
        };
        self.audit("token_revoked", facts, meta, now).await;
        Ok(true)
    }

    async fn revoke_if_access_token(
        &self,
        client: &Client,
        token: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<bool, OAuthError> {
        // Revocation accepts expired tokens too: only our signature and the owner matter.
        let Ok((payload, header)) = self.keys.snapshot().verify(token) else { return Ok(false) };
        if header.token_type() != Some(ACCESS_TOKEN_TYP) {
            return Ok(false);
        }
        let claims = payload.claims_set();
        if claims.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Err(issued_to_another_client());
        }
        let (Some(jti), Some(exp)) =
            (claims.get("jti").and_then(Value::as_str), claims.get("exp").and_then(Value::as_i64))
        else {
            return Ok(true);
        };
        if exp > now {
            self.revoke_access_token(jti, exp, now).await?;
        }
        let facts = EventFacts {
            actor: Some(client.id.as_str().to_owned()),
            // The audit trail names users by their own id, not by a pairwise client's subject.
            user_id: match claims.get(SEALED_USER_CLAIM).and_then(Value::as_str) {
                Some(sealed) => self.subjects.open_user(sealed, &client.id).map(|u| u.as_str().to_owned()),
                None => claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            },
            client_id: Some(client.id.as_str().to_owned()),
            details: json!({ "token_type": "access_token", "jti": jti }),
        };
        self.audit("token_revoked", facts, meta, now).await;
        Ok(true)
    }

    /// Deletes a user (the admin API's `DELETE` and `tessera users remove`): ends their sessions and revokes
    /// their refresh tokens and the live access tokens issued with them, then deletes the row, which takes their
    /// sessions, consents and refresh tokens with it. Returns the sessions ended, or `StoreError::NotFound`.
    pub async fn delete_user(&self, user_id: &UserId, now: UnixTime) -> Result<u64, StoreError> {
        let notices = self.user_logout_notices(user_id, now).await;
        let sessions = self.sessions.revoke_user_sessions(user_id).await?;
        let issued = self.refresh_tokens.revoke_user_refresh_tokens(user_id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        self.users.delete_user(user_id).await?;
        self.send_logout_notices(notices).await;
        Ok(sessions)
    }

    /// Signs a user out everywhere: ends every session, revokes every refresh family, and invalidates every
    /// access token issued before now (a per-user revoked-before time, so nothing needs listing). Returns once
    /// the second of that cut-off is over, so what is issued afterwards lives.
    pub async fn revoke_user(&self, user_id: &UserId, meta: &RequestMeta, now: UnixTime) -> Result<u64, OAuthError> {
        self.revoke_user_by("cli", user_id, meta, now).await
    }

    /// [`Provider::revoke_user`] on behalf of `actor` (recorded in the audit trail).
    pub async fn revoke_user_by(
        &self,
        actor: &str,
        user_id: &UserId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<u64, OAuthError> {
        self.users.set_user_revoked_before(user_id, now).await?;
        let notices = self.user_logout_notices(user_id, now).await;
        let sessions = self.sessions.revoke_user_sessions(user_id).await?;
        // Access tokens issued up to now are ended by the cut-off; only those of a refresh racing this one are
        // revoked one by one (there could be tens of thousands of the others).
        let issued = self.refresh_tokens.revoke_user_refresh_tokens(user_id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        self.send_logout_notices(notices).await;
        let facts = EventFacts {
            actor: Some(actor.to_owned()),
            user_id: Some(user_id.as_str().to_owned()),
            details: json!({ "sessions": sessions }),
            ..EventFacts::default()
        };
        self.audit("user_tokens_revoked", facts, meta, now).await;
        hold_cut_off(now, |at| async move { Ok(self.users.set_user_revoked_before(user_id, at).await?) }).await?;
        Ok(sessions)
    }

    /// Revokes everything issued to a client before now; returns, like [`Provider::revoke_user`], once the
    /// second of that cut-off is over.
    pub async fn revoke_client(
        &self,
        client_id: &ClientId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        self.revoke_client_by("cli", client_id, meta, now).await
    }

    /// [`Provider::revoke_client`] on behalf of `actor` (recorded in the audit trail).
    pub async fn revoke_client_by(
        &self,
        actor: &str,
        client_id: &ClientId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        // Only the cut-off is written, not the whole row: an edit racing this one cannot put the old one back.
        let record = |at| async move {
            self.clients.set_client_revoked_before(client_id, at).await.map_err(|e| match e {
                StoreError::NotFound => OAuthError::invalid_request("no such client"),
                other => other.into(),
            })
        };
        record(now).await?;
        // As for users: the cut-off ends what was issued up to now.
        let issued = self.refresh_tokens.revoke_client_refresh_tokens(client_id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        let facts = EventFacts {
            actor: Some(actor.to_owned()),
            client_id: Some(client_id.as_str().to_owned()),
            ..EventFacts::default()
        };
        self.audit("client_tokens_revoked", facts, meta, now).await;
        hold_cut_off(now, record).await
    }
}

/// Holds a cut-off recorded at `cut_off` (a time read before it was committed) until the revocation returns.
/// A request that read the standing just before the commit issues its token at the second the clock showed
/// then, which may be past `cut_off`: so while the clock shows a later second after a commit, the cut-off is
/// recorded again (`record`) at that second. Then the last one is outlasted ([`outlast_second`]).
pub(super) async fn hold_cut_off<F, Fut>(cut_off: UnixTime, mut record: F) -> Result<(), OAuthError>
where
    F: FnMut(UnixTime) -> Fut,
    Fut: std::future::Future<Output = Result<(), OAuthError>>,
{
    let mut held = cut_off;
    loop {
        let now = crate::domain::now();
        if now <= held {
            break;
        }
        record(now).await?;
        held = now;
    }
    outlast_second(held).await;
    Ok(())
}

/// Times are whole seconds and a cut-off ends what was issued in its own second too, so a revocation returns
/// only once that second is over: whatever is issued after it returns carries a later time and lives. The wait
/// is at most a second (a `now` ahead of the clock must not stall the caller longer).
async fn outlast_second(cut_off: UnixTime) {
    let left_ms = ((cut_off + 1) * 1000 - crate::domain::now_millis()).clamp(0, 1000);
    tokio::time::sleep(Duration::from_millis(left_ms as u64)).await;
}

/// RFC 7009 §2.1: the request is refused, and the client told, when the token is not its own.
fn issued_to_another_client() -> OAuthError {
    OAuthError::new(ErrorCode::UnauthorizedClient, "the token was issued to another client")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_cut_off_the_clock_has_passed_is_recorded_again_and_outlasted() {
        let recorded = Mutex::new(Vec::new());
        let stale = crate::domain::now() - 3;
        hold_cut_off(stale, |at| {
            recorded.lock().unwrap().push(at);
            async { Ok(()) }
        })
        .await
        .unwrap();
        let returned_at = crate::domain::now();
        let recorded = recorded.into_inner().unwrap();
        let last = *recorded.last().expect("recorded again");
        assert!(last > stale, "{recorded:?}");
        assert!(returned_at > last, "returns once the second of the last cut-off is over");
    }

    #[tokio::test]
    async fn a_cut_off_ahead_of_the_clock_is_not_recorded_again() {
        let ahead = crate::domain::now() + 5;
        hold_cut_off(ahead, |_| async { Err(OAuthError::invalid_request("recorded again")) }).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_record_is_the_answer() {
        let stale = crate::domain::now() - 3;
        let e = hold_cut_off(stale, |_| async { Err(OAuthError::invalid_request("no such client")) }).await;
        assert_eq!(e.unwrap_err().description, "no such client");
    }
}
