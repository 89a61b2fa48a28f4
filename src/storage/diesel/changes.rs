//! SQLite's own change counter as the shared part of the revocation epoch, for the embedded default, where
//! the in-process cache cannot carry an epoch between processes (see [`crate::storage::revocation_epoch`]).
//!
//! `PRAGMA data_version` on one connection changes whenever any other connection, in this process or another
//! (the CLI), has committed to the file since that connection last asked. Values are only comparable on the
//! same connection, so one connection is kept for this alone. Every commit counts, not only revocations: a
//! verdict is reused while nothing at all was written, which is the case it exists for (resource servers
//! presenting the same live tokens again and again).
use super::Backend;
use crate::storage::revocation_epoch::SharedEpoch;
use crate::storage::{StoreError, StoreResult};
use async_trait::async_trait;
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The change counter of one SQLite file.
pub struct SqliteChanges {
    /// Owned by one read at a time; a waiting read holds no blocking thread.
    conn: Arc<Mutex<SqliteConnection>>,
}

impl std::fmt::Debug for SqliteChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteChanges").finish_non_exhaustive()
    }
}

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = BigInt)]
    data_version: i64,
}

impl SqliteChanges {
    /// The counter of the SQLite file `url` names; `None` for a Postgres URL. Open it after the pool, which
    /// has created the file and put it in WAL mode.
    pub async fn open(url: &str) -> StoreResult<Option<Self>> {
        let (Backend::Sqlite, path) = Backend::from_url(url)? else {
            return Ok(None);
        };
        let conn = tokio::task::spawn_blocking(move || SqliteConnection::establish(&path))
            .await
            .map_err(|e| StoreError::Backend(format!("opening the SQLite change counter failed: {e}")))?
            .map_err(|e| StoreError::Unavailable(format!("cannot open the SQLite change counter: {e}")))?;
        Ok(Some(Self { conn: Arc::new(Mutex::new(conn)) }))
    }
}

#[async_trait]
impl SharedEpoch for SqliteChanges {
    async fn read(&self) -> Option<Vec<u8>> {
        let mut conn = Arc::clone(&self.conn).lock_owned().await;
        let read = tokio::task::spawn_blocking(move || {
            diesel::sql_query("PRAGMA data_version").get_result::<DataVersion>(&mut *conn)
        });
        match read.await {
            Ok(Ok(v)) => Some(v.data_version.to_le_bytes().to_vec()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read the SQLite change counter");
                None
            }
            Err(_) => None,
        }
    }

    /// Nothing to do: the write's own commit has already moved the counter.
    async fn advance(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::diesel::{testing, DieselStore};
    use crate::storage::RevocationStore;

    async fn store(url: &str) -> DieselStore {
        let db = super::super::Db::connect(url, 2, std::time::Duration::from_secs(5)).await.unwrap();
        db.migrate().await.unwrap();
        DieselStore::new(db)
    }

    #[tokio::test]
    async fn the_counter_moves_with_every_commit_from_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let url = testing::sqlite_url(&dir.path().join("changes.db"));
        let ours = store(&url).await;
        let changes = SqliteChanges::open(&url).await.unwrap().expect("a SQLite URL");
        let first = changes.read().await.expect("a value");
        assert_eq!(changes.read().await.as_ref(), Some(&first), "stable while nothing is written");
        ours.revoke_jti("a", i64::MAX).await.unwrap();
        let second = changes.read().await.expect("a value");
        assert_ne!(second, first, "a commit through this process's pool");
        // Another process's pool, as the CLI has.
        let theirs = store(&url).await;
        theirs.revoke_jti("b", i64::MAX).await.unwrap();
        assert_ne!(changes.read().await.expect("a value"), second, "a commit through another pool");
    }

    #[tokio::test]
    async fn postgres_has_no_counter_here() {
        assert!(SqliteChanges::open("postgres://nobody@127.0.0.1:1/none").await.unwrap().is_none());
    }
}
