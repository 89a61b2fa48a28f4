//! A fresh sign-in at the upstream provider. When this server demands one (a client's `prompt=login` or
//! `max_age`, or the account page's "sign in again"), the upstream's own session must not answer it silently: the
//! upstream request carries `prompt=login` and the client's `max_age` (OIDC Core §3.1.2.1, as Keycloak's broker
//! passes them on), and the callback checks the ID token's `auth_time` against what was asked, since an upstream
//! may ignore `prompt`.
use super::super::authorize::AuthorizationRequest;
use crate::domain::UnixTime;
use serde::{Deserialize, Serialize};

/// What a federated sign-in asks of the upstream's authentication. The default asks nothing (no `auth_time`
/// demand), which is also what pending sign-ins kept before it existed hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// Send `prompt=login`: the user signs in again at the upstream.
    #[serde(default)]
    pub prompt_login: bool,
    /// Send this `max_age`: the upstream's sign-in may be no older.
    #[serde(default)]
    pub max_age: Option<i64>,
}

impl Freshness {
    /// Of the sign-in of an authorization `request` from a client whose registered `default_max_age` is this:
    /// its `prompt=login` (or `select_account`), and its `max_age` (the default standing in, as at `/authorize`).
    /// The `max_age` goes upstream whether or not this browser has a session: the sign-in it asks the age of is
    /// the upstream's, which a local session says nothing about.
    pub fn of_authorization(request: &AuthorizationRequest, default_max_age: Option<i64>) -> Self {
        Self { prompt_login: request.prompt.login, max_age: request.max_age.or(default_max_age) }
    }

    /// Of the account page's "sign in again" (`prompt=login`).
    pub fn again() -> Self {
        Self { prompt_login: true, max_age: None }
    }

    /// Checks the upstream ID token's `auth_time` against what was asked, for an upstream request started at
    /// `started_at`, now, with `leeway` seconds of clock skew. With `max_age`, `auth_time` is required (OIDC Core
    /// §2) and no older than `max_age`; with `prompt=login`, an `auth_time` given must not be before the request.
    pub fn check(
        &self,
        auth_time: Option<UnixTime>,
        started_at: UnixTime,
        now: UnixTime,
        leeway: i64,
    ) -> Result<(), NotSignedInAgain> {
        if let Some(max_age) = self.max_age {
            let at = auth_time.ok_or(NotSignedInAgain::NoAuthTime)?;
            if now.saturating_sub(at) > max_age.saturating_add(leeway) {
                return Err(NotSignedInAgain::TooOld);
            }
        }
        if self.prompt_login && auth_time.is_some_and(|at| at < started_at.saturating_sub(leeway)) {
            return Err(NotSignedInAgain::BeforeTheRequest);
        }
        Ok(())
    }
}

/// Why the upstream's answer is no fresh sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSignedInAgain {
    /// `max_age` was sent and the ID token has no `auth_time`.
    NoAuthTime,
    /// The upstream's sign-in is older than `max_age`.
    TooOld,
    /// `prompt=login` was sent and the upstream's sign-in is older than the request.
    BeforeTheRequest,
}

impl NotSignedInAgain {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAuthTime => "upstream_auth_time_missing",
            Self::TooOld => "upstream_auth_time_too_old",
            Self::BeforeTheRequest => "upstream_not_signed_in_again",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: UnixTime = 1_700_000_000;
    const LEEWAY: i64 = 30;

    fn check(fresh: Freshness, auth_time: Option<UnixTime>, now: UnixTime) -> Result<(), NotSignedInAgain> {
        fresh.check(auth_time, START, now, LEEWAY)
    }

    #[test]
    fn nothing_asked_checks_nothing() {
        let none = Freshness::default();
        for auth_time in [None, Some(0), Some(START - 86_400)] {
            assert_eq!(check(none, auth_time, START), Ok(()));
        }
    }

    #[test]
    fn prompt_login_refuses_a_sign_in_older_than_the_request() {
        let again = Freshness::again();
        assert_eq!(check(again, Some(START - 3600), START + 1), Err(NotSignedInAgain::BeforeTheRequest));
        assert_eq!(check(again, Some(START - LEEWAY - 1), START + 1), Err(NotSignedInAgain::BeforeTheRequest));
        // Within the leeway (the upstream's clock a little behind), or after the request: fresh.
        assert_eq!(check(again, Some(START - LEEWAY), START + 1), Ok(()));
        assert_eq!(check(again, Some(START + 60), START + 61), Ok(()));
        // Without max_age, auth_time is optional: an upstream that leaves it out is not refused.
        assert_eq!(check(again, None, START + 1), Ok(()));
    }

    #[test]
    fn max_age_requires_a_recent_enough_auth_time() {
        let aged = Freshness { prompt_login: false, max_age: Some(300) };
        assert_eq!(check(aged, None, START), Err(NotSignedInAgain::NoAuthTime));
        assert_eq!(check(aged, Some(START - 300 - LEEWAY - 1), START), Err(NotSignedInAgain::TooOld));
        assert_eq!(check(aged, Some(START - 300 - LEEWAY), START), Ok(()));
        // A sign-in older than the request but within max_age: the upstream may vouch for it.
        assert_eq!(check(aged, Some(START - 200), START), Ok(()));
        // max_age=0 is a sign-in now, give or take the leeway.
        let zero = Freshness { prompt_login: false, max_age: Some(0) };
        assert_eq!(check(zero, Some(START - LEEWAY - 1), START), Err(NotSignedInAgain::TooOld));
        assert_eq!(check(zero, Some(START), START + 2), Ok(()));
        // Both asked: both hold.
        let both = Freshness { prompt_login: true, max_age: Some(300) };
        assert_eq!(check(both, Some(START - 200), START), Err(NotSignedInAgain::BeforeTheRequest));
        assert_eq!(check(both, None, START), Err(NotSignedInAgain::NoAuthTime));
        assert_eq!(check(both, Some(START + 5), START + 10), Ok(()));
    }

    #[test]
    fn an_authorization_asks_what_its_request_asks() {
        use crate::oauth::authorize::{test_request, Prompt};
        let mut request = test_request(Prompt::default(), None);
        assert_eq!(Freshness::of_authorization(&request, None), Freshness::default());
        assert_eq!(Freshness::of_authorization(&request, Some(600)).max_age, Some(600), "the client's default");
        request.max_age = Some(60);
        request.prompt = Prompt { login: true, ..Prompt::default() };
        assert_eq!(
            Freshness::of_authorization(&request, Some(600)),
            Freshness { prompt_login: true, max_age: Some(60) }
        );
    }
}
