//! Authentication levels (`acr`, `acr_values`, the `claims` parameter's `acr`, `default_acr_values`) and step-up:
//! a session below the level a request asks for signs in again with a second factor, or goes on at its level, or
//! is refused with `unmet_authentication_requirements`, whether the request came to `/authorize` or was pushed. A
//! refresh's ID token repeats the sign-in's level.
use crate::account::{other_browser, sign_in_to_account};
use crate::clients::rsa_key;
use crate::helpers::*;
use crate::otp::{claims_of, code_form, enrol, password_step, send_code};
use crate::request_object::{add_signing_client, authorize, changed, object_claims, signed};
use crate::signin::{
    add_alice, add_client, auth_url, browse, discovered_rp, location, pkce_pair, query_of, redeem_code, urlencode,
    REDIRECT,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdTokenClaims, CoreTokenResponse};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

type Rp = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// An authorization URL of `rp` asking for the levels `acr` (`acr_values`) and `extra` parameters.
fn rp_url(rp: &Rp, acr: &[&str], extra: &[(&str, &str)]) -> (String, PkceCodeVerifier, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for value in acr {
        req = req.add_auth_context_value(AuthenticationContextClass::new((*value).to_owned()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, _, nonce) = req.url();
    (url.to_string(), verifier, nonce)
}

/// Redeems the code `back` carries: the tokens.
async fn redeemed(rp: &Rp, back: &str, verifier: PkceCodeVerifier) -> CoreTokenResponse {
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = query_of(back).get("code").cloned().unwrap_or_else(|| panic!("no code: {back}"));
    rp.exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http_client())
        .await
        .expect("token exchange")
}

/// Redeems the code `back` carries and verifies the ID token: its claims.
async fn id_token_of(rp: &Rp, back: &str, verifier: PkceCodeVerifier, nonce: &Nonce) -> CoreIdTokenClaims {
    let tokens = redeemed(rp, back, verifier).await;
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), nonce).expect("a valid ID token").clone()
}

/// Redeems the code `back` carries, then refreshes: the ID token of each, verified (the refreshed one without a
/// nonce, OIDC Core §12.2).
async fn signed_in_and_refreshed(
    rp: &Rp,
    back: &str,
    verifier: PkceCodeVerifier,
    nonce: &Nonce,
) -> (CoreIdTokenClaims, CoreIdTokenClaims) {
    let tokens = redeemed(rp, back, verifier).await;
    let signed_in = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), nonce).expect("a valid ID token");
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&oidc_http_client())
        .await
        .expect("refresh");
    let no_nonce = |n: Option<&Nonce>| n.map_or(Ok(()), |_| Err("a nonce in a refreshed ID token".to_owned()));
    let again = refreshed.id_token().expect("an ID token").claims(&rp.id_token_verifier(), no_nonce);
    (signed_in.clone(), again.expect("a valid refreshed ID token").clone())
}

/// A refreshed ID token says what the sign-in's said (OIDC Core §12.2): the same user, client, time and way of
/// signing in.
fn assert_same_sign_in(signed_in: &CoreIdTokenClaims, refreshed: &CoreIdTokenClaims) {
    assert_eq!(refreshed.subject(), signed_in.subject());
    assert_eq!(refreshed.audiences(), signed_in.audiences());
    assert_eq!(refreshed.authorized_party(), signed_in.authorized_party());
    assert_eq!(refreshed.auth_time(), signed_in.auth_time());
    assert_eq!((acr_of(refreshed), amr_of(refreshed)), (acr_of(signed_in), amr_of(signed_in)));
}

/// Pushes an authorization request of `client` (PKCE `challenge`, `state` st) with `extra` parameters to `/par`:
/// the URL that sends a browser with it.
async fn pushed(app: &TestApp, client: &Value, challenge: &str, extra: &[(&str, &str)]) -> String {
    let (id, secret) = (s(client, "client_id"), s(client, "client_secret"));
    let mut form = vec![
        ("client_id", id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    form.extend_from_slice(extra);
    let r = app.api_client.post(app.url("/par")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pushed: Value = r.json().await.unwrap();
    format!("{}/authorize?client_id={id}&request_uri={}", app.address, urlencode(s(&pushed, "request_uri")))
}

fn acr_of(claims: &CoreIdTokenClaims) -> Option<&str> {
    claims.auth_context_ref().map(|a| a.as_str())
}

fn amr_of(claims: &CoreIdTokenClaims) -> Vec<String> {
    claims.auth_method_refs().map(|m| m.iter().map(|a| a.as_str().to_owned()).collect()).unwrap_or_default()
}

/// Where `GET url` in browser `b` sends it.
async fn sent_to(b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    location(&r)
}

both_backends!(a_password_session_steps_up_with_the_code_when_level_2_is_asked_for, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    // A session of alice's made with her password alone, then two-step verification turned on elsewhere.
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let otp = enrol(&app).await;
    let rp = discovered_rp(&app, &client).await;

    // Level 1 is what the session has: single sign-on, and the ID token says so.
    let (url, verifier, nonce) = rp_url(&rp, &["1"], &[]);
    let claims = id_token_of(&rp, &sent_to(&b, &url).await, verifier, &nonce).await;
    assert_eq!((acr_of(&claims), amr_of(&claims)), (Some("1"), vec!["pwd".to_owned()]));
    // Without a page, level 2 cannot be reached.
    let (url, _, _) = rp_url(&rp, &["2"], &[("prompt", "none")]);
    let back = sent_to(&b, &url).await;
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("login_required"), "{back}");

    // A client whose registered default is level 2 asks for it without saying so; its own acr_values prevail.
    let strict = add_client(&app, &["--first-party", "--default-acr-value", "2"]);
    assert_eq!(strict["default_acr_values"], json!(["2"]), "{strict}");
    let strict_rp = discovered_rp(&app, &strict).await;
    let (url, _, _) = rp_url(&strict_rp, &[], &[]);
    assert!(sent_to(&b, &url).await.starts_with("/login?interaction="), "a step-up, over the live session");
    let (url, verifier, nonce) = rp_url(&strict_rp, &["1"], &[]);
    let claims = id_token_of(&strict_rp, &sent_to(&b, &url).await, verifier, &nonce).await;
    assert_eq!(acr_of(&claims), Some("1"));

    // Level 2: the sign-in page over the live session, whose password step goes on to the code.
    let (url, verifier, nonce) = rp_url(&rp, &["2"], &[]);
    let r = password_step(&app, &b, &url).await;
    assert_eq!(r.status(), StatusCode::OK);
    let form = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b, &form, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let claims = id_token_of(&rp, &location(&r), verifier, &nonce).await;
    assert_eq!(acr_of(&claims), Some("2"));
    assert!(amr_of(&claims).contains(&"otp".to_owned()), "{:?}", amr_of(&claims));

    // The new session is level 2, which answers requests for either level at once.
    for (who, asked) in [(&rp, vec!["2"]), (&rp, vec!["1"]), (&strict_rp, vec![])] {
        let (url, verifier, nonce) = rp_url(who, &asked, &[("prompt", "none")]);
        let claims = id_token_of(who, &sent_to(&b, &url).await, verifier, &nonce).await;
        assert_eq!(acr_of(&claims), Some("2"), "{asked:?}");
    }
});

both_backends!(without_a_second_factor_level_2_is_voluntary_unless_essential, async |app| {
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["acr_values_supported"], json!(["1", "2"]));
    assert!(discovery["claims_supported"].as_array().unwrap().contains(&json!("acr")), "{discovery}");
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let b = &app.api_client;
    let level_of = |tokens: &Value| claims_of(s(tokens, "id_token"))["acr"].as_str().map(str::to_owned);

    // Signed in with a password as a voluntary request for level 2 asks: on at level 1.
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, id, &challenge, "&acr_values=2"), None).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(level_of(&tokens).as_deref(), Some("1"));
    // Over that session too, and without a page: there is nothing to step up with.
    for extra in ["&acr_values=2", "&acr_values=2&prompt=none", "&acr_values=gold%202"] {
        let (challenge, verifier) = pkce_pair();
        let back = sent_to(b, &auth_url(&app, id, &challenge, extra)).await;
        let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
        assert_eq!((status, level_of(&tokens).as_deref()), (StatusCode::OK, Some("1")), "{extra}");
    }

    // Essential (the claims parameter), level 2 cannot be met; level 1, or either, can.
    let essential = |values: &str| {
        let claims = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":{values}}}}}}}"#);
        format!("&claims={}", urlencode(&claims))
    };
    let (challenge, _) = pkce_pair();
    let back = sent_to(b, &auth_url(&app, id, &challenge, &essential(r#"["2"]"#))).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("unmet_authentication_requirements"), "{back}");
    assert_eq!(q.get("state").map(String::as_str), Some("st"));
    for values in [r#"["1"]"#, r#"["2","1"]"#] {
        let (challenge, verifier) = pkce_pair();
        let back = sent_to(b, &auth_url(&app, id, &challenge, &essential(values))).await;
        let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
        assert_eq!((status, level_of(&tokens).as_deref()), (StatusCode::OK, Some("1")), "{values}");
    }
    // A single `value` asks for that level as well.
    let claims = urlencode(r#"{"id_token":{"acr":{"essential":true,"value":"2"}}}"#);
    let back = sent_to(b, &auth_url(&app, id, &pkce_pair().0, &format!("&claims={claims}"))).await;
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("unmet_authentication_requirements"));

    // Inside a signed request object: acr_values are voluntary, the claims member's acr essential.
    let key = rsa_key(app.dir.path(), "acr-ro");
    let (signing, signing_secret) =
        add_signing_client(&app, &[&key], &["--first-party", "--request-object-signing-alg", "RS256"]);
    let (challenge, verifier) = pkce_pair();
    let object = signed(&changed(object_claims(&app, &signing, &challenge), json!({ "acr_values": "2" })), &key);
    let (status, back) = authorize(&app, &signing, &object).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{back}");
    let (status, tokens) = redeem_code(&app, &signing, &signing_secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!((status, level_of(&tokens).as_deref()), (StatusCode::OK, Some("1")), "{tokens}");
    let acr = json!({ "id_token": { "acr": { "essential": true, "values": ["2"] } } });
    let object = signed(&changed(object_claims(&app, &signing, &challenge), json!({ "claims": acr })), &key);
    let (_, back) = authorize(&app, &signing, &object).await;
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("unmet_authentication_requirements"));
});

both_backends!(a_refreshed_id_token_says_how_the_user_signed_in, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let rp = discovered_rp(&app, &client).await;

    // The password alone: level 1, in the sign-in's ID token and the refresh's.
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let (url, verifier, nonce) = rp_url(&rp, &[], &[]);
    let (signed_in, refreshed) = signed_in_and_refreshed(&rp, &sent_to(&b, &url).await, verifier, &nonce).await;
    assert_eq!((acr_of(&signed_in), amr_of(&signed_in)), (Some("1"), vec!["pwd".to_owned()]));
    assert_same_sign_in(&signed_in, &refreshed);

    // The password and the code: level 2, in both.
    let otp = enrol(&app).await;
    let (url, verifier, nonce) = rp_url(&rp, &[], &[]);
    let b = other_browser();
    let r = password_step(&app, &b, &url).await;
    assert_eq!(r.status(), StatusCode::OK);
    let form = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b, &form, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (signed_in, refreshed) = signed_in_and_refreshed(&rp, &location(&r), verifier, &nonce).await;
    assert_eq!((acr_of(&signed_in), amr_of(&signed_in)), (Some("2"), vec!["pwd".to_owned(), "otp".to_owned()]));
    assert_same_sign_in(&signed_in, &refreshed);
});

both_backends!(levels_pushed_to_par_are_asked_for_as_at_authorize, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let level_of = |tokens: &Value| claims_of(s(tokens, "id_token"))["acr"].as_str().map(str::to_owned);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;

    // Without a second factor, level 2 asked for voluntarily goes on at level 1; asked for as essential, it is unmet.
    let (challenge, verifier) = pkce_pair();
    let back = sent_to(&b, &pushed(&app, &client, &challenge, &[("acr_values", "2")]).await).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!((status, level_of(&tokens).as_deref()), (StatusCode::OK, Some("1")), "{tokens}");
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["2"]}}}"#;
    let back = sent_to(&b, &pushed(&app, &client, &challenge, &[("claims", essential)]).await).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("unmet_authentication_requirements"), "{back}");
    assert_eq!(q.get("state").map(String::as_str), Some("st"));

    // With one, the same voluntary request steps up: the sign-in page over the live session, then the code.
    let otp = enrol(&app).await;
    let step_up = sent_to(&b, &pushed(&app, &client, &challenge, &[("acr_values", "2")]).await).await;
    assert!(step_up.starts_with("/login?interaction="), "{step_up}");
    let (challenge, verifier) = pkce_pair();
    let r = password_step(&app, &b, &pushed(&app, &client, &challenge, &[("acr_values", "2")]).await).await;
    assert_eq!(r.status(), StatusCode::OK);
    let form = code_form(&r.text().await.unwrap());
    let r = send_code(&app, &b, &form, &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&location(&r))["code"], &verifier).await;
    assert_eq!((status, level_of(&tokens).as_deref()), (StatusCode::OK, Some("2")), "{tokens}");
});

both_backends!(
    default_acr_values_are_registered_and_read_back,
    |raw| { raw.registration.mode = Some("open".into()) },
    async |app| {
        let register = |body: Value| app.api_client.post(app.url("/register")).json(&body).send();
        let r = register(json!({ "redirect_uris": [REDIRECT], "default_acr_values": ["2", "1"] })).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["default_acr_values"], json!(["2", "1"]), "{info}");
        let read: Value = app
            .api_client
            .get(s(&info, "registration_client_uri"))
            .bearer_auth(s(&info, "registration_access_token"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["default_acr_values"], json!(["2", "1"]), "{read}");
        let shown = app.cli_json(&["clients", "show", s(&info, "client_id")], None);
        assert_eq!(shown["default_acr_values"], json!(["2", "1"]), "{shown}");
        let r = register(json!({ "redirect_uris": [REDIRECT], "default_acr_values": ["silver"] })).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let e: Value = r.json().await.unwrap();
        assert_eq!(s(&e, "error"), "invalid_client_metadata", "{e}");
    }
);
