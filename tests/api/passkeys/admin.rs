//! Operators list a user's passkeys and remove one (a lost device): `GET /admin/api/users/{id}/passkeys`,
//! `DELETE /admin/api/users/{id}/passkeys/{passkey_id}` and `tessera users passkeys [--remove]`, never showing the
//! credential; each removal audited as `passkey_removed` with its actor.
use super::*;
use crate::signin::token_basic;
use reqwest::Method;

/// A `tessera:admin` token of a new admin client: the client id and the token.
async fn admin_token(app: &TestApp) -> (String, String) {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (status, body) = token_basic(app, s(&c, "client_id"), s(&c, "client_secret"), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (s(&c, "client_id").to_owned(), s(&body, "access_token").to_owned())
}

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.api_client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

on_localhost!(operators_list_and_remove_a_users_passkeys, async |app| {
    let (mut key, b) = alice_with_a_passkey(&app).await;
    let alice = s(&app.cli_json(&["users", "list"], None)["users"][0], "id").to_owned();
    let bob = app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(crate::signin::PASSWORD));
    let (admin_id, token) = admin_token(&app).await;
    let path = format!("/admin/api/users/{alice}/passkeys");

    // Listed as the account page lists them: never the credential.
    let (status, list) = call(&app, Method::GET, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let mut fields: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["created_at", "id", "last_used_at", "name"], "{list}");
    assert_eq!((&items[0]["name"], &items[0]["last_used_at"]), (&Value::from("Laptop"), &Value::Null));
    let id = s(&items[0], "id").to_owned();
    let page = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert_eq!(hidden(&page, "passkey"), id, "the id the account page names");
    // Its use shows.
    let c = other_browser();
    let html = account_login_page(&app, &c).await;
    assert_eq!(sign_in_with(&app, &c, &html, &mut key).await.status(), StatusCode::SEE_OTHER);
    let (_, list) = call(&app, Method::GET, &path, Some(&token)).await;
    assert!(list["items"][0]["last_used_at"].as_i64().is_some_and(|t| t > 0), "{list}");
    // The command line lists the same.
    let cli = app.cli_json(&["users", "passkeys", "alice"], None);
    assert_eq!(cli["passkeys"], list["items"], "{cli}");
    let out = app.cli(&["users", "passkeys", "alice"], None);
    assert_success(&out, &["users", "passkeys", "alice"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&id) && text.contains("Laptop") && text.contains("last used 20"), "{text}");
    let out = app.cli(&["users", "passkeys", "bob"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("bob has no passkey"));

    // 404 for an unknown user, for a passkey the user does not have, and for another user's.
    let bob_path = format!("/admin/api/users/{}/passkeys", s(&bob, "id"));
    let (status, body) = call(&app, Method::GET, "/admin/api/users/nobody/passkeys", Some(&token)).await;
    assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &Value::from("not_found")), "{body}");
    assert_eq!(call(&app, Method::GET, &bob_path, Some(&token)).await.1["items"], serde_json::json!([]));
    for (what, path) in [
        ("unknown user", format!("/admin/api/users/nobody/passkeys/{id}")),
        ("unknown passkey", format!("{path}/none")),
        ("another user's", format!("{bob_path}/{id}")),
    ] {
        let (status, body) = call(&app, Method::DELETE, &path, Some(&token)).await;
        assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &Value::from("not_found")), "{what}: {body}");
    }
    assert_eq!(call(&app, Method::GET, &path, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, Method::DELETE, &format!("{path}/{id}"), None).await.0, StatusCode::UNAUTHORIZED);
    assert!(events(&app, "passkey_removed").is_empty(), "nothing removed yet");

    // Removed, by the admin client: it signs in no more.
    let (status, _) = call(&app, Method::DELETE, &format!("{path}/{id}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let removed = &events(&app, "passkey_removed")[0];
    assert_eq!((s(removed, "actor"), s(removed, "user_id")), (admin_id.as_str(), alice.as_str()), "{removed}");
    assert_eq!(
        (&removed["details"]["passkey"], &removed["details"]["name"]),
        (&Value::from(id.as_str()), &"Laptop".into())
    );
    assert_eq!(call(&app, Method::GET, &path, Some(&token)).await.1["items"], serde_json::json!([]));
    let c = other_browser();
    let html = account_login_page(&app, &c).await;
    assert_refused(sign_in_with(&app, &c, &html, &mut key).await).await;
    assert_eq!(call(&app, Method::DELETE, &format!("{path}/{id}"), Some(&token)).await.0, StatusCode::NOT_FOUND);

    // And from the command line, by `cli`.
    add_passkey(&app, &b, "Phone").await;
    let id = s(&app.cli_json(&["users", "passkeys", "alice"], None)["passkeys"][0], "id").to_owned();
    let args = ["users", "passkeys", "alice", "--remove", "none"];
    assert!(assert_failure(&app.cli(&args, None), &args).contains("has no passkey none"));
    let shown = app.cli_json(&["users", "passkeys", "alice", "--remove", &id], None);
    assert_eq!((&shown["removed"]["name"], &shown["can_sign_in"]), (&Value::from("Phone"), &Value::from(true)));
    let removed = &events(&app, "passkey_removed")[0];
    assert_eq!((s(removed, "actor"), &removed["details"]["passkey"]), ("cli", &Value::from(id.as_str())));
    assert!(app.cli_json(&["users", "passkeys", "alice"], None)["passkeys"].as_array().unwrap().is_empty());
    let args = ["users", "passkeys", "nobody"];
    assert!(assert_failure(&app.cli(&args, None), &args).contains("no user named nobody"));
});
