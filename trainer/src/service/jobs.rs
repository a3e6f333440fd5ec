//! One heavy job at a time, with counters for `Status`.
//!
//! Training and verification saturate the cores; two at once would each take
//! twice as long and both might miss the block in which their verdict counts.
//! Jobs therefore queue for a single slot and run on tokio's blocking pool.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use um_proto::tonic::Status;

/// Requests that may wait for the slot (or hold it) at once. Each holds its
/// weights (up to the gRPC message limit) while it waits; past this, a new
/// request is refused at once rather than queued behind hours of work.
pub const MAX_QUEUED: u32 = 16;

/// Predictions that may run at once; one more is refused at once
/// (RESOURCE_EXHAUSTED) rather than queued: a caller asks again, and a
/// flood of them costs a refusal each.
pub const PREDICT_SLOTS: usize = 2;

/// Which counter a finished request moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Verify,
    Train,
    Evaluate,
    Predict,
}

/// The slot and the counters.
#[derive(Debug)]
pub struct Jobs {
    slot: Arc<Semaphore>,
    queued: AtomicU32,
    verified: AtomicU64,
    trained: AtomicU64,
    evaluated: AtomicU64,
    predicted: AtomicU64,
    failed: AtomicU64,
    /// Predictions running: beside the job slot, so a prediction never
    /// waits for a re-training (nor delays one's start), and few at once.
    predict_slots: Arc<Semaphore>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub queued: u32,
    pub verified: u64,
    pub trained: u64,
    pub evaluated: u64,
    pub predicted: u64,
    pub failed: u64,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            slot: Arc::new(Semaphore::new(1)),
            queued: AtomicU32::new(0),
            verified: AtomicU64::new(0),
            trained: AtomicU64::new(0),
            evaluated: AtomicU64::new(0),
            predicted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            predict_slots: Arc::new(Semaphore::new(PREDICT_SLOTS)),
        }
    }
}

impl Jobs {
    /// Waits for the slot.
    pub async fn slot(&self) -> Result<OwnedSemaphorePermit, Status> {
        self.slot
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("the trainer is shutting down"))
    }

    /// Counts a finished request: its kind on success, `failed` on an error.
    pub fn finish<T>(&self, kind: Kind, result: &Result<T, Status>) {
        let counter = match (result, kind) {
            (Err(_), _) => &self.failed,
            (Ok(_), Kind::Verify) => &self.verified,
            (Ok(_), Kind::Train) => &self.trained,
            (Ok(_), Kind::Evaluate) => &self.evaluated,
            (Ok(_), Kind::Predict) => &self.predicted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        Counters {
            queued: self.queued.load(Ordering::Relaxed),
            verified: self.verified.load(Ordering::Relaxed),
            trained: self.trained.load(Ordering::Relaxed),
            evaluated: self.evaluated.load(Ordering::Relaxed),
            predicted: self.predicted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` on the blocking pool once the slot is free. The request
    /// counts as queued until `work` returns, even if the caller gave up.
    pub async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Status> + Send + 'static,
    {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(Status::resource_exhausted(format!(
                "{MAX_QUEUED} requests are already waiting for this trainer; try again later"
            )));
        }
        // Owned by the blocking task once it starts, so a cancelled request
        // keeps counting while its computation finishes; a request cancelled
        // while it waits gives its place back without running.
        let queued = OwnedQueued(self.clone());
        let permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let _held = (permit, queued);
            work()
        })
        .await
        .map_err(|e| Status::internal(format!("the job failed: {e}")))?
    }
}

/// Counts a request as queued or running until dropped.
impl Jobs {
    /// Runs `work` (a prediction) on the blocking pool beside the job slot,
    /// if one of the [`PREDICT_SLOTS`] is free.
    pub async fn run_predict<T, F>(&self, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Status> + Send + 'static,
    {
        let permit = self
            .predict_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                Status::resource_exhausted(format!(
                "{PREDICT_SLOTS} predictions are already running on this trainer; try again later"
            ))
            })?;
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            work()
        })
        .await
        .map_err(|e| Status::internal(format!("the prediction failed: {e}")))?
    }
}

struct OwnedQueued(Arc<Jobs>);

impl Drop for OwnedQueued {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_job_at_a_time_and_queued_counts() {
        let jobs = Arc::new(Jobs::default());
        let running = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (jobs, running, most) = (jobs.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                jobs.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(jobs.counters().queued, 3, "one running, two waiting");
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two at once");
        assert_eq!(jobs.counters().queued, 0);

        let err: Result<(), Status> = jobs.run(|| Err(Status::failed_precondition("nope"))).await;
        jobs.finish(Kind::Verify, &err);
        jobs.finish(Kind::Evaluate, &Ok(()));
        let c = jobs.counters();
        assert_eq!((c.failed, c.evaluated, c.verified), (1, 1, 0));
    }

    /// Issue 13, finding 14: the queue had no bound, and every waiting
    /// request holds its weights. Past MAX_QUEUED a request is refused at
    /// once; one cancelled while it waits never runs and gives its place back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_is_bounded_and_a_cancelled_wait_never_runs() {
        let jobs = Arc::new(Jobs::default());
        let release = Arc::new(Semaphore::new(0));
        let ran = Arc::new(AtomicU32::new(0));
        let mut waiting = Vec::new();
        for index in 0..MAX_QUEUED {
            let (queue, release, counter) = (jobs.clone(), release.clone(), ran.clone());
            waiting.push(tokio::spawn(async move {
                queue
                    .run(move || {
                        counter.fetch_add(1, Ordering::SeqCst);
                        // Holds the slot until the test lets it go.
                        let _ = futures_lite_block(release.acquire_owned());
                        Ok(())
                    })
                    .await
            }));
            if index == 0 {
                // The first one holds the slot; the rest wait behind it.
                while ran.load(Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(jobs.counters().queued, MAX_QUEUED);
        let refused: Result<(), Status> = jobs.run(|| Ok(())).await;
        assert_eq!(
            refused.unwrap_err().code(),
            um_proto::tonic::Code::ResourceExhausted
        );
        // The last waiter gives up: it leaves the queue and never runs.
        if let Some(last) = waiting.pop() {
            last.abort();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(jobs.counters().queued, MAX_QUEUED - 1);
        release.add_permits(MAX_QUEUED as usize);
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), MAX_QUEUED - 1);
        assert_eq!(jobs.counters().queued, 0);
    }

    /// Blocks the (blocking-pool) thread on a future.
    fn futures_lite_block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Handle::current().block_on(future)
    }
}
