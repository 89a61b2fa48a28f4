//! Housekeeping: rows that can no longer matter are deleted on a timer by every instance (the deletes are
//! idempotent, so instances need not agree on who does it).
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::UnixTime;
use std::sync::Arc;
use std::time::Duration;

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Refresh tokens past their absolute expiry (their family's, or a rotated token's retention).
    pub refresh_tokens: u64,
    /// Revocations of access tokens that have expired anyway.
    pub revocations: u64,
    /// Browser sessions that have ended.
    pub sessions: u64,
    /// Initial access tokens (RFC 7591) that have expired.
    pub initial_access_tokens: u64,
}

impl Provider {
    /// Deletes what expired before `now`.
    pub async fn purge_expired(&self, now: UnixTime) -> Result<Purged, OAuthError> {
        Ok(Purged {
            refresh_tokens: self.refresh_tokens.purge_expired_refresh_tokens(now).await?,
            revocations: self.revocations.purge_expired_revocations(now).await?,
            sessions: self.sessions.purge_expired_sessions(now).await?,
            initial_access_tokens: self.registrations.purge_expired_initial_access_tokens(now).await?,
        })
    }

    /// [`Provider::purge_expired`] every `every`, first one period after the start.
    pub async fn run_housekeeping(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.purge_expired(crate::domain::now()).await {
                Ok(purged) if purged != Purged::default() => tracing::info!(?purged, "expired rows deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "housekeeping failed"),
            }
        }
    }
}
