//! Finding users and audit events: the filters of `GET /admin/api/users` and `GET /admin/api/audit`, and of
//! `tessera users list` and `tessera audit list`, checked here for both edges. A filter given with an empty value
//! is refused rather than taken as absent (as other parameters are): an empty search is a mistake, and listing
//! everyone instead would hide it.
use super::{check_email, parse_username, AdminError, MAX_EMAIL_LEN};
use crate::oauth::params::Params;
use crate::storage::UserFilter;

/// Longest search text, in bytes: the longest email address (a username is shorter).
pub const MAX_SEARCH_LEN: usize = MAX_EMAIL_LEN;
/// Most event types one listing names.
pub const MAX_EVENT_TYPES: usize = 20;
/// Longest event type, in bytes.
const MAX_EVENT_TYPE_LEN: usize = 64;

/// A filter's value in `params`: `Some("")` when it was given empty, which the filters here refuse
/// ([`Params::get`] takes it as absent).
pub(super) fn filter_param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    if params.given_empty(name) {
        Some("")
    } else {
        params.get(name)
    }
}

fn not_empty(name: &str, value: &str) -> Result<(), AdminError> {
    if value.is_empty() {
        return Err(AdminError::Invalid(format!("{name} must not be empty")));
    }
    Ok(())
}

/// Which users to list: `username`, the one a sign-in by that name finds (any letter case and Unicode form);
/// `email`, an address in any letter case; `search`, text that begins their username or email address
/// ([`UserFilter::prefix`]), at most [`MAX_SEARCH_LEN`] bytes without control characters.
pub fn user_filter(
    username: Option<&str>,
    email: Option<&str>,
    search: Option<&str>,
) -> Result<UserFilter, AdminError> {
    let username = username
        .map(|u| {
            not_empty("username", u)?;
            parse_username(u)
        })
        .transpose()?;
    let email = email
        .map(|e| {
            not_empty("email", e)?;
            check_email(e).map(|()| e.to_owned())
        })
        .transpose()?;
    let prefix = search
        .map(|s| {
            not_empty("search", s)?;
            if s.len() > MAX_SEARCH_LEN {
                return Err(AdminError::Invalid(format!("search must be at most {MAX_SEARCH_LEN} bytes")));
            }
            if s.chars().any(char::is_control) {
                return Err(AdminError::Invalid("search must not contain control characters".into()));
            }
            Ok(s.to_owned())
        })
        .transpose()?;
    Ok(UserFilter { username, email, prefix })
}

/// The event types to list, from values each naming one or more, comma-separated (`login_failed,admin_refused`):
/// names of lowercase ASCII letters, digits and `_`, at most [`MAX_EVENT_TYPES`] different ones. A type no event
/// has is no error (older releases recorded kinds this one no longer does); it finds nothing.
pub fn event_types<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, AdminError> {
    let mut types: Vec<String> = Vec::new();
    for value in values {
        for t in value.split(',') {
            not_empty("type", t)?;
            let shaped = t.len() <= MAX_EVENT_TYPE_LEN
                && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !shaped {
                let shown: String = t.chars().take(MAX_EVENT_TYPE_LEN).filter(|c| !c.is_control()).collect();
                return Err(AdminError::Invalid(format!(
                    "type {shown:?} is not an event type (lowercase letters, digits and _, such as login_failed)"
                )));
            }
            if !types.iter().any(|known| known == t) {
                types.push(t.to_owned());
            }
        }
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(AdminError::Invalid(format!("type names at most {MAX_EVENT_TYPES} event types")));
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_filters_refuse_empty_oversized_and_malformed_values() {
        let f = user_filter(Some("Alice"), Some("A@Example.com"), Some("al%_")).unwrap();
        assert_eq!(f.username.unwrap().as_str(), "Alice");
        assert_eq!((f.email.as_deref(), f.prefix.as_deref()), (Some("A@Example.com"), Some("al%_")));
        let none = user_filter(None, None, None).unwrap();
        assert!(none.username.is_none() && none.email.is_none() && none.prefix.is_none());
        let long = "a".repeat(MAX_SEARCH_LEN + 1);
        let bad_usernames = [String::new(), "a".repeat(65), " bob".into()];
        for u in &bad_usernames {
            assert!(matches!(user_filter(Some(u), None, None), Err(AdminError::Invalid(_))), "{u:?}");
        }
        for e in ["", "bob", "a@b\n", &format!("{long}@example.com")] {
            assert!(matches!(user_filter(None, Some(e), None), Err(AdminError::Invalid(_))), "{e:?}");
        }
        for s in ["", "a\u{0}b", "\t", long.as_str()] {
            assert!(matches!(user_filter(None, None, Some(s)), Err(AdminError::Invalid(_))), "{s:?}");
        }
        assert!(user_filter(None, None, Some(&long[1..])).is_ok(), "the longest search");
    }

    #[test]
    fn event_types_are_comma_separated_names() {
        assert_eq!(event_types(["login_failed"]).unwrap(), ["login_failed"]);
        assert_eq!(
            event_types(["login_failed,admin_refused", "login_failed"]).unwrap(),
            ["login_failed", "admin_refused"],
            "named twice, listed once"
        );
        assert!(event_types([]).unwrap().is_empty());
        for bad in ["", ",", "login_failed,", "Login_Failed", "login failed", "login%", &"a".repeat(65)] {
            assert!(matches!(event_types([bad]), Err(AdminError::Invalid(_))), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_EVENT_TYPES).map(|n| format!("t{n}")).collect();
        assert!(event_types(many.iter().map(String::as_str)).is_err());
        assert!(event_types(many[1..].iter().map(String::as_str)).is_ok());
    }
}
