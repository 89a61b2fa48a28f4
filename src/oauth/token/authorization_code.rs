//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6): find the code, check it belongs to
//! this client and redirect URI, check PKCE, and issue tokens. A code is consumed by its first use, right or
//! wrong; a second use revokes what the first one issued (RFC 6749 §4.1.2), even while the first is running.
use super::{scope_string, TokenResponse};
use crate::domain::group::GROUPS;
use crate::domain::refresh_family::FamilySecret;
use crate::domain::secret::SecretHash;
use crate::domain::{Client, GrantType, Scope, UnixTime};
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::cache_keys;
use crate::oauth::claims::add_user_claims;
use crate::oauth::code::{code_family_id, CodeEntry, CodeGrant, CodeRedemption};
use crate::oauth::dpop::Jkt;
use crate::oauth::error::OAuthError;
use crate::oauth::groups::insert_token_groups;
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeVerifier;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant, IdTokenExtras};
use crate::storage::{CodeGrantStanding, RefreshTokenRecord, StoreError};
use serde_json::{Map, Value};
use std::time::Duration;

/// How long a replay waits for a racing first redemption to store the refresh token family it must revoke.
const FIRST_REDEMPTION_WAIT: Duration = Duration::from_secs(3);

/// How long the record of a redemption that stores a refresh token family is kept: until the family is surely
/// stored, after which a replay finds it in SQL. (Kept for the whole access token lifetime, it would hold
/// every code of the last ten minutes in the cache.)
const FAMILY_REDEMPTION_KEPT: Duration = Duration::from_secs(10);

impl Provider {
    pub(super) async fn authorization_code_grant(
        &self,
        client: &Client,
        params: &Params,
        dpop: Option<&Jkt>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params.require("code")?;
        if code.len() > 128 {
            return Err(OAuthError::invalid_grant("invalid authorization code"));
        }
        let hash = SecretHash::of(code);
        let ttl = self.access_ttl(client);
        let jti = new_jti();
        let starts_family = client.allows_grant(GrantType::RefreshToken);
        let started = tokio::time::Instant::now();
        // The redemption takes the grant's place at once: a replay finds it, and what it names, however far
        // this request has got. Without a family it is the only record of the access token, kept as long as
        // that lives.
        let redemption = CodeRedemption {
            jti: jti.clone(),
            expires_at: now + ttl,
            family: starts_family,
            user_id: None,
            failed: false,
            replay_missed_family: false,
        };
        let key = cache_keys::code(hash.as_str());
        let kept = if starts_family { FAMILY_REDEMPTION_KEPT } else { Duration::from_secs(ttl.max(1) as u64) };
        let previous = self.cache.replace(&key, &redemption_record(&redemption)?, kept).await?;
        let grant = match previous.map(|bytes| serde_json::from_slice::<CodeEntry>(&bytes)) {
            Some(Ok(CodeEntry::Grant(grant))) => *grant,
            Some(Ok(CodeEntry::Redeemed(first))) => {
                // Put the first redemption's record back in place of this one's, whose token is never issued:
                // a later replay then revokes the right token again and names the user.
                self.note_redemption(&key, &first, kept).await;
                return Err(self.code_replayed(code, Some(first), client, meta, now).await);
            }
            Some(Err(e)) => return Err(OAuthError::server(e)),
            None => return Err(self.replayed_or_unknown(code, client, meta, now).await),
        };
        // Now that the user is known, the record names them for the audit event of a replay, whatever becomes
        // of this redemption. (A replay racing this write still revokes what this redemption issues.)
        let redemption = CodeRedemption { user_id: Some(grant.user_id.clone()), ..redemption };
        self.note_redemption(&key, &redemption, kept).await;
        let redeemed = self.redeem_code_grant(client, params, code, grant, (jti, ttl), dpop, now).await;
        if starts_family {
            match &redeemed {
                // Replays need not wait for a family this redemption may never store (see `code_replayed`).
                Err(_) => self.note_redemption(&key, &CodeRedemption { failed: true, ..redemption }, kept).await,
                // A replay waits this long for the family, from after this redemption began: one that came
                // during a slower redemption may have given up, and then said so in the record.
                Ok(_) if started.elapsed() > FIRST_REDEMPTION_WAIT && self.replay_missed_family(&key).await => {
                    return Err(self.revoke_replayed_family(code, now).await);
                }
                Ok(_) => {}
            }
        }
        redeemed
    }

    /// Whether the record of a redemption says a replay gave up waiting for its family.
    async fn replay_missed_family(&self, key: &str) -> bool {
        match self.cache.get(key).await {
            Ok(Some(bytes)) => matches!(
                serde_json::from_slice::<CodeEntry>(&bytes),
                Ok(CodeEntry::Redeemed(CodeRedemption { replay_missed_family: true, .. }))
            ),
            Ok(None) => false,
            Err(e) => {
                tracing::error!(error = %e, "could not read the record of a slow code redemption");
                false
            }
        }
    }

    /// Revokes the family (and its access token) that a slow first redemption stored after a replay of its code
    /// gave up waiting for it; the answer to that redemption.
    async fn revoke_replayed_family(&self, code: &str, now: UnixTime) -> OAuthError {
        match self.refresh_tokens.revoke_family(&code_family_id(code), now).await {
            Ok(issued) => self.revoke_access_tokens(&issued, now).await,
            Err(e) => return e.into(),
        }
        tracing::warn!("a code replayed during its slow first redemption: what that redemption issued is revoked");
        OAuthError::invalid_grant("the authorization code was already used")
    }

    /// The checks and the issuance of a code's first redemption, for `grant`, the code's grant just replaced by
    /// the record of this redemption (access token `jti`, lifetime `ttl`), with the key the request's DPoP proof
    /// proved, if any.
    #[allow(clippy::too_many_arguments)]
    async fn redeem_code_grant(
        &self,
        client: &Client,
        params: &Params,
        code: &str,
        grant: CodeGrant,
        (jti, ttl): (String, i64),
        dpop: Option<&Jkt>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let starts_family = client.allows_grant(GrantType::RefreshToken);
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
        // RFC 9449 §10: a code asked for with `dpop_jkt` is redeemed only with a proof of that key.
        if grant.dpop_jkt.as_ref().is_some_and(|bound| dpop != Some(bound)) {
            return Err(OAuthError::invalid_grant("the authorization code is bound to another DPoP key (dpop_jkt)"));
        }
        // RFC 8707 §2.2: the token request may repeat the authorization request's resource, not change it.
        let resource = super::resource::for_grant(params, client, grant.resource.as_deref())?;
        let refresh = if starts_family {
            let session_end = match grant.session_expires_at {
                Some(end) => end,
                None => self.sessions.session(&grant.sid).await?.map(|s| s.expires_at).unwrap_or(now),
            };
            let (token, first) = self.first_refresh_token(
                &FamilySecret::of_code(code),
                client,
                Some(grant.user_id.clone()),
                Some((grant.sid.as_str(), session_end)),
                &grant.scope,
                resource.clone(),
                (grant.auth_time, &grant.amr),
                (jti.as_str(), now + ttl),
                Self::refresh_binding(client, dpop),
                now,
            );
            // Later tokens of the grant carry what the `claims` parameter asked for too: refreshed ID tokens the
            // claims it named for the ID token, access tokens those UserInfo is to return.
            let claims = &grant.claims;
            let first = RefreshTokenRecord {
                userinfo_claims: claims.userinfo.clone(),
                id_token_claims: claims.id_token.clone(),
                ..first
            };
            Some((token, first))
        } else {
            None
        };
        let openid = grant.scope.contains(Scope::OPENID);
        let (user_claims, groups) = tokio::join!(
            async {
                match openid {
                    true => self.id_token_claims(&grant).await,
                    false => Ok(Map::new()),
                }
            },
            self.groups_claim(&grant.user_id, &grant.scope, openid.then_some(&grant.claims.id_token)),
        );
        let groups = groups?;
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: Some(grant.user_id.clone()),
            scope: grant.scope.clone(),
            audience: self.audience(resource.as_deref()),
            auth_time: Some(grant.auth_time),
            sid: Some(grant.sid.clone()),
            ttl,
            act: None,
            jkt: dpop.cloned(),
            sector: client.sector(),
            userinfo_claims: grant.claims.userinfo.clone(),
            groups: groups.access,
        };
        let id = match openid {
            true => {
                let mut user_claims = user_claims?;
                insert_token_groups(&mut user_claims, groups.id_token.as_ref(), &self.issuer);
                Some(IdTokenExtras {
                    nonce: grant.nonce.clone(),
                    amr: grant.amr.clone(),
                    ttl: self.tokens.id_token_ttl,
                    user_claims,
                })
            }
            false => None,
        };
        // The user may have been disabled, or the session logged out of, since the code was issued. The refresh
        // token family is stored under an id derived from the code, where a replay looks for it.
        // So may the client's tokens have been revoked (`clients revoke-tokens`), codes included.
        let storing = self.refresh_tokens.redeem_code_grant(
            &grant.user_id,
            Some(&grant.sid),
            (&client.id, grant.issued_at_ms / 1000),
            refresh.as_ref().map(|(_, r)| r),
            now,
        );
        // The signatures are made while the database answers; tokens of a grant found ended are dropped unseen.
        let (standing, minted, ()) =
            tokio::join!(storing, self.mint(&access, id, jti, now), self.record_session_client(client, &grant.sid));
        let standing = standing.map_err(|e| match e {
            // Removed while a cached copy still authenticated it (`clients.cache_seconds`, or on another instance).
            StoreError::ReferenceGone(_) => OAuthError::invalid_grant("the client or user of the code is gone"),
            other => other.into(),
        });
        match standing? {
            CodeGrantStanding::Live => {}
            CodeGrantStanding::UserCannotSignIn => {
                return Err(OAuthError::invalid_grant("the user can no longer sign in"))
            }
            CodeGrantStanding::SessionEnded => {
                return Err(OAuthError::invalid_grant("the session the code was issued in has ended"))
            }
            CodeGrantStanding::ClientRevoked => {
                return Err(OAuthError::invalid_grant("the client's tokens were revoked after the code was issued"))
            }
            CodeGrantStanding::AppWithdrawn => {
                return Err(OAuthError::invalid_grant("the user has withdrawn this client's access"))
            }
        }
        let minted = minted?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: access.token_type().into(),
            expires_in: ttl,
            scope: scope_string(&grant.scope),
            id_token: minted.id_token,
            refresh_token: refresh.map(|(token, _)| token.expose().to_owned()),
            issued_token_type: None,
        })
    }

    /// The user claims the `claims` parameter asked for in the ID token, with the user's values: read only when it
    /// asked for some in the user's row (`groups` is read apart), so a code redeemed without it costs no trip to the
    /// database.
    async fn id_token_claims(&self, grant: &CodeGrant) -> Result<Map<String, Value>, OAuthError> {
        let mut claims = Map::new();
        if grant.claims.id_token.iter().all(|name| name == GROUPS) {
            return Ok(claims);
        }
        // A user gone or disabled is refused with the grant's standing, read next; until then, no claims.
        if let Some(user) = self.users.user_by_id(&grant.user_id).await? {
            add_user_claims(&mut claims, &user, |_| false, &grant.claims.id_token);
        }
        Ok(claims)
    }

    /// Records that `client` is issued tokens within session `sid`, when it is to be told of the session's end
    /// (it has a `backchannel_logout_uri` or a `frontchannel_logout_uri`); other clients cost nothing. A failure
    /// is logged: the tokens are issued, and the client only misses a logout notice.
    async fn record_session_client(&self, client: &Client, sid: &str) {
        let m = &client.metadata;
        if m.backchannel_logout_uri.is_none() && m.frontchannel_logout_uri.is_none() {
            return;
        }
        if let Err(error) = self.sessions.record_session_client(sid, &client.id).await {
            tracing::warn!(client_id = client.id.as_str(), %error, "the client of a session could not be recorded");
        }
    }

    /// Writes `redemption` as the record of the code's redemption, if one is still kept. Only the audit trail
    /// depends on it, so a failure is logged and the request goes on.
    async fn note_redemption(&self, key: &str, redemption: &CodeRedemption, kept: Duration) {
        let written = match redemption_record(redemption) {
            Ok(record) => self.cache.replace(key, &record, kept).await.map_err(OAuthError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::error!(error = ?e, "could not note the user in the record of a code redemption");
        }
    }

    /// The answer to a code the cache does not know: unknown, or redeemed so long ago that the record of its
    /// redemption has expired, when a refresh token family it started may still be live.
    async fn replayed_or_unknown(&self, code: &str, client: &Client, meta: &RequestMeta, now: UnixTime) -> OAuthError {
        match self.refresh_tokens.refresh_family_exists(&code_family_id(code)).await {
            Ok(true) => self.code_replayed(code, None, client, meta, now).await,
            Ok(false) => OAuthError::invalid_grant("invalid or expired authorization code"),
            Err(e) => e.into(),
        }
    }

    /// A second use of a code: what the first use issued is revoked (`first`, while its record is kept: the
    /// access token, and the family once the first redemption has stored it), and the replay is audited.
    async fn code_replayed(
        &self,
        code: &str,
        first: Option<CodeRedemption>,
        client: &Client,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> OAuthError {
        let family_id = code_family_id(code);
        let family = match &first {
            Some(first) => {
                self.revoke_access_tokens(&[(first.jti.clone(), first.expires_at)], now).await;
                match (first.family, first.failed) {
                    (false, _) => false,
                    (true, false) => {
                        self.first_redemption_stored(&family_id).await
                            || self.family_missed(code, first, &family_id).await
                    }
                    // It failed: its family is stored only if the failure came after (one look, no wait), and
                    // a stream of replays of a code whose redemption failed costs no more than other requests.
                    (true, true) => self.refresh_tokens.refresh_family_exists(&family_id).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "could not look for the refresh tokens of a replayed code");
                        false
                    }),
                }
            }
            None => true,
        };
        if family {
            match self.refresh_tokens.revoke_family(&family_id, now).await {
                Ok(issued) => self.revoke_access_tokens(&issued, now).await,
                Err(e) => tracing::error!(error = %e, "could not revoke the refresh tokens of a replayed code"),
            }
        }
        // The record names the user, unless it has expired (or was written before it could): then the family
        // does, when there is one.
        let mut user_id = first.and_then(|first| first.user_id);
        if user_id.is_none() && family {
            user_id = self.refresh_tokens.refresh_family_user(&family_id).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not look for the user of a replayed code");
                None
            });
        }
        let facts = EventFacts {
            actor: Some(client.id.as_str().to_owned()),
            user_id: user_id.map(String::from),
            client_id: Some(client.id.as_str().to_owned()),
            details: serde_json::json!({ "family_id": family.then_some(family_id) }),
        };
        self.audit("code_replay", facts, meta, now).await;
        OAuthError::invalid_grant("the authorization code was already used")
    }

    /// After [`Self::first_redemption_stored`] gave up on a slow first redemption: says so in its record, so that
    /// it revokes its family itself once stored, then looks once more for a family stored meanwhile (one of the
    /// two sees the other's write). Whether the family is stored now.
    async fn family_missed(&self, code: &str, first: &CodeRedemption, family_id: &str) -> bool {
        let missed = CodeRedemption { replay_missed_family: true, ..first.clone() };
        let key = cache_keys::code(SecretHash::of(code).as_str());
        self.note_redemption(&key, &missed, FAMILY_REDEMPTION_KEPT).await;
        self.refresh_tokens.refresh_family_exists(family_id).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not look for the refresh tokens of a replayed code");
            false
        })
    }

    /// Whether the family a first redemption starts is stored, waiting a little for a redemption still
    /// running; `false` when it never appears (that redemption failed, or the database does not answer).
    async fn first_redemption_stored(&self, family_id: &str) -> bool {
        let started = tokio::time::Instant::now();
        loop {
            match self.refresh_tokens.refresh_family_exists(family_id).await {
                Ok(true) => return true,
                Ok(false) if started.elapsed() < FIRST_REDEMPTION_WAIT => {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Ok(false) => return false,
                Err(e) => {
                    tracing::error!(error = %e, "could not look for the refresh tokens of a replayed code");
                    return false;
                }
            }
        }
    }
}

/// The cache's record of a redemption.
fn redemption_record(redemption: &CodeRedemption) -> Result<Vec<u8>, OAuthError> {
    serde_json::to_vec(&CodeEntry::Redeemed(redemption.clone())).map_err(OAuthError::server)
}
