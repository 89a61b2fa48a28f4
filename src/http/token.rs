//! `POST /token`.
use super::render::json_error;
use super::{form, AppState};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The token endpoint: JSON, never cached.
#[tracing::instrument(name = "token", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let params = match form::read(&req, body) {
        Ok(p) => p,
        Err(e) => return json_error(&e),
    };
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(refused) = super::throttle::token_request(&req, &state, &params, authorization).await {
        return refused;
    }
    let meta = super::meta::request_meta(&req, &state);
    match state.provider.token(params, authorization, &meta, crate::domain::now()).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(r),
        Err(e) => json_error(&e),
    }
}
