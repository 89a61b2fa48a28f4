//! The individual checks of the authorization endpoint, in the order [`super::validate`] runs them.
use super::{AuthorizeError, Prompt, ResponseMode};
use crate::domain::scope::ADMIN_SCOPE;
use crate::domain::{Client, ClientId, ClientState, GrantType, Jkt, RedirectUri, Scope};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeChallenge;
use crate::storage::ClientStore;

/// The client must exist; failures are shown on our page.
pub(super) async fn client(params: &Params, clients: &dyn ClientStore) -> Result<Client, AuthorizeError> {
    let raw = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_request("missing client_id")))?;
    let unknown = || AuthorizeError::Page(OAuthError::invalid_client("unknown client_id"));
    let id = ClientId::parse(raw).map_err(|_| unknown())?;
    clients.client(&id).await.map_err(|e| AuthorizeError::Page(e.into()))?.ok_or_else(unknown)
}

/// The redirect URI must be given and registered (exact match; loopback any port). `response_mode` and
/// `state` are read here too, since every later error travels with them: a `state` that is not VSCHAR is shown
/// on our page, as an oversized one is, since an answer could not carry it back as sent.
pub(super) fn redirect_uri(
    params: &Params,
    client: &Client,
) -> Result<(RedirectUri, ResponseMode, Option<ClientState>), AuthorizeError> {
    let page = |d: &str| AuthorizeError::Page(OAuthError::invalid_request(d));
    let raw = params.get("redirect_uri").ok_or_else(|| page("missing redirect_uri"))?;
    let uri = RedirectUri::parse(raw).map_err(|e| page(&format!("invalid redirect_uri: {e}")))?;
    if !client.redirect_uris.iter().any(|r| r.accepts(&uri)) {
        return Err(page("redirect_uri is not registered for this client"));
    }
    let state = params.get("state").map(ClientState::parse).transpose().map_err(|e| page(&e.to_string()))?;
    let mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => {
            return Err(AuthorizeError::Redirect(Box::new(super::ErrorRedirect {
                redirect_uri: uri,
                response_mode: ResponseMode::Query,
                state,
                error: OAuthError::invalid_request("unsupported response_mode (query or form_post)"),
            })))
        }
    };
    Ok((uri, mode, state))
}

/// Registration by parameter is not supported (OIDC Core §7.2.1). A request object is replaced by its verified
/// claims before these checks ([`crate::oauth::request_object`]): one still here was never verified.
pub(super) fn unsupported_features(params: &Params) -> Result<(), OAuthError> {
    if params.get("request").is_some() {
        return Err(OAuthError::new(ErrorCode::InvalidRequestObject, "the request object was not verified"));
    }
    if params.get("registration").is_some() {
        return Err(OAuthError::new(ErrorCode::RegistrationNotSupported, "registration parameter is not supported"));
    }
    Ok(())
}

/// `code` only (OAuth 2.1 drops the implicit and hybrid flows), and the client must be allowed it.
pub(super) fn response_type(params: &Params, client: &Client) -> Result<(), OAuthError> {
    match params.get("response_type") {
        None => Err(OAuthError::invalid_request("missing response_type")),
        Some("code") if client.allows_grant(GrantType::AuthorizationCode) => Ok(()),
        Some("code") => {
            Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use the authorization code flow"))
        }
        Some(_) => Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported")),
    }
}

/// The scope must be within what the client may ask for, and never [`ADMIN_SCOPE`]: that one is the admin
/// client's own (client_credentials), and a user's consent cannot hand it to a user.
pub(crate) fn scope(params: &Params, client: &Client) -> Result<Scope, OAuthError> {
    let scope = Scope::parse(params.get("scope").unwrap_or(""))
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
    if scope.contains(ADMIN_SCOPE) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("{ADMIN_SCOPE} is only issued to the client itself, with the client_credentials grant"),
        ));
    }
    if !scope.is_subset_of(&client.scope) {
        let extra: Vec<&str> = scope.iter().filter(|s| !client.scope.contains(s)).collect();
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope not allowed for this client: {}", extra.join(" ")),
        ));
    }
    // Offline access is a refresh token: a client that cannot refresh gets none, so it is not granted (or
    // shown on the consent page) either.
    if !client.allows_grant(GrantType::RefreshToken) {
        return Ok(scope.without(Scope::OFFLINE_ACCESS));
    }
    Ok(scope)
}

/// RFC 8707: an absolute URI without fragment, among the client's resources (the token endpoint's rule).
pub(super) fn resource(params: &Params, client: &Client) -> Result<Option<String>, OAuthError> {
    crate::oauth::token::resource::requested(params, client)
}

/// S256 only; required for public clients and, unless switched off per client, for confidential ones.
pub(super) fn pkce(params: &Params, client: &Client) -> Result<Option<CodeChallenge>, OAuthError> {
    match params.get("code_challenge") {
        Some(ch) => CodeChallenge::parse(ch, params.get("code_challenge_method")).map(Some),
        None if params.get("code_challenge_method").is_some() => {
            Err(OAuthError::invalid_request("code_challenge_method without code_challenge"))
        }
        None if client.require_pkce || client.is_public() => {
            Err(OAuthError::invalid_request("code_challenge is required (PKCE with S256)"))
        }
        None => Ok(None),
    }
}

/// `prompt` and `max_age`. `create` only when `sign_up` (users may create their own account): otherwise it is a
/// value we do not support, which Initiating User Registration via OpenID Connect 1.0 §4.1 answers with
/// `invalid_request` (it is left out of `prompt_values_supported` then).
pub(super) fn prompt(params: &Params, sign_up: bool) -> Result<(Prompt, Option<i64>), OAuthError> {
    let mut prompt = Prompt::default();
    let mut others = false;
    for value in params.get("prompt").unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        others |= value != "none";
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // A session holds one account: choosing another is signing in again, so the login page is shown.
            "select_account" => prompt.login = true,
            "create" if sign_up => prompt.create = true,
            "create" => return Err(OAuthError::invalid_request("prompt=create is not supported: sign-up is off")),
            other => {
                return Err(OAuthError::invalid_request(format!("unsupported prompt value {:?}", truncate(other))))
            }
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompt.none && others {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| OAuthError::invalid_request("max_age must be a non-negative integer"))?,
        ),
    };
    Ok((prompt, max_age))
}

/// An optional free-text parameter with a length limit.
pub(super) fn bounded(params: &Params, name: &str, max: usize) -> Result<Option<String>, OAuthError> {
    match params.get(name) {
        Some(v) if v.len() > max => Err(OAuthError::invalid_request(format!("{name} is longer than {max} bytes"))),
        Some(v) => Ok(Some(v.to_owned())),
        None => Ok(None),
    }
}

/// `dpop_jkt` (RFC 9449 §10): the thumbprint of the key the code will be bound to.
pub(super) fn dpop_jkt(params: &Params) -> Result<Option<Jkt>, OAuthError> {
    params
        .get("dpop_jkt")
        .map(|v| Jkt::parse(v).ok_or_else(|| OAuthError::invalid_request("dpop_jkt must be a JWK SHA-256 thumbprint")))
        .transpose()
}

fn truncate(s: &str) -> String {
    s.chars().take(32).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt_of(value: &str) -> Result<Prompt, OAuthError> {
        prompt_with(value, false)
    }

    fn prompt_with(value: &str, sign_up: bool) -> Result<Prompt, OAuthError> {
        let params = Params::from_pairs(vec![("prompt".into(), value.into())]).unwrap();
        prompt(&params, sign_up).map(|(p, _)| p)
    }

    #[test]
    fn prompt_none_stands_alone() {
        assert_eq!(prompt_of("none").unwrap(), Prompt { none: true, ..Prompt::default() });
        // OIDC Core §3.1.2.1: none with any other value is an error.
        for value in ["none login", "consent none", "none select_account", "select_account none"] {
            let e = prompt_of(value).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{value}");
        }
    }

    #[test]
    fn select_account_shows_the_login_page() {
        assert_eq!(prompt_of("select_account").unwrap(), Prompt { login: true, ..Prompt::default() });
        assert_eq!(
            prompt_of("select_account consent").unwrap(),
            Prompt { login: true, consent: true, ..Prompt::default() }
        );
    }

    #[test]
    fn unknown_prompt_values_are_refused() {
        assert_eq!(prompt_of("register").unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(prompt_with("register", true).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn create_is_supported_only_with_sign_up_and_never_with_none() {
        assert_eq!(prompt_with("create", true).unwrap(), Prompt { create: true, ..Prompt::default() });
        assert_eq!(
            prompt_with("create consent", true).unwrap(),
            Prompt { create: true, consent: true, ..Prompt::default() }
        );
        assert_eq!(prompt_of("create").unwrap_err().code, ErrorCode::InvalidRequest, "sign-up is off");
        for value in ["none create", "create none"] {
            assert_eq!(prompt_with(value, true).unwrap_err().code, ErrorCode::InvalidRequest, "{value}");
        }
    }
}
