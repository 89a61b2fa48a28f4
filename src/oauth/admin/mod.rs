//! Administration of clients and users, shared by the operator commands (`tessera clients …`, `tessera users …`,
//! `tessera audit list`) and the admin API (`/admin/api/…`): the checks on what an operator asks for, the JSON
//! forms of clients, users and audit events, and the operations over the storage traits. Each edge phrases
//! input errors its own way (`--redirect-uri` on the command line, `redirect_uris` in JSON), so the errors here
//! are data, not sentences that name a flag.
//!
//! The admin API is a protected resource (RFC 6750): [`Provider::admin_caller`] accepts a live access token
//! carrying [`ADMIN_SCOPE`] whose client is still an admin client and which names no user (the scope is the
//! client's own, from the client_credentials grant). Every change made through the API is recorded
//! in the audit trail with that client as the actor.
use super::audit::{EventFacts, RequestMeta};
use super::client_assertion::SIGNING_ALGS;
use super::client_keys::{parse_jwks_uri, ClientJwks, JwksFetcher, Reach};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::provider::Provider;
use super::registration::sector::check_sector_identifier;
use crate::domain::client_rules::{self, ClientRuleError, MAX_CLIENT_URIS};
use crate::domain::password::{hash_password, Password};
use crate::domain::scope::{ScopeError, ADMIN_SCOPE};
use crate::domain::secret::PlainSecret;
use crate::domain::text;
use crate::domain::{
    ApplicationType, Client, ClientAuthMethod, ClientId, ClientMetadata, FederatedIdentity, GrantType, NewUser,
    RedirectUri, Scope, SubjectType, UnixTime, User, UserId, Username,
};
use crate::storage::{AuditCursor, AuditEvent, AuditFilter, ClientStore, StoreError, Unlinked, UserStore, UserUpdate};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

mod api;
mod consents;
mod groups;
mod passkeys;
mod search;
mod sessions;
pub use api::AdminCaller;
pub use consents::consent_json;
pub use groups::{
    create_group, delete_group, group_json, group_listing_json, group_members, member_json, membership_event, no_group,
    parse_group_name, set_membership,
};
pub use passkeys::{no_passkey, passkey_json};
pub use search::{event_types, user_filter, MAX_EVENT_TYPES, MAX_SEARCH_LEN};
pub use sessions::{session_json, user_sessions_json};

/// Scopes a client may ask for when none are given.
pub const DEFAULT_CLIENT_SCOPE: &str = "openid profile email offline_access";
/// Items in a page of a list when the request does not say.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Most items in one page of a list.
pub const MAX_PAGE_SIZE: i64 = 200;
/// Longest display name of a user, in bytes.
pub const MAX_USER_NAME_LEN: usize = 200;
/// Longest email address, in bytes (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

// --- JSON forms ---

/// The JSON form of a client (never its secret, hashed or not).
pub fn client_json(c: &Client) -> Value {
    json!({
        "client_id": c.id.as_str(),
        "client_name": c.name,
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "application_type": c.application_type.as_str(),
        "redirect_uris": c.redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        "post_logout_redirect_uris": c.post_logout_redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "resources": c.resources,
        "first_party": c.first_party,
        "admin": c.admin,
        "require_pkce": c.require_pkce,
        "access_token_ttl": c.access_token_ttl,
        "jwks_uri": c.metadata.jwks_uri,
        "jwks": c.metadata.jwks,
        "token_endpoint_auth_signing_alg": c.metadata.token_endpoint_auth_signing_alg,
        "default_max_age": c.metadata.default_max_age,
        "default_acr_values": c.metadata.default_acr_values,
        "require_pushed_authorization_requests": c.metadata.require_pushed_authorization_requests.unwrap_or(false),
        "require_signed_request_object": c.metadata.require_signed_request_object.unwrap_or(false),
        "request_object_signing_alg": c.metadata.request_object_signing_alg,
        "dpop_bound_access_tokens": c.metadata.dpop_bound_access_tokens.unwrap_or(false),
        "backchannel_logout_uri": c.metadata.backchannel_logout_uri,
        "backchannel_logout_session_required": c.metadata.backchannel_logout_session_required.unwrap_or(false),
        "frontchannel_logout_uri": c.metadata.frontchannel_logout_uri,
        "frontchannel_logout_session_required": c.metadata.frontchannel_logout_session_required.unwrap_or(false),
        "subject_type": c.subject_type().as_str(),
        "sector_identifier_uri": c.metadata.sector_identifier_uri,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// The JSON form of a user (never the password hash), with whether they have two-step verification and whether
/// their password is temporary.
pub fn user_json(u: &User, otp_enabled: bool) -> Value {
    json!({
        "id": u.id.as_str(),
        "username": u.username.as_str(),
        "email": u.email,
        "email_verified": u.email_verified,
        "name": u.name,
        "disabled": u.disabled,
        "otp_enabled": otp_enabled,
        "password_change_required": u.password_change_required,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

/// The JSON form of a user's link to an upstream identity (the admin API and `tessera users identities`).
pub fn identity_json(l: &FederatedIdentity) -> Value {
    json!({
        "provider": l.provider_id, "subject": l.subject, "created_at": l.created_at, "last_used_at": l.last_used_at,
    })
}

/// The JSON form of an audit event.
pub fn audit_event_json(e: &AuditEvent) -> Value {
    json!({
        "id": e.id, "at": e.at, "kind": e.kind, "actor": e.actor, "user_id": e.user_id,
        "client_id": e.client_id, "ip": e.ip, "user_agent": e.user_agent, "request_id": e.request_id,
        "details": e.details,
    })
}

// --- Errors ---

/// Why a client description was refused. The edges phrase these: the `Display` form names JSON fields.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientInputError {
    /// A rule every client follows (name, redirect URIs, grants, authentication, keys, admin scope).
    #[error("{0}")]
    Rule(ClientRuleError),
    /// A post-logout redirect URI was refused.
    #[error("post_logout_redirect_uris: {0}")]
    PostLogoutRedirectUri(ClientRuleError),
    /// An unknown token endpoint authentication method.
    #[error("{0}")]
    AuthMethod(String),
    /// An application type other than `web` and `native`.
    #[error("application_type: {0}")]
    ApplicationType(String),
    /// The scope is malformed.
    #[error("scope: {0}")]
    Scope(ScopeError),
    /// A resource indicator was refused.
    #[error("{0}")]
    Resource(String),
    /// The access token lifetime is not from 1 to the server's ceiling.
    #[error("access_token_ttl must be from 1 to {max} seconds (the server's tokens.max_access_token_ttl_seconds)")]
    AccessTokenTtl {
        /// The ceiling, `tokens.max_access_token_ttl_seconds`.
        max: i64,
    },
    /// A public client without PKCE.
    #[error("public clients always use PKCE")]
    PublicWithoutPkce,
    /// A `private_key_jwt` client without keys.
    #[error("private_key_jwt clients need jwks or jwks_uri")]
    KeysMissing,
    /// The JWK Set was refused.
    #[error("jwks: {0}")]
    Jwks(String),
    /// A secret was given for a client that authenticates without one.
    #[error("this client authenticates without a secret")]
    SecretWithoutSecretMethod,
    /// The JWK Set URL was refused.
    #[error("jwks_uri: {0}")]
    JwksUri(String),
    /// A request object signing algorithm the server does not accept.
    #[error("request_object_signing_alg must be RS256 or ES256")]
    RequestObjectSigningAlg,
    /// An authentication level the server does not offer, or one named twice.
    #[error("default_acr_values must name levels offered here (1, 2), each once")]
    DefaultAcrValues,
    /// A subject type other than public and pairwise.
    #[error("subject_type: {0}")]
    SubjectType(String),
    /// The sector identifier document could not be fetched or does not list the redirect URIs.
    #[error("{0}")]
    SectorIdentifier(String),
}

/// Why an administrative operation failed; the edges pick the status or exit message.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A client description was refused.
    #[error("{0}")]
    Client(#[from] ClientInputError),
    /// The request is malformed or a value is refused.
    #[error("{0}")]
    Invalid(String),
    /// The client or user does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change clashes with what exists (a username taken).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A protocol error: the bearer token was refused, or the server failed.
    #[error("{0}")]
    Protocol(#[from] OAuthError),
}

/// The error for an unknown client.
pub fn no_client(id: &str) -> AdminError {
    AdminError::NotFound(format!("no client {id}"))
}

/// The error of a client update refused by the store: gone, or its secret rotated since it was read.
pub(crate) fn changed_meanwhile(e: StoreError, id: &ClientId) -> AdminError {
    match e {
        StoreError::NotFound => no_client(id.as_str()),
        StoreError::Conflict(_) => AdminError::Conflict(format!(
            "client {id} was changed meanwhile (another update, a secret rotation); try again"
        )),
        other => other.into(),
    }
}

/// The error for an unknown user.
pub fn no_user(id: &str) -> AdminError {
    AdminError::NotFound(format!("no user {id}"))
}

/// A JSON body that does not parse. serde's messages quote offending values, which for a user could be a
/// password sent with the wrong type: those are replaced by the position.
fn body_error(what: &str, e: &serde_json::Error) -> AdminError {
    let message = e.to_string();
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        AdminError::Invalid(format!("{what}: a value has the wrong type at line {} column {}", e.line(), e.column()))
    } else {
        AdminError::Invalid(format!("{what}: {message}"))
    }
}

// --- Clients ---

/// A client as an operator describes it: the fields of `tessera clients add` and of the admin API's
/// `POST` and `PUT /admin/api/clients…`. Absent fields take their defaults, so a `PUT` replaces everything.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Display name.
    pub client_name: String,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// How it authenticates (default `client_secret_basic`; `none` makes a public client).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// `web` or `native` (default: native when a redirect or post-logout redirect URI has a private-use scheme,
    /// as [`ApplicationType::implied_by`] says, else web). Operators are trusted with any combination: the
    /// redirect URI rules of each type bind self-registered clients only.
    #[serde(default)]
    pub application_type: Option<String>,
    /// Grant types (default `authorization_code` and `refresh_token`; `client_credentials` for an admin client
    /// without redirect URIs).
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Space-separated scopes it may request (default [`DEFAULT_CLIENT_SCOPE`]).
    #[serde(default)]
    pub scope: Option<String>,
    /// Resource indicators it may request (RFC 8707).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Users are not asked for consent.
    #[serde(default)]
    pub first_party: bool,
    /// May obtain [`ADMIN_SCOPE`], which is then added to its scope.
    #[serde(default)]
    pub admin: bool,
    /// Whether PKCE is required (default true; public clients always require it).
    #[serde(default)]
    pub require_pkce: Option<bool>,
    /// Access token lifetime in seconds, at most the server's `tokens.max_access_token_ttl_seconds`.
    #[serde(default)]
    pub access_token_ttl: Option<i64>,
    /// For `private_key_jwt` and signed request objects: the client's public keys.
    #[serde(default)]
    pub jwks: Option<Value>,
    /// For `private_key_jwt` and signed request objects: where the client publishes its keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Whether `/authorize` takes its requests only pushed (RFC 9126 §6); absent: as it was (false for a new
    /// client).
    #[serde(default)]
    pub require_pushed_authorization_requests: Option<bool>,
    /// Whether the token endpoint issues it DPoP-bound access tokens only (RFC 9449 §5.2); absent: as it was
    /// (false for a new client).
    #[serde(default)]
    pub dpop_bound_access_tokens: Option<bool>,
    /// Whether `/authorize` and `/par` take its requests only as signed request objects (RFC 9101 §10.5); absent:
    /// as it was (false for a new client). The client then needs `jwks` or `jwks_uri`.
    #[serde(default)]
    pub require_signed_request_object: Option<bool>,
    /// The one algorithm its request objects may be signed with (`RS256` or `ES256`); absent: any of them.
    #[serde(default)]
    pub request_object_signing_alg: Option<String>,
    /// The authentication levels its requests that name none ask for (`"1"`, `"2"`), in order of preference;
    /// absent: none.
    #[serde(default)]
    pub default_acr_values: Vec<String>,
    /// Where the client is sent logout tokens (OpenID Connect Back-Channel Logout 1.0); absent: none.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`; absent: false.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Where the signed-out page frames the client (OpenID Connect Front-Channel Logout 1.0); absent: none.
    #[serde(default)]
    pub frontchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_session_required`; absent: false.
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// `public` or `pairwise` (OpenID Connect Core 1.0 §8); absent: public.
    #[serde(default)]
    pub subject_type: Option<String>,
    /// Where a pairwise client's sector is listed (a JSON array of its redirect URIs), fetched when it is saved;
    /// absent: the one host of its redirect URIs is its sector.
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    /// Read-only; accepted so that what `GET` returns can be sent back, and then it must name the client.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Read-only: what a dynamically registered client asked for; kept (the algorithm until the keys change).
    #[serde(default, rename = "token_endpoint_auth_signing_alg")]
    _token_endpoint_auth_signing_alg: Option<IgnoredAny>,
    /// Read-only: what a dynamically registered client asked for; kept.
    #[serde(default, rename = "default_max_age")]
    _default_max_age: Option<IgnoredAny>,
    /// Read-only, ignored.
    #[serde(default, rename = "created_at")]
    _created_at: Option<IgnoredAny>,
    /// Read-only, ignored.
    #[serde(default, rename = "updated_at")]
    _updated_at: Option<IgnoredAny>,
}

impl ClientSpec {
    /// A description with `name` and every other field at its default.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            client_name: name.into(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            token_endpoint_auth_method: None,
            application_type: None,
            grant_types: None,
            scope: None,
            resources: Vec::new(),
            first_party: false,
            admin: false,
            require_pkce: None,
            access_token_ttl: None,
            jwks: None,
            jwks_uri: None,
            require_pushed_authorization_requests: None,
            dpop_bound_access_tokens: None,
            require_signed_request_object: None,
            request_object_signing_alg: None,
            default_acr_values: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            frontchannel_logout_uri: None,
            frontchannel_logout_session_required: false,
            subject_type: None,
            sector_identifier_uri: None,
            client_id: None,
            _token_endpoint_auth_signing_alg: None,
            _default_max_age: None,
            _created_at: None,
            _updated_at: None,
        }
    }

    /// Parses a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, AdminError> {
        serde_json::from_slice(body).map_err(|e| body_error("the body is not a client description", &e))
    }
}

/// Checks a resource indicator: an absolute URI without fragment (RFC 8707 §2).
pub fn parse_resource(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|_| format!("resource {s:?} is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(format!("resource {s:?} must not contain a fragment"));
    }
    Ok(s.to_owned())
}

/// The key metadata of a client: an inline JWK Set (public keys only) or a `jwks_uri`, which `private_key_jwt`
/// clients need exactly one of. That other clients have neither is [`client_rules::check_client`]'s rule, as
/// for registration. The rest of `base` is kept, except the algorithm its assertions had to be signed with
/// (`token_endpoint_auth_signing_alg`, which only dynamic registration sets) once it signs none or its keys
/// change: an operator who gives an RS256 client an EC key must not lock it out.
fn key_metadata(
    auth_method: ClientAuthMethod,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
    mut base: ClientMetadata,
) -> Result<ClientMetadata, ClientInputError> {
    let same_keys = base.jwks.as_ref() == jwks && base.jwks_uri.as_deref() == jwks_uri;
    if auth_method != ClientAuthMethod::PrivateKeyJwt || !same_keys {
        base.token_endpoint_auth_signing_alg = None;
    }
    base.jwks = None;
    base.jwks_uri = None;
    match (jwks, jwks_uri) {
        (Some(value), None) => {
            ClientJwks::parse(value).map_err(|e| ClientInputError::Jwks(e.to_string()))?;
            base.jwks = Some(value.clone());
        }
        (None, Some(uri)) => {
            base.jwks_uri =
                Some(parse_jwks_uri(uri).map_err(|e| ClientInputError::JwksUri(e.to_string()))?.to_string());
        }
        (Some(_), Some(_)) => return Err(ClientInputError::Rule(ClientRuleError::KeysTwice)),
        (None, None) if auth_method == ClientAuthMethod::PrivateKeyJwt => return Err(ClientInputError::KeysMissing),
        (None, None) => {}
    }
    Ok(base)
}

/// Builds the client `spec` describes, with id `id`, checked by [`client_rules::check_client`]. When it
/// replaces `previous`, creation time, revocation cut-off and display metadata are kept, and so is the secret
/// while the client still authenticates with one. A client that needs a secret and has none is issued one,
/// returned here to be shown once. Its access token lifetime may not exceed `max_access_token_ttl`, the
/// longest the key ring keeps a retired key for.
pub fn build_client(
    spec: &ClientSpec,
    id: ClientId,
    previous: Option<&Client>,
    max_access_token_ttl: i64,
    now: UnixTime,
) -> Result<(Client, Option<PlainSecret>), ClientInputError> {
    let auth_method = match spec.token_endpoint_auth_method.as_deref() {
        Some(m) => m.parse::<ClientAuthMethod>().map_err(ClientInputError::AuthMethod)?,
        None => ClientAuthMethod::ClientSecretBasic,
    };
    let public = auth_method == ClientAuthMethod::None;
    let grant_types = match &spec.grant_types {
        Some(g) => client_rules::parse_grant_types(g).map_err(ClientInputError::Rule)?,
        // The admin scope is issued by the client_credentials grant alone.
        None if spec.admin && spec.redirect_uris.is_empty() => vec![GrantType::ClientCredentials],
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    let redirect_uris = client_rules::parse_redirect_uris(&spec.redirect_uris).map_err(ClientInputError::Rule)?;
    let post_logout_redirect_uris = client_rules::parse_redirect_uris(&spec.post_logout_redirect_uris)
        .map_err(ClientInputError::PostLogoutRedirectUri)?;
    let application_type = match spec.application_type.as_deref() {
        Some(t) => t.parse::<ApplicationType>().map_err(ClientInputError::ApplicationType)?,
        None => ApplicationType::implied_by(redirect_uris.iter().chain(&post_logout_redirect_uris)),
    };
    let mut scope =
        Scope::parse(spec.scope.as_deref().unwrap_or(DEFAULT_CLIENT_SCOPE)).map_err(ClientInputError::Scope)?;
    if spec.admin && !scope.contains(ADMIN_SCOPE) {
        scope = Scope::parse(&format!("{scope} {ADMIN_SCOPE}")).map_err(ClientInputError::Scope)?;
    }
    if spec.resources.len() > MAX_CLIENT_URIS {
        return Err(ClientInputError::Resource(format!("at most {MAX_CLIENT_URIS} resources may be registered")));
    }
    let resources = spec
        .resources
        .iter()
        .map(|r| parse_resource(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClientInputError::Resource)?;
    let base = previous.map(|p| p.metadata.clone()).unwrap_or_default();
    let mut metadata = key_metadata(auth_method, spec.jwks.as_ref(), spec.jwks_uri.as_deref(), base)?;
    if let Some(required) = spec.require_pushed_authorization_requests {
        // Stored only when set: `false` is what an absent member means.
        metadata.require_pushed_authorization_requests = required.then_some(true);
    }
    if let Some(bound) = spec.dpop_bound_access_tokens {
        metadata.dpop_bound_access_tokens = bound.then_some(true);
    }
    if let Some(required) = spec.require_signed_request_object {
        metadata.require_signed_request_object = required.then_some(true);
    }
    // Replaced: what `GET` shows is what a `PUT` keeps.
    metadata.request_object_signing_alg = match spec.request_object_signing_alg.as_deref() {
        None => None,
        Some(alg) if SIGNING_ALGS.contains(&alg) => Some(alg.to_owned()),
        Some(_) => return Err(ClientInputError::RequestObjectSigningAlg),
    };
    if !super::acr::valid_defaults(&spec.default_acr_values) {
        return Err(ClientInputError::DefaultAcrValues);
    }
    metadata.default_acr_values = spec.default_acr_values.clone();
    // Replaced like the other links: what `GET` shows is what a `PUT` keeps.
    metadata.backchannel_logout_uri = spec.backchannel_logout_uri.clone();
    metadata.backchannel_logout_session_required = spec.backchannel_logout_session_required.then_some(true);
    metadata.frontchannel_logout_uri = spec.frontchannel_logout_uri.clone();
    metadata.frontchannel_logout_session_required = spec.frontchannel_logout_session_required.then_some(true);
    // Stored only when pairwise: public is what an absent member means.
    metadata.subject_type = match spec.subject_type.as_deref() {
        None => None,
        Some(t) => Some(t.parse::<SubjectType>().map_err(ClientInputError::SubjectType)?)
            .filter(|t| *t == SubjectType::Pairwise),
    };
    metadata.sector_identifier_uri = spec.sector_identifier_uri.clone();
    if spec.access_token_ttl.is_some_and(|ttl| !(1..=max_access_token_ttl).contains(&ttl)) {
        return Err(ClientInputError::AccessTokenTtl { max: max_access_token_ttl });
    }
    if public && spec.require_pkce == Some(false) {
        return Err(ClientInputError::PublicWithoutPkce);
    }
    let kept = previous
        .filter(|_| client_rules::uses_secret(auth_method))
        .and_then(|p| p.secret_hash.clone().map(|hash| (hash, p.previous_secret.clone())));
    let (secret_hash, previous_secret, issued) = match kept {
        Some((hash, overlap)) => (Some(hash), overlap, None),
        None => {
            let issued = client_rules::secret_for(auth_method);
            (issued.as_ref().map(PlainSecret::hash), None, issued)
        }
    };
    let client = Client {
        id,
        name: spec.client_name.clone(),
        secret_hash,
        previous_secret,
        auth_method,
        application_type,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        scope,
        resources,
        first_party: spec.first_party,
        admin: spec.admin,
        require_pkce: public || spec.require_pkce.unwrap_or(true),
        access_token_ttl: spec.access_token_ttl,
        metadata,
        created_at: previous.map_or(now, |p| p.created_at),
        updated_at: now,
        revoked_before: previous.and_then(|p| p.revoked_before),
        revision: previous.map_or(0, |p| p.revision),
    };
    client_rules::check_client(&client).map_err(ClientInputError::Rule)?;
    Ok((client, issued))
}

/// Builds and stores a new client; returns it with its secret (when it has one) to show once. `fetcher` reads
/// a pairwise client's `sector_identifier_uri`.
pub async fn create_client(
    clients: &dyn ClientStore,
    fetcher: &dyn JwksFetcher,
    spec: &ClientSpec,
    max_access_token_ttl: i64,
    now: UnixTime,
) -> Result<(Client, Option<PlainSecret>), AdminError> {
    create_client_as(clients, fetcher, spec, ClientId::generate(), None, max_access_token_ttl, now).await
}

/// Checks the `sector_identifier_uri` of an operator's pairwise client ([`check_sector_identifier`]): the
/// operator may point it anywhere.
pub async fn check_client_sector(fetcher: &dyn JwksFetcher, client: &Client) -> Result<(), ClientInputError> {
    check_sector_identifier(fetcher, client, Reach::Anywhere)
        .await
        .map_err(|e| ClientInputError::SectorIdentifier(e.description))
}

/// Like [`create_client`] with an id chosen by the operator and, optionally, a secret brought from elsewhere
/// (migrating clients from another server). An imported secret replaces the generated one and is not
/// returned.
pub async fn create_client_as(
    clients: &dyn ClientStore,
    fetcher: &dyn JwksFetcher,
    spec: &ClientSpec,
    id: ClientId,
    imported_secret: Option<PlainSecret>,
    max_access_token_ttl: i64,
    now: UnixTime,
) -> Result<(Client, Option<PlainSecret>), AdminError> {
    let (mut client, mut secret) = build_client(spec, id, None, max_access_token_ttl, now)?;
    check_client_sector(fetcher, &client).await?;
    if let Some(imported) = imported_secret {
        if client.secret_hash.is_none() {
            return Err(ClientInputError::SecretWithoutSecretMethod.into());
        }
        client.secret_hash = Some(imported.hash());
        secret = None;
    }
    clients.create_client(&client).await?;
    Ok((client, secret))
}

/// A new secret for a client; the previous one keeps working for `overlap` seconds. Returns the secret, to
/// show once, and the end of the overlap.
pub async fn rotate_client_secret(
    clients: &dyn ClientStore,
    id: &ClientId,
    overlap: i64,
    now: UnixTime,
) -> Result<(PlainSecret, UnixTime), AdminError> {
    let mut client = clients.client(id).await?.ok_or_else(|| no_client(id.as_str()))?;
    let old = client.secret_hash.take().ok_or_else(|| {
        AdminError::Invalid(format!("client {id} authenticates with {}, not a secret", client.auth_method.as_str()))
    })?;
    let secret = PlainSecret::generate();
    let until = now + overlap;
    client.secret_hash = Some(secret.hash());
    client.previous_secret = Some((old.clone(), until));
    client.updated_at = now;
    clients.update_client(&client).await.map_err(|e| changed_meanwhile(e, id))?;
    Ok((secret, until))
}

// --- Users ---

/// Parses a username that names an existing account.
pub fn parse_username(s: &str) -> Result<Username, AdminError> {
    Username::parse(s).map_err(|e| AdminError::Invalid(format!("invalid username: {e}")))
}

/// Parses the username of an account being created ([`Username::parse_new`]).
pub fn parse_new_username(s: &str) -> Result<Username, AdminError> {
    Username::parse_new(s).map_err(|e| AdminError::Invalid(format!("invalid username: {e}")))
}

/// Checks an email address: roughly shaped like one, and not too long (nothing is sent to it here).
pub fn check_email(email: &str) -> Result<(), AdminError> {
    let ok = email.len() <= MAX_EMAIL_LEN
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("invalid email address {:?}", email.chars().take(100).collect::<String>())))
    }
}

/// Checks a display name: 1 to [`MAX_USER_NAME_LEN`] bytes without control characters, and, since pages show it
/// amid their own words, without invisible ones (bidi controls, zero-width characters) save a joiner where a
/// script or an emoji sequence needs it ([`text::has_hidden_character`]), as for client names.
pub fn check_user_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty()
        || name.len() > MAX_USER_NAME_LEN
        || name.chars().any(char::is_control)
        || text::has_hidden_character(name)
    {
        return Err(AdminError::Invalid(format!(
            "the name must be 1 to {MAX_USER_NAME_LEN} characters, without control or invisible formatting characters"
        )));
    }
    Ok(())
}

/// Parses a new password.
pub fn parse_password(s: impl Into<String>) -> Result<Password, AdminError> {
    Password::parse_new(s).map_err(AdminError::Invalid)
}

/// Stores a new user; `Conflict` when the username is taken, in this or another letter case.
pub async fn create_user(users: &dyn UserStore, user: NewUser) -> Result<User, AdminError> {
    let username = user.username.clone();
    users.create_user(user).await.map_err(|e| match e {
        StoreError::Conflict(what) if what == "username" => username_taken(&username),
        other => other.into(),
    })
}

/// The refusal of a new user whose username another account has, in this or another letter case.
fn username_taken(username: &Username) -> AdminError {
    AdminError::Conflict(format!(
        "a user named {username} already exists (usernames are matched in any letter case and Unicode form)"
    ))
}

/// The refusal of `email_verified: true` for a user who would have no address.
fn verified_without_address() -> AdminError {
    AdminError::Invalid("email_verified is said of an email address: the user has none".into())
}

/// `POST /admin/api/users`. The password stays out of `Debug` (there is none).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
    /// The operator vouches that the address is the user's (as `tessera users add --email-verified`).
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    name: Option<String>,
    /// The password is temporary: the user chooses their own at their next sign-in.
    #[serde(default)]
    temporary: bool,
}

/// `PATCH /admin/api/users/{id}`: absent fields stay, `null` clears `email` or `name`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    /// Absent, a changed address is unverified.
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
    /// With `password`: whether it is temporary (absent: not).
    #[serde(default)]
    temporary: Option<bool>,
}

/// A field that is present, possibly `null`: `Some(None)` for `null`, so that it differs from absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests;
