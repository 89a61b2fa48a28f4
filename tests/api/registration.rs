//! Dynamic client registration (RFC 7591) and its management (RFC 7592): a relying party that registers
//! itself and signs a user in, the registration access token, every metadata refusal, and the three
//! `registration.mode`s.
use crate::clients::{assertion_claims, ec_key, jwks_of, rsa_key, sign, with_assertion, ClientKey};
use crate::helpers::{oidc_http_client, sleep_until_unix, TestApp};
use crate::signin::{add_alice, auth_url, browse, consent_page, pkce_pair, query_of, REDIRECT};
use openidconnect::core::{
    CoreApplicationType, CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreClientRegistrationRequest,
    CoreGrantType, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::registration::EmptyAdditionalClientMetadata;
use openidconnect::{
    AuthorizationCode, ClientName, ClientUrl, CsrfToken, IssuerUrl, LocalizedClaim, LogoUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const LOGO: &str = "https://app.example/logo.png";
const HOME: &str = "https://app.example/";

fn open(raw: &mut tessera::config::RawSettings) {
    raw.registration.mode = Some("open".into());
}

/// `open`, with a per-IP registration limit that many refusals leave room under.
fn open_with_room_for_refusals(raw: &mut tessera::config::RawSettings) {
    open(raw);
    raw.limits.register_ip_requests = 100;
}

/// `POST /register` with a JSON body and an optional bearer token.
async fn register(app: &TestApp, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut req = app.api_client.post(app.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers `body` and returns the client information, asserting a 201 that is never cached.
async fn registered(app: &TestApp, body: &Value) -> Value {
    let r = register(app, body, None).await;
    let status = r.status();
    let cache = r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    let info: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{info}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    info
}

/// A request to the client configuration endpoint of `info` with `token`.
fn manage(app: &TestApp, method: reqwest::Method, info: &Value, token: Option<&str>) -> reqwest::RequestBuilder {
    let uri = info["registration_client_uri"].as_str().unwrap();
    let req = app.api_client.request(method, uri);
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

fn rat(info: &Value) -> &str {
    info["registration_access_token"].as_str().unwrap()
}

/// Asserts an RFC 6750 `invalid_token` answer.
async fn assert_invalid_token(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers().get("www-authenticate").expect("a Bearer challenge").to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{body}");
}

/// Asserts the RFC 6750 §3.1 answer to a request without credentials: 401 and a challenge with no error code.
fn assert_bare_challenge(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers().get("www-authenticate").expect("a Bearer challenge"), "Bearer realm=\"tessera\"");
}

/// Asserts an RFC 6750 `invalid_request` answer: 400 with the error in the Bearer challenge.
async fn assert_bearer_invalid_request(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let challenge = r.headers().get("www-authenticate").expect("a Bearer challenge").to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_request\""), "{challenge}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
}

/// Asserts an RFC 7591 §3.2.2 error with `code`.
async fn assert_refused(r: reqwest::Response, code: &str, what: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store", "{what}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{what}: {body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{what}: {body}");
}

both_backends!(relying_party_registers_itself_and_signs_in, |raw| { open(raw) }, async |app| {
    let alice = add_alice(&app);
    let http = oidc_http_client();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let endpoint = metadata.registration_endpoint().expect("registration_endpoint is advertised").clone();
    assert_eq!(endpoint.as_str(), app.url("/register"));

    let registration = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(REDIRECT.to_owned()).unwrap()],
        EmptyAdditionalClientMetadata::default(),
    )
    .set_grant_types(Some(vec![CoreGrantType::AuthorizationCode, CoreGrantType::RefreshToken]))
    .set_client_name(Some(LocalizedClaim::from(ClientName::new("Self-registered notes".into()))))
    .set_client_uri(Some(LocalizedClaim::from(ClientUrl::new(HOME.into()).unwrap())))
    .set_logo_uri(Some(LocalizedClaim::from(LogoUrl::new(LOGO.into()).unwrap())))
    .register_async(&endpoint, &http)
    .await
    .expect("registration");
    let client_id = registration.client_id().clone();
    let secret = registration.client_secret().cloned().expect("a confidential client gets a secret");
    assert!(registration.registration_access_token().is_some());
    assert_eq!(
        registration.registration_client_uri().map(|u| u.as_str().to_owned()),
        Some(app.url(&format!("/register/{}", client_id.as_str())))
    );

    // An ordinary third-party client: never first-party or admin, PKCE required.
    let shown = app.cli_json(&["clients", "show", client_id.as_str()], None);
    assert_eq!(
        (&shown["first_party"], &shown["admin"], &shown["require_pkce"]),
        (&json!(false), &json!(false), &json!(true))
    );

    // The consent page shows the registered name and https links.
    let (challenge, _) = pkce_pair();
    let html = consent_page(&app, &auth_url(&app, client_id.as_str(), &challenge, "")).await;
    assert!(html.contains("Self-registered notes"), "{html}");
    assert!(html.contains(&format!("src=\"{LOGO}\"")), "{html}");
    assert!(html.contains(&format!("href=\"{HOME}\"")), "{html}");

    // The code flow with PKCE through the relying party, with the registered credentials.
    let rp = CoreClient::from_provider_metadata(metadata, client_id, Some(secret))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = browse(&app, url.as_str(), Some("allow")).await;
    let q = query_of(&back);
    assert_eq!(q.get("state"), Some(csrf.secret()));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let claims = tokens.id_token().expect("an ID token").claims(&rp.id_token_verifier(), &nonce).expect("valid");
    assert_eq!(claims.subject().as_str(), alice["id"].as_str().unwrap());
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert!(tokens.refresh_token().is_some(), "refresh_token was registered and offline_access granted");
});

// OpenID Connect Dynamic Client Registration 1.0 §2: `application_type` is web by default, and only a native
// app (on the user's device) may have private-use scheme redirect URIs.
both_backends!(native_apps_register_as_native, |raw| { open(raw) }, async |app| {
    use reqwest::Method;
    const APP_SCHEME: &str = "com.example.notes:/oauth2redirect";

    // Through the relying party library, as an app on a phone would register.
    let http = oidc_http_client();
    let endpoint = openidconnect::RegistrationUrl::new(app.url("/register")).unwrap();
    let registration = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(APP_SCHEME.to_owned()).unwrap()],
        EmptyAdditionalClientMetadata::default(),
    )
    .set_application_type(Some(CoreApplicationType::Native))
    .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::None))
    .register_async(&endpoint, &http)
    .await
    .expect("a native app registers its private-use scheme");
    assert_eq!(registration.application_type(), Some(&CoreApplicationType::Native));
    let shown = app.cli_json(&["clients", "show", registration.client_id().as_str()], None);
    assert_eq!(shown["application_type"], "native");

    // The same app without application_type is a web client, which a private-use scheme cannot reach.
    let body = json!({ "redirect_uris": [APP_SCHEME], "token_endpoint_auth_method": "none" });
    let r = register(&app, &body, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refusal: Value = r.json().await.unwrap();
    assert_eq!(refusal["error"], "invalid_client_metadata", "{refusal}");
    assert!(refusal["error_description"].as_str().unwrap().contains("application_type 'native'"), "{refusal}");
    for (change, what) in [
        (json!({ "application_type": "web" }), "web"),
        (json!({ "application_type": "desktop" }), "unknown type"),
        (json!({ "application_type": "NATIVE" }), "names are case-sensitive"),
        (json!({ "application_type": 1 }), "not a string"),
        (
            json!({ "application_type": "web", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": [APP_SCHEME] }),
            "post-logout URI",
        ),
    ] {
        let mut refused = body.clone();
        refused.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        assert_refused(register(&app, &refused, None).await, "invalid_client_metadata", what).await;
    }

    // RFC 7591 §3.2.1 and RFC 7592 §3: the registered type is in every client information response.
    let native = json!({ "application_type": "native", "redirect_uris": [APP_SCHEME, "http://127.0.0.1/cb"],
                         "token_endpoint_auth_method": "none" });
    let info = registered(&app, &native).await;
    assert_eq!(info["application_type"], "native");
    let read: Value = manage(&app, Method::GET, &info, Some(rat(&info))).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["application_type"], "native", "{read}");
    let web = registered(&app, &json!({ "redirect_uris": [REDIRECT] })).await;
    assert_eq!(web["application_type"], "web", "the default");

    // The audit trail records the type with the client's other details.
    let events = crate::hostile::audit_events(&app);
    let of = |id: &Value| {
        let registered = crate::hostile::events_of(&events, "client_registered");
        registered.into_iter().find(|e| e["client_id"] == *id).unwrap_or_else(|| panic!("{id}: {events:?}"))
    };
    assert_eq!(of(&info["client_id"])["details"]["application_type"], "native");
    assert_eq!(of(&web["client_id"])["details"]["application_type"], "web");

    // RFC 8252 §7.2-7.3: a native app listens on the loopback interface with http; https there fits neither.
    for uri in ["https://localhost/cb", "https://127.0.0.1:8443/cb"] {
        let body =
            json!({ "application_type": "native", "redirect_uris": [uri], "token_endpoint_auth_method": "none" });
        assert_refused(register(&app, &body, None).await, "invalid_redirect_uri", uri).await;
    }

    // An update replaces the type with the rest, under the same rules.
    let mut update = native.clone();
    update["client_id"] = info["client_id"].clone();
    update.as_object_mut().unwrap().remove("application_type");
    let r = manage(&app, Method::PUT, &info, Some(rat(&info))).json(&update).send().await.unwrap();
    assert_refused(r, "invalid_client_metadata", "web with a private-use scheme").await;
    update["redirect_uris"] = json!(["http://127.0.0.1/cb"]);
    let r = manage(&app, Method::PUT, &info, Some(rat(&info))).json(&update).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["application_type"], "web", "{updated}");
    let read: Value = manage(&app, Method::GET, &info, Some(rat(&info))).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["application_type"], "web", "{read}");
});

// OpenID Connect Dynamic Client Registration 1.0 §2 and §3.2: what the server does (RS256 ID tokens, public
// and pairwise subjects) may be asked for and is in every client information response; what it does not
// (encryption, another algorithm) is refused rather than ignored. Regression: both were dropped in silence, so a
// client that asked for pairwise subjects got public ones without knowing.
both_backends!(
    openid_connect_metadata_is_honoured_or_refused,
    |raw| { open_with_room_for_refusals(raw) },
    async |app| {
        use openidconnect::core::{
            CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreRegisterErrorResponseType,
            CoreSubjectIdentifierType,
        };
        use openidconnect::registration::ClientRegistrationError;
        use reqwest::Method;
        let http = oidc_http_client();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
        let endpoint = metadata.registration_endpoint().unwrap().clone();
        let request = || {
            CoreClientRegistrationRequest::new(
                vec![RedirectUrl::new(REDIRECT.to_owned()).unwrap()],
                EmptyAdditionalClientMetadata::default(),
            )
        };

        // What discovery advertises is what registration accepts, and the response says what is in effect.
        assert_eq!(
            metadata.subject_types_supported(),
            &vec![CoreSubjectIdentifierType::Public, CoreSubjectIdentifierType::Pairwise]
        );
        assert_eq!(
            metadata.id_token_signing_alg_values_supported(),
            &vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
        );
        let registration = request()
            .set_id_token_signed_response_alg(Some(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256))
            .set_subject_type(Some(CoreSubjectIdentifierType::Public))
            .set_default_max_age(Some(std::time::Duration::from_secs(900)))
            .set_require_auth_time(Some(true))
            .register_async(&endpoint, &http)
            .await
            .expect("RS256 and public subjects are what the server does");
        assert_eq!(registration.id_token_signed_response_alg(), Some(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
        assert_eq!(registration.subject_type(), Some(&CoreSubjectIdentifierType::Public));
        assert_eq!(registration.default_max_age(), Some(&std::time::Duration::from_secs(900)));
        assert_eq!(registration.require_auth_time(), Some(true));
        // Not asked for: the values in effect all the same, on registration and on every read (RFC 7592 §3).
        let info = registered(&app, &json!({ "redirect_uris": [REDIRECT] })).await;
        let read: Value =
            manage(&app, Method::GET, &info, Some(rat(&info))).send().await.unwrap().json().await.unwrap();
        for shown in [&info, &read] {
            assert_eq!(shown["id_token_signed_response_alg"], "RS256", "{shown}");
            assert_eq!(shown["subject_type"], "public", "{shown}");
        }

        // Pairwise subjects are offered too (see tests/api/pairwise.rs).
        let pairwise = request().set_subject_type(Some(CoreSubjectIdentifierType::Pairwise));
        let registration = pairwise.register_async(&endpoint, &http).await.expect("pairwise subjects are offered");
        assert_eq!(registration.subject_type(), Some(&CoreSubjectIdentifierType::Pairwise));

        // Refused, with the member and what is supported named.
        let refusal = |e: ClientRegistrationError<CoreRegisterErrorResponseType, _>| match e {
            ClientRegistrationError::ServerResponse(e) => {
                assert_eq!(e.error(), &CoreRegisterErrorResponseType::InvalidClientMetadata, "{e:?}");
                e.error_description().cloned().unwrap_or_default()
            }
            other => panic!("not a registration error response: {other:?}"),
        };
        let encrypted = request().set_id_token_encrypted_response_alg(Some(CoreJweKeyManagementAlgorithm::RsaOaep));
        let why = refusal(encrypted.register_async(&endpoint, &http).await.unwrap_err());
        assert!(why.contains("id_token_encrypted_response_alg") && why.contains("RS256"), "{why}");
        let es256 = request().set_id_token_signed_response_alg(Some(CoreJwsSigningAlgorithm::EcdsaP256Sha256));
        let why = refusal(es256.register_async(&endpoint, &http).await.unwrap_err());
        assert!(why.contains("id_token_signed_response_alg") && why.contains("RS256"), "{why}");
        for member in [json!({ "userinfo_signed_response_alg": "RS256" }), json!({ "frontchannel_logout_uri": HOME })] {
            let mut body = json!({ "redirect_uris": [REDIRECT] });
            body.as_object_mut().unwrap().extend(member.as_object().unwrap().clone());
            assert_refused(register(&app, &body, None).await, "invalid_client_metadata", &member.to_string()).await;
        }
        // An update is checked alike.
        let update = json!({ "client_id": info["client_id"], "redirect_uris": [REDIRECT], "subject_type": "opaque" });
        let r = manage(&app, Method::PUT, &info, Some(rat(&info))).json(&update).send().await.unwrap();
        assert_refused(r, "invalid_client_metadata", "another subject type in an update").await;
    }
);

both_backends!(consent_page_shows_only_https_links, |raw| { open(raw) }, async |app| {
    add_alice(&app);
    // Registration refuses links that are not https.
    for logo in ["http://app.example/logo.png", "javascript:alert(1)", "data:image/png;base64,AAAA"] {
        let body = json!({ "redirect_uris": [REDIRECT], "logo_uri": logo });
        assert_refused(register(&app, &body, None).await, "invalid_client_metadata", logo).await;
    }
    // A row that holds such links anyway (written before these checks, or by hand) does not show them.
    let info = registered(&app, &json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" })).await;
    let id = tessera::domain::ClientId::parse(info["client_id"].as_str().unwrap()).unwrap();
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    use tessera::storage::ClientStore;
    let mut client = store.client(&id).await.unwrap().unwrap();
    client.metadata.logo_uri = Some("javascript:alert(1)".into());
    client.metadata.client_uri = Some("http://app.example/".into());
    client.metadata.policy_uri = Some("https://app.example/privacy".into());
    store.update_client(&client).await.unwrap();
    let (challenge, _) = pkce_pair();
    let html = consent_page(&app, &auth_url(&app, id.as_str(), &challenge, "")).await;
    assert!(!html.contains("javascript:") && !html.contains("http://app.example"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("href=\"https://app.example/privacy\""), "{html}");
});

// Its refusals count against the per-IP registration limit: more of them than the default allows in an hour.
both_backends!(registration_access_token_manages_the_client, |raw| { open_with_room_for_refusals(raw) }, async |app| {
    use reqwest::Method;
    add_alice(&app);
    let body = json!({
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "Notes",
        "contacts": ["ops@app.example"],
        "scope": "openid email offline_access",
        "software_id": "ignored-unknown-member",
    });
    let info = registered(&app, &body).await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(info["client_secret_expires_at"], 0);
    assert!((info["client_id_issued_at"].as_i64().unwrap() - tessera::domain::now()).abs() < 10);
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(info["scope"], "email offline_access openid");
    assert_eq!(info["contacts"], json!(["ops@app.example"]));
    assert!(info.get("software_id").is_none());
    let token = rat(&info).to_owned();
    let other = registered(&app, &json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" })).await;
    assert!(other.get("client_secret").is_none(), "public clients get no secret: {other}");

    // Read: the registration without the secret, with the token presented.
    let r = manage(&app, Method::GET, &info, Some(&token)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let read: Value = r.json().await.unwrap();
    assert!(read.get("client_secret").is_none() && !read.to_string().contains(&secret), "{read}");
    for key in ["client_id", "client_name", "redirect_uris", "grant_types", "scope", "registration_client_uri"] {
        assert_eq!(read[key], info[key], "{key}");
    }
    assert_eq!(read["registration_access_token"], token.as_str());

    // Wrong, another client's, and a token for a client the CLI made: all the same 401; a missing one, the bare
    // challenge; two Authorization headers, invalid_request whichever comes first.
    let cli_client = app.cli_json(&["clients", "add", "--name", "CLI", "--redirect-uri", REDIRECT], None);
    let cli_info = json!({ "registration_client_uri":
        app.url(&format!("/register/{}", cli_client["client_id"].as_str().unwrap())) });
    let nobody = json!({ "registration_client_uri": app.url("/register/nobody") });
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = manage(&app, method.clone(), &info, None).json(&json!({ "client_id": id })).send().await;
        assert_bare_challenge(r.unwrap());
        for second in ["Bearer wrong", &format!("Bearer {token}")] {
            let r = manage(&app, method.clone(), &info, Some(&token)).header("authorization", second).send().await;
            assert_bearer_invalid_request(r.unwrap()).await;
        }
    }
    for (target, presented) in [
        (&info, Some("wrong")),
        (&info, Some(rat(&other))),
        (&cli_info, Some(token.as_str())),
        (&nobody, Some(token.as_str())),
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let r = manage(&app, method.clone(), target, presented).json(&json!({ "client_id": id })).send().await;
            assert_invalid_token(r.unwrap()).await;
        }
    }

    // A flow, so there are tokens to revoke later.
    let (challenge, verifier) = pkce_pair();
    let url =
        auth_url(&app, &id, &challenge, "").replace("scope=openid%20profile%20email", "scope=openid%20offline_access");
    let back = browse(&app, &url, Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}"));
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap_or_else(|| panic!("{tokens}")).to_owned();

    // Update: the whole metadata is replaced; client_id must match; the secret may be repeated, not changed.
    let mut update = json!({
        "client_id": id,
        "client_secret": secret,
        "redirect_uris": [REDIRECT, "https://app.example/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "Notes 2",
        "logo_uri": LOGO,
    });
    let r = manage(&app, Method::PUT, &info, Some(&token)).json(&update).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["client_name"], "Notes 2");
    assert_eq!(updated["redirect_uris"], json!([REDIRECT, "https://app.example/cb"]));
    assert_eq!(updated["logo_uri"], LOGO);
    assert!(updated.get("contacts").is_none(), "omitted members are cleared: {updated}");
    assert!(updated.get("client_secret").is_none(), "the secret is kept, not re-issued: {updated}");
    assert_eq!(updated["client_id_issued_at"], info["client_id_issued_at"]);
    let read: Value = manage(&app, Method::GET, &info, Some(&token)).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["client_name"], "Notes 2");
    let shown = app.cli_json(&["clients", "show", &id], None);
    assert_eq!(shown["client_name"], "Notes 2");

    for (change, code) in [
        (json!({ "client_id": other["client_id"] }), "invalid_client_metadata"),
        (json!({ "client_id": null }), "invalid_client_metadata"),
        (json!({ "client_secret": "not-the-secret" }), "invalid_client_metadata"),
        (json!({ "redirect_uris": ["http://app.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "scope": "openid tessera:admin" }), "invalid_client_metadata"),
    ] {
        let mut body = update.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let r = manage(&app, Method::PUT, &info, Some(&token)).json(&body).send().await.unwrap();
        assert_refused(r, code, &change.to_string()).await;
    }
    update.as_object_mut().unwrap().remove("client_secret");
    let r = manage(&app, Method::PUT, &info, Some(&token)).json(&update).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "client_secret may be left out");

    // The secret still authenticates after the updates: it was kept, not changed.
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // Delete: 204, then the token no longer opens anything and what the client was issued stops working.
    let r = manage(&app, Method::DELETE, &info, Some(&token)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        assert_invalid_token(manage(&app, method, &info, Some(&token)).send().await.unwrap()).await;
    }
    let args = ["clients", "show", id.as_str()];
    crate::helpers::assert_failure(&app.cli(&args, None), &args);
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the access token died with the client");
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the client is gone");
    // The other client is untouched.
    let r = manage(&app, Method::GET, &other, Some(rat(&other))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
});

// Ten deletes at once: up to nine answered 204, each writing a client_registration_deleted event, for one
// deletion. Only the delete that removed the client succeeds; the others find its token dead.
both_backends!(concurrent_deletes_delete_once, |raw| { open(raw) }, async |app| {
    let info = registered(&app, &json!({ "grant_types": ["client_credentials"], "client_name": "Twice" })).await;
    let deletes = (0..10).map(|_| manage(&app, reqwest::Method::DELETE, &info, Some(rat(&info))).send());
    let answers = futures_util::future::join_all(deletes).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.as_ref().unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::NO_CONTENT).count(), 1, "{statuses:?}");
    for r in answers.into_iter().map(Result::unwrap).filter(|r| r.status() != StatusCode::NO_CONTENT) {
        assert_invalid_token(r).await;
    }
    let events = crate::hostile::audit_events(&app);
    assert_eq!(crate::hostile::events_of(&events, "client_registration_deleted").len(), 1, "{events:?}");
});

both_backends!(a_service_client_registers_and_uses_client_credentials, |raw| { open(raw) }, async |app| {
    let info = registered(&app, &json!({ "grant_types": ["client_credentials"], "client_name": "Batch job" })).await;
    assert_eq!(info["response_types"], json!([]));
    assert_eq!(info["redirect_uris"], json!([]));
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(info["client_id"].as_str().unwrap(), info["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string(), "{body}");
});

// Keys are for private_key_jwt clients only, the rule the admin API and the CLI apply: a client registered
// with them otherwise could not be edited there.
both_backends!(keys_are_refused_for_clients_that_sign_no_assertion, |raw| { open(raw) }, async |app| {
    let jwks = app.jwks().await;
    let jwks_uri = "https://app.example/jwks";
    for body in [
        json!({ "redirect_uris": [REDIRECT], "jwks_uri": jwks_uri }),
        json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post", "jwks": jwks }),
        json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "jwks_uri": jwks_uri }),
    ] {
        let r = register(&app, &body, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"], "invalid_client_metadata", "{body}: {error}");
        let why = error["error_description"].as_str().unwrap_or_default();
        assert!(why.contains("private_key_jwt"), "{body}: {error}");
    }
    let signing = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks });
    assert_eq!(registered(&app, &signing).await["jwks"], jwks);
});

// Regression: a stranger could register RSA keys of up to 8192 bits with any public exponent (a huge one makes
// each verification cost as much as a signature), and any number of keys under one kid, and make us try them all.
both_backends!(
    private_key_jwt_keys_are_bounded_at_registration,
    |raw| { open_with_room_for_refusals(raw) },
    async |app| {
        let dir = app.dir.path();
        let (rsa, ec) = (rsa_key(dir, "rsa-1"), ec_key(dir, "ec-1"));
        let public = |k: &ClientKey, kid: &str| {
            let mut v = serde_json::to_value(&k.public).unwrap();
            v["kid"] = json!(kid);
            v
        };
        let with = |kid: &str, member: &str, value: &str| {
            let mut v = public(&rsa, kid);
            v[member] = json!(value);
            v
        };
        // josekit reads no RSA key under 2048 bits: its modulus comes from openssl.
        let small_pem = crate::helpers::openssl_rsa_key(dir, "small.pem", 1024, false);
        let small = with("small", "n", &crate::helpers::openssl_modulus_b64(&small_pem));
        let p384_pem = dir.join("p384.pem");
        let o = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out"])
            .arg(&p384_pem)
            .output()
            .unwrap();
        assert!(o.status.success());
        let p384 =
            josekit::jws::ES384.key_pair_from_pem(std::fs::read(&p384_pem).unwrap()).unwrap().to_jwk_public_key();
        let huge_modulus = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [0xc5u8; 1024]);
        for (what, bad, said) in [
            ("e = 3", with("e3", "e", "Aw"), "exponent"),
            ("e = 2^64 + 1", with("big-e", "e", "AQAAAAAAAAAB"), "exponent"),
            ("RSA-1024", small, "1024 bits"),
            ("RSA-8192", with("huge", "n", &huge_modulus), "8192 bits"),
            ("P-384", serde_json::to_value(&p384).unwrap(), "P-256"),
            ("a kid twice", public(&ec, "rsa-1"), "kid"),
        ] {
            let body = json!({
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": { "keys": [public(&rsa, "rsa-1"), bad] },
            });
            let r = register(&app, &body, None).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
            let error: Value = r.json().await.unwrap();
            assert_eq!(error["error"], "invalid_client_metadata", "{what}: {error}");
            let why = error["error_description"].as_str().unwrap_or_default();
            assert!(why.contains("jwks") && why.contains(said), "{what}: {error}");
        }

        // Good RS256 and ES256 keys still sign assertions, named by their kid or not.
        let body = json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks_of(&[&rsa, &ec]),
        });
        let info = registered(&app, &body).await;
        let id = info["client_id"].as_str().unwrap();
        let aud = app.url("/token");
        let mut unnamed = josekit::jws::RS256.signer_from_pem(std::fs::read(dir.join("rsa-1.pem")).unwrap()).unwrap();
        unnamed.remove_key_id();
        for (what, signer) in
            [("RS256", rsa.signer.as_ref()), ("ES256", ec.signer.as_ref()), ("RS256 without a kid", &unnamed)]
        {
            let r = with_assertion(&app, &sign(&assertion_claims(id, &aud, 60), signer), &[]).await;
            assert_eq!(r.0, StatusCode::OK, "{what}: {}", r.1);
        }
    }
);

// Regression: names with format characters were registered: a bidi override reordered the page text after the
// name, an invisible character let a name pass for another.
both_backends!(names_with_format_characters_are_refused, |raw| { open(raw) }, async |app| {
    for name in ["Photos \u{202e}", "\u{2067}Photos", "G\u{200b}oogle", "Goo\u{00ad}gle"] {
        let body = json!({ "redirect_uris": [REDIRECT], "client_name": name });
        assert_refused(register(&app, &body, None).await, "invalid_client_metadata", name).await;
    }
    let body = json!({ "redirect_uris": [REDIRECT], "client_name": "Photos \u{05e9}\u{05dc}\u{05d5}\u{05dd}" });
    assert_eq!(registered(&app, &body).await["client_name"], body["client_name"]);
});

// Regression: ZWNJ and ZWJ were refused everywhere, so a Persian name that needs ZWNJ or an emoji ZWJ sequence
// could not be registered. Where a script or an emoji sequence joins they pass and show on the consent page;
// between Latin letters they stay refused.
both_backends!(names_may_join_where_their_script_needs_it, |raw| { open(raw) }, async |app| {
    add_alice(&app);
    let body = json!({ "redirect_uris": [REDIRECT], "client_name": "Goo\u{200d}gle" });
    assert_refused(register(&app, &body, None).await, "invalid_client_metadata", "Goo\u{200d}gle").await;
    for name in [
        "\u{0645}\u{06cc}\u{200c}\u{062e}\u{0648}\u{0627}\u{0647}\u{0645}",
        "Family \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    ] {
        let body = json!({ "redirect_uris": [REDIRECT], "client_name": name });
        let info = registered(&app, &body).await;
        assert_eq!(info["client_name"], name);
        let (challenge, _) = pkce_pair();
        let html = consent_page(&app, &auth_url(&app, info["client_id"].as_str().unwrap(), &challenge, "")).await;
        assert!(html.contains(&format!("<bdi>{name}</bdi>")), "{name:?}: {html}");
    }
});

both_backends!(metadata_is_validated, |raw| { open(raw) }, async |app| {
    let web = |extra: Value| {
        let mut body = json!({ "redirect_uris": [REDIRECT] });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for (body, code) in [
        (json!({ "redirect_uris": ["http://app.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["https://app.example/cb#fragment"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["https://*.app.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["myapp:/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": [] }), "invalid_client_metadata"),
        (web(json!({ "logo_uri": "ftp://app.example/logo.png" })), "invalid_client_metadata"),
        (web(json!({ "logo_uri": "javascript:alert(1)" })), "invalid_client_metadata"),
        (web(json!({ "response_types": ["token"] })), "invalid_client_metadata"),
        (web(json!({ "grant_types": ["implicit"] })), "invalid_client_metadata"),
        (
            json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" }),
            "invalid_client_metadata",
        ),
        (web(json!({ "token_endpoint_auth_method": "private_key_jwt" })), "invalid_client_metadata"),
        (web(json!({ "jwks_uri": "http://app.example/jwks" })), "invalid_client_metadata"),
        (web(json!({ "scope": "openid tessera:admin" })), "invalid_client_metadata"),
        (web(json!({ "client_name": "" })), "invalid_client_metadata"),
    ] {
        assert_refused(register(&app, &body, None).await, code, &body.to_string()).await;
    }

    // Native apps: loopback http and reverse-domain private-use schemes.
    let native = json!({
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1/callback", "com.example.notes:/oauth2redirect"],
        "token_endpoint_auth_method": "none",
    });
    let info = registered(&app, &native).await;
    assert_eq!(info["redirect_uris"], native["redirect_uris"]);

    // Bodies that are not one JSON object of metadata.
    let post = |body: &'static str, content_type: &'static str| {
        app.api_client.post(app.url("/register")).header("content-type", content_type).body(body).send()
    };
    assert_refused(
        post("redirect_uris=x", "application/x-www-form-urlencoded").await.unwrap(),
        "invalid_request",
        "form",
    )
    .await;
    assert_refused(post("[1, 2]", "application/json").await.unwrap(), "invalid_client_metadata", "array").await;
    assert_refused(post("{", "application/json").await.unwrap(), "invalid_client_metadata", "broken JSON").await;
    let twice = r#"{"redirect_uris": ["https://a.example/cb"], "redirect_uris": ["https://b.example/cb"]}"#;
    assert_refused(post(twice, "application/json").await.unwrap(), "invalid_request", "duplicate member").await;
    let huge = web(json!({ "client_name": "x".repeat(70 * 1024) }));
    assert_refused(register(&app, &huge, None).await, "invalid_request", "too large").await;
});

both_backends!(
    token_mode_requires_an_initial_access_token,
    |raw| {
        raw.registration.mode = Some("token".into());
    },
    async |app| {
        let body = json!({ "redirect_uris": [REDIRECT] });
        assert_bare_challenge(register(&app, &body, None).await);
        assert_invalid_token(register(&app, &body, Some("made-up")).await).await;
        // Even a broken body is refused for the missing token first.
        let r = app.api_client.post(app.url("/register")).header("content-type", "text/plain").body("x").send().await;
        assert_bare_challenge(r.unwrap());

        let issued = app.cli_json(&["registration", "token", "--expires-in", "1h"], None);
        let token = issued["token"].as_str().unwrap().to_owned();
        let expires_at = issued["expires_at"].as_i64().unwrap();
        assert!((expires_at - tessera::domain::now() - 3600).abs() < 10, "{issued}");
        // With a second Authorization header, neither is taken.
        for second in ["Bearer made-up", "Basic eDp5"] {
            let r = app.api_client.post(app.url("/register")).bearer_auth(&token).header("authorization", second);
            assert_bearer_invalid_request(r.json(&body).send().await.unwrap()).await;
        }
        // It works for more than one registration until it expires.
        for _ in 0..2 {
            let r = register(&app, &body, Some(&token)).await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
        let r = register(&app, &json!({ "redirect_uris": ["http://app.example/cb"] }), Some(&token)).await;
        assert_refused(r, "invalid_redirect_uri", "metadata is still checked").await;

        // An expired token is refused.
        let short = app.cli_json(&["registration", "token", "--expires-in", "1s"], None);
        let short_token = short["token"].as_str().unwrap();
        sleep_until_unix(short["expires_at"].as_i64().unwrap()).await;
        assert_invalid_token(register(&app, &body, Some(short_token)).await).await;

        // The stored value is a hash: the token is not in the database.
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        use tessera::storage::RegistrationStore;
        let hash = tessera::domain::secret::SecretHash::of(&token);
        assert!(store.initial_access_token(&hash, tessera::domain::now()).await.unwrap().is_some());

        let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
        assert_eq!(doc["registration_endpoint"], app.url("/register"));

        // The CLI's text output and its refusals.
        let out = app.cli(&["registration", "token"], None);
        crate::helpers::assert_success(&out, &["registration", "token"]);
        assert!(String::from_utf8(out.stdout).unwrap().contains("initial access token"));
        for bad in ["10", "1w", "0m", "400d"] {
            let args = ["registration", "token", "--expires-in", bad];
            crate::helpers::assert_failure(&app.cli(&args, None), &args);
        }
    }
);

// A leaked initial access token can be withdrawn before it expires: by its value, or all of them.
both_backends!(
    initial_access_tokens_can_be_withdrawn,
    |raw| {
        raw.registration.mode = Some("token".into());
    },
    async |app| {
        let body = json!({ "redirect_uris": [REDIRECT] });
        let leaked_issue = app.cli_json(&["registration", "token"], None);
        let text = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();
        let (leaked, leaked_hash) = (text(&leaked_issue, "token"), text(&leaked_issue, "hash"));
        let issue = || app.cli_json(&["registration", "token"], None)["token"].as_str().unwrap().to_owned();
        let (other, third) = (issue(), issue());
        let r = register(&app, &body, Some(&leaked)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let registered = r.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_owned();

        let revoked = app.cli_json(&["registration", "revoke", "--token-stdin"], Some(&leaked));
        assert_eq!(revoked["revoked"], 1);
        assert_invalid_token(register(&app, &body, Some(&leaked)).await).await;
        assert_eq!(register(&app, &body, Some(&other)).await.status(), StatusCode::CREATED, "the others still work");
        // Withdrawn already: an error, not a quiet success.
        let args = ["registration", "revoke", "--token-stdin"];
        crate::helpers::assert_failure(&app.cli(&args, Some(&leaked)), &args);

        assert_eq!(app.cli_json(&["registration", "revoke", "--all"], None)["revoked"], 2);
        for token in [&other, &third] {
            assert_invalid_token(register(&app, &body, Some(token)).await).await;
        }
        // One of the two ways must be chosen.
        let out = app.cli(&["registration", "revoke"], None);
        assert_eq!(out.status.code(), Some(2), "a usage error");

        // The audit trail names each token by its hash: which clients a leaked one let in, and when it was issued
        // and withdrawn (never the token itself).
        let events = app.cli_json(&["audit", "list", "--limit", "100"], None);
        let of = |kind: &str| -> Vec<Value> {
            events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
        };
        let by_leaked: Vec<String> = of("client_registered")
            .iter()
            .filter(|e| e["details"]["initial_access_token"] == leaked_hash.as_str())
            .map(|e| text(e, "client_id"))
            .collect();
        assert_eq!(by_leaked, [registered]);
        assert_eq!(of("initial_access_token_issued").len(), 3);
        assert!(of("initial_access_token_issued")
            .iter()
            .any(|e| e["details"]["initial_access_token"] == leaked_hash.as_str()));
        let withdrawn = of("initial_access_token_withdrawn");
        assert!(
            withdrawn.iter().any(|e| e["details"]["initial_access_token"] == leaked_hash.as_str()),
            "{withdrawn:?}"
        );
        assert!(withdrawn.iter().any(|e| e["details"] == json!({ "all": true, "count": 2 })), "{withdrawn:?}");
        for token in [&leaked, &other, &third] {
            assert!(!events.to_string().contains(&**token), "a token reached the audit trail");
        }
    }
);

both_backends!(
    off_mode_serves_no_registration,
    |raw| {
        raw.registration.mode = Some("off".into());
    },
    async |app| {
        let r = register(&app, &json!({ "redirect_uris": [REDIRECT] }), None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = app.api_client.request(method, app.url("/register/someone")).bearer_auth("x").send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }
        let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
        assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    }
);

// Refused registrations leave a trace for whoever investigates: the error, the reason, where the request came
// from and, when a known initial access token was presented, its hash; never the token nor the body's secrets.
// The 429s of the per-IP limit, which bounds how many refusals one address can record, are not recorded.
both_backends!(
    refused_registrations_are_audited,
    |raw| {
        raw.registration.mode = Some("token".into());
        raw.limits.register_ip_requests = 4;
    },
    async |app| {
        const AGENT: &str = "registration-probe/1.0";
        const BODY_SECRET: &str = "a-secret-in-the-body-5521";
        const UNKNOWN: &str = "an-unknown-initial-access-token-7713";
        let issued = app.cli_json(&["registration", "token"], None);
        let (token, hash) = (issued["token"].as_str().unwrap(), issued["hash"].as_str().unwrap());
        let post = |body: Value, bearer: Option<&str>| {
            let mut req = app.api_client.post(app.url("/register")).header("user-agent", AGENT).json(&body);
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let good = json!({ "redirect_uris": [REDIRECT] });
        assert_eq!(post(good.clone(), None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(post(good.clone(), Some(UNKNOWN)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        let bad = json!({ "redirect_uris": ["ftp://app.example/cb"], "client_secret": BODY_SECRET });
        let r = post(bad, Some(token)).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(post(good.clone(), Some(token)).await.unwrap().status(), StatusCode::CREATED);
        // Over the limit: refused with a 429, and not recorded.
        assert_eq!(post(good, Some(UNKNOWN)).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);

        let events = crate::hostile::audit_events(&app);
        let refused = crate::hostile::events_of(&events, "client_registration_refused");
        assert_eq!(refused.len(), 3, "{events:?}");
        for e in &refused {
            assert_eq!(e["ip"], "127.0.0.1", "{e}");
            assert_eq!(e["user_agent"], AGENT, "{e}");
            assert!(e["actor"].is_null() && e["client_id"].is_null(), "{e}");
        }
        let with_reason = |reason: &str| {
            let found = refused.iter().find(|e| e["details"]["reason"].as_str().is_some_and(|r| r.contains(reason)));
            found.unwrap_or_else(|| panic!("no refusal for {reason:?}: {refused:?}")).to_owned()
        };
        let missing = with_reason("an initial access token is required");
        let unknown = with_reason("the initial access token is invalid");
        for e in [missing, unknown] {
            assert_eq!(e["details"]["error"], "invalid_token", "{e}");
            assert!(e["details"].get("initial_access_token").is_none(), "only a known token is named: {e}");
        }
        let metadata = with_reason("ftp");
        assert_eq!(metadata["details"]["error"], "invalid_redirect_uri", "{metadata}");
        assert_eq!(metadata["details"]["initial_access_token"], hash, "{metadata}");
        assert_eq!(metadata["request_id"], request_id.as_str(), "{metadata}");
        let all = serde_json::to_string(&events).unwrap();
        for secret in [token, UNKNOWN, BODY_SECRET] {
            assert!(!all.contains(secret), "{secret:?} reached the audit trail: {all}");
        }
    }
);

// Refusals at the client configuration endpoint leave the same trace as those of POST /register, with the
// operation: a wrong or missing registration access token on GET, PUT and DELETE, and bad metadata in an update
// made with the right token (whose client is then the actor). Never the token nor the body. They count against
// the per-IP registration limit like every POST /register, so a flood of wrong tokens leaves no more events than
// the limit allows; the client's own requests with the right token are not counted and not held back.
both_backends!(
    refused_registration_management_is_audited_and_bounded,
    |raw| {
        open(raw);
        raw.limits.register_ip_requests = 7;
    },
    async |app| {
        use reqwest::Method;
        const AGENT: &str = "management-probe/1.0";
        const WRONG: &str = "a-wrong-registration-access-token-3391";
        const BODY_SECRET: &str = "a-secret-in-the-update-body-8812";
        let info = registered(&app, &json!({ "redirect_uris": [REDIRECT], "client_name": "Managed" })).await;
        let id = info["client_id"].as_str().unwrap().to_owned();
        let token = rat(&info).to_owned();
        let probe = |method: Method, target: &Value, bearer: Option<&str>| {
            manage(&app, method, target, bearer).header("user-agent", AGENT).json(&json!({
                "client_id": id, "redirect_uris": [REDIRECT], "client_secret": BODY_SECRET,
            }))
        };
        // The request id of each refusal, with the operation it should be recorded with.
        let mut sent = Vec::new();
        let id_of = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
        for (method, operation) in [(Method::GET, "read"), (Method::PUT, "update"), (Method::DELETE, "delete")] {
            let r = probe(method, &info, Some(WRONG)).send().await.unwrap();
            sent.push((id_of(&r), operation));
            assert_invalid_token(r).await;
        }
        let r = probe(Method::GET, &info, None).send().await.unwrap();
        sent.push((id_of(&r), "read"));
        assert_bare_challenge(r);
        let nobody = json!({ "registration_client_uri": app.url("/register/nobody") });
        let r = probe(Method::DELETE, &nobody, Some(WRONG)).send().await.unwrap();
        sent.push((id_of(&r), "delete"));
        assert_invalid_token(r).await;
        // The right token with bad metadata.
        let bad = json!({ "client_id": id, "redirect_uris": ["ftp://app.example/cb"] });
        let r = manage(&app, Method::PUT, &info, Some(&token)).header("user-agent", AGENT).json(&bad).send().await;
        let r = r.unwrap();
        sent.push((id_of(&r), "update"));
        assert_refused(r, "invalid_redirect_uri", "an update with bad metadata").await;
        // With the registration, that is the limit (7) reached: the flood that follows is refused with 429s and
        // not recorded, while the client itself still reads its registration.
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::GET, Method::PUT, Method::DELETE] {
            let r = probe(method.clone(), &info, Some(WRONG)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{method}");
        }
        let r = manage(&app, Method::GET, &info, Some(&token)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // The limit is the one of POST /register: registration from this address waits too.
        let r = register(&app, &json!({ "redirect_uris": [REDIRECT] }), None).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

        let events = crate::hostile::audit_events(&app);
        let refused = crate::hostile::events_of(&events, "client_registration_refused");
        assert_eq!(refused.len(), 6, "{events:?}");
        for e in &refused {
            assert_eq!(e["ip"], "127.0.0.1", "{e}");
            assert_eq!(e["user_agent"], AGENT, "{e}");
            assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
        }
        let recorded: Vec<&Value> = sent
            .iter()
            .map(|(request_id, operation)| {
                let e = refused.iter().find(|e| e["request_id"] == request_id.as_str());
                let e = e.unwrap_or_else(|| panic!("no event for the {operation} {request_id}: {refused:?}"));
                assert_eq!(e["details"]["operation"], *operation, "{e}");
                *e
            })
            .collect();
        for e in &recorded[..5] {
            assert_eq!(e["details"]["error"], "invalid_token", "{e}");
            assert!(e["actor"].is_null(), "a wrong or missing token makes no one the actor: {e}");
        }
        for e in &recorded[..4] {
            assert_eq!(e["client_id"], id.as_str(), "the client the path names: {e}");
        }
        assert_eq!(recorded[4]["client_id"], "nobody", "{}", recorded[4]);
        let metadata = recorded[5];
        assert_eq!(metadata["details"]["error"], "invalid_redirect_uri", "{metadata}");
        assert!(metadata["details"]["reason"].as_str().is_some_and(|r| r.contains("ftp")), "{metadata}");
        assert_eq!(metadata["actor"], id.as_str(), "the right token: the client acted: {metadata}");
        assert_eq!(metadata["client_id"], id.as_str(), "{metadata}");
        let all = serde_json::to_string(&events).unwrap();
        for secret in [token.as_str(), WRONG, BODY_SECRET] {
            assert!(!all.contains(secret), "{secret:?} reached the audit trail: {all}");
        }
    }
);
