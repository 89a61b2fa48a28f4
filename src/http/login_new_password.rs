//! "Choose a new password": the page a sign-in of a user whose password is temporary shows once its every factor
//! was right (a password, with its code when the user has two-step verification, a passkey or another provider),
//! and `POST /login/new-password` (`pending`, `csrf`, `password`, `password_again`, `sign_out_others`: "Sign out
//! of other devices", ticked when the page is first shown), which sets the new one and
//! only then ends the sign-in as any does ([`super::login::signed_in`]: a new session against fixation,
//! `login_succeeded`, the pending authorization, the account page or the device page). The pending step is bound
//! to the browser, has its own CSRF token, expires, and is taken once ([`crate::oauth::temporary_password`]
//! decides); leaving the page signs nobody in.
use super::account_password::refusal;
use super::interaction_pages::cookies_blocked;
use super::lang::Lang;
use super::login::{resumed, signed_in};
use super::login_code::{pending_step, switching};
use super::meta::{device, request_meta};
use super::render::{error_page, message_page_with, page};
use super::views::{Link, NewPasswordPage, PasswordField};
use super::{form, AppState};
use crate::domain::password::Password;
use crate::domain::{UnixTime, User};
use crate::oauth::discovery::paths;
use crate::oauth::otp::{SecondStep, SignInTarget, StepKind};
use crate::oauth::temporary_password::RequiredChange;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The page for `user`, whose sign-in (typed as `username`, if a name was typed; else their own) was right up to
/// here: keeps the pending step, which ends with a session of `amr` and a `login_succeeded` event with `details`.
pub(super) async fn ask_for_new_password(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    username: &str,
    target: SignInTarget,
    session: (Vec<String>, serde_json::Value),
    now: UnixTime,
) -> HttpResponse {
    // Every sign-in form, and an upstream provider's callback, is answered with the browser-binding cookie set.
    let Some(browser) = state.cookies.read_browser(req) else { return cookies_blocked(req) };
    match state.provider.start_new_password_step(user, username, target, &browser, session, now).await {
        Ok((id, step)) => new_password_page(req, state, StatusCode::OK, (id, &step), true, None),
        Err(e) => error_page(req, &e),
    }
}

fn new_password_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    (pending, step): (String, &SecondStep),
    sign_out_others: bool,
    error: Option<(String, PasswordField)>,
) -> HttpResponse {
    let (lang, min_length) = (Lang::of(req), state.settings.passwords.min_length);
    let view = NewPasswordPage { t: lang.t(), pending, csrf: step.csrf.clone(), min_length, sign_out_others, error };
    page(req, lang, status, view.render())
}

/// The page for a new password posted after its sign-in expired, was completed, or its password was set meanwhile.
fn gone(req: &HttpRequest) -> HttpResponse {
    let t = Lang::of(req).t();
    let account = Some(Link { href: paths::ACCOUNT, text: t.common.go_to_account });
    message_page_with(req, StatusCode::BAD_REQUEST, t.code.gone, t.new_password.gone_text, account)
}

/// `POST /login/new-password`.
#[tracing::instrument(name = "login new password", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let mut f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let now = crate::domain::now();
    let (id, step) = match pending_step(&req, &state, &f, StepKind::NewPassword, now).await {
        Ok(pending) => pending,
        Err(resp) => return resp,
    };
    if switching(&f).is_some() {
        return new_password_page(&req, &state, StatusCode::OK, (id, &step), true, None);
    }
    // The pending authorization is read before anything changes: an expired one is the usual page, nothing set.
    let target = match resumed(&req, &state, step.continuation.clone()).await {
        Ok(target) => target,
        Err(resp) => return resp,
    };
    let new = Password::new(f.take("password").unwrap_or_default());
    let again = Password::new(f.take("password_again").unwrap_or_default());
    let sign_out_others = f.get("sign_out_others").is_some();
    let (meta, device) = (request_meta(&req, &state), device(&req, &state));
    let changed = state.provider.change_required_password(&id, &step, new, &again, sign_out_others, device, &meta, now);
    match changed.await {
        Ok(RequiredChange::Changed { user, cookie, session, details }) => {
            signed_in(&req, &state, target, &user, cookie, session, details, now).await
        }
        Ok(RequiredChange::Refused(rule)) => {
            let error = Some(refusal(Lang::of(&req).t(), rule));
            new_password_page(&req, &state, StatusCode::BAD_REQUEST, (id, &step), sign_out_others, error)
        }
        Ok(RequiredChange::Gone) => gone(&req),
        Err(e) => error_page(&req, &e),
    }
}
