//! `POST /account/delete` (`password`, `confirm`): the account page's "Delete account" form, while users may
//! delete their own account (`users.self_deletion`; otherwise 404, and the page has no such section).
//! [`crate::oauth::account_deletion`] decides. The form is the account page's: CSRF token bound to the session
//! cookie, our own origin, a live session. A deletion clears the session cookie and answers a page saying so
//! (framing the front-channel logout of this browser's apps), and the user is mailed a notice in the page's
//! language; a refusal shows the account page again with why, in the section (400; 429 with `Retry-After` while
//! the name or the IP is locked; 403 when a user without a password is to sign in again first).
use super::account::{checked, show, FormAgain};
use super::lang::Lang;
use super::meta::request_meta;
use super::render::{error_page, framing_page, message_page, wait_words};
use super::views::{AccountDeletedPage, DeletionField};
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::oauth::account_deletion::{AccountDeletion, DeletionRequest};
use crate::oauth::frontchannel::LogoutFrames;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// `POST /account/delete`.
#[tracing::instrument(name = "account delete", skip_all)]
pub async fn delete(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let t = Lang::of(&req).t();
    if !state.settings.users.self_deletion {
        return message_page(&req, StatusCode::NOT_FOUND, t.deletion.off, t.deletion.off_text);
    }
    let (mut f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let request = DeletionRequest {
        password: Password::new(f.take("password").unwrap_or_default()),
        confirmed: f.get("confirm").is_some(),
    };
    let (ip, meta, now) = (throttle::ip(&req, &state), request_meta(&req, &state), crate::domain::now());
    let locale = Lang::of(&req).locale;
    let outcome = match state.provider.delete_own_account(&signed_in, request, ip, &meta, locale, now).await {
        Ok(outcome) => outcome,
        Err(e) => return error_page(&req, &e),
    };
    let d = &t.deletion;
    let (status, message, field) = match outcome {
        AccountDeletion::Deleted(frames) => return deleted(&req, &state, &frames),
        AccountDeletion::NotConfirmed => (StatusCode::BAD_REQUEST, d.not_confirmed, DeletionField::Confirm),
        AccountDeletion::PasswordMissing => (StatusCode::BAD_REQUEST, d.password_missing, DeletionField::Password),
        AccountDeletion::WrongPassword => (StatusCode::BAD_REQUEST, d.wrong_password, DeletionField::Password),
        AccountDeletion::Locked(lock) => {
            let message = t.passwords.too_many_failures.with(wait_words(t, lock.retry_after));
            let again = Some(FormAgain::Deletion(message, DeletionField::Password));
            let mut resp =
                show(&req, &state, &cookie, &signed_in, StatusCode::TOO_MANY_REQUESTS, None, None, again).await;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(lock.retry_after));
            return resp;
        }
        AccountDeletion::SignInAgain => (StatusCode::FORBIDDEN, d.too_old, DeletionField::Confirm),
    };
    show(&req, &state, &cookie, &signed_in, status, None, None, Some(FormAgain::Deletion(message.into(), field))).await
}

/// The page after a deletion, without a session cookie.
fn deleted(req: &HttpRequest, state: &AppState, frames: &LogoutFrames) -> HttpResponse {
    let lang = Lang::of(req);
    let frame_urls = frames.urls().iter().map(|u| u.as_str().to_owned()).collect();
    let mut resp = framing_page(
        req,
        lang,
        StatusCode::OK,
        AccountDeletedPage { t: lang.t(), frames: frame_urls }.render(),
        frames,
    );
    if let Err(e) = resp.add_cookie(&state.cookies.clear_session()) {
        tracing::error!(error = %e, "cannot clear the session cookie");
    }
    resp
}
