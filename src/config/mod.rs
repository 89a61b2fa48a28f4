//! Configuration: compiled-in defaults, then an optional TOML file, then `TESSERA__SECTION__KEY` variables
//! (DESIGN.md §8). [`RawSettings`] mirrors the file format and refuses unknown keys; [`Settings`] is the
//! validated form the rest of the program uses. Setting names are a contract with operators (DESIGN.md §12).
use crate::domain::password::PasswordCost;
use crate::domain::password_policy::{Blocklist, PasswordPolicy};
use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use url::Url;

mod federation;
mod ip_range;
mod mail;
mod raw;
mod ui;
pub use federation::{FederationSettings, RawFederation, RawUpstreamProvider, UpstreamProvider, DEFAULT_SCOPES};
pub use ip_range::IpRange;
pub use mail::{MailSettings, RawMail};
pub use raw::{
    RawClients, RawDatabase, RawDevice, RawDpop, RawHttp, RawKeys, RawLimits, RawLog, RawOtp, RawPar, RawPasswords,
    RawRedis, RawRegistration, RawSessions, RawSettings, RawTokens, RawUsers,
};
pub use ui::{RawUi, UiSettings};

/// A configuration problem, with the key it concerns.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The most passwords `passwords.history` may name: checking a new password costs up to that many argon2
/// verifications on the password pool.
const MAX_PASSWORD_HISTORY: usize = 24;

fn invalid(key: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("`{key}` {why}"))
}

/// Which SQL backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl DatabaseKind {
    /// Connections (and query threads) when `database.max_connections` is unset. PostgreSQL: 16. SQLite: two
    /// per core, 4 to 16: it writes one transaction at a time, so connections beyond what the cores can read
    /// with only hold their own page cache, prepared statements and thread.
    pub fn default_max_connections(self) -> u32 {
        match self {
            DatabaseKind::Postgres => 16,
            DatabaseKind::Sqlite => u32::try_from(crate::blocking::cores() * 2).unwrap_or(u32::MAX).clamp(4, 16),
        }
    }
}

/// Who may use dynamic client registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// Anyone.
    Open,
    /// Only with an initial access token.
    Token,
    /// Nobody: `/register` is not served.
    Off,
}

/// Which audience a `private_key_jwt` client assertion may name besides the issuer (`clients.assertion_audience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// An untyped assertion may also name the token endpoint URL, as OpenID Connect Core §9 told clients to.
    IssuerOrTokenEndpoint,
    /// Every assertion must name the issuer: closes the audience injection attack for untyped ones too.
    Issuer,
}

/// Where the key-encryption key comes from.
#[derive(Clone)]
pub enum KekSource {
    /// A base64 value given directly.
    Value(SecretString),
    /// A file holding the base64 value.
    File(PathBuf),
    /// The embedded default: `keys/kek`, created on first start.
    CreateIfMissing(PathBuf),
}

impl std::fmt::Debug for KekSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(..)"),
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::CreateIfMissing(p) => write!(f, "CreateIfMissing({})", p.display()),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Url,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: Option<RedisSettings>,
    pub redis_prefix: String,
    pub keys: KeySettings,
    pub registration: RegistrationMode,
    pub tokens: TokenSettings,
    pub passwords: PasswordSettings,
    pub clients: ClientSettings,
    pub sessions: SessionSettings,
    pub par: ParSettings,
    pub dpop: DpopSettings,
    pub device: DeviceSettings,
    pub otp: OtpSettings,
    pub users: UserSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub federation: FederationSettings,
    /// Outgoing mail; `None`: off.
    pub mail: Option<MailSettings>,
    /// The pages.
    pub ui: UiSettings,
}

/// Validated `[device]` (RFC 8628).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSettings {
    /// Lifetime of a device code and its user code, in seconds (10 to 3600).
    pub code_ttl: i64,
    /// The least seconds between two polls (1 to 60), shorter than `code_ttl`.
    pub interval: i64,
}

/// Validated `[otp]`: two-step verification with TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpSettings {
    /// Every password sign-in of a user without TOTP sets it up before it ends.
    pub required: bool,
    /// Seconds the second step of a password sign-in waits for its code (60 to 1800).
    pub code_step: i64,
    /// Seconds a secret shown for set-up waits for its first code (60 to 3600).
    pub setup: i64,
}

/// Validated `[users]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSettings {
    /// People may create their own account from the login page (and `prompt=create`).
    pub self_registration: bool,
    /// People may delete their own account from the account page.
    pub self_deletion: bool,
    /// Seconds an email verification link works.
    pub email_verification_link: i64,
}

/// At most `max` events per `window` seconds (a fixed window that starts at the first event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u64,
    pub window: i64,
}

/// Progressive lock of a username: after `failures` failures within `window` seconds, a lock of `lock`
/// seconds, doubling with each further lock up to `max_lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub failures: u64,
    pub window: i64,
    pub lock: i64,
    pub max_lock: i64,
}

/// Validated `[limits]`; `None` is a limit turned off.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    pub login_ip: Option<Rate>,
    pub login_user: Option<Lockout>,
    pub token_client: Option<Rate>,
    pub token_ip: Option<Rate>,
    pub register_ip: Option<Rate>,
    pub authorize_ip: Option<Rate>,
    pub user_registration_ip: Option<Rate>,
    pub password_reset_ip: Option<Rate>,
    pub password_reset_user: Option<Rate>,
    pub email_verification_user: Option<Rate>,
    /// Bytes of pending sign-ins the in-process cache may hold (`MemoryCache::with_budget`).
    pub pending_sign_ins_memory: usize,
    pub fallback_entries: usize,
}

impl RawDevice {
    fn validate(&self) -> Result<DeviceSettings, ConfigError> {
        // At most an hour: the longer a user code lives, the more of them a guesser can aim at (RFC 8628 §5.1).
        if !(10..=3600).contains(&self.code_ttl_seconds) {
            return Err(invalid("device.code_ttl_seconds", "must be between 10 and 3600"));
        }
        if !(1..=60).contains(&self.interval_seconds) || self.interval_seconds >= self.code_ttl_seconds {
            return Err(invalid(
                "device.interval_seconds",
                "must be between 1 and 60, and less than device.code_ttl_seconds",
            ));
        }
        Ok(DeviceSettings { code_ttl: self.code_ttl_seconds, interval: self.interval_seconds })
    }
}

impl RawOtp {
    fn validate(&self) -> Result<OtpSettings, ConfigError> {
        // A code lasts 30 s, give or take a step: less than a minute leaves no time to type one, and the pending
        // step is a password already checked, so it should not wait long either.
        if !(60..=1800).contains(&self.code_step_seconds) {
            return Err(invalid("otp.code_step_seconds", "must be between 60 and 1800"));
        }
        // Setting up may mean installing an app first; an hour at most, as the secret waits unconfirmed.
        if !(60..=3600).contains(&self.setup_seconds) {
            return Err(invalid("otp.setup_seconds", "must be between 60 and 3600"));
        }
        Ok(OtpSettings { required: self.required, code_step: self.code_step_seconds, setup: self.setup_seconds })
    }
}

impl RawLimits {
    fn rate(max: u64, window: i64, key: &str) -> Result<Option<Rate>, ConfigError> {
        if max == 0 {
            return Ok(None);
        }
        Ok(Some(Rate { max, window: positive(&format!("limits.{key}_window_seconds"), window)? }))
    }

    fn validate(&self) -> Result<LimitSettings, ConfigError> {
        let login_user = if self.login_user_failures == 0 {
            None
        } else {
            let window = positive("limits.login_user_window_seconds", self.login_user_window_seconds)?;
            let lock = positive("limits.login_user_lock_seconds", self.login_user_lock_seconds)?;
            if self.login_user_max_lock_seconds < lock {
                return Err(invalid(
                    "limits.login_user_max_lock_seconds",
                    "must be at least `limits.login_user_lock_seconds`",
                ));
            }
            Some(Lockout {
                failures: self.login_user_failures,
                window,
                lock,
                max_lock: self.login_user_max_lock_seconds,
            })
        };
        if self.fallback_entries == 0 {
            return Err(invalid("limits.fallback_entries", "must be at least 1"));
        }
        // No "off": an unbounded in-process cache is what lets anyone fill the server's memory.
        let pending_sign_ins_memory = match self.pending_sign_ins_memory_kib.checked_mul(1024) {
            Some(0) => return Err(invalid("limits.pending_sign_ins_memory_kib", "must be at least 1")),
            Some(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
            None => return Err(invalid("limits.pending_sign_ins_memory_kib", "is too large")),
        };
        Ok(LimitSettings {
            login_ip: Self::rate(self.login_ip_failures, self.login_ip_window_seconds, "login_ip")?,
            login_user,
            token_client: Self::rate(self.token_client_requests, self.token_client_window_seconds, "token_client")?,
            token_ip: Self::rate(self.token_ip_requests, self.token_ip_window_seconds, "token_ip")?,
            register_ip: Self::rate(self.register_ip_requests, self.register_ip_window_seconds, "register_ip")?,
            authorize_ip: Self::rate(self.authorize_ip_requests, self.authorize_ip_window_seconds, "authorize_ip")?,
            user_registration_ip: Self::rate(
                self.user_registration_ip_requests,
                self.user_registration_ip_window_seconds,
                "user_registration_ip",
            )?,
            password_reset_ip: Self::rate(
                self.password_reset_ip_requests,
                self.password_reset_ip_window_seconds,
                "password_reset_ip",
            )?,
            password_reset_user: Self::rate(
                self.password_reset_user_requests,
                self.password_reset_user_window_seconds,
                "password_reset_user",
            )?,
            email_verification_user: Self::rate(
                self.email_verification_user_requests,
                self.email_verification_user_window_seconds,
                "email_verification_user",
            )?,
            pending_sign_ins_memory,
            fallback_entries: self.fallback_entries,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub ttl: i64,
    /// How long a session may go unused in the browser before it signs the user in no more; `None`: no limit.
    pub idle_timeout: Option<i64>,
}

/// Pushed authorization requests (RFC 9126).
#[derive(Debug, Clone)]
pub struct ParSettings {
    /// Seconds a pushed request waits for its `/authorize`.
    pub request_ttl: i64,
    /// Every client must push its authorization requests.
    pub required: bool,
}

/// DPoP proofs (RFC 9449).
#[derive(Debug, Clone)]
pub struct DpopSettings {
    /// Seconds a proof's `iat` may lie in the past; its `jti` is kept that long (plus the leeway).
    pub proof_max_age: i64,
    /// Proofs must carry a nonce we provided (`use_dpop_nonce`, RFC 9449 §8, §9).
    pub require_nonce: bool,
    /// Seconds of one nonce window: a nonce is accepted in the window it was made in and the next.
    pub nonce_window: i64,
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub secret_overlap: i64,
    pub cache: std::time::Duration,
    pub assertion_audience: AssertionAudience,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub bind: SocketAddr,
    /// Where `/metrics` is served instead of `bind`, with the probes; `None`: everything is on `bind`.
    pub management_bind: Option<SocketAddr>,
    pub workers: Option<usize>,
    pub trusted_proxies: Vec<IpRange>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub kind: DatabaseKind,
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
    /// How often expired rows are deleted; `None` when `database.purge_interval_seconds` is 0 (off).
    pub purge_interval: Option<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: SecretString,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct KeySettings {
    pub kek: KekSource,
    pub bits: u32,
    pub rotation_interval: i64,
    pub publish_ahead: i64,
    pub jwks_max_age: i64,
    pub refresh: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_token_ttl: i64,
    /// The ceiling of per-client access token lifetimes, at least `access_token_ttl`.
    pub max_access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_idle: i64,
    pub refresh_grace: i64,
    /// How long a rotated refresh token stays stored (at least `refresh_grace`); after that it is purged, and
    /// presenting it again is seen as reuse only through the family it names (tokens of the earlier form,
    /// which name none, are then unknown).
    pub rotated_refresh_retention: i64,
    pub default_audience: Option<String>,
    pub leeway: i64,
    pub code_ttl: i64,
}

#[derive(Debug, Clone)]
pub struct PasswordSettings {
    pub cost: PasswordCost,
    pub max_concurrent: usize,
    /// Fewest characters of a password set on the account page.
    pub min_length: usize,
    /// Seconds a password reset link works.
    pub reset_link: i64,
    /// The rules of a password a user chooses (`min_length` among them).
    pub policy: PasswordPolicy,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub json: bool,
    pub level: String,
    pub access: bool,
}

impl Settings {
    /// Loads and validates: defaults, `file`, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        RawSettings::load(file)?.validate()
    }

    /// The backend named by a database URL; a bare path is refused rather than silently made a SQLite file.
    pub fn database_kind(url: &str) -> Result<DatabaseKind, ConfigError> {
        if url.starts_with("sqlite://") {
            Ok(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseKind::Postgres)
        } else {
            Err(invalid("database.url", "must start with sqlite:// or postgres://"))
        }
    }

    /// How long a key stays published after it stopped signing, JWKS caching aside: the longest lifetime
    /// of anything it signed. Per-client access token lifetimes never exceed `max_access_token_ttl`.
    pub fn longest_signed_lifetime(&self) -> i64 {
        self.tokens.max_access_token_ttl.max(self.tokens.id_token_ttl)
    }
}

fn positive(key: &str, v: i64) -> Result<i64, ConfigError> {
    if v <= 0 {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(v)
}

impl RawSettings {
    /// Checks every value and derives the ready-to-use [`Settings`].
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let issuer = Url::parse(&self.issuer).map_err(|e| invalid("issuer", format!("is not a URL: {e}")))?;
        if !matches!(issuer.scheme(), "http" | "https") {
            return Err(invalid("issuer", "must be an http or https URL"));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid("issuer", "must not have a query or fragment (OIDC Discovery §3)"));
        }
        // Every route, page link and redirect is at the root of the host, and RFC 8414 §3 puts the metadata of
        // an issuer with a path where this server does not answer: a path would advertise endpoints that 404.
        if issuer.path() != "/" {
            return Err(invalid("issuer", "must not have a path: serve Tessera at the root of its own host"));
        }
        if issuer.scheme() == "http" && !issuer.host_str().is_some_and(is_local_host) {
            return Err(invalid("issuer", "must use https unless it is a loopback address"));
        }
        let bind: SocketAddr = self
            .http
            .bind
            .parse()
            .map_err(|_| invalid("http.bind", "must be an address and port, like 127.0.0.1:8080"))?;
        let management_bind = management_bind(self.http.management_bind.as_deref(), bind)?;
        let trusted_proxies = self
            .http
            .trusted_proxies
            .iter()
            .map(|p| {
                IpRange::parse(p).map_err(|why| invalid("http.trusted_proxies", format!("has an invalid entry: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.http.workers == Some(0) {
            return Err(invalid("http.workers", "must be at least 1"));
        }

        let kind = Settings::database_kind(&self.database.url)?;
        if self.database.max_connections == Some(0) {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }

        let redis = match self.redis.url {
            Some(url) if !url.is_empty() => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://")) {
                    return Err(invalid("redis.url", "must start with redis:// or rediss://"));
                }
                Some(RedisSettings {
                    url: SecretString::from(url),
                    timeout: std::time::Duration::from_millis(self.redis.timeout_ms.max(1)),
                })
            }
            _ => None,
        };

        let kek = match (self.keys.kek, self.keys.kek_file) {
            (Some(_), Some(_)) => return Err(invalid("keys.kek", "and `keys.kek_file` are both set; set one")),
            (Some(v), None) => KekSource::Value(SecretString::from(v)),
            (None, Some(f)) => KekSource::File(f),
            (None, None) if kind == DatabaseKind::Sqlite => KekSource::CreateIfMissing(self.keys.dir.join("kek")),
            (None, None) => {
                return Err(invalid(
                    "keys.kek",
                    "or `keys.kek_file` is required with Postgres, so every instance shares one key-encryption key (generate one with `openssl rand -base64 32`)",
                ))
            }
        };
        if !matches!(self.keys.algorithm_bits, 2048 | 3072 | 4096) {
            return Err(invalid("keys.algorithm_bits", "must be 2048, 3072 or 4096"));
        }
        let jwks_max_age = positive("keys.jwks_max_age_seconds", self.keys.jwks_max_age_seconds)?;
        let publish_ahead = positive("keys.publish_ahead_seconds", self.keys.publish_ahead_seconds)?;
        // Another instance may serve the JWKS without a new key for up to one ring refresh after it was added.
        let refresh = i64::try_from(self.keys.refresh_seconds).unwrap_or(i64::MAX);
        if publish_ahead < jwks_max_age.saturating_add(refresh) {
            return Err(invalid(
                "keys.publish_ahead_seconds",
                "must be at least `keys.jwks_max_age_seconds` plus `keys.refresh_seconds`, so a new key is in every cached JWKS before it signs",
            ));
        }
        let rotation_interval = positive("keys.rotation_interval_seconds", self.keys.rotation_interval_seconds)?;
        if rotation_interval <= publish_ahead {
            return Err(invalid("keys.rotation_interval_seconds", "must be longer than `keys.publish_ahead_seconds`"));
        }
        if self.keys.refresh_seconds == 0 {
            return Err(invalid("keys.refresh_seconds", "must be at least 1"));
        }

        let registration = match self.registration.mode.as_deref() {
            Some("open") => RegistrationMode::Open,
            Some("token") => RegistrationMode::Token,
            Some("off") => RegistrationMode::Off,
            Some(other) => {
                return Err(invalid("registration.mode", format!("must be open, token or off, not {other:?}")))
            }
            None if kind == DatabaseKind::Sqlite => RegistrationMode::Open,
            None => RegistrationMode::Token,
        };

        let t = &self.tokens;
        let access_token_ttl = positive("tokens.access_token_ttl_seconds", t.access_token_ttl_seconds)?;
        let tokens = TokenSettings {
            access_token_ttl,
            max_access_token_ttl: match t.max_access_token_ttl_seconds {
                None => access_token_ttl,
                Some(max) if max >= access_token_ttl => max,
                Some(_) => {
                    return Err(invalid(
                        "tokens.max_access_token_ttl_seconds",
                        format!("must be at least tokens.access_token_ttl_seconds ({access_token_ttl})"),
                    ))
                }
            },
            id_token_ttl: positive("tokens.id_token_ttl_seconds", t.id_token_ttl_seconds)?,
            refresh_token_ttl: positive("tokens.refresh_token_ttl_seconds", t.refresh_token_ttl_seconds)?,
            refresh_idle: positive("tokens.refresh_idle_seconds", t.refresh_idle_seconds)?,
            refresh_grace: if t.refresh_grace_seconds < 0 {
                return Err(invalid("tokens.refresh_grace_seconds", "must be 0 (off) or more"));
            } else {
                t.refresh_grace_seconds
            },
            rotated_refresh_retention: match positive(
                "tokens.rotated_refresh_retention_seconds",
                t.rotated_refresh_retention_seconds,
            )? {
                // A retry within the grace window must find the rotated row to be answered, not refused.
                r if r < t.refresh_grace_seconds => {
                    return Err(invalid(
                        "tokens.rotated_refresh_retention_seconds",
                        format!("must be at least tokens.refresh_grace_seconds ({})", t.refresh_grace_seconds),
                    ))
                }
                r => r,
            },
            default_audience: t.default_audience.clone(),
            leeway: if (0..=300).contains(&t.leeway_seconds) {
                t.leeway_seconds
            } else {
                return Err(invalid("tokens.leeway_seconds", "must be between 0 and 300"));
            },
            code_ttl: if (1..=600).contains(&t.code_ttl_seconds) {
                t.code_ttl_seconds
            } else {
                return Err(invalid("tokens.code_ttl_seconds", "must be between 1 and 600"));
            },
        };

        let cost = PasswordCost {
            memory_kib: self.passwords.memory_kib,
            iterations: self.passwords.iterations,
            parallelism: self.passwords.parallelism,
        };
        argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).map_err(|e| {
            invalid("passwords.memory_kib", format!("with iterations and parallelism is not a valid argon2 cost: {e}"))
        })?;
        if self.passwords.max_concurrent == 0 {
            return Err(invalid("passwords.max_concurrent", "must be at least 1"));
        }
        if self.passwords.min_length == 0 {
            return Err(invalid("passwords.min_length", "must be at least 1"));
        }
        // At most a week: the link only confirms that the address reaches its owner.
        if !(1..=604_800).contains(&self.users.email_verification_link_seconds) {
            return Err(invalid("users.email_verification_link_seconds", "must be from 1 to 604800"));
        }
        // At most a day: whoever reads the mail may use the link while it lasts.
        if !(1..=86_400).contains(&self.passwords.reset_link_seconds) {
            return Err(invalid("passwords.reset_link_seconds", "must be from 1 to 86400"));
        }
        // Each check of a new password verifies up to this many argon2 hashes: bound the work a form can ask for.
        if self.passwords.history > MAX_PASSWORD_HISTORY {
            return Err(invalid("passwords.history", format!("must be from 0 (off) to {MAX_PASSWORD_HISTORY}")));
        }
        let blocklist = match &self.passwords.blocklist_file {
            Some(path) => Blocklist::parse(&std::fs::read_to_string(path).map_err(|e| {
                invalid("passwords.blocklist_file", format!("cannot be read ({}): {e}", path.display()))
            })?),
            None => Blocklist::default(),
        };

        if self.clients.secret_overlap_seconds < 0 {
            return Err(invalid("clients.secret_overlap_seconds", "must be 0 or more"));
        }
        let secret_overlap = self.clients.secret_overlap_seconds;

        let json = match self.log.format.as_str() {
            "text" => false,
            "json" => true,
            other => return Err(invalid("log.format", format!("must be text or json, not {other:?}"))),
        };

        Ok(Settings {
            issuer,
            http: HttpSettings { bind, management_bind, workers: self.http.workers, trusted_proxies },
            database: DatabaseSettings {
                url: SecretString::from(self.database.url),
                kind,
                max_connections: self.database.max_connections.unwrap_or_else(|| kind.default_max_connections()),
                acquire_timeout: std::time::Duration::from_millis(self.database.acquire_timeout_ms.max(1)),
                purge_interval: (self.database.purge_interval_seconds > 0)
                    .then(|| std::time::Duration::from_secs(self.database.purge_interval_seconds)),
            },
            redis,
            redis_prefix: self.redis.prefix,
            keys: KeySettings {
                kek,
                bits: self.keys.algorithm_bits,
                rotation_interval,
                publish_ahead,
                jwks_max_age,
                refresh: std::time::Duration::from_secs(self.keys.refresh_seconds),
            },
            registration,
            tokens,
            passwords: PasswordSettings {
                cost,
                max_concurrent: self.passwords.max_concurrent,
                min_length: self.passwords.min_length,
                reset_link: self.passwords.reset_link_seconds,
                policy: PasswordPolicy {
                    min_length: self.passwords.min_length,
                    history: self.passwords.history,
                    not_username: self.passwords.not_username,
                    not_email: self.passwords.not_email,
                    blocklist: std::sync::Arc::new(blocklist),
                },
            },
            clients: ClientSettings {
                secret_overlap,
                cache: if self.clients.cache_seconds <= 60 {
                    std::time::Duration::from_secs(self.clients.cache_seconds)
                } else {
                    return Err(invalid("clients.cache_seconds", "must be at most 60"));
                },
                assertion_audience: match self.clients.assertion_audience.as_str() {
                    "issuer_or_token_endpoint" => AssertionAudience::IssuerOrTokenEndpoint,
                    "issuer" => AssertionAudience::Issuer,
                    other => {
                        return Err(invalid(
                            "clients.assertion_audience",
                            format!("must be issuer_or_token_endpoint or issuer, not {other:?}"),
                        ))
                    }
                },
            },
            sessions: SessionSettings {
                ttl: positive("sessions.ttl_seconds", self.sessions.ttl_seconds)?,
                // Uses are recorded once a minute at most: a shorter limit could not be kept.
                idle_timeout: match self.sessions.idle_timeout_seconds {
                    0 => None,
                    t if t >= 60 => Some(t),
                    _ => return Err(invalid("sessions.idle_timeout_seconds", "must be 0 (off) or at least 60")),
                },
            },
            par: ParSettings {
                // Long enough for a redirect; short, since the request_uri is a capability (RFC 9126 §7.1).
                request_ttl: match self.par.request_ttl_seconds {
                    t @ 1..=600 => t,
                    _ => return Err(invalid("par.request_ttl_seconds", "must be from 1 to 600")),
                },
                required: self.par.required,
            },
            dpop: DpopSettings {
                // A proof is made for the request it goes with: a minute covers a slow network and a client's clock
                // somewhat behind ours (one ahead is the leeway's), and bounds what a leaked proof is good for.
                proof_max_age: match self.dpop.proof_max_age_seconds {
                    t @ 1..=300 => t,
                    _ => return Err(invalid("dpop.proof_max_age_seconds", "must be from 1 to 300")),
                },
                require_nonce: self.dpop.require_nonce,
                // Long enough that a client rarely meets a nonce going stale between two requests; short, since a
                // proof made with a nonce may be sent while the nonce lasts (up to two windows).
                nonce_window: match self.dpop.nonce_seconds {
                    t @ 10..=3600 => t,
                    _ => return Err(invalid("dpop.nonce_seconds", "must be from 10 to 3600")),
                },
            },
            device: self.device.validate()?,
            otp: self.otp.validate()?,
            users: UserSettings {
                self_registration: self.users.self_registration,
                self_deletion: self.users.self_deletion,
                email_verification_link: self.users.email_verification_link_seconds,
            },
            limits: self.limits.validate()?,
            log: LogSettings { json, level: log_level(&self.log.level)?, access: self.log.access },
            federation: self.federation.validate()?,
            mail: self.mail.validate()?,
            ui: self.ui.validate()?,
        })
    }
}

/// `http.management_bind`, unset when absent or empty (so a variable can blank a file's value). It may not take
/// the port of `http.bind` on the same address, nor on a wildcard address (`0.0.0.0`, `::`) covering the other:
/// the second bind would fail. Port 0 on both is two free ports, so it is allowed.
fn management_bind(value: Option<&str>, bind: SocketAddr) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    let addr: SocketAddr = value
        .parse()
        .map_err(|_| invalid("http.management_bind", "must be an address and port, like 127.0.0.1:9000"))?;
    let overlaps = addr.ip() == bind.ip() || addr.ip().is_unspecified() || bind.ip().is_unspecified();
    if addr.port() != 0 && addr.port() == bind.port() && overlaps {
        return Err(invalid(
            "http.management_bind",
            format!("({addr}) must not be the address of `http.bind` ({bind}): pick another port, like 9000"),
        ));
    }
    Ok(Some(addr))
}

/// `log.level` is a tracing filter, returned with the spaces around its directives dropped (`EnvFilter` refuses
/// them). `EnvFilter` takes a word that is not a level for a target name, so a misspelt level (`inf`) would
/// silently log nothing: a bare word must be a level here.
fn log_level(level: &str) -> Result<String, ConfigError> {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let directives: Vec<&str> = level.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    if directives.is_empty() {
        return Err(invalid("log.level", "is empty; set a level: error, warn, info, debug, trace or off"));
    }
    for directive in &directives {
        if !directive.contains(['=', '[']) && directive.parse::<LevelFilter>().is_err() {
            return Err(invalid(
                "log.level",
                format!(
                    "has {directive:?}, which is not a level (error, warn, info, debug, trace, off) nor target=level"
                ),
            ));
        }
    }
    let level = directives.join(",");
    EnvFilter::try_new(&level).map_err(|e| invalid("log.level", format!("is not a valid filter: {e}")))?;
    Ok(level)
}

fn is_local_host(host: &str) -> bool {
    host == "localhost"
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl DatabaseSettings {
    /// The URL, for the one place that connects.
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl RedisSettings {
    /// The URL, for the one place that connects.
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

#[cfg(test)]
mod tests;
