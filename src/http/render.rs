//! Rendering protocol outcomes: JSON errors for back-channel endpoints (RFC 6749 §5.2, RFC 6750 §3),
//! HTML pages with strict security headers, and authorization responses by redirect or form post.
use super::lang::Lang;
use super::views::{ErrorPage, FormPostPage, Link};
use crate::i18n::Texts;
use crate::oauth::authorize::ResponseMode;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::frontchannel::LogoutFrames;
use crate::oauth::interaction::AuthorizationResponse;
use crate::oauth::params::Params;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use serde_json::json;

/// CSP for our pages: nothing but our own static files, and requests to our own origin (the passkey script
/// fetches a ceremony's options); never framed (clickjacking).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; \
                            connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The request id tracing-actix-web gave this request.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<tracing_actix_web::RequestId>().map(|id| id.to_string()).unwrap_or_default()
}

use actix_web::HttpMessage;

/// Adds the headers every HTML page carries.
pub fn page_headers(b: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

/// Renders the signed-out page, which frames `frames` (front-channel logout): the page's CSP with `frame-src`
/// for exactly their origins, on this answer only. With no frames, any page. A frame's origin never holds
/// characters that would break the header: `Url` serializes it ASCII, without spaces or `;`.
pub fn framing_page(
    req: &HttpRequest,
    lang: Lang,
    status: StatusCode,
    body: Result<String, askama::Error>,
    frames: &LogoutFrames,
) -> HttpResponse {
    let mut resp = page(req, lang, status, body);
    if !frames.is_empty() && resp.status() == status {
        let csp = format!("{PAGE_CSP}; frame-src {}", frames.origins().join(" "));
        match header::HeaderValue::from_str(&csp) {
            Ok(value) => {
                resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
            Err(e) => tracing::error!(error = %e, "the front-channel logout frames' CSP is not a header value"),
        }
    }
    resp
}

/// Renders a page in `lang` with `status`, with the language switcher for `req` ([`super::lang::switcher`]).
pub fn page(req: &HttpRequest, lang: Lang, status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body.and_then(|html| super::lang::switcher(req, lang, status, html)) {
        Ok(html) => {
            let mut b = HttpResponse::build(status);
            lang.add_headers(page_headers(&mut b));
            b.body(html)
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The HTML error page for an authorization error we must not redirect.
pub fn error_page(req: &HttpRequest, e: &OAuthError) -> HttpResponse {
    let lang = Lang::of(req);
    refusal_page(req, lang, e, lang.t().error.sign_in_refused)
}

/// The HTML error page for a logout request (`/logout`) that cannot be carried out.
pub fn sign_out_error_page(req: &HttpRequest, e: &OAuthError) -> HttpResponse {
    let lang = Lang::of(req);
    refusal_page(req, lang, e, lang.t().error.sign_out_refused)
}

/// An error page titled `refused` when the request was refused, or after the failure otherwise. The OAuth
/// description is for the application's developer, in English as everywhere: the page says it as such, after a
/// sentence for the user in their language.
fn refusal_page(req: &HttpRequest, lang: Lang, e: &OAuthError, refused: &str) -> HttpResponse {
    log_error(e);
    let t = lang.t();
    let (status, title, message) = match e.code {
        ErrorCode::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, t.error.server, t.error.try_later),
        ErrorCode::TemporarilyUnavailable => (StatusCode::SERVICE_UNAVAILABLE, t.error.unavailable, t.error.try_later),
        _ => (StatusCode::BAD_REQUEST, refused, t.error.refused_text),
    };
    let body = ErrorPage {
        t,
        title: title.into(),
        message: message.into(),
        detail: Some(e.description.clone()),
        code: Some(e.code.as_str().into()),
        link: None,
        request_id: request_id(req),
    }
    .render();
    page(req, lang, status, body)
}

/// "30 seconds", "2 minutes": how long to wait, in words of `t`.
pub fn wait_words(t: &Texts, secs: i64) -> String {
    match secs {
        ..=1 => t.common.one_second.to_owned(),
        2..=90 => t.common.seconds.with(secs),
        _ => t.common.minutes.with((secs + 59) / 60),
    }
}

/// A page for a failure that is not an OAuth error (expired link, bad form).
pub fn message_page(req: &HttpRequest, status: StatusCode, title: &str, message: &str) -> HttpResponse {
    message_page_with(req, status, title, message, None)
}

/// [`message_page`] with a link to the page to go on from.
pub fn message_page_with(
    req: &HttpRequest,
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<Link>,
) -> HttpResponse {
    let lang = Lang::of(req);
    let body = ErrorPage {
        t: lang.t(),
        title: title.into(),
        message: message.into(),
        detail: None,
        code: None,
        link,
        request_id: request_id(req),
    }
    .render();
    page(req, lang, status, body)
}

fn log_error(e: &OAuthError) {
    match e.code {
        ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => tracing::error!(error = ?e, "request failed"),
        _ => tracing::info!(error = %e, "request refused"),
    }
}

/// RFC 6749 §5.2 JSON error; `invalid_client` is 401 with `WWW-Authenticate` naming the client's scheme.
pub fn json_error(e: &OAuthError) -> HttpResponse {
    log_error(e);
    let status = match e.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache"));
    if e.code == ErrorCode::InvalidClient {
        b.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"tessera\""));
    }
    b.json(json!({ "error": e.code.as_str(), "error_description": e.client_description() }))
}

/// RFC 6750 §3 error for a protected resource (userinfo, admin API).
pub fn bearer_error(e: &OAuthError) -> HttpResponse {
    resource_error(e, "Bearer realm=\"tessera\"")
}

/// An error at a resource endpoint for a token presented with the `DPoP` scheme, or a bad proof (RFC 9449 §7.1):
/// as [`bearer_error`], with a `DPoP` challenge that names the algorithms proofs may use.
pub fn dpop_error(e: &OAuthError) -> HttpResponse {
    resource_error(e, &format!("DPoP algs=\"{}\"", crate::oauth::dpop::SIGNING_ALGS.join(" ")))
}

/// The error answer of a protected resource, its `WWW-Authenticate` challenge being `scheme` (with its own
/// parameters) followed by the error's.
fn resource_error(e: &OAuthError, scheme: &str) -> HttpResponse {
    log_error(e);
    let status = match e.code {
        ErrorCode::InvalidToken | ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let description = e.client_description();
    let challenge = format!("{scheme}, error=\"{}\", error_description=\"{description}\"", e.code.as_str());
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": e.code.as_str(), "error_description": description }))
}

/// RFC 6750 §3.1: a request without any credentials gets a bare challenge and no error code.
pub fn bearer_challenge() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A 303 to one of our own pages (`location` is a path with its query), never cached.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Answers a POST that arrived without the session cookie with a 303 to the same request as a GET at `path`,
/// its parameters in the query. The cookie is SameSite=Lax, so browsers leave it off a POST from another
/// site, but send it on the top-level GET navigation a 303 makes: the GET sees the session the POST could
/// not. The GET never sends the browser back to the POST, so this cannot loop.
pub fn repeat_as_get(path: &str, params: &Params) -> HttpResponse {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
    see_other(&format!("{path}?{query}"))
}

/// Delivers an authorization response: a 303 redirect with the parameters in the query, or a form post (in the
/// sign-in's language).
pub fn authorization_response(req: &HttpRequest, r: AuthorizationResponse) -> HttpResponse {
    match r.mode {
        ResponseMode::Query => {
            let mut url = r.redirect_uri.url().clone();
            url.query_pairs_mut().extend_pairs(r.params.iter());
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::REFERRER_POLICY, "no-referrer"))
                .finish()
        }
        ResponseMode::FormPost => {
            let lang = Lang::of_sign_in(req, r.ui_locale);
            let view = FormPostPage { t: lang.t(), action: r.redirect_uri.as_str().to_owned(), fields: r.params };
            page(req, lang, StatusCode::OK, view.render())
        }
    }
}
