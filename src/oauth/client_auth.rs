//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` (RFC 7523, checked in [`super::client_assertion`]), and `none`
//! for public clients. Each client has exactly one method; presenting another is `invalid_client`, more
//! than one `invalid_request`.
use super::cache_keys;
use super::client_assertion::{self, AssertionAlg, AssertionRules, ClientAssertion, SignatureError};
use super::client_keys::ClientJwks;
use super::error::OAuthError;
use super::params::Params;
use super::provider::Provider;
use crate::domain::{Client, ClientAuthMethod, ClientId, UnixTime};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

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

/// `client_assertion` with its `client_assertion_type`, taken out of `params`.
fn take_assertion(params: &mut Params) -> Result<Option<String>, OAuthError> {
    let kind = params.take("client_assertion_type");
    let assertion = params.take("client_assertion");
    match (kind, assertion) {
        (None, None) => Ok(None),
        (Some(k), Some(a)) if k == client_assertion::JWT_BEARER => Ok(Some(a)),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(format!(
            "unsupported client_assertion_type (only {})",
            client_assertion::JWT_BEARER
        ))),
        (None, Some(_)) => Err(OAuthError::invalid_request("client_assertion without client_assertion_type")),
        (Some(_), None) => Err(OAuthError::invalid_request("client_assertion_type without client_assertion")),
    }
}

impl Provider {
    /// Authenticates the client of a token-endpoint request; removes `client_secret`, `client_assertion`
    /// and `client_assertion_type` from `params`.
    pub async fn authenticate_client(
        &self,
        params: &mut Params,
        basic: Option<BasicCredentials>,
        now: UnixTime,
    ) -> Result<Client, OAuthError> {
        let post_secret = params.take("client_secret");
        let assertion = take_assertion(params)?;
        let param_id = params.get("client_id").map(str::to_owned);
        if let Some(assertion) = assertion {
            if basic.is_some() || post_secret.is_some() {
                return Err(OAuthError::invalid_request("use only one client authentication method"));
            }
            return self.authenticate_with_assertion(assertion, param_id, now).await;
        }
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
        let client = self.auth_clients.client(&id).await?.ok_or_else(unauthenticated)?;
        // A secret may come in either place: RFC 6749 §2.3.1 requires Basic for every client issued a password,
        // and libraries send it in the body by default (openid-client). Either way it is the same secret.
        let carries_secret =
            |m: ClientAuthMethod| matches!(m, ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost);
        if client.auth_method != method && !(carries_secret(client.auth_method) && carries_secret(method)) {
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

    /// `private_key_jwt`: the client named by the assertion's `sub`, registered for this method, signed the
    /// assertion with one of its keys, the claims hold at `now`, and the `jti` was not used before.
    async fn authenticate_with_assertion(
        &self,
        raw: String,
        param_id: Option<String>,
        now: UnixTime,
    ) -> Result<Client, OAuthError> {
        let assertion = ClientAssertion::parse(raw)?;
        if param_id.as_deref().is_some_and(|p| p != assertion.client_id()) {
            return Err(OAuthError::invalid_request("client_id does not match the client assertion"));
        }
        let id = ClientId::parse(assertion.client_id()).map_err(|_| unauthenticated())?;
        let client = self.auth_clients.client(&id).await?.ok_or_else(unauthenticated)?;
        if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(OAuthError::invalid_client(format!(
                "this client must authenticate with {}",
                client.auth_method.as_str()
            )));
        }
        registered_alg_allows(&client, assertion.alg())?;
        let assertion = Arc::new(assertion);
        let loaded = self.client_keys(&client, false).await?;
        let claims = match self.verify_assertion(&assertion, loaded.keys).await? {
            Ok(claims) => claims,
            // The client may have rotated its keys since we fetched them: look once more, throttled.
            Err(e)
                if loaded.may_refresh
                    && (e == SignatureError::NoMatchingKey || assertion.kid().is_none())
                    && self.may_refetch_client_keys(&client).await =>
            {
                let fresh = self.client_keys(&client, true).await?;
                self.verify_assertion(&assertion, fresh.keys).await?.map_err(signature_error)?
            }
            Err(e) => return Err(signature_error(e)),
        };
        let rules = AssertionRules {
            client_id: client.id.as_str(),
            issuer: self.issuer.as_str(),
            token_endpoint: self.assertion_token_endpoint.as_deref(),
            now,
            leeway: self.leeway,
        };
        let checked = client_assertion::check_claims(&claims, assertion.typ(), &rules)?;
        let ttl = (checked.expires_at.saturating_add(self.leeway) - now).max(1);
        let first_use = self
            .cache
            .set_if_absent(
                &cache_keys::assertion_jti(client.id.as_str(), &checked.jti),
                b"1",
                Duration::from_secs(ttl as u64),
            )
            .await?;
        if !first_use {
            tracing::warn!(event = "assertion_replay", client_id = %client.id, "client assertion used twice");
            return Err(OAuthError::invalid_client("the client assertion was already used"));
        }
        Ok(client)
    }

    /// Checks the signature of `assertion` with `keys` on the signing pool, never the reactor: each key tried
    /// is a signature verification, and the assertion may come from anyone.
    async fn verify_assertion(
        &self,
        assertion: &Arc<ClientAssertion>,
        keys: Arc<ClientJwks>,
    ) -> Result<Result<Map<String, Value>, SignatureError>, OAuthError> {
        let assertion = Arc::clone(assertion);
        self.signing_pool.run(move || assertion.verify(&keys).cloned()).await.map_err(OAuthError::server)
    }
}

/// A client that registered a `token_endpoint_auth_signing_alg` signs with that algorithm only (OpenID Connect
/// Dynamic Client Registration 1.0 §2: other assertions must be rejected).
fn registered_alg_allows(client: &Client, alg: AssertionAlg) -> Result<(), OAuthError> {
    match client.metadata.token_endpoint_auth_signing_alg.as_deref() {
        Some(registered) if registered != alg.as_str() => Err(OAuthError::invalid_client(format!(
            "this client signs its client assertions with {registered} (token_endpoint_auth_signing_alg)"
        ))),
        _ => Ok(()),
    }
}

fn signature_error(e: SignatureError) -> OAuthError {
    OAuthError::invalid_client(match e {
        SignatureError::NoMatchingKey => "no registered key matches the client assertion's kid and alg",
        SignatureError::Invalid => "the client assertion's signature is invalid",
    })
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

    #[test]
    fn a_registered_assertion_algorithm_is_the_only_one_accepted() {
        use crate::oauth::registration::metadata::{build_client, parse_request};
        let registered = |alg: serde_json::Value| {
            let body = serde_json::json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method":
                "private_key_jwt", "jwks_uri": "https://app.example/jwks", "token_endpoint_auth_signing_alg": alg });
            let req = parse_request(body.to_string().as_bytes()).unwrap();
            build_client(&req, ClientId::parse("c").unwrap(), None, 0).unwrap().0
        };
        let es256 = registered("ES256".into());
        assert!(registered_alg_allows(&es256, AssertionAlg::Es256).is_ok());
        let refused = registered_alg_allows(&es256, AssertionAlg::Rs256).unwrap_err();
        assert_eq!(refused.code.as_str(), "invalid_client");
        assert!(refused.description.contains("ES256"), "{}", refused.description);
        let any = registered(serde_json::Value::Null);
        for alg in [AssertionAlg::Rs256, AssertionAlg::Es256] {
            assert!(registered_alg_allows(&any, alg).is_ok());
        }
    }
}
