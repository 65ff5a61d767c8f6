//! The worker: claims jobs from the store and runs their flows.
//!
//! One worker runs up to `batch` jobs at once, each in a task of its own. The store
//! hands out only jobs whose earlier same-key jobs are finished, so running claimed jobs
//! concurrently keeps per-key order. The runs hand their results to a recorder task,
//! which stores all that arrived while its previous transaction committed in one
//! transaction ([`Store::record`]): one commit for many jobs instead of one each,
//! overlapping with the next claims. A job is never dropped on an error: it is finished,
//! failed (retried or dead-lettered), or left leased for the store to hand out again.
//!
//! **When it claims.** Whenever a slot is free and a claim may find something: the last
//! claim filled every slot it asked for, the store's [`JobWatch`] fired (jobs enqueued
//! by this process, or on PostgreSQL by any process; results stored, which can free a
//! record's next job), the earliest retry this worker scheduled is due, or the poll
//! interval passed (the safety net: other processes on one SQLite file, retries of other
//! workers, expired leases). It used to sleep out its poll interval (≈125 ms added at
//! the median from webhook to Books item, measured on `serve` with a 100 ms emulator)
//! and to refill only once half its slots were free (12.9 of 16 busy on average in a
//! burst of 100 webhooks). Only while runs take under 20 ms on average (no Zoho latency,
//! as in the engine benchmark) does it wait for half its slots, because a claim then
//! costs about as much as a run.
//!
//! **Leases and the heartbeat.** A claim leases its jobs for `lease_ms` (default 10 s);
//! one heartbeat task per worker extends every lease it holds each fifth of that
//! (2 s), in one statement ([`Store::extend_leases`]), until the job's result is stored.
//! A killed worker stops beating, and its jobs are taken over once their leases run out:
//! within seconds, where 60 s leases used to hold 16 jobs of a killed worker for a
//! minute. The trade-off: a process paused for longer than a lease (stopped, swapped
//! out, starved of CPU) loses its leases, and another worker may run the same jobs while
//! the paused one finishes. That is safe *in effect*: the store takes a result only from
//! the lease's current holder (the paused worker's results are refused, and its
//! heartbeat logs each lost lease), and the flows find their targets by link and by
//! natural key, so the second run does not duplicate what the first wrote. Lengthen
//! `lease_secs` where such pauses are expected; shorten it to take over sooner.
//!
//! **The SQLite stall this replaces.** Each run used to extend its own lease from inside
//! its task: a `select!` between the flow and a timer, the extension awaited in the
//! timer's arm. While the arm waited for SQLite's one writer connection, the flow's own
//! future was not polled, and the flow was often the next in line for that connection
//! (journaling a write with [`Store::add_audit`]): the pool handed the connection to a
//! future nobody polled, and every writer of the process (claims, results, journaling,
//! the poller, the other extensions) waited until the extension's 30 s acquire timeout
//! gave up; the timer's missed ticks then fired at once and did it again. That was the
//! 90 s and 4.5 minute freezes with `extending the lease failed … pool timed out` and
//! `acquired_after_secs=150` (an acquire whose permit sat unpolled past its timeout).
//! Now no task awaits the store while holding a future that may own a connection: runs,
//! the recorder and the heartbeat are separate tasks.
//!
//! **What it tells.** Each run is inside a `job` span carrying the job's id, flow,
//! attempt and record (system, module, id), so every log line of the run (the flow's,
//! the Zoho client's) says which record it is about. The recorder counts how each job
//! ended and, for jobs done, the time from the event to the end of the run
//! ([`crate::telemetry`]).

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::FutureExt;
use tokio::{
    sync::mpsc,
    task::JoinSet,
    time::{Instant, MissedTickBehavior},
};
use tracing::Instrument;
use zoho::Client;

use crate::{
    flows::{Flow, RunSettings, execute},
    store::{Failure, Finish, Job, JobResult, JobStatus, JobWatch, Store, StoreError, StoreResult},
    triggers::Clock,
};

/// What the recorder needs to know of a run besides its result, for the metrics.
struct Ran {
    /// The job's flow.
    flow: String,
    /// When the job was created (its event arrived), epoch ms.
    created_ms: i64,
    /// When the run ended, epoch ms, on the worker's clock.
    ended_ms: i64,
}

/// A run's result on its way to the recorder.
type RunResult = ((i64, JobResult), Ran);

/// Most results stored in one transaction.
const RECORD_BATCH: usize = 512;

/// The default lease: a killed worker's jobs are taken over after at most this long.
pub const DEFAULT_LEASE_MS: i64 = 10_000;

/// Runs shorter than this on average (µs) refill slots in batches ([`Held::refill_at`]).
/// Real runs wait on Zoho (100 ms and more per call) and refill slot by slot; in the
/// engine benchmark (no latency, runs of about a millisecond) claiming slot by slot
/// cost a sixth of the PostgreSQL throughput (673 events/s against 798).
const SHORT_RUN_US: u64 = 20_000;

/// Heartbeats per lease: a lease survives four missed or late beats.
const BEATS_PER_LEASE: i64 = 5;

/// How often the heartbeat extends the leases of a worker with leases of `lease_ms`.
pub fn heartbeat_interval(lease_ms: i64) -> Duration {
    Duration::from_millis((lease_ms / BEATS_PER_LEASE).max(1) as u64)
}

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
    /// Lease length; the heartbeat extends the leases held every fifth of it, until the
    /// job's result is stored. A worker that stops beating loses its jobs to others after
    /// at most this long (see the module's notes on the trade-off).
    pub lease_ms: i64,
    /// Jobs run at once (and claimed at a time).
    pub batch: u32,
    /// Longest pause between two looks at the queue when nothing wakes the worker: the
    /// safety net behind the store's wake-ups (other processes on one SQLite file,
    /// other workers' retries, leases running out).
    pub poll_interval: Duration,
    /// Attempts before a retryable failure is dead-lettered.
    pub max_attempts: i32,
    /// Delay before retries.
    pub backoff: Backoff,
    /// The one clock claims, leases, retries and audit entries read.
    pub clock: Clock,
}

impl WorkerConfig {
    /// Defaults for worker `id` on connection `default`: 10 s leases (a 2 s heartbeat),
    /// 16 jobs at once, 500 ms polls, 8 attempts, [`Backoff::default`].
    pub fn new(id: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            id: id.into(),
            connection: "default".into(),
            lease_ms: DEFAULT_LEASE_MS,
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

impl std::fmt::Display for RunStats {
    /// `158 done, 3 skipped, 1 retried, 0 dead` (and the unrecorded runs when there were
    /// any), for the lines `serve` and `worker` end with.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} done, {} skipped, {} retried, {} dead", self.done, self.skipped, self.retried, self.dead)?;
        if self.unrecorded > 0 {
            write!(f, ", {} unrecorded (handed out again)", self.unrecorded)?;
        }
        Ok(())
    }
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

/// What one run of [`Worker::drive`] holds: the jobs it has claimed whose results are not
/// stored yet (the heartbeat extends their leases), and the earliest retry it scheduled
/// (its timer wakes it then).
struct Held {
    /// Job id → whether its result is being stored (a lease that ends meanwhile ended
    /// because the job did: not worth a warning).
    jobs: Mutex<HashMap<i64, bool>>,
    /// Epoch ms of the earliest retry this worker scheduled and has not looked for yet;
    /// `i64::MAX` when none.
    next_retry_ms: AtomicI64,
    /// How long runs take, µs, a moving average; `u64::MAX` before the first run ends.
    run_us: AtomicU64,
}

impl Held {
    fn new() -> Held {
        Held { jobs: Mutex::new(HashMap::new()), next_retry_ms: AtomicI64::new(i64::MAX), run_us: AtomicU64::new(u64::MAX) }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<i64, bool>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts holding claimed jobs.
    fn add(&self, ids: impl IntoIterator<Item = i64>) {
        self.jobs().extend(ids.into_iter().map(|id| (id, false)));
    }

    /// Marks jobs whose results are about to be stored.
    fn storing(&self, ids: impl IntoIterator<Item = i64>) {
        let mut jobs = self.jobs();
        for id in ids {
            if let Some(storing) = jobs.get_mut(&id) {
                *storing = true;
            }
        }
    }

    /// Stops holding jobs (their results are stored, or refused, or the run panicked).
    fn release(&self, ids: impl IntoIterator<Item = i64>) {
        let mut jobs = self.jobs();
        for id in ids {
            jobs.remove(&id);
        }
    }

    /// The jobs held.
    fn ids(&self) -> Vec<i64> {
        self.jobs().keys().copied().collect()
    }

    /// Forgets the jobs among `asked` that the heartbeat did not keep; returns those still
    /// running here (their leases were lost while they ran).
    fn lost(&self, asked: &[i64], kept: &[i64]) -> Vec<i64> {
        let kept: HashSet<i64> = kept.iter().copied().collect();
        let mut jobs = self.jobs();
        asked.iter().filter(|id| !kept.contains(id)).filter(|id| jobs.remove(id) == Some(false)).copied().collect()
    }

    /// Counts a run that took `took` into the moving average (an eighth each).
    fn ran_for(&self, took: Duration) {
        let sample = took.as_micros().min(u128::from(u32::MAX)) as u64;
        let average = match self.run_us.load(Ordering::Relaxed) {
            u64::MAX => sample,
            before => before - before / 8 + sample / 8,
        };
        self.run_us.store(average, Ordering::Relaxed);
    }

    /// Free slots worth a claim out of `slots`: one, so that a freed slot is refilled
    /// at once; half of them while runs are so short that a claim (a commit) costs
    /// about as much as a run, and batching claims is what keeps the throughput.
    fn refill_at(&self, slots: usize) -> usize {
        if self.run_us.load(Ordering::Relaxed) < SHORT_RUN_US { (slots / 2).max(1) } else { 1 }
    }

    /// Remembers a retry scheduled at `at_ms`.
    fn retry_at(&self, at_ms: i64) {
        self.next_retry_ms.fetch_min(at_ms, Ordering::Relaxed);
    }

    /// When the earliest retry is due, if one is scheduled.
    fn next_retry(&self, clock: &Clock) -> Option<Instant> {
        let at = self.next_retry_ms.load(Ordering::Relaxed);
        (at != i64::MAX).then(|| Instant::now() + Duration::from_millis(at.saturating_sub(clock.now_ms()).max(0) as u64))
    }

    /// Forgets the earliest retry if it is due by `now_ms` (it is about to be looked for).
    fn take_due_retry(&self, now_ms: i64) {
        let at = self.next_retry_ms.load(Ordering::Relaxed);
        if at <= now_ms {
            let _ = self.next_retry_ms.compare_exchange(at, i64::MAX, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
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
        let slots = cfg.batch.max(1) as usize;
        let held = Arc::new(Held::new());
        // Runs hand their results to the recorder, which stores whatever has arrived
        // while its previous transaction committed: claiming and storing overlap, and one
        // commit covers many jobs.
        let (results, inbox) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(self.clone().recorder(inbox, held.clone()));
        let heartbeat = tokio::spawn(self.clone().heartbeat(held.clone()));
        let mut watch: JobWatch = self.inner.store.job_watch();
        let mut panicked = 0;
        let mut running: JoinSet<u64> = JoinSet::new();
        // Whether a claim may find something: the last one filled every slot it asked
        // for, or something happened since (a wake-up, a due retry, the poll timer).
        let mut look = true;
        let mut next_poll = Instant::now() + cfg.poll_interval;
        tokio::pin!(shutdown);
        loop {
            while let Some(done) = running.try_join_next() {
                panicked += count_panic(done);
            }
            let free = slots - running.len();
            if look && free >= held.refill_at(slots) {
                // Seen before claiming: whatever is enqueued from here on wakes us again.
                watch.mark_seen();
                next_poll = Instant::now() + cfg.poll_interval;
                let now = cfg.clock.now_ms();
                held.take_due_retry(now);
                match self.inner.store.claim(&cfg.id, now, cfg.lease_ms, free as u32).await {
                    Ok(jobs) => {
                        look = jobs.len() >= free;
                        held.add(jobs.iter().map(|j| j.id));
                        for job in jobs {
                            let (worker, results, held) = (self.clone(), results.clone(), held.clone());
                            let span = job_span(&job);
                            running.spawn(
                                async move {
                                    let (id, started) = (job.id, Instant::now());
                                    let (flow, created_ms) = (job.flow.clone(), job.created_ms);
                                    let ran = AssertUnwindSafe(worker.run_one(job)).catch_unwind().await;
                                    held.ran_for(started.elapsed());
                                    let ended_ms = worker.inner.config.clock.now_ms();
                                    match ran {
                                        // The recorder outlives every run (it ends when the
                                        // last sender is dropped), so this send cannot fail.
                                        Ok(result) => {
                                            let _ = results.send((result, Ran { flow, created_ms, ended_ms }));
                                            0
                                        }
                                        Err(_) => {
                                            // Stop extending its lease: it is claimed again
                                            // when the lease runs out.
                                            held.release([id]);
                                            crate::telemetry::count_job(&flow, &Err::<JobStatus, ()>(()), created_ms, ended_ms);
                                            tracing::error!("a job's run panicked; the job will be claimed again when its lease runs out");
                                            1
                                        }
                                    }
                                }
                                .instrument(span),
                            );
                        }
                    }
                    Err(e) => {
                        look = false;
                        tracing::warn!(error = %e, "claiming jobs failed; will try again");
                    }
                }
                continue;
            }
            if until_idle && running.is_empty() && !look && !self.work_left().await? {
                break;
            }
            let wake_at = held.next_retry(&cfg.clock).map_or(next_poll, |retry| retry.min(next_poll));
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => panicked += count_panic(done),
                () = watch.changed() => look = true,
                () = tokio::time::sleep_until(wake_at) => {
                    // Look at the next free slot; the timer is re-armed here, so that a
                    // worker whose slots are all busy does not spin on it.
                    look = true;
                    held.take_due_retry(cfg.clock.now_ms());
                    let now = Instant::now();
                    if next_poll <= now {
                        next_poll = now + cfg.poll_interval;
                    }
                }
                () = &mut shutdown => break,
            }
        }
        while let Some(done) = running.join_next().await {
            panicked += count_panic(done);
        }
        drop(results);
        let stats = recorder.await;
        // The leases are extended until the last result is stored.
        heartbeat.abort();
        let mut stats = stats.map_err(|e| StoreError::Database(format!("the result recorder failed: {e}")))?;
        stats.unrecorded += panicked;
        Ok(stats)
    }

    /// Extends the leases of the jobs in `held`, one statement per beat, forever (the
    /// caller aborts it). A lease found lost is logged and forgotten: the job's result
    /// will be refused, and whoever took the job over runs it.
    async fn heartbeat(self, held: Arc<Held>) {
        let cfg = &self.inner.config;
        let every = heartbeat_interval(cfg.lease_ms);
        let mut beat = tokio::time::interval_at(Instant::now() + every, every);
        // After a stall, beat once and carry on; a burst of late beats helps nobody.
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            beat.tick().await;
            let ids = held.ids();
            if ids.is_empty() {
                continue;
            }
            let until = cfg.clock.now_ms().saturating_add(cfg.lease_ms);
            match self.inner.store.extend_leases(&cfg.id, &ids, until).await {
                Ok(kept) => {
                    for job in held.lost(&ids, &kept) {
                        tracing::warn!(job, "lease lost while running (it ran out and the job was taken over); its result will be refused");
                    }
                }
                Err(e) => tracing::warn!(error = %e, jobs = ids.len(), "extending the leases failed; trying again at the next beat"),
            }
        }
    }

    /// Stores the results arriving on `inbox`, as many at a time as have arrived, until
    /// every sender is gone; returns how the jobs ended.
    async fn recorder(self, mut inbox: mpsc::UnboundedReceiver<RunResult>, held: Arc<Held>) -> RunStats {
        let mut stats = RunStats::default();
        let mut arrived = Vec::new();
        while inbox.recv_many(&mut arrived, RECORD_BATCH).await > 0 {
            let (mut results, runs): (Vec<_>, Vec<_>) = arrived.drain(..).unzip();
            held.storing(results.iter().map(|(id, _)| *id));
            self.record(&mut results, &runs, &mut stats, &held).await;
        }
        stats
    }

    /// Stores `results` (emptying it) and counts how each job ended (in `stats`, and in the
    /// metrics with what `runs` says of each, in the same order). When the batch as a
    /// whole is refused (a database error, or one result breaking a constraint), each
    /// result is stored on its own, so one bad result does not hold the others back; a
    /// result that breaks a constraint on its own becomes a dead letter carrying the
    /// refusal and the run's audit entries (the writes to Zoho happened, so they are
    /// kept). A result that cannot be stored for any other reason (the database is
    /// down) leaves its job leased: it is claimed and run again.
    async fn record(&self, results: &mut Vec<(i64, JobResult)>, runs: &[Ran], stats: &mut RunStats, held: &Held) {
        if results.is_empty() {
            return;
        }
        let inner = &self.inner;
        let worker = inner.config.id.as_str();
        let answers = match inner.store.record(worker, results, inner.config.clock.now_ms()).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::warn!(error = %e, jobs = results.len(), "storing a batch of results failed; storing them one by one");
                let mut answers = Vec::with_capacity(results.len());
                for (id, result) in results.iter() {
                    let answer = match inner.store.record_one(worker, *id, result.clone(), inner.config.clock.now_ms()).await {
                        Err(StoreError::Constraint(refusal)) => self.dead_letter_unstorable(*id, result, &refusal).await,
                        other => other,
                    };
                    answers.push(answer);
                }
                answers
            }
        };
        for (((id, result), answer), ran) in results.iter().zip(answers).zip(runs) {
            match (&answer, result) {
                (Ok(JobStatus::Queued), JobResult::Fail { retry_at_ms, .. }) => held.retry_at(*retry_at_ms),
                (Err(e), _) => tracing::warn!(job = id, error = %e, "the store did not take the job's result; it will be claimed again"),
                _ => {}
            }
            crate::telemetry::count_job(&ran.flow, &answer, ran.created_ms, ran.ended_ms);
            stats.count(answer);
        }
        held.release(results.iter().map(|(id, _)| *id));
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

    /// Runs one claimed job; returns its result for the recorder to store. (Its lease is
    /// the heartbeat's business, not the run's: see the module's notes.)
    async fn run_one(&self, job: Job) -> (i64, JobResult) {
        let inner = &self.inner;
        let Some(flow) = inner.flows.get(job.flow.as_str()).cloned() else {
            let failure = Failure { error: format!("no flow named {:?} in this worker", job.flow), retryable: false, audit: Vec::new() };
            return (job.id, JobResult::Fail { failure, retry_at_ms: inner.config.clock.now_ms(), max_attempts: inner.config.max_attempts });
        };
        let result = execute(&inner.store, flow.as_ref(), &inner.client, &inner.settings, &job).await;
        let ended = match &result {
            JobResult::Finish(Finish::Done { .. }) => "done",
            JobResult::Finish(Finish::Skipped { .. }) => "skipped",
            JobResult::Fail { .. } => "failed",
        };
        tracing::debug!(result = ended, "job ran");
        (job.id, result)
    }
}

/// The span a job runs in: its id, flow and attempt, and the record it is about (empty
/// fields for a job about no one record).
fn job_span(job: &Job) -> tracing::Span {
    let record = job.record().ok();
    tracing::info_span!(
        "job",
        job_id = job.id,
        flow = %job.flow,
        attempt = job.attempts,
        system = record.as_ref().map(|r| r.system.as_str()),
        module = record.as_ref().map(|r| r.module.as_str()),
        record_id = record.as_ref().map(|r| r.id.as_str()),
    )
}

/// 1 when a run's task panicked or was cancelled (its job stays leased and is claimed
/// again when the lease runs out), else 0.
fn count_panic(joined: Result<u64, tokio::task::JoinError>) -> u64 {
    match joined {
        Ok(panicked) => panicked,
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
    fn slots_refill_one_by_one_unless_runs_are_as_short_as_claims() {
        let held = Held::new();
        assert_eq!(held.refill_at(16), 1, "before any run ended");
        held.ran_for(Duration::from_millis(1));
        assert_eq!((held.refill_at(16), held.refill_at(1)), (8, 1));
        for _ in 0..40 {
            held.ran_for(Duration::from_millis(150));
        }
        assert_eq!(held.refill_at(16), 1, "runs waiting on Zoho");
    }

    #[test]
    fn a_lost_lease_is_reported_only_for_a_job_still_running() {
        let held = Held::new();
        held.add([1, 2, 3]);
        held.storing([3]);
        assert_eq!(held.lost(&[1, 2, 3], &[1]), vec![2], "3 ended while the beat ran");
        assert_eq!(held.ids(), vec![1]);
    }

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
