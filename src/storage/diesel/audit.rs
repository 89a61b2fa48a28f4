//! The `audit_events` table: rows <-> [`AuditEvent`], and [`AuditStore`] for [`DieselStore`].
//!
//! `details` is stored as JSON text. The table has no foreign keys, so events outlive the users and clients they
//! name; `user_id` and `client_id` are kept as plain text for the same reason.

use super::schema::audit_events;
use super::DieselStore;
use crate::storage::{AuditEvent, AuditFilter, AuditStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

/// How many events [`AuditStore::list_events`] returns when the filter sets no positive limit.
const DEFAULT_LIMIT: i64 = 100;
/// The most events one [`AuditStore::list_events`] call returns: a page of 1,000, and one more that tells
/// whether another page follows.
const MAX_LIMIT: i64 = 1001;

/// An `audit_events` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: String,
    at: i64,
    kind: String,
    actor: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    details: String,
}

fn row_from_event(event: &AuditEvent) -> StoreResult<AuditRow> {
    let details = serde_json::to_string(&event.details)
        .map_err(|e| StoreError::Backend(format!("cannot serialize audit event details: {e}")))?;
    Ok(AuditRow {
        id: event.id.clone(),
        at: event.at,
        kind: event.kind.clone(),
        actor: event.actor.clone(),
        user_id: event.user_id.clone(),
        client_id: event.client_id.clone(),
        ip: event.ip.clone(),
        user_agent: event.user_agent.clone(),
        request_id: event.request_id.clone(),
        details,
    })
}

fn event_from_row(row: AuditRow) -> StoreResult<AuditEvent> {
    let details = serde_json::from_str(&row.details)
        .map_err(|e| StoreError::Backend(format!("audit_events row {:?}: details are not JSON: {e}", row.id)))?;
    Ok(AuditEvent {
        id: row.id,
        at: row.at,
        kind: row.kind,
        actor: row.actor,
        user_id: row.user_id,
        client_id: row.client_id,
        ip: row.ip,
        user_agent: row.user_agent,
        request_id: row.request_id,
        details,
    })
}

/// The limit a filter asks for: [`DEFAULT_LIMIT`] when it asks for none, at most [`MAX_LIMIT`].
fn effective_limit(limit: i64) -> i64 {
    if limit <= 0 {
        DEFAULT_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    }
}

#[async_trait]
impl AuditStore for DieselStore {
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()> {
        let row = row_from_event(event)?;
        self.db()
            .write(move |c| {
                diesel::insert_into(audit_events::table).values(&row).execute(c).map_err(
                    |e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("audit event id".into()),
                        other => other,
                    },
                )?;
                Ok(())
            })
            .await
    }

    async fn list_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let filter = filter.clone();
        let limit = effective_limit(filter.limit);
        self.db()
            .run(move |c| {
                let mut query = audit_events::table
                    .select(AuditRow::as_select())
                    // id breaks ties between events of the same second, so pages are stable.
                    .order((audit_events::at.desc(), audit_events::id.desc()))
                    .limit(limit)
                    .into_boxed();
                if let Some(user_id) = filter.user_id {
                    query = query.filter(audit_events::user_id.eq(user_id));
                }
                if let Some(client_id) = filter.client_id {
                    query = query.filter(audit_events::client_id.eq(client_id));
                }
                if let Some(since) = filter.since {
                    query = query.filter(audit_events::at.ge(since));
                }
                if !filter.kinds.is_empty() {
                    // `audit_events_kind_at_idx` (kind, at, id): one kind is read newest first from the index.
                    query = query.filter(audit_events::kind.eq_any(filter.kinds));
                }
                if let Some(after) = filter.after {
                    query = query.filter(
                        audit_events::at
                            .lt(after.at)
                            .or(audit_events::at.eq(after.at).and(audit_events::id.lt(after.id))),
                    );
                }
                query.load(c)?.into_iter().map(event_from_row).collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{audit_event, both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::storage::AuditCursor;

    fn ids(events: &[AuditEvent]) -> Vec<&str> {
        events.iter().map(|e| e.id.as_str()).collect()
    }

    async fn list(t: &TestDb, filter: AuditFilter) -> Vec<AuditEvent> {
        t.store.list_events(&filter).await.unwrap()
    }

    async fn records_every_field(backend: Backend) {
        let t = TestDb::new(backend).await;
        let full = AuditEvent {
            actor: Some("admin «root»".into()),
            user_id: Some("9b2f6a8e-1c1f-4a55-9a37-3d2b3c1d0e4f".into()),
            client_id: Some("app".into()),
            ip: Some("2001:db8::1".into()),
            user_agent: Some("Mozilla/5.0 (X11; \"quoted\")".into()),
            request_id: Some("req-1".into()),
            details: serde_json::json!({
                "family_id": "fam-1",
                "nested": {"list": [1, 2.5, null, true], "text": "with 'quotes' and \"more\""},
            }),
            ..audit_event("e-full", 1_700_000_000, "refresh_token_reuse")
        };
        // Every optional field empty; details of other JSON shapes round-trip too.
        let bare = audit_event("e-bare", 1_700_000_001, "login_failed");
        let array = AuditEvent { details: serde_json::json!(["a", 1]), ..audit_event("e-array", 1_700_000_002, "x") };
        let null = AuditEvent { details: serde_json::Value::Null, ..audit_event("e-null", 1_700_000_003, "y") };
        for event in [&full, &bare, &array, &null] {
            t.store.record_event(event).await.unwrap();
        }
        assert_eq!(list(&t, AuditFilter::default()).await, vec![null, array, bare, full.clone()]);

        let err = t.store.record_event(&full).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "audit event id"), "{err:?}");
    }

    async fn filters_and_orders(backend: Backend) {
        let t = TestDb::new(backend).await;
        let of = |id: &str, at: i64, user: Option<&str>, client: Option<&str>| AuditEvent {
            user_id: user.map(str::to_owned),
            client_id: client.map(str::to_owned),
            ..audit_event(id, at, "login")
        };
        // Recorded out of order; "e3" and "e4" share a second, so id decides between them.
        for event in [
            of("e3", 300, Some("alice"), Some("c1")),
            of("e1", 100, Some("alice"), None),
            of("e5", 500, None, Some("c2")),
            of("e4", 300, Some("bob"), Some("c1")),
            of("e2", 200, Some("bob"), Some("c2")),
        ] {
            t.store.record_event(&event).await.unwrap();
        }
        assert_eq!(ids(&list(&t, AuditFilter::default()).await), ["e5", "e4", "e3", "e2", "e1"]);

        let user = |u: &str| AuditFilter { user_id: Some(u.into()), ..AuditFilter::default() };
        assert_eq!(ids(&list(&t, user("alice")).await), ["e3", "e1"]);
        assert_eq!(ids(&list(&t, user("bob")).await), ["e4", "e2"]);
        assert!(list(&t, user("carol")).await.is_empty());

        let client = |c: &str| AuditFilter { client_id: Some(c.into()), ..AuditFilter::default() };
        assert_eq!(ids(&list(&t, client("c1")).await), ["e4", "e3"]);
        assert_eq!(ids(&list(&t, client("c2")).await), ["e5", "e2"]);

        // since is inclusive.
        let since = |at: i64| AuditFilter { since: Some(at), ..AuditFilter::default() };
        assert_eq!(ids(&list(&t, since(300)).await), ["e5", "e4", "e3"]);
        assert_eq!(ids(&list(&t, since(301)).await), ["e5"]);
        assert!(list(&t, since(501)).await.is_empty());

        // Filters combine.
        let both = AuditFilter { user_id: Some("bob".into()), client_id: Some("c2".into()), ..AuditFilter::default() };
        assert_eq!(ids(&list(&t, both).await), ["e2"]);
        let all = AuditFilter {
            user_id: Some("alice".into()),
            client_id: Some("c1".into()),
            since: Some(300),
            kinds: vec!["login".into()],
            limit: 10,
            after: None,
        };
        assert_eq!(ids(&list(&t, all).await), ["e3"]);
    }

    async fn limits_apply(backend: Backend) {
        let t = TestDb::new(backend).await;
        for i in 0..1_005i64 {
            t.store.record_event(&audit_event(&format!("e{i:04}"), 1_000 + i, "tick")).await.unwrap();
        }
        let limited = |limit: i64| AuditFilter { limit, ..AuditFilter::default() };
        // The newest ones.
        assert_eq!(ids(&list(&t, limited(3)).await), ["e1004", "e1003", "e1002"]);
        assert_eq!(list(&t, limited(1)).await.len(), 1);
        // No limit, or a nonsensical one, means the default.
        assert_eq!(list(&t, limited(0)).await.len(), 100);
        assert_eq!(list(&t, limited(-5)).await.len(), 100);
        // Capped.
        assert_eq!(list(&t, limited(1_000)).await.len(), 1_000);
        let capped = list(&t, limited(i64::MAX)).await;
        assert_eq!(capped.len(), 1_001);
        assert_eq!((capped[0].id.as_str(), capped[1_000].id.as_str()), ("e1004", "e0004"));
        // The limit applies after the filter.
        let recent = AuditFilter { since: Some(2_000), limit: 10, ..AuditFilter::default() };
        assert_eq!(ids(&list(&t, recent).await), ["e1004", "e1003", "e1002", "e1001", "e1000"]);
    }

    async fn pages_follow_each_other(backend: Backend) {
        let t = TestDb::new(backend).await;
        // Two events in one second: the id orders them, so no page repeats or skips one.
        for (id, at) in [("a", 100), ("b", 200), ("c", 200), ("d", 300)] {
            t.store.record_event(&audit_event(id, at, "tick")).await.unwrap();
        }
        let page = |after: Option<AuditCursor>| AuditFilter { after, limit: 2, ..AuditFilter::default() };
        let first = list(&t, page(None)).await;
        assert_eq!(ids(&first), ["d", "c"]);
        let second = list(&t, page(Some(AuditCursor::of(&first[1])))).await;
        assert_eq!(ids(&second), ["b", "a"]);
        assert!(list(&t, page(Some(AuditCursor::of(&second[1])))).await.is_empty());
    }

    async fn filters_by_kind(backend: Backend) {
        let t = TestDb::new(backend).await;
        for (id, at, kind) in
            [("a", 100, "login_failed"), ("b", 200, "login"), ("c", 300, "login_failed"), ("d", 300, "x")]
        {
            t.store.record_event(&audit_event(id, at, kind)).await.unwrap();
        }
        let kinds = |kinds: &[&str]| AuditFilter {
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            ..AuditFilter::default()
        };
        assert_eq!(ids(&list(&t, kinds(&["login_failed"])).await), ["c", "a"]);
        assert_eq!(ids(&list(&t, kinds(&["login_failed", "x"])).await), ["d", "c", "a"]);
        assert!(list(&t, kinds(&["nothing"])).await.is_empty());
        assert_eq!(list(&t, kinds(&[])).await.len(), 4, "no kind named: every kind");
        // Pages of one kind follow each other.
        let first = list(&t, AuditFilter { limit: 1, ..kinds(&["login_failed"]) }).await;
        let after = Some(AuditCursor::of(&first[0]));
        assert_eq!(ids(&list(&t, AuditFilter { after, ..kinds(&["login_failed"]) }).await), ["a"]);
    }

    // Regression: event ids were random, so the events of one second listed in no particular order (an account
    // deleted before it was created). New ids sort as they were made.
    async fn events_of_one_second_list_in_the_order_they_were_made(backend: Backend) {
        let t = TestDb::new(backend).await;
        let kinds = ["created", "disabled", "enabled", "revoked", "deleted"];
        for kind in kinds {
            let event = AuditEvent { id: AuditEvent::new_id(), ..audit_event("x", 500, kind) };
            t.store.record_event(&event).await.unwrap();
        }
        let listed: Vec<String> = list(&t, AuditFilter::default()).await.into_iter().map(|e| e.kind).collect();
        assert_eq!(listed, kinds.iter().rev().map(|k| k.to_string()).collect::<Vec<_>>(), "newest first");
    }

    async fn corrupt_details_are_errors_not_panics(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.record_event(&audit_event("bad", 1, "x")).await.unwrap();
        t.db.run(|c| Ok(diesel::sql_query("UPDATE audit_events SET details = '{oops' WHERE id = 'bad'").execute(c)?))
            .await
            .unwrap();
        let err = t.store.list_events(&AuditFilter::default()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains("details")),
            "{err:?}"
        );
    }

    both_backends!(
        records_every_field,
        filters_and_orders,
        limits_apply,
        pages_follow_each_other,
        filters_by_kind,
        events_of_one_second_list_in_the_order_they_were_made,
        corrupt_details_are_errors_not_panics
    );
}
