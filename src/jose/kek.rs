//! The key-encryption key: AES-256-GCM over the signing keys' private parts, so a database dump alone
//! does not give away the ability to sign tokens.
use super::JoseError;
use crate::config::KekSource;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use secrecy::ExposeSecret;
use std::path::Path;

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// First byte of every sealed value, so the format can change later without guessing.
const FORMAT_V1: u8 = 1;

/// A 256-bit key-encryption key.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").finish_non_exhaustive()
    }
}

impl Kek {
    /// Parses the base64 form (`openssl rand -base64 32`).
    pub fn from_base64(s: &str) -> Result<Self, JoseError> {
        let bytes = STANDARD.decode(s.trim()).map_err(|_| JoseError::Kek("is not valid base64".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| JoseError::Kek("must be 32 bytes (generate with `openssl rand -base64 32`)".into()))?;
        Ok(Self(arr))
    }

    /// A key from raw bytes (e.g. derived from other key material).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Loads the key from where the configuration says; the embedded default creates `keys/kek` (0600)
    /// on first start.
    pub fn load(source: &KekSource) -> Result<Self, JoseError> {
        match source {
            KekSource::Value(v) => Self::from_base64(v.expose_secret()),
            KekSource::File(path) => Self::read_file(path),
            KekSource::CreateIfMissing(path) => {
                if path.exists() {
                    Self::read_file(path)
                } else {
                    Self::create_file(path)
                }
            }
        }
    }

    fn read_file(path: &Path) -> Result<Self, JoseError> {
        crate::private_files::warn_if_open(path, "the key-encryption key");
        let text = std::fs::read_to_string(path)
            .map_err(|e| JoseError::Kek(format!("cannot read {}: {e}", path.display())))?;
        Self::from_base64(&text).map_err(|e| JoseError::Kek(format!("{}: {e}", path.display())))
    }

    fn create_file(path: &Path) -> Result<Self, JoseError> {
        use std::io::Write;
        let mut key = [0u8; 32];
        crate::domain::secret::fill_random(&mut key);
        if let Some(dir) = path.parent() {
            // Private to the owner when we create it; a directory that exists keeps the mode it was given.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(|e| JoseError::Kek(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file =
            options.open(path).map_err(|e| JoseError::Kek(format!("cannot create {}: {e}", path.display())))?;
        writeln!(file, "{}", STANDARD.encode(key))
            .map_err(|e| JoseError::Kek(format!("cannot write {}: {e}", path.display())))?;
        Ok(Self(key))
    }

    /// Encrypts `plaintext`, binding it to `aad` (the key id) so rows cannot be swapped.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::domain::secret::fill_random(&mut nonce);
        self.seal_with_nonce(nonce, plaintext, aad)
    }

    /// [`Kek::seal`] with a nonce the caller chose: for a value that must come out the same for the same
    /// inputs. The caller must never use one nonce for two plaintexts (a synthetic nonce, a MAC of everything
    /// sealed, ensures it).
    pub fn seal_with_nonce(&self, nonce: [u8; NONCE_LEN], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(Cipher::aes_256_gcm(), &self.0, Some(&nonce), aad, plaintext, &mut tag)
            .map_err(|e| JoseError::Kek(format!("encryption failed: {e}")))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len() + TAG_LEN);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// A key for another purpose, named by `label`: HMAC-SHA256 of the label under this key, so the KEK itself
    /// only ever seals, and what is made with a derived key tells nothing of the KEK or of other derived keys.
    pub fn derive(&self, label: &[u8]) -> Result<[u8; 32], JoseError> {
        hmac_sha256(&self.0, label).map_err(|e| JoseError::Kek(format!("key derivation failed: {e}")))
    }

    /// Decrypts what [`Kek::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed.first() != Some(&FORMAT_V1) {
            return Err("sealed key has an unknown format".into());
        }
        let (nonce, rest) = sealed[1..].split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(Cipher::aes_256_gcm(), &self.0, Some(nonce), aad, ct, tag)
            .map_err(|_| "cannot decrypt: wrong key-encryption key or corrupted data".to_string())
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], openssl::error::ErrorStack> {
    let pkey = PKey::hmac(key)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey)?;
    signer.update(message)?;
    let mut mac = [0u8; 32];
    signer.sign(&mut mac)?;
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let kek = Kek::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = kek.seal(b"secret key", b"kid1").unwrap();
        assert_eq!(kek.open(&sealed, b"kid1").unwrap(), b"secret key");
        assert!(kek.open(&sealed, b"kid2").is_err());
        let other = Kek::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed, b"kid1").is_err());
        assert!(kek.open(&sealed[..10], b"kid1").is_err());
    }

    #[test]
    fn derived_keys_depend_on_the_label_and_the_kek_and_are_not_the_kek() {
        let kek = Kek::from_bytes([7u8; 32]);
        let a = kek.derive(b"a").unwrap();
        assert_eq!(a, kek.derive(b"a").unwrap());
        assert_ne!(a, kek.derive(b"b").unwrap());
        assert_ne!(a, Kek::from_bytes([8u8; 32]).derive(b"a").unwrap());
        assert_ne!(a, [7u8; 32]);
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn refuses_short_keys() {
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Kek::from_base64("not base64!").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn creates_the_file_once_with_mode_0600_in_a_directory_with_mode_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/kek");
        let a = Kek::load(&KekSource::CreateIfMissing(path.clone())).unwrap();
        let b = Kek::load(&KekSource::CreateIfMissing(path.clone())).unwrap();
        assert_eq!(a.0, b.0);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("keys")).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700, "the directory made for it is private too");
    }
}
