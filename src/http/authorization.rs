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
