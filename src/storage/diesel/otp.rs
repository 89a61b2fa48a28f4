//! The `user_otp` table: [`OtpStore`] for [`DieselStore`].
use super::schema::{otp_recovery_codes, user_otp};
use super::DieselStore;
use crate::domain::UserId;
use crate::storage::{OtpStore, StoreError, StoreResult, StoredOtp};
use async_trait::async_trait;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_otp)]
struct OtpRow {
    user_id: String,
    secret_sealed: Vec<u8>,
    last_step: i64,
    enabled_at: i64,
}

#[async_trait]
impl OtpStore for DieselStore {
    async fn otp(&self, user_id: &UserId) -> StoreResult<Option<StoredOtp>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                let row: Option<OtpRow> =
                    user_otp::table.find(&user_id).select(OtpRow::as_select()).first(c).optional()?;
                Ok(row.map(|r| StoredOtp {
                    secret_sealed: r.secret_sealed,
                    last_step: r.last_step,
                    enabled_at: r.enabled_at,
                }))
            })
            .await
    }

    async fn enable_otp(&self, user_id: &UserId, otp: &StoredOtp, recovery_hashes: &[String]) -> StoreResult<bool> {
        let row = OtpRow {
            user_id: user_id.as_str().to_owned(),
            secret_sealed: otp.secret_sealed.clone(),
            last_step: otp.last_step,
            enabled_at: otp.enabled_at,
        };
        let codes: Vec<_> = recovery_hashes
            .iter()
            .map(|h| (otp_recovery_codes::user_id.eq(row.user_id.clone()), otp_recovery_codes::code_hash.eq(h.clone())))
            .collect();
        let written = self
            .db()
            .write(move |c| {
                c.transaction(|c| {
                    let on: i64 = user_otp::table.filter(user_otp::user_id.eq(&row.user_id)).count().get_result(c)?;
                    if on > 0 {
                        return Ok::<_, StoreError>(false);
                    }
                    // On Postgres a set-up committing meanwhile makes this insert fail (the user's key is taken):
                    // that is "on already" too, below.
                    diesel::insert_into(user_otp::table).values(&row).execute(c)?;
                    diesel::delete(otp_recovery_codes::table.filter(otp_recovery_codes::user_id.eq(&row.user_id)))
                        .execute(c)?;
                    for code in &codes {
                        diesel::insert_into(otp_recovery_codes::table).values(code.clone()).execute(c)?;
                    }
                    Ok(true)
                })
            })
            .await;
        match written {
            Err(StoreError::Conflict(_)) => Ok(false),
            other => other,
        }
    }

    async fn renew_recovery_codes(&self, user_id: &UserId, recovery_hashes: &[String]) -> StoreResult<bool> {
        let user_id = user_id.as_str().to_owned();
        let hashes = recovery_hashes.to_vec();
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    // A write to the user's TOTP row, not a read: it locks the row (Postgres), so a turn-off
                    // meanwhile waits for this transaction and removes the new codes with the old.
                    let on = diesel::update(user_otp::table.find(&user_id))
                        .set(user_otp::last_step.eq(user_otp::last_step))
                        .execute(c)?;
                    if on == 0 {
                        return Ok::<_, StoreError>(false);
                    }
                    diesel::delete(otp_recovery_codes::table.filter(otp_recovery_codes::user_id.eq(&user_id)))
                        .execute(c)?;
                    for h in &hashes {
                        diesel::insert_into(otp_recovery_codes::table)
                            .values((otp_recovery_codes::user_id.eq(&user_id), otp_recovery_codes::code_hash.eq(h)))
                            .execute(c)?;
                    }
                    Ok(true)
                })
            })
            .await
    }

    async fn accept_otp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .write(move |c| {
                let changed = diesel::update(
                    user_otp::table.filter(user_otp::user_id.eq(&user_id)).filter(user_otp::last_step.lt(step)),
                )
                .set(user_otp::last_step.eq(step))
                .execute(c)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn use_recovery_code(&self, user_id: &UserId, code_hash: &str) -> StoreResult<bool> {
        let (user_id, code_hash) = (user_id.as_str().to_owned(), code_hash.to_owned());
        self.db()
            .write(move |c| Ok(diesel::delete(otp_recovery_codes::table.find((&user_id, &code_hash))).execute(c)? == 1))
            .await
    }

    async fn disable_otp(&self, user_id: &UserId) -> StoreResult<bool> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    diesel::delete(otp_recovery_codes::table.filter(otp_recovery_codes::user_id.eq(&user_id)))
                        .execute(c)?;
                    Ok::<_, StoreError>(diesel::delete(user_otp::table.find(&user_id)).execute(c)? == 1)
                })
            })
            .await
    }

    async fn users_with_otp(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = user_ids.iter().map(|u| u.as_str().to_owned()).collect();
        self.db()
            .run(move |c| {
                let found: Vec<String> =
                    user_otp::table.filter(user_otp::user_id.eq_any(&ids)).select(user_otp::user_id).load(c)?;
                found
                    .into_iter()
                    .map(|id| UserId::parse(id.as_str()).map_err(|e| StoreError::Backend(format!("user_otp row: {e}"))))
                    .collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::storage::UserStore;

    fn otp(last_step: i64) -> StoredOtp {
        StoredOtp { secret_sealed: vec![1, 2, 3], last_step, enabled_at: 1_700_000_000 }
    }

    async fn a_step_is_accepted_once_and_only_after_the_last(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let bob = t.add_user("bob").await;
        assert!(t.store.otp(&alice).await.unwrap().is_none());
        assert!(!t.store.accept_otp_step(&alice, 10).await.unwrap(), "not turned on");
        assert!(t.store.enable_otp(&alice, &otp(5), &["h1".into(), "h2".into()]).await.unwrap());
        assert_eq!(t.store.otp(&alice).await.unwrap(), Some(otp(5)));
        assert!(t.store.accept_otp_step(&alice, 6).await.unwrap());
        assert!(!t.store.accept_otp_step(&alice, 6).await.unwrap(), "the same step twice");
        assert!(!t.store.accept_otp_step(&alice, 4).await.unwrap(), "an earlier step");
        assert_eq!(t.store.otp(&alice).await.unwrap().unwrap().last_step, 6);
        assert!(t.store.use_recovery_code(&alice, "h1").await.unwrap());
        assert!(!t.store.use_recovery_code(&alice, "h1").await.unwrap(), "a recovery code works once");
        assert!(!t.store.use_recovery_code(&bob, "h2").await.unwrap(), "another user's");
        // Regression: enabling again replaced the secret, so a set-up confirmed at the same time as another
        // replaced the secret just turned on. It changes nothing now.
        let again = StoredOtp { secret_sealed: vec![9], ..otp(1) };
        assert!(!t.store.enable_otp(&alice, &again, &["h3".into()]).await.unwrap(), "on already");
        assert!(t.store.use_recovery_code(&alice, "h2").await.unwrap(), "the codes stay");
        assert!(!t.store.use_recovery_code(&alice, "h3").await.unwrap(), "none added");
        assert_eq!(t.store.otp(&alice).await.unwrap().unwrap().secret_sealed, otp(5).secret_sealed);
        assert!(t.store.renew_recovery_codes(&alice, &["h3".into()]).await.unwrap());
        // New recovery codes replace the earlier ones, and only while TOTP is on.
        assert!(t.store.renew_recovery_codes(&alice, &["h4".into(), "h5".into()]).await.unwrap());
        assert!(!t.store.use_recovery_code(&alice, "h3").await.unwrap(), "replaced");
        assert!(t.store.use_recovery_code(&alice, "h4").await.unwrap());
        assert!(!t.store.renew_recovery_codes(&bob, &["h6".into()]).await.unwrap(), "bob has no TOTP");
        assert!(!t.store.use_recovery_code(&bob, "h6").await.unwrap(), "none stored");
        assert_eq!(t.store.users_with_otp(&[alice.clone(), bob.clone()]).await.unwrap(), vec![alice.clone()]);
        assert!(t.store.disable_otp(&alice).await.unwrap());
        assert!(!t.store.use_recovery_code(&alice, "h5").await.unwrap(), "gone with it");
        assert!(!t.store.disable_otp(&alice).await.unwrap(), "off already");
        assert!(t.store.otp(&alice).await.unwrap().is_none());
        // A removed user's secret goes with them; an unknown user gets none.
        t.store.enable_otp(&bob, &otp(1), &[]).await.unwrap();
        t.store.delete_user(&bob).await.unwrap();
        assert!(t.store.users_with_otp(&[bob]).await.unwrap().is_empty());
        let gone = UserId::generate();
        assert!(matches!(t.store.enable_otp(&gone, &otp(1), &[]).await, Err(StoreError::ReferenceGone(_))));
    }

    /// Two set-ups confirmed at once: one turns TOTP on, and the other changes nothing (on Postgres it may lose
    /// on the user's key rather than see the row).
    async fn of_two_set_ups_at_once_one_turns_it_on(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let (a, b) = (StoredOtp { secret_sealed: vec![1], ..otp(1) }, StoredOtp { secret_sealed: vec![2], ..otp(1) });
        let (codes_a, codes_b) = (["ha".to_owned()], ["hb".to_owned()]);
        let (first, second) =
            tokio::join!(t.store.enable_otp(&alice, &a, &codes_a), t.store.enable_otp(&alice, &b, &codes_b));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first != second, "exactly one: {first} {second}");
        let (winner, code) = if first { (a, "ha") } else { (b, "hb") };
        assert_eq!(t.store.otp(&alice).await.unwrap().unwrap().secret_sealed, winner.secret_sealed);
        assert!(t.store.use_recovery_code(&alice, code).await.unwrap());
    }

    both_backends!(a_step_is_accepted_once_and_only_after_the_last, of_two_set_ups_at_once_one_turns_it_on);
}
