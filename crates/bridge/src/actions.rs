//! Actions: what a person (dashboard, admin commands) or an agent (MCP gateway) may ask
//! the engine to do. There is one implementation of each, here, so the three doors
//! behave alike and none is a side door: anything that writes to Zoho is a flow run,
//! queued as a [`Source::Manual`] event and run by a worker with the same links, checks,
//! audit and retries as a webhook's.
//!
//! - [`run_flow_now`]: run a flow for a record now ("sync this account", "invoice this
//!   deal").
//! - [`replay`] and [`drop_dead`]: a dead letter back into the queue, or dropped with a
//!   reason.
//! - [`decide_review`]: a customer-match review decided (link, create, ignore); a link or
//!   create queues the review's flow so the decision is honoured at once.
//! - [`request_approval`], [`decide_approval`], [`approval_state`]: an action held for a
//!   person's yes or no (an agent's tool that moves money). Approving queues its flow
//!   run under the key `approval:<id>`; the state tells the requester how it ended.
//!
//! Each action a person or an agent takes is itself written to the audit log (actor, what
//! was asked, what came of it), beside the audit of the Zoho writes it causes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;

use crate::store::{
    Approval, ApprovalStatus, Approvals, AuditEntry, Inserted, Job, JobStatus, NewEvent, NewJob, RecordRef, Review, ReviewDecision, ReviewStatus, Reviews,
    Source, Store, StoreError,
};

/// Why an action was not done; the message is a sentence for the person or agent asking.
#[derive(Debug, Error)]
pub enum ActionError {
    /// What it is about does not exist (or is not in a state the action applies to).
    #[error("{0}")]
    NotFound(String),
    /// The request makes no sense as asked; the message says why.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A flow run put in the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Queued {
    /// The manual event carrying the request.
    pub event_id: i64,
    /// Its job (absent only if it is already finished and pruned).
    pub job_id: Option<i64>,
}

/// Queues `flow` for `record` as a manual event asked for by `asked_by`, stored under
/// `key` (a second request with the same key is absorbed and answers with the first
/// one's event and job). A worker runs it like any other job.
pub async fn run_flow_now<S: Store>(
    store: &S,
    connection: &str,
    flow: &str,
    record: &RecordRef,
    asked_by: &str,
    key: &str,
    now_ms: i64,
) -> Result<Queued, ActionError> {
    if !crate::flows::names().contains(&flow) {
        return Err(ActionError::Refused(format!("there is no flow {flow:?}; the flows are {}", crate::flows::names().join(", "))));
    }
    let event = NewEvent::for_record(Source::Manual, connection, record, json!({"asked_by": asked_by, "flow": flow}), key);
    let event_id = match store.add_event(&event, &[NewJob::for_record(flow, record)], now_ms).await? {
        Inserted::New(id) => id,
        Inserted::Duplicate => store
            .event_by_key(key)
            .await?
            .map(|e| e.id)
            .ok_or_else(|| ActionError::NotFound(format!("the request {key} was absorbed as a repeat, but its event is gone (pruned)")))?,
    };
    let job_id = store.jobs_for_event(event_id).await?.first().map(|j| j.id);
    Ok(Queued { event_id, job_id })
}

/// Puts dead letter `job_id` back in the queue, to run now; audited as `replay` by `by`.
pub async fn replay<S: Store>(store: &S, job_id: i64, by: &str, now_ms: i64) -> Result<Job, ActionError> {
    let job = dead_job(store, job_id).await?;
    store.replay(job_id, now_ms).await.map_err(|e| not_dead(e, job_id))?;
    audit_job_action(store, &job, by, "replay", json!({}), now_ms).await?;
    Ok(job)
}

/// Drops dead letter `job_id` for good with `reason` (it becomes skipped, the reason and
/// `by` kept as its outcome); audited as `drop`.
pub async fn drop_dead<S: Store>(store: &S, job_id: i64, by: &str, reason: &str, now_ms: i64) -> Result<Job, ActionError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ActionError::Refused(format!("dropping job {job_id} needs a reason (it is kept as the job's outcome)")));
    }
    let job = dead_job(store, job_id).await?;
    store.drop_dead(job_id, &format!("dropped by {by}: {reason}"), now_ms).await.map_err(|e| not_dead(e, job_id))?;
    audit_job_action(store, &job, by, "drop", json!({"reason": reason}), now_ms).await?;
    Ok(job)
}

/// The dead job `job_id`, or why it cannot be replayed or dropped.
async fn dead_job<S: Store>(store: &S, job_id: i64) -> Result<Job, ActionError> {
    let job = store.job(job_id).await?.ok_or_else(|| ActionError::NotFound(format!("there is no job {job_id}")))?;
    if job.status != JobStatus::Dead {
        return Err(ActionError::NotFound(format!("job {job_id} is {}, not a dead letter", job.status.as_str())));
    }
    Ok(job)
}

/// A store's `NotFound` for a job that stopped being dead meanwhile, in words.
fn not_dead(e: StoreError, job_id: i64) -> ActionError {
    match e {
        StoreError::NotFound(_) => ActionError::NotFound(format!("job {job_id} is no longer a dead letter (someone acted on it meanwhile)")),
        e => e.into(),
    }
}

/// Audits a person's or agent's action on a job.
async fn audit_job_action<S: Store>(store: &S, job: &Job, by: &str, action: &str, request: Value, now_ms: i64) -> Result<(), ActionError> {
    let event = store.event(job.event_id).await?;
    let (connection, record) = match (&event, job.record()) {
        (Some(e), Ok(r)) => (e.event.connection.clone(), Some(r)),
        (Some(e), Err(_)) => (e.event.connection.clone(), None),
        (None, r) => (String::new(), r.ok()),
    };
    store
        .add_audit(&AuditEntry {
            id: 0,
            at_ms: now_ms,
            actor: by.into(),
            job_id: Some(job.id),
            event_id: Some(job.event_id),
            connection,
            system: record.as_ref().map(|r| r.system.as_str().to_string()).unwrap_or_default(),
            module: record.as_ref().map(|r| r.module.clone()).unwrap_or_default(),
            record_id: record.map(|r| r.id),
            action: action.into(),
            request,
            response: json!({"flow": job.flow, "error": job.last_error}),
            ok: true,
        })
        .await?;
    Ok(())
}

/// A review decided, and the flow run queued to honour it (none for `Ignore`).
#[derive(Debug, Clone)]
pub struct ReviewDecided {
    /// The review as decided.
    pub review: Review,
    /// The review's flow queued for its record (link and create only).
    pub queued: Option<Queued>,
}

/// Decides open review `id` as `decision` by `by`; for a link or a create, queues the
/// review's flow for its record (a manual event whose key is the decision) so it is
/// honoured now rather than on the record's next change. A decision is never changed.
pub async fn decide_review<S: Store + Reviews>(
    store: &S,
    id: i64,
    decision: &ReviewDecision,
    by: &str,
    note: Option<&str>,
    now_ms: i64,
) -> Result<ReviewDecided, ActionError> {
    let review = store.review(id).await?.ok_or_else(|| ActionError::NotFound(format!("there is no review {id}")))?;
    if review.status != ReviewStatus::Open {
        let who = review.decided_by.as_deref().unwrap_or("someone");
        let to = review.chosen_id.as_deref().map(|c| format!(" to {c}")).unwrap_or_default();
        return Err(ActionError::Refused(format!("review {id} is already {}{to} (by {who}): a decision is never changed", review.status.as_str())));
    }
    if let ReviewDecision::Link(chosen) = decision
        && !review.candidates.iter().any(|c| &c.id == chosen)
    {
        let candidates = match review.candidates.is_empty() {
            true => "it has none; create or ignore it".to_string(),
            false => review.candidates.iter().map(|c| format!("{} ({})", c.id, c.name)).collect::<Vec<_>>().join(", "),
        };
        return Err(ActionError::Refused(format!("review {id}: {chosen} is not one of its candidates: {candidates}")));
    }
    let decided = match store.decide_review(id, decision, by, note, now_ms).await {
        Ok(decided) => decided,
        Err(StoreError::NotFound(_)) => return Err(ActionError::Refused(format!("review {id} was decided by someone else meanwhile"))),
        Err(e) => return Err(e.into()),
    };
    let queued = if *decision == ReviewDecision::Ignore {
        None
    } else {
        let key = format!("review:{id}:{}", decided.status.as_str());
        Some(run_flow_now(store, &decided.connection, &decided.flow, &decided.record, by, &key, now_ms).await?)
    };
    Ok(ReviewDecided { review: decided, queued })
}

/// What an approval holds: a flow run on a record, asked for by an agent's tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRequest {
    /// The connection (organisation pair) the record belongs to.
    pub connection: String,
    /// The flow to run.
    pub flow: String,
    /// The record to run it for.
    pub record: RecordRef,
    /// One line a person reads before deciding ("credit note for deal 42 (Acme): 1,200.00 EUR").
    pub summary: String,
    /// The tool's arguments, as the agent gave them.
    #[serde(default)]
    pub args: Value,
}

/// An approval with what it holds and, once approved, the job that carries it out.
#[derive(Debug, Clone)]
pub struct ApprovalState {
    /// The approval.
    pub approval: Approval,
    /// What it would run.
    pub request: FlowRequest,
    /// The job running it (after approval): its status and outcome tell how it ended.
    pub job: Option<Job>,
}

impl ApprovalState {
    /// Where it stands in one word: `pending`, `rejected`, `queued`, `running`, `done`,
    /// `skipped` or `dead` (the last four are the job's).
    pub fn stage(&self) -> &'static str {
        match (self.approval.status, &self.job) {
            (ApprovalStatus::Pending, _) => "pending",
            (ApprovalStatus::Rejected, _) => "rejected",
            (ApprovalStatus::Approved, None) => "approved",
            (ApprovalStatus::Approved, Some(job)) => job.status.as_str(),
        }
    }
}

/// The event key of approval `id`'s flow run.
fn approval_key(id: i64) -> String {
    format!("approval:{id}")
}

/// Holds `request` for a person's decision, on behalf of `requested_by` using `tool`;
/// returns the approval's id. Nothing runs until [`decide_approval`] approves it.
pub async fn request_approval<S: Store + Approvals>(store: &S, requested_by: &str, tool: &str, request: &FlowRequest, now_ms: i64) -> Result<i64, ActionError> {
    if !crate::flows::names().contains(&request.flow.as_str()) {
        return Err(ActionError::Refused(format!("there is no flow {:?}; the flows are {}", request.flow, crate::flows::names().join(", "))));
    }
    let payload = serde_json::to_value(request).map_err(|e| ActionError::Refused(format!("the request cannot be stored: {e}")))?;
    Ok(store.create_approval(requested_by, tool, &payload, now_ms).await?)
}

/// Approves (`approve`) or rejects pending approval `id` as `by`. An approval queues its
/// flow run at once (key `approval:<id>`, so it runs once however often it is queued);
/// a rejection runs nothing. A decision is never changed. Audited as `approval_approved`
/// or `approval_rejected`.
pub async fn decide_approval<S: Store + Approvals>(store: &S, id: i64, approve: bool, by: &str, now_ms: i64) -> Result<ApprovalState, ActionError> {
    let current = approval_state(store, id).await?;
    if current.approval.status != ApprovalStatus::Pending {
        let who = current.approval.decided_by.as_deref().unwrap_or("someone");
        return Err(ActionError::Refused(format!("approval {id} is already {} (by {who}): a decision is never changed", current.stage())));
    }
    let approval = match store.decide_approval(id, approve, by, now_ms).await {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => return Err(ActionError::Refused(format!("approval {id} was decided by someone else meanwhile"))),
        Err(e) => return Err(e.into()),
    };
    let request = current.request;
    let queued = if approve { Some(queue_approved(store, id, &request, by, now_ms).await?) } else { None };
    store
        .add_audit(&AuditEntry {
            id: 0,
            at_ms: now_ms,
            actor: by.into(),
            job_id: queued.as_ref().and_then(|q| q.job_id),
            event_id: queued.as_ref().map(|q| q.event_id),
            connection: request.connection.clone(),
            system: request.record.system.as_str().into(),
            module: request.record.module.clone(),
            record_id: Some(request.record.id.clone()),
            action: if approve { "approval_approved" } else { "approval_rejected" }.into(),
            request: json!({"approval": id, "tool": approval.action, "requested_by": approval.requested_by, "flow": request.flow}),
            response: json!({"queued": queued}),
            ok: true,
        })
        .await?;
    state_of(store, approval).await
}

/// Queues approved approval `id`'s flow run (idempotent by its key).
async fn queue_approved<S: Store>(store: &S, id: i64, request: &FlowRequest, by: &str, now_ms: i64) -> Result<Queued, ActionError> {
    run_flow_now(store, &request.connection, &request.flow, &request.record, by, &approval_key(id), now_ms).await
}

/// Approval `id` with what it holds and its job. An approved approval whose run is not
/// in the queue (the process stopped between the decision and the queueing) is queued
/// here, so asking is enough to finish it.
pub async fn approval_state<S: Store + Approvals>(store: &S, id: i64) -> Result<ApprovalState, ActionError> {
    let approval = store.approval(id).await?.ok_or_else(|| ActionError::NotFound(format!("there is no approval {id}")))?;
    state_of(store, approval).await
}

/// `approval` with what it holds and its job (queued here if approved and missing).
async fn state_of<S: Store>(store: &S, approval: Approval) -> Result<ApprovalState, ActionError> {
    let id = approval.id;
    let request: FlowRequest = serde_json::from_value(approval.payload.clone())
        .map_err(|e| ActionError::Refused(format!("approval {id} holds no flow request ({e}); it was not made by this version's gateway")))?;
    let mut job = None;
    if approval.status == ApprovalStatus::Approved {
        let event_id = match store.event_by_key(&approval_key(id)).await? {
            Some(event) => event.id,
            None => {
                let by = approval.decided_by.clone().unwrap_or_default();
                queue_approved(store, id, &request, &by, approval.decided_ms.unwrap_or_default()).await?.event_id
            }
        };
        job = store.jobs_for_event(event_id).await?.into_iter().next();
    }
    Ok(ApprovalState { approval, request, job })
}

/// The approvals in `status`, oldest first, each with what it holds and its job.
/// Approvals not made by the gateway (no flow request) are left out.
pub async fn approvals<S: Store + Approvals>(store: &S, status: ApprovalStatus) -> Result<Vec<ApprovalState>, ActionError> {
    let mut out = Vec::new();
    for approval in store.approvals(status).await? {
        match state_of(store, approval).await {
            Ok(state) => out.push(state),
            Err(ActionError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
