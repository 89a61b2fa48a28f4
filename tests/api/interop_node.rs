//! Interoperability with node's `openid-client` (panva's certified relying party, pinned in
//! `tests/interop/node/package-lock.json`): each test provisions a client and alice with the CLI, runs
//! `node tests/interop/node/rp.mjs <scenario>`, plays the user's browser for the authorization URL the script
//! prints, hands it the URL the browser was sent back to, and checks the JSON it ends with against the server
//! itself. The packages come from `scripts/npm-ci.sh` (which `scripts/test.sh` runs); without them
//! these tests fail.
use crate::helpers::TestApp;
use crate::interop::ScriptRp;
use crate::signin::{add_alice, add_client, introspect_basic, query_of, token_basic, REDIRECT};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/node")
}

/// Refresh tokens are single-use at once: a replay is refused rather than answered again within a grace window.
fn no_grace(raw: &mut tessera::config::RawSettings) {
    raw.tokens.refresh_grace_seconds = 0;
}

/// Starts `node rp.mjs <scenario>` with the issuer of `app` and `vars` in its environment.
fn start(app: &TestApp, scenario: &str, vars: &[(&str, &str)]) -> ScriptRp {
    let dir = node_dir();
    let install = "run scripts/npm-ci.sh tests/interop/node (scripts/test.sh does)";
    assert!(
        dir.join("node_modules/openid-client/package.json").is_file(),
        "the node packages of the interop tests are not installed: {install}"
    );
    let mut cmd = Command::new("node");
    cmd.arg("rp.mjs")
        .arg(scenario)
        .current_dir(&dir)
        .env("TESSERA_ISSUER", &app.address)
        .env("REDIRECT_URI", REDIRECT)
        .envs(vars.iter().copied());
    ScriptRp::start(format!("node rp.mjs {scenario}"), cmd, install)
}

fn id_of(v: &Value) -> &str {
    v["client_id"].as_str().expect("a client_id")
}

/// The checks every access token passes: `jose` verified it against `jwks_uri` as an RS256 `at+jwt` for `client`.
fn assert_verified_access_token(verified: &Value, client_id: &str) {
    assert_eq!(verified["alg"], "RS256", "{verified}");
    assert_eq!(verified["typ"], "at+jwt", "{verified}");
    assert_eq!(verified["claims"]["client_id"], client_id, "{verified}");
}

/// `POST /token` with a refresh token, as a confidential client over HTTP Basic.
async fn refresh_basic(app: &TestApp, client_id: &str, secret: &str, refresh_token: &str) -> (StatusCode, Value) {
    token_basic(app, client_id, secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

async fn confidential_flow(app: &TestApp, auth_method: &str) {
    let alice = add_alice(app);
    let client = add_client(app, &["--auth-method", auth_method]);
    let (id, secret) = (id_of(&client), client["client_secret"].as_str().expect("a secret"));
    let mut rp =
        start(app, "confidential", &[("CLIENT_ID", id), ("CLIENT_SECRET", secret), ("AUTH_METHOD", auth_method)]);
    let back = rp.authorize(app).await;
    assert_eq!(query_of(&back).get("iss"), Some(&app.address), "RFC 9207 iss, which the library checks");
    let out = rp.result().await;

    let sub = alice["id"].as_str().unwrap();
    assert_eq!(out["token_type"], "bearer", "{out}");
    let claims = &out["id_token_claims"];
    assert_eq!(claims["sub"], sub, "{claims}");
    assert_eq!(claims["iss"], app.address, "{claims}");
    assert_eq!(claims["aud"], id, "{claims}");
    assert!(claims["nonce"].is_string() && claims["at_hash"].is_string(), "{claims}");
    assert_eq!(out["userinfo"]["sub"], sub);
    assert_eq!(out["userinfo"]["email"], "alice@example.com");
    assert_eq!(out["userinfo"]["preferred_username"], "alice");
    assert_verified_access_token(&out["access_token_verified"], id);
    assert_eq!(out["access_token_verified"]["claims"]["sub"], sub);

    // Revocation, as the library saw it and as the server answers the test itself.
    assert_eq!(out["introspection"]["active"], true, "{out}");
    assert_eq!(out["introspection"]["after_revocation"], false, "{out}");
    let refused = &out["userinfo_after_revocation"];
    assert_eq!(
        (&refused["status"], &refused["error"]),
        (&Value::from(401), &Value::from("invalid_token")),
        "{refused}"
    );
    let first_access = out["access_token"].as_str().unwrap();
    assert_eq!(introspect_basic(app, id, secret, first_access).await["active"], false);

    // Rotation, then a replay of the rotated token refused and its whole family revoked.
    let refresh = &out["refresh"];
    let (first, second) = (refresh["first"].as_str().unwrap(), refresh["second"].as_str().unwrap());
    assert_ne!(first, second, "the refresh token rotates");
    assert_eq!(refresh["id_token_sub"], sub, "{refresh}");
    assert_eq!(refresh["active"], true, "{refresh}");
    for what in ["replay", "newest_after_replay"] {
        assert_eq!(refresh[what]["refused"], true, "{what}: {refresh}");
        assert_eq!(refresh[what]["error"], "invalid_grant", "{what}: {refresh}");
    }
    assert_eq!(refresh["active_after_replay"], false, "{refresh}");
    let (status, body) = refresh_basic(app, id, secret, second).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    assert_eq!(introspect_basic(app, id, secret, refresh["access_token"].as_str().unwrap()).await["active"], false);
}

both_backends!(
    a_confidential_client_over_basic_auth_signs_in_refreshes_and_revokes,
    |raw| { no_grace(raw) },
    async |app| {
        confidential_flow(&app, "client_secret_basic").await;
    }
);

both_backends!(
    a_confidential_client_over_post_auth_signs_in_refreshes_and_revokes,
    |raw| { no_grace(raw) },
    async |app| {
        confidential_flow(&app, "client_secret_post").await;
    }
);

/// The `public-dpop` scenario (or `scenario`, which runs it) for a new public client; what the script printed.
async fn public_dpop_flow(app: &TestApp, scenario: &str) -> Value {
    let alice = add_alice(app);
    let client = add_client(app, &["--public"]);
    let id = id_of(&client);
    let mut rp = start(app, scenario, &[("CLIENT_ID", id), ("AUTH_METHOD", "none")]);
    let back = rp.authorize(app).await;
    assert!(query_of(&back).contains_key("code"), "{back}");
    let out = rp.result().await;

    assert!(out["request_uri"].as_str().is_some_and(|u| u.starts_with("urn:ietf:params:oauth:request_uri:")), "{out}");
    assert_eq!(out["token_type"], "dpop", "{out}");
    let sub = alice["id"].as_str().unwrap();
    assert_eq!(out["id_token_claims"]["sub"], sub);
    assert_eq!(out["userinfo"]["sub"], sub);
    let thumbprint = &out["thumbprint"];
    assert_verified_access_token(&out["access_token_verified"], id);
    assert_eq!(out["access_token_verified"]["claims"]["cnf"]["jkt"], *thumbprint, "bound to the library's key");
    let refresh = &out["refresh"];
    assert_eq!(refresh["token_type"], "dpop", "{refresh}");
    assert_eq!(refresh["rotated"], true, "{refresh}");
    assert_eq!(refresh["access_token_verified"]["claims"]["cnf"]["jkt"], *thumbprint, "{refresh}");
    assert_eq!(refresh["userinfo_sub"], sub);

    // The bound token is no bearer token: without a proof the server refuses it.
    let at = out["access_token"].as_str().unwrap();
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    out
}

both_backends!(a_public_client_pushes_its_request_and_binds_its_tokens_with_dpop, async |app| {
    public_dpop_flow(&app, "public-dpop").await;
});

both_backends!(
    a_public_client_retries_with_the_dpop_nonces_it_is_asked_for,
    |raw| {
        raw.dpop.require_nonce = true;
    },
    async |app| {
        let out = public_dpop_flow(&app, "public-dpop-nonce").await;
        let exchanges = out["exchanges"].as_array().unwrap_or_else(|| panic!("no exchanges: {out}"));
        let seen = |path: &str| -> Vec<(bool, i64, String)> {
            exchanges
                .iter()
                .filter(|e| e["path"] == path)
                .map(|e| {
                    assert_eq!(e["dpop_nonce"], true, "every answer brings a nonce: {e}");
                    (
                        e["proof_nonce"].as_bool().unwrap(),
                        e["status"].as_i64().unwrap(),
                        e["error"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        };
        let refused = |status: i64| (false, status, "use_dpop_nonce".to_owned());
        // The first proof had no nonce: refused, and the library's own retry carried the one it was sent.
        assert_eq!(seen("/par"), [refused(400), (true, 201, String::new())], "{out}");
        // It kept the newest nonce for the token endpoint (the code, then the refresh) ...
        assert_eq!(seen("/token"), [(true, 200, String::new()), (true, 200, String::new())], "{out}");
        // ... and a handle of its own at the resource retried after the DPoP challenge.
        let userinfo = seen("/userinfo");
        assert_eq!(userinfo[..2], [refused(401), (true, 200, String::new())], "{out}");
        assert!(userinfo[2..].iter().all(|e| *e == (true, 200, String::new())), "{out}");
    }
);

both_backends!(a_service_client_gets_a_token_with_client_credentials, async |app| {
    let client = add_client(&app, &["--grant-type", "client_credentials"]);
    let (id, secret) = (id_of(&client), client["client_secret"].as_str().expect("a secret"));
    let rp = start(
        &app,
        "client-credentials",
        &[("CLIENT_ID", id), ("CLIENT_SECRET", secret), ("AUTH_METHOD", "client_secret_basic")],
    );
    let out = rp.result().await;
    assert_eq!(out["token_type"], "bearer", "{out}");
    assert_eq!(out["refresh_token"], Value::Null, "{out}");
    assert_eq!(out["active"], true, "{out}");
    assert_verified_access_token(&out["access_token_verified"], id);
    assert_eq!(out["access_token_verified"]["claims"]["sub"], id, "a client's own token names the client");
    let seen = introspect_basic(&app, id, secret, out["access_token"].as_str().unwrap()).await;
    assert_eq!((seen["active"].as_bool(), seen["client_id"].as_str()), (Some(true), Some(id)), "{seen}");
});

both_backends!(a_relying_party_registers_itself_and_signs_in, async |app| {
    let alice = add_alice(&app);
    // Registration is open on SQLite by default and needs an initial access token on Postgres; the token works
    // under both.
    let issued = app.cli_json(&["registration", "token", "--expires-in", "1h"], None);
    let token = issued["token"].as_str().expect("an initial access token");
    let mut rp = start(&app, "register", &[("INITIAL_ACCESS_TOKEN", token)]);
    rp.authorize(&app).await;
    let out = rp.result().await;

    let id = out["client_id"].as_str().expect("a registered client_id");
    assert_eq!(out["token_endpoint_auth_method"], "client_secret_basic", "{out}");
    let shown = app.cli_json(&["clients", "show", id], None);
    assert_eq!(shown["client_id"], id, "the server knows the client the library registered: {shown}");
    let sub = alice["id"].as_str().unwrap();
    assert_eq!(out["id_token_claims"]["sub"], sub);
    assert_eq!(out["id_token_claims"]["aud"], id);
    assert_eq!(out["userinfo"]["sub"], sub);
    assert_verified_access_token(&out["access_token_verified"], id);
});

both_backends!(a_private_key_jwt_client_signs_its_requests_direct_and_pushed, async |app| {
    let alice = add_alice(&app);
    let dir = app.dir.path();
    let key = crate::clients::ec_key(dir, "jar-1");
    let jwks = dir.join("jar-jwks.json");
    std::fs::write(&jwks, serde_json::to_vec(&crate::clients::jwks_of(&[&key])).unwrap()).unwrap();
    let client = add_client(
        &app,
        &[
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            jwks.to_str().unwrap(),
            "--require-signed-request-object",
            "--request-object-signing-alg",
            "ES256",
        ],
    );
    let id = id_of(&client);
    let pem = dir.join("jar-1.pem");
    let vars = [
        ("CLIENT_ID", id),
        ("AUTH_METHOD", "private_key_jwt"),
        ("CLIENT_KEY_PEM", pem.to_str().unwrap()),
        ("CLIENT_KEY_KID", "jar-1"),
    ];
    let mut rp = start(&app, "jar", &vars);
    for _ in ["direct", "pushed"] {
        let back = rp.authorize(&app).await;
        assert!(query_of(&back).contains_key("code"), "{back}");
    }
    let out = rp.result().await;

    let sub = alice["id"].as_str().unwrap();
    for name in ["direct", "pushed"] {
        let flow = &out[name];
        assert_eq!(flow["request_header"]["alg"], "ES256", "{name}: {flow}");
        assert_eq!(flow["request_header"]["typ"], "oauth-authz-req+jwt", "{name}: {flow}");
        let claims = &flow["request_claims"];
        assert_eq!((&claims["iss"], &claims["aud"]), (&Value::from(id), &Value::from(app.address.as_str())), "{name}");
        assert_eq!(flow["id_token_claims"]["sub"], sub, "{name}: {flow}");
        assert_eq!(flow["id_token_claims"]["aud"], id, "{name}: {flow}");
        assert_eq!(flow["userinfo"]["sub"], sub, "{name}: {flow}");
    }
    assert_eq!(out["direct"]["request_uri"], Value::Null, "the object in the URL: {out}");
    let pushed = out["pushed"]["request_uri"].as_str().unwrap_or_default();
    assert!(pushed.starts_with("urn:ietf:params:oauth:request_uri:"), "{out}");
});
