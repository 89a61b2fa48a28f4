//! `GET` and `POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer errors.
use super::render::{bearer_challenge, bearer_error};
use super::{form, AppState};
use crate::oauth::error::OAuthError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

async fn respond(state: &AppState, token: Result<Option<String>, OAuthError>) -> HttpResponse {
    let token = match token {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_challenge(),
        Err(e) => return bearer_error(&e),
    };
    match state.provider.userinfo(&token, crate::domain::now()).await {
        Ok(claims) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(claims),
        Err(e) => bearer_error(&e),
    }
}

/// `GET /userinfo`: the token in the Authorization header.
#[tracing::instrument(name = "userinfo", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(&state, super::authorization::bearer_token(&req)).await
}

/// `POST /userinfo`: the header, or `access_token` in a form body (RFC 6750 §2.2), not both.
#[tracing::instrument(name = "userinfo", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let from_header = super::authorization::bearer_token(&req);
    let token = match form::bytes(body) {
        Ok(body) if body.is_empty() => from_header,
        Ok(body) => match form::body(&req, &body) {
            Ok(p) => match (from_header, p.get("access_token")) {
                (Ok(Some(_)), Some(_)) => Err(OAuthError::invalid_request("send the token once")),
                (Ok(None), Some(t)) => Ok(Some(t.to_owned())),
                (h, None) => h,
                (Err(e), _) => Err(e),
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    respond(&state, token).await
}
