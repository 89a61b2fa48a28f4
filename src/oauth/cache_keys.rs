//! The cache key of every kind of hot state, in one place so no two kinds can collide.
use crate::domain::UnixTime;

/// An authorization code, by the hash of the code: its grant, then the record of its redemption.
pub fn code(code_hash: &str) -> String {
    format!("code:{code_hash}")
}

/// A device authorization request (RFC 8628), by the hash of its device code: what it asks for, until it expires.
pub fn device(device_code_hash: &str) -> String {
    format!("device:{device_code_hash}")
}

/// The device authorization a user code stands for, by the hash of the user code: the hash of its device code.
pub fn device_user_code(user_code_hash: &str) -> String {
    format!("device-user-code:{user_code_hash}")
}

/// The user's answer to a device authorization, written once.
pub fn device_decision(device_code_hash: &str) -> String {
    format!("device-decision:{device_code_hash}")
}

/// Present while a device that polled for its tokens must wait before its next poll, written by the poll that
/// waits (`set_if_absent`) for the code's interval.
pub fn device_poll_gate(device_code_hash: &str) -> String {
    format!("device-poll-gate:{device_code_hash}")
}

/// How many times the device of a code was told to slow down (a counter: its interval grows with it).
pub fn device_slowdowns(device_code_hash: &str) -> String {
    format!("device-slowdowns:{device_code_hash}")
}

/// The mark that an approved device code has been exchanged for tokens, written once.
pub fn device_redeemed(device_code_hash: &str) -> String {
    format!("device-redeemed:{device_code_hash}")
}

/// A TOTP secret being set up, sealed, by the hash of the session setting it up.
pub fn otp_enrolment(session_hash: &str) -> String {
    format!("otp-enrolment:{session_hash}")
}

/// A sign-in waiting for its TOTP code, by the hash of its id.
pub fn second_step(id_hash: &str) -> String {
    format!("second-step:{id_hash}")
}

/// A passkey ceremony waiting for the browser's answer (`kind`: `registration` or `sign-in`), by the hash of its
/// id.
pub fn passkey_ceremony(kind: &str, id_hash: &str) -> String {
    format!("passkey-{kind}:{id_hash}")
}

/// A pending authorization request while the user signs in and consents.
pub fn interaction(id: &str) -> String {
    format!("interaction:{id}")
}

/// A pushed authorization request (RFC 9126), by the hash of its `request_uri` reference.
pub fn pushed_request(reference_hash: &str) -> String {
    format!("pushed-request:{reference_hash}")
}

/// A revoked access token.
pub fn denied_jti(jti: &str) -> String {
    format!("deny:{jti}")
}

/// A `private_key_jwt` assertion already used, by client and `jti` (RFC 7523 §3 single use).
pub fn assertion_jti(client_id: &str, jti: &str) -> String {
    format!("assertion-jti:{client_id}:{jti}")
}

/// A DPoP proof already used, by its key's thumbprint and its `jti` (RFC 9449 §11.1).
pub fn dpop_jti(jkt: &str, jti: &str) -> String {
    format!("dpop-jti:{jkt}:{jti}")
}

/// Marker of an access token whose refusal at the admin API was audited already.
pub fn admin_refused(jti: &str) -> String {
    format!("admin-refused:{jti}")
}

/// A client's JWK Set as fetched from its `jwks_uri`.
pub fn client_jwks(client_id: &str) -> String {
    format!("client-jwks:{client_id}")
}

/// Throttle of early refetches of a client's JWK Set.
pub fn client_jwks_refetch(client_id: &str) -> String {
    format!("client-jwks-refetch:{client_id}")
}

/// Marker of a fetch of a client's JWK Set under way, so that the requests that find no set wait for it.
pub fn client_jwks_fetching(client_id: &str) -> String {
    format!("client-jwks-fetching:{client_id}")
}

/// An abuse-limit counter or lock (`oauth::limits`): `bucket` names the limit, `subject` whom it counts (an IP,
/// or the hash of a name).
pub fn limit(bucket: &str, subject: &str) -> String {
    format!("limit:{bucket}:{subject}")
}

/// The mark that a sign-in lock has refused an attempt (`oauth::limits`): the lock by its scope, its subject (as
/// [`limit`] names it) and its end, so that a later lock of the same subject is a new one.
pub fn lock_refusal(scope: &str, subject: &str, until: UnixTime) -> String {
    format!("lock-refusal:{scope}:{subject}:{until}")
}

/// A federated sign-in between the login page and the upstream provider's callback, by the hash of its `state`.
pub fn federation(state_hash: &str) -> String {
    format!("federation:{state_hash}")
}

/// A password reset link sent by mail, by the hash of its token: whose password it resets, until used.
pub fn password_reset(token_hash: &str) -> String {
    format!("password-reset:{token_hash}")
}

/// An email verification link sent by mail, by the hash of its token: whose address it verifies, until used.
pub fn email_verification(token_hash: &str) -> String {
    format!("email-verification:{token_hash}")
}
