//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): an ordered pipeline of checks that turns
//! raw parameters into an [`AuthorizationRequest`], then [`decide`], which says whether the user must sign
//! in, consent, or gets a code now.
//!
//! Until the client and its redirect URI are verified, errors are [`AuthorizeError::Page`]: an HTML page,
//! never a redirect, so the endpoint cannot be used as an open redirector (RFC 9700 §4.11).
mod checks;
/// The scope check of the authorization endpoint, which the device authorization endpoint makes as well.
pub(crate) use checks::scope as requested_scope;
pub mod decide;

pub use decide::{decide, Next, Progress};

use super::acr::{AcrRequest, MAX_ACR_VALUES_LEN};
use super::claims::ClaimsRequest;
use super::error::OAuthError;
use super::limits::Limited;
use super::params::Params;
use super::pkce::CodeChallenge;
use crate::domain::claims::USER_CLAIMS;
use crate::domain::{Client, ClientId, ClientState, Jkt, RedirectUri, Scope};
use crate::i18n::Locale;
use crate::storage::ClientStore;
use serde::{Deserialize, Serialize};

/// How the authorization response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// An auto-submitted HTML form POSTed to the redirect URI.
    FormPost,
}

/// The `prompt` parameter (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// No page may be shown.
    pub none: bool,
    /// Re-authenticate even with a session (`login`, or `select_account`: a session holds one account).
    pub login: bool,
    /// Ask for consent even if it was given before.
    pub consent: bool,
    /// Show the sign-up page rather than the login page, even to a browser signed in already (`create`,
    /// Initiating User Registration via OpenID Connect 1.0); only while `users.self_registration` is on.
    #[serde(default)]
    pub create: bool,
}

/// A verified authorization request. It is kept in the cache while the user signs in and consents, so it
/// holds only serializable, already-validated values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: ClientId,
    /// The verified redirect URI, as the client sent it.
    #[serde(with = "redirect_uri_serde")]
    pub redirect_uri: RedirectUri,
    /// Echoed back to the client.
    pub state: Option<ClientState>,
    /// Query or form_post.
    pub response_mode: ResponseMode,
    /// Requested scope, within what the client may ask.
    #[serde(with = "scope_serde")]
    pub scope: Scope,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge.
    pub code_challenge: Option<CodeChallenge>,
    /// `prompt`.
    pub prompt: Prompt,
    /// Maximum age of the authentication, in seconds.
    pub max_age: Option<i64>,
    /// Pre-fills the username on the login page.
    pub login_hint: Option<String>,
    /// Requested audience (RFC 8707).
    pub resource: Option<String>,
    /// The user an `id_token_hint` or the `claims` parameter's `sub` value names (OIDC Core §3.1.2.1,
    /// §5.5.1): a session of anyone else does not answer.
    #[serde(default)]
    pub hinted_subject: Option<String>,
    /// The DPoP key the code is to be bound to (`dpop_jkt`, RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<Jkt>,
    /// Claims asked for by name (`claims`, OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "ClaimsRequest::is_empty")]
    pub claims: ClaimsRequest,
    /// The authentication levels it accepts (`claims`' `acr`, `acr_values` or the client's `default_acr_values`).
    #[serde(default, skip_serializing_if = "AcrRequest::is_empty")]
    pub acr: AcrRequest,
    /// The language its pages are to be in: the first of `ui_locales` (OIDC Core §3.1.2.1) that they are written
    /// in. Only kept: the pages read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locale: Option<Locale>,
}

impl AuthorizationRequest {
    /// Whether this is an OpenID Connect request.
    pub fn is_openid(&self) -> bool {
        self.scope.contains(Scope::OPENID)
    }
}

/// Where an authorization error goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on our own HTML page: the redirect URI is not trusted.
    Page(OAuthError),
    /// Sent to the verified redirect URI (boxed: it is large and only built on the error path).
    Redirect(Box<ErrorRedirect>),
    /// No new pending sign-in now: this client IP started too many (`limits.authorize_ip_requests`). Shown on
    /// our page with `Retry-After`, not sent to the client, which would only send the browser back.
    TooManySignIns(Limited),
    /// No new pending sign-in now: the in-process cache holds as many as it may
    /// (`limits.pending_sign_ins_memory_kib`). Shown on our page with `Retry-After`, as above.
    SignInsFull(Limited),
}

/// An error response to a verified redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// Where to.
    pub redirect_uri: RedirectUri,
    /// How.
    pub response_mode: ResponseMode,
    /// The client's `state`.
    pub state: Option<ClientState>,
    /// What went wrong.
    pub error: OAuthError,
}

impl AuthorizationRequest {
    /// An error for this (verified) request, to redirect with.
    pub fn error(&self, error: OAuthError) -> AuthorizeError {
        AuthorizeError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
            error,
        }))
    }
}

/// Runs the ordered checks: client → redirect_uri → a malformed request → response_type → scope → PKCE → prompt
/// → the other parameters (`claims` last).
/// `sign_up` is whether users may create their own account (`users.self_registration`), which `prompt=create`
/// needs.
pub async fn validate(
    params: Params,
    clients: &dyn ClientStore,
    sign_up: bool,
) -> Result<(AuthorizationRequest, Client), AuthorizeError> {
    let client = checks::client(&params, clients).await?;
    let (redirect_uri, response_mode, state) = checks::redirect_uri(&params, &client)?;
    let fail = |error: OAuthError| {
        AuthorizeError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            response_mode,
            state: state.clone(),
            error,
        }))
    };
    if let Some(flaw) = params.flaw() {
        return Err(fail(flaw));
    }
    checks::unsupported_features(&params).map_err(fail)?;
    checks::response_type(&params, &client).map_err(fail)?;
    let scope = checks::scope(&params, &client).map_err(fail)?;
    let resource = checks::resource(&params, &client).map_err(fail)?;
    let code_challenge = checks::pkce(&params, &client).map_err(fail)?;
    let (prompt, max_age) = checks::prompt(&params, sign_up).map_err(fail)?;
    let nonce = checks::bounded(&params, "nonce", 512).map_err(fail)?;
    let login_hint = checks::bounded(&params, "login_hint", 256).map_err(fail)?;
    let dpop_jkt = checks::dpop_jkt(&params).map_err(fail)?;
    let mut claims = params.get("claims").map(ClaimsRequest::parse).transpose().map_err(fail)?.unwrap_or_default();
    let hinted_subject = claims.take_subject();
    // A claim is for the clients allowed the scope that releases it (the operator left `email` out of a client's
    // scope to keep addresses from it): others are not given it by name either.
    for (claim, scope) in USER_CLAIMS {
        if !client.scope.contains(scope) {
            claims.withhold(claim);
        }
    }
    let acr_values = checks::bounded(&params, "acr_values", MAX_ACR_VALUES_LEN).map_err(fail)?;
    // An acr claim request says whether the levels are essential (OIDC Core §5.5.1.1); acr_values are voluntary.
    let acr = claims.take_acr().unwrap_or_else(|| match &acr_values {
        Some(values) => AcrRequest::voluntary(values.split(' ')),
        None => AcrRequest::voluntary(client.metadata.default_acr_values.iter().map(String::as_str)),
    });
    // A hint, never refused: tags that name none of the pages' languages leave the choice to the browser.
    let ui_locale = params.get("ui_locales").and_then(Locale::of_ui_locales);
    Ok((
        AuthorizationRequest {
            client_id: client.id.clone(),
            redirect_uri,
            state,
            response_mode,
            scope,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint,
            resource,
            hinted_subject,
            dpop_jkt,
            claims,
            acr,
            ui_locale,
        },
        client,
    ))
}

mod redirect_uri_serde {
    use crate::domain::RedirectUri;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &RedirectUri, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RedirectUri, D::Error> {
        let s = String::deserialize(d)?;
        RedirectUri::parse(&s).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod scope_serde {
    use crate::domain::Scope;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Scope, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Client `c`'s request for `openid profile` to `https://app.example/cb`, with `prompt` and `max_age`: for tests.
#[cfg(test)]
pub(crate) fn test_request(prompt: Prompt, max_age: Option<i64>) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: ClientId::parse("c").unwrap(),
        redirect_uri: RedirectUri::parse("https://app.example/cb").unwrap(),
        state: Some(ClientState::parse("s").unwrap()),
        response_mode: ResponseMode::Query,
        scope: Scope::parse("openid profile").unwrap(),
        nonce: None,
        code_challenge: None,
        prompt,
        max_age,
        login_hint: None,
        resource: None,
        hinted_subject: None,
        dpop_jkt: None,
        claims: Default::default(),
        acr: Default::default(),
        ui_locale: None,
    }
}
