//! The SQLite back end: one file in WAL mode, the default.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one
//! connection (writers queue in-process instead of spinning on `SQLITE_BUSY`) and every
//! multi-statement write runs in `BEGIN IMMEDIATE`, which takes the write lock up front
//! and so also serialises cleanly against another process sharing the file
//! (`busy_timeout` waits for it). Reads use a small pool of their own.
//!
//! `synchronous = FULL`: a commit is on disk before it returns, so a webhook is
//! acknowledged only once its event survives a power loss (with `NORMAL` the last
//! commits could roll back after Zoho was told 200, and Zoho does not send twice). The
//! cost is one WAL sync per commit; the worker stores results in batches, so it is paid
//! per batch, not per job (`cargo bench -p bridge --bench engine`: 4,001 events/s end to
//! end with `FULL`, 4,624 with `NORMAL`).

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

use super::approval::{Approval, ApprovalStatus, Approvals};
use super::convert::{approval_status_str, db_err, json_text, migrate_err, status_str};
use super::redact::redact_message;
use super::rows::{ApprovalRow, AuditRow, CursorRow, EVENT_COLUMNS, EventRow, JOB_COLUMNS, JobRow, LinkRow, jobs_from_rows};
use super::{inbox, results};
use super::{
    AuditEntry, Cursor, Inserted, Job, JobResult, JobStatus, Link, NewEvent, NewJob, Store,
    StoreError, StoreResult, StoredEvent,
};

/// The default database file.
pub const DEFAULT_SQLITE_FILE: &str = "zoho-bridge.db";

/// How long a write waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reader connections (2 cores: more would only queue on the CPU).
const READERS: u32 = 4;

/// The store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and runs the migrations.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().filename(path.as_ref());
        Self::open_with(options).await
    }

    /// Opens a `sqlite://path` (or `sqlite:path`) URL and runs the migrations. Not for
    /// `sqlite::memory:`: the writer and the readers would each get their own database.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| {
            StoreError::Database(redact_message(&format!("bad SQLite URL: {e}"), url))
        })?;
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let name = options.get_filename().display().to_string();
        let open_err = |e: sqlx::Error| {
            StoreError::Database(format!("cannot open SQLite database {name}: {e}"))
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        super::migrations::sqlite()
            .run(&writer)
            .await
            .map_err(migrate_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Closes both pools (waits for connections in use to come back).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

/// Checks inside `tx` that `worker` still holds `job_id`; returns its attempts.
/// `LeaseLost` when the job is not running under `worker`, `NotFound` when it does not exist.
async fn check_lease(
    tx: &mut Transaction<'static, Sqlite>,
    job_id: i64,
    worker: &str,
) -> StoreResult<i32> {
    let row: Option<(String, Option<String>, i32)> =
        sqlx::query_as("SELECT status, lease_owner, attempts FROM jobs WHERE id = ?")
            .bind(job_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?;
    match row {
        None => Err(StoreError::NotFound(format!("job {job_id}"))),
        Some((status, owner, attempts))
            if status == "running" && owner.as_deref() == Some(worker) =>
        {
            Ok(attempts)
        }
        Some(_) => Err(StoreError::LeaseLost(job_id)),
    }
}

/// Inserts a batch of events (a dedup key already in the inbox inserts nothing) and the
/// new events' jobs, in the order given, inside `tx`.
async fn insert_events(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[(NewEvent, Vec<NewJob>)],
    now_ms: i64,
) -> StoreResult<Vec<Inserted>> {
    let returned: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO events (source, connection, system, module, record_id, modified_ms, payload, dedup_key, received_ms) \
         SELECT value ->> 'source', value ->> 'connection', value ->> 'system', value ->> 'module', \
                value ->> 'record_id', value ->> 'modified_ms', value ->> 'payload', value ->> 'dedup_key', ?2 \
         FROM json_each(?1) WHERE true ORDER BY key \
         ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key",
    )
    .bind(inbox::event_rows(events))
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let out = inbox::inserted(events, returned);
    if let Some(rows) = inbox::job_rows(events, &out) {
        sqlx::query(
            "INSERT INTO jobs (event_id, flow, key, payload, status, attempts, run_after_ms, created_ms, updated_ms) \
             SELECT value ->> 'event_id', value ->> 'flow', value ->> 'key', value ->> 'payload', 'queued', 0, ?2, ?2, ?2 \
             FROM json_each(?1) ORDER BY key",
        )
        .bind(rows)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(out)
}

impl Store for SqliteStore {
    async fn add_event(
        &self,
        event: &NewEvent,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> StoreResult<Inserted> {
        let mut tx = self.begin().await?;
        let batch = [(event.clone(), jobs.to_vec())];
        let inserted = insert_events(&mut tx, &batch, now_ms).await?.pop().unwrap_or(Inserted::Duplicate);
        tx.commit().await.map_err(db_err)?;
        Ok(inserted)
    }

    async fn add_events(&self, events: &[(NewEvent, Vec<NewJob>)], now_ms: i64) -> StoreResult<Vec<Inserted>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let out = insert_events(&mut tx, events, now_ms).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn add_events_and_move_cursor(
        &self,
        events: &[(NewEvent, Vec<NewJob>)],
        cursor: &Cursor,
        now_ms: i64,
    ) -> StoreResult<Vec<Inserted>> {
        let mut tx = self.begin().await?;
        let out = insert_events(&mut tx, events, now_ms).await?;
        sqlx::query(
            "INSERT INTO cursors (connection, stream, position_ms, updated_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (connection, stream) DO UPDATE SET position_ms = excluded.position_ms, updated_ms = excluded.updated_ms",
        )
        .bind(&cursor.connection)
        .bind(&cursor.stream)
        .bind(cursor.position_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn event(&self, event_id: i64) -> StoreResult<Option<StoredEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?");
        let row: Option<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(event_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(StoredEvent::try_from).transpose()
    }

    async fn events_for_record(
        &self,
        system: &str,
        module: &str,
        record_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE system = ? AND module = ? AND record_id = ? ORDER BY id DESC LIMIT ?"
        );
        let rows: Vec<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(system)
            .bind(module)
            .bind(record_id)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    async fn claim(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        // One statement, so atomic on its own; the writer pool makes it the only writer.
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = ?1, lease_until_ms = ?2, attempts = attempts + 1, updated_ms = ?3 \
             WHERE id IN (\
               SELECT j.id FROM jobs j \
               WHERE j.status IN ('queued', 'running') \
                 AND ((j.status = 'queued' AND j.run_after_ms <= ?3) OR (j.status = 'running' AND j.lease_until_ms <= ?3)) \
                 AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.key = j.key AND e.id <> j.id \
                     AND e.status IN ('queued', 'running') \
                     AND (e.id < j.id OR (e.status = 'running' AND e.lease_until_ms > ?3))) \
               ORDER BY j.id LIMIT ?4) \
             RETURNING {JOB_COLUMNS}"
        );
        let rows: Vec<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(worker)
            .bind(now_ms.saturating_add(lease_ms))
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await
            .map_err(db_err)?;
        jobs_from_rows(rows)
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, until_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        check_lease(&mut tx, job_id, worker).await?;
        sqlx::query("UPDATE jobs SET lease_until_ms = ? WHERE id = ?")
            .bind(until_ms)
            .bind(job_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn record(
        &self,
        worker: &str,
        results: &[(i64, JobResult)],
        now_ms: i64,
    ) -> StoreResult<Vec<StoreResult<JobStatus>>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        // Only rows still leased to `worker` are updated; RETURNING names them.
        let returned: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE jobs SET \
               status = CASE r.kind WHEN 'fail' THEN \
                   (CASE WHEN r.retryable AND jobs.attempts < r.max_attempts THEN 'queued' ELSE 'dead' END) \
                 ELSE r.kind END, \
               outcome = CASE r.kind WHEN 'fail' THEN jobs.outcome ELSE r.outcome END, \
               last_error = CASE r.kind WHEN 'fail' THEN r.error ELSE jobs.last_error END, \
               run_after_ms = CASE WHEN r.kind = 'fail' AND r.retryable AND jobs.attempts < r.max_attempts \
                 THEN r.retry_at_ms WHEN r.kind = 'fail' THEN ?3 ELSE jobs.run_after_ms END, \
               lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?3 \
             FROM (SELECT value ->> 'id' AS id, value ->> 'kind' AS kind, value ->> 'outcome' AS outcome, \
                     value ->> 'error' AS error, value ->> 'retryable' AS retryable, \
                     value ->> 'max_attempts' AS max_attempts, value ->> 'retry_at_ms' AS retry_at_ms \
                   FROM json_each(?1)) AS r \
             WHERE jobs.id = r.id AND jobs.status = 'running' AND jobs.lease_owner = ?2 \
             RETURNING jobs.id, jobs.status",
        )
        .bind(results::job_rows(results))
        .bind(worker)
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let accepted = results::accepted(returned)?;
        let ids: HashSet<i64> = accepted.keys().copied().collect();
        if let Some(rows) = results::link_rows(results, &ids, now_ms) {
            sqlx::query(
                "INSERT INTO links (connection, crm_module, crm_id, books_entity, books_id, books_hash, crm_hash, updated_ms) \
                 SELECT value ->> 'connection', value ->> 'crm_module', value ->> 'crm_id', value ->> 'books_entity', \
                        value ->> 'books_id', value ->> 'books_hash', value ->> 'crm_hash', value ->> 'updated_ms' \
                 FROM json_each(?) WHERE true \
                 ON CONFLICT (connection, crm_module, crm_id) DO UPDATE SET \
                   books_entity = excluded.books_entity, books_id = excluded.books_id, \
                   books_hash = COALESCE(excluded.books_hash, links.books_hash), \
                   crm_hash = COALESCE(excluded.crm_hash, links.crm_hash), \
                   updated_ms = excluded.updated_ms",
            )
            .bind(rows)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let (inserts, answers) = results::audit_rows(results);
        if let Some(rows) = inserts {
            sqlx::query(
                "INSERT INTO audit (at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok) \
                 SELECT value ->> 'at_ms', value ->> 'actor', value ->> 'job_id', value ->> 'event_id', value ->> 'connection', \
                        value ->> 'system', value ->> 'module', value ->> 'record_id', value ->> 'action', \
                        value ->> 'request', value ->> 'response', value ->> 'ok' \
                 FROM json_each(?)",
            )
            .bind(rows)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        if let Some(rows) = answers {
            sqlx::query(
                "UPDATE audit SET record_id = r.value ->> 'record_id', response = r.value ->> 'response', ok = r.value ->> 'ok' \
                 FROM json_each(?) AS r WHERE audit.id = r.value ->> 'id'",
            )
            .bind(rows)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        // Tell a lost lease from a job that does not exist (rare: only when some are missing).
        let existing: HashSet<i64> = if accepted.len() < results.len() {
            sqlx::query_scalar("SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
                .bind(results::id_array(results))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect()
        } else {
            ids
        };
        tx.commit().await.map_err(db_err)?;
        Ok(results::answers(results, &accepted, &existing))
    }

    async fn job(&self, job_id: i64) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(Job::try_from).transpose()
    }

    async fn jobs_with_status(&self, status: JobStatus, limit: u32) -> StoreResult<Vec<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY id LIMIT ?");
        let rows: Vec<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(status_str(status))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        jobs_from_rows(rows)
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobStatus, i64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        rows.into_iter()
            .map(|(status, n)| Ok((super::convert::parse_status(&status)?, n)))
            .collect()
    }

    async fn replay(&self, job_id: i64, now_ms: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_after_ms = ?, lease_owner = NULL, lease_until_ms = NULL, \
             updated_ms = ? WHERE id = ? AND status = 'dead'",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(job_id)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            Err(StoreError::NotFound(format!("dead job {job_id}")))
        } else {
            Ok(())
        }
    }

    async fn drop_dead(&self, job_id: i64, reason: &str, now_ms: i64) -> StoreResult<()> {
        let done = sqlx::query("UPDATE jobs SET status = 'skipped', outcome = ?, updated_ms = ? WHERE id = ? AND status = 'dead'")
            .bind(reason)
            .bind(now_ms)
            .bind(job_id)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            Err(StoreError::NotFound(format!("dead job {job_id}")))
        } else {
            Ok(())
        }
    }

    async fn link_by_crm(
        &self,
        connection: &str,
        crm_module: &str,
        crm_id: &str,
    ) -> StoreResult<Option<Link>> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT * FROM links WHERE connection = ? AND crm_module = ? AND crm_id = ?",
        )
        .bind(connection)
        .bind(crm_module)
        .bind(crm_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(row.map(Link::from))
    }

    async fn link_by_books(
        &self,
        connection: &str,
        books_entity: &str,
        books_id: &str,
    ) -> StoreResult<Option<Link>> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT * FROM links WHERE connection = ? AND books_entity = ? AND books_id = ?",
        )
        .bind(connection)
        .bind(books_entity)
        .bind(books_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(row.map(Link::from))
    }

    async fn links(&self, connection: &str, crm_module: &str) -> StoreResult<Vec<Link>> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT * FROM links WHERE connection = ? AND crm_module = ? ORDER BY crm_id",
        )
        .bind(connection)
        .bind(crm_module)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Link::from).collect())
    }

    async fn cursor(&self, connection: &str, stream: &str) -> StoreResult<Option<Cursor>> {
        let row: Option<CursorRow> =
            sqlx::query_as("SELECT * FROM cursors WHERE connection = ? AND stream = ?")
                .bind(connection)
                .bind(stream)
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(row.map(Cursor::from))
    }

    async fn add_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO audit (at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(entry.at_ms)
        .bind(&entry.actor)
        .bind(entry.job_id)
        .bind(entry.event_id)
        .bind(&entry.connection)
        .bind(&entry.system)
        .bind(&entry.module)
        .bind(&entry.record_id)
        .bind(&entry.action)
        .bind(json_text(&entry.request))
        .bind(json_text(&entry.response))
        .bind(entry.ok)
        .fetch_one(&self.writer)
        .await
        .map_err(db_err)
    }

    async fn token(&self, key: &str) -> StoreResult<Option<zoho::SealedToken>> {
        let row: Option<(String, i64)> = sqlx::query_as("SELECT sealed, expires_ms FROM tokens WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(row.map(|(sealed, expires_ms)| zoho::SealedToken { sealed, expires_ms }))
    }

    async fn save_token(&self, key: &str, token: &zoho::SealedToken, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tokens (key, sealed, expires_ms, updated_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, expires_ms = excluded.expires_ms, updated_ms = excluded.updated_ms",
        )
        .bind(key)
        .bind(&token.sealed)
        .bind(token.expires_ms)
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn audit_for_job(&self, job_id: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as("SELECT * FROM audit WHERE job_id = ? ORDER BY id")
            .bind(job_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }

    async fn audit_for_record(
        &self,
        system: &str,
        module: &str,
        record_id: &str,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> =
            sqlx::query_as("SELECT * FROM audit WHERE system = ? AND module = ? AND record_id = ? ORDER BY id DESC")
                .bind(system)
                .bind(module)
                .bind(record_id)
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}

impl Approvals for SqliteStore {
    async fn create_approval(
        &self,
        requested_by: &str,
        action: &str,
        payload: &Value,
        now_ms: i64,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO approvals (requested_by, action, payload, status, created_ms) VALUES (?, ?, ?, 'pending', ?) RETURNING id",
        )
        .bind(requested_by)
        .bind(action)
        .bind(json_text(payload))
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(db_err)
    }

    async fn decide_approval(
        &self,
        id: i64,
        approve: bool,
        decided_by: &str,
        now_ms: i64,
    ) -> StoreResult<Approval> {
        let status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        let row: Option<ApprovalRow> = sqlx::query_as(
            "UPDATE approvals SET status = ?, decided_by = ?, decided_ms = ? WHERE id = ? AND status = 'pending' RETURNING *",
        )
        .bind(approval_status_str(status))
        .bind(decided_by)
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        row.ok_or_else(|| StoreError::NotFound(format!("pending approval {id}")))?
            .try_into()
    }

    async fn approvals(&self, status: ApprovalStatus) -> StoreResult<Vec<Approval>> {
        let rows: Vec<ApprovalRow> =
            sqlx::query_as("SELECT * FROM approvals WHERE status = ? ORDER BY id")
                .bind(approval_status_str(status))
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        rows.into_iter().map(Approval::try_from).collect()
    }
}
