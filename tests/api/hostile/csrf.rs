//! RFC 9700 §4.7 (cross-site request forgery) on our own forms (login, consent, logout), §4.16 (clickjacking)
//! on every page, and session fixation at sign-in.
use super::*;
use crate::signin::{add_alice, add_client};
use reqwest::cookie::CookieStore;
use std::sync::Arc;

/// Posts `form` to `path` with the extra `headers`.
async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = browser.post(app.url(path)).form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Form fields, or request headers.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// The forged variants of a form (attack, fields, headers): each must be refused with 403.
fn forgeries<'a>(
    own: &'a [(&'a str, &'a str)],
    foreign_csrf: &'a str,
    origin: &'a str,
) -> Vec<(&'static str, Pairs<'a>, Pairs<'a>)> {
    let without_csrf: Vec<_> = own.iter().copied().filter(|(k, _)| *k != "csrf").collect();
    let mut foreign = without_csrf.clone();
    foreign.push(("csrf", foreign_csrf));
    vec![
        ("missing csrf", without_csrf.clone(), vec![("Origin", origin)]),
        ("another interaction's csrf", foreign, vec![("Origin", origin)]),
        ("cross-site Origin", own.to_vec(), vec![("Origin", "https://evil.example")]),
        ("cross-site Sec-Fetch-Site", own.to_vec(), vec![("Sec-Fetch-Site", "cross-site")]),
        ("same-site (not same-origin) Sec-Fetch-Site", own.to_vec(), vec![("Sec-Fetch-Site", "same-site")]),
        ("Origin of another port", own.to_vec(), vec![("Origin", "http://127.0.0.1:1")]),
    ]
}

both_backends!(rfc9700_4_7_csrf_on_login_and_consent_is_refused, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let url = authorize_url(&app, &id, &challenge, "");
    let victim = browser();
    let attacker = browser();
    let form = open_login(&app, &victim, &url).await;
    let theirs = open_login(&app, &attacker, &url).await;

    // Login.
    let own = [
        ("interaction", form.interaction.as_str()),
        ("csrf", form.csrf.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    for (attack, fields, headers) in forgeries(&own, &theirs.csrf, &app.address) {
        let r = post(&app, &victim, "/login", &headers, &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "login: {attack}");
        assert!(r.headers().get("set-cookie").is_none(), "login: {attack} set a cookie");
    }
    // Login CSRF proper: the attacker's own interaction (and token) posted from the victim's browser is not the
    // victim's sign-in: it is bound to the attacker's browser.
    let planted = [
        ("interaction", theirs.interaction.as_str()),
        ("csrf", theirs.csrf.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let r = post(&app, &victim, "/login", &[("Origin", &app.address)], &planted).await;
    assert_page_not_redirect(r, "login: the attacker's interaction").await;

    // The real form still works: the refusals were about the forgery.
    let r = post(&app, &victim, "/login", &[("Origin", &app.address)], &own).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let consent = location(&r);
    assert!(consent.starts_with("/consent"), "{consent}");

    // Consent.
    let html = victim.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
    let (interaction, csrf) = (hidden(&html, "interaction"), hidden(&html, "csrf"));
    let own = [("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")];
    for (attack, fields, headers) in forgeries(&own, &theirs.csrf, &app.address) {
        let r = post(&app, &victim, "/consent", &headers, &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "consent: {attack}");
        assert!(r.headers().get("location").is_none(), "consent: {attack}");
    }
    let r = post(&app, &victim, "/consent", &[("Origin", &app.address)], &own).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_of(&location(&r)).contains_key("code"));
});

/// Whether `browser` has a live session: `prompt=none` gets a code rather than `login_required`.
async fn signed_in(app: &TestApp, browser: &reqwest::Client, client_id: &str) -> bool {
    let (challenge, _) = pkce_pair();
    let r = browser.get(authorize_url(app, client_id, &challenge, "&prompt=none")).send().await.unwrap();
    let q = query_of(&location(&r));
    assert!(q.contains_key("code") || q.get("error").map(String::as_str) == Some("login_required"), "{q:?}");
    q.contains_key("code")
}

both_backends!(rfc9700_4_7_csrf_on_logout_is_refused, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let victim = browser();
    drive(&app, &victim, &authorize_url(&app, &id, &challenge, ""), "allow").await;
    let attacker = browser();
    drive(&app, &attacker, &authorize_url(&app, &id, &challenge, ""), "allow").await;
    assert!(signed_in(&app, &victim, &id).await);

    let html = victim.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let theirs = hidden(&attacker.get(app.url("/logout")).send().await.unwrap().text().await.unwrap(), "csrf");
    let own = [("csrf", csrf.as_str()), ("decision", "logout")];
    for (attack, fields, headers) in forgeries(&own, &theirs, &app.address) {
        let r = post(&app, &victim, "/logout", &headers, &fields).await;
        if attack == "missing csrf" || attack == "another interaction's csrf" {
            // From our own origin without this session's token (none, or a stale page's) the user is asked,
            // with a token of this session, not signed out.
            assert_eq!(r.status(), StatusCode::OK, "logout: {attack}");
            let html = r.text().await.unwrap();
            assert_eq!(hidden(&html, "csrf"), csrf, "logout: {attack} shows this session's confirmation");
        } else {
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "logout: {attack}");
        }
        assert!(signed_in(&app, &victim, &id).await, "logout: {attack} signed the victim out");
    }
    let r = post(&app, &victim, "/logout", &[("Origin", &app.address)], &own).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!signed_in(&app, &victim, &id).await, "the real confirmation signs out");
    assert!(signed_in(&app, &attacker, &id).await, "only that browser");
});

/// Asserts the anti-framing headers of a page.
fn assert_not_frameable(r: &reqwest::Response, page: &str) {
    let csp = r.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
    assert!(
        csp.as_deref().is_some_and(|c| c.contains("frame-ancestors 'none'")),
        "{page} ({}): CSP {csp:?}",
        r.status()
    );
    assert_eq!(
        r.headers().get("x-frame-options").map(|v| v.to_str().unwrap()),
        Some("DENY"),
        "{page}: X-Frame-Options"
    );
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{page}");
}

both_backends!(rfc9700_4_16_clickjacking_no_page_can_be_framed, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public", "--post-logout-redirect-uri", "http://127.0.0.1:9/bye"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let b = browser();
    let url = authorize_url(&app, &id, &challenge, "");

    let r = b.get(app.url("/authorize?client_id=nobody")).send().await.unwrap();
    assert_not_frameable(&r, "authorization error page");
    let r = b.get(app.url("/login")).send().await.unwrap();
    assert_not_frameable(&r, "expired sign-in page");
    let form = open_login(&app, &b, &url).await;
    let r = b.get(app.url(&format!("/login?interaction={}", form.interaction))).send().await.unwrap();
    assert_not_frameable(&r, "login page");
    let r = submit_login(&app, &b, &form, "alice", "wrong").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_not_frameable(&r, "login page after a failure");
    let r = b
        .post(app.url("/login"))
        .header("Origin", "https://evil.example")
        .form(&[("interaction", form.interaction.as_str()), ("csrf", form.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_not_frameable(&r, "forbidden form page");
    let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
    let consent = location(&r);
    let r = b.get(app.url(&consent)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_not_frameable(&r, "consent page");
    let html = r.text().await.unwrap();
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
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b.get(authorize_url(&app, &id, &challenge, "&response_mode=form_post")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_not_frameable(&r, "form_post page");
    let r = b.get(app.url("/logout")).send().await.unwrap();
    assert_not_frameable(&r, "logout confirmation");
    let r = b.get(app.url("/logout?post_logout_redirect_uri=https://evil.example/")).send().await.unwrap();
    assert_not_frameable(&r, "logout error page");
    let csrf = hidden(&b.get(app.url("/logout")).send().await.unwrap().text().await.unwrap(), "csrf");
    let r = b.post(app.url("/logout")).form(&[("csrf", csrf.as_str()), ("decision", "logout")]).send().await.unwrap();
    assert_not_frameable(&r, "signed-out page");
});

both_backends!(session_fixation_the_session_cookie_changes_at_sign_in, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id").to_owned();
    let (challenge, _) = pkce_pair();
    let base = url::Url::parse(&app.address).unwrap();
    let session = |jar: &reqwest::cookie::Jar| -> Option<String> {
        let header = jar.cookies(&base)?;
        header.to_str().unwrap().split("; ").find_map(|c| c.strip_prefix("tessera=")).map(str::to_owned)
    };
    // The attacker planted a session cookie value in the victim's browser.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str("tessera=planted-by-the-attacker; Path=/", &base);
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::clone(&jar))
        .build()
        .unwrap();
    let back = drive(&app, &b, &authorize_url(&app, &id, &challenge, ""), "allow").await;
    assert!(query_of(&back).contains_key("code"));
    let first = session(&jar).expect("a session cookie");
    assert_ne!(first, "planted-by-the-attacker");
    // Signing in again over a live session also replaces the id.
    let back = drive(&app, &b, &authorize_url(&app, &id, &challenge, "&prompt=login"), "allow").await;
    assert!(query_of(&back).contains_key("code"));
    let second = session(&jar).expect("a session cookie");
    assert_ne!(second, first, "the id is replaced at every sign-in");

    // An attacker who knows the first value (they planted a session of their own, say) has nothing current.
    let replay = browser();
    let r = replay
        .get(authorize_url(&app, &id, &challenge, "&prompt=none"))
        .header("Cookie", format!("tessera={}", "planted-by-the-attacker"))
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(&location(&r)).get("error").map(String::as_str), Some("login_required"));
});
