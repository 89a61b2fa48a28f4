//! The `users` table: rows <-> [`User`], and [`UserStore`] for [`DieselStore`].

use super::schema::users;
use super::DieselStore;
use crate::domain::{NewUser, UnixTime, User, UserId, Username};
use crate::storage::{StoreError, StoreResult, UserStore};
use async_trait::async_trait;
use diesel::prelude::*;

/// A `users` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
struct UserRow {
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
}

fn row_from_new_user(user: NewUser) -> UserRow {
    UserRow {
        id: user.id.into(),
        username: user.username.as_str().to_owned(),
        password_hash: user.password_hash,
        email: user.email,
        email_verified: false,
        name: user.name,
        disabled: false,
        created_at: user.created_at,
        updated_at: user.created_at,
        revoked_before: None,
    }
}

/// The user and their password hash.
fn user_from_row(row: UserRow) -> StoreResult<(User, String)> {
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
    };
    Ok((user, row.password_hash))
}

fn find_by_username(conn: &mut super::AnyConnection, username: &str) -> StoreResult<Option<(User, String)>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(user_from_row)
        .transpose()
}

/// The user after an update of `changed` rows, read in the same transaction.
fn read_after_update(conn: &mut super::AnyConnection, changed: usize, username: &str) -> StoreResult<User> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    find_by_username(conn, username)?.map(|(user, _)| user).ok_or(StoreError::NotFound)
}

#[async_trait]
impl UserStore for DieselStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let row = row_from_new_user(user);
        self.db()
            .run(move |c| {
                diesel::insert_into(users::table).values(&row).execute(c).map_err(|e| {
                    match StoreError::from(e) {
                        // Both backends name the column or constraint; tell the caller which one clashed.
                        StoreError::Conflict(what) if what.contains("username") => {
                            StoreError::Conflict("username".into())
                        }
                        StoreError::Conflict(_) => StoreError::Conflict("user id".into()),
                        other => other,
                    }
                })?;
                user_from_row(row).map(|(user, _)| user)
            })
            .await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        let id = id.as_str().to_owned();
        self.db()
            .run(move |c| {
                users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?
                    .map(|row| user_from_row(row).map(|(user, _)| user))
                    .transpose()
            })
            .await
    }

    async fn user_by_username(&self, username: &Username) -> StoreResult<Option<(User, String)>> {
        let username = username.as_str().to_owned();
        self.db().run(move |c| find_by_username(c, &username)).await
    }

    async fn list_users(&self, after: Option<&Username>, limit: i64) -> StoreResult<Vec<User>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let after = after.map(|u| u.as_str().to_owned());
        self.db()
            .run(move |c| {
                let mut query =
                    users::table.select(UserRow::as_select()).order(users::username.asc()).limit(limit).into_boxed();
                if let Some(after) = after {
                    query = query.filter(users::username.gt(after));
                }
                query.load(c)?.into_iter().map(|row| user_from_row(row).map(|(user, _)| user)).collect()
            })
            .await
    }

    async fn set_user_disabled(&self, username: &Username, disabled: bool, now: UnixTime) -> StoreResult<User> {
        let username = username.as_str().to_owned();
        self.db()
            .run(move |c| {
                c.transaction(|c| {
                    let changed = diesel::update(users::table.filter(users::username.eq(&username)))
                        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
                        .execute(c)?;
                    read_after_update(c, changed, &username)
                })
            })
            .await
    }

    async fn set_password_hash(&self, username: &Username, hash: String, now: UnixTime) -> StoreResult<User> {
        let username = username.as_str().to_owned();
        self.db()
            .run(move |c| {
                c.transaction(|c| {
                    let changed = diesel::update(users::table.filter(users::username.eq(&username)))
                        .set((users::password_hash.eq(&hash), users::updated_at.eq(now)))
                        .execute(c)?;
                    read_after_update(c, changed, &username)
                })
            })
            .await
    }

    async fn set_user_revoked_before(&self, id: &UserId, at: UnixTime) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.db()
            .run(move |c| {
                // updated_at is left alone: it tracks changes to the profile, and `at` is a cut-off, not a clock.
                let changed = diesel::update(users::table.find(&id)).set(users::revoked_before.eq(at)).execute(c)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use crate::domain::{NewUser, UserId, Username};
    use crate::storage::{StoreError, UserStore};

    fn new_user(name: &str) -> NewUser {
        NewUser {
            id: UserId::generate(),
            username: Username::parse(name).unwrap(),
            password_hash: format!("$argon2id$fake${name}"),
            email: Some(format!("{name}@example.com")),
            name: Some(format!("Name of {name}")),
            created_at: 1_700_000_000,
        }
    }

    async fn create_and_get(backend: Backend) {
        let t = TestDb::new(backend).await;
        let nu = new_user("alice");
        let created = t.store.create_user(nu.clone()).await.unwrap();
        assert_eq!(created.id, nu.id);
        assert_eq!(created.username, nu.username);
        assert_eq!(created.email.as_deref(), Some("alice@example.com"));
        assert_eq!(created.name.as_deref(), Some("Name of alice"));
        assert!(!created.email_verified && !created.disabled);
        assert_eq!(
            (created.created_at, created.updated_at, created.revoked_before),
            (1_700_000_000, 1_700_000_000, None)
        );

        let by_id = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
        assert_eq!(by_id, created);
        let (by_name, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
        assert_eq!(by_name, created);
        assert_eq!(hash, nu.password_hash);

        // Optional fields stay empty.
        let mut bare = new_user("bob");
        bare.email = None;
        bare.name = None;
        t.store.create_user(bare.clone()).await.unwrap();
        let bob = t.store.user_by_id(&bare.id).await.unwrap().unwrap();
        assert_eq!((bob.email, bob.name), (None, None));
    }

    async fn missing_users(backend: Backend) {
        let t = TestDb::new(backend).await;
        assert!(t.store.user_by_id(&UserId::generate()).await.unwrap().is_none());
        let nobody = Username::parse("nobody").unwrap();
        assert!(t.store.user_by_username(&nobody).await.unwrap().is_none());
        let err = t.store.set_user_disabled(&nobody, true, 1).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let err = t.store.set_password_hash(&nobody, "h".into(), 1).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    async fn duplicates_conflict(backend: Backend) {
        let t = TestDb::new(backend).await;
        let first = new_user("carol");
        t.store.create_user(first.clone()).await.unwrap();

        let same_name = new_user("carol");
        let err = t.store.create_user(same_name).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{err:?}");

        let mut same_id = new_user("carol2");
        same_id.id = first.id.clone();
        let err = t.store.create_user(same_id).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "user id"), "{err:?}");
        assert!(t.store.user_by_username(&Username::parse("carol2").unwrap()).await.unwrap().is_none());
    }

    async fn list_pages_by_username(backend: Backend) {
        let t = TestDb::new(backend).await;
        // Inserted out of order; listed in username order.
        for i in [3, 0, 4, 1, 2] {
            t.store.create_user(new_user(&format!("user{i}"))).await.unwrap();
        }
        let names = |users: &[crate::domain::User]| users.iter().map(|u| u.username.to_string()).collect::<Vec<_>>();
        let page1 = t.store.list_users(None, 2).await.unwrap();
        assert_eq!(names(&page1), ["user0", "user1"]);
        let page2 = t.store.list_users(Some(&page1[1].username), 2).await.unwrap();
        assert_eq!(names(&page2), ["user2", "user3"]);
        let page3 = t.store.list_users(Some(&page2[1].username), 2).await.unwrap();
        assert_eq!(names(&page3), ["user4"]);
        assert!(t.store.list_users(Some(&page3[0].username), 2).await.unwrap().is_empty());
        assert_eq!(t.store.list_users(None, 100).await.unwrap().len(), 5);
        assert!(t.store.list_users(None, 0).await.unwrap().is_empty());
    }

    async fn disable_and_change_password(backend: Backend) {
        let t = TestDb::new(backend).await;
        let nu = new_user("dave");
        t.store.create_user(nu.clone()).await.unwrap();

        let disabled = t.store.set_user_disabled(&nu.username, true, 1_700_000_100).await.unwrap();
        assert!(disabled.disabled);
        assert_eq!(disabled.updated_at, 1_700_000_100);
        assert!(t.store.user_by_id(&nu.id).await.unwrap().unwrap().disabled);

        let enabled = t.store.set_user_disabled(&nu.username, false, 1_700_000_200).await.unwrap();
        assert!(!enabled.disabled);

        let changed = t.store.set_password_hash(&nu.username, "$argon2id$new".into(), 1_700_000_300).await.unwrap();
        assert_eq!(changed.updated_at, 1_700_000_300);
        let (_, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
        assert_eq!(hash, "$argon2id$new");
        // Nothing else moved.
        assert_eq!(changed.created_at, nu.created_at);
        assert_eq!(changed.email, nu.email);
    }

    async fn revoked_before_round_trips(backend: Backend) {
        let t = TestDb::new(backend).await;
        let nu = new_user("erin");
        t.store.create_user(nu.clone()).await.unwrap();
        let other = new_user("frank");
        t.store.create_user(other.clone()).await.unwrap();

        t.store.set_user_revoked_before(&nu.id, 1_700_000_500).await.unwrap();
        let erin = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
        assert_eq!(erin.revoked_before, Some(1_700_000_500));
        // Nothing else moved.
        assert_eq!((erin.updated_at, erin.disabled), (nu.created_at, false));
        let (by_name, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
        assert_eq!((by_name, hash), (erin, nu.password_hash.clone()));

        // A later sign-out everywhere replaces the cut-off.
        t.store.set_user_revoked_before(&nu.id, 1_700_000_900).await.unwrap();
        assert_eq!(t.store.user_by_id(&nu.id).await.unwrap().unwrap().revoked_before, Some(1_700_000_900));
        // Other users are left alone.
        assert_eq!(t.store.user_by_id(&other.id).await.unwrap().unwrap().revoked_before, None);

        let err = t.store.set_user_revoked_before(&UserId::generate(), 1).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    both_backends!(
        create_and_get,
        missing_users,
        duplicates_conflict,
        list_pages_by_username,
        disable_and_change_password,
        revoked_before_round_trips,
    );
}
