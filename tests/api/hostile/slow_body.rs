//! Slow bodies: a client that sends a request head and then too little of its body, or nothing more, is
//! answered within `BODY_DEADLINE` in the endpoint's own shape, and its connection is closed; so is one whose
//! chunked body an endpoint does not read. Each such connection was held for good, and enough of them used
//! up the file descriptors.
use super::*;
use crate::signin::add_client;
use std::time::{Duration, Instant};
use tessera::http::body::BODY_DEADLINE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (request line and headers, without the blank line) and `body_start` on a fresh connection,
/// then nothing more; returns the server's whole answer, once it closed the connection, and how long that
/// took. Fails when the server has not closed it by the deadline plus a margin.
async fn stall(app: &TestApp, head: &str, body_start: &str) -> (String, Duration) {
    let mut conn = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let started = Instant::now();
    conn.write_all(format!("{head}\r\nHost: x\r\n\r\n{body_start}").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(BODY_DEADLINE + Duration::from_secs(5), conn.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "{head}: the connection is still open after {:?}, having answered {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&answer)
    );
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

/// Asserts a 400 answer that says `Connection: close` and whose body contains `text`, given after the deadline
/// (not at once, for some other reason).
fn assert_late(case: &str, (answer, took): &(String, Duration), text: &str) {
    assert!(answer.starts_with("HTTP/1.1 400"), "{case}: {answer}");
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{case}: {answer}");
    assert!(answer.contains(text), "{case}: {answer}");
    assert!(*took >= BODY_DEADLINE - Duration::from_millis(500), "{case}: answered after {took:?}");
}

both_backends!(
    a_body_that_never_finishes_is_refused_and_its_connection_closed,
    |raw| {
        raw.registration.mode = Some("open".into());
    },
    async |app| {
        let admin = app.cli_json(&["clients", "add", "--name", "Admin", "--admin"], None);
        let client = add_client(&app, &[]);
        let (id, secret) = (s(&admin, "client_id").to_owned(), s(&admin, "client_secret").to_owned());
        let (status, tokens) =
            token(&app, Some((&id, &secret)), &[("grant_type", "client_credentials"), ("scope", "tessera:admin")])
                .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let bearer = format!("Authorization: Bearer {}", s(&tokens, "access_token"));
        let form = "Content-Type: application/x-www-form-urlencoded";
        let json = "Content-Type: application/json";
        let token_head = format!("POST /token HTTP/1.1\r\n{form}\r\nContent-Length: 100");
        let chunked_head = format!("POST /token HTTP/1.1\r\n{form}\r\nTransfer-Encoding: chunked");
        let login_head = format!("POST /login HTTP/1.1\r\n{form}\r\nContent-Length: 100");
        let register_head = format!("POST /register HTTP/1.1\r\n{json}\r\nContent-Length: 100");
        let register_chunked = format!("POST /register HTTP/1.1\r\n{json}\r\nTransfer-Encoding: chunked");
        let admin_head = format!("POST /admin/api/clients HTTP/1.1\r\n{bearer}\r\n{json}\r\nContent-Length: 100");
        let (token_cut, token_chunked, login, register, register_chunks, admin_cut, admin_nothing) = tokio::join!(
            stall(&app, &token_head, "a"),
            stall(&app, &chunked_head, "5\r\ngrant\r\n"),
            stall(&app, &login_head, "a"),
            stall(&app, &register_head, "{"),
            stall(&app, &register_chunked, "1\r\n{\r\n"),
            stall(&app, &admin_head, "{"),
            stall(&app, &admin_head, ""),
        );
        let late = "did not arrive within";
        assert_late("/token", &token_cut, late);
        assert!(token_cut.0.contains("\"error\":\"invalid_request\""), "{}", token_cut.0);
        assert_late("/token, chunked", &token_chunked, late);
        assert_late("/login", &login, "invalid_request");
        assert!(login.0.contains("text/html"), "{}", login.0);
        assert_late("/register", &register, late);
        assert_late("/register, chunked", &register_chunks, late);
        assert_late("/admin/api/clients", &admin_cut, late);
        assert_late("/admin/api/clients, no body yet", &admin_nothing, late);
        // A chunked body that an endpoint does not read: answered at once, and the connection closed, not
        // drained for good.
        let (health, revoke) = tokio::join!(
            stall(&app, "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked", "5\r\nab"),
            stall(&app, "POST /admin/api/users/x/revoke HTTP/1.1\r\nTransfer-Encoding: chunked", "5\r\nab"),
        );
        for (case, (answer, took), status) in
            [("/healthz", health, "200"), ("/admin/api/users/x/revoke", revoke, "401")]
        {
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{case}: {answer}");
            assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{case}: {answer}");
            assert!(took < Duration::from_secs(3), "{case}: closed after {took:?}");
        }
        // The server still answers others, and a body sent in time is read as ever.
        let r = app.api_client.post(app.url("/token")).basic_auth(s(&client, "client_id"), Some("wrong"));
        let r = r.form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
);
