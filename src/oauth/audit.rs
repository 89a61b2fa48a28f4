//! Security events: one row in the audit trail and one structured log line each. Never a secret.
use super::provider::Provider;
use crate::domain::UnixTime;
use crate::metrics::{SecurityEvent, SignIn};
use crate::storage::AuditEvent;
use serde_json::Value;

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Client IP (from a trusted proxy's header, or the peer address).
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id of this request.
    pub request_id: Option<String>,
}

/// What happened, to whom.
#[derive(Debug, Clone, Default)]
pub struct EventFacts {
    /// Who acted.
    pub actor: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The client concerned.
    pub client_id: Option<String>,
    /// Anything else (never a secret).
    pub details: Value,
}

impl Provider {
    /// Records a security event. A failing audit write is logged, not returned: the request it describes
    /// has already been decided.
    pub async fn audit(&self, kind: &str, facts: EventFacts, meta: &RequestMeta, now: UnixTime) {
        self.count(kind);
        let warn = matches!(
            kind,
            "refresh_token_reuse"
                | "code_replay"
                | "revoked_token_presented"
                | "login_lockout"
                | "login_refused_locked"
        );
        if warn {
            tracing::warn!(
                event = kind,
                user_id = facts.user_id.as_deref(),
                client_id = facts.client_id.as_deref(),
                ip = meta.ip.as_deref(),
                details = %facts.details,
                "security event"
            );
        } else {
            tracing::info!(
                event = kind,
                user_id = facts.user_id.as_deref(),
                client_id = facts.client_id.as_deref(),
                ip = meta.ip.as_deref(),
                "audit event"
            );
        }
        let event = AuditEvent {
            id: AuditEvent::new_id(),
            at: now,
            kind: kind.to_owned(),
            actor: facts.actor,
            user_id: facts.user_id,
            client_id: facts.client_id,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            details: if facts.details.is_null() { Value::Object(Default::default()) } else { facts.details },
        };
        if let Err(e) = self.audit.record_event(&event).await {
            tracing::error!(error = %e, event = kind, "audit event not recorded");
        }
    }

    /// The counter of `kind`, for the events that have one (see [`crate::metrics`]).
    fn count(&self, kind: &str) {
        let m = &self.metrics;
        match kind {
            "login_succeeded" => m.sign_in(SignIn::Succeeded),
            "login_failed" => m.sign_in(SignIn::Failed),
            "login_lockout" => m.security_event(SecurityEvent::SignInLockout),
            "refresh_token_reuse" => m.security_event(SecurityEvent::RefreshTokenReuse),
            "code_replay" => m.security_event(SecurityEvent::CodeReplay),
            "revoked_token_presented" => m.security_event(SecurityEvent::RevokedTokenPresented),
            _ => {}
        }
    }
}
