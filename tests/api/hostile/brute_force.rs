//! Password guessing and request floods (RFC 9700 §2.4's concern for credentials, RFC 6749 §10.10): failed
//! sign-ins are limited per client IP and per username (progressive lock, the same for names that exist and names
//! that do not), the token endpoint per client and per IP, failed client assertions at revocation and
//! introspection per IP, registration per IP, new pending sign-ins per IP and, in the in-process cache, by the
//! memory they take. Over a limit: 429 with `Retry-After`, the sign-in page with a message for the form,
//! `too_many_requests` JSON for the API, a page of its own at `/authorize`.
use super::*;
use crate::health::TcpRelay;
use crate::helpers::{next_second, redis_socket_addr, redis_url, sleep_until_unix, spawn_app_with, Backend};
use crate::signin::{add_alice, add_client};

const LOCKED: &str = "Too many failed sign-in attempts.";

fn retry_after(r: &reqwest::Response) -> i64 {
    r.headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}", r.status()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// An authorization URL (with `extra` parameters and a PKCE challenge) for a new public client.
fn public_client_url(app: &TestApp, extra: &str) -> String {
    let client = add_client(app, &["--public"]);
    let (challenge, _) = pkce_pair();
    authorize_url(app, s(&client, "client_id"), &challenge, extra)
}

/// The message a page shows in its alert.
fn alert(html: &str) -> String {
    let start = html.find("role=\"alert\">").unwrap_or_else(|| panic!("no alert in:\n{html}")) + 13;
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].to_owned()
}

/// Asserts a 429 sign-in page: the form again (same interaction), the lock message, `Retry-After`.
async fn assert_locked(r: reqwest::Response, form: &LoginForm, case: &str) -> (i64, String) {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{case}");
    assert!(r.headers().get("set-cookie").is_none(), "{case}: a locked sign-in set a cookie");
    let wait = retry_after(&r);
    let html = r.text().await.unwrap();
    assert_eq!(hidden(&html, "interaction"), form.interaction, "{case}: the form is shown again");
    let message = alert(&html);
    assert!(message.contains(LOCKED), "{case}: {message}");
    (wait, message)
}

both_backends!(
    login_brute_force_is_limited_per_ip,
    |raw| {
        raw.limits.login_ip_failures = 3;
        raw.limits.login_ip_window_seconds = 2;
        raw.limits.login_user_failures = 0;
    },
    async |app| {
        add_alice(&app);
        let url = public_client_url(&app, "");
        let b = browser();
        let form = open_login(&app, &b, &url).await;
        // Different names from one IP: the IP's failures add up.
        for name in ["u1", "u2"] {
            let r = submit_login(&app, &b, &form, name, "guess").await;
            assert_eq!(r.status(), StatusCode::OK, "{name}");
        }
        let r = submit_login(&app, &b, &form, "u3", "guess").await;
        let (wait, _) = assert_locked(r, &form, "the third failure").await;
        assert!((1..=2).contains(&wait), "Retry-After {wait}");
        // While blocked, even the right password is not checked, from any browser on this IP.
        let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
        assert_locked(r, &form, "the right password while blocked").await;
        let other = browser();
        let other_form = open_login(&app, &other, &url).await;
        let r = submit_login(&app, &other, &other_form, "alice", PASSWORD).await;
        assert_locked(r, &other_form, "another browser on the same IP").await;
        // After the wait, the right password works.
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64 * 1000 + 300)).await;
        let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
        let events = audit_events(&app);
        assert_eq!(events_of(&events, "login_failed").len(), 3, "{events:?}");
        let lockouts = events_of(&events, "login_lockout");
        assert_eq!(lockouts.len(), 1, "{lockouts:?}");
        assert_eq!(lockouts[0]["details"]["scope"], "client_ip");
        assert_eq!(lockouts[0]["ip"], "127.0.0.1");
        assert_eq!(events_of(&events, "login_succeeded").len(), 1);
    }
);

// Regression: the default allowed five failures a minute per address, so a dozen people behind one office NAT (or
// every user behind a proxy not yet in `http.trusted_proxies`) mistyping their passwords locked everyone there out.
// With the defaults, a burst of failures under different names from one address leaves it open.
both_backends!(a_burst_of_typos_from_one_address_does_not_lock_it_out_by_default, async |app| {
    add_alice(&app);
    let url = public_client_url(&app, "");
    let b = browser();
    let form = open_login(&app, &b, &url).await;
    for n in 0..12 {
        let name = format!("colleague-{n}");
        let r = submit_login(&app, &b, &form, &name, "typo").await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
    }
    let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(events_of(&audit_events(&app), "login_lockout").is_empty());
});

both_backends!(
    login_brute_force_locks_the_username_progressively,
    |raw| {
        raw.limits.login_ip_failures = 0;
        raw.limits.login_user_failures = 3;
        raw.limits.login_user_window_seconds = 60;
        raw.limits.login_user_lock_seconds = 1;
        raw.limits.login_user_max_lock_seconds = 2;
    },
    async |app| {
        let alice = add_alice(&app);
        let url = public_client_url(&app, "");
        let b = browser();
        let form = open_login(&app, &b, &url).await;
        for name in ["alice", "nobody-at-all"] {
            for _ in 0..2 {
                let r = submit_login(&app, &b, &form, name, "guess").await;
                assert_eq!(r.status(), StatusCode::OK, "{name}");
            }
        }
        // Lock durations count whole seconds: start on a second boundary so that the 1 s lock lasts ~1 s.
        next_second().await;
        let t0 = tessera::domain::now();
        let r = submit_login(&app, &b, &form, "alice", "guess").await;
        let (wait, locked_alice) = assert_locked(r, &form, "alice's third failure").await;
        assert_eq!(wait, 1);
        let r = submit_login(&app, &b, &form, "nobody-at-all", "guess").await;
        let (wait_nobody, locked_nobody) = assert_locked(r, &form, "an unknown name's third failure").await;
        // Nothing tells an existing name from an unknown one.
        assert_eq!((wait_nobody, locked_nobody), (wait, locked_alice.clone()));
        // The right password is not even checked while the name is locked.
        let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
        assert_locked(r, &form, "the right password while locked").await;
        // Other names are not locked (the per-IP limit is off here).
        let r = submit_login(&app, &b, &form, "carol", "guess").await;
        assert_eq!(r.status(), StatusCode::OK);

        // After the lock, one more failure locks again, twice as long.
        sleep_until_unix(t0 + 1).await;
        let r = submit_login(&app, &b, &form, "alice", "guess").await;
        let (wait, _) = assert_locked(r, &form, "a failure after the first lock").await;
        assert_eq!(wait, 2, "the lock doubles");
        let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
        assert_locked(r, &form, "the right password during the second lock").await;
        // After it, the right password works, and the count starts over.
        sleep_until_unix(t0 + 3).await;
        let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());

        let events = audit_events(&app);
        let lockouts = events_of(&events, "login_lockout");
        assert_eq!(lockouts.len(), 3, "{lockouts:?}");
        assert!(lockouts.iter().all(|e| e["details"]["scope"] == "username"), "{lockouts:?}");
        let alice_id = s(&alice, "id");
        assert_eq!(lockouts.iter().filter(|e| e["user_id"] == alice_id).count(), 2, "{lockouts:?}");
        let succeeded = events_of(&events, "login_succeeded");
        assert_eq!(succeeded.len(), 1);
        assert_eq!(succeeded[0]["user_id"], alice_id);
    }
);

// Guessing during a lock shows in the audit trail: one `login_refused_locked` per lock, however many attempts it
// refused and in whatever letter case they spelled the name, with the user the name belongs to; the next lock is
// another event. Before, refusals while locked left only a log line.
both_backends!(
    sign_ins_refused_by_a_username_lock_are_audited_once_per_lock,
    |raw| {
        raw.limits.login_ip_failures = 0;
        raw.limits.login_user_failures = 3;
        raw.limits.login_user_window_seconds = 60;
        raw.limits.login_user_lock_seconds = 3;
        raw.limits.login_user_max_lock_seconds = 6;
    },
    async |app| {
        const AGENT: &str = "lock-probe/1.0";
        let alice = add_alice(&app);
        let client = add_client(&app, &["--public"]);
        let client_id = s(&client, "client_id");
        let (challenge, _) = pkce_pair();
        let url = authorize_url(&app, client_id, &challenge, "");
        let b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .user_agent(AGENT)
            .build()
            .unwrap();
        let form = open_login(&app, &b, &url).await;
        let other = browser();
        let other_form = open_login(&app, &other, &url).await;
        for _ in 0..3 {
            submit_login(&app, &b, &form, "alice", "guess").await;
        }
        // The first lock (3 s) refuses guesses in every spelling of the name, from both browsers.
        let mut request_ids = Vec::new();
        for name in ["alice", "ALICE", "Alice", "alice"] {
            let r = submit_login(&app, &b, &form, name, "guess").await;
            request_ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
            assert_locked(r, &form, name).await;
        }
        let r = submit_login(&app, &other, &other_form, "aLiCe", PASSWORD).await;
        assert_locked(r, &other_form, "the right password from another browser").await;
        let events = audit_events(&app);
        let refused = events_of(&events, "login_refused_locked");
        assert_eq!(refused.len(), 1, "{events:?}");
        let e = refused[0];
        assert_eq!(e["details"]["scope"], "username", "{e}");
        assert!((1..=3).contains(&e["details"]["seconds"].as_i64().unwrap()), "{e}");
        assert_eq!(e["user_id"], s(&alice, "id"), "{e}");
        assert_eq!(e["client_id"], client_id, "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        assert_eq!(e["user_agent"], AGENT, "{e}");
        assert_eq!(e["request_id"], request_ids[0].as_str(), "the first refusal is recorded: {e}");

        // After it, one more failure locks again (6 s): another lock, another event.
        let lockout = events_of(&events, "login_lockout")[0];
        sleep_until_unix(lockout["at"].as_i64().unwrap() + lockout["details"]["seconds"].as_i64().unwrap()).await;
        let r = submit_login(&app, &b, &form, "alice", "guess").await;
        assert_locked(r, &form, "the failure that locks again").await;
        for name in ["alice", "Alice"] {
            let r = submit_login(&app, &b, &form, name, "guess").await;
            assert_locked(r, &form, name).await;
        }
        let events = audit_events(&app);
        let refused = events_of(&events, "login_refused_locked");
        assert_eq!(refused.len(), 2, "{events:?}");
        assert_eq!(refused[1]["details"]["scope"], "username", "{refused:?}");
        assert!((1..=6).contains(&refused[1]["details"]["seconds"].as_i64().unwrap()), "{refused:?}");
        assert_eq!(refused[1]["user_id"], s(&alice, "id"), "{refused:?}");
        assert_eq!(events_of(&events, "login_lockout").len(), 2, "{events:?}");
        assert!(!serde_json::to_string(&events).unwrap().contains(PASSWORD), "a password reached the audit trail");
    }
);

// The same for an IP lock: one event for all the names tried while the IP waits, naming the user of the first.
both_backends!(
    sign_ins_refused_by_an_ip_lock_are_audited_once_per_lock,
    |raw| {
        raw.limits.login_ip_failures = 3;
        raw.limits.login_ip_window_seconds = 60;
        raw.limits.login_user_failures = 0;
    },
    async |app| {
        let alice = add_alice(&app);
        let url = public_client_url(&app, "");
        let b = browser();
        let form = open_login(&app, &b, &url).await;
        for name in ["u1", "u2", "u3"] {
            submit_login(&app, &b, &form, name, "guess").await;
        }
        for name in ["alice", "u4", "ALICE", "u5", "nobody-at-all"] {
            let r = submit_login(&app, &b, &form, name, "guess").await;
            assert_locked(r, &form, name).await;
        }
        let events = audit_events(&app);
        let refused = events_of(&events, "login_refused_locked");
        assert_eq!(refused.len(), 1, "{events:?}");
        let e = refused[0];
        assert_eq!(e["details"]["scope"], "client_ip", "{e}");
        assert!((1..=60).contains(&e["details"]["seconds"].as_i64().unwrap()), "{e}");
        assert_eq!(e["user_id"], s(&alice, "id"), "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
    }
);

// Regression: parallel guesses all passed the lock check before any failure was counted, so thirty at once
// checked thirty passwords (and a right one among them signed in).
both_backends!(
    parallel_guesses_check_no_more_passwords_than_the_limit,
    |raw| {
        raw.limits.login_ip_failures = 0;
        raw.limits.login_user_failures = 3;
        raw.limits.login_user_window_seconds = 60;
    },
    async |app| {
        add_alice(&app);
        let url = public_client_url(&app, "");
        let mut forms = Vec::new();
        for _ in 0..12 {
            let b = browser();
            let form = open_login(&app, &b, &url).await;
            forms.push((b, form));
        }
        let answers =
            futures_util::future::join_all(forms.iter().map(|(b, form)| submit_login(&app, b, form, "alice", "guess")))
                .await;
        let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        let events = audit_events(&app);
        assert_eq!(events_of(&events, "login_failed").len(), 3, "{statuses:?}");
        assert_eq!(refused, 10, "nine refused unchecked, and the third failure's lock: {statuses:?}");
        assert_eq!(events_of(&events, "login_lockout").len(), 1, "{events:?}");
    }
);

both_backends!(
    successful_sign_ins_never_count_against_the_ip,
    |raw| {
        raw.limits.login_ip_failures = 2;
    },
    async |app| {
        add_alice(&app);
        let url = public_client_url(&app, "&prompt=login");
        let b = browser();
        // One typo, then many good sign-ins: the limit of two failures is never reached.
        let form = open_login(&app, &b, &url).await;
        let r = submit_login(&app, &b, &form, "alice", "typo").await;
        assert_eq!(r.status(), StatusCode::OK);
        for i in 0..5 {
            let form = open_login(&app, &b, &url).await;
            let r = submit_login(&app, &b, &form, "alice", PASSWORD).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in {i}");
        }
    }
);

both_backends!(
    token_endpoint_is_limited_per_client_and_per_ip,
    |raw| {
        raw.limits.token_client_requests = 3;
        raw.limits.token_ip_requests = 5;
    },
    async |app| {
        let a = add_client(&app, &["--grant-type", "client_credentials"]);
        let b = add_client(&app, &["--grant-type", "client_credentials"]);
        let basic_a = Some((s(&a, "client_id"), s(&a, "client_secret")));
        let basic_b = Some((s(&b, "client_id"), s(&b, "client_secret")));
        let grant = [("grant_type", "client_credentials")];
        for i in 0..3 {
            let (st, body) = token(&app, basic_a, &grant).await;
            assert_eq!(st, StatusCode::OK, "request {i}: {body}");
        }
        let r = app
            .api_client
            .post(app.url("/token"))
            .basic_auth(s(&a, "client_id"), Some(s(&a, "client_secret")))
            .form(&grant)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&r);
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "too_many_requests");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
        // A client claimed in the form counts the same as one in the header, authenticated or not.
        let (st, body) =
            token(&app, None, &[("grant_type", "client_credentials"), ("client_id", s(&a, "client_id"))]).await;
        assert_eq!((st, s(&body, "error")), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
        // Another client still gets through, until the IP's own limit (5) is reached.
        // Requests so far from this IP: 5. The next one is over.
        let (st, body) = token(&app, basic_b, &grant).await;
        assert_eq!((st, s(&body, "error")), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
    }
);

both_backends!(
    token_endpoint_per_client_limit_leaves_other_clients_alone,
    |raw| {
        raw.limits.token_client_requests = 2;
    },
    async |app| {
        let a = add_client(&app, &["--grant-type", "client_credentials"]);
        let b = add_client(&app, &["--grant-type", "client_credentials"]);
        let grant = [("grant_type", "client_credentials")];
        for _ in 0..2 {
            assert_eq!(token(&app, Some((s(&a, "client_id"), s(&a, "client_secret"))), &grant).await.0, StatusCode::OK);
        }
        let (st, _) = token(&app, Some((s(&a, "client_id"), s(&a, "client_secret"))), &grant).await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
        let (st, body) = token(&app, Some((s(&b, "client_id"), s(&b, "client_secret"))), &grant).await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
);

// A private_key_jwt assertion costs a signature check per key tried, and /revoke and /introspect had no limit at
// all. Failed assertions there count per client IP; past the limit, assertions from that IP are refused unchecked.
// Successes count nothing (a resource server may introspect every call it serves), nor do client secrets.
both_backends!(
    failed_assertions_lock_an_ip_out_of_assertions_at_revocation_and_introspection,
    |raw| {
        raw.limits.token_ip_requests = 3;
    },
    async |app| {
        use crate::clients::{assertion_claims, jwks_of, rsa_key, sign};
        let dir = app.dir.path();
        let (key, forger) = (rsa_key(dir, "k1"), rsa_key(dir, "forged"));
        let file = dir.join("jwks.json");
        std::fs::write(&file, serde_json::to_vec(&jwks_of(&[&key])).unwrap()).unwrap();
        let jwks = file.to_str().unwrap();
        let args = ["clients", "add", "--name", "RS", "--grant-type", "client_credentials"];
        let client = app.cli_json(&[&args[..], &["--auth-method", "private_key_jwt", "--jwks", jwks]].concat(), None);
        let id = s(&client, "client_id").to_owned();
        let with_secret = add_client(&app, &["--grant-type", "client_credentials"]);
        let post = async |path: &str, by: &crate::clients::ClientKey| {
            let assertion = sign(&assertion_claims(&id, &app.address, 60), by.signer.as_ref());
            let form = [
                ("token", "not-a-token"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.as_str()),
            ];
            app.api_client.post(app.url(path)).form(&form).send().await.unwrap()
        };
        for path in ["/introspect", "/revoke"] {
            for i in 0..4 {
                assert_eq!(post(path, &key).await.status(), StatusCode::OK, "{path}: success {i} counts nothing");
            }
            for i in 0..3 {
                assert_eq!(post(path, &forger).await.status(), StatusCode::UNAUTHORIZED, "{path}: failure {i}");
            }
            let r = post(path, &key).await;
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{path}: a good assertion too, unchecked");
            let wait = retry_after(&r);
            assert!((1..=60).contains(&wait), "{path}: Retry-After {wait}");
            assert_eq!(r.headers()["cache-control"], "no-store");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "too_many_requests", "{path}: {body}");
            // A client secret is cheap to check: not refused.
            let r = app
                .api_client
                .post(app.url(path))
                .basic_auth(s(&with_secret, "client_id"), Some(s(&with_secret, "client_secret")))
                .form(&[("token", "not-a-token")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}: a client secret");
        }
    }
);

both_backends!(
    registration_is_limited_per_ip,
    |raw| {
        raw.registration.mode = Some("open".into());
        raw.limits.register_ip_requests = 2;
    },
    async |app| {
        let metadata = serde_json::json!({ "client_name": "Flood", "redirect_uris": ["https://app.example/cb"] });
        for i in 0..2 {
            let r = app.api_client.post(app.url("/register")).json(&metadata).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "registration {i}: {}", r.text().await.unwrap());
        }
        let r = app.api_client.post(app.url("/register")).json(&metadata).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&r);
        assert!((3000..=3600).contains(&wait), "Retry-After {wait}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "too_many_requests");
        // Only the two allowed registrations made clients.
        let clients = app.cli_json(&["clients", "list"], None);
        assert_eq!(clients["clients"].as_array().map(Vec::len), Some(2), "{clients}");
    }
);

/// With Redis unreachable, the limits fall back to this instance's memory: they still hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_in_memory_when_redis_is_gone_postgres() {
    let upstream = redis_socket_addr(&redis_url());
    let mut relay = TcpRelay::start(upstream, 0);
    let mut relay_url = url::Url::parse(&redis_url()).unwrap();
    relay_url.set_host(Some("127.0.0.1")).unwrap();
    relay_url.set_port(Some(relay.addr.port())).unwrap();
    let app = spawn_app_with(Backend::Postgres, |raw| {
        raw.redis.url = Some(relay_url.to_string());
        raw.redis.timeout_ms = 300;
        raw.limits.token_client_requests = 2;
    })
    .await;
    let a = add_client(&app, &["--grant-type", "client_credentials"]);
    let basic = Some((s(&a, "client_id"), s(&a, "client_secret")));
    let grant = [("grant_type", "client_credentials")];
    relay.stop();
    for i in 0..2 {
        let (st, body) = token(&app, basic, &grant).await;
        assert_ne!(st, StatusCode::TOO_MANY_REQUESTS, "request {i}: {body}");
    }
    let (st, body) = token(&app, basic, &grant).await;
    assert_eq!((st, s(&body, "error")), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
}

/// `GET url` from a browser of its own, as the client at `ip` behind the trusted proxy.
async fn authorize_from(url: &str, ip: &str) -> reqwest::Response {
    browser().get(url).header("x-forwarded-for", ip).send().await.unwrap()
}

/// Asserts a redirect to the login page: a new pending sign-in.
fn assert_to_login(r: &reqwest::Response, case: &str) {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{case}");
    assert!(location(r).starts_with("/login?"), "{case}: {}", location(r));
}

/// Asserts a refusal page of `/authorize` with `status`, `Retry-After` and `message`, sending the browser nowhere;
/// returns the wait.
async fn assert_authorize_refused(r: reqwest::Response, status: StatusCode, message: &str, case: &str) -> i64 {
    assert_eq!(r.status(), status, "{case}");
    assert!(r.headers().get("location").is_none(), "{case}: a redirect");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{case}");
    let wait = retry_after(&r);
    let html = r.text().await.unwrap();
    assert!(html.contains(message), "{case}: {html}");
    wait
}

// Every /authorize request that shows the sign-in page keeps the request for 30 minutes: without a limit, one
// address could fill the server's memory (or Redis's). Each address may start `limits.authorize_ip_requests` within
// the window; requests refused before anything is stored do not count.
both_backends!(
    new_sign_ins_are_limited_per_ip,
    |raw| {
        raw.limits.authorize_ip_requests = 3;
        raw.limits.authorize_ip_window_seconds = 60;
        raw.http.trusted_proxies = vec!["127.0.0.1".into()];
    },
    async |app| {
        let url = public_client_url(&app, "");
        for (case, refused) in [
            ("prompt=none", format!("{url}&prompt=none")),
            ("an unknown scope", url.replace("scope=openid", "scope=openid%20nope")),
            ("a state outside VSCHAR", url.replace("state=st", "state=%0A")),
        ] {
            for _ in 0..3 {
                let r = authorize_from(&refused, "198.51.100.7").await;
                let to = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
                assert!(to.starts_with(REDIRECT) || r.status() == StatusCode::BAD_REQUEST, "{case}: {to}");
            }
        }
        for n in 0..3 {
            assert_to_login(&authorize_from(&url, "198.51.100.7").await, &format!("new sign-in {n}"));
        }
        let r = authorize_from(&url, "198.51.100.7").await;
        let wait = assert_authorize_refused(r, StatusCode::TOO_MANY_REQUESTS, "Too many sign-ins", "the fourth").await;
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
        // Another address is not held back.
        assert_to_login(&authorize_from(&url, "198.51.100.8").await, "another address");
    }
);

// A browser answered from its session stores nothing, and is not counted: silent renewals and apps that send the
// user through /authorize on every visit never use up the limit.
both_backends!(
    sign_ins_answered_from_a_session_are_not_counted,
    |raw| {
        raw.limits.authorize_ip_requests = 2;
        raw.limits.authorize_ip_window_seconds = 60;
    },
    async |app| {
        add_alice(&app);
        let url = public_client_url(&app, "");
        let b = browser();
        // The first new pending sign-in; signing in and consenting continue it and count for nothing more.
        let back = drive(&app, &b, &url, "allow").await;
        assert!(query_of(&back).contains_key("code"), "{back}");
        for n in 0..5 {
            let r = b.get(&url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{n}");
            assert!(query_of(&location(&r)).contains_key("code"), "answered from the session: {}", location(&r));
        }
        let other = browser();
        open_login(&app, &other, &url).await;
        let r = browser().get(&url).send().await.unwrap();
        assert_authorize_refused(r, StatusCode::TOO_MANY_REQUESTS, "Too many sign-ins", "the third new one").await;
    }
);

// The in-process cache keeps pending sign-ins within `limits.pending_sign_ins_memory_kib`: past it a new one gets a
// 503 page, and nothing already there is evicted (nor is any security state). One that completes gives its place
// back. With Redis the bound is Redis's `maxmemory`, so both backends run on the in-process cache here.
both_backends!(
    pending_sign_ins_past_the_memory_budget_are_refused,
    |raw| {
        raw.redis.url = None;
        // A pending sign-in of these tests takes some 700 bytes of the budget: one fits, two do not.
        raw.limits.pending_sign_ins_memory_kib = 1;
    },
    async |app| {
        add_alice(&app);
        let url = public_client_url(&app, "");
        let first = browser();
        let form = open_login(&app, &first, &url).await;
        let r = browser().get(&url).send().await.unwrap();
        let wait =
            assert_authorize_refused(r, StatusCode::SERVICE_UNAVAILABLE, "Too many sign-ins are in progress", "full")
                .await;
        assert_eq!(wait, 60);
        // The pending sign-in is still there: it signs in, and once consented it gives its place back.
        let r = submit_login(&app, &first, &form, "alice", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let consent = location(&r);
        assert!(consent.starts_with("/consent?"), "{consent}");
        let r = browser().get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "still held while it waits for consent");
        let html = first.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
        let r = first
            .post(app.url("/consent"))
            .header("Origin", &app.address)
            .form(&[
                ("interaction", hidden(&html, "interaction")),
                ("csrf", hidden(&html, "csrf")),
                ("decision", "allow".into()),
            ])
            .send()
            .await
            .unwrap();
        assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
        open_login(&app, &browser(), &url).await;
    }
);
