//! A tiny SMTP server for tests: it speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
//! for the server's mail transport to deliver to it, and keeps every message it is given.
use base64::Engine;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A message as delivered.
#[derive(Debug, Clone)]
pub struct Captured {
    /// `MAIL FROM` (the address between the brackets).
    pub from: String,
    /// Each `RCPT TO`.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-stuffing undone.
    pub data: String,
}

impl Captured {
    /// The body, its transfer encoding (quoted-printable or base64) undone.
    pub fn body(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        let head = head.to_ascii_lowercase();
        if head.contains("content-transfer-encoding: base64") {
            let text: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(text).unwrap()).unwrap()
        } else if head.contains("content-transfer-encoding: quoted-printable") {
            quoted_printable(body)
        } else {
            body.to_owned()
        }
    }

    /// The value of the header `name` (first line only).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A listening sink; it stops with the test's runtime.
pub struct SmtpSink {
    /// The bound port on 127.0.0.1.
    pub port: u16,
    mails: Arc<Mutex<Vec<Captured>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mails, arrived) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Notify::new()));
        let (m, a) = (Arc::clone(&mails), Arc::clone(&arrived));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&m), Arc::clone(&a)));
            }
        });
        Self { port, mails, arrived }
    }

    /// `mail.smtp_url` for this sink (plain SMTP, no credentials).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far.
    pub fn mails(&self) -> Vec<Captured> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until `n` messages in all were delivered (panics after 10 seconds): the `n`th.
    pub async fn nth(&self, n: usize) -> Captured {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            if let Some(m) = self.mails.lock().unwrap().get(n - 1) {
                return m.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("mail {n} did not arrive; got {:?}", self.mails());
            }
        }
    }
}

async fn session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Captured>>>, arrived: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if !reply(&mut write, "220 sink ESMTP\r\n").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-sink\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 ok\r\n"
        } else if upper.starts_with("RSET") {
            (from, to) = (String::new(), Vec::new());
            "250 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = between_brackets(&line);
            "250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(between_brackets(&line));
            "250 ok\r\n"
        } else if upper == "DATA" {
            if !reply(&mut write, "354 end with .\r\n").await {
                return;
            }
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            let mail = Captured { from: std::mem::take(&mut from), to: std::mem::take(&mut to), data };
            mails.lock().unwrap().push(mail);
            arrived.notify_waiters();
            "250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = reply(&mut write, "221 bye\r\n").await;
            return;
        } else {
            "502 not implemented\r\n"
        };
        if !reply(&mut write, answer).await {
            return;
        }
    }
}

fn between_brackets(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

async fn reply(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    w.write_all(text.as_bytes()).await.is_ok()
}
