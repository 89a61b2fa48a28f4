//! OAuth clients: what they may ask for and how they authenticate.
use crate::domain::secret::SecretHash;
use crate::domain::{ClientId, RedirectUri, Scope, UnixTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a client authenticates at the token endpoint. Each client has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's key (RFC 7523).
    PrivateKeyJwt,
    /// A public client: no authentication, PKCE mandatory.
    None,
}

impl ClientAuthMethod {
    /// The registered name (RFC 7591 `token_endpoint_auth_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

impl FromStr for ClientAuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            "none" => Ok(Self::None),
            other => Err(format!("unsupported token_endpoint_auth_method {other:?}")),
        }
    }
}

/// What kind of app a client is (OpenID Connect Dynamic Client Registration 1.0 §2, `application_type`). It
/// decides which redirect URIs a self-registered client may have: an app on the user's device can receive a
/// private-use URI scheme (RFC 8252 §7.1), a web app cannot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ApplicationType {
    /// An app served from a web server: https redirect URIs (or loopback http while it is developed).
    #[default]
    Web,
    /// An app on the user's device (RFC 8252 §7): private-use schemes, claimed https URIs and loopback http.
    Native,
}

impl ApplicationType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    /// The type that `uris` call for: native when one of them uses a private-use scheme, which only an app on
    /// the user's device receives; web otherwise.
    pub fn implied_by<'a>(uris: impl IntoIterator<Item = &'a RedirectUri>) -> Self {
        if uris.into_iter().any(RedirectUri::has_private_use_scheme) {
            Self::Native
        } else {
            Self::Web
        }
    }
}

impl FromStr for ApplicationType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(format!("unsupported application type {other:?}: web or native")),
        }
    }
}

impl fmt::Display for ApplicationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which `sub` a client sees for a user (OpenID Connect Core 1.0 §8, Registration §2 `subject_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// The user's own id, the same for every client.
    #[default]
    Public,
    /// An id of the client's sector alone (Core §8.1): clients of other sectors cannot join what they know.
    Pairwise,
}

impl SubjectType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Pairwise => "pairwise",
        }
    }
}

impl FromStr for SubjectType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Self::Public),
            "pairwise" => Ok(Self::Pairwise),
            other => Err(format!("unsupported subject type {other:?}: public or pairwise")),
        }
    }
}

/// The wire name of the device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The wire name of the token exchange grant (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Grant types a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 8628 §3.4: the device authorization grant.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// RFC 8693 §2.1: token exchange.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => DEVICE_CODE_GRANT,
            Self::TokenExchange => TOKEN_EXCHANGE_GRANT,
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            DEVICE_CODE_GRANT => Ok(Self::DeviceCode),
            TOKEN_EXCHANGE_GRANT => Ok(Self::TokenExchange),
            other => Err(format!("unsupported grant type {other:?}")),
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata the client's developer registered (RFC 7591 §2): links and contacts shown on the consent page,
/// its keys, and the OpenID Connect Dynamic Client Registration 1.0 §2 members the server honours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Home page of the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Logo, https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Contacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// The client's public keys (a JWK Set) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm its `private_key_jwt` assertions may be signed with (`token_endpoint_auth_signing_alg`);
    /// any the server accepts when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `default_max_age`: the `max_age` of an authorization request that sends none (OIDC Core §3.1.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    /// `default_acr_values` (OpenID Connect Dynamic Client Registration 1.0 §2): the `acr_values` of an
    /// authorization request that asks for none, in order of preference (`"1"` or `"2"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_acr_values: Vec<String>,
    /// `require_auth_time`, as registered: every ID token carries `auth_time` either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_auth_time: Option<bool>,
    /// `require_pushed_authorization_requests` (RFC 9126 §6): `/authorize` takes its requests only by
    /// `request_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// `require_signed_request_object` (RFC 9101 §10.5): `/authorize` and `/par` take its authorization requests
    /// only as signed request objects (`request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signed_request_object: Option<bool>,
    /// `request_object_signing_alg` (OpenID Connect Dynamic Client Registration 1.0 §2): the one algorithm its
    /// request objects may be signed with; any the server accepts when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): the token endpoint issues it DPoP-bound access tokens only,
    /// refusing requests without a proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// Where the server posts a logout token when a session the client was issued tokens in ends (OpenID
    /// Connect Back-Channel Logout 1.0 §2.2); checked by [`crate::domain::client_rules::parse_backchannel_logout_uri`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`, as registered: every logout token carries `sid` either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// Where the browser is sent, in a hidden frame of the signed-out page, when a session the client was
    /// issued tokens in ends there (OpenID Connect Front-Channel Logout 1.0 §2); checked by
    /// [`crate::domain::client_rules::parse_frontchannel_logout_uri`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_session_required`, as registered: every frame's URL carries `iss` and `sid` either
    /// way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_session_required: Option<bool>,
    /// `subject_type`; public when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<SubjectType>,
    /// `sector_identifier_uri` (Registration §5): a JSON array of the client's redirect URIs whose host is the
    /// sector of a pairwise client; checked by [`crate::domain::client_rules::parse_sector_identifier_uri`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
}

/// A stored client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: ClientId,
    /// Display name.
    pub name: String,
    /// Hash of the current secret; `None` for public and `private_key_jwt` clients.
    pub secret_hash: Option<SecretHash>,
    /// The previous secret during its rotation overlap, with the time it stops working.
    pub previous_secret: Option<(SecretHash, UnixTime)>,
    /// How it authenticates.
    pub auth_method: ClientAuthMethod,
    /// A web app or an app on the user's device.
    pub application_type: ApplicationType,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<RedirectUri>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Allowed grant types.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may request.
    pub scope: Scope,
    /// Resource indicators (audiences) it may request (RFC 8707).
    pub resources: Vec<String>,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// Admin clients may obtain the `tessera:admin` scope.
    pub admin: bool,
    /// Whether PKCE is required (always true for public clients).
    pub require_pkce: bool,
    /// Access token lifetime override in seconds.
    pub access_token_ttl: Option<i64>,
    /// Display and key metadata.
    pub metadata: ClientMetadata,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
    /// Tokens issued to this client before this moment are invalid.
    pub revoked_before: Option<UnixTime>,
    /// How many times the stored client was changed when this copy was read: an update is written only over the
    /// revision it was made from ([`crate::storage::ClientStore::update_client`]). 0 for a new client.
    pub revision: i64,
}

impl Client {
    /// Public clients cannot keep a secret.
    pub fn is_public(&self) -> bool {
        self.auth_method == ClientAuthMethod::None
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The subject type in effect.
    pub fn subject_type(&self) -> SubjectType {
        self.metadata.subject_type.unwrap_or_default()
    }

    /// The sector identifier of a pairwise client (Core §8.1): the host of its `sector_identifier_uri`, else
    /// the one host of its redirect URIs; `None` for a public client.
    pub fn sector(&self) -> Option<String> {
        if self.subject_type() != SubjectType::Pairwise {
            return None;
        }
        match &self.metadata.sector_identifier_uri {
            Some(raw) => url::Url::parse(raw).ok().and_then(|u| u.host_str().map(str::to_owned)),
            None => self.redirect_uris.first().and_then(|r| r.url().host_str()).map(str::to_owned),
        }
    }

    /// Whether `secret` is the current secret, or the previous one within its overlap at `now`.
    pub fn secret_matches(&self, secret: &str, now: UnixTime) -> bool {
        let current = self.secret_hash.as_ref().is_some_and(|h| h.matches(secret));
        let previous = self.previous_secret.as_ref().is_some_and(|(h, until)| now < *until && h.matches(secret));
        current | previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::PlainSecret;

    fn client(secret: &PlainSecret) -> Client {
        Client {
            id: ClientId::parse("c").unwrap(),
            name: "c".into(),
            secret_hash: Some(secret.hash()),
            previous_secret: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Web,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scope: Scope::parse("openid").unwrap(),
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

    #[test]
    fn previous_secret_works_only_during_overlap() {
        let old = PlainSecret::generate();
        let new = PlainSecret::generate();
        let mut c = client(&new);
        c.previous_secret = Some((old.hash(), 100));
        assert!(c.secret_matches(new.expose(), 50));
        assert!(c.secret_matches(old.expose(), 99));
        assert!(!c.secret_matches(old.expose(), 100));
        assert!(!c.secret_matches("nope", 50));
    }

    #[test]
    fn names_round_trip() {
        for m in ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] {
            assert_eq!(m.parse::<ClientAuthMethod>().unwrap().as_str(), m);
        }
        for g in ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT]
        {
            assert_eq!(g.parse::<GrantType>().unwrap().as_str(), g);
        }
        assert!("implicit".parse::<GrantType>().is_err());
        assert!("device_code".parse::<GrantType>().is_err(), "only the URN names the device grant");
        assert_eq!(serde_json::to_value(GrantType::DeviceCode).unwrap(), DEVICE_CODE_GRANT);
        assert!("token-exchange".parse::<GrantType>().is_err(), "only the URN names the exchange grant");
        assert_eq!(serde_json::to_value(GrantType::TokenExchange).unwrap(), TOKEN_EXCHANGE_GRANT);
        for t in ["web", "native"] {
            assert_eq!(t.parse::<ApplicationType>().unwrap().as_str(), t);
        }
        for t in ["", "Web", "NATIVE", "desktop", "browser"] {
            assert!(t.parse::<ApplicationType>().is_err(), "{t}");
        }
    }

    #[test]
    fn a_private_use_scheme_implies_a_native_app() {
        let implied = |uris: &[&str]| {
            ApplicationType::implied_by(uris.iter().map(|u| RedirectUri::parse(u).unwrap()).collect::<Vec<_>>().iter())
        };
        assert_eq!(implied(&[]), ApplicationType::Web);
        assert_eq!(implied(&["https://app.example/cb", "http://127.0.0.1/cb"]), ApplicationType::Web);
        assert_eq!(implied(&["HTTPS://app.example/cb"]), ApplicationType::Web);
        assert_eq!(implied(&["https://app.example/cb", "com.example.app:/cb"]), ApplicationType::Native);
        assert_eq!(implied(&["myapp://cb"]), ApplicationType::Native);
    }
}
