//! `GET` and `POST /login`.
use super::authorize::step_response;
use super::interaction_pages::{check_form, load};
use super::meta::request_meta;
use super::render::{error_page, page};
use super::views::LoginPage;
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::oauth::audit::EventFacts;
use crate::oauth::interaction::Interaction;
use crate::oauth::limits::Lock;
use crate::oauth::session::PasswordCheck;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

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

/// `POST /login`: checks the abuse limits and the password, starts a new session, and continues the
/// authorization. Every outcome is an audit event (never with the password).
#[tracing::instrument(name = "login", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
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
    let username = f.take("username").unwrap_or_default();
    let password = Password::new(f.take("password").unwrap_or_default());
    let now = crate::domain::now();
    let meta = request_meta(&req, &state);
    let ip = throttle::ip(&req, &state);
    let client_id = Some(interaction.request.client_id.as_str().to_owned());
    let limits = &state.provider.limits;

    // A locked IP or name gets no answer about the password, right or wrong.
    if let Some(lock) = limits.login_lock(ip, &username, now).await {
        tracing::info!(event = "login_throttled", scope = lock.scope.as_str(), "sign-in refused while locked");
        state.provider.metrics.sign_in(crate::metrics::SignIn::Locked);
        return form_again(&req, &state, id, &interaction, username, Refused::Locked(lock)).await;
    }
    let check = match state.provider.verify_sign_in(&username, password).await {
        Ok(c) => c,
        Err(e) => return error_page(&req, &e),
    };
    let user = match check {
        PasswordCheck::Accepted(user) => user,
        PasswordCheck::Refused { user, refusal } => {
            let user_id = user.map(|u| u.id.as_str().to_owned());
            let facts = EventFacts {
                actor: None,
                user_id: user_id.clone(),
                client_id: client_id.clone(),
                details: json!({ "reason": refusal.as_str() }),
            };
            state.provider.audit("login_failed", facts, &meta, now).await;
            let Some(lock) = limits.login_failed(ip, &username, now).await else {
                return form_again(&req, &state, id, &interaction, username, Refused::Failed).await;
            };
            let facts = EventFacts {
                actor: None,
                user_id,
                client_id,
                details: json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after }),
            };
            state.provider.audit("login_lockout", facts, &meta, now).await;
            return form_again(&req, &state, id, &interaction, username, Refused::Locked(lock)).await;
        }
    };
    limits.login_succeeded(&username, now).await;
    let (cookie, session) = match state.provider.start_session(&user, vec!["pwd".into()], now).await {
        Ok(v) => v,
        Err(e) => return error_page(&req, &e),
    };
    let facts = EventFacts {
        actor: Some(user.id.as_str().to_owned()),
        user_id: Some(user.id.as_str().to_owned()),
        client_id,
        details: json!({ "amr": session.amr, "sid": session.id_hash }),
    };
    state.provider.audit("login_succeeded", facts, &meta, now).await;
    let mut resp = step_response(&req, &state, state.provider.after_login(id, interaction, &session, now).await);
    if let Err(e) = resp.add_cookie(&state.cookies.session(cookie.expose().to_owned())) {
        tracing::error!(error = %e, "cannot set the session cookie");
    }
    resp
}

/// Why the form is shown again.
enum Refused {
    /// Wrong name or password: the form again with 200. Not 401, which must carry a `WWW-Authenticate`
    /// challenge (RFC 9110 §15.5.2) and so belongs to HTTP authentication, not to a form; not 400, which
    /// the login form answers when the form itself is malformed.
    Failed,
    /// Too many failures from this IP or for this name (429 with `Retry-After`); the same words either way,
    /// and whether or not the name exists.
    Locked(Lock),
}

/// "30 seconds", "2 minutes": how long to wait, in words.
fn wait_words(secs: i64) -> String {
    match secs {
        ..=1 => "1 second".to_owned(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}

/// The sign-in form again, with what went wrong and the name as typed (escaped by the template).
async fn form_again(
    req: &HttpRequest,
    state: &AppState,
    id: String,
    interaction: &Interaction,
    username: String,
    why: Refused,
) -> HttpResponse {
    let client_name = match state.provider.interaction_client(interaction).await {
        Ok(c) => c.name,
        Err(e) => return step_response(req, state, Err(e)),
    };
    let (status, error) = match why {
        Refused::Failed => (StatusCode::OK, FAILED.to_owned()),
        Refused::Locked(lock) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-in attempts. Wait {} and try again.", wait_words(lock.retry_after)),
        ),
    };
    let view = LoginPage { client_name, interaction: id, csrf: interaction.csrf.clone(), username, error: Some(error) };
    let mut resp = page(status, view.render());
    if let Refused::Locked(lock) = why {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(lock.retry_after));
    }
    resp
}
