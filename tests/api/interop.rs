//! What the interoperability tests (`interop_node`, `interop_python`) share: a relying-party script of another
//! library run as a child process. Its stdout is read as lines on a thread (so the servers' runtime is never
//! blocked), its stdin takes the URL the browser was sent back to, and its stderr is kept for failure messages.
use crate::helpers::TestApp;
use crate::signin::browse;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one line of a script may take: the interpreter's start, discovery and a few requests to a local
/// server.
const LINE_LIMIT: Duration = Duration::from_secs(30);

/// A running relying-party script.
pub struct ScriptRp {
    /// The command line, for failure messages.
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl ScriptRp {
    /// Runs `cmd` (its program, arguments, directory and environment set), named `label` in failures; `hint`
    /// says what to do when it cannot start.
    pub fn start(label: String, mut cmd: Command, hint: &str) -> Self {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {label}: {e} ({hint})"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        ScriptRp { label, stdin: child.stdin.take(), child, lines, stderr: Some(stderr) }
    }

    /// The next line the script prints; fails with its stderr when it ends or stalls first.
    pub async fn line(&mut self) -> String {
        match tokio::time::timeout(LINE_LIMIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => self.fail("ended without the expected line"),
            Err(_) => self.fail(&format!("printed nothing for {LINE_LIMIT:?}")),
        }
    }

    /// Writes one line to the script's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("writing to the script's stdin");
    }

    /// Plays the browser for the authorization URL the script prints (sign-in and consent as alice) and gives
    /// the script the URL it was sent back to; returns that URL.
    pub async fn authorize(&mut self, app: &TestApp) -> String {
        let url = self.line().await;
        assert!(
            url.starts_with(&format!("{}/authorize?", app.address)),
            "{}: not an authorization URL: {url}",
            self.label
        );
        let back = browse(app, &url, Some("allow")).await;
        self.send(&back);
        back
    }

    /// The JSON line the script ends with, after checking it exited successfully.
    pub async fn result(mut self) -> Value {
        let line = self.line().await;
        drop(self.stdin.take());
        let status = tokio::task::block_in_place(|| self.child.wait()).expect("waiting for the script");
        if !status.success() {
            self.fail(&format!("exited with {status}"));
        }
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.label))
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = tokio::task::block_in_place(|| self.child.wait());
        let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
        panic!("{} {what}\nstderr:\n{stderr}", self.label)
    }
}

/// A test that fails half-way leaves no script behind.
impl Drop for ScriptRp {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
