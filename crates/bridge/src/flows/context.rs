//! What a flow's `run` is given: the flow context.
//!
//! A flow reads and writes through its [`Context`] and nothing else, so the invariants
//! are kept in one place for every flow:
//! - **journaled writes**: [`Context::write`] stores the audit entry before the call is
//!   sent and completes it with Zoho's answer, so a write Zoho commits is audited even if
//!   the worker dies before the job's result is stored;
//! - **links by relation**: [`Context::link_by_crm`] / [`Context::link_by_books`] read
//!   them; [`Context::link`] records the links a run establishes, stored with the result;
//! - **snapshots**: [`Context::previous_snapshot`] is what this flow saw of the record's
//!   trigger fields last time (for transitions), [`Context::keep_snapshot`] what to keep;
//! - **one clock**: [`Context::now_ms`];
//! - **preview**: in a dry run ([`Context::dry_run`]) the first write is not sent: the run
//!   stops there and the preview says what it would have done.
//!
//! Everything a run established (links, snapshot, audit answers) is stored by the
//! runner in one transaction with the job's end.

use futures_util::{FutureExt, future::BoxFuture};
use serde::Serialize;
use serde_json::{Value, json};
use zoho::Client;

use super::{FlowError, RunSettings, relations::Relation};
use crate::matching::Party;
use crate::money::{Mismatch, TOTALS_MISMATCH};
use crate::store::{AuditEntry, DirectoryEntry, Job, Key, Link, NewReview, RecordRef, Review, ReviewKind, Snapshot, Store, StoreResult, StoredEvent, System};

/// What a flow needs of the store, as an object (flows are `dyn`): journaling writes and
/// reading links and snapshots. Every [`Store`] is one.
pub trait FlowStore: Send + Sync {
    /// Stores an audit entry before its write is sent ([`Store::add_audit`]); returns its id.
    fn journal<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<i64>>;
    /// [`Store::link_by_crm`].
    fn link_by_crm<'a>(&'a self, connection: &'a str, relation: &'a str, crm_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Link>>>;
    /// [`Store::link_by_books`].
    fn link_by_books<'a>(&'a self, connection: &'a str, relation: &'a str, books_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Link>>>;
    /// [`Store::snapshot`].
    fn snapshot<'a>(&'a self, connection: &'a str, flow: &'a str, record: &'a RecordRef) -> BoxFuture<'a, StoreResult<Option<Value>>>;
    /// [`Directory::put_directory`](crate::store::Directory::put_directory).
    fn put_directory<'a>(&'a self, connection: &'a str, entries: &'a [DirectoryEntry], now_ms: i64) -> BoxFuture<'a, StoreResult<()>>;
    /// [`Directory::find_directory`](crate::store::Directory::find_directory).
    fn find_directory<'a>(&'a self, connection: &'a str, system: System, module: &'a str, key: Key<'a>) -> BoxFuture<'a, StoreResult<Vec<DirectoryEntry>>>;
    /// [`Reviews::open_review`](crate::store::Reviews::open_review).
    fn open_review<'a>(&'a self, review: &'a NewReview, now_ms: i64) -> BoxFuture<'a, StoreResult<i64>>;
    /// [`Reviews::last_review`](crate::store::Reviews::last_review).
    fn last_review<'a>(&'a self, connection: &'a str, flow: &'a str, record: &'a RecordRef) -> BoxFuture<'a, StoreResult<Option<Review>>>;
    /// [`Store::event`].
    fn event(&self, event_id: i64) -> BoxFuture<'_, StoreResult<Option<StoredEvent>>>;
}

impl<S: Store> FlowStore for S {
    fn journal<'a>(&'a self, entry: &'a AuditEntry) -> BoxFuture<'a, StoreResult<i64>> {
        self.add_audit(entry).boxed()
    }

    fn link_by_crm<'a>(&'a self, connection: &'a str, relation: &'a str, crm_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Link>>> {
        Store::link_by_crm(self, connection, relation, crm_id).boxed()
    }

    fn link_by_books<'a>(&'a self, connection: &'a str, relation: &'a str, books_id: &'a str) -> BoxFuture<'a, StoreResult<Option<Link>>> {
        Store::link_by_books(self, connection, relation, books_id).boxed()
    }

    fn snapshot<'a>(&'a self, connection: &'a str, flow: &'a str, record: &'a RecordRef) -> BoxFuture<'a, StoreResult<Option<Value>>> {
        Store::snapshot(self, connection, flow, record).boxed()
    }

    fn put_directory<'a>(&'a self, connection: &'a str, entries: &'a [DirectoryEntry], now_ms: i64) -> BoxFuture<'a, StoreResult<()>> {
        crate::store::Directory::put_directory(self, connection, entries, now_ms).boxed()
    }

    fn find_directory<'a>(&'a self, connection: &'a str, system: System, module: &'a str, key: Key<'a>) -> BoxFuture<'a, StoreResult<Vec<DirectoryEntry>>> {
        crate::store::Directory::find_directory(self, connection, system, module, key).boxed()
    }

    fn open_review<'a>(&'a self, review: &'a NewReview, now_ms: i64) -> BoxFuture<'a, StoreResult<i64>> {
        crate::store::Reviews::open_review(self, review, now_ms).boxed()
    }

    fn last_review<'a>(&'a self, connection: &'a str, flow: &'a str, record: &'a RecordRef) -> BoxFuture<'a, StoreResult<Option<Review>>> {
        crate::store::Reviews::last_review(self, connection, flow, record).boxed()
    }

    fn event(&self, event_id: i64) -> BoxFuture<'_, StoreResult<Option<StoredEvent>>> {
        Store::event(self, event_id).boxed()
    }
}

/// One write to Zoho, as announced before it is sent.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The system written.
    pub system: System,
    /// CRM module or Books entity.
    pub module: &'a str,
    /// `create`, `update`, `upsert`, `mark_inactive`, …
    pub action: &'a str,
    /// The record written, when it is known before the call.
    pub record_id: Option<&'a str>,
    /// The values sent.
    pub request: &'a Value,
}

/// Which side of a link a run wrote, with the hash of what it wrote (echo suppression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrote {
    /// Books was written with content hashing to this.
    Books(String),
    /// CRM was written with content hashing to this.
    Crm(String),
    /// Both sides' hashes are (re)set: a two-way flow keeps, per side, the hash of the
    /// values that side is in step with.
    Both {
        /// The CRM side's hash.
        crm: String,
        /// The Books side's hash.
        books: String,
    },
    /// Neither: the link is only recorded (e.g. adopted, or the source is gone).
    Neither,
}

/// What a dry run ([`Context::dry_run`]) found: the source as read, the payload it would
/// send, the match it found and what it would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Preview {
    /// The source record as read.
    pub source: Option<Value>,
    /// The payload the flow would send.
    pub payload: Option<Value>,
    /// What the flow decided along the way (the match it found, …), in order.
    pub notes: Vec<String>,
    /// The write it would have made next (not sent).
    pub would_write: Option<Value>,
}

/// A flow's view of the engine for one run. Built by the runner; see the module doc.
pub struct Context<'r> {
    job: &'r Job,
    record: RecordRef,
    flow: &'static str,
    client: &'r Client,
    store: &'r dyn FlowStore,
    settings: &'r RunSettings,
    base: AuditEntry,
    audit: Vec<AuditEntry>,
    links: Vec<Link>,
    snapshot: Option<Value>,
    preview: Option<Preview>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("job", &self.job.id).field("record", &self.record).field("flow", &self.flow).finish()
    }
}

/// The audit entry's text until Zoho's answer is stored.
pub fn outcome_pending() -> Value {
    json!({"outcome": "unknown", "note": "journaled before the call; no answer was stored (the worker stopped or the run ended first)"})
}

impl<'r> Context<'r> {
    /// A context for running `flow` on `job` (about `record`).
    pub fn new(flow: &'static str, job: &'r Job, record: RecordRef, client: &'r Client, store: &'r dyn FlowStore, settings: &'r RunSettings) -> Context<'r> {
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
        Context { job, record, flow, client, store, settings, base, audit: Vec::new(), links: Vec::new(), snapshot: None, preview: None }
    }

    /// Makes this a dry run: nothing is written to Zoho nor journaled; the run stops at its
    /// first write with [`FlowError::Preview`], and the [`Preview`] says what it found.
    pub fn dry_run(mut self) -> Context<'r> {
        self.preview = Some(Preview::default());
        self
    }

    /// The record the job is about.
    pub fn record(&self) -> &RecordRef {
        &self.record
    }

    /// Fails with a permanent [`FlowError::Data`] unless the record is of `system`
    /// `module`: a route sent the flow a record it does not handle (a config mistake,
    /// said as such).
    pub fn require_record(&self, system: System, module: &str) -> Result<(), FlowError> {
        if self.record.system == system && self.record.module == module {
            return Ok(());
        }
        Err(FlowError::Data(format!(
            "{} runs for {} {module}, not {} {} (check the routes in the config)",
            self.flow,
            system.label(),
            self.record.system.label(),
            self.record.module
        )))
    }

    /// The job being run.
    pub fn job(&self) -> &Job {
        self.job
    }

    /// The Zoho client (reads go straight through it; writes through [`Context::write`]).
    pub fn client(&self) -> &'r Client {
        self.client
    }

    /// The connection links and audit are keyed by.
    pub fn connection(&self) -> &str {
        &self.settings.connection
    }

    /// Now, epoch ms, from the engine's one clock.
    pub fn now_ms(&self) -> i64 {
        self.settings.clock.now_ms()
    }

    /// Now as a timestamp (for the mapper's `today`).
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.now_ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Whether this is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.preview.is_some()
    }

    /// Notes a decision (the match found, why a branch was taken): logged, and shown by a
    /// preview.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        tracing::debug!(job = self.job.id, flow = self.flow, record = %self.record, "{note}");
        if let Some(p) = &mut self.preview {
            p.notes.push(note);
        }
    }

    /// Tells a preview the source record as read.
    pub fn saw_source(&mut self, source: &Value) {
        if let Some(p) = &mut self.preview {
            p.source = Some(source.clone());
        }
    }

    /// Tells a preview the payload the flow would send.
    pub fn mapped(&mut self, payload: &Value) {
        if let Some(p) = &mut self.preview {
            p.payload = Some(payload.clone());
        }
    }

    /// The link of CRM record `crm_id` in `relation` (one this run made first). A store
    /// failure is retryable.
    pub async fn link_by_crm(&self, relation: &Relation, crm_id: &str) -> Result<Option<Link>, FlowError> {
        if let Some(made) = self.links.iter().rev().find(|l| l.relation == relation.name && l.crm_id == crm_id) {
            return Ok(Some(made.clone()));
        }
        self.store
            .link_by_crm(&self.settings.connection, relation.name, crm_id)
            .await
            .map_err(|e| FlowError::Store(format!("reading the {} link of CRM {} {crm_id}: {e}", relation.name, relation.crm_module)))
    }

    /// The link of Books record `books_id` in `relation` (one this run made first). A
    /// store failure is retryable.
    pub async fn link_by_books(&self, relation: &Relation, books_id: &str) -> Result<Option<Link>, FlowError> {
        if let Some(made) = self.links.iter().rev().find(|l| l.relation == relation.name && l.books_id == books_id) {
            return Ok(Some(made.clone()));
        }
        self.store
            .link_by_books(&self.settings.connection, relation.name, books_id)
            .await
            .map_err(|e| FlowError::Store(format!("reading the {} link of Books {} {books_id}: {e}", relation.name, relation.books_entity)))
    }

    /// What this flow saw of the record's trigger fields the last time it ran for it.
    pub async fn previous_snapshot(&self) -> Result<Option<Value>, FlowError> {
        self.store
            .snapshot(&self.settings.connection, self.flow, &self.record)
            .await
            .map_err(|e| FlowError::Store(format!("reading the last snapshot of {}: {e}", self.record)))
    }

    /// The payload of the event that started this job, as the trigger stored it (a Books
    /// webhook's `{"payment": {...}}`, a polled row): what the source said when the record
    /// itself can no longer be read. `None` when the event is gone (pruned) or in a dry
    /// run's made-up job.
    pub async fn event_payload(&self) -> Result<Option<Value>, FlowError> {
        let event =
            self.store.event(self.job.event_id).await.map_err(|e| FlowError::Store(format!("reading event {} of {}: {e}", self.job.event_id, self.record)))?;
        Ok(event.map(|e| e.event.payload))
    }

    /// Whether a person or an agent asked for this run: its event is a
    /// [`Source::Manual`](crate::store::Source::Manual) one ("create the invoice now", an
    /// approved agent request, `zoho-bridge replay` of a manual event). A flow that acts
    /// on a transition ("Stage *became* Closed Won") takes such a run as the request
    /// itself, even when the record was already in that state when last seen; its other
    /// guards (the link, the upsert key) still hold, so a second request changes nothing.
    /// False when the event is gone (pruned) or in a dry run's made-up job.
    pub async fn asked_for(&self) -> Result<bool, FlowError> {
        let event =
            self.store.event(self.job.event_id).await.map_err(|e| FlowError::Store(format!("reading event {} of {}: {e}", self.job.event_id, self.record)))?;
        Ok(event.is_some_and(|e| e.event.source == crate::store::Source::Manual))
    }

    /// Keeps `fields` (a JSON object of the record's trigger fields) as what this flow saw,
    /// stored with the job's result (done or skipped; not when the run fails).
    pub fn keep_snapshot(&mut self, fields: Value) {
        self.snapshot = Some(fields);
    }

    /// Records that CRM record `crm_id` and Books record `books_id` are linked in
    /// `relation`, and which side this run wrote (its hash): stored with the job's result.
    /// The side not written keeps its stored hash.
    pub fn link(&mut self, relation: &Relation, crm_id: &str, books_id: &str, wrote: Wrote) {
        let (crm_hash, books_hash) = match wrote {
            Wrote::Books(h) => (None, Some(h)),
            Wrote::Crm(h) => (Some(h), None),
            Wrote::Both { crm, books } => (Some(crm), Some(books)),
            Wrote::Neither => (None, None),
        };
        self.links.push(Link {
            connection: self.settings.connection.clone(),
            relation: relation.name.into(),
            crm_id: crm_id.into(),
            books_id: books_id.into(),
            crm_hash,
            books_hash,
            updated_ms: self.now_ms(),
        });
    }

    /// Sends one write to Zoho: journals `write` first (a store failure fails the run
    /// before anything is sent, retryable), then awaits `call` (which sends nothing until
    /// awaited), and records Zoho's answer and the id written (`id_of` the answer, or
    /// `write.record_id`). In a dry run nothing is sent: the run stops here with
    /// [`FlowError::Preview`].
    pub async fn write<T: Serialize>(
        &mut self,
        write: Write<'_>,
        call: impl Future<Output = Result<T, zoho::Error>>,
        id_of: impl Fn(&T) -> Option<String>,
    ) -> Result<T, FlowError> {
        let n = self.announce(write).await?;
        let result = call.await;
        let id = result.as_ref().ok().and_then(&id_of);
        self.answer(n, id.as_deref(), None, result.as_ref());
        result.map_err(FlowError::Zoho)
    }

    /// Marks Books record `id` (of `entity`, whose id field is `id_field`) active or
    /// inactive: Books sets a status only through its own endpoints, so `call` is the
    /// client's `set_*_active`. Journaled like any write.
    pub async fn set_books_active(
        &mut self,
        entity: &str,
        id_field: &str,
        id: &str,
        active: bool,
        call: impl Future<Output = Result<zoho::books::Message, zoho::Error>>,
    ) -> Result<(), FlowError> {
        let action = if active { "mark_active" } else { "mark_inactive" };
        let request = json!({ id_field: id });
        let write = Write { system: System::Books, module: entity, action, record_id: Some(id), request: &request };
        let call = async { call.await.map(|m| json!({"code": m.code, "message": m.message})) };
        self.write(write, call, |_| Some(id.to_string())).await?;
        Ok(())
    }

    /// Journals `write` (the first half of [`Context::write`], for calls whose answer
    /// decides the action, such as an upsert); returns its number for
    /// [`Context::answer`].
    pub async fn announce(&mut self, write: Write<'_>) -> Result<usize, FlowError> {
        if let Some(p) = &mut self.preview {
            p.would_write = Some(json!({
                "system": write.system.as_str(),
                "module": write.module,
                "action": write.action,
                "record_id": write.record_id,
                "request": write.request,
            }));
            return Err(FlowError::Preview);
        }
        let mut entry = AuditEntry {
            at_ms: self.now_ms(),
            system: write.system.as_str().into(),
            module: write.module.into(),
            record_id: write.record_id.map(str::to_string),
            action: write.action.into(),
            request: write.request.clone(),
            response: outcome_pending(),
            ..self.base.clone()
        };
        entry.id = self
            .store
            .journal(&entry)
            .await
            .map_err(|e| FlowError::Store(format!("journaling the {} of {} {}: {e}", write.action, write.system.as_str(), write.module)))?;
        self.audit.push(entry);
        Ok(self.audit.len() - 1)
    }

    /// Records Zoho's answer to write `n` ([`Context::announce`]): the record written
    /// (known after a create), the action Zoho took when the answer tells (`create` or
    /// `update` for an upsert), and the answer itself (the record, or the error's status,
    /// code and message).
    pub fn answer<T: Serialize>(&mut self, n: usize, record_id: Option<&str>, action: Option<&str>, result: Result<&T, &zoho::Error>) {
        let Some(entry) = self.audit.get_mut(n) else { return };
        let (response, ok) = match result {
            Ok(answer) => (serde_json::to_value(answer).unwrap_or(Value::Null), true),
            Err(e) => (error_json(e), false),
        };
        if let Some(id) = record_id {
            entry.record_id = Some(id.to_string());
        }
        if let Some(action) = action {
            entry.action = action.to_string();
        }
        entry.response = response;
        entry.ok = ok;
    }

    /// Records a totals mismatch ([`Mismatch`]) in the audit log, journaled at once (a
    /// crash after it still leaves it audited) as a [`TOTALS_MISMATCH`] entry on the Books
    /// document, with both figures and the cause; `zoho-bridge leaks` lists them. A dry
    /// run only notes it.
    pub async fn record_mismatch(&mut self, mismatch: &Mismatch) -> Result<(), FlowError> {
        let said = format!(
            "Books {} {} totals {} {} but CRM {} {} says {} (difference {}){}",
            mismatch.books_entity,
            mismatch.books_number.as_deref().unwrap_or(&mismatch.books_id),
            mismatch.books_total,
            mismatch.currency,
            mismatch.crm_module,
            mismatch.crm_id,
            mismatch.crm_total,
            mismatch.difference,
            mismatch.cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default(),
        );
        if self.is_dry_run() {
            self.note(format!("totals check: {said}"));
            return Ok(());
        }
        tracing::warn!(job = self.job.id, flow = self.flow, record = %self.record, "totals mismatch: {said}");
        let mut entry = AuditEntry {
            at_ms: self.now_ms(),
            system: System::Books.as_str().into(),
            module: mismatch.books_entity.clone(),
            record_id: Some(mismatch.books_id.clone()),
            action: TOTALS_MISMATCH.into(),
            request: serde_json::to_value(mismatch).unwrap_or(Value::Null),
            response: json!({ "said": said }),
            ok: true,
            ..self.base.clone()
        };
        entry.id = self.store.journal(&entry).await.map_err(|e| FlowError::Store(format!("recording the totals mismatch of {}: {e}", self.record)))?;
        self.audit.push(entry);
        Ok(())
    }

    /// Keeps the match keys of records this run read (the directory is an index: it is
    /// written at once, not with the job's end; a dry run writes nothing).
    pub async fn remember(&self, entries: &[DirectoryEntry]) -> Result<(), FlowError> {
        if self.is_dry_run() {
            return Ok(());
        }
        self.store
            .put_directory(&self.settings.connection, entries, self.now_ms())
            .await
            .map_err(|e| FlowError::Store(format!("keeping the match keys of {}: {e}", self.record)))
    }

    /// The records of `system`/`module` in the directory whose `key` matches.
    pub async fn candidates(&self, system: System, module: &str, key: Key<'_>) -> Result<Vec<Party>, FlowError> {
        let found = self
            .store
            .find_directory(&self.settings.connection, system, module, key)
            .await
            .map_err(|e| FlowError::Store(format!("looking up {} {module} by {key:?}: {e}", system.label())))?;
        Ok(found.into_iter().map(|e| e.party).collect())
    }

    /// Puts the record on the review list (or refreshes its open review) and returns the
    /// review's id; nothing more should be written for it. A dry run only notes it.
    pub async fn open_review(&mut self, kind: ReviewKind, reason: String, candidates: Vec<crate::store::Candidate>) -> Result<i64, FlowError> {
        let record = self.record.clone();
        self.open_review_of(self.flow, &record, kind, reason, candidates).await
    }

    /// Puts `record` on the review list of `flow` (which may be another flow than this
    /// run's: a deal's invoice asks for its account's customer, and the review belongs to
    /// `customer_sync`, whose job a decision starts); returns the review's id. A dry run
    /// only notes it.
    pub async fn open_review_of(
        &mut self,
        flow: &str,
        record: &RecordRef,
        kind: ReviewKind,
        reason: String,
        candidates: Vec<crate::store::Candidate>,
    ) -> Result<i64, FlowError> {
        if self.is_dry_run() {
            self.note(format!("would put {record} on the review list of {flow} ({}): {reason}", kind.as_str()));
            return Ok(0);
        }
        let review = NewReview { connection: self.settings.connection.clone(), flow: flow.into(), record: record.clone(), kind, reason, candidates };
        self.store.open_review(&review, self.now_ms()).await.map_err(|e| FlowError::Store(format!("opening a review of {record}: {e}")))
    }

    /// The newest review of this record for this flow, open or decided.
    pub async fn last_review(&self) -> Result<Option<Review>, FlowError> {
        self.last_review_of(self.flow, &self.record).await
    }

    /// The newest review of `record` for `flow`, open or decided.
    pub async fn last_review_of(&self, flow: &str, record: &RecordRef) -> Result<Option<Review>, FlowError> {
        self.store.last_review(&self.settings.connection, flow, record).await.map_err(|e| FlowError::Store(format!("reading the review of {record}: {e}")))
    }

    /// Takes what the run established, for the result: audit entries, links, snapshot.
    pub(crate) fn finish(self) -> (Vec<AuditEntry>, Vec<Link>, Option<Snapshot>, Option<Preview>) {
        let snapshot =
            self.snapshot.map(|fields| Snapshot { connection: self.settings.connection.clone(), flow: self.flow.into(), record: self.record.clone(), fields });
        (self.audit, self.links, snapshot, self.preview)
    }
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
