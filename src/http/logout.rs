//! `GET` and `POST /logout` (RP-Initiated Logout 1.0). With a valid `id_token_hint` issued in the current
//! session the session ends at once; otherwise the user confirms on a page (CSRF token bound to the session
//! cookie). One who chooses to stay signed in is shown a page saying so, not sent back to the app. A form from
//! our own page whose token belongs to an earlier session of the browser is asked again.
use super::lang::Lang;
use super::meta::request_meta;
use super::render::{framing_page, page, repeat_as_get, sign_out_error_page};
use super::views::{LoggedOutPage, LogoutPage};
use super::{form, AppState};
use crate::oauth::discovery::paths;
use crate::oauth::end_session::{logout_csrf, logout_csrf_matches, LogoutRequest};
use crate::oauth::frontchannel::LogoutFrames;
use crate::oauth::params::Params;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// `GET /logout`.
#[tracing::instrument(name = "logout", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match form::query(&req) {
        Ok(p) => handle(&req, &state, p).await,
        Err(e) => sign_out_error_page(&req, &e),
    }
}

/// `POST /logout`: an RP's form post, or the confirmation form. An RP's post comes from its own site, so
/// the browser leaves the session cookie off: without it the request is asked again as a GET, which carries
/// it, rather than taken for "already signed out". The confirmation form (with `csrf`) is posted from our
/// own page, which sends the cookie: without it there is nothing to end.
#[tracing::instrument(name = "logout", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    match form::read(&req, body) {
        Ok(p) if p.get("csrf").is_none() && state.cookies.read_session(&req).is_none() => {
            repeat_as_get(paths::LOGOUT, &p)
        }
        Ok(p) => handle(&req, &state, p).await,
        Err(e) => sign_out_error_page(&req, &e),
    }
}

async fn handle(req: &HttpRequest, state: &AppState, params: Params) -> HttpResponse {
    // The language the request asked for (RP-Initiated Logout's `ui_locales`), in a POST's body too: the form of the
    // confirmation page carries it on, so the page that answers speaks it.
    Lang::of_flow_form(req, &params);
    let request = match state.provider.logout_request(&params).await {
        Ok(r) => r,
        Err(e) => return sign_out_error_page(req, &e),
    };
    let cookie = state.cookies.read_session(req);
    let confirmed = match (&cookie, params.get("csrf")) {
        (Some(c), Some(t)) => {
            // Our confirmation form: from our own page only (an RP's logout request carries no `csrf`).
            let matches = logout_csrf_matches(c, t);
            // Our own page's token for a session cookie since replaced (signed in again in another tab): the
            // page is stale, not forged, so the question is asked again for the session there is now.
            let stale = !matches && !t.is_empty() && super::interaction_pages::from_our_origin(req, state);
            if super::interaction_pages::from_another_origin(req, state) || !(matches || stale) {
                let t = Lang::of(req).t();
                return super::render::message_page(
                    req,
                    StatusCode::FORBIDDEN,
                    t.error.forbidden,
                    t.logout.form_refused,
                );
            }
            matches && params.get("decision") == Some("logout")
        }
        _ => false,
    };
    let Some(cookie) = cookie else {
        // Nothing to end: already signed out.
        return finish(req, &request, &LogoutFrames::default());
    };
    if params.get("decision") == Some("stay") && params.get("csrf").is_some_and(|t| logout_csrf_matches(&cookie, t)) {
        return still_signed_in(req);
    }
    let hinted = state.provider.logout_needs_no_confirmation(&request, &cookie, crate::domain::now()).await;
    if !(hinted || confirmed) {
        let lang = Lang::of(req);
        let view = LogoutPage {
            t: lang.t(),
            client_name: request.client_name.clone(),
            csrf: logout_csrf(&cookie),
            client_id: request.client_id.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            post_logout_redirect_uri: request
                .post_logout_redirect_uri
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            state: request.state.clone().unwrap_or_default(),
            ui_locales: lang.carried(),
        };
        return page(req, lang, StatusCode::OK, view.render());
    }
    let meta = request_meta(req, state);
    let frames =
        match state.provider.end_session(&cookie, request.client_id.as_ref(), &meta, crate::domain::now()).await {
            Ok(frames) => frames,
            Err(e) => return sign_out_error_page(req, &e),
        };
    let mut resp = finish(req, &request, &frames);
    if let Err(e) = resp.add_cookie(&state.cookies.clear_session()) {
        tracing::error!(error = %e, "cannot clear the session cookie");
    }
    resp
}

/// Where a logout ends: the app's `post_logout_redirect_uri`, or the signed-out page. With front-channel
/// logout frames, always the page, which frames them and then leads on to the app (front-channel logout:
/// the frames must load before the browser leaves).
fn finish(req: &HttpRequest, request: &LogoutRequest, frames: &LogoutFrames) -> HttpResponse {
    match request.redirect_url() {
        Some(url) if frames.is_empty() => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        next => signed_out_page(req, frames, next.map(String::from)),
    }
}

/// The signed-out page with `frames`, leading on to `continue_to` when given.
pub(super) fn signed_out_page(req: &HttpRequest, frames: &LogoutFrames, continue_to: Option<String>) -> HttpResponse {
    let lang = Lang::of(req);
    let view = LoggedOutPage {
        t: lang.t(),
        signed_out: true,
        frames: frames.urls().iter().map(|u| u.as_str().to_owned()).collect(),
        continue_to,
    };
    framing_page(req, lang, StatusCode::OK, view.render(), frames)
}

/// The user declined to sign out. The browser is not sent to the app's `post_logout_redirect_uri`:
/// RP-Initiated Logout 1.0 §2 and §3 define that redirect as what follows a logout that has been performed,
/// and an app that receives it takes the user for signed out (§2: a user who does not approve the logout
/// means the app hears of none). Keycloak and Hydra do not redirect there either. The page says the user is
/// still signed in and leads to the account page.
fn still_signed_in(req: &HttpRequest) -> HttpResponse {
    let lang = Lang::of(req);
    // The answer of a form: its switcher leads to the account page it links to. (The signed-out page has none:
    // it may be framing the apps' logouts, or lead on to the app, which a switch would lose.)
    super::lang::back_to(req, paths::ACCOUNT.to_owned());
    let view = LoggedOutPage { t: lang.t(), signed_out: false, frames: Vec::new(), continue_to: None };
    page(req, lang, StatusCode::OK, view.render())
}
