//! `tessera clients …`.
use super::{human_time, Output};
use crate::config::Settings;
use crate::domain::secret::PlainSecret;
use crate::domain::{Client, ClientAuthMethod, ClientId, ClientMetadata, GrantType, RedirectUri, Scope};
use crate::startup;
use crate::storage::{ClientStore, StoreError};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

/// Scopes a client may ask for when `--scope` is not given.
pub const DEFAULT_CLIENT_SCOPE: &str = "openid profile email offline_access";

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (shown once).
    Add {
        /// Display name, shown on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI (repeatable); exact match, loopback http on any port for native apps.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Token endpoint authentication for confidential clients.
        #[arg(long, value_parser = ["client_secret_basic", "client_secret_post", "private_key_jwt"])]
        auth_method: Option<String>,
        /// A grant type it may use (repeatable; default authorization_code and refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Scopes it may request (repeatable, or space separated).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A resource indicator (audience) it may request (repeatable; RFC 8707).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// A first-party client: users are not asked for consent.
        #[arg(long)]
        first_party: bool,
        /// May obtain the `tessera:admin` scope for the admin API.
        #[arg(long)]
        admin: bool,
        /// Let a confidential client skip PKCE (public clients always use it).
        #[arg(long)]
        pkce_optional: bool,
        /// Access token lifetime for this client, in seconds.
        #[arg(long)]
        access_token_ttl: Option<i64>,
    },
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// client_id.
        id: String,
    },
    /// Delete a client.
    Remove {
        /// client_id.
        id: String,
    },
    /// Issue a new secret; the previous one keeps working for `clients.secret_overlap_seconds`.
    RotateSecret {
        /// client_id.
        id: String,
    },
}

/// The JSON form of a client (never its secret hash).
pub fn client_json(c: &Client) -> serde_json::Value {
    json!({
        "client_id": c.id.as_str(),
        "client_name": c.name,
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "redirect_uris": c.redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        "post_logout_redirect_uris": c.post_logout_redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "resources": c.resources,
        "first_party": c.first_party,
        "admin": c.admin,
        "require_pkce": c.require_pkce,
        "access_token_ttl": c.access_token_ttl,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn parse_client_id(s: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(s).map_err(|e| anyhow!("invalid client id: {e}"))
}

fn parse_uris(values: &[String]) -> anyhow::Result<Vec<RedirectUri>> {
    values.iter().map(|u| RedirectUri::parse(u).map_err(|e| anyhow!("{u}: {e}"))).collect()
}

/// Checks a resource indicator: an absolute URI without fragment (RFC 8707 §2).
pub fn parse_resource(s: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(s).map_err(|_| anyhow!("resource {s:?} is not an absolute URI"))?;
    anyhow::ensure!(url.fragment().is_none(), "resource {s:?} must not contain a fragment");
    Ok(s.to_owned())
}

fn not_found(id: &ClientId) -> impl FnOnce(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound => anyhow!("no client {id}"),
        other => other.into(),
    }
}

pub(super) async fn run(cmd: ClientsCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let now = crate::domain::now();
    match cmd {
        ClientsCommand::Add {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            auth_method,
            grant_types,
            scopes,
            resources,
            first_party,
            admin,
            pkce_optional,
            access_token_ttl,
        } => {
            anyhow::ensure!(!name.trim().is_empty() && name.len() <= 200, "--name must be 1 to 200 characters");
            let auth_method = match (public, auth_method) {
                (true, Some(_)) => return Err(anyhow!("--public clients have no --auth-method")),
                (true, None) => ClientAuthMethod::None,
                (false, Some(m)) => m.parse().map_err(|e: String| anyhow!(e))?,
                (false, None) => ClientAuthMethod::ClientSecretBasic,
            };
            let mut grants: Vec<GrantType> = if grant_types.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                grant_types.iter().map(|g| g.parse().map_err(|e: String| anyhow!(e))).collect::<Result<_, _>>()?
            };
            grants.sort();
            grants.dedup();
            if public && grants.contains(&GrantType::ClientCredentials) {
                return Err(anyhow!("public clients cannot use client_credentials"));
            }
            let redirect_uris = parse_uris(&redirect_uris)?;
            if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
                return Err(anyhow!("authorization_code clients need at least one --redirect-uri"));
            }
            let scope =
                if scopes.is_empty() { Scope::parse(DEFAULT_CLIENT_SCOPE) } else { Scope::parse(&scopes.join(" ")) }
                    .map_err(|e| anyhow!("--scope: {e}"))?;
            if scope.contains(crate::domain::scope::ADMIN_SCOPE) && !admin {
                return Err(anyhow!("only --admin clients may have the {} scope", crate::domain::scope::ADMIN_SCOPE));
            }
            let resources = resources.iter().map(|r| parse_resource(r)).collect::<Result<Vec<_>, _>>()?;
            if let Some(ttl) = access_token_ttl {
                anyhow::ensure!(ttl > 0, "--access-token-ttl must be greater than 0");
            }
            let secret =
                matches!(auth_method, ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost)
                    .then(PlainSecret::generate);
            let mut scope = scope;
            if admin {
                scope =
                    Scope::parse(&format!("{scope} {}", crate::domain::scope::ADMIN_SCOPE)).map_err(|e| anyhow!(e))?;
            }
            let client = Client {
                id: ClientId::generate(),
                name,
                secret_hash: secret.as_ref().map(PlainSecret::hash),
                previous_secret: None,
                auth_method,
                redirect_uris,
                post_logout_redirect_uris: parse_uris(&post_logout_redirect_uris)?,
                grant_types: grants,
                scope,
                resources,
                first_party,
                admin,
                require_pkce: public || !pkce_optional,
                access_token_ttl,
                metadata: ClientMetadata::default(),
                created_at: now,
                updated_at: now,
                revoked_before: None,
            };
            store.create_client(&client).await?;
            let mut value = client_json(&client);
            if let Some(s) = &secret {
                value["client_secret"] = json!(s.expose());
            }
            out.print(&value, || {
                let mut text = format!("client_id:     {}", client.id);
                if let Some(s) = &secret {
                    text.push_str(&format!(
                        "\nclient_secret: {}\n(the secret is shown only now; store it safely)",
                        s.expose()
                    ));
                }
                text
            });
        }
        ClientsCommand::List => {
            let mut all = Vec::new();
            let mut after: Option<ClientId> = None;
            loop {
                let page = store.list_clients(after.as_ref(), 500).await?;
                let done = page.len() < 500;
                after = page.last().map(|c| c.id.clone());
                all.extend(page);
                if done {
                    break;
                }
            }
            out.print(&json!({ "clients": all.iter().map(client_json).collect::<Vec<_>>() }), || {
                all.iter()
                    .map(|c| {
                        format!(
                            "{:<24} {:<20} {}  created {}",
                            c.id.as_str(),
                            c.auth_method.as_str(),
                            c.name,
                            human_time(c.created_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ClientsCommand::Show { id } => {
            let id = parse_client_id(&id)?;
            let client = store.client(&id).await?.ok_or_else(|| anyhow!("no client {id}"))?;
            let value = client_json(&client);
            out.print(&value, || serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        ClientsCommand::Remove { id } => {
            let id = parse_client_id(&id)?;
            store.delete_client(&id).await.map_err(not_found(&id))?;
            out.print(&json!({ "client_id": id.as_str(), "removed": true }), || format!("removed client {id}"));
        }
        ClientsCommand::RotateSecret { id } => {
            let id = parse_client_id(&id)?;
            let mut client = store.client(&id).await?.ok_or_else(|| anyhow!("no client {id}"))?;
            let old = client.secret_hash.take().ok_or_else(|| {
                anyhow!("client {id} authenticates with {}, not a secret", client.auth_method.as_str())
            })?;
            let secret = PlainSecret::generate();
            let until = now + settings.clients.secret_overlap;
            client.secret_hash = Some(secret.hash());
            client.previous_secret = Some((old, until));
            client.updated_at = now;
            store.update_client(&client).await.map_err(not_found(&id))?;
            out.print(
                &json!({ "client_id": id.as_str(), "client_secret": secret.expose(), "previous_secret_expires_at": until }),
                || format!("client_secret: {}\nthe previous secret works until {}", secret.expose(), human_time(until)),
            );
        }
    }
    Ok(())
}
