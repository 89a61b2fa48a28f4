//! Upstream "sign in with" federation: the decisions. A sign-in started from the login page is kept in the cache
//! under the hash of its `state`, bound to the browser and to the sign-in it belongs to (a pending authorization,
//! or the one that returns to the account page or the device verification page), and taken once by the
//! callback; the identity the upstream provider vouched for (the ID token, checked by `crate::upstream`) is then
//! mapped to a local user: the one it is linked to, or a new one, or, only when the provider is trusted with
//! email addresses and says it verified this one, the account that has the address. Never silently another.
use super::authorize::AuthorizeError;
use super::cache_keys;
use super::error::OAuthError;
pub use super::interaction::Continuation;
use super::interaction::Interaction;
use super::provider::Provider;
use crate::domain::password::NO_PASSWORD;
use crate::domain::secret::{random_token, SecretHash};
use crate::domain::user::same_address;
use crate::domain::{FederatedIdentity, NewUser, UnixTime, User, UserId, Username};
use crate::storage::StoreError;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long the user has to sign in at the upstream provider and come back.
pub const FEDERATION_TTL: u64 = 10 * 60;
/// The `amr` of a session a federated sign-in starts (the upstream's own `amr` goes to the audit event): what
/// the user did was sign in elsewhere, which is all this server can vouch for.
pub const FEDERATED_AMR: &str = "fed";
/// What a pending federated sign-in's cache entry holds once the callback took it.
const TAKEN: &[u8] = b"taken";

/// A federated sign-in on its way to the upstream provider and back. Its `Debug` shows the provider only.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingFederation {
    /// The upstream provider's id.
    pub provider_id: String,
    /// The pending authorization the sign-in belongs to; empty for a sign-in that returns elsewhere.
    pub interaction: String,
    /// Where a sign-in of no authorization returns: the account or the device page (absent in entries stored
    /// before it existed).
    #[serde(default)]
    pub returns_to: Option<Continuation>,
    /// Hash of the browser-binding cookie.
    pub browser: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the code.
    pub pkce_verifier: String,
    /// The fresh sign-in asked of the upstream, which its ID token's `auth_time` must show (nothing asked in
    /// entries stored before it existed).
    #[serde(default)]
    pub fresh: Freshness,
    /// When the upstream request started.
    #[serde(default)]
    pub started_at: UnixTime,
    /// Whether the provider says it names itself in its authorization responses (RFC 9207 §3:
    /// `authorization_response_iss_parameter_supported`), so that a response without `iss` is refused.
    #[serde(default)]
    pub names_itself: bool,
}

impl PendingFederation {
    /// Where the sign-in continues: where `returns_to` says, else the pending authorization.
    pub fn continuation(&self) -> Continuation {
        self.returns_to.clone().unwrap_or_else(|| Continuation::Authorize(self.interaction.clone()))
    }

    /// Whether the callback's `iss` may come from the provider, whose issuer is `configured` (RFC 9207 §2.4, the
    /// mix-up defence): one that names itself must name itself as configured, and one that says it always does
    /// must not leave it out.
    pub fn issuer_answers(&self, configured: &str, iss: Option<&str>) -> bool {
        match iss {
            Some(iss) => iss == configured,
            None => !self.names_itself,
        }
    }
}

impl std::fmt::Debug for PendingFederation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingFederation").field("provider_id", &self.provider_id).finish_non_exhaustive()
    }
}

/// Who the upstream provider says signed in: its checked ID token, completed from its userinfo endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's id in our settings.
    pub provider_id: String,
    /// Its `sub`.
    pub subject: String,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`: absent is false.
    pub email_verified: bool,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// Its `amr`, for the audit trail.
    pub amr: Vec<String>,
    /// Its `auth_time`: when the user last signed in at the provider.
    pub auth_time: Option<UnixTime>,
}

/// Why a federated sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederationRefusal {
    /// The local account is disabled.
    Disabled,
    /// A local account has the address, and linking to it is not allowed (the provider is not trusted with
    /// addresses, or did not say it verified this one, or nobody verified the local account's), or more than one
    /// account has it.
    EmailInUse,
}

impl FederationRefusal {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::EmailInUse => "email_in_use",
        }
    }
}

/// What to do with an upstream identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// It is linked to this user.
    SignIn(User),
    /// Link it to this user (the same address, verified on both sides, the provider trusted with addresses).
    LinkTo(User),
    /// Create a user for it.
    Create,
    /// Refused, with the user concerned if any.
    Refuse(Option<User>, FederationRefusal),
}

/// Decides what an upstream identity with the address `email` signs in as: `linked`, the user it is linked to;
/// `same_email`, (up to `SAME_ADDRESS_READ`) users with its email address (matched by its key,
/// [`crate::domain::user::email_key`]).
pub fn decide(
    linked: Option<User>,
    same_email: Vec<User>,
    email: Option<&str>,
    trust_email: bool,
    email_verified: bool,
) -> Mapping {
    if let Some(user) = linked {
        return if user.disabled {
            Mapping::Refuse(Some(user), FederationRefusal::Disabled)
        } else {
            Mapping::SignIn(user)
        };
    }
    let Some(first) = same_email.first().cloned() else { return Mapping::Create };
    // Both sides must have proved the address: a local account whose address nobody verified may have been made
    // by someone else in its owner's name, waiting for the owner's sign-in to be linked to it (pre-hijacking). So
    // such an account is never linked to, nor does it stand in the way of the one account that proved the address.
    // And it must be the same address, not one that only lower case maps alike.
    let mut verified = same_email.into_iter().filter(|u| u.email_verified);
    match (verified.next(), verified.next()) {
        (Some(user), None)
            if trust_email
                && email_verified
                && user.email_verified
                && email.zip(user.email.as_deref()).is_some_and(|(theirs, ours)| same_address(theirs, ours)) =>
        {
            if user.disabled {
                Mapping::Refuse(Some(user), FederationRefusal::Disabled)
            } else {
                Mapping::LinkTo(user)
            }
        }
        _ => Mapping::Refuse(Some(first), FederationRefusal::EmailInUse),
    }
}

/// How many accounts with an upstream identity's address [`decide`] is given: enough that a few made with it
/// and never verified do not hide the one that was.
const SAME_ADDRESS_READ: i64 = 5;

/// The most characters of a generated username's base, leaving room for a numeric suffix.
const BASE_MAX: usize = Username::MAX_LEN - 8;

/// The username a new user made for `identity` is tried under first: its `preferred_username`, else the local
/// part of its address, else `{provider}-user`, each only when it is a valid new username.
pub fn username_base(identity: &UpstreamIdentity) -> String {
    let from_email = identity.email.as_deref().and_then(|e| e.split_once('@')).map(|(local, _)| local);
    [identity.preferred_username.as_deref(), from_email]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| s.chars().count() <= BASE_MAX && Username::parse_new(s).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-user", identity.provider_id))
}

/// The `attempt`-th username tried for `base`: `base`, then `base-2`, `base-3`…
pub fn username_candidate(base: &str, attempt: u32) -> String {
    if attempt == 0 {
        base.to_owned()
    } else {
        format!("{base}-{}", attempt + 1)
    }
}

/// How many numbered usernames are tried before a random suffix.
const NUMBERED_ATTEMPTS: u32 = 5;

/// The outcome of mapping an upstream identity to a local user ([`Provider::federated_user`]).
#[derive(Debug)]
pub enum Federated {
    /// Sign in as this user; `created` and `linked` say what was done for it (for the audit trail).
    User {
        /// The local user.
        user: User,
        /// Created just now.
        created: bool,
        /// The identity was linked just now.
        linked: bool,
    },
    /// Refused.
    Refused {
        /// The user concerned, if any.
        user: Option<User>,
        /// Why.
        refusal: FederationRefusal,
    },
}

impl Provider {
    /// What the sign-in of `interaction` asks of an upstream provider ([`Freshness::of_authorization`]).
    pub async fn freshness_of(&self, interaction: &Interaction) -> Result<Freshness, AuthorizeError> {
        let client = self.interaction_client(interaction).await?;
        Ok(Freshness::of_authorization(&interaction.request, client.metadata.default_max_age))
    }

    /// Whether the upstream signed the user in afresh as asked by a request started at `started_at`
    /// ([`Freshness::check`], with the clock skew tolerated on incoming JWTs), now.
    pub fn upstream_fresh_enough(
        &self,
        fresh: Freshness,
        started_at: UnixTime,
        identity: &UpstreamIdentity,
        now: UnixTime,
    ) -> Result<(), NotSignedInAgain> {
        fresh.check(identity.auth_time, started_at, now, self.leeway)
    }

    /// Keeps a federated sign-in until its callback, under the hash of its `state`: within the budget of pending
    /// sign-ins, like the interaction it belongs to (`false` when the cache holds all it may).
    pub async fn store_federation(&self, state: &str, pending: &PendingFederation) -> Result<bool, OAuthError> {
        let bytes = serde_json::to_vec(pending).map_err(OAuthError::server)?;
        let key = cache_keys::federation(SecretHash::of(state).as_str());
        Ok(self.cache.set_within_budget(&key, &bytes, Duration::from_secs(FEDERATION_TTL)).await?)
    }

    /// Takes the federated sign-in of `state` (once: a second callback with it finds nothing), if this browser
    /// started it; `None` otherwise.
    pub async fn take_federation(&self, state: &str, browser: &str) -> Result<Option<PendingFederation>, OAuthError> {
        if state.len() > 128 {
            return Ok(None);
        }
        let key = cache_keys::federation(SecretHash::of(state).as_str());
        let Some(bytes) = self.cache.replace(&key, TAKEN, Duration::from_secs(FEDERATION_TTL)).await? else {
            return Ok(None);
        };
        if bytes == TAKEN {
            return Ok(None);
        }
        let pending: PendingFederation = serde_json::from_slice(&bytes).map_err(OAuthError::server)?;
        let same_browser: bool = SecretHash::of(browser).as_str().as_bytes().ct_eq(pending.browser.as_bytes()).into();
        Ok(same_browser.then_some(pending))
    }

    /// The local user `identity` signs in as ([`decide`]), linking or creating it as decided.
    pub async fn federated_user(
        &self,
        identity: &UpstreamIdentity,
        trust_email: bool,
        now: UnixTime,
    ) -> Result<Federated, OAuthError> {
        let linked = self.identities.linked_user(&identity.provider_id, &identity.subject, now).await?;
        let same_email = match (&linked, &identity.email) {
            (None, Some(email)) => self.identities.users_with_email(email, SAME_ADDRESS_READ).await?,
            _ => Vec::new(),
        };
        let link = FederatedIdentity {
            provider_id: identity.provider_id.clone(),
            subject: identity.subject.clone(),
            user_id: UserId::generate(),
            created_at: now,
            last_used_at: now,
        };
        match decide(linked, same_email, identity.email.as_deref(), trust_email, identity.email_verified) {
            Mapping::SignIn(user) => Ok(Federated::User { user, created: false, linked: false }),
            Mapping::Refuse(user, refusal) => Ok(Federated::Refused { user, refusal }),
            Mapping::LinkTo(user) => {
                let link = FederatedIdentity { user_id: user.id.clone(), ..link };
                match self.identities.link_identity(&link).await {
                    Ok(()) => Ok(Federated::User { user, created: false, linked: true }),
                    // Linked by a concurrent callback of the same identity: sign in as what it linked.
                    Err(StoreError::Conflict(_)) => self.linked_again(identity, now).await,
                    Err(e) => Err(e.into()),
                }
            }
            Mapping::Create => self.create_federated(identity, trust_email, link, now).await,
        }
    }

    async fn linked_again(&self, identity: &UpstreamIdentity, now: UnixTime) -> Result<Federated, OAuthError> {
        match self.identities.linked_user(&identity.provider_id, &identity.subject, now).await? {
            Some(user) if !user.disabled => Ok(Federated::User { user, created: false, linked: false }),
            Some(user) => Ok(Federated::Refused { user: Some(user), refusal: FederationRefusal::Disabled }),
            None => Err(OAuthError::server("a federated identity was linked and is gone")),
        }
    }

    /// Creates a user without a password for `identity` under the first free username ([`username_base`]).
    async fn create_federated(
        &self,
        identity: &UpstreamIdentity,
        trust_email: bool,
        link: FederatedIdentity,
        now: UnixTime,
    ) -> Result<Federated, OAuthError> {
        let base = username_base(identity);
        for attempt in 0..=NUMBERED_ATTEMPTS {
            let name = if attempt == NUMBERED_ATTEMPTS {
                format!("{base}-{}", random_token(4).to_lowercase())
            } else {
                username_candidate(&base, attempt)
            };
            let username = Username::parse_new(&name).map_err(OAuthError::server)?;
            // A provider may send anything: its name and address are kept only when they pass the rules an
            // operator's would (no control or invisible character; an address's shape).
            let email = identity.email.clone().filter(|e| super::admin::check_email(e).is_ok());
            let user = NewUser {
                id: link.user_id.clone(),
                username,
                password_hash: NO_PASSWORD.to_owned(),
                // The address counts as verified here only when this provider is trusted to verify addresses.
                email_verified: trust_email && identity.email_verified && email.is_some(),
                email,
                name: identity.name.clone().filter(|n| super::admin::check_user_name(n).is_ok()),
                password_change_required: false,
                created_at: now,
            };
            match self.identities.create_federated_user(user, &link).await {
                Ok(user) => return Ok(Federated::User { user, created: true, linked: true }),
                Err(StoreError::Conflict(what)) if what == "username" => continue,
                Err(StoreError::Conflict(_)) => return self.linked_again(identity, now).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OAuthError::server("no free username for a new federated user"))
    }
}

/// Seeing and removing links.
mod links;

/// Asking the upstream for a fresh sign-in, and checking that it was one.
mod fresh;
pub use fresh::{Freshness, NotSignedInAgain};

#[cfg(test)]
mod tests;
