//! `GET /account` (the signed-in user's sessions, connected apps and linked upstream sign-ins) and its forms,
//! `POST /account/sessions/revoke`, `POST /account/apps/revoke` and `POST /account/identities/unlink` (the
//! password form is `account_password.rs`, two-step verification's `account_otp.rs`, passkeys'
//! `account_passkeys.rs`, "Delete account" `account_deletion.rs`); a GET of
//! any of them sends the browser to the page. Without a session the browser is sent to sign in, and back here
//! afterwards. The forms carry a CSRF token bound to the session cookie and must come from our own page
//! (`Origin`, `Sec-Fetch-Site`); after success the browser is sent back to the page (303), whose query says what
//! was done (`done=session`, `done=app&client_id=…`, `done=identity&provider=…`, `done=password`) so the page
//! can say so. An unlink that would leave the user no way to sign in is refused with the page and a message.
use super::interaction_pages::{from_another_origin, from_our_origin, FormRefusal};
use super::lang::{back_to, Lang};
use super::login::RETURN_TO_ACCOUNT;
use super::meta::request_meta;
use super::render::{error_page, message_page, page, see_other, wait_words};
use super::views::{
    describe_amr, describe_device, grant_lines, utc_time, AccountPage, AppLine, DeletionField, DeletionForm,
    IdentityLine, PasswordForm, SessionLine,
};
use super::{form, AppState};
use crate::domain::ClientId;
use crate::i18n::Texts;
use crate::oauth::account::{account_csrf, account_csrf_matches, AccountOverview, SessionRevoked};
use crate::oauth::discovery::paths;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::session::SignedIn;
use crate::storage::{Unlinked, WaysIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The sign-in that returns to the account page, in the language the user chose in this request if any (the
/// switcher of a page that leads here: the choice would be lost on the way otherwise).
pub(super) fn to_login(req: &HttpRequest) -> HttpResponse {
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("return", RETURN_TO_ACCOUNT).finish();
    see_other(&super::lang::keeping_choice(req, &format!("{}?{query}", paths::LOGIN)))
}

/// The session cookie and its signed-in session, if the request has one that counts; the error page when the
/// store cannot tell.
#[allow(clippy::result_large_err)]
pub(super) async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<(String, SignedIn)>, HttpResponse> {
    session_of(req, state).await.map_err(|e| error_page(req, &e))
}

/// The session cookie and its signed-in session, if the request has one that counts.
async fn session_of(req: &HttpRequest, state: &AppState) -> Result<Option<(String, SignedIn)>, OAuthError> {
    let Some(cookie) = state.cookies.read_session(req) else { return Ok(None) };
    let signed_in = state.provider.account_session(&cookie, crate::domain::now()).await?;
    Ok(signed_in.map(|s| (cookie, s)))
}

/// [`current`], or the response to send: sign in, or the error page.
#[allow(clippy::result_large_err)]
async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<(String, SignedIn), HttpResponse> {
    current(req, state).await?.ok_or_else(|| to_login(req))
}

/// What a form just did, carried to the page in the query of the redirect after it (a cookie would outlive
/// the page it is meant for, or show on another tab's).
pub(super) enum Done {
    /// Another session of the user ended (or had ended already).
    Session,
    /// The user withdrew an app's access.
    App(ClientId),
    /// The user removed their link to an upstream provider.
    Identity(String),
    /// Two-step verification was turned off.
    OtpOff,
    /// The user changed their password; `true` when their other sessions were signed out too.
    Password(bool),
    /// A passkey was added.
    PasskeyAdded,
    /// A passkey was removed (or had been already).
    PasskeyRemoved,
    /// A verification link was mailed to the user's address.
    VerificationSent,
}

impl Done {
    /// The page's address saying this was done.
    pub(super) fn location(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        match self {
            Self::Session => query.append_pair("done", "session"),
            Self::App(client_id) => query.append_pair("done", "app").append_pair("client_id", client_id.as_str()),
            Self::Identity(provider) => query.append_pair("done", "identity").append_pair("provider", provider),
            Self::OtpOff => query.append_pair("done", "otp-off"),
            Self::Password(false) => query.append_pair("done", "password"),
            Self::Password(true) => query.append_pair("done", "password-others"),
            Self::PasskeyAdded => query.append_pair("done", "passkey-added"),
            Self::PasskeyRemoved => query.append_pair("done", "passkey-removed"),
            Self::VerificationSent => query.append_pair("done", "verification-sent"),
        };
        format!("{}?{}", paths::ACCOUNT, query.finish())
    }

    /// What the page's query says was done; anything else says nothing.
    fn from_query(req: &HttpRequest) -> Option<Self> {
        let q = form::query(req).ok()?;
        match q.get("done")? {
            "session" => Some(Self::Session),
            "app" => ClientId::parse(q.get("client_id")?).ok().map(Self::App),
            "identity" => q.get("provider").map(|p| Self::Identity(p.to_owned())),
            "otp-off" => Some(Self::OtpOff),
            "password" => Some(Self::Password(false)),
            "password-others" => Some(Self::Password(true)),
            "passkey-added" => Some(Self::PasskeyAdded),
            "passkey-removed" => Some(Self::PasskeyRemoved),
            "verification-sent" => Some(Self::VerificationSent),
            _ => None,
        }
    }
}

/// The sentence of `t` the page shows for `done`, if it is true of what the page lists.
async fn notice(
    t: &Texts,
    state: &AppState,
    overview: &AccountOverview,
    identities: &[IdentityLine],
    done: Done,
) -> Option<String> {
    let a = &t.account;
    match done {
        // Only a provider of ours, and one the page no longer lists.
        Done::Identity(provider) => match state.settings.federation.provider(&provider) {
            Some(p) if !identities.iter().any(|i| i.provider == p.id) => Some(a.no_longer_with.with(&p.name)),
            _ => None,
        },
        Done::Session => Some(a.session_ended.to_owned()),
        Done::OtpOff => Some(a.otp_turned_off.to_owned()),
        Done::Password(false) => Some(a.password_changed.to_owned()),
        Done::Password(true) => Some(a.password_changed_others.to_owned()),
        Done::PasskeyAdded => Some(a.passkey_added.to_owned()),
        Done::PasskeyRemoved => Some(a.passkey_removed.to_owned()),
        Done::VerificationSent => Some(a.verification_sent.to_owned()),
        Done::App(client_id) => match state.provider.withdrawn_app_name(overview, &client_id).await {
            Ok(name) => name.map(|n| a.access_removed.with(n)),
            // The withdrawal is done: failing to name it must not hide the page.
            Err(e) => {
                tracing::warn!(error = %e, "cannot name the withdrawn app");
                None
            }
        },
    }
}

/// `GET /account`.
#[tracing::instrument(name = "account page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (cookie, signed_in) = match signed_in(&req, &state).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let done = Done::from_query(&req);
    show(&req, &state, &cookie, &signed_in, StatusCode::OK, done, None, None).await
}

/// The account page's sign-in, asked again of a signed-in browser (`prompt=login`): back to the page after it.
pub(super) const SIGN_IN_AGAIN: &str = "/login?return=account&prompt=login";

/// A form of the page shown again as the user left it, with why it did nothing.
pub(super) enum FormAgain {
    /// The password form.
    Password(PasswordForm),
    /// The "Delete account" section's, with why and the field it is about.
    Deletion(String, DeletionField),
}

/// The account page with `status`, saying what `done` did or why nothing was (`error`), with the form `again`
/// names as it was left (the others as at first).
#[allow(clippy::too_many_arguments)]
pub(super) async fn show(
    req: &HttpRequest,
    state: &AppState,
    cookie: &str,
    signed_in: &SignedIn,
    status: StatusCode,
    done: Option<Done>,
    error: Option<String>,
    again: Option<FormAgain>,
) -> HttpResponse {
    let overview = match state.provider.account_overview(signed_in, crate::domain::now()).await {
        Ok(o) => o,
        Err(e) => return error_page(req, &e),
    };
    let otp_enabled = match state.provider.otp_enabled(&signed_in.user.id).await {
        Ok(on) => on,
        Err(e) => return error_page(req, &e),
    };
    let identities = match state.provider.linked_identities(&signed_in.user.id).await {
        Ok(links) => links
            .into_iter()
            .map(|l| IdentityLine {
                name: state
                    .settings
                    .federation
                    .provider(&l.provider_id)
                    .map_or(l.provider_id.clone(), |p| p.name.clone()),
                provider: l.provider_id,
                since: utc_time(l.created_at),
                last_used: utc_time(l.last_used_at),
            })
            .collect::<Vec<_>>(),
        Err(e) => return error_page(req, &e),
    };
    let passkeys = match super::account_passkeys::lines(state, &signed_in.user.id).await {
        Ok(lines) => lines,
        Err(e) => return error_page(req, &e),
    };
    let groups = match state.provider.own_groups(&signed_in.user.id).await {
        Ok(names) => names.into_iter().map(|g| g.as_str().to_owned()).collect(),
        Err(e) => return error_page(req, &e),
    };
    let lang = Lang::of(req);
    let notice = match done {
        Some(done) => notice(lang.t(), state, &overview, &identities, done).await,
        None => None,
    };
    let has_password = overview.has_password;
    let (password, deletion_error) = match again {
        Some(FormAgain::Password(form)) => (Some(form), None),
        Some(FormAgain::Deletion(message, field)) => (None, Some((message, field))),
        None => (None, None),
    };
    let mut view = view(lang.t(), signed_in, overview, account_csrf(cookie), otp_enabled, notice);
    view.otp_required = !state.provider.own_otp_may_be_turned_off();
    view.verify_email = state.provider.mail_on();
    view.identities = identities;
    view.passkeys = passkeys;
    view.groups = groups;
    view.error = error;
    view.password =
        has_password.then(|| password.unwrap_or_else(|| PasswordForm::new(state.settings.passwords.min_length)));
    view.recent_sign_in = signed_in.recently(crate::domain::now());
    view.recently = wait_words(lang.t(), crate::oauth::session::RECENT_SIGN_IN_SECONDS);
    view.deletion = state.settings.users.self_deletion.then_some(DeletionForm {
        password: has_password,
        sign_in_again: !has_password && !view.recent_sign_in,
        error: deletion_error,
    });
    // A form's answer is this page again, found at its own address.
    back_to(req, paths::ACCOUNT.to_owned());
    page(req, lang, status, view.render())
}

fn view(
    t: &'static Texts,
    signed_in: &SignedIn,
    overview: AccountOverview,
    csrf: String,
    otp_enabled: bool,
    notice: Option<String>,
) -> AccountPage {
    let sessions = overview
        .sessions
        .into_iter()
        .map(|s| SessionLine {
            device: describe_device(t, &s.device),
            ip: s.device.ip.map(|ip| ip.to_string()),
            started: utc_time(s.created_at),
            signed_in: utc_time(s.auth_time),
            last_used: utc_time(s.last_used_at),
            expires: utc_time(s.expires_at),
            methods: s.amr.iter().map(|m| describe_amr(t, m)).collect::<Vec<_>>().join(", "),
            current: s.current,
            idle: s.idle,
            reference: s.reference,
        })
        .collect();
    let apps = overview
        .apps
        .into_iter()
        .map(|a| AppLine {
            name: a.name,
            client_id: a.grant.client_id.as_str().to_owned(),
            scopes: grant_lines(t, &a.grant.scope, &a.grant.claims),
            offline: a.grant.offline,
            since: utc_time(a.grant.since),
        })
        .collect();
    let username = signed_in.user.username.as_str().to_owned();
    AccountPage {
        t,
        username,
        email: signed_in.user.email.clone(),
        email_verified: signed_in.user.email_verified,
        verify_email: false,
        notice,
        csrf,
        otp_enabled,
        otp_required: false,
        sessions,
        apps,
        identities: Vec::new(),
        error: None,
        password: None,
        passkeys: None,
        groups: Vec::new(),
        deletion: None,
        recent_sign_in: false,
        recently: String::new(),
    }
}

/// A posted account form: parsed, from our own page, of a signed-in session, with that session's CSRF token.
#[allow(clippy::result_large_err)]
pub(super) async fn checked(
    req: &HttpRequest,
    state: &AppState,
    body: form::Body,
) -> Result<(Params, String, SignedIn), HttpResponse> {
    check_account_form(req, state, body).await.map_err(|r| r.page(req))
}

/// [`checked`], or why the form is refused.
pub(super) async fn check_account_form(
    req: &HttpRequest,
    state: &AppState,
    body: form::Body,
) -> Result<(Params, String, SignedIn), FormRefusal> {
    let f = form::read(req, body).map_err(FormRefusal::Failed)?;
    if from_another_origin(req, state) {
        tracing::warn!(event = "csrf_origin_mismatch", "account form posted from another origin");
        return Err(FormRefusal::Forbidden);
    }
    let (cookie, signed_in) =
        session_of(req, state).await.map_err(FormRefusal::Failed)?.ok_or(FormRefusal::SignedOut)?;
    match f.get("csrf") {
        Some(t) if account_csrf_matches(&cookie, t) => Ok((f, cookie, signed_in)),
        // Our own page's token for a session cookie since replaced (signed out and in again, in another tab):
        // the page is stale, not forged.
        Some(t) if !t.is_empty() && from_our_origin(req, state) => {
            tracing::info!(event = "csrf_token_stale", "account form posted from an out-of-date page");
            Err(FormRefusal::OutOfDate)
        }
        _ => {
            tracing::warn!(event = "csrf_token_mismatch", "account form posted without a valid CSRF token");
            Err(FormRefusal::Forbidden)
        }
    }
}

/// `GET` of an account form's target (`/account/sessions/revoke`, `/account/password`, …): bookmarked, or
/// reloaded after its answer was lost. A GET changes nothing, so there is nothing to do but show the page.
pub async fn back_to_page() -> HttpResponse {
    see_other(paths::ACCOUNT)
}

/// `POST /account/sessions/revoke` (`session`: a session's reference from the page). Ending the current
/// session signs the browser out.
#[tracing::instrument(name = "account revoke session", skip_all)]
pub async fn revoke_session(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(reference) = f.get("session") else {
        let a = &Lang::of(&req).t().account;
        return message_page(&req, StatusCode::BAD_REQUEST, a.no_session_chosen, a.try_again);
    };
    let meta = request_meta(&req, &state);
    match state.provider.revoke_account_session(&signed_in, reference, &meta, crate::domain::now()).await {
        Ok(SessionRevoked::Current(frames)) => {
            // The account page asks to sign in again; with apps to sign out in the browser, the signed-out
            // page frames them first.
            let mut resp = if frames.is_empty() {
                see_other(paths::ACCOUNT)
            } else {
                super::logout::signed_out_page(&req, &frames, Some(paths::ACCOUNT.to_owned()))
            };
            if let Err(e) = resp.add_cookie(&state.cookies.clear_session()) {
                tracing::error!(error = %e, "cannot clear the session cookie");
            }
            resp
        }
        // An unknown reference is a session that ended meanwhile (or never was this user's): the page, shown
        // again, lists what is left.
        Ok(SessionRevoked::Other | SessionRevoked::Unknown) => see_other(&Done::Session.location()),
        Err(e) => error_page(&req, &e),
    }
}

/// `POST /account/apps/revoke` (`client_id`).
#[tracing::instrument(name = "account revoke app", skip_all)]
pub async fn revoke_app(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, _cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(client_id) = f.get("client_id").and_then(|c| ClientId::parse(c).ok()) else {
        let a = &Lang::of(&req).t().account;
        return message_page(&req, StatusCode::BAD_REQUEST, a.no_app_chosen, a.try_again);
    };
    let meta = request_meta(&req, &state);
    match state.provider.revoke_account_app(&signed_in, &client_id, &meta, crate::domain::now()).await {
        Ok(()) => see_other(&Done::App(client_id).location()),
        Err(e) => error_page(&req, &e),
    }
}

/// What still signs the user in besides a password, for the removals of the page's own forms: a link at a
/// provider configured now (one elsewhere signs nobody in), or a passkey while passkeys are on.
pub(super) fn ways_in(state: &AppState) -> WaysIn {
    state.provider.ways_in(state.settings.federation.providers.iter().map(|p| p.id.clone()).collect())
}

/// What the page says when the link asked to go is the user's last way to sign in.
fn last_way_in(req: &HttpRequest, state: &AppState) -> String {
    let a = &Lang::of(req).t().account;
    let words = if state.provider.passkey_rp().is_some() { a.last_way_in_passkeys } else { a.last_way_in };
    words.to_owned()
}

/// `POST /account/identities/unlink` (`provider`): removes the user's link to that provider while another way to
/// sign in stays; otherwise the page again with why not.
#[tracing::instrument(name = "account unlink identity", skip_all)]
pub async fn unlink_identity(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let (f, cookie, signed_in) = match checked(&req, &state, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(provider) = f.get("provider").filter(|p| !p.is_empty() && p.len() <= 64) else {
        let a = &Lang::of(&req).t().account;
        return message_page(&req, StatusCode::BAD_REQUEST, a.no_sign_in_chosen, a.try_again);
    };
    let (meta, now) = (request_meta(&req, &state), crate::domain::now());
    let user_id = &signed_in.user.id;
    let ways_in = ways_in(&state);
    match state.provider.unlink_identity(user_id, provider, user_id.as_str(), Some(&ways_in), &meta, now).await {
        // Not linked: removed meanwhile (another tab); the page, shown again, lists what is left.
        Ok(Unlinked::Removed | Unlinked::NotLinked) => see_other(&Done::Identity(provider.to_owned()).location()),
        Ok(Unlinked::LastWayIn) => {
            show(&req, &state, &cookie, &signed_in, StatusCode::CONFLICT, None, Some(last_way_in(&req, &state)), None)
                .await
        }
        Err(e) => error_page(&req, &e),
    }
}
