//! What the login and consent pages share: finding the pending request and checking that a form really
//! comes from our page (CSRF token bound to the interaction and the browser, and the Origin header).
use super::lang::Lang;
use super::render::{error_page, json_error, message_page_with};
use super::views::Link;
use super::AppState;
use crate::i18n::Texts;
use crate::oauth::discovery::paths;
use crate::oauth::error::OAuthError;
use crate::oauth::interaction::Interaction;
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

/// Why a posted sign-in or account form was refused before anything was done. The forms answer with a page
/// ([`FormRefusal::page`]); the passkey options endpoints, which `static/passkeys.js` fetches, with the same words
/// as JSON ([`FormRefusal::json`]), which the script shows.
#[derive(Debug)]
pub enum FormRefusal {
    /// The pending sign-in is gone (expired, finished, or another browser's).
    Expired,
    /// A `return` that names nothing we continue to.
    InvalidLink,
    /// The browser sent none of our cookies.
    CookiesBlocked,
    /// Not from our own page: another origin, or no valid CSRF token.
    Forbidden,
    /// An account form from a page served to an earlier session of this browser.
    OutOfDate,
    /// An account form without a session that signs the user in (signed out, ended, idle).
    SignedOut,
    /// The form could not be read, or the store could not tell.
    Failed(OAuthError),
}

impl FormRefusal {
    /// The page's title and sentence, in the words of `t`. A failure is answered with the error page instead (its
    /// words are its OAuth error's), so it has none of its own here.
    fn words(&self, t: &'static Texts) -> (&'static str, &'static str) {
        let e = &t.error;
        match self {
            Self::Expired | Self::Failed(_) => (e.expired, e.expired_text),
            Self::InvalidLink => (e.invalid_link, e.invalid_link_text),
            Self::CookiesBlocked => (e.cookies_blocked, e.cookies_blocked_text),
            Self::Forbidden => (e.forbidden, e.forbidden_text),
            Self::OutOfDate => (e.out_of_date, e.out_of_date_text),
            Self::SignedOut => (e.signed_out, e.signed_out_text),
        }
    }

    /// The answer to the form itself: a page (for an account form without a session, the sign-in that returns to
    /// the account page).
    pub fn page(self, req: &HttpRequest) -> HttpResponse {
        let t = Lang::of(req).t();
        let account = Some(Link { href: paths::ACCOUNT, text: t.common.go_to_account });
        let (status, link) = match self {
            Self::Failed(e) => return error_page(req, &e),
            Self::SignedOut => return super::account::to_login(req),
            Self::Expired | Self::CookiesBlocked => (StatusCode::BAD_REQUEST, None),
            Self::InvalidLink => (StatusCode::BAD_REQUEST, account),
            Self::Forbidden => (StatusCode::FORBIDDEN, None),
            Self::OutOfDate => (StatusCode::FORBIDDEN, account),
        };
        let (title, sentence) = self.words(t);
        message_page_with(req, status, title, sentence, link)
    }

    /// The answer to a script's request: `{"error", "error_description"}` (the page's words, which the script
    /// shows) with the page's status; an account form without a session is 403 `login_required` (a redirect to the
    /// sign-in page would be followed by `fetch`, which would then read a page).
    pub fn json(self, req: &HttpRequest) -> HttpResponse {
        let (status, error) = match &self {
            Self::Failed(e) => return json_error(e),
            Self::Expired => (StatusCode::BAD_REQUEST, "sign_in_expired"),
            Self::InvalidLink => (StatusCode::BAD_REQUEST, "invalid_link"),
            Self::CookiesBlocked => (StatusCode::BAD_REQUEST, "cookies_blocked"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::OutOfDate => (StatusCode::FORBIDDEN, "page_out_of_date"),
            Self::SignedOut => (StatusCode::FORBIDDEN, "login_required"),
        };
        let (title, sentence) = self.words(Lang::of(req).t());
        let body = json!({ "error": error, "error_description": format!("{title}. {sentence}") });
        super::account_passkeys::json_answer(status, &body)
    }
}

/// The page shown when the interaction is gone (expired, finished, or another browser's).
pub fn expired(req: &HttpRequest) -> HttpResponse {
    FormRefusal::Expired.page(req)
}

/// The page shown for a sign-in link whose `return` names nothing we continue to (mistyped, cut short, or made
/// up): no waiting or retrying makes it work, so it is not called expired.
pub fn invalid_link(req: &HttpRequest) -> HttpResponse {
    FormRefusal::InvalidLink.page(req)
}

/// The page shown when the browser sent none of our cookies: it blocks them, so no sign-in can work until it
/// allows them (saying "expired" would send the user round the same loop).
pub fn cookies_blocked(req: &HttpRequest) -> HttpResponse {
    FormRefusal::CookiesBlocked.page(req)
}

/// Loads the interaction named by `id` for this browser, or the page to show instead.
// The error is the response to send, built once per request; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub async fn load(
    req: &HttpRequest,
    state: &AppState,
    id: Option<&str>,
) -> Result<(String, Interaction), HttpResponse> {
    find(req, state, id).await.map_err(|r| r.page(req))
}

/// Finds the interaction named by `id` for this browser, or why not.
pub async fn find(req: &HttpRequest, state: &AppState, id: Option<&str>) -> Result<(String, Interaction), FormRefusal> {
    let Some(id) = id else { return Err(FormRefusal::Expired) };
    // `/authorize` set the browser-binding cookie before sending the browser here: none at all means the
    // browser refuses cookies, a different one that the link is another browser's or gone.
    let Some(browser) = state.cookies.read_browser(req) else { return Err(FormRefusal::CookiesBlocked) };
    match state.provider.load_interaction(id, &browser).await {
        Ok(Some(mut i)) => {
            // The user's choice from the switcher is the sign-in's from now on; a failure to keep it costs the
            // later pages their language only.
            if let Some(chosen) = Lang::choice(req).filter(|c| i.request.ui_locale != Some(*c)) {
                i.request.ui_locale = Some(chosen);
                if let Err(e) = state.provider.keep_interaction_locale(id, &i).await {
                    tracing::warn!(error = %e, "could not keep the language chosen for a sign-in");
                }
            }
            // Every page of this sign-in, refusals included, speaks the language its request asked for.
            Lang::of_sign_in(req, i.request.ui_locale);
            Ok((id.to_owned(), i))
        }
        Ok(None) => Err(FormRefusal::Expired),
        Err(e) => Err(FormRefusal::Failed(e)),
    }
}

/// The page for a form that did not come from our own page (another origin, or no valid CSRF token).
pub fn forbidden(req: &HttpRequest) -> HttpResponse {
    FormRefusal::Forbidden.page(req)
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
pub fn check_form(
    req: &HttpRequest,
    state: &AppState,
    interaction: &Interaction,
    form: &Params,
) -> Result<(), FormRefusal> {
    if from_another_origin(req, state) {
        tracing::warn!(event = "csrf_origin_mismatch", "form posted from another origin");
        return Err(FormRefusal::Forbidden);
    }
    match form.get("csrf") {
        Some(t) if Provider::csrf_matches(interaction, t) => Ok(()),
        _ => {
            tracing::warn!(event = "csrf_token_mismatch", "form posted without a valid CSRF token");
            Err(FormRefusal::Forbidden)
        }
    }
}
