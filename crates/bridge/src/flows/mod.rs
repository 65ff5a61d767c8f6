//! Flows and the runner steps they share.
//!
//! A flow says only what is particular to it ([`Flow`]): how to read its source record,
//! whether a record should be synced, how a record maps to the target payload, how to
//! find an existing target by natural key, and how to write. Everything that keeps the
//! invariants is here, once, in [`run_job`]: the source is read fresh (the event is only
//! a hint), a payload whose hash equals the one last written is skipped (echo
//! suppression), the ID link is looked up before the natural key, every write is
//! audited, and the link, the audit and the job's completion are stored in one
//! transaction. A write whose outcome is unknown is retried later, and the next attempt
//! finds the target by natural key before writing again, so nothing is duplicated.

pub mod catalog_sync;

use std::sync::Arc;

use futures_util::{FutureExt, future::BoxFuture};
use serde::Serialize;
use serde_json::{Value, json};
use zoho::Client;

use crate::{
    hash::content_hash,
    store::{AuditEntry, Failure, Finish, Job, JobResult, JobStatus, Link, Store, StoreResult},
    worker::Backoff,
};

/// Every flow this build has, for the worker.
pub fn all() -> Vec<Arc<dyn Flow>> {
    vec![Arc::new(catalog_sync::CatalogSync)]
}

/// The names of [`all`], for checking the config's routes.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|f| f.name()).collect()
}

/// What a flow step can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Zoho answered with an error, the network failed, or the outcome of a write is
    /// unknown.
    #[error(transparent)]
    Zoho(#[from] zoho::Error),
    /// The source data cannot be synced as it is (a person must fix it): permanent.
    #[error("{0}")]
    Data(String),
    /// The store failed (a write could not be journaled): nothing was sent; retryable.
    #[error("{0}")]
    Store(String),
}

/// The future a flow step returns.
pub type FlowFuture<'a, T> = BoxFuture<'a, Result<T, FlowError>>;

/// Whether a source record should be synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sync it.
    Sync,
    /// Leave it alone, for this reason (shown to people).
    Skip(String),
}

/// A target record found by natural key.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    /// Its id in the target system.
    pub id: String,
    /// The record as the target system returned it.
    pub record: Value,
}

/// Stores a write's audit entry before the write is sent ([`Store::add_audit`]). Every
/// store is one; the runner hands its store to the [`WriteLog`].
pub trait Journal: Send + Sync {
    /// Stores `entry`; returns its id.
    fn journal<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<i64>>;
}

impl<S: Store> Journal for S {
    fn journal<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<i64>> {
        self.add_audit(entry).boxed()
    }
}

/// A write announced with [`WriteLog::before`], to answer with [`WriteLog::after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteId(usize);

/// The writes of one run, in order, as audit entries. A flow calls [`WriteLog::before`]
/// before every call that changes something in Zoho (the entry is stored at once, so a
/// write Zoho commits is audited even if the worker dies before the job's result is
/// stored) and [`WriteLog::after`] with Zoho's answer (stored with the job's result).
pub struct WriteLog {
    journal: Option<Arc<dyn Journal>>,
    base: AuditEntry,
    entries: Vec<AuditEntry>,
}

impl std::fmt::Debug for WriteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteLog").field("journaled", &self.journal.is_some()).field("entries", &self.entries).finish()
    }
}

/// What an audit entry says until Zoho's answer is stored.
pub fn outcome_pending() -> Value {
    json!({"outcome": "unknown", "note": "journaled before the call; no answer was stored (the worker stopped or the run ended first)"})
}

impl WriteLog {
    /// A log for `job` run by `settings.worker`, journaling to `journal`.
    pub fn new(journal: Arc<dyn Journal>, settings: &RunSettings, job: &Job) -> WriteLog {
        WriteLog { journal: Some(journal), ..WriteLog::unjournaled(settings, job) }
    }

    /// A log that keeps entries in memory only (for tests of a flow's writes).
    pub fn unjournaled(settings: &RunSettings, job: &Job) -> WriteLog {
        let base = AuditEntry {
            id: 0,
            at_ms: 0,
            actor: settings.worker.clone(),
            job_id: Some(job.id),
            event_id: Some(job.event_id),
            connection: settings.connection.clone(),
            system: String::new(),
            module: String::new(),
            record_id: None,
            action: String::new(),
            request: Value::Null,
            response: Value::Null,
            ok: false,
        };
        WriteLog { journal: None, base, entries: Vec::new() }
    }

    /// Announces the write `action` on `system`/`module` (`record_id` when it names an
    /// existing record) with the values `request`, and journals it. A store failure fails
    /// the run before anything is sent (retryable).
    pub async fn before(
        &mut self,
        system: &str,
        module: &str,
        action: &str,
        record_id: Option<&str>,
        request: &Value,
    ) -> Result<WriteId, FlowError> {
        let mut entry = AuditEntry {
            at_ms: now_ms(),
            system: system.into(),
            module: module.into(),
            record_id: record_id.map(str::to_string),
            action: action.into(),
            request: request.clone(),
            response: outcome_pending(),
            ..self.base.clone()
        };
        if let Some(journal) = &self.journal {
            entry.id = journal.journal(&entry).await.map_err(|e| FlowError::Store(format!("journaling the {action} of {system} {module}: {e}")))?;
        }
        self.entries.push(entry);
        Ok(WriteId(self.entries.len() - 1))
    }

    /// Records Zoho's answer to `write`: the record written (known after a create) and
    /// the answer (the record, or the error's status, code and message).
    pub fn after<T: Serialize>(&mut self, write: WriteId, record_id: Option<&str>, result: &Result<T, zoho::Error>) {
        let Some(entry) = self.entries.get_mut(write.0) else { return };
        let (response, ok) = match result {
            Ok(answer) => (serde_json::to_value(answer).unwrap_or(Value::Null), true),
            Err(e) => (error_json(e), false),
        };
        if let Some(id) = record_id {
            entry.record_id = Some(id.to_string());
        }
        entry.response = response;
        entry.ok = ok;
    }

    /// The entries so far, in order.
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    /// The entries, for the job's result.
    pub fn into_entries(self) -> Vec<AuditEntry> {
        self.entries
    }
}

/// A flow: one kind of source record synced to one kind of target.
pub trait Flow: Send + Sync + 'static {
    /// The name jobs carry (`catalog_sync`).
    fn name(&self) -> &'static str;
    /// Source module (`Products`); links are keyed by it.
    fn source_module(&self) -> &'static str;
    /// Target entity (`items`); links name it.
    fn target_entity(&self) -> &'static str;
    /// Reads the source record fresh; `None` when it no longer exists.
    fn load<'a>(&'a self, client: &'a Client, source_id: &'a str) -> FlowFuture<'a, Option<Value>>;
    /// Whether the record should be synced, else why not.
    fn filter(&self, source: &Value) -> Decision;
    /// The target payload (a JSON object) for the source record.
    fn map(&self, source_id: &str, source: &Value) -> Result<Value, FlowError>;
    /// The existing target with this payload's natural key, if any.
    fn find<'a>(&'a self, client: &'a Client, source_id: &'a str, payload: &'a Value) -> FlowFuture<'a, Option<Existing>>;
    /// What to do with the target when the source record is gone (deleted in CRM) and
    /// was synced before (`link`): e.g. mark the target inactive, recording every write
    /// in `log`. Returns what was done, for people, or `None` to leave the target alone
    /// (the default: the job is skipped with the reason).
    fn gone<'a>(&'a self, client: &'a Client, link: &'a Link, log: &'a mut WriteLog) -> FlowFuture<'a, Option<String>> {
        let _ = (client, link, log);
        async { Ok(None) }.boxed()
    }
    /// Creates the target (`existing` is `None`) or updates it; records every write in
    /// `log`; returns the target's id.
    fn write<'a>(
        &'a self,
        client: &'a Client,
        existing: Option<&'a Existing>,
        payload: &'a Value,
        log: &'a mut WriteLog,
    ) -> FlowFuture<'a, String>;
}

/// What the runner needs besides the job: who runs it and how failures are retried.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The worker id (audit actor, lease owner).
    pub worker: String,
    /// The connection the client belongs to (links and audit are keyed by it).
    pub connection: String,
    /// Attempts before a retryable failure is dead-lettered.
    pub max_attempts: i32,
    /// Delay before the next attempt.
    pub backoff: Backoff,
}

/// The source record id a job is about: `payload.record_id`, else the last `:` part of
/// its key (`crm:Products:123`).
pub fn job_record_id(job: &Job) -> Option<String> {
    if let Some(id) = job.payload.get("record_id").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    job.key.rsplit(':').next().filter(|s| !s.is_empty() && job.key.contains(':')).map(str::to_string)
}

/// The current time, epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// How one run ended, before it is stored.
enum Ending {
    Finish(Finish),
    Fail(Failure),
}

/// Runs one claimed job through `flow` and stores the result (finish or fail). Returns
/// the job's new status. A store error is returned as is; the job then stays leased and
/// is claimed again when its lease runs out, so it is never lost.
pub async fn run_job<S: Store>(store: &S, flow: &dyn Flow, client: &Client, settings: &RunSettings, job: &Job) -> StoreResult<JobStatus> {
    let result = execute(store, flow, client, settings, job).await;
    store.record_one(&settings.worker, job.id, result, now_ms()).await
}

/// Runs one claimed job through `flow` and returns its result without storing it (the
/// worker stores the results of many jobs in one transaction, [`Store::record`]). The
/// writes the run made are in the result's audit entries, done or failed.
pub async fn execute<S: Store>(store: &S, flow: &dyn Flow, client: &Client, settings: &RunSettings, job: &Job) -> JobResult {
    let mut log = WriteLog::new(Arc::new(store.clone()), settings, job);
    let ending = match steps(store, flow, client, settings, job, &mut log).await {
        Ok(ending) => ending,
        Err(e) => Ending::Fail(failure(&e)),
    };
    let now = now_ms();
    match ending {
        Ending::Finish(Finish::Done { outcome, link, .. }) => JobResult::Finish(Finish::Done { outcome, link, audit: log.into_entries() }),
        Ending::Finish(skipped) => JobResult::Finish(skipped),
        Ending::Fail(mut failure) => {
            failure.audit = log.into_entries();
            if failure.retryable {
                tracing::warn!(job = job.id, attempt = job.attempts, error = %failure.error, "job failed; will retry");
            } else {
                tracing::warn!(job = job.id, error = %failure.error, "job refused; dead-lettered");
            }
            let retry_at_ms = now + settings.backoff.delay(job.attempts).as_millis() as i64;
            JobResult::Fail { failure, retry_at_ms, max_attempts: settings.max_attempts }
        }
    }
}

/// The steps proper. Store errors while reading links are retryable failures.
async fn steps<S: Store>(
    store: &S,
    flow: &dyn Flow,
    client: &Client,
    settings: &RunSettings,
    job: &Job,
    log: &mut WriteLog,
) -> Result<Ending, FlowError> {
    let Some(source_id) = job_record_id(job) else {
        return Ok(Ending::Fail(Failure {
            error: format!("job {} names no source record (no payload.record_id, key {:?})", job.id, job.key),
            retryable: false,
            audit: Vec::new(),
        }));
    };
    let Some(source) = flow.load(client, &source_id).await? else {
        return source_gone(store, flow, client, settings, &source_id, log).await;
    };
    if let Decision::Skip(reason) = flow.filter(&source) {
        return Ok(skip(reason));
    }
    let payload = flow.map(&source_id, &source)?;
    let hash = content_hash(&payload);
    let link = match store.link_by_crm(&settings.connection, flow.source_module(), &source_id).await {
        Ok(link) => link,
        Err(e) => return Ok(Ending::Fail(Failure { error: format!("reading the link: {e}"), retryable: true, audit: Vec::new() })),
    };
    if let Some(link) = &link
        && link.books_hash.as_deref() == Some(hash.as_str())
    {
        return Ok(skip(format!(
            "unchanged: the mapped {} equals what was last written to Books {} {} (hash equal)",
            flow.target_entity(),
            flow.target_entity(),
            link.books_id
        )));
    }
    // The ID link first, then the natural key.
    let existing = match &link {
        Some(link) => Some(Existing { id: link.books_id.clone(), record: Value::Null }),
        None => flow.find(client, &source_id, &payload).await?,
    };
    let result = flow.write(client, existing.as_ref(), &payload, log).await;
    let target_id = match result {
        Ok(id) => id,
        // The linked target was deleted in Books: find it by natural key or create it.
        Err(FlowError::Zoho(e)) if link.is_some() && e.status() == Some(404) => {
            tracing::info!(job = job.id, "linked {} is gone; matching by natural key", flow.target_entity());
            let existing = flow.find(client, &source_id, &payload).await?;
            flow.write(client, existing.as_ref(), &payload, log).await?
        }
        Err(e) => return Err(e),
    };
    let action = match (&link, &existing) {
        (Some(_), _) => "updated (ID link)",
        (None, Some(_)) => "updated (matched by natural key)",
        (None, None) => "created",
    };
    Ok(Ending::Finish(Finish::Done {
        outcome: format!("{action} Books {} {target_id}", flow.target_entity()),
        link: Some(Link {
            connection: settings.connection.clone(),
            crm_module: flow.source_module().into(),
            crm_id: source_id,
            books_entity: flow.target_entity().into(),
            books_id: target_id,
            books_hash: Some(hash),
            crm_hash: link.and_then(|l| l.crm_hash),
            updated_ms: now_ms(),
        }),
        audit: Vec::new(),
    }))
}

/// The source record no longer exists: if it was synced, the flow decides what becomes
/// of the target ([`Flow::gone`]); the link then carries a hash no mapping can have, so
/// that a record restored from CRM's recycle bin is written again, not skipped as
/// unchanged.
async fn source_gone<S: Store>(
    store: &S,
    flow: &dyn Flow,
    client: &Client,
    settings: &RunSettings,
    source_id: &str,
    log: &mut WriteLog,
) -> Result<Ending, FlowError> {
    let what = format!("{} {source_id} no longer exists in CRM", flow.source_module());
    let link = match store.link_by_crm(&settings.connection, flow.source_module(), source_id).await {
        Ok(link) => link,
        Err(e) => return Ok(Ending::Fail(Failure { error: format!("reading the link: {e}"), retryable: true, audit: Vec::new() })),
    };
    let Some(link) = link else {
        return Ok(skip(format!("{what}; it was never synced")));
    };
    match flow.gone(client, &link, log).await? {
        Some(done) => Ok(Ending::Finish(Finish::Done {
            outcome: format!("{what}: {done}"),
            link: Some(Link { books_hash: Some(content_hash(&json!({"source_gone": source_id}))), updated_ms: now_ms(), ..link }),
            audit: Vec::new(),
        })),
        None => Ok(skip(format!("{what}; Books {} {} left as it is", flow.target_entity(), link.books_id))),
    }
}

fn skip(reason: String) -> Ending {
    Ending::Finish(Finish::Skipped { reason })
}

/// How an error becomes a failed attempt: unknown outcomes and transient errors are
/// retried; Zoho's refusals and bad data are dead-lettered with Zoho's code and message.
fn failure(e: &FlowError) -> Failure {
    let (error, retryable) = match e {
        FlowError::Data(msg) => (format!("cannot sync: {msg}"), false),
        FlowError::Store(msg) => (format!("store failed: {msg}"), true),
        FlowError::Zoho(z) if z.is_outcome_unknown() => (format!("{z} (the next attempt matches by natural key first)"), true),
        FlowError::Zoho(z @ zoho::Error::Api(api)) => (format!("Zoho refused: {api}"), z.is_retryable()),
        // A refused token, an exhausted budget or a network failure pass with time.
        FlowError::Zoho(z @ (zoho::Error::OAuth { .. } | zoho::Error::BudgetExhausted { .. })) => (z.to_string(), true),
        FlowError::Zoho(z) => (z.to_string(), z.is_retryable()),
    };
    Failure { error, retryable, audit: Vec::new() }
}

/// An error as the audit log keeps it: Zoho's status, code and message.
pub fn error_json(e: &zoho::Error) -> Value {
    match e {
        zoho::Error::Api(api) => json!({
            "status": api.status,
            "code": api.code.to_string(),
            "message": api.message,
            "details": api.details,
        }),
        e if e.is_outcome_unknown() => json!({"outcome": "unknown", "error": e.to_string()}),
        e => json!({"error": e.to_string()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobStatus;

    fn job(key: &str, payload: Value) -> Job {
        Job {
            id: 1,
            event_id: 1,
            flow: "catalog_sync".into(),
            key: key.into(),
            payload,
            status: JobStatus::Running,
            attempts: 1,
            run_after_ms: 0,
            lease_owner: None,
            lease_until_ms: None,
            last_error: None,
            outcome: None,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn record_id_from_payload_then_key() {
        assert_eq!(job_record_id(&job("crm:Products:9", json!({"record_id": "42"}))).as_deref(), Some("42"));
        assert_eq!(job_record_id(&job("crm:Products:9", json!({}))).as_deref(), Some("9"));
        assert_eq!(job_record_id(&job("nothing", json!({}))), None);
        assert_eq!(job_record_id(&job("crm:Products:", json!({}))), None);
    }

    #[test]
    fn refusals_are_permanent_and_unknown_outcomes_retry() {
        let unknown = FlowError::Zoho(zoho::Error::OutcomeUnknown { method: "POST".into(), path: "/books/v3/items".into(), message: "dropped".into() });
        assert!(failure(&unknown).retryable);
        let refused = FlowError::Zoho(zoho::Error::from(zoho::ApiError {
            api: zoho::Api::Books,
            status: 400,
            code: zoho::ZohoCode::Books(1001),
            message: "An item with the SKU \"X\" already exists.".into(),
            details: Value::Null,
            retry_after: None,
        }));
        let f = failure(&refused);
        assert!(!f.retryable);
        assert!(f.error.contains("1001") && f.error.contains("already exists"), "{}", f.error);
        assert!(!failure(&FlowError::Data("no name".into())).retryable);
    }
}
