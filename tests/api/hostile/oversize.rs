//! Oversize, duplicated and malformed input (DESIGN.md §7: size limits, duplicates are `invalid_request`, nothing
//! panics on input). Each is refused as `invalid_request` (a page at `/authorize`, JSON at the API), a body over
//! the limit included, and never answered with a 500.
use super::*;
use crate::signin::{add_alice, add_client};

/// A refused back-channel request: 400 with the RFC 6749 §5.2 `invalid_request` JSON, never cached.
async fn assert_refused_json(r: reqwest::Response, case: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{case}");
    let cache_control = r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(cache_control.as_deref(), Some("no-store"), "{case}");
    let body: Value = r.json().await.unwrap_or_else(|e| panic!("{case}: not JSON: {e}"));
    assert_eq!(body["error"], "invalid_request", "{case}: {body}");
    assert_error_description_text(body["error_description"].as_str().unwrap_or_default(), case);
}

/// RFC 6749 §4.1.2.1 and §5.2: an `error_description` is printable ASCII without `"` and `\` (the refusals quote
/// the request's parameter names and values).
fn assert_error_description_text(description: &str, case: &str) {
    assert!(!description.is_empty(), "{case}: no error_description");
    let allowed = |b: u8| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E);
    assert!(description.bytes().all(allowed), "{case}: {description:?}");
}

/// A redirect to the client with `invalid_request` (RFC 6749 §4.1.2.1), its state and issuer, and no code;
/// returns the query.
async fn refused_to_the_client(r: reqwest::Response, case: &str) -> std::collections::HashMap<String, String> {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{case}");
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{case}: {back}");
    let q = query_of(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{case}: {q:?}");
    assert_eq!(q.get("state").map(String::as_str), Some("st"), "{case}: {q:?}");
    assert!(q.contains_key("iss") && !q.contains_key("code"), "{case}: {q:?}");
    assert_error_description_text(q.get("error_description").map(String::as_str).unwrap_or_default(), case);
    q
}

both_backends!(oversize_parameters_are_invalid_request_never_500, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, "");
    let many: String = (0..100).map(|i| format!("&p{i}=v")).collect();
    let scopes: String = (0..70).map(|i| format!("%20s{i}")).collect();
    let long_redirect = format!("http://127.0.0.1:9/cb?{}", "a".repeat(3 * 1024));
    for (case, url) in [
        ("a 10 KB state", url.replace("state=st", &format!("state={}", "s".repeat(10 * 1024)))),
        ("100 parameters", format!("{url}{many}")),
        ("a 3 KB redirect_uri", url.replace(&urlencode(REDIRECT), &urlencode(&long_redirect))),
        ("a 10 KB client_id", url.replace(&id, &"c".repeat(10 * 1024))),
    ] {
        let r = app.api_client.get(&url).send().await.unwrap();
        let body = assert_page_not_redirect(r, case).await;
        assert!(body.contains("invalid_request") || body.contains("invalid_client"), "{case}: {body}");
    }
    // Oversized parameters that the error response does not depend on: sent back to the client.
    for (case, url) in [
        ("a 9 KB parameter name", format!("{url}&{}=1", "n".repeat(9 * 1024))),
        ("a 9 KB nonce", format!("{url}&nonce={}", "n".repeat(9 * 1024))),
    ] {
        let q = refused_to_the_client(app.api_client.get(&url).send().await.unwrap(), case).await;
        assert!(q["error_description"].contains("too long"), "{case}: {q:?}");
    }
    // 70 scopes: refused after the redirect URI is verified, so the error goes back to the client.
    let r = app.api_client.get(url.replace("scope=openid", &format!("scope=openid{scopes}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&r));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_scope"), "70 scopes: {q:?}");
    assert!(q.get("error_description").is_some_and(|d| d.contains("64")), "{q:?}");
    assert!(!q.contains_key("code"));

    // Bodies over 64 KB and forms over the parameter limits, at every form endpoint.
    let big = format!("grant_type=authorization_code&pad={}", "x".repeat(70 * 1024));
    let many_form: String = (0..100).map(|i| format!("p{i}=v&")).collect();
    for path in ["/token", "/revoke", "/introspect", "/userinfo"] {
        for (case, body) in [("a 70 KB body", big.clone()), ("100 parameters", many_form.clone())] {
            let r = app
                .api_client
                .post(app.url(path))
                .basic_auth(&id, Some("x"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_refused_json(r, &format!("{path}: {case}")).await;
        }
    }
    for path in ["/authorize", "/login", "/consent", "/logout"] {
        let r = app
            .api_client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        // The error page, not actix-web's plain-text 413.
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}: a 70 KB body");
        let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"), "{path}: a 70 KB body");
        assert!(r.text().await.unwrap().contains("invalid_request"), "{path}: a 70 KB body");
    }
    // A 9 KB username and password at the login form: refused as a bad form, not a failed sign-in.
    let b = browser();
    let form2 = open_login(&app, &b, &url).await;
    let r = submit_login(&app, &b, &form2, &"u".repeat(9 * 1024), &"p".repeat(9 * 1024)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // 7 KB of each is merely a wrong name and password.
    let r = submit_login(&app, &b, &form2, &"u".repeat(7 * 1024), &"p".repeat(7 * 1024)).await;
    assert_eq!(r.status(), StatusCode::OK);
});

// RFC 6749 Appendix A.5: `state = 1*VSCHAR`. Anything else (a control character, DEL, non-ASCII) is refused on our
// page, as an oversized state is, never sent back to the app; before, it was kept with the pending sign-in, a control
// character as six bytes of JSON.
both_backends!(a_state_outside_vschar_gets_the_error_page, async |app| {
    let client = add_client(&app, &["--public"]);
    let (challenge, _) = pkce_pair();
    let url = authorize_url(&app, s(&client, "client_id"), &challenge, "");
    for (case, state) in [
        ("a newline", "a%0Ab"),
        ("a NUL", "%00"),
        ("a tab", "a%09b"),
        ("DEL", "%7F"),
        ("a non-ASCII letter", "caf%C3%A9"),
        ("a bidi control", "%E2%80%AE"),
        ("8 KB of control characters", &"%01".repeat(8192)),
    ] {
        let r = app.api_client.get(url.replace("state=st", &format!("state={state}"))).send().await.unwrap();
        let body = assert_page_not_redirect(r, case).await;
        assert!(body.contains("invalid_request") && body.contains("printable ASCII"), "{case}: {body}");
    }
    // Every VSCHAR is kept, space and punctuation included.
    let vschar = urlencode(" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
    let b = browser();
    open_login(&app, &b, &url.replace("state=st", &format!("state={vschar}"))).await;
});

both_backends!(duplicate_parameters_are_invalid_request, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, verifier) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, "");
    // Each parameter a second time (nonce, prompt and response_mode, absent from the URL, twice over). Those
    // the error response is made from get the page; any other is invalid_request sent back to the client.
    let query = url.split_once('?').unwrap().1.to_owned();
    let post = |body: String| {
        app.api_client
            .post(app.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for (name, twice) in [
        ("client_id", format!("client_id={id}")),
        ("redirect_uri", format!("redirect_uri={}", urlencode(REDIRECT))),
        ("state", "state=other".to_owned()),
        ("response_mode", "response_mode=query&response_mode=form_post".to_owned()),
    ] {
        let r = app.api_client.get(format!("{url}&{twice}")).send().await.unwrap();
        let body = assert_page_not_redirect(r, &format!("GET /authorize with {name} twice")).await;
        assert!(body.contains("invalid_request") && body.contains(name), "{name}: {body}");
        let r = post(format!("{query}&{twice}")).await.unwrap();
        assert_page_not_redirect(r, &format!("POST /authorize with {name} twice")).await;
    }
    for (name, twice) in [
        ("response_type", "response_type=code".to_owned()),
        ("scope", "scope=openid".to_owned()),
        ("code_challenge", format!("code_challenge={challenge}")),
        ("code_challenge_method", "code_challenge_method=S256".to_owned()),
        ("nonce", "nonce=a&nonce=b".to_owned()),
        ("prompt", "prompt=login&prompt=none".to_owned()),
    ] {
        let r = app.api_client.get(format!("{url}&{twice}")).send().await.unwrap();
        let q = refused_to_the_client(r, &format!("GET /authorize with {name} twice")).await;
        assert!(q["error_description"].contains(name), "{name}: {q:?}");
        // The same in a POST body, which has no session to look for: answered as it is, not asked again as a
        // GET that would carry only the first value.
        let r = post(format!("{query}&{twice}")).await.unwrap();
        refused_to_the_client(r, &format!("POST /authorize with {name} twice")).await;
    }
    // A value quoted back keeps to the description's character set too (é is not ASCII).
    let r = app.api_client.get(format!("{url}&prompt=%C3%A9")).send().await.unwrap();
    refused_to_the_client(r, "GET /authorize with prompt=é").await;
    let (code, _) = code_for(&app, &id).await;
    let base = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}&client_id={id}",
        urlencode(REDIRECT)
    );
    for dup in [
        "grant_type=authorization_code",
        "code=x",
        &format!("redirect_uri={}", urlencode(REDIRECT)),
        "code_verifier=x",
        &format!("client_id={id}"),
        "client_secret=a&client_secret=b",
    ] {
        let r = app
            .api_client
            .post(app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{base}&{dup}"))
            .send()
            .await
            .unwrap();
        assert_refused_json(r, &format!("/token with {dup} again")).await;
    }
});

both_backends!(nul_bytes_and_broken_encodings_are_refused_never_500, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
    let (challenge, _) = pkce_pair();
    for (case, url) in [
        ("NUL in client_id", authorize_url(&app, &format!("{id}%00"), &challenge, "")),
        ("NUL in redirect_uri", authorize_url(&app, &id, &challenge, "").replace("%2Fcb", "%2Fcb%00")),
        ("invalid UTF-8 in client_id", authorize_url(&app, &format!("{id}%FF%FE"), &challenge, "")),
        ("bare percent", authorize_url(&app, &id, &challenge, "&x=%")),
    ] {
        let r = app.api_client.get(&url).send().await.unwrap();
        assert!(r.status() != StatusCode::INTERNAL_SERVER_ERROR, "{case}");
        if r.status().is_redirection() {
            // Only harmless garbage may proceed; it must not reach the client as a success.
            assert!(location(&r).starts_with("/login"), "{case}: {}", location(&r));
        }
    }
    // NUL in the login form, in every token-endpoint field, and at introspection and revocation.
    let b = browser();
    let form = open_login(&app, &b, &authorize_url(&app, &id, &challenge, "")).await;
    let r = submit_login(&app, &b, &form, "ali\0ce", "pass\0word").await;
    assert_eq!(r.status(), StatusCode::OK);
    for (case, form) in [
        ("code", vec![("grant_type", "authorization_code"), ("code", "ab\0cd"), ("redirect_uri", REDIRECT)]),
        ("refresh_token", vec![("grant_type", "refresh_token"), ("refresh_token", "ab\0cd")]),
        ("grant_type", vec![("grant_type", "authorization\0code")]),
        ("scope", vec![("grant_type", "refresh_token"), ("refresh_token", "x"), ("scope", "open\0id")]),
    ] {
        let (st, e) = token(&app, Some((&id, &secret)), &form).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{case}: {e}");
    }
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(format!("{id}\0"), Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "NUL in the client id");
    for path in ["/introspect", "/revoke"] {
        let r = app
            .api_client
            .post(app.url(path))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", "ab\0cd"), ("token_type_hint", "refresh\0token")])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success() || r.status() == StatusCode::BAD_REQUEST, "{path}: {}", r.status());
    }
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth("ab%00cd").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

/// Asserts the RFC 6750 refusal of a malformed request: 400 `invalid_request`, named in the Bearer challenge.
async fn assert_refused_bearer(r: reqwest::Response, case: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{case}");
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_request\""), "{case}: {challenge}");
    let body: Value = r.json().await.unwrap_or_else(|e| panic!("{case}: not JSON: {e}"));
    assert_eq!(body["error"], "invalid_request", "{case}: {body}");
}

// Regression: with two Authorization headers only the first was read, so a wrong or different second
// credential went unnoticed (and the first decided, whichever a proxy in front would have used).
both_backends!(authorization_sent_twice_is_invalid_request, async |app| {
    use base64::Engine;
    add_alice(&app);
    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (s(&admin, "client_id").to_owned(), s(&admin, "client_secret").to_owned());
    let basic =
        |secret: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")));
    let (good, wrong) = (basic(&secret), basic("wrong"));
    let (good, wrong) = (good.as_str(), wrong.as_str());
    let post = |path: &str, form: &[(&str, &str)], authorizations: &[&str]| {
        let mut req = app.api_client.post(app.url(path)).form(form);
        for a in authorizations {
            req = req.header("authorization", *a);
        }
        req.send()
    };
    let grant = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let r = post("/token", &grant, &[good]).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let admin_token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    for path in ["/token", "/revoke", "/introspect"] {
        let form: &[(&str, &str)] = if path == "/token" { &grant } else { &[("token", "x")] };
        assert!(post(path, form, &[good]).await.unwrap().status().is_success(), "{path}");
        for (case, pair) in [[good, wrong], [wrong, good], [good, good], [good, "Bearer x"]].iter().enumerate() {
            assert_refused_json(post(path, form, pair).await.unwrap(), &format!("{path}: pair {case}")).await;
        }
    }

    let client = add_client(&app, &[]);
    let (user_client, user_secret) = (s(&client, "client_id").to_owned(), s(&client, "client_secret").to_owned());
    let (code, verifier) = code_for(&app, &user_client).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = token(&app, Some((&user_client, &user_secret)), &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let user_bearer = format!("Bearer {}", s(&tokens, "access_token"));
    let admin_bearer = format!("Bearer {admin_token}");
    for (path, bearer) in [("/userinfo", user_bearer.as_str()), ("/admin/api/clients", admin_bearer.as_str())] {
        let get = |authorizations: &[&str]| {
            let mut req = app.api_client.get(app.url(path));
            for a in authorizations {
                req = req.header("authorization", *a);
            }
            req.send()
        };
        assert_eq!(get(&[bearer]).await.unwrap().status(), StatusCode::OK, "{path}");
        for (case, pair) in
            [[bearer, "Bearer x"], ["Bearer x", bearer], [bearer, bearer], [bearer, good]].iter().enumerate()
        {
            assert_refused_bearer(get(pair).await.unwrap(), &format!("{path}: pair {case}")).await;
        }
    }
});
