//! Client metadata of registration requests (RFC 7591 §2, RFC 7592 §2.2): read from JSON, checked against
//! what a self-registered client may be, and turned into a [`Client`]; and the client information response
//! (RFC 7591 §3.2.1, RFC 7592 §3). The consistency rules every client obeys are in
//! [`crate::domain::client_rules`]; this module adds those for strangers: https-only links, public keys
//! only, no admin scope, reverse-domain private-use schemes (RFC 8252 §7.1), and those only for native apps
//! (OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`).
//!
//! Unknown members are ignored (RFC 7591 §2), but not the OpenID Connect ones whose loss the client would not
//! notice: a value the server does not honour (another signing algorithm, encryption, request objects by
//! reference, front-channel logout) is refused with `invalid_client_metadata` (OpenID Connect
//! Dynamic Client Registration 1.0 §3.2), and the effective `id_token_signed_response_alg` and `subject_type`
//! are in every client information response.
use super::super::acr::{valid_defaults, ACR_VALUES};
use super::super::client_assertion::SIGNING_ALGS;
use super::super::client_keys::{is_internal_address, ClientJwks};
use super::super::discovery::{ID_TOKEN_SIGNING_ALG, SUBJECT_TYPES};
use super::super::error::{ErrorCode, OAuthError};
use crate::domain::client_rules::{self, ClientRuleError};
use crate::domain::redirect_uri::RedirectUri;
use crate::domain::scope::ADMIN_SCOPE;
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::{
    ApplicationType, Client, ClientAuthMethod, ClientId, ClientMetadata, GrantType, Scope, SubjectType, UnixTime,
};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// Largest registration request body, in bytes.
pub const MAX_REGISTRATION_BYTES: usize = 64 * 1024;
/// The scopes a self-registered client may be allowed; never the admin scope.
pub const REGISTRABLE_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// Most contacts one client may list.
pub const MAX_CONTACTS: usize = 10;
/// Longest contact, in bytes.
const MAX_CONTACT_LEN: usize = 256;
/// Longest link (`client_uri`, `logo_uri`, …), in bytes.
const MAX_LINK_LEN: usize = 2000;

/// OpenID Connect Dynamic Client Registration 1.0 §2 members that ask for what the server does not do, with
/// what it does instead. Any value is refused: ignored like an unknown member, it would leave the client
/// waiting for an encrypted ID token, a signed userinfo answer or a logout notice that never comes, or sending
/// request objects nobody reads. `null`, `""` and an empty list ask for nothing.
const UNSUPPORTED_MEMBERS: [(&str, &str); 8] = [
    ("id_token_encrypted_response_alg", ID_TOKENS_ARE_SIGNED),
    ("id_token_encrypted_response_enc", ID_TOKENS_ARE_SIGNED),
    ("userinfo_signed_response_alg", USERINFO_IS_JSON),
    ("userinfo_encrypted_response_alg", USERINFO_IS_JSON),
    ("userinfo_encrypted_response_enc", USERINFO_IS_JSON),
    ("request_object_encryption_alg", SIGNED_REQUEST_OBJECTS),
    ("request_object_encryption_enc", SIGNED_REQUEST_OBJECTS),
    ("request_uris", NO_REQUEST_URIS),
];
const ID_TOKENS_ARE_SIGNED: &str = "ID tokens are signed with RS256 and never encrypted";
const USERINFO_IS_JSON: &str = "the userinfo endpoint answers plain JSON, neither signed nor encrypted";
const SIGNED_REQUEST_OBJECTS: &str = "request objects are signed (request_object_signing_alg), never encrypted";
const NO_REQUEST_URIS: &str =
    "request objects are sent by value (request) or pushed (PAR), never fetched from a request_uri";

/// Refuses an update that would move `current`'s users to other subjects: a pairwise client's sector (its
/// `sector_identifier_uri`'s host, else its redirect URIs') and its subject type stay as registered, so that a
/// refreshed ID token names the user as the first did (Core §12.2) and a client cannot take another app's
/// pairwise subjects of its users (Core §8.1).
pub fn sector_kept(current: &Client, updated: &Client) -> Result<(), OAuthError> {
    if current.sector() == updated.sector() {
        return Ok(());
    }
    Err(metadata_error(
        "subject_type and the sector (the host of sector_identifier_uri, else of the redirect URIs) cannot change: \
         register a new client",
    ))
}

/// An `invalid_client_metadata` error.
pub fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// The error a broken client rule is reported as: redirect URI problems as `invalid_redirect_uri`, the rest
/// as `invalid_client_metadata`.
pub fn rule_error(e: ClientRuleError) -> OAuthError {
    match e {
        ClientRuleError::RedirectUri { .. } => redirect_error(e.to_string()),
        other => metadata_error(other.to_string()),
    }
}

/// A JSON object whose members were each given once.
struct UniqueMembers {
    members: Map<String, Value>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueMembers, A::Error> {
                let mut members = Map::new();
                let mut duplicate = None;
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if members.contains_key(&key) && duplicate.is_none() {
                        duplicate = Some(key.chars().take(64).collect());
                    }
                    members.insert(key, value);
                }
                Ok(UniqueMembers { members, duplicate })
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// The metadata members of a registration or update request, as sent. Unknown members are ignored (RFC 7591
/// §2); `null` counts as absent (RFC 7592 §2.2). Holds a secret, so its `Debug` shows only the `client_id`.
#[derive(Default)]
pub struct RequestedMetadata {
    /// `client_id`: required in an update, ignored in a registration.
    pub client_id: Option<String>,
    /// `client_secret`: in an update, must be the current secret when given.
    pub client_secret: Option<String>,
    application_type: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    jwks_uri: Option<String>,
    jwks: Option<Value>,
    scope: Option<String>,
    contacts: Option<Vec<String>>,
    id_token_signed_response_alg: Option<String>,
    subject_type: Option<String>,
    sector_identifier_uri: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    default_max_age: Option<i64>,
    default_acr_values: Option<Vec<String>>,
    require_auth_time: Option<bool>,
    require_pushed_authorization_requests: Option<bool>,
    require_signed_request_object: Option<bool>,
    request_object_signing_alg: Option<String>,
    dpop_bound_access_tokens: Option<bool>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    frontchannel_logout_uri: Option<String>,
    frontchannel_logout_session_required: Option<bool>,
}

impl fmt::Debug for RequestedMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestedMetadata").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

fn string_member(m: &Map<String, Value>, key: &str) -> Result<Option<String>, OAuthError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(format!("{key} must be a string"))),
    }
}

/// A string member where `""` asks for nothing, as `null` does: registration clients that send every member of
/// their type send `""` for the ones not set (RFC 7592 §2.2 lets the server ignore empty values).
fn choice_member(m: &Map<String, Value>, key: &str) -> Result<Option<String>, OAuthError> {
    Ok(string_member(m, key)?.filter(|s| !s.is_empty()))
}

fn strings_member(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    let bad = || metadata_error(format!("{key} must be an array of strings"));
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(bad)).collect::<Result<_, _>>().map(Some)
        }
        Some(_) => Err(bad()),
    }
}

/// A member of the OpenID Connect table that is not a string, where `""` asks for nothing, as for
/// [`choice_member`]: `None` when absent, `null` or `""`.
fn table_member<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null() && v.as_str() != Some(""))
}

fn non_negative_member(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, OAuthError> {
    match table_member(m, key) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n)),
            _ => Err(metadata_error(format!("{key} must be a non-negative integer (seconds)"))),
        },
    }
}

fn bool_member(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, OAuthError> {
    match table_member(m, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(metadata_error(format!("{key} must be true or false"))),
    }
}

/// The first of [`UNSUPPORTED_MEMBERS`] that asks for something, refused.
fn refuse_unsupported(m: &Map<String, Value>) -> Result<(), OAuthError> {
    let asks = |v: &Value| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    };
    match UNSUPPORTED_MEMBERS.iter().find(|(key, _)| m.get(*key).is_some_and(asks)) {
        Some((key, instead)) => Err(metadata_error(format!("{key} is not supported: {instead}"))),
        None => Ok(()),
    }
}

/// One value of `supported`, or a refusal naming `key` and what is supported.
fn one_of(key: &str, value: Option<&String>, supported: &[&str]) -> Result<(), OAuthError> {
    match value {
        Some(v) if !supported.contains(&v.as_str()) => Err(metadata_error(format!(
            "{key} {:?} is not supported: use {}",
            v.chars().take(64).collect::<String>(),
            supported.join(" or ")
        ))),
        _ => Ok(()),
    }
}

/// Reads a request body: a JSON object of at most [`MAX_REGISTRATION_BYTES`], each member given once.
pub fn parse_request(body: &[u8]) -> Result<RequestedMetadata, OAuthError> {
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(OAuthError::invalid_request(format!(
            "the request body is larger than {MAX_REGISTRATION_BYTES} bytes"
        )));
    }
    let parsed: UniqueMembers = serde_json::from_slice(body)
        .map_err(|_| metadata_error("the request body must be a JSON object of client metadata"))?;
    if let Some(key) = parsed.duplicate {
        return Err(OAuthError::invalid_request(format!("the member {key:?} is given more than once")));
    }
    let m = &parsed.members;
    refuse_unsupported(m)?;
    let jwks = match m.get("jwks") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(metadata_error("jwks must be a JWK Set (a JSON object)")),
    };
    Ok(RequestedMetadata {
        client_id: string_member(m, "client_id")?,
        client_secret: string_member(m, "client_secret")?,
        application_type: choice_member(m, "application_type")?,
        redirect_uris: strings_member(m, "redirect_uris")?,
        post_logout_redirect_uris: strings_member(m, "post_logout_redirect_uris")?,
        token_endpoint_auth_method: string_member(m, "token_endpoint_auth_method")?,
        grant_types: strings_member(m, "grant_types")?,
        response_types: strings_member(m, "response_types")?,
        client_name: string_member(m, "client_name")?,
        client_uri: string_member(m, "client_uri")?,
        logo_uri: string_member(m, "logo_uri")?,
        policy_uri: string_member(m, "policy_uri")?,
        tos_uri: string_member(m, "tos_uri")?,
        jwks_uri: string_member(m, "jwks_uri")?,
        jwks,
        scope: string_member(m, "scope")?,
        contacts: strings_member(m, "contacts")?,
        id_token_signed_response_alg: choice_member(m, "id_token_signed_response_alg")?,
        subject_type: choice_member(m, "subject_type")?,
        sector_identifier_uri: choice_member(m, "sector_identifier_uri")?,
        token_endpoint_auth_signing_alg: choice_member(m, "token_endpoint_auth_signing_alg")?,
        default_max_age: non_negative_member(m, "default_max_age")?,
        default_acr_values: if table_member(m, "default_acr_values").is_some() {
            strings_member(m, "default_acr_values")?
        } else {
            None
        },
        require_auth_time: bool_member(m, "require_auth_time")?,
        require_pushed_authorization_requests: bool_member(m, "require_pushed_authorization_requests")?,
        require_signed_request_object: bool_member(m, "require_signed_request_object")?,
        request_object_signing_alg: choice_member(m, "request_object_signing_alg")?,
        dpop_bound_access_tokens: bool_member(m, "dpop_bound_access_tokens")?,
        backchannel_logout_uri: choice_member(m, "backchannel_logout_uri")?,
        backchannel_logout_session_required: bool_member(m, "backchannel_logout_session_required")?,
        frontchannel_logout_uri: choice_member(m, "frontchannel_logout_uri")?,
        frontchannel_logout_session_required: bool_member(m, "frontchannel_logout_session_required")?,
    })
}

/// Metadata that passed every check of its own; [`ValidMetadata::into_client`] makes the client.
#[derive(Debug)]
pub struct ValidMetadata {
    /// `client_name`, when given.
    pub name: Option<String>,
    /// `token_endpoint_auth_method` (default `client_secret_basic`).
    pub auth_method: ClientAuthMethod,
    /// `application_type` (default `web`).
    pub application_type: ApplicationType,
    /// `grant_types` (default `authorization_code`), sorted.
    pub grant_types: Vec<GrantType>,
    /// `redirect_uris`.
    pub redirect_uris: Vec<RedirectUri>,
    /// `post_logout_redirect_uris`.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// `scope`, within [`REGISTRABLE_SCOPES`].
    pub scope: Scope,
    /// Links, contacts and keys.
    pub metadata: ClientMetadata,
}

/// RFC 8252 §7.1: a private-use scheme is a reverse domain name the app controls (`com.example.app:/cb`).
fn check_registrable_redirect(uri: &RedirectUri) -> Result<(), OAuthError> {
    let scheme = uri.url().scheme();
    if !matches!(scheme, "https" | "http") && !scheme.contains('.') {
        return Err(redirect_error(format!(
            "redirect URI scheme {scheme:?} is neither https, loopback http, nor a reverse domain name \
             (RFC 8252 section 7.1)"
        )));
    }
    Ok(())
}

/// OpenID Connect Dynamic Client Registration 1.0 §2: a private-use scheme reaches only an app on the user's
/// device, which registers as native; a web client's redirect URIs are web addresses. Native clients may use all
/// three redirects of RFC 8252 §7 (private-use scheme, claimed https, loopback http). The URI is valid on its own,
/// so the refusal is `invalid_client_metadata`: the contradiction may as well be in `application_type`.
fn check_fits_application_type(application_type: ApplicationType, uri: &RedirectUri) -> Result<(), OAuthError> {
    if application_type == ApplicationType::Web && uri.has_private_use_scheme() {
        return Err(metadata_error(format!(
            "redirect URI scheme {:?} is for an app on the user's device: register such an app with \
             application_type \"native\" (a web client's redirect URIs are https, or http on a loopback address)",
            uri.url().scheme()
        )));
    }
    Ok(())
}

/// RFC 8252 §7.2 and §7.3: a native app's https redirect URI is claimed through the app's own domain, and its
/// loopback redirect URI is http (an app listens on the loopback interface without a certificate for it): an
/// https URI on a loopback host fits neither.
fn check_native_redirect(application_type: ApplicationType, uri: &RedirectUri) -> Result<(), OAuthError> {
    if application_type == ApplicationType::Native && uri.url().scheme() == "https" && uri.has_loopback_host() {
        return Err(redirect_error(format!(
            "redirect URI {:?}: a native app's loopback redirect URI uses http, and a claimed https one the app's \
             own domain (RFC 8252 sections 7.2 and 7.3)",
            uri.as_str()
        )));
    }
    Ok(())
}

/// A link shown to people (`client_uri`, `logo_uri`, `policy_uri`, `tos_uri`): absolute https with a host
/// and without credentials.
fn https_link(key: &str, value: Option<&String>) -> Result<Option<String>, OAuthError> {
    let Some(raw) = value else { return Ok(None) };
    let bad = |why: &str| metadata_error(format!("{key} {why}"));
    if raw.len() > MAX_LINK_LEN {
        return Err(bad(&format!("is longer than {MAX_LINK_LEN} characters")));
    }
    let url = Url::parse(raw).map_err(|_| bad("must be an absolute https URL"))?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must be an absolute https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    Ok(Some(raw.clone()))
}

/// Whether `host` names this machine or a private network: the server would fetch a `jwks_uri` there on a
/// stranger's behalf.
fn is_internal_host(host: Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal") || d.ends_with(".local")
        }
        Host::Ipv4(ip) => is_internal_address(IpAddr::V4(ip)),
        Host::Ipv6(ip) => is_internal_address(IpAddr::V6(ip)),
    }
}

fn check_jwks_uri(value: Option<&String>) -> Result<Option<String>, OAuthError> {
    let Some(raw) = https_link("jwks_uri", value)? else { return Ok(None) };
    let url = Url::parse(&raw).map_err(|_| metadata_error("jwks_uri must be an absolute https URL"))?;
    if url.fragment().is_some() {
        return Err(metadata_error("jwks_uri must not contain a fragment"));
    }
    if url.host().is_some_and(is_internal_host) {
        return Err(metadata_error("jwks_uri must name a public host"));
    }
    Ok(Some(raw))
}

/// A stranger's `sector_identifier_uri`: the rules of every client
/// ([`client_rules::parse_sector_identifier_uri`]), and https on a public host, since the server fetches it
/// ([`super::sector`]).
fn check_sector_identifier_uri(value: Option<&String>) -> Result<Option<String>, OAuthError> {
    let Some(raw) = https_link("sector_identifier_uri", value)? else { return Ok(None) };
    let url = client_rules::parse_sector_identifier_uri(&raw).map_err(|e| metadata_error(e.to_string()))?;
    if url.host().is_some_and(is_internal_host) {
        return Err(metadata_error("sector_identifier_uri must name a public host"));
    }
    Ok(Some(raw))
}

/// A stranger's `backchannel_logout_uri`: the rules of every client ([`client_rules::parse_backchannel_logout_uri`])
/// and, since the server posts there on its own, a public host, as for a `jwks_uri`.
fn check_backchannel_logout_uri(value: Option<&String>) -> Result<Option<String>, OAuthError> {
    let Some(raw) = value else { return Ok(None) };
    let url = client_rules::parse_backchannel_logout_uri(raw).map_err(|e| metadata_error(e.to_string()))?;
    if url.host().is_some_and(is_internal_host) {
        return Err(metadata_error("backchannel_logout_uri must name a public host"));
    }
    Ok(Some(raw.clone()))
}

/// An inline JWK Set: the checks of the token endpoint (public RSA or EC keys, at least one usable), so a
/// registration accepted here is not refused there.
fn check_jwks(value: &Value) -> Result<(), OAuthError> {
    ClientJwks::parse(value).map(|_| ()).map_err(|e| metadata_error(format!("jwks: {e}")))
}

fn check_contacts(contacts: Option<&Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let contacts = contacts.cloned().unwrap_or_default();
    if contacts.len() > MAX_CONTACTS {
        return Err(metadata_error(format!("at most {MAX_CONTACTS} contacts")));
    }
    if contacts.iter().any(|c| c.trim().is_empty() || c.len() > MAX_CONTACT_LEN || c.chars().any(char::is_control)) {
        return Err(metadata_error(format!("each contact must be 1 to {MAX_CONTACT_LEN} characters")));
    }
    Ok(contacts)
}

/// Checks every member on its own and against the others that do not need the rest of the client
/// ([`client_rules::check_client`] runs on the client made from it).
pub fn validate(req: &RequestedMetadata) -> Result<ValidMetadata, OAuthError> {
    let application_type = match &req.application_type {
        None => ApplicationType::Web,
        Some(t) => t.parse().map_err(|_| {
            metadata_error(format!(
                "application_type {:?} is not supported: use web or native",
                t.chars().take(64).collect::<String>()
            ))
        })?,
    };
    let fits = |uri: &RedirectUri| check_fits_application_type(application_type, uri);
    let redirect_uris =
        client_rules::parse_redirect_uris(req.redirect_uris.as_deref().unwrap_or_default()).map_err(rule_error)?;
    redirect_uris.iter().try_for_each(check_registrable_redirect)?;
    redirect_uris.iter().try_for_each(fits)?;
    redirect_uris.iter().try_for_each(|uri| check_native_redirect(application_type, uri))?;
    let post_logout_redirect_uris =
        client_rules::parse_redirect_uris(req.post_logout_redirect_uris.as_deref().unwrap_or_default())
            .map_err(|e| metadata_error(format!("post_logout_redirect_uris: {e}")))?;
    post_logout_redirect_uris
        .iter()
        .try_for_each(|uri| check_registrable_redirect(uri).and_then(|()| fits(uri)))
        .map_err(|e| metadata_error(format!("post_logout_redirect_uris: {}", e.description)))?;

    let auth_method = match &req.token_endpoint_auth_method {
        None => ClientAuthMethod::ClientSecretBasic,
        Some(m) => m.parse().map_err(|_| {
            metadata_error(format!(
                "token_endpoint_auth_method {:?} is not supported: use client_secret_basic, client_secret_post, \
                 private_key_jwt or none",
                m.chars().take(64).collect::<String>()
            ))
        })?,
    };

    let grant_types = match &req.grant_types {
        None => vec![GrantType::AuthorizationCode],
        Some(g) if g.is_empty() => return Err(metadata_error("grant_types must not be empty")),
        Some(g) => client_rules::parse_grant_types(g).map_err(rule_error)?,
    };
    // A client that may exchange a user's tokens for tokens to other services is trusted: the operator
    // grants that (`clients add`, the admin API), a stranger cannot register it.
    if grant_types.contains(&GrantType::TokenExchange) {
        return Err(metadata_error("the token exchange grant type cannot be registered"));
    }
    let code = grant_types.contains(&GrantType::AuthorizationCode);
    if let Some(types) = &req.response_types {
        if let Some(other) = types.iter().find(|t| t.as_str() != "code") {
            return Err(metadata_error(format!(
                "response_types {:?} is not supported: only \"code\"",
                other.chars().take(64).collect::<String>()
            )));
        }
        match (code, types.is_empty()) {
            (true, true) => return Err(metadata_error("the authorization_code grant type needs response_types code")),
            (false, false) => {
                return Err(metadata_error("response_types code needs the authorization_code grant type"))
            }
            _ => {}
        }
    }

    let scope = match &req.scope {
        None if grant_types.contains(&GrantType::RefreshToken) => Scope::from_values(REGISTRABLE_SCOPES),
        None => Scope::from_values(REGISTRABLE_SCOPES.iter().filter(|s| **s != Scope::OFFLINE_ACCESS)),
        Some(s) => Scope::parse(s),
    }
    .map_err(|e| metadata_error(format!("scope: {e}")))?;
    if scope.contains(ADMIN_SCOPE) {
        return Err(metadata_error(format!("the {ADMIN_SCOPE} scope cannot be registered")));
    }
    let allowed = Scope::from_values(REGISTRABLE_SCOPES).map_err(|e| metadata_error(e.to_string()))?;
    if !scope.is_subset_of(&allowed) {
        return Err(metadata_error(format!("scope may only hold {}", REGISTRABLE_SCOPES.join(" "))));
    }

    if let Some(jwks) = &req.jwks {
        check_jwks(jwks)?;
    }
    // OpenID Connect Dynamic Client Registration 1.0 §2: what the server does anyway may be asked for.
    one_of("id_token_signed_response_alg", req.id_token_signed_response_alg.as_ref(), &[ID_TOKEN_SIGNING_ALG])?;
    one_of("subject_type", req.subject_type.as_ref(), &SUBJECT_TYPES)?;
    // Stored only when pairwise: public is what an absent member means.
    let subject_type = req.subject_type.as_deref().and_then(|t| t.parse().ok()).filter(|t| *t == SubjectType::Pairwise);
    // A device sign-in ends at no redirect URI, so nothing proves that a stranger's client is of the sector its
    // registration names: it would be given another app's pairwise subjects of its users (Core §8.1).
    if subject_type.is_some() && grant_types.contains(&GrantType::DeviceCode) {
        return Err(metadata_error(
            "a self-registered pairwise client cannot use the device grant: nothing proves its sector without a \
             redirect",
        ));
    }
    // Nor does the host of a private-use scheme: `com.example.app://victim.example/cb` leads to the app, whatever
    // host it names. A sector_identifier_uri, fetched over https from its host, proves one.
    if subject_type.is_some()
        && req.sector_identifier_uri.is_none()
        && redirect_uris.iter().any(RedirectUri::has_private_use_scheme)
    {
        return Err(metadata_error(
            "a self-registered pairwise client with a private-use scheme redirect URI needs a sector_identifier_uri: \
             the host such a URI names proves no sector",
        ));
    }
    if req.token_endpoint_auth_signing_alg.is_some() && auth_method != ClientAuthMethod::PrivateKeyJwt {
        return Err(metadata_error(
            "token_endpoint_auth_signing_alg is for token_endpoint_auth_method private_key_jwt only",
        ));
    }
    one_of("token_endpoint_auth_signing_alg", req.token_endpoint_auth_signing_alg.as_ref(), &SIGNING_ALGS)?;
    one_of("request_object_signing_alg", req.request_object_signing_alg.as_ref(), &SIGNING_ALGS)?;
    let metadata = ClientMetadata {
        client_uri: https_link("client_uri", req.client_uri.as_ref())?,
        logo_uri: https_link("logo_uri", req.logo_uri.as_ref())?,
        policy_uri: https_link("policy_uri", req.policy_uri.as_ref())?,
        tos_uri: https_link("tos_uri", req.tos_uri.as_ref())?,
        contacts: check_contacts(req.contacts.as_ref())?,
        jwks: req.jwks.clone(),
        jwks_uri: check_jwks_uri(req.jwks_uri.as_ref())?,
        token_endpoint_auth_signing_alg: req.token_endpoint_auth_signing_alg.clone(),
        default_max_age: req.default_max_age,
        default_acr_values: check_acr_values(req.default_acr_values.as_ref())?,
        require_auth_time: req.require_auth_time,
        require_pushed_authorization_requests: req.require_pushed_authorization_requests,
        // Stored only when set: `false` is what an absent member means.
        require_signed_request_object: req.require_signed_request_object.filter(|r| *r),
        request_object_signing_alg: req.request_object_signing_alg.clone(),
        dpop_bound_access_tokens: req.dpop_bound_access_tokens,
        backchannel_logout_uri: check_backchannel_logout_uri(req.backchannel_logout_uri.as_ref())?,
        backchannel_logout_session_required: req.backchannel_logout_session_required,
        // The browser, not the server, requests it: any host the redirect URIs may name will do, which
        // `client_rules::check_client` checks with the rest.
        frontchannel_logout_uri: req.frontchannel_logout_uri.clone(),
        frontchannel_logout_session_required: req.frontchannel_logout_session_required,
        subject_type,
        sector_identifier_uri: check_sector_identifier_uri(req.sector_identifier_uri.as_ref())?,
    };

    if let Some(name) = &req.client_name {
        client_rules::check_name(name).map_err(|e| metadata_error(format!("client_name: {e}")))?;
    }
    Ok(ValidMetadata {
        name: req.client_name.clone(),
        auth_method,
        application_type,
        grant_types,
        redirect_uris,
        post_logout_redirect_uris,
        scope,
        metadata,
    })
}

/// Validates `req` and makes the client it describes, checked against every rule of
/// [`client_rules::check_client`]. A client authenticating with a secret keeps the secret of `previous` when
/// it has one; otherwise a new secret is issued and returned, to be shown once.
pub fn build_client(
    req: &RequestedMetadata,
    id: ClientId,
    previous: Option<&Client>,
    now: UnixTime,
) -> Result<(Client, Option<PlainSecret>), OAuthError> {
    let valid = validate(req)?;
    let kept = previous.and_then(|p| p.secret_hash.clone()).filter(|_| client_rules::uses_secret(valid.auth_method));
    let (secret_hash, issued) = match kept {
        Some(hash) => (Some(hash), None),
        None => {
            let issued = client_rules::secret_for(valid.auth_method);
            (issued.as_ref().map(PlainSecret::hash), issued)
        }
    };
    let client = valid.into_client(id, secret_hash, previous, now);
    client_rules::check_client(&client).map_err(rule_error)?;
    Ok((client, issued))
}

impl ValidMetadata {
    /// The client these metadata describe. A new client (`previous` is `None`) is never first-party or admin
    /// and always requires PKCE; an update keeps what an operator decided about `previous` (those flags,
    /// resources, token lifetime, revocation time) and its creation time. Without `client_name`, the client
    /// id is the name.
    pub fn into_client(
        self,
        id: ClientId,
        secret_hash: Option<SecretHash>,
        previous: Option<&Client>,
        now: UnixTime,
    ) -> Client {
        let name = self.name.unwrap_or_else(|| id.as_str().to_owned());
        let keep_previous_secret = secret_hash.is_some() && previous.is_some_and(|p| p.secret_hash == secret_hash);
        Client {
            name,
            previous_secret: if keep_previous_secret { previous.and_then(|p| p.previous_secret.clone()) } else { None },
            secret_hash,
            auth_method: self.auth_method,
            application_type: self.application_type,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scope: self.scope,
            resources: previous.map(|p| p.resources.clone()).unwrap_or_default(),
            first_party: previous.is_some_and(|p| p.first_party),
            admin: previous.is_some_and(|p| p.admin),
            require_pkce: previous.is_none_or(|p| p.require_pkce),
            access_token_ttl: previous.and_then(|p| p.access_token_ttl),
            metadata: self.metadata,
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
            revoked_before: previous.and_then(|p| p.revoked_before),
            revision: previous.map_or(0, |p| p.revision),
            id,
        }
    }
}

/// `default_acr_values`: levels this server issues ([`ACR_VALUES`]), each once, in order of preference.
fn check_acr_values(values: Option<&Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let values = values.cloned().unwrap_or_default();
    if !valid_defaults(&values) {
        let offered = ACR_VALUES.join(", ");
        return Err(metadata_error(format!("default_acr_values must name levels offered here, each once: {offered}")));
    }
    Ok(values)
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): every registered metadata value, the
/// client id, the registration access token and the client configuration URL, and the client secret when
/// one was just issued. Holds secrets, so its `Debug` shows only the client id.
pub struct ClientInformation {
    client: Client,
    client_secret: Option<PlainSecret>,
    registration_access_token: PlainSecret,
    registration_client_uri: String,
}

impl fmt::Debug for ClientInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInformation").field("client_id", &self.client.id).finish_non_exhaustive()
    }
}

impl ClientInformation {
    /// The response for `client`; `client_secret` only when it was issued by this request.
    pub fn new(
        client: Client,
        client_secret: Option<PlainSecret>,
        registration_access_token: PlainSecret,
        registration_client_uri: String,
    ) -> Self {
        Self { client, client_secret, registration_access_token, registration_client_uri }
    }

    /// The client as stored.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let c = &self.client;
        let uris = |list: &[RedirectUri]| list.iter().map(|u| json!(u.as_str())).collect::<Vec<_>>();
        let code = c.allows_grant(GrantType::AuthorizationCode);
        let mut m = Map::new();
        m.insert("client_id".into(), json!(c.id.as_str()));
        if let Some(secret) = &self.client_secret {
            m.insert("client_secret".into(), json!(secret.expose()));
            // RFC 7591 §3.2.1: 0 means the secret does not expire.
            m.insert("client_secret_expires_at".into(), json!(0));
        }
        m.insert("client_id_issued_at".into(), json!(c.created_at));
        m.insert("registration_access_token".into(), json!(self.registration_access_token.expose()));
        m.insert("registration_client_uri".into(), json!(self.registration_client_uri));
        m.insert("client_name".into(), json!(c.name));
        m.insert("application_type".into(), json!(c.application_type.as_str()));
        m.insert("redirect_uris".into(), Value::Array(uris(&c.redirect_uris)));
        if !c.post_logout_redirect_uris.is_empty() {
            m.insert("post_logout_redirect_uris".into(), Value::Array(uris(&c.post_logout_redirect_uris)));
        }
        m.insert("grant_types".into(), json!(c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()));
        m.insert("response_types".into(), json!(if code { vec!["code"] } else { vec![] }));
        m.insert("token_endpoint_auth_method".into(), json!(c.auth_method.as_str()));
        m.insert("scope".into(), json!(c.scope.to_string()));
        // OpenID Connect Dynamic Client Registration 1.0 §3.2: the values in effect, asked for or not.
        m.insert("id_token_signed_response_alg".into(), json!(ID_TOKEN_SIGNING_ALG));
        if let Ok(Value::Object(extra)) = serde_json::to_value(&c.metadata) {
            m.extend(extra);
        }
        m.insert("subject_type".into(), json!(c.subject_type().as_str()));
        Value::Object(m)
    }
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
