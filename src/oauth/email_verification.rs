//! Email verification: a link by mail ([`super::mail_link`]) that marks the account's address verified, so that
//! `email_verified` is true in ID tokens and UserInfo. One goes out at sign-up, and the account page sends one
//! for an unverified address (`limits.email_verification_user_*` per account, the sign-up's mail included).
//!
//! The cache keeps the account and the SHA-256 of the address the link was sent to, for
//! `users.email_verification_link_seconds`. Using the link marks the address verified only while the account's
//! address is still that one (an operator may have changed it since), in one conditional write.
use super::audit::{EventFacts, RequestMeta};
use super::cache_keys;
use super::error::OAuthError;
use super::limits::Limited;
use super::mail::{html, Mail, VerificationHtml};
use super::mail_link::LinkToken;
use super::provider::Provider;
use crate::domain::secret::SecretHash;
use crate::domain::{UnixTime, User, UserId};
use crate::i18n::Locale;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The cache entry of a live link.
#[derive(Serialize, Deserialize)]
struct VerificationRecord {
    user: String,
    /// SHA-256 of the address the link was sent to.
    email: String,
}

/// The outcome of [`Provider::send_email_verification`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationSent {
    /// A link went out to the account's address.
    Sent,
    /// Nothing to send: mail is off, the account has no address, or it is verified already.
    Nothing,
    /// Too many links for this account (`limits.email_verification_user_*`).
    Limited(Limited),
}

/// The outcome of [`Provider::verify_email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerified {
    /// The address is marked verified.
    Done,
    /// The link is unknown, expired, used, or for an address the account no longer has.
    Invalid,
}

/// The mail with the link `link` for `to`, valid for `seconds`, in `locale`.
fn verification_mail(user: &User, to: String, link: &str, seconds: i64, locale: Locale) -> Result<Mail, OAuthError> {
    let t = &locale.texts().mail;
    let hours = seconds / 3600;
    let lasts = if hours >= 1 { t.hours.with(hours) } else { t.minutes.with((seconds / 60).max(1)) };
    let (name, username) = (user.name.as_deref().unwrap_or(user.username.as_str()), user.username.as_str());
    let body = [
        t.hello.with(name),
        String::new(),
        t.verify_open.with(username, &lasts),
        String::new(),
        link.to_owned(),
        String::new(),
        t.verify_once.to_owned(),
    ];
    let title = t.verify_subject;
    Ok(Mail {
        to,
        subject: title.into(),
        body: body.join("\n") + "\n",
        html: html(&VerificationHtml { lang: locale.tag(), t, title, name, username, link, lasts: &lasts })?,
    })
}

impl Provider {
    /// Mails `user` a link that verifies their address, within the account's limit, in `locale` (the language of
    /// the page that asked). Audited as `email_verification_sent`.
    pub async fn send_email_verification(
        &self,
        user: &User,
        meta: &RequestMeta,
        locale: Locale,
        now: UnixTime,
    ) -> Result<VerificationSent, OAuthError> {
        let (Some(mailer), Some(to)) = (&self.mailer, user.email.clone()) else { return Ok(VerificationSent::Nothing) };
        if user.email_verified || user.disabled {
            return Ok(VerificationSent::Nothing);
        }
        if let Err(limited) = self.limits.check_email_verification_account(user.username.as_str(), now).await {
            return Ok(VerificationSent::Limited(limited));
        }
        let record =
            VerificationRecord { user: user.id.as_str().to_owned(), email: SecretHash::of(&to).as_str().to_owned() };
        let (path, key) = (super::discovery::paths::LOGIN_VERIFY_EMAIL, cache_keys::email_verification);
        let link = self.new_mail_link(path, key, &record, self.email_verification_link, locale).await?;
        let mail = verification_mail(user, to, &link, self.email_verification_link, locale)?;
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "username": user.username.as_str() }),
        };
        self.audit("email_verification_sent", facts, meta, now).await;
        mailer.send(mail);
        Ok(VerificationSent::Sent)
    }

    /// Whether `token` is a live link's. Nothing is used up.
    pub async fn verification_link_live(&self, token: &LinkToken) -> Result<bool, OAuthError> {
        self.mail_link_live(token, cache_keys::email_verification).await
    }

    /// Uses up the link of `token` and marks its address verified if the account still has it. Audited as
    /// `email_verified`.
    pub async fn verify_email(
        &self,
        token: &LinkToken,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<EmailVerified, OAuthError> {
        let key = cache_keys::email_verification;
        let Some(record) = self.take_mail_link::<VerificationRecord>(token, key).await? else {
            return Ok(EmailVerified::Invalid);
        };
        let Ok(user_id) = UserId::parse(&record.user) else { return Ok(EmailVerified::Invalid) };
        let Some(user) = self.users.user_by_id(&user_id).await? else { return Ok(EmailVerified::Invalid) };
        let Some(email) = user.email.as_deref().filter(|e| SecretHash::from_stored(record.email).matches(e)) else {
            return Ok(EmailVerified::Invalid);
        };
        if !self.users.mark_email_verified(&user.id, email, now).await? {
            return Ok(EmailVerified::Invalid);
        }
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "username": user.username.as_str() }),
        };
        self.audit("email_verified", facts, meta, now).await;
        Ok(EmailVerified::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;

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
        let link = "https://id.example/login/verify-email?token=T0K3N";
        let mail = verification_mail(&user, "alice@example.com".into(), link, 86_400, Locale::En).unwrap();
        assert!(mail.body.contains(link) && mail.body.contains("24 hours") && mail.body.contains("alice"));
        assert!(mail.html.contains(&format!("<a href=\"{link}\"")) && mail.html.contains("24 hours"), "{}", mail.html);
        assert!(verification_mail(&user, "a@example.com".into(), link, 600, Locale::En)
            .unwrap()
            .body
            .contains("10 minutes"));
        let shown = format!("{mail:?}");
        assert!(!shown.contains("T0K3N") && !shown.contains("alice@"), "{shown}");
        assert_eq!(
            mail.body,
            format!(
                "Hello alice,\n\nto confirm that this is the email address of your account alice, open this link \
                 within 24 hours:\n\n{link}\n\nThe link works once. If you did not ask for this, ignore this mail.\n"
            )
        );
        let fr = verification_mail(&user, "a@example.com".into(), link, 600, Locale::Fr).unwrap();
        assert_eq!(fr.subject, "Vérifier votre adresse e-mail");
        assert!(fr.body.contains("compte alice, ouvrez ce lien dans les 10 minutes :"), "{}", fr.body);
        assert!(fr.html.contains("<html lang=\"fr\">") && fr.html.contains("<strong>alice</strong>"), "{}", fr.html);
    }
}
