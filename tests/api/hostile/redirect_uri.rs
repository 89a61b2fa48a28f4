//! RFC 9700 §4.1 (insufficient redirect URI validation) and §4.11.2 (the authorization server as an open
//! redirector). A redirect URI that is not exactly a registered one gets our error page, never a redirect;
//! and no error found before the redirect URI is verified travels to the URI the request names.
use super::*;
use crate::signin::add_client;

const HTTPS_REDIRECT: &str = "https://app.example/cb";

both_backends!(rfc9700_4_1_manipulated_redirect_uris_get_a_page, async |app| {
    let client = add_client(&app, &["--public", "--redirect-uri", HTTPS_REDIRECT]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let with = |uri: &str| authorize_url(&app, &id, &challenge, "").replace(&urlencode(REDIRECT), &urlencode(uri));

    // The registered URIs themselves proceed to sign-in: the refusals below are about the URI alone.
    for registered in [REDIRECT, HTTPS_REDIRECT] {
        let r = app.api_client.get(with(registered)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{registered}");
        assert!(location(&r).starts_with("/login"), "{registered}: {}", location(&r));
    }

    // Registered: http://127.0.0.1:9/cb and https://app.example/cb. (Another port on the loopback http URI is
    // accepted on purpose: RFC 8252 §7.3, native apps pick a free port.)
    for (attack, uri) in [
        ("longer path (prefix match)", "http://127.0.0.1:9/cb/evil"),
        ("suffix on the last segment", "http://127.0.0.1:9/cbevil"),
        ("shorter path", "http://127.0.0.1:9/"),
        ("path traversal", "http://127.0.0.1:9/cb/../x"),
        ("encoded path traversal", "http://127.0.0.1:9/cb/%2e%2e/x"),
        ("encoded slashes", "http://127.0.0.1:9/cb%2F..%2Fx"),
        ("percent-encoded unreserved character", "http://127.0.0.1:9/c%62"),
        ("userinfo naming the registered host", "http://127.0.0.1:9@evil.example/cb"),
        ("userinfo before the registered host", "http://evil@127.0.0.1:9/cb"),
        ("fragment", "http://127.0.0.1:9/cb#frag"),
        ("fragment hiding the real host", "http://evil.example#@127.0.0.1:9/cb"),
        ("extra query", "http://127.0.0.1:9/cb?next=https://evil.example"),
        ("case of the path", "http://127.0.0.1:9/CB"),
        ("localhost for 127.0.0.1", "http://localhost:9/cb"),
        ("another loopback address", "http://127.0.0.2:9/cb"),
        ("IPv6 loopback for 127.0.0.1", "http://[::1]:9/cb"),
        ("another port", "https://app.example:8443/cb"),
        ("http for https", "http://app.example/cb"),
        ("subdomain", "https://evil.app.example/cb"),
        ("registered host as a prefix", "https://app.example.evil.example/cb"),
        ("trailing dot in the host", "https://app.example./cb"),
        ("trailing slash", "https://app.example/cb/"),
        ("backslash", "https://app.example\\@evil.example/cb"),
        ("custom scheme", "com.evil.app:/cb"),
        ("javascript scheme", "javascript://app.example/cb%0aalert(1)"),
        ("data scheme", "data:text/html,<script>alert(1)</script>"),
        ("wildcard", "https://*.example/cb"),
        ("not a URI", "not a uri"),
    ] {
        let r = app.api_client.get(with(uri)).send().await.unwrap();
        let body = assert_page_not_redirect(r, attack).await;
        assert!(body.contains("cannot be completed"), "{attack}: {body}");
        assert!(!body.contains("evil.example"), "{attack}: the page shows the attacker's URI");
    }
    // The same through POST /authorize.
    let form = [
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb/../x"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // Without a session cookie the POST is sent round as the same GET, to our own endpoint only.
    let r = app.api_client.post(app.url("/authorize")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let get = location(&r);
    assert!(get.starts_with("/authorize?"), "POST with path traversal: sent to {get}");
    let r = app.api_client.get(app.url(&get)).send().await.unwrap();
    assert_page_not_redirect(r, "POST with path traversal").await;
});

both_backends!(rfc9700_4_11_2_errors_before_the_redirect_uri_is_verified_never_redirect, async |app| {
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let evil = urlencode("https://evil.example/cb");
    let base = |client_id: &str| {
        format!("{}/authorize?client_id={client_id}&redirect_uri={evil}&state=st&scope=openid", app.address)
    };
    let pk = format!("&code_challenge={challenge}&code_challenge_method=S256");
    for (attack, url) in [
        ("unknown client", format!("{}&response_type=code{pk}", base("nobody"))),
        ("no client_id", format!("{}/authorize?redirect_uri={evil}&response_type=code&state=st{pk}", app.address)),
        ("unsupported response_type", format!("{}&response_type=token{pk}", base(&id))),
        ("no response_type", format!("{}{pk}", base(&id))),
        ("scope not allowed", format!("{}&response_type=code{pk}", base(&id)).replace("scope=openid", "scope=admin")),
        ("no PKCE", format!("{}&response_type=code", base(&id))),
        (
            "plain PKCE",
            format!("{}&response_type=code&code_challenge={challenge}&code_challenge_method=plain", base(&id)),
        ),
        ("prompt=none without a session", format!("{}&response_type=code&prompt=none{pk}", base(&id))),
        ("form_post of an error", format!("{}&response_type=token&response_mode=form_post{pk}", base(&id))),
        ("unsupported response_mode", format!("{}&response_type=code&response_mode=fragment{pk}", base(&id))),
        ("request object", format!("{}&response_type=code&request=eyJhbGciOiJub25lIn0.e30.{pk}", base(&id))),
        (
            "registered and unregistered redirect_uri together",
            format!("{}&response_type=code&redirect_uri={}{pk}", base(&id), urlencode(REDIRECT)),
        ),
        (
            "no redirect_uri, an error otherwise",
            format!("{}/authorize?client_id={id}&response_type=token&state=st{pk}", app.address),
        ),
    ] {
        let r = app.api_client.get(&url).send().await.unwrap();
        let body = assert_page_not_redirect(r, attack).await;
        assert!(!body.contains("evil.example"), "{attack}: the page points at the attacker's URI:\n{body}");
    }
    // Logout: an unregistered post_logout_redirect_uri is a page too, with or without the client named.
    for url in [
        format!("{}/logout?post_logout_redirect_uri={evil}&state=x", app.address),
        format!("{}/logout?client_id={id}&post_logout_redirect_uri={evil}&state=x", app.address),
    ] {
        let r = app.api_client.get(&url).send().await.unwrap();
        assert!(r.headers().get("location").is_none(), "{url}");
        assert!(r.status().is_client_error(), "{url}: {}", r.status());
    }
});
