//! What the login and consent pages share: finding the pending request and checking that a form really
//! comes from our page (CSRF token bound to the interaction and the browser, and the Origin header).
use super::render::message_page;
use super::AppState;
use crate::oauth::interaction::Interaction;
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// The page shown when the interaction is gone (expired, finished, or another browser's).
pub fn expired(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "Go back to the application and start signing in again.",
    )
}

/// Loads the interaction named by `id` for this browser, or the page to show instead.
// The error is the response to send, built once per request; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub async fn load(req: &HttpRequest, state: &AppState, id: Option<&str>) -> Result<(String, Interaction), HttpResponse> {
    let Some(id) = id else { return Err(expired(req)) };
    let browser = state.cookies.read_browser(req);
    match state.provider.load_interaction(id, browser.as_deref()).await {
        Ok(Some(i)) => Ok((id.to_owned(), i)),
        Ok(None) => Err(expired(req)),
        Err(e) => Err(super::render::error_page(req, &e)),
    }
}

/// Checks a POSTed form: same-origin `Origin` (when the browser sends one) and the interaction's CSRF token.
#[allow(clippy::result_large_err)]
pub fn check_form(req: &HttpRequest, state: &AppState, interaction: &Interaction, form: &Params) -> Result<(), HttpResponse> {
    let forbidden = || {
        message_page(
            req,
            StatusCode::FORBIDDEN,
            "This form cannot be accepted",
            "The form did not come from this site. Go back to the application and try again.",
        )
    };
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let expected = state.issuer_origin.as_str();
        if origin.to_str().ok() != Some(expected) {
            tracing::warn!(event = "csrf_origin_mismatch", "form posted from another origin");
            return Err(forbidden());
        }
    }
    match form.get("csrf") {
        Some(t) if Provider::csrf_matches(interaction, t) => Ok(()),
        _ => {
            tracing::warn!(event = "csrf_token_mismatch", "form posted without a valid CSRF token");
            Err(forbidden())
        }
    }
}
