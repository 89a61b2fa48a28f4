//! `grant_type=refresh_token` (RFC 6749 §6) with rotation on every use and reuse detection: a rotated
//! token presented again revokes its whole family, unless it is the same client retrying within the grace
//! window, which gets the very same response again (DESIGN.md §4). A rotated token is kept for
//! `tokens.rotated_refresh_retention_seconds` (at least the grace window), then purged. Tokens name their family
//! ([`FamilySecret`]), so one presented after that still revokes its family while the family is live. Families
//! started before tokens named them rotate on in the earlier form, which names none: such a token presented
//! after its purge is an unknown token, refused without revoking its family.
use super::{scope_string, TokenResponse};
use crate::domain::refresh_family::FamilySecret;
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::{ClaimNames, Client, Scope, UnixTime, User};
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::claims::add_user_claims;
use crate::oauth::dpop::Jkt;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grace::IssuedRefresh;
use crate::oauth::groups::{insert_token_groups, GroupsClaim};
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant, IdTokenExtras};
use crate::storage::{RefreshTokenRecord, RevokedFamily, StoreError};
use serde_json::{json, Map, Value};

impl Provider {
    pub(super) async fn refresh_token_grant(
        &self,
        client: &Client,
        params: &Params,
        dpop: Option<&Jkt>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = params.require("refresh_token")?;
        let unknown = || OAuthError::invalid_grant("invalid refresh token");
        if presented.len() > 128 {
            return Err(unknown());
        }
        let hash = SecretHash::of(presented);
        let Some((rt, user)) = self.refresh_tokens.refresh_token_and_user_by_hash(hash.as_str()).await? else {
            return match FamilySecret::parse(presented) {
                Some(secret) => self.purged_refresh_presented(&secret, client, dpop, meta, now).await,
                None => Err(unknown()),
            };
        };
        // RFC 9449 §5: a bound token is good only with a proof of its key, whether it is then rotated, answered
        // within the grace window or found reused: a thief without the key can do none of these.
        if rt.dpop_jkt.as_ref().is_some_and(|bound| dpop != Some(bound)) {
            return Err(OAuthError::invalid_grant(
                "the refresh token is bound to a DPoP key this request does not prove",
            ));
        }
        if rt.revoked {
            let facts = self.refresh_facts(&rt, json!({ "family_id": rt.family_id }));
            self.audit("revoked_token_presented", facts, meta, now).await;
            return Err(OAuthError::invalid_grant("the refresh token was revoked"));
        }
        if let Some(used_at) = rt.used_at {
            return self.refresh_replay(&rt, user.as_ref(), (presented, dpop), client, used_at, meta, now).await;
        }
        if rt.client_id != client.id {
            return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
        }
        if now >= rt.expires_at || now >= rt.idle_expires_at {
            return Err(OAuthError::invalid_grant("the refresh token has expired"));
        }
        grant_stands(&rt, client, user.as_ref())?;
        let scope = match params.get("scope") {
            None => rt.scope.clone(),
            Some(s) => {
                let asked = Scope::parse(s).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
                if !asked.is_subset_of(&rt.scope) {
                    return Err(OAuthError::new(ErrorCode::InvalidScope, "a refresh cannot widen the scope"));
                }
                asked
            }
        };
        // What an operator took from the client since the grant is not given again, as Keycloak's client scopes
        // are evaluated anew at each refresh.
        let scope = scope.intersection(&client.scope);

        // RFC 8707 §2.2: a refresh may repeat the grant's resource, not switch to another.
        let resource = super::resource::for_grant(params, client, rt.resource.as_deref())?;
        // A family started before tokens named it goes on in the earlier form, which names none.
        let token = match FamilySecret::parse(presented).filter(|secret| secret.family_id() == rt.family_id) {
            Some(secret) => secret.issue_token(),
            None => PlainSecret::generate(),
        };
        let jti = new_jti();
        let ttl = self.access_ttl(client);
        let next = RefreshTokenRecord {
            id: new_row_id(),
            token_hash: token.hash().as_str().to_owned(),
            family_id: rt.family_id.clone(),
            parent_id: Some(rt.id.clone()),
            created_at: now,
            idle_expires_at: (now + self.tokens.refresh_idle).min(rt.expires_at),
            used_at: None,
            revoked: false,
            access_jti: Some(jti.clone()),
            access_expires_at: Some(now + ttl),
            // RFC 9449 §5: a public client's refresh token is bound to the key of a valid proof it presents, so a
            // grant begun without one is bound from its first refresh with one.
            dpop_jkt: rt.dpop_jkt.clone().or_else(|| Self::refresh_binding(client, dpop)),
            ..rt.clone()
        };
        let openid = scope.contains(Scope::OPENID) && rt.user_id.is_some();
        // Read again: a refresh carries the memberships of now.
        let groups = match &rt.user_id {
            Some(user_id) => self.groups_claim(user_id, &scope, openid.then_some(&rt.id_token_claims)).await?,
            None => GroupsClaim::default(),
        };
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: rt.user_id.clone(),
            scope: scope.clone(),
            audience: self.audience(resource.as_deref()),
            auth_time: rt.auth_time,
            // An offline grant outlives its session, so its tokens name none: they must not end with it.
            sid: rt.session_id.clone().filter(|_| !rt.offline),
            ttl,
            act: None,
            // A confidential client's refresh tokens are not bound, but each access token is to the key proved.
            jkt: dpop.cloned(),
            sector: client.sector(),
            userinfo_claims: rt.userinfo_claims.clone(),
            groups: groups.access,
        };
        // OIDC Core §12.2: the ID token says what the sign-in's said, but for the nonce (no request asked for this
        // one): the same user, `auth_time`, `amr` and `acr`, and the claims asked for by name, with the user's
        // values now (the user was read with the token: no query more; the groups were read above).
        let id = openid.then(|| {
            let mut user_claims = named_claims(user.as_ref(), &rt.id_token_claims);
            insert_token_groups(&mut user_claims, groups.id_token.as_ref(), &self.issuer);
            IdTokenExtras { nonce: None, amr: rt.amr.clone(), ttl: self.tokens.id_token_ttl, user_claims }
        });
        // The rotated row is kept for the retention only, then purged: a token presented after that is found
        // by the family it names (none, in the earlier form). Never before the access token issued with it
        // expires, which a revocation of the family must still find (`access_jti`).
        let keep_until = (now + self.tokens.rotated_refresh_retention).max(rt.access_expires_at.unwrap_or(now));
        // The rotation keeps what the tokens are signed from in the rotated row, for retries: the key that signs
        // is chosen first, so that the signatures are made while the rotation commits (both take about as long).
        // Tokens of a rotation that does not happen are dropped unseen.
        let key = self.signing_key(now)?;
        let issued = IssuedRefresh {
            refresh_token: token.expose().to_owned(),
            grant: access,
            jti,
            issued_at: now,
            id_token: id,
            kid: key.kid.clone(),
        };
        let grace_record = self.seal_refresh(presented, hash.as_str(), &issued)?;
        let (rotated, minted) = tokio::join!(
            self.refresh_tokens.rotate_refresh_token(&rt.id, &next, grace_record.as_deref(), now, keep_until),
            self.mint_with(key, &issued.grant, issued.id_token.clone(), issued.jti.clone(), now)
        );
        let rotated = rotated.map_err(|e| match e {
            // The client or user was removed while the token was being used (its rows go with them).
            StoreError::ReferenceGone(_) => {
                OAuthError::invalid_grant("the client or user of the refresh token is gone")
            }
            other => other.into(),
        });
        if !rotated? {
            // Another request rotated (or revoked) this token first.
            return match self.refresh_tokens.refresh_token_by_hash(hash.as_str()).await? {
                Some(r) if !r.revoked => {
                    let used_at = r.used_at.unwrap_or(now);
                    self.refresh_replay(&r, user.as_ref(), (presented, dpop), client, used_at, meta, now).await
                }
                _ => Err(OAuthError::invalid_grant("the refresh token was revoked")),
            };
        }

        let minted = minted?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: issued.grant.token_type().into(),
            expires_in: ttl,
            scope: scope_string(&scope),
            id_token: minted.id_token,
            refresh_token: Some(issued.refresh_token),
            issued_token_type: None,
        })
    }

    /// A used token presented again: the same client within the grace window, proving the same DPoP key (if
    /// any), gets the response it got before, while the grant still stands; anything else from that client
    /// within the window is refused, and the rest is reuse, which revokes the family. `user` is the token's user
    /// as read with it; `presented` the token and the key the request proves.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_replay(
        &self,
        rt: &RefreshTokenRecord,
        user: Option<&User>,
        (presented, dpop): (&str, Option<&Jkt>),
        client: &Client,
        used_at: UnixTime,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let grace = self.tokens.refresh_grace;
        if grace > 0 && rt.client_id == client.id && now - used_at <= grace {
            // The kept response's tokens died with the grant (the user disabled or signed out everywhere, the
            // client's tokens revoked since the first use): a retry must not be told it succeeded.
            grant_stands(rt, client, user)?;
            // Inside the window but nothing to answer with (rotated by an earlier release, or its key has left
            // the ring): refused without punishing what is most likely a legitimate retry.
            let already_used = || OAuthError::invalid_grant("the refresh token was already used; use the newest one");
            let Some(sealed) = &rt.grace_record else { return Err(already_used()) };
            return self.remembered_refresh_response(presented, &rt.token_hash, sealed, dpop, now).await.map_err(|e| {
                tracing::warn!(error = ?e, "a refresh retried within the grace window not answered again");
                already_used()
            });
        }
        let issued = self.refresh_tokens.revoke_family(&rt.family_id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        let facts = EventFacts {
            details: json!({ "family_id": rt.family_id, "presented_by": client.id.as_str(), "used_at": used_at }),
            ..self.refresh_facts(rt, serde_json::Value::Null)
        };
        self.audit("refresh_token_reuse", facts, meta, now).await;
        Err(OAuthError::invalid_grant("the refresh token was already used; the grant has been revoked"))
    }

    /// A token of the form that names its family, not stored: rotated and then purged, if its family is live.
    /// That is reuse, answered as [`Self::refresh_replay`] answers it (no grace window outlasts the row). Of a
    /// family that has ended, or whose tokens are bound to a DPoP key the request does not prove, it is just
    /// unknown, and revokes and records nothing.
    async fn purged_refresh_presented(
        &self,
        secret: &FamilySecret,
        client: &Client,
        dpop: Option<&Jkt>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let family_id = secret.family_id();
        let Some(RevokedFamily { client_id, user_id, issued }) =
            self.refresh_tokens.revoke_live_family(&family_id, dpop, now).await?
        else {
            return Err(OAuthError::invalid_grant("invalid refresh token"));
        };
        self.revoke_access_tokens(&issued, now).await;
        let facts = EventFacts {
            actor: Some(client_id.as_str().to_owned()),
            user_id: user_id.map(String::from),
            client_id: Some(client_id.as_str().to_owned()),
            details: json!({ "family_id": family_id, "presented_by": client.id.as_str(), "purged": true }),
        };
        self.audit("refresh_token_reuse", facts, meta, now).await;
        Err(OAuthError::invalid_grant("the refresh token was already used; the grant has been revoked"))
    }

    fn refresh_facts(&self, rt: &RefreshTokenRecord, details: serde_json::Value) -> EventFacts {
        EventFacts {
            actor: Some(rt.client_id.as_str().to_owned()),
            user_id: rt.user_id.as_ref().map(|u| u.as_str().to_owned()),
            client_id: Some(rt.client_id.as_str().to_owned()),
            details,
        }
    }

    /// The first refresh token of a new grant, of the family whose secret is `family`, bound to the session unless
    /// `offline_access` was granted; `auth_time` and `amr` say when and how the user signed in; `access_jti`/
    /// `access_exp` name the access token issued with it; `dpop_jkt` is the key it is bound to, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn first_refresh_token(
        &self,
        family: &FamilySecret,
        client: &Client,
        user_id: Option<crate::domain::UserId>,
        session: Option<(&str, UnixTime)>,
        scope: &Scope,
        resource: Option<String>,
        (auth_time, amr): (UnixTime, &[String]),
        access: (&str, UnixTime),
        dpop_jkt: Option<Jkt>,
        now: UnixTime,
    ) -> (PlainSecret, RefreshTokenRecord) {
        let token = family.issue_token();
        let offline = scope.contains(Scope::OFFLINE_ACCESS);
        let mut expires_at = now + self.tokens.refresh_token_ttl;
        if let (false, Some((_, session_end))) = (offline, session) {
            // A session-bound token cannot outlive its session.
            expires_at = expires_at.min(session_end);
        }
        let record = RefreshTokenRecord {
            id: new_row_id(),
            token_hash: token.hash().as_str().to_owned(),
            family_id: family.family_id(),
            parent_id: None,
            client_id: client.id.clone(),
            user_id,
            session_id: session.map(|(sid, _)| sid.to_owned()),
            scope: scope.clone(),
            resource,
            auth_time: Some(auth_time),
            offline,
            created_at: now,
            expires_at,
            idle_expires_at: (now + self.tokens.refresh_idle).min(expires_at),
            used_at: None,
            revoked: false,
            access_jti: Some(access.0.to_owned()),
            access_expires_at: Some(access.1),
            dpop_jkt,
            userinfo_claims: Default::default(),
            amr: amr.to_vec(),
            id_token_claims: Default::default(),
            grace_record: None,
        };
        (token, record)
    }
}

/// The user claims `names` asks for, with `user`'s values; none without asking.
fn named_claims(user: Option<&User>, names: &ClaimNames) -> Map<String, Value> {
    let mut claims = Map::new();
    if let (Some(user), false) = (user, names.is_empty()) {
        add_user_claims(&mut claims, user, |_| false, names);
    }
    claims
}

/// Whether the grant `rt` belongs to still stands: its client's tokens were not revoked since it was issued, and
/// its user (as read with it), if any, can still use it.
fn grant_stands(rt: &RefreshTokenRecord, client: &Client, user: Option<&User>) -> Result<(), OAuthError> {
    if client.revoked_before.is_some_and(|t| rt.created_at <= t) {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    if rt.user_id.is_some() {
        let live = user.is_some_and(|u| !u.disabled && u.revoked_before.is_none_or(|t| rt.created_at > t));
        if !live {
            return Err(OAuthError::invalid_grant("the user can no longer use this grant"));
        }
    }
    Ok(())
}

/// The id of a new `refresh_tokens` row: a UUIDv7, whose text sorts by creation time. Each insert then adds to
/// the right-most page of the primary-key index instead of a random one: at 1,000,000 stored tokens a rotation
/// read 0.37 pages from outside Postgres's buffers instead of 0.86 (docs/benchmarks.md). The id is not
/// secret and not shown outside the server; its time is the row's `created_at` anyway.
fn new_row_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::new_row_id;

    #[test]
    fn row_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| new_row_id()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids out of order");
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)));
    }
}
