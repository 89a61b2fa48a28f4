//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): a device polls with its
//! device code until the user has answered on the verification page (`oauth::device`). While no answer is in, it
//! is told `authorization_pending`, or `slow_down` when it polls sooner than its interval (which then grows by
//! 5 seconds for that code). Pacing is decided by one atomic cache write, so that of two polls at once exactly one
//! waits and the other slows down, on any instance: a waiting poll is one that sets the code's poll gate
//! (`set_if_absent`, living for the interval); a poll that finds the gate slows down, adds one to the code's count
//! of slow-downs (`incr`, the interval being the configured one plus 5 seconds per slow-down), and sets the gate
//! again for the grown interval from now. After a denial, `access_denied`; past the code's lifetime,
//! `expired_token`. Once approved, exactly one poll gets tokens: the first writes the code's redemption mark
//! (`set_if_absent`), and the others find it and are refused with `invalid_grant`. The tokens are those of the
//! code grant, bound to no browser session (see `oauth::device`).
use super::{resource, scope_string, TokenResponse};
use crate::domain::refresh_family::FamilySecret;
use crate::domain::secret::SecretHash;
use crate::domain::{ClaimNames, Client, GrantType, Scope, UnixTime, UserId};
use crate::oauth::cache_keys;
use crate::oauth::device::{DeviceDecision, DeviceRequest};
use crate::oauth::dpop::Jkt;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::groups::insert_token_groups;
use crate::oauth::params::Params;
use crate::oauth::provider::Provider;
use crate::oauth::tokens::{new_jti, AccessGrant, IdTokenExtras};
use crate::storage::{CodeGrantStanding, StoreError};
use serde_json::Map;
use std::time::Duration;

/// What RFC 8628 §3.5 adds to the interval of a device that polled too soon.
pub const SLOW_DOWN_STEP: i64 = 5;

/// What one poll comes to, before any token is issued or the pacing is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// The code was issued to another client.
    WrongClient,
    /// Past its lifetime.
    Expired,
    /// No answer yet: `authorization_pending`, or `slow_down` when polled too soon.
    Waiting,
    /// Denied by the user.
    Denied,
    /// Approved: the first such poll is answered with tokens.
    Approved {
        /// The user who approved.
        user_id: UserId,
        /// When they signed in.
        auth_time: UnixTime,
        /// How.
        amr: Vec<String>,
        /// When they approved, in milliseconds.
        approved_at_ms: i64,
    },
}

/// Decides a poll by `client_id` at `now` of `request`, given the user's answer so far. Slowing down is a kind of
/// waiting (RFC 8628 §3.5), so an answered request is answered whenever it is polled.
pub fn poll(
    request: &DeviceRequest,
    client_id: &crate::domain::ClientId,
    decision: Option<DeviceDecision>,
    now: UnixTime,
) -> Poll {
    if request.client_id != *client_id {
        return Poll::WrongClient;
    }
    if now >= request.expires_at {
        return Poll::Expired;
    }
    match decision {
        Some(DeviceDecision::Denied) => Poll::Denied,
        Some(DeviceDecision::Approved { user_id, auth_time, amr, approved_at_ms }) => {
            Poll::Approved { user_id, auth_time, amr, approved_at_ms }
        }
        None => Poll::Waiting,
    }
}

/// The interval of a code whose device was told to slow down `slowdowns` times, `interval` being the configured one.
pub fn paced_interval(interval: i64, slowdowns: u64) -> i64 {
    let grown = i64::try_from(slowdowns).unwrap_or(i64::MAX).saturating_mul(SLOW_DOWN_STEP);
    interval.saturating_add(grown)
}

impl Provider {
    pub(super) async fn device_code_grant(
        &self,
        client: &Client,
        params: &Params,
        dpop: Option<&Jkt>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params.require("device_code")?;
        if code.len() > 128 {
            return Err(OAuthError::invalid_grant("invalid device code"));
        }
        let hash = SecretHash::of(code);
        let hash = hash.as_str();
        let Some(request) = self.device_request(hash).await? else {
            return Err(OAuthError::invalid_grant("invalid device code"));
        };
        let decision = match self.cache.get(&cache_keys::device_decision(hash)).await? {
            Some(bytes) => Some(serde_json::from_slice::<DeviceDecision>(&bytes).map_err(OAuthError::server)?),
            None => None,
        };
        let keep = seconds(request.expires_at - now);
        match poll(&request, &client.id, decision, now) {
            Poll::WrongClient => Err(OAuthError::invalid_grant("the device code was issued to another client")),
            Poll::Expired => Err(OAuthError::new(ErrorCode::ExpiredToken, "the device code has expired")),
            Poll::Denied => Err(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request")),
            Poll::Waiting => Err(self.pace(hash, keep).await?),
            Poll::Approved { user_id, auth_time, amr, approved_at_ms } => {
                let redeemed = cache_keys::device_redeemed(hash);
                if !self.cache.set_if_absent(&redeemed, b"1", keep).await? {
                    return Err(OAuthError::invalid_grant("the device code was already used"));
                }
                let approval = Approval { user_id, auth_time, amr, approved_at: approved_at_ms / 1000 };
                self.issue_device_tokens(client, params, code, &request, approval, dpop, now).await
            }
        }
    }

    /// The answer to a poll of the code of `hash` (live for `keep`) that finds no answer yet: `authorization_pending`
    /// when it sets the code's poll gate, else `slow_down`, the interval grown.
    async fn pace(&self, hash: &str, keep: Duration) -> Result<OAuthError, OAuthError> {
        let (gate, slowdowns) = (cache_keys::device_poll_gate(hash), cache_keys::device_slowdowns(hash));
        // A count that does not read is none: pacing only advises the device.
        let counted = self.cache.get(&slowdowns).await?;
        let counted = counted.and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u64>().ok()).unwrap_or(0);
        let interval = paced_interval(self.device.interval, counted);
        if self.cache.set_if_absent(&gate, b"1", seconds(interval)).await? {
            return Ok(OAuthError::new(ErrorCode::AuthorizationPending, "the user has not answered yet"));
        }
        let (counted, _) = self.cache.incr(&slowdowns, keep).await?;
        let interval = paced_interval(self.device.interval, counted);
        // The grown interval counts from this poll, as RFC 8628 §3.5 has the device wait it before the next.
        self.cache.set(&gate, b"1", seconds(interval)).await?;
        let description = format!("polled too soon: wait {interval} seconds between polls");
        Ok(OAuthError::new(ErrorCode::SlowDown, description))
    }

    /// The tokens of an approved device code, as the code grant issues them but bound to no session: checked
    /// against the user, the client's revocations and the user's withdrawal of the app since the approval.
    #[allow(clippy::too_many_arguments)]
    async fn issue_device_tokens(
        &self,
        client: &Client,
        params: &Params,
        code: &str,
        request: &DeviceRequest,
        approval: Approval,
        dpop: Option<&Jkt>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let resource = resource::for_grant(params, client, request.resource.as_deref())?;
        let ttl = self.access_ttl(client);
        let jti = new_jti();
        let refresh = client.allows_grant(GrantType::RefreshToken).then(|| {
            self.first_refresh_token(
                &FamilySecret::of_device_code(code),
                client,
                Some(approval.user_id.clone()),
                None,
                &request.scope,
                resource.clone(),
                (approval.auth_time, &approval.amr),
                (jti.as_str(), now + ttl),
                Self::refresh_binding(client, dpop),
                now,
            )
        });
        let openid = request.scope.contains(Scope::OPENID);
        let no_names = ClaimNames::default();
        let groups = self.groups_claim(&approval.user_id, &request.scope, openid.then_some(&no_names)).await?;
        let access = AccessGrant {
            client_id: client.id.clone(),
            user_id: Some(approval.user_id.clone()),
            scope: request.scope.clone(),
            audience: self.audience(resource.as_deref()),
            auth_time: Some(approval.auth_time),
            sid: None,
            ttl,
            act: None,
            jkt: dpop.cloned(),
            sector: client.sector(),
            userinfo_claims: Default::default(),
            groups: groups.access,
        };
        let id = openid.then(|| {
            let mut user_claims = Map::new();
            insert_token_groups(&mut user_claims, groups.id_token.as_ref(), &self.issuer);
            IdTokenExtras { nonce: None, amr: approval.amr.clone(), ttl: self.tokens.id_token_ttl, user_claims }
        });
        let storing = self.refresh_tokens.redeem_code_grant(
            &approval.user_id,
            None,
            (&client.id, approval.approved_at),
            refresh.as_ref().map(|(_, r)| r),
            now,
        );
        let (standing, minted) = tokio::join!(storing, self.mint(&access, id, jti, now));
        let standing = standing.map_err(|e| match e {
            StoreError::ReferenceGone(_) => OAuthError::invalid_grant("the client or user of the device code is gone"),
            other => other.into(),
        })?;
        match standing {
            CodeGrantStanding::Live => {}
            CodeGrantStanding::UserCannotSignIn | CodeGrantStanding::SessionEnded => {
                return Err(OAuthError::invalid_grant("the user can no longer use this grant"))
            }
            CodeGrantStanding::ClientRevoked => {
                return Err(OAuthError::invalid_grant("the client's tokens were revoked after the approval"))
            }
            CodeGrantStanding::AppWithdrawn => {
                return Err(OAuthError::invalid_grant("the user has withdrawn this client's access"))
            }
        }
        let minted = minted?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: access.token_type().into(),
            expires_in: ttl,
            scope: scope_string(&request.scope),
            id_token: minted.id_token,
            refresh_token: refresh.map(|(token, _)| token.expose().to_owned()),
            issued_token_type: None,
        })
    }
}

/// `n` seconds as a cache lifetime (at least one).
fn seconds(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(1).max(1))
}

/// The user's approval, as the tokens need it.
struct Approval {
    user_id: UserId,
    auth_time: UnixTime,
    amr: Vec<String>,
    /// In whole seconds, as cut-offs are.
    approved_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClientId;

    const NOW: UnixTime = 1_700_000_000;

    fn request() -> DeviceRequest {
        DeviceRequest {
            client_id: ClientId::parse("tv").unwrap(),
            scope: Scope::parse("openid").unwrap(),
            resource: None,
            expires_at: NOW + 600,
            locale: None,
        }
    }

    fn tv() -> ClientId {
        ClientId::parse("tv").unwrap()
    }

    fn approved() -> DeviceDecision {
        DeviceDecision::Approved {
            user_id: UserId::parse("u1").unwrap(),
            auth_time: NOW - 30,
            amr: vec!["pwd".into()],
            approved_at_ms: (NOW - 10) * 1000,
        }
    }

    #[test]
    fn an_unanswered_code_waits_and_each_slow_down_adds_five_seconds() {
        assert_eq!(poll(&request(), &tv(), None, NOW), Poll::Waiting);
        assert_eq!(poll(&request(), &tv(), None, NOW + 599), Poll::Waiting);
        assert_eq!([0, 1, 2, 3].map(|n| paced_interval(5, n)), [5, 10, 15, 20]);
        assert_eq!(paced_interval(1, 2), 11);
        assert_eq!(paced_interval(5, u64::MAX), i64::MAX, "no overflow");
    }

    #[test]
    fn an_answer_is_given_whenever_it_is_polled() {
        assert_eq!(poll(&request(), &tv(), Some(DeviceDecision::Denied), NOW + 1), Poll::Denied);
        let Poll::Approved { user_id, auth_time, approved_at_ms, .. } =
            poll(&request(), &tv(), Some(approved()), NOW + 1)
        else {
            panic!("not approved")
        };
        assert_eq!((user_id.as_str(), auth_time, approved_at_ms), ("u1", NOW - 30, (NOW - 10) * 1000));
    }

    #[test]
    fn an_expired_code_is_expired_whatever_the_answer_and_another_clients_is_refused_first() {
        for decision in [None, Some(DeviceDecision::Denied), Some(approved())] {
            assert_eq!(poll(&request(), &tv(), decision.clone(), NOW + 600), Poll::Expired);
            let other = ClientId::parse("other").unwrap();
            assert_eq!(poll(&request(), &other, decision, NOW + 600), Poll::WrongClient);
        }
    }

    #[test]
    fn decisions_read_back_as_written() {
        for decision in [approved(), DeviceDecision::Denied] {
            let bytes = serde_json::to_vec(&decision).unwrap();
            assert_eq!(serde_json::from_slice::<DeviceDecision>(&bytes).unwrap(), decision);
        }
    }
}
