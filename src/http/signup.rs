//! `GET` and `POST /login/register`: the sign-up page of a pending authorization (`interaction=…`) or of the account
//! page's sign-in (`return=account`), while users may create their own account (`users.self_registration`;
//! otherwise 404). Bound as the sign-in form it comes from is ([`super::login::target`]): the interaction of this
//! browser and its CSRF token, or the account sign-in's token bound to the browser-binding cookie; our own origin.
//! [`crate::oauth::signup`] decides; a new account is signed in and continues as after a password sign-in
//! ([`super::login`]: the authorization, or the account page), or through the set-up of two-step verification
//! first (`otp.required`, [`super::login_enrol`]). A refusal shows
//! the form again with why, next to the field (400; 409 for a taken name; 429 with `Retry-After` past the IP's
//! sign-up limit), keeping what was typed but the passwords.
use super::account_password::words;
use super::interaction_pages::{expired, invalid_link, load};
use super::lang::{back_to, Lang};
use super::login::{signed_in, target, Target, RETURN_TO_ACCOUNT};
use super::meta::{device, request_meta};
use super::render::{error_page, message_page, page, see_other, wait_words};
use super::views::SignUpPage;
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::domain::{UnixTime, Username, UsernameFlaw};
use crate::i18n::Texts;
use crate::oauth::account::account_login_csrf;
use crate::oauth::admin::MAX_USER_NAME_LEN;
use crate::oauth::discovery::paths;
use crate::oauth::password_change::PasswordRule;
use crate::oauth::session::SignIn;
use crate::oauth::signup::{SignUp, SignUpContext, SignUpField, SignUpForm, SignUpRule};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

/// What was typed, shown again after a refusal.
#[derive(Default)]
struct Typed {
    username: String,
    email: String,
    name: String,
}

/// The answer while sign-up is off: there is no such page.
fn off(req: &HttpRequest) -> HttpResponse {
    let s = &Lang::of(req).t().signup;
    message_page(req, StatusCode::NOT_FOUND, s.off, s.off_text)
}

/// `GET /login/register?interaction=…` or `GET /login/register?return=account`: the form (for the account page,
/// only when the browser is not signed in already).
#[tracing::instrument(name = "sign-up page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.settings.users.self_registration {
        return off(&req);
    }
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    if q.get("interaction").is_none() {
        match q.get("return") {
            Some(RETURN_TO_ACCOUNT) => {
                return match super::account::current(&req, &state).await {
                    Ok(Some(_)) => see_other(paths::ACCOUNT),
                    Ok(None) => {
                        form_page(
                            &req,
                            &state,
                            &Target::Account { again: false },
                            Typed::default(),
                            StatusCode::OK,
                            None,
                        )
                        .await
                    }
                    Err(resp) => resp,
                }
            }
            // The device page's sign-in offers no sign-up.
            Some(_) => return invalid_link(&req),
            None => {}
        }
    }
    match load(&req, &state, q.get("interaction")).await {
        Ok((id, interaction)) => {
            let target = Target::Authorize(id, Box::new(interaction));
            form_page(&req, &state, &target, Typed::default(), StatusCode::OK, None).await
        }
        Err(resp) => resp,
    }
}

/// The sign-up form of `target`: a pending authorization's, or the account page's (its CSRF token bound to the
/// browser-binding cookie, set here when the browser has none, as the account page's sign-in form's).
async fn form_page(
    req: &HttpRequest,
    state: &AppState,
    target: &Target,
    typed: Typed,
    status: StatusCode,
    error: Option<(String, SignUpField)>,
) -> HttpResponse {
    let mut new_browser = None;
    let (client_name, interaction, return_to, csrf) = match target {
        Target::Authorize(id, interaction) => match state.provider.interaction_client(interaction).await {
            Ok(c) => (Some(c.name), id.clone(), None, interaction.csrf.clone()),
            Err(e) => return super::authorize::step_response(req, state, Err(e)),
        },
        Target::Device(_) => return invalid_link(req),
        Target::Account { .. } => {
            let (browser, new) = state.cookies.read_or_new_browser(req);
            let csrf = account_login_csrf(&browser);
            new_browser = new.then_some(browser);
            (None, String::new(), Some(RETURN_TO_ACCOUNT), csrf)
        }
    };
    let lang = Lang::of(req);
    let again = match return_to {
        Some(r) => [("return", r)],
        None => [("interaction", interaction.as_str())],
    };
    let again = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(again).finish();
    back_to(req, format!("{}?{again}", paths::LOGIN_SIGN_UP));
    let view = SignUpPage {
        t: lang.t(),
        client_name,
        interaction,
        return_to,
        csrf,
        username: typed.username,
        email: typed.email,
        name: typed.name,
        min_length: state.settings.passwords.min_length,
        error,
    };
    let mut resp = page(req, lang, status, view.render());
    if let Some(browser) = new_browser {
        state.cookies.set_browser(&mut resp, browser);
    }
    resp
}

/// Why a form was refused, in a sentence of `t`, with the field it is about.
fn refusal(t: &Texts, rule: SignUpRule) -> (String, SignUpField) {
    let field = rule.field();
    let s = &t.signup;
    let message = match rule {
        SignUpRule::Username(UsernameFlaw::Length) => s.username_length.with(Username::MAX_LEN),
        SignUpRule::Username(UsernameFlaw::Control) => s.username_control.into(),
        SignUpRule::Username(UsernameFlaw::Invisible) => s.username_invisible.into(),
        SignUpRule::Email => s.email_refused.into(),
        SignUpRule::Name => s.name_refused.with(MAX_USER_NAME_LEN),
        SignUpRule::Password(PasswordRule::Mismatch) => s.mismatch.into(),
        SignUpRule::Password(PasswordRule::TooShort(min)) => t.passwords.too_short.with(min),
        SignUpRule::Password(PasswordRule::TooLong) => t.passwords.too_long.with(Password::MAX_BYTES),
        SignUpRule::Password(rule) => words(t, rule),
    };
    (message, field)
}

/// `POST /login/register`: creates the account, signs its user in, and continues the authorization or goes to the
/// account page.
#[tracing::instrument(name = "sign-up", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    if !state.settings.users.self_registration {
        return off(&req);
    }
    let mut f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    // Checked as the sign-in form of the same target is: the interaction's token, or the account sign-in's.
    let target = match target(&req, &state, &f).await {
        Ok(Target::Device(_)) => return invalid_link(&req),
        Ok(target) => target,
        Err(resp) => return resp,
    };
    let mut text = |name| f.take(name).unwrap_or_default();
    let typed = Typed { username: text("username"), email: text("email"), name: text("name") };
    let form = SignUpForm {
        username: typed.username.clone(),
        email: typed.email.clone(),
        name: typed.name.clone(),
        password: Password::new(text("password")),
        again: Password::new(text("password_again")),
    };
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let cx = SignUpContext {
        ip: throttle::ip(&req, &state),
        device: device(&req, &state),
        client_id: target.client_id(),
        meta: &meta,
        locale: Lang::of(&req).locale,
    };
    let outcome = match state.provider.sign_up(form, cx, now).await {
        Ok(outcome) => outcome,
        Err(e) => return error_page(&req, &e),
    };
    let t = Lang::of(&req).t();
    let (status, message, field) = match outcome {
        SignUp::Created(signed) => return signed_up(&req, &state, target, *signed, now).await,
        SignUp::Refused(rule) => {
            let (message, field) = refusal(t, rule);
            (StatusCode::BAD_REQUEST, message, field)
        }
        SignUp::Taken => (StatusCode::CONFLICT, t.signup.taken.into(), SignUpField::Username),
        SignUp::Limited(limited) => {
            let message = t.signup.limited.with(wait_words(t, limited.retry_after));
            let error = Some((message, SignUpField::Username));
            let mut resp = form_page(&req, &state, &target, typed, StatusCode::TOO_MANY_REQUESTS, error).await;
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
            return resp;
        }
    };
    form_page(&req, &state, &target, typed, status, Some((message, field))).await
}

/// The new account's sign-in, continued as a password sign-in's: to `target` (a session started), or through the
/// set-up of two-step verification first (`otp.required`).
async fn signed_up(req: &HttpRequest, state: &AppState, target: Target, signed: SignIn, now: UnixTime) -> HttpResponse {
    match signed {
        SignIn::Started { user, cookie, session } => {
            signed_in(req, state, target, &user, cookie, session, json!({ "registered": true }), now).await
        }
        SignIn::NeedsEnrolment { user } => {
            let username = user.username.as_str().to_owned();
            super::login_enrol::ask_to_enrol(req, state, &user, &username, target.kept(), now).await
        }
        // Removed the moment it was made (an operator's hand): nothing to continue.
        SignIn::Refused { .. } | SignIn::NeedsCode { .. } | SignIn::NeedsNewPassword { .. } => expired(req),
    }
}
