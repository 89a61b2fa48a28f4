//! The consent page of a request that asks for user claims by name (`claims`, OpenID Connect Core §5.5): they are
//! listed beside the scopes, and the user's answer covers them.
use super::{at_redirect_uri, query, setup, sign_in};
use crate::webdriver::Browser;

both_backends!(the_consent_page_lists_the_claims_asked_for_by_name, async |app| {
    let mut flow = setup(&app);
    let claims = r#"{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}"#;
    let claims: String = url::form_urlencoded::byte_serialize(claims.as_bytes()).collect();
    flow.authorize_url =
        format!("{}&claims={claims}", flow.authorize_url.replace("scope=openid%20profile%20email", "scope=openid"));
    let browser = Browser::start().await;
    sign_in(&app, &browser, &flow).await;
    let mut lines = Vec::new();
    for item in browser.find_all("ul.scopes li").await {
        lines.push(item.text().await);
    }
    assert_eq!(lines, ["Confirm who you are (your account identifier)", "See your email address", "See your name"]);
    browser.find("button[name=decision][value=allow]").await.click().await;
    let back = browser.wait_for_url("the redirect to the app", |u| at_redirect_uri(&flow, u)).await;
    assert!(query(&back).contains_key("code"), "{back}");
    browser.quit().await;
});
