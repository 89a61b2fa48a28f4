//! Clients acting for themselves: the client credentials grant, `private_key_jwt` client authentication
//! (inline JWK Set and `jwks_uri`), and resource indicators (RFC 8707) at the token endpoint.
use crate::helpers::*;
use crate::signin::{add_alice, auth_url, browse, pkce_pair, query_of, urlencode, REDIRECT};
use josekit::jws::{JwsHeader, JwsSigner, ES256, HS256, RS256};
use josekit::jwt::JwtPayload;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tessera::storage::ClientStore;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const API: &str = "https://api.example/";
const OTHER_API: &str = "https://other.example/v1";

/// `tessera clients add --name Service <extra>` as JSON.
fn add_service(app: &TestApp, extra: &[&str]) -> Value {
    let mut args = vec!["clients", "add", "--name", "Service"];
    args.extend_from_slice(extra);
    app.cli_json(&args, None)
}

fn id_of(client: &Value) -> String {
    client["client_id"].as_str().expect("client_id").to_owned()
}

/// POSTs `form` to /token, with Basic credentials when given; the status and the JSON body.
async fn token(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut req = app.api_client.post(app.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.expect("POST /token");
    let status = r.status();
    assert_eq!(r.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        assert!(r.headers().get("www-authenticate").is_some(), "401 without WWW-Authenticate");
    }
    (status, r.json().await.expect("a JSON body"))
}

fn error_of(result: &(StatusCode, Value)) -> (StatusCode, &str) {
    (result.0, result.1["error"].as_str().unwrap_or("<none>"))
}

/// Checks a client credentials response and returns the access token's claims.
async fn service_token(app: &TestApp, body: &Value, client_id: &str) -> Value {
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body.get("id_token").is_none(), "no ID token: {body}");
    assert!(body.get("refresh_token").is_none(), "no refresh token: {body}");
    let (header, claims) = verified(app, body["access_token"].as_str().expect("access_token")).await;
    assert_eq!(header.token_type(), Some("at+jwt"));
    assert_eq!(claims["sub"], client_id, "{claims}");
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["iss"], app.address.as_str());
    for user_claim in ["auth_time", "sid", "email", "name", "preferred_username"] {
        assert!(claims.get(user_claim).is_none(), "{user_claim} in a client token: {claims}");
    }
    assert_eq!(claims["scope"], body["scope"]);
    claims
}

both_backends!(client_credentials_with_secrets, async |app| {
    let basic = add_service(&app, &["--grant-type", "client_credentials", "--scope", "read write"]);
    let (id, secret) = (id_of(&basic), basic["client_secret"].as_str().unwrap().to_owned());
    let r = token(&app, &[("grant_type", "client_credentials"), ("scope", "read")], Some((&id, &secret))).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let claims = service_token(&app, &r.1, &id).await;
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["aud"], app.address.as_str(), "no resource: the default audience (the issuer)");
    assert_eq!(r.1["expires_in"], 600);

    // No scope asked for, none granted: no `scope` at all, since an empty one is not a valid value
    // (RFC 6749 §3.3).
    let r = token(&app, &[("grant_type", "client_credentials")], Some((&id, &secret))).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert!(r.1.get("scope").is_none(), "{}", r.1);
    assert!(service_token(&app, &r.1, &id).await.get("scope").is_none());

    let post = add_service(
        &app,
        &["--grant-type", "client_credentials", "--scope", "read write", "--auth-method", "client_secret_post"],
    );
    let (pid, psecret) = (id_of(&post), post["client_secret"].as_str().unwrap().to_owned());
    let r = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "write read"),
            ("client_id", &pid),
            ("client_secret", &psecret),
        ],
        None,
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(service_token(&app, &r.1, &pid).await["scope"], "read write");

    // A secret is good in either place, whichever the client registered (RFC 6749 §2.3.1 requires Basic for
    // every client with a secret), and only the right one is.
    let r = token(&app, &[("grant_type", "client_credentials")], Some((&pid, &psecret))).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let in_body =
        [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
    let r = token(&app, &in_body, None).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let r = token(&app, &[("grant_type", "client_credentials")], Some((&id, "wrong"))).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let wrong_in_body = [("grant_type", "client_credentials"), ("client_id", pid.as_str()), ("client_secret", "wrong")];
    assert_eq!(error_of(&token(&app, &wrong_in_body, None).await), (StatusCode::UNAUTHORIZED, "invalid_client"));
});

both_backends!(client_credentials_refusals, async |app| {
    let svc = add_service(
        &app,
        &["--grant-type", "client_credentials", "--scope", "openid read", "--resource", API, "--resource", OTHER_API],
    );
    let (id, secret) = (id_of(&svc), svc["client_secret"].as_str().unwrap().to_owned());
    let auth = Some((id.as_str(), secret.as_str()));
    for scope in ["read delete", "openid", "offline_access", "tessera:admin"] {
        let r = token(&app, &[("grant_type", "client_credentials"), ("scope", scope)], auth).await;
        assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_scope"), "{scope}");
    }

    // Resource indicators: the token is for the named resource, which must be registered.
    let r = token(&app, &[("grant_type", "client_credentials"), ("scope", "read"), ("resource", API)], auth).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(service_token(&app, &r.1, &id).await["aud"], API);
    let r = token(&app, &[("grant_type", "client_credentials"), ("resource", OTHER_API)], auth).await;
    assert_eq!(service_token(&app, &r.1, &id).await["aud"], OTHER_API);
    for bad in ["https://evil.example/", "https://api.example/#f", "not a uri"] {
        let r = token(&app, &[("grant_type", "client_credentials"), ("resource", bad)], auth).await;
        assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_target"), "{bad}");
    }

    // Public clients, and clients not registered for the grant, may not use it.
    let public = add_service(&app, &["--public", "--redirect-uri", REDIRECT]);
    let r = token(&app, &[("grant_type", "client_credentials"), ("client_id", &id_of(&public))], None).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "unauthorized_client"));
    let web = add_service(&app, &["--redirect-uri", REDIRECT]);
    let r = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((&id_of(&web), web["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "unauthorized_client"));
    let out = app.cli(&["clients", "add", "--name", "x", "--public", "--grant-type", "client_credentials"], None);
    assert!(assert_failure(&out, &["clients", "add"]).contains("public"));
});

both_backends!(admin_scope_only_for_admin_clients, async |app| {
    let admin = add_service(&app, &["--grant-type", "client_credentials", "--scope", "read", "--admin"]);
    let r = token(
        &app,
        &[("grant_type", "client_credentials"), ("scope", "tessera:admin")],
        Some((&id_of(&admin), admin["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["scope"], "tessera:admin");
});

// RFC 9068 §4: an admin-scoped token issued for another resource is that resource's; it could replay it here.
both_backends!(the_admin_api_refuses_a_token_for_another_resource, async |app| {
    let admin = add_service(&app, &["--grant-type", "client_credentials", "--resource", API, "--admin"]);
    let (id, secret) = (id_of(&admin), admin["client_secret"].as_str().unwrap().to_owned());
    let admin_call = async |resource: Option<&str>| {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", "tessera:admin")];
        form.extend(resource.map(|r| ("resource", r)));
        let r = token(&app, &form, Some((&id, &secret))).await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
        let at = r.1["access_token"].as_str().unwrap();
        let r = app.api_client.get(app.url("/admin/api/clients")).bearer_auth(at).send().await.unwrap();
        let challenge = r.headers().get("www-authenticate").map(|h| h.to_str().unwrap().to_owned());
        (r.status(), challenge.unwrap_or_default())
    };
    assert_eq!(admin_call(None).await.0, StatusCode::OK);
    let (status, challenge) = admin_call(Some(API)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let events = app.cli_json(&["audit", "list", "--client", &id], None);
    let refused = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "admin_refused");
    assert_eq!(refused.unwrap()["details"]["reason"], "the access token is for another resource", "{events}");
});

/// The seconds a client credentials token of `client` lives, from its claims.
async fn token_lifetime(app: &TestApp, client: &Value) -> i64 {
    let auth = Some((client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap()));
    let r = token(app, &[("grant_type", "client_credentials"), ("scope", "read")], auth).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let claims = service_token(app, &r.1, &id_of(client)).await;
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(r.1["expires_in"], lifetime);
    lifetime
}

// A retired key stays published for the longest lifetime of what it signed (DESIGN.md §5), which a client's
// own access token lifetime must not exceed: the CLI refuses one above the ceiling, and one stored above it
// (before the ceiling existed, or before it was lowered) is cut to it.
both_backends!(client_access_token_lifetimes_end_before_their_key_leaves, async |app| {
    let retention = app.settings.longest_signed_lifetime();
    let service = ["--grant-type", "client_credentials", "--scope", "read", "--access-token-ttl"];
    let too_long = (retention + 1).to_string();
    let out = app.cli(&[&["clients", "add", "--name", "Long"][..], &service, &[&too_long]].concat(), None);
    let err = assert_failure(&out, &["clients", "add", "--access-token-ttl", &too_long]);
    assert!(err.contains("--access-token-ttl") && err.contains("tokens.max_access_token_ttl_seconds"), "{err}");

    let short = add_service(&app, &[&service[..], &["300"]].concat());
    assert_eq!(token_lifetime(&app, &short).await, 300);
    let stored = add_service(&app, &[&service[..], &["300"]].concat());
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let id = tessera::domain::ClientId::parse(id_of(&stored)).unwrap();
    let mut client = store.client(&id).await.unwrap().unwrap();
    client.access_token_ttl = Some(30 * 24 * 3600);
    store.update_client(&client).await.unwrap();
    let lifetime = token_lifetime(&app, &stored).await;
    assert!(lifetime <= retention, "a token living {lifetime} s signed by a key kept {retention} s");
    assert_eq!(lifetime, app.settings.tokens.access_token_ttl, "cut to the ceiling, by default the lifetime");
});

both_backends!(
    a_raised_ceiling_allows_longer_client_lifetimes_and_keeps_keys_longer,
    |raw| {
        raw.tokens.max_access_token_ttl_seconds = Some(7200);
    },
    async |app| {
        let policy = tessera::startup::rotation_policy(&app.settings);
        let late_signing = app.settings.keys.refresh.as_secs() as i64 + app.settings.tokens.leeway;
        assert_eq!(policy.retain_retired, 7200 + late_signing + app.settings.keys.jwks_max_age);
        let service = ["--grant-type", "client_credentials", "--scope", "read", "--access-token-ttl"];
        let long = add_service(&app, &[&service[..], &["7200"]].concat());
        assert_eq!(token_lifetime(&app, &long).await, 7200);
        let out = app.cli(&[&["clients", "add", "--name", "Longer"][..], &service, &["7201"]].concat(), None);
        assert!(assert_failure(&out, &["clients", "add"]).contains("1 to 7200"));
    }
);

// --- private_key_jwt ---

/// A signing key made by the `openssl` tool, with its public JWK (`kid` set).
pub(crate) struct ClientKey {
    pub(crate) signer: Box<dyn JwsSigner>,
    pub(crate) public: josekit::jwk::Jwk,
}

fn openssl(args: &[&str], out: &Path) {
    let o = Command::new("openssl").args(args).arg("-out").arg(out).output().expect("running openssl");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

pub(crate) fn rsa_key(dir: &Path, kid: &str) -> ClientKey {
    let path = openssl_rsa_key(dir, &format!("{kid}.pem"), 2048, false);
    let pem = std::fs::read(path).unwrap();
    let mut public = RS256.key_pair_from_pem(&pem).unwrap().to_jwk_public_key();
    public.set_key_id(kid);
    let mut signer = RS256.signer_from_pem(&pem).unwrap();
    signer.set_key_id(kid);
    ClientKey { signer: Box::new(signer), public }
}

pub(crate) fn ec_key(dir: &Path, kid: &str) -> ClientKey {
    let path = dir.join(format!("{kid}.pem"));
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], &path);
    let pem = std::fs::read(path).unwrap();
    let mut public = ES256.key_pair_from_pem(&pem).unwrap().to_jwk_public_key();
    public.set_key_id(kid);
    let mut signer = ES256.signer_from_pem(&pem).unwrap();
    signer.set_key_id(kid);
    ClientKey { signer: Box::new(signer), public }
}

pub(crate) fn jwks_of(keys: &[&ClientKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| &k.public).collect::<Vec<_>>() })
}

/// Writes a JWK Set file for `clients add --jwks`.
fn jwks_file(dir: &Path, name: &str, jwks: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(jwks).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The claims of a good assertion from `client_id` to `aud`, expiring in `exp_in` seconds.
pub(crate) fn assertion_claims(client_id: &str, aud: &str, exp_in: i64) -> Value {
    let now = tessera::domain::now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + exp_in,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub(crate) fn sign(claims: &Value, signer: &dyn JwsSigner) -> String {
    sign_as(claims, signer, "JWT")
}

/// An assertion whose header says `typ`.
fn sign_as(claims: &Value, signer: &dyn JwsSigner, typ: &str) -> String {
    let Value::Object(map) = claims.clone() else { panic!("claims are an object") };
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &header, signer).unwrap()
}

/// A client credentials request authenticated by `assertion`.
pub(crate) async fn with_assertion(app: &TestApp, assertion: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    token(app, &form, None).await
}

both_backends!(private_key_jwt_with_inline_keys, async |app| {
    let dir = app.dir.path();
    let (rsa, ec) = (rsa_key(dir, "rsa-1"), ec_key(dir, "ec-1"));
    let file = jwks_file(dir, "jwks.json", &jwks_of(&[&rsa, &ec]));
    let client = add_service(
        &app,
        &["--grant-type", "client_credentials", "--scope", "read", "--auth-method", "private_key_jwt", "--jwks", &file],
    );
    assert!(client.get("client_secret").is_none(), "no secret for private_key_jwt: {client}");
    // Keys are refused for a client authenticating otherwise, as dynamic registration refuses them.
    let out = app.cli(&["clients", "add", "--name", "S", "--grant-type", "client_credentials", "--jwks", &file], None);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--jwks and --jwks-uri are for --auth-method private_key_jwt"), "{said}");
    let id = id_of(&client);
    let token_endpoint = app.url("/token");

    let rs = sign(&assertion_claims(&id, &token_endpoint, 60), rsa.signer.as_ref());
    let r = with_assertion(&app, &rs, &[("scope", "read"), ("client_id", &id)]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(service_token(&app, &r.1, &id).await["scope"], "read");
    // The same assertion again is a replay.
    let r = with_assertion(&app, &rs, &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "replay: {}", r.1);

    // ES256, with the issuer as the audience, made for an hour as authlib does.
    let es = sign(&assertion_claims(&id, &app.address, 3600), ec.signer.as_ref());
    let r = with_assertion(&app, &es, &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    service_token(&app, &r.1, &id).await;

    // Bad assertions.
    let hmac = HS256.signer_from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let unsigned = {
        let Value::Object(m) = assertion_claims(&id, &token_endpoint, 60) else { unreachable!() };
        josekit::jwt::encode_unsecured(&JwtPayload::from_map(m).unwrap(), &JwsHeader::new()).unwrap()
    };
    let mut wrong_iss = assertion_claims(&id, &token_endpoint, 60);
    wrong_iss["iss"] = json!("someone-else");
    // A key the client never registered, claiming the kid of one it did.
    rsa_key(dir, "stranger");
    let mut stranger_signer = RS256.signer_from_pem(std::fs::read(dir.join("stranger.pem")).unwrap()).unwrap();
    stranger_signer.set_key_id("rsa-1");
    for (what, assertion) in [
        ("wrong aud", sign(&assertion_claims(&id, "https://rs.example/", 60), rsa.signer.as_ref())),
        ("expired", sign(&assertion_claims(&id, &token_endpoint, -120), rsa.signer.as_ref())),
        ("too long-lived", sign(&assertion_claims(&id, &token_endpoint, 7200), rsa.signer.as_ref())),
        ("HS256", sign(&assertion_claims(&id, &token_endpoint, 60), &hmac)),
        ("alg none", unsigned),
        ("iss is not the client", sign(&wrong_iss, rsa.signer.as_ref())),
        ("another key under our kid", sign(&assertion_claims(&id, &token_endpoint, 60), &stranger_signer)),
        ("garbage", "a.b.c".to_owned()),
    ] {
        let r = with_assertion(&app, &assertion, &[]).await;
        assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "{what}: {}", r.1);
    }

    // One authentication method at a time, the one the client registered.
    let fresh = || sign(&assertion_claims(&id, &token_endpoint, 60), rsa.signer.as_ref());
    let r = with_assertion(&app, &fresh(), &[("client_secret", "x")]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"));
    let r = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_assertion_type", "urn:other"), ("client_assertion", &fresh())],
        None,
    )
    .await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"));
    let r = with_assertion(&app, &fresh(), &[("client_id", "another-client")]).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_request"));
    let r = token(&app, &[("grant_type", "client_credentials"), ("client_id", &id)], None).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "no credentials at all");
    let secret_client = add_service(&app, &["--grant-type", "client_credentials"]);
    let sid = id_of(&secret_client);
    let r = with_assertion(&app, &sign(&assertion_claims(&sid, &token_endpoint, 60), rsa.signer.as_ref()), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "client registered for a secret");
    let r = with_assertion(&app, &"x".repeat(9000), &[]).await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "oversize assertion: {}", r.1);
});

// Each instance keeps a client's keys parsed, by the digest of the set's text: a set an operator replaces is the
// one that verifies from the next assertion on, never the one kept.
both_backends!(private_key_jwt_keys_replaced_by_an_operator_verify_at_once, async |app| {
    let dir = app.dir.path();
    let (first, second) = (rsa_key(dir, "set-1"), ec_key(dir, "set-2"));
    let file = jwks_file(dir, "first.json", &jwks_of(&[&first]));
    let client =
        add_service(&app, &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks", &file]);
    let id = id_of(&client);
    let aud = app.url("/token");
    let signed_by = |key: &ClientKey| sign(&assertion_claims(&id, &aud, 60), key.signer.as_ref());
    for _ in 0..2 {
        let r = with_assertion(&app, &signed_by(&first), &[]).await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    }

    let admin = add_service(&app, &["--grant-type", "client_credentials", "--admin"]);
    let grant = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, t) = token(&app, &grant, Some((&id_of(&admin), admin["client_secret"].as_str().unwrap()))).await;
    let body = json!({ "client_name": "Service", "grant_types": ["client_credentials"],
                       "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks_of(&[&second]) });
    let r = app
        .api_client
        .put(app.url(&format!("/admin/api/clients/{id}")))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = with_assertion(&app, &signed_by(&first), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "the replaced key: {}", r.1);
    let r = with_assertion(&app, &signed_by(&second), &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
});

// draft-ietf-oauth-rfc7523bis: an assertion typed client-authentication+jwt names our issuer alone, so one made
// for another server that advertised our token endpoint URL as its own can never pass here. Untyped ones may
// still name the token endpoint URL (OIDC Core §9), but never more than one audience.
both_backends!(private_key_jwt_audiences_follow_the_rfc_7523_update, async |app| {
    let rsa = rsa_key(app.dir.path(), "rsa-1");
    let file = jwks_file(app.dir.path(), "jwks.json", &jwks_of(&[&rsa]));
    let client =
        add_service(&app, &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks", &file]);
    let id = id_of(&client);
    let token_endpoint = app.url("/token");
    let typed = |aud: Value| {
        let mut claims = assertion_claims(&id, "", 60);
        claims["aud"] = aud;
        sign_as(&claims, rsa.signer.as_ref(), "client-authentication+jwt")
    };
    for (what, assertion) in [
        ("typed, the issuer", typed(json!(app.address))),
        ("typed, the issuer in an array of one", typed(json!([app.address]))),
        ("untyped, the token endpoint", sign(&assertion_claims(&id, &token_endpoint, 60), rsa.signer.as_ref())),
    ] {
        let r = with_assertion(&app, &assertion, &[]).await;
        assert_eq!(r.0, StatusCode::OK, "{what}: {}", r.1);
    }
    let mut two_audiences = assertion_claims(&id, "", 60);
    two_audiences["aud"] = json!([app.address, "https://other.example/"]);
    for (what, assertion, said) in [
        ("typed, the token endpoint", typed(json!(token_endpoint)), "client_assertion aud must be the issuer alone"),
        (
            "untyped, two audiences",
            sign(&two_audiences, rsa.signer.as_ref()),
            "client_assertion aud must be the issuer (or the token endpoint URL) alone",
        ),
        (
            "typed as an access token",
            sign_as(&assertion_claims(&id, &app.address, 60), rsa.signer.as_ref(), "at+jwt"),
            "client_assertion typ must be client-authentication+jwt (or JWT)",
        ),
    ] {
        let r = with_assertion(&app, &assertion, &[]).await;
        assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "{what}: {}", r.1);
        assert_eq!(r.1["error_description"], said, "{what}");
    }
    // An instance held to the issuer alone refuses the untyped assertion that names the token endpoint.
    let strict = app.spawn_peer_with(|raw| raw.clients.assertion_audience = "issuer".into()).await;
    let untyped = |aud: &str| sign(&assertion_claims(&id, aud, 60), rsa.signer.as_ref());
    let r = with_assertion(&strict, &untyped(&app.address), &[]).await;
    assert_eq!(r.0, StatusCode::OK, "untyped, the issuer: {}", r.1);
    let r = with_assertion(&strict, &untyped(&token_endpoint), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "{}", r.1);
    assert_eq!(r.1["error_description"], "client_assertion aud must be the issuer alone");
});

both_backends!(clients_add_checks_key_options, async |app| {
    let dir = app.dir.path();
    let rsa = rsa_key(dir, "k");
    let public = jwks_file(dir, "public.json", &jwks_of(&[&rsa]));
    let pem = std::fs::read(dir.join("k.pem")).unwrap();
    let private = json!({ "keys": [RS256.key_pair_from_pem(&pem).unwrap().to_jwk_private_key()] });
    let private = jwks_file(dir, "private.json", &private);
    let not_a_set = jwks_file(dir, "key.json", &serde_json::to_value(&rsa.public).unwrap());
    let base = ["clients", "add", "--name", "k", "--grant-type", "client_credentials"];
    for (extra, expect) in [
        (vec!["--auth-method", "private_key_jwt"], "--jwks"),
        (vec!["--auth-method", "private_key_jwt", "--jwks", &private], "private"),
        (vec!["--auth-method", "private_key_jwt", "--jwks", &not_a_set], "keys"),
        (vec!["--auth-method", "private_key_jwt", "--jwks-uri", "file:///etc/passwd"], "http"),
        (vec!["--jwks", &public], "private_key_jwt"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let shown = add_service(
        &app,
        &[
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            "https://c.example/jwks",
        ],
    );
    assert_eq!(shown["jwks_uri"], "https://c.example/jwks");
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
});

/// A tiny JWKS server on 127.0.0.1: serves the current `body` to every request and counts them.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub(crate) fn start(jwks: &Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(jwks.to_string()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (Arc::clone(&body), Arc::clone(&hits));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let body = b.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/jwk-set+json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, body, hits }
    }

    pub(crate) fn serve(&self, jwks: &Value) {
        *self.body.lock().unwrap() = jwks.to_string();
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

both_backends!(private_key_jwt_with_jwks_uri, async |app| {
    let dir = app.dir.path();
    let (first, second) = (rsa_key(dir, "rsa-1"), ec_key(dir, "ec-2"));
    let server = JwksServer::start(&jwks_of(&[&first]));
    let client = add_service(
        &app,
        &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-uri", &server.url],
    );
    let id = id_of(&client);
    let aud = app.url("/token");

    // Requests at once for a set not fetched yet: one fetches, the others wait for it.
    let assertions: Vec<String> =
        (0..4).map(|_| sign(&assertion_claims(&id, &aud, 60), first.signer.as_ref())).collect();
    let answers = futures_util::future::join_all(assertions.iter().map(|a| with_assertion(&app, a, &[]))).await;
    for r in &answers {
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    }
    service_token(&app, &answers[0].1, &id).await;
    assert_eq!(server.hits(), 1);
    // The fetched set is cached.
    let r = with_assertion(&app, &sign(&assertion_claims(&id, &aud, 60), first.signer.as_ref()), &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(server.hits(), 1, "served from the cache");

    // The client rotates its key: the unknown kid makes us fetch once more.
    server.serve(&jwks_of(&[&second]));
    let r = with_assertion(&app, &sign(&assertion_claims(&id, &aud, 60), second.signer.as_ref()), &[]).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(server.hits(), 2);
    // Another unknown kid right after does not make us fetch again.
    let stray = rsa_key(dir, "stray");
    let r = with_assertion(&app, &sign(&assertion_claims(&id, &aud, 60), stray.signer.as_ref()), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"));
    assert_eq!(server.hits(), 2, "early refetches are throttled");
});

both_backends!(private_key_jwt_unreachable_jwks_uri, async |app| {
    // A port nobody listens on: authentication fails cleanly, without a server error.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("http://127.0.0.1:{port}/jwks");
    let client = add_service(
        &app,
        &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-uri", &uri],
    );
    let id = id_of(&client);
    let key = rsa_key(app.dir.path(), "k");
    let r = with_assertion(&app, &sign(&assertion_claims(&id, &app.url("/token"), 60), key.signer.as_ref()), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "{}", r.1);
});

// Keys that break the key rules (RSA outside 2048 to 4096 bits or with an exponent other than a small one from
// 65537, EC off P-256, a kid twice) sign no assertion: a fetched set with one is refused whole, as any bad fetched
// set is, and a key stored before the rules is left out of its set.
both_backends!(private_key_jwt_keys_that_break_the_rules_sign_nothing, async |app| {
    let dir = app.dir.path();
    let good = rsa_key(dir, "good");
    let weak_pem = dir.join("weak.pem");
    openssl(
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3"],
        &weak_pem,
    );
    let pem = std::fs::read(&weak_pem).unwrap();
    let mut weak_public = RS256.key_pair_from_pem(&pem).unwrap().to_jwk_public_key();
    weak_public.set_key_id("weak");
    let mut weak_signer = RS256.signer_from_pem(&pem).unwrap();
    weak_signer.set_key_id("weak");
    let weak = ClientKey { signer: Box::new(weak_signer), public: weak_public };
    assert_eq!(serde_json::to_value(&weak.public).unwrap()["e"], "Aw", "e = 3");
    let aud = app.url("/token");

    let server = JwksServer::start(&jwks_of(&[&good, &weak]));
    let fetched = add_service(
        &app,
        &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-uri", &server.url],
    );
    let id = id_of(&fetched);
    let r = with_assertion(&app, &sign(&assertion_claims(&id, &aud, 60), good.signer.as_ref()), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "a fetched set with a weak key: {}", r.1);
    assert_eq!(server.hits(), 1);
    // Regression: a set that could not be used was fetched again by every request naming the client.
    for _ in 0..3 {
        let r = with_assertion(&app, &sign(&assertion_claims(&id, &aud, 60), good.signer.as_ref()), &[]).await;
        assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "{}", r.1);
    }
    assert_eq!(server.hits(), 1, "not fetched again at once");

    // Stored before the rules: the store takes what the checks now refuse.
    let file = jwks_file(dir, "good.json", &jwks_of(&[&good]));
    let stored =
        add_service(&app, &["--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks", &file]);
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let id = tessera::domain::ClientId::parse(id_of(&stored)).unwrap();
    let mut client = store.client(&id).await.unwrap().unwrap();
    client.metadata.jwks = Some(jwks_of(&[&good, &weak]));
    store.update_client(&client).await.unwrap();
    let id = id.as_str();
    let r = with_assertion(&app, &sign(&assertion_claims(id, &aud, 60), weak.signer.as_ref()), &[]).await;
    assert_eq!(error_of(&r), (StatusCode::UNAUTHORIZED, "invalid_client"), "the weak stored key: {}", r.1);
    let r = with_assertion(&app, &sign(&assertion_claims(id, &aud, 60), good.signer.as_ref()), &[]).await;
    assert_eq!(r.0, StatusCode::OK, "the good stored key: {}", r.1);
});

// --- resource indicators on the authorization code grant ---

/// A code for `client_id` (authorized with `extra` appended to the authorization URL) and its verifier.
async fn code(app: &TestApp, client_id: &str, extra: &str) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, client_id, &challenge, extra), Some("allow")).await;
    (query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}")), verifier)
}

/// Redeems a code, naming `resource` at the token endpoint when given.
async fn redeem(
    app: &TestApp,
    client_id: &str,
    (code, verifier): (String, String),
    resource: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    token(app, &form, None).await
}

/// The `aud` of the access token in a token response.
async fn aud_of(app: &TestApp, body: &Value) -> Value {
    verified(app, body["access_token"].as_str().expect("an access token")).await.1["aud"].clone()
}

both_backends!(authorization_code_keeps_its_resource, async |app| {
    add_alice(&app);
    let client =
        add_service(&app, &["--public", "--redirect-uri", REDIRECT, "--resource", API, "--resource", OTHER_API]);
    let id = id_of(&client);
    let with_api = format!("&resource={}", urlencode(API));

    let r = redeem(&app, &id, code(&app, &id, &with_api).await, None).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(aud_of(&app, &r.1).await, API, "the authorization request's resource");
    // A token for the API is not one for this server's UserInfo (RFC 9068 §4).
    let userinfo = |at: String| app.api_client.get(app.url("/userinfo")).bearer_auth(at).send();
    let refused = userinfo(r.1["access_token"].as_str().unwrap().to_owned()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    let r = redeem(&app, &id, code(&app, &id, &with_api).await, Some(API)).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(aud_of(&app, &r.1).await, API);

    let r = redeem(&app, &id, code(&app, &id, &with_api).await, Some(OTHER_API)).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_target"), "a different resource");

    let r = redeem(&app, &id, code(&app, &id, "").await, Some(OTHER_API)).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(aud_of(&app, &r.1).await, OTHER_API, "named at the token endpoint only");

    let r = redeem(&app, &id, code(&app, &id, "").await, Some("https://evil.example/")).await;
    assert_eq!(error_of(&r), (StatusCode::BAD_REQUEST, "invalid_target"));

    let r = redeem(&app, &id, code(&app, &id, "").await, None).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(aud_of(&app, &r.1).await, app.address.as_str(), "no resource anywhere: the default audience");
    assert_eq!(userinfo(r.1["access_token"].as_str().unwrap().to_owned()).await.unwrap().status(), StatusCode::OK);
});

both_backends!(discovery_advertises_client_authentication, async |app| {
    let doc: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    let has = |field: &str, value: &str| doc[field].as_array().unwrap().iter().any(|v| v == value);
    assert!(has("grant_types_supported", "client_credentials"), "{doc}");
    assert!(has("token_endpoint_auth_methods_supported", "private_key_jwt"), "{doc}");
    assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "ES256"]));
});
