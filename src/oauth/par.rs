//! Pushed authorization requests (RFC 9126): a client posts its authorization request's parameters over the
//! back channel, authenticated, and sends the browser to `/authorize` with only `client_id` and the
//! `request_uri` it got back. The parameters never pass through the browser, where they could be read or
//! changed, and a confidential client has proved who it is before any page is shown.
//!
//! The parameters are kept in the cache, by the hash of the reference, until the first `/authorize` that
//! presents it (RFC 9126 §4: one use) or `par.request_ttl_seconds`. They are checked when pushed, so that
//! the client hears at once what is wrong, and again at `/authorize`, as any request is: the client or the
//! policy may have changed in between. A pushed request object (RFC 9126 §3) is verified when pushed, and its
//! claims are what is kept, noted as signed for a client that must sign its requests, no longer than the object
//! is valid: `/authorize` would refuse it after its `exp`, which is checked only at the push.
use super::authorize::{self, AuthorizeError};
use super::cache_keys;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::provider::Provider;
use super::request_object;
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::{Client, ClientMetadata, UnixTime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How every `request_uri` this server gives out begins (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// What a used `request_uri` keeps in the cache until it would have expired, so that a second use is told so.
const USED: &[u8] = b"used";

/// The answer to a pushed request (RFC 9126 §2.2). Its `Debug` leaves out the `request_uri`: until used, it
/// starts the sign-in it names.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PushedRequest {
    /// What the client sends to `/authorize` as `request_uri`.
    pub request_uri: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for PushedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedRequest").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A pushed request as the cache keeps it.
#[derive(Serialize, Deserialize)]
struct Stored {
    client_id: String,
    params: Vec<(String, String)>,
    /// Whether the parameters are a verified request object's claims (RFC 9126 §3).
    #[serde(default)]
    signed: bool,
}

/// Whether a client registered with `metadata` may send authorization requests only by pushing them:
/// `par.required` for every client, or `require_pushed_authorization_requests` in its registration (RFC 9126 §6).
pub fn push_required(metadata: &ClientMetadata, required_for_all: bool) -> bool {
    required_for_all || metadata.require_pushed_authorization_requests == Some(true)
}

/// Seconds a pushed request is kept: `par.request_ttl_seconds` (`ttl`), but no longer than its request object
/// (whose `exp` is `object_exp`) is valid at `now`, as `/authorize` would judge it (with the `leeway`). At least
/// a second: an object is pushed only while valid.
pub fn pushed_lifetime(ttl: i64, object_exp: Option<UnixTime>, leeway: i64, now: UnixTime) -> i64 {
    match object_exp {
        Some(exp) => ttl.min(exp.saturating_add(leeway).saturating_sub(now)).max(1),
        None => ttl,
    }
}

impl Provider {
    /// `POST /par` for `client`, already authenticated (its credentials are no longer in `params`): checks the
    /// request as `/authorize` would and keeps it for [`pushed_lifetime`]. A `DPoP` proof (`dpop`) binds
    /// the code to its key, as `dpop_jkt` does (RFC 9449 §10.1), which must then name that key if sent.
    pub async fn push_authorization_request(
        &self,
        client: &Client,
        params: Params,
        dpop: Option<&str>,
        now: UnixTime,
    ) -> Result<PushedRequest, OAuthError> {
        if params.get("client_id") != Some(client.id.as_str()) {
            return Err(OAuthError::invalid_request("client_id must name the authenticated client"));
        }
        if params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request("request_uri must not be pushed"));
        }
        // RFC 9126 §3: a pushed request object's verified claims are the request (RFC 9101 §6.3).
        let object = params.get("request").map(str::to_owned);
        let (params, object_exp) = match &object {
            Some(object) => {
                let (params, exp) = self.request_object_params(client, object, now).await?;
                (params, Some(exp))
            }
            None if request_object::required(client) => return Err(request_object::unsigned_refusal()),
            None => (params, None),
        };
        let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        if let Some(proof) = dpop {
            let jkt = self.check_dpop_proof(proof, "POST", super::discovery::paths::PAR, None, now).await?;
            match params.get("dpop_jkt") {
                None => pairs.push(("dpop_jkt".to_owned(), jkt.as_str().to_owned())),
                Some(sent) if sent == jkt.as_str() => {}
                Some(_) => {
                    return Err(OAuthError::new(ErrorCode::InvalidDpopProof, "dpop_jkt is not the DPoP proof's key"))
                }
            }
        }
        // The cached view, as `/authorize` reads it and client authentication just did.
        match authorize::validate(params, self.auth_clients.as_ref(), self.self_registration).await {
            Ok(_) => {}
            Err(AuthorizeError::Redirect(r)) => return Err(r.error),
            Err(AuthorizeError::Page(e)) => return Err(e),
            Err(AuthorizeError::TooManySignIns(_) | AuthorizeError::SignInsFull(_)) => {
                return Err(OAuthError::server("validation does not count sign-ins"))
            }
        }
        let reference = random_token(32);
        let stored = Stored { client_id: client.id.as_str().to_owned(), params: pairs, signed: object.is_some() };
        let bytes = serde_json::to_vec(&stored).map_err(OAuthError::server)?;
        let lifetime = pushed_lifetime(self.par.request_ttl, object_exp, self.leeway, now);
        let key = cache_keys::pushed_request(SecretHash::of(&reference).as_str());
        if !self.cache.set_within_budget(&key, &bytes, Duration::from_secs(lifetime.unsigned_abs())).await? {
            return Err(OAuthError::unavailable("the cache holds all the pending requests it may"));
        }
        Ok(PushedRequest { request_uri: format!("{REQUEST_URI_PREFIX}{reference}"), expires_in: lifetime })
    }

    /// The parameters of an authorization request that names a `request_uri`: the pushed ones, taken (one use),
    /// in place of the query's, and whether they came in a request object. Every failure is our error page:
    /// without the pushed request there is no redirect URI to trust.
    pub(super) async fn pushed_params(
        &self,
        params: &Params,
        request_uri: &str,
    ) -> Result<(Params, bool), AuthorizeError> {
        let page = |description: &str| AuthorizeError::Page(OAuthError::new(ErrorCode::InvalidRequestUri, description));
        let client_id = params
            .get("client_id")
            .ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_request("missing parameter client_id")))?;
        let reference = request_uri
            .strip_prefix(REQUEST_URI_PREFIX)
            .ok_or_else(|| page("request_uri is not one this server gave out (use the PAR endpoint)"))?;
        let key = cache_keys::pushed_request(SecretHash::of(reference).as_str());
        let ttl = Duration::from_secs(self.par.request_ttl.unsigned_abs());
        let taken = self.cache.replace(&key, USED, ttl).await.map_err(|e| AuthorizeError::Page(e.into()))?;
        let stored = match taken {
            None => return Err(page("request_uri is unknown or expired")),
            Some(bytes) if bytes == USED => return Err(page("request_uri was used already")),
            Some(bytes) => serde_json::from_slice::<Stored>(&bytes)
                .map_err(|e| AuthorizeError::Page(OAuthError::server(format!("a stored pushed request: {e}"))))?,
        };
        if stored.client_id != client_id {
            return Err(page("request_uri was pushed by another client"));
        }
        Ok((Params::from_pairs(stored.params).map_err(AuthorizeError::Page)?, stored.signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_request_object_is_kept_no_longer_than_it_is_valid() {
        let now = 1_700_000_000;
        assert_eq!(pushed_lifetime(60, None, 30, now), 60, "a plain request");
        assert_eq!(pushed_lifetime(60, Some(now + 300), 30, now), 60, "an object valid longer");
        assert_eq!(pushed_lifetime(60, Some(now + 10), 30, now), 40, "until exp, with the leeway");
        assert_eq!(pushed_lifetime(60, Some(now + 10), 0, now), 10);
        assert_eq!(pushed_lifetime(60, Some(now - 29), 30, now), 1);
        assert_eq!(pushed_lifetime(60, Some(now - 30), 30, now), 1, "never less than a second");
    }

    #[test]
    fn a_push_is_required_by_the_setting_or_the_registration() {
        let mut metadata = ClientMetadata::default();
        assert!(!push_required(&metadata, false));
        assert!(push_required(&metadata, true));
        metadata.require_pushed_authorization_requests = Some(true);
        assert!(push_required(&metadata, false));
        metadata.require_pushed_authorization_requests = Some(false);
        assert!(!push_required(&metadata, false), "registered false");
        assert!(push_required(&metadata, true), "the setting holds for every client");
    }
}
