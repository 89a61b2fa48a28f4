//! Groups as operators manage them, as Keycloak's groups: `GET`/`POST /admin/api/groups` (listed with their member
//! counts), `DELETE /admin/api/groups/{name}`, a group's members (`GET /admin/api/groups/{name}/members`, paged by
//! username as the users are), a user's groups (`GET /admin/api/users/{id}/groups`, `PUT` and `DELETE
//! …/groups/{name}`, both idempotent), and `tessera groups …` and `tessera users groups`, which share the
//! operations here. Each change is audited (`group_created`, `group_deleted`, `group_member_added`,
//! `group_member_removed`) with whoever acted; a `PUT` or `DELETE` that changes nothing records nothing. Tokens
//! already issued keep the groups they carry until they expire; the next one issued (a refresh) has the new ones.
use super::api::{page, page_limit, path_user_id};
use super::*;
use crate::domain::{Group, GroupName};
use crate::storage::{GroupMember, GroupStore};

/// The JSON form of a group.
pub fn group_json(g: &Group) -> Value {
    json!({ "name": g.name.as_str(), "created_at": g.created_at })
}

/// The JSON form of a group in a listing: with how many users are in it.
pub fn group_listing_json((g, members): &(Group, u64)) -> Value {
    let mut value = group_json(g);
    value["members"] = json!(members);
    value
}

/// The JSON form of a member of a group.
pub fn member_json(m: &GroupMember) -> Value {
    json!({ "id": m.id.as_str(), "username": m.username.as_str() })
}

/// The members of the group named `name`, by username, after `after`, at most `limit`; `NotFound` when there is
/// no such group.
pub async fn group_members(
    groups: &dyn GroupStore,
    name: &GroupName,
    after: Option<&Username>,
    limit: i64,
) -> Result<Vec<GroupMember>, AdminError> {
    groups.group_members(name, after, limit).await.map_err(|e| match e {
        StoreError::NotFound => no_group(name.as_str()),
        other => other.into(),
    })
}

/// Parses the name of a group being created, or named on the command line.
pub fn parse_group_name(s: &str) -> Result<GroupName, AdminError> {
    GroupName::parse(s).map_err(|e| AdminError::Invalid(format!("invalid group name: {e}")))
}

/// The error for an unknown group.
pub fn no_group(name: &str) -> AdminError {
    let shown: String = name.chars().take(64).filter(|c| !c.is_control()).collect();
    AdminError::NotFound(format!("no group named {shown}"))
}

/// A group name from a path: one that cannot parse names no group.
fn path_group_name(name: &str) -> Result<GroupName, AdminError> {
    GroupName::parse(name).map_err(|_| no_group(name))
}

/// Stores a new group named `name`; `Conflict` when the name is taken.
pub async fn create_group(groups: &dyn GroupStore, name: GroupName, now: UnixTime) -> Result<Group, AdminError> {
    let group = Group { id: uuid::Uuid::new_v4().to_string(), name, created_at: now };
    groups.create_group(&group).await.map_err(|e| match e {
        StoreError::Conflict(_) => AdminError::Conflict(format!("a group named {} already exists", group.name)),
        other => other.into(),
    })?;
    Ok(group)
}

/// Deletes the group named `name`, with its memberships; `NotFound` when there is none.
pub async fn delete_group(groups: &dyn GroupStore, name: &GroupName) -> Result<(), AdminError> {
    groups.delete_group(name).await.map_err(|e| match e {
        StoreError::NotFound => no_group(name.as_str()),
        other => other.into(),
    })
}

/// Puts the user in the group (`member`) or takes them out: whether that changed anything. `NotFound` when
/// there is no such group, or (putting in) no such user.
pub async fn set_membership(
    groups: &dyn GroupStore,
    user_id: &UserId,
    name: &GroupName,
    member: bool,
) -> Result<bool, AdminError> {
    let changed =
        if member { groups.add_member(user_id, name).await } else { groups.remove_member(user_id, name).await };
    changed.map_err(|e| match e {
        StoreError::NotFound => no_group(name.as_str()),
        StoreError::ReferenceGone(_) => no_user(user_id.as_str()),
        other => other.into(),
    })
}

/// The audit event of a change of membership.
pub fn membership_event(member: bool) -> &'static str {
    if member {
        "group_member_added"
    } else {
        "group_member_removed"
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRequest {
    name: String,
}

impl Provider {
    /// `GET /admin/api/groups`: every group, by name, with its member count.
    pub async fn admin_list_groups(&self) -> Result<Value, AdminError> {
        let groups = self.groups.list_groups().await?;
        Ok(json!({ "items": groups.iter().map(group_listing_json).collect::<Vec<_>>() }))
    }

    /// `GET /admin/api/groups/{name}/members?after=&limit=`: the group's members (id and username), by username.
    pub async fn admin_group_members(&self, name: &str, params: &Params) -> Result<Value, AdminError> {
        let name = path_group_name(name)?;
        let limit = page_limit(params)?;
        let after = params.get("after").map(parse_username).transpose()?;
        let members = group_members(&*self.groups, &name, after.as_ref(), limit + 1).await?;
        Ok(page(members, limit, member_json, |m| m.username.as_str().to_owned()))
    }

    /// `POST /admin/api/groups` (`{"name": …}`): the new group; `Conflict` when the name is taken.
    pub async fn admin_create_group(
        &self,
        caller: &AdminCaller,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let req: GroupRequest =
            serde_json::from_slice(body).map_err(|e| body_error("the body is not a group description", &e))?;
        let group = create_group(&*self.groups, parse_group_name(&req.name)?, now).await?;
        let facts = caller.facts(None, None, json!({ "group": group.name.as_str() }));
        self.audit("group_created", facts, meta, now).await;
        Ok(group_json(&group))
    }

    /// `DELETE /admin/api/groups/{name}`: the group and its memberships.
    pub async fn admin_delete_group(
        &self,
        caller: &AdminCaller,
        name: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let name = path_group_name(name)?;
        delete_group(&*self.groups, &name).await?;
        let facts = caller.facts(None, None, json!({ "group": name.as_str() }));
        self.audit("group_deleted", facts, meta, now).await;
        Ok(())
    }

    /// `GET /admin/api/users/{id}/groups`: the names of the user's groups, sorted.
    pub async fn admin_user_groups(&self, id: &str) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let names = self.groups.groups_of(&id).await?;
        Ok(json!({ "items": names }))
    }

    /// `PUT /admin/api/users/{id}/groups/{name}` (`member`) and `DELETE …` (not): the user in the group or out of
    /// it, whether or not they were before.
    pub async fn admin_set_user_group(
        &self,
        caller: &AdminCaller,
        (id, name): (&str, &str),
        member: bool,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let name = path_group_name(name)?;
        if set_membership(&*self.groups, &id, &name, member).await? {
            let facts = caller.facts(Some(&id), None, json!({ "group": name.as_str() }));
            self.audit(membership_event(member), facts, meta, now).await;
        }
        Ok(())
    }
}
