//! Pairwise subject identifiers (OpenID Connect Core 1.0 §8.1): a pairwise client sees a `sub` of its sector
//! in its ID tokens, UserInfo, access tokens, introspection, `id_token_hint`s and logout tokens, whichever grant
//! issued them (code, refresh, device, token exchange); clients of one sector see the same one, others another; a
//! sector identifier URI is fetched and must list the redirect URIs.
use crate::backchannel_logout::{logout_token, Receiver};
use crate::clients::JwksServer;
use crate::helpers::*;
use crate::signin::{
    add_alice, add_client, auth_url, browse, introspect_basic, pkce_pair, query_of, token_basic, urlencode, REDIRECT,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A redirect URI on another host than [`REDIRECT`]'s, so another sector.
const OTHER_REDIRECT: &str = "http://localhost:9/cb";

/// What one code flow of alice gave a client.
struct Flow {
    id_token: String,
    sub: String,
    userinfo_sub: String,
    access_token: String,
    refresh_token: String,
}

/// A code flow of alice with `client` (a confidential client made by the CLI) redirecting to `redirect`, through
/// the `openidconnect` relying party: the ID token verified, then UserInfo asked for the same subject.
async fn rp_flow(app: &TestApp, client: &Value, redirect: &str) -> Flow {
    let http = oidc_http_client();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(s(client, "client_id").to_owned()),
        Some(ClientSecret::new(s(client, "client_secret").to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = browse(app, url.as_str(), Some("allow")).await;
    assert!(back.starts_with(redirect), "{back}");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an id_token");
    let sub = id_token.claims(&rp.id_token_verifier(), &nonce).expect("a valid ID token").subject().clone();
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo for the ID token's subject");
    Flow {
        id_token: id_token.to_string(),
        sub: sub.as_str().to_owned(),
        userinfo_sub: info.subject().as_str().to_owned(),
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().expect("a refresh token").secret().clone(),
    }
}

fn add_pairwise(app: &TestApp, redirects: &[&str], extra: &[&str]) -> Value {
    let mut args = vec!["clients", "add", "--name", "Pairwise", "--subject-type", "pairwise"];
    for r in redirects {
        args.extend(["--redirect-uri", r]);
    }
    args.extend_from_slice(extra);
    app.cli_json(&args, None)
}

both_backends!(pairwise_clients_see_a_subject_of_their_sector, async |app| {
    let local = s(&add_alice(&app), "id").to_owned();
    let pairwise = add_pairwise(&app, &[REDIRECT], &[]);
    assert_eq!((&pairwise["subject_type"], &pairwise["sector_identifier_uri"]), (&json!("pairwise"), &Value::Null));
    let same_sector = add_pairwise(&app, &[REDIRECT], &[]);
    let other_sector = add_pairwise(&app, &[OTHER_REDIRECT], &[]);
    let public = add_client(&app, &[]);
    assert_eq!(public["subject_type"], "public");

    let a = rp_flow(&app, &pairwise, REDIRECT).await;
    assert_eq!(a.userinfo_sub, a.sub, "UserInfo and the ID token agree");
    assert_ne!(a.sub, local);
    let (_, at) = verified(&app, &a.access_token).await;
    assert_eq!(at["sub"].as_str(), Some(a.sub.as_str()), "{at}");
    assert!(!at.to_string().contains(&local), "the access token shows the user's id: {at}");
    let b = rp_flow(&app, &same_sector, REDIRECT).await;
    assert_eq!((b.sub.as_str(), b.userinfo_sub.as_str()), (a.sub.as_str(), a.sub.as_str()), "one sector, one sub");
    let c = rp_flow(&app, &other_sector, OTHER_REDIRECT).await;
    assert_eq!(c.userinfo_sub, c.sub);
    assert!(c.sub != a.sub && c.sub != local, "another sector, another sub");
    let p = rp_flow(&app, &public, REDIRECT).await;
    assert_eq!((p.sub.as_str(), p.userinfo_sub.as_str()), (local.as_str(), local.as_str()), "public is unchanged");

    // Introspection answers with the subject the client knows, and not who is behind it.
    let (id, secret) = (s(&pairwise, "client_id"), s(&pairwise, "client_secret"));
    let v = introspect_basic(&app, id, secret, &a.access_token).await;
    assert_eq!((v["active"].as_bool(), v["sub"].as_str()), (Some(true), Some(a.sub.as_str())), "{v}");
    assert!(v.get("username").is_none() && !v.to_string().contains(&local), "{v}");
    let v = introspect_basic(&app, id, secret, &a.refresh_token).await;
    assert_eq!((v["active"].as_bool(), v["sub"].as_str()), (Some(true), Some(a.sub.as_str())), "{v}");
    assert!(v.get("username").is_none(), "{v}");
    let v = introspect_basic(&app, s(&public, "client_id"), s(&public, "client_secret"), &p.access_token).await;
    assert_eq!((v["sub"].as_str(), v["username"].as_str()), (Some(local.as_str()), Some("alice")), "{v}");

    // A refresh gives tokens of the same subject.
    let (status, refreshed) =
        token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", &a.refresh_token)]).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (_, id_claims) = verified(&app, s(&refreshed, "id_token")).await;
    assert_eq!(id_claims["sub"].as_str(), Some(a.sub.as_str()));
    let userinfo = |token: String| {
        let r = app.api_client.get(app.url("/userinfo")).bearer_auth(token).send();
        async move { r.await.unwrap() }
    };
    let info: Value = userinfo(s(&refreshed, "access_token").to_owned()).await.json().await.unwrap();
    assert_eq!(info["sub"].as_str(), Some(a.sub.as_str()), "{info}");

    // Revoked, a pairwise client's access token is refused like any other.
    let form = [("token", a.access_token.as_str())];
    let r = app.api_client.post(app.url("/revoke")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(userinfo(a.access_token.clone()).await.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(
    a_sector_identifier_uri_is_fetched_and_must_list_every_redirect_uri,
    |raw| {
        raw.registration.mode = Some("open".into());
        raw.limits.register_ip_requests = 100;
    },
    async |app| {
        add_alice(&app);
        let server = JwksServer::start(&json!([REDIRECT, OTHER_REDIRECT, "https://app.example/cb"]));
        let both = [REDIRECT, OTHER_REDIRECT];
        let listed = add_pairwise(&app, &both, &["--sector-identifier-uri", &server.url]);
        assert_eq!(server.hits(), 1, "fetched when the client is added");
        assert_eq!(
            (&listed["subject_type"], listed["sector_identifier_uri"].as_str()),
            (&json!("pairwise"), Some(server.url.as_str()))
        );
        // The sector is the host of the sector identifier URI, 127.0.0.1, as for a client redirecting there alone.
        let alone = add_pairwise(&app, &[REDIRECT], &[]);
        let a = rp_flow(&app, &listed, OTHER_REDIRECT).await;
        assert_eq!(a.sub, rp_flow(&app, &alone, REDIRECT).await.sub);

        // A document without one of the redirect URIs is refused, and so are two hosts without a document.
        server.serve(&json!([REDIRECT]));
        let args = ["clients", "add", "--name", "P", "--subject-type", "pairwise", "--redirect-uri", REDIRECT];
        let unlisted =
            [&args[..], &["--redirect-uri", OTHER_REDIRECT, "--sector-identifier-uri", &server.url]].concat();
        let said = assert_failure(&app.cli(&unlisted, None), &unlisted);
        assert!(said.contains("does not list the redirect URI \"http://localhost:9/cb\""), "{said}");
        let two_hosts = [&args[..], &["--redirect-uri", OTHER_REDIRECT]].concat();
        let said = assert_failure(&app.cli(&two_hosts, None), &two_hosts);
        assert!(said.contains("all share one host"), "{said}");

        // The admin API: the same rules, and the fields read back.
        let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
        let grant = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
        let (_, t) = token_basic(&app, s(&admin, "client_id"), s(&admin, "client_secret"), &grant).await;
        let create = |body: Value| {
            let r = app.api_client.post(app.url("/admin/api/clients")).bearer_auth(s(&t, "access_token")).json(&body);
            async move {
                let r = r.send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        let body = json!({ "client_name": "P", "redirect_uris": both, "subject_type": "pairwise",
                           "sector_identifier_uri": server.url });
        let (status, refused) = create(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused.to_string().contains("does not list the redirect URI"), "{refused}");
        server.serve(&json!(both));
        let (status, created) = create(body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            (&created["subject_type"], &created["sector_identifier_uri"]),
            (&json!("pairwise"), &json!(server.url))
        );
        let (status, refused) =
            create(json!({ "client_name": "P", "redirect_uris": both, "subject_type": "other" })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

        // Dynamic registration: pairwise is accepted and shown; a stranger's sector identifier URI is https on a
        // public host, and must be fetched.
        let register = |body: Value| {
            let r = app.api_client.post(app.url("/register")).json(&body);
            async move {
                let r = r.send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, info) = register(json!({ "redirect_uris": [REDIRECT], "subject_type": "pairwise" })).await;
        assert_eq!((status, &info["subject_type"]), (StatusCode::CREATED, &json!("pairwise")), "{info}");
        let hosted = server.url.replacen("http:", "https:", 1);
        for (body, why) in [
            (json!({ "redirect_uris": both, "subject_type": "pairwise" }), "all share one host"),
            (
                json!({ "redirect_uris": both, "subject_type": "pairwise", "sector_identifier_uri": server.url }),
                "https",
            ),
            (
                json!({ "redirect_uris": both, "subject_type": "pairwise", "sector_identifier_uri": hosted }),
                "public host",
            ),
            (
                json!({ "redirect_uris": both, "subject_type": "pairwise",
                        "sector_identifier_uri": "https://sector.invalid/uris.json" }),
                "could not be fetched",
            ),
        ] {
            let (status, error) = register(body.clone()).await;
            assert_eq!(
                (status, error["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
                "{body}"
            );
            assert!(s(&error, "error_description").contains(why), "{body}: {error}");
        }
    }
);

// One rule on every path (README, "Pairwise subjects"): an operator's client (the CLI, the admin API's create and
// update) may have its sector identifier URI over http on a loopback address; a self-registered one (`POST` and
// `PUT /register`) over https on a public host only; http elsewhere, never.
both_backends!(
    http_sector_identifier_uris_are_for_operators_and_loopback_only,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let server = JwksServer::start(&json!([REDIRECT]));
        assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
        let remote = "http://sector.example/uris.json";
        let listed = add_pairwise(&app, &[REDIRECT], &["--sector-identifier-uri", &server.url]);
        assert_eq!(listed["sector_identifier_uri"], json!(server.url));
        let args = ["clients", "add", "--name", "P", "--subject-type", "pairwise", "--redirect-uri", REDIRECT];
        let remote_args = [&args[..], &["--sector-identifier-uri", remote]].concat();
        assert!(assert_failure(&app.cli(&remote_args, None), &remote_args).contains("https"));

        let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
        let grant = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
        let (_, t) = token_basic(&app, s(&admin, "client_id"), s(&admin, "client_secret"), &grant).await;
        let send = |method: reqwest::Method, path: String, uri: &str| {
            let body = json!({ "client_name": "P", "redirect_uris": [REDIRECT], "subject_type": "pairwise",
                               "sector_identifier_uri": uri });
            let r = app.api_client.request(method, app.url(&path)).bearer_auth(s(&t, "access_token")).json(&body);
            async move {
                let r = r.send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, created) = send(reqwest::Method::POST, "/admin/api/clients".into(), &server.url).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, refused) = send(reqwest::Method::POST, "/admin/api/clients".into(), remote).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused.to_string().contains("https"), "{refused}");
        let one = format!("/admin/api/clients/{}", s(&listed, "client_id"));
        let (status, refused) = send(reqwest::Method::PUT, one.clone(), remote).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let (status, updated) = send(reqwest::Method::PUT, one, &server.url).await;
        assert_eq!((status, &updated["sector_identifier_uri"]), (StatusCode::OK, &json!(server.url)), "{updated}");
        let hits = server.hits();

        // Dynamic registration, and its management: https only, whatever the host.
        let body = |uri: Option<&str>| {
            let mut body = json!({ "redirect_uris": [REDIRECT], "subject_type": "pairwise" });
            if let Some(uri) = uri {
                body["sector_identifier_uri"] = json!(uri);
            }
            body
        };
        let r = app.api_client.post(app.url("/register")).json(&body(Some(&server.url))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let refused: Value = r.json().await.unwrap();
        assert_eq!(refused["error"], "invalid_client_metadata", "{refused}");
        assert!(s(&refused, "error_description").contains("https"), "{refused}");
        let r = app.api_client.post(app.url("/register")).json(&body(None)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let info: Value = r.json().await.unwrap();
        let mut update = body(Some(&server.url));
        update["client_id"] = info["client_id"].clone();
        let r = app
            .api_client
            .put(s(&info, "registration_client_uri"))
            .bearer_auth(s(&info, "registration_access_token"))
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let refused: Value = r.json().await.unwrap();
        assert!(s(&refused, "error_description").contains("https"), "{refused}");
        assert_eq!(server.hits(), hits, "a refused URI is not fetched");
    }
);

both_backends!(a_pairwise_clients_id_token_hint_and_logout_token_name_its_subject, async |app| {
    let local = s(&add_alice(&app), "id").to_owned();
    let mut rx = Receiver::start().await;
    let client = add_pairwise(&app, &[REDIRECT], &["--backchannel-logout-uri", &rx.url("/bc")]);
    let id = s(&client, "client_id");
    let flow = rp_flow(&app, &client, REDIRECT).await;
    assert_ne!(flow.sub, local);

    // At /authorize the hint names the signed-in user: prompt=none gets a code, without signing in again.
    let (challenge, _) = pkce_pair();
    let hinted = format!("&prompt=none&id_token_hint={}", flow.id_token);
    let back = browse(&app, &auth_url(&app, id, &challenge, &hinted), None).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    // Any other value names nobody, the user's own id included: a pairwise client cannot test guessed ids.
    let guess = urlencode(&json!({ "id_token": { "sub": { "value": local } } }).to_string());
    let back = browse(&app, &auth_url(&app, id, &challenge, &format!("&prompt=none&claims={guess}")), None).await;
    assert_eq!(query_of(&back).get("error").map(String::as_str), Some("login_required"), "{back}");

    // At /logout the hint is the current session's: signed out without being asked.
    let r = app.api_client.get(app.url(&format!("/logout?id_token_hint={}", flow.id_token))).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("You are signed out"), "{html}");
    // The logout token names the user as the client knows them.
    let told = rx.next().await;
    logout_token(&app, &told, id, &flow.sub, None::<&str>).await;
});

// Regression: a self-registered pairwise client could move to another app's sector (or to public subjects) by
// updating its registration, and its next refresh named its users by that app's subjects (or their ids). Nor does
// anything prove the sector of one that signs in by the device flow, which ends at no redirect URI.
both_backends!(
    a_self_registered_pairwise_client_keeps_its_sector,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        add_alice(&app);
        let body = |redirect: &str, extra: Value| {
            let mut body = json!({ "redirect_uris": [redirect], "subject_type": "pairwise",
                                   "grant_types": ["authorization_code", "refresh_token"] });
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        let r = app.api_client.post(app.url("/register")).json(&body(OTHER_REDIRECT, json!({}))).send().await;
        let info: Value = r.unwrap().json().await.unwrap();
        let flow = rp_flow(&app, &info, OTHER_REDIRECT).await;
        let update = |body: Value| {
            let mut body = body;
            body["client_id"] = info["client_id"].clone();
            let r = app.api_client.put(s(&info, "registration_client_uri"));
            let r = r.bearer_auth(s(&info, "registration_access_token")).json(&body).send();
            async move {
                let r = r.await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        for moved in [
            body(REDIRECT, json!({})),
            body(OTHER_REDIRECT, json!({ "subject_type": "public" })),
            json!({ "redirect_uris": [OTHER_REDIRECT], "grant_types": ["authorization_code", "refresh_token"] }),
        ] {
            let (status, refused) = update(moved.clone()).await;
            assert_eq!((status, s(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_client_metadata"), "{moved}");
            assert!(s(&refused, "error_description").contains("cannot change"), "{refused}");
        }
        let (status, kept) = update(body("http://localhost:9/elsewhere", json!({}))).await;
        assert_eq!(status, StatusCode::OK, "the same host is the same sector: {kept}");

        let refresh = [("grant_type", "refresh_token"), ("refresh_token", flow.refresh_token.as_str())];
        let (status, refreshed) = token_basic(&app, s(&info, "client_id"), s(&info, "client_secret"), &refresh).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let (_, claims) = verified(&app, s(&refreshed, "id_token")).await;
        assert_eq!(claims["sub"].as_str(), Some(flow.sub.as_str()));

        let device = body(REDIRECT, json!({ "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"] }));
        let r = app.api_client.post(app.url("/register")).json(&device).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let refused: Value = r.json().await.unwrap();
        assert!(s(&refused, "error_description").contains("cannot use the device grant"), "{refused}");
    }
);

/// The subject alice has for pairwise clients of the sector 127.0.0.1, [`REDIRECT`]'s host: a code flow of such a
/// client.
async fn subject_at_redirect_host(app: &TestApp) -> String {
    rp_flow(app, &add_pairwise(app, &[REDIRECT], &[]), REDIRECT).await.sub
}

both_backends!(a_pairwise_device_sees_its_subject_in_every_token, async |app| {
    use crate::device::{approve, authorize_device, poll, DEVICE_GRANT};
    let local = s(&add_alice(&app), "id").to_owned();
    // Without redirect URIs, its sector is its sector identifier URI's host, 127.0.0.1.
    let sector = JwksServer::start(&json!([]));
    let args = [
        "clients",
        "add",
        "--name",
        "TV",
        "--grant-type",
        DEVICE_GRANT,
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile",
        "--subject-type",
        "pairwise",
        "--sector-identifier-uri",
        &sector.url,
    ];
    let device = app.cli_json(&args, None);
    let (id, secret) = (s(&device, "client_id"), s(&device, "client_secret"));
    let sub = subject_at_redirect_host(&app).await;
    assert_ne!(sub, local);

    let (status, auth) = authorize_device(&app, &device, "openid profile").await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    approve(&app, s(&auth, "user_code")).await;
    let (status, tokens) = poll(&app, &device, s(&auth, "device_code")).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (_, id_token) = verified(&app, s(&tokens, "id_token")).await;
    let (_, at) = verified(&app, s(&tokens, "access_token")).await;
    assert_eq!((id_token["sub"].as_str(), at["sub"].as_str()), (Some(sub.as_str()), Some(sub.as_str())));
    assert!(!at.to_string().contains(&local), "the access token shows the user's id: {at}");
    let v = introspect_basic(&app, id, secret, s(&tokens, "access_token")).await;
    assert_eq!((v["active"].as_bool(), v["sub"].as_str()), (Some(true), Some(sub.as_str())), "{v}");
    assert!(v.get("username").is_none(), "{v}");
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&tokens, "access_token")).send().await.unwrap();
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["sub"].as_str(), Some(sub.as_str()), "{info}");

    // Its refreshes too, which say how the user signed in to approve it, as the first ID token did.
    let form = [("grant_type", "refresh_token"), ("refresh_token", s(&tokens, "refresh_token"))];
    let (status, refreshed) = token_basic(&app, id, secret, &form).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (_, again) = verified(&app, s(&refreshed, "id_token")).await;
    assert_eq!(again["sub"].as_str(), Some(sub.as_str()));
    for same in ["auth_time", "acr", "amr"] {
        assert_eq!(again[same], id_token[same], "{same}: {again}");
    }
    assert_eq!((&again["acr"], &again["amr"]), (&json!("1"), &json!(["pwd"])));
});

both_backends!(a_pairwise_api_sees_its_subject_in_an_exchanged_token, async |app| {
    use crate::token_exchange::{exchange, users_token_for_the_api, API, DOWNSTREAM, EXCHANGE};
    // A public web app's token for the API, which names alice by her id.
    let (_, _, local, subject) = users_token_for_the_api(&app).await;
    let sector = JwksServer::start(&json!([]));
    let args = [
        "clients",
        "add",
        "--name",
        "Orders API",
        "--grant-type",
        EXCHANGE,
        "--resource",
        API,
        "--resource",
        DOWNSTREAM,
        "--scope",
        "openid profile",
        "--subject-type",
        "pairwise",
        "--sector-identifier-uri",
        &sector.url,
    ];
    let api = app.cli_json(&args, None);
    let (id, secret) = (s(&api, "client_id"), s(&api, "client_secret"));
    let sub = subject_at_redirect_host(&app).await;

    let (status, exchanged) = exchange(&app, (id, secret), &subject, &[("resource", DOWNSTREAM)]).await;
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    let (_, at) = verified(&app, s(&exchanged, "access_token")).await;
    assert_eq!(at["sub"].as_str(), Some(sub.as_str()), "{at}");
    assert!(!at.to_string().contains(&local), "the token shows the user's id: {at}");
    assert_eq!(at["act"], json!({ "sub": id }));
    let v = introspect_basic(&app, id, secret, s(&exchanged, "access_token")).await;
    assert_eq!((v["active"].as_bool(), v["sub"].as_str()), (Some(true), Some(sub.as_str())), "{v}");
    assert!(v.get("username").is_none(), "{v}");
});
