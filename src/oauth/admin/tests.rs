//! Tests of the admin operations: client specs and their checks, what a replacement keeps, users, paging.
use super::api::{page, page_limit};
use super::*;

const MAX_TTL: i64 = 3600;

fn spec(f: impl FnOnce(&mut ClientSpec)) -> ClientSpec {
    let mut s = ClientSpec::named("App");
    s.redirect_uris = vec!["https://app.example/cb".into()];
    f(&mut s);
    s
}

fn build(s: &ClientSpec) -> Result<(Client, Option<PlainSecret>), ClientInputError> {
    build_client(s, ClientId::parse("c1").unwrap(), None, MAX_TTL, 100)
}

#[test]
fn defaults_make_a_confidential_code_client() {
    let (c, secret) = build(&spec(|_| {})).unwrap();
    let secret = secret.expect("a secret for client_secret_basic");
    assert!(c.secret_hash.as_ref().unwrap().matches(secret.expose()));
    assert_eq!(c.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(c.grant_types, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
    assert_eq!(c.scope.to_string(), "email offline_access openid profile");
    assert!(c.require_pkce && !c.admin && !c.first_party);
    assert_eq!((c.created_at, c.updated_at), (100, 100));
}

#[test]
fn admin_clients_get_the_admin_scope_and_others_may_not_ask() {
    let (c, _) = build(&spec(|s| {
        s.admin = true;
        s.scope = Some("read".into());
    }))
    .unwrap();
    assert_eq!(c.scope.to_string(), format!("read {ADMIN_SCOPE}"));
    let (service, _) = build(&spec(|s| {
        s.admin = true;
        s.redirect_uris.clear();
    }))
    .unwrap();
    assert_eq!(service.grant_types, [GrantType::ClientCredentials], "the grant that issues the admin scope");
    let err = build(&spec(|s| s.scope = Some(ADMIN_SCOPE.into()))).unwrap_err();
    assert_eq!(err, ClientInputError::Rule(ClientRuleError::AdminScope));
}

#[test]
fn each_refusal_has_its_error() {
    use ClientInputError as E;
    let cases: Vec<(ClientSpec, E)> = vec![
        (spec(|s| s.client_name = String::new()), E::Rule(ClientRuleError::Name)),
        (spec(|s| s.redirect_uris.clear()), E::Rule(ClientRuleError::CodeWithoutRedirectUri)),
        (spec(|s| s.token_endpoint_auth_method = Some("magic".into())), E::AuthMethod(String::new())),
        (spec(|s| s.application_type = Some("desktop".into())), E::ApplicationType(String::new())),
        (spec(|s| s.scope = Some("a\"b".into())), E::Scope(ScopeError::BadCharacter)),
        (spec(|s| s.resources = vec!["nope".into()]), E::Resource(String::new())),
        (spec(|s| s.access_token_ttl = Some(0)), E::AccessTokenTtl { max: MAX_TTL }),
        (spec(|s| s.access_token_ttl = Some(MAX_TTL + 1)), E::AccessTokenTtl { max: MAX_TTL }),
        (
            spec(|s| {
                s.token_endpoint_auth_method = Some("none".into());
                s.require_pkce = Some(false);
            }),
            E::PublicWithoutPkce,
        ),
        (
            spec(|s| s.jwks_uri = Some("https://k.example/jwks".into())),
            E::Rule(ClientRuleError::KeysWithoutPrivateKeyJwt),
        ),
        (spec(|s| s.token_endpoint_auth_method = Some("private_key_jwt".into())), E::KeysMissing),
        (
            spec(|s| {
                s.token_endpoint_auth_method = Some("private_key_jwt".into());
                s.jwks = Some(json!({ "keys": "no" }));
            }),
            E::Jwks(String::new()),
        ),
        (
            spec(|s| {
                s.token_endpoint_auth_method = Some("private_key_jwt".into());
                s.jwks_uri = Some("file:///etc/passwd".into());
            }),
            E::JwksUri(String::new()),
        ),
        (spec(|s| s.post_logout_redirect_uris = vec!["x".into()]), E::PostLogoutRedirectUri(ClientRuleError::Name)),
    ];
    for (s, expected) in cases {
        let err = build(&s).unwrap_err();
        assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&expected), "{s:?}: {err}");
    }
}

#[test]
fn the_application_type_is_as_given_or_as_the_redirect_uris_imply() {
    let typed = |f: fn(&mut ClientSpec)| build(&spec(f)).unwrap().0.application_type;
    assert_eq!(typed(|_| {}), ApplicationType::Web);
    assert_eq!(typed(|s| s.redirect_uris.push("http://127.0.0.1/cb".into())), ApplicationType::Web);
    assert_eq!(typed(|s| s.redirect_uris.push("com.example.app:/cb".into())), ApplicationType::Native);
    assert_eq!(typed(|s| s.post_logout_redirect_uris.push("com.example.app:/bye".into())), ApplicationType::Native);
    assert_eq!(typed(|s| s.application_type = Some("native".into())), ApplicationType::Native);
    // The operator's word stands, even against the redirect URIs.
    assert_eq!(
        typed(|s| {
            s.redirect_uris.push("com.example.app:/cb".into());
            s.application_type = Some("web".into());
        }),
        ApplicationType::Web
    );
}

// Regression: a registered assertion algorithm outlived a change of keys made through the admin API, so an
// RS256 client given an EC key had every assertion refused, for a reason the API did not show.
#[test]
fn a_registered_assertion_algorithm_goes_with_the_keys_it_was_registered_with() {
    let signing = |uri: &'static str| {
        spec(move |s| {
            s.token_endpoint_auth_method = Some("private_key_jwt".into());
            s.jwks_uri = Some(uri.into());
        })
    };
    let (mut registered, _) = build(&signing("https://k.example/jwks")).unwrap();
    registered.metadata.token_endpoint_auth_signing_alg = Some("RS256".into());
    registered.metadata.default_max_age = Some(600);
    let replace = |s: &ClientSpec| build_client(s, registered.id.clone(), Some(&registered), MAX_TTL, 200);
    let (same, _) = replace(&signing("https://k.example/jwks")).unwrap();
    assert_eq!(same.metadata.token_endpoint_auth_signing_alg.as_deref(), Some("RS256"));
    let (moved, _) = replace(&signing("https://k.example/new-jwks")).unwrap();
    assert_eq!(moved.metadata.token_endpoint_auth_signing_alg, None);
    assert_eq!(moved.metadata.default_max_age, Some(600), "the rest of what it registered stays");
    let shown = client_json(&same);
    assert_eq!((&shown["token_endpoint_auth_signing_alg"], &shown["default_max_age"]), (&json!("RS256"), &json!(600)));
    // What GET shows goes back.
    let mut round_trip: ClientSpec = serde_json::from_value(shown).unwrap();
    round_trip.client_id = None;
    assert_eq!(replace(&round_trip).unwrap().0.metadata.token_endpoint_auth_signing_alg.as_deref(), Some("RS256"));
}

#[test]
fn replacing_keeps_the_secret_and_history() {
    let (first, secret) = build(&spec(|_| {})).unwrap();
    let mut previous = first.clone();
    previous.revoked_before = Some(50);
    previous.metadata.client_uri = Some("https://app.example".into());
    previous.metadata.default_max_age = Some(600);
    // Left from when it was a private_key_jwt client: no assertion to restrict any more.
    previous.metadata.token_endpoint_auth_signing_alg = Some("ES256".into());
    let (second, issued) =
        build_client(&spec(|s| s.client_name = "Renamed".into()), first.id.clone(), Some(&previous), MAX_TTL, 200)
            .unwrap();
    assert!(issued.is_none(), "the secret is kept");
    assert!(second.secret_hash.as_ref().unwrap().matches(secret.unwrap().expose()));
    assert_eq!((second.name.as_str(), second.created_at, second.updated_at), ("Renamed", 100, 200));
    assert_eq!(second.revoked_before, Some(50));
    assert_eq!(second.metadata.client_uri.as_deref(), Some("https://app.example"));
    assert_eq!(second.metadata.default_max_age, Some(600));
    assert_eq!(second.metadata.token_endpoint_auth_signing_alg, None);

    // Public, then back to a secret: a new one is issued.
    let public = spec(|s| s.token_endpoint_auth_method = Some("none".into()));
    let (third, issued) = build_client(&public, first.id.clone(), Some(&second), MAX_TTL, 300).unwrap();
    assert!(issued.is_none() && third.secret_hash.is_none() && third.previous_secret.is_none());
    let (fourth, issued) = build_client(&spec(|_| {}), first.id.clone(), Some(&third), MAX_TTL, 400).unwrap();
    assert!(fourth.secret_hash.as_ref().unwrap().matches(issued.unwrap().expose()));
}

#[test]
fn specs_parse_from_json_and_what_get_returns_goes_back() {
    let (c, _) = build(&spec(|s| s.admin = true)).unwrap();
    let back = ClientSpec::from_json(client_json(&c).to_string().as_bytes()).unwrap();
    let (again, _) = build_client(&back, c.id.clone(), Some(&c), MAX_TTL, 100).unwrap();
    assert_eq!(again, c);
    for bad in [&b"{"[..], br#"{"client_name":"x","client_secret":"s"}"#, br#"{"redirect_uris":[]}"#] {
        assert!(matches!(ClientSpec::from_json(bad), Err(AdminError::Invalid(_))));
    }
}

#[test]
fn bodies_with_wrong_types_do_not_echo_values() {
    let err = serde_json::from_slice::<UserRequest>(br#"{"username":"a","password":12345678901}"#)
        .map(|_| ())
        .map_err(|e| body_error("user", &e).to_string())
        .unwrap_err();
    assert!(!err.contains("12345678901"), "{err}");
}

#[test]
fn patches_tell_null_from_absent() {
    let p: UserPatch = serde_json::from_slice(br#"{"email":null,"disabled":true}"#).unwrap();
    assert_eq!((p.email, p.name, p.disabled), (Some(None), None, Some(true)));
    let p: UserPatch = serde_json::from_slice(br#"{"name":"N"}"#).unwrap();
    assert_eq!(p.name, Some(Some("N".into())));
}

#[test]
fn emails_names_and_limits() {
    assert!(check_email("a@example.com").is_ok());
    for bad in ["", "a", "@b", "a@", "a b@c", &format!("{}@x", "a".repeat(300))] {
        assert!(check_email(bad).is_err(), "{bad}");
    }
    assert!(check_user_name("Alice Liddell").is_ok());
    assert!(check_user_name("a\nb").is_err() && check_user_name(" ").is_err());
    // Regression: bidi controls and invisible characters passed, so a display name could reorder the page
    // text around it or pass for another; joiners pass only where a script or an emoji sequence joins.
    for bad in ["Alice \u{202E}", "\u{2067}Alice", "Ali\u{200B}ce", "Ali\u{200D}ce", "Alice\u{2029}"] {
        assert!(check_user_name(bad).is_err(), "{bad:?}");
    }
    for fine in [
        "\u{0645}\u{06cc}\u{200c}\u{062e}\u{0648}\u{0627}\u{0647}\u{0645}",
        "Alice \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    ] {
        assert!(check_user_name(fine).is_ok(), "{fine:?}");
    }
    let limit = |s: &str| page_limit(&Params::from_pairs(vec![("limit".into(), s.into())]).unwrap());
    assert_eq!(limit("200").unwrap(), 200);
    assert!(limit("0").is_err() && limit("201").is_err() && limit("x").is_err());
    assert_eq!(page_limit(&Params::default()).unwrap(), DEFAULT_PAGE_SIZE);
    let paged = |rows: Vec<&str>, limit| page(rows, limit, |r| json!(r), |r| r.to_string());
    assert_eq!(paged(vec!["a", "b", "c"], 2), json!({ "items": ["a", "b"], "next": "b" }));
    assert_eq!(paged(vec!["a", "b"], 2), json!({ "items": ["a", "b"], "next": null }));
    assert_eq!(paged(vec![], 2), json!({ "items": [], "next": null }));
}

#[test]
fn a_client_held_to_pushed_requests_stays_so_until_told_otherwise() {
    let (held, _) = build(&spec(|s| s.require_pushed_authorization_requests = Some(true))).unwrap();
    assert_eq!(held.metadata.require_pushed_authorization_requests, Some(true));
    assert_eq!(client_json(&held)["require_pushed_authorization_requests"], true);
    let (kept, _) = build_client(&spec(|_| {}), held.id.clone(), Some(&held), MAX_TTL, 100).unwrap();
    assert_eq!(kept.metadata.require_pushed_authorization_requests, Some(true), "absent: as it was");
    let freeing = spec(|s| s.require_pushed_authorization_requests = Some(false));
    let (freed, _) = build_client(&freeing, held.id.clone(), Some(&held), MAX_TTL, 200).unwrap();
    assert_eq!(freed.metadata.require_pushed_authorization_requests, None);
    assert_eq!(client_json(&freed)["require_pushed_authorization_requests"], false);
}

#[test]
fn dpop_bound_access_tokens_is_set_kept_and_cleared() {
    let (bound, _) = build(&spec(|s| s.dpop_bound_access_tokens = Some(true))).unwrap();
    assert_eq!(bound.metadata.dpop_bound_access_tokens, Some(true));
    assert_eq!(client_json(&bound)["dpop_bound_access_tokens"], true);
    let (kept, _) = build_client(&spec(|_| {}), bound.id.clone(), Some(&bound), MAX_TTL, 100).unwrap();
    assert_eq!(kept.metadata.dpop_bound_access_tokens, Some(true), "absent: as it was");
    let freeing = spec(|s| s.dpop_bound_access_tokens = Some(false));
    let (freed, _) = build_client(&freeing, bound.id.clone(), Some(&bound), MAX_TTL, 200).unwrap();
    assert_eq!(freed.metadata.dpop_bound_access_tokens, None);
    assert_eq!(client_json(&freed)["dpop_bound_access_tokens"], false);
}

#[test]
fn a_backchannel_logout_uri_is_checked_shown_and_sent_back() {
    let notified = spec(|s| {
        s.backchannel_logout_uri = Some("http://127.0.0.1:9000/bc".into());
        s.backchannel_logout_session_required = true;
    });
    let (c, _) = build(&notified).unwrap();
    assert_eq!(
        c.metadata.backchannel_logout_uri.as_deref(),
        Some("http://127.0.0.1:9000/bc"),
        "loopback is trusted here"
    );
    let shown = client_json(&c);
    assert_eq!(shown["backchannel_logout_uri"], "http://127.0.0.1:9000/bc");
    assert_eq!(shown["backchannel_logout_session_required"], true);
    let back = ClientSpec::from_json(shown.to_string().as_bytes()).unwrap();
    assert_eq!(build_client(&back, c.id.clone(), Some(&c), MAX_TTL, 100).unwrap().0, c);
    let (cleared, _) = build_client(&spec(|_| {}), c.id.clone(), Some(&c), MAX_TTL, 100).unwrap();
    assert_eq!(cleared.metadata.backchannel_logout_uri, None, "absent from a replacement: none");
    for bad in ["http://app.example/bc", "https://app.example/bc#f", "not a url"] {
        let refused = build(&spec(|s| s.backchannel_logout_uri = Some(bad.into())));
        assert!(matches!(refused, Err(ClientInputError::Rule(ClientRuleError::BackchannelLogoutUri { .. }))), "{bad}");
    }
}

#[test]
fn a_frontchannel_logout_uri_is_checked_shown_and_sent_back() {
    let framed = spec(|s| {
        s.frontchannel_logout_uri = Some("https://app.example/fc?t=1".into());
        s.frontchannel_logout_session_required = true;
    });
    let (c, _) = build(&framed).unwrap();
    assert_eq!(c.metadata.frontchannel_logout_uri.as_deref(), Some("https://app.example/fc?t=1"));
    let shown = client_json(&c);
    assert_eq!(shown["frontchannel_logout_uri"], "https://app.example/fc?t=1");
    assert_eq!(shown["frontchannel_logout_session_required"], true);
    let back = ClientSpec::from_json(shown.to_string().as_bytes()).unwrap();
    assert_eq!(build_client(&back, c.id.clone(), Some(&c), MAX_TTL, 100).unwrap().0, c);
    let (cleared, _) = build_client(&spec(|_| {}), c.id.clone(), Some(&c), MAX_TTL, 100).unwrap();
    assert_eq!(cleared.metadata.frontchannel_logout_uri, None, "absent from a replacement: none");
    assert_eq!(client_json(&cleared)["frontchannel_logout_session_required"], false);
    for bad in ["http://app.example/fc", "https://app.example/fc#f", "/fc", "https://other.example/fc"] {
        let refused = build(&spec(|s| s.frontchannel_logout_uri = Some(bad.into())));
        assert!(matches!(refused, Err(ClientInputError::Rule(ClientRuleError::FrontchannelLogoutUri { .. }))), "{bad}");
    }
}

#[test]
fn a_client_that_requires_signed_request_objects_needs_keys_and_keeps_the_requirement() {
    let jwks = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "e1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] });
    let keyless = build(&spec(|s| s.require_signed_request_object = Some(true))).unwrap_err();
    assert_eq!(keyless, ClientInputError::Rule(ClientRuleError::RequestObjectKeysRequired));
    let requiring = spec(|s| {
        s.require_signed_request_object = Some(true);
        s.request_object_signing_alg = Some("ES256".into());
        s.jwks = Some(jwks.clone());
    });
    let (held, _) = build(&requiring).unwrap();
    assert_eq!(held.metadata.require_signed_request_object, Some(true));
    let shown = client_json(&held);
    assert_eq!(
        (&shown["require_signed_request_object"], &shown["request_object_signing_alg"]),
        (&json!(true), &json!("ES256"))
    );
    // What GET shows, PUT back, keeps it all.
    let round_trip = ClientSpec::from_json(shown.to_string().as_bytes()).unwrap();
    let (same, _) = build_client(&round_trip, held.id.clone(), Some(&held), MAX_TTL, 200).unwrap();
    assert_eq!(same.metadata, held.metadata);
    // Absent, the requirement stays, and so it needs the keys still.
    let dropping_keys = spec(|_| {});
    let refused = build_client(&dropping_keys, held.id.clone(), Some(&held), MAX_TTL, 200).unwrap_err();
    assert_eq!(refused, ClientInputError::Rule(ClientRuleError::RequestObjectKeysRequired));
    let freeing = spec(|s| s.require_signed_request_object = Some(false));
    let (freed, _) = build_client(&freeing, held.id.clone(), Some(&held), MAX_TTL, 200).unwrap();
    assert_eq!((freed.metadata.require_signed_request_object, freed.metadata.request_object_signing_alg), (None, None));
    let bad_alg = build(&spec(|s| s.request_object_signing_alg = Some("none".into()))).unwrap_err();
    assert_eq!(bad_alg, ClientInputError::RequestObjectSigningAlg);
}
