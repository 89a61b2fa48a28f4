//! A stand-in for an app's own site in a real browser: it serves one page for every request and notes what it was
//! asked for.
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The app's own site: `http://localhost:<port>/`, another site than the server's `127.0.0.1` for a browser,
/// answering every request with one page until dropped.
pub(super) struct AppSite {
    pub(super) url: String,
    /// The target (path and query) of every request it was sent, in order.
    pub(super) seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AppSite {
    /// Serves `html`.
    pub(super) fn serve(html: String) -> AppSite {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding the app's site");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://localhost:{}/", listener.local_addr().unwrap().port());
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((mut conn, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let target = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or_default();
                    seen.lock().unwrap().push(target.to_owned());
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                        html.len()
                    );
                    let _ = conn.write_all(response.as_bytes());
                }
            })
        };
        AppSite { url, seen, stop, thread: Some(thread) }
    }

    /// A page that posts `fields` to `action` as soon as it loads, as an app signing its user in or out
    /// with a form post would.
    pub(super) fn auto_post(action: &str, fields: &[(&str, &str)]) -> AppSite {
        let escape = |v: &str| v.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        let inputs: String = fields
            .iter()
            .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(k), escape(v)))
            .collect();
        AppSite::serve(format!(
            r#"<!doctype html><title>The app</title><form method="post" action="{}">{inputs}</form><script>document.forms[0].submit()</script>"#,
            escape(action)
        ))
    }
}

impl Drop for AppSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
