//! Protocol decisions: what to answer to each OAuth / OpenID Connect request. No actix, diesel or redis
//! types here; time and randomness come in as parameters, storage through the traits of `crate::storage`.
#![warn(missing_docs)]

pub mod account;
pub mod acr;
pub mod admin;
pub mod audit;
pub mod authorize;
pub mod backchannel;
pub mod cache_keys;
pub mod claims;
pub mod client_assertion;
pub mod client_auth;
pub mod client_keys;
pub mod code;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod dpop_nonce;
pub mod end_session;
pub mod error;
pub mod federation;
pub mod frontchannel;
pub mod grace;
pub mod housekeeping;
pub mod interaction;
pub mod introspect;
pub mod limits;
pub mod mail;
pub mod otp;
pub mod par;
pub mod params;
pub mod passkey;
pub mod password_change;
pub mod password_reset;
pub mod pkce;
pub mod provider;
pub mod registration;
pub mod request_object;
pub mod revoke;
pub mod session;
pub mod signup;
pub mod subject;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod verified;
