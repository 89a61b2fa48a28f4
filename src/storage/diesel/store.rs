//! [`DieselStore`]: the storage traits over a [`Db`]. The trait implementations live beside their tables in
//! `users.rs`, `clients.rs` and `keys.rs`; this file holds the type and [`Health`].

use super::Db;
use crate::storage::{Health, StoreResult};
use async_trait::async_trait;
use diesel::RunQueryDsl;

/// The SQL implementation of the storage traits, for Postgres and SQLite alike.
#[derive(Debug, Clone)]
pub struct DieselStore {
    db: Db,
}

impl DieselStore {
    /// A store over `db`. Migrations are the caller's business ([`Db::migrate`]).
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The pool underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

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
    use super::super::Backend;
    use crate::storage::Health;

    async fn ping_answers(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.ping().await.unwrap();
        assert_eq!(t.store.db().backend(), backend);
    }

    both_backends!(ping_answers);
}
