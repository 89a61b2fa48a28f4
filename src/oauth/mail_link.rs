//! Links sent by mail that work once (password reset, email verification): 256 random bits in the link, only
//! their hash in the cache with what the link is for, for as long as it lives. Using a link takes its entry
//! atomically, so of two uses one wins. A lost cache loses the links in flight, and the user asks again.
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::i18n::{Locale, CHOICE_PARAM};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// What a used link's entry holds until it expires.
const USED: &[u8] = b"used";
/// The longest token a link may carry (ours are 43 characters); longer ones are not looked up.
const MAX_TOKEN_LEN: usize = 64;

/// The token of a mailed link, as the link carries it. `Debug` shows none of it.
pub struct LinkToken(String);

impl LinkToken {
    /// The token a link carried, unless it cannot be one of ours.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_TOKEN_LEN).then(|| Self(s.to_owned()))
    }

    /// The token itself, for the one place that puts it back into a form.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash the cache keys its entry by.
    pub(super) fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkToken").finish_non_exhaustive()
    }
}

impl Provider {
    /// Stores `record` for a new link to `path` for `seconds`, under the key `key` makes of the token's hash;
    /// returns the link, which opens its page in `locale`, the mail's language ([`CHOICE_PARAM`]: not secret).
    pub(super) async fn new_mail_link<R: Serialize>(
        &self,
        path: &str,
        key: fn(&str) -> String,
        record: &R,
        seconds: i64,
        locale: Locale,
    ) -> Result<String, OAuthError> {
        let token = PlainSecret::generate();
        let bytes = serde_json::to_vec(record).map_err(OAuthError::server)?;
        self.cache.set(&key(token.hash().as_str()), &bytes, Duration::from_secs(seconds.unsigned_abs())).await?;
        let mut link = url::Url::parse(&self.issuer).map_err(OAuthError::server)?;
        link.set_path(path);
        link.query_pairs_mut().append_pair("token", token.expose()).append_pair(CHOICE_PARAM, locale.tag());
        Ok(link.into())
    }

    /// Whether the link of `token` (its entry under `key`) is live.
    pub(super) async fn mail_link_live(&self, token: &LinkToken, key: fn(&str) -> String) -> Result<bool, OAuthError> {
        Ok(self.cache.get(&key(token.hash().as_str())).await?.is_some_and(|v| v != USED))
    }

    /// The record of the link of `token`, while it is live, leaving it so.
    pub(super) async fn peek_mail_link<R: DeserializeOwned>(
        &self,
        token: &LinkToken,
        key: fn(&str) -> String,
    ) -> Result<Option<R>, OAuthError> {
        let found = self.cache.get(&key(token.hash().as_str())).await?;
        Ok(found.filter(|v| v != USED).and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Uses up the link of `token`: its record, unless it was unknown, expired or used.
    pub(super) async fn take_mail_link<R: DeserializeOwned>(
        &self,
        token: &LinkToken,
        key: fn(&str) -> String,
    ) -> Result<Option<R>, OAuthError> {
        let taken = self.cache.replace(&key(token.hash().as_str()), USED, Duration::from_secs(60)).await?;
        Ok(taken.filter(|v| v != USED).and_then(|v| serde_json::from_slice(&v).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bounded_and_never_shown() {
        assert!(LinkToken::parse("").is_none());
        assert!(LinkToken::parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_none());
        let token = LinkToken::parse("secret-token").unwrap();
        assert!(!format!("{token:?}").contains("secret"));
    }
}
