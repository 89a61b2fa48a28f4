//! A federated sign-in in a real browser: the upstream Tessera is on `localhost`, the downstream on `127.0.0.1`,
//! so that the one browser keeps their cookies apart (cookies ignore ports; host names tell them apart).
use super::{on_server, query};
use crate::federation::{identities, redeem, Federation};
use crate::helpers::{spawn_app_named, Backend};
use crate::signin::PASSWORD;
use crate::webdriver::Browser;

/// The app starts a code flow at the downstream; the user picks "Sign in with Upstream", signs in and consents
/// at the upstream, comes back, consents at the downstream; the app redeems the code for an ID token of the new
/// federated user.
async fn signs_in_with_the_upstream(backend: Backend) {
    let up = spawn_app_named(backend, "localhost", |_| {}).await;
    assert!(up.address.starts_with("http://localhost:"), "{}", up.address);
    // Where nothing listens: the browser still shows the URL it was sent to.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let f = Federation::around_to(up, false, &redirect).await;
    let (url, verifier, nonce, state) = crate::federation::authorize_url(&f).await;

    let browser = Browser::start().await;
    browser.goto(url.as_str()).await;
    browser.wait_for_url("the downstream's login page", |u| on_server(&f.down, u, "/login")).await;
    browser.find("button#federation-up").await.click().await;

    // The upstream's own login page, then its consent page for the downstream.
    browser.wait_for_url("the upstream's login page", |u| on_server(&f.up, u, "/login")).await;
    browser.find("input#username").await.send_keys("alice").await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    let at = browser
        .wait_for_url("a consent page", |u| on_server(&f.up, u, "/consent") || on_server(&f.down, u, "/consent"))
        .await;
    if on_server(&f.up, &at, "/consent") {
        assert!(browser.source().await.contains("Downstream"), "{}", browser.source_excerpt().await);
        browser.find("button[name=decision][value=allow]").await.click().await;
        browser.wait_for_url("the downstream's consent page", |u| on_server(&f.down, u, "/consent")).await;
    }

    // Back at the downstream, signed in: its consent page for the app.
    assert!(browser.source().await.contains("Test App"), "{}", browser.source_excerpt().await);
    browser.find("button[name=decision][value=allow]").await.click().await;
    let landed = browser.wait_for_url("the app's redirect URI", |u| u.as_str().starts_with(&redirect)).await;

    // The browser kept both servers' sessions apart: each account page shows its own alice, signed in.
    for app in [&f.up, &f.down] {
        browser.goto(&app.url("/account")).await;
        let at = browser
            .wait_for_url("an account page or a sign-in", |u| {
                u.origin() == url::Url::parse(&app.address).unwrap().origin()
            })
            .await;
        assert!(on_server(app, &at, "/account"), "not signed in at {}: on {at}", app.address);
        assert!(
            browser.source().await.contains("Signed in as <strong><bdi>alice</bdi></strong>"),
            "{}",
            browser.source_excerpt().await
        );
    }
    browser.quit().await;
    let params = query(&landed);
    assert_eq!(params.get("state"), Some(state.secret()), "{landed}");
    assert_eq!(params.get("iss"), Some(&f.down.address), "{landed}");
    let code = params.get("code").unwrap_or_else(|| panic!("no code in {landed}"));

    let claims = redeem(&f, code, verifier, &nonce).await;
    let amr: Vec<String> = claims.auth_method_refs().expect("an amr").iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(amr, ["fed"]);
    // The new local user, linked to alice at the upstream.
    let users = f.down.cli_json(&["users", "list"], None);
    assert_eq!(users["users"].as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users["users"][0]["id"], claims.subject().as_str());
    assert_eq!(users["users"][0]["username"], "alice");
    let links = identities(&f, "alice");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["provider"], "up");
    assert_eq!(links[0]["subject"], f.alice["id"]);
}

// Written out rather than through `both_backends!`, whose app would be on 127.0.0.1 and unused.
mod a_federated_sign_in_works_in_a_real_browser {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::signs_in_with_the_upstream(crate::helpers::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::signs_in_with_the_upstream(crate::helpers::Backend::Postgres).await
    }
}
