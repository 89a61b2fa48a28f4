//! The pages (askama templates in `templates/`). Every value is escaped by askama; nothing here is
//! trusted HTML, including client metadata, which third parties choose.
use crate::domain::claims::USER_CLAIMS;
use crate::domain::{ClaimNames, Scope};
use crate::i18n::Texts;
use crate::oauth::signup::SignUpField;
use askama::Template;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The app asking, by name; `None` for the sign-in to the account page.
    pub client_name: Option<String>,
    /// Interaction id (hidden field), empty for the sign-in to the account page.
    pub interaction: String,
    /// The fixed page to continue to (hidden `return` field), when not an authorization.
    pub return_to: Option<&'static str>,
    /// CSRF token (hidden field).
    pub csrf: String,
    /// Pre-filled username (`login_hint`, or what was typed before a failure).
    pub username: String,
    /// For the sign-in of the device verification page: the code entered (hidden field), to go back to it.
    pub user_code: Option<String>,
    /// A sign-in again to the account page: `prompt=login` (hidden field), passed on to an upstream provider.
    pub again: bool,
    /// For the device verification page's sign-in: the flow's language, carried to the form's answer and the forgot
    /// page (hidden field, [`super::lang::FLOW_FIELD`]).
    pub ui_locales: Option<&'static str>,
    /// A failure to show, if any.
    pub error: Option<String>,
    /// The upstream providers to offer ("Sign in with …").
    pub providers: Vec<ProviderButton>,
    /// Whether to offer "Create an account" (`users.self_registration`; not on the device page's sign-in).
    pub sign_up: bool,
    /// Whether to offer "Forgot your password?" (mail on).
    pub forgot: bool,
    /// Whether to offer "Sign in with a passkey" (the issuer is named by a domain; shown by its script).
    pub passkeys: bool,
}

impl LoginPage {
    /// The query of the "Forgot your password?" link: the sign-in it belongs to.
    pub fn forgot_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        match (self.return_to, &self.user_code) {
            (Some(r), Some(code)) => query.append_pair("return", r).append_pair("user_code", code),
            (Some(r), None) => query.append_pair("return", r),
            (None, _) => query.append_pair("interaction", &self.interaction),
        };
        if let Some(l) = self.ui_locales {
            query.append_pair(super::lang::FLOW_FIELD, l);
        }
        query.finish()
    }

    /// The query of the "Create an account" link: the sign-in it belongs to (an authorization's, or the account
    /// page's).
    pub fn sign_up_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        match self.return_to {
            Some(r) => query.append_pair("return", r),
            None => query.append_pair("interaction", &self.interaction),
        };
        query.finish()
    }
}

/// "Forgot your password?" of a pending authorization: the form, or the answer once sent.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Interaction id (hidden field) of an authorization's sign-in.
    pub interaction: Option<String>,
    /// The fixed page of the sign-in (hidden `return` field) otherwise: the account or the device page.
    pub return_to: Option<&'static str>,
    /// The device page's user code (hidden field).
    pub user_code: Option<String>,
    /// The device flow's language, carried to the form's answer (hidden field, [`super::lang::FLOW_FIELD`]).
    pub ui_locales: Option<&'static str>,
    /// The way back to the sign-in.
    pub back: String,
    /// CSRF token (hidden field): the sign-in form's.
    pub csrf: String,
    /// What was typed before a refusal.
    pub login: String,
    /// Why the form was refused (an alert).
    pub error: Option<String>,
    /// The request was taken: the page says a mail went out if the account exists.
    pub sent: bool,
    /// Minutes a link works.
    pub minutes: i64,
}

/// The page a password reset link opens: the new password twice, or the answer once set.
#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The link's token (hidden field); empty once done.
    pub token: String,
    /// Fewest characters of the password (`passwords.min_length`).
    pub min_length: usize,
    /// Why the form was refused (an alert), and whether it is about the repetition rather than the password.
    pub error: Option<(String, bool)>,
    /// The password is set.
    pub done: bool,
    /// Once done: the page the request came from (a sign-in, the account page, the device page), if known.
    pub back: Option<String>,
}

impl ResetPage {
    /// Whether the error is about `field` (`password` or `again`).
    pub fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|(_, again)| *again == (field == "again"))
    }
}

/// The page an email verification link opens: a button that verifies the address.
#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmailPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The link's token (hidden field).
    pub token: String,
}

/// The sign-up page of a pending authorization or of the account page's sign-in (`users.self_registration`).
#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignUpPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The app asking, by name; `None` for the account page's.
    pub client_name: Option<String>,
    /// Interaction id (hidden field), empty for the account page's.
    pub interaction: String,
    /// The fixed page to continue to (hidden `return` field), when not an authorization.
    pub return_to: Option<&'static str>,
    /// CSRF token (hidden field): the sign-in form's it comes from.
    pub csrf: String,
    /// What was typed before a refusal (escaped by the template); never the passwords.
    pub username: String,
    /// The email address typed.
    pub email: String,
    /// The display name typed.
    pub name: String,
    /// Fewest characters of the password (`passwords.min_length`).
    pub min_length: usize,
    /// Why the form was refused, in a sentence (an alert), with the field it is about.
    pub error: Option<(String, SignUpField)>,
}

impl SignUpPage {
    /// The query of the "Sign in" link: the sign-in this sign-up belongs to.
    pub fn sign_in_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        match self.return_to {
            Some(r) => query.append_pair("return", r),
            None => query.append_pair("interaction", &self.interaction),
        };
        query.finish()
    }

    /// Whether `field` (`username`, `email`, `name`, `password` or `again`) is the one the error is about.
    pub fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|(_, f)| sign_up_field(*f) == field)
    }
}

fn sign_up_field(field: SignUpField) -> &'static str {
    match field {
        SignUpField::Username => "username",
        SignUpField::Email => "email",
        SignUpField::Name => "name",
        SignUpField::Password => "password",
        SignUpField::Again => "again",
    }
}

/// A "Sign in with …" button of the login page.
pub struct ProviderButton {
    /// The provider's id (in the form's action).
    pub id: String,
    /// Its name, as the button's label.
    pub name: String,
}

/// One requested scope, in plain words.
pub struct ScopeLine {
    /// The scope value.
    pub name: String,
    /// What it lets the app do.
    pub description: String,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The app asking, by name.
    pub client_name: String,
    /// Its website, when registered.
    pub client_uri: Option<String>,
    /// Its logo, only when https.
    pub logo_uri: Option<String>,
    /// Its privacy policy.
    pub policy_uri: Option<String>,
    /// Its terms of service.
    pub tos_uri: Option<String>,
    /// The requested scopes.
    pub scopes: Vec<ScopeLine>,
    /// Whether it asks to keep access while the user is away (`offline_access`).
    pub offline: bool,
    /// Where the browser goes after either answer: the redirect URI's host (and port), or an app's scheme.
    pub destination: String,
    /// Who is signed in.
    pub username: String,
    /// Interaction id.
    pub interaction: String,
    /// CSRF token.
    pub csrf: String,
}

/// The verification page of the device grant (RFC 8628 §3.3): the code entry form.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The flow's language, carried to the form's answer (hidden field, [`super::lang::FLOW_FIELD`]).
    pub ui_locales: Option<&'static str>,
    /// The code as shown (`XXXX-XXXX`) when the link carried one, else empty.
    pub user_code: String,
    /// CSRF token (hidden field), bound to the browser cookie.
    pub csrf: String,
    /// What went wrong with the code entered, if anything.
    pub error: Option<String>,
}

/// The approval page of the device grant: who asks for what, with the warning of RFC 8628 §5.4.
#[derive(Template)]
#[template(path = "device_confirm.html")]
pub struct DeviceConfirmPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The app asking, by name.
    pub client_name: String,
    /// Its website, when registered (https only).
    pub client_uri: Option<String>,
    /// Its logo, only when https.
    pub logo_uri: Option<String>,
    /// Its privacy policy.
    pub policy_uri: Option<String>,
    /// Its terms of service.
    pub tos_uri: Option<String>,
    /// The requested scopes.
    pub scopes: Vec<ScopeLine>,
    /// Whether it asks to keep access while the user is away (`offline_access`).
    pub offline: bool,
    /// Who is signed in.
    pub username: String,
    /// The code, in its normal form (hidden field).
    pub user_code: String,
    /// The flow's language, carried to the form's answer (hidden field, [`super::lang::FLOW_FIELD`]).
    pub ui_locales: Option<&'static str>,
    /// The code as the device shows it.
    pub user_code_shown: String,
    /// CSRF token (hidden field), bound to the session cookie.
    pub csrf: String,
}

/// After the answer: go back to the device, or nothing happened.
#[derive(Template)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Whether the device was approved.
    pub approved: bool,
    /// The app, by name.
    pub client_name: String,
}

/// An error the user sees instead of being redirected (an untrusted redirect URI, an expired link, …).
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Headline.
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    /// The OAuth error's description, for the application's developer (in English, as in every OAuth answer).
    pub detail: Option<String>,
    /// The OAuth error code, when there is one.
    pub code: Option<String>,
    /// Where to go from here, when we know.
    pub link: Option<Link>,
    /// The request id, to quote to an operator.
    pub request_id: String,
}

/// A link to one of our own pages.
pub struct Link {
    /// The path.
    pub href: &'static str,
    /// What it says.
    pub text: &'static str,
}

/// `response_mode=form_post`: a form the browser submits to the client (by a static script, or by the
/// button when scripts are off).
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The client's redirect URI.
    pub action: String,
    /// Response parameters.
    pub fields: Vec<(String, String)>,
}

/// Plain-words descriptions of the scopes we know, in the words of `t`.
pub fn describe_scope(t: &Texts, scope: &str) -> String {
    let c = &t.consent;
    match scope {
        "openid" => c.scope_openid.into(),
        "profile" => c.scope_profile.into(),
        "email" => c.scope_email.into(),
        "offline_access" => c.scope_offline_access.into(),
        "groups" => c.scope_groups.into(),
        other => c.scope_other.with(other),
    }
}

/// What a grant lets an app do, in plain words: its scopes, then each claim asked for by name (`claims`) that
/// none of them releases.
pub fn grant_lines(t: &Texts, scope: &Scope, claims: &ClaimNames) -> Vec<ScopeLine> {
    let scopes = scope.iter().map(|s| ScopeLine { name: s.to_owned(), description: describe_scope(t, s) });
    let released = |claim: &str| USER_CLAIMS.iter().any(|(name, by)| *name == claim && scope.contains(by));
    let claims = claims.iter().filter(|c| !released(c));
    scopes.chain(claims.map(|c| ScopeLine { name: c.to_owned(), description: describe_claim(t, c) })).collect()
}

/// Plain-words descriptions of the user claims an app may ask for by name (`claims`).
fn describe_claim(t: &Texts, claim: &str) -> String {
    let c = &t.consent;
    match claim {
        "name" => c.claim_name.into(),
        "preferred_username" => c.claim_preferred_username.into(),
        "updated_at" => c.claim_updated_at.into(),
        "email" => c.scope_email.into(),
        "email_verified" => c.claim_email_verified.into(),
        "groups" => c.scope_groups.into(),
        other => c.claim_other.with(other),
    }
}

/// A sign-in method (an `amr` value, RFC 8176) in words: the password and the code have some; another is shown
/// as it is.
pub fn describe_amr<'a>(t: &'a Texts, method: &'a str) -> &'a str {
    match method {
        "pwd" => t.account.amr_pwd,
        "otp" => t.account.amr_otp,
        other => other,
    }
}

/// The browser and system a session was started on, in words ("Firefox on Linux"): the browser's and system's
/// names as they are, around the words of `t`.
pub fn describe_device(t: &Texts, device: &crate::domain::Device) -> String {
    let a = &t.account;
    match device.browser_and_system() {
        None => a.unknown_device.to_owned(),
        Some((Some(browser), Some(system))) => a.device_on.with(browser, system),
        Some((Some(browser), None)) => browser.to_owned(),
        Some((None, Some(system))) => a.unknown_browser_on.with(system),
        Some((None, None)) => a.unknown_browser.to_owned(),
    }
}

/// The logout confirmation page.
#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The app that asked, when known.
    pub client_name: Option<String>,
    /// CSRF token bound to the session cookie.
    pub csrf: String,
    /// Echoed back.
    pub client_id: String,
    /// Echoed back.
    pub post_logout_redirect_uri: String,
    /// Echoed back.
    pub state: String,
    /// The language the request asked for (`ui_locales`), carried to the page that answers the form.
    pub ui_locales: Option<&'static str>,
}

/// After logout, or after choosing to stay signed in (with no redirect to the app).
#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Whether the session was ended.
    pub signed_out: bool,
    /// The front-channel logout frames' URLs (`oauth::frontchannel`).
    pub frames: Vec<String>,
    /// Where the page's link, and its script once the frames have loaded, lead on.
    pub continue_to: Option<String>,
}

/// One live session on the account page.
pub struct SessionLine {
    /// What the revoke form names it by.
    pub reference: String,
    /// The browser and system it was started on, in words ([`Device::describe`](crate::domain::Device::describe)).
    pub device: String,
    /// The address it was started from, when known.
    pub ip: Option<String>,
    /// When it began, in words.
    pub started: String,
    /// When the user last authenticated in it.
    pub signed_in: String,
    /// When the browser last used it, in words.
    pub last_used: String,
    /// When it ends.
    pub expires: String,
    /// How the user authenticated (`amr`), in words, comma-separated.
    pub methods: String,
    /// Whether it is this browser's.
    pub current: bool,
    /// Whether it went unused past the idle timeout: it signs the user in no more.
    pub idle: bool,
}

/// One connected app on the account page.
pub struct AppLine {
    /// Its name (chosen by a third party: escaped).
    pub name: String,
    /// Its client id (the revoke form's field).
    pub client_id: String,
    /// What it may do.
    pub scopes: Vec<ScopeLine>,
    /// Whether it may act while the user is away.
    pub offline: bool,
    /// Connected since, in words.
    pub since: String,
}

/// The second step of a sign-in: the code from the user's authenticator app.
#[derive(Template)]
#[template(path = "login_code.html")]
pub struct LoginCodePage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The pending step's id (hidden field).
    pub pending: String,
    /// CSRF token (hidden field).
    pub csrf: String,
    /// A failure to show, if any.
    pub error: Option<String>,
}

/// The page of a sign-in whose password is temporary: the user chooses a new one before they are signed in.
#[derive(Template)]
#[template(path = "login_new_password.html")]
pub struct NewPasswordPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The pending step's id (hidden field).
    pub pending: String,
    /// CSRF token (hidden field).
    pub csrf: String,
    /// Fewest characters of the new password (`passwords.min_length`).
    pub min_length: usize,
    /// Whether "Sign out of other devices" is ticked (at first, and as posted when shown again).
    pub sign_out_others: bool,
    /// Why the form was refused (an alert), with the field it is about.
    pub error: Option<(String, PasswordField)>,
}

impl NewPasswordPage {
    /// Whether `field` (`new` or `again`) is the one the error is about.
    pub fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|(_, f)| f.as_str() == field)
    }
}

/// One upstream provider the user signs in with, on the account page.
pub struct IdentityLine {
    /// The provider's id (the unlink form's field).
    pub provider: String,
    /// Its name as configured (its id when no longer configured).
    pub name: String,
    /// Linked since, in words.
    pub since: String,
    /// Last signed in with, in words.
    pub last_used: String,
}

/// One of the user's passkeys, as the account page lists it.
pub struct PasskeyLine {
    /// Its id (the remove form's field).
    pub id: String,
    /// The name the user gave it.
    pub name: String,
    /// Added, in words.
    pub created: String,
    /// Last signed in with, in words; `None` when never.
    pub last_used: Option<String>,
}

/// The account page: the user's sessions, connected apps and linked sign-ins, each with a button to end it.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Who is signed in.
    pub username: String,
    /// Their email address, if any.
    pub email: Option<String>,
    /// Whether it is verified.
    pub email_verified: bool,
    /// Whether to offer "Send a verification link" for an unverified address (mail on).
    pub verify_email: bool,
    /// What the form just posted did, in a sentence (announced to screen readers).
    pub notice: Option<String>,
    /// CSRF token bound to the session cookie.
    pub csrf: String,
    /// Whether two-step verification is on.
    pub otp_enabled: bool,
    /// Whether every password sign-in needs it (`otp.required`): then it cannot be turned off here.
    pub otp_required: bool,
    /// Live sessions, this one first.
    pub sessions: Vec<SessionLine>,
    /// Connected apps.
    pub apps: Vec<AppLine>,
    /// Upstream providers the user signs in with.
    pub identities: Vec<IdentityLine>,
    /// Why the form just posted changed nothing, in a sentence (an alert).
    pub error: Option<String>,
    /// The password form, if the user has a password (`None`: they sign in through another provider only).
    pub password: Option<PasswordForm>,
    /// The user's passkeys; `None` when passkeys are off (the issuer is not named by a domain).
    pub passkeys: Option<Vec<PasskeyLine>>,
    /// The names of the groups the user is in (read-only: operators set them).
    pub groups: Vec<String>,
    /// The "Delete account" section, while users may delete their own (`users.self_deletion`).
    pub deletion: Option<DeletionForm>,
    /// Whether the session's sign-in is recent enough to set up two-step verification or add a passkey (the page
    /// offers to sign in again instead).
    pub recent_sign_in: bool,
    /// How recent that is ([`RECENT_SIGN_IN_SECONDS`]), in words.
    ///
    /// [`RECENT_SIGN_IN_SECONDS`]: crate::oauth::session::RECENT_SIGN_IN_SECONDS
    pub recently: String,
}

/// The account page's "Delete account" section as shown: at first, or again after a refused deletion.
pub struct DeletionForm {
    /// The user has a password: the form asks for it.
    pub password: bool,
    /// The user has none and signed in too long ago: the section offers to sign in again instead of the form.
    pub sign_in_again: bool,
    /// Why the deletion was refused, in a sentence (an alert), with the field it is about.
    pub error: Option<(String, DeletionField)>,
}

impl DeletionForm {
    /// Whether `field` (`password` or `confirm`) is the one the error is about.
    pub fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|(_, f)| f.as_str() == field)
    }
}

/// A field of the deletion form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionField {
    /// The password.
    Password,
    /// "I understand".
    Confirm,
}

impl DeletionField {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Confirm => "confirm",
        }
    }
}

/// The page after the user deleted their own account, framing the front-channel logout of this browser's apps.
#[derive(Template)]
#[template(path = "account_deleted.html")]
pub struct AccountDeletedPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The front-channel logout frames' URLs (`oauth::frontchannel`).
    pub frames: Vec<String>,
}

/// The account page's password form as shown: at first, or again after a refused change.
pub struct PasswordForm {
    /// Fewest characters of the new password (`passwords.min_length`).
    pub min_length: usize,
    /// Whether "Sign out everywhere else" is ticked: at first, and after a change that asked for it.
    pub sign_out_others: bool,
    /// Why the change was refused, in a sentence (an alert), with the field it is about.
    pub error: Option<(String, PasswordField)>,
}

impl PasswordForm {
    /// The form as first shown.
    pub fn new(min_length: usize) -> Self {
        Self { min_length, sign_out_others: true, error: None }
    }

    /// Whether `field` (`current`, `new` or `again`) is the one the error is about.
    pub fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|(_, f)| f.as_str() == field)
    }
}

/// A field of the password form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordField {
    /// The current password.
    Current,
    /// The new password.
    New,
    /// The new password typed again.
    Again,
}

impl PasswordField {
    fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::New => "new",
            Self::Again => "again",
        }
    }
}

/// The page that sets up two-step verification: the new secret as a QR code and as text, and the form that
/// confirms a code from it. From the account page, or at a sign-in that needs it set up first (`pending`).
#[derive(Template)]
#[template(path = "otp_setup.html")]
pub struct OtpSetupPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// Where the code is posted: the account page's confirm form or the sign-in's.
    pub action: &'static str,
    /// The sign-in's pending step id (hidden field), for a set-up at a sign-in.
    pub pending: Option<String>,
    /// CSRF token: bound to the session cookie, or the sign-in step's own.
    pub csrf: String,
    /// The secret in base32, in groups of four.
    pub secret: String,
    /// The QR code of the `otpauth://` URI: SVG markup made here ([`qr_svg`]), shown unescaped.
    pub qr_svg: String,
    /// A failure to show, if any.
    pub error: Option<String>,
}

/// The page that says two-step verification is on and shows the recovery codes, this once.
#[derive(Template)]
#[template(path = "otp_recovery.html")]
pub struct OtpRecoveryPage {
    /// Every sentence, in the page's language.
    pub t: &'static Texts,
    /// The codes, as `xxxx-xxxx-xxxx-xxxx`.
    pub codes: Vec<String>,
    /// For a set-up at a sign-in: the step that continues it (id and CSRF token, hidden fields).
    pub proceed: Option<(String, String)>,
    /// New codes in place of earlier ones (the account page's "New recovery codes"), not a set-up.
    pub renewed: bool,
}

/// The QR code of `text` as inline SVG, labelled for screen readers. Its colours are presentation attributes
/// (`fill`), which the pages' CSP allows (it governs `style` attributes and elements, of which there are none).
/// Dark on light whatever the colour scheme, as scanners expect. `None` when `text` is too long for a QR code.
/// `label` is its name for screen readers.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    // Inline in HTML: no XML declaration, and a role and name for assistive technology.
    let start = svg.find("<svg")?;
    let label = askama::filters::escape(label, askama::filters::Html).ok()?.to_string();
    Some(svg[start..].replacen("<svg ", &format!("<svg class=\"qr\" role=\"img\" aria-label=\"{label}\" "), 1))
}

/// A Unix time as `2026-12-05 07:33 UTC`.
pub fn utc_time(t: i64) -> String {
    let c = crate::domain::CivilTime::of(t);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute)
}

#[cfg(test)]
mod tests {
    use super::{describe_amr, describe_scope, qr_svg, utc_time};
    use crate::i18n::Locale;

    #[test]
    fn sign_in_methods_are_words_and_unknown_ones_stay_as_they_are() {
        let (en, de) = (Locale::En.texts(), Locale::De.texts());
        assert_eq!(describe_amr(en, "pwd"), "password");
        assert_eq!(describe_amr(de, "otp"), "Einmalcode");
        assert_eq!(describe_amr(de, "hwk"), "hwk");
    }

    #[test]
    fn scopes_are_described_in_the_pages_language() {
        assert_eq!(describe_scope(Locale::Fr.texts(), "email"), "Voir votre adresse e-mail");
        assert_eq!(describe_scope(Locale::De.texts(), "calendar"), "Auf „calendar“ zugreifen");
    }

    #[test]
    fn the_qr_codes_name_is_escaped() {
        let svg = qr_svg("otpauth://totp/x", "QR \"<code>\"").unwrap();
        assert!(svg.contains("aria-label=\"QR &#34;&#60;code&#62;&#34;\" "), "{svg}");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_time(1_796_456_031), "2026-12-05 07:33 UTC");
        assert_eq!(utc_time(-60), "1969-12-31 23:59 UTC");
    }
}
