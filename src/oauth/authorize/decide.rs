//! What happens to a verified authorization request: sign in, consent, or a code now. Pure: the session,
//! the remembered consent and `now` come in as values.
use super::{AuthorizationRequest, AuthorizeError};
use crate::domain::{Client, Consent, Session, UnixTime, UserId};
use crate::oauth::acr::Level;
use crate::oauth::error::{ErrorCode, OAuthError};

/// What the user already did within this authorization request (so `prompt=login` and `prompt=consent`
/// are satisfied once, not forever).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Signed in during this request.
    pub logged_in: bool,
    /// Approved the consent page during this request.
    pub consented: bool,
    /// Whose steps these are: the user the request's last page was shown for.
    #[serde(default)]
    pub user: Option<UserId>,
}

impl Progress {
    /// The progress that counts for `session`'s user. Steps another user took (the browser signed in as someone
    /// else while the pages were open) do not count for them: their own consent is asked, and their own sign-in.
    pub fn for_session(&self, session: Option<&Session>) -> Progress {
        let user = session.map(|s| &s.user_id);
        if self.user.as_ref() == user {
            return self.clone();
        }
        Progress { user: user.cloned(), ..Progress::default() }
    }
}

/// The next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Show the login page.
    Login,
    /// Show the sign-up page (`prompt=create`).
    SignUp,
    /// Show the consent page.
    Consent,
    /// Issue a code for the session's user.
    Issue,
}

/// Whether a session that is signed in falls short of the authentication levels the request accepts
/// ([`crate::oauth::acr`]) and could be stepped up by signing in again during this request: the caller then looks
/// up whether its user has a second factor, for [`decide`], and only then.
pub fn may_step_up(req: &AuthorizationRequest, session: Option<&Session>, progress: &Progress) -> bool {
    !progress.logged_in && session.is_some_and(|s| !req.acr.accepts(Level::of_amr(&s.amr)))
}

/// Decides the next step. `consented` is what the user granted this client before, if anything;
/// `second_factor` whether the session's user has one (a TOTP secret or a passkey) to step up with, when
/// [`may_step_up`] says it matters (`false` otherwise).
pub fn decide(
    req: &AuthorizationRequest,
    client: &Client,
    session: Option<&Session>,
    consented: Option<&Consent>,
    progress: &Progress,
    second_factor: bool,
    now: UnixTime,
) -> Result<Next, AuthorizeError> {
    let session = session.filter(|s| s.is_active(now));
    // The client asks for a new account: the sign-up page even over a session (its user may sign up another), once.
    if req.prompt.create && !progress.logged_in {
        return Ok(Next::SignUp);
    }
    // The client's registered default_max_age stands in for a max_age the request does not send.
    let max_age = req.max_age.or(client.metadata.default_max_age);
    let needs_login = match session {
        None => true,
        Some(_) if progress.logged_in => false,
        Some(_) if req.prompt.login => true,
        // The client asks for the user of its ID token, and someone else is signed in.
        Some(s) if req.hinted_subject.as_deref().is_some_and(|sub| sub != s.user_id.as_str()) => true,
        // max_age=0 is prompt=login (OIDC Core §3.1.2.1), even for a sign-in made this very second.
        Some(s) => max_age.is_some_and(|max| max == 0 || now - s.auth_time > max),
    };
    if needs_login {
        if req.prompt.none {
            return Err(req.error(OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in")));
        }
        return Ok(Next::Login);
    }
    // Signed in during this request as someone else than the client's ID token names: not the user it asked for
    // (OIDC Core §3.1.2.1).
    if progress.logged_in
        && session.is_some_and(|s| req.hinted_subject.as_deref().is_some_and(|h| h != s.user_id.as_str()))
    {
        return Err(req.error(OAuthError::new(
            ErrorCode::LoginRequired,
            "the user signed in as someone else than the request names (id_token_hint or the sub claim's value)",
        )));
    }
    // A session below the levels the request accepts (a level 2 session satisfies a request for "1"): a user with
    // a second factor signs in again, which asks for it (the code step, or a passkey); one without, or one who
    // signed in again at the same level, goes on at that level unless the level was essential (OIDC Core
    // §5.5.1.1; acr_values are voluntary, §3.1.2.1).
    if session.is_some_and(|s| !req.acr.accepts(Level::of_amr(&s.amr))) {
        if progress.logged_in || !second_factor {
            if req.acr.essential {
                return Err(req.error(OAuthError::new(
                    ErrorCode::UnmetAuthenticationRequirements,
                    "the user cannot sign in at an authentication level (acr) the request requires",
                )));
            }
        } else if req.prompt.none {
            return Err(req.error(OAuthError::new(
                ErrorCode::LoginRequired,
                "the request asks for a stronger sign-in (acr) than the user's session",
            )));
        } else {
            return Ok(Next::Login);
        }
    }
    // Claims asked for by name (`claims`) are disclosed too: a remembered consent must cover them as well.
    let covered = consented.is_some_and(|c| c.covers(&req.scope, &req.claims.names()));
    // A first-party client is not asked about, unless it asks itself (prompt=consent, OIDC Core §3.1.2.1).
    let needs_consent = !progress.consented && (req.prompt.consent || (!client.first_party && !covered));
    if needs_consent {
        if req.prompt.none {
            return Err(req.error(OAuthError::new(ErrorCode::ConsentRequired, "the user has not approved this client")));
        }
        return Ok(Next::Consent);
    }
    Ok(Next::Issue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ApplicationType, ClaimNames, ClientAuthMethod, ClientId, ClientMetadata, GrantType, RedirectUri, Scope, UserId,
    };
    use crate::oauth::authorize::{test_request as req, Prompt};

    const NOW: UnixTime = 1_000_000;

    fn client(first_party: bool) -> Client {
        Client {
            id: ClientId::parse("c").unwrap(),
            name: "c".into(),
            secret_hash: None,
            previous_secret: None,
            auth_method: ClientAuthMethod::None,
            application_type: ApplicationType::Web,
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scope: Scope::parse("openid profile").unwrap(),
            resources: vec![],
            first_party,
            admin: false,
            require_pkce: true,
            access_token_ttl: None,
            metadata: ClientMetadata::default(),
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            revision: 0,
        }
    }

    fn consent_to(scope: &str) -> Consent {
        Consent { scope: Scope::parse(scope).unwrap(), ..Consent::default() }
    }

    fn session(auth_time: UnixTime) -> Session {
        Session {
            id_hash: "h".into(),
            user_id: UserId::parse("u").unwrap(),
            auth_time,
            amr: vec!["pwd".into()],
            created_at: auth_time,
            last_used_at: auth_time,
            expires_at: NOW + 3600,
            revoked: false,
            device: Default::default(),
        }
    }

    fn code(e: AuthorizeError) -> ErrorCode {
        match e {
            AuthorizeError::Redirect(r) => r.error.code,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn table() {
        let granted = consent_to("openid profile email");
        let none = Prompt { none: true, ..Prompt::default() };
        let login = Prompt { login: true, ..Prompt::default() };
        let consent = Prompt { consent: true, ..Prompt::default() };
        let s = session(NOW - 100);
        let c = client(false);
        let p0 = Progress::default();
        let d = |r: &AuthorizationRequest, s: Option<&Session>, g: Option<&Consent>, p: &Progress| {
            decide(r, &c, s, g, p, false, NOW)
        };

        assert_eq!(d(&req(Prompt::default(), None), None, None, &p0), Ok(Next::Login));
        assert_eq!(code(d(&req(none, None), None, None, &p0).unwrap_err()), ErrorCode::LoginRequired);
        assert_eq!(d(&req(Prompt::default(), None), Some(&s), None, &p0), Ok(Next::Consent));
        assert_eq!(code(d(&req(none, None), Some(&s), None, &p0).unwrap_err()), ErrorCode::ConsentRequired);
        assert_eq!(d(&req(Prompt::default(), None), Some(&s), Some(&granted), &p0), Ok(Next::Issue));
        assert_eq!(d(&req(none, None), Some(&s), Some(&granted), &p0), Ok(Next::Issue));
        // Narrower earlier consent does not cover a wider request.
        let narrow = consent_to("openid");
        assert_eq!(d(&req(Prompt::default(), None), Some(&s), Some(&narrow), &p0), Ok(Next::Consent));
        // prompt=login forces a login once, then proceeds.
        assert_eq!(d(&req(login, None), Some(&s), Some(&granted), &p0), Ok(Next::Login));
        let logged = Progress { logged_in: true, ..Progress::default() };
        assert_eq!(d(&req(login, None), Some(&s), Some(&granted), &logged), Ok(Next::Issue));
        // prompt=consent asks once.
        assert_eq!(d(&req(consent, None), Some(&s), Some(&granted), &p0), Ok(Next::Consent));
        let agreed = Progress { consented: true, ..Progress::default() };
        assert_eq!(d(&req(consent, None), Some(&s), Some(&granted), &agreed), Ok(Next::Issue));
        // max_age older than the authentication: log in again.
        assert_eq!(d(&req(Prompt::default(), Some(50)), Some(&s), Some(&granted), &p0), Ok(Next::Login));
        assert_eq!(d(&req(Prompt::default(), Some(500)), Some(&s), Some(&granted), &p0), Ok(Next::Issue));
        // Revoked or expired sessions count as none.
        let mut revoked = session(NOW - 100);
        revoked.revoked = true;
        assert_eq!(d(&req(Prompt::default(), None), Some(&revoked), Some(&granted), &p0), Ok(Next::Login));
    }

    #[test]
    fn steps_taken_by_another_user_do_not_count() {
        let alice = session(NOW - 10);
        let bob = Session { user_id: UserId::parse("bob").unwrap(), ..session(NOW - 10) };
        let alices = Progress { logged_in: true, consented: true, user: Some(alice.user_id.clone()) };
        assert_eq!(alices.for_session(Some(&alice)), alices);
        let for_bob = alices.for_session(Some(&bob));
        assert_eq!(for_bob, Progress { user: Some(bob.user_id.clone()), ..Progress::default() });
        assert_eq!(alices.for_session(None), Progress::default());
        // Alice consented with prompt=consent, then signed out and bob signed in: bob is asked himself.
        let (c, asked) = (client(false), req(Prompt { consent: true, ..Prompt::default() }, None));
        assert_eq!(decide(&asked, &c, Some(&bob), None, &for_bob, false, NOW), Ok(Next::Consent));
        assert_eq!(decide(&asked, &c, Some(&alice), None, &alices, false, NOW), Ok(Next::Issue));
    }

    #[test]
    fn prompt_create_shows_the_sign_up_page_once_even_over_a_session() {
        let granted = consent_to("openid profile email");
        let create = Prompt { create: true, ..Prompt::default() };
        let (s, c) = (session(NOW - 100), client(false));
        let d = |s: Option<&Session>, p: &Progress| decide(&req(create, None), &c, s, Some(&granted), p, false, NOW);
        assert_eq!(d(None, &Progress::default()), Ok(Next::SignUp));
        assert_eq!(d(Some(&s), &Progress::default()), Ok(Next::SignUp));
        // Signed up (or in) during this request: on to consent or the code.
        assert_eq!(d(Some(&s), &Progress { logged_in: true, ..Progress::default() }), Ok(Next::Issue));
    }

    #[test]
    fn an_id_token_hint_for_someone_else_signs_in_again() {
        let granted = consent_to("openid profile");
        let c = client(false);
        let s = session(NOW - 100);
        let hinted =
            |sub: &str, prompt: Prompt| AuthorizationRequest { hinted_subject: Some(sub.into()), ..req(prompt, None) };
        let d = |r: &AuthorizationRequest, p: &Progress| decide(r, &c, Some(&s), Some(&granted), p, false, NOW);
        assert_eq!(d(&hinted("u", Prompt::default()), &Progress::default()), Ok(Next::Issue));
        assert_eq!(d(&hinted("someone-else", Prompt::default()), &Progress::default()), Ok(Next::Login));
        let none = Prompt { none: true, ..Prompt::default() };
        assert_eq!(code(d(&hinted("someone-else", none), &Progress::default()).unwrap_err()), ErrorCode::LoginRequired);
        // Signing in during the request as someone else still is not the user the client asked for.
        let logged = Progress { logged_in: true, ..Progress::default() };
        assert_eq!(code(d(&hinted("someone-else", Prompt::default()), &logged).unwrap_err()), ErrorCode::LoginRequired);
        assert_eq!(d(&hinted("u", Prompt::default()), &logged), Ok(Next::Issue));
    }

    #[test]
    fn max_age_zero_always_signs_in_again() {
        let granted = consent_to("openid profile");
        let c = client(false);
        let s = session(NOW);
        let r = req(Prompt::default(), Some(0));
        assert_eq!(decide(&r, &c, Some(&s), Some(&granted), &Progress::default(), false, NOW), Ok(Next::Login));
        let logged = Progress { logged_in: true, ..Progress::default() };
        assert_eq!(decide(&r, &c, Some(&s), Some(&granted), &logged, false, NOW), Ok(Next::Issue));
        let none = req(Prompt { none: true, ..Prompt::default() }, Some(0));
        let e = decide(&none, &c, Some(&s), Some(&granted), &Progress::default(), false, NOW).unwrap_err();
        assert_eq!(code(e), ErrorCode::LoginRequired);
    }

    #[test]
    fn a_registered_default_max_age_applies_when_the_request_sends_none() {
        let granted = consent_to("openid profile");
        let mut c = client(false);
        c.metadata.default_max_age = Some(60);
        let d = |r: &AuthorizationRequest, auth_time| {
            decide(r, &c, Some(&session(auth_time)), Some(&granted), &Progress::default(), false, NOW)
        };
        assert_eq!(d(&req(Prompt::default(), None), NOW - 60), Ok(Next::Issue));
        assert_eq!(d(&req(Prompt::default(), None), NOW - 61), Ok(Next::Login));
        // The request's own max_age overrides it (OIDC Core §3.1.2.1), either way.
        assert_eq!(d(&req(Prompt::default(), Some(3600)), NOW - 61), Ok(Next::Issue));
        assert_eq!(d(&req(Prompt::default(), Some(10)), NOW - 30), Ok(Next::Login));
        let none = req(Prompt { none: true, ..Prompt::default() }, None);
        assert_eq!(code(d(&none, NOW - 61).unwrap_err()), ErrorCode::LoginRequired);
    }

    #[test]
    fn first_party_clients_skip_consent_unless_they_ask_for_it() {
        let s = session(NOW - 10);
        let c = client(true);
        assert_eq!(
            decide(&req(Prompt::default(), None), &c, Some(&s), None, &Progress::default(), false, NOW),
            Ok(Next::Issue)
        );
        let asked = req(Prompt { consent: true, ..Prompt::default() }, None);
        assert_eq!(decide(&asked, &c, Some(&s), None, &Progress::default(), false, NOW), Ok(Next::Consent));
        let consented = Progress { consented: true, ..Progress::default() };
        assert_eq!(decide(&asked, &c, Some(&s), None, &consented, false, NOW), Ok(Next::Issue));
    }

    #[test]
    fn a_remembered_consent_must_cover_the_claims_asked_for_by_name() {
        let (s, c) = (session(NOW - 10), client(false));
        let mut r = req(Prompt::default(), None);
        r.claims = crate::oauth::claims::ClaimsRequest::parse(r#"{"id_token":{"email":null}}"#).unwrap();
        let d = |g: &Consent| decide(&r, &c, Some(&s), Some(g), &Progress::default(), false, NOW);
        assert_eq!(d(&consent_to("openid profile")), Ok(Next::Consent), "email was never granted");
        assert_eq!(d(&consent_to("openid profile email")), Ok(Next::Issue), "the email scope released it");
        let by_name = Consent { claims: ClaimNames::parse("email").unwrap(), ..consent_to("openid profile") };
        assert_eq!(d(&by_name), Ok(Next::Issue), "granted by name");
        let none = AuthorizationRequest { prompt: Prompt { none: true, ..Prompt::default() }, ..r.clone() };
        let e = decide(&none, &c, Some(&s), Some(&consent_to("openid profile")), &Progress::default(), false, NOW)
            .unwrap_err();
        assert_eq!(code(e), ErrorCode::ConsentRequired);
    }

    #[test]
    fn a_session_below_the_level_asked_for_steps_up_or_goes_on_as_asked() {
        use crate::oauth::acr::AcrRequest;
        let granted = consent_to("openid profile");
        let c = client(false);
        let pwd = session(NOW - 10);
        let two = Session { amr: vec!["pwd".into(), "otp".into()], ..session(NOW - 10) };
        let passkey = Session { amr: vec!["pop".into(), "mfa".into()], ..session(NOW - 10) };
        let asking = |values: &[&str], essential: bool, prompt: Prompt| AuthorizationRequest {
            acr: AcrRequest { essential, ..AcrRequest::voluntary(values.iter().copied()) },
            ..req(prompt, None)
        };
        let logged = Progress { logged_in: true, ..Progress::default() };
        let d = |r: &AuthorizationRequest, s: &Session, p: &Progress, second: bool| {
            decide(r, &c, Some(s), Some(&granted), p, second, NOW)
        };
        let voluntary = asking(&["2"], false, Prompt::default());
        let essential = asking(&["2"], true, Prompt::default());
        // Level 2 satisfies "2" and "1"; level 1 satisfies "1" only.
        for s in [&two, &passkey] {
            assert_eq!(d(&essential, s, &Progress::default(), true), Ok(Next::Issue));
            assert!(!may_step_up(&essential, Some(s), &Progress::default()));
        }
        assert_eq!(d(&asking(&["1"], true, Prompt::default()), &two, &Progress::default(), true), Ok(Next::Issue));
        assert_eq!(d(&asking(&["1"], true, Prompt::default()), &pwd, &Progress::default(), true), Ok(Next::Issue));
        // A user with a second factor signs in again, over the session, once.
        assert!(may_step_up(&voluntary, Some(&pwd), &Progress::default()));
        assert!(!may_step_up(&voluntary, Some(&pwd), &logged));
        assert_eq!(d(&voluntary, &pwd, &Progress::default(), true), Ok(Next::Login));
        assert_eq!(d(&essential, &pwd, &Progress::default(), true), Ok(Next::Login));
        assert_eq!(d(&asking(&["2", "1"], true, Prompt::default()), &pwd, &Progress::default(), true), Ok(Next::Issue));
        // Still short after signing in again: voluntary goes on at the level reached, essential is unmet.
        assert_eq!(d(&voluntary, &pwd, &logged, true), Ok(Next::Issue));
        assert_eq!(code(d(&essential, &pwd, &logged, true).unwrap_err()), ErrorCode::UnmetAuthenticationRequirements);
        // Without a second factor there is nothing to step up with.
        assert_eq!(d(&voluntary, &pwd, &Progress::default(), false), Ok(Next::Issue));
        let unmet = d(&essential, &pwd, &Progress::default(), false).unwrap_err();
        assert_eq!(code(unmet), ErrorCode::UnmetAuthenticationRequirements);
        // prompt=none cannot show the sign-in a step-up needs.
        let none = Prompt { none: true, ..Prompt::default() };
        assert_eq!(
            code(d(&asking(&["2"], false, none), &pwd, &Progress::default(), true).unwrap_err()),
            ErrorCode::LoginRequired
        );
        assert_eq!(d(&asking(&["2"], false, none), &pwd, &Progress::default(), false), Ok(Next::Issue));
        // No session: the sign-in page, as without acr.
        assert_eq!(decide(&essential, &c, None, None, &Progress::default(), false, NOW), Ok(Next::Login));
    }
}
