//! What the engine counts, through the `metrics` facade: events into the inbox, how jobs
//! end, and how long a change takes from its event to the flow's last write.
//!
//! The facade does nothing until the program installs a recorder (`serve` installs a
//! Prometheus one and answers `/metrics`), so libraries, tests and the admin commands pay
//! nothing. The series are counted where each thing happens exactly once: events when
//! the store commits them ([`count_events`], in the store's one insert path), job endings
//! when the worker's recorder has stored them ([`count_job`]). Gauges read from the store
//! (dead letters, approvals, reviews) are computed by whoever serves the scrape.

use crate::store::{Inserted, JobStatus, NewEvent, NewJob};

/// Counter of events stored in the inbox, labelled `source` (`crm_webhook`, `poller`, …)
/// and `result`: `stored`, or `duplicate` when a second delivery of the same change was
/// absorbed.
pub const EVENTS: &str = "zoho_bridge_events_total";

/// Counter of job endings, labelled `flow` and `outcome`: `done`, `skipped`, `retried`
/// (a failed attempt queued again), `dead` (dead-lettered), `unrecorded` (the store did
/// not take the result; the job runs again).
pub const JOBS: &str = "zoho_bridge_jobs_total";

/// Histogram of seconds from an event's arrival (its job's creation, in the same
/// transaction) to the end of the run that finished the job done, labelled `flow`.
pub const FLOW_LATENCY: &str = "zoho_bridge_flow_latency_seconds";

/// The bucket bounds of [`FLOW_LATENCY`], seconds: from a quick run to retries spread
/// over an hour.
pub const FLOW_LATENCY_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// Describes the engine's series to the installed recorder (their `# HELP` lines).
pub fn describe() {
    metrics::describe_counter!(EVENTS, "Events stored in the inbox, by source, and duplicate deliveries absorbed");
    metrics::describe_counter!(JOBS, "Job endings by flow and outcome (done, skipped, retried, dead, unrecorded)");
    metrics::describe_histogram!(FLOW_LATENCY, metrics::Unit::Seconds, "From an event's arrival to the write that finished its job, by flow");
}

/// Counts what storing `events` did (`inserted`, in the same order), once committed.
pub(crate) fn count_events(events: &[(NewEvent, Vec<NewJob>)], inserted: &[Inserted]) {
    for ((event, _), inserted) in events.iter().zip(inserted) {
        let result = match inserted {
            Inserted::New(_) => "stored",
            Inserted::Duplicate => "duplicate",
        };
        metrics::counter!(EVENTS, "source" => event.source.as_str(), "result" => result).increment(1);
    }
}

/// How a job's result ended once stored, as the `outcome` label: its new status, or
/// `unrecorded` when the store did not take it.
pub fn outcome_label<E>(stored: &Result<JobStatus, E>) -> &'static str {
    match stored {
        Ok(JobStatus::Done) => "done",
        Ok(JobStatus::Skipped) => "skipped",
        Ok(JobStatus::Queued | JobStatus::Running) => "retried",
        Ok(JobStatus::Dead) => "dead",
        Err(_) => "unrecorded",
    }
}

/// Counts a job of `flow` that ended as `stored`; a job done adds its latency, from its
/// creation (`created_ms`) to the end of its run (`ran_until_ms`), on the worker's clock.
pub(crate) fn count_job<E>(flow: &str, stored: &Result<JobStatus, E>, created_ms: i64, ran_until_ms: i64) {
    metrics::counter!(JOBS, "flow" => flow.to_string(), "outcome" => outcome_label(stored)).increment(1);
    if matches!(stored, Ok(JobStatus::Done)) {
        let seconds = (ran_until_ms - created_ms).max(0) as f64 / 1000.0;
        metrics::histogram!(FLOW_LATENCY, "flow" => flow.to_string()).record(seconds);
    }
}
