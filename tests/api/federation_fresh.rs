//! A fresh sign-in demanded here is demanded of the upstream provider too: a client's `prompt=login` and
//! `max_age`, and the account page's "sign in again", go upstream (OIDC Core §3.1.2.1), so that its own session
//! does not answer them silently; the callback checks the upstream's `auth_time`.
use crate::federation::{
    at_upstream, authorize, authorize_with, browser, click, finish, sign_in, Federation, Request, UP,
};
use crate::signin::{browse, hidden, location, query_of, REDIRECT};
use reqwest::StatusCode;

/// Where the upstream sends its browser (which has alice's session there) for the authorization `url`: its own
/// login page (a path of its own), or straight back to the downstream's callback.
async fn upstream_answer(f: &Federation, url: &str) -> String {
    let resp = f.up.api_client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
    location(&resp)
}

fn silent(f: &Federation, answer: &str) -> bool {
    answer.starts_with(&format!("{}/login/federation/{UP}/callback?", f.down.address))
}

/// The downstream's sign-in `req`, its upstream URL `to`: the upstream asks alice to sign in again, and she does.
async fn signs_in_again(f: &Federation, b: &reqwest::Client, req: Request, to: &str) -> String {
    let answer = upstream_answer(f, to).await;
    assert!(answer.starts_with("/login?interaction="), "the upstream's login form, not its session: {answer}");
    let back = at_upstream(f, to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    finish(f, b, resp, req).await
}

both_backends!(prompt_login_is_passed_on_to_the_upstream, async |app| {
    let f = Federation::around(app, false).await;
    let sub = sign_in(&f, &browser()).await;

    // Without prompt, the upstream's session answers (single sign-on, as before).
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let q = query_of(&to);
    assert!(!q.contains_key("prompt") && !q.contains_key("max_age"), "{to}");
    let answer = upstream_answer(&f, &to).await;
    assert!(silent(&f, &answer), "{answer}");
    assert_eq!(finish(&f, &b, b.get(&answer).send().await.unwrap(), req).await, sub);

    // The client asks for a new sign-in, over the downstream session of `b`: so does the upstream request, and
    // the upstream shows its login form; once alice signed in there, the downstream completes.
    let req = authorize_with(&f, &b, &[("prompt", "login")]).await;
    let to = click(&f, &b, &req.login_page).await;
    assert_eq!(query_of(&to).get("prompt").map(String::as_str), Some("login"), "{to}");
    assert_eq!(signs_in_again(&f, &b, req, &to).await, sub);
});

both_backends!(max_age_is_passed_on_and_auth_time_checked, async |app| {
    let f = Federation::around(app, false).await;
    let sub = sign_in(&f, &browser()).await;

    // A max_age the upstream's sign-in is within: sent, answered by its session (with an auth_time), accepted.
    let b = browser();
    let req = authorize_with(&f, &b, &[("max_age", "600")]).await;
    let to = click(&f, &b, &req.login_page).await;
    let q = query_of(&to);
    assert_eq!(q.get("max_age").map(String::as_str), Some("600"), "{to}");
    assert!(!q.contains_key("prompt"), "{to}");
    let answer = upstream_answer(&f, &to).await;
    assert!(silent(&f, &answer), "{answer}");
    assert_eq!(finish(&f, &b, b.get(&answer).send().await.unwrap(), req).await, sub);

    // max_age=0: the upstream signs alice in again.
    let b = browser();
    let req = authorize_with(&f, &b, &[("max_age", "0")]).await;
    let to = click(&f, &b, &req.login_page).await;
    assert_eq!(query_of(&to).get("max_age").map(String::as_str), Some("0"), "{to}");
    assert_eq!(signs_in_again(&f, &b, req, &to).await, sub);
});

// The account page's "sign in again" (to delete an account without a password, whose sign-in is too old) asks
// the upstream for a new sign-in too; the account page's plain sign-in does not.
both_backends!(signing_in_again_for_the_account_page_is_passed_on, async |app| {
    let f = Federation::around(app, false).await;
    let b = browser();
    let post = |page: &str, prompt: bool| {
        let mut form = vec![("return", "account".to_owned()), ("csrf", hidden(page, "csrf"))];
        if prompt {
            form.push(("prompt", hidden(page, "prompt")));
        }
        b.post(f.down.url(&format!("/login/federation/{UP}"))).header("Origin", &f.down.address).form(&form).send()
    };
    let page = b.get(f.down.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("name=\"prompt\""), "{page}");
    let to = location(&post(&page, false).await.unwrap());
    assert!(!query_of(&to).contains_key("prompt"), "{to}");
    let back = at_upstream(&f, &to, "allow").await;
    assert_eq!(location(&b.get(&back).send().await.unwrap()), "/account");

    // Signed in here and at the upstream: the link of the account deletion section.
    let page = b.get(f.down.url("/login?return=account&prompt=login")).send().await.unwrap().text().await.unwrap();
    assert_eq!(hidden(&page, "prompt"), "login", "{page}");
    let resp = post(&page, true).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert_eq!(query_of(&to).get("prompt").map(String::as_str), Some("login"), "{to}");
    let answer = upstream_answer(&f, &to).await;
    assert!(answer.starts_with("/login?interaction="), "the upstream's login form, not its session: {answer}");
    let back = at_upstream(&f, &to, "allow").await;
    assert_eq!(location(&b.get(&back).send().await.unwrap()), "/account");
    // Without its CSRF token, the form is refused still.
    let forged = [("return", "account"), ("csrf", "forged"), ("prompt", "login")];
    let resp = b
        .post(f.down.url(&format!("/login/federation/{UP}")))
        .header("Origin", &f.down.address)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
});

// An upstream sign-in older than the client's max_age (here: max_age=0, no leeway, the callback two seconds
// after the upstream's sign-in) is refused: the login form says so, and nobody is signed in or created.
both_backends!(an_upstream_sign_in_older_than_max_age_is_refused, async |app| {
    let f = Federation::around_with(app, false, REDIRECT, |raw| raw.tokens.leeway_seconds = 0).await;
    let b = browser();
    let req = authorize_with(&f, &b, &[("max_age", "0")]).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = browse(&f.up, &to, Some("allow")).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Upstream did not sign you in again, which this sign-in needs."), "{page}");
    assert_eq!(hidden(&page, "interaction"), hidden(&req.login_page, "interaction"), "the same sign-in");
    assert!(f.down.cli_json(&["users", "list"], None)["users"].as_array().unwrap().is_empty());
    let audit = f.down.cli_json(&["audit", "list"], None);
    let events = audit["events"].as_array().unwrap();
    let failed = events.iter().find(|e| e["kind"] == "login_failed").expect("a login_failed event");
    assert_eq!(failed["details"]["reason"], "upstream_auth_time_too_old", "{failed}");
    assert!(!events.iter().any(|e| e["kind"] == "login_succeeded"), "{audit}");
});
