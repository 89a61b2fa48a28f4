//! Names of user claims (OIDC Core §5.1) a client asked for one by one with the `claims` request parameter
//! (§5.5), as a grant keeps them: only the claims this server can release, space-separated when stored.
use super::Scope;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// The user claims this server releases, each with the scope that releases it too (OIDC Core §5.4). `sub` is
/// always released, so it is not asked for by name. `groups` is the user's group names ([`super::group`]), which
/// are not in the user's row.
pub const USER_CLAIMS: [(&str, &str); 6] = [
    ("name", "profile"),
    ("preferred_username", "profile"),
    ("updated_at", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("groups", "groups"),
];

/// A set of [`USER_CLAIMS`] names. Names this server does not release never get in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimNames(BTreeSet<&'static str>);

impl ClaimNames {
    /// Adds `name` if it is one of [`USER_CLAIMS`]; whether it is.
    pub fn insert_known(&mut self, name: &str) -> bool {
        match USER_CLAIMS.iter().find(|(known, _)| *known == name) {
            Some((known, _)) => self.0.insert(known),
            None => false,
        }
    }

    /// Takes `name` out.
    pub fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// The stored form back: names separated by spaces, each one of [`USER_CLAIMS`].
    pub fn parse(stored: &str) -> Result<Self, String> {
        let mut names = Self::default();
        for name in stored.split(' ').filter(|n| !n.is_empty()) {
            if !names.insert_known(name) {
                return Err(format!("{name:?} is not a claim this server releases"));
            }
        }
        Ok(names)
    }

    /// Whether it names no claim.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it names `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }

    /// The names of both.
    pub fn union(&self, other: &ClaimNames) -> ClaimNames {
        ClaimNames(self.0.union(&other.0).copied().collect())
    }
}

/// What a user granted one client, remembered so that the consent page is not shown again: scopes, and user
/// claims asked for by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consent {
    /// The scopes granted.
    pub scope: Scope,
    /// The claims granted by name.
    pub claims: ClaimNames,
}

impl Consent {
    /// Whether it covers a request for `scope` and the claims `claims`: each claim granted by name, or released by
    /// a granted scope (the user agreed to disclose it then).
    pub fn covers(&self, scope: &Scope, claims: &ClaimNames) -> bool {
        let released = |claim: &str| USER_CLAIMS.iter().any(|(name, by)| *name == claim && self.scope.contains(by));
        scope.is_subset_of(&self.scope) && claims.iter().all(|c| self.claims.contains(c) || released(c))
    }
}

impl fmt::Display for ClaimNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in &self.0 {
            if !std::mem::take(&mut first) {
                f.write_str(" ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl Serialize for ClaimNames {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClaimNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_released_claims_get_in_and_the_stored_form_round_trips() {
        let mut names = ClaimNames::default();
        assert!(names.insert_known("email") && names.insert_known("name"));
        assert!(!names.insert_known("acr") && !names.insert_known("sub") && !names.insert_known("phone_number"));
        assert_eq!(names.to_string(), "email name");
        assert_eq!(ClaimNames::parse("email name"), Ok(names.clone()));
        assert!(ClaimNames::parse("email acr").is_err());
        assert_eq!(ClaimNames::parse(""), Ok(ClaimNames::default()));
        let json = serde_json::to_string(&names).unwrap();
        assert_eq!(serde_json::from_str::<ClaimNames>(&json).unwrap(), names);
    }

    #[test]
    fn a_consent_covers_claims_granted_by_name_or_released_by_a_granted_scope() {
        let s = |v: &str| Scope::parse(v).unwrap();
        let c = |v: &str| ClaimNames::parse(v).unwrap();
        let consent = Consent { scope: s("openid email"), claims: c("name") };
        assert!(consent.covers(&s("openid"), &c("")));
        assert!(consent.covers(&s("openid"), &c("name email email_verified")));
        assert!(!consent.covers(&s("openid"), &c("groups")), "the groups scope was not granted");
        let groups = Consent { scope: s("openid groups"), claims: c("") };
        assert!(groups.covers(&s("openid"), &c("groups")), "released by the groups scope");
        assert!(!consent.covers(&s("openid"), &c("preferred_username")), "profile was not granted");
        assert!(!consent.covers(&s("openid profile"), &c("name")), "a wider scope");
        assert!(!Consent::default().covers(&s(""), &c("email")));
    }
}
