//! CPU-heavy work (argon2, RSA signing) on the blocking pool, behind a semaphore so a burst of logins or
//! token requests queues instead of spawning a thread per request.
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The blocking task could not run or panicked.
#[derive(Debug, thiserror::Error)]
#[error("blocking task failed: {0}")]
pub struct BlockingError(String);

/// A bounded gate in front of `spawn_blocking`.
#[derive(Clone, Debug)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
}

impl CpuPool {
    /// At most `max_concurrent` tasks run at once.
    pub fn new(max_concurrent: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_concurrent.max(1))) }
    }

    /// Runs `f` on the blocking pool in the caller's span once a permit is free.
    pub async fn run<F, T>(&self, f: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|e| BlockingError(e.to_string()))?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(f)
        })
        .await
        .map_err(|e| BlockingError(e.to_string()))
    }
}
