//! Rows as both back ends return them, and their conversion to the store's types.
//!
//! The structs derive `FromRow` generically, so the same decoding serves SQLite and
//! PostgreSQL; PostgreSQL queries select JSON columns as `::text` so that both hand
//! back text here.

use sqlx::FromRow;

use super::approval::Approval;
use super::convert::{parse_approval_status, parse_json, parse_source, parse_status};
use super::{AuditEntry, Cursor, Job, Link, NewEvent, StoreError, StoredEvent};

/// The columns every job query selects, in this order.
pub(crate) const JOB_COLUMNS: &str = "id, event_id, flow, key, payload, status, attempts, run_after_ms, \
     lease_owner, lease_until_ms, last_error, outcome, created_ms, updated_ms";

/// A `jobs` row.
#[derive(Debug, FromRow)]
pub(crate) struct JobRow {
    id: i64,
    event_id: i64,
    flow: String,
    key: String,
    payload: String,
    status: String,
    attempts: i32,
    run_after_ms: i64,
    lease_owner: Option<String>,
    lease_until_ms: Option<i64>,
    last_error: Option<String>,
    outcome: Option<String>,
    created_ms: i64,
    updated_ms: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: row.id,
            event_id: row.event_id,
            flow: row.flow,
            key: row.key,
            payload: parse_json(&row.payload, "jobs.payload")?,
            status: parse_status(&row.status)?,
            attempts: row.attempts,
            run_after_ms: row.run_after_ms,
            lease_owner: row.lease_owner,
            lease_until_ms: row.lease_until_ms,
            last_error: row.last_error,
            outcome: row.outcome,
            created_ms: row.created_ms,
            updated_ms: row.updated_ms,
        })
    }
}

/// Converts job rows, sorted by id (`RETURNING` gives no order).
pub(crate) fn jobs_from_rows(rows: Vec<JobRow>) -> Result<Vec<Job>, StoreError> {
    let mut jobs = rows.into_iter().map(Job::try_from).collect::<Result<Vec<_>, _>>()?;
    jobs.sort_by_key(|job| job.id);
    Ok(jobs)
}

/// The columns every event query selects (PostgreSQL casts `payload` to text).
pub(crate) const EVENT_COLUMNS: &str = "id, source, connection, system, module, record_id, modified_ms, payload, dedup_key, received_ms";

/// An `events` row.
#[derive(Debug, FromRow)]
pub(crate) struct EventRow {
    id: i64,
    source: String,
    connection: String,
    system: String,
    module: String,
    record_id: String,
    modified_ms: Option<i64>,
    payload: String,
    dedup_key: String,
    received_ms: i64,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            id: row.id,
            received_ms: row.received_ms,
            event: NewEvent {
                source: parse_source(&row.source)?,
                connection: row.connection,
                system: row.system,
                module: row.module,
                record_id: row.record_id,
                modified_ms: row.modified_ms,
                payload: parse_json(&row.payload, "events.payload")?,
                dedup_key: row.dedup_key,
            },
        })
    }
}

/// A `links` row (all plain columns).
#[derive(Debug, FromRow)]
pub(crate) struct LinkRow {
    connection: String,
    relation: String,
    crm_id: String,
    books_id: String,
    crm_hash: Option<String>,
    books_hash: Option<String>,
    updated_ms: i64,
}

impl From<LinkRow> for Link {
    fn from(row: LinkRow) -> Self {
        Link {
            connection: row.connection,
            relation: row.relation,
            crm_id: row.crm_id,
            books_id: row.books_id,
            crm_hash: row.crm_hash,
            books_hash: row.books_hash,
            updated_ms: row.updated_ms,
        }
    }
}

/// The columns every link query selects, in [`LinkRow`] order.
pub(crate) const LINK_COLUMNS: &str = "connection, relation, crm_id, books_id, crm_hash, books_hash, updated_ms";

/// A `cursors` row.
#[derive(Debug, FromRow)]
pub(crate) struct CursorRow {
    connection: String,
    stream: String,
    position_ms: i64,
    updated_ms: i64,
}

impl From<CursorRow> for Cursor {
    fn from(row: CursorRow) -> Self {
        Cursor { connection: row.connection, stream: row.stream, position_ms: row.position_ms, updated_ms: row.updated_ms }
    }
}

/// An `audit` row.
#[derive(Debug, FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at_ms: i64,
    actor: String,
    job_id: Option<i64>,
    event_id: Option<i64>,
    connection: String,
    system: String,
    module: String,
    record_id: Option<String>,
    action: String,
    request: String,
    response: String,
    ok: bool,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: row.id,
            at_ms: row.at_ms,
            actor: row.actor,
            job_id: row.job_id,
            event_id: row.event_id,
            connection: row.connection,
            system: row.system,
            module: row.module,
            record_id: row.record_id,
            action: row.action,
            request: parse_json(&row.request, "audit.request")?,
            response: parse_json(&row.response, "audit.response")?,
            ok: row.ok,
        })
    }
}

/// An `approvals` row.
#[derive(Debug, FromRow)]
pub(crate) struct ApprovalRow {
    id: i64,
    requested_by: String,
    action: String,
    payload: String,
    status: String,
    decided_by: Option<String>,
    created_ms: i64,
    decided_ms: Option<i64>,
}

impl TryFrom<ApprovalRow> for Approval {
    type Error = StoreError;

    fn try_from(row: ApprovalRow) -> Result<Self, StoreError> {
        Ok(Approval {
            id: row.id,
            requested_by: row.requested_by,
            action: row.action,
            payload: parse_json(&row.payload, "approvals.payload")?,
            status: parse_approval_status(&row.status)?,
            decided_by: row.decided_by,
            created_ms: row.created_ms,
            decided_ms: row.decided_ms,
        })
    }
}
