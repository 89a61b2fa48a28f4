//! The `refresh_tokens` table: rows <-> [`RefreshTokenRecord`], and [`RefreshTokenStore`] for [`DieselStore`].
//!
//! Only the hash of a token is stored; the scope is space-separated. Rotation is a compare-and-set on `used_at`
//! followed by the insert of the successor, in one transaction (one statement on Postgres), so a token rotates
//! once however many requests present it at the same time. Revocations return the live access tokens issued
//! with the refresh tokens they revoke (`access_jti`, `access_expires_at`), for the caller to deny.
//!
//! Every transaction here writes before it reads. On SQLite a deferred transaction that reads and then writes
//! fails at once with "database is locked" when another connection committed in between (the busy timeout does
//! not cover that upgrade), while one that writes first waits for the lock like a single statement does. On
//! Postgres the first write takes the row locks, so concurrent rotations and revocations of the same tokens queue
//! behind it and then see what it did.

use super::schema::{refresh_tokens, users};
use super::users::{load_user, user_from_row, UserRow};
use super::{AnyConnection, DieselStore};
use crate::domain::{ClientId, Scope, UnixTime, User, UserId};
use crate::storage::{IssuedAccessTokens, RefreshTokenRecord, RefreshTokenStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Nullable};

/// A `refresh_tokens` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshTokenRow {
    id: String,
    token_hash: String,
    family_id: String,
    parent_id: Option<String>,
    client_id: String,
    user_id: Option<String>,
    session_id: Option<String>,
    scope: String,
    resource: Option<String>,
    auth_time: Option<i64>,
    offline: bool,
    created_at: i64,
    expires_at: i64,
    idle_expires_at: i64,
    used_at: Option<i64>,
    revoked: bool,
    access_jti: Option<String>,
    access_expires_at: Option<i64>,
}

fn row_from_record(token: &RefreshTokenRecord) -> RefreshTokenRow {
    RefreshTokenRow {
        id: token.id.clone(),
        token_hash: token.token_hash.clone(),
        family_id: token.family_id.clone(),
        parent_id: token.parent_id.clone(),
        client_id: token.client_id.as_str().to_owned(),
        user_id: token.user_id.as_ref().map(|id| id.as_str().to_owned()),
        session_id: token.session_id.clone(),
        scope: token.scope.to_string(),
        resource: token.resource.clone(),
        auth_time: token.auth_time,
        offline: token.offline,
        created_at: token.created_at,
        expires_at: token.expires_at,
        idle_expires_at: token.idle_expires_at,
        used_at: token.used_at,
        revoked: token.revoked,
        access_jti: token.access_jti.clone(),
        access_expires_at: token.access_expires_at,
    }
}

fn record_from_row(row: RefreshTokenRow) -> StoreResult<RefreshTokenRecord> {
    let id = row.id;
    let bad =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Backend(format!("refresh_tokens row {id:?}: {what}: {e}"));
    let client_id = ClientId::parse(row.client_id.as_str()).map_err(|e| bad("invalid client_id", &e))?;
    let user_id = row.user_id.map(UserId::parse).transpose().map_err(|e| bad("invalid user_id", &e))?;
    let scope = Scope::parse(&row.scope).map_err(|e| bad("scope", &e))?;
    Ok(RefreshTokenRecord {
        id,
        token_hash: row.token_hash,
        family_id: row.family_id,
        parent_id: row.parent_id,
        client_id,
        user_id,
        session_id: row.session_id,
        scope,
        resource: row.resource,
        auth_time: row.auth_time,
        offline: row.offline,
        created_at: row.created_at,
        expires_at: row.expires_at,
        idle_expires_at: row.idle_expires_at,
        used_at: row.used_at,
        revoked: row.revoked,
        access_jti: row.access_jti,
        access_expires_at: row.access_expires_at,
    })
}

/// Inserts `row`; `Conflict` names the clashing column (`refresh token hash` or `refresh token id`).
fn insert(conn: &mut AnyConnection, row: &RefreshTokenRow) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table).values(row).execute(conn).map_err(insert_error)?;
    Ok(())
}

fn insert_error(e: diesel::result::Error) -> StoreError {
    match StoreError::from(e) {
        // Both backends name the column or constraint; tell the caller which one clashed.
        StoreError::Conflict(what) if what.contains("token_hash") => StoreError::Conflict("refresh token hash".into()),
        StoreError::Conflict(_) => StoreError::Conflict("refresh token id".into()),
        other => other,
    }
}

/// The compare-and-set and the insert of the successor as one Postgres statement: one round trip instead of
/// four (BEGIN, UPDATE, INSERT, COMMIT). A concurrent rotation of the same token waits on the row lock, then
/// finds `used_at` set, updates nothing and so inserts nothing. A query type of its own (not `sql_query`) so
/// that diesel keeps it prepared, like its other statements.
struct RotatePg<'a> {
    old_id: &'a str,
    new: &'a RefreshTokenRow,
    now: UnixTime,
}

impl QueryId for RotatePg<'_> {
    type QueryId = RotatePg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for RotatePg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        let n = self.new;
        out.push_sql("WITH used AS (UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.old_id)?;
        out.push_sql(
            " AND used_at IS NULL AND NOT revoked RETURNING id) \
             INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, user_id, session_id, scope, \
             resource, auth_time, offline, created_at, expires_at, idle_expires_at, used_at, revoked, access_jti, \
             access_expires_at) SELECT ",
        );
        // The successor's columns, in the order of the column list above.
        let mut first = true;
        macro_rules! values {
            ($($ty:ty => $value:expr),+ $(,)?) => {$(
                if !std::mem::take(&mut first) {
                    out.push_sql(", ");
                }
                out.push_bind_param::<$ty, _>($value)?;
            )+};
        }
        values!(
            Text => &n.id,
            Text => &n.token_hash,
            Text => &n.family_id,
            Nullable<Text> => &n.parent_id,
            Text => &n.client_id,
            Nullable<Text> => &n.user_id,
            Nullable<Text> => &n.session_id,
            Text => &n.scope,
            Nullable<Text> => &n.resource,
            Nullable<BigInt> => &n.auth_time,
            Bool => &n.offline,
            BigInt => &n.created_at,
            BigInt => &n.expires_at,
            BigInt => &n.idle_expires_at,
            Nullable<BigInt> => &n.used_at,
            Bool => &n.revoked,
            Nullable<Text> => &n.access_jti,
            Nullable<BigInt> => &n.access_expires_at,
        );
        out.push_sql(" FROM used");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for RotatePg<'_> {}

fn rotate_pg(conn: &mut PgConnection, old_id: &str, new: &RefreshTokenRow, now: UnixTime) -> StoreResult<bool> {
    let inserted = RotatePg { old_id, new, now }.execute(conn).map_err(insert_error)?;
    Ok(inserted == 1)
}

/// Why a rotation transaction ends without committing.
enum RotateAbort {
    /// The old token was used or revoked first.
    Lost,
    /// A storage failure.
    Store(StoreError),
}

impl From<diesel::result::Error> for RotateAbort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// One rotation, in one transaction: `Ok(false)` when `old_id` is not there to use any more.
fn rotate(conn: &mut AnyConnection, old_id: &str, new: &RefreshTokenRow, now: UnixTime) -> StoreResult<bool> {
    if let AnyConnection::Postgresql(pg) = conn {
        return rotate_pg(pg, old_id, new, now);
    }
    let outcome = conn.transaction(|c| {
        // The compare-and-set comes first: a loser writes nothing and, on Postgres, waits on the row lock for the
        // winner to commit, then finds used_at set.
        let marked = diesel::update(
            refresh_tokens::table
                .find(old_id)
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked.eq(false)),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(c)?;
        if marked == 0 {
            return Err(RotateAbort::Lost);
        }
        insert(c, new).map_err(RotateAbort::Store)
    });
    match outcome {
        Ok(()) => Ok(true),
        Err(RotateAbort::Lost) => Ok(false),
        Err(RotateAbort::Store(e)) => Err(e),
    }
}

/// A condition on `refresh_tokens` that runs on either backend.
type Condition =
    Box<dyn BoxableExpression<refresh_tokens::table, <AnyConnection as Connection>::Backend, SqlType = Nullable<Bool>>>;

/// The tokens a revocation covers.
enum Revoke {
    Family(String),
    /// Offline tokens outlive their session and are left out.
    Session(String),
    User(String),
    Client(String),
}

impl Revoke {
    /// The covered tokens that are not revoked yet.
    fn unrevoked(&self) -> Condition {
        use refresh_tokens as t;
        let live = t::revoked.eq(false);
        match self {
            Self::Family(key) => Box::new(t::family_id.eq(key.clone()).and(live).nullable()),
            Self::Session(key) => Box::new(t::session_id.eq(key.clone()).and(t::offline.eq(false)).and(live)),
            Self::User(key) => Box::new(t::user_id.eq(key.clone()).and(live)),
            Self::Client(key) => Box::new(t::client_id.eq(key.clone()).and(live).nullable()),
        }
    }
}

/// Revokes the tokens `what` covers, in one transaction, and returns the access tokens issued with them that
/// expire after `now`. Tokens revoked already are skipped: their access tokens were returned when they were.
fn revoke(conn: &mut AnyConnection, what: &Revoke, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
    conn.transaction(|c| {
        // A write that changes nothing, to take the locks before reading (see the module docs). On Postgres it
        // also makes a concurrent rotation of one of these tokens wait, and then lose, instead of slipping a new
        // token, and its access token, in between the SELECT and the UPDATE below.
        diesel::update(refresh_tokens::table.filter(what.unrevoked()))
            .set(refresh_tokens::revoked.eq(false))
            .execute(c)?;
        let issued = refresh_tokens::table
            .filter(what.unrevoked())
            .filter(refresh_tokens::access_jti.is_not_null())
            .filter(refresh_tokens::access_expires_at.gt(now))
            .select((refresh_tokens::access_jti.assume_not_null(), refresh_tokens::access_expires_at.assume_not_null()))
            .order(refresh_tokens::id.asc())
            .load::<(String, i64)>(c)?;
        diesel::update(refresh_tokens::table.filter(what.unrevoked()))
            .set(refresh_tokens::revoked.eq(true))
            .execute(c)?;
        Ok(issued)
    })
}

#[async_trait]
impl RefreshTokenStore for DieselStore {
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        let row = row_from_record(token);
        self.db().run(move |c| insert(c, &row)).await
    }

    async fn insert_refresh_token_for_active_user(&self, token: &RefreshTokenRecord) -> StoreResult<bool> {
        let row = row_from_record(token);
        self.db()
            .run(move |c| {
                if let Some(user_id) = &row.user_id {
                    if load_user(c, user_id)?.is_none_or(|u| u.disabled) {
                        return Ok(false);
                    }
                }
                insert(c, &row)?;
                Ok(true)
            })
            .await
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        let token_hash = token_hash.to_owned();
        self.db()
            .run(move |c| {
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(token_hash))
                    .select(RefreshTokenRow::as_select())
                    .first(c)
                    .optional()?
                    .map(record_from_row)
                    .transpose()
            })
            .await
    }

    async fn refresh_token_and_user_by_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshTokenRecord, Option<User>)>> {
        let token_hash = token_hash.to_owned();
        self.db()
            .run(move |c| {
                let found: Option<(RefreshTokenRow, Option<UserRow>)> = refresh_tokens::table
                    .left_join(users::table.on(refresh_tokens::user_id.eq(users::id.nullable())))
                    .filter(refresh_tokens::token_hash.eq(token_hash))
                    .select((RefreshTokenRow::as_select(), Option::<UserRow>::as_select()))
                    .first(c)
                    .optional()?;
                let Some((token, user)) = found else { return Ok(None) };
                let user = user.map(|row| user_from_row(row).map(|(user, _)| user)).transpose()?;
                Ok(Some((record_from_row(token)?, user)))
            })
            .await
    }

    async fn rotate_refresh_token(&self, old_id: &str, new: &RefreshTokenRecord, now: UnixTime) -> StoreResult<bool> {
        let old_id = old_id.to_owned();
        let row = row_from_record(new);
        self.db().run(move |c| rotate(c, &old_id, &row, now)).await
    }

    async fn revoke_family(&self, family_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::Family(family_id.to_owned());
        self.db().run(move |c| revoke(c, &what, now)).await
    }

    async fn revoke_session_refresh_tokens(&self, session_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::Session(session_id.to_owned());
        self.db().run(move |c| revoke(c, &what, now)).await
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &UserId, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::User(user_id.as_str().to_owned());
        self.db().run(move |c| revoke(c, &what, now)).await
    }

    async fn revoke_client_refresh_tokens(
        &self,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::Client(client_id.as_str().to_owned());
        self.db().run(move |c| revoke(c, &what, now)).await
    }

    async fn purge_expired_refresh_tokens(&self, now: UnixTime) -> StoreResult<u64> {
        self.db()
            .run(move |c| {
                let deleted =
                    diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now))).execute(c)?;
                Ok(deleted as u64)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, refresh_token, TestDb};
    use super::super::{AnyConnection, Backend, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use super::*;
    use diesel_migrations::MigrationHarness;
    use std::collections::BTreeSet;
    use std::time::Duration;

    const NOW: UnixTime = 1_700_001_000;

    /// Every token of a family as stored, by id.
    async fn family(t: &TestDb, family_id: &str) -> Vec<RefreshTokenRecord> {
        let family_id = family_id.to_owned();
        t.db.run(move |c| {
            refresh_tokens::table
                .filter(refresh_tokens::family_id.eq(family_id))
                .select(RefreshTokenRow::as_select())
                .order(refresh_tokens::id.asc())
                .load(c)?
                .into_iter()
                .map(record_from_row)
                .collect()
        })
        .await
        .unwrap()
    }

    async fn by_id(t: &TestDb, id: &str) -> Option<RefreshTokenRecord> {
        t.store.refresh_token_by_hash(&format!("hash-{id}")).await.unwrap()
    }

    /// `token` with an access token `at-<id>` expiring at `exp`.
    fn with_access(token: RefreshTokenRecord, exp: UnixTime) -> RefreshTokenRecord {
        RefreshTokenRecord { access_jti: Some(format!("at-{}", token.id)), access_expires_at: Some(exp), ..token }
    }

    fn issued(pairs: &[(&str, UnixTime)]) -> IssuedAccessTokens {
        pairs.iter().map(|(jti, exp)| ((*jti).to_owned(), *exp)).collect()
    }

    fn sorted(mut tokens: IssuedAccessTokens) -> IssuedAccessTokens {
        tokens.sort();
        tokens
    }

    async fn round_trips_every_field(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        let full = RefreshTokenRecord {
            id: "rt-full".into(),
            token_hash: "h4sh_with-base64url".into(),
            family_id: "fam-full".into(),
            parent_id: Some("rt-parent".into()),
            client_id: client.clone(),
            user_id: Some(alice.clone()),
            session_id: Some("sid-1".into()),
            scope: Scope::parse("openid profile offline_access").unwrap(),
            resource: Some("https://api.example/".into()),
            auth_time: Some(1_699_999_000),
            offline: true,
            created_at: 1_700_000_001,
            expires_at: 1_702_592_001,
            idle_expires_at: 1_701_296_001,
            used_at: Some(1_700_000_500),
            revoked: true,
            access_jti: Some("jti-full".into()),
            access_expires_at: Some(1_700_000_301),
        };
        // Every optional field empty, the scope too.
        let bare = refresh_token("rt-bare", "fam-bare", &client);
        for token in [&full, &bare] {
            t.store.insert_refresh_token(token).await.unwrap();
            assert_eq!(t.store.refresh_token_by_hash(&token.token_hash).await.unwrap().as_ref(), Some(token));
        }
        assert!(t.store.refresh_token_by_hash("unknown").await.unwrap().is_none());
        assert!(t.store.refresh_token_by_hash("").await.unwrap().is_none());
    }

    async fn duplicates_and_unknown_clients_are_refused(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let first = refresh_token("rt1", "f", &client);
        t.store.insert_refresh_token(&first).await.unwrap();

        let same_hash = RefreshTokenRecord { id: "rt2".into(), ..first.clone() };
        let err = t.store.insert_refresh_token(&same_hash).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token hash"), "{err:?}");

        let same_id = RefreshTokenRecord { token_hash: "other".into(), ..first.clone() };
        let err = t.store.insert_refresh_token(&same_id).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token id"), "{err:?}");

        let orphan = refresh_token("rt3", "f", &ClientId::parse("ghost").unwrap());
        let err = t.store.insert_refresh_token(&orphan).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        assert_eq!(family(&t, "f").await, vec![first]);
    }

    async fn rotation_happens_once(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let first = refresh_token("rt1", "f", &client);
        t.store.insert_refresh_token(&first).await.unwrap();

        let second = RefreshTokenRecord { parent_id: Some("rt1".into()), ..refresh_token("rt2", "f", &client) };
        assert!(t.store.rotate_refresh_token("rt1", &second, NOW).await.unwrap());
        assert_eq!(by_id(&t, "rt1").await, Some(RefreshTokenRecord { used_at: Some(NOW), ..first.clone() }));
        assert_eq!(by_id(&t, "rt2").await, Some(second.clone()));

        // The same token again: a replay. Nothing is written, not even a later used_at.
        let third = refresh_token("rt3", "f", &client);
        assert!(!t.store.rotate_refresh_token("rt1", &third, NOW + 5).await.unwrap());
        assert_eq!(by_id(&t, "rt1").await.unwrap().used_at, Some(NOW));
        assert!(by_id(&t, "rt3").await.is_none());

        // The successor rotates in turn; unknown tokens never do.
        assert!(t.store.rotate_refresh_token("rt2", &third, NOW + 10).await.unwrap());
        assert!(!t.store.rotate_refresh_token("nope", &refresh_token("rt4", "f", &client), NOW).await.unwrap());
        assert_eq!(family(&t, "f").await.len(), 3);
    }

    async fn lookup_brings_the_user_along(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        let mine = RefreshTokenRecord { user_id: Some(alice.clone()), ..refresh_token("rt1", "f1", &client) };
        t.store.insert_refresh_token(&mine).await.unwrap();
        t.store.insert_refresh_token(&refresh_token("rt2", "f2", &client)).await.unwrap();
        let (token, user) = t.store.refresh_token_and_user_by_hash("hash-rt1").await.unwrap().unwrap();
        assert_eq!((token, user.map(|u| u.id)), (mine, Some(alice)));
        let (token, user) = t.store.refresh_token_and_user_by_hash("hash-rt2").await.unwrap().unwrap();
        assert_eq!((token.id.as_str(), user), ("rt2", None), "a client's own token has no user");
        assert!(t.store.refresh_token_and_user_by_hash("hash-nope").await.unwrap().is_none());
    }

    async fn a_disabled_user_gets_no_new_token(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        let of_alice = |id: &str| RefreshTokenRecord { user_id: Some(alice.clone()), ..refresh_token(id, id, &client) };
        assert!(t.store.insert_refresh_token_for_active_user(&of_alice("rt1")).await.unwrap());
        assert!(t.store.insert_refresh_token_for_active_user(&refresh_token("own", "own", &client)).await.unwrap());
        let alice_name = crate::domain::Username::parse("alice").unwrap();
        crate::storage::UserStore::set_user_disabled(&t.store, &alice_name, true, NOW).await.unwrap();
        assert!(!t.store.insert_refresh_token_for_active_user(&of_alice("rt2")).await.unwrap());
        assert!(by_id(&t, "rt1").await.is_some() && by_id(&t, "own").await.is_some());
        assert!(by_id(&t, "rt2").await.is_none(), "nothing is stored for a disabled user");
    }

    async fn failed_rotation_rolls_back(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        t.store.insert_refresh_token(&refresh_token("rt1", "f", &client)).await.unwrap();
        t.store.insert_refresh_token(&refresh_token("rt2", "f", &client)).await.unwrap();
        // The successor clashes with rt2's hash after rt1 was marked used; the mark must roll back with it.
        let clash = RefreshTokenRecord { token_hash: "hash-rt2".into(), ..refresh_token("rt3", "f", &client) };
        let err = t.store.rotate_refresh_token("rt1", &clash, NOW).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token hash"), "{err:?}");
        assert_eq!(by_id(&t, "rt1").await.unwrap().used_at, None);
        assert!(t.store.rotate_refresh_token("rt1", &refresh_token("rt3", "f", &client), NOW).await.unwrap());
    }

    async fn concurrent_rotations_have_one_winner(backend: Backend) {
        // Enough connections for the rotations to really run at the same time.
        let t = TestDb::with_pool(backend, 10, Duration::from_secs(30)).await;
        let client = t.add_client("app").await;
        t.store.insert_refresh_token(&refresh_token("rt0", "f", &client)).await.unwrap();
        let mut rotations = tokio::task::JoinSet::new();
        for i in 0..20 {
            let store = t.store.clone();
            let new = refresh_token(&format!("rt-new-{i:02}"), "f", &client);
            rotations.spawn(async move { (i, store.rotate_refresh_token("rt0", &new, NOW + i).await) });
        }
        let mut winners = Vec::new();
        while let Some(joined) = rotations.join_next().await {
            let (i, rotated) = joined.unwrap();
            // Every call answers: losers with Ok(false), never with an error (SQLite "database is locked").
            if rotated.unwrap_or_else(|e| panic!("rotation {i} failed: {e:?}")) {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "exactly one rotation must win, got {winners:?}");
        let winner = winners[0];
        let rows = family(&t, "f").await;
        // The old token and the winner's successor; no loser's row.
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [format!("rt-new-{winner:02}").as_str(), "rt0"]);
        assert_eq!(rows[1].used_at, Some(NOW + winner));
    }

    async fn revoked_tokens_cannot_rotate(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        t.store
            .insert_refresh_token(&RefreshTokenRecord { revoked: true, ..refresh_token("r1", "f1", &client) })
            .await
            .unwrap();
        assert!(!t.store.rotate_refresh_token("r1", &refresh_token("r2", "f1", &client), NOW).await.unwrap());
        assert_eq!(by_id(&t, "r1").await.unwrap().used_at, None);
        assert!(by_id(&t, "r2").await.is_none());

        // Revoked through its family.
        t.store.insert_refresh_token(&refresh_token("s1", "f2", &client)).await.unwrap();
        t.store.revoke_family("f2", NOW).await.unwrap();
        assert!(!t.store.rotate_refresh_token("s1", &refresh_token("s2", "f2", &client), NOW).await.unwrap());
        assert_eq!(family(&t, "f2").await.len(), 1);
    }

    async fn revoke_family_returns_live_access_tokens(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let tokens = [
            // Used (rotated) but its access token still lives: returned.
            RefreshTokenRecord { used_at: Some(NOW - 10), ..with_access(refresh_token("a", "f", &client), NOW + 100) },
            // Access token expired already, or expiring right now: not returned.
            with_access(refresh_token("b", "f", &client), NOW - 1),
            with_access(refresh_token("c", "f", &client), NOW),
            // Revoked before: its access token was returned then.
            RefreshTokenRecord { revoked: true, ..with_access(refresh_token("d", "f", &client), NOW + 100) },
            // No access token linked.
            refresh_token("e", "f", &client),
            with_access(refresh_token("g", "f", &client), NOW + 300),
            // Another family.
            with_access(refresh_token("x", "other", &client), NOW + 100),
        ];
        for token in &tokens {
            t.store.insert_refresh_token(token).await.unwrap();
        }
        let revoked = t.store.revoke_family("f", NOW).await.unwrap();
        assert_eq!(sorted(revoked), issued(&[("at-a", NOW + 100), ("at-g", NOW + 300)]));
        let rows = family(&t, "f").await;
        assert_eq!(rows.len(), 6);
        for row in &rows {
            assert!(row.revoked, "{}", row.id);
        }
        // Nothing but `revoked` moved.
        for (row, token) in rows.iter().zip(&tokens[..6]) {
            assert_eq!(row, &RefreshTokenRecord { revoked: true, ..token.clone() });
        }
        assert_eq!(family(&t, "other").await, vec![tokens[6].clone()]);

        // Nothing left to revoke; unknown families are not an error.
        assert!(t.store.revoke_family("f", NOW).await.unwrap().is_empty());
        assert!(t.store.revoke_family("nope", NOW).await.unwrap().is_empty());
    }

    async fn session_revocation_spares_offline_tokens(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let bound = |id: &str, family_id: &str, sid: &str, offline: bool| RefreshTokenRecord {
            session_id: Some(sid.into()),
            offline,
            ..with_access(refresh_token(id, family_id, &client), NOW + 60)
        };
        for token in [
            bound("a1", "fa", "s1", false),
            bound("a2", "fa", "s1", false),
            bound("b1", "fb", "s1", true),
            bound("c1", "fc", "s2", false),
            with_access(refresh_token("d1", "fd", &client), NOW + 60),
        ] {
            t.store.insert_refresh_token(&token).await.unwrap();
        }
        let revoked = t.store.revoke_session_refresh_tokens("s1", NOW).await.unwrap();
        assert_eq!(sorted(revoked), issued(&[("at-a1", NOW + 60), ("at-a2", NOW + 60)]));
        assert!(by_id(&t, "a1").await.unwrap().revoked && by_id(&t, "a2").await.unwrap().revoked);
        // The offline token, another session's and an unbound one are left alone.
        for id in ["b1", "c1", "d1"] {
            assert!(!by_id(&t, id).await.unwrap().revoked, "{id}");
        }
        assert!(t.store.revoke_session_refresh_tokens("s1", NOW).await.unwrap().is_empty());
    }

    async fn user_and_client_revocations_stay_in_scope(backend: Backend) {
        let t = TestDb::new(backend).await;
        let (c1, c2) = (t.add_client("c1").await, t.add_client("c2").await);
        let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
        let of = |id: &str, client: &ClientId, user: Option<&UserId>| RefreshTokenRecord {
            user_id: user.cloned(),
            offline: true,
            ..with_access(refresh_token(id, id, client), NOW + 60)
        };
        for token in [
            of("alice-c1", &c1, Some(&alice)),
            of("alice-c2", &c2, Some(&alice)),
            of("bob-c1", &c1, Some(&bob)),
            of("bob-c2", &c2, Some(&bob)),
            of("nobody-c1", &c1, None),
        ] {
            t.store.insert_refresh_token(&token).await.unwrap();
        }
        let state = || async {
            let mut revoked = Vec::new();
            for id in ["alice-c1", "alice-c2", "bob-c1", "bob-c2", "nobody-c1"] {
                revoked.push(by_id(&t, id).await.unwrap().revoked);
            }
            revoked
        };

        // Offline tokens included: signing out everywhere ends them too.
        let revoked = t.store.revoke_user_refresh_tokens(&alice, NOW).await.unwrap();
        assert_eq!(sorted(revoked), issued(&[("at-alice-c1", NOW + 60), ("at-alice-c2", NOW + 60)]));
        assert_eq!(state().await, [true, true, false, false, false]);
        assert!(t.store.revoke_user_refresh_tokens(&UserId::generate(), NOW).await.unwrap().is_empty());

        // alice-c2 is revoked already and not returned again.
        let revoked = t.store.revoke_client_refresh_tokens(&c2, NOW).await.unwrap();
        assert_eq!(revoked, issued(&[("at-bob-c2", NOW + 60)]));
        assert_eq!(state().await, [true, true, false, true, false]);

        let revoked = t.store.revoke_client_refresh_tokens(&c1, NOW).await.unwrap();
        assert_eq!(sorted(revoked), issued(&[("at-bob-c1", NOW + 60), ("at-nobody-c1", NOW + 60)]));
        assert_eq!(state().await, [true; 5]);
        assert!(t.store.revoke_user_refresh_tokens(&bob, NOW).await.unwrap().is_empty());
    }

    async fn concurrent_rotations_and_revocations_lose_no_access_token(backend: Backend) {
        let t = TestDb::with_pool(backend, 10, Duration::from_secs(30)).await;
        let client = t.add_client("app").await;
        const FAMILIES: i64 = 10;
        for f in 0..FAMILIES {
            t.store
                .insert_refresh_token(&with_access(
                    refresh_token(&format!("f{f}-0"), &format!("f{f}"), &client),
                    NOW + 60,
                ))
                .await
                .unwrap();
        }
        let mut tasks = tokio::task::JoinSet::new();
        for f in 0..FAMILIES {
            let (store, next) =
                (t.store.clone(), with_access(refresh_token(&format!("f{f}-1"), &format!("f{f}"), &client), NOW + 120));
            tasks.spawn(
                async move { (f, None, Some(store.rotate_refresh_token(&format!("f{f}-0"), &next, NOW).await)) },
            );
            let store = t.store.clone();
            tasks.spawn(async move { (f, Some(store.revoke_family(&format!("f{f}"), NOW).await), None) });
        }
        let mut returned = vec![BTreeSet::new(); FAMILIES as usize];
        while let Some(joined) = tasks.join_next().await {
            match joined.unwrap() {
                (f, Some(revoked), None) => {
                    let revoked = revoked.unwrap_or_else(|e| panic!("revocation of f{f} failed: {e:?}"));
                    returned[f as usize].extend(revoked.into_iter().map(|(jti, _)| jti));
                }
                (f, None, Some(rotated)) => {
                    rotated.unwrap_or_else(|e| panic!("rotation in f{f} failed: {e:?}"));
                }
                other => unreachable!("{other:?}"),
            }
        }
        for f in 0..FAMILIES {
            // Whichever ran first, every token of the family ends revoked and every access token issued in it,
            // the rotated one's included, was handed back for denial.
            let rows = family(&t, &format!("f{f}")).await;
            assert!(rows.iter().all(|r| r.revoked), "f{f}: {rows:?}");
            let linked: BTreeSet<String> = rows.iter().filter_map(|r| r.access_jti.clone()).collect();
            assert_eq!(returned[f as usize], linked, "f{f}");
        }
    }

    async fn purge_removes_expired_families(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        for (id, expires_at) in [("a", 10), ("b", 20), ("c", 30), ("d", 19)] {
            let token = RefreshTokenRecord { expires_at, ..refresh_token(id, "f", &client) };
            t.store.insert_refresh_token(&token).await.unwrap();
        }
        // A token expiring exactly now is kept: only expires_at < now goes.
        assert_eq!(t.store.purge_expired_refresh_tokens(20).await.unwrap(), 2);
        let ids = |rows: Vec<RefreshTokenRecord>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(family(&t, "f").await), ["b", "c"]);
        assert_eq!(t.store.purge_expired_refresh_tokens(20).await.unwrap(), 0);
        assert_eq!(t.store.purge_expired_refresh_tokens(1_000).await.unwrap(), 2);
        assert!(family(&t, "f").await.is_empty());
    }

    async fn corrupt_rows_are_errors_not_panics(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        t.store.insert_refresh_token(&refresh_token("bad", "f", &client)).await.unwrap();
        // A users row whose id is no valid UserId, so that the foreign key lets refresh_tokens point at it.
        // client_id cannot go bad that way: ClientId and the clients table are filled by the same code.
        t.db.run(|c| {
            diesel::sql_query(
                "INSERT INTO users (id, username, password_hash, email_verified, disabled, created_at, updated_at) \
                 VALUES ('not a user id', 'u1', 'h', FALSE, FALSE, 0, 0)",
            )
            .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
        for (column, value) in [("user_id", "not a user id"), ("scope", "caf\u{e9}")] {
            let sql = format!("UPDATE refresh_tokens SET {column} = '{value}' WHERE id = 'bad'");
            t.db.run(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
            let err = t.store.refresh_token_by_hash("hash-bad").await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains(column)),
                "{column}: {err:?}"
            );
            t.db.run(|c| Ok(diesel::sql_query("UPDATE refresh_tokens SET user_id = NULL, scope = ''").execute(c)?))
                .await
                .unwrap();
        }
    }

    async fn access_link_migration_reverts(backend: Backend) {
        let t = TestDb::new(backend).await;
        let client = t.add_client("app").await;
        let token = with_access(refresh_token("rt", "f", &client), NOW);
        t.store.insert_refresh_token(&token).await.unwrap();
        let reverted =
            t.db.run(|c| {
                let version = match c {
                    AnyConnection::Postgresql(pg) => pg.revert_last_migration(POSTGRES_MIGRATIONS),
                    AnyConnection::Sqlite(lite) => lite.revert_last_migration(SQLITE_MIGRATIONS),
                }
                .map_err(|e| StoreError::Backend(format!("revert failed: {e}")))?;
                Ok(version.to_string())
            })
            .await
            .unwrap();
        assert_eq!(reverted, "20250602000000");
        // The columns are gone, the row is not.
        let err = t.db.run(|c| Ok(diesel::sql_query("SELECT access_jti FROM refresh_tokens").execute(c)?)).await;
        assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
        assert_eq!(t.db.migrate().await.unwrap(), vec!["20250602000000".to_owned()]);
        let back = by_id(&t, "rt").await.unwrap();
        assert_eq!(back, RefreshTokenRecord { access_jti: None, access_expires_at: None, ..token });
    }

    both_backends!(
        round_trips_every_field,
        duplicates_and_unknown_clients_are_refused,
        rotation_happens_once,
        lookup_brings_the_user_along,
        a_disabled_user_gets_no_new_token,
        failed_rotation_rolls_back,
        concurrent_rotations_have_one_winner,
        revoked_tokens_cannot_rotate,
        revoke_family_returns_live_access_tokens,
        session_revocation_spares_offline_tokens,
        user_and_client_revocations_stay_in_scope,
        concurrent_rotations_and_revocations_lose_no_access_token,
        purge_removes_expired_families,
        corrupt_rows_are_errors_not_panics,
        access_link_migration_reverts,
    );
}
