//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client asks for an access token for
//! itself. The token's `sub` is the client id; there is no user, so no user claims, no ID token and no
//! refresh token (RFC 6749 §4.4.3). The scope is what the client asks for within what it may have (nothing
//! when it asks for nothing); `resource` (RFC 8707) picks the audience.
use super::{resource, scope_string, TokenResponse};
use crate::domain::{Client, Scope, UnixTime};
use crate::oauth::dpop::Jkt;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant};

/// Scopes that only make sense with a user: refused here rather than silently dropped.
const USER_SCOPES: [&str; 2] = [Scope::OPENID, Scope::OFFLINE_ACCESS];

impl Provider {
    pub(super) async fn client_credentials_grant(
        &self,
        client: &Client,
        params: &Params,
        dpop: Option<&Jkt>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "public clients cannot use the client_credentials grant",
            ));
        }
        let scope = requested_scope(params, client)?;
        let resource = resource::requested(params, client)?;
        let ttl = self.access_ttl(client);
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: None,
            scope,
            audience: self.audience(resource.as_deref()),
            auth_time: None,
            sid: None,
            ttl,
            act: None,
            jkt: dpop.cloned(),
            sector: None,
            userinfo_claims: Default::default(),
            groups: None,
        };
        let minted = self.mint(&access, None, new_jti(), now).await?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: access.token_type().into(),
            expires_in: ttl,
            scope: scope_string(&access.scope),
            id_token: None,
            refresh_token: None,
            issued_token_type: None,
        })
    }
}

/// The scope asked for: a subset of the client's scope, without user-only scopes. The admin scope needs no
/// check of its own: only admin clients have it in their scope.
fn requested_scope(params: &Params, client: &Client) -> Result<Scope, OAuthError> {
    let scope = Scope::parse(params.get("scope").unwrap_or(""))
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
    if let Some(s) = USER_SCOPES.iter().find(|s| scope.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("{s} needs a user and cannot be granted with client_credentials"),
        ));
    }
    if !scope.is_subset_of(&client.scope) {
        let extra: Vec<&str> = scope.iter().filter(|s| !client.scope.contains(s)).collect();
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope not allowed for this client: {}", extra.join(" ")),
        ));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scope::ADMIN_SCOPE;
    use crate::domain::{ApplicationType, ClientAuthMethod, ClientId, ClientMetadata, GrantType};

    fn client(scope: &str) -> Client {
        Client {
            id: ClientId::parse("svc").unwrap(),
            name: "svc".into(),
            secret_hash: None,
            previous_secret: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Web,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse(scope).unwrap(),
            resources: vec![],
            first_party: false,
            admin: false,
            require_pkce: true,
            access_token_ttl: None,
            metadata: ClientMetadata::default(),
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            revision: 0,
        }
    }

    fn scope_of(requested: Option<&str>, allowed: &str) -> Result<String, ErrorCode> {
        let pairs = requested.map(|s| ("scope".to_owned(), s.to_owned())).into_iter().collect();
        requested_scope(&Params::from_pairs(pairs).unwrap(), &client(allowed))
            .map(|s| s.to_string())
            .map_err(|e| e.code)
    }

    #[test]
    fn scope_is_a_subset_without_user_scopes() {
        let allowed = "openid offline_access read write";
        assert_eq!(scope_of(None, allowed), Ok(String::new()), "nothing asked, nothing granted");
        assert_eq!(scope_of(Some("write read"), allowed), Ok("read write".into()));
        assert_eq!(scope_of(Some("read delete"), allowed), Err(ErrorCode::InvalidScope));
        assert_eq!(scope_of(Some("openid read"), allowed), Err(ErrorCode::InvalidScope));
        assert_eq!(scope_of(Some("offline_access"), allowed), Err(ErrorCode::InvalidScope));
        assert_eq!(scope_of(Some("re\"ad"), allowed), Err(ErrorCode::InvalidScope));
    }

    #[test]
    fn admin_scope_only_for_clients_that_have_it() {
        assert_eq!(scope_of(Some(ADMIN_SCOPE), "read"), Err(ErrorCode::InvalidScope));
        assert_eq!(scope_of(Some(ADMIN_SCOPE), &format!("read {ADMIN_SCOPE}")), Ok(ADMIN_SCOPE.into()));
    }
}
