//! Storage behind traits. The protocol layer sees only these traits and [`StoreError`]; SQL lives in
//! [`diesel`](self::diesel) and hot, short-lived state in [`cache`].
pub mod audit;
pub mod cache;
pub mod client_cache;
pub mod diesel;
pub mod revocation_epoch;

use crate::domain::passkey::StoredPasskey;
use crate::domain::secret::SecretHash;
use crate::domain::{
    Client, ClientId, FederatedIdentity, Group, GroupName, Jkt, NewUser, UnixTime, User, UserId, Username,
};
use async_trait::async_trait;

pub use audit::{AuditCursor, AuditEvent, AuditFilter, AuditStore};

/// A storage failure, as the layers above need to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (the text names what was duplicated).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A row the write names (a client or a user) is gone: a foreign key refused it. The text names the
    /// constraint when the backend tells (Postgres does, SQLite does not).
    #[error("refers to a row that is gone: {0}")]
    ReferenceGone(String),
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
    /// Creates a user; `Conflict("username")` when the username is taken in any letter case: another user has it
    /// or one that folds alike ([`Username::folded`]).
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    /// A user by stable id.
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// A user and their argon2 PHC hash, by username: the user named so exactly, else the one whose username folds
    /// alike. Users stored before usernames were folded whose usernames differ only in letter case are found by
    /// their exact name only.
    async fn user_by_username(&self, username: &Username) -> StoreResult<Option<(User, String)>>;
    /// The users `filter` finds, ordered by username, after `after` (keyset paging).
    async fn list_users(&self, filter: &UserFilter, after: Option<&Username>, limit: i64) -> StoreResult<Vec<User>>;
    /// Enables or disables the user [`UserStore::user_by_username`] finds; `NotFound` when there is none. Disabling also moves the user's revoked-before
    /// cut-off to `now` in the same transaction, as [`UserStore::set_user_revoked_before`] would, so enabling
    /// them later does not bring back what they held before.
    async fn set_user_disabled(&self, username: &Username, disabled: bool, now: UnixTime) -> StoreResult<User>;
    /// Replaces the password hash of the user [`UserStore::user_by_username`] finds, an operator's password, which
    /// is `temporary` or not ([`User::password_change_required`]); `NotFound` when there is none.
    async fn set_password_hash(
        &self,
        username: &Username,
        hash: String,
        temporary: bool,
        now: UnixTime,
    ) -> StoreResult<User>;
    /// Replaces the user's password hash with `hash`, a new hash of the same password, only while the stored one
    /// is still `checked` (the one a sign-in just accepted), so that a password changed meanwhile is never
    /// overwritten. Not a password change: `updated_at` and the revoked-before cut-off stay. Returns whether the
    /// hash was replaced (not when it changed meanwhile or the user is gone).
    async fn upgrade_password_hash(&self, id: &UserId, checked: &str, hash: String) -> StoreResult<bool>;
    /// Replaces the user's password hash with `hash`, a new password's, only while the stored one is still
    /// `checked` (the one the user's current password was just checked against), and sets `updated_at` to `now`.
    /// The user chose it: a temporary password's flag ([`User::password_change_required`]) is cleared with it.
    /// Returns whether it was replaced (not when the password changed meanwhile or the user is gone).
    async fn change_password_hash(&self, id: &UserId, checked: &str, hash: String, now: UnixTime) -> StoreResult<bool>;
    /// Marks the user's email address verified, and sets `updated_at` to `now`, only while it is still `email`
    /// (the address a verification link was sent to). Returns whether it was (not when the address changed
    /// meanwhile or the user is gone).
    async fn mark_email_verified(&self, id: &UserId, email: &str, now: UnixTime) -> StoreResult<bool>;
    /// Makes every token issued to the user before `at` invalid ("sign out everywhere"), never moving an
    /// existing later cut-off back; `NotFound` when there is none.
    async fn set_user_revoked_before(&self, id: &UserId, at: UnixTime) -> StoreResult<()>;
    /// Applies `update` in one transaction and returns the user as it is then; `updated_at` becomes `now`
    /// when `update` changes anything, and a changed email address is no longer verified. Disabling moves the
    /// revoked-before cut-off to `now`, as [`UserStore::set_user_disabled`] does. `NotFound` when there is none.
    async fn update_user(&self, id: &UserId, update: UserUpdate, now: UnixTime) -> StoreResult<User>;
    /// The argon2 hashes of the user's last `limit` passwords, newest first: every write of a password hash
    /// above ([`UserStore::create_user`], [`UserStore::set_password_hash`], [`UserStore::change_password_hash`],
    /// [`UserStore::update_user`]) records the new one, keeping the newest `passwords.history`, and a rehash
    /// ([`UserStore::upgrade_password_hash`]) replaces its entry rather than adding one. A password set before
    /// the history was kept is not in it.
    async fn password_history(&self, id: &UserId, limit: usize) -> StoreResult<Vec<String>>;
    /// Deletes a user; their sessions, consents, refresh tokens and password history go with them (foreign keys
    /// cascade).
    /// `NotFound` when there is none.
    async fn delete_user(&self, id: &UserId) -> StoreResult<()>;
}

/// Which users [`UserStore::list_users`] lists: every one when nothing is given; each filter given narrows the
/// others.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only the user [`UserStore::user_by_username`] finds by this name.
    pub username: Option<Username>,
    /// Only users with this email address, in any letter case and Unicode form (folded as usernames are).
    pub email: Option<String>,
    /// Only users whose username begins with this text, both folded as usernames are matched
    /// ([`Username::folded`]), or whose email address begins with it folded alike (as `email`). A user without
    /// a username key (two old accounts that fold alike) is matched by their exact username. A prefix rather than a
    /// substring: it is a range of an index.
    pub prefix: Option<String>,
}

/// Identities at upstream OpenID providers, linked to local users ("Sign in with …").
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The user `subject` at `provider_id` is linked to, if any, and records its use at `now`.
    async fn linked_user(&self, provider_id: &str, subject: &str, now: UnixTime) -> StoreResult<Option<User>>;
    /// Up to `limit` users whose email address is `email` in any letter case and Unicode form, by username.
    async fn users_with_email(&self, email: &str, limit: i64) -> StoreResult<Vec<User>>;
    /// Links an identity to an existing user; `Conflict("identity")` when it is linked already,
    /// `ReferenceGone` when the user is gone.
    async fn link_identity(&self, identity: &FederatedIdentity) -> StoreResult<()>;
    /// Creates `user` and links `identity` to it, in one transaction: `Conflict("username")` as [`UserStore::create_user`], `Conflict("identity")` when the
    /// identity was linked meanwhile.
    async fn create_federated_user(&self, user: NewUser, identity: &FederatedIdentity) -> StoreResult<User>;
    /// The identities linked to a user, by provider and subject.
    async fn identities_of(&self, user_id: &UserId) -> StoreResult<Vec<FederatedIdentity>>;
    /// Removes the user's links at `provider_id`. With `keep_a_way_in`, only when the user can still sign in
    /// afterwards (a password, or another of the [`WaysIn`]), checked in the same transaction as the removal, with
    /// the user's row locked, so that two removals at once (of links or passkeys) cannot both pass.
    async fn unlink_identity(
        &self,
        user_id: &UserId,
        provider_id: &str,
        keep_a_way_in: Option<&WaysIn>,
    ) -> StoreResult<Unlinked>;
}

/// What signs a user in besides a password, for the removals that must leave the user a way in
/// ([`IdentityStore::unlink_identity`], [`PasskeyStore::remove_passkey`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaysIn {
    /// The upstream providers configured now: a link elsewhere signs nobody in.
    pub providers: Vec<String>,
    /// Whether passkeys sign in (not when the issuer is named by an IP address).
    pub passkeys: bool,
}

/// What [`IdentityStore::unlink_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The links were removed.
    Removed,
    /// The user has no link at that provider.
    NotLinked,
    /// Nothing was removed: it is the user's last way to sign in.
    LastWayIn,
}

/// A user's TOTP secret as stored: sealed with the key-encryption key, the last time step accepted, and when it
/// was turned on. Its `Debug` leaves out the sealed secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredOtp {
    /// The secret, sealed (AES-256-GCM, bound to the user id).
    pub secret_sealed: Vec<u8>,
    /// The last time step whose code was accepted: it and earlier ones are refused.
    pub last_step: i64,
    /// When it was turned on.
    pub enabled_at: UnixTime,
}

impl std::fmt::Debug for StoredOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredOtp")
            .field("last_step", &self.last_step)
            .field("enabled_at", &self.enabled_at)
            .finish_non_exhaustive()
    }
}

/// Users' TOTP secrets (two-step sign-in).
#[async_trait]
pub trait OtpStore: Send + Sync {
    /// The user's TOTP, if it is turned on.
    async fn otp(&self, user_id: &UserId) -> StoreResult<Option<StoredOtp>>;
    /// Turns TOTP on for the user with `otp` and the hashes of their new recovery codes: `false`, and nothing
    /// written, when it is on already (a secret turned on by a set-up at the same time is never replaced);
    /// `ReferenceGone` when the user is gone.
    async fn enable_otp(&self, user_id: &UserId, otp: &StoredOtp, recovery_hashes: &[String]) -> StoreResult<bool>;
    /// Replaces all the user's recovery codes with `recovery_hashes` in one transaction, if TOTP is on: whether
    /// it was (the earlier codes stop working either way).
    async fn renew_recovery_codes(&self, user_id: &UserId, recovery_hashes: &[String]) -> StoreResult<bool>;
    /// Uses the recovery code whose hash is `code_hash`, in one DELETE: whether it was there (each works once).
    async fn use_recovery_code(&self, user_id: &UserId, code_hash: &str) -> StoreResult<bool>;
    /// Records `step` as accepted if it is after the last one accepted, in one conditional write: whether it was
    /// (of two requests with the same code, one wins).
    async fn accept_otp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool>;
    /// Turns TOTP off for the user, with their recovery codes: whether it was on.
    async fn disable_otp(&self, user_id: &UserId) -> StoreResult<bool>;
    /// Those of `user_ids` that have TOTP turned on.
    async fn users_with_otp(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserId>>;
}

/// Users' passkeys (WebAuthn credentials).
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey: `Conflict("credential")` when its credential id is stored already (for any user),
    /// `ReferenceGone` when the user is gone.
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()>;
    /// The user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<StoredPasskey>>;
    /// The passkey whose credential id (base64url) is `credential_id`, if any.
    async fn passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<StoredPasskey>>;
    /// Records that the passkey `id`, whose credential the sign-in read as `read`, signed its user in at `now`,
    /// with its credential as the sign-in left it (a new signature counter): whether it was still there as read
    /// (not removed, nor used by another sign-in meanwhile, whose counter this one was not checked against).
    async fn record_passkey_use(&self, id: &str, read: &str, credential: &str, now: UnixTime) -> StoreResult<bool>;
    /// Removes the user's passkey `id`. With `keep_a_way_in`, only when the user can still sign in afterwards (a
    /// password, or another of the [`WaysIn`]), checked as [`IdentityStore::unlink_identity`] checks it.
    async fn remove_passkey(
        &self,
        user_id: &UserId,
        id: &str,
        keep_a_way_in: Option<&WaysIn>,
    ) -> StoreResult<PasskeyRemoval>;
}

/// What [`PasskeyStore::remove_passkey`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyRemoval {
    /// This passkey was removed.
    Removed(StoredPasskey),
    /// The user has no such passkey.
    NotFound,
    /// Nothing was removed: it is the user's last way to sign in.
    LastWayIn,
}

/// A member of a group, as its listing names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The user's stable id.
    pub id: UserId,
    /// Their username.
    pub username: Username,
}

/// Groups of users, and who is in each.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Stores a new group: `Conflict("group")` when its name is taken.
    async fn create_group(&self, group: &Group) -> StoreResult<()>;
    /// Every group, sorted by name, with how many users are in it (one query for all).
    async fn list_groups(&self) -> StoreResult<Vec<(Group, u64)>>;
    /// The members of the group named `name`, by username, after `after` (keyset paging), at most `limit`;
    /// `NotFound` when there is no such group.
    async fn group_members(
        &self,
        name: &GroupName,
        after: Option<&Username>,
        limit: i64,
    ) -> StoreResult<Vec<GroupMember>>;
    /// Deletes the group named `name`, with its memberships; `NotFound` when there is none.
    async fn delete_group(&self, name: &GroupName) -> StoreResult<()>;
    /// The names of the groups the user is in, sorted (by byte, as the `groups` claim lists them).
    async fn groups_of(&self, user_id: &UserId) -> StoreResult<Vec<GroupName>>;
    /// Puts the user in the group: whether they were not in it yet. `NotFound` when there is no such group,
    /// `ReferenceGone` when the user is gone.
    async fn add_member(&self, user_id: &UserId, group: &GroupName) -> StoreResult<bool>;
    /// Takes the user out of the group: whether they were in it. `NotFound` when there is no such group.
    async fn remove_member(&self, user_id: &UserId, group: &GroupName) -> StoreResult<bool>;
}

/// A change to a user: each `Some` field is set (`Some(None)` clears an optional one), `None` leaves it alone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New email address, or `Some(None)` to remove it.
    pub email: Option<Option<String>>,
    /// Whether the address (the new one, if given) is the user's; absent, a changed address is unverified.
    /// Never true without an address.
    pub email_verified: Option<bool>,
    /// New display name, or `Some(None)` to remove it.
    pub name: Option<Option<String>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// New argon2 PHC hash.
    pub password_hash: Option<String>,
    /// Whether the password is temporary ([`User::password_change_required`]); set with a new hash.
    pub password_change_required: Option<bool>,
}

impl UserUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl std::fmt::Debug for UserUpdate {
    // The hash is not a password, but it stays out of logs all the same.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("name", &self.name)
            .field("disabled", &self.disabled)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "…"))
            .field("password_change_required", &self.password_change_required)
            .finish()
    }
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
    /// Replaces every field of an existing client but `revoked_before`, which only
    /// [`ClientStore::set_client_revoked_before`] moves: a write built from an earlier read must not undo a
    /// revocation made since. Only while the stored client is still at `client.revision`, the revision the
    /// caller's copy was made from, and counts it up: `Conflict` otherwise, so that such a write cannot undo a
    /// change made meanwhile (a secret rotation, another update). `NotFound` when there is none.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// Moves a client's `revoked_before` to `at`, never back (a later cut-off already set stays); `NotFound`
    /// when there is no such client.
    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()>;
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

/// A browser session with what the authorization endpoint decides on: its user and that user's consent for
/// one client.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// The session, revoked or not.
    pub session: crate::domain::Session,
    /// Its user; `None` when the user is gone.
    pub user: Option<User>,
    /// What the user granted the client, if anything.
    pub consent: Option<crate::domain::Consent>,
}

/// A client to tell when a browser session ends ([`SessionStore::session_clients`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClient {
    /// The session.
    pub session_id: String,
    /// The client.
    pub client_id: ClientId,
    /// The `sid` of the tokens the client was issued: the session's own, or that of a session handed over to it.
    pub sid: String,
}

/// Browser sessions (the cookie's hash is the key).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &crate::domain::Session) -> StoreResult<()>;
    /// A session by the hash of its cookie value, revoked or not.
    async fn session(&self, id_hash: &str) -> StoreResult<Option<crate::domain::Session>>;
    /// [`SessionStore::session`] with its user and the user's consent for `client_id`, in one trip to the
    /// database.
    async fn session_for_client(&self, id_hash: &str, client_id: &ClientId) -> StoreResult<Option<SessionContext>>;
    /// Records that session `id_hash` was used at `now`, if its stored last use is before `stale_before` (and
    /// before `now`: a use never moves it back). The condition is in the write itself, so that requests that
    /// read the same stale time at once write it once. Whether it was recorded.
    async fn record_session_use(&self, id_hash: &str, now: UnixTime, stale_before: UnixTime) -> StoreResult<bool>;
    /// Marks a session revoked; `NotFound` when there is none.
    async fn revoke_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Hands session `from` over to session `to`, in one transaction: the same user signed in again in that
    /// browser. `from` is revoked (its cookie signs nobody in), and it and the sessions handed over to it before
    /// follow `to`: the tokens bound to them live as long as `to` does (`session_live`, code redemptions), end
    /// with it ([`RefreshTokenStore::revoke_session_refresh_tokens`]), and keep their `sid`, whose clients are
    /// told when `to` ends ([`SessionStore::session_clients`]).
    async fn hand_over_session(&self, from: &str, to: &str) -> StoreResult<()>;
    /// Stores session `to` and hands session `from` over to it ([`SessionStore::hand_over_session`]), in one
    /// transaction: the session moves to a new cookie, and either both are written or neither.
    async fn renew_session(&self, from: &str, to: &crate::domain::Session) -> StoreResult<()>;
    /// Records that `client_id` was issued tokens within session `session_id`, which they name as their `sid`, to
    /// be told when it ends (back-channel logout). Recording it again is fine; `ReferenceGone` when the session or
    /// client is gone.
    async fn record_session_client(&self, session_id: &str, client_id: &ClientId) -> StoreResult<()>;
    /// The clients recorded for each of `session_ids` and for the sessions handed over to them (listed under the
    /// session they were handed over to), by session, client and sid.
    async fn session_clients(&self, session_ids: &[String]) -> StoreResult<Vec<SessionClient>>;
    /// The sessions of a user that are neither revoked nor past their end at `now`, newest first (the account
    /// page).
    async fn sessions_of_user(&self, user_id: &UserId, now: UnixTime) -> StoreResult<Vec<crate::domain::Session>>;
    /// Revokes every session of a user; returns how many were active.
    async fn revoke_user_sessions(&self, user_id: &UserId) -> StoreResult<u64>;
    /// Deletes sessions that ended before `now`; returns how many.
    async fn purge_expired_sessions(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Scopes and claims a user granted a client (consent), remembered so the consent page is not shown again.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Adds `granted` to what `user_id` granted `client_id`, atomically: grants made at the same time (two tabs)
    /// all count. A grant that would take the stored scope past the scope limit replaces it instead.
    async fn grant_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        granted: &crate::domain::Consent,
        now: UnixTime,
    ) -> StoreResult<()>;
    /// Every client a user granted, with what was granted and when, ordered by client id (the account page, the
    /// admin API).
    async fn consents_of_user(&self, user_id: &UserId) -> StoreResult<Vec<StoredConsent>>;
    /// Forgets a grant; `NotFound` when there is none.
    async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<()>;
    /// Withdraws everything `user_id` gave `client_id`: records `now` as the cut-off of the codes and access
    /// tokens issued to the client for the user ([`AccessTokenStanding::grant_revoked_before`]), kept until
    /// `keep_until` (never moved back by an earlier `now`); then, in one transaction, forgets the consent and
    /// revokes the user's refresh tokens of that client (every family, offline or not). The cut-off is committed
    /// first, so a code redemption either finds it or stored its family before the revocation looks (see
    /// [`RefreshTokenStore::redeem_code_grant`]). Nothing to withdraw is not an error.
    async fn withdraw_grant(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        keep_until: UnixTime,
    ) -> StoreResult<WithdrawnGrant>;
}

/// A user's consent for one client as stored ([`ConsentStore::consents_of_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsent {
    /// The client.
    pub client_id: ClientId,
    /// The scopes and claims granted.
    pub consent: crate::domain::Consent,
    /// The first grant.
    pub created_at: UnixTime,
    /// The last change (a grant adding to it, or one adding nothing).
    pub updated_at: UnixTime,
}

/// What [`ConsentStore::withdraw_grant`] found and ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WithdrawnGrant {
    /// A stored consent was deleted.
    pub consent: bool,
    /// The access tokens issued with the revoked refresh tokens that expire after `now`, for the caller to deny.
    pub issued: IssuedAccessTokens,
}

/// What an access token's standing rests on, as the database has it now.
#[derive(Debug, Clone)]
pub struct AccessTokenStanding {
    /// Its `jti` is revoked (the client and user are then not read).
    pub revoked: bool,
    /// Its client; `None` when the client is gone.
    pub client: Option<Client>,
    /// Its user, when it names one; `None` when there is none or the user is gone.
    pub user: Option<User>,
    /// Whether the session it is bound to, when asked about one, is neither revoked nor past its end (for a
    /// session handed over, the one it was handed over to).
    pub session_live: bool,
    /// When its user last withdrew its client's access ([`ConsentStore::withdraw_grant`]): tokens issued in or
    /// before that second are ended.
    pub grant_revoked_before: Option<UnixTime>,
}

/// Revoked access tokens by `jti`, kept until they would have expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records a revoked `jti` (idempotent: revoking twice is fine).
    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    /// Whether `jti` is revoked and, if not, the client, the user (when `user_id` is given) and whether
    /// `session` (its id, and the time now) is live, in one trip to the database.
    async fn access_token_standing(
        &self,
        jti: &str,
        client_id: &ClientId,
        user_id: Option<&UserId>,
        session: Option<(&str, UnixTime)>,
    ) -> StoreResult<AccessTokenStanding>;
    /// Deletes rows whose token expired before `now`, and grants' cut-offs kept until before `now`; returns
    /// how many.
    async fn purge_expired_revocations(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Whether the grant behind an authorization code still stands when the code is redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeGrantStanding {
    /// It does (and its refresh token, if any, is stored).
    Live,
    /// The user is gone or disabled.
    UserCannotSignIn,
    /// The browser session ended or was logged out of.
    SessionEnded,
    /// The client is gone, or its tokens were revoked at or after the code was issued.
    ClientRevoked,
    /// The user withdrew the client's access ([`ConsentStore::withdraw_grant`]) at or after the code was issued.
    AppWithdrawn,
}

/// A refresh token as stored: only the hash of the token, with its family (the grant) and lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Row id.
    pub id: String,
    /// SHA-256 of the token, base64url.
    pub token_hash: String,
    /// The grant: every token rotated from the first one shares it.
    pub family_id: String,
    /// The token this one was rotated from.
    pub parent_id: Option<String>,
    /// The client.
    pub client_id: ClientId,
    /// The user.
    pub user_id: Option<UserId>,
    /// The browser session it is bound to (`sid`).
    pub session_id: Option<String>,
    /// Granted scope.
    pub scope: crate::domain::Scope,
    /// Audience of the access tokens it yields.
    pub resource: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// Issued for `offline_access`: survives the end of its session.
    pub offline: bool,
    /// Creation time.
    pub created_at: UnixTime,
    /// Absolute end of the family (inherited on rotation).
    pub expires_at: UnixTime,
    /// End if unused until then.
    pub idle_expires_at: UnixTime,
    /// When it was rotated (used); a used token presented again is a replay.
    pub used_at: Option<UnixTime>,
    /// Revoked (logout, revocation, reuse detection).
    pub revoked: bool,
    /// The access token issued with it, so revoking the family revokes that too.
    pub access_jti: Option<String>,
    /// That access token's expiry.
    pub access_expires_at: Option<UnixTime>,
    /// The thumbprint of the DPoP key the family is bound to (a public client's, RFC 9449 §5): every token of the
    /// family is refreshed only with a proof of that key.
    pub dpop_jkt: Option<crate::domain::Jkt>,
    /// The user claims the `claims` request parameter asked UserInfo to return (OIDC Core §5.5): every access
    /// token of the family lets UserInfo return them.
    pub userinfo_claims: crate::domain::ClaimNames,
    /// How the user authenticated in the sign-in the grant comes from (`amr`, RFC 8176), which the ID tokens of
    /// its refreshes repeat with the `acr` it implies (OIDC Core §12.2); empty when not known (a family stored
    /// before it was kept).
    pub amr: Vec<String>,
    /// The user claims the `claims` request parameter asked for in the ID token (OIDC Core §5.5): the ID tokens
    /// of the family's refreshes carry them too, with the user's values at the refresh.
    pub id_token_claims: crate::domain::ClaimNames,
    /// What this token's rotation issued, sealed by the protocol for retries within the refresh grace window
    /// (written by [`RefreshTokenStore::rotate_refresh_token`]); `None` while unused.
    pub grace_record: Option<Vec<u8>>,
}

/// Access tokens (`jti`, `exp`) to revoke, as returned when refresh tokens are revoked.
pub type IssuedAccessTokens = Vec<(String, UnixTime)>;

/// A family that [`RefreshTokenStore::revoke_live_family`] found live and revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedFamily {
    /// The client its tokens were issued to.
    pub client_id: ClientId,
    /// Their user (`None` for a client's own tokens).
    pub user_id: Option<UserId>,
    /// The access tokens issued with them that expire after `now`.
    pub issued: IssuedAccessTokens,
}

/// Refresh tokens.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new token (the first of a family, or a rotated one through [`RefreshTokenStore::rotate_refresh_token`]).
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// For the code grant, in one trip to the database: whether `user_id` can still sign in, the session the
    /// code was issued in has neither ended nor been logged out of at `now`, the client (with the time the
    /// code was issued) still exists and had its tokens revoked only before, and the user withdrew its access
    /// only before; when all hold, the insert of the grant's first refresh token, if any. A logout racing the
    /// insert either commits first and is seen here, or waits for the insert to commit and then revokes the new
    /// token with the session's others. A withdrawal is looked for once the insert has committed (the token is
    /// then revoked), since it is committed before its revocation looks: one of the two sees the other.
    ///
    /// A grant bound to no session (`session_id` `None`: the device grant, approved in a browser the device is
    /// not) is checked against the user's own cut-off instead (`revoked_before`, "sign out everywhere" and
    /// disabling move it): one in or after the second it was issued in refuses it as
    /// [`CodeGrantStanding::UserCannotSignIn`].
    async fn redeem_code_grant(
        &self,
        user_id: &UserId,
        session_id: Option<&str>,
        client: (&ClientId, UnixTime),
        refresh: Option<&RefreshTokenRecord>,
        now: UnixTime,
    ) -> StoreResult<CodeGrantStanding>;
    /// Whether any token of the family is stored, whatever its state.
    async fn refresh_family_exists(&self, family_id: &str) -> StoreResult<bool>;
    /// The user the family's tokens were issued to, whatever their state (`None` when no token of the family is
    /// stored, or they name no user).
    async fn refresh_family_user(&self, family_id: &str) -> StoreResult<Option<UserId>>;
    /// A token by its hash, whatever its state.
    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// [`RefreshTokenStore::refresh_token_by_hash`] with the token's user as it is now, in one read (`None`
    /// for a client's own token, or a user that is gone).
    async fn refresh_token_and_user_by_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshTokenRecord, Option<User>)>>;
    /// In one transaction: marks `old_id` used at `now` only if it is neither used nor revoked, keeps
    /// `grace_record` in it, ends it at `keep_until` at the latest (its `expires_at` and `idle_expires_at`, so that
    /// the purge deletes it then), and then inserts `new`. `Ok(false)` when another request used or revoked it
    /// first (nothing is written), so concurrent uses of one token cannot both rotate it.
    async fn rotate_refresh_token(
        &self,
        old_id: &str,
        new: &RefreshTokenRecord,
        grace_record: Option<&[u8]>,
        now: UnixTime,
        keep_until: UnixTime,
    ) -> StoreResult<bool>;
    /// A user's refresh tokens that can still be used at `now`: neither used, revoked nor past their absolute or
    /// idle end (the account page's connected apps).
    async fn live_refresh_tokens_of_user(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Vec<RefreshTokenRecord>>;
    /// Revokes every token of a family; returns the access tokens issued with them that expire after `now`.
    async fn revoke_family(&self, family_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens>;
    /// [`RefreshTokenStore::revoke_family`] if one of its tokens can still be used at `now` (neither used,
    /// revoked nor past its absolute or idle end) by the request: unbound, or bound to the DPoP key it proved
    /// (`proof`, RFC 9449 §5). `None`, and nothing written, if none can, or if another request revoked the family
    /// between the look and the revocation.
    async fn revoke_live_family(
        &self,
        family_id: &str,
        proof: Option<&Jkt>,
        now: UnixTime,
    ) -> StoreResult<Option<RevokedFamily>>;
    /// Revokes the tokens bound to a session, or to a session handed over to it, except `offline` ones (logout).
    async fn revoke_session_refresh_tokens(&self, session_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens>;
    /// Revokes every token of a user (sign out everywhere); returns only the access tokens issued with them
    /// after `now`: the caller ends the earlier ones as a whole (the user's `revoked_before` set to `now`
    /// first, or the user deleted).
    async fn revoke_user_refresh_tokens(&self, user_id: &UserId, now: UnixTime) -> StoreResult<IssuedAccessTokens>;
    /// Revokes every token of a client; returns only the access tokens issued with them after `now`: the
    /// caller ends the earlier ones as a whole (the client's `revoked_before` set to `now` first, or the
    /// client deleted).
    async fn revoke_client_refresh_tokens(
        &self,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<IssuedAccessTokens>;
    /// Deletes tokens that expired before `now` (their family's expiry, or the end of a rotated token's
    /// retention); returns how many.
    async fn purge_expired_refresh_tokens(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Dynamic client registration (RFC 7591, RFC 7592): initial access tokens, and the registration access token
/// of each dynamically registered client. Both are stored as hashes only.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores an initial access token; `Conflict` when its hash exists.
    async fn create_initial_access_token(&self, token: &InitialAccessToken) -> StoreResult<()>;
    /// The initial access token with this hash, if there is one that has not expired at `now`.
    async fn initial_access_token(&self, hash: &SecretHash, now: UnixTime) -> StoreResult<Option<InitialAccessToken>>;
    /// Deletes an initial access token; `NotFound` when there is none.
    async fn delete_initial_access_token(&self, hash: &SecretHash) -> StoreResult<()>;
    /// Deletes the initial access tokens that expired at or before `now`; returns how many.
    async fn purge_expired_initial_access_tokens(&self, now: UnixTime) -> StoreResult<u64>;
    /// Stores a new client together with the hash of its registration access token, in one statement, so a
    /// registered client never exists without a way to manage it; `Conflict` when the id exists.
    async fn create_registered_client(&self, client: &Client, registration_token: &SecretHash) -> StoreResult<()>;
    /// Replaces the hash of a client's registration access token (`None` removes it); `NotFound` when there is
    /// no such client.
    async fn set_registration_token_hash(&self, client_id: &ClientId, hash: Option<&SecretHash>) -> StoreResult<()>;
    /// The hash of a client's registration access token: `None` when the client does not exist or was not
    /// registered dynamically.
    async fn registration_token_hash(&self, client_id: &ClientId) -> StoreResult<Option<SecretHash>>;
}
