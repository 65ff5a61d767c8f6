//! The dashboard's actions until `bridge::actions` lands on main: the same names and
//! meanings (replay, drop, decide a review and queue its flow, decide an approval), so
//! that the switch is an import. Errors are sentences for people.

use bridge::store::{AnyStore, Approval, Approvals, Inserted, NewEvent, NewJob, Review, ReviewDecision, ReviewStatus, Reviews, Source, Store, StoreError};
use serde_json::json;

/// Why an action was not done, for people.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such thing (or not in a state the action applies to).
    #[error("{0}")]
    NotFound(String),
    /// Refused: the request makes no sense for the data.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// Puts dead job `job_id` back in the queue.
pub async fn replay(store: &AnyStore, job_id: i64, now_ms: i64) -> Result<(), ActionError> {
    store.replay(job_id, now_ms).await.map_err(|e| match e {
        StoreError::NotFound(_) => ActionError::NotFound(format!("job {job_id} is not a dead letter (replayed or dropped meanwhile?)")),
        e => e.into(),
    })
}

/// Drops dead job `job_id` for good, saying who and why.
pub async fn drop_dead(store: &AnyStore, job_id: i64, by: &str, reason: &str, now_ms: i64) -> Result<(), ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Refused(format!("dropping job {job_id} needs a reason")));
    }
    store.drop_dead(job_id, &format!("dropped by {by}: {}", reason.trim()), now_ms).await.map_err(|e| match e {
        StoreError::NotFound(_) => ActionError::NotFound(format!("job {job_id} is not a dead letter (replayed or dropped meanwhile?)")),
        e => e.into(),
    })
}

/// Decides review `id`; a link or a create queues the review's flow for its record now.
pub async fn decide_review(store: &AnyStore, id: i64, decision: &ReviewDecision, by: &str, note: Option<&str>, now_ms: i64) -> Result<Review, ActionError> {
    let review = store.review(id).await?.ok_or_else(|| ActionError::NotFound(format!("no review {id}")))?;
    if review.status != ReviewStatus::Open {
        return Err(ActionError::Refused(format!("review {id} is already {}: a decision is never changed", review.status.as_str())));
    }
    if let ReviewDecision::Link(chosen) = decision
        && !review.candidates.iter().any(|c| &c.id == chosen)
    {
        return Err(ActionError::Refused(format!("review {id}: {chosen} is not one of its candidates")));
    }
    let decided = store.decide_review(id, decision, by, note, now_ms).await.map_err(|e| match e {
        StoreError::NotFound(_) => ActionError::Refused(format!("review {id} was decided by someone else meanwhile")),
        e => e.into(),
    })?;
    if *decision != ReviewDecision::Ignore {
        let status = decided.status.as_str();
        let event = NewEvent::for_record(Source::Manual, &decided.connection, &decided.record, json!({"review": id}), format!("review:{id}:{status}"));
        let inserted = store.add_event(&event, &[NewJob::for_record(&decided.flow, &decided.record)], now_ms).await?;
        debug_assert!(matches!(inserted, Inserted::New(_) | Inserted::Duplicate));
    }
    Ok(decided)
}

/// Approves or rejects pending approval `id`.
pub async fn decide_approval(store: &AnyStore, id: i64, approve: bool, by: &str, now_ms: i64) -> Result<Approval, ActionError> {
    store.decide_approval(id, approve, by, now_ms).await.map_err(|e| match e {
        StoreError::NotFound(_) => ActionError::NotFound(format!("approval {id} is not pending (decided meanwhile?)")),
        e => e.into(),
    })
}
