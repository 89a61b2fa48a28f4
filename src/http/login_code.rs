//! The second step of a password sign-in for a user with two-step verification: the page asking for the code
//! from their authenticator app, and `POST /login/code`, which checks it and ends the sign-in as a password
//! sign-in does ([`super::login::signed_in`]). The pending step is bound to the browser and expires
//! (`otp.code_step_seconds`); wrong codes count as failed sign-ins of the name typed at the password step. The
//! helpers here serve the set-up step too ([`super::login_enrol`]), whose codes count the same way.
use super::interaction_pages::{cookies_blocked, forbidden, from_another_origin};
use super::lang::{Lang, CHOICE};
use super::login::{resumed, signed_in, Target};
use super::login_new_password::ask_for_new_password;
use super::meta::{device, request_meta};
use super::render::{error_page, message_page_with, page, wait_words};
use super::views::{Link, LoginCodePage};
use super::{form, throttle, AppState};
use crate::domain::{UnixTime, User};
use crate::i18n::Locale;
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::discovery::paths;
use crate::oauth::interaction::Continuation;
use crate::oauth::limits::SignInAttempt;
use crate::oauth::otp::{OtpCheck, SecondStep, SignInTarget, StepKind};
use crate::oauth::params::Params;
use crate::oauth::session::Finished;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;
use subtle::ConstantTimeEq;

/// The code page for `user`, whose password was just accepted: keeps the pending step and asks for the code.
pub(super) async fn ask_for_code(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    username: &str,
    target: SignInTarget,
    now: UnixTime,
) -> HttpResponse {
    // Every password sign-in form is answered with the browser-binding cookie already set.
    let Some(browser) = state.cookies.read_browser(req) else { return cookies_blocked(req) };
    match state.provider.start_second_step(user, username, target, &browser, now).await {
        Ok((id, step)) => code_page(req, StatusCode::OK, id, &step, None),
        Err(e) => error_page(req, &e),
    }
}

fn code_page(
    req: &HttpRequest,
    status: StatusCode,
    pending: String,
    step: &SecondStep,
    error: Option<String>,
) -> HttpResponse {
    let lang = Lang::of(req);
    page(req, lang, status, LoginCodePage { t: lang.t(), pending, csrf: step.csrf.clone(), error }.render())
}

/// The page for a second step posted after its sign-in expired, was completed, or from another browser.
pub(super) fn gone(req: &HttpRequest) -> HttpResponse {
    let t = Lang::of(req).t();
    let account = Some(Link { href: paths::ACCOUNT, text: t.common.go_to_account });
    message_page_with(req, StatusCode::BAD_REQUEST, t.code.gone, t.code.gone_text, account)
}

/// The pending step of `kind` that form `f` names (`pending`), checked: this browser's, live, and posted from our
/// own page with its CSRF token.
#[allow(clippy::result_large_err)]
pub(super) async fn pending_step(
    req: &HttpRequest,
    state: &AppState,
    f: &Params,
    kind: StepKind,
    now: UnixTime,
) -> Result<(String, SecondStep), HttpResponse> {
    let Some(browser) = state.cookies.read_browser(req) else { return Err(cookies_blocked(req)) };
    let id = f.get("pending").unwrap_or_default().to_owned();
    let step = match state.provider.load_second_step(&id, &browser, kind, now).await {
        Ok(Some(step)) => {
            Lang::of_sign_in(req, step.locale);
            step
        }
        Ok(None) => return Err(gone(req)),
        Err(e) => return Err(error_page(req, &e)),
    };
    let csrf_ok: bool = f.get("csrf").is_some_and(|t| t.as_bytes().ct_eq(step.csrf.as_bytes()).into());
    if from_another_origin(req, state) || !csrf_ok {
        tracing::warn!(event = "csrf_token_mismatch", "sign-in code posted from another origin or without its token");
        return Err(forbidden(req));
    }
    let mut step = step;
    if let Some(chosen) = switching(f) {
        keep_language(req, state, &id, &mut step, chosen, now).await;
    }
    Ok((id, step))
}

/// The language a step's switcher posted (`lang`), if the form is the switcher's: the page is to be shown again
/// in it, and nothing else done.
pub(super) fn switching(f: &Params) -> Option<Locale> {
    f.get(CHOICE).and_then(Locale::of_tag)
}

/// Keeps `chosen` as the language of `step` and of the sign-in it continues, for this request and the pages
/// after it. A failure to keep it costs the later pages their language only.
async fn keep_language(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    step: &mut SecondStep,
    chosen: Locale,
    now: UnixTime,
) {
    Lang::choose(req, chosen);
    step.locale = Some(chosen);
    if let Err(e) = state.provider.keep_step_locale(id, step, now).await {
        tracing::warn!(error = %e, "could not keep the language chosen for a sign-in step");
    }
    // Loading the pending authorization keeps the choice with it too (`find`).
    if let Continuation::Authorize(interaction) = &step.continuation {
        let _kept = super::interaction_pages::find(req, state, Some(interaction)).await;
    }
}

/// Starts counting a code posted to `step` against the sign-in limits of its name and the client's IP: the
/// seconds to wait when either is locked (refused unchecked, as a password would be).
pub(super) async fn begin_attempt(
    req: &HttpRequest,
    state: &AppState,
    step: &SecondStep,
    meta: &RequestMeta,
    now: UnixTime,
) -> Result<SignInAttempt, i64> {
    let ip = throttle::ip(req, state);
    match state.provider.limits.begin_sign_in(ip, &step.username, now).await {
        Ok(attempt) => Ok(attempt),
        Err(lock) => {
            let client_id = step.client_id.clone();
            state.provider.sign_in_refused_while_locked(lock, ip, &step.username, client_id, meta, now).await;
            Err(lock.retry_after)
        }
    }
}

/// A wrong code posted to `step` (`reason` for the audit trail): a failed sign-in of its name. The seconds to
/// wait when it locked the name or the IP.
pub(super) async fn code_refused(
    state: &AppState,
    step: &SecondStep,
    attempt: SignInAttempt,
    reason: &str,
    meta: &RequestMeta,
    now: UnixTime,
) -> Option<i64> {
    let (user_id, client_id) = (Some(step.user_id.as_str().to_owned()), step.client_id.clone());
    let details = json!({ "reason": reason });
    let facts = EventFacts { actor: None, user_id: user_id.clone(), client_id: client_id.clone(), details };
    state.provider.audit("login_failed", facts, meta, now).await;
    let lock = state.provider.limits.sign_in_failed(attempt, now).await?;
    let details = json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after });
    state.provider.audit("login_lockout", EventFacts { actor: None, user_id, client_id, details }, meta, now).await;
    Some(lock.retry_after)
}

/// `POST /login/code` (`pending`, `csrf`, `code`).
#[tracing::instrument(name = "login code", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let now = crate::domain::now();
    let (id, step) = match pending_step(&req, &state, &f, StepKind::Code, now).await {
        Ok(pending) => pending,
        Err(resp) => return resp,
    };
    if switching(&f).is_some() {
        return code_page(&req, StatusCode::OK, id, &step, None);
    }
    // Before the code is checked: a code, a recovery code above all, is used up only by a sign-in that can end.
    let ready = match ready_to_end(&req, &state, &step).await {
        Ok(ready) => ready,
        Err(resp) => return resp,
    };
    let meta = request_meta(&req, &state);
    let limits = &state.provider.limits;
    let attempt = match begin_attempt(&req, &state, &step, &meta, now).await {
        Ok(attempt) => attempt,
        Err(retry_after) => return locked(&req, id, &step, retry_after),
    };
    let typed = f.get("code").unwrap_or_default();
    let check = match state.provider.check_otp(&step.user_id, typed, now).await {
        Ok(check) => check,
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            return error_page(&req, &e);
        }
    };
    if !check.is_accepted() {
        return match code_refused(&state, &step, attempt, check.as_str(), &meta, now).await {
            None => code_page(&req, StatusCode::OK, id, &step, Some(Lang::of(&req).t().code.wrong.to_owned())),
            Some(retry_after) => locked(&req, id, &step, retry_after),
        };
    }
    let details = if check == OtpCheck::RecoveryCodeUsed { json!({ "recovery_code": true }) } else { json!({}) };
    let username = step.username.clone();
    match end_sign_in(&req, &state, &id, step, ready, details, now).await {
        Ok(resp) => {
            limits.sign_in_succeeded(attempt, &username, now).await;
            resp
        }
        Err(resp) => {
            limits.sign_in_abandoned(attempt, now).await;
            resp
        }
    }
}

/// The user of a pending step as they are now, and where it continues: `Err` (the page to show) when the user
/// is gone or signed out since the password ([`crate::oauth::Provider::second_step_user`]), or the authorization
/// it continues expired or was completed.
#[allow(clippy::result_large_err)]
pub(super) async fn ready_to_end(
    req: &HttpRequest,
    state: &AppState,
    step: &SecondStep,
) -> Result<(User, Target), HttpResponse> {
    let user = match state.provider.second_step_user(step).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(gone(req)),
        Err(e) => return Err(error_page(req, &e)),
    };
    Ok((user, resumed(req, state, step.continuation.clone()).await?))
}

/// Takes the pending step `id`, whose last factor was right, and ends the sign-in of its user, who continues to
/// a target (both [`ready_to_end`]) (`amr` pwd+otp, `details` for `login_succeeded`): their session, or first
/// the new password page when their password is temporary. `Err` when the step was taken meanwhile.
#[allow(clippy::result_large_err)]
pub(super) async fn end_sign_in(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    step: SecondStep,
    (user, target): (User, Target),
    details: serde_json::Value,
    now: UnixTime,
) -> Result<HttpResponse, HttpResponse> {
    match state.provider.take_second_step(id, step.kind()).await {
        Ok(true) => {}
        Ok(false) => return Err(gone(req)),
        Err(e) => return Err(error_page(req, &e)),
    }
    match state.provider.start_otp_session(&user, device(req, state), now).await {
        Ok(Some(Finished::Started { cookie, session })) => {
            Ok(signed_in(req, state, target, &user, cookie, session, details, now).await)
        }
        Ok(Some(Finished::NewPasswordFirst { amr })) => {
            let kept = target.kept();
            Ok(ask_for_new_password(req, state, &user, &step.username, kept, (amr, details), now).await)
        }
        Ok(None) => Err(gone(req)),
        Err(e) => Err(error_page(req, &e)),
    }
}

/// The code page again after a lock, 429 with `Retry-After`.
fn locked(req: &HttpRequest, id: String, step: &SecondStep, retry_after: i64) -> HttpResponse {
    let mut resp = code_page(req, StatusCode::TOO_MANY_REQUESTS, id, step, Some(locked_words(req, retry_after)));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// What a second step's page says while its name or IP is locked.
pub(super) fn locked_words(req: &HttpRequest, retry_after: i64) -> String {
    let t = Lang::of(req).t();
    t.common.too_many_sign_in_failures.with(wait_words(t, retry_after))
}
