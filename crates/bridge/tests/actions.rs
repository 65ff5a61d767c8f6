//! `bridge::actions`, the one way a person or an agent acts on the engine: flow runs
//! queued as manual events, dead letters replayed or dropped, reviews decided, and
//! approvals that hold a flow run until a person says yes (SQLite; the store methods
//! under them run on both back ends in the store suite).

mod common;

use bridge::{
    actions::{self, ActionError, FlowRequest},
    store::{
        ApprovalStatus, Approvals, Candidate, Failure, JobStatus, NewReview, RecordRef, ReviewDecision, ReviewKind, ReviewStatus, Reviews, Source, SqliteStore,
        Store,
    },
};
use common::TempDir;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

async fn store() -> (TempDir, SqliteStore) {
    let dir = TempDir::new("actions");
    let store = SqliteStore::open(dir.0.join("bridge.db")).await.expect("open");
    (dir, store)
}

fn deal(id: &str) -> RecordRef {
    RecordRef::crm("Deals", id)
}

fn credit_note_request(id: &str) -> FlowRequest {
    FlowRequest {
        connection: "acme".into(),
        flow: "deal_to_credit_note".into(),
        record: deal(id),
        summary: format!("credit note for deal {id}: 120.00 EUR"),
        args: json!({"deal_id": id}),
    }
}

#[tokio::test]
async fn a_flow_run_now_is_a_manual_event_with_its_job_and_a_repeat_is_absorbed() {
    let (_dir, store) = store().await;
    let first = actions::run_flow_now(&store, "acme", "deal_to_invoice", &deal("42"), "mcp:claude", "mcp:invoice:42:1", T0).await.expect("queued");
    let again = actions::run_flow_now(&store, "acme", "deal_to_invoice", &deal("42"), "mcp:claude", "mcp:invoice:42:1", T0 + 5).await.expect("absorbed");
    assert_eq!(first, again, "the same key answers with the first request's event and job");
    let event = store.event(first.event_id).await.expect("event").expect("stored");
    assert_eq!((event.event.source, event.event.record_id.as_str()), (Source::Manual, "42"));
    let job = store.job(first.job_id.expect("job")).await.expect("job").expect("stored");
    assert_eq!((job.flow.as_str(), job.status, job.record().expect("record")), ("deal_to_invoice", JobStatus::Queued, deal("42")));

    let unknown = actions::run_flow_now(&store, "acme", "deal_to_nothing", &deal("42"), "me", "k", T0).await.expect_err("no such flow");
    assert!(unknown.to_string().contains("there is no flow \"deal_to_nothing\"") && unknown.to_string().contains("deal_to_invoice"), "{unknown}");
}

#[tokio::test]
async fn replay_and_drop_act_on_dead_letters_only_and_are_audited() {
    let (_dir, store) = store().await;
    let a = actions::run_flow_now(&store, "acme", "deal_to_invoice", &deal("1"), "t", "k1", T0).await.unwrap().job_id.unwrap();
    let b = actions::run_flow_now(&store, "acme", "deal_to_invoice", &deal("2"), "t", "k2", T0).await.unwrap().job_id.unwrap();
    assert!(matches!(actions::replay(&store, a, "ops", T0).await, Err(ActionError::NotFound(m)) if m == format!("job {a} is queued, not a dead letter")));
    store.claim("w", T0, 60_000, 10).await.expect("claim");
    let failure = Failure { error: "Books code 1001: no tax matches".into(), retryable: false, audit: vec![] };
    for id in [a, b] {
        store.fail(id, "w", &failure, T0, 5, T0).await.expect("fail");
    }

    let replayed = actions::replay(&store, a, "ops@acme.example", T0 + 10).await.expect("replay");
    assert_eq!(replayed.last_error.as_deref(), Some("Books code 1001: no tax matches"), "answers with the job as it was");
    assert_eq!(store.job(a).await.unwrap().unwrap().status, JobStatus::Queued);
    let audit = store.audit_for_job(a).await.expect("audit");
    assert_eq!(
        audit.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.record_id.as_deref())).collect::<Vec<_>>(),
        vec![("ops@acme.example", "replay", Some("1"))]
    );

    let blank = actions::drop_dead(&store, b, "ops", "  ", T0).await.expect_err("a reason is needed");
    assert!(blank.to_string().contains("needs a reason"), "{blank}");
    actions::drop_dead(&store, b, "ops@acme.example", "deal deleted in CRM", T0 + 20).await.expect("drop");
    let dropped = store.job(b).await.unwrap().unwrap();
    assert_eq!((dropped.status, dropped.outcome.as_deref()), (JobStatus::Skipped, Some("dropped by ops@acme.example: deal deleted in CRM")));
    assert!(matches!(actions::drop_dead(&store, b, "ops", "again", T0).await, Err(ActionError::NotFound(_))), "only dead letters drop");
    assert!(matches!(actions::replay(&store, 999, "ops", T0).await, Err(ActionError::NotFound(m)) if m == "there is no job 999"));
}

#[tokio::test]
async fn a_review_decided_queues_its_flow_once_and_is_never_changed() {
    let (_dir, store) = store().await;
    let record = RecordRef::crm("Accounts", "a1");
    let candidates = vec![
        Candidate { id: "c1".into(), name: "Acme GmbH".into(), why: "same name".into() },
        Candidate { id: "c2".into(), name: "ACME Gmbh".into(), why: "same name".into() },
    ];
    let review = NewReview {
        connection: "acme".into(),
        flow: "customer_sync".into(),
        record: record.clone(),
        kind: ReviewKind::Ambiguous,
        reason: "two contacts".into(),
        candidates,
    };
    let id = store.open_review(&review, T0).await.expect("open");

    let wrong = actions::decide_review(&store, id, &ReviewDecision::Link("c9".into()), "ops", None, T0).await.expect_err("not a candidate");
    assert!(wrong.to_string().contains("c9 is not one of its candidates: c1 (Acme GmbH), c2 (ACME Gmbh)"), "{wrong}");
    let decided = actions::decide_review(&store, id, &ReviewDecision::Link("c2".into()), "ops", Some("same VAT id"), T0 + 1).await.expect("link");
    assert_eq!((decided.review.status, decided.review.chosen_id.as_deref()), (ReviewStatus::Linked, Some("c2")));
    let job = store.job(decided.queued.expect("queued").job_id.expect("job")).await.unwrap().unwrap();
    assert_eq!((job.flow.as_str(), job.record().unwrap()), ("customer_sync", record));
    let again = actions::decide_review(&store, id, &ReviewDecision::Ignore, "someone", None, T0 + 2).await.expect_err("decided once");
    assert!(again.to_string().contains("already linked to c2 (by ops)"), "{again}");
}

#[tokio::test]
async fn an_approved_request_runs_its_flow_once_and_a_rejected_one_never() {
    let (_dir, store) = store().await;
    let yes = actions::request_approval(&store, "mcp:claude", "issue_credit_note", &credit_note_request("7"), T0).await.expect("request");
    let no = actions::request_approval(&store, "mcp:claude", "issue_credit_note", &credit_note_request("8"), T0).await.expect("request");
    let pending = actions::approvals(&store, ApprovalStatus::Pending).await.expect("pending");
    assert_eq!(
        pending.iter().map(|s| (s.approval.id, s.stage(), s.request.summary.as_str())).collect::<Vec<_>>(),
        vec![(yes, "pending", "credit note for deal 7: 120.00 EUR"), (no, "pending", "credit note for deal 8: 120.00 EUR")]
    );
    assert!(store.jobs_with_status(JobStatus::Queued, 10).await.unwrap().is_empty(), "nothing runs while pending");

    let approved = actions::decide_approval(&store, yes, true, "ops@acme.example", T0 + 10).await.expect("approve");
    let job = approved.job.clone().expect("its run is queued");
    assert_eq!((approved.stage(), job.flow.as_str(), job.record().unwrap()), ("queued", "deal_to_credit_note", deal("7")));
    let rejected = actions::decide_approval(&store, no, false, "ops@acme.example", T0 + 11).await.expect("reject");
    assert_eq!((rejected.stage(), rejected.job.is_none()), ("rejected", true));
    assert_eq!(store.jobs_with_status(JobStatus::Queued, 10).await.unwrap().len(), 1, "only the approved one runs");

    let twice = actions::decide_approval(&store, yes, false, "someone", T0 + 12).await.expect_err("never changed");
    assert!(twice.to_string().contains("already queued (by ops@acme.example)"), "{twice}");
    let audit = store.audit_by_action("approval_approved", 10).await.expect("audit");
    assert_eq!(audit.iter().map(|e| (e.actor.as_str(), e.job_id)).collect::<Vec<_>>(), vec![("ops@acme.example", Some(job.id))]);

    // The agent polls: the job's end is the approval's end.
    store.claim("w", T0 + 20, 60_000, 10).await.expect("claim");
    store
        .finish(
            job.id,
            "w",
            &bridge::store::Finish::Done { outcome: "credit note CN-1 for 120.00 EUR".into(), links: vec![], snapshot: None, audit: vec![] },
            T0 + 30,
        )
        .await
        .expect("finish");
    let polled = actions::approval_state(&store, yes).await.expect("state");
    assert_eq!((polled.stage(), polled.job.unwrap().outcome.as_deref()), ("done", Some("credit note CN-1 for 120.00 EUR")));
}

#[tokio::test]
async fn an_approval_decided_without_its_run_queued_is_queued_when_asked_about() {
    let (_dir, store) = store().await;
    let id = actions::request_approval(&store, "mcp:claude", "issue_credit_note", &credit_note_request("9"), T0).await.expect("request");
    // A process stopped between the decision and the queueing: only the decision is stored.
    store.decide_approval(id, true, "ops", T0 + 1).await.expect("decided in the store only");
    let state = actions::approval_state(&store, id).await.expect("state");
    assert_eq!(state.stage(), "queued");
    assert_eq!(actions::approval_state(&store, id).await.expect("state").job.map(|j| j.id), state.job.map(|j| j.id), "queued once");
    assert!(matches!(actions::approval_state(&store, 4242).await, Err(ActionError::NotFound(m)) if m == "there is no approval 4242"));
}
