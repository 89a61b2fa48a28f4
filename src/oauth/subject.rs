//! Subject identifiers (OpenID Connect Core 1.0 §8): the `sub` a client sees for a user. A public client sees
//! the user's id; a pairwise client sees base64url(SHA-256(sector || user id || salt)) (Core §8.1): the same for
//! every client of its sector, unrelated across sectors. The salt is derived from the key-encryption key, so every
//! instance computes the same subjects, across restarts, without a secret of its own.
//!
//! A pairwise subject cannot be turned back into the user, so an access token of a pairwise client also carries
//! the user's id sealed (AES-256-GCM under another derived key, bound to the client id) in the private claim
//! [`SEALED_USER_CLAIM`]. Only this server can read it when the token comes back (UserInfo, introspection,
//! revocation, token exchange); whoever else holds the token sees the pairwise `sub` alone.
use super::error::OAuthError;
use crate::domain::{Client, ClientId, UserId};
use crate::jose::kek::{hmac_sha256, Kek, NONCE_LEN};
use crate::jose::JoseError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The access token claim that holds the sealed user id of a pairwise client's token.
pub const SEALED_USER_CLAIM: &str = "tessera_user";
/// Names the salt; a new label would give every pairwise client new subjects for all its users.
const SALT_LABEL: &[u8] = b"tessera pairwise subject salt v1";
/// Names the key that seals user ids into access tokens.
const SEAL_LABEL: &[u8] = b"tessera pairwise user seal v1";
/// Names the key that makes the seal's synthetic nonces.
const NONCE_LABEL: &[u8] = b"tessera pairwise user nonce v1";

/// Computes subjects and seals user ids, with keys derived from the key-encryption key.
#[derive(Clone)]
pub struct Subjects {
    salt: [u8; 32],
    seal: Kek,
    nonce_key: [u8; 32],
}

impl std::fmt::Debug for Subjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subjects").finish_non_exhaustive()
    }
}

impl Subjects {
    /// Subjects under keys derived from `kek`.
    pub fn new(kek: &Kek) -> Result<Self, JoseError> {
        Ok(Self {
            salt: kek.derive(SALT_LABEL)?,
            seal: Kek::from_bytes(kek.derive(SEAL_LABEL)?),
            nonce_key: kek.derive(NONCE_LABEL)?,
        })
    }

    /// The pairwise subject of `user` in `sector` (Core §8.1): one SHA-256, base64url without padding.
    pub fn pairwise(&self, sector: &str, user: &UserId) -> String {
        let mut h = Sha256::new();
        h.update(sector.as_bytes());
        h.update(user.as_str().as_bytes());
        h.update(self.salt);
        URL_SAFE_NO_PAD.encode(h.finalize())
    }

    /// The `sub` `client` sees for `user`.
    pub fn for_client(&self, client: &Client, user: &UserId) -> String {
        match client.sector() {
            Some(sector) => self.pairwise(&sector, user),
            None => user.as_str().to_owned(),
        }
    }

    /// `user` sealed for the access token `jti` of `client`. The same inputs give the same value (the nonce is
    /// a MAC of them all), so a token minted again for the refresh grace window is the same token.
    pub fn seal_user(&self, user: &UserId, client: &ClientId, jti: &str) -> Result<String, OAuthError> {
        let message = [user.as_str(), client.as_str(), jti].join("\n");
        let mac = hmac_sha256(&self.nonce_key, message.as_bytes()).map_err(OAuthError::server)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&mac[..NONCE_LEN]);
        let sealed = self.seal.seal_with_nonce(nonce, user.as_str().as_bytes(), client.as_str().as_bytes())?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The user [`Subjects::seal_user`] sealed for `client`; `None` when `sealed` is not that.
    pub fn open_user(&self, sealed: &str, client: &ClientId) -> Option<UserId> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let plain = self.seal.open(&bytes, client.as_str().as_bytes()).ok()?;
        UserId::parse(String::from_utf8(plain).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(k: u8) -> Subjects {
        Subjects::new(&Kek::from_bytes([k; 32])).unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id.to_owned()).unwrap()
    }

    #[test]
    fn pairwise_subject_is_the_hash_of_sector_user_and_salt() {
        let s = subjects(1);
        let salt = Kek::from_bytes([1; 32]).derive(SALT_LABEL).unwrap();
        let mut h = Sha256::new();
        h.update(b"app.example");
        h.update(b"user-1");
        h.update(salt);
        let expected = URL_SAFE_NO_PAD.encode(h.finalize());
        assert_eq!(s.pairwise("app.example", &user("user-1")), expected);
        assert_eq!(expected.len(), 43, "unpadded base64url of 32 bytes");
    }

    #[test]
    fn pairwise_subjects_differ_by_sector_user_and_key_and_hide_the_user() {
        let (s, u) = (subjects(1), user("user-1"));
        let sub = s.pairwise("app.example", &u);
        assert_eq!(sub, subjects(1).pairwise("app.example", &u), "stable across instances");
        assert_ne!(sub, s.pairwise("other.example", &u));
        assert_ne!(sub, s.pairwise("app.example", &user("user-2")));
        assert_ne!(sub, subjects(2).pairwise("app.example", &u), "salted by the deployment's key");
        assert!(!sub.contains("user-1"));
    }

    #[test]
    fn sealed_users_open_for_their_client_only_and_are_deterministic() {
        let (s, u) = (subjects(1), user("user-1"));
        let (c, other) = (ClientId::parse("c1").unwrap(), ClientId::parse("c2").unwrap());
        let sealed = s.seal_user(&u, &c, "jti-1").unwrap();
        assert_eq!(sealed, s.seal_user(&u, &c, "jti-1").unwrap());
        assert_ne!(sealed, s.seal_user(&u, &c, "jti-2").unwrap());
        assert!(!sealed.contains("user-1"));
        assert_eq!(s.open_user(&sealed, &c), Some(u));
        assert_eq!(s.open_user(&sealed, &other), None, "bound to the client");
        assert_eq!(subjects(2).open_user(&sealed, &c), None);
        assert_eq!(s.open_user("not sealed", &c), None);
    }
}
