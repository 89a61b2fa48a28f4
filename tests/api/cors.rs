//! CORS: browser apps (a public client with PKCE, in another origin) read discovery, the JWKS, `/token`,
//! `/userinfo`, `/revoke` and `/introspect`; any origin may, never with credentials. The pages and the other
//! APIs carry no CORS headers and answer no preflight.
use crate::helpers::*;
use reqwest::{Method, Response};

const APP_ORIGIN: &str = "https://spa.example";

/// A preflight for `method` at `path`, as a browser sends it before a cross-origin fetch.
async fn preflight(app: &TestApp, path: &str, method: &str) -> Response {
    app.api_client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", APP_ORIGIN)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase())
}

both_backends!(browser_apps_may_call_the_token_endpoints_from_any_origin, async |app| {
    for (path, method) in [
        ("/token", "POST"),
        ("/revoke", "POST"),
        ("/introspect", "POST"),
        ("/userinfo", "GET"),
        ("/userinfo", "POST"),
        ("/jwks", "GET"),
        ("/.well-known/openid-configuration", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
    ] {
        let r = preflight(&app, path, method).await;
        assert_eq!(r.status(), 204, "OPTIONS {path}");
        assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"), "OPTIONS {path}");
        let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains(&method.to_ascii_lowercase()), "OPTIONS {path}: {methods}");
        let headers = header(&r, "access-control-allow-headers").unwrap_or_default();
        let asked = ["authorization", "content-type", "dpop"];
        assert!(asked.iter().all(|h| headers.contains(h)), "OPTIONS {path}: {headers}");
        assert!(header(&r, "access-control-max-age").is_some_and(|a| a.parse::<u32>().is_ok()), "OPTIONS {path}");
        assert!(header(&r, "access-control-allow-credentials").is_none(), "OPTIONS {path}");
    }

    // The answer itself, an error included, is readable by script, and so is its challenge.
    let r = app
        .api_client
        .post(app.url("/token"))
        .header("origin", APP_ORIGIN)
        .basic_auth("nobody", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"));
    // DPoP-Nonce too: a browser app reads the nonce its next proof must carry (RFC 9449 §8).
    let exposed = header(&r, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("www-authenticate") && exposed.contains("dpop-nonce"), "{exposed}");
    assert!(header(&r, "access-control-allow-credentials").is_none());
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let r = app.api_client.get(app.url(path)).header("origin", APP_ORIGIN).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"), "GET {path}");
    }
    let r = app.api_client.get(app.url("/userinfo")).header("origin", APP_ORIGIN).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"));
});

both_backends!(pages_and_server_apis_carry_no_cors, async |app| {
    for path in ["/login", "/authorize", "/consent", "/logout", "/register", "/admin/api/clients"] {
        let r = app.api_client.get(app.url(path)).header("origin", APP_ORIGIN).send().await.unwrap();
        assert!(header(&r, "access-control-allow-origin").is_none(), "GET {path}");
        for method in ["GET", "POST"] {
            let r = preflight(&app, path, method).await;
            assert!(!r.status().is_success(), "OPTIONS {path} for {method}: {}", r.status());
            assert!(header(&r, "access-control-allow-origin").is_none(), "OPTIONS {path} for {method}");
            assert!(header(&r, "access-control-allow-methods").is_none(), "OPTIONS {path} for {method}");
        }
    }
});
