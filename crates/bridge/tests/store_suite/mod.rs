//! The store's contract as tests, written once over any [`Store`] and run against both
//! back ends by `store_sqlite.rs` and `store_postgres.rs`.
#![allow(dead_code)] // each runner uses all of it, but the compiler checks them one by one

pub mod activity;
pub use activity::recent_runs_come_newest_first_with_their_events_time;
pub mod matching;
pub mod two_writes;
pub use matching::{
    decide_refuses_decided_reviews_and_strangers, decided_reviews_allow_a_new_one_and_last_review_is_the_newest, directory_finds_by_email_name_and_native_id,
    directory_replaces_isolates_removes_and_counts, directory_takes_ten_thousand_entries, open_review_is_idempotent_per_open_record,
    reviews_are_listed_by_status_oldest_first, unicode_and_long_names_round_trip,
};
pub mod agent_tokens;
pub use agent_tokens::{agent_calls_are_limited_per_token_across_callers, agent_tokens_are_found_by_hash_until_revoked};
pub mod budget_shares;
pub use budget_shares::{
    a_dead_holders_count_drains_with_its_window, budget_shares_follow_the_live_holders, concurrent_heartbeats_keep_the_sum_within_the_limit,
};
pub use two_writes::a_two_write_flow_killed_between_its_writes_duplicates_nothing;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bridge::store::{
    ApprovalStatus, Approvals, AuditEntry, Cursor, DirectoryEntry, Failure, Finish, Inserted, JobResult, JobStatus, Key, Link, NewEvent, NewJob, PRUNE_BATCH,
    Pruned, RecordRef, Snapshot, Source, Store, StoreError,
};
use serde_json::json;

/// A fixed "now" so every test is deterministic.
pub const T0: i64 = 1_700_000_000_000;

/// A lease long enough never to run out by itself in a test.
const LONG_LEASE: i64 = 3_600_000;

/// A CRM product event with the given record id and modified time.
pub fn event(record_id: &str, modified_ms: i64) -> NewEvent {
    NewEvent {
        source: Source::CrmNotification,
        connection: "acme".into(),
        system: "crm".into(),
        module: "Products".into(),
        record_id: record_id.into(),
        modified_ms: Some(modified_ms),
        payload: json!({"id": record_id, "Unit_Price": "12.50"}),
        dedup_key: format!("crm:Products:{record_id}:{modified_ms}"),
    }
}

/// The `catalog_sync` job for a product record.
pub fn job(record_id: &str) -> NewJob {
    NewJob { flow: "catalog_sync".into(), key: format!("crm:Products:{record_id}"), payload: json!({"why": "test"}) }
}

/// Adds an event with one job for `record_id`; returns the job's id.
async fn enqueue<S: Store>(store: &S, record_id: &str, modified_ms: i64) -> i64 {
    let inserted = store.add_event(&event(record_id, modified_ms), &[job(record_id)], T0).await.expect("add_event");
    let Inserted::New(event_id) = inserted else { panic!("expected a new event, got {inserted:?}") };
    let queued = store.jobs_with_status(JobStatus::Queued, 10_000).await.expect("jobs_with_status");
    queued.iter().rev().find(|j| j.event_id == event_id).map(|j| j.id).expect("the event's job is queued")
}

/// Job counts as sorted `(status, count)` pairs, comparable with [`want`].
async fn counts<S: Store>(store: &S) -> Vec<(String, i64)> {
    want(&store.job_counts().await.expect("job_counts"))
}

/// Expected job counts in the form [`counts`] returns.
fn want(counts: &[(JobStatus, i64)]) -> Vec<(String, i64)> {
    let mut out: Vec<_> = counts.iter().map(|(status, n)| (format!("{status:?}"), *n)).collect();
    out.sort();
    out
}

pub fn audit(actor: &str, record_id: &str, action: &str, at_ms: i64, job_id: Option<i64>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at_ms,
        actor: actor.into(),
        job_id,
        event_id: None,
        connection: "acme".into(),
        system: "books".into(),
        module: "items".into(),
        record_id: Some(record_id.into()),
        action: action.into(),
        request: json!({"name": "Widget", "rate": "12.50"}),
        response: json!({"code": 0, "message": "The item has been added."}),
        ok: true,
    }
}

pub fn link(crm_id: &str, books_id: &str, books_hash: Option<&str>, crm_hash: Option<&str>) -> Link {
    Link {
        connection: "acme".into(),
        relation: "product_item".into(),
        crm_id: crm_id.into(),
        books_id: books_id.into(),
        books_hash: books_hash.map(String::from),
        crm_hash: crm_hash.map(String::from),
        updated_ms: 0,
    }
}

fn skipped() -> Finish {
    Finish::Skipped { reason: "nothing changed".into(), snapshot: None }
}

/// A second delivery of the same change is absorbed and enqueues nothing, alone or in a batch.
pub async fn duplicate_event_absorbed<S: Store>(store: S) {
    let first = store.add_event(&event("1", 100), &[job("1")], T0).await.expect("first delivery");
    assert!(matches!(first, Inserted::New(_)), "{first:?}");
    let again = store.add_event(&event("1", 100), &[job("1")], T0 + 1).await.expect("second delivery");
    assert_eq!(again, Inserted::Duplicate);
    let cursor = Cursor { connection: "acme".into(), stream: "crm:Products".into(), position_ms: 200, updated_ms: 0 };
    let batch = vec![(event("1", 100), vec![job("1")]), (event("2", 150), vec![job("2")])];
    let inserted = store.add_events_and_move_cursor(&batch, &cursor, T0 + 2).await.expect("batch");
    assert_eq!(inserted[0], Inserted::Duplicate);
    assert!(matches!(inserted[1], Inserted::New(_)), "{inserted:?}");
    assert_eq!(counts(&store).await, want(&[(JobStatus::Queued, 2)]));
}

/// The cursor moves in the transaction that stores its events, and not when that fails.
pub async fn cursor_moves_only_with_events<S: Store>(store: S) {
    assert_eq!(store.cursor("acme", "crm:Products").await.expect("cursor"), None);
    let cursor = |position_ms| Cursor { connection: "acme".into(), stream: "crm:Products".into(), position_ms, updated_ms: 0 };
    store.add_events_and_move_cursor(&[(event("1", 1_000), vec![job("1")])], &cursor(1_000), T0).await.expect("good batch");
    let moved = store.cursor("acme", "crm:Products").await.expect("cursor").expect("cursor set");
    assert_eq!((moved.position_ms, moved.updated_ms), (1_000, T0));

    // The second event breaks a constraint (empty dedup key): nothing of the batch stays.
    let mut bad = event("3", 2_000);
    bad.dedup_key = String::new();
    let batch = vec![(event("2", 1_500), vec![job("2")]), (bad, vec![job("3")])];
    let err = store.add_events_and_move_cursor(&batch, &cursor(2_000), T0 + 1).await.expect_err("batch must fail");
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    let kept = store.cursor("acme", "crm:Products").await.expect("cursor").expect("cursor set");
    assert_eq!(kept.position_ms, 1_000, "the cursor moved without its events");
    assert_eq!(counts(&store).await, want(&[(JobStatus::Queued, 1)]));
    // The first event of the failed batch was rolled back, so it is new now.
    let again = store.add_event(&event("2", 1_500), &[job("2")], T0 + 2).await.expect("add_event");
    assert!(matches!(again, Inserted::New(_)), "{again:?}");

    // A bad job (empty flow name) fails the batch just the same.
    let bad_job = NewJob { flow: String::new(), key: "k".into(), payload: json!(null) };
    let batch = vec![(event("4", 3_000), vec![bad_job])];
    store.add_events_and_move_cursor(&batch, &cursor(3_000), T0 + 3).await.expect_err("bad job must fail");
    assert_eq!(store.cursor("acme", "crm:Products").await.expect("cursor").map(|c| c.position_ms), Some(1_000));
}

/// A poller's page: an event already in the inbox and a second delivery inside the page
/// are absorbed, the new events' jobs are enqueued in page order, and a stored event
/// keeps its payload and modified time (or none).
pub async fn a_batch_of_events<S: Store>(store: S) {
    store.add_event(&event("1", 100), &[job("1")], T0).await.expect("add_event");
    let mut no_time = event("3", 300);
    no_time.modified_ms = None;
    no_time.dedup_key = "crm:Products:3:first".into();
    let page = vec![
        (event("2", 200), vec![job("2")]),
        (event("1", 100), vec![job("1")]),
        (no_time, vec![job("3"), NewJob { flow: "other_flow".into(), key: "crm:Products:3".into(), payload: json!({"n": 2}) }]),
        (event("2", 200), vec![job("2")]),
        (event("4", 400), vec![job("4")]),
    ];
    let cursor = Cursor { connection: "acme".into(), stream: "crm:Products".into(), position_ms: 400, updated_ms: 0 };
    let inserted = store.add_events_and_move_cursor(&page, &cursor, T0 + 1).await.expect("page");
    let shape: Vec<bool> = inserted.iter().map(|i| matches!(i, Inserted::New(_))).collect();
    assert_eq!(shape, vec![true, false, true, false, true]);
    let queued = store.jobs_with_status(JobStatus::Queued, 100).await.expect("jobs");
    let order: Vec<(String, String)> = queued.iter().map(|j| (j.key.clone(), j.flow.clone())).collect();
    let k = |n: &str, flow: &str| (format!("crm:Products:{n}"), flow.to_string());
    assert_eq!(
        order,
        vec![k("1", "catalog_sync"), k("2", "catalog_sync"), k("3", "catalog_sync"), k("3", "other_flow"), k("4", "catalog_sync")],
        "jobs in enqueue order, one set per new event"
    );
    let Inserted::New(third) = inserted[2] else { unreachable!() };
    assert!(queued.iter().filter(|j| j.key == "crm:Products:3").all(|j| j.event_id == third));
    assert_eq!(queued[3].payload, json!({"n": 2}));
    let moved = store.cursor("acme", "crm:Products").await.expect("cursor").expect("set");
    assert_eq!(moved.position_ms, 400);
    // The inbox, by record and by id.
    let threes = store.events_for_record("crm", "Products", "3", 10).await.expect("events");
    assert_eq!(threes.len(), 1);
    assert_eq!((threes[0].id, threes[0].received_ms), (third, T0 + 1));
    assert_eq!(threes[0].event, page[2].0, "stored as the trigger saw it");
    assert_eq!(store.event(third).await.expect("event"), Some(threes[0].clone()));
    assert_eq!(store.events_for_record("crm", "Products", "2", 10).await.expect("events").len(), 1, "a second delivery is absorbed");
    let ones = store.events_for_record("crm", "Products", "1", 10).await.expect("events");
    assert_eq!((ones.len(), ones[0].received_ms, ones[0].event.modified_ms), (1, T0, Some(100)));
    assert_eq!(store.event(987_654).await.expect("event"), None);
    // A notification naming several records: one transaction, all or nothing.
    let mut bad = event("9", 900);
    bad.dedup_key = String::new();
    let err = store.add_events(&[(event("8", 800), vec![job("8")]), (bad, vec![job("9")])], T0 + 3).await;
    assert!(matches!(err, Err(StoreError::Constraint(_))), "{err:?}");
    assert!(store.events_for_record("crm", "Products", "8", 10).await.expect("events").is_empty(), "nothing of a failed batch stays");
    let both = store.add_events(&[(event("8", 800), vec![job("8")]), (event("4", 400), vec![job("4")])], T0 + 4).await.expect("add_events");
    assert!(matches!(both[..], [Inserted::New(_), Inserted::Duplicate]), "{both:?}");
    assert!(store.add_events(&[], T0 + 5).await.expect("nothing").is_empty());
    // An empty page moves the cursor alone.
    let cursor = Cursor { position_ms: 500, ..cursor };
    assert!(store.add_events_and_move_cursor(&[], &cursor, T0 + 2).await.expect("empty page").is_empty());
    assert_eq!(store.cursor("acme", "crm:Products").await.expect("cursor").map(|c| c.position_ms), Some(500));
}

/// Two jobs with the same key never run at once nor out of order, even across a retry.
pub async fn per_key_ordering<S: Store>(store: S) {
    let first = enqueue(&store, "7", 100).await;
    let second = enqueue(&store, "7", 200).await;
    let other = enqueue(&store, "8", 100).await;
    assert!(first < second);

    let claimed: Vec<i64> = store.claim("w1", T0, LONG_LEASE, 10).await.expect("claim").iter().map(|j| j.id).collect();
    assert_eq!(claimed, vec![first, other], "the second job of key 7 must wait");
    assert!(store.claim("w2", T0, LONG_LEASE, 10).await.expect("claim").is_empty());

    // The first fails and is scheduled for later: the second still waits behind it.
    let failure = Failure { error: "HTTP 503".into(), retryable: true, audit: vec![] };
    let status = store.fail(first, "w1", &failure, T0 + 60_000, 5, T0 + 1).await.expect("fail");
    assert_eq!(status, JobStatus::Queued);
    store.finish(other, "w1", &skipped(), T0 + 1).await.expect("finish other");
    assert!(store.claim("w2", T0 + 1_000, LONG_LEASE, 10).await.expect("claim").is_empty());

    let retried = store.claim("w2", T0 + 60_000, LONG_LEASE, 10).await.expect("claim");
    assert_eq!(retried.iter().map(|j| j.id).collect::<Vec<_>>(), vec![first]);
    assert_eq!(retried[0].attempts, 2);
    assert!(store.claim("w3", T0 + 60_001, LONG_LEASE, 10).await.expect("claim").is_empty());
    store.finish(first, "w2", &skipped(), T0 + 60_002).await.expect("finish first");

    let next = store.claim("w3", T0 + 60_003, LONG_LEASE, 10).await.expect("claim");
    assert_eq!(next.iter().map(|j| j.id).collect::<Vec<_>>(), vec![second]);
}

/// A worker that stops renewing loses its lease; another takes the job; the first's
/// results are refused and change nothing.
pub async fn lease_expiry_and_reclaim<S: Store>(store: S) {
    let id = enqueue(&store, "1", 100).await;
    let claimed = store.claim("w1", T0, 30_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].lease_owner.as_deref(), claimed[0].lease_until_ms, claimed[0].attempts), (Some("w1"), Some(T0 + 30_000), 1));
    assert!(store.claim("w2", T0 + 10_000, 30_000, 10).await.expect("claim").is_empty());

    store.extend_lease(id, "w1", T0 + 40_000).await.expect("extend");
    assert!(store.claim("w2", T0 + 35_000, 30_000, 10).await.expect("claim").is_empty(), "lease was extended");

    let taken = store.claim("w2", T0 + 40_000, 30_000, 10).await.expect("claim");
    assert_eq!(taken.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(id, 2)]);
    assert_eq!(taken[0].lease_owner.as_deref(), Some("w2"));

    let done = Finish::Done {
        outcome: "late".into(),
        links: vec![link("1", "b1", Some("h"), None)],
        snapshot: None,
        audit: vec![audit("w1", "b1", "update", T0, Some(id))],
    };
    assert!(matches!(store.finish(id, "w1", &done, T0 + 41_000).await, Err(StoreError::LeaseLost(j)) if j == id));
    let failure = Failure { error: "late".into(), retryable: false, audit: vec![] };
    assert!(matches!(store.fail(id, "w1", &failure, T0, 5, T0 + 41_000).await, Err(StoreError::LeaseLost(_))));
    assert!(matches!(store.extend_lease(id, "w1", T0 + 99_000).await, Err(StoreError::LeaseLost(_))));
    let job = store.job(id).await.expect("job").expect("exists");
    assert_eq!((job.status, job.lease_owner.as_deref(), job.lease_until_ms), (JobStatus::Running, Some("w2"), Some(T0 + 70_000)));
    assert_eq!(store.link_by_crm("acme", "product_item", "1").await.expect("link"), None);
    // The late worker's write did happen in Zoho: its audit entry is kept.
    assert_eq!(store.audit_for_record("books", "items", "b1").await.expect("audit").len(), 1);

    store.finish(id, "w2", &skipped(), T0 + 42_000).await.expect("finish by the holder");
    assert!(matches!(store.finish(id, "w2", &skipped(), T0 + 43_000).await, Err(StoreError::LeaseLost(_))));
    assert!(matches!(store.finish(987_654, "w2", &skipped(), T0).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.job(987_654).await.expect("job"), None);
}

/// Retryable failures retry at the given time until `max_attempts`, then dead-letter with
/// the last error; a permanent failure dead-letters at once; failed attempts' writes are audited.
pub async fn retries_then_dead_letter<S: Store>(store: S) {
    let id = enqueue(&store, "1", 100).await;
    let mut now = T0;
    for attempt in 1..=3 {
        let claimed = store.claim("w", now, LONG_LEASE, 1).await.expect("claim");
        assert_eq!(claimed.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(id, attempt)]);
        let failure = Failure {
            error: format!("attempt {attempt}: Zoho code 1001: The item could not be saved"),
            retryable: true,
            audit: vec![audit("w", "b1", "create", now, Some(id))],
        };
        let status = store.fail(id, "w", &failure, now + 5_000, 3, now).await.expect("fail");
        let job = store.job(id).await.expect("job").expect("exists");
        assert_eq!(job.last_error.as_deref(), Some(failure.error.as_str()));
        if attempt < 3 {
            assert_eq!(status, JobStatus::Queued);
            assert_eq!((job.run_after_ms, job.lease_owner), (now + 5_000, None));
            assert!(store.claim("w", now + 4_999, LONG_LEASE, 1).await.expect("claim").is_empty(), "retried too early");
        } else {
            assert_eq!(status, JobStatus::Dead);
        }
        now += 5_000;
    }
    let dead = store.jobs_with_status(JobStatus::Dead, 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("attempt 3: Zoho code 1001: The item could not be saved"));
    assert!(store.claim("w", now + 1_000_000, LONG_LEASE, 10).await.expect("claim").is_empty());
    assert_eq!(store.audit_for_record("books", "items", "b1").await.expect("audit").len(), 3);

    let permanent = enqueue(&store, "2", 100).await;
    store.claim("w", now, LONG_LEASE, 1).await.expect("claim");
    let failure = Failure { error: "Zoho code 1002: Organization does not exist".into(), retryable: false, audit: vec![] };
    assert_eq!(store.fail(permanent, "w", &failure, now, 3, now).await.expect("fail"), JobStatus::Dead);
    let dead: Vec<i64> = store.jobs_with_status(JobStatus::Dead, 10).await.expect("dead").iter().map(|j| j.id).collect();
    assert_eq!(dead, vec![id, permanent]);
}

/// A dead job can be replayed (attempts reset, runs now) or dropped (skipped with a reason).
pub async fn replay_and_drop<S: Store>(store: S) {
    let a = enqueue(&store, "1", 100).await;
    let b = enqueue(&store, "2", 100).await;
    let queued = enqueue(&store, "3", 100).await;
    store.claim("w", T0, LONG_LEASE, 2).await.expect("claim");
    let failure = Failure { error: "Zoho code 57: not authorised".into(), retryable: false, audit: vec![] };
    store.fail(a, "w", &failure, T0, 5, T0).await.expect("fail a");
    store.fail(b, "w", &failure, T0, 5, T0).await.expect("fail b");

    store.replay(a, T0 + 100).await.expect("replay");
    let replayed = store.job(a).await.expect("job").expect("exists");
    assert_eq!((replayed.status, replayed.attempts, replayed.run_after_ms), (JobStatus::Queued, 0, T0 + 100));
    let claimed = store.claim("w", T0 + 100, LONG_LEASE, 10).await.expect("claim");
    assert_eq!(claimed.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a, 1), (queued, 1)]);

    store.drop_dead(b, "dropped by ops@acme.example", T0 + 200).await.expect("drop");
    let dropped = store.job(b).await.expect("job").expect("exists");
    assert_eq!((dropped.status, dropped.outcome.as_deref()), (JobStatus::Skipped, Some("dropped by ops@acme.example")));
    assert!(matches!(store.replay(b, T0).await, Err(StoreError::NotFound(_))), "only dead jobs replay");
    assert!(matches!(store.drop_dead(queued, "x", T0).await, Err(StoreError::NotFound(_))), "only dead jobs drop");
    assert!(store.jobs_with_status(JobStatus::Dead, 10).await.expect("dead").is_empty());
}

/// Finishing writes the job's end, its link and its audit entries together, or none of them.
pub async fn finish_with_link_and_audit<S: Store>(store: S) {
    let id = enqueue(&store, "1", 100).await;
    store.claim("w", T0, LONG_LEASE, 1).await.expect("claim");
    let done = Finish::Done {
        outcome: "created item b1".into(),
        links: vec![link("1", "b1", Some("hash-books-1"), None)],
        snapshot: None,
        audit: vec![audit("w", "b1", "create", T0 + 1, Some(id)), audit("w", "b1", "update", T0 + 2, Some(id))],
    };
    store.finish(id, "w", &done, T0 + 3).await.expect("finish");

    let by_crm = store.link_by_crm("acme", "product_item", "1").await.expect("link").expect("linked");
    assert_eq!((by_crm.books_id.as_str(), by_crm.books_hash.as_deref(), by_crm.updated_ms), ("b1", Some("hash-books-1"), T0 + 3));
    assert_eq!(store.link_by_books("acme", "product_item", "b1").await.expect("link"), Some(by_crm.clone()));
    assert_eq!(store.links("acme", "product_item").await.expect("links"), vec![by_crm]);
    let entries = store.audit_for_record("books", "items", "b1").await.expect("audit");
    assert_eq!(entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), vec!["update", "create"], "newest first");
    assert!(entries[0].id > entries[1].id);
    assert_eq!(entries[1].request, json!({"name": "Widget", "rate": "12.50"}));
    assert_eq!((entries[1].job_id, entries[1].ok), (Some(id), true));
    let job = store.job(id).await.expect("job").expect("exists");
    assert_eq!((job.status, job.outcome.as_deref(), job.lease_owner), (JobStatus::Done, Some("created item b1"), None));

    // Updating the link with only the CRM-side hash keeps the Books-side one.
    let id2 = enqueue(&store, "1", 200).await;
    store.claim("w", T0 + 10, LONG_LEASE, 1).await.expect("claim");
    let done = Finish::Done { outcome: "wrote crm".into(), links: vec![link("1", "b1", None, Some("hash-crm-1"))], snapshot: None, audit: vec![] };
    store.finish(id2, "w", &done, T0 + 11).await.expect("finish");
    let both = store.link_by_crm("acme", "product_item", "1").await.expect("link").expect("linked");
    assert_eq!((both.books_hash.as_deref(), both.crm_hash.as_deref()), (Some("hash-books-1"), Some("hash-crm-1")));

    // A link that breaks a constraint (Books item b1 already belongs to CRM record 1)
    // fails the whole finish: no audit entry, the job still running.
    let id3 = enqueue(&store, "2", 100).await;
    store.claim("w", T0 + 20, LONG_LEASE, 1).await.expect("claim");
    let clash = Finish::Done {
        outcome: "clash".into(),
        links: vec![link("2", "b1", Some("h"), None)],
        snapshot: None,
        audit: vec![audit("w", "b2", "create", T0 + 21, Some(id3))],
    };
    assert!(matches!(store.finish(id3, "w", &clash, T0 + 22).await, Err(StoreError::Constraint(_))));
    assert!(store.audit_for_record("books", "items", "b2").await.expect("audit").is_empty());
    assert_eq!(store.link_by_crm("acme", "product_item", "2").await.expect("link"), None);
    assert_eq!(store.job(id3).await.expect("job").expect("exists").status, JobStatus::Running);
}

/// One `record` call stores a mixed batch in one go: each job gets its own answer, the
/// done job's link and the audit of every result are stored, and a job whose lease was
/// taken over (or that does not exist) changes no job or link and says why.
pub async fn record_a_batch<S: Store>(store: S) {
    assert!(store.record("w", &[], T0).await.expect("empty batch").is_empty());
    let ids: Vec<i64> = enqueue_records(&store, 6).await;
    let (done, skip, retry, dead, untouched, lost) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    assert_eq!(store.claim("w", T0, LONG_LEASE, 5).await.expect("claim").len(), 5);
    assert_eq!(store.claim("w", T0, 1_000, 1).await.expect("claim").len(), 1);
    // w's lease on the last job runs out and v takes it over.
    let taken = store.claim("v", T0 + 2_000, LONG_LEASE, 10).await.expect("claim");
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), vec![lost]);

    let mut created = audit("w", "b1", "create", T0 + 1, Some(done));
    created.request = json!("a bare JSON string stays a string");
    let mut refused = audit("w", "r3", "update", T0 + 2, Some(retry));
    refused.ok = false;
    refused.response = json!({"code": 1001, "message": "refused"});
    let failure = |error: &str, retryable: bool, audit: Vec<AuditEntry>| Failure { error: error.into(), retryable, audit };
    let batch = vec![
        (
            done,
            JobResult::Finish(Finish::Done {
                outcome: "created item b1".into(),
                links: vec![link("1", "b1", Some("h1"), None)],
                snapshot: None,
                audit: vec![created],
            }),
        ),
        (skip, JobResult::Finish(skipped())),
        (retry, JobResult::Fail { failure: failure("timed out", true, vec![refused]), retry_at_ms: T0 + 99, max_attempts: 5 }),
        (dead, JobResult::Fail { failure: failure("Zoho refused: 1001", false, vec![]), retry_at_ms: T0 + 99, max_attempts: 5 }),
        (
            lost,
            JobResult::Finish(Finish::Done {
                outcome: "late".into(),
                links: vec![link("6", "b6", Some("h6"), None)],
                snapshot: None,
                audit: vec![audit("w", "b6", "create", T0 + 3, Some(lost))],
            }),
        ),
        (987_654, JobResult::Finish(skipped())),
    ];
    let answers = store.record("w", &batch, T0 + 10).await.expect("record");
    let shown: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Ok(status) => format!("{status:?}"),
            Err(StoreError::LeaseLost(id)) => format!("lost {}", id == &lost),
            Err(StoreError::NotFound(what)) => format!("not found {what}"),
            Err(e) => format!("{e}"),
        })
        .collect();
    assert_eq!(shown, vec!["Done", "Skipped", "Queued", "Dead", "lost true", "not found job 987654"]);

    let job = |id: i64| {
        let store = store.clone();
        async move { store.job(id).await.expect("job").expect("exists") }
    };
    let j = job(done).await;
    assert_eq!((j.status, j.outcome.as_deref(), j.lease_owner), (JobStatus::Done, Some("created item b1"), None));
    assert_eq!(job(skip).await.outcome.as_deref(), Some("nothing changed"));
    let j = job(retry).await;
    assert_eq!((j.status, j.run_after_ms, j.last_error.as_deref()), (JobStatus::Queued, T0 + 99, Some("timed out")));
    let j = job(dead).await;
    assert_eq!((j.status, j.last_error.as_deref()), (JobStatus::Dead, Some("Zoho refused: 1001")));
    let j = job(untouched).await;
    assert_eq!((j.status, j.lease_owner.as_deref()), (JobStatus::Running, Some("w")));
    let j = job(lost).await;
    assert_eq!((j.status, j.lease_owner.as_deref(), j.outcome), (JobStatus::Running, Some("v"), None));

    let l = store.link_by_crm("acme", "product_item", "1").await.expect("link").expect("linked");
    assert_eq!((l.books_id.as_str(), l.books_hash.as_deref(), l.updated_ms), ("b1", Some("h1"), T0 + 10));
    assert_eq!(store.link_by_crm("acme", "product_item", "6").await.expect("link"), None, "a lost lease stores no link");
    let b1 = store.audit_for_record("books", "items", "b1").await.expect("audit");
    assert_eq!(b1.len(), 1);
    assert_eq!((b1[0].request.clone(), b1[0].job_id, b1[0].ok), (json!("a bare JSON string stays a string"), Some(done), true));
    let r3 = store.audit_for_record("books", "items", "r3").await.expect("audit");
    assert_eq!((r3.len(), r3[0].ok, r3[0].response.clone()), (1, false, json!({"code": 1001, "message": "refused"})), "a failed attempt's writes are audited");
    let b6 = store.audit_for_record("books", "items", "b6").await.expect("audit");
    assert_eq!((b6.len(), b6[0].job_id), (1, Some(lost)), "a lost lease still audits the writes made (they happened)");

    // A write journaled before it was sent: the entry exists at once, and storing the
    // result completes it instead of adding a second one.
    let next = enqueue(&store, "7", 100).await;
    store.claim("w", T0 + 20, LONG_LEASE, 10).await.expect("claim");
    let mut sent = audit("w", "b7", "create", T0 + 21, Some(next));
    sent.record_id = None;
    sent.ok = false;
    sent.response = json!({"outcome": "unknown"});
    let journaled = store.add_audit(&sent).await.expect("add_audit");
    assert!(journaled > 0);
    let pending = store.audit_for_record("books", "items", "b7").await.expect("audit");
    assert!(pending.is_empty(), "no record id yet");
    let mut answered = sent.clone();
    answered.id = journaled;
    answered.record_id = Some("b7".into());
    answered.ok = true;
    answered.response = json!({"item_id": "b7"});
    let result = JobResult::Finish(Finish::Done { outcome: "created b7".into(), links: vec![], snapshot: None, audit: vec![answered] });
    assert!(matches!(store.record("w", &[(next, result)], T0 + 22).await.expect("record")[..], [Ok(JobStatus::Done)]));
    let b7 = store.audit_for_record("books", "items", "b7").await.expect("audit");
    assert_eq!(b7.len(), 1, "completed, not duplicated: {b7:?}");
    assert_eq!((b7[0].id, b7[0].ok, b7[0].at_ms, b7[0].response.clone()), (journaled, true, T0 + 21, json!({"item_id": "b7"})));
    assert_eq!(b7[0].request, json!({"name": "Widget", "rate": "12.50"}));
    assert_eq!(store.audit_for_job(next).await.expect("audit by job"), b7);
    let by_job: Vec<String> = store.audit_for_job(retry).await.expect("audit by job").into_iter().map(|e| e.action).collect();
    assert_eq!(by_job, vec!["update"]);
}

/// Enqueues one job for each of records `1..=n`; returns their ids in order.
async fn enqueue_records<S: Store>(store: &S, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 1..=n {
        ids.push(enqueue(store, &i.to_string(), 100).await);
    }
    ids
}

/// Pruning deletes finished jobs and the events nothing refers to any more, older than
/// the cut-off, in batches; unfinished and dead work, the audit log and links stay.
pub async fn prune_finished_work<S: Store>(store: S) {
    let ids = enqueue_records(&store, 5).await;
    let (done, skip, dead, running, queued) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    assert_eq!(store.claim("w", T0, LONG_LEASE, 4).await.expect("claim").len(), 4);
    let batch = vec![
        (
            done,
            JobResult::Finish(Finish::Done {
                outcome: "created".into(),
                links: vec![link("1", "b1", Some("h1"), None)],
                snapshot: None,
                audit: vec![audit("w", "b1", "create", T0 + 1, Some(done))],
            }),
        ),
        (skip, JobResult::Finish(skipped())),
        (dead, JobResult::Fail { failure: Failure { error: "Zoho refused".into(), retryable: false, audit: vec![] }, retry_at_ms: T0, max_attempts: 5 }),
    ];
    store.record("w", &batch, T0 + 10).await.expect("record");
    let event_of = |job: i64| {
        let store = store.clone();
        async move { store.job(job).await.expect("job").expect("exists").event_id }
    };
    let (done_event, dead_event, running_event) = (event_of(done).await, event_of(dead).await, event_of(running).await);

    assert_eq!(store.prune(T0 + 10).await.expect("prune"), Pruned::default(), "nothing finished before the cut-off");
    assert_eq!(store.prune(T0 + 11).await.expect("prune"), Pruned { jobs: 2, events: 2 });
    assert_eq!(store.job(done).await.expect("job"), None);
    assert_eq!(store.job(skip).await.expect("job"), None);
    assert_eq!(store.event(done_event).await.expect("event"), None);
    for kept in [dead, running, queued] {
        assert!(store.job(kept).await.expect("job").is_some(), "job {kept} is not finished and stays");
    }
    assert!(store.event(dead_event).await.expect("event").is_some(), "a dead letter keeps its event for replay");
    assert!(store.event(running_event).await.expect("event").is_some());
    assert_eq!(store.audit_for_record("books", "items", "b1").await.expect("audit").len(), 1, "the audit log stays");
    assert!(store.link_by_crm("acme", "product_item", "1").await.expect("link").is_some(), "links stay");
    assert_eq!(store.prune(T0 + 11).await.expect("prune"), Pruned::default(), "pruning again deletes nothing");
    // A pruned event's delivery repeated is new again (its flow skips it by hash).
    let again = store.add_event(&event("1", 100), &[job("1")], T0 + 20).await.expect("add_event");
    assert!(matches!(again, Inserted::New(_)), "{again:?}");

    // More than one batch of finished work.
    let n = PRUNE_BATCH as usize + 10;
    let page: Vec<_> = (0..n).map(|i| (event(&format!("bulk{i}"), 1), vec![job(&format!("bulk{i}"))])).collect();
    store.add_events(&page, T0 + 30).await.expect("add_events");
    let claimed = store.claim("bulk", T0 + 30, LONG_LEASE, n as u32 + 10).await.expect("claim");
    let bulk: Vec<(i64, JobResult)> = claimed.iter().filter(|j| j.key.starts_with("crm:Products:bulk")).map(|j| (j.id, JobResult::Finish(skipped()))).collect();
    assert_eq!(bulk.len(), n);
    store.record("bulk", &bulk, T0 + 40).await.expect("record");
    assert_eq!(store.prune(T0 + 41).await.expect("prune"), Pruned { jobs: n as u64, events: n as u64 });
}

/// Sealed access tokens are kept per key and replaced in place.
pub async fn shared_tokens<S: Store>(store: S) {
    assert_eq!(store.token("zoho-token:a").await.expect("token"), None);
    let first = zoho::SealedToken { sealed: "00ff".into(), expires_ms: T0 + 3_600_000 };
    store.save_token("zoho-token:a", &first, T0).await.expect("save");
    assert_eq!(store.token("zoho-token:a").await.expect("token"), Some(first));
    let second = zoho::SealedToken { sealed: "abcd".into(), expires_ms: T0 + 7_200_000 };
    store.save_token("zoho-token:a", &second, T0 + 1).await.expect("save");
    assert_eq!(store.token("zoho-token:a").await.expect("token"), Some(second));
    assert_eq!(store.token("zoho-token:b").await.expect("token"), None);
}

/// Four claimers draining 200 jobs (10 keys, 20 jobs each, so claimers keep meeting the
/// same keys) never share a job, never hold two jobs of one key at once, and run each
/// key's jobs in enqueue order.
pub async fn concurrent_claimers<S: Store>(store: S) {
    let mut expected = HashSet::new();
    let mut key_of = HashMap::new();
    for round in 0..20 {
        let batch: Vec<_> = (0..10).map(|k| (event(&format!("r{k}"), 1_000 + round), vec![job(&format!("r{k}"))])).collect();
        let cursor = Cursor { connection: "acme".into(), stream: "crm:Products".into(), position_ms: round, updated_ms: 0 };
        store.add_events_and_move_cursor(&batch, &cursor, T0).await.expect("batch");
    }
    for job in store.jobs_with_status(JobStatus::Queued, 1_000).await.expect("queued") {
        expected.insert(job.id);
        key_of.insert(job.id, job.key);
    }
    assert_eq!(expected.len(), 200);

    // Claim order is recorded while the lease is held, before finishing: the next job of
    // a key can only be claimed after that finish commits, so this order is the run order.
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let held = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, claimed, held, key_of) = (store.clone(), claimed.clone(), held.clone(), key_of.clone());
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut idle = 0;
            while idle < 50 {
                let jobs = store.claim(&worker, T0, LONG_LEASE, 5).await.expect("claim");
                if jobs.is_empty() {
                    idle += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                for job in &jobs {
                    claimed.lock().expect("lock").push(job.id);
                    assert!(held.lock().expect("lock").insert(key_of[&job.id].clone()), "key {} held twice", job.key);
                }
                for job in jobs {
                    held.lock().expect("lock").remove(&key_of[&job.id]);
                    store.finish(job.id, &worker, &skipped(), T0).await.expect("finish");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("claimer task");
    }
    let claimed = claimed.lock().expect("lock").clone();
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), unique.len(), "a job was claimed twice");
    assert_eq!(unique, expected, "every job claimed exactly once");
    let mut last_per_key: HashMap<&str, i64> = HashMap::new();
    for id in &claimed {
        let key = key_of[id].as_str();
        if let Some(previous) = last_per_key.insert(key, *id) {
            assert!(previous < *id, "key {key}: job {id} ran after {previous}");
        }
    }
    assert_eq!(counts(&store).await, want(&[(JobStatus::Skipped, 200)]));
}

/// `job_counts` counts each status.
pub async fn job_counts<S: Store>(store: S) {
    assert!(store.job_counts().await.expect("counts").is_empty());
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for r in 1..=6 {
            ids.push(enqueue(&store, &r.to_string(), 100).await);
        }
        ids
    };
    let claimed = store.claim("w", T0, LONG_LEASE, 4).await.expect("claim");
    assert_eq!(claimed.len(), 4);
    store.finish(ids[0], "w", &Finish::Done { outcome: "ok".into(), links: vec![], snapshot: None, audit: vec![] }, T0).await.expect("done");
    store.finish(ids[1], "w", &skipped(), T0).await.expect("skip");
    let failure = Failure { error: "bad".into(), retryable: false, audit: vec![] };
    store.fail(ids[2], "w", &failure, T0, 5, T0).await.expect("fail");
    assert_eq!(
        counts(&store).await,
        want(&[(JobStatus::Done, 1), (JobStatus::Skipped, 1), (JobStatus::Dead, 1), (JobStatus::Running, 1), (JobStatus::Queued, 2),])
    );
}

/// Approvals go from pending to approved or rejected once, and are listed by status.
pub async fn approvals<S: Store + Approvals>(store: S) {
    let a = store.create_approval("agent:claude", "replay", &json!({"job_id": 12}), T0).await.expect("create");
    let b = store.create_approval("agent:claude", "drop", &json!({"job_id": 13}), T0 + 1).await.expect("create");
    let pending = store.approvals(ApprovalStatus::Pending).await.expect("pending");
    assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(pending[0].payload, json!({"job_id": 12}));
    assert_eq!(store.count_approvals(ApprovalStatus::Pending).await.expect("count"), 2);
    assert_eq!(store.count_approvals(ApprovalStatus::Approved).await.expect("count"), 0);

    let approved = store.decide_approval(a, true, "ops@acme.example", T0 + 5).await.expect("approve");
    assert_eq!((approved.status, approved.decided_by.as_deref(), approved.decided_ms), (ApprovalStatus::Approved, Some("ops@acme.example"), Some(T0 + 5)));
    store.decide_approval(b, false, "ops@acme.example", T0 + 6).await.expect("reject");
    assert!(matches!(store.decide_approval(a, false, "someone", T0 + 7).await, Err(StoreError::NotFound(_))), "decided once");
    assert!(matches!(store.decide_approval(999_999, true, "someone", T0).await, Err(StoreError::NotFound(_))));
    let one = store.approval(a).await.expect("approval").expect("approval a exists");
    assert_eq!((one.id, one.status, one.action.as_str(), one.payload.clone()), (a, ApprovalStatus::Approved, "replay", json!({"job_id": 12})));
    assert!(store.approval(999_999).await.expect("approval").is_none(), "an unknown approval is None, not an error");

    assert!(store.approvals(ApprovalStatus::Pending).await.expect("pending").is_empty());
    for (status, n) in [(ApprovalStatus::Pending, 0), (ApprovalStatus::Approved, 1), (ApprovalStatus::Rejected, 1)] {
        assert_eq!(store.count_approvals(status).await.expect("count"), n, "{status:?}");
    }
    assert_eq!(store.approvals(ApprovalStatus::Approved).await.expect("approved").iter().map(|p| p.id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(store.approvals(ApprovalStatus::Rejected).await.expect("rejected").iter().map(|p| p.id).collect::<Vec<_>>(), vec![b]);
}

/// An event is found again by its dedup key, and with it the jobs it enqueued.
pub async fn event_by_key_and_its_jobs<S: Store>(store: S) {
    let job_id = enqueue(&store, "7", 70).await;
    let event = store.event_by_key("crm:Products:7:70").await.expect("event_by_key").expect("stored under its key");
    assert_eq!((event.event.record_id.as_str(), event.event.modified_ms), ("7", Some(70)));
    let jobs = store.jobs_for_event(event.id).await.expect("jobs_for_event");
    assert_eq!(jobs.iter().map(|j| (j.id, j.flow.as_str())).collect::<Vec<_>>(), vec![(job_id, "catalog_sync")]);
    assert!(store.event_by_key("crm:Products:7:71").await.expect("event_by_key").is_none());
    assert!(store.jobs_for_event(event.id + 1_000).await.expect("jobs_for_event").is_empty());
}

/// A link in `relation` between CRM `crm_id` and Books `books_id`, written to Books.
pub fn link_in(relation: &str, crm_id: &str, books_id: &str, books_hash: &str) -> Link {
    Link { relation: relation.into(), ..link(crm_id, books_id, Some(books_hash), None) }
}

/// Links are keyed by relation: one CRM record linked in two relations at once (a deal to
/// its invoice and to its credit note), and one Books record linked to two CRM records in
/// different relations (an invoice to its deal and to its follow-up task); within one
/// relation each side is linked once.
pub async fn links_by_relation<S: Store>(store: S) {
    let id = enqueue(&store, "1", 100).await;
    store.claim("w", T0, LONG_LEASE, 1).await.expect("claim");
    let done = Finish::Done {
        outcome: "linked".into(),
        links: vec![
            link_in("deal_invoice", "deal-1", "inv-1", "h-inv"),
            link_in("deal_creditnote", "deal-1", "cn-1", "h-cn"),
            link_in("invoice_task", "task-9", "inv-1", "h-task"),
        ],
        snapshot: None,
        audit: vec![],
    };
    store.finish(id, "w", &done, T0 + 1).await.expect("finish");
    let invoice = store.link_by_crm("acme", "deal_invoice", "deal-1").await.expect("link").expect("deal_invoice");
    let credit = store.link_by_crm("acme", "deal_creditnote", "deal-1").await.expect("link").expect("deal_creditnote");
    assert_eq!((invoice.books_id.as_str(), credit.books_id.as_str()), ("inv-1", "cn-1"), "neither overwrote the other");
    let by_deal = store.link_by_books("acme", "deal_invoice", "inv-1").await.expect("link").expect("by books");
    let by_task = store.link_by_books("acme", "invoice_task", "inv-1").await.expect("link").expect("by books");
    assert_eq!((by_deal.crm_id.as_str(), by_task.crm_id.as_str()), ("deal-1", "task-9"));
    assert_eq!(by_task.books_hash.as_deref(), Some("h-task"));
    assert_eq!(store.link_by_crm("acme", "deal_invoice", "task-9").await.expect("link"), None, "relations do not leak");
    assert_eq!(store.links("acme", "deal_creditnote").await.expect("links"), vec![credit]);

    // Within a relation, a second CRM record cannot take a Books record already linked.
    let id = enqueue(&store, "2", 100).await;
    store.claim("w", T0 + 2, LONG_LEASE, 1).await.expect("claim");
    let clash = Finish::Done { outcome: "clash".into(), links: vec![link_in("deal_invoice", "deal-2", "inv-1", "h")], snapshot: None, audit: vec![] };
    assert!(matches!(store.finish(id, "w", &clash, T0 + 3).await, Err(StoreError::Constraint(_))));
    assert_eq!(store.link_by_crm("acme", "deal_invoice", "deal-2").await.expect("link"), None);
}

/// What a flow saw of a record is kept with done and skipped results (the newest wins),
/// per flow; a failed attempt keeps nothing.
pub async fn snapshots_are_kept_with_done_and_skipped_results<S: Store>(store: S) {
    let record = RecordRef::crm("Deals", "d-1");
    let snapshot = |flow: &str, stage: &str| Snapshot { connection: "acme".into(), flow: flow.into(), record: record.clone(), fields: json!({"Stage": stage}) };
    assert_eq!(store.snapshot("acme", "deal_to_invoice", &record).await.expect("snapshot"), None);

    let a = enqueue(&store, "a", 1).await;
    store.claim("w", T0, LONG_LEASE, 1).await.expect("claim");
    let skipped = Finish::Skipped { reason: "not won yet".into(), snapshot: Some(snapshot("deal_to_invoice", "Negotiation")) };
    store.finish(a, "w", &skipped, T0 + 1).await.expect("finish");
    assert_eq!(store.snapshot("acme", "deal_to_invoice", &record).await.expect("snapshot"), Some(json!({"Stage": "Negotiation"})));

    let (b, c) = (enqueue(&store, "b", 1).await, enqueue(&store, "c", 1).await);
    store.claim("w", T0 + 2, LONG_LEASE, 2).await.expect("claim");
    let results = [
        (
            b,
            JobResult::Finish(Finish::Done {
                outcome: "invoiced".into(),
                links: vec![],
                snapshot: Some(snapshot("deal_to_invoice", "Closed Won")),
                audit: vec![],
            }),
        ),
        (c, JobResult::Finish(Finish::Skipped { reason: "other flow".into(), snapshot: Some(snapshot("deal_to_credit_note", "Closed Won")) })),
    ];
    store.record("w", &results, T0 + 3).await.expect("record");
    assert_eq!(store.snapshot("acme", "deal_to_invoice", &record).await.expect("snapshot"), Some(json!({"Stage": "Closed Won"})));
    assert_eq!(store.snapshot("acme", "deal_to_credit_note", &record).await.expect("snapshot"), Some(json!({"Stage": "Closed Won"})));

    let d = enqueue(&store, "d", 1).await;
    store.claim("w", T0 + 4, LONG_LEASE, 1).await.expect("claim");
    let failure = Failure { error: "Zoho said no".into(), retryable: false, audit: vec![] };
    store.fail(d, "w", &failure, T0 + 5, 3, T0 + 5).await.expect("fail");
    assert_eq!(store.snapshot("acme", "deal_to_invoice", &record).await.expect("snapshot"), Some(json!({"Stage": "Closed Won"})), "a failure keeps nothing");
}

/// Rows as the store held them before links had relations and jobs a typed payload
/// (schema version 3): a catalog_sync link, a queued job, a dead job carrying its record
/// id in the old payload, and a done job. The same SQL works on both back ends.
pub const VERSION_3_ROWS: &str = "\
    INSERT INTO links (connection, crm_module, crm_id, books_entity, books_id, books_hash, crm_hash, updated_ms) \
        VALUES ('acme', 'Products', 'p1', 'items', 'i1', 'hash-1', NULL, 5), ('acme', 'Products', 'p2', 'items', 'i2', NULL, 'crm-2', 6); \
    INSERT INTO events (source, connection, system, module, record_id, modified_ms, payload, dedup_key, received_ms) \
        VALUES ('poller', 'acme', 'crm', 'Products', 'p1', NULL, '{}', 'old-1', 1); \
    INSERT INTO jobs (event_id, flow, key, payload, status, attempts, run_after_ms, created_ms, updated_ms) VALUES \
        (1, 'catalog_sync', 'crm:Products:p1', 'null', 'queued', 0, 1, 1, 1), \
        (1, 'catalog_sync', 'crm:Products:p9', '{\"record_id\": \"p9\"}', 'dead', 8, 1, 1, 1), \
        (1, 'catalog_sync', 'crm:Products:p2', 'null', 'done', 1, 1, 1, 1);";

/// The migrations of schema version 3 (before relations) for `back_end` (`sqlite` or
/// `postgres`), the same SQL the store ran then.
pub fn migrator_at_version_3(back_end: &str) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr;
    let files: [(i64, &str, &'static str); 3] = match back_end {
        "sqlite" => [
            (1, "store", include_str!("../../migrations/sqlite/0001_store.sql")),
            (2, "inbox and audit lookups", include_str!("../../migrations/sqlite/0002_lookups.sql")),
            (3, "shared access tokens", include_str!("../../migrations/sqlite/0003_tokens.sql")),
        ],
        _ => [
            (1, "store", include_str!("../../migrations/postgres/0001_store.sql")),
            (2, "inbox and audit lookups", include_str!("../../migrations/postgres/0002_lookups.sql")),
            (3, "shared access tokens", include_str!("../../migrations/postgres/0003_tokens.sql")),
        ],
    };
    let migrations = files
        .into_iter()
        .map(|(v, d, sql)| sqlx::migrate::Migration::new(v, d.into(), sqlx::migrate::MigrationType::Simple, sql.into_sql_str(), false))
        .collect();
    sqlx::migrate::Migrator::with_migrations(migrations)
}

/// After the migration the old links are `product_item` links with both hashes, and the
/// unfinished and dead jobs carry their record.
pub async fn version_3_rows_migrated<S: Store>(store: S) {
    let links = store.links("acme", "product_item").await.expect("links");
    type Shown<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, i64);
    let shown: Vec<Shown> =
        links.iter().map(|l| (l.crm_id.as_str(), l.books_id.as_str(), l.books_hash.as_deref(), l.crm_hash.as_deref(), l.updated_ms)).collect();
    assert_eq!(shown, [("p1", "i1", Some("hash-1"), None, 5), ("p2", "i2", None, Some("crm-2"), 6)]);
    assert_eq!(store.link_by_books("acme", "product_item", "i2").await.expect("link").map(|l| l.crm_id), Some("p2".into()));
    let queued = store.jobs_with_status(JobStatus::Queued, 10).await.expect("jobs");
    assert_eq!(queued[0].record(), Ok(RecordRef::crm("Products", "p1")));
    let dead = store.jobs_with_status(JobStatus::Dead, 10).await.expect("jobs");
    assert_eq!(dead[0].record(), Ok(RecordRef::crm("Products", "p9")));
}

/// Runs `$runner!` over every suite function, one test each.
/// The heartbeat's statement extends only the leases the worker still holds among those
/// named, and says which: not another worker's, not a finished job's, not one taken over
/// after it ran out, not a job that does not exist.
pub async fn heartbeat_extends_the_leases_still_held<S: Store>(store: S) {
    let (a, b, c) = (enqueue(&store, "1", 100).await, enqueue(&store, "2", 100).await, enqueue(&store, "3", 100).await);
    let mine: Vec<i64> = store.claim("w1", T0, 30_000, 2).await.expect("claim").iter().map(|j| j.id).collect();
    assert_eq!(mine, vec![a, b]);
    assert_eq!(store.claim("w2", T0, 30_000, 5).await.expect("claim").len(), 1);
    let mut kept = store.extend_leases("w1", &[b, a, c, 987_654], T0 + 50_000).await.expect("beat");
    kept.sort();
    assert_eq!(kept, vec![a, b]);
    let lease = |id: i64| {
        let store = store.clone();
        async move { store.job(id).await.expect("job").expect("exists").lease_until_ms }
    };
    assert_eq!((lease(a).await, lease(b).await, lease(c).await), (Some(T0 + 50_000), Some(T0 + 50_000), Some(T0 + 30_000)));
    assert!(store.extend_leases("w1", &[], T0).await.expect("an empty beat").is_empty());

    // w1 stops beating; w2 takes both jobs over once the leases ran out (oldest first:
    // its own job, whose lease ran out too, would come next).
    let taken = store.claim("w2", T0 + 50_000, 30_000, 2).await.expect("claim");
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
    assert!(store.extend_leases("w1", &[a, b], T0 + 99_000).await.expect("a late beat").is_empty());
    assert!(matches!(store.extend_lease(a, "w1", T0 + 99_000).await, Err(StoreError::LeaseLost(j)) if j == a));
    store.finish(a, "w2", &skipped(), T0 + 51_000).await.expect("finish");
    assert_eq!(store.extend_leases("w2", &[a, b, c], T0 + 90_000).await.expect("beat").len(), 2, "a finished job is not extended");
    assert_eq!(lease(b).await, Some(T0 + 90_000));
    assert!(matches!(store.extend_lease(987_654, "w2", T0).await, Err(StoreError::NotFound(_))));
}

/// A store's watch fires after a commit of any of its clones that enqueued jobs (events,
/// a poller's page, a replay) or stored results; a duplicate delivery enqueues nothing.
pub async fn enqueues_and_results_wake_the_workers<S: Store>(store: S) {
    use futures_util::FutureExt;
    async fn woken(watch: &mut bridge::store::JobWatch, what: &str) {
        let changed = tokio::time::timeout(std::time::Duration::from_secs(10), watch.changed()).await;
        assert!(changed.is_ok(), "{what} did not wake the watch");
    }
    let mut watch = store.job_watch();
    watch.mark_seen();
    assert!(watch.changed().now_or_never().is_none(), "nothing happened yet");
    let id = enqueue(&store.clone(), "1", 100).await;
    woken(&mut watch, "an enqueue").await;

    let mut other = store.clone().job_watch();
    other.mark_seen();
    let cursor = Cursor { connection: "acme".into(), stream: "crm:Products".into(), position_ms: 200, updated_ms: T0 };
    store.add_events_and_move_cursor(&[(event("2", 200), vec![job("2")])], &cursor, T0).await.expect("page");
    woken(&mut other, "a poller's page").await;

    watch.mark_seen();
    assert_eq!(store.claim("w1", T0, LONG_LEASE, 1).await.expect("claim").len(), 1);
    let failure = Failure { error: "bad data".into(), retryable: false, audit: vec![] };
    assert_eq!(store.fail(id, "w1", &failure, T0, 5, T0).await.expect("fail"), JobStatus::Dead);
    woken(&mut watch, "a stored result").await;

    watch.mark_seen();
    store.replay(id, T0).await.expect("replay");
    woken(&mut watch, "a replay").await;
}

/// Runs `$runner!` over every suite function, one test each.
#[macro_export]
macro_rules! every_store_test {
    ($runner:ident) => {
        $runner!(
            duplicate_event_absorbed,
            cursor_moves_only_with_events,
            a_batch_of_events,
            per_key_ordering,
            lease_expiry_and_reclaim,
            retries_then_dead_letter,
            replay_and_drop,
            finish_with_link_and_audit,
            record_a_batch,
            concurrent_claimers,
            job_counts,
            shared_tokens,
            approvals,
            event_by_key_and_its_jobs,
            prune_finished_work,
            links_by_relation,
            snapshots_are_kept_with_done_and_skipped_results,
            a_two_write_flow_killed_between_its_writes_duplicates_nothing,
            heartbeat_extends_the_leases_still_held,
            enqueues_and_results_wake_the_workers,
            directory_finds_by_email_name_and_native_id,
            directory_replaces_isolates_removes_and_counts,
            directory_takes_ten_thousand_entries,
            open_review_is_idempotent_per_open_record,
            decided_reviews_allow_a_new_one_and_last_review_is_the_newest,
            reviews_are_listed_by_status_oldest_first,
            decide_refuses_decided_reviews_and_strangers,
            unicode_and_long_names_round_trip,
            budget_shares_follow_the_live_holders,
            a_dead_holders_count_drains_with_its_window,
            concurrent_heartbeats_keep_the_sum_within_the_limit,
            directory_pages_and_bulk_look_ups,
            audit_entries_are_found_by_action,
            recent_runs_come_newest_first_with_their_events_time,
            agent_tokens_are_found_by_hash_until_revoked,
            agent_calls_are_limited_per_token_across_callers,
            recent_jobs_filter_by_status_and_flow,
        );
    };
}

/// Audit entries are found by action, newest first and limited, and counted (the totals
/// mismatches `zoho-bridge leaks` lists).
pub async fn audit_entries_are_found_by_action<S: Store>(store: S) {
    assert!(store.audit_by_action("totals_mismatch", 10).await.expect("by action").is_empty());
    for (n, action) in ["create", "totals_mismatch", "update", "totals_mismatch", "totals_mismatch"].iter().enumerate() {
        store.add_audit(&audit("w", &format!("b{n}"), action, T0 + n as i64, None)).await.expect("journal");
    }
    let found = store.audit_by_action("totals_mismatch", 2).await.expect("by action");
    assert_eq!(found.iter().map(|e| e.record_id.as_deref().unwrap_or_default()).collect::<Vec<_>>(), ["b4", "b3"], "newest first, limited");
    assert_eq!(store.count_audit_action("totals_mismatch").await.expect("count"), 3);
    assert_eq!(store.count_audit_action("delete").await.expect("count"), 0);
}

/// The directory read page by page, several keys looked up at once, email keys set for
/// rows that exist only, and the links of a set of records (backfill's store calls).
pub async fn directory_pages_and_bulk_look_ups<S: Store>(store: S) {
    use bridge::{matching::Party, store::System};
    let row = |system: System, module: &str, id: &str, name: &str, email: Option<&str>, native: Option<&str>| DirectoryEntry {
        system,
        module: module.into(),
        party: Party::new(id, name, email, Some("US"), native),
    };
    let books = [
        row(System::Books, "contacts", "b1", "Acme Inc", Some("a@acme.test"), None),
        row(System::Books, "contacts", "b2", "ACME", None, None),
        row(System::Books, "contacts", "b3", "Globex", Some("g@globex.test"), Some("c9")),
        row(System::Books, "contacts", "b4", "Initech", None, None),
    ];
    store.put_directory("acme", &books, T0).await.expect("put");
    store
        .put_directory("acme", &[row(System::Crm, "Accounts", "c1", "Acme", None, None), row(System::Crm, "Accounts", "c2", "Umbrella", None, None)], T0)
        .await
        .expect("put");
    store.put_directory("other", &[row(System::Books, "contacts", "b0", "Acme", None, None)], T0).await.expect("put");

    store.analyze_directory().await.expect("analyze");
    let ids = |rows: Vec<DirectoryEntry>| rows.into_iter().map(|e| e.party.id).collect::<Vec<_>>();
    assert_eq!(ids(store.directory_page("acme", System::Books, "contacts", "", 2).await.expect("page")), ["b1", "b2"]);
    assert_eq!(ids(store.directory_page("acme", System::Books, "contacts", "b2", 2).await.expect("page")), ["b3", "b4"]);
    assert!(store.directory_page("acme", System::Books, "contacts", "b4", 2).await.expect("page").is_empty());

    let keys = [Key::Name("acme"), Key::Email("g@globex.test"), Key::Native("c9"), Key::Id("b4"), Key::Id("nope"), Key::Name("acme")];
    assert_eq!(ids(store.find_directory_any("acme", System::Books, "contacts", &keys).await.expect("any")), ["b1", "b2", "b3", "b4"], "each row once, by id");
    assert!(store.find_directory_any("acme", System::Books, "contacts", &[]).await.expect("none").is_empty());
    assert_eq!(ids(store.find_directory("acme", System::Books, "contacts", Key::Id("b2")).await.expect("by id")), ["b2"]);

    let emails = [("c1".to_string(), Some("x@acme.test".to_string())), ("c2".to_string(), None), ("ghost".to_string(), Some("g@h.test".to_string()))];
    store.set_email_keys("acme", System::Crm, "Accounts", &emails, T0 + 1).await.expect("set");
    let found = store.find_directory("acme", System::Crm, "Accounts", Key::Email("x@acme.test")).await.expect("by email");
    assert_eq!(ids(found), ["c1"]);
    assert_eq!(store.directory_count("acme", System::Crm, "Accounts").await.expect("count"), 2, "no row for an id nobody indexed");
    store.set_email_keys("acme", System::Crm, "Accounts", &[("c1".to_string(), None)], T0 + 2).await.expect("clear");
    assert!(store.find_directory("acme", System::Crm, "Accounts", Key::Email("x@acme.test")).await.expect("by email").is_empty());

    let id = enqueue(&store, "1", 100).await;
    store.claim("w", T0, LONG_LEASE, 1).await.expect("claim");
    let links = vec![link_in("account_contact", "c1", "b1", "h"), link_in("account_contact", "c2", "b3", "h"), link_in("product_item", "p1", "b4", "h")];
    store.finish(id, "w", &Finish::Done { outcome: "linked".into(), links, snapshot: None, audit: vec![] }, T0 + 3).await.expect("finish");
    let among = |crm: &'static [&'static str], books: &'static [&'static str]| {
        let store = store.clone();
        async move {
            let mut pairs: Vec<(String, String)> =
                store.links_among("acme", "account_contact", crm, books).await.expect("links").into_iter().map(|l| (l.crm_id, l.books_id)).collect();
            pairs.sort();
            pairs
        }
    };
    assert_eq!(
        among(&["c1"], &["b3", "b4"]).await,
        [("c1".to_string(), "b1".to_string()), ("c2".to_string(), "b3".to_string())],
        "by either side, in the relation only"
    );
    assert!(among(&[], &[]).await.is_empty());
}

/// The most recent jobs, newest first, filtered by status, by flow, by both or by
/// neither, and limited (`zoho-bridge jobs`: why recent jobs were skipped).
pub async fn recent_jobs_filter_by_status_and_flow<S: Store>(store: S) {
    assert!(store.recent_jobs(None, None, 10).await.expect("recent").is_empty());
    let a = enqueue(&store, "1", 100).await;
    let b = enqueue(&store, "2", 100).await;
    let other = NewJob { flow: "customer_sync".into(), key: "crm:Accounts:9".into(), payload: json!({}) };
    let mut accounts = event("9", 100);
    accounts.module = "Accounts".into();
    accounts.dedup_key = "crm:Accounts:9:100".into();
    store.add_event(&accounts, &[other], T0).await.expect("add_event");
    let c = store.recent_jobs(None, Some("customer_sync"), 10).await.expect("recent")[0].id;
    store.claim("w", T0, LONG_LEASE, 10).await.expect("claim");
    let skipped = |reason: &str| JobResult::Finish(Finish::Skipped { reason: reason.into(), snapshot: None });
    store.record("w", &[(a, skipped("unchanged since the last sync")), (c, skipped("not a customer"))], T0 + 1).await.expect("record");

    let ids = |jobs: Vec<bridge::store::Job>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(store.recent_jobs(None, None, 10).await.expect("all")), [c, b, a], "newest first");
    assert_eq!(ids(store.recent_jobs(None, None, 2).await.expect("limited")), [c, b]);
    assert_eq!(ids(store.recent_jobs(Some(JobStatus::Skipped), None, 10).await.expect("skipped")), [c, a]);
    let catalog_skips = store.recent_jobs(Some(JobStatus::Skipped), Some("catalog_sync"), 10).await.expect("both");
    assert_eq!(ids(catalog_skips.clone()), [a]);
    assert_eq!(catalog_skips[0].outcome.as_deref(), Some("unchanged since the last sync"), "the skip's reason comes with it");
    assert_eq!(ids(store.recent_jobs(Some(JobStatus::Running), Some("catalog_sync"), 10).await.expect("running")), [b]);
    assert!(store.recent_jobs(Some(JobStatus::Dead), None, 10).await.expect("dead").is_empty());
    assert!(store.recent_jobs(None, Some("no_such_flow"), 10).await.expect("no flow").is_empty());
}
