//! Liveness and readiness probes, including readiness with a backend gone.
use crate::helpers::*;
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

both_backends!(healthz_and_readyz_answer, async |app| {
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({ "status": "ok" }));

    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({ "status": "ready", "database": "up", "cache": "up" }));
});

// Regression: nothing told a client which request id its answer had, so a report of a failed request could not
// be matched to the log. Every answer says it; the error page shows the same one.
both_backends!(every_answer_names_its_request_id, async |app| {
    let id = |resp: &reqwest::Response| resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (a, b) = (app.get("/healthz").await, app.get("/healthz").await);
    assert_ne!(id(&a), id(&b), "one id per request");
    assert!(uuid::Uuid::parse_str(&id(&a)).is_ok(), "{}", id(&a));
    let page = app.get("/authorize").await;
    assert_eq!(page.status(), 400);
    let shown = id(&page);
    assert!(page.text().await.unwrap().contains(&shown), "the error page shows {shown}");
});

/// Polls `/readyz` until it answers `status`, returning the body.
async fn readyz_becomes(app: &TestApp, status: u16) -> Value {
    eventually(&format!("/readyz to answer {status}"), Duration::from_secs(20), || async {
        let resp = app.get("/readyz").await;
        if resp.status() == status {
            Some(resp.json::<Value>().await.unwrap())
        } else {
            None
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_when_the_database_is_gone_postgres() {
    let app = spawn_app_with(Backend::Postgres, |raw| raw.database.acquire_timeout_ms = 500).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    // Dropping the database also terminates the server's connections.
    tessera::storage::diesel::testing::drop_postgres_database(app.settings.database.url()).await.unwrap();
    let body = readyz_becomes(&app, 503).await;
    assert_eq!(body, json!({ "status": "unavailable", "database": "down", "cache": "up" }));
    // Liveness does not depend on the backends.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_redis_is_unreachable_postgres() {
    let upstream = redis_socket_addr(&redis_url());
    let mut relay = TcpRelay::start(upstream, 0);
    let mut relay_url = url::Url::parse(&redis_url()).unwrap();
    relay_url.set_host(Some("127.0.0.1")).unwrap();
    relay_url.set_port(Some(relay.addr.port())).unwrap();
    let app = spawn_app_with(Backend::Postgres, |raw| {
        raw.redis.url = Some(relay_url.to_string());
        raw.redis.timeout_ms = 500;
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    relay.stop();
    let body = readyz_becomes(&app, 503).await;
    assert_eq!(body, json!({ "status": "unavailable", "database": "up", "cache": "down" }));
    assert_eq!(app.get("/healthz").await.status(), 200);

    // Redis back on the same address: the server reconnects by itself.
    let _relay = TcpRelay::start(upstream, relay.addr.port());
    let body = readyz_becomes(&app, 200).await;
    assert_eq!(body["cache"], "up");
}

// Regression: with Redis down, `tessera serve` exited at start (a restarted pod crash-looped while the running
// ones served), and operator commands that had already written SQL failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_operator_commands_work_while_redis_is_down_postgres() {
    let upstream = redis_socket_addr(&redis_url());
    let relay = TcpRelay::start(upstream, 0);
    let port = relay.addr.port();
    drop(relay);
    let app = spawn_app_with(Backend::Postgres, |raw| {
        raw.redis.url = Some(format!("redis://127.0.0.1:{port}"));
        raw.redis.timeout_ms = 300;
    })
    .await;
    let body = readyz_becomes(&app, 503).await;
    assert_eq!(body["cache"], "down");
    crate::signin::add_alice(&app);
    let out = app.cli(&["users", "disable", "alice"], None);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("other instances could not be told"), "{out:?}");
    let users = app.cli_json(&["users", "list"], None);
    assert_eq!(users["users"][0]["disabled"], true, "{users}");
    // Redis comes up: the server uses it without a restart.
    let _relay = TcpRelay::start(upstream, port);
    assert_eq!(readyz_becomes(&app, 200).await["cache"], "up");
}

/// A loopback TCP relay to Redis that the test can cut: stopping it closes the listener and every relayed
/// connection, so the server sees Redis vanish.
pub struct TcpRelay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl TcpRelay {
    /// Listens on 127.0.0.1:`port` (0 for any) and relays each connection to `upstream`.
    pub fn start(upstream: SocketAddr, port: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("binding the relay");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (stop, conns) = (Arc::clone(&stop), Arc::clone(&conns));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let Ok(server) = TcpStream::connect(upstream) else { continue };
                            client.set_nonblocking(false).unwrap();
                            let mut all = conns.lock().unwrap();
                            all.push(client.try_clone().unwrap());
                            all.push(server.try_clone().unwrap());
                            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                            pipe(server, client);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                // The listener is dropped here: new connections are refused from now on.
            })
        };
        Self { addr, stop, conns, accept: Some(accept) }
    }

    /// Closes the listener and cuts every relayed connection.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies `from` to `to` on a thread until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
