//! Operators see the apps a user approved (`GET /admin/api/users/{id}/consents`, `tessera users consents`) and
//! withdraw them (`DELETE /admin/api/users/{id}/consents[/{client_id}]`, `--revoke`, `--revoke-all`) as the
//! account page's "Remove access" does.
use crate::account::{authorize_url, connected_app};
use crate::admin_sessions::call;
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, browse, introspect_basic, location, pkce_pair, query_of, redeem_code, token_basic,
    urlencode,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A new admin client's id and a `tessera:admin` access token of it.
async fn admin(app: &TestApp) -> (String, String) {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, token) = token_basic(app, s(&c, "client_id"), s(&c, "client_secret"), &form).await;
    (s(&c, "client_id").to_owned(), s(&token, "access_token").to_owned())
}

fn client_ids(items: &Value) -> Vec<&str> {
    items.as_array().unwrap().iter().map(|i| s(i, "client_id")).collect()
}

/// Whether `refresh_token` of the client is refused as `invalid_grant`.
async fn refresh_refused(app: &TestApp, id: &str, secret: &str, refresh_token: &str) -> bool {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let (status, body) = token_basic(app, id, secret, &form).await;
    (status, body["error"].as_str()) == (StatusCode::BAD_REQUEST, Some("invalid_grant"))
}

/// The `account_app_revoked` events of a user, oldest first.
fn app_revocations(app: &TestApp, user_id: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    let mut found: Vec<Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "account_app_revoked").cloned().collect();
    found.reverse();
    found
}

both_backends!(operators_list_a_users_consents_and_revoke_one, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    // An app alice approved through the real flow, with a claim asked for by name, and another app.
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let (challenge, verifier) = pkce_pair();
    let claims = urlencode(r#"{"id_token":{"email":{"essential":true}}}"#);
    let back = browse(&app, &auth_url(&app, id, &challenge, &format!("&claims={claims}")), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (other, other_secret, other_tokens) = connected_app(&app, "openid offline_access").await;

    let (admin_id, token) = admin(&app).await;
    let path = format!("/admin/api/users/{alice_id}/consents");
    let (status, list) = call(&app, Some(&token), Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut listed = client_ids(&list["items"]);
    listed.sort_unstable();
    let mut both = vec![id, other.as_str()];
    both.sort_unstable();
    assert_eq!(listed, both, "{list}");
    let item = list["items"].as_array().unwrap().iter().find(|i| i["client_id"] == id).unwrap();
    assert_eq!(item["client_name"], "Test App", "{item}");
    assert_eq!(item["scopes"], json!(["email", "openid", "profile"]), "{item}");
    assert_eq!(item["claims"], json!(["email"]), "the claim granted by name: {item}");
    assert_eq!(
        (&item["consented"], &item["offline"], &item["live_refresh_tokens"]),
        (&json!(true), &json!(false), &json!(true))
    );
    let (granted, updated) = (item["granted_at"].as_i64().unwrap(), item["updated_at"].as_i64().unwrap());
    assert!(granted > 0 && granted <= updated, "{item}");
    let offline = list["items"].as_array().unwrap().iter().find(|i| i["client_id"] == other.as_str()).unwrap();
    assert_eq!(offline["offline"], true, "{offline}");
    // The command line lists the same.
    let cli = app.cli_json(&["users", "consents", "alice"], None);
    assert_eq!(cli["consents"], list["items"], "{cli}");
    let out = app.cli(&["users", "consents", "alice"], None);
    assert_success(&out, &["users", "consents", "alice"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("Test App  scopes: email openid profile  claims: email  granted "), "{line}");
    assert!(line.ends_with("(live refresh tokens)") && !line.contains("offline"), "{line}");
    assert_failure(&app.cli(&["users", "consents", "nobody"], None), &["users", "consents", "nobody"]);

    // Admin authentication as every admin route; unknown users and apps not approved are 404.
    let one = format!("{path}/{id}");
    for (method, path) in [(Method::GET, &path), (Method::DELETE, &one), (Method::DELETE, &path)] {
        assert_eq!(call(&app, None, method.clone(), path).await.0, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(call(&app, Some("not-a-token"), method, path).await.0, StatusCode::UNAUTHORIZED);
    }
    let nobody = "/admin/api/users/00000000-0000-0000-0000-000000000000/consents";
    for (method, path) in [(Method::GET, nobody.to_owned()), (Method::DELETE, format!("{nobody}/{id}"))] {
        let (status, body) = call(&app, Some(&token), method, &path).await;
        assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &json!("not_found")), "{path}");
    }
    assert_eq!(call(&app, Some(&token), Method::DELETE, nobody).await.0, StatusCode::NOT_FOUND);
    let not_approved = format!("{path}/{admin_id}");
    assert_eq!(call(&app, Some(&token), Method::DELETE, &not_approved).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Some(&token), Method::DELETE, &format!("{path}/no%20such")).await.0, StatusCode::NOT_FOUND);
    let bob = app.cli_json(&["users", "add", "bob", "--password-stdin"], Some("bob's password\n"));
    let bobs = format!("/admin/api/users/{}/consents/{id}", s(&bob, "id"));
    assert_eq!(call(&app, Some(&token), Method::DELETE, &bobs).await.0, StatusCode::NOT_FOUND, "not bob's");

    // Revoking one: its tokens end, the other app keeps its own, and the next authorization asks again.
    let (status, body) = call(&app, Some(&token), Method::DELETE, &one).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(refresh_refused(&app, id, secret, s(&tokens, "refresh_token")).await);
    assert_eq!(introspect_basic(&app, id, secret, s(&tokens, "access_token")).await["active"], false);
    assert_eq!(introspect_basic(&app, &other, &other_secret, s(&other_tokens, "access_token")).await["active"], true);
    let (_, list) = call(&app, Some(&token), Method::GET, &path).await;
    assert_eq!(client_ids(&list["items"]), [other.as_str()], "{list}");
    assert_eq!(call(&app, Some(&token), Method::DELETE, &one).await.0, StatusCode::NOT_FOUND, "already withdrawn");
    let (challenge, _) = pkce_pair();
    let r = app.api_client.get(authorize_url(&app, id, &challenge, "openid profile")).send().await.unwrap();
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));
    // Audited as the account page's removal is, with the admin client acting.
    let events = app_revocations(&app, alice_id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((&events[0]["actor"], &events[0]["client_id"]), (&json!(admin_id), &json!(id)));
    assert_eq!((&events[0]["details"]["consent"], &events[0]["details"]["by"]), (&json!(true), &json!("admin")));
});

both_backends!(operators_revoke_every_app_of_a_user, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    let (a, a_secret, a_tokens) = connected_app(&app, "openid offline_access").await;
    let (b, b_secret, b_tokens) = connected_app(&app, "openid").await;
    // A first-party app is not asked: it has live tokens and no consent, and is listed and revoked all the same.
    let first = add_client(&app, &["--first-party"]);
    let (f, f_secret) = (s(&first, "client_id"), s(&first, "client_secret"));
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, f, &challenge, ""), None).await;
    let (status, f_tokens) = redeem_code(&app, f, f_secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{f_tokens}");
    let (_, token) = admin(&app).await;
    let path = format!("/admin/api/users/{alice_id}/consents");
    let (_, list) = call(&app, Some(&token), Method::GET, &path).await;
    let item = list["items"].as_array().unwrap().iter().find(|i| i["client_id"] == f).unwrap();
    assert_eq!(
        (&item["consented"], &item["updated_at"], &item["live_refresh_tokens"]),
        (&json!(false), &Value::Null, &json!(true))
    );
    assert!(item["granted_at"].as_i64().unwrap() > 0, "{item}");

    // One from the command line.
    let revoked = app.cli_json(&["users", "consents", "alice", "--revoke", &a], None);
    assert_eq!(revoked["revoked"], json!([a]), "{revoked}");
    assert!(refresh_refused(&app, &a, &a_secret, s(&a_tokens, "refresh_token")).await);
    let form = [("grant_type", "refresh_token"), ("refresh_token", s(&b_tokens, "refresh_token"))];
    let (status, b_tokens) = token_basic(&app, &b, &b_secret, &form).await;
    assert_eq!(status, StatusCode::OK, "another app's stays: {b_tokens}");
    let again = ["users", "consents", "alice", "--revoke", a.as_str()];
    assert!(assert_failure(&app.cli(&again, None), &again).contains("granted nothing"));
    let both = ["users", "consents", "alice", "--revoke", a.as_str(), "--revoke-all"];
    assert_failure(&app.cli(&both, None), &both);
    let events = app_revocations(&app, alice_id);
    assert_eq!((events.len(), &events[0]["actor"], &events[0]["client_id"]), (1, &json!("cli"), &json!(a)));
    assert_eq!(events[0]["details"]["by"], "admin", "{events:?}");

    // The rest through the admin API.
    let (status, body) = call(&app, Some(&token), Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, list) = call(&app, Some(&token), Method::GET, &path).await;
    assert_eq!(list["items"], json!([]), "{list}");
    assert!(refresh_refused(&app, &b, &b_secret, s(&b_tokens, "refresh_token")).await);
    assert!(refresh_refused(&app, f, f_secret, s(&f_tokens, "refresh_token")).await);
    assert_eq!(introspect_basic(&app, f, f_secret, s(&f_tokens, "access_token")).await["active"], false);
    let mut withdrawn: Vec<String> =
        app_revocations(&app, alice_id).iter().skip(1).map(|e| s(e, "client_id").to_owned()).collect();
    withdrawn.sort_unstable();
    let mut expected = vec![b.clone(), f.to_owned()];
    expected.sort_unstable();
    assert_eq!(withdrawn, expected);
    // Nothing left is no error.
    let none = app.cli_json(&["users", "consents", "alice", "--revoke-all"], None);
    assert_eq!(none["revoked"], json!([]), "{none}");
    assert_eq!(call(&app, Some(&token), Method::DELETE, &path).await.0, StatusCode::NO_CONTENT);
});
