//! SQLite's own change counter as the shared part of the revocation epoch, for the embedded default, where
//! the in-process cache cannot carry an epoch between processes (see [`crate::storage::revocation_epoch`]).
//!
//! `PRAGMA data_version` on one connection changes whenever any other connection, in this process or another
//! (the CLI), has committed to the file since that connection last asked. Values are only comparable on the
//! same connection, so one connection is kept for this alone. Every commit counts, not only revocations: a
//! verdict is reused while nothing at all was written, which is the case it exists for (resource servers
//! presenting the same live tokens again and again).
//!
//! The reads are one at a time on that connection, each a trip to the blocking pool. Callers that queue behind a
//! read share the next one, which starts after they arrived and so sees every commit made before they asked:
//! the counter is read once per trip however many checks are waiting, instead of once per check.
use super::Backend;
use crate::storage::revocation_epoch::SharedEpoch;
use crate::storage::{StoreError, StoreResult};
use async_trait::async_trait;
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The change counter of one SQLite file.
pub struct SqliteChanges {
    /// Owned by one read at a time; a waiting caller holds no blocking thread.
    reader: Arc<Mutex<Reader>>,
    /// How many reads have started; only incremented with `reader` held.
    started: AtomicU64,
}

struct Reader {
    conn: SqliteConnection,
    /// The number and value of the last read that succeeded.
    last: Option<(u64, Vec<u8>)>,
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
        Ok(Some(Self { reader: Arc::new(Mutex::new(Reader { conn, last: None })), started: AtomicU64::new(0) }))
    }
}

#[async_trait]
impl SharedEpoch for SqliteChanges {
    async fn read(&self) -> Option<Vec<u8>> {
        // Reads numbered above this one start after this call arrived.
        let arrived = self.started.load(Ordering::SeqCst);
        let mut reader = Arc::clone(&self.reader).lock_owned().await;
        if let Some((number, value)) = &reader.last {
            if *number > arrived {
                return Some(value.clone());
            }
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        // The guard goes to the blocking thread and comes back, so that waiters see this read's value.
        let read = tokio::task::spawn_blocking(move || {
            let version = diesel::sql_query("PRAGMA data_version").get_result::<DataVersion>(&mut reader.conn);
            (version, reader)
        });
        match read.await {
            Ok((Ok(v), mut reader)) => {
                let value = v.data_version.to_le_bytes().to_vec();
                reader.last = Some((number, value.clone()));
                Some(value)
            }
            Ok((Err(e), _)) => {
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_checks_share_a_read_that_started_after_they_asked() {
        let dir = tempfile::tempdir().unwrap();
        let url = testing::sqlite_url(&dir.path().join("changes.db"));
        let ours = store(&url).await;
        let changes = Arc::new(SqliteChanges::open(&url).await.unwrap().expect("a SQLite URL"));
        let before = changes.read().await.expect("a value");
        assert_eq!(changes.started.load(Ordering::SeqCst), 1);
        // 64 checks arrive while the reader is busy; the first to get it reads, the others take its value.
        let busy = Arc::clone(&changes.reader).lock_owned().await;
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let changes = Arc::clone(&changes);
            checks.spawn(async move { changes.read().await });
        }
        // Each queued check holds a clone of the reader's Arc (taken after it noted its arrival): besides
        // `changes` and `busy`, 64 of them means every check is waiting.
        while Arc::strong_count(&changes.reader) < 2 + 64 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(busy);
        while let Some(read) = checks.join_next().await {
            assert_eq!(read.unwrap(), Some(before.clone()));
        }
        assert_eq!(changes.started.load(Ordering::SeqCst), 2, "one read answered the 64 queued checks");

        // A commit made while a read is held up is seen by every check that asked after it.
        let held = Arc::clone(&changes.reader).lock_owned().await;
        let waiting = {
            let changes = Arc::clone(&changes);
            tokio::spawn(async move { changes.read().await })
        };
        ours.revoke_jti("a", i64::MAX).await.unwrap();
        let after_commit = {
            let changes = Arc::clone(&changes);
            tokio::spawn(async move { changes.read().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(held);
        assert_ne!(after_commit.await.unwrap(), Some(before.clone()));
        assert_ne!(waiting.await.unwrap(), Some(before), "a read made after the commit answered it too");
    }

    #[tokio::test]
    async fn postgres_has_no_counter_here() {
        assert!(SqliteChanges::open("postgres://nobody@127.0.0.1:1/none").await.unwrap().is_none());
    }
}
