//! The `groups` claim, as Keycloak's group membership mapper gives it: the names of the user's groups, sorted
//! (`[]` when none), for resource servers to decide on. Released by the `groups` scope to the JWT access token
//! (and so to introspection), the ID token and UserInfo; the `claims` parameter may also ask for it by name in the
//! ID token or UserInfo. Memberships are read when a token is issued (so a refresh sees changes) and at
//! `/userinfo`, and only for a grant that releases the claim: others cost no read.
use super::discovery::paths;
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::group::GROUPS;
use crate::domain::{ClaimNames, GroupName, Scope, UserId};
use serde_json::{json, Map, Value};

/// The user's groups for one token response: for the access token, and for the ID token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsClaim {
    /// For the access token: the `groups` scope was granted.
    pub access: Option<Vec<GroupName>>,
    /// For the ID token: the scope was granted, or the `claims` parameter named it there.
    pub id_token: Option<Vec<GroupName>>,
}

/// Most group names a token carries. A user in more is pointed to UserInfo for them instead (a distributed claim,
/// OIDC Core §5.6.2), as Azure AD does past 200: with names of up to 64 characters, a token stays well within
/// what its consumers take ([`super::params::MAX_TOKEN_LEN`]), whatever the memberships.
pub const MAX_TOKEN_GROUPS: usize = 100;

/// Adds `groups` to `claims` when there are `groups` to add (UserInfo: all of them).
pub fn insert_groups(claims: &mut Map<String, Value>, groups: Option<&Vec<GroupName>>) {
    if let Some(groups) = groups {
        claims.insert(GROUPS.into(), json!(groups));
    }
}

/// Adds `groups` to the claims of a token `issuer` issues: the names, or past [`MAX_TOKEN_GROUPS`], where to find
/// them (`_claim_names` and `_claim_sources` naming `issuer`'s UserInfo, which the token's access token reads).
pub fn insert_token_groups(claims: &mut Map<String, Value>, groups: Option<&Vec<GroupName>>, issuer: &str) {
    match groups {
        Some(names) if names.len() > MAX_TOKEN_GROUPS => {
            claims.insert("_claim_names".into(), json!({ GROUPS: GROUPS }));
            let endpoint = format!("{issuer}{}", paths::USERINFO);
            claims.insert("_claim_sources".into(), json!({ GROUPS: { "endpoint": endpoint } }));
        }
        _ => insert_groups(claims, groups),
    }
}

impl Provider {
    /// The user's groups as a token response issued under `scope` carries them: `id_token` names the claims asked
    /// for by name in the ID token when one is issued (`None`: no ID token). Read once, and only when one of the
    /// two carries them.
    pub async fn groups_claim(
        &self,
        user_id: &UserId,
        scope: &Scope,
        id_token: Option<&ClaimNames>,
    ) -> Result<GroupsClaim, OAuthError> {
        let to_access = scope.contains(GROUPS);
        let to_id_token = id_token.is_some_and(|named| to_access || named.contains(GROUPS));
        if !to_access && !to_id_token {
            return Ok(GroupsClaim::default());
        }
        let names = self.groups.groups_of(user_id).await?;
        Ok(GroupsClaim { access: to_access.then(|| names.clone()), id_token: to_id_token.then_some(names) })
    }

    /// The names of the user's own groups, for their account page.
    pub async fn own_groups(&self, user_id: &UserId) -> Result<Vec<GroupName>, OAuthError> {
        Ok(self.groups.groups_of(user_id).await?)
    }

    /// The user's groups for UserInfo, when the access token's `scope` or the claims it names (`named`) release
    /// them; no read otherwise.
    pub async fn userinfo_groups(
        &self,
        user_id: &UserId,
        scope: &Scope,
        named: &ClaimNames,
    ) -> Result<Option<Vec<GroupName>>, OAuthError> {
        if !scope.contains(GROUPS) && !named.contains(GROUPS) {
            return Ok(None);
        }
        Ok(Some(self.groups.groups_of(user_id).await?))
    }
}
