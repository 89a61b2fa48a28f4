//! `POST /token`.
use super::authorization::with_dpop_nonce;
use super::render::json_error;
use super::{form, AppState};
use crate::domain::{GrantType, UnixTime};
use crate::oauth::limits::ClientEndpoint;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The token endpoint: JSON, never cached. Every answer is counted: tokens by grant type, errors by code. Under
/// `dpop.require_nonce`, every answer to a request with a DPoP proof carries a fresh `DPoP-Nonce`.
#[tracing::instrument(name = "token", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let now = crate::domain::now();
    match super::authorization::dpop_nonce(&req, false, &state.provider, now) {
        Ok(nonce) => with_dpop_nonce(answer(&req, body, &state, now).await, nonce.as_ref()),
        Err(e) => {
            state.provider.metrics.token_error(e.code.as_str());
            json_error(&e)
        }
    }
}

async fn answer(req: &HttpRequest, body: form::Body, state: &AppState, now: UnixTime) -> HttpResponse {
    let metrics = &state.provider.metrics;
    let params = match form::read(req, body) {
        Ok(p) => p,
        Err(e) => {
            metrics.token_error(e.code.as_str());
            return json_error(&e);
        }
    };
    let authorization = match super::authorization::header(req) {
        Ok(h) => h.and_then(|v| v.to_str().ok()),
        Err(e) => {
            metrics.token_error(e.code.as_str());
            return json_error(&e);
        }
    };
    let dpop = match super::authorization::dpop_proof(req) {
        Ok(proof) => proof,
        Err(e) => {
            metrics.token_error(e.code.as_str());
            return json_error(&e);
        }
    };
    if let Some(refused) =
        super::throttle::client_request(req, state, ClientEndpoint::Token, &params, authorization).await
    {
        metrics.token_error(super::throttle::TOO_MANY_REQUESTS);
        return refused;
    }
    let meta = super::meta::request_meta(req, state);
    let grant = params.get("grant_type").and_then(|g| g.parse::<GrantType>().ok());
    match state.provider.token(params, authorization, dpop, &meta, now).await {
        Ok(r) => {
            // A success implies a grant type the provider understood.
            if let Some(grant) = grant {
                metrics.token_issued(grant);
            }
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .json(r)
        }
        Err(e) => {
            metrics.token_error(e.code.as_str());
            json_error(&e)
        }
    }
}
