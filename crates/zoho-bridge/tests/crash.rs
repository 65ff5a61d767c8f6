//! Crash consistency of the sync engine, with the worker as a real separate process.
//!
//! The emulator runs in this test process on a free port; the worker is the
//! `zoho-bridge worker` binary built by cargo, started and SIGKILLed at random points;
//! the store is a SQLite file (or a fresh PostgreSQL database when
//! `ZOHO_BRIDGE_TEST_POSTGRES_URL` is set). After the killing stops, a last worker runs
//! until the queue is idle, and the test checks the invariant: every CRM product has
//! exactly one Books item, every job is done, and the ID links agree with Books.
//!
//! Sizes: 500 products, 20 kills after 50–400 ms each; leases of 1.5 s so that a killed
//! worker's jobs come back quickly. A run takes some tens of seconds in a debug build.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bridge::{
    flows::{
        catalog_sync::{self, CRM_ID_FIELD, custom_field},
        now_ms,
    },
    store::{AnyStore, JobStatus, Source, Store},
};
use futures_util::TryStreamExt;
use serde_json::Value;
use zoho::{
    BudgetConfig, BudgetRegistry, Client,
    books::ListQuery,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule, testkit};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");
const CONN: &str = "default";
const PRODUCTS: usize = 500;
const KILLS: usize = 20;

struct Harness {
    emulator: Emulator,
    client: Client,
    store: AnyStore,
    store_arg: String,
    ids: Vec<String>,
    dir: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the emulator, creates the products in CRM and enqueues one event each.
async fn harness(faults: FaultConfig, store_arg: Option<String>) -> Harness {
    zoho_emulator::install_crypto_provider();
    let mut config = EmulatorConfig::unlimited();
    // Zoho's token allowance stays on: ten token requests per ten minutes per refresh
    // token. Twenty-one worker processes get by because they share one token.
    config.token_requests_per_window = Some(10);
    // Each product's fresh read takes 40 ms, so that a run lasts seconds and the kills
    // land while the worker is busy.
    let mut faults = faults;
    faults.rules.push(FaultRule { path_prefix: "/crm/v8/Products/".into(), method: Some("GET".into()), latency_ms: 40, ..FaultRule::default() });
    config.faults = faults;
    let emulator = Emulator::start(config, 0).await.expect("emulator");
    let connection = zoho::Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("zb-crash-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store_arg = store_arg.unwrap_or_else(|| dir.join("store.db").display().to_string());
    let store = AnyStore::connect(&store_arg).await.expect("store");

    let products: Vec<Product> = (0..PRODUCTS)
        .map(|i| Product {
            product_name: Some(format!("Product {i}")),
            product_code: Some(format!("SKU-{i:04}")),
            unit_price: Some(format!("{}.{:02}", i % 97 + 1, i % 100).parse().unwrap()),
            active: Some(i % 10 != 0),
            ..Product::default()
        })
        .collect();
    let mut ids = Vec::new();
    for chunk in products.chunks(100) {
        for r in client.crm().insert("Products", chunk, &WriteOptions::no_triggers()).await.expect("insert products") {
            assert!(r.is_success(), "{r:?}");
            ids.push(r.id().unwrap().to_string());
        }
    }
    for id in &ids {
        let event = catalog_sync::event(CONN, Source::CrmWebhook, id, &format!("crm:Products:{id}:1"));
        store.add_event(&event, &[catalog_sync::job(id)], now_ms()).await.expect("add_event");
    }
    Harness { emulator, client, store, store_arg, ids, dir }
}

fn spawn_worker(h: &Harness, id: &str) -> Child {
    Command::new(BIN)
        .args(["worker", "--store", &h.store_arg, "--emulator", &h.emulator.url(), "--id", id, "--no-budget", "--until-idle"])
        .args(["--concurrency", "4", "--lease-secs", "1.5", "--poll-ms", "25", "--backoff-secs", "0.05", "--max-attempts", "1000"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting zoho-bridge worker")
}

/// Waits for a worker to exit by itself (at most `limit`), and checks it succeeded.
async fn wait_ok(mut child: Child, limit: Duration) {
    let status = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the worker") {
                return Some(status);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    let status = status.unwrap_or_else(|| panic!("the worker did not finish within {limit:?}"));
    assert!(status.success(), "the worker failed: {status}");
}

/// Waits until a worker has left an access token in the store's `tokens` table.
async fn wait_for_shared_token(h: &Harness) {
    let db = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&format!("sqlite://{}", h.store_arg)).await.expect("the store file");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shared: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&db).await.expect("tokens");
        if shared > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no worker shared an access token within 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    db.close().await;
}

/// Waits for the worker's "ready" line (store open, client built), then SIGKILLs it
/// after a random 50–400 ms, so the kill lands while it works.
async fn kill_later(mut child: Child) {
    let stdout = child.stdout.take().expect("piped stdout");
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let ready = lines.next().and_then(Result::ok).is_some_and(|l| l.contains("ready"));
        // Keep draining so the worker never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ready
    });
    assert!(tokio::time::timeout(Duration::from_secs(30), ready).await.expect("worker never became ready").unwrap());
    tokio::time::sleep(Duration::from_millis(fastrand::u64(50..=400))).await;
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix.
    let _ = child.wait();
}

/// Asserts the invariant: one item per product, every job done, links = Books.
async fn assert_consistent(h: &Harness) -> HashMap<String, String> {
    let items: Vec<Value> = h.client.books().list("/books/v3/items", "items", ListQuery::new()).try_collect().await.unwrap();
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for i in &items {
        let crm = custom_field(i, CRM_ID_FIELD).expect("an item without the CRM id").to_string();
        by.entry(crm).or_default().push(i["item_id"].as_str().unwrap().to_string());
    }
    assert_eq!(items.len(), PRODUCTS, "items in Books");
    let links: HashMap<String, String> = h.store.links(CONN, "product_item").await.unwrap().into_iter().map(|l| (l.crm_id, l.books_id)).collect();
    assert_eq!(links.len(), PRODUCTS, "links");
    for id in &h.ids {
        let found = by.get(id).cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "product {id} has items {found:?}");
        assert_eq!(links.get(id), Some(&found[0]), "link of product {id}");
    }
    let counts = h.store.job_counts().await.unwrap();
    for (status, n) in &counts {
        if *status != JobStatus::Done {
            assert_eq!(*n, 0, "jobs left {status:?}: {counts:?}");
        } else {
            assert_eq!(*n, PRODUCTS as i64, "{counts:?}");
        }
    }
    links
}

/// Kills and restarts one worker `KILLS` times, then lets it finish.
async fn kill_restart_finish(h: &Harness) {
    let start = Instant::now();
    for round in 0..KILLS {
        let worker = spawn_worker(h, &format!("crash-{round}"));
        if round == 0 {
            // The first worker asks Zoho for the access token and leaves it in the store
            // for the others; it is killed after that (a kill between Zoho's answer and
            // the store write would rightly make the next worker ask again).
            wait_for_shared_token(h).await;
        }
        kill_later(worker).await;
    }
    let before = h.store.job_counts().await.unwrap();
    eprintln!("after {KILLS} kills, jobs by status: {before:?}");
    let done_before: i64 = before.iter().filter(|(s, _)| *s == JobStatus::Done).map(|(_, n)| n).sum();
    assert!(done_before > 0, "the killed workers never got to work: {before:?}");
    wait_ok(spawn_worker(h, "finisher"), Duration::from_secs(120)).await;
    eprintln!("{KILLS} kills and the final run took {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_leaves_exactly_one_item_per_product() {
    let h = harness(FaultConfig::default(), None).await;
    let creds = testkit::credentials(&reqwest::Client::new(), &h.emulator.url()).await.expect("credentials");
    let asked = || h.emulator.state().world().accounts.refresh_tokens.get(&creds.refresh_token).map_or(0, |t| t.requests.len());
    let before = asked();
    kill_restart_finish(&h).await;
    assert_consistent(&h).await;
    // The 21 worker processes share the access token through the store: one request to
    // Zoho Accounts between them (without sharing, 21: Zoho would refuse the 11th).
    assert_eq!(asked() - before, 1, "token requests by {} worker processes", KILLS + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_and_dropped_create_responses_leave_exactly_one_item_per_product() {
    let faults = FaultConfig {
        seed: Some(11),
        rules: vec![FaultRule { path_prefix: "/books/v3/items".into(), method: Some("PUT".into()), drop_response_rate: 0.1, ..FaultRule::default() }],
        ..FaultConfig::default()
    };
    let h = harness(faults, None).await;
    kill_restart_finish(&h).await;
    assert_consistent(&h).await;
}

/// A fresh database on the server of `ZOHO_BRIDGE_TEST_POSTGRES_URL`, or `None` (and a
/// loud SKIPPED line) when it is unset. Unreachable when set fails the test.
async fn postgres_database() -> Option<(String, String)> {
    let Ok(url) = std::env::var("ZOHO_BRIDGE_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: ZOHO_BRIDGE_TEST_POSTGRES_URL is not set; the three-workers-on-PostgreSQL test did not run");
        return None;
    };
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("ZOHO_BRIDGE_TEST_POSTGRES_URL is set but unreachable");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("zb_crash_{}_{nanos}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("CREATE DATABASE");
    let mut parsed = url::Url::parse(&url).expect("ZOHO_BRIDGE_TEST_POSTGRES_URL is not a URL");
    parsed.set_path(&format!("/{name}"));
    Some((parsed.to_string(), name))
}

/// Drops a test database (best effort: a failure leaves it for a person to drop).
async fn drop_database(name: &str) {
    use sqlx::Connection as _;
    let Ok(url) = std::env::var("ZOHO_BRIDGE_TEST_POSTGRES_URL") else { return };
    if let Ok(mut admin) = sqlx::PgConnection::connect(&url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await {
            eprintln!("could not drop test database {name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_one_killed_do_every_job_once() {
    let Some((db, name)) = postgres_database().await else { return };
    let h = harness(FaultConfig::default(), Some(db)).await;
    let a = spawn_worker(&h, "pg-a");
    let b = spawn_worker(&h, "pg-b");
    let victim = spawn_worker(&h, "pg-victim");
    kill_later(victim).await;
    wait_ok(a, Duration::from_secs(120)).await;
    wait_ok(b, Duration::from_secs(120)).await;
    let links = assert_consistent(&h).await;
    // The audit shows at most one create per item, and every item was written by a job.
    let mut creates = 0;
    for item_id in links.values() {
        let audit = h.store.audit_for_record("books", "items", item_id).await.unwrap();
        let n = audit.iter().filter(|a| a.action == "create" && a.ok).count();
        assert!(n <= 1, "item {item_id} created {n} times: {audit:#?}");
        assert!(!audit.is_empty(), "item {item_id} has no audit entry");
        creates += n;
    }
    eprintln!("{creates} creates audited; the rest were adopted after the killed worker's creates");
    h.store.close().await;
    drop(h);
    drop_database(&name).await;
}

/// Deals closing while the worker is SIGKILLed 20 times: every deal gets exactly one
/// Books invoice (Books upserts by the deal id held in a unique custom field, so a kill
/// between Books' commit and the job's end, or a dropped answer, cannot make a second),
/// every job ends done, and the `deal_invoice` links agree with Books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_during_500_deals_closing_leaves_exactly_one_invoice_each() {
    use bridge::store::{NewEvent, NewJob, RecordRef};
    use serde_json::json;
    const DEALS: usize = 500;
    let faults = FaultConfig {
        seed: Some(23),
        rules: vec![
            FaultRule {
                path_prefix: "/books/v3/invoices".into(),
                method: Some("PUT".into()),
                drop_response_rate: 0.05,
                latency_ms: 20,
                ..FaultRule::default()
            },
            // Each deal's read takes 40 ms, so that the kills land while deals are closing.
            FaultRule { path_prefix: "/crm/v8/Deals".into(), method: Some("GET".into()), latency_ms: 40, ..FaultRule::default() },
        ],
        ..FaultConfig::default()
    };
    // The product harness's emulator and store, with its 500 products linked to items
    // first; the deals' customers are created by deal_to_invoice itself.
    let h = harness(faults, None).await;
    wait_ok(spawn_worker(&h, "catalog"), Duration::from_secs(120)).await;
    let crm = h.client.crm();
    let accounts: Vec<Value> =
        (0..20).map(|i| json!({"Account_Name": format!("Crash Customer {i} (\"Ltd\"), Zürich 🚀"), "Billing_Country": "Switzerland"})).collect();
    let account_ids: Vec<String> =
        crm.insert("Accounts", &accounts, &WriteOptions::no_triggers()).await.unwrap().iter().map(|r| r.id().unwrap().to_string()).collect();
    let deals: Vec<Value> = (0..DEALS)
        .map(|i| json!({"Deal_Name": format!("Crash deal {i}"), "Stage": "Closed Won", "Amount": 100 + i, "Account_Name": {"id": account_ids[i % account_ids.len()]}}))
        .collect();
    let mut deal_ids = Vec::new();
    for chunk in deals.chunks(100) {
        for r in crm.insert("Deals", chunk, &WriteOptions::no_triggers()).await.unwrap() {
            assert!(r.is_success(), "{r:?}");
            deal_ids.push(r.id().unwrap().to_string());
        }
    }
    for (i, id) in deal_ids.iter().enumerate() {
        // A third of the deals have two products (the lines come from the related list).
        if i % 3 == 0 {
            let lines = [
                json!({"id": h.ids[i % PRODUCTS], "quantity": 2, "list_price": 12.5}),
                json!({"id": h.ids[(i + 1) % PRODUCTS], "quantity": 1, "list_price": 3}),
            ];
            crm.relate("Deals", id, "Products", &lines).await.unwrap();
        }
        let record = RecordRef::crm("Deals", id.clone());
        let event = NewEvent::for_record(Source::CrmWebhook, CONN, &record, Value::Null, format!("crm:Deals:{id}:closed"));
        h.store.add_event(&event, &[NewJob::for_record("deal_to_invoice", &record)], now_ms()).await.unwrap();
    }
    kill_restart_finish(&h).await;

    let invoices: Vec<Value> = h.client.books().list("/books/v3/invoices", "invoices", ListQuery::new()).try_collect().await.unwrap();
    let mut by_deal: HashMap<String, Vec<String>> = HashMap::new();
    for inv in &invoices {
        let deal = custom_field(inv, "cf_crm_deal_id").expect("an invoice without the deal id").to_string();
        by_deal.entry(deal).or_default().push(inv["invoice_id"].as_str().unwrap().to_string());
    }
    let links: HashMap<String, String> = h.store.links(CONN, "deal_invoice").await.unwrap().into_iter().map(|l| (l.crm_id, l.books_id)).collect();
    for id in &deal_ids {
        let found = by_deal.get(id).cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "deal {id} has invoices {found:?}");
        assert_eq!(links.get(id), Some(&found[0]), "link of deal {id}");
    }
    assert_eq!(invoices.len(), DEALS, "invoices in Books");
    let counts = h.store.job_counts().await.unwrap();
    assert!(counts.iter().all(|(s, n)| *s == JobStatus::Done || *n == 0), "every job done: {counts:?}");
}
