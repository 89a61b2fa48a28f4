//! A software authenticator for the API tests: what a browser and a platform authenticator make of a ceremony's
//! options (WebAuthn §5.1.3, §5.1.4, §6.1, §6.5): a P-256 key (COSE ES256) with a resident credential, user
//! presence and verification always given, attestation `none`, and a signature counter that grows by one per
//! assertion. Only the few CBOR shapes an attestation object needs are written here.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// CBOR (RFC 8949): one item's head, major type and argument.
fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        head(0, i as u64, out);
    } else {
        head(1, (-1 - i) as u64, out);
    }
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    head(2, b.len() as u64, out);
    out.extend_from_slice(b);
}

fn text(s: &str, out: &mut Vec<u8>) {
    head(3, s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// A platform authenticator holding one credential.
#[derive(Clone)]
pub struct SoftAuthenticator {
    key: EcKey<Private>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    /// The signature counter of the next assertion, less one.
    pub counter: u32,
}

impl SoftAuthenticator {
    /// `navigator.credentials.create` at `origin` with the `publicKey` options: the new authenticator, and the
    /// JSON of the `PublicKeyCredential` the page posts.
    pub fn create(options: &Value, origin: &str) -> (Self, String) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let mut credential_id = vec![0u8; 32];
        openssl::rand::rand_bytes(&mut credential_id).unwrap();
        let rp_id = options["rp"]["id"].as_str().expect("rp.id").to_owned();
        let user_handle = URL_SAFE_NO_PAD.decode(options["user"]["id"].as_str().expect("user.id")).unwrap();
        let me = Self { key, credential_id, user_handle, rp_id, counter: 0 };
        let client_data = me.client_data("webauthn.create", options, origin);

        let (mut x, mut y) = (openssl::bn::BigNum::new().unwrap(), openssl::bn::BigNum::new().unwrap());
        let mut ctx = BigNumContext::new().unwrap();
        me.key.public_key().affine_coordinates(&group, &mut x, &mut y, &mut ctx).unwrap();
        let mut cose = Vec::new();
        head(5, 5, &mut cose);
        int(1, &mut cose); // kty: EC2
        int(2, &mut cose);
        int(3, &mut cose); // alg: ES256
        int(-7, &mut cose);
        int(-1, &mut cose); // crv: P-256
        int(1, &mut cose);
        int(-2, &mut cose);
        bytes(&x.to_vec_padded(32).unwrap(), &mut cose);
        int(-3, &mut cose);
        bytes(&y.to_vec_padded(32).unwrap(), &mut cose);

        // UP, UV and attested credential data.
        let mut auth_data = me.auth_data(0x01 | 0x04 | 0x40, 0);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((me.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&me.credential_id);
        auth_data.extend(cose);

        let mut attestation = Vec::new();
        head(5, 3, &mut attestation);
        text("fmt", &mut attestation);
        text("none", &mut attestation);
        text("attStmt", &mut attestation);
        head(5, 0, &mut attestation);
        text("authData", &mut attestation);
        bytes(&auth_data, &mut attestation);

        let id = b64(&me.credential_id);
        let answer = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": { "attestationObject": b64(&attestation), "clientDataJSON": b64(&client_data), "transports": ["internal"] },
            "extensions": { "credProps": { "rk": true } },
        });
        (me, answer.to_string())
    }

    /// `navigator.credentials.get` at `origin` with the `publicKey` options: the JSON of the
    /// `PublicKeyCredential` the page posts, its counter one more than the last.
    pub fn get(&mut self, options: &Value, origin: &str) -> String {
        assert_eq!(options["rpId"], self.rp_id.as_str(), "options for another RP: {options}");
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options, origin);
        let auth_data = self.auth_data(0x01 | 0x04, self.counter);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = EcdsaSig::sign(&Sha256::digest(&signed), &self.key).unwrap().to_der().unwrap();
        let id = b64(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
        })
        .to_string()
    }

    fn client_data(&self, kind: &str, options: &Value, origin: &str) -> Vec<u8> {
        let challenge = options["challenge"].as_str().expect("a challenge");
        json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false }).to_string().into_bytes()
    }

    fn auth_data(&self, flags: u8, counter: u32) -> Vec<u8> {
        let mut out = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        out.push(flags);
        out.extend(counter.to_be_bytes());
        out
    }
}
