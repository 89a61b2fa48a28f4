//! What makes a [`Client`] consistent, whoever creates it: `tessera clients add`, the admin API and dynamic
//! registration (`POST /register`) all build a `Client` and pass it through [`check_client`] before storing it.
//! Rules that only apply to self-registered clients (https-only links, the scopes they may ask for) live in
//! `oauth::registration`.
use super::redirect_uri::RedirectUriError;
use super::scope::ADMIN_SCOPE;
use super::secret::PlainSecret;
use super::text;
use super::{Client, ClientAuthMethod, GrantType, RedirectUri, SubjectType};

/// Longest client name, in bytes.
pub const MAX_CLIENT_NAME_LEN: usize = 200;
/// Most redirect URIs (or post-logout redirect URIs) one client may register.
pub const MAX_CLIENT_URIS: usize = 32;

/// Why a client was refused. The messages name no command-line flag or protocol field, so each edge can
/// phrase them its own way; they are safe to show to whoever asked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientRuleError {
    /// The display name is blank, too long, or holds control or invisible formatting characters.
    #[error(
        "the client name must be 1 to {MAX_CLIENT_NAME_LEN} characters, without control or invisible formatting characters"
    )]
    Name,
    /// More URIs than [`MAX_CLIENT_URIS`].
    #[error("at most {MAX_CLIENT_URIS} URIs may be registered")]
    TooManyUris,
    /// A redirect URI was refused.
    #[error("redirect URI {uri:?}: {reason}")]
    RedirectUri {
        /// The URI as given (shortened).
        uri: String,
        /// Why.
        reason: RedirectUriError,
    },
    /// A grant type other than the supported ones.
    #[error("unsupported grant type {0:?}")]
    UnsupportedGrantType(String),
    /// No grant type at all.
    #[error("at least one grant type is needed")]
    NoGrantType,
    /// A public client cannot authenticate, so it cannot use `client_credentials`.
    #[error("public clients cannot use client_credentials")]
    PublicClientCredentials,
    /// A public client cannot authenticate, and a token exchange speaks for a user to other services: only a
    /// client that proves who it is may do that (RFC 8693 §2.1 leaves it to policy).
    #[error("public clients cannot use token exchange")]
    PublicTokenExchange,
    /// `authorization_code` without a redirect URI.
    #[error("authorization_code clients need at least one redirect URI")]
    CodeWithoutRedirectUri,
    /// `refresh_token` alone yields nothing to refresh.
    #[error(
        "refresh_token needs authorization_code or the device_code grant: there is no other way to get a first refresh token"
    )]
    RefreshWithoutCode,
    /// `private_key_jwt` without keys.
    #[error("private_key_jwt clients need their public keys: jwks or jwks_uri")]
    KeysRequired,
    /// Keys for a client that neither authenticates with `private_key_jwt` nor signs request objects: they only
    /// ever verify client assertions and request objects, so nothing would use them.
    #[error(
        "jwks and jwks_uri are only for private_key_jwt clients and clients that sign request objects \
         (require_signed_request_object or request_object_signing_alg)"
    )]
    KeysWithoutPrivateKeyJwt,
    /// A client that must sign its request objects has no keys to verify them with.
    #[error("a client that requires signed request objects needs its public keys: jwks or jwks_uri")]
    RequestObjectKeysRequired,
    /// Both `jwks` and `jwks_uri`.
    #[error("register jwks or jwks_uri, not both")]
    KeysTwice,
    /// A secret for a method that does not use one, or none for one that does.
    #[error("client_secret_basic and client_secret_post clients have a secret, other clients none")]
    SecretMismatch,
    /// The admin scope on a client not marked admin.
    #[error("only admin clients may have the {ADMIN_SCOPE} scope")]
    AdminScope,
    /// The sector identifier URI was refused.
    #[error("sector_identifier_uri {uri:?}: {reason}")]
    SectorIdentifierUri {
        /// The URI as given (shortened).
        uri: String,
        /// Why.
        reason: String,
    },
    /// A pairwise client whose sector cannot be told (OpenID Connect Core 1.0 §8.1).
    #[error("a pairwise client needs a sector_identifier_uri, or redirect URIs that all share one host (its sector)")]
    PairwiseSector,
    /// The front-channel logout URI was refused.
    #[error("front-channel logout URI {uri:?}: {reason}")]
    FrontchannelLogoutUri {
        /// The URI as given (shortened).
        uri: String,
        /// Why.
        reason: String,
    },
    /// The back-channel logout URI was refused.
    #[error("back-channel logout URI {uri:?}: {reason}")]
    BackchannelLogoutUri {
        /// The URI as given (shortened).
        uri: String,
        /// Why.
        reason: String,
    },
}

/// Whether clients authenticating with `method` are given a secret.
pub fn uses_secret(method: ClientAuthMethod) -> bool {
    matches!(method, ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost)
}

/// A new secret when `method` needs one.
pub fn secret_for(method: ClientAuthMethod) -> Option<PlainSecret> {
    uses_secret(method).then(PlainSecret::generate)
}

/// Checks a display name. Pages show it amid their own words, so it may hold no control character and no
/// invisible character either (a bidi override would reorder the text around it, and a zero-width one would let
/// "G\u{200b}oogle" pass for "Google"), save a joiner where a script or an emoji sequence needs it
/// ([`text::has_hidden_character`]).
pub fn check_name(name: &str) -> Result<(), ClientRuleError> {
    if name.trim().is_empty()
        || name.len() > MAX_CLIENT_NAME_LEN
        || name.chars().any(char::is_control)
        || text::has_hidden_character(name)
    {
        return Err(ClientRuleError::Name);
    }
    Ok(())
}

/// Parses redirect URIs (or post-logout redirect URIs), at most [`MAX_CLIENT_URIS`], duplicates dropped.
pub fn parse_redirect_uris(values: &[String]) -> Result<Vec<RedirectUri>, ClientRuleError> {
    if values.len() > MAX_CLIENT_URIS {
        return Err(ClientRuleError::TooManyUris);
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(values.len());
    for value in values {
        let uri = RedirectUri::parse(value)
            .map_err(|reason| ClientRuleError::RedirectUri { uri: value.chars().take(100).collect(), reason })?;
        if !uris.iter().any(|u| u.as_str() == uri.as_str()) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

/// Parses a back-channel logout URI (OpenID Connect Back-Channel Logout 1.0 §2.2): absolute, without fragment
/// or credentials, https, or http on a loopback address while an app is developed, as for redirect URIs. Who
/// may name a private address is the registration's rule (`oauth::registration`).
pub fn parse_backchannel_logout_uri(raw: &str) -> Result<url::Url, ClientRuleError> {
    parse_logout_uri(raw)
        .map_err(|reason| ClientRuleError::BackchannelLogoutUri { uri: raw.chars().take(100).collect(), reason })
}

/// Parses a front-channel logout URI (OpenID Connect Front-Channel Logout 1.0 §2) by the rules of a back-channel
/// one. That it shares its scheme, host and port with a redirect URI of the client is [`check_client`]'s rule.
pub fn parse_frontchannel_logout_uri(raw: &str) -> Result<url::Url, ClientRuleError> {
    parse_logout_uri(raw)
        .map_err(|reason| ClientRuleError::FrontchannelLogoutUri { uri: raw.chars().take(100).collect(), reason })
}

/// Parses a `sector_identifier_uri` (OpenID Connect Dynamic Client Registration 1.0 §2): https, or http on a
/// loopback host as redirect URIs may be (RFC 8252 §7.3), with a host, without credentials or fragment.
/// Self-registered clients get https on a public host only (`oauth::registration`).
pub fn parse_sector_identifier_uri(raw: &str) -> Result<url::Url, ClientRuleError> {
    let refuse = |reason: &str| ClientRuleError::SectorIdentifierUri {
        uri: raw.chars().take(100).collect(),
        reason: reason.into(),
    };
    let url = url::Url::parse(raw).map_err(|_| refuse("it must be an absolute https URL"))?;
    let loopback = RedirectUri::parse(raw).is_ok_and(|u| u.has_loopback_host());
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
        return Err(refuse("it must be an https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("it needs a host and no credentials"));
    }
    if url.fragment().is_some() {
        return Err(refuse("it must not contain a fragment"));
    }
    Ok(url)
}

/// A logout URI, or why it is refused.
fn parse_logout_uri(raw: &str) -> Result<url::Url, String> {
    let uri = RedirectUri::parse(raw).map_err(|e| e.to_string().replacen("redirect URI ", "it ", 1))?;
    if !matches!(uri.url().scheme(), "https" | "http") || uri.url().host_str().is_none_or(str::is_empty) {
        return Err("it must be an http(s) URL with a host".into());
    }
    Ok(uri.url().clone())
}

/// Parses grant type names, sorted and without duplicates.
pub fn parse_grant_types<S: AsRef<str>>(values: &[S]) -> Result<Vec<GrantType>, ClientRuleError> {
    let mut grants = values
        .iter()
        .map(|g| {
            g.as_ref()
                .parse::<GrantType>()
                .map_err(|_| ClientRuleError::UnsupportedGrantType(g.as_ref().chars().take(100).collect()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    grants.sort();
    grants.dedup();
    Ok(grants)
}

/// Checks that a client hangs together: its name, grants, redirect URIs, authentication, keys and scope.
pub fn check_client(client: &Client) -> Result<(), ClientRuleError> {
    check_name(&client.name)?;
    if client.redirect_uris.len() > MAX_CLIENT_URIS || client.post_logout_redirect_uris.len() > MAX_CLIENT_URIS {
        return Err(ClientRuleError::TooManyUris);
    }
    if client.grant_types.is_empty() {
        return Err(ClientRuleError::NoGrantType);
    }
    if client.is_public() && client.allows_grant(GrantType::ClientCredentials) {
        return Err(ClientRuleError::PublicClientCredentials);
    }
    if client.is_public() && client.allows_grant(GrantType::TokenExchange) {
        return Err(ClientRuleError::PublicTokenExchange);
    }
    if client.allows_grant(GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
        return Err(ClientRuleError::CodeWithoutRedirectUri);
    }
    // A device-only client (RFC 8628) needs no redirect URI, and its first refresh token comes from the device
    // grant; public clients may use it (a TV or a command-line tool keeps no secret, and has no PKCE there).
    let first_refresh = client.allows_grant(GrantType::AuthorizationCode) || client.allows_grant(GrantType::DeviceCode);
    if client.allows_grant(GrantType::RefreshToken) && !first_refresh {
        return Err(ClientRuleError::RefreshWithoutCode);
    }
    let keys = (client.metadata.jwks.is_some(), client.metadata.jwks_uri.is_some());
    if keys == (true, true) {
        return Err(ClientRuleError::KeysTwice);
    }
    let no_keys = keys == (false, false);
    let requires_objects = client.metadata.require_signed_request_object == Some(true);
    let signs_objects = requires_objects || client.metadata.request_object_signing_alg.is_some();
    match (client.auth_method == ClientAuthMethod::PrivateKeyJwt, no_keys) {
        (true, true) => return Err(ClientRuleError::KeysRequired),
        (false, false) if !signs_objects => return Err(ClientRuleError::KeysWithoutPrivateKeyJwt),
        _ => {}
    }
    if requires_objects && no_keys {
        return Err(ClientRuleError::RequestObjectKeysRequired);
    }
    if uses_secret(client.auth_method) != client.secret_hash.is_some() {
        return Err(ClientRuleError::SecretMismatch);
    }
    if client.scope.contains(ADMIN_SCOPE) && !client.admin {
        return Err(ClientRuleError::AdminScope);
    }
    if let Some(uri) = &client.metadata.backchannel_logout_uri {
        parse_backchannel_logout_uri(uri)?;
    }
    if let Some(uri) = &client.metadata.sector_identifier_uri {
        parse_sector_identifier_uri(uri)?;
    }
    // Core §8.1: without a sector identifier URI, the redirect URIs' one host is the sector.
    if client.subject_type() == SubjectType::Pairwise && client.metadata.sector_identifier_uri.is_none() {
        let mut hosts = client.redirect_uris.iter().map(|r| r.url().host_str());
        let first = hosts.next().flatten();
        if first.is_none_or(str::is_empty) || hosts.any(|h| h != first) {
            return Err(ClientRuleError::PairwiseSector);
        }
    }
    if let Some(uri) = &client.metadata.frontchannel_logout_uri {
        let url = parse_frontchannel_logout_uri(uri)?;
        // Front-Channel Logout §2: "the domain, port, and scheme of this URL MUST be the same as that of a
        // registered Redirection URI value".
        if !client.redirect_uris.iter().any(|r| r.url().origin() == url.origin()) {
            return Err(ClientRuleError::FrontchannelLogoutUri {
                uri: uri.chars().take(100).collect(),
                reason: "its scheme, host and port must be those of a registered redirect URI".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApplicationType, ClientId, ClientMetadata, Scope};

    fn web_client() -> Client {
        Client {
            id: ClientId::parse("c").unwrap(),
            name: "App".into(),
            secret_hash: Some(PlainSecret::generate().hash()),
            previous_secret: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Web,
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Scope::parse("openid profile").unwrap(),
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

    fn check(f: impl FnOnce(&mut Client)) -> Result<(), ClientRuleError> {
        let mut c = web_client();
        f(&mut c);
        check_client(&c)
    }

    #[test]
    fn a_backchannel_logout_uri_is_https_or_loopback_http_without_fragment() {
        let with = |uri: &str| check(|c| c.metadata.backchannel_logout_uri = Some(uri.into()));
        for good in [
            "https://app.example/logout",
            "https://app.example/logout?tenant=a",
            "http://127.0.0.1:8080/logout",
            "http://localhost/logout",
            "http://[::1]/bc",
        ] {
            assert_eq!(with(good), Ok(()), "{good}");
        }
        for bad in [
            "http://app.example/logout",
            "https://app.example/logout#x",
            "/logout",
            "https://user:pw@app.example/logout",
            "com.example.app:/logout",
            "javascript:alert(1)",
        ] {
            assert!(matches!(with(bad), Err(ClientRuleError::BackchannelLogoutUri { .. })), "{bad}");
        }
        assert_eq!(
            with("http://app.example/l").unwrap_err().to_string(),
            "back-channel logout URI \"http://app.example/l\": it must use https, or http on a loopback address"
        );
    }

    #[test]
    fn a_frontchannel_logout_uri_is_a_logout_uri_on_the_origin_of_a_redirect_uri() {
        let with = |uri: &str| {
            check(|c| {
                c.redirect_uris.push(RedirectUri::parse("http://127.0.0.1:8080/cb").unwrap());
                c.metadata.frontchannel_logout_uri = Some(uri.into());
            })
        };
        for good in ["https://app.example/logout", "https://app.example:443/fc?tenant=a", "http://127.0.0.1:8080/fc"] {
            assert_eq!(with(good), Ok(()), "{good}");
        }
        for bad in [
            "https://app.example/logout#x",
            "/logout",
            "http://app.example/logout",
            "javascript:alert(1)",
            "https://other.example/logout",
            "https://app.example:8443/logout",
            "http://127.0.0.1:9090/fc",
            "https://127.0.0.1:8080/fc",
        ] {
            assert!(matches!(with(bad), Err(ClientRuleError::FrontchannelLogoutUri { .. })), "{bad}");
        }
        assert_eq!(
            with("https://other.example/l").unwrap_err().to_string(),
            "front-channel logout URI \"https://other.example/l\": its scheme, host and port must be those of a \
             registered redirect URI"
        );
    }

    #[test]
    fn a_pairwise_client_has_one_sector() {
        fn uris(list: &[&str]) -> Vec<RedirectUri> {
            list.iter().map(|u| RedirectUri::parse(u).unwrap()).collect()
        }
        let sector = |f: fn(&mut Client)| {
            let mut c = web_client();
            c.metadata.subject_type = Some(SubjectType::Pairwise);
            f(&mut c);
            check_client(&c).map(|()| c.sector())
        };
        assert_eq!(web_client().sector(), None, "public");
        assert_eq!(sector(|_| {}), Ok(Some("app.example".into())));
        assert_eq!(
            sector(|c| c.redirect_uris = uris(&["https://app.example/a", "https://app.example:8443/b"])),
            Ok(Some("app.example".into())),
            "the host, whatever the port"
        );
        assert_eq!(
            sector(|c| c.redirect_uris = uris(&["https://app.example/cb", "https://other.example/cb"])),
            Err(ClientRuleError::PairwiseSector)
        );
        assert_eq!(
            sector(|c| {
                c.redirect_uris = uris(&["https://app.example/cb", "https://other.example/cb"]);
                c.metadata.sector_identifier_uri = Some("https://sector.example/uris.json".into());
            }),
            Ok(Some("sector.example".into()))
        );
        // A device-only client has no redirect URI to take its sector from.
        assert_eq!(
            sector(|c| {
                c.redirect_uris = vec![];
                c.grant_types = vec![GrantType::DeviceCode];
            }),
            Err(ClientRuleError::PairwiseSector)
        );
        for bad in
            ["http://sector.example/s.json", "https://sector.example/s.json#f", "https://u:p@s.example/", "s.json"]
        {
            assert!(
                matches!(
                    check(|c| c.metadata.sector_identifier_uri = Some(bad.into())),
                    Err(ClientRuleError::SectorIdentifierUri { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(check(|c| c.metadata.sector_identifier_uri = Some("http://127.0.0.1:8080/s.json".into())), Ok(()));
    }

    #[test]
    fn consistent_clients_pass() {
        assert_eq!(check(|_| {}), Ok(()));
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
            }),
            Ok(())
        );
        assert_eq!(
            check(|c| {
                c.grant_types = vec![GrantType::ClientCredentials];
                c.redirect_uris.clear();
            }),
            Ok(())
        );
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::PrivateKeyJwt;
                c.secret_hash = None;
                c.metadata.jwks_uri = Some("https://app.example/jwks".into());
            }),
            Ok(())
        );
        assert_eq!(
            check(|c| {
                c.admin = true;
                c.scope = Scope::parse("openid tessera:admin").unwrap();
            }),
            Ok(())
        );
    }

    #[test]
    fn a_device_client_needs_no_redirect_uri_may_be_public_and_may_refresh() {
        let device = |c: &mut Client| {
            c.grant_types = vec![GrantType::RefreshToken, GrantType::DeviceCode];
            c.redirect_uris.clear();
        };
        assert_eq!(check(device), Ok(()));
        assert_eq!(
            check(|c| {
                device(c);
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
            }),
            Ok(())
        );
        assert_eq!(check(|c| c.grant_types = vec![GrantType::DeviceCode]), Ok(()));
        // The other rules still hold next to it.
        assert_eq!(
            check(|c| {
                device(c);
                c.grant_types.push(GrantType::AuthorizationCode);
            }),
            Err(ClientRuleError::CodeWithoutRedirectUri)
        );
        assert_eq!(
            check(|c| {
                device(c);
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
                c.grant_types.push(GrantType::ClientCredentials);
            }),
            Err(ClientRuleError::PublicClientCredentials)
        );
    }

    // Regression: format characters passed as they are not control characters, so a name could reorder the
    // page text around it (bidi controls) or pass for another (invisible characters).
    #[test]
    fn names_hold_no_bidi_control_or_invisible_character() {
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{2061}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{2028}',
            '\u{2029}',
            '\u{E0041}',
            '\u{1D173}',
        ] {
            assert_eq!(check_name(&format!("G{c}oogle")), Err(ClientRuleError::Name), "U+{:04X}", c as u32);
        }
        for fine in ["Photos", "Café Münster", "שלום עולם", "مرحبا", "日本語のアプリ", "Notes 📝", "a\u{00A0}b"]
        {
            assert_eq!(check_name(fine), Ok(()), "{fine}");
        }
    }

    // Regression: ZWNJ and ZWJ were refused everywhere, so a Persian name that needs ZWNJ, or an emoji ZWJ
    // sequence, could not be registered. In joining context they pass; between Latin letters (above) they do not.
    #[test]
    fn names_may_hold_a_joiner_where_a_script_or_an_emoji_sequence_needs_it() {
        for fine in ["می\u{200C}خواهم", "Family 👨\u{200D}👩\u{200D}👧", "\u{0915}\u{094D}\u{200D}\u{0937} Notes"]
        {
            assert_eq!(check_name(fine), Ok(()), "{fine:?}");
        }
        for bad in ["Goo\u{200D}gle", "\u{200C}می", "👨\u{200D}\u{200D}👩", "👨\u{200D} 👩"] {
            assert_eq!(check_name(bad), Err(ClientRuleError::Name), "{bad:?}");
        }
    }

    #[test]
    fn each_inconsistency_has_its_error() {
        use ClientRuleError as E;
        assert_eq!(check(|c| c.name = " ".into()), Err(E::Name));
        assert_eq!(check(|c| c.name = "x".repeat(201)), Err(E::Name));
        assert_eq!(check(|c| c.name = "a\nb".into()), Err(E::Name));
        assert_eq!(check(|c| c.grant_types.clear()), Err(E::NoGrantType));
        assert_eq!(check(|c| c.redirect_uris.clear()), Err(E::CodeWithoutRedirectUri));
        assert_eq!(check(|c| c.grant_types = vec![GrantType::RefreshToken]), Err(E::RefreshWithoutCode));
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
                c.grant_types.push(GrantType::ClientCredentials);
            }),
            Err(E::PublicClientCredentials)
        );
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
                c.grant_types.push(GrantType::TokenExchange);
            }),
            Err(E::PublicTokenExchange)
        );
        assert_eq!(
            check(|c| {
                c.redirect_uris.clear();
                c.grant_types = vec![GrantType::TokenExchange];
            }),
            Ok(()),
            "an API that only exchanges tokens needs no redirect URI"
        );
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::PrivateKeyJwt;
                c.secret_hash = None;
            }),
            Err(E::KeysRequired)
        );
        assert_eq!(
            check(|c| {
                c.metadata.jwks = Some(serde_json::json!({"keys": []}));
                c.metadata.jwks_uri = Some("https://app.example/jwks".into());
            }),
            Err(E::KeysTwice)
        );
        assert_eq!(
            check(|c| c.metadata.jwks_uri = Some("https://app.example/jwks".into())),
            Err(E::KeysWithoutPrivateKeyJwt)
        );
        assert_eq!(
            check(|c| {
                c.auth_method = ClientAuthMethod::None;
                c.secret_hash = None;
                c.metadata.jwks = Some(serde_json::json!({"keys": []}));
            }),
            Err(E::KeysWithoutPrivateKeyJwt)
        );
        assert_eq!(
            check(|c| {
                c.metadata.jwks_uri = Some("https://app.example/jwks".into());
                c.metadata.require_signed_request_object = Some(true);
            }),
            Ok(()),
            "a client that signs its request objects has keys for them"
        );
        assert_eq!(
            check(|c| {
                c.metadata.jwks_uri = Some("https://app.example/jwks".into());
                c.metadata.request_object_signing_alg = Some("ES256".into());
            }),
            Ok(())
        );
        assert_eq!(check(|c| c.metadata.require_signed_request_object = Some(true)), Err(E::RequestObjectKeysRequired));
        assert_eq!(check(|c| c.secret_hash = None), Err(E::SecretMismatch));
        assert_eq!(check(|c| c.scope = Scope::parse("openid tessera:admin").unwrap()), Err(E::AdminScope));
    }

    #[test]
    fn parsers_normalize_and_refuse() {
        let grants = parse_grant_types(&["refresh_token", "authorization_code", "refresh_token"]).unwrap();
        assert_eq!(grants, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
        assert_eq!(parse_grant_types(&["implicit"]), Err(ClientRuleError::UnsupportedGrantType("implicit".into())));

        let uris = parse_redirect_uris(&["https://a.example/cb".into(), "https://a.example/cb".into()]).unwrap();
        assert_eq!(uris.len(), 1);
        let err = parse_redirect_uris(&["http://a.example/cb".into()]).unwrap_err();
        assert!(matches!(err, ClientRuleError::RedirectUri { reason: RedirectUriError::InsecureHttp, .. }), "{err}");
        let many: Vec<String> = (0..33).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(parse_redirect_uris(&many), Err(ClientRuleError::TooManyUris));

        assert!(secret_for(ClientAuthMethod::ClientSecretPost).is_some());
        assert!(secret_for(ClientAuthMethod::PrivateKeyJwt).is_none());
    }
}
