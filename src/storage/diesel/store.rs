//! [`DieselStore`]: the storage traits over a [`Db`]. The trait implementations live beside their tables in
//! `users.rs`, `clients.rs` and `keys.rs`; this file holds the type, [`Health`] and the batched purge.

use super::{AnyConnection, Db};
use crate::storage::{Health, StoreResult};
use async_trait::async_trait;
use diesel::RunQueryDsl;

/// The SQL implementation of the storage traits, for Postgres and SQLite alike.
#[derive(Debug, Clone)]
pub struct DieselStore {
    db: Db,
    /// How many of each user's passwords `password_history` keeps (`passwords.history`).
    password_history: usize,
}

impl DieselStore {
    /// A store over `db`. Migrations are the caller's business ([`Db::migrate`]).
    pub fn new(db: Db) -> Self {
        Self { db, password_history: 0 }
    }

    /// This store keeping the hashes of each user's last `keep` passwords (`passwords.history`), written by every
    /// write of a password hash.
    pub fn with_password_history(self, keep: usize) -> Self {
        Self { password_history: keep, ..self }
    }

    /// How many of each user's passwords are kept.
    pub(super) fn kept_passwords(&self) -> usize {
        self.password_history
    }

    /// The pool underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs `delete_batch` (a delete of at most [`PURGE_BATCH`] rows) until a batch comes back short, each in
    /// a trip of its own so that other writers get the database in between; returns how many rows went.
    pub(super) async fn purge_in_batches<F>(&self, delete_batch: F) -> StoreResult<u64>
    where
        F: Fn(&mut AnyConnection) -> diesel::QueryResult<usize> + Clone + Send + 'static,
    {
        let mut total = 0;
        loop {
            let batch = delete_batch.clone();
            let deleted = self.db.write(move |c| Ok(batch(c)?)).await?;
            total += deleted as u64;
            if (deleted as i64) < PURGE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// Rows deleted per statement by the purges.
pub(super) const PURGE_BATCH: i64 = 1000;

/// A batch for [`DieselStore::purge_in_batches`]: deletes up to [`PURGE_BATCH`] rows of `$table` whose
/// `expires_at` is before `$now`, by their primary key `$key`.
macro_rules! expired_rows_batch {
    ($table:ident, $key:ident, $now:expr) => {{
        let now = $now;
        move |c: &mut super::AnyConnection| {
            let keys: Vec<String> = $table::table
                .filter($table::expires_at.lt(now))
                .select($table::$key)
                .limit(super::store::PURGE_BATCH)
                .load(c)?;
            diesel::delete($table::table.filter($table::$key.eq_any(keys))).execute(c)
        }
    }};
}
pub(super) use expired_rows_batch;

#[async_trait]
impl Health for DieselStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run(|c| {
                diesel::sql_query("SELECT 1").execute(c)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::{AnyConnection, Backend};
    use super::PURGE_BATCH;
    use crate::storage::Health;
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    async fn ping_answers(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.ping().await.unwrap();
        assert_eq!(t.store.db().backend(), backend);
    }

    /// The database's plan for a purge batch's select on `table`, one line per step.
    fn purge_plan(c: &mut AnyConnection, table: &str, key: &str) -> diesel::QueryResult<String> {
        #[derive(QueryableByName)]
        struct PgStep {
            #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
            step: String,
        }
        #[derive(QueryableByName)]
        struct SqliteStep {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let select = format!("SELECT {key} FROM {table} WHERE expires_at < 1000 LIMIT {PURGE_BATCH}");
        Ok(match c {
            AnyConnection::Postgresql(pg) => pg.transaction(|pg| {
                // Test tables are tiny, and the planner would rightly read them whole; this asks whether an
                // index can serve the query at all.
                diesel::sql_query("SET LOCAL enable_seqscan = off").execute(pg)?;
                let steps = diesel::sql_query(format!("EXPLAIN {select}")).load::<PgStep>(pg)?;
                Ok::<_, diesel::result::Error>(steps.into_iter().map(|s| s.step).collect::<Vec<_>>().join("\n"))
            })?,
            AnyConnection::Sqlite(lite) => {
                let steps = diesel::sql_query(format!("EXPLAIN QUERY PLAN {select}")).load::<SqliteStep>(lite)?;
                steps.into_iter().map(|s| s.detail).collect::<Vec<_>>().join("\n")
            }
        })
    }

    /// Each purge finds its expired rows through an index on `expires_at`: without one, every purge ends in
    /// a read of the whole table (on SQLite while holding the write lock).
    async fn purges_find_expired_rows_by_index(backend: Backend) {
        let t = TestDb::new(backend).await;
        for (table, key) in [("refresh_tokens", "id"), ("sessions", "id_hash"), ("revocations", "jti")] {
            let plan = t.db.run(move |c| Ok(purge_plan(c, table, key)?)).await.unwrap();
            assert!(plan.contains(&format!("{table}_expires_at_idx")), "{table}: {plan}");
        }
    }

    both_backends!(ping_answers, purges_find_expired_rows_by_index);
}
