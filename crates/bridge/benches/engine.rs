//! End-to-end throughput of the engine: events through inbox → queue → `catalog_sync` →
//! Books item, against an in-process emulator with no latency and no limits, on SQLite
//! (and PostgreSQL when `ZOHO_BRIDGE_TEST_POSTGRES_URL` is set), with the peak memory
//! (VmHWM) at each quarter of the run.
//!
//! `cargo bench -p bridge --bench engine` (sizes: `ENGINE_BENCH_EVENTS`, default 100,000
//! events over `ENGINE_BENCH_PRODUCTS`, default 10,000 products: the first event of each
//! product creates its item, the later ones read the product fresh and are skipped by
//! hash). The emulator runs in this process, so the memory figures include it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bridge::{
    flows::{
        Flow,
        catalog_sync::{self, CatalogSync},
        now_ms,
    },
    store::{AnyStore, Cursor, JobStatus, Source, Store},
    worker::{Backoff, Worker, WorkerConfig},
};
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `VmHWM` and `VmRSS` of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn run(label: &str, store: AnyStore, events: usize, products: usize) {
    let mut config = EmulatorConfig::unlimited();
    config.seed_data = false;
    let emulator = Emulator::start(config, 0).await.expect("emulator");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().unwrap();

    let rows: Vec<Product> = (0..products)
        .map(|i| Product {
            product_name: Some(format!("Product {i}")),
            product_code: Some(format!("SKU-{i:06}")),
            unit_price: Some(format!("{}.{:02}", i % 997 + 1, i % 100).parse().unwrap()),
            active: Some(true),
            ..Product::default()
        })
        .collect();
    let mut ids = Vec::with_capacity(products);
    for chunk in rows.chunks(100) {
        for r in client.crm().insert("Products", chunk, &WriteOptions::no_triggers()).await.expect("insert") {
            ids.push(r.id().expect("id").to_string());
        }
    }
    drop(rows);

    let flows: Vec<Arc<dyn Flow>> = vec![Arc::new(CatalogSync::default())];
    let worker_config = WorkerConfig {
        batch: 64,
        poll_interval: Duration::from_millis(5),
        backoff: Backoff { base: Duration::from_millis(50), max: Duration::from_millis(500) },
        ..WorkerConfig::new(format!("bench-{label}"))
    };
    let worker = Worker::new(store.clone(), flows, client.clone(), worker_config);

    println!("[{label}] {events} events over {products} products (first event per product creates, the rest skip by hash)");
    let quarter = events.div_ceil(4);
    let (mut enqueue_total, mut run_total) = (Duration::ZERO, Duration::ZERO);
    let mut next = 0usize;
    for q in 1..=4 {
        let end = (q * quarter).min(events);
        let t = Instant::now();
        while next < end {
            let batch_end = (next + 1_000).min(end);
            let batch: Vec<_> = (next..batch_end)
                .map(|n| {
                    let id = &ids[n % products];
                    (catalog_sync::event("default", Source::Poller, id, &format!("bench:{n}")), vec![catalog_sync::job(id)])
                })
                .collect();
            let cursor = Cursor { connection: "default".into(), stream: "crm:Products".into(), position_ms: batch_end as i64, updated_ms: now_ms() };
            store.add_events_and_move_cursor(&batch, &cursor, now_ms()).await.expect("enqueue");
            next = batch_end;
        }
        let enqueue = t.elapsed();
        let t = Instant::now();
        let stats = worker.run_until_idle().await.expect("worker");
        let ran = t.elapsed();
        enqueue_total += enqueue;
        run_total += ran;
        let (hwm, rss) = memory_mib();
        let n = end - (q - 1) * quarter;
        println!(
            "[{label}] {:>3}% ({end} events): inbox+queue {:>8.0} ev/s, flow {:>7.0} ev/s (done {}, skipped {}, retried {}, dead {}); VmHWM {hwm:.1} MiB, VmRSS {rss:.1} MiB",
            q * 25,
            n as f64 / enqueue.as_secs_f64(),
            n as f64 / ran.as_secs_f64(),
            stats.done,
            stats.skipped,
            stats.retried,
            stats.dead,
        );
    }
    let counts = store.job_counts().await.expect("counts");
    let done: i64 = counts.iter().filter(|(s, _)| matches!(s, JobStatus::Done | JobStatus::Skipped)).map(|(_, n)| n).sum();
    assert_eq!(done as usize, events, "{counts:?}");
    println!(
        "[{label}] total: {events} events end to end in {:.1} s = {:.0} events/s (inbox+queue {:.1} s, flows {:.1} s)",
        (enqueue_total + run_total).as_secs_f64(),
        events as f64 / (enqueue_total + run_total).as_secs_f64(),
        enqueue_total.as_secs_f64(),
        run_total.as_secs_f64(),
    );
    emulator.stop().await;
}

/// A fresh database for the run: its URL and its name (dropped afterwards).
async fn postgres_database() -> Option<(String, String)> {
    let url = std::env::var("ZOHO_BRIDGE_TEST_POSTGRES_URL").ok()?;
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("ZOHO_BRIDGE_TEST_POSTGRES_URL is set but unreachable");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("zb_bench_{}_{nanos}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("CREATE DATABASE");
    let mut parsed = url::Url::parse(&url).expect("URL");
    parsed.set_path(&format!("/{name}"));
    Some((parsed.to_string(), name))
}

async fn drop_database(name: &str) {
    use sqlx::Connection as _;
    let url = std::env::var("ZOHO_BRIDGE_TEST_POSTGRES_URL").expect("set");
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut admin).await.expect("DROP DATABASE");
}

fn main() {
    zoho_emulator::install_crypto_provider();
    let events = env_usize("ENGINE_BENCH_EVENTS", 100_000);
    let products = env_usize("ENGINE_BENCH_PRODUCTS", 10_000).min(events).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("zb-engine-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = AnyStore::connect(&dir.join("bench.db").display().to_string()).await.expect("sqlite store");
        run("sqlite", store, events, products).await;
        let _ = std::fs::remove_dir_all(&dir);
        match postgres_database().await {
            Some((url, name)) => {
                let store = AnyStore::connect(&url).await.expect("postgres store");
                run("postgres", store.clone(), events, products).await;
                store.close().await;
                drop_database(&name).await;
            }
            None => println!("[postgres] skipped: ZOHO_BRIDGE_TEST_POSTGRES_URL is not set"),
        }
    });
}
