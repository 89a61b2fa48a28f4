//! Logging: one tracing subscriber for the process, one span per request (with its request id, from
//! `tracing-actix-web`), and blocking work that keeps the caller's span.
use crate::config::LogSettings;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the configured level. Safe to call twice (the
/// second call does nothing), which tests rely on.
pub fn init(settings: &LogSettings) {
    let level = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|env| EnvFilter::try_new(env).is_ok())
        .unwrap_or_else(|| settings.level.clone());
    // Colours only for a terminal: in a file or a journal their escape codes are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = subscriber(&level, settings.json, ansi, std::io::stderr).try_init();
}

/// The subscriber for a filter (`log.level` syntax), writing text (coloured with `ansi`) or JSON lines to
/// `writer`.
fn subscriber<W>(level: &str, json: bool, ansi: bool, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let quiet = HideClientStreamErrors::unless_named_in(level);
    let builder = tracing_subscriber::fmt().with_env_filter(EnvFilter::new(level)).with_ansi(ansi).with_writer(writer);
    if json {
        Box::new(builder.json().finish().with(quiet))
    } else {
        Box::new(builder.finish().with(quiet))
    }
}

/// The module of actix-http that serves HTTP/1 connections.
const DISPATCHER_TARGET: &str = "actix_http::h1::dispatcher";
/// How it begins the line it logs when a connection ends in an error.
const CLIENT_STREAM_ERROR: &str = "stream error: ";

/// Drops the HTTP/1 dispatcher's `ERROR stream error: …` lines, which any client can cause at will: the error
/// there is a request it could not parse (answered 400, or 431 for a head too large), a connection the client
/// broke or let time out, or an actix invariant that has already logged its own ERROR line. The server's own
/// failures in that module (a response body that fails, an upgrade) are logged at ERROR as well, so a level
/// for the module would hide them with the rest: these lines are picked by their message instead.
struct HideClientStreamErrors;

impl HideClientStreamErrors {
    /// None when the operator's filter names the dispatcher or a module above it (`actix_http::h1::dispatcher=error`,
    /// `actix_http=debug`): what they asked for is shown as they asked.
    fn unless_named_in(level: &str) -> Option<Self> {
        let named = level.split(',').any(|directive| {
            let target = directive.split(['=', '[']).next().unwrap_or_default().trim();
            !target.is_empty()
                && DISPATCHER_TARGET
                    .strip_prefix(target)
                    .is_some_and(|below| below.is_empty() || below.starts_with("::"))
        });
        (!named).then_some(Self)
    }
}

impl<S: Subscriber> Layer<S> for HideClientStreamErrors {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if event.metadata().target() != DISPATCHER_TARGET {
            return true;
        }
        let mut message = MessageStart { prefix: CLIENT_STREAM_ERROR, matches: false };
        event.record(&mut message);
        !message.matches
    }
}

/// Whether an event's message starts with `prefix`.
struct MessageStart {
    prefix: &'static str,
    matches: bool,
}

impl Visit for MessageStart {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.matches = format!("{value:?}").starts_with(self.prefix);
        }
    }
}

/// Runs CPU-heavy work (password hashing, RSA signing) on the blocking pool, keeping the current span.
pub async fn spawn_blocking_in_span<F, T>(f: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}

/// A log writer that keeps what it is given, for tests of what reaches the log.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl CapturedLog {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[cfg(test)]
impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a subscriber built for `level` writes for the dispatcher's two kinds of ERROR line.
    fn logged(level: &str) -> String {
        let log = CapturedLog::default();
        tracing::subscriber::with_default(subscriber(level, false, false, log.clone()), || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: request parse error: invalid Header provided");
            tracing::error!(target: "actix_http::h1::dispatcher", "Response payload stream error: broken body");
            tracing::error!(target: "tessera::http", "stream error: not the dispatcher");
        });
        log.text()
    }

    #[test]
    fn a_clients_malformed_request_is_not_logged_as_an_error() {
        let out = logged("info");
        assert!(!out.contains("request parse error"), "{out}");
        assert!(out.contains("Response payload stream error"), "server errors of the dispatcher stay: {out}");
        assert!(out.contains("not the dispatcher"), "{out}");
        let out = logged("debug,tessera=trace");
        assert!(!out.contains("request parse error"), "{out}");
    }

    // Regression: text lines carried colour escapes into files and journals.
    #[test]
    fn colours_only_when_asked() {
        for (ansi, escapes) in [(false, false), (true, true)] {
            let log = CapturedLog::default();
            tracing::subscriber::with_default(subscriber("info", false, ansi, log.clone()), || {
                tracing::warn!(target: "tessera::http", "a warning");
            });
            assert_eq!(log.text().contains('\u{1b}'), escapes, "{ansi}: {:?}", log.text());
        }
    }

    #[test]
    fn the_operator_can_turn_the_dispatchers_stream_errors_back_on() {
        for level in ["info,actix_http::h1::dispatcher=error", "info,actix_http=debug", "actix_http::h1=trace"] {
            let out = logged(level);
            assert!(out.contains("request parse error"), "{level}: {out}");
        }
        assert!(!logged("info,actix_http::h1::dispatcher_other=error").contains("request parse error"));
    }
}
