//! What the passkey endpoints refuse: the options endpoints, which the pages' script fetches, answer a refused
//! form in JSON (`error`, `error_description`) rather than with a page or a redirect; and the account page keeps a
//! way in: a passkey is one (a federated-only user may unlink her provider while she has one), and the last one of
//! an account with no password and no link stays.
use super::*;
use crate::federation::{browser, identities, sign_in, Federation};

/// The JSON error of a refused options request: `(status, error, error_description)`.
async fn json_error(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let kind = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(kind.starts_with("application/json"), "{status} {kind}: {}", r.text().await.unwrap());
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    (status, s(&body, "error").to_owned(), s(&body, "error_description").to_owned())
}

on_localhost!(the_options_endpoints_answer_refusals_in_json, async |app| {
    add_alice(&app);
    let b = other_browser();
    let html = account_login_page(&app, &b).await;
    let csrf = hidden(&html, "csrf");

    // The sign-in's: a form without its token, one from another site, one whose sign-in is gone.
    let (status, error, text) =
        json_error(post(&app, &b, "/login/passkey/options", &[("return", "account"), ("csrf", "forged")]).await).await;
    assert_eq!((status, error.as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    assert!(text.contains("The form did not come from this site."), "{text}");
    let forged = b.post(app.url("/login/passkey/options")).header("Origin", "https://evil.example");
    let r = forged.form(&[("return", "account"), ("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(json_error(r).await.0, StatusCode::FORBIDDEN);
    let r = post(&app, &b, "/login/passkey/options", &[("interaction", "gone"), ("csrf", &csrf)]).await;
    let (status, error, text) = json_error(r).await;
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "sign_in_expired"));
    assert!(text.starts_with("This sign-in link has expired."), "{text}");
    let r = post(&app, &b, "/login/passkey/options", &[("return", "elsewhere"), ("csrf", &csrf)]).await;
    assert_eq!(json_error(r).await.1, "invalid_link");
    // Without the browser's cookie (a browser that blocks cookies).
    let r = other_browser().post(app.url("/login/passkey/options")).header("Origin", origin(&app));
    let r = r.form(&[("return", "account"), ("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(json_error(r).await.1, "cookies_blocked");

    // The account page's: without a token, signed out (not a redirect to the sign-in page, which the script would
    // follow), and with the token of a page served to an earlier session.
    sign_in_to_account(&app, &b).await;
    let stale = account_csrf(&app, &b).await;
    let r = post(&app, &b, "/account/passkeys/options", &[("csrf", &stale), ("name", "Laptop")]).await;
    assert_eq!(r.status(), StatusCode::OK, "signed in, the options");
    let r = post(&app, &b, "/account/passkeys/options", &[("name", "Laptop")]).await;
    assert_eq!(json_error(r).await.1, "forbidden");
    app.cli_json(&["users", "revoke", "alice"], None);
    let r = post(&app, &b, "/account/passkeys/options", &[("csrf", &stale), ("name", "Laptop")]).await;
    let (status, error, text) = json_error(r).await;
    assert_eq!((status, error.as_str()), (StatusCode::FORBIDDEN, "login_required"));
    assert!(text.contains("sign in again"), "{text}");
    sign_in_to_account(&app, &b).await;
    let r = post(&app, &b, "/account/passkeys/options", &[("csrf", &stale), ("name", "Laptop")]).await;
    let (status, error, text) = json_error(r).await;
    assert_eq!((status, error.as_str()), (StatusCode::FORBIDDEN, "page_out_of_date"));
    assert!(text.contains("Reload your account page"), "{text}");
    // The forms themselves still answer with pages.
    let r = post(&app, &b, "/account/passkeys", &[("csrf", &stale), ("ceremony", "x"), ("credential", "{}")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
});

/// Posts an account form of `f`'s downstream from its own page.
async fn account_post(f: &Federation, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post(&f.down, b, path, form).await
}

both_backends!(a_passkey_is_a_way_in_and_the_last_one_stays, async |app| {
    // alice exists only upstream: her account here has no password, and one link.
    let f = Federation::around_named(app, false, crate::signin::REDIRECT, "localhost", |_| {}).await;
    let b = browser();
    sign_in(&f, &b).await;
    let csrf = account_csrf(&f.down, &b).await;
    let unlink = [("csrf", csrf.as_str()), ("provider", "up")];

    // Without a passkey, the link is her only way in.
    let r = account_post(&f, &b, "/account/identities/unlink", &unlink).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("or add a passkey or link another account first."), "{page}");

    // With one, the link may go, and the passkey signs her in.
    let mut key = add_passkey(&f.down, &b, "Laptop").await;
    let r = account_post(&f, &b, "/account/identities/unlink", &unlink).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account?done=identity&provider=up".to_owned()));
    assert!(identities(&f, "alice").is_empty());
    let c = other_browser();
    let html = account_login_page(&f.down, &c).await;
    let r = sign_in_with(&f.down, &c, &html, &mut key).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));

    // Now it is her last way in: it stays, and the page says why.
    let page = b.get(f.down.url("/account")).send().await.unwrap().text().await.unwrap();
    let id = hidden(&page, "passkey");
    let r = account_post(&f, &b, "/account/passkeys/remove", &[("csrf", &csrf), ("passkey", &id)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("This passkey is the only way you can sign in: it was not removed."), "{page}");
    assert!(page.contains("role=\"alert\"") && page.contains("<bdi>Laptop</bdi>"), "{page}");
    assert!(events(&f.down, "passkey_removed").is_empty());

    // With another passkey, one may go; with a password, the last one too.
    add_passkey(&f.down, &b, "Phone").await;
    let r = account_post(&f, &b, "/account/passkeys/remove", &[("csrf", &csrf), ("passkey", &id)]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account?done=passkey-removed".to_owned()));
    let page = b.get(f.down.url("/account")).send().await.unwrap().text().await.unwrap();
    let phone = hidden(&page, "passkey");
    let r = account_post(&f, &b, "/account/passkeys/remove", &[("csrf", &csrf), ("passkey", &phone)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    f.down.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some(crate::signin::PASSWORD));
    let r = account_post(&f, &b, "/account/passkeys/remove", &[("csrf", &csrf), ("passkey", &phone)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let removed = events(&f.down, "passkey_removed");
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert_eq!(s(&removed[0], "actor"), s(&removed[0], "user_id"), "the user's own removal");
});

// Regression: a browser left signed in could add a passkey (a way in that outlives a new password and counts as
// two-step) or set up two-step verification (which locks its user out) hours after its sign-in; both now ask for a
// sign-in less than 5 minutes old, as deleting an account without a password does.
on_localhost!(a_passkey_or_an_authenticator_app_needs_a_recent_sign_in, async |app| {
    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    crate::account::execute(&store, "UPDATE sessions SET auth_time = auth_time - 360".into()).await;

    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("action=\"/account/otp/setup\"") && !html.contains("id=\"passkey-add\""), "{html}");
    for section in ["otp", "passkey"] {
        let link = format!("id=\"{section}-sign-in-again\" href=\"/login?return=account&amp;prompt=login\"");
        assert!(html.contains(&link), "{html}");
    }
    assert!(html.contains("To add a passkey, first sign in again: your last sign-in was more than 5 minutes ago."));
    let csrf = hidden(&html, "csrf");
    let r = post(&app, &b, "/account/passkeys/options", &[("csrf", &csrf), ("name", "Laptop")]).await;
    let (status, error, text) = json_error(r).await;
    assert_eq!((status, error.as_str()), (StatusCode::FORBIDDEN, "sign_in_again"));
    assert!(text.starts_with("To add a passkey, first sign in again"), "{text}");
    let r = post(&app, &b, "/account/otp/setup", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("To set up two-step verification, first sign in again"), "{html}");
    assert!(html.contains("href=\"/login?return=account&#38;prompt=login\">Sign in again</a>"), "{html}");

    // Signed in again (the sign-in is shown though signed in), both work.
    let login = b.get(app.url("/login?return=account&prompt=login")).send().await.unwrap().text().await.unwrap();
    let form = [
        ("return", "account"),
        ("csrf", &hidden(&login, "csrf")),
        ("username", "alice"),
        ("password", crate::signin::PASSWORD),
    ];
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(location(&r), "/account");
    add_passkey(&app, &b, "Laptop").await;
    let r = post(&app, &b, "/account/otp/setup", &[("csrf", &account_csrf(&app, &b).await)]).await;
    assert_eq!(r.status(), StatusCode::OK);
});
