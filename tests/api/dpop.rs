//! DPoP (RFC 9449): access tokens bound to a key the client proves it holds, a public client's refresh tokens
//! bound to it too, codes bound with `dpop_jkt`, and bound tokens used at `/userinfo` with the `DPoP` scheme.
//! The proofs are made here with josekit, as a client library would.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, auth_url, browse, pkce_pair, query_of, urlencode, REDIRECT};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A client's DPoP key pair.
pub(crate) struct Key {
    signer: Box<dyn JwsSigner>,
    public: Value,
}

impl Key {
    pub(crate) fn es256() -> Self {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let signer = josekit::jws::ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        Self { signer: Box::new(signer), public: Value::Object(pair.to_jwk_public_key().as_ref().clone()) }
    }

    fn rs256() -> Self {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let signer = josekit::jws::RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        Self { signer: Box::new(signer), public: Value::Object(pair.to_jwk_public_key().as_ref().clone()) }
    }

    /// The RFC 7638 thumbprint of the public key, worked out here rather than by the server's code.
    pub(crate) fn jkt(&self) -> String {
        let k = &self.public;
        let canonical = match k["kty"].as_str().unwrap() {
            "EC" => json!({ "crv": k["crv"], "kty": "EC", "x": k["x"], "y": k["y"] }),
            _ => json!({ "e": k["e"], "kty": "RSA", "n": k["n"] }),
        };
        // serde_json's map sorts its keys: the canonical order.
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// A fresh proof for `method` at our `path`, with the hash of `token` when one goes with it.
    pub(crate) fn proof(&self, app: &TestApp, method: &str, path: &str, token: Option<&str>) -> String {
        self.proof_with_nonce(app, method, path, token, None)
    }

    /// [`Key::proof`] with `nonce` as its `nonce` claim, when there is one.
    pub(crate) fn proof_with_nonce(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": app.url(path),
            "iat": tessera::domain::now(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.sign(claims)
    }

    pub(crate) fn sign(&self, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_claim("jwk", Some(self.public.clone())).unwrap();
        let Value::Object(map) = claims else { panic!("claims are an object") };
        josekit::jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &header, self.signer.as_ref()).unwrap()
    }
}

/// The claims of a JWT, unverified.
pub(crate) fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// `POST /token` with `form`, the client's secret in HTTP Basic (none for a public client), and `proofs` as
/// `DPoP` headers.
async fn token(
    app: &TestApp,
    client: (&str, Option<&str>),
    form: &[(&str, &str)],
    proofs: &[&str],
) -> (StatusCode, Value) {
    let mut req = app.api_client.post(app.url("/token")).form(form);
    if let Some(secret) = client.1 {
        req = req.basic_auth(client.0, Some(secret));
    }
    for proof in proofs {
        req = req.header("DPoP", *proof);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

/// `GET /userinfo` with `Authorization: <scheme> <token>` and `proof` as the `DPoP` header: the status, the
/// challenge and the body.
async fn userinfo(app: &TestApp, scheme: &str, token: &str, proof: Option<&str>) -> (StatusCode, String, Value) {
    let mut req = app.api_client.get(app.url("/userinfo")).header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let r = req.send().await.unwrap();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r.status(), challenge, r.json().await.unwrap())
}

pub(crate) fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no error in {body}"))
}

/// Signs alice in for `client_id` (public) with `extra` in the authorization request; the code and verifier.
pub(crate) async fn code_for(app: &TestApp, client_id: &str, extra: &str) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, client_id, &challenge, extra), Some("allow")).await;
    (query_of(&back)["code"].clone(), verifier)
}

pub(crate) fn code_form<'a>(client_id: &'a str, code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

both_backends!(a_public_clients_code_flow_binds_its_tokens_to_its_key, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let id = public["client_id"].as_str().unwrap();
    let key = Key::es256();
    let other = Key::rs256();

    let (code, verifier) = code_for(&app, id, "").await;
    let (status, body) =
        token(&app, (id, None), &code_form(id, &code, &verifier), &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&access)["cnf"], json!({ "jkt": key.jkt() }));
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // The refresh token is bound to the key: another key's proof, or none, gets nothing.
    let form = [("grant_type", "refresh_token"), ("client_id", id), ("refresh_token", &refresh)];
    let (status, body) = token(&app, (id, None), &form, &[&other.proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = token(&app, (id, None), &form, &[]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let refreshed = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&refreshed)["cnf"]["jkt"], key.jkt());

    // UserInfo: the DPoP scheme with a proof of the key for this request, its ath the token's hash.
    let proof = key.proof(&app, "GET", "/userinfo", Some(&refreshed));
    let (status, _, claims) = userinfo(&app, "DPoP", &refreshed, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert!(claims["sub"].is_string(), "{claims}");
    // The same proof again is a replay.
    let (status, challenge, body) = userinfo(&app, "DPoP", &refreshed, Some(&proof)).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"), "{body}");
    assert!(challenge.starts_with("DPoP algs=\"ES256 PS256 RS256\""), "{challenge}");
    // A bound token is no bearer token.
    let (status, challenge, body) = userinfo(&app, "Bearer", &refreshed, None).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"), "{body}");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    // Another key's proof, a proof without ath, or none at all.
    let (status, challenge, body) =
        userinfo(&app, "DPoP", &refreshed, Some(&other.proof(&app, "GET", "/userinfo", Some(&refreshed)))).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"), "{body}");
    assert!(challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    let (status, _, body) = userinfo(&app, "DPoP", &refreshed, Some(&key.proof(&app, "GET", "/userinfo", None))).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"), "{body}");
    let (status, _, body) = userinfo(&app, "DPoP", &refreshed, None).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"), "{body}");

    // Introspection shows the binding to a resource server.
    let rs = add_client(&app, &[]);
    let (rs_id, rs_secret) = (rs["client_id"].as_str().unwrap(), rs["client_secret"].as_str().unwrap());
    let seen = crate::signin::introspect_basic(&app, rs_id, rs_secret, &refreshed).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["token_type"], "DPoP", "{seen}");
    assert_eq!(seen["cnf"]["jkt"], key.jkt(), "{seen}");
    // It is the same token otherwise: its revocation ends it.
    let r = app.api_client.post(app.url("/revoke")).form(&[("token", refreshed.as_str()), ("client_id", id)]);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(crate::signin::introspect_basic(&app, rs_id, rs_secret, &refreshed).await["active"], false);
});

both_backends!(a_proof_is_for_one_request_once, async |app| {
    let svc = app.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
    let (id, secret) = (svc["client_id"].as_str().unwrap(), svc["client_secret"].as_str().unwrap());
    let form = [("grant_type", "client_credentials")];
    let key = Key::rs256();

    // Without a proof: a bearer token, as before.
    let (status, body) = token(&app, (id, Some(secret)), &form, &[]).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("Bearer")), "{body}");
    assert!(claims_of(body["access_token"].as_str().unwrap()).get("cnf").is_none());

    let proof = key.proof(&app, "POST", "/token", None);
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&proof]).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());

    let refused = [
        ("a replay", proof.clone()),
        ("another endpoint", key.proof(&app, "POST", "/userinfo", None)),
        ("another method", key.proof(&app, "GET", "/token", None)),
        ("another server", {
            let mut c = claims_of(&key.proof(&app, "POST", "/token", None));
            c["htu"] = json!("https://elsewhere.example/token");
            key.sign(c)
        }),
        ("an old proof", {
            let mut c = claims_of(&key.proof(&app, "POST", "/token", None));
            c["iat"] = json!(tessera::domain::now() - 600);
            key.sign(c)
        }),
        ("a proof with a bad signature", {
            let good = key.proof(&app, "POST", "/token", None);
            let (head, _) = good.rsplit_once('.').unwrap();
            format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))
        }),
    ];
    for (what, proof) in refused {
        let (status, body) = token(&app, (id, Some(secret)), &form, &[&proof]).await;
        assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{what}: {body}");
    }
    let (a, b) = (key.proof(&app, "POST", "/token", None), key.proof(&app, "POST", "/token", None));
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&a, &b]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "two proofs: {body}");
});

both_backends!(a_code_asked_for_with_dpop_jkt_is_redeemed_with_that_key_only, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let id = public["client_id"].as_str().unwrap();
    let (key, other) = (Key::es256(), Key::es256());

    let (code, verifier) = code_for(&app, id, &format!("&dpop_jkt={}", key.jkt())).await;
    let (status, body) =
        token(&app, (id, None), &code_form(id, &code, &verifier), &[&other.proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");

    // Pushed with a proof: the code is bound to its key, as if dpop_jkt named it.
    let (challenge, verifier) = pkce_pair();
    let request = [
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let push = |form: Vec<(&'static str, String)>, proof: String| {
        let req = app.api_client.post(app.url("/par")).form(&form).header("DPoP", proof);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let owned: Vec<(&'static str, String)> = request.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let mut mismatched = owned.clone();
    mismatched.push(("dpop_jkt", other.jkt()));
    let (status, body) = push(mismatched, key.proof(&app, "POST", "/par", None)).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let (status, pushed) = push(owned, key.proof(&app, "POST", "/par", None)).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let url = format!(
        "{}/authorize?client_id={id}&request_uri={}",
        app.address,
        urlencode(pushed["request_uri"].as_str().unwrap())
    );
    let code = query_of(&browse(&app, &url, Some("allow")).await)["code"].clone();
    let (status, body) =
        token(&app, (id, None), &code_form(id, &code, &verifier), &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
});

both_backends!(a_client_registered_for_bound_tokens_gets_no_bearer_token, async |app| {
    let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(discovery["dpop_signing_alg_values_supported"], json!(["ES256", "PS256", "RS256"]));

    let args =
        ["clients", "add", "--name", "Bound", "--grant-type", "client_credentials", "--dpop-bound-access-tokens"];
    let bound = app.cli_json(&args, None);
    assert_eq!(bound["dpop_bound_access_tokens"], true, "{bound}");
    let (id, secret) = (bound["client_id"].as_str().unwrap(), bound["client_secret"].as_str().unwrap());
    let form = [("grant_type", "client_credentials")];
    let (status, body) = token(&app, (id, Some(secret)), &form, &[]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let key = Key::es256();
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");

    // A bound admin token is not taken as a bearer token by the admin API.
    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let (id, secret) = (admin["client_id"].as_str().unwrap(), admin["client_secret"].as_str().unwrap());
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = app
        .api_client
        .request(Method::GET, app.url("/admin/api/clients"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(a_confidential_clients_refresh_tokens_are_not_bound_but_its_access_tokens_are, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let (first, second) = (Key::es256(), Key::rs256());
    let (code, verifier) = code_for(&app, id, "").await;
    let form = code_form(id, &code, &verifier);
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&first.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], first.jkt());

    // Its authentication binds its refresh token: each refresh binds the new access token to the key it proves.
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let (status, body) = token(&app, (id, Some(secret)), &form, &[&second.proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], second.jkt());
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let (status, body) = token(&app, (id, Some(secret)), &form, &[]).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("Bearer")), "{body}");
    // A Bearer token presented with the DPoP scheme is refused.
    let bearer = body["access_token"].as_str().unwrap();
    let proof = first.proof(&app, "GET", "/userinfo", Some(bearer));
    let (status, _, body) = userinfo(&app, "DPoP", bearer, Some(&proof)).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"), "{body}");
    let (status, _, body) = userinfo(&app, "Bearer", bearer, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
});

// A retry within the refresh grace window is the same request again: proving the same key it gets the same
// answer; proving another key, or none, it is refused without revoking anything, since its answer would hand the
// first key's tokens and the new refresh token to whoever holds the second.
both_backends!(a_grace_retry_proving_another_key_is_refused, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let (first, second) = (Key::es256(), Key::rs256());
    let (code, verifier) = code_for(&app, id, "").await;
    let (status, body) = token(&app, (id, Some(secret)), &code_form(id, &code, &verifier), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let proof = || first.proof(&app, "POST", "/token", None);
    let (status, answer) = token(&app, (id, Some(secret)), &form, &[&proof()]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let other_key = second.proof(&app, "POST", "/token", None);
    for proofs in [vec![other_key.as_str()], vec![]] {
        let (status, body) = token(&app, (id, Some(secret)), &form, &proofs).await;
        assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("use the newest one"), "{body}");
    }
    let (status, again) = token(&app, (id, Some(secret)), &form, &[&proof()]).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["access_token"], answer["access_token"], "the same answer");
    assert_eq!(again["refresh_token"], answer["refresh_token"]);
    // Nothing was revoked: the newest refresh token still rotates.
    let newest = [("grant_type", "refresh_token"), ("refresh_token", answer["refresh_token"].as_str().unwrap())];
    let (status, body) = token(&app, (id, Some(secret)), &newest, &[&proof()]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
});

both_backends!(a_token_exchange_with_a_proof_binds_the_new_token_to_the_apis_key, async |app| {
    use crate::token_exchange::{add_api, users_token_for_the_api, ACCESS_TOKEN, DOWNSTREAM, EXCHANGE};
    let (_, _, _, subject) = users_token_for_the_api(&app).await;
    let (api_id, api_secret) = add_api(&app);
    let key = Key::es256();
    let form = [
        ("grant_type", EXCHANGE),
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS_TOKEN),
        ("resource", DOWNSTREAM),
    ];
    let (status, body) =
        token(&app, (&api_id, Some(&api_secret)), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"], json!({ "jkt": key.jkt() }));
    assert_eq!(claims["aud"], DOWNSTREAM);
});

both_backends!(a_device_polling_with_a_proof_gets_tokens_bound_to_its_key, async |app| {
    use crate::device::{add_device_client, approve, authorize_device, DEVICE_GRANT};
    add_alice(&app);
    let tv = add_device_client(&app, true);
    let id = tv["client_id"].as_str().unwrap();
    let (status, auth) = authorize_device(&app, &tv, "openid offline_access").await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    approve(&app, auth["user_code"].as_str().unwrap()).await;

    let key = Key::es256();
    let form =
        [("grant_type", DEVICE_GRANT), ("device_code", auth["device_code"].as_str().unwrap()), ("client_id", id)];
    let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"], json!({ "jkt": key.jkt() }));

    // The device is a public client: its refresh token is bound to the key as well.
    let refresh = body["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token: {body}"));
    let form = [("grant_type", "refresh_token"), ("client_id", id), ("refresh_token", refresh)];
    let (status, body) = token(&app, (id, None), &form, &[]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = token(&app, (id, None), &form, &[&Key::es256().proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
});

// Regression (RFC 9449 §5): a public client's grant begun without a proof stayed unbound when the client later
// refreshed with one, so whoever stole a later refresh token could use it with no key.
both_backends!(a_public_clients_first_refresh_with_a_proof_binds_the_rest_of_the_grant, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let id = public["client_id"].as_str().unwrap();
    let (key, other) = (Key::es256(), Key::rs256());
    let (code, verifier) = code_for(&app, id, "").await;
    let (status, body) = token(&app, (id, None), &code_form(id, &code, &verifier), &[]).await;
    assert_eq!((status, &body["token_type"]), (StatusCode::OK, &json!("Bearer")), "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let form = [("grant_type", "refresh_token"), ("client_id", id), ("refresh_token", &refresh)];
    let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!((status, &body["token_type"]), (StatusCode::OK, &json!("DPoP")), "{body}");
    let bound = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("client_id", id), ("refresh_token", &bound)];
    for proofs in [vec![], vec![other.proof(&app, "POST", "/token", None)]] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (status, body) = token(&app, (id, None), &form, &proofs).await;
        assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    }
    let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
});

// Regression: a purged refresh token of a bound family, presented without the key, revoked the live family as
// reuse, though the same token before the purge was refused unheard: whoever held an old token, but not the
// key, could sign the user out of the app.
both_backends!(
    an_old_bound_refresh_token_ends_its_grant_only_with_the_key,
    |raw| {
        raw.tokens.refresh_grace_seconds = 0;
        raw.tokens.rotated_refresh_retention_seconds = 2;
    },
    async |app| {
        use tessera::storage::RefreshTokenStore;
        add_alice(&app);
        let public = add_client(&app, &["--public"]);
        let id = public["client_id"].as_str().unwrap();
        let key = Key::es256();
        let (code, verifier) = code_for(&app, id, "").await;
        let (status, body) =
            token(&app, (id, None), &code_form(id, &code, &verifier), &[&key.proof(&app, "POST", "/token", None)])
                .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let old = body["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |rt: String| {
            [("grant_type", "refresh_token".to_owned()), ("client_id", id.to_owned()), ("refresh_token", rt)]
        };
        let form = refresh(old.clone());
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = token(&app, (id, None), &form, &[&key.proof(&app, "POST", "/token", None)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let live = body["refresh_token"].as_str().unwrap().to_owned();
        let store = tessera::startup::open_store(&app.settings).await.unwrap();
        store.purge_expired_refresh_tokens(tessera::domain::now() + 3600).await.unwrap();

        let (status, body) = token(&app, (id, None), &form, &[]).await;
        assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
        let live_form = refresh(live);
        let live_form: Vec<(&str, &str)> = live_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = token(&app, (id, None), &live_form, &[&key.proof(&app, "POST", "/token", None)]).await;
        assert_eq!(status, StatusCode::OK, "the grant lives on: {body}");
        let events = app.cli_json(&["audit", "list"], None);
        assert!(!events.to_string().contains("refresh_token_reuse"), "{events}");
    }
);
