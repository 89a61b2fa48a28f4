//! The `signing_keys` and `key_ring` tables: [`KeyStore`] for [`DieselStore`].
//!
//! `key_ring` holds one row whose version every instance compares-and-swaps in the same transaction as its key
//! changes, so two instances rotating at once cannot both win, and every instance learns of a change by polling
//! one number.

use super::schema::{key_ring, signing_keys};
use super::{AnyConnection, DieselStore};
use crate::storage::{KeyStore, StoreError, StoreResult, StoredKey};
use async_trait::async_trait;
use diesel::prelude::*;

/// The id of the single `key_ring` row, seeded by the initial migration.
const RING_ID: i32 = 1;

/// A `signing_keys` row.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    alg: String,
    private_key_sealed: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    activates_at: i64,
}

fn row_from_key(key: StoredKey) -> KeyRow {
    KeyRow {
        kid: key.kid,
        alg: key.alg,
        private_key_sealed: key.private_key_sealed,
        public_jwk: key.public_jwk,
        created_at: key.created_at,
        activates_at: key.activates_at,
    }
}

fn key_from_row(row: KeyRow) -> StoredKey {
    StoredKey {
        kid: row.kid,
        alg: row.alg,
        private_key_sealed: row.private_key_sealed,
        public_jwk: row.public_jwk,
        created_at: row.created_at,
        activates_at: row.activates_at,
    }
}

fn read_version(conn: &mut AnyConnection) -> StoreResult<i64> {
    key_ring::table
        .find(RING_ID)
        .select(key_ring::version)
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::Backend("the key_ring row is missing; were the migrations applied?".into()))
}

/// Why an `update_ring` transaction ends without committing.
enum RingAbort {
    /// Another instance moved the ring first.
    Lost,
    /// A storage failure.
    Store(StoreError),
}

impl From<diesel::result::Error> for RingAbort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

#[async_trait]
impl KeyStore for DieselStore {
    async fn ring_version(&self) -> StoreResult<i64> {
        self.db().run(read_version).await
    }

    async fn load_ring(&self) -> StoreResult<(i64, Vec<StoredKey>)> {
        self.db()
            .run(|c| {
                c.transaction(|c| {
                    // One snapshot for the version and the keys. SQLite transactions are snapshots already.
                    if matches!(c, AnyConnection::Postgresql(_)) {
                        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(c)?;
                    }
                    // Version first: should the snapshot ever slip, an old version with new keys only
                    // causes one extra reload, while a new version with old keys would never be reloaded.
                    let version = read_version(c)?;
                    let keys = signing_keys::table
                        .select(KeyRow::as_select())
                        .order(signing_keys::created_at.asc())
                        .then_order_by(signing_keys::kid.asc())
                        .load(c)?;
                    Ok((version, keys.into_iter().map(key_from_row).collect()))
                })
            })
            .await
    }

    async fn update_ring(&self, expected_version: i64, add: Vec<StoredKey>, remove: Vec<String>) -> StoreResult<bool> {
        let outcome = self
            .db()
            .write(move |c| {
                Ok(c.transaction(|c| {
                    // The compare-and-swap comes first, so a loser writes nothing and, on Postgres, waits on the
                    // row lock for the winner to commit before seeing the version it moved.
                    let bumped = diesel::update(
                        key_ring::table.filter(key_ring::id.eq(RING_ID)).filter(key_ring::version.eq(expected_version)),
                    )
                    .set(key_ring::version.eq(key_ring::version + 1))
                    .execute(c)?;
                    if bumped == 0 {
                        return Err(RingAbort::Lost);
                    }
                    for key in add {
                        diesel::insert_into(signing_keys::table).values(row_from_key(key)).execute(c)?;
                    }
                    for kid in remove {
                        diesel::delete(signing_keys::table.find(kid)).execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await?;
        match outcome {
            Ok(()) => Ok(true),
            Err(RingAbort::Lost) => Ok(false),
            Err(RingAbort::Store(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use crate::storage::{KeyStore, StoreError, StoredKey};

    fn key(kid: &str, created_at: i64) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: "RS256".into(),
            // Every byte value, to catch text/binary mix-ups.
            private_key_sealed: (0..=255u8).chain([0, 0, 255]).collect(),
            public_jwk: format!(r#"{{"kty":"RSA","kid":"{kid}","n":"AQAB","e":"AQAB"}}"#),
            created_at,
            activates_at: created_at + 3600,
        }
    }

    async fn ring_round_trip(backend: Backend) {
        let t = TestDb::new(backend).await;
        assert_eq!(t.store.ring_version().await.unwrap(), 0);
        assert_eq!(t.store.load_ring().await.unwrap(), (0, vec![]));

        assert!(t.store.update_ring(0, vec![key("b", 20), key("a", 10)], vec![]).await.unwrap());
        assert_eq!(t.store.ring_version().await.unwrap(), 1);
        let (version, keys) = t.store.load_ring().await.unwrap();
        assert_eq!(version, 1);
        assert_eq!(keys, vec![key("a", 10), key("b", 20)]);

        // Add one and remove one in the same step.
        assert!(t.store.update_ring(1, vec![key("c", 30)], vec!["a".into()]).await.unwrap());
        let (version, keys) = t.store.load_ring().await.unwrap();
        assert_eq!(version, 2);
        assert_eq!(keys, vec![key("b", 20), key("c", 30)]);

        // Removing a key that is not there is not an error.
        assert!(t.store.update_ring(2, vec![], vec!["zzz".into()]).await.unwrap());
        assert_eq!(t.store.load_ring().await.unwrap().1.len(), 2);
    }

    async fn stale_version_loses_and_changes_nothing(backend: Backend) {
        let t = TestDb::new(backend).await;
        assert!(t.store.update_ring(0, vec![key("a", 10)], vec![]).await.unwrap());
        // Same expected version again: another instance already moved the ring.
        assert!(!t.store.update_ring(0, vec![key("x", 11)], vec!["a".into()]).await.unwrap());
        assert_eq!(t.store.load_ring().await.unwrap(), (1, vec![key("a", 10)]));
    }

    async fn concurrent_updates_have_one_winner(backend: Backend) {
        let t = TestDb::new(backend).await;
        for round in 0..5i64 {
            let (a, b) = tokio::join!(
                t.store.update_ring(round, vec![key(&format!("a{round}"), round)], vec![]),
                t.store.update_ring(round, vec![key(&format!("b{round}"), round)], vec![]),
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!(a ^ b, "round {round}: exactly one update must win, got {a} and {b}");
            let (version, keys) = t.store.load_ring().await.unwrap();
            assert_eq!(version, round + 1);
            // The loser's key was not written.
            assert_eq!(keys.len() as i64, round + 1);
        }
    }

    async fn failed_update_rolls_back(backend: Backend) {
        let t = TestDb::new(backend).await;
        assert!(t.store.update_ring(0, vec![key("a", 10)], vec![]).await.unwrap());
        // A duplicate kid fails the insert after the version was bumped; the bump must roll back with it.
        let err = t.store.update_ring(1, vec![key("b", 20), key("a", 10)], vec![]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(t.store.load_ring().await.unwrap(), (1, vec![key("a", 10)]));
    }

    both_backends!(
        ring_round_trip,
        stale_version_loses_and_changes_nothing,
        concurrent_updates_have_one_winner,
        failed_update_rolls_back,
    );
}
