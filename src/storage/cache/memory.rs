//! In-process [`EphemeralStore`] for the embedded single-instance default.
//!
//! Owns one map of entries with their expiry, and the bounded sweep that reclaims expired entries so memory
//! does not grow with traffic. Entries that may be refused (pending sign-ins, `set_within_budget`) are held
//! within a byte budget, past which new ones are refused; nothing is ever evicted to make room, since the other
//! entries are security state (counters, the denylist, codes). State lives in this process only: a deployment
//! with several instances must use the Redis store, or single use and rate limits would hold per instance rather
//! than globally.

use super::{CacheResult, EphemeralStore};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Expired entries reclaimed per write at most: bounded work per call, yet faster than writes can add them.
const SWEEP_BUDGET: usize = 32;
/// Shortest TTL, matching the Redis store (which cannot express less than 1 ms).
const MIN_TTL: Duration = Duration::from_millis(1);
/// Longest TTL; keeps `Instant` arithmetic far from overflow. Nothing in the cache lives this long.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// What an entry costs beyond its key and value, roughly: its map slot, its place in the expiry index, and the
/// headers of its allocations.
const ENTRY_OVERHEAD: usize = 128;
/// Refusals for want of budget are logged at most this often.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// The in-process cache. Clones share the same map. [`MemoryCache::new`] has no budget;
/// [`MemoryCache::with_budget`] is the server's.
#[derive(Clone, Default)]
pub struct MemoryCache {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values: they can be tokens.
        let state = self.lock();
        f.debug_struct("MemoryCache")
            .field("entries", &state.entries.len())
            .field("budgeted_bytes", &state.budget.held)
            .field("budget_bytes", &state.budget.limit)
            .finish()
    }
}

/// A stored value. Entries are small and numerous (a redeemed code's record lives as long as its access token), so
/// each holds no more than it needs: the key is one shared allocation and the value is exactly its bytes.
struct Entry {
    value: Box<[u8]>,
    expires_at: Instant,
    /// Written by `set_within_budget`: it counts against the budget.
    budgeted: bool,
}

/// What `key` and `value` cost the budget.
fn cost(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

/// The bytes the entries written by `set_within_budget` may hold together.
struct Budget {
    limit: usize,
    held: usize,
    /// When a refusal was last logged.
    refusal_logged_at: Option<Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Self { limit: usize::MAX, held: 0, refusal_logged_at: None }
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<Arc<str>, Entry>,
    /// Every entry once, by expiry then key, so the sweep finds expired entries without scanning the map.
    expiry: BTreeSet<(Instant, Arc<str>)>,
    budget: Budget,
}

impl State {
    /// The entry under `key` if it has not expired; an expired one is removed on the way.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let (key, entry) = self.entries.remove_entry(key)?;
        self.release(&key, &entry);
        self.expiry.remove(&(entry.expires_at, key));
        Some(entry)
    }

    /// Gives back to the budget what a removed entry held.
    fn release(&mut self, key: &str, entry: &Entry) {
        if entry.budgeted {
            self.budget.held = self.budget.held.saturating_sub(cost(key, &entry.value));
        }
    }

    fn insert(&mut self, key: &str, value: Box<[u8]>, expires_at: Instant, budgeted: bool) {
        self.remove(key);
        if budgeted {
            self.budget.held = self.budget.held.saturating_add(cost(key, &value));
        }
        let key: Arc<str> = Arc::from(key);
        self.expiry.insert((expires_at, Arc::clone(&key)));
        self.entries.insert(key, Entry { value, expires_at, budgeted });
    }

    /// Whether `value` may be written under `key` within the budget, counting what the entry there now would
    /// give back.
    fn fits(&mut self, key: &str, value: &[u8], now: Instant) -> bool {
        let freed = self.live(key, now).filter(|e| e.budgeted).map_or(0, |e| cost(key, &e.value));
        self.budget.held.saturating_sub(freed).saturating_add(cost(key, value)) <= self.budget.limit
    }

    fn log_refusal(&mut self, now: Instant) {
        if self.budget.refusal_logged_at.is_some_and(|at| now.duration_since(at) < REFUSALS_LOGGED_EVERY) {
            return;
        }
        self.budget.refusal_logged_at = Some(now);
        tracing::warn!(
            held_bytes = self.budget.held,
            budget_bytes = self.budget.limit,
            "the in-process cache holds all the pending sign-ins it may (limits.pending_sign_ins_memory_kib): new \
             sign-ins are refused until others finish or expire"
        );
    }

    /// Removes up to `SWEEP_BUDGET` expired entries, oldest expiry first.
    fn sweep(&mut self, now: Instant) {
        for _ in 0..SWEEP_BUDGET {
            if !self.sweep_one(now) {
                break;
            }
        }
    }

    /// Removes every expired entry. Each entry is swept once, so this costs no more over time than the bounded
    /// sweeps, only all at once.
    fn sweep_all(&mut self, now: Instant) {
        while self.sweep_one(now) {}
    }

    /// Removes the entry that expired first, if it has expired.
    fn sweep_one(&mut self, now: Instant) -> bool {
        if self.expiry.first().is_none_or(|(expires_at, _)| *expires_at > now) {
            return false;
        }
        let Some((expires_at, key)) = self.expiry.pop_first() else {
            return false;
        };
        // The index and the map agree unless a panic interrupted an update; only drop the matching write.
        if self.entries.get(&key).is_some_and(|e| e.expires_at == expires_at) {
            if let Some(entry) = self.entries.remove(&key) {
                self.release(&key, &entry);
            }
        }
        true
    }
}

fn clamp_ttl(ttl: Duration) -> Duration {
    ttl.clamp(MIN_TTL, MAX_TTL)
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    // MAX_TTL keeps this from overflowing on any real clock; fall back to "already expired" rather than panic.
    now.checked_add(clamp_ttl(ttl)).unwrap_or(now)
}

impl MemoryCache {
    /// An empty cache with no budget: every write is stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache whose entries written by `set_within_budget` (pending sign-ins) hold at most `bytes`
    /// together, counting keys, values and a fixed overhead per entry. A `set` or `replace` of such a key (a
    /// pending sign-in marked as taken) takes it out of the budget.
    pub fn with_budget(bytes: usize) -> Self {
        let cache = Self::default();
        cache.lock().budget.limit = bytes;
        cache
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state usable even if interrupted, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of entries held, expired or not (for tests and diagnostics).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[async_trait]
impl EphemeralStore for MemoryCache {
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        state.insert(key, Box::from(value), deadline(now, ttl), false);
        Ok(())
    }

    async fn set_within_budget(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        if !state.fits(key, value, now) {
            // Expired entries the bounded sweeps have not reached yet may hold the budget.
            state.sweep_all(now);
            if !state.fits(key, value, now) {
                state.log_refusal(now);
                return Ok(false);
            }
        }
        state.insert(key, Box::from(value), deadline(now, ttl), true);
        Ok(true)
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        state.insert(key, Box::from(value), deadline(now, ttl), false);
        Ok(true)
    }

    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>> {
        let now = Instant::now();
        let mut state = self.lock();
        Ok(state.live(key, now).map(|e| e.value.to_vec()))
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<Option<Vec<u8>>> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        let Some(previous) = state.live(key, now).map(|e| e.value.to_vec()) else { return Ok(None) };
        state.insert(key, Box::from(value), deadline(now, ttl), false);
        Ok(Some(previous))
    }

    async fn delete(&self, key: &str) -> CacheResult<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str, window: Duration) -> CacheResult<(u64, Duration)> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        if let Some(entry) = state.live(key, now) {
            // Counters are stored as decimal text, like Redis INCR. A non-counter value starts a new window
            // below (Redis would refuse it; keys of counters and of values never mix in practice).
            let count = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse::<u64>().ok());
            if let Some(count) = count {
                let count = count.saturating_add(1);
                entry.value = count.to_string().into_bytes().into_boxed_slice();
                return Ok((count, entry.expires_at.saturating_duration_since(now)));
            }
        }
        let expires_at = deadline(now, window);
        state.insert(key, Box::from(&b"1"[..]), expires_at, false);
        Ok((1, expires_at.saturating_duration_since(now)))
    }

    async fn decr(&self, key: &str) -> CacheResult<()> {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(entry) = state.live(key, now) {
            let count = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse::<u64>().ok());
            if let Some(count) = count.filter(|c| *c > 0) {
                entry.value = (count - 1).to_string().into_bytes().into_boxed_slice();
            }
        }
        Ok(())
    }

    async fn ping(&self) -> CacheResult<()> {
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "in-process memory"
    }

    fn is_shared(&self) -> bool {
        false
    }
}

/// Behaviour checks shared by every [`EphemeralStore`] implementation; `redis.rs` runs the same ones.
#[cfg(test)]
pub(crate) mod conformance {
    use super::super::EphemeralStore;
    use std::collections::HashSet;
    use std::time::Duration;

    /// TTL used for expiry checks, and how long to wait for it to pass.
    const SHORT: Duration = Duration::from_millis(200);
    const PAST_SHORT: Duration = Duration::from_millis(400);
    const LONG: Duration = Duration::from_secs(60);
    /// Not valid UTF-8, to check values are kept as bytes.
    const BINARY: &[u8] = &[0, 159, 146, 150, 255, b'x'];

    pub(crate) async fn set_get_overwrite<S: EphemeralStore + ?Sized>(s: &S) {
        assert_eq!(s.get("absent").await.unwrap(), None);
        s.set("k", BINARY, LONG).await.unwrap();
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some(BINARY));
        // A read does not consume.
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some(BINARY));
        s.set("k", b"second", LONG).await.unwrap();
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some(&b"second"[..]));
        s.set("empty", b"", LONG).await.unwrap();
        assert_eq!(s.get("empty").await.unwrap(), Some(Vec::new()));
        // A zero TTL is accepted (clamped to the shortest one) rather than refused.
        s.set("zero", b"v", Duration::ZERO).await.unwrap();
        assert!(s.set_if_absent("zero2", b"v", Duration::ZERO).await.is_ok());
        s.ping().await.unwrap();
        assert!(!s.describe().is_empty());
    }

    pub(crate) async fn expiry<S: EphemeralStore + ?Sized>(s: &S) {
        s.set("short", b"v", SHORT).await.unwrap();
        s.set("long", b"v", LONG).await.unwrap();
        assert!(s.get("short").await.unwrap().is_some());
        // An overwrite replaces the TTL too.
        s.set("renewed", b"v", SHORT).await.unwrap();
        s.set("renewed", b"v2", LONG).await.unwrap();
        tokio::time::sleep(PAST_SHORT).await;
        assert_eq!(s.get("short").await.unwrap(), None);
        assert_eq!(s.get("long").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(s.get("renewed").await.unwrap().as_deref(), Some(&b"v2"[..]));
        // An expired key is free again.
        assert!(s.set_if_absent("short", b"again", LONG).await.unwrap());
    }

    pub(crate) async fn set_within_budget_stores<S: EphemeralStore + ?Sized>(s: &S) {
        assert!(s.set_within_budget("pending", BINARY, LONG).await.unwrap());
        assert_eq!(s.get("pending").await.unwrap().as_deref(), Some(BINARY));
        assert!(s.set_within_budget("pending", b"again", SHORT).await.unwrap());
        assert_eq!(s.replace("pending", b"taken", LONG).await.unwrap().as_deref(), Some(&b"again"[..]));
        assert_eq!(s.get("pending").await.unwrap().as_deref(), Some(&b"taken"[..]));
    }

    pub(crate) async fn set_if_absent_single_winner<S: EphemeralStore + ?Sized>(s: &S) {
        assert!(s.set_if_absent("once", b"first", LONG).await.unwrap());
        assert!(!s.set_if_absent("once", b"second", LONG).await.unwrap());
        assert_eq!(s.get("once").await.unwrap().as_deref(), Some(&b"first"[..]));
        s.delete("once").await.unwrap();
        assert!(s.set_if_absent("once", b"third", LONG).await.unwrap());
    }

    pub(crate) async fn set_if_absent_concurrent<S: EphemeralStore + Clone + 'static>(s: &S) {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let won = s.set_if_absent("race", format!("{i}").as_bytes(), LONG).await.unwrap();
                    (i, won)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (i, won) = task.await.unwrap();
            if won {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let stored = s.get("race").await.unwrap().unwrap();
        assert_eq!(stored, format!("{}", winners[0]).into_bytes());
    }

    pub(crate) async fn replace_present<S: EphemeralStore + ?Sized>(s: &S) {
        assert_eq!(s.replace("absent", b"used", LONG).await.unwrap(), None);
        assert_eq!(s.get("absent").await.unwrap(), None, "an absent key stays absent");
        s.set("code", BINARY, LONG).await.unwrap();
        assert_eq!(s.replace("code", b"used", LONG).await.unwrap().as_deref(), Some(BINARY));
        assert_eq!(s.replace("code", b"again", LONG).await.unwrap().as_deref(), Some(&b"used"[..]));
        // An expired value is absent; a replacement gets its own lifetime.
        s.set("old", b"gone", SHORT).await.unwrap();
        s.set("renewed", b"v", SHORT).await.unwrap();
        assert_eq!(s.replace("renewed", b"v2", LONG).await.unwrap().as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(PAST_SHORT).await;
        assert_eq!(s.replace("old", b"new", LONG).await.unwrap(), None);
        assert_eq!(s.get("old").await.unwrap(), None);
        assert_eq!(s.get("renewed").await.unwrap().as_deref(), Some(&b"v2"[..]));
    }

    pub(crate) async fn replace_concurrent<S: EphemeralStore + Clone + 'static>(s: &S) {
        s.set("code", b"once", LONG).await.unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.replace("code", b"used", LONG).await.unwrap().filter(|v| v != b"used") })
            })
            .collect();
        let mut taken = Vec::new();
        for task in tasks {
            if let Some(v) = task.await.unwrap() {
                taken.push(v);
            }
        }
        assert_eq!(taken, vec![b"once".to_vec()]);
    }

    pub(crate) async fn delete<S: EphemeralStore + ?Sized>(s: &S) {
        s.delete("absent").await.unwrap();
        s.set("a", b"1", LONG).await.unwrap();
        s.set("b", b"2", LONG).await.unwrap();
        s.delete("a").await.unwrap();
        assert_eq!(s.get("a").await.unwrap(), None);
        assert_eq!(s.get("b").await.unwrap().as_deref(), Some(&b"2"[..]));
    }

    pub(crate) async fn incr_window<S: EphemeralStore + ?Sized>(s: &S) {
        // Seconds, not milliseconds: the hits before the first sleep must land in one window on a loaded machine.
        let window = Duration::from_millis(2_000);
        let (n, left) = s.incr("hits", window).await.unwrap();
        assert_eq!(n, 1);
        assert!(left > Duration::ZERO && left <= window, "left: {left:?}");
        for expected in 2..=5 {
            let (n, left) = s.incr("hits", window).await.unwrap();
            assert_eq!(n, expected);
            assert!(left <= window, "left: {left:?}");
        }
        // Another key counts on its own.
        assert_eq!(s.incr("other", LONG).await.unwrap().0, 1);
        // Later hits do not extend the window: it ends 2 s after the first hit, not after the last.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let (n, left) = s.incr("hits", window).await.unwrap();
        assert_eq!(n, 6);
        assert!(left <= Duration::from_millis(1_010), "left: {left:?}");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let (n, left) = s.incr("hits", window).await.unwrap();
        assert_eq!(n, 1, "a new window starts after expiry");
        assert!(left > Duration::from_millis(1_500) && left <= window, "left: {left:?}");
        assert_eq!(s.incr("other", LONG).await.unwrap().0, 2);
        // A zero window is accepted (clamped to the shortest one).
        assert!(s.incr("zero", Duration::ZERO).await.is_ok());
    }

    pub(crate) async fn decr_keeps_the_window<S: EphemeralStore + ?Sized>(s: &S) {
        let window = Duration::from_millis(2_000);
        for _ in 0..3 {
            s.incr("hits", window).await.unwrap();
        }
        s.decr("hits").await.unwrap();
        assert_eq!(s.incr("hits", window).await.unwrap().0, 3);
        // Never below zero, and an absent counter is not started.
        for _ in 0..5 {
            s.decr("hits").await.unwrap();
        }
        assert_eq!(s.incr("hits", window).await.unwrap().0, 1);
        s.decr("absent").await.unwrap();
        assert_eq!(s.get("absent").await.unwrap(), None);
        // The window still ends when it would have.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert_eq!(s.incr("hits", window).await.unwrap().0, 1, "a new window starts after expiry");
    }

    pub(crate) async fn incr_concurrent<S: EphemeralStore + Clone + 'static>(s: &S) {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.incr("burst", LONG).await.unwrap().0 })
            })
            .collect();
        let mut counts = HashSet::new();
        for task in tasks {
            counts.insert(task.await.unwrap());
        }
        assert_eq!(counts, (1..=20).collect::<HashSet<u64>>());
    }

    /// Generates one `#[tokio::test]` per check above for the store built by `$make` (an async expression).
    macro_rules! store_tests {
        ($make:expr) => {
            use $crate::storage::cache::memory::conformance as c;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn set_get_overwrite() {
                c::set_get_overwrite(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn expiry() {
                c::expiry(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn set_within_budget_stores() {
                c::set_within_budget_stores(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn set_if_absent_single_winner() {
                c::set_if_absent_single_winner(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn set_if_absent_concurrent() {
                c::set_if_absent_concurrent(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn replace_present() {
                c::replace_present(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn replace_concurrent() {
                c::replace_concurrent(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delete() {
                c::delete(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn incr_window() {
                c::incr_window(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn decr_keeps_the_window() {
                c::decr_keeps_the_window(&$make).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn incr_concurrent() {
                c::incr_concurrent(&$make).await;
            }
        };
    }
    pub(crate) use store_tests;
}

#[cfg(test)]
mod tests {
    use super::*;

    conformance::store_tests!(async { MemoryCache::new() }.await);

    #[tokio::test]
    async fn works_through_dyn() {
        let store: Arc<dyn EphemeralStore> = Arc::new(MemoryCache::new());
        conformance::set_get_overwrite(store.as_ref()).await;
        assert_eq!(store.describe(), "in-process memory");
    }

    #[tokio::test]
    async fn clones_share_state() {
        let a = MemoryCache::new();
        let b = a.clone();
        a.set("k", b"v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(b.replace("k", b"w", Duration::from_secs(60)).await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"w"[..]));
    }

    #[tokio::test]
    async fn writes_sweep_expired_entries() {
        let cache = MemoryCache::new();
        for i in 0..1000 {
            cache.set(&format!("old{i}"), b"v", Duration::from_millis(1)).await.unwrap();
        }
        cache.set("keep", b"v", Duration::from_secs(60)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Each write reclaims a bounded number of expired entries; enough writes reclaim all of them.
        for i in 0..(1000 / SWEEP_BUDGET + 1) {
            cache.set(&format!("new{}", i % 4), b"v", Duration::from_secs(60)).await.unwrap();
        }
        assert_eq!(cache.len(), 5);
        let state = cache.lock();
        assert_eq!(state.expiry.len(), state.entries.len());
    }

    #[tokio::test]
    async fn overwrites_keep_index_in_step() {
        let cache = MemoryCache::new();
        for _ in 0..100 {
            cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
            cache.incr("n", Duration::from_secs(60)).await.unwrap();
        }
        cache.delete("k").await.unwrap();
        let state = cache.lock();
        assert_eq!(state.entries.len(), 1);
        assert_eq!(state.expiry.len(), 1);
    }

    #[tokio::test]
    async fn a_sweep_keeps_a_key_written_again_with_a_later_expiry() {
        let cache = MemoryCache::new();
        cache.set("k", b"short", Duration::from_millis(1)).await.unwrap();
        cache.set("k", b"long", Duration::from_secs(60)).await.unwrap();
        assert_eq!(cache.lock().expiry.len(), 1, "the rewrite replaced the key's place in the expiry index");
        cache.set("gone", b"v", Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache.set("other", b"v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"long"[..]));
        let state = cache.lock();
        assert!(!state.entries.contains_key("gone"), "the expired entry is swept");
        assert_eq!(state.expiry.len(), 2);
        assert_eq!(state.entries.len(), 2);
    }

    /// The bytes the budgeted entries hold, counted from the map (what `Budget::held` must agree with).
    fn budgeted_bytes(cache: &MemoryCache) -> usize {
        let state = cache.lock();
        state.entries.iter().filter(|(_, e)| e.budgeted).map(|(k, e)| cost(k, &e.value)).sum()
    }

    #[tokio::test]
    async fn budgeted_entries_past_the_budget_are_refused_and_nothing_is_evicted() {
        const LONG: Duration = Duration::from_secs(60);
        let one = cost("p0", &[0; 100]);
        let cache = MemoryCache::with_budget(2 * one);
        assert!(cache.set_within_budget("p0", &[0; 100], LONG).await.unwrap());
        assert!(cache.set_within_budget("p1", &[1; 100], LONG).await.unwrap());
        assert!(!cache.set_within_budget("p2", &[2; 100], LONG).await.unwrap(), "past the budget");
        assert_eq!(cache.get("p2").await.unwrap(), None, "a refused entry is not stored");
        // Other writes are never refused, and take no budgeted entry's place.
        for i in 0..100 {
            cache.set(&format!("deny:{i}"), b"1", LONG).await.unwrap();
            cache.incr(&format!("limit:{i}"), LONG).await.unwrap();
        }
        assert!(cache.get("p0").await.unwrap().is_some() && cache.get("p1").await.unwrap().is_some());
        // Writing a budgeted entry again counts only the difference.
        assert!(cache.set_within_budget("p1", &[3; 100], LONG).await.unwrap());
        assert!(!cache.set_within_budget("p1", &[3; 101], LONG).await.unwrap(), "one byte past the budget");
        assert_eq!(cache.get("p1").await.unwrap().as_deref(), Some(&[3; 100][..]), "a refused rewrite keeps the entry");
        // A deletion gives its place back, and so does a replacement (a pending sign-in marked as taken).
        cache.delete("p0").await.unwrap();
        assert!(cache.set_within_budget("p2", &[2; 100], LONG).await.unwrap());
        assert!(cache.replace("p1", b"taken", LONG).await.unwrap().is_some());
        assert!(cache.set_within_budget("p3", &[3; 100], LONG).await.unwrap());
        assert!(!cache.set_within_budget("p4", &[4; 100], LONG).await.unwrap());
        let held = cache.lock().budget.held;
        assert_eq!(held, budgeted_bytes(&cache));
        assert_eq!(budgeted_bytes(&cache), 2 * one);
    }

    #[tokio::test]
    async fn expired_budgeted_entries_give_their_place_back_however_far_behind_the_sweep_is() {
        let cache = MemoryCache::with_budget(cost("p0", &[0; 100]));
        for i in 0..1000 {
            cache.set(&format!("old{i}"), b"v", Duration::from_millis(10)).await.unwrap();
        }
        assert!(cache.set_within_budget("p0", &[0; 100], Duration::from_millis(15)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(40)).await;
        // The bounded sweep of this write reaches older entries only; the expired pending one still gives way.
        assert!(cache.set_within_budget("p1", &[1; 100], Duration::from_secs(60)).await.unwrap());
        let held = cache.lock().budget.held;
        assert_eq!(held, budgeted_bytes(&cache));
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn huge_ttl_does_not_overflow() {
        let cache = MemoryCache::new();
        cache.set("k", b"v", Duration::MAX).await.unwrap();
        assert!(cache.get("k").await.unwrap().is_some());
        let (n, left) = cache.incr("n", Duration::MAX).await.unwrap();
        assert_eq!(n, 1);
        assert!(left <= MAX_TTL);
    }
}
