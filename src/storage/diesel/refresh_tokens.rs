//! The `refresh_tokens` table: rows <-> [`RefreshTokenRecord`], and [`RefreshTokenStore`] for [`DieselStore`].
//!
//! Only the hash of a token is stored; the scope, `amr` and claim names are space-separated (the last two NULL for
//! none). Rotation is a compare-and-set on `used_at` followed by the insert of the successor, in one transaction
//! (one statement on Postgres), so a token rotates once however many requests present it at the same time. The
//! same write ends the rotated token's row at the retention the caller asks for (`expires_at`, and
//! `idle_expires_at` which never exceeds it), so the purge of expired rows deletes it then instead of at its
//! family's expiry. The code grant's insert and its checks of the
//! user and the session are likewise one transaction, one statement on Postgres, where the user's withdrawal of the
//! client is looked for in a second statement, after the insert committed. Revocations return the live access
//! tokens issued with the refresh tokens they revoke (`access_jti`, `access_expires_at`), for the caller to deny.
//!
//! Every transaction here writes before it reads. On SQLite a deferred transaction that reads and then writes
//! fails at once with "database is locked" when another connection committed in between (the busy timeout does
//! not cover that upgrade), while one that writes first waits for the lock like a single statement does. On
//! Postgres the first write takes the row locks, so concurrent rotations and revocations of the same tokens queue
//! behind it and then see what it did.

use super::schema::{clients, grant_cut_offs, refresh_tokens, users};
use super::sessions::session_is_live;
use super::store::expired_rows_batch;
use super::users::{load_user, user_from_row, UserRow};
use super::{AnyConnection, DieselStore};
use crate::domain::{ClaimNames, ClientId, Jkt, Scope, UnixTime, User, UserId};
use crate::storage::{
    CodeGrantStanding, IssuedAccessTokens, RefreshTokenRecord, RefreshTokenStore, RevokedFamily, StoreError,
    StoreResult,
};
use async_trait::async_trait;
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable};
use pg::{rotate_pg, RedeemCodeGrantPg};

/// A `refresh_tokens` row as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
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
    dpop_jkt: Option<String>,
    userinfo_claims: Option<String>,
    amr: Option<String>,
    id_token_claims: Option<String>,
    grace_record: Option<Vec<u8>>,
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
        dpop_jkt: token.dpop_jkt.as_ref().map(|j| j.as_str().to_owned()),
        userinfo_claims: (!token.userinfo_claims.is_empty()).then(|| token.userinfo_claims.to_string()),
        amr: (!token.amr.is_empty()).then(|| token.amr.join(" ")),
        id_token_claims: (!token.id_token_claims.is_empty()).then(|| token.id_token_claims.to_string()),
        grace_record: token.grace_record.clone(),
    }
}

fn record_from_row(row: RefreshTokenRow) -> StoreResult<RefreshTokenRecord> {
    let id = row.id;
    let bad =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Backend(format!("refresh_tokens row {id:?}: {what}: {e}"));
    let client_id = ClientId::parse(row.client_id.as_str()).map_err(|e| bad("invalid client_id", &e))?;
    let user_id = row.user_id.map(UserId::parse).transpose().map_err(|e| bad("invalid user_id", &e))?;
    let scope = Scope::parse(&row.scope).map_err(|e| bad("scope", &e))?;
    let dpop_jkt = match row.dpop_jkt {
        Some(text) => Some(Jkt::parse(&text).ok_or_else(|| bad("dpop_jkt", &"not a JWK thumbprint"))?),
        None => None,
    };
    let userinfo_claims = ClaimNames::parse(row.userinfo_claims.as_deref().unwrap_or_default())
        .map_err(|e| bad("userinfo_claims", &e))?;
    let amr = row.amr.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let id_token_claims = ClaimNames::parse(row.id_token_claims.as_deref().unwrap_or_default())
        .map_err(|e| bad("id_token_claims", &e))?;
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
        dpop_jkt,
        userinfo_claims,
        amr,
        id_token_claims,
        grace_record: row.grace_record,
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

/// Why a transaction ends without committing.
enum Abort<T> {
    /// What it checked does not hold.
    Refused(T),
    /// A storage failure.
    Store(StoreError),
}

impl<T> From<diesel::result::Error> for Abort<T> {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// One rotation, in one transaction: `Ok(false)` when `old_id` is not there to use any more.
fn rotate(
    conn: &mut AnyConnection,
    old_id: &str,
    new: &RefreshTokenRow,
    grace_record: Option<&[u8]>,
    (now, keep_until): (UnixTime, UnixTime),
) -> StoreResult<bool> {
    if let AnyConnection::Postgresql(pg) = conn {
        return rotate_pg(pg, old_id, new, grace_record, (now, keep_until));
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
        .set((
            refresh_tokens::used_at.eq(now),
            refresh_tokens::grace_record.eq(grace_record),
            // LEAST(column, keep_until), as on Postgres.
            refresh_tokens::expires_at.eq(case_when::<_, _, BigInt>(
                refresh_tokens::expires_at.gt(keep_until),
                keep_until,
            )
            .otherwise(refresh_tokens::expires_at)),
            refresh_tokens::idle_expires_at.eq(case_when::<_, _, BigInt>(
                refresh_tokens::idle_expires_at.gt(keep_until),
                keep_until,
            )
            .otherwise(refresh_tokens::idle_expires_at)),
        ))
        .execute(c)?;
        if marked == 0 {
            return Err(Abort::Refused(()));
        }
        // The parent's session as it is now, as on Postgres (see `SessionId::FromUsed`).
        let session_id: Option<String> =
            refresh_tokens::table.find(old_id).select(refresh_tokens::session_id).first(c)?;
        insert(c, &RefreshTokenRow { session_id, ..new.clone() }).map_err(Abort::Store)
    });
    match outcome {
        Ok(()) => Ok(true),
        Err(Abort::Refused(())) => Ok(false),
        Err(Abort::Store(e)) => Err(e),
    }
}

/// Whether `user_id` withdrew `client_id`'s access in or after the second a code was issued.
fn app_withdrawn_since(
    c: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    issued_at: UnixTime,
) -> StoreResult<bool> {
    let cut_off: Option<i64> =
        grant_cut_offs::table.find((user_id, client_id)).select(grant_cut_offs::revoked_before).first(c).optional()?;
    Ok(cut_off.is_some_and(|t| t >= issued_at))
}

/// See [`RefreshTokenStore::redeem_code_grant`].
fn redeem_code_grant(
    conn: &mut AnyConnection,
    user_id: &str,
    session_id: Option<&str>,
    (client_id, code_issued_at): (&str, UnixTime),
    refresh: Option<&RefreshTokenRow>,
    now: UnixTime,
) -> StoreResult<CodeGrantStanding> {
    let standing = |c: &mut AnyConnection| -> StoreResult<CodeGrantStanding> {
        let Some(user) = load_user(c, user_id)?.filter(|u| !u.disabled) else {
            return Ok(CodeGrantStanding::UserCannotSignIn);
        };
        match session_id {
            Some(sid) if !session_is_live(c, sid, now)? => return Ok(CodeGrantStanding::SessionEnded),
            Some(_) => {}
            None if user.revoked_before.is_some_and(|t| t >= code_issued_at) => {
                return Ok(CodeGrantStanding::UserCannotSignIn)
            }
            None => {}
        }
        let revoked_before: Option<Option<i64>> =
            clients::table.find(client_id).select(clients::revoked_before).first(c).optional()?;
        if revoked_before.is_none_or(|t| t.is_some_and(|t| t >= code_issued_at)) {
            return Ok(CodeGrantStanding::ClientRevoked);
        }
        if app_withdrawn_since(c, user_id, client_id, code_issued_at)? {
            return Ok(CodeGrantStanding::AppWithdrawn);
        }
        Ok(CodeGrantStanding::Live)
    };
    let Some(row) = refresh else { return standing(conn) };
    let pg_checks = match conn {
        AnyConnection::Postgresql(pg) => {
            let statement = RedeemCodeGrantPg { user_id, session_id, client_id, code_issued_at, refresh: row, now };
            Some(statement.get_result::<(bool, bool, bool)>(pg).map_err(insert_error)?)
        }
        AnyConnection::Sqlite(_) => None,
    };
    if let Some(checks) = pg_checks {
        return Ok(match checks {
            (false, _, _) => CodeGrantStanding::UserCannotSignIn,
            (true, false, _) => CodeGrantStanding::SessionEnded,
            (true, true, false) => CodeGrantStanding::ClientRevoked,
            // Only now that the token is committed: a withdrawal commits its cut-off before its revocation
            // reads, so either this sees the cut-off or the revocation sees the token.
            (true, true, true) if app_withdrawn_since(conn, user_id, client_id, code_issued_at)? => {
                // Never handed out, so its access token needs no denying.
                diesel::update(refresh_tokens::table.find(&row.id))
                    .set(refresh_tokens::revoked.eq(true))
                    .execute(conn)?;
                CodeGrantStanding::AppWithdrawn
            }
            (true, true, true) => CodeGrantStanding::Live,
        });
    }
    // The insert comes first (see the module notes).
    let outcome = conn.transaction(|c| {
        insert(c, row).map_err(Abort::Store)?;
        match standing(c).map_err(Abort::Store)? {
            CodeGrantStanding::Live => Ok(()),
            ended => Err(Abort::Refused(ended)),
        }
    });
    match outcome {
        Ok(()) => Ok(CodeGrantStanding::Live),
        Err(Abort::Refused(ended)) => Ok(ended),
        Err(Abort::Store(e)) => Err(e),
    }
}

/// A condition on `refresh_tokens` that runs on either backend.
type Condition =
    Box<dyn BoxableExpression<refresh_tokens::table, <AnyConnection as Connection>::Backend, SqlType = Nullable<Bool>>>;

/// The tokens a revocation covers.
#[derive(Clone)]
enum Revoke {
    Family(String),
    /// The tokens of sessions (one, and those handed over to it). Offline tokens outlive their session and are
    /// left out.
    Sessions(Vec<String>),
    User(String),
    Client(String),
    /// A user's tokens of one client (the user withdrew the client's access), offline ones included.
    UserClient {
        user_id: String,
        client_id: String,
    },
}

impl Revoke {
    /// The covered tokens that are not revoked yet.
    fn unrevoked(&self) -> Condition {
        use refresh_tokens as t;
        let live = t::revoked.eq(false);
        match self {
            Self::Family(key) => Box::new(t::family_id.eq(key.clone()).and(live).nullable()),
            Self::Sessions(keys) => Box::new(t::session_id.eq_any(keys.clone()).and(t::offline.eq(false)).and(live)),
            Self::User(key) => Box::new(t::user_id.eq(key.clone()).and(live)),
            Self::Client(key) => Box::new(t::client_id.eq(key.clone()).and(live).nullable()),
            Self::UserClient { user_id, client_id } => {
                Box::new(t::user_id.eq(user_id.clone()).and(t::client_id.eq(client_id.clone())).and(live))
            }
        }
    }
}

/// Revokes the refresh tokens of `user_id` for `client_id` (see [`revoke`]); for a transaction of the caller's.
pub(super) fn revoke_user_client(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    now: UnixTime,
) -> StoreResult<IssuedAccessTokens> {
    let what = Revoke::UserClient { user_id: user_id.to_owned(), client_id: client_id.to_owned() };
    revoke(conn, &what, UnixTime::MIN, now)
}

/// Revokes the tokens `what` covers and returns the access tokens issued with them after `issued_after` that
/// expire after `now`. Tokens revoked already are skipped: their access tokens were returned when they were.
///
/// On Postgres each statement sees what committed before it began, so a rotation that began before a pass
/// committed can insert a successor that the pass never saw, and rotations chained on it could go on. Rotations
/// that begin after a pass committed find the family's revoked tokens and fail (`pg::RotatePg`), so the next
/// pass, whose first statement waits on the parents of the rotations still in flight, sees every successor.
/// Passes repeat until one revokes nothing. On SQLite the write lock orders a pass and rotations wholly: one
/// pass is enough.
fn revoke(
    conn: &mut AnyConnection,
    what: &Revoke,
    issued_after: UnixTime,
    now: UnixTime,
) -> StoreResult<IssuedAccessTokens> {
    revoke_counting(conn, what, issued_after, now).map(|(_, issued)| issued)
}

/// [`revoke`], and how many tokens it revoked.
fn revoke_counting(
    conn: &mut AnyConnection,
    what: &Revoke,
    issued_after: UnixTime,
    now: UnixTime,
) -> StoreResult<(usize, IssuedAccessTokens)> {
    const MAX_PASSES: usize = 8;
    let (mut total, mut issued) = (0, IssuedAccessTokens::new());
    for _ in 0..MAX_PASSES {
        let (revoked, access) = revoke_pass(conn, what, issued_after, now)?;
        total += revoked;
        issued.extend(access);
        if revoked == 0 || matches!(conn, AnyConnection::Sqlite(_)) {
            return Ok((total, issued));
        }
    }
    Err(StoreError::Backend(format!("refresh tokens still being rotated after {MAX_PASSES} revocation passes")))
}

/// Whose a family's token that can still be used is, and the DPoP key (thumbprint) it is bound to, if any.
struct LiveOwner {
    client_id: ClientId,
    user_id: Option<UserId>,
    bound: Option<String>,
}

/// The owner of a token of the family that can still be used at `now`, if there is one.
fn live_family_owner(conn: &mut AnyConnection, family: &Revoke, now: UnixTime) -> StoreResult<Option<LiveOwner>> {
    use refresh_tokens as t;
    let live: Option<(String, Option<String>, Option<String>)> = t::table
        .filter(family.unrevoked())
        .filter(t::used_at.is_null().and(t::expires_at.gt(now)).and(t::idle_expires_at.gt(now)))
        .select((t::client_id, t::user_id, t::dpop_jkt))
        .first(conn)
        .optional()?;
    let Some((client_id, user_id, bound)) = live else { return Ok(None) };
    let bad =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Backend(format!("refresh_tokens: invalid {what}: {e}"));
    let client_id = ClientId::parse(client_id.as_str()).map_err(|e| bad("client_id", &e))?;
    let user_id = user_id.map(UserId::parse).transpose().map_err(|e| bad("user_id", &e))?;
    Ok(Some(LiveOwner { client_id, user_id, bound }))
}

/// One pass of [`revoke`], in one transaction: how many tokens it revoked, and their live access tokens.
fn revoke_pass(
    conn: &mut AnyConnection,
    what: &Revoke,
    issued_after: UnixTime,
    now: UnixTime,
) -> StoreResult<(usize, IssuedAccessTokens)> {
    // Bind parameters per statement stay well under both backends' limits.
    const CHUNK: usize = 1000;
    conn.transaction(|c| {
        // A write that changes nothing, to take the locks before reading (see the module docs). On Postgres it
        // also makes a concurrent rotation of one of these tokens wait, and then lose, so that the SELECT below
        // sees what the rotation did.
        diesel::update(refresh_tokens::table.filter(what.unrevoked()))
            .set(refresh_tokens::revoked.eq(false))
            .execute(c)?;
        let covered: Vec<(String, Option<String>, Option<i64>, i64)> = refresh_tokens::table
            .filter(what.unrevoked())
            .select((
                refresh_tokens::id,
                refresh_tokens::access_jti,
                refresh_tokens::access_expires_at,
                refresh_tokens::created_at,
            ))
            .order(refresh_tokens::id.asc())
            .load(c)?;
        // Exactly the rows read, so every token revoked here has its access token returned: a successor
        // committed after the SELECT is the next pass's.
        let ids: Vec<&str> = covered.iter().map(|(id, ..)| id.as_str()).collect();
        for chunk in ids.chunks(CHUNK) {
            diesel::update(refresh_tokens::table.filter(refresh_tokens::id.eq_any(chunk)))
                .set(refresh_tokens::revoked.eq(true))
                .execute(c)?;
        }
        let issued = covered
            .iter()
            .filter(|(_, _, _, created_at)| *created_at > issued_after)
            .filter_map(|(_, jti, exp, _)| Some((jti.clone()?, (*exp)?)))
            .filter(|(_, exp)| *exp > now)
            .collect();
        Ok((covered.len(), issued))
    })
}

#[async_trait]
impl RefreshTokenStore for DieselStore {
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()> {
        let row = row_from_record(token);
        self.db().write(move |c| insert(c, &row)).await
    }

    async fn redeem_code_grant(
        &self,
        user_id: &UserId,
        session_id: Option<&str>,
        (client_id, code_issued_at): (&ClientId, UnixTime),
        refresh: Option<&RefreshTokenRecord>,
        now: UnixTime,
    ) -> StoreResult<CodeGrantStanding> {
        let (user_id, session_id) = (user_id.as_str().to_owned(), session_id.map(str::to_owned));
        let client_id = client_id.as_str().to_owned();
        let row = refresh.map(row_from_record);
        self.db()
            .write(move |c| {
                let session_id = session_id.as_deref();
                redeem_code_grant(c, &user_id, session_id, (&client_id, code_issued_at), row.as_ref(), now)
            })
            .await
    }

    async fn refresh_family_exists(&self, family_id: &str) -> StoreResult<bool> {
        let family_id = family_id.to_owned();
        self.db()
            .run(move |c| {
                Ok(diesel::select(diesel::dsl::exists(
                    refresh_tokens::table.filter(refresh_tokens::family_id.eq(family_id)),
                ))
                .get_result(c)?)
            })
            .await
    }

    async fn refresh_family_user(&self, family_id: &str) -> StoreResult<Option<UserId>> {
        let family_id = family_id.to_owned();
        self.db()
            .run(move |c| {
                let user: Option<Option<String>> = refresh_tokens::table
                    .filter(refresh_tokens::family_id.eq(&family_id))
                    .select(refresh_tokens::user_id)
                    .first(c)
                    .optional()?;
                user.flatten().map(UserId::parse).transpose().map_err(|e| {
                    StoreError::Backend(format!("refresh_tokens family {family_id:?}: invalid user_id: {e}"))
                })
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

    async fn rotate_refresh_token(
        &self,
        old_id: &str,
        new: &RefreshTokenRecord,
        grace_record: Option<&[u8]>,
        now: UnixTime,
        keep_until: UnixTime,
    ) -> StoreResult<bool> {
        let old_id = old_id.to_owned();
        let row = row_from_record(new);
        let grace_record = grace_record.map(<[u8]>::to_vec);
        self.db().write(move |c| rotate(c, &old_id, &row, grace_record.as_deref(), (now, keep_until))).await
    }

    async fn live_refresh_tokens_of_user(
        &self,
        user_id: &UserId,
        now: UnixTime,
    ) -> StoreResult<Vec<RefreshTokenRecord>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(user_id))
                    .filter(refresh_tokens::revoked.eq(false))
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::expires_at.gt(now))
                    .filter(refresh_tokens::idle_expires_at.gt(now))
                    .order((refresh_tokens::client_id.asc(), refresh_tokens::created_at.asc()))
                    .select(RefreshTokenRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(record_from_row)
                    .collect()
            })
            .await
    }

    async fn revoke_family(&self, family_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::Family(family_id.to_owned());
        self.db().write(move |c| revoke(c, &what, UnixTime::MIN, now)).await
    }

    async fn revoke_live_family(
        &self,
        family_id: &str,
        proof: Option<&Jkt>,
        now: UnixTime,
    ) -> StoreResult<Option<RevokedFamily>> {
        let family = Revoke::Family(family_id.to_owned());
        // Most tokens presented unknown name no live family (it ended, or they are made up): a read answers
        // them without waiting for the writers.
        let looked = family.clone();
        let Some(LiveOwner { client_id, user_id, bound }) =
            self.db().run(move |c| live_family_owner(c, &looked, now)).await?
        else {
            return Ok(None);
        };
        // Without the key a bound family's tokens are no use, and whoever holds an old one cannot end it either.
        if bound.is_some_and(|bound| proof.is_none_or(|proof| proof.as_str() != bound)) {
            return Ok(None);
        }
        // Then revoked as `revoke_family` revokes, pass by pass, each pass committed: that is what stops a family
        // rotating meanwhile (see `revoke`). A family another request revoked since the look (a logout, the same
        // reuse found by another request) revokes nothing here, and is not reported.
        let (revoked, issued) = self.db().write(move |c| revoke_counting(c, &family, UnixTime::MIN, now)).await?;
        Ok((revoked > 0).then_some(RevokedFamily { client_id, user_id, issued }))
    }

    async fn revoke_session_refresh_tokens(&self, session_id: &str, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let session_id = session_id.to_owned();
        self.db()
            .write(move |c| {
                let mut sessions = super::sessions::handed_over_to(c, &session_id)?;
                sessions.push(session_id);
                revoke(c, &Revoke::Sessions(sessions), UnixTime::MIN, now)
            })
            .await
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &UserId, now: UnixTime) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::User(user_id.as_str().to_owned());
        self.db().write(move |c| revoke(c, &what, now, now)).await
    }

    async fn revoke_client_refresh_tokens(
        &self,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<IssuedAccessTokens> {
        let what = Revoke::Client(client_id.as_str().to_owned());
        self.db().write(move |c| revoke(c, &what, now, now)).await
    }

    async fn purge_expired_refresh_tokens(&self, now: UnixTime) -> StoreResult<u64> {
        self.purge_in_batches(expired_rows_batch!(refresh_tokens, id, now)).await
    }
}

/// The rotation and the code grant as one statement each on Postgres.
#[path = "refresh_tokens_pg.rs"]
mod pg;

#[cfg(test)]
#[path = "refresh_tokens_tests.rs"]
mod tests;
