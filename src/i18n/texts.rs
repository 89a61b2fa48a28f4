//! The message catalog's shape: one `&'static str` per sentence or label a user sees, section by section. Each
//! language is one constant of [`Texts`] (`en.rs`, `de.rs`, `fr.rs`), so a sentence missing from one does not
//! compile. Sentences around a value ([`Around`], [`Around2`]) keep the value out of the text: templates put it in
//! between, escaped as every value is, and each language orders its words around it.

/// A sentence around one value: the words before it and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Around(pub &'static str, pub &'static str);

impl Around {
    /// The sentence with `value` in its place, as plain text (a page escapes it as any value).
    pub fn with(&self, value: impl std::fmt::Display) -> String {
        format!("{}{value}{}", self.0, self.1)
    }
}

/// A sentence around two values: the words before the first, between them, and after the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Around2(pub &'static str, pub &'static str, pub &'static str);

impl Around2 {
    /// The sentence with `first` and `second` in their places, as plain text.
    pub fn with(&self, first: impl std::fmt::Display, second: impl std::fmt::Display) -> String {
        format!("{}{first}{}{second}{}", self.0, self.1, self.2)
    }
}

/// Every sentence of the pages and mails in one language.
#[derive(Debug)]
pub struct Texts {
    /// The language's BCP 47 tag (`<html lang>`, `Content-Language`).
    pub lang: &'static str,
    /// Shared words.
    pub common: Common,
    /// Sign-in.
    pub login: Login,
    /// The code step of a sign-in.
    pub code: LoginCode,
    /// Sign-up.
    pub signup: SignUp,
    /// New passwords.
    pub passwords: Passwords,
    /// A temporary password's replacement at sign-in.
    pub new_password: NewPassword,
    /// Consent.
    pub consent: Consent,
    /// Device verification.
    pub device: Device,
    /// Sign-out.
    pub logout: Logout,
    /// Errors.
    pub error: Errors,
    /// Password reset.
    pub reset: Reset,
    /// Email verification.
    pub verify: Verify,
    /// Two-step verification.
    pub otp: Otp,
    /// The account page.
    pub account: Account,
    /// Deleting one's own account.
    pub deletion: Deletion,
    /// Mail.
    pub mail: Mail,
}

/// Words many pages share.
#[derive(Debug)]
pub struct Common {
    pub one_second: &'static str,
    pub seconds: Around,
    pub minutes: Around,
    pub at_least_chars: Around,
    pub signed_in_as: Around,
    pub continue_to: Around,
    pub go_to_account: &'static str,
    pub continue_label: &'static str,
    pub code: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub new_password: &'static str,
    pub new_password_again: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub deny: &'static str,
    pub allow: &'static str,
    pub remove: &'static str,
    pub last_used: &'static str,
    pub too_many_sign_in_failures: Around,
    pub form_post_title: &'static str,
    pub form_post_lead: &'static str,
    pub languages: &'static str,
    pub change_language: &'static str,
    pub sign_in_again: &'static str,
}

/// The sign-in page (`login.html`, `login_passkey.html`) and why a sign-in was refused, the upstream providers'
/// included.
#[derive(Debug)]
pub struct Login {
    pub title: &'static str,
    pub lead_device: &'static str,
    pub lead_account: &'static str,
    pub forgot: &'static str,
    pub new_here: &'static str,
    pub create_account: &'static str,
    pub or: &'static str,
    pub sign_in_with: Around,
    pub passkey: &'static str,
    pub passkey_failed: &'static str,
    pub failed: &'static str,
    pub passkey_refused: &'static str,
    pub passkey_expired: &'static str,
    pub passkey_busy: Around,
    pub upstream_unavailable: Around,
    pub upstream_cancelled: Around,
    pub upstream_failed: Around,
    pub upstream_failed_code: Around2,
    pub email_in_use: &'static str,
    pub account_refused: &'static str,
    pub unknown_provider: &'static str,
    pub unknown_provider_text: &'static str,
    pub upstream_not_again: Around,
}

/// The second step of a sign-in (`login_code.html`).
#[derive(Debug)]
pub struct LoginCode {
    pub title: &'static str,
    pub lead: &'static str,
    pub verify: &'static str,
    pub use_recovery: &'static str,
    pub recovery_code: &'static str,
    pub lost: &'static str,
    pub wrong: &'static str,
    pub gone: &'static str,
    pub gone_text: &'static str,
}

/// The sign-up page (`signup.html`) and its refusals.
#[derive(Debug)]
pub struct SignUp {
    pub title: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub password_again: &'static str,
    pub submit: &'static str,
    pub have_account: &'static str,
    pub manage_here: &'static str,
    pub off: &'static str,
    pub off_text: &'static str,
    pub username_length: Around,
    pub username_control: &'static str,
    pub username_invisible: &'static str,
    pub email_refused: &'static str,
    pub name_refused: Around,
    pub mismatch: &'static str,
    pub taken: &'static str,
    pub limited: Around,
}

/// Why a new password (sign-up, reset, account page) or a password change was refused.
#[derive(Debug)]
pub struct Passwords {
    pub too_short: Around,
    pub too_long: Around,
    pub new_too_short: Around,
    pub new_too_long: Around,
    pub new_mismatch: &'static str,
    pub changed_mismatch: &'static str,
    pub current_missing: &'static str,
    pub same_as_current: &'static str,
    pub same_as_username: &'static str,
    pub same_as_email: &'static str,
    pub blocklisted: &'static str,
    pub reused: Around,
    pub no_password: &'static str,
    pub wrong_current: &'static str,
    pub too_many_failures: Around,
    pub changed_meanwhile: &'static str,
}

/// The page of a sign-in whose password is temporary (`login_new_password.html`); its refusals are
/// [`Passwords`]'.
#[derive(Debug)]
pub struct NewPassword {
    pub title: &'static str,
    pub lead: &'static str,
    pub hint: Around,
    pub submit: &'static str,
    pub gone_text: &'static str,
    pub sign_out_others: &'static str,
    pub sign_out_others_note: &'static str,
}

/// The consent page (`consent.html`), and what a grant lets an app do (`grant_details.html`, the account page),
/// scope by scope and claim by claim.
#[derive(Debug)]
pub struct Consent {
    pub title: &'static str,
    pub heading: Around,
    pub destination: Around,
    pub will_allow: &'static str,
    pub offline: &'static str,
    pub links: &'static str,
    pub website: &'static str,
    pub privacy_policy: &'static str,
    pub terms: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub scope_offline_access: &'static str,
    pub scope_groups: &'static str,
    pub scope_other: Around,
    pub claim_name: &'static str,
    pub claim_preferred_username: &'static str,
    pub claim_updated_at: &'static str,
    pub claim_email_verified: &'static str,
    pub claim_other: Around,
}

/// The device verification pages (`device.html`, `device_confirm.html`, `device_done.html`).
#[derive(Debug)]
pub struct Device {
    pub title: &'static str,
    pub lead: &'static str,
    pub hint: &'static str,
    pub confirm_title: &'static str,
    pub confirm_heading: Around,
    pub code_shown: Around,
    pub warning: &'static str,
    pub connected: &'static str,
    pub connected_text: Around,
    pub remove_later: Around,
    pub account_page: &'static str,
    pub denied: &'static str,
    pub denied_text: &'static str,
    pub not_found: &'static str,
    pub code_empty: &'static str,
    pub code_malformed: &'static str,
    pub too_many_codes: Around,
    pub signed_out: &'static str,
    pub signed_out_text: &'static str,
}

/// The sign-out pages (`logout.html`, `logged_out.html`).
#[derive(Debug)]
pub struct Logout {
    pub title: &'static str,
    pub asks: Around,
    pub question: &'static str,
    pub stay: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out: &'static str,
    pub taking_you_on: &'static str,
    pub close: &'static str,
    pub frame: &'static str,
    pub still_title: &'static str,
    pub still: &'static str,
    pub nothing_changed: &'static str,
    pub form_refused: &'static str,
}

/// The error page (`error.html`) and the refusals every sign-in form may answer.
#[derive(Debug)]
pub struct Errors {
    pub details: &'static str,
    pub error: &'static str,
    pub request_id: &'static str,
    pub sign_in_refused: &'static str,
    pub sign_out_refused: &'static str,
    pub refused_text: &'static str,
    pub server: &'static str,
    pub unavailable: &'static str,
    pub try_later: &'static str,
    pub expired: &'static str,
    pub expired_text: &'static str,
    pub invalid_link: &'static str,
    pub invalid_link_text: &'static str,
    pub cookies_blocked: &'static str,
    pub cookies_blocked_text: &'static str,
    pub forbidden: &'static str,
    pub forbidden_text: &'static str,
    pub out_of_date: &'static str,
    pub out_of_date_text: &'static str,
    pub signed_out: &'static str,
    pub signed_out_text: &'static str,
    pub too_many_sign_ins: &'static str,
    pub too_many_sign_ins_text: Around,
    pub sign_ins_full_text: Around,
}

/// "Forgot your password?" (`forgot.html`) and the page its link opens (`reset.html`).
#[derive(Debug)]
pub struct Reset {
    pub check_mail: &'static str,
    pub title: &'static str,
    pub sent: Around,
    pub back: &'static str,
    pub lead: &'static str,
    pub login: &'static str,
    pub send: &'static str,
    pub enter_login: &'static str,
    pub limited: Around,
    pub off: &'static str,
    pub off_text: &'static str,
    pub invalid: &'static str,
    pub invalid_text: &'static str,
    pub changed: &'static str,
    pub changed_text: &'static str,
    pub go_back: &'static str,
    pub choose: &'static str,
    pub signs_out: &'static str,
    pub submit: &'static str,
}

/// The email verification page (`verify_email.html`) and what it answers.
#[derive(Debug)]
pub struct Verify {
    pub title: &'static str,
    pub lead: &'static str,
    pub submit: &'static str,
    pub off: &'static str,
    pub off_text: &'static str,
    pub invalid: &'static str,
    pub invalid_text: &'static str,
    pub done: &'static str,
    pub done_text: &'static str,
    pub limited: Around,
}

/// Setting up two-step verification (`otp_setup.html`), the recovery codes (`otp_recovery.html`), and what the
/// account page's two-step verification forms answer.
#[derive(Debug)]
pub struct Otp {
    pub setup_title: &'static str,
    pub setup_lead: &'static str,
    pub needed: &'static str,
    pub scan: &'static str,
    pub qr_label: &'static str,
    pub type_key: &'static str,
    pub enter_code: &'static str,
    pub turn_on: &'static str,
    pub pending_note: &'static str,
    pub cancel: &'static str,
    pub cancel_note: &'static str,
    pub not_right: &'static str,
    pub renewed_title: &'static str,
    pub on_title: &'static str,
    pub save_codes: &'static str,
    pub earlier_gone: &'static str,
    pub now_asks: &'static str,
    pub codes_explained: &'static str,
    pub continue_signing_in: &'static str,
    pub back_to_account: &'static str,
    pub setup_expired: &'static str,
    pub setup_expired_text: &'static str,
    pub required: &'static str,
    pub required_text: &'static str,
    pub still_on: &'static str,
    pub codes_unchanged: &'static str,
    pub wrong: &'static str,
    pub enter_current: &'static str,
    pub too_many: &'static str,
    pub too_many_text: Around,
    pub already_on: &'static str,
    pub already_on_text: &'static str,
}

/// The account page (`account.html`, `account_passkeys.html`) and what its forms answer.
#[derive(Debug)]
pub struct Account {
    pub title: &'static str,
    pub sessions: &'static str,
    pub no_sessions: &'static str,
    pub sessions_note: &'static str,
    pub current: &'static str,
    pub idle: &'static str,
    pub idle_note: &'static str,
    pub ip: &'static str,
    pub unknown: &'static str,
    pub started: &'static str,
    pub signed_in: &'static str,
    pub expires: &'static str,
    pub sign_out_this: &'static str,
    pub end_session_of: Around,
    pub at_ip: Around,
    pub started_at: Around,
    pub end_session: &'static str,
    pub email: &'static str,
    pub verified: &'static str,
    pub not_verified: &'static str,
    pub send_verification: &'static str,
    pub password: &'static str,
    pub current_password: &'static str,
    pub sign_out_others: &'static str,
    pub sign_out_others_note: &'static str,
    pub change_password: &'static str,
    pub no_password: &'static str,
    pub otp: &'static str,
    pub otp_on: &'static str,
    pub otp_stays_on: &'static str,
    pub otp_off_code: &'static str,
    pub turn_off: &'static str,
    pub otp_recovery_code: &'static str,
    pub otp_recovery_note: &'static str,
    pub new_recovery_codes: &'static str,
    pub otp_off: &'static str,
    pub otp_off_required: &'static str,
    pub otp_off_explained: &'static str,
    pub set_up: &'static str,
    pub passkeys: &'static str,
    pub passkeys_note: &'static str,
    pub added: &'static str,
    pub never: &'static str,
    pub remove_passkey: Around,
    pub passkey_name: &'static str,
    pub passkey_name_hint: &'static str,
    pub add_passkey: &'static str,
    pub passkey_unsupported: &'static str,
    pub passkey_add_failed: &'static str,
    pub apps: &'static str,
    pub no_apps: &'static str,
    pub connected_since: Around,
    pub it_can: &'static str,
    pub app_offline: &'static str,
    pub remove_access_for: Around,
    pub remove_access: &'static str,
    pub groups: &'static str,
    pub groups_note: &'static str,
    pub identities: &'static str,
    pub identities_note: &'static str,
    pub linked: &'static str,
    pub remove_sign_in_with: Around,
    pub no_longer_with: Around,
    pub session_ended: &'static str,
    pub otp_turned_off: &'static str,
    pub password_changed: &'static str,
    pub password_changed_others: &'static str,
    pub passkey_added: &'static str,
    pub passkey_removed: &'static str,
    pub verification_sent: &'static str,
    pub access_removed: Around,
    pub no_session_chosen: &'static str,
    pub no_app_chosen: &'static str,
    pub no_sign_in_chosen: &'static str,
    pub try_again: &'static str,
    pub last_way_in: &'static str,
    pub last_way_in_passkeys: &'static str,
    pub last_passkey: &'static str,
    pub passkey_gone: &'static str,
    pub passkey_refused: &'static str,
    pub passkey_duplicate: &'static str,
    pub passkeys_off: &'static str,
    pub passkey_name_empty: &'static str,
    pub passkey_name_too_long: &'static str,
    pub passkey_name_hidden: &'static str,
    pub device_on: Around2,
    pub unknown_browser: &'static str,
    pub unknown_browser_on: Around,
    pub unknown_device: &'static str,
    pub amr_pwd: &'static str,
    pub amr_otp: &'static str,
    pub sign_in_first: &'static str,
    pub otp_sign_in_first: Around,
    pub passkey_sign_in_first: Around,
}

/// The account page's "Delete account" section (`account_delete.html`), what its form answers, and the page
/// after a deletion (`account_deleted.html`).
#[derive(Debug)]
pub struct Deletion {
    pub heading: &'static str,
    pub note: &'static str,
    pub sign_in_first: Around,
    pub password: &'static str,
    pub no_password: &'static str,
    pub confirm: &'static str,
    pub submit: &'static str,
    pub off: &'static str,
    pub off_text: &'static str,
    pub not_confirmed: &'static str,
    pub password_missing: &'static str,
    pub wrong_password: &'static str,
    pub too_old: &'static str,
    pub deleted_title: &'static str,
    pub deleted: &'static str,
    pub deleted_text: &'static str,
}

/// The mails (`templates/mail/`): subject, plain text and HTML say the same.
#[derive(Debug)]
pub struct Mail {
    pub hello: Around,
    pub copy_link: &'static str,
    pub minutes: Around,
    pub hours: Around,
    pub reset_subject: &'static str,
    pub reset_asked: Around,
    pub reset_open: Around,
    pub reset_button: &'static str,
    pub reset_once: &'static str,
    pub reset_ignore: &'static str,
    pub verify_subject: &'static str,
    pub verify_open: Around2,
    pub verify_button: &'static str,
    pub verify_once: &'static str,
    pub deleted_subject: &'static str,
    pub deleted_text: Around,
    pub deleted_not_you: &'static str,
}
