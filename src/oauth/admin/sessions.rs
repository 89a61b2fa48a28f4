//! A user's browser sessions as operators see them: `GET /admin/api/users/{id}/sessions` and
//! `tessera users sessions` list the live ones as the account page does, and
//! `DELETE /admin/api/users/{id}/sessions/{session_id}` ends one as the account page's "End session" does
//! ([`Provider::end_stored_session`]: its session-bound tokens revoked, its apps sent logout tokens).
use super::api::path_user_id;
use super::*;
use crate::oauth::account::{session_entries, SessionEntry};
use crate::storage::{SessionClient, SessionStore, StoreResult};

/// Longest session id looked up: ids are SHA-256 hashes in base64url (43 characters).
const MAX_SESSION_ID: usize = 128;

/// The JSON form of a live session of a user, with the clients it signed in to (`id` is the session's `sid` in
/// the audit trail; never the cookie).
pub fn session_json(s: &SessionEntry, clients: &[SessionClient]) -> Value {
    let mut of: Vec<&str> =
        clients.iter().filter(|c| c.session_id == s.reference).map(|c| c.client_id.as_str()).collect();
    of.sort_unstable();
    of.dedup();
    json!({
        "id": s.reference,
        "auth_time": s.auth_time,
        "amr": s.amr,
        "created_at": s.created_at,
        "last_used_at": s.last_used_at,
        "expires_at": s.expires_at,
        "idle": s.idle,
        "ip": s.device.ip.map(|ip| ip.to_string()),
        "user_agent": s.device.user_agent.as_ref().map(|ua| ua.as_str()),
        "device": s.device.describe(),
        "clients": of,
    })
}

/// The user's live sessions in their JSON form, newest first; `idle_timeout` is `sessions.idle_timeout_seconds`.
pub async fn user_sessions_json(
    sessions: &dyn SessionStore,
    user_id: &UserId,
    idle_timeout: Option<UnixTime>,
    now: UnixTime,
) -> StoreResult<Vec<Value>> {
    let entries = session_entries(sessions.sessions_of_user(user_id, now).await?, "", now, idle_timeout);
    let ids: Vec<String> = entries.iter().map(|e| e.reference.clone()).collect();
    let clients = sessions.session_clients(&ids).await?;
    Ok(entries.iter().map(|e| session_json(e, &clients)).collect())
}

fn no_session(user_id: &UserId, session_id: &str) -> AdminError {
    let shown: String = session_id.chars().take(MAX_SESSION_ID).collect();
    AdminError::NotFound(format!("user {} has no live session {shown}", user_id.as_str()))
}

impl Provider {
    /// `GET /admin/api/users/{id}/sessions`: the user's live browser sessions.
    pub async fn admin_user_sessions(&self, id: &str, now: UnixTime) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let items = user_sessions_json(self.sessions.as_ref(), &id, self.session_idle_timeout, now).await?;
        Ok(json!({ "items": items }))
    }

    /// `DELETE /admin/api/users/{id}/sessions/{session_id}`: ends one live session of the user as the account
    /// page's "End session" does, audited as `admin_session_revoked` with its `sid`.
    pub async fn admin_end_session(
        &self,
        caller: &AdminCaller,
        id: &str,
        session_id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        if session_id.len() > MAX_SESSION_ID {
            return Err(no_session(&id, session_id));
        }
        let session = self.sessions.session(session_id).await?;
        let Some(session) = session.filter(|s| s.user_id == id && s.is_active(now)) else {
            return Err(no_session(&id, session_id));
        };
        let facts = caller.facts(Some(&id), None, json!({ "sid": session.id_hash }));
        self.end_stored_session(&session, facts, "admin_session_revoked", meta, now).await?;
        Ok(())
    }
}
