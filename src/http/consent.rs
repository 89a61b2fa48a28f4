//! `GET` and `POST /consent`.
use super::authorize::step_response;
use super::interaction_pages::{check_form, expired, load};
use super::lang::Lang;
use super::meta::request_meta;
use super::render::{error_page, page};
use super::views::{grant_lines, ConsentPage};
use super::{form, AppState};
use crate::domain::{RedirectUri, Scope};
use crate::oauth::interaction::{completed_already, Interaction};
use crate::oauth::session::SignedIn;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// Only https links from client metadata are shown; anything else could be `javascript:`.
pub(super) fn https_only(u: &Option<String>) -> Option<String> {
    u.as_ref().filter(|u| url::Url::parse(u).is_ok_and(|p| p.scheme() == "https")).cloned()
}

/// Where either answer sends the browser, as the page names it: the redirect URI's host, with the port when it
/// is not the scheme's default (`url` leaves a default port out), or for an app's own scheme, that scheme. Hosts
/// are shown in their ASCII form, so an internationalised look-alike shows as what it is.
fn destination(uri: &RedirectUri) -> String {
    let url = uri.url();
    match (url.scheme(), url.host_str(), url.port()) {
        ("http" | "https", Some(host), Some(port)) => format!("{host}:{port}"),
        ("http" | "https", Some(host), None) => host.to_owned(),
        (scheme, _, _) => format!("{scheme}:"),
    }
}

/// The signed-in session the consent belongs to, with its user: none when the user was disabled meanwhile.
async fn signed_in(req: &HttpRequest, state: &AppState, interaction: &Interaction) -> Option<SignedIn> {
    let cookie = state.cookies.read_session(req)?;
    let client = &interaction.request.client_id;
    state.provider.consent_session(&cookie, client, crate::domain::now()).await.ok().flatten()
}

#[allow(clippy::result_large_err)]
async fn loaded(
    req: &HttpRequest,
    state: &AppState,
    id: Option<&str>,
) -> Result<(String, Interaction, SignedIn), HttpResponse> {
    let (id, interaction) = load(req, state, id).await?;
    let signed_in = signed_in(req, state, &interaction).await.ok_or_else(|| expired(req))?;
    Ok((id, interaction, signed_in))
}

/// `GET /consent?interaction=…`.
#[tracing::instrument(name = "consent page", skip_all)]
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = match form::query(&req) {
        Ok(q) => q,
        Err(e) => return error_page(&req, &e),
    };
    let (id, interaction, signed_in) = match loaded(&req, &state, q.get("interaction")).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let client = match state.provider.interaction_client(&interaction).await {
        Ok(c) => c,
        Err(e) => return step_response(&req, &state, Err(e)),
    };
    let scope = &interaction.request.scope;
    let lang = Lang::of(&req);
    let t = lang.t();
    let view = ConsentPage {
        t,
        client_name: client.name.clone(),
        client_uri: https_only(&client.metadata.client_uri),
        logo_uri: https_only(&client.metadata.logo_uri),
        policy_uri: https_only(&client.metadata.policy_uri),
        tos_uri: https_only(&client.metadata.tos_uri),
        scopes: grant_lines(t, scope, &interaction.request.claims.names()),
        offline: scope.contains(Scope::OFFLINE_ACCESS),
        destination: destination(&interaction.request.redirect_uri),
        username: signed_in.user.username.as_str().to_owned(),
        interaction: id,
        csrf: interaction.csrf.clone(),
    };
    page(&req, lang, StatusCode::OK, view.render())
}

/// `POST /consent`: Allow or Deny.
#[tracing::instrument(name = "consent", skip_all)]
pub async fn post(req: HttpRequest, body: form::Body, state: web::Data<AppState>) -> HttpResponse {
    let f = match form::read(&req, body) {
        Ok(f) => f,
        Err(e) => return error_page(&req, &e),
    };
    let (id, interaction, SignedIn { session, .. }) = match loaded(&req, &state, f.get("interaction")).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Err(refusal) = check_form(&req, &state, &interaction, &f) {
        return refusal.page(&req);
    }
    match state.provider.take_interaction(&id).await {
        Ok(true) => {}
        Ok(false) => return error_page(&req, &completed_already()),
        Err(e) => return error_page(&req, &e),
    }
    let approved = f.get("decision") == Some("allow");
    let meta = request_meta(&req, &state);
    let outcome = state.provider.after_consent(id, interaction, &session, approved, &meta, crate::domain::now()).await;
    step_response(&req, &state, outcome)
}

#[cfg(test)]
mod tests {
    use super::destination;
    use crate::domain::RedirectUri;

    #[test]
    fn the_destination_is_the_host_with_a_port_other_than_the_default() {
        for (uri, shown) in [
            ("https://app.example.com/cb", "app.example.com"),
            ("https://app.example.com:443/cb", "app.example.com"),
            ("https://app.example.com:8443/cb?x=1", "app.example.com:8443"),
            ("http://127.0.0.1:9/cb", "127.0.0.1:9"),
            ("http://localhost/cb", "localhost"),
            ("http://[::1]:8080/cb", "[::1]:8080"),
            ("https://bücher.example/cb", "xn--bcher-kva.example"),
            ("com.example.notes:/oauth2redirect", "com.example.notes:"),
        ] {
            assert_eq!(destination(&RedirectUri::parse(uri).unwrap()), shown, "{uri}");
        }
    }
}
