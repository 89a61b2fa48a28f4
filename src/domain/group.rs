//! Groups of users, named by operators (as Keycloak's groups): a grant with the `groups` scope carries the names
//! of its user's groups as the `groups` claim, for resource servers to decide on.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The scope that releases the `groups` claim, and the claim's name.
pub const GROUPS: &str = "groups";

/// A group's name: 1 to [`GroupName::MAX_LEN`] characters of `A-Z a-z 0-9 . _ : -`, so that it reads the same in
/// a token, a URL path and a shell. Unique as written: letter case matters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

impl GroupName {
    /// Most characters a group name may have.
    pub const MAX_LEN: usize = 64;

    /// Parses a group name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(format!("a group name must be 1 to {} characters", Self::MAX_LEN));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
            return Err("a group name may only hold the letters A-Z and a-z, digits, '.', '_', ':' and '-'".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupName({:?})", self.0)
    }
}

impl Serialize for GroupName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GroupName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Stable id (a UUID), which memberships refer to.
    pub id: String,
    /// Its name.
    pub name: GroupName,
    /// When it was created.
    pub created_at: super::UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_of_safe_characters() {
        for good in ["a", "admins", "Team-A", "org:eng.backend_1", &"x".repeat(64)] {
            assert_eq!(GroupName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", &"x".repeat(65), "two words", "a/b", "é", "a\n", "a,b", "\"q\""] {
            assert!(GroupName::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&GroupName::parse("eng").unwrap()).unwrap();
        assert_eq!(json, "\"eng\"");
        assert!(serde_json::from_str::<GroupName>("\"a b\"").is_err());
    }
}
