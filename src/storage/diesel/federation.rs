//! The `federated_identities` table: [`IdentityStore`] for [`DieselStore`].
use super::schema::{federated_identities, passkeys, users};
use super::users::{email_is, insert_user, load_user, row_from_new_user, user_from_row, UserRow};
use super::DieselStore;
use crate::domain::password::NO_PASSWORD;
use crate::domain::{FederatedIdentity, NewUser, UnixTime, User, UserId};
use crate::storage::{IdentityStore, StoreError, StoreResult, Unlinked, WaysIn};
use async_trait::async_trait;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = federated_identities)]
struct IdentityRow {
    provider_id: String,
    subject: String,
    user_id: String,
    created_at: i64,
    last_used_at: i64,
}

impl From<&FederatedIdentity> for IdentityRow {
    fn from(i: &FederatedIdentity) -> Self {
        Self {
            provider_id: i.provider_id.clone(),
            subject: i.subject.clone(),
            user_id: i.user_id.as_str().to_owned(),
            created_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
}

fn identity_from_row(row: IdentityRow) -> StoreResult<FederatedIdentity> {
    let user_id = UserId::parse(row.user_id.as_str())
        .map_err(|e| StoreError::Backend(format!("federated_identities row: invalid user id: {e}")))?;
    Ok(FederatedIdentity {
        provider_id: row.provider_id,
        subject: row.subject,
        user_id,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    })
}

fn insert_identity(c: &mut super::AnyConnection, identity: &IdentityRow) -> StoreResult<()> {
    diesel::insert_into(federated_identities::table).values(identity).execute(c).map_err(
        |e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("identity".into()),
            other => other,
        },
    )?;
    Ok(())
}

#[async_trait]
impl IdentityStore for DieselStore {
    async fn linked_user(&self, provider_id: &str, subject: &str, now: UnixTime) -> StoreResult<Option<User>> {
        let (provider_id, subject) = (provider_id.to_owned(), subject.to_owned());
        self.db()
            .write(move |c| {
                let key = (&provider_id, &subject);
                let user_id: Option<String> =
                    federated_identities::table.find(key).select(federated_identities::user_id).first(c).optional()?;
                if user_id.is_some() {
                    diesel::update(federated_identities::table.find(key))
                        .set(federated_identities::last_used_at.eq(now))
                        .execute(c)?;
                }
                match user_id {
                    Some(id) => load_user(c, &id),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn users_with_email(&self, email: &str, limit: i64) -> StoreResult<Vec<User>> {
        let email = email.to_owned();
        self.db()
            .run(move |c| {
                users::table
                    .select(UserRow::as_select())
                    .filter(email_is(&email))
                    .order(users::username.asc())
                    .limit(limit)
                    .load(c)?
                    .into_iter()
                    .map(|row| user_from_row(row).map(|(user, _)| user))
                    .collect()
            })
            .await
    }

    async fn link_identity(&self, identity: &FederatedIdentity) -> StoreResult<()> {
        let row = IdentityRow::from(identity);
        self.db().write(move |c| insert_identity(c, &row)).await
    }

    async fn create_federated_user(&self, user: NewUser, identity: &FederatedIdentity) -> StoreResult<User> {
        let key = user.username.folded();
        let row = row_from_new_user(user);
        let link = IdentityRow::from(identity);
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    let user = insert_user(c, row, &key)?;
                    insert_identity(c, &link)?;
                    Ok(user)
                })
            })
            .await
    }

    async fn identities_of(&self, user_id: &UserId) -> StoreResult<Vec<FederatedIdentity>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                federated_identities::table
                    .filter(federated_identities::user_id.eq(user_id))
                    .select(IdentityRow::as_select())
                    .order((federated_identities::provider_id.asc(), federated_identities::subject.asc()))
                    .load(c)?
                    .into_iter()
                    .map(identity_from_row)
                    .collect()
            })
            .await
    }

    async fn unlink_identity(
        &self,
        user_id: &UserId,
        provider_id: &str,
        keep_a_way_in: Option<&WaysIn>,
    ) -> StoreResult<Unlinked> {
        let (user_id, provider_id) = (user_id.as_str().to_owned(), provider_id.to_owned());
        let ways_in = keep_a_way_in.cloned();
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    let Some(password) = lock_user(c, &user_id)? else { return Ok(Unlinked::NotLinked) };
                    let mine = federated_identities::table.filter(federated_identities::user_id.eq(&user_id));
                    let here: i64 =
                        mine.filter(federated_identities::provider_id.eq(&provider_id)).count().get_result(c)?;
                    if here == 0 {
                        return Ok(Unlinked::NotLinked);
                    }
                    if let Some(ways_in) = ways_in.filter(|_| password == NO_PASSWORD) {
                        if !has_another_way_in(c, &user_id, &ways_in, Leaving::Provider(&provider_id))? {
                            return Ok(Unlinked::LastWayIn);
                        }
                    }
                    diesel::delete(mine.filter(federated_identities::provider_id.eq(&provider_id))).execute(c)?;
                    Ok(Unlinked::Removed)
                })
            })
            .await
    }
}

/// In a transaction: the password hash of `user_id`, `None` when the user is gone, with the user's row locked by a
/// no-op write, so that removals of the same user's ways in take turns on Postgres (SQLite has one writer at a
/// time anyway).
pub(super) fn lock_user(c: &mut super::AnyConnection, user_id: &str) -> StoreResult<Option<String>> {
    diesel::update(users::table.find(user_id)).set(users::id.eq(user_id)).execute(c)?;
    Ok(users::table.find(user_id).select(users::password_hash).first(c).optional()?)
}

/// The way in a removal takes away.
pub(super) enum Leaving<'a> {
    /// The links at this provider.
    Provider(&'a str),
    /// The passkey with this id.
    Passkey(&'a str),
}

/// Whether `user_id` keeps one of the `ways_in` other than `leaving`: a link at another configured provider, or,
/// while passkeys sign in, another passkey. The password is the caller's to check.
pub(super) fn has_another_way_in(
    c: &mut super::AnyConnection,
    user_id: &str,
    ways_in: &WaysIn,
    leaving: Leaving<'_>,
) -> StoreResult<bool> {
    let mut links = federated_identities::table
        .filter(federated_identities::user_id.eq(user_id))
        .filter(federated_identities::provider_id.eq_any(&ways_in.providers))
        .into_boxed();
    if let Leaving::Provider(provider) = leaving {
        links = links.filter(federated_identities::provider_id.ne(provider));
    }
    if links.count().get_result::<i64>(c)? > 0 {
        return Ok(true);
    }
    if !ways_in.passkeys {
        return Ok(false);
    }
    let mut keys = passkeys::table.filter(passkeys::user_id.eq(user_id)).into_boxed();
    if let Leaving::Passkey(id) = leaving {
        keys = keys.filter(passkeys::id.ne(id));
    }
    Ok(keys.count().get_result::<i64>(c)? > 0)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::domain::passkey::StoredPasskey;
    use crate::domain::Username;
    use crate::storage::{PasskeyStore, UserStore};

    fn link(user_id: &UserId, subject: &str) -> FederatedIdentity {
        FederatedIdentity {
            provider_id: "corp".into(),
            subject: subject.into(),
            user_id: user_id.clone(),
            created_at: 1_700_000_000,
            last_used_at: 1_700_000_000,
        }
    }

    fn new_user(name: &str, email: &str) -> NewUser {
        NewUser {
            id: UserId::generate(),
            username: Username::parse(name).unwrap(),
            password_hash: "!".into(),
            email: Some(email.into()),
            email_verified: false,
            name: None,
            password_change_required: false,
            created_at: 1_700_000_000,
        }
    }

    async fn links_find_their_user_once_each(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        t.store.link_identity(&link(&alice, "s1")).await.unwrap();
        let found = t.store.linked_user("corp", "s1", 1_700_000_100).await.unwrap().unwrap();
        assert_eq!(found.id, alice);
        let links = t.store.identities_of(&alice).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].last_used_at, 1_700_000_100, "the use is recorded");
        assert!(t.store.linked_user("other", "s1", 1).await.unwrap().is_none(), "subjects are per provider");
        assert!(
            matches!(t.store.link_identity(&link(&alice, "s1")).await, Err(StoreError::Conflict(w)) if w == "identity")
        );
        let gone = UserId::generate();
        assert!(matches!(t.store.link_identity(&link(&gone, "s2")).await, Err(StoreError::ReferenceGone(_))));
        // Deleting the user deletes their links.
        t.store.delete_user(&alice).await.unwrap();
        assert!(t.store.linked_user("corp", "s1", 1).await.unwrap().is_none());
        assert!(t.store.identities_of(&alice).await.unwrap().is_empty());
    }

    async fn a_federated_user_is_created_with_its_link_or_not_at_all(backend: Backend) {
        let t = TestDb::new(backend).await;
        let user = NewUser { email_verified: true, ..new_user("Bob", "Bob@Example.com") };
        let created = t.store.create_federated_user(user.clone(), &link(&user.id, "b")).await.unwrap();
        assert!(created.email_verified);
        assert_eq!(t.store.linked_user("corp", "b", 1).await.unwrap().unwrap().id, user.id);
        // Found by address in any letter case.
        let same = t.store.users_with_email("bob@example.COM", 2).await.unwrap();
        assert_eq!(same.iter().map(|u| &u.id).collect::<Vec<_>>(), [&user.id]);
        // A name taken in another letter case, or a link taken: nothing is created.
        let clash = new_user("BOB", "other@example.com");
        let r = t.store.create_federated_user(clash.clone(), &link(&clash.id, "c")).await;
        assert!(matches!(&r, Err(StoreError::Conflict(w)) if w == "username"), "{r:?}");
        let twice = new_user("robert", "other@example.com");
        let r = t.store.create_federated_user(twice.clone(), &link(&twice.id, "b")).await;
        assert!(matches!(&r, Err(StoreError::Conflict(w)) if w == "identity"), "{r:?}");
        assert!(t.store.user_by_id(&twice.id).await.unwrap().is_none(), "rolled back");
    }

    async fn the_last_way_in_is_kept_unless_told_otherwise(backend: Backend) {
        let t = TestDb::new(backend).await;
        let user = new_user("carol", "carol@example.com");
        t.store.create_federated_user(user.clone(), &link(&user.id, "c")).await.unwrap();
        let ways = WaysIn { providers: vec!["corp".to_owned(), "other".to_owned()], passkeys: true };
        let keep = Some(&ways);
        let unlink = |provider: &'static str, keep| t.store.unlink_identity(&user.id, provider, keep);
        assert_eq!(unlink("corp", keep).await.unwrap(), Unlinked::LastWayIn, "no password, one link");
        assert_eq!(t.store.identities_of(&user.id).await.unwrap().len(), 1, "kept");
        assert_eq!(unlink("other", keep).await.unwrap(), Unlinked::NotLinked);
        // A link at a provider no longer configured is no way in.
        t.store.link_identity(&FederatedIdentity { provider_id: "gone".into(), ..link(&user.id, "c3") }).await.unwrap();
        assert_eq!(unlink("corp", keep).await.unwrap(), Unlinked::LastWayIn, "only a link nobody can use is left");
        // With a link at another configured provider, one may go.
        t.store
            .link_identity(&FederatedIdentity { provider_id: "other".into(), ..link(&user.id, "c2") })
            .await
            .unwrap();
        assert_eq!(unlink("corp", keep).await.unwrap(), Unlinked::Removed);
        assert_eq!(unlink("other", keep).await.unwrap(), Unlinked::LastWayIn);
        // An operator may strand the account.
        assert_eq!(unlink("other", None).await.unwrap(), Unlinked::Removed);
        assert_eq!(unlink("gone", None).await.unwrap(), Unlinked::Removed);
        assert!(t.store.identities_of(&user.id).await.unwrap().is_empty());
        assert_eq!(t.store.unlink_identity(&UserId::generate(), "corp", None).await.unwrap(), Unlinked::NotLinked);
        // With a password, the only link may go.
        let alice = t.add_user("alice").await;
        t.store.link_identity(&link(&alice, "a")).await.unwrap();
        assert_eq!(t.store.unlink_identity(&alice, "corp", keep).await.unwrap(), Unlinked::Removed);
        assert!(t.store.linked_user("corp", "a", 1).await.unwrap().is_none());
    }

    async fn a_passkey_is_a_way_in_while_passkeys_sign_in(backend: Backend) {
        let t = TestDb::new(backend).await;
        let user = new_user("dave", "dave@example.com");
        t.store.create_federated_user(user.clone(), &link(&user.id, "d")).await.unwrap();
        let on = WaysIn { providers: vec!["corp".to_owned()], passkeys: true };
        let off = WaysIn { passkeys: false, ..on.clone() };
        let key = StoredPasskey {
            id: "k1".into(),
            user_id: user.id.clone(),
            credential_id: "cred-k1".into(),
            credential: "{}".into(),
            name: "Laptop".into(),
            created_at: 1,
            last_used_at: None,
        };
        t.store.add_passkey(&key).await.unwrap();
        let unlink = |keep| t.store.unlink_identity(&user.id, "corp", keep);
        assert_eq!(unlink(Some(&off)).await.unwrap(), Unlinked::LastWayIn, "a passkey that cannot sign in");
        assert_eq!(unlink(Some(&on)).await.unwrap(), Unlinked::Removed, "the passkey signs in");
    }

    both_backends!(
        links_find_their_user_once_each,
        a_federated_user_is_created_with_its_link_or_not_at_all,
        the_last_way_in_is_kept_unless_told_otherwise,
        a_passkey_is_a_way_in_while_passkeys_sign_in
    );
}
