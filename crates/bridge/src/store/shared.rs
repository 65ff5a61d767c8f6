//! The store's methods, written once for both back ends.
//!
//! Most of the store is plain SQL both databases read word for word (sqlx numbers the
//! parameters `$1, $2, …` for both). What differs is in each back end's [`Dialect`]: how
//! JSON columns are selected and written, the claim (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, one statement under SQLite's single writer), the heartbeat's lease
//! extension, the cross-process wake-up, and the set-based statements that store a
//! batch of events ([`InboxSql`]) or of results ([`RecordSql`]). The steps around those
//! statements are the same and live here. The statements built from a dialect are
//! formatted once per process ([`Statements`]).
//!
//! The methods are written into each back end's `impl Store` and `impl Approvals` by
//! [`shared_store_methods!`] and [`shared_approvals!`]. (Functions generic over sqlx's
//! `Database` would need the same half-dozen `for<'q>` bounds repeated on each one;
//! the macros expand to exactly the plain code each back end used to repeat.) A back
//! end provides, as inherent methods: `reader()` and `writer()`, the pools reads and
//! writes go to; `begin()`, a write transaction; `enqueued(n)`, told after a commit that
//! enqueued `n` jobs; `signal()`, the [`JobSignal`](super::JobSignal) its clones share.
//!
//! No transaction here awaits anything but its own statements: on SQLite the one writer
//! connection is the whole process's, so a transaction held across another await would
//! stall every writer (see `worker.rs` for the stall that taught this).

/// How one back end spells what the two databases spell differently.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The `jobs` columns, in [`rows::JOB_COLUMNS`](super::rows::JOB_COLUMNS) order,
    /// JSON as text.
    pub job_columns: &'static str,
    /// The `events` columns, JSON as text.
    pub event_columns: &'static str,
    /// The `audit` columns, JSON as text.
    pub audit_columns: &'static str,
    /// The `approvals` columns, JSON as text.
    pub approval_columns: &'static str,
    /// The `snapshots.fields` column as text.
    pub snapshot_fields: &'static str,
    /// Appended to a parameter carrying JSON text into a JSON column (`::jsonb`).
    pub json_in: &'static str,
    /// Extends to `$1` the leases worker `$2` holds among the job ids in the JSON array
    /// `$3`, in one statement; returns the ids extended.
    pub extend_leases: &'static str,
    /// Run inside a transaction that enqueued jobs, to wake the workers of other
    /// processes when it commits (PostgreSQL's `NOTIFY`); `None` where there is no such
    /// channel (SQLite: other processes poll).
    pub notify: Option<&'static str>,
    /// Claims the jobs [`runnable_jobs!`] picks for worker `$1`, leased until `$2`.
    /// `RETURNING` and the job columns are appended.
    pub claim: &'static str,
    /// The statements that store a batch of events.
    pub inbox: InboxSql,
    /// The statements that store a batch of results.
    pub record: RecordSql,
}

/// The ids of up to `$4` jobs runnable at time `$3`, oldest first, as SQL text: queued
/// ones due to run and running ones whose lease ran out, never one whose key has an
/// older unfinished job or a job running under a live lease (per-record order: two jobs
/// of one record never run at once nor out of order). Each back end's claim statement
/// wraps it (`concat!`), PostgreSQL adding its row locks.
macro_rules! runnable_jobs {
    () => {
        "SELECT j.id FROM jobs j \
         WHERE j.status IN ('queued', 'running') \
           AND ((j.status = 'queued' AND j.run_after_ms <= $3) OR (j.status = 'running' AND j.lease_until_ms <= $3)) \
           AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.key = j.key AND e.id <> j.id \
               AND e.status IN ('queued', 'running') \
               AND (e.id < j.id OR (e.status = 'running' AND e.lease_until_ms > $3))) \
         ORDER BY j.id LIMIT $4"
    };
}

/// The two statements of [`Store::add_events`](super::Store::add_events), each taking
/// its rows as one JSON array in `$1` (built by [`inbox`](super::inbox)) and the time in
/// `$2`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InboxSql {
    /// Inserts the events, in the order given; a dedup key already stored inserts nothing.
    /// Returns `(id, dedup_key)` of the new ones.
    pub events: &'static str,
    /// Inserts the new events' jobs, in the order given.
    pub jobs: &'static str,
}

/// The statements of [`Store::record`](super::Store::record), each taking its rows as
/// one JSON array in `$1` (built by [`results`](super::results)): the set-based reading
/// of that array is what differs between the databases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordSql {
    /// A subquery reading the results in `$1` as rows `(id, kind, outcome, error,
    /// retryable, max_attempts, retry_at_ms)`, for [`jobs_from_results`].
    pub results: &'static str,
    /// A query reading the links in `$1` as rows `(connection, relation, crm_id,
    /// books_id, crm_hash, books_hash, updated_ms)`, for [`upsert_links`].
    pub links: &'static str,
    /// A query reading the snapshots in `$1` as rows `(connection, flow, system, module,
    /// record_id, fields, updated_ms)`, for [`upsert_snapshots`].
    pub snapshots: &'static str,
    /// Inserts the audit entries not stored before the write.
    pub audit_inserts: &'static str,
    /// Completes the audit entries stored before the write with Zoho's answer.
    pub audit_answers: &'static str,
    /// Selects which of the given job ids exist.
    pub existing: &'static str,
}

/// The UPDATE that stores the results read by `results` (a [`RecordSql::results`]) on
/// the jobs still leased to worker `$2`, at time `$3`: done and skipped jobs end; a
/// failed one is queued again at its retry time while retryable and under its attempts,
/// else dead-lettered with its error. Returns `(id, status)` of each job updated.
///
/// The results are materialised first so that each one looks its job up by id. Joined
/// directly, SQLite walked every running job and read the whole batch for each: 25 s for
/// a batch of 5,000 results, against 0.03 s this way.
pub(crate) fn jobs_from_results(results: &str) -> String {
    format!(
        "WITH r AS MATERIALIZED {results} \
         UPDATE jobs SET \
           status = CASE r.kind WHEN 'fail' THEN \
               (CASE WHEN r.retryable AND jobs.attempts < r.max_attempts THEN 'queued' ELSE 'dead' END) \
             ELSE r.kind END, \
           outcome = CASE r.kind WHEN 'fail' THEN jobs.outcome ELSE r.outcome END, \
           last_error = CASE r.kind WHEN 'fail' THEN r.error ELSE jobs.last_error END, \
           run_after_ms = CASE WHEN r.kind = 'fail' AND r.retryable AND jobs.attempts < r.max_attempts \
             THEN r.retry_at_ms WHEN r.kind = 'fail' THEN $3 ELSE jobs.run_after_ms END, \
           lease_owner = NULL, lease_until_ms = NULL, updated_ms = $3 \
         FROM r \
         WHERE jobs.id = r.id AND jobs.status = 'running' AND jobs.lease_owner = $2 \
         RETURNING jobs.id, jobs.status"
    )
}

/// The upsert of the links read by `rows` (a [`RecordSql::links`]): within a relation a
/// CRM record's link points at the Books record written last, and a hash the result does
/// not carry keeps its previous value (a write one way does not forget what was written
/// the other way).
pub(crate) fn upsert_links(rows: &str) -> String {
    format!(
        "INSERT INTO links (connection, relation, crm_id, books_id, crm_hash, books_hash, updated_ms) \
         {rows} \
         ON CONFLICT (connection, relation, crm_id) DO UPDATE SET \
           books_id = excluded.books_id, \
           crm_hash = COALESCE(excluded.crm_hash, links.crm_hash), \
           books_hash = COALESCE(excluded.books_hash, links.books_hash), \
           updated_ms = excluded.updated_ms"
    )
}

/// The upsert of the snapshots read by `rows` (a [`RecordSql::snapshots`]): the newest
/// replaces what the flow saw before.
pub(crate) fn upsert_snapshots(rows: &str) -> String {
    format!(
        "INSERT INTO snapshots (connection, flow, system, module, record_id, fields, updated_ms) \
         {rows} \
         ON CONFLICT (connection, flow, system, module, record_id) DO UPDATE SET \
           fields = excluded.fields, updated_ms = excluded.updated_ms"
    )
}

/// Every statement whose text depends on the back end, formatted once per process from
/// its [`Dialect`] (each back end keeps its own in a `LazyLock`): a store call only binds
/// parameters, it builds no SQL.
pub(crate) struct Statements {
    /// The back end's spelling, for the statements used as they are.
    pub d: Dialect,
    /// [`jobs_from_results`] over the back end's reading of a results batch.
    pub jobs_from_results: String,
    /// [`upsert_links`] over the back end's reading of a links batch.
    pub upsert_links: String,
    /// [`upsert_snapshots`] over the back end's reading of a snapshots batch.
    pub upsert_snapshots: String,
    /// The statement of `event`.
    pub event: String,
    /// The statement of `events_for_record`.
    pub events_for_record: String,
    /// The statement of `claim`.
    pub claim: String,
    /// The statement of `job`.
    pub job: String,
    /// The statement of `jobs_with_status`.
    pub jobs_with_status: String,
    /// The statement of `event_by_key`.
    pub event_by_key: String,
    /// The statement of `jobs_for_event`.
    pub jobs_for_event: String,
    /// The statement of `recent_jobs`.
    pub recent_jobs: String,
    /// The statement of `link_by_crm`.
    pub link_by_crm: String,
    /// The statement of `link_by_books`.
    pub link_by_books: String,
    /// The statement of `links`.
    pub links: String,
    /// The statement of `snapshot`.
    pub snapshot: String,
    /// The statement of `add_audit`.
    pub add_audit: String,
    /// The statement of `audit_for_job`.
    pub audit_for_job: String,
    /// The statement of `audit_for_record`.
    pub audit_for_record: String,
    /// The statement of `audit_by_action`.
    pub audit_by_action: String,
    /// The statement of `create_approval`.
    pub create_approval: String,
    /// The statement of `decide_approval`.
    pub decide_approval: String,
    /// The statement of `approvals`.
    pub approvals: String,
    /// The statement of `approval`.
    pub approval: String,
}

impl Statements {
    /// The statements of dialect `d`.
    pub fn new(d: Dialect) -> Statements {
        Statements {
            jobs_from_results: jobs_from_results(d.record.results),
            upsert_links: upsert_links(d.record.links),
            upsert_snapshots: upsert_snapshots(d.record.snapshots),
            event: format!("SELECT {} FROM events WHERE id = $1", d.event_columns),
            events_for_record: format!("SELECT {} FROM events WHERE system = $1 AND module = $2 AND record_id = $3 ORDER BY id DESC LIMIT $4", d.event_columns),
            claim: format!("{} RETURNING {}", d.claim, d.job_columns),
            job: format!("SELECT {} FROM jobs WHERE id = $1", d.job_columns),
            jobs_with_status: format!("SELECT {} FROM jobs WHERE status = $1 ORDER BY id LIMIT $2", d.job_columns),
            event_by_key: format!("SELECT {} FROM events WHERE dedup_key = $1", d.event_columns),
            jobs_for_event: format!("SELECT {} FROM jobs WHERE event_id = $1 ORDER BY id", d.job_columns),
            recent_jobs: format!(
                "SELECT {} FROM jobs WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR flow = $2) ORDER BY id DESC LIMIT $3",
                d.job_columns
            ),
            link_by_crm: format!("SELECT {} FROM links WHERE connection = $1 AND relation = $2 AND crm_id = $3", super::rows::LINK_COLUMNS),
            link_by_books: format!("SELECT {} FROM links WHERE connection = $1 AND relation = $2 AND books_id = $3", super::rows::LINK_COLUMNS),
            links: format!("SELECT {} FROM links WHERE connection = $1 AND relation = $2 ORDER BY crm_id", super::rows::LINK_COLUMNS),
            snapshot: format!(
                "SELECT {} FROM snapshots WHERE connection = $1 AND flow = $2 AND system = $3 AND module = $4 AND record_id = $5",
                d.snapshot_fields
            ),
            add_audit: {
                let json = d.json_in;
                format!(
                    "INSERT INTO audit (at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10{json}, $11{json}, $12) RETURNING id"
                )
            },
            audit_for_job: format!("SELECT {} FROM audit WHERE job_id = $1 ORDER BY id", d.audit_columns),
            audit_for_record: format!("SELECT {} FROM audit WHERE system = $1 AND module = $2 AND record_id = $3 ORDER BY id DESC", d.audit_columns),
            audit_by_action: format!("SELECT {} FROM audit WHERE action = $1 ORDER BY id DESC LIMIT $2", d.audit_columns),
            create_approval: format!(
                "INSERT INTO approvals (requested_by, action, payload, status, created_ms) \
                     VALUES ($1, $2, $3{}, 'pending', $4) RETURNING id",
                d.json_in
            ),
            decide_approval: format!(
                "UPDATE approvals SET status = $1, decided_by = $2, decided_ms = $3 WHERE id = $4 AND status = 'pending' \
                     RETURNING {}",
                d.approval_columns
            ),
            approvals: format!("SELECT {} FROM approvals WHERE status = $1 ORDER BY id", d.approval_columns),
            approval: format!("SELECT {} FROM approvals WHERE id = $1", d.approval_columns),
            d,
        }
    }
}

/// The [`Store`](super::Store) methods, for the `impl Store` of a back end with the
/// inherent methods listed at the top of this file; `$sql` is its [`Statements`].
macro_rules! shared_store_methods {
    // Inserts a batch of events and the new events' jobs inside transaction `$tx`;
    // evaluates to what storing each event did.
    (@insert_events $sql:expr, $tx:ident, $events:ident, $now_ms:ident) => {{
        use $crate::store::{convert::db_err, inbox};
        let returned: Vec<(i64, String)> = sqlx::query_as($sql.d.inbox.events)
            .bind(inbox::event_rows($events))
            .bind($now_ms)
            .fetch_all(&mut *$tx)
            .await
            .map_err(db_err)?;
        let out = inbox::inserted($events, returned);
        if let Some(rows) = inbox::job_rows($events, &out) {
            sqlx::query($sql.d.inbox.jobs).bind(rows).bind($now_ms).execute(&mut *$tx).await.map_err(db_err)?;
        }
        out
    }};
    // Inside transaction `$tx` that enqueued `$jobs` jobs: wakes other processes' workers
    // at commit, where the back end can.
    (@notify $sql:expr, $tx:ident, $jobs:expr) => {{
        if let Some(notify) = $sql.d.notify
            && $jobs > 0
        {
            sqlx::query(notify).execute(&mut *$tx).await.map_err($crate::store::convert::db_err)?;
        }
    }};
    ($sql:expr) => {
        fn job_watch(&self) -> $crate::store::JobWatch {
            self.signal().watch()
        }

        async fn event(&self, event_id: i64) -> $crate::store::StoreResult<Option<$crate::store::StoredEvent>> {
            let sql = $sql.event.as_str();
            let row: Option<$crate::store::rows::EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(event_id)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            row.map($crate::store::StoredEvent::try_from).transpose()
        }

        async fn event_by_key(&self, dedup_key: &str) -> $crate::store::StoreResult<Option<$crate::store::StoredEvent>> {
            let sql = $sql.event_by_key.as_str();
            let row: Option<$crate::store::rows::EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(dedup_key)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            row.map($crate::store::StoredEvent::try_from).transpose()
        }

        async fn events_for_record(
            &self,
            system: &str,
            module: &str,
            record_id: &str,
            limit: u32,
        ) -> $crate::store::StoreResult<Vec<$crate::store::StoredEvent>> {
            let sql = $sql.events_for_record.as_str();
            let rows: Vec<$crate::store::rows::EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(system)
                .bind(module)
                .bind(record_id)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            rows.into_iter().map($crate::store::StoredEvent::try_from).collect()
        }

        async fn add_event(
            &self,
            event: &$crate::store::NewEvent,
            jobs: &[$crate::store::NewJob],
            now_ms: i64,
        ) -> $crate::store::StoreResult<$crate::store::Inserted> {
            let batch = [(event.clone(), jobs.to_vec())];
            let mut inserted = $crate::store::Store::add_events(self, &batch, now_ms).await?;
            Ok(inserted.pop().unwrap_or($crate::store::Inserted::Duplicate))
        }

        async fn add_events(
            &self,
            events: &[($crate::store::NewEvent, Vec<$crate::store::NewJob>)],
            now_ms: i64,
        ) -> $crate::store::StoreResult<Vec<$crate::store::Inserted>> {
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let mut tx = self.begin().await?;
            let out = shared_store_methods!(@insert_events $sql, tx, events, now_ms);
            let enqueued = $crate::store::inbox::jobs_enqueued(events, &out);
            shared_store_methods!(@notify $sql, tx, enqueued);
            tx.commit().await.map_err($crate::store::convert::db_err)?;
            self.enqueued(enqueued);
            $crate::telemetry::count_events(events, &out);
            Ok(out)
        }

        async fn add_events_and_move_cursor(
            &self,
            events: &[($crate::store::NewEvent, Vec<$crate::store::NewJob>)],
            cursor: &$crate::store::Cursor,
            now_ms: i64,
        ) -> $crate::store::StoreResult<Vec<$crate::store::Inserted>> {
            use $crate::store::convert::db_err;
            let mut tx = self.begin().await?;
            let out = shared_store_methods!(@insert_events $sql, tx, events, now_ms);
            sqlx::query(
                "INSERT INTO cursors (connection, stream, position_ms, updated_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (connection, stream) DO UPDATE SET position_ms = excluded.position_ms, updated_ms = excluded.updated_ms",
            )
            .bind(&cursor.connection)
            .bind(&cursor.stream)
            .bind(cursor.position_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let enqueued = $crate::store::inbox::jobs_enqueued(events, &out);
            shared_store_methods!(@notify $sql, tx, enqueued);
            tx.commit().await.map_err(db_err)?;
            self.enqueued(enqueued);
            $crate::telemetry::count_events(events, &out);
            Ok(out)
        }

        async fn claim(
            &self,
            worker: &str,
            now_ms: i64,
            lease_ms: i64,
            limit: u32,
        ) -> $crate::store::StoreResult<Vec<$crate::store::Job>> {
            let sql = $sql.claim.as_str();
            let rows: Vec<$crate::store::rows::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(worker)
                .bind(now_ms.saturating_add(lease_ms))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(self.writer())
                .await
                .map_err($crate::store::convert::db_err)?;
            $crate::store::rows::jobs_from_rows(rows)
        }

        async fn extend_lease(&self, job_id: i64, worker: &str, until_ms: i64) -> $crate::store::StoreResult<()> {
            use $crate::store::{Store, StoreError};
            // One statement (no transaction, no read first): it holds SQLite's writer only
            // for the update itself.
            if !Store::extend_leases(self, worker, &[job_id], until_ms).await?.is_empty() {
                return Ok(());
            }
            match Store::job(self, job_id).await? {
                None => Err(StoreError::NotFound(format!("job {job_id}"))),
                Some(_) => Err(StoreError::LeaseLost(job_id)),
            }
        }

        async fn extend_leases(&self, worker: &str, job_ids: &[i64], until_ms: i64) -> $crate::store::StoreResult<Vec<i64>> {
            if job_ids.is_empty() {
                return Ok(Vec::new());
            }
            let ids = serde_json::Value::from(job_ids.to_vec()).to_string();
            // On PostgreSQL the update locks each row and re-checks the owner on its newest
            // version, so a claim taking an expired lease over and this extension cannot
            // both win.
            sqlx::query_scalar($sql.d.extend_leases)
                .bind(until_ms)
                .bind(worker)
                .bind(ids)
                .fetch_all(self.writer())
                .await
                .map_err($crate::store::convert::db_err)
        }

        async fn record(
            &self,
            worker: &str,
            results: &[(i64, $crate::store::JobResult)],
            now_ms: i64,
        ) -> $crate::store::StoreResult<Vec<$crate::store::StoreResult<$crate::store::JobStatus>>> {
            use $crate::store::{convert::db_err, results};
            if results.is_empty() {
                return Ok(Vec::new());
            }
            let sql = $sql.d.record;
            let mut tx = self.begin().await?;
            // Only rows still leased to `worker` are updated; RETURNING names them.
            let jobs = $sql.jobs_from_results.as_str();
            let returned: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(jobs))
                .bind(results::job_rows(results))
                .bind(worker)
                .bind(now_ms)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
            let accepted = results::accepted(returned)?;
            let ids: std::collections::HashSet<i64> = accepted.keys().copied().collect();
            if let Some(rows) = results::link_rows(results, &ids, now_ms) {
                let upsert = $sql.upsert_links.as_str();
                sqlx::query(sqlx::AssertSqlSafe(upsert)).bind(rows).execute(&mut *tx).await.map_err(db_err)?;
            }
            if let Some(rows) = results::snapshot_rows(results, &ids, now_ms) {
                let upsert = $sql.upsert_snapshots.as_str();
                sqlx::query(sqlx::AssertSqlSafe(upsert)).bind(rows).execute(&mut *tx).await.map_err(db_err)?;
            }
            let (inserts, answers) = results::audit_rows(results);
            if let Some(rows) = inserts {
                sqlx::query(sql.audit_inserts).bind(rows).execute(&mut *tx).await.map_err(db_err)?;
            }
            if let Some(rows) = answers {
                sqlx::query(sql.audit_answers).bind(rows).execute(&mut *tx).await.map_err(db_err)?;
            }
            // Tell a lost lease from a job that does not exist (rare: only when some are missing).
            let existing: std::collections::HashSet<i64> = if accepted.len() < results.len() {
                sqlx::query_scalar(sql.existing)
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
            if !accepted.is_empty() {
                // A job that ended may have been holding its record's next job back.
                self.signal().notify();
            }
            Ok(results::answers(results, &accepted, &existing))
        }

        async fn job(&self, job_id: i64) -> $crate::store::StoreResult<Option<$crate::store::Job>> {
            let sql = $sql.job.as_str();
            let row: Option<$crate::store::rows::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(job_id)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            row.map($crate::store::Job::try_from).transpose()
        }

        async fn jobs_for_event(&self, event_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::Job>> {
            let sql = $sql.jobs_for_event.as_str();
            let rows: Vec<$crate::store::rows::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(event_id)
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            $crate::store::rows::jobs_from_rows(rows)
        }

        async fn jobs_with_status(
            &self,
            status: $crate::store::JobStatus,
            limit: u32,
        ) -> $crate::store::StoreResult<Vec<$crate::store::Job>> {
            let sql = $sql.jobs_with_status.as_str();
            let rows: Vec<$crate::store::rows::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind($crate::store::convert::status_str(status))
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            $crate::store::rows::jobs_from_rows(rows)
        }

        async fn recent_jobs(
            &self,
            status: Option<$crate::store::JobStatus>,
            flow: Option<&str>,
            limit: u32,
        ) -> $crate::store::StoreResult<Vec<$crate::store::Job>> {
            let sql = $sql.recent_jobs.as_str();
            let rows: Vec<$crate::store::rows::JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(status.map($crate::store::convert::status_str))
                .bind(flow)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            // jobs_from_rows sorts oldest first: newest first again.
            let mut jobs = $crate::store::rows::jobs_from_rows(rows)?;
            jobs.reverse();
            Ok(jobs)
        }

        async fn job_counts(&self) -> $crate::store::StoreResult<Vec<($crate::store::JobStatus, i64)>> {
            let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            rows.into_iter().map(|(status, n)| Ok(($crate::store::convert::parse_status(&status)?, n))).collect()
        }

        async fn replay(&self, job_id: i64, now_ms: i64) -> $crate::store::StoreResult<()> {
            use $crate::store::convert::db_err;
            let mut tx = self.begin().await?;
            let done = sqlx::query(
                "UPDATE jobs SET status = 'queued', attempts = 0, run_after_ms = $1, lease_owner = NULL, lease_until_ms = NULL, \
                 updated_ms = $1 WHERE id = $2 AND status = 'dead'",
            )
            .bind(now_ms)
            .bind(job_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if done == 0 {
                return Err($crate::store::StoreError::NotFound(format!("dead job {job_id}")));
            }
            // `admin replay` runs in its own process: tell the workers.
            shared_store_methods!(@notify $sql, tx, done);
            tx.commit().await.map_err(db_err)?;
            self.enqueued(done);
            Ok(())
        }

        async fn drop_dead(&self, job_id: i64, reason: &str, now_ms: i64) -> $crate::store::StoreResult<()> {
            let done = sqlx::query("UPDATE jobs SET status = 'skipped', outcome = $1, updated_ms = $2 WHERE id = $3 AND status = 'dead'")
                .bind(reason)
                .bind(now_ms)
                .bind(job_id)
                .execute(self.writer())
                .await
                .map_err($crate::store::convert::db_err)?;
            match done.rows_affected() {
                0 => Err($crate::store::StoreError::NotFound(format!("dead job {job_id}"))),
                _ => Ok(()),
            }
        }

        async fn prune(&self, before_ms: i64) -> $crate::store::StoreResult<$crate::store::Pruned> {
            use $crate::store::{PRUNE_BATCH, convert::db_err};
            let mut pruned = $crate::store::Pruned::default();
            loop {
                let mut tx = self.begin().await?;
                let jobs = sqlx::query(
                    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('done', 'skipped') \
                     AND updated_ms < $1 ORDER BY id LIMIT $2)",
                )
                .bind(before_ms)
                .bind(PRUNE_BATCH)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                // Oldest first: ids grow with arrival, so the scan stops at the batch.
                let events = sqlx::query(
                    "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_ms < $1 \
                     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id) ORDER BY e.id LIMIT $2)",
                )
                .bind(before_ms)
                .bind(PRUNE_BATCH)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
                tx.commit().await.map_err(db_err)?;
                pruned.jobs += jobs;
                pruned.events += events;
                if jobs < PRUNE_BATCH as u64 && events < PRUNE_BATCH as u64 {
                    return Ok(pruned);
                }
            }
        }

        async fn link_by_crm(
            &self,
            connection: &str,
            relation: &str,
            crm_id: &str,
        ) -> $crate::store::StoreResult<Option<$crate::store::Link>> {
            let sql = $sql.link_by_crm.as_str();
            let row: Option<$crate::store::rows::LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(connection)
                .bind(relation)
                .bind(crm_id)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            Ok(row.map($crate::store::Link::from))
        }

        async fn link_by_books(
            &self,
            connection: &str,
            relation: &str,
            books_id: &str,
        ) -> $crate::store::StoreResult<Option<$crate::store::Link>> {
            let sql = $sql.link_by_books.as_str();
            let row: Option<$crate::store::rows::LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(connection)
                .bind(relation)
                .bind(books_id)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            Ok(row.map($crate::store::Link::from))
        }

        async fn links(&self, connection: &str, relation: &str) -> $crate::store::StoreResult<Vec<$crate::store::Link>> {
            let sql = $sql.links.as_str();
            let rows: Vec<$crate::store::rows::LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(connection)
                .bind(relation)
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            Ok(rows.into_iter().map($crate::store::Link::from).collect())
        }

        async fn snapshot(
            &self,
            connection: &str,
            flow: &str,
            record: &$crate::store::RecordRef,
        ) -> $crate::store::StoreResult<Option<serde_json::Value>> {
            let sql = $sql.snapshot.as_str();
            let fields: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(connection)
                .bind(flow)
                .bind(record.system.as_str())
                .bind(&record.module)
                .bind(&record.id)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            fields.map(|f| $crate::store::convert::parse_json(&f, "snapshots.fields")).transpose()
        }

        async fn cursor(&self, connection: &str, stream: &str) -> $crate::store::StoreResult<Option<$crate::store::Cursor>> {
            let row: Option<$crate::store::rows::CursorRow> =
                sqlx::query_as("SELECT * FROM cursors WHERE connection = $1 AND stream = $2")
                    .bind(connection)
                    .bind(stream)
                    .fetch_optional(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
            Ok(row.map($crate::store::Cursor::from))
        }

        async fn add_audit(&self, entry: &$crate::store::AuditEntry) -> $crate::store::StoreResult<i64> {
            let sql = $sql.add_audit.as_str();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(entry.at_ms)
                .bind(&entry.actor)
                .bind(entry.job_id)
                .bind(entry.event_id)
                .bind(&entry.connection)
                .bind(&entry.system)
                .bind(&entry.module)
                .bind(&entry.record_id)
                .bind(&entry.action)
                .bind($crate::store::convert::json_text(&entry.request))
                .bind($crate::store::convert::json_text(&entry.response))
                .bind(entry.ok)
                .fetch_one(self.writer())
                .await
                .map_err($crate::store::convert::db_err)
        }

        async fn token(&self, key: &str) -> $crate::store::StoreResult<Option<zoho::SealedToken>> {
            let row: Option<(String, i64)> = sqlx::query_as("SELECT sealed, expires_ms FROM tokens WHERE key = $1")
                .bind(key)
                .fetch_optional(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            Ok(row.map(|(sealed, expires_ms)| zoho::SealedToken { sealed, expires_ms }))
        }

        async fn save_token(&self, key: &str, token: &zoho::SealedToken, now_ms: i64) -> $crate::store::StoreResult<()> {
            sqlx::query(
                "INSERT INTO tokens (key, sealed, expires_ms, updated_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, expires_ms = excluded.expires_ms, updated_ms = excluded.updated_ms",
            )
            .bind(key)
            .bind(&token.sealed)
            .bind(token.expires_ms)
            .bind(now_ms)
            .execute(self.writer())
            .await
            .map_err($crate::store::convert::db_err)?;
            Ok(())
        }

        async fn audit_for_job(&self, job_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::AuditEntry>> {
            let sql = $sql.audit_for_job.as_str();
            let rows: Vec<$crate::store::rows::AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(job_id)
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            rows.into_iter().map($crate::store::AuditEntry::try_from).collect()
        }

        async fn audit_for_record(
            &self,
            system: &str,
            module: &str,
            record_id: &str,
        ) -> $crate::store::StoreResult<Vec<$crate::store::AuditEntry>> {
            let sql = $sql.audit_for_record.as_str();
            let rows: Vec<$crate::store::rows::AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(system)
                .bind(module)
                .bind(record_id)
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            rows.into_iter().map($crate::store::AuditEntry::try_from).collect()
        }

        async fn audit_by_action(&self, action: &str, limit: u32) -> $crate::store::StoreResult<Vec<$crate::store::AuditEntry>> {
            let sql = $sql.audit_by_action.as_str();
            let rows: Vec<$crate::store::rows::AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(action)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err($crate::store::convert::db_err)?;
            rows.into_iter().map($crate::store::AuditEntry::try_from).collect()
        }

        async fn count_audit_action(&self, action: &str) -> $crate::store::StoreResult<i64> {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = $1")
                .bind(action)
                .fetch_one(self.reader())
                .await
                .map_err($crate::store::convert::db_err)
        }
    };
}

/// `impl Approvals for $store`, the same SQL on both back ends; `$sql` is the store's
/// [`Statements`].
macro_rules! shared_approvals {
    ($store:ty, $sql:expr) => {
        impl $crate::store::Approvals for $store {
            async fn create_approval(&self, requested_by: &str, action: &str, payload: &serde_json::Value, now_ms: i64) -> $crate::store::StoreResult<i64> {
                let sql = $sql.create_approval.as_str();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(requested_by)
                    .bind(action)
                    .bind($crate::store::convert::json_text(payload))
                    .bind(now_ms)
                    .fetch_one(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)
            }

            async fn decide_approval(&self, id: i64, approve: bool, decided_by: &str, now_ms: i64) -> $crate::store::StoreResult<$crate::store::Approval> {
                let status = if approve { $crate::store::ApprovalStatus::Approved } else { $crate::store::ApprovalStatus::Rejected };
                let sql = $sql.decide_approval.as_str();
                let row: Option<$crate::store::rows::ApprovalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind($crate::store::convert::approval_status_str(status))
                    .bind(decided_by)
                    .bind(now_ms)
                    .bind(id)
                    .fetch_optional(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                row.ok_or_else(|| $crate::store::StoreError::NotFound(format!("pending approval {id}")))?.try_into()
            }

            async fn approval(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::Approval>> {
                let sql = $sql.approval.as_str();
                let row: Option<$crate::store::rows::ApprovalRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.reader()).await.map_err($crate::store::convert::db_err)?;
                row.map($crate::store::Approval::try_from).transpose()
            }

            async fn approvals(&self, status: $crate::store::ApprovalStatus) -> $crate::store::StoreResult<Vec<$crate::store::Approval>> {
                let sql = $sql.approvals.as_str();
                let rows: Vec<$crate::store::rows::ApprovalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind($crate::store::convert::approval_status_str(status))
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::Approval::try_from).collect()
            }

            async fn count_approvals(&self, status: $crate::store::ApprovalStatus) -> $crate::store::StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE status = $1")
                    .bind($crate::store::convert::approval_status_str(status))
                    .fetch_one(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)
            }
        }
    };
}

pub(crate) use {runnable_jobs, shared_approvals, shared_store_methods};
