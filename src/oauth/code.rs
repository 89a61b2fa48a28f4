//! Authorization codes: 256 random bits, single use, short-lived (`tokens.code_ttl_seconds`, 60 s), kept in the cache by hash and bound to
//! everything the token request must match.
use super::authorize::{scope_serde, AuthorizationRequest};
use super::cache_keys;
use super::claims::ClaimsRequest;
use super::error::OAuthError;
use super::pkce::CodeChallenge;
use super::provider::Provider;
use crate::domain::refresh_family::FamilySecret;
use crate::domain::secret::PlainSecret;
use crate::domain::{ClientId, Jkt, Scope, Session, UnixTime, UserId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The redirect URI of the authorization request, compared exactly at the token endpoint.
    pub redirect_uri: String,
    /// PKCE challenge.
    pub code_challenge: Option<CodeChallenge>,
    /// For the ID token.
    pub nonce: Option<String>,
    /// Granted scope.
    #[serde(with = "scope_serde")]
    pub scope: Scope,
    /// Requested audience.
    pub resource: Option<String>,
    /// The user.
    pub user_id: UserId,
    /// The browser session.
    pub sid: String,
    /// When that session ends, which bounds a session-bound refresh token (`None` in codes issued before the
    /// field existed: then the token endpoint reads the session).
    #[serde(default)]
    pub session_expires_at: Option<UnixTime>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// How.
    pub amr: Vec<String>,
    /// When it was issued, in milliseconds; the cut-offs it is checked against are whole seconds. (0 in codes
    /// issued before the field existed, which are older than any cut-off recorded since.)
    #[serde(default)]
    pub issued_at_ms: i64,
    /// Expiry.
    pub expires_at: UnixTime,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10): its redemption must prove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<Jkt>,
    /// Claims asked for by name (`claims`, OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "ClaimsRequest::is_empty")]
    pub claims: ClaimsRequest,
}

/// What a code's first redemption issues, which replaces the grant in the cache the moment the redemption
/// starts, so that a replay, even one racing the first redemption, can revoke it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRedemption {
    /// The access token's `jti`: revoking it works before the token is out.
    pub jti: String,
    /// Its expiry.
    pub expires_at: UnixTime,
    /// Whether the redemption stores a refresh token family (found from the code: [`code_family_id`]).
    pub family: bool,
    /// The code's user, for the audit event of a replay. Known once the redemption has read the grant it
    /// replaced, so the record is written again with it (`None` until then, and in records written before the
    /// field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The redemption failed (a wrong verifier, say): a replay need not wait for its family to appear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// A replay gave up waiting for the family of a redemption slower than that wait: the redemption, once it
    /// has stored the family, revokes it itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay_missed_family: bool,
}

/// What the cache holds under a code: the grant until the code is redeemed, then the redemption. Untagged, so
/// a grant is stored as it was before redemptions were kept here (codes in flight across an upgrade).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CodeEntry {
    /// Not redeemed yet.
    Grant(Box<CodeGrant>),
    /// Redeemed.
    Redeemed(CodeRedemption),
}

/// The id of the refresh token family a code's redemption starts: that of its secret, derived from the code
/// ([`FamilySecret::of_code`]). So a replay of the code finds the family in the database and nothing need be
/// kept in the cache for it; both steps are one-way, so the id (stored, and in audit events) gives neither the
/// code nor the secret, and they are domain-separated from the code's own hash.
pub fn code_family_id(code: &str) -> String {
    FamilySecret::of_code(code).family_id()
}

impl Provider {
    /// Issues a code for `req` and the session's user, and stores it.
    pub async fn issue_code(
        &self,
        req: &AuthorizationRequest,
        session: &Session,
        now: UnixTime,
    ) -> Result<PlainSecret, OAuthError> {
        let code = PlainSecret::generate();
        let grant = CodeGrant {
            client_id: req.client_id.clone(),
            redirect_uri: req.redirect_uri.as_str().to_owned(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            scope: req.scope.clone(),
            resource: req.resource.clone(),
            user_id: session.user_id.clone(),
            sid: session.id_hash.clone(),
            session_expires_at: Some(session.expires_at),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            issued_at_ms: crate::domain::now_millis(),
            expires_at: now + self.tokens.code_ttl,
            dpop_jkt: req.dpop_jkt.clone(),
            claims: req.claims.clone(),
        };
        let bytes = serde_json::to_vec(&CodeEntry::Grant(Box::new(grant))).map_err(OAuthError::server)?;
        self.cache
            .set(&cache_keys::code(code.hash().as_str()), &bytes, Duration::from_secs(self.tokens.code_ttl as u64))
            .await?;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redemption_recorded_by_an_earlier_release_still_loads() {
        let earlier = br#"{"jti":"j1","expires_at":1700000600,"family":true}"#;
        let Ok(CodeEntry::Redeemed(r)) = serde_json::from_slice::<CodeEntry>(earlier) else { panic!("not loaded") };
        assert_eq!((r.jti.as_str(), r.family, r.user_id, r.failed), ("j1", true, None, false));
        assert!(!r.replay_missed_family);

        let user = UserId::parse("5b0f3c9e-2d7a-4c1e-9f6b-8a1d2e3f4a5b").unwrap();
        let now = CodeRedemption {
            jti: "j2".into(),
            expires_at: 1,
            family: true,
            user_id: Some(user.clone()),
            failed: true,
            replay_missed_family: true,
        };
        let bytes = serde_json::to_vec(&CodeEntry::Redeemed(now)).unwrap();
        let Ok(CodeEntry::Redeemed(r)) = serde_json::from_slice::<CodeEntry>(&bytes) else { panic!("not loaded") };
        assert_eq!((r.user_id, r.failed, r.replay_missed_family), (Some(user), true, true));
    }

    #[test]
    fn a_code_names_the_family_its_refresh_tokens_name() {
        let code = PlainSecret::generate();
        let token = FamilySecret::of_code(code.expose()).issue_token();
        let named = FamilySecret::parse(token.expose()).map(|secret| secret.family_id());
        assert_eq!(named, Some(code_family_id(code.expose())));
        assert_ne!(code_family_id(code.expose()), code.hash().as_str());
    }
}
