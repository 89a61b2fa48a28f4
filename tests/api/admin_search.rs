//! Finding users (`GET /admin/api/users?username=&email=&search=`, `tessera users list --search --email`) and audit
//! events by type (`GET /admin/api/audit?type=`, `tessera audit list --type`).
use crate::admin_sessions::call;
use crate::helpers::*;
use crate::signin::token_basic;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// The users made by [`add_users`]: username and email address.
const USERS: [(&str, Option<&str>); 6] = [
    ("Alice", Some("Alice.Smith@Example.com")),
    ("alfred", Some("fred@example.com")),
    ("bob", Some("al%b@example.com")),
    ("al%_x", Some("x@example.com")),
    ("Ren\u{e9}e", None),
    ("carol", Some("Carol@Example.org")),
];

fn add_users(app: &TestApp) {
    for (name, email) in USERS {
        let mut args = vec!["users", "add", name, "--password-stdin"];
        args.extend(email.iter().flat_map(|e| ["--email", e]));
        app.cli_json(&args, Some(PASSWORD));
    }
}

/// A `tessera:admin` access token of a new admin client.
async fn admin_token(app: &TestApp) -> String {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, token) = token_basic(app, s(&c, "client_id"), s(&c, "client_secret"), &form).await;
    s(&token, "access_token").to_owned()
}

/// `path?query`, each value percent-encoded.
fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// `GET path` with `query` and `token`: the status and the body.
async fn get(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    call(app, Some(token), Method::GET, &with_query(path, query)).await
}

/// The usernames of a page of users (`items`) or of the CLI's listing (`users`), sorted here: the order is the
/// database collation's.
fn names(list: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = list[key].as_array().unwrap().iter().map(|u| s(u, "username").to_owned()).collect();
    names.sort();
    names
}

/// The usernames `GET /admin/api/users` lists for `query`, sorted.
async fn listed(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = get(app, token, "/admin/api/users", query).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    assert_eq!(body["next"], Value::Null, "{query:?}: one page");
    names(&body, "items")
}

both_backends!(users_are_found_by_name_address_and_prefix, async |app| {
    add_users(&app);
    let token = admin_token(&app).await;
    let decomposed = "Rene\u{301}e";

    // username: the one a sign-in by that name finds, in any letter case and Unicode form.
    assert_eq!(listed(&app, &token, &[("username", "ALICE")]).await, ["Alice"]);
    assert_eq!(listed(&app, &token, &[("username", decomposed)]).await, ["Ren\u{e9}e"]);
    assert!(listed(&app, &token, &[("username", "Ali")]).await.is_empty(), "exact, not a prefix");
    // email: exact, in any letter case.
    assert_eq!(listed(&app, &token, &[("email", "carol@example.ORG")]).await, ["carol"]);
    assert!(listed(&app, &token, &[("email", "carol@example")]).await.is_empty());
    // search: a prefix of the username (folded) or of the address, in any letter case.
    assert_eq!(listed(&app, &token, &[("search", "AL")]).await, ["Alice", "al%_x", "alfred", "bob"]);
    assert_eq!(listed(&app, &token, &[("search", "FRED@")]).await, ["alfred"]);
    assert_eq!(listed(&app, &token, &[("search", "RENE\u{301}")]).await, ["Ren\u{e9}e"], "in either form");
    assert!(listed(&app, &token, &[("search", "lice")]).await.is_empty(), "a prefix, not a substring");
    // `%` and `_` are text, not LIKE's wildcards.
    assert_eq!(listed(&app, &token, &[("search", "al%")]).await, ["al%_x", "bob"]);
    assert_eq!(listed(&app, &token, &[("search", "al%_")]).await, ["al%_x"]);
    assert!(listed(&app, &token, &[("search", "al_")]).await.is_empty());
    assert!(listed(&app, &token, &[("search", "%")]).await.is_empty());
    // Filters narrow each other.
    assert_eq!(listed(&app, &token, &[("search", "al"), ("email", "FRED@example.com")]).await, ["alfred"]);
    assert!(listed(&app, &token, &[("search", "al"), ("username", "carol")]).await.is_empty());
    assert_eq!(listed(&app, &token, &[]).await.len(), USERS.len(), "no filter: everyone");

    // Pages of a filtered listing follow each other, in the listing's order.
    let (_, whole) = get(&app, &token, "/admin/api/users", &[("search", "al")]).await;
    let mut paged: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("search", "al"), ("limit", "1")];
        query.extend(after.as_deref().map(|a| ("after", a)));
        let (status, page) = get(&app, &token, "/admin/api/users", &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(json!(paged), whole["items"]);
    assert_eq!(paged.len(), 4);
});

both_backends!(bad_user_filters_are_refused, async |app| {
    let token = admin_token(&app).await;
    let long = "a".repeat(255);
    let long_name = "a".repeat(65);
    let long_address = format!("{}@example.com", "a".repeat(250));
    for query in [
        vec![("search", "")],
        vec![("email", "")],
        vec![("username", "")],
        vec![("search", long.as_str())],
        vec![("search", "a\u{0}b")],
        vec![("username", long_name.as_str())],
        vec![("username", " bob")],
        vec![("email", "bob")],
        vec![("email", long_address.as_str())],
        vec![("search", "a"), ("search", "b")],
    ] {
        let (status, body) = get(&app, &token, "/admin/api/users", &query).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{query:?}");
        assert!(body["error_description"].is_string(), "{body}");
    }
    let (status, body) = get(&app, &token, "/admin/api/users", &[("search", &long[1..])]).await;
    assert_eq!(status, StatusCode::OK, "the longest search is taken: {body}");
});

/// The kinds of the events `GET /admin/api/audit` lists for `query`, and its `next`.
async fn audit(app: &TestApp, token: &str, query: &[(&str, &str)]) -> (Vec<String>, Option<String>) {
    let (status, body) = get(app, token, "/admin/api/audit", query).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    let kinds = body["items"].as_array().unwrap().iter().map(|e| s(e, "kind").to_owned()).collect();
    (kinds, body["next"].as_str().map(str::to_owned))
}

both_backends!(audit_events_are_found_by_type, async |app| {
    add_users(&app);
    let token = admin_token(&app).await;
    let body = json!({ "username": "dave", "password": PASSWORD });
    let r = app.api_client.post(app.url("/admin/api/users")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let (all, _) = audit(&app, &token, &[("limit", "200")]).await;
    assert!(all.iter().any(|k| k != "user_created" && k != "admin_user_created"), "other kinds too: {all:?}");
    let (created, next) = audit(&app, &token, &[("type", "user_created")]).await;
    assert_eq!((created, next), (vec!["user_created".to_owned(); USERS.len()], None));
    let (either, _) = audit(&app, &token, &[("type", "user_created,admin_user_created")]).await;
    let mut expected = vec!["user_created".to_owned(); USERS.len()];
    expected.insert(0, "admin_user_created".into());
    assert_eq!(either, expected, "newest first");
    let (none, _) = audit(&app, &token, &[("type", "no_such_event")]).await;
    assert!(none.is_empty());
    let (mine, _) = audit(&app, &token, &[("type", "user_created"), ("since", "0"), ("client", "nobody")]).await;
    assert!(mine.is_empty(), "type narrows the other filters and they narrow it");

    // Pages of one type follow each other.
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("type", "user_created"), ("limit", "4")];
        query.extend(after.as_deref().map(|a| ("after", a)));
        let (kinds, next) = audit(&app, &token, &query).await;
        assert!(kinds.iter().all(|k| k == "user_created"), "{kinds:?}");
        seen += kinds.len();
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, USERS.len());

    for query in [
        vec![("type", "")],
        vec![("type", "Login_Failed")],
        vec![("type", "login_failed,")],
        vec![("type", "login_failed,,admin_refused")],
        vec![("type", "login%")],
        vec![("type", "login_failed"), ("type", "admin_refused")],
    ] {
        let (status, body) = get(&app, &token, "/admin/api/audit", &query).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{query:?}");
    }
});

both_backends!(the_cli_lists_users_by_search_and_address, async |app| {
    add_users(&app);
    let list = |args: &[&str]| {
        let mut all = vec!["users", "list"];
        all.extend_from_slice(args);
        names(&app.cli_json(&all, None), "users")
    };
    assert_eq!(list(&["--search", "AL"]), ["Alice", "al%_x", "alfred", "bob"]);
    assert_eq!(list(&["--search", "al%"]), ["al%_x", "bob"]);
    assert!(list(&["--search", "al_"]).is_empty());
    assert_eq!(list(&["--email", "CAROL@example.org"]), ["carol"]);
    assert_eq!(list(&["--search", "al", "--email", "fred@example.com"]), ["alfred"]);
    assert_eq!(list(&[]).len(), USERS.len());

    // The text listing shows the same users, one a line.
    let out = app.cli(&["users", "list", "--search", "al%"], None);
    assert_success(&out, &["users", "list", "--search", "al%"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("al%_x") && text.contains("al%b@example.com") && !text.contains("Alice"), "{text}");

    for (args, says) in [
        (["users", "list", "--search", ""], "search must not be empty"),
        (["users", "list", "--email", "bob"], "invalid email address"),
        (["users", "list", "--search", "a\u{7}"], "control characters"),
    ] {
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
});

both_backends!(the_cli_lists_audit_events_by_type, async |app| {
    add_users(&app);
    app.cli_json(&["users", "disable", "bob"], None);
    let kinds = |args: &[&str]| {
        let mut all = vec!["audit", "list"];
        all.extend_from_slice(args);
        let listed = app.cli_json(&all, None);
        listed["events"].as_array().unwrap().iter().map(|e| s(e, "kind").to_owned()).collect::<Vec<_>>()
    };
    assert!(kinds(&[]).iter().any(|k| k != "user_created"), "other kinds too");
    assert_eq!(kinds(&["--type", "user_created"]), vec!["user_created"; USERS.len()]);
    let disabled = kinds(&["--type", "user_disabled"]);
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    let mut both = vec!["user_created".to_owned(); USERS.len()];
    both.insert(0, disabled[0].clone());
    assert_eq!(kinds(&["--type", "user_created,user_disabled"]), both);
    assert_eq!(kinds(&["--type", "user_created", "--type", "user_disabled"]), both);
    assert_eq!(kinds(&["--type", "user_created", "--limit", "2"]).len(), 2);

    let out = app.cli(&["audit", "list", "--type", "user_disabled"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    for bad in ["", "User_Created", "user_created,"] {
        let args = ["audit", "list", "--type", bad];
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains("type"), "{bad:?}: {err}");
    }
});
