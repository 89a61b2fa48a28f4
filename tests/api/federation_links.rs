//! Seeing and removing the links between local users and upstream identities: on the account page (only while
//! another way to sign in stays), through the admin API and with `tessera users unlink` (which may strand an
//! account). After a removal, the upstream identity's next sign-in is decided afresh.
use crate::federation::{at_upstream, authorize, browser, click, identities, sign_in, Federation};
use crate::helpers::*;
use crate::signin::{hidden, location, token_basic, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The audit events of `kind` at the downstream.
fn events(f: &Federation, kind: &str) -> Vec<Value> {
    let audit = f.down.cli_json(&["audit", "list"], None);
    audit["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// A new federated sign-in that the downstream refuses: the login page again, with its message.
async fn refused_sign_in(f: &Federation) -> String {
    let b = browser();
    let req = authorize(f, &b).await;
    let to = click(f, &b, &req.login_page).await;
    let back = at_upstream(f, &to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

async fn unlink(f: &Federation, b: &reqwest::Client, csrf: &str) -> reqwest::Response {
    let form = [("csrf", csrf), ("provider", "up")];
    let post = b.post(f.down.url("/account/identities/unlink")).header("Origin", &f.down.address).form(&form);
    post.send().await.unwrap()
}

both_backends!(the_account_page_removes_a_link_only_while_another_way_in_stays, async |app| {
    let f = Federation::around(app, false).await;
    let b = browser();
    let sub = sign_in(&f, &b).await;
    let page = b.get(f.down.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign-in with other accounts") && page.contains("<bdi>Upstream</bdi>"), "{page}");
    assert_eq!(hidden(&page, "provider"), "up");
    let csrf = hidden(&page, "csrf");

    // Without the page's CSRF token: refused.
    assert_eq!(unlink(&f, &b, "forged").await.status(), StatusCode::FORBIDDEN);
    // No password and no other link: the only way in stays, and the page says why.
    let resp = unlink(&f, &b, &csrf).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let page = resp.text().await.unwrap();
    assert!(page.contains("This is the only way you can sign in: it was not removed."), "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    assert_eq!(identities(&f, "alice").len(), 1);
    assert!(events(&f, "identity_unlinked").is_empty());

    // With a password, it goes.
    f.down.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some(PASSWORD));
    let resp = unlink(&f, &b, &csrf).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert_eq!(to, "/account?done=identity&provider=up");
    let page = b.get(f.down.url(&to)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("You can no longer sign in with Upstream."), "{page}");
    assert!(!page.contains("Sign-in with other accounts"), "{page}");
    assert!(identities(&f, "alice").is_empty());
    let unlinked = events(&f, "identity_unlinked");
    assert_eq!(unlinked.len(), 1);
    assert_eq!((unlinked[0]["actor"].as_str(), unlinked[0]["user_id"].as_str()), (Some(&*sub), Some(&*sub)));
    assert_eq!(unlinked[0]["details"]["provider"], "up");

    // The upstream identity signs in as alice no more; nor does it take her address over: its next sign-in is
    // refused (a provider not trusted with addresses), and alice signs in with her password.
    let page = refused_sign_in(&f).await;
    assert!(page.contains("An account with this email address exists already."), "{page}");
    assert!(identities(&f, "alice").is_empty());
    assert_eq!(f.down.cli_json(&["users", "list"], None)["users"].as_array().unwrap().len(), 1);
    assert!(crate::signin::signs_in(&f.down, f.client["client_id"].as_str().unwrap(), "alice", PASSWORD).await);
});

/// A `tessera:admin` token of a new admin client at `app`: the client id and the token.
async fn admin_token(app: &TestApp) -> (String, String) {
    let c = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (status, body) =
        token_basic(app, id, secret, &[("grant_type", "client_credentials"), ("scope", "tessera:admin")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (id.to_owned(), body["access_token"].as_str().unwrap().to_owned())
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

// The provider is trusted with addresses and alice's is verified upstream, so that a sign-in after the removal
// links her identity afresh to the account with that address.
both_backends!(an_operator_lists_and_removes_links_even_the_last_way_in, async |app| {
    let up_store = app.open_key_ring().await.0;
    let f = Federation::around(app, true).await;
    crate::account::execute(&up_store, "UPDATE users SET email_verified = TRUE".into()).await;
    let sub = sign_in(&f, &browser()).await;
    let (admin_id, token) = admin_token(&f.down).await;
    let path = format!("/admin/api/users/{sub}/identities");

    let (status, body) = call(&f.down, Method::GET, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!((items[0]["provider"].as_str(), &items[0]["subject"]), (Some("up"), &f.alice["id"]));
    assert!(items[0]["created_at"].is_i64() && items[0]["last_used_at"].is_i64(), "{body}");
    assert_eq!(call(&f.down, Method::GET, &path, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = call(&f.down, Method::GET, "/admin/api/users/nobody/identities", Some(&token)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, body) = call(&f.down, Method::DELETE, &format!("{path}/other"), Some(&token)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // The operator may remove alice's only way in.
    let (status, body) = call(&f.down, Method::DELETE, &format!("{path}/up"), Some(&token)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (_, body) = call(&f.down, Method::GET, &path, Some(&token)).await;
    assert_eq!(body["items"], serde_json::json!([]));
    assert_eq!(call(&f.down, Method::DELETE, &format!("{path}/up"), Some(&token)).await.0, StatusCode::NOT_FOUND);
    let unlinked = events(&f, "identity_unlinked");
    assert_eq!(unlinked.len(), 1);
    assert_eq!((unlinked[0]["actor"].as_str(), unlinked[0]["user_id"].as_str()), (Some(&*admin_id), Some(&*sub)));

    // Her next sign-in upstream links afresh to the account with her verified address: the same user.
    assert_eq!(sign_in(&f, &browser()).await, sub);
    assert_eq!(identities(&f, "alice").len(), 1);

    // The CLI: an unknown provider is an error; a removal that strands the account says so.
    let out = f.down.cli(&["users", "unlink", "alice", "other"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("alice has no identity at provider other"), "{out:?}");
    let out = f.down.cli(&["users", "unlink", "alice", "up"], None);
    assert_success(&out, &["users", "unlink", "alice", "up"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("alice: the identity at up is unlinked"), "{text}");
    assert!(
        text.contains("warning: alice has no password, no usable link and no passkey, so cannot sign in"),
        "{text}"
    );
    assert!(identities(&f, "alice").is_empty());
    let unlinked = events(&f, "identity_unlinked");
    let actors: Vec<&str> = unlinked.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(actors.iter().filter(|a| **a == "cli").count(), 1, "{actors:?}");

    // With a password, `--json` says the account can still sign in.
    sign_in(&f, &browser()).await;
    f.down.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some(PASSWORD));
    let shown = f.down.cli_json(&["users", "unlink", "alice", "up"], None);
    assert_eq!(shown["unlinked"], true);
    assert_eq!(shown["can_sign_in"], true);
});
