//! Token exchange (RFC 8693): an API that received a user's access token exchanges it for one to call a
//! downstream API on the user's behalf.
use crate::helpers::{assert_failure, sleep_until_unix, TestApp};
use crate::signin::{add_alice, add_client, auth_url, browse, pkce_pair, query_of, redeem_code, urlencode};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
pub(crate) const API: &str = "https://api.example/";
pub(crate) const DOWNSTREAM: &str = "https://downstream.example/v1";

/// A confidential client from `tessera clients add --name <name> <extra>`: its id and secret.
fn add(app: &TestApp, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["clients", "add", "--name", name];
    args.extend_from_slice(extra);
    let c = app.cli_json(&args, None);
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap_or_default().to_owned())
}

/// The API: it serves [`API`] and calls [`DOWNSTREAM`], and may exchange tokens.
pub(crate) fn add_api(app: &TestApp) -> (String, String) {
    add(
        app,
        "Orders API",
        &["--grant-type", EXCHANGE, "--resource", API, "--resource", DOWNSTREAM, "--scope", "openid profile"],
    )
}

/// alice signs in to a web app (whose own resource is [`API`]) that asks for a token for the API: the app's
/// id and secret, alice's id, and the access token.
pub(crate) async fn users_token_for_the_api(app: &TestApp) -> (String, String, String, String) {
    let alice = add_alice(app);
    let rp = add_client(app, &["--resource", API]);
    let (rp_id, rp_secret) = (rp["client_id"].as_str().unwrap(), rp["client_secret"].as_str().unwrap());
    let token = token_for_the_api(app, rp_id, rp_secret).await;
    (rp_id.to_owned(), rp_secret.to_owned(), alice["id"].as_str().unwrap().to_owned(), token)
}

/// A new access token of alice's for [`API`] through the web app's code flow.
async fn token_for_the_api(app: &TestApp, rp_id: &str, rp_secret: &str) -> String {
    let (challenge, verifier) = pkce_pair();
    let extra = format!("&resource={}", urlencode(API));
    let back = browse(app, &auth_url(app, rp_id, &challenge, &extra), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, body) = redeem_code(app, rp_id, rp_secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// POSTs a token exchange of `subject` as `(id, secret)` with `extra` parameters; checks `no-store`.
pub(crate) async fn exchange(
    app: &TestApp,
    (id, secret): (&str, &str),
    subject: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", EXCHANGE), ("subject_token", subject), ("subject_token_type", ACCESS_TOKEN)];
    form.extend_from_slice(extra);
    let r = app.api_client.post(app.url("/token")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    let status = r.status();
    assert_eq!(r.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    (status, r.json().await.unwrap())
}

fn error_of(r: &(StatusCode, Value)) -> (StatusCode, &str) {
    (r.0, r.1["error"].as_str().unwrap_or("<none>"))
}

/// The claims of an access token, verified against the served JWKS.
async fn verified(app: &TestApp, jwt: &str) -> Value {
    let (header, claims) = crate::helpers::verified(app, jwt).await;
    assert_eq!(header.token_type(), Some("at+jwt"));
    claims
}

async fn introspect(app: &TestApp, (id, secret): (&str, &str), token: &str) -> Value {
    let r = app.api_client.post(app.url("/introspect")).basic_auth(id, Some(secret)).form(&[("token", token)]);
    r.send().await.unwrap().json().await.unwrap()
}

both_backends!(an_api_exchanges_a_users_token_for_a_downstream_one, async |app| {
    let (rp_id, rp_secret, alice, subject) = users_token_for_the_api(&app).await;
    let (api_id, api_secret) = add_api(&app);
    let api = (api_id.as_str(), api_secret.as_str());
    let subject_claims = verified(&app, &subject).await;
    assert_eq!(subject_claims["aud"], API);

    let r = exchange(&app, api, &subject, &[("resource", DOWNSTREAM), ("scope", "profile")]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(r.1["token_type"], "Bearer");
    assert_eq!(r.1["scope"], "profile");
    assert!(r.1.get("refresh_token").is_none() && r.1.get("id_token").is_none(), "{}", r.1);
    let exchanged = r.1["access_token"].as_str().unwrap().to_owned();
    let claims = verified(&app, &exchanged).await;
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["aud"], DOWNSTREAM);
    assert_eq!(claims["client_id"], api_id.as_str());
    assert_eq!(claims["scope"], "profile");
    assert_eq!(claims["act"], json!({ "sub": api_id }), "the API acts for alice");
    assert_eq!(claims["sid"], subject_claims["sid"], "bound to the same session");
    assert!(claims["exp"].as_i64() <= subject_claims["exp"].as_i64(), "no longer-lived than the subject token");
    assert_eq!(r.1["expires_in"].as_i64().unwrap(), claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap());

    let seen = introspect(&app, api, &exchanged).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["act"], json!({ "sub": api_id }));
    assert_eq!(seen["username"], "alice");

    // By default: the scope both have, and the API's default audience; `audience` names a target as well.
    let r = exchange(&app, api, &subject, &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["scope"], "openid profile", "email is the web app's, not the API's");
    assert_eq!(verified(&app, r.1["access_token"].as_str().unwrap()).await["aud"], app.address.as_str());
    let r = exchange(&app, api, &subject, &[("audience", DOWNSTREAM)]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(verified(&app, r.1["access_token"].as_str().unwrap()).await["aud"], DOWNSTREAM);

    // The audit trail names who exchanged whose token, and holds no token.
    let audit = app.cli_json(&["audit", "list", "--client", &api_id], None);
    let event = audit["events"].as_array().unwrap().iter().find(|e| e["kind"] == "token_exchanged").cloned();
    let event = event.unwrap_or_else(|| panic!("no token_exchanged event: {audit}"));
    assert_eq!(event["user_id"], alice.as_str());
    assert_eq!(event["details"]["subject_client_id"], rp_id.as_str());
    assert!(!audit.to_string().contains(&subject) && !audit.to_string().contains(&exchanged));

    let refused = [
        (vec![("scope", "profile email")], (StatusCode::BAD_REQUEST, "invalid_scope")),
        (vec![("scope", "orders:write")], (StatusCode::BAD_REQUEST, "invalid_scope")),
        (vec![("resource", "https://elsewhere.example/")], (StatusCode::BAD_REQUEST, "invalid_target")),
        (vec![("audience", "https://elsewhere.example/")], (StatusCode::BAD_REQUEST, "invalid_target")),
        (vec![("resource", API), ("audience", DOWNSTREAM)], (StatusCode::BAD_REQUEST, "invalid_target")),
        (
            vec![("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")],
            (StatusCode::BAD_REQUEST, "invalid_request"),
        ),
        (vec![("actor_token_type", ACCESS_TOKEN)], (StatusCode::BAD_REQUEST, "invalid_request")),
    ];
    for (extra, expected) in refused {
        assert_eq!(error_of(&exchange(&app, api, &subject, &extra).await), expected, "{extra:?}");
    }
    let bad_type = [
        ("grant_type", EXCHANGE),
        ("subject_token", subject.as_str()),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
    ];
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(&api_id, Some(&api_secret))
        .form(&bad_type)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains(ACCESS_TOKEN), "{body}");
    for garbage in ["not-a-token", "a.b.c", &format!("{subject}x")] {
        let r = exchange(&app, api, garbage, &[]).await;
        assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "{garbage}");
    }

    // A subject token revoked by its app cannot be exchanged.
    let other = token_for_the_api(&app, &rp_id, &rp_secret).await;
    let revoked =
        app.api_client.post(app.url("/revoke")).basic_auth(&rp_id, Some(&rp_secret)).form(&[("token", &other)]);
    assert_eq!(revoked.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(error_of(&exchange(&app, api, &other, &[]).await), (StatusCode::BAD_REQUEST, "invalid_request"));

    // Revoking alice's tokens ends the exchanged ones too, and the subject token cannot be exchanged again.
    crate::helpers::assert_success(&app.cli(&["users", "revoke", "alice"], None), &["users", "revoke", "alice"]);
    assert_eq!(introspect(&app, api, &exchanged).await, json!({ "active": false }));
    assert_eq!(error_of(&exchange(&app, api, &subject, &[]).await), (StatusCode::BAD_REQUEST, "invalid_request"));
});

both_backends!(only_the_addressee_with_the_grant_may_exchange, async |app| {
    let (_, _, _, subject) = users_token_for_the_api(&app).await;
    let (api_id, api_secret) = add_api(&app);

    // A client allowed to exchange, but not the one the token was sent to.
    let other = add(&app, "Other", &["--grant-type", EXCHANGE, "--resource", DOWNSTREAM]);
    let r = exchange(&app, (&other.0, &other.1), &subject, &[("resource", DOWNSTREAM)]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.1);

    // The addressee without the grant type.
    let plain = add(&app, "Plain API", &["--grant-type", "client_credentials", "--resource", API]);
    let r = exchange(&app, (&plain.0, &plain.1), &subject, &[]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "unauthorized_client"), "{}", r.1);

    // A public client cannot be given the grant, and cannot use it.
    let args = [
        "clients",
        "add",
        "--name",
        "Phone",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--grant-type",
        EXCHANGE,
    ];
    assert!(assert_failure(&app.cli(&args, None), &args).contains("token exchange"));
    let public = add_client(&app, &["--public", "--resource", API]);
    let form = [
        ("grant_type", EXCHANGE),
        ("client_id", public["client_id"].as_str().unwrap()),
        ("subject_token", &subject),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    let r = app.api_client.post(app.url("/token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");

    // A client's own token names no user: nothing to exchange.
    let cc = add(&app, "Both", &["--grant-type", "client_credentials", "--grant-type", EXCHANGE]);
    let own = crate::signin::token_basic(&app, &cc.0, &cc.1, &[("grant_type", "client_credentials")]).await;
    assert_eq!(own.0, StatusCode::OK, "{}", own.1);
    let r = exchange(&app, (&cc.0, &cc.1), own.1["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.1);

    // An expired subject token.
    let short = add_client(&app, &["--resource", API, "--access-token-ttl", "1"]);
    let short_token =
        token_for_the_api(&app, short["client_id"].as_str().unwrap(), short["client_secret"].as_str().unwrap()).await;
    let exp = verified(&app, &short_token).await["exp"].as_i64().unwrap();
    sleep_until_unix(exp).await;
    let r = exchange(&app, (&api_id, &api_secret), &short_token, &[]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", r.1);
    assert!(r.1["error_description"].as_str().unwrap().contains("expired"), "{}", r.1);
});

both_backends!(an_actor_token_is_recorded_and_the_chain_nests, async |app| {
    let (_, _, alice, subject) = users_token_for_the_api(&app).await;
    let (api_id, api_secret) = add_api(&app);
    let api = (api_id.as_str(), api_secret.as_str());
    // A gateway that calls the API in its own name, and acts for alice through it.
    let gateway = add(&app, "Gateway", &["--grant-type", "client_credentials", "--resource", API]);
    let r = crate::signin::token_basic(
        &app,
        &gateway.0,
        &gateway.1,
        &[("grant_type", "client_credentials"), ("resource", API)],
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let actor = r.1["access_token"].as_str().unwrap().to_owned();

    let with_actor = [("actor_token", actor.as_str()), ("actor_token_type", ACCESS_TOKEN), ("resource", DOWNSTREAM)];
    let r = exchange(&app, api, &subject, &with_actor).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let delegated = r.1["access_token"].as_str().unwrap().to_owned();
    let claims = verified(&app, &delegated).await;
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["act"], json!({ "sub": gateway.0 }));

    // The downstream service exchanges it again: the chain grows, the latest actor outermost.
    let downstream =
        add(&app, "Downstream", &["--grant-type", EXCHANGE, "--resource", DOWNSTREAM, "--scope", "openid profile"]);
    let r = exchange(&app, (&downstream.0, &downstream.1), &delegated, &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let nested = verified(&app, r.1["access_token"].as_str().unwrap()).await;
    assert_eq!(nested["act"], json!({ "sub": downstream.0, "act": { "sub": gateway.0 } }));
    assert_eq!(introspect(&app, api, r.1["access_token"].as_str().unwrap()).await["act"], nested["act"]);

    // An actor token must be live and meant for the requester.
    let refused = [("garbage", ACCESS_TOKEN), (actor.as_str(), "urn:ietf:params:oauth:token-type:jwt")];
    for (token, kind) in refused {
        let r = exchange(&app, api, &subject, &[("actor_token", token), ("actor_token_type", kind)]).await;
        assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "{token} {kind}");
    }
    let r = exchange(
        &app,
        (&downstream.0, &downstream.1),
        &delegated,
        &[("actor_token", &actor), ("actor_token_type", ACCESS_TOKEN)],
    )
    .await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"), "the gateway's token is the API's");
});
