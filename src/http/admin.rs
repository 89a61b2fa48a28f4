//! The admin API under `/admin/api/…`: JSON in and out, never cached, for callers holding an access token with
//! the `tessera:admin` scope (`Provider::admin_caller`). Token problems are RFC 6750 answers (401 with a bare
//! challenge when there is no token, 401 `invalid_token`, 403 `insufficient_scope`); the token is checked before
//! anything else is read. Then: 400 `invalid_request` for bad input, 404 `not_found`, 409 `conflict`, each as
//! `{"error", "error_description"}`. [`ADMIN_ROUTES`] is the one list of what is served here: the route table
//! is built from it, and `docs/openapi.json` is tested against it.
use super::body::Unread;
use super::meta::request_meta;
use super::render::{bearer_challenge, bearer_error, json_error};
use super::{form, AppState};
use crate::domain::UnixTime;
use crate::oauth::admin::{AdminCaller, AdminError};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::provider::Provider;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Route};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use tracing::field::Empty;

/// Clients: list (`?after=&limit=`) and create.
pub const CLIENTS: &str = "/admin/api/clients";
/// One client: read, replace, delete.
pub const CLIENT: &str = "/admin/api/clients/{client_id}";
/// A new secret for a client; the previous one overlaps.
pub const CLIENT_ROTATE_SECRET: &str = "/admin/api/clients/{client_id}/rotate-secret";
/// Revoke every token issued to a client so far.
pub const CLIENT_REVOKE_TOKENS: &str = "/admin/api/clients/{client_id}/revoke-tokens";
/// Users: list (`?username=&email=&search=&after=&limit=`) and create.
pub const USERS: &str = "/admin/api/users";
/// One user by stable id: read, change, delete.
pub const USER: &str = "/admin/api/users/{user_id}";
/// Sign a user out everywhere.
pub const USER_REVOKE: &str = "/admin/api/users/{user_id}/revoke";
/// The upstream identities linked to a user.
pub const USER_IDENTITIES: &str = "/admin/api/users/{user_id}/identities";
/// A user's link at one upstream provider: remove.
pub const USER_IDENTITY: &str = "/admin/api/users/{user_id}/identities/{provider}";
/// A user's two-step verification: turned off (reset) by `DELETE`.
pub const USER_OTP: &str = "/admin/api/users/{user_id}/otp";
/// A user's live browser sessions.
pub const USER_SESSIONS: &str = "/admin/api/users/{user_id}/sessions";
/// One of a user's sessions: ended by `DELETE`.
pub const USER_SESSION: &str = "/admin/api/users/{user_id}/sessions/{session_id}";
/// The apps a user approved (consents, and live refresh tokens): listed, or all withdrawn by `DELETE`.
pub const USER_CONSENTS: &str = "/admin/api/users/{user_id}/consents";
/// What a user gave one client: withdrawn by `DELETE`.
pub const USER_CONSENT: &str = "/admin/api/users/{user_id}/consents/{client_id}";
/// A user's groups: listed.
pub const USER_GROUPS: &str = "/admin/api/users/{user_id}/groups";
/// A user's membership of one group: made by `PUT`, ended by `DELETE` (both idempotent).
pub const USER_GROUP: &str = "/admin/api/users/{user_id}/groups/{name}";
/// Groups: list and create.
pub const GROUPS: &str = "/admin/api/groups";
/// One group: delete.
pub const GROUP: &str = "/admin/api/groups/{name}";
/// A group's members (`?after=&limit=`): listed by username.
pub const GROUP_MEMBERS: &str = "/admin/api/groups/{name}/members";
/// A user's passkeys.
pub const USER_PASSKEYS: &str = "/admin/api/users/{user_id}/passkeys";
/// One of a user's passkeys: removed by `DELETE`.
pub const USER_PASSKEY: &str = "/admin/api/users/{user_id}/passkeys/{passkey_id}";
/// The audit trail (`?user=&client=&since=&type=&after=&limit=`).
pub const AUDIT: &str = "/admin/api/audit";

/// Every (method, path) the admin API answers; the route table is built from this list.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", CLIENTS),
    ("POST", CLIENTS),
    ("GET", CLIENT),
    ("PUT", CLIENT),
    ("DELETE", CLIENT),
    ("POST", CLIENT_ROTATE_SECRET),
    ("POST", CLIENT_REVOKE_TOKENS),
    ("GET", USERS),
    ("POST", USERS),
    ("GET", USER),
    ("PATCH", USER),
    ("DELETE", USER),
    ("POST", USER_REVOKE),
    ("GET", USER_IDENTITIES),
    ("DELETE", USER_IDENTITY),
    ("DELETE", USER_OTP),
    ("GET", USER_SESSIONS),
    ("DELETE", USER_SESSION),
    ("GET", USER_CONSENTS),
    ("DELETE", USER_CONSENTS),
    ("DELETE", USER_CONSENT),
    ("GET", USER_GROUPS),
    ("PUT", USER_GROUP),
    ("DELETE", USER_GROUP),
    ("GET", GROUPS),
    ("POST", GROUPS),
    ("DELETE", GROUP),
    ("GET", GROUP_MEMBERS),
    ("GET", USER_PASSKEYS),
    ("DELETE", USER_PASSKEY),
    ("GET", AUDIT),
];

/// Largest request body, in bytes.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

/// The handler of one entry of [`ADMIN_ROUTES`], on `route` (the entry's method, or HEAD for a GET).
fn route(route: Route, method: &str, path: &str) -> Option<Route> {
    Some(match (method, path) {
        ("GET", CLIENTS) => route.to(list_clients),
        ("POST", CLIENTS) => route.to(create_client),
        ("GET", CLIENT) => route.to(get_client),
        ("PUT", CLIENT) => route.to(update_client),
        ("DELETE", CLIENT) => route.to(delete_client),
        ("POST", CLIENT_ROTATE_SECRET) => route.to(rotate_secret),
        ("POST", CLIENT_REVOKE_TOKENS) => route.to(revoke_client_tokens),
        ("GET", USERS) => route.to(list_users),
        ("POST", USERS) => route.to(create_user),
        ("GET", USER) => route.to(get_user),
        ("PATCH", USER) => route.to(update_user),
        ("DELETE", USER) => route.to(delete_user),
        ("POST", USER_REVOKE) => route.to(revoke_user),
        ("GET", USER_IDENTITIES) => route.to(user_identities),
        ("DELETE", USER_IDENTITY) => route.to(unlink_identity),
        ("DELETE", USER_OTP) => route.to(reset_user_otp),
        ("GET", USER_SESSIONS) => route.to(user_sessions),
        ("DELETE", USER_SESSION) => route.to(end_user_session),
        ("GET", USER_CONSENTS) => route.to(user_consents),
        ("DELETE", USER_CONSENTS) => route.to(revoke_user_consents),
        ("DELETE", USER_CONSENT) => route.to(revoke_user_consent),
        ("GET", USER_GROUPS) => route.to(user_groups),
        ("PUT", USER_GROUP) => route.to(add_user_group),
        ("DELETE", USER_GROUP) => route.to(remove_user_group),
        ("GET", GROUPS) => route.to(list_groups),
        ("POST", GROUPS) => route.to(create_group),
        ("DELETE", GROUP) => route.to(delete_group),
        ("GET", GROUP_MEMBERS) => route.to(group_members),
        ("GET", USER_PASSKEYS) => route.to(user_passkeys),
        ("DELETE", USER_PASSKEY) => route.to(remove_user_passkey),
        ("GET", AUDIT) => route.to(audit),
        _ => return None,
    })
}

/// Registers [`ADMIN_ROUTES`]: one resource per path (so other methods get 405 with `Allow`), each GET also
/// answering HEAD, as the public routes do, and each counted and timed in `metrics` under its pattern.
pub fn routes(cfg: &mut web::ServiceConfig, metrics: &crate::metrics::Metrics) {
    let mut paths: Vec<&str> = Vec::new();
    for &(_, path) in ADMIN_ROUTES {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        for &(method, _) in ADMIN_ROUTES.iter().filter(|&&(_, p)| p == path) {
            let m = Method::from_bytes(method.as_bytes()).ok();
            let Some(r) = m.clone().and_then(|m| route(web::method(m), method, path)) else {
                // A unit test keeps this from happening.
                tracing::error!(method, path, "admin route without a handler");
                continue;
            };
            resource = resource.route(r);
            if m == Some(Method::GET) {
                if let Some(head) = route(web::head(), method, path) {
                    resource = resource.route(head);
                }
            }
        }
        cfg.service(super::metrics::metered(metrics, path, resource));
    }
}

/// `{"error", "error_description"}` with `status`, never cached.
fn problem(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    tracing::info!(status = status.as_u16(), error = code, description, "admin request refused");
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": code, "error_description": description }))
}

/// The answer to a failed admin request.
fn error(e: AdminError) -> HttpResponse {
    match e {
        AdminError::Client(e) => problem(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
        AdminError::Invalid(m) => problem(StatusCode::BAD_REQUEST, "invalid_request", &m),
        AdminError::NotFound(m) => problem(StatusCode::NOT_FOUND, "not_found", &m),
        AdminError::Conflict(m) => problem(StatusCode::CONFLICT, "conflict", &m),
        AdminError::Store(e) => json_error(&OAuthError::from(e)),
        AdminError::Protocol(e) => match e.code {
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => bearer_error(&e),
            _ => json_error(&e),
        },
    }
}

/// The caller, once their bearer token passed; otherwise the RFC 6750 answer.
async fn caller(req: &HttpRequest, state: &AppState, now: UnixTime) -> Result<AdminCaller, HttpResponse> {
    let token = match super::authorization::bearer_token(req) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(bearer_challenge()),
        Err(e) => return Err(bearer_error(&e)),
    };
    let meta = request_meta(req, state);
    let caller = state.provider.admin_caller(&token, &meta, now).await.map_err(|e| error(e.into()))?;
    tracing::Span::current().record("admin_client", caller.client_id.as_str());
    Ok(caller)
}

/// Runs `op` for an authorized caller and renders its outcome: `success` with the JSON it returns, or, for
/// `204 No Content`, no body.
async fn admin<F, Fut>(req: &HttpRequest, state: &AppState, success: StatusCode, op: F) -> HttpResponse
where
    F: FnOnce(Arc<Provider>, AdminCaller, UnixTime) -> Fut,
    Fut: Future<Output = Result<Value, AdminError>>,
{
    let now = crate::domain::now();
    let caller = match caller(req, state, now).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match op(Arc::clone(&state.provider), caller, now).await {
        Ok(_) if success == StatusCode::NO_CONTENT => {
            HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish()
        }
        Ok(value) => HttpResponse::build(success)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(value),
        Err(e) => error(e),
    }
}

/// Whether the request says its body is JSON.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

/// The JSON body, at most [`MAX_ADMIN_BODY_BYTES`]; read only once the caller is authorized.
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Vec<u8>, AdminError> {
    if !is_json(req) {
        return Err(AdminError::Invalid("the body must be application/json".into()));
    }
    super::body::read(payload, MAX_ADMIN_BODY_BYTES).await.map_err(|e| match e {
        Unread::TooLarge => {
            AdminError::Invalid(format!("the request body is larger than {MAX_ADMIN_BODY_BYTES} bytes"))
        }
        Unread::Broken => AdminError::Invalid("the request body could not be read".into()),
        Unread::Late => AdminError::Protocol(super::form::late()),
    })
}

/// `GET /admin/api/clients`.
#[tracing::instrument(name = "admin_list_clients", skip_all, fields(admin_client = Empty))]
pub async fn list_clients(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = form::query(&req);
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_list_clients(&params?).await }).await
}

/// `POST /admin/api/clients`: 201 with the client and, once, its secret.
#[tracing::instrument(name = "admin_create_client", skip_all, fields(admin_client = Empty))]
pub async fn create_client(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let (request, meta) = (&req, request_meta(&req, &state));
    admin(&req, &state, StatusCode::CREATED, |p, caller, now| async move {
        let body = json_body(request, payload).await?;
        p.admin_create_client(&caller, &body, &meta, now).await
    })
    .await
}

/// `GET /admin/api/clients/{client_id}`.
#[tracing::instrument(name = "admin_get_client", skip_all, fields(admin_client = Empty))]
pub async fn get_client(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_client(&path).await }).await
}

/// `PUT /admin/api/clients/{client_id}`.
#[tracing::instrument(name = "admin_update_client", skip_all, fields(admin_client = Empty))]
pub async fn update_client(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (request, meta) = (&req, request_meta(&req, &state));
    admin(&req, &state, StatusCode::OK, |p, caller, now| async move {
        let body = json_body(request, payload).await?;
        p.admin_update_client(&caller, &path, &body, &meta, now).await
    })
    .await
}

/// `DELETE /admin/api/clients/{client_id}`: 204.
#[tracing::instrument(name = "admin_delete_client", skip_all, fields(admin_client = Empty))]
pub async fn delete_client(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_delete_client(&caller, &path, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `POST /admin/api/clients/{client_id}/rotate-secret`.
#[tracing::instrument(name = "admin_rotate_secret", skip_all, fields(admin_client = Empty))]
pub async fn rotate_secret(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let overlap = state.settings.clients.secret_overlap;
    admin(&req, &state, StatusCode::OK, |p, caller, now| async move {
        p.admin_rotate_client_secret(&caller, &path, overlap, &meta, now).await
    })
    .await
}

/// `POST /admin/api/clients/{client_id}/revoke-tokens`.
#[tracing::instrument(name = "admin_revoke_client_tokens", skip_all, fields(admin_client = Empty))]
pub async fn revoke_client_tokens(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::OK, |p, caller, now| async move {
        p.admin_revoke_client_tokens(&caller, &path, &meta, now).await
    })
    .await
}

/// `GET /admin/api/users`.
#[tracing::instrument(name = "admin_list_users", skip_all, fields(admin_client = Empty))]
pub async fn list_users(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = form::query(&req);
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_list_users(&params?).await }).await
}

/// `POST /admin/api/users`: 201 with the user.
#[tracing::instrument(name = "admin_create_user", skip_all, fields(admin_client = Empty))]
pub async fn create_user(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let (request, meta) = (&req, request_meta(&req, &state));
    admin(&req, &state, StatusCode::CREATED, |p, caller, now| async move {
        let body = json_body(request, payload).await?;
        p.admin_create_user(&caller, &body, &meta, now).await
    })
    .await
}

/// `GET /admin/api/users/{user_id}`.
#[tracing::instrument(name = "admin_get_user", skip_all, fields(admin_client = Empty))]
pub async fn get_user(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_user(&path).await }).await
}

/// `PATCH /admin/api/users/{user_id}`.
#[tracing::instrument(name = "admin_update_user", skip_all, fields(admin_client = Empty))]
pub async fn update_user(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (request, meta) = (&req, request_meta(&req, &state));
    admin(&req, &state, StatusCode::OK, |p, caller, now| async move {
        let body = json_body(request, payload).await?;
        p.admin_update_user(&caller, &path, &body, &meta, now).await
    })
    .await
}

/// `DELETE /admin/api/users/{user_id}`: 204.
#[tracing::instrument(name = "admin_delete_user", skip_all, fields(admin_client = Empty))]
pub async fn delete_user(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_delete_user(&caller, &path, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `DELETE /admin/api/users/{user_id}/otp`: 204.
#[tracing::instrument(name = "admin_reset_user_otp", skip_all, fields(admin_client = Empty))]
pub async fn reset_user_otp(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_reset_otp(&caller, &path, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `POST /admin/api/users/{user_id}/revoke`.
#[tracing::instrument(name = "admin_revoke_user", skip_all, fields(admin_client = Empty))]
pub async fn revoke_user(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::OK, |p, caller, now| async move {
        p.admin_revoke_user(&caller, &path, &meta, now).await
    })
    .await
}

/// `GET /admin/api/users/{user_id}/identities`.
#[tracing::instrument(name = "admin_user_identities", skip_all, fields(admin_client = Empty))]
pub async fn user_identities(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_user_identities(&path).await }).await
}

/// `DELETE /admin/api/users/{user_id}/identities/{provider}`.
#[tracing::instrument(name = "admin_unlink_identity", skip_all, fields(admin_client = Empty))]
pub async fn unlink_identity(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let (user_id, provider) = path.into_inner();
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_unlink_identity(&caller, &user_id, &provider, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/users/{user_id}/sessions`.
#[tracing::instrument(name = "admin_user_sessions", skip_all, fields(admin_client = Empty))]
pub async fn user_sessions(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, now| async move { p.admin_user_sessions(&path, now).await }).await
}

/// `DELETE /admin/api/users/{user_id}/sessions/{session_id}`.
#[tracing::instrument(name = "admin_end_user_session", skip_all, fields(admin_client = Empty))]
pub async fn end_user_session(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let (user_id, session_id) = path.into_inner();
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_end_session(&caller, &user_id, &session_id, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/users/{user_id}/consents`.
#[tracing::instrument(name = "admin_user_consents", skip_all, fields(admin_client = Empty))]
pub async fn user_consents(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, now| async move { p.admin_user_consents(&path, now).await }).await
}

/// `DELETE /admin/api/users/{user_id}/consents`.
#[tracing::instrument(name = "admin_revoke_user_consents", skip_all, fields(admin_client = Empty))]
pub async fn revoke_user_consents(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_revoke_consents(&caller, &path, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `DELETE /admin/api/users/{user_id}/consents/{client_id}`.
#[tracing::instrument(name = "admin_revoke_user_consent", skip_all, fields(admin_client = Empty))]
pub async fn revoke_user_consent(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let (user_id, client_id) = path.into_inner();
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_revoke_consent(&caller, &user_id, &client_id, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/users/{user_id}/groups`.
#[tracing::instrument(name = "admin_user_groups", skip_all, fields(admin_client = Empty))]
pub async fn user_groups(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_user_groups(&path).await }).await
}

/// `PUT /admin/api/users/{user_id}/groups/{name}`: 204.
#[tracing::instrument(name = "admin_add_user_group", skip_all, fields(admin_client = Empty))]
pub async fn add_user_group(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    set_user_group(req, path, state, true).await
}

/// `DELETE /admin/api/users/{user_id}/groups/{name}`: 204.
#[tracing::instrument(name = "admin_remove_user_group", skip_all, fields(admin_client = Empty))]
pub async fn remove_user_group(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    set_user_group(req, path, state, false).await
}

async fn set_user_group(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    member: bool,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let (user_id, name) = path.into_inner();
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_set_user_group(&caller, (&user_id, &name), member, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/groups`.
#[tracing::instrument(name = "admin_list_groups", skip_all, fields(admin_client = Empty))]
pub async fn list_groups(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_list_groups().await }).await
}

/// `POST /admin/api/groups`: 201 with the group.
#[tracing::instrument(name = "admin_create_group", skip_all, fields(admin_client = Empty))]
pub async fn create_group(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let (request, meta) = (&req, request_meta(&req, &state));
    admin(&req, &state, StatusCode::CREATED, |p, caller, now| async move {
        let body = json_body(request, payload).await?;
        p.admin_create_group(&caller, &body, &meta, now).await
    })
    .await
}

/// `DELETE /admin/api/groups/{name}`: 204.
#[tracing::instrument(name = "admin_delete_group", skip_all, fields(admin_client = Empty))]
pub async fn delete_group(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let meta = request_meta(&req, &state);
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_delete_group(&caller, &path, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/groups/{name}/members`.
#[tracing::instrument(name = "admin_group_members", skip_all, fields(admin_client = Empty))]
pub async fn group_members(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let params = form::query(&req);
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_group_members(&path, &params?).await }).await
}

/// `GET /admin/api/users/{user_id}/passkeys`.
#[tracing::instrument(name = "admin_user_passkeys", skip_all, fields(admin_client = Empty))]
pub async fn user_passkeys(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_user_passkeys(&path).await }).await
}

/// `DELETE /admin/api/users/{user_id}/passkeys/{passkey_id}`.
#[tracing::instrument(name = "admin_remove_user_passkey", skip_all, fields(admin_client = Empty))]
pub async fn remove_user_passkey(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let meta = request_meta(&req, &state);
    let (user_id, passkey_id) = path.into_inner();
    admin(&req, &state, StatusCode::NO_CONTENT, |p, caller, now| async move {
        p.admin_remove_passkey(&caller, &user_id, &passkey_id, &meta, now).await.map(|()| Value::Null)
    })
    .await
}

/// `GET /admin/api/audit`.
#[tracing::instrument(name = "admin_audit", skip_all, fields(admin_client = Empty))]
pub async fn audit(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = form::query(&req);
    admin(&req, &state, StatusCode::OK, |p, _, _| async move { p.admin_audit(&params?).await }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_route_has_one_handler() {
        let mut seen = std::collections::HashSet::new();
        for &(method, path) in ADMIN_ROUTES {
            assert!(route(web::route(), method, path).is_some(), "{method} {path} has no handler");
            assert!(seen.insert((method, path)), "{method} {path} is listed twice");
            assert!(path.starts_with("/admin/api/"), "{path}");
        }
    }
}
