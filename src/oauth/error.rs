//! Protocol errors with their RFC codes. The HTTP layer picks status codes and rendering from the code.
use std::fmt;

/// An OAuth / OpenID Connect error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §5.2.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (401).
    InvalidClient,
    /// RFC 6749 §5.2.
    InvalidGrant,
    /// RFC 6749 §5.2.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1.
    ServerError,
    /// RFC 6749 §4.1.2.1.
    TemporarilyUnavailable,
    /// OIDC Core §3.1.2.6.
    LoginRequired,
    /// OIDC Core §3.1.2.6.
    ConsentRequired,
    /// OIDC Core §3.1.2.6.
    InteractionRequired,
    /// OpenID Connect Core Unmet Authentication Requirements 1.0: no authentication level (`acr`) the request
    /// requires can be reached.
    UnmetAuthenticationRequirements,
    /// RFC 8707 §2.
    InvalidTarget,
    /// RFC 6750 §3.1 (401).
    InvalidToken,
    /// RFC 9101 §6.3, OIDC Core §3.1.2.6: a request object that is malformed, unsigned, or does not verify.
    InvalidRequestObject,
    /// RFC 9101 §7, OIDC Core §3.1.2.6: a `request_uri` that is unknown, expired or used.
    InvalidRequestUri,
    /// OIDC Core §3.1.2.6.
    RegistrationNotSupported,
    /// RFC 6750 §3.1 (403).
    InsufficientScope,
    /// RFC 7591 §3.2.2: a redirect URI (or post-logout redirect URI) is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: another client metadata value is not acceptable.
    InvalidClientMetadata,
    /// RFC 8628 §3.5: the user has not answered yet; poll again.
    AuthorizationPending,
    /// RFC 8628 §3.5: polled sooner than the interval; poll again, 5 seconds more apart.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired before it was approved.
    ExpiredToken,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing where required, malformed, or wrong for the request.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: the DPoP proof lacks a nonce we accept; retry with the one in `DPoP-Nonce`.
    UseDpopNonce,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidToken => "invalid_token",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// An error to send to the client: a code, a public description, and (for the logs only) a cause.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// Shown to the client; never contains secrets or internals.
    pub description: String,
    /// Logged, never sent.
    pub detail: Option<String>,
}

impl OAuthError {
    /// An error with a public description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), detail: None }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_token`.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description)
    }

    /// `server_error` with an internal cause kept for the logs.
    pub fn server(detail: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "the server could not complete the request".into(),
            detail: Some(detail.to_string()),
        }
    }

    /// The description as sent to a client (`error_description`): RFC 6749 §4.1.2.1 and §5.2 allow printable ASCII
    /// without `"` and `\` only. Those two become `'` and `/`, anything else outside the set `?`; the text is
    /// ours, but quotes a request's values.
    pub fn client_description(&self) -> String {
        self.description
            .chars()
            .map(|c| match c {
                '"' => '\'',
                '\\' => '/',
                ' '..='~' => c,
                _ => '?',
            })
            .collect()
    }

    /// `temporarily_unavailable` with an internal cause kept for the logs.
    pub fn unavailable(detail: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::TemporarilyUnavailable,
            description: "the server is temporarily unable to handle the request".into(),
            detail: Some(detail.to_string()),
        }
    }
}

impl fmt::Debug for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<crate::storage::StoreError> for OAuthError {
    fn from(e: crate::storage::StoreError) -> Self {
        match e {
            crate::storage::StoreError::Unavailable(_) => Self::unavailable(e),
            other => Self::server(other),
        }
    }
}

impl From<crate::storage::cache::CacheError> for OAuthError {
    fn from(e: crate::storage::cache::CacheError) -> Self {
        Self::unavailable(e)
    }
}

impl From<crate::jose::JoseError> for OAuthError {
    fn from(e: crate::jose::JoseError) -> Self {
        Self::server(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_sent_to_a_client_is_in_the_set_rfc_6749_allows() {
        let e = OAuthError::invalid_request("parameter \"code\" must not be provided twice: \\ é\u{7f}\n…");
        let sent = e.client_description();
        assert_eq!(sent, "parameter 'code' must not be provided twice: / ????");
        // %x20-21 / %x23-5B / %x5D-7E
        assert!(sent.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)), "{sent}");
        assert_eq!(
            OAuthError::invalid_grant("plain text (as most are)").client_description(),
            "plain text (as most are)"
        );
    }
}
