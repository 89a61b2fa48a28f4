//! The integration tests: one binary (`cargo test --test api`), one module per area. Each test starts its
//! own server through `helpers::spawn_app` and, unless it says otherwise, runs on SQLite and on Postgres.
#[macro_use]
mod helpers;

mod account;
mod account_password;
mod admin;
mod admin_sessions;
mod backchannel_logout;
mod browser;
mod cli;
mod clients;
mod config;
mod cors;
mod device;
mod discovery;
mod dpop;
mod dpop_nonce;
mod federation;
mod federation_links;
mod frontchannel_logout;
mod health;
mod hostile;
mod interop;
mod interop_node;
mod interop_python;
mod jwks;
mod keys;
mod lifecycle;
mod management;
mod methods;
mod metrics;
mod otp;
mod otp_recovery;
mod otp_required;
mod par;
mod passkeys;
mod registration;
mod request_object;
mod session_idle;
mod signin;
mod signup;
mod token_exchange;
mod webdriver;
