//! The PostgreSQL back end: several workers (and processes) sharing one database.
//!
//! Jobs are claimed with `FOR UPDATE SKIP LOCKED` (as crates.io's worker does), so
//! concurrent claimers never wait on each other nor take the same job. Storing results
//! and extending leases update only the rows still leased to the worker (PostgreSQL
//! re-checks that on the row's newest version once it holds the lock), so a claim taking
//! over an expired lease and the old worker's result cannot both win. A transaction that
//! enqueues jobs sends a `NOTIFY` on `zoho_bridge_jobs`; each store listens on a
//! connection of its own and wakes its process's idle workers, so a job enqueued by
//! `serve` is picked up at once by a `zoho-bridge worker` elsewhere. JSON is stored as `jsonb`
//! and travels as text (`$n::jsonb` in, `::text` out) so both back ends share decoding.
//!
//! The methods of [`Store`] are the shared ones ([`super::shared`]); this file holds how
//! to connect, the statements PostgreSQL spells its own way ([`PG`]) and the upkeep of
//! the queue's statistics.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Transaction};

use super::convert::{db_err, migrate_err};
use super::matching::shared_matching;
use super::redact::{redact_message, redact_url};
use super::shared::{Dialect, InboxSql, RecordSql, Statements, runnable_jobs, shared_approvals, shared_store_methods};
use super::{JobSignal, Store, StoreError, StoreResult};

/// Connections per process: enough for a few workers, triggers and the dashboard on 2 cores.
const MAX_CONNECTIONS: u32 = 8;

/// Job columns with JSON as text.
const JOB_COLUMNS_PG: &str = "jobs.id, jobs.event_id, jobs.flow, jobs.key, jobs.payload::text AS payload, jobs.status, \
     jobs.attempts, jobs.run_after_ms, jobs.lease_owner, jobs.lease_until_ms, jobs.last_error, jobs.outcome, \
     jobs.created_ms, jobs.updated_ms";

/// Event columns with JSON as text.
const EVENT_COLUMNS_PG: &str = "id, source, connection, system, module, record_id, modified_ms, payload::text AS payload, dedup_key, received_ms";

/// Audit columns with JSON as text.
const AUDIT_COLUMNS_PG: &str = "id, at_ms, actor, job_id, event_id, connection, system, module, record_id, action, \
     request::text AS request, response::text AS response, ok";

/// Approval columns with JSON as text.
const APPROVAL_COLUMNS_PG: &str = "id, requested_by, action, payload::text AS payload, status, decided_by, created_ms, decided_ms";

/// How PostgreSQL claims jobs (the shared code appends `RETURNING` and the job columns).
/// Rows another claimer has locked are skipped; a later job of a key whose earlier
/// job is locked is still excluded, because the earlier one is unfinished in this
/// statement's snapshot. After a lock is taken PostgreSQL re-checks the row's
/// conditions on its newest version, so a job just claimed by someone else drops out.
const CLAIM: &str = concat!(
    "WITH picked AS (",
    runnable_jobs!(),
    " FOR UPDATE OF j SKIP LOCKED) \
     UPDATE jobs SET status = 'running', lease_owner = $1, lease_until_ms = $2, attempts = jobs.attempts + 1, updated_ms = $3 \
     FROM picked WHERE jobs.id = picked.id"
);

/// How PostgreSQL inserts a batch of events and then the new events' jobs.
const INBOX: InboxSql = InboxSql {
    events: "INSERT INTO events (source, connection, system, module, record_id, modified_ms, payload, dedup_key, received_ms) \
        SELECT e ->> 'source', e ->> 'connection', e ->> 'system', e ->> 'module', e ->> 'record_id', \
               (e ->> 'modified_ms')::bigint, (e ->> 'payload')::jsonb, e ->> 'dedup_key', $2 \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n \
        ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key",
    jobs: "INSERT INTO jobs (event_id, flow, key, payload, status, attempts, run_after_ms, created_ms, updated_ms) \
        SELECT (e ->> 'event_id')::bigint, e ->> 'flow', e ->> 'key', (e ->> 'payload')::jsonb, 'queued', 0, $2, $2, $2 \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n",
};

/// How PostgreSQL stores a batch of results ([`Store::record`]): the batch arrives as JSON
/// read with `jsonb_to_recordset`. The jobs UPDATE locks each row; a claim that took an
/// expired lease over meanwhile has changed `lease_owner`, and PostgreSQL re-checks the
/// condition on the newest version, so only jobs still leased to the worker are updated.
const RECORD: RecordSql = RecordSql {
    results: "(SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, kind text, outcome text, error text, \
          retryable boolean, max_attempts integer, retry_at_ms bigint) ORDER BY id)",
    links: "SELECT connection, relation, crm_id, books_id, crm_hash, books_hash, updated_ms \
        FROM jsonb_to_recordset($1::jsonb) AS x(connection text, relation text, crm_id text, books_id text, \
          crm_hash text, books_hash text, updated_ms bigint)",
    snapshots: "SELECT connection, flow, system, module, record_id, fields::jsonb, updated_ms \
        FROM jsonb_to_recordset($1::jsonb) AS x(connection text, flow text, system text, module text, \
          record_id text, fields text, updated_ms bigint)",
    audit_inserts: "INSERT INTO audit (at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok) \
        SELECT at_ms, actor, job_id, event_id, connection, system, module, record_id, action, \
               request::jsonb, response::jsonb, ok \
        FROM jsonb_to_recordset($1::jsonb) AS x(at_ms bigint, actor text, job_id bigint, event_id bigint, \
             connection text, system text, module text, record_id text, action text, request text, \
             response text, ok boolean)",
    audit_answers: "UPDATE audit SET action = x.action, record_id = x.record_id, response = x.response::jsonb, ok = x.ok \
        FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, action text, record_id text, response text, ok boolean) \
        WHERE audit.id = x.id",
    existing: "SELECT id FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
};

/// The channel on which a transaction that enqueued jobs tells the workers of every
/// process sharing the database.
const CHANNEL: &str = "zoho_bridge_jobs";

/// Sent inside the enqueuing transaction: PostgreSQL delivers it at commit (and folds the
/// identical notices of one transaction into one).
const NOTIFY: &str = "SELECT pg_notify('zoho_bridge_jobs', '')";

/// Pause before the listener tries again after an error.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

/// How PostgreSQL spells the queries both back ends share: JSON is `jsonb`, read as text.
const PG: Dialect = Dialect {
    job_columns: JOB_COLUMNS_PG,
    event_columns: EVENT_COLUMNS_PG,
    audit_columns: AUDIT_COLUMNS_PG,
    approval_columns: APPROVAL_COLUMNS_PG,
    snapshot_fields: "fields::text",
    json_in: "::jsonb",
    // The rows are locked in id order, as the results' update meets them, so that a
    // beat and a batch of results of one worker never wait on each other in a circle.
    extend_leases: "UPDATE jobs SET lease_until_ms = $1 \
        FROM (SELECT id FROM jobs WHERE status = 'running' AND lease_owner = $2 \
                AND id IN (SELECT jsonb_array_elements_text($3::jsonb)::bigint) ORDER BY id FOR UPDATE) AS held \
        WHERE jobs.id = held.id RETURNING jobs.id",
    notify: Some(NOTIFY),
    claim: CLAIM,
    inbox: INBOX,
    record: RECORD,
};

/// The statements built from [`PG`], once per process.
static PG_SQL: std::sync::LazyLock<Statements> = std::sync::LazyLock::new(|| Statements::new(PG));

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    statistics: Arc<Statistics>,
    /// Wakes this process's workers: raised by this process's commits and by the
    /// listener when another process enqueued jobs.
    signal: JobSignal,
    /// The `LISTEN` task, stopped when the last clone is dropped or the store closed.
    listener: Arc<Listener>,
}

/// The task listening on [`CHANNEL`] on a connection of its own (not one of the pool's),
/// raising the store's signal at each notice.
#[derive(Debug)]
struct Listener {
    task: tokio::task::JoinHandle<()>,
    pool: PgPool,
}

impl Listener {
    /// Starts listening on a connection made from `options`.
    fn start(options: PgConnectOptions, signal: JobSignal) -> Listener {
        // One connection, kept open: a notice sent while it is down is lost, so the task
        // raises the signal after every reconnection (the workers then look for
        // themselves).
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        let task = tokio::spawn(listen(pool.clone(), signal));
        Listener { task, pool }
    }

    async fn stop(&self) {
        self.task.abort();
        self.pool.close().await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Raises `signal` whenever a notice arrives on [`CHANNEL`], reconnecting after errors.
async fn listen(pool: PgPool, signal: JobSignal) {
    let mut listener = loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => break listener,
                Err(e) => tracing::warn!(error = %e, "listening for enqueued jobs failed; workers poll meanwhile"),
            },
            Err(e) => tracing::warn!(error = %e, "connecting to listen for enqueued jobs failed; workers poll meanwhile"),
        }
        tokio::time::sleep(LISTEN_RETRY).await;
    };
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => {
                // Many notices may be waiting: one wake-up covers them all.
                while listener.next_buffered().is_some() {}
                signal.notify();
            }
            Ok(None) => {
                tracing::warn!("the connection listening for enqueued jobs was lost and remade");
                signal.notify();
            }
            Err(e) => {
                tracing::warn!(error = %e, "waiting for enqueued jobs failed; trying again");
                signal.notify();
                tokio::time::sleep(LISTEN_RETRY).await;
            }
        }
    }
}

/// Keeps the planner's statistics of the queue fresh and its tables free of dead rows.
///
/// The claim query is fast only when PostgreSQL walks the unfinished jobs in id order and
/// stops at the limit; with statistics from when the table was small (or none, with
/// autovacuum off or behind) it plans for a handful of rows and checks every queued job
/// each claim (10 ms at 5,000 queued, growing with the queue). So the store runs
/// `VACUUM (ANALYZE)` on the queue itself once enough jobs were enqueued since the last one: 2,000, or a fifth
/// of the table, whichever is larger (autovacuum's default is a tenth, checked once a
/// minute; a queue grows faster than that).
#[derive(Debug, Default)]
struct Statistics {
    /// Jobs enqueued since the last `ANALYZE` started.
    since: AtomicU64,
    /// Jobs to enqueue before the next one.
    threshold: AtomicU64,
}

/// Fewest jobs enqueued between two `ANALYZE`s of the queue.
const ANALYZE_EVERY: u64 = 2_000;

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`) and runs the
    /// migrations. Errors never contain the password.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Database(redact_message(&format!("bad PostgreSQL URL {}: {e}", redact_url(url)), url)))?;
        // One direct connection first: it fails at once when the server is down or refuses
        // us, where the pool would retry until its acquire timeout.
        let connect_err = |e: sqlx::Error| StoreError::Database(redact_message(&format!("cannot connect to PostgreSQL at {}: {e}", redact_url(url)), url));
        let probe = PgConnection::connect_with(&options).await.map_err(connect_err)?;
        probe.close().await.map_err(connect_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(connect_err)?;
        super::migrations::postgres().run(&pool).await.map_err(migrate_err)?;
        let statistics = Arc::new(Statistics { since: AtomicU64::new(0), threshold: AtomicU64::new(ANALYZE_EVERY) });
        let signal = JobSignal::new();
        let listener = Arc::new(Listener::start(options, signal.clone()));
        Ok(PgStore { pool, statistics, signal, listener })
    }

    /// Closes the pool (waits for connections in use to come back) and stops listening.
    pub async fn close(&self) {
        self.listener.stop().await;
        self.pool.close().await;
    }

    /// The signal this store's clones share.
    fn signal(&self) -> &JobSignal {
        &self.signal
    }

    /// Told after a commit that enqueued `jobs` jobs: wakes this process's workers, counts
    /// the jobs and, past the threshold, refreshes the queue's statistics in the
    /// background ([`Statistics`]).
    fn enqueued(&self, jobs: u64) {
        if jobs > 0 {
            self.signal.notify();
        }
        let stats = &self.statistics;
        let since = stats.since.fetch_add(jobs, Ordering::Relaxed) + jobs;
        if jobs == 0 || since < stats.threshold.load(Ordering::Relaxed) {
            return;
        }
        // One refresh at a time: whoever resets the counter runs it.
        if stats.since.compare_exchange(since, 0, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        let (pool, stats) = (self.pool.clone(), self.statistics.clone());
        tokio::spawn(async move {
            // VACUUM too: without autovacuum, finished jobs' dead row versions would pile
            // up in the queue's indexes. Plain VACUUM takes no lock that blocks the
            // queue. One statement per call: VACUUM refuses to run inside a
            // multi-command string. The inbox is only appended to: ANALYZE is enough.
            for sql in ["VACUUM (ANALYZE) jobs", "ANALYZE events"] {
                if let Err(e) = sqlx::raw_sql(sql).execute(&pool).await {
                    tracing::warn!(error = %e, statement = sql, "refreshing the store's statistics failed");
                    return;
                }
            }
            vacuum_when_dead_rows_pile_up(&pool).await;
            let rows: Option<f32> =
                sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'jobs'::regclass").fetch_optional(&pool).await.unwrap_or(None);
            let fifth = rows.map(|r| (r.max(0.0) / 5.0) as u64).unwrap_or(0);
            stats.threshold.store(fifth.max(ANALYZE_EVERY), Ordering::Relaxed);
        });
    }

    /// The pool reads go to (the one pool).
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The pool writes go to (the one pool).
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_err)
    }
}

/// Vacuums `links` and `audit` once their dead row versions (an upserted link, an audit
/// entry completed with Zoho's answer) pass autovacuum's own threshold: 50 plus a fifth
/// of the live rows. Vacuuming them on every refresh of the queue halved the speed of
/// the engine benchmark's create phase (each VACUUM reads their whole indexes); by the
/// threshold the work stays proportional to the rows written.
async fn vacuum_when_dead_rows_pile_up(pool: &PgPool) {
    let due: Vec<String> = match sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables \
         WHERE relname IN ('links', 'audit') AND n_dead_tup > 50 + 0.2 * n_live_tup ORDER BY relname",
    )
    .fetch_all(pool)
    .await
    {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "reading the store's dead-row counts failed");
            return;
        }
    };
    for table in due {
        // The name comes from the fixed list above.
        let sql = format!("VACUUM (ANALYZE) {table}");
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await {
            tracing::warn!(error = %e, table = %table, "vacuuming failed");
        }
    }
}

impl Store for PgStore {
    shared_store_methods!(PG_SQL);
}

shared_matching!(PgStore);
shared_approvals!(PgStore, PG_SQL);
super::activity::shared_activity!(PgStore, PG_SQL);
// The token's row, locked until the call is counted: one call of a token at a time.
super::agent_tokens::shared_agent_tokens!(PgStore, "SELECT name FROM agent_tokens WHERE name = $1 FOR UPDATE");

// Heartbeats of one (organisation, API) take turns on an advisory lock held until their
// transaction ends, so each one reads the others' rows as the last one left them.
super::budget_share::shared_budget_shares!(PgStore, Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"));
