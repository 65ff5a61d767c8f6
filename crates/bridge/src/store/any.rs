//! A store chosen at run time from a URL or a path, so the binary can take either.

use serde_json::Value;

use super::System;
use super::activity::{Activity, Run};
use super::approval::{Approval, ApprovalStatus, Approvals};
use super::budget_share::{BudgetHolder, BudgetShares};
use super::matching::{Directory, DirectoryEntry, Key, NewReview, Review, ReviewDecision, ReviewStatus, Reviews};
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{AuditEntry, Cursor, Inserted, Job, JobResult, JobStatus, JobWatch, Link, NewEvent, NewJob, Pruned, RecordRef, Store, StoreResult, StoredEvent};

/// Either back end, delegating every call.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

impl AnyStore {
    /// Connects by scheme: `postgres://` or `postgresql://` → PostgreSQL, `sqlite:` →
    /// SQLite URL, anything else → a SQLite file path. Runs the migrations.
    pub async fn connect(url_or_path: &str) -> StoreResult<Self> {
        if is_postgres(url_or_path) {
            Ok(AnyStore::Postgres(PgStore::connect(url_or_path).await?))
        } else if let Some(path) = AnyStore::file_path(url_or_path) {
            Ok(AnyStore::Sqlite(SqliteStore::open(path).await?))
        } else {
            Ok(AnyStore::Sqlite(SqliteStore::open_url(url_or_path).await?))
        }
    }

    /// The SQLite file `url_or_path` names when it is a plain path, which
    /// [`AnyStore::connect`] opens as a file, creating it when missing; `None` for
    /// `postgres://…` and `sqlite:` URLs. (Commands that must not create a store check
    /// that the file exists first.)
    pub fn file_path(url_or_path: &str) -> Option<&std::path::Path> {
        (!is_postgres(url_or_path) && !url_or_path.starts_with("sqlite:")).then(|| std::path::Path::new(url_or_path))
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.close().await,
        }
    }
}

/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Calls the same method on whichever store this is.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn add_event(&self, event: &NewEvent, jobs: &[NewJob], now_ms: i64) -> StoreResult<Inserted> {
        delegate!(self, s => s.add_event(event, jobs, now_ms))
    }

    async fn add_events(&self, events: &[(NewEvent, Vec<NewJob>)], now_ms: i64) -> StoreResult<Vec<Inserted>> {
        delegate!(self, s => s.add_events(events, now_ms))
    }

    async fn add_events_and_move_cursor(&self, events: &[(NewEvent, Vec<NewJob>)], cursor: &Cursor, now_ms: i64) -> StoreResult<Vec<Inserted>> {
        delegate!(self, s => s.add_events_and_move_cursor(events, cursor, now_ms))
    }

    async fn event(&self, event_id: i64) -> StoreResult<Option<StoredEvent>> {
        delegate!(self, s => s.event(event_id))
    }

    async fn event_by_key(&self, dedup_key: &str) -> StoreResult<Option<StoredEvent>> {
        delegate!(self, s => s.event_by_key(dedup_key))
    }

    async fn events_for_record(&self, system: &str, module: &str, record_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        delegate!(self, s => s.events_for_record(system, module, record_id, limit))
    }

    async fn claim(&self, worker: &str, now_ms: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<Job>> {
        delegate!(self, s => s.claim(worker, now_ms, lease_ms, limit))
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, until_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.extend_lease(job_id, worker, until_ms))
    }

    async fn extend_leases(&self, worker: &str, job_ids: &[i64], until_ms: i64) -> StoreResult<Vec<i64>> {
        delegate!(self, s => s.extend_leases(worker, job_ids, until_ms))
    }

    fn job_watch(&self) -> JobWatch {
        match self {
            AnyStore::Sqlite(s) => s.job_watch(),
            AnyStore::Postgres(s) => s.job_watch(),
        }
    }

    async fn record(&self, worker: &str, results: &[(i64, JobResult)], now_ms: i64) -> StoreResult<Vec<StoreResult<JobStatus>>> {
        delegate!(self, s => s.record(worker, results, now_ms))
    }

    async fn job(&self, job_id: i64) -> StoreResult<Option<Job>> {
        delegate!(self, s => s.job(job_id))
    }

    async fn jobs_with_status(&self, status: JobStatus, limit: u32) -> StoreResult<Vec<Job>> {
        delegate!(self, s => s.jobs_with_status(status, limit))
    }

    async fn jobs_for_event(&self, event_id: i64) -> StoreResult<Vec<Job>> {
        delegate!(self, s => s.jobs_for_event(event_id))
    }

    async fn recent_jobs(&self, status: Option<JobStatus>, flow: Option<&str>, limit: u32) -> StoreResult<Vec<Job>> {
        delegate!(self, s => s.recent_jobs(status, flow, limit))
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobStatus, i64)>> {
        delegate!(self, s => s.job_counts())
    }

    async fn replay(&self, job_id: i64, now_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.replay(job_id, now_ms))
    }

    async fn drop_dead(&self, job_id: i64, reason: &str, now_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.drop_dead(job_id, reason, now_ms))
    }

    async fn prune(&self, before_ms: i64) -> StoreResult<Pruned> {
        delegate!(self, s => s.prune(before_ms))
    }

    async fn link_by_crm(&self, connection: &str, relation: &str, crm_id: &str) -> StoreResult<Option<Link>> {
        delegate!(self, s => s.link_by_crm(connection, relation, crm_id))
    }

    async fn link_by_books(&self, connection: &str, relation: &str, books_id: &str) -> StoreResult<Option<Link>> {
        delegate!(self, s => s.link_by_books(connection, relation, books_id))
    }

    async fn links(&self, connection: &str, relation: &str) -> StoreResult<Vec<Link>> {
        delegate!(self, s => s.links(connection, relation))
    }

    async fn snapshot(&self, connection: &str, flow: &str, record: &RecordRef) -> StoreResult<Option<Value>> {
        delegate!(self, s => s.snapshot(connection, flow, record))
    }

    async fn cursor(&self, connection: &str, stream: &str) -> StoreResult<Option<Cursor>> {
        delegate!(self, s => s.cursor(connection, stream))
    }

    async fn add_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        delegate!(self, s => s.add_audit(entry))
    }

    async fn token(&self, key: &str) -> StoreResult<Option<zoho::SealedToken>> {
        delegate!(self, s => s.token(key))
    }

    async fn save_token(&self, key: &str, token: &zoho::SealedToken, now_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.save_token(key, token, now_ms))
    }

    async fn audit_for_job(&self, job_id: i64) -> StoreResult<Vec<AuditEntry>> {
        delegate!(self, s => s.audit_for_job(job_id))
    }

    async fn audit_for_record(&self, system: &str, module: &str, record_id: &str) -> StoreResult<Vec<AuditEntry>> {
        delegate!(self, s => s.audit_for_record(system, module, record_id))
    }

    async fn audit_by_action(&self, action: &str, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        delegate!(self, s => s.audit_by_action(action, limit))
    }

    async fn count_audit_action(&self, action: &str) -> StoreResult<i64> {
        delegate!(self, s => s.count_audit_action(action))
    }
}

impl Approvals for AnyStore {
    async fn create_approval(&self, requested_by: &str, action: &str, payload: &Value, now_ms: i64) -> StoreResult<i64> {
        delegate!(self, s => s.create_approval(requested_by, action, payload, now_ms))
    }

    async fn decide_approval(&self, id: i64, approve: bool, decided_by: &str, now_ms: i64) -> StoreResult<Approval> {
        delegate!(self, s => s.decide_approval(id, approve, decided_by, now_ms))
    }

    async fn approval(&self, id: i64) -> StoreResult<Option<Approval>> {
        delegate!(self, s => s.approval(id))
    }

    async fn approvals(&self, status: ApprovalStatus) -> StoreResult<Vec<Approval>> {
        delegate!(self, s => s.approvals(status))
    }

    async fn count_approvals(&self, status: ApprovalStatus) -> StoreResult<i64> {
        delegate!(self, s => s.count_approvals(status))
    }
}

impl Directory for AnyStore {
    async fn put_directory(&self, connection: &str, entries: &[DirectoryEntry], now_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.put_directory(connection, entries, now_ms))
    }

    async fn find_directory(&self, connection: &str, system: System, module: &str, key: Key<'_>) -> StoreResult<Vec<DirectoryEntry>> {
        delegate!(self, s => s.find_directory(connection, system, module, key))
    }

    async fn remove_directory(&self, connection: &str, system: System, module: &str, record_id: &str) -> StoreResult<()> {
        delegate!(self, s => s.remove_directory(connection, system, module, record_id))
    }

    async fn directory_count(&self, connection: &str, system: System, module: &str) -> StoreResult<i64> {
        delegate!(self, s => s.directory_count(connection, system, module))
    }

    async fn set_email_keys(&self, connection: &str, system: System, module: &str, keys: &[(String, Option<String>)], now_ms: i64) -> StoreResult<()> {
        delegate!(self, s => s.set_email_keys(connection, system, module, keys, now_ms))
    }

    async fn directory_page(&self, connection: &str, system: System, module: &str, after: &str, limit: u32) -> StoreResult<Vec<DirectoryEntry>> {
        delegate!(self, s => s.directory_page(connection, system, module, after, limit))
    }

    async fn find_directory_any(&self, connection: &str, system: System, module: &str, keys: &[Key<'_>]) -> StoreResult<Vec<DirectoryEntry>> {
        delegate!(self, s => s.find_directory_any(connection, system, module, keys))
    }

    async fn analyze_directory(&self) -> StoreResult<()> {
        delegate!(self, s => s.analyze_directory())
    }

    async fn links_among(&self, connection: &str, relation: &str, crm_ids: &[&str], books_ids: &[&str]) -> StoreResult<Vec<Link>> {
        delegate!(self, s => s.links_among(connection, relation, crm_ids, books_ids))
    }
}

impl Reviews for AnyStore {
    async fn open_review(&self, review: &NewReview, now_ms: i64) -> StoreResult<i64> {
        delegate!(self, s => s.open_review(review, now_ms))
    }

    async fn review(&self, id: i64) -> StoreResult<Option<Review>> {
        delegate!(self, s => s.review(id))
    }

    async fn reviews(&self, status: Option<ReviewStatus>, limit: u32) -> StoreResult<Vec<Review>> {
        delegate!(self, s => s.reviews(status, limit))
    }

    async fn count_reviews(&self, status: Option<ReviewStatus>) -> StoreResult<i64> {
        delegate!(self, s => s.count_reviews(status))
    }

    async fn last_review(&self, connection: &str, flow: &str, record: &RecordRef) -> StoreResult<Option<Review>> {
        delegate!(self, s => s.last_review(connection, flow, record))
    }

    async fn decide_review(&self, id: i64, decision: &ReviewDecision, by: &str, note: Option<&str>, now_ms: i64) -> StoreResult<Review> {
        delegate!(self, s => s.decide_review(id, decision, by, note, now_ms))
    }
}

impl BudgetShares for AnyStore {
    async fn share_budget<F>(&self, organization: &str, api: &str, holder: &str, now_ms: i64, decide: F) -> StoreResult<BudgetHolder>
    where
        F: FnOnce(&[BudgetHolder]) -> BudgetHolder + Send,
    {
        delegate!(self, s => s.share_budget(organization, api, holder, now_ms, decide))
    }

    async fn budget_holders(&self, organization: &str) -> StoreResult<Vec<BudgetHolder>> {
        delegate!(self, s => s.budget_holders(organization))
    }
}

impl Activity for AnyStore {
    async fn recent_runs(&self, flow: &str, limit: u32) -> StoreResult<Vec<Run>> {
        delegate!(self, s => s.recent_runs(flow, limit))
    }

    async fn runs_for_event(&self, event_id: i64) -> StoreResult<Vec<Run>> {
        delegate!(self, s => s.runs_for_event(event_id))
    }
}

impl super::AgentTokens for AnyStore {
    async fn create_agent_token(&self, name: &str, token_hash: &str, scopes: &[String], now_ms: i64) -> StoreResult<super::AgentToken> {
        delegate!(self, s => s.create_agent_token(name, token_hash, scopes, now_ms))
    }

    async fn agent_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<super::AgentToken>> {
        delegate!(self, s => s.agent_token_by_hash(token_hash))
    }

    async fn agent_tokens(&self) -> StoreResult<Vec<super::AgentToken>> {
        delegate!(self, s => s.agent_tokens())
    }

    async fn revoke_agent_token(&self, name: &str, now_ms: i64) -> StoreResult<super::AgentToken> {
        delegate!(self, s => s.revoke_agent_token(name, now_ms))
    }

    async fn admit_agent_call(&self, name: &str, now_ms: i64, window_ms: i64, limit: u32) -> StoreResult<Result<(), i64>> {
        delegate!(self, s => s.admit_agent_call(name, now_ms, window_ms, limit))
    }
}
