//! Throughput of the store's hot path: events/s through `add_event` (one transaction
//! per event, as a webhook stores it) + `claim` + `record` (a claimed batch's results in
//! one transaction, as the worker stores them),
//! on SQLite (a WAL file) and on PostgreSQL (when `ZOHO_BRIDGE_TEST_POSTGRES_URL` is set,
//! in a throw-away database). Prints the figures; run with
//! `cargo bench -p bridge --bench store`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bridge::store::{Finish, JobResult, NewEvent, NewJob, PgStore, Source, SqliteStore, Store};
use serde_json::json;
use sqlx::AssertSqlSafe;

const EVENTS: usize = 20_000;
const WORKERS: usize = 4;
const BATCH: u32 = 32;
const T0: i64 = 1_700_000_000_000;

fn event(i: usize) -> (NewEvent, Vec<NewJob>) {
    let record = format!("{}", 5_000_000 + i % 5_000);
    let event = NewEvent {
        source: Source::CrmNotification,
        connection: "bench".into(),
        system: "crm".into(),
        module: "Products".into(),
        record_id: record.clone(),
        modified_ms: Some(T0 + i as i64),
        payload: json!({"id": record, "Product_Name": "Widget", "Unit_Price": "12.50"}),
        dedup_key: format!("crm:Products:{record}:{}", T0 + i as i64),
    };
    let job = NewJob { flow: "catalog_sync".into(), key: format!("crm:Products:{record}"), payload: json!({}) };
    (event, vec![job])
}

/// Adds all events (one transaction each, as triggers do), then drains them with
/// `WORKERS` concurrent workers; returns (ingest, drain) durations.
async fn run<S: Store>(store: S) -> (Duration, Duration) {
    let start = Instant::now();
    for i in 0..EVENTS {
        let (event, jobs) = event(i);
        store.add_event(&event, &jobs, T0).await.expect("add_event");
    }
    let ingest = start.elapsed();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            let done = Finish::Skipped { reason: "bench".into(), snapshot: None };
            let mut finished = 0usize;
            let mut idle = 0;
            while idle < 20 {
                let jobs = store.claim(&worker, T0, 600_000, BATCH).await.expect("claim");
                if jobs.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                idle = 0;
                // As the worker does: the batch's results in one transaction.
                let results: Vec<(i64, JobResult)> = jobs.iter().map(|j| (j.id, JobResult::Finish(done.clone()))).collect();
                let answers = store.record(&worker, &results, T0).await.expect("record");
                assert!(answers.iter().all(Result::is_ok), "{answers:?}");
                finished += answers.len();
            }
            finished
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("worker");
    }
    assert_eq!(total, EVENTS, "every job finished once");
    (ingest, start.elapsed())
}

fn report(name: &str, (ingest, drain): (Duration, Duration)) {
    let per_s = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "{name:<22} {EVENTS} events: add_event {:>8.0}/s ({:.2} s) | claim+record ({WORKERS} workers, batch {BATCH}) {:>8.0}/s ({:.2} s) | end to end {:>8.0}/s",
        per_s(ingest),
        ingest.as_secs_f64(),
        per_s(drain),
        drain.as_secs_f64(),
        per_s(ingest + drain)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("bridge-store-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("bench.db")).await.expect("open SQLite");
    report("SQLite (file, WAL)", run(store.clone()).await);
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    let Ok(admin_url) = std::env::var("ZOHO_BRIDGE_TEST_POSTGRES_URL") else {
        eprintln!("PostgreSQL: SKIPPED (ZOHO_BRIDGE_TEST_POSTGRES_URL not set)");
        return;
    };
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("PostgreSQL reachable");
    let name = format!("bridge_test_{}_{nanos}", std::process::id());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&admin).await.expect("create database");
    let mut url = url::Url::parse(&admin_url).expect("URL");
    url.set_path(&format!("/{name}"));
    let store = PgStore::connect(url.as_str()).await.expect("connect");
    report("PostgreSQL", run(store.clone()).await);
    store.close().await;
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&admin).await.expect("drop database");
}
