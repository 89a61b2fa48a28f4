//! The HTTP edge: the one route table, request parsing and response rendering. Only this module knows
//! actix-web, picks status codes and renders pages or JSON.
pub mod access_log;
pub mod account;
pub mod account_deletion;
pub mod account_otp;
pub mod account_passkeys;
pub mod account_password;
pub mod admin;
pub mod assets;
pub mod authorization;
pub mod authorize;
pub mod body;
pub mod consent;
pub mod cookies;
pub mod cors;
pub mod device;
pub mod email_verification;
pub mod federation;
pub mod form;
pub mod health;
mod interaction_pages;
pub mod lang;
pub mod login;
pub mod login_code;
pub mod login_enrol;
pub mod login_new_password;
pub mod login_passkey;
pub mod logout;
pub mod meta;
pub mod metadata;
pub mod metrics;
pub mod par;
pub mod password_reset;
pub mod register;
pub mod render;
pub mod request_span;
pub mod revoke;
pub mod signup;
pub mod state;
pub mod throttle;
pub mod token;
pub mod userinfo;
pub mod views;

pub use state::AppState;

use crate::metrics::Metrics;
use crate::oauth::discovery::paths;
use actix_web::{web, FromRequest, Handler, Resource, Responder};

/// Which listener a route table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `http.bind`: every route; `/metrics` only when no management listener serves it (`metrics`).
    Public { metrics: bool },
    /// `http.management_bind`: `/metrics` and the probes, nothing else.
    Management,
}

/// Every route the server answers on `listener`: one resource per path, holding a route per method, so a method
/// the path does not take is answered 405 with `Allow` (RFC 9110 §15.5.6) rather than 404. The endpoints browser
/// apps call cross-origin also answer CORS preflights and carry CORS headers ([`cors`]); no other path does. Each
/// path is counted and timed in `metrics` under its pattern, whichever listener answered it. The probes are on
/// both listeners: load balancers probe the public one.
pub fn routes(cfg: &mut web::ServiceConfig, metrics: &Metrics, listener: Listener) {
    cfg.service(metrics::metered(metrics, paths::HEALTHZ, get(paths::HEALTHZ, health::healthz)))
        .service(metrics::metered(metrics, paths::READYZ, get(paths::READYZ, health::readyz)));
    if matches!(listener, Listener::Public { metrics: true } | Listener::Management) {
        cfg.service(metrics::metered(metrics, paths::METRICS, get(paths::METRICS, metrics::get)));
    }
    if let Listener::Public { .. } = listener {
        public_routes(cfg, metrics);
    }
    metrics::unmatched(cfg, metrics);
}

/// The routes only the public listener serves: the protocol endpoints, the pages and their assets, the admin API.
fn public_routes(cfg: &mut web::ServiceConfig, metrics: &Metrics) {
    let register_client = format!("{}/{{client_id}}", paths::REGISTER);
    cfg.service(metrics::metered(
        metrics,
        paths::OPENID_CONFIGURATION,
        get(paths::OPENID_CONFIGURATION, metadata::discovery).route(cors::preflight("GET, HEAD")).wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::OAUTH_AUTHORIZATION_SERVER,
        get(paths::OAUTH_AUTHORIZATION_SERVER, metadata::discovery)
            .route(cors::preflight("GET, HEAD"))
            .wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::JWKS,
        get(paths::JWKS, metadata::jwks).route(cors::preflight("GET, HEAD")).wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::AUTHORIZE,
        get(paths::AUTHORIZE, authorize::get).route(web::post().to(authorize::post)),
    ))
    .service(metrics::metered(metrics, paths::LOGIN, get(paths::LOGIN, login::get).route(web::post().to(login::post))))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_SIGN_UP,
        get(paths::LOGIN_SIGN_UP, signup::get).route(web::post().to(signup::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_FORGOT,
        get(paths::LOGIN_FORGOT, password_reset::forgot_get).route(web::post().to(password_reset::forgot_post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_RESET,
        get(paths::LOGIN_RESET, password_reset::reset_get).route(web::post().to(password_reset::reset_post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_VERIFY_EMAIL,
        get(paths::LOGIN_VERIFY_EMAIL, email_verification::verify_get)
            .route(web::post().to(email_verification::verify_post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_CODE,
        web::resource(paths::LOGIN_CODE).route(web::post().to(login_code::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_ENROL,
        web::resource(paths::LOGIN_ENROL).route(web::post().to(login_enrol::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_ENROL_CONTINUE,
        web::resource(paths::LOGIN_ENROL_CONTINUE).route(web::post().to(login_enrol::proceed)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_NEW_PASSWORD,
        web::resource(paths::LOGIN_NEW_PASSWORD).route(web::post().to(login_new_password::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_PASSKEY_OPTIONS,
        web::resource(paths::LOGIN_PASSKEY_OPTIONS).route(web::post().to(login_passkey::options)),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGIN_PASSKEY,
        web::resource(paths::LOGIN_PASSKEY).route(web::post().to(login_passkey::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::FEDERATION_START,
        web::resource(paths::FEDERATION_START).route(web::post().to(federation::start)),
    ))
    .service(metrics::metered(
        metrics,
        paths::FEDERATION_CALLBACK,
        get(paths::FEDERATION_CALLBACK, federation::callback),
    ))
    .service(metrics::metered(
        metrics,
        paths::CONSENT,
        get(paths::CONSENT, consent::get).route(web::post().to(consent::post)),
    ))
    .service(metrics::metered(metrics, paths::ACCOUNT, get(paths::ACCOUNT, account::get)))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_REVOKE_SESSION,
        get(paths::ACCOUNT_REVOKE_SESSION, account::back_to_page).route(web::post().to(account::revoke_session)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_PASSWORD,
        get(paths::ACCOUNT_PASSWORD, account::back_to_page).route(web::post().to(account_password::change)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_DELETE,
        get(paths::ACCOUNT_DELETE, account::back_to_page).route(web::post().to(account_deletion::delete)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_EMAIL_VERIFY,
        get(paths::ACCOUNT_EMAIL_VERIFY, account::back_to_page).route(web::post().to(email_verification::send)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_OTP_SETUP,
        get(paths::ACCOUNT_OTP_SETUP, account::back_to_page).route(web::post().to(account_otp::setup)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_OTP_CONFIRM,
        get(paths::ACCOUNT_OTP_CONFIRM, account::back_to_page).route(web::post().to(account_otp::confirm)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_OTP_DISABLE,
        get(paths::ACCOUNT_OTP_DISABLE, account::back_to_page).route(web::post().to(account_otp::disable)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_OTP_RECOVERY,
        get(paths::ACCOUNT_OTP_RECOVERY, account::back_to_page).route(web::post().to(account_otp::renew_recovery)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_PASSKEY_OPTIONS,
        get(paths::ACCOUNT_PASSKEY_OPTIONS, account::back_to_page).route(web::post().to(account_passkeys::options)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_PASSKEYS,
        get(paths::ACCOUNT_PASSKEYS, account::back_to_page).route(web::post().to(account_passkeys::add)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_PASSKEY_REMOVE,
        get(paths::ACCOUNT_PASSKEY_REMOVE, account::back_to_page).route(web::post().to(account_passkeys::remove)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_REVOKE_APP,
        get(paths::ACCOUNT_REVOKE_APP, account::back_to_page).route(web::post().to(account::revoke_app)),
    ))
    .service(metrics::metered(
        metrics,
        paths::ACCOUNT_UNLINK_IDENTITY,
        get(paths::ACCOUNT_UNLINK_IDENTITY, account::back_to_page).route(web::post().to(account::unlink_identity)),
    ))
    .service(metrics::metered(
        metrics,
        paths::TOKEN,
        web::resource(paths::TOKEN)
            .route(web::post().to(token::post))
            .route(cors::preflight("POST"))
            .wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::PAR,
        web::resource(paths::PAR).route(web::post().to(par::post)).route(cors::preflight("POST")).wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::DEVICE_AUTHORIZATION,
        web::resource(paths::DEVICE_AUTHORIZATION).route(web::post().to(device::authorization)),
    ))
    .service(metrics::metered(
        metrics,
        paths::DEVICE,
        get(paths::DEVICE, device::get).route(web::post().to(device::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::USERINFO,
        get(paths::USERINFO, userinfo::get)
            .route(web::post().to(userinfo::post))
            .route(cors::preflight("GET, HEAD, POST"))
            .wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::REVOKE,
        web::resource(paths::REVOKE)
            .route(web::post().to(revoke::revoke))
            .route(cors::preflight("POST"))
            .wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::INTROSPECT,
        web::resource(paths::INTROSPECT)
            .route(web::post().to(revoke::introspect))
            .route(cors::preflight("POST"))
            .wrap(cors::headers()),
    ))
    .service(metrics::metered(
        metrics,
        paths::LOGOUT,
        get(paths::LOGOUT, logout::get).route(web::post().to(logout::post)),
    ))
    .service(metrics::metered(
        metrics,
        paths::REGISTER,
        web::resource(paths::REGISTER).route(web::post().to(register::post)),
    ))
    .service(metrics::metered(
        metrics,
        &register_client,
        get(&register_client, register::get)
            .route(web::put().to(register::put))
            .route(web::delete().to(register::delete)),
    ))
    .service(metrics::metered(metrics, "/static/{name}", get("/static/{name}", assets::get)));
    admin::routes(cfg, metrics);
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
