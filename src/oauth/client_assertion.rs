//! Client assertions for `private_key_jwt` (RFC 7523 §2.2 and §3, OIDC Core §9): a JWT the client signs
//! with its own key, whose `iss` and `sub` are its `client_id` and whose `aud` is our issuer. This module parses
//! the assertion, verifies its signature against the client's JWK Set and checks its claims at a given `now`;
//! single use of the `jti` is enforced by the caller through the cache.
//!
//! The audience follows the update of RFC 7523 (draft-ietf-oauth-rfc7523bis, approved for publication), which
//! closes the audience injection attack: a client that takes a token endpoint URL from a malicious server's
//! metadata (ours, say) signs assertions that server can replay here if we accept our token endpoint URL as the
//! audience. So `aud` names one audience, and an assertion typed `client-authentication+jwt` (a client that
//! follows the update) must name our issuer. An untyped one may still name our token endpoint URL, as OIDC Core
//! §9 told clients to and libraries still do.
use super::client_keys::ClientJwks;
use super::error::OAuthError;
use crate::domain::UnixTime;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Largest assertion accepted, in bytes.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// Furthest `exp` may lie in the future, in seconds: an assertion is for one request, not a credential, but
/// libraries make them for an hour (authlib's `PrivateKeyJWT`). Its `jti` is kept that long against replay.
pub const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Signature algorithms accepted: never `none`, never HMAC (a shared secret is not a private key).
pub const SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];
/// Longest `jti`, in bytes (it becomes part of a cache key).
pub const MAX_JTI_BYTES: usize = 256;
/// The explicit `typ` of a client assertion (draft-ietf-oauth-rfc7523bis §4).
pub const CLIENT_AUTHENTICATION_TYP: &str = "client-authentication+jwt";

fn invalid(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// An accepted signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl AssertionAlg {
    /// Every accepted algorithm.
    pub const ALL: [Self; 2] = [Self::Rs256, Self::Es256];

    /// Whether `jwk` can verify this algorithm's signatures (type, curve, size, `use`, `key_ops`, `alg`).
    pub fn fits(self, jwk: &Jwk) -> bool {
        self.verifier(jwk, false).is_ok()
    }

    /// A verifier of this algorithm with `jwk`, which checks the JWS `kid` against the key's when `check_kid`;
    /// an error when the key does not fit the algorithm.
    fn verifier(self, jwk: &Jwk, check_kid: bool) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            Self::Rs256 => {
                let mut v = josekit::jws::RS256.verifier_from_jwk(jwk)?;
                if !check_kid {
                    v.remove_key_id();
                }
                Box::new(v)
            }
            Self::Es256 => {
                let mut v = josekit::jws::ES256.verifier_from_jwk(jwk)?;
                if !check_kid {
                    v.remove_key_id();
                }
                Box::new(v)
            }
        })
    }

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// What an assertion's `typ` header says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionTyp {
    /// No `typ`, or `JWT`: a client that may predate the audience rules of the RFC 7523 update.
    Untyped,
    /// `client-authentication+jwt`: a client that follows them, held to our issuer as the audience.
    ClientAuthentication,
}

impl AssertionTyp {
    /// Reads `typ` as a media type (RFC 7515 §4.1.9: case-insensitive, `application/` may be left out). Any
    /// other type is another kind of JWT (an access token, an ID token) and never a client assertion.
    fn parse(typ: Option<&Value>) -> Result<Self, OAuthError> {
        let Some(typ) = typ else { return Ok(Self::Untyped) };
        let typ = typ.as_str().ok_or_else(|| invalid("client_assertion has a malformed typ"))?.to_ascii_lowercase();
        match typ.strip_prefix("application/").unwrap_or(&typ) {
            "jwt" => Ok(Self::Untyped),
            CLIENT_AUTHENTICATION_TYP => Ok(Self::ClientAuthentication),
            _ => Err(invalid("client_assertion typ must be client-authentication+jwt (or JWT)")),
        }
    }
}

/// A client assertion whose signature is not verified yet: only its header and its `sub` (which names the
/// client, so that its keys can be found) have been read.
pub struct ClientAssertion {
    token: String,
    alg: AssertionAlg,
    typ: AssertionTyp,
    kid: Option<String>,
    client_id: String,
    /// The claims as sent; trusted only once [`ClientAssertion::verify`] accepted the signature over them.
    claims: Map<String, Value>,
}

impl std::fmt::Debug for ClientAssertion {
    // The assertion is a credential while it is unused: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("alg", &self.alg)
            .field("typ", &self.typ)
            .field("kid", &self.kid)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why no signature check succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No registered key fits the assertion's `kid` and algorithm.
    NoMatchingKey,
    /// Keys fit, but the signature verifies with none of them.
    Invalid,
}

/// A base64url-encoded JSON object (a JWS header or payload).
pub(crate) fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl ClientAssertion {
    /// Reads the header and the client id of a compact JWS; refuses other algorithms and oversize input.
    pub fn parse(token: String) -> Result<Self, OAuthError> {
        if token.len() > MAX_ASSERTION_BYTES {
            return Err(OAuthError::invalid_request("client_assertion is too large"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("client_assertion is not a signed JWT"));
        };
        let header = decode_json(header).ok_or_else(|| invalid("client_assertion has a malformed header"))?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => AssertionAlg::Rs256,
            Some("ES256") => AssertionAlg::Es256,
            _ => return Err(invalid("client_assertion must be signed with RS256 or ES256")),
        };
        if header.contains_key("crit") {
            return Err(invalid("client_assertion has critical header parameters we do not support"));
        }
        let typ = AssertionTyp::parse(header.get("typ"))?;
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(invalid("client_assertion has a malformed kid")),
        };
        let claims = decode_json(payload).ok_or_else(|| invalid("client_assertion has malformed claims"))?;
        let client_id =
            claims.get("sub").and_then(Value::as_str).ok_or_else(|| invalid("client_assertion has no sub"))?.to_owned();
        Ok(Self { token, alg, typ, kid, client_id, claims })
    }

    /// The client the assertion claims to come from (its `sub`), not verified yet.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `kid` of the signing key, when the client named it.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The signature algorithm.
    pub fn alg(&self) -> AssertionAlg {
        self.alg
    }

    /// What its `typ` says it is.
    pub fn typ(&self) -> AssertionTyp {
        self.typ
    }

    /// Verifies the signature with one of `keys` (the one named by `kid`, or the first few that fit the
    /// algorithm: [`ClientJwks::candidates`]) and returns the claims, whose values are still to be checked with
    /// [`check_claims`]. Costs up to [`super::client_keys::MAX_UNNAMED_CANDIDATES`] signature verifications: run
    /// it on a blocking pool.
    pub fn verify(&self, keys: &ClientJwks) -> Result<&Map<String, Value>, SignatureError> {
        verify_signature(&self.token, self.alg, self.kid.as_deref(), keys).map(|()| &self.claims)
    }
}

/// Verifies the signature of the compact JWS `token`, signed with `alg`, with one of `keys`: the one `kid`
/// names, or the first few that fit `alg` ([`ClientJwks::candidates`]). The caller read the claims from the
/// same bytes and refused `crit` (so no `b64: false`). Client assertions and request objects are checked alike.
pub(crate) fn verify_signature(
    token: &str,
    alg: AssertionAlg,
    kid: Option<&str>,
    keys: &ClientJwks,
) -> Result<(), SignatureError> {
    let mut tried = false;
    for jwk in keys.candidates(kid, alg) {
        // josekit requires a `kid` header when the verifier's key has one.
        let Ok(verifier) = alg.verifier(jwk, kid.is_some()) else { continue };
        tried = true;
        if josekit::jws::deserialize_compact(token, verifier.as_ref()).is_ok() {
            return Ok(());
        }
    }
    Err(if tried { SignatureError::Invalid } else { SignatureError::NoMatchingKey })
}

/// What a valid assertion must say, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct AssertionRules<'a> {
    /// The client: both `iss` and `sub`.
    pub client_id: &'a str,
    /// Our issuer identifier, the audience every assertion may name.
    pub issuer: &'a str,
    /// Our token endpoint URL, an audience only an untyped assertion may name; `None` where the operator
    /// allows the issuer alone (`clients.assertion_audience`).
    pub token_endpoint: Option<&'a str>,
    /// The time of the request.
    pub now: UnixTime,
    /// Clock skew tolerated, in seconds.
    pub leeway: i64,
}

/// The claims of a valid assertion that the caller still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims {
    /// `jti`, to be used once.
    pub jti: String,
    /// `exp`: the `jti` must be remembered until then (plus leeway).
    pub expires_at: UnixTime,
}

/// Checks the claims of a verified assertion of type `typ` (RFC 7523 §3 as updated, OIDC Core §9).
pub fn check_claims(
    claims: &Map<String, Value>,
    typ: AssertionTyp,
    rules: &AssertionRules<'_>,
) -> Result<AssertionClaims, OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| -> Result<Option<i64>, OAuthError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => crate::domain::numeric_date(v)
                .map(Some)
                .ok_or_else(|| invalid(&format!("client_assertion {name} must be a number"))),
        }
    };
    if text("iss") != Some(rules.client_id) || text("sub") != Some(rules.client_id) {
        return Err(invalid("client_assertion iss and sub must both be the client_id"));
    }
    // One audience, as a string or an array of one (the update allows both).
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => Some(a.as_str()),
        Some(Value::Array(list)) if list.len() == 1 => list[0].as_str(),
        _ => None,
    };
    match (audience, typ) {
        (Some(a), _) if a == rules.issuer => {}
        (Some(a), AssertionTyp::Untyped) if Some(a) == rules.token_endpoint => {}
        (_, AssertionTyp::Untyped) if rules.token_endpoint.is_some() => {
            return Err(invalid("client_assertion aud must be the issuer (or the token endpoint URL) alone"))
        }
        _ => return Err(invalid("client_assertion aud must be the issuer alone")),
    }
    let (now, leeway) = (rules.now, rules.leeway);
    let exp = number("exp")?.ok_or_else(|| invalid("client_assertion has no exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(invalid("client_assertion has expired"));
    }
    if exp > now + MAX_ASSERTION_LIFETIME + leeway {
        return Err(invalid("client_assertion exp is more than an hour ahead"));
    }
    if number("iat")?.is_some_and(|iat| iat > now + leeway) {
        return Err(invalid("client_assertion was issued in the future"));
    }
    if number("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(invalid("client_assertion is not valid yet"));
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI_BYTES => j.clone(),
        Some(Value::String(j)) if !j.is_empty() => return Err(invalid("client_assertion jti is too long")),
        _ => return Err(invalid("client_assertion has no jti")),
    };
    Ok(AssertionClaims { jti, expires_at: exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;
    use josekit::jws::{JwsHeader, JwsSigner};
    use josekit::jwt::JwtPayload;
    use serde_json::json;

    const NOW: UnixTime = 1_700_000_000;
    const CLIENT: &str = "client-1";
    const TOKEN_ENDPOINT: &str = "https://id.example/token";
    const ISSUER: &str = "https://id.example";

    fn rules() -> AssertionRules<'static> {
        AssertionRules { client_id: CLIENT, issuer: ISSUER, token_endpoint: Some(TOKEN_ENDPOINT), now: NOW, leeway: 30 }
    }

    fn claims() -> Value {
        json!({ "iss": CLIENT, "sub": CLIENT, "aud": TOKEN_ENDPOINT, "exp": NOW + 60, "iat": NOW, "jti": "j1" })
    }

    fn payload(v: Value) -> JwtPayload {
        let Value::Object(map) = v else { panic!("claims are an object") };
        JwtPayload::from_map(map).unwrap()
    }

    // The claims as `ClientAssertion::parse` reads them: JSON, none of josekit's checks of claim types.
    fn check(v: Value) -> Result<AssertionClaims, OAuthError> {
        let Value::Object(claims) = v else { panic!("claims are an object") };
        check_claims(&claims, AssertionTyp::Untyped, &rules())
    }

    fn check_typed(v: Value) -> Result<AssertionClaims, OAuthError> {
        let Value::Object(claims) = v else { panic!("claims are an object") };
        check_claims(&claims, AssertionTyp::ClientAuthentication, &rules())
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    fn without(key: &str) -> Value {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(key);
        c
    }

    fn sign(claims: &Value, signer: &dyn JwsSigner, kid: Option<&str>) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(k) = kid {
            header.set_key_id(k);
        }
        josekit::jwt::encode_with_signer(&payload(claims.clone()), &header, signer).unwrap()
    }

    fn rsa() -> (josekit::jwk::Jwk, josekit::jwk::Jwk) {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let mut private = pair.to_jwk_private_key();
        let mut public = pair.to_jwk_public_key();
        private.set_key_id("rsa-1");
        public.set_key_id("rsa-1");
        (private, public)
    }

    fn jwks(keys: &[&josekit::jwk::Jwk]) -> ClientJwks {
        ClientJwks::parse(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn valid_claims_pass() {
        assert_eq!(check(claims()).unwrap(), AssertionClaims { jti: "j1".into(), expires_at: NOW + 60 });
        assert!(check(with("aud", json!(ISSUER))).is_ok(), "the issuer is an accepted audience");
        assert!(check(with("aud", json!([TOKEN_ENDPOINT]))).is_ok(), "an array of one");
        assert!(check(without("iat")).is_ok(), "iat is optional");
        assert!(check(with("exp", json!(NOW - 10))).is_ok(), "within the leeway");
        assert!(check(with("exp", json!(NOW + 600 + 30))).is_ok(), "at the lifetime limit");
        assert!(check(with("iat", json!(NOW + 30))).is_ok());
        assert!(check(with("nbf", json!(NOW + 30))).is_ok());
    }

    #[test]
    fn bad_claims_are_invalid_client() {
        let cases = [
            ("other iss", with("iss", json!("someone"))),
            ("other sub", with("sub", json!("someone"))),
            ("wrong aud", with("aud", json!("https://rs.example"))),
            ("aud list without us", with("aud", json!(["https://rs.example"]))),
            ("another audience beside us", with("aud", json!(["https://other.example", TOKEN_ENDPOINT]))),
            ("both of ours", with("aud", json!([ISSUER, TOKEN_ENDPOINT]))),
            ("empty aud list", with("aud", json!([]))),
            ("aud not a string", with("aud", json!(42))),
            ("no aud", without("aud")),
            ("no exp", without("exp")),
            ("expired", with("exp", json!(NOW - 30))),
            ("too far ahead", with("exp", json!(NOW + 3600 + 31))),
            ("iat in the future", with("iat", json!(NOW + 31))),
            ("nbf in the future", with("nbf", json!(NOW + 31))),
            ("no jti", without("jti")),
            ("empty jti", with("jti", json!(""))),
            ("long jti", with("jti", json!("j".repeat(MAX_JTI_BYTES + 1)))),
        ];
        for (what, c) in cases {
            let e = check(c).expect_err(what);
            assert_eq!(e.code, ErrorCode::InvalidClient, "{what}: {e:?}");
        }
    }

    // The audience injection attack (draft-ietf-oauth-rfc7523bis §1): a client that follows the update names
    // our issuer, and only that, so an assertion it made for another server can never name us.
    #[test]
    fn an_explicitly_typed_assertion_must_name_the_issuer_alone() {
        assert!(check_typed(with("aud", json!(ISSUER))).is_ok());
        assert!(check_typed(with("aud", json!([ISSUER]))).is_ok());
        for aud in [json!(TOKEN_ENDPOINT), json!([TOKEN_ENDPOINT]), json!([ISSUER, TOKEN_ENDPOINT])] {
            let e = check_typed(with("aud", aud.clone())).expect_err(&aud.to_string());
            assert_eq!(
                (e.code, e.description.as_str()),
                (ErrorCode::InvalidClient, "client_assertion aud must be the issuer alone")
            );
        }
    }

    #[test]
    fn where_the_operator_allows_the_issuer_alone_untyped_assertions_must_name_it_too() {
        let strict = AssertionRules { token_endpoint: None, ..rules() };
        let check_strict = |v: Value, typ| {
            let Value::Object(claims) = v else { panic!("claims are an object") };
            check_claims(&claims, typ, &strict)
        };
        for typ in [AssertionTyp::Untyped, AssertionTyp::ClientAuthentication] {
            assert!(check_strict(with("aud", json!(ISSUER)), typ).is_ok(), "{typ:?}");
            for aud in [json!(TOKEN_ENDPOINT), json!([TOKEN_ENDPOINT])] {
                let e = check_strict(with("aud", aud.clone()), typ).expect_err(&aud.to_string());
                assert_eq!(
                    (e.code, e.description.as_str()),
                    (ErrorCode::InvalidClient, "client_assertion aud must be the issuer alone"),
                    "{typ:?}"
                );
            }
        }
    }

    #[test]
    fn typ_is_read_as_a_media_type() {
        let with_typ = |typ: Value| {
            let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "typ": typ }).to_string());
            let body = URL_SAFE_NO_PAD.encode(claims().to_string());
            ClientAssertion::parse(format!("{header}.{body}.c2ln")).map(|a| a.typ())
        };
        for (typ, expected) in [
            ("JWT", AssertionTyp::Untyped),
            ("application/jwt", AssertionTyp::Untyped),
            ("client-authentication+jwt", AssertionTyp::ClientAuthentication),
            ("Application/Client-Authentication+JWT", AssertionTyp::ClientAuthentication),
        ] {
            assert_eq!(with_typ(json!(typ)).unwrap(), expected, "{typ}");
        }
        let token = sign(&claims(), &josekit::jws::RS256.signer_from_jwk(&rsa().0).unwrap(), None);
        let mut untyped = token.split('.').map(str::to_owned).collect::<Vec<_>>();
        untyped[0] = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256" }).to_string());
        assert_eq!(ClientAssertion::parse(untyped.join(".")).unwrap().typ(), AssertionTyp::Untyped);
        // Another kind of JWT is never a client assertion.
        for typ in [json!("at+jwt"), json!("logout+jwt"), json!(1)] {
            let e = with_typ(typ.clone()).expect_err(&typ.to_string());
            assert_eq!(e.code, ErrorCode::InvalidClient, "{typ}");
        }
    }

    #[test]
    fn rs256_and_es256_signatures_verify() {
        let (private, public) = rsa();
        let token = sign(&claims(), &josekit::jws::RS256.signer_from_jwk(&private).unwrap(), Some("rsa-1"));
        let a = ClientAssertion::parse(token).unwrap();
        assert_eq!((a.client_id(), a.kid(), a.alg()), (CLIENT, Some("rsa-1"), AssertionAlg::Rs256));
        let verified = a.verify(&jwks(&[&public])).unwrap();
        assert!(check_claims(verified, a.typ(), &rules()).is_ok());

        // No kid in the header: every key of the right type is tried.
        let ec = josekit::jws::ES256.generate_key_pair().unwrap();
        let mut ec_public = ec.to_jwk_public_key();
        ec_public.set_key_id("ec-1");
        let token = sign(&claims(), &josekit::jws::ES256.signer_from_jwk(&ec.to_jwk_private_key()).unwrap(), None);
        let a = ClientAssertion::parse(token).unwrap();
        assert_eq!(a.alg(), AssertionAlg::Es256);
        assert!(a.verify(&jwks(&[&public, &ec_public])).is_ok());
    }

    #[test]
    fn without_a_kid_only_a_few_keys_are_tried() {
        let (private, public) = rsa();
        let (_, other) = rsa();
        let named = |jwk: &josekit::jwk::Jwk, kid: &str| {
            let mut jwk = jwk.clone();
            jwk.set_key_id(kid);
            jwk
        };
        let decoys: Vec<_> = (0..4).map(|i| named(&other, &format!("decoy-{i}"))).collect();
        let mut keys: Vec<&josekit::jwk::Jwk> = decoys.iter().collect();
        keys.push(&public);
        let keys = jwks(&keys);
        let signer = josekit::jws::RS256.signer_from_jwk(&private).unwrap();
        let mut unnamed_signer = signer.clone();
        unnamed_signer.remove_key_id();
        // The signing key is the fifth that fits: an assertion without a kid does not reach it.
        let unnamed = ClientAssertion::parse(sign(&claims(), &unnamed_signer, None)).unwrap();
        assert_eq!(unnamed.kid(), None);
        assert_eq!(unnamed.verify(&keys).unwrap_err(), SignatureError::Invalid);
        let named = ClientAssertion::parse(sign(&claims(), &signer, Some("rsa-1"))).unwrap();
        assert!(named.verify(&keys).is_ok());
    }

    #[test]
    fn wrong_or_unknown_keys_fail() {
        let (private, _) = rsa();
        let (_, other_public) = rsa();
        let token = sign(&claims(), &josekit::jws::RS256.signer_from_jwk(&private).unwrap(), Some("rsa-1"));
        let a = ClientAssertion::parse(token.clone()).unwrap();
        assert_eq!(a.verify(&jwks(&[&other_public])).unwrap_err(), SignatureError::Invalid);
        let mut renamed = other_public.clone();
        renamed.set_key_id("rsa-2");
        assert_eq!(a.verify(&jwks(&[&renamed])).unwrap_err(), SignatureError::NoMatchingKey);
        // A tampered payload fails with the right key too.
        let (private, public) = rsa();
        let good = sign(&claims(), &josekit::jws::RS256.signer_from_jwk(&private).unwrap(), Some("rsa-1"));
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&with("sub", json!("x"))).unwrap());
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = &forged_claims;
        let forged = ClientAssertion::parse(parts.join(".")).unwrap();
        assert_eq!(forged.verify(&jwks(&[&public])).unwrap_err(), SignatureError::Invalid);
    }

    #[test]
    fn none_hmac_and_malformed_assertions_are_refused() {
        let unsigned = josekit::jwt::encode_unsecured(&payload(claims()), &JwsHeader::new()).unwrap();
        let hmac =
            sign(&claims(), &josekit::jws::HS256.signer_from_bytes(b"0123456789abcdef0123456789abcdef").unwrap(), None);
        let rs384 = {
            let pair = josekit::jws::RS384.generate_key_pair(2048).unwrap();
            sign(&claims(), &josekit::jws::RS384.signer_from_jwk(&pair.to_jwk_private_key()).unwrap(), None)
        };
        for (what, token) in [
            ("alg none", unsigned),
            ("HS256", hmac),
            ("RS384", rs384),
            ("garbage", "a.b.c".to_owned()),
            ("two parts", "a.b".to_owned()),
        ] {
            let e = ClientAssertion::parse(token).expect_err(what);
            assert_eq!(e.code, ErrorCode::InvalidClient, "{what}");
        }
        let e = ClientAssertion::parse("a".repeat(MAX_ASSERTION_BYTES + 1)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn debug_hides_the_assertion() {
        let (private, _) = rsa();
        let token = sign(&claims(), &josekit::jws::RS256.signer_from_jwk(&private).unwrap(), Some("rsa-1"));
        let shown = format!("{:?}", ClientAssertion::parse(token.clone()).unwrap());
        assert!(!shown.contains(&token) && !shown.contains(token.split('.').nth(2).unwrap()), "{shown}");
    }
}
