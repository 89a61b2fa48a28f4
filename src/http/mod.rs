//! The HTTP edge: the one route table, request parsing and response rendering. Only this module knows
//! actix-web, picks status codes and renders pages or JSON.
pub mod admin;
pub mod assets;
pub mod authorize;
pub mod consent;
pub mod cookies;
pub mod cors;
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
use actix_web::{web, FromRequest, Handler, Resource, Responder};

/// Every route the server answers: one resource per path, holding a route per method, so a method the path
/// does not take is answered 405 with `Allow` (RFC 9110 §15.5.6) rather than 404. The endpoints browser apps
/// call cross-origin also answer CORS preflights and carry CORS headers ([`cors`]); no other path does.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let register_client = format!("{}/{{client_id}}", paths::REGISTER);
    cfg.service(get(paths::HEALTHZ, health::healthz))
        .service(get(paths::READYZ, health::readyz))
        .service(
            get(paths::OPENID_CONFIGURATION, metadata::discovery)
                .route(cors::preflight("GET, HEAD"))
                .wrap(cors::headers()),
        )
        .service(
            get(paths::OAUTH_AUTHORIZATION_SERVER, metadata::discovery)
                .route(cors::preflight("GET, HEAD"))
                .wrap(cors::headers()),
        )
        .service(get(paths::JWKS, metadata::jwks).route(cors::preflight("GET, HEAD")).wrap(cors::headers()))
        .service(get(paths::AUTHORIZE, authorize::get).route(web::post().to(authorize::post)))
        .service(get(paths::LOGIN, login::get).route(web::post().to(login::post)))
        .service(get(paths::CONSENT, consent::get).route(web::post().to(consent::post)))
        .service(
            web::resource(paths::TOKEN)
                .route(web::post().to(token::post))
                .route(cors::preflight("POST"))
                .wrap(cors::headers()),
        )
        .service(
            get(paths::USERINFO, userinfo::get)
                .route(web::post().to(userinfo::post))
                .route(cors::preflight("GET, HEAD, POST"))
                .wrap(cors::headers()),
        )
        .service(
            web::resource(paths::REVOKE)
                .route(web::post().to(revoke::revoke))
                .route(cors::preflight("POST"))
                .wrap(cors::headers()),
        )
        .service(
            web::resource(paths::INTROSPECT)
                .route(web::post().to(revoke::introspect))
                .route(cors::preflight("POST"))
                .wrap(cors::headers()),
        )
        .service(get(paths::LOGOUT, logout::get).route(web::post().to(logout::post)))
        .service(web::resource(paths::REGISTER).route(web::post().to(register::post)))
        .service(
            get(&register_client, register::get)
                .route(web::put().to(register::put))
                .route(web::delete().to(register::delete)),
        )
        .service(get("/static/{name}", assets::get))
        .configure(admin::routes);
}

/// A resource at `path` whose GET is `handler`, which also answers HEAD: RFC 9110 §9.1 requires both of a
/// general-purpose server, and actix-web sends a HEAD answer's headers without its body.
fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path).route(web::get().to(handler.clone())).route(web::head().to(handler))
}
