//! Discovery and JWKS: pre-serialized bytes with an `ETag`, so serving them costs next to nothing.
use super::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn cached_json(req: &HttpRequest, body: &[u8], etag: &str, max_age: i64) -> HttpResponse {
    let cache_control = format!("public, max-age={max_age}");
    if not_modified(req, etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(body.to_vec())
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn discovery(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    cached_json(&req, &state.discovery_json, &state.discovery_etag, 3600)
}

/// `GET /jwks`: the ring's public keys. `max-age` is bounded by `keys.jwks_max_age_seconds`, which the
/// rotation schedule waits out before a new key signs.
pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let snap = state.keys.snapshot();
    cached_json(&req, snap.jwks_json(), snap.jwks_etag(), state.settings.keys.jwks_max_age)
}
