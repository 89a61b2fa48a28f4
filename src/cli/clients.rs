//! `tessera clients …`.
use super::{human_time, Output};
use crate::config::Settings;
use crate::domain::client_rules::{ClientRuleError, MAX_CLIENT_NAME_LEN};
use crate::domain::scope::ADMIN_SCOPE;
use crate::domain::{ClientId, UserId};
use crate::oauth::admin::{self, client_json, AdminError, ClientInputError, ClientSpec};
use crate::startup;
use crate::storage::{ClientStore, StoreError, UserStore};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;
use std::path::Path;

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
        /// `native` for an app on the user's device, `web` otherwise (default: native when a redirect URI has a
        /// private-use scheme such as `com.example.app:/cb`, else web).
        #[arg(long, value_parser = ["web", "native"])]
        application_type: Option<String>,
        /// A grant type it may use (repeatable; default authorization_code and refresh_token, or
        /// client_credentials for an --admin client without --redirect-uri; the device grant is
        /// urn:ietf:params:oauth:grant-type:device_code, token exchange
        /// urn:ietf:params:oauth:grant-type:token-exchange).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Scopes it may request (repeatable, or space separated).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A resource indicator (audience) it may request (repeatable; RFC 8707).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// A first-party client: users are not asked for consent (unless it sends prompt=consent).
        #[arg(long)]
        first_party: bool,
        /// May obtain the `tessera:admin` scope for the admin API.
        #[arg(long)]
        admin: bool,
        /// Let a confidential client skip PKCE (public clients always use it).
        #[arg(long)]
        pkce_optional: bool,
        /// Access token lifetime for this client, in seconds; at most `tokens.max_access_token_ttl_seconds`.
        #[arg(long)]
        access_token_ttl: Option<i64>,
        /// Use this client_id instead of a generated one (e.g. when migrating from another server).
        #[arg(long)]
        client_id: Option<String>,
        /// Read the client secret from standard input instead of generating one (at least 12 characters;
        /// it is stored as SHA-256, so a secret from elsewhere should be long and random).
        #[arg(long)]
        client_secret_stdin: bool,
        /// For `--auth-method private_key_jwt` or signed request objects: a file with the client's public keys as
        /// a JWK Set (JSON).
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks: Option<std::path::PathBuf>,
        /// For `--auth-method private_key_jwt` or signed request objects: where the client publishes its JWK Set
        /// (http or https).
        #[arg(long)]
        jwks_uri: Option<String>,
        /// The client must push its authorization requests (`POST /par`, RFC 9126): `/authorize` refuses its
        /// requests without a `request_uri`.
        #[arg(long)]
        require_par: bool,
        /// The client gets DPoP-bound access tokens only (RFC 9449 §5.2): the token endpoint refuses its requests
        /// without a DPoP proof.
        #[arg(long)]
        dpop_bound_access_tokens: bool,
        /// The client must send its authorization requests as signed request objects (`request`, RFC 9101), to
        /// `/authorize` or `/par`; needs `--jwks` or `--jwks-uri`.
        #[arg(long)]
        require_signed_request_object: bool,
        /// The one algorithm the client's request objects may be signed with.
        #[arg(long, value_parser = ["RS256", "ES256"])]
        request_object_signing_alg: Option<String>,
        /// An authentication level the client's authorization requests ask for when they name none
        /// (`default_acr_values`: 1 or 2), in order of preference; repeatable.
        #[arg(long = "default-acr-value")]
        default_acr_values: Vec<String>,
        /// Where the client is sent a logout token when a session it was issued tokens in ends (OpenID Connect
        /// Back-Channel Logout 1.0): https, or http on a loopback address.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Registers `backchannel_logout_session_required`: the client needs `sid` in its logout tokens (Tessera
        /// always sends it when the session has one).
        #[arg(long, requires = "backchannel_logout_uri")]
        backchannel_logout_session_required: bool,
        /// Where the signed-out page loads the client in a hidden frame when a session it was issued tokens in
        /// ends in the browser (OpenID Connect Front-Channel Logout 1.0): https, or http on a loopback address,
        /// on the scheme, host and port of one of its redirect URIs.
        #[arg(long)]
        frontchannel_logout_uri: Option<String>,
        /// Registers `frontchannel_logout_session_required`: the client needs `iss` and `sid` on its front-channel
        /// logout URI (Tessera always adds them).
        #[arg(long, requires = "frontchannel_logout_uri")]
        frontchannel_logout_session_required: bool,
        /// Which `sub` the client sees (OpenID Connect Core 1.0 §8): `public`, the user's id, or `pairwise`, one
        /// of its sector alone.
        #[arg(long, value_parser = ["public", "pairwise"])]
        subject_type: Option<String>,
        /// For `--subject-type pairwise`: a JSON array of the client's redirect URIs whose host is its sector
        /// (https, or http on a loopback address), fetched now; without it, the redirect URIs must share one host.
        #[arg(long)]
        sector_identifier_uri: Option<String>,
    },
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// client_id (ids registered before may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete a client.
    Remove {
        /// client_id (ids registered before may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Issue a new secret; the previous one keeps working for `clients.secret_overlap_seconds`.
    RotateSecret {
        /// client_id (ids registered before may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Revoke every token issued to the client so far.
    RevokeTokens {
        /// client_id (ids registered before may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

fn parse_client_id(s: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(s).map_err(|e| anyhow!("invalid client id: {e}"))
}

/// A client rule error (shared with dynamic registration), phrased with the flags of `clients add`.
fn rule_error(e: ClientRuleError) -> anyhow::Error {
    match e {
        ClientRuleError::Name => {
            anyhow!(
                "--name must be 1 to {MAX_CLIENT_NAME_LEN} characters, without control or invisible formatting characters"
            )
        }
        ClientRuleError::RedirectUri { uri, reason } => anyhow!("--redirect-uri {uri}: {reason}"),
        ClientRuleError::CodeWithoutRedirectUri => {
            anyhow!("authorization_code clients need at least one --redirect-uri")
        }
        ClientRuleError::PublicClientCredentials => anyhow!("--public clients cannot use client_credentials"),
        ClientRuleError::PublicTokenExchange => anyhow!("--public clients cannot use token exchange"),
        ClientRuleError::AdminScope => anyhow!("only --admin clients may have the {ADMIN_SCOPE} scope"),
        ClientRuleError::KeysRequired => anyhow!("private_key_jwt clients need --jwks <file> or --jwks-uri <url>"),
        ClientRuleError::KeysWithoutPrivateKeyJwt => anyhow!(
            "--jwks and --jwks-uri are for --auth-method private_key_jwt, --require-signed-request-object or \
             --request-object-signing-alg"
        ),
        ClientRuleError::RequestObjectKeysRequired => {
            anyhow!("--require-signed-request-object needs --jwks <file> or --jwks-uri <url>")
        }
        ClientRuleError::SectorIdentifierUri { uri, reason } => anyhow!("--sector-identifier-uri {uri}: {reason}"),
        ClientRuleError::PairwiseSector => anyhow!(
            "a --subject-type pairwise client needs --sector-identifier-uri, or --redirect-uri values that all \
             share one host"
        ),
        other => anyhow!("{other}"),
    }
}

/// A refused client description, phrased with the flags of `clients add`; `jwks` is the file given.
fn input_error(e: ClientInputError, jwks: Option<&Path>) -> anyhow::Error {
    match e {
        ClientInputError::Rule(e) => rule_error(e),
        ClientInputError::PostLogoutRedirectUri(e) => anyhow!("--post-logout-redirect-uri: {e}"),
        ClientInputError::AuthMethod(m) => anyhow!(m),
        ClientInputError::ApplicationType(m) => anyhow!("--application-type: {m}"),
        ClientInputError::Scope(e) => anyhow!("--scope: {e}"),
        ClientInputError::Resource(m) => anyhow!(m),
        ClientInputError::AccessTokenTtl { max } => {
            anyhow!("--access-token-ttl must be from 1 to {max} seconds (tokens.max_access_token_ttl_seconds)")
        }
        ClientInputError::PublicWithoutPkce => anyhow!("--public clients always use PKCE"),
        ClientInputError::KeysMissing => anyhow!("private_key_jwt clients need --jwks <file> or --jwks-uri <url>"),
        ClientInputError::Jwks(m) => match jwks {
            Some(path) => anyhow!("{}: {m}", path.display()),
            None => anyhow!("--jwks: {m}"),
        },
        ClientInputError::JwksUri(m) => anyhow!("--jwks-uri: {m}"),
        ClientInputError::SecretWithoutSecretMethod => {
            anyhow!("--client-secret-stdin is for clients that authenticate with a secret")
        }
        ClientInputError::RequestObjectSigningAlg => anyhow!("--request-object-signing-alg must be RS256 or ES256"),
        ClientInputError::DefaultAcrValues => anyhow!("--default-acr-value must be 1 or 2, each given once"),
        ClientInputError::SubjectType(m) => anyhow!("--subject-type: {m}"),
        ClientInputError::SectorIdentifier(m) => anyhow!("--sector-identifier-uri: {m}"),
    }
}

/// An admin operation's error as a command's.
fn admin_error(e: AdminError, jwks: Option<&Path>) -> anyhow::Error {
    match e {
        AdminError::Client(e) => input_error(e, jwks),
        AdminError::Store(e) => e.into(),
        other => anyhow!("{other}"),
    }
}

/// Reads the JWK Set file of `--jwks`.
fn read_jwks(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read(path).map_err(|e| anyhow!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| anyhow!("{}: not JSON: {e}", path.display()))
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
            application_type,
            grant_types,
            scopes,
            resources,
            first_party,
            admin,
            pkce_optional,
            access_token_ttl,
            jwks,
            jwks_uri,
            require_par,
            dpop_bound_access_tokens,
            require_signed_request_object,
            request_object_signing_alg,
            default_acr_values,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            frontchannel_logout_uri,
            frontchannel_logout_session_required,
            subject_type,
            sector_identifier_uri,
            client_id,
            client_secret_stdin,
        } => {
            let id = match client_id {
                Some(raw) => parse_client_id(&raw)?,
                None => ClientId::generate(),
            };
            // A client's own tokens name it as their subject (RFC 9068 §5): never the id of a user.
            if let Ok(user_id) = UserId::parse(id.as_str()) {
                anyhow::ensure!(
                    store.user_by_id(&user_id).await?.is_none(),
                    "a user has the id {id}: the client's tokens would name that user as their subject"
                );
            }
            let imported = if client_secret_stdin {
                let s = super::read_stdin_line("client secret")?;
                anyhow::ensure!(s.chars().count() >= 12, "the client secret must be at least 12 characters");
                if s.chars().count() < 32 {
                    eprintln!("warning: a client secret shorter than 32 characters is easier to guess");
                }
                Some(crate::domain::secret::PlainSecret::new(s))
            } else {
                None
            };
            let auth_method = match (public, auth_method) {
                (true, Some(_)) => return Err(anyhow!("--public clients have no --auth-method")),
                (true, None) => Some("none".to_owned()),
                (false, m) => m,
            };
            let mut spec = ClientSpec::named(name);
            spec.redirect_uris = redirect_uris;
            spec.post_logout_redirect_uris = post_logout_redirect_uris;
            spec.token_endpoint_auth_method = auth_method;
            spec.application_type = application_type;
            spec.grant_types = (!grant_types.is_empty()).then_some(grant_types);
            spec.scope = (!scopes.is_empty()).then(|| scopes.join(" "));
            spec.resources = resources;
            spec.first_party = first_party;
            spec.admin = admin;
            spec.require_pkce = Some(public || !pkce_optional);
            spec.access_token_ttl = access_token_ttl;
            spec.jwks = jwks.as_deref().map(read_jwks).transpose()?;
            spec.jwks_uri = jwks_uri;
            spec.require_pushed_authorization_requests = require_par.then_some(true);
            spec.dpop_bound_access_tokens = dpop_bound_access_tokens.then_some(true);
            spec.require_signed_request_object = require_signed_request_object.then_some(true);
            spec.request_object_signing_alg = request_object_signing_alg;
            spec.default_acr_values = default_acr_values;
            spec.backchannel_logout_uri = backchannel_logout_uri;
            spec.backchannel_logout_session_required = backchannel_logout_session_required;
            spec.frontchannel_logout_uri = frontchannel_logout_uri;
            spec.frontchannel_logout_session_required = frontchannel_logout_session_required;
            spec.subject_type = subject_type;
            spec.sector_identifier_uri = sector_identifier_uri;
            let fetcher = crate::outbound::HttpJwksFetcher::new(crate::outbound::FETCH_TIMEOUT)?;
            let max_ttl = settings.tokens.max_access_token_ttl;
            let (client, secret) = admin::create_client_as(&store, &fetcher, &spec, id, imported, max_ttl, now)
                .await
                .map_err(|e| admin_error(e, jwks.as_deref()))?;
            super::record(
                &store,
                "client_created",
                None,
                Some(client.id.as_str()),
                json!({ "client_name": client.name }),
            )
            .await;
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
                            "{:<24} {:<20} {}  created {}  {}",
                            c.id.as_str(),
                            c.auth_method.as_str(),
                            c.name,
                            human_time(c.created_at),
                            c.application_type.as_str()
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
            startup::advance_revocation_epoch(settings).await;
            super::record(&store, "client_deleted", None, Some(id.as_str()), json!({})).await;
            out.print(&json!({ "client_id": id.as_str(), "removed": true }), || format!("removed client {id}"));
        }
        ClientsCommand::RevokeTokens { id } => {
            let id = parse_client_id(&id)?;
            if store.client(&id).await?.is_none() {
                return Err(anyhow!("no client {id}"));
            }
            let provider = startup::open_provider(settings, &store).await?;
            // The cut-off is taken now, not when the command started: it must cover what was issued meanwhile.
            let revoked_at = crate::domain::now();
            provider.revoke_client(&id, &super::cli_meta(), revoked_at).await.map_err(|e| anyhow!("{e:?}"))?;
            out.print(&json!({ "client_id": id.as_str(), "revoked": true }), || {
                format!("revoked every token issued to {id} so far")
            });
        }
        ClientsCommand::RotateSecret { id } => {
            let id = parse_client_id(&id)?;
            let (secret, until) = admin::rotate_client_secret(&store, &id, settings.clients.secret_overlap, now)
                .await
                .map_err(|e| admin_error(e, None))?;
            super::record(&store, "client_secret_rotated", None, Some(id.as_str()), json!({ "previous_until": until }))
                .await;
            out.print(
                &json!({ "client_id": id.as_str(), "client_secret": secret.expose(), "previous_secret_expires_at": until }),
                || format!("client_secret: {}\nthe previous secret works until {}", secret.expose(), human_time(until)),
            );
        }
    }
    Ok(())
}
