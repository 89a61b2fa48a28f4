//! `tessera audit list`.
use super::{human_time, Output};
use crate::config::Settings;
use crate::domain::{ClientId, Username};
use crate::startup;
use crate::storage::{AuditCursor, AuditFilter, AuditStore, UserStore};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

/// Audit trail commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Security events, newest first.
    List {
        /// Only events about this user: a username, or a user id (also of a deleted user).
        #[arg(long)]
        user: Option<String>,
        /// Only events about this client (client_id).
        #[arg(long)]
        client: Option<String>,
        /// Only events since this time: a Unix time, or an age like 30m, 12h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// Only events of this type (`kind`), such as login_failed; repeatable, or comma-separated.
        #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
        types: Vec<String>,
        /// At most this many events (up to 1000); the JSON output's `next` continues the list.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=MAX_LIMIT))]
        limit: i64,
        /// Continue after an earlier listing: the `next` it gave.
        #[arg(long)]
        after: Option<String>,
    },
}

/// The most events one listing shows (the store's own ceiling).
const MAX_LIMIT: i64 = 1000;

/// Parses `--since`: a Unix time, or an age (`90s`, `30m`, `12h`, `7d`) counted back from `now`.
fn parse_since(s: &str, now: i64) -> anyhow::Result<i64> {
    if let Ok(t) = s.parse::<i64>() {
        return Ok(t);
    }
    let bad = || anyhow!("--since takes a Unix time or an age like 30m, 12h, 7d");
    // The unit is the last character, not the last byte: input may end in a multi-byte one.
    let mut chars = s.chars();
    let unit = match chars.next_back().ok_or_else(bad)? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = chars.as_str().parse().ok().filter(|n| *n >= 0).ok_or_else(bad)?;
    n.checked_mul(unit).and_then(|secs| now.checked_sub(secs)).ok_or_else(bad)
}

pub(super) async fn run(cmd: AuditCommand, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let store = startup::open_store(settings).await?;
    let AuditCommand::List { user, client, since, types, limit, after } = cmd;
    let kinds = crate::oauth::admin::event_types(types.iter().map(String::as_str)).map_err(|e| anyhow!("{e}"))?;
    let after = after
        .map(|a| AuditCursor::parse(&a).ok_or_else(|| anyhow!("--after takes the `next` of an earlier listing")))
        .transpose()?;
    let user_id = match user {
        Some(given) => {
            let name = Username::parse(&given).map_err(|e| anyhow!("invalid username: {e}"))?;
            match store.user_by_username(&name).await? {
                Some((u, _)) => Some(u.id.as_str().to_owned()),
                // A deleted user's events are found by the id they carry.
                None if uuid::Uuid::parse_str(&given).is_ok() => Some(given),
                None => return Err(anyhow!("no user named {name} (a deleted user is named by their id)")),
            }
        }
        None => None,
    };
    let client_id = match client {
        Some(c) => Some(ClientId::parse(c).map_err(|e| anyhow!("invalid client id: {e}"))?.as_str().to_owned()),
        None => None,
    };
    let since = since.map(|s| parse_since(&s, crate::domain::now())).transpose()?;
    // One more than shown tells whether the list goes on.
    let mut events =
        store.list_events(&AuditFilter { user_id, client_id, since, kinds, after, limit: limit + 1 }).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next = events.last().filter(|_| more).map(|e| AuditCursor::of(e).to_string());
    let as_json: Vec<_> = events.iter().map(crate::oauth::admin::audit_event_json).collect();
    out.print(&json!({ "events": as_json, "next": next }), || {
        let more = next.iter().map(|n| format!("(more: --after {n})"));
        events
            .iter()
            .map(|e| {
                format!(
                    "{}  {:<24} user={} client={} ip={} {}",
                    human_time(e.at),
                    e.kind,
                    e.user_id.as_deref().unwrap_or("-"),
                    e.client_id.as_deref().unwrap_or("-"),
                    e.ip.as_deref().unwrap_or("-"),
                    e.details
                )
            })
            .chain(more)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_unix_times_and_ages() {
        assert_eq!(super::parse_since("1700000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(super::parse_since("2h", 10_000).unwrap(), 10_000 - 7200);
        assert_eq!(super::parse_since("7d", 1_000_000).unwrap(), 1_000_000 - 604_800);
        assert!(super::parse_since("soon", 0).is_err());
    }

    #[test]
    fn since_refuses_without_panicking() {
        for bad in ["5é", "é", "", "d", "-5d", "1.5h", "99999999999999999d"] {
            assert!(super::parse_since(bad, 0).is_err(), "{bad:?}");
        }
        assert!(super::parse_since("1d", i64::MIN).is_err(), "an age before the earliest time");
    }
}
