//! RFC 9700 §4.4 (mix-up): every authorization response, success or error, by redirect or form post, carries
//! `iss` equal to the issuer of discovery (RFC 9207), so a client talking to several servers can tell which one
//! answered.
use super::*;
use crate::signin::add_alice;
use crate::signin::add_client;

both_backends!(rfc9700_4_4_mix_up_iss_in_every_authorization_response, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let meta: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    let issuer = s(&meta, "issuer").to_owned();
    assert_eq!(issuer, app.address);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);

    let (challenge, _) = pkce_pair();
    // An error before any session: prompt=none.
    let r = app.api_client.get(authorize_url(&app, &id, &challenge, "&prompt=none")).send().await.unwrap();
    let q = query_of(&location(&r));
    assert_eq!((q.get("error").map(String::as_str), q.get("iss")), (Some("login_required"), Some(&issuer)));

    // Denied at the consent page.
    let back = drive(&app, &app.api_client, &authorize_url(&app, &id, &challenge, ""), "deny").await;
    let q = query_of(&back);
    assert_eq!((q.get("error").map(String::as_str), q.get("iss")), (Some("access_denied"), Some(&issuer)));

    // Success.
    let back = drive(&app, &app.api_client, &authorize_url(&app, &id, &challenge, ""), "allow").await;
    let q = query_of(&back);
    assert!(q.contains_key("code"), "{back}");
    assert_eq!(q.get("iss"), Some(&issuer));
    assert_eq!(q.get("state").map(String::as_str), Some("st"));

    // An error after the redirect URI was verified.
    let url = authorize_url(&app, &id, &challenge, "").replace("scope=openid", "scope=openid%20admin");
    let q = query_of(&location(&app.api_client.get(&url).send().await.unwrap()));
    assert_eq!((q.get("error").map(String::as_str), q.get("iss")), (Some("invalid_scope"), Some(&issuer)));

    // form_post, success and error.
    let r = app.api_client.get(authorize_url(&app, &id, &challenge, "&response_mode=form_post")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(!hidden(&html, "code").is_empty());
    assert_eq!(hidden(&html, "iss"), issuer);
    let url = authorize_url(&app, &id, &challenge, "&response_mode=form_post").replace("scope=openid", "scope=admin");
    let r = app.api_client.get(&url).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert_eq!(hidden(&html, "error"), "invalid_scope", "{html}");
    assert_eq!(hidden(&html, "iss"), issuer);
});
