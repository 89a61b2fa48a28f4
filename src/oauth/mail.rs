//! Mail to users (password reset and email verification links, and the notice that an account was deleted), handed
//! to a [`Mailer`] that delivers it off the request path. Each mail is plain text and HTML (`multipart/alternative`):
//! the HTML part says the same words, with the link (if any) as a link, from askama templates in `templates/mail/`
//! that escape every value, load nothing remote and run no script.
use super::error::OAuthError;
use crate::i18n::Mail as MailTexts;
use askama::Template;
use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

/// A mail to one user. Its body holds a link that works as a password: `Debug` shows none of it.
pub struct Mail {
    /// The recipient's address, as stored on the account.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The HTML body: the plain-text one's words and link.
    pub html: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Delivers mail. `send` returns at once: delivery happens later, and its failures are logged and counted
/// there, never told to the request that asked (which must answer the same whether a mail went out or not).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Queues `mail` for delivery.
    fn send(&self, mail: Mail);

    /// For a server that stops: delivers what is still queued or waiting for a retry, retrying without waiting,
    /// for at most `limit`; logs how many mails were left undelivered then.
    async fn drain_within(&self, limit: Duration);
}

/// The HTML part of the password reset mail.
#[derive(Template)]
#[template(path = "mail/reset.html")]
pub(super) struct ResetHtml<'a> {
    /// The mail's language (`<html lang>`).
    pub lang: &'static str,
    /// Its words.
    pub t: &'static MailTexts,
    /// The subject, as the heading.
    pub title: &'a str,
    /// Whom the mail greets: the display name, else the username.
    pub name: &'a str,
    /// The account's username.
    pub username: &'a str,
    /// The link.
    pub link: &'a str,
    /// How long the link works, in words.
    pub lasts: &'a str,
}

/// The HTML part of the email verification mail.
#[derive(Template)]
#[template(path = "mail/verify_email.html")]
pub(super) struct VerificationHtml<'a> {
    /// The mail's language (`<html lang>`).
    pub lang: &'static str,
    /// Its words.
    pub t: &'static MailTexts,
    /// The subject, as the heading.
    pub title: &'a str,
    /// Whom the mail greets: the display name, else the username.
    pub name: &'a str,
    /// The account's username.
    pub username: &'a str,
    /// The link.
    pub link: &'a str,
    /// How long the link works, in words.
    pub lasts: &'a str,
}

/// The HTML part of the notice that a user deleted their account: no link, nothing secret.
#[derive(Template)]
#[template(path = "mail/account_deleted.html")]
pub(super) struct DeletedHtml<'a> {
    /// The mail's language (`<html lang>`).
    pub lang: &'static str,
    /// Its words.
    pub t: &'static MailTexts,
    /// The subject, as the heading.
    pub title: &'a str,
    /// Whom the mail greets: the display name, else the username.
    pub name: &'a str,
    /// The account's username.
    pub username: &'a str,
}

/// Renders the HTML part of a mail.
pub(super) fn html(template: &impl Template) -> Result<String, OAuthError> {
    template.render().map_err(OAuthError::server)
}
