//! The set-up of two-step verification at a password sign-in, while every one needs it (`otp.required`) and the
//! user has none yet: the account page's set-up page (the QR code and the secret as text) for the pending step,
//! `POST /login/enrol`, whose right code turns two-step verification on and shows the recovery codes, this once,
//! and `POST /login/enrol/continue`, the button under them, which ends the sign-in as the code step does
//! ([`super::login_code`]: `amr` pwd+otp). Wrong codes count as the code step's do; each step is bound to the
//! browser, has its own CSRF token, expires, and is taken once.
use super::account_otp::{not_right, setup_page, SetupForm};
use super::interaction_pages::cookies_blocked;
use super::lang::Lang;
use super::login_code::{
    begin_attempt, code_refused, end_sign_in, gone, locked_words, pending_step, ready_to_end, switching,
};
use super::meta::request_meta;
use super::render::{error_page, page};
use super::views::OtpRecoveryPage;
use super::{form, AppState};
use crate::domain::{UnixTime, User};
use crate::oauth::discovery::paths;
use crate::oauth::otp::{EnrolCheck, Enrolment, OtpCheck, SecondStep, SignInTarget, StepKind};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

/// The set-up page for `user`, whose password was just accepted: keeps the pending step with a new secret.
pub(super) async fn ask_to_enrol(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    username: &str,
    target: SignInTarget,
    now: UnixTime,
) -> HttpResponse {
    // Every password sign-in form is answered with the browser-binding cookie already set.
    let Some(browser) = state.cookies.read_browser(req) else { return cookies_blocked(req) };
    match state.provider.start_enrolment_step(user, username, target, &browser, now).await {
        Ok((id, step, enrolment)) => enrol_page(req, id, &step, &enrolment, None, StatusCode::OK),
        Err(e) => error_page(req, &e),
    }
}

fn enrol_page(
    req: &HttpRequest,
    id: String,
    step: &SecondStep,
    enrolment: &Enrolment,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let form = SetupForm { action: paths::LOGIN_ENROL, pending: Some(id), csrf: step.csrf.clone() };
    setup_page(req, form, enrolment, error, Some(status))
}

/// The set-up page of step `id` again, with `error`.
async fn again(
    req: &HttpRequest,
    state: &AppState,
    id: String,
    step: &SecondStep,
    error: String,
    status: StatusCode,
) -> HttpResponse {
    match state.provider.step_enrolment(&id, step).await {
        Ok(enrolment) => enrol_page(req, id, step, &enrolment, Some(error), status),
        Err(e) => error_page(req, &e),
    }
}

/// The set-up page again after a lock, 429 with `Retry-After`.
async fn locked(req: &HttpRequest, state: &AppState, id: String, step: &SecondStep, retry_after: i64) -> HttpResponse {
    let mut resp = again(req, state, id, step, locked_words(req, retry_after), StatusCode::TOO_MANY_REQUESTS).await;
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// `POST /login/enrol` (`pending`, `csrf`, `code`): a right code of the secret shown turns two-step verification
/// on, and the answer shows the recovery codes with the button that continues the sign-in.
#[tracing::instrument(name = "login enrol", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let now = crate::domain::now();
    let (id, step) = match pending_step(&req, &state, &f, StepKind::Enrol, now).await {
        Ok(pending) => pending,
        Err(resp) => return resp,
    };
    if switching(&f).is_some() {
        return match state.provider.step_enrolment(&id, &step).await {
            Ok(enrolment) => enrol_page(&req, id, &step, &enrolment, None, StatusCode::OK),
            Err(e) => error_page(&req, &e),
        };
    }
    let meta = request_meta(&req, &state);
    let limits = &state.provider.limits;
    let attempt = match begin_attempt(&req, &state, &step, &meta, now).await {
        Ok(attempt) => attempt,
        Err(retry_after) => return locked(&req, &state, id, &step, retry_after).await,
    };
    let typed = f.get("code").unwrap_or_default();
    match state.provider.confirm_step_enrolment(&id, &step, typed, &meta, now).await {
        Ok(EnrolCheck::TurnedOn { codes, next, csrf }) => {
            limits.sign_in_succeeded(attempt, &step.username, now).await;
            let codes = codes.iter().map(|c| c.grouped()).collect();
            let lang = Lang::of(&req);
            let view = OtpRecoveryPage { t: lang.t(), codes, proceed: Some((next, csrf)), renewed: false };
            page(&req, lang, StatusCode::OK, view.render())
        }
        Ok(EnrolCheck::Wrong) => {
            match code_refused(&state, &step, attempt, OtpCheck::Wrong.as_str(), &meta, now).await {
                None => again(&req, &state, id, &step, not_right(&req), StatusCode::OK).await,
                Some(retry_after) => locked(&req, &state, id, &step, retry_after).await,
            }
        }
        Ok(EnrolCheck::Gone) => {
            limits.sign_in_abandoned(attempt, now).await;
            gone(&req)
        }
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            error_page(&req, &e)
        }
    }
}

/// `POST /login/enrol/continue` (`pending`, `csrf`): the sign-in whose two-step verification was just set up goes
/// on to the authorization, the account page or the device page, with its session.
#[tracing::instrument(name = "login enrol continue", skip_all)]
pub async fn proceed(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let now = crate::domain::now();
    let (id, step) = match pending_step(&req, &state, &f, StepKind::Enrolled, now).await {
        Ok(pending) => pending,
        Err(resp) => return resp,
    };
    let ready = match ready_to_end(&req, &state, &step).await {
        Ok(ready) => ready,
        Err(resp) => return resp,
    };
    match end_sign_in(&req, &state, &id, step, ready, json!({ "otp_enrolled": true }), now).await {
        Ok(resp) | Err(resp) => resp,
    }
}
