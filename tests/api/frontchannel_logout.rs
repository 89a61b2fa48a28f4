//! OpenID Connect Front-Channel Logout 1.0: the signed-out page frames the `frontchannel_logout_uri` of each
//! client that was issued tokens in the ended session, with `iss` and `sid`; its CSP lets exactly those origins
//! be framed, and with a `post_logout_redirect_uri` it leads on to the app once they have loaded.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, auth_url, browse, hidden, pkce_pair, query_of, redeem_code, urlencode};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The app of `REDIRECT` (`http://127.0.0.1:9`): a front-channel logout URI must share a redirect URI's origin.
const APP: &str = "http://127.0.0.1:9";

/// A client made by the CLI with `extra` flags: its id and secret.
fn client(app: &TestApp, extra: &[&str]) -> (String, String) {
    let c = add_client(app, extra);
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

/// A code flow of alice with `client` in the test's browser: the ID token and its claims.
async fn signed_in(app: &TestApp, (id, secret): &(String, String)) -> (String, Value) {
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, id, &challenge, ""), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = redeem_code(app, id, secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let (_, claims) = verified(app, &id_token).await;
    (id_token, claims)
}

/// An attribute value as the page wrote it, unescaped (named and numeric character references).
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map(|e| at + e).unwrap_or_else(|| panic!("a bare & in {v}"));
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                    None => entity.strip_prefix('#').unwrap_or_else(|| panic!("&{entity}; in {v}")).parse().unwrap(),
                };
                char::from_u32(code).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The `src` of every front-channel logout frame of a page.
pub fn frames(html: &str) -> Vec<String> {
    html.split("<iframe ")
        .skip(1)
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            assert!(
                tag.contains("title=\"") && tag.contains("aria-hidden=\"true\"") && tag.contains("tabindex=\"-1\""),
                "{tag}"
            );
            let start = tag.find("src=\"").unwrap() + 5;
            unescape(&tag[start..start + tag[start..].find('"').unwrap()])
        })
        .collect()
}

/// Where the page's "Continue" link leads.
fn continue_link(html: &str) -> String {
    let marker = "<a id=\"continue\" href=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no continue link: {html}")) + marker.len();
    unescape(&html[start..start + html[start..].find('"').unwrap()])
}

/// The `frame-src` of a page's CSP, or `None`; the CSP still forbids framing the page.
fn frame_src(r: &reqwest::Response) -> Option<String> {
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    csp.split("; ").find_map(|d| d.strip_prefix("frame-src ")).map(str::to_owned)
}

/// The URL a frame should load: `uri` with `iss` and `sid` appended.
fn expected_frame(app: &TestApp, uri: &str, sid: &str) -> String {
    let mut url = url::Url::parse(uri).unwrap();
    url.query_pairs_mut().append_pair("iss", &app.address).append_pair("sid", sid);
    url.to_string()
}

both_backends!(the_signed_out_page_frames_the_clients_of_the_session_with_iss_and_sid, async |app| {
    add_alice(&app);
    let fc = format!("{APP}/fc?tenant=a%20b");
    let framed = client(&app, &["--frontchannel-logout-uri", &fc]);
    // Registered, but never signed in: not framed.
    let absent = client(&app, &["--frontchannel-logout-uri", &format!("{APP}/absent")]);
    let plain = client(&app, &[]);
    let (_, claims) = signed_in(&app, &framed).await;
    let (_, other) = signed_in(&app, &plain).await;
    let sid = s(&claims, "sid");
    assert_eq!(s(&other, "sid"), sid, "one session");
    let _ = absent;

    // Signing out through the confirmation page.
    let c = &app.api_client;
    let html = c.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("decision", "logout".into())];
    let r = c.post(app.url("/logout")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(frame_src(&r).as_deref(), Some(APP), "exactly the frames' origin");
    let html = r.text().await.unwrap();
    assert_eq!(frames(&html), [expected_frame(&app, &fc, sid)], "{html}");
    let url = url::Url::parse(&frames(&html)[0]).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let want = [("tenant", "a b"), ("iss", app.address.as_str()), ("sid", sid)].map(|(k, v)| (k.into(), v.into()));
    assert_eq!(query, want, "the URI's own query kept");
    assert!(html.contains("You can close this window") && !html.contains("id=\"continue\""), "{html}");
    assert!(!html.contains("frontchannel_logout.js"), "nothing to continue to: no script");

    // Signed out already: nothing ends again, and no frame is shown.
    let r = c.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(frame_src(&r), None);
    assert!(frames(&r.text().await.unwrap()).is_empty());
});

both_backends!(a_signed_out_page_without_front_channel_clients_frames_nothing, async |app| {
    add_alice(&app);
    let plain = client(&app, &[]);
    signed_in(&app, &plain).await;
    let c = &app.api_client;
    let html = c.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("decision", "logout".into())];
    let r = c.post(app.url("/logout")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(frame_src(&r), None, "the page's CSP frames nothing");
    assert!(frames(&r.text().await.unwrap()).is_empty());
});

both_backends!(with_a_post_logout_redirect_uri_the_page_frames_then_leads_on, async |app| {
    add_alice(&app);
    let bye = format!("{APP}/bye");
    let fc = format!("{APP}/fc");
    let framed = client(&app, &["--frontchannel-logout-uri", &fc, "--post-logout-redirect-uri", &bye]);
    let (hint, claims) = signed_in(&app, &framed).await;
    let query = format!("id_token_hint={hint}&post_logout_redirect_uri={}&state=x%26y", urlencode(&bye));
    let r = app.api_client.get(app.url(&format!("/logout?{query}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the page, not a redirect: the frames load first");
    assert_eq!(frame_src(&r).as_deref(), Some(APP));
    let html = r.text().await.unwrap();
    assert_eq!(frames(&html), [expected_frame(&app, &fc, s(&claims, "sid"))]);
    assert_eq!(continue_link(&html), format!("{bye}?state=x%26y"));
    assert!(html.contains("<script src=\"/static/frontchannel_logout.js\"></script>"), "{html}");
    let script = app.get("/static/frontchannel_logout.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().contains("addEventListener(\"load\""));
});

both_backends!(the_account_page_signing_out_frames_the_clients_then_returns, async |app| {
    add_alice(&app);
    let fc = format!("{APP}/fc");
    let framed = client(&app, &["--frontchannel-logout-uri", &fc]);
    let (_, claims) = signed_in(&app, &framed).await;
    let c = &app.api_client;
    let html = c.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("session", hidden(&html, "session"))];
    let r =
        c.post(app.url("/account/sessions/revoke")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get_all("set-cookie").iter().count() > 0, "the session cookie is cleared");
    assert_eq!(frame_src(&r).as_deref(), Some(APP));
    let html = r.text().await.unwrap();
    assert_eq!(frames(&html), [expected_frame(&app, &fc, s(&claims, "sid"))]);
    assert_eq!(continue_link(&html), "/account");
});

both_backends!(
    front_channel_logout_uris_are_registered_checked_and_advertised,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let redirect = "https://app.example/cb";
        for uri in [
            "/fc",
            "fc",
            "https://app.example/fc#frag",
            "javascript:alert(1)",
            "http://app.example/fc",
            "https://other.example/fc",
            "https://app.example:8443/fc",
        ] {
            let body = json!({ "redirect_uris": [redirect], "frontchannel_logout_uri": uri });
            let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
            let error: Value = r.json().await.unwrap();
            assert_eq!(error["error"], "invalid_client_metadata", "{uri}: {error}");
        }
        let body = json!({ "redirect_uris": [redirect], "frontchannel_logout_uri": "https://app.example/fc?t=1",
                           "frontchannel_logout_session_required": true });
        let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["frontchannel_logout_uri"], "https://app.example/fc?t=1");
        assert_eq!(info["frontchannel_logout_session_required"], true);
        let read = app
            .api_client
            .get(s(&info, "registration_client_uri"))
            .bearer_auth(s(&info, "registration_access_token"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::OK);
        let read: Value = read.json().await.unwrap();
        assert_eq!(read["frontchannel_logout_uri"], "https://app.example/fc?t=1", "{read}");
        let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
        assert_eq!(
            (&discovery["frontchannel_logout_supported"], &discovery["frontchannel_logout_session_supported"]),
            (&json!(true), &json!(true))
        );
    }
);
