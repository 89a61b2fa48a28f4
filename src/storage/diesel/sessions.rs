//! The `sessions` table: rows <-> [`Session`], and [`SessionStore`] for [`DieselStore`].
//!
//! `id_hash` (the hash of the cookie value) is the primary key; `amr` is stored as a JSON array of strings;
//! `ip` and `user_agent` are text, NULL for sessions stored before they were recorded. `last_used_at` moves only
//! forward ([`SessionStore::record_session_use`]); the migration that added it set it to `created_at`.

use super::consents::stored_consent;
use super::schema::{consents, session_clients, sessions, users};
use super::store::expired_rows_batch;
use super::users::{user_from_row, UserRow};
use super::{AnyConnection, DieselStore};
use crate::domain::{ClientId, Device, Session, UnixTime, UserAgent, UserId};
use crate::storage::{SessionClient, SessionContext, SessionStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

/// A `sessions` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id_hash: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    expires_at: i64,
    revoked: bool,
    ip: Option<String>,
    user_agent: Option<String>,
    last_used_at: i64,
}

fn row_from_session(session: &Session) -> StoreResult<SessionRow> {
    let amr = serde_json::to_string(&session.amr)
        .map_err(|e| StoreError::Backend(format!("cannot serialize session amr: {e}")))?;
    Ok(SessionRow {
        id_hash: session.id_hash.clone(),
        user_id: session.user_id.as_str().to_owned(),
        auth_time: session.auth_time,
        amr,
        created_at: session.created_at,
        expires_at: session.expires_at,
        revoked: session.revoked,
        ip: session.device.ip.map(|ip| ip.to_string()),
        user_agent: session.device.user_agent.as_ref().map(|ua| ua.as_str().to_owned()),
        last_used_at: session.last_used_at,
    })
}

fn session_from_row(row: SessionRow) -> StoreResult<Session> {
    let id = row.id_hash;
    let bad = |what: &str, e: &dyn std::fmt::Display| StoreError::Backend(format!("sessions row {id:?}: {what}: {e}"));
    let user_id = UserId::parse(row.user_id.as_str()).map_err(|e| bad("invalid user_id", &e))?;
    let amr: Vec<String> = serde_json::from_str(&row.amr).map_err(|e| bad("amr is not a JSON array of strings", &e))?;
    let ip = row.ip.map(|ip| ip.parse()).transpose().map_err(|e| bad("ip is not an IP address", &e))?;
    Ok(Session {
        id_hash: id,
        user_id,
        auth_time: row.auth_time,
        amr,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked: row.revoked,
        device: Device { ip, user_agent: row.user_agent.as_deref().and_then(UserAgent::from_text) },
    })
}

fn load_session(conn: &mut AnyConnection, id_hash: &str) -> StoreResult<Option<Session>> {
    sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?
        .map(session_from_row)
        .transpose()
}

/// Whether session `id_hash` is neither revoked nor past its end at `now`; a session handed over (its user signed
/// in again in that browser) is as live as the session it was handed over to.
pub(super) fn session_is_live(conn: &mut AnyConnection, id_hash: &str, now: UnixTime) -> StoreResult<bool> {
    let live = |found: Option<(bool, i64)>| found.is_some_and(|(revoked, expires_at)| !revoked && now < expires_at);
    let found: Option<(bool, i64, Option<String>)> = sessions::table
        .find(id_hash)
        .select((sessions::revoked, sessions::expires_at, sessions::handed_over_to))
        .first(conn)
        .optional()?;
    match found {
        Some((_, _, Some(successor))) => Ok(live(
            sessions::table.find(successor).select((sessions::revoked, sessions::expires_at)).first(conn).optional()?,
        )),
        Some((revoked, expires_at, None)) => Ok(live(Some((revoked, expires_at)))),
        None => Ok(false),
    }
}

/// The sessions handed over to `successor` (by any number of hand-overs: each points to the last).
pub(super) fn handed_over_to(conn: &mut AnyConnection, successor: &str) -> StoreResult<Vec<String>> {
    Ok(sessions::table.filter(sessions::handed_over_to.eq(successor)).select(sessions::id_hash).load(conn)?)
}

/// Inserts a session; `Conflict("session id")` when its id is taken.
fn insert_session(c: &mut AnyConnection, row: &SessionRow) -> StoreResult<()> {
    diesel::insert_into(sessions::table).values(row).execute(c).map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("session id".into()),
        other => other,
    })?;
    Ok(())
}

/// [`SessionStore::hand_over_session`], in the caller's transaction.
fn hand_over(c: &mut AnyConnection, from: &str, to: &str) -> StoreResult<()> {
    let ends: i64 = sessions::table.find(to).select(sessions::expires_at).first(c)?;
    // The sessions handed over to `from` earlier follow it, so that each is one step from the live one; each is
    // kept as long as that one can live (a purge would end their tokens).
    let handed = sessions::id_hash.eq(from).or(sessions::handed_over_to.eq(from));
    diesel::update(sessions::table.filter(handed))
        .set((sessions::revoked.eq(true), sessions::handed_over_to.eq(to), sessions::expires_at.eq(ends)))
        .execute(c)?;
    Ok(())
}

#[async_trait]
impl SessionStore for DieselStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        let row = row_from_session(session)?;
        self.db().write(move |c| insert_session(c, &row)).await
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let id_hash = id_hash.to_owned();
        self.db().run(move |c| load_session(c, &id_hash)).await
    }

    async fn session_for_client(&self, id_hash: &str, client_id: &ClientId) -> StoreResult<Option<SessionContext>> {
        let (id_hash, client_id) = (id_hash.to_owned(), client_id.as_str().to_owned());
        self.db()
            .run(move |c| {
                // One statement: the authorization endpoint reads this on every request.
                type Found = (SessionRow, Option<UserRow>, Option<(String, String)>);
                let found: Option<Found> = sessions::table
                    .left_join(users::table)
                    .left_join(
                        consents::table
                            .on(consents::user_id.eq(sessions::user_id).and(consents::client_id.eq(&client_id))),
                    )
                    .filter(sessions::id_hash.eq(&id_hash))
                    .select((
                        SessionRow::as_select(),
                        Option::<UserRow>::as_select(),
                        (consents::scope, consents::claims).nullable(),
                    ))
                    .first(c)
                    .optional()?;
                let Some((session, user, consent)) = found else { return Ok(None) };
                let session = session_from_row(session)?;
                let user = user.map(|row| user_from_row(row).map(|(user, _)| user)).transpose()?;
                let user_id = session.user_id.as_str();
                let consent =
                    consent.map(|(scope, claims)| stored_consent(user_id, &client_id, &scope, &claims)).transpose()?;
                Ok(Some(SessionContext { session, user, consent }))
            })
            .await
    }

    async fn record_session_use(&self, id_hash: &str, now: UnixTime, stale_before: UnixTime) -> StoreResult<bool> {
        let (id_hash, before) = (id_hash.to_owned(), stale_before.min(now));
        self.db()
            .write(move |c| {
                let changed = diesel::update(
                    sessions::table.filter(sessions::id_hash.eq(&id_hash)).filter(sessions::last_used_at.lt(before)),
                )
                .set(sessions::last_used_at.eq(now))
                .execute(c)?;
                Ok(changed > 0)
            })
            .await
    }

    async fn revoke_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_owned();
        self.db()
            .write(move |c| {
                // Both backends count matched rows, so revoking a revoked session again succeeds.
                let changed =
                    diesel::update(sessions::table.find(&id_hash)).set(sessions::revoked.eq(true)).execute(c)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn hand_over_session(&self, from: &str, to: &str) -> StoreResult<()> {
        let (from, to) = (from.to_owned(), to.to_owned());
        self.db().write(move |c| c.transaction(|c| hand_over(c, &from, &to))).await
    }

    async fn renew_session(&self, from: &str, to: &Session) -> StoreResult<()> {
        let (from, row) = (from.to_owned(), row_from_session(to)?);
        self.db()
            .write(move |c| {
                c.transaction(|c| {
                    insert_session(c, &row)?;
                    hand_over(c, &from, &row.id_hash)
                })
            })
            .await
    }

    async fn record_session_client(&self, session_id: &str, client_id: &ClientId) -> StoreResult<()> {
        let (session_id, client_id) = (session_id.to_owned(), client_id.as_str().to_owned());
        self.db()
            .write(move |c| {
                let recorded = session_clients::table
                    .find((&session_id, &client_id, &session_id))
                    .select(session_clients::client_id)
                    .first::<String>(c)
                    .optional()?;
                if recorded.is_some() {
                    return Ok(());
                }
                let row = (
                    session_clients::session_id.eq(&session_id),
                    session_clients::client_id.eq(&client_id),
                    session_clients::sid.eq(&session_id),
                );
                match diesel::insert_into(session_clients::table).values(row).execute(c).map_err(StoreError::from) {
                    // Another redemption in the same session recorded it first.
                    Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn session_clients(&self, session_ids: &[String]) -> StoreResult<Vec<SessionClient>> {
        let session_ids = session_ids.to_vec();
        self.db()
            .run(move |c| {
                // The clients of the sessions handed over to these count as theirs, with the sids they were told.
                let handed: Vec<(String, Option<String>)> = sessions::table
                    .filter(sessions::handed_over_to.eq_any(&session_ids))
                    .select((sessions::id_hash, sessions::handed_over_to))
                    .load(c)?;
                let successor =
                    |session: &str| handed.iter().find(|(id, _)| id == session).and_then(|(_, to)| to.clone());
                let all: Vec<&String> = session_ids.iter().chain(handed.iter().map(|(id, _)| id)).collect();
                let rows: Vec<(String, String, String)> = session_clients::table
                    .filter(session_clients::session_id.eq_any(all))
                    .select((session_clients::session_id, session_clients::client_id, session_clients::sid))
                    .load(c)?;
                let mut found = rows
                    .into_iter()
                    .map(|(session_id, client, sid)| {
                        let client_id = ClientId::parse(&client).map_err(|e| {
                            StoreError::Backend(format!("session_clients row: invalid client_id {client:?}: {e}"))
                        })?;
                        let session_id = successor(&session_id).unwrap_or(session_id);
                        Ok(SessionClient { session_id, client_id, sid })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                found.sort_by(|a, b| {
                    (&a.session_id, a.client_id.as_str(), &a.sid).cmp(&(&b.session_id, b.client_id.as_str(), &b.sid))
                });
                // Sessions handed over before these rows followed them had theirs copied to the new session.
                found.dedup();
                Ok(found)
            })
            .await
    }

    async fn sessions_of_user(&self, user_id: &UserId, now: UnixTime) -> StoreResult<Vec<Session>> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                sessions::table
                    .filter(sessions::user_id.eq(&user_id))
                    .filter(sessions::revoked.eq(false))
                    .filter(sessions::expires_at.gt(now))
                    .order((sessions::created_at.desc(), sessions::id_hash.asc()))
                    .select(SessionRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(session_from_row)
                    .collect()
            })
            .await
    }

    async fn revoke_user_sessions(&self, user_id: &UserId) -> StoreResult<u64> {
        let user_id = user_id.as_str().to_owned();
        self.db()
            .write(move |c| {
                let changed = diesel::update(
                    sessions::table.filter(sessions::user_id.eq(&user_id)).filter(sessions::revoked.eq(false)),
                )
                .set(sessions::revoked.eq(true))
                .execute(c)?;
                Ok(changed as u64)
            })
            .await
    }

    async fn purge_expired_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        self.purge_in_batches(expired_rows_batch!(sessions, id_hash, now)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::storage::ConsentStore;

    fn session(id_hash: &str, user_id: &UserId) -> Session {
        Session {
            id_hash: id_hash.into(),
            user_id: user_id.clone(),
            auth_time: 1_700_000_000,
            amr: vec!["pwd".into()],
            created_at: 1_700_000_001,
            last_used_at: 1_700_000_001,
            expires_at: 1_700_086_400,
            revoked: false,
            device: Device::default(),
        }
    }

    async fn last_used(t: &TestDb, id_hash: &str) -> UnixTime {
        t.store.session(id_hash).await.unwrap().unwrap().last_used_at
    }

    async fn create_get_and_revoke(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let s = session("h_1-abc", &alice);
        t.store.create_session(&s).await.unwrap();
        assert_eq!(t.store.session("h_1-abc").await.unwrap(), Some(s.clone()));
        assert!(t.store.session("unknown").await.unwrap().is_none());

        t.store.revoke_session("h_1-abc").await.unwrap();
        // A revoked session is still returned, marked revoked.
        assert_eq!(t.store.session("h_1-abc").await.unwrap(), Some(Session { revoked: true, ..s.clone() }));
        // Revoking again is not an error.
        t.store.revoke_session("h_1-abc").await.unwrap();

        let err = t.store.revoke_session("unknown").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let err = t.store.create_session(&s).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "session id"), "{err:?}");
    }

    async fn amr_round_trips(backend: Backend) {
        let t = TestDb::new(backend).await;
        let bob = t.add_user("bob").await;
        let cases: [Vec<String>; 3] = [
            vec![],
            vec!["pwd".into(), "otp".into(), "mfa".into()],
            vec!["with \"quotes\", commas, [brackets] and «unicode»".into(), String::new()],
        ];
        for (i, amr) in cases.into_iter().enumerate() {
            let s = Session { amr, ..session(&format!("amr{i}"), &bob) };
            t.store.create_session(&s).await.unwrap();
            assert_eq!(t.store.session(&s.id_hash).await.unwrap(), Some(s));
        }
    }

    async fn the_device_round_trips_and_older_sessions_load_without_one(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let devices = [
            ("v4", Some("203.0.113.9"), Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")),
            ("v6", Some("2001:db8::1"), Some("Agent «unicode» \u{fffd}")),
            ("ip-only", Some("198.51.100.7"), None),
            ("agent-only", None, Some("curl/8.11.1")),
            ("neither", None, None),
        ];
        for (id, ip, user_agent) in devices {
            let device = Device {
                ip: ip.map(|ip| ip.parse().unwrap()),
                user_agent: user_agent.map(|ua| UserAgent::from_text(ua).unwrap()),
            };
            let s = Session { device, ..session(id, &alice) };
            t.store.create_session(&s).await.unwrap();
            assert_eq!(t.store.session(id).await.unwrap(), Some(s.clone()), "{id}");
            let listed = t.store.sessions_of_user(&alice, 1_700_000_002).await.unwrap();
            assert_eq!(listed.into_iter().find(|l| l.id_hash == id).map(|l| l.device), Some(s.device), "{id}");
        }

        // A session stored by the release before: the upgrade leaves it an unknown device.
        let reverted = t.revert_down_to("20261205400000").await;
        let sql = format!(
            "INSERT INTO sessions (id_hash, user_id, auth_time, amr, created_at, expires_at, revoked) \
             VALUES ('older', '{}', 1, '[\"pwd\"]', 1, 2000000000, FALSE)",
            alice.as_str()
        );
        t.db.write(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
        assert_eq!(t.db.migrate().await.unwrap(), reverted);
        let older = t.store.session("older").await.unwrap().unwrap();
        assert_eq!((older.amr, older.device), (vec!["pwd".to_owned()], Device::default()));
    }

    async fn a_use_is_recorded_over_a_stale_time_only_and_never_back(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let s = session("s1", &alice);
        let began = s.created_at;
        t.store.create_session(&s).await.unwrap();
        t.store.create_session(&session("s2", &alice)).await.unwrap();
        assert_eq!(last_used(&t, "s1").await, began, "a new session was last used when it began");

        // Stored at `stale_before` or after: recent enough, nothing is written.
        assert!(!t.store.record_session_use("s1", began + 59, began).await.unwrap());
        assert_eq!(last_used(&t, "s1").await, began);
        // Before it: the use is recorded.
        assert!(t.store.record_session_use("s1", began + 60, began + 1).await.unwrap());
        assert_eq!(last_used(&t, "s1").await, began + 60);
        // A request that read the same stale time at once writes nothing more.
        assert!(!t.store.record_session_use("s1", began + 60, began + 1).await.unwrap());
        // A use never moves it back, whatever the threshold says.
        assert!(!t.store.record_session_use("s1", began + 30, began + 1_000).await.unwrap());
        assert_eq!(last_used(&t, "s1").await, began + 60);
        // Only the session named moves; an unknown one is no error.
        assert_eq!(last_used(&t, "s2").await, began);
        assert!(!t.store.record_session_use("unknown", began + 600, began + 600).await.unwrap());
        let listed = t.store.sessions_of_user(&alice, began + 61).await.unwrap();
        assert_eq!(listed.iter().find(|l| l.id_hash == "s1").map(|l| l.last_used_at), Some(began + 60));
    }

    async fn sessions_stored_before_were_last_used_when_they_began(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let reverted = t.revert_down_to("20261205800000").await;
        let sql = format!(
            "INSERT INTO sessions (id_hash, user_id, auth_time, amr, created_at, expires_at, revoked, ip, user_agent) \
             VALUES ('older', '{}', 1700000000, '[\"pwd\"]', 1700000005, 2000000000, FALSE, NULL, NULL)",
            alice.as_str()
        );
        t.db.write(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
        assert_eq!(t.db.migrate().await.unwrap(), reverted);
        assert_eq!(last_used(&t, "older").await, 1_700_000_005);
    }

    async fn revoke_user_sessions_counts_active_ones(backend: Backend) {
        let t = TestDb::new(backend).await;
        let carol = t.add_user("carol").await;
        let dave = t.add_user("dave").await;
        for id in ["c1", "c2", "c3"] {
            t.store.create_session(&session(id, &carol)).await.unwrap();
        }
        t.store.create_session(&Session { revoked: true, ..session("c4", &carol) }).await.unwrap();
        t.store.create_session(&session("d1", &dave)).await.unwrap();

        assert_eq!(t.store.revoke_user_sessions(&carol).await.unwrap(), 3);
        for id in ["c1", "c2", "c3", "c4"] {
            assert!(t.store.session(id).await.unwrap().unwrap().revoked, "{id}");
        }
        // Other users' sessions are left alone.
        assert!(!t.store.session("d1").await.unwrap().unwrap().revoked);
        // Nothing left to revoke; users without sessions are not an error.
        assert_eq!(t.store.revoke_user_sessions(&carol).await.unwrap(), 0);
        assert_eq!(t.store.revoke_user_sessions(&UserId::generate()).await.unwrap(), 0);
        assert_eq!(t.store.revoke_user_sessions(&dave).await.unwrap(), 1);
    }

    async fn sessions_of_user_lists_live_ones_newest_first(backend: Backend) {
        let t = TestDb::new(backend).await;
        let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
        let at = |id: &str, created_at: i64| Session { created_at, ..session(id, &alice) };
        t.store.create_session(&at("old", 1_700_000_001)).await.unwrap();
        t.store.create_session(&at("new", 1_700_000_500)).await.unwrap();
        t.store.create_session(&Session { revoked: true, ..at("revoked", 1_700_000_600) }).await.unwrap();
        t.store.create_session(&Session { expires_at: 1_700_000_700, ..at("ended", 1_700_000_600) }).await.unwrap();
        t.store.create_session(&session("bobs", &bob)).await.unwrap();
        let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id_hash).collect::<Vec<_>>();
        assert_eq!(ids(t.store.sessions_of_user(&alice, 1_700_000_700).await.unwrap()), ["new", "old"]);
        assert_eq!(ids(t.store.sessions_of_user(&alice, 1_700_000_699).await.unwrap()), ["ended", "new", "old"]);
        assert!(t.store.sessions_of_user(&UserId::generate(), 0).await.unwrap().is_empty());
    }

    async fn purge_takes_ended_sessions_in_batches(backend: Backend) {
        let t = TestDb::new(backend).await;
        let alice = t.add_user("alice").await;
        let ends = |i: i64| 1_700_000_000 + i;
        // More than a batch of sessions end before `now`; three end at it or after.
        let count = super::super::store::PURGE_BATCH + 500;
        let rows: Vec<SessionRow> = (0..count + 3)
            .map(|i| row_from_session(&Session { expires_at: ends(i), ..session(&format!("s{i}"), &alice) }).unwrap())
            .collect();
        t.db.run(move |c| {
            c.transaction(|c| {
                rows.iter().try_for_each(|r| diesel::insert_into(sessions::table).values(r).execute(c).map(drop))
            })?;
            Ok(())
        })
        .await
        .unwrap();
        let now = ends(count);
        assert_eq!(t.store.purge_expired_sessions(now).await.unwrap(), count as u64);
        assert!(t.store.session("s0").await.unwrap().is_none());
        for i in count..count + 3 {
            assert!(t.store.session(&format!("s{i}")).await.unwrap().is_some(), "s{i} has not ended");
        }
        assert_eq!(t.store.purge_expired_sessions(now).await.unwrap(), 0);
    }

    async fn unknown_user_is_refused(backend: Backend) {
        let t = TestDb::new(backend).await;
        let err = t.store.create_session(&session("orphan", &UserId::generate())).await.unwrap_err();
        assert!(matches!(err, StoreError::ReferenceGone(_)), "{err:?}");
        assert!(t.store.session("orphan").await.unwrap().is_none());
    }

    async fn corrupt_rows_are_errors_not_panics(backend: Backend) {
        let t = TestDb::new(backend).await;
        let erin = t.add_user("erin").await;
        t.store.create_session(&session("bad", &erin)).await.unwrap();
        // user_id cannot go bad: the foreign key keeps it a real user's id.
        for value in ["pwd", r#"{"pwd": 1}"#, "[1, 2]"] {
            let sql = format!("UPDATE sessions SET amr = '{value}' WHERE id_hash = 'bad'");
            t.db.run(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
            let err = t.store.session("bad").await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains("amr")),
                "{err:?}"
            );
        }
        t.db.run(|c| {
            Ok(diesel::sql_query("UPDATE sessions SET amr = '[]', ip = 'nowhere' WHERE id_hash = 'bad'").execute(c)?)
        })
        .await
        .unwrap();
        let err = t.store.session("bad").await.unwrap_err();
        assert!(matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains("ip")), "{err:?}");
    }

    async fn context_brings_the_user_and_their_consent_for_one_client(backend: Backend) {
        let t = TestDb::new(backend).await;
        let (app, other) = (t.add_client("app").await, t.add_client("other").await);
        let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
        let scope = crate::domain::Scope::parse("openid email").unwrap();
        let scope = crate::domain::Consent { scope, claims: crate::domain::ClaimNames::parse("name").unwrap() };
        t.store.grant_consent(&alice, &app, &scope, 1).await.unwrap();
        t.store.grant_consent(&bob, &other, &scope, 1).await.unwrap();
        let s = session("s1", &alice);
        t.store.create_session(&s).await.unwrap();

        let ctx = t.store.session_for_client("s1", &app).await.unwrap().unwrap();
        assert_eq!((ctx.session, ctx.user.map(|u| u.id), ctx.consent), (s.clone(), Some(alice), Some(scope)));
        // Bob's consent for the other client is not Alice's.
        assert_eq!(t.store.session_for_client("s1", &other).await.unwrap().unwrap().consent, None);
        assert!(t.store.session_for_client("unknown", &app).await.unwrap().is_none());
        t.store.revoke_session("s1").await.unwrap();
        assert!(t.store.session_for_client("s1", &app).await.unwrap().unwrap().session.revoked);
    }

    async fn the_clients_of_a_session_are_recorded_once_and_follow_a_hand_over(backend: Backend) {
        use crate::storage::ClientStore;
        let t = TestDb::new(backend).await;
        let (app, other) = (t.add_client("app").await, t.add_client("other").await);
        let alice = t.add_user("alice").await;
        for id in ["s1", "s2", "s3"] {
            t.store.create_session(&session(id, &alice)).await.unwrap();
        }
        t.store.record_session_client("s1", &app).await.unwrap();
        t.store.record_session_client("s1", &app).await.unwrap();
        t.store.record_session_client("s1", &other).await.unwrap();
        t.store.record_session_client("s2", &app).await.unwrap();
        let gone = t.store.record_session_client("nowhere", &app).await.unwrap_err();
        assert!(matches!(gone, StoreError::ReferenceGone(_)), "{gone:?}");
        let of = |ids: &[&str]| {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            let store = &t.store;
            async move {
                let found = store.session_clients(&ids).await.unwrap();
                found.into_iter().map(|r| format!("{}:{}:{}", r.session_id, r.client_id, r.sid)).collect::<Vec<_>>()
            }
        };
        assert_eq!(of(&["s1", "s2"]).await, ["s1:app:s1", "s1:other:s1", "s2:app:s2"]);
        assert!(of(&["s3"]).await.is_empty());

        // The clients of a session handed over count as the new session's, with the sid their tokens named.
        t.store.hand_over_session("s1", "s2").await.unwrap();
        assert_eq!(of(&["s2"]).await, ["s2:app:s1", "s2:app:s2", "s2:other:s1"]);
        t.store.hand_over_session("s2", "s3").await.unwrap();
        t.store.record_session_client("s3", &app).await.unwrap();
        assert_eq!(of(&["s3"]).await, ["s3:app:s1", "s3:app:s2", "s3:app:s3", "s3:other:s1"]);
        // So does one recorded in it afterwards (a code issued in it, redeemed after the hand-over).
        let late = t.add_client("late").await;
        t.store.record_session_client("s1", &late).await.unwrap();
        assert_eq!(of(&["s3"]).await, ["s3:app:s1", "s3:app:s2", "s3:app:s3", "s3:late:s1", "s3:other:s1"]);

        t.store.delete_client(&other).await.unwrap();
        assert_eq!(
            of(&["s3"]).await,
            ["s3:app:s1", "s3:app:s2", "s3:app:s3", "s3:late:s1"],
            "a deleted client is forgotten"
        );
    }

    // A renewal (a password change) stores the new session and hands the old one over in one transaction (it
    // took two writes, and a failed second one left the old cookie, perhaps a thief's copy, signing in).
    async fn a_renewal_stores_the_new_session_and_hands_the_old_one_over_or_neither(backend: Backend) {
        let t = TestDb::new(backend).await;
        let app = t.add_client("app").await;
        let alice = t.add_user("alice").await;
        t.store.create_session(&session("s1", &alice)).await.unwrap();
        t.store.record_session_client("s1", &app).await.unwrap();
        t.store.renew_session("s1", &session("s2", &alice)).await.unwrap();
        assert!(t.store.session("s1").await.unwrap().unwrap().revoked);
        assert!(!t.store.session("s2").await.unwrap().unwrap().revoked);
        let clients = t.store.session_clients(&["s2".to_owned()]).await.unwrap();
        assert_eq!(clients.iter().map(|c| c.sid.as_str()).collect::<Vec<_>>(), ["s1"], "the app's sid follows");

        // The new session cannot be stored (its id is taken): the old one is left as it was.
        t.store.create_session(&session("s3", &alice)).await.unwrap();
        let err = t.store.renew_session("s2", &session("s3", &alice)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "session id"), "{err:?}");
        assert!(!t.store.session("s2").await.unwrap().unwrap().revoked, "the old session still signs in");
    }

    both_backends!(
        a_renewal_stores_the_new_session_and_hands_the_old_one_over_or_neither,
        the_clients_of_a_session_are_recorded_once_and_follow_a_hand_over,
        context_brings_the_user_and_their_consent_for_one_client,
        create_get_and_revoke,
        amr_round_trips,
        the_device_round_trips_and_older_sessions_load_without_one,
        a_use_is_recorded_over_a_stale_time_only_and_never_back,
        sessions_stored_before_were_last_used_when_they_began,
        revoke_user_sessions_counts_active_ones,
        sessions_of_user_lists_live_ones_newest_first,
        purge_takes_ended_sessions_in_batches,
        unknown_user_is_refused,
        corrupt_rows_are_errors_not_panics,
    );
}
