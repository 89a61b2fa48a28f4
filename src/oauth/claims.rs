//! The `claims` request parameter (OIDC Core §5.5): user claims asked for one by one, for the ID token
//! (`id_token`) or the UserInfo response (`userinfo`), in addition to those the scopes release.
//!
//! Parsed once, at the authorization endpoint (a query or form value, a pushed request's, or a request
//! object's member, where it is a JSON object). Only claims this server releases are kept ([`USER_CLAIMS`]);
//! other names are ignored (§5.5). `essential`, `value` and `values` are advisory for every claim but `sub` and
//! `acr` (§5.5.1): the real value is returned, or nothing when the user has none. `acr`'s `value` or `values`
//! are the authentication levels the request accepts ([`super::acr`], §5.5.1.1), essential or not. A `value` for
//! `sub` names the only user the request may be answered for: it is handled as the user an `id_token_hint`
//! names, so another user's session signs in again and `prompt=none` fails with `login_required`.
use super::acr::AcrRequest;
use super::error::OAuthError;
use crate::domain::claims::USER_CLAIMS;
use crate::domain::{ClaimNames, User};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Longest `claims` value, in bytes: far above what names every claim there is, well below the parameter limit.
pub const MAX_CLAIMS_LEN: usize = 4096;

/// A parsed `claims` parameter: the names this server releases, by where they go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims for the ID token.
    #[serde(default, skip_serializing_if = "ClaimNames::is_empty")]
    pub id_token: ClaimNames,
    /// Claims for the UserInfo response.
    #[serde(default, skip_serializing_if = "ClaimNames::is_empty")]
    pub userinfo: ClaimNames,
    /// The `value` asked for `sub`, if any; taken out at the authorization endpoint, never kept.
    #[serde(skip)]
    subject: Option<String>,
    /// The levels asked for as `acr`, if any; taken out at the authorization endpoint, never kept here.
    #[serde(skip)]
    acr: Option<AcrRequest>,
}

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description)
}

impl ClaimsRequest {
    /// Parses the parameter's value, a JSON object.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        if raw.len() > MAX_CLAIMS_LEN {
            return Err(invalid(format!("claims must be at most {MAX_CLAIMS_LEN} bytes")));
        }
        let value: Value =
            serde_json::from_str(raw).map_err(|_| invalid("claims must be a JSON object (it is not valid JSON)"))?;
        Self::from_value(&value)
    }

    /// Reads the parameter as a JSON value (a request object carries it so).
    pub fn from_value(value: &Value) -> Result<Self, OAuthError> {
        let Value::Object(members) = value else { return Err(invalid("claims must be a JSON object")) };
        let mut request = Self::default();
        for (target, wanted) in members {
            let names = match target.as_str() {
                "id_token" => &mut request.id_token,
                "userinfo" => &mut request.userinfo,
                _ => continue,
            };
            let Value::Object(wanted) = wanted else {
                return Err(invalid(format!("claims.{target} must be a JSON object")));
            };
            for (name, entry) in wanted {
                let value = checked_entry(target, name, entry)?;
                if name == "sub" {
                    if let Some(value) = value {
                        let value = value
                            .as_str()
                            .ok_or_else(|| invalid(format!("claims.{target}.sub.value must be a string")))?;
                        if request.subject.as_deref().is_some_and(|other| other != value) {
                            return Err(invalid("claims asks for two different values of sub"));
                        }
                        request.subject = Some(value.to_owned());
                    }
                    continue;
                }
                if name == "acr" {
                    if let Some(acr) = acr_entry(target, entry)? {
                        request.acr = Some(acr);
                    }
                    continue;
                }
                names.insert_known(name);
            }
        }
        Ok(request)
    }

    /// Whether it asks for no claim this server releases.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// Every claim it asks for, wherever it goes.
    pub fn names(&self) -> ClaimNames {
        self.id_token.union(&self.userinfo)
    }

    /// Asks for the claim `name` nowhere: it is not for this client.
    pub fn withhold(&mut self, name: &str) {
        self.id_token.remove(name);
        self.userinfo.remove(name);
    }

    /// Takes the levels it asks for as `acr`.
    pub fn take_acr(&mut self) -> Option<AcrRequest> {
        self.acr.take()
    }

    /// Takes the `value` it asks for `sub`.
    pub fn take_subject(&mut self) -> Option<String> {
        self.subject.take()
    }
}

/// Checks one claim's entry (OIDC Core §5.5.1): `null`, or an object whose `essential` is a boolean and whose
/// `values` is an array. Returns its `value`.
fn checked_entry<'a>(target: &str, name: &str, entry: &'a Value) -> Result<Option<&'a Value>, OAuthError> {
    let shown: String = name.chars().take(40).filter(|c| !c.is_control()).collect();
    match entry {
        Value::Null => Ok(None),
        Value::Object(request) => {
            if request.get("essential").is_some_and(|e| !e.is_boolean()) {
                return Err(invalid(format!("claims.{target}.{shown}.essential must be a boolean")));
            }
            if request.get("values").is_some_and(|v| !v.is_array()) {
                return Err(invalid(format!("claims.{target}.{shown}.values must be an array")));
            }
            Ok(request.get("value"))
        }
        _ => Err(invalid(format!("claims.{target}.{shown} must be null or a JSON object"))),
    }
}

/// The levels an `acr` entry accepts (OIDC Core §5.5.1.1): its `value`, or its `values` in order; `None` when
/// it names none (any level will do, as when it is not asked for).
fn acr_entry(target: &str, entry: &Value) -> Result<Option<AcrRequest>, OAuthError> {
    let Value::Object(request) = entry else { return Ok(None) };
    let bad = || invalid(format!("claims.{target}.acr values must be strings"));
    let values: Vec<&str> = match (request.get("value"), request.get("values")) {
        (Some(value), _) => vec![value.as_str().ok_or_else(bad)?],
        (None, Some(Value::Array(values))) => {
            values.iter().map(|v| v.as_str().ok_or_else(bad)).collect::<Result<_, _>>()?
        }
        _ => return Ok(None),
    };
    let essential = request.get("essential").and_then(Value::as_bool).unwrap_or(false);
    Ok(Some(AcrRequest { essential, ..AcrRequest::voluntary(values) }))
}

/// The value of the user claim `name` for `user`; `None` when the user has none (or it is not one of
/// [`USER_CLAIMS`], or it is `groups`, which [`super::groups`] reads apart).
fn claim_value(user: &User, name: &str) -> Option<Value> {
    match name {
        "name" => user.name.as_ref().map(|n| json!(n)),
        "preferred_username" => Some(json!(user.username.as_str())),
        "updated_at" => Some(json!(user.updated_at)),
        "email" => user.email.as_ref().map(|e| json!(e)),
        "email_verified" => user.email.as_ref().map(|_| json!(user.email_verified)),
        _ => None,
    }
}

/// Adds to `claims` the user claims that `released` says are released (by a scope's name, or by their own
/// name in `named`), those the user has.
pub fn add_user_claims(
    claims: &mut Map<String, Value>,
    user: &User,
    released: impl Fn(&str) -> bool,
    named: &ClaimNames,
) {
    for (name, scope) in USER_CLAIMS {
        if released(scope) || named.contains(name) {
            if let Some(value) = claim_value(user, name) {
                claims.insert(name.to_owned(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn names(n: &ClaimNames) -> Vec<&str> {
        n.iter().collect()
    }

    #[test]
    fn claims_are_kept_by_where_they_go_and_unknown_ones_are_ignored() {
        let raw = r#"{"id_token":{"email":{"essential":true},"acr":{"values":["x"]},"nickname":null},
            "userinfo":{"name":null,"email_verified":{"value":true},"groups":null},"other":42}"#;
        let r = ClaimsRequest::parse(raw).unwrap();
        assert_eq!(names(&r.id_token), ["email"]);
        assert_eq!(names(&r.userinfo), ["email_verified", "groups", "name"]);
        assert_eq!(names(&r.names()), ["email", "email_verified", "groups", "name"]);
        assert!(!r.is_empty());
        assert!(ClaimsRequest::parse(r#"{"id_token":{"acr":null}}"#).unwrap().is_empty());
        assert!(ClaimsRequest::parse("{}").unwrap().is_empty());
        let mut withheld = r.clone();
        withheld.withhold("groups");
        assert_eq!(names(&withheld.userinfo), ["email_verified", "name"]);
        assert_eq!(withheld.id_token, r.id_token);
    }

    #[test]
    fn acr_is_taken_out_as_the_levels_the_request_accepts() {
        use crate::oauth::acr::Level;
        let acr = |raw: &str| ClaimsRequest::parse(raw).unwrap().take_acr();
        let essential = acr(r#"{"id_token":{"acr":{"essential":true,"values":["2","x","1"]}}}"#).unwrap();
        assert_eq!((essential.values, essential.essential), (vec![Level::Two, Level::One], true));
        let one = acr(r#"{"id_token":{"acr":{"value":"2"}}}"#).unwrap();
        assert_eq!((one.values, one.essential), (vec![Level::Two], false));
        assert_eq!(acr(r#"{"id_token":{"acr":null}}"#), None);
        assert_eq!(acr(r#"{"id_token":{"acr":{"essential":true}}}"#), None, "any level will do");
        let unknown = acr(r#"{"id_token":{"acr":{"essential":true,"values":["gold"]}}}"#).unwrap();
        assert!(unknown.values.is_empty() && unknown.essential);
        let e = ClaimsRequest::parse(r#"{"id_token":{"acr":{"values":[2]}}}"#).unwrap_err();
        assert!(e.description.contains("acr values must be strings"), "{}", e.description);
        assert!(ClaimsRequest::parse(r#"{"id_token":{"acr":{"value":"2"}}}"#).unwrap().is_empty(), "kept apart");
    }

    #[test]
    fn malformed_claims_are_invalid_requests() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[]", "must be a JSON object"),
            (r#""id_token""#, "must be a JSON object"),
            (r#"{"id_token":[]}"#, "claims.id_token must be a JSON object"),
            (r#"{"userinfo":"email"}"#, "claims.userinfo must be a JSON object"),
            (r#"{"id_token":{"email":true}}"#, "claims.id_token.email must be null or a JSON object"),
            (r#"{"id_token":{"email":{"essential":"yes"}}}"#, "essential must be a boolean"),
            (r#"{"userinfo":{"name":{"values":"a"}}}"#, "values must be an array"),
            (r#"{"id_token":{"sub":{"value":7}}}"#, "sub.value must be a string"),
            (r#"{"id_token":{"sub":{"value":"a"}},"userinfo":{"sub":{"value":"b"}}}"#, "two different values"),
        ];
        for (raw, said) in cases {
            let e = ClaimsRequest::parse(raw).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{raw}");
            assert!(e.description.contains(said), "{raw}: {}", e.description);
        }
        let long = format!(r#"{{"id_token":{{"email":{{"value":"{}"}}}}}}"#, "x".repeat(MAX_CLAIMS_LEN));
        assert!(ClaimsRequest::parse(&long).unwrap_err().description.contains("at most"));
    }

    #[test]
    fn a_sub_value_is_taken_out_and_not_kept() {
        let mut r = ClaimsRequest::parse(r#"{"id_token":{"sub":{"value":"u1"},"email":null}}"#).unwrap();
        assert_eq!(r.take_subject().as_deref(), Some("u1"));
        assert_eq!(r.take_subject(), None);
        assert_eq!(ClaimsRequest::parse(r#"{"userinfo":{"sub":null}}"#).unwrap(), ClaimsRequest::default());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"id_token":"email"}"#);
        assert_eq!(serde_json::from_str::<ClaimsRequest>(&json).unwrap(), r);
    }
}
