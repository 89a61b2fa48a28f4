//! One RSA signing key: generation with OpenSSL, import from PEM, RFC 7638 `kid`, sealing for storage.
use super::{JoseError, Kek};
use crate::domain::UnixTime;
use crate::storage::StoredKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The only algorithm the ring signs with.
pub const ALG_RS256: &str = "RS256";

/// A decrypted key, ready to sign and verify.
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// When it was made.
    pub created_at: UnixTime,
    /// When it starts (started) signing.
    pub activates_at: UnixTime,
    /// The public JWK as published (`kty n e kid use alg`).
    pub public_jwk: Value,
    signer: RsassaJwsSigner,
    verifier: RsassaJwsVerifier,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// A freshly made or imported key with its private part in the clear, to be sealed and stored.
pub struct NewKey {
    /// PKCS#8 DER of the private key.
    pkcs8_der: Vec<u8>,
    /// The published form.
    pub public_jwk: Value,
    /// RFC 7638 thumbprint.
    pub kid: String,
}

impl NewKey {
    /// Generates an RSA key with OpenSSL (pure-Rust generation is far slower).
    pub fn generate(bits: u32) -> Result<Self, JoseError> {
        let pair = RS256.generate_key_pair(bits)?;
        Self::from_pair(&pair)
    }

    /// Imports a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, alone or in a file that also
    /// holds certificates), checking it is a consistent RSA key of 2048 to 8192 bits.
    pub fn import_pem(pem: &str) -> Result<Self, JoseError> {
        use rsa::pkcs8::EncodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa_private_key_in(pem)?;
        key.validate().map_err(|e| JoseError::Import(format!("inconsistent RSA key: {e}")))?;
        // The modulus's own length: its size in bytes rounds a 2047-bit key up to 2048.
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(JoseError::Import(format!(
                "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required (RFC 7518 §3.3)"
            )));
        }
        if bits > MAX_RSA_BITS {
            return Err(JoseError::Import(format!(
                "RSA key is {bits} bits; at most {MAX_RSA_BITS} are accepted, as larger keys sign too slowly"
            )));
        }
        let der = key.to_pkcs8_der().map_err(|e| JoseError::Import(format!("cannot encode key: {e}")))?;
        let pair = RS256.key_pair_from_der(der.as_bytes())?;
        Self::from_pair(&pair)
    }

    fn from_pair(pair: &RsaKeyPair) -> Result<Self, JoseError> {
        let jwk = pair.to_jwk_public_key();
        let n = jwk.parameter("n").and_then(Value::as_str).ok_or_else(|| JoseError::Jose("JWK without n".into()))?;
        let e = jwk.parameter("e").and_then(Value::as_str).ok_or_else(|| JoseError::Jose("JWK without e".into()))?;
        let kid = thumbprint(n, e);
        let public_jwk = json!({ "kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig", "alg": ALG_RS256 });
        Ok(Self { pkcs8_der: pair.to_der_private_key(), public_jwk, kid })
    }

    /// The row to store: private part sealed with the KEK, bound to the kid.
    pub fn seal(&self, kek: &Kek, created_at: UnixTime, activates_at: UnixTime) -> Result<StoredKey, JoseError> {
        Ok(StoredKey {
            kid: self.kid.clone(),
            alg: ALG_RS256.into(),
            private_key_sealed: kek.seal(&self.pkcs8_der, self.kid.as_bytes())?,
            public_jwk: self.public_jwk.to_string(),
            created_at,
            activates_at,
        })
    }
}

/// RFC 7518 §3.3: an RS256 key is at least 2048 bits.
const MIN_RSA_BITS: usize = 2048;
/// Signing cost grows with about the cube of the modulus size (`openssl speed` signs over a hundred times slower
/// with a 7680-bit key than with a 2048-bit one), and every token is signed.
const MAX_RSA_BITS: usize = 8192;

const NOT_RSA_PEM: &str = "not an RSA private key in PEM (PKCS#1 or PKCS#8)";

/// The one private key of a PEM file, skipping the certificates a bundle may also hold.
fn rsa_private_key_in(pem: &str) -> Result<rsa::RsaPrivateKey, JoseError> {
    let blocks = pem_blocks(pem);
    let private: Vec<&PemBlock<'_>> = blocks.iter().filter(|b| b.label.ends_with("PRIVATE KEY")).collect();
    match private.as_slice() {
        [block] => block.rsa_private_key(),
        [] if blocks.iter().any(|b| b.label.ends_with("PUBLIC KEY")) => {
            Err(JoseError::Import("this is a public key; import the private key".into()))
        }
        [] => Err(JoseError::Import(NOT_RSA_PEM.into())),
        more => Err(JoseError::Import(format!("the file holds {} private keys; import one at a time", more.len()))),
    }
}

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block of a PEM file.
struct PemBlock<'a> {
    label: &'a str,
    /// The block from its BEGIN line to its END line, both included.
    text: &'a str,
}

/// The blocks of a PEM file in order; text between them (such as `Bag Attributes`) is skipped.
fn pem_blocks(pem: &str) -> Vec<PemBlock<'_>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let block = rest.split_at(start).1;
        let Some((label, _)) = block.split_at(BEGIN.len()).1.split_once("-----") else { break };
        let end_line = format!("-----END {label}-----");
        let Some(end) = block.find(&end_line) else { break };
        let (text, after) = block.split_at(end + end_line.len());
        blocks.push(PemBlock { label, text });
        rest = after;
    }
    blocks
}

impl PemBlock<'_> {
    fn rsa_private_key(&self) -> Result<rsa::RsaPrivateKey, JoseError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        // PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy encryption of PKCS#1 (RFC 1421 headers).
        if self.label == "ENCRYPTED PRIVATE KEY" || self.text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(JoseError::Import(
                "the key is encrypted: decrypt it first (openssl pkey -in k.pem -out plain.pem)".into(),
            ));
        }
        let parsed = match self.label {
            "PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs8_pem(self.text).map_err(|e| e.to_string()),
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_pem(self.text).map_err(|e| e.to_string()),
            other => Err(format!("found {other}")),
        };
        parsed.map_err(|why| JoseError::Import(format!("{NOT_RSA_PEM}: {why}")))
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl SigningKey {
    /// Opens a stored key with the KEK.
    pub fn unseal(stored: &StoredKey, kek: &Kek) -> Result<Self, JoseError> {
        let bad = |why: String| JoseError::BadStoredKey { kid: stored.kid.clone(), why };
        if stored.alg != ALG_RS256 {
            return Err(bad(format!("unsupported algorithm {}", stored.alg)));
        }
        let der = kek.open(&stored.private_key_sealed, stored.kid.as_bytes()).map_err(bad)?;
        let pair = RS256.key_pair_from_der(&der).map_err(|e| bad(e.to_string()))?;
        let new = NewKey::from_pair(&pair)?;
        if new.kid != stored.kid {
            return Err(bad("private key does not match its kid".into()));
        }
        let mut signer = RS256.signer_from_der(&der).map_err(|e| bad(e.to_string()))?;
        signer.set_key_id(&new.kid);
        let jwk = josekit::jwk::Jwk::from_bytes(new.public_jwk.to_string()).map_err(|e| bad(e.to_string()))?;
        let mut verifier = RS256.verifier_from_jwk(&jwk).map_err(|e| bad(e.to_string()))?;
        verifier.set_key_id(&new.kid);
        Ok(Self {
            kid: new.kid,
            created_at: stored.created_at,
            activates_at: stored.activates_at,
            public_jwk: new.public_jwk,
            signer,
            verifier,
        })
    }

    /// Signs `payload` as a JWT (RS256, `kid` and `typ` in the header). RSASSA-PKCS1-v1_5 is deterministic:
    /// the same payload signed by the same key gives the same token. CPU work: call it from the blocking pool.
    pub fn sign_jwt(&self, payload: &JwtPayload, typ: &str) -> Result<String, JoseError> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&self.kid);
        Ok(josekit::jwt::encode_with_signer(payload, &header, &self.signer)?)
    }

    /// The verifier for tokens this key signed.
    pub fn verifier(&self) -> &RsassaJwsVerifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn generated_key_seals_and_unseals() {
        let kek = Kek::from_base64(&base64::engine::general_purpose::STANDARD.encode([3u8; 32])).unwrap();
        let key = NewKey::generate(2048).unwrap();
        let stored = key.seal(&kek, 1, 2).unwrap();
        assert!(!stored.public_jwk.contains("\"d\""));
        let opened = SigningKey::unseal(&stored, &kek).unwrap();
        assert_eq!(opened.kid, key.kid);
        assert_eq!(opened.activates_at, 2);
        let mut tampered = stored.clone();
        tampered.kid = "other".into();
        assert!(SigningKey::unseal(&tampered, &kek).is_err());
    }

    fn import_error(pem: &str) -> String {
        match NewKey::import_pem(pem) {
            Err(JoseError::Import(why)) => why,
            Err(other) => panic!("not an import error: {other}"),
            Ok(key) => panic!("imported {}", key.kid),
        }
    }

    fn pem(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn imports_pkcs1_and_pkcs8_pem_and_refuses_small_keys() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pkcs1 = String::from_utf8(rsa.private_key_to_pem().unwrap()).unwrap();
        let pkey = openssl::pkey::PKey::from_rsa(rsa).unwrap();
        let pkcs8 = String::from_utf8(pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let a = NewKey::import_pem(&pkcs1).unwrap();
        let b = NewKey::import_pem(&pkcs8).unwrap();
        assert_eq!(a.kid, b.kid);
        let small = openssl::rsa::Rsa::generate(1024).unwrap();
        let small = String::from_utf8(small.private_key_to_pem().unwrap()).unwrap();
        assert!(NewKey::import_pem(&small).is_err());
        assert!(NewKey::import_pem("garbage").is_err());
    }

    #[test]
    fn a_key_one_bit_short_of_2048_is_refused() {
        // 256 bytes of modulus, so a size counted in bytes took it for 2048 bits.
        let rsa = openssl::rsa::Rsa::generate(2047).unwrap();
        assert_eq!(rsa.n().num_bits(), 2047);
        let why = import_error(&pem(rsa.private_key_to_pem().unwrap()));
        assert!(why.contains("2047 bits") && why.contains("at least 2048"), "{why}");
    }

    /// A PKCS#1 PEM whose modulus has `bits` bits and whose factors are odd but not prime: the rsa crate checks
    /// the arithmetic of a key, not the primality of its factors, and two real 4,100-bit primes take OpenSSL
    /// many seconds to find.
    fn pem_with_modulus_bits(bits: i32) -> String {
        use openssl::bn::{BigNum, BigNumContext, MsbOption};
        let mut ctx = BigNumContext::new().unwrap();
        let one = BigNum::from_u32(1).unwrap();
        let e = BigNum::from_u32(65537).unwrap();
        loop {
            let (mut p, mut q) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            p.rand(bits / 2, MsbOption::TWO_ONES, true).unwrap();
            q.rand(bits - bits / 2, MsbOption::TWO_ONES, true).unwrap();
            let (p1, q1) = (&p - &one, &q - &one);
            let phi = &p1 * &q1;
            let (mut d, mut iqmp) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            if d.mod_inverse(&e, &phi, &mut ctx).is_err() || iqmp.mod_inverse(&q, &p, &mut ctx).is_err() {
                continue;
            }
            let (dmp1, dmq1) = (&d % &p1, &d % &q1);
            let n = &p * &q;
            assert_eq!(n.num_bits(), bits);
            let rsa = openssl::rsa::Rsa::from_private_components(n, e, d, p, q, dmp1, dmq1, iqmp).unwrap();
            return pem(rsa.private_key_to_pem().unwrap());
        }
    }

    #[test]
    fn a_key_over_8192_bits_is_refused() {
        let why = import_error(&pem_with_modulus_bits(8200));
        assert!(why.contains("8200 bits") && why.contains("at most 8192"), "{why}");
    }

    #[test]
    fn encrypted_and_public_keys_are_named_as_such() {
        use openssl::symm::Cipher;
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pkey = openssl::pkey::PKey::from_rsa(rsa.clone()).unwrap();
        let encrypted = pem(pkey.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pass").unwrap());
        assert!(encrypted.contains("BEGIN ENCRYPTED PRIVATE KEY"));
        let legacy = pem(rsa.private_key_to_pem_passphrase(Cipher::aes_128_cbc(), b"pass").unwrap());
        assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"));
        for sealed in [encrypted, legacy] {
            let why = import_error(&sealed);
            assert!(why.contains("the key is encrypted: decrypt it first (openssl pkey"), "{why}");
        }
        for public in [pem(rsa.public_key_to_pem().unwrap()), pem(rsa.public_key_to_pem_pkcs1().unwrap())] {
            let why = import_error(&public);
            assert_eq!(why, "this is a public key; import the private key");
        }
    }

    #[test]
    fn the_private_key_of_a_bundle_with_certificates_is_imported() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let pkey = openssl::pkey::PKey::from_rsa(rsa).unwrap();
        let mut cert = openssl::x509::X509::builder().unwrap();
        cert.set_pubkey(&pkey).unwrap();
        cert.sign(&pkey, openssl::hash::MessageDigest::sha256()).unwrap();
        let cert = pem(cert.build().to_pem().unwrap());
        let key = pem(pkey.private_key_to_pem_pkcs8().unwrap());
        let alone = NewKey::import_pem(&key).unwrap();
        let bundle = format!("{cert}Bag Attributes\n    localKeyID: 01\n{key}{cert}");
        assert_eq!(NewKey::import_pem(&bundle).unwrap().kid, alone.kid);
        let why = import_error(&format!("{key}{key}"));
        assert!(why.contains("2 private keys"), "{why}");
    }
}
