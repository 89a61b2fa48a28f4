//! Minting access tokens (RFC 9068 JWTs) and ID tokens (OIDC Core §2), and checking incoming access tokens.
use super::authorize::scope_serde;
use super::dpop::{Jkt, DPOP_SCHEME};
use super::error::OAuthError;
use super::provider::Provider;
use super::subject::SEALED_USER_CLAIM;
use crate::domain::secret::random_token;
use crate::domain::{ClaimNames, ClientId, GroupName, Scope, UnixTime, UserId};
use crate::jose::{JoseError, SigningKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwt::JwtPayload;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

/// Who an access token is for, and what it allows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessGrant {
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user, or `None` for a client acting for itself (client credentials).
    pub user_id: Option<UserId>,
    /// Granted scope.
    #[serde(with = "scope_serde")]
    pub scope: Scope,
    /// Audience: the requested resource or the default audience.
    pub audience: String,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// Browser session id.
    pub sid: Option<String>,
    /// Lifetime in seconds.
    pub ttl: i64,
    /// The delegation chain of an exchanged token (RFC 8693 §4.1): who acts for the subject now, with the
    /// earlier actors nested inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6.1); `None` for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<Jkt>,
    /// The sector of a pairwise client ([`crate::domain::Client::sector`]): its tokens name the user by the
    /// pairwise subject of that sector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// Claims UserInfo returns for the token beyond those its scope releases (`claims`, OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "ClaimNames::is_empty")]
    pub userinfo_claims: ClaimNames,
    /// The user's group names, for the `groups` claim; `None` when the grant does not release it
    /// ([`super::groups`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupName>>,
}

/// The access token claim that carries [`AccessGrant::userinfo_claims`], space-separated: the token is all
/// UserInfo reads.
pub const USERINFO_CLAIMS: &str = "userinfo_claims";

impl AccessGrant {
    /// The `token_type` of the access token (RFC 9449 §5).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() {
            DPOP_SCHEME
        } else {
            "Bearer"
        }
    }
}

/// What goes into an ID token beyond the access grant.
#[derive(Debug, Clone)]
pub struct IdTokenExtras {
    /// The client's nonce.
    pub nonce: Option<String>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Lifetime in seconds.
    pub ttl: i64,
    /// User claims asked for by name (`claims`, OIDC Core §5.5), and `groups` when released, with their values.
    pub user_claims: Map<String, Value>,
}

/// Signed tokens for one response.
#[derive(Clone)]
pub struct MintedTokens {
    /// The access token JWT.
    pub access_token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: UnixTime,
    /// The ID token, for OpenID requests.
    pub id_token: Option<String>,
}

impl std::fmt::Debug for MintedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedTokens").field("jti", &self.jti).finish_non_exhaustive()
    }
}

fn payload(map: Map<String, Value>) -> Result<JwtPayload, OAuthError> {
    JwtPayload::from_map(map).map_err(OAuthError::server)
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token (OIDC Core §3.1.3.6, RS256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A fresh `jti`.
pub fn new_jti() -> String {
    random_token(16)
}

impl Provider {
    /// Signs an access token (and an ID token when `id` is given) on the signing pool. `jti` is chosen by
    /// the caller so it can be recorded (e.g. against code replay) before the tokens exist.
    pub async fn mint(
        &self,
        grant: &AccessGrant,
        id: Option<IdTokenExtras>,
        jti: String,
        now: UnixTime,
    ) -> Result<MintedTokens, OAuthError> {
        self.mint_with(self.signing_key(now)?, grant, id, jti, now).await
    }

    /// The key that signs at `now`: for a caller that must name it before signing (a refresh keeps it in the
    /// record its rotation writes while the tokens are being signed).
    pub fn signing_key(&self, now: UnixTime) -> Result<Arc<SigningKey>, OAuthError> {
        Ok(self.keys.snapshot().signing_key(now).cloned().ok_or(JoseError::NoSigningKey)?)
    }

    /// The tokens an earlier `mint` with the same inputs made, byte for byte, signed again by the key `kid`
    /// that made them; `None` when that key has left the ring.
    pub async fn remint(
        &self,
        kid: &str,
        grant: &AccessGrant,
        id: Option<IdTokenExtras>,
        jti: String,
        issued_at: UnixTime,
    ) -> Result<Option<MintedTokens>, OAuthError> {
        let Some(key) = self.keys.snapshot().key(kid).cloned() else { return Ok(None) };
        self.mint_with(key, grant, id, jti, issued_at).await.map(Some)
    }

    /// [`Provider::mint`] with `key`.
    pub async fn mint_with(
        &self,
        key: Arc<SigningKey>,
        grant: &AccessGrant,
        id: Option<IdTokenExtras>,
        jti: String,
        now: UnixTime,
    ) -> Result<MintedTokens, OAuthError> {
        let exp = now + grant.ttl;
        // A pairwise client's tokens name the user by its pairwise subject; the access token also carries the
        // user sealed, for this server alone, to find the user when the token comes back.
        let (subject, sealed_user) = match (&grant.user_id, &grant.sector) {
            (Some(u), Some(sector)) => {
                (self.subjects.pairwise(sector, u), Some(self.subjects.seal_user(u, &grant.client_id, &jti)?))
            }
            (Some(u), None) => (u.as_str().to_owned(), None),
            (None, _) => (grant.client_id.as_str().to_owned(), None),
        };
        let mut at = Map::new();
        at.insert("iss".into(), json!(self.issuer));
        at.insert("sub".into(), json!(subject));
        if let Some(sealed) = sealed_user {
            at.insert(SEALED_USER_CLAIM.into(), json!(sealed));
        }
        at.insert("aud".into(), json!(grant.audience));
        at.insert("client_id".into(), json!(grant.client_id.as_str()));
        if !grant.scope.is_empty() {
            at.insert("scope".into(), json!(grant.scope.to_string()));
        }
        at.insert("iat".into(), json!(now));
        at.insert("exp".into(), json!(exp));
        at.insert("jti".into(), json!(jti));
        if let Some(t) = grant.auth_time {
            at.insert("auth_time".into(), json!(t));
        }
        if let Some(sid) = &grant.sid {
            at.insert("sid".into(), json!(sid));
        }
        if let Some(act) = &grant.act {
            at.insert("act".into(), act.clone());
        }
        if let Some(jkt) = &grant.jkt {
            at.insert("cnf".into(), json!({ "jkt": jkt.as_str() }));
        }
        if !grant.userinfo_claims.is_empty() {
            at.insert(USERINFO_CLAIMS.into(), json!(grant.userinfo_claims.to_string()));
        }
        super::groups::insert_token_groups(&mut at, grant.groups.as_ref(), &self.issuer);
        let at = payload(at)?;

        let id_claims = match (id, &grant.user_id) {
            (Some(extras), Some(_)) => {
                let mut c = Map::new();
                c.insert("iss".into(), json!(self.issuer));
                c.insert("sub".into(), json!(subject));
                c.insert("aud".into(), json!(grant.client_id.as_str()));
                c.insert("azp".into(), json!(grant.client_id.as_str()));
                c.insert("iat".into(), json!(now));
                c.insert("exp".into(), json!(now + extras.ttl));
                if let Some(t) = grant.auth_time {
                    c.insert("auth_time".into(), json!(t));
                }
                if let Some(n) = extras.nonce {
                    c.insert("nonce".into(), json!(n));
                }
                if let Some(sid) = &grant.sid {
                    c.insert("sid".into(), json!(sid));
                }
                // The level the sign-in reached goes with its methods (a refresh's are its grant's sign-in's; a
                // grant stored before they were kept names neither).
                if let Some(level) = super::acr::Level::of_amr(&extras.amr) {
                    c.insert("acr".into(), json!(level.as_str()));
                }
                if !extras.amr.is_empty() {
                    c.insert("amr".into(), json!(extras.amr));
                }
                c.extend(extras.user_claims);
                Some(c)
            }
            _ => None,
        };

        let (access_token, id_token) = self
            .signing_pool
            .run(move || -> Result<(String, Option<String>), OAuthError> {
                let access_token = key.sign_jwt(&at, ACCESS_TOKEN_TYP)?;
                let id_token = match id_claims {
                    Some(mut c) => {
                        c.insert("at_hash".into(), json!(at_hash(&access_token)));
                        Some(key.sign_jwt(&payload(c)?, ID_TOKEN_TYP)?)
                    }
                    None => None,
                };
                Ok((access_token, id_token))
            })
            .await
            .map_err(OAuthError::server)??;
        Ok(MintedTokens { access_token, jti, expires_at: exp, id_token })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3 (RS256): access token and its at_hash.
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
