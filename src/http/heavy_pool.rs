//! Threads at a lower CPU priority for heavy searches.
//!
//! [`limits::admit`](super::limits::admit) lets at most `heavy_capacity` heavy searches
//! (many words, filters or facets, deep pages) run at once; this pool runs them, on as
//! many threads, each lowered to nice [`HEAVY_NICE`] when it starts. When heavy and
//! ordinary searches want the same core, Linux's scheduler then gives the ordinary
//! ones about nine tenths of it, so a burst of costly requests delays an ordinary
//! query by a slice of a millisecond rather than by a whole heavy search. When nothing
//! else wants the cores, a heavy search runs at full speed.
//!
//! Jobs enter through [`HeavyPool::run`] (a closure) and leave as its result through a
//! one-shot channel; the threads start with the first job and end when the pool is
//! dropped.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// The nice value of the pool's threads (0 is the default, 19 the lowest priority).
pub const HEAVY_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of lower-priority threads.
pub struct HeavyPool {
    threads: usize,
    jobs: OnceLock<Mutex<Sender<Job>>>,
}

/// The pool's threads are gone (only while the server shuts down).
#[derive(Debug, thiserror::Error)]
#[error("the heavy-search threads have stopped")]
pub struct PoolStopped;

impl HeavyPool {
    /// A pool of `threads` threads (at least one), started by the first job.
    pub fn new(threads: usize) -> HeavyPool {
        HeavyPool {
            threads: threads.max(1),
            jobs: OnceLock::new(),
        }
    }

    /// The queue the threads take jobs from, starting them on first use.
    fn jobs(&self) -> &Mutex<Sender<Job>> {
        self.jobs.get_or_init(|| start(self.threads))
    }

    /// Runs `job` on one of the pool's threads and waits for its result.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolStopped>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.jobs()
            .lock()
            .map_err(|_| PoolStopped)?
            .send(job)
            .map_err(|_| PoolStopped)?;
        result.await.map_err(|_| PoolStopped)
    }
}

/// Starts `threads` threads that take jobs from the returned queue.
fn start(threads: usize) -> Mutex<Sender<Job>> {
    let (sender, receiver) = channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..threads {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("clerk-heavy-{n}"))
            .spawn(move || work(&receiver));
        if let Err(e) = spawned {
            tracing::warn!("could not start heavy-search thread {n}: {e}");
        }
    }
    Mutex::new(sender)
}

/// One thread's life: lower its priority, then run jobs until the pool is dropped.
fn work(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking job loses its one-shot sender, which its caller reports.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Sets the calling thread's nice value to [`HEAVY_NICE`] (Linux; elsewhere a no-op).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, with no pointers.
        let failed = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, HEAVY_NICE) != 0
        };
        if failed {
            tracing::warn!(
                "could not lower the priority of a heavy-search thread: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// The calling thread's nice value (Linux; 0 elsewhere).
#[cfg(test)]
fn current_nice() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, with no pointers.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_lower_priority_threads_and_return_their_result() {
        let pool = HeavyPool::new(2);
        let caller = current_nice();
        let (nice, name) = pool
            .run(|| {
                (
                    current_nice(),
                    std::thread::current().name().map(str::to_string),
                )
            })
            .await
            .expect("pool runs");
        if cfg!(target_os = "linux") {
            assert!(nice >= HEAVY_NICE, "heavy thread at nice {nice}");
        }
        assert!(name.is_some_and(|n| n.starts_with("clerk-heavy-")));
        // The caller's own priority is untouched.
        assert_eq!(current_nice(), caller);
    }

    #[tokio::test]
    async fn a_panicking_job_is_reported_and_the_pool_keeps_working() {
        let pool = HeavyPool::new(1);
        let failed = pool.run(|| -> u32 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| 7).await.expect("pool still runs"), 7);
    }

    #[tokio::test]
    async fn many_jobs_share_few_threads() {
        let pool = Arc::new(HeavyPool::new(2));
        let mut handles = Vec::new();
        for i in 0..20u64 {
            let pool = pool.clone();
            handles.push(tokio::spawn(async move { pool.run(move || i * i).await }));
        }
        let mut sum: u64 = 0;
        for h in handles {
            sum += h.await.expect("task").expect("job");
        }
        assert_eq!(sum, (0..20u64).map(|i| i * i).sum::<u64>());
    }
}
