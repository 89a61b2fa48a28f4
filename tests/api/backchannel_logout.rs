//! OpenID Connect Back-Channel Logout 1.0: the clients of a session are sent a logout token when it ends, at
//! `/logout`, on the account page and when an operator signs the user out; a receiver in the test records what
//! they are sent.
use crate::helpers::*;
use crate::signin::{add_alice, add_client, auth_url, browse, hidden, pkce_pair, query_of, redeem_code, urlencode};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// One request a receiver took.
#[derive(Debug)]
pub(crate) struct Received {
    method: String,
    path: String,
    content_type: String,
    body: String,
}

/// A server on a loopback port that records every request and answers each with the next status queued (200
/// when none is).
pub(crate) struct Receiver {
    base: String,
    requests: mpsc::UnboundedReceiver<Received>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, requests) = mpsc::unbounded_channel();
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let queued = Arc::clone(&statuses);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, tx.clone(), Arc::clone(&queued)));
            }
        });
        Self { base, requests, statuses }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next request, waiting up to 20 s (retries wait 1 s, then 2 s).
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.requests.recv())
            .await
            .expect("no request reached the receiver")
            .expect("the receiver stopped")
    }

    /// Whether a request has arrived that was not taken yet.
    pub(crate) fn has_more(&mut self) -> bool {
        !self.requests.is_empty()
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Received>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_len, body_len) = loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
            let len =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            break (at + 4, len);
        }
    };
    while buf.len() < head_len + body_len {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let (method, path) =
        (request_line.next().unwrap_or_default().to_owned(), request_line.next().unwrap_or_default().to_owned());
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&buf[head_len..]).into_owned();
    let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
    let answer = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = tx.send(Received { method, path, content_type, body });
}

/// The logout token a receiver was posted, checked as a relying party checks it (§2.6): form-encoded, signed
/// with a served key, typed, for `client_id` about `sub`'s session `sid` (any when `None`), and no nonce. Its
/// claims.
pub(crate) async fn logout_token(
    app: &TestApp,
    request: &Received,
    client_id: &str,
    sub: &str,
    sid: impl Into<Option<&str>>,
) -> Value {
    assert_eq!(request.method, "POST");
    assert_eq!(request.content_type, "application/x-www-form-urlencoded");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
    assert_eq!(form.len(), 1, "{form:?}");
    assert_eq!(form[0].0, "logout_token");
    let (header, claims) = verified(app, &form[0].1).await;
    assert_eq!(header.token_type(), Some("logout+jwt"));
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], client_id, "{claims}");
    assert_eq!(claims["sub"].as_str(), Some(sub), "{claims}");
    assert!(claims["sid"].as_str().is_some(), "{claims}");
    if let Some(sid) = sid.into() {
        assert_eq!(claims["sid"].as_str(), Some(sid), "{claims}");
    }
    assert_eq!(claims["events"], json!({ "http://schemas.openid.net/event/backchannel-logout": {} }));
    assert!(claims.get("nonce").is_none(), "{claims}");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 120, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()), "{claims}");
    claims
}

/// A client made by the CLI with `extra` flags: its id and secret.
pub(crate) fn client(app: &TestApp, extra: &[&str]) -> (String, String) {
    let c = add_client(app, extra);
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

/// A code flow of alice with `client` in the test's browser (signing in when it has no session): the ID token's
/// claims.
async fn signed_in(app: &TestApp, client: &(String, String)) -> (String, Value) {
    signed_in_with(app, client, "").await
}

/// [`signed_in`] with `extra` parameters on the authorization request.
async fn signed_in_with(app: &TestApp, (id, secret): &(String, String), extra: &str) -> (String, Value) {
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, id, &challenge, extra), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = redeem_code(app, id, secret, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let (_, claims) = verified(app, &id_token).await;
    (id_token, claims)
}

both_backends!(every_client_of_a_session_is_told_when_it_ends_at_logout, async |app| {
    add_alice(&app);
    let mut rx = Receiver::start().await;
    let a = client(&app, &["--backchannel-logout-uri", &rx.url("/bc/a"), "--backchannel-logout-session-required"]);
    let b = client(&app, &["--backchannel-logout-uri", &rx.url("/bc/b?tenant=1")]);
    let quiet = client(&app, &[]);
    let (hint, first) = signed_in(&app, &a).await;
    let (_, second) = signed_in(&app, &b).await;
    let (_, third) = signed_in(&app, &quiet).await;
    let (sub, sid) = (s(&first, "sub"), s(&first, "sid"));
    assert_eq!((s(&second, "sid"), s(&third, "sid")), (sid, sid), "one session");

    // Only the clients with a URI are recorded, and the logout is answered whatever they do.
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let recorded = tessera::storage::SessionStore::session_clients(&store, &[sid.to_owned()]).await.unwrap();
    let mut recorded: Vec<&str> = recorded.iter().map(|r| r.client_id.as_str()).collect();
    recorded.sort();
    let mut expected = [a.0.as_str(), b.0.as_str()];
    expected.sort();
    assert_eq!(recorded, expected);

    let r = app.api_client.get(app.url(&format!("/logout?id_token_hint={hint}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "signed out without asking");
    let mut by_path = [rx.next().await, rx.next().await];
    by_path.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!((by_path[0].path.as_str(), by_path[1].path.as_str()), ("/bc/a", "/bc/b?tenant=1"));
    let claims_a = logout_token(&app, &by_path[0], &a.0, sub, sid).await;
    let claims_b = logout_token(&app, &by_path[1], &b.0, sub, sid).await;
    assert_ne!(claims_a["jti"], claims_b["jti"]);

    // An ended session is not told of again: signing alice out everywhere tells of her new session only (the
    // CLI waits for its notices before it exits).
    let (_, again) = signed_in(&app, &a).await;
    assert_success(&app.cli(&["users", "revoke", "alice"], None), &["users", "revoke", "alice"]);
    let next = rx.next().await;
    logout_token(&app, &next, &a.0, sub, s(&again, "sid")).await;
    assert!(!rx.has_more());
});

both_backends!(a_session_carried_over_to_a_new_sign_in_is_told_of_by_each_sid, async |app| {
    let alice = add_alice(&app);
    let mut rx = Receiver::start().await;
    let a = client(&app, &["--backchannel-logout-uri", &rx.url("/bc")]);
    let (_, first) = signed_in(&app, &a).await;
    // Alice signs in again in the same browser: her session hands over to a new one, with the client's tokens.
    let (hint, second) = signed_in_with(&app, &a, "&prompt=login").await;
    let (sid1, sid2) = (s(&first, "sid"), s(&second, "sid"));
    assert_ne!(sid1, sid2);
    let r = app.api_client.get(app.url(&format!("/logout?id_token_hint={hint}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut sids = Vec::new();
    for _ in 0..2 {
        let claims = logout_token(&app, &rx.next().await, &a.0, s(&alice, "id"), None).await;
        sids.push(s(&claims, "sid").to_owned());
    }
    sids.sort();
    let mut expected = [sid1.to_owned(), sid2.to_owned()];
    expected.sort();
    assert_eq!(sids, expected, "the sid of each ID token the client holds");
});

both_backends!(the_account_page_and_operators_ending_sessions_tell_the_clients, async |app| {
    let alice = add_alice(&app);
    let mut rx = Receiver::start().await;
    let a = client(&app, &["--backchannel-logout-uri", &rx.url("/bc")]);

    // Signing out on the account page.
    let (_, claims) = signed_in(&app, &a).await;
    let c = &app.api_client;
    let html = c.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("session", hidden(&html, "session"))];
    let r =
        c.post(app.url("/account/sessions/revoke")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    logout_token(&app, &rx.next().await, &a.0, s(&alice, "id"), s(&claims, "sid")).await;

    // An operator signing the user out everywhere (the CLI waits for its notices before it exits).
    let (_, claims) = signed_in(&app, &a).await;
    let out = app.cli(&["users", "revoke", "alice"], None);
    assert_success(&out, &["users", "revoke", "alice"]);
    logout_token(&app, &rx.next().await, &a.0, s(&alice, "id"), s(&claims, "sid")).await;

    // Disabling the user through the admin API.
    let (_, claims) = signed_in(&app, &a).await;
    let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
    let form = [("grant_type", "client_credentials"), ("scope", "tessera:admin")];
    let (_, token) = crate::signin::token_basic(&app, s(&admin, "client_id"), s(&admin, "client_secret"), &form).await;
    let r = c
        .patch(app.url(&format!("/admin/api/users/{}", s(&alice, "id"))))
        .bearer_auth(s(&token, "access_token"))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    logout_token(&app, &rx.next().await, &a.0, s(&alice, "id"), s(&claims, "sid")).await;
    assert!(!rx.has_more());
});

both_backends!(a_failing_receiver_is_tried_again_and_the_logout_goes_on, async |app| {
    let alice = add_alice(&app);
    let mut rx = Receiver::start().await;
    rx.statuses.lock().unwrap().extend([500, 503]);
    let bye = "http://127.0.0.1:9/bye";
    let a = client(&app, &["--backchannel-logout-uri", &rx.url("/bc"), "--post-logout-redirect-uri", bye]);
    let (hint, claims) = signed_in(&app, &a).await;
    let bye = urlencode(bye);
    let r = app
        .api_client
        .get(app.url(&format!("/logout?id_token_hint={hint}&post_logout_redirect_uri={bye}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the logout is answered while the client fails");
    let attempts = [rx.next().await, rx.next().await, rx.next().await];
    let mut tokens = Vec::new();
    for attempt in &attempts {
        tokens.push(logout_token(&app, attempt, &a.0, s(&alice, "id"), s(&claims, "sid")).await);
    }
    // Regression: a token was signed once, at the logout, and kept through every wait, for a turn as for a
    // retry: behind a client whose server hung, it arrived expired. Each attempt's is signed as it is sent.
    assert!(tokens.windows(2).all(|w| w[0]["jti"] != w[1]["jti"] && w[0]["iat"].as_i64() <= w[1]["iat"].as_i64()));
    let metrics = eventually("the delivery counted", Duration::from_secs(10), || async {
        let text = app.get("/metrics").await.text().await.unwrap();
        text.contains("tessera_backchannel_logout_notices_total{result=\"delivered\"} 1").then_some(text)
    })
    .await;
    assert!(metrics.contains("tessera_backchannel_logout_notices_total{result=\"failed\"} 0"), "{metrics}");
});

both_backends!(
    a_self_registered_client_may_not_name_an_internal_host,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let rx = Receiver::start().await;
        for uri in
            [rx.url("/bc"), "https://127.0.0.1/bc".into(), "https://localhost/bc".into(), "https://10.0.0.1/bc".into()]
        {
            let body = json!({ "redirect_uris": [crate::signin::REDIRECT], "backchannel_logout_uri": uri });
            let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
            let error: Value = r.json().await.unwrap();
            assert_eq!(error["error"], "invalid_client_metadata", "{uri}: {error}");
        }
        let body = json!({ "redirect_uris": ["https://app.example/cb"], "backchannel_logout_uri": "https://app.example/bc",
                           "backchannel_logout_session_required": true });
        let r = app.api_client.post(app.url("/register")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["backchannel_logout_uri"], "https://app.example/bc");
        assert_eq!(info["backchannel_logout_session_required"], true);
        let discovery: Value = app.get("/.well-known/openid-configuration").await.json().await.unwrap();
        assert_eq!(
            (&discovery["backchannel_logout_supported"], &discovery["backchannel_logout_session_supported"]),
            (&json!(true), &json!(true))
        );
    }
);

both_backends!(a_stopping_server_still_sends_the_logout_notices_in_flight, async |app| {
    let alice = add_alice(&app);
    let mut rx = Receiver::start().await;
    // The first attempt fails: the notice is waiting for its retry when the server is told to stop.
    rx.statuses.lock().unwrap().push_back(503);
    let a = client(&app, &["--backchannel-logout-uri", &rx.url("/bc")]);
    let (hint, claims) = signed_in(&app, &a).await;

    // Another instance of the deployment, as a process of its own, takes the logout and is then stopped.
    let mut env = settings_env(&app.raw);
    env.retain(|(key, _)| key != "TESSERA__HTTP__BIND");
    env.push(("TESSERA__HTTP__BIND".into(), "127.0.0.1:0".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (mut child, serving) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        serve_json(&path, &env)
    })
    .await
    .unwrap();
    let instance = format!("http://{}", s(&serving, "listening"));
    // The browser's session cookie goes to every port of 127.0.0.1.
    let r = app.api_client.get(format!("{instance}/logout?id_token_hint={hint}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: sends a signal to the child this test started and still owns (not yet waited for).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);

    let attempts = [rx.next().await, rx.next().await];
    for attempt in &attempts {
        logout_token(&app, attempt, &a.0, s(&alice, "id"), s(&claims, "sid")).await;
    }
    let status = eventually("serve to exit after SIGTERM", Duration::from_secs(30), || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(status.success(), "{status}");
});
