//! Logging: one tracing subscriber for the process, one span per request (with its request id, from
//! `tracing-actix-web`), and blocking work that keeps the caller's span.
use crate::config::LogSettings;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the configured level. Safe to call twice (the
/// second call does nothing), which tests rely on.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if settings.json { builder.json().try_init() } else { builder.try_init() };
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
