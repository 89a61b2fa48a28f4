//! Groups of users and the `groups` claim: operators manage groups and memberships (admin API, `tessera groups`,
//! `tessera users groups`), and a grant with the `groups` scope carries the user's group names in the ID token,
//! UserInfo, the access token and introspection, read again at each refresh.
use crate::admin_sessions::call;
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, browse, consent_page, discovered_rp, introspect_basic, pkce_pair, query_of,
    redeem_code, token_basic, urlencode,
};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope, TokenResponse,
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

/// `method path` with the admin `token` and a JSON `body`.
async fn send(app: &TestApp, token: &str, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = app.api_client.request(method, app.url(path)).bearer_auth(token).json(body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// The audit events of `kind`, oldest first.
fn events(app: &TestApp, kind: &str) -> Vec<Value> {
    let listed = app.cli_json(&["audit", "list"], None);
    let mut found: Vec<Value> =
        listed["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect();
    found.reverse();
    found
}

/// UserInfo's answer to `access_token`.
async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

both_backends!(operators_manage_groups_and_memberships_through_the_admin_api, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    let (admin_id, token) = admin(&app).await;
    let mine = format!("/admin/api/users/{alice_id}/groups");

    // Every route asks for the admin token first.
    for (method, path) in [
        (Method::GET, "/admin/api/groups".to_owned()),
        (Method::POST, "/admin/api/groups".to_owned()),
        (Method::DELETE, "/admin/api/groups/eng".to_owned()),
        (Method::GET, "/admin/api/groups/eng/members".to_owned()),
        (Method::GET, mine.clone()),
        (Method::PUT, format!("{mine}/eng")),
        (Method::DELETE, format!("{mine}/eng")),
    ] {
        assert_eq!(call(&app, None, method.clone(), &path).await.0, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(call(&app, Some("not-a-token"), method, &path).await.0, StatusCode::UNAUTHORIZED);
    }

    // Created once each; a name taken or malformed is refused.
    for name in ["eng", "Admins", "org:ops.on-call_1"] {
        let (status, group) = send(&app, &token, Method::POST, "/admin/api/groups", &json!({ "name": name })).await;
        assert_eq!((status, &group["name"]), (StatusCode::CREATED, &json!(name)), "{group}");
        assert!(group["created_at"].as_i64().unwrap() > 0, "{group}");
    }
    let (status, body) = send(&app, &token, Method::POST, "/admin/api/groups", &json!({ "name": "eng" })).await;
    assert_eq!((status, &body["error"]), (StatusCode::CONFLICT, &json!("conflict")), "{body}");
    for bad in [json!({ "name": "two words" }), json!({ "name": "" }), json!({ "name": "eng", "x": 1 }), json!([])] {
        let (status, body) = send(&app, &token, Method::POST, "/admin/api/groups", &bad).await;
        assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{bad}: {body}");
    }
    let (status, list) = call(&app, Some(&token), Method::GET, "/admin/api/groups").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|g| s(g, "name")).collect();
    assert_eq!(names, ["Admins", "eng", "org:ops.on-call_1"]);
    assert_eq!(list["items"][0]["members"], 0, "{list}");

    // Memberships: PUT and DELETE are idempotent; the list is sorted.
    assert_eq!(call(&app, Some(&token), Method::GET, &mine).await, (StatusCode::OK, json!({ "items": [] })));
    for group in ["eng", "eng", "Admins"] {
        let (status, body) = call(&app, Some(&token), Method::PUT, &format!("{mine}/{group}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    assert_eq!(call(&app, Some(&token), Method::GET, &mine).await.1, json!({ "items": ["Admins", "eng"] }));
    let counts = |list: Value| -> Vec<(String, i64)> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (s(g, "name").to_owned(), g["members"].as_i64().unwrap()))
            .collect()
    };
    let listed = call(&app, Some(&token), Method::GET, "/admin/api/groups").await.1;
    assert_eq!(counts(listed), [("Admins".into(), 1), ("eng".into(), 1), ("org:ops.on-call_1".into(), 0)]);

    // A group's members, by username, in pages.
    let (status, members) = call(&app, Some(&token), Method::GET, "/admin/api/groups/eng/members").await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members, json!({ "items": [{ "id": alice_id, "username": "alice" }], "next": null }));
    let mut ids = vec![alice_id.to_owned()];
    for name in ["carol", "bob"] {
        let user = app.cli_json(&["users", "add", name, "--password-stdin"], Some("correct horse battery"));
        call(&app, Some(&token), Method::PUT, &format!("/admin/api/users/{}/groups/eng", s(&user, "id"))).await;
        ids.push(s(&user, "id").to_owned());
    }
    let first = call(&app, Some(&token), Method::GET, "/admin/api/groups/eng/members?limit=2").await.1;
    let want = json!([{ "id": ids[0], "username": "alice" }, { "id": ids[2], "username": "bob" }]);
    assert_eq!((&first["items"], &first["next"]), (&want, &json!("bob")), "{first}");
    let rest = call(&app, Some(&token), Method::GET, "/admin/api/groups/eng/members?limit=2&after=bob").await.1;
    let want = json!({ "items": [{ "id": ids[1], "username": "carol" }], "next": null });
    assert_eq!(rest, want);
    let listed = call(&app, Some(&token), Method::GET, "/admin/api/groups").await.1;
    assert_eq!(counts(listed)[1], ("eng".into(), 3));
    let empty = call(&app, Some(&token), Method::GET, "/admin/api/groups/org:ops.on-call_1/members").await;
    assert_eq!(empty, (StatusCode::OK, json!({ "items": [], "next": null })));
    let (status, body) = call(&app, Some(&token), Method::GET, "/admin/api/groups/eng/members?limit=0").await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{body}");
    for id in &ids[1..] {
        call(&app, Some(&token), Method::DELETE, &format!("/admin/api/users/{id}/groups/eng")).await;
    }
    for _ in 0..2 {
        assert_eq!(call(&app, Some(&token), Method::DELETE, &format!("{mine}/eng")).await.0, StatusCode::NO_CONTENT);
    }
    assert_eq!(call(&app, Some(&token), Method::GET, &mine).await.1, json!({ "items": ["Admins"] }));

    // Unknown users and groups are 404.
    let nobody = "/admin/api/users/00000000-0000-0000-0000-000000000000/groups";
    for (method, path) in [
        (Method::GET, nobody.to_owned()),
        (Method::PUT, format!("{nobody}/eng")),
        (Method::DELETE, format!("{nobody}/eng")),
        (Method::GET, "/admin/api/users/not%20an%20id/groups".to_owned()),
        (Method::PUT, format!("{mine}/none")),
        (Method::DELETE, format!("{mine}/none")),
        (Method::PUT, format!("{mine}/not%20a%20name")),
        (Method::DELETE, "/admin/api/groups/none".to_owned()),
        (Method::GET, "/admin/api/groups/none/members".to_owned()),
        (Method::GET, "/admin/api/groups/not%20a%20name/members".to_owned()),
    ] {
        let (status, body) = call(&app, Some(&token), method.clone(), &path).await;
        assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &json!("not_found")), "{method} {path}");
    }

    // A deleted group leaves its members.
    let (status, body) = call(&app, Some(&token), Method::DELETE, "/admin/api/groups/Admins").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(call(&app, Some(&token), Method::DELETE, "/admin/api/groups/Admins").await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Some(&token), Method::GET, &mine).await.1, json!({ "items": [] }));

    // Each change is audited once, with the admin client acting.
    let created = events(&app, "group_created");
    assert_eq!(created.len(), 3, "{created:?}");
    assert_eq!((&created[0]["actor"], &created[0]["details"]), (&json!(admin_id), &json!({ "group": "eng" })));
    let alices = |kind: &str| -> Vec<Value> {
        events(&app, kind).into_iter().filter(|e| e["user_id"] == json!(alice_id)).collect()
    };
    let added = alices("group_member_added");
    let added: Vec<(&Value, &Value)> = added.iter().map(|e| (&e["user_id"], &e["details"]["group"])).collect();
    assert_eq!(added, [(&json!(alice_id), &json!("eng")), (&json!(alice_id), &json!("Admins"))]);
    let removed = alices("group_member_removed");
    assert_eq!((removed.len(), &removed[0]["actor"]), (1, &json!(admin_id)), "{removed:?}");
    let deleted = events(&app, "group_deleted");
    assert_eq!((deleted.len(), &deleted[0]["details"]["group"]), (1, &json!("Admins")), "{deleted:?}");
});

both_backends!(operators_manage_groups_from_the_command_line, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    for name in ["ops", "eng"] {
        let group = app.cli_json(&["groups", "create", name], None);
        assert_eq!(group["name"], name, "{group}");
    }
    for bad in [["groups", "create", "eng"], ["groups", "create", "a/b"], ["groups", "delete", "none"]] {
        assert_failure(&app.cli(&bad, None), &bad);
    }
    let listed = app.cli_json(&["groups", "list"], None);
    let names: Vec<&str> = listed["groups"].as_array().unwrap().iter().map(|g| s(g, "name")).collect();
    assert_eq!(names, ["eng", "ops"], "{listed}");
    let text = app.cli(&["groups", "list"], None);
    assert_success(&text, &["groups", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("eng "), "{text:?}");

    let args = ["users", "groups", "alice", "--add", "ops", "--add", "eng", "--add", "eng"];
    let changed = app.cli_json(&args, None);
    assert_eq!(changed["groups"], json!(["eng", "ops"]), "{changed}");
    assert_eq!(changed["added"], json!(["ops", "eng"]), "each once: {changed}");
    // An unknown group changes nothing, not even the names before it.
    let unknown = ["users", "groups", "alice", "--remove", "ops", "--add", "none"];
    assert!(assert_failure(&app.cli(&unknown, None), &unknown).contains("no group named none"));
    let nobody = ["users", "groups", "nobody"];
    assert_failure(&app.cli(&nobody, None), &nobody);
    let out = app.cli(&["users", "groups", "alice", "--remove", "ops"], None);
    assert_success(&out, &["users", "groups", "alice"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "alice: eng");

    // A group's members, and the member counts of the listing.
    let bob = app.cli_json(&["users", "add", "bob", "--password-stdin"], Some("correct horse battery"));
    app.cli_json(&["users", "groups", "bob", "--add", "eng"], None);
    let members = app.cli_json(&["groups", "members", "eng"], None);
    let want = json!([{ "id": alice_id, "username": "alice" }, { "id": s(&bob, "id"), "username": "bob" }]);
    assert_eq!((&members["group"], &members["members"]), (&json!("eng"), &want), "{members}");
    let out = app.cli(&["groups", "members", "eng"], None);
    assert_success(&out, &["groups", "members", "eng"]);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("alice ") && lines[0].ends_with(alice_id), "{lines:?}");
    assert_eq!(app.cli_json(&["groups", "members", "ops"], None)["members"], json!([]));
    let out = app.cli(&["groups", "members", "ops"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ops has no members");
    let unknown = ["groups", "members", "none"];
    assert!(assert_failure(&app.cli(&unknown, None), &unknown).contains("no group named none"));
    let listed = app.cli_json(&["groups", "list"], None);
    let counts: Vec<(&str, &Value)> =
        listed["groups"].as_array().unwrap().iter().map(|g| (s(g, "name"), &g["members"])).collect();
    assert_eq!(counts, [("eng", &json!(2)), ("ops", &json!(0))], "{listed}");
    let text = String::from_utf8_lossy(&app.cli(&["groups", "list"], None).stdout).into_owned();
    assert!(text.contains(" 2 members ") && text.contains(" 0 members "), "{text}");
    app.cli_json(&["users", "groups", "bob", "--remove", "eng"], None);

    let deleted = app.cli_json(&["groups", "delete", "eng"], None);
    assert_eq!(deleted, json!({ "group": "eng", "deleted": true }));
    let out = app.cli(&["users", "groups", "alice"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "alice is in no group");
    let shown = app.cli_json(&["users", "groups", "alice"], None);
    assert_eq!((&shown["groups"], &shown["added"]), (&json!([]), &json!([])), "{shown}");

    // Audited with the command line acting.
    let kinds = [("group_created", 2), ("group_member_added", 3), ("group_member_removed", 2), ("group_deleted", 1)];
    for (kind, count) in kinds {
        let found = events(&app, kind);
        assert_eq!(found.len(), count, "{kind}: {found:?}");
        assert!(found.iter().all(|e| e["actor"] == "cli"), "{found:?}");
    }
});

/// The `groups` claim of a JWT, checked against our keys.
async fn groups_in(app: &TestApp, jwt: &str) -> Value {
    verified(app, jwt).await.1.get("groups").cloned().unwrap_or(Value::Null)
}

both_backends!(the_groups_scope_carries_the_users_groups_in_every_token, async |app| {
    add_alice(&app);
    for name in ["eng", "Admins"] {
        app.cli_json(&["groups", "create", name], None);
        app.cli_json(&["users", "groups", "alice", "--add", name], None);
    }
    let client = add_client(&app, &["--scope", "openid profile groups offline_access"]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert!(discovery["scopes_supported"].as_array().unwrap().contains(&json!("groups")), "{discovery}");
    assert!(discovery["claims_supported"].as_array().unwrap().contains(&json!("groups")), "{discovery}");

    // The consent page says what the scope gives away.
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, id, &challenge, "").replace("scope=openid%20profile%20email", "scope=openid%20groups");
    let html = consent_page(&app, &url).await;
    assert!(html.contains("<li>See your group memberships</li>"), "{html}");

    // The relying party asks for the scope.
    let http = oidc_http_client();
    let rp = discovered_rp(&app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = browse(&app, url.as_str(), Some("allow")).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an ID token");
    id_token.claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token");
    let both = json!(["Admins", "eng"]);
    assert_eq!(groups_in(&app, &id_token.to_string()).await, both, "ID token");
    let access = tokens.access_token().secret().clone();
    assert_eq!(groups_in(&app, &access).await, both, "access token");
    assert_eq!(userinfo(&app, &access).await["groups"], both, "UserInfo");
    assert_eq!(introspect_basic(&app, id, secret, &access).await["groups"], both, "introspection");

    // The account page lists the user's groups, and what the app may see.
    let page = app.api_client.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<h2 id=\"groups-heading\">Groups</h2>"), "{page}");
    assert!(page.contains("<li>Admins</li><li>eng</li>"), "{page}");
    assert!(page.contains("<li>See your group memberships</li>"), "{page}");

    // A refresh carries the memberships of now.
    app.cli_json(&["users", "groups", "alice", "--remove", "eng"], None);
    let rt = tokens.refresh_token().expect("a refresh token").secret().clone();
    let (status, refreshed) =
        token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(groups_in(&app, s(&refreshed, "access_token")).await, json!(["Admins"]));
    assert_eq!(groups_in(&app, s(&refreshed, "id_token")).await, json!(["Admins"]));
    assert_eq!(userinfo(&app, s(&refreshed, "access_token")).await["groups"], json!(["Admins"]));
    // A user in no group gets an empty list.
    app.cli_json(&["users", "groups", "alice", "--remove", "Admins"], None);
    let rt = s(&refreshed, "refresh_token").to_owned();
    let (status, again) =
        token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(groups_in(&app, s(&again, "access_token")).await, json!([]));
    assert_eq!(groups_in(&app, s(&again, "id_token")).await, json!([]));

    // Without the scope, no token says anything of groups.
    app.cli_json(&["users", "groups", "alice", "--add", "eng"], None);
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, id, &challenge, "").replace("%20email", ""), Some("allow")).await;
    let (status, plain) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let access = s(&plain, "access_token");
    assert_eq!(groups_in(&app, s(&plain, "id_token")).await, Value::Null);
    assert_eq!(groups_in(&app, access).await, Value::Null);
    assert!(userinfo(&app, access).await.get("groups").is_none());
    assert!(introspect_basic(&app, id, secret, access).await.get("groups").is_none());
});

both_backends!(pairwise_clients_and_the_claims_parameter_get_the_same_groups, async |app| {
    add_alice(&app);
    app.cli_json(&["groups", "create", "eng"], None);
    app.cli_json(&["users", "groups", "alice", "--add", "eng"], None);
    let pairwise = add_client(&app, &["--subject-type", "pairwise", "--scope", "openid groups"]);
    let (id, secret) = (s(&pairwise, "client_id"), s(&pairwise, "client_secret"));
    let scoped = |url: String| url.replace("scope=openid%20profile%20email", "scope=openid%20groups");
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &scoped(auth_url(&app, id, &challenge, "")), Some("allow")).await;
    let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(groups_in(&app, s(&tokens, "access_token")).await, json!(["eng"]));
    assert_eq!(groups_in(&app, s(&tokens, "id_token")).await, json!(["eng"]));
    assert_eq!(userinfo(&app, s(&tokens, "access_token")).await["groups"], json!(["eng"]));

    // Asked for by name without the scope: where it was asked for, and nowhere else.
    let claims = urlencode(r#"{"id_token":{"groups":null}}"#);
    let (challenge, verifier) = pkce_pair();
    let url = auth_url(&app, id, &challenge, &format!("&claims={claims}")).replace("%20profile%20email", "");
    let back = browse(&app, &url, Some("allow")).await;
    let (status, named) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{named}");
    assert_eq!(groups_in(&app, s(&named, "id_token")).await, json!(["eng"]));
    assert_eq!(groups_in(&app, s(&named, "access_token")).await, Value::Null, "the scope was not granted");
    assert!(userinfo(&app, s(&named, "access_token")).await.get("groups").is_none());

    // A client not allowed the scope does not get the claim by name either, and is not asked for it; nor does one
    // registered without `email` or `profile` get theirs (regression: only `groups` was withheld).
    let other = add_client(&app, &["--scope", "openid"]);
    let (other_id, other_secret) = (s(&other, "client_id"), s(&other, "client_secret"));
    let claims = urlencode(r#"{"id_token":{"groups":null,"email":null},"userinfo":{"groups":null,"name":null}}"#);
    let (challenge, verifier) = pkce_pair();
    let url = auth_url(&app, other_id, &challenge, &format!("&claims={claims}")).replace("%20profile%20email", "");
    let html = consent_page(&app, &url).await;
    assert!(!html.contains("group") && !html.contains("email") && !html.contains("name</"), "{html}");
    let back = browse(&app, &url, Some("allow")).await;
    let (status, withheld) = redeem_code(&app, other_id, other_secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{withheld}");
    let (_, id_claims) = verified(&app, s(&withheld, "id_token")).await;
    assert!(id_claims.get("groups").is_none() && id_claims.get("email").is_none(), "{id_claims}");
    let info = userinfo(&app, s(&withheld, "access_token")).await;
    assert!(info.get("groups").is_none() && info.get("name").is_none(), "{info}");
});

// Regression: a token carried every group of its user, while the server's own endpoints refused a token over
// 8192 bytes: a user in a hundred groups of long names got tokens that UserInfo, introspection and revocation
// refused. A token carries up to 100 names, each endpoint takes it, and past 100 it points to UserInfo, which
// lists them all (a distributed claim, OIDC Core §5.6.2).
both_backends!(a_token_carries_at_most_a_hundred_groups_and_past_them_points_to_userinfo, async |app| {
    use tessera::storage::GroupStore;
    let alice = add_alice(&app);
    let alice_id = tessera::domain::UserId::parse(s(&alice, "id")).unwrap();
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let client = add_client(&app, &["--scope", "openid groups"]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let mut names = Vec::new();
    for (n, count) in [(0, 100), (100, 101)] {
        for i in n..count {
            let name = tessera::domain::GroupName::parse(&format!("{i:03}-{}", "g".repeat(60))).unwrap();
            let group =
                tessera::domain::Group { id: uuid::Uuid::new_v4().to_string(), name: name.clone(), created_at: 1 };
            store.create_group(&group).await.unwrap();
            store.add_member(&alice_id, &name).await.unwrap();
            names.push(name.as_str().to_owned());
        }
        let (challenge, verifier) = pkce_pair();
        let url = auth_url(&app, id, &challenge, "").replace("scope=openid%20profile%20email", "scope=openid%20groups");
        let back = browse(&app, &url, Some("allow")).await;
        let (status, tokens) = redeem_code(&app, id, secret, &query_of(&back)["code"], &verifier).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let (access, id_token) = (s(&tokens, "access_token"), s(&tokens, "id_token"));
        assert!(access.len() <= 16 * 1024 && id_token.len() <= 16 * 1024, "{} {}", access.len(), id_token.len());
        assert_eq!(userinfo(&app, access).await["groups"], json!(names), "UserInfo lists them all");
        let introspected = introspect_basic(&app, id, secret, access).await;
        assert_eq!(introspected["active"], true, "{introspected}");
        for token in [access, id_token] {
            let claims = crate::otp::claims_of(token);
            if names.len() <= 100 {
                assert_eq!(claims["groups"], json!(names), "in the token");
                assert!(access.len() > 8192, "the old limit is passed: {}", access.len());
            } else {
                assert!(claims.get("groups").is_none(), "{claims}");
                assert_eq!(claims["_claim_names"], json!({ "groups": "groups" }));
                assert_eq!(claims["_claim_sources"]["groups"]["endpoint"], app.url("/userinfo"));
            }
        }
        let r = app.api_client.post(app.url("/revoke")).basic_auth(id, Some(secret)).form(&[("token", access)]);
        assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(introspect_basic(&app, id, secret, access).await["active"], false, "revoked");
    }
});
