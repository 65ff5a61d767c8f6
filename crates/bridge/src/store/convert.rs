//! The one place where Rust values become column values and back.
//!
//! SQLite has no timestamp, decimal or JSON type through sqlx, so both back ends store
//! time as epoch ms, JSON as text (PostgreSQL casts it to and from `jsonb` in SQL), and
//! enums as their snake_case names. A value the database holds but this code does not
//! know is a [`StoreError::Database`], never a panic.

use serde_json::Value;

use super::approval::ApprovalStatus;
use super::{JobStatus, Source, StoreError};

/// The column value of a job status.
pub(crate) fn status_str(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Done => "done",
        JobStatus::Skipped => "skipped",
        JobStatus::Dead => "dead",
    }
}

/// A job status from its column value.
pub(crate) fn parse_status(text: &str) -> Result<JobStatus, StoreError> {
    Ok(match text {
        "queued" => JobStatus::Queued,
        "running" => JobStatus::Running,
        "done" => JobStatus::Done,
        "skipped" => JobStatus::Skipped,
        "dead" => JobStatus::Dead,
        other => {
            return Err(StoreError::Database(format!("unknown job status {other:?} in the jobs table")));
        }
    })
}

/// The column value of an event source.
pub(crate) fn source_str(source: Source) -> &'static str {
    match source {
        Source::CrmNotification => "crm_notification",
        Source::CrmWebhook => "crm_webhook",
        Source::BooksWebhook => "books_webhook",
        Source::Poller => "poller",
        Source::Manual => "manual",
    }
}

/// An event source from its column value.
pub(crate) fn parse_source(text: &str) -> Result<Source, StoreError> {
    Ok(match text {
        "crm_notification" => Source::CrmNotification,
        "crm_webhook" => Source::CrmWebhook,
        "books_webhook" => Source::BooksWebhook,
        "poller" => Source::Poller,
        "manual" => Source::Manual,
        other => {
            return Err(StoreError::Database(format!("unknown event source {other:?} in the events table")));
        }
    })
}

/// The column value of an approval status.
pub(crate) fn approval_status_str(status: ApprovalStatus) -> &'static str {
    match status {
        ApprovalStatus::Pending => "pending",
        ApprovalStatus::Approved => "approved",
        ApprovalStatus::Rejected => "rejected",
    }
}

/// An approval status from its column value.
pub(crate) fn parse_approval_status(text: &str) -> Result<ApprovalStatus, StoreError> {
    Ok(match text {
        "pending" => ApprovalStatus::Pending,
        "approved" => ApprovalStatus::Approved,
        "rejected" => ApprovalStatus::Rejected,
        other => {
            return Err(StoreError::Database(format!("unknown approval status {other:?} in the approvals table")));
        }
    })
}

/// JSON as stored text.
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its map keys are always strings.
    value.to_string()
}

/// JSON from stored text; `what` names the column for the error.
pub(crate) fn parse_json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("{what} is not valid JSON: {e}")))
}

/// A database error as a store error: a broken constraint (the same data would fail
/// again) apart from everything else (which may pass on a later try).
pub(crate) fn db_err(error: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    match &error {
        sqlx::Error::Database(e)
            if matches!(e.kind(), ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation) =>
        {
            StoreError::Constraint(error.to_string())
        }
        _ => StoreError::Database(error.to_string()),
    }
}

/// A migration error as a store error.
pub(crate) fn migrate_err(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migration(error.to_string())
}
