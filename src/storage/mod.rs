//! Storage behind traits. The protocol layer sees only these traits and [`StoreError`]; SQL lives in
//! [`diesel`](self::diesel) and hot, short-lived state in [`cache`].
pub mod cache;
pub mod diesel;

use crate::domain::secret::SecretHash;
use crate::domain::{Client, ClientId, NewUser, UnixTime, User, UserId, Username};
use async_trait::async_trait;

/// A storage failure, as the layers above need to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (the text names what was duplicated).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The backend cannot be reached or is saturated (pool timeout); worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else, with the backend's message for the logs.
    #[error("storage error: {0}")]
    Backend(String),
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// People who sign in.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` when the username is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    /// A user by stable id.
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// A user and their argon2 PHC hash, by username.
    async fn user_by_username(&self, username: &Username) -> StoreResult<Option<(User, String)>>;
    /// Users ordered by username, after `after` (keyset paging).
    async fn list_users(&self, after: Option<&Username>, limit: i64) -> StoreResult<Vec<User>>;
    /// Enables or disables a user; `NotFound` when there is none.
    async fn set_user_disabled(&self, username: &Username, disabled: bool, now: UnixTime) -> StoreResult<User>;
    /// Replaces a user's password hash; `NotFound` when there is none.
    async fn set_password_hash(&self, username: &Username, hash: String, now: UnixTime) -> StoreResult<User>;
}

/// OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client; `Conflict` when the id exists.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    /// A client by id.
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    /// All clients ordered by id, after `after` (keyset paging).
    async fn list_clients(&self, after: Option<&ClientId>, limit: i64) -> StoreResult<Vec<Client>>;
    /// Replaces every field of an existing client; `NotFound` when there is none.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes a client; `NotFound` when there is none.
    async fn delete_client(&self, id: &ClientId) -> StoreResult<()>;
}

/// A signing key as stored: the private key is encrypted with the key-encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JWS algorithm, e.g. `RS256`.
    pub alg: String,
    /// AES-256-GCM sealed PKCS#8 DER of the private key.
    pub private_key_sealed: Vec<u8>,
    /// The public JWK as JSON.
    pub public_jwk: String,
    /// When the key was made.
    pub created_at: UnixTime,
    /// When it starts signing; before that it is only published (state `next`).
    pub activates_at: UnixTime,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// The signing key ring, shared by every instance through SQL.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// A number that changes whenever the ring changes; instances poll it to know when to reload.
    async fn ring_version(&self) -> StoreResult<i64>;
    /// Every stored key with the ring version they belong to.
    async fn load_ring(&self) -> StoreResult<(i64, Vec<StoredKey>)>;
    /// Inserts `add` and deletes `remove` if the ring is still at `expected_version`, bumping the version,
    /// all in one transaction. `Ok(false)` when another instance changed the ring first.
    async fn update_ring(&self, expected_version: i64, add: Vec<StoredKey>, remove: Vec<String>) -> StoreResult<bool>;
}

/// Reachability of a backend, for `/readyz`.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the backend answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// An initial access token for dynamic registration, stored as a hash.
#[derive(Debug, Clone)]
pub struct InitialAccessToken {
    /// SHA-256 of the token.
    pub hash: SecretHash,
    /// Creation time.
    pub created_at: UnixTime,
    /// When it stops working.
    pub expires_at: UnixTime,
}

/// Browser sessions (the cookie's hash is the key).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &crate::domain::Session) -> StoreResult<()>;
    /// A session by the hash of its cookie value, revoked or not.
    async fn session(&self, id_hash: &str) -> StoreResult<Option<crate::domain::Session>>;
    /// Marks a session revoked; `NotFound` when there is none.
    async fn revoke_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Revokes every session of a user; returns how many were active.
    async fn revoke_user_sessions(&self, user_id: &UserId) -> StoreResult<u64>;
}

/// Scopes a user granted a client (consent), remembered so the consent page is not shown again.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The scopes `user_id` granted `client_id`, if any.
    async fn consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Option<crate::domain::Scope>>;
    /// Records a grant, replacing the stored scopes with `scope` (callers pass the union they want kept).
    async fn save_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        scope: &crate::domain::Scope,
        now: UnixTime,
    ) -> StoreResult<()>;
    /// Every client a user granted, with scopes and last change, for the account page.
    async fn consents_of_user(&self, user_id: &UserId) -> StoreResult<Vec<(ClientId, crate::domain::Scope, UnixTime)>>;
    /// Forgets a grant; `NotFound` when there is none.
    async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<()>;
}

/// Revoked access tokens by `jti`, kept until they would have expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records a revoked `jti` (idempotent: revoking twice is fine).
    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    /// Whether `jti` is revoked.
    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Deletes rows whose token expired before `now`; returns how many.
    async fn purge_expired_revocations(&self, now: UnixTime) -> StoreResult<u64>;
}
