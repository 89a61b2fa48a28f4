//! A user's consents as operators see them, as Keycloak's "Consents" tab and Hydra's consent sessions show
//! them: `GET /admin/api/users/{id}/consents` and `tessera users consents` list the apps the user's account page
//! lists ([`Provider::connected_apps`]), and `DELETE /admin/api/users/{id}/consents/{client_id}` (every one:
//! `DELETE …/consents`; `--revoke`, `--revoke-all`) withdraws them as the account page's "Remove access" does
//! ([`Provider::withdraw_apps`], the admin client or `cli` acting).
use super::api::path_user_id;
use super::*;
use crate::oauth::grants::{ConnectedApp, Withdrawer};

/// The JSON form of a connected app of a user.
pub fn consent_json(app: &ConnectedApp) -> Value {
    let g = &app.grant;
    json!({
        "client_id": g.client_id.as_str(),
        "client_name": app.name,
        "scopes": g.scope.iter().collect::<Vec<_>>(),
        "claims": g.claims.iter().collect::<Vec<_>>(),
        "offline": g.offline,
        "consented": g.consented(),
        // Without a stored consent (a first-party client is not asked), its oldest live refresh token.
        "granted_at": g.consent.map_or(g.since, |c| c.granted_at),
        "updated_at": g.consent.map(|c| c.updated_at),
        "live_refresh_tokens": g.live_grants > 0,
    })
}

fn no_consent(user_id: &UserId, client_id: &str) -> AdminError {
    let shown: String = client_id.chars().take(128).collect();
    AdminError::NotFound(format!("user {} has granted nothing to client {shown}", user_id.as_str()))
}

impl Provider {
    /// The apps `user_id` is connected to, in their JSON form, by name.
    pub async fn user_consents_json(&self, user_id: &UserId, now: UnixTime) -> Result<Vec<Value>, OAuthError> {
        Ok(self.connected_apps(user_id, now).await?.iter().map(consent_json).collect())
    }

    /// Withdraws what `user_id` gave `client_id`, on behalf of `actor`, if the user is connected to it;
    /// returns whether they were.
    pub async fn revoke_user_consent(
        &self,
        actor: &str,
        user_id: &UserId,
        client_id: &ClientId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<bool, OAuthError> {
        let apps = self.connected_apps(user_id, now).await?;
        if !apps.iter().any(|a| a.grant.client_id == *client_id) {
            return Ok(false);
        }
        self.withdraw_apps(Withdrawer::Operator(actor), user_id, std::slice::from_ref(client_id), meta, now).await?;
        Ok(true)
    }

    /// Withdraws everything `user_id` gave every app they are connected to, on behalf of `actor`; returns
    /// those apps' client ids.
    pub async fn revoke_user_consents(
        &self,
        actor: &str,
        user_id: &UserId,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Vec<ClientId>, OAuthError> {
        let apps = self.connected_apps(user_id, now).await?;
        let client_ids: Vec<ClientId> = apps.into_iter().map(|a| a.grant.client_id).collect();
        self.withdraw_apps(Withdrawer::Operator(actor), user_id, &client_ids, meta, now).await?;
        Ok(client_ids)
    }

    /// `GET /admin/api/users/{id}/consents`: the apps the user is connected to.
    pub async fn admin_user_consents(&self, id: &str, now: UnixTime) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        Ok(json!({ "items": self.user_consents_json(&id, now).await? }))
    }

    /// `DELETE /admin/api/users/{id}/consents/{client_id}`: withdraws what the user gave the client as the
    /// account page's "Remove access" does; `NotFound` when the user is not connected to it.
    pub async fn admin_revoke_consent(
        &self,
        caller: &AdminCaller,
        id: &str,
        client_id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let client = ClientId::parse(client_id).map_err(|_| no_consent(&id, client_id))?;
        if !self.revoke_user_consent(caller.client_id.as_str(), &id, &client, meta, now).await? {
            return Err(no_consent(&id, client_id));
        }
        Ok(())
    }

    /// `DELETE /admin/api/users/{id}/consents`: withdraws what the user gave every app.
    pub async fn admin_revoke_consents(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        self.revoke_user_consents(caller.client_id.as_str(), &id, meta, now).await?;
        Ok(())
    }
}
