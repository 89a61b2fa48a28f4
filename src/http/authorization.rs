//! The request's `Authorization` header, which every endpoint that takes credentials reads through
//! [`header`].
use crate::oauth::dpop::DPOP_SCHEME;
use crate::oauth::error::{ErrorCode, OAuthError};
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::HttpRequest;

/// The header of DPoP proofs (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

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
