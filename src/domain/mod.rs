//! Validated types and entities. No I/O, no framework types: everything here is parsed once at the edge
//! and then passed around as a type that cannot be invalid.
#![warn(missing_docs)]

pub mod claims;
pub mod client;
pub mod client_rules;
pub mod client_state;
pub mod group;
pub mod ids;
pub mod jkt;
pub mod passkey;
pub mod password;
pub mod password_policy;
pub mod redirect_uri;
pub mod refresh_family;
pub mod scope;
pub mod secret;
pub mod session;
pub mod text;
pub mod totp;
pub mod user;

pub use claims::{ClaimNames, Consent};
pub use client::{ApplicationType, Client, ClientAuthMethod, ClientMetadata, GrantType, SubjectType};
pub use client_state::ClientState;
pub use group::{Group, GroupName};
pub use ids::{ClientId, UserId};
pub use jkt::Jkt;
pub use redirect_uri::RedirectUri;
pub use scope::Scope;
pub use session::{Device, Session, UserAgent};
pub use user::{FederatedIdentity, NewUser, User, Username, UsernameFlaw};

/// Seconds since the Unix epoch. Every stored time uses this, so both database backends agree.
pub type UnixTime = i64;

/// The current time as [`UnixTime`]; only the edges (HTTP handlers, CLI, background tasks) call this,
/// protocol code takes `now` as a parameter.
pub fn now() -> UnixTime {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A JWT NumericDate claim's value (RFC 7519 §2): seconds, which may have a fraction (dropped); `None` for
/// anything but a finite number.
pub fn numeric_date(value: &serde_json::Value) -> Option<UnixTime> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

/// The current time in milliseconds since the Unix epoch, for ordering events closer together than a second.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A [`UnixTime`] as a UTC calendar date and time of day (proleptic Gregorian), for showing to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// The year (`0` is 1 BC).
    pub year: i64,
    /// 1 to 12.
    pub month: i64,
    /// 1 to 31.
    pub day: i64,
    /// 0 to 23.
    pub hour: i64,
    /// 0 to 59.
    pub minute: i64,
    /// 0 to 59.
    pub second: i64,
}

impl CivilTime {
    /// Howard Hinnant's days-to-civil algorithm, to avoid a date crate for a few lines of output.
    pub fn of(t: UnixTime) -> Self {
        let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self { year, month, day, hour: secs / 3600, minute: secs % 3600 / 60, second: secs % 60 }
    }
}
