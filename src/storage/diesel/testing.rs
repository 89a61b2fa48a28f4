//! Helpers for tests, here and in the integration binary under `tests/`: a fresh Postgres database per test.
//! The server never calls these.
//!
//! The Postgres server comes from `TESSERA_TEST_POSTGRES_URL` (a URL without database name), defaulting to
//! `postgres://postgres@127.0.0.1:5432`. Tests fail, never skip, when it cannot be reached.
//!
//! A migrated database ([`migrated_postgres_url`]) is a copy of a template, `tessera_template_<digest>`, migrated
//! once per set of migration files on that server: copying took less than half the time of migrating each
//! test's database, which was most of a Postgres test's set-up.

use crate::storage::{StoreError, StoreResult};
use diesel::{PgConnection, RunQueryDsl};
use std::path::Path;

/// The environment variable naming the Postgres server tests use.
pub const POSTGRES_URL_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// The Postgres server for tests, without database name or trailing slash.
pub fn postgres_server_url() -> String {
    let url = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    url.trim_end_matches('/').to_owned()
}

/// A `sqlite://` URL for a database file at `path`.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Creates an empty database `t_<uuid>` on the test Postgres server and returns its URL.
///
/// # Panics
/// When the server cannot be reached: a Postgres test must fail, not skip, without its database.
#[allow(clippy::panic)] // Test helper; see "Panics".
pub async fn fresh_postgres_url() -> String {
    match try_fresh_postgres_url().await {
        Ok(url) => url,
        Err(e) => panic!("cannot create a test database on {}: {e}", postgres_server_url()),
    }
}

/// Like [`fresh_postgres_url`], returning the error instead of panicking.
pub async fn try_fresh_postgres_url() -> StoreResult<String> {
    let server = postgres_server_url();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name}");
    blocking(move || admin_execute(&server, &sql).map(|()| format!("{server}/{name}"))).await
}

/// Creates a database `t_<uuid>` on the test Postgres server with every migration applied, and returns its URL.
///
/// # Panics
/// As [`fresh_postgres_url`].
#[allow(clippy::panic)] // Test helper; see "Panics".
pub async fn migrated_postgres_url() -> String {
    match try_migrated_postgres_url().await {
        Ok(url) => url,
        Err(e) => panic!("cannot create a migrated test database on {}: {e}", postgres_server_url()),
    }
}

async fn try_migrated_postgres_url() -> StoreResult<String> {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let template = TEMPLATE.get_or_try_init(ensure_template).await?;
    let server = postgres_server_url();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
    blocking(move || admin_execute(&server, &sql).map(|()| format!("{server}/{name}"))).await
}

const TEMPLATE_PREFIX: &str = "tessera_template_";

/// Any constant works as long as every test process uses the same one ("TESTPL" in ASCII).
const TEMPLATE_LOCK: i64 = 0x5445_5354_504C;

/// The name of the template of the current migration files, built first if the server has none. Test processes
/// started together build it once: the builder holds an advisory lock (its admin connection's, released when that
/// closes). It is migrated under another name, so that a build cut short is never copied. Templates of other
/// migration files are dropped then, unless in use.
async fn ensure_template() -> StoreResult<String> {
    let name = format!("{TEMPLATE_PREFIX}{}", migrations_digest()?);
    let building = format!("{name}_b");
    let server = postgres_server_url();
    let (name_, building_, server_) = (name.clone(), building.clone(), server.clone());
    let admin = blocking(move || {
        let mut admin = admin_connection(&server_)?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})")).execute(&mut admin)?;
        if templates(&mut admin)?.contains(&name_) {
            return Ok(None);
        }
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building_} WITH (FORCE)")).execute(&mut admin)?;
        diesel::sql_query(format!("CREATE DATABASE {building_}")).execute(&mut admin)?;
        Ok(Some(admin))
    })
    .await?;
    let Some(mut admin) = admin else { return Ok(name) };
    let db = super::Db::connect(&format!("{server}/{building}"), 1, std::time::Duration::from_secs(30)).await?;
    db.migrate().await?;
    drop(db);
    let name_ = name.clone();
    blocking(move || {
        // The migration's connection may not have ended on the server yet; a rename needs it gone.
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}'"
        ))
        .execute(&mut admin)?;
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name_}")).execute(&mut admin)?;
        for old in templates(&mut admin)?.into_iter().filter(|t| *t != name_ && *t != building) {
            // One a test process still copies from stays; the next build tries again.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {old}")).execute(&mut admin);
        }
        Ok(())
    })
    .await?;
    Ok(name)
}

/// The templates on the server, by name.
fn templates(admin: &mut PgConnection) -> StoreResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Named {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let like = format!("SELECT datname FROM pg_database WHERE datname LIKE '{}%'", TEMPLATE_PREFIX.replace('_', "\\_"));
    Ok(diesel::sql_query(like).load::<Named>(admin)?.into_iter().map(|n| n.datname).collect())
}

/// A digest of the Postgres migration files (paths and contents), which the test binary embeds: a template is
/// only ever copied for the migrations it was built from.
fn migrations_digest() -> StoreResult<String> {
    use sha2::{Digest, Sha256};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join("postgres");
    let unreadable = |e: std::io::Error| StoreError::Backend(format!("cannot read {}: {e}", root.display()));
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).map_err(unreadable)? {
        for file in std::fs::read_dir(dir.map_err(unreadable)?.path()).map_err(unreadable)? {
            files.push(file.map_err(unreadable)?.path());
        }
    }
    files.sort();
    let mut digest = Sha256::new();
    for file in files {
        digest.update(file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().as_bytes());
        digest.update(std::fs::read(&file).map_err(unreadable)?);
    }
    Ok(digest.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Drops a database made by [`fresh_postgres_url`], disconnecting whoever still uses it.
pub async fn drop_postgres_database(url: &str) -> StoreResult<()> {
    let url = url.to_owned();
    blocking(move || drop_postgres_database_blocking(&url)).await
}

/// [`drop_postgres_database`] for `Drop` implementations, which cannot await.
pub fn drop_postgres_database_blocking(url: &str) -> StoreResult<()> {
    let name = url.rsplit('/').next().unwrap_or_default();
    // Refuse anything this module did not create: the name goes into SQL unquoted.
    let ours = name.strip_prefix("t_").is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ours {
        return Err(StoreError::Backend(format!("refusing to drop {name:?}: not a test database")));
    }
    admin_execute(&postgres_server_url(), &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
}

fn admin_execute(server: &str, sql: &str) -> StoreResult<()> {
    diesel::sql_query(sql).execute(&mut admin_connection(server)?)?;
    Ok(())
}

fn admin_connection(server: &str) -> StoreResult<PgConnection> {
    super::connect_postgres(&format!("{server}/postgres")).map_err(|e| StoreError::Unavailable(e.to_string()))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Backend(format!("test database task failed: {e}")))?
}
