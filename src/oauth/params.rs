//! Request parameters as the protocol sees them: a map in which each name occurs once (duplicates are
//! `invalid_request`, RFC 6749 §3.1 and §3.2), with size limits so no input is slow or unbounded.
use super::error::OAuthError;
use std::collections::HashMap;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// Longest value of one parameter, in bytes (redirect URIs and JWTs fit).
pub const MAX_PARAM_LEN: usize = 8192;

/// Parsed parameters, each name once; empty values count as absent (RFC 6749 §3.1). `resource` is the one
/// name that may repeat (RFC 8707 §2): the first is kept, and the repetition noted.
#[derive(Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    several_resources: bool,
}

impl std::fmt::Debug for Params {
    // Values can be secrets (codes, verifiers, client secrets): show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_tuple("Params").field(&names).finish()
    }
}

impl Params {
    /// Builds the map from decoded pairs, refusing duplicates and oversize input.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        if pairs.len() > MAX_PARAMS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        let mut map = HashMap::with_capacity(pairs.len());
        let mut several_resources = false;
        for (k, v) in pairs {
            if v.len() > MAX_PARAM_LEN || k.len() > 128 {
                return Err(OAuthError::invalid_request(format!("parameter {} is too long", truncate(&k))));
            }
            if v.is_empty() {
                continue;
            }
            if k == "resource" && map.contains_key(&k) {
                several_resources = true;
                continue;
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} must not be provided twice",
                    truncate(&k)
                )));
            }
            map.insert(k, v);
        }
        Ok(Self { values: map, several_resources })
    }

    /// Whether `resource` was given more than once.
    pub fn names_several_resources(&self) -> bool {
        self.several_resources
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// Every parameter as a name and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Removes and returns a parameter.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }
}

fn truncate(s: &str) -> String {
    let cut: String = s.chars().take(40).filter(|c| !c.is_control()).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<Params, OAuthError> {
        Params::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn duplicates_are_invalid_request() {
        let e = p(&[("state", "a"), ("state", "b")]).unwrap_err();
        assert_eq!(e.code, super::super::error::ErrorCode::InvalidRequest);
        assert!(e.description.contains("state"));
    }

    #[test]
    fn resource_may_repeat_and_is_noted() {
        let params = p(&[("resource", "https://a.example/"), ("resource", "https://b.example/")]).unwrap();
        assert!(params.names_several_resources());
        assert_eq!(params.get("resource"), Some("https://a.example/"));
        assert!(!p(&[("resource", "https://a.example/")]).unwrap().names_several_resources());
    }

    #[test]
    fn empty_values_are_absent_and_limits_hold() {
        let params = p(&[("a", ""), ("b", "1")]).unwrap();
        assert_eq!(params.get("a"), None);
        assert_eq!(params.get("b"), Some("1"));
        assert!(p(&[("a", &"x".repeat(MAX_PARAM_LEN + 1))]).is_err());
        let many: Vec<(String, String)> = (0..=MAX_PARAMS).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(Params::from_pairs(many).is_err());
    }
}
