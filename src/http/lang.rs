//! The language of a page ([`Lang`]), chosen per request: the sign-in's own choice (`ui_locales` of its
//! authorization request, kept with the pending interaction: [`Lang::of_sign_in`]), else the browser's
//! `Accept-Language`, else `ui.default_locale`. Only pages and the mails they cause choose one: the protocol
//! endpoints never look.
use super::AppState;
use crate::i18n::{Locale, Texts};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponseBuilder};

/// The language of the page a request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang {
    /// The language.
    pub locale: Locale,
    /// Whether `Accept-Language` was looked at, so that the answer varies with it (`Vary`).
    negotiated: bool,
}

impl Lang {
    /// The language of this request's pages: the sign-in's if one was kept for it ([`Lang::of_sign_in`]), else the
    /// browser's, else the configured default. Chosen once per request.
    pub fn of(req: &HttpRequest) -> Lang {
        if let Some(chosen) = req.extensions().get::<Lang>().copied() {
            return chosen;
        }
        let chosen = negotiate(req);
        req.extensions_mut().insert(chosen);
        chosen
    }

    /// Keeps `ui_locales`' language (`locale`, when the sign-in asked for one of ours) for the rest of this
    /// request, before [`Lang::of`] would ask the browser; the language of the request otherwise.
    pub fn of_sign_in(req: &HttpRequest, locale: Option<Locale>) -> Lang {
        match locale {
            Some(locale) => {
                let chosen = Lang { locale, negotiated: false };
                req.extensions_mut().insert(chosen);
                chosen
            }
            None => Lang::of(req),
        }
    }

    /// Every sentence in this language.
    pub fn t(self) -> &'static Texts {
        self.locale.texts()
    }

    /// `Content-Language`, and `Vary: Accept-Language` when the browser's header was asked.
    pub fn add_headers(self, b: &mut HttpResponseBuilder) {
        b.insert_header((header::CONTENT_LANGUAGE, HeaderValue::from_static(self.locale.tag())));
        if self.negotiated {
            b.insert_header((header::VARY, HeaderValue::from_static("Accept-Language")));
        }
    }
}

/// The browser's language among ours (`Accept-Language`, every line of it), else the configured default.
fn negotiate(req: &HttpRequest) -> Lang {
    let lines: Vec<&str> =
        req.headers().get_all(header::ACCEPT_LANGUAGE).map(|v| v.to_str().unwrap_or("\u{0}")).collect();
    // Several lines are one list (RFC 9110 §5.3); one that is not text makes the header malformed, hence ignored.
    let asked = match lines.as_slice() {
        [] => None,
        [line] => Locale::of_accept_language(line),
        more => Locale::of_accept_language(&more.join(",")),
    };
    let default = || req.app_data::<web::Data<AppState>>().map_or(Locale::En, |s| s.settings.ui.default_locale);
    Lang { locale: asked.unwrap_or_else(default), negotiated: true }
}

#[cfg(test)]
mod tests {
    use super::Lang;
    use crate::i18n::Locale;
    use actix_web::http::header;
    use actix_web::test::TestRequest;
    use actix_web::HttpResponse;

    fn headers(lang: Lang) -> (String, Option<String>) {
        let mut b = HttpResponse::Ok();
        lang.add_headers(&mut b);
        let resp = b.finish();
        let value = |name| resp.headers().get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned());
        (value(header::CONTENT_LANGUAGE).unwrap(), value(header::VARY))
    }

    #[test]
    fn the_browser_chooses_unless_the_sign_in_did() {
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "fr-CH, de;q=0.5")).to_http_request();
        assert_eq!(Lang::of(&req).locale, Locale::Fr);
        assert_eq!(headers(Lang::of(&req)), ("fr".into(), Some("Accept-Language".into())));
        // The sign-in's choice holds for the rest of the request, without Vary.
        assert_eq!(Lang::of_sign_in(&req, Some(Locale::De)).locale, Locale::De);
        assert_eq!(headers(Lang::of(&req)), ("de".into(), None));
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "fr")).to_http_request();
        assert_eq!(Lang::of_sign_in(&req, None).locale, Locale::Fr);
    }

    #[test]
    fn header_lines_are_one_list_and_garbage_is_the_default() {
        let req = TestRequest::default()
            .append_header((header::ACCEPT_LANGUAGE, "es"))
            .append_header((header::ACCEPT_LANGUAGE, "de;q=0.4"))
            .to_http_request();
        assert_eq!(Lang::of(&req).locale, Locale::De);
        let req = TestRequest::default().insert_header((header::ACCEPT_LANGUAGE, "de;q=x")).to_http_request();
        assert_eq!(headers(Lang::of(&req)), ("en".into(), Some("Accept-Language".into())));
        assert_eq!(Lang::of(&TestRequest::default().to_http_request()).locale, Locale::En);
    }
}
