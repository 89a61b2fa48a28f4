//! Tests of what a registration may ask for and of the client information response.
use super::*;

fn parse(body: Value) -> Result<ValidMetadata, OAuthError> {
    validate(&parse_request(body.to_string().as_bytes())?)
}

fn build(body: Value) -> Result<(Client, Option<PlainSecret>), OAuthError> {
    build_client(&parse_request(body.to_string().as_bytes())?, ClientId::parse("c").unwrap(), None, 7)
}

fn code_of(body: Value) -> &'static str {
    match build(body) {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    }
}

/// A real RSA public key as a JWK.
fn public_jwk() -> Value {
    use base64::Engine;
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let b64 = |n: &openssl::bn::BigNumRef| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_vec());
    json!({ "kty": "RSA", "kid": "k1", "n": b64(rsa.n()), "e": b64(rsa.e()) })
}

fn web(extra: Value) -> Value {
    let mut body = json!({ "redirect_uris": ["https://app.example/cb"] });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

#[test]
fn defaults_follow_rfc_7591() {
    let v = parse(web(json!({}))).unwrap();
    assert_eq!(v.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(v.grant_types, [GrantType::AuthorizationCode]);
    assert_eq!(v.scope.to_string(), "email openid profile");
    assert_eq!(v.name, None);

    let v =
        parse(web(json!({ "grant_types": ["refresh_token", "authorization_code"], "client_name": "Notes" }))).unwrap();
    assert_eq!(v.grant_types, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
    assert!(v.scope.contains("offline_access"));
    assert_eq!(v.name.as_deref(), Some("Notes"));
}

#[test]
fn accepts_native_and_service_clients() {
    for body in [
        json!({ "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/oauth2redirect"],
                "token_endpoint_auth_method": "none", "application_type": "native" }),
        json!({ "grant_types": ["client_credentials"], "response_types": [] }),
        json!({ "grant_types": ["client_credentials"] }),
        web(json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks" })),
        web(json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [public_jwk()] } })),
        web(json!({ "client_uri": "https://app.example", "logo_uri": "https://cdn.example/l.png",
                    "contacts": ["ops@app.example"], "response_types": ["code"], "scope": "openid",
                    "post_logout_redirect_uris": ["https://app.example/bye"], "unknown": {"x": 1},
                    "client_name": null })),
    ] {
        assert_eq!(code_of(body.clone()), "ok", "{body}");
    }
}

#[test]
fn refuses_bad_redirect_uris() {
    for uri in [
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "https://*.app.example/cb",
        "javascript:alert(1)",
        "myapp:/cb",
        "/relative",
    ] {
        assert_eq!(code_of(json!({ "redirect_uris": [uri] })), "invalid_redirect_uri", "{uri}");
    }
    assert_eq!(
        code_of(web(json!({ "post_logout_redirect_uris": ["http://app.example/bye"] }))),
        "invalid_client_metadata"
    );
}

#[test]
fn only_native_apps_have_private_use_schemes() {
    let native = |uris: Value| json!({ "application_type": "native", "redirect_uris": uris });
    for (body, code) in [
        (web(json!({})), "ok"),
        (web(json!({ "application_type": "web" })), "ok"),
        (web(json!({ "application_type": null })), "ok"),
        (json!({ "redirect_uris": ["http://127.0.0.1:8080/cb"] }), "ok"),
        // RFC 8252 §7: private-use scheme, claimed https, loopback http.
        (native(json!(["com.example.app:/cb"])), "ok"),
        (native(json!(["https://app.example/cb"])), "ok"),
        (native(json!(["http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb"])), "ok"),
        (
            json!({ "application_type": "native", "redirect_uris": ["com.example.app:/cb"],
                    "post_logout_redirect_uris": ["com.example.app:/bye"] }),
            "ok",
        ),
        (json!({ "redirect_uris": ["com.example.app:/cb"] }), "invalid_client_metadata"),
        (
            json!({ "application_type": "web", "redirect_uris": ["https://app.example/cb", "com.example.app:/cb"] }),
            "invalid_client_metadata",
        ),
        (web(json!({ "post_logout_redirect_uris": ["com.example.app:/bye"] })), "invalid_client_metadata"),
        // Every other redirect rule holds for native apps too.
        (native(json!(["http://app.example/cb"])), "invalid_redirect_uri"),
        (native(json!(["myapp:/cb"])), "invalid_redirect_uri"),
        (native(json!(["com.example.app:/cb#frag"])), "invalid_redirect_uri"),
        // Only the two names of the specification.
        (web(json!({ "application_type": "desktop" })), "invalid_client_metadata"),
        (web(json!({ "application_type": "Web" })), "invalid_client_metadata"),
        // Empty asks for nothing, as null does.
        (web(json!({ "application_type": "" })), "ok"),
        (json!({ "application_type": "", "redirect_uris": ["com.example.app:/cb"] }), "invalid_client_metadata"),
        (web(json!({ "application_type": ["native"] })), "invalid_client_metadata"),
    ] {
        assert_eq!(code_of(body.clone()), code, "{body}");
    }
    let refusal = build(json!({ "redirect_uris": ["com.example.app:/cb"] })).unwrap_err();
    assert!(refusal.description.contains(r#"application_type "native""#), "{}", refusal.description);
    let refusal = build(web(json!({ "application_type": "desktop" }))).unwrap_err();
    assert!(refusal.description.contains("web or native"), "{}", refusal.description);
}

#[test]
fn native_loopback_redirect_uris_are_http() {
    let native = |uri: &str| json!({ "application_type": "native", "redirect_uris": [uri] });
    for (body, code) in [
        (native("http://localhost/cb"), "ok"),
        (native("http://127.0.0.1:8080/cb"), "ok"),
        (native("https://app.example/cb"), "ok"),
        (native("https://localhost/cb"), "invalid_redirect_uri"),
        (native("https://127.0.0.1/cb"), "invalid_redirect_uri"),
        (native("https://127.0.0.2:8443/cb"), "invalid_redirect_uri"),
        (native("https://[::1]/cb"), "invalid_redirect_uri"),
        // A web client's https on this machine is a development setup with its own certificate.
        (json!({ "redirect_uris": ["https://localhost/cb"] }), "ok"),
    ] {
        assert_eq!(code_of(body.clone()), code, "{body}");
    }
    let refusal = build(native("https://localhost/cb")).unwrap_err();
    assert!(refusal.description.contains("uses http"), "{}", refusal.description);
}

// OpenID Connect Dynamic Client Registration 1.0 §2 members: what the server does is accepted, anything
// else refused with a description naming the member and what is supported (§3.2).
#[test]
fn openid_connect_members_are_honoured_or_refused() {
    let signing = |extra: Value| {
        let mut body = json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method":
                               "private_key_jwt", "jwks_uri": "https://app.example/jwks" });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        body
    };
    for (body, outcome) in [
        (web(json!({ "id_token_signed_response_alg": "RS256" })), Ok(())),
        (
            web(json!({ "id_token_signed_response_alg": "ES256" })),
            Err("id_token_signed_response_alg \"ES256\" is not supported: use RS256"),
        ),
        (web(json!({ "id_token_signed_response_alg": "none" })), Err("use RS256")),
        (web(json!({ "id_token_signed_response_alg": "HS256" })), Err("use RS256")),
        (web(json!({ "id_token_signed_response_alg": 256 })), Err("id_token_signed_response_alg must be a string")),
        (web(json!({ "subject_type": "public" })), Ok(())),
        (web(json!({ "subject_type": "pairwise" })), Ok(())),
        (web(json!({ "subject_type": "" })), Ok(())),
        (
            web(json!({ "subject_type": "opaque" })),
            Err("subject_type \"opaque\" is not supported: use public or pairwise"),
        ),
        (web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://app.example/s.json" })), Ok(())),
        (
            web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "http://app.example/s.json" })),
            Err("sector_identifier_uri must be an absolute https URL"),
        ),
        (
            web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://10.0.0.7/s.json" })),
            Err("sector_identifier_uri must name a public host"),
        ),
        (
            web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://app.example/s.json#x" })),
            Err("must not contain a fragment"),
        ),
        // Core §8.1: without a sector identifier URI, the redirect URIs must name one host, the sector.
        (
            json!({ "subject_type": "pairwise", "redirect_uris": ["https://a.example/cb", "https://b.example/cb"] }),
            Err("a pairwise client needs a sector_identifier_uri, or redirect URIs that all share one host"),
        ),
        (
            json!({ "subject_type": "pairwise", "redirect_uris": ["https://a.example/cb", "https://a.example/2"] }),
            Ok(()),
        ),
        (
            json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://s.example/s.json",
                    "redirect_uris": ["https://a.example/cb", "https://b.example/cb"] }),
            Ok(()),
        ),
        (
            web(json!({ "subject_type": "pairwise", "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"] })),
            Err("a self-registered pairwise client cannot use the device grant"),
        ),
        // Regression: the host a private-use scheme names was taken for the sector, so a stranger's app got the
        // pairwise subjects of the site it named.
        (
            json!({ "application_type": "native", "subject_type": "pairwise", "token_endpoint_auth_method": "none",
                    "redirect_uris": ["com.attacker.app://victim.example/cb"] }),
            Err("a self-registered pairwise client with a private-use scheme redirect URI needs a sector_identifier_uri"),
        ),
        (
            json!({ "application_type": "native", "subject_type": "pairwise", "token_endpoint_auth_method": "none",
                    "redirect_uris": ["com.example.app:/cb"] }),
            Err("needs a sector_identifier_uri"),
        ),
        (
            json!({ "application_type": "native", "subject_type": "pairwise", "token_endpoint_auth_method": "none",
                    "sector_identifier_uri": "https://app.example/s.json", "redirect_uris": ["com.example.app:/cb"] }),
            Ok(()),
        ),
        (
            json!({ "application_type": "native", "token_endpoint_auth_method": "none",
                    "redirect_uris": ["com.example.app://victim.example/cb"] }),
            Ok(()),
        ),
        (
            web(json!({ "id_token_encrypted_response_alg": "RSA-OAEP" })),
            Err("id_token_encrypted_response_alg is not supported: ID tokens are signed with RS256"),
        ),
        (
            web(json!({ "id_token_encrypted_response_enc": "A128GCM" })),
            Err("id_token_encrypted_response_enc is not supported"),
        ),
        (
            web(json!({ "userinfo_signed_response_alg": "RS256" })),
            Err("userinfo_signed_response_alg is not supported: the userinfo endpoint answers plain JSON"),
        ),
        (
            web(json!({ "userinfo_encrypted_response_alg": "RSA-OAEP" })),
            Err("userinfo_encrypted_response_alg is not supported"),
        ),
        (
            web(json!({ "userinfo_encrypted_response_enc": "A128GCM" })),
            Err("userinfo_encrypted_response_enc is not supported"),
        ),
        (web(json!({ "request_object_signing_alg": "RS256" })), Ok(())),
        (
            web(json!({ "request_object_signing_alg": "none" })),
            Err("request_object_signing_alg \"none\" is not supported: use RS256 or ES256"),
        ),
        (web(json!({ "request_object_signing_alg": "HS256" })), Err("use RS256 or ES256")),
        (web(json!({ "require_signed_request_object": "yes" })), Err("require_signed_request_object must be true")),
        (
            web(json!({ "require_signed_request_object": true })),
            Err("a client that requires signed request objects needs its public keys"),
        ),
        (web(json!({ "require_signed_request_object": true, "jwks_uri": "https://app.example/jwks" })), Ok(())),
        (web(json!({ "require_signed_request_object": false })), Ok(())),
        (web(json!({ "jwks_uri": "https://app.example/jwks" })), Err("jwks and jwks_uri are only for")),
        (
            web(json!({ "request_object_encryption_alg": "RSA-OAEP" })),
            Err("request_object_encryption_alg is not supported"),
        ),
        (
            web(json!({ "request_object_encryption_enc": "A128GCM" })),
            Err("request_object_encryption_enc is not supported"),
        ),
        (web(json!({ "request_uris": ["https://app.example/r"] })), Err("request_uris is not supported")),
        (web(json!({ "request_uris": [] })), Ok(())),
        (web(json!({ "frontchannel_logout_uri": "https://app.example/fc" })), Ok(())),
        (
            web(json!({ "frontchannel_logout_uri": "https://elsewhere.example/fc" })),
            Err("its scheme, host and port must be those of a registered redirect URI"),
        ),
        (web(json!({ "frontchannel_logout_uri": "/fc" })), Err("front-channel logout URI \"/fc\"")),
        (web(json!({ "frontchannel_logout_uri": "https://app.example/fc#x" })), Err("fragment")),
        (web(json!({ "backchannel_logout_uri": "https://app.example/bc" })), Ok(())),
        (
            web(json!({ "default_acr_values": ["urn:mace:incommon:iap:silver"] })),
            Err("default_acr_values must name levels offered here, each once: 1, 2"),
        ),
        (web(json!({ "default_acr_values": ["2", "2"] })), Err("each once")),
        (web(json!({ "default_acr_values": "2" })), Err("default_acr_values must be an array of strings")),
        (web(json!({ "default_acr_values": ["2", "1"] })), Ok(())),
        (web(json!({ "default_acr_values": [], "backchannel_logout_uri": null })), Ok(())),
        // What clients that send every member of their type send for the ones not set.
        (
            web(json!({ "application_type": "", "frontchannel_logout_uri": "", "initiate_login_uri": "",
                        "subject_type": "", "id_token_signed_response_alg": "", "backchannel_logout_uri": "" })),
            Ok(()),
        ),
        // Regression: "" was refused for the members that are not strings.
        (
            web(json!({ "default_max_age": "", "default_acr_values": "", "require_auth_time": "",
                        "require_pushed_authorization_requests": "", "require_signed_request_object": "",
                        "dpop_bound_access_tokens": "", "backchannel_logout_session_required": "",
                        "frontchannel_logout_session_required": "" })),
            Ok(()),
        ),
        (web(json!({ "require_auth_time": " " })), Err("require_auth_time must be true or false")),
        (signing(json!({ "token_endpoint_auth_signing_alg": "RS256" })), Ok(())),
        (signing(json!({ "token_endpoint_auth_signing_alg": "ES256" })), Ok(())),
        (
            signing(json!({ "token_endpoint_auth_signing_alg": "HS256" })),
            Err("token_endpoint_auth_signing_alg \"HS256\" is not supported: use RS256 or ES256"),
        ),
        (signing(json!({ "token_endpoint_auth_signing_alg": "none" })), Err("use RS256 or ES256")),
        (
            web(json!({ "token_endpoint_auth_signing_alg": "RS256" })),
            Err("token_endpoint_auth_signing_alg is for token_endpoint_auth_method private_key_jwt only"),
        ),
        (web(json!({ "default_max_age": 0 })), Ok(())),
        (web(json!({ "default_max_age": 3600 })), Ok(())),
        (web(json!({ "default_max_age": -1 })), Err("default_max_age must be a non-negative integer")),
        (web(json!({ "default_max_age": 1.5 })), Err("default_max_age must be a non-negative integer")),
        (web(json!({ "default_max_age": "3600" })), Err("default_max_age must be a non-negative integer")),
        (web(json!({ "require_auth_time": true })), Ok(())),
        (web(json!({ "require_auth_time": false })), Ok(())),
        (web(json!({ "require_auth_time": "yes" })), Err("require_auth_time must be true or false")),
        (web(json!({ "require_pushed_authorization_requests": true })), Ok(())),
        (
            web(json!({ "require_pushed_authorization_requests": 1 })),
            Err("require_pushed_authorization_requests must be true or false"),
        ),
        (web(json!({ "dpop_bound_access_tokens": "yes" })), Err("dpop_bound_access_tokens must be true or false")),
        // Kept for a public client, which it does not change: nothing is grouped by sector.
        (web(json!({ "sector_identifier_uri": "https://app.example/s.json" })), Ok(())),
        (web(json!({ "initiate_login_uri": "https://app.example/login" })), Ok(())),
        // Members of other specifications stay ignored (RFC 7591 §2).
        (web(json!({ "software_statement_x": "?", "authorization_signed_response_alg": "ES256" })), Ok(())),
    ] {
        match (build(body.clone()), outcome) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(said)) => {
                assert_eq!(e.code.as_str(), "invalid_client_metadata", "{body}");
                assert!(e.description.contains(said), "{body}: {}", e.description);
            }
            (got, wanted) => {
                panic!("{body}: got {:?}, wanted {wanted:?}", got.map(|_| ()).map_err(|e| e.description))
            }
        }
    }
}

#[test]
fn honoured_openid_connect_members_are_kept_and_shown() {
    let info = |client: Client| {
        let uri = "https://id.example/register/c".to_owned();
        ClientInformation::new(client, None, PlainSecret::generate(), uri).to_json()
    };
    let (plain, _) = build(web(json!({}))).unwrap();
    let shown = info(plain);
    // The values in effect, though not asked for.
    assert_eq!((&shown["id_token_signed_response_alg"], &shown["subject_type"]), (&json!("RS256"), &json!("public")));
    for absent in ["default_max_age", "require_auth_time", "token_endpoint_auth_signing_alg"] {
        assert!(shown.get(absent).is_none(), "{absent}: {shown}");
    }

    let (asked, _) = build(web(json!({ "id_token_signed_response_alg": "RS256", "subject_type": "public",
                                       "default_max_age": 900, "require_auth_time": true })))
    .unwrap();
    assert_eq!((asked.metadata.default_max_age, asked.metadata.require_auth_time), (Some(900), Some(true)));
    let shown = info(asked);
    assert_eq!((&shown["id_token_signed_response_alg"], &shown["subject_type"]), (&json!("RS256"), &json!("public")));
    assert_eq!((&shown["default_max_age"], &shown["require_auth_time"]), (&json!(900), &json!(true)));

    let (pairwise, _) = build(web(json!({ "subject_type": "pairwise",
                                           "sector_identifier_uri": "https://app.example/s.json" })))
    .unwrap();
    assert_eq!(pairwise.sector().as_deref(), Some("app.example"));
    let shown = info(pairwise);
    assert_eq!(
        (&shown["subject_type"], &shown["sector_identifier_uri"]),
        (&json!("pairwise"), &json!("https://app.example/s.json"))
    );
    let (public, _) = build(web(json!({ "subject_type": "public" }))).unwrap();
    assert_eq!((public.metadata.subject_type, public.sector()), (None, None), "public is stored as absent");

    let (pushing, _) = build(web(json!({ "require_pushed_authorization_requests": true }))).unwrap();
    assert_eq!(pushing.metadata.require_pushed_authorization_requests, Some(true));
    assert_eq!(info(pushing)["require_pushed_authorization_requests"], json!(true), "RFC 9126 §6, shown back");
    let (signing, _) =
        build(web(json!({ "require_signed_request_object": true, "request_object_signing_alg": "ES256",
                                         "jwks_uri": "https://app.example/jwks" })))
        .unwrap();
    assert_eq!(signing.metadata.require_signed_request_object, Some(true));
    let shown = info(signing);
    assert_eq!(shown["require_signed_request_object"], json!(true), "RFC 9101 §10.5, shown back");
    assert_eq!(shown["request_object_signing_alg"], json!("ES256"));
    let (bound, _) = build(web(json!({ "dpop_bound_access_tokens": true }))).unwrap();
    assert_eq!(bound.metadata.dpop_bound_access_tokens, Some(true));
    assert_eq!(info(bound)["dpop_bound_access_tokens"], json!(true), "RFC 9449 §5.2, shown back");

    let (notified, _) = build(web(json!({ "backchannel_logout_uri": "https://app.example/bc?t=1",
                                          "backchannel_logout_session_required": true })))
    .unwrap();
    assert_eq!(notified.metadata.backchannel_logout_uri.as_deref(), Some("https://app.example/bc?t=1"));
    let shown = info(notified);
    assert_eq!(
        (&shown["backchannel_logout_uri"], &shown["backchannel_logout_session_required"]),
        (&json!("https://app.example/bc?t=1"), &json!(true))
    );

    let (framed, _) = build(web(json!({ "frontchannel_logout_uri": "https://app.example/fc?t=1",
                                        "frontchannel_logout_session_required": true })))
    .unwrap();
    assert_eq!(framed.metadata.frontchannel_logout_uri.as_deref(), Some("https://app.example/fc?t=1"));
    let shown = info(framed);
    assert_eq!(
        (&shown["frontchannel_logout_uri"], &shown["frontchannel_logout_session_required"]),
        (&json!("https://app.example/fc?t=1"), &json!(true))
    );

    let (signer, _) = build(json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method":
        "private_key_jwt", "jwks_uri": "https://app.example/jwks", "token_endpoint_auth_signing_alg": "ES256" }))
    .unwrap();
    assert_eq!(signer.metadata.token_endpoint_auth_signing_alg.as_deref(), Some("ES256"));
    assert_eq!(info(signer)["token_endpoint_auth_signing_alg"], "ES256");
}

#[test]
fn the_application_type_is_kept_and_an_update_may_change_it() {
    let (native, _) = build(json!({ "application_type": "native", "redirect_uris": ["com.example.app:/cb"] })).unwrap();
    assert_eq!(native.application_type, ApplicationType::Native);
    assert_eq!(build(web(json!({}))).unwrap().0.application_type, ApplicationType::Web);

    let req = |body: Value| parse_request(body.to_string().as_bytes()).unwrap();
    // RFC 7592 §2.2: an update replaces the metadata, so an absent type is web again, with web's rules.
    let (moved, _) = build_client(&req(web(json!({}))), native.id.clone(), Some(&native), 8).unwrap();
    assert_eq!(moved.application_type, ApplicationType::Web);
    let err =
        build_client(&req(json!({ "redirect_uris": ["com.example.app:/cb"] })), native.id.clone(), Some(&native), 8)
            .unwrap_err();
    assert_eq!(err.code.as_str(), "invalid_client_metadata");
}

#[test]
fn refuses_bad_metadata() {
    for body in [
        json!({}),
        web(json!({ "response_types": ["token"] })),
        web(json!({ "response_types": ["code id_token"] })),
        web(json!({ "response_types": [] })),
        json!({ "grant_types": ["client_credentials"], "response_types": ["code"] }),
        web(json!({ "grant_types": ["implicit"] })),
        web(json!({ "grant_types": [] })),
        web(json!({ "grant_types": ["refresh_token"] })),
        json!({ "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"] }),
        web(json!({ "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"] })),
        web(json!({ "token_endpoint_auth_method": "client_secret_jwt" })),
        web(json!({ "scope": "openid tessera:admin" })),
        web(json!({ "scope": "openid payments" })),
        web(json!({ "logo_uri": "http://app.example/logo.png" })),
        web(json!({ "logo_uri": "javascript:alert(1)" })),
        web(json!({ "client_uri": "https://user:pw@app.example" })),
        web(json!({ "tos_uri": "/tos" })),
        web(json!({ "jwks_uri": "http://app.example/jwks" })),
        web(json!({ "jwks_uri": "https://127.0.0.1/jwks" })),
        web(json!({ "jwks_uri": "https://10.1.2.3/jwks" })),
        web(json!({ "jwks_uri": "https://[::1]/jwks" })),
        web(json!({ "jwks_uri": "https://localhost/jwks" })),
        web(json!({ "backchannel_logout_uri": "http://app.example/bc" })),
        web(json!({ "backchannel_logout_uri": "https://app.example/bc#f" })),
        web(json!({ "backchannel_logout_uri": "http://127.0.0.1:8080/bc" })),
        web(json!({ "backchannel_logout_uri": "https://10.1.2.3/bc" })),
        web(json!({ "backchannel_logout_uri": "https://localhost/bc" })),
        web(json!({ "frontchannel_logout_uri": "http://app.example/fc" })),
        web(json!({ "frontchannel_logout_uri": "javascript:alert(1)" })),
        web(json!({ "frontchannel_logout_uri": "https://app.example/fc#f" })),
        web(json!({ "frontchannel_logout_uri": "fc" })),
        web(json!({ "frontchannel_logout_uri": "https://app.example:8443/fc" })),
        web(json!({ "frontchannel_logout_uri": 5 })),
        web(
            json!({ "frontchannel_logout_uri": "https://app.example/fc", "frontchannel_logout_session_required": "yes" }),
        ),
        web(
            json!({ "backchannel_logout_uri": "https://app.example/bc", "backchannel_logout_session_required": "yes" }),
        ),
        web(json!({ "jwks": { "keys": [{ "kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "secret" }] } })),
        web(json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } })),
        web(json!({ "jwks": { "keys": [] } })),
        web(json!({ "jwks": [] })),
        web(json!({ "client_name": "" })),
        web(json!({ "client_name": "a\u{0}b" })),
        web(json!({ "contacts": vec!["a"; 11] })),
        web(json!({ "token_endpoint_auth_method": "private_key_jwt" })),
        web(json!({ "jwks_uri": "https://app.example/jwks", "jwks": { "keys": [public_jwk()] } })),
        json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" }),
        web(json!({ "redirect_uris": "https://app.example/cb" })),
        web(json!({ "client_name": 5 })),
    ] {
        assert_eq!(code_of(body.clone()), "invalid_client_metadata", "{body}");
    }
}

#[test]
fn bodies_must_be_single_json_objects() {
    let code = |b: &[u8]| parse_request(b).map(|_| ()).unwrap_err().code.as_str();
    assert_eq!(code(b"not json"), "invalid_client_metadata");
    assert_eq!(code(b"[]"), "invalid_client_metadata");
    assert_eq!(code(br#"{"client_name": "a", "client_name": "b"}"#), "invalid_request");
    assert_eq!(code(&vec![b' '; MAX_REGISTRATION_BYTES + 1]), "invalid_request");
}

#[test]
fn secrets_are_issued_kept_or_dropped_with_the_method() {
    let (client, secret) = build(web(json!({}))).unwrap();
    let secret = secret.expect("a confidential client gets a secret");
    assert!(client.secret_matches(secret.expose(), 0));
    let (public, none) = build(web(json!({ "token_endpoint_auth_method": "none" }))).unwrap();
    assert!(none.is_none() && public.secret_hash.is_none());

    let req = |body: Value| parse_request(body.to_string().as_bytes()).unwrap();
    // Switching between the two secret methods keeps the secret; leaving them drops it; coming back
    // issues a new one.
    let (post, issued) = build_client(
        &req(web(json!({ "token_endpoint_auth_method": "client_secret_post" }))),
        client.id.clone(),
        Some(&client),
        8,
    )
    .unwrap();
    assert!(issued.is_none() && post.secret_matches(secret.expose(), 0));
    let (public, issued) =
        build_client(&req(web(json!({ "token_endpoint_auth_method": "none" }))), client.id.clone(), Some(&post), 9)
            .unwrap();
    assert!(issued.is_none() && public.secret_hash.is_none());
    let (back, issued) = build_client(&req(web(json!({}))), client.id.clone(), Some(&public), 10).unwrap();
    let issued = issued.expect("a new secret");
    assert!(back.secret_matches(issued.expose(), 0) && !back.secret_matches(secret.expose(), 0));
}

#[test]
fn new_clients_are_plain_and_updates_keep_operator_choices() {
    let v = parse(web(json!({}))).unwrap();
    let c = v.into_client(ClientId::parse("c").unwrap(), None, None, 7);
    assert!(!c.first_party && !c.admin && c.require_pkce);
    assert_eq!((c.name.as_str(), c.created_at, c.updated_at), ("c", 7, 7));

    let mut previous = c.clone();
    previous.first_party = true;
    previous.access_token_ttl = Some(60);
    previous.resources = vec!["https://api.example".into()];
    let v = parse(web(json!({ "client_name": "New" }))).unwrap();
    let updated = v.into_client(previous.id.clone(), None, Some(&previous), 9);
    assert!(updated.first_party);
    assert_eq!(updated.access_token_ttl, Some(60));
    assert_eq!(updated.resources, previous.resources);
    assert_eq!((updated.name.as_str(), updated.created_at, updated.updated_at), ("New", 7, 9));
}

#[test]
fn an_update_keeps_the_sector_and_the_subject_type() {
    let client = |body: Value| build(body).unwrap().0;
    let pairwise = client(web(json!({ "subject_type": "pairwise" })));
    for same in [
        web(json!({ "subject_type": "pairwise", "redirect_uris": ["https://app.example/other"] })),
        web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://app.example/s.json" })),
    ] {
        assert!(sector_kept(&pairwise, &client(same.clone())).is_ok(), "{same}");
    }
    for moved in [
        web(json!({ "subject_type": "pairwise", "redirect_uris": ["https://victim.example/cb"] })),
        web(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://victim.example/s.json" })),
        web(json!({ "subject_type": "public" })),
        web(json!({})),
    ] {
        let e = sector_kept(&pairwise, &client(moved.clone())).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{moved}");
    }
    // A public client has no sector for its redirect URIs to move.
    let public = client(web(json!({})));
    assert!(sector_kept(&public, &client(json!({ "redirect_uris": ["https://elsewhere.example/cb"] }))).is_ok());
    assert!(sector_kept(&public, &pairwise).is_err());
}

#[test]
fn information_shows_the_secret_only_when_issued() {
    let v = parse(web(json!({ "logo_uri": "https://app.example/logo.png" }))).unwrap();
    let secret = PlainSecret::generate();
    let client = v.into_client(ClientId::parse("c").unwrap(), Some(secret.hash()), None, 7);
    let rat = PlainSecret::generate();
    let uri = "https://id.example/register/c".to_owned();
    let issued = ClientInformation::new(client.clone(), Some(secret.clone()), rat.clone(), uri.clone()).to_json();
    assert_eq!(issued["client_secret"], secret.expose());
    assert_eq!(issued["client_secret_expires_at"], 0);
    assert_eq!(issued["client_id_issued_at"], 7);
    assert_eq!(issued["registration_access_token"], rat.expose());
    assert_eq!(issued["registration_client_uri"], uri.as_str());
    assert_eq!(issued["response_types"], json!(["code"]));
    assert_eq!(issued["application_type"], "web");
    assert_eq!(issued["logo_uri"], "https://app.example/logo.png");
    let read = ClientInformation::new(client, None, rat.clone(), uri);
    let json = read.to_json();
    assert!(json.get("client_secret").is_none() && json.get("client_secret_expires_at").is_none());
    assert_eq!(json["application_type"], "web");
    let debug = format!("{read:?}");
    assert!(!debug.contains(rat.expose()), "{debug}");
}
