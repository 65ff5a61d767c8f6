//! What the dashboard reads about the flows' work: each flow's recent runs with when
//! their event came in, from which it shows the runs, the throughput and the latency
//! (event received → job finished); and the runs of one event (a record's history).
//!
//! Kept apart from [`Store`](super::Store) like [`Approvals`](super::Approvals): the
//! engine never reads it; both back ends implement it with the same SQL. The runs of a
//! flow are read newest first through the `jobs_flow` index (migration 0010), so a page
//! costs the same on a store of a thousand jobs or of ten million.

use std::future::Future;

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::rows::JobRow;
use super::{Job, StoreError, StoreResult};

/// A job with the time its event was received: the start of the latency people see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The job.
    pub job: Job,
    /// When its event was received, epoch ms.
    pub received_ms: i64,
}

impl Run {
    /// From the event received to the job finished (done, skipped or dead), in ms;
    /// `None` while it is queued or running.
    pub fn latency_ms(&self) -> Option<i64> {
        use super::JobStatus::{Dead, Done, Skipped};
        matches!(self.job.status, Done | Skipped | Dead).then(|| (self.job.updated_ms - self.received_ms).max(0))
    }
}

/// Runs of the flows, for people watching them.
pub trait Activity: Clone + Send + Sync + 'static {
    /// The newest `limit` runs of `flow`, newest first.
    fn recent_runs(&self, flow: &str, limit: u32) -> impl Future<Output = StoreResult<Vec<Run>>> + Send;

    /// The runs an event started, oldest first (a record's history: event → jobs).
    fn runs_for_event(&self, event_id: i64) -> impl Future<Output = StoreResult<Vec<Run>>> + Send;
}

/// A `jobs` row with its event's `received_ms`.
#[derive(Debug, FromRow)]
pub(crate) struct RunRow {
    #[sqlx(flatten)]
    job: JobRow,
    received_ms: Option<i64>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        let job = Job::try_from(row.job)?;
        // A job always has its event (a foreign key; pruning keeps referenced events).
        let received_ms = row.received_ms.ok_or_else(|| StoreError::Corrupt(format!("job {} has no event {}", job.id, job.event_id)))?;
        Ok(Run { job, received_ms })
    }
}

/// The statement of [`Activity::recent_runs`] for a back end whose job columns are
/// `job_columns`. The event's time is a scalar subquery (by primary key), so the job
/// columns stay unqualified on SQLite.
pub(crate) fn recent_runs_sql(job_columns: &str) -> String {
    format!(
        "SELECT {job_columns}, (SELECT events.received_ms FROM events WHERE events.id = jobs.event_id) AS received_ms \
         FROM jobs WHERE jobs.flow = $1 ORDER BY jobs.id DESC LIMIT $2"
    )
}

/// The statement of [`Activity::runs_for_event`] (by the `jobs_event` index).
pub(crate) fn runs_for_event_sql(job_columns: &str) -> String {
    format!(
        "SELECT {job_columns}, (SELECT events.received_ms FROM events WHERE events.id = jobs.event_id) AS received_ms \
         FROM jobs WHERE jobs.event_id = $1 ORDER BY jobs.id"
    )
}

/// `impl Activity for $store`, the same SQL on both back ends; `$sql` is the store's
/// [`Statements`](super::shared::Statements).
macro_rules! shared_activity {
    ($store:ty, $sql:expr) => {
        impl $crate::store::Activity for $store {
            async fn recent_runs(&self, flow: &str, limit: u32) -> $crate::store::StoreResult<Vec<$crate::store::Run>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| $crate::store::activity::recent_runs_sql($sql.d.job_columns));
                let rows: Vec<$crate::store::activity::RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
                    .bind(flow)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::Run::try_from).collect()
            }

            async fn runs_for_event(&self, event_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::Run>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| $crate::store::activity::runs_for_event_sql($sql.d.job_columns));
                let rows: Vec<$crate::store::activity::RunRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str())).bind(event_id).fetch_all(self.reader()).await.map_err($crate::store::convert::db_err)?;
                rows.into_iter().map($crate::store::Run::try_from).collect()
            }
        }
    };
}

pub(crate) use shared_activity;
