//! The file format ([`RawSettings`]): every setting as operators write it, with its compiled-in default, read
//! from the defaults, the TOML file and the environment in that order. Unknown keys are refused.
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::ConfigError;
use crate::domain::password::PasswordCost;

/// The file format, section by section. Every field has a compiled-in default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSettings {
    pub issuer: String,
    pub http: RawHttp,
    pub database: RawDatabase,
    pub redis: RawRedis,
    pub keys: RawKeys,
    pub registration: RawRegistration,
    pub tokens: RawTokens,
    pub passwords: RawPasswords,
    pub clients: RawClients,
    pub sessions: RawSessions,
    pub par: RawPar,
    pub dpop: RawDpop,
    pub device: RawDevice,
    pub otp: RawOtp,
    pub users: RawUsers,
    pub limits: RawLimits,
    pub log: RawLog,
    pub federation: super::federation::RawFederation,
    pub mail: super::mail::RawMail,
    pub ui: super::ui::RawUi,
}

/// The device authorization grant (RFC 8628).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDevice {
    /// How long a device code and its user code are good for (`expires_in`).
    pub code_ttl_seconds: i64,
    /// The least time between two polls of the token endpoint (`interval`).
    pub interval_seconds: i64,
}

impl Default for RawDevice {
    fn default() -> Self {
        Self { code_ttl_seconds: 600, interval_seconds: 5 }
    }
}

/// Two-step verification with TOTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOtp {
    /// Every password sign-in of a user without TOTP sets it up before it ends.
    pub required: bool,
    /// How long the second step of a password sign-in waits for its code.
    pub code_step_seconds: i64,
    /// How long a secret shown for set-up waits for its first code.
    pub setup_seconds: i64,
}

impl Default for RawOtp {
    fn default() -> Self {
        Self { required: false, code_step_seconds: 5 * 60, setup_seconds: 15 * 60 }
    }
}

/// `[users]`: accounts people create and delete themselves, and the verification of their email addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUsers {
    /// The login page offers "Create an account", and `prompt=create` is honoured. Off: anyone who reaches the
    /// page can make an account, so only an operator turns it on.
    pub self_registration: bool,
    /// The account page offers "Delete account". Off, as Keycloak ships its "Delete Account": an operator
    /// decides whether accounts may go without one.
    pub self_deletion: bool,
    /// How long an email verification link sent by mail works (`/login/verify-email`).
    pub email_verification_link_seconds: i64,
}

impl Default for RawUsers {
    fn default() -> Self {
        // A day, as Keycloak's: the mail may wait in a mailbox, and the link only confirms the address.
        Self { self_registration: false, self_deletion: false, email_verification_link_seconds: 86_400 }
    }
}

/// DPoP proofs (RFC 9449).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDpop {
    /// How old a proof's `iat` may be.
    pub proof_max_age_seconds: i64,
    /// Whether proofs at `/token`, `/par` and `/userinfo` must carry a nonce we provided (RFC 9449 §8, §9).
    pub require_nonce: bool,
    /// How long one nonce window lasts; a nonce is good in its window and the next.
    pub nonce_seconds: i64,
}

impl Default for RawDpop {
    fn default() -> Self {
        Self { proof_max_age_seconds: 60, require_nonce: false, nonce_seconds: 300 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPar {
    pub request_ttl_seconds: i64,
    pub required: bool,
}

impl Default for RawPar {
    fn default() -> Self {
        Self { request_ttl_seconds: 60, required: false }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSessions {
    pub ttl_seconds: i64,
    /// 0: off.
    pub idle_timeout_seconds: i64,
}

impl Default for RawSessions {
    fn default() -> Self {
        Self { ttl_seconds: 24 * 3600, idle_timeout_seconds: 0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClients {
    pub secret_overlap_seconds: i64,
    pub cache_seconds: u64,
    /// `issuer_or_token_endpoint` or `issuer`: see [`super::AssertionAudience`].
    pub assertion_audience: String,
}

impl Default for RawClients {
    fn default() -> Self {
        Self {
            secret_overlap_seconds: 24 * 3600,
            cache_seconds: 5,
            assertion_audience: "issuer_or_token_endpoint".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    pub bind: String,
    /// A second listener for `/metrics`, `/healthz` and `/readyz` only; unset: none, `/metrics` is on `bind`.
    pub management_bind: Option<String>,
    pub workers: Option<usize>,
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabase {
    pub url: String,
    /// Unset: [`DatabaseKind::default_max_connections`].
    pub max_connections: Option<u32>,
    pub acquire_timeout_ms: u64,
    pub purge_interval_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRedis {
    pub url: Option<String>,
    pub prefix: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKeys {
    pub dir: PathBuf,
    pub kek_file: Option<PathBuf>,
    pub kek: Option<String>,
    pub algorithm_bits: u32,
    pub rotation_interval_seconds: i64,
    pub publish_ahead_seconds: i64,
    pub jwks_max_age_seconds: i64,
    pub refresh_seconds: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRegistration {
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTokens {
    pub access_token_ttl_seconds: i64,
    /// The longest access token lifetime a client may be given. Unset: `access_token_ttl_seconds`.
    pub max_access_token_ttl_seconds: Option<i64>,
    pub id_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub refresh_idle_seconds: i64,
    pub refresh_grace_seconds: i64,
    /// How long a rotated refresh token's row is kept for reuse detection before the purge may delete it.
    pub rotated_refresh_retention_seconds: i64,
    pub default_audience: Option<String>,
    pub leeway_seconds: i64,
    pub code_ttl_seconds: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPasswords {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
    /// Fewest Unicode characters of a password a user sets on their account page (operators' are held to 8).
    pub min_length: usize,
    /// How long a password reset link sent by mail works (`/login/forgot`).
    pub reset_link_seconds: i64,
    /// How many of a user's last passwords, the current one included, a password they choose may not be (0: off).
    pub history: usize,
    /// Whether a password a user chooses may not be their username.
    pub not_username: bool,
    /// Whether a password a user chooses may not be their email address.
    pub not_email: bool,
    /// A file of passwords nobody may choose, one per line.
    pub blocklist_file: Option<PathBuf>,
}

/// `[limits]`: abuse limits (DESIGN.md §3: counters in the cache, in-process when it fails). A limit of 0
/// turns that limit off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    /// Failed sign-ins per client IP in `login_ip_window_seconds`; then that IP waits for the window's end.
    pub login_ip_failures: u64,
    pub login_ip_window_seconds: i64,
    /// Failed sign-ins per username in `login_user_window_seconds`; then the username is locked.
    pub login_user_failures: u64,
    pub login_user_window_seconds: i64,
    /// The first lock of a username; each further lock doubles it, up to `login_user_max_lock_seconds`.
    pub login_user_lock_seconds: i64,
    pub login_user_max_lock_seconds: i64,
    /// Token requests per client_id.
    pub token_client_requests: u64,
    pub token_client_window_seconds: i64,
    /// Token requests per client IP.
    pub token_ip_requests: u64,
    pub token_ip_window_seconds: i64,
    /// `POST /register` requests per client IP.
    pub register_ip_requests: u64,
    pub register_ip_window_seconds: i64,
    /// New pending sign-ins (authorization requests kept while the user signs in or consents) per client IP.
    pub authorize_ip_requests: u64,
    pub authorize_ip_window_seconds: i64,
    /// Sign-ups (`users.self_registration`) per client IP: each consistent form counts, taken names included.
    pub user_registration_ip_requests: u64,
    pub user_registration_ip_window_seconds: i64,
    /// Password reset requests (`/login/forgot`) per client IP: each consistent form counts.
    pub password_reset_ip_requests: u64,
    pub password_reset_ip_window_seconds: i64,
    /// Password reset mails per account: past it, requests for that account send nothing (same answer).
    pub password_reset_user_requests: u64,
    pub password_reset_user_window_seconds: i64,
    /// Email verification mails per account (the account page's button): past it, the page asks to wait.
    pub email_verification_user_requests: u64,
    pub email_verification_user_window_seconds: i64,
    /// What the in-process cache may hold in pending sign-ins, in KiB; past it new ones are refused.
    pub pending_sign_ins_memory_kib: u64,
    /// Counters kept in process while the cache fails.
    pub fallback_entries: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            // Many people can share one address (an office or campus NAT, a proxy not yet in
            // `http.trusted_proxies`): five failures a minute would lock them all out at each burst of typos. A
            // hundred per quarter hour allows a password spray about as few guesses a day per address (9,600
            // against 7,200), while each account has its own lock below.
            login_ip_failures: 100,
            login_ip_window_seconds: 15 * 60,
            login_user_failures: 5,
            login_user_window_seconds: 15 * 60,
            login_user_lock_seconds: 60,
            login_user_max_lock_seconds: 15 * 60,
            token_client_requests: 600,
            token_client_window_seconds: 60,
            token_ip_requests: 1200,
            token_ip_window_seconds: 60,
            register_ip_requests: 20,
            register_ip_window_seconds: 3600,
            // One new sign-in a second from one address, sustained for five minutes: more than an office of a few
            // hundred people starts (a browser with a session is not counted), while one address holds at most
            // about 2,100 pending sign-ins (seven windows in their 30 minutes), 44 MiB at their largest.
            authorize_ip_requests: 300,
            authorize_ip_window_seconds: 5 * 60,
            // A person creates one account; ten an hour leaves room for typos and a shared address, and bounds
            // how many names one address can test for being taken (a sign-up form's answer) and how many
            // accounts it can make.
            user_registration_ip_requests: 10,
            user_registration_ip_window_seconds: 3600,
            // Each request may send a mail: a few an hour from one address, and fewer to one account, so the
            // form cannot be used to flood someone's mailbox.
            password_reset_ip_requests: 10,
            password_reset_ip_window_seconds: 3600,
            password_reset_user_requests: 3,
            password_reset_user_window_seconds: 3600,
            // As for reset mails: enough for a mail that went astray, too few to flood the address.
            email_verification_user_requests: 3,
            email_verification_user_window_seconds: 3600,
            // About 80,000 typical pending sign-ins (some 830 bytes each with their key and overhead), and more
            // than one address can fill at the limit above even with the largest ones (21.7 KB).
            pending_sign_ins_memory_kib: 64 * 1024,
            fallback_entries: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
    /// One `info` line per answered request (`http::access_log`).
    pub access: bool,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            http: RawHttp::default(),
            database: RawDatabase::default(),
            redis: RawRedis::default(),
            keys: RawKeys::default(),
            registration: RawRegistration::default(),
            tokens: RawTokens::default(),
            passwords: RawPasswords::default(),
            clients: RawClients::default(),
            sessions: RawSessions::default(),
            par: RawPar::default(),
            dpop: RawDpop::default(),
            device: RawDevice::default(),
            otp: RawOtp::default(),
            users: RawUsers::default(),
            limits: RawLimits::default(),
            log: RawLog::default(),
            federation: super::federation::RawFederation::default(),
            mail: super::mail::RawMail::default(),
            ui: super::ui::RawUi::default(),
        }
    }
}

impl Default for RawHttp {
    fn default() -> Self {
        Self { bind: "127.0.0.1:8080".into(), management_bind: None, workers: None, trusted_proxies: Vec::new() }
    }
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/tessera.db".into(),
            max_connections: None,
            acquire_timeout_ms: 5000,
            purge_interval_seconds: 3600,
        }
    }
}

impl Default for RawRedis {
    fn default() -> Self {
        Self { url: None, prefix: "tessera:".into(), timeout_ms: 1000 }
    }
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./keys"),
            kek_file: None,
            kek: None,
            algorithm_bits: 2048,
            rotation_interval_seconds: 30 * 24 * 3600,
            publish_ahead_seconds: 3600,
            jwks_max_age_seconds: 300,
            refresh_seconds: 10,
        }
    }
}

impl Default for RawTokens {
    fn default() -> Self {
        Self {
            access_token_ttl_seconds: 600,
            max_access_token_ttl_seconds: None,
            id_token_ttl_seconds: 3600,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            refresh_idle_seconds: 14 * 24 * 3600,
            refresh_grace_seconds: 10,
            rotated_refresh_retention_seconds: 24 * 3600,
            default_audience: None,
            leeway_seconds: 30,
            code_ttl_seconds: 60,
        }
    }
}

impl Default for RawPasswords {
    fn default() -> Self {
        let cost = PasswordCost::default();
        Self {
            memory_kib: cost.memory_kib,
            iterations: cost.iterations,
            parallelism: cost.parallelism,
            max_concurrent: 2,
            // NIST SP 800-63B's minimum for a password the user chooses.
            min_length: 8,
            // Keycloak's default for such a link: long enough to reach the mailbox, short for a link in it.
            reset_link_seconds: 30 * 60,
            history: 0,
            // The first guesses at any account: refused to users who choose a password (operators' stay free).
            not_username: true,
            not_email: true,
            blocklist_file: None,
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        Self { format: "text".into(), level: "info".into(), access: false }
    }
}

impl RawSettings {
    /// Defaults, then the TOML file (when given), then `TESSERA__…` variables from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed("TESSERA__").split("__"))
    }

    /// Like [`RawSettings::load`] with a given environment provider (tests pass their own).
    pub fn load_from(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!("config file {} not found", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        // `TESSERA__CONFIG` names the file, it is not a setting.
        figment = figment.merge(env.ignore(&["config"]).lowercase(true));
        figment.extract().map_err(|e| {
            let errs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError(errs.join("; "))
        })
    }
}
