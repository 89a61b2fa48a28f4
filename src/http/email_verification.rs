//! `POST /account/email/verify`, the account page's "Send a verification link" (CSRF token bound to the session
//! cookie, our own origin, a live session: the account page's form rules); `GET /login/verify-email?token=…`, the
//! page the link opens, which asks to confirm with a button, and its `POST`, which verifies and says whether it
//! worked. [`crate::oauth::email_verification`] decides. They are there while mail is on (`[mail]`; otherwise 404).
use super::account::{checked, show, Done};
use super::interaction_pages::{forbidden, from_another_origin};
use super::lang::{back_to, Lang};
use super::meta::request_meta;
use super::render::{error_page, message_page, message_page_with, page, see_other, wait_words};
use super::views::{Link, VerifyEmailPage};
use super::{form, AppState};
use crate::oauth::discovery::paths;
use crate::oauth::email_verification::{EmailVerified, VerificationSent};
use crate::oauth::mail_link::LinkToken;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The answer while mail is off: there is no such page.
fn off(req: &HttpRequest) -> HttpResponse {
    let v = &Lang::of(req).t().verify;
    message_page(req, StatusCode::NOT_FOUND, v.off, v.off_text)
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
    let (meta, now, lang) = (request_meta(&req, &state), crate::domain::now(), Lang::of(&req));
    match state.provider.send_email_verification(&signed_in.user, &meta, lang.locale, now).await {
        // Nothing to send is an address verified or removed meanwhile: the page shows it as it is now.
        Ok(VerificationSent::Sent) => see_other(&Done::VerificationSent.location()),
        Ok(VerificationSent::Nothing) => see_other(paths::ACCOUNT),
        Ok(VerificationSent::Limited(limited)) => {
            let t = lang.t();
            let text = t.verify.limited.with(wait_words(t, limited.retry_after));
            let status = StatusCode::TOO_MANY_REQUESTS;
            let mut resp = show(&req, &state, &cookie, &signed_in, status, None, Some(text), None).await;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
            resp
        }
        Err(e) => error_page(&req, &e),
    }
}

/// The page for a link that leads nowhere: unknown, used, expired, or for an address changed since.
fn invalid_link(req: &HttpRequest) -> HttpResponse {
    let t = Lang::of(req).t();
    let account = Some(Link { href: paths::ACCOUNT, text: t.common.go_to_account });
    message_page_with(req, StatusCode::BAD_REQUEST, t.verify.invalid, t.verify.invalid_text, account)
}

/// `GET /login/verify-email?token=…`: the page the link opens, with a button that verifies the address. Nothing
/// is used up here: mail scanners open the links of the mails they pass.
#[tracing::instrument(name = "verify email page", skip_all)]
pub async fn verify_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let Some(token) = q.get("token").and_then(LinkToken::parse) else { return invalid_link(&req) };
    match state.provider.verification_link_live(&token).await {
        Ok(true) => {
            let lang = Lang::of(&req);
            page(&req, lang, StatusCode::OK, VerifyEmailPage { t: lang.t(), token: token.expose().to_owned() }.render())
        }
        Ok(false) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}

/// `POST /login/verify-email` (`token`): uses the link, and says whether the address is now verified. The page
/// may be opened in any browser, without a session: as the reset form's, its token is the link's, which no other
/// site knows, and the origin is checked as for every form.
#[tracing::instrument(name = "verify email", skip_all)]
pub async fn verify_post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    if from_another_origin(&req, &state) {
        tracing::warn!(event = "csrf_origin_mismatch", "form posted from another origin");
        return forbidden(&req);
    }
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let Some(token) = f.get("token").and_then(LinkToken::parse) else { return invalid_link(&req) };
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    // The answer's own page, the link's, is used up (and its address carries the token): the switcher leads on
    // to the account page this one leads to, which shows the address as it now is.
    back_to(&req, paths::ACCOUNT.to_owned());
    match state.provider.verify_email(&token, &meta, now).await {
        Ok(EmailVerified::Done) => {
            let t = Lang::of(&req).t();
            let account = Some(Link { href: paths::ACCOUNT, text: t.common.go_to_account });
            message_page_with(&req, StatusCode::OK, t.verify.done, t.verify.done_text, account)
        }
        Ok(EmailVerified::Invalid) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}
