//! Signed request objects (RFC 9101): an authorization request whose parameters are the claims of a JWT the
//! client signed, sent to `/authorize` or pushed to `/par`, and every way one is refused.
use crate::clients::{ec_key, jwks_of, rsa_key, ClientKey, JwksServer};
use crate::helpers::*;
use crate::signin::{add_alice, browse, location, pkce_pair, query_of, redeem_code, urlencode, REDIRECT};
use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A confidential client (HTTP Basic) whose request objects `keys` verify; `extra` are more `clients add` flags.
pub(crate) fn add_signing_client(app: &TestApp, keys: &[&ClientKey], extra: &[&str]) -> (String, String) {
    let path = app.dir.path().join(format!("jwks-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, serde_json::to_vec(&jwks_of(keys)).unwrap()).unwrap();
    let mut args = vec!["clients", "add", "--name", "Signing App", "--redirect-uri", REDIRECT, "--jwks"];
    args.push(path.to_str().unwrap());
    args.extend_from_slice(extra);
    let client = app.cli_json(&args, None);
    (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned())
}

/// Good claims of a request object from `client_id` for `app`, with PKCE `challenge`.
pub(crate) fn object_claims(app: &TestApp, client_id: &str, challenge: &str) -> Value {
    let now = tessera::domain::now();
    json!({
        "iss": client_id, "aud": app.address, "iat": now, "nbf": now, "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(), "client_id": client_id,
        "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid", "state": "signed", "nonce": "n1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
}

/// `claims` with `changes` applied: `null` removes a claim.
pub(crate) fn changed(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// `claims` signed by `key`, typed as a request object.
pub(crate) fn signed(claims: &Value, key: &ClientKey) -> String {
    let Value::Object(map) = claims.clone() else { panic!("claims are an object") };
    let mut header = JwsHeader::new();
    header.set_token_type("oauth-authz-req+jwt");
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &header, key.signer.as_ref()).unwrap()
}

fn authorize_url(app: &TestApp, client_id: &str, object: &str, outside: &str) -> String {
    format!("{}/authorize?client_id={client_id}&request={}{outside}", app.address, urlencode(object))
}

/// `GET /authorize` with a request object: the status and the redirect's location or the page.
pub(crate) async fn authorize(app: &TestApp, client_id: &str, object: &str) -> (StatusCode, String) {
    let r = app.api_client.get(authorize_url(app, client_id, object, "")).send().await.unwrap();
    match r.status() {
        StatusCode::SEE_OTHER => (r.status(), location(&r)),
        status => (status, r.text().await.unwrap()),
    }
}

/// `POST /par` as `client_id` with `secret` in HTTP Basic.
async fn push(app: &TestApp, client_id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app.api_client.post(app.url("/par")).basic_auth(client_id, Some(secret)).form(form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

both_backends!(a_signed_request_object_carries_the_whole_request, async |app| {
    let alice = add_alice(&app);
    let key = rsa_key(app.dir.path(), "ro-1");
    let (id, secret) = add_signing_client(&app, &[&key], &["--request-object-signing-alg", "RS256"]);
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["request_parameter_supported"], true);
    assert_eq!(discovery["request_object_signing_alg_values_supported"], json!(["RS256", "ES256"]));
    assert_eq!(discovery["require_signed_request_object"], false);
    assert_eq!(discovery["request_uri_parameter_supported"], false);

    // The relying party's own request, signed: its parameters travel only inside the object.
    let http = oidc_http_client();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http).await.unwrap();
    let rp = CoreClient::from_provider_metadata(metadata, ClientId::new(id.clone()), Some(ClientSecret::new(secret)))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("max_age", "600")
        .url();
    let now = tessera::domain::now();
    let mut claims = json!({ "iss": id, "aud": discovery["issuer"], "iat": now, "nbf": now, "exp": now + 300 });
    for (k, v) in url.query_pairs() {
        claims[k.as_ref()] = json!(v);
    }
    // OpenID Connect Core §6.1: max_age as a number.
    claims["max_age"] = json!(600);
    let object = signed(&claims, &key);

    // POST /authorize without a session is asked again as a GET, the object with it; the parameters outside the
    // object are ignored (RFC 9101 §6.3).
    let r = app
        .api_client
        .post(app.url("/authorize"))
        .form(&[("client_id", id.as_str()), ("request", &object), ("state", "tampered"), ("scope", "openid email")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = location(&r);
    assert!(again.starts_with("/authorize?"), "{again}");
    let back = browse(&app, &app.url(&again), Some("allow")).await;
    let q = query_of(&back);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(q.get("state"), Some(csrf.secret()), "the object's state, not the one outside");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(id_token.subject().as_str(), s(&alice, "id"));
    assert_eq!(tokens.scopes().map(|s| s.len()), Some(1), "the object's scope alone: {:?}", tokens.scopes());
});

both_backends!(a_pushed_request_object_is_verified_at_par, async |app| {
    add_alice(&app);
    let key = ec_key(app.dir.path(), "ro-ec");
    let (id, secret) = add_signing_client(&app, &[&key], &["--request-object-signing-alg", "ES256"]);
    let (challenge, verifier) = pkce_pair();
    let object = signed(&object_claims(&app, &id, &challenge), &key);

    let (status, pushed) =
        push(&app, &id, &secret, &[("client_id", id.as_str()), ("request", &object), ("state", "outside")]).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let request_uri = s(&pushed, "request_uri");
    let url = format!("{}/authorize?client_id={id}&request_uri={}", app.address, urlencode(request_uri));
    let back = browse(&app, &url, Some("allow")).await;
    let q = query_of(&back);
    assert_eq!(q.get("state").map(String::as_str), Some("signed"), "{back}");
    let (status, tokens) = redeem_code(&app, &id, &secret, &q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // PAR answers a refused object in JSON, and another client's key does not sign for this one.
    let intruder = ec_key(app.dir.path(), "ro-intruder");
    let forged = signed(&object_claims(&app, &id, &challenge), &intruder);
    let (status, body) = push(&app, &id, &secret, &[("client_id", id.as_str()), ("request", &forged)]).await;
    assert_eq!((status, s(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_request_object"), "{body}");
    // Both request and request_uri at /authorize.
    let url = format!("{}&request={}", url, urlencode(&object));
    let r = app.api_client.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not both"));
});

// The object's `exp` is checked at the push only: the pushed request lives no longer than the object is valid.
both_backends!(
    a_pushed_request_object_is_kept_no_longer_than_its_exp,
    |raw| {
        raw.tokens.leeway_seconds = 0;
    },
    async |app| {
        add_alice(&app);
        let key = ec_key(app.dir.path(), "ro-exp");
        let (id, secret) = add_signing_client(&app, &[&key], &["--request-object-signing-alg", "ES256"]);
        let (challenge, _) = pkce_pair();
        let now = tessera::domain::now();
        let brief = signed(&changed(object_claims(&app, &id, &challenge), json!({ "exp": now + 3 })), &key);
        let lasting = signed(&object_claims(&app, &id, &challenge), &key);
        let mut pushed = Vec::new();
        for object in [&brief, &lasting] {
            let (status, body) = push(&app, &id, &secret, &[("client_id", id.as_str()), ("request", object)]).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            pushed.push(body);
        }
        let brief_ttl = pushed[0]["expires_in"].as_i64().unwrap();
        assert!((1..=3).contains(&brief_ttl), "until the object's exp: {}", pushed[0]);
        assert_eq!(pushed[1]["expires_in"], 60, "par.request_ttl_seconds: {}", pushed[1]);

        sleep_until_unix(now + 4).await;
        let authorize = |body: &Value| {
            let url =
                format!("{}/authorize?client_id={id}&request_uri={}", app.address, urlencode(s(body, "request_uri")));
            app.api_client.get(url).send()
        };
        let r = authorize(&pushed[0]).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let page = r.text().await.unwrap();
        assert!(page.contains("invalid_request_uri") && page.contains("unknown or expired"), "{page}");
        let r = authorize(&pushed[1]).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with("/login?"), "the sign-in: {}", location(&r));
    }
);

both_backends!(request_objects_are_verified_with_the_keys_at_the_jwks_uri, async |app| {
    add_alice(&app);
    let (first, second) = (rsa_key(app.dir.path(), "uri-1"), ec_key(app.dir.path(), "uri-2"));
    let server = JwksServer::start(&jwks_of(&[&first]));
    let args = ["--jwks-uri", server.url.as_str(), "--require-signed-request-object"];
    let client =
        app.cli_json(&[&["clients", "add", "--name", "Uri App", "--redirect-uri", REDIRECT][..], &args].concat(), None);
    let id = s(&client, "client_id");
    let (challenge, _) = pkce_pair();
    let back = browse(
        &app,
        &authorize_url(&app, id, &signed(&object_claims(&app, id, &challenge), &first), ""),
        Some("allow"),
    )
    .await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    assert_eq!(server.hits(), 1);
    // The client rotates its key: the unknown kid makes us fetch once more.
    server.serve(&jwks_of(&[&second]));
    let back = browse(
        &app,
        &authorize_url(&app, id, &signed(&object_claims(&app, id, &challenge), &second), ""),
        Some("allow"),
    )
    .await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    assert_eq!(server.hits(), 2);
    // The old key is gone from the set.
    let (status, page) = authorize(&app, id, &signed(&object_claims(&app, id, &challenge), &first)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("invalid_request_object"), "{page}");
});

both_backends!(request_objects_that_do_not_verify_or_hold_are_refused_on_our_page, async |app| {
    let key = rsa_key(app.dir.path(), "ro-2");
    let other_ec = ec_key(app.dir.path(), "ro-ec-2");
    // Both keys registered, but the client's objects are RS256 only.
    let (id, _) = add_signing_client(&app, &[&key, &other_ec], &["--request-object-signing-alg", "RS256"]);
    let (challenge, _) = pkce_pair();
    let good = object_claims(&app, &id, &challenge);
    let now = tessera::domain::now();
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!("{}.{}.", b64(&json!({ "alg": "none" })), b64(&good));
    let encrypted = format!("{}.a.b.c.d", b64(&json!({ "alg": "RSA-OAEP-256", "enc": "A256GCM" })));
    let other_key = rsa_key(app.dir.path(), "ro-2");
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "alg none"),
        ("a key not registered", signed(&good, &other_key), "signature is invalid"),
        ("an algorithm not registered", signed(&good, &other_ec), "signs its request objects with RS256"),
        ("another iss", signed(&changed(good.clone(), json!({ "iss": "someone" })), &key), "iss"),
        ("another aud", signed(&changed(good.clone(), json!({ "aud": "https://other.example" })), &key), "aud"),
        ("no aud", signed(&changed(good.clone(), json!({ "aud": null })), &key), "aud"),
        ("expired", signed(&changed(good.clone(), json!({ "exp": now - 600, "nbf": now - 900 })), &key), "expired"),
        ("no exp", signed(&changed(good.clone(), json!({ "exp": null })), &key), "no exp"),
        ("too long", signed(&changed(good.clone(), json!({ "exp": now + 3700 })), &key), "at most 3600"),
        ("not valid yet", signed(&changed(good.clone(), json!({ "nbf": now + 600 })), &key), "not valid yet"),
        ("another client_id", signed(&changed(good.clone(), json!({ "client_id": "x" })), &key), "client_id"),
        ("a nested request", signed(&changed(good.clone(), json!({ "request": "x" })), &key), "must not hold"),
        ("a scope not a string", signed(&changed(good.clone(), json!({ "scope": ["openid"] })), &key), "string"),
        ("encrypted", encrypted, "encrypted"),
        ("not a JWT", "not-a-jwt".to_owned(), "not a signed JWT"),
    ];
    for (what, object, said) in cases {
        let (status, page) = authorize(&app, &id, &object).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {page}");
        assert!(page.contains("invalid_request_object") && page.contains(said), "{what}: {page}");
    }
    // The client_id outside the object names the keys: without it there is none to verify with.
    let r = app.api_client.get(format!("{}/authorize?request={}", app.address, signed(&good, &key))).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::BAD_REQUEST);

    // Once verified, its redirect URI is trusted: later errors go there, with its state.
    let admin_scope = signed(&changed(good.clone(), json!({ "scope": "openid tessera:admin" })), &key);
    let (status, to) = authorize(&app, &id, &admin_scope).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let q = query_of(&to);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("invalid_scope", "signed"));
    let (status, to) = authorize(&app, &id, &signed(&changed(good, json!({ "max_age": "soon" })), &key)).await;
    assert_eq!((status, query_of(&to)["error"].as_str()), (StatusCode::SEE_OTHER, "invalid_request"), "{to}");
});

both_backends!(a_client_that_requires_signed_request_objects_gets_no_plain_request_through, async |app| {
    add_alice(&app);
    let key = rsa_key(app.dir.path(), "ro-3");
    let (id, secret) = add_signing_client(&app, &[&key], &["--require-signed-request-object"]);
    let shown = app.cli_json(&["clients", "show", &id], None);
    assert_eq!(
        (&shown["require_signed_request_object"], &shown["request_object_signing_alg"]),
        (&json!(true), &Value::Null)
    );
    let (challenge, _) = pkce_pair();
    let plain = [
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "plain"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let query: String = plain.iter().map(|(k, v)| format!("&{k}={}", urlencode(v))).collect();
    let r = app.api_client.get(format!("{}/authorize?{}", app.address, &query[1..])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&r));
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("invalid_request", "plain"), "{q:?}");
    assert!(q["error_description"].contains("signed request objects"), "{q:?}");

    let (status, body) = push(&app, &id, &secret, &plain).await;
    assert_eq!((status, s(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");

    // Signed, the request goes through.
    let object = signed(&object_claims(&app, &id, &challenge), &key);
    let back = browse(&app, &authorize_url(&app, &id, &object, ""), Some("allow")).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    let (status, pushed) = push(&app, &id, &secret, &[("client_id", id.as_str()), ("request", &object)]).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");

    // The CLI refuses such a client without keys.
    let out = app
        .cli(&["clients", "add", "--name", "N", "--redirect-uri", REDIRECT, "--require-signed-request-object"], None);
    let said = assert_failure(&out, &["clients", "add"]);
    assert!(said.contains("--require-signed-request-object needs --jwks"), "{said}");
});

both_backends!(
    registration_takes_the_request_object_metadata,
    |raw| {
        raw.registration.mode = Some("open".into());
        raw.limits.register_ip_requests = 100;
    },
    async |app| {
        let key = rsa_key(app.dir.path(), "ro-4");
        let register = |body: Value| {
            let app = &app;
            async move {
                let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        let base = json!({ "redirect_uris": ["https://app.example/cb"], "jwks": jwks_of(&[&key]) });
        let (status, info) = register(changed(
            base.clone(),
            json!({ "require_signed_request_object": true, "request_object_signing_alg": "RS256" }),
        ))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{info}");
        assert_eq!(
            (&info["require_signed_request_object"], &info["request_object_signing_alg"]),
            (&json!(true), &json!("RS256"))
        );
        for (body, said) in [
            (
                changed(base.clone(), json!({ "require_signed_request_object": true, "jwks": null })),
                "needs its public keys",
            ),
            (changed(base.clone(), json!({ "request_object_signing_alg": "none" })), "use RS256 or ES256"),
            (changed(base.clone(), json!({ "request_object_signing_alg": "HS256" })), "use RS256 or ES256"),
            (changed(base.clone(), json!({ "require_signed_request_object": "yes" })), "true or false"),
            (changed(base.clone(), json!({ "request_object_encryption_alg": "RSA-OAEP" })), "never encrypted"),
            (changed(base, json!({ "request_uris": ["https://app.example/r"] })), "never fetched"),
        ] {
            let (status, e) = register(body.clone()).await;
            assert_eq!((status, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_client_metadata"), "{body}");
            assert!(s(&e, "error_description").contains(said), "{body}: {e}");
        }
    }
);

both_backends!(claims_in_a_request_object_are_a_json_object, async |app| {
    add_alice(&app);
    let key = rsa_key(app.dir.path(), "ro-claims");
    let (id, secret) = add_signing_client(&app, &[&key], &["--request-object-signing-alg", "RS256"]);
    let (challenge, verifier) = pkce_pair();
    // OpenID Connect Core §6.1: `claims` is a JSON object inside the object, not the text of one.
    let claims = json!({ "claims": { "id_token": { "email": null }, "userinfo": { "name": { "essential": true } } } });
    let object = signed(&changed(object_claims(&app, &id, &challenge), claims), &key);
    let back = browse(&app, &authorize_url(&app, &id, &object, ""), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, &id, &secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, id_token) = verified(&app, s(&tokens, "id_token")).await;
    assert_eq!(id_token["email"], "alice@example.com", "{id_token}");
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&tokens, "access_token")).send().await.unwrap();
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["name"], "Alice", "{info}");

    // A malformed one inside a verified object goes back to the app as any malformed request does.
    let bad = json!({ "claims": { "id_token": { "email": 7 } } });
    let object = signed(&changed(object_claims(&app, &id, &challenge), bad), &key);
    let (status, back) = authorize(&app, &id, &object).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{back}");
    let q = query_of(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{back}");
    assert_eq!(q["error_description"], "claims.id_token.email must be null or a JSON object");
    // Anything but an object (or its text) is refused with the object.
    let object = signed(&changed(object_claims(&app, &id, &challenge), json!({ "claims": ["email"] })), &key);
    let (status, page) = authorize(&app, &id, &object).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("claims must be a JSON object"), "{page}");
});
