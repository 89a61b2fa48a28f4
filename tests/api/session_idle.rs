//! `sessions.idle_timeout_seconds`: a session the browser leaves unused signs the user in no more, while the
//! apps' tokens from it live on.
use crate::account::{authorize_url, connected_app, execute, other_browser, set_last_used, sign_in_to_account};
use crate::helpers::*;
use crate::signin::{add_alice, location, pkce_pair, query_of, token_basic};
use reqwest::StatusCode;

const IDLE_TIMEOUT: i64 = 600;

/// Where `/authorize` sends the browser of `app.api_client`, with `extra` parameters.
async fn authorize(app: &TestApp, client_id: &str, extra: &str) -> String {
    let (challenge, _) = pkce_pair();
    let url = format!("{}{extra}", authorize_url(app, client_id, &challenge, "openid"));
    location(&app.api_client.get(url).send().await.unwrap())
}

both_backends!(
    an_idle_session_signs_in_no_more_but_its_apps_keep_their_tokens,
    |raw| {
        raw.sessions.idle_timeout_seconds = IDLE_TIMEOUT;
    },
    async |app| {
        add_alice(&app);
        let (id, secret, tokens) = connected_app(&app, "openid").await;
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        // As if it had begun two hours ago: a session counts as used when it began.
        execute(&store, "UPDATE sessions SET created_at = created_at - 7200".into()).await;

        // The stored use may lag the real one by up to a minute: until the timeout and that minute have passed,
        // single sign-on goes on (and records a use).
        set_last_used(&store, tessera::domain::now() - IDLE_TIMEOUT).await;
        assert!(query_of(&authorize(&app, &id, "").await).contains_key("code"), "not idle yet");

        set_last_used(&store, tessera::domain::now() - IDLE_TIMEOUT - 65).await;
        let to = authorize(&app, &id, "").await;
        assert!(to.starts_with("/login?"), "an idle session sends the user to sign in: {to}");
        let to = authorize(&app, &id, "&prompt=none").await;
        assert_eq!(query_of(&to).get("error").map(String::as_str), Some("login_required"), "{to}");
        let r = app.api_client.get(app.url("/account")).send().await.unwrap();
        assert_eq!(location(&r), "/login?return=account", "the account page asks to sign in too");

        // The app's refresh token, bound to the session, still works: the app's session is its own.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, body) =
            token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Another browser's account page lists the idle session as such.
        let b = other_browser();
        sign_in_to_account(&app, &b).await;
        let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
        assert_eq!(html.matches("<span class=\"tag\">idle</span>").count(), 1, "{html}");
        assert!(html.contains("this browser must sign in again"), "{html}");
    }
);
