//! Helpers for tests, here and in the integration binary under `tests/`: a fresh Postgres database per test.
//! The server never calls these.
//!
//! The Postgres server comes from `TESSERA_TEST_POSTGRES_URL` (a URL without database name), defaulting to
//! `postgres://postgres@127.0.0.1:5432`. Tests fail, never skip, when it cannot be reached.

use crate::storage::{StoreError, StoreResult};
use diesel::RunQueryDsl;
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
    let mut conn =
        super::connect_postgres(&format!("{server}/postgres")).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    diesel::sql_query(sql).execute(&mut conn)?;
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Backend(format!("test database task failed: {e}")))?
}
