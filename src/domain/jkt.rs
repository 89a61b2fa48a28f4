//! [`Jkt`]: the JWK SHA-256 thumbprint of a key (RFC 7638) that DPoP binds tokens to (RFC 9449 §6).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A JWK SHA-256 thumbprint, base64url: the `jkt` of `cnf` and the value of `dpop_jkt`. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jkt(String);

impl Jkt {
    /// A thumbprint as text: 43 characters of base64url, the encoding of 32 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        (bytes.len() == 32 && text.len() == 43).then(|| Self(text.to_owned()))
    }

    /// RFC 7638 §3: SHA-256 over the required members of an RSA or EC public key, in lexicographic order and
    /// without whitespace; `None` for another key type or a required member that is missing or not a string.
    pub fn of_jwk(jwk: &Map<String, Value>) -> Option<Self> {
        // Each value as JSON text, escaped: a member cannot change the shape of the canonical form.
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(|v| serde_json::to_string(v).ok());
        let canonical = match jwk.get("kty").and_then(Value::as_str)? {
            "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e")?, member("n")?),
            "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, member("crv")?, member("x")?, member("y")?),
            _ => return None,
        };
        Some(Self(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))))
    }

    /// The thumbprint text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Jkt {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| "not a JWK SHA-256 thumbprint".to_owned())
    }
}

impl From<Jkt> for String {
    fn from(jkt: Jkt) -> Self {
        jkt.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_thumbprint_of_rfc7638s_example_key() {
        // RFC 7638 §3.1; members beyond the required ones (alg, kid) do not count.
        let key = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB\
                  ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8\
                  KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_x\
                  BniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let Value::Object(key) = key else { panic!("an object") };
        let jkt = Jkt::of_jwk(&key).expect("a thumbprint");
        assert_eq!(jkt.as_str(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(Jkt::parse(jkt.as_str()), Some(jkt));
    }

    #[test]
    fn ec_keys_use_their_four_members_and_other_types_none() {
        let Value::Object(ec) = json!({ "kty": "EC", "crv": "P-256", "x": "a", "y": "b", "use": "sig" }) else {
            panic!("an object")
        };
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(br#"{"crv":"P-256","kty":"EC","x":"a","y":"b"}"#));
        assert_eq!(Jkt::of_jwk(&ec).map(|j| j.0), Some(expected));
        let Value::Object(oct) = json!({ "kty": "oct", "k": "c2VjcmV0" }) else { panic!("an object") };
        assert_eq!(Jkt::of_jwk(&oct), None);
        let Value::Object(no_y) = json!({ "kty": "EC", "crv": "P-256", "x": "a" }) else { panic!("an object") };
        assert_eq!(Jkt::of_jwk(&no_y), None);
    }

    #[test]
    fn only_a_sha256_thumbprint_parses() {
        for text in
            ["", "abc", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X", "NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs"]
        {
            assert_eq!(Jkt::parse(text), None, "{text}");
        }
        assert!(serde_json::from_str::<Jkt>("\"short\"").is_err());
    }
}
