//! The audit trail's store: security events, and the filters and cursor that list them.
use super::StoreResult;
use crate::domain::UnixTime;
use async_trait::async_trait;

/// A security event (audit trail). Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Event id.
    pub id: String,
    /// When.
    pub at: UnixTime,
    /// What, e.g. `refresh_token_reuse`, `login_failed`, `key_rotated`.
    pub kind: String,
    /// Who acted (a user id, a client id, or `cli`).
    pub actor: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The client concerned.
    pub client_id: Option<String>,
    /// Source IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Anything else, as JSON.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event id. UUIDv7: ids sort as they were made (to the millisecond across instances, and in order
    /// within one process), so the events of one second list in the order they happened.
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only this client's.
    pub client_id: Option<String>,
    /// Only at or after this time.
    pub since: Option<UnixTime>,
    /// Only events of these kinds (`login_failed`, …); every kind when empty.
    pub kinds: Vec<String>,
    /// Only events listed after this one (older, or as old with a smaller id): the next page.
    pub after: Option<AuditCursor>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Where a page of the audit trail ended: the time and id of its last event, written `<at>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    /// The event's time.
    pub at: UnixTime,
    /// The event's id.
    pub id: String,
}

impl AuditCursor {
    /// The cursor of `event`.
    pub fn of(event: &AuditEvent) -> Self {
        Self { at: event.at, id: event.id.clone() }
    }

    /// Reads `<at>.<id>` as [`AuditCursor::to_string`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        let (at, id) = s.split_once('.')?;
        let at = at.parse().ok().filter(|_| at.bytes().all(|b| b.is_ascii_digit()))?;
        (!id.is_empty() && id.len() <= 64).then(|| Self { at, id: id.to_owned() })
    }
}

impl std::fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Records an event.
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Events matching `filter`, newest first.
    async fn list_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
}
