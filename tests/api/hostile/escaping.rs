//! Script and SQL injection through every value a page shows back: the client name (set by an operator or a
//! registrant), the username typed on the login page, `login_hint`, `state` in a form post, parameter names in
//! error messages. Everything comes out escaped, and SQL metacharacters are just characters.
use super::*;
use crate::signin::{add_alice, REDIRECT};

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTRIBUTE: &str = "\"'><img src=x onerror=alert(1)>";
const SQL: &str = "'; DROP TABLE users;--";

/// All three payloads in one value.
fn payload() -> String {
    format!("{SCRIPT}{ATTRIBUTE}{SQL}")
}

/// Decodes the character references an HTML escaper writes.
fn unescape(html: &str) -> String {
    let mut out = html.to_owned();
    for (entity, c) in [
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ] {
        out = out.replace(entity, c);
    }
    out
}

/// Asserts `html` holds no payload unescaped, yet shows the whole value once unescaped.
fn assert_escaped(html: &str, what: &str) {
    for raw in [SCRIPT, "<img src=x", "\"'>"] {
        assert!(!html.contains(raw), "{what}: {raw:?} unescaped in:\n{html}");
    }
    assert!(unescape(html).contains(&payload()), "{what}: the value is not shown:\n{html}");
}

both_backends!(script_and_sql_payloads_are_shown_escaped, async |app| {
    add_alice(&app);
    let evil = payload();
    // The client name, through the CLI: stored as is, shown escaped.
    let client = app.cli_json(
        &[
            "clients",
            "add",
            "--name",
            &evil,
            "--redirect-uri",
            REDIRECT,
            "--public",
            "--post-logout-redirect-uri",
            "http://127.0.0.1:9/bye",
        ],
        None,
    );
    let id = s(&client, "client_id").to_owned();
    let shown = app.cli_json(&["clients", "show", &id], None);
    assert_eq!(shown["client_name"].as_str(), Some(evil.as_str()), "{shown}");
    let (challenge, _) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, &format!("&login_hint={}", urlencode(&evil)));
    let b = browser();
    let form = open_login(&app, &b, &url).await;
    assert_escaped(&form.html, "login page: client name and login_hint");
    assert!(
        unescape(&form.html).contains(&format!("value=\"{}\"", payload())),
        "login_hint prefills the username:\n{}",
        form.html
    );

    // The username typed, shown again after the failure.
    let r = submit_login(&app, &b, &form, &evil, &evil).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_escaped(&r.text().await.unwrap(), "login page after a failure");
    // Classic SQL injection through the login form is a wrong password like any other.
    for (user, password) in [("alice' --", "x"), ("' OR '1'='1", "' OR '1'='1"), ("alice", "' OR '1'='1")] {
        let r = submit_login(&app, &b, &form, user, password).await;
        assert_eq!(r.status(), StatusCode::OK, "{user} / {password}");
    }

    // Consent page (client name), then the logout confirmation (client name again).
    let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
    let consent = location(&r);
    let html = b.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
    assert_escaped(&html, "consent page");
    let r = b
        .post(app.url("/consent"))
        .header("Origin", &app.address)
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf", hidden(&html, "csrf").as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert!(query_of(&location(&r)).contains_key("code"));
    // state in a form post, for a success and for an error.
    let url = authorize_url(&app, &id, &challenge, "&response_mode=form_post")
        .replace("state=st", &format!("state={}", urlencode(&evil)));
    let html = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert_escaped(&html, "form_post success");
    let html = b.get(url.replace("scope=openid", "scope=admin")).send().await.unwrap().text().await.unwrap();
    assert_escaped(&html, "form_post error");
    assert!(html.contains("invalid_scope"));
    // A query redirect carries the state URL-encoded, byte for byte.
    let r = b.get(url.replace("&response_mode=form_post", "")).send().await.unwrap();
    assert_eq!(query_of(&location(&r)).get("state"), Some(&evil));
    // A parameter name in an error message: on the error page, and posted back to the client.
    let r = b.get(app.url(&format!("/logout?{}=1&{}=2", urlencode(SCRIPT), urlencode(SCRIPT)))).send().await.unwrap();
    let html = assert_page_not_redirect(r, "a repeated parameter named with a script").await;
    assert!(html.contains("twice") && !html.contains(SCRIPT), "{html}");
    let twice = format!("{url}&{}=1&{}=2", urlencode(SCRIPT), urlencode(SCRIPT));
    let html = b.get(twice).send().await.unwrap().text().await.unwrap();
    assert_escaped(&html, "form_post error about a repeated parameter named with a script");
    assert!(html.contains("invalid_request") && !html.contains(SCRIPT), "{html}");
    let r = b.get(app.url(&format!("/logout?client_id={id}"))).send().await.unwrap();
    assert_escaped(&r.text().await.unwrap(), "logout confirmation");

    // A username made of SQL, through the CLI and the login form: it is just a name.
    app.cli_json(&["users", "add", SQL, "--password-stdin"], Some(PASSWORD));
    let b2 = browser();
    let form2 = open_login(&app, &b2, &authorize_url(&app, &id, &challenge, "")).await;
    let r = submit_login(&app, &b2, &form2, SQL, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the SQL-named user signs in");
    let html = b2.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains(SQL) && unescape(&html).contains(&format!("<strong><bdi>{SQL}</bdi></strong>")), "{html}");
    // Nothing was dropped.
    let users = app.cli_json(&["users", "list"], None);
    let names: Vec<&str> = users["users"].as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert!(names.contains(&"alice") && names.contains(&SQL), "{users}");

    // SQL in a client id: an unknown client, at the authorization and the token endpoints.
    let r = b.get(authorize_url(&app, "x' OR '1'='1", &challenge, "")).send().await.unwrap();
    assert_page_not_redirect(r, "SQL client_id").await;
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth("x' OR '1'='1", Some("' OR '1'='1"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});
