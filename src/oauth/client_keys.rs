//! The public keys a `private_key_jwt` client signs its assertions with: a JWK Set registered inline
//! (`jwks`) or published at the client's `jwks_uri`. Remote sets are fetched through [`JwksFetcher`] (the
//! HTTP implementation is [`crate::outbound::HttpJwksFetcher`]) and kept in the cache for a few minutes,
//! keyed by client id; an unknown `kid` triggers one early refetch, throttled per client so that forged
//! assertions cannot make us hammer the client's server. Either set is parsed once per instance and change
//! ([`super::key_sets`]).
use super::cache_keys;
use super::client_assertion::AssertionAlg;
use super::error::OAuthError;
use super::key_sets::KeySource;
use super::provider::Provider;
use crate::domain::{Client, ClientId};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Most keys one client's JWK Set may hold.
pub const MAX_KEYS: usize = 32;
/// Most keys an assertion without a `kid` is checked against: a client rotating its keys publishes two or
/// three that sign (previous, current, next), and each key tried is a signature verification a forged
/// assertion makes us pay for. A client with more names its key in the `kid` header.
pub const MAX_UNNAMED_CANDIDATES: usize = 4;
/// Largest JWK Set document fetched from a `jwks_uri`, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long a fetched JWK Set is used before it is fetched again.
pub const JWKS_CACHE_TTL: Duration = Duration::from_secs(300);
/// Shortest time between two early refetches (on an unknown `kid`) of one client's JWK Set.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a `jwks_uri` that could not be fetched, or served no usable set, is not tried again: otherwise each
/// request naming the client (an anonymous `/authorize` with a request object among them) would send a fetch.
pub const JWKS_FAILURE_TTL: Duration = Duration::from_secs(10);
/// How long the requests that find no set wait for the one fetch under way: longer than a fetch may take.
const JWKS_FETCH_WAIT: Duration = Duration::from_secs(6);
/// How often a waiting request looks for the set.
const JWKS_FETCH_POLL: Duration = Duration::from_millis(50);
/// Smallest RSA modulus accepted, in bytes (2048 bits, counted in whole bytes as josekit counts them).
const MIN_RSA_MODULUS_BYTES: usize = 256;
/// Largest RSA modulus accepted, in bytes (4096 bits): a verification costs the square of the size, and no
/// client needs more.
const MAX_RSA_MODULUS_BYTES: usize = 512;
/// Smallest RSA public exponent accepted: the lower bound of NIST SP 800-56B §6.2.
const MIN_RSA_EXPONENT: u64 = 65_537;
/// Largest RSA public exponent accepted, in bytes (below 2^32): a verification costs one squaring per bit of
/// the exponent, which OpenSSL only bounds for moduli over 3072 bits. Key generators use 65537 (17 bits), so
/// this costs no client anything and a verification at most twice as much as with 65537.
const MAX_RSA_EXPONENT_BYTES: usize = 4;
/// The only curve accepted: ES256's.
const EC_CURVE: &str = "P-256";

/// Members that only private (or symmetric) keys have (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK Set was refused. The message is safe to show to the client's operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksError(String);

/// A client's public keys: RSA (2048 to 4096 bits, exponent from 65537 below 2^32) and P-256 public keys only
/// (no private or symmetric key), with distinct `kid`s, at most [`MAX_KEYS`] of them, at least one usable for
/// RS256 or ES256.
#[derive(Debug, Clone)]
pub struct ClientJwks(Vec<Jwk>);

impl ClientJwks {
    /// Checks a JWK Set given as JSON: any key that breaks the rules refuses the set.
    pub fn parse(value: &Value) -> Result<Self, JwksError> {
        let mut kept = KeptKeys::default();
        for (i, key) in key_list(value)?.iter().enumerate() {
            kept.add(key).map_err(|e| JwksError(format!("key {i}: {e}")))?;
        }
        kept.into_set()
    }

    /// Reads the JWK Set stored for `client`, which may predate the rules: a key that breaks them is left out
    /// (and named in a warning by its position), so it can no longer sign the client's assertions.
    pub fn parse_stored(value: &Value, client: &ClientId) -> Result<Self, JwksError> {
        let mut kept = KeptKeys::default();
        for (i, key) in key_list(value)?.iter().enumerate() {
            if let Err(e) = kept.add(key) {
                tracing::warn!(
                    client_id = %client,
                    key = i,
                    reason = %e,
                    "a stored key of the client breaks the key rules and is not used"
                );
            }
        }
        kept.into_set()
    }

    /// Checks a JWK Set given as a JSON document.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, JwksError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| JwksError(format!("the JWK Set is not JSON: {e}")))?;
        Self::parse(&value)
    }

    /// The keys that may have signed a JWS with `kid` and `alg`: the key named `kid` if it fits `alg`, or without
    /// a `kid`, the first [`MAX_UNNAMED_CANDIDATES`] keys that fit `alg` (type, curve, `use`, `key_ops`, `alg`).
    pub fn candidates(&self, kid: Option<&str>, alg: AssertionAlg) -> Vec<&Jwk> {
        let named = self.0.iter().filter(|k| kid.is_none_or(|kid| k.key_id() == Some(kid)));
        let fitting = named.filter(|k| alg.fits(k));
        fitting.take(if kid.is_some() { 1 } else { MAX_UNNAMED_CANDIDATES }).collect()
    }
}

/// The `keys` of a JWK Set: a non-empty array of at most [`MAX_KEYS`].
fn key_list(value: &Value) -> Result<&Vec<Value>, JwksError> {
    let bad = |m: &str| JwksError(m.to_owned());
    let Value::Object(map) = value else { return Err(bad("a JWK Set must be a JSON object")) };
    let keys = map.get("keys").and_then(Value::as_array).ok_or_else(|| bad("a JWK Set needs a \"keys\" array"))?;
    if keys.is_empty() {
        return Err(bad("the JWK Set has no keys"));
    }
    if keys.len() > MAX_KEYS {
        return Err(JwksError(format!("the JWK Set has more than {MAX_KEYS} keys")));
    }
    Ok(keys)
}

/// The keys of a set that passed the rules so far, and their `kid`s.
#[derive(Default)]
struct KeptKeys {
    keys: Vec<Jwk>,
    kids: HashSet<String>,
}

impl KeptKeys {
    /// Keeps `key` if it passes the rules and its `kid` (if any) is not an earlier key's.
    fn add(&mut self, key: &Value) -> Result<(), String> {
        check_public_key(key)?;
        let Value::Object(map) = key else { return Err("a JWK must be a JSON object".into()) };
        let jwk = Jwk::from_map(map.clone()).map_err(|e| format!("not a valid JWK: {e}"))?;
        if let Some(kid) = jwk.key_id() {
            if !self.kids.insert(kid.to_owned()) {
                return Err("another key has the same kid; give each key its own".into());
            }
        }
        self.keys.push(jwk);
        Ok(())
    }

    fn into_set(self) -> Result<ClientJwks, JwksError> {
        if !self.keys.iter().any(usable) {
            return Err(JwksError("the JWK Set has no key usable for RS256 or ES256 signatures".into()));
        }
        Ok(ClientJwks(self.keys))
    }
}

/// Whether `key` is a public key of the kinds and sizes accepted (what DPoP proofs' keys are held to as well).
pub(crate) fn check_public_key(key: &Value) -> Result<(), String> {
    let Value::Object(map) = key else { return Err("a JWK must be a JSON object".into()) };
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| map.contains_key(**m)) {
        return Err(format!(
            "private or symmetric key material (\"{m}\") is not allowed; register the public key only"
        ));
    }
    match map.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let n = unsigned_member(map, "n")?;
            if !(MIN_RSA_MODULUS_BYTES..=MAX_RSA_MODULUS_BYTES).contains(&n.len()) {
                return Err(format!("the RSA key has {} bits; use 2048 to 4096", bit_length(&n)));
            }
            let e = unsigned_member(map, "e")?;
            let small = e.len() <= MAX_RSA_EXPONENT_BYTES;
            let value = e.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
            if !small || value < MIN_RSA_EXPONENT || value % 2 == 0 {
                return Err("the RSA public exponent must be odd, at least 65537 and below 2^32 (use 65537)".into());
            }
            Ok(())
        }
        Some("EC") => match map.get("crv").and_then(Value::as_str) {
            Some(EC_CURVE) => Ok(()),
            _ => Err(format!("an EC key must be on the {EC_CURVE} curve (ES256)")),
        },
        Some(other) => {
            Err(format!("unsupported key type {:?} (RSA or EC)", other.chars().take(16).collect::<String>()))
        }
        None => Err("a JWK needs \"kty\"".into()),
    }
}

/// The big-endian unsigned integer in the base64url member `name`, without leading zero bytes.
fn unsigned_member(map: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = map.get(name).and_then(Value::as_str).ok_or_else(|| format!("an RSA key needs \"{name}\""))?;
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("the RSA key's \"{name}\" is not base64url"))?;
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(bytes[first..].to_vec())
}

/// The bits of a big-endian unsigned integer without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    bytes.first().map_or(0, |b| bytes.len() * 8 - b.leading_zeros() as usize)
}

/// Whether a key can verify RS256 or ES256 signatures (right type, curve, size, `use`, `key_ops`, `alg`).
fn usable(key: &Jwk) -> bool {
    AssertionAlg::ALL.iter().any(|alg| alg.fits(key))
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
    /// Why the last fetch found no usable set (`jwks` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
}

/// A client's keys and whether asking again might give different ones.
pub(crate) struct LoadedKeys {
    /// The keys.
    pub keys: Arc<ClientJwks>,
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
            let text = inline.to_string();
            let parse = || ClientJwks::parse_stored(inline, &client.id);
            let keys =
                self.client_key_sets.get_or_parse(&client.id, KeySource::Inline, &text, parse).map_err(no_keys)?;
            return Ok(LoadedKeys { keys, may_refresh: false });
        }
        let Some(raw) = &client.metadata.jwks_uri else {
            return Err(OAuthError::invalid_client("the client has no registered keys (jwks or jwks_uri)"));
        };
        let url = parse_jwks_uri(raw).map_err(no_keys)?;
        let key = cache_keys::client_jwks(client.id.as_str());
        let fetching = cache_keys::client_jwks_fetching(client.id.as_str());
        if !refetch {
            if let Some(found) = self.cached_client_keys(client, &key, &url).await {
                return found;
            }
            // One fetch at a time for a client, across instances: the others wait for what it finds.
            let first = self.cache.set_if_absent(&fetching, b"1", JWKS_FETCH_WAIT).await.unwrap_or(true);
            if !first {
                let waited = tokio::time::Instant::now();
                while waited.elapsed() < JWKS_FETCH_WAIT {
                    tokio::time::sleep(JWKS_FETCH_POLL).await;
                    if let Some(found) = self.cached_client_keys(client, &key, &url).await {
                        return found;
                    }
                }
                return Err(no_keys("the client's jwks_uri is being fetched"));
            }
        }
        // A dynamically registered client still has its registration access token.
        let reach = match self.registrations.registration_token_hash(&client.id).await? {
            Some(_) => Reach::PublicOnly,
            None => Reach::Anywhere,
        };
        let fetched = match self.jwks_fetcher.fetch(&url, MAX_JWKS_BYTES, reach).await {
            Ok(body) => {
                let text = String::from_utf8(body).map_err(|_| JwksError("the JWK Set is not UTF-8 text".into()));
                text.and_then(|t| Ok((self.fetched_keys(client, &t)?, t))).map_err(|e| {
                    tracing::warn!(client_id = %client.id, error = %e, "the client's jwks_uri serves no valid JWK Set");
                    no_keys(e)
                })
            }
            Err(e) => {
                tracing::warn!(client_id = %client.id, error = %e, "fetching the client's jwks_uri failed");
                let mut err = OAuthError::invalid_client("the client's jwks_uri could not be fetched");
                err.detail = Some(e.0);
                Err(err)
            }
        };
        let cached = match &fetched {
            Ok((_, text)) => {
                Some((CachedJwks { uri: url.to_string(), jwks: text.clone(), failure: None }, JWKS_CACHE_TTL))
            }
            // A failed refetch leaves the set the client had: its other keys still sign.
            Err(_) if refetch => None,
            Err(e) => {
                let failure = Some(e.detail.clone().unwrap_or_else(|| e.description.to_string()));
                Some((CachedJwks { uri: url.to_string(), jwks: String::new(), failure }, JWKS_FAILURE_TTL))
            }
        };
        if let Some((cached, ttl)) = cached {
            match serde_json::to_vec(&cached) {
                Ok(bytes) => {
                    if let Err(e) = self.cache.set(&key, &bytes, ttl).await {
                        tracing::warn!(error = %e, "could not cache a client JWKS");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not serialize a client JWKS"),
            }
        }
        if !refetch {
            if let Err(e) = self.cache.delete(&fetching).await {
                tracing::warn!(error = %e, "could not end a client JWKS fetch");
            }
        }
        fetched.map(|(keys, _)| LoadedKeys { keys, may_refresh: false })
    }

    /// What the cache holds for `client`'s set at `url`: its keys, or why the last fetch found none; `None` when
    /// nothing (or a set of another URL) is cached.
    async fn cached_client_keys(
        &self,
        client: &Client,
        key: &str,
        url: &Url,
    ) -> Option<Result<LoadedKeys, OAuthError>> {
        let bytes = match self.cache.get(key).await {
            Ok(bytes) => bytes?,
            // The cache only saves fetches: without it, fetch.
            Err(e) => {
                tracing::warn!(error = %e, "client JWKS cache unavailable");
                return None;
            }
        };
        let cached = serde_json::from_slice::<CachedJwks>(&bytes).ok().filter(|c| c.uri == url.as_str())?;
        if let Some(failure) = cached.failure {
            let mut err = OAuthError::invalid_client("the client's jwks_uri could not be used moments ago");
            err.detail = Some(failure);
            return Some(Err(err));
        }
        let keys = self.fetched_keys(client, &cached.jwks).ok()?;
        Some(Ok(LoadedKeys { keys, may_refresh: true }))
    }

    /// The keys of a JWK Set document `client`'s `jwks_uri` served.
    fn fetched_keys(&self, client: &Client, text: &str) -> Result<Arc<ClientJwks>, JwksError> {
        let parse = || ClientJwks::from_slice(text.as_bytes());
        self.client_key_sets.get_or_parse(&client.id, KeySource::Fetched, text, parse)
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

    fn ec_public(kid: &str) -> Value {
        let mut jwk = josekit::jws::ES256.generate_key_pair().unwrap().to_jwk_public_key();
        jwk.set_key_id(kid);
        serde_json::to_value(&jwk).unwrap()
    }

    /// `key` with `member` set to the base64url of `bytes`.
    fn with_bytes(mut key: Value, member: &str, bytes: &[u8]) -> Value {
        key[member] = json!(URL_SAFE_NO_PAD.encode(bytes));
        key
    }

    /// `key` with another `kid`.
    fn named(mut key: Value, kid: &str) -> Value {
        key["kid"] = json!(kid);
        key
    }

    fn kids(keys: &[&Jwk]) -> Vec<String> {
        keys.iter().map(|k| k.key_id().unwrap_or_default().to_owned()).collect()
    }

    #[test]
    fn public_rsa_and_ec_keys_are_accepted() {
        let jwks = ClientJwks::parse(&json!({ "keys": [rsa_public(), ec_public("e1")] })).unwrap();
        assert_eq!(kids(&jwks.candidates(Some("r1"), AssertionAlg::Rs256)), ["r1"]);
        assert_eq!(kids(&jwks.candidates(None, AssertionAlg::Es256)), ["e1"]);
        assert!(jwks.candidates(Some("other"), AssertionAlg::Rs256).is_empty());
    }

    #[test]
    fn rsa_keys_need_a_modest_size_and_exponent() {
        let good = rsa_public();
        let sized = |bytes: usize| with_bytes(named(good.clone(), "sized"), "n", &vec![0xc5; bytes]);
        let cases = [
            ("e = 3", with_bytes(named(good.clone(), "e3"), "e", &[3]), "exponent"),
            ("e = 2^64 + 1", with_bytes(named(good.clone(), "big-e"), "e", &[1, 0, 0, 0, 0, 0, 0, 0, 1]), "exponent"),
            ("e = 2^32 + 1", with_bytes(named(good.clone(), "e32"), "e", &[1, 0, 0, 0, 1]), "exponent"),
            ("even e", with_bytes(named(good.clone(), "even"), "e", &[1, 0, 2]), "exponent"),
            ("RSA-1024", sized(128), "1024 bits"),
            ("RSA-8192", sized(1024), "8192 bits"),
            ("RSA-4104", sized(513), "4104 bits"),
            (
                "no e",
                {
                    let mut k = named(good.clone(), "no-e");
                    k.as_object_mut().unwrap().remove("e");
                    k
                },
                "\"e\"",
            ),
        ];
        for (what, bad, said) in cases {
            // A good key beside the bad one does not save the set.
            let err = ClientJwks::parse(&json!({ "keys": [good, bad] })).expect_err(what).to_string();
            assert!(err.starts_with("key 1: ") && err.contains(said), "{what}: {err}");
        }
        // The bounds themselves pass: 2048 and 4096 bits (a leading zero byte is no bit), e = 65537 in any
        // encoding, and a larger odd exponent below 2^32.
        let mut modulus = vec![0u8];
        modulus.extend(vec![0xc5; 256]);
        for (what, key) in [
            ("2048 bits with a leading zero", with_bytes(named(good.clone(), "a"), "n", &modulus)),
            ("4096 bits", sized(512)),
            ("65537 with a leading zero", with_bytes(named(good.clone(), "b"), "e", &[0, 1, 0, 1])),
            ("2^32 - 1", with_bytes(named(good.clone(), "c"), "e", &[0xff, 0xff, 0xff, 0xff])),
        ] {
            assert!(ClientJwks::parse(&json!({ "keys": [good, key] })).is_ok(), "{what}");
        }
    }

    #[test]
    fn ec_keys_must_be_on_p256() {
        let p384 = serde_json::to_value(josekit::jws::ES384.generate_key_pair().unwrap().to_jwk_public_key()).unwrap();
        let err = ClientJwks::parse(&json!({ "keys": [ec_public("e1"), p384] })).unwrap_err().to_string();
        assert!(err.contains("P-256"), "{err}");
    }

    #[test]
    fn kids_must_be_distinct() {
        let err = ClientJwks::parse(&json!({ "keys": [rsa_public(), named(ec_public("x"), "r1")] })).unwrap_err();
        assert!(err.to_string().contains("same kid"), "{err}");
        // Keys without a kid do not clash.
        let bare = |k: Value| {
            let mut k = k;
            k.as_object_mut().unwrap().remove("kid");
            k
        };
        assert!(ClientJwks::parse(&json!({ "keys": [bare(rsa_public()), bare(ec_public("y"))] })).is_ok());
    }

    #[test]
    fn stored_keys_that_break_the_rules_are_left_out() {
        let client = ClientId::parse("stored-client").unwrap();
        let good = rsa_public();
        let weak = with_bytes(named(good.clone(), "weak"), "e", &[3]);
        let twin = named(ec_public("twin"), "r1");
        let stored = json!({ "keys": [good, weak, twin, ec_public("e1")] });
        assert!(ClientJwks::parse(&stored).is_err(), "refused when registered");
        let jwks = ClientJwks::parse_stored(&stored, &client).unwrap();
        assert!(jwks.candidates(Some("weak"), AssertionAlg::Rs256).is_empty());
        assert_eq!(kids(&jwks.candidates(Some("r1"), AssertionAlg::Rs256)), ["r1"], "the first r1 is kept");
        assert!(jwks.candidates(Some("r1"), AssertionAlg::Es256).is_empty(), "its twin is left out");
        assert_eq!(kids(&jwks.candidates(None, AssertionAlg::Es256)), ["e1"]);
        // A stored set left with no usable key gives none.
        let weak_only = json!({ "keys": [with_bytes(rsa_public(), "e", &[3])] });
        assert!(ClientJwks::parse_stored(&weak_only, &client).is_err());
    }

    #[test]
    fn candidates_are_the_named_key_or_a_few_that_fit() {
        let rsa = rsa_public();
        let mut enc = named(rsa.clone(), "enc");
        enc["use"] = json!("enc");
        let mut rs384 = named(rsa.clone(), "rs384");
        rs384["alg"] = json!("RS384");
        let mut keys = vec![enc, rs384, ec_public("e1")];
        keys.extend((1..=6).map(|i| named(rsa.clone(), &format!("r{i}"))));
        let jwks = ClientJwks::parse(&json!({ "keys": keys })).unwrap();
        // A kid names one key, which must fit the algorithm.
        assert_eq!(kids(&jwks.candidates(Some("r5"), AssertionAlg::Rs256)), ["r5"]);
        assert!(jwks.candidates(Some("r5"), AssertionAlg::Es256).is_empty());
        assert!(jwks.candidates(Some("enc"), AssertionAlg::Rs256).is_empty());
        assert!(jwks.candidates(Some("rs384"), AssertionAlg::Rs256).is_empty());
        // Without one: the first few keys that fit, never an encryption key or another algorithm's.
        assert_eq!(kids(&jwks.candidates(None, AssertionAlg::Rs256)), ["r1", "r2", "r3", "r4"]);
        assert_eq!(MAX_UNNAMED_CANDIDATES, 4);
        assert_eq!(kids(&jwks.candidates(None, AssertionAlg::Es256)), ["e1"]);
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
