//! The `revocations` table: revoked access-token `jti`s, and [`RevocationStore`] for [`DieselStore`].
//!
//! A row lives until its token would have expired anyway; [`RevocationStore::purge_expired_revocations`]
//! removes it after that, and the grants' cut-offs (`grant_cut_offs`) past theirs too.

use super::clients::load_client;
use super::schema::{grant_cut_offs, revocations};
use super::sessions::session_is_live;
use super::store::expired_rows_batch;
use super::users::load_user;
use super::{AnyConnection, DieselStore};
use crate::domain::{ClientId, UnixTime, UserId};
use crate::storage::{AccessTokenStanding, RevocationStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

/// A `revocations` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = revocations)]
struct RevocationRow {
    jti: String,
    expires_at: i64,
}

fn find_jti(conn: &mut AnyConnection, jti: &str) -> StoreResult<bool> {
    let found: Option<String> = revocations::table.find(jti).select(revocations::jti).first(conn).optional()?;
    Ok(found.is_some())
}

#[async_trait]
impl RevocationStore for DieselStore {
    async fn revoke_jti(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        let row = RevocationRow { jti: jti.to_owned(), expires_at };
        self.db()
            .write(move |c| {
                // No transaction: on Postgres a failed INSERT would abort it, and each statement is atomic alone.
                match diesel::insert_into(revocations::table).values(&row).execute(c).map_err(StoreError::from) {
                    Ok(_) => Ok(()),
                    // Revoked already: keep whichever expiry is later, so the row is not purged too early.
                    Err(StoreError::Conflict(_)) => {
                        diesel::update(
                            revocations::table
                                .filter(revocations::jti.eq(&row.jti))
                                .filter(revocations::expires_at.lt(row.expires_at)),
                        )
                        .set(revocations::expires_at.eq(row.expires_at))
                        .execute(c)?;
                        Ok(())
                    }
                    Err(other) => Err(other),
                }
            })
            .await
    }

    async fn access_token_standing(
        &self,
        jti: &str,
        client_id: &ClientId,
        user_id: Option<&UserId>,
        session: Option<(&str, UnixTime)>,
    ) -> StoreResult<AccessTokenStanding> {
        let (jti, client_id) = (jti.to_owned(), client_id.as_str().to_owned());
        let user_id = user_id.map(|u| u.as_str().to_owned());
        let session = session.map(|(id, now)| (id.to_owned(), now));
        self.db()
            .run(move |c| {
                if find_jti(c, &jti)? {
                    return Ok(AccessTokenStanding {
                        revoked: true,
                        client: None,
                        user: None,
                        session_live: false,
                        grant_revoked_before: None,
                    });
                }
                let client = load_client(c, &client_id)?;
                let user = match &user_id {
                    Some(id) => load_user(c, id)?,
                    None => None,
                };
                let session_live = match &session {
                    Some((id, now)) => session_is_live(c, id, *now)?,
                    None => true,
                };
                let grant_revoked_before = match &user_id {
                    Some(id) => grant_cut_offs::table
                        .find((id, &client_id))
                        .select(grant_cut_offs::revoked_before)
                        .first(c)
                        .optional()?,
                    None => None,
                };
                Ok(AccessTokenStanding { revoked: false, client, user, session_live, grant_revoked_before })
            })
            .await
    }

    async fn purge_expired_revocations(&self, now: UnixTime) -> StoreResult<u64> {
        let jtis = self.purge_in_batches(expired_rows_batch!(revocations, jti, now)).await?;
        // One row per withdrawal on the account page: few, so one statement.
        let grants = self
            .db()
            .write(move |c| {
                Ok(diesel::delete(grant_cut_offs::table.filter(grant_cut_offs::expires_at.lt(now))).execute(c)?)
            })
            .await?;
        Ok(jtis + grants as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;

    async fn expiry(t: &TestDb, jti: &str) -> Option<i64> {
        let jti = jti.to_owned();
        t.db.run(move |c| Ok(revocations::table.find(jti).select(revocations::expires_at).first(c).optional()?))
            .await
            .unwrap()
    }

    async fn is_revoked(t: &TestDb, jti: &str) -> bool {
        let nobody = ClientId::parse("nobody").unwrap();
        t.store.access_token_standing(jti, &nobody, None, None).await.unwrap().revoked
    }

    async fn revoke_is_idempotent(backend: Backend) {
        let t = TestDb::new(backend).await;
        assert!(!is_revoked(&t, "j1").await);
        t.store.revoke_jti("j1", 100).await.unwrap();
        assert!(is_revoked(&t, "j1").await);
        t.store.revoke_jti("j1", 100).await.unwrap();
        assert!(is_revoked(&t, "j1").await);
        assert_eq!(expiry(&t, "j1").await, Some(100));

        // Only j1 is revoked.
        assert!(!is_revoked(&t, "j2").await);
        assert!(!is_revoked(&t, "").await);
    }

    async fn the_later_expiry_is_kept(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.revoke_jti("j", 100).await.unwrap();
        t.store.revoke_jti("j", 200).await.unwrap();
        assert_eq!(expiry(&t, "j").await, Some(200));
        t.store.revoke_jti("j", 150).await.unwrap();
        assert_eq!(expiry(&t, "j").await, Some(200));
    }

    async fn concurrent_revocations_all_succeed(backend: Backend) {
        let t = TestDb::new(backend).await;
        let mut revokes = tokio::task::JoinSet::new();
        for i in 0..10i64 {
            let store = t.store.clone();
            revokes.spawn(async move { store.revoke_jti("same", 1_000 + i).await });
        }
        while let Some(revoked) = revokes.join_next().await {
            revoked.unwrap().unwrap();
        }
        assert_eq!(expiry(&t, "same").await, Some(1_009));
    }

    async fn purge_removes_only_expired_rows(backend: Backend) {
        let t = TestDb::new(backend).await;
        for (jti, at) in [("a", 10), ("b", 20), ("c", 30), ("d", 19)] {
            t.store.revoke_jti(jti, at).await.unwrap();
        }
        // A token expiring exactly now is kept: only expires_at < now goes.
        assert_eq!(t.store.purge_expired_revocations(20).await.unwrap(), 2);
        let mut left = Vec::new();
        for jti in ["a", "b", "c", "d"] {
            left.push(is_revoked(&t, jti).await);
        }
        assert_eq!(left, [false, true, true, false]);
        assert_eq!(t.store.purge_expired_revocations(20).await.unwrap(), 0);
        assert_eq!(t.store.purge_expired_revocations(1_000).await.unwrap(), 2);
        assert!(!is_revoked(&t, "c").await);
    }

    async fn standing_brings_the_client_and_the_user(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        let standing = t.store.access_token_standing("j", &client, Some(&alice), None).await.unwrap();
        assert!(!standing.revoked && standing.session_live);
        assert_eq!((standing.client.map(|c| c.id), standing.user.map(|u| u.id)), (Some(client.clone()), Some(alice)));
        let own = t.store.access_token_standing("j", &client, None, None).await.unwrap();
        assert!(own.client.is_some() && own.user.is_none(), "a client's own token names no user");
        let gone = UserId::generate();
        let gone_client = ClientId::parse("gone").unwrap();
        let orphan = t.store.access_token_standing("j", &gone_client, Some(&gone), None).await.unwrap();
        assert!(!orphan.revoked && orphan.client.is_none() && orphan.user.is_none());
        t.store.revoke_jti("j", 100).await.unwrap();
        assert!(t.store.access_token_standing("j", &client, None, None).await.unwrap().revoked);
    }

    async fn standing_says_whether_the_session_is_live(backend: Backend) {
        use crate::storage::SessionStore;
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        let session = |id: &str| crate::domain::Session {
            id_hash: id.into(),
            user_id: alice.clone(),
            auth_time: 100,
            amr: vec![],
            created_at: 100,
            last_used_at: 100,
            expires_at: 200,
            revoked: false,
            device: Default::default(),
        };
        for id in ["live", "ended"] {
            t.store.create_session(&session(id)).await.unwrap();
        }
        t.store.revoke_session("ended").await.unwrap();
        let live = |sid: &'static str, now: UnixTime| {
            let (t, client, alice) = (&t, &client, &alice);
            async move {
                t.store.access_token_standing("j", client, Some(alice), Some((sid, now))).await.unwrap().session_live
            }
        };
        assert!(live("live", 150).await);
        assert!(!live("live", 200).await, "past its end");
        assert!(!live("ended", 150).await, "revoked");
        assert!(!live("unknown", 150).await, "purged or never there");
    }

    both_backends!(
        standing_brings_the_client_and_the_user,
        standing_says_whether_the_session_is_live,
        revoke_is_idempotent,
        the_later_expiry_is_kept,
        concurrent_revocations_all_succeed,
        purge_removes_only_expired_rows,
    );
}
