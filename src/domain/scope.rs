//! OAuth scopes (RFC 6749 §3.3).
use std::collections::BTreeSet;
use std::fmt;

/// Why a scope string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    /// A character outside RFC 6749 §3.3 `NQCHAR`.
    #[error("scope contains a character not allowed by RFC 6749 section 3.3")]
    BadCharacter,
    /// More scope values than the limit.
    #[error("too many scope values (at most {0})")]
    TooMany(usize),
}

/// A set of scope tokens, kept sorted so it prints the same way every time.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(BTreeSet<String>);

/// The scope that grants the admin API; only clients marked admin may obtain it, for themselves
/// (client_credentials), never in a token issued to a user.
pub const ADMIN_SCOPE: &str = "tessera:admin";

/// Most scope values one request may carry.
pub const MAX_SCOPE_VALUES: usize = 64;

impl Scope {
    /// The `openid` scope that makes a request an OpenID Connect request.
    pub const OPENID: &'static str = "openid";
    /// The scope that asks for a refresh token usable without the user present.
    pub const OFFLINE_ACCESS: &'static str = "offline_access";

    /// Parses a space-delimited scope string. Repeated spaces and repeated values are tolerated.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            // NQCHAR = %x21 / %x23-5B / %x5D-7E
            if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
                return Err(ScopeError::BadCharacter);
            }
            set.insert(token.to_owned());
            if set.len() > MAX_SCOPE_VALUES {
                return Err(ScopeError::TooMany(MAX_SCOPE_VALUES));
            }
        }
        Ok(Self(set))
    }

    /// Builds a scope from individual values, each checked like [`Scope::parse`].
    pub fn from_values<I, S>(values: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = values.into_iter().map(|v| v.as_ref().to_owned()).collect();
        if joined.iter().any(|v| v.contains(' ') || v.is_empty()) {
            return Err(ScopeError::BadCharacter);
        }
        Self::parse(&joined.join(" "))
    }

    /// Whether the set holds `value`.
    pub fn contains(&self, value: &str) -> bool {
        self.0.contains(value)
    }

    /// Whether every value of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The values of `self` that are also in `other`.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// Every value of `self` and of `other`, each once; refused past [`MAX_SCOPE_VALUES`] like a parsed scope.
    pub fn union(&self, other: &Scope) -> Result<Scope, ScopeError> {
        let values: BTreeSet<String> = self.0.union(&other.0).cloned().collect();
        if values.len() > MAX_SCOPE_VALUES {
            return Err(ScopeError::TooMany(MAX_SCOPE_VALUES));
        }
        Ok(Scope(values))
    }

    /// The set without `value`.
    pub fn without(&self, value: &str) -> Scope {
        Scope(self.0.iter().filter(|v| *v != value).cloned().collect())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for v in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(v)?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        let s = Scope::parse("profile  openid email openid").unwrap();
        assert_eq!(s.to_string(), "email openid profile");
        assert!(s.contains(Scope::OPENID));
    }

    #[test]
    fn refuses_characters_outside_nqchar() {
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("a\\b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("caf\u{e9}"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("a\tb"), Err(ScopeError::BadCharacter));
    }

    #[test]
    fn subset_and_intersection() {
        let allowed = Scope::parse("openid profile email").unwrap();
        let asked = Scope::parse("openid email").unwrap();
        assert!(asked.is_subset_of(&allowed));
        assert!(!allowed.is_subset_of(&asked));
        assert_eq!(allowed.intersection(&asked), asked);
    }

    #[test]
    fn union_keeps_every_value_once_within_the_limit() {
        let a = Scope::parse("openid profile").unwrap();
        let b = Scope::parse("openid email").unwrap();
        assert_eq!(a.union(&b).unwrap(), Scope::parse("email openid profile").unwrap());
        assert_eq!(a.union(&Scope::default()).unwrap(), a);

        let half = |from: usize| {
            let values: Vec<String> = (from..from + MAX_SCOPE_VALUES / 2).map(|i| format!("s{i}")).collect();
            Scope::parse(&values.join(" ")).unwrap()
        };
        let full = half(0).union(&half(MAX_SCOPE_VALUES / 2)).unwrap();
        assert_eq!(full.iter().count(), MAX_SCOPE_VALUES);
        assert_eq!(full.union(&half(1)).unwrap(), full);
        assert_eq!(full.union(&Scope::parse("one-more").unwrap()), Err(ScopeError::TooMany(MAX_SCOPE_VALUES)));
    }

    #[test]
    fn limits_the_number_of_values() {
        let many: Vec<String> = (0..=MAX_SCOPE_VALUES).map(|i| format!("s{i}")).collect();
        assert_eq!(Scope::parse(&many.join(" ")), Err(ScopeError::TooMany(MAX_SCOPE_VALUES)));
    }
}
