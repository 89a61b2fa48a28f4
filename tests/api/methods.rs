//! Methods (RFC 9110 §9): every GET also answers HEAD, with the same headers and no body, and a method a path
//! does not take is 405 with `Allow`, not 404.
use reqwest::Method;

/// The methods an `Allow` header lists.
fn allowed(r: &reqwest::Response) -> Vec<String> {
    let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let mut methods: Vec<String> = allow.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    methods.sort();
    methods
}

both_backends!(head_answers_like_get_without_a_body, async |app| {
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks", "/healthz"] {
        let get = app.get(path).await;
        assert_eq!(get.status(), 200, "GET {path}");
        let head = app.api_client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        for name in ["content-type", "cache-control", "etag"] {
            assert_eq!(head.headers().get(name), get.headers().get(name), "HEAD {path}: {name}");
        }
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has a body");
    }
});

both_backends!(a_method_the_path_does_not_take_is_405_with_allow, async |app| {
    let r = app.get("/token").await;
    assert_eq!(r.status(), 405, "GET /token");
    let allow = allowed(&r);
    assert!(allow.contains(&"POST".to_owned()) && !allow.contains(&"GET".to_owned()), "GET /token: {allow:?}");
    for (method, path, expected) in [
        (Method::PUT, "/jwks", vec!["GET", "HEAD"]),
        (Method::POST, "/.well-known/openid-configuration", vec!["GET", "HEAD"]),
        (Method::DELETE, "/login", vec!["GET", "HEAD", "POST"]),
        (Method::DELETE, "/admin/api/audit", vec!["GET", "HEAD"]),
    ] {
        let r = app.api_client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        let allow = allowed(&r);
        for m in expected {
            assert!(allow.contains(&m.to_owned()), "{method} {path}: {allow:?}");
        }
        assert!(!allow.contains(&method.to_string()), "{method} {path}: {allow:?}");
    }
    // Unknown paths are still 404.
    assert_eq!(app.get("/no-such-endpoint").await.status(), 404);
});
