//! Signed request objects (RFC 9101, OpenID Connect Core §6.1): an authorization request whose parameters are
//! the claims of a JWT the client signed with one of its registered keys (the `jwks` or `jwks_uri` of
//! `private_key_jwt`, the same algorithms). Sent as `request` to `/authorize` or to `/par` (RFC 9126 §3).
//!
//! Once verified, the object's claims are the request's parameters and nothing outside it counts but
//! `client_id` (RFC 9101 §6.3), so a browser or a proxy cannot add or change one. Unsigned (`alg: none`) and
//! encrypted objects are refused: nothing would prove who wrote them. The lifetime is bounded as FAPI 2.0
//! Message Signing asks (`exp` at most an hour after `nbf`, or `iat`), and `jti` is not tracked (RFC 9101 does
//! not ask for it; a pushed request is used once anyway).
use super::authorize::AuthorizeError;
use super::client_assertion::{self, AssertionAlg, SignatureError};
use super::client_keys::ClientJwks;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::provider::Provider;
use crate::domain::{Client, ClientId, UnixTime};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Longest time from `nbf` (or `iat`) to `exp`, in seconds (FAPI 2.0 Message Signing §5.3.1).
pub const MAX_LIFETIME: i64 = 3600;
/// The explicit type of a request object (RFC 9101 §4).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";
/// The claims that say how the object itself is valid: never authorization parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];
/// The parameters this server reads from an authorization request: in an object, each must be a string
/// (`max_age` may be a number, OIDC Core §6.1; `claims` is a JSON object, §6.1 and §5.5). Other members are
/// ignored, whatever their type, as unknown parameters are.
const READ_PARAMETERS: [&str; 17] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "resource",
    "id_token_hint",
    "dpop_jkt",
    "claims",
    "acr_values",
];

fn refused(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, description)
}

/// A request object whose signature is not verified yet: only its header and claims have been read.
pub struct RequestObject {
    token: String,
    alg: AssertionAlg,
    kid: Option<String>,
    /// Trusted only once [`RequestObject::verify`] accepted the signature over them.
    claims: Map<String, Value>,
}

impl std::fmt::Debug for RequestObject {
    // The claims hold the request's `state`, `nonce` and PKCE challenge: leave them out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestObject").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl RequestObject {
    /// Reads a compact JWS: refuses encrypted (five parts), unsigned and otherwise signed objects, critical
    /// header parameters, and a `typ` that names another kind of JWT.
    pub fn parse(token: &str) -> Result<Self, OAuthError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, _signature] = parts[..] else {
            return Err(refused(if parts.len() == 5 {
                "encrypted request objects are not supported: sign it (JWS)"
            } else {
                "request is not a signed JWT"
            }));
        };
        let header = client_assertion::decode_json(header).ok_or_else(|| refused("request has a malformed header"))?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => AssertionAlg::Rs256,
            Some("ES256") => AssertionAlg::Es256,
            Some("none") => return Err(refused("unsigned request objects (alg none) are refused")),
            _ => return Err(refused("the request object must be signed with RS256 or ES256")),
        };
        if header.contains_key("crit") {
            return Err(refused("the request object has critical header parameters we do not support"));
        }
        if let Some(typ) = header.get("typ") {
            let typ =
                typ.as_str().ok_or_else(|| refused("the request object has a malformed typ"))?.to_ascii_lowercase();
            if !matches!(typ.strip_prefix("application/").unwrap_or(&typ), "jwt" | REQUEST_OBJECT_TYP) {
                return Err(refused("the request object's typ must be oauth-authz-req+jwt (or JWT)"));
            }
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(refused("the request object has a malformed kid")),
        };
        let claims = client_assertion::decode_json(payload)
            .ok_or_else(|| refused("the request object's claims are malformed"))?;
        Ok(Self { token: token.to_owned(), alg, kid, claims })
    }

    /// The signature algorithm.
    pub fn alg(&self) -> AssertionAlg {
        self.alg
    }

    /// Verifies the signature with one of `keys` and returns the claims, still to be checked with
    /// [`parameters`]. Costs signature verifications: run it on a blocking pool.
    pub fn verify(&self, keys: &ClientJwks) -> Result<&Map<String, Value>, SignatureError> {
        client_assertion::verify_signature(&self.token, self.alg, self.kid.as_deref(), keys).map(|()| &self.claims)
    }
}

/// What a valid request object must say, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRules<'a> {
    /// The `client_id` parameter sent with the object: its `iss`, and its `client_id` claim if it has one.
    pub client_id: &'a str,
    /// Our issuer identifier, its audience.
    pub issuer: &'a str,
    /// The time of the request.
    pub now: UnixTime,
    /// Clock skew tolerated, in seconds.
    pub leeway: i64,
}

/// Checks the claims of a verified request object (RFC 9101 §4 and §6.3) and returns the authorization
/// request's parameters: the object's claims, but those about the object itself, with `client_id`.
pub fn parameters(claims: &Map<String, Value>, rules: &ObjectRules<'_>) -> Result<Vec<(String, String)>, OAuthError> {
    let number = |name: &str| -> Result<Option<i64>, OAuthError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => crate::domain::numeric_date(v)
                .map(Some)
                .ok_or_else(|| refused(format!("the request object's {name} must be a number"))),
        }
    };
    if claims.get("iss").and_then(Value::as_str) != Some(rules.client_id) {
        return Err(refused("the request object's iss must be the client_id"));
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(a)) => a == rules.issuer,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(rules.issuer)),
        _ => false,
    };
    if !for_us {
        return Err(refused("the request object's aud must be the issuer"));
    }
    let (now, leeway) = (rules.now, rules.leeway);
    let exp = number("exp")?.ok_or_else(|| refused("the request object has no exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(refused("the request object has expired"));
    }
    let nbf = number("nbf")?;
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(refused("the request object is not valid yet"));
    }
    let iat = number("iat")?;
    if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(refused("the request object was issued in the future"));
    }
    // Without nbf or iat, its life is counted from now.
    let start = nbf.or(iat).unwrap_or(now);
    if exp.saturating_sub(start) > MAX_LIFETIME {
        return Err(refused(format!("the request object may live at most {MAX_LIFETIME} seconds (exp - nbf)")));
    }
    let mut pairs = vec![("client_id".to_owned(), rules.client_id.to_owned())];
    for (name, value) in claims {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        if matches!(name.as_str(), "request" | "request_uri") {
            return Err(refused(format!("a request object must not hold {name} (RFC 9101 section 4)")));
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            // Passed on as the parameter's text, which the authorization endpoint parses as it parses any.
            Value::Object(_) if name == "claims" => value.to_string(),
            _ if name == "claims" => return Err(refused("the request object's claims must be a JSON object")),
            Value::Number(n) if name == "max_age" => match n.as_u64() {
                Some(n) => n.to_string(),
                None => return Err(refused("the request object's max_age must be a non-negative integer")),
            },
            _ if READ_PARAMETERS.contains(&name.as_str()) => {
                return Err(refused(format!("the request object's {name} must be a string")))
            }
            _ => continue,
        };
        if name == "client_id" {
            if value != rules.client_id {
                return Err(refused("the request object's client_id is not the client_id parameter"));
            }
            continue;
        }
        pairs.push((name.clone(), value));
    }
    Ok(pairs)
}

/// The refusal when the keys that would verify the object cannot be had (a failure of ours stays one).
fn keys_error(e: OAuthError) -> OAuthError {
    if e.code != ErrorCode::InvalidClient {
        return e;
    }
    let mut refusal = refused(e.description);
    refusal.detail = e.detail;
    refusal
}

fn signature_error(e: SignatureError) -> OAuthError {
    refused(match e {
        SignatureError::NoMatchingKey => "no registered key of the client matches the request object's kid and alg",
        SignatureError::Invalid => "the request object's signature is invalid",
    })
}

/// Whether `client` sends its authorization requests only as signed request objects (RFC 9101 §10.5).
pub fn required(client: &Client) -> bool {
    client.metadata.require_signed_request_object == Some(true)
}

/// The refusal of a plain authorization request from a client that must sign them.
pub fn unsigned_refusal() -> OAuthError {
    OAuthError::invalid_request(
        "this client must send its authorization requests as signed request objects (request, RFC 9101)",
    )
}

impl Provider {
    /// The parameters of an authorization request sent to `/authorize` with the request object `object`: those
    /// of the object, whose signature the keys of the client named by the `client_id` parameter verify (RFC
    /// 9101 §5 asks for it outside the object too). Every failure is our error page: until the object is
    /// verified, its redirect URI is not to be trusted.
    pub(super) async fn authorization_request_object(
        &self,
        params: &Params,
        object: &str,
        now: UnixTime,
    ) -> Result<Params, AuthorizeError> {
        let page = AuthorizeError::Page;
        let raw = params.get("client_id").ok_or_else(|| {
            page(OAuthError::invalid_request("missing client_id (it goes beside the request object)"))
        })?;
        let unknown = || page(OAuthError::invalid_client("unknown client_id"));
        let id = ClientId::parse(raw).map_err(|_| unknown())?;
        let client = self.auth_clients.client(&id).await.map_err(|e| page(e.into()))?.ok_or_else(unknown)?;
        self.request_object_params(&client, object, now).await.map(|(params, _)| params).map_err(page)
    }

    /// The parameters of `client`'s authorization request sent as the request object `token`, and the object's
    /// `exp`: verified with the client's keys (fetched again once if a `jwks_uri`'s cached set lacks the key),
    /// its claims checked at `now`. Every refusal is `invalid_request_object`.
    pub(crate) async fn request_object_params(
        &self,
        client: &Client,
        token: &str,
        now: UnixTime,
    ) -> Result<(Params, UnixTime), OAuthError> {
        let object = RequestObject::parse(token)?;
        // OpenID Connect Dynamic Client Registration 1.0 §2: a registered algorithm is the only one accepted.
        if let Some(registered) = client.metadata.request_object_signing_alg.as_deref() {
            if registered != object.alg().as_str() {
                return Err(refused(format!(
                    "this client signs its request objects with {registered} (request_object_signing_alg)"
                )));
            }
        }
        let object = Arc::new(object);
        let loaded = self.client_keys(client, false).await.map_err(keys_error)?;
        let claims = match self.verify_request_object(&object, loaded.keys).await? {
            Ok(claims) => claims,
            // The client may have rotated its keys since we fetched them: look once more, throttled.
            Err(e)
                if loaded.may_refresh
                    && (e == SignatureError::NoMatchingKey || object.kid.is_none())
                    && self.may_refetch_client_keys(client).await =>
            {
                let fresh = self.client_keys(client, true).await.map_err(keys_error)?;
                self.verify_request_object(&object, fresh.keys).await?.map_err(signature_error)?
            }
            Err(e) => return Err(signature_error(e)),
        };
        let rules = ObjectRules { client_id: client.id.as_str(), issuer: &self.issuer, now, leeway: self.leeway };
        let pairs = parameters(&claims, &rules)?;
        // `parameters` refused an object without a numeric `exp`.
        let exp = claims
            .get("exp")
            .and_then(crate::domain::numeric_date)
            .ok_or_else(|| refused("the request object has no exp"))?;
        Ok((Params::from_authorization_pairs(pairs).map_err(|e| refused(e.description))?, exp))
    }

    /// Checks the signature of `object` with `keys` on the signing pool, never the reactor.
    async fn verify_request_object(
        &self,
        object: &Arc<RequestObject>,
        keys: Arc<ClientJwks>,
    ) -> Result<Result<Map<String, Value>, SignatureError>, OAuthError> {
        let object = Arc::clone(object);
        self.signing_pool.run(move || object.verify(&keys).cloned()).await.map_err(OAuthError::server)
    }
}

#[cfg(test)]
#[path = "request_object_tests.rs"]
mod tests;
