//! `GET`, `POST /login/forgot` and `GET`, `POST /login/reset`: "Forgot your password?" while mail is on
//! (`[mail]`; otherwise 404). [`crate::oauth::password_reset`] decides.
//!
//! The forgot page belongs to the sign-in it is linked from, and takes that sign-in's checks
//! ([`super::login::target`]): a pending authorization's (the interaction of this browser, its CSRF token, our own
//! origin), or the account or device page's (the CSRF token bound to the browser cookie, our own origin). Once the
//! password is set, the page leads back there. Its answer is the same page whether a mail went out or not (429 with `Retry-After` past the IP's limit). The reset page is opened from
//! the mail, perhaps in another browser: its form carries the link's token, which no other site knows, so the
//! token is its CSRF token; the origin is checked as for every form. Its refusals show the form again (400),
//! an unknown, used or expired link a page that says so (400).
use super::account_password::words;
use super::interaction_pages::{forbidden, from_another_origin, load};
use super::lang::{back_to, Lang};
use super::login::{target, Target, RETURN_TO_ACCOUNT, RETURN_TO_DEVICE};
use super::meta::request_meta;
use super::render::{error_page, message_page, page, wait_words};
use super::views::{ForgotPage, ResetPage};
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::i18n::Texts;
use crate::oauth::account::account_login_csrf;
use crate::oauth::device::UserCode;
use crate::oauth::discovery::paths;
use crate::oauth::password_change::PasswordRule;
use crate::oauth::password_reset::{PasswordReset, ResetFrom, ResetRequestContext, ResetRequested, ResetToken};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The answer while mail is off: there is no such page.
fn off(req: &HttpRequest) -> HttpResponse {
    let r = &Lang::of(req).t().reset;
    message_page(req, StatusCode::NOT_FOUND, r.off, r.off_text)
}

/// The page for a link that leads nowhere: unknown, used, expired, or for a password changed since.
fn invalid_link(req: &HttpRequest) -> HttpResponse {
    let r = &Lang::of(req).t().reset;
    message_page(req, StatusCode::BAD_REQUEST, r.invalid, r.invalid_text)
}

/// The sign-in a forgot page belongs to, and its CSRF token.
struct SignIn {
    from: ResetFrom,
    csrf: String,
}

impl SignIn {
    /// `browser`: the browser-binding cookie, to which the account and device sign-ins bind their token.
    fn of(target: Target, browser: Option<&str>) -> Self {
        let browser_csrf = || browser.map(account_login_csrf).unwrap_or_default();
        match target {
            Target::Authorize(id, interaction) => Self { from: ResetFrom::Authorization(id), csrf: interaction.csrf },
            Target::Account { .. } => Self { from: ResetFrom::Account, csrf: browser_csrf() },
            Target::Device(code) => Self { from: ResetFrom::Device(code.as_str().to_owned()), csrf: browser_csrf() },
        }
    }
}

fn forgot_page(
    lang: Lang,
    state: &AppState,
    sign_in: SignIn,
    login: String,
    error: Option<String>,
    sent: bool,
) -> ForgotPage {
    let (interaction, return_to, user_code) = match &sign_in.from {
        ResetFrom::Authorization(id) => (Some(id.clone()), None, None),
        ResetFrom::Account => (None, Some(RETURN_TO_ACCOUNT), None),
        ResetFrom::Device(code) => (None, Some(RETURN_TO_DEVICE), Some(code.clone())),
    };
    // The device flow's language goes on with it, as its sign-in page carried it here.
    let ui_locales = user_code.as_ref().and(lang.carried());
    ForgotPage {
        t: lang.t(),
        ui_locales,
        back: sign_in_href(&sign_in.from, ui_locales),
        interaction,
        return_to,
        user_code,
        csrf: sign_in.csrf,
        login,
        error,
        sent,
        minutes: state.settings.passwords.reset_link / 60,
    }
}

/// The sign-in page of `from`.
fn sign_in_href(from: &ResetFrom, ui_locales: Option<&str>) -> String {
    href(paths::LOGIN, from, ui_locales)
}

/// The page at `path` (the sign-in's, or the forgot page's) of `from`, with the device flow's language if any.
fn href(path: &str, from: &ResetFrom, ui_locales: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    match from {
        ResetFrom::Authorization(id) => query.append_pair("interaction", id),
        ResetFrom::Account => query.append_pair("return", RETURN_TO_ACCOUNT),
        ResetFrom::Device(code) => query.append_pair("return", RETURN_TO_DEVICE).append_pair("user_code", code),
    };
    if let Some(l) = ui_locales {
        query.append_pair(super::lang::FLOW_FIELD, l);
    }
    format!("{path}?{}", query.finish())
}

/// Where the reset page leads once the password is set: the page the request came from, which asks to sign in.
/// Not a device's approval page: whoever asked for the link chose its code, and the one who opens the mail is led
/// to the page where the code on their own device is typed (RFC 8628 §5.4, remote phishing).
fn back_after_reset(from: Option<ResetFrom>) -> Option<String> {
    match from? {
        ResetFrom::Account => Some(paths::ACCOUNT.to_owned()),
        ResetFrom::Device(_) => Some(paths::DEVICE.to_owned()),
        from @ ResetFrom::Authorization(_) => Some(sign_in_href(&from, None)),
    }
}

/// `GET /login/forgot?interaction=…` (or `?return=account`, `?return=device&user_code=…`): the form.
#[tracing::instrument(name = "forgot password page", skip_all)]
pub async fn forgot_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.provider.mail_on() {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let target = match (q.get("return"), q.get("user_code").and_then(|c| UserCode::parse(c).ok())) {
        (Some(RETURN_TO_ACCOUNT), _) => Target::Account { again: false },
        (Some(RETURN_TO_DEVICE), Some(code)) => Target::Device(code),
        _ => match load(&req, &state, q.get("interaction")).await {
            Ok((id, interaction)) => Target::Authorize(id, Box::new(interaction)),
            Err(resp) => return resp,
        },
    };
    // The account and device sign-ins' token is bound to the browser cookie their page set (set here if gone).
    let (browser, new_browser) = state.cookies.read_or_new_browser(&req);
    let sign_in = SignIn::of(target, Some(&browser));
    let lang = Lang::of(&req);
    let view = forgot_page(lang, &state, sign_in, String::new(), None, false);
    let mut resp = page(&req, lang, StatusCode::OK, view.render());
    if new_browser {
        state.cookies.set_browser(&mut resp, browser);
    }
    resp
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
    let sign_in = match target(&req, &state, &f).await {
        Ok(target) => SignIn::of(target, state.cookies.read_browser(&req).as_deref()),
        Err(resp) => return resp,
    };
    let login = f.take("login").unwrap_or_default();
    // The switcher of a refusal leads to this form's own page (the typed name or address is not repeated); that
    // of the notice to the sign-in it leads back to: showing the notice again would ask for another link.
    back_to(&req, href(paths::LOGIN_FORGOT, &sign_in.from, None));
    let lang = Lang::of(&req);
    let t = lang.t();
    if login.trim().is_empty() {
        let error = Some(t.reset.enter_login.to_owned());
        let view = forgot_page(lang, &state, sign_in, login, error, false);
        return page(&req, lang, StatusCode::BAD_REQUEST, view.render());
    }
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let from = Some(sign_in.from.clone());
    let cx = ResetRequestContext { ip: throttle::ip(&req, &state), from, meta: &meta, locale: lang.locale };
    match state.provider.request_password_reset(&login, cx, now).await {
        Ok(ResetRequested::Taken) => {
            back_to(&req, sign_in_href(&sign_in.from, None));
            page(&req, lang, StatusCode::OK, forgot_page(lang, &state, sign_in, String::new(), None, true).render())
        }
        Ok(ResetRequested::Limited(limited)) => {
            let error = Some(t.reset.limited.with(wait_words(t, limited.retry_after)));
            let view = forgot_page(lang, &state, sign_in, login, error, false);
            let mut resp = page(&req, lang, StatusCode::TOO_MANY_REQUESTS, view.render());
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
            resp
        }
        Err(e) => error_page(&req, &e),
    }
}

fn reset_form(t: &'static Texts, state: &AppState, token: &ResetToken, error: Option<(String, bool)>) -> ResetPage {
    ResetPage {
        t,
        token: token.expose().to_owned(),
        min_length: state.settings.passwords.min_length,
        error,
        done: false,
        back: None,
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
        Ok(true) => {
            let lang = Lang::of(&req);
            page(&req, lang, StatusCode::OK, reset_form(lang.t(), &state, &token, None).render())
        }
        Ok(false) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}

/// Why a new password was refused, in a sentence of `t`, and whether it is about the repetition.
fn refusal(t: &Texts, rule: PasswordRule) -> (String, bool) {
    let p = &t.passwords;
    match rule {
        PasswordRule::Mismatch => (p.new_mismatch.into(), true),
        PasswordRule::TooShort(min) => (p.too_short.with(min), false),
        PasswordRule::TooLong => (p.too_long.with(Password::MAX_BYTES), false),
        rule => (words(t, rule), false),
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
    let lang = Lang::of(&req);
    match state.provider.reset_password(&token, new, &again, &meta, now).await {
        Ok(PasswordReset::Done { from }) => {
            let back = back_after_reset(from);
            // The link's own page is used up (and its address carries the token): the switcher leads on to the
            // page this one leads to, where there is one.
            if let Some(back) = &back {
                back_to(&req, back.clone());
            }
            let view = ResetPage {
                t: lang.t(),
                token: String::new(),
                min_length: state.settings.passwords.min_length,
                error: None,
                done: true,
                back,
            };
            page(&req, lang, StatusCode::OK, view.render())
        }
        Ok(PasswordReset::Refused(rule)) => {
            // The link's own page: the token is the one its address carried already.
            let again =
                url::form_urlencoded::Serializer::new(String::new()).append_pair("token", token.expose()).finish();
            back_to(&req, format!("{}?{again}", paths::LOGIN_RESET));
            let view = reset_form(lang.t(), &state, &token, Some(refusal(lang.t(), rule)));
            page(&req, lang, StatusCode::BAD_REQUEST, view.render())
        }
        Ok(PasswordReset::Invalid) => invalid_link(&req),
        Err(e) => error_page(&req, &e),
    }
}
