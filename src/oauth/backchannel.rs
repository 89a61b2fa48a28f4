//! OpenID Connect Back-Channel Logout 1.0: when a browser session ends (logout, the account page, a user signed
//! out everywhere, disabled or removed, another user signing in), every client that was issued tokens within
//! it and registered a `backchannel_logout_uri` is sent a logout token there. Which clients those are is
//! recorded when a code is redeemed (`SessionStore::record_session_client`, only for clients with the URI).
//!
//! The sending is spawned: the request that ended the session is answered at once. Deliveries run
//! concurrently, at most [`Backchannel`]'s bound at a time, each retried a few times with backoff when the
//! client's server fails (5xx) or cannot be reached. At most [`MAX_QUEUED`] notices wait or run at once: a client
//! whose server hangs holds its queue's turns, and the notices for it would otherwise pile up in memory for as
//! long as sessions end; one beyond the bound is not sent, and is logged and counted as failed. The requests
//! themselves are made behind [`LogoutSender`] (`crate::outbound`), with the reach rules of `jwks_uri` fetching:
//! public addresses only for a dynamically registered client.
use super::client_keys::Reach;
use super::provider::Provider;
use super::subject::Subjects;
use super::tokens::new_jti;
use crate::blocking::CpuPool;
use crate::domain::client_rules::parse_backchannel_logout_uri;
use crate::domain::{ClientId, Session, UnixTime, UserId};
use crate::jose::KeyRing;
use crate::metrics::Metrics;
use crate::storage::{ClientStore, RegistrationStore};
use async_trait::async_trait;
use josekit::jwt::JwtPayload;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, RwLock, Semaphore, SemaphorePermit};
use url::Url;

/// `typ` of logout tokens (Back-Channel Logout §2.4 recommends explicit typing).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// The member of `events` that makes a JWT a logout token (§2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid, in seconds: long enough for its retries, short against replay.
pub const LOGOUT_TOKEN_TTL: UnixTime = 120;
/// How many times one logout token is sent at most.
pub const ATTEMPTS: u32 = 3;
/// How many deliveries run at once, across every logout of this process.
pub const CONCURRENT_DELIVERIES: usize = 16;
/// How many deliveries to one client run at once: a client whose server hangs holds at most these of the
/// [`CONCURRENT_DELIVERIES`], and the other clients' notices go on.
pub const CONCURRENT_PER_CLIENT: usize = 4;
/// How many notices wait or run at once, across every logout of this process.
pub const MAX_QUEUED: usize = 10_000;
/// The wait before the first retry; each later one waits twice as long.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The claims of a logout token for `client_id` (§2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `events`, `sub`
/// and `sid`, and never a `nonce` (§2.4 forbids it, so that a logout token cannot pass for an ID token).
pub fn logout_claims(
    issuer: &str,
    client_id: &ClientId,
    subject: &str,
    sid: &str,
    jti: &str,
    now: UnixTime,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(client_id.as_str()));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + LOGOUT_TOKEN_TTL));
    c.insert("jti".into(), json!(jti));
    c.insert("events".into(), json!({ LOGOUT_EVENT: {} }));
    c.insert("sub".into(), json!(subject));
    c.insert("sid".into(), json!(sid));
    c
}

/// Why a logout token was not delivered. For the logs: it may name hosts and statuses, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The client's server failed (5xx) or could not be reached in time: worth another try.
    #[error("{0}")]
    Transient(String),
    /// Refused (4xx: §2.8 says the token was not accepted), a redirect, or a URL the reach rules refuse.
    #[error("{0}")]
    Refused(String),
}

/// Posts logout tokens to clients (`crate::outbound::HttpLogoutSender`).
#[async_trait]
pub trait LogoutSender: Send + Sync {
    /// POSTs `logout_token=<token>` form-encoded to `url`, connecting only where `reach` allows; `Ok` on 2xx.
    async fn send(&self, url: &Url, logout_token: &str, reach: Reach) -> Result<(), DeliveryError>;
}

/// The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed with `error`; `None`: give up.
pub fn retry_delay(attempt: u32, error: &DeliveryError, first: Duration) -> Option<Duration> {
    match error {
        DeliveryError::Transient(_) if attempt < ATTEMPTS => Some(first.saturating_mul(1 << (attempt - 1).min(16))),
        _ => None,
    }
}

/// The sending of logout tokens of one process: the sender, the bound on deliveries at once, and what
/// [`Backchannel::drain`] waits for.
pub struct Backchannel {
    sender: Arc<dyn LogoutSender>,
    /// Where deliveries run: the process's main runtime, which outlives the HTTP workers' own runtimes (a task
    /// spawned on a worker's would be dropped with it at shutdown, its notices unsent).
    runtime: tokio::runtime::Handle,
    permits: Arc<Semaphore>,
    client_queues: Arc<ClientQueues>,
    /// One per notice from when it is taken until it is delivered or given up.
    queued: Arc<Semaphore>,
    /// Each spawned batch holds a read lock until it is done; `drain` takes the write lock.
    in_flight: Arc<RwLock<()>>,
    first_retry: Duration,
    /// The time a logout token is signed at, which is when it is sent.
    clock: fn() -> UnixTime,
}

/// A queue per client, with [`CONCURRENT_PER_CLIENT`] turns, kept while notices for that client wait or run:
/// as many as there are such clients, so at most [`MAX_QUEUED`], and a client shares its queue with no other.
#[derive(Default)]
struct ClientQueues(Mutex<HashMap<ClientId, Arc<Semaphore>>>);

impl ClientQueues {
    /// A place in `client_id`'s queue, which is made if none is kept.
    fn join(&self, client_id: &ClientId) -> QueuePlace<'_> {
        let mut queues = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.entry(client_id.clone()).or_insert_with(|| Arc::new(Semaphore::new(CONCURRENT_PER_CLIENT)));
        QueuePlace { queues: self, client_id: client_id.clone(), queue: Some(Arc::clone(queue)) }
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A notice's place in its client's queue; the queue is forgotten when the last place in it is left.
struct QueuePlace<'a> {
    queues: &'a ClientQueues,
    client_id: ClientId,
    /// Taken only on drop.
    queue: Option<Arc<Semaphore>>,
}

impl QueuePlace<'_> {
    /// A turn to deliver to the client.
    async fn turn(&self) -> Option<SemaphorePermit<'_>> {
        self.queue.as_ref()?.acquire().await.ok()
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        let mut queues = self.queues.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Let go under the lock, so that the count read next is every place's but none being left meanwhile.
        drop(self.queue.take());
        if queues.get(&self.client_id).is_some_and(|q| Arc::strong_count(q) == 1) {
            queues.remove(&self.client_id);
        }
    }
}

impl std::fmt::Debug for Backchannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backchannel").field("first_retry", &self.first_retry).finish_non_exhaustive()
    }
}

impl Backchannel {
    /// Deliveries through `sender` on `runtime`, at most `concurrent` at once ([`CONCURRENT_PER_CLIENT`] to one
    /// client) and `queued` waiting or running, retried after `first_retry`, then twice that, each token signed at
    /// `clock`'s time of its sending.
    pub fn new(
        sender: Arc<dyn LogoutSender>,
        runtime: tokio::runtime::Handle,
        concurrent: usize,
        queued: usize,
        first_retry: Duration,
        clock: fn() -> UnixTime,
    ) -> Self {
        Self {
            sender,
            runtime,
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            client_queues: Arc::default(),
            queued: Arc::new(Semaphore::new(queued)),
            in_flight: Arc::new(RwLock::new(())),
            first_retry,
            clock,
        }
    }

    /// Waits until every logout token sent so far is delivered or given up: for commands and a server that exit
    /// next.
    pub async fn drain(&self) {
        drop(self.in_flight.write().await);
    }

    /// [`Backchannel::drain`] for at most `limit`; whether everything was delivered or given up by then.
    pub async fn drain_within(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.drain()).await.is_ok()
    }

    /// Each of `notices` with its place among the [`MAX_QUEUED`], held until it is delivered or given up, as far
    /// as places are free; and how many found none.
    fn admit(&self, notices: Vec<LogoutNotice>) -> (Vec<(LogoutNotice, OwnedSemaphorePermit)>, usize) {
        let total = notices.len();
        let admitted: Vec<_> = notices
            .into_iter()
            .map_while(|n| Arc::clone(&self.queued).try_acquire_owned().ok().map(|place| (n, place)))
            .collect();
        let refused = total - admitted.len();
        (admitted, refused)
    }
}

/// One logout token to send: to whom, about which user and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    /// The client told.
    pub client_id: ClientId,
    /// The session's user; the token's `sub` is the subject the client sees ([`Subjects::for_client`]).
    pub user_id: UserId,
    /// `sid`: the session, as its ID tokens named it.
    pub sid: String,
}

/// What deliveries need, owned: they run after the request that ended the session was answered.
struct Courier {
    issuer: String,
    clients: Arc<dyn ClientStore>,
    registrations: Arc<dyn RegistrationStore>,
    keys: Arc<KeyRing>,
    signing_pool: CpuPool,
    metrics: Arc<Metrics>,
    sender: Arc<dyn LogoutSender>,
    permits: Arc<Semaphore>,
    client_queues: Arc<ClientQueues>,
    first_retry: Duration,
    clock: fn() -> UnixTime,
    subjects: Subjects,
}

impl Courier {
    /// Signs and sends one logout token, with retries; logs and counts the outcome. Each attempt waits for its
    /// turn (the client's queue, then the process's), and its token is signed then: one that waited behind a
    /// slow client still arrives within its lifetime (§2.4). No turn is held while waiting to retry.
    async fn deliver(&self, notice: LogoutNotice) {
        let client_id = notice.client_id.as_str().to_owned();
        let Some((url, reach, subject)) = self.destination(&notice).await else { return };
        let place = self.client_queues.join(&notice.client_id);
        let mut attempt = 1;
        loop {
            let sent = {
                let (Some(_turn), Ok(_permit)) = (place.turn().await, self.permits.acquire().await) else { return };
                let token = match self.sign(&notice, &subject, (self.clock)()).await {
                    Ok(token) => token,
                    Err(error) => {
                        tracing::warn!(client_id, %error, "a logout token could not be signed");
                        self.metrics.logout_notice(false);
                        return;
                    }
                };
                self.sender.send(&url, &token, reach).await
            };
            match sent {
                Ok(()) => {
                    tracing::info!(client_id, attempt, "back-channel logout delivered");
                    self.metrics.logout_notice(true);
                    return;
                }
                Err(error) => match retry_delay(attempt, &error, self.first_retry) {
                    Some(wait) => {
                        tracing::info!(client_id, attempt, %error, "back-channel logout failed; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        tracing::warn!(client_id, attempt, %error, "back-channel logout failed");
                        self.metrics.logout_notice(false);
                        return;
                    }
                },
            }
        }
    }

    /// Where the client takes logout tokens now, how far the request may reach, and the `sub` it knows the
    /// user by; `None` when it no longer has a `backchannel_logout_uri` (or is gone).
    async fn destination(&self, notice: &LogoutNotice) -> Option<(Url, Reach, String)> {
        let id = &notice.client_id;
        let client = match self.clients.client(id).await {
            Ok(found) => found?,
            Err(error) => {
                tracing::warn!(client_id = id.as_str(), %error, "the client of a back-channel logout could not be read");
                self.metrics.logout_notice(false);
                return None;
            }
        };
        let url = match parse_backchannel_logout_uri(client.metadata.backchannel_logout_uri.as_deref()?) {
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(client_id = id.as_str(), %error, "a stored backchannel_logout_uri is refused");
                self.metrics.logout_notice(false);
                return None;
            }
        };
        // A dynamically registered client still has its registration access token; if it cannot be told, the
        // stricter rule holds.
        let reach = match self.registrations.registration_token_hash(id).await {
            Ok(None) => Reach::Anywhere,
            Ok(Some(_)) | Err(_) => Reach::PublicOnly,
        };
        Some((url, reach, self.subjects.for_client(&client, &notice.user_id)))
    }

    /// The logout token, signed on the signing pool with the key that signs ID tokens now.
    async fn sign(&self, notice: &LogoutNotice, subject: &str, now: UnixTime) -> Result<String, String> {
        let key = self.keys.snapshot().signing_key(now).cloned().ok_or("no signing key is active")?;
        let claims = logout_claims(&self.issuer, &notice.client_id, subject, &notice.sid, &new_jti(), now);
        let payload = JwtPayload::from_map(claims).map_err(|e| e.to_string())?;
        self.signing_pool
            .run(move || key.sign_jwt(&payload, LOGOUT_TOKEN_TYP).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }
}

impl Provider {
    /// The logout tokens to send when `sessions` end: one per client recorded for each, and per `sid` it was
    /// issued tokens under (the session's own, or that of a session handed over to it). Read before they are
    /// ended where ending them hides them (a user's live sessions). A failed read is logged: the logout goes on.
    pub(crate) async fn logout_notices(&self, sessions: &[Session]) -> Vec<LogoutNotice> {
        if sessions.is_empty() {
            return Vec::new();
        }
        let ids: Vec<String> = sessions.iter().map(|s| s.id_hash.clone()).collect();
        let recorded = match self.sessions.session_clients(&ids).await {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::warn!(%error, "the clients to notify of a logout could not be read");
                return Vec::new();
            }
        };
        recorded
            .into_iter()
            .filter_map(|r| {
                let session = sessions.iter().find(|s| s.id_hash == r.session_id)?;
                Some(LogoutNotice { client_id: r.client_id, user_id: session.user_id.clone(), sid: r.sid })
            })
            .collect()
    }

    /// The logout tokens for the live sessions of `user_id` at `now`, read before they are ended.
    pub(crate) async fn user_logout_notices(&self, user_id: &UserId, now: UnixTime) -> Vec<LogoutNotice> {
        match self.sessions.sessions_of_user(user_id, now).await {
            Ok(sessions) => self.logout_notices(&sessions).await,
            Err(error) => {
                tracing::warn!(%error, "the sessions to notify of a logout could not be read");
                Vec::new()
            }
        }
    }

    /// Sends `notices` in the background; returns at once.
    pub(crate) async fn send_logout_notices(&self, notices: Vec<LogoutNotice>) {
        if notices.is_empty() {
            return;
        }
        let b = &self.backchannel;
        let (notices, refused) = b.admit(notices);
        if refused > 0 {
            tracing::warn!(
                notices = refused,
                queued = MAX_QUEUED,
                "back-channel logout notices not sent: too many wait for clients that are slow to answer"
            );
            for _ in 0..refused {
                self.metrics.logout_notice(false);
            }
        }
        if notices.is_empty() {
            return;
        }
        let courier = Courier {
            issuer: self.issuer.clone(),
            clients: Arc::clone(&self.clients),
            registrations: Arc::clone(&self.registrations),
            keys: Arc::clone(&self.keys),
            signing_pool: self.signing_pool.clone(),
            metrics: Arc::clone(&self.metrics),
            sender: Arc::clone(&b.sender),
            permits: Arc::clone(&b.permits),
            client_queues: Arc::clone(&b.client_queues),
            first_retry: b.first_retry,
            clock: b.clock,
            subjects: self.subjects.clone(),
        };
        // Taken before the task starts, so that a drain right after this call waits for it.
        let in_flight = Arc::clone(&b.in_flight).read_owned().await;
        b.runtime.spawn(async move {
            let courier = &courier;
            futures_util::future::join_all(notices.into_iter().map(|(notice, place)| async move {
                courier.deliver(notice).await;
                drop(place);
            }))
            .await;
            drop(in_flight);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_token_says_who_and_which_session_and_is_no_id_token() {
        let client = ClientId::parse("app").unwrap();
        let claims = logout_claims("https://id.example", &client, "user-1", "sid-1", "jti-1", 1_700_000_000);
        assert_eq!(
            Value::Object(claims),
            json!({
                "iss": "https://id.example",
                "aud": "app",
                "iat": 1_700_000_000,
                "exp": 1_700_000_120,
                "jti": "jti-1",
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
                "sub": "user-1",
                "sid": "sid-1",
            })
        );
    }

    struct NoSending;

    #[async_trait]
    impl LogoutSender for NoSending {
        async fn send(&self, _: &Url, _: &str, _: Reach) -> Result<(), DeliveryError> {
            unreachable!("admission sends nothing")
        }
    }

    fn notices(n: usize) -> Vec<LogoutNotice> {
        let (client_id, user_id) = (ClientId::parse("app").unwrap(), UserId::generate());
        (0..n)
            .map(|i| LogoutNotice { client_id: client_id.clone(), user_id: user_id.clone(), sid: format!("s{i}") })
            .collect()
    }

    // Regression: notices waited for their turn without bound, so a client whose server hangs made every later
    // logout's notices for it pile up in memory.
    #[tokio::test]
    async fn notices_beyond_the_bound_are_refused_until_places_free_up() {
        let b = Backchannel::new(Arc::new(NoSending), tokio::runtime::Handle::current(), 4, 3, FIRST_RETRY, || 0);
        let (admitted, refused) = b.admit(notices(5));
        let sids: Vec<&str> = admitted.iter().map(|(n, _)| n.sid.as_str()).collect();
        assert_eq!((sids, refused), (vec!["s0", "s1", "s2"], 2));
        assert_eq!(b.admit(notices(1)).1, 1, "none is free while the three wait");
        drop(admitted);
        let (again, refused) = b.admit(notices(2));
        assert_eq!((again.len(), refused), (2, 0));
    }

    // Regression: clients shared 64 queues by a hash of their id, so a client whose server hangs held up the
    // notices of every client that hashed alike.
    #[tokio::test]
    async fn each_client_has_a_queue_of_its_own_kept_while_it_is_used() {
        let queues = ClientQueues::default();
        let (slow, other) = (ClientId::parse("slow").unwrap(), ClientId::parse("other").unwrap());
        let places: Vec<_> = (0..=CONCURRENT_PER_CLIENT).map(|_| queues.join(&slow)).collect();
        let mut turns = Vec::new();
        for place in &places[..CONCURRENT_PER_CLIENT] {
            turns.push(place.turn().await.unwrap());
        }
        let waiting = places.last().unwrap().turn();
        assert!(tokio::time::timeout(Duration::from_millis(50), waiting).await.is_err(), "one more to it waits");
        let other_place = queues.join(&other);
        assert!(other_place.turn().await.is_some(), "another client's turn does not wait");
        assert_eq!(queues.kept(), 2);
        drop(turns);
        drop(places);
        assert_eq!(queues.kept(), 1, "a queue no notice is in is forgotten");
        drop(other_place);
        assert_eq!(queues.kept(), 0);
    }

    #[test]
    fn transient_failures_are_retried_with_backoff_and_refusals_not() {
        let first = Duration::from_millis(100);
        let transient = DeliveryError::Transient("status 503".into());
        assert_eq!(retry_delay(1, &transient, first), Some(Duration::from_millis(100)));
        assert_eq!(retry_delay(2, &transient, first), Some(Duration::from_millis(200)));
        assert_eq!(retry_delay(ATTEMPTS, &transient, first), None, "given up after the last attempt");
        assert_eq!(retry_delay(1, &DeliveryError::Refused("status 400".into()), first), None);
    }
}
