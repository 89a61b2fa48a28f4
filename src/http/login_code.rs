//! The second step of a password sign-in for a user with two-step verification: the page asking for the code
//! from their authenticator app, and `POST /login/code`, which checks it and ends the sign-in as a password
//! sign-in does ([`super::login::signed_in`]). The pending step is bound to the browser and expires
//! (`oauth::otp::SECOND_STEP_TTL`); wrong codes count as failed sign-ins of the name typed at the password step.
use super::interaction_pages::{cookies_blocked, forbidden, from_another_origin};
use super::login::{resumed, signed_in, Target};
use super::meta::{device, request_meta};
use super::render::{error_page, message_page_with, page, wait_words};
use super::views::{Link, LoginCodePage};
use super::{form, throttle, AppState};
use crate::domain::{UnixTime, User};
use crate::oauth::audit::EventFacts;
use crate::oauth::discovery::paths;
use crate::oauth::interaction::Continuation;
use crate::oauth::otp::{OtpCheck, SecondStep};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;
use subtle::ConstantTimeEq;

const WRONG: &str = "That code is not right. Enter the code your app shows now.";

/// The code page for `user`, whose password was just accepted: keeps the pending step and asks for the code.
pub(super) async fn ask_for_code(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    username: &str,
    continuation: Continuation,
    client_id: Option<String>,
    now: UnixTime,
) -> HttpResponse {
    // Every password sign-in form is answered with the browser-binding cookie already set.
    let Some(browser) = state.cookies.read_browser(req) else { return cookies_blocked(req) };
    match state.provider.start_second_step(user, username, (continuation, client_id), &browser, now).await {
        Ok((id, step)) => code_page(StatusCode::OK, id, &step, None),
        Err(e) => error_page(req, &e),
    }
}

fn code_page(status: StatusCode, pending: String, step: &SecondStep, error: Option<String>) -> HttpResponse {
    page(status, LoginCodePage { pending, csrf: step.csrf.clone(), error }.render())
}

/// The page for a code posted after its sign-in expired, was completed, or from another browser.
fn gone(req: &HttpRequest) -> HttpResponse {
    message_page_with(
        req,
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "Sign in again with your password, then enter a new code. Or go back to the application and start again.",
        Some(Link { href: paths::ACCOUNT, text: "Go to your account page" }),
    )
}

/// `POST /login/code` (`pending`, `csrf`, `code`).
#[tracing::instrument(name = "login code", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let now = crate::domain::now();
    let Some(browser) = state.cookies.read_browser(&req) else { return cookies_blocked(&req) };
    let id = f.get("pending").unwrap_or_default().to_owned();
    let step = match state.provider.load_second_step(&id, &browser, now).await {
        Ok(Some(step)) => step,
        Ok(None) => return gone(&req),
        Err(e) => return error_page(&req, &e),
    };
    let csrf_ok: bool = f.get("csrf").is_some_and(|t| t.as_bytes().ct_eq(step.csrf.as_bytes()).into());
    if from_another_origin(&req, &state) || !csrf_ok {
        tracing::warn!(event = "csrf_token_mismatch", "sign-in code posted from another origin or without its token");
        return forbidden(&req);
    }
    let meta = request_meta(&req, &state);
    let ip = throttle::ip(&req, &state);
    let limits = &state.provider.limits;
    let client_id = step.client_id.clone();
    let attempt = match limits.begin_sign_in(ip, &step.username, now).await {
        Ok(attempt) => attempt,
        Err(lock) => {
            state.provider.metrics.sign_in(crate::metrics::SignIn::Locked);
            state.provider.sign_in_refused_while_locked(lock, ip, &step.username, client_id, &meta, now).await;
            return locked(id, &step, lock.retry_after);
        }
    };
    let typed = f.get("code").unwrap_or_default();
    let check = match state.provider.check_otp(&step.user_id, typed, now).await {
        Ok(check) => check,
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            return error_page(&req, &e);
        }
    };
    let user_id = Some(step.user_id.as_str().to_owned());
    if !check.is_accepted() {
        let details = json!({ "reason": check.as_str() });
        let facts = EventFacts { actor: None, user_id: user_id.clone(), client_id: client_id.clone(), details };
        state.provider.audit("login_failed", facts, &meta, now).await;
        let Some(lock) = limits.sign_in_failed(attempt, now).await else {
            return code_page(StatusCode::OK, id, &step, Some(WRONG.to_owned()));
        };
        let details = json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after });
        state
            .provider
            .audit("login_lockout", EventFacts { actor: None, user_id, client_id, details }, &meta, now)
            .await;
        return locked(id, &step, lock.retry_after);
    }
    match complete(&req, &state, &id, step).await {
        Ok((target, user, username)) => {
            let started = state.provider.start_otp_session(&user, device(&req, &state), now).await;
            let (cookie, session) = match started {
                Ok(Some(started)) => started,
                Ok(None) => {
                    limits.sign_in_abandoned(attempt, now).await;
                    return gone(&req);
                }
                Err(e) => {
                    limits.sign_in_abandoned(attempt, now).await;
                    return error_page(&req, &e);
                }
            };
            limits.sign_in_succeeded(attempt, &username, now).await;
            let details =
                if check == OtpCheck::RecoveryCodeUsed { json!({ "recovery_code": true }) } else { json!({}) };
            signed_in(&req, &state, target, &user, cookie, session, details, now).await
        }
        Err(resp) => {
            limits.sign_in_abandoned(attempt, now).await;
            resp
        }
    }
}

/// Takes the pending step whose code was right, and finds where it continues and its user as they are now.
#[allow(clippy::result_large_err)]
async fn complete(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    step: SecondStep,
) -> Result<(Target, User, String), HttpResponse> {
    match state.provider.take_second_step(id).await {
        Ok(true) => {}
        Ok(false) => return Err(gone(req)),
        Err(e) => return Err(error_page(req, &e)),
    }
    let target = resumed(req, state, step.continuation).await?;
    match state.provider.second_step_user(&step.user_id).await {
        Ok(Some(user)) => Ok((target, user, step.username)),
        Ok(None) => Err(gone(req)),
        Err(e) => Err(error_page(req, &e)),
    }
}

/// The code page again after a lock, 429 with `Retry-After`.
fn locked(id: String, step: &SecondStep, retry_after: i64) -> HttpResponse {
    let error = format!("Too many failed sign-in attempts. Wait {} and try again.", wait_words(retry_after));
    let mut resp = code_page(StatusCode::TOO_MANY_REQUESTS, id, step, Some(error));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}
