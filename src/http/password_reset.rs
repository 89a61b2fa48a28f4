//! `GET`, `POST /login/forgot` and `GET`, `POST /login/reset`: "Forgot your password?" while mail is on
//! (`[mail]`; otherwise 404). [`crate::oauth::password_reset`] decides.
//!
//! The forgot page belongs to a pending authorization, as the login page it is linked from: the interaction of
//! this browser, its CSRF token, our own origin ([`super::interaction_pages`]). Its answer is the same page
//! whether a mail went out or not (429 with `Retry-After` past the IP's limit). The reset page is opened from
//! the mail, perhaps in another browser: its form carries the link's token, which no other site knows, so the
//! token is its CSRF token; the origin is checked as for every form. Its refusals show the form again (400),
//! an unknown, used or expired link a page that says so (400).
use super::interaction_pages::{check_form, forbidden, from_another_origin, load};
use super::meta::request_meta;
use super::render::{error_page, message_page, page, wait_words};
use super::views::{ForgotPage, ResetPage};
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::oauth::password_change::PasswordRule;
use crate::oauth::password_reset::{PasswordReset, ResetRequestContext, ResetRequested, ResetToken};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The answer while mail is off: there is no such page.
fn off(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::NOT_FOUND,
        "Passwords cannot be reset here",
        "This site sends no mail, so it cannot send a link to reset your password. Ask its administrator.",
    )
}

/// The page for a link that leads nowhere: unknown, used, expired, or for a password changed since.
fn invalid_link(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::BAD_REQUEST,
        "This password reset link does not work",
        "It was used already, it expired, or your password was changed since it was sent. Go back to the \
         application, choose \"Forgot your password?\" on the sign-in page, and use the link of the new mail.",
    )
}

fn forgot_page(
    state: &AppState,
    id: String,
    csrf: String,
    login: String,
    error: Option<String>,
    sent: bool,
) -> ForgotPage {
    ForgotPage { interaction: id, csrf, login, error, sent, minutes: state.settings.passwords.reset_link / 60 }
}

/// `GET /login/forgot?interaction=…`: the form.
#[tracing::instrument(name = "forgot password page", skip_all)]
pub async fn forgot_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    match load(&req, &state, q.get("interaction")).await {
        Ok((id, interaction)) => {
            page(StatusCode::OK, forgot_page(&state, id, interaction.csrf, String::new(), None, false).render())
        }
        Err(resp) => resp,
    }
}

/// `POST /login/forgot` (`login`: a username or an email address): sends the link, and says it may have.
#[tracing::instrument(name = "forgot password", skip_all)]
pub async fn forgot_post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let mut f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let (id, interaction) = match load(&req, &state, f.get("interaction")).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_form(&req, &state, &interaction, &f) {
        return resp;
    }
    let login = f.take("login").unwrap_or_default();
    if login.trim().is_empty() {
        let error = Some("Enter your username or email address.".to_owned());
        let view = forgot_page(&state, id, interaction.csrf, login, error, false);
        return page(StatusCode::BAD_REQUEST, view.render());
    }
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let cx = ResetRequestContext { ip: throttle::ip(&req, &state), interaction: Some(id.clone()), meta: &meta };
    match state.provider.request_password_reset(&login, cx, now).await {
        Ok(ResetRequested::Taken) => {
            page(StatusCode::OK, forgot_page(&state, id, interaction.csrf, String::new(), None, true).render())
        }
        Ok(ResetRequested::Limited(limited)) => {
            let error = Some(format!(
                "Too many reset requests came from your network. Wait {} and try again.",
                wait_words(limited.retry_after)
            ));
            let view = forgot_page(&state, id, interaction.csrf, login, error, false);
            let mut resp = page(StatusCode::TOO_MANY_REQUESTS, view.render());
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
            resp
        }
        Err(e) => error_page(&req, &e),
    }
}

fn reset_form(state: &AppState, token: &ResetToken, error: Option<(String, bool)>) -> ResetPage {
    ResetPage {
        token: token.expose().to_owned(),
        min_length: state.settings.passwords.min_length,
        error,
        done: false,
        interaction: None,
    }
}

/// `GET /login/reset?token=…`: the form of a live link.
#[tracing::instrument(name = "password reset page", skip_all)]
pub async fn reset_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let Some(token) = q.get("token").and_then(ResetToken::parse) else { return invalid_link(&req) };
    match state.provider.reset_link_live(&token).await {
        Ok(true) => page(StatusCode::OK, reset_form(&state, &token, None).render()),
        Ok(false) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}

/// Why a new password was refused, in a sentence, and whether it is about the repetition.
fn refusal(rule: PasswordRule) -> (String, bool) {
    match rule {
        PasswordRule::Mismatch => ("The two passwords are not the same. Type the new password twice.".into(), true),
        PasswordRule::TooShort(min) => (format!("The password is too short: use at least {min} characters."), false),
        _ => (
            format!(
                "The password is too long: at most {} bytes, which is as many plain Latin letters and fewer \
                 characters of other scripts.",
                Password::MAX_BYTES
            ),
            false,
        ),
    }
}

/// `POST /login/reset` (`token`, `password`, `password_again`): sets the password.
#[tracing::instrument(name = "password reset", skip_all)]
pub async fn reset_post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    if from_another_origin(&req, &state) {
        tracing::warn!(event = "csrf_origin_mismatch", "form posted from another origin");
        return forbidden(&req);
    }
    let mut f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let Some(token) = f.get("token").and_then(ResetToken::parse) else { return invalid_link(&req) };
    let new = Password::new(f.take("password").unwrap_or_default());
    let again = Password::new(f.take("password_again").unwrap_or_default());
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    match state.provider.reset_password(&token, new, &again, &meta, now).await {
        Ok(PasswordReset::Done { interaction }) => {
            let view = ResetPage {
                token: String::new(),
                min_length: state.settings.passwords.min_length,
                error: None,
                done: true,
                interaction,
            };
            page(StatusCode::OK, view.render())
        }
        Ok(PasswordReset::Refused(rule)) => {
            page(StatusCode::BAD_REQUEST, reset_form(&state, &token, Some(refusal(rule))).render())
        }
        Ok(PasswordReset::Invalid) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}
