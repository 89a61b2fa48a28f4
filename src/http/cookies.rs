//! Cookies: the session cookie of DESIGN.md §6 and the browser-binding cookie of pending sign-ins.
//! `__Host-` and `Secure` over https; without them on plain-http localhost, where browsers would drop them.
use crate::domain::secret::random_token;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// Names and attributes for one deployment.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    /// From the issuer's scheme.
    pub fn new(https: bool) -> Self {
        Self { secure: https }
    }

    /// The session cookie's name.
    pub fn session_name(&self) -> &'static str {
        if self.secure {
            "__Host-tessera"
        } else {
            "tessera"
        }
    }

    /// The browser-binding cookie's name.
    pub fn browser_name(&self) -> &'static str {
        if self.secure {
            "__Host-tessera-browser"
        } else {
            "tessera-browser"
        }
    }

    fn build(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value).path("/").http_only(true).secure(self.secure).same_site(SameSite::Lax).finish()
    }

    /// A session cookie (ends with the browser session; the server-side session has its own expiry).
    pub fn session(&self, value: String) -> Cookie<'static> {
        self.build(self.session_name(), value)
    }

    /// A browser-binding cookie.
    pub fn browser(&self, value: String) -> Cookie<'static> {
        self.build(self.browser_name(), value)
    }

    /// Removes the session cookie.
    pub fn clear_session(&self) -> Cookie<'static> {
        let mut c = self.build(self.session_name(), String::new());
        c.make_removal();
        c
    }

    /// The session cookie's value, if sent.
    pub fn read_session(&self, req: &HttpRequest) -> Option<String> {
        sent(req, self.session_name())
    }

    /// The browser-binding cookie's value, if sent.
    pub fn read_browser(&self, req: &HttpRequest) -> Option<String> {
        sent(req, self.browser_name())
    }

    /// The browser-binding value a page is bound to: the one sent, or a new one (then `true`: the response must
    /// set it, [`CookiePolicy::set_browser`]) when none was, or one too long to be ours.
    pub fn read_or_new_browser(&self, req: &HttpRequest) -> (String, bool) {
        match self.read_browser(req) {
            Some(b) if b.len() <= 64 => (b, false),
            _ => (random_token(32), true),
        }
    }

    /// Sets `value` as the browser-binding cookie on `resp`. A failure is logged: the next page sets one again.
    pub fn set_browser(&self, resp: &mut HttpResponse, value: String) {
        if let Err(e) = resp.add_cookie(&self.browser(value)) {
            tracing::error!(error = %e, "cannot set the browser cookie");
        }
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub(super) fn sent(req: &HttpRequest, name: &str) -> Option<String> {
    find(req.headers().get_all(header::COOKIE).map(|v| v.as_bytes()), name).map(str::to_owned)
}

/// The first value of the cookie `name` in `headers` (the `Cookie` header lines). Read pair by pair rather than
/// with actix-web's `req.cookie`, which gives up on every cookie when one is not UTF-8: another application's
/// cookie on the same host would sign the user out. Such pairs, and pairs without `=`, are skipped.
fn find<'a>(headers: impl Iterator<Item = &'a [u8]>, name: &str) -> Option<&'a str> {
    headers.flat_map(|line| line.split(|&b| b == b';')).find_map(|pair| {
        let at = pair.iter().position(|&b| b == b'=')?;
        let (pair_name, value) = (pair.get(..at)?, pair.get(at + 1..)?);
        if pair_name.trim_ascii() != name.as_bytes() {
            return None;
        }
        std::str::from_utf8(value.trim_ascii()).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::find;

    fn cookie<'a>(lines: &[&'a [u8]], name: &str) -> Option<&'a str> {
        find(lines.iter().copied(), name)
    }

    #[test]
    fn a_pair_that_is_not_utf8_hides_no_other() {
        assert_eq!(cookie(&[b"lang=\xe9; tessera=abc"], "tessera"), Some("abc"));
        assert_eq!(cookie(&[b"tessera=abc; lang=\xff\xfe"], "tessera"), Some("abc"));
        assert_eq!(cookie(&[b"lang=\xe9", b"tessera=abc"], "tessera"), Some("abc"));
        // A value of our own name that is not UTF-8 is skipped too; a later one counts.
        assert_eq!(cookie(&[b"tessera=\xe9; tessera=abc"], "tessera"), Some("abc"));
    }

    #[test]
    fn names_match_exactly_and_malformed_pairs_are_skipped() {
        assert_eq!(cookie(&[b" tessera = abc ;x=y"], "tessera"), Some("abc"));
        assert_eq!(cookie(&[b"tessera-browser=b; tessera=a"], "tessera"), Some("a"));
        assert_eq!(cookie(&[b"tessera-browser=b; tessera=a"], "tessera-browser"), Some("b"));
        assert_eq!(cookie(&[b"__Host-tessera=h"], "tessera"), None);
        assert_eq!(cookie(&[b"__Host-tessera=h"], "__Host-tessera"), Some("h"));
        assert_eq!(cookie(&[b"tessera; ; =x; tessera=a=b"], "tessera"), Some("a=b"));
        assert_eq!(cookie(&[b"TESSERA=a"], "tessera"), None);
        assert_eq!(cookie(&[], "tessera"), None);
    }
}
