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
//!
//! The one writer connection is the whole process's: whoever holds it (or is first in
//! line for it) must be polled until it lets go. A run that awaited its lease extension
//! while its own journaling write was first in line froze every writer of `serve` for
//! 90 s, later 4.5 minutes (multiples of the 30 s acquire timeout; `worker.rs` tells the
//! story). [`SqliteOptions::acquire_timeout`] is configurable so that tests of such
//! loads fail in seconds instead of minutes.
//!
//! Workers of this process are woken by the store's [`JobSignal`] after each commit
//! that enqueued jobs; a process sharing the file cannot hear it and finds the jobs at
//! its next poll.
//!
//! The methods of [`Store`] are the shared ones ([`super::shared`]); this file holds how
//! to open the file and the statements SQLite spells its own way ([`SQLITE`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

use super::convert::{db_err, migrate_err};
use super::matching::shared_matching;
use super::redact::redact_message;
use super::rows::{EVENT_COLUMNS, JOB_COLUMNS};
use super::shared::{Dialect, InboxSql, RecordSql, Statements, runnable_jobs, shared_approvals, shared_store_methods};
use super::{JobSignal, Store, StoreError, StoreResult};

/// The default database file.
pub const DEFAULT_SQLITE_FILE: &str = "zoho-bridge.db";

/// How a SQLite store is opened ([`SqliteStore::open_with_options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a write waits for another process holding the file's write lock
    /// (SQLite's `busy_timeout`). Default 10 s.
    pub busy_timeout: Duration,
    /// How long a call waits for a connection of this process: the one writer, or a
    /// reader. Default 30 s. Waits near it mean something holds the writer far too long
    /// (tests set it short, so that such a stall fails fast instead of passing slowly).
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { busy_timeout: Duration::from_secs(10), acquire_timeout: Duration::from_secs(30) }
    }
}

/// Reader connections (2 cores: more would only queue on the CPU).
const READERS: u32 = 4;

/// Page cache of each reader connection, in SQLite's notation (negative: KiB). Reads
/// are index lookups of single records, and the operating system caches the file
/// anyway: 512 KiB each keeps the process's memory flat as the database grows. With
/// SQLite's default of 2 MiB each, the readers' caches grew the engine benchmark's
/// process by 7 MiB over 100,000 events, for no measurable speed (3,931 events/s
/// against 3,888 with 512 KiB; `cargo bench -p bridge --bench engine`). The writer
/// keeps the default: its inserts walk the growing indexes.
const READER_CACHE_SIZE: &str = "-512";

/// How SQLite claims jobs (the shared code appends `RETURNING` and the job columns).
/// One statement, so atomic on its own; the writer pool makes it the only writer.
const CLAIM: &str = concat!(
    "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1, updated_ms = $3 \
     WHERE id IN (",
    runnable_jobs!(),
    ")"
);

/// How SQLite inserts a batch of events and then the new events' jobs.
const INBOX: InboxSql = InboxSql {
    events: "INSERT INTO events (source, connection, system, module, record_id, modified_ms, payload, dedup_key, received_ms) \
        SELECT value ->> 'source', value ->> 'connection', value ->> 'system', value ->> 'module', \
               value ->> 'record_id', value ->> 'modified_ms', value ->> 'payload', value ->> 'dedup_key', $2 \
        FROM json_each($1) WHERE true ORDER BY key \
        ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key",
    jobs: "INSERT INTO jobs (event_id, flow, key, payload, status, attempts, run_after_ms, created_ms, updated_ms) \
        SELECT value ->> 'event_id', value ->> 'flow', value ->> 'key', value ->> 'payload', 'queued', 0, $2, $2, $2 \
        FROM json_each($1) ORDER BY key",
};

/// How SQLite stores a batch of results ([`Store::record`]): the batch arrives as JSON
/// arrays read with `json_each`. The whole batch runs in `BEGIN IMMEDIATE`, so no claim
/// can come between the lease check in the first statement and the commit.
const RECORD: RecordSql = RecordSql {
    results: "(SELECT value ->> 'id' AS id, value ->> 'kind' AS kind, value ->> 'outcome' AS outcome, \
          value ->> 'error' AS error, value ->> 'retryable' AS retryable, \
          value ->> 'max_attempts' AS max_attempts, value ->> 'retry_at_ms' AS retry_at_ms \
        FROM json_each($1))",
    // `WHERE true`: SQLite would read the upsert's ON as a join constraint otherwise.
    links: "SELECT value ->> 'connection', value ->> 'relation', value ->> 'crm_id', value ->> 'books_id', \
          value ->> 'crm_hash', value ->> 'books_hash', value ->> 'updated_ms' \
        FROM json_each($1) WHERE true",
    snapshots: "SELECT value ->> 'connection', value ->> 'flow', value ->> 'system', value ->> 'module', \
          value ->> 'record_id', value ->> 'fields', value ->> 'updated_ms' \
        FROM json_each($1) WHERE true",
    audit_inserts: "INSERT INTO audit (at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok) \
        SELECT value ->> 'at_ms', value ->> 'actor', value ->> 'job_id', value ->> 'event_id', value ->> 'connection', \
               value ->> 'system', value ->> 'module', value ->> 'record_id', value ->> 'action', \
               value ->> 'request', value ->> 'response', value ->> 'ok' \
        FROM json_each($1)",
    audit_answers: "UPDATE audit SET action = r.value ->> 'action', record_id = r.value ->> 'record_id', response = r.value ->> 'response', ok = r.value ->> 'ok' \
        FROM json_each($1) AS r WHERE audit.id = r.value ->> 'id'",
    existing: "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each($1))",
};

/// How SQLite spells the queries both back ends share: JSON columns are plain text.
const SQLITE: Dialect = Dialect {
    job_columns: JOB_COLUMNS,
    event_columns: EVENT_COLUMNS,
    audit_columns: "id, at_ms, actor, job_id, event_id, connection, system, module, record_id, action, request, response, ok",
    approval_columns: "id, requested_by, action, payload, status, decided_by, created_ms, decided_ms",
    snapshot_fields: "fields",
    json_in: "",
    extend_leases: "UPDATE jobs SET lease_until_ms = $1 \
        WHERE status = 'running' AND lease_owner = $2 AND id IN (SELECT value FROM json_each($3)) RETURNING id",
    notify: None,
    claim: CLAIM,
    inbox: INBOX,
    record: RECORD,
};

/// The statements built from [`SQLITE`], once per process.
static SQLITE_SQL: std::sync::LazyLock<Statements> = std::sync::LazyLock::new(|| Statements::new(SQLITE));

/// The store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Wakes this process's workers; other processes on the file poll.
    signal: JobSignal,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and runs the migrations.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with_options(path, &SqliteOptions::default()).await
    }

    /// [`SqliteStore::open`] with `options`.
    pub async fn open_with_options(path: impl AsRef<Path>, options: &SqliteOptions) -> StoreResult<Self> {
        let connect = SqliteConnectOptions::new().filename(path.as_ref());
        Self::open_with(connect, options).await
    }

    /// Opens a `sqlite://path` (or `sqlite:path`) URL and runs the migrations. Not for
    /// `sqlite::memory:`: the writer and the readers would each get their own database.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Database(redact_message(&format!("bad SQLite URL: {e}"), url)))?;
        Self::open_with(options, &SqliteOptions::default()).await
    }

    async fn open_with(options: SqliteConnectOptions, settings: &SqliteOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(settings.busy_timeout)
            .foreign_keys(true);
        let name = options.get_filename().display().to_string();
        let open_err = |e: sqlx::Error| StoreError::Database(format!("cannot open SQLite database {name}: {e}"));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        super::migrations::sqlite().run(&writer).await.map_err(migrate_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.pragma("cache_size", READER_CACHE_SIZE))
            .await
            .map_err(open_err)?;
        Ok(SqliteStore { writer, reader, signal: JobSignal::new() })
    }

    /// Closes both pools (waits for connections in use to come back).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// The pool reads go to.
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The pool writes go to (one connection).
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Told after a commit that enqueued `jobs` jobs: wakes this process's workers.
    /// (Nothing else to do: SQLite plans the claim well from its indexes alone, and its
    /// file needs no vacuuming to stay fast.)
    fn enqueued(&self, jobs: u64) {
        if jobs > 0 {
            self.signal.notify();
        }
    }

    /// The signal this store's clones share.
    fn signal(&self) -> &JobSignal {
        &self.signal
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
    }
}

impl Store for SqliteStore {
    shared_store_methods!(SQLITE_SQL);
}

shared_matching!(SqliteStore);
shared_approvals!(SqliteStore, SQLITE_SQL);
super::activity::shared_activity!(SqliteStore, SQLITE_SQL);
// BEGIN IMMEDIATE already makes each call's transaction the only writer.
super::agent_tokens::shared_agent_tokens!(SqliteStore, "SELECT name FROM agent_tokens WHERE name = $1");

// BEGIN IMMEDIATE already makes each heartbeat the only writer.
super::budget_share::shared_budget_shares!(SqliteStore, None);
