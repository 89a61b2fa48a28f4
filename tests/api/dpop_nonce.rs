//! DPoP nonces (RFC 9449 §8, §9) under `dpop.require_nonce`: a proof without a nonce we provided is refused with
//! `use_dpop_nonce` and a fresh one in `DPoP-Nonce`, which the retry carries; every answer to a DPoP request
//! brings a fresh nonce; nonces need no shared state, so one instance takes another's. Without the setting
//! nothing changes.
use crate::dpop::{claims_of, code_for, code_form, error, Key};
use crate::helpers::*;
use crate::signin::{add_alice, add_client, browse, pkce_pair, query_of, urlencode, REDIRECT};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::oauth::dpop_nonce::DpopNonces;

fn require_nonce(raw: &mut tessera::config::RawSettings) {
    raw.dpop.require_nonce = true;
}

/// `POST path` (`/token` or `/par`) with `form`, the client's secret in HTTP Basic (none for a public client) and
/// `proof` as the `DPoP` header: the status, the headers and the body.
async fn post(
    app: &TestApp,
    path: &str,
    client: (&str, Option<&str>),
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.api_client.post(app.url(path)).form(form);
    if let Some(secret) = client.1 {
        req = req.basic_auth(client.0, Some(secret));
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.headers().clone(), r.json().await.unwrap())
}

/// `GET /userinfo` with `Authorization: DPoP <token>` and `proof`: the status, the headers and the body.
async fn userinfo(app: &TestApp, token: &str, proof: &str) -> (StatusCode, HeaderMap, Value) {
    let r = app
        .api_client
        .get(app.url("/userinfo"))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().clone(), r.json().await.unwrap())
}

/// The one `DPoP-Nonce` header.
fn nonce(headers: &HeaderMap) -> String {
    let mut all = headers.get_all("dpop-nonce").iter();
    let first = all.next().expect("a DPoP-Nonce header").to_str().unwrap().to_owned();
    assert!(all.next().is_none(), "one DPoP-Nonce header");
    first
}

/// Asserts a 400 `use_dpop_nonce` with a nonce, and returns the nonce.
fn asked_for_nonce(what: &str, (status, headers, body): (StatusCode, HeaderMap, Value)) -> String {
    assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "use_dpop_nonce"), "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
    nonce(&headers)
}

/// A nonce this deployment made `age` seconds ago, with the key every instance derives from the KEK.
fn nonce_made_ago(app: &TestApp, age: i64) -> String {
    let kek = tessera::jose::Kek::load(&app.settings.keys.kek).unwrap();
    let nonces = DpopNonces::new(&kek, app.settings.dpop.nonce_window, app.settings.tokens.leeway).unwrap();
    nonces.issue(tessera::domain::now() - age).unwrap().as_str().to_owned()
}

both_backends!(
    the_token_endpoint_asks_for_a_nonce_and_takes_it_from_any_instance,
    |raw| { require_nonce(raw) },
    async |app| {
        let svc = app.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
        let (id, secret) = (svc["client_id"].as_str().unwrap(), svc["client_secret"].as_str().unwrap());
        let form = [("grant_type", "client_credentials")];
        let client = (id, Some(secret));
        let key = Key::es256();

        let first = asked_for_nonce(
            "no nonce",
            post(&app, "/token", client, &form, Some(&key.proof(&app, "POST", "/token", None))).await,
        );
        let proof = key.proof_with_nonce(&app, "POST", "/token", None, Some(&first));
        let (status, headers, body) = post(&app, "/token", client, &form, Some(&proof)).await;
        assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
        assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
        // A success brings a fresh nonce too (RFC 9449 §8.2), which works as well.
        let fresh = nonce(&headers);
        let (status, _, body) = post(
            &app,
            "/token",
            client,
            &form,
            Some(&key.proof_with_nonce(&app, "POST", "/token", None, Some(&fresh))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Another instance makes the same nonces and takes this one's, with nothing shared but the KEK. It has the
        // same issuer, which the proofs' htu names.
        let peer = app.spawn_peer().await;
        let from_peer = asked_for_nonce(
            "no nonce at the peer",
            post(&peer, "/token", client, &form, Some(&key.proof(&app, "POST", "/token", None))).await,
        );
        let (status, _, body) = post(
            &app,
            "/token",
            client,
            &form,
            Some(&key.proof_with_nonce(&app, "POST", "/token", None, Some(&from_peer))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "the peer's nonce here: {body}");
        let (status, _, body) = post(
            &peer,
            "/token",
            client,
            &form,
            Some(&key.proof_with_nonce(&app, "POST", "/token", None, Some(&first))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "this instance's nonce at the peer: {body}");

        // Stale, forged, or of another type: refused, with a nonce to retry with.
        let window = app.settings.dpop.nonce_window;
        let forged = {
            let mut n = first.clone().into_bytes();
            n[0] = if n[0] == b'A' { b'B' } else { b'A' };
            String::from_utf8(n).unwrap()
        };
        for (what, sent) in [
            ("a stale nonce", json!(nonce_made_ago(&app, 2 * window + 1))),
            ("a forged nonce", json!(forged)),
            ("a nonce of our length from nowhere", json!("A".repeat(43))),
            ("a number", json!(7)),
        ] {
            let mut claims = claims_of(&key.proof(&app, "POST", "/token", None));
            claims["nonce"] = sent;
            asked_for_nonce(what, post(&app, "/token", client, &form, Some(&key.sign(claims))).await);
        }
        // The previous window's nonce is still good.
        let previous = nonce_made_ago(&app, window);
        let proof = key.proof_with_nonce(&app, "POST", "/token", None, Some(&previous));
        assert_eq!(
            post(&app, "/token", client, &form, Some(&proof)).await.0,
            StatusCode::OK,
            "the previous window's nonce"
        );

        // A proof wrong otherwise is refused as such, still with a fresh nonce.
        let proof = key.proof_with_nonce(&app, "POST", "/userinfo", None, Some(&first));
        let (status, headers, body) = post(&app, "/token", client, &form, Some(&proof)).await;
        assert_eq!((status, error(&body)), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
        nonce(&headers);
        // A request without a proof gets a bearer token and no nonce.
        let (status, headers, body) = post(&app, "/token", client, &form, None).await;
        assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("Bearer")), "{body}");
        assert!(headers.get("dpop-nonce").is_none());
        // Script in a browser may read the header.
        let r = app
            .api_client
            .post(app.url("/token"))
            .header("origin", "https://spa.example")
            .header("DPoP", key.proof(&app, "POST", "/token", None))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(r.headers().contains_key("dpop-nonce"));
        let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(exposed.contains("dpop-nonce"), "{exposed}");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("tessera_token_errors_total{error=\"use_dpop_nonce\"} 6"), "{metrics}");
    }
);

both_backends!(par_refresh_and_userinfo_ask_for_nonces_too, |raw| { require_nonce(raw) }, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let id = public["client_id"].as_str().unwrap();
    let key = Key::es256();

    // PAR (RFC 9449 §10.1): the same rule as the token endpoint.
    let (challenge, verifier) = pkce_pair();
    let request = [
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let n = asked_for_nonce(
        "PAR",
        post(&app, "/par", (id, None), &request, Some(&key.proof(&app, "POST", "/par", None))).await,
    );
    let proof = key.proof_with_nonce(&app, "POST", "/par", None, Some(&n));
    let (status, headers, pushed) = post(&app, "/par", (id, None), &request, Some(&proof)).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let n = nonce(&headers);
    let url = format!(
        "{}/authorize?client_id={id}&request_uri={}",
        app.address,
        urlencode(pushed["request_uri"].as_str().unwrap())
    );
    let code = query_of(&browse(&app, &url, Some("allow")).await)["code"].clone();
    let proof = key.proof_with_nonce(&app, "POST", "/token", None, Some(&n));
    let (status, _, body) = post(&app, "/token", (id, None), &code_form(id, &code, &verifier), Some(&proof)).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();

    // Refresh: refused without a nonce (the refresh token is not used up by that), then taken with one.
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("client_id", id), ("refresh_token", &refresh)];
    let n = asked_for_nonce(
        "refresh",
        post(&app, "/token", (id, None), &form, Some(&key.proof(&app, "POST", "/token", None))).await,
    );
    let proof = key.proof_with_nonce(&app, "POST", "/token", None, Some(&n));
    let (status, _, body) = post(&app, "/token", (id, None), &form, Some(&proof)).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    assert!(body["refresh_token"].is_string(), "{body}");

    // UserInfo (RFC 9449 §9): a 401 DPoP challenge with use_dpop_nonce and a nonce, then the claims.
    let (status, headers, body) = userinfo(&app, &access, &key.proof(&app, "GET", "/userinfo", Some(&access))).await;
    assert_eq!((status, error(&body)), (StatusCode::UNAUTHORIZED, "use_dpop_nonce"), "{body}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP algs=\"ES256 PS256 RS256\", error=\"use_dpop_nonce\", error_description=\""),
        "{challenge}"
    );
    let n = nonce(&headers);
    let (status, headers, claims) =
        userinfo(&app, &access, &key.proof_with_nonce(&app, "GET", "/userinfo", Some(&access), Some(&n))).await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert!(claims["sub"].is_string(), "{claims}");
    nonce(&headers);
});

both_backends!(a_device_polls_with_a_nonce, |raw| { require_nonce(raw) }, async |app| {
    use crate::device::{add_device_client, approve, authorize_device, DEVICE_GRANT};
    add_alice(&app);
    let tv = add_device_client(&app, true);
    let id = tv["client_id"].as_str().unwrap();
    let (status, auth) = authorize_device(&app, &tv, "openid").await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    approve(&app, auth["user_code"].as_str().unwrap()).await;
    let key = Key::es256();
    let form =
        [("grant_type", DEVICE_GRANT), ("device_code", auth["device_code"].as_str().unwrap()), ("client_id", id)];
    let n = asked_for_nonce(
        "device",
        post(&app, "/token", (id, None), &form, Some(&key.proof(&app, "POST", "/token", None))).await,
    );
    let proof = key.proof_with_nonce(&app, "POST", "/token", None, Some(&n));
    let (status, _, body) = post(&app, "/token", (id, None), &form, Some(&proof)).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
});

both_backends!(without_require_nonce_no_nonce_is_asked_for_nor_sent, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let id = public["client_id"].as_str().unwrap();
    let key = Key::es256();
    let (code, verifier) = code_for(&app, id, "").await;
    let proof = key.proof(&app, "POST", "/token", None);
    let (status, headers, body) =
        post(&app, "/token", (id, None), &code_form(id, &code, &verifier), Some(&proof)).await;
    assert_eq!((status, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    assert!(headers.get("dpop-nonce").is_none());
    // A nonce we never provided is ignored (RFC 9449 §4.3, check 9).
    let access = body["access_token"].as_str().unwrap();
    let proof = key.proof_with_nonce(&app, "GET", "/userinfo", Some(access), Some("made-up"));
    let (status, headers, claims) = userinfo(&app, access, &proof).await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert!(headers.get("dpop-nonce").is_none());
});
