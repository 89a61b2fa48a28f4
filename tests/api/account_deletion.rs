//! Deleting one's own account from the account page (`users.self_deletion`): off by default; the password checked as
//! at sign-in and counted towards the same locks; a user without one signed in recently or asked to sign in again;
//! "I understand" ticked; the account page's CSRF token and origin; and a deletion that does what an operator's
//! does (sessions ended with back-channel logout, tokens revoked, the user gone), audited with the user as actor.
use crate::account::{execute, other_browser, sign_in_to_account};
use crate::account_password::signs_in;
use crate::backchannel_logout::{client, logout_token, Receiver};
use crate::helpers::*;
use crate::signin::{
    add_alice, auth_url, browse, hidden, location, pkce_pair, query_of, redeem_code, token_basic, without_cookies,
    PASSWORD, REDIRECT,
};
use reqwest::StatusCode;
use serde_json::Value;

fn on(raw: &mut tessera::config::RawSettings) {
    raw.users.self_deletion = true;
}

/// The account page of browser `c` (signed in) on `app`.
async fn account_page(app: &TestApp, c: &reqwest::Client) -> String {
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers().get("location"));
    r.text().await.unwrap()
}

/// Posts the deletion form from browser `c` with `csrf`, the password (when given) and "I understand" or not.
async fn delete(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    password: Option<&str>,
    confirm: bool,
) -> reqwest::Response {
    let mut form = vec![("csrf", csrf), ("username", "alice")];
    if let Some(p) = password {
        form.push(("password", p));
    }
    if confirm {
        form.push(("confirm", "on"));
    }
    c.post(app.url("/account/delete")).header("Origin", &app.address).form(&form).send().await.unwrap()
}

/// The events of `kind` about `user_id`.
fn events(app: &TestApp, user_id: &str, kind: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// The section's alert on a page shown again.
fn alert(html: &str) -> &str {
    let start = html.find("id=\"delete-error\">").unwrap_or_else(|| panic!("no deletion error: {html}"));
    let rest = &html[start + "id=\"delete-error\">".len()..];
    &rest[..rest.find("</p>").unwrap()]
}

fn user_exists(app: &TestApp, username: &str) -> bool {
    let users = app.cli_json(&["users", "list"], None);
    users["users"].as_array().unwrap().iter().any(|u| u["username"] == username)
}

/// The session cookie's removal among a response's cookies.
fn clears_the_session(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .any(|c| c.starts_with("tessera=;") && c.contains("Max-Age=0"))
}

both_backends!(while_off_the_page_has_no_section_and_the_form_is_not_found, async |app| {
    add_alice(&app);
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let html = account_page(&app, c).await;
    assert!(!html.contains("delete-heading") && !html.contains("/account/delete"), "{html}");
    let r = delete(&app, c, &hidden(&html, "csrf"), Some(PASSWORD), true).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(user_exists(&app, "alice"));
    account_page(&app, c).await;
});

both_backends!(
    a_wrong_password_deletes_nothing_and_counts_towards_the_sign_in_lock,
    |raw| {
        on(raw);
        raw.limits.login_user_failures = 2;
    },
    async |app| {
        let alice = add_alice(&app);
        let alice_id = s(&alice, "id");
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        let html = account_page(&app, c).await;
        assert!(html.contains("<h2 id=\"delete-heading\">Delete account</h2>"), "{html}");
        assert!(html.contains("It cannot be undone.") && html.contains("id=\"delete-password\""), "{html}");
        let csrf = hidden(&html, "csrf");
        let r = delete(&app, c, &csrf, Some("not it"), true).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert_eq!(alert(&html), "Your password is not right. Nothing was deleted.");
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"delete-error\""), "{html}");
        // The second failure locks the name, at the sign-in page too.
        let r = delete(&app, c, &csrf, Some("not it"), true).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
        assert!(alert(&r.text().await.unwrap()).starts_with("Too many failed attempts. Wait "));
        assert!(!signs_in(&app, PASSWORD).await, "locked");
        // While locked, even the right password deletes nothing, unchecked.
        let r = delete(&app, c, &csrf, Some(PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(user_exists(&app, "alice"));
        let failed = events(&app, alice_id, "account_deletion_failed");
        assert_eq!(failed.len(), 2, "the refusal while locked checked nothing");
        assert!(failed.iter().all(|e| e["details"]["reason"] == "wrong_password" && e["actor"] == alice_id));
        let locks = events(&app, alice_id, "login_lockout");
        assert_eq!((locks.len(), &locks[0]["details"]["during"]), (1, &Value::from("account_deletion")));
        // The session stays: a wrong password ends nothing.
        account_page(&app, c).await;
    }
);

both_backends!(
    an_unticked_box_or_no_password_is_refused_unchecked_and_uncounted,
    |raw| {
        on(raw);
        raw.limits.login_user_failures = 1;
    },
    async |app| {
        let alice = add_alice(&app);
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        let csrf = hidden(&account_page(&app, c).await, "csrf");
        for (password, confirm, message, field) in [
            (Some("not it"), false, "Tick the box to confirm that you understand.", "delete-confirm"),
            (Some(PASSWORD), false, "Tick the box to confirm that you understand.", "delete-confirm"),
            (None, true, "Enter your password to delete your account.", "delete-password"),
            (Some(""), true, "Enter your password to delete your account.", "delete-password"),
        ] {
            let r = delete(&app, c, &csrf, password, confirm).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{message}");
            let html = r.text().await.unwrap();
            assert!(alert(&html).starts_with(message), "{message}: {}", alert(&html));
            let input = &html[html.find(&format!("<input id=\"{field}\"")).unwrap()..];
            assert!(input[..input.find('>').unwrap()].contains("aria-invalid=\"true\""), "{field}: {html}");
        }
        assert!(events(&app, s(&alice, "id"), "account_deletion_failed").is_empty());
        assert!(user_exists(&app, "alice"));
        assert!(signs_in(&app, PASSWORD).await, "nothing counted, nothing locked");
    }
);

both_backends!(the_form_needs_the_page_token_our_origin_and_a_session, |raw| { on(raw) }, async |app| {
    add_alice(&app);
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let csrf_b = hidden(&account_page(&app, &b).await, "csrf");
    for csrf in ["", "wrong", csrf_b.as_str()] {
        let r = delete(&app, c, csrf, Some(PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    let csrf = hidden(&account_page(&app, c).await, "csrf");
    let form = [("csrf", csrf.as_str()), ("password", PASSWORD), ("confirm", "on")];
    let r = c.post(app.url("/account/delete")).header("Origin", "https://evil.example").form(&form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::FORBIDDEN, "from another site");
    let r = c.post(app.url("/account/delete")).header("Sec-Fetch-Site", "cross-site").form(&form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::FORBIDDEN, "from another site, by Sec-Fetch-Site");
    // Without a session: sign in first.
    let r = without_cookies().post(app.url("/account/delete")).form(&form).send().await.unwrap();
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/login?return=account".to_owned()));
    // A GET deletes nothing and goes to the page.
    let r = c.get(app.url("/account/delete")).send().await.unwrap();
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    assert!(user_exists(&app, "alice"));
    account_page(&app, &b).await;
});

both_backends!(the_right_password_deletes_the_account_as_an_operator_would, |raw| { on(raw) }, async |app| {
    let alice = add_alice(&app);
    let alice_id = s(&alice, "id");
    let mut rx = Receiver::start().await;
    // On the redirect URI's origin, as front-channel logout requires.
    let fc = "http://127.0.0.1:9/fc";
    let (id, secret) = client(&app, &["--backchannel-logout-uri", &rx.url("/bc"), "--frontchannel-logout-uri", fc]);
    // An app signed in through this browser (a code flow, with a refresh token); another browser signed in too.
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &auth_url(&app, &id, &challenge, ""), Some("allow")).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let (status, tokens) = redeem_code(&app, &id, &secret, &query_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, claims) = verified(&app, s(&tokens, "id_token")).await;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;

    let c = &app.api_client;
    let r = delete(&app, c, &hidden(&account_page(&app, c).await, "csrf"), Some(PASSWORD), true).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(clears_the_session(&r), "{:?}", r.headers());
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Your account was deleted</h1>"), "{html}");
    let frames = crate::frontchannel_logout::frames(&html);
    assert_eq!(frames.len(), 1, "this browser's app is framed: {html}");
    assert!(frames[0].starts_with(&format!("{fc}?iss=")), "{frames:?}");

    // Gone, with every session and token.
    assert!(!user_exists(&app, "alice"));
    for browser in [c, &b] {
        let r = browser.get(app.url("/account")).send().await.unwrap();
        assert_eq!(location(&r), "/login?return=account", "signed out");
    }
    let rt = s(&tokens, "refresh_token");
    let (status, body) =
        token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    let r = c.get(app.url("/userinfo")).bearer_auth(s(&tokens, "access_token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the access token is refused");
    assert!(!signs_in(&app, PASSWORD).await);
    logout_token(&app, &rx.next().await, &id, alice_id, s(&claims, "sid")).await;

    let deleted = events(&app, alice_id, "account_deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (&deleted[0]["actor"], &deleted[0]["details"]["username"], &deleted[0]["details"]["sessions"]),
        (&Value::from(alice_id), &Value::from("alice"), &Value::from(2))
    );
    let audit = app.cli(&["audit", "list", "--user", alice_id], None);
    assert!(!String::from_utf8_lossy(&audit.stdout).contains(PASSWORD), "no password in the audit trail");
    // The form again, from a page of the session that ended: sign in first.
    let r = delete(&app, c, "stale", Some(PASSWORD), true).await;
    assert_eq!(location(&r), "/login?return=account");
});

both_backends!(a_user_without_a_password_deletes_after_a_recent_sign_in_only, async |app| {
    let f = crate::federation::Federation::around_with(app, false, REDIRECT, on).await;
    let b = crate::federation::browser();
    crate::federation::sign_in(&f, &b).await;
    let down = &f.down;
    let html = account_page(down, &b).await;
    assert!(html.contains("You signed in moments ago, so no password is asked."), "{html}");
    assert!(!html.contains("id=\"delete-password\"") && html.contains("action=\"/account/delete\""), "{html}");

    // As if the sign-in were six minutes old: no form, but a sign-in again; a form posted anyway is refused.
    let store = tessera::startup::open_store(&down.settings).await.unwrap();
    execute(&store, "UPDATE sessions SET auth_time = auth_time - 360".into()).await;
    let html = account_page(down, &b).await;
    assert!(html.contains("href=\"/login?return=account&amp;prompt=login\""), "{html}");
    // The rule's duration, as the constant that enforces it says it.
    assert!(html.contains("your last sign-in was more than 5 minutes ago.</p>"), "{html}");
    assert!(!html.contains("action=\"/account/delete\""), "{html}");
    let r = delete(down, &b, &hidden(&html, "csrf"), None, true).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(alert(&r.text().await.unwrap()).starts_with("Your last sign-in was too long ago"));
    assert!(user_exists(down, "alice"));

    // Signing in again: the account sign-in is shown though signed in, and its provider button leads back.
    let r = b.get(down.url("/login?return=account&prompt=login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let login = r.text().await.unwrap();
    let form = [("return", "account".to_owned()), ("csrf", hidden(&login, "csrf"))];
    let r = b.post(down.url("/login/federation/up")).header("Origin", &down.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = crate::federation::at_upstream(&f, &location(&r), "allow").await;
    let r = b.get(&back).send().await.unwrap();
    assert_eq!(location(&r), "/account");
    let html = account_page(down, &b).await;
    let r = delete(down, &b, &hidden(&html, "csrf"), None, true).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert!(!user_exists(down, "alice"));
});

// A sign-in the upstream's own session answered is as old as the upstream's: signing in again here through its
// button, without being asked to sign in there, is no recent sign-in (the session's auth_time is the upstream's).
both_backends!(a_silent_upstream_sign_in_is_as_old_as_the_upstreams, async |app| {
    let f = crate::federation::Federation::around_with(app, false, REDIRECT, on).await;
    crate::federation::sign_in(&f, &crate::federation::browser()).await;
    // Alice's session at the upstream, as if she had signed in there six minutes ago.
    let up = tessera::startup::open_store(&f.up.settings).await.unwrap();
    execute(&up, "UPDATE sessions SET auth_time = auth_time - 360".into()).await;

    let b = crate::federation::browser();
    crate::federation::sign_in(&f, &b).await;
    let html = account_page(&f.down, &b).await;
    assert!(html.contains("href=\"/login?return=account&amp;prompt=login\""), "{html}");
    assert!(!html.contains("action=\"/account/delete\""), "{html}");
    // Its auth_time, shown in the session list, is the upstream's.
    let shown = f.down.cli_json(&["users", "sessions", "alice"], None);
    let sessions = shown["sessions"].as_array().unwrap();
    let age = sessions.iter().map(|s| s["created_at"].as_i64().unwrap() - s["auth_time"].as_i64().unwrap()).max();
    assert!(age.is_some_and(|age| (355..=370).contains(&age)), "{shown}");
});
