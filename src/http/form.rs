//! Reading parameters from query strings and form bodies into [`Params`], keeping duplicates visible so
//! the protocol can refuse them.
use super::body::{Late, WithinDeadline, BODY_DEADLINE};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{dev, web, FromRequest, HttpRequest};
use futures_util::future::{FutureExt, Map};
use std::convert::Infallible;

/// Largest form body we read.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// A request body as the `web::Bytes` extractor read it (up to [`MAX_FORM_BYTES`], the `PayloadConfig` set in
/// `startup`) within [`BODY_DEADLINE`], or why it could not.
pub struct Body(Result<Result<web::Bytes, actix_web::Error>, Late>);

type ReadBytes = WithinDeadline<<web::Bytes as FromRequest>::Future>;

impl FromRequest for Body {
    type Error = Infallible;
    // A function pointer rather than a boxed future: nothing allocated per request.
    type Future = Map<ReadBytes, fn(<ReadBytes as std::future::Future>::Output) -> Result<Body, Infallible>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let body: fn(_) -> _ = |read| Ok(Body(read));
        WithinDeadline::new(web::Bytes::from_request(req, payload)).map(body)
    }
}

/// The bytes of a body. One too large, cut short or late is `invalid_request` like any other malformed
/// request, so each endpoint answers it in its own channel (RFC 6749 §5.2 JSON, the error page) instead of
/// actix-web's plain-text 413.
pub fn bytes(body: Body) -> Result<web::Bytes, OAuthError> {
    match body.0 {
        Ok(read) => read.map_err(|e| match e.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => {
                OAuthError::invalid_request(format!("the body is larger than {} KB", MAX_FORM_BYTES / 1024))
            }
            _ => {
                tracing::info!(error = %e, "request body unreadable");
                OAuthError::invalid_request("the body could not be read")
            }
        }),
        Err(Late) => Err(late()),
    }
}

/// The refusal of a body not all sent within [`BODY_DEADLINE`].
pub fn late() -> OAuthError {
    OAuthError::invalid_request(format!("the body did not arrive within {} s", BODY_DEADLINE.as_secs()))
}

/// A POST body's parameters, read by the `web::Bytes` extractor: [`bytes`], then [`body`].
pub fn read(req: &HttpRequest, body: Body) -> Result<Params, OAuthError> {
    self::body(req, &bytes(body)?)
}

/// Decodes `application/x-www-form-urlencoded` bytes.
pub fn parse(bytes: &[u8]) -> Result<Params, OAuthError> {
    Params::from_pairs(pairs(bytes))
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The query string's parameters.
pub fn query(req: &HttpRequest) -> Result<Params, OAuthError> {
    parse(req.query_string().as_bytes())
}

/// An authorization request's parameters, from the query string or a POST body: see
/// [`Params::from_authorization_pairs`].
pub fn authorization(req: &HttpRequest, body: Option<Body>) -> Result<Params, OAuthError> {
    let pairs = match body {
        Some(body) => {
            let bytes = bytes(body)?;
            require_form(req)?;
            pairs(&bytes)
        }
        None => pairs(req.query_string().as_bytes()),
    };
    Params::from_authorization_pairs(pairs)
}

/// A POST body's parameters; it must be a form (RFC 6749 §3.2).
pub fn body(req: &HttpRequest, bytes: &[u8]) -> Result<Params, OAuthError> {
    require_form(req)?;
    parse(bytes)
}

fn require_form(req: &HttpRequest) -> Result<(), OAuthError> {
    let is_form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !is_form {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    Ok(())
}
