//! What a user gave the apps they approved, and its withdrawal. An app is connected when the user has a stored
//! consent for it (scopes, and claims granted by name) or live refresh tokens of it (a first-party client is
//! not asked, so it may have tokens without a consent). Withdrawing forgets the consent and revokes those tokens
//! with their access tokens, every other access token issued to the client for the user until then and the
//! codes it has not redeemed yet (a cut-off), so its next authorization asks again. It ends no session, so no
//! app is sent a logout token.
//!
//! The account page lists and withdraws the signed-in user's own ([`super::account`]); operators a user's through
//! the admin API and `tessera users consents` ([`super::admin`]). Both go through [`Provider::connected_apps`]
//! and [`Provider::withdraw_apps`], audited alike as `account_app_revoked` with who acted: the event's name is
//! older than the operators' withdrawal, and scripts read it, so `details.by` tells the user from an operator.
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::{ClaimNames, ClientId, Scope, UnixTime, UserId};
use crate::storage::{RefreshTokenRecord, StoredConsent, WithdrawnGrant};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Who withdraws what a user gave their apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawer<'a> {
    /// The user, from their account page.
    User,
    /// An operator: the admin client's id, or `cli`.
    Operator(&'a str),
}

/// When a stored consent was given and last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentTimes {
    /// The first grant.
    pub granted_at: UnixTime,
    /// The last change.
    pub updated_at: UnixTime,
}

/// What the user gave one client: a consent, live refresh tokens, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppGrant {
    /// The client.
    pub client_id: ClientId,
    /// The scopes granted: the consent's and the live tokens' together.
    pub scope: Scope,
    /// The claims granted by name (`claims`): the consent's and those the live tokens let UserInfo return.
    pub claims: ClaimNames,
    /// Whether it may act while the user is away: `offline_access` granted or an offline token live.
    pub offline: bool,
    /// The stored consent's times, when a consent is stored.
    pub consent: Option<ConsentTimes>,
    /// How many refresh token families of it are live.
    pub live_grants: usize,
    /// The earliest of the consent's last change and the live tokens' creation.
    pub since: UnixTime,
}

impl AppGrant {
    /// Whether a consent is stored.
    pub fn consented(&self) -> bool {
        self.consent.is_some()
    }
}

/// A connected app with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    /// Its name as registered (a third party chooses it: escaped when shown).
    pub name: String,
    /// What it was given.
    pub grant: AppGrant,
}

/// The apps a user is connected to, by client id: every client with a stored consent and every client with
/// live refresh tokens. `tokens` are the user's live tokens.
pub fn app_grants(consents: Vec<StoredConsent>, tokens: &[RefreshTokenRecord]) -> Vec<AppGrant> {
    let mut apps: BTreeMap<String, AppGrant> = BTreeMap::new();
    for StoredConsent { client_id, consent, created_at, updated_at } in consents {
        let grant = AppGrant {
            offline: consent.scope.contains(Scope::OFFLINE_ACCESS),
            client_id: client_id.clone(),
            scope: consent.scope,
            claims: consent.claims,
            consent: Some(ConsentTimes { granted_at: created_at, updated_at }),
            live_grants: 0,
            since: updated_at,
        };
        apps.insert(client_id.as_str().to_owned(), grant);
    }
    let mut families: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for t in tokens {
        let entry = apps.entry(t.client_id.as_str().to_owned()).or_insert_with(|| AppGrant {
            client_id: t.client_id.clone(),
            scope: Scope::default(),
            claims: ClaimNames::default(),
            offline: false,
            consent: None,
            live_grants: 0,
            since: t.created_at,
        });
        // Past the scope limit the consent's scopes stand: the page shows what the user agreed to.
        if let Ok(union) = entry.scope.union(&t.scope) {
            entry.scope = union;
        }
        entry.claims = entry.claims.union(&t.userinfo_claims);
        entry.offline |= t.offline || t.scope.contains(Scope::OFFLINE_ACCESS);
        entry.since = entry.since.min(t.created_at);
        families.entry(t.client_id.as_str().to_owned()).or_default().insert(t.family_id.as_str());
    }
    for (client, set) in families {
        if let Some(app) = apps.get_mut(&client) {
            app.live_grants = set.len();
        }
    }
    apps.into_values().collect()
}

impl Provider {
    /// The apps `user_id` is connected to, by name (ignoring case), then client id. Apps whose client is gone
    /// are left out (their grants went with it).
    pub async fn connected_apps(&self, user_id: &UserId, now: UnixTime) -> Result<Vec<ConnectedApp>, OAuthError> {
        let consents = self.consents.consents_of_user(user_id).await?;
        let tokens = self.refresh_tokens.live_refresh_tokens_of_user(user_id, now).await?;
        let mut apps = Vec::new();
        for grant in app_grants(consents, &tokens) {
            if let Some(client) = self.clients.client(&grant.client_id).await? {
                apps.push(ConnectedApp { name: client.name, grant });
            }
        }
        // People look an app up by its name; the client id only keeps apps of one name in a stable order.
        apps.sort_by_cached_key(|a| (a.name.to_lowercase(), a.grant.client_id.clone()));
        Ok(apps)
    }

    /// Withdraws, on behalf of `by` (the user, an admin client or `cli`), what `user_id` gave each of
    /// `client_ids`: the consent, every refresh token family of theirs for it with the access tokens issued
    /// alongside, every other access token issued to it for them until now (a cut-off), and the codes issued to
    /// it until now. Each is audited as `account_app_revoked`, the actor the user or the operator, and
    /// `details.by` `user` or `admin`. Nothing to withdraw is fine. Returns once the cut-off's second is over.
    pub async fn withdraw_apps(
        &self,
        by: Withdrawer<'_>,
        user_id: &UserId,
        client_ids: &[ClientId],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let (actor, by_name) = match by {
            Withdrawer::User => (user_id.as_str(), "user"),
            Withdrawer::Operator(actor) => (actor, "admin"),
        };
        for client_id in client_ids {
            let withdrawn = self.withdraw_app_at(user_id, client_id, now).await?;
            let facts = EventFacts {
                actor: Some(actor.to_owned()),
                user_id: Some(user_id.as_str().to_owned()),
                client_id: Some(client_id.as_str().to_owned()),
                details: json!({
                    "consent": withdrawn.consent,
                    "access_tokens": withdrawn.issued.len(),
                    "by": by_name,
                }),
            };
            self.audit("account_app_revoked", facts, meta, now).await;
        }
        // The cut-off ends its own second too: what the apps are given after this returns must live. One wait
        // covers every app.
        super::revoke::hold_cut_off(now, |at| async move {
            for client_id in client_ids {
                self.withdraw_app_at(user_id, client_id, at).await?;
            }
            Ok(())
        })
        .await
    }

    /// Withdraws what `user_id` gave `client_id`, with the cut-off at `at`.
    async fn withdraw_app_at(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        at: UnixTime,
    ) -> Result<WithdrawnGrant, OAuthError> {
        // The cut-off ends the codes, the devices approved and not yet redeemed, and the access tokens no refresh
        // token records, so it is kept as long as the longest-lived of them can live.
        let kept = self.tokens.max_access_token_ttl.max(self.tokens.code_ttl).max(self.device.code_ttl);
        let withdrawn = self.consents.withdraw_grant(user_id, client_id, at, at + kept).await?;
        self.revoke_access_tokens(&withdrawn.issued, at).await;
        Ok(withdrawn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Consent, UserId};

    fn consent(client: &str, scope: &str, claims: &str, created_at: UnixTime, updated_at: UnixTime) -> StoredConsent {
        StoredConsent {
            client_id: ClientId::parse(client).unwrap(),
            consent: Consent { scope: Scope::parse(scope).unwrap(), claims: ClaimNames::parse(claims).unwrap() },
            created_at,
            updated_at,
        }
    }

    fn token(
        id: &str,
        family: &str,
        client: &str,
        scope: &str,
        offline: bool,
        created_at: UnixTime,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: id.into(),
            token_hash: format!("hash-{id}"),
            family_id: family.into(),
            parent_id: None,
            client_id: ClientId::parse(client).unwrap(),
            user_id: Some(UserId::parse("alice").unwrap()),
            session_id: None,
            scope: Scope::parse(scope).unwrap(),
            resource: None,
            auth_time: None,
            offline,
            created_at,
            expires_at: 10_000,
            idle_expires_at: 10_000,
            used_at: None,
            revoked: false,
            access_jti: None,
            access_expires_at: None,
            dpop_jkt: None,
            userinfo_claims: Default::default(),
            amr: Vec::new(),
            id_token_claims: Default::default(),
            grace_record: None,
        }
    }

    #[test]
    fn apps_come_from_consents_and_live_tokens() {
        let consents =
            vec![consent("consented", "openid profile", "email", 40, 50), consent("both", "openid", "", 30, 70)];
        let tokens = vec![
            token("b1", "fb1", "both", "openid email offline_access", true, 60),
            token("b2", "fb2", "both", "openid", false, 80),
            token("b3", "fb2", "both", "openid", false, 90),
            token("t1", "ft1", "tokens-only", "openid", false, 20),
        ];
        let apps = app_grants(consents, &tokens);
        let ids: Vec<&str> = apps.iter().map(|a| a.client_id.as_str()).collect();
        assert_eq!(ids, ["both", "consented", "tokens-only"]);
        let both = &apps[0];
        assert_eq!(both.scope, Scope::parse("openid email offline_access").unwrap());
        assert!(both.offline && both.consented());
        assert_eq!((both.live_grants, both.since), (2, 60), "two families, the earliest time");
        assert_eq!(both.consent, Some(ConsentTimes { granted_at: 30, updated_at: 70 }));
        let consented = &apps[1];
        assert!(consented.consented() && !consented.offline);
        assert_eq!(consented.claims.to_string(), "email", "the claims granted by name");
        assert_eq!((consented.live_grants, consented.since), (0, 50));
        assert_eq!(consented.consent, Some(ConsentTimes { granted_at: 40, updated_at: 50 }));
        let tokens_only = &apps[2];
        assert!(!tokens_only.consented() && !tokens_only.offline);
        assert_eq!((tokens_only.scope.to_string().as_str(), tokens_only.live_grants), ("openid", 1));
        assert!(app_grants(vec![], &[]).is_empty());
    }

    #[test]
    fn offline_access_in_a_consent_counts_as_offline() {
        let consents = vec![consent("c", "openid offline_access", "", 1, 1)];
        assert!(app_grants(consents, &[])[0].offline);
    }
}
