//! A user deleting their own account from the account page, as Keycloak's "Delete Account" (while
//! `users.self_deletion` is on; the HTTP layer answers 404 otherwise). The deletion is the operators' one
//! ([`Provider::delete_user`], the admin API's `DELETE` and `tessera users remove`): every session ended with its
//! apps sent back-channel logout tokens, refresh tokens and the access tokens issued with them revoked, and the
//! row deleted with everything that hangs on it (consents, provider links, passkeys, two-step verification, group
//! memberships). Its audit event names the user as actor.
//!
//! A live session alone does not delete: a browser left signed in must not be enough. The user confirms
//! explicitly, and proves again who they are: a user with a password types it, checked as at sign-in and counted
//! towards the same locks ([`Provider::check_own_password`], as the password change does); a user without one
//! (a federated sign-in made the account, or passkeys only) must have signed in within
//! [`RECENT_SIGN_IN_SECONDS`], or sign in again first.
//!
//! [`RECENT_SIGN_IN_SECONDS`]: super::session::RECENT_SIGN_IN_SECONDS
//!
//! Once the account is gone, a user who had an email address is told so by mail while mail is on, in the language
//! of the page they deleted it from: a notice with no link and nothing secret, so that a deletion by someone who
//! took over the session does not go unseen. The mail is queued after the deletion and cannot undo or fail it.
//! Operators' deletions send none: the operator tells the user, if anyone should.
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::frontchannel::LogoutFrames;
use super::limits::Lock;
use super::mail::{html, DeletedHtml, Mail};
use super::password_change::{OwnCheck, OwnPassword};
use super::provider::Provider;
use super::session::SignedIn;
use crate::domain::password::Password;
use crate::domain::{UnixTime, User};
use crate::i18n::Locale;
use crate::storage::StoreError;
use serde_json::json;
use std::convert::Infallible;
use std::net::IpAddr;

/// The notice to `to` that `user`'s account was deleted, in `locale`.
fn deleted_mail(user: &User, to: String, locale: Locale) -> Result<Mail, OAuthError> {
    let t = &locale.texts().mail;
    let (name, username) = (user.name.as_deref().unwrap_or(user.username.as_str()), user.username.as_str());
    let body =
        [t.hello.with(name), String::new(), t.deleted_text.with(username), String::new(), t.deleted_not_you.into()];
    let title = t.deleted_subject;
    Ok(Mail {
        to,
        subject: title.into(),
        body: body.join("\n") + "\n",
        html: html(&DeletedHtml { lang: locale.tag(), t, title, name, username })?,
    })
}

/// What the deletion form gave. The password keeps out of `Debug`.
#[derive(Debug)]
pub struct DeletionRequest {
    /// The user's password (empty when none was typed).
    pub password: Password,
    /// Whether "I understand" was ticked.
    pub confirmed: bool,
}

/// The outcome of [`Provider::delete_own_account`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountDeletion {
    /// The account is gone (or went meanwhile); the signed-out page has these frames (front-channel logout of
    /// the current session's apps).
    Deleted(LogoutFrames),
    /// "I understand" was not ticked: nothing was checked or counted.
    NotConfirmed,
    /// The user has a password and typed none: nothing was checked or counted.
    PasswordMissing,
    /// The password is wrong (counted as a failed sign-in).
    WrongPassword,
    /// Too many failed sign-ins of the name or from the IP: refused unchecked, or this failure started the lock.
    Locked(Lock),
    /// The user has no password and signed in too long ago: they are to sign in again first.
    SignInAgain,
}

impl Provider {
    /// Deletes the signed-in user's account (see the module's documentation), from `ip`, and mails them a notice
    /// in `locale`. Audited as `account_deleted`; a wrong password as `account_deletion_failed`, and the lock it
    /// starts as `login_lockout`.
    #[allow(clippy::too_many_arguments)]
    pub async fn delete_own_account(
        &self,
        signed_in: &SignedIn,
        request: DeletionRequest,
        ip: Option<IpAddr>,
        meta: &RequestMeta,
        locale: Locale,
        now: UnixTime,
    ) -> Result<AccountDeletion, OAuthError> {
        let user = &signed_in.user;
        if !request.confirmed {
            return Ok(AccountDeletion::NotConfirmed);
        }
        match self.stored_password_hash(user).await? {
            Some(_) if request.password.is_empty() => return Ok(AccountDeletion::PasswordMissing),
            Some(stored) => {
                let check = OwnCheck { ip, failed_event: "account_deletion_failed", during: "account_deletion", meta };
                let checked =
                    self.check_own_password(user, stored, request.password, |_| Ok::<_, Infallible>(()), check, now);
                match checked.await? {
                    OwnPassword::Right(()) => {}
                    OwnPassword::Wrong => return Ok(AccountDeletion::WrongPassword),
                    OwnPassword::Locked(lock) => return Ok(AccountDeletion::Locked(lock)),
                }
            }
            None if !signed_in.recently(now) => return Ok(AccountDeletion::SignInAgain),
            None => {}
        }
        // Read before the deletion ends the session: the apps this browser signed in to, to frame.
        let told = self.logout_notices(std::slice::from_ref(&signed_in.session)).await;
        let sessions = match self.delete_user(&user.id, now).await {
            Ok(sessions) => sessions,
            // Deleted meanwhile (an operator, another tab): gone either way, and recorded by whoever did it.
            Err(StoreError::NotFound) => return Ok(AccountDeletion::Deleted(LogoutFrames::default())),
            Err(e) => return Err(e.into()),
        };
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: None,
            details: json!({ "username": user.username.as_str(), "sessions": sessions }),
        };
        self.audit("account_deleted", facts, meta, now).await;
        self.mail_deletion_notice(user, locale);
        Ok(AccountDeletion::Deleted(self.logout_frames(&told).await))
    }

    /// Queues the notice of a deletion to `user`'s address, while mail is on and they had one. The account is gone
    /// whatever becomes of it: a mail that cannot be made is logged (without the address) and dropped, and the
    /// mailer logs and counts a delivery that fails.
    fn mail_deletion_notice(&self, user: &User, locale: Locale) {
        let (Some(mailer), Some(to)) = (&self.mailer, user.email.clone()) else { return };
        match deleted_mail(user, to, locale) {
            Ok(mail) => mailer.send(mail),
            Err(e) => tracing::error!(error = %e, "cannot make the account deletion notice"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_the_account_in_the_users_language_and_carries_no_link() {
        let user = User {
            id: crate::domain::UserId::generate(),
            username: crate::domain::Username::parse("alice").unwrap(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice <A.>".into()),
            disabled: false,
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            password_change_required: false,
        };
        let mail = deleted_mail(&user, "alice@example.com".into(), Locale::En).unwrap();
        assert_eq!((mail.to.as_str(), mail.subject.as_str()), ("alice@example.com", "Your account was deleted"));
        assert_eq!(
            mail.body,
            "Hello Alice <A.>,\n\nyour account alice was deleted, as you asked. You are signed out everywhere, and the \
             apps you used with it no longer have access.\n\nIf you did not delete it, tell the administrator of this \
             site.\n"
        );
        let escaped = mail.html.contains("Hello Alice ") && !mail.html.contains("<A.>");
        assert!(escaped && mail.html.contains("<strong>alice</strong>"), "{}", mail.html);
        assert!(!mail.body.contains("http") && !mail.html.contains("href"), "no link: {}", mail.html);
        let shown = format!("{mail:?}");
        assert!(!shown.contains("alice@") && !shown.contains("alice was"), "{shown}");
        let de = deleted_mail(&user, "alice@example.com".into(), Locale::De).unwrap();
        assert_eq!(de.subject, "Ihr Konto wurde gelöscht");
        assert!(de.html.contains("<html lang=\"de\">") && de.body.contains("Ihr Konto alice wurde"), "{}", de.body);
    }
}
