//! The `passkeys` table: [`PasskeyStore`] for [`DieselStore`].
use super::federation::{has_another_way_in, lock_user, Leaving};
use super::schema::passkeys;
use super::DieselStore;
use crate::domain::passkey::StoredPasskey;
use crate::domain::password::NO_PASSWORD;
use crate::domain::{UnixTime, UserId};
use crate::storage::{PasskeyRemoval, PasskeyStore, StoreError, StoreResult, WaysIn};
use async_trait::async_trait;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
struct PasskeyRow {
    id: String,
    user_id: String,
    credential_id: String,
    credential: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<&StoredPasskey> for PasskeyRow {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.clone(),
            user_id: p.user_id.as_str().to_owned(),
            credential_id: p.credential_id.clone(),
            credential: p.credential.clone(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

fn passkey_from_row(row: PasskeyRow) -> StoreResult<StoredPasskey> {
    let user_id = UserId::parse(row.user_id.as_str())
        .map_err(|e| StoreError::Backend(format!("passkeys row: invalid user id: {e}")))?;
    Ok(StoredPasskey {
        id: row.id,
        user_id,
        credential_id: row.credential_id,
        credential: row.credential,
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    })
}

#[async_trait]
impl PasskeyStore for DieselStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()> {
        let row = PasskeyRow::from(passkey);
        self.db()
            .write(move |c| {
                diesel::insert_into(passkeys::table).values(&row).execute(c).map_err(|e| {
                    match StoreError::from(e) {
                        // The only other unique key is our random id.
                        StoreError::Conflict(_) => StoreError::Conflict("credential".into()),
                        other => other,
                    }
                })?;
                Ok(())
            })
            .await
    }

    async fn passkeys_of(&self, user_id: &UserId) -> StoreResult<Vec<StoredPasskey>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                let rows: Vec<PasskeyRow> = passkeys::table
                    .filter(passkeys::user_id.eq(&user_id))
                    .order((passkeys::created_at.asc(), passkeys::id.asc()))
                    .select(PasskeyRow::as_select())
                    .load(c)?;
                rows.into_iter().map(passkey_from_row).collect()
            })
            .await
    }

    async fn passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<StoredPasskey>> {
        let credential_id = credential_id.to_owned();
        self.db()
            .run(move |c| {
                let row: Option<PasskeyRow> = passkeys::table
                    .filter(passkeys::credential_id.eq(&credential_id))
                    .select(PasskeyRow::as_select())
                    .first(c)
                    .optional()?;
                row.map(passkey_from_row).transpose()
            })
            .await
    }

    async fn record_passkey_use(&self, id: &str, read: &str, credential: &str, now: UnixTime) -> StoreResult<bool> {
        let (id, read, credential) = (id.to_owned(), read.to_owned(), credential.to_owned());
        self.db()
            .write(move |c| {
                let changed = diesel::update(passkeys::table.find(&id).filter(passkeys::credential.eq(&read)))
                    .set((passkeys::credential.eq(&credential), passkeys::last_used_at.eq(Some(now))))
                    .execute(c)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn remove_passkey(
        &self,
        user_id: &UserId,
        id: &str,
        keep_a_way_in: Option<&WaysIn>,
    ) -> StoreResult<PasskeyRemoval> {
        let (user_id, id) = (user_id.as_str().to_owned(), id.to_owned());
        let ways_in = keep_a_way_in.cloned();
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    if let Some(ways_in) = &ways_in {
                        let Some(password) = lock_user(c, &user_id)? else { return Ok(PasskeyRemoval::NotFound) };
                        // A passkey is a way in only while passkeys sign in: else removing it takes none away.
                        let checked = password == NO_PASSWORD && ways_in.passkeys;
                        if checked && !has_another_way_in(c, &user_id, ways_in, Leaving::Passkey(&id))? {
                            let mine = passkeys::table.filter(passkeys::user_id.eq(&user_id));
                            let here: i64 = mine.filter(passkeys::id.eq(&id)).count().get_result(c)?;
                            return Ok(if here == 0 { PasskeyRemoval::NotFound } else { PasskeyRemoval::LastWayIn });
                        }
                    }
                    let mine = passkeys::table.filter(passkeys::id.eq(&id)).filter(passkeys::user_id.eq(&user_id));
                    let Some(row) = mine.select(PasskeyRow::as_select()).first(c).optional()? else {
                        return Ok(PasskeyRemoval::NotFound);
                    };
                    diesel::delete(mine).execute(c)?;
                    passkey_from_row(row).map(PasskeyRemoval::Removed)
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
    use crate::domain::{FederatedIdentity, NewUser, Username};
    use crate::storage::{IdentityStore, Unlinked, UserStore};

    fn passkey(id: &str, user_id: &UserId, credential_id: &str, created_at: UnixTime) -> StoredPasskey {
        StoredPasskey {
            id: id.into(),
            user_id: user_id.clone(),
            credential_id: credential_id.into(),
            credential: format!("{{\"cred\":\"{credential_id}\"}}"),
            name: format!("key {id}"),
            created_at,
            last_used_at: None,
        }
    }

    async fn passkeys_are_found_by_credential_and_removed_by_their_user(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let bob = t.add_user("bob").await;
        let (a2, a1) = (passkey("a2", &alice, "cred-a2", 20), passkey("a1", &alice, "cred-a1", 10));
        t.store.add_passkey(&a2).await.unwrap();
        t.store.add_passkey(&a1).await.unwrap();
        t.store.add_passkey(&passkey("b1", &bob, "cred-b1", 5)).await.unwrap();
        assert_eq!(t.store.passkeys_of(&alice).await.unwrap(), vec![a1.clone(), a2.clone()], "oldest first");

        // A credential id is one passkey's, whoever adds it again.
        let again = t.store.add_passkey(&passkey("b2", &bob, "cred-a1", 30)).await;
        assert!(matches!(again, Err(StoreError::Conflict(ref what)) if what == "credential"), "{again:?}");
        let gone = t.store.add_passkey(&passkey("x", &UserId::generate(), "cred-x", 30)).await;
        assert!(matches!(gone, Err(StoreError::ReferenceGone(_))), "{gone:?}");

        assert_eq!(t.store.passkey_by_credential("cred-a2").await.unwrap(), Some(a2.clone()));
        assert_eq!(t.store.passkey_by_credential("cred-none").await.unwrap(), None);

        assert!(t.store.record_passkey_use("a2", &a2.credential, "{\"counter\":2}", 99).await.unwrap());
        let used = t.store.passkey_by_credential("cred-a2").await.unwrap().unwrap();
        assert_eq!((used.credential.as_str(), used.last_used_at), ("{\"counter\":2}", Some(99)));
        // Another sign-in that read it before that one wrote records nothing: its counter was not checked
        // against the one stored now.
        assert!(!t.store.record_passkey_use("a2", &a2.credential, "{\"counter\":3}", 100).await.unwrap());
        assert_eq!(t.store.passkey_by_credential("cred-a2").await.unwrap().unwrap(), used);
        assert!(!t.store.record_passkey_use("none", "{}", "{}", 99).await.unwrap());

        // Only its own user removes a passkey.
        assert_eq!(t.store.remove_passkey(&bob, "a1", None).await.unwrap(), PasskeyRemoval::NotFound);
        assert_eq!(t.store.remove_passkey(&alice, "a1", None).await.unwrap(), PasskeyRemoval::Removed(a1));
        let again = t.store.remove_passkey(&alice, "a1", None).await.unwrap();
        assert_eq!(again, PasskeyRemoval::NotFound, "removed already");
        assert_eq!(t.store.passkey_by_credential("cred-a1").await.unwrap(), None);

        // A removed user's passkeys go with them.
        t.store.delete_user(&bob).await.unwrap();
        assert_eq!(t.store.passkey_by_credential("cred-b1").await.unwrap(), None);
    }

    async fn the_last_passkey_of_an_account_without_a_password_stays(backend: Backend) {
        let t = TestDb::new(backend).await;
        let carol = UserId::generate();
        let new = NewUser {
            id: carol.clone(),
            username: Username::parse("carol").unwrap(),
            password_hash: NO_PASSWORD.into(),
            email: None,
            email_verified: false,
            name: None,
            password_change_required: false,
            created_at: 1,
        };
        t.store.create_user(new).await.unwrap();
        let (c1, c2) = (passkey("c1", &carol, "cred-c1", 10), passkey("c2", &carol, "cred-c2", 20));
        t.store.add_passkey(&c1).await.unwrap();
        t.store.add_passkey(&c2).await.unwrap();
        let ways = WaysIn { providers: vec!["corp".into()], passkeys: true };
        let remove = |id: &'static str, keep| t.store.remove_passkey(&carol, id, keep);
        assert_eq!(remove("c1", Some(&ways)).await.unwrap(), PasskeyRemoval::Removed(c1), "another one stays");
        assert_eq!(remove("c2", Some(&ways)).await.unwrap(), PasskeyRemoval::LastWayIn, "no password, no link");
        assert_eq!(remove("c9", Some(&ways)).await.unwrap(), PasskeyRemoval::NotFound);
        // A link at a provider no longer configured signs nobody in; one at a configured provider does.
        let link = |provider: &str| FederatedIdentity {
            provider_id: provider.into(),
            subject: "c".into(),
            user_id: carol.clone(),
            created_at: 1,
            last_used_at: 1,
        };
        t.store.link_identity(&link("gone")).await.unwrap();
        assert_eq!(remove("c2", Some(&ways)).await.unwrap(), PasskeyRemoval::LastWayIn);
        // While passkeys sign nobody in (an issuer named by an address), removing one takes no way in away.
        let off = WaysIn { passkeys: false, ..ways.clone() };
        t.store.add_passkey(&passkey("c3", &carol, "cred-c3", 30)).await.unwrap();
        assert!(matches!(remove("c3", Some(&off)).await.unwrap(), PasskeyRemoval::Removed(_)));
        t.store.link_identity(&link("corp")).await.unwrap();
        assert_eq!(remove("c2", Some(&ways)).await.unwrap(), PasskeyRemoval::Removed(c2));
        // The link is now the last way in: a passkey counts as one, so it could go only while one was there.
        t.store.add_passkey(&passkey("c4", &carol, "cred-c4", 40)).await.unwrap();
        assert_eq!(t.store.unlink_identity(&carol, "corp", Some(&ways)).await.unwrap(), Unlinked::Removed);
        assert_eq!(remove("c4", Some(&ways)).await.unwrap(), PasskeyRemoval::LastWayIn);
        assert!(matches!(remove("c4", None).await.unwrap(), PasskeyRemoval::Removed(_)), "an operator may");
    }

    both_backends!(
        passkeys_are_found_by_credential_and_removed_by_their_user,
        the_last_passkey_of_an_account_without_a_password_stays
    );
}
