//! Outgoing mail over SMTP (`[mail]`, [`crate::config::MailSettings`]), with `lettre`'s tokio transport.
//!
//! Requests hand mail over and go on: each mail takes one of [`QUEUE`] places (none free: the mail is dropped)
//! and is delivered by a task of its own on the process's main runtime, which outlives the HTTP workers' own
//! runtimes. At most [`CONCURRENT_DELIVERIES`] talk to the SMTP server at once, each within
//! `mail.timeout_seconds` (connecting included). An attempt that fails for a reason that may pass (no connection,
//! a timeout, a 4xx reply) is made again after `mail.retry_seconds`, then twice that, [`ATTEMPTS`] in all; a
//! refusal (5xx) is not. A mail waiting for its retry holds no connection, so it keeps no other mail waiting. A
//! stopping server delivers what is left ([`Mailer::drain_within`]), its retries made without waiting.
//!
//! Logs and `tessera_mails_total` say what became of each mail, never its recipient, link or body; of the SMTP
//! server's reply only the code, as its text may quote the recipient. TLS is rustls with the web PKI roots, the
//! stack reqwest already uses here for outgoing HTTPS.
use crate::config::MailSettings;
use crate::metrics::{MailOutcome, Metrics};
use crate::oauth::mail::{Mail, Mailer};
use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Mails held at most, waiting for a connection or a retry; past it, new ones are dropped.
pub const QUEUE: usize = 256;
/// Deliveries talking to the SMTP server at once: a slow server is not held up by a single stuck mail, nor
/// flooded with connections.
pub const CONCURRENT_DELIVERIES: usize = 4;
/// Attempts at one mail at most.
pub const ATTEMPTS: u32 = 3;

/// Why the transport could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    /// `mail.smtp_url` or `mail.from` is not usable (config validation let it through).
    #[error("mail settings: {0}")]
    Settings(String),
}

/// What delivers each mail: the transport, and what its attempts share.
struct Courier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    metrics: Arc<Metrics>,
    /// One per delivery talking to the SMTP server.
    connections: Semaphore,
    first_retry: Duration,
}

/// Hands mail to delivery tasks, and drains them when the server stops.
pub struct SmtpMailer {
    courier: Arc<Courier>,
    /// Where the deliveries run: the process's main runtime.
    runtime: tokio::runtime::Handle,
    /// One per mail held; [`Mailer::drain_within`] waits until all are back.
    places: Arc<Semaphore>,
    /// Set once the server stops: retries are made at once.
    stopping: watch::Sender<bool>,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer").finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// The transport of `settings`, its deliveries run on `runtime`.
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
        let courier = Courier {
            transport: builder.build(),
            from,
            metrics,
            connections: Semaphore::new(CONCURRENT_DELIVERIES),
            first_retry: settings.first_retry,
        };
        Ok(Self {
            courier: Arc::new(courier),
            runtime: runtime.clone(),
            places: Arc::new(Semaphore::new(QUEUE)),
            stopping: watch::Sender::new(false),
        })
    }
}

/// The URL's user name as lettre decodes it; `None` when empty or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) {
        let Ok(place) = Arc::clone(&self.places).try_acquire_owned() else {
            self.courier.metrics.mail(MailOutcome::Dropped);
            tracing::warn!(event = "mail_dropped", "the mail queue is full: a mail was not sent");
            return;
        };
        let (courier, stopping) = (Arc::clone(&self.courier), self.stopping.subscribe());
        self.runtime.spawn(async move {
            courier.deliver(mail, stopping).await;
            drop(place);
        });
    }

    async fn drain_within(&self, limit: Duration) {
        self.stopping.send_replace(true);
        let all = u32::try_from(QUEUE).unwrap_or(u32::MAX);
        if tokio::time::timeout(limit, self.places.acquire_many(all)).await.is_err() {
            let left = QUEUE.saturating_sub(self.places.available_permits());
            tracing::warn!(event = "mail_undelivered", mails = left, "stopped with mails undelivered");
        }
    }
}

impl Courier {
    /// Delivers `mail`, retrying while a failure may pass; counts and logs what became of it.
    async fn deliver(&self, mail: Mail, mut stopping: watch::Receiver<bool>) {
        let (envelope, bytes) = match message(&self.from, mail) {
            Ok(message) => (message.envelope().clone(), message.formatted()),
            Err(why) => {
                tracing::warn!(event = "mail_failed", error = why, "a mail could not be built");
                self.metrics.mail(MailOutcome::Failed);
                return;
            }
        };
        for attempt in 1.. {
            let failure = match self.attempt(&envelope, &bytes).await {
                Ok(()) => {
                    self.metrics.mail(MailOutcome::Sent);
                    return;
                }
                Err(failure) => failure,
            };
            let Some(wait) = retry_delay(attempt, &failure, self.first_retry) else {
                tracing::warn!(event = "mail_failed", error = %failure, attempts = attempt, "a mail could not be delivered");
                self.metrics.mail(MailOutcome::Failed);
                return;
            };
            tracing::info!(event = "mail_retried", error = %failure, attempt, "a mail could not be delivered yet");
            self.metrics.mail(MailOutcome::Retried);
            // A stopping server has no time to wait: the retry is made at once (`Err`: the mailer is gone).
            let stop = async { stopping.wait_for(|stopping| *stopping).await.map(|_| ()) };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop => {}
            }
        }
    }

    /// One attempt, on one of the connections.
    async fn attempt(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), Failure> {
        // Never closed: the permit is in the `Ok`, held until the attempt ends.
        let _connection = self.connections.acquire().await;
        match self.transport.send_raw(envelope, bytes).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Failure::of(&e)),
        }
    }
}

/// Why an attempt failed, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No connection, no answer in time, or a 4xx reply: worth another attempt.
    Transient(String),
    /// A 5xx reply, or a failure another attempt would meet again (TLS, an unreadable reply).
    Permanent(String),
}

impl Failure {
    /// The failure of `e`, described by its kind and the reply's code only.
    fn of(e: &lettre::transport::smtp::Error) -> Self {
        match e.status() {
            Some(code) if e.is_transient() => Self::Transient(format!("the SMTP server answered {code}")),
            Some(code) => Self::Permanent(format!("the SMTP server answered {code}")),
            None if e.is_response() => Self::Permanent("the SMTP server's reply could not be read".into()),
            // The rest hold no reply text: I/O errors, TLS, lettre's own.
            None if e.is_tls() || e.is_client() || e.is_transport_shutdown() => Self::Permanent(e.to_string()),
            None => Self::Transient(e.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transient(why) | Self::Permanent(why) => f.write_str(why),
        }
    }
}

/// The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed with `failure`; `None`: give up.
fn retry_delay(attempt: u32, failure: &Failure, first: Duration) -> Option<Duration> {
    match failure {
        Failure::Transient(_) if attempt < ATTEMPTS => Some(first.saturating_mul(1 << (attempt - 1).min(16))),
        _ => None,
    }
}

/// The message of `mail`: its text and HTML as alternatives of one another, the text first (RFC 2046 §5.1.4:
/// the richer part last).
fn message(from: &Mailbox, mail: Mail) -> Result<Message, &'static str> {
    let to: Mailbox = mail.to.parse().map_err(|_| "the recipient's address is not a mailbox")?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .multipart(MultiPart::alternative_plain_html(mail.body, mail.html))
        .map_err(|_| "the message could not be assembled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_failures_are_retried_with_backoff_and_refusals_not() {
        let first = Duration::from_secs(10);
        let transient = Failure::Transient("the SMTP server answered 451".into());
        assert_eq!(retry_delay(1, &transient, first), Some(Duration::from_secs(10)));
        assert_eq!(retry_delay(2, &transient, first), Some(Duration::from_secs(20)));
        assert_eq!(retry_delay(ATTEMPTS, &transient, first), None, "given up after the last attempt");
        assert_eq!(retry_delay(1, &Failure::Permanent("the SMTP server answered 550".into()), first), None);
    }

    #[test]
    fn a_mail_is_text_and_html_alternatives() {
        let from: Mailbox = "Tessera <id@example.com>".parse().unwrap();
        let mail = Mail {
            to: "alice@example.com".into(),
            subject: "Reset your password".into(),
            body: "the text".into(),
            html: "<p>the html</p>".into(),
        };
        let text = String::from_utf8(message(&from, mail).unwrap().formatted()).unwrap();
        assert!(text.contains("Content-Type: multipart/alternative"), "{text}");
        let (plain, html) =
            (text.find("Content-Type: text/plain").unwrap(), text.find("Content-Type: text/html").unwrap());
        assert!(plain < html, "{text}");
    }
}
