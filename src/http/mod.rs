//! The HTTP edge: the one route table, request parsing and response rendering. Only this module knows
//! actix-web, picks status codes and renders pages or JSON.
pub mod admin;
pub mod assets;
pub mod authorize;
pub mod consent;
pub mod cookies;
pub mod form;
pub mod health;
mod interaction_pages;
pub mod login;
pub mod logout;
pub mod meta;
pub mod metadata;
pub mod register;
pub mod render;
pub mod request_span;
pub mod revoke;
pub mod state;
pub mod throttle;
pub mod token;
pub mod userinfo;
pub mod views;

pub use state::AppState;

use crate::oauth::discovery::paths;
use actix_web::web;

/// Every route the server answers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let register_client = format!("{}/{{client_id}}", paths::REGISTER);
    cfg.route(paths::HEALTHZ, web::get().to(health::healthz))
        .route(paths::READYZ, web::get().to(health::readyz))
        .route(paths::OPENID_CONFIGURATION, web::get().to(metadata::discovery))
        .route(paths::OAUTH_AUTHORIZATION_SERVER, web::get().to(metadata::discovery))
        .route(paths::JWKS, web::get().to(metadata::jwks))
        .route(paths::AUTHORIZE, web::get().to(authorize::get))
        .route(paths::AUTHORIZE, web::post().to(authorize::post))
        .route(paths::LOGIN, web::get().to(login::get))
        .route(paths::LOGIN, web::post().to(login::post))
        .route(paths::CONSENT, web::get().to(consent::get))
        .route(paths::CONSENT, web::post().to(consent::post))
        .route(paths::TOKEN, web::post().to(token::post))
        .route(paths::USERINFO, web::get().to(userinfo::get))
        .route(paths::USERINFO, web::post().to(userinfo::post))
        .route(paths::REVOKE, web::post().to(revoke::revoke))
        .route(paths::INTROSPECT, web::post().to(revoke::introspect))
        .route(paths::LOGOUT, web::get().to(logout::get))
        .route(paths::LOGOUT, web::post().to(logout::post))
        .route(paths::REGISTER, web::post().to(register::post))
        .route(&register_client, web::get().to(register::get))
        .route(&register_client, web::put().to(register::put))
        .route(&register_client, web::delete().to(register::delete))
        .route("/static/{name}", web::get().to(assets::get))
        .configure(admin::routes);
}
