//! Requests Tessera makes to other servers: today only fetching the JWK Sets of `private_key_jwt` clients
//! from their `jwks_uri`. Every request has a deadline and a response size limit, follows no redirects and
//! speaks http(s) only, so a client's registration cannot make the server hang, fill memory, or wander.
use crate::oauth::client_keys::{FetchError, JwksFetcher};
use async_trait::async_trait;
use reqwest::header;
use std::time::Duration;
use url::Url;

/// The deadline of one outgoing request, connecting included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// [`JwksFetcher`] over HTTP with `reqwest` (rustls).
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    client: reqwest::Client,
}

impl HttpJwksFetcher {
    /// A fetcher whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would take the request somewhere the client did not register.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, url: &Url, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(FetchError(format!("refusing to fetch a {} URL", url.scheme())));
        }
        let mut response = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| FetchError(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(FetchError(format!("GET {url}: status {}", response.status())));
        }
        if response.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(FetchError(format!("GET {url}: the response is larger than {max_bytes} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| FetchError(format!("GET {url}: {e}")))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError(format!("GET {url}: the response is larger than {max_bytes} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `response` (raw HTTP) once on a loopback port.
    fn serve_once(response: Vec<u8>) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(&response);
            }
        });
        Url::parse(&format!("http://127.0.0.1:{port}/jwks")).unwrap()
    }

    fn http(status: &str, body: &[u8]) -> Vec<u8> {
        let mut r =
            format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
        r.extend_from_slice(body);
        r
    }

    #[tokio::test]
    async fn fetches_within_limits_and_refuses_the_rest() {
        let fetcher = HttpJwksFetcher::new(Duration::from_secs(2)).unwrap();
        let url = serve_once(http("200 OK", br#"{"keys":[]}"#));
        assert_eq!(fetcher.fetch(&url, 1024).await.unwrap(), br#"{"keys":[]}"#);

        let url = serve_once(http("200 OK", &[b'x'; 2048]));
        assert!(fetcher.fetch(&url, 1024).await.is_err(), "too large");

        let url = serve_once(http("404 Not Found", b""));
        assert!(fetcher.fetch(&url, 1024).await.is_err());

        let url =
            serve_once(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n".to_vec());
        assert!(fetcher.fetch(&url, 1024).await.is_err(), "redirects are not followed");

        // Without Content-Length the limit still holds while reading.
        let mut chunked = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        chunked.extend_from_slice(&[b'x'; 4096]);
        let url = serve_once(chunked);
        assert!(fetcher.fetch(&url, 1024).await.is_err());

        assert!(fetcher.fetch(&Url::parse("file:///etc/hosts").unwrap(), 1024).await.is_err());
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/jwks", listener.local_addr().unwrap())).unwrap();
        let fetcher = HttpJwksFetcher::new(Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        assert!(fetcher.fetch(&url, 1024).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
    }
}
