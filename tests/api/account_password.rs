//! Changing one's own password on the account page: the current password checked as at sign-in (and counted
//! towards the same locks), the new one held to `passwords.min_length`, and, when asked, the user's other sessions
//! ended as logout ends them.
use crate::account::{connected_app, other_browser, sign_in_to_account};
use crate::dpop::claims_of;
use crate::helpers::*;
use crate::signin::{add_alice, hidden, introspect_basic, location, token_basic, without_cookies, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;

const NEW_PASSWORD: &str = "a new and longer secret";

/// The account page of browser `c`, which must be signed in.
async fn account_page(app: &TestApp, c: &reqwest::Client) -> String {
    page_at(app, c, "/account").await
}

/// The account page at `path` (with the query a form's redirect gives it).
async fn page_at(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let r = c.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers().get("location"));
    r.text().await.unwrap()
}

/// Posts the password form from browser `c` with `csrf`: current, new, new again, and the box ticked or not.
async fn change(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    (current, new, again): (&str, &str, &str),
    sign_out_others: bool,
) -> reqwest::Response {
    let mut form = vec![
        ("csrf", csrf),
        ("username", "alice"),
        ("current_password", current),
        ("new_password", new),
        ("new_password_again", again),
    ];
    if sign_out_others {
        form.push(("sign_out_others", "on"));
    }
    c.post(app.url("/account/password")).header("Origin", &app.address).form(&form).send().await.unwrap()
}

/// Whether alice signs in to the account page with `password` in a new browser.
pub(crate) async fn signs_in(app: &TestApp, password: &str) -> bool {
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", password)];
    let r = b.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    match r.status() {
        StatusCode::SEE_OTHER => true,
        StatusCode::OK => false,
        // Locked: refused without a check.
        StatusCode::TOO_MANY_REQUESTS => false,
        other => panic!("{other}: {}", r.text().await.unwrap()),
    }
}

/// alice's audit events of `kind`.
fn events(app: &TestApp, user_id: &str, kind: &str) -> Vec<Value> {
    let events = app.cli_json(&["audit", "list", "--user", user_id], None);
    events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

/// The password form's alert on a page shown again.
fn alert(html: &str) -> &str {
    let start = html.find("id=\"password-error\">").unwrap_or_else(|| panic!("no password error: {html}"));
    let rest = &html[start + "id=\"password-error\">".len()..];
    &rest[..rest.find("</p>").unwrap()]
}

both_backends!(a_changed_password_signs_in_and_the_old_one_no_more, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let html = account_page(&app, c).await;
    assert!(html.contains("<h2 id=\"password-heading\">Password</h2>"), "{html}");
    assert!(html.contains("autocomplete=\"current-password\"") && html.contains("autocomplete=\"new-password\""));
    assert!(html.contains("<label for=\"sign-out-others\">Sign out everywhere else</label>"), "{html}");
    assert!(html.contains("type=\"checkbox\" value=\"on\" checked>"), "ticked at first: {html}");
    assert!(html.contains("At least 8 characters."), "{html}");

    let r = change(&app, c, &hidden(&html, "csrf"), (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account?done=password-others".to_owned()));
    let html = page_at(&app, c, &location(&r)).await;
    assert!(html.contains("Your password is changed, and your other sessions are signed out."), "{html}");

    assert!(signs_in(&app, NEW_PASSWORD).await);
    assert!(!signs_in(&app, PASSWORD).await);
    let events = events(&app, alice_id, "password_changed");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0]["actor"].as_str(), events[0]["details"]["sign_out_others"].as_bool()),
        (Some(alice_id), Some(true))
    );
    let audit = app.cli(&["audit", "list", "--user", alice_id], None);
    assert!(!String::from_utf8_lossy(&audit.stdout).contains(NEW_PASSWORD), "no password in the audit trail");
});

both_backends!(
    wrong_current_passwords_count_as_failed_sign_ins_and_lock_the_name,
    |raw| {
        raw.limits.login_user_failures = 3;
    },
    async |app| {
        let alice = add_alice(&app);
        let alice_id = alice["id"].as_str().unwrap();
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        let csrf = hidden(&account_page(&app, c).await, "csrf");
        for _ in 0..2 {
            let r = change(&app, c, &csrf, ("not it", NEW_PASSWORD, NEW_PASSWORD), true).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let html = r.text().await.unwrap();
            assert_eq!(alert(&html), "Your current password is not right. Your password was not changed.");
            assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"password-error\""), "{html}");
        }
        // The third failure locks the name, at the sign-in page too.
        let r = change(&app, c, &csrf, ("not it", NEW_PASSWORD, NEW_PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key("retry-after"));
        assert!(alert(&r.text().await.unwrap()).starts_with("Too many failed attempts. Wait "));
        assert!(!signs_in(&app, PASSWORD).await, "locked");
        // While locked, even the right password changes nothing, unchecked.
        let r = change(&app, c, &csrf, (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let failed = events(&app, alice_id, "password_change_failed");
        assert_eq!(failed.len(), 3, "the refusal while locked checked nothing");
        assert!(failed.iter().all(|e| e["details"]["reason"] == "wrong_password"));
        assert_eq!(events(&app, alice_id, "login_lockout").len(), 1);
        assert!(events(&app, alice_id, "password_changed").is_empty());
        // The session stays: a wrong password ends nothing.
        account_page(&app, c).await;
    }
);

both_backends!(
    an_inconsistent_form_is_refused_unchecked_and_uncounted,
    |raw| {
        raw.limits.login_user_failures = 2;
    },
    async |app| {
        let alice = add_alice(&app);
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        let csrf = hidden(&account_page(&app, c).await, "csrf");
        let long = "x".repeat(1025);
        for (typed, message, field) in [
            (
                (PASSWORD, NEW_PASSWORD, "a new and longer secreT"),
                "The two new passwords are not the same. Type the new password twice.",
                "new-password-again",
            ),
            ((PASSWORD, "short", "short"), "The new password is too short: use at least 8 characters.", "new-password"),
            ((PASSWORD, &long, &long), "The new password is too long: at most 1024 bytes", "new-password"),
            ((PASSWORD, PASSWORD, PASSWORD), "The new password is your current one. Choose another.", "new-password"),
            (("", NEW_PASSWORD, NEW_PASSWORD), "Enter your current password.", "current-password"),
        ] {
            // Each refused twice: a count would have locked the name.
            for _ in 0..2 {
                let r = change(&app, c, &csrf, typed, false).await;
                assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{message}");
                let html = r.text().await.unwrap();
                assert!(alert(&html).starts_with(message), "{message}: {}", alert(&html));
                let input = &html[html.find(&format!("<input id=\"{field}\"")).unwrap()..];
                assert!(input[..input.find('>').unwrap()].contains("aria-invalid=\"true\""), "{field}: {html}");
                // The box stays as it was left.
                assert!(!html.contains("value=\"on\" checked"), "{html}");
            }
        }
        assert!(events(&app, alice["id"].as_str().unwrap(), "password_change_failed").is_empty());
        assert!(signs_in(&app, PASSWORD).await, "nothing changed, nothing locked");
    }
);

both_backends!(
    the_minimum_length_is_the_configured_one_for_users_and_not_for_operators,
    |raw| {
        raw.passwords.min_length = 30;
    },
    async |app| {
        add_alice(&app);
        let c = &app.api_client;
        sign_in_to_account(&app, c).await;
        let html = account_page(&app, c).await;
        assert!(html.contains("minlength=\"30\"") && html.contains("At least 30 characters."), "{html}");
        let r = change(&app, c, &hidden(&html, "csrf"), (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(alert(&r.text().await.unwrap()), "The new password is too short: use at least 30 characters.");
        // 30 characters of two bytes each are 30 characters.
        let accented = "é".repeat(30);
        let r = change(&app, c, &hidden(&html, "csrf"), (PASSWORD, &accented, &accented), true).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // An operator's password is held to 8 as before.
        app.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some("eight ch"));
        assert!(signs_in(&app, "eight ch").await);
    }
);

both_backends!(the_form_needs_the_page_token_and_a_session, async |app| {
    add_alice(&app);
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let csrf_b = hidden(&account_page(&app, &b).await, "csrf");
    for csrf in ["", "wrong", csrf_b.as_str()] {
        let r = change(&app, c, csrf, (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    let form = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("new_password_again", NEW_PASSWORD)];
    let r = c.post(app.url("/account/password")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token");
    // The page's own token, from another site.
    let csrf = hidden(&account_page(&app, c).await, "csrf");
    let mut with_token = form.to_vec();
    with_token.push(("csrf", &csrf));
    let r = c
        .post(app.url("/account/password"))
        .header("Origin", "https://evil.example")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Without a session: sign in first.
    let r = without_cookies().post(app.url("/account/password")).form(&with_token).send().await.unwrap();
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/login?return=account".to_owned()));
    // A GET changes nothing and goes to the page.
    let r = c.get(app.url("/account/password")).send().await.unwrap();
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    assert!(signs_in(&app, PASSWORD).await, "nothing changed");
    account_page(&app, &b).await;
});

both_backends!(signing_out_everywhere_else_ends_the_other_sessions_and_their_tokens, async |app| {
    let alice = add_alice(&app);
    // The app signed in through the first browser: its refresh token is bound to that session.
    let (id, secret, tokens) = connected_app(&app, "openid").await;
    let a = &app.api_client;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let r =
        change(&app, &b, &hidden(&account_page(&app, &b).await, "csrf"), (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true)
            .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let r = a.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account", "the first browser is signed out");
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, body) =
        token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    assert_eq!(introspect_basic(&app, &id, &secret, tokens["access_token"].as_str().unwrap()).await["active"], false);
    // The browser that changed it stays signed in, alone.
    let html = account_page(&app, &b).await;
    assert_eq!(html.matches("name=\"session\"").count(), 1, "{html}");
    // Each ended session is audited as the account page ends one.
    let ended = events(&app, alice["id"].as_str().unwrap(), "account_session_revoked");
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (ended[0]["details"]["reason"].as_str(), ended[0]["details"]["current"].as_bool()),
        (Some("password_changed"), Some(false))
    );
});

both_backends!(a_change_renews_the_session_and_a_copy_of_the_old_cookie_signs_in_nothing, async |app| {
    add_alice(&app);
    let (id, secret, tokens) = connected_app(&app, "openid").await;
    let a = &app.api_client;
    let thief = app.cookie_thief();
    assert_eq!(thief.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK, "the copy works");
    let r =
        change(&app, a, &hidden(&account_page(&app, a).await, "csrf"), (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), true)
            .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("tessera=")));
    let r = thief.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account", "the copy of the old cookie is signed out");
    // Nor does it end anything at /logout (regression: it revoked the tokens its session had handed over).
    let html = thief.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("decision", "logout".into())];
    let r = thief.post(app.url("/logout")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The browser that changed it stays signed in, and its app's tokens live on under the sid the app knows.
    let html = account_page(&app, a).await;
    assert_eq!(html.matches("name=\"session\"").count(), 1, "{html}");
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect_basic(&app, &id, &secret, access_token).await["active"], true);
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) =
        token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let sid = |t: &Value| claims_of(t["id_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(sid(&refreshed), sid(&tokens));
});

both_backends!(without_the_box_the_other_sessions_stay, async |app| {
    let alice = add_alice(&app);
    let (id, secret, tokens) = connected_app(&app, "openid").await;
    let a = &app.api_client;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let r =
        change(&app, &b, &hidden(&account_page(&app, &b).await, "csrf"), (PASSWORD, NEW_PASSWORD, NEW_PASSWORD), false)
            .await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account?done=password".to_owned()));
    let html = page_at(&app, &b, &location(&r)).await;
    assert!(html.contains("Your password is changed.") && html.matches("name=\"session\"").count() == 2, "{html}");
    account_page(&app, a).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, body) =
        token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alice_id = alice["id"].as_str().unwrap();
    assert!(events(&app, alice_id, "account_session_revoked").is_empty());
    assert_eq!(events(&app, alice_id, "password_changed")[0]["details"]["sign_out_others"], false);
});

both_backends!(a_user_without_a_password_gets_no_form_and_cannot_set_one, async |app| {
    let f = crate::federation::Federation::around(app, false).await;
    let b = crate::federation::browser();
    crate::federation::sign_in(&f, &b).await;
    let html = b.get(f.down.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Your account has no password: you sign in through another provider."), "{html}");
    assert!(!html.contains("/account/password") && !html.contains("current-password"), "{html}");
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("current_password", String::new()),
        ("new_password", NEW_PASSWORD.to_owned()),
        ("new_password_again", NEW_PASSWORD.to_owned()),
    ];
    let r = b.post(f.down.url("/account/password")).header("Origin", &f.down.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your account has no password to change"), "{html}");
    let audit = f.down.cli_json(&["audit", "list"], None);
    assert!(audit["events"].as_array().unwrap().iter().all(|e| e["kind"] != "password_changed"), "{audit}");
    assert!(!crate::signin::signs_in(&f.down, f.client["client_id"].as_str().unwrap(), "alice", NEW_PASSWORD).await);
});
