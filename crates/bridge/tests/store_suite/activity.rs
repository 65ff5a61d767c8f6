//! [`Activity`]: a flow's recent runs and an event's runs, as the dashboard reads them.

use bridge::store::{Activity, Failure, Finish, Inserted, JobResult, JobStatus, NewJob, Store};
use serde_json::json;

use super::{T0, event, job};

/// A flow's runs come newest first, limited, with their event's time; other flows' runs
/// stay out; the latency runs from the event received to the job finished, and is
/// unknown while the job is unfinished.
pub async fn recent_runs_come_newest_first_with_their_events_time<S: Store + Activity>(store: S) {
    assert!(store.recent_runs("catalog_sync", 10).await.expect("runs").is_empty());
    // Three product changes received at T0, T0+10, T0+20, each with a catalog_sync job
    // and a customer_sync job (another flow).
    let mut ids = Vec::new();
    let mut events = Vec::new();
    for n in 0..3_i64 {
        let other = NewJob { flow: "customer_sync".into(), key: format!("crm:Accounts:{n}"), payload: json!({}) };
        let inserted = store.add_event(&event(&n.to_string(), n), &[job(&n.to_string()), other], T0 + n * 10).await.expect("add_event");
        let Inserted::New(event_id) = inserted else { panic!("{inserted:?}") };
        events.push(event_id);
    }
    for claimed in store.claim("w", T0 + 100, 60_000, 10).await.expect("claim") {
        if claimed.flow == "catalog_sync" {
            ids.push(claimed.id);
        }
    }
    assert_eq!(ids.len(), 3);
    // The first is done at T0+500, the second dead at T0+700, the third still running.
    let done = JobResult::Finish(Finish::Done { outcome: "created item".into(), links: vec![], snapshot: None, audit: vec![] });
    store.record("w", &[(ids[0], done)], T0 + 500).await.expect("record done");
    let failure = Failure { error: "Books code 1001: An item with the SKU \"X\" already exists.".into(), retryable: false, audit: vec![] };
    store.fail(ids[1], "w", &failure, T0, 3, T0 + 700).await.expect("fail");

    let runs = store.recent_runs("catalog_sync", 10).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.job.id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]], "newest first");
    assert!(runs.iter().all(|r| r.job.flow == "catalog_sync"), "only this flow's runs");
    assert_eq!(runs.iter().map(|r| r.received_ms).collect::<Vec<_>>(), [T0 + 20, T0 + 10, T0]);
    assert_eq!(runs.iter().map(|r| r.job.status).collect::<Vec<_>>(), [JobStatus::Running, JobStatus::Dead, JobStatus::Done]);
    assert_eq!(runs.iter().map(|r| r.latency_ms()).collect::<Vec<_>>(), [None, Some(690), Some(500)]);
    assert_eq!(runs[1].job.last_error.as_deref(), Some(failure.error.as_str()), "the job as stored");
    assert_eq!(runs[2].job.payload, json!({"why": "test"}), "JSON read back on both back ends");

    let newest = store.recent_runs("catalog_sync", 1).await.expect("runs");
    assert_eq!(newest.iter().map(|r| r.job.id).collect::<Vec<_>>(), [ids[2]], "limited");
    assert_eq!(store.recent_runs("customer_sync", 10).await.expect("runs").len(), 3);
    assert!(store.recent_runs("no_such_flow", 10).await.expect("runs").is_empty());

    // An event's runs: both flows' jobs, oldest first, with the event's time.
    let of_second = store.runs_for_event(events[1]).await.expect("runs of an event");
    assert_eq!(of_second.iter().map(|r| (r.job.flow.as_str(), r.received_ms)).collect::<Vec<_>>(), [("catalog_sync", T0 + 10), ("customer_sync", T0 + 10)]);
    assert_eq!(of_second[0].job.id, ids[1]);
    assert!(store.runs_for_event(events[2] + 1_000).await.expect("runs").is_empty());
}
