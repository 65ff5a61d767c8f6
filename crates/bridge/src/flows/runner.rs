//! The runner: one claimed job through its flow, to a result the worker stores.
//!
//! It builds the flow's [`Context`], runs the flow, and turns what happened into a
//! [`JobResult`]: done (with the links, the snapshot and the audit entries of the run,
//! stored in one transaction with the job's end), skipped (with the reason and the
//! snapshot), or a failed attempt. Only the worker decides retries: a failure is
//! classified here as retryable or not, and its next attempt is scheduled from the one
//! clock with the configured backoff; the store dead-letters it when the attempts run out.

use serde_json::Value;
use zoho::Client;

use super::{Context, Flow, FlowError, Outcome, Preview, RunSettings};
use crate::store::{Failure, Finish, Job, JobResult, JobStatus, RecordRef, Store, StoreResult};

/// Runs one claimed job through `flow` and stores the result (finish or fail). Returns
/// the job's new status. A store error is returned as is; the job then stays leased and
/// is claimed again when its lease runs out, so it is never lost.
pub async fn run_job<S: Store>(store: &S, flow: &dyn Flow, client: &Client, settings: &RunSettings, job: &Job) -> StoreResult<JobStatus> {
    let result = execute(store, flow, client, settings, job).await;
    store.record_one(&settings.worker, job.id, result, settings.clock.now_ms()).await
}

/// Runs one claimed job through `flow` and returns its result without storing it (the
/// worker stores the results of many jobs in one transaction, [`Store::record`]). The
/// writes the run made are in the result's audit entries, done or failed.
pub async fn execute<S: Store>(store: &S, flow: &dyn Flow, client: &Client, settings: &RunSettings, job: &Job) -> JobResult {
    let record = match job.record() {
        Ok(record) => record,
        Err(error) => return fail(settings, job, Failure { error, retryable: false, audit: Vec::new() }),
    };
    let mut ctx = Context::new(flow.name(), job, record, client, store, settings);
    let ended = flow.run(&mut ctx).await;
    let (audit, links, snapshot, _) = ctx.finish();
    match ended {
        Ok(Outcome::Done(outcome)) => JobResult::Finish(Finish::Done { outcome, links, snapshot, audit }),
        // A run that wrote something is not "nothing to do": its writes are kept.
        Ok(Outcome::Skipped(reason)) if !audit.is_empty() || !links.is_empty() => JobResult::Finish(Finish::Done { outcome: reason, links, snapshot, audit }),
        Ok(Outcome::Skipped(reason)) => JobResult::Finish(Finish::Skipped { reason, snapshot }),
        Err(e) => fail(settings, job, Failure { audit, ..failure(&e) }),
    }
}

/// Runs `flow` for `record` without writing anything, to the point of its first write:
/// what it read, the payload it would send, the match it found and what it would do.
/// The run's own outcome (skipped, or done without writing) ends it too.
pub async fn preview<S: Store>(store: &S, flow: &dyn Flow, client: &Client, settings: &RunSettings, record: &RecordRef) -> Result<Preview, FlowError> {
    let job = Job {
        id: 0,
        event_id: 0,
        flow: flow.name().into(),
        key: record.job_key(),
        payload: serde_json::to_value(record).unwrap_or(Value::Null),
        status: JobStatus::Running,
        attempts: 1,
        run_after_ms: 0,
        lease_owner: None,
        lease_until_ms: None,
        last_error: None,
        outcome: None,
        created_ms: 0,
        updated_ms: 0,
    };
    let mut ctx = Context::new(flow.name(), &job, record.clone(), client, store, settings).dry_run();
    let ended = flow.run(&mut ctx).await;
    let (_, _, _, preview) = ctx.finish();
    let mut preview = preview.unwrap_or_default();
    match ended {
        Err(FlowError::Preview) => {}
        Ok(Outcome::Done(outcome)) => preview.notes.push(format!("done without writing: {outcome}")),
        Ok(Outcome::Skipped(reason)) => preview.notes.push(format!("skip: {reason}")),
        Err(e) => return Err(e),
    }
    Ok(preview)
}

/// A failed attempt, to retry after the backoff (the store dead-letters it when it is not
/// retryable or its attempts are used up).
fn fail(settings: &RunSettings, job: &Job, failure: Failure) -> JobResult {
    if failure.retryable {
        tracing::warn!(job = job.id, attempt = job.attempts, error = %failure.error, "job failed; will retry");
    } else {
        tracing::warn!(job = job.id, error = %failure.error, "job refused; dead-lettered");
    }
    let retry_at_ms = settings.clock.now_ms() + settings.backoff.delay(job.attempts).as_millis() as i64;
    JobResult::Fail { failure, retry_at_ms, max_attempts: settings.max_attempts }
}

/// How an error becomes a failed attempt: unknown outcomes and transient errors are
/// retried; Zoho's refusals and bad data are dead-lettered with Zoho's code and message.
pub(crate) fn failure(e: &FlowError) -> Failure {
    let (error, retryable) = match e {
        FlowError::Data(msg) => (format!("cannot sync: {msg}"), false),
        FlowError::Store(msg) => (format!("store failed: {msg}"), true),
        FlowError::Preview => ("a dry run ended a real run (a bug: please report it)".to_string(), false),
        FlowError::Zoho(z) if z.is_outcome_unknown() => (format!("{z} (the next attempt matches by natural key first)"), true),
        FlowError::Zoho(z @ zoho::Error::Api(api)) => (format!("Zoho refused: {api}"), z.is_retryable()),
        // A refused token, an exhausted budget or a network failure pass with time.
        FlowError::Zoho(z @ (zoho::Error::OAuth { .. } | zoho::Error::BudgetExhausted { .. })) => (z.to_string(), true),
        FlowError::Zoho(z) => (z.to_string(), z.is_retryable()),
    };
    Failure { error, retryable, audit: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_permanent_and_unknown_outcomes_retry() {
        let unknown = FlowError::Zoho(zoho::Error::OutcomeUnknown { method: "POST".into(), path: "/books/v3/items".into(), message: "dropped".into() });
        assert!(failure(&unknown).retryable);
        let refused = FlowError::Zoho(zoho::Error::from(zoho::ApiError {
            api: zoho::Api::Books,
            status: 400,
            code: zoho::ZohoCode::Books(1001),
            message: "An item with the SKU \"X\" already exists.".into(),
            details: Value::Null,
            retry_after: None,
        }));
        let f = failure(&refused);
        assert!(!f.retryable);
        assert!(f.error.contains("1001") && f.error.contains("already exists"), "{}", f.error);
        assert!(!failure(&FlowError::Data("no name".into())).retryable);
        assert!(failure(&FlowError::Store("locked".into())).retryable);
    }
}
