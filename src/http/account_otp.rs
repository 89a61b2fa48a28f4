//! The account page's two-step verification forms: `POST /account/otp/setup` (a new secret, shown as a QR code
//! and as text, kept server-side for the session until confirmed), `POST /account/otp/confirm` (a current code of
//! it turns two-step verification on, and the answer shows the recovery codes, this once) and
//! `POST /account/otp/disable` (a current code turns it off; refused while `otp.required`) and
//! `POST /account/otp/recovery` (a current code of the app replaces every recovery code with new ones, shown
//! this once); wrong codes at these two count as failed sign-ins of the user, as at the sign-in's code step. A GET
//! of any sends the browser to the account page.
//! The forms are the account page's: CSRF token bound to the session cookie, our own origin. The set-up page is
//! also the one a sign-in shows when it needs two-step verification set up first ([`super::login_enrol`]).
use super::account::{checked, Done, SIGN_IN_AGAIN};
use super::lang::Lang;
use super::meta::request_meta;
use super::render::{error_page, message_page_with, page, see_other, wait_words};
use super::views::{qr_svg, Link, OtpRecoveryPage, OtpSetupPage};
use super::{form, throttle, AppState};
use crate::domain::UnixTime;
use crate::oauth::account::account_csrf;
use crate::oauth::audit::RequestMeta;
use crate::oauth::discovery::paths;
use crate::oauth::error::OAuthError;
use crate::oauth::otp::{Enrolment, EnrolmentEnd, EnrolmentStart, OtpCheck};
use crate::oauth::session::{SignedIn, RECENT_SIGN_IN_SECONDS};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// Where a set-up page's code goes: the account page's confirm form (CSRF token bound to the session), or a
/// sign-in's set-up step (its id and its own CSRF token).
pub(super) struct SetupForm {
    pub(super) action: &'static str,
    pub(super) pending: Option<String>,
    pub(super) csrf: String,
}

/// The set-up page of `enrolment` (its QR code and its secret as text), with `error` if any; 400 with one unless
/// `status` says otherwise.
pub(super) fn setup_page(
    req: &HttpRequest,
    form: SetupForm,
    enrolment: &Enrolment,
    error: Option<String>,
    status: Option<StatusCode>,
) -> HttpResponse {
    let lang = Lang::of(req);
    let t = lang.t();
    let Some(qr_svg) = qr_svg(&enrolment.uri, t.otp.qr_label) else {
        return error_page(req, &crate::oauth::error::OAuthError::server("the otpauth URI does not fit a QR code"));
    };
    let status = status.unwrap_or(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK });
    let SetupForm { action, pending, csrf } = form;
    let secret = enrolment.secret.base32_grouped();
    let view = OtpSetupPage { t, action, pending, csrf, secret, qr_svg, error };
    page(req, lang, status, view.render())
}

fn account_form(cookie: &str) -> SetupForm {
    SetupForm { action: paths::ACCOUNT_OTP_CONFIRM, pending: None, csrf: account_csrf(cookie) }
}

/// What a set-up page says after a wrong code.
pub(super) fn not_right(req: &HttpRequest) -> String {
    Lang::of(req).t().otp.not_right.to_owned()
}

fn back_to_account(req: &HttpRequest, status: StatusCode, title: &str, text: &str) -> HttpResponse {
    // The answer of an account form: its switcher leads to the account page it links to.
    super::lang::back_to(req, paths::ACCOUNT.to_owned());
    let account = Some(Link { href: paths::ACCOUNT, text: Lang::of(req).t().common.go_to_account });
    message_page_with(req, status, title, text, account)
}

/// The answer of a set-up while two-step verification is on: another app takes turning it off first.
fn already_on(req: &HttpRequest) -> HttpResponse {
    let o = &Lang::of(req).t().otp;
    back_to_account(req, StatusCode::CONFLICT, o.already_on, o.already_on_text)
}

/// The answer of a set-up the session's sign-in is too old for: the account sign-in, asked again, comes back to
/// the page.
fn sign_in_first(req: &HttpRequest) -> HttpResponse {
    super::lang::back_to(req, paths::ACCOUNT.to_owned());
    let t = Lang::of(req).t();
    let text = t.account.otp_sign_in_first.with(wait_words(t, RECENT_SIGN_IN_SECONDS));
    let again = Some(Link { href: SIGN_IN_AGAIN, text: t.common.sign_in_again });
    message_page_with(req, StatusCode::FORBIDDEN, t.account.sign_in_first, &text, again)
}

/// `POST /account/otp/setup`: a new secret to add to an authenticator app.
#[tracing::instrument(name = "account otp setup", skip_all)]
pub async fn setup(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (_f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match state.provider.begin_otp_enrolment(&signed_in, crate::domain::now()).await {
        Ok(EnrolmentStart::Begun(enrolment)) => setup_page(&req, account_form(&cookie), &enrolment, None, None),
        Ok(EnrolmentStart::AlreadyOn) => already_on(&req),
        Ok(EnrolmentStart::SignInAgain) => sign_in_first(&req),
        Err(e) => error_page(&req, &e),
    }
}

/// `POST /account/otp/confirm` (`code`): turns two-step verification on with the secret being set up.
#[tracing::instrument(name = "account otp confirm", skip_all)]
pub async fn confirm(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let meta = request_meta(&req, &state);
    let typed = f.get("code").unwrap_or_default();
    match state.provider.confirm_otp_enrolment(&signed_in, typed, &meta, crate::domain::now()).await {
        Ok(EnrolmentEnd::On(codes)) => {
            let codes = codes.iter().map(|c| c.grouped()).collect();
            let lang = Lang::of(&req);
            let view = OtpRecoveryPage { t: lang.t(), codes, proceed: None, renewed: false };
            page(&req, lang, StatusCode::OK, view.render())
        }
        Ok(EnrolmentEnd::AlreadyOn) => already_on(&req),
        Ok(EnrolmentEnd::NotRight) => match state.provider.pending_otp_enrolment(&signed_in).await {
            Ok(Some(enrolment)) => setup_page(&req, account_form(&cookie), &enrolment, Some(not_right(&req)), None),
            Ok(None) => {
                let o = &Lang::of(&req).t().otp;
                back_to_account(&req, StatusCode::BAD_REQUEST, o.setup_expired, o.setup_expired_text)
            }
            Err(e) => error_page(&req, &e),
        },
        Err(e) => error_page(&req, &e),
    }
}

/// `POST /account/otp/disable` (`code`): turns two-step verification off, given a current code.
#[tracing::instrument(name = "account otp disable", skip_all)]
pub async fn disable(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let o = &Lang::of(&req).t().otp;
    if !state.provider.own_otp_may_be_turned_off() {
        return back_to_account(&req, StatusCode::FORBIDDEN, o.required, o.required_text);
    }
    let (now, meta) = (crate::domain::now(), request_meta(&req, &state));
    let typed = f.get("code").unwrap_or_default();
    let disable = async { state.provider.disable_own_otp(&signed_in, typed, &meta, now).await.map(|c| (c, ())) };
    match code_attempt(&req, &state, &signed_in, o.still_on, &meta, now, disable).await {
        Ok(_) => see_other(&Done::OtpOff.location()),
        Err(resp) => resp,
    }
}

/// `POST /account/otp/recovery` (`code`): new recovery codes in place of all the earlier ones, given a current
/// code of the app, shown this once.
#[tracing::instrument(name = "account otp recovery", skip_all)]
pub async fn renew_recovery(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let (now, meta) = (crate::domain::now(), request_meta(&req, &state));
    let typed = f.get("code").unwrap_or_default();
    let renew = state.provider.renew_own_recovery_codes(&signed_in, typed, &meta, now);
    let lang = Lang::of(&req);
    match code_attempt(&req, &state, &signed_in, lang.t().otp.codes_unchanged, &meta, now, renew).await {
        Ok(Some(Some(codes))) => {
            let codes = codes.iter().map(|c| c.grouped()).collect();
            page(
                &req,
                lang,
                StatusCode::OK,
                OtpRecoveryPage { t: lang.t(), codes, proceed: None, renewed: true }.render(),
            )
        }
        // Two-step verification is off: the account page says so.
        Ok(_) => see_other(paths::ACCOUNT),
        Err(resp) => resp,
    }
}

/// Runs `check` of a code the signed-in user typed as one sign-in attempt of theirs: guessing codes here is
/// guessing them at sign-in, on the same counters and locks. `Some` with what `check` gave when the code was
/// right, `None` when two-step verification is off; otherwise the page to answer (a wrong code says
/// `unchanged`).
async fn code_attempt<T>(
    req: &HttpRequest,
    state: &AppState,
    signed_in: &SignedIn,
    unchanged: &str,
    meta: &RequestMeta,
    now: UnixTime,
    check: impl std::future::Future<Output = Result<(OtpCheck, T), OAuthError>>,
) -> Result<Option<T>, HttpResponse> {
    let ip = throttle::ip(req, state);
    let username = signed_in.user.username.as_str();
    let limits = &state.provider.limits;
    let attempt = match limits.begin_sign_in(ip, username, now).await {
        Ok(attempt) => attempt,
        Err(lock) => {
            state.provider.sign_in_refused_while_locked(lock, ip, username, None, meta, now).await;
            return Err(locked(req, lock.retry_after));
        }
    };
    match check.await {
        Ok((OtpCheck::Accepted | OtpCheck::RecoveryCodeUsed, done)) => {
            limits.sign_in_succeeded(attempt, username, now).await;
            Ok(Some(done))
        }
        Ok((OtpCheck::NotEnabled, _)) => {
            limits.sign_in_abandoned(attempt, now).await;
            Ok(None)
        }
        Ok((OtpCheck::Wrong | OtpCheck::Replayed, _)) => match limits.sign_in_failed(attempt, now).await {
            Some(lock) => Err(locked(req, lock.retry_after)),
            None => {
                let o = &Lang::of(req).t().otp;
                let text = format!("{unchanged} {}", o.enter_current);
                Err(back_to_account(req, StatusCode::BAD_REQUEST, o.wrong, &text))
            }
        },
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            Err(error_page(req, &e))
        }
    }
}

fn locked(req: &HttpRequest, retry_after: i64) -> HttpResponse {
    let t = Lang::of(req).t();
    let text = t.otp.too_many_text.with(wait_words(t, retry_after));
    let mut resp = back_to_account(req, StatusCode::TOO_MANY_REQUESTS, t.otp.too_many, &text);
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}
