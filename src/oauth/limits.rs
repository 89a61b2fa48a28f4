//! Abuse limits: how often a client IP, a username, a client or a registrant may try (DESIGN.md §3).
//!
//! Counters are fixed windows in the cache ([`EphemeralStore::incr`]), so every instance sees the same counts.
//! When the cache fails, each instance counts in a small in-process map of bounded size instead: the limits keep
//! holding (per instance) rather than failing open or refusing everyone. This module decides; the HTTP layer
//! answers 429 with `Retry-After`.
//!
//! - Sign-in per client IP counts failures only: whoever types the right password is never slowed by it. When
//!   the count reaches the limit the IP waits until the window ends.
//! - Sign-in per username (in any letter case and Unicode form) also counts failures, for names that exist and
//!   names that do not alike. Reaching the limit locks the name; each further lock (another failure after the
//!   lock while the window lasts, or a new series within a day) doubles, up to the configured maximum. A
//!   successful sign-in resets the count and the doubling.
//! - A sign-in counts as a failure from the moment it starts until its password proves right, so parallel
//!   guesses cannot all start before any is counted: past the limit they are refused unchecked.
//! - The token endpoint (per claimed `client_id` and per IP) and registration (per IP) count every request.
//!   Revocation and introspection count failed client assertions per IP (at the token endpoint's per-IP rate,
//!   each on counters of its own): past the limit, assertions there are refused unchecked until the window ends.
//! - The device authorization endpoint counts as the token endpoint does, on counters of its own. User codes
//!   entered on the verification page that find nothing count per IP at the rate of failed sign-ins: past the
//!   limit, the IP is refused unchecked until the window ends (RFC 8628 §5.1).
//! - The authorization endpoint (per IP) counts the requests that store a new pending sign-in, each of which the
//!   cache keeps for half an hour: not those answered from a session, nor those refused.
//!
//! IPv6 clients count by their /64, which one subscriber usually holds whole.
use super::cache_keys;
use super::client_auth::BasicCredentials;
use super::params::Params;
use crate::config::{LimitSettings, Lockout, Rate};
use crate::domain::secret::SecretHash;
use crate::domain::UnixTime;
use crate::storage::cache::{CacheError, EphemeralStore};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long the doubling of username locks is remembered (from the first lock), unless a sign-in succeeds.
const LOCK_MEMORY: i64 = 24 * 3600;
/// After a cache failure, the in-process counters are used alone for this long, so that an unreachable
/// cache does not add its timeout to every request.
const CACHE_BACKOFF: i64 = 5;

/// A refusal: try again after `retry_after` seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds to wait, for `Retry-After`.
    pub retry_after: i64,
}

/// What holds a sign-in back. The page says the same in every case; the audit trail tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// Too many failures from this client IP.
    ClientIp,
    /// Too many failures for this username.
    Username,
}

impl LockScope {
    /// A name for logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientIp => "client_ip",
            Self::Username => "username",
        }
    }
}

/// A sign-in lock in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    /// Who is locked.
    pub scope: LockScope,
    /// Seconds until it ends (at least 1).
    pub retry_after: i64,
}

/// A counter a sign-in attempt added to: its subject (an IP's or a username's), the count with the attempt, and
/// when its window ends.
#[derive(Debug)]
struct Counted {
    subject: String,
    count: u64,
    ends: UnixTime,
}

/// A sign-in attempt that may check its password, counted as a failure until it is settled.
#[derive(Debug)]
#[must_use = "settle the attempt: failed, succeeded or abandoned"]
pub struct SignInAttempt {
    ip: Option<Counted>,
    user: Option<Counted>,
}

/// An endpoint where clients authenticate as at `/token` and each request counts, at the token endpoint's rates
/// (`limits.token_ip_*`, `limits.token_client_*`, per IP and per claimed `client_id`), on counters of its own: a
/// device's polls, say, do not use up its device authorization requests, nor a client's pushes its redemptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEndpoint {
    /// `POST /token`.
    Token,
    /// `POST /par` (RFC 9126).
    PushedAuthorization,
    /// `POST /device_authorization` (RFC 8628 §3.1).
    DeviceAuthorization,
}

impl ClientEndpoint {
    /// The per-IP and per-client buckets.
    fn buckets(self) -> (&'static str, &'static str) {
        match self {
            Self::Token => ("token-ip", "token-client"),
            Self::PushedAuthorization => ("par-ip", "par-client"),
            Self::DeviceAuthorization => ("device-ip", "device-client"),
        }
    }

    /// The endpoint's name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::PushedAuthorization => "par",
            Self::DeviceAuthorization => "device_authorization",
        }
    }
}

/// An endpoint where clients authenticate as at `/token`, but whose traffic no per-request budget fits (a
/// resource server may introspect every call it serves): only failed client assertions count there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionEndpoint {
    /// `POST /revoke`.
    Revoke,
    /// `POST /introspect`.
    Introspect,
}

impl AssertionEndpoint {
    /// The failure counter's and the lock's buckets, per client IP.
    fn buckets(self) -> (&'static str, &'static str) {
        match self {
            Self::Revoke => ("revoke-assertion-failures-ip", "revoke-assertion-lock-ip"),
            Self::Introspect => ("introspect-assertion-failures-ip", "introspect-assertion-lock-ip"),
        }
    }

    /// The endpoint's name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Introspect => "introspect",
        }
    }
}

/// The counters and the rules. One per process, shared by every request.
pub struct Limiter {
    cache: Arc<dyn EphemeralStore>,
    rules: LimitSettings,
    fallback: Mutex<Fallback>,
    /// Until when (Unix seconds) the cache is skipped after a failure.
    cache_skipped_until: AtomicI64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// The cache-key subject of a client IP: the address, or the /64 of an IPv6 address.
fn ip_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The cache-key subject of a username (or client id): a hash of its fold (Unicode form and letter case, as
/// accounts are matched),
/// so that any input makes a short key and no name a user typed (perhaps their password, by mistake) is stored
/// in the clear.
fn name_subject(name: &str) -> String {
    SecretHash::of(&crate::domain::user::fold(name)).as_str().to_owned()
}

/// The client a token request claims to be, before authentication: the Basic credentials' id, else the
/// `client_id` parameter. A `private_key_jwt` request without `client_id` claims none (the IP limit holds).
fn claimed_client(params: &Params, authorization: Option<&str>) -> Option<String> {
    let basic = authorization.and_then(|h| BasicCredentials::parse(h).ok().flatten()).map(|b| b.client_id);
    basic.or_else(|| params.get("client_id").map(str::to_owned))
}

/// The length of the `level`-th lock (1-based): `lock`, doubled per level, at most `max_lock`.
fn lock_seconds(rule: &Lockout, level: u64) -> i64 {
    let mut secs = rule.lock;
    for _ in 1..level.min(64) {
        if secs >= rule.max_lock {
            break;
        }
        secs = secs.saturating_mul(2);
    }
    secs.min(rule.max_lock).max(1)
}

fn ceil_secs(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

fn window(secs: i64) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(1).max(1))
}

impl Limiter {
    /// Counters in `cache`, under `rules`.
    pub fn new(cache: Arc<dyn EphemeralStore>, rules: LimitSettings) -> Self {
        let fallback = Mutex::new(Fallback::new(rules.fallback_entries));
        Self { cache, rules, fallback, cache_skipped_until: AtomicI64::new(0) }
    }

    /// Counts a request to `endpoint`; refused once the IP or the claimed client went over its limit.
    pub async fn check_client_request(
        &self,
        endpoint: ClientEndpoint,
        params: &Params,
        authorization: Option<&str>,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<(), Limited> {
        let (ip_bucket, client_bucket) = endpoint.buckets();
        if let (Some(rate), Some(ip)) = (self.rules.token_ip, ip) {
            self.hit(&cache_keys::limit(ip_bucket, &ip_subject(ip)), rate, now).await?;
        }
        if let (Some(rate), Some(client)) = (self.rules.token_client, claimed_client(params, authorization)) {
            self.hit(&cache_keys::limit(client_bucket, &name_subject(&client)), rate, now).await?;
        }
        Ok(())
    }

    /// Refused while the IP is locked out of entering user codes ([`Self::user_code_failed`]): checked before a
    /// code is looked up (RFC 8628 §5.1). One cache read.
    pub async fn check_user_code_entry(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Limited> {
        let (Some(_), Some(ip)) = (self.rules.login_ip, ip) else { return Ok(()) };
        let lock = cache_keys::limit("user-code-lock-ip", &ip_subject(ip));
        match self.lock_in_force(&lock, LockScope::ClientIp, now).await {
            Some(lock) => Err(Limited { retry_after: lock.retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a user code entered from `ip` that found nothing, at the rate of failed sign-ins per IP (a code is a
    /// short password): at the limit the IP is locked out of entering codes until the window ends, which is
    /// returned.
    pub async fn user_code_failed(&self, ip: Option<IpAddr>, now: UnixTime) -> Option<Limited> {
        let (Some(rate), Some(ip)) = (self.rules.login_ip, ip) else { return None };
        let subject = ip_subject(ip);
        let (count, left) = self.incr(&cache_keys::limit("user-code-failures-ip", &subject), rate.window, now).await;
        if count < rate.max {
            return None;
        }
        self.set_until(&cache_keys::limit("user-code-lock-ip", &subject), now + left, now).await;
        Some(Limited { retry_after: left })
    }

    /// Refused while the IP is locked out of client assertions at `endpoint` ([`Self::assertion_failed`]):
    /// checked before an assertion's signature, each key tried being a verification. One cache read.
    pub async fn check_assertion(
        &self,
        endpoint: AssertionEndpoint,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<(), Limited> {
        let (Some(_), Some(ip)) = (self.rules.token_ip, ip) else { return Ok(()) };
        let lock = cache_keys::limit(endpoint.buckets().1, &ip_subject(ip));
        match self.lock_in_force(&lock, LockScope::ClientIp, now).await {
            Some(lock) => Err(Limited { retry_after: lock.retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed client assertion at `endpoint` from `ip`; at the token endpoint's per-IP limit, the IP is
    /// locked out of assertions there until the window ends.
    pub async fn assertion_failed(&self, endpoint: AssertionEndpoint, ip: Option<IpAddr>, now: UnixTime) {
        let (Some(rate), Some(ip)) = (self.rules.token_ip, ip) else { return };
        let (failures, lock) = endpoint.buckets();
        let subject = ip_subject(ip);
        let (count, left) = self.incr(&cache_keys::limit(failures, &subject), rate.window, now).await;
        if count >= rate.max {
            self.set_until(&cache_keys::limit(lock, &subject), now + left, now).await;
        }
    }

    /// Counts a registration request; refused once the IP went over its limit.
    pub async fn check_registration(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Limited> {
        match (self.rules.register_ip, ip) {
            (Some(rate), Some(ip)) => self.hit(&cache_keys::limit("register-ip", &ip_subject(ip)), rate, now).await,
            _ => Ok(()),
        }
    }

    /// Counts a sign-up (a user creating their own account); refused once the IP went over its limit.
    pub async fn check_user_registration(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Limited> {
        match (self.rules.user_registration_ip, ip) {
            (Some(rate), Some(ip)) => self.hit(&cache_keys::limit("signup-ip", &ip_subject(ip)), rate, now).await,
            _ => Ok(()),
        }
    }

    /// Counts a password reset request; refused once the IP went over its limit.
    pub async fn check_password_reset_ip(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Limited> {
        match (self.rules.password_reset_ip, ip) {
            (Some(rate), Some(ip)) => self.hit(&cache_keys::limit("reset-ip", &ip_subject(ip)), rate, now).await,
            _ => Ok(()),
        }
    }

    /// Counts a password reset mail to the account `username` (in any letter case and Unicode form); refused
    /// once the account went over its limit.
    pub async fn check_password_reset_account(&self, username: &str, now: UnixTime) -> Result<(), Limited> {
        match self.rules.password_reset_user {
            Some(rate) => self.hit(&cache_keys::limit("reset-user", &name_subject(username)), rate, now).await,
            None => Ok(()),
        }
    }

    /// Counts a verification mail to the account `username`, as [`Limiter::check_password_reset_account`];
    /// refused once the account went over its limit (`limits.email_verification_user_*`).
    pub async fn check_email_verification_account(&self, username: &str, now: UnixTime) -> Result<(), Limited> {
        match self.rules.email_verification_user {
            Some(rate) => self.hit(&cache_keys::limit("verify-email-user", &name_subject(username)), rate, now).await,
            None => Ok(()),
        }
    }

    /// The password of `username` was reset through a link sent to its owner: the failures that locked the
    /// name were guesses at a password that is no longer, so its lock, count and doubling start over. The IP
    /// locks stay: they are about where guesses came from, not about this name.
    pub async fn password_reset(&self, username: &str, now: UnixTime) {
        let subject = name_subject(username);
        for bucket in ["login-user", "login-user-locks", "login-user-lock"] {
            self.forget(&cache_keys::limit(bucket, &subject), now).await;
        }
    }

    /// Counts a new pending sign-in; refused once the IP went over its limit.
    pub async fn check_new_sign_in(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Limited> {
        match (self.rules.authorize_ip, ip) {
            (Some(rate), Some(ip)) => self.hit(&cache_keys::limit("authorize-ip", &ip_subject(ip)), rate, now).await,
            _ => Ok(()),
        }
    }

    /// Starts a sign-in: `Err` with the lock when the IP or the username is locked, so that a locked name gets
    /// no answer about its password. Otherwise the attempt is counted as a failure at once, before its password
    /// is checked: parallel guesses cannot all pass this check before any of them is counted. An attempt that
    /// goes past a limit that attempts still being checked have reached is refused unchecked, and not counted.
    /// Settle the attempt with [`Self::sign_in_failed`], [`Self::sign_in_succeeded`] or
    /// [`Self::sign_in_abandoned`].
    pub async fn begin_sign_in(
        &self,
        ip: Option<IpAddr>,
        username: &str,
        now: UnixTime,
    ) -> Result<SignInAttempt, Lock> {
        if let Some(lock) = self.login_lock(ip, username, now).await {
            return Err(lock);
        }
        let mut attempt = SignInAttempt { ip: self.count_ip_attempt(ip, now).await?, user: None };
        if let Some(rule) = self.rules.login_user {
            let subject = name_subject(username);
            let key = cache_keys::limit("login-user", &subject);
            let (count, left) = self.incr(&key, rule.window, now).await;
            if count > rule.failures {
                self.decr(&key, now).await;
                self.sign_in_abandoned(attempt, now).await;
                // The attempt that reached the limit is still being checked: it locks the name if it fails.
                return Err(Lock { scope: LockScope::Username, retry_after: 1 });
            }
            attempt.user = Some(Counted { subject, count, ends: now + left });
        }
        Ok(attempt)
    }

    /// [`Self::begin_sign_in`] for a sign-in that names no user (a passkey's, whose authenticator finds the
    /// account): only the IP's lock and count. A name locked by password guesses does not hold back its user's
    /// passkey, which cannot be guessed. Settle it as the others, or with [`Self::ip_sign_in_succeeded`].
    pub async fn begin_ip_sign_in(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<SignInAttempt, Lock> {
        if let (Some(_), Some(ip)) = (self.rules.login_ip, ip) {
            let key = cache_keys::limit("login-ip-block", &ip_subject(ip));
            if let Some(lock) = self.lock_in_force(&key, LockScope::ClientIp, now).await {
                return Err(lock);
            }
        }
        Ok(SignInAttempt { ip: self.count_ip_attempt(ip, now).await?, user: None })
    }

    /// Counts a sign-in attempt of `ip` as a failure until it is settled; refused (and not counted) past the limit.
    async fn count_ip_attempt(&self, ip: Option<IpAddr>, now: UnixTime) -> Result<Option<Counted>, Lock> {
        let (Some(rate), Some(ip)) = (self.rules.login_ip, ip) else { return Ok(None) };
        let subject = ip_subject(ip);
        let key = cache_keys::limit("login-ip", &subject);
        let (count, left) = self.incr(&key, rate.window, now).await;
        if count > rate.max {
            self.decr(&key, now).await;
            // As for the username in `begin_sign_in`: the attempts being checked settle within moments.
            return Err(Lock { scope: LockScope::ClientIp, retry_after: 1 });
        }
        Ok(Some(Counted { subject, count, ends: now + left }))
    }

    /// Whether the IP or the username is locked now.
    async fn login_lock(&self, ip: Option<IpAddr>, username: &str, now: UnixTime) -> Option<Lock> {
        let mut found: Option<Lock> = None;
        if let (Some(_), Some(ip)) = (self.rules.login_ip, ip) {
            found = self
                .lock_in_force(&cache_keys::limit("login-ip-block", &ip_subject(ip)), LockScope::ClientIp, now)
                .await;
        }
        if self.rules.login_user.is_some() {
            let key = cache_keys::limit("login-user-lock", &name_subject(username));
            found = longer(found, self.lock_in_force(&key, LockScope::Username, now).await);
        }
        found
    }

    /// Whether `lock`, which has just refused a sign-in from `ip` for `username`, refuses one for the first time.
    /// The first refusal marks the lock until it ends, under its subject as the lock itself is kept (the IP's, or
    /// the hash of the name's fold, so that no spelling of the name counts as another lock) and its end
    /// (so that the next lock of the same subject is a new one): the caller records each lock's refusals once,
    /// however many there are. While the cache fails, this instance's memory keeps the mark: each instance then
    /// records the lock once, an event too many rather than none. A refusal while the attempt that reached the
    /// limit is still being checked is no lock (`begin_sign_in` says to retry in a second): that attempt either
    /// starts one, recorded as `login_lockout`, or frees the name, so such refusals are never the first.
    pub async fn first_refusal(&self, lock: Lock, ip: Option<IpAddr>, username: &str, now: UnixTime) -> bool {
        let (bucket, subject) = match (lock.scope, ip) {
            (LockScope::ClientIp, Some(ip)) => ("login-ip-block", ip_subject(ip)),
            // Not made by `begin_sign_in`, which locks an IP only when it has one.
            (LockScope::ClientIp, None) => return true,
            (LockScope::Username, _) => ("login-user-lock", name_subject(username)),
        };
        // The lock as stored, not as refused: its end is the same at every refusal.
        let Some(until) = self.until(&cache_keys::limit(bucket, &subject), now).await.filter(|&until| until > now)
        else {
            return false;
        };
        self.set_if_absent(&cache_keys::lock_refusal(lock.scope.as_str(), &subject, until), until, now).await
    }

    /// The attempt failed (it is counted already). `Some` when it started a lock (the caller answers 429 and
    /// records a `login_lockout` event); the longer one when both the IP and the username reached their limits.
    pub async fn sign_in_failed(&self, attempt: SignInAttempt, now: UnixTime) -> Option<Lock> {
        let mut started: Option<Lock> = None;
        if let (Some(rate), Some(ip)) = (self.rules.login_ip, attempt.ip) {
            if ip.count >= rate.max {
                self.set_until(&cache_keys::limit("login-ip-block", &ip.subject), ip.ends, now).await;
                started = Some(Lock { scope: LockScope::ClientIp, retry_after: (ip.ends - now).max(1) });
            }
        }
        if let (Some(rule), Some(user)) = (self.rules.login_user, attempt.user) {
            if user.count >= rule.failures {
                let subject = &user.subject;
                let (level, _) = self.incr(&cache_keys::limit("login-user-locks", subject), LOCK_MEMORY, now).await;
                let secs = lock_seconds(&rule, level);
                self.set_until(&cache_keys::limit("login-user-lock", subject), now + secs, now).await;
                // One short of the limit again, so that once the lock ends one attempt is checked (and a failure
                // locks again, for longer), while parallel ones are refused as at the first lock.
                self.set_count(&cache_keys::limit("login-user", subject), rule.failures - 1, user.ends, now).await;
                started = longer(started, Some(Lock { scope: LockScope::Username, retry_after: secs }));
            }
        }
        started
    }

    /// The attempt succeeded: it does not count as the IP's failure, and the username's failures and lock
    /// doubling start over. The IP's other failures stay counted (one known password must not buy an IP more
    /// guesses at other names).
    pub async fn sign_in_succeeded(&self, attempt: SignInAttempt, username: &str, now: UnixTime) {
        if let Some(ip) = attempt.ip {
            self.decr(&cache_keys::limit("login-ip", &ip.subject), now).await;
        }
        if self.rules.login_user.is_some() {
            let subject = name_subject(username);
            self.forget(&cache_keys::limit("login-user", &subject), now).await;
            self.forget(&cache_keys::limit("login-user-locks", &subject), now).await;
        }
    }

    /// A sign-in begun with [`Self::begin_ip_sign_in`] succeeded: it does not count as the IP's failure. No name's
    /// failures start over: a passkey says nothing about who guesses that user's password.
    pub async fn ip_sign_in_succeeded(&self, attempt: SignInAttempt, now: UnixTime) {
        if let Some(ip) = attempt.ip {
            self.decr(&cache_keys::limit("login-ip", &ip.subject), now).await;
        }
    }

    /// The attempt could not be checked (a storage failure): it counts for nothing.
    pub async fn sign_in_abandoned(&self, attempt: SignInAttempt, now: UnixTime) {
        if let Some(ip) = attempt.ip {
            self.decr(&cache_keys::limit("login-ip", &ip.subject), now).await;
        }
        if let Some(user) = attempt.user {
            self.decr(&cache_keys::limit("login-user", &user.subject), now).await;
        }
    }

    async fn hit(&self, key: &str, rate: Rate, now: UnixTime) -> Result<(), Limited> {
        let (count, left) = self.incr(key, rate.window, now).await;
        if count > rate.max {
            return Err(Limited { retry_after: left });
        }
        Ok(())
    }

    async fn lock_in_force(&self, key: &str, scope: LockScope, now: UnixTime) -> Option<Lock> {
        let until = self.until(key, now).await?;
        (until > now).then_some(Lock { scope, retry_after: until - now })
    }

    // The cache operations, each falling back to the in-process counters when the cache fails.

    fn use_cache(&self, now: UnixTime) -> bool {
        now >= self.cache_skipped_until.load(Ordering::Relaxed)
    }

    fn cache_failed(&self, op: &str, e: &CacheError, now: UnixTime) {
        tracing::warn!(error = %e, op, "rate-limit counters fall back to this instance's memory");
        self.cache_skipped_until.store(now + CACHE_BACKOFF, Ordering::Relaxed);
    }

    fn fallback(&self) -> MutexGuard<'_, Fallback> {
        // A panic while holding the lock cannot leave the map inconsistent: each operation is one map update.
        self.fallback.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one to the counter under `key`; returns the count and the seconds left in its window (≥ 1).
    async fn incr(&self, key: &str, window_secs: i64, now: UnixTime) -> (u64, i64) {
        if self.use_cache(now) {
            match self.cache.incr(key, window(window_secs)).await {
                Ok((count, left)) => return (count, ceil_secs(left)),
                Err(e) => self.cache_failed("incr", &e, now),
            }
        }
        self.fallback().incr(key, window_secs, now)
    }

    /// Takes one from the counter under `key`, where [`Self::incr`] counted.
    async fn decr(&self, key: &str, now: UnixTime) {
        if self.use_cache(now) {
            match self.cache.decr(key).await {
                Ok(()) => return,
                Err(e) => self.cache_failed("decr", &e, now),
            }
        }
        self.fallback().decr(key, now);
    }

    /// The time stored under `key` by [`Self::set_until`], if any.
    async fn until(&self, key: &str, now: UnixTime) -> Option<UnixTime> {
        if self.use_cache(now) {
            match self.cache.get(key).await {
                Ok(v) => return v.and_then(|b| std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok())),
                Err(e) => self.cache_failed("get", &e, now),
            }
        }
        self.fallback().value(key, now)
    }

    /// Stores the time `until` under `key`, expiring then.
    async fn set_until(&self, key: &str, until: UnixTime, now: UnixTime) {
        self.set_value(key, until, until, now).await;
    }

    /// Sets the counter under `key` (as [`Self::incr`] keeps it) to `count` until `ends`.
    async fn set_count(&self, key: &str, count: u64, ends: UnixTime, now: UnixTime) {
        self.set_value(key, i64::try_from(count).unwrap_or(i64::MAX), ends, now).await;
    }

    /// Stores `value` under `key` until `ends`.
    async fn set_value(&self, key: &str, value: i64, ends: UnixTime, now: UnixTime) {
        if self.use_cache(now) {
            match self.cache.set(key, value.to_string().as_bytes(), window(ends - now)).await {
                Ok(()) => return,
                Err(e) => self.cache_failed("set", &e, now),
            }
        }
        self.fallback().set(key, value, ends, now);
    }

    /// Marks `key` until `ends` unless it is marked already: whether this call marked it.
    async fn set_if_absent(&self, key: &str, ends: UnixTime, now: UnixTime) -> bool {
        if self.use_cache(now) {
            match self.cache.set_if_absent(key, b"1", window(ends - now)).await {
                Ok(marked) => return marked,
                Err(e) => self.cache_failed("set_if_absent", &e, now),
            }
        }
        self.fallback().set_if_absent(key, ends, now)
    }

    async fn forget(&self, key: &str, now: UnixTime) {
        if self.use_cache(now) {
            match self.cache.delete(key).await {
                Ok(()) => {}
                Err(e) => self.cache_failed("delete", &e, now),
            }
        }
        // Also here: the counter may have been made while the cache was failing.
        self.fallback().remove(key);
    }
}

fn longer(a: Option<Lock>, b: Option<Lock>) -> Option<Lock> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.retry_after > a.retry_after { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The in-process fallback: fixed-window counters and stored times, each with its end, at most `max` of them.
struct Fallback {
    max: usize,
    slots: HashMap<String, Slot>,
}

#[derive(Clone, Copy)]
struct Slot {
    /// A count, or a stored time.
    value: i64,
    /// When the slot expires (Unix seconds).
    ends: UnixTime,
}

impl Fallback {
    fn new(max: usize) -> Self {
        Self { max: max.max(1), slots: HashMap::new() }
    }

    fn live(&mut self, key: &str, now: UnixTime) -> Option<&mut Slot> {
        if self.slots.get(key).is_some_and(|s| s.ends <= now) {
            self.slots.remove(key);
        }
        self.slots.get_mut(key)
    }

    /// Frees a place for a new slot: expired ones go first; when none has expired, the one closest to its end
    /// (it would have gone soonest anyway).
    fn make_room(&mut self, now: UnixTime) {
        if self.slots.len() < self.max {
            return;
        }
        self.slots.retain(|_, s| s.ends > now);
        while self.slots.len() >= self.max {
            let Some(first) = self.slots.iter().min_by_key(|(_, s)| s.ends).map(|(k, _)| k.clone()) else { return };
            self.slots.remove(&first);
        }
    }

    fn incr(&mut self, key: &str, window: i64, now: UnixTime) -> (u64, i64) {
        if let Some(slot) = self.live(key, now) {
            slot.value = slot.value.saturating_add(1);
            return (u64::try_from(slot.value).unwrap_or(0), (slot.ends - now).max(1));
        }
        self.make_room(now);
        let window = window.max(1);
        self.slots.insert(key.to_owned(), Slot { value: 1, ends: now + window });
        (1, window)
    }

    fn decr(&mut self, key: &str, now: UnixTime) {
        if let Some(slot) = self.live(key, now) {
            slot.value = (slot.value - 1).max(0);
        }
    }

    fn value(&mut self, key: &str, now: UnixTime) -> Option<i64> {
        self.live(key, now).map(|s| s.value)
    }

    fn set(&mut self, key: &str, value: i64, ends: UnixTime, now: UnixTime) {
        if self.live(key, now).is_none() {
            self.make_room(now);
        }
        self.slots.insert(key.to_owned(), Slot { value, ends });
    }

    fn set_if_absent(&mut self, key: &str, ends: UnixTime, now: UnixTime) -> bool {
        if self.live(key, now).is_some() {
            return false;
        }
        self.make_room(now);
        self.slots.insert(key.to_owned(), Slot { value: 1, ends });
        true
    }

    fn remove(&mut self, key: &str) {
        self.slots.remove(key);
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
