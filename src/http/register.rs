//! `POST /register` (RFC 7591) and `GET`, `PUT`, `DELETE /register/{client_id}` (RFC 7592): JSON in, JSON
//! out, never cached. Bearer token problems are RFC 6750 answers (401 with a bare challenge when no bearer
//! token was sent, 401 `invalid_token` for a wrong one), metadata problems RFC 7591 §3.2.2
//! errors (400). With `registration.mode = "off"` every one of these paths is a 404. Refusals are in the audit
//! trail (`client_registration_refused`), as many from one address as the per-IP registration limit lets through.
use super::body::Unread;
use super::meta::request_meta;
use super::render::{bearer_challenge, bearer_error, json_error};
use super::AppState;
use crate::config::RegistrationMode;
use crate::domain::secret::SecretHash;
use crate::domain::{ClientId, UnixTime};
use crate::oauth::audit::RequestMeta;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::registration::metadata::{ClientInformation, MAX_REGISTRATION_BYTES};
use crate::oauth::registration::{ManagedRegistration, ManagementOperation};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use tracing::field::Empty;

fn registration_off(state: &AppState) -> bool {
    state.settings.registration == RegistrationMode::Off
}

/// The answer to `e`, the refusal of a request that presented `token`: without a bearer token at all, the bare
/// challenge, with no error code (RFC 6750 §3.1).
fn refusal(token: Option<&str>, e: &OAuthError) -> HttpResponse {
    match token {
        None if e.code == ErrorCode::InvalidToken => bearer_challenge(),
        _ => error(e),
    }
}

/// The body of a JSON request, at most [`MAX_REGISTRATION_BYTES`].
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Vec<u8>, OAuthError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(OAuthError::invalid_request("the body must be application/json"));
    }
    super::body::read(payload, MAX_REGISTRATION_BYTES).await.map_err(|e| match e {
        Unread::TooLarge => {
            OAuthError::invalid_request(format!("the request body is larger than {MAX_REGISTRATION_BYTES} bytes"))
        }
        Unread::Broken => OAuthError::invalid_request("the request body could not be read"),
        Unread::Late => super::form::late(),
    })
}

fn error(e: &OAuthError) -> HttpResponse {
    if e.code == ErrorCode::InvalidToken {
        bearer_error(e)
    } else {
        json_error(e)
    }
}

fn information(status: StatusCode, info: &ClientInformation) -> HttpResponse {
    tracing::Span::current().record("client_id", info.client().id.as_str());
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(info.to_json())
}

/// `POST /register`: 201 with the client information, shown once with its secrets. The initial access token
/// is checked before the body is read, so strangers learn nothing about the metadata rules in token mode.
/// Every refusal past the abuse limit is in the audit trail (`client_registration_refused`); the limit bounds
/// how many one address can leave there. Its own 429s are not recorded, nor are the 404s of `off` mode: nothing
/// bounds those.
#[tracing::instrument(name = "register", skip_all, fields(client_id = Empty))]
pub async fn post(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    if registration_off(&state) {
        return HttpResponse::NotFound().finish();
    }
    // Abuse limit per client IP (`http::throttle`), before any other work.
    if let Some(refused) = super::throttle::registration(&req, &state).await {
        return refused;
    }
    let now = crate::domain::now();
    let meta = request_meta(&req, &state);
    match register(&req, payload, &state, &meta, now).await {
        Ok(info) => information(StatusCode::CREATED, &info),
        Err(refused) => {
            let permitted_by = refused.initial_access_token.as_ref();
            state.provider.audit_registration_refused(&refused.error, permitted_by, &meta, now).await;
            refused.answer
        }
    }
}

/// A refused registration: why, the answer, and the hash of the initial access token it was permitted by.
struct Refused {
    error: OAuthError,
    answer: HttpResponse,
    initial_access_token: Option<SecretHash>,
}

impl Refused {
    fn new(
        error: OAuthError,
        answer: impl FnOnce(&OAuthError) -> HttpResponse,
        initial_access_token: Option<SecretHash>,
    ) -> Self {
        let answer = answer(&error);
        Self { error, answer, initial_access_token }
    }
}

async fn register(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    meta: &RequestMeta,
    now: UnixTime,
) -> Result<ClientInformation, Refused> {
    let token = super::authorization::bearer_token(req).map_err(|e| Refused::new(e, bearer_error, None))?;
    let permit = state
        .provider
        .permit_registration(token.as_deref(), now)
        .await
        .map_err(|e| Refused::new(e, |e| refusal(token.as_deref(), e), None))?;
    let permitted_by = permit.initial_access_token().cloned();
    let body = match json_body(req, payload).await {
        Ok(body) => body,
        Err(e) => return Err(Refused::new(e, error, permitted_by)),
    };
    state.provider.register_client(permit, &body, meta, now).await.map_err(|e| Refused::new(e, error, permitted_by))
}

/// A refused request to `/register/{client_id}`: why, the answer, and the client when the request's registration
/// access token was right.
struct ManagementRefused {
    error: OAuthError,
    answer: HttpResponse,
    authenticated: Option<ClientId>,
}

impl ManagementRefused {
    fn new(
        error: OAuthError,
        answer: impl FnOnce(&OAuthError) -> HttpResponse,
        authenticated: Option<ClientId>,
    ) -> Self {
        let answer = answer(&error);
        Self { error, answer, authenticated }
    }
}

/// Answers a refused request to `/register/{client_id}` and records it (`client_registration_refused` with the
/// `operation`). Refusals count against the per-IP registration limit, which every `POST /register` counts
/// against, so that one address cannot fill the audit trail with wrong tokens: past the limit the answer is its
/// 429, not recorded. Requests that succeed do not count: a client managing its own registration is never held
/// back by the registrations and refusals of its neighbours.
async fn management_refused(
    req: &HttpRequest,
    state: &AppState,
    operation: ManagementOperation,
    client_id: &str,
    refused: ManagementRefused,
) -> HttpResponse {
    if let Some(limited) = super::throttle::registration(req, state).await {
        return limited;
    }
    let meta = request_meta(req, state);
    let (error, authenticated) = (&refused.error, refused.authenticated.as_ref());
    let now = crate::domain::now();
    state.provider.audit_registration_management_refused(operation, client_id, authenticated, error, &meta, now).await;
    refused.answer
}

/// The registration that the request's bearer token manages, or the refusal.
async fn managed(
    req: &HttpRequest,
    state: &AppState,
    client_id: &str,
) -> Result<ManagedRegistration, ManagementRefused> {
    let token = super::authorization::bearer_token(req).map_err(|e| ManagementRefused::new(e, bearer_error, None))?;
    state
        .provider
        .managed_registration(client_id, token.as_deref())
        .await
        .map_err(|e| ManagementRefused::new(e, |e| refusal(token.as_deref(), e), None))
}

/// `GET /register/{client_id}`: the current registration (without the client secret).
#[tracing::instrument(name = "register_read", skip_all, fields(client_id = Empty))]
pub async fn get(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    if registration_off(&state) {
        return HttpResponse::NotFound().finish();
    }
    match managed(&req, &state, &path).await {
        Ok(m) => information(StatusCode::OK, &state.provider.read_client_registration(m)),
        Err(refused) => management_refused(&req, &state, ManagementOperation::Read, &path, refused).await,
    }
}

/// `PUT /register/{client_id}`: replaces the metadata; 200 with the updated registration.
#[tracing::instrument(name = "register_update", skip_all, fields(client_id = Empty))]
pub async fn put(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if registration_off(&state) {
        return HttpResponse::NotFound().finish();
    }
    match update(&req, &path, payload, &state).await {
        Ok(info) => information(StatusCode::OK, &info),
        Err(refused) => management_refused(&req, &state, ManagementOperation::Update, &path, refused).await,
    }
}

async fn update(
    req: &HttpRequest,
    client_id: &str,
    payload: web::Payload,
    state: &AppState,
) -> Result<ClientInformation, ManagementRefused> {
    let m = managed(req, state, client_id).await?;
    let id = m.client().id.clone();
    let body = match json_body(req, payload).await {
        Ok(body) => body,
        Err(e) => return Err(ManagementRefused::new(e, error, Some(id))),
    };
    let meta = request_meta(req, state);
    let updated = state.provider.update_client_registration(m, &body, &meta, crate::domain::now()).await;
    updated.map_err(|e| ManagementRefused::new(e, error, Some(id)))
}

/// `DELETE /register/{client_id}`: 204 once the client and what it was issued are gone.
#[tracing::instrument(name = "register_delete", skip_all, fields(client_id = Empty))]
pub async fn delete(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    if registration_off(&state) {
        return HttpResponse::NotFound().finish();
    }
    match remove(&req, &path, &state).await {
        Ok(()) => HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
        Err(refused) => management_refused(&req, &state, ManagementOperation::Delete, &path, refused).await,
    }
}

async fn remove(req: &HttpRequest, client_id: &str, state: &AppState) -> Result<(), ManagementRefused> {
    let m = managed(req, state, client_id).await?;
    let id = m.client().id.clone();
    tracing::Span::current().record("client_id", id.as_str());
    let meta = request_meta(req, state);
    let deleted = state.provider.delete_client_registration(m, &meta, crate::domain::now()).await;
    deleted.map_err(|e| ManagementRefused::new(e, error, Some(id)))
}
