//! `tessera clients …`.
use super::{human_time, Output};
use crate::config::Settings;
use crate::domain::client_rules::{self, ClientRuleError, MAX_CLIENT_NAME_LEN};
use crate::domain::scope::ADMIN_SCOPE;
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
// Parsed once per process: the size of the `Add` variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
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
        /// For `--auth-method private_key_jwt`: a file with the client's public keys as a JWK Set (JSON).
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// For `--auth-method private_key_jwt`: where the client publishes its JWK Set (http or https).
        #[arg(long)]
        jwks_uri: Option<String>,
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
    /// Revoke every token issued to the client so far.
    RevokeTokens {
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
        "jwks_uri": c.metadata.jwks_uri,
        "jwks": c.metadata.jwks,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn parse_client_id(s: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(s).map_err(|e| anyhow!("invalid client id: {e}"))
}

/// A client rule error (shared with dynamic registration), phrased with the flags of `clients add`.
fn rule_error(e: ClientRuleError) -> anyhow::Error {
    match e {
        ClientRuleError::Name => {
            anyhow!("--name must be 1 to {MAX_CLIENT_NAME_LEN} characters, without control characters")
        }
        ClientRuleError::RedirectUri { uri, reason } => anyhow!("--redirect-uri {uri}: {reason}"),
        ClientRuleError::CodeWithoutRedirectUri => {
            anyhow!("authorization_code clients need at least one --redirect-uri")
        }
        ClientRuleError::PublicClientCredentials => anyhow!("--public clients cannot use client_credentials"),
        ClientRuleError::AdminScope => anyhow!("only --admin clients may have the {ADMIN_SCOPE} scope"),
        other => anyhow!("{other}"),
    }
}

/// Checks a resource indicator: an absolute URI without fragment (RFC 8707 §2).
pub fn parse_resource(s: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(s).map_err(|_| anyhow!("resource {s:?} is not an absolute URI"))?;
    anyhow::ensure!(url.fragment().is_none(), "resource {s:?} must not contain a fragment");
    Ok(s.to_owned())
}

/// The key metadata of a new client: `private_key_jwt` clients need exactly one of an inline JWK Set (public
/// keys only) or a `jwks_uri`; other clients have neither.
fn key_metadata(
    auth_method: ClientAuthMethod,
    jwks: Option<&std::path::Path>,
    jwks_uri: Option<&str>,
) -> anyhow::Result<ClientMetadata> {
    use crate::oauth::client_keys::{parse_jwks_uri, ClientJwks};
    if auth_method != ClientAuthMethod::PrivateKeyJwt {
        anyhow::ensure!(
            jwks.is_none() && jwks_uri.is_none(),
            "--jwks and --jwks-uri are for --auth-method private_key_jwt"
        );
        return Ok(ClientMetadata::default());
    }
    let mut metadata = ClientMetadata::default();
    match (jwks, jwks_uri) {
        (Some(path), None) => {
            let text = std::fs::read(path).map_err(|e| anyhow!("reading {}: {e}", path.display()))?;
            let value: serde_json::Value =
                serde_json::from_slice(&text).map_err(|e| anyhow!("{}: not JSON: {e}", path.display()))?;
            ClientJwks::parse(&value).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            metadata.jwks = Some(value);
        }
        (None, Some(uri)) => {
            metadata.jwks_uri = Some(parse_jwks_uri(uri).map_err(|e| anyhow!("--jwks-uri: {e}"))?.to_string());
        }
        _ => return Err(anyhow!("private_key_jwt clients need --jwks <file> or --jwks-uri <url>")),
    }
    Ok(metadata)
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
            jwks,
            jwks_uri,
        } => {
            let auth_method = match (public, auth_method) {
                (true, Some(_)) => return Err(anyhow!("--public clients have no --auth-method")),
                (true, None) => ClientAuthMethod::None,
                (false, Some(m)) => m.parse().map_err(|e: String| anyhow!(e))?,
                (false, None) => ClientAuthMethod::ClientSecretBasic,
            };
            let grants = if grant_types.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                client_rules::parse_grant_types(&grant_types).map_err(rule_error)?
            };
            let redirect_uris = client_rules::parse_redirect_uris(&redirect_uris).map_err(rule_error)?;
            let post_logout_redirect_uris = client_rules::parse_redirect_uris(&post_logout_redirect_uris)
                .map_err(|e| anyhow!("--post-logout-redirect-uri: {e}"))?;
            let scope =
                if scopes.is_empty() { Scope::parse(DEFAULT_CLIENT_SCOPE) } else { Scope::parse(&scopes.join(" ")) }
                    .map_err(|e| anyhow!("--scope: {e}"))?;
            let resources = resources.iter().map(|r| parse_resource(r)).collect::<Result<Vec<_>, _>>()?;
            let metadata = key_metadata(auth_method, jwks.as_deref(), jwks_uri.as_deref())?;
            if let Some(ttl) = access_token_ttl {
                anyhow::ensure!(ttl > 0, "--access-token-ttl must be greater than 0");
            }
            let secret = client_rules::secret_for(auth_method);
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
                post_logout_redirect_uris,
                grant_types: grants,
                scope,
                resources,
                first_party,
                admin,
                require_pkce: public || !pkce_optional,
                access_token_ttl,
                metadata,
                created_at: now,
                updated_at: now,
                revoked_before: None,
            };
            client_rules::check_client(&client).map_err(rule_error)?;
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
        ClientsCommand::RevokeTokens { id } => {
            let id = parse_client_id(&id)?;
            if store.client(&id).await?.is_none() {
                return Err(anyhow!("no client {id}"));
            }
            let provider = startup::open_provider(settings, &store).await?;
            provider.revoke_client(&id, &super::cli_meta(), now).await.map_err(|e| anyhow!("{e:?}"))?;
            out.print(&json!({ "client_id": id.as_str(), "revoked": true }), || {
                format!("revoked every token issued to {id} so far")
            });
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
