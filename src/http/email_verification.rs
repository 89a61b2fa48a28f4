//! `POST /account/email/verify`, the account page's "Send a verification link" (CSRF token bound to the session
//! cookie, our own origin, a live session: the account page's form rules), and `GET /login/verify-email?token=…`,
//! the page the link opens, which says whether it worked. [`crate::oauth::email_verification`] decides. Both are
//! there while mail is on (`[mail]`; otherwise 404).
use super::account::{checked, show, Done};
use super::meta::request_meta;
use super::render::{error_page, message_page, message_page_with, see_other, wait_words};
use super::views::Link;
use super::{form, AppState};
use crate::oauth::discovery::paths;
use crate::oauth::email_verification::{EmailVerified, VerificationSent};
use crate::oauth::mail_link::LinkToken;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// The answer while mail is off: there is no such page.
fn off(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::NOT_FOUND,
        "Email addresses cannot be verified here",
        "This site sends no mail, so it cannot send a link to verify your email address.",
    )
}

/// `POST /account/email/verify`: mails the link, and shows the page saying so (303); 429 with `Retry-After`
/// past the account's limit.
#[tracing::instrument(name = "account email verification", skip_all)]
pub async fn send(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let (_f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    match state.provider.send_email_verification(&signed_in.user, &meta, now).await {
        // Nothing to send is an address verified or removed meanwhile: the page shows it as it is now.
        Ok(VerificationSent::Sent) => see_other(&Done::VerificationSent.location()),
        Ok(VerificationSent::Nothing) => see_other(paths::ACCOUNT),
        Ok(VerificationSent::Limited(limited)) => {
            let text = format!(
                "Too many verification links were sent to your address. Wait {} and try again.",
                wait_words(limited.retry_after)
            );
            let status = StatusCode::TOO_MANY_REQUESTS;
            let mut resp = show(&req, &state, &cookie, &signed_in, status, None, Some(text), None).await;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
            resp
        }
        Err(e) => error_page(&req, &e),
    }
}

/// `GET /login/verify-email?token=…`: uses the link, and says whether the address is now verified.
#[tracing::instrument(name = "verify email", skip_all)]
pub async fn verify(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let outcome = match q.get("token").and_then(LinkToken::parse) {
        Some(token) => {
            let (meta, now) = (request_meta(&req, &state), crate::domain::now());
            match state.provider.verify_email(&token, &meta, now).await {
                Ok(outcome) => outcome,
                Err(e) => return error_page(&req, &e),
            }
        }
        None => EmailVerified::Invalid,
    };
    let account = Some(Link { href: paths::ACCOUNT, text: "Go to your account page" });
    match outcome {
        EmailVerified::Done => message_page_with(
            &req,
            StatusCode::OK,
            "Your email address is verified",
            "Thank you: apps you sign in to can now rely on it.",
            account,
        ),
        EmailVerified::Invalid => message_page_with(
            &req,
            StatusCode::BAD_REQUEST,
            "This verification link does not work",
            "It was used already, it expired, or your account's email address changed since it was sent. Your \
             account page sends a new link for an address that is not verified.",
            account,
        ),
    }
}
