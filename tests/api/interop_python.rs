//! Interoperability with Python's Authlib: `tests/interop/python/rp.py` runs each flow with Authlib's own client
//! API (`OAuth2Session`, `PrivateKeyJWT`, `CodeIDToken`, the RFC 9068 validator) over `requests`, while the test
//! plays the user's browser and checks what the script reports against the server itself. The script runs in the
//! venv that `tests/interop/python/install.sh` makes (`scripts/test.sh` runs it); without it these tests fail.
use crate::clients::{jwks_of, rsa_key};
use crate::helpers::s;
use crate::interop::ScriptRp;
use crate::signin::{add_alice, add_client, introspect_basic, query_of, token_basic, without_cookies, REDIRECT};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/python")
}

/// Starts `rp.py <scenario>` under the venv's Python with a clean environment but `PATH`, `HOME` and `vars`.
fn start(scenario: &str, vars: &[(&str, &str)]) -> ScriptRp {
    let dir = python_dir();
    let python = dir.join(".venv/bin/python");
    let install = "run tests/interop/python/install.sh (scripts/test.sh does) to install Authlib";
    assert!(python.exists(), "{} is missing: {install}", python.display());
    let mut cmd = Command::new(&python);
    cmd.arg(dir.join("rp.py")).arg(scenario).current_dir(&dir).env_clear();
    for var in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    // The issuer is loopback http: Authlib's metadata validators want https unless told otherwise.
    cmd.env("AUTHLIB_INSECURE_TRANSPORT", "1").env("PYTHONDONTWRITEBYTECODE", "1");
    cmd.envs(vars.iter().copied());
    ScriptRp::start(format!("rp.py {scenario}"), cmd, install)
}

// Scenario 1: a confidential client (client_secret_basic) through code + PKCE + state + nonce, the ID token and
// the RFC 9068 access token validated by Authlib, userinfo, refresh rotation, reuse detection, introspection and
// revocation. No grace window, so the replay is one at once.
both_backends!(
    authlib_code_flow_with_refresh_rotation_and_revocation,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
    },
    async |app| {
        let alice = add_alice(&app);
        let client = add_client(&app, &[]);
        let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
        let mut rp = start(
            "code_flow",
            &[
                ("TESSERA_ISSUER", &app.address),
                ("TESSERA_CLIENT_ID", id),
                ("TESSERA_CLIENT_SECRET", secret),
                ("TESSERA_REDIRECT_URI", REDIRECT),
            ],
        );
        let back = rp.authorize(&app).await;
        let out = rp.result().await;

        // What came back to the redirect URI, and what Authlib made of it.
        assert_eq!(out["callback"], back.as_str());
        let q = query_of(&back);
        assert_eq!(q["state"], s(&out, "state"));
        assert_eq!(q["iss"], app.address, "RFC 9207 iss");
        assert_eq!(out["token_type"].as_str().map(str::to_lowercase).as_deref(), Some("bearer"), "{out}");
        let sub = s(&alice, "id");
        let id_token = &out["id_token"];
        assert_eq!(id_token["sub"], sub, "{id_token}");
        assert_eq!(id_token["aud"], id);
        assert!(id_token["at_hash"].is_string() && id_token["nonce"].is_string(), "{id_token}");
        assert_eq!(out["id_token_header"]["alg"], "RS256");
        let kid = s(&out["id_token_header"], "kid");
        assert!(app.served_kids().await.iter().any(|k| k == kid), "{kid} is served");
        assert_eq!(out["access_token_header"]["typ"], "at+jwt");
        let at = &out["access_token_claims"];
        assert_eq!((&at["sub"], &at["client_id"], &at["iss"]), (&sub.into(), &id.into(), &app.address.as_str().into()));
        assert_eq!(out["userinfo"]["sub"], sub);
        assert_eq!(out["userinfo"]["email"], "alice@example.com");

        // Rotation, then the replay of the first refresh token: refused, and the family with it.
        let refresh = out["refresh_tokens"].as_array().unwrap();
        assert_ne!(refresh[0], refresh[1], "a refresh rotates the refresh token");
        assert_eq!(out["rotated_id_token"], true, "a refresh with openid returns an ID token");
        assert_eq!(out["introspection_before_revocation"]["active"], true, "{out}");
        assert_eq!(out["introspection_before_revocation"]["client_id"], id);
        assert_eq!(out["refresh_introspection_before_replay"]["active"], true, "{out}");
        assert_eq!(out["revocation_status"], 200);
        assert_eq!(out["introspection_after_revocation"], serde_json::json!({ "active": false }));
        assert_eq!(out["replay_error"], "invalid_grant");
        assert_eq!(out["newest_refresh_error"], "invalid_grant", "the replay revoked the family");
        assert_eq!(out["refresh_introspection_after_replay"], serde_json::json!({ "active": false }));
        assert_eq!(out["token_statuses"], serde_json::json!([200, 200, 400, 400]), "{out}");

        // The server agrees, asked directly.
        let rotated = s(&out, "rotated_access_token");
        assert_eq!(introspect_basic(&app, id, secret, rotated).await["active"], false);
        let r = app.api_client.get(app.url("/userinfo")).bearer_auth(rotated).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the revoked access token is refused");
        let newest = refresh[1].as_str().unwrap();
        let (status, body) =
            token_basic(&app, id, secret, &[("grant_type", "refresh_token"), ("refresh_token", newest)]).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    }
);

// A public client: Authlib authenticates it as `none` (client_id in the body) at the token and revocation
// endpoints. Revoking its refresh token ends the family.
both_backends!(authlib_public_client_refreshes_and_revokes_its_refresh_token, async |app| {
    let alice = add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = s(&client, "client_id");
    let vars =
        [("TESSERA_ISSUER", app.address.as_str()), ("TESSERA_CLIENT_ID", id), ("TESSERA_REDIRECT_URI", REDIRECT)];
    let mut rp = start("public_client", &vars);
    rp.authorize(&app).await;
    let out = rp.result().await;
    assert_eq!(out["auth_methods"], serde_json::json!(["none", "none"]));
    assert_eq!(out["id_token"]["sub"], s(&alice, "id"));
    let refresh = out["refresh_tokens"].as_array().unwrap();
    assert_ne!(refresh[0], refresh[1], "a refresh rotates the refresh token");
    assert_eq!(out["revocation_status"], 200);
    assert_eq!(out["refresh_after_revocation"], "invalid_grant", "{out}");
    // The server agrees, asked directly: the family's access token is refused too.
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(s(&out, "access_token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the revoked family's access token");
});

// Scenario 2: client_credentials with Authlib's PrivateKeyJWT (a kid-less RS256 assertion for the token
// endpoint, one hour long) against a key registered through the CLI, and with client_secret_post.
both_backends!(authlib_client_credentials_with_private_key_jwt_and_client_secret_post, async |app| {
    let dir = app.dir.path();
    let key = rsa_key(dir, "rp-key");
    let jwks = dir.join("rp-jwks.json");
    std::fs::write(&jwks, jwks_of(&[&key]).to_string()).unwrap();
    let service = |extra: &[&str]| {
        let mut args = vec!["clients", "add", "--name", "Service", "--grant-type", "client_credentials"];
        args.extend_from_slice(&["--scope", "read"]);
        args.extend_from_slice(extra);
        app.cli_json(&args, None)
    };
    let signed = service(&["--auth-method", "private_key_jwt", "--jwks", jwks.to_str().unwrap()]);
    let post = service(&["--auth-method", "client_secret_post"]);
    let (jwt_id, post_id) = (s(&signed, "client_id"), s(&post, "client_id"));
    let post_secret = s(&post, "client_secret");
    let rp = start(
        "client_credentials",
        &[
            ("TESSERA_ISSUER", &app.address),
            ("TESSERA_CLIENT_ID", jwt_id),
            ("TESSERA_CLIENT_KEY", dir.join("rp-key.pem").to_str().unwrap()),
            ("TESSERA_POST_CLIENT_ID", post_id),
            ("TESSERA_POST_CLIENT_SECRET", post_secret),
        ],
    );
    let out = rp.result().await;

    let signed_out = &out["private_key_jwt"];
    let tokens = signed_out["tokens"].as_array().unwrap();
    assert_ne!(tokens[0], tokens[1], "two assertions, two tokens");
    assert_eq!(signed_out["claims"]["sub"], jwt_id);
    assert_eq!(signed_out["claims"]["client_id"], jwt_id);
    assert_eq!(signed_out["claims"]["scope"], "read");
    assert_eq!(out["private_key_jwt_header"]["alg"], "RS256");
    assert_eq!(out["refresh_token"], false, "client_credentials issues no refresh token");
    assert_eq!(out["client_secret_post"]["claims"]["client_id"], post_id);
    // private_key_jwt at the introspection and revocation endpoints too (the assertion names the token endpoint).
    assert_eq!(out["private_key_jwt_introspection"]["active"], true, "{out}");
    assert_eq!(out["private_key_jwt_revocation_status"], 200);
    assert_eq!(out["introspection"]["active"], true, "{out}");
    assert_eq!(out["introspection"]["client_id"], jwt_id);
    assert_eq!(out["revocation_status"], 200);

    // The server agrees, asked directly: the tokens each client revoked are dead, the other one is live.
    let revoked = [tokens[0].as_str().unwrap(), s(&out["client_secret_post"], "token")];
    for token in revoked {
        let dead = introspect_basic(&app, post_id, post_secret, token).await;
        assert_eq!(dead, serde_json::json!({ "active": false }));
    }
    let live = introspect_basic(&app, post_id, post_secret, tokens[1].as_str().unwrap()).await;
    assert_eq!((&live["active"], &live["client_id"]), (&true.into(), &jwt_id.into()), "{live}");
});

// Scenario 3: error answers as Authlib surfaces them, and prompt=none without a session.
both_backends!(authlib_sees_rfc_shaped_errors, async |app| {
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let vars = [
        ("TESSERA_ISSUER", app.address.as_str()),
        ("TESSERA_CLIENT_ID", id),
        ("TESSERA_CLIENT_SECRET", secret),
        ("TESSERA_REDIRECT_URI", REDIRECT),
    ];
    let out = start("errors", &vars).result().await;
    assert_eq!(out["wrong_secret"], serde_json::json!({ "error": "invalid_client", "status": 401 }), "{out}");
    assert_eq!(out["bad_code"], serde_json::json!({ "error": "invalid_grant", "status": 400 }), "{out}");
    // The same wrong secret, asked directly: a 401 with the Basic challenge (RFC 6749 §5.2).
    let wrong = format!("{secret}x");
    let r = app
        .api_client
        .post(app.url("/token"))
        .basic_auth(id, Some(&wrong))
        .form(&[("grant_type", "authorization_code"), ("code", "not-a-code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(challenge.as_deref().is_some_and(|c| c.starts_with("Basic")), "{challenge:?}");

    // prompt=none from a browser with no session: login_required, back at the redirect URI.
    let mut rp = start("prompt_none", &vars);
    let url = rp.line().await;
    let r = without_cookies().get(&url).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let back = crate::signin::location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    rp.send(&back);
    let out = rp.result().await;
    assert_eq!(out["error"], "login_required", "{out}");
    assert_eq!(out["code_parser_error"], "missing_code", "{out}");
    // Authlib's fetch_token turns the error response into a client_credentials request (no "code=" in it): the
    // client is not registered for that grant, so no token comes of it.
    assert_eq!(out["fetch_token_error"], "unauthorized_client", "{out}");
    assert_eq!(out["params"]["state"], out["state"]);
    assert_eq!(out["params"]["iss"], app.address.as_str());
    assert!(out["params"].get("code").is_none(), "{out}");
});
