//! A tiny SMTP server for tests: it speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
//! for the server's mail transport to deliver to it, and keeps every message it is given; it refuses the messages
//! it is told to, with the reply it is given.
use base64::Engine;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// The plain-text body, its transfer encoding (quoted-printable or base64) undone: the `text/plain` part of a
    /// multipart message, else the whole body.
    pub fn body(&self) -> String {
        self.part("text/plain").unwrap_or_else(|| {
            let (head, body) = split_head(&self.data);
            decode(head, body)
        })
    }

    /// The `text/html` part, decoded; `None` when there is none.
    pub fn html(&self) -> Option<String> {
        self.part("text/html")
    }

    /// The part of a multipart message whose type is `mime`, decoded.
    fn part(&self, mime: &str) -> Option<String> {
        let (head, body) = split_head(&self.data);
        let lower = head.to_ascii_lowercase();
        let start = lower.find("boundary=")? + "boundary=".len();
        let boundary: String = head[start..]
            .trim_start_matches('"')
            .chars()
            .take_while(|c| *c != '"' && *c != ';' && !c.is_whitespace())
            .collect();
        body.split(&format!("--{boundary}")).find_map(|part| {
            let (head, body) = split_head(part.trim_start_matches("\r\n"));
            head.to_ascii_lowercase().contains(&format!("content-type: {mime}")).then(|| decode(head, body))
        })
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

fn split_head(text: &str) -> (&str, &str) {
    text.split_once("\r\n\r\n").unwrap_or(("", text))
}

/// `body`, its transfer encoding (named in `head`) undone.
fn decode(head: &str, body: &str) -> String {
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

/// What the sink's sessions share.
#[derive(Default)]
struct Shared {
    /// Every message taken.
    mails: Mutex<Vec<Captured>>,
    /// Messages sent in all (`DATA` finished), those refused included.
    attempts: AtomicUsize,
    /// The replies to give instead of `250` to the next messages, in order.
    refusals: Mutex<VecDeque<&'static str>>,
    /// Told of each message sent.
    arrived: Notify,
}

/// A listening sink; it stops with the test's runtime.
pub struct SmtpSink {
    /// The bound port on 127.0.0.1.
    pub port: u16,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&s)));
            }
        });
        Self { port, shared }
    }

    /// Refuses the next message with `reply`, its line end included (`"451 4.3.0 later\r\n"`), instead of taking
    /// it; each call one more.
    pub fn refuse_next(&self, reply: &'static str) {
        self.shared.refusals.lock().unwrap().push_back(reply);
    }

    /// Messages sent to the sink so far, those refused included.
    pub fn attempts(&self) -> usize {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// Waits until `n` messages in all were sent, refused ones included (panics after 10 seconds).
    pub async fn nth_attempt(&self, n: usize) {
        self.wait(|| (self.attempts() >= n).then_some(()), &format!("attempt {n}")).await
    }

    /// `mail.smtp_url` for this sink (plain SMTP, no credentials).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far.
    pub fn mails(&self) -> Vec<Captured> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Waits until `n` messages in all were delivered (panics after 10 seconds): the `n`th.
    pub async fn nth(&self, n: usize) -> Captured {
        self.wait(|| self.shared.mails.lock().unwrap().get(n - 1).cloned(), &format!("mail {n}")).await
    }

    /// Waits until `ready` says something (panics after 10 seconds).
    async fn wait<T>(&self, ready: impl Fn() -> Option<T>, what: &str) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(v) = ready() {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("{what} did not arrive; got {:?}", self.mails());
            }
        }
    }
}

async fn session(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
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
            let refusal = shared.refusals.lock().unwrap().pop_front();
            if refusal.is_none() {
                shared.mails.lock().unwrap().push(mail);
            }
            shared.attempts.fetch_add(1, Ordering::SeqCst);
            shared.arrived.notify_waiters();
            refusal.unwrap_or("250 queued\r\n")
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
