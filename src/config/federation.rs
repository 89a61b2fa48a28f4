//! `[federation]`: the upstream OpenID providers people may sign in with ("Sign in with …"), each a relying-party
//! registration of ours at that provider.
use super::{invalid, ConfigError};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use url::{Host, Url};

/// The scopes asked of an upstream provider when the entry names none.
pub const DEFAULT_SCOPES: &str = "openid email profile";

/// `[federation]` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFederation {
    pub providers: Vec<RawUpstreamProvider>,
}

/// One `[[federation.providers]]` entry as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamProvider {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub scopes: Option<String>,
    #[serde(default)]
    pub trust_email: bool,
}

impl std::fmt::Debug for RawUpstreamProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpstreamProvider")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A validated upstream provider. Its `Debug` leaves out the client secret (a `SecretString`).
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// The slug in our URLs (`/login/federation/{id}/…`) and in the link table: lower-case letters, digits and
    /// `-`, at most 32.
    pub id: String,
    /// The button's label: "Sign in with {name}".
    pub name: String,
    /// The provider's issuer as written (a URL), exactly as its discovery document and ID tokens must state it.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there (`client_secret_basic`).
    pub client_secret: SecretString,
    /// The scopes asked for; always `openid`.
    pub scopes: Vec<String>,
    /// Whether an address the provider says it verified may link its identity to the local account that has
    /// that address. Off: such a sign-in is refused, so no provider can take over a local account.
    pub trust_email: bool,
}

/// Validated `[federation]`.
#[derive(Debug, Clone, Default)]
pub struct FederationSettings {
    /// In the order of the file: the order of the buttons.
    pub providers: Vec<UpstreamProvider>,
}

impl FederationSettings {
    /// The provider `id` names.
    pub fn provider(&self, id: &str) -> Option<&UpstreamProvider> {
        self.providers.iter().find(|p| p.id == id)
    }
}

fn is_slug(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl RawFederation {
    /// Checks every entry: slug ids, unique; an https issuer (http on loopback only, for development); a client
    /// id; one secret, given or read from its file.
    pub fn validate(self) -> Result<FederationSettings, ConfigError> {
        let mut seen = HashSet::new();
        let mut providers = Vec::with_capacity(self.providers.len());
        for raw in self.providers {
            let key = |field: &str| format!("federation.providers.{field} ({:?})", raw.id);
            if !is_slug(&raw.id) {
                return Err(invalid(
                    &key("id"),
                    "must be 1 to 32 lower-case letters, digits or `-`, not starting with `-`",
                ));
            }
            if !seen.insert(raw.id.clone()) {
                return Err(invalid(&key("id"), "is used by two providers"));
            }
            let name = raw.name.trim();
            if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(invalid(&key("name"), "must be 1 to 64 characters without control characters"));
            }
            let issuer = Url::parse(&raw.issuer).map_err(|e| invalid(&key("issuer"), format!("is not a URL: {e}")))?;
            let scheme_ok = issuer.scheme() == "https" || (issuer.scheme() == "http" && is_loopback(&issuer));
            if !scheme_ok {
                return Err(invalid(&key("issuer"), "must be an https URL (http only on a loopback address)"));
            }
            if issuer.query().is_some() || issuer.fragment().is_some() || !issuer.username().is_empty() {
                return Err(invalid(&key("issuer"), "must not have a query, fragment or user information"));
            }
            if raw.client_id.is_empty() {
                return Err(invalid(&key("client_id"), "must be set"));
            }
            let secret = match (raw.client_secret, &raw.client_secret_file) {
                (Some(_), Some(_)) => {
                    return Err(invalid(&key("client_secret"), "and `client_secret_file` are both set; set one"))
                }
                (Some(s), None) => s,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| invalid(&key("client_secret_file"), format!("cannot be read: {e}")))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                (None, None) => return Err(invalid(&key("client_secret"), "or `client_secret_file` must be set")),
            };
            if secret.is_empty() {
                return Err(invalid(&key("client_secret"), "must not be empty"));
            }
            let scopes: Vec<String> =
                raw.scopes.as_deref().unwrap_or(DEFAULT_SCOPES).split_whitespace().map(str::to_owned).collect();
            if !scopes.iter().any(|s| s == "openid") {
                return Err(invalid(&key("scopes"), "must include openid"));
            }
            providers.push(UpstreamProvider {
                id: raw.id,
                name: name.to_owned(),
                issuer: raw.issuer,
                client_id: raw.client_id,
                client_secret: SecretString::from(secret),
                scopes,
                trust_email: raw.trust_email,
            });
        }
        Ok(FederationSettings { providers })
    }
}
