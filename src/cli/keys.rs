//! `tessera keys list | rotate | import`.
use super::{human_time, Output};
use crate::config::Settings;
use crate::startup;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

/// Key ring commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show the keys with their state (next, current, retired).
    List,
    /// Stage a new key: published now, signing after `keys.publish_ahead_seconds`.
    Rotate {
        /// Sign with the new key at once (for a compromised key; clients refetch the JWKS on the new kid).
        #[arg(long)]
        now: bool,
    },
    /// Import an RSA private key (PEM, PKCS#1 or PKCS#8), staged like `rotate`.
    Import {
        /// The PEM file.
        pem: PathBuf,
        /// Sign with it at once.
        #[arg(long)]
        now: bool,
    },
}

pub(super) async fn run(cmd: KeysCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let ring = startup::open_operator_key_ring(settings, &store).await?;
    let now = crate::domain::now();
    match cmd {
        KeysCommand::List => {
            let keys = ring.snapshot().list(now);
            out.print(&serde_json::json!({ "keys": keys }), || {
                keys.iter()
                    .map(|k| {
                        format!(
                            "{:<8} {}  {}  signs from {}{}",
                            k.state,
                            k.kid,
                            k.alg,
                            human_time(k.activates_at),
                            k.retired_at.map(|t| format!(", retired {}", human_time(t))).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCommand::Rotate { now: immediately } => {
            let r = ring.rotate(now, immediately).await?;
            out.print(&serde_json::to_value(&r)?, || {
                if r.created {
                    format!("new key {} signs from {}", r.kid, human_time(r.activates_at))
                } else {
                    format!("key {} is already staged and signs from {}", r.kid, human_time(r.activates_at))
                }
            });
        }
        KeysCommand::Import { pem, now: immediately } => {
            let text = std::fs::read_to_string(&pem).with_context(|| format!("reading {}", pem.display()))?;
            let r = ring.import(&text, now, immediately).await?;
            out.print(&serde_json::to_value(&r)?, || {
                format!("imported key {} signs from {}", r.kid, human_time(r.activates_at))
            });
        }
    }
    Ok(())
}
