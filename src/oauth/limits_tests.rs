//! Tests of the abuse limits, on the in-process cache and on a cache that is down.
use super::*;
use crate::storage::cache::memory::MemoryCache;
use crate::storage::cache::CacheResult;
use async_trait::async_trait;

/// A cache that is always down.
struct Down;

#[async_trait]
impl EphemeralStore for Down {
    async fn set(&self, _: &str, _: &[u8], _: Duration) -> CacheResult<()> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn set_within_budget(&self, _: &str, _: &[u8], _: Duration) -> CacheResult<bool> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> CacheResult<bool> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn get(&self, _: &str) -> CacheResult<Option<Vec<u8>>> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn replace(&self, _: &str, _: &[u8], _: Duration) -> CacheResult<Option<Vec<u8>>> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn delete(&self, _: &str) -> CacheResult<()> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn incr(&self, _: &str, _: Duration) -> CacheResult<(u64, Duration)> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn decr(&self, _: &str) -> CacheResult<()> {
        Err(CacheError::Unavailable("down".into()))
    }
    async fn ping(&self) -> CacheResult<()> {
        Err(CacheError::Unavailable("down".into()))
    }
    fn describe(&self) -> &'static str {
        "down"
    }
    fn is_shared(&self) -> bool {
        true
    }
}

fn rules() -> LimitSettings {
    LimitSettings {
        login_ip: Some(Rate { max: 5, window: 60 }),
        login_user: Some(Lockout { failures: 3, window: 900, lock: 60, max_lock: 300 }),
        token_client: Some(Rate { max: 4, window: 60 }),
        token_ip: Some(Rate { max: 6, window: 60 }),
        register_ip: Some(Rate { max: 2, window: 3600 }),
        authorize_ip: Some(Rate { max: 3, window: 300 }),
        user_registration_ip: Some(Rate { max: 2, window: 600 }),
        password_reset_ip: Some(Rate { max: 3, window: 3600 }),
        password_reset_user: Some(Rate { max: 2, window: 3600 }),
        email_verification_user: Some(Rate { max: 2, window: 3600 }),
        pending_sign_ins_memory: 1 << 20,
        fallback_entries: 100,
    }
}

const T0: UnixTime = 1_700_000_000;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()).unwrap()
}

#[test]
fn locks_double_up_to_the_maximum() {
    let rule = Lockout { failures: 5, window: 900, lock: 60, max_lock: 900 };
    let secs: Vec<i64> = (1..=7).map(|l| lock_seconds(&rule, l)).collect();
    assert_eq!(secs, [60, 120, 240, 480, 900, 900, 900]);
    assert_eq!(lock_seconds(&rule, u64::MAX), 900);
}

#[test]
fn ipv6_counts_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
    assert_eq!(ip_subject("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
    assert_eq!(ip_subject("2001:db8:1:2:ffff::1".parse().unwrap()), "2001:db8:1:2::/64");
    assert_eq!(ip_subject("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    assert_eq!(ip_subject("192.0.2.7".parse().unwrap()), "192.0.2.7");
}

#[test]
fn the_claimed_client_comes_from_basic_credentials_first() {
    // "a%3Ab:secret" is the client "a:b" form-encoded in Basic credentials.
    let basic = "Basic YSUzQWI6c2VjcmV0";
    assert_eq!(claimed_client(&params(&[("client_id", "x")]), Some(basic)).as_deref(), Some("a:b"));
    assert_eq!(claimed_client(&params(&[("client_id", "x")]), None).as_deref(), Some("x"));
    assert_eq!(claimed_client(&params(&[]), Some("Bearer t")), None);
}

/// A wrong password: `Err` when refused unchecked, else the lock the failure started, if any.
async fn fail(limiter: &Limiter, ip: Option<IpAddr>, name: &str, now: UnixTime) -> Result<Option<Lock>, Lock> {
    let attempt = limiter.begin_sign_in(ip, name, now).await?;
    Ok(limiter.sign_in_failed(attempt, now).await)
}

async fn succeed(limiter: &Limiter, ip: Option<IpAddr>, name: &str, now: UnixTime) {
    let attempt = limiter.begin_sign_in(ip, name, now).await.expect("not locked");
    limiter.sign_in_succeeded(attempt, name, now).await;
}

async fn username_lockout_progression(limiter: &Limiter) {
    let addr = ip("192.0.2.1");
    // Two failures: no lock yet.
    for _ in 0..2 {
        assert_eq!(fail(limiter, addr, "alice", T0).await, Ok(None));
    }
    assert_eq!(limiter.login_lock(addr, "alice", T0).await, None);
    // The third starts a 60 s lock, for this name only (in any case).
    let lock = fail(limiter, ip("192.0.2.2"), "alice", T0).await;
    assert_eq!(lock, Ok(Some(Lock { scope: LockScope::Username, retry_after: 60 })));
    assert_eq!(
        limiter.login_lock(ip("198.51.100.9"), "Alice", T0 + 10).await,
        Some(Lock { scope: LockScope::Username, retry_after: 50 })
    );
    assert_eq!(limiter.login_lock(addr, "bob", T0 + 10).await, None);
    // After the lock, the next failure locks again for twice as long.
    assert_eq!(limiter.login_lock(addr, "alice", T0 + 60).await, None);
    let lock = fail(limiter, ip("192.0.2.3"), "alice", T0 + 61).await;
    assert_eq!(lock, Ok(Some(Lock { scope: LockScope::Username, retry_after: 120 })));
    // A success starts over.
    succeed(limiter, ip("192.0.2.4"), "alice", T0 + 200).await;
    assert_eq!(fail(limiter, ip("192.0.2.4"), "alice", T0 + 201).await, Ok(None));
}

#[tokio::test]
async fn usernames_lock_progressively_in_the_fallback() {
    username_lockout_progression(&Limiter::new(Arc::new(Down), rules())).await;
}

#[tokio::test]
async fn a_failing_cache_falls_back_to_memory_and_still_limits() {
    let limiter = Limiter::new(Arc::new(Down), rules());
    let p = params(&[("client_id", "c1")]);
    for _ in 0..4 {
        assert_eq!(limiter.check_client_request(ClientEndpoint::Token, &p, None, ip("192.0.2.1"), T0).await, Ok(()));
    }
    assert_eq!(
        limiter.check_client_request(ClientEndpoint::Token, &p, None, ip("192.0.2.1"), T0 + 15).await,
        Err(Limited { retry_after: 45 })
    );
    // The IP limit (6) holds for other clients too.
    let other = params(&[("client_id", "c2")]);
    assert_eq!(
        limiter.check_client_request(ClientEndpoint::Token, &other, None, ip("192.0.2.1"), T0 + 15).await,
        Ok(())
    );
    assert!(limiter.check_client_request(ClientEndpoint::Token, &other, None, ip("192.0.2.1"), T0 + 15).await.is_err());
    assert_eq!(
        limiter.check_client_request(ClientEndpoint::Token, &other, None, ip("192.0.2.2"), T0 + 15).await,
        Ok(())
    );
    // A new window.
    assert_eq!(
        limiter.check_client_request(ClientEndpoint::Token, &other, None, ip("192.0.2.1"), T0 + 60).await,
        Ok(())
    );
}

#[tokio::test]
async fn failed_assertions_lock_an_ip_out_of_assertions_at_that_endpoint_until_the_window_ends() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let (addr, other) = (ip("192.0.2.7"), ip("192.0.2.8"));
    let endpoint = AssertionEndpoint::Introspect;
    for i in 0..5 {
        assert_eq!(limiter.check_assertion(endpoint, addr, T0 + i).await, Ok(()), "{i}");
        limiter.assertion_failed(endpoint, addr, T0 + i).await;
    }
    assert_eq!(limiter.check_assertion(endpoint, addr, T0 + 5).await, Ok(()), "5 failures, under the 6 allowed");
    limiter.assertion_failed(endpoint, addr, T0 + 5).await;
    // Locked until the counter's window ends: 60 s after the first failure, which the cache timed at once.
    assert_eq!(limiter.check_assertion(endpoint, addr, T0 + 10).await, Err(Limited { retry_after: 55 }));
    // Another address, and the other endpoint, keep their own counts.
    assert_eq!(limiter.check_assertion(endpoint, other, T0 + 10).await, Ok(()));
    assert_eq!(limiter.check_assertion(AssertionEndpoint::Revoke, addr, T0 + 10).await, Ok(()));
    assert_eq!(limiter.check_assertion(endpoint, addr, T0 + 65).await, Ok(()), "the window is over");
}

#[tokio::test]
async fn wrong_user_codes_lock_an_ip_out_of_code_entry_until_the_window_ends() {
    for limiter in [Limiter::new(Arc::new(MemoryCache::default()), rules()), Limiter::new(Arc::new(Down), rules())] {
        let (addr, other) = (ip("192.0.2.7"), ip("192.0.2.8"));
        for i in 0..4 {
            assert_eq!(limiter.check_user_code_entry(addr, T0 + i).await, Ok(()), "{i}");
            assert_eq!(limiter.user_code_failed(addr, T0 + i).await, None, "{i}");
        }
        // The fifth wrong code reaches the limit of failed sign-ins per IP (5).
        assert!(limiter.user_code_failed(addr, T0 + 4).await.is_some());
        let refused = limiter.check_user_code_entry(addr, T0 + 10).await.unwrap_err();
        assert!((50..=56).contains(&refused.retry_after), "{refused:?}");
        assert_eq!(limiter.check_user_code_entry(other, T0 + 10).await, Ok(()), "another address");
        // Sign-ins from the address are not locked by it.
        assert!(limiter.begin_sign_in(addr, "alice", T0 + 10).await.is_ok());
        assert_eq!(limiter.check_user_code_entry(addr, T0 + 65).await, Ok(()), "the window is over");
        assert_eq!(limiter.check_user_code_entry(None, T0 + 10).await, Ok(()), "no IP, no IP limit");
    }
}

#[tokio::test]
async fn each_client_endpoint_counts_like_the_token_endpoint_on_counters_of_its_own() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    let tv = params(&[("client_id", "tv")]);
    for _ in 0..4 {
        assert!(limiter
            .check_client_request(ClientEndpoint::DeviceAuthorization, &tv, None, ip("192.0.2.1"), now)
            .await
            .is_ok());
    }
    assert!(
        limiter
            .check_client_request(ClientEndpoint::DeviceAuthorization, &tv, None, ip("192.0.2.2"), now)
            .await
            .is_err(),
        "per client"
    );
    assert!(
        limiter.check_client_request(ClientEndpoint::Token, &tv, None, ip("192.0.2.1"), now).await.is_ok(),
        "polls count apart"
    );
    let pushes = limiter.check_client_request(ClientEndpoint::PushedAuthorization, &tv, None, ip("192.0.2.1"), now);
    assert!(pushes.await.is_ok(), "and so do pushes");
    let other = params(&[("client_id", "other")]);
    for _ in 0..2 {
        assert!(limiter
            .check_client_request(ClientEndpoint::DeviceAuthorization, &other, None, ip("192.0.2.1"), now)
            .await
            .is_ok());
    }
    assert!(
        limiter
            .check_client_request(ClientEndpoint::DeviceAuthorization, &other, None, ip("192.0.2.1"), now)
            .await
            .is_err(),
        "per IP (6)"
    );
}

#[tokio::test]
async fn ip_failures_block_until_the_window_ends_and_successes_do_not_count() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let addr = ip("203.0.113.5");
    let now = crate::domain::now();
    // Successes in between do not count and do not reset the IP.
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        assert_eq!(fail(&limiter, addr, name, now).await, Ok(None), "failure {i}");
        succeed(&limiter, addr, "someone", now).await;
    }
    let lock = fail(&limiter, addr, "e", now).await.unwrap().expect("the fifth failure blocks the IP");
    assert_eq!(lock.scope, LockScope::ClientIp);
    assert!((59..=60).contains(&lock.retry_after), "{lock:?}");
    let seen = limiter.login_lock(addr, "anyone", now).await.expect("blocked");
    assert_eq!(seen.scope, LockScope::ClientIp);
    assert_eq!(limiter.login_lock(ip("203.0.113.6"), "anyone", now).await, None);
}

#[tokio::test]
async fn a_sign_in_without_a_name_counts_on_the_ip_only() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let addr = ip("203.0.113.7");
    // A name locked by password guesses holds back no sign-in that names none.
    for _ in 0..3 {
        fail(&limiter, ip("198.51.100.1"), "alice", T0).await.unwrap();
    }
    assert_eq!(limiter.login_lock(addr, "alice", T0).await.map(|l| l.scope), Some(LockScope::Username));
    let attempt = limiter.begin_ip_sign_in(addr, T0).await.expect("the IP is not locked");
    limiter.ip_sign_in_succeeded(attempt, T0).await;
    assert_eq!(limiter.login_lock(addr, "alice", T0 + 1).await.map(|l| l.scope), Some(LockScope::Username), "kept");
    // Its failures count with the IP's password failures, and the IP's lock refuses it.
    for i in 0..4 {
        let attempt = limiter.begin_ip_sign_in(addr, T0).await.expect("not locked yet");
        assert_eq!(limiter.sign_in_failed(attempt, T0).await, None, "failure {i}");
    }
    let lock = fail(&limiter, addr, "bob", T0).await.unwrap().expect("the fifth failure blocks the IP");
    assert_eq!(lock.scope, LockScope::ClientIp);
    let refused = limiter.begin_ip_sign_in(addr, T0 + 1).await.expect_err("locked");
    assert_eq!(refused.scope, LockScope::ClientIp);
    assert!(limiter.begin_ip_sign_in(ip("203.0.113.8"), T0 + 1).await.is_ok(), "another IP");
}

/// Parallel guesses: of twelve attempts begun before any is settled, only as many as the limit allows check
/// their password. Before, each passed the lock check before any failure was counted.
async fn parallel_guesses_check_no_more_passwords_than_the_limit(limiter: Limiter) {
    let limiter = Arc::new(limiter);
    let now = crate::domain::now();
    let begun = futures_util::future::join_all((0..12).map(|i| {
        let limiter = Arc::clone(&limiter);
        async move { limiter.begin_sign_in(ip(&format!("192.0.2.{i}")), "alice", now).await }
    }))
    .await;
    let (checked, refused): (Vec<_>, Vec<_>) = begun.into_iter().partition(Result::is_ok);
    assert_eq!((checked.len(), refused.len()), (3, 9));
    let mut locks = Vec::new();
    for attempt in checked.into_iter().flatten() {
        locks.push(limiter.sign_in_failed(attempt, now).await);
    }
    assert_eq!(locks.iter().flatten().count(), 1, "the third failure locks: {locks:?}");
    assert!(limiter.begin_sign_in(ip("192.0.2.99"), "alice", now).await.is_err(), "locked");
    // From one IP, the IP's limit (5) holds the same way.
    let begun = futures_util::future::join_all((0..12).map(|i| {
        let limiter = Arc::clone(&limiter);
        async move { limiter.begin_sign_in(ip("198.51.100.1"), &format!("user{i}"), now).await }
    }))
    .await;
    assert_eq!(begun.iter().filter(|r| r.is_ok()).count(), 5);
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    parallel_guesses_check_no_more_passwords_than_the_limit(Limiter::new(Arc::new(MemoryCache::default()), rules()))
        .await;
    parallel_guesses_check_no_more_passwords_than_the_limit(Limiter::new(Arc::new(Down), rules())).await;
}

#[tokio::test]
async fn usernames_lock_progressively_in_the_cache() {
    // The memory cache keeps its own clock: only the lock markers use `now`, which the test controls.
    username_lockout_progression(&Limiter::new(Arc::new(MemoryCache::default()), rules())).await;
}

// Regression: a name typed with a composed "é" and with "e" and a combining accent counted as two names, so
// guesses alternating between the forms got twice the tries before a lock, and a lock held for one form only.
async fn a_name_counts_once_in_either_unicode_form(limiter: &Limiter) {
    let tries = [("192.0.2.1", "Jos\u{e9}"), ("192.0.2.2", "Jose\u{301}"), ("192.0.2.3", "JOSE\u{301}")];
    let mut lock = Ok(None);
    for (from, name) in tries {
        lock = fail(limiter, ip(from), name, T0).await;
    }
    assert_eq!(lock, Ok(Some(Lock { scope: LockScope::Username, retry_after: 60 })));
    for name in ["jos\u{e9}", "Jose\u{301}"] {
        assert!(limiter.login_lock(ip("198.51.100.9"), name, T0 + 10).await.is_some(), "{name:?}");
    }
}

#[tokio::test]
async fn a_name_counts_once_in_either_unicode_form_in_the_fallback() {
    a_name_counts_once_in_either_unicode_form(&Limiter::new(Arc::new(Down), rules())).await;
}

#[tokio::test]
async fn a_name_counts_once_in_either_unicode_form_in_the_cache() {
    a_name_counts_once_in_either_unicode_form(&Limiter::new(Arc::new(MemoryCache::default()), rules())).await;
}

/// Each lock is refused "for the first time" once: whatever the spelling of the name or the IP of the attempt
/// (for a username lock), whatever the name (for an IP lock), until a new lock starts.
async fn each_lock_has_one_first_refusal(limiter: &Limiter) {
    let addr = ip("192.0.2.1");
    for _ in 0..3 {
        fail(limiter, addr, "alice", T0).await.expect("not locked yet");
    }
    let refused = limiter.login_lock(addr, "Alice", T0 + 5).await.expect("locked");
    assert!(limiter.first_refusal(refused, addr, "Alice", T0 + 5).await);
    for (from, name, at) in [(addr, "alice", T0 + 6), (ip("198.51.100.9"), "ALICE", T0 + 30), (None, "aLiCe", T0 + 59)]
    {
        let refused = limiter.login_lock(from, name, at).await.expect("locked");
        assert!(!limiter.first_refusal(refused, from, name, at).await, "{name} at {at}");
    }
    // The next lock of the name is another lock.
    let lock = fail(limiter, addr, "alice", T0 + 61).await.expect("checked").expect("locked again");
    assert_eq!(lock.retry_after, 120);
    let refused = limiter.login_lock(addr, "alice", T0 + 62).await.expect("locked");
    assert!(limiter.first_refusal(refused, addr, "alice", T0 + 62).await);
    assert!(!limiter.first_refusal(refused, addr, "ALICE", T0 + 62).await);

    // An IP lock: the names tried during it do not matter.
    let blocked = ip("203.0.113.7");
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        fail(limiter, blocked, name, T0).await.expect("not blocked yet");
    }
    let refused = limiter.login_lock(blocked, "u6", T0 + 1).await.expect("blocked");
    assert_eq!(refused.scope, LockScope::ClientIp);
    assert!(limiter.first_refusal(refused, blocked, "u6", T0 + 1).await);
    let refused = limiter.login_lock(blocked, "u7", T0 + 2).await.expect("blocked");
    assert!(!limiter.first_refusal(refused, blocked, "u7", T0 + 2).await);
}

/// Regression: while the attempt that reached the limit was being checked, every second of refusals was a
/// "first refusal", each a `login_refused_locked` event, though no lock had started.
async fn refusals_while_the_last_attempt_is_checked_are_no_lock(limiter: &Limiter) {
    let addr = ip("192.0.2.1");
    let mut checked = Vec::new();
    for _ in 0..3 {
        checked.push(limiter.begin_sign_in(addr, "alice", T0).await.expect("not locked yet"));
    }
    for at in T0..T0 + 5 {
        let refused = limiter.begin_sign_in(addr, "ALICE", at).await.expect_err("refused unchecked");
        assert_eq!((refused.scope, refused.retry_after), (LockScope::Username, 1));
        assert!(!limiter.first_refusal(refused, addr, "ALICE", at).await, "no lock at {at}");
    }
    // The last one fails and locks: the lock's first refusal is recorded, once.
    let mut started = None;
    for attempt in checked {
        started = started.or(limiter.sign_in_failed(attempt, T0 + 5).await);
    }
    assert!(started.is_some());
    let refused = limiter.login_lock(addr, "alice", T0 + 6).await.expect("locked");
    assert!(limiter.first_refusal(refused, addr, "alice", T0 + 6).await);
    assert!(!limiter.first_refusal(refused, addr, "Alice", T0 + 7).await);
}

#[tokio::test]
async fn refusals_while_the_last_attempt_is_checked_are_no_lock_in_the_cache_and_in_the_fallback() {
    refusals_while_the_last_attempt_is_checked_are_no_lock(&Limiter::new(Arc::new(MemoryCache::default()), rules()))
        .await;
    refusals_while_the_last_attempt_is_checked_are_no_lock(&Limiter::new(Arc::new(Down), rules())).await;
}

#[tokio::test]
async fn each_lock_has_one_first_refusal_in_the_cache_and_in_the_fallback() {
    each_lock_has_one_first_refusal(&Limiter::new(Arc::new(MemoryCache::default()), rules())).await;
    each_lock_has_one_first_refusal(&Limiter::new(Arc::new(Down), rules())).await;
}

#[tokio::test]
async fn registration_counts_per_ip_and_off_means_off() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    assert!(limiter.check_registration(ip("192.0.2.1"), now).await.is_ok());
    assert!(limiter.check_registration(ip("192.0.2.1"), now).await.is_ok());
    let e = limiter.check_registration(ip("192.0.2.1"), now).await.unwrap_err();
    assert!((3599..=3600).contains(&e.retry_after), "{e:?}");
    assert!(limiter.check_registration(None, now).await.is_ok(), "no IP, no IP limit");
    let off = Limiter::new(Arc::new(MemoryCache::default()), LimitSettings { register_ip: None, ..rules() });
    for _ in 0..5 {
        assert!(off.check_registration(ip("192.0.2.1"), now).await.is_ok());
    }
}

#[tokio::test]
async fn sign_ups_count_per_ip_apart_from_client_registrations() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    assert!(limiter.check_user_registration(ip("192.0.2.1"), now).await.is_ok());
    assert!(limiter.check_user_registration(ip("192.0.2.1"), now).await.is_ok());
    let e = limiter.check_user_registration(ip("192.0.2.1"), now).await.unwrap_err();
    assert!((599..=600).contains(&e.retry_after), "{e:?}");
    assert!(limiter.check_user_registration(ip("192.0.2.2"), now).await.is_ok());
    assert!(limiter.check_registration(ip("192.0.2.1"), now).await.is_ok(), "client registrations count apart");
    assert!(limiter.check_user_registration(None, now).await.is_ok(), "no IP, no IP limit");
    let off = Limiter::new(Arc::new(MemoryCache::default()), LimitSettings { user_registration_ip: None, ..rules() });
    for _ in 0..5 {
        assert!(off.check_user_registration(ip("192.0.2.1"), now).await.is_ok());
    }
}

#[tokio::test]
async fn password_resets_count_per_ip_and_per_account_in_any_spelling() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    for _ in 0..3 {
        assert!(limiter.check_password_reset_ip(ip("192.0.2.1"), now).await.is_ok());
    }
    let e = limiter.check_password_reset_ip(ip("192.0.2.1"), now).await.unwrap_err();
    assert!((3599..=3600).contains(&e.retry_after), "{e:?}");
    assert!(limiter.check_password_reset_ip(ip("192.0.2.2"), now).await.is_ok());
    assert!(limiter.check_user_registration(ip("192.0.2.1"), now).await.is_ok(), "sign-ups count apart");
    assert!(limiter.check_password_reset_account("alice", now).await.is_ok());
    assert!(limiter.check_password_reset_account("ALICE", now).await.is_ok());
    assert!(limiter.check_password_reset_account("Alice", now).await.is_err(), "one account in any letter case");
    assert!(limiter.check_password_reset_account("bob", now).await.is_ok());
    let off = Limiter::new(
        Arc::new(MemoryCache::default()),
        LimitSettings { password_reset_ip: None, password_reset_user: None, ..rules() },
    );
    for _ in 0..5 {
        assert!(off.check_password_reset_ip(ip("192.0.2.1"), now).await.is_ok());
        assert!(off.check_password_reset_account("alice", now).await.is_ok());
    }
}

#[tokio::test]
async fn verification_mails_count_per_account_apart_from_reset_mails() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    assert!(limiter.check_email_verification_account("alice", now).await.is_ok());
    assert!(limiter.check_email_verification_account("ALICE", now).await.is_ok());
    let e = limiter.check_email_verification_account("Alice", now).await.unwrap_err();
    assert!((3599..=3600).contains(&e.retry_after), "{e:?}");
    assert!(limiter.check_password_reset_account("alice", now).await.is_ok(), "reset mails count apart");
    assert!(limiter.check_email_verification_account("bob", now).await.is_ok());
    let off =
        Limiter::new(Arc::new(MemoryCache::default()), LimitSettings { email_verification_user: None, ..rules() });
    for _ in 0..5 {
        assert!(off.check_email_verification_account("alice", now).await.is_ok());
    }
}

#[tokio::test]
async fn a_password_reset_lifts_the_accounts_lock_but_not_the_ips() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    for _ in 0..3 {
        let attempt = limiter.begin_sign_in(ip("192.0.2.1"), "alice", now).await.unwrap();
        limiter.sign_in_failed(attempt, now).await;
    }
    assert!(limiter.begin_sign_in(ip("192.0.2.9"), "alice", now).await.is_err(), "locked");
    limiter.password_reset("Alice", now).await;
    let attempt = limiter.begin_sign_in(ip("192.0.2.9"), "alice", now).await.expect("the lock is lifted");
    limiter.sign_in_abandoned(attempt, now).await;
}

#[tokio::test]
async fn new_sign_ins_count_per_ip_and_off_means_off() {
    let limiter = Limiter::new(Arc::new(MemoryCache::default()), rules());
    let now = crate::domain::now();
    for _ in 0..3 {
        assert!(limiter.check_new_sign_in(ip("192.0.2.1"), now).await.is_ok());
    }
    let e = limiter.check_new_sign_in(ip("192.0.2.1"), now).await.unwrap_err();
    assert!((299..=300).contains(&e.retry_after), "{e:?}");
    // Another address, and another /64, count on their own; one /64 counts as one address.
    assert!(limiter.check_new_sign_in(ip("192.0.2.2"), now).await.is_ok());
    for host in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
        assert!(limiter.check_new_sign_in(ip(host), now).await.is_ok(), "{host}");
    }
    assert!(limiter.check_new_sign_in(ip("2001:db8::4"), now).await.is_err());
    assert!(limiter.check_new_sign_in(ip("2001:db8:0:1::1"), now).await.is_ok());
    assert!(limiter.check_new_sign_in(None, now).await.is_ok(), "no IP, no IP limit");
    // The other limits keep their own counts.
    assert!(limiter.check_registration(ip("192.0.2.1"), now).await.is_ok());
    let off = Limiter::new(Arc::new(MemoryCache::default()), LimitSettings { authorize_ip: None, ..rules() });
    for _ in 0..5 {
        assert!(off.check_new_sign_in(ip("192.0.2.1"), now).await.is_ok());
    }
    // While the cache is down, this instance still counts.
    let down = Limiter::new(Arc::new(Down), rules());
    for _ in 0..3 {
        assert!(down.check_new_sign_in(ip("192.0.2.1"), now).await.is_ok());
    }
    assert!(down.check_new_sign_in(ip("192.0.2.1"), now).await.is_err());
}

#[test]
fn the_fallback_map_stays_bounded() {
    let mut f = Fallback::new(3);
    for (i, key) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        f.incr(key, 100 + i as i64, T0);
    }
    assert_eq!(f.slots.len(), 3);
    // The ones closest to their end made room.
    assert!(f.slots.contains_key("e") && f.slots.contains_key("d") && f.slots.contains_key("c"));
    // Expired slots go first.
    f.set("x", 1, T0 + 1, T0);
    assert_eq!(f.value("x", T0 + 2), None);
    assert_eq!(f.incr("d", 100, T0 + 50), (2, 53));
    assert_eq!(f.slots.len(), 2);
}
