//! `tessera groups …`, and `tessera users groups`: the operations of the admin API's groups
//! (`oauth::admin::groups`), audited with the command line as the actor.
use super::{human_time, Output};
use crate::config::Settings;
use crate::domain::{GroupName, Username};
use crate::oauth::admin::{self, group_json, group_listing_json, member_json, AdminError};
use crate::startup;
use crate::storage::diesel::DieselStore;
use crate::storage::{GroupStore, UserStore};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

/// Group commands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Create a group: 1 to 64 characters of A-Z a-z 0-9 . _ : - (letter case matters).
    Create {
        /// The group's name.
        name: String,
    },
    /// List the groups, with how many users are in each.
    List,
    /// List a group's members (id and username), by username.
    Members {
        /// The group's name.
        name: String,
    },
    /// Delete a group: its members leave it. Tokens already issued keep naming it until they expire.
    Delete {
        /// The group's name.
        name: String,
    },
}

/// Members read at a time.
const PAGE: i64 = 500;

fn group_name(s: &str) -> anyhow::Result<GroupName> {
    admin::parse_group_name(s).map_err(|e| anyhow!("{e}"))
}

fn admin_error(e: AdminError) -> anyhow::Error {
    anyhow!("{e}")
}

pub(super) async fn run(cmd: GroupsCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    match cmd {
        GroupsCommand::Create { name } => {
            let group =
                admin::create_group(&store, group_name(&name)?, crate::domain::now()).await.map_err(admin_error)?;
            super::record(&store, "group_created", None, None, json!({ "group": group.name.as_str() })).await;
            out.print(&group_json(&group), || format!("created group {}", group.name));
        }
        GroupsCommand::List => {
            let groups = store.list_groups().await?;
            let shown: Vec<_> = groups.iter().map(group_listing_json).collect();
            out.print(&json!({ "groups": shown }), || {
                if groups.is_empty() {
                    return "no groups".to_owned();
                }
                groups
                    .iter()
                    .map(|(g, n)| {
                        let members = if *n == 1 { "1 member".to_owned() } else { format!("{n} members") };
                        format!("{:<32} {members:<14} created {}", g.name.as_str(), human_time(g.created_at))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        GroupsCommand::Members { name } => {
            let name = group_name(&name)?;
            let mut all = Vec::new();
            let mut after: Option<Username> = None;
            loop {
                let page = admin::group_members(&store, &name, after.as_ref(), PAGE).await.map_err(admin_error)?;
                let done = i64::try_from(page.len()).map_or(true, |n| n < PAGE);
                after = page.last().map(|m| m.username.clone());
                all.extend(page);
                if done {
                    break;
                }
            }
            let shown: Vec<_> = all.iter().map(member_json).collect();
            out.print(&json!({ "group": name.as_str(), "members": shown }), || {
                if all.is_empty() {
                    return format!("{name} has no members");
                }
                all.iter().map(|m| format!("{:<24} {}", m.username.as_str(), m.id)).collect::<Vec<_>>().join("\n")
            });
        }
        GroupsCommand::Delete { name } => {
            let name = group_name(&name)?;
            admin::delete_group(&store, &name).await.map_err(admin_error)?;
            super::record(&store, "group_deleted", None, None, json!({ "group": name.as_str() })).await;
            out.print(&json!({ "group": name.as_str(), "deleted": true }), || format!("deleted group {name}"));
        }
    }
    Ok(())
}

/// `tessera users groups USERNAME [--add GROUP]… [--remove GROUP]…`: the additions, then the removals, then the
/// user's groups as they are. Every name is checked before anything changes: an unknown group changes nothing.
pub(super) async fn user_groups(
    store: &DieselStore,
    out: &Output,
    username: &Username,
    add: &[String],
    remove: &[String],
) -> anyhow::Result<()> {
    let (user, _) = store.user_by_username(username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
    let add = add.iter().map(|n| group_name(n)).collect::<anyhow::Result<Vec<_>>>()?;
    let remove = remove.iter().map(|n| group_name(n)).collect::<anyhow::Result<Vec<_>>>()?;
    if !add.is_empty() || !remove.is_empty() {
        let known: Vec<GroupName> = store.list_groups().await?.into_iter().map(|(g, _)| g.name).collect();
        if let Some(unknown) = add.iter().chain(&remove).find(|n| !known.contains(n)) {
            return Err(admin_error(admin::no_group(unknown.as_str())));
        }
    }
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for (names, member) in [(&add, true), (&remove, false)] {
        for name in names {
            if admin::set_membership(store, &user.id, name, member).await.map_err(admin_error)? {
                let details = json!({ "group": name.as_str() });
                super::record(store, admin::membership_event(member), Some(user.id.as_str()), None, details).await;
                let changed = if member { &mut added } else { &mut removed };
                changed.push(name.as_str().to_owned());
            }
        }
    }
    let groups = store.groups_of(&user.id).await?;
    let shown = json!({ "username": user.username.as_str(), "groups": groups, "added": added, "removed": removed });
    out.print(&shown, || {
        if groups.is_empty() {
            format!("{} is in no group", user.username)
        } else {
            let names: Vec<&str> = groups.iter().map(GroupName::as_str).collect();
            format!("{}: {}", user.username, names.join(" "))
        }
    });
    Ok(())
}
