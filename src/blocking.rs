//! Work that blocks (argon2, RSA signing, SQL) on pools of dedicated threads, so that it never runs on the
//! reactor and a burst of logins or token requests queues instead of spawning a thread per request.
//!
//! The threads are the bound: a pool of N runs at most N jobs at once. Under load each thread takes its next
//! job from the queue without sleeping in between; tokio's blocking pool behind a semaphore put its thread to
//! sleep after every job and woke it for the next, a futex round trip and two context switches per token.
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The job did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    /// No thread was free to start it within the wait it was given ([`CpuPool::run_within`]).
    #[error("no thread free within {} ms", .0.as_millis())]
    Busy(Duration),
    /// It panicked.
    #[error("the task panicked")]
    Panicked,
}

/// The cores this process may run on, which pools are sized by (2 when the system does not say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job, the most recently idle last: it is woken first, with its caches still warm.
    idle: Vec<std::thread::Thread>,
    closed: bool,
}

impl Queue {
    /// The next job; `None` once the pool is closed and drained.
    fn next(&self) -> Option<Job> {
        let me = std::thread::current();
        let mut parked = false;
        loop {
            {
                let mut state = self.state.lock();
                if let Some(job) = state.jobs.pop_front() {
                    if parked {
                        // `push` takes a thread off the list before waking it; one that woke spuriously is
                        // still on it, and must not be picked again while it runs.
                        state.idle.retain(|t| t.id() != me.id());
                    }
                    return Some(job);
                }
                if state.closed {
                    return None;
                }
                if !state.idle.iter().any(|t| t.id() == me.id()) {
                    state.idle.push(me.clone());
                }
            }
            // An unpark between the unlock and here makes this return at once.
            std::thread::park();
            parked = true;
        }
    }

    fn push(&self, job: Job) {
        let waking = {
            let mut state = self.state.lock();
            state.jobs.push_back(job);
            state.idle.pop()
        };
        if let Some(thread) = waking {
            thread.unpark();
        }
    }

    fn close(&self) {
        let idle = {
            let mut state = self.state.lock();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        idle.iter().for_each(std::thread::Thread::unpark);
    }
}

/// Closes the queue when the last clone of the pool goes: the threads finish what is queued, then exit.
struct Owner {
    queue: Arc<Queue>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A fixed set of threads for blocking jobs. Clones share the threads.
#[derive(Clone)]
pub struct CpuPool {
    owner: Arc<Owner>,
    threads: usize,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool").field("threads", &self.threads).finish_non_exhaustive()
    }
}

impl CpuPool {
    /// Starts `threads` threads (at least one) named `name`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        // Owned before the first thread starts, so that if a later one cannot start, the earlier ones stop.
        let owner = Arc::new(Owner { queue: Arc::new(Queue::default()) });
        for _ in 0..threads {
            let queue = Arc::clone(&owner.queue);
            std::thread::Builder::new().name(name.to_owned()).spawn(move || {
                while let Some(job) = queue.next() {
                    job();
                }
            })?;
        }
        Ok(Self { owner, threads })
    }

    /// How many threads are running a job and how many jobs wait, for `/metrics`. Takes the queue's lock for
    /// a moment: a scrape's business, never a request's.
    pub fn load(&self) -> crate::metrics::PoolLoad {
        let state = self.owner.queue.state.lock();
        crate::metrics::PoolLoad {
            threads: self.threads,
            // A thread that has not yet reached the queue for the first time counts as busy.
            busy: self.threads.saturating_sub(state.idle.len()),
            queued: state.jobs.len(),
        }
    }

    /// Runs `f` on one of the pool's threads in the caller's span, once one is free.
    pub async fn run<F, T>(&self, f: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit(None, f).await
    }

    /// [`CpuPool::run`], unless no thread is free to start `f` within `wait`: then `Busy`, and `f` never runs.
    pub async fn run_within<F, T>(&self, wait: Duration, f: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit(Some(wait), f).await
    }

    async fn submit<F, T>(&self, wait: Option<Duration>, f: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, mut result) = tokio::sync::oneshot::channel();
        // Whoever sets it first decides: the thread that starts the job, or the caller that stops waiting.
        let claimed = Arc::new(AtomicBool::new(false));
        let span = tracing::Span::current();
        let job: Job = {
            let claimed = Arc::clone(&claimed);
            Box::new(move || {
                // Nobody waits for a job whose caller has gone (a closed connection, a timeout): skip it.
                if claimed.swap(true, Ordering::AcqRel) || done.is_closed() {
                    return;
                }
                let outcome = catch_unwind(AssertUnwindSafe(|| span.in_scope(f)));
                // The caller may have gone meanwhile; the result is then dropped.
                let _ = done.send(outcome.map_err(|_| BlockingError::Panicked));
            })
        };
        self.owner.queue.push(job);
        if let Some(wait) = wait {
            if let Ok(outcome) = tokio::time::timeout(wait, &mut result).await {
                return finished(outcome);
            }
            if !claimed.swap(true, Ordering::AcqRel) {
                return Err(BlockingError::Busy(wait));
            }
        }
        finished(result.await)
    }
}

/// The job's result; the sender only goes unsent when the job panicked past `catch_unwind` (it cannot) or the
/// process is going down, so that reads as a panic too.
fn finished<T>(
    outcome: Result<Result<T, BlockingError>, tokio::sync::oneshot::error::RecvError>,
) -> Result<T, BlockingError> {
    outcome.unwrap_or(Err(BlockingError::Panicked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A job that counts its runs in `ran`.
    fn counted(ran: &Arc<AtomicUsize>) -> impl FnOnce() -> usize + Send + 'static {
        let ran = Arc::clone(ran);
        move || ran.fetch_add(1, Ordering::SeqCst)
    }

    #[tokio::test]
    async fn runs_jobs_and_returns_their_results() {
        let pool = CpuPool::new("test-cpu", 2).unwrap();
        let results = futures_util::future::join_all((0..50).map(|i| pool.run(move || i * 2))).await;
        let results: Vec<i32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn runs_no_more_jobs_at_once_than_it_has_threads() {
        let pool = CpuPool::new("test-cpu", 3).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..12).map(|_| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            pool.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for r in futures_util::future::join_all(jobs).await {
            r.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_lives_on() {
        let pool = CpuPool::new("test-cpu", 1).unwrap();
        let err = pool.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_job_not_started_in_time_is_busy_and_never_runs() {
        let pool = CpuPool::new("test-cpu", 1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let hold = pool.run(|| std::thread::sleep(Duration::from_millis(300)));
        let late = pool.run_within(Duration::from_millis(50), counted(&ran));
        let (held, late) = tokio::join!(hold, late);
        held.unwrap();
        assert!(matches!(late, Err(BlockingError::Busy(_))), "{late:?}");
        // The thread is free again and skips the abandoned job.
        assert_eq!(pool.run_within(Duration::from_secs(5), || 3).await.unwrap(), 3);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // A job that starts in time runs to the end however long it takes. The wait is generous, so that a
        // loaded machine still starts the job within it.
        let slow = pool.run_within(Duration::from_millis(250), || {
            std::thread::sleep(Duration::from_millis(600));
            4
        });
        assert_eq!(slow.await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_is_skipped() {
        let pool = CpuPool::new("test-cpu", 1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let hold = pool.run(|| std::thread::sleep(Duration::from_millis(200)));
        let abandoned = pool.run(counted(&ran));
        // The abandoned job is queued behind the one that holds the thread, then its caller gives up.
        let (held, gave_up) = tokio::join!(hold, tokio::time::timeout(Duration::from_millis(50), abandoned));
        held.unwrap();
        assert!(gave_up.is_err());
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn load_counts_busy_threads_and_queued_jobs() {
        let pool = CpuPool::new("test-cpu", 1).unwrap();
        // Once the thread is idle, nothing is busy or queued.
        pool.run(|| ()).await.unwrap();
        for _ in 0..100 {
            if pool.load().busy == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.load(), crate::metrics::PoolLoad { threads: 1, busy: 0, queued: 0 });
        let (started, release) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let hold = {
            let (started, release) = (Arc::clone(&started), Arc::clone(&release));
            pool.run(move || {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let waiting = pool.run(|| ());
        let check = async {
            while !started.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let load = pool.load();
            release.store(true, Ordering::SeqCst);
            load
        };
        let (held, waited, load) = tokio::join!(hold, waiting, check);
        held.unwrap();
        waited.unwrap();
        assert_eq!(load, crate::metrics::PoolLoad { threads: 1, busy: 1, queued: 1 });
    }

    #[tokio::test]
    async fn threads_exit_when_the_last_clone_goes() {
        let pool = CpuPool::new("test-cpu", 2).unwrap();
        let clone = pool.clone();
        let queue = Arc::downgrade(&pool.owner.queue);
        drop(pool);
        assert_eq!(clone.run(|| 1).await.unwrap(), 1);
        drop(clone);
        // Each thread holds the queue until it has seen the pool close.
        for _ in 0..100 {
            if queue.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the pool's threads are still running");
    }
}
