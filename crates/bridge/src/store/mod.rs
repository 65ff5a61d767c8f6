//! The store: everything the engine must not lose, behind one trait.
//!
//! Two back ends implement [`Store`]: SQLite (the default: one file, WAL) and PostgreSQL
//! (several workers sharing one database; jobs are claimed with `FOR UPDATE SKIP
//! LOCKED`). The same test suite runs against both. Words follow Singer/Airbyte: an
//! **event** is a change seen by a trigger and kept in the **inbox**; a **job** is the
//! work a flow does for one event; a **link** ties a CRM record to a Books record in a
//! named relation; a **snapshot** is what a flow last saw of a record; a
//! **cursor** (bookmark) is how far a poller has read one stream.
//!
//! Time is epoch milliseconds (`i64`) everywhere; money never passes through here as a
//! float (payloads are JSON text, decimals inside them stay strings or exact numbers).

use std::future::Future;

mod activity;
mod agent_tokens;
mod any;
mod approval;
mod budget_share;
mod convert;
mod inbox;
mod matching;
mod migrations;
mod postgres;
mod redact;
mod results;
mod rows;
mod shared;
mod sqlite;
mod tokens;
mod wake;

pub use activity::{Activity, Run};
pub use agent_tokens::{AgentToken, AgentTokens};
pub use any::AnyStore;
pub use approval::{Approval, ApprovalStatus, Approvals};
pub use budget_share::{BudgetHolder, BudgetShares, HeldWindow};
pub use matching::{Candidate, Directory, DirectoryEntry, Key, NewReview, Review, ReviewDecision, ReviewKind, ReviewStatus, Reviews};
pub use postgres::PgStore;
pub use redact::{redact_message, redact_url};
pub use sqlite::{DEFAULT_SQLITE_FILE, SqliteOptions, SqliteStore};
pub use tokens::StoreTokenCache;
pub use wake::{JobSignal, JobWatch};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::triggers::System;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A CRM Notification API callback.
    CrmNotification,
    /// A CRM workflow-rule webhook.
    CrmWebhook,
    /// A Books workflow webhook.
    BooksWebhook,
    /// The poller (safety net for missed webhooks).
    Poller,
    /// A person or an agent asked for it (replay, MCP).
    Manual,
}

impl Source {
    /// Its name as the store writes it (`crm_webhook`, `poller`).
    pub fn as_str(self) -> &'static str {
        convert::source_str(self)
    }

    /// In plain words, for people (`CRM webhook`, `asked for by a person or an agent`).
    pub fn label(self) -> &'static str {
        match self {
            Source::CrmNotification => "CRM notification",
            Source::CrmWebhook => "CRM webhook",
            Source::BooksWebhook => "Books webhook",
            Source::Poller => "poller",
            Source::Manual => "asked for by a person or an agent",
        }
    }
}

/// A change a trigger saw, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Where it came from.
    pub source: Source,
    /// The connection (one Zoho org pair) it belongs to.
    pub connection: String,
    /// `crm` or `books`.
    pub system: String,
    /// CRM module (`Products`) or Books entity (`invoices`).
    pub module: String,
    /// The record's id in that system.
    pub record_id: String,
    /// The record's modified time as the source reported it (epoch ms), if known.
    pub modified_ms: Option<i64>,
    /// The raw body (a hint; flows read the record fresh).
    pub payload: Value,
    /// Uniquely identifies this change: a second delivery with the same key is a duplicate
    /// and is absorbed (e.g. `crm:Products:123:<modified_ms>`).
    pub dedup_key: String,
}

/// An event as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Id.
    pub id: i64,
    /// Received, epoch ms.
    pub received_ms: i64,
    /// The event as the trigger saw it.
    #[serde(flatten)]
    pub event: NewEvent,
}

/// What storing an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new event, with its id; its jobs were enqueued in the same transaction.
    New(i64),
    /// An event with the same dedup key was already in the inbox; nothing was enqueued.
    Duplicate,
}

/// Work to enqueue for an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// The flow that will run it (`catalog_sync`).
    pub flow: String,
    /// Ordering key: two jobs with the same key never run at once, and run in enqueue
    /// order (e.g. `crm:Products:123`).
    pub key: String,
    /// The flow's input: a [`RecordRef`] as JSON for jobs about one record.
    pub payload: Value,
}

impl NewEvent {
    /// A change to `record` as `source` saw it, with no modified time: `payload` is its
    /// body (a hint) and `dedup_key` names the change (a second one with the same key is
    /// absorbed).
    pub fn for_record(source: Source, connection: &str, record: &RecordRef, payload: Value, dedup_key: impl Into<String>) -> NewEvent {
        NewEvent {
            source,
            connection: connection.into(),
            system: record.system.as_str().into(),
            module: record.module.clone(),
            record_id: record.id.clone(),
            modified_ms: None,
            payload,
            dedup_key: dedup_key.into(),
        }
    }
}

impl NewJob {
    /// The job that runs `flow` for `record`, keyed by the record (one at a time per
    /// record, in order) and carrying it as its payload.
    pub fn for_record(flow: impl Into<String>, record: &RecordRef) -> NewJob {
        let payload = serde_json::to_value(record).unwrap_or(Value::Null);
        NewJob { flow: flow.into(), key: record.job_key(), payload }
    }
}

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting (possibly until `run_after_ms`).
    Queued,
    /// Claimed by a worker whose lease has not run out.
    Running,
    /// Done.
    Done,
    /// Nothing to do, with a reason (e.g. echo of our own write).
    Skipped,
    /// Failed for good; waits in the dead letters for a person.
    Dead,
}

impl JobStatus {
    /// Its name as the store and the admin commands write it (`done`, `dead`).
    pub fn as_str(self) -> &'static str {
        convert::status_str(self)
    }
}

/// Jobs by status as people read them: `done 1070, dead 2` (`none` when empty).
pub fn job_counts_text(counts: &[(JobStatus, i64)]) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts.iter().map(|(status, n)| format!("{} {n}", status.as_str())).collect::<Vec<_>>().join(", ")
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// The event that caused it.
    pub event_id: i64,
    /// Flow name.
    pub flow: String,
    /// Ordering key.
    pub key: String,
    /// Extra input.
    pub payload: Value,
    /// Status.
    pub status: JobStatus,
    /// Attempts started so far (1 on the first run).
    pub attempts: i32,
    /// Not before this time.
    pub run_after_ms: i64,
    /// Worker holding the lease, while running.
    pub lease_owner: Option<String>,
    /// Lease end, while running.
    pub lease_until_ms: Option<i64>,
    /// Last error (for retries and dead letters), with Zoho's message when Zoho refused.
    pub last_error: Option<String>,
    /// Why it was skipped, or what it did.
    pub outcome: Option<String>,
    /// Created, epoch ms.
    pub created_ms: i64,
    /// Last change, epoch ms.
    pub updated_ms: i64,
}

/// A record in CRM or in Books: what a job is about. Jobs carry it as their payload
/// (serde), so a flow reads it typed instead of parsing it back out of the job key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    /// Which system the record lives in.
    pub system: System,
    /// CRM module (`Products`) or Books entity (`items`).
    pub module: String,
    /// The record's id in that system.
    pub id: String,
}

impl RecordRef {
    /// A CRM record.
    pub fn crm(module: impl Into<String>, id: impl Into<String>) -> RecordRef {
        RecordRef { system: System::Crm, module: module.into(), id: id.into() }
    }

    /// A Books record.
    pub fn books(entity: impl Into<String>, id: impl Into<String>) -> RecordRef {
        RecordRef { system: System::Books, module: entity.into(), id: id.into() }
    }

    /// The ordering key of its jobs, `crm:Products:123`: jobs about one record run one at
    /// a time, in order.
    pub fn job_key(&self) -> String {
        format!("{}:{}:{}", self.system.as_str(), self.module, self.id)
    }
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.system.label(), self.module, self.id)
    }
}

impl Job {
    /// The record the job is about, from its payload.
    pub fn record(&self) -> Result<RecordRef, String> {
        serde_json::from_value(self.payload.clone()).map_err(|e| format!("job {} carries no record (payload {}): {e}", self.id, self.payload))
    }
}

/// A CRM record tied to a Books record in one **relation**: a named, directed pair such
/// as `product_item` (CRM Product ⇄ Books item) or `deal_invoice`. A record can take part
/// in many relations; within one relation each side is linked at most once. The link
/// keeps the content hash last written to each side, which is what suppresses echoes in
/// both directions (a change whose mapped hash equals what we wrote is our own echo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Connection.
    pub connection: String,
    /// The relation's name (`product_item`); see `flows::relations`.
    pub relation: String,
    /// CRM record id.
    pub crm_id: String,
    /// Books record id.
    pub books_id: String,
    /// Hash of what we last wrote to CRM.
    pub crm_hash: Option<String>,
    /// Hash of what we last wrote to Books.
    pub books_hash: Option<String>,
    /// Last change, epoch ms.
    pub updated_ms: i64,
}

/// What a flow saw of a record's trigger fields the last time it ran for it, so that it
/// can decide on transitions ("Stage *became* Closed Won", "Amount was *lowered*"). Kept
/// per (connection, flow, record), stored with the job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Connection.
    pub connection: String,
    /// The flow that saw it.
    pub flow: String,
    /// The record.
    pub record: RecordRef,
    /// The trigger fields as seen (a JSON object).
    pub fields: Value,
}

/// How far a poller has read one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Connection.
    pub connection: String,
    /// Stream name (`crm:Products`, `books:invoices`).
    pub stream: String,
    /// The modified time read up to (epoch ms); the next read starts at it (`>=`).
    pub position_ms: i64,
    /// Last change, epoch ms.
    pub updated_ms: i64,
}

/// One write to Zoho, kept forever: who/what/when, the event, the values, Zoho's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Id (0 before it is stored).
    pub id: i64,
    /// When, epoch ms.
    pub at_ms: i64,
    /// Who acted: a worker id, a person, an agent.
    pub actor: String,
    /// The job, if a job did it.
    pub job_id: Option<i64>,
    /// The triggering event, if any.
    pub event_id: Option<i64>,
    /// Connection.
    pub connection: String,
    /// `crm` or `books`.
    pub system: String,
    /// Module / entity written.
    pub module: String,
    /// Record id written (after the write, when it was a create).
    pub record_id: Option<String>,
    /// `create`, `update`, `delete`, …
    pub action: String,
    /// The values sent.
    pub request: Value,
    /// Zoho's answer (status, code, message, body).
    pub response: Value,
    /// Whether Zoho accepted it.
    pub ok: bool,
}

/// How a finished job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Done; `link` (if any) and `audit` are written in the same transaction.
    Done {
        /// What it did, for people.
        outcome: String,
        /// The links the run established or refreshed (created or updated).
        links: Vec<Link>,
        /// What the flow saw of the record's trigger fields, to keep.
        snapshot: Option<Snapshot>,
        /// Writes it made.
        audit: Vec<AuditEntry>,
    },
    /// Nothing to do.
    Skipped {
        /// Why (for people).
        reason: String,
        /// What the flow saw of the record's trigger fields, to keep (a skipped record
        /// was still seen: the next run compares against it).
        snapshot: Option<Snapshot>,
    },
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The error, including Zoho's code and message when Zoho refused.
    pub error: String,
    /// Retry (transient), or dead-letter at once (permanent).
    pub retryable: bool,
    /// Writes that happened before the failure (still audited).
    pub audit: Vec<AuditEntry>,
}

/// A job's result as a worker hands it to the store ([`Store::record`]).
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    /// Finished: done (with its link and audit) or skipped.
    Finish(Finish),
    /// A failed attempt: queued again at `retry_at_ms` when the failure is retryable and
    /// the job has had fewer than `max_attempts` attempts, else dead-lettered.
    Fail {
        /// What failed, and the writes made before it.
        failure: Failure,
        /// When to try again.
        retry_at_ms: i64,
        /// Attempts before a retryable failure is dead-lettered.
        max_attempts: i32,
    },
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(String),
    /// The data breaks a constraint (unique, check, not null, foreign key): trying again
    /// with the same data fails the same way.
    #[error("refused by a database constraint: {0}")]
    Constraint(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The job is not held by this worker any more (its lease ran out and someone else
    /// may run it): the result must be dropped.
    #[error("job {0} is no longer leased to this worker")]
    LeaseLost(i64),
    /// No such row.
    #[error("{0} not found")]
    NotFound(String),
    /// The request makes no sense for the data (a review linked to an id that is not one
    /// of its candidates); the message says why.
    #[error("{0}")]
    Refused(String),
    /// A stored value cannot be read back (a column holding what no version wrote).
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the engine keeps. Both back ends implement it; the same tests run on both.
pub trait Store: Directory + Reviews + Clone + Send + Sync + 'static {
    /// Stores an event in the inbox and enqueues `jobs` in one transaction; a duplicate
    /// dedup key stores and enqueues nothing.
    fn add_event(&self, event: &NewEvent, jobs: &[NewJob], now_ms: i64) -> impl Future<Output = StoreResult<Inserted>> + Send;

    /// Like [`Store::add_event`] for several events in one transaction (a notification
    /// naming several records): all are stored, or none.
    fn add_events(&self, events: &[(NewEvent, Vec<NewJob>)], now_ms: i64) -> impl Future<Output = StoreResult<Vec<Inserted>>> + Send;

    /// Like [`Store::add_event`] for a batch read by a poller, and moves the stream's
    /// cursor to `cursor` in the same transaction (the cursor only moves once the events
    /// are durable).
    fn add_events_and_move_cursor(
        &self,
        events: &[(NewEvent, Vec<NewJob>)],
        cursor: &Cursor,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<Inserted>>> + Send;

    /// An inbox event by id.
    fn event(&self, event_id: i64) -> impl Future<Output = StoreResult<Option<StoredEvent>>> + Send;

    /// The inbox event stored under `dedup_key`, if any (how a caller that queued an event
    /// under a key of its own, such as `approval:7`, finds it again).
    fn event_by_key(&self, dedup_key: &str) -> impl Future<Output = StoreResult<Option<StoredEvent>>> + Send;

    /// The newest `limit` inbox events about one record, newest first.
    fn events_for_record(&self, system: &str, module: &str, record_id: &str, limit: u32) -> impl Future<Output = StoreResult<Vec<StoredEvent>>> + Send;

    /// Claims up to `limit` runnable jobs for `worker` with a lease until
    /// `now_ms + lease_ms`. A job is runnable when it is queued and due, or running with
    /// an expired lease (its worker died), and no earlier job with the same key is
    /// unfinished. Claiming increments `attempts`.
    fn claim(&self, worker: &str, now_ms: i64, lease_ms: i64, limit: u32) -> impl Future<Output = StoreResult<Vec<Job>>> + Send;

    /// Extends a held lease; `LeaseLost` if it is not held by `worker` any more.
    fn extend_lease(&self, job_id: i64, worker: &str, until_ms: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// A worker's heartbeat: extends to `until_ms`, in one statement, the leases `worker`
    /// still holds among `job_ids` (running, owned by it), and returns those ids. A job
    /// missing from the answer was taken over after its lease ran out (or has ended): its
    /// result will be refused with `LeaseLost`.
    fn extend_leases(&self, worker: &str, job_ids: &[i64], until_ms: i64) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// A watch that fires when jobs may have become runnable: after a commit of this store
    /// (any clone) that enqueued jobs or stored results, and on PostgreSQL also after
    /// another process enqueued jobs. Workers wait on it as well as polling (see
    /// [`JobSignal`] for why polling stays).
    fn job_watch(&self) -> JobWatch;

    /// Stores the results of jobs held by `worker`, all in one transaction: each job's new
    /// status, the links of the done ones and the snapshots of the done and skipped ones;
    /// and the audit entries of every result, also
    /// of a job `worker` no longer holds (the writes happened). Answers per job, in the
    /// order given: its new status, `LeaseLost` when `worker` no longer holds it (only its
    /// audit is stored), `NotFound` when there is no such job. An
    /// outer error means nothing was stored; the jobs stay leased and are handed out
    /// again when their leases run out.
    fn record(&self, worker: &str, results: &[(i64, JobResult)], now_ms: i64) -> impl Future<Output = StoreResult<Vec<StoreResult<JobStatus>>>> + Send;

    /// [`Store::record`] for one job: its new status, or why its result was not stored.
    fn record_one(&self, worker: &str, job_id: i64, result: JobResult, now_ms: i64) -> impl Future<Output = StoreResult<JobStatus>> + Send {
        let results = [(job_id, result)];
        async move {
            let mut answers = self.record(worker, &results, now_ms).await?;
            answers.pop().unwrap_or_else(|| Err(StoreError::Database("the store answered nothing for one job".into())))
        }
    }

    /// Finishes a held job (done with link + audit in one transaction, or skipped).
    fn finish(&self, job_id: i64, worker: &str, finish: &Finish, now_ms: i64) -> impl Future<Output = StoreResult<()>> + Send {
        let result = JobResult::Finish(finish.clone());
        async move { self.record_one(worker, job_id, result, now_ms).await.map(|_| ()) }
    }

    /// Records a failed attempt: retried at `retry_at_ms` when retryable and
    /// `attempts < max_attempts`, else dead-lettered with the error.
    fn fail(
        &self,
        job_id: i64,
        worker: &str,
        failure: &Failure,
        retry_at_ms: i64,
        max_attempts: i32,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<JobStatus>> + Send {
        self.record_one(worker, job_id, JobResult::Fail { failure: failure.clone(), retry_at_ms, max_attempts }, now_ms)
    }

    /// A job by id.
    fn job(&self, job_id: i64) -> impl Future<Output = StoreResult<Option<Job>>> + Send;

    /// Jobs in a status, oldest first (dead letters: `JobStatus::Dead`).
    fn jobs_with_status(&self, status: JobStatus, limit: u32) -> impl Future<Output = StoreResult<Vec<Job>>> + Send;

    /// The jobs an event enqueued, oldest first.
    fn jobs_for_event(&self, event_id: i64) -> impl Future<Output = StoreResult<Vec<Job>>> + Send;

    /// The most recent jobs, newest first, in `status` and of `flow` when given (`None`:
    /// any): what `zoho-bridge jobs` lists, e.g. why recent jobs were skipped.
    fn recent_jobs(&self, status: Option<JobStatus>, flow: Option<&str>, limit: u32) -> impl Future<Output = StoreResult<Vec<Job>>> + Send;

    /// Counts of jobs per status (for metrics and tests).
    fn job_counts(&self) -> impl Future<Output = StoreResult<Vec<(JobStatus, i64)>>> + Send;

    /// Puts a dead job back in the queue (attempts reset), to run now.
    fn replay(&self, job_id: i64, now_ms: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// Drops a dead job for good (it becomes skipped, with who dropped it as the reason).
    fn drop_dead(&self, job_id: i64, reason: &str, now_ms: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// The link of CRM record `crm_id` in `relation`, if any.
    fn link_by_crm(&self, connection: &str, relation: &str, crm_id: &str) -> impl Future<Output = StoreResult<Option<Link>>> + Send;

    /// The link of Books record `books_id` in `relation`, if any.
    fn link_by_books(&self, connection: &str, relation: &str, books_id: &str) -> impl Future<Output = StoreResult<Option<Link>>> + Send;

    /// All links of a connection in `relation`, by CRM id (tests, reconciliation).
    fn links(&self, connection: &str, relation: &str) -> impl Future<Output = StoreResult<Vec<Link>>> + Send;

    /// The trigger fields `flow` last saw of `record` ([`Snapshot`]), if it ever ran for it.
    fn snapshot(&self, connection: &str, flow: &str, record: &RecordRef) -> impl Future<Output = StoreResult<Option<Value>>> + Send;

    /// A stream's cursor.
    fn cursor(&self, connection: &str, stream: &str) -> impl Future<Output = StoreResult<Option<Cursor>>> + Send;

    /// Journals a write before it is sent to Zoho and returns the entry's id: if the
    /// worker dies before the job's result is stored, the entry still says who sent what,
    /// when, for which event (its `response` says the outcome is unknown). The entry is
    /// completed with Zoho's answer when the result is stored ([`Store::record`] updates
    /// audit entries whose `id` is set instead of inserting them).
    fn add_audit(&self, entry: &AuditEntry) -> impl Future<Output = StoreResult<i64>> + Send;

    /// The sealed access token shared under `key` ([`zoho::TokenCache`]), if any.
    fn token(&self, key: &str) -> impl Future<Output = StoreResult<Option<zoho::SealedToken>>> + Send;

    /// Stores the sealed access token shared under `key`.
    fn save_token(&self, key: &str, token: &zoho::SealedToken, now_ms: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// Audit entries of one job's runs, oldest first.
    fn audit_for_job(&self, job_id: i64) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;

    /// Audit entries about one record, newest first.
    fn audit_for_record(&self, system: &str, module: &str, record_id: &str) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;

    /// The newest `limit` audit entries with this action (`totals_mismatch`: the
    /// revenue leaks `zoho-bridge leaks` lists), newest first.
    fn audit_by_action(&self, action: &str, limit: u32) -> impl Future<Output = StoreResult<Vec<AuditEntry>>> + Send;

    /// How many audit entries have this action.
    fn count_audit_action(&self, action: &str) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Deletes what is finished and older than `before_ms`: done and skipped jobs last
    /// updated before it, then inbox events received before it that no job refers to any
    /// more. Queued, running and dead jobs (and their events) stay, and so do the audit
    /// log, links and cursors. Runs in transactions of [`PRUNE_BATCH`] rows, so writers
    /// are held up only briefly. A delivery repeated after its event was pruned enqueues
    /// a job again, which the flow skips by the content hash of what it last wrote.
    fn prune(&self, before_ms: i64) -> impl Future<Output = StoreResult<Pruned>> + Send;
}

/// Rows [`Store::prune`] deletes per transaction.
pub const PRUNE_BATCH: i64 = 5_000;

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Done and skipped jobs.
    pub jobs: u64,
    /// Inbox events.
    pub events: u64,
}
