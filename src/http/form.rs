//! Reading parameters from query strings and form bodies into [`Params`], keeping duplicates visible so
//! the protocol can refuse them.
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use actix_web::http::header;
use actix_web::HttpRequest;

/// Largest form body we read.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Decodes `application/x-www-form-urlencoded` bytes.
pub fn parse(bytes: &[u8]) -> Result<Params, OAuthError> {
    let pairs = url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Params::from_pairs(pairs)
}

/// The query string's parameters.
pub fn query(req: &HttpRequest) -> Result<Params, OAuthError> {
    parse(req.query_string().as_bytes())
}

/// A POST body's parameters; it must be a form (RFC 6749 §3.2).
pub fn body(req: &HttpRequest, bytes: &[u8]) -> Result<Params, OAuthError> {
    let is_form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !is_form {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    parse(bytes)
}
