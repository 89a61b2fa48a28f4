//! Users creating their own account (`users.self_registration`), from the sign-up page of a pending
//! authorization. The form is held to the operators' rules for the name, the email address and the display name
//! ([`super::admin`]: `tessera users add` and the admin API parse them the same way) and to the account page's
//! rules for a password the user chooses ([`PasswordPolicy::check_new`], which the new username and email address
//! are the owner's for). Every consistent form
//! counts on the client IP's sign-up limit before the store is asked anything: a taken name is said to be taken,
//! as every sign-up form must, and the limit bounds how many names one address can test. The new user is signed
//! in as a password sign-in ends ([`Provider::start_signed_up_session`]): the HTTP layer continues it as one.
//! While mail is on, a new account with an email address is mailed a link that verifies it
//! ([`super::email_verification`]).
use super::admin::{check_email, check_user_name, AdminError};
use super::audit::{EventFacts, RequestMeta};
use super::error::OAuthError;
use super::limits::Limited;
use super::password_change::PasswordRule;
use super::provider::Provider;
use super::session::SignIn;
use crate::domain::password::{hash_password, Password};
use crate::domain::password_policy::{Owner, PasswordPolicy};
use crate::domain::{Device, NewUser, UnixTime, UserId, Username, UsernameFlaw};
use crate::i18n::Locale;
use crate::storage::StoreError;
use serde_json::json;
use std::net::IpAddr;

/// What the sign-up form gave. The passwords keep out of `Debug`.
#[derive(Debug)]
pub struct SignUpForm {
    /// The username wanted.
    pub username: String,
    /// An email address, or empty.
    pub email: String,
    /// A display name, or empty.
    pub name: String,
    /// The password chosen.
    pub password: Password,
    /// The password, typed again.
    pub again: Password,
}

/// The field a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpField {
    /// The username.
    Username,
    /// The email address.
    Email,
    /// The display name.
    Name,
    /// The password.
    Password,
    /// The password typed again.
    Again,
}

/// Why a sign-up is refused before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUpRule {
    /// The username is refused ([`Username::parse_new`], as `tessera users add` parses it), with why.
    Username(UsernameFlaw),
    /// The email address is refused ([`check_email`], the admin API's check).
    Email,
    /// The display name is refused ([`check_user_name`], the admin API's check).
    Name,
    /// The password breaks a rule of the account page's ([`PasswordRule`]: mismatch, length, the new names,
    /// the blocklist).
    Password(PasswordRule),
}

impl SignUpRule {
    /// The field the refusal is about.
    pub fn field(&self) -> SignUpField {
        match self {
            Self::Username(_) => SignUpField::Username,
            Self::Email => SignUpField::Email,
            Self::Name => SignUpField::Name,
            Self::Password(PasswordRule::Mismatch) => SignUpField::Again,
            Self::Password(_) => SignUpField::Password,
        }
    }
}

/// A sign-up whose form is consistent ([`check_sign_up`]).
#[derive(Debug)]
pub struct CheckedSignUp {
    /// The username, parsed as a new one.
    pub username: Username,
    /// The email address, if given.
    pub email: Option<String>,
    /// The display name, if given.
    pub name: Option<String>,
    /// The password, in NFC.
    pub password: Password,
}

/// `form` if it is consistent: a new username as `tessera users add` takes it, an optional email address and
/// display name checked as the admin API checks them (blank is none), and a password held to `policy` (typed
/// twice alike, its length, not the new username nor address, not on the blocklist; a new account has no history).
pub fn check_sign_up(form: SignUpForm, policy: &PasswordPolicy) -> Result<CheckedSignUp, SignUpRule> {
    let SignUpForm { username, email, name, password, again } = form;
    // `admin::parse_new_username` is this parser with the operators' prefix on its message.
    let username = Username::check_new(username.trim()).map_err(SignUpRule::Username)?;
    let email = Some(email.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &email {
        check_email(e).map_err(|_: AdminError| SignUpRule::Email)?;
    }
    let name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
    if let Some(n) = &name {
        check_user_name(n).map_err(|_: AdminError| SignUpRule::Name)?;
    }
    let owner = Owner { username: username.as_str(), email: email.as_deref() };
    let password = policy.check_new(password, &again, owner).map_err(SignUpRule::Password)?;
    Ok(CheckedSignUp { username, email, name, password })
}

/// The outcome of [`Provider::sign_up`].
#[derive(Debug)]
pub enum SignUp {
    /// The user was created and signed in (or is to set up two-step verification first, `otp.required`).
    Created(Box<SignIn>),
    /// The form is inconsistent: nothing was counted or stored.
    Refused(SignUpRule),
    /// Another account has that name, in this or another letter case.
    Taken,
    /// Too many sign-ups from this IP (`limits.user_registration_ip_requests`).
    Limited(Limited),
}

/// Who is signing up, for the limit and the audit trail.
#[derive(Debug)]
pub struct SignUpContext<'a> {
    /// The client IP.
    pub ip: Option<IpAddr>,
    /// The device, for the session.
    pub device: Device,
    /// The app whose authorization the sign-up belongs to.
    pub client_id: Option<String>,
    /// The request, for the audit trail.
    pub meta: &'a RequestMeta,
    /// The language of the sign-up page, which the verification mail is written in.
    pub locale: Locale,
}

impl Provider {
    /// Creates the account `form` describes and signs its user in (see the module's documentation). Audited as
    /// `user_registered` (never with the password). The caller checks that sign-up is on.
    pub async fn sign_up(&self, form: SignUpForm, cx: SignUpContext<'_>, now: UnixTime) -> Result<SignUp, OAuthError> {
        let CheckedSignUp { username, email, name, password } = match check_sign_up(form, &self.password_policy) {
            Ok(checked) => checked,
            Err(rule) => return Ok(SignUp::Refused(rule)),
        };
        if let Err(limited) = self.limits.check_user_registration(cx.ip, now).await {
            return Ok(SignUp::Limited(limited));
        }
        if self.users.user_by_username(&username).await?.is_some() {
            // Spare the argon2 work; the store refuses a duplicate that races past this anyway.
            return Ok(SignUp::Taken);
        }
        let cost = self.password_cost;
        let password_hash = self
            .password_pool
            .run(move || hash_password(&password, cost))
            .await
            .map_err(OAuthError::server)?
            .map_err(OAuthError::server)?;
        let new = NewUser {
            id: UserId::generate(),
            username,
            password_hash,
            email,
            email_verified: false,
            name,
            password_change_required: false,
            created_at: now,
        };
        let user = match self.users.create_user(new).await {
            Ok(user) => user,
            Err(StoreError::Conflict(what)) if what == "username" => return Ok(SignUp::Taken),
            Err(e) => return Err(e.into()),
        };
        let facts = EventFacts {
            actor: Some(user.id.as_str().to_owned()),
            user_id: Some(user.id.as_str().to_owned()),
            client_id: cx.client_id,
            details: json!({ "username": user.username.as_str() }),
        };
        self.audit("user_registered", facts, cx.meta, now).await;
        // The account exists: a link that cannot go out now is one the account page sends later.
        if let Err(e) = self.send_email_verification(&user, cx.meta, cx.locale, now).await {
            tracing::warn!(error = ?e, "the verification link of a new account could not be sent");
        }
        Ok(SignUp::Created(Box::new(self.start_signed_up_session(user, cx.device, now).await?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(username: &str, email: &str, name: &str, password: &str, again: &str) -> SignUpForm {
        SignUpForm {
            username: username.into(),
            email: email.into(),
            name: name.into(),
            password: Password::new(password),
            again: Password::new(again),
        }
    }

    fn min(min_length: usize) -> PasswordPolicy {
        PasswordPolicy { min_length, history: 0, not_username: true, not_email: true, blocklist: Default::default() }
    }

    fn field(r: Result<CheckedSignUp, SignUpRule>) -> SignUpField {
        r.unwrap_err().field()
    }

    #[test]
    fn a_consistent_form_is_taken_with_blank_fields_as_none() {
        let c = check_sign_up(form(" alice ", "", "  ", "correct horse", "correct horse"), &min(8)).unwrap();
        assert_eq!((c.username.as_str(), c.email, c.name), ("alice", None, None));
        let c =
            check_sign_up(form("bob", "bob@example.com", "Bob", "correct horse", "correct horse"), &min(8)).unwrap();
        assert_eq!((c.email.as_deref(), c.name.as_deref()), (Some("bob@example.com"), Some("Bob")));
    }

    #[test]
    fn the_operators_rules_hold_for_the_name_and_the_account_pages_for_the_password() {
        let ok = "correct horse";
        assert_eq!(field(check_sign_up(form("", "", "", ok, ok), &min(8))), SignUpField::Username);
        assert_eq!(field(check_sign_up(form("zero\u{200b}width", "", "", ok, ok), &min(8))), SignUpField::Username);
        assert_eq!(field(check_sign_up(form("carol", "not-an-address", "", ok, ok), &min(8))), SignUpField::Email);
        assert_eq!(field(check_sign_up(form("carol", "", "a\u{202e}b", ok, ok), &min(8))), SignUpField::Name);
        let rule = |r: Result<CheckedSignUp, SignUpRule>| r.unwrap_err();
        assert_eq!(
            rule(check_sign_up(form("carol", "", "", ok, "correct horsE"), &min(8))),
            SignUpRule::Password(PasswordRule::Mismatch)
        );
        assert_eq!(
            rule(check_sign_up(form("carol", "", "", "short", "short"), &min(8))),
            SignUpRule::Password(PasswordRule::TooShort(8))
        );
        assert_eq!(
            rule(check_sign_up(form("carol", "", "", "short", "short"), &min(12))),
            SignUpRule::Password(PasswordRule::TooShort(12)),
            "passwords.min_length, not the operators' 8"
        );
        assert_eq!(
            rule(check_sign_up(form("Carol.K", "", "", "carol.k", "carol.k"), &min(6))),
            SignUpRule::Password(PasswordRule::SameAsUsername),
            "the name being signed up for"
        );
        assert_eq!(
            rule(check_sign_up(
                form("carol", "Carol@Example.com", "", "carol@example.com", "carol@example.com"),
                &min(8)
            )),
            SignUpRule::Password(PasswordRule::SameAsEmail)
        );
        let long = "a".repeat(Password::MAX_BYTES + 1);
        assert_eq!(
            rule(check_sign_up(form("carol", "", "", &long, &long), &min(8))),
            SignUpRule::Password(PasswordRule::TooLong)
        );
    }
}
