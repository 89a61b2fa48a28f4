//! Redis-backed [`EphemeralStore`] for deployments with several instances.
//!
//! Owns the connection (a `ConnectionManager`, which reconnects by itself), the deployment key prefix, and
//! the time bound on every round trip: a slow or absent Redis answers `CacheError::Unavailable` within the
//! timeout so callers fall back (DESIGN.md §3) instead of hanging a request. Needs Redis 6.2 or later (GETDEL).
//! Values can be tokens: they are never logged; keys are logged at debug level only.

use super::{CacheError, CacheResult, EphemeralStore};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisResult, Script, ScriptInvocation, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

/// Shortest TTL Redis can express with PX.
const MIN_TTL_MS: u64 = 1;
/// Longest TTL sent; Redis refuses expiry times that overflow its clock. Nothing in the cache lives this long.
const MAX_TTL_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1000;

/// Fixed-window counter in one round trip: the first hit opens the window, later hits only count.
/// A counter found without expiry (left by an interrupted write) gets one, so it can never block forever.
/// DECR on an absent key would start a counter at -1 with no expiry.
const DECR_SCRIPT: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
";

const INCR_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
";

/// The Redis cache. Clones share their connections: one multiplexed connection per thread that uses the
/// cache. A connection's driver task runs on the runtime that opened it; the HTTP workers each run their own
/// single-threaded runtime, so a shared connection would cost every command two extra thread wake-ups.
#[derive(Clone)]
pub struct RedisCache {
    client: redis::Client,
    config: ConnectionManagerConfig,
    conns: Arc<Mutex<HashMap<ThreadId, ConnectionManager>>>,
    prefix: Arc<str>,
    timeout: Duration,
    incr_script: Arc<Script>,
    decr_script: Arc<Script>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it can carry a password.
        f.debug_struct("RedisCache").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

/// Milliseconds for PX/PEXPIRE, rounded up and kept within what Redis accepts.
fn ttl_ms(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(MAX_TTL_MS).clamp(MIN_TTL_MS, MAX_TTL_MS)
}

/// Runs `fut` for at most `timeout`, mapping every failure to `Unavailable`.
async fn bounded<T>(
    timeout: Duration,
    op: &'static str,
    key: Option<&str>,
    fut: impl Future<Output = RedisResult<T>>,
) -> CacheResult<T> {
    let message = match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(value)) => return Ok(value),
        // The error text comes from the client or the server, never from our values.
        Ok(Err(err)) => format!("redis {op}: {err}"),
        Err(_) => format!("redis {op}: no answer within {} ms", timeout.as_millis()),
    };
    tracing::debug!(op, key, error = %message, "redis command failed");
    Err(CacheError::Unavailable(message))
}

/// Runs `attempt` once more when the first found the connection broken (Redis restarted, a failover, an idle
/// connection cut): the manager reconnects on that error, and without a second try the first request after
/// every outage failed on each worker thread. Only for commands that may run twice: the first may have run before
/// its answer was lost.
async fn once_more_on_a_new_connection<T, F, Fut>(mut attempt: F) -> RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    match attempt().await {
        Err(e) if e.is_connection_dropped() || e.is_io_error() => attempt().await,
        other => other,
    }
}

/// A script run on a clone of `conn` (the manager's clones share one connection).
async fn invoke<T: FromRedisValue>(invocation: &ScriptInvocation<'_>, conn: &ConnectionManager) -> RedisResult<T> {
    invocation.invoke_async(&mut conn.clone()).await
}

/// Whether a command may be sent again when its connection broke: run twice, some say the wrong thing.
#[derive(Clone, Copy)]
enum Twice {
    Harmless,
    Wrong,
}

impl RedisCache {
    /// Connects to `url` and checks the server answers. Every key is stored as `prefix` + key; `timeout`
    /// bounds the connection and each later command.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<RedisCache, CacheError> {
        let cache = Self::open(url, prefix, timeout)?;
        cache.ping().await?;
        Ok(cache)
    }

    /// [`RedisCache::connect`] without the check: connections are opened on first use.
    pub fn open(url: &str, prefix: &str, timeout: Duration) -> Result<RedisCache, CacheError> {
        let timeout = timeout.max(Duration::from_millis(1));
        // Only the error kind: the message could echo the URL and its password.
        let client = redis::Client::open(url)
            .map_err(|e| CacheError::Unavailable(format!("invalid Redis URL ({:?})", e.kind())))?;
        // One quick retry absorbs a blip; more would only be cut short by the timeout anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(timeout);
        Ok(RedisCache {
            client,
            config,
            conns: Arc::default(),
            prefix: Arc::from(prefix),
            timeout,
            incr_script: Arc::new(Script::new(INCR_SCRIPT)),
            decr_script: Arc::new(Script::new(DECR_SCRIPT)),
        })
    }

    /// This thread's connection, opened on first use. Thread ids are never reused, so an entry never
    /// reaches a thread other than the one whose runtime drives it.
    async fn conn(&self) -> CacheResult<ConnectionManager> {
        let thread = std::thread::current().id();
        if let Some(conn) = self.conns.lock().unwrap_or_else(PoisonError::into_inner).get(&thread) {
            return Ok(conn.clone());
        }
        let opening = ConnectionManager::new_with_config(self.client.clone(), self.config.clone());
        let conn = bounded(self.timeout, "connect", None, opening).await?;
        let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(conns.entry(thread).or_insert(conn).clone())
    }

    /// The prefix put before every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Sends `cmd`, once more on a broken connection when it may run twice ([`once_more_on_a_new_connection`]).
    async fn query<T: FromRedisValue>(&self, op: &'static str, key: &str, cmd: Cmd, twice: Twice) -> CacheResult<T> {
        let conn = self.conn().await?;
        let attempt = || {
            let mut conn = conn.clone();
            let cmd = &cmd;
            async move { cmd.query_async::<T>(&mut conn).await }
        };
        match twice {
            Twice::Harmless => bounded(self.timeout, op, Some(key), once_more_on_a_new_connection(attempt)).await,
            Twice::Wrong => bounded(self.timeout, op, Some(key), attempt()).await,
        }
    }
}

#[async_trait]
impl EphemeralStore for RedisCache {
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()> {
        let key = self.key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(value).arg("PX").arg(ttl_ms(ttl));
        self.query::<()>("SET", &key, cmd, Twice::Harmless).await
    }

    async fn set_within_budget(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        self.set(key, value, ttl).await.map(|()| true)
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<bool> {
        let key = self.key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(value).arg("NX").arg("PX").arg(ttl_ms(ttl));
        // OK when stored, nil when the key was already there: sent again after storing, it would say "there
        // already", a first use taken for a replay.
        let reply = self.query::<Value>("SET NX", &key, cmd, Twice::Wrong).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>> {
        let key = self.key(key);
        let mut cmd = redis::cmd("GET");
        cmd.arg(&key);
        self.query("GET", &key, cmd, Twice::Harmless).await
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<Option<Vec<u8>>> {
        let key = self.key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(value).arg("XX").arg("PX").arg(ttl_ms(ttl)).arg("GET");
        // Sent again after replacing, it would return its own value as the one replaced.
        self.query("SET XX GET", &key, cmd, Twice::Wrong).await
    }

    async fn delete(&self, key: &str) -> CacheResult<()> {
        let key = self.key(key);
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&key);
        self.query::<()>("DEL", &key, cmd, Twice::Harmless).await
    }

    async fn incr(&self, key: &str, window: Duration) -> CacheResult<(u64, Duration)> {
        let key = self.key(key);
        let conn = self.conn().await?;
        let mut invocation = self.incr_script.key(&key);
        invocation.arg(ttl_ms(window));
        // Sent twice, a count is one too many: a limit that errs toward caution.
        let (count, left_ms): (u64, i64) =
            bounded(self.timeout, "INCR", Some(&key), once_more_on_a_new_connection(|| invoke(&invocation, &conn)))
                .await?;
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
        Ok((count, left))
    }

    async fn decr(&self, key: &str) -> CacheResult<()> {
        let key = self.key(key);
        let conn = self.conn().await?;
        let invocation = self.decr_script.key(&key);
        bounded(self.timeout, "DECR", Some(&key), once_more_on_a_new_connection(|| invoke::<()>(&invocation, &conn)))
            .await
    }

    async fn ping(&self) -> CacheResult<()> {
        let mut conn = self.conn().await?;
        bounded(self.timeout, "PING", None, async move { redis::cmd("PING").query_async::<()>(&mut conn).await }).await
    }

    fn describe(&self) -> &'static str {
        "redis"
    }

    fn is_shared(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::cache::memory::conformance;
    use std::time::Instant;

    const URL: &str = "redis://127.0.0.1:6379";

    /// A cache on the local Redis with a prefix of its own. Fails (never skips) when Redis is not there.
    async fn fresh() -> RedisCache {
        let prefix = format!("t:{}:", uuid::Uuid::new_v4());
        match RedisCache::connect(URL, &prefix, Duration::from_secs(2)).await {
            Ok(cache) => cache,
            Err(e) => panic!("these tests need Redis at {URL}: {e}"),
        }
    }

    conformance::store_tests!(fresh().await);

    #[tokio::test]
    async fn describes_itself_and_keeps_prefix() {
        let cache = fresh().await;
        assert_eq!(cache.describe(), "redis");
        assert!(cache.prefix().starts_with("t:"));
        let store: Arc<dyn EphemeralStore> = Arc::new(cache);
        conformance::set_get_overwrite(store.as_ref()).await;
    }

    // Regression: after the connection was cut (Redis restarted, a failover), the first command on it failed.
    #[tokio::test]
    async fn a_command_on_a_cut_connection_is_sent_again_on_a_new_one() {
        let cache = fresh().await;
        cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
        let mut conn = cache.conn().await.unwrap();
        let id: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.unwrap();
        let mut other = redis::Client::open(URL).unwrap().get_multiplexed_async_connection().await.unwrap();
        let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(&mut other).await.unwrap();
        assert_eq!(killed, 1);
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        let mut conn = cache.conn().await.unwrap();
        let id: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.unwrap();
        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async::<i64>(&mut other).await.unwrap();
        assert_eq!(cache.incr("n", Duration::from_secs(60)).await.unwrap().0, 1);
        // Not a SET NX: had the first run before its answer was lost, a second would take a first use (a proof's
        // jti) for a replay. It fails, and the next is answered.
        let mut conn = cache.conn().await.unwrap();
        let id: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.unwrap();
        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async::<i64>(&mut other).await.unwrap();
        assert!(cache.set_if_absent("once", b"1", Duration::from_secs(60)).await.is_err());
        assert!(cache.set_if_absent("once", b"1", Duration::from_secs(60)).await.unwrap(), "it had not run");
    }

    #[tokio::test]
    async fn keys_carry_the_prefix() {
        let cache = fresh().await;
        cache.set("code:abc", b"v", Duration::from_secs(60)).await.unwrap();
        let mut conn = cache.conn().await.unwrap();
        let raw: Option<Vec<u8>> =
            redis::cmd("GET").arg(format!("{}code:abc", cache.prefix())).query_async(&mut conn).await.unwrap();
        assert_eq!(raw.as_deref(), Some(&b"v"[..]));
        let ttl: i64 =
            redis::cmd("PTTL").arg(format!("{}code:abc", cache.prefix())).query_async(&mut conn).await.unwrap();
        assert!(ttl > 50_000 && ttl <= 60_000, "ttl: {ttl}");
    }

    #[tokio::test]
    async fn another_runtime_gets_its_own_connection() {
        let cache = fresh().await;
        cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
        let elsewhere = cache.clone();
        // As an HTTP worker does: a single-threaded runtime on a thread of its own, which then ends.
        let read = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move { elsewhere.get("k").await.unwrap() })
        })
        .join()
        .unwrap();
        assert_eq!(read.as_deref(), Some(&b"v"[..]));
        assert_eq!(cache.conns.lock().unwrap().len(), 2);
        // The ended runtime took its connection's driver with it; this thread's connection is untouched.
        assert_eq!(cache.replace("k", b"w", Duration::from_secs(60)).await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[tokio::test]
    async fn prefixes_isolate() {
        let a = fresh().await;
        let b = fresh().await;
        let long = Duration::from_secs(60);
        a.set("k", b"from a", long).await.unwrap();
        assert_eq!(b.get("k").await.unwrap(), None);
        assert_eq!(b.replace("k", b"from b", long).await.unwrap(), None);
        assert!(b.set_if_absent("k", b"from b", long).await.unwrap());
        assert_eq!(b.incr("n", long).await.unwrap().0, 1);
        assert_eq!(a.incr("n", long).await.unwrap().0, 1);
        b.delete("k").await.unwrap();
        assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"from a"[..]));
    }

    #[tokio::test]
    async fn counter_without_expiry_gets_one() {
        let cache = fresh().await;
        let mut conn = cache.conn().await.unwrap();
        let raw = format!("{}n", cache.prefix());
        redis::cmd("SET").arg(&raw).arg(7).query_async::<()>(&mut conn).await.unwrap();
        let (n, left) = cache.incr("n", Duration::from_secs(5)).await.unwrap();
        assert_eq!(n, 8);
        assert!(left > Duration::ZERO && left <= Duration::from_secs(5));
    }

    #[test]
    fn ttl_rounds_up_and_stays_in_range() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1)), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_ms(Duration::from_secs(60)), 60_000);
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS);
    }

    #[tokio::test]
    async fn closed_port_fails_fast() {
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let result = RedisCache::connect("redis://127.0.0.1:1", "t:", timeout).await;
        assert!(matches!(result, Err(CacheError::Unavailable(_))));
        assert!(started.elapsed() < timeout * 3, "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn silent_server_yields_unavailable_within_timeout() {
        // The kernel completes the handshake for the backlog, and nothing ever answers: the case a plain
        // client would hang on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let result = RedisCache::connect(&format!("redis://127.0.0.1:{port}"), "t:", timeout).await;
        assert!(matches!(result, Err(CacheError::Unavailable(_))));
        // Connection and the checking PING are each bounded.
        assert!(started.elapsed() < timeout * 3, "took {:?}", started.elapsed());
        drop(listener);
    }

    /// A TCP relay to the local Redis that can stop relaying (a hung server) or vanish (a crashed one).
    /// Plain threads and std sockets, so the tests need no extra tokio features.
    struct Relay {
        port: u16,
        frozen: Arc<AtomicBool>,
        stopped: Arc<AtomicBool>,
        sockets: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    }

    use std::sync::atomic::{AtomicBool, Ordering};

    impl Relay {
        fn start() -> Relay {
            Self::start_on(0)
        }

        fn start_on(port: u16) -> Relay {
            use std::io::{Read, Write};
            use std::net::{TcpListener, TcpStream};

            fn pump(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>) {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if frozen.load(Ordering::SeqCst) {
                        continue;
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Both);
            }

            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let relay = Relay {
                port,
                frozen: Arc::new(AtomicBool::new(false)),
                stopped: Arc::new(AtomicBool::new(false)),
                sockets: Arc::default(),
            };
            let (frozen, stopped, sockets) = (relay.frozen.clone(), relay.stopped.clone(), relay.sockets.clone());
            std::thread::spawn(move || {
                // Polls so that dropping the relay also closes the listener promptly.
                while !stopped.load(Ordering::SeqCst) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    let Ok(server) = TcpStream::connect("127.0.0.1:6379") else {
                        continue;
                    };
                    client.set_nonblocking(false).unwrap();
                    let mut held = sockets.lock().unwrap();
                    held.push(client.try_clone().unwrap());
                    held.push(server.try_clone().unwrap());
                    drop(held);
                    let back = (server.try_clone().unwrap(), client.try_clone().unwrap());
                    let (f1, f2) = (frozen.clone(), frozen.clone());
                    std::thread::spawn(move || pump(client, server, f1));
                    std::thread::spawn(move || pump(back.0, back.1, f2));
                }
            });
            relay
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        fn freeze(&self) {
            self.frozen.store(true, Ordering::SeqCst);
        }
    }

    impl Drop for Relay {
        fn drop(&mut self) {
            self.stopped.store(true, Ordering::SeqCst);
            for socket in self.sockets.lock().unwrap().drain(..) {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Every operation of `cache` answers `Unavailable`, each within about `timeout`.
    async fn all_unavailable(cache: &RedisCache, timeout: Duration) {
        let ttl = Duration::from_secs(60);
        let limit = timeout * 3;
        macro_rules! check {
            ($call:expr) => {{
                let started = Instant::now();
                let result = tokio::time::timeout(limit * 2, $call).await.expect("call hung");
                assert!(
                    matches!(result, Err(CacheError::Unavailable(_))),
                    "{} gave {:?}",
                    stringify!($call),
                    result.map(|_| ())
                );
                assert!(started.elapsed() < limit, "{} took {:?}", stringify!($call), started.elapsed());
            }};
        }
        check!(cache.ping());
        check!(cache.set("k", b"v", ttl));
        check!(cache.set_if_absent("k", b"v", ttl));
        check!(cache.get("k"));
        check!(cache.replace("k", b"v", ttl));
        check!(cache.delete("k"));
        check!(cache.incr("n", ttl));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hung_server_yields_unavailable_within_timeout() {
        let relay = Relay::start();
        let timeout = Duration::from_millis(300);
        let prefix = format!("t:{}:", uuid::Uuid::new_v4());
        let cache = RedisCache::connect(&relay.url(), &prefix, timeout).await.unwrap();
        cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
        assert!(cache.get("k").await.unwrap().is_some());
        relay.freeze();
        all_unavailable(&cache, timeout).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vanished_server_yields_unavailable_then_recovers() {
        let relay = Relay::start();
        let timeout = Duration::from_millis(300);
        let prefix = format!("t:{}:", uuid::Uuid::new_v4());
        let cache = RedisCache::connect(&relay.url(), &prefix, timeout).await.unwrap();
        cache.ping().await.unwrap();
        let port = relay.port;
        drop(relay);
        // Let the relay's listener close.
        tokio::time::sleep(Duration::from_millis(50)).await;
        all_unavailable(&cache, timeout).await;
        // Back on the same address: the connection manager reconnects by itself.
        let relay = Relay::start_on(port);
        let mut recovered = false;
        for _ in 0..20 {
            if cache.ping().await.is_ok() {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(recovered, "no reconnection after the server came back");
        cache.set("k", b"v", Duration::from_secs(60)).await.unwrap();
        assert!(cache.get("k").await.unwrap().is_some());
        drop(relay);
    }

    #[tokio::test]
    async fn invalid_url_is_refused_without_echoing_it() {
        let err = RedisCache::connect("not a url :secret@", "t:", Duration::from_millis(100)).await.unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
