//! Wiring: opens the backends, the key ring and the HTTP server from [`Settings`]. The CLI and the tests
//! build the application through here, exactly as `tessera serve` does.
use crate::blocking::CpuPool;
use crate::config::{AssertionAudience, DatabaseKind, KekSource, Settings};
use crate::domain::password::PasswordChecker;
use crate::http::access_log::AccessLog;
use crate::http::cookies::CookiePolicy;
use crate::http::Listener;
use crate::http::{self, AppState};
use crate::jose::{Kek, KeyRing, RingActor, RotationPolicy};
use crate::metrics::Metrics;
use crate::oauth::discovery::ProviderMetadata;
use crate::oauth::provider::Provider;
use crate::storage::cache::memory::MemoryCache;
use crate::storage::cache::redis::RedisCache;
use crate::storage::cache::EphemeralStore;
use crate::storage::client_cache::client_views;
use crate::storage::diesel::{Db, DieselStore, SqliteChanges};
use crate::storage::revocation_epoch::{
    CacheEpoch, EpochClients, EpochConsents, EpochRevocations, EpochSessions, EpochUsers, RevocationEpoch, SharedEpoch,
    VERDICT_MAX_AGE,
};
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// The SQL store, migrated.
pub async fn open_store(settings: &Settings) -> anyhow::Result<DieselStore> {
    Ok(migrate_store(settings).await?.0)
}

/// The SQL store, migrated, and the versions of the migrations this call applied (none when it was current).
pub async fn migrate_store(settings: &Settings) -> anyhow::Result<(DieselStore, Vec<String>)> {
    let db = Db::connect(settings.database.url(), settings.database.max_connections, settings.database.acquire_timeout)
        .await
        .context("opening the database")?;
    let applied = db.migrate().await.context("applying migrations")?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    Ok((DieselStore::new(db).with_password_history(settings.passwords.policy.history), applied))
}

/// The cache named by the settings: Redis when `redis.url` is set, the in-process cache otherwise.
/// Redis that does not answer is no reason to stop: the server starts not ready (`/readyz`) and falls back as
/// DESIGN §3 says until it answers, and an operator command still does its SQL work.
pub async fn open_cache(settings: &Settings) -> anyhow::Result<Arc<dyn EphemeralStore>> {
    Ok(match &settings.redis {
        Some(r) => {
            let cache = RedisCache::open(r.url(), &settings.redis_prefix, r.timeout).context("opening Redis")?;
            if let Err(e) = cache.ping().await {
                tracing::warn!(error = %e, "Redis does not answer yet; continuing without it until it does");
            }
            Arc::new(cache)
        }
        None => Arc::new(MemoryCache::with_budget(settings.limits.pending_sign_ins_memory)),
    })
}

/// How long an operator command keeps trying to advance the revocation epoch in a cache that refuses it.
const EPOCH_RETRY_LIMIT: Duration = Duration::from_secs(5);

/// Tells every instance that a token may have been revoked, for operator commands that write SQL directly
/// (see [`RevocationEpoch`]; SQLite's change counter moves with the write itself). The write is done when
/// this runs, so a cache that cannot be reached is a warning, not a failure of the command.
pub async fn advance_revocation_epoch(settings: &Settings) {
    let advanced = match open_cache(settings).await {
        Ok(cache) => CacheEpoch::new(cache).advance_within(EPOCH_RETRY_LIMIT).await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    if let Err(e) = advanced {
        eprintln!(
            "warning: the change is made, but other instances could not be told through Redis ({e:#}): for up to \
             {} seconds after it, they may answer from what they checked before it",
            VERDICT_MAX_AGE.as_secs()
        );
    }
}

/// Where the revocation epoch's shared part lives: the cache when it is shared by every instance, otherwise
/// the SQLite file's change counter (see [`RevocationEpoch`]).
async fn shared_epoch(settings: &Settings, cache: &Arc<dyn EphemeralStore>) -> anyhow::Result<Arc<dyn SharedEpoch>> {
    if !cache.is_shared() {
        if let Some(changes) = SqliteChanges::open(settings.database.url()).await.context("opening SQLite")? {
            return Ok(Arc::new(changes));
        }
    }
    Ok(Arc::new(CacheEpoch::new(Arc::clone(cache))))
}

/// The rotation schedule from the settings. A retired key stays until everything it signed has expired: the
/// verifiers accept what it signed up to a ring refresh and the leeway after its retirement (an instance that has
/// not seen the rotation yet, or whose clock is behind), and caches keep a JWKS for `keys.jwks_max_age_seconds`.
pub fn rotation_policy(settings: &Settings) -> RotationPolicy {
    let refresh = i64::try_from(settings.keys.refresh.as_secs()).unwrap_or(i64::MAX);
    let late_signing = refresh.saturating_add(settings.tokens.leeway);
    RotationPolicy {
        rotation_interval: settings.keys.rotation_interval,
        publish_ahead: settings.keys.publish_ahead,
        retain_retired: settings
            .longest_signed_lifetime()
            .saturating_add(late_signing)
            .saturating_add(settings.keys.jwks_max_age),
    }
}

/// The key ring as the server drives it, created on first start; its changes follow the schedule and name
/// no actor in the audit trail.
pub async fn open_key_ring(settings: &Settings, store: &DieselStore) -> anyhow::Result<KeyRing> {
    open_key_ring_as(settings, store, None).await
}

/// [`open_key_ring`] for an operator command: the changes made through it (a first key included) name the
/// command line as their actor in the audit trail, as its other changes do.
pub async fn open_operator_key_ring(settings: &Settings, store: &DieselStore) -> anyhow::Result<KeyRing> {
    let operator = RingActor { name: crate::cli::CLI_ACTOR, user_agent: crate::cli::CLI_USER_AGENT };
    open_key_ring_as(settings, store, Some(operator)).await
}

async fn open_key_ring_as(
    settings: &Settings,
    store: &DieselStore,
    actor: Option<RingActor>,
) -> anyhow::Result<KeyRing> {
    let kek = Kek::load(&settings.keys.kek).context("loading the key-encryption key")?;
    let shared = Arc::new(store.clone());
    let (policy, bits) = (rotation_policy(settings), settings.keys.bits);
    KeyRing::open(shared.clone(), shared, kek, policy, bits, actor, crate::domain::now())
        .await
        .context("opening the signing key ring")
}

/// The protocol engine over the stores.
pub async fn build_provider(
    settings: &Settings,
    store: &DieselStore,
    cache: Arc<dyn EphemeralStore>,
    keys: Arc<KeyRing>,
) -> anyhow::Result<Provider> {
    let cost = settings.passwords.cost;
    let keep = settings.passwords.max_concurrent;
    let password_checker = Arc::new(
        tokio::task::spawn_blocking(move || PasswordChecker::new(cost, keep)).await?.map_err(|e| anyhow::anyhow!(e))?,
    );
    let shared = Arc::new(store.clone());
    let revocation_epoch = Arc::new(RevocationEpoch::new(shared_epoch(settings, &cache).await?));
    let (cached_clients, exact_clients) = client_views(
        Arc::new(EpochClients::new(shared.clone(), Arc::clone(&revocation_epoch))),
        settings.clients.cache,
    );
    let limits = crate::oauth::limits::Limiter::new(Arc::clone(&cache), settings.limits.clone());
    let metrics = Arc::new(crate::metrics::Metrics::new(std::time::SystemTime::now()));
    let mailer = match &settings.mail {
        Some(mail) => {
            let runtime = tokio::runtime::Handle::try_current().context("mail is sent on the tokio runtime")?;
            let mailer = crate::mail::SmtpMailer::start(mail, &runtime, Arc::clone(&metrics))?;
            Some(Arc::new(mailer) as Arc<dyn crate::oauth::mail::Mailer>)
        }
        None => None,
    };
    Ok(Provider {
        issuer: crate::oauth::discovery::issuer_string(&settings.issuer),
        assertion_token_endpoint: (settings.clients.assertion_audience == AssertionAudience::IssuerOrTokenEndpoint)
            .then(|| crate::oauth::discovery::endpoint(&settings.issuer, crate::oauth::discovery::paths::TOKEN)),
        clients: Arc::new(exact_clients),
        auth_clients: Arc::new(cached_clients),
        users: Arc::new(EpochUsers::new(shared.clone(), Arc::clone(&revocation_epoch))),
        identities: shared.clone(),
        otps: shared.clone(),
        passkeys: shared.clone(),
        groups: shared.clone(),
        passkey_rp: crate::oauth::passkey::PasskeyRp::for_issuer(&settings.issuer),
        sessions: Arc::new(EpochSessions::new(shared.clone(), Arc::clone(&revocation_epoch))),
        consents: Arc::new(EpochConsents::new(shared.clone(), Arc::clone(&revocation_epoch))),
        revocations: Arc::new(EpochRevocations::new(shared.clone(), Arc::clone(&revocation_epoch))),
        refresh_tokens: shared.clone(),
        registrations: shared.clone(),
        registration_mode: settings.registration,
        audit: shared,
        cache,
        jwks_fetcher: Arc::new(
            crate::outbound::HttpJwksFetcher::new(crate::outbound::FETCH_TIMEOUT)
                .context("building the HTTP client for client jwks_uri")?,
        ),
        client_key_sets: crate::oauth::key_sets::ParsedKeySets::default(),
        subjects: crate::oauth::subject::Subjects::new(keys.kek()).context("deriving the pairwise subject keys")?,
        backchannel: crate::oauth::backchannel::Backchannel::new(
            Arc::new(
                crate::outbound::HttpLogoutSender::new(crate::outbound::FETCH_TIMEOUT)
                    .context("building the HTTP client for client backchannel_logout_uri")?,
            ),
            tokio::runtime::Handle::try_current().context("back-channel logout runs on the tokio runtime")?,
            crate::oauth::backchannel::CONCURRENT_DELIVERIES,
            crate::oauth::backchannel::MAX_QUEUED,
            crate::oauth::backchannel::FIRST_RETRY,
            crate::domain::now,
        ),
        keys,
        tokens: settings.tokens.clone(),
        password_cost: cost,
        password_checker,
        password_pool: CpuPool::new("tessera-argon2", settings.passwords.max_concurrent)
            .context("starting the password hashing threads")?,
        password_policy: settings.passwords.policy.clone(),
        mailer,
        password_reset_link: settings.passwords.reset_link,
        email_verification_link: settings.users.email_verification_link,
        signing_pool: CpuPool::new("tessera-sign", crate::blocking::cores() * 2)
            .context("starting the signing threads")?,
        par: settings.par.clone(),
        dpop: settings.dpop.clone(),
        session_ttl: settings.sessions.ttl,
        session_idle_timeout: settings.sessions.idle_timeout,
        device: settings.device,
        self_registration: settings.users.self_registration,
        otp: settings.otp,
        leeway: settings.tokens.leeway,
        key_refresh: i64::try_from(settings.keys.refresh.as_secs()).unwrap_or(i64::MAX),
        limits,
        revocation_epoch,
        verified_tokens: crate::oauth::verified::VerifiedTokens::default(),
        metrics,
    })
}

/// The protocol engine with its own cache and key ring, for operator commands that act like the server.
pub async fn open_provider(settings: &Settings, store: &DieselStore) -> anyhow::Result<Provider> {
    let cache = open_cache(settings).await?;
    let keys = Arc::new(open_operator_key_ring(settings, store).await?);
    build_provider(settings, store, cache, keys).await
}

/// How long a stopping listener lets in-flight requests finish.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// How long a stopping server waits for its back-channel logout notices after the requests drained: enough for
/// the retries of a client that answers (1 s, then 2 s apart), and with the requests' drain under Kubernetes'
/// default grace of 30 s.
const LOGOUT_NOTICES_DRAIN: Duration = Duration::from_secs(15);

/// What every listener's answers go through, shared by the public and management listeners: one state, so one
/// metrics registry.
#[derive(Clone)]
struct Edge {
    state: web::Data<AppState>,
    metrics: Arc<Metrics>,
    access_log: Option<AccessLog>,
    hsts: bool,
}

impl Edge {
    /// The application of one worker of `listener`: its routes inside the middleware every answer goes through.
    fn app(
        &self,
        listener: Listener,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let mut headers = middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff"));
        if self.hsts {
            headers = headers.add(("Strict-Transport-Security", "max-age=63072000"));
        }
        let access_log = self.access_log.clone();
        let metrics = Arc::clone(&self.metrics);
        App::new()
            .app_data(self.state.clone())
            // A body over the limit reaches the handler as an error (`http::form::Body`), which answers it
            // in its own channel.
            .app_data(web::PayloadConfig::new(crate::http::form::MAX_FORM_BYTES))
            // A body not sent within its deadline is refused by its endpoint; this closes the connection, as
            // it does after any answer that left a chunked body unread.
            .wrap_fn(crate::http::body::close_after_unread_body)
            .wrap(headers)
            .wrap_fn(crate::http::request_span::echo_request_id)
            .wrap_fn(move |req, srv| crate::http::access_log::record(req, srv, access_log.as_ref()))
            .wrap(tracing_actix_web::TracingLogger::<crate::http::request_span::PathOnlySpan>::new())
            .configure(move |cfg| http::routes(cfg, &metrics, listener))
    }
}

/// The management listener (`http.management_bind`), bound.
struct Management {
    addr: SocketAddr,
    server: Server,
}

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    management: Option<Management>,
    maintenance: tokio::task::JoinHandle<()>,
    housekeeping: Option<tokio::task::JoinHandle<()>>,
    idle_memory: tokio::task::JoinHandle<()>,
    /// Kept to send the logout notices and mails still in flight when the server stops.
    provider: Arc<Provider>,
    /// How long a stopping server delivers the mails left (`mail.timeout_seconds`), while mail is on.
    mail_drain: Option<Duration>,
}

impl Application {
    /// Opens everything and binds `http.bind` (port 0 picks a free port, for tests).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings).await?;
        let cache = open_cache(&settings).await?;
        let keys = Arc::new(open_key_ring(&settings, &store).await?);
        keys.maintain(crate::domain::now()).await.context("applying the key rotation schedule")?;
        let maintenance = tokio::spawn(Arc::clone(&keys).run_maintenance(settings.keys.refresh));

        let provider = Arc::new(build_provider(&settings, &store, Arc::clone(&cache), Arc::clone(&keys)).await?);
        let housekeeping =
            settings.database.purge_interval.map(|every| tokio::spawn(Arc::clone(&provider).run_housekeeping(every)));
        let idle_memory = tokio::spawn(release_idle_memory(Arc::clone(&provider.password_checker)));
        let notices = Arc::clone(&provider);
        let mail_drain = settings.mail.as_ref().map(|m| m.timeout);
        let discovery_json = serde_json::to_vec(&ProviderMetadata::new(
            &settings.issuer,
            settings.registration,
            settings.par.required,
            settings.users.self_registration,
        ))?;
        let discovery_etag = format!("\"{}\"", crate::domain::secret::SecretHash::of_bytes(&discovery_json));
        let upstreams = Arc::new(
            crate::upstream::Upstreams::new(
                provider.issuer.clone(),
                crate::outbound::FETCH_TIMEOUT,
                provider.signing_pool.clone(),
            )
            .context("building the HTTP client for upstream providers")?,
        );

        let listener =
            TcpListener::bind(settings.http.bind).with_context(|| format!("binding {}", settings.http.bind))?;
        let port = listener.local_addr()?.port();
        let management_listener = match settings.http.management_bind {
            Some(addr) => {
                Some(TcpListener::bind(addr).with_context(|| format!("binding {addr} (http.management_bind)"))?)
            }
            None => None,
        };
        let workers = settings.http.workers;
        let metrics = Arc::clone(&provider.metrics);
        let hsts = settings.issuer.scheme() == "https";
        let cookies = CookiePolicy::new(hsts);
        let issuer_origin = settings.issuer.origin().ascii_serialization();
        let access_log = crate::http::access_log::AccessLog::of(&settings);
        let state = web::Data::new(AppState {
            settings,
            store,
            cache,
            keys,
            provider,
            upstreams,
            cookies,
            issuer_origin,
            discovery_json,
            discovery_etag,
        });

        let edge = Edge { state, metrics, access_log, hsts };
        let public = Listener::Public { metrics: management_listener.is_none() };
        let mut server = HttpServer::new({
            let edge = edge.clone();
            move || edge.app(public)
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?;
        if let Some(w) = workers {
            server = server.workers(w);
        }
        let management = match management_listener {
            Some(listener) => {
                let addr = listener.local_addr()?;
                // Its own server on one worker: scrapes and probes are few, and the public workers stay for requests.
                // It stops on the same signals as the public one, draining alongside it.
                let server = HttpServer::new(move || edge.app(Listener::Management))
                    .workers(1)
                    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
                    .listen(listener)?
                    .run();
                Some(Management { addr, server })
            }
            None => None,
        };
        Ok(Self {
            port,
            server: server.run(),
            management,
            maintenance,
            housekeeping,
            idle_memory,
            provider: notices,
            mail_drain,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the management listener bound, when `http.management_bind` is set (port 0 resolved).
    pub fn management_addr(&self) -> Option<SocketAddr> {
        self.management.as_ref().map(|m| m.addr)
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests (graceful shutdown) on every listener.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = match self.management {
            None => self.server.await,
            Some(management) => {
                let handle = management.server.handle();
                let public = async {
                    let stopped = self.server.await;
                    // Should the public listener stop by other means than a signal, the management one follows.
                    handle.stop(true).await;
                    stopped
                };
                let (public, management) = tokio::join!(public, management.server);
                public.and(management)
            }
        };
        self.maintenance.abort();
        self.idle_memory.abort();
        if let Some(h) = self.housekeeping {
            h.abort();
        }
        // A session ended just before the signal still reaches its clients: a rolling update would otherwise
        // leave them signed in. A link asked for just before it still reaches its user. Both at once, so that
        // the whole stop stays within the 30 s that Kubernetes grants by default.
        let notices = async {
            if !self.provider.backchannel.drain_within(LOGOUT_NOTICES_DRAIN).await {
                tracing::warn!("stopped with back-channel logout notices undelivered");
            }
        };
        let mails = async {
            if let (Some(mailer), Some(limit)) = (&self.provider.mailer, self.mail_drain) {
                mailer.drain_within(limit).await;
            }
        };
        tokio::join!(notices, mails);
        result
    }
}

/// How often memory no longer in use is given back to the system: the sign-in checks' argon2 buffers one to
/// two ticks after the last sign-in (they are kept through a burst of sign-ins, not for minutes after it).
const IDLE_MEMORY_TICK: Duration = Duration::from_secs(1);
/// Every this many ticks, the free pages the allocator holds too (of expired cache entries, finished requests).
const TRIM_EVERY_TICKS: u64 = 10;

async fn release_idle_memory(checker: Arc<PasswordChecker>) {
    let mut tick = tokio::time::interval(IDLE_MEMORY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 1u64.. {
        tick.tick().await;
        let idle = checker.take_if_idle();
        let trim = n % TRIM_EVERY_TICKS == 0;
        if idle.is_empty() && !trim {
            continue;
        }
        // Unmapping MiBs, or walking the allocator's free lists, is kernel work like any other blocking call.
        let released = tokio::task::spawn_blocking(move || {
            drop(idle);
            if trim {
                crate::memory::return_free_pages_to_the_system();
            }
        });
        if let Err(e) = released.await {
            tracing::warn!(error = %e, "releasing idle memory failed");
        }
    }
}

/// What `tessera --json serve` prints once it listens: one JSON line a supervisor script can read (the ports
/// are the ones bound, which `http.bind` and `http.management_bind` may leave to the system with port 0).
/// `management` is there only with a management listener.
pub fn serving(settings: &Settings, port: u16, management: Option<SocketAddr>) -> serde_json::Value {
    let mut json = serde_json::json!({
        "listening": SocketAddr::new(settings.http.bind.ip(), port).to_string(),
        "issuer": crate::oauth::discovery::issuer_string(&settings.issuer),
        "database": match settings.database.kind {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgres => "postgres",
        },
        "cache": if settings.redis.is_some() { "redis" } else { "memory" },
        // The key ring is in the database on either backend; only the key-encryption key is elsewhere.
        "keys": "database",
        "kek": kek_source(settings),
    });
    if let Some(addr) = management {
        json["management"] = addr.to_string().into();
    }
    json
}

/// Where the key-encryption key comes from: a file, or the `keys.kek` setting.
fn kek_source(settings: &Settings) -> String {
    match &settings.keys.kek {
        KekSource::Value(_) => "keys.kek".to_owned(),
        KekSource::File(path) | KekSource::CreateIfMissing(path) => path.display().to_string(),
    }
}

/// The lines `tessera serve` prints so a first-time user knows what is running and what to do next.
pub fn banner(settings: &Settings, port: u16, management: Option<SocketAddr>) -> String {
    let db = match settings.database.kind {
        DatabaseKind::Sqlite => format!("SQLite ({})", settings.database.url().trim_start_matches("sqlite://")),
        DatabaseKind::Postgres => "PostgreSQL".to_owned(),
    };
    let cache = if settings.redis.is_some() { "Redis" } else { "in-process memory" };
    let management = match management {
        Some(addr) => format!("  metrics:   {addr} (the management listener: /metrics, /healthz, /readyz)\n"),
        None => String::new(),
    };
    format!(
        "Tessera listening on {}:{port}\n{management}  issuer:    {}\n  database:  {db}\n  cache:     {cache}\n  \
         keys:      in the database, sealed with the key-encryption key from {}\n\
         Next steps:\n  create a user:   printf '%s' 'a long password' | tessera users add alice --password-stdin\n  \
         create a client: tessera clients add --name 'My app' --redirect-uri http://127.0.0.1:3000/callback\n  \
         discovery:       {}/.well-known/openid-configuration",
        settings.http.bind.ip(),
        crate::oauth::discovery::issuer_string(&settings.issuer),
        kek_source(settings),
        crate::oauth::discovery::issuer_string(&settings.issuer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawSettings;

    // On Postgres with keys.kek set, serve printed `keys: ./keys`, a directory that holds nothing there.
    #[test]
    fn serve_says_the_keys_are_in_the_database_and_where_their_kek_comes_from() {
        let mut raw = RawSettings::default();
        raw.database.url = "postgres://postgres@127.0.0.1:5432/tessera".into();
        raw.keys.kek = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
        let settings = raw.validate().unwrap();
        let json = serving(&settings, 8080, None);
        assert_eq!((json["keys"].as_str(), json["kek"].as_str()), (Some("database"), Some("keys.kek")), "{json}");
        let text = banner(&settings, 8080, None);
        assert!(
            text.contains("keys:      in the database, sealed with the key-encryption key from keys.kek"),
            "{text}"
        );
        assert!(!text.contains("./keys"), "{text}");

        let settings = RawSettings::default().validate().unwrap();
        let text = banner(&settings, 8080, None);
        assert!(text.contains("key-encryption key from ./keys/kek"), "{text}");
    }

    #[test]
    fn serve_names_the_management_listener_only_when_there_is_one() {
        let settings = RawSettings::default().validate().unwrap();
        let json = serving(&settings, 8080, None);
        assert!(json.get("management").is_none(), "{json}");
        assert!(!banner(&settings, 8080, None).contains("management"));

        let mut raw = RawSettings::default();
        raw.http.management_bind = Some("127.0.0.1:0".into());
        let settings = raw.validate().unwrap();
        let bound = "127.0.0.1:9100".parse().unwrap();
        let json = serving(&settings, 8080, Some(bound));
        assert_eq!(
            (json["listening"].as_str(), json["management"].as_str()),
            (Some("127.0.0.1:8080"), Some("127.0.0.1:9100"))
        );
        let text = banner(&settings, 8080, Some(bound));
        assert!(
            text.contains("Tessera listening on 127.0.0.1:8080\n  metrics:   127.0.0.1:9100 (the management listener"),
            "{text}"
        );
    }
}
