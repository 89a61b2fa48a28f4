//! Validated types and entities. No I/O, no framework types: everything here is parsed once at the edge
//! and then passed around as a type that cannot be invalid.
#![warn(missing_docs)]

pub mod client;
pub mod client_rules;
pub mod ids;
pub mod password;
pub mod redirect_uri;
pub mod scope;
pub mod secret;
pub mod session;
pub mod user;

pub use client::{Client, ClientAuthMethod, ClientMetadata, GrantType};
pub use ids::{ClientId, UserId};
pub use redirect_uri::RedirectUri;
pub use scope::Scope;
pub use session::Session;
pub use user::{NewUser, User, Username};

/// Seconds since the Unix epoch. Every stored time uses this, so both database backends agree.
pub type UnixTime = i64;

/// The current time as [`UnixTime`]; only the edges (HTTP handlers, CLI, background tasks) call this,
/// protocol code takes `now` as a parameter.
pub fn now() -> UnixTime {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
