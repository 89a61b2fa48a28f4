//! The `tessera` command line: serve, migrate, and the operator commands of DESIGN.md §12. Command and flag
//! names are a contract with operators' scripts: add, never rename. Every command takes `--json`.
mod audit;
mod clients;
mod groups;
mod keys;
mod registration;
mod users;

use crate::config::Settings;
use crate::startup::{self, Application};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Tessera, an OAuth 2.1 / OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// TOML configuration file (settings from `TESSERA__SECTION__KEY` variables override it).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
// Parsed once per process: the size of `clients add`'s flags costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage groups of users (the `groups` claim).
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Manage the signing key ring.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Dynamic client registration: initial access tokens.
    #[command(subcommand)]
    Registration(registration::RegistrationCommand),
    /// Read the audit trail of security events.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// Parses the process arguments, runs the command, and turns errors into a message and exit status 1
/// (2 for usage errors, from clap).
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    // Operator commands log only warnings, so their output stays readable and parseable.
    let mut log = settings.log.clone();
    if !matches!(cli.command, Command::Serve) {
        log.level = "warn".into();
    }
    crate::telemetry::init(&log);
    let out = Output { json: cli.json };
    match cli.command {
        Command::Serve => serve(settings, &out).await,
        Command::Migrate => {
            let (store, applied) = startup::migrate_store(&settings).await?;
            let backend = store.db().backend_name();
            let json = serde_json::json!({ "backend": backend, "status": "migrated", "applied": applied });
            out.print(&json, || match applied.as_slice() {
                [] => format!("{backend} database is up to date"),
                versions => format!("{backend} database migrated; applied: {}", versions.join(", ")),
            });
            Ok(())
        }
        Command::Users(cmd) => users::run(cmd, &settings, &out).await,
        Command::Clients(cmd) => clients::run(cmd, &settings, &out).await,
        Command::Groups(cmd) => groups::run(cmd, &settings, &out).await,
        Command::Keys(cmd) => keys::run(cmd, &settings, &out).await,
        Command::Registration(cmd) => registration::run(cmd, &settings, &out).await,
        Command::Audit(cmd) => audit::run(cmd, &settings, &out).await,
    }
}

async fn serve(settings: Settings, out: &Output) -> anyhow::Result<()> {
    let app = Application::build(settings.clone()).await?;
    let (port, management) = (app.port(), app.management_addr());
    out.print(&startup::serving(&settings, port, management), || startup::banner(&settings, port, management));
    app.run_until_stopped().await.context("server stopped with an error")
}

/// How a command prints: JSON for scripts, text for people.
pub struct Output {
    json: bool,
}

impl Output {
    /// Prints `value` as JSON, or the text `human` builds.
    pub fn print(&self, value: &serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }
}

/// The `actor` of the audit events of operators' commands.
pub(crate) const CLI_ACTOR: &str = "cli";
/// Their `user_agent`.
pub(crate) const CLI_USER_AGENT: &str = "tessera-cli";

/// Audit facts for commands run by an operator.
fn cli_meta() -> crate::oauth::audit::RequestMeta {
    crate::oauth::audit::RequestMeta { ip: None, user_agent: Some(CLI_USER_AGENT.into()), request_id: None }
}

/// Records an operator's change in the audit trail (actor `cli`). The change is already made, so a failed
/// write is reported on stderr rather than turned into a failed command.
async fn record(
    store: &crate::storage::diesel::DieselStore,
    kind: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    details: serde_json::Value,
) {
    use crate::storage::AuditStore;
    let meta = cli_meta();
    let event = crate::storage::AuditEvent {
        id: crate::storage::AuditEvent::new_id(),
        at: crate::domain::now(),
        kind: kind.to_owned(),
        actor: Some(CLI_ACTOR.into()),
        user_id: user_id.map(str::to_owned),
        client_id: client_id.map(str::to_owned),
        ip: meta.ip,
        user_agent: meta.user_agent,
        request_id: meta.request_id,
        details,
    };
    if let Err(e) = store.record_event(&event).await {
        eprintln!("warning: the audit event {kind} was not recorded: {e}");
    }
}

/// Reads a secret from standard input: the first line, without its line ending.
fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).with_context(|| format!("reading the {what} from standard input"))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!trimmed.is_empty(), "no {what} on standard input");
    Ok(trimmed)
}

/// Formats a Unix time for people (UTC, RFC 3339).
fn human_time(t: i64) -> String {
    let c = crate::domain::CivilTime::of(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_time_is_rfc3339_utc() {
        assert_eq!(super::human_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::human_time(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::human_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_passkey_id_may_begin_with_a_hyphen() {
        use clap::Parser;
        let cli = super::Cli::try_parse_from(["tessera", "users", "passkeys", "alice", "--remove", "-Vx_2"]).unwrap();
        let super::Command::Users(super::users::UsersCommand::Passkeys { remove, .. }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(remove.as_deref(), Some("-Vx_2"));
    }
}
