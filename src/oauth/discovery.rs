//! The provider metadata (OpenID Connect Discovery 1.0, RFC 8414), and the endpoint paths it shares with
//! the route table so the two cannot drift apart.
use super::client_assertion::SIGNING_ALGS;
use crate::domain::client::{DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT};
use crate::i18n::Locale;
use crate::jose::key::ALG_RS256;
use serde::Serialize;
use url::Url;

/// The algorithm ID tokens are signed with: the key ring's, the only `id_token_signed_response_alg` a client
/// may register.
pub const ID_TOKEN_SIGNING_ALG: &str = ALG_RS256;
/// The subject identifier types (OIDC Core §8): public (the user's stable id, the same for every client) and
/// pairwise (one per sector, [`crate::oauth::subject`]).
pub const SUBJECT_TYPES: [&str; 2] = ["public", "pairwise"];

/// Endpoint paths: the route table and the discovery document both read these.
pub mod paths {
    /// OpenID Connect Discovery.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// RFC 8414 metadata.
    pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
    /// The public signing keys.
    pub const JWKS: &str = "/jwks";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// Device authorization endpoint (RFC 8628 §3.1).
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    /// The verification page where the user enters a device's code (RFC 8628 §3.3).
    pub const DEVICE: &str = "/device";
    /// UserInfo endpoint.
    pub const USERINFO: &str = "/userinfo";
    /// Login page.
    pub const LOGIN: &str = "/login";
    /// The second step of a sign-in: the code from the user's authenticator app.
    pub const LOGIN_CODE: &str = "/login/code";
    /// The sign-up page of a pending authorization (`users.self_registration`).
    pub const LOGIN_SIGN_UP: &str = "/login/register";
    /// The page that sends a password reset link by mail.
    pub const LOGIN_FORGOT: &str = "/login/forgot";
    /// The page a password reset link opens.
    pub const LOGIN_RESET: &str = "/login/reset";
    /// The page an email verification link opens.
    pub const LOGIN_VERIFY_EMAIL: &str = "/login/verify-email";
    /// The set-up of two-step verification at a sign-in that needs it (`otp.required`): a code of the new secret.
    pub const LOGIN_ENROL: &str = "/login/enrol";
    /// Continues that sign-in once the recovery codes were shown.
    pub const LOGIN_ENROL_CONTINUE: &str = "/login/enrol/continue";
    /// The options of a sign-in with a passkey (JSON, for the sign-in page's script).
    pub const LOGIN_PASSKEY_OPTIONS: &str = "/login/passkey/options";
    /// A sign-in with a passkey: the browser's answer to those options.
    pub const LOGIN_PASSKEY: &str = "/login/passkey";
    /// The "Choose a new password" form of a sign-in whose password is temporary.
    pub const LOGIN_NEW_PASSWORD: &str = "/login/new-password";
    /// A login page's "Sign in with …" button (`{id}`: an upstream provider of `[federation]`).
    pub const FEDERATION_START: &str = "/login/federation/{id}";
    /// Where an upstream provider sends the browser back.
    pub const FEDERATION_CALLBACK: &str = "/login/federation/{id}/callback";
    /// Consent page.
    pub const CONSENT: &str = "/consent";
    /// The signed-in user's own sessions and connected apps.
    pub const ACCOUNT: &str = "/account";
    /// Ends one of the user's sessions (a form on the account page).
    pub const ACCOUNT_REVOKE_SESSION: &str = "/account/sessions/revoke";
    /// Withdraws what the user gave an app (a form on the account page).
    pub const ACCOUNT_REVOKE_APP: &str = "/account/apps/revoke";
    /// Removes the user's link to an upstream provider (a form on the account page).
    pub const ACCOUNT_UNLINK_IDENTITY: &str = "/account/identities/unlink";
    /// Changes the user's own password (a form on the account page).
    pub const ACCOUNT_PASSWORD: &str = "/account/password";
    /// The account page's "Delete account" form (`users.self_deletion`).
    pub const ACCOUNT_DELETE: &str = "/account/delete";
    /// The account page's form that mails a verification link for the user's address.
    pub const ACCOUNT_EMAIL_VERIFY: &str = "/account/email/verify";
    /// Shows a new TOTP secret to set up (a form on the account page).
    pub const ACCOUNT_OTP_SETUP: &str = "/account/otp/setup";
    /// Turns two-step verification on with a code of the secret being set up.
    pub const ACCOUNT_OTP_CONFIRM: &str = "/account/otp/confirm";
    /// Turns two-step verification off, given a current code.
    pub const ACCOUNT_OTP_DISABLE: &str = "/account/otp/disable";
    /// The account page's form for new recovery codes.
    pub const ACCOUNT_OTP_RECOVERY: &str = "/account/otp/recovery";
    /// The options of a new passkey (JSON, for the account page's script).
    pub const ACCOUNT_PASSKEY_OPTIONS: &str = "/account/passkeys/options";
    /// Adds a passkey: the browser's answer to those options.
    pub const ACCOUNT_PASSKEYS: &str = "/account/passkeys";
    /// Removes one of the user's passkeys (a form on the account page).
    pub const ACCOUNT_PASSKEY_REMOVE: &str = "/account/passkeys/remove";
    /// Token revocation (RFC 7009).
    pub const REVOKE: &str = "/revoke";
    /// Token introspection (RFC 7662).
    pub const INTROSPECT: &str = "/introspect";
    /// RP-initiated logout.
    pub const LOGOUT: &str = "/logout";
    /// Pushed authorization requests (RFC 9126).
    pub const PAR: &str = "/par";
    /// Dynamic client registration (RFC 7591); `/register/{client_id}` manages one (RFC 7592).
    pub const REGISTER: &str = "/register";
    /// Liveness.
    pub const HEALTHZ: &str = "/healthz";
    /// Readiness.
    pub const READYZ: &str = "/readyz";
    /// Prometheus text exposition; for scrapers inside the deployment.
    pub const METRICS: &str = "/metrics";
}

/// What the server implements, as advertised.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    device_authorization_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
    pushed_authorization_request_endpoint: String,
    require_pushed_authorization_requests: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    scopes_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    grant_types_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
    dpop_signing_alg_values_supported: Vec<&'static str>,
    claims_supported: Vec<&'static str>,
    acr_values_supported: Vec<&'static str>,
    prompt_values_supported: Vec<&'static str>,
    /// The languages of the pages `ui_locales` may ask for (OIDC Discovery §3).
    ui_locales_supported: Vec<&'static str>,
    authorization_response_iss_parameter_supported: bool,
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    request_object_signing_alg_values_supported: Vec<&'static str>,
    require_signed_request_object: bool,
    request_uri_parameter_supported: bool,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
    frontchannel_logout_supported: bool,
    frontchannel_logout_session_supported: bool,
}

/// The issuer with a path appended.
pub fn endpoint(issuer: &Url, path: &str) -> String {
    format!("{}{}", issuer_string(issuer), path)
}

/// The issuer as it appears in `iss`: no trailing slash (OIDC Discovery §4.3 compares it exactly).
pub fn issuer_string(issuer: &Url) -> String {
    issuer.as_str().trim_end_matches('/').to_owned()
}

impl ProviderMetadata {
    /// The metadata for `issuer`; `registration_endpoint` only when `registration` is not off; `par_required`
    /// when every client must push its authorization requests (`par.required`); `prompt=create` listed only when
    /// `sign_up` (users may create their own account, `users.self_registration`).
    pub fn new(issuer: &Url, registration: crate::config::RegistrationMode, par_required: bool, sign_up: bool) -> Self {
        let mut prompt_values_supported = vec!["none", "login", "consent", "select_account"];
        if sign_up {
            // Initiating User Registration via OpenID Connect 1.0 §4.2.
            prompt_values_supported.push("create");
        }
        Self {
            issuer: issuer_string(issuer),
            authorization_endpoint: endpoint(issuer, paths::AUTHORIZE),
            token_endpoint: endpoint(issuer, paths::TOKEN),
            device_authorization_endpoint: endpoint(issuer, paths::DEVICE_AUTHORIZATION),
            userinfo_endpoint: endpoint(issuer, paths::USERINFO),
            jwks_uri: endpoint(issuer, paths::JWKS),
            revocation_endpoint: endpoint(issuer, paths::REVOKE),
            introspection_endpoint: endpoint(issuer, paths::INTROSPECT),
            end_session_endpoint: endpoint(issuer, paths::LOGOUT),
            pushed_authorization_request_endpoint: endpoint(issuer, paths::PAR),
            require_pushed_authorization_requests: par_required,
            registration_endpoint: (registration != crate::config::RegistrationMode::Off)
                .then(|| endpoint(issuer, paths::REGISTER)),
            revocation_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            // RFC 8414 §2: required wherever private_key_jwt is listed.
            revocation_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS.to_vec(),
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            introspection_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS.to_vec(),
            scopes_supported: vec!["openid", "profile", "email", "offline_access", "groups"],
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query", "form_post"],
            grant_types_supported: vec![
                "authorization_code",
                "refresh_token",
                "client_credentials",
                DEVICE_CODE_GRANT,
                TOKEN_EXCHANGE_GRANT,
            ],
            subject_types_supported: SUBJECT_TYPES.to_vec(),
            id_token_signing_alg_values_supported: vec![ID_TOKEN_SIGNING_ALG],
            token_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            token_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS.to_vec(),
            code_challenge_methods_supported: vec!["S256"],
            dpop_signing_alg_values_supported: crate::oauth::dpop::SIGNING_ALGS.to_vec(),
            claims_supported: vec![
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "azp",
                "sid",
                "amr",
                "acr",
                "name",
                "preferred_username",
                "updated_at",
                "email",
                "email_verified",
                "groups",
            ],
            acr_values_supported: crate::oauth::acr::ACR_VALUES.to_vec(),
            prompt_values_supported,
            ui_locales_supported: Locale::ALL.iter().map(|l| l.tag()).collect(),
            authorization_response_iss_parameter_supported: true,
            claims_parameter_supported: true,
            // RFC 9101: signed request objects by value (`request`), at /authorize and /par; by reference only
            // the `request_uri` PAR gives out.
            request_parameter_supported: true,
            request_object_signing_alg_values_supported: SIGNING_ALGS.to_vec(),
            // RFC 9101 §10.5: per client (`require_signed_request_object`), not for all.
            require_signed_request_object: false,
            request_uri_parameter_supported: false,
            // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` whenever there is a session.
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            // OpenID Connect Front-Channel Logout 1.0 §3: every frame's URL carries `iss` and `sid`.
            frontchannel_logout_supported: true,
            frontchannel_logout_session_supported: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegistrationMode;

    #[test]
    fn endpoints_hang_off_the_issuer_without_a_double_slash() {
        let root = Url::parse("http://127.0.0.1:8080").unwrap();
        let m = ProviderMetadata::new(&root, RegistrationMode::Open, false, false);
        assert_eq!(m.issuer, "http://127.0.0.1:8080");
        assert_eq!(m.jwks_uri, "http://127.0.0.1:8080/jwks");
        assert_eq!(m.device_authorization_endpoint, "http://127.0.0.1:8080/device_authorization");
        assert!(m.grant_types_supported.contains(&"urn:ietf:params:oauth:grant-type:device_code"));
        assert!(m.grant_types_supported.contains(&"urn:ietf:params:oauth:grant-type:token-exchange"));
        assert!(m.backchannel_logout_supported && m.backchannel_logout_session_supported);
        assert!(m.frontchannel_logout_supported && m.frontchannel_logout_session_supported);
    }

    #[test]
    fn the_par_endpoint_is_advertised_and_whether_it_is_required() {
        let iss = Url::parse("https://id.example").unwrap();
        let m = serde_json::to_value(ProviderMetadata::new(&iss, RegistrationMode::Open, false, false)).unwrap();
        assert_eq!(m["pushed_authorization_request_endpoint"], "https://id.example/par");
        assert_eq!(m["require_pushed_authorization_requests"], false);
        let m = serde_json::to_value(ProviderMetadata::new(&iss, RegistrationMode::Open, true, false)).unwrap();
        assert_eq!(m["require_pushed_authorization_requests"], true);
    }

    #[test]
    fn signed_request_objects_are_advertised_by_value_only() {
        let iss = Url::parse("https://id.example").unwrap();
        let m = serde_json::to_value(ProviderMetadata::new(&iss, RegistrationMode::Open, false, false)).unwrap();
        assert_eq!(m["request_parameter_supported"], true);
        assert_eq!(m["request_object_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256"]));
        assert_eq!(m["require_signed_request_object"], false);
        assert_eq!(m["request_uri_parameter_supported"], false);
    }

    #[test]
    fn registration_endpoint_only_when_registration_is_on() {
        let iss = Url::parse("https://id.example").unwrap();
        for mode in [RegistrationMode::Open, RegistrationMode::Token] {
            let m = ProviderMetadata::new(&iss, mode, false, false);
            assert_eq!(m.registration_endpoint.as_deref(), Some("https://id.example/register"));
        }
        let off = serde_json::to_value(ProviderMetadata::new(&iss, RegistrationMode::Off, false, false)).unwrap();
        assert!(off.get("registration_endpoint").is_none(), "{off}");
    }

    #[test]
    fn every_endpoint_taking_private_key_jwt_lists_its_algorithms() {
        let iss = Url::parse("https://id.example").unwrap();
        let m = serde_json::to_value(ProviderMetadata::new(&iss, RegistrationMode::Open, false, false)).unwrap();
        for endpoint in ["token", "revocation", "introspection"] {
            let methods = &m[format!("{endpoint}_endpoint_auth_methods_supported")];
            assert!(methods.as_array().unwrap().iter().any(|v| v == "private_key_jwt"), "{endpoint}");
            let algs = &m[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
            assert_eq!(algs, &serde_json::json!(SIGNING_ALGS), "{endpoint}");
        }
    }

    #[test]
    fn prompt_create_is_listed_only_with_sign_up() {
        let iss = Url::parse("https://id.example").unwrap();
        let off = ProviderMetadata::new(&iss, RegistrationMode::Open, false, false);
        assert!(!off.prompt_values_supported.contains(&"create"));
        let on = ProviderMetadata::new(&iss, RegistrationMode::Open, false, true);
        assert_eq!(on.prompt_values_supported, ["none", "login", "consent", "select_account", "create"]);
    }
}
