//! Upstream "sign in with" federation: `POST /login/federation/{id}`, a button of the login page, sends the
//! browser to the upstream provider; `GET /login/federation/{id}/callback` is where it comes back. The button is
//! a form of the sign-in it belongs to (a pending authorization, or the sign-in that returns to the account page
//! or to the device verification page), checked as `/login` checks its form, and the callback continues to the
//! same place. The decisions are `oauth::federation`'s, the requests to the provider `crate::upstream`'s.
use super::authorize::step_response;
use super::interaction_pages::{cookies_blocked, expired};
use super::lang::Lang;
use super::login::{form_of, resumed, signed_in, target, Target};
use super::login_new_password::ask_for_new_password;
use super::meta::{device, request_meta};
use super::render::{error_page, message_page};
use super::{form, throttle, AppState};
use crate::config::UpstreamProvider;
use crate::domain::secret::SecretHash;
use crate::oauth::audit::EventFacts;
use crate::oauth::federation::{
    Continuation, Federated, FederationRefusal, Freshness, PendingFederation, UpstreamIdentity,
};
use crate::oauth::interaction::FULL_RETRY_AFTER;
use crate::oauth::limits::Limited;
use crate::oauth::session::Finished;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

fn unknown_provider(req: &HttpRequest) -> HttpResponse {
    let l = &Lang::of(req).t().login;
    message_page(req, StatusCode::NOT_FOUND, l.unknown_provider, l.unknown_provider_text)
}

/// `POST /login/federation/{id}`: the login page's "Sign in with …" button, a form of the pending authorization
/// (its CSRF token, from our origin). Sends the browser to the provider with a new `state`, `nonce` and PKCE
/// challenge, and the fresh sign-in the target asks for (`prompt=login`, `max_age`), kept until the callback.
#[tracing::instrument(name = "federated login", skip_all, fields(provider = %path.as_str()))]
pub async fn start(
    req: HttpRequest,
    path: web::Path<String>,
    body: form::Body,
    state: web::Data<AppState>,
) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let Some(upstream) = state.settings.federation.provider(&path) else { return unknown_provider(&req) };
    let target = match target(&req, &state, &f).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    // `target` found the interaction, or checked the CSRF token, through this cookie.
    let Some(browser) = state.cookies.read_browser(&req) else { return cookies_blocked(&req) };
    // Each button press keeps a pending sign-in, counted as `/authorize` counts them.
    if let Err(limited) =
        state.provider.limits.check_new_sign_in(throttle::ip(&req, &state), crate::domain::now()).await
    {
        return throttle::too_many_sign_ins(&req, &state, limited);
    }
    // A fresh sign-in asked here is asked of the upstream too, or its own session would answer it.
    let fresh = match &target {
        Target::Authorize(_, interaction) => match state.provider.freshness_of(interaction).await {
            Ok(fresh) => fresh,
            Err(e) => return step_response(&req, &state, Err(e)),
        },
        Target::Account { again: true } => Freshness::again(),
        Target::Account { again: false } | Target::Device(_) => Freshness::default(),
    };
    let started_at = crate::domain::now();
    let started = match state.upstreams.start(upstream, fresh).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(provider = %upstream.id, error = %e, "upstream provider unavailable");
            return unavailable(&req, &state, upstream, &target).await;
        }
    };
    let (interaction, returns_to) = match target.continuation() {
        Continuation::Authorize(id) => (id, None),
        elsewhere => (String::new(), Some(elsewhere)),
    };
    let pending = PendingFederation {
        provider_id: upstream.id.clone(),
        interaction,
        returns_to,
        browser: SecretHash::of(&browser).as_str().to_owned(),
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        fresh,
        started_at,
        names_itself: started.names_itself,
    };
    match state.provider.store_federation(&started.state, &pending).await {
        Ok(true) => {}
        Ok(false) => return throttle::sign_ins_full(&req, Limited { retry_after: FULL_RETRY_AFTER }),
        Err(e) => return error_page(&req, &e),
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, started.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The login form again, saying that the provider could not be reached.
async fn unavailable(
    req: &HttpRequest,
    state: &AppState,
    upstream: &UpstreamProvider,
    target: &Target,
) -> HttpResponse {
    let error = Lang::of(req).t().login.upstream_unavailable.with(&upstream.name);
    form_of(req, state, target, String::new(), StatusCode::BAD_GATEWAY, Some(error)).await
}

/// An upstream `error` code to show: only the plain codes of RFC 6749 §4.1.2.1 and extensions of that form.
fn shown_error(code: &str) -> Option<&str> {
    (code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then_some(code)
}

/// `GET /login/federation/{id}/callback`: the provider's answer. Takes the pending sign-in of its `state` (once,
/// and only in the browser that started it), then either shows the provider's refusal on the login form or
/// exchanges the code, checks that the provider signed the user in afresh if that was asked, maps the identity to
/// a local user and finishes the sign-in as a password does.
#[tracing::instrument(name = "federated login callback", skip_all, fields(provider = %path.as_str()))]
pub async fn callback(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let mut q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let Some(upstream) = state.settings.federation.provider(&path) else { return unknown_provider(&req) };
    let Some(browser) = state.cookies.read_browser(&req) else { return cookies_blocked(&req) };
    let pending = match state.provider.take_federation(q.get("state").unwrap_or_default(), &browser).await {
        Ok(Some(p)) if p.provider_id == upstream.id => p,
        Ok(_) => {
            tracing::warn!(event = "federation_state_mismatch", provider = %upstream.id, "callback without its pending sign-in");
            return expired(&req);
        }
        Err(e) => return error_page(&req, &e),
    };
    let mut target = match resumed(&req, &state, pending.continuation()).await {
        Ok(target) => target,
        Err(resp) => return resp,
    };
    // The form shown again, if it is, still signs in again.
    if let Target::Account { again } = &mut target {
        *again = pending.fresh.prompt_login;
    }
    let now = crate::domain::now();
    let meta = request_meta(&req, &state);
    let client_id = target.client_id();
    let failed = |reason: &str, extra: serde_json::Value, user_id: Option<String>| {
        let mut details = json!({ "reason": reason, "provider": upstream.id });
        if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), extra) {
            d.extend(extra);
        }
        EventFacts { actor: None, user_id, client_id: client_id.clone(), details }
    };
    if !pending.issuer_answers(&upstream.issuer, q.get("iss")) {
        state.provider.audit("login_failed", failed("upstream_issuer_mismatch", json!({}), None), &meta, now).await;
        return unavailable(&req, &state, upstream, &target).await;
    }
    if let Some(error) = q.get("error") {
        let code = shown_error(error);
        state
            .provider
            .audit("login_failed", failed("upstream_error", json!({ "error": code }), None), &meta, now)
            .await;
        let l = &Lang::of(&req).t().login;
        let message = match code {
            Some("access_denied") => l.upstream_cancelled.with(&upstream.name),
            Some(code) => l.upstream_failed_code.with(&upstream.name, code),
            None => l.upstream_failed.with(&upstream.name),
        };
        return form_of(&req, &state, &target, String::new(), StatusCode::OK, Some(message)).await;
    }
    let Some(code) = q.take("code") else { return expired(&req) };
    let (fresh, started_at) = (pending.fresh, pending.started_at);
    let identity = match state.upstreams.finish(upstream, code, pending.pkce_verifier, pending.nonce).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(provider = %upstream.id, error = %e, "federated sign-in failed at the provider");
            state.provider.audit("login_failed", failed("upstream_failed", json!({}), None), &meta, now).await;
            return unavailable(&req, &state, upstream, &target).await;
        }
    };
    if let Err(stale) = state.provider.upstream_fresh_enough(fresh, started_at, &identity, now) {
        tracing::warn!(provider = %upstream.id, reason = stale.as_str(), "the provider did not sign the user in again");
        state.provider.audit("login_failed", failed(stale.as_str(), json!({}), None), &meta, now).await;
        let message = Lang::of(&req).t().login.upstream_not_again.with(&upstream.name);
        return form_of(&req, &state, &target, String::new(), StatusCode::OK, Some(message)).await;
    }
    let user = match state.provider.federated_user(&identity, upstream.trust_email, now).await {
        Ok(Federated::User { user, created, linked }) => {
            record_changes(&state, &identity, &user, created, linked, &meta, now).await;
            user
        }
        Ok(Federated::Refused { user, refusal }) => {
            let user_id = user.map(|u| u.id.as_str().to_owned());
            state.provider.audit("login_failed", failed(refusal.as_str(), json!({}), user_id), &meta, now).await;
            let l = &Lang::of(&req).t().login;
            let message = match refusal {
                FederationRefusal::EmailInUse => l.email_in_use,
                FederationRefusal::Disabled => l.account_refused,
            };
            return form_of(&req, &state, &target, String::new(), StatusCode::OK, Some(message.into())).await;
        }
        Err(e) => return error_page(&req, &e),
    };
    let details = json!({ "provider": upstream.id, "upstream_amr": identity.amr });
    match state.provider.start_federated_session(&user, device(&req, &state), identity.auth_time, now).await {
        Ok(Some(Finished::Started { cookie, session })) => {
            signed_in(&req, &state, target, &user, cookie, session, details, now).await
        }
        Ok(Some(Finished::NewPasswordFirst { amr })) => {
            let kept = target.kept();
            let username = user.username.as_str().to_owned();
            ask_for_new_password(&req, &state, &user, &username, kept, (amr, details), now).await
        }
        Ok(None) => expired(&req),
        Err(e) => error_page(&req, &e),
    }
}

/// The audit events of a user created or an identity linked by a federated sign-in.
async fn record_changes(
    state: &AppState,
    identity: &UpstreamIdentity,
    user: &crate::domain::User,
    created: bool,
    linked: bool,
    meta: &crate::oauth::audit::RequestMeta,
    now: crate::domain::UnixTime,
) {
    let facts = || EventFacts {
        actor: Some(user.id.as_str().to_owned()),
        user_id: Some(user.id.as_str().to_owned()),
        client_id: None,
        details: json!({ "provider": identity.provider_id, "subject": identity.subject }),
    };
    if created {
        state.provider.audit("federation_user_created", facts(), meta, now).await;
    }
    if linked {
        state.provider.audit("federation_identity_linked", facts(), meta, now).await;
    }
}

#[cfg(test)]
mod tests {
    use super::shown_error;

    #[test]
    fn only_plain_error_codes_are_shown() {
        assert_eq!(shown_error("access_denied"), Some("access_denied"));
        assert_eq!(shown_error("temporarily_unavailable"), Some("temporarily_unavailable"));
        for other in ["<b>x</b>", "Access Denied", "a-b", &"x".repeat(65)] {
            assert_eq!(shown_error(other), None, "{other}");
        }
    }
}
