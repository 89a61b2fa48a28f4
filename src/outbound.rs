//! Requests Tessera makes to other servers: fetching the JWK Sets of `private_key_jwt` clients from their
//! `jwks_uri`, and posting logout tokens to clients' `backchannel_logout_uri`. Every request has a deadline
//! (and a fetch a response size limit), follows no redirects and speaks http(s) only, so a client's
//! registration cannot make the server hang, fill memory, or wander; for clients that anyone could register,
//! it connects to public addresses only.
use crate::oauth::backchannel::{DeliveryError, LogoutSender};
use crate::oauth::client_keys::{is_internal_address, FetchError, JwksFetcher, Reach};
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// The deadline of one outgoing request, connecting included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Two HTTP clients with the same limits: one that connects anywhere, one to public addresses only.
#[derive(Debug, Clone)]
struct Clients {
    anywhere: reqwest::Client,
    public_only: reqwest::Client,
}

impl Clients {
    fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                // A redirect would take the request somewhere the client did not register.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        };
        // The addresses are checked after resolution, so a public name that resolves to a private address
        // (or is rebound to one) is refused too. Directly: through a proxy, the check would be of the proxy.
        let public_only = builder().dns_resolver(Arc::new(PublicAddresses)).no_proxy().build()?;
        Ok(Self { anywhere: builder().build()?, public_only })
    }

    /// The client for a request to `url` within `reach`, or why there is none.
    fn for_url(&self, url: &Url, reach: Reach) -> Result<&reqwest::Client, String> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("refusing a {} URL", url.scheme()));
        }
        match reach {
            Reach::Anywhere => Ok(&self.anywhere),
            Reach::PublicOnly => {
                // An address in the URL is connected to without resolution.
                let literal = match url.host() {
                    Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                    Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                    _ => None,
                };
                if literal.is_some_and(is_internal_address) {
                    return Err(format!("refusing {url}: not a public address"));
                }
                Ok(&self.public_only)
            }
        }
    }
}

/// [`JwksFetcher`] over HTTP with `reqwest` (rustls).
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    clients: Clients,
}

impl HttpJwksFetcher {
    /// A fetcher whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self { clients: Clients::new(timeout)? })
    }
}

/// Resolves with the system resolver and keeps the public addresses; a name with none fails.
struct PublicAddresses;

impl Resolve for PublicAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| !is_internal_address(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, url: &Url, max_bytes: usize, reach: Reach) -> Result<Vec<u8>, FetchError> {
        let client = self.clients.for_url(url, reach).map_err(|e| FetchError(format!("GET: {e}")))?;
        let mut response = client
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

/// [`LogoutSender`] over HTTP with `reqwest` (rustls), with the limits of [`HttpJwksFetcher`].
#[derive(Debug, Clone)]
pub struct HttpLogoutSender {
    clients: Clients,
}

impl HttpLogoutSender {
    /// A sender whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self { clients: Clients::new(timeout)? })
    }
}

#[async_trait]
impl LogoutSender for HttpLogoutSender {
    async fn send(&self, url: &Url, logout_token: &str, reach: Reach) -> Result<(), DeliveryError> {
        let client = self.clients.for_url(url, reach).map_err(|e| DeliveryError::Refused(format!("POST: {e}")))?;
        // The errors name the URL and status only: the token stays out of the logs.
        let response = client
            .post(url.clone())
            .form(&[("logout_token", logout_token)])
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("POST {url}: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() {
            Err(DeliveryError::Transient(format!("POST {url}: status {status}")))
        } else {
            Err(DeliveryError::Refused(format!("POST {url}: status {status}")))
        }
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

    async fn fetch(fetcher: &HttpJwksFetcher, url: &Url, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        fetcher.fetch(url, max_bytes, Reach::Anywhere).await
    }

    #[tokio::test]
    async fn public_only_refuses_internal_addresses_however_named() {
        let fetcher = HttpJwksFetcher::new(Duration::from_secs(2)).unwrap();
        let url = serve_once(http("200 OK", br#"{"keys":[]}"#));
        let by_name = Url::parse(&url.as_str().replace("127.0.0.1", "localhost")).unwrap();
        for url in [&url, &by_name] {
            let refused = fetcher.fetch(url, 1024, Reach::PublicOnly).await;
            assert!(refused.is_err(), "{url} was fetched");
        }
        let mapped = Url::parse("http://[::ffff:10.0.0.1]/jwks").unwrap();
        assert!(fetcher.fetch(&mapped, 1024, Reach::PublicOnly).await.is_err());
        // The server is still there: only the public-only fetch was refused.
        assert_eq!(fetch(&fetcher, &url, 1024).await.unwrap(), br#"{"keys":[]}"#);
    }

    #[tokio::test]
    async fn fetches_within_limits_and_refuses_the_rest() {
        let fetcher = HttpJwksFetcher::new(Duration::from_secs(2)).unwrap();
        let url = serve_once(http("200 OK", br#"{"keys":[]}"#));
        assert_eq!(fetch(&fetcher, &url, 1024).await.unwrap(), br#"{"keys":[]}"#);

        let url = serve_once(http("200 OK", &[b'x'; 2048]));
        assert!(fetch(&fetcher, &url, 1024).await.is_err(), "too large");

        let url = serve_once(http("404 Not Found", b""));
        assert!(fetch(&fetcher, &url, 1024).await.is_err());

        let url =
            serve_once(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n".to_vec());
        assert!(fetch(&fetcher, &url, 1024).await.is_err(), "redirects are not followed");

        // Without Content-Length the limit still holds while reading.
        let mut chunked = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        chunked.extend_from_slice(&[b'x'; 4096]);
        let url = serve_once(chunked);
        assert!(fetch(&fetcher, &url, 1024).await.is_err());

        assert!(fetch(&fetcher, &Url::parse("file:///etc/hosts").unwrap(), 1024).await.is_err());
    }

    #[tokio::test]
    async fn logout_tokens_are_posted_as_a_form_and_failures_sorted() {
        let sender = HttpLogoutSender::new(Duration::from_secs(2)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/bc", listener.local_addr().unwrap())).unwrap();
        let received = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("logout_token=") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let _ = stream.write_all(&http("200 OK", b""));
            String::from_utf8(request).unwrap()
        });
        assert_eq!(sender.send(&url, "a.b-c", Reach::Anywhere).await, Ok(()));
        let request = received.join().unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /bc http/1.1"), "{request}");
        assert!(request.contains("content-type: application/x-www-form-urlencoded"), "{request}");
        assert!(request.ends_with("\r\n\r\nlogout_token=a.b-c"), "{request}");

        let url = serve_once(http("503 Service Unavailable", b""));
        assert!(matches!(sender.send(&url, "t", Reach::Anywhere).await, Err(DeliveryError::Transient(_))));
        let url = serve_once(http("400 Bad Request", b""));
        assert!(matches!(sender.send(&url, "t", Reach::Anywhere).await, Err(DeliveryError::Refused(_))));
        let url =
            serve_once(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n".to_vec());
        assert!(matches!(sender.send(&url, "t", Reach::Anywhere).await, Err(DeliveryError::Refused(_))));
        let url = serve_once(http("200 OK", b""));
        let refused = sender.send(&url, "t", Reach::PublicOnly).await;
        assert!(matches!(refused, Err(DeliveryError::Refused(_))), "loopback for a stranger's client: {refused:?}");
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = Url::parse(&format!("http://{closed}/bc")).unwrap();
        assert!(matches!(sender.send(&url, "t", Reach::Anywhere).await, Err(DeliveryError::Transient(_))));
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/jwks", listener.local_addr().unwrap())).unwrap();
        let fetcher = HttpJwksFetcher::new(Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        assert!(fetch(&fetcher, &url, 1024).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
    }
}
