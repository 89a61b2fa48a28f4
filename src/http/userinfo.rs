//! `GET` and `POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer errors, and DPoP-bound tokens presented with
//! the `DPoP` scheme and a proof (RFC 9449 §7), whose errors are `DPoP` challenges (`use_dpop_nonce` among
//! them, with the nonce in `DPoP-Nonce`, under `dpop.require_nonce`: RFC 9449 §9).
use super::authorization::{with_dpop_nonce, PresentedToken};
use super::render::{bearer_challenge, bearer_error, dpop_error};
use super::{form, AppState};
use crate::oauth::discovery::paths;
use crate::oauth::dpop::Presentation;
use crate::oauth::error::{ErrorCode, OAuthError};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

async fn respond(
    req: &HttpRequest,
    state: &AppState,
    token: Result<Option<PresentedToken>, OAuthError>,
) -> HttpResponse {
    let (token, dpop) = match token {
        Ok(Some(PresentedToken::Bearer(t))) => (t, false),
        Ok(Some(PresentedToken::Dpop(t))) => (t, true),
        Ok(None) => return bearer_challenge(),
        Err(e) => return bearer_error(&e),
    };
    let now = crate::domain::now();
    // RFC 9449 §9: under `dpop.require_nonce`, every answer to a DPoP request carries a fresh nonce.
    let nonce = match super::authorization::dpop_nonce(req, dpop, &state.provider, now) {
        Ok(nonce) => nonce,
        Err(e) => return dpop_error(&e),
    };
    let proof = match super::authorization::dpop_proof(req) {
        Ok(proof) => proof,
        Err(e) => return with_dpop_nonce(dpop_error(&e), nonce.as_ref()),
    };
    let presented = if dpop {
        Presentation::Dpop { proof, method: req.method().as_str(), path: paths::USERINFO }
    } else {
        Presentation::Bearer
    };
    let response = match state.provider.userinfo(&token, presented, now).await {
        Ok(claims) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(claims),
        Err(e) if dpop || e.code == ErrorCode::InvalidDpopProof => dpop_error(&e),
        Err(e) => bearer_error(&e),
    };
    with_dpop_nonce(response, nonce.as_ref())
}

/// `GET /userinfo`: the token in the Authorization header.
#[tracing::instrument(name = "userinfo", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(&req, &state, super::authorization::access_token(&req)).await
}

/// `POST /userinfo`: the header, or `access_token` in a form body (RFC 6750 §2.2), not both.
#[tracing::instrument(name = "userinfo", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let from_header = super::authorization::access_token(&req);
    let token = match form::bytes(body) {
        Ok(body) if body.is_empty() => from_header,
        Ok(body) => match form::body(&req, &body) {
            Ok(p) => match (from_header, p.get("access_token")) {
                (Ok(Some(_)), Some(_)) => Err(OAuthError::invalid_request("send the token once")),
                (Ok(None), Some(t)) => Ok(Some(PresentedToken::Bearer(t.to_owned()))),
                (h, None) => h,
                (Err(e), _) => Err(e),
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    respond(&req, &state, token).await
}
