//! [`Provider`]: everything the protocol needs to answer a request, behind traits.
use crate::blocking::CpuPool;
use crate::config::TokenSettings;
use crate::domain::password::{PasswordChecker, PasswordCost};
use crate::jose::KeyRing;
use crate::storage::cache::EphemeralStore;
use crate::storage::{
    AuditStore, ClientStore, ConsentStore, RefreshTokenStore, RevocationStore, SessionStore, UserStore,
};
use std::sync::Arc;

/// The protocol engine: stores, cache, keys and settings. HTTP handlers call its methods.
pub struct Provider {
    /// `iss`, without trailing slash.
    pub issuer: String,
    /// The token endpoint URL when untyped client assertions may name it as their `aud`
    /// (`clients.assertion_audience`); `None` when they must name the issuer.
    pub assertion_token_endpoint: Option<String>,
    /// Clients.
    pub clients: Arc<dyn ClientStore>,
    /// The same clients through a short in-process cache: for client authentication and authorization
    /// requests only (revocation checks read `clients`, which is exact).
    pub auth_clients: Arc<dyn ClientStore>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Identities at upstream OpenID providers, linked to users.
    pub identities: Arc<dyn crate::storage::IdentityStore>,
    /// Users' TOTP secrets (two-step sign-in).
    pub otps: Arc<dyn crate::storage::OtpStore>,
    /// Users' passkeys.
    pub passkeys: Arc<dyn crate::storage::PasskeyStore>,
    /// Groups of users, whose names the `groups` claim carries.
    pub groups: Arc<dyn crate::storage::GroupStore>,
    /// The WebAuthn relying party of the issuer; `None` (no passkeys) when the issuer is not named by a domain.
    pub passkey_rp: Option<crate::oauth::passkey::PasskeyRp>,
    /// Browser sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Remembered consent.
    pub consents: Arc<dyn ConsentStore>,
    /// Revoked access tokens.
    pub revocations: Arc<dyn RevocationStore>,
    /// Refresh tokens.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Initial access tokens and registration access tokens (RFC 7591, RFC 7592).
    pub registrations: Arc<dyn crate::storage::RegistrationStore>,
    /// Who may register clients at `/register`.
    pub registration_mode: crate::config::RegistrationMode,
    /// Hot state.
    pub cache: Arc<dyn EphemeralStore>,
    /// Fetches the JWK Sets of `private_key_jwt` clients that publish them at a `jwks_uri`.
    pub jwks_fetcher: Arc<dyn crate::oauth::client_keys::JwksFetcher>,
    /// Clients' JWK Sets as parsed, by the digest of their text.
    pub client_key_sets: crate::oauth::key_sets::ParsedKeySets,
    /// Sends logout tokens to clients' `backchannel_logout_uri` when sessions end.
    pub backchannel: crate::oauth::backchannel::Backchannel,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// The `sub` each client sees (pairwise subjects).
    pub subjects: crate::oauth::subject::Subjects,
    /// Lifetimes.
    pub tokens: TokenSettings,
    /// argon2 cost for new hashes.
    pub password_cost: PasswordCost,
    /// Checks sign-in passwords (unknown users against a dummy hash of the configured cost).
    pub password_checker: Arc<PasswordChecker>,
    /// argon2 runs here.
    pub password_pool: CpuPool,
    /// The rules of a password a user chooses (`passwords.min_length`, `history`, `not_username`, `not_email`,
    /// `blocklist_file`).
    pub password_policy: crate::domain::password_policy::PasswordPolicy,
    /// Sends mail (password reset and email verification links); `None` while `[mail]` is off.
    pub mailer: Option<Arc<dyn crate::oauth::mail::Mailer>>,
    /// Seconds a password reset link works (`passwords.reset_link_seconds`).
    pub password_reset_link: i64,
    /// Seconds an email verification link works (`users.email_verification_link_seconds`).
    pub email_verification_link: i64,
    /// RSA signing runs here.
    pub signing_pool: CpuPool,
    /// Pushed authorization requests.
    pub par: crate::config::ParSettings,
    /// How long a browser session lasts.
    pub session_ttl: i64,
    /// How long a browser session may go unused before it signs the user in no more; `None`: no limit.
    pub session_idle_timeout: Option<i64>,
    /// The device authorization grant's code lifetime and polling interval.
    pub device: crate::config::DeviceSettings,
    /// Whether people may create their own account (`users.self_registration`): the sign-up page and
    /// `prompt=create`.
    pub self_registration: bool,
    /// Two-step verification: whether every password sign-in needs it, and how long its steps wait.
    pub otp: crate::config::OtpSettings,
    /// DPoP proofs (RFC 9449).
    pub dpop: crate::config::DpopSettings,
    /// Clock skew tolerated on incoming JWTs, in seconds.
    pub leeway: i64,
    /// How often instances reload the key ring (`keys.refresh_seconds`): how long one may go on signing
    /// with a key another has just retired.
    pub key_refresh: i64,
    /// Abuse limits (sign-in, token endpoint, registration).
    pub limits: crate::oauth::limits::Limiter,
    /// Changes whenever a token may have been revoked anywhere; tags [`Provider::verified_tokens`].
    pub revocation_epoch: Arc<crate::storage::revocation_epoch::RevocationEpoch>,
    /// Access tokens found live, reused while the revocation epoch holds.
    pub verified_tokens: crate::oauth::verified::VerifiedTokens,
    /// Operational counters, served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}
