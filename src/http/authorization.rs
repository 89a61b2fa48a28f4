//! The request's `Authorization` header, which every endpoint that takes credentials reads through
//! [`header`].
use crate::oauth::error::OAuthError;
use actix_web::http::header::{HeaderValue, AUTHORIZATION};
use actix_web::HttpRequest;

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
