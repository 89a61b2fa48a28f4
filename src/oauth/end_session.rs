//! RP-Initiated Logout 1.0: who asked, where to send the browser afterwards, and ending the session with
//! the refresh tokens bound to it (tokens issued for `offline_access` are meant to outlive the session and
//! survive; revoke them at `/revoke` or with `tessera users revoke`).
use super::audit::{EventFacts, RequestMeta};
use super::backchannel::LogoutNotice;
use super::error::OAuthError;
use super::frontchannel::LogoutFrames;
use super::params::Params;
use super::params::MAX_TOKEN_LEN;
use super::provider::Provider;
use super::subject::Subjects;
use super::tokens::ID_TOKEN_TYP;
use crate::domain::{ClientId, RedirectUri, Session, UnixTime};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A validated logout request.
#[derive(Debug, Clone, Default)]
pub struct LogoutRequest {
    /// The client that asked, when known.
    pub client_id: Option<ClientId>,
    /// Its name, for the confirmation page.
    pub client_name: Option<String>,
    /// Where to send the browser afterwards (registered for that client).
    pub post_logout_redirect_uri: Option<RedirectUri>,
    /// Echoed to the client.
    pub state: Option<String>,
    /// A valid `id_token_hint`: when it was issued in the session being ended, no confirmation is needed.
    pub hint: Option<IdTokenHint>,
}

/// Whose session a valid `id_token_hint` was issued in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// `sub`: the user.
    pub subject: String,
    /// `sid`: the session, when the token names one.
    pub sid: Option<String>,
    /// The sector of the pairwise client it was issued to: `sub` is then the user's subject there.
    pub sector: Option<String>,
}

impl IdTokenHint {
    /// Whether the token was issued in `session`: its user and its session id (RP-Initiated Logout §2 asks
    /// the user about a token that does not belong to the current session, such as an earlier one's). A
    /// pairwise subject is compared with the one the session's user has in the client's sector.
    pub fn belongs_to(&self, session: &Session, subjects: &Subjects) -> bool {
        let user = match &self.sector {
            Some(sector) => self.subject == subjects.pairwise(sector, &session.user_id),
            None => self.subject == session.user_id.as_str(),
        };
        user && self.sid.as_deref() == Some(session.id_hash.as_str())
    }
}

impl LogoutRequest {
    /// The redirect after logout, with `state`.
    pub fn redirect_url(&self) -> Option<url::Url> {
        let mut url = self.post_logout_redirect_uri.as_ref()?.url().clone();
        if let Some(s) = &self.state {
            url.query_pairs_mut().append_pair("state", s);
        }
        Some(url)
    }
}

/// The CSRF token of the logout confirmation form: bound to the session cookie, so only the page served to
/// that browser can carry it.
pub fn logout_csrf(session_cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tessera logout\0");
    h.update(session_cookie.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Whether `presented` is the logout CSRF token for `session_cookie`.
pub fn logout_csrf_matches(session_cookie: &str, presented: &str) -> bool {
    logout_csrf(session_cookie).as_bytes().ct_eq(presented.as_bytes()).into()
}

impl Provider {
    /// Validates a logout request. A `post_logout_redirect_uri` is accepted only when registered for the
    /// client named by the hint or `client_id`; otherwise this fails and the caller shows a page.
    pub async fn logout_request(&self, params: &Params) -> Result<LogoutRequest, OAuthError> {
        let (hint_aud, mut hint) = match params.get("id_token_hint").and_then(|h| self.id_token_hint(h)) {
            Some((aud, hint)) => (Some(aud), Some(hint)),
            None => (None, None),
        };
        let client_param = params.get("client_id");
        if let (Some(aud), Some(c)) = (&hint_aud, client_param) {
            if aud != c {
                return Err(OAuthError::invalid_request("client_id does not match the id_token_hint"));
            }
        }
        let client = match hint_aud.as_deref().or(client_param) {
            Some(raw) => match ClientId::parse(raw) {
                Ok(id) => self.clients.client(&id).await?,
                Err(_) => None,
            },
            None => None,
        };
        // The client is the hint's when there is a hint.
        if let (Some(hint), Some(client)) = (&mut hint, &client) {
            hint.sector = client.sector();
        }
        let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(raw) => {
                let uri = RedirectUri::parse(raw)
                    .map_err(|e| OAuthError::invalid_request(format!("invalid post_logout_redirect_uri: {e}")))?;
                let Some(client) = &client else {
                    // Say what is missing: the address may well be registered, for a client not named here.
                    return Err(OAuthError::invalid_request(
                        match (hint_aud, client_param, params.get("id_token_hint")) {
                            (Some(_), _, _) | (None, Some(_), _) => "the client of this logout does not exist",
                            (None, None, Some(_)) => {
                                "the id_token_hint is not an ID token of this server, so the client whose \
                             post_logout_redirect_uri this is cannot be known"
                            }
                            (None, None, None) => "a post_logout_redirect_uri needs an id_token_hint or a client_id",
                        },
                    ));
                };
                if !client.post_logout_redirect_uris.iter().any(|r| r.as_str() == uri.as_str()) {
                    return Err(OAuthError::invalid_request(
                        "post_logout_redirect_uri is not registered for this client",
                    ));
                }
                Some(uri)
            }
        };
        // Returned as given (RP-Initiated Logout §2), like /authorize's: the form and query size limits bound it.
        let state = params.get("state").map(str::to_owned);
        Ok(LogoutRequest {
            client_id: client.as_ref().map(|c| c.id.clone()),
            client_name: client.map(|c| c.name),
            post_logout_redirect_uri,
            state,
            hint,
        })
    }

    /// The client (`aud`), user and session of an ID token we issued. Expired hints are fine: logout comes
    /// after sessions end.
    pub(super) fn id_token_hint(&self, hint: &str) -> Option<(String, IdTokenHint)> {
        if hint.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (payload, header) = self.keys.snapshot().verify(hint).ok()?;
        if header.token_type() != Some(ID_TOKEN_TYP) {
            return None;
        }
        let claims = payload.claims_set();
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return None;
        }
        let subject = claims.get("sub").and_then(Value::as_str)?.to_owned();
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        let aud = match claims.get("aud")? {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.first().and_then(Value::as_str)?.to_owned(),
            _ => return None,
        };
        Some((aud, IdTokenHint { subject, sid, sector: None }))
    }

    /// Whether the logout may proceed without asking: the hint was issued in the session the cookie holds.
    /// Anyone can obtain an ID token of their own, so a hint for someone else proves nothing, and one from an
    /// earlier session does not say the user means to end this one.
    pub async fn logout_needs_no_confirmation(
        &self,
        request: &LogoutRequest,
        session_cookie: &str,
        now: UnixTime,
    ) -> bool {
        let Some(hint) = &request.hint else { return false };
        matches!(self.session_from_cookie(session_cookie, now).await, Ok(Some(s)) if hint.belongs_to(&s, &self.subjects))
    }

    /// Ends the session a cookie names and revokes its session-bound refresh tokens (and the access tokens
    /// issued with them); returns the frames of the signed-out page (front-channel logout). Unknown or already
    /// ended sessions are fine: they end nothing, and have no frames. (An ended session may have been handed
    /// over to the browser's next one, whose tokens its id still names: its cookie, a stale copy perhaps, must
    /// not end them.)
    pub async fn end_session(
        &self,
        session_cookie: &str,
        client: Option<&ClientId>,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<LogoutFrames, OAuthError> {
        let Some(session) = self.stored_session(session_cookie).await?.filter(|s| !s.revoked) else {
            return Ok(LogoutFrames::default());
        };
        let facts = EventFacts {
            actor: Some(session.user_id.as_str().to_owned()),
            user_id: Some(session.user_id.as_str().to_owned()),
            client_id: client.map(|c| c.as_str().to_owned()),
            details: json!({ "sid": session.id_hash }),
        };
        let told = self.end_stored_session(&session, facts, "logout", meta, now).await?;
        Ok(self.logout_frames(&told).await)
    }

    /// Ends `session` (as read from the store) and revokes its session-bound refresh tokens with their access
    /// tokens, sends its clients' logout tokens (`backchannel`), then records `kind` with `facts`. Ending an
    /// ended session again is fine. Returns the clients it told (none if it had ended already), for the pages
    /// that tell them in the browser too (`frontchannel`).
    pub(crate) async fn end_stored_session(
        &self,
        session: &Session,
        facts: EventFacts,
        kind: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Vec<LogoutNotice>, OAuthError> {
        // Its clients are told once, when it ends: ending it again tells no one.
        let mut notices = Vec::new();
        if !session.revoked {
            notices = self.logout_notices(std::slice::from_ref(session)).await;
            self.sessions.revoke_session(&session.id_hash).await?;
        }
        let issued = self.refresh_tokens.revoke_session_refresh_tokens(&session.id_hash, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        self.send_logout_notices(notices.clone()).await;
        self.audit(kind, facts, meta, now).await;
        Ok(notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn csrf_is_bound_to_the_cookie() {
        let t = super::logout_csrf("cookie-a");
        assert!(super::logout_csrf_matches("cookie-a", &t));
        assert!(!super::logout_csrf_matches("cookie-b", &t));
    }

    #[test]
    fn a_hint_belongs_to_its_own_session_only() {
        let session = Session {
            id_hash: "current".into(),
            user_id: UserId::parse("alice").unwrap(),
            auth_time: 0,
            amr: vec![],
            created_at: 0,
            last_used_at: 0,
            expires_at: 100,
            revoked: false,
            device: Default::default(),
        };
        let subjects = Subjects::new(&crate::jose::Kek::from_bytes([1; 32])).unwrap();
        let hint = |sub: &str, sid: Option<&str>| IdTokenHint {
            subject: sub.into(),
            sid: sid.map(str::to_owned),
            sector: None,
        };
        assert!(hint("alice", Some("current")).belongs_to(&session, &subjects));
        assert!(!hint("alice", Some("earlier")).belongs_to(&session, &subjects), "an earlier session of the same user");
        assert!(!hint("alice", None).belongs_to(&session, &subjects), "a token that names no session");
        assert!(!hint("mallory", Some("current")).belongs_to(&session, &subjects), "another user");

        // A pairwise client's hint names the user by the subject of its sector.
        let pairwise = |sub: &str| IdTokenHint { sector: Some("app.example".into()), ..hint(sub, Some("current")) };
        let alice = subjects.pairwise("app.example", &session.user_id);
        assert!(pairwise(&alice).belongs_to(&session, &subjects));
        assert!(!pairwise("alice").belongs_to(&session, &subjects), "the local id is not the pairwise subject");
        let elsewhere = subjects.pairwise("other.example", &session.user_id);
        assert!(!pairwise(&elsewhere).belongs_to(&session, &subjects), "another sector's subject");
    }
}
