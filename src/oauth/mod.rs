//! Protocol decisions: what to answer to each OAuth / OpenID Connect request. No actix, diesel or redis
//! types here; time and randomness come in as parameters, storage through the traits of `crate::storage`.
#![warn(missing_docs)]

pub mod authorize;
pub mod discovery;
pub mod error;
pub mod params;
pub mod pkce;
pub mod cache_keys;
pub mod code;
pub mod interaction;
pub mod provider;
pub mod session;
pub mod tokens;
pub mod client_auth;
pub mod revoke;
pub mod token;
pub mod userinfo;
