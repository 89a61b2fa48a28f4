//! `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662): back-channel, client-authenticated, JSON.
use super::meta::request_meta;
use super::render::json_error;
use super::{form, AppState};
use crate::domain::{Client, UnixTime};
use crate::oauth::client_auth::BasicCredentials;
use crate::oauth::error::OAuthError;
use crate::oauth::limits::AssertionEndpoint;
use crate::oauth::params::Params;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The authenticated client and the rest of the form, or the answer: an error, or 429 while the client IP is
/// locked out of client assertions here (checked before an assertion's signature; its failures count).
async fn authenticated(
    req: &HttpRequest,
    state: &AppState,
    body: form::Body,
    endpoint: AssertionEndpoint,
    now: UnixTime,
) -> Result<(Client, Params), HttpResponse> {
    let answer = |e: OAuthError| json_error(&e);
    let mut params = form::read(req, body).map_err(answer)?;
    let assertion = params.get("client_assertion").is_some();
    if assertion {
        if let Some(refused) = super::throttle::assertion(req, state, endpoint).await {
            return Err(refused);
        }
    }
    let basic = match super::authorization::header(req).map_err(answer)?.and_then(|v| v.to_str().ok()) {
        Some(h) => BasicCredentials::parse(h).map_err(answer)?,
        None => None,
    };
    match state.provider.authenticate_client(&mut params, basic, now).await {
        Ok(client) => Ok((client, params)),
        Err(e) => {
            if assertion {
                super::throttle::assertion_failed(req, state, endpoint).await;
            }
            Err(answer(e))
        }
    }
}

/// `POST /revoke`: 200 whether or not the token was known (RFC 7009 §2.2).
#[tracing::instrument(name = "revoke", skip_all)]
pub async fn revoke(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let now = crate::domain::now();
    let (client, params) = match authenticated(&req, &state, body, AssertionEndpoint::Revoke, now).await {
        Ok(authenticated) => authenticated,
        Err(answer) => return answer,
    };
    let outcome = state.provider.revoke_request(&client, &params, &request_meta(&req, &state), now).await;
    match outcome {
        Ok(()) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
        Err(e) => json_error(&e),
    }
}

/// `POST /introspect`: confidential clients only (public clients prove nothing by sending a client_id).
#[tracing::instrument(name = "introspect", skip_all)]
pub async fn introspect(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let now = crate::domain::now();
    let outcome = match authenticated(&req, &state, body, AssertionEndpoint::Introspect, now).await {
        Ok((client, _)) if client.is_public() => {
            Err(OAuthError::invalid_client("introspection requires client authentication"))
        }
        Ok((client, params)) => state.provider.introspect(&client.id, &params, now).await,
        Err(answer) => return answer,
    };
    match outcome {
        Ok(v) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(v),
        Err(e) => json_error(&e),
    }
}
