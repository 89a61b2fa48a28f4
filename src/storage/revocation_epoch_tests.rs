//! Tests of the revocation epoch's wrappers.
use super::*;
use crate::storage::cache::memory::MemoryCache;
use crate::storage::cache::{CacheError, CacheResult};
use std::sync::atomic::AtomicBool;

/// The in-process cache claiming to be shared, as Redis is, whose writes can be made to fail.
#[derive(Default)]
struct Shared {
    map: MemoryCache,
    sets_fail: AtomicBool,
    deletes_fail: AtomicBool,
    /// Writes still to refuse, whatever the flags say.
    refusals: AtomicU64,
    /// Writes tried, refused or not.
    writes: AtomicU64,
}

impl Shared {
    fn refused(&self, flag: &AtomicBool) -> CacheResult<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let counted = self.refusals.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if flag.load(Ordering::SeqCst) || counted.is_ok() {
            return Err(CacheError::Unavailable("refused".into()));
        }
        Ok(())
    }

    fn refuse_all(&self, refuse: bool) {
        self.sets_fail.store(refuse, Ordering::SeqCst);
        self.deletes_fail.store(refuse, Ordering::SeqCst);
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EphemeralStore for Shared {
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()> {
        self.refused(&self.sets_fail)?;
        self.map.set(key, value, ttl).await
    }
    async fn set_within_budget(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        self.refused(&self.sets_fail)?;
        self.map.set_within_budget(key, value, ttl).await
    }
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        self.refused(&self.sets_fail)?;
        self.map.set_if_absent(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>> {
        self.map.get(key).await
    }
    async fn replace(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<Option<Vec<u8>>> {
        self.map.replace(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> CacheResult<()> {
        self.refused(&self.deletes_fail)?;
        self.map.delete(key).await
    }
    async fn incr(&self, key: &str, window: Duration) -> CacheResult<(u64, Duration)> {
        self.map.incr(key, window).await
    }
    async fn decr(&self, key: &str) -> CacheResult<()> {
        self.map.decr(key).await
    }
    async fn ping(&self) -> CacheResult<()> {
        self.map.ping().await
    }
    fn describe(&self) -> &'static str {
        "shared test cache"
    }
    fn is_shared(&self) -> bool {
        true
    }
}

fn epoch_in<C: EphemeralStore + 'static>(cache: &Arc<C>) -> RevocationEpoch {
    RevocationEpoch::new(Arc::new(CacheEpoch::new(Arc::clone(cache) as Arc<dyn EphemeralStore>)))
}

#[tokio::test]
async fn epoch_starts_when_missing_and_changes_on_every_advance() {
    let cache = Arc::new(Shared::default());
    let a = epoch_in(&cache);
    let b = epoch_in(&cache);
    assert_eq!(a.current().await, None, "no epoch yet: nothing may be reused, and one is started");
    let first = a.current().await.expect("started");
    assert_eq!(a.current().await.as_ref(), Some(&first), "stable while nothing changes");
    b.advance().await;
    let second = a.current().await.expect("epoch");
    assert_ne!(second, first, "another instance's write is seen at once");
    a.advance().await;
    assert_ne!(a.current().await.expect("epoch"), second);
}

#[tokio::test]
async fn a_refused_write_never_leaves_the_old_epoch_in_force() {
    let cache = Arc::new(Shared::default());
    let writer = epoch_in(&cache);
    let other = epoch_in(&cache);
    other.current().await;
    assert!(other.current().await.is_some());
    // SET refused, DEL accepted: every instance reads SQL until a new epoch starts.
    cache.sets_fail.store(true, Ordering::SeqCst);
    writer.advance().await;
    assert_eq!(other.current().await, None, "the epoch was cleared");
    // Both refused: the writer itself still moves on.
    cache.sets_fail.store(false, Ordering::SeqCst);
    writer.current().await;
    let before = writer.current().await.expect("epoch");
    cache.sets_fail.store(true, Ordering::SeqCst);
    cache.deletes_fail.store(true, Ordering::SeqCst);
    writer.advance().await;
    assert_ne!(writer.current().await.expect("epoch"), before);
}

/// Two instances over `cache`, the second holding the epoch it has read.
async fn writer_and_reader(cache: &Arc<Shared>) -> (RevocationEpoch, RevocationEpoch, Epoch) {
    let (writer, reader) = (epoch_in(cache), epoch_in(cache));
    reader.current().await;
    let seen = reader.current().await.expect("epoch");
    (writer, reader, seen)
}

#[tokio::test(start_paused = true)]
async fn a_refused_advance_is_written_again_in_the_background() {
    let cache = Arc::new(Shared::default());
    let (writer, reader, before) = writer_and_reader(&cache).await;
    // The SET and the DEL of the advance itself and of its first two retries are refused.
    cache.refusals.store(6, Ordering::SeqCst);
    let asked = Instant::now();
    writer.advance().await;
    assert_eq!(asked.elapsed(), Duration::ZERO, "the change does not wait for the cache");
    assert_eq!(reader.current().await.as_ref(), Some(&before), "refused: not seen yet");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cache.refusals.load(Ordering::SeqCst), 0);
    assert_ne!(reader.current().await.expect("epoch"), before, "seen once the cache takes writes again");
}

#[tokio::test(start_paused = true)]
async fn one_task_retries_however_many_advances_are_refused() {
    let cache = Arc::new(Shared::default());
    let (writer, reader, _) = writer_and_reader(&cache).await;
    cache.refuse_all(true);
    let before = cache.writes();
    for _ in 0..10 {
        writer.advance().await;
    }
    let inline = cache.writes();
    assert_eq!(inline - before, 20, "each advance tried a SET and a DEL");
    tokio::time::sleep(RETRY_FIRST_PAUSE + Duration::from_millis(50)).await;
    assert_eq!(cache.writes() - inline, 2, "one retry (a SET and a DEL), not one per refused advance");
    // An advance written after the refused ones leaves the retry nothing to do.
    cache.refuse_all(false);
    writer.advance().await;
    let after = reader.current().await.expect("epoch");
    let writes = cache.writes();
    tokio::time::sleep(VERDICT_MAX_AGE).await;
    assert_eq!(cache.writes(), writes, "the retry stopped without writing");
    assert_eq!(reader.current().await, Some(after));
}

#[tokio::test(start_paused = true)]
async fn retrying_stops_when_the_verdicts_it_protects_have_aged_out() {
    let cache = Arc::new(Shared::default());
    let (writer, _, _) = writer_and_reader(&cache).await;
    cache.refuse_all(true);
    writer.advance().await;
    tokio::time::sleep(VERDICT_MAX_AGE / 2).await;
    // A change refused later is owed for its own full span.
    writer.advance().await;
    tokio::time::sleep(VERDICT_MAX_AGE - Duration::from_secs(2)).await;
    let writes = cache.writes();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cache.writes() > writes, "still retrying");
    tokio::time::sleep(Duration::from_secs(1) + RETRY_MAX_PAUSE).await;
    let writes = cache.writes();
    tokio::time::sleep(VERDICT_MAX_AGE).await;
    assert_eq!(cache.writes(), writes, "given up");
    // A change refused after that starts a new retry.
    writer.advance().await;
    let writes = cache.writes();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cache.writes() > writes, "retrying again");
}

#[tokio::test(start_paused = true)]
async fn an_operator_command_retries_for_its_limit() {
    let cache = Arc::new(Shared::default());
    let (_, reader, before) = writer_and_reader(&cache).await;
    let epoch = CacheEpoch::new(Arc::clone(&cache) as Arc<dyn EphemeralStore>);
    cache.refusals.store(6, Ordering::SeqCst);
    epoch.advance_within(Duration::from_secs(5)).await.expect("written on the fourth try");
    assert_ne!(reader.current().await.expect("epoch"), before);
    cache.refuse_all(true);
    let asked = Instant::now();
    epoch.advance_within(Duration::from_secs(5)).await.unwrap_err();
    assert!(asked.elapsed() <= Duration::from_secs(5), "{:?}", asked.elapsed());
    assert!(asked.elapsed() >= Duration::from_secs(4), "{:?}", asked.elapsed());
}

/// A consent store that stores nothing.
struct NoConsents;

#[async_trait]
impl ConsentStore for NoConsents {
    async fn grant_consent(&self, _: &UserId, _: &ClientId, _: &Consent, _: UnixTime) -> StoreResult<()> {
        Ok(())
    }
    async fn consents_of_user(&self, _: &UserId) -> StoreResult<Vec<StoredConsent>> {
        Ok(vec![])
    }
    async fn delete_consent(&self, _: &UserId, _: &ClientId) -> StoreResult<()> {
        Err(super::super::StoreError::NotFound)
    }
    async fn withdraw_grant(&self, _: &UserId, _: &ClientId, _: UnixTime, _: UnixTime) -> StoreResult<WithdrawnGrant> {
        Ok(WithdrawnGrant::default())
    }
}

#[tokio::test]
async fn withdrawing_or_deleting_a_consent_advances_the_epoch() {
    let cache = Arc::new(Shared::default());
    let epoch = Arc::new(epoch_in(&cache));
    let consents = EpochConsents::new(Arc::new(NoConsents), Arc::clone(&epoch));
    let (user, client) = (UserId::parse("u").unwrap(), ClientId::parse("c").unwrap());
    epoch.current().await;
    let before = epoch.current().await.expect("epoch");
    consents.grant_consent(&user, &client, &Consent::default(), 1).await.unwrap();
    consents.consents_of_user(&user).await.unwrap();
    assert_eq!(epoch.current().await.as_ref(), Some(&before), "a grant ends no token");
    consents.withdraw_grant(&user, &client, 1, 2).await.unwrap();
    let after = epoch.current().await.expect("epoch");
    assert_ne!(after, before, "a withdrawn grant revoked tokens");
    consents.delete_consent(&user, &client).await.unwrap_err();
    assert_ne!(epoch.current().await.expect("epoch"), after, "even a failed write may have committed");
}

#[tokio::test]
async fn an_unshared_cache_never_allows_reuse() {
    let epoch = epoch_in(&Arc::new(MemoryCache::new()));
    epoch.advance().await;
    assert_eq!(epoch.current().await, None);
    assert_eq!(epoch.current().await, None);
}
