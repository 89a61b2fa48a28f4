//! The revocation epoch: a value that changes after every write that can end the life of an access token (a
//! revoked `jti`; a client updated or deleted; a user disabled, revoked, changed or deleted). Checks of access
//! tokens may reuse an earlier verdict only while the epoch is the one it was reached under, so a revocation
//! made anywhere (another instance, the CLI) is seen by the very next check everywhere, at the price of one
//! read of the epoch instead of several SQL reads.
//!
//! The writes go through the decorators below, so no path can forget to advance the epoch. Its shared part must
//! be seen by every process that writes ([`SharedEpoch`]): a key in the cache when the cache is shared
//! ([`CacheEpoch`], Redis), or SQLite's own change counter for the embedded default
//! ([`crate::storage::diesel::SqliteChanges`]). Postgres with the in-process cache has neither, so every check
//! reads SQL there.
use super::cache::{CacheError, EphemeralStore};
use super::{
    AccessTokenStanding, ClientStore, ConsentStore, RevocationStore, SessionContext, SessionStore, StoreResult,
    StoredConsent, UserFilter, UserStore, UserUpdate, WithdrawnGrant,
};
use crate::domain::secret::random_token;
use crate::domain::{Client, ClientId, Consent, NewUser, Session, UnixTime, User, UserId, Username};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The cache key (the deployment prefix is added by the cache).
const KEY: &str = "revocation-epoch";
/// Every cache write carries a TTL; when this one lapses the next check starts a new epoch.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a verdict on an access token may be reused even under an unchanged epoch. It bounds the harm of a
/// cache that serves reads but refuses the write that should have advanced the epoch, and so it is also how
/// long such a write is worth retrying: after it, every verdict reached before the change has aged out.
pub const VERDICT_MAX_AGE: Duration = Duration::from_secs(30);
/// The first pause before writing a refused advance again; it doubles up to [`RETRY_MAX_PAUSE`].
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between writes of a refused advance.
const RETRY_MAX_PAUSE: Duration = Duration::from_secs(1);

/// Where the part of the epoch that every process sees is kept.
#[async_trait]
pub trait SharedEpoch: Send + Sync {
    /// The value now, reflecting every write committed before the call; `None` when no verdict may be reused.
    async fn read(&self) -> Option<Vec<u8>>;
    /// Moves to a new value; called after a write that may have ended a token's life has been committed.
    async fn advance(&self);
}

/// The epoch as a key in the cache, meaningful only when the cache is shared by every process that writes
/// ([`EphemeralStore::is_shared`]): with the in-process cache, `tessera users revoke` in another process could
/// not advance it, so [`SharedEpoch::read`] is always `None` there.
///
/// An advance the cache refuses (a failover, a lost connection) is written again in the background until one
/// written after it succeeds or [`VERDICT_MAX_AGE`] has passed, so other instances stop reusing verdicts soon
/// after the cache takes writes again rather than when the verdicts age out.
pub struct CacheEpoch {
    cache: Arc<dyn EphemeralStore>,
    owed: Arc<Mutex<Owed>>,
}

/// The advances of one [`CacheEpoch`], numbered in the order they were asked for, and which of them other
/// instances may not have seen.
#[derive(Default)]
struct Owed {
    /// Advances asked for so far.
    asked: u64,
    /// Every advance numbered up to this one is seen: a write with this number reached the cache, and it was
    /// sent after the others were asked for, so after their own SQL writes had committed.
    seen: u64,
    /// The last refused advance; owed while above `seen`.
    last_refused: u64,
    /// When the last refused advance stops mattering.
    give_up_at: Option<Instant>,
    /// Whether a task is writing the owed advances again; at most one does.
    retrying: bool,
}

impl Owed {
    fn lock(owed: &Mutex<Owed>) -> std::sync::MutexGuard<'_, Owed> {
        owed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of the advance asked for now.
    fn ask(&mut self) -> u64 {
        self.asked += 1;
        self.asked
    }

    /// Records that the write numbered `number` reached the cache.
    fn written(&mut self, number: u64) {
        self.seen = self.seen.max(number);
    }

    /// Records that the cache refused the advance numbered `number`, asked for after a change that was just
    /// committed; `true` when a retrying task must be started.
    fn refused(&mut self, number: u64) -> bool {
        self.last_refused = self.last_refused.max(number);
        self.give_up_at = Some(Instant::now() + VERDICT_MAX_AGE);
        !std::mem::replace(&mut self.retrying, true)
    }

    /// Whether the retrying task may stop (nothing is owed any more, or it no longer matters), logging why.
    fn settled(&mut self) -> bool {
        if self.last_refused <= self.seen {
            tracing::info!("the revocation epoch is advanced again");
        } else if self.give_up_at.is_some_and(|at| Instant::now() >= at) {
            tracing::warn!(
                "gave up advancing the revocation epoch: the verdicts reached before the refused writes have aged out"
            );
        } else {
            return false;
        }
        self.retrying = false;
        true
    }
}

impl CacheEpoch {
    /// The epoch kept in `cache`.
    pub fn new(cache: Arc<dyn EphemeralStore>) -> Self {
        Self { cache, owed: Arc::default() }
    }

    /// [`SharedEpoch::advance`] for a process about to exit, which cannot retry in the background: the write is
    /// tried again while the cache refuses it, for up to `limit`. `Err` when it never worked, and other
    /// instances may reuse verdicts reached before the change until they age out ([`VERDICT_MAX_AGE`]).
    pub async fn advance_within(&self, limit: Duration) -> Result<(), CacheError> {
        if !self.cache.is_shared() {
            return Ok(());
        }
        let give_up_at = Instant::now() + limit;
        let mut pause = RETRY_FIRST_PAUSE;
        loop {
            let Err(e) = write(self.cache.as_ref()).await else { return Ok(()) };
            if Instant::now() + pause > give_up_at {
                return Err(e);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX_PAUSE);
        }
    }
}

/// Writes a new epoch: `Err` when neither a new value could be written nor the old one removed.
async fn write(cache: &dyn EphemeralStore) -> Result<(), CacheError> {
    let Err(_) = cache.set(KEY, random_token(16).as_bytes(), TTL).await else { return Ok(()) };
    // Removing the key makes other instances read SQL at once, so try that.
    cache.delete(KEY).await
}

/// Writes the advances `owed` records as refused again, with a growing pause, until it is settled.
async fn retry(cache: Arc<dyn EphemeralStore>, owed: Arc<Mutex<Owed>>) {
    let mut pause = RETRY_FIRST_PAUSE;
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX_PAUSE);
        let number = {
            let mut owed = Owed::lock(&owed);
            if owed.settled() {
                return;
            }
            owed.ask()
        };
        // A refused retry changes nothing: the time to give up is set by the changes themselves.
        let written = write(cache.as_ref()).await.is_ok();
        let mut owed = Owed::lock(&owed);
        if written {
            owed.written(number);
        }
        if owed.settled() {
            return;
        }
    }
}

#[async_trait]
impl SharedEpoch for CacheEpoch {
    async fn read(&self) -> Option<Vec<u8>> {
        if !self.cache.is_shared() {
            return None;
        }
        match self.cache.get(KEY).await {
            Ok(Some(shared)) => Some(shared),
            Ok(None) => {
                // Lost (TTL, cache restart): a fresh random value can never equal one a verdict was tagged with.
                if let Err(e) = self.cache.set_if_absent(KEY, random_token(16).as_bytes(), TTL).await {
                    tracing::warn!(error = %e, "could not start a revocation epoch");
                }
                None
            }
            Err(_) => None,
        }
    }

    /// Writes once; when the cache refuses, a background task writes again (see [`CacheEpoch`]), so the
    /// request that made the change never waits for the cache to come back.
    async fn advance(&self) {
        if !self.cache.is_shared() {
            return;
        }
        let number = Owed::lock(&self.owed).ask();
        let Err(e) = write(self.cache.as_ref()).await else {
            Owed::lock(&self.owed).written(number);
            return;
        };
        if Owed::lock(&self.owed).refused(number) {
            tracing::error!(error = %e, "could not advance the revocation epoch; writing it again in the background");
            tokio::spawn(retry(Arc::clone(&self.cache), Arc::clone(&self.owed)));
        }
    }
}

/// One value of the epoch, as seen by this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    shared: Vec<u8>,
    local: u64,
}

/// Reads and advances the epoch.
pub struct RevocationEpoch {
    shared: Arc<dyn SharedEpoch>,
    /// Advanced by this instance's own writes before the shared value is, so this instance never reuses a
    /// verdict that its own revocation ended, even if the shared write fails.
    local: AtomicU64,
}

impl std::fmt::Debug for RevocationEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationEpoch").field("local", &self.local).finish_non_exhaustive()
    }
}

impl RevocationEpoch {
    /// The epoch whose shared part `shared` keeps.
    pub fn new(shared: Arc<dyn SharedEpoch>) -> Self {
        Self { shared, local: AtomicU64::new(0) }
    }

    /// The epoch now, read before the SQL reads whose verdict it will tag. `None` when no verdict may be
    /// reused.
    pub async fn current(&self) -> Option<Epoch> {
        let local = self.local.load(Ordering::SeqCst);
        self.shared.read().await.map(|shared| Epoch { shared, local })
    }

    /// Starts a new epoch; called after a write that may have ended a token's life has been committed.
    pub async fn advance(&self) {
        self.local.fetch_add(1, Ordering::SeqCst);
        self.shared.advance().await;
    }
}

/// A [`UserStore`] that advances the epoch after every change to a user.
pub struct EpochUsers {
    inner: Arc<dyn UserStore>,
    epoch: Arc<RevocationEpoch>,
}

impl EpochUsers {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn UserStore>, epoch: Arc<RevocationEpoch>) -> Self {
        Self { inner, epoch }
    }

    async fn after<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        self.epoch.advance().await;
        result
    }
}

#[async_trait]
impl UserStore for EpochUsers {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.inner.create_user(user).await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.inner.user_by_id(id).await
    }

    async fn user_by_username(&self, username: &Username) -> StoreResult<Option<(User, String)>> {
        self.inner.user_by_username(username).await
    }

    async fn list_users(&self, filter: &UserFilter, after: Option<&Username>, limit: i64) -> StoreResult<Vec<User>> {
        self.inner.list_users(filter, after, limit).await
    }

    async fn password_history(&self, id: &UserId, limit: usize) -> StoreResult<Vec<String>> {
        self.inner.password_history(id, limit).await
    }

    async fn set_user_disabled(&self, username: &Username, disabled: bool, now: UnixTime) -> StoreResult<User> {
        let r = self.inner.set_user_disabled(username, disabled, now).await;
        self.after(r).await
    }

    async fn set_password_hash(
        &self,
        username: &Username,
        hash: String,
        temporary: bool,
        now: UnixTime,
    ) -> StoreResult<User> {
        // `updated_at` is a claim UserInfo returns.
        let r = self.inner.set_password_hash(username, hash, temporary, now).await;
        self.after(r).await
    }

    async fn upgrade_password_hash(&self, id: &UserId, checked: &str, hash: String) -> StoreResult<bool> {
        // The same password, hashed anew: nothing a token's check reads changes, so the epoch stays.
        self.inner.upgrade_password_hash(id, checked, hash).await
    }

    async fn change_password_hash(&self, id: &UserId, checked: &str, hash: String, now: UnixTime) -> StoreResult<bool> {
        // `updated_at` is a claim UserInfo returns, as for `set_password_hash`.
        let r = self.inner.change_password_hash(id, checked, hash, now).await;
        self.after(r).await
    }

    async fn mark_email_verified(&self, id: &UserId, email: &str, now: UnixTime) -> StoreResult<bool> {
        // `email_verified` and `updated_at` are claims UserInfo returns.
        let r = self.inner.mark_email_verified(id, email, now).await;
        self.after(r).await
    }

    async fn set_user_revoked_before(&self, id: &UserId, at: UnixTime) -> StoreResult<()> {
        let r = self.inner.set_user_revoked_before(id, at).await;
        self.after(r).await
    }

    async fn update_user(&self, id: &UserId, update: UserUpdate, now: UnixTime) -> StoreResult<User> {
        let r = self.inner.update_user(id, update, now).await;
        self.after(r).await
    }

    async fn delete_user(&self, id: &UserId) -> StoreResult<()> {
        let r = self.inner.delete_user(id).await;
        self.after(r).await
    }
}

/// A [`ClientStore`] that advances the epoch after every change to a client.
pub struct EpochClients {
    inner: Arc<dyn ClientStore>,
    epoch: Arc<RevocationEpoch>,
}

impl EpochClients {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ClientStore>, epoch: Arc<RevocationEpoch>) -> Self {
        Self { inner, epoch }
    }
}

#[async_trait]
impl ClientStore for EpochClients {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        self.inner.create_client(client).await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        self.inner.client(id).await
    }

    async fn list_clients(&self, after: Option<&ClientId>, limit: i64) -> StoreResult<Vec<Client>> {
        self.inner.list_clients(after, limit).await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let r = self.inner.update_client(client).await;
        self.epoch.advance().await;
        r
    }

    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
        let r = self.inner.set_client_revoked_before(id, at).await;
        self.epoch.advance().await;
        r
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
        let r = self.inner.delete_client(id).await;
        self.epoch.advance().await;
        r
    }
}

/// A [`RevocationStore`] that advances the epoch after every revoked `jti`.
pub struct EpochRevocations {
    inner: Arc<dyn RevocationStore>,
    epoch: Arc<RevocationEpoch>,
}

impl EpochRevocations {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn RevocationStore>, epoch: Arc<RevocationEpoch>) -> Self {
        Self { inner, epoch }
    }
}

#[async_trait]
impl RevocationStore for EpochRevocations {
    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        let r = self.inner.revoke_jti(jti, expires_at).await;
        self.epoch.advance().await;
        r
    }

    async fn access_token_standing(
        &self,
        jti: &str,
        client_id: &ClientId,
        user_id: Option<&UserId>,
        session: Option<(&str, UnixTime)>,
    ) -> StoreResult<AccessTokenStanding> {
        self.inner.access_token_standing(jti, client_id, user_id, session).await
    }

    async fn purge_expired_revocations(&self, now: UnixTime) -> StoreResult<u64> {
        self.inner.purge_expired_revocations(now).await
    }
}

/// A [`SessionStore`] that advances the epoch after a session ends: the access tokens bound to it end with it.
pub struct EpochSessions {
    inner: Arc<dyn SessionStore>,
    epoch: Arc<RevocationEpoch>,
}

impl EpochSessions {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn SessionStore>, epoch: Arc<RevocationEpoch>) -> Self {
        Self { inner, epoch }
    }

    async fn after<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        self.epoch.advance().await;
        result
    }
}

#[async_trait]
impl SessionStore for EpochSessions {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.inner.create_session(session).await
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        self.inner.session(id_hash).await
    }

    async fn session_for_client(&self, id_hash: &str, client_id: &ClientId) -> StoreResult<Option<SessionContext>> {
        self.inner.session_for_client(id_hash, client_id).await
    }

    async fn record_session_use(&self, id_hash: &str, now: UnixTime, stale_before: UnixTime) -> StoreResult<bool> {
        self.inner.record_session_use(id_hash, now, stale_before).await
    }

    async fn revoke_session(&self, id_hash: &str) -> StoreResult<()> {
        let r = self.inner.revoke_session(id_hash).await;
        self.after(r).await
    }

    async fn hand_over_session(&self, from: &str, to: &str) -> StoreResult<()> {
        let r = self.inner.hand_over_session(from, to).await;
        self.after(r).await
    }

    async fn renew_session(&self, from: &str, to: &Session) -> StoreResult<()> {
        let r = self.inner.renew_session(from, to).await;
        self.after(r).await
    }

    async fn record_session_client(&self, session_id: &str, client_id: &ClientId) -> StoreResult<()> {
        self.inner.record_session_client(session_id, client_id).await
    }

    async fn session_clients(&self, session_ids: &[String]) -> StoreResult<Vec<crate::storage::SessionClient>> {
        self.inner.session_clients(session_ids).await
    }

    async fn sessions_of_user(&self, user_id: &UserId, now: UnixTime) -> StoreResult<Vec<Session>> {
        self.inner.sessions_of_user(user_id, now).await
    }

    async fn revoke_user_sessions(&self, user_id: &UserId) -> StoreResult<u64> {
        let r = self.inner.revoke_user_sessions(user_id).await;
        self.after(r).await
    }

    async fn purge_expired_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        self.inner.purge_expired_sessions(now).await
    }
}

/// A [`ConsentStore`] that advances the epoch after a grant is deleted or withdrawn (the user revoked an app:
/// its refresh tokens, and with them its access tokens, end).
pub struct EpochConsents {
    inner: Arc<dyn ConsentStore>,
    epoch: Arc<RevocationEpoch>,
}

impl EpochConsents {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ConsentStore>, epoch: Arc<RevocationEpoch>) -> Self {
        Self { inner, epoch }
    }
}

#[async_trait]
impl ConsentStore for EpochConsents {
    async fn grant_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        granted: &Consent,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.inner.grant_consent(user_id, client_id, granted, now).await
    }

    async fn consents_of_user(&self, user_id: &UserId) -> StoreResult<Vec<StoredConsent>> {
        self.inner.consents_of_user(user_id).await
    }

    async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<()> {
        let r = self.inner.delete_consent(user_id, client_id).await;
        self.epoch.advance().await;
        r
    }

    async fn withdraw_grant(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        keep_until: UnixTime,
    ) -> StoreResult<WithdrawnGrant> {
        let r = self.inner.withdraw_grant(user_id, client_id, now, keep_until).await;
        self.epoch.advance().await;
        r
    }
}

#[cfg(test)]
#[path = "revocation_epoch_tests.rs"]
mod tests;
