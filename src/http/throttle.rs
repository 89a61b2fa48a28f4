//! Abuse limits at the edge: the checks the token, registration, revocation and introspection endpoints make
//! before any other work, and the 429 answer (`Retry-After` in seconds). The decisions are in
//! [`crate::oauth::limits`]; the sign-in form renders its own 429 page (`login.rs`), and `/authorize` the pages
//! here (a browser is waiting, not an app).
use super::lang::Lang;
use super::meta::client_ip;
use super::render::{message_page, wait_words};
use super::AppState;
use crate::oauth::limits::{AssertionEndpoint, ClientEndpoint, Limited};
use crate::oauth::params::Params;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::net::IpAddr;

/// The client IP the limits count (`X-Forwarded-For` only from `http.trusted_proxies`).
pub fn ip(req: &HttpRequest, state: &AppState) -> Option<IpAddr> {
    client_ip(req, &state.settings.http.trusted_proxies)
}

/// The `error` of a 429 answer.
pub const TOO_MANY_REQUESTS: &str = "too_many_requests";

/// `429 Too Many Requests` for API endpoints: `{"error":"too_many_requests", …}`, `Retry-After`, never cached.
pub fn too_many_requests(limited: Limited) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, limited.retry_after.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "error": TOO_MANY_REQUESTS,
            "error_description": format!("too many requests; try again in {} seconds", limited.retry_after),
        }))
}

fn refused(endpoint: &'static str, ip: Option<IpAddr>, limited: Limited) -> HttpResponse {
    log_refusal(endpoint, ip, limited);
    too_many_requests(limited)
}

fn log_refusal(endpoint: &'static str, ip: Option<IpAddr>, limited: Limited) {
    tracing::warn!(event = "rate_limited", endpoint, ip = ?ip, retry_after = limited.retry_after, "request refused");
}

/// `/authorize` past `limits.authorize_ip_requests`: a 429 page with `Retry-After`.
pub fn too_many_sign_ins(req: &HttpRequest, state: &AppState, limited: Limited) -> HttpResponse {
    log_refusal("authorize", ip(req, state), limited);
    let t = Lang::of(req).t();
    let message = t.error.too_many_sign_ins_text.with(wait_words(t, limited.retry_after));
    let page = message_page(req, StatusCode::TOO_MANY_REQUESTS, t.error.too_many_sign_ins, &message);
    with_retry_after(page, limited)
}

/// `/authorize` while the in-process cache holds all the pending sign-ins it may: a 503 page with `Retry-After`
/// (the cache logs it, once a minute at most).
pub fn sign_ins_full(req: &HttpRequest, limited: Limited) -> HttpResponse {
    let t = Lang::of(req).t();
    let message = t.error.sign_ins_full_text.with(wait_words(t, limited.retry_after));
    let page = message_page(req, StatusCode::SERVICE_UNAVAILABLE, t.error.unavailable, &message);
    with_retry_after(page, limited)
}

fn with_retry_after(mut resp: HttpResponse, limited: Limited) -> HttpResponse {
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
    resp
}

/// `POST /token`, `/par` or `/device_authorization`: per client IP and per claimed `client_id`. `Some` is the
/// answer when refused.
pub async fn client_request(
    req: &HttpRequest,
    state: &AppState,
    endpoint: ClientEndpoint,
    params: &Params,
    authorization: Option<&str>,
) -> Option<HttpResponse> {
    let ip = ip(req, state);
    let now = crate::domain::now();
    let checked = state.provider.limits.check_client_request(endpoint, params, authorization, ip, now).await;
    checked.err().map(|limited| refused(endpoint.as_str(), ip, limited))
}

/// `POST /revoke` and `POST /introspect` with a client assertion: refused while the client IP is locked out of
/// assertions there. `Some` is the answer when refused.
pub async fn assertion(req: &HttpRequest, state: &AppState, endpoint: AssertionEndpoint) -> Option<HttpResponse> {
    let ip = ip(req, state);
    let checked = state.provider.limits.check_assertion(endpoint, ip, crate::domain::now()).await;
    checked.err().map(|limited| refused(endpoint.as_str(), ip, limited))
}

/// Counts a failed client assertion at `/revoke` or `/introspect` against the client IP.
pub async fn assertion_failed(req: &HttpRequest, state: &AppState, endpoint: AssertionEndpoint) {
    state.provider.limits.assertion_failed(endpoint, ip(req, state), crate::domain::now()).await;
}

/// `POST /register`: per client IP. `Some` is the answer when refused.
pub async fn registration(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let ip = ip(req, state);
    let checked = state.provider.limits.check_registration(ip, crate::domain::now()).await;
    checked.err().map(|limited| refused("register", ip, limited))
}
