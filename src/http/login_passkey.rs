//! "Sign in with a passkey" on the sign-in page: `POST /login/passkey/options` (the sign-in form's hidden
//! fields: `interaction` or `return` (with `user_code`), and `csrf`) answers the options of a ceremony for any
//! passkey of this server, JSON, for `static/passkeys.js`; `POST /login/passkey` (the same fields, with
//! `ceremony` and `credential`, the browser's answer) checks the answer and ends the sign-in as the password
//! step does ([`super::login::signed_in`]: a new session against fixation, `login_succeeded`). Both check the
//! form as the password form is checked ([`super::login::target`]: CSRF token, origin, the pending
//! authorization), the options endpoint answering a refusal in JSON for the script that fetches it (the page's
//! words as `error_description`); the ceremony is bound to the browser and to the form's target. A refused answer is a failed
//! sign-in of the client IP (the IP's sign-in limits: no name was typed), audited as `login_failed`.
use super::account_passkeys::{json_answer, passkeys_off};
use super::interaction_pages::{cookies_blocked, FormRefusal};
use super::lang::Lang;
use super::login::{find_target, form_of, signed_in, target, Target};
use super::login_new_password::ask_for_new_password;
use super::meta::{device, request_meta};
use super::render::{error_page, json_error, wait_words};
use super::{form, throttle, AppState};
use crate::domain::UnixTime;
use crate::oauth::audit::{EventFacts, RequestMeta};
use crate::oauth::limits::Lock;
use crate::oauth::passkey::sign_in::{PasskeySignIn, PasskeySignInStart};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// `POST /login/passkey/options`: `{"ceremony": …, "publicKey": …}` for `navigator.credentials.get`.
#[tracing::instrument(name = "login passkey options", skip_all)]
pub async fn options(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return json_error(&e),
    };
    if state.provider.passkey_rp().is_none() {
        return passkeys_off(&req);
    }
    let target = match find_target(&req, &state, &f).await {
        Ok(t) => t,
        Err(refusal) => return refusal.json(&req),
    };
    // Every sign-in form is answered with the browser-binding cookie already set.
    let Some(browser) = state.cookies.read_browser(&req) else { return FormRefusal::CookiesBlocked.json(&req) };
    let now = crate::domain::now();
    let ip = throttle::ip(&req, &state);
    let kept = (target.continuation(), target.client_id());
    match state.provider.begin_passkey_sign_in(kept, &browser, ip, now).await {
        Ok(PasskeySignInStart::Started(started)) => json_answer(
            StatusCode::OK,
            &json!({ "ceremony": started.ceremony, "publicKey": started.options["publicKey"] }),
        ),
        Ok(PasskeySignInStart::Limited(limited)) => busy(&req, limited.retry_after),
        Ok(PasskeySignInStart::Full) => busy(&req, crate::oauth::interaction::FULL_RETRY_AFTER),
        Err(e) => json_error(&e),
    }
}

/// 429 with `Retry-After` and a sentence for the page's script to show.
fn busy(req: &HttpRequest, retry_after: i64) -> HttpResponse {
    let t = Lang::of(req).t();
    let sentence = t.login.passkey_busy.with(wait_words(t, retry_after));
    let mut resp = json_answer(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({ "error": "too_many_requests", "error_description": sentence }),
    );
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// `POST /login/passkey`: checks the browser's answer and signs the user in, or the sign-in form again with why
/// not.
#[tracing::instrument(name = "login passkey", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    if state.provider.passkey_rp().is_none() {
        return passkeys_off(&req);
    }
    let target = match target(&req, &state, &f).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(browser) = state.cookies.read_browser(&req) else { return cookies_blocked(&req) };
    let (now, meta, ip) = (crate::domain::now(), request_meta(&req, &state), throttle::ip(&req, &state));
    let limits = &state.provider.limits;
    let attempt = match limits.begin_ip_sign_in(ip, now).await {
        Ok(attempt) => attempt,
        Err(lock) => {
            state.provider.sign_in_refused_while_locked(lock, ip, "", target.client_id(), &meta, now).await;
            return locked(&req, &state, &target, lock).await;
        }
    };
    let ceremony = f.get("ceremony").unwrap_or_default();
    let pending = match state.provider.take_passkey_sign_in(ceremony, &browser, &target.continuation(), now).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            limits.sign_in_abandoned(attempt, now).await;
            let expired = Some(Lang::of(&req).t().login.passkey_expired.into());
            return form_of(&req, &state, &target, String::new(), StatusCode::BAD_REQUEST, expired).await;
        }
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            return error_page(&req, &e);
        }
    };
    let credential = f.get("credential").unwrap_or_default();
    let outcome = match state.provider.passkey_sign_in(pending, credential, device(&req, &state), now).await {
        Ok(outcome) => outcome,
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            return error_page(&req, &e);
        }
    };
    match outcome {
        PasskeySignIn::Started { user, passkey_id, cookie, session } => {
            limits.ip_sign_in_succeeded(attempt, now).await;
            let details = json!({ "passkey": passkey_id });
            signed_in(&req, &state, target, &user, cookie, session, details, now).await
        }
        PasskeySignIn::NeedsNewPassword { user, passkey_id, amr } => {
            limits.ip_sign_in_succeeded(attempt, now).await;
            let kept = target.kept();
            let session = (amr, json!({ "passkey": passkey_id }));
            let username = user.username.as_str().to_owned();
            ask_for_new_password(&req, &state, &user, &username, kept, session, now).await
        }
        PasskeySignIn::Refused { user, refusal } => {
            let user_id = user.map(|u| u.id.as_str().to_owned());
            let client_id = target.client_id();
            let details = json!({ "reason": refusal.as_str(), "method": "passkey" });
            let facts = EventFacts { actor: None, user_id: user_id.clone(), client_id: client_id.clone(), details };
            state.provider.audit("login_failed", facts, &meta, now).await;
            match limits.sign_in_failed(attempt, now).await {
                None => {
                    let refused = Some(Lang::of(&req).t().login.passkey_refused.into());
                    form_of(&req, &state, &target, String::new(), StatusCode::OK, refused).await
                }
                Some(lock) => {
                    lockout(&state, user_id, client_id, lock, &meta, now).await;
                    locked(&req, &state, &target, lock).await
                }
            }
        }
    }
}

async fn lockout(
    state: &AppState,
    user_id: Option<String>,
    client_id: Option<String>,
    lock: Lock,
    meta: &RequestMeta,
    now: UnixTime,
) {
    let details = json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after });
    state.provider.audit("login_lockout", EventFacts { actor: None, user_id, client_id, details }, meta, now).await;
}

/// The sign-in form again while the IP is locked: 429 with `Retry-After`.
async fn locked(req: &HttpRequest, state: &AppState, target: &Target, lock: Lock) -> HttpResponse {
    let t = Lang::of(req).t();
    let error = t.common.too_many_sign_in_failures.with(wait_words(t, lock.retry_after));
    let mut resp = form_of(req, state, target, String::new(), StatusCode::TOO_MANY_REQUESTS, Some(error)).await;
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(lock.retry_after));
    resp
}
