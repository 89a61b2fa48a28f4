//! Cookies: the session cookie of DESIGN.md §6 and the browser-binding cookie of pending sign-ins.
//! `__Host-` and `Secure` over https; without them on plain-http localhost, where browsers would drop them.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

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
        req.cookie(self.session_name()).map(|c| c.value().to_owned())
    }

    /// The browser-binding cookie's value, if sent.
    pub fn read_browser(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.browser_name()).map(|c| c.value().to_owned())
    }
}
