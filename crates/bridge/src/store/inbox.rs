//! Events stored in batches: what both back ends send for a poller's page of changes.
//!
//! [`super::Store::add_events_and_move_cursor`] stores a whole page in one transaction
//! with two set-based statements: one insert of the events (a dedup key already in the
//! inbox inserts nothing; `RETURNING` names the new ones) and one insert of the new
//! events' jobs, in the order given (job ids grow in enqueue order, which per-key
//! ordering relies on). The rows travel as JSON arrays, as in [`super::results`].

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::convert::{json_text, source_str};
use super::{Inserted, NewEvent, NewJob};

/// The event rows: `source`, `connection`, `system`, `module`, `record_id`,
/// `modified_ms`, `payload` (JSON text), `dedup_key`.
pub(crate) fn event_rows(events: &[(NewEvent, Vec<NewJob>)]) -> String {
    let rows: Vec<Value> = events
        .iter()
        .map(|(e, _)| {
            json!({
                "source": source_str(e.source),
                "connection": e.connection,
                "system": e.system,
                "module": e.module,
                "record_id": e.record_id,
                "modified_ms": e.modified_ms,
                "payload": json_text(&e.payload),
                "dedup_key": e.dedup_key,
            })
        })
        .collect();
    Value::Array(rows).to_string()
}

/// What storing each event did, in the order given, from the `(id, dedup_key)` pairs the
/// insert returned. Within one batch only the first event with a dedup key is new.
pub(crate) fn inserted(events: &[(NewEvent, Vec<NewJob>)], returned: Vec<(i64, String)>) -> Vec<Inserted> {
    let ids: HashMap<String, i64> = returned.into_iter().map(|(id, key)| (key, id)).collect();
    let mut seen = HashSet::new();
    events
        .iter()
        .map(|(e, _)| match ids.get(&e.dedup_key) {
            Some(id) if seen.insert(e.dedup_key.as_str()) => Inserted::New(*id),
            _ => Inserted::Duplicate,
        })
        .collect()
}

/// The job rows of the new events, in the order given: `event_id`, `flow`, `key`,
/// `payload` (JSON text). `None` when there is none.
pub(crate) fn job_rows(events: &[(NewEvent, Vec<NewJob>)], inserted: &[Inserted]) -> Option<String> {
    let rows: Vec<Value> = events
        .iter()
        .zip(inserted)
        .filter_map(|((_, jobs), ins)| match ins {
            Inserted::New(id) => Some((*id, jobs)),
            Inserted::Duplicate => None,
        })
        .flat_map(|(event_id, jobs)| jobs.iter().map(move |j| json!({"event_id": event_id, "flow": j.flow, "key": j.key, "payload": json_text(&j.payload)})))
        .collect();
    (!rows.is_empty()).then(|| Value::Array(rows).to_string())
}

/// Jobs enqueued for the new events.
pub(crate) fn jobs_enqueued(events: &[(NewEvent, Vec<NewJob>)], inserted: &[Inserted]) -> u64 {
    events.iter().zip(inserted).filter(|(_, i)| matches!(i, Inserted::New(_))).map(|((_, jobs), _)| jobs.len() as u64).sum()
}
