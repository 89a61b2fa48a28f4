//! `GET` and `POST /login`.
use super::authorize::step_response;
use super::interaction_pages::{check_form, load};
use super::render::{error_page, page};
use super::views::LoginPage;
use super::{form, AppState};
use crate::domain::password::Password;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

const FAILED: &str = "That username and password do not match. Try again.";

/// `GET /login?interaction=…`: the form.
#[tracing::instrument(name = "login page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let (id, interaction) = match load(&req, &state, q.get("interaction")).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let client = match state.provider.interaction_client(&interaction).await {
        Ok(c) => c,
        Err(e) => return step_response(&req, &state, Err(e)),
    };
    let view = LoginPage {
        client_name: client.name,
        interaction: id,
        csrf: interaction.csrf.clone(),
        username: interaction.request.login_hint.clone().unwrap_or_default(),
        error: None,
    };
    page(StatusCode::OK, view.render())
}

/// `POST /login`: checks the password, starts a new session, and continues the authorization.
#[tracing::instrument(name = "login", skip_all)]
pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let mut f = match form::body(&req, &body) {
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
    let username = f.take("username").unwrap_or_default();
    let password = Password::new(f.take("password").unwrap_or_default());
    let now = crate::domain::now();
    let user = match state.provider.check_password(&username, password).await {
        Ok(u) => u,
        Err(e) => return error_page(&req, &e),
    };
    let Some(user) = user else {
        tracing::info!(event = "login_failed", "sign-in failed");
        let client_name = match state.provider.interaction_client(&interaction).await {
            Ok(c) => c.name,
            Err(e) => return step_response(&req, &state, Err(e)),
        };
        let view = LoginPage {
            client_name,
            interaction: id,
            csrf: interaction.csrf.clone(),
            username,
            error: Some(FAILED.into()),
        };
        return page(StatusCode::UNAUTHORIZED, view.render());
    };
    let (cookie, session) = match state.provider.start_session(&user, vec!["pwd".into()], now).await {
        Ok(v) => v,
        Err(e) => return error_page(&req, &e),
    };
    tracing::info!(event = "login_succeeded", user_id = %user.id, "signed in");
    let mut resp = step_response(&req, &state, state.provider.after_login(id, interaction, &session, now).await);
    if let Err(e) = resp.add_cookie(&state.cookies.session(cookie.expose().to_owned())) {
        tracing::error!(error = %e, "cannot set the session cookie");
    }
    resp
}
