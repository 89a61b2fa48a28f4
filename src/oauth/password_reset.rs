//! "Forgot your password?": a link by mail that lets the owner of an account's address set a new password.
//!
//! A request names accounts by username or email address (text that is both names the accounts of each), and is
//! answered the same whether a mail went out or not, and as fast (the accounts are looked up after the answer), so the
//! form tells nobody which accounts exist. Every request counts on the client IP's limit, and each mail on the
//! account's (`limits.password_reset_*`), so the form cannot flood a mailbox. Accounts without an address, disabled
//! ones and those without a password (a federated sign-in made them: their password is the upstream provider's) get no
//! mail.
//!
//! The link is a [`super::mail_link`]: the cache keeps the hash of its token, with the account and the SHA-256 of the
//! password hash it was made for and of the address it was mailed to, for `passwords.reset_link_seconds`. Using the
//! link writes the new password only over the hash it was made for, so a link stops working once the password changed
//! by any way. A reset signs the user out everywhere, as an operator's `tessera users revoke` does (back-channel
//! notices included), and lifts the sign-in lock of the name: the guesses that locked it were at a password that is no
//! more.
use super::audit::{EventFacts, RequestMeta};
use super::cache_keys;
use super::error::OAuthError;
use super::limits::Limited;
use super::mail::{html, Mail, ResetHtml};
use super::mail_link::LinkToken;
use super::password_change::{owner, PasswordRule};
use super::provider::Provider;
use crate::domain::password::{Password, NO_PASSWORD};
use crate::domain::secret::SecretHash;
use crate::domain::{UnixTime, User, UserId, Username};
use crate::i18n::Locale;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;
use tracing::Instrument;

/// The most accounts one email address may name: each gets its own mail.
const MAX_ACCOUNTS_PER_ADDRESS: i64 = 5;

/// The cache entry of a live link.
#[derive(Serialize, Deserialize)]
struct ResetRecord {
    user: String,
    /// SHA-256 of the password hash the link was made for.
    password: String,
    /// SHA-256 of the address the link was mailed to: a link is void once the account's address changed, as a
    /// verification link is (one that an earlier release mailed has none, and is not held to it).
    #[serde(default)]
    address: Option<String>,
    /// The sign-in the request came from, to lead back to once the password is set.
    #[serde(default)]
    from: Option<ResetFrom>,
}

/// The sign-in a reset request came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetFrom {
    /// A pending authorization, by interaction id.
    Authorization(String),
    /// The account page's.
    Account,
    /// The device verification page's, with the user code it was opened for.
    Device(String),
}

/// Who asks for a link, for the limits and the audit trail.
#[derive(Debug)]
pub struct ResetRequestContext<'a> {
    /// The client IP.
    pub ip: Option<IpAddr>,
    /// The sign-in the form belongs to.
    pub from: Option<ResetFrom>,
    /// The request, for the audit trail.
    pub meta: &'a RequestMeta,
    /// The language of the page that asked, which the mail is written in.
    pub locale: Locale,
}

/// The outcome of [`Provider::request_password_reset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequested {
    /// The request was taken: a mail went out if the account exists and may have one. The page says only that.
    Taken,
    /// Too many requests from this IP (`limits.password_reset_ip_requests`).
    Limited(Limited),
}

/// The outcome of [`Provider::reset_password`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordReset {
    /// The new password is stored and the user signed out everywhere.
    Done {
        /// The sign-in the request came from, if known.
        from: Option<ResetFrom>,
    },
    /// The new password breaks a rule of the account page's: the link is still live.
    Refused(PasswordRule),
    /// The link is unknown, expired, used, or for a password changed since.
    Invalid,
}

/// The token of a reset link.
pub type ResetToken = LinkToken;

/// The mail with the link `link`, valid for `seconds`, in `locale`.
fn reset_mail(user: &User, to: String, link: &str, seconds: i64, locale: Locale) -> Result<Mail, OAuthError> {
    let t = &locale.texts().mail;
    let minutes = (seconds / 60).max(1);
    let (name, username) = (user.name.as_deref().unwrap_or(user.username.as_str()), user.username.as_str());
    let lasts = t.minutes.with(minutes);
    let body = [
        t.hello.with(name),
        String::new(),
        t.reset_asked.with(username),
        t.reset_open.with(&lasts),
        String::new(),
        link.to_owned(),
        String::new(),
        t.reset_once.to_owned(),
        t.reset_ignore.to_owned(),
    ];
    Ok(Mail {
        to,
        subject: t.reset_subject.into(),
        body: body.join("\n") + "\n",
        html: html(&ResetHtml { lang: locale.tag(), t, title: t.reset_subject, name, username, link, lasts: &lasts })?,
    })
}

impl Provider {
    /// Whether mail can be sent, and so whether passwords can be reset by mail.
    pub fn mail_on(&self) -> bool {
        self.mailer.is_some()
    }

    /// The accounts `who` names: the one of that username, and those of that email address when it looks like one.
    /// With their password hashes. Both, since a username may look like an address: one made as "alice@…" must not
    /// keep the owner of that address from their own account's link.
    async fn accounts_named(&self, who: &str) -> Result<Vec<(User, String)>, OAuthError> {
        let mut accounts = Vec::new();
        if let Ok(username) = Username::parse(who) {
            accounts.extend(self.users.user_by_username(&username).await?);
        }
        if !who.contains('@') {
            return Ok(accounts);
        }
        for user in self.identities.users_with_email(who, MAX_ACCOUNTS_PER_ADDRESS).await? {
            if accounts.iter().any(|(named, _)| named.id == user.id) {
                continue;
            }
            if let Some(found) = self.users.user_by_username(&user.username).await? {
                accounts.push(found);
            }
        }
        Ok(accounts)
    }

    /// Takes a request for reset links for the accounts `who` names (see the module's documentation). Past the
    /// IP's limit it is refused; otherwise the accounts are looked up and mailed in a task of their own, so that
    /// neither the answer nor its timing depends on them. The caller checks that mail is on.
    pub async fn request_password_reset(
        self: &Arc<Self>,
        who: &str,
        cx: ResetRequestContext<'_>,
        now: UnixTime,
    ) -> Result<ResetRequested, OAuthError> {
        if let Err(limited) = self.limits.check_password_reset_ip(cx.ip, now).await {
            return Ok(ResetRequested::Limited(limited));
        }
        let (provider, who, from, meta) = (Arc::clone(self), who.trim().to_owned(), cx.from, cx.meta.clone());
        let locale = cx.locale;
        let send = async move {
            if let Err(e) = provider.send_reset_links(&who, from, &meta, locale, now).await {
                tracing::error!(error = ?e, "a password reset request could not be served");
            }
        };
        tokio::spawn(send.instrument(tracing::Span::current()));
        Ok(ResetRequested::Taken)
    }

    /// Sends a reset link to each account `who` names that may have one, within its limit, in `locale`. Audited as
    /// `password_reset_requested`, per mail.
    async fn send_reset_links(
        &self,
        who: &str,
        from: Option<ResetFrom>,
        meta: &RequestMeta,
        locale: Locale,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let Some(mailer) = &self.mailer else { return Ok(()) };
        for (user, hash) in self.accounts_named(who).await? {
            let Some(to) = user.email.clone().filter(|_| !user.disabled && hash != NO_PASSWORD) else { continue };
            if self.limits.check_password_reset_account(user.username.as_str(), now).await.is_err() {
                continue;
            }
            let record = ResetRecord {
                user: user.id.as_str().to_owned(),
                password: SecretHash::of(&hash).as_str().to_owned(),
                address: Some(SecretHash::of(&to).as_str().to_owned()),
                from: from.clone(),
            };
            let (path, key) = (super::discovery::paths::LOGIN_RESET, cache_keys::password_reset);
            let link = self.new_mail_link(path, key, &record, self.password_reset_link, locale).await?;
            let mail = reset_mail(&user, to, &link, self.password_reset_link, locale)?;
            let facts = EventFacts {
                actor: Some(user.id.as_str().to_owned()),
                user_id: Some(user.id.as_str().to_owned()),
                client_id: None,
                details: json!({ "username": user.username.as_str() }),
            };
            self.audit("password_reset_requested", facts, meta, now).await;
            mailer.send(mail);
        }
        Ok(())
    }

    /// The enabled account of a live link's `record`, with its password hash, while that and its address are still
    /// the ones the link was made for.
    async fn reset_account(&self, record: &ResetRecord) -> Result<Option<(User, String)>, OAuthError> {
        let Ok(user_id) = UserId::parse(&record.user) else { return Ok(None) };
        let Some(user) = self.users.user_by_id(&user_id).await?.filter(|u| !u.disabled) else { return Ok(None) };
        let mailed_there = |address: &String| {
            user.email.as_deref().is_some_and(|now| SecretHash::from_stored(address.clone()).matches(now))
        };
        if !record.address.as_ref().is_none_or(mailed_there) {
            return Ok(None);
        }
        let found = self.users.user_by_username(&user.username).await?.filter(|(u, _)| u.id == user.id);
        Ok(found.filter(|(_, stored)| SecretHash::from_stored(record.password.clone()).matches(stored)))
    }

    /// Whether `token` is a live link's.
    pub async fn reset_link_live(&self, token: &ResetToken) -> Result<bool, OAuthError> {
        self.mail_link_live(token, cache_keys::password_reset).await
    }

    /// Sets the password of the link's account to `new` (typed twice alike, held to the account page's rules),
    /// using up the link; signs the user out everywhere. Audited as `password_reset`.
    pub async fn reset_password(
        &self,
        token: &ResetToken,
        new: Password,
        again: &Password,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<PasswordReset, OAuthError> {
        // A refusal for the password keeps the link (the rules need its account, so it is read, not taken, until
        // the password passed); an invalid link is said so before the password is judged.
        let key = cache_keys::password_reset;
        let Some(record) = self.peek_mail_link::<ResetRecord>(token, key).await? else {
            return Ok(PasswordReset::Invalid);
        };
        let Some((user, stored)) = self.reset_account(&record).await? else { return Ok(PasswordReset::Invalid) };
        let new = match self.password_policy.check_new(new, again, owner(&user)) {
            Ok(new) => new,
            Err(rule) => return Ok(PasswordReset::Refused(rule)),
        };
        // The user does not know the current password: with a history kept, it is one of those refused.
        let earlier = self.earlier_passwords(&user.id, &stored, true).await?;
        let checker = Arc::clone(&self.password_checker);
        let ran = self
            .password_pool
            .run(move || match earlier.refusal(&checker, &new) {
                Some(rule) => Ok(Err(rule)),
                None => checker.rehash(&new).map(Ok),
            })
            .await
            .map_err(OAuthError::server)?
            .map_err(OAuthError::server)?;
        let hash = match ran {
            Ok(hash) => hash,
            Err(rule) => return Ok(PasswordReset::Refused(rule)),
        };
        // Taken only now, and written only over the hash the link was made for: a second use, or a change
        // meanwhile, finds nothing to do.
        if self.take_mail_link::<ResetRecord>(token, key).await?.is_none()
            || !self.users.change_password_hash(&user.id, &stored, hash, now).await?
        {
            return Ok(PasswordReset::Invalid);
        }
        self.limits.password_reset(user.username.as_str(), now).await;
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "username": user.username.as_str() }),
        };
        self.audit("password_reset", facts, meta, now).await;
        self.revoke_user_by(user.id.as_str(), &user.id, meta, now).await?;
        Ok(PasswordReset::Done { from: record.from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_carries_the_link_and_its_lifetime_but_debug_shows_neither() {
        let user = User {
            id: UserId::generate(),
            username: Username::parse("alice").unwrap(),
            email: Some("alice@example.com".into()),
            email_verified: false,
            name: None,
            disabled: false,
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            password_change_required: false,
        };
        let link = "https://id.example/login/reset?token=T0K3N";
        let mail = reset_mail(&user, "alice@example.com".into(), link, 1800, Locale::En).unwrap();
        assert!(mail.body.contains(link));
        assert!(mail.body.contains("30 minutes") && mail.body.contains("alice"));
        assert!(
            mail.html.contains(&format!("<a href=\"{link}\"")) && mail.html.contains("30 minutes"),
            "{}",
            mail.html
        );
        let shown = format!("{mail:?}");
        assert!(!shown.contains("T0K3N") && !shown.contains("alice@"), "{shown}");
        // English says what it said before the mails had languages.
        assert_eq!(
            mail.body,
            format!(
                "Hello alice,\n\nsomeone, probably you, asked to reset the password of your account alice.\n\
                 To choose a new password, open this link within 30 minutes:\n\n{link}\n\n\
                 The link works once. Setting a new password signs you out everywhere.\n\
                 If you did not ask for this, ignore this mail: your password stays as it is.\n"
            )
        );
        assert!(mail.html.contains("<html lang=\"en\">"), "{}", mail.html);
    }

    #[test]
    fn the_mail_is_written_in_the_language_asked_for_with_its_values_escaped() {
        let user = User {
            id: UserId::generate(),
            username: Username::parse("<b>alice</b>").unwrap(),
            email: Some("alice@example.com".into()),
            email_verified: false,
            name: Some("Ärger & Co".into()),
            disabled: false,
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            password_change_required: false,
        };
        let link = "https://id.example/login/reset?token=T0K3N&x=1";
        let mail = reset_mail(&user, "alice@example.com".into(), link, 1800, Locale::De).unwrap();
        assert_eq!(mail.subject, "Passwort zurücksetzen");
        assert!(mail.body.starts_with("Hallo Ärger & Co,\n\njemand, vermutlich Sie,"), "{}", mail.body);
        assert!(mail.body.contains("innerhalb von 30 Minuten:\n\nhttps://id.example/"), "{}", mail.body);
        assert!(
            mail.html.contains("<html lang=\"de\">") && mail.html.contains("Hallo Ärger &#38; Co,"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("<strong>&#60;b&#62;alice&#60;/b&#62;</strong>"), "{}", mail.html);
        assert!(!mail.html.contains("<b>alice"), "{}", mail.html);
        let fr = reset_mail(&user, "alice@example.com".into(), link, 1800, Locale::Fr).unwrap();
        assert!(
            fr.subject == "Réinitialiser votre mot de passe" && fr.body.contains("dans les 30 minutes :"),
            "{fr:?}"
        );
    }
}
