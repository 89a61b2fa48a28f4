//! Request parameters as the protocol sees them: a map in which each name occurs once (duplicates are
//! `invalid_request`, RFC 6749 §3.1 and §3.2), with size limits so no input is slow or unbounded.
use super::error::OAuthError;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// Longest value of one parameter, in bytes (redirect URIs and JWTs fit), but for [`TOKEN_PARAMS`].
pub const MAX_PARAM_LEN: usize = 8192;
/// Longest token this server issues and takes back, in bytes: every consumer of its tokens (UserInfo,
/// introspection, revocation, token exchange, `id_token_hint`) takes this much, and what a token carries is
/// bounded below it ([`super::groups::MAX_TOKEN_GROUPS`]). Within the size of a request head.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// The parameters that carry one of our tokens, up to [`MAX_TOKEN_LEN`].
const TOKEN_PARAMS: [&str; 4] = ["token", "subject_token", "actor_token", "id_token_hint"];

/// Parsed parameters, each name once; empty values count as absent (RFC 6749 §3.1). `resource` (RFC 8707 §2)
/// and `audience` (RFC 8693 §2.1) are the names that may repeat: the first is kept, and the repetition noted.
#[derive(Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    several_resources: bool,
    several_audiences: bool,
    /// The names given with an empty value (at most [`MAX_PARAMS`]), for the readers that refuse one.
    empty: Vec<String>,
    /// Why the request is malformed, when that was left for the authorization endpoint to answer.
    flaw: Option<String>,
}

impl std::fmt::Debug for Params {
    // Values can be secrets (codes, verifiers, client secrets): show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_tuple("Params").field(&names).finish()
    }
}

/// The parameters an authorization error response is made from (RFC 6749 §4.1.2.1): the client, where to send
/// the browser, how, and the state to send back. Repeated or oversized, they leave no answer that is safe.
const ANSWER_NAMES: [&str; 4] = ["client_id", "redirect_uri", "response_mode", "state"];

impl Params {
    /// Builds the map from decoded pairs, refusing duplicates and oversize input.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        Self::collect(pairs, |_| true)
    }

    /// [`Params::from_pairs`] for an authorization request: a repeated or oversized parameter is refused at
    /// once only when an error response depends on it. Any other is kept as a [`Params::flaw`] (the first
    /// value stays, an oversized one is dropped), for the endpoint to send back to the client once it has
    /// checked the client and redirect URI, as RFC 6749 §4.1.2.1 asks for `invalid_request`.
    pub fn from_authorization_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        Self::collect(pairs, |name| ANSWER_NAMES.contains(&name))
    }

    /// Collects `pairs`; a problem with a name that is not `strict` is noted as the flaw (the first one found).
    fn collect(pairs: Vec<(String, String)>, strict: impl Fn(&str) -> bool) -> Result<Self, OAuthError> {
        if pairs.len() > MAX_PARAMS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        let mut params = Self { values: HashMap::with_capacity(pairs.len()), ..Self::default() };
        for (k, v) in pairs {
            let limit = if TOKEN_PARAMS.contains(&k.as_str()) { MAX_TOKEN_LEN } else { MAX_PARAM_LEN };
            if v.len() > limit || k.len() > 128 {
                note(&mut params.flaw, &k, format!("parameter {} is too long", truncate(&k)), &strict)?;
                continue;
            }
            if v.is_empty() {
                params.empty.push(k);
                continue;
            }
            match params.values.entry(k) {
                Entry::Vacant(slot) => {
                    slot.insert(v);
                }
                Entry::Occupied(first) if first.key() == "resource" => params.several_resources = true,
                Entry::Occupied(first) if first.key() == "audience" => params.several_audiences = true,
                Entry::Occupied(first) => {
                    let problem = format!("parameter {} must not be provided twice", truncate(first.key()));
                    note(&mut params.flaw, first.key(), problem, &strict)?;
                }
            }
        }
        Ok(params)
    }

    /// Why the request is malformed, as left by [`Params::from_authorization_pairs`].
    pub fn flaw(&self) -> Option<OAuthError> {
        self.flaw.as_deref().map(OAuthError::invalid_request)
    }

    /// Whether [`Params::flaw`] has one to tell.
    pub fn is_flawed(&self) -> bool {
        self.flaw.is_some()
    }

    /// Whether `resource` was given more than once.
    pub fn names_several_resources(&self) -> bool {
        self.several_resources
    }

    /// Whether `audience` was given more than once.
    pub fn names_several_audiences(&self) -> bool {
        self.several_audiences
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` was given with an empty value, which [`Params::get`] takes as absent.
    pub fn given_empty(&self, name: &str) -> bool {
        self.empty.iter().any(|n| n == name)
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

/// Refuses `problem` at once when `name` is strict; otherwise keeps it as the flaw unless an earlier one was
/// found.
fn note(
    flaw: &mut Option<String>,
    name: &str,
    problem: String,
    strict: &impl Fn(&str) -> bool,
) -> Result<(), OAuthError> {
    if strict(name) {
        return Err(OAuthError::invalid_request(problem));
    }
    flaw.get_or_insert(problem);
    Ok(())
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
    fn empty_values_are_absent_and_noted() {
        let params = p(&[("search", ""), ("limit", "5")]).unwrap();
        assert_eq!(params.get("search"), None);
        assert!(params.given_empty("search"));
        assert!(!params.given_empty("limit") && !params.given_empty("email"));
    }

    #[test]
    fn duplicates_are_invalid_request() {
        let e = p(&[("state", "a"), ("state", "b")]).unwrap_err();
        assert_eq!(e.code, super::super::error::ErrorCode::InvalidRequest);
        assert!(e.description.contains("state"));
    }

    #[test]
    fn an_authorization_request_keeps_what_its_error_response_does_not_depend_on() {
        let a = |pairs: &[(&str, &str)]| {
            Params::from_authorization_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
        };
        let long = "x".repeat(MAX_PARAM_LEN + 1);
        for answer in ANSWER_NAMES {
            assert!(a(&[(answer, "a"), (answer, "b")]).is_err(), "{answer}");
            assert!(a(&[(answer, &long)]).is_err(), "{answer}");
        }
        let twice = a(&[("client_id", "c"), ("scope", "openid"), ("scope", "admin"), ("nonce", &long)]).unwrap();
        let flaw = twice.flaw().unwrap();
        assert_eq!(flaw.code, super::super::error::ErrorCode::InvalidRequest);
        assert!(flaw.description.contains("scope"), "the first problem is the one told");
        assert_eq!((twice.get("client_id"), twice.get("scope"), twice.get("nonce")), (Some("c"), Some("openid"), None));
        assert!(twice.is_flawed());
        assert!(!a(&[("client_id", "c")]).unwrap().is_flawed());
    }

    #[test]
    fn resource_may_repeat_and_is_noted() {
        let params = p(&[("resource", "https://a.example/"), ("resource", "https://b.example/")]).unwrap();
        assert!(params.names_several_resources());
        assert_eq!(params.get("resource"), Some("https://a.example/"));
        assert!(!p(&[("resource", "https://a.example/")]).unwrap().names_several_resources());
        let params = p(&[("audience", "a"), ("audience", "b")]).unwrap();
        assert!(params.names_several_audiences() && !params.names_several_resources());
        assert_eq!(params.get("audience"), Some("a"));
        assert!(!p(&[("audience", "a")]).unwrap().names_several_audiences());
    }

    #[test]
    fn empty_values_are_absent_and_limits_hold() {
        let params = p(&[("a", ""), ("b", "1")]).unwrap();
        assert_eq!(params.get("a"), None);
        assert_eq!(params.get("b"), Some("1"));
        assert!(p(&[("a", &"x".repeat(MAX_PARAM_LEN + 1))]).is_err());
        // Our own tokens may be longer: every parameter that carries one takes them.
        for name in TOKEN_PARAMS {
            assert!(p(&[(name, &"x".repeat(MAX_TOKEN_LEN))]).is_ok(), "{name}");
            assert!(p(&[(name, &"x".repeat(MAX_TOKEN_LEN + 1))]).is_err(), "{name}");
        }
        let many: Vec<(String, String)> = (0..=MAX_PARAMS).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(Params::from_pairs(many).is_err());
    }
}
