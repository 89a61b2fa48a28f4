//! `POST /account/password` (`current_password`, `new_password`, `new_password_again`, `sign_out_others`): the
//! account page's password form ([`crate::oauth::password_change`] decides). The form is the account page's: CSRF
//! token bound to the session cookie, our own origin, a live session. A change sends the browser back to the page
//! (303, `done=password` or `done=password-others`); a refusal shows the page again with why, next to the form
//! (400; 429 with `Retry-After` while the name or the IP is locked; 409 when there is no password to change).
//! A change renews the session cookie ([`crate::oauth::password_change`]).
use super::account::{checked, show, Done, FormAgain};
use super::lang::Lang;
use super::login::set_session_cookie;
use super::meta::request_meta;
use super::render::{error_page, see_other, wait_words};
use super::views::{PasswordField, PasswordForm};
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::i18n::Texts;
use crate::oauth::password_change::{PasswordChange, PasswordChanged, PasswordRule};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// Why a change was refused, in a sentence of `t`, with the field it is about.
pub(super) fn refusal(t: &Texts, rule: PasswordRule) -> (String, PasswordField) {
    let field = match rule {
        PasswordRule::CurrentMissing => PasswordField::Current,
        PasswordRule::Mismatch => PasswordField::Again,
        _ => PasswordField::New,
    };
    (words(t, rule), field)
}

/// Why a new password was refused, in the account page's sentence of `t`: the reset and sign-up pages say the
/// same of what the password is, and their own words of the form.
pub(super) fn words(t: &Texts, rule: PasswordRule) -> String {
    let p = &t.passwords;
    match rule {
        PasswordRule::CurrentMissing => p.current_missing.into(),
        PasswordRule::Mismatch => p.changed_mismatch.into(),
        PasswordRule::TooShort(min) => p.new_too_short.with(min),
        PasswordRule::TooLong => p.new_too_long.with(Password::MAX_BYTES),
        PasswordRule::SameAsCurrent => p.same_as_current.into(),
        PasswordRule::SameAsUsername => p.same_as_username.into(),
        PasswordRule::SameAsEmail => p.same_as_email.into(),
        PasswordRule::Blocklisted => p.blocklisted.into(),
        PasswordRule::Reused(history) => p.reused.with(history),
    }
}

/// `POST /account/password`.
#[tracing::instrument(name = "account password", skip_all)]
pub async fn change(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (mut f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let sign_out_others = f.get("sign_out_others").is_some();
    let mut typed = |name| Password::new(f.take(name).unwrap_or_default());
    let change = PasswordChange {
        current: typed("current_password"),
        new: typed("new_password"),
        again: typed("new_password_again"),
        sign_out_others,
    };
    let (ip, meta, now) = (throttle::ip(&req, &state), request_meta(&req, &state), crate::domain::now());
    let outcome = match state.provider.change_own_password(&signed_in, change, ip, &meta, now).await {
        Ok(outcome) => outcome,
        Err(e) => return error_page(&req, &e),
    };
    let t = Lang::of(&req).t();
    let p = &t.passwords;
    let (status, message, field) = match outcome {
        PasswordChanged::Changed(renewed) => {
            let mut resp = see_other(&Done::Password(sign_out_others).location());
            set_session_cookie(&mut resp, &state, &renewed);
            return resp;
        }
        PasswordChanged::NoPassword => {
            let text = Some(p.no_password.into());
            return show(&req, &state, &cookie, &signed_in, StatusCode::CONFLICT, None, text, None).await;
        }
        PasswordChanged::Refused(rule) => {
            let (message, field) = refusal(t, rule);
            (StatusCode::BAD_REQUEST, message, field)
        }
        PasswordChanged::WrongCurrent => (StatusCode::BAD_REQUEST, p.wrong_current.into(), PasswordField::Current),
        PasswordChanged::Locked(lock) => {
            let message = p.too_many_failures.with(wait_words(t, lock.retry_after));
            let form = refused_form(&state, sign_out_others, message, PasswordField::Current);
            let mut resp = show(
                &req,
                &state,
                &cookie,
                &signed_in,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                None,
                Some(FormAgain::Password(form)),
            )
            .await;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(lock.retry_after));
            return resp;
        }
        PasswordChanged::ChangedMeanwhile => (StatusCode::CONFLICT, p.changed_meanwhile.into(), PasswordField::Current),
    };
    let form = refused_form(&state, sign_out_others, message, field);
    show(&req, &state, &cookie, &signed_in, status, None, None, Some(FormAgain::Password(form))).await
}

/// The password form again, as the user left it, with why it changed nothing.
fn refused_form(state: &AppState, sign_out_others: bool, message: String, field: PasswordField) -> PasswordForm {
    PasswordForm {
        sign_out_others,
        error: Some((message, field)),
        ..PasswordForm::new(state.settings.passwords.min_length)
    }
}
