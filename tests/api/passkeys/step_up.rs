//! A passkey steps a session up: alice's session signed in with her password alone is at level `1`; an app asking
//! for level `2` (`acr_values`) gets the sign-in page over it, where her passkey (`amr` pop+mfa) reaches the level.
use super::*;
use openidconnect::core::CoreIdTokenClaims;
use openidconnect::{AuthenticationContextClass, PkceCodeVerifier};

type Rp = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// An authorization URL of `rp` asking for the level `acr` (`acr_values`).
fn asking_for(rp: &Rp, acr: &str) -> (String, PkceCodeVerifier, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .add_auth_context_value(AuthenticationContextClass::new(acr.to_owned()))
        .url();
    (url.to_string(), verifier, nonce)
}

/// The ID token's claims of the code `back` carries.
async fn id_token_of(rp: &Rp, back: &str, verifier: PkceCodeVerifier, nonce: &Nonce) -> CoreIdTokenClaims {
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = query_of(back).get("code").cloned().unwrap_or_else(|| panic!("no code: {back}"));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http_client())
        .await
        .expect("token exchange");
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), nonce).expect("a valid ID token").clone()
}

fn acr_and_amr(claims: &CoreIdTokenClaims) -> (Option<String>, Vec<String>) {
    let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
    let amr = claims.auth_method_refs().map(|m| m.iter().map(|a| a.as_str().to_owned()).collect()).unwrap_or_default();
    (acr, amr)
}

/// Where `GET url` in browser `b` sends it.
async fn sent_to(b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    location(&r)
}

on_localhost!(a_passkey_steps_a_password_session_up_to_level_2, async |app| {
    // alice's browser is signed in with her password alone (level 1); she has a passkey.
    let (mut key, b) = alice_with_a_passkey(&app).await;
    let client = add_client(&app, &["--first-party"]);
    let rp = discovered_rp(&app, &client).await;
    let (url, verifier, nonce) = asking_for(&rp, "1");
    let claims = id_token_of(&rp, &sent_to(&b, &url).await, verifier, &nonce).await;
    assert_eq!(acr_and_amr(&claims), (Some("1".to_owned()), vec!["pwd".to_owned()]), "single sign-on at level 1");

    // Level 2: the sign-in page over the live session, since she has a passkey to step up with.
    let (url, verifier, nonce) = asking_for(&rp, "2");
    let login = sent_to(&b, &url).await;
    assert!(login.starts_with("/login?interaction="), "a step-up: {login}");
    let html = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let r = sign_in_with(&app, &b, &html, &mut key).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let claims = id_token_of(&rp, &location(&r), verifier, &nonce).await;
    assert_eq!(acr_and_amr(&claims), (Some("2".to_owned()), vec!["pop".to_owned(), "mfa".to_owned()]));

    // The session the passkey started answers level 2 at once.
    let (url, verifier, nonce) = asking_for(&rp, "2");
    let claims = id_token_of(&rp, &sent_to(&b, &url).await, verifier, &nonce).await;
    assert_eq!(acr_and_amr(&claims).0.as_deref(), Some("2"));
});
