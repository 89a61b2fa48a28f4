//! Outgoing mail over SMTP (`[mail]`, [`crate::config::MailSettings`]), with `lettre`'s tokio transport.
//!
//! Requests hand mail to a bounded queue and go on: one task on the process's main runtime delivers it, one
//! mail at a time, each within `mail.timeout_seconds` (connecting included). A full queue drops the mail; a
//! failed delivery is not retried (the user asks again). Both are logged without the recipient, the subject's
//! link or the body, and counted in `tessera_mails_total`. TLS is rustls with the web PKI roots, the stack
//! reqwest already uses here for outgoing HTTPS.
use crate::config::MailSettings;
use crate::metrics::{MailOutcome, Metrics};
use crate::oauth::mail::{Mail, Mailer};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Mails waiting for delivery at most; past it, new ones are dropped.
pub const QUEUE: usize = 256;

/// Why the transport could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    /// `mail.smtp_url` or `mail.from` is not usable (config validation let it through).
    #[error("mail settings: {0}")]
    Settings(String),
}

/// Queues mail for the delivery task.
pub struct SmtpMailer {
    queue: mpsc::Sender<Mail>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// The transport of `settings`, its delivery task started on `runtime`.
    pub fn start(
        settings: &MailSettings,
        runtime: &tokio::runtime::Handle,
        metrics: Arc<Metrics>,
    ) -> Result<Self, MailSetupError> {
        let url = settings.smtp_url.expose_secret();
        // lettre's error may quote the URL, password and all.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailSetupError::Settings("mail.smtp_url is not a usable SMTP URL".into()))?
            .timeout(Some(settings.timeout));
        if let Some(password) = &settings.password {
            let user = url::Url::parse(url)
                .ok()
                .and_then(|u| percent_decode(u.username()))
                .ok_or_else(|| MailSetupError::Settings("mail.smtp_url has no user name".into()))?;
            builder = builder.credentials(Credentials::new(user, password.expose_secret().to_owned()));
        }
        let from: Mailbox =
            settings.from.parse().map_err(|_| MailSetupError::Settings("mail.from is not a mailbox".into()))?;
        let (queue, rx) = mpsc::channel(QUEUE);
        runtime.spawn(deliver(builder.build(), from, rx, Arc::clone(&metrics)));
        Ok(Self { queue, metrics })
    }
}

/// The URL's user name as lettre decodes it; `None` when empty or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) {
        if self.queue.try_send(mail).is_err() {
            self.metrics.mail(MailOutcome::Dropped);
            tracing::warn!(event = "mail_dropped", "the mail queue is full: a mail was not sent");
        }
    }
}

/// Delivers the queued mail, one at a time, until every sender is gone.
async fn deliver(
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    mut rx: mpsc::Receiver<Mail>,
    metrics: Arc<Metrics>,
) {
    while let Some(mail) = rx.recv().await {
        let outcome = match message(&from, mail) {
            Ok(message) => match transport.send(message).await {
                Ok(_) => MailOutcome::Sent,
                Err(e) => {
                    // The SMTP server's answer, or the connection's failure: neither holds the mail's body.
                    tracing::warn!(event = "mail_failed", error = %e, "a mail could not be delivered");
                    MailOutcome::Failed
                }
            },
            Err(why) => {
                tracing::warn!(event = "mail_failed", error = why, "a mail could not be built");
                MailOutcome::Failed
            }
        };
        metrics.mail(outcome);
    }
}

fn message(from: &Mailbox, mail: Mail) -> Result<Message, &'static str> {
    let to: Mailbox = mail.to.parse().map_err(|_| "the recipient's address is not a mailbox")?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)
        .map_err(|_| "the message could not be assembled")
}
