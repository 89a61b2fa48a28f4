//! Authentication context classes (`acr`, OIDC Core §2, §3.1.2.1, §5.5.1.1): how strongly a session's user
//! authenticated, as one of two levels named as Keycloak numbers its levels of authentication by default.
//! `"1"`: one factor (a password, or an upstream provider's sign-in); `"2"`: two (a password and a TOTP code,
//! or a passkey with user verification). A session's level comes from its `amr`, which is stored already, and
//! a higher level satisfies a request for a lower one.
use serde::{Deserialize, Serialize};

/// The `acr` values this server issues and understands, lowest first (`acr_values_supported`).
pub const ACR_VALUES: [&str; 2] = ["1", "2"];

/// Longest `acr_values` parameter, in bytes.
pub const MAX_ACR_VALUES_LEN: usize = 512;

/// Whether `values` (a client's `default_acr_values`) name levels this server issues, each once.
pub fn valid_defaults(values: &[String]) -> bool {
    values.iter().enumerate().all(|(i, v)| ACR_VALUES.contains(&v.as_str()) && !values[..i].contains(v))
}

/// A level of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// One factor.
    #[serde(rename = "1")]
    One,
    /// Two factors.
    #[serde(rename = "2")]
    Two,
}

impl Level {
    /// The level `value` names; `None` for a value this server does not issue.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "1" => Some(Self::One),
            "2" => Some(Self::Two),
            _ => None,
        }
    }

    /// Its `acr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::One => "1",
            Self::Two => "2",
        }
    }

    /// The level a sign-in with these methods (`amr`, RFC 8176) reached: two with a code (`otp`) or a
    /// multi-factor method (`mfa`, a user-verifying passkey's); `None` when no sign-in is known (the refresh of a
    /// grant stored before its `amr` was kept).
    pub fn of_amr(amr: &[String]) -> Option<Self> {
        if amr.is_empty() {
            None
        } else if amr.iter().any(|m| m == "otp" || m == "mfa") {
            Some(Self::Two)
        } else {
            Some(Self::One)
        }
    }
}

/// The levels an authorization request accepts: from the `claims` parameter's `acr` (essential or not), else
/// `acr_values` (voluntary, OIDC Core §3.1.2.1), else the client's `default_acr_values` (voluntary).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrRequest {
    /// The acceptable levels, in the request's order of preference; values this server does not issue are
    /// left out (an essential request of those only cannot be met).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Level>,
    /// Asked for as an essential claim: a session that cannot reach a level asked for ends the request with
    /// `unmet_authentication_requirements` rather than proceeding at its own level.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
}

impl AcrRequest {
    /// Values asked for, voluntarily (`acr_values`, `default_acr_values`).
    pub fn voluntary<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Self { values: values.into_iter().filter_map(Level::parse).collect(), essential: false }
    }

    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && !self.essential
    }

    /// Whether a session at `level` satisfies it: one of the accepted levels or a higher one. An empty request
    /// accepts any; an essential one of only unknown values none.
    pub fn accepts(&self, level: Option<Level>) -> bool {
        if self.is_empty() {
            return true;
        }
        level.is_some_and(|l| self.values.iter().any(|v| l >= *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(methods: &[&str]) -> Vec<String> {
        methods.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn the_level_comes_from_the_sign_in_methods() {
        assert_eq!(Level::of_amr(&amr(&["pwd"])), Some(Level::One));
        assert_eq!(Level::of_amr(&amr(&["fed"])), Some(Level::One));
        assert_eq!(Level::of_amr(&amr(&["pwd", "otp"])), Some(Level::Two));
        assert_eq!(Level::of_amr(&amr(&["pop", "mfa"])), Some(Level::Two));
        assert_eq!(Level::of_amr(&[]), None);
        assert_eq!(ACR_VALUES, [Level::One.as_str(), Level::Two.as_str()]);
    }

    #[test]
    fn default_values_are_known_levels_each_once() {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(valid_defaults(&v(&[])) && valid_defaults(&v(&["2", "1"])));
        assert!(!valid_defaults(&v(&["1", "1"])) && !valid_defaults(&v(&["silver"])));
    }

    #[test]
    fn a_higher_level_satisfies_a_request_for_a_lower_one() {
        let one = AcrRequest::voluntary(["1"]);
        let two = AcrRequest::voluntary(["2"]);
        assert!(one.accepts(Some(Level::One)) && one.accepts(Some(Level::Two)));
        assert!(!two.accepts(Some(Level::One)) && two.accepts(Some(Level::Two)));
        assert!(AcrRequest::voluntary(["2", "1"]).accepts(Some(Level::One)), "any accepted value will do");
        assert!(!one.accepts(None));
        assert!(AcrRequest::default().accepts(None));
        // Unknown values are left out: asked for voluntarily, nothing is asked; essentially, nothing satisfies.
        assert!(AcrRequest::voluntary(["urn:mace:incommon:iap:silver"]).is_empty());
        let unknown = AcrRequest { values: vec![], essential: true };
        assert!(!unknown.accepts(Some(Level::Two)));
    }
}
