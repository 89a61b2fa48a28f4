//! OpenID Connect Front-Channel Logout 1.0: when a session ends in the browser (the logout confirmation, the
//! account page's sign-out), the signed-out page loads each client that was issued tokens within it and
//! registered a `frontchannel_logout_uri` in a hidden frame, with `iss` and `sid` added (§2, §3), so that the
//! app, in the browser, ends its own session. The clients are those back-channel logout tells
//! ([`Provider::logout_notices`]); a client with both URIs hears of the logout both ways.
use super::backchannel::LogoutNotice;
use super::provider::Provider;
use crate::domain::client_rules::parse_frontchannel_logout_uri;
use url::Url;

/// The URL a frame loads: the client's `frontchannel_logout_uri`, its own query kept, with `iss` and `sid`
/// appended form-encoded. Both are always sent (§2 lets the OP add them to any client's URI, and then both):
/// a client that did not ask for them ignores them, and one that did never misses them.
pub fn frame_url(logout_uri: &Url, issuer: &str, sid: &str) -> Url {
    let mut url = logout_uri.clone();
    url.query_pairs_mut().append_pair("iss", issuer).append_pair("sid", sid);
    url
}

/// The frames of one signed-out page, without duplicates, in the order the clients were recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutFrames(Vec<Url>);

impl LogoutFrames {
    /// Frames loading `urls`, each once.
    pub fn new(urls: impl IntoIterator<Item = Url>) -> Self {
        let mut frames: Vec<Url> = Vec::new();
        for url in urls {
            if !frames.contains(&url) {
                frames.push(url);
            }
        }
        Self(frames)
    }

    /// The URLs to load.
    pub fn urls(&self) -> &[Url] {
        &self.0
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The origins the frames load from (`scheme://host[:port]`), sorted and each once: what the page's
    /// `frame-src` lets through, and nothing more.
    pub fn origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self.0.iter().map(|u| u.origin().ascii_serialization()).collect();
        origins.sort();
        origins.dedup();
        origins
    }
}

impl Provider {
    /// The frames for `notices` (the clients of sessions that just ended): one per client and `sid` whose
    /// client has a `frontchannel_logout_uri` now. A client that cannot be read is logged and left out: the
    /// logout has happened either way.
    pub(crate) async fn logout_frames(&self, notices: &[LogoutNotice]) -> LogoutFrames {
        let reads = notices.iter().map(|n| async move { (n, self.clients.client(&n.client_id).await) });
        let mut urls = Vec::new();
        for (notice, read) in futures_util::future::join_all(reads).await {
            let client_id = notice.client_id.as_str();
            let client = match read {
                Ok(Some(client)) => client,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(client_id, %error, "the client of a front-channel logout could not be read");
                    continue;
                }
            };
            let Some(raw) = client.metadata.frontchannel_logout_uri.as_deref() else { continue };
            match parse_frontchannel_logout_uri(raw) {
                Ok(uri) => urls.push(frame_url(&uri, &self.issuer, &notice.sid)),
                Err(error) => tracing::warn!(client_id, %error, "a stored frontchannel_logout_uri is refused"),
            }
        }
        LogoutFrames::new(urls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iss_and_sid_are_appended_encoded_and_the_query_is_kept() {
        let uri = Url::parse("https://app.example/fc?tenant=a%20b&x=1").unwrap();
        let url = frame_url(&uri, "https://id.example/realm", "s+d/=&?");
        assert_eq!(
            url.as_str(),
            "https://app.example/fc?tenant=a%20b&x=1&iss=https%3A%2F%2Fid.example%2Frealm&sid=s%2Bd%2F%3D%26%3F"
        );
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(
            pairs,
            [("tenant", "a b"), ("x", "1"), ("iss", "https://id.example/realm"), ("sid", "s+d/=&?")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let bare = frame_url(&Url::parse("http://127.0.0.1:9000/fc").unwrap(), "http://127.0.0.1:8080", "abc");
        assert_eq!(bare.as_str(), "http://127.0.0.1:9000/fc?iss=http%3A%2F%2F127.0.0.1%3A8080&sid=abc");
    }

    #[test]
    fn frames_are_kept_once_and_their_origins_listed_once() {
        let u = |s: &str| Url::parse(s).unwrap();
        let frames = LogoutFrames::new([
            u("https://b.example/fc?sid=1"),
            u("https://a.example:8443/fc?sid=1"),
            u("https://b.example/other?sid=2"),
            u("https://b.example/fc?sid=1"),
        ]);
        assert_eq!(frames.urls().len(), 3);
        assert_eq!(frames.origins(), ["https://a.example:8443", "https://b.example"]);
        assert!(LogoutFrames::default().is_empty() && LogoutFrames::default().origins().is_empty());
    }
}
