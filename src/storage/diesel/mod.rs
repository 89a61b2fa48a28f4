//! SQL storage: one implementation for Postgres and SQLite through `#[derive(diesel::MultiConnection)]`.
//!
//! This module owns the connection pool ([`Db`]), the embedded migrations of both trees, the mapping of diesel
//! errors to [`StoreError`], and [`DieselStore`], which implements the storage traits. Nothing outside
//! `storage` names diesel; callers see only the traits and `StoreError`.
//!
//! diesel is synchronous, so every query runs on the pool's own threads ([`Db::run`], one per connection), keeping
//! the caller's tracing span. SQL stays portable (no `RETURNING`, no `ON CONFLICT`) so the same
//! query works on both backends.

mod audit;
mod changes;
mod clients;
mod consents;
mod federation;
mod groups;
mod keys;
mod otp;
mod passkeys;
mod password_history;
mod refresh_tokens;
mod registration;
mod revocations;
pub mod schema;
mod sessions;
mod store;
#[cfg(test)]
mod test_support;
pub mod testing;
mod users;

pub use changes::SqliteChanges;
pub use store::DieselStore;

use crate::blocking::{BlockingError, CpuPool};
use crate::storage::{StoreError, StoreResult};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::r2d2::{CustomizeConnection, HandleError, ManageConnection, Pool, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, ConnectionResult, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Any connection Tessera supports; queries written against it run on either backend.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// Postgres, for deployments with more than one instance.
    Postgresql(PgConnection),
    /// SQLite, the embedded default.
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite://<path>`.
    Sqlite,
}

impl Backend {
    /// The backend's short name, as in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }

    /// Reads the backend from a database URL and returns what to hand to the driver: the URL itself for
    /// Postgres, the file path for SQLite. Anything else, bare paths included, is refused, so a typo never
    /// silently creates an empty SQLite database.
    pub fn from_url(url: &str) -> Result<(Self, String), StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok((Self::Postgres, url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Backend("sqlite:// URL without a file path".into()));
            }
            // Each pooled connection would get its own empty in-memory database.
            if path == ":memory:" || path.starts_with("file:") {
                return Err(StoreError::Backend(
                    "in-memory and file: SQLite URLs are not supported; use sqlite://<path to a file>".into(),
                ));
            }
            return Ok((Self::Sqlite, path.to_owned()));
        }
        // Only the scheme is echoed: the rest may hold a password.
        let shown = url.split_once("://").map_or("(no scheme)", |(scheme, _)| scheme);
        Err(StoreError::Backend(format!(
            "unsupported database URL scheme {shown:?}: use postgres://, postgresql:// or sqlite://<path>"
        )))
    }
}

/// Opens connections for the pool. diesel's own `ConnectionManager<AnyConnection>` would try every backend in
/// turn and drop the real error (a Postgres outage would read as "invalid URL"); this one knows the backend.
struct Manager {
    backend: Backend,
    target: String,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The target may carry a password.
        f.debug_struct("Manager").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Connects to Postgres, with OpenSSL initialised first the way the `openssl` crate does it: without the
/// cleanup at exit. libpq initialises OpenSSL with that cleanup when it is first; the cleanup then frees
/// OpenSSL's state while the pool's threads may still be closing TLS connections, and the process crashes on
/// its way out (seen in CI: SIGSEGV in libcrypto after every test had passed).
pub(crate) fn connect_postgres(url: &str) -> ConnectionResult<PgConnection> {
    openssl::init();
    PgConnection::establish(url)
}

/// A pooled connection and whether a query on it found the server gone. diesel's own `is_broken` sees only its
/// transaction state, so a connection whose server went away (a Postgres restart) would go back to the pool and
/// fail every later query; [`Db::run`] sets `lost` instead and r2d2 drops the connection.
struct Pooled {
    conn: AnyConnection,
    lost: bool,
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let conn = match self.backend {
            Backend::Postgres => connect_postgres(&self.target).map(AnyConnection::Postgresql),
            Backend::Sqlite => SqliteConnection::establish(&self.target).map(AnyConnection::Sqlite),
        };
        let conn = conn.map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(Pooled { conn, lost: false })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        pooled.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        std::thread::panicking() || pooled.lost || pooled.conn.is_broken()
    }
}

/// Sets the SQLite pragmas on every new connection (they are per connection, not per file).
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Pooled, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, pooled: &mut Pooled) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(conn) = &mut pooled.conn {
            // busy_timeout first, so that switching to WAL waits for a lock instead of failing.
            conn.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Sends r2d2's background connection errors to tracing instead of the `log` crate.
#[derive(Debug)]
struct TracingErrors;

impl HandleError<diesel::r2d2::Error> for TracingErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(%error, "database connection error");
    }
}

/// The SQL connection pool: an r2d2 pool and one thread per connection to run the queries on.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    threads: CpuPool,
    acquire_timeout: Duration,
    backend: Backend,
    /// SQLite only: the turn of this process's writers (see [`Db::write`]).
    writer_turn: Option<Arc<parking_lot::Mutex<()>>>,
}

/// Creates a missing SQLite file readable and writable by its owner only, before SQLite would create it with the
/// umask's mode: it holds password hashes and the sealed signing keys. SQLite gives the `-wal` and `-shm` files
/// it creates the mode of the database file. An existing file keeps the mode its operator gave it, with a warning
/// when others may read it.
fn create_sqlite_file(path: &std::path::Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::private_files::warn_if_open(path, "the SQLite database (password hashes, sealed signing keys)");
            Ok(())
        }
        Err(e) => Err(StoreError::Backend(format!("cannot create the SQLite file {}: {e}", path.display()))),
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("max_connections", &self.pool.max_size())
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens a pool for `url` (`postgres://…`, `postgresql://…` or `sqlite://<path>`; the SQLite file and its
    /// directory are created). Fails when the database cannot be reached within `acquire_timeout`.
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> StoreResult<Db> {
        let (backend, target) = Backend::from_url(url)?;
        let max_connections = max_connections.max(1);
        let builder = Pool::builder()
            .max_size(max_connections)
            // No background replenishing: r2d2 would open connections on its own threads, which can still be
            // in a TLS handshake when a short-lived CLI process exits (OpenSSL's exit handlers then crash it).
            .min_idle(Some(0))
            // No `SELECT 1` before every query (a round trip each): a connection that died is found by the
            // query that fails on it, and r2d2 then drops it (`Pooled::lost`).
            .test_on_check_out(false)
            .connection_timeout(acquire_timeout)
            .error_handler(Box::new(TracingErrors))
            .connection_customizer(Box::new(SqlitePragmas));
        let manager = Manager { backend, target };
        // Creating the directory and waiting for the first connection both block.
        let pool = tokio::task::spawn_blocking(move || {
            if backend == Backend::Sqlite {
                let dir = std::path::Path::new(&manager.target).parent().filter(|p| !p.as_os_str().is_empty());
                if let Some(dir) = dir {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Backend(format!("cannot create the directory {} for SQLite: {e}", dir.display()))
                    })?;
                }
                create_sqlite_file(std::path::Path::new(&manager.target))?;
            }
            let unreachable = |e: diesel::r2d2::PoolError| {
                StoreError::Unavailable(format!("cannot connect to the {} database: {e}", backend.name()))
            };
            let pool = builder.build(manager).map_err(unreachable)?;
            // Fail at start, not at the first request, when the database cannot be reached.
            drop(pool.get().map_err(unreachable)?);
            Ok::<_, StoreError>(pool)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("database pool task failed: {e}")))??;
        let writer_turn = (backend == Backend::Sqlite).then(Arc::default);
        let threads = CpuPool::new("tessera-db", max_connections as usize)
            .map_err(|e| StoreError::Backend(format!("cannot start the database threads: {e}")))?;
        Ok(Db { pool, threads, acquire_timeout, backend, writer_turn })
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// How busy the threads that run queries are, for `/metrics`.
    pub fn load(&self) -> crate::metrics::PoolLoad {
        self.threads.load()
    }

    /// Which backend this pool talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection on one of the pool's threads, keeping the current tracing span.
    /// `Unavailable` when no thread frees up within the acquire timeout, or no connection within it after that.
    /// The threads take queued queries one after another without sleeping in between: tokio's blocking pool
    /// behind a semaphore parked its thread after each query and woke it for the next.
    pub async fn run<F, T>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        self.threads
            .run_within(self.acquire_timeout, move || {
                let mut pooled = pool.get().map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let result = f(&mut pooled.conn);
                // On Postgres, `Unavailable` from a query means the connection is gone (see `connection_lost`); on
                // SQLite it is a busy database, whose connection is fine.
                if matches!(result, Err(StoreError::Unavailable(_)))
                    && matches!(pooled.conn, AnyConnection::Postgresql(_))
                {
                    pooled.lost = true;
                }
                result
            })
            .await
            .map_err(|e| match e {
                BlockingError::Busy(wait) => {
                    StoreError::Unavailable(format!("no database connection free within {} ms", wait.as_millis()))
                }
                BlockingError::Panicked => StoreError::Backend(format!("database task failed: {e}")),
            })?
    }

    /// [`Db::run`] for work that writes. SQLite lets one connection write at a time and puts the others to
    /// sleep in its busy handler (1, 2, 5, 10 ms and longer) until the lock is free; this process's writers
    /// take turns on a lock instead, so each starts as soon as the one before has committed (another process,
    /// such as the CLI, still meets `busy_timeout`). The turn is waited for on the blocking thread, holding
    /// the connection, as the busy handler did: handing it over through the reactor costs a thread hop per
    /// write, and measured slower. Postgres writes in parallel: no turns there.
    ///
    /// On SQLite the work runs in one `BEGIN IMMEDIATE` transaction ([`immediately`]).
    pub async fn write<F, T>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let turn = self.writer_turn.clone();
        let timeout = self.acquire_timeout;
        self.run(move |c| {
            let _turn = match turn.as_deref() {
                Some(turn) => Some(turn.try_lock_for(timeout).ok_or_else(|| {
                    StoreError::Unavailable(format!("no turn to write within {} ms", timeout.as_millis()))
                })?),
                None => None,
            };
            immediately(c, f)
        })
        .await
    }

    /// Applies the pending migrations of this backend's tree and returns the versions applied (empty when the
    /// schema is current), then fills what SQL cannot compute (`users::fill_username_keys`, `users::fill_email_keys`). On Postgres an
    /// advisory lock keeps instances starting together from racing.
    pub async fn migrate(&self) -> StoreResult<Vec<String>> {
        self.write(|conn| {
            // Any constant works as long as every Tessera instance uses the same one ("TESSER" in ASCII).
            const LOCK: i64 = 0x5445_5353_4552;
            let locked = matches!(conn, AnyConnection::Postgresql(_));
            if locked {
                diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK})")).execute(conn)?;
            }
            let applied = apply_all(conn).and_then(|applied| {
                users::fill_username_keys(conn)?;
                users::fill_email_keys(conn)?;
                Ok(applied)
            });
            let unlocked = if locked {
                diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK})")).execute(conn).map(drop)
            } else {
                Ok(())
            };
            let applied = applied?;
            unlocked?;
            Ok(applied)
        })
        .await
    }
}

/// Runs `f` on SQLite inside `BEGIN IMMEDIATE`, which takes the write lock first (waiting in `busy_timeout` while
/// another process, such as the CLI, holds it). A deferred transaction that reads before it writes fails at once
/// with "database is locked" when another process committed after its read: SQLite cannot move its snapshot on.
/// The transaction commits whatever `f` returns, as each statement would have committed on its own; `f`'s own
/// transactions become savepoints and roll back on their own errors. Postgres runs `f` as it is.
fn immediately<T>(c: &mut AnyConnection, f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let AnyConnection::Sqlite(lite) = c else { return f(c) };
    AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    let done = f(c);
    let committed = <AnyConnection as diesel::Connection>::TransactionManager::commit_transaction(c);
    let done = done?;
    committed?;
    Ok(done)
}

/// Applies the pending migrations of the connection's backend.
fn apply_all(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    match conn {
        AnyConnection::Postgresql(pg) => apply(pg, POSTGRES_MIGRATIONS),
        AnyConnection::Sqlite(lite) => apply(lite, SQLITE_MIGRATIONS),
    }
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> StoreResult<Vec<String>>
where
    C: MigrationHarness<C::Backend> + Connection,
    EmbeddedMigrations: MigrationSource<C::Backend>,
{
    let failed = |e: &dyn fmt::Display| StoreError::Backend(format!("migration failed: {e}"));
    let unknown = unknown_migrations(conn, &migrations).map_err(|e| failed(&e))?;
    let applied: Vec<String> =
        conn.run_pending_migrations(migrations).map_err(|e| failed(&e))?.into_iter().map(|v| v.to_string()).collect();
    if !unknown.is_empty() {
        // A rollback: what the newer release wrote may be misread here. Nothing was seen to break, so run, but say so.
        tracing::warn!(
            versions = unknown.join(", "),
            "the database was migrated by a newer release of Tessera than this one; what that release wrote may be \
             misread here"
        );
    }
    Ok(applied)
}

/// The versions applied to the database that `migrations` do not hold: those of a newer release.
fn unknown_migrations<C>(conn: &mut C, migrations: &EmbeddedMigrations) -> diesel::migration::Result<Vec<String>>
where
    C: MigrationHarness<C::Backend> + Connection,
    EmbeddedMigrations: MigrationSource<C::Backend>,
{
    let known: Vec<String> =
        MigrationSource::<C::Backend>::migrations(migrations)?.iter().map(|m| m.name().version().to_string()).collect();
    Ok(conn.applied_migrations()?.into_iter().map(|v| v.to_string()).filter(|v| !known.contains(v)).collect())
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(info.constraint_name().map_or_else(|| info.message().to_owned(), str::to_owned))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => StoreError::ReferenceGone(
                info.constraint_name().map_or_else(|| info.message().to_owned(), str::to_owned),
            ),
            DieselError::DatabaseError(kind, info) if connection_lost(&kind, info.message()) => {
                StoreError::Unavailable(info.message().to_owned())
            }
            // SQLite reports a lock held past busy_timeout this way: the database is saturated, not broken.
            DieselError::DatabaseError(_, info) if info.message().contains("database is locked") => {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Whether a query failed because the connection to the server is gone, rather than on what it asked: the server
/// restarted or ended the session. libpq reports the first query on such a connection as closed, and every later one
/// as unsendable ("no connection to the server"); a server ending the session may say so in its own words.
fn connection_lost(kind: &DatabaseErrorKind, message: &str) -> bool {
    matches!(kind, DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand)
        || [
            "no connection to the server",
            "server closed the connection unexpectedly",
            "terminating connection due to administrator command",
        ]
        .iter()
        .any(|lost| message.contains(lost))
}

#[cfg(test)]
mod tests {
    use super::test_support::{both_backends, TestDb};
    use super::*;

    #[test]
    fn urls_pick_the_backend_or_are_refused() {
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(Backend::from_url("sqlite://data/t.db").unwrap(), (Backend::Sqlite, "data/t.db".into()));
        assert_eq!(Backend::from_url("sqlite:///abs/t.db").unwrap(), (Backend::Sqlite, "/abs/t.db".into()));
        for bad in ["data/t.db", "/abs/t.db", "sqlite://", "sqlite://:memory:", "mysql://u:pw@h/db", ""] {
            let err = Backend::from_url(bad).unwrap_err().to_string();
            assert!(!err.contains("pw"), "{err}");
        }
    }

    async fn migrations_are_idempotent(backend: Backend) {
        let t = TestDb::new(backend).await;
        // TestDb::new already migrated: further runs apply nothing and leave the seeded ring alone.
        assert!(t.db.migrate().await.unwrap().is_empty());
        assert!(t.db.migrate().await.unwrap().is_empty());
        assert_eq!(t.db.backend_name(), backend.name());
        let version: i64 =
            t.db.run(|c| {
                use diesel::prelude::*;
                use schema::key_ring::dsl::*;
                Ok(key_ring.select(version).filter(id.eq(1)).first(c)?)
            })
            .await
            .unwrap();
        assert_eq!(version, 0);
    }

    // Regression: a release started on a database that a newer one had migrated said "up to date" and nothing
    // more. The migrations it does not know are found, and migrating still works.
    async fn migrations_of_a_newer_release_are_found(backend: Backend) {
        let t = TestDb::new(backend).await;
        let unknown = || {
            t.db.run(|c| {
                let found = match c {
                    AnyConnection::Postgresql(pg) => unknown_migrations(pg, &POSTGRES_MIGRATIONS),
                    AnyConnection::Sqlite(lite) => unknown_migrations(lite, &SQLITE_MIGRATIONS),
                };
                found.map_err(|e| StoreError::Backend(e.to_string()))
            })
        };
        assert!(unknown().await.unwrap().is_empty());
        t.db.write(|c| {
            Ok(diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')")
                .execute(c)?)
        })
        .await
        .unwrap();
        assert_eq!(unknown().await.unwrap(), ["29991231000000"]);
        assert!(t.db.migrate().await.unwrap().is_empty());
    }

    async fn fresh_database_applies_the_initial_migration(backend: Backend) {
        let t = TestDb::unmigrated(backend).await;
        let mut expected = vec!["20250601000000", "20250602000000", "20261204000000"];
        // The index that keeps a rotation's check for a revoked family cheap; SQLite's write lock needs no check.
        if backend == Backend::Postgres {
            expected.push("20261205000000");
        }
        expected.extend(test_support::LATER_MIGRATIONS);
        assert_eq!(t.db.migrate().await.unwrap(), expected);
        assert!(t.db.migrate().await.unwrap().is_empty());
    }

    async fn errors_map_to_store_errors(backend: Backend) {
        let t = TestDb::new(backend).await;
        let err = t.db.run(|c| Ok(diesel::sql_query("SELECT * FROM no_such_table").execute(c)?)).await;
        assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
        let err =
            t.db.run(|c| {
                diesel::sql_query("INSERT INTO revocations (jti, expires_at) VALUES ('j', 1)").execute(c)?;
                diesel::sql_query("INSERT INTO revocations (jti, expires_at) VALUES ('j', 2)").execute(c)?;
                Ok(())
            })
            .await;
        assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    }

    async fn foreign_keys_are_enforced(backend: Backend) {
        let t = TestDb::new(backend).await;
        if backend == Backend::Sqlite {
            #[derive(diesel::QueryableByName)]
            struct Fk {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                foreign_keys: i64,
            }
            #[derive(diesel::QueryableByName)]
            struct Journal {
                #[diesel(sql_type = diesel::sql_types::Text)]
                journal_mode: String,
            }
            let (fk, journal) =
                t.db.run(|c| {
                    let fk = diesel::sql_query("PRAGMA foreign_keys").get_result::<Fk>(c)?;
                    let journal = diesel::sql_query("PRAGMA journal_mode").get_result::<Journal>(c)?;
                    Ok((fk.foreign_keys, journal.journal_mode))
                })
                .await
                .unwrap();
            assert_eq!((fk, journal.as_str()), (1, "wal"));
        }
        let err =
            t.db.run(|c| {
                Ok(diesel::sql_query(
                    "INSERT INTO consents (user_id, client_id, scope, created_at, updated_at) \
                     VALUES ('nobody', 'nothing', 'openid', 0, 0)",
                )
                .execute(c)?)
            })
            .await;
        assert!(matches!(err, Err(StoreError::ReferenceGone(_))), "{err:?}");
    }

    /// Holds a thread and a connection of `db` (and the write turn, for a write) until the returned sender sends.
    fn hold(db: &Db, write: bool) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<StoreResult<()>>) {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let db = db.clone();
        let held = tokio::spawn(async move {
            let wait = move |_: &mut AnyConnection| {
                let _ = rx.recv_timeout(Duration::from_secs(10));
                Ok(())
            };
            if write {
                db.write(wait).await
            } else {
                db.run(wait).await
            }
        });
        (tx, held)
    }

    async fn run_times_out_when_saturated(backend: Backend) {
        let t = TestDb::with_pool(backend, 1, Duration::from_millis(200)).await;
        // Holds the only thread and connection.
        let (tx, busy) = hold(&t.db, false);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = t.db.run(|_| Ok(())).await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
        tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        t.db.run(|_| Ok(())).await.unwrap();
    }

    async fn sqlite_writers_take_turns(backend: Backend) {
        let t = TestDb::new(backend).await;
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<&str>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let (db, started) = (t.db.clone(), started_tx.clone());
            tokio::spawn(async move {
                db.write(move |_| {
                    started.send("first").unwrap();
                    // Hold the turn until the test lets go.
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
                .await
            })
        };
        assert_eq!(started_rx.recv().await, Some("first"));
        let second = {
            let db = t.db.clone();
            tokio::spawn(async move {
                db.write(move |_| {
                    started_tx.send("second").unwrap();
                    Ok(())
                })
                .await
            })
        };
        let overlapped = tokio::time::timeout(Duration::from_millis(300), started_rx.recv()).await.is_ok();
        // SQLite has one writer at a time, so this process queues its own; Postgres writes in parallel.
        assert_eq!(overlapped, backend == Backend::Postgres);
        release_tx.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        if backend == Backend::Sqlite {
            assert_eq!(started_rx.recv().await, Some("second"));
        }
    }

    async fn waiting_for_the_write_turn_times_out(backend: Backend) {
        let t = TestDb::with_pool(backend, 2, Duration::from_millis(200)).await;
        let (tx, busy) = hold(&t.db, true);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waited = t.db.write(|_| Ok(())).await;
        match backend {
            Backend::Sqlite => assert!(matches!(waited, Err(StoreError::Unavailable(_))), "{waited:?}"),
            Backend::Postgres => waited.unwrap(),
        }
        // Reads do not queue behind a writer.
        t.db.run(|_| Ok(())).await.unwrap();
        tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        t.db.write(|_| Ok(())).await.unwrap();
    }

    both_backends!(
        migrations_are_idempotent,
        migrations_of_a_newer_release_are_found,
        fresh_database_applies_the_initial_migration,
        errors_map_to_store_errors,
        foreign_keys_are_enforced,
        run_times_out_when_saturated,
        sqlite_writers_take_turns,
        waiting_for_the_write_turn_times_out,
    );

    // A transaction that read before it wrote failed at once with "database is locked" when another process (the
    // CLI) committed after the read: an admin API call made while an operator ran a command, say.
    #[tokio::test]
    async fn a_sqlite_write_that_reads_first_waits_for_another_process_to_commit() {
        use diesel::prelude::*;
        let t = TestDb::new(Backend::Sqlite).await;
        let path = t.url.strip_prefix("sqlite://").unwrap().to_owned();
        let mut other = SqliteConnection::establish(&path).unwrap();
        other
            .batch_execute(
                "PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE; \
                 INSERT INTO revocations (jti, expires_at) VALUES ('theirs', 1);",
            )
            .unwrap();
        let db = t.db.clone();
        let ours = tokio::spawn(async move {
            db.write(|c| {
                c.transaction(|c| {
                    let seen: i64 = schema::revocations::table.count().get_result(c)?;
                    diesel::sql_query("INSERT INTO revocations (jti, expires_at) VALUES ('ours', 1)").execute(c)?;
                    Ok(seen)
                })
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.batch_execute("COMMIT").unwrap();
        assert_eq!(ours.await.unwrap().unwrap(), 1, "the write began after the other process's");
        let rows: i64 = t.db.run(|c| Ok(schema::revocations::table.count().get_result(c)?)).await.unwrap();
        assert_eq!(rows, 2);
    }

    /// Runs `query` on `n` connections of `db` at once (each holds its connection a moment, so that the pool hands
    /// out `n` different ones).
    async fn on_every_connection(
        db: &Db,
        n: usize,
        query: fn(&mut AnyConnection) -> diesel::QueryResult<i64>,
    ) -> Vec<StoreResult<i64>> {
        let queries = (0..n).map(|_| {
            db.run(move |c| {
                let row = query(c);
                std::thread::sleep(Duration::from_millis(100));
                Ok(row?)
            })
        });
        futures_util::future::join_all(queries).await
    }

    /// A query that diesel prepares (and caches) on first use: a lost connection fails it while preparing, which
    /// leaves diesel's transaction state as it was, so diesel alone would keep the connection.
    fn ring_version(c: &mut AnyConnection) -> diesel::QueryResult<i64> {
        use diesel::prelude::*;
        use schema::key_ring::dsl::*;
        key_ring.select(version).filter(id.eq(1)).first(c)
    }

    // A Postgres restart left dead connections in the pool: after the first failure on each (503), every later
    // query on it failed as a storage error (500, "no connection to the server") and the connection went back
    // into the pool.
    #[tokio::test]
    async fn a_lost_postgres_connection_fails_once_then_is_replaced() {
        let t = TestDb::with_pool(Backend::Postgres, 3, Duration::from_secs(10)).await;
        let opened = on_every_connection(&t.db, 3, |c| diesel::sql_query("SELECT 1").execute(c).map(|n| n as i64));
        assert!(opened.await.iter().all(Result::is_ok));
        // What a restart does to the pool's connections, without restarting the shared server: end the other two.
        let ended =
            t.db.run(|c| {
                Ok(diesel::sql_query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .execute(c)?)
            })
            .await
            .unwrap();
        assert_eq!(ended, 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let first = on_every_connection(&t.db, 3, ring_version).await;
        let failed: Vec<_> = first.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failed.len() <= 2 && failed.iter().all(|e| matches!(e, StoreError::Unavailable(_))), "{first:?}");
        let then = on_every_connection(&t.db, 3, ring_version).await;
        assert!(then.iter().all(|r| matches!(r, Ok(0))), "{then:?}");
    }

    #[test]
    fn connection_failures_are_unavailable() {
        let lost = [
            (DatabaseErrorKind::ClosedConnection, "SSL connection has been closed unexpectedly"),
            (DatabaseErrorKind::UnableToSendCommand, "no connection to the server"),
            (DatabaseErrorKind::Unknown, "server closed the connection unexpectedly"),
            (DatabaseErrorKind::Unknown, "terminating connection due to administrator command"),
        ];
        for (kind, message) in lost {
            let err = StoreError::from(DieselError::DatabaseError(kind, Box::new(message.to_owned())));
            assert!(matches!(err, StoreError::Unavailable(_)), "{message}: {err:?}");
        }
        let err =
            StoreError::from(DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new("syntax".to_owned())));
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    }

    #[tokio::test]
    async fn connect_refuses_bare_paths() {
        let err = Db::connect("/tmp/x.db", 1, Duration::from_secs(1)).await.unwrap_err();
        assert!(err.to_string().contains("unsupported database URL"), "{err}");
    }

    #[tokio::test]
    async fn connect_reports_an_unreachable_postgres() {
        let err = Db::connect("postgres://postgres@127.0.0.1:1/x", 1, Duration::from_millis(500)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
