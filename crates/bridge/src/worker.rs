//! The worker: claims jobs from the store and runs their flows.
//!
//! One worker runs up to `batch` jobs at once. The store hands out only jobs whose
//! earlier same-key jobs are finished, so running claimed jobs concurrently keeps
//! per-key order. Each running job's lease is extended while it runs; a worker that
//! dies simply stops extending, and its jobs are claimed again when their leases run
//! out (the runner then finds targets by natural key, so nothing is duplicated). The
//! runs hand their results to a recorder task, which stores all that arrived while its
//! previous transaction committed in one transaction ([`Store::record`]): one commit for
//! many jobs instead of one each, overlapping with the next claims. A job
//! is never dropped on an error: it is finished, failed (retried or dead-lettered), or
//! left leased for the store to hand out again.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use tokio::{sync::mpsc, task::JoinSet};
use zoho::Client;

use crate::{
    flows::{Flow, RunSettings, execute},
    triggers::Clock,
    store::{Failure, Finish, Job, JobResult, JobStatus, Store, StoreError, StoreResult},
};

/// Most results stored in one transaction.
const RECORD_BATCH: usize = 512;

/// Delay before retrying a failed job: exponential in the attempt number, capped, and
/// jittered (half to all of the nominal delay) so that failed jobs do not return in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first attempt.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 2 s doubling up to 10 minutes.
    fn default() -> Self {
        Backoff { base: Duration::from_secs(2), max: Duration::from_secs(600) }
    }
}

impl Backoff {
    /// The delay after attempt `attempt` (1 for the first).
    pub fn delay(&self, attempt: i32) -> Duration {
        let exp = attempt.clamp(1, 31) as u32 - 1;
        let nominal = self.base.saturating_mul(2u32.saturating_pow(exp)).min(self.max);
        let ms = nominal.as_millis() as u64;
        Duration::from_millis(ms / 2 + fastrand::u64(0..=ms - ms / 2))
    }
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's id: the lease owner and the audit actor.
    pub id: String,
    /// The connection this worker's client belongs to.
    pub connection: String,
    /// Lease length; extended every third of it while a job runs.
    pub lease_ms: i64,
    /// Jobs run at once (and claimed at a time).
    pub batch: u32,
    /// Pause when there is nothing to claim.
    pub poll_interval: Duration,
    /// Attempts before a retryable failure is dead-lettered.
    pub max_attempts: i32,
    /// Delay before retries.
    pub backoff: Backoff,
    /// The one clock claims, leases, retries and audit entries read.
    pub clock: Clock,
}

impl WorkerConfig {
    /// Defaults for worker `id` on connection `default`: 60 s leases, 16 jobs at once,
    /// 500 ms polls, 8 attempts, [`Backoff::default`].
    pub fn new(id: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            id: id.into(),
            connection: "default".into(),
            lease_ms: 60_000,
            batch: 16,
            poll_interval: Duration::from_millis(500),
            max_attempts: 8,
            backoff: Backoff::default(),
            clock: Clock::system(),
        }
    }
}

/// What a run did, counted per ending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Jobs done.
    pub done: u64,
    /// Jobs skipped (with a reason).
    pub skipped: u64,
    /// Failed attempts queued for a retry.
    pub retried: u64,
    /// Jobs dead-lettered.
    pub dead: u64,
    /// Runs whose result the store did not take (lease lost, database error); those jobs
    /// are handed out again.
    pub unrecorded: u64,
}

impl RunStats {
    fn count(&mut self, ending: StoreResult<JobStatus>) {
        match ending {
            Ok(JobStatus::Done) => self.done += 1,
            Ok(JobStatus::Skipped) => self.skipped += 1,
            Ok(JobStatus::Queued | JobStatus::Running) => self.retried += 1,
            Ok(JobStatus::Dead) => self.dead += 1,
            Err(_) => self.unrecorded += 1,
        }
    }
}

/// Claims and runs jobs. Cheap to clone.
pub struct Worker<S: Store> {
    inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Worker<S> {
    fn clone(&self) -> Self {
        Worker { inner: self.inner.clone() }
    }
}

struct Inner<S> {
    store: S,
    flows: HashMap<&'static str, Arc<dyn Flow>>,
    client: Client,
    config: WorkerConfig,
    settings: RunSettings,
}

impl<S: Store> Worker<S> {
    /// A worker running `flows` (by name) against `store` through `client`.
    pub fn new(store: S, flows: Vec<Arc<dyn Flow>>, client: Client, config: WorkerConfig) -> Worker<S> {
        let settings = RunSettings {
            worker: config.id.clone(),
            connection: config.connection.clone(),
            max_attempts: config.max_attempts,
            backoff: config.backoff,
            clock: config.clock.clone(),
        };
        let flows = flows.into_iter().map(|f| (f.name(), f)).collect();
        Worker { inner: Arc::new(Inner { store, flows, client, config, settings }) }
    }

    /// Runs jobs until none is queued or running (including retries waiting for their
    /// time and jobs leased by other workers). For tests and `--until-idle`.
    pub async fn run_until_idle(&self) -> StoreResult<RunStats> {
        self.drive(true, std::future::pending()).await
    }

    /// Runs jobs until `shutdown` completes, then lets the running jobs finish.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> StoreResult<RunStats> {
        self.drive(false, shutdown).await
    }

    async fn drive(&self, until_idle: bool, shutdown: impl Future<Output = ()> + Send) -> StoreResult<RunStats> {
        let cfg = &self.inner.config;
        let batch = cfg.batch.max(1) as usize;
        // Runs hand their results to the recorder, which stores whatever has arrived
        // while its previous transaction committed: claiming and storing overlap, and one
        // commit covers many jobs.
        let (results, inbox) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(self.clone().recorder(inbox));
        let mut panicked = 0;
        let mut running: JoinSet<()> = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            while let Some(done) = running.try_join_next() {
                panicked += count_panic(done);
            }
            // Refill when half the slots are free: fewer, larger claims.
            let mut claimed = 0;
            if running.len() <= batch / 2 {
                let free = (batch - running.len()) as u32;
                match self.inner.store.claim(&cfg.id, cfg.clock.now_ms(), cfg.lease_ms, free).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let (worker, results) = (self.clone(), results.clone());
                            running.spawn(async move {
                                // The recorder outlives every run (it ends when the last
                                // sender is dropped), so this send cannot fail.
                                let _ = results.send(worker.run_one(job).await);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed; will try again"),
                }
            }
            if claimed > 0 {
                continue;
            }
            if until_idle && running.is_empty() && !self.work_left().await? {
                break;
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => panicked += count_panic(done),
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                _ = &mut shutdown => break,
            }
        }
        while let Some(done) = running.join_next().await {
            panicked += count_panic(done);
        }
        drop(results);
        let mut stats = recorder.await.map_err(|e| StoreError::Database(format!("the result recorder failed: {e}")))?;
        stats.unrecorded += panicked;
        Ok(stats)
    }

    /// Stores the results arriving on `inbox`, as many at a time as have arrived, until
    /// every sender is gone; returns how the jobs ended.
    async fn recorder(self, mut inbox: mpsc::UnboundedReceiver<(i64, JobResult)>) -> RunStats {
        let mut stats = RunStats::default();
        let mut results = Vec::new();
        while inbox.recv_many(&mut results, RECORD_BATCH).await > 0 {
            self.record(&mut results, &mut stats).await;
        }
        stats
    }

    /// Stores `results` (emptying it) and counts how each job ended. When the batch as a
    /// whole is refused (a database error, or one result breaking a constraint), each
    /// result is stored on its own, so one bad result does not hold the others back; a
    /// result that breaks a constraint on its own becomes a dead letter carrying the
    /// refusal and the run's audit entries (the writes to Zoho happened, so they are
    /// kept). A result that cannot be stored for any other reason (the database is
    /// down) leaves its job leased: it is claimed and run again.
    async fn record(&self, results: &mut Vec<(i64, JobResult)>, stats: &mut RunStats) {
        if results.is_empty() {
            return;
        }
        let inner = &self.inner;
        let worker = inner.config.id.as_str();
        match inner.store.record(worker, results, inner.config.clock.now_ms()).await {
            Ok(answers) => answers.into_iter().for_each(|a| stats.count(a)),
            Err(e) => {
                tracing::warn!(error = %e, jobs = results.len(), "storing a batch of results failed; storing them one by one");
                for (id, result) in results.iter() {
                    let answer = match inner.store.record_one(worker, *id, result.clone(), inner.config.clock.now_ms()).await {
                        Err(StoreError::Constraint(refusal)) => self.dead_letter_unstorable(*id, result, &refusal).await,
                        other => other,
                    };
                    if let Err(e) = &answer {
                        tracing::warn!(job = id, error = %e, "the store did not take the job's result; it will be claimed again");
                    }
                    stats.count(answer);
                }
            }
        }
        results.clear();
    }

    /// Dead-letters job `id` whose result the store refused, keeping the run's audit.
    async fn dead_letter_unstorable(&self, id: i64, result: &JobResult, refusal: &str) -> StoreResult<JobStatus> {
        let audit = match result {
            JobResult::Finish(Finish::Done { audit, .. }) => audit.clone(),
            JobResult::Fail { failure, .. } => failure.audit.clone(),
            JobResult::Finish(Finish::Skipped { .. }) => Vec::new(),
        };
        let failure = Failure { error: format!("the job ran but its result could not be stored: {refusal}"), retryable: false, audit };
        let now = self.inner.config.clock.now_ms();
        let dead = JobResult::Fail { failure, retry_at_ms: now, max_attempts: 0 };
        self.inner.store.record_one(&self.inner.config.id, id, dead, now).await
    }

    /// Whether any job is queued or running anywhere.
    async fn work_left(&self) -> StoreResult<bool> {
        let counts = self.inner.store.job_counts().await?;
        Ok(counts.iter().any(|(s, n)| matches!(s, JobStatus::Queued | JobStatus::Running) && *n > 0))
    }

    /// Runs one claimed job, extending its lease while it runs; returns its result for
    /// the caller to store.
    async fn run_one(&self, job: Job) -> (i64, JobResult) {
        let inner = &self.inner;
        let Some(flow) = inner.flows.get(job.flow.as_str()).cloned() else {
            let failure = Failure { error: format!("no flow named {:?} in this worker", job.flow), retryable: false, audit: Vec::new() };
            return (job.id, JobResult::Fail { failure, retry_at_ms: inner.config.clock.now_ms(), max_attempts: inner.config.max_attempts });
        };
        let work = execute(&inner.store, flow.as_ref(), &inner.client, &inner.settings, &job);
        tokio::pin!(work);
        let every = Duration::from_millis((inner.config.lease_ms / 3).max(1) as u64);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                _ = tick.tick() => {
                    let until = inner.config.clock.now_ms() + inner.config.lease_ms;
                    match inner.store.extend_lease(job.id, &inner.config.id, until).await {
                        Ok(()) => {}
                        // The result will be refused when stored; let the run end.
                        Err(StoreError::LeaseLost(_)) => tracing::warn!(job = job.id, "lease lost while running"),
                        Err(e) => tracing::warn!(job = job.id, error = %e, "extending the lease failed"),
                    }
                }
            }
        };
        (job.id, result)
    }
}

/// 1 when a run's task panicked (its job stays leased and is claimed again when the
/// lease runs out), else 0.
fn count_panic(joined: Result<(), tokio::task::JoinError>) -> u64 {
    match joined {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "a job's task failed; the job will be claimed again when its lease runs out");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_millis(1_000) };
        for _ in 0..50 {
            let d1 = b.delay(1).as_millis();
            assert!((50..=100).contains(&d1), "{d1}");
            let d3 = b.delay(3).as_millis();
            assert!((200..=400).contains(&d3), "{d3}");
            let d30 = b.delay(30).as_millis();
            assert!((500..=1_000).contains(&d30), "{d30}");
        }
        let spread: std::collections::HashSet<u128> = (0..50).map(|_| b.delay(5).as_millis()).collect();
        assert!(spread.len() > 5, "no jitter: {spread:?}");
    }
}
