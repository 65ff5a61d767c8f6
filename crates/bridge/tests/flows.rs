//! The flow runner and the worker against the emulator and a real SQLite store: echo
//! suppression, a poisoned record dead-lettered with Zoho's message and replayed after
//! the data is fixed, "commit then drop the response" leaving one item per product, a
//! flow deciding on a transition from its snapshot, and retries timed by the engine clock.

mod common;

use common::TempDir;
use std::{collections::HashMap, sync::Arc, time::Duration};

use bridge::{
    flows::{
        Flow, RunSettings,
        catalog_sync::{self, CRM_ID_FIELD, CatalogSync, custom_field},
        execute, outcome_pending,
    },
    store::{Finish, Inserted, JobResult, JobStatus, Source, SqliteStore, Store},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::Value;
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    books::ListQuery,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule};

const CONN: &str = "default";

struct Setup {
    emulator: Emulator,
    client: Client,
    store: SqliteStore,
    _dir: TempDir,
}

async fn setup(faults: FaultConfig) -> Setup {
    zoho_emulator::install_crypto_provider();
    let mut config = EmulatorConfig::unlimited();
    config.faults = faults;
    let emulator = Emulator::start(config, 0).await.expect("emulator");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");
    let dir = TempDir::new("flows");
    let store = SqliteStore::open(dir.0.join("store.db")).await.expect("store");
    Setup { emulator, client, store, _dir: dir }
}

fn worker(s: &Setup, id: &str) -> Worker<SqliteStore> {
    let flows: Vec<Arc<dyn Flow>> = vec![Arc::new(CatalogSync::default())];
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(200) },
        batch: 8,
        ..WorkerConfig::new(id)
    };
    Worker::new(s.store.clone(), flows, s.client.clone(), config)
}

fn product(name: &str, code: &str, price: &str) -> Product {
    Product {
        product_name: Some(name.into()),
        product_code: Some(code.into()),
        unit_price: Some(price.parse::<Decimal>().unwrap()),
        active: Some(true),
        ..Product::default()
    }
}

/// Inserts products in CRM; returns their ids in order.
async fn insert_products(client: &Client, products: &[Product]) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in products.chunks(100) {
        let results = client.crm().insert("Products", chunk, &WriteOptions::no_triggers()).await.expect("insert products");
        for r in results {
            assert!(r.is_success(), "{r:?}");
            ids.push(r.id().unwrap().to_string());
        }
    }
    ids
}

async fn enqueue(store: &SqliteStore, id: &str, dedup: &str) -> Inserted {
    let event = catalog_sync::event(CONN, Source::CrmWebhook, id, dedup);
    store.add_event(&event, &[catalog_sync::job(id)], bridge::flows::now_ms()).await.expect("add_event")
}

async fn items(client: &Client) -> Vec<Value> {
    client.books().list("/books/v3/items", "items", ListQuery::new()).try_collect().await.expect("list items")
}

/// Items per CRM product id.
fn items_by_product(items: &[Value]) -> HashMap<String, Vec<String>> {
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for i in items {
        if let Some(crm) = custom_field(i, CRM_ID_FIELD) {
            by.entry(crm.to_string()).or_default().push(i["item_id"].as_str().unwrap().to_string());
        }
    }
    by
}

async fn count(store: &SqliteStore, status: JobStatus) -> i64 {
    store.job_counts().await.unwrap().into_iter().find(|(s, _)| *s == status).map(|(_, n)| n).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_becomes_one_item_and_a_repeated_event_is_skipped_as_unchanged() {
    let s = setup(FaultConfig::default()).await;
    let ids = insert_products(&s.client, &[product("Widget", "W-1", "12.50")]).await;
    let id = &ids[0];

    assert!(matches!(enqueue(&s.store, id, "crm:Products:w1:1").await, Inserted::New(_)));
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats, RunStats { done: 1, ..RunStats::default() });

    let all = items(&s.client).await;
    assert_eq!(all.len(), 1);
    let item = &all[0];
    assert_eq!(item["name"], "Widget");
    assert_eq!(item["sku"], "W-1");
    assert_eq!(item["rate"].to_string(), "12.5");
    assert_eq!(custom_field(item, CRM_ID_FIELD), Some(id.as_str()));
    let link = s.store.link_by_crm(CONN, "product_item", id).await.unwrap().expect("link");
    assert_eq!(link.books_id, item["item_id"].as_str().unwrap());
    assert!(link.books_hash.is_some());

    // The same delivery again is absorbed by the inbox.
    assert_eq!(enqueue(&s.store, id, "crm:Products:w1:1").await, Inserted::Duplicate);
    // Another event for the unchanged product (e.g. the echo of our own write) is skipped.
    assert!(matches!(enqueue(&s.store, id, "crm:Products:w1:2").await, Inserted::New(_)));
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats, RunStats { skipped: 1, ..RunStats::default() });
    let skipped = s.store.jobs_with_status(JobStatus::Skipped, 10).await.unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].outcome.as_deref().unwrap_or_default().contains("hash equal"), "{:?}", skipped[0].outcome);

    // One write in the audit log, with the values sent and Zoho's answer.
    let audit = s.store.audit_for_record("books", "items", &link.books_id).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0].action, "create");
    assert!(audit[0].ok);
    assert_eq!(audit[0].actor, "w1");
    assert_eq!(audit[0].request["sku"], "W-1");
    assert_eq!(audit[0].response["item_id"], link.books_id.as_str());
    assert_eq!(items(&s.client).await.len(), 1);

    // A real change is written, as an update through the link.
    s.client
        .crm()
        .update("Products", &[Product { id: Some(id.clone()), unit_price: Some("13".parse().unwrap()), ..Product::default() }], &WriteOptions::no_triggers())
        .await
        .unwrap();
    enqueue(&s.store, id, "crm:Products:w1:3").await;
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats.done, 1);
    let all = items(&s.client).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["rate"].to_string(), "13");
    let audit = s.store.audit_for_record("books", "items", &link.books_id).await.unwrap();
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["update", "create"]);
    s.emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_record_is_dead_lettered_with_zohos_message_and_replays_once_fixed() {
    let s = setup(FaultConfig::default()).await;
    let mut products: Vec<Product> = (0..6).map(|i| product(&format!("P{i}"), &format!("SKU-{i}"), "10")).collect();
    products[3].unit_price = Some("-5".parse().unwrap()); // Books refuses a negative rate.
    let ids = insert_products(&s.client, &products).await;
    for (n, id) in ids.iter().enumerate() {
        enqueue(&s.store, id, &format!("e{n}")).await;
    }
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats.done, 5, "{stats:?}");
    assert_eq!(stats.dead, 1, "{stats:?}");

    let dead = s.store.jobs_with_status(JobStatus::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("Invalid value passed for rate"), "{error}");
    assert_eq!(dead[0].payload["id"], ids[3].as_str());
    let by = items_by_product(&items(&s.client).await);
    assert_eq!(by.len(), 5);
    assert!(!by.contains_key(&ids[3]));

    // Fix the data in CRM, replay: the item is created.
    s.client
        .crm()
        .update(
            "Products",
            &[Product { id: Some(ids[3].clone()), unit_price: Some("7.25".parse().unwrap()), ..Product::default() }],
            &WriteOptions::no_triggers(),
        )
        .await
        .unwrap();
    s.store.replay(dead[0].id, bridge::flows::now_ms()).await.unwrap();
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats.done, 1, "{stats:?}");
    let by = items_by_product(&items(&s.client).await);
    assert_eq!(by.len(), 6);
    assert_eq!(by[&ids[3]].len(), 1);
    assert_eq!(count(&s.store, JobStatus::Dead).await, 0);
    // The refused attempt is in the audit log too, with Zoho's answer.
    let item_id = &by[&ids[3]][0];
    let audit = s.store.audit_for_record("books", "items", item_id).await.unwrap();
    assert_eq!(audit.len(), 1);
    s.emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_create_responses_leave_exactly_one_item_per_product() {
    let faults = FaultConfig {
        seed: Some(7),
        rules: vec![FaultRule {
            path_prefix: "/books/v3/items".into(),
            // The flow writes items with Books' upsert (PUT /items).
            method: Some("PUT".into()),
            drop_response_rate: 0.3,
            ..FaultRule::default()
        }],
        ..FaultConfig::default()
    };
    let s = setup(faults).await;
    let products: Vec<Product> = (0..60).map(|i| product(&format!("P{i}"), &format!("D-{i}"), "3.10")).collect();
    let ids = insert_products(&s.client, &products).await;
    for (n, id) in ids.iter().enumerate() {
        enqueue(&s.store, id, &format!("e{n}")).await;
    }
    let stats = worker(&s, "w1").run_until_idle().await.unwrap();
    assert_eq!(stats.done, 60, "{stats:?}");
    assert!(stats.retried > 0, "the fault never fired: {stats:?}");
    let by = items_by_product(&items(&s.client).await);
    assert_eq!(by.len(), 60);
    let links: HashMap<String, String> = s.store.links(CONN, "product_item").await.unwrap().into_iter().map(|l| (l.crm_id, l.books_id)).collect();
    for id in &ids {
        assert_eq!(by[id].len(), 1, "product {id} has items {:?}", by[id]);
        assert_eq!(links[id], by[id][0]);
    }
    s.emulator.stop().await;
}

/// A worker that dies after Zoho committed its write but before the job's result was
/// stored: the write was journaled before it was sent, so the audit log has it (outcome
/// unknown); the job runs again after its lease runs out, finds the item by the CRM id instead
/// of creating a second one (the upsert is keyed by the CRM id), and its own write is
/// audited with Zoho's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_audited_even_when_the_worker_dies_before_storing_the_result() {
    let s = setup(FaultConfig::default()).await;
    let ids = insert_products(&s.client, &[product("Gadget", "G-1", "40.00")]).await;
    enqueue(&s.store, &ids[0], "crm:Products:g1:1").await;

    // The "dying" worker: claims with a short lease, runs the flow, never stores the result.
    let claimed = s.store.claim("doomed", bridge::flows::now_ms(), 300, 1).await.unwrap();
    let job = claimed.into_iter().next().expect("claimed");
    let settings = RunSettings {
        worker: "doomed".into(),
        connection: CONN.into(),
        max_attempts: 5,
        backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(200) },
        clock: bridge::triggers::Clock::system(),
    };
    let result = execute(&s.store, &CatalogSync::default(), &s.client, &settings, &job).await;
    assert!(matches!(result, JobResult::Finish(Finish::Done { .. })), "{result:?}");
    drop(result); // the process dies here

    let journaled = s.store.audit_for_job(job.id).await.unwrap();
    assert_eq!(journaled.len(), 1, "{journaled:#?}");
    let sent = &journaled[0];
    // An upsert: whether it created or updated is known only from Zoho's answer.
    assert_eq!((sent.action.as_str(), sent.actor.as_str(), sent.ok), ("upsert", "doomed", false));
    assert_eq!(sent.request["sku"], "G-1");
    assert_eq!(sent.response, outcome_pending(), "Zoho's answer never reached the store");
    assert_eq!((sent.job_id, sent.event_id), (Some(job.id), Some(job.event_id)));
    assert_eq!(items(&s.client).await.len(), 1, "Zoho did create the item");

    // After the lease runs out another worker takes the job over.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = worker(&s, "heir").run_until_idle().await.unwrap();
    assert_eq!(stats.done, 1, "{stats:?}");
    let all = items(&s.client).await;
    assert_eq!(all.len(), 1, "matched by the CRM id, not created twice");
    let item_id = all[0]["item_id"].as_str().unwrap();
    let audit = s.store.audit_for_job(job.id).await.unwrap();
    let shown: Vec<(&str, &str, bool)> = audit.iter().map(|a| (a.actor.as_str(), a.action.as_str(), a.ok)).collect();
    assert_eq!(shown, [("doomed", "upsert", false), ("heir", "update", true)]);
    assert_eq!(audit[1].record_id.as_deref(), Some(item_id));
    assert_eq!(audit[1].response["item_id"], item_id);
    s.emulator.stop().await;
}

/// A product deleted in CRM: its item becomes inactive (audited), the job says so, and
/// the link no longer carries the hash of the product's last mapping. A product deleted
/// before it was ever synced is skipped with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_deleted_in_crm_makes_its_item_inactive() {
    let s = setup(FaultConfig::default()).await;
    let ids = insert_products(&s.client, &[product("Doomed", "D-1", "3.00"), product("Never synced", "D-2", "4.00")]).await;
    enqueue(&s.store, &ids[0], "d1:1").await;
    assert_eq!(worker(&s, "w").run_until_idle().await.unwrap().done, 1);
    let link = s.store.link_by_crm(CONN, "product_item", &ids[0]).await.unwrap().expect("link");
    assert_eq!(items(&s.client).await[0]["status"], "active");

    let gone = s.client.crm().delete("Products", &[ids[0].as_str(), ids[1].as_str()]).await.unwrap();
    assert!(gone.iter().all(|r| r.is_success()), "{gone:?}");
    enqueue(&s.store, &ids[0], "d1:deleted").await;
    enqueue(&s.store, &ids[1], "d2:deleted").await;
    let stats = worker(&s, "w").run_until_idle().await.unwrap();
    assert_eq!((stats.done, stats.skipped), (1, 1), "{stats:?}");

    let all = items(&s.client).await;
    assert_eq!(all.len(), 1, "nothing created for the never-synced product");
    assert_eq!(all[0]["status"], "inactive");
    let audit = s.store.audit_for_record("books", "items", &link.books_id).await.unwrap();
    assert_eq!(audit.iter().map(|a| (a.action.as_str(), a.ok)).collect::<Vec<_>>(), [("mark_inactive", true), ("create", true)]);
    let after = s.store.link_by_crm(CONN, "product_item", &ids[0]).await.unwrap().expect("link kept");
    assert_eq!(after.books_id, link.books_id);
    assert_ne!(after.books_hash, link.books_hash, "a restored product is written again, not skipped as unchanged");
    let done = s.store.jobs_with_status(JobStatus::Done, 10).await.unwrap();
    assert!(done.iter().any(|j| j.outcome.as_deref().is_some_and(|o| o.contains("no longer exists in CRM: marked Books item"))), "{done:?}");
    let skipped = s.store.jobs_with_status(JobStatus::Skipped, 10).await.unwrap();
    assert!(skipped[0].outcome.as_deref().unwrap().contains("it was never synced"), "{skipped:?}");
    s.emulator.stop().await;
}

/// A result the store refuses for good (its link would tie a second CRM record to one
/// Books item) becomes a dead letter saying so, with the run's writes still audited,
/// while the other results of the batch are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_breaking_a_store_constraint_is_dead_lettered_with_its_audit() {
    let s = setup(FaultConfig::default()).await;
    // An item typed by hand in Books, already linked (by someone else) to CRM record X.
    let item = s
        .client
        .books()
        .create_item(&zoho::books::models::Item {
            name: Some("Hand made".into()),
            sku: Some("CL-1".into()),
            rate: Some("1".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    let item_id = item.item_id.unwrap();
    let x = catalog_sync::event(CONN, Source::Manual, "x-record", "x");
    s.store.add_event(&x, &[catalog_sync::job("x-record")], bridge::flows::now_ms()).await.unwrap();
    let claimed = s.store.claim("setup", bridge::flows::now_ms(), 60_000, 1).await.unwrap();
    let link = bridge::store::Link {
        connection: CONN.into(),
        relation: "product_item".into(),
        crm_id: "x-record".into(),
        books_id: item_id.clone(),
        books_hash: None,
        crm_hash: None,
        updated_ms: 0,
    };
    s.store
        .finish(claimed[0].id, "setup", &Finish::Done { outcome: "setup".into(), links: vec![link], snapshot: None, audit: vec![] }, bridge::flows::now_ms())
        .await
        .unwrap();

    // Product A has that SKU: the flow adopts the item (an update in Books), but its link
    // cannot be stored. Product B is fine.
    let ids = insert_products(&s.client, &[product("A", "CL-1", "2.00"), product("B", "CL-2", "3.00")]).await;
    enqueue(&s.store, &ids[0], "a").await;
    enqueue(&s.store, &ids[1], "b").await;
    let stats = worker(&s, "w").run_until_idle().await.unwrap();
    assert_eq!((stats.done, stats.dead), (1, 1), "{stats:?}");

    let dead = s.store.jobs_with_status(JobStatus::Dead, 10).await.unwrap();
    assert_eq!(dead[0].payload["id"], ids[0].as_str());
    let error = dead[0].last_error.clone().unwrap();
    assert!(error.contains("could not be stored") && error.contains("constraint"), "{error}");
    let audit = s.store.audit_for_job(dead[0].id).await.unwrap();
    // Books refused the upsert (the SKU is taken); the item with that SKU was adopted.
    let shown: Vec<(&str, bool)> = audit.iter().map(|a| (a.action.as_str(), a.ok)).collect();
    assert_eq!(shown, [("upsert", false), ("update", true)], "the adoption happened in Books and is audited");
    assert!(audit[0].response["message"].as_str().unwrap_or_default().contains("SKU"), "{:?}", audit[0].response);
    assert!(s.store.link_by_crm(CONN, "product_item", &ids[1]).await.unwrap().is_some(), "B's result was stored");
    s.emulator.stop().await;
}

/// A flow deciding on a transition: it reports "became inactive" only when the product's
/// `Product_Active` went from true to false since it last saw the product, using the
/// snapshot the context keeps with each result (done or skipped).
struct BecameInactive;

impl BecameInactive {
    async fn decide(&self, ctx: &mut bridge::flows::Context<'_>) -> Result<bridge::flows::Outcome, bridge::flows::FlowError> {
        let id = ctx.record().id.clone();
        let product: Value = ctx.client().crm().get("Products", &id, &["Product_Active"]).await?.expect("product");
        let now = serde_json::json!({"Product_Active": product["Product_Active"]});
        let before = ctx.previous_snapshot().await?;
        ctx.keep_snapshot(now.clone());
        let was_active = before.as_ref().and_then(|b| b["Product_Active"].as_bool());
        Ok(match (was_active, now["Product_Active"].as_bool()) {
            (Some(true), Some(false)) => bridge::flows::Outcome::Done("became inactive".into()),
            (was, is) => bridge::flows::Outcome::Skipped(format!("no transition ({was:?} -> {is:?})")),
        })
    }
}

impl Flow for BecameInactive {
    fn name(&self) -> &'static str {
        "became_inactive"
    }

    fn run<'a>(&'a self, ctx: &'a mut bridge::flows::Context<'_>) -> bridge::flows::FlowFuture<'a, bridge::flows::Outcome> {
        Box::pin(self.decide(ctx))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_decides_on_transitions_from_the_snapshot_it_kept() {
    let s = setup(FaultConfig::default()).await;
    let ids = insert_products(&s.client, &[product("Switch", "T-1", "1")]).await;
    let record = bridge::store::RecordRef::crm("Products", &ids[0]);
    let job = bridge::store::NewJob::for_record("became_inactive", &record);
    let worker = Worker::new(
        s.store.clone(),
        vec![Arc::new(BecameInactive)],
        s.client.clone(),
        WorkerConfig { poll_interval: Duration::from_millis(20), ..WorkerConfig::new("w") },
    );
    let outcomes = |store: SqliteStore| async move {
        let mut all = store.jobs_with_status(JobStatus::Done, 10).await.unwrap();
        all.extend(store.jobs_with_status(JobStatus::Skipped, 10).await.unwrap());
        all.sort_by_key(|j| j.id);
        all.into_iter().map(|j| j.outcome.unwrap_or_default()).collect::<Vec<_>>()
    };
    let event = |n: u32| catalog_sync::event(CONN, Source::Manual, &ids[0], &format!("t{n}"));
    // Seen active; seen active again; seen inactive: one transition, on the third run.
    s.store.add_event(&event(1), std::slice::from_ref(&job), bridge::flows::now_ms()).await.unwrap();
    worker.run_until_idle().await.unwrap();
    s.store.add_event(&event(2), std::slice::from_ref(&job), bridge::flows::now_ms()).await.unwrap();
    worker.run_until_idle().await.unwrap();
    s.client
        .crm()
        .update("Products", &[Product { id: Some(ids[0].clone()), active: Some(false), ..Product::default() }], &WriteOptions::no_triggers())
        .await
        .unwrap();
    s.store.add_event(&event(3), std::slice::from_ref(&job), bridge::flows::now_ms()).await.unwrap();
    worker.run_until_idle().await.unwrap();
    assert_eq!(outcomes(s.store.clone()).await, ["no transition (None -> Some(true))", "no transition (Some(true) -> Some(true))", "became inactive"]);
    assert_eq!(s.store.snapshot(CONN, "became_inactive", &record).await.unwrap(), Some(serde_json::json!({"Product_Active": false})));
    s.emulator.stop().await;
}

/// Retries are timed by the worker's one clock: a failed attempt is due again one
/// backoff after the clock's now, whatever the system time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_time_comes_from_the_engines_clock() {
    let s = setup(FaultConfig::default()).await;
    enqueue(&s.store, "no-such-product", "r1").await;
    const T: i64 = 4_000_000_000_000; // far from the system's now
    let clock = bridge::triggers::Clock::from_fn(|| T);
    let job = s.store.claim("w", T, 60_000, 1).await.unwrap().remove(0);
    let settings = RunSettings {
        worker: "w".into(),
        connection: CONN.into(),
        max_attempts: 5,
        backoff: Backoff { base: Duration::from_secs(10), max: Duration::from_secs(60) },
        clock,
    };
    // A flow whose run fails with a retryable error.
    struct Failing;
    impl Flow for Failing {
        fn name(&self) -> &'static str {
            "catalog_sync"
        }
        fn run<'a>(&'a self, _ctx: &'a mut bridge::flows::Context<'_>) -> bridge::flows::FlowFuture<'a, bridge::flows::Outcome> {
            Box::pin(async { Err(bridge::flows::FlowError::Store("the store is busy".into())) })
        }
    }
    let result = execute(&s.store, &Failing, &s.client, &settings, &job).await;
    let JobResult::Fail { failure, retry_at_ms, max_attempts } = result else { panic!("{result:?}") };
    assert!(failure.retryable && max_attempts == 5, "{failure:?}");
    assert!((T + 5_000..=T + 10_000).contains(&retry_at_ms), "due one jittered backoff (5-10 s) after the clock's now: {}", retry_at_ms - T);
    s.emulator.stop().await;
}
