//! The `groups` and `group_members` tables: [`GroupStore`] for [`DieselStore`].
use super::schema::{group_members, groups, users};
use super::DieselStore;
use crate::domain::{Group, GroupName, UserId, Username};
use crate::storage::{GroupMember, GroupStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
struct GroupRow {
    id: String,
    name: String,
    created_at: i64,
}

fn group_name(name: &str) -> StoreResult<GroupName> {
    GroupName::parse(name).map_err(|e| StoreError::Backend(format!("groups row: invalid name: {e}")))
}

fn group_from_row(row: GroupRow) -> StoreResult<Group> {
    Ok(Group { id: row.id, name: group_name(&row.name)?, created_at: row.created_at })
}

/// The id of the group named `name`; `NotFound` when there is none.
fn group_id(c: &mut super::AnyConnection, name: &str) -> StoreResult<String> {
    groups::table.filter(groups::name.eq(name)).select(groups::id).first(c).optional()?.ok_or(StoreError::NotFound)
}

#[async_trait]
impl GroupStore for DieselStore {
    async fn create_group(&self, group: &Group) -> StoreResult<()> {
        let row = GroupRow { id: group.id.clone(), name: group.name.as_str().to_owned(), created_at: group.created_at };
        self.db()
            .write(move |c| {
                diesel::insert_into(groups::table).values(&row).execute(c).map_err(|e| match StoreError::from(e) {
                    // The only other unique key is our random id.
                    StoreError::Conflict(_) => StoreError::Conflict("group".into()),
                    other => other,
                })?;
                Ok(())
            })
            .await
    }

    async fn list_groups(&self) -> StoreResult<Vec<(Group, u64)>> {
        let mut all = self
            .db()
            .run(|c| {
                let rows: Vec<(GroupRow, i64)> = groups::table
                    .left_join(group_members::table)
                    .group_by((groups::id, groups::name, groups::created_at))
                    .select((GroupRow::as_select(), diesel::dsl::count(group_members::user_id.nullable())))
                    .load(c)?;
                rows.into_iter()
                    .map(|(row, n)| Ok((group_from_row(row)?, u64::try_from(n).unwrap_or_default())))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .await?;
        // By byte, not by the database's collation, which differs between backends and locales.
        all.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(all)
    }

    async fn group_members(
        &self,
        name: &GroupName,
        after: Option<&Username>,
        limit: i64,
    ) -> StoreResult<Vec<GroupMember>> {
        let name = name.as_str().to_owned();
        let after = after.map(|u| u.as_str().to_owned());
        self.db()
            .run(move |c| {
                let group_id = group_id(c, &name)?;
                if limit <= 0 {
                    return Ok(Vec::new());
                }
                // In the order, and with the cursor, of the users' own listing.
                let mut query = group_members::table
                    .inner_join(users::table)
                    .filter(group_members::group_id.eq(&group_id))
                    .select((users::id, users::username))
                    .order(users::username.asc())
                    .limit(limit)
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter(users::username.gt(after));
                }
                let rows: Vec<(String, String)> = query.load(c)?;
                rows.into_iter()
                    .map(|(id, username)| {
                        let bad = |e: String| StoreError::Backend(format!("users row {id:?}: {e}"));
                        Ok(GroupMember {
                            id: UserId::parse(&id).map_err(|e| bad(format!("invalid id: {e}")))?,
                            username: Username::parse(&username).map_err(|e| bad(format!("invalid username: {e}")))?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn delete_group(&self, name: &GroupName) -> StoreResult<()> {
        let name = name.as_str().to_owned();
        self.db()
            .write(move |c| match diesel::delete(groups::table.filter(groups::name.eq(&name))).execute(c)? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            })
            .await
    }

    async fn groups_of(&self, user_id: &UserId) -> StoreResult<Vec<GroupName>> {
        let user_id = user_id.as_str().to_owned();
        let mut names = self
            .db()
            .run(move |c| {
                let names: Vec<String> = group_members::table
                    .inner_join(groups::table)
                    .filter(group_members::user_id.eq(&user_id))
                    .select(groups::name)
                    .load(c)?;
                names.iter().map(|n| group_name(n)).collect::<StoreResult<Vec<_>>>()
            })
            .await?;
        names.sort();
        Ok(names)
    }

    async fn add_member(&self, user_id: &UserId, group: &GroupName) -> StoreResult<bool> {
        let (user_id, name) = (user_id.as_str().to_owned(), group.as_str().to_owned());
        let added = self
            .db()
            .write(move |c| {
                c.transaction(|c| {
                    let group_id = group_id(c, &name)?;
                    let member = group_members::table.find((&user_id, &group_id)).count().get_result::<i64>(c)? > 0;
                    if member {
                        return Ok(false);
                    }
                    diesel::insert_into(group_members::table)
                        .values((group_members::group_id.eq(&group_id), group_members::user_id.eq(&user_id)))
                        .execute(c)?;
                    Ok(true)
                })
            })
            .await;
        match added {
            // Another request put them in between the look and the insert.
            Err(StoreError::Conflict(_)) => Ok(false),
            other => other,
        }
    }

    async fn remove_member(&self, user_id: &UserId, group: &GroupName) -> StoreResult<bool> {
        let (user_id, name) = (user_id.as_str().to_owned(), group.as_str().to_owned());
        self.db()
            .write(move |c| {
                let group_id = group_id(c, &name)?;
                let removed = diesel::delete(group_members::table.find((&user_id, &group_id))).execute(c)?;
                Ok(removed > 0)
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

    fn name(n: &str) -> GroupName {
        GroupName::parse(n).unwrap()
    }

    fn group(id: &str, n: &str) -> Group {
        Group { id: id.into(), name: name(n), created_at: 10 }
    }

    async fn groups_are_unique_by_name_and_listed_by_byte(backend: Backend) {
        let t = TestDb::new(backend).await;
        for (id, n) in [("1", "eng"), ("2", "Admins"), ("3", "admins"), ("4", "b:x")] {
            t.store.create_group(&group(id, n)).await.unwrap();
        }
        let again = t.store.create_group(&group("5", "eng")).await;
        assert!(matches!(again, Err(StoreError::Conflict(ref what)) if what == "group"), "{again:?}");
        let listed = t.store.list_groups().await.unwrap();
        let names: Vec<String> = listed.iter().map(|(g, _)| g.name.to_string()).collect();
        assert_eq!(names, ["Admins", "admins", "b:x", "eng"], "letter case matters, and upper case sorts first");
        assert_eq!(listed[0], (group("2", "Admins"), 0));

        t.store.delete_group(&name("b:x")).await.unwrap();
        assert!(matches!(t.store.delete_group(&name("b:x")).await, Err(StoreError::NotFound)));
        assert_eq!(t.store.list_groups().await.unwrap().len(), 3);
    }

    async fn memberships_are_idempotent_and_go_with_their_user_or_group(backend: Backend) {
        let t = TestDb::new(backend).await;
        let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
        for (id, n) in [("1", "eng"), ("2", "Admins"), ("3", "ops")] {
            t.store.create_group(&group(id, n)).await.unwrap();
        }
        assert_eq!(t.store.groups_of(&alice).await.unwrap(), Vec::<GroupName>::new());
        assert!(t.store.add_member(&alice, &name("eng")).await.unwrap());
        assert!(!t.store.add_member(&alice, &name("eng")).await.unwrap(), "already in");
        assert!(t.store.add_member(&alice, &name("Admins")).await.unwrap());
        assert!(t.store.add_member(&alice, &name("ops")).await.unwrap());
        assert!(t.store.add_member(&bob, &name("ops")).await.unwrap());
        assert_eq!(t.store.groups_of(&alice).await.unwrap(), [name("Admins"), name("eng"), name("ops")]);
        assert_eq!(t.store.groups_of(&bob).await.unwrap(), [name("ops")]);

        assert!(matches!(t.store.add_member(&alice, &name("none")).await, Err(StoreError::NotFound)));
        assert!(matches!(t.store.remove_member(&alice, &name("none")).await, Err(StoreError::NotFound)));
        let gone = t.store.add_member(&UserId::generate(), &name("eng")).await;
        assert!(matches!(gone, Err(StoreError::ReferenceGone(_))), "{gone:?}");

        assert!(t.store.remove_member(&alice, &name("eng")).await.unwrap());
        assert!(!t.store.remove_member(&alice, &name("eng")).await.unwrap(), "not in any more");
        assert_eq!(t.store.groups_of(&alice).await.unwrap(), [name("Admins"), name("ops")]);

        // A deleted group leaves its members; a deleted user leaves their groups.
        t.store.delete_group(&name("ops")).await.unwrap();
        assert_eq!(t.store.groups_of(&alice).await.unwrap(), [name("Admins")]);
        assert_eq!(t.store.groups_of(&bob).await.unwrap(), Vec::<GroupName>::new());
        t.store.delete_user(&alice).await.unwrap();
        assert_eq!(t.store.groups_of(&alice).await.unwrap(), Vec::<GroupName>::new());
        t.store.create_group(&group("4", "ops")).await.unwrap();
        assert!(t.store.add_member(&bob, &name("Admins")).await.unwrap(), "the group outlives its members");
    }

    async fn groups_are_listed_with_their_member_count_and_members_by_username(backend: Backend) {
        let t = TestDb::new(backend).await;
        let users = [t.add_user("carol").await, t.add_user("alice").await, t.add_user("bob").await];
        t.add_user("dave").await;
        for (id, n) in [("1", "eng"), ("2", "ops"), ("3", "empty")] {
            t.store.create_group(&group(id, n)).await.unwrap();
        }
        for user in &users {
            t.store.add_member(user, &name("eng")).await.unwrap();
        }
        t.store.add_member(&users[2], &name("ops")).await.unwrap();
        let counts: Vec<(String, u64)> =
            t.store.list_groups().await.unwrap().into_iter().map(|(g, n)| (g.name.to_string(), n)).collect();
        assert_eq!(counts, [("empty".into(), 0), ("eng".into(), 3), ("ops".into(), 1)]);

        let page = |after: Option<&str>, limit: i64| {
            let after = after.map(|a| Username::parse(a).unwrap());
            let store = &t.store;
            async move {
                let members = store.group_members(&name("eng"), after.as_ref(), limit).await.unwrap();
                members.into_iter().map(|m| m.username.to_string()).collect::<Vec<_>>()
            }
        };
        assert_eq!(page(None, 10).await, ["alice", "bob", "carol"]);
        assert_eq!(page(None, 2).await, ["alice", "bob"]);
        assert_eq!(page(Some("bob"), 2).await, ["carol"]);
        let first = t.store.group_members(&name("eng"), None, 1).await.unwrap();
        assert_eq!(first, [GroupMember { id: users[1].clone(), username: Username::parse("alice").unwrap() }]);
        assert_eq!(t.store.group_members(&name("empty"), None, 10).await.unwrap(), []);
        let none = t.store.group_members(&name("none"), None, 10).await;
        assert!(matches!(none, Err(StoreError::NotFound)), "{none:?}");
    }

    both_backends!(
        groups_are_unique_by_name_and_listed_by_byte,
        memberships_are_idempotent_and_go_with_their_user_or_group,
        groups_are_listed_with_their_member_count_and_members_by_username
    );
}
