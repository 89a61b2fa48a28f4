//! `[mail]`: outgoing mail over SMTP (password reset and email verification links). Off unless `smtp_url` is set.
//!
//! `smtp_url` follows the `lettre` transport URL: `smtp://host:port` speaks plain SMTP, `?tls=required` on it
//! upgrades with STARTTLS and refuses a server that cannot, `?tls=opportunistic` upgrades when offered, and
//! `smtps://host:port` speaks TLS from the first byte. `user:password@` signs in; the password may come from
//! `smtp_password_file` instead. Credentials are refused over a connection that may stay in clear text.
use super::{invalid, ConfigError};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// `[mail]` as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMail {
    pub smtp_url: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    pub from: Option<String>,
    pub timeout_seconds: u64,
    pub retry_seconds: u64,
}

impl Default for RawMail {
    fn default() -> Self {
        Self { smtp_url: None, smtp_password_file: None, from: None, timeout_seconds: 10, retry_seconds: 10 }
    }
}

impl std::fmt::Debug for RawMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMail").field("from", &self.from).finish_non_exhaustive()
    }
}

/// Validated `[mail]` when mail is on. The URL (which may hold a password) and the password stay out of `Debug`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The transport URL as written (its password included, unless it comes from the file).
    pub smtp_url: SecretString,
    /// The password from `smtp_password_file`, which replaces the URL's.
    pub password: Option<SecretString>,
    /// The `From` of every mail, as a mailbox (`Name <address>` or `address`).
    pub from: String,
    /// The deadline of one delivery, connecting included; and of the deliveries left when the server stops.
    pub timeout: Duration,
    /// The wait before the first retry of a delivery that failed for a reason that may pass; the second waits
    /// twice as long.
    pub first_retry: Duration,
}

impl RawMail {
    /// `None` when mail is off (no `smtp_url`, or an empty one).
    pub fn validate(self) -> Result<Option<MailSettings>, ConfigError> {
        let Some(raw_url) = self.smtp_url.filter(|u| !u.is_empty()) else {
            if self.smtp_password_file.is_some() {
                return Err(invalid("mail.smtp_password_file", "is set without `mail.smtp_url`"));
            }
            return Ok(None);
        };
        // The parse error may quote the URL, password and all: say only that it is not one.
        let url = Url::parse(&raw_url).map_err(|_| invalid("mail.smtp_url", "is not a URL"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("mail.smtp_url", "must name the SMTP server's host"));
        }
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let clear_possible = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => false,
            ("smtp", Some("required")) => false,
            ("smtp", None | Some("opportunistic")) => true,
            ("smtp", Some(_)) => {
                return Err(invalid(
                    "mail.smtp_url",
                    "has a `tls` parameter that is neither required nor opportunistic",
                ))
            }
            ("smtps", Some(_)) => return Err(invalid("mail.smtp_url", "must not have `tls` with smtps://")),
            _ => return Err(invalid("mail.smtp_url", "must start with smtp:// or smtps://")),
        };
        let password = match (&self.smtp_password_file, url.password()) {
            (Some(_), Some(_)) => {
                return Err(invalid("mail.smtp_password_file", "is set and `mail.smtp_url` has a password; set one"))
            }
            (Some(_), None) if url.username().is_empty() => {
                return Err(invalid("mail.smtp_password_file", "needs a user name in `mail.smtp_url` (user@host)"))
            }
            (Some(path), None) => Some(SecretString::from(
                std::fs::read_to_string(path)
                    .map_err(|e| invalid("mail.smtp_password_file", format!("cannot be read: {e}")))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            )),
            (None, _) => None,
        };
        let credentials = !url.username().is_empty() || password.is_some();
        if credentials && clear_possible {
            return Err(invalid(
                "mail.smtp_url",
                "has credentials over a connection that may stay unencrypted: use smtps:// or ?tls=required",
            ));
        }
        let from = self.from.filter(|f| !f.trim().is_empty()).ok_or_else(|| {
            invalid(
                "mail.from",
                "must be set when `mail.smtp_url` is (the sender, like \"Tessera <no-reply@example.com>\")",
            )
        })?;
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("mail.from", "is not a mailbox (an address, or `Name <address>`)"));
        }
        if !(1..=120).contains(&self.timeout_seconds) {
            return Err(invalid("mail.timeout_seconds", "must be from 1 to 120"));
        }
        if !(1..=300).contains(&self.retry_seconds) {
            return Err(invalid("mail.retry_seconds", "must be from 1 to 300"));
        }
        Ok(Some(MailSettings {
            smtp_url: SecretString::from(raw_url),
            password,
            from,
            timeout: Duration::from_secs(self.timeout_seconds),
            first_retry: Duration::from_secs(self.retry_seconds),
        }))
    }
}
