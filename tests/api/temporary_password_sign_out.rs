//! "Sign out of other devices" on the "Choose a new password" page (Keycloak's update-password action has it):
//! ticked at first; ticked, the user's other sessions end as the account page's password change ends them (their
//! refresh and access tokens revoked, audited), and the sign-in that sets the password goes on; unticked, nothing
//! else ends.
use crate::account::{connected_app, other_browser};
use crate::helpers::*;
use crate::otp::post;
use crate::signin::{add_alice, hidden, introspect_basic, location, token_basic, PASSWORD};
use crate::temporary_password::{new_password_form, CHOSEN};
use reqwest::StatusCode;
use serde_json::Value;

const TICKED: &str = "aria-describedby=\"sign-out-others-note\" checked>";

/// alice with a session in the test's own browser and an app's tokens bound to it; then an operator makes her
/// password temporary (which ends nothing). Returns her id, the app's id and secret, and its tokens.
async fn alice_signed_in_then_temporary(app: &TestApp) -> (String, String, String, Value) {
    let alice = add_alice(app);
    let (id, secret, tokens) = connected_app(app, "openid").await;
    app.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(PASSWORD));
    (alice["id"].as_str().unwrap().to_owned(), id, secret, tokens)
}

/// Signs alice in to the account page in browser `b`, up to the new-password page: its HTML.
async fn new_password_page(app: &TestApp, b: &reqwest::Client) -> String {
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = post(app, b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// Posts the page `html` with `new` (twice) and the box ticked or not.
async fn choose(app: &TestApp, b: &reqwest::Client, html: &str, new: &str, ticked: bool) -> reqwest::Response {
    let (pending, csrf) = new_password_form(html);
    let mut fields = vec![("pending", pending.as_str()), ("csrf", &csrf), ("password", new), ("password_again", new)];
    if ticked {
        fields.push(("sign_out_others", "on"));
    }
    post(app, b, "/login/new-password", &fields).await
}

fn events(app: &TestApp, user_id: &str, kind: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// Whether the app's refresh token still refreshes.
async fn refreshes(app: &TestApp, id: &str, secret: &str, tokens: &Value) -> bool {
    let form = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    let (status, body) = token_basic(app, id, secret, &form).await;
    assert!(status == StatusCode::OK || body["error"] == "invalid_grant", "{body}");
    status == StatusCode::OK
}

both_backends!(ticked_the_other_sessions_end_and_the_new_one_starts, async |app| {
    let (alice_id, id, secret, tokens) = alice_signed_in_then_temporary(&app).await;
    let b = other_browser();
    let html = new_password_page(&app, &b).await;
    assert!(html.contains(TICKED), "ticked at first: {html}");
    assert!(html.contains("<label for=\"sign-out-others\">Sign out of other devices</label>"), "{html}");

    let r = choose(&app, &b, &html, CHOSEN, true).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    // The sign-in that set the password is signed in, alone.
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap().matches("name=\"session\"").count(), 1);
    // The other browser is signed out, and the app's tokens of its session are revoked.
    let r = app.api_client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account");
    assert!(!refreshes(&app, &id, &secret, &tokens).await);
    assert_eq!(introspect_basic(&app, &id, &secret, tokens["access_token"].as_str().unwrap()).await["active"], false);

    let changed = events(&app, &alice_id, "password_changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (&changed[0]["details"]["reason"], &changed[0]["details"]["sign_out_others"]),
        (&"required".into(), &true.into())
    );
    let ended = events(&app, &alice_id, "account_session_revoked");
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0]["actor"].as_str(), ended[0]["details"]["reason"].as_str(), ended[0]["details"]["current"].as_bool()),
        (Some(alice_id.as_str()), Some("password_changed"), Some(false))
    );
});

both_backends!(unticked_nothing_else_ends, async |app| {
    let (alice_id, id, secret, tokens) = alice_signed_in_then_temporary(&app).await;
    let b = other_browser();
    let html = new_password_page(&app, &b).await;
    // A refusal shows the box as it was sent.
    let r = choose(&app, &b, &html, "short", false).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"sign-out-others\"") && !html.contains(TICKED), "unticked as sent: {html}");

    let r = choose(&app, &b, &html, CHOSEN, false).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.api_client.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK, "still in");
    assert!(refreshes(&app, &id, &secret, &tokens).await);
    assert!(events(&app, &alice_id, "account_session_revoked").is_empty());
    assert_eq!(events(&app, &alice_id, "password_changed")[0]["details"]["sign_out_others"], false);
});
