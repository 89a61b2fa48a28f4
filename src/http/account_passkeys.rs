//! The account page's passkeys: `POST /account/passkeys/options` (`csrf`, `name`: the options of a new passkey,
//! JSON, for `static/passkeys.js`), `POST /account/passkeys` (`csrf`, `ceremony`, `credential`: the browser's
//! answer, verified and stored) and `POST /account/passkeys/remove` (`csrf`, `passkey`: refused while it is the
//! user's last way to sign in). All three are the account page's forms: CSRF token bound to the session cookie,
//! our own origin ([`checked`]); the options endpoint, which the script fetches, answers a refused form in JSON
//! rather than with a page. A GET of any sends the browser to the page. With passkeys off (an issuer named by
//! an IP address) the page has no such section and the first two answer 404.
use super::account::{check_account_form, checked, show, ways_in, Done};
use super::lang::Lang;
use super::meta::request_meta;
use super::render::{error_page, json_error, see_other, wait_words};
use super::views::{utc_time, PasskeyLine};
use super::{form, AppState};
use crate::domain::passkey::{PasskeyName, PasskeyNameError};
use crate::domain::UserId;
use crate::oauth::error::OAuthError;
use crate::oauth::passkey::{PasskeyRegistered, RegistrationStart};
use crate::oauth::session::RECENT_SIGN_IN_SECONDS;
use crate::storage::PasskeyRemoval;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// The account page's list of the user's passkeys; `None` when passkeys are off.
pub(super) async fn lines(state: &AppState, user_id: &UserId) -> Result<Option<Vec<PasskeyLine>>, OAuthError> {
    if state.provider.passkey_rp().is_none() {
        return Ok(None);
    }
    let keys = state.provider.own_passkeys(user_id).await?;
    Ok(Some(
        keys.into_iter()
            .map(|k| PasskeyLine {
                id: k.id,
                name: k.name,
                created: utc_time(k.created_at),
                last_used: k.last_used_at.map(utc_time),
            })
            .collect(),
    ))
}

/// A JSON answer of a passkey endpoint, never stored by caches.
pub(super) fn json_answer(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

/// The answer of a passkey endpoint while passkeys are off.
pub(super) fn passkeys_off(req: &HttpRequest) -> HttpResponse {
    let sentence = Lang::of(req).t().account.passkeys_off;
    json_answer(StatusCode::NOT_FOUND, &json!({ "error": "not_found", "error_description": sentence }))
}

/// `POST /account/passkeys/options`: `{"ceremony": …, "publicKey": …}` for `navigator.credentials.create`; 400
/// with a sentence (`error_description`) for a name that cannot be one.
#[tracing::instrument(name = "account passkey options", skip_all)]
pub async fn options(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match check_account_form(&req, &state, body).await {
        Ok(v) => v,
        Err(refusal) => return refusal.json(&req),
    };
    if state.provider.passkey_rp().is_none() {
        return passkeys_off(&req);
    }
    let name = match PasskeyName::parse(f.get("name").unwrap_or_default()) {
        Ok(name) => name,
        Err(e) => {
            let a = &Lang::of(&req).t().account;
            let sentence = match e {
                PasskeyNameError::Empty => a.passkey_name_empty,
                PasskeyNameError::TooLong => a.passkey_name_too_long,
                PasskeyNameError::HiddenCharacter => a.passkey_name_hidden,
            };
            let body = json!({ "error": "invalid_name", "error_description": sentence });
            return json_answer(StatusCode::BAD_REQUEST, &body);
        }
    };
    match state.provider.begin_passkey_registration(&signed_in, &name, crate::domain::now()).await {
        Ok(RegistrationStart::Begun(started)) => json_answer(
            StatusCode::OK,
            &json!({ "ceremony": started.ceremony, "publicKey": started.options["publicKey"] }),
        ),
        Ok(RegistrationStart::SignInAgain) => {
            let t = Lang::of(&req).t();
            let sentence = t.account.passkey_sign_in_first.with(wait_words(t, RECENT_SIGN_IN_SECONDS));
            json_answer(StatusCode::FORBIDDEN, &json!({ "error": "sign_in_again", "error_description": sentence }))
        }
        Err(e) => json_error(&e),
    }
}

/// `POST /account/passkeys`: stores the passkey the browser made for the ceremony, and back to the page; the page
/// with why not otherwise.
#[tracing::instrument(name = "account passkey add", skip_all)]
pub async fn add(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if state.provider.passkey_rp().is_none() {
        return passkeys_off(&req);
    }
    let (ceremony, credential) = (f.get("ceremony").unwrap_or_default(), f.get("credential").unwrap_or_default());
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let a = &Lang::of(&req).t().account;
    let (status, error) =
        match state.provider.finish_passkey_registration(&signed_in, ceremony, credential, &meta, now).await {
            Ok(PasskeyRegistered::Added(_)) => return see_other(&Done::PasskeyAdded.location()),
            Ok(PasskeyRegistered::Gone) => (StatusCode::BAD_REQUEST, a.passkey_gone),
            Ok(PasskeyRegistered::Refused) => (StatusCode::BAD_REQUEST, a.passkey_refused),
            Ok(PasskeyRegistered::Duplicate) => (StatusCode::CONFLICT, a.passkey_duplicate),
            Err(e) => return error_page(&req, &e),
        };
    show(&req, &state, &cookie, &signed_in, status, None, Some(error.to_owned()), None).await
}

/// `POST /account/passkeys/remove` (`passkey`): removes it while another way to sign in stays, and back to the
/// page (which lists what is left, also when it was removed meanwhile); otherwise the page again with why not.
#[tracing::instrument(name = "account passkey remove", skip_all)]
pub async fn remove(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let id = f.get("passkey").unwrap_or_default();
    let (meta, now, ways_in) = (request_meta(&req, &state), crate::domain::now(), ways_in(&state));
    let user_id = &signed_in.user.id;
    match state.provider.remove_passkey(user_id.as_str(), user_id, id, Some(&ways_in), &meta, now).await {
        Ok(PasskeyRemoval::Removed(_) | PasskeyRemoval::NotFound) => see_other(&Done::PasskeyRemoved.location()),
        Ok(PasskeyRemoval::LastWayIn) => {
            // The user's last way to sign in.
            let error = Some(Lang::of(&req).t().account.last_passkey.to_owned());
            show(&req, &state, &cookie, &signed_in, StatusCode::CONFLICT, None, error, None).await
        }
        Err(e) => error_page(&req, &e),
    }
}
