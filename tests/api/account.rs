//! The account page: the signed-in user's sessions and connected apps, each revocable, and the sign-in that
//! leads back to it.
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, browse, hidden, introspect_basic, location, pkce_pair, query_of, redeem_code, token_basic,
    urlencode, PASSWORD, REDIRECT,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A client that keeps its own cookies (another browser) and follows no redirects.
pub(crate) fn other_browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

/// Signs alice in through `/account` in browser `c`: the page sends her to sign in, and back afterwards.
pub(crate) async fn sign_in_to_account(app: &TestApp, c: &reqwest::Client) {
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r);
    assert_eq!(login, "/login?return=account");
    let html = c.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("to manage your account"), "{html}");
    let r = c
        .post(app.url("/login"))
        .header("Origin", &app.address)
        .form(&[("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/account");
}

/// The account page of browser `c`, which must be signed in.
async fn account_page(app: &TestApp, c: &reqwest::Client) -> String {
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers().get("location"));
    r.text().await.unwrap()
}

/// Every value of the hidden field `name` in a page, in order.
fn hidden_all(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        })
        .collect()
}

async fn post_form(app: &TestApp, c: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(app.url(path)).header("Origin", &app.address).form(form).send().await.unwrap()
}

/// A confidential client with alice's consent for `scope`, and the tokens of a code flow.
pub(crate) async fn connected_app(app: &TestApp, scope: &str) -> (String, String, Value) {
    connected_app_named(app, "Test App", scope).await
}

/// [`connected_app`] for a client named `name`.
async fn connected_app_named(app: &TestApp, name: &str, scope: &str) -> (String, String, Value) {
    let client = app.cli_json(&["clients", "add", "--name", name, "--redirect-uri", REDIRECT], None);
    let (id, secret) =
        (client["client_id"].as_str().unwrap().to_owned(), client["client_secret"].as_str().unwrap().to_owned());
    let (challenge, verifier) = pkce_pair();
    let url = authorize_url(app, &id, &challenge, scope);
    let back = browse(app, &url, Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    let (status, tokens) = token_basic(app, &id, &secret, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (id, secret, tokens)
}

pub(crate) fn authorize_url(app: &TestApp, client_id: &str, challenge: &str, scope: &str) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        app.address,
        urlencode(REDIRECT),
        urlencode(scope)
    )
}

both_backends!(signed_out_account_goes_to_sign_in_and_back, async |app| {
    add_alice(&app);
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Signed in, the account sign-in goes straight to the page.
    let again = c.get(app.url("/login?return=account")).send().await.unwrap();
    assert_eq!((again.status(), location(&again)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    let headers = r.headers().clone();
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("Signed in as <strong><bdi>alice</bdi></strong>"), "{html}");
    assert!(html.contains("current session"), "{html}");
    // Ending a session is not removing an app: the page says so where sessions are ended.
    assert!(html.contains("Apps with offline access keep it"), "{html}");
    assert!(html.contains("No app has access to your account."), "{html}");
    assert_eq!(hidden_all(&html, "session").len(), 1);

    // The account sign-in refuses a wrong password, a missing or foreign CSRF token and another origin.
    let b = other_browser();
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let attempt = |csrf: String, origin: &'static str, password: &'static str| {
        let b = b.clone();
        let url = app.url("/login");
        let origin = if origin.is_empty() { app.address.clone() } else { origin.to_owned() };
        async move {
            let form = [("return", "account"), ("csrf", csrf.as_str()), ("username", "alice"), ("password", password)];
            b.post(url).header("Origin", origin).form(&form).send().await.unwrap().status()
        }
    };
    assert_eq!(attempt(csrf.clone(), "", "wrong").await, StatusCode::OK);
    assert_eq!(attempt(String::new(), "", PASSWORD).await, StatusCode::FORBIDDEN);
    assert_eq!(
        attempt(crate::signin::hidden(&account_page(&app, c).await, "csrf"), "", PASSWORD).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(attempt(csrf.clone(), "https://evil.example", PASSWORD).await, StatusCode::FORBIDDEN);
    assert_eq!(attempt(csrf, "", PASSWORD).await, StatusCode::SEE_OTHER);
    // Only the fixed target exists: anything else is no sign-in at all.
    let r = b.get(app.url("/login?return=https%3A%2F%2Fevil.example")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
});

both_backends!(revoking_an_app_ends_its_tokens_and_asks_consent_again, async |app| {
    let alice = add_alice(&app);
    let (id, secret, tokens) = connected_app(&app, "openid profile offline_access").await;
    let c = &app.api_client;
    let html = account_page(&app, c).await;
    assert!(html.contains("<strong><bdi>Test App</bdi></strong>"), "{html}");
    assert!(html.contains("See your name and username"), "{html}");
    assert!(html.contains("(offline access)"), "{html}");
    assert_eq!(hidden_all(&html, "client_id"), std::slice::from_ref(&id));
    let csrf = hidden(&html, "csrf");

    let r = post_form(&app, c, "/account/apps/revoke", &[("csrf", &csrf), ("client_id", &id)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/account?done=app&client_id={id}"));
    let html = account_page(&app, c).await;
    assert!(!html.contains("Test App") && html.contains("No app has access"), "{html}");
    // Audited with the user acting, said in words beside the operators' withdrawals.
    let events = app.cli_json(&["audit", "list", "--client", &id], None);
    let event = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "account_app_revoked").unwrap();
    assert_eq!((&event["actor"], &event["user_id"]), (&event["user_id"], &alice["id"]), "{event}");
    assert_eq!((&event["details"]["by"], &event["details"]["consent"]), (&json!("user"), &json!(true)), "{event}");

    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, body) =
        token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect_basic(&app, &id, &secret, at).await["active"], false);
    assert_eq!(introspect_basic(&app, &id, &secret, rt).await["active"], false);

    // The session stays; the app must ask for consent again.
    let (challenge, _) = pkce_pair();
    let r = c.get(authorize_url(&app, &id, &challenge, "openid profile")).send().await.unwrap();
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));
});

both_backends!(revoking_an_app_ends_the_codes_it_has_not_redeemed_yet, async |app| {
    add_alice(&app);
    let (id, secret, _) = connected_app(&app, "openid offline_access").await;
    let c = &app.api_client;
    // The consent is remembered, so the next authorization answers with a code at once.
    let code_now = |challenge: String| {
        let url = authorize_url(&app, &id, &challenge, "openid offline_access");
        async move {
            let r = c.get(url).send().await.unwrap();
            query_of(&location(&r)).remove("code").unwrap_or_else(|| panic!("no code: {}", location(&r)))
        }
    };
    let (challenge, verifier) = pkce_pair();
    let pending = code_now(challenge).await;

    let csrf = hidden(&account_page(&app, c).await, "csrf");
    let r = post_form(&app, c, "/account/apps/revoke", &[("csrf", &csrf), ("client_id", &id)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (status, body) = redeem_code(&app, &id, &secret, &pending, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // The refresh token family that redemption stored is revoked: the app has no access left.
    let html = account_page(&app, c).await;
    assert!(html.contains("No app has access"), "{html}");

    // Consenting again starts afresh: the new code is redeemed.
    let (challenge, verifier) = pkce_pair();
    let back = browse(&app, &authorize_url(&app, &id, &challenge, "openid offline_access"), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, body) = redeem_code(&app, &id, &secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string(), "{body}");
});

both_backends!(offline_access_is_not_granted_to_a_client_that_cannot_refresh, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--grant-type", "authorization_code"]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let (challenge, verifier) = pkce_pair();
    let url = authorize_url(&app, id, &challenge, "openid offline_access");
    let back = browse(&app, &url, Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = redeem_code(&app, id, secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid", "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let html = account_page(&app, &app.api_client).await;
    assert!(html.contains("<strong><bdi>Test App</bdi></strong>") && !html.contains("(offline access)"), "{html}");
});

// Regression: removing an app's access ended the tokens its refresh tokens record, but an app without refresh
// tokens kept a working access token (introspection active, /userinfo answered) until it expired.
both_backends!(revoking_an_app_without_refresh_tokens_ends_its_access_tokens, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--grant-type", "authorization_code"]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let code_flow = || async {
        let (challenge, verifier) = pkce_pair();
        let back = browse(&app, &authorize_url(&app, id, &challenge, "openid profile"), Some("allow")).await;
        let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
        let (status, tokens) = redeem_code(&app, id, secret, &code, &verifier).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        tokens["access_token"].as_str().unwrap().to_owned()
    };
    let userinfo = |at: String| {
        let c = app.api_client.clone();
        let url = app.url("/userinfo");
        async move { c.get(url).bearer_auth(at).send().await.unwrap().status() }
    };
    let at = code_flow().await;
    assert_eq!(userinfo(at.clone()).await, StatusCode::OK);
    let c = &app.api_client;
    let csrf = hidden(&account_page(&app, c).await, "csrf");
    let r = post_form(&app, c, "/account/apps/revoke", &[("csrf", &csrf), ("client_id", id)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(introspect_basic(&app, id, secret, &at).await["active"], false);
    assert_eq!(userinfo(at).await, StatusCode::UNAUTHORIZED);
    // Allowed again at once, the app's new token lives.
    let again = code_flow().await;
    assert_eq!(introspect_basic(&app, id, secret, &again).await["active"], true);
    assert_eq!(userinfo(again).await, StatusCode::OK);
    // A stale page's form for an app since removed has nothing to withdraw, and says nothing went wrong.
    let csrf = hidden(&account_page(&app, c).await, "csrf");
    let r = post_form(&app, c, "/account/apps/revoke", &[("csrf", &csrf), ("client_id", "removed-app")]).await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/account?done=app&client_id=removed-app".to_owned())
    );
});

/// Asserts every button's accessible name (its `aria-label`) starts with its visible text (WCAG 2.5.3 Label in
/// Name), so that a speech user can say what they see.
fn assert_label_in_name(html: &str) {
    let mut buttons = 0;
    for (at, _) in html.match_indices("<button") {
        let tag_end = at + html[at..].find('>').unwrap();
        let text_end = tag_end + html[tag_end..].find("</button>").unwrap();
        let (tag, text) = (&html[at..tag_end], html[tag_end + 1..text_end].trim());
        if let Some((_, label)) = tag.split_once("aria-label=\"") {
            let label = &label[..label.find('"').unwrap()];
            assert!(label.starts_with(text), "the button {text:?} is labelled {label:?}");
        }
        buttons += 1;
    }
    assert!(buttons > 0, "no button in:\n{html}");
}

both_backends!(revoking_another_session_ends_it_and_the_current_one_signs_out, async |app| {
    add_alice(&app);
    let (id, secret, tokens) = connected_app(&app, "openid").await;
    let a = &app.api_client;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, &b).await;
    let sessions = hidden_all(&html, "session");
    assert_eq!(sessions.len(), 2, "{html}");
    assert_label_in_name(&html);
    // The current session comes first: the other is the first browser's.
    let (b_session, a_session) = (sessions[0].clone(), sessions[1].clone());
    let csrf_b = hidden(&html, "csrf");
    let r = post_form(&app, &b, "/account/sessions/revoke", &[("csrf", &csrf_b), ("session", &a_session)]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account?done=session".to_owned()));
    // The first browser is signed out, and its session-bound tokens are revoked.
    let r = a.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account");
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = token_basic(&app, &id, &secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(introspect_basic(&app, &id, &secret, tokens["access_token"].as_str().unwrap()).await["active"], false);
    // The second stays, alone.
    let html = account_page(&app, &b).await;
    assert_eq!(hidden_all(&html, "session"), std::slice::from_ref(&b_session));

    // Another user's session, or a made-up one, ends nothing.
    let r = post_form(&app, &b, "/account/sessions/revoke", &[("csrf", &csrf_b), ("session", "nope")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    account_page(&app, &b).await;

    // Ending the current session signs the browser out.
    let r = post_form(&app, &b, "/account/sessions/revoke", &[("csrf", &csrf_b), ("session", &b_session)]).await;
    assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()));
    let r = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account");
});

/// The account page's session entries, in order, each as its HTML.
fn session_entries(html: &str) -> Vec<String> {
    let start = html.find("id=\"sessions-heading\"").unwrap();
    let end = html.find("id=\"apps-heading\"").unwrap();
    html[start..end].split("<li>").skip(1).map(str::to_owned).collect()
}

// Sessions are told apart by the browser and the address they were started from, behind a proxy the client's.
both_backends!(
    sessions_show_their_browser_and_address,
    |raw| {
        raw.http.trusted_proxies = vec!["127.0.0.1".into()];
    },
    async |app| {
        add_alice(&app);
        let browser = |user_agent: &str, ip: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("x-forwarded-for", ip.parse().unwrap());
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .user_agent(user_agent)
                .default_headers(headers)
                .build()
                .unwrap()
        };
        let laptop = browser("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "203.0.113.9");
        let phone = browser(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "2001:db8::7",
        );
        sign_in_to_account(&app, &laptop).await;
        sign_in_to_account(&app, &phone).await;
        let html = account_page(&app, &phone).await;
        let entries = session_entries(&html);
        assert_eq!(entries.len(), 2, "{html}");
        let (current, other) = (&entries[0], &entries[1]);
        assert!(
            current.contains("Chrome on Android <span class=\"tag\">current session</span>")
                && current.contains("<dd>2001:db8::7</dd>"),
            "{current}"
        );
        assert!(
            other.contains("<p class=\"entry-title\">Firefox on Linux</p>") && other.contains("<dd>203.0.113.9</dd>"),
            "{other}"
        );
        assert!(other.contains("aria-label=\"End session: Firefox on Linux at 203.0.113.9, started "), "{other}");
        assert_label_in_name(&html);
        // The laptop sees the same two, its own first.
        let entries = session_entries(&account_page(&app, &laptop).await);
        assert!(entries[0].contains("Firefox on Linux <span class=\"tag\">current session</span>"), "{entries:?}");
        assert!(entries[1].contains("Chrome on Android"), "{entries:?}");
    }
);

// A browser that sends no User-Agent is an unknown device, and its address is still shown.
both_backends!(a_session_without_a_user_agent_is_an_unknown_device, async |app| {
    add_alice(&app);
    let c = &app.api_client;
    sign_in_to_account(&app, c).await;
    let entries = session_entries(&account_page(&app, c).await);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].contains("Unknown device <span class=\"tag\">current session</span>"), "{entries:?}");
    assert!(entries[0].contains("<dd>127.0.0.1</dd>"), "{entries:?}");
});

both_backends!(account_forms_refuse_a_missing_or_foreign_csrf_token, async |app| {
    add_alice(&app);
    let (id, _, _) = connected_app(&app, "openid").await;
    let a = &app.api_client;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, a).await;
    let (csrf_a, sessions) = (hidden(&html, "csrf"), hidden_all(&html, "session"));
    let csrf_b = hidden(&account_page(&app, &b).await, "csrf");
    let other = sessions[1].clone();
    for csrf in [None, Some(""), Some("wrong"), Some(csrf_b.as_str())] {
        let mut form = vec![("client_id", id.as_str())];
        form.extend(csrf.map(|t| ("csrf", t)));
        let r = post_form(&app, a, "/account/apps/revoke", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
        let mut form = vec![("session", other.as_str())];
        form.extend(csrf.map(|t| ("csrf", t)));
        let r = post_form(&app, a, "/account/sessions/revoke", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    // A valid token from another site is refused too.
    let r = a
        .post(app.url("/account/apps/revoke"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf_a.as_str()), ("client_id", &id)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = a
        .post(app.url("/account/sessions/revoke"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf_a.as_str()), ("session", &other)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nothing was ended.
    let html = account_page(&app, a).await;
    assert_eq!(hidden_all(&html, "client_id"), [id]);
    assert_eq!(hidden_all(&html, "session").len(), 2);
    account_page(&app, &b).await;
    // Without a session there is nothing to act for: sign in first.
    let r = crate::signin::without_cookies()
        .post(app.url("/account/apps/revoke"))
        .form(&[("csrf", csrf_a.as_str()), ("client_id", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/login?return=account");
});

/// The `name=value` of the cookie `name` that `r` sets.
fn cookie_set(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .find(|pair| pair.split_once('=').is_some_and(|(n, _)| n == name))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_owned()
}

// Regression: one cookie that is not UTF-8 (another application's, on the same host) made actix-web drop the
// whole Cookie header, so the page took a signed-in user for signed out.
both_backends!(a_cookie_that_is_not_utf8_hides_no_other, async |app| {
    add_alice(&app);
    let c = crate::signin::without_cookies();
    let r = c.get(app.url("/login?return=account")).send().await.unwrap();
    let binding = cookie_set(&r, "tessera-browser");
    let html = r.text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = c
        .post(app.url("/login"))
        .header("Origin", &app.address)
        .header("Cookie", format!("lang=x; {binding}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/account");
    let session = cookie_set(&r, "tessera");
    for line in [
        [b"lang=\xe9; ".as_slice(), session.as_bytes()].concat(),
        [session.as_bytes(), b"; theme=\xff\xfe; =; junk"].concat(),
        [b"tessera=\xe9; ".as_slice(), session.as_bytes()].concat(),
    ] {
        let cookie = reqwest::header::HeaderValue::from_bytes(&line).unwrap();
        let r = c.get(app.url("/account")).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: {:?}", String::from_utf8_lossy(&line), r.headers().get("location"));
    }
});

// Regression: with cookies blocked, the account sign-in answered "This form cannot be accepted", which says
// nothing of what to change.
both_backends!(account_sign_in_without_cookies_asks_for_them, async |app| {
    add_alice(&app);
    let c = crate::signin::without_cookies();
    let html = c.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("cookies are enabled for this site"), "{html}");
    // From another site the post is a forgery, cookies or not.
    let r = c.post(app.url("/login")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
});

/// The page's status message (`role="status"`), if it shows one.
fn status_message(html: &str) -> Option<&str> {
    let start = html.find("role=\"status\">")? + "role=\"status\">".len();
    Some(&html[start..start + html[start..].find('<')?])
}

both_backends!(account_page_says_what_a_form_just_did, async |app| {
    add_alice(&app);
    let (id, _, _) = connected_app_named(&app, "<b>Mallory & Co</b>", "openid").await;
    let (kept, _, _) = connected_app(&app, "openid").await;
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, &b).await;
    assert_eq!(status_message(&html), None, "{html}");
    let csrf = hidden(&html, "csrf");
    let a_session = hidden_all(&html, "session")[1].clone();
    let follow = |r: reqwest::Response| {
        let (b, url) = (b.clone(), app.url(&location(&r)));
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };

    let r = post_form(&app, &b, "/account/sessions/revoke", &[("csrf", &csrf), ("session", &a_session)]).await;
    assert_eq!(location(&r), "/account?done=session");
    let html = follow(r).await;
    assert_eq!(status_message(&html), Some("Signed out of that session."), "{html}");
    assert_eq!(status_message(&account_page(&app, &b).await), None, "the page without the query says nothing");

    // The app is named as registered, escaped.
    let r = post_form(&app, &b, "/account/apps/revoke", &[("csrf", &csrf), ("client_id", &id)]).await;
    let html = follow(r).await;
    assert_eq!(status_message(&html), Some("Access removed for &#60;b&#62;Mallory &#38; Co&#60;/b&#62;."), "{html}");
    assert!(!html.contains("<b>Mallory"), "{html}");

    // What the query cannot vouch for says nothing: an unknown value, no app, an app that does not exist, an app
    // still connected, a repeated parameter.
    for query in [
        "done=everything".to_owned(),
        "done=app".to_owned(),
        "done=app&client_id=nobody".to_owned(),
        format!("done=app&client_id={kept}"),
        "done=session&done=session".to_owned(),
    ] {
        let html = b.get(app.url(&format!("/account?{query}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Signed in as"), "{query}: {html}");
        assert_eq!(status_message(&html), None, "{query}: {html}");
    }
});

both_backends!(apps_are_listed_by_name_and_sign_in_methods_in_words, async |app| {
    add_alice(&app);
    let mut apps = Vec::new();
    for name in ["delta", "Bravo", "alpha", "Charlie", "Alpha"] {
        let (id, _, _) = connected_app_named(&app, name, "openid").await;
        apps.push((name.to_lowercase(), id));
    }
    // By name ignoring case; one name twice, by client id.
    apps.sort();
    let html = account_page(&app, &app.api_client).await;
    let expected: Vec<String> = apps.into_iter().map(|(_, id)| id).collect();
    assert_eq!(hidden_all(&html, "client_id"), expected, "{html}");
    assert!(html.contains(" (password)</dd>") && !html.contains("(pwd)"), "{html}");
});

both_backends!(a_form_from_a_stale_account_page_says_the_page_was_out_of_date, async |app| {
    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let html = account_page(&app, &b).await;
    let (stale, session) = (hidden(&html, "csrf"), hidden(&html, "session"));
    // Signed out and in again (as in another tab): the page above is out of date.
    let r = post_form(&app, &b, "/account/sessions/revoke", &[("csrf", &stale), ("session", &session)]).await;
    assert_eq!(location(&r), "/account");
    sign_in_to_account(&app, &b).await;
    let session = hidden(&account_page(&app, &b).await, "session");
    let form = [("csrf", stale.as_str()), ("session", session.as_str())];
    let post = |headers: &'static [(&'static str, &'static str)], origin: Option<String>| {
        let mut req = b.post(app.url("/account/sessions/revoke")).form(&form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            r.text().await.unwrap()
        }
    };
    const STALE: &str = "This page was out of date. Reload your account page and try again.";
    const FOREIGN: &str = "did not come from this site";
    // From our own page, by Origin or by Sec-Fetch-Site (browsers send `Origin: null` under no-referrer).
    for html in [
        post(&[], Some(app.address.clone())).await,
        post(&[("Sec-Fetch-Site", "same-origin")], Some("null".to_owned())).await,
    ] {
        assert!(html.contains(STALE) && !html.contains(FOREIGN), "{html}");
        assert!(html.contains("<a href=\"/account\">"), "{html}");
    }
    // From another site, or from nowhere said: as before.
    for html in [
        post(&[], Some("https://evil.example".to_owned())).await,
        post(&[("Sec-Fetch-Site", "cross-site")], None).await,
        post(&[], None).await,
    ] {
        assert!(html.contains(FOREIGN) && !html.contains(STALE), "{html}");
    }
    // Nothing was ended.
    assert_eq!(hidden_all(&account_page(&app, &b).await, "session"), std::slice::from_ref(&session));
});

both_backends!(a_get_of_a_form_target_goes_to_the_account_page, async |app| {
    add_alice(&app);
    let (id, _, _) = connected_app(&app, "openid").await;
    let c = &app.api_client;
    for path in ["/account/sessions/revoke", "/account/apps/revoke"] {
        let query = format!("{path}?client_id={id}");
        for r in [
            c.get(app.url(path)).send().await.unwrap(),
            c.get(app.url(&query)).send().await.unwrap(),
            c.head(app.url(path)).send().await.unwrap(),
        ] {
            assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/account".to_owned()), "{path}");
        }
        // The form still posts there; other methods are still refused.
        let r = c.delete(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    // Nothing was ended.
    let html = account_page(&app, c).await;
    assert_eq!((hidden_all(&html, "client_id"), hidden_all(&html, "session").len()), (vec![id], 1));
});

both_backends!(a_sign_in_link_with_a_bad_return_says_it_is_not_valid, async |app| {
    add_alice(&app);
    let b = other_browser();
    // The browser-binding cookie, so an unknown interaction is not taken for blocked cookies.
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    const NOT_VALID: &str = "This sign-in link is not valid";
    const EXPIRED: &str = "This sign-in link has expired";
    let says = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        (html.contains(NOT_VALID), html.contains(EXPIRED), html.contains("<a href=\"/account\">"))
    };
    for query in ["return=https%3A%2F%2Fevil.example", "return=Account", "return=%2Faccount"] {
        let r = b.get(app.url(&format!("/login?{query}"))).send().await.unwrap();
        assert_eq!(says(r).await, (true, false, true), "{query}");
    }
    let form = [("return", "evil"), ("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let r = post_form(&app, &b, "/login", &form).await;
    assert_eq!(says(r).await, (true, false, true));
    // An unknown interaction, or none at all, is still an expired link.
    for query in ["interaction=nope", "interaction=nope&return=evil", ""] {
        let r = b.get(app.url(&format!("/login?{query}"))).send().await.unwrap();
        assert_eq!(says(r).await, (false, true, false), "{query}");
    }
});

/// The one session of `user`, as stored.
async fn stored_session(
    store: &tessera::storage::diesel::DieselStore,
    user: &tessera::domain::UserId,
) -> tessera::domain::Session {
    use tessera::storage::SessionStore;
    let mut sessions = store.sessions_of_user(user, tessera::domain::now()).await.unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions.remove(0)
}

/// Runs `sql` on the app's database.
pub(crate) async fn execute(store: &tessera::storage::diesel::DieselStore, sql: String) {
    store.db().write(move |c| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), c)?)).await.unwrap();
}

/// Stores `at` as the last use of every session, as if the browser had last used them then.
pub(crate) async fn set_last_used(store: &tessera::storage::diesel::DieselStore, at: i64) {
    execute(store, format!("UPDATE sessions SET last_used_at = {at}")).await;
}

/// An authorization of `client_id` answered with a code from the browser's session.
async fn single_sign_on(app: &TestApp, client_id: &str) {
    let (challenge, _) = pkce_pair();
    let r = app.api_client.get(authorize_url(app, client_id, &challenge, "openid")).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
}

/// The account page's line for a session's last use at `at`.
fn last_used_line(at: i64) -> String {
    format!("<dt>Last used</dt><dd>{}</dd>", tessera::http::views::utc_time(at))
}

// Each session shows when the browser last used it: a single sign-on, the account page and the consent page
// record a use over one a minute old or more, and write nothing within the minute (the stored time is set back
// to see it move, or stay).
both_backends!(the_browser_use_of_a_session_is_recorded_at_most_once_a_minute, async |app| {
    use tessera::storage::UserStore;
    add_alice(&app);
    let (id, _, _) = connected_app(&app, "openid").await;
    let c = &app.api_client;
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let alice = tessera::domain::Username::parse("alice").unwrap();
    let alice = store.user_by_username(&alice).await.unwrap().unwrap().0.id;
    let began = stored_session(&store, &alice).await;
    assert_eq!(began.last_used_at, began.created_at, "a new session was last used when it began");
    // As if it had begun two hours ago: the page shows no use before a session's start.
    execute(&store, format!("UPDATE sessions SET created_at = {}", began.created_at - 7_200)).await;
    let old = began.created_at - 3_600;
    let (store, alice) = (&store, &alice);
    let last_used = move || async move { stored_session(store, alice).await.last_used_at };

    set_last_used(store, old).await;
    let before = tessera::domain::now();
    single_sign_on(&app, &id).await;
    assert!(last_used().await >= before, "a single sign-on is a use");
    // Within the minute, another writes nothing.
    let recent = tessera::domain::now() - 30;
    set_last_used(store, recent).await;
    single_sign_on(&app, &id).await;
    assert_eq!(last_used().await, recent);

    // The page shows it for the current session, and viewing it within the minute writes nothing either.
    let html = account_page(&app, c).await;
    assert!(html.contains(&last_used_line(recent)), "{html}");
    assert_eq!(last_used().await, recent);
    // Over an older use, viewing the page is a use, shown at once.
    set_last_used(store, old).await;
    let before = tessera::domain::now();
    let html = account_page(&app, c).await;
    let used = last_used().await;
    assert!(used >= before, "viewing the account page is a use");
    assert!(html.contains(&last_used_line(used)), "{html}");

    // So is a step of the consent page.
    set_last_used(store, old).await;
    let (challenge, _) = pkce_pair();
    let r = c.get(format!("{}&prompt=consent", authorize_url(&app, &id, &challenge, "openid"))).send().await.unwrap();
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let before = tessera::domain::now();
    assert_eq!(c.get(app.url(&consent)).send().await.unwrap().status(), StatusCode::OK);
    assert!(last_used().await >= before, "showing the consent page is a use");
});
