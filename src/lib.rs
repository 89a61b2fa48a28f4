//! Tessera: a standalone OAuth 2.1 / OpenID Connect authorization server.
//!
//! The binary in `main.rs` is a thin CLI over this library; integration tests link it directly.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)
)]
#![deny(clippy::await_holding_lock)]

pub mod blocking;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod i18n;
pub mod jose;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod private_files;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod upstream;
