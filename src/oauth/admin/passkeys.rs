//! A user's passkeys as operators see them: `GET /admin/api/users/{id}/passkeys` and `tessera users passkeys` list
//! them as the account page does (never the credential: its public key and counter are of no use to an operator),
//! and `DELETE /admin/api/users/{id}/passkeys/{passkey_id}` (`--remove`) removes one (a lost device), even the
//! last way the user had to sign in, as an operator may unlink an identity; audited as `passkey_removed` with the
//! admin client or `cli` acting.
use super::api::path_user_id;
use super::*;
use crate::domain::passkey::StoredPasskey;
use crate::storage::PasskeyRemoval;

/// Longest passkey id shown in an answer: ours are 22 characters.
const MAX_PASSKEY_ID: usize = 64;

/// The JSON form of a passkey of a user.
pub fn passkey_json(p: &StoredPasskey) -> Value {
    json!({ "id": p.id, "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at })
}

/// The error of a passkey the user does not have.
pub fn no_passkey(user_id: &UserId, passkey_id: &str) -> AdminError {
    let shown: String = passkey_id.chars().take(MAX_PASSKEY_ID).collect();
    AdminError::NotFound(format!("user {} has no passkey {shown}", user_id.as_str()))
}

impl Provider {
    /// `GET /admin/api/users/{id}/passkeys`: the user's passkeys, oldest first.
    pub async fn admin_user_passkeys(&self, id: &str) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let keys = self.own_passkeys(&id).await?;
        Ok(json!({ "items": keys.iter().map(passkey_json).collect::<Vec<_>>() }))
    }

    /// `DELETE /admin/api/users/{id}/passkeys/{passkey_id}`: removes the user's passkey; `NotFound` for an unknown
    /// user, and for a passkey the user does not have (another user's included).
    pub async fn admin_remove_passkey(
        &self,
        caller: &AdminCaller,
        id: &str,
        passkey_id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        match self.remove_passkey(caller.client_id.as_str(), &id, passkey_id, None, meta, now).await? {
            PasskeyRemoval::Removed(_) => Ok(()),
            // Without `keep_a_way_in` the store never answers `LastWayIn`.
            PasskeyRemoval::NotFound | PasskeyRemoval::LastWayIn => Err(no_passkey(&id, passkey_id)),
        }
    }
}
