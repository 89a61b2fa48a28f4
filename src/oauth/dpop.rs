//! DPoP (RFC 9449): proofs of possession of a key, sent in the `DPoP` header, which bind access tokens (and a
//! public client's refresh tokens, and codes asked for with `dpop_jkt`) to the key's RFC 7638 thumbprint.
//!
//! A proof is a JWS typed `dpop+jwt`, signed with the private key whose public half is its `jwk` header, for
//! one request: `htm` and `htu` name it, `iat` says when it was made, `jti` makes it single use (the caller
//! keeps it in the cache for as long as the proof would be accepted), and with an access token `ath` is its
//! hash. Under `dpop.require_nonce` a proof must also carry a nonce we provided (`nonce`, [`super::dpop_nonce`]);
//! otherwise a `nonce` claim is ignored, as RFC 9449 §4.3 (check 9) has it for a server that provided none.
use super::cache_keys;
use super::client_keys::check_public_key;
use super::dpop_nonce::{use_nonce, DpopNonces};
use super::error::{ErrorCode, OAuthError};
use super::provider::Provider;
pub use crate::domain::Jkt;
use crate::domain::UnixTime;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The `typ` of a proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// The token type of DPoP-bound access tokens and the scheme they are presented with (RFC 9449 §5, §7.1).
pub const DPOP_SCHEME: &str = "DPoP";
/// Largest proof accepted, in bytes: a 4096-bit RSA key in the header fits several times over.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti`, in bytes (it becomes part of a cache key).
pub const MAX_JTI_BYTES: usize = 256;
/// The algorithms advertised (`dpop_signing_alg_values_supported`) and accepted, as the `algs` of challenges.
pub const SIGNING_ALGS: [&str; 3] = ["ES256", "PS256", "RS256"];

fn invalid(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, description)
}

/// An accepted proof signature algorithm: asymmetric only (RFC 9449 §4.3), never `none` or HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofAlg {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl ProofAlg {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "PS256" => Some(Self::Ps256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    /// A verifier with `jwk` that ignores `kid` (a proof names its key by value, not by id).
    fn verifier(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            Self::Es256 => {
                let mut v = josekit::jws::ES256.verifier_from_jwk(jwk)?;
                v.remove_key_id();
                Box::new(v)
            }
            Self::Ps256 => {
                let mut v = josekit::jws::PS256.verifier_from_jwk(jwk)?;
                v.remove_key_id();
                Box::new(v)
            }
            Self::Rs256 => {
                let mut v = josekit::jws::RS256.verifier_from_jwk(jwk)?;
                v.remove_key_id();
                Box::new(v)
            }
        })
    }
}

/// `ath`: base64url of SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// How an access token was presented to one of our endpoints.
#[derive(Debug, Clone, Copy)]
pub enum Presentation<'a> {
    /// `Authorization: Bearer`, or in a form body (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1), with the request's proof, if any, method and endpoint path.
    Dpop {
        /// The one `DPoP` header.
        proof: Option<&'a str>,
        /// The request's method.
        method: &'a str,
        /// Our endpoint's path.
        path: &'a str,
    },
}

/// A proof whose signature is not verified yet: its header has been checked (type, algorithm, public key).
pub struct DpopProof {
    token: String,
    alg: ProofAlg,
    jwk: Jwk,
    jkt: Jkt,
    /// The claims as sent; trusted only once [`DpopProof::verify`] accepted the signature over them.
    claims: Map<String, Value>,
}

impl std::fmt::Debug for DpopProof {
    // A proof is good for a request while unused: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopProof").field("alg", &self.alg).field("jkt", &self.jkt).finish_non_exhaustive()
    }
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl DpopProof {
    /// Reads a compact JWS and checks its header (RFC 9449 §4.3, checks 1 to 6 but the signature).
    pub fn parse(token: &str) -> Result<Self, OAuthError> {
        if token.len() > MAX_PROOF_BYTES {
            return Err(invalid("the DPoP proof is too large"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the DPoP proof is not a signed JWT"));
        };
        let header = decode_json(header).ok_or_else(|| invalid("the DPoP proof has a malformed header"))?;
        if header.get("typ").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() != Some(DPOP_TYP) {
            return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(ProofAlg::parse)
            .ok_or_else(|| invalid("the DPoP proof must be signed with ES256, PS256 or RS256"))?;
        if header.contains_key("crit") {
            return Err(invalid("the DPoP proof has critical header parameters we do not support"));
        }
        let jwk = match header.get("jwk") {
            Some(jwk @ Value::Object(map)) => {
                check_public_key(jwk).map_err(|why| invalid(&format!("the DPoP proof's jwk: {why}")))?;
                map.clone()
            }
            _ => return Err(invalid("the DPoP proof has no jwk header")),
        };
        let jkt = Jkt::of_jwk(&jwk).ok_or_else(|| invalid("the DPoP proof's jwk is malformed"))?;
        let jwk = Jwk::from_map(jwk).map_err(|_| invalid("the DPoP proof's jwk is malformed"))?;
        alg.verifier(&jwk).map_err(|_| invalid("the DPoP proof's jwk does not fit its alg"))?;
        let claims = decode_json(payload).ok_or_else(|| invalid("the DPoP proof has malformed claims"))?;
        Ok(Self { token: token.to_owned(), alg, jwk, jkt, claims })
    }

    /// The thumbprint of the proof's key.
    pub fn jkt(&self) -> &Jkt {
        &self.jkt
    }

    /// The claims, still to be checked with [`check_claims`].
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Whether the signature verifies with the proof's own key: one signature verification, so run it on a
    /// blocking pool.
    pub fn verify(&self) -> Result<(), OAuthError> {
        let verifier =
            self.alg.verifier(&self.jwk).map_err(|_| invalid("the DPoP proof's jwk does not fit its alg"))?;
        josekit::jws::deserialize_compact(&self.token, verifier.as_ref())
            .map(|_| ())
            .map_err(|_| invalid("the DPoP proof's signature is invalid"))
    }
}

/// What a proof must say, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct ProofRules<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The endpoint's URL (`htu`), without query or fragment.
    pub url: &'a str,
    /// The access token presented with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// The time of the request.
    pub now: UnixTime,
    /// How old `iat` may be, in seconds (`dpop.proof_max_age_seconds`).
    pub max_age: i64,
    /// How far ahead `iat` may be (clock skew), in seconds.
    pub leeway: i64,
    /// The nonces a proof's `nonce` must be one of, when we ask for nonces.
    pub nonces: Option<&'a DpopNonces>,
}

impl ProofRules<'_> {
    /// How long a proof's `jti` must be remembered: as long as a proof made `now` could be accepted.
    pub fn jti_kept(&self) -> Duration {
        Duration::from_secs((self.max_age + self.leeway).max(1).unsigned_abs() + 1)
    }
}

/// Checks the claims of a proof (RFC 9449 §4.3, checks 7 to 12, with check 9's nonce when we ask for nonces), all
/// but the `jti`'s single use, which the caller keeps; returns the `jti`.
pub fn check_claims(claims: &Map<String, Value>, rules: &ProofRules<'_>) -> Result<String, OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = match text("jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_BYTES => j.to_owned(),
        Some(j) if !j.is_empty() => return Err(invalid("the DPoP proof's jti is too long")),
        _ => return Err(invalid("the DPoP proof has no jti")),
    };
    if text("htm") != Some(rules.method) {
        return Err(invalid("the DPoP proof's htm is not the request's method"));
    }
    if !text("htu").is_some_and(|htu| same_target(htu, rules.url)) {
        return Err(invalid("the DPoP proof's htu is not this endpoint's URL"));
    }
    let iat =
        claims.get("iat").and_then(crate::domain::numeric_date).ok_or_else(|| invalid("the DPoP proof has no iat"))?;
    if iat > rules.now.saturating_add(rules.leeway) {
        return Err(invalid("the DPoP proof was issued in the future"));
    }
    if iat < rules.now.saturating_sub(rules.max_age) {
        return Err(invalid("the DPoP proof is too old"));
    }
    if let Some(token) = rules.access_token {
        if text("ath") != Some(access_token_hash(token).as_str()) {
            return Err(invalid("the DPoP proof's ath is not the hash of the access token"));
        }
    }
    // Last, so a proof wrong otherwise is refused as such rather than retried with a nonce to no avail.
    if let Some(nonces) = rules.nonces {
        match text("nonce") {
            None => return Err(use_nonce("this server requires a nonce in DPoP proofs: use the one in DPoP-Nonce")),
            Some(nonce) if !nonces.accepts(nonce, rules.now) => {
                return Err(use_nonce("the DPoP proof's nonce is stale or not ours: use the one in DPoP-Nonce"))
            }
            Some(_) => {}
        }
    }
    Ok(jti)
}

/// Whether `htu` names `url` (RFC 9449 §4.3: without query and fragment, after syntax- and scheme-based
/// normalisation: the case of scheme and host, a default port, an empty path).
fn same_target(htu: &str, url: &str) -> bool {
    let normal = |text: &str| {
        let mut u = url::Url::parse(text).ok()?;
        u.set_query(None);
        u.set_fragment(None);
        Some(u)
    };
    matches!((normal(htu), normal(url)), (Some(a), Some(b)) if a == b)
}

impl Provider {
    /// Checks the DPoP proof of a request to our endpoint `path` made with `method`, with `access_token` when
    /// one is presented; returns its key's thumbprint. The signature is checked on the signing pool, and the
    /// `jti` is then used up for as long as the proof could be accepted. Every grant, `/par` and `/userinfo`
    /// come here, so `dpop.require_nonce` holds for all of them; a proof refused with `use_dpop_nonce` is refused
    /// before its signature is checked and leaves its `jti` unused.
    pub async fn check_dpop_proof(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<Jkt, OAuthError> {
        let proof = DpopProof::parse(proof)?;
        let url = format!("{}{path}", self.issuer);
        let nonces = self.dpop_nonces()?;
        let rules = ProofRules {
            method,
            url: &url,
            access_token,
            now,
            max_age: self.dpop.proof_max_age,
            leeway: self.leeway,
            nonces: nonces.as_ref(),
        };
        let jti = check_claims(proof.claims(), &rules)?;
        let proof = Arc::new(proof);
        let verifying = Arc::clone(&proof);
        self.signing_pool.run(move || verifying.verify()).await.map_err(OAuthError::server)??;
        let first_use =
            self.cache.set_if_absent(&cache_keys::dpop_jti(proof.jkt().as_str(), &jti), b"1", rules.jti_kept()).await?;
        if !first_use {
            tracing::warn!(event = "dpop_proof_replay", "DPoP proof used twice");
            return Err(invalid("the DPoP proof was already used"));
        }
        Ok(proof.jkt().clone())
    }
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
