//! The device authorization grant (RFC 8628) at the edge: `POST /device_authorization` (JSON, for the device)
//! and the verification page `GET`/`POST /device` (HTML, for the user's browser).
//!
//! The page takes the code (from the form, or from the link of `verification_uri_complete`, which only fills the
//! form in), sends a signed-out browser through the sign-in and back (`/login?return=device&user_code=…`), then
//! always asks: the approval page names the app and what it asks for, and warns that a code someone else gave
//! is a way into the account (RFC 8628 §5.4). Codes that find nothing count against the client IP
//! (`limits.login_ip_*`, RFC 8628 §5.1). The forms carry CSRF tokens bound to a cookie (the browser cookie for
//! the code entry, the session cookie for the answer) and must come from our own page.
use super::consent::https_only;
use super::interaction_pages::{cookies_blocked, forbidden, from_another_origin};
use super::lang::{back_to, Lang};
use super::login::RETURN_TO_DEVICE;
use super::meta::request_meta;
use super::render::{error_page, json_error, message_page, page, see_other, wait_words};
use super::throttle;
use super::views::{describe_scope, DeviceConfirmPage, DeviceDonePage, DevicePage, ScopeLine};
use super::{form, AppState};
use crate::domain::Scope;
use crate::i18n::Locale;
use crate::oauth::device::{
    device_approval_csrf, device_approval_csrf_matches, device_entry_csrf, device_entry_csrf_matches, DeviceAnswer,
    DeviceLookup, PendingDevice, UserCode, UserCodeError,
};
use crate::oauth::discovery::paths;
use crate::oauth::limits::{ClientEndpoint, Limited};
use crate::oauth::params::Params;
use crate::oauth::session::SignedIn;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// What the page says when a code finds nothing.
fn not_found(req: &HttpRequest) -> Option<String> {
    Some(Lang::of(req).t().device.not_found.to_owned())
}

/// `POST /device_authorization`: JSON, never cached; counted as token requests are, on counters of its own.
#[tracing::instrument(name = "device authorization", skip_all)]
pub async fn authorization(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let params = match form::read(&req, body) {
        Ok(p) => p,
        Err(e) => return json_error(&e),
    };
    let authorization = match super::authorization::header(&req) {
        Ok(h) => h.and_then(|v| v.to_str().ok()),
        Err(e) => return json_error(&e),
    };
    if let Some(refused) =
        throttle::client_request(&req, &state, ClientEndpoint::DeviceAuthorization, &params, authorization).await
    {
        return refused;
    }
    match state.provider.device_authorization(params, authorization, crate::domain::now()).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(r),
        Err(e) => json_error(&e),
    }
}

/// The verification page with `code` in its link: where the sign-in comes back to.
pub fn page_for(code: &UserCode) -> String {
    page_in(code, None)
}

/// [`page_for`], in the flow's language `ui_locales` if it has one ([`super::lang::FLOW_FIELD`]).
pub fn page_in(code: &UserCode, ui_locales: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("user_code", code.as_str());
    if let Some(l) = ui_locales {
        query.append_pair(super::lang::FLOW_FIELD, l);
    }
    format!("{}?{}", paths::DEVICE, query.finish())
}

/// The sign-in that comes back to the page with `code`, in the device's language (`locale`) if it asked for one.
fn to_login(code: &UserCode, locale: Option<Locale>) -> HttpResponse {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("return", RETURN_TO_DEVICE).append_pair("user_code", code.as_str());
    if let Some(locale) = locale {
        query.append_pair("ui_locales", locale.tag());
    }
    let query = query.finish();
    see_other(&format!("{}?{query}", paths::LOGIN))
}

/// `GET /device[?user_code=…]`: the code entry form, filled in from the link; signed in with a code in the link
/// (back from the sign-in), the approval page at once.
#[tracing::instrument(name = "device page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let code = q.get("user_code").and_then(|c| UserCode::parse(c).ok());
    let signed_in = match super::account::current(&req, &state).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    match (code, signed_in) {
        (Some(code), Some((cookie, signed_in))) => {
            // The link's language (the flow's, as the sign-in brought it back) before the device's.
            let carried = q.get(super::lang::FLOW_FIELD).and_then(Locale::of_ui_locales);
            look_up(&req, &state, code, carried, &cookie, &signed_in).await
        }
        (code, _) => entry_form(&req, &state, code.map(|c| c.display()).unwrap_or_default(), StatusCode::OK, None),
    }
}

/// `POST /device`: a code entered (`user_code`), or the answer to the approval page (`decision`).
#[tracing::instrument(name = "device", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    // The flow's language, as the page that posted the form spoke it: every answer below speaks it too.
    let carried = Lang::of_flow_form(&req, &f);
    if from_another_origin(&req, &state) {
        tracing::warn!(event = "csrf_token_mismatch", "device form posted from another origin");
        return forbidden(&req);
    }
    if f.get("decision").is_some() {
        return answer(&req, &state, &f, carried).await;
    }
    let Some(browser) = state.cookies.read_browser(&req) else {
        // The form came with the browser cookie: a post from our page without it means cookies are blocked.
        return cookies_blocked(&req);
    };
    if !f.get("csrf").is_some_and(|t| device_entry_csrf_matches(&browser, t)) {
        tracing::warn!(event = "csrf_token_mismatch", "device code entry without a valid CSRF token");
        return forbidden(&req);
    }
    let typed = f.get("user_code").unwrap_or_default();
    let code = match UserCode::parse(typed) {
        Ok(code) => code,
        Err(e) => {
            let d = &Lang::of(&req).t().device;
            let why = match e {
                UserCodeError::Empty => d.code_empty,
                UserCodeError::Malformed => d.code_malformed,
            };
            return entry_form(&req, &state, typed.to_owned(), StatusCode::OK, Some(why.to_owned()));
        }
    };
    match super::account::current(&req, &state).await {
        Ok(Some((cookie, signed_in))) => look_up(&req, &state, code, carried, &cookie, &signed_in).await,
        // Looked up (and counted) before the sign-in too, so that guesses cost the same signed in or not.
        Ok(None) => match find(&req, &state, &code, typed, carried).await {
            Ok(pending) => to_login(&code, carried.or(pending.locale())),
            Err(resp) => resp,
        },
        Err(resp) => resp,
    }
}

/// The approval page for `code`, or the entry form again saying why not; in the language the posted form
/// `carried`, if any.
async fn look_up(
    req: &HttpRequest,
    state: &AppState,
    code: UserCode,
    carried: Option<Locale>,
    cookie: &str,
    signed_in: &SignedIn,
) -> HttpResponse {
    match find(req, state, &code, &code.display(), carried).await {
        Ok(pending) => confirm_page(req, &pending, cookie, signed_in),
        Err(resp) => resp,
    }
}

/// The request `code` stands for; otherwise the answer to send: the entry form with `typed` and what went wrong
/// (429 once the IP is locked out of code entry), or the error page. The language the posted form `carried` (the
/// user's choice or the device's, from the page) comes before the device's own.
#[allow(clippy::result_large_err)]
async fn find(
    req: &HttpRequest,
    state: &AppState,
    code: &UserCode,
    typed: &str,
    carried: Option<Locale>,
) -> Result<PendingDevice, HttpResponse> {
    let ip = throttle::ip(req, state);
    let now = crate::domain::now();
    let limits = &state.provider.limits;
    if let Err(limited) = limits.check_user_code_entry(ip, now).await {
        return Err(too_many_codes(req, state, typed, limited));
    }
    match state.provider.find_device(code, now).await {
        Ok(DeviceLookup::Pending(pending)) => {
            // Once the code is known, the pages of its request speak the device's language, as a sign-in's do.
            Lang::of_sign_in(req, carried.or(pending.locale()));
            Ok(*pending)
        }
        Ok(DeviceLookup::NotFound) => {
            tracing::info!(event = "user_code_not_found", "a device code entry found nothing");
            match limits.user_code_failed(ip, now).await {
                Some(limited) => Err(too_many_codes(req, state, typed, limited)),
                None => Err(entry_form(req, state, typed.to_owned(), StatusCode::OK, not_found(req))),
            }
        }
        Err(e) => Err(error_page(req, &e)),
    }
}

fn too_many_codes(req: &HttpRequest, state: &AppState, typed: &str, limited: Limited) -> HttpResponse {
    tracing::warn!(
        event = "rate_limited",
        endpoint = "device",
        retry_after = limited.retry_after,
        "code entry refused"
    );
    let t = Lang::of(req).t();
    let message = t.device.too_many_codes.with(wait_words(t, limited.retry_after));
    let mut resp = entry_form(req, state, typed.to_owned(), StatusCode::TOO_MANY_REQUESTS, Some(message));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
    resp
}

/// The code entry form. Its CSRF token is bound to the browser-binding cookie, set here when the browser has
/// none.
fn entry_form(
    req: &HttpRequest,
    state: &AppState,
    typed: String,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let (browser, new_browser) = state.cookies.read_or_new_browser(req);
    // What was typed goes back into the field (escaped by the template), cut to what the field takes.
    let user_code = typed.chars().take(32).collect();
    let lang = Lang::of(req);
    back_to(req, paths::DEVICE.to_owned());
    let view =
        DevicePage { t: lang.t(), ui_locales: lang.carried(), user_code, csrf: device_entry_csrf(&browser), error };
    let mut resp = page(req, lang, status, view.render());
    if new_browser {
        state.cookies.set_browser(&mut resp, browser);
    }
    resp
}

fn confirm_page(req: &HttpRequest, pending: &PendingDevice, cookie: &str, signed_in: &SignedIn) -> HttpResponse {
    let client = &pending.client;
    let lang = Lang::of(req);
    back_to(req, page_for(&pending.user_code));
    let t = lang.t();
    let view = DeviceConfirmPage {
        t,
        ui_locales: lang.carried(),
        client_name: client.name.clone(),
        client_uri: https_only(&client.metadata.client_uri),
        logo_uri: https_only(&client.metadata.logo_uri),
        policy_uri: https_only(&client.metadata.policy_uri),
        tos_uri: https_only(&client.metadata.tos_uri),
        scopes: pending
            .scope
            .iter()
            .map(|s| ScopeLine { name: s.to_owned(), description: describe_scope(t, s) })
            .collect(),
        offline: pending.scope.contains(Scope::OFFLINE_ACCESS),
        username: signed_in.user.username.as_str().to_owned(),
        user_code: pending.user_code.as_str().to_owned(),
        user_code_shown: pending.user_code.display(),
        csrf: device_approval_csrf(cookie),
    };
    page(req, lang, StatusCode::OK, view.render())
}

/// The approval page's answer: recorded, then the page that says what happens next; in the language the form
/// `carried`, else the device's.
async fn answer(req: &HttpRequest, state: &AppState, f: &Params, carried: Option<Locale>) -> HttpResponse {
    let (cookie, signed_in) = match super::account::current(req, state).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let d = &Lang::of(req).t().device;
            return message_page(req, StatusCode::BAD_REQUEST, d.signed_out, d.signed_out_text);
        }
        Err(resp) => return resp,
    };
    if !f.get("csrf").is_some_and(|t| device_approval_csrf_matches(&cookie, t)) {
        tracing::warn!(event = "csrf_token_mismatch", "device approval without a valid CSRF token");
        return forbidden(req);
    }
    let Some(code) = f.get("user_code").and_then(|c| UserCode::parse(c).ok()) else {
        return entry_form(req, state, String::new(), StatusCode::BAD_REQUEST, not_found(req));
    };
    // Found again: it may have expired, or been answered in another tab, while the page was open. Through the code
    // entry's limit, as any code typed: an answer posted with a guessed code is a guess too.
    let pending = match find(req, state, &code, &code.display(), carried).await {
        Ok(pending) => pending,
        Err(resp) => return resp,
    };
    let now = crate::domain::now();
    let approve = f.get("decision") == Some("allow");
    let meta = request_meta(req, state);
    match state.provider.answer_device(&pending, &signed_in, approve, &meta, now).await {
        Ok(DeviceAnswer::TooLate) => entry_form(req, state, String::new(), StatusCode::OK, not_found(req)),
        Ok(answer) => {
            let lang = Lang::of(req);
            // A one-time result: its switcher leads to the verification page itself (the entry form), which
            // the user may need for another device; the answered code finds nothing any more.
            back_to(req, paths::DEVICE.to_owned());
            let approved = answer == DeviceAnswer::Approved;
            let view = DeviceDonePage { t: lang.t(), approved, client_name: pending.client.name };
            page(req, lang, StatusCode::OK, view.render())
        }
        Err(e) => error_page(req, &e),
    }
}
