//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, and `none` for public clients. Each client has exactly one method; presenting
//! another, or more than one, is `invalid_client` / `invalid_request`.
use super::error::OAuthError;
use super::params::Params;
use super::provider::Provider;
use crate::domain::{Client, ClientAuthMethod, ClientId, UnixTime};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Credentials from an `Authorization: Basic` header, URL-decoded as RFC 6749 §2.3.1 requires.
pub struct BasicCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl BasicCredentials {
    /// Parses an `Authorization` header value. `Ok(None)` for other schemes (e.g. a Bearer token).
    pub fn parse(header: &str) -> Result<Option<Self>, OAuthError> {
        let Some((scheme, rest)) = header.trim().split_once(' ') else { return Ok(None) };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let bad = || OAuthError::invalid_client("malformed Basic credentials");
        let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        Ok(Some(Self { client_id: form_decode(id), secret: form_decode(secret) }))
    }
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn unauthenticated() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

impl Provider {
    /// Authenticates the client of a token-endpoint request; removes `client_secret` from `params`.
    pub async fn authenticate_client(
        &self,
        params: &mut Params,
        basic: Option<BasicCredentials>,
        now: UnixTime,
    ) -> Result<Client, OAuthError> {
        let post_secret = params.take("client_secret");
        let param_id = params.get("client_id").map(str::to_owned);
        let (method, raw_id, secret) = match (basic, post_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request("use only one client authentication method"));
            }
            (Some(b), None) => {
                if param_id.as_deref().is_some_and(|p| p != b.client_id) {
                    return Err(OAuthError::invalid_request("client_id does not match the Basic credentials"));
                }
                (ClientAuthMethod::ClientSecretBasic, b.client_id, Some(b.secret))
            }
            (None, Some(s)) => {
                let id = param_id.ok_or_else(|| OAuthError::invalid_request("missing client_id"))?;
                (ClientAuthMethod::ClientSecretPost, id, Some(s))
            }
            (None, None) => {
                let id = param_id.ok_or_else(unauthenticated)?;
                (ClientAuthMethod::None, id, None)
            }
        };
        let id = ClientId::parse(raw_id).map_err(|_| unauthenticated())?;
        let client = self.clients.client(&id).await?.ok_or_else(unauthenticated)?;
        if client.auth_method != method {
            return Err(OAuthError::invalid_client(format!(
                "this client must authenticate with {}",
                client.auth_method.as_str()
            )));
        }
        match secret {
            Some(s) if client.secret_matches(&s, now) => Ok(client),
            Some(_) => Err(unauthenticated()),
            None => Ok(client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aclient:s%2Bcret%20x"));
        let c = BasicCredentials::parse(&header).unwrap().unwrap();
        assert_eq!(c.client_id, "my:client");
        assert_eq!(c.secret, "s+cret x");
        assert!(BasicCredentials::parse("Bearer abc").unwrap().is_none());
        assert!(BasicCredentials::parse("Basic !!!").is_err());
        assert!(BasicCredentials::parse(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
    }
}
