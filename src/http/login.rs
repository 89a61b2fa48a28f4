//! `GET` and `POST /login`: the sign-in of a pending authorization (`interaction=…`), the sign-in that leads to
//! the account page (`return=account`), or the one that leads back to the device verification page with the code
//! entered there (`return=device&user_code=…`): fixed targets, never a URL taken from the request (the code is
//! parsed as a user code, and its normal form goes into the link back).
use super::authorize::step_response;
use super::interaction_pages::{check_form, expired, find, from_another_origin, invalid_link, load, FormRefusal};
use super::lang::{back_to, keeping_choice, Lang};
use super::meta::{device, request_meta};
use super::render::{error_page, page, see_other, wait_words};
use super::views::{LoginPage, ProviderButton};
use super::{form, throttle, AppState};
use crate::domain::password::Password;
use crate::domain::secret::PlainSecret;
use crate::domain::{Session, UnixTime, User};
use crate::i18n::Locale;
use crate::oauth::account::{account_login_csrf, account_login_csrf_matches};
use crate::oauth::audit::EventFacts;
use crate::oauth::device::UserCode;
use crate::oauth::discovery::paths;
use crate::oauth::interaction::{Continuation, Interaction};
use crate::oauth::limits::Lock;
use crate::oauth::otp::SignInTarget;
use crate::oauth::params::Params;
use crate::oauth::session::SignIn;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

/// The `return` value of a sign-in that leads to the account page.
pub const RETURN_TO_ACCOUNT: &str = "account";
/// The `return` value of a sign-in that leads back to the device verification page.
pub const RETURN_TO_DEVICE: &str = "device";

/// Where a sign-in continues.
pub(super) enum Target {
    /// The pending authorization `id`.
    Authorize(String, Box<Interaction>),
    /// The account page; `again` when the user signs in again though signed in (`prompt=login`: the account
    /// page wants a recent sign-in), which an upstream provider must not answer from its own session.
    Account { again: bool },
    /// The device verification page, with the code entered there.
    Device(UserCode),
}

impl Target {
    pub(super) fn client_id(&self) -> Option<String> {
        match self {
            Self::Authorize(_, i) => Some(i.request.client_id.as_str().to_owned()),
            Self::Account { .. } | Self::Device(_) => None,
        }
    }

    /// The language the pending authorization asked its pages in (`ui_locales`), if any.
    pub(super) fn ui_locale(&self) -> Option<Locale> {
        match self {
            Self::Authorize(_, i) => i.request.ui_locale,
            Self::Account { .. } | Self::Device(_) => None,
        }
    }

    /// What a sign-in waiting for a further step keeps of it: where it continues, its client, and its language.
    pub(super) fn kept(&self) -> SignInTarget {
        (self.continuation(), self.client_id(), self.ui_locale())
    }

    /// The same target, as a sign-in waiting for a second step or an upstream provider keeps it.
    pub(super) fn continuation(&self) -> Continuation {
        match self {
            Self::Authorize(id, _) => Continuation::Authorize(id.clone()),
            Self::Account { .. } => Continuation::Account,
            Self::Device(code) => Continuation::Device(code.as_str().to_owned()),
        }
    }
}

/// The target a kept `continuation` names, as it stands now (the pending authorization read again).
#[allow(clippy::result_large_err)]
pub(super) async fn resumed(
    req: &HttpRequest,
    state: &AppState,
    continuation: Continuation,
) -> Result<Target, HttpResponse> {
    Ok(match continuation {
        Continuation::Authorize(interaction) => {
            let (id, interaction) = load(req, state, Some(&interaction)).await?;
            Target::Authorize(id, Box::new(interaction))
        }
        Continuation::Account => Target::Account { again: false },
        Continuation::Device(code) => Target::Device(UserCode::parse(&code).map_err(|_| expired(req))?),
    })
}

/// The code of a `return=device` sign-in, from its query or form: `None` when absent or not a user code.
fn device_code_of(params: &Params) -> Option<UserCode> {
    params.get("user_code").and_then(|c| UserCode::parse(c).ok())
}

/// `GET /login?interaction=…` or `GET /login?return=account`: the form (for the account page, only when the
/// browser is not signed in already, or asked to sign in again with `prompt=login`).
#[tracing::instrument(name = "login page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    if q.get("interaction").is_none() {
        match q.get("return") {
            Some(RETURN_TO_ACCOUNT) => {
                // `prompt=login`: the account page asks a signed-in user to sign in again (to delete an account
                // without a password, whose sign-in is too old); the new session takes over the browser's.
                // Its form carries the demand on (`prompt=login`), for an upstream provider's button.
                if q.get("prompt") == Some("login") {
                    return account_form(&req, &state, AccountForm::Again, String::new(), StatusCode::OK, None);
                }
                return match super::account::current(&req, &state).await {
                    Ok(Some(_)) => see_other(&keeping_choice(&req, paths::ACCOUNT)),
                    Ok(None) => account_form(&req, &state, AccountForm::Account, String::new(), StatusCode::OK, None),
                    Err(resp) => resp,
                };
            }
            Some(RETURN_TO_DEVICE) => {
                let Some(code) = device_code_of(&q) else { return invalid_link(&req) };
                return match super::account::current(&req, &state).await {
                    Ok(Some(_)) => see_other(&keeping_choice(&req, &super::device::page_for(&code))),
                    Ok(None) => {
                        account_form(&req, &state, AccountForm::Device(&code), String::new(), StatusCode::OK, None)
                    }
                    Err(resp) => resp,
                };
            }
            Some(_) => return invalid_link(&req),
            None => {}
        }
    }
    let (id, interaction) = match load(&req, &state, q.get("interaction")).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let username = interaction.request.login_hint.clone().unwrap_or_default();
    authorize_form(&req, &state, &id, &interaction, username, StatusCode::OK, None).await
}

/// The sign-in form of the pending authorization `id`, with the upstream providers' buttons.
pub(super) async fn authorize_form(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    interaction: &Interaction,
    username: String,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let client = match state.provider.interaction_client(interaction).await {
        Ok(c) => c,
        Err(e) => return step_response(req, state, Err(e)),
    };
    let lang = Lang::of_sign_in(req, interaction.request.ui_locale);
    back_to(req, login_link(&[("interaction", id)]));
    let view = LoginPage {
        t: lang.t(),
        client_name: Some(client.name),
        interaction: id.to_owned(),
        return_to: None,
        csrf: interaction.csrf.clone(),
        username,
        user_code: None,
        again: false,
        ui_locales: None,
        error,
        providers: buttons(state),
        sign_up: state.settings.users.self_registration,
        forgot: state.provider.mail_on(),
        passkeys: state.provider.passkey_rp().is_some(),
    };
    page(req, lang, status, view.render())
}

/// The sign-in page's link with `query`: where a form's answer is found again ([`back_to`]).
fn login_link(query: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    format!("{}?{query}", paths::LOGIN)
}

/// The upstream providers' "Sign in with …" buttons.
fn buttons(state: &AppState) -> Vec<ProviderButton> {
    let providers = state.settings.federation.providers.iter();
    providers.map(|p| ProviderButton { id: p.id.clone(), name: p.name.clone() }).collect()
}

/// The sign-in form of `target` again, with `error`.
pub(super) async fn form_of(
    req: &HttpRequest,
    state: &AppState,
    target: &Target,
    username: String,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    match target {
        Target::Account { again: false } => account_form(req, state, AccountForm::Account, username, status, error),
        Target::Account { again: true } => account_form(req, state, AccountForm::Again, username, status, error),
        Target::Device(code) => account_form(req, state, AccountForm::Device(code), username, status, error),
        Target::Authorize(id, interaction) => {
            authorize_form(req, state, id, interaction, username, status, error).await
        }
    }
}

/// Which sign-in form of no authorization.
#[derive(Clone, Copy)]
enum AccountForm<'a> {
    /// The one that leads to the account page.
    Account,
    /// The same, signing in again (`prompt=login`).
    Again,
    /// The one that leads back to the device verification page with this code.
    Device(&'a UserCode),
}

/// The sign-in form that leads to the account page, or back to the device verification page with the code.
/// Its CSRF token is bound to the browser-binding cookie, set here when the browser has none.
fn account_form(
    req: &HttpRequest,
    state: &AppState,
    form: AccountForm<'_>,
    username: String,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let (browser, new_browser) = state.cookies.read_or_new_browser(req);
    let lang = Lang::of(req);
    let device = match form {
        AccountForm::Device(code) => Some(code),
        AccountForm::Account | AccountForm::Again => None,
    };
    back_to(
        req,
        match form {
            AccountForm::Device(code) => login_link(&[("return", RETURN_TO_DEVICE), ("user_code", code.as_str())]),
            AccountForm::Account => login_link(&[("return", RETURN_TO_ACCOUNT)]),
            AccountForm::Again => login_link(&[("return", RETURN_TO_ACCOUNT), ("prompt", "login")]),
        },
    );
    let view = LoginPage {
        t: lang.t(),
        client_name: None,
        interaction: String::new(),
        return_to: Some(if device.is_some() { RETURN_TO_DEVICE } else { RETURN_TO_ACCOUNT }),
        csrf: account_login_csrf(&browser),
        username,
        user_code: device.map(|c| c.as_str().to_owned()),
        again: matches!(form, AccountForm::Again),
        ui_locales: device.and(lang.carried()),
        error,
        providers: buttons(state),
        // The device page's sign-in leads back to a code to approve: not the place to make an account.
        sign_up: state.settings.users.self_registration && device.is_none(),
        forgot: state.provider.mail_on(),
        passkeys: state.provider.passkey_rp().is_some(),
    };
    let mut resp = page(req, lang, status, view.render());
    if new_browser {
        state.cookies.set_browser(&mut resp, browser);
    }
    resp
}

/// Where a posted sign-in form continues, once it is known to come from our own page.
#[allow(clippy::result_large_err)]
pub(super) async fn target(req: &HttpRequest, state: &AppState, f: &Params) -> Result<Target, HttpResponse> {
    find_target(req, state, f).await.map_err(|r| r.page(req))
}

/// [`target`], or why the form is refused.
pub(super) async fn find_target(req: &HttpRequest, state: &AppState, f: &Params) -> Result<Target, FormRefusal> {
    let fixed = match (f.get("interaction"), f.get("return")) {
        // `prompt` is no part of the CSRF token: dropping it from a form takes posting that form, which the token
        // allows only from our own page.
        (None, Some(RETURN_TO_ACCOUNT)) => Some(Target::Account { again: f.get("prompt") == Some("login") }),
        (None, Some(RETURN_TO_DEVICE)) => Some(Target::Device(device_code_of(f).ok_or(FormRefusal::InvalidLink)?)),
        _ => None,
    };
    if let Some(fixed) = fixed {
        // The device flow's language, carried by its pages' forms (the device's, or the user's choice).
        Lang::of_flow_form(req, f);
        let browser = state.cookies.read_browser(req);
        if browser.is_none() && !from_another_origin(req, state) {
            // The form came with the browser cookie: a post from our page without it means cookies are blocked.
            return Err(FormRefusal::CookiesBlocked);
        }
        let valid = matches!((browser, f.get("csrf")), (Some(b), Some(t)) if account_login_csrf_matches(&b, t));
        if from_another_origin(req, state) || !valid {
            tracing::warn!(
                event = "csrf_token_mismatch",
                "account sign-in posted from another origin or without a valid CSRF token"
            );
            return Err(FormRefusal::Forbidden);
        }
        return Ok(fixed);
    }
    if f.get("interaction").is_none() {
        return Err(if f.get("return").is_some() { FormRefusal::InvalidLink } else { FormRefusal::Expired });
    }
    let (id, interaction) = find(req, state, f.get("interaction")).await?;
    check_form(req, state, &interaction, f)?;
    Ok(Target::Authorize(id, Box::new(interaction)))
}

/// `POST /login`: checks the abuse limits and the password, starts a new session, and continues the
/// authorization. Every outcome is an audit event (never with the password).
#[tracing::instrument(name = "login", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let mut f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let target = match target(&req, &state, &f).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    // The further steps of a device sign-in keep the language its form carried, as an authorization's keep its own.
    let carried = f.get(super::lang::FLOW_FIELD).and_then(Locale::of_ui_locales);
    let kept = || {
        let (to, client, locale) = target.kept();
        (to, client, locale.or(carried))
    };
    let username = f.take("username").unwrap_or_default();
    let password = Password::new(f.take("password").unwrap_or_default());
    let now = crate::domain::now();
    let meta = request_meta(&req, &state);
    let ip = throttle::ip(&req, &state);
    let client_id = target.client_id();
    let limits = &state.provider.limits;

    // A locked IP or name gets no answer about the password, right or wrong.
    let attempt = match limits.begin_sign_in(ip, &username, now).await {
        Ok(attempt) => attempt,
        Err(lock) => {
            tracing::info!(event = "login_throttled", scope = lock.scope.as_str(), "sign-in refused while locked");
            state.provider.sign_in_refused_while_locked(lock, ip, &username, client_id, &meta, now).await;
            return form_again(&req, &state, &target, username, Refused::Locked(lock)).await;
        }
    };
    let device = device(&req, &state);
    let outcome = match state.provider.sign_in(&username, password, vec!["pwd".into()], device, now).await {
        Ok(s) => s,
        Err(e) => {
            limits.sign_in_abandoned(attempt, now).await;
            return error_page(&req, &e);
        }
    };
    let (user, cookie, session) = match outcome {
        SignIn::Started { user, cookie, session } => (user, cookie, session),
        SignIn::NeedsCode { user } => {
            // A right password is no failure, and no success yet either: the code step counts its own attempts
            // (wrong codes as failures), and only a right code starts the name's count over.
            limits.sign_in_abandoned(attempt, now).await;
            return super::login_code::ask_for_code(&req, &state, &user, &username, kept(), now).await;
        }
        SignIn::NeedsEnrolment { user } => {
            // As for the code step: the set-up's code counts as the code step's does.
            limits.sign_in_abandoned(attempt, now).await;
            return super::login_enrol::ask_to_enrol(&req, &state, &user, &username, kept(), now).await;
        }
        SignIn::NeedsNewPassword { user, amr } => {
            // The password was right: the sign-in is no failure, and the new password is no guess of anything.
            limits.sign_in_succeeded(attempt, &username, now).await;
            let session = (amr, json!({}));
            return super::login_new_password::ask_for_new_password(
                &req,
                &state,
                &user,
                &username,
                kept(),
                session,
                now,
            )
            .await;
        }
        SignIn::Refused { user, refusal } => {
            let user_id = user.map(|u| u.id.as_str().to_owned());
            let facts = EventFacts {
                actor: None,
                user_id: user_id.clone(),
                client_id: client_id.clone(),
                details: json!({ "reason": refusal.as_str() }),
            };
            state.provider.audit("login_failed", facts, &meta, now).await;
            let Some(lock) = limits.sign_in_failed(attempt, now).await else {
                return form_again(&req, &state, &target, username, Refused::Failed).await;
            };
            let facts = EventFacts {
                actor: None,
                user_id,
                client_id,
                details: json!({ "scope": lock.scope.as_str(), "seconds": lock.retry_after }),
            };
            state.provider.audit("login_lockout", facts, &meta, now).await;
            return form_again(&req, &state, &target, username, Refused::Locked(lock)).await;
        }
    };
    limits.sign_in_succeeded(attempt, &username, now).await;
    signed_in(&req, &state, target, &user, cookie, session, json!({}), now).await
}

/// The end of every sign-in that passed, password (with its code, if the user has two-step verification or just
/// set it up), passkey or federated, and of a temporary password's replacement: hands the browser's previous
/// session over to
/// `session` (which has a new cookie, against fixation), records `login_succeeded` with `details` added, continues
/// to `target`, and sets the session cookie.
#[allow(clippy::too_many_arguments)]
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    target: Target,
    user: &User,
    cookie: PlainSecret,
    session: Session,
    mut details: serde_json::Value,
    now: UnixTime,
) -> HttpResponse {
    let meta = request_meta(req, state);
    let handed_over = match state.cookies.read_session(req) {
        Some(previous) => match state.provider.supersede_session(&previous, &session, &meta, now).await {
            Ok(sid) => sid,
            Err(e) => return error_page(req, &e),
        },
        None => None,
    };
    details["amr"] = json!(session.amr);
    details["sid"] = json!(session.id_hash);
    if let Some(sid) = handed_over {
        details["continues_sid"] = json!(sid);
    }
    let facts = EventFacts {
        actor: Some(user.id.as_str().to_owned()),
        user_id: Some(user.id.as_str().to_owned()),
        client_id: target.client_id(),
        details,
    };
    state.provider.audit("login_succeeded", facts, &meta, now).await;
    let mut resp = match target {
        Target::Authorize(id, interaction) => {
            step_response(req, state, state.provider.after_login(id, *interaction, &session, now).await)
        }
        Target::Account { .. } => see_other(paths::ACCOUNT),
        // In the device flow's language, which its page carried here (the device's, or the user's choice).
        Target::Device(code) => see_other(&super::device::page_in(&code, Lang::of(req).carried())),
    };
    set_session_cookie(&mut resp, state, &cookie);
    resp
}

/// Sets the session cookie to `cookie` on `resp` (a sign-in's, or a session's renewed id).
pub(super) fn set_session_cookie(resp: &mut HttpResponse, state: &AppState, cookie: &PlainSecret) {
    if let Err(e) = resp.add_cookie(&state.cookies.session(cookie.expose().to_owned())) {
        tracing::error!(error = %e, "cannot set the session cookie");
    }
}

/// Why the form is shown again.
enum Refused {
    /// Wrong name or password: the form again with 200. Not 401, which must carry a `WWW-Authenticate`
    /// challenge (RFC 9110 §15.5.2) and so belongs to HTTP authentication, not to a form; not 400, which
    /// the login form answers when the form itself is malformed.
    Failed,
    /// Too many failures from this IP or for this name (429 with `Retry-After`); the same words either way,
    /// and whether or not the name exists.
    Locked(Lock),
}

/// The sign-in form again, with what went wrong and the name as typed (escaped by the template).
async fn form_again(
    req: &HttpRequest,
    state: &AppState,
    target: &Target,
    username: String,
    why: Refused,
) -> HttpResponse {
    let t = Lang::of(req).t();
    let (status, error) = match &why {
        Refused::Failed => (StatusCode::OK, t.login.failed.to_owned()),
        Refused::Locked(lock) => {
            (StatusCode::TOO_MANY_REQUESTS, t.common.too_many_sign_in_failures.with(wait_words(t, lock.retry_after)))
        }
    };
    let mut resp = form_of(req, state, target, username, status, Some(error)).await;
    if let Refused::Locked(lock) = why {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(lock.retry_after));
    }
    resp
}
