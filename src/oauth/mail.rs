//! Mail to users (password reset links), handed to a [`Mailer`] that delivers it off the request path.
use std::fmt;

/// A plain-text mail to one user. Its body holds a link that works as a password: `Debug` shows none of it.
pub struct Mail {
    /// The recipient's address, as stored on the account.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Delivers mail. `send` returns at once: delivery happens later, and its failures are logged and counted
/// there, never told to the request that asked (which must answer the same whether a mail went out or not).
pub trait Mailer: Send + Sync {
    /// Queues `mail` for delivery.
    fn send(&self, mail: Mail);
}
