//! The language of a page ([`Lang`]), chosen per request, the first that says one:
//! 1. the user's choice from the language switcher: `lang` in a page's query (a form field for the steps of a
//!    sign-in whose pages are forms, [`Lang::choose`]), Keycloak's `kc_locale`; the handler keeps it with the
//!    pending sign-in, and the page remembers it in the [`COOKIE`];
//! 2. the sign-in's own (its authorization request's `ui_locales`, or the user's choice made during it, kept with
//!    the pending interaction: [`Lang::of_sign_in`]), or a page link's `ui_locales` (a device's
//!    `verification_uri_complete`, a mailed link);
//! 3. the [`COOKIE`] of an earlier choice;
//! 4. the browser's `Accept-Language`;
//! 5. `ui.default_locale`.
//!
//! Only pages and the mails they cause choose one: the protocol endpoints never look. Every page lists the
//! languages (the switcher, [`switcher`]) as links to itself with `lang`: choosing one changes presentation
//! only, so a plain link (no CSRF token) is enough, and the page's forms and their tokens stay as they were.
use super::AppState;
use crate::i18n::{Locale, Texts};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponseBuilder};
use askama::Template;

/// The query parameter (or, on the pages of a sign-in's steps, the form field) of the user's choice.
pub use crate::i18n::CHOICE_PARAM as CHOICE;
/// The cookie that remembers the user's choice outside a sign-in (Keycloak's `KEYCLOAK_LOCALE`).
pub const COOKIE: &str = "tessera_locale";
/// The hidden field in which the device pages' forms (and their sign-in's) carry the flow's language to the page
/// answering them, as `verification_uri_complete`'s `ui_locales` carries the device's to a `GET`: nothing on the
/// server keeps it ([`Lang::carried`], [`Lang::of_flow_form`]).
pub const FLOW_FIELD: &str = "ui_locales";
/// Where in `base.html` the switcher goes: [`switcher`] puts it there when the page is rendered.
const SWITCHER_SLOT: &str = "<!--languages-->";

/// Which requests' headers the language depended on (`Vary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Varies {
    /// Neither: the query, the sign-in or the page's link said it.
    Not,
    /// The cookie said it.
    Cookie,
    /// The browser's `Accept-Language`, in the cookie's absence.
    Browser,
}

/// The language of the page a request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang {
    /// The language.
    pub locale: Locale,
    varies: Varies,
    /// Chosen by the user in this request: the response remembers it ([`COOKIE`]), `Secure` when the issuer is
    /// https (`Some(true)`).
    remember: Option<bool>,
}

impl Lang {
    /// The language of this request's pages: the user's choice, else the sign-in's if one was kept for it
    /// ([`Lang::of_sign_in`]), else the page link's `ui_locales`, else the cookie's, else the browser's, else the
    /// configured default. Chosen once per request.
    pub fn of(req: &HttpRequest) -> Lang {
        if let Some(chosen) = req.extensions().get::<Lang>().copied() {
            return chosen;
        }
        let chosen = negotiate(req);
        req.extensions_mut().insert(chosen);
        chosen
    }

    /// The language the user chose with the switcher in this request, if any: the query's `lang` of a page (`GET`
    /// or `HEAD`), or one [`Lang::choose`] took from a form.
    pub fn choice(req: &HttpRequest) -> Option<Locale> {
        if let Some(chosen) = req.extensions().get::<Lang>().filter(|l| l.remember.is_some()) {
            return Some(chosen.locale);
        }
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return None;
        }
        query_value(req, CHOICE).and_then(|tag| Locale::of_tag(&tag))
    }

    /// Takes `locale` as the user's choice for this request (a form's `lang`, on pages whose state only a form
    /// carries).
    pub fn choose(req: &HttpRequest, locale: Locale) -> Lang {
        let chosen = Lang { locale, varies: Varies::Not, remember: Some(secure(req)) };
        req.extensions_mut().insert(chosen);
        chosen
    }

    /// Keeps the sign-in's language (`locale`: its `ui_locales`, or the user's choice made during it) for the rest
    /// of this request, before [`Lang::of`] would ask the cookie or the browser. The user's choice in this
    /// request comes first: the caller keeps it with the sign-in.
    pub fn of_sign_in(req: &HttpRequest, locale: Option<Locale>) -> Lang {
        if let Some(chosen) = Lang::choice(req) {
            let chosen = Lang { locale: chosen, varies: Varies::Not, remember: Some(secure(req)) };
            req.extensions_mut().insert(chosen);
            return chosen;
        }
        match locale {
            Some(locale) => {
                let chosen = Lang { locale, varies: Varies::Not, remember: None };
                req.extensions_mut().insert(chosen);
                chosen
            }
            None => Lang::of(req),
        }
    }

    /// The language a page's form carries on ([`FLOW_FIELD`]): this one unless the cookie or the browser said it
    /// (then the answer asks them again).
    pub fn carried(self) -> Option<&'static str> {
        (self.varies == Varies::Not).then(|| self.locale.tag())
    }

    /// The language a posted form carried ([`FLOW_FIELD`]), kept for the rest of this request as a sign-in's is.
    pub fn of_flow_form(req: &HttpRequest, form: &crate::oauth::params::Params) -> Option<Locale> {
        let carried = form.get(FLOW_FIELD).and_then(Locale::of_ui_locales)?;
        Lang::of_sign_in(req, Some(carried));
        Some(carried)
    }

    /// Every sentence in this language.
    pub fn t(self) -> &'static Texts {
        self.locale.texts()
    }

    /// `Content-Language`; `Vary: Cookie` when the cookie was looked at, with `Accept-Language` when the
    /// browser's header was too; and the cookie that remembers a choice made in this request.
    pub fn add_headers(self, b: &mut HttpResponseBuilder) {
        b.insert_header((header::CONTENT_LANGUAGE, HeaderValue::from_static(self.locale.tag())));
        match self.varies {
            Varies::Not => {}
            Varies::Cookie => {
                b.insert_header((header::VARY, HeaderValue::from_static("Cookie")));
            }
            Varies::Browser => {
                b.insert_header((header::VARY, HeaderValue::from_static("Accept-Language, Cookie")));
            }
        }
        if let Some(secure) = self.remember {
            b.cookie(remembered(self.locale, secure));
        }
    }
}

/// The cookie that remembers `locale`: not secret, so readable by scripts; `SameSite=Lax` as our others, and for a
/// year.
fn remembered(locale: Locale, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, locale.tag())
        .path("/")
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// Whether cookies are `Secure` here: the issuer is https.
fn secure(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AppState>>().is_some_and(|s| s.issuer_origin.starts_with("https:"))
}

/// The first value of `name` in the request's query, if the query can be read.
fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The language of a request whose sign-in (if any) said none: the user's choice, a page link's `ui_locales`, the
/// cookie, the browser's `Accept-Language` (every line of it), else the configured default.
fn negotiate(req: &HttpRequest) -> Lang {
    if let Some(locale) = Lang::choice(req) {
        return Lang { locale, varies: Varies::Not, remember: Some(secure(req)) };
    }
    let page = matches!(*req.method(), Method::GET | Method::HEAD);
    if let Some(locale) = query_value(req, "ui_locales").filter(|_| page).and_then(|v| Locale::of_ui_locales(&v)) {
        return Lang { locale, varies: Varies::Not, remember: None };
    }
    if let Some(locale) = super::cookies::sent(req, COOKIE).and_then(|v| Locale::of_tag(&v)) {
        return Lang { locale, varies: Varies::Cookie, remember: None };
    }
    let lines: Vec<&str> =
        req.headers().get_all(header::ACCEPT_LANGUAGE).map(|v| v.to_str().unwrap_or("\u{0}")).collect();
    // Several lines are one list (RFC 9110 §5.3); one that is not text makes the header malformed, hence ignored.
    let asked = match lines.as_slice() {
        [] => None,
        [line] => Locale::of_accept_language(line),
        more => Locale::of_accept_language(&more.join(",")),
    };
    let default = || req.app_data::<web::Data<AppState>>().map_or(Locale::En, |s| s.settings.ui.default_locale);
    Lang { locale: asked.unwrap_or_else(default), varies: Varies::Browser, remember: None }
}

/// Where a page answering a form (`POST`) is found again by a link, for its switcher: set by the handler
/// ([`back_to`]). A page answering `GET` is its own.
#[derive(Debug, Clone)]
struct BackTo(String);

/// Says that the page this `POST` is answered with is found again at `path_and_query` (`GET`): its switcher links
/// there. Without it, a page answering a form has no switcher (one of its own, if its template has one).
pub fn back_to(req: &HttpRequest, path_and_query: String) {
    req.extensions_mut().insert(BackTo(path_and_query));
}

/// `location` (one of our pages, with a query), and the language the user chose in this request if any: for a
/// page that only sends the browser on (`303`), so that the choice its switcher made is not lost on the way.
pub fn keeping_choice(req: &HttpRequest, location: &str) -> String {
    match Lang::choice(req) {
        Some(chosen) => {
            let sep = if location.contains('?') { '&' } else { '?' };
            format!("{location}{sep}{CHOICE}={}", chosen.tag())
        }
        None => location.to_owned(),
    }
}

/// A link of the switcher.
struct Choice {
    href: String,
    tag: &'static str,
    name: &'static str,
    current: bool,
}

/// The language switcher: links to this page in each language.
#[derive(Template)]
#[template(path = "languages.html")]
struct Switcher<'a> {
    t: &'static Texts,
    choices: &'a [Choice],
}

/// The page's own link with `lang=` each language, or `None` when it has none: a `POST` without [`back_to`].
fn links(req: &HttpRequest, current: Locale, refused: bool) -> Option<Vec<Choice>> {
    let target = match *req.method() {
        // A refused request's query is whatever was sent (a manipulated `redirect_uri`, say): the page never
        // shows it again, not even inside its own links.
        Method::GET | Method::HEAD if refused => req.path().to_owned(),
        Method::GET | Method::HEAD => format!("{}?{}", req.path(), req.query_string()),
        _ => req.extensions().get::<BackTo>()?.0.clone(),
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != CHOICE)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Some(
        Locale::ALL
            .into_iter()
            .map(|l| {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.extend_pairs(&kept).append_pair(CHOICE, l.tag());
                Choice { href: format!("{path}?{}", q.finish()), tag: l.tag(), name: l.name(), current: l == current }
            })
            .collect(),
    )
}

/// `html` with the switcher in its slot (`base.html`'s), for `lang`: links when the page has one
/// ([`back_to`]), else nothing.
pub fn switcher(req: &HttpRequest, lang: Lang, status: StatusCode, html: String) -> Result<String, askama::Error> {
    if !html.contains(SWITCHER_SLOT) {
        return Ok(html);
    }
    let refused = status.is_client_error() || status.is_server_error();
    let nav = match links(req, lang.locale, refused) {
        Some(choices) => Switcher { t: lang.t(), choices: &choices }.render()?,
        None => String::new(),
    };
    Ok(html.replacen(SWITCHER_SLOT, &nav, 1))
}

#[cfg(test)]
mod tests {
    use super::{links, switcher, Lang};
    use crate::i18n::Locale;
    use actix_web::http::{header, Method, StatusCode};
    use actix_web::test::TestRequest;
    use actix_web::HttpResponse;

    fn headers(lang: Lang) -> (String, Option<String>, Option<String>) {
        let mut b = HttpResponse::Ok();
        lang.add_headers(&mut b);
        let resp = b.finish();
        let value = |name| resp.headers().get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned());
        (value(header::CONTENT_LANGUAGE).unwrap(), value(header::VARY), value(header::SET_COOKIE))
    }

    #[test]
    fn the_browser_chooses_unless_the_sign_in_did() {
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "fr-CH, de;q=0.5")).to_http_request();
        assert_eq!(Lang::of(&req).locale, Locale::Fr);
        assert_eq!(headers(Lang::of(&req)), ("fr".into(), Some("Accept-Language, Cookie".into()), None));
        // The sign-in's choice holds for the rest of the request, without Vary.
        assert_eq!(Lang::of_sign_in(&req, Some(Locale::De)).locale, Locale::De);
        assert_eq!(headers(Lang::of(&req)), ("de".into(), None, None));
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "fr")).to_http_request();
        assert_eq!(Lang::of_sign_in(&req, None).locale, Locale::Fr);
    }

    #[test]
    fn the_users_choice_then_the_sign_in_then_a_link_then_the_cookie_then_the_browser() {
        let asked = |uri: &str, cookie: Option<&str>| {
            let mut req = TestRequest::get().uri(uri).insert_header((header::ACCEPT_LANGUAGE, "fr"));
            if let Some(c) = cookie {
                req = req.insert_header((header::COOKIE, c));
            }
            req.to_http_request()
        };
        let req = asked("/login?interaction=x&lang=DE-at", Some("tessera_locale=en"));
        assert_eq!(Lang::of_sign_in(&req, Some(Locale::En)).locale, Locale::De);
        let (_, vary, cookie) = headers(Lang::of(&req));
        assert_eq!(vary, None);
        let cookie = cookie.unwrap();
        assert!(cookie.starts_with("tessera_locale=de;") && cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/") && !cookie.contains("Secure") && !cookie.contains("HttpOnly"), "{cookie}");
        let req = asked("/login?interaction=x&lang=es", Some("tessera_locale=en"));
        assert_eq!(Lang::of_sign_in(&req, Some(Locale::De)).locale, Locale::De);
        let req = asked("/device?ui_locales=de", Some("tessera_locale=en"));
        assert_eq!(headers(Lang::of(&req)), ("de".into(), None, None));
        let req = asked("/device", Some("other=1; tessera_locale=en"));
        assert_eq!(headers(Lang::of(&req)), ("en".into(), Some("Cookie".into()), None));
        let req = asked("/device", Some("tessera_locale=xx"));
        assert_eq!(Lang::of(&req).locale, Locale::Fr);
        // A form's `lang` is a choice only where a handler takes it ([`Lang::choose`]).
        let req = TestRequest::post().uri("/login/code?lang=de").to_http_request();
        assert_eq!(Lang::choice(&req), None);
        Lang::choose(&req, Locale::De);
        assert_eq!(Lang::choice(&req), Some(Locale::De));
    }

    #[test]
    fn the_switcher_links_to_the_page_itself_in_each_language() {
        let req = TestRequest::get().uri("/login?interaction=a%26b&lang=fr&x=%3Cy%3E").to_http_request();
        let hrefs: Vec<String> = links(&req, Locale::Fr, false).unwrap().into_iter().map(|c| c.href).collect();
        assert_eq!(
            hrefs,
            [
                "/login?interaction=a%26b&x=%3Cy%3E&lang=en",
                "/login?interaction=a%26b&x=%3Cy%3E&lang=de",
                "/login?interaction=a%26b&x=%3Cy%3E&lang=fr"
            ]
        );
        // A refused request's page links to its path alone: the query it was sent is not shown again.
        let req = TestRequest::get().uri("/authorize?redirect_uri=https%3A%2F%2Fevil.example%2F").to_http_request();
        let hrefs: Vec<String> = links(&req, Locale::En, true).unwrap().into_iter().map(|c| c.href).collect();
        assert_eq!(hrefs, ["/authorize?lang=en", "/authorize?lang=de", "/authorize?lang=fr"]);
        // A form's answer has links only where its handler named its page.
        let req = TestRequest::default().method(Method::POST).uri("/login").to_http_request();
        assert!(links(&req, Locale::En, false).is_none());
        let html = "<main></main><!--languages-->".to_owned();
        assert_eq!(switcher(&req, Lang::of(&req), StatusCode::OK, html).unwrap(), "<main></main>");
        super::back_to(&req, "/account".into());
        let html = switcher(&req, Lang::of(&req), StatusCode::OK, "<!--languages-->".into()).unwrap();
        assert!(html.contains("<nav class=\"languages\" aria-label=\"Language\">"), "{html}");
        assert!(html.contains("<a href=\"/account?lang=de\" hreflang=\"de\" lang=\"de\">Deutsch</a>"), "{html}");
    }

    #[test]
    fn header_lines_are_one_list_and_garbage_is_the_default() {
        let req = TestRequest::default()
            .append_header((header::ACCEPT_LANGUAGE, "es"))
            .append_header((header::ACCEPT_LANGUAGE, "de;q=0.4"))
            .to_http_request();
        assert_eq!(Lang::of(&req).locale, Locale::De);
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "de;q=x")).to_http_request();
        assert_eq!(headers(Lang::of(&req)).0, "en");
        assert_eq!(Lang::of(&TestRequest::default().to_http_request()).locale, Locale::En);
    }
}
