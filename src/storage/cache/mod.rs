//! Hot, short-lived state (authorization codes, denylist, rate-limit counters, session cache).
//!
//! The cache is an accelerator and a coordinator, never the only copy of something that must survive
//! (DESIGN.md §3). Two implementations: Redis for deployments with several instances, and an in-process
//! map for the embedded default.
pub mod memory;
pub mod redis;

use async_trait::async_trait;
use std::time::Duration;

/// A cache failure.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache cannot be reached or did not answer in time.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// Result of a cache call.
pub type CacheResult<T> = Result<T, CacheError>;

/// Key/value state with expiry. Keys are plain strings such as `code:<hash>`; each implementation adds its
/// deployment prefix. Every write carries a TTL: nothing in here lives forever.
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing what was there.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()>;
    /// [`Self::set`] for an entry that may be refused rather than grow the store past its bound: `false` when
    /// refused, and nothing is stored. Only for state whose refusal is safe to show (pending sign-ins); security
    /// state (counters, the denylist, codes, grace records) is written with `set` and never refused or evicted
    /// for it. The in-process store keeps these entries within a byte budget (`MemoryCache::with_budget`); Redis
    /// stores them as `set` does (its `maxmemory` bounds it, for every write alike).
    async fn set_within_budget(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool>;
    /// Stores `value` only if `key` is absent; `true` when this call stored it. Atomic across instances:
    /// this is how single use (codes, assertion `jti`s) is enforced.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool>;
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>>;
    /// Replaces the live value under `key` with `value` for `ttl` and returns the value it replaced; an
    /// absent key stays absent. Atomic: of concurrent replacements exactly one gets what was there first. A
    /// code is redeemed this way, leaving the record of its redemption for a replay to find.
    async fn replace(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<Option<Vec<u8>>>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> CacheResult<()>;
    /// Adds one to the counter under `key`, starting a window of `window` on the first hit; returns the
    /// new count and the time left in the window.
    async fn incr(&self, key: &str, window: Duration) -> CacheResult<(u64, Duration)>;
    /// Takes one from the live counter under `key`, never below zero, keeping its window; an absent or
    /// expired counter stays absent (it is not started at -1).
    async fn decr(&self, key: &str) -> CacheResult<()>;
    /// Succeeds when the cache answers.
    async fn ping(&self) -> CacheResult<()>;
    /// A short name for logs and the startup banner.
    fn describe(&self) -> &'static str;
    /// Whether every instance and operator command sees the same state (Redis), rather than only this
    /// process (the in-process map).
    fn is_shared(&self) -> bool;
}
