//! The review list as an operator works it from a shell, on a store where customer
//! matching left two records it would not guess about: `review list` and `review show`
//! say what is waiting and why; `review link` and `review create` decide and queue the
//! record's flow again at once; `review ignore` decides and queues nothing; a second
//! decision, a link to a stranger and an unknown review are refused with messages that
//! say what is valid; an empty list says so on stderr and prints nothing.

mod support;

use std::process::{Command, Output};

use bridge::{
    flows::now_ms,
    store::{AnyStore, AuditEntry, Candidate, JobStatus, NewEvent, NewReview, RecordRef, ReviewKind, ReviewStatus, Reviews, Source, Store},
};
use serde_json::{Value, json};
use support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

/// Runs the binary as user `tester`.
fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_LOG", "error").env("USER", "tester").output().expect("run zoho-bridge")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON lines of a successful run.
fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// The stderr of a run that must fail, after checking it printed nothing on stdout.
fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure, got {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "a refusal prints nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
    stderr(out)
}

fn candidate(id: &str, name: &str, why: &str) -> Candidate {
    Candidate { id: id.into(), name: name.into(), why: why.into() }
}

/// A `customer_sync` review of `record` with `candidates`.
fn ambiguous(record: RecordRef, reason: &str, candidates: Vec<Candidate>) -> NewReview {
    NewReview { connection: "default".into(), flow: "customer_sync".into(), record, kind: ReviewKind::Ambiguous, reason: reason.into(), candidates }
}

/// The queued jobs' ids.
async fn queued(store: &AnyStore) -> Vec<i64> {
    store.jobs_with_status(JobStatus::Queued, 1_000).await.expect("jobs").iter().map(|j| j.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_are_listed_shown_and_decided_from_the_shell() {
    let dir = TempDir::new("review");
    let db = dir.0.join("store.db").display().to_string();
    let store = AnyStore::connect(&db).await.expect("store");

    // Nothing waits yet: said on stderr, nothing on stdout.
    let out = run(&["review", "list", "--store", &db]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr(&out).contains("no open reviews"), "{}", stderr(&out));

    // Two records customer matching would not guess about: a CRM account with two Books
    // contacts of its name, and a Books contact with two CRM accounts of its email.
    let account = RecordRef::crm("Accounts", "5500000001");
    let contact = RecordRef::books("contacts", "4600000009");
    let opened_ms = now_ms();
    let first = store
        .open_review(
            &ambiguous(
                account.clone(),
                "2 Books contacts named \"acme\" in us",
                vec![candidate("4600000001", "Acme Inc", "name \"acme\" in us"), candidate("4600000002", "ACME", "name \"acme\" in us")],
            ),
            opened_ms,
        )
        .await
        .expect("open the first review");
    let second = store
        .open_review(
            &ambiguous(
                contact.clone(),
                "2 CRM accounts with email ann@globex.example",
                vec![candidate("5500000007", "Globex", "email ann@globex.example"), candidate("5500000008", "Globex GmbH", "email ann@globex.example")],
            ),
            opened_ms + 1,
        )
        .await
        .expect("open the second review");
    // What the account went through before: a poller event and a write to it.
    let event = NewEvent {
        source: Source::Poller,
        connection: "default".into(),
        system: "crm".into(),
        module: "Accounts".into(),
        record_id: account.id.clone(),
        modified_ms: Some(opened_ms - 10),
        payload: json!({"id": account.id}),
        dedup_key: format!("crm:Accounts:{}:{}", account.id, opened_ms - 10),
    };
    store.add_event(&event, &[], opened_ms - 5).await.expect("an event of the account");
    let write = AuditEntry {
        id: 0,
        at_ms: opened_ms - 3,
        actor: "w".into(),
        job_id: None,
        event_id: None,
        connection: "default".into(),
        system: "crm".into(),
        module: "Accounts".into(),
        record_id: Some(account.id.clone()),
        action: "update".into(),
        request: json!({"Books_Contact_ID": null}),
        response: json!({"code": "SUCCESS"}),
        ok: true,
    };
    store.add_audit(&write).await.expect("a write to the account");

    // The list: both open reviews, oldest first, with every field.
    let listed = lines(&run(&["review", "list", "--store", &db]));
    assert_eq!(listed.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [first, second]);
    let shown = &listed[0];
    assert_eq!(shown["connection"], "default");
    assert_eq!(shown["flow"], "customer_sync");
    assert_eq!(shown["record"], json!({"system": "crm", "module": "Accounts", "id": "5500000001"}));
    assert_eq!((shown["kind"].as_str(), shown["status"].as_str()), (Some("ambiguous"), Some("open")));
    assert_eq!(shown["reason"], "2 Books contacts named \"acme\" in us");
    assert_eq!(shown["candidates"][1], json!({"id": "4600000002", "name": "ACME", "why": "name \"acme\" in us"}));
    assert_eq!(
        (&shown["chosen_id"], &shown["decided_by"], &shown["note"], &shown["decided_ms"], &shown["decided"]),
        (&Value::Null, &Value::Null, &Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(shown["created_ms"], opened_ms);
    let created: jiff::Timestamp = shown["created"].as_str().expect("created, RFC 3339").parse().expect("an RFC 3339 time");
    assert_eq!(created.as_millisecond(), opened_ms);
    assert_eq!(lines(&run(&["review", "list", "--store", &db, "--limit", "1"])).len(), 1);
    assert_eq!(lines(&run(&["review", "list", "--store", &db, "--status", "all"])).len(), 2);
    let out = run(&["review", "list", "--store", &db, "--status", "linked"]);
    assert!(out.stdout.is_empty() && stderr(&out).contains("no linked reviews"), "{}", stderr(&out));
    let out = run(&["review", "list", "--store", &db, "--status", "maybe"]);
    assert!(!out.status.success() && stderr(&out).contains("maybe"), "{}", stderr(&out));

    // Show: the review with what the record went through.
    let shown = lines(&run(&["review", "show", "--store", &db, &first.to_string()]));
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0]["id"].as_i64(), shown[0]["status"].as_str()), (Some(first), Some("open")));
    let events = shown[0]["events"].as_array().expect("events");
    assert_eq!((events.len(), events[0]["source"].as_str(), events[0]["record_id"].as_str()), (1, Some("poller"), Some("5500000001")));
    let audit = shown[0]["audit"].as_array().expect("audit");
    assert_eq!((audit.len(), audit[0]["action"].as_str()), (1, Some("update")));
    assert!(shown[0]["candidates"].as_array().is_some_and(|c| c.len() == 2));
    assert!(refused(&run(&["review", "show", "--store", &db, "999999"])).contains("no review 999999"));

    // A link to an id that is not a candidate is refused, naming the valid ones.
    let message = refused(&run(&["review", "link", "--store", &db, &first.to_string(), "4600000099"]));
    assert!(message.contains(&format!("review {first}")) && message.contains("4600000099"), "{message}");
    assert!(message.contains("4600000001 (Acme Inc)") && message.contains("4600000002 (ACME)"), "the candidates are named: {message}");
    assert_eq!(store.review(first).await.unwrap().unwrap().status, ReviewStatus::Open, "nothing decided");
    assert!(queued(&store).await.is_empty(), "nothing queued");

    // Link: decided, and the flow is queued for the record now.
    let out = lines(&run(&["review", "link", "--store", &db, &first.to_string(), "4600000002", "--by", "ann", "--note", "same VAT number"]));
    assert_eq!(out.len(), 1);
    let linked = &out[0];
    assert_eq!((linked["id"].as_i64(), linked["status"].as_str(), linked["chosen_id"].as_str()), (Some(first), Some("linked"), Some("4600000002")));
    assert_eq!((linked["decided_by"].as_str(), linked["note"].as_str()), (Some("ann"), Some("same VAT number")));
    assert!(linked["decided"].as_str().is_some_and(|d| d.parse::<jiff::Timestamp>().is_ok()), "{linked}");
    let job_id = linked["job_id"].as_i64().expect("the job's id");
    assert_eq!(queued(&store).await, [job_id]);
    let job = store.job(job_id).await.unwrap().expect("the job");
    assert_eq!((job.flow.as_str(), job.key.as_str(), job.status), ("customer_sync", "crm:Accounts:5500000001", JobStatus::Queued));
    assert_eq!(job.payload, json!({"system": "crm", "module": "Accounts", "id": "5500000001"}), "the record, as flows read it");
    let manual = store.event(job.event_id).await.unwrap().expect("the job's event");
    assert_eq!(
        (manual.event.source, manual.event.connection.as_str(), manual.event.payload.clone()),
        (Source::Manual, "default", json!({"asked_by": "ann", "flow": "customer_sync"}))
    );
    assert_eq!(manual.event.dedup_key, format!("review:{first}:linked"));
    let decided = store.review(first).await.unwrap().expect("the review");
    assert_eq!((decided.status, decided.chosen_id.as_deref()), (ReviewStatus::Linked, Some("4600000002")));
    assert_eq!(store.last_review("default", "customer_sync", &account).await.unwrap(), Some(decided));

    // A second decision is refused, whichever it is.
    for args in [vec!["link", "4600000001"], vec!["create"], vec!["ignore"]] {
        let first_id = first.to_string();
        let mut full = vec!["review", args[0], "--store", &db, &first_id];
        full.extend(&args[1..]);
        let message = refused(&run(&full));
        assert!(message.contains(&format!("review {first} is already linked to 4600000002 (by ann")), "{args:?}: {message}");
    }
    assert_eq!(queued(&store).await, [job_id], "a refused decision queues nothing");

    // Create: decided by the OS user, and the Books contact's flow queued.
    let out = lines(&run(&["review", "create", "--store", &db, &second.to_string()]));
    assert_eq!((out[0]["status"].as_str(), out[0]["chosen_id"].as_str(), out[0]["decided_by"].as_str()), (Some("created"), None, Some("tester")));
    let create_job = store.job(out[0]["job_id"].as_i64().expect("the job's id")).await.unwrap().expect("the job");
    assert_eq!((create_job.flow.as_str(), create_job.key.as_str()), ("customer_sync", "books:contacts:4600000009"));
    assert_eq!(create_job.payload, json!({"system": "books", "module": "contacts", "id": "4600000009"}));
    assert_eq!(queued(&store).await.len(), 2);

    // The open list is empty now, and says so.
    let out = run(&["review", "list", "--store", &db]);
    assert!(out.status.success() && out.stdout.is_empty() && stderr(&out).contains("no open reviews"), "{}", stderr(&out));
    let linked_list = lines(&run(&["review", "list", "--store", &db, "--status", "linked"]));
    assert_eq!(linked_list.iter().map(|r| r["id"].as_i64().unwrap()).collect::<Vec<_>>(), [first]);

    // Ignore: decided (by `admin` when there is no $USER), and nothing queued.
    let deleted = NewReview {
        kind: ReviewKind::Deleted,
        reason: "the linked Books contact 4600000002 was deleted".into(),
        candidates: vec![],
        ..ambiguous(account.clone(), "", vec![])
    };
    let third = store.open_review(&deleted, now_ms()).await.expect("open a third review");
    let message = refused(&run(&["review", "link", "--store", &db, &third.to_string(), "4600000002"]));
    assert!(message.contains("has none"), "a review without candidates cannot be linked: {message}");
    let out = Command::new(BIN).args(["review", "ignore", "--store", &db, &third.to_string()]).env("RUST_LOG", "error").env_remove("USER").output().unwrap();
    let ignored = lines(&out);
    assert_eq!((ignored[0]["status"].as_str(), ignored[0]["decided_by"].as_str(), &ignored[0]["job_id"]), (Some("ignored"), Some("admin"), &Value::Null));
    assert_eq!(queued(&store).await.len(), 2, "ignoring queues nothing");
    assert_eq!(store.last_review("default", "customer_sync", &account).await.unwrap().map(|r| r.status), Some(ReviewStatus::Ignored));
    assert!(refused(&run(&["review", "create", "--store", &db, "999999"])).contains("no review 999999"));

    store.close().await;
}
