//! The HTTP edge: the one route table, request parsing and response rendering. Only this module knows
//! actix-web, picks status codes and renders pages or JSON.
pub mod health;
pub mod metadata;
pub mod state;

pub use state::AppState;

use crate::oauth::discovery::paths;
use actix_web::web;

/// Every route the server answers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HEALTHZ, web::get().to(health::healthz))
        .route(paths::READYZ, web::get().to(health::readyz))
        .route(paths::OPENID_CONFIGURATION, web::get().to(metadata::discovery))
        .route(paths::OAUTH_AUTHORIZATION_SERVER, web::get().to(metadata::discovery))
        .route(paths::JWKS, web::get().to(metadata::jwks));
}
