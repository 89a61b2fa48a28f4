//! Front-channel logout in a real browser: a local server stands for the app, whose `frontchannel_logout_uri`
//! the signed-out page frames. Signing out through the real pages, the app sees the frame's request with `iss`
//! and `sid`, and the browser goes on to its `post_logout_redirect_uri` only after that.
use super::{at_redirect_uri, query, redeem, setup_at, sign_in, AppSite, Flow, CLIENT_NAME};
use crate::helpers::*;
use crate::webdriver::Browser;

/// Alice, signed in in `browser` to an app at `site` that registered `<site>/fc?app=1` as its
/// `frontchannel_logout_uri`, its code redeemed: the flow and the session's `sid` (from the ID token).
pub(super) async fn signed_in_to_framed_app(app: &TestApp, browser: &Browser, site: &AppSite) -> (Flow, String) {
    let origin = site.url.trim_end_matches('/');
    let logout_uri = format!("{origin}/fc?app=1");
    let flow = setup_at(app, CLIENT_NAME, origin, &["--frontchannel-logout-uri", &logout_uri]);
    sign_in(app, browser, &flow).await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    let landed = browser.wait_for_url("the redirect to the app", |u| at_redirect_uri(&flow, u)).await;
    let code = query(&landed).remove("code").unwrap_or_else(|| panic!("no code in {landed}"));
    let tokens = redeem(app, &flow, &code).await;
    let (_, claims) = verified(app, tokens["id_token"].as_str().expect("an id_token")).await;
    let sid = s(&claims, "sid").to_owned();
    (flow, sid)
}

both_backends!(the_app_framed_by_the_signed_out_page_hears_of_the_logout, async |app| {
    let site = AppSite::serve("<!doctype html><title>The app</title><p>The app</p>".into());
    let browser = Browser::start().await;
    let (flow, sid) = signed_in_to_framed_app(&app, &browser, &site).await;

    // The app asks to sign out (no hint: the user is asked), and the user confirms on the real page.
    let mut logout = url::Url::parse(&app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("client_id", &flow.client_id)
        .append_pair("post_logout_redirect_uri", &flow.post_logout_redirect_uri)
        .append_pair("state", "bye");
    browser.goto(logout.as_str()).await;
    browser.wait_for("button[name=decision][value=logout]").await.click().await;
    let back = format!("{}?state=bye", flow.post_logout_redirect_uri);
    browser.wait_for_url("the app after the frames", |u| u.as_str() == back).await;
    browser.quit().await;

    let seen = site.seen.lock().unwrap().clone();
    let framed: Vec<usize> = (0..seen.len()).filter(|&i| seen[i].starts_with("/fc?")).collect();
    assert_eq!(framed.len(), 1, "one frame's request: {seen:?}");
    let asked = url::Url::parse(&format!("http://app.invalid{}", seen[framed[0]])).unwrap();
    let asked = query(&asked);
    assert_eq!(asked.get("app").map(String::as_str), Some("1"), "the URI's own query: {seen:?}");
    assert_eq!(asked.get("iss"), Some(&app.address), "{seen:?}");
    assert_eq!(asked.get("sid"), Some(&sid), "{seen:?}");
    let bye = seen.iter().position(|t| t.starts_with("/bye?")).unwrap_or_else(|| panic!("{seen:?}"));
    assert!(framed[0] < bye, "the frame loaded before the browser went on: {seen:?}");
});
