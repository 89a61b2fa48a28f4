//! `POST /par` (RFC 9126): a client-authenticated back-channel request, JSON like the token endpoint.
use super::authorization::with_dpop_nonce;
use super::render::json_error;
use super::{form, AppState};
use crate::domain::UnixTime;
use crate::oauth::client_auth::BasicCredentials;
use crate::oauth::limits::ClientEndpoint;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// Authenticates the client as the token endpoint does, within the token endpoint's limits, and answers 201
/// with the `request_uri` (RFC 9126 §2.2), or an error as RFC 9126 §2.3 says. DPoP nonces are as at the token
/// endpoint (RFC 9449 §10.1, §8).
#[tracing::instrument(name = "par", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let now = crate::domain::now();
    match super::authorization::dpop_nonce(&req, false, &state.provider, now) {
        Ok(nonce) => with_dpop_nonce(answer(&req, body, &state, now).await, nonce.as_ref()),
        Err(e) => json_error(&e),
    }
}

async fn answer(req: &HttpRequest, body: form::Body, state: &AppState, now: UnixTime) -> HttpResponse {
    let mut params = match form::read(req, body) {
        Ok(p) => p,
        Err(e) => return json_error(&e),
    };
    let authorization = match super::authorization::header(req) {
        Ok(h) => h.and_then(|v| v.to_str().ok()),
        Err(e) => return json_error(&e),
    };
    if let Some(refused) =
        super::throttle::client_request(req, state, ClientEndpoint::PushedAuthorization, &params, authorization).await
    {
        return refused;
    }
    let basic = match authorization.map(BasicCredentials::parse).transpose() {
        Ok(basic) => basic.flatten(),
        Err(e) => return json_error(&e),
    };
    let dpop = match super::authorization::dpop_proof(req) {
        Ok(proof) => proof,
        Err(e) => return json_error(&e),
    };
    let provider = &state.provider;
    let client = match provider.authenticate_client(&mut params, basic, now).await {
        Ok(client) => client,
        Err(e) => return json_error(&e),
    };
    match provider.push_authorization_request(&client, params, dpop, now).await {
        Ok(pushed) => {
            HttpResponse::build(StatusCode::CREATED).insert_header((header::CACHE_CONTROL, "no-store")).json(pushed)
        }
        Err(e) => json_error(&e),
    }
}
