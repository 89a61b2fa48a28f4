//! The device authorization grant (RFC 8628): a device without a browser (a TV, a command-line tool) asks for a
//! device code and a user code (`/device_authorization`), shows the user code, and polls the token endpoint
//! (`oauth::token`, `device_code.rs`) while the user enters the code on the verification page (`/device`) in a
//! browser of theirs, signs in and approves or denies.
//!
//! The cache holds each request under the hash of its device code, and under the hash of its user code the
//! device code's hash: the page finds the request from what the user typed, but nothing the page sees gives the
//! device code. The user's answer is written once (`set_if_absent`), so two tabs cannot both answer; an approved
//! code is exchanged once (a second mark written once), and the last poll's time is kept apart so that pacing
//! the device never races the answer. Every entry lives until the request expires and as long again after, so
//! that a device polling late is told `expired_token` rather than `invalid_grant`.
//!
//! The grant is not bound to the browser session it was approved in: the device is not that browser, and
//! signing out of the browser must not sign the television out. Its tokens name no `sid`; disabling the user,
//! their "sign out everywhere", withdrawing the app on the account page and revoking the client's tokens end
//! them as they end every grant's.
pub mod user_code;

pub use user_code::{UserCode, UserCodeError};

use super::account::{bound_token, matches};
use super::audit::{EventFacts, RequestMeta};
use super::authorize::{requested_scope, scope_serde};
use super::cache_keys;
use super::client_auth::BasicCredentials;
use super::discovery::paths;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::provider::Provider;
use super::session::SignedIn;
use crate::domain::secret::PlainSecret;
use crate::domain::{Client, ClientId, Consent, GrantType, Scope, UnixTime, UserId};
use crate::i18n::Locale;
use crate::storage::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// How many user codes are drawn before giving up when each one drawn is taken (at 2^34.6 codes, never).
const USER_CODE_DRAWS: usize = 5;

/// What a device asked for, kept under the hash of its device code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequest {
    /// The client that asked.
    pub client_id: ClientId,
    /// The scope it asked for, as the client's registration allowed it.
    #[serde(with = "scope_serde")]
    pub scope: Scope,
    /// The resource (RFC 8707) it asked for, if any.
    pub resource: Option<String>,
    /// When the device code and the user code stop working.
    pub expires_at: UnixTime,
    /// The language the device asked the verification pages in (`ui_locales`, as the authorization endpoint
    /// takes it), if it named one of ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

/// The user's answer to a device authorization, written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum DeviceDecision {
    /// Approved by this user, signed in at `auth_time` with `amr`.
    Approved {
        /// The user.
        user_id: UserId,
        /// When they signed in (the ID token's `auth_time`).
        auth_time: UnixTime,
        /// How.
        amr: Vec<String>,
        /// When they approved, in milliseconds: the time revocations are compared with, as a code's issue.
        approved_at_ms: i64,
    },
    /// Denied.
    Denied,
}

/// A successful device authorization response (RFC 8628 §3.2).
#[derive(Clone, Serialize)]
pub struct DeviceAuthorizationResponse {
    /// The device's secret: what it polls with.
    pub device_code: String,
    /// What the user types, as shown (`XXXX-XXXX`).
    pub user_code: String,
    /// The verification page.
    pub verification_uri: String,
    /// The verification page with the user code filled in (for a QR code or a link).
    pub verification_uri_complete: String,
    /// Seconds until both codes stop working.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorizationResponse").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A device authorization waiting for the user's answer, as the verification page shows it.
#[derive(Debug, Clone)]
pub struct PendingDevice {
    /// The code the user entered.
    pub user_code: UserCode,
    /// The client that asks, as registered now.
    pub client: Client,
    /// What it asks for.
    pub scope: Scope,
    device_code_hash: String,
    request: DeviceRequest,
}

impl PendingDevice {
    /// The language the device asked the verification pages in, if any.
    pub fn locale(&self) -> Option<Locale> {
        self.request.locale
    }
}

/// What a user code finds.
#[derive(Debug, Clone)]
pub enum DeviceLookup {
    /// A request waiting for an answer.
    Pending(Box<PendingDevice>),
    /// No request has this code now: never issued, expired, answered already, or its client may no longer make
    /// it (the page says the same in every case).
    NotFound,
}

/// The answer the page gave, once it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAnswer {
    /// Approved: the device gets its tokens at its next poll.
    Approved,
    /// Denied: the device is told `access_denied`.
    Denied,
    /// Another answer came first (another tab), or the request expired meanwhile.
    TooLate,
}

/// How long the entries of a request that expires at `expires_at` are kept from `now`: until then, and for
/// `ttl` more, so that late polls are told it expired.
fn kept(expires_at: UnixTime, ttl: i64, now: UnixTime) -> Duration {
    Duration::from_secs(u64::try_from(expires_at + ttl - now).unwrap_or(1).max(1))
}

impl Provider {
    /// `POST /device_authorization` (RFC 8628 §3.1): authenticates the client as the token endpoint does, checks
    /// that it may use the device grant and the scope it asks for (as the authorization endpoint checks it), and
    /// stores the request.
    pub async fn device_authorization(
        &self,
        mut params: Params,
        authorization: Option<&str>,
        now: UnixTime,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        let basic = match authorization {
            Some(h) => BasicCredentials::parse(h)?,
            None => None,
        };
        let client = self.authenticate_client(&mut params, basic, now).await?;
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use the device grant"));
        }
        let scope = requested_scope(&params, &client)?;
        let resource = super::token::resource::requested(&params, &client)?;
        let ttl = self.device.code_ttl;
        let device_code = PlainSecret::generate();
        let device_code_hash = device_code.hash();
        let mut user_code = UserCode::generate();
        let locale = params.get("ui_locales").and_then(Locale::of_ui_locales);
        let request = DeviceRequest { client_id: client.id.clone(), scope, resource, expires_at: now + ttl, locale };
        let keep = kept(now + ttl, ttl, now);
        // The index first: a user code already in use is drawn again.
        let mut draws = 1;
        while !self.cache.set_if_absent(&index_key(&user_code), device_code_hash.as_str().as_bytes(), keep).await? {
            if draws == USER_CODE_DRAWS {
                return Err(OAuthError::server("no free user code"));
            }
            user_code = UserCode::generate();
            draws += 1;
        }
        let bytes = serde_json::to_vec(&request).map_err(OAuthError::server)?;
        // Anyone may ask with a public client: requests are held within the budget of pending sign-ins.
        if !self.cache.set_within_budget(&cache_keys::device(device_code_hash.as_str()), &bytes, keep).await? {
            if let Err(e) = self.cache.delete(&index_key(&user_code)).await {
                tracing::warn!(error = %e, "could not remove the user code of a refused device authorization");
            }
            return Err(OAuthError::unavailable("too many device authorizations are pending"));
        }
        let verification_uri = self.verification_uri();
        let mut complete = url::Url::parse(&verification_uri).map_err(OAuthError::server)?;
        complete.query_pairs_mut().append_pair("user_code", user_code.as_str());
        // The page the link opens speaks the device's language before any code is looked up.
        if let Some(locale) = locale {
            complete.query_pairs_mut().append_pair("ui_locales", locale.tag());
        }
        Ok(DeviceAuthorizationResponse {
            device_code: device_code.expose().to_owned(),
            user_code: user_code.display(),
            verification_uri,
            verification_uri_complete: complete.into(),
            expires_in: ttl,
            interval: self.device.interval,
        })
    }

    /// The verification page, on the issuer.
    pub fn verification_uri(&self) -> String {
        format!("{}{}", self.issuer, paths::DEVICE)
    }

    /// The request a user code stands for, if it waits for an answer at `now` and its client may still make it.
    pub async fn find_device(&self, user_code: &UserCode, now: UnixTime) -> Result<DeviceLookup, OAuthError> {
        let Some(hash) = self.cache.get(&index_key(user_code)).await? else { return Ok(DeviceLookup::NotFound) };
        let device_code_hash = String::from_utf8(hash).map_err(OAuthError::server)?;
        let Some(request) = self.device_request(&device_code_hash).await? else { return Ok(DeviceLookup::NotFound) };
        if now >= request.expires_at || self.cache.get(&cache_keys::device_decision(&device_code_hash)).await?.is_some()
        {
            return Ok(DeviceLookup::NotFound);
        }
        // As registered now: a client removed, or no longer allowed the grant or the scope, asks nothing.
        let Some(client) = self.clients.client(&request.client_id).await? else { return Ok(DeviceLookup::NotFound) };
        let still_allowed = client.allows_grant(GrantType::DeviceCode)
            && request.scope.is_subset_of(&client.scope)
            && request.resource.as_ref().is_none_or(|r| client.resources.contains(r));
        if !still_allowed {
            return Ok(DeviceLookup::NotFound);
        }
        let scope = request.scope.clone();
        Ok(DeviceLookup::Pending(Box::new(PendingDevice {
            user_code: user_code.clone(),
            client,
            scope,
            device_code_hash,
            request,
        })))
    }

    /// Records the signed-in user's answer to `pending` (found just before with [`Provider::find_device`]).
    /// The first answer counts; an approval remembers the consent as the code flow's does. Audited as the
    /// consent page's answers are.
    pub async fn answer_device(
        &self,
        pending: &PendingDevice,
        signed_in: &SignedIn,
        approve: bool,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<DeviceAnswer, OAuthError> {
        if now >= pending.request.expires_at {
            return Ok(DeviceAnswer::TooLate);
        }
        let user = &signed_in.user;
        let decision = if approve {
            DeviceDecision::Approved {
                user_id: user.id.clone(),
                auth_time: signed_in.session.auth_time,
                amr: signed_in.session.amr.clone(),
                approved_at_ms: crate::domain::now_millis(),
            }
        } else {
            DeviceDecision::Denied
        };
        let bytes = serde_json::to_vec(&decision).map_err(OAuthError::server)?;
        let keep = kept(pending.request.expires_at, self.device.code_ttl, now);
        let key = cache_keys::device_decision(&pending.device_code_hash);
        // The consent is stored before the approval is published: a device is never connected without one that
        // the account page lists and can withdraw.
        if approve {
            let granted = Consent { scope: pending.scope.clone(), ..Consent::default() };
            let granting = self.consents.grant_consent(&user.id, &pending.client.id, &granted, now).await;
            match granting {
                Ok(()) => {}
                // Removed while the page was open: the device's poll finds the client gone.
                Err(StoreError::ReferenceGone(_)) => return Ok(DeviceAnswer::TooLate),
                Err(e) => {
                    // The user is told the approval failed, and the device that it was denied.
                    let denied = serde_json::to_vec(&DeviceDecision::Denied).map_err(OAuthError::server)?;
                    self.cache.set_if_absent(&key, &denied, keep).await?;
                    return Err(e.into());
                }
            }
        }
        if !self.cache.set_if_absent(&key, &bytes, keep).await? {
            return Ok(DeviceAnswer::TooLate);
        }
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: Some(pending.client.id.as_str().to_owned()),
            details: json!({ "scope": pending.scope.to_string(), "grant_type": GrantType::DeviceCode.as_str() }),
        };
        let kind = if approve { "consent_granted" } else { "consent_denied" };
        self.audit(kind, facts, meta, now).await;
        Ok(if approve { DeviceAnswer::Approved } else { DeviceAnswer::Denied })
    }

    /// The request stored under a device code's hash.
    pub(crate) async fn device_request(&self, device_code_hash: &str) -> Result<Option<DeviceRequest>, OAuthError> {
        match self.cache.get(&cache_keys::device(device_code_hash)).await? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(OAuthError::server),
            None => Ok(None),
        }
    }
}

/// The CSRF token of the code entry form: bound to the browser-binding cookie (the user may not be signed in
/// yet), so another site cannot walk a browser through entering a code of its choosing.
pub fn device_entry_csrf(browser_cookie: &str) -> String {
    bound_token(b"tessera device entry\0", browser_cookie)
}

/// Whether `presented` is the code entry CSRF token for `browser_cookie`.
pub fn device_entry_csrf_matches(browser_cookie: &str, presented: &str) -> bool {
    matches(&device_entry_csrf(browser_cookie), presented)
}

/// The CSRF token of the approval form: bound to the session cookie, so only the page served to the signed-in
/// browser can approve, and different from the account page's.
pub fn device_approval_csrf(session_cookie: &str) -> String {
    bound_token(b"tessera device approval\0", session_cookie)
}

/// Whether `presented` is the approval CSRF token for `session_cookie`.
pub fn device_approval_csrf_matches(session_cookie: &str, presented: &str) -> bool {
    matches(&device_approval_csrf(session_cookie), presented)
}

/// The cache key of a user code's index entry.
fn index_key(user_code: &UserCode) -> String {
    cache_keys::device_user_code(user_code.hash().as_str())
}
