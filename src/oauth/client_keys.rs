//! The public keys a `private_key_jwt` client signs its assertions with: a JWK Set registered inline
//! (`jwks`) or published at the client's `jwks_uri`. Remote sets are fetched through [`JwksFetcher`] (the
//! HTTP implementation is [`crate::outbound::HttpJwksFetcher`]) and kept in the cache for a few minutes,
//! keyed by client id; an unknown `kid` triggers one early refetch, throttled per client so that forged
//! assertions cannot make us hammer the client's server.
use super::cache_keys;
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::Client;
use async_trait::async_trait;
use josekit::jwk::{Jwk, JwkSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use url::Url;

/// Most keys one client's JWK Set may hold.
pub const MAX_KEYS: usize = 32;
/// Largest JWK Set document fetched from a `jwks_uri`, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long a fetched JWK Set is used before it is fetched again.
pub const JWKS_CACHE_TTL: Duration = Duration::from_secs(300);
/// Shortest time between two early refetches (on an unknown `kid`) of one client's JWK Set.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Largest RSA modulus accepted, in bytes (8192 bits): bigger keys only cost verification time.
const MAX_RSA_MODULUS_BYTES: usize = 1024;

/// Members that only private (or symmetric) keys have (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK Set was refused. The message is safe to show to the client's operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksError(String);

/// A client's public keys: a JWK Set with RSA and EC public keys only (no private or symmetric key), at
/// most [`MAX_KEYS`] of them, at least one usable for RS256 or ES256.
#[derive(Debug, Clone)]
pub struct ClientJwks(JwkSet);

impl ClientJwks {
    /// Checks a JWK Set given as JSON.
    pub fn parse(value: &Value) -> Result<Self, JwksError> {
        let bad = |m: &str| JwksError(m.to_owned());
        let Value::Object(map) = value else { return Err(bad("a JWK Set must be a JSON object")) };
        let keys = map.get("keys").and_then(Value::as_array).ok_or_else(|| bad("a JWK Set needs a \"keys\" array"))?;
        if keys.is_empty() {
            return Err(bad("the JWK Set has no keys"));
        }
        if keys.len() > MAX_KEYS {
            return Err(JwksError(format!("the JWK Set has more than {MAX_KEYS} keys")));
        }
        for (i, key) in keys.iter().enumerate() {
            check_public_key(key).map_err(|e| JwksError(format!("key {i}: {e}")))?;
        }
        let set = JwkSet::from_map(map.clone()).map_err(|e| JwksError(format!("not a valid JWK Set: {e}")))?;
        let jwks = Self(set);
        if !jwks.0.keys().into_iter().any(usable) {
            return Err(bad("the JWK Set has no key usable for RS256 or ES256 signatures"));
        }
        Ok(jwks)
    }

    /// Checks a JWK Set given as a JSON document.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, JwksError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| JwksError(format!("the JWK Set is not JSON: {e}")))?;
        Self::parse(&value)
    }

    /// The keys that may have signed a JWS with `kid` (every key when the JWS names none).
    pub fn candidates(&self, kid: Option<&str>) -> Vec<&Jwk> {
        match kid {
            Some(kid) => self.0.get(kid),
            None => self.0.keys(),
        }
    }
}

fn check_public_key(key: &Value) -> Result<(), String> {
    let Value::Object(map) = key else { return Err("a JWK must be a JSON object".into()) };
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| map.contains_key(**m)) {
        return Err(format!(
            "private or symmetric key material (\"{m}\") is not allowed; register the public key only"
        ));
    }
    match map.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let n = map.get("n").and_then(Value::as_str).ok_or("an RSA key needs \"n\"")?;
            if n.len() > MAX_RSA_MODULUS_BYTES * 4 / 3 + 4 {
                return Err("the RSA key is larger than 8192 bits".into());
            }
            Ok(())
        }
        Some("EC") => Ok(()),
        Some(other) => {
            Err(format!("unsupported key type {:?} (RSA or EC)", other.chars().take(16).collect::<String>()))
        }
        None => Err("a JWK needs \"kty\"".into()),
    }
}

/// Whether a key can verify RS256 or ES256 signatures (right type, curve, size, `use`, `key_ops`, `alg`).
fn usable(key: &Jwk) -> bool {
    josekit::jws::RS256.verifier_from_jwk(key).is_ok() || josekit::jws::ES256.verifier_from_jwk(key).is_ok()
}

/// Why a `jwks_uri` could not be fetched. For the logs: it may name hosts and addresses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Where a fetch may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Any address: the client was set up by an operator.
    Anywhere,
    /// Public addresses only ([`is_internal_address`] refused), whatever the host name resolves to: the
    /// client was registered by anyone (RFC 7591), who must not make the server reach into its network.
    PublicOnly,
}

/// Fetches JWK Set documents from clients' `jwks_uri`.
#[async_trait]
pub trait JwksFetcher: Send + Sync {
    /// GETs `url` (http or https) at an address `reach` allows and returns the body of a successful
    /// response, refusing bodies larger than `max_bytes`. Implementations bound the time it may take.
    async fn fetch(&self, url: &Url, max_bytes: usize, reach: Reach) -> Result<Vec<u8>, FetchError>;
}

/// Whether `ip` is this machine, a private network or an address no public host has (IANA's special-purpose
/// registries): loopback, private, link-local, carrier-grade NAT, benchmarking, reserved, multicast, unique
/// local, unspecified. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address,
/// since a translator would reach it; Teredo and local-use NAT64 are refused whole.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_internal_v4(embedded(s[6], s[7])); // 64:ff9b::/96, NAT64
            }
            if s[0] == 0x2002 {
                return is_internal_v4(embedded(s[1], s[2])); // 2002::/16, 6to4
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || s[..6] == [0; 6] // ::/96, IPv4-compatible (deprecated)
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // 64:ff9b:1::/48, local-use NAT64
                || (s[0] == 0x2001 && s[1] == 0) // 2001::/32, Teredo
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10, link local
                || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, site local (deprecated)
                || (s[0] & 0xff00) == 0xff00 // ff00::/8, multicast
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || a == 0 // 0.0.0.0/8, "this network"
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24, IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15, benchmarking
        || a >= 224 // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, broadcast
}

/// A `jwks_uri` must be an absolute http(s) URL without credentials or fragment.
pub fn parse_jwks_uri(raw: &str) -> Result<Url, JwksError> {
    let url = Url::parse(raw).map_err(|_| JwksError("jwks_uri must be an absolute URL".into()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(JwksError("jwks_uri must be an http or https URL".into()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(JwksError("jwks_uri needs a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(JwksError("jwks_uri must not contain credentials".into()));
    }
    if url.fragment().is_some() {
        return Err(JwksError("jwks_uri must not contain a fragment".into()));
    }
    Ok(url)
}

/// A fetched JWK Set as cached: the URL it came from, so a changed `jwks_uri` is not served stale.
#[derive(Serialize, Deserialize)]
struct CachedJwks {
    uri: String,
    jwks: String,
}

/// A client's keys and whether asking again might give different ones.
pub(crate) struct LoadedKeys {
    /// The keys.
    pub keys: ClientJwks,
    /// True for keys from the cache of a `jwks_uri`: a refetch may find a key they lack.
    pub may_refresh: bool,
}

fn no_keys(detail: impl std::fmt::Display) -> OAuthError {
    let mut e = OAuthError::invalid_client("the client's registered keys could not be used");
    e.detail = Some(detail.to_string());
    e
}

impl Provider {
    /// The keys `client` registered: its inline `jwks`, else the set at its `jwks_uri` (from the cache
    /// unless `refetch`).
    pub(crate) async fn client_keys(&self, client: &Client, refetch: bool) -> Result<LoadedKeys, OAuthError> {
        if let Some(inline) = &client.metadata.jwks {
            let keys = ClientJwks::parse(inline).map_err(no_keys)?;
            return Ok(LoadedKeys { keys, may_refresh: false });
        }
        let Some(raw) = &client.metadata.jwks_uri else {
            return Err(OAuthError::invalid_client("the client has no registered keys (jwks or jwks_uri)"));
        };
        let url = parse_jwks_uri(raw).map_err(no_keys)?;
        let key = cache_keys::client_jwks(client.id.as_str());
        if !refetch {
            match self.cache.get(&key).await {
                Ok(Some(bytes)) => {
                    let cached = serde_json::from_slice::<CachedJwks>(&bytes).ok().filter(|c| c.uri == url.as_str());
                    if let Some(keys) = cached.and_then(|c| ClientJwks::from_slice(c.jwks.as_bytes()).ok()) {
                        return Ok(LoadedKeys { keys, may_refresh: true });
                    }
                }
                Ok(None) => {}
                // The cache only saves fetches: without it, fetch.
                Err(e) => tracing::warn!(error = %e, "client JWKS cache unavailable"),
            }
        }
        // A dynamically registered client still has its registration access token.
        let reach = match self.registrations.registration_token_hash(&client.id).await? {
            Some(_) => Reach::PublicOnly,
            None => Reach::Anywhere,
        };
        let body = self.jwks_fetcher.fetch(&url, MAX_JWKS_BYTES, reach).await.map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "fetching the client's jwks_uri failed");
            let mut err = OAuthError::invalid_client("the client's jwks_uri could not be fetched");
            err.detail = Some(e.0);
            err
        })?;
        let keys = ClientJwks::from_slice(&body).map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "the client's jwks_uri serves no valid JWK Set");
            no_keys(e)
        })?;
        let cached = CachedJwks { uri: url.to_string(), jwks: String::from_utf8_lossy(&body).into_owned() };
        match serde_json::to_vec(&cached) {
            Ok(bytes) => {
                if let Err(e) = self.cache.set(&key, &bytes, JWKS_CACHE_TTL).await {
                    tracing::warn!(error = %e, "could not cache a client JWKS");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not serialize a client JWKS"),
        }
        Ok(LoadedKeys { keys, may_refresh: false })
    }

    /// Whether an early refetch of `client`'s JWK Set is allowed now (at most one per
    /// [`JWKS_REFETCH_INTERVAL`] per client, across instances).
    pub(crate) async fn may_refetch_client_keys(&self, client: &Client) -> bool {
        let key = cache_keys::client_jwks_refetch(client.id.as_str());
        match self.cache.set_if_absent(&key, b"1", JWKS_REFETCH_INTERVAL).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "cache unavailable; not refetching a client JWKS");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn special_purpose_addresses_are_internal_and_public_ones_are_not() {
        let internal = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::8.8.8.8",
            "2002:a00:1::",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ];
        for ip in internal {
            assert!(is_internal_address(ip.parse().unwrap()), "{ip} is internal");
        }
        let public = ["8.8.8.8", "1.1.1.1", "198.20.0.1", "2606:4700::1111", "64:ff9b::8.8.8.8", "2002:808:808::1"];
        for ip in public {
            assert!(!is_internal_address(ip.parse().unwrap()), "{ip} is public");
        }
    }

    fn rsa_public() -> Value {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let mut jwk = pair.to_jwk_public_key();
        jwk.set_key_id("r1");
        serde_json::to_value(&jwk).unwrap()
    }

    #[test]
    fn public_rsa_and_ec_keys_are_accepted() {
        let ec = serde_json::to_value(josekit::jws::ES256.generate_key_pair().unwrap().to_jwk_public_key()).unwrap();
        let jwks = ClientJwks::parse(&json!({ "keys": [rsa_public(), ec] })).unwrap();
        assert_eq!(jwks.candidates(Some("r1")).len(), 1);
        assert_eq!(jwks.candidates(None).len(), 2);
        assert!(jwks.candidates(Some("other")).is_empty());
    }

    #[test]
    fn private_symmetric_and_odd_sets_are_refused() {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let private = serde_json::to_value(pair.to_jwk_private_key()).unwrap();
        let err = ClientJwks::parse(&json!({ "keys": [private] })).unwrap_err();
        assert!(err.to_string().contains("private"), "{err}");
        let oct = json!({ "kty": "oct", "k": "c2VjcmV0" });
        assert!(ClientJwks::parse(&json!({ "keys": [oct] })).is_err());
        assert!(ClientJwks::parse(&json!({ "keys": [] })).is_err());
        assert!(ClientJwks::parse(&json!([rsa_public()])).is_err());
        assert!(ClientJwks::parse(&json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": "AA" }] })).is_err());
        let mut enc = rsa_public();
        enc["use"] = json!("enc");
        assert!(ClientJwks::parse(&json!({ "keys": [enc] })).is_err(), "no signing key");
        let many: Vec<Value> = (0..=MAX_KEYS).map(|_| json!({ "kty": "EC" })).collect();
        assert!(ClientJwks::parse(&json!({ "keys": many })).is_err());
        assert!(ClientJwks::from_slice(b"not json").is_err());
    }

    #[test]
    fn jwks_uri_must_be_http_without_credentials() {
        assert!(parse_jwks_uri("https://client.example/jwks.json").is_ok());
        assert!(parse_jwks_uri("http://127.0.0.1:8000/jwks").is_ok());
        for bad in ["file:///etc/passwd", "ftp://x/y", "https://u:p@client.example/", "https://c.example/#f", "/jwks"] {
            assert!(parse_jwks_uri(bad).is_err(), "{bad}");
        }
    }
}
