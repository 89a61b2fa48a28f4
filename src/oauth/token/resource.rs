//! Resource indicators at the token endpoint (RFC 8707 §2.2): which audience the access token is for.
use crate::domain::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;

fn target(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, description)
}

/// The `resource` of a token request, if any: an absolute URI without fragment, among the client's
/// registered resources.
pub(crate) fn requested(params: &Params, client: &Client) -> Result<Option<String>, OAuthError> {
    if params.names_several_resources() {
        // RFC 8707 §2: a token for all of them cannot be issued; an access token has one audience here.
        return Err(target("one resource per request: an access token here is for a single audience"));
    }
    let Some(raw) = params.get("resource") else { return Ok(None) };
    let url = url::Url::parse(raw).map_err(|_| target("resource must be an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(target("resource must not contain a fragment"));
    }
    if !client.resources.iter().any(|r| r == raw) {
        return Err(target("this client may not request that resource"));
    }
    Ok(Some(raw.to_owned()))
}

/// The resource for a token that redeems a grant made for `granted`: the token request may repeat it, or
/// name one the client may use when the grant named none; it cannot switch to another, nor keep one an operator
/// has taken from the client since.
pub(super) fn for_grant(params: &Params, client: &Client, granted: Option<&str>) -> Result<Option<String>, OAuthError> {
    match (requested(params, client)?, granted) {
        (None, Some(granted)) if !client.resources.iter().any(|r| r == granted) => {
            Err(target("the client may no longer use the grant's resource"))
        }
        (None, granted) => Ok(granted.map(str::to_owned)),
        (Some(asked), Some(granted)) if asked != granted => {
            Err(target("resource differs from the one in the authorization request"))
        }
        (Some(asked), _) => Ok(Some(asked)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApplicationType, ClientAuthMethod, ClientId, ClientMetadata, GrantType, Scope};

    fn client() -> Client {
        Client {
            id: ClientId::parse("c").unwrap(),
            name: "c".into(),
            secret_hash: None,
            previous_secret: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Web,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse("read").unwrap(),
            resources: vec!["https://api.example/".into(), "https://other.example/v1".into()],
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

    fn params(resource: Option<&str>) -> Params {
        Params::from_pairs(resource.map(|r| ("resource".to_owned(), r.to_owned())).into_iter().collect()).unwrap()
    }

    #[test]
    fn requested_resource_must_be_registered_absolute_and_without_fragment() {
        let c = client();
        assert_eq!(requested(&params(None), &c).unwrap(), None);
        assert_eq!(
            requested(&params(Some("https://api.example/")), &c).unwrap().as_deref(),
            Some("https://api.example/")
        );
        for bad in ["https://evil.example/", "/relative", "https://api.example/#frag", "https://api.example"] {
            assert_eq!(requested(&params(Some(bad)), &c).unwrap_err().code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn a_grant_keeps_its_resource() {
        let c = client();
        let api = Some("https://api.example/");
        assert_eq!(for_grant(&params(None), &c, api).unwrap().as_deref(), api);
        assert_eq!(for_grant(&params(api), &c, api).unwrap().as_deref(), api);
        assert_eq!(for_grant(&params(None), &c, None).unwrap(), None);
        assert_eq!(for_grant(&params(api), &c, None).unwrap().as_deref(), api, "allowed when the grant had none");
        let other = Some("https://other.example/v1");
        assert_eq!(for_grant(&params(other), &c, api).unwrap_err().code, ErrorCode::InvalidTarget);
        // Regression: a resource an operator took from the client since the grant went on being issued.
        let narrowed = Client { resources: vec!["https://other.example/v1".into()], ..c };
        for asked in [None, api] {
            assert_eq!(for_grant(&params(asked), &narrowed, api).unwrap_err().code, ErrorCode::InvalidTarget);
        }
    }
}
