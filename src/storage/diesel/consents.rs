//! The `consents` table: rows <-> granted [`Consent`]s, and [`ConsentStore`] for [`DieselStore`].
//!
//! One row per (user, client), the scope and the claims granted by name (`claims`) space-separated. `created_at` is the first grant, `updated_at` the last
//! change. A grant adds to the stored scope, in an upsert written without `ON CONFLICT`: UPDATE, then INSERT when
//! there was nothing to update.

use super::refresh_tokens::revoke_user_client;
use super::schema::consents;
use super::{AnyConnection, DieselStore};
use crate::domain::{ClaimNames, ClientId, Consent, Scope, UnixTime, UserId};
use crate::storage::{ConsentStore, StoreError, StoreResult, StoredConsent, WithdrawnGrant};
use async_trait::async_trait;
use diesel::prelude::*;

/// A `consents` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
struct ConsentRow {
    user_id: String,
    client_id: String,
    scope: String,
    created_at: i64,
    updated_at: i64,
    claims: String,
}

/// The row of a first grant at `now`.
fn row_from_grant(user_id: &UserId, client_id: &ClientId, granted: &Consent, now: UnixTime) -> ConsentRow {
    ConsentRow {
        user_id: user_id.as_str().to_owned(),
        client_id: client_id.as_str().to_owned(),
        scope: granted.scope.to_string(),
        created_at: now,
        updated_at: now,
        claims: granted.claims.to_string(),
    }
}

/// The client, what was granted and when.
fn consent_from_row(row: ConsentRow) -> StoreResult<StoredConsent> {
    let (user, client) = (&row.user_id, &row.client_id);
    let client_id = ClientId::parse(client.as_str())
        .map_err(|e| StoreError::Backend(format!("consents row ({user:?}, {client:?}): invalid client_id: {e}")))?;
    let consent = stored_consent(user, client, &row.scope, &row.claims)?;
    Ok(StoredConsent { client_id, consent, created_at: row.created_at, updated_at: row.updated_at })
}

/// The `scope` and `claims` columns of the consent of `user_id` for `client_id`, parsed.
pub(super) fn stored_consent(user_id: &str, client_id: &str, scope: &str, claims: &str) -> StoreResult<Consent> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Backend(format!("consents row ({user_id:?}, {client_id:?}): {what}: {e}"))
    };
    Ok(Consent {
        scope: Scope::parse(scope).map_err(|e| bad("scope", &e))?,
        claims: ClaimNames::parse(claims).map_err(|e| bad("claims", &e))?,
    })
}

/// One attempt at adding `row`'s scope and claims to the stored grant, in one transaction. `Conflict` when
/// another transaction inserted the same (user, client) between the UPDATE and the INSERT.
fn add_grant(conn: &mut AnyConnection, row: &ConsentRow, granted: &Consent) -> StoreResult<()> {
    conn.transaction(|c| {
        let key = (&row.user_id, &row.client_id);
        // Written before it is read: the UPDATE takes the row's lock (Postgres) or the write lock (SQLite), so a
        // concurrent grant waits here and then reads this one's scope instead of overwriting it.
        let touched =
            diesel::update(consents::table.find(key)).set(consents::updated_at.eq(row.updated_at)).execute(c)?;
        if touched == 0 {
            diesel::insert_into(consents::table).values(row).execute(c)?;
            return Ok(());
        }
        let (stored, stored_claims): (String, String) =
            consents::table.find(key).select((consents::scope, consents::claims)).first(c)?;
        let scope = match Scope::parse(&stored).and_then(|before| before.union(&granted.scope)) {
            Ok(union) => union,
            Err(e) => {
                // Past the limit (or unreadable), the newest grant stands; the others are asked for again.
                tracing::warn!(user_id = %row.user_id, client_id = %row.client_id, error = %e,
                    "a consent replaces the stored one instead of adding to it");
                granted.scope.clone()
            }
        };
        // Names this release does not know (written by a later one) are dropped with the grant's names kept.
        let claims = ClaimNames::parse(&stored_claims).unwrap_or_default().union(&granted.claims);
        // created_at is left alone: it stays the first grant's. A grant that adds nothing writes nothing more.
        let (scope, claims) = (scope.to_string(), claims.to_string());
        if scope != stored {
            diesel::update(consents::table.find(key)).set(consents::scope.eq(scope)).execute(c)?;
        }
        if claims != stored_claims {
            diesel::update(consents::table.find(key)).set(consents::claims.eq(claims)).execute(c)?;
        }
        Ok(())
    })
}

/// Records the grant's cut-off at `at`, kept until `keep_until`; neither moves back. One statement (an upsert),
/// so withdrawals at once on Postgres do not collide on the key; nothing for a user or client that is gone (a
/// stale page's form), which has nothing to withdraw.
fn record_cut_off(
    c: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    at: UnixTime,
    keep_until: UnixTime,
) -> StoreResult<()> {
    use diesel::sql_types::{BigInt, Text};
    // Numbered parameters: both backends read `$n` (SQLite as a named parameter bound by position).
    const UPSERT: &str = "INSERT INTO grant_cut_offs (user_id, client_id, revoked_before, expires_at) \
        SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1) \
        AND EXISTS (SELECT 1 FROM clients WHERE id = $2) \
        ON CONFLICT (user_id, client_id) DO UPDATE SET revoked_before = CASE \
        WHEN excluded.revoked_before > grant_cut_offs.revoked_before THEN excluded.revoked_before \
        ELSE grant_cut_offs.revoked_before END, expires_at = CASE \
        WHEN excluded.expires_at > grant_cut_offs.expires_at THEN excluded.expires_at \
        ELSE grant_cut_offs.expires_at END";
    diesel::sql_query(UPSERT)
        .bind::<Text, _>(user_id)
        .bind::<Text, _>(client_id)
        .bind::<BigInt, _>(at)
        .bind::<BigInt, _>(keep_until)
        .execute(c)?;
    Ok(())
}

#[async_trait]
impl ConsentStore for DieselStore {
    async fn grant_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        granted: &Consent,
        now: UnixTime,
    ) -> StoreResult<()> {
        let row = row_from_grant(user_id, client_id, granted, now);
        let granted = granted.clone();
        self.db()
            .write(move |c| {
                let added = match add_grant(c, &row, &granted) {
                    // A concurrent grant inserted the row first (on Postgres the INSERT waits for it to commit,
                    // then fails): the row exists now, so a second attempt adds to it. On SQLite, writers are
                    // serialized and the UPDATE already sees the other row.
                    Err(StoreError::Conflict(_)) => add_grant(c, &row, &granted),
                    other => other,
                };
                added.map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("consent of user {} for client {}", row.user_id, row.client_id))
                    }
                    other => other,
                })
            })
            .await
    }

    async fn consents_of_user(&self, user_id: &UserId) -> StoreResult<Vec<StoredConsent>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                consents::table
                    .filter(consents::user_id.eq(&user_id))
                    .select(ConsentRow::as_select())
                    .order(consents::client_id.asc())
                    .load(c)?
                    .into_iter()
                    .map(consent_from_row)
                    .collect()
            })
            .await
    }

    async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<()> {
        let key = (user_id.as_str().to_owned(), client_id.as_str().to_owned());
        self.db()
            .write(move |c| {
                let deleted = diesel::delete(consents::table.find(key)).execute(c)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn withdraw_grant(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        keep_until: UnixTime,
    ) -> StoreResult<WithdrawnGrant> {
        let (user_id, client_id) = (user_id.as_str().to_owned(), client_id.as_str().to_owned());
        self.db()
            .write(move |c| {
                // Committed before the revocation reads: a code redemption stores its token and then looks for
                // the cut-off, so one of the two sees the other.
                record_cut_off(c, &user_id, &client_id, now, keep_until)?;
                // The DELETE writes first (see the notes in `refresh_tokens`): on SQLite the transaction takes the
                // write lock before it reads.
                c.transaction(|c| {
                    let deleted = diesel::delete(consents::table.find((&user_id, &client_id))).execute(c)?;
                    let issued = revoke_user_client(c, &user_id, &client_id, now)?;
                    Ok(WithdrawnGrant { consent: deleted > 0, issued })
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::domain::scope::MAX_SCOPE_VALUES;
    use std::time::Duration;

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    fn consent(s: &str) -> Consent {
        Consent { scope: scope(s), claims: ClaimNames::default() }
    }

    /// The scopes `user_id` granted `client_id`, if any; a corrupt row is an error.
    async fn granted(t: &TestDb, user_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Scope>> {
        let key = (user_id.as_str().to_owned(), client_id.as_str().to_owned());
        t.db.run(move |c| {
            consents::table
                .find(key)
                .select(ConsentRow::as_select())
                .first(c)
                .optional()?
                .map(|row| consent_from_row(row).map(|c| c.consent.scope))
                .transpose()
        })
        .await
    }

    /// The stored (scope, created_at, updated_at) of a grant.
    async fn stored(t: &TestDb, user_id: &UserId, client_id: &ClientId) -> (String, i64, i64) {
        let key = (user_id.as_str().to_owned(), client_id.as_str().to_owned());
        t.db.run(move |c| {
            Ok(consents::table
                .find(key)
                .select((consents::scope, consents::created_at, consents::updated_at))
                .first(c)?)
        })
        .await
        .unwrap()
    }

    async fn grants_add_up(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let app = t.add_client("app").await;
        assert!(granted(&t, &alice, &app).await.unwrap().is_none());

        t.store.grant_consent(&alice, &app, &consent("openid profile"), 100).await.unwrap();
        assert_eq!(granted(&t, &alice, &app).await.unwrap(), Some(scope("profile openid")));
        assert_eq!(stored(&t, &alice, &app).await, ("openid profile".into(), 100, 100));

        // A second grant adds its scopes and keeps created_at.
        t.store.grant_consent(&alice, &app, &consent("openid email"), 200).await.unwrap();
        assert_eq!(granted(&t, &alice, &app).await.unwrap(), Some(scope("openid email profile")));
        assert_eq!(stored(&t, &alice, &app).await, ("email openid profile".into(), 100, 200));

        // An empty grant changes only the time; a first empty grant is remembered as such.
        t.store.grant_consent(&alice, &app, &Consent::default(), 300).await.unwrap();
        assert_eq!(stored(&t, &alice, &app).await, ("email openid profile".into(), 100, 300));
        let other = t.add_client("other").await;
        t.store.grant_consent(&alice, &other, &Consent::default(), 300).await.unwrap();
        assert_eq!(granted(&t, &alice, &other).await.unwrap(), Some(Scope::default()));
    }

    async fn claims_granted_by_name_add_up(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let app = t.add_client("app").await;
        let names = |v: &str| ClaimNames::parse(v).unwrap();
        let email = Consent { scope: scope("openid"), claims: names("email") };
        t.store.grant_consent(&alice, &app, &email, 100).await.unwrap();
        let name = Consent { scope: scope("openid profile"), claims: names("name") };
        t.store.grant_consent(&alice, &app, &name, 200).await.unwrap();
        let both = Consent { scope: scope("openid profile"), claims: names("email name") };
        let stored = StoredConsent { client_id: app, consent: both, created_at: 100, updated_at: 200 };
        assert_eq!(t.store.consents_of_user(&alice).await.unwrap(), vec![stored]);
    }

    async fn a_grant_past_the_scope_limit_replaces_the_older_ones(backend: Backend) {
        let t = TestDb::new(backend).await;
        let ivan = t.add_user("ivan").await;
        let app = t.add_client("app").await;
        let many: Vec<String> = (0..MAX_SCOPE_VALUES).map(|i| format!("s{i}")).collect();
        t.store.grant_consent(&ivan, &app, &consent(&many.join(" ")), 1).await.unwrap();
        t.store.grant_consent(&ivan, &app, &consent("openid"), 2).await.unwrap();
        assert_eq!(stored(&t, &ivan, &app).await, ("openid".into(), 1, 2));
    }

    async fn consents_of_user_are_ordered_by_client(backend: Backend) {
        let t = TestDb::new(backend).await;
        let bob = t.add_user("bob").await;
        let carol = t.add_user("carol").await;
        let mut clients = Vec::new();
        for id in ["c2", "c0", "c1"] {
            clients.push(t.add_client(id).await);
        }
        for (i, client) in clients.iter().enumerate() {
            t.store.grant_consent(&bob, client, &consent(&format!("openid s{i}")), 10 + i as i64).await.unwrap();
        }
        t.store.grant_consent(&carol, &clients[0], &consent("openid"), 50).await.unwrap();

        // A later grant moves only the last change.
        t.store.grant_consent(&bob, &clients[1], &consent("openid"), 40).await.unwrap();

        let listed = t.store.consents_of_user(&bob).await.unwrap();
        let stored = |id: &str, s: &str, created_at, updated_at| StoredConsent {
            client_id: ClientId::parse(id).unwrap(),
            consent: consent(s),
            created_at,
            updated_at,
        };
        let expected =
            [stored("c0", "openid s1", 11, 40), stored("c1", "openid s2", 12, 12), stored("c2", "openid s0", 10, 10)];
        assert_eq!(listed, expected);
        assert_eq!(t.store.consents_of_user(&carol).await.unwrap(), vec![stored("c2", "openid", 50, 50)]);
        assert!(t.store.consents_of_user(&UserId::generate()).await.unwrap().is_empty());
    }

    async fn delete_forgets_one_grant(backend: Backend) {
        let t = TestDb::new(backend).await;
        let dave = t.add_user("dave").await;
        let (a, b) = (t.add_client("a").await, t.add_client("b").await);
        t.store.grant_consent(&dave, &a, &consent("openid"), 1).await.unwrap();
        t.store.grant_consent(&dave, &b, &consent("openid"), 1).await.unwrap();

        t.store.delete_consent(&dave, &a).await.unwrap();
        assert!(granted(&t, &dave, &a).await.unwrap().is_none());
        assert!(granted(&t, &dave, &b).await.unwrap().is_some());
        let err = t.store.delete_consent(&dave, &a).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let err = t.store.delete_consent(&UserId::generate(), &b).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        // Granting again after a delete starts a new first grant.
        t.store.grant_consent(&dave, &a, &consent("profile"), 5).await.unwrap();
        assert_eq!(stored(&t, &dave, &a).await, ("profile".into(), 5, 5));
    }

    async fn withdrawing_a_grant_ends_its_consent_and_refresh_tokens(backend: Backend) {
        use super::super::test_support::refresh_token;
        use crate::storage::{RefreshTokenRecord, RefreshTokenStore, RevocationStore};
        let t = TestDb::new(backend).await;
        let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
        let (a, b) = (t.add_client("a").await, t.add_client("b").await);
        t.store.grant_consent(&alice, &a, &consent("openid"), 1).await.unwrap();
        t.store.grant_consent(&alice, &b, &consent("openid"), 1).await.unwrap();
        let now = 1_700_000_100;
        let of = |id: &str, client: &ClientId, user: &UserId, offline: bool| RefreshTokenRecord {
            user_id: Some(user.clone()),
            offline,
            access_jti: Some(format!("at-{id}")),
            access_expires_at: Some(now + 60),
            ..refresh_token(id, id, client)
        };
        for token in [of("a1", &a, &alice, false), of("a2", &a, &alice, true), of("b1", &b, &alice, false)] {
            t.store.insert_refresh_token(&token).await.unwrap();
        }
        t.store.insert_refresh_token(&of("bob-a", &a, &bob, true)).await.unwrap();

        let mut withdrawn = t.store.withdraw_grant(&alice, &a, now, now + 600).await.unwrap();
        withdrawn.issued.sort();
        let expected = vec![("at-a1".to_owned(), now + 60), ("at-a2".to_owned(), now + 60)];
        assert_eq!(withdrawn, WithdrawnGrant { consent: true, issued: expected });
        assert!(granted(&t, &alice, &a).await.unwrap().is_none());
        assert!(granted(&t, &alice, &b).await.unwrap().is_some(), "another client's grant stays");
        let revoked = |hash: &'static str| {
            let t = &t;
            async move { t.store.refresh_token_by_hash(hash).await.unwrap().unwrap().revoked }
        };
        assert!(revoked("hash-a1").await && revoked("hash-a2").await, "offline tokens included");
        assert!(!revoked("hash-b1").await && !revoked("hash-bob-a").await);
        // Again: nothing left, and that is no error.
        assert_eq!(t.store.withdraw_grant(&alice, &a, now, now + 600).await.unwrap(), WithdrawnGrant::default());

        // Every access token of the grant, those no refresh token records too, is ended up to the cut-off; an
        // earlier clock moves neither the cut-off nor its end back, and the purge keeps it until that end.
        let cut_off = |user: &UserId, client: &ClientId| {
            let (t, user, client) = (&t, user.clone(), client.clone());
            async move {
                let standing = t.store.access_token_standing("at-new", &client, Some(&user), None).await.unwrap();
                standing.grant_revoked_before
            }
        };
        assert_eq!(cut_off(&alice, &a).await, Some(now));
        assert_eq!((cut_off(&alice, &b).await, cut_off(&bob, &a).await), (None, None));
        t.store.withdraw_grant(&alice, &a, now + 5, now + 900).await.unwrap();
        t.store.withdraw_grant(&alice, &a, now + 2, now + 700).await.unwrap();
        assert_eq!(cut_off(&alice, &a).await, Some(now + 5));
        t.store.purge_expired_revocations(now + 900).await.unwrap();
        assert_eq!(cut_off(&alice, &a).await, Some(now + 5), "kept until its end");
        assert_eq!(t.store.purge_expired_revocations(now + 901).await.unwrap(), 1);
        assert_eq!(cut_off(&alice, &a).await, None);
        // A client or user that is gone (a stale page's form) has nothing to withdraw, and that is no error.
        let ghost = ClientId::parse("ghost").unwrap();
        assert_eq!(t.store.withdraw_grant(&alice, &ghost, now, now + 600).await.unwrap(), WithdrawnGrant::default());
        let nobody = UserId::generate();
        assert_eq!(t.store.withdraw_grant(&nobody, &a, now, now + 600).await.unwrap(), WithdrawnGrant::default());
    }

    async fn unknown_user_or_client_is_refused(backend: Backend) {
        let t = TestDb::new(backend).await;
        let erin = t.add_user("erin").await;
        let app = t.add_client("app").await;
        let ghost = ClientId::parse("ghost").unwrap();
        for (user, client) in [(&erin, &ghost), (&UserId::generate(), &app)] {
            let err = t.store.grant_consent(user, client, &consent("openid"), 1).await.unwrap_err();
            assert!(matches!(err, StoreError::ReferenceGone(_)), "{err:?}");
        }
        assert!(t.store.consents_of_user(&erin).await.unwrap().is_empty());
    }

    async fn concurrent_grants_all_count(backend: Backend) {
        // As many connections as callers, so that they really race.
        let t = TestDb::with_pool(backend, 10, Duration::from_secs(10)).await;
        let user = t.add_user("frank").await;
        for round in 0..3 {
            let client = t.add_client(&format!("app{round}")).await;
            let mut grants = tokio::task::JoinSet::new();
            for i in 0..10i64 {
                let (store, user, client) = (t.store.clone(), user.clone(), client.clone());
                grants.spawn(
                    async move { store.grant_consent(&user, &client, &consent(&format!("openid s{i}")), i).await },
                );
            }
            while let Some(granted) = grants.join_next().await {
                granted.unwrap().unwrap();
            }
            let every: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
            let expected = scope(&format!("openid {}", every.join(" ")));
            assert_eq!(granted(&t, &user, &client).await.unwrap(), Some(expected), "round {round}");
        }
        assert_eq!(t.store.consents_of_user(&user).await.unwrap().len(), 3);
    }

    /// Waits until a statement of this test's database waits on a row lock (Postgres), or a moment (SQLite,
    /// where the waiting writer sits in busy_timeout and shows nowhere).
    async fn until_a_statement_waits(t: &TestDb, backend: Backend) {
        if backend == Backend::Sqlite {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        #[derive(diesel::QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        for _ in 0..100 {
            let waiting =
                t.db.run(|c| {
                    Ok(diesel::sql_query(
                        "SELECT COUNT(*) AS n FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .get_result::<Waiting>(c)?
                    .n)
                })
                .await
                .unwrap();
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the grant never waited on the uncommitted insert");
    }

    async fn insert_losing_a_race_becomes_an_update(backend: Backend) {
        let t = TestDb::new(backend).await;
        let user = t.add_user("grace").await;
        let client = t.add_client("app").await;

        // Another writer inserts the same grant and holds its transaction open.
        let (inserted_tx, inserted_rx) = tokio::sync::oneshot::channel::<()>();
        let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
        let first = row_from_grant(&user, &client, &consent("openid"), 1);
        let db = t.db.clone();
        let holder = tokio::spawn(async move {
            db.run(move |c| {
                c.transaction(|c| {
                    diesel::insert_into(consents::table).values(&first).execute(c)?;
                    let _ = inserted_tx.send(());
                    let _ = commit_rx.recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
            })
            .await
        });
        inserted_rx.await.unwrap();

        // On Postgres the grant's UPDATE finds nothing and its INSERT waits on the uncommitted row, then fails
        // with a unique violation once the holder commits; the retry must turn it into an update.
        let (store, u, cl) = (t.store.clone(), user.clone(), client.clone());
        let grant = tokio::spawn(async move { store.grant_consent(&u, &cl, &consent("openid email"), 2).await });
        until_a_statement_waits(&t, backend).await;
        commit_tx.send(()).unwrap();
        holder.await.unwrap().unwrap();
        grant.await.unwrap().unwrap();
        assert_eq!(stored(&t, &user, &client).await, ("email openid".into(), 1, 2));
    }

    async fn corrupt_rows_are_errors_not_panics(backend: Backend) {
        let t = TestDb::new(backend).await;
        let heidi = t.add_user("heidi").await;
        let app = t.add_client("app").await;
        t.store.grant_consent(&heidi, &app, &consent("openid"), 1).await.unwrap();
        t.db.run(|c| Ok(diesel::sql_query("UPDATE consents SET scope = 'caf\u{e9}'").execute(c)?)).await.unwrap();
        let err = granted(&t, &heidi, &app).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(msg) if msg.contains("\"app\"") && msg.contains("scope")),
            "{err:?}"
        );
        assert!(t.store.consents_of_user(&heidi).await.is_err());
        // A grant over a corrupt row repairs it.
        t.store.grant_consent(&heidi, &app, &consent("openid"), 2).await.unwrap();
        assert_eq!(granted(&t, &heidi, &app).await.unwrap(), Some(scope("openid")));
    }

    both_backends!(
        grants_add_up,
        claims_granted_by_name_add_up,
        a_grant_past_the_scope_limit_replaces_the_older_ones,
        consents_of_user_are_ordered_by_client,
        delete_forgets_one_grant,
        withdrawing_a_grant_ends_its_consent_and_refresh_tokens,
        unknown_user_or_client_is_refused,
        concurrent_grants_all_count,
        insert_losing_a_race_becomes_an_update,
        corrupt_rows_are_errors_not_panics,
    );
}
