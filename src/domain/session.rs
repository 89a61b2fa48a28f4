//! Browser sessions: who signed in, when, how, and from where.
use crate::domain::{UnixTime, UserId};
use std::net::IpAddr;

/// A signed-in browser. The cookie carries a random id; only its hash (`id_hash`) is stored, and it doubles
/// as the public session id (`sid` claim), since the hash reveals nothing about the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value, base64url.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// When the user last authenticated (`auth_time`).
    pub auth_time: UnixTime,
    /// Authentication methods used (`amr`), e.g. `pwd`.
    pub amr: Vec<String>,
    /// When the session was created.
    pub created_at: UnixTime,
    /// When the browser last used it: its creation, or a later request that acted on it for the user (recorded
    /// at most once a minute, so up to a minute old).
    pub last_used_at: UnixTime,
    /// When it ends regardless of activity.
    pub expires_at: UnixTime,
    /// Ended by logout or revocation.
    pub revoked: bool,
    /// Where the sign-in came from, so that the user can tell their sessions apart.
    pub device: Device,
}

impl Session {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        !self.revoked && now < self.expires_at
    }
}

/// Where a session was started from, as far as the request said. Sessions stored before this was recorded,
/// and requests without the headers, have neither part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The client IP (behind `http.trusted_proxies`, the address they forwarded).
    pub ip: Option<IpAddr>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<UserAgent>,
}

/// A `User-Agent` as kept with a session: at most [`UserAgent::MAX_LEN`] bytes of text, with no control
/// characters (Postgres refuses NUL in text, and none has a place on a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent(String);

impl UserAgent {
    /// The most bytes kept: more than any real browser sends, little enough for a row per session.
    pub const MAX_LEN: usize = 512;

    /// The header's bytes, decoded lossily (a header value need not be UTF-8) and cut at a character boundary
    /// within [`Self::MAX_LEN`]; `None` when nothing printable is left.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        Self::from_text(&String::from_utf8_lossy(value))
    }

    /// Text as stored, bounded and cleaned like a header's.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut kept = String::with_capacity(text.len().min(Self::MAX_LEN));
        for c in text.chars().filter(|c| !c.is_control()) {
            if kept.len() + c.len_utf8() > Self::MAX_LEN {
                break;
            }
            kept.push(c);
        }
        let kept = kept.trim();
        (!kept.is_empty()).then(|| Self(kept.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Device {
    /// The browser and system in a few words ("Firefox on Linux"), from the `User-Agent`; "Unknown device" for a
    /// session stored before user agents were kept. The account page and the admin API show this.
    pub fn describe(&self) -> String {
        match self.browser_and_system() {
            None => "Unknown device".into(),
            Some((Some(browser), Some(system))) => format!("{browser} on {system}"),
            Some((Some(browser), None)) => browser.into(),
            Some((None, Some(system))) => format!("Unknown browser on {system}"),
            Some((None, None)) => "Unknown browser".into(),
        }
    }

    /// The browser's and the system's names as [`Device::describe`] tells them, for pages that put them in words
    /// of their own language; `None` for a session stored before user agents were kept.
    pub fn browser_and_system(&self) -> Option<(Option<&'static str>, Option<&'static str>)> {
        self.user_agent.as_ref().map(|ua| browser_and_system(ua.as_str()))
    }
}

/// The browser and system a `User-Agent` names, if it names them ([`Device::describe`]). The tests are ordered:
/// Edge's and Opera's user agents also name Chrome, Chrome's names Safari, and Android's and iOS's name Linux and
/// Mac OS X.
fn browser_and_system(ua: &str) -> (Option<&'static str>, Option<&'static str>) {
    let has = |needle: &str| ua.contains(needle);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") || has("Edge/") {
        Some("Edge")
    } else if has("OPR/") || has("OPiOS/") || has("Opera") {
        Some("Opera")
    } else if has("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("HeadlessChrome/") {
        Some("Headless Chrome")
    } else if has("Chromium/") {
        Some("Chromium")
    } else if has("Chrome/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Macintosh") || has("Mac OS X") {
        Some("macOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    (browser, system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_bounded_at_a_character_boundary() {
        let short = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(UserAgent::from_header(short.as_bytes()).unwrap().as_str(), short);
        let long = format!("{}é", "a".repeat(UserAgent::MAX_LEN - 1));
        assert_eq!(UserAgent::from_text(&long).unwrap().as_str(), "a".repeat(UserAgent::MAX_LEN - 1));
        let wide = "é".repeat(UserAgent::MAX_LEN);
        assert_eq!(UserAgent::from_text(&wide).unwrap().as_str().len(), UserAgent::MAX_LEN);
    }

    #[test]
    fn a_user_agent_that_is_not_text_is_kept_lossily_without_control_characters() {
        assert_eq!(UserAgent::from_header(b"Agent/\xff1.0").unwrap().as_str(), "Agent/\u{fffd}1.0");
        assert_eq!(UserAgent::from_header(b"Agent\0/1\t.0\x7f").unwrap().as_str(), "Agent/1.0");
        for nothing in [&b""[..], b"   ", b"\0\x01"] {
            assert_eq!(UserAgent::from_header(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn devices_are_described_by_browser_and_system() {
        for (ua, words) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on ChromeOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPad",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome on iPhone",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
                "Firefox on iPhone",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
                "Edge on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
                "Samsung Internet on Android",
            ),
            // Debian's chromium, headless, as the browser tests drive it.
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Headless Chrome on Linux",
            ),
            ("curl/8.11.1", "Unknown browser"),
            ("Mozilla/5.0 (X11; Linux x86_64) SomethingNew/1.0", "Unknown browser on Linux"),
            ("MyApp/2.0", "Unknown browser"),
        ] {
            let device = Device { ip: None, user_agent: UserAgent::from_header(ua.as_bytes()) };
            assert_eq!(device.describe(), words, "{ua}");
        }
        assert_eq!(Device::default().describe(), "Unknown device");
    }
}
