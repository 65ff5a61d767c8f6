//! What the worker and intake tests share: a store wrapper that counts calls, collects
//! errors, can hold `add_events` at a gate and can refuse chosen events ([`Probe`]); a
//! flow whose runs are counted, can be held at a gate, journal writes and fail their
//! first attempt ([`ProbeFlow`]); a client that is never called; and bounded waits.
//!
//! No test here asserts how long something took: each waits, with a generous bound, for
//! a condition that only the behaviour under test can make true (a worker polling once
//! an hour cannot find a job in ten seconds unless it was woken).

#![allow(dead_code)] // each test file uses part of it

#[path = "../common/mod.rs"]
mod common;
pub use common::{TempDir, eventually};

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bridge::{
    flows::{Context, Flow, FlowError, FlowFuture, Outcome, Write},
    store::{
        AuditEntry, Cursor, Inserted, Job, JobResult, JobStatus, JobWatch, Link, NewEvent, NewJob, Pruned, RecordRef, Source, SqliteOptions, SqliteStore,
        Store, StoreError, StoreResult, StoredEvent, System,
    },
};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use zoho::{BudgetConfig, BudgetRegistry, Client, Connection, Endpoints};

/// The name of [`ProbeFlow`].
pub const FLOW: &str = "probe";

/// A SQLite store in `dir` with `acquire_timeout` (short in tests: a stall fails fast).
pub async fn sqlite(dir: &TempDir, acquire_timeout: Duration) -> SqliteStore {
    let options = SqliteOptions { acquire_timeout, ..SqliteOptions::default() };
    SqliteStore::open_with_options(dir.0.join("store.db"), &options).await.expect("open SQLite store")
}

/// A client that is never called (the probe flow does not talk to Zoho).
pub fn idle_client() -> Client {
    let connection = Connection::new(Endpoints::custom("http://127.0.0.1:9", "http://127.0.0.1:9"), "id", "secret", "refresh", "org");
    Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client")
}

/// An event about CRM product `id`, and its probe job.
pub fn probe_event(id: &str) -> (NewEvent, Vec<NewJob>) {
    let record = RecordRef::crm("Products", id);
    let event = NewEvent {
        source: Source::CrmWebhook,
        connection: "default".into(),
        system: "crm".into(),
        module: "Products".into(),
        record_id: id.into(),
        modified_ms: None,
        payload: json!({"id": id}),
        dedup_key: format!("probe:{id}:{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed)),
    };
    (event, vec![NewJob::for_record(FLOW, &record)])
}

static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

/// Enqueues one probe job per id, each with its own event.
pub async fn enqueue<S: Store>(store: &S, ids: &[&str]) {
    let batch: Vec<_> = ids.iter().map(|id| probe_event(id)).collect();
    store.add_events(&batch, bridge::flows::now_ms()).await.expect("enqueue");
}

/// Jobs in `status`.
pub async fn count<S: Store>(store: &S, status: JobStatus) -> i64 {
    store.job_counts().await.expect("counts").into_iter().filter(|(s, _)| *s == status).map(|(_, n)| n).sum()
}

/// What a [`Probe`] saw.
#[derive(Default)]
pub struct ProbeState {
    calls: Mutex<HashMap<&'static str, u64>>,
    errors: Mutex<Vec<String>>,
    /// Held at `add_events` until a permit is added; `None`: no gate.
    gate: Mutex<Option<Arc<Semaphore>>>,
    /// Dedup keys of events whose `add_events` returned `Ok` (committed).
    committed: Mutex<HashSet<String>>,
    /// `add_events` fails for a batch containing an event about this record id.
    refuse: Mutex<Option<String>>,
}

/// A store that counts calls, keeps the errors its calls returned, and can hold or refuse
/// `add_events`.
#[derive(Clone)]
pub struct Probe<S> {
    /// The store wrapped.
    pub inner: S,
    /// What it saw.
    pub state: Arc<ProbeState>,
}

impl<S: Store> Probe<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Probe<S> {
        Probe { inner, state: Arc::new(ProbeState::default()) }
    }

    /// Calls of `method` so far.
    pub fn calls(&self, method: &str) -> u64 {
        self.state.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// The errors returned so far.
    pub fn errors(&self) -> Vec<String> {
        self.state.errors.lock().unwrap().clone()
    }

    /// Holds every `add_events` call until [`Probe::open_gate`].
    pub fn close_gate(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.state.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Lets every held and later `add_events` call through.
    pub fn open_gate(&self) {
        if let Some(gate) = self.state.gate.lock().unwrap().take() {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    /// Makes `add_events` fail for any batch with an event about `record_id`.
    pub fn refuse_record(&self, record_id: &str) {
        *self.state.refuse.lock().unwrap() = Some(record_id.to_string());
    }

    /// Whether an event with `dedup_key` was committed (its `add_events` returned `Ok`).
    pub fn committed(&self, dedup_key: &str) -> bool {
        self.state.committed.lock().unwrap().contains(dedup_key)
    }

    async fn track<T>(&self, method: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        *self.state.calls.lock().unwrap().entry(method).or_default() += 1;
        let result = call.await;
        if let Err(e) = &result {
            self.state.errors.lock().unwrap().push(format!("{method}: {e}"));
        }
        result
    }
}

impl<S: Store> bridge::store::Directory for Probe<S> {
    async fn put_directory(&self, connection: &str, entries: &[bridge::store::DirectoryEntry], now_ms: i64) -> StoreResult<()> {
        self.inner.put_directory(connection, entries, now_ms).await
    }

    async fn find_directory(
        &self,
        connection: &str,
        system: System,
        module: &str,
        key: bridge::store::Key<'_>,
    ) -> StoreResult<Vec<bridge::store::DirectoryEntry>> {
        self.inner.find_directory(connection, system, module, key).await
    }

    async fn remove_directory(&self, connection: &str, system: System, module: &str, record_id: &str) -> StoreResult<()> {
        self.inner.remove_directory(connection, system, module, record_id).await
    }

    async fn directory_count(&self, connection: &str, system: System, module: &str) -> StoreResult<i64> {
        self.inner.directory_count(connection, system, module).await
    }

    async fn set_email_keys(&self, connection: &str, system: System, module: &str, keys: &[(String, Option<String>)], now_ms: i64) -> StoreResult<()> {
        self.inner.set_email_keys(connection, system, module, keys, now_ms).await
    }

    async fn directory_page(&self, connection: &str, system: System, module: &str, after: &str, limit: u32) -> StoreResult<Vec<bridge::store::DirectoryEntry>> {
        self.inner.directory_page(connection, system, module, after, limit).await
    }

    async fn find_directory_any(
        &self,
        connection: &str,
        system: System,
        module: &str,
        keys: &[bridge::store::Key<'_>],
    ) -> StoreResult<Vec<bridge::store::DirectoryEntry>> {
        self.inner.find_directory_any(connection, system, module, keys).await
    }

    async fn analyze_directory(&self) -> StoreResult<()> {
        self.inner.analyze_directory().await
    }

    async fn links_among(&self, connection: &str, relation: &str, crm_ids: &[&str], books_ids: &[&str]) -> StoreResult<Vec<bridge::store::Link>> {
        self.inner.links_among(connection, relation, crm_ids, books_ids).await
    }
}

impl<S: Store> bridge::store::Reviews for Probe<S> {
    async fn open_review(&self, review: &bridge::store::NewReview, now_ms: i64) -> StoreResult<i64> {
        self.inner.open_review(review, now_ms).await
    }

    async fn review(&self, id: i64) -> StoreResult<Option<bridge::store::Review>> {
        self.inner.review(id).await
    }

    async fn reviews(&self, status: Option<bridge::store::ReviewStatus>, limit: u32) -> StoreResult<Vec<bridge::store::Review>> {
        self.inner.reviews(status, limit).await
    }

    async fn last_review(&self, connection: &str, flow: &str, record: &RecordRef) -> StoreResult<Option<bridge::store::Review>> {
        self.inner.last_review(connection, flow, record).await
    }

    async fn decide_review(
        &self,
        id: i64,
        decision: &bridge::store::ReviewDecision,
        by: &str,
        note: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bridge::store::Review> {
        self.inner.decide_review(id, decision, by, note, now_ms).await
    }
}

impl<S: Store> Store for Probe<S> {
    async fn add_event(&self, event: &NewEvent, jobs: &[NewJob], now_ms: i64) -> StoreResult<Inserted> {
        let batch = [(event.clone(), jobs.to_vec())];
        let mut inserted = self.add_events(&batch, now_ms).await?;
        Ok(inserted.pop().unwrap_or(Inserted::Duplicate))
    }

    async fn add_events(&self, events: &[(NewEvent, Vec<NewJob>)], now_ms: i64) -> StoreResult<Vec<Inserted>> {
        *self.state.calls.lock().unwrap().entry("add_events").or_default() += 1;
        let gate = self.state.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.acquire().await.expect("gate").forget();
        }
        let refused = self.state.refuse.lock().unwrap().clone();
        if let Some(id) = refused
            && events.iter().any(|(e, _)| e.record_id == id)
        {
            return Err(StoreError::Constraint(format!("refused by the probe: an event about {id}")));
        }
        let inserted = self.inner.add_events(events, now_ms).await;
        match &inserted {
            Ok(_) => self.state.committed.lock().unwrap().extend(events.iter().map(|(e, _)| e.dedup_key.clone())),
            Err(e) => self.state.errors.lock().unwrap().push(format!("add_events: {e}")),
        }
        inserted
    }

    async fn add_events_and_move_cursor(&self, events: &[(NewEvent, Vec<NewJob>)], cursor: &Cursor, now_ms: i64) -> StoreResult<Vec<Inserted>> {
        self.track("add_events_and_move_cursor", self.inner.add_events_and_move_cursor(events, cursor, now_ms)).await
    }

    async fn event(&self, event_id: i64) -> StoreResult<Option<StoredEvent>> {
        self.track("event", self.inner.event(event_id)).await
    }

    async fn event_by_key(&self, dedup_key: &str) -> StoreResult<Option<StoredEvent>> {
        self.track("event_by_key", self.inner.event_by_key(dedup_key)).await
    }

    async fn events_for_record(&self, system: &str, module: &str, record_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        self.track("events_for_record", self.inner.events_for_record(system, module, record_id, limit)).await
    }

    async fn claim(&self, worker: &str, now_ms: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<Job>> {
        self.track("claim", self.inner.claim(worker, now_ms, lease_ms, limit)).await
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, until_ms: i64) -> StoreResult<()> {
        self.track("extend_lease", self.inner.extend_lease(job_id, worker, until_ms)).await
    }

    async fn extend_leases(&self, worker: &str, job_ids: &[i64], until_ms: i64) -> StoreResult<Vec<i64>> {
        self.track("extend_leases", self.inner.extend_leases(worker, job_ids, until_ms)).await
    }

    fn job_watch(&self) -> JobWatch {
        self.inner.job_watch()
    }

    async fn record(&self, worker: &str, results: &[(i64, JobResult)], now_ms: i64) -> StoreResult<Vec<StoreResult<JobStatus>>> {
        let answers = self.track("record", self.inner.record(worker, results, now_ms)).await?;
        for answer in &answers {
            if let Err(e) = answer {
                self.state.errors.lock().unwrap().push(format!("record: {e}"));
            }
        }
        Ok(answers)
    }

    async fn job(&self, job_id: i64) -> StoreResult<Option<Job>> {
        self.track("job", self.inner.job(job_id)).await
    }

    async fn jobs_for_event(&self, event_id: i64) -> StoreResult<Vec<Job>> {
        self.track("jobs_for_event", self.inner.jobs_for_event(event_id)).await
    }

    async fn jobs_with_status(&self, status: JobStatus, limit: u32) -> StoreResult<Vec<Job>> {
        self.track("jobs_with_status", self.inner.jobs_with_status(status, limit)).await
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobStatus, i64)>> {
        self.track("job_counts", self.inner.job_counts()).await
    }

    async fn replay(&self, job_id: i64, now_ms: i64) -> StoreResult<()> {
        self.track("replay", self.inner.replay(job_id, now_ms)).await
    }

    async fn drop_dead(&self, job_id: i64, reason: &str, now_ms: i64) -> StoreResult<()> {
        self.track("drop_dead", self.inner.drop_dead(job_id, reason, now_ms)).await
    }

    async fn link_by_crm(&self, connection: &str, relation: &str, crm_id: &str) -> StoreResult<Option<Link>> {
        self.track("link_by_crm", self.inner.link_by_crm(connection, relation, crm_id)).await
    }

    async fn link_by_books(&self, connection: &str, relation: &str, books_id: &str) -> StoreResult<Option<Link>> {
        self.track("link_by_books", self.inner.link_by_books(connection, relation, books_id)).await
    }

    async fn links(&self, connection: &str, relation: &str) -> StoreResult<Vec<Link>> {
        self.track("links", self.inner.links(connection, relation)).await
    }

    async fn snapshot(&self, connection: &str, flow: &str, record: &RecordRef) -> StoreResult<Option<Value>> {
        self.track("snapshot", self.inner.snapshot(connection, flow, record)).await
    }

    async fn cursor(&self, connection: &str, stream: &str) -> StoreResult<Option<Cursor>> {
        self.track("cursor", self.inner.cursor(connection, stream)).await
    }

    async fn add_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        self.track("add_audit", self.inner.add_audit(entry)).await
    }

    async fn token(&self, key: &str) -> StoreResult<Option<zoho::SealedToken>> {
        self.track("token", self.inner.token(key)).await
    }

    async fn save_token(&self, key: &str, token: &zoho::SealedToken, now_ms: i64) -> StoreResult<()> {
        self.track("save_token", self.inner.save_token(key, token, now_ms)).await
    }

    async fn audit_for_job(&self, job_id: i64) -> StoreResult<Vec<AuditEntry>> {
        self.track("audit_for_job", self.inner.audit_for_job(job_id)).await
    }

    async fn audit_for_record(&self, system: &str, module: &str, record_id: &str) -> StoreResult<Vec<AuditEntry>> {
        self.track("audit_for_record", self.inner.audit_for_record(system, module, record_id)).await
    }

    async fn audit_by_action(&self, action: &str, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.track("audit_by_action", self.inner.audit_by_action(action, limit)).await
    }

    async fn count_audit_action(&self, action: &str) -> StoreResult<i64> {
        self.track("count_audit_action", self.inner.count_audit_action(action)).await
    }

    async fn prune(&self, before_ms: i64) -> StoreResult<Pruned> {
        self.track("prune", self.inner.prune(before_ms)).await
    }
}

/// A flow that does nothing in Zoho but is watched: its runs are counted per job, it can
/// be held at a gate, journal writes, and fail its first attempt.
#[derive(Default)]
pub struct ProbeFlow {
    /// Runs started: (job id, worker), in order.
    pub runs: Mutex<Vec<(i64, String)>>,
    /// When set, each run waits for a permit before it ends.
    pub gate: Option<Arc<Semaphore>>,
    /// Writes each run journals (through the store, as a real flow's writes are).
    pub journaled_writes: usize,
    /// The first attempt of each job fails (retryably).
    pub fail_first_attempt: bool,
    /// Each run takes at least this long, as a run waiting on Zoho does.
    pub zoho_time: Duration,
}

impl ProbeFlow {
    /// Runs started so far.
    pub fn started(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    /// (job id, worker) of every run started, in order.
    pub fn runs(&self) -> Vec<(i64, String)> {
        self.runs.lock().unwrap().clone()
    }
}

impl Flow for ProbeFlow {
    fn name(&self) -> &'static str {
        FLOW
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        Box::pin(async move {
            let job = ctx.job().clone();
            let worker = ctx.job().lease_owner.clone().unwrap_or_default();
            self.runs.lock().unwrap().push((job.id, worker));
            tokio::time::sleep(self.zoho_time).await;
            for n in 0..self.journaled_writes {
                let request = json!({"job": job.id, "write": n});
                let write = Write { system: System::Books, module: "items", action: "update", record_id: Some("1"), request: &request };
                let at = ctx.announce(write).await?;
                tokio::task::yield_now().await;
                ctx.answer(at, Some("1"), None, Ok::<&Value, &zoho::Error>(&json!({"ok": n})));
            }
            if self.fail_first_attempt && job.attempts == 1 {
                return Err(FlowError::Store("the first attempt fails, as asked".into()));
            }
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate").forget();
            }
            Ok(Outcome::Done("probed".into()))
        })
    }
}
