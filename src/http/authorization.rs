//! The request's `Authorization` header, which every endpoint that takes credentials reads through
//! [`header`].
use crate::domain::UnixTime;
use crate::oauth::dpop::DPOP_SCHEME;
use crate::oauth::dpop_nonce::DpopNonce;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::provider::Provider;
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::{HttpRequest, HttpResponse};

/// The header of DPoP proofs (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The header of the nonces we provide for DPoP proofs (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The one `Authorization` header, if any. Sent twice it is `invalid_request`: the header is not a list
/// (RFC 9110 §5.3, §11.6.2), a request authenticates one way (RFC 6749 §2.3, RFC 6750 §3.1), and reading only
/// the first would let a wrong second credential pass, or a proxy and this server each see a different one.
pub fn header(req: &HttpRequest) -> Result<Option<&HeaderValue>, OAuthError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::invalid_request("send the Authorization header once"));
    }
    Ok(first)
}

/// The one `DPoP` header (RFC 9449 §4.1), if any: a request carries at most one proof. Without the header this
/// is a look-up and nothing more.
pub fn dpop_proof(req: &HttpRequest) -> Result<Option<&str>, OAuthError> {
    let mut values = req.headers().get_all(DPOP);
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(OAuthError::new(ErrorCode::InvalidDpopProof, "send one DPoP header"));
    }
    first.to_str().map(Some).map_err(|_| OAuthError::new(ErrorCode::InvalidDpopProof, "malformed DPoP header"))
}

/// The nonce for the `DPoP-Nonce` header of the answer to `req` at `now`: under `dpop.require_nonce`, for every
/// request with a `DPoP` header (or, at a resource, `dpop_scheme`), so a client always holds a fresh nonce, also
/// after a refusal (RFC 9449 §8, §8.2, §9).
pub fn dpop_nonce(
    req: &HttpRequest,
    dpop_scheme: bool,
    provider: &Provider,
    now: UnixTime,
) -> Result<Option<DpopNonce>, OAuthError> {
    if !dpop_scheme && !req.headers().contains_key(DPOP) {
        return Ok(None);
    }
    provider.fresh_dpop_nonce(now)
}

/// `response` with `DPoP-Nonce: nonce`, when there is one (one header at most: RFC 9449 §8).
pub fn with_dpop_nonce(mut response: HttpResponse, nonce: Option<&DpopNonce>) -> HttpResponse {
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(n.as_str()).ok()) {
        response.headers_mut().insert(DPOP_NONCE, value);
    }
    response
}

/// An access token as presented in `Authorization`, with its scheme.
pub enum PresentedToken {
    /// `Bearer` (RFC 6750), or the `access_token` of a form body.
    Bearer(String),
    /// `DPoP` (RFC 9449 §7.1): to be presented with a proof of the key it is bound to.
    Dpop(String),
}

/// The token of `Authorization: Bearer …` or `Authorization: DPoP …`; as [`bearer_token`] otherwise.
pub fn access_token(req: &HttpRequest) -> Result<Option<PresentedToken>, OAuthError> {
    let Some(v) = header(req)? else { return Ok(None) };
    let v = v.to_str().map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
    let (scheme, token) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
    let dpop = scheme.eq_ignore_ascii_case(DPOP_SCHEME);
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    match (token.trim(), dpop) {
        ("", _) => Err(OAuthError::invalid_request(format!("the {scheme} scheme needs a token"))),
        (token, true) => Ok(Some(PresentedToken::Dpop(token.to_owned()))),
        (token, false) => Ok(Some(PresentedToken::Bearer(token.to_owned()))),
    }
}

/// The token of `Authorization: Bearer …`. `None` when there is no header, or one of another scheme: that is
/// no bearer credential at all, answered with the bare challenge (RFC 6750 §3.1). A `Bearer` header without a
/// token is `invalid_request`.
pub fn bearer_token(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(v) = header(req)? else { return Ok(None) };
    let v = v.to_str().map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
    let (scheme, token) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    match token.trim() {
        "" => Err(OAuthError::invalid_request("the Bearer scheme needs a token")),
        token => Ok(Some(token.to_owned())),
    }
}
