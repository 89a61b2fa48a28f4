//! The pages (askama templates in `templates/`). Every value is escaped by askama; nothing here is
//! trusted HTML, including client metadata, which third parties choose.
use askama::Template;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The app asking, by name.
    pub client_name: String,
    /// Interaction id (hidden field).
    pub interaction: String,
    /// CSRF token (hidden field).
    pub csrf: String,
    /// Pre-filled username (`login_hint`, or what was typed before a failure).
    pub username: String,
    /// A failure to show, if any.
    pub error: Option<String>,
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
    /// Who is signed in.
    pub username: String,
    /// Interaction id.
    pub interaction: String,
    /// CSRF token.
    pub csrf: String,
}

/// An error the user sees instead of being redirected (an untrusted redirect URI, an expired link, …).
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Headline.
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    /// The OAuth error code, when there is one.
    pub code: Option<String>,
    /// The request id, to quote to an operator.
    pub request_id: String,
}

/// `response_mode=form_post`: a form the browser submits to the client (by a static script, or by the
/// button when scripts are off).
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage {
    /// The client's redirect URI.
    pub action: String,
    /// Response parameters.
    pub fields: Vec<(String, String)>,
}

/// Plain-words descriptions of the scopes we know.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are (your account identifier)".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are not using the app".into(),
        other => format!("Access “{other}”"),
    }
}

/// The logout confirmation page.
#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
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
}

/// After logout (or after choosing to stay signed in).
#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage {
    /// Whether the session was ended.
    pub signed_out: bool,
}
