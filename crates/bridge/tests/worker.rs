//! The worker's timing behaviour, without timing anything: an idle worker is woken by an
//! enqueue (and by its own due retry, and by the end of a record's earlier job) instead
//! of sleeping out its poll; a free slot is refilled at once; one heartbeat statement
//! per beat keeps a live worker's jobs while a dead worker's are taken over after a
//! short lease; and SQLite's single writer is not starved by journaling, heartbeats,
//! results and claims together.
//!
//! The workers here poll once an hour where a test is about being woken: finding the
//! job within the (generous) bound is then only possible through the wake-up.

mod engine_support;

use std::{sync::Arc, time::Duration};

use bridge::{
    flows::Flow,
    store::{JobStatus, Store},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use engine_support::{Probe, ProbeFlow, TempDir, count, enqueue, eventually, idle_client, sqlite};
use tokio::{sync::Semaphore, task::JoinHandle};

/// Polls once an hour: only a wake-up finds work within a test's bounds.
const NEVER: Duration = Duration::from_secs(3_600);

fn config(id: &str, poll: Duration, lease_ms: i64, batch: u32) -> WorkerConfig {
    WorkerConfig {
        poll_interval: poll,
        lease_ms,
        batch,
        backoff: Backoff { base: Duration::from_millis(100), max: Duration::from_millis(200) },
        ..WorkerConfig::new(id)
    }
}

/// A worker running in the background until the returned sender is dropped or sent to.
fn spawn<S: Store>(store: S, flow: Arc<ProbeFlow>, config: WorkerConfig) -> (tokio::sync::oneshot::Sender<()>, JoinHandle<RunStats>) {
    let flows: Vec<Arc<dyn Flow>> = vec![flow];
    let worker = Worker::new(store, flows, idle_client(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("worker")
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_is_woken_by_an_enqueue() {
    let dir = TempDir::new("wake");
    let store = Probe::new(sqlite(&dir, Duration::from_secs(30)).await);
    let flow = Arc::new(ProbeFlow::default());
    let (stop, task) = spawn(store.clone(), flow.clone(), config("w", NEVER, 10_000, 4));
    // The worker has looked once, found nothing, and sleeps for an hour.
    assert!(eventually(10, || async { store.calls("claim") >= 1 }).await);
    for round in 1..=3 {
        enqueue(&store.inner, &[&format!("p{round}")]).await;
        assert!(eventually(10, || async { count(&store.inner, JobStatus::Done).await == round }).await, "round {round}: the enqueue did not wake the worker");
    }
    drop(stop);
    let stats = task.await.expect("worker task");
    assert_eq!((stats.done, stats.unrecorded), (3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_run_when_it_is_due_and_a_records_next_job_when_the_first_is_stored() {
    let dir = TempDir::new("due");
    let store = sqlite(&dir, Duration::from_secs(30)).await;
    let flow = Arc::new(ProbeFlow { fail_first_attempt: true, ..ProbeFlow::default() });
    let (stop, task) = spawn(store.clone(), flow.clone(), config("w", NEVER, 10_000, 4));
    // Two jobs of one record: the second may run only once the first has ended, which
    // (failing first, retried after 50–100 ms) takes two runs.
    enqueue(&store, &["same", "same"]).await;
    assert!(eventually(10, || async { count(&store, JobStatus::Done).await == 2 }).await, "runs so far: {:?}", flow.runs());
    let ids: Vec<i64> = flow.runs().iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 4, "each job failed once, then was done: {ids:?}");
    assert!(ids[0] == ids[1] && ids[2] == ids[3] && ids[0] < ids[2], "in per-record order: {ids:?}");
    drop(stop);
    let stats = task.await.expect("worker task");
    assert_eq!((stats.done, stats.retried, stats.unrecorded), (2, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_slot_is_refilled_at_once() {
    let dir = TempDir::new("slots");
    let store = sqlite(&dir, Duration::from_secs(30)).await;
    let gate = Arc::new(Semaphore::new(0));
    // Runs that wait on Zoho as real ones do (a worker whose runs take a millisecond
    // refills in batches: a claim then costs as much as a run).
    let flow = Arc::new(ProbeFlow { gate: Some(gate.clone()), zoho_time: Duration::from_millis(100), ..ProbeFlow::default() });
    enqueue(&store, &["a", "b", "c", "d", "e", "f", "g", "h"]).await;
    let (stop, task) = spawn(store.clone(), flow.clone(), config("w", NEVER, 10_000, 4));
    assert!(eventually(10, || async { flow.started() == 4 }).await, "four slots, four runs");
    for started in 5..=8 {
        // One run ends: one slot frees, and the next job starts in it (three slots
        // still busy, so a worker refilling at half-empty would wait).
        gate.add_permits(1);
        assert!(eventually(10, || async { flow.started() == started }).await, "the freed slot was not refilled: {} started", flow.started());
    }
    gate.add_permits(4);
    assert!(eventually(10, || async { count(&store, JobStatus::Done).await == 8 }).await);
    drop(stop);
    assert_eq!(task.await.expect("worker task").done, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_jobs_are_taken_over_after_its_short_lease() {
    let dir = TempDir::new("takeover");
    let store = sqlite(&dir, Duration::from_secs(30)).await;
    enqueue(&store, &["a", "b", "c"]).await;
    // A worker claims three jobs with a 500 ms lease and dies: no heartbeat, no result.
    let dead = store.claim("dead", bridge::flows::now_ms(), 500, 10).await.expect("claim");
    assert_eq!(dead.len(), 3);
    let flow = Arc::new(ProbeFlow::default());
    let flows: Vec<Arc<dyn Flow>> = vec![flow.clone()];
    let worker = Worker::new(store.clone(), flows, idle_client(), config("alive", Duration::from_millis(50), 500, 4));
    let stats = tokio::time::timeout(Duration::from_secs(30), worker.run_until_idle()).await.expect("taken over in time").expect("worker");
    assert_eq!((stats.done, stats.unrecorded), (3, 0));
    for job in dead {
        let now = store.job(job.id).await.expect("job").expect("exists");
        assert_eq!((now.status, now.attempts), (JobStatus::Done, 2), "job {}", job.id);
    }
    assert!(flow.runs().iter().all(|(_, worker)| worker == "alive"), "{:?}", flow.runs());
    assert_eq!(flow.started(), 3, "each run once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_workers_heartbeat_keeps_its_jobs_in_one_statement_per_beat() {
    let dir = TempDir::new("heartbeat");
    let store = Probe::new(sqlite(&dir, Duration::from_secs(30)).await);
    let gate = Arc::new(Semaphore::new(0));
    let flow = Arc::new(ProbeFlow { gate: Some(gate.clone()), ..ProbeFlow::default() });
    enqueue(&store.inner, &["a", "b", "c", "d"]).await;
    // A holds all four jobs with 1 s leases (a beat every 200 ms) and stays busy.
    let (stop_a, a) = spawn(store.clone(), flow.clone(), config("a", Duration::from_millis(20), 1_000, 4));
    assert!(eventually(10, || async { flow.started() == 4 }).await);
    // B polls every 20 ms and would take any job whose lease ran out.
    let (stop_b, b) = spawn(store.clone(), flow.clone(), config("b", Duration::from_millis(20), 1_000, 4));
    // Fifteen beats: three seconds, three leases' worth.
    assert!(eventually(30, || async { store.calls("extend_leases") >= 15 }).await, "the heartbeat does not beat");
    assert_eq!(flow.started(), 4, "a job was taken from a live worker: {:?}", flow.runs());
    for job in store.jobs_with_status(JobStatus::Running, 10).await.expect("running") {
        assert_eq!(job.lease_owner.as_deref(), Some("a"));
    }
    assert_eq!(store.calls("extend_lease"), 0, "one statement per beat, not one per job");
    gate.add_permits(4);
    assert!(eventually(10, || async { count(&store.inner, JobStatus::Done).await == 4 }).await);
    drop((stop_a, stop_b));
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    assert_eq!((a.done, a.unrecorded, b.done), (4, 0, 0));
    assert!(store.errors().is_empty(), "{:?}", store.errors());
}

/// The load under which `serve` on SQLite froze for minutes: many runs journaling their
/// writes one insert at a time, heartbeats, result batches, claims by two workers, and
/// enqueues, all on one file's single writer connection. With a 2 s acquire timeout
/// every call must still get its turn: a call holding (or first in line for) the writer
/// while another waits on it fails here with "pool timed out". Against the worker that
/// extended each lease from inside the run's `select!`, this failed 4 runs out of 4
/// (enqueues and journal writes timed out after 2 s); it passes in about 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_writer_serves_journaling_heartbeats_results_and_claims_together() {
    const JOBS: usize = 320;
    let dir = TempDir::new("stall");
    let store = Probe::new(sqlite(&dir, Duration::from_secs(2)).await);
    let flow = Arc::new(ProbeFlow { journaled_writes: 8, ..ProbeFlow::default() });
    // Short leases: a beat every 200 ms (the old per-job extension: every 333 ms per job).
    // Not shorter: on a loaded machine a beat can be late by a few hundred ms, and a lost
    // lease is not what this test is about.
    let (stop_a, a) = spawn(store.clone(), flow.clone(), config("a", Duration::from_millis(20), 1_000, 16));
    let (stop_b, b) = spawn(store.clone(), flow.clone(), config("b", Duration::from_millis(20), 1_000, 16));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..JOBS / 4 / 5 {
                    let ids: Vec<String> = (0..5).map(|i| format!("{p}-{n}-{i}")).collect();
                    enqueue(&store, &ids.iter().map(String::as_str).collect::<Vec<_>>()).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for p in producers {
        p.await.expect("producer");
    }
    let all_done = eventually(120, || async { count(&store.inner, JobStatus::Done).await == JOBS as i64 }).await;
    drop((stop_a, stop_b));
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    let errors = store.errors();
    assert!(errors.is_empty(), "{} store calls failed, first: {:?}", errors.len(), errors.iter().take(3).collect::<Vec<_>>());
    assert!(all_done, "{:?}", store.inner.job_counts().await);
    assert_eq!((a.done + b.done, a.retried + b.retried, a.unrecorded + b.unrecorded), (JOBS as u64, 0, 0));
    assert_eq!(flow.started(), JOBS, "no job ran twice");
    assert_eq!(store.calls("add_audit"), (JOBS * 8) as u64);
}
