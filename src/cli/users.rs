//! `tessera users …`.
use super::{human_time, read_stdin_line, Output};
use crate::config::Settings;
use crate::domain::password::{hash_password, Password, NO_PASSWORD};
use crate::domain::{ClientId, NewUser, User, UserId, Username};
use crate::oauth::admin::{self, user_json, AdminError};
use crate::oauth::passkey::PasskeyRp;
use crate::startup;
use crate::storage::diesel::DieselStore;
use crate::storage::{IdentityStore, OtpStore, PasskeyRemoval, PasskeyStore, StoreError, Unlinked, UserStore};
use anyhow::{anyhow, Context};
use clap::Subcommand;
use serde_json::json;

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Add {
        /// Login name.
        username: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// The email address is the user's, checked by the operator: a sign-in through a provider trusted with
        /// addresses (`[federation]`) may be linked to this account by it.
        #[arg(long, requires = "email")]
        email_verified: bool,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// The password is temporary: at their next sign-in the user must choose a new one before anything else.
        #[arg(long)]
        temporary: bool,
    },
    /// List users, ordered by username; `--search` and `--email` narrow the list (both: users that match both).
    List {
        /// Only users whose username or email address begins with this text, in any letter case (a username
        /// also in either Unicode form, as it signs in).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Only users with this email address, in any letter case.
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
    },
    /// Show one user: their account, whether they have two-step verification and whether their password is
    /// temporary.
    Show {
        /// Login name.
        username: String,
    },
    /// Disable a user: signs them out everywhere, and no sign-in until enabled.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        username: String,
    },
    /// Set a new password, read from standard input. Ends no session: `revoke` signs the user out everywhere.
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The password is temporary: at their next sign-in the user must choose a new one before anything else.
        /// Without it, the password is not, whatever the previous one was.
        #[arg(long)]
        temporary: bool,
    },
    /// Sign a user out everywhere: end all sessions, revoke all refresh tokens, invalidate access tokens.
    Revoke {
        /// Login name.
        username: String,
    },
    /// Delete a user, with their sessions, consents and tokens. Their audit events stay, under their id. No mail
    /// is sent to them.
    Remove {
        /// Login name.
        username: String,
    },
    /// Turn a user's two-step verification off (a lost phone): they sign in with their password alone until they
    /// set it up again on their account page.
    ResetOtp {
        /// Login name.
        username: String,
    },
    /// List a user's live browser sessions (end one with the admin API, or all with `revoke`).
    Sessions {
        /// Login name.
        username: String,
    },
    /// List the apps a user approved (consents, and live refresh tokens), as their account page does; withdraw
    /// one (`--revoke`) or all (`--revoke-all`) as its "Remove access" does: the consent forgotten, the app's
    /// refresh and access tokens and unredeemed codes for the user revoked.
    Consents {
        /// Login name.
        username: String,
        /// Withdraw what the user gave this client (its client id).
        #[arg(long, value_name = "CLIENT_ID", conflicts_with = "revoke_all")]
        revoke: Option<String>,
        /// Withdraw what the user gave every app.
        #[arg(long)]
        revoke_all: bool,
    },
    /// List a user's groups; put them in groups (`--add`) or take them out (`--remove`) first. Their next tokens
    /// with the `groups` scope carry the change.
    Groups {
        /// Login name.
        username: String,
        /// Put the user in this group (repeatable).
        #[arg(long, value_name = "GROUP")]
        add: Vec<String>,
        /// Take the user out of this group (repeatable).
        #[arg(long, value_name = "GROUP")]
        remove: Vec<String>,
    },
    /// List a user's passkeys, as their account page does (never the credential); remove one (`--remove`: a lost
    /// device). Removing may leave the user with no way to sign in (no password, no link, no other passkey); the
    /// output says so.
    Passkeys {
        /// Login name.
        username: String,
        /// Remove the passkey with this id (as listed). Ids are base64url and may begin with `-`.
        #[arg(long, value_name = "PASSKEY_ID", allow_hyphen_values = true)]
        remove: Option<String>,
    },
    /// List the identities at upstream providers (`[federation]`) that sign a user in.
    Identities {
        /// Login name.
        username: String,
    },
    /// Remove a user's link at an upstream provider: that identity signs in as this user no more. It may leave
    /// the user with no way to sign in (no password, no other link); the output says so.
    Unlink {
        /// Login name.
        username: String,
        /// The provider's id (`[[federation.providers]]` `id`).
        provider: String,
    },
}

async fn hash(settings: &Settings, password: Password) -> anyhow::Result<String> {
    let cost = settings.passwords.cost;
    crate::telemetry::spawn_blocking_in_span(move || hash_password(&password, cost))
        .await
        .context("password hashing task")?
        .map_err(|e| anyhow!(e))
}

/// What the text output adds for a temporary password.
fn temporary_words(temporary: bool) -> &'static str {
    if temporary {
        "; the password is temporary: a new one is chosen at the next sign-in"
    } else {
        ""
    }
}

fn parse_username(s: &str) -> anyhow::Result<Username> {
    admin::parse_username(s).map_err(|e| anyhow!("{e}"))
}

fn not_found(username: &Username) -> impl FnOnce(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound => anyhow!("no user named {username}"),
        other => other.into(),
    }
}

/// The lines of `users consents`: one per app.
fn consents_text(username: &Username, shown: &[serde_json::Value]) -> String {
    if shown.is_empty() {
        return format!("{username} has approved no app");
    }
    let words = |v: &serde_json::Value| -> String {
        let all: Vec<&str> = v.as_array().into_iter().flatten().filter_map(|w| w.as_str()).collect();
        if all.is_empty() {
            "-".to_owned()
        } else {
            all.join(" ")
        }
    };
    shown
        .iter()
        .map(|c| {
            format!(
                "{}  {}  scopes: {}  claims: {}  granted {}{}{}{}",
                c["client_id"].as_str().unwrap_or_default(),
                c["client_name"].as_str().unwrap_or_default(),
                words(&c["scopes"]),
                words(&c["claims"]),
                human_time(c["granted_at"].as_i64().unwrap_or_default()),
                c["updated_at"].as_i64().map(|t| format!("  updated {}", human_time(t))).unwrap_or_default(),
                if c["offline"] == true { "  (offline access)" } else { "" },
                if c["live_refresh_tokens"] == true { "  (live refresh tokens)" } else { "" },
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of `users passkeys`: one per passkey.
fn passkeys_text(username: &Username, shown: &[serde_json::Value]) -> String {
    if shown.is_empty() {
        return format!("{username} has no passkey");
    }
    shown
        .iter()
        .map(|p| {
            format!(
                "{}  {}  added {}  last used {}",
                p["id"].as_str().unwrap_or_default(),
                p["name"].as_str().unwrap_or_default(),
                human_time(p["created_at"].as_i64().unwrap_or_default()),
                p["last_used_at"].as_i64().map_or_else(|| "never".to_owned(), human_time),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `user` can sign in as this configuration stands: with a password, a link at a configured provider, or a
/// passkey while passkeys are on (not for an issuer named by an IP address).
async fn can_sign_in(store: &DieselStore, settings: &Settings, user: &User) -> anyhow::Result<bool> {
    let password = store.user_by_username(&user.username).await?.is_some_and(|(_, hash)| hash != NO_PASSWORD);
    // A link at a provider this configuration does not have signs nobody in.
    let links = store.identities_of(&user.id).await?;
    let usable = links.iter().any(|l| settings.federation.provider(&l.provider_id).is_some());
    let passkeys = PasskeyRp::for_issuer(&settings.issuer).is_some() && !store.passkeys_of(&user.id).await?.is_empty();
    Ok(password || usable || passkeys)
}

/// The warning printed after an operator's removal left `username` no way in.
fn stranded(username: &Username) -> String {
    format!(
        "\nwarning: {username} has no password, no usable link and no passkey, so cannot sign in; set a password \
         with `tessera users passwd {username} --password-stdin`"
    )
}

pub(super) async fn run(cmd: UsersCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let now = crate::domain::now();
    match cmd {
        UsersCommand::Add { username, password_stdin: _, email, email_verified, name, temporary } => {
            let username = admin::parse_new_username(&username).map_err(|e| anyhow!("{e}"))?;
            if let Some(e) = &email {
                admin::check_email(e).map_err(|e| anyhow!("{e}"))?;
            }
            if let Some(n) = &name {
                admin::check_user_name(n).map_err(|e| anyhow!("--name: {e}"))?;
            }
            let password = admin::parse_password(read_stdin_line("password")?).map_err(|e| anyhow!("{e}"))?;
            let password_hash = hash(settings, password).await?;
            let new = NewUser {
                id: UserId::generate(),
                username,
                password_hash,
                email,
                email_verified,
                name,
                password_change_required: temporary,
                created_at: now,
            };
            let user = admin::create_user(&store, new).await.map_err(|e| match e {
                AdminError::Store(e) => e.into(),
                other => anyhow!("{other}"),
            })?;
            let details = json!({ "temporary": temporary, "email_verified": user.email_verified });
            super::record(&store, "user_created", Some(user.id.as_str()), None, details).await;
            out.print(&user_json(&user, false), || {
                format!("created user {} (sub {}){}", user.username, user.id, temporary_words(temporary))
            });
        }
        UsersCommand::List { search, email } => {
            let filter = admin::user_filter(None, email.as_deref(), search.as_deref()).map_err(|e| anyhow!("{e}"))?;
            let mut all = Vec::new();
            let mut after: Option<Username> = None;
            loop {
                let page = store.list_users(&filter, after.as_ref(), 500).await?;
                let done = page.len() < 500;
                after = page.last().map(|u| u.username.clone());
                all.extend(page);
                if done {
                    break;
                }
            }
            let ids: Vec<UserId> = all.iter().map(|u| u.id.clone()).collect();
            let with_otp = store.users_with_otp(&ids).await?;
            let shown: Vec<_> = all.iter().map(|u| user_json(u, with_otp.contains(&u.id))).collect();
            out.print(&json!({ "users": shown }), || {
                all.iter()
                    .map(|u| {
                        format!(
                            "{:<24} {}  {}{}{}{}  created {}",
                            u.username.as_str(),
                            u.id,
                            u.email.as_deref().unwrap_or("-"),
                            if u.disabled { "  (disabled)" } else { "" },
                            if with_otp.contains(&u.id) { "  (two-step)" } else { "" },
                            if u.password_change_required { "  (temporary password)" } else { "" },
                            human_time(u.created_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        UsersCommand::Show { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let otp = store.otp(&user.id).await?.is_some();
            out.print(&user_json(&user, otp), || {
                let yes_no = |b: bool| if b { "yes" } else { "no" };
                [
                    format!("username            {}", user.username),
                    format!("id (sub)            {}", user.id),
                    format!("email               {}", user.email.as_deref().unwrap_or("-")),
                    format!("email verified      {}", yes_no(user.email_verified)),
                    format!("name                {}", user.name.as_deref().unwrap_or("-")),
                    format!("disabled            {}", yes_no(user.disabled)),
                    format!("two-step            {}", yes_no(otp)),
                    format!("temporary password  {}", yes_no(user.password_change_required)),
                    format!("created             {}", human_time(user.created_at)),
                    format!("updated             {}", human_time(user.updated_at)),
                ]
                .join("\n")
            });
        }
        UsersCommand::Disable { username } => {
            let username = parse_username(&username)?;
            // Disabling signs the user out everywhere, as `revoke` does, so `enable` starts them afresh.
            let user = store.set_user_disabled(&username, true, now).await.map_err(not_found(&username))?;
            super::record(&store, "user_disabled", Some(user.id.as_str()), None, json!({})).await;
            let provider = startup::open_provider(settings, &store).await?;
            let sessions = provider
                .revoke_user(&user.id, &super::cli_meta(), crate::domain::now())
                .await
                .map_err(|e| anyhow!("{e:?}"))?;
            // After the last write: this advance is the one that keeps trying while Redis refuses it.
            startup::advance_revocation_epoch(settings).await;
            // The process ends next: the apps' logout tokens go out first.
            provider.backchannel.drain().await;
            let mut shown = user_json(&user, store.otp(&user.id).await?.is_some());
            shown["sessions_ended"] = json!(sessions);
            out.print(&shown, || format!("disabled {} ({sessions} active sessions ended)", user.username));
        }
        UsersCommand::Enable { username } => {
            let username = parse_username(&username)?;
            let user = store.set_user_disabled(&username, false, now).await.map_err(not_found(&username))?;
            super::record(&store, "user_enabled", Some(user.id.as_str()), None, json!({})).await;
            out.print(&user_json(&user, store.otp(&user.id).await?.is_some()), || format!("enabled {}", user.username));
        }
        UsersCommand::Revoke { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let provider = startup::open_provider(settings, &store).await?;
            // The cut-off is taken now, not when the command started: it must cover what was issued meanwhile.
            let revoked_at = crate::domain::now();
            let sessions =
                provider.revoke_user(&user.id, &super::cli_meta(), revoked_at).await.map_err(|e| anyhow!("{e:?}"))?;
            provider.backchannel.drain().await;
            out.print(&json!({ "user": user.username.as_str(), "revoked": true, "sessions_ended": sessions }), || {
                format!("signed {} out everywhere ({sessions} active sessions ended)", user.username)
            });
        }
        UsersCommand::Remove { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let provider = startup::open_provider(settings, &store).await?;
            let sessions = provider.delete_user(&user.id, crate::domain::now()).await.map_err(not_found(&username))?;
            startup::advance_revocation_epoch(settings).await;
            provider.backchannel.drain().await;
            let details = json!({ "username": user.username.as_str(), "sessions": sessions });
            super::record(&store, "user_deleted", Some(user.id.as_str()), None, details).await;
            let shown = json!({
                "id": user.id.as_str(), "username": user.username.as_str(), "removed": true, "sessions_ended": sessions,
            });
            out.print(&shown, || format!("removed {} ({sessions} active sessions ended)", user.username));
        }
        UsersCommand::Passwd { username, password_stdin: _, temporary } => {
            let username = parse_username(&username)?;
            let password = admin::parse_password(read_stdin_line("password")?).map_err(|e| anyhow!("{e}"))?;
            let hash = hash(settings, password).await?;
            let user = store.set_password_hash(&username, hash, temporary, now).await.map_err(not_found(&username))?;
            startup::advance_revocation_epoch(settings).await;
            let details = json!({ "temporary": temporary });
            super::record(&store, "user_password_changed", Some(user.id.as_str()), None, details).await;
            let shown = user_json(&user, store.otp(&user.id).await?.is_some());
            out.print(&shown, || format!("password changed for {}{}", user.username, temporary_words(temporary)));
        }
        UsersCommand::ResetOtp { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let was_enabled = store.disable_otp(&user.id).await?;
            if was_enabled {
                super::record(&store, "otp_disabled", Some(user.id.as_str()), None, json!({ "reason": "cli_reset" }))
                    .await;
            }
            out.print(
                &json!({ "user": user.username.as_str(), "otp_enabled": false, "was_enabled": was_enabled }),
                || {
                    if was_enabled {
                        format!("two-step verification turned off for {}", user.username)
                    } else {
                        format!("{} had no two-step verification", user.username)
                    }
                },
            );
        }
        UsersCommand::Sessions { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let shown = admin::user_sessions_json(&store, &user.id, settings.sessions.idle_timeout, now).await?;
            out.print(&json!({ "username": user.username.as_str(), "sessions": shown }), || {
                if shown.is_empty() {
                    return format!("{} has no live session", user.username);
                }
                shown
                    .iter()
                    .map(|s| {
                        let time = |k: &str| human_time(s[k].as_i64().unwrap_or_default());
                        let clients: Vec<&str> =
                            s["clients"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
                        format!(
                            "{}  {}  {}  started {}  last used {}  ends {}{}  clients: {}",
                            s["id"].as_str().unwrap_or_default(),
                            s["device"].as_str().unwrap_or_default(),
                            s["ip"].as_str().unwrap_or("-"),
                            time("created_at"),
                            time("last_used_at"),
                            time("expires_at"),
                            if s["idle"] == true { "  (idle)" } else { "" },
                            if clients.is_empty() { "-".to_owned() } else { clients.join(",") },
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        UsersCommand::Consents { username, revoke, revoke_all } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let provider = startup::open_provider(settings, &store).await?;
            if revoke.is_none() && !revoke_all {
                let shown = provider.user_consents_json(&user.id, now).await.map_err(|e| anyhow!("{e:?}"))?;
                out.print(&json!({ "username": user.username.as_str(), "consents": shown }), || {
                    consents_text(&user.username, &shown)
                });
                return Ok(());
            }
            // The cut-off is taken now, not when the command started: it must cover what was issued meanwhile.
            let (meta, revoked_at) = (super::cli_meta(), crate::domain::now());
            let revoked = match revoke {
                Some(client_id) => {
                    let client_id = ClientId::parse(&client_id).map_err(|e| anyhow!("--revoke: {e}"))?;
                    let found = provider
                        .revoke_user_consent(super::CLI_ACTOR, &user.id, &client_id, &meta, revoked_at)
                        .await
                        .map_err(|e| anyhow!("{e:?}"))?;
                    if !found {
                        return Err(anyhow!("{username} has granted nothing to client {client_id}"));
                    }
                    vec![client_id]
                }
                None => provider
                    .revoke_user_consents(super::CLI_ACTOR, &user.id, &meta, revoked_at)
                    .await
                    .map_err(|e| anyhow!("{e:?}"))?,
            };
            // After the last write: this advance is the one that keeps trying while Redis refuses it.
            startup::advance_revocation_epoch(settings).await;
            let ids: Vec<&str> = revoked.iter().map(ClientId::as_str).collect();
            out.print(&json!({ "username": user.username.as_str(), "revoked": ids }), || {
                if ids.is_empty() {
                    format!("{} has approved no app", user.username)
                } else {
                    format!("withdrew what {} gave {}", user.username, ids.join(", "))
                }
            });
        }
        UsersCommand::Groups { username, add, remove } => {
            let username = parse_username(&username)?;
            super::groups::user_groups(&store, out, &username, &add, &remove).await?;
        }
        UsersCommand::Identities { username } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let links = store.identities_of(&user.id).await?;
            let shown: Vec<_> = links.iter().map(admin::identity_json).collect();
            out.print(&json!({ "username": user.username.as_str(), "identities": shown }), || {
                links
                    .iter()
                    .map(|l| {
                        format!(
                            "{:<16} {}  linked {}  last used {}",
                            l.provider_id,
                            l.subject,
                            human_time(l.created_at),
                            human_time(l.last_used_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        UsersCommand::Unlink { username, provider } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            match store.unlink_identity(&user.id, &provider, None).await? {
                Unlinked::Removed => {}
                Unlinked::NotLinked | Unlinked::LastWayIn => {
                    return Err(anyhow!("{username} has no identity at provider {provider}"))
                }
            }
            let details = json!({ "provider": provider });
            super::record(&store, "identity_unlinked", Some(user.id.as_str()), None, details).await;
            // Read after the removal: whether the account is left with a way in.
            let can_sign_in = can_sign_in(&store, settings, &user).await?;
            let shown = json!({
                "username": user.username.as_str(), "provider": provider, "unlinked": true, "can_sign_in": can_sign_in,
            });
            out.print(&shown, || {
                let mut text = format!("{username}: the identity at {provider} is unlinked");
                if !can_sign_in {
                    text.push_str(&stranded(&username));
                }
                text
            });
        }
        UsersCommand::Passkeys { username, remove } => {
            let username = parse_username(&username)?;
            let (user, _) =
                store.user_by_username(&username).await?.ok_or_else(|| anyhow!("no user named {username}"))?;
            let Some(id) = remove else {
                let shown: Vec<_> = store.passkeys_of(&user.id).await?.iter().map(admin::passkey_json).collect();
                out.print(&json!({ "username": user.username.as_str(), "passkeys": shown }), || {
                    passkeys_text(&user.username, &shown)
                });
                return Ok(());
            };
            let provider = startup::open_provider(settings, &store).await?;
            let removal = provider
                .remove_passkey(super::CLI_ACTOR, &user.id, &id, None, &super::cli_meta(), now)
                .await
                .map_err(|e| anyhow!("{e:?}"))?;
            let PasskeyRemoval::Removed(removed) = removal else {
                return Err(anyhow!("{}", admin::no_passkey(&user.id, &id)));
            };
            let can_sign_in = can_sign_in(&store, settings, &user).await?;
            let shown = json!({
                "username": user.username.as_str(), "removed": admin::passkey_json(&removed), "can_sign_in": can_sign_in,
            });
            out.print(&shown, || {
                let mut text = format!("{username}: the passkey {} ({}) is removed", removed.id, removed.name);
                if !can_sign_in {
                    text.push_str(&stranded(&username));
                }
                text
            });
        }
    }
    Ok(())
}
