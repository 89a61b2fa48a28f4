//! A pending authorization request while the user signs in and consents: kept in the cache under a random
//! id, bound to the browser that started it (a cookie) and to a CSRF token for its forms.
use super::audit::{EventFacts, RequestMeta};
use super::authorize::{self, AuthorizationRequest, AuthorizeError, ErrorRedirect, Next, Progress, ResponseMode};
use super::cache_keys;
use super::error::{ErrorCode, OAuthError};
use super::limits::Limited;
use super::par;
use super::params::Params;
use super::provider::Provider;
use super::request_object;
use super::session::SignedIn;
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::{Client, ClientState, Consent, GrantType, RedirectUri, Session, UnixTime};
use crate::i18n::Locale;
use crate::storage::StoreError;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long the user has to finish signing in and consenting.
pub const INTERACTION_TTL: i64 = 30 * 60;
/// When the cache holds all the pending sign-ins it may, how long to wait: others finish or expire meanwhile.
pub const FULL_RETRY_AFTER: i64 = 60;

/// Where a sign-in continues once the user is authenticated, kept while a second step (a TOTP code) or an
/// upstream provider (federation) is waited for: the same fixed targets as the sign-in form's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Continuation {
    /// The pending authorization with this interaction id.
    Authorize(String),
    /// The account page.
    Account,
    /// The device verification page, with this user code (its normal form).
    Device(String),
}

/// A pending request. Its `Debug` leaves out the CSRF token and the browser binding.
#[derive(Clone, Serialize, Deserialize)]
pub struct Interaction {
    /// The verified request.
    pub request: AuthorizationRequest,
    /// The CSRF token its forms must carry.
    pub csrf: String,
    /// Hash of the browser-binding cookie.
    pub browser: String,
    /// What the user already did.
    pub progress: Progress,
    /// When it started.
    pub created_at: UnixTime,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("request", &self.request)
            .field("progress", &self.progress)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An authorization response: code or error, to deliver by redirect or form post. Its `Debug` names the
/// parameters but never shows their values (one is the code).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// The client's verified redirect URI.
    pub redirect_uri: RedirectUri,
    /// How to deliver.
    pub mode: ResponseMode,
    /// The parameters (`code` or `error`…, `state`, `iss`).
    pub params: Vec<(String, String)>,
    /// The language the request asked its pages in (`ui_locales`), for a form post's page.
    pub ui_locale: Option<Locale>,
}

impl std::fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AuthorizationResponse")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .field("params", &names)
            .finish()
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Login(id) => write!(f, "Login({id})"),
            Self::SignUp(id) => write!(f, "SignUp({id})"),
            Self::Consent(id) => write!(f, "Consent({id})"),
            Self::Respond(r) => write!(f, "Respond({})", r.redirect_uri),
        }
    }
}

/// Where the browser goes next.
pub enum Step {
    /// The login page for this interaction id.
    Login(String),
    /// The sign-up page for this interaction id (`prompt=create`).
    SignUp(String),
    /// The consent page for this interaction id.
    Consent(String),
    /// Back to the client.
    Respond(AuthorizationResponse),
}

/// The id of an interaction being advanced, and whether it is in the cache yet.
enum Pending {
    /// Just started at the authorization endpoint by the client IP (if known): stored only if a page is to be
    /// shown, and then counted against that IP's limit.
    New(String, Option<IpAddr>),
    /// Stored while the user signs in or consents: taken before a code is issued for it.
    Stored(String),
    /// Taken by this request already ([`Provider::take_interaction`]).
    Taken(String),
}

/// What an interaction's cache entry holds once a request has taken it, until it would have expired.
const TAKEN: &[u8] = b"taken";

/// The refusal of a request whose interaction another request completed (or is completing) already.
pub fn completed_already() -> OAuthError {
    OAuthError::invalid_request("this sign-in request was completed already")
}

impl Provider {
    /// The authorization endpoint: validates, then logs in, asks consent, or answers at once.
    /// `browser` is the browser-binding cookie value (the HTTP layer sets one when absent); `ip` the client IP
    /// the limits count.
    pub async fn authorize(
        &self,
        params: Params,
        session_cookie: Option<&str>,
        browser: &str,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<Step, AuthorizeError> {
        // A pushed request's parameters replace the query's (RFC 9126 §4), and so do a request object's verified
        // claims (RFC 9101 §6.3): nothing outside them counts but `client_id`.
        let pushed = params.get("request_uri").map(str::to_owned);
        let object = params.get("request").map(str::to_owned);
        let (params, signed) = match (&pushed, &object) {
            (Some(_), Some(_)) => {
                return Err(AuthorizeError::Page(OAuthError::invalid_request("send request or request_uri, not both")))
            }
            (Some(request_uri), None) => self.pushed_params(&params, request_uri).await?,
            (None, Some(object)) => (self.authorization_request_object(&params, object, now).await?, true),
            (None, None) => (params, false),
        };
        let hint = params.get("id_token_hint").map(str::to_owned);
        // The cached view, as for client authentication: this is the hot path of every sign-in.
        let (mut request, client) =
            authorize::validate(params, self.auth_clients.as_ref(), self.self_registration).await?;
        if pushed.is_none() && par::push_required(&client.metadata, self.par.required) {
            let refusal = "this client must push its authorization requests (PAR, RFC 9126) and send the request_uri";
            return Err(request.error(OAuthError::invalid_request(refusal)));
        }
        if !signed && request_object::required(&client) {
            return Err(request.error(request_object::unsigned_refusal()));
        }
        if let Some(hint) = hint {
            let hinted = self.hinted_subject(&hint, &client).map_err(|e| request.error(e))?;
            // The `claims` parameter's `sub` value, if any, must name the same user (OIDC Core §5.5.1).
            if hinted.is_some() && request.hinted_subject.is_some() && hinted != request.hinted_subject {
                let conflict = "id_token_hint and the sub claim's value name different users";
                return Err(request.error(OAuthError::new(ErrorCode::LoginRequired, conflict)));
            }
            request.hinted_subject = hinted.or(request.hinted_subject.take());
        }
        let signed_in = match session_cookie {
            Some(c) => self.session_for_client(c, &client.id, now).await.map_err(|e| request.error(e))?,
            None => None,
        };
        let interaction = Interaction {
            request,
            csrf: random_token(32),
            browser: SecretHash::of(browser).as_str().to_owned(),
            progress: Progress::default(),
            created_at: now,
        };
        self.advance(Pending::New(random_token(32), ip), interaction, &client, signed_in.as_ref(), now).await
    }

    /// The user an `id_token_hint` names: an ID token this server issued to `client`, expired or not. One
    /// signed by a key no longer in the ring (it left after a rotation, as a silent renew's old ID token's
    /// may have) names no user we can tell and is ignored, as logout does. Anything else that does not verify
    /// (garbage, a forged or tampered token, `alg: none`) is refused, as Hydra does.
    fn hinted_subject(&self, hint: &str, client: &Client) -> Result<Option<String>, OAuthError> {
        match self.id_token_hint(hint) {
            Some((aud, hint)) if aud == client.id.as_str() => Ok(Some(hint.subject)),
            Some(_) => Err(OAuthError::invalid_request("id_token_hint was issued to another client")),
            None if self.keys.snapshot().unknown_kid(hint).is_some() => Ok(None),
            None => Err(OAuthError::invalid_request("id_token_hint is not an ID token issued here")),
        }
    }

    /// Decides the next step for an interaction and stores it when a page is to be shown.
    async fn advance(
        &self,
        pending: Pending,
        mut interaction: Interaction,
        client: &Client,
        signed_in: Option<&SignedIn>,
        now: UnixTime,
    ) -> Result<Step, AuthorizeError> {
        let session = signed_in.map(|s| &s.session);
        interaction.progress = interaction.progress.for_session(session);
        // A pairwise client's id_token_hint (or `sub` value) names the user by the client's subject: when that is
        // the session user's, the hint names them. Any other value names nobody (the empty id), even a user's own id:
        // a client that may not know ids must not test guesses against the session (`prompt=none`).
        let mapped;
        let req = match (&interaction.request.hinted_subject, session, client.sector()) {
            (Some(hinted), Some(s), Some(sector)) => {
                let named = *hinted == self.subjects.pairwise(&sector, &s.user_id);
                let hinted_subject = Some(if named { s.user_id.as_str().to_owned() } else { String::new() });
                mapped = AuthorizationRequest { hinted_subject, ..interaction.request.clone() };
                &mapped
            }
            _ => &interaction.request,
        };
        let consented = signed_in.and_then(|s| s.consent.as_ref());
        // Looked up only for a session short of the levels the request accepts: no cost to any other request.
        let second_factor = match session {
            Some(s) if authorize::decide::may_step_up(req, session, &interaction.progress) => {
                self.has_second_factor(&s.user_id).await.map_err(|e| req.error(e))?
            }
            _ => false,
        };
        match authorize::decide(req, client, session, consented, &interaction.progress, second_factor, now)? {
            Next::Issue => {
                let signed_in = signed_in.ok_or_else(|| req.error(OAuthError::server("issue without a session")))?;
                if let Pending::Stored(id) = &pending {
                    if !self.take_interaction(id).await.map_err(|e| req.error(e))? {
                        return Err(AuthorizeError::Page(completed_already()));
                    }
                }
                let code = self.issue_code(req, &signed_in.session, now).await.map_err(|e| req.error(e))?;
                // Answered from the session: the browser used it (single sign-on, or the last step after sign-in
                // or consent, whose session was read again just before and is seldom stale).
                self.record_session_use(&signed_in.session, now).await;
                let mut params = vec![("code".to_owned(), code.expose().to_owned())];
                self.finish_params(&mut params, req.state.as_ref());
                Ok(Step::Respond(AuthorizationResponse {
                    redirect_uri: req.redirect_uri.clone(),
                    mode: req.response_mode,
                    params,
                    ui_locale: req.ui_locale,
                }))
            }
            next => {
                let id = match pending {
                    Pending::New(id, ip) => {
                        self.limits.check_new_sign_in(ip, now).await.map_err(AuthorizeError::TooManySignIns)?;
                        id
                    }
                    Pending::Stored(id) | Pending::Taken(id) => id,
                };
                let bytes = serde_json::to_vec(&interaction).map_err(|e| req.error(OAuthError::server(e)))?;
                let ttl = Duration::from_secs(INTERACTION_TTL as u64);
                let stored = self.cache.set_within_budget(&cache_keys::interaction(&id), &bytes, ttl).await;
                if !stored.map_err(|e| req.error(e.into()))? {
                    return Err(AuthorizeError::SignInsFull(Limited { retry_after: FULL_RETRY_AFTER }));
                }
                Ok(match next {
                    Next::Login => Step::Login(id),
                    Next::SignUp => Step::SignUp(id),
                    _ => Step::Consent(id),
                })
            }
        }
    }

    fn finish_params(&self, params: &mut Vec<(String, String)>, state: Option<&ClientState>) {
        if let Some(s) = state {
            params.push(("state".into(), s.as_str().to_owned()));
        }
        // RFC 9207: tells the client which server answered (mix-up defence).
        params.push(("iss".into(), self.issuer.clone()));
    }

    /// The response that carries an authorization error to the client.
    pub fn error_response(&self, e: &ErrorRedirect) -> AuthorizationResponse {
        let mut params = vec![
            ("error".to_owned(), e.error.code.as_str().to_owned()),
            ("error_description".to_owned(), e.error.client_description()),
        ];
        self.finish_params(&mut params, e.state.as_ref());
        AuthorizationResponse { redirect_uri: e.redirect_uri.clone(), mode: e.response_mode, params, ui_locale: None }
    }

    /// Loads an interaction started by this browser; `None` when unknown, expired, or started elsewhere, and
    /// [`completed_already`] once a form has answered it (a page reloaded after its answer says so).
    pub async fn load_interaction(&self, id: &str, browser: &str) -> Result<Option<Interaction>, OAuthError> {
        if id.len() > 64 {
            return Ok(None);
        }
        let Some(bytes) = self.cache.get(&cache_keys::interaction(id)).await? else { return Ok(None) };
        if bytes == TAKEN {
            return Err(completed_already());
        }
        let interaction: Interaction = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;
        let same_browser: bool =
            SecretHash::of(browser).as_str().as_bytes().ct_eq(interaction.browser.as_bytes()).into();
        Ok(same_browser.then_some(interaction))
    }

    /// Stores `interaction` again under `id` with its new language (`request.ui_locale`, which the user chose on a
    /// page), as every step of it stores it (for [`INTERACTION_TTL`] more), unless another request took it
    /// meanwhile: a completed sign-in stays completed.
    pub async fn keep_interaction_locale(&self, id: &str, interaction: &Interaction) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(interaction).map_err(OAuthError::server)?;
        let key = cache_keys::interaction(id);
        let ttl = Duration::from_secs(INTERACTION_TTL as u64);
        if self.cache.replace(&key, &bytes, ttl).await?.as_deref() == Some(TAKEN) {
            self.cache.set(&key, TAKEN, ttl).await?;
        }
        Ok(())
    }

    /// Takes the interaction `id` for this request: `false` when another request took it first (a form sent
    /// twice at once), so that one authorization request ends in one code or one refusal, never several.
    pub async fn take_interaction(&self, id: &str) -> Result<bool, OAuthError> {
        let ttl = Duration::from_secs(INTERACTION_TTL as u64);
        let previous = self.cache.replace(&cache_keys::interaction(id), TAKEN, ttl).await?;
        Ok(previous.is_some_and(|p| p != TAKEN))
    }

    /// Whether a form's CSRF token is the interaction's.
    pub fn csrf_matches(interaction: &Interaction, presented: &str) -> bool {
        interaction.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// The client of an interaction, as registered now: it may have been deleted, or its registration changed
    /// so that it no longer allows the request, while the pages were open.
    pub async fn interaction_client(&self, interaction: &Interaction) -> Result<Client, AuthorizeError> {
        let client = self
            .clients
            .client(&interaction.request.client_id)
            .await
            .map_err(|e| AuthorizeError::Page(e.into()))?
            .ok_or_else(|| AuthorizeError::Page(OAuthError::invalid_client("the client no longer exists")))?;
        still_allowed(&interaction.request, &client)?;
        Ok(client)
    }

    /// After a successful login: continue with the new session.
    pub async fn after_login(
        &self,
        id: String,
        mut interaction: Interaction,
        session: &Session,
        now: UnixTime,
    ) -> Result<Step, AuthorizeError> {
        // Whatever someone else did on these pages (consented, say) is not this user's doing.
        interaction.progress = interaction.progress.for_session(Some(session));
        interaction.progress.logged_in = true;
        let client = self.interaction_client(&interaction).await?;
        let signed_in = self.reload_session(&interaction.request, session, &client, now).await?;
        self.advance(Pending::Stored(id), interaction, &client, signed_in.as_ref(), now).await
    }

    /// The consent page's answer, for an interaction the caller has taken ([`Provider::take_interaction`]).
    /// Approval is remembered (added to what the user granted before); the answer that counts is audited.
    pub async fn after_consent(
        &self,
        id: String,
        mut interaction: Interaction,
        session: &Session,
        approved: bool,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Step, AuthorizeError> {
        let req = interaction.request.clone();
        let facts = || EventFacts {
            actor: Some(session.user_id.as_str().to_owned()),
            user_id: Some(session.user_id.as_str().to_owned()),
            client_id: Some(req.client_id.as_str().to_owned()),
            details: serde_json::json!({ "scope": req.scope.to_string() }),
        };
        // A refusal goes back to the client only by a redirect URI that is still registered, as a code does.
        let client = self.interaction_client(&interaction).await?;
        if !approved {
            self.audit("consent_denied", facts(), meta, now).await;
            return Err(req.error(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request")));
        }
        // Read before the grant is stored: a session that no longer counts (its user disabled meanwhile)
        // grants nothing and is sent to sign in. Nor does the answer of a page shown for another user (the
        // browser signed in as someone else meanwhile): this user gets a page of their own.
        let signed_in = self.reload_session(&req, session, &client, now).await?;
        let shown_to_this_user = interaction.progress.user.as_ref() == Some(&session.user_id);
        if signed_in.is_some() && shown_to_this_user {
            let granted = Consent { scope: req.scope.clone(), claims: req.claims.names() };
            let granting = self.consents.grant_consent(&session.user_id, &client.id, &granted, now).await;
            granting.map_err(|e| match e {
                // Removed while the consent page was open (a cached copy still answered for it).
                StoreError::ReferenceGone(_) => {
                    req.error(OAuthError::new(ErrorCode::UnauthorizedClient, "the client is no longer registered"))
                }
                other => req.error(other.into()),
            })?;
            self.audit("consent_granted", facts(), meta, now).await;
            interaction.progress.consented = true;
        }
        self.advance(Pending::Taken(id), interaction, &client, signed_in.as_ref(), now).await
    }

    /// `session` as the store has it now, with its user and their consent for `client`, if it still counts
    /// as signed in.
    async fn reload_session(
        &self,
        req: &AuthorizationRequest,
        session: &Session,
        client: &Client,
        now: UnixTime,
    ) -> Result<Option<SignedIn>, AuthorizeError> {
        let found = self.sessions.session_for_client(&session.id_hash, &client.id).await;
        Ok(found
            .map_err(|e| req.error(e.into()))?
            .and_then(|s| SignedIn::from_context(s, now, self.session_idle_timeout)))
    }
}

/// What `/authorize` checked against the client's registration, checked again against the registration as it
/// is now (an interaction lives up to [`INTERACTION_TTL`]).
fn still_allowed(req: &AuthorizationRequest, client: &Client) -> Result<(), AuthorizeError> {
    if !client.redirect_uris.iter().any(|r| r.accepts(&req.redirect_uri)) {
        // A URI removed from the registration may have been removed for being unsafe: never redirect there.
        return Err(AuthorizeError::Page(OAuthError::invalid_request(
            "the redirect URI is no longer registered for this client",
        )));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        let e =
            OAuthError::new(ErrorCode::UnauthorizedClient, "this client may no longer use the authorization code flow");
        return Err(req.error(e));
    }
    if !req.scope.is_subset_of(&client.scope) {
        let withdrawn: Vec<&str> = req.scope.iter().filter(|s| !client.scope.contains(s)).collect();
        let e = OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope no longer allowed for this client: {}", withdrawn.join(" ")),
        );
        return Err(req.error(e));
    }
    if req.resource.as_ref().is_some_and(|r| !client.resources.contains(r)) {
        let e = OAuthError::new(ErrorCode::InvalidTarget, "this client may no longer request that resource");
        return Err(req.error(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RedirectUri;
    use crate::oauth::pkce::CodeChallenge;

    #[test]
    fn debug_never_shows_the_code() {
        let r = AuthorizationResponse {
            redirect_uri: RedirectUri::parse("https://app.example/cb").unwrap(),
            mode: ResponseMode::Query,
            params: vec![("code".into(), "SECRET-CODE".into()), ("state".into(), "s".into())],
            ui_locale: None,
        };
        let shown = format!("{r:?} {:?}", Step::Respond(r.clone()));
        assert!(shown.contains("code") && !shown.contains("SECRET-CODE"), "{shown}");
    }

    fn pending(state: &str, nonce: &str, login_hint: Option<&str>) -> Vec<u8> {
        // The shared fixture, with the sizes of a real request: a generated client id, a longer redirect URI and
        // scope, and a nonce, PKCE challenge and login hint.
        let request = AuthorizationRequest {
            client_id: crate::domain::ClientId::generate(),
            redirect_uri: RedirectUri::parse("https://app.example.com/callback").unwrap(),
            state: Some(ClientState::parse(state).unwrap()),
            scope: crate::domain::Scope::parse("openid profile email offline_access").unwrap(),
            nonce: Some(nonce.to_owned()),
            code_challenge: Some(CodeChallenge::parse(&random_token(32), Some("S256")).unwrap()),
            login_hint: login_hint.map(str::to_owned),
            ..authorize::test_request(authorize::Prompt::default(), None)
        };
        let interaction = Interaction {
            request,
            csrf: random_token(32),
            browser: SecretHash::of(&random_token(32)).as_str().to_owned(),
            progress: Progress::default(),
            created_at: 1_700_000_000,
        };
        serde_json::to_vec(&interaction).unwrap()
    }

    /// What the default of `limits.pending_sign_ins_memory_kib` (and the reasoning of `authorize_ip_requests`) is
    /// sized on: a typical pending sign-in, and the largest one a registered redirect URI allows (a VSCHAR `state`
    /// of 8192 bytes that JSON escapes whole, the longest `nonce` and `login_hint` all control characters).
    #[test]
    fn the_size_of_a_pending_sign_in() {
        let typical = pending(&random_token(32), &random_token(32), None).len();
        assert!((600..700).contains(&typical), "{typical}");
        let largest = pending(&"\"".repeat(8192), &"\u{1}".repeat(512), Some(&"\u{1}".repeat(256))).len();
        assert!((21_000..22_000).contains(&largest), "{largest}");
    }
}
