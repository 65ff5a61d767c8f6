//! A flow that makes two writes, killed between them again and again: the proof that a
//! run resumed by another attempt duplicates neither write, on any store.
//!
//! The flow is written here, outside the engine, with nothing but the public flow context
//! (as every later flow will be): for a CRM product it creates a Books item (relation
//! `product_item`, natural key the SKU) and then a Books customer named after it (a test
//! relation, natural key the contact name). Each write is preceded by the link and then
//! the natural-key check. "Killed" is the run's future dropped at an arbitrary instant
//! (before, during or after either call): the process's death as the store and Zoho see
//! it, since nothing of the run is stored but its journaled audit entries and its lease.

use std::time::Duration;

use bridge::{
    flows::{Context, Flow, FlowError, FlowFuture, Outcome, RunSettings, Write, Wrote, execute, relations::Relation},
    hash::content_hash,
    store::{JobStatus, NewEvent, NewJob, RecordRef, Source, Store, System},
    triggers::Clock,
    worker::{Backoff, Worker, WorkerConfig},
};
use futures_util::{FutureExt, TryStreamExt};
use serde_json::{Value, json};
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    books::{
        ListQuery,
        models::{Contact, Item},
    },
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule};

const ITEM: Relation = bridge::flows::relations::PRODUCT_ITEM;
const BUYER: Relation = Relation { name: "test_product_buyer", crm_module: "Products", books_entity: "contacts" };
const NAME: &str = "two_writes";
const PRODUCTS: usize = 20;
const LEASE_MS: i64 = 300;

/// CRM product → a Books item, then a Books customer "Buyer of <SKU>".
struct TwoWrites;

impl TwoWrites {
    async fn item(&self, ctx: &mut Context<'_>, product_id: &str, sku: &str, name: &str) -> Result<String, FlowError> {
        if let Some(link) = ctx.link_by_crm(&ITEM, product_id).await? {
            return Ok(link.books_id);
        }
        let books = ctx.client().books();
        let found: Vec<Value> = books.list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await?;
        if let Some(item) = found.first() {
            return Ok(item["item_id"].as_str().unwrap_or_default().to_string());
        }
        let item = Item { name: Some(name.into()), sku: Some(sku.into()), rate: Some("1".parse().unwrap()), ..Item::default() };
        let request = serde_json::to_value(&item).unwrap();
        let write = Write { system: System::Books, module: "items", action: "create", record_id: None, request: &request };
        let created = ctx.write(write, books.create_item(&item), |i: &Item| i.item_id.clone()).await?;
        Ok(created.item_id.unwrap_or_default())
    }

    async fn buyer(&self, ctx: &mut Context<'_>, product_id: &str, sku: &str) -> Result<String, FlowError> {
        if let Some(link) = ctx.link_by_crm(&BUYER, product_id).await? {
            return Ok(link.books_id);
        }
        let contact_name = format!("Buyer of {sku}");
        let books = ctx.client().books();
        let found: Vec<Contact> = books.contacts(ListQuery::new().param("contact_name", &contact_name)).try_collect().await?;
        if let Some(contact) = found.into_iter().find(|c| c.contact_name.as_deref() == Some(contact_name.as_str())) {
            return Ok(contact.contact_id.unwrap_or_default());
        }
        let contact = Contact { contact_name: Some(contact_name), contact_type: Some("customer".into()), ..Contact::default() };
        let request = serde_json::to_value(&contact).unwrap();
        let write = Write { system: System::Books, module: "contacts", action: "create", record_id: None, request: &request };
        let created = ctx.write(write, books.create_contact(&contact), |c: &Contact| c.contact_id.clone()).await?;
        Ok(created.contact_id.unwrap_or_default())
    }

    async fn sync(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let product_id = ctx.record().id.clone();
        let product: Option<Value> = ctx.client().crm().get("Products", &product_id, &["Product_Name", "Product_Code"]).await?;
        let product = product.ok_or_else(|| FlowError::Data("gone".into()))?;
        let sku = product["Product_Code"].as_str().unwrap_or_default().to_string();
        let name = product["Product_Name"].as_str().unwrap_or_default().to_string();
        let item = self.item(ctx, &product_id, &sku, &name).await?;
        ctx.link(&ITEM, &product_id, &item, Wrote::Books(content_hash(&json!({"item": sku}))));
        let buyer = self.buyer(ctx, &product_id, &sku).await?;
        ctx.link(&BUYER, &product_id, &buyer, Wrote::Books(content_hash(&json!({"buyer": sku}))));
        Ok(Outcome::Done(format!("item {item}, buyer {buyer}")))
    }
}

impl Flow for TwoWrites {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.sync(ctx).boxed()
    }
}

/// 20 runs of the two-write flow are killed at instants spread over a whole run (before,
/// between and after its writes); another worker then finishes every job: exactly one item
/// and one customer per product, both linked, nothing lost.
pub async fn a_two_write_flow_killed_between_its_writes_duplicates_nothing<S: Store>(store: S) {
    zoho_emulator::install_crypto_provider();
    let mut config = EmulatorConfig::unlimited();
    // Every Books call takes 40 ms, so a run (a quick CRM read, then four Books calls)
    // spans ~160 ms of kill points, half of them inside a write.
    let rule = FaultRule { path_prefix: "/books".into(), latency_ms: 40, ..FaultRule::default() };
    config.faults = FaultConfig { rules: vec![rule], ..FaultConfig::default() };
    let emulator = Emulator::start(config, 0).await.expect("emulator");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");

    let products: Vec<Product> = (0..PRODUCTS)
        .map(|i| Product {
            product_name: Some(format!("Kill {i}")),
            product_code: Some(format!("KILL-{i}")),
            unit_price: Some("1".parse().unwrap()),
            ..Product::default()
        })
        .collect();
    let inserted = client.crm().insert("Products", &products, &WriteOptions::no_triggers()).await.expect("insert");
    let ids: Vec<String> = inserted.iter().map(|r| r.id().expect("id").to_string()).collect();
    let clock = Clock::system();
    for id in &ids {
        let record = RecordRef::crm("Products", id);
        let event = NewEvent {
            source: Source::Manual,
            connection: "default".into(),
            system: "crm".into(),
            module: "Products".into(),
            record_id: id.clone(),
            modified_ms: None,
            payload: json!({}),
            dedup_key: format!("kill:{id}"),
        };
        store.add_event(&event, &[NewJob::for_record(NAME, &record)], clock.now_ms()).await.expect("add_event");
    }

    // Kill 20 runs. Every other kill comes after a delay spread over 0..200 ms (anywhere
    // in a run); the others come a little after the run's first write was journaled
    // (0..80 ms: during the item's create, or between it and the customer's), so that
    // kills land between the writes however slow the machine is. Each attempt runs as a
    // worker of its own, so the audit says which attempt made which write.
    let (mut kills, mut k) = (0, 0u64);
    while kills < 20 {
        let worker = format!("doomed-{k}");
        let Some(job) = store.claim(&worker, clock.now_ms(), LEASE_MS, 1).await.expect("claim").pop() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        k += 1;
        let settings = RunSettings {
            worker: worker.clone(),
            connection: "default".into(),
            max_attempts: 100,
            backoff: Backoff { base: Duration::from_millis(10), max: Duration::from_millis(50) },
            clock: clock.clone(),
        };
        let run = execute(&store, &TwoWrites, &client, &settings, &job);
        tokio::pin!(run);
        let deadline = tokio::time::Instant::now() + Duration::from_millis((k * 37) % 200);
        let after_first_write = k % 2 == 1;
        let mut kill_at = (!after_first_write).then_some(deadline);
        let result = loop {
            let tick = tokio::time::sleep(Duration::from_millis(5));
            tokio::select! {
                result = &mut run => break Some(result),
                _ = tokio::time::sleep_until(kill_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))), if kill_at.is_some() => break None,
                _ = tick, if kill_at.is_none() => {
                    let journaled = store.audit_for_job(job.id).await.expect("audit");
                    if journaled.iter().any(|a| a.actor == worker) {
                        kill_at = Some(tokio::time::Instant::now() + Duration::from_millis((k * 29) % 80));
                    }
                }
            }
        };
        match result {
            None => kills += 1,
            Some(result) => {
                store.record_one(&worker, job.id, result, clock.now_ms()).await.expect("record");
            }
        }
    }

    // An heir finishes everything once the dead runs' leases have run out.
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        lease_ms: LEASE_MS,
        backoff: Backoff { base: Duration::from_millis(10), max: Duration::from_millis(50) },
        ..WorkerConfig::new("heir")
    };
    let heir = Worker::new(store.clone(), vec![std::sync::Arc::new(TwoWrites) as std::sync::Arc<dyn Flow>], client.clone(), config);
    tokio::time::timeout(Duration::from_secs(60), heir.run_until_idle()).await.expect("the heir finishes").expect("run");

    let counts = store.job_counts().await.expect("counts");
    assert_eq!(counts, vec![(JobStatus::Done, PRODUCTS as i64)], "every job done: {counts:?}");
    // The kills landed everywhere: some during a write (journaled, never answered), and
    // some between the two writes (the item written by one attempt, the customer by a
    // later one).
    let (mut unanswered, mut split) = (0, 0);
    for job in store.jobs_with_status(JobStatus::Done, 100).await.expect("jobs") {
        let audit = store.audit_for_job(job.id).await.expect("audit");
        unanswered += audit.iter().filter(|a| a.response == bridge::flows::outcome_pending()).count();
        let item_by = audit.iter().find(|a| a.module == "items").map(|a| a.actor.clone());
        let buyer_by = audit.iter().find(|a| a.module == "contacts" && a.ok).map(|a| a.actor.clone());
        if item_by.is_some() && buyer_by.is_some() && item_by != buyer_by {
            split += 1;
        }
    }
    assert!(unanswered > 0, "no kill landed during a write");
    assert!(split > 0, "no kill landed between the two writes");
    let items: Vec<Value> = client.books().list("/books/v3/items", "items", ListQuery::new()).try_collect().await.expect("items");
    let contacts: Vec<Contact> = client.books().contacts(ListQuery::new()).try_collect().await.expect("contacts");
    for (i, id) in ids.iter().enumerate() {
        let sku = format!("KILL-{i}");
        let its: Vec<&Value> = items.iter().filter(|it| it["sku"] == sku.as_str()).collect();
        assert_eq!(its.len(), 1, "one item for {sku}: {its:?}");
        let buyers: Vec<&Contact> = contacts.iter().filter(|c| c.contact_name.as_deref() == Some(&*format!("Buyer of {sku}"))).collect();
        assert_eq!(buyers.len(), 1, "one customer for {sku}");
        let item_link = store.link_by_crm("default", ITEM.name, id).await.expect("link").expect("item linked");
        let buyer_link = store.link_by_crm("default", BUYER.name, id).await.expect("link").expect("buyer linked");
        assert_eq!(item_link.books_id, its[0]["item_id"].as_str().unwrap());
        assert_eq!(Some(buyer_link.books_id.as_str()), buyers[0].contact_id.as_deref());
    }
    emulator.stop().await;
}
