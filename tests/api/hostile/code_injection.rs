//! RFC 9700 §4.5 (authorization code injection) and §4.8 (PKCE downgrade). A code is bound to its client, its
//! redirect URI and its PKCE challenge; a code redeemed outside those bindings is `invalid_grant`, and PKCE cannot
//! be switched off half-way.
use super::*;
use crate::signin::{add_alice, add_client};

const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other";

fn redeem_form<'a>(code: &'a str, redirect: &'a str, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form
}

fn with_client<'a>(mut form: Vec<(&'a str, &'a str)>, client_id: &'a str) -> Vec<(&'a str, &'a str)> {
    form.push(("client_id", client_id));
    form
}

both_backends!(rfc9700_4_5_code_of_one_client_redeemed_by_another, async |app| {
    add_alice(&app);
    let a = add_client(&app, &["--public"]);
    let b = add_client(&app, &["--public"]);
    let c = add_client(&app, &[]);
    let (a_id, b_id) = (s(&a, "client_id").to_owned(), s(&b, "client_id").to_owned());
    let (code, verifier) = code_for(&app, &a_id).await;
    // Another public client, with the right verifier and redirect URI.
    let (st, e) = token(&app, None, &with_client(redeem_form(&code, REDIRECT, Some(&verifier)), &b_id)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // A confidential client, authenticated.
    let basic = Some((s(&c, "client_id"), s(&c, "client_secret")));
    let (st, e) = token(&app, basic, &redeem_form(&code, REDIRECT, Some(&verifier))).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // A public client claiming the confidential one's id without its secret.
    let (st, e) =
        token(&app, None, &with_client(redeem_form(&code, REDIRECT, Some(&verifier)), s(&c, "client_id"))).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::UNAUTHORIZED, "invalid_client"));
});

both_backends!(rfc9700_4_5_code_redeemed_with_another_redirect_uri_or_verifier, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public", "--redirect-uri", OTHER_REDIRECT]);
    let id = s(&client, "client_id").to_owned();
    // Another registered redirect URI than the one of the authorization request.
    let (code, verifier) = code_for(&app, &id).await;
    let (st, e) = token(&app, None, &with_client(redeem_form(&code, OTHER_REDIRECT, Some(&verifier)), &id)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // Without the redirect URI.
    let (code, verifier) = code_for(&app, &id).await;
    let form =
        [("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier), ("client_id", &id)];
    let (st, e) = token(&app, None, &form).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // An injected code with the attacker's own verifier: the victim's challenge does not match it.
    let (code, _) = code_for(&app, &id).await;
    let (_, attacker_verifier) = pkce_pair();
    let (st, e) = token(&app, None, &with_client(redeem_form(&code, REDIRECT, Some(&attacker_verifier)), &id)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The control: the right bindings redeem a code.
    let (code, verifier) = code_for(&app, &id).await;
    let (st, body) = token(&app, None, &with_client(redeem_form(&code, REDIRECT, Some(&verifier)), &id)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
});

both_backends!(rfc9700_4_8_pkce_downgrade_challenge_without_verifier, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let confidential = add_client(&app, &[]);
    let pid = s(&public, "client_id").to_owned();
    let (code, _) = code_for(&app, &pid).await;
    let (st, e) = token(&app, None, &with_client(redeem_form(&code, REDIRECT, None), &pid)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let cid = s(&confidential, "client_id").to_owned();
    let (code, _) = code_for(&app, &cid).await;
    let basic = Some((cid.as_str(), s(&confidential, "client_secret")));
    let (st, e) = token(&app, basic, &redeem_form(&code, REDIRECT, None)).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The challenge method cannot be downgraded at the authorization endpoint either: plain is refused, and so
    // is a challenge without a method (RFC 7636 would read it as plain).
    let (challenge, _) = pkce_pair();
    for method in ["&code_challenge_method=plain", ""] {
        let url = format!(
            "{}/authorize?response_type=code&client_id={pid}&redirect_uri={}&scope=openid&state=st&code_challenge={challenge}{method}",
            app.address,
            urlencode(REDIRECT)
        );
        let q = query_of(&location(&app.api_client.get(&url).send().await.unwrap()));
        assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{method:?}: {q:?}");
        assert!(!q.contains_key("code"));
    }
});

both_backends!(rfc9700_4_8_pkce_downgrade_verifier_without_challenge, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--pkce-optional"]);
    let id = s(&client, "client_id").to_owned();
    let secret = s(&client, "client_secret").to_owned();
    let url = format!(
        "{}/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=st",
        app.address,
        urlencode(REDIRECT)
    );
    let back = drive(&app, &app.api_client, &url, "allow").await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    // A verifier for a code issued without a challenge: someone stripped the challenge on the way.
    let (_, verifier) = pkce_pair();
    let (st, e) = token(&app, Some((&id, &secret)), &redeem_form(&code, REDIRECT, Some(&verifier))).await;
    assert_eq!((st, s(&e, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The control: this client may go without PKCE altogether.
    let back = drive(&app, &app.api_client, &url, "allow").await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (st, body) = token(&app, Some((&id, &secret)), &redeem_form(&code, REDIRECT, None)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
});
