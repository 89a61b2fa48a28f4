//! `tessera registration …`: initial access tokens for dynamic client registration (`POST /register` when
//! `registration.mode = "token"`).
use super::{human_time, Output};
use crate::config::{RegistrationMode, Settings};
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::UnixTime;
use crate::startup;
use crate::storage::{InitialAccessToken, RegistrationStore, StoreError};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

/// Longest lifetime of an initial access token.
const MAX_EXPIRES_IN: i64 = 366 * 86_400;

/// Registration commands.
#[derive(Debug, Subcommand)]
pub enum RegistrationCommand {
    /// Issue an initial access token for `POST /register`; it is printed once and works for any number of
    /// registrations until it expires.
    Token {
        /// How long it works: a number with s, m, h or d (30m, 12h, 1d, 7d).
        #[arg(long, default_value = "1d", value_parser = parse_duration)]
        expires_in: i64,
    },
    /// Withdraw initial access tokens before they expire: the one read from standard input, or all of them.
    /// Clients already registered with them are not touched.
    Revoke {
        /// Read the token to withdraw from standard input.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        token_stdin: bool,
        /// Withdraw every initial access token (when the one that leaked is not known).
        #[arg(long)]
        all: bool,
    },
}

/// Seconds in a duration written as a number and a unit: `s`, `m`, `h` or `d` (`30m`, `12h`, `7d`), at least
/// one second and at most 366 days.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a duration like 30m, 12h, 1d or 7d");
    let s = s.trim();
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = s.split_at(unit_at);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let seconds = number.checked_mul(unit).ok_or_else(bad)?;
    if !(1..=MAX_EXPIRES_IN).contains(&seconds) {
        return Err(format!("{s:?} must be between 1s and 366d"));
    }
    Ok(seconds)
}

pub(super) async fn run(cmd: RegistrationCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let now = crate::domain::now();
    match cmd {
        RegistrationCommand::Token { expires_in } => {
            // Housekeeping: expired tokens only take room.
            store.purge_expired_initial_access_tokens(now).await?;
            let token = PlainSecret::generate();
            let expires_at = now.checked_add(expires_in).ok_or_else(|| anyhow!("--expires-in is too long"))?;
            let hash = token.hash();
            store
                .create_initial_access_token(&InitialAccessToken { hash: hash.clone(), created_at: now, expires_at })
                .await?;
            // The hash names the token in the audit trail (`client_registered` carries it) and is no secret.
            let details = json!({ "initial_access_token": hash.as_str(), "expires_at": expires_at });
            super::record(&store, "initial_access_token_issued", None, None, details).await;
            let mode = settings.registration;
            let shown = json!({ "token": token.expose(), "expires_at": expires_at, "hash": hash.as_str() });
            out.print(&shown, || {
                let mut text = format!(
                    "initial access token: {}\nexpires:              {}\naudit name:           {}\n(the token is \
                     shown only now; send it as `Authorization: Bearer <token>` to POST /register)",
                    token.expose(),
                    human_time(expires_at),
                    hash.as_str()
                );
                if mode != RegistrationMode::Token {
                    let mode = if mode == RegistrationMode::Open { "open" } else { "off" };
                    text.push_str(&format!(
                        "\nnote: registration.mode is {mode}, so /register does not ask for this token"
                    ));
                }
                text
            });
        }
        RegistrationCommand::Revoke { all, .. } => {
            let (revoked, details) = if all {
                // Every token expires before the end of time.
                let revoked = store.purge_expired_initial_access_tokens(UnixTime::MAX).await?;
                (revoked, json!({ "all": true, "count": revoked }))
            } else {
                // Without --all, clap required --token-stdin.
                let hash = SecretHash::of(&super::read_stdin_line("initial access token")?);
                match store.delete_initial_access_token(&hash).await {
                    Ok(()) => (1, json!({ "initial_access_token": hash.as_str() })),
                    Err(StoreError::NotFound) => {
                        return Err(anyhow!("no such initial access token (it may have expired)"))
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            super::record(&store, "initial_access_token_withdrawn", None, None, details).await;
            out.print(&json!({ "revoked": revoked }), || format!("initial access tokens withdrawn: {revoked}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("45s"), Ok(45));
        for bad in ["", "d", "10", "1w", "-1d", "1.5h", "0m", "367d", "99999999999999999999d", "1 d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
