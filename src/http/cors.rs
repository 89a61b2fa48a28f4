//! CORS (Fetch standard) for the endpoints a browser app calls from its own origin: discovery, `/jwks`,
//! `/token`, `/userinfo`, `/revoke`, `/introspect`. A single-page app with a public client and PKCE reads
//! their answers from script, which the browser allows only when the answer says so.
//!
//! Any origin may read them, without credentials: these endpoints take no cookies (a client authenticates
//! with its secret or assertion, a user's token comes in `Authorization`), so `*` opens nothing a server-side
//! caller could not already do, and `Access-Control-Allow-Credentials` is never sent, so a browser never
//! attaches our cookies to these calls. The pages (`/authorize`, `/login`, `/consent`, `/logout`) and the
//! registration and admin APIs get no CORS headers: the pages are navigated to, never fetched, and the APIs
//! are for servers.
//!
//! Two small pieces rather than the `actix-cors` crate: the policy is one constant answer (no per-origin
//! decisions, no echoed `Origin`, so no `Vary`), which [`headers`] and [`preflight`] say in full, and the
//! preflight answers 204 with exactly the methods of its own resource.
use actix_web::http::{header, Method};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse, Route};

/// Request headers a browser app may send: a bearer or DPoP-bound token or client credentials, a DPoP proof
/// (RFC 9449 §4.1), and a form body.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, DPoP";
/// Response headers script may read beyond the safelisted ones: the challenge of a 401, the wait of a 429, the
/// nonce a DPoP proof is to carry (RFC 9449 §8, §9).
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After, DPoP-Nonce";
/// How long a browser may reuse a preflight answer, in seconds (browsers cap it: Chromium at 2 hours).
const MAX_AGE: &str = "86400";

/// The headers every answer of a CORS endpoint carries (errors and 405s included, so script can read them).
pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS))
}

/// The `OPTIONS` route of a CORS endpoint whose other methods are `methods` (e.g. `"POST"`): the preflight
/// answer, 204 with what the browser may send and for how long it may remember that.
pub fn preflight(methods: &'static str) -> Route {
    web::method(Method::OPTIONS).to(move || async move {
        HttpResponse::NoContent()
            .insert_header((header::ALLOW, format!("{methods}, OPTIONS")))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
            .finish()
    })
}
