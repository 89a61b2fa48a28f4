//! The `users` table: rows <-> [`User`], and [`UserStore`] for [`DieselStore`].

use super::password_history;
use super::schema::users;
use super::DieselStore;
use crate::domain::user::{email_key, fold};
use crate::domain::{NewUser, UnixTime, User, UserId, Username};
use crate::storage::{StoreError, StoreResult, UserFilter, UserStore, UserUpdate};
use async_trait::async_trait;
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use std::collections::{BTreeMap, HashSet};

/// A `users` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(super) struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
    revoked_before: Option<i64>,
    password_change_required: bool,
}

pub(super) fn row_from_new_user(user: NewUser) -> UserRow {
    UserRow {
        id: user.id.into(),
        username: user.username.as_str().to_owned(),
        password_hash: user.password_hash,
        email_verified: user.email_verified && user.email.is_some(),
        email: user.email,
        name: user.name,
        disabled: false,
        created_at: user.created_at,
        updated_at: user.created_at,
        revoked_before: None,
        password_change_required: user.password_change_required,
    }
}

/// The columns [`UserUpdate`] may change; `None` leaves a column alone, `Some(None)` writes NULL.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
struct UserChanges {
    email: Option<Option<String>>,
    email_verified: Option<bool>,
    name: Option<Option<String>>,
    disabled: Option<bool>,
    password_hash: Option<String>,
    password_change_required: Option<bool>,
    updated_at: i64,
}

/// The user and their password hash.
pub(super) fn user_from_row(row: UserRow) -> StoreResult<(User, String)> {
    let id = UserId::parse(row.id.as_str())
        .map_err(|e| StoreError::Backend(format!("users row {:?}: invalid id: {e}", row.id)))?;
    let username = Username::parse(&row.username)
        .map_err(|e| StoreError::Backend(format!("users row {:?}: invalid username: {e}", row.id)))?;
    let user = User {
        id,
        username,
        email: row.email,
        email_verified: row.email_verified,
        name: row.name,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
        revoked_before: row.revoked_before,
        password_change_required: row.password_change_required,
    };
    Ok((user, row.password_hash))
}

/// Inserts `row` with the username key `key` (its username folded), and its email address's key;
/// `Conflict("username")` when the name is taken in any letter case.
pub(super) fn insert_user(c: &mut super::AnyConnection, row: UserRow, key: &str) -> StoreResult<User> {
    if unkeyed_name_folds_to(c, key)? {
        return Err(StoreError::Conflict("username".into()));
    }
    let values = (&row, users::username_key.eq(key), users::email_key.eq(row.email.as_deref().map(email_key)));
    diesel::insert_into(users::table).values(values).execute(c).map_err(|e| {
        match StoreError::from(e) {
            // Both backends name the column or constraint (`username` or `username_key`); tell the caller
            // which one clashed.
            StoreError::Conflict(what) if what.contains("username") => StoreError::Conflict("username".into()),
            StoreError::Conflict(_) => StoreError::Conflict("user id".into()),
            other => other,
        }
    })?;
    user_from_row(row).map(|(user, _)| user)
}

/// A user by id.
pub(super) fn load_user(conn: &mut super::AnyConnection, id: &str) -> StoreResult<Option<User>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(|row| user_from_row(row).map(|(user, _)| user))
        .transpose()
}

/// The user named `username` exactly, else the one whose key is its fold: one statement, so that a sign-in makes
/// one trip whichever letter case was typed. Both columns are unique, so at most two rows match; the exact name
/// comes first, since two accounts stored before keys existed may fold alike (and have no key).
fn find_by_username(conn: &mut super::AnyConnection, username: &Username) -> StoreResult<Option<(User, String)>> {
    let exact = users::username.eq(username.as_str());
    users::table
        .filter(exact.or(users::username_key.eq(username.folded())))
        .order(exact.desc())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(user_from_row)
        .transpose()
}

/// The id of the user [`find_by_username`] finds; `NotFound` when there is none.
fn id_by_username(conn: &mut super::AnyConnection, username: &Username) -> StoreResult<String> {
    let (user, _) = find_by_username(conn, username)?.ok_or(StoreError::NotFound)?;
    Ok(user.id.into())
}

/// The user `id` after an update of `changed` rows, read in the same transaction.
fn read_after_update(conn: &mut super::AnyConnection, changed: usize, id: &str) -> StoreResult<User> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    load_user(conn, id)?.ok_or(StoreError::NotFound)
}

/// Whether a user without a key (stored before keys existed, or by such a release during a rolling update) has a
/// username that folds to `key`: the unique index cannot see them.
fn unkeyed_name_folds_to(conn: &mut super::AnyConnection, key: &str) -> StoreResult<bool> {
    let unkeyed: Vec<String> = users::table.filter(users::username_key.is_null()).select(users::username).load(conn)?;
    Ok(unkeyed.iter().filter_map(|name| Username::parse(name).ok()).any(|name| name.folded() == key))
}

/// The users matched by email address `email`: those whose address has its key ([`email_key`]), and
/// those without a key (an address an earlier release wrote, until [`fill_email_keys`] keys it) whose address
/// SQL's `lower()` matches, as before keys existed. Each side is an index (`users_email_key_idx`,
/// `users_email_lower`).
pub(super) fn email_is(email: &str) -> Box<dyn BoxableExpression<users::table, Backend, SqlType = Bool>> {
    let condition = sql::<Bool>("(users.email_key = ")
        .bind::<Text, _>(email_key(email))
        .sql(" OR (users.email_key IS NULL AND lower(users.email) = lower(")
        .bind::<Text, _>(email.to_owned())
        .sql(")))");
    Box::new(condition)
}

/// Users keyed per statement, and transaction, by [`fill_username_keys`] and [`fill_email_keys`].
const FILL_BATCH: usize = 500;

/// `rows` rows of `width` parameters each for a `VALUES` list. Postgres numbers its parameters. SQLite reads `$n`
/// as a name, looked up among the names before it, which makes preparing a statement quadratic in its parameters
/// (100,000 users took four times as long in batches of 5000 as of 500); its anonymous `?` is bound by position at
/// no cost.
fn values_rows(conn: &super::AnyConnection, rows: usize, width: usize) -> String {
    let numbered = matches!(conn, super::AnyConnection::Postgresql(_));
    let row = |n: usize| {
        let params: Vec<String> =
            (1..=width).map(|i| if numbered { format!("${}", (n - 1) * width + i) } else { "?".to_owned() }).collect();
        format!("({})", params.join(", "))
    };
    (1..=rows).map(row).collect::<Vec<_>>().join(", ")
}

/// A user to key: the key, the id and the username.
type ToKey = (String, String, String);

/// Gives the users without a key theirs, where no other stored user's username folds alike; the others keep none
/// and are matched by their exact name only. Run after every migration: rows come without a key from before the
/// column existed, from a migration that cleared keys a new fold makes otherwise, and from instances of an earlier
/// release during a rolling update. One indexed read when every user has a key; otherwise one statement per
/// batch of users, each batch committed on its own (the first start after the upgrade keys every stored user).
/// Returns how many users got one.
pub(super) fn fill_username_keys(conn: &mut super::AnyConnection) -> StoreResult<usize> {
    let unkeyed: Vec<(String, String)> =
        users::table.filter(users::username_key.is_null()).select((users::id, users::username)).load(conn)?;
    if unkeyed.is_empty() {
        return Ok(0);
    }
    let mut by_key: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (id, name) in unkeyed {
        // A row whose username no longer parses cannot be signed in to, by any name.
        if let Ok(username) = Username::parse(&name) {
            by_key.entry(username.folded()).or_default().push((id, name));
        }
    }
    let mut colliding = Vec::new();
    let mut alone = Vec::new();
    for (key, rows) in by_key {
        match <[_; 1]>::try_from(rows) {
            Ok([(id, name)]) => alone.push((key, id, name)),
            Err(rows) => colliding.extend(rows.into_iter().map(|(_, name)| name)),
        }
    }
    let mut keyed = 0;
    for batch in alone.chunks(FILL_BATCH) {
        let taken = match conn.transaction(|c| key_users(c, batch)) {
            Ok(taken) => taken,
            // A user created meanwhile took one of the keys, which ends the statement: one user at a time then.
            Err(StoreError::Conflict(_)) => {
                let mut taken = Vec::new();
                for user in batch {
                    match key_users(conn, std::slice::from_ref(user)) {
                        Ok(names) => taken.extend(names),
                        Err(StoreError::Conflict(_)) => taken.push(user.2.clone()),
                        Err(e) => return Err(e),
                    }
                }
                taken
            }
            Err(e) => return Err(e),
        };
        keyed += batch.len() - taken.len();
        colliding.extend(taken);
    }
    if keyed > 0 {
        tracing::info!(users = keyed, "stored usernames keyed to be matched in any letter case and Unicode form");
    }
    if !colliding.is_empty() {
        tracing::warn!(
            usernames = colliding.join(", "),
            "these usernames differ from another only in letter case or Unicode form (a letter typed with a \
             combining accent, say), so they are matched by their exact name only; once all but one of them are \
             deleted (`tessera users remove` with the exact name), the one left is matched in any letter case \
             and form from the next start"
        );
    }
    Ok(keyed)
}

/// Keys each of `users` that has no key yet by its key, unless another user holds that key, in one statement:
/// the usernames of those it did not key. Each key appears once in `users`.
fn key_users(conn: &mut super::AnyConnection, users: &[ToKey]) -> StoreResult<Vec<String>> {
    // SQLite has `UPDATE … FROM` since 3.33; libsqlite3-sys requires 3.34.1.
    let sql = format!(
        "WITH keyed (id, k) AS (VALUES {}) \
         UPDATE users SET username_key = keyed.k FROM keyed \
         WHERE users.id = keyed.id AND users.username_key IS NULL \
         AND NOT EXISTS (SELECT 1 FROM users AS other WHERE other.username_key = keyed.k)",
        values_rows(conn, users.len(), 2)
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for (key, id, _) in users {
        query = query.bind::<Text, _>(id.as_str()).bind::<Text, _>(key.as_str());
    }
    if query.execute(conn)? == users.len() {
        return Ok(Vec::new());
    }
    // Some were not keyed: which (a read only then).
    let ids = users.iter().map(|(_, id, _)| id.as_str());
    let unkeyed: HashSet<String> = users::table
        .filter(users::id.eq_any(ids))
        .filter(users::username_key.is_null())
        .select(users::id)
        .load(conn)?
        .into_iter()
        .collect();
    Ok(users.iter().filter(|(_, id, _)| unkeyed.contains(id)).map(|(_, _, name)| name.clone()).collect())
}

/// Gives the email addresses without a key theirs. Run after every migration, like [`fill_username_keys`]: rows
/// come without one from before the column existed and from instances of an earlier release, which also clear it
/// when they change an address (a trigger does). One read of an index that is empty when every address has a key
/// (`users_email_unkeyed_idx`); otherwise one statement per batch. An address changed meanwhile is left to the next
/// start. Returns how many addresses got one.
pub(super) fn fill_email_keys(conn: &mut super::AnyConnection) -> StoreResult<usize> {
    let unkeyed: Vec<(String, Option<String>)> = users::table
        .filter(users::email_key.is_null().and(users::email.is_not_null()))
        .select((users::id, users::email))
        .load(conn)?;
    let unkeyed: Vec<(String, String)> = unkeyed.into_iter().filter_map(|(id, email)| Some((id, email?))).collect();
    let mut keyed = 0;
    for batch in unkeyed.chunks(FILL_BATCH) {
        let sql = format!(
            "WITH keyed (id, e, k) AS (VALUES {}) \
             UPDATE users SET email_key = keyed.k FROM keyed \
             WHERE users.id = keyed.id AND users.email = keyed.e AND users.email_key IS NULL",
            values_rows(conn, batch.len(), 3)
        );
        let mut query = diesel::sql_query(sql).into_boxed();
        for (id, email) in batch {
            query =
                query.bind::<Text, _>(id.as_str()).bind::<Text, _>(email.as_str()).bind::<Text, _>(email_key(email));
        }
        keyed += query.execute(conn)?;
    }
    if keyed > 0 {
        tracing::info!(users = keyed, "stored email addresses keyed to be matched in any letter case and Unicode form");
    }
    Ok(keyed)
}

/// Above every text that begins with a prefix and below the prefix followed by this, in byte order: a noncharacter,
/// so only text that goes on with it is missed.
const PREFIX_END: &str = "\u{10FFFF}";

/// [`UserFilter::prefix`] as SQL: four ranges, each of an index, compared in byte order (UTF-8 bytes sort as code
/// points), so that no `LIKE` pattern, wildcard or escape is involved and what is typed is only ever text. Postgres
/// compares in the database's collation unless told `COLLATE "C"`, in which its indexes `users_username_key_c_idx`
/// and `users_email_lower_c_idx` are made, and which is the collation of `email_key` (the others sort as the
/// collation says, where a prefix need not be one range); SQLite compares bytes (`BINARY`) already, in its indexes
/// too.
fn begins_with(
    conn: &super::AnyConnection,
    prefix: &str,
) -> Box<dyn BoxableExpression<users::table, Backend, SqlType = Bool>> {
    let bytes = if matches!(conn, super::AnyConnection::Postgresql(_)) { " COLLATE \"C\"" } else { "" };
    let key = fold(prefix);
    let key_end = format!("{key}{PREFIX_END}");
    let name_end = format!("{prefix}{PREFIX_END}");
    let address = email_key(prefix);
    let address_end = format!("{address}{PREFIX_END}");
    let range = sql::<Bool>(&format!("((users.username_key{bytes} >= "))
        .bind::<Text, _>(key)
        .sql(&format!(" AND users.username_key{bytes} < "))
        .bind::<Text, _>(key_end)
        .sql(&format!(") OR (users.username_key IS NULL AND users.username{bytes} >= "))
        .bind::<Text, _>(prefix.to_owned())
        .sql(&format!(" AND users.username{bytes} < "))
        .bind::<Text, _>(name_end)
        .sql(&format!(") OR (users.email_key{bytes} >= "))
        .bind::<Text, _>(address)
        .sql(&format!(" AND users.email_key{bytes} < "))
        .bind::<Text, _>(address_end)
        .sql(&format!(") OR (users.email_key IS NULL AND lower(users.email){bytes} >= lower("))
        .bind::<Text, _>(prefix.to_owned())
        .sql(&format!(") AND lower(users.email){bytes} < lower("))
        .bind::<Text, _>(prefix.to_owned())
        .sql(") || ")
        .bind::<Text, _>(PREFIX_END)
        .sql("))");
    Box::new(range)
}

/// The backend of [`super::AnyConnection`].
type Backend = <super::AnyConnection as Connection>::Backend;

/// Moves user `id`'s revoked-before cut-off to `at`, unless it is already later: an earlier `at` (a slower
/// instance, a clock behind) must not bring back what a later one ended. Returns the rows moved.
fn cut_off(conn: &mut super::AnyConnection, id: &str, at: UnixTime) -> StoreResult<usize> {
    let earlier = users::revoked_before.is_null().or(users::revoked_before.lt(at));
    Ok(diesel::update(users::table.find(id).filter(earlier)).set(users::revoked_before.eq(at)).execute(conn)?)
}

#[async_trait]
impl UserStore for DieselStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let key = user.username.folded();
        let (row, keep) = (row_from_new_user(user), self.kept_passwords());
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    let (id, hash) = (row.id.clone(), row.password_hash.clone());
                    let user = insert_user(c, row, &key)?;
                    password_history::record(c, &id, &hash, keep, user.created_at)?;
                    Ok(user)
                })
            })
            .await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        let id = id.as_str().to_owned();
        self.db().run(move |c| load_user(c, &id)).await
    }

    async fn user_by_username(&self, username: &Username) -> StoreResult<Option<(User, String)>> {
        let username = username.clone();
        self.db().run(move |c| find_by_username(c, &username)).await
    }

    async fn list_users(&self, filter: &UserFilter, after: Option<&Username>, limit: i64) -> StoreResult<Vec<User>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let filter = filter.clone();
        let after = after.map(|u| u.as_str().to_owned());
        self.db()
            .run(move |c| {
                let mut query =
                    users::table.select(UserRow::as_select()).order(users::username.asc()).limit(limit).into_boxed();
                if let Some(name) = &filter.username {
                    // The one user a sign-in by that name finds (exact name first), as one more indexed read.
                    let Some((user, _)) = find_by_username(c, name)? else {
                        return Ok(Vec::new());
                    };
                    query = query.filter(users::id.eq(String::from(user.id)));
                }
                if let Some(email) = filter.email {
                    query = query.filter(email_is(&email));
                }
                if let Some(prefix) = filter.prefix {
                    query = query.filter(begins_with(c, &prefix));
                }
                if let Some(after) = after {
                    query = query.filter(users::username.gt(after));
                }
                query.load(c)?.into_iter().map(|row| user_from_row(row).map(|(user, _)| user)).collect()
            })
            .await
    }

    async fn set_user_disabled(&self, username: &Username, disabled: bool, now: UnixTime) -> StoreResult<User> {
        let username = username.clone();
        self.db()
            .write(move |c| {
                // Found before the transaction, which then starts with its write (SQLite takes the lock at once).
                let id = id_by_username(c, &username)?;
                c.transaction(|c| {
                    let changed = diesel::update(users::table.find(&id))
                        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
                        .execute(c)?;
                    if disabled && changed > 0 {
                        cut_off(c, &id, now)?;
                    }
                    read_after_update(c, changed, &id)
                })
            })
            .await
    }

    async fn set_password_hash(
        &self,
        username: &Username,
        hash: String,
        temporary: bool,
        now: UnixTime,
    ) -> StoreResult<User> {
        let (username, keep) = (username.clone(), self.kept_passwords());
        self.db()
            .write(move |c| {
                let id = id_by_username(c, &username)?;
                c.transaction(|c| {
                    let set = (
                        users::password_hash.eq(&hash),
                        users::password_change_required.eq(temporary),
                        users::updated_at.eq(now),
                    );
                    let changed = diesel::update(users::table.find(&id)).set(set).execute(c)?;
                    if changed > 0 {
                        password_history::record(c, &id, &hash, keep, now)?;
                    }
                    read_after_update(c, changed, &id)
                })
            })
            .await
    }

    async fn upgrade_password_hash(&self, id: &UserId, checked: &str, hash: String) -> StoreResult<bool> {
        let (id, checked) = (id.as_str().to_owned(), checked.to_owned());
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    // One statement compares and sets: a change committed since the check makes it match no row.
                    let row = users::table.find(&id).filter(users::password_hash.eq(&checked));
                    let upgraded = diesel::update(row).set(users::password_hash.eq(&hash)).execute(c)? > 0;
                    if upgraded {
                        password_history::rehashed(c, &id, &checked, &hash)?;
                    }
                    Ok(upgraded)
                })
            })
            .await
    }

    async fn change_password_hash(&self, id: &UserId, checked: &str, hash: String, now: UnixTime) -> StoreResult<bool> {
        let (id, checked, keep) = (id.as_str().to_owned(), checked.to_owned(), self.kept_passwords());
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    // As `upgrade_password_hash`: a change committed since the check makes it match no row.
                    let row = users::table.find(&id).filter(users::password_hash.eq(&checked));
                    // The user chose this password: it is temporary no more.
                    let set = (
                        users::password_hash.eq(&hash),
                        users::password_change_required.eq(false),
                        users::updated_at.eq(now),
                    );
                    let changed = diesel::update(row).set(set).execute(c)? > 0;
                    if changed {
                        password_history::record(c, &id, &hash, keep, now)?;
                    }
                    Ok(changed)
                })
            })
            .await
    }

    async fn mark_email_verified(&self, id: &UserId, email: &str, now: UnixTime) -> StoreResult<bool> {
        let (id, email) = (id.as_str().to_owned(), email.to_owned());
        self.db()
            .write(move |c| {
                // An address changed since the link was made matches no row.
                let row = users::table.find(&id).filter(users::email.eq(&email));
                let set = (users::email_verified.eq(true), users::updated_at.eq(now));
                Ok(diesel::update(row).set(set).execute(c)? > 0)
            })
            .await
    }

    async fn set_user_revoked_before(&self, id: &UserId, at: UnixTime) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.db()
            .write(move |c| {
                // updated_at is left alone: it tracks changes to the profile, and `at` is a cut-off, not a clock.
                let moved = cut_off(c, &id, at)?;
                if moved == 0 && !diesel::select(diesel::dsl::exists(users::table.find(&id))).get_result(c)? {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn update_user(&self, id: &UserId, update: UserUpdate, now: UnixTime) -> StoreResult<User> {
        let (id, keep) = (id.as_str().to_owned(), self.kept_passwords());
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    let current = users::table
                        .find(&id)
                        .select(UserRow::as_select())
                        .first(c)
                        .optional()?
                        .ok_or(StoreError::NotFound)?;
                    if update.is_empty() {
                        return user_from_row(current).map(|(user, _)| user);
                    }
                    let email_changed = update.email.as_ref().is_some_and(|e| *e != current.email);
                    let has_email = update.email.as_ref().unwrap_or(&current.email).is_some();
                    let email_verified = match update.email_verified {
                        Some(verified) => Some(verified && has_email),
                        None => email_changed.then_some(false),
                    };
                    let changes = UserChanges {
                        email: update.email,
                        email_verified,
                        name: update.name,
                        disabled: update.disabled,
                        password_hash: update.password_hash,
                        password_change_required: update.password_change_required,
                        updated_at: now,
                    };
                    let disabling = changes.disabled == Some(true);
                    let new_email_key =
                        email_changed.then(|| changes.email.clone().flatten().as_deref().map(email_key));
                    diesel::update(users::table.find(&id)).set(&changes).execute(c)?;
                    if let Some(key) = new_email_key {
                        // After the address: its change cleared the key (the trigger `users_email_changed`).
                        diesel::update(users::table.find(&id)).set(users::email_key.eq(key)).execute(c)?;
                    }
                    if let Some(hash) = &changes.password_hash {
                        password_history::record(c, &id, hash, keep, now)?;
                    }
                    if disabling {
                        cut_off(c, &id, now)?;
                    }
                    users::table
                        .find(&id)
                        .select(UserRow::as_select())
                        .first(c)
                        .optional()?
                        .ok_or(StoreError::NotFound)
                        .and_then(|row| user_from_row(row).map(|(user, _)| user))
                })
            })
            .await
    }

    async fn password_history(&self, id: &UserId, limit: usize) -> StoreResult<Vec<String>> {
        let id = id.as_str().to_owned();
        self.db().run(move |c| password_history::newest(c, &id, limit)).await
    }

    async fn delete_user(&self, id: &UserId) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.db()
            .write(move |c| {
                let deleted = diesel::delete(users::table.find(&id)).execute(c)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "users_email_tests.rs"]
mod email_tests;
