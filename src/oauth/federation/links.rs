//! The links between local users and upstream identities as people see and remove them: the user on the account
//! page (only while another way to sign in stays: a password, another provider's link or a passkey), an operator
//! through the admin API or the CLI (who may leave an account with no way in). A removed link signs in no more: the next
//! sign-in with that upstream identity is decided afresh by [`super::decide`].
use super::super::audit::{EventFacts, RequestMeta};
use super::super::error::OAuthError;
use super::super::provider::Provider;
use crate::domain::{FederatedIdentity, UnixTime, UserId};
use crate::storage::{Unlinked, WaysIn};
use serde_json::json;

impl Provider {
    /// The identities linked to the user, by provider and subject.
    pub async fn linked_identities(&self, user_id: &UserId) -> Result<Vec<FederatedIdentity>, OAuthError> {
        Ok(self.identities.identities_of(user_id).await?)
    }

    /// Removes the user's links at `provider_id`, on behalf of `actor` (recorded as `identity_unlinked`). With
    /// `keep_a_way_in` (the user's own request, [`Provider::ways_in`]), only when they can still sign in
    /// afterwards: with a password, through another configured provider, or with a passkey while passkeys are on.
    pub async fn unlink_identity(
        &self,
        user_id: &UserId,
        provider_id: &str,
        actor: &str,
        keep_a_way_in: Option<&WaysIn>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Unlinked, OAuthError> {
        let unlinked = self.identities.unlink_identity(user_id, provider_id, keep_a_way_in).await?;
        if unlinked == Unlinked::Removed {
            let facts = EventFacts {
                actor: Some(actor.to_owned()),
                user_id: Some(user_id.as_str().to_owned()),
                client_id: None,
                details: json!({ "provider": provider_id }),
            };
            self.audit("identity_unlinked", facts, meta, now).await;
        }
        Ok(unlinked)
    }
}
