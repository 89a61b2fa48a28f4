//! The account page's passkeys: `POST /account/passkeys/options` (`csrf`, `name`: the options of a new passkey,
//! JSON, for `static/passkeys.js`), `POST /account/passkeys` (`csrf`, `ceremony`, `credential`: the browser's
//! answer, verified and stored) and `POST /account/passkeys/remove` (`csrf`, `passkey`: refused while it is the
//! user's last way to sign in). All three are the account page's forms: CSRF token bound to the session cookie,
//! our own origin ([`checked`]); the options endpoint, which the script fetches, answers a refused form in JSON
//! rather than with a page. A GET of any sends the browser to the page. With passkeys off (an issuer named by
//! an IP address) the page has no such section and the first two answer 404.
use super::account::{check_account_form, checked, show, ways_in, Done};
use super::meta::request_meta;
use super::render::{error_page, json_error, see_other};
use super::views::{utc_time, PasskeyLine};
use super::{form, AppState};
use crate::domain::passkey::PasskeyName;
use crate::domain::UserId;
use crate::oauth::error::OAuthError;
use crate::oauth::passkey::PasskeyRegistered;
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
pub(super) fn passkeys_off() -> HttpResponse {
    json_answer(
        StatusCode::NOT_FOUND,
        &json!({ "error": "not_found", "error_description": "Passkeys are not available on this server." }),
    )
}

/// `POST /account/passkeys/options`: `{"ceremony": …, "publicKey": …}` for `navigator.credentials.create`; 400
/// with a sentence (`error_description`) for a name that cannot be one.
#[tracing::instrument(name = "account passkey options", skip_all)]
pub async fn options(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match check_account_form(&req, &state, body).await {
        Ok(v) => v,
        Err(refusal) => return refusal.json(),
    };
    if state.provider.passkey_rp().is_none() {
        return passkeys_off();
    }
    let name = match PasskeyName::parse(f.get("name").unwrap_or_default()) {
        Ok(name) => name,
        Err(e) => {
            let body = json!({ "error": "invalid_name", "error_description": e.to_string() });
            return json_answer(StatusCode::BAD_REQUEST, &body);
        }
    };
    match state.provider.begin_passkey_registration(&signed_in, &name, crate::domain::now()).await {
        Ok(started) => json_answer(
            StatusCode::OK,
            &json!({ "ceremony": started.ceremony, "publicKey": started.options["publicKey"] }),
        ),
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
        return passkeys_off();
    }
    let (ceremony, credential) = (f.get("ceremony").unwrap_or_default(), f.get("credential").unwrap_or_default());
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let (status, error) =
        match state.provider.finish_passkey_registration(&signed_in, ceremony, credential, &meta, now).await {
            Ok(PasskeyRegistered::Added(_)) => return see_other(&Done::PasskeyAdded.location()),
            Ok(PasskeyRegistered::Gone) => {
                (StatusCode::BAD_REQUEST, "Adding the passkey took too long, or was done already. Nothing was added.")
            }
            Ok(PasskeyRegistered::Refused) => {
                (StatusCode::BAD_REQUEST, "Your device's answer could not be checked. Nothing was added: try again.")
            }
            Ok(PasskeyRegistered::Duplicate) => {
                (StatusCode::CONFLICT, "That passkey is added already. Nothing was added.")
            }
            Err(e) => return error_page(&req, &e),
        };
    show(&req, &state, &cookie, &signed_in, status, None, Some(error.to_owned()), None).await
}

/// What the page says when the passkey asked to go is the user's last way to sign in.
const LAST_PASSKEY: &str = "This passkey is the only way you can sign in: it was not removed. Add another passkey \
                            first, or ask an administrator to set a password for you.";

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
            let error = Some(LAST_PASSKEY.to_owned());
            show(&req, &state, &cookie, &signed_in, StatusCode::CONFLICT, None, error, None).await
        }
        Err(e) => error_page(&req, &e),
    }
}
