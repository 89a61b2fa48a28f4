//! The device authorization grant's verification page in a real browser: the code entered, the sign-in it leads
//! through, and the approval.
use super::{assert_no_inline_code, assert_page_headers, on_server, query, PASSWORD, USERNAME};
use crate::webdriver::Browser;
use serde_json::Value;
use std::time::Duration;

both_backends!(a_device_code_is_entered_signed_in_for_and_approved_in_a_real_browser, async |app| {
    app.cli_json(&["users", "add", USERNAME, "--password-stdin"], Some(PASSWORD));
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = app.cli_json(&["clients", "add", "--name", "Living room TV", "--grant-type", grant, "--public"], None);
    let client_id = tv["client_id"].as_str().unwrap().to_owned();
    let ask = app.api_client.post(app.url("/device_authorization"));
    let auth: Value = ask
        .form(&[("client_id", client_id.as_str()), ("scope", "openid profile")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = auth["user_code"].as_str().unwrap_or_else(|| panic!("no user_code: {auth}"));

    // The user types the code as shown, in lower case, on the verification page of their own browser.
    let browser = Browser::start().await;
    browser.goto(&app.url("/device")).await;
    let field = browser.find("input#user_code").await;
    assert_eq!(field.property("autocomplete").await, "off");
    field.send_keys(&user_code.to_lowercase()).await;
    browser.find("button[type=submit]").await.click().await;
    let login = browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert_eq!(query(&login).get("return").map(String::as_str), Some("device"), "{login}");
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("button[name=decision][value=allow]").await;
    let source = browser.source().await;
    assert!(source.contains("<bdi>Living room TV</bdi>") && source.contains(user_code), "{source}");
    browser.find("button[name=decision][value=allow]").await.click().await;
    let started = std::time::Instant::now();
    while !browser.source().await.contains("You may return to your device") {
        assert!(started.elapsed() < crate::webdriver::WAIT_TIMEOUT, "{}", browser.source_excerpt().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.quit().await;

    // The device's next poll gets its tokens.
    let poll = app.api_client.post(app.url("/token")).form(&[
        ("grant_type", grant),
        ("device_code", auth["device_code"].as_str().unwrap()),
        ("client_id", client_id.as_str()),
    ]);
    let r = poll.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string(), "{tokens}");

    // As served: strict headers and no inline code on the entry and approval pages.
    let resp = app.api_client.get(app.url("/device")).send().await.unwrap();
    assert_page_headers(&resp, "the device page");
    assert_no_inline_code(&resp.text().await.unwrap(), "the device page");
});
