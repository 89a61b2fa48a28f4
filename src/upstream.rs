//! Requests to the upstream OpenID providers of `[federation]`, as a relying party through the `openidconnect`
//! crate: discovery (cached, fetched on first use so that the server starts while a provider is down), the
//! authorization URL (PKCE S256, random `state` and `nonce`; `prompt=login` and `max_age` when a fresh sign-in is
//! asked, [`Freshness`]), the code exchange (`client_secret_basic`), the ID
//! token's checks (signature by the provider's JWK Set, issuer, audience, expiry, nonce) and the userinfo request
//! that completes its claims. Like `outbound`, every request has a deadline and follows no redirect.
use crate::blocking::CpuPool;
use crate::config::UpstreamProvider;
use crate::oauth::federation::{Freshness, UpstreamIdentity};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, TokenResponse,
};
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a provider's discovery document (and the JWK Set fetched with it) is reused. An ID token that does
/// not verify drops it at once, so a provider's new signing key is picked up at the next sign-in.
const DISCOVERY_MAX_AGE: Duration = Duration::from_secs(300);

/// What discovery says beyond OpenID Connect Discovery 1.0: whether the provider names itself in its
/// authorization responses (RFC 9207 §3).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct IssuerInResponses {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssuerInResponses {}

/// A provider's discovery document.
type Metadata = ProviderMetadata<
    IssuerInResponses,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The path of a provider's callback (its redirect URI is the issuer and this path).
pub fn callback_path(provider_id: &str) -> String {
    format!("/login/federation/{provider_id}/callback")
}

/// Why a request to an upstream provider failed: for the logs, never shown as is.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Discovery failed (provider down, or its document invalid).
    #[error("discovery of the provider failed: {0}")]
    Discovery(String),
    /// The code exchange failed.
    #[error("the token request failed: {0}")]
    Exchange(String),
    /// The ID token is missing or did not verify.
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    /// The userinfo request failed.
    #[error("the userinfo request failed: {0}")]
    UserInfo(String),
}

/// An authorization request to send the browser to, and what its callback needs. Its `Debug` shows the URL only.
pub struct Started {
    /// The provider's authorization URL with our request.
    pub url: url::Url,
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub pkce_verifier: String,
    /// Whether the provider says it names itself (`iss`) in its authorization responses.
    pub names_itself: bool,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started").field("url", &self.url.origin().ascii_serialization()).finish_non_exhaustive()
    }
}

/// The upstream providers' client side: one HTTP client, the discovery documents fetched so far.
pub struct Upstreams {
    http: reqwest::Client,
    /// Our issuer, without trailing slash: the base of our redirect URIs.
    issuer: String,
    discovered: Mutex<HashMap<String, (Instant, Metadata)>>,
    /// Where ID token signatures are checked, off the reactor.
    verifying_pool: CpuPool,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// The claims we read, the same on ID token and userinfo claims (which share no trait): email, email_verified,
/// preferred_username, name.
macro_rules! profile_claims {
    ($claims:expr) => {
        (
            $claims.email().map(|e| e.as_str().to_owned()),
            $claims.email_verified(),
            $claims.preferred_username().map(|u| u.as_str().to_owned()),
            $claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        )
    };
}

impl Upstreams {
    /// For the server whose issuer is `issuer` (without trailing slash); requests give up after `timeout`, and ID
    /// tokens are checked on `verifying_pool`.
    pub fn new(issuer: String, timeout: Duration, verifying_pool: CpuPool) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The crate's own advice: a redirect at the token endpoint could leak the code elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, issuer, discovered: Mutex::new(HashMap::new()), verifying_pool })
    }

    /// Our redirect URI at `provider`.
    pub fn redirect_uri(&self, provider: &UpstreamProvider) -> String {
        format!("{}{}", self.issuer, callback_path(&provider.id))
    }

    async fn metadata(&self, provider: &UpstreamProvider) -> Result<Metadata, UpstreamError> {
        if let Some((at, m)) = self.discovered.lock().get(&provider.id) {
            if at.elapsed() < DISCOVERY_MAX_AGE {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        let m = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| UpstreamError::Discovery(error_chain(&e)))?;
        self.discovered.lock().insert(provider.id.clone(), (Instant::now(), m.clone()));
        Ok(m)
    }

    fn forget(&self, provider: &UpstreamProvider) {
        self.discovered.lock().remove(&provider.id);
    }

    fn client(
        &self,
        provider: &UpstreamProvider,
        metadata: Metadata,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        UpstreamError,
    > {
        let redirect =
            RedirectUrl::new(self.redirect_uri(provider)).map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// The authorization request of a new sign-in at `provider`, asking for the `fresh` sign-in.
    pub async fn start(&self, provider: &UpstreamProvider, fresh: Freshness) -> Result<Started, UpstreamError> {
        let metadata = self.metadata(provider).await?;
        let names_itself = metadata.additional_metadata().authorization_response_iss_parameter_supported;
        let client = self.client(provider, metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in provider.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if fresh.prompt_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        if let Some(max_age) = fresh.max_age {
            // Never negative: `/authorize` parsed it as a non-negative integer.
            request = request.set_max_age(Duration::from_secs(u64::try_from(max_age).unwrap_or_default()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url,
            state: state.secret().to_owned(),
            nonce: nonce.secret().to_owned(),
            pkce_verifier: verifier.secret().to_owned(),
            names_itself,
        })
    }

    /// Exchanges the callback's `code` and checks the ID token; completes its claims from the userinfo endpoint
    /// when it lacks some (many providers put them there only).
    pub async fn finish(
        &self,
        provider: &UpstreamProvider,
        code: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let client = self.client(provider, self.metadata(provider).await?)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| UpstreamError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| UpstreamError::Exchange(error_chain(&e)))?;
        let id_token = tokens.id_token().ok_or_else(|| UpstreamError::IdToken("none in the token response".into()))?;
        // The signature is an RSA (or EC) verification: on the pool, like ours.
        let (verifier_client, token) = (client.clone(), id_token.clone());
        let checked = self
            .verifying_pool
            .run(move || {
                token
                    .claims(&verifier_client.id_token_verifier(), &Nonce::new(nonce))
                    .cloned()
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| UpstreamError::IdToken(e.to_string()))?;
        let claims = match checked {
            Ok(c) => c,
            Err(e) => {
                // Perhaps signed by a key the cached JWK Set lacks: the next attempt discovers again.
                self.forget(provider);
                return Err(UpstreamError::IdToken(e));
            }
        };
        let (mut email, mut verified, mut username, mut name) = profile_claims!(claims);
        if email.is_none() || username.is_none() || name.is_none() {
            if let Ok(request) = client.user_info(tokens.access_token().clone(), Some(claims.subject().clone())) {
                let info: CoreUserInfoClaims =
                    request.request_async(&self.http).await.map_err(|e| UpstreamError::UserInfo(error_chain(&e)))?;
                let (e, v, u, n) = profile_claims!(info);
                // The address and whether it was verified come together, from one source.
                if email.is_none() {
                    (email, verified) = (e, v);
                }
                username = username.or(u);
                name = name.or(n);
            }
        }
        Ok(UpstreamIdentity {
            provider_id: provider.id.clone(),
            subject: claims.subject().as_str().to_owned(),
            email,
            email_verified: verified.unwrap_or(false),
            preferred_username: username,
            name,
            amr: claims
                .auth_method_refs()
                .map(|a| a.iter().map(|r| r.as_str().to_owned()).collect())
                .unwrap_or_default(),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
        })
    }
}

/// An error and its sources, for the logs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn the_redirect_uri_is_the_issuer_and_the_callback_path() {
        let pool = CpuPool::new("test-verify", 1).unwrap();
        let upstreams = Upstreams::new("https://id.example".into(), Duration::from_secs(1), pool).unwrap();
        let provider = UpstreamProvider {
            id: "corp".into(),
            name: "Corp".into(),
            issuer: "https://sso.corp.example".into(),
            client_id: "c".into(),
            client_secret: SecretString::from("SECRET"),
            scopes: vec!["openid".into()],
            trust_email: false,
        };
        assert_eq!(upstreams.redirect_uri(&provider), "https://id.example/login/federation/corp/callback");
        assert!(!format!("{provider:?} {upstreams:?}").contains("SECRET"));
    }

    #[test]
    fn a_started_request_shows_no_secret_in_debug() {
        let started = Started {
            url: url::Url::parse("https://sso.corp.example/authorize?state=STATE&nonce=NONCE").unwrap(),
            state: "STATE".into(),
            nonce: "NONCE".into(),
            pkce_verifier: "VERIFIER".into(),
            names_itself: true,
        };
        let shown = format!("{started:?}");
        assert!(shown.contains("sso.corp.example"), "{shown}");
        for secret in ["STATE", "NONCE", "VERIFIER"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
