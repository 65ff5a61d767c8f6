//! Approvals: actions (usually an agent's, through MCP) that wait for a person's yes or no.
//!
//! Kept apart from [`Store`](super::Store) so the engine's trait stays about sync; every
//! back end implements [`Approvals`] as well.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreResult;

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person.
    Pending,
    /// Allowed.
    Approved,
    /// Refused.
    Rejected,
}

/// An action waiting for (or given) a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Id.
    pub id: i64,
    /// Who asked (an agent, a person).
    pub requested_by: String,
    /// What it would do (a tool name, `replay`, …).
    pub action: String,
    /// Its arguments.
    pub payload: Value,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Who decided, once decided.
    pub decided_by: Option<String>,
    /// Asked, epoch ms.
    pub created_ms: i64,
    /// Decided, epoch ms.
    pub decided_ms: Option<i64>,
}

/// Approvals kept by a store.
pub trait Approvals: Clone + Send + Sync + 'static {
    /// Records a pending request; returns its id.
    fn create_approval(&self, requested_by: &str, action: &str, payload: &Value, now_ms: i64) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Approves (`approve == true`) or rejects a pending request. A request that is not
    /// pending (unknown, or already decided) is `NotFound`: a decision is never changed.
    fn decide_approval(&self, id: i64, approve: bool, decided_by: &str, now_ms: i64) -> impl Future<Output = StoreResult<Approval>> + Send;

    /// One request by id, whatever its status.
    fn approval(&self, id: i64) -> impl Future<Output = StoreResult<Option<Approval>>> + Send;

    /// Requests in a status, oldest first.
    fn approvals(&self, status: ApprovalStatus) -> impl Future<Output = StoreResult<Vec<Approval>>> + Send;

    /// How many requests are in a status, counted by the store (the overview and
    /// `/metrics` show the pending ones on every load: reading them all made both grow
    /// with the queue of requests, see `zoho-bridge`'s `gateway` bench).
    fn count_approvals(&self, status: ApprovalStatus) -> impl Future<Output = StoreResult<i64>> + Send;
}
