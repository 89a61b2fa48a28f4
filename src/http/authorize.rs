//! `GET` and `POST /authorize`.
use super::lang::Lang;
use super::render::{authorization_response, error_page, repeat_as_get, see_other};
use super::{form, throttle, AppState};
use crate::i18n::Locale;
use crate::oauth::authorize::AuthorizeError;
use crate::oauth::discovery::paths;
use crate::oauth::interaction::Step;
use crate::oauth::params::Params;
use actix_web::{web, HttpRequest, HttpResponse};

/// `GET /authorize`.
#[tracing::instrument(name = "authorize", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match form::authorization(&req, None) {
        Ok(params) => handle(&req, &state, params).await,
        Err(e) => error_page(&req, &e),
    }
}

/// `POST /authorize` (a form body instead of the query). A post from the app's site carries none of our
/// cookies: answered here it would find no session (`prompt=none` would get `login_required`) and replace
/// the browser binding, so without the session cookie it is asked again as a GET, which carries them. A
/// malformed one, or one naming several resources, is answered at once: the GET would carry only the first of a
/// repeated parameter.
#[tracing::instrument(name = "authorize", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    match form::authorization(&req, Some(body)) {
        Ok(params)
            if !params.is_flawed()
                && !params.names_several_resources()
                && state.cookies.read_session(&req).is_none() =>
        {
            repeat_as_get(paths::AUTHORIZE, &params)
        }
        Ok(params) => handle(&req, &state, params).await,
        Err(e) => error_page(&req, &e),
    }
}

async fn handle(req: &HttpRequest, state: &AppState, params: Params) -> HttpResponse {
    let cookies = &state.cookies;
    let (browser, new_browser) = cookies.read_or_new_browser(req);
    let session = cookies.read_session(req);
    let ip = throttle::ip(req, state);
    // Kept for a page that refuses the request here; a sign-in that goes on keeps its own language.
    let ui_locales = params.get("ui_locales").map(str::to_owned);
    let outcome = state.provider.authorize(params, session.as_deref(), &browser, ip, crate::domain::now()).await;
    if matches!(&outcome, Err(e) if !matches!(e, AuthorizeError::Redirect(_))) {
        Lang::of_sign_in(req, ui_locales.as_deref().and_then(Locale::of_ui_locales));
    }
    let mut resp = step_response(req, state, outcome);
    if new_browser {
        cookies.set_browser(&mut resp, browser);
    }
    resp
}

/// Turns the next step of an authorization into a response.
pub fn step_response(req: &HttpRequest, state: &AppState, outcome: Result<Step, AuthorizeError>) -> HttpResponse {
    match outcome {
        Ok(Step::Respond(r)) => authorization_response(req, r),
        Ok(Step::Login(id)) => see_other(&format!("{}?interaction={id}", paths::LOGIN)),
        Ok(Step::SignUp(id)) => see_other(&format!("{}?interaction={id}", paths::LOGIN_SIGN_UP)),
        Ok(Step::Consent(id)) => see_other(&format!("{}?interaction={id}", paths::CONSENT)),
        Err(AuthorizeError::Page(e)) => error_page(req, &e),
        Err(AuthorizeError::TooManySignIns(limited)) => throttle::too_many_sign_ins(req, state, limited),
        Err(AuthorizeError::SignInsFull(limited)) => throttle::sign_ins_full(req, limited),
        Err(AuthorizeError::Redirect(r)) => {
            tracing::info!(error = %r.error, "authorization refused");
            authorization_response(req, state.provider.error_response(&r))
        }
    }
}
