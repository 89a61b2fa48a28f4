//! Redirect URIs (RFC 6749 §3.1.2, RFC 8252 for native apps) and how a requested one matches a registered one.
use std::fmt;
use url::{Host, Url};

/// Why a redirect URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    /// Not an absolute URI.
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    /// RFC 6749 §3.1.2: must not include a fragment.
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// Longer than the limit.
    #[error("redirect URI is longer than {0} characters")]
    TooLong(usize),
    /// Plain http to a host other than loopback.
    #[error("redirect URI must use https, or http on a loopback address")]
    InsecureHttp,
    /// Wildcards are never matched.
    #[error("redirect URI must not contain wildcards")]
    Wildcard,
    /// Credentials in the authority.
    #[error("redirect URI must not contain user information")]
    UserInfo,
    /// A scheme that can run code in the browser.
    #[error("redirect URI scheme is not allowed")]
    DangerousScheme,
}

/// Longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// A parsed, absolute redirect URI without fragment, with the text it was parsed from: URIs are matched on
/// that text, byte for byte (RFC 6749 §3.1.2.3 and §4.1.3), since parsing normalizes (`http://localhost:3000`
/// becomes `http://localhost:3000/`, hosts are lower-cased).
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUri {
    url: Url,
    text: String,
}

impl RedirectUri {
    /// Parses a redirect URI as registered or requested.
    pub fn parse(s: &str) -> Result<Self, RedirectUriError> {
        if s.len() > MAX_REDIRECT_URI_LEN {
            return Err(RedirectUriError::TooLong(MAX_REDIRECT_URI_LEN));
        }
        if s.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        if s.contains('*') {
            return Err(RedirectUriError::Wildcard);
        }
        let url = Url::parse(s).map_err(|_| RedirectUriError::NotAbsolute)?;
        if matches!(url.scheme(), "javascript" | "data" | "vbscript" | "file" | "blob" | "about") {
            return Err(RedirectUriError::DangerousScheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo);
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(RedirectUriError::InsecureHttp);
        }
        Ok(Self { url, text: s.to_owned() })
    }

    /// The URI as a `Url`, to append response parameters to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URI as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the scheme is neither http nor https: a private-use scheme (RFC 8252 §7.1), which only an app
    /// on the user's device receives.
    pub fn has_private_use_scheme(&self) -> bool {
        !matches!(self.url.scheme(), "http" | "https")
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `::1`), whatever the scheme.
    pub fn has_loopback_host(&self) -> bool {
        is_loopback(&self.url)
    }

    /// Whether this (registered) URI accepts `requested`: the same text, by simple string comparison (RFC 6749
    /// §3.1.2.3, RFC 9700 §2.1), except that a registered loopback `http` URI accepts any port (RFC 8252 §7.3),
    /// since native apps pick a free port at run time.
    pub fn accepts(&self, requested: &RedirectUri) -> bool {
        if self.text == requested.text {
            return true;
        }
        let loopback_http = |u: &RedirectUri| u.url.scheme() == "http" && is_loopback(&u.url);
        loopback_http(self)
            && loopback_http(requested)
            && without_port(&self.text).is_some_and(|a| without_port(&requested.text) == Some(a))
    }
}

/// The text of an `http://` URI without the scheme and the port: what must match exactly for a loopback URI.
fn without_port(text: &str) -> Option<String> {
    let rest = text.strip_prefix("http://")?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host = match authority.rfind(':') {
        // The last colon of `[::1]` is inside the brackets: no port.
        Some(at) if !authority[at..].contains(']') => {
            let port = &authority[at + 1..];
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            &authority[..at]
        }
        _ => authority,
    };
    Some(format!("{host}{tail}"))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        // RFC 8252 §8.3 discourages `localhost`, but development setups use it everywhere.
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({:?})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RedirectUri {
        RedirectUri::parse(s).unwrap()
    }

    #[test]
    fn refuses_unsafe_uris() {
        assert_eq!(RedirectUri::parse("https://a.example/cb#x"), Err(RedirectUriError::Fragment));
        assert_eq!(RedirectUri::parse("http://a.example/cb"), Err(RedirectUriError::InsecureHttp));
        assert_eq!(RedirectUri::parse("/cb"), Err(RedirectUriError::NotAbsolute));
        assert_eq!(RedirectUri::parse("https://*.example/cb"), Err(RedirectUriError::Wildcard));
        assert_eq!(RedirectUri::parse("javascript:alert(1)"), Err(RedirectUriError::DangerousScheme));
        assert_eq!(RedirectUri::parse("https://u:p@a.example/cb"), Err(RedirectUriError::UserInfo));
        assert!(RedirectUri::parse("com.example.app:/oauth2redirect").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1/cb").is_ok());
        assert!(RedirectUri::parse("http://[::1]:8000/cb").is_ok());
    }

    #[test]
    fn matches_exactly() {
        let reg = r("https://app.example/cb");
        assert!(reg.accepts(&r("https://app.example/cb")));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/cbx",
            "https://app.example/cb/../cb2",
            "https://app.example:8443/cb",
            "https://app.example.evil/cb",
            "https://evil.example/cb",
        ] {
            assert!(!reg.accepts(&r(bad)), "{bad}");
        }
    }

    #[test]
    fn loopback_accepts_any_port_but_same_path_and_host() {
        let reg = r("http://127.0.0.1/callback");
        assert!(reg.accepts(&r("http://127.0.0.1:51234/callback")));
        assert!(!reg.accepts(&r("http://127.0.0.1:51234/other")));
        assert!(!reg.accepts(&r("http://[::1]:51234/callback")));
        assert!(!r("https://app.example/cb").accepts(&r("https://app.example:1/cb")));
    }

    #[test]
    fn keeps_the_text_it_was_given_and_matches_it_exactly() {
        let bare = r("http://localhost:3000");
        assert_eq!(bare.as_str(), "http://localhost:3000");
        assert_eq!(bare.url().as_str(), "http://localhost:3000/");
        assert!(bare.accepts(&r("http://localhost:3000")));
        assert!(bare.accepts(&r("http://localhost:4000")));
        // What parsing would make equal is still another string.
        assert!(!r("http://localhost:3000/").accepts(&bare));
        assert!(!r("https://app.example/cb").accepts(&r("https://App.Example:443/cb")));
        let reg = r("http://127.0.0.1:3000/cb");
        for bad in ["HTTP://127.0.0.1:3000/cb", "http://127.0.0.1:3000/./cb", "http://127.0.0.1:3000/x/../cb"] {
            assert!(!reg.accepts(&r(bad)), "{bad}");
        }
        assert!(!reg.accepts(&r("http://127.0.0.1:3000\\cb")));
        assert!(r("http://[::1]/cb").accepts(&r("http://[::1]:8000/cb")));
        assert!(!r("http://[::1]/cb").accepts(&r("http://[0:0:0:0:0:0:0:1]:8000/cb")));
    }
}
