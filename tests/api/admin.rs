//! The admin API (`/admin/api/…`): client and user administration and the audit trail over JSON, for bearer
//! tokens with the `tessera:admin` scope; the refusals of RFC 6750; and `docs/openapi.json` against the routes
//! the server answers.
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, browse, browse_as, consent_page, hidden, location, pkce_pair, query_of, signs_in,
    token_basic, COMPOSED_PASSWORD, DECOMPOSED_PASSWORD, PASSWORD, REDIRECT,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tessera::domain::Username;
use tessera::http::admin::ADMIN_ROUTES;
use tessera::storage::UserStore;

/// An admin API response.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<none>")
    }

    fn challenge(&self) -> &str {
        self.headers.get("www-authenticate").map_or("<none>", |v| v.to_str().unwrap())
    }
}

/// An admin client made by the CLI and a `tessera:admin` token it got with client_credentials.
struct Admin {
    id: String,
    secret: String,
    token: String,
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str, scope: &str) -> (StatusCode, Value) {
    token_basic(app, id, secret, &[("grant_type", "client_credentials"), ("scope", scope)]).await
}

async fn admin(app: &TestApp) -> Admin {
    // Without redirect URIs an admin client gets the client_credentials grant, the one that issues the scope.
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (s(&c, "client_id").to_owned(), s(&c, "client_secret").to_owned());
    let (status, body) = client_credentials(app, &id, &secret, "tessera:admin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "tessera:admin");
    Admin { id, secret, token: s(&body, "access_token").to_owned() }
}

/// `method path` with `token` (if any) and a JSON `body` (if any).
async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
    let mut req = app.api_client.request(method.clone(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
    };
    if status != StatusCode::UNAUTHORIZED || token.is_some() {
        assert_eq!(
            headers.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{method} {path} {status}"
        );
    }
    Reply { status, headers, body }
}

impl Admin {
    async fn get(&self, app: &TestApp, path: &str) -> Reply {
        call(app, Method::GET, path, Some(&self.token), None).await
    }

    async fn send(&self, app: &TestApp, method: Method, path: &str, body: &Value) -> Reply {
        call(app, method, path, Some(&self.token), Some(body)).await
    }

    async fn post(&self, app: &TestApp, path: &str) -> Reply {
        call(app, Method::POST, path, Some(&self.token), None).await
    }

    async fn delete(&self, app: &TestApp, path: &str) -> Reply {
        call(app, Method::DELETE, path, Some(&self.token), None).await
    }
}

/// Whether `id:secret` authenticates at the introspection endpoint, and the `active` it says of `token`.
async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Option<bool> {
    let r = app
        .api_client
        .post(app.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    match r.status() {
        StatusCode::OK => Some(r.json::<Value>().await.unwrap()["active"].as_bool().unwrap()),
        StatusCode::UNAUTHORIZED => None,
        other => panic!("introspection answered {other}"),
    }
}

/// Alice signs in at `client` (made by [`add_client`]) and gets tokens from the code flow.
async fn user_tokens(app: &TestApp, client: &Value) -> Value {
    let id = s(client, "client_id");
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, id, &challenge, ""), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(id, Some(s(client, "client_secret")))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn userinfo_status(app: &TestApp, token: &str) -> StatusCode {
    app.api_client.get(app.url("/userinfo")).bearer_auth(token).send().await.unwrap().status()
}

/// The kinds of the audit events `query` lists, checking that each names the admin client as its actor when
/// it is an admin action.
async fn audit_kinds(app: &TestApp, a: &Admin, query: &str) -> Vec<String> {
    let r = a.get(app, &format!("/admin/api/audit{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    for e in items.iter().filter(|e| s(e, "kind").starts_with("admin_")) {
        assert_eq!(e["actor"], a.id.as_str(), "{e}");
        let text = e.to_string();
        assert!(!text.contains("secret\":\"") && !text.contains(PASSWORD), "no secret in the audit trail: {e}");
    }
    items.iter().map(|e| s(e, "kind").to_owned()).collect()
}

fn ids(page: &Value, key: &str) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|c| s(c, key).to_owned()).collect()
}

both_backends!(
    clients_round_trip,
    |raw| {
        raw.clients.secret_overlap_seconds = 3;
    },
    async |app| {
        let a = admin(&app).await;
        let started = tessera::domain::now();

        // Create: 201, the secret once.
        let web = json!({
            "client_name": "Web",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
            "scope": "openid profile",
            "access_token_ttl": 300,
        });
        let r = a.send(&app, Method::POST, "/admin/api/clients", &web).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = s(&r.body, "client_id").to_owned();
        let secret = s(&r.body, "client_secret").to_owned();
        assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(r.body["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(
            (r.body["scope"].as_str(), r.body["access_token_ttl"].as_i64()),
            (Some("openid profile"), Some(300))
        );
        assert_eq!(introspect(&app, &id, &secret, "x").await, Some(false), "the secret works");

        // Read: never the secret again; the CLI sees the same client.
        let r = a.get(&app, &format!("/admin/api/clients/{id}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.get("client_secret").is_none() && !r.body.to_string().contains(&secret), "{}", r.body);
        assert_eq!(r.body, app.cli_json(&["clients", "show", &id], None));
        let shown = r.body;

        // List with paging: ordered by id, `next` until the last page.
        for name in ["Two", "Three"] {
            let body = json!({ "client_name": name, "grant_types": ["client_credentials"], "scope": "read" });
            assert_eq!(a.send(&app, Method::POST, "/admin/api/clients", &body).await.status, StatusCode::CREATED);
        }
        let first = a.get(&app, "/admin/api/clients?limit=2").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        let mut listed = ids(&first.body, "client_id");
        assert_eq!(listed.len(), 2);
        let next = s(&first.body, "next").to_owned();
        assert_eq!(next, listed[1]);
        let second = a.get(&app, &format!("/admin/api/clients?limit=2&after={next}")).await;
        listed.extend(ids(&second.body, "client_id"));
        assert_eq!(listed.len(), 4, "the admin client and three more");
        assert_eq!(second.body["next"], Value::Null, "{}", second.body);
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert!(listed.contains(&id) && listed.contains(&a.id));
        assert_eq!(a.get(&app, "/admin/api/clients").await.body["items"].as_array().unwrap().len(), 4);

        // Replace: what GET returned, edited, goes back; the secret is kept.
        let mut edited = shown.clone();
        edited["client_name"] = json!("Web, renamed");
        edited["redirect_uris"] = json!([REDIRECT, "https://app.example/cb"]);
        let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{id}"), &edited).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("client_secret").is_none(), "{}", r.body);
        assert_eq!(r.body["client_name"], "Web, renamed");
        assert_eq!(r.body["created_at"], shown["created_at"]);
        assert_eq!(r.body["post_logout_redirect_uris"], shown["post_logout_redirect_uris"]);
        assert_eq!(introspect(&app, &id, &secret, "x").await, Some(false), "the secret still works");
        // Absent fields take their defaults, as at creation: a PUT replaces.
        let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{id}"), &json!({ "client_name": "Web" })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "no redirect URI for authorization_code: {}", r.body);
        let r = a
            .send(
                &app,
                Method::PUT,
                &format!("/admin/api/clients/{id}"),
                &json!({ "client_name": "Web", "redirect_uris": [REDIRECT] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["scope"], "email offline_access openid profile");
        assert_eq!(r.body["post_logout_redirect_uris"], json!([]));
        // Validated like creation.
        for (bad, why) in [
            (json!({ "client_name": "Web", "redirect_uris": ["http://evil.example/cb"] }), "redirect"),
            (json!({ "client_name": "", "redirect_uris": [REDIRECT] }), "name"),
            (json!({ "client_name": "Photos \u{202e}", "redirect_uris": [REDIRECT] }), "name"),
            (json!({ "client_name": "G\u{200b}oogle", "redirect_uris": [REDIRECT] }), "name"),
            (json!({ "client_name": "W", "redirect_uris": [REDIRECT], "scope": "tessera:admin" }), "admin"),
            (json!({ "client_name": "W", "redirect_uris": [REDIRECT], "client_id": a.id }), "client_id"),
            (json!({ "client_name": "W", "redirect_uris": [REDIRECT], "client_secret": "mine" }), "client_secret"),
            (json!({ "client_name": "W", "redirect_uris": [REDIRECT], "access_token_ttl": 0 }), "access_token_ttl"),
        ] {
            let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{id}"), &bad).await;
            assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}: {}", r.body);
            assert!(s(&r.body, "error_description").contains(why), "{bad}: {}", r.body);
        }

        // Rotate: the new secret works at once, the old one for the overlap (3 s here).
        let r = a.post(&app, &format!("/admin/api/clients/{id}/rotate-secret")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let new_secret = s(&r.body, "client_secret").to_owned();
        let until = r.body["previous_secret_expires_at"].as_i64().unwrap();
        assert!((started + 3..=tessera::domain::now() + 3).contains(&until), "{}", r.body);
        assert_ne!(new_secret, secret);
        assert_eq!(introspect(&app, &id, &new_secret, "x").await, Some(false));
        assert_eq!(introspect(&app, &id, &secret, "x").await, Some(false), "the old secret overlaps");
        sleep_until_unix(until).await;
        assert_eq!(introspect(&app, &id, &secret, "x").await, None, "the old secret stopped working");
        assert_eq!(introspect(&app, &id, &new_secret, "x").await, Some(false));

        // Revoke tokens: a service client's token dies.
        let svc = json!({ "client_name": "Service", "grant_types": ["client_credentials"], "scope": "read" });
        let r = a.send(&app, Method::POST, "/admin/api/clients", &svc).await;
        let (svc_id, svc_secret) = (s(&r.body, "client_id").to_owned(), s(&r.body, "client_secret").to_owned());
        let (status, t) = client_credentials(&app, &svc_id, &svc_secret, "read").await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let svc_token = s(&t, "access_token");
        assert_eq!(introspect(&app, &svc_id, &svc_secret, svc_token).await, Some(true));
        let r = a.post(&app, &format!("/admin/api/clients/{svc_id}/revoke-tokens")).await;
        assert_eq!((r.status, &r.body), (StatusCode::OK, &json!({ "client_id": svc_id, "revoked": true })));
        assert_eq!(introspect(&app, &svc_id, &svc_secret, svc_token).await, Some(false));
        let (status, t) = client_credentials(&app, &svc_id, &svc_secret, "read").await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert_eq!(introspect(&app, &svc_id, &svc_secret, s(&t, "access_token")).await, Some(true), "issued after");
        // Public clients have no secret to rotate.
        let public = json!({ "client_name": "SPA", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" });
        let r = a.send(&app, Method::POST, "/admin/api/clients", &public).await;
        assert!(r.body.get("client_secret").is_none(), "{}", r.body);
        let r = a.post(&app, &format!("/admin/api/clients/{}/rotate-secret", s(&r.body, "client_id"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(s(&r.body, "error_description").contains("not a secret"), "{}", r.body);

        // Delete: 204, then it is gone, and so is what it could do.
        let r = a.delete(&app, &format!("/admin/api/clients/{svc_id}")).await;
        assert_eq!((r.status, &r.body), (StatusCode::NO_CONTENT, &Value::Null));
        let r = a.get(&app, &format!("/admin/api/clients/{svc_id}")).await;
        assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "not_found"));
        assert_eq!(a.delete(&app, &format!("/admin/api/clients/{svc_id}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(introspect(&app, &svc_id, &svc_secret, "x").await, None);

        // The audit trail has each action, with the admin client as the actor.
        let kinds = audit_kinds(&app, &a, &format!("?client={id}")).await;
        for kind in ["admin_client_created", "admin_client_updated", "admin_client_secret_rotated"] {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
        let kinds = audit_kinds(&app, &a, &format!("?client={svc_id}")).await;
        assert!(kinds.iter().any(|k| k == "admin_client_deleted"), "{kinds:?}");
        assert!(kinds.iter().any(|k| k == "client_tokens_revoked"), "{kinds:?}");
        let r = a.get(&app, &format!("/admin/api/audit?client={svc_id}&limit=1")).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        // Page by page with `next`, the whole trail of the client, each event once, newest first.
        let (mut paged, mut after) = (Vec::new(), String::new());
        loop {
            let r = a.get(&app, &format!("/admin/api/audit?client={svc_id}&limit=1{after}")).await;
            paged.extend(r.body["items"].as_array().unwrap().iter().map(|e| e["id"].clone()));
            match r.body["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
        let whole = a.get(&app, &format!("/admin/api/audit?client={svc_id}")).await;
        let whole: Vec<Value> = whole.body["items"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
        assert!(whole.len() > 1 && paged == whole, "{paged:?} {whole:?}");
        let r = a.get(&app, "/admin/api/audit?after=nonsense").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let revoked = a.get(&app, &format!("/admin/api/audit?client={svc_id}")).await;
        let revoked = revoked.body["items"].as_array().unwrap().iter().find(|e| e["kind"] == "client_tokens_revoked");
        assert_eq!(revoked.unwrap()["actor"], a.id.as_str());
        let later = tessera::domain::now() + 1000;
        assert!(audit_kinds(&app, &a, &format!("?since={later}")).await.is_empty());
    }
);

both_backends!(users_round_trip, async |app| {
    let a = admin(&app).await;

    // Create: 201, no password or hash in sight; a duplicate username is 409.
    let alice = json!({ "username": "alice", "password": PASSWORD, "email": "alice@example.com", "name": "Alice" });
    let r = a.send(&app, Method::POST, "/admin/api/users", &alice).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = s(&r.body, "id").to_owned();
    assert_eq!((r.body["username"].as_str(), r.body["email_verified"].as_bool()), (Some("alice"), Some(false)));
    assert!(!r.body.to_string().contains(PASSWORD) && !r.body.to_string().contains("argon2"), "{}", r.body);
    let r = a
        .send(&app, Method::POST, "/admin/api/users", &json!({ "username": "alice", "password": "x".repeat(9) }))
        .await;
    assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, "conflict"), "{}", r.body);
    for bad in [
        json!({ "username": "bob", "password": "short" }),
        json!({ "username": " bob", "password": PASSWORD }),
        json!({ "username": "bob", "password": PASSWORD, "email": "not an address" }),
        json!({ "username": "bob", "password": PASSWORD, "admin": true }),
        json!({ "username": "bob" }),
    ] {
        let r = a.send(&app, Method::POST, "/admin/api/users", &bad).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}: {}", r.body);
    }

    // The new user signs in.
    let client = add_client(&app, &[]);
    let tokens = user_tokens(&app, &client).await;
    let access = s(&tokens, "access_token").to_owned();
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::OK);

    // Read and list with paging by username.
    let r = a.get(&app, &format!("/admin/api/users/{id}")).await;
    assert_eq!((r.status, r.body["name"].as_str()), (StatusCode::OK, Some("Alice")));
    for name in ["bob", "carol"] {
        let body = json!({ "username": name, "password": PASSWORD });
        assert_eq!(a.send(&app, Method::POST, "/admin/api/users", &body).await.status, StatusCode::CREATED);
    }
    let first = a.get(&app, "/admin/api/users?limit=2").await;
    assert_eq!(
        (ids(&first.body, "username"), first.body["next"].as_str()),
        (vec!["alice".into(), "bob".into()], Some("bob"))
    );
    let second = a.get(&app, "/admin/api/users?limit=2&after=bob").await;
    assert_eq!((ids(&second.body, "username"), &second.body["next"]), (vec!["carol".to_owned()], &Value::Null));
    let r = a.get(&app, "/admin/api/users?limit=500").await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"));

    // Change: absent fields stay, null removes, a new password is stored hashed.
    let path = format!("/admin/api/users/{id}");
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email": "a@example.org", "name": null })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["email"].as_str(), &r.body["name"], r.body["disabled"].as_bool()),
        (Some("a@example.org"), &Value::Null, Some(false))
    );
    let r = a.send(&app, Method::PATCH, &path, &json!({ "disabled": true })).await;
    assert_eq!((r.body["disabled"].as_bool(), r.body["email"].as_str()), (Some(true), Some("a@example.org")));
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::UNAUTHORIZED, "disabled users' tokens stop working");
    let r = a.send(&app, Method::PATCH, &path, &json!({ "disabled": false, "password": "a new passphrase" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::UNAUTHORIZED, "enabling brings no token back");
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let (_, hash) = store.user_by_username(&Username::parse("alice").unwrap()).await.unwrap().unwrap();
    assert!(password_matches("a new passphrase", &hash));
    let r = a.send(&app, Method::PATCH, &path, &json!({ "password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::OK);
    for bad in [json!({ "password": "short" }), json!({ "username": "eve" }), json!({ "disabled": "yes" })] {
        let r = a.send(&app, Method::PATCH, &path, &bad).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}: {}", r.body);
    }

    // Sign out everywhere.
    let tokens = user_tokens(&app, &client).await;
    let access = s(&tokens, "access_token").to_owned();
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::OK);
    let r = a.post(&app, &format!("{path}/revoke")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["revoked"].as_bool(), r.body["sessions_ended"].as_u64()), (Some(true), Some(1)));
    assert_eq!(userinfo_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    let tokens = user_tokens(&app, &client).await;
    assert_eq!(userinfo_status(&app, s(&tokens, "access_token")).await, StatusCode::OK, "signed in after");

    // Delete: 204, then 404; the CLI no longer lists the user.
    let r = a.delete(&app, &path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = a.get(&app, &path).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(a.delete(&app, &path).await.status, StatusCode::NOT_FOUND);
    let list = app.cli_json(&["users", "list"], None);
    assert!(!list.to_string().contains("\"alice\""), "{list}");

    let kinds = audit_kinds(&app, &a, &format!("?user={id}")).await;
    for kind in ["admin_user_deleted", "admin_user_created", "admin_user_updated", "user_tokens_revoked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let r = a.get(&app, &format!("/admin/api/audit?user={id}")).await;
    let updates: Vec<&Value> =
        r.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "admin_user_updated").collect();
    assert!(updates.iter().any(|e| e["details"]["changed"] == json!(["disabled", "password"])), "{updates:?}");
    // A disable and an enable say which they were.
    for disabled in [true, false] {
        assert!(
            updates.iter().any(|e| e["details"] == json!({ "changed": ["disabled"], "disabled": disabled })
                || e["details"]
                    == json!({ "changed": ["disabled", "password"], "disabled": disabled, "temporary": false })),
            "{disabled}: {updates:?}"
        );
    }
});

// An operator vouches for an address at creation or later, as `tessera users add --email-verified` does; a changed
// address is unverified unless they say otherwise, and no user is verified without one.
both_backends!(an_operator_says_whose_address_it_is, async |app| {
    let a = admin(&app).await;
    let body =
        json!({ "username": "alice", "password": PASSWORD, "email": "alice@example.com", "email_verified": true });
    let r = a.send(&app, Method::POST, "/admin/api/users", &body).await;
    assert_eq!((r.status, r.body["email_verified"].as_bool()), (StatusCode::CREATED, Some(true)), "{}", r.body);
    let id = s(&r.body, "id").to_owned();
    let path = format!("/admin/api/users/{id}");
    let client = add_client(&app, &[]);
    let tokens = user_tokens(&app, &client).await;
    let info = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&tokens, "access_token")).send().await.unwrap();
    let info: Value = info.json().await.unwrap();
    assert_eq!((info["email"].as_str(), info["email_verified"].as_bool()), (Some("alice@example.com"), Some(true)));

    let bare = json!({ "username": "bob", "password": PASSWORD, "email_verified": true });
    let r = a.send(&app, Method::POST, "/admin/api/users", &bare).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.body);
    assert!(s(&r.body, "error_description").contains("email_verified"), "{}", r.body);

    let verified = |r: &Reply| (r.status, r.body["email"].clone(), r.body["email_verified"].clone());
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email": "a@example.org" })).await;
    assert_eq!(verified(&r), (StatusCode::OK, json!("a@example.org"), json!(false)), "a new address is unverified");
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email_verified": true })).await;
    assert_eq!(verified(&r), (StatusCode::OK, json!("a@example.org"), json!(true)));
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email": "b@example.org", "email_verified": true })).await;
    assert_eq!(verified(&r), (StatusCode::OK, json!("b@example.org"), json!(true)));
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email_verified": false })).await;
    assert_eq!(verified(&r), (StatusCode::OK, json!("b@example.org"), json!(false)));
    for bad in [json!({ "email": null, "email_verified": true }), json!({ "email_verified": "yes" })] {
        let r = a.send(&app, Method::PATCH, &path, &bad).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}: {}", r.body);
    }
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email": null })).await;
    assert_eq!(verified(&r), (StatusCode::OK, Value::Null, json!(false)));
    let r = a.send(&app, Method::PATCH, &path, &json!({ "email_verified": true })).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.body);

    let r = a.get(&app, &format!("/admin/api/audit?user={id}")).await;
    let details: Vec<&Value> = r.body["items"].as_array().unwrap().iter().map(|e| &e["details"]).collect();
    assert!(
        details.iter().any(|d| d["email_verified"] == json!(true) && d["username"] == json!("alice")),
        "{details:?}"
    );
    assert!(
        details.contains(&&json!({ "changed": ["email", "email_verified"], "email_verified": true })),
        "{details:?}"
    );
    assert!(details.contains(&&json!({ "changed": ["email_verified"], "email_verified": false })), "{details:?}");
});

// Regression: usernames and display names refused control characters only, so an account could be created or
// renamed with a bidi control or an invisible character and show on the pages as another. An account stored
// before the rule still signs in.
both_backends!(user_names_hold_no_invisible_character, async |app| {
    let a = admin(&app).await;
    for (body, field) in [
        (json!({ "username": "\u{202e}nimda", "password": PASSWORD }), "username"),
        (json!({ "username": "ali\u{200b}ce", "password": PASSWORD }), "username"),
        (json!({ "username": "ali\u{200d}ce", "password": PASSWORD }), "username"),
        (json!({ "username": "alice", "password": PASSWORD, "name": "Alice \u{2067}" }), "name"),
        (json!({ "username": "alice", "password": PASSWORD, "name": "Ali\u{200d}ce" }), "name"),
    ] {
        let r = a.send(&app, Method::POST, "/admin/api/users", &body).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}: {}", r.body);
        let why = s(&r.body, "error_description");
        assert!(why.contains(field) && why.contains("invisible"), "{body}: {why}");
    }
    let persian = "\u{0645}\u{06cc}\u{200c}\u{062e}\u{0648}\u{0627}\u{0647}\u{0645}";
    let body = json!({ "username": "alice", "password": PASSWORD, "name": persian });
    let r = a.send(&app, Method::POST, "/admin/api/users", &body).await;
    assert_eq!((r.status, r.body["name"].as_str()), (StatusCode::CREATED, Some(persian)), "{}", r.body);
    let path = format!("/admin/api/users/{}", s(&r.body, "id"));
    let r = a.send(&app, Method::PATCH, &path, &json!({ "name": "Bob \u{202e}" })).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.body);
    assert!(s(&r.body, "error_description").contains("invisible"), "{}", r.body);
    assert_eq!(a.get(&app, &path).await.body["name"].as_str(), Some(persian));

    // A row stored before the rule still loads and signs in.
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let (alice, hash) = store.user_by_username(&Username::parse("alice").unwrap()).await.unwrap().unwrap();
    let old = tessera::domain::NewUser {
        id: tessera::domain::UserId::generate(),
        username: Username::parse("ali\u{200b}ce").unwrap(),
        password_hash: hash,
        email: None,
        email_verified: false,
        name: Some("Ali\u{200b}ce".into()),
        password_change_required: false,
        created_at: alice.created_at,
    };
    store.create_user(old).await.unwrap();
    let r = a.get(&app, "/admin/api/users").await;
    assert!(ids(&r.body, "username").contains(&"ali\u{200b}ce".to_owned()), "{}", r.body);
    let client = add_client(&app, &[]);
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, s(&client, "client_id"), &challenge, "");
    let back = browse_as(&app, "ali\u{200b}ce", &url, Some("allow")).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
});

// Regression: "bob" and "BOB" could be two accounts, each able to pass for the other on the consent and account
// pages. Whichever creates it, a username that folds to a stored one is taken.
both_backends!(usernames_that_differ_only_in_case_are_taken, async |app| {
    let a = admin(&app).await;
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(PASSWORD));
    let args = ["users", "add", "BOB", "--password-stdin"];
    let err = assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
    assert!(err.contains("BOB") && err.contains("already exists"), "{err}");
    for taken in ["BOB", "Bob"] {
        let r =
            a.send(&app, Method::POST, "/admin/api/users", &json!({ "username": taken, "password": PASSWORD })).await;
        assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, "conflict"), "{}", r.body);
        assert!(s(&r.body, "error_description").contains("any letter case"), "{}", r.body);
    }
    let r = a.send(&app, Method::POST, "/admin/api/users", &json!({ "username": "Carol", "password": PASSWORD })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let args = ["users", "add", "carol", "--password-stdin"];
    assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
    let names: BTreeSet<_> = ids(&a.get(&app, "/admin/api/users").await.body, "username").into_iter().collect();
    assert_eq!(names, BTreeSet::from(["Carol".to_owned(), "bob".to_owned()]));
});

// Regression: a name given with "e" and a combining accent was stored so, beside the same name with a composed
// "é"; and a password given in one form did not sign in typed in the other. The name is now kept composed, and
// either form of it or of the password signs in.
both_backends!(users_are_kept_and_matched_in_either_unicode_form, async |app| {
    let a = admin(&app).await;
    let body = json!({ "username": "Rene\u{301}e", "password": DECOMPOSED_PASSWORD });
    let r = a.send(&app, Method::POST, "/admin/api/users", &body).await;
    assert_eq!((r.status, s(&r.body, "username")), (StatusCode::CREATED, "Ren\u{e9}e"), "{}", r.body);
    let path = format!("/admin/api/users/{}", s(&r.body, "id"));
    for taken in ["Ren\u{e9}e", "RENE\u{301}E"] {
        let r =
            a.send(&app, Method::POST, "/admin/api/users", &json!({ "username": taken, "password": PASSWORD })).await;
        assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, "conflict"), "{taken:?}: {}", r.body);
    }
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id");
    assert!(signs_in(&app, id, "Ren\u{e9}e", COMPOSED_PASSWORD).await);
    let r = a.send(&app, Method::PATCH, &path, &json!({ "password": COMPOSED_PASSWORD })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(signs_in(&app, id, "rene\u{301}e", DECOMPOSED_PASSWORD).await);
});

both_backends!(clients_have_an_application_type, async |app| {
    let a = admin(&app).await;
    let body = json!({ "client_name": "Phone app", "token_endpoint_auth_method": "none",
                       "redirect_uris": ["com.example.app:/cb"] });
    // Without it, the redirect URIs decide: a private-use scheme only reaches an app on the user's device.
    let r = a.send(&app, Method::POST, "/admin/api/clients", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["application_type"], "native");
    let id = s(&r.body, "client_id").to_owned();
    // What GET returns goes back, and the operator may choose either type.
    let mut edited = a.get(&app, &format!("/admin/api/clients/{id}")).await.body;
    assert_eq!(edited["application_type"], "native");
    edited["application_type"] = json!("web");
    let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{id}"), &edited).await;
    assert_eq!((r.status, &r.body["application_type"]), (StatusCode::OK, &json!("web")), "{}", r.body);
    assert_eq!(app.cli_json(&["clients", "show", &id], None)["application_type"], "web");

    edited["application_type"] = json!("desktop");
    let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{id}"), &edited).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.body);
    assert!(s(&r.body, "error_description").contains("application_type"), "{}", r.body);
});

both_backends!(refusals, async |app| {
    let a = admin(&app).await;
    let user_path = format!("/admin/api/users/{}", tessera::domain::UserId::generate().as_str());

    // No token: a bare challenge, on every admin route.
    for &(method, path) in ADMIN_ROUTES {
        let path = path.replace("{client_id}", &a.id).replace("{user_id}", "u");
        let r = call(&app, Method::from_bytes(method.as_bytes()).unwrap(), &path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(r.challenge(), "Bearer realm=\"tessera\"", "{method} {path}");
        assert_eq!(r.body, Value::Null);
    }
    // Another scheme is no bearer token at all: the bare challenge too (RFC 6750 §3.1).
    let r = app.api_client.get(app.url("/admin/api/clients")).basic_auth(&a.id, Some(&a.secret)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tessera\"");

    // Garbage, an ID token, and a revoked admin token: 401 invalid_token.
    let r = call(&app, Method::GET, "/admin/api/clients", Some("not.a.token"), None).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    assert!(r.challenge().starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""), "{}", r.challenge());
    let (_, revoked) = client_credentials(&app, &a.id, &a.secret, "tessera:admin").await;
    let revoked = s(&revoked, "access_token").to_owned();
    assert_eq!(call(&app, Method::GET, "/admin/api/clients", Some(&revoked), None).await.status, StatusCode::OK);
    let r = app
        .api_client
        .post(app.url("/revoke"))
        .basic_auth(&a.id, Some(&a.secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(&app, Method::GET, "/admin/api/clients", Some(&revoked), None).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    assert_eq!(a.get(&app, "/admin/api/clients").await.status, StatusCode::OK, "other admin tokens still work");

    // A user's access token from a code flow, and a non-admin client's token: 403 insufficient_scope.
    app.cli_json(&["users", "add", "alice", "--password-stdin"], Some(PASSWORD));
    let tokens = user_tokens(&app, &add_client(&app, &[])).await;
    let id_token = s(&tokens, "id_token");
    let r = call(&app, Method::GET, "/admin/api/users", Some(id_token), None).await;
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "an ID token is not an access token"
    );
    let r = call(&app, Method::GET, "/admin/api/users", Some(s(&tokens, "access_token")), None).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    assert!(r.challenge().contains("error=\"insufficient_scope\""), "{}", r.challenge());
    let svc = app
        .cli_json(&["clients", "add", "--name", "Svc", "--grant-type", "client_credentials", "--scope", "read"], None);
    let (status, body) = client_credentials(&app, s(&svc, "client_id"), s(&svc, "client_secret"), "read").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = call(&app, Method::POST, "/admin/api/users", Some(s(&body, "access_token")), Some(&json!({}))).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "insufficient_scope"), "checked before the body");
    // Regression: each refusal added a row, so any token's holder could fill the audit trail.
    for _ in 0..3 {
        let r = call(&app, Method::GET, "/admin/api/users", Some(s(&body, "access_token")), None).await;
        assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    }
    let (status, body) =
        client_credentials(&app, s(&svc, "client_id"), s(&svc, "client_secret"), "tessera:admin").await;
    assert_eq!((status, s(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"));
    // A refusal of a live token is in the audit trail once per token, naming the client that tried (and the user).
    let r = a.get(&app, &format!("/admin/api/audit?client={}", s(&svc, "client_id"))).await;
    let refused: Vec<&Value> =
        r.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "admin_refused").collect();
    assert_eq!(refused.len(), 1, "{}", r.body);
    assert_eq!(refused[0]["actor"], s(&svc, "client_id"));
    assert!(refused[0]["details"]["reason"].as_str().unwrap().contains("lacks the tessera:admin scope"));
    let r = a.get(&app, "/admin/api/audit").await;
    let by_user =
        r.body["items"].as_array().unwrap().iter().find(|e| e["kind"] == "admin_refused" && !e["user_id"].is_null());
    assert!(by_user.is_some(), "{}", r.body);

    // Bodies: malformed JSON, another media type, too large.
    let r = app
        .api_client
        .post(app.url("/admin/api/users"))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = app
        .api_client
        .post(app.url("/admin/api/users"))
        .bearer_auth(&a.token)
        .form(&[("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let long_lived = json!({
        "client_name": "Long", "grant_types": ["client_credentials"], "scope": "read", "access_token_ttl": 601,
    });
    let r = a.send(&app, Method::POST, "/admin/api/clients", &long_lived).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "above the ceiling");
    assert!(s(&r.body, "error_description").contains("tokens.max_access_token_ttl_seconds"), "{}", r.body);
    let huge = json!({ "client_name": "x".repeat(70 * 1024) });
    let r = a.send(&app, Method::POST, "/admin/api/clients", &huge).await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(s(&r.body, "error_description").contains("larger"), "{}", r.body);
    for query in ["limit=0", "limit=x", "after=a%20b"] {
        let r = a.get(&app, &format!("/admin/api/clients?{query}")).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{query}");
    }
    let r = a.get(&app, "/admin/api/audit?since=yesterday").await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "invalid_request"));

    // Unknown ids: 404 JSON.
    for path in ["/admin/api/clients/nope", "/admin/api/clients/nope/revoke-tokens", user_path.as_str()] {
        let r = if path.ends_with("tokens") { a.post(&app, path).await } else { a.get(&app, path).await };
        assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let r = a.send(&app, Method::PATCH, &user_path, &json!({ "disabled": true })).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "not_found"));
    let r = a.send(&app, Method::PUT, "/admin/api/clients/nope", &json!({ "client_name": "x" })).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "not_found"));

    // A client that stops being an admin client loses the API, with the token it already has.
    let mut me = a.get(&app, &format!("/admin/api/clients/{}", a.id)).await.body;
    me["admin"] = json!(false);
    me["scope"] = json!("openid");
    let r = a.send(&app, Method::PUT, &format!("/admin/api/clients/{}", a.id), &me).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a.get(&app, "/admin/api/clients").await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "insufficient_scope"));
});

// tessera:admin is the admin client's own: a user's sign-in at that client never yields it, and a token that
// names a user is refused even when it carries the scope (as one refreshed from a grant made before /authorize
// refused the scope would).
// A sign-in page left open while the client's registration changes ends by the registration as it is now: no
// code for a redirect URI removed meanwhile (our error page, never a redirect there), nor for a scope withdrawn.
both_backends!(a_pending_sign_in_ends_by_the_client_as_it_is_now, async |app| {
    let a = admin(&app).await;
    add_alice(&app);
    let client = add_client(&app, &["--first-party", "--scope", "openid profile email"]);
    let path = format!("/admin/api/clients/{}", s(&client, "client_id"));
    let registered = a.get(&app, &path).await.body;
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, s(&client, "client_id"), &challenge, "");
    let sign_in_after = async |change: Value| {
        // A browser of its own each time: a session would skip the login page.
        let c =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
        let r = a.send(&app, Method::PUT, &path, &registered).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let to_login = c.get(&url).send().await.unwrap();
        let html = c.get(app.url(&location(&to_login))).send().await.unwrap().text().await.unwrap();
        let r = a.send(&app, Method::PUT, &path, &change).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let form = [
            ("interaction", hidden(&html, "interaction")),
            ("csrf", hidden(&html, "csrf")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap()
    };

    let mut moved = registered.clone();
    moved["redirect_uris"] = json!(["https://app.example/elsewhere"]);
    let r = sign_in_after(moved).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{:?}", r.headers().get("location"));
    assert!(r.text().await.unwrap().contains("no longer registered"));

    let mut narrowed = registered.clone();
    narrowed["scope"] = json!("openid profile");
    let r = sign_in_after(narrowed).await;
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("invalid_scope"), "{back}");

    // As registered, the same request ends in a code.
    let r = sign_in_after(registered.clone()).await;
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
});

// Regression: "Deny" on a consent page left open sent the browser to a redirect URI removed from the registration
// meanwhile, or to a deleted client's, where "Allow" showed our error page.
both_backends!(a_refusal_goes_back_by_the_registration_as_it_is_now, async |app| {
    let a = admin(&app).await;
    add_alice(&app);
    let deny_on_a_page_left_open = async |delete_the_client: bool| {
        let client = add_client(&app, &[]);
        let path = format!("/admin/api/clients/{}", s(&client, "client_id"));
        let (challenge, _) = pkce_pair();
        let html = consent_page(&app, &auth_url(&app, s(&client, "client_id"), &challenge, "")).await;
        let r = if delete_the_client {
            a.delete(&app, &path).await
        } else {
            let mut moved = a.get(&app, &path).await.body;
            moved["redirect_uris"] = json!(["https://app.example/elsewhere"]);
            a.send(&app, Method::PUT, &path, &moved).await
        };
        assert!(r.status.is_success(), "{}", r.body);
        let form = [
            ("interaction", hidden(&html, "interaction")),
            ("csrf", hidden(&html, "csrf")),
            ("decision", "deny".to_owned()),
        ];
        let r = app.api_client.post(app.url("/consent")).header("Origin", &app.address).form(&form).send().await;
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{:?}", r.headers().get("location"));
        r.text().await.unwrap()
    };
    assert!(deny_on_a_page_left_open(false).await.contains("no longer registered"));
    assert!(deny_on_a_page_left_open(true).await.contains("no longer exists"));
});

both_backends!(users_never_get_the_admin_scope, async |app| {
    let alice = app.cli_json(&["users", "add", "alice", "--password-stdin"], Some(PASSWORD));
    let grants = ["--grant-type", "authorization_code", "--grant-type", "refresh_token"];
    let client = add_client(&app, &[&grants[..], &["--grant-type", "client_credentials", "--admin"]].concat());
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));

    // /authorize: refused with invalid_scope, back at the verified redirect URI, before anyone signs in.
    let (challenge, _) = pkce_pair();
    let url =
        auth_url(&app, id, &challenge, "").replace("scope=openid%20profile%20email", "scope=openid%20tessera:admin");
    let r = app.api_client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&r));
    assert_eq!((q.get("error").map(String::as_str), q.get("code")), (Some("invalid_scope"), None), "{q:?}");
    assert_eq!(q.get("state").map(String::as_str), Some("st"));

    // A live user token of the admin client, given the scope and signed by the server's own key.
    let tokens = user_tokens(&app, &client).await;
    let (_store, ring) = app.open_key_ring().await;
    let (mut payload, header) = ring.snapshot().verify(s(&tokens, "access_token")).unwrap();
    assert_eq!(payload.subject(), Some(s(&alice, "id")));
    payload.set_claim("scope", Some(json!("openid tessera:admin"))).unwrap();
    let user_admin = ring.snapshot().sign(&payload, header.token_type().unwrap(), tessera::domain::now()).unwrap();
    let r = call(&app, Method::GET, "/admin/api/users", Some(&user_admin), None).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "insufficient_scope"), "{}", r.body);
    assert!(r.challenge().contains("error=\"insufficient_scope\""), "{}", r.challenge());

    // The client itself still gets and uses the scope.
    let (status, body) = client_credentials(&app, id, secret, "tessera:admin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = call(&app, Method::GET, "/admin/api/users", Some(s(&body, "access_token")), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
});

/// `docs/openapi.json`: every (method, path) it describes, in upper case.
fn documented_routes() -> (Value, BTreeSet<(String, String)>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json")).expect("JSON");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    (doc, routes)
}

both_backends!(openapi_describes_the_admin_routes, async |app| {
    let (doc, documented) = documented_routes();
    let served: BTreeSet<(String, String)> =
        ADMIN_ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, served, "docs/openapi.json and the admin routes differ");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let scheme = &doc["components"]["securitySchemes"]["adminToken"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")));
    assert_eq!(doc["security"], json!([{ "adminToken": [] }]));
    assert_eq!(doc["components"]["schemas"]["Error"]["required"], json!(["error", "error_description"]));
    // Every `$ref` resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", &r[..r.find('"').unwrap()]);
        assert!(doc.pointer(&pointer).is_some(), "unresolved $ref {pointer}");
    }

    // The server answers exactly those: each with the bearer challenge, and the other methods on the same
    // paths not at all.
    let paths: BTreeSet<&str> = ADMIN_ROUTES.iter().map(|(_, p)| *p).collect();
    for path in paths {
        let concrete = path.replace("{client_id}", "c").replace("{user_id}", "u");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let r = app
                .api_client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let answered = r.status() == StatusCode::UNAUTHORIZED;
            let listed = documented.contains(&(method.to_owned(), path.to_owned()));
            assert_eq!(answered, listed, "{method} {path}: {}", r.status());
        }
    }
});
