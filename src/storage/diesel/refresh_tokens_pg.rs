//! The rotation and the code grant's insert as one statement each on Postgres (query types of their own, so that
//! diesel keeps them prepared); SQLite runs them as transactions in `refresh_tokens.rs`.
use super::{insert_error, RefreshTokenRow};
use crate::domain::UnixTime;
use crate::storage::StoreResult;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Nullable};

/// The compare-and-set and the insert of the successor as one Postgres statement: one round trip instead of
/// four (BEGIN, UPDATE, INSERT, COMMIT). A concurrent rotation of the same token waits on the row lock, then
/// finds `used_at` set, updates nothing and so inserts nothing. Nothing rotates in a family with a revoked
/// token (every revocation covers whole families), so once a revocation has committed no successor can follow
/// it (see [`super::revoke`]). A query type of its own (not `sql_query`) so that diesel keeps it prepared, like its
/// other statements.
struct RotatePg<'a> {
    old_id: &'a str,
    new: &'a RefreshTokenRow,
    grace_record: Option<&'a [u8]>,
    now: UnixTime,
    keep_until: UnixTime,
}

impl QueryId for RotatePg<'_> {
    type QueryId = RotatePg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for RotatePg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Binary, Text};
        out.push_sql("WITH used AS (UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(", grace_record = ");
        out.push_bind_param::<Nullable<Binary>, _>(&self.grace_record)?;
        out.push_sql(", expires_at = LEAST(expires_at, ");
        out.push_bind_param::<BigInt, _>(&self.keep_until)?;
        out.push_sql("), idle_expires_at = LEAST(idle_expires_at, ");
        out.push_bind_param::<BigInt, _>(&self.keep_until)?;
        out.push_sql(") WHERE id = ");
        out.push_bind_param::<Text, _>(self.old_id)?;
        out.push_sql(
            " AND used_at IS NULL AND NOT revoked AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE revoked AND \
             family_id = ",
        );
        out.push_bind_param::<Text, _>(&self.new.family_id)?;
        out.push_sql(") RETURNING session_id) ");
        push_insert_select(&mut out, self.new, SessionId::FromUsed)?;
        out.push_sql(" FROM used");
        Ok(())
    }
}

/// Where an inserted row's `session_id` comes from.
enum SessionId {
    /// The row's own.
    Row,
    /// The `session_id` that the `used` CTE returns: a successor stays bound to its parent's session as the
    /// parent is when the rotation has its lock, even when a hand-over to a new session committed after the
    /// rotation read the parent.
    FromUsed,
}

/// `INSERT INTO refresh_tokens (…) SELECT <the columns of row>`, for the caller to end with a `FROM`.
fn push_insert_select<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    row: &'b RefreshTokenRow,
    session: SessionId,
) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Text};
    out.push_sql(
        "INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, user_id, session_id, scope, \
         resource, auth_time, offline, created_at, expires_at, idle_expires_at, used_at, revoked, access_jti, \
         access_expires_at, dpop_jkt, userinfo_claims, amr, id_token_claims) SELECT ",
    );
    // The row's columns, in the order of the column list above.
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
        Text => &row.id,
        Text => &row.token_hash,
        Text => &row.family_id,
        Nullable<Text> => &row.parent_id,
        Text => &row.client_id,
        Nullable<Text> => &row.user_id,
    );
    match session {
        SessionId::Row => {
            values!(Nullable<Text> => &row.session_id);
        }
        SessionId::FromUsed => out.push_sql(", used.session_id"),
    }
    values!(
        Text => &row.scope,
        Nullable<Text> => &row.resource,
        Nullable<BigInt> => &row.auth_time,
        Bool => &row.offline,
        BigInt => &row.created_at,
        BigInt => &row.expires_at,
        BigInt => &row.idle_expires_at,
        Nullable<BigInt> => &row.used_at,
        Bool => &row.revoked,
        Nullable<Text> => &row.access_jti,
        Nullable<BigInt> => &row.access_expires_at,
        Nullable<Text> => &row.dpop_jkt,
        Nullable<Text> => &row.userinfo_claims,
        Nullable<Text> => &row.amr,
        Nullable<Text> => &row.id_token_claims,
    );
    Ok(())
}

impl RunQueryDsl<PgConnection> for RotatePg<'_> {}

pub(super) fn rotate_pg(
    conn: &mut PgConnection,
    old_id: &str,
    new: &RefreshTokenRow,
    grace_record: Option<&[u8]>,
    (now, keep_until): (UnixTime, UnixTime),
) -> StoreResult<bool> {
    let inserted = RotatePg { old_id, new, grace_record, now, keep_until }.execute(conn).map_err(insert_error)?;
    Ok(inserted == 1)
}

/// The code grant as one Postgres statement: one round trip instead of five (BEGIN, INSERT, two reads, COMMIT).
/// The session is read `FOR SHARE`, so a logout that commits first is seen (the read waits for it and then
/// finds the session revoked) and one that comes later waits for this insert, then revokes it with the rest.
/// The refresh token is inserted only when both checks hold; the statement returns the two checks.
pub(super) struct RedeemCodeGrantPg<'a> {
    pub(super) user_id: &'a str,
    /// `None` for a grant bound to no session, which the user's cut-off bounds instead.
    pub(super) session_id: Option<&'a str>,
    pub(super) client_id: &'a str,
    pub(super) code_issued_at: UnixTime,
    pub(super) refresh: &'a RefreshTokenRow,
    pub(super) now: UnixTime,
}

impl QueryId for RedeemCodeGrantPg<'_> {
    type QueryId = RedeemCodeGrantPg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for RedeemCodeGrantPg<'_> {
    type SqlType = (Bool, Bool, Bool);
}

impl QueryFragment<Pg> for RedeemCodeGrantPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text};
        // One text for both kinds of grant (the statement is prepared once): without a session, the user's
        // cut-off takes the session's place.
        out.push_sql("WITH standing AS (SELECT EXISTS (SELECT 1 FROM users WHERE id = ");
        out.push_bind_param::<Text, _>(self.user_id)?;
        out.push_sql(" AND NOT disabled AND (CAST(");
        out.push_bind_param::<Nullable<Text>, _>(&self.session_id)?;
        out.push_sql(" AS TEXT) IS NOT NULL OR revoked_before IS NULL OR revoked_before < ");
        out.push_bind_param::<BigInt, _>(&self.code_issued_at)?;
        out.push_sql(")) AS user_can_sign_in, (CAST(");
        out.push_bind_param::<Nullable<Text>, _>(&self.session_id)?;
        // A session handed over is as live as the one it went to: that one is read, and locked.
        out.push_sql(
            " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id_hash = COALESCE((SELECT handed_over_to \
             FROM sessions WHERE id_hash = ",
        );
        out.push_bind_param::<Nullable<Text>, _>(&self.session_id)?;
        out.push_sql("), ");
        out.push_bind_param::<Nullable<Text>, _>(&self.session_id)?;
        out.push_sql(") AND NOT revoked AND expires_at > ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" FOR SHARE)) AS session_live, EXISTS (SELECT 1 FROM clients WHERE id = ");
        out.push_bind_param::<Text, _>(self.client_id)?;
        out.push_sql(" AND (revoked_before IS NULL OR revoked_before < ");
        out.push_bind_param::<BigInt, _>(&self.code_issued_at)?;
        out.push_sql(")) AS client_live), inserted AS (");
        push_insert_select(&mut out, self.refresh, SessionId::Row)?;
        out.push_sql(
            " FROM standing WHERE user_can_sign_in AND session_live AND client_live RETURNING 1) \
             SELECT user_can_sign_in, session_live, client_live FROM standing",
        );
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for RedeemCodeGrantPg<'_> {}
