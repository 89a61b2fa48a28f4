//! Operators see a user's live browser sessions (`GET /admin/api/users/{id}/sessions`, `tessera users sessions`)
//! and end one (`DELETE /admin/api/users/{id}/sessions/{session_id}`) as the account page's "End session" does.
use crate::account::{other_browser, sign_in_to_account};
use crate::backchannel_logout::{client, logout_token, Receiver};
use crate::helpers::*;
use crate::signin::{add_alice, auth_url, browse, pkce_pair, query_of, redeem_code, token_basic};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A `tessera:admin` access token of a new admin client.
async fn admin_token(app: &TestApp) -> String {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, token) = token_basic(app, s(&c, "client_id"), s(&c, "client_secret"), &form).await;
    s(&token, "access_token").to_owned()
}

/// An admin API request with `token`, if any: the status and the JSON body (`null` when empty).
pub(crate) async fn call(app: &TestApp, token: Option<&str>, method: Method, path: &str) -> (StatusCode, Value) {
    let mut r = app.api_client.request(method, app.url(path));
    if let Some(token) = token {
        r = r.bearer_auth(token);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn session_ids(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|i| s(i, "id")).collect()
}

both_backends!(operators_list_a_users_sessions_and_end_one, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    let mut rx = Receiver::start().await;
    let (id, secret) = client(&app, &["--backchannel-logout-uri", &rx.url("/bc")]);
    // A session in the test's browser that signed in to the client, and one on the account page of another.
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, &id, &challenge, ""), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, &id, &secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, claims) = verified(&app, s(&tokens, "id_token")).await;
    let sid = s(&claims, "sid").to_owned();
    let other = other_browser();
    sign_in_to_account(&app, &other).await;

    let token = admin_token(&app).await;
    let path = format!("/admin/api/users/{alice_id}/sessions");
    let (status, list) = call(&app, Some(&token), Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    for item in items {
        let clients = if item["id"] == sid.as_str() { serde_json::json!([id]) } else { serde_json::json!([]) };
        assert_eq!(item["clients"], clients, "{list}");
    }
    assert!(items.iter().any(|i| i["id"] == sid.as_str()), "{list}");
    for item in items {
        assert_eq!(item["ip"], "127.0.0.1", "{item}");
        assert_eq!(item["amr"], serde_json::json!(["pwd"]), "{item}");
        assert_eq!(item["idle"], false, "{item}");
        assert!(item["device"].as_str().is_some() && item.get("user_agent").is_some(), "{item}");
        let (created, used, ends) =
            (item["created_at"].as_i64(), item["last_used_at"].as_i64(), item["expires_at"].as_i64());
        assert!(created <= used && used < ends, "{item}");
    }
    // The command line lists the same sessions.
    let cli = app.cli_json(&["users", "sessions", "alice"], None);
    let cli_ids: Vec<&str> = cli["sessions"].as_array().unwrap().iter().map(|i| s(i, "id")).collect();
    assert_eq!(cli_ids, session_ids(&list));
    assert_success(&app.cli(&["users", "sessions", "alice"], None), &["users", "sessions", "alice"]);
    assert_failure(&app.cli(&["users", "sessions", "nobody"], None), &["users", "sessions", "nobody"]);

    // Admin authentication as every admin route; unknown users and sessions are 404.
    assert_eq!(call(&app, None, Method::GET, &path).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, None, Method::DELETE, &format!("{path}/{sid}")).await.0, StatusCode::UNAUTHORIZED);
    let nobody = "/admin/api/users/00000000-0000-0000-0000-000000000000/sessions";
    assert_eq!(call(&app, Some(&token), Method::GET, nobody).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Some(&token), Method::DELETE, &format!("{path}/nope")).await.0, StatusCode::NOT_FOUND);
    let bob = app.cli_json(&["users", "add", "bob", "--password-stdin"], Some("bob's password\n"));
    let bobs = format!("/admin/api/users/{}/sessions/{sid}", s(&bob, "id"));
    assert_eq!(call(&app, Some(&token), Method::DELETE, &bobs).await.0, StatusCode::NOT_FOUND, "not bob's");

    // Ending one: its client is told, its tokens end, the other session stays.
    let (status, body) = call(&app, Some(&token), Method::DELETE, &format!("{path}/{sid}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    logout_token(&app, &rx.next().await, &id, alice_id, sid.as_str()).await;
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&tokens, "access_token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", s(&tokens, "refresh_token"))];
    assert_eq!(token_basic(&app, &id, &secret, &refresh).await.0, StatusCode::BAD_REQUEST);
    let (_, list) = call(&app, Some(&token), Method::GET, &path).await;
    assert_eq!(session_ids(&list).len(), 1, "{list}");
    assert_ne!(session_ids(&list)[0], sid);
    assert_eq!(other.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.api_client.get(app.url("/account")).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(call(&app, Some(&token), Method::DELETE, &format!("{path}/{sid}")).await.0, StatusCode::NOT_FOUND);
    let events = app.cli_json(&["audit", "list", "--user", alice_id], None);
    let ended: Vec<&Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "admin_session_revoked").collect();
    assert_eq!(ended.len(), 1, "{events}");
    assert_eq!(ended[0]["details"]["sid"], sid.as_str());
    assert!(!rx.has_more());
});
