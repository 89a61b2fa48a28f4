//! `password_history`: the hashes of each user's last passwords (`passwords.history`), written in the
//! transaction that sets a password, whatever sets it ([`record`]), and read by the check of a new one.
use super::schema::password_history as history;
use super::AnyConnection;
use crate::domain::password::NO_PASSWORD;
use crate::domain::UnixTime;
use crate::storage::StoreResult;
use diesel::dsl::max;
use diesel::prelude::*;

/// Records `hash` as user `user_id`'s newest password and keeps only their newest `keep` (none when 0: a history
/// turned off forgets what it held). Runs after the write of `users.password_hash`, in its transaction: that
/// write locks the user's row, so two records for one user cannot take the same `seq`. A user without a password
/// ([`NO_PASSWORD`]) has nothing to record.
pub(super) fn record(c: &mut AnyConnection, user_id: &str, hash: &str, keep: usize, now: UnixTime) -> StoreResult<()> {
    let mine = history::user_id.eq(user_id);
    if keep == 0 {
        diesel::delete(history::table.filter(mine)).execute(c)?;
        return Ok(());
    }
    if hash == NO_PASSWORD {
        return Ok(());
    }
    let last: Option<i64> = history::table.filter(mine).select(max(history::seq)).first(c)?;
    let seq = last.unwrap_or(0) + 1;
    let row = (
        history::user_id.eq(user_id),
        history::seq.eq(seq),
        history::password_hash.eq(hash),
        history::created_at.eq(now),
    );
    diesel::insert_into(history::table).values(row).execute(c)?;
    let oldest_kept = seq - i64::try_from(keep).unwrap_or(i64::MAX) + 1;
    diesel::delete(history::table.filter(history::user_id.eq(user_id)).filter(history::seq.lt(oldest_kept)))
        .execute(c)?;
    Ok(())
}

/// Replaces `checked` by `hash`, a new hash of the same password (a rehash at sign-in), in the user's history:
/// the password is the same one, so no entry is added, and the entry keeps matching the stored hash.
pub(super) fn rehashed(c: &mut AnyConnection, user_id: &str, checked: &str, hash: &str) -> StoreResult<()> {
    let row = history::table.filter(history::user_id.eq(user_id)).filter(history::password_hash.eq(checked));
    diesel::update(row).set(history::password_hash.eq(hash)).execute(c)?;
    Ok(())
}

/// The hashes of user `user_id`'s last `limit` recorded passwords, newest first.
pub(super) fn newest(c: &mut AnyConnection, user_id: &str, limit: usize) -> StoreResult<Vec<String>> {
    Ok(history::table
        .filter(history::user_id.eq(user_id))
        .order(history::seq.desc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(history::password_hash)
        .load(c)?)
}

#[cfg(test)]
#[path = "password_history_tests.rs"]
mod tests;
