//! Key rotation as operators and relying parties see it: `tessera keys …` and the served JWKS at each stage.
use crate::helpers::*;
use crate::jwks::{test_payload, verify_with_jwks};
use crate::signin::{introspect_basic, token_basic};
use serde_json::Value;
use std::time::Duration;

/// How long the server may take to pick up a ring change with `keys.refresh_seconds = 1`.
const REFRESH_LIMIT: Duration = Duration::from_secs(10);

/// `(kid, state)` pairs from `tessera keys list --json`.
fn listed(app: &TestApp) -> Vec<(String, String)> {
    let out = app.cli_json(&["keys", "list"], None);
    out["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k["state"].as_str().unwrap().to_owned()))
        .collect()
}

fn state_of(list: &[(String, String)], kid: &str) -> String {
    list.iter().find(|(k, _)| k == kid).map(|(_, s)| s.clone()).unwrap_or_else(|| panic!("{kid} not listed: {list:?}"))
}

async fn wait_until_served(app: &TestApp, kid: &str) -> Value {
    eventually(&format!("{} to serve {kid}", app.address), REFRESH_LIMIT, || async {
        let jwks = app.jwks().await;
        kids(&jwks).iter().any(|k| k == kid).then_some(jwks)
    })
    .await
}

both_backends!(
    staged_rotation_publishes_first_then_signs_then_retires,
    |raw| {
        // Small enough to watch a rotation happen: published 4 s before it signs, JWKS cached 2 s.
        raw.keys.publish_ahead_seconds = 4;
        raw.keys.jwks_max_age_seconds = 2;
        raw.keys.refresh_seconds = 1;
    },
    async |app| {
        let (_store, ring) = app.open_key_ring().await;
        let before = listed(&app);
        assert_eq!(before.len(), 1, "{before:?}");
        let (old, state) = before[0].clone();
        assert_eq!(state, "current");
        assert_eq!(app.served_kids().await, vec![old.clone()]);

        let r = app.cli_json(&["keys", "rotate"], None);
        assert_eq!(r["created"], true);
        let new = r["kid"].as_str().unwrap().to_owned();
        let activates_at = r["activates_at"].as_i64().unwrap();
        assert_ne!(new, old);

        // Stage 1: the new key is published ahead while the old one still signs.
        let list = listed(&app);
        let jwks = wait_until_served(&app, &new).await;
        ring.refresh().await.unwrap();
        let now = tessera::domain::now();
        let token = ring.snapshot().sign(&test_payload(&app), "JWT", now).unwrap();
        assert!(now < activates_at, "the machine was too slow to observe the staged key ({now} >= {activates_at})");
        assert_eq!(state_of(&list, &new), "next");
        assert_eq!(state_of(&list, &old), "current");
        assert!(kids(&jwks).contains(&old), "the signing key stays published: {:?}", kids(&jwks));
        assert_eq!(token_kid(&token), old, "the old key signs until the new one activates");
        verify_with_jwks(&jwks, &token).unwrap();

        // Stage 2: after its activation time the new key signs; the old one is retired but still published.
        sleep_until_unix(activates_at).await;
        let list = listed(&app);
        assert_eq!(state_of(&list, &new), "current");
        assert_eq!(state_of(&list, &old), "retired");
        let listed_old = app.cli_json(&["keys", "list"], None)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == old.as_str())
            .cloned()
            .unwrap();
        assert_eq!(listed_old["retired_at"].as_i64(), Some(activates_at));
        let now = tessera::domain::now();
        let token_new = ring.snapshot().sign(&test_payload(&app), "JWT", now).unwrap();
        assert_eq!(token_kid(&token_new), new);
        let jwks = app.jwks().await;
        let served = kids(&jwks);
        assert!(served.contains(&new) && served.contains(&old), "{served:?}");
        verify_with_jwks(&jwks, &token).expect("a token of the retired key still verifies");
        verify_with_jwks(&jwks, &token_new).expect("a token of the new key verifies");
    }
);

both_backends!(
    import_adds_an_operator_key,
    |raw| {
        raw.keys.refresh_seconds = 1;
    },
    async |app| {
        let (_store, ring) = app.open_key_ring().await;
        // PKCS#8, staged like a rotation.
        let pem = openssl_rsa_key(app.dir.path(), "pkcs8.pem", 2048, false);
        let expected = rsa_thumbprint(&openssl_modulus_b64(&pem), "AQAB");
        let r = app.cli_json(&["keys", "import", pem.to_str().unwrap()], None);
        assert_eq!(r["kid"], expected.as_str(), "the kid is the key's RFC 7638 thumbprint");
        assert_eq!(r["created"], true);
        assert!(r["activates_at"].as_i64().unwrap() > tessera::domain::now(), "staged, not signing yet");
        assert_eq!(state_of(&listed(&app), &expected), "next");
        wait_until_served(&app, &expected).await;

        // Importing it again is refused by name.
        let args = ["keys", "import", pem.to_str().unwrap()];
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains("already in the ring"), "{err}");

        // PKCS#1 with --now: it signs at once (from the next second on, see the regression test below).
        let pem1 = openssl_rsa_key(app.dir.path(), "pkcs1.pem", 2048, true);
        assert!(std::fs::read_to_string(&pem1).unwrap().contains("BEGIN RSA PRIVATE KEY"));
        let expected1 = rsa_thumbprint(&openssl_modulus_b64(&pem1), "AQAB");
        next_second().await;
        let r = app.cli_json(&["keys", "import", "--now", pem1.to_str().unwrap()], None);
        assert_eq!(r["kid"], expected1.as_str());
        assert_eq!(state_of(&listed(&app), &expected1), "current");
        let jwks = wait_until_served(&app, &expected1).await;
        ring.refresh().await.unwrap();
        let token = ring.snapshot().sign(&test_payload(&app), "JWT", tessera::domain::now()).unwrap();
        assert_eq!(token_kid(&token), expected1);
        verify_with_jwks(&jwks, &token).unwrap();

        // Too small a key, and something that is not a key, are refused.
        let small = openssl_rsa_key(app.dir.path(), "small.pem", 1024, false);
        let args = ["keys", "import", small.to_str().unwrap()];
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains("2048"), "{err}");
        let junk = app.dir.path().join("junk.pem");
        std::fs::write(&junk, "not a key").unwrap();
        let args = ["keys", "import", junk.to_str().unwrap()];
        let err = assert_failure(&app.cli(&args, None), &args);
        assert!(err.contains("PEM"), "{err}");
    }
);

/// Two instances on one Postgres database share one ring; a change made anywhere reaches both within
/// `keys.refresh_seconds`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_one_key_ring_postgres() {
    let a = spawn_app_with(Backend::Postgres, |raw| raw.keys.refresh_seconds = 1).await;
    let b = a.spawn_peer().await;
    let (ja, jb) = (a.get("/jwks").await, b.get("/jwks").await);
    assert_eq!(ja.headers()["etag"], jb.headers()["etag"]);
    let (ja, jb): (Value, Value) = (ja.json().await.unwrap(), jb.json().await.unwrap());
    assert_eq!(ja, jb);
    assert_eq!(kids(&ja).len(), 1, "the second instance did not make a key of its own");

    // Through the CLI.
    let r = a.cli_json(&["keys", "rotate", "--now"], None);
    let kid = r["kid"].as_str().unwrap().to_owned();
    wait_until_served(&b, &kid).await;
    wait_until_served(&a, &kid).await;

    // Through a key ring, as a third instance would.
    let (_store, ring) = b.open_key_ring().await;
    let r = ring.rotate(tessera::domain::now(), false).await.unwrap();
    assert!(r.created);
    wait_until_served(&a, &r.kid).await;
    wait_until_served(&b, &r.kid).await;
    let (ja, jb) = (a.jwks().await, b.jwks().await);
    assert_eq!(ja, jb);
    assert_eq!(kids(&ja).len(), 3);
}

// Regression: keys that activate in the same second tied, and the tie-break by kid left the old key signing
// about half of the time after `keys rotate --now`. An immediate key now activates strictly after the newest
// active one (within a second).
both_backends!(regression_rotate_now_in_the_same_second_signs_with_the_new_key, async |app| {
    let (_store, ring) = app.open_key_ring().await;
    let t = ring.snapshot().signing_key(tessera::domain::now()).unwrap().activates_at;
    // Fixed time: every rotation happens in the second the first key activated.
    for attempt in 0..6 {
        let r = ring.rotate(t, true).await.unwrap();
        assert!(r.activates_at <= t + 1 + attempt, "attempt {attempt}: --now must sign within a second");
        let snap = ring.snapshot();
        let signing = &snap.signing_key(r.activates_at).unwrap().kid;
        assert_eq!(signing, &r.kid, "attempt {attempt}: the key just rotated in with --now does not sign");
        let listed = snap.list(r.activates_at);
        let state = listed.iter().find(|k| k.kid == r.kid).unwrap().state;
        assert_eq!(state, "current", "attempt {attempt}");
    }
});

/// `POST /token` with client_credentials; the access token.
async fn service_token(app: &TestApp, id: &str, secret: &str) -> String {
    let (_, body) = token_basic(app, id, secret, &[("grant_type", "client_credentials")]).await;
    body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {body}")).to_owned()
}

async fn active(app: &TestApp, id: &str, secret: &str, token: &str) -> bool {
    introspect_basic(app, id, secret, token).await["active"].as_bool().unwrap()
}

// After `keys rotate --now` (a compromised key), what the old key signs from then on is refused, while the
// tokens it signed before stay good until they expire; and no token lives longer than this server issues them.
both_backends!(
    a_key_rotated_out_at_once_signs_nothing_new,
    |raw| {
        raw.keys.refresh_seconds = 1;
        raw.tokens.leeway_seconds = 0;
    },
    async |app| {
        let client = app.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
        let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        let before = service_token(&app, id, secret).await;
        let (_store, ring) = app.open_key_ring().await;
        let (payload, header) = ring.snapshot().verify(&before).unwrap();
        let typ = header.token_type().unwrap().to_owned();
        let old = ring.snapshot().key(header.key_id().unwrap()).unwrap().clone();

        let rotated = app.cli_json(&["keys", "rotate", "--now"], None);
        wait_until_served(&app, rotated["kid"].as_str().unwrap()).await;
        // Past the retirement, the ring refresh and the (zero) leeway.
        sleep_until_unix(rotated["activates_at"].as_i64().unwrap() + 2).await;
        let now = tessera::domain::now();
        let minted_now = |exp: i64| {
            let mut p = payload.clone();
            p.set_claim("iat", Some(serde_json::json!(now))).unwrap();
            p.set_claim("exp", Some(serde_json::json!(exp))).unwrap();
            p.set_claim("jti", Some(serde_json::json!(format!("forged-{exp}")))).unwrap();
            p
        };
        let forged = old.sign_jwt(&minted_now(now + 60), &typ).unwrap();
        assert!(!active(&app, id, secret, &forged).await, "signed by the old key after it was retired");
        assert!(active(&app, id, secret, &before).await, "signed by the old key before");

        ring.refresh().await.unwrap();
        let current = ring.snapshot().sign(&minted_now(now + 60), &typ, now).unwrap();
        assert!(active(&app, id, secret, &current).await, "the current key's own token");
        let too_long = ring.snapshot().sign(&minted_now(now + 601), &typ, now).unwrap();
        assert!(!active(&app, id, secret, &too_long).await, "longer than tokens.max_access_token_ttl_seconds");
    }
);

// Regression: every operator command applied the rotation schedule with its own settings, so one run with
// shorter token lifetimes than the server's (or none of its config) removed a retired key whose tokens still
// lived, and the server stopped publishing it.
both_backends!(operator_commands_leave_the_schedule_to_the_server, async |app| {
    let first = app.cli_json(&["keys", "list"], None)["keys"][0]["kid"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        next_second().await;
        app.cli_json(&["keys", "rotate", "--now"], None);
    }
    // Retired for two seconds: long past what a command with one-second lifetimes would keep.
    sleep_until_unix(tessera::domain::now() + 2).await;
    let mut cmd = crate::helpers::tessera_command(app.dir.path());
    cmd.envs(app.cli_env()).envs([
        ("TESSERA__TOKENS__ACCESS_TOKEN_TTL_SECONDS", "1"),
        ("TESSERA__TOKENS__MAX_ACCESS_TOKEN_TTL_SECONDS", "1"),
        ("TESSERA__TOKENS__ID_TOKEN_TTL_SECONDS", "1"),
        ("TESSERA__KEYS__JWKS_MAX_AGE_SECONDS", "1"),
    ]);
    let args = ["--json", "keys", "list"];
    cmd.args(args);
    let out = crate::helpers::run(cmd, None);
    crate::helpers::assert_success(&out, &args);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kids: Vec<&str> = listed["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&first.as_str()), "the retired key was removed: {listed}");
    assert!(app.served_kids().await.contains(&first), "the retired key is no longer served");
});

// Regression: rotations run at the same time each staged a key of their own.
both_backends!(rotations_at_the_same_time_stage_one_key, async |app| {
    let outcomes: Vec<Value> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3).map(|_| s.spawn(|| app.cli_json(&["keys", "rotate"], None))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let created = outcomes.iter().filter(|o| o["created"] == true).count();
    assert_eq!(created, 1, "{outcomes:?}");
    let kids: std::collections::BTreeSet<&str> = outcomes.iter().map(|o| o["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 1, "every run names the one staged key: {outcomes:?}");
    let next: Vec<(String, String)> = listed(&app).into_iter().filter(|(_, state)| state == "next").collect();
    assert_eq!(next.len(), 1, "{next:?}");
});

// Regression: after `keys rotate --now` through another instance, which signs with the new key at once, an
// instance that had not refreshed its ring yet answered active: false for those tokens (and served a JWKS
// without the key) until its next periodic refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_by_a_key_just_added_elsewhere_is_checked_against_a_fresh_ring_postgres() {
    let slow = spawn_app_with(Backend::Postgres, |raw| {
        raw.keys.refresh_seconds = 3600;
        raw.keys.publish_ahead_seconds = 4000;
    })
    .await;
    let quick = slow.spawn_peer_with(|raw| raw.keys.refresh_seconds = 1).await;
    let svc = slow.cli_json(&["clients", "add", "--name", "Service", "--grant-type", "client_credentials"], None);
    let (id, secret) = (svc["client_id"].as_str().unwrap(), svc["client_secret"].as_str().unwrap());
    let kid = slow.cli_json(&["keys", "rotate", "--now"], None)["kid"].as_str().unwrap().to_owned();
    wait_until_served(&quick, &kid).await;
    next_second().await;
    let token = service_token(&quick, id, secret).await;
    assert_eq!(token_kid(&token), kid, "the quick instance signs with the new key");
    assert!(!slow.served_kids().await.contains(&kid), "the slow instance has not refreshed by itself");
    assert!(active(&slow, id, secret, &token).await, "a token of the new key is refused");
    assert!(slow.served_kids().await.contains(&kid), "and the JWKS lacks the key");
}
