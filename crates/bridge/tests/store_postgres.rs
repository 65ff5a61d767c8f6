//! The store suite on PostgreSQL: a database per test, created from
//! `ZOHO_BRIDGE_TEST_POSTGRES_URL` and dropped afterwards (also when the test fails).
//! Unset variable: the tests say SKIPPED loudly and pass; set but unreachable: they fail.

mod store_suite;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bridge::store::{AnyStore, Finish, JobResult, JobStatus, PgStore, Store, StoreError};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};

const URL_VAR: &str = "ZOHO_BRIDGE_TEST_POSTGRES_URL";

/// Test databases older than this are left over from killed runs and are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// The admin URL with its database name replaced.
fn url_for(admin_url: &str, database: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("ZOHO_BRIDGE_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

async fn drop_database(admin: &PgPool, name: &str) {
    // Names are made here from digits and a fixed prefix; quoting keeps them inert anyway.
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(admin).await {
        eprintln!("could not drop test database {name}: {e}");
    }
}

/// Drops `bridge_test_<pid>_<nanos>` databases created more than an hour ago.
async fn drop_stale(admin: &PgPool) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'bridge\\_test\\_%'").fetch_all(admin).await.expect("list test databases");
    let cutoff = now_nanos().saturating_sub(STALE_AFTER.as_nanos());
    for name in names {
        let created = name.rsplit('_').next().and_then(|n| n.parse::<u128>().ok());
        if created.is_some_and(|c| c < cutoff) {
            drop_database(admin, &name).await;
        }
    }
}

/// Runs `body` on a fresh migrated database (given as a store and its URL), then drops
/// the database, then re-raises the body's panic if it had one.
async fn with_pg<F, Fut>(body: F)
where
    F: FnOnce(PgStore, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(URL_VAR) else {
        eprintln!("SKIPPED ({URL_VAR} not set): PostgreSQL store tests did not run");
        return;
    };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{URL_VAR} is set but PostgreSQL is unreachable: {}", bridge::store::redact_message(&e.to_string(), &admin_url)));
    drop_stale(&admin).await;
    let name = format!("bridge_test_{}_{}", std::process::id(), now_nanos());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&admin).await.expect("create test database");
    let url = url_for(&admin_url, &name);
    let outcome = match PgStore::connect(&url).await {
        Ok(store) => {
            let outcome = tokio::spawn(body(store.clone(), url)).await;
            store.close().await;
            outcome.map_err(|e| if e.is_panic() { e.into_panic() } else { Box::new(e.to_string()) })
        }
        Err(e) => Err(Box::new(format!("connect to the test database: {e}")) as Box<dyn std::any::Any + Send>),
    };
    drop_database(&admin, &name).await;
    admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                with_pg(|store, _| store_suite::$name(store)).await;
            }
        )*
    };
}

every_store_test!(on_postgres);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_store_picks_postgres_by_scheme() {
    with_pg(|store, url| async move {
        drop(store);
        let other_spelling = url.replacen("postgres://", "postgresql://", 1);
        let any = AnyStore::connect(&other_spelling).await.expect("connect through AnyStore");
        assert!(matches!(any, AnyStore::Postgres(_)));
        store_suite::approvals(any.clone()).await;
        any.close().await;
    })
    .await;
}

/// A store written before links had relations (schema version 3) keeps its links and its
/// jobs when it is opened by this version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_keeps_the_links_and_jobs_of_a_version_3_store() {
    with_pg(|store, url| async move {
        store.close().await;
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
        // Back to an empty database, then to schema version 3 with rows of that time.
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;").execute(&pool).await.expect("empty");
        store_suite::migrator_at_version_3("postgres").run(&pool).await.expect("version 3");
        sqlx::raw_sql(store_suite::VERSION_3_ROWS).execute(&pool).await.expect("old rows");
        pool.close().await;
        let store = PgStore::connect(&url).await.expect("open and migrate");
        store_suite::version_3_rows_migrated(store.clone()).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn connection_errors_do_not_leak_the_password() {
    // Port 1 refuses at once; no server needed.
    let url = "postgres://bridge:hunter2-secret@127.0.0.1:1/bridge?connect_timeout=2";
    let err = PgStore::connect(url).await.expect_err("nothing listens on port 1");
    let message = err.to_string();
    eprintln!("the error reads: {message}");
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(!message.contains("hunter2-secret"), "{message}");
    assert!(message.contains("127.0.0.1"), "the message should say where: {message}");
    let any = AnyStore::connect(url).await.expect_err("nothing listens on port 1");
    assert!(!any.to_string().contains("hunter2-secret"));
}

/// After 2,000 enqueued jobs the store vacuums and analyzes its queue itself (these
/// servers may run without autovacuum, and a queue's statistics go stale fast).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_vacuums_and_analyzes_its_tables() {
    with_pg(|store, url| async move {
        let stats = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
        // Two rounds of 100 done jobs linking the same 100 products, each write audited
        // before it is sent and completed after: links and audit gather dead rows past
        // autovacuum's threshold (50 + a fifth of the live rows).
        for round in ["a", "b"] {
            done_jobs_with_links_and_audit(&store, round, 100).await;
        }
        // A connection reports its row counts when it closes (an idle one only after
        // ten seconds): reopen the store so that the upkeep sees them at once.
        store.close().await;
        let store = PgStore::connect(&url).await.expect("reopen");
        let dead = "SELECT COALESCE(MIN(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname IN ('links', 'audit')";
        let mut fewest_dead = 0i64;
        for _ in 0..100 {
            fewest_dead = sqlx::query_scalar(dead).fetch_one(&stats).await.expect("n_dead_tup");
            if fewest_dead >= 100 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(fewest_dead >= 100, "links and audit have dead rows: {fewest_dead}");
        // 2,000 more enqueued jobs start the upkeep.
        let page: Vec<_> = (0..2_100).map(|i| (store_suite::event(&i.to_string(), 1), vec![store_suite::job(&i.to_string())])).collect();
        store.add_events(&page, 1).await.expect("add_events");
        // (vacuums, analyzes) of jobs, links, audit, events.
        let counts = "SELECT relname::text, vacuum_count + autovacuum_count, analyze_count + autoanalyze_count \
                      FROM pg_stat_user_tables WHERE relname IN ('jobs', 'links', 'audit', 'events') ORDER BY relname";
        let done =
            |seen: &[(String, i64, i64)]| seen.len() == 4 && seen.iter().all(|(table, vacuums, analyzes)| *analyzes > 0 && (table == "events" || *vacuums > 0));
        let mut seen: Vec<(String, i64, i64)> = Vec::new();
        for _ in 0..100 {
            seen = sqlx::query_as(counts).fetch_all(&stats).await.expect("pg_stat_user_tables");
            if done(&seen) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(done(&seen), "the queue, links and audit were not vacuumed and analyzed, nor the inbox analyzed: {seen:?}");
        let estimate: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'jobs'").fetch_one(&stats).await.expect("reltuples");
        assert!(estimate >= 2_000.0, "the planner's estimate is {estimate}");
        stats.close().await;
    })
    .await;
}

/// Enqueues, claims and stores as done `n` jobs, the `i`-th linking product `i` and
/// carrying one audited write stored before it was sent (as a flow's `WriteLog` does).
async fn done_jobs_with_links_and_audit(store: &PgStore, round: &str, n: usize) {
    let page: Vec<_> = (0..n)
        .map(|i| {
            let record = format!("{round}{i}");
            (store_suite::event(&record, 1), vec![store_suite::job(&record)])
        })
        .collect();
    store.add_events(&page, 1).await.expect("add_events");
    let jobs = store.claim("w", 2, 60_000, n as u32).await.expect("claim");
    assert_eq!(jobs.len(), n);
    let mut results = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        // Journaled before the write (outcome unknown), completed by the result.
        let mut entry = store_suite::audit("w", &format!("item-{i}"), "update", 3, Some(job.id));
        (entry.record_id, entry.ok) = (None, false);
        entry.id = store.add_audit(&entry).await.expect("add_audit");
        (entry.record_id, entry.ok) = (Some(format!("item-{i}")), true);
        let link = store_suite::link(&i.to_string(), &format!("item-{i}"), Some(&format!("{round}-hash")), None);
        let done = Finish::Done { outcome: "updated".into(), links: vec![link], snapshot: None, audit: vec![entry] };
        results.push((job.id, JobResult::Finish(done)));
    }
    let answers = store.record("w", &results, 4).await.expect("record");
    assert!(answers.iter().all(|a| matches!(a, Ok(JobStatus::Done))), "{answers:?}");
}

/// Jobs enqueued through one store (another process, in effect: its own pool and
/// listener) wake the workers waiting on another, through `LISTEN/NOTIFY`; and after the
/// listening connection is killed, the listener reconnects and the wake-ups resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_enqueue_wakes_this_process_and_the_listener_reconnects() {
    with_pg(|store, url| async move {
        let other = PgStore::connect(&url).await.expect("a second store");
        // The listener starts in the background: enqueue until one wakes us (bounded).
        async fn woken_by(store: &PgStore, other: &PgStore, tag: &str) -> bool {
            let mut watch = store.job_watch();
            for n in 0..20 {
                watch.mark_seen();
                let record = format!("{tag}-{n}");
                other.add_event(&store_suite::event(&record, 1), &[store_suite::job(&record)], 0).await.expect("enqueue");
                if tokio::time::timeout(Duration::from_millis(500), watch.changed()).await.is_ok() {
                    return true;
                }
            }
            false
        }
        assert!(woken_by(&store, &other, "first").await, "another store's enqueue never woke this one");

        let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("admin");
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
        )
        .fetch_all(&admin)
        .await
        .expect("terminate the listeners");
        assert!(!killed.is_empty() && killed.iter().all(|k| *k), "no listening connection found: {killed:?}");
        assert!(woken_by(&store, &other, "after").await, "no wake-up after the listening connection was killed");
        admin.close().await;
        other.close().await;
    })
    .await;
}
