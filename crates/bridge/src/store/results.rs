//! Job results stored in batches: what both back ends send to the database.
//!
//! A worker finishes many jobs a second; storing each in its own transaction costs a
//! commit (and on SQLite several hand-offs to its connection thread) per job.
//! [`super::Store::record`] stores a whole batch in one transaction with three set-based
//! statements: one `UPDATE` of the jobs still leased to the worker (its `RETURNING`
//! says which were), one upsert each of their links and snapshots, and the audit entries of every result
//! (inserted, or completed when they were journaled before the write was sent). The
//! rows travel as one JSON array per statement (`json_each` on SQLite,
//! `jsonb_to_recordset` on PostgreSQL); this module builds those arrays, so both back
//! ends send the same thing and decide the same way.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use super::convert::{json_text, parse_status};
use super::{Finish, JobResult, JobStatus, StoreError, StoreResult};

/// The `jobs` update rows: `id`, `kind` (`done`, `skipped`, `fail`), `outcome`, `error`,
/// `retryable`, `max_attempts`, `retry_at_ms`.
pub(crate) fn job_rows(results: &[(i64, JobResult)]) -> String {
    let rows: Vec<Value> = results
        .iter()
        .map(|(id, result)| match result {
            JobResult::Finish(Finish::Done { outcome, .. }) => json!({"id": id, "kind": "done", "outcome": outcome}),
            JobResult::Finish(Finish::Skipped { reason, .. }) => json!({"id": id, "kind": "skipped", "outcome": reason}),
            JobResult::Fail { failure, retry_at_ms, max_attempts } => json!({
                "id": id,
                "kind": "fail",
                "error": failure.error,
                "retryable": failure.retryable,
                "max_attempts": max_attempts,
                "retry_at_ms": retry_at_ms,
            }),
        })
        .collect();
    Value::Array(rows).to_string()
}

/// The link rows of the accepted jobs' results, one per (connection, relation, CRM
/// record) (a later job's link wins), sorted by key so that concurrent writers lock rows
/// in the same order.
pub(crate) fn link_rows(results: &[(i64, JobResult)], accepted: &HashSet<i64>, now_ms: i64) -> Option<String> {
    let mut links = BTreeMap::new();
    for (_, result) in in_job_order(results, accepted) {
        if let JobResult::Finish(Finish::Done { links: done, .. }) = result {
            for link in done {
                let key = (link.connection.clone(), link.relation.clone(), link.crm_id.clone());
                let row = json!({
                    "connection": link.connection,
                    "relation": link.relation,
                    "crm_id": link.crm_id,
                    "books_id": link.books_id,
                    "crm_hash": link.crm_hash,
                    "books_hash": link.books_hash,
                    "updated_ms": now_ms,
                });
                links.insert(key, row);
            }
        }
    }
    (!links.is_empty()).then(|| Value::Array(links.into_values().collect()).to_string())
}

/// The snapshot rows of the accepted jobs' results (done or skipped), one per (connection,
/// flow, record) (a later job's wins), sorted by key. `fields` travels as JSON text.
pub(crate) fn snapshot_rows(results: &[(i64, JobResult)], accepted: &HashSet<i64>, now_ms: i64) -> Option<String> {
    let mut rows = BTreeMap::new();
    for (_, result) in in_job_order(results, accepted) {
        let snapshot = match result {
            JobResult::Finish(Finish::Done { snapshot, .. } | Finish::Skipped { snapshot, .. }) => snapshot,
            JobResult::Fail { .. } => &None,
        };
        if let Some(s) = snapshot {
            let r = &s.record;
            let key = (s.connection.clone(), s.flow.clone(), r.system.as_str(), r.module.clone(), r.id.clone());
            let row = json!({
                "connection": s.connection,
                "flow": s.flow,
                "system": r.system.as_str(),
                "module": r.module,
                "record_id": r.id,
                "fields": json_text(&s.fields),
                "updated_ms": now_ms,
            });
            rows.insert(key, row);
        }
    }
    (!rows.is_empty()).then(|| Value::Array(rows.into_values().collect()).to_string())
}

/// The accepted results, in job order.
fn in_job_order<'a>(results: &'a [(i64, JobResult)], accepted: &HashSet<i64>) -> Vec<&'a (i64, JobResult)> {
    let mut ordered: Vec<&(i64, JobResult)> = results.iter().filter(|(id, _)| accepted.contains(id)).collect();
    ordered.sort_by_key(|(id, _)| *id);
    ordered
}

/// The audit entries of all the results, accepted or not (a write Zoho answered happened,
/// whoever holds the job now), in job order, split in two: entries to insert, and
/// answers to entries journaled before their write was sent (`id` set, see
/// [`super::Store::add_audit`]). `request` and `response` travel as JSON text, so that any
/// JSON value (even a bare string) is stored as written.
pub(crate) fn audit_rows(results: &[(i64, JobResult)]) -> (Option<String>, Option<String>) {
    let mut ordered: Vec<&(i64, JobResult)> = results.iter().collect();
    ordered.sort_by_key(|(id, _)| *id);
    let (mut inserts, mut answers) = (Vec::new(), Vec::new());
    for entry in ordered.into_iter().flat_map(|(_, result)| match result {
        JobResult::Finish(Finish::Done { audit, .. }) => audit.as_slice(),
        JobResult::Fail { failure, .. } => failure.audit.as_slice(),
        JobResult::Finish(Finish::Skipped { .. }) => &[],
    }) {
        if entry.id > 0 {
            answers.push(json!({
                "id": entry.id,
                "action": entry.action,
                "record_id": entry.record_id,
                "response": json_text(&entry.response),
                "ok": entry.ok,
            }));
        } else {
            inserts.push(json!({
                "at_ms": entry.at_ms,
                "actor": entry.actor,
                "job_id": entry.job_id,
                "event_id": entry.event_id,
                "connection": entry.connection,
                "system": entry.system,
                "module": entry.module,
                "record_id": entry.record_id,
                "action": entry.action,
                "request": json_text(&entry.request),
                "response": json_text(&entry.response),
                "ok": entry.ok,
            }));
        }
    }
    let array = |rows: Vec<Value>| (!rows.is_empty()).then(|| Value::Array(rows).to_string());
    (array(inserts), array(answers))
}

/// The ids of `results`, as a JSON array (to ask which of them exist).
pub(crate) fn id_array(results: &[(i64, JobResult)]) -> String {
    Value::Array(results.iter().map(|(id, _)| json!(id)).collect()).to_string()
}

/// What `UPDATE … RETURNING id, status` said: each accepted job's new status.
pub(crate) fn accepted(returned: Vec<(i64, String)>) -> StoreResult<HashMap<i64, JobStatus>> {
    returned.into_iter().map(|(id, status)| Ok((id, parse_status(&status)?))).collect()
}

/// The answer per job, in the order given: the new status, `LeaseLost` for a job that
/// exists but is not running under this worker, `NotFound` for one that does not exist.
pub(crate) fn answers(results: &[(i64, JobResult)], accepted: &HashMap<i64, JobStatus>, existing: &HashSet<i64>) -> Vec<StoreResult<JobStatus>> {
    results
        .iter()
        .map(|(id, _)| match accepted.get(id) {
            Some(status) => Ok(*status),
            None if existing.contains(id) => Err(StoreError::LeaseLost(*id)),
            None => Err(StoreError::NotFound(format!("job {id}"))),
        })
        .collect()
}
