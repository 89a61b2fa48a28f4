//! What the login and consent pages share: finding the pending request and checking that a form really
//! comes from our page (CSRF token bound to the interaction and the browser, and the Origin header).
use super::render::{message_page, message_page_with};
use super::views::Link;
use super::AppState;
use crate::oauth::discovery::paths;
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

/// The page shown for a sign-in link whose `return` names nothing we continue to (mistyped, cut short, or made
/// up): no waiting or retrying makes it work, so it is not called expired.
pub fn invalid_link(req: &HttpRequest) -> HttpResponse {
    message_page_with(
        req,
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        "The link does not lead anywhere on this site. Go back to the application and start signing in again, \
         or go to your account page.",
        Some(Link { href: paths::ACCOUNT, text: "Go to your account page" }),
    )
}

/// The page shown when the browser sent none of our cookies: it blocks them, so no sign-in can work until it
/// allows them (saying "expired" would send the user round the same loop).
pub fn cookies_blocked(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::BAD_REQUEST,
        "Cookies are needed to sign in",
        "Your browser did not send the cookie this site set. Make sure cookies are enabled for this site in your \
         browser, then go back to the application and start signing in again.",
    )
}

/// Loads the interaction named by `id` for this browser, or the page to show instead.
// The error is the response to send, built once per request; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub async fn load(
    req: &HttpRequest,
    state: &AppState,
    id: Option<&str>,
) -> Result<(String, Interaction), HttpResponse> {
    let Some(id) = id else { return Err(expired(req)) };
    // `/authorize` set the browser-binding cookie before sending the browser here: none at all means the
    // browser refuses cookies, a different one that the link is another browser's or gone.
    let Some(browser) = state.cookies.read_browser(req) else { return Err(cookies_blocked(req)) };
    match state.provider.load_interaction(id, &browser).await {
        Ok(Some(i)) => Ok((id.to_owned(), i)),
        Ok(None) => Err(expired(req)),
        Err(e) => Err(super::render::error_page(req, &e)),
    }
}

/// The page for a form that did not come from our own page (another origin, or no valid CSRF token).
pub fn forbidden(req: &HttpRequest) -> HttpResponse {
    message_page(
        req,
        StatusCode::FORBIDDEN,
        "This form cannot be accepted",
        "The form did not come from this site. Go back to the application and try again.",
    )
}

/// Where a request to one of our forms says it came from, by `Origin` and `Sec-Fetch-Site`.
#[derive(PartialEq, Eq)]
enum FormOrigin {
    /// Another origin, by either header.
    Another,
    /// Our own: `Sec-Fetch-Site: same-origin`, or our origin as `Origin`, and neither says otherwise.
    Ours,
    /// Neither header says (a client that is not a browser, or an old one).
    Unsaid,
}

fn form_origin(req: &HttpRequest, state: &AppState) -> FormOrigin {
    // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even for same-origin posts, so
    // `null` proves nothing either way; `Sec-Fetch-Site` still tells where a modern browser's post came from.
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null");
    let fetch_site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| o != state.issuer_origin) || fetch_site.is_some_and(|s| s != "same-origin") {
        FormOrigin::Another
    } else if origin.is_some() || fetch_site.is_some() {
        FormOrigin::Ours
    } else {
        FormOrigin::Unsaid
    }
}

/// Whether a request to one of our forms came from another origin (`Origin`, `Sec-Fetch-Site`).
pub fn from_another_origin(req: &HttpRequest, state: &AppState) -> bool {
    form_origin(req, state) == FormOrigin::Another
}

/// Whether a request to one of our forms says it came from our own origin; one that says nothing proves
/// nothing.
pub fn from_our_origin(req: &HttpRequest, state: &AppState) -> bool {
    form_origin(req, state) == FormOrigin::Ours
}

/// Checks a POSTed form: not cross-origin (`Origin`, `Sec-Fetch-Site`) and the interaction's CSRF token.
#[allow(clippy::result_large_err)]
pub fn check_form(
    req: &HttpRequest,
    state: &AppState,
    interaction: &Interaction,
    form: &Params,
) -> Result<(), HttpResponse> {
    let forbidden = || forbidden(req);
    if from_another_origin(req, state) {
        tracing::warn!(event = "csrf_origin_mismatch", "form posted from another origin");
        return Err(forbidden());
    }
    match form.get("csrf") {
        Some(t) if Provider::csrf_matches(interaction, t) => Ok(()),
        _ => {
            tracing::warn!(event = "csrf_token_mismatch", "form posted without a valid CSRF token");
            Err(forbidden())
        }
    }
}
