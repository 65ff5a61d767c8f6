//! The world the order-to-cash proofs run in: an emulator, a client, a SQLite store and
//! the flows built from a config text as the engine builds them (with `[money]` and
//! `[tables]`), plus the CRM and Books records those proofs make (accounts, products
//! synced to items, deals with product lines) and the reads they assert on.

use std::{sync::Arc, time::Duration};

use bridge::{
    flows::{Flow, FlowsConfig},
    mapping::Tables,
    money::MoneyConfig,
    store::{JobStatus, NewEvent, NewJob, RecordRef, Source, SqliteStore, Store},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use serde_json::{Value, json};
use zoho::{BudgetConfig, BudgetRegistry, Client, Connection, crm::records::WriteOptions};
use zoho_emulator::{Emulator, EmulatorConfig};

use super::TempDir;

/// The connection the flows run under.
pub const CONN: &str = "default";

/// The parts of a config file the flows are built from.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct File {
    flows: FlowsConfig,
    money: MoneyConfig,
    tables: Tables,
}

/// An emulator, a client, a store and the flows.
pub struct World {
    /// The emulator.
    pub emulator: Emulator,
    /// A client on it.
    pub client: Client,
    /// The store.
    pub store: SqliteStore,
    /// The flows, as configured.
    pub flows: Vec<Arc<dyn Flow>>,
    events: std::sync::atomic::AtomicU64,
    _dir: TempDir,
}

impl World {
    /// A fresh world whose flows are built from `config` (TOML: `[flows.*]`, `[money]`,
    /// `[tables]`).
    pub async fn new(config: &str) -> World {
        zoho_emulator::install_crypto_provider();
        let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
        let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
        let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");
        let dir = TempDir::new("orders");
        let store = SqliteStore::open(dir.0.join("store.db")).await.expect("store");
        let mut world = World { emulator, client, store, flows: Vec::new(), events: Default::default(), _dir: dir };
        world.configure(config);
        world
    }

    /// Rebuilds the flows from `config` (as a restart with an edited file does).
    pub fn configure(&mut self, config: &str) {
        let file: File = toml::from_str(config).unwrap_or_else(|e| panic!("{e}\n{config}"));
        file.money.validate().expect("money rules");
        self.flows = file.flows.build(&file.tables, &file.money, Some(config)).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Runs the worker until the queue is empty.
    pub async fn run(&self) -> RunStats {
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(20),
            backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(100) },
            max_attempts: 2,
            batch: 8,
            ..WorkerConfig::new("w")
        };
        Worker::new(self.store.clone(), self.flows.clone(), self.client.clone(), config).run_until_idle().await.expect("worker")
    }

    /// Queues `flows` for `record` as one change event (as a webhook would), with a
    /// fresh dedup key.
    pub async fn changed(&self, record: RecordRef, flows: &[&str]) {
        self.queue(Source::CrmWebhook, record, flows).await;
    }

    /// Queues `flows` for `record` as a person's or an agent's request (a manual event,
    /// as "create the invoice now" does), with a fresh dedup key.
    pub async fn asked(&self, record: RecordRef, flows: &[&str]) {
        self.queue(Source::Manual, record, flows).await;
    }

    async fn queue(&self, source: Source, record: RecordRef, flows: &[&str]) {
        let n = self.events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event = NewEvent::for_record(source, CONN, &record, json!({"id": record.id}), format!("test-{n}-{}", record.id));
        let jobs: Vec<NewJob> = flows.iter().map(|f| NewJob::for_record(*f, &record)).collect();
        self.store.add_event(&event, &jobs, bridge::flows::now_ms()).await.expect("enqueue");
    }

    /// The dead-lettered jobs' errors.
    pub async fn dead(&self) -> Vec<(i64, String)> {
        self.store.jobs_with_status(JobStatus::Dead, 1000).await.unwrap().into_iter().map(|j| (j.id, j.last_error.unwrap_or_default())).collect()
    }

    /// Inserts a CRM record; its id.
    pub async fn crm_insert(&self, module: &str, fields: Value) -> String {
        let r = self.client.crm().insert(module, &[fields], &WriteOptions::no_triggers()).await.expect("insert");
        assert!(r[0].is_success(), "{r:?}");
        r[0].id().unwrap().to_string()
    }

    /// Updates a CRM record.
    pub async fn crm_update(&self, module: &str, id: &str, mut fields: Value) {
        fields["id"] = json!(id);
        let r = self.client.crm().update(module, &[fields], &WriteOptions::no_triggers()).await.expect("update");
        assert!(r[0].is_success(), "{r:?}");
    }

    /// A CRM product synced to a Books item by catalog_sync (its link made); its CRM id.
    pub async fn product(&self, name: &str, code: &str, price: &str) -> String {
        let id = self.crm_insert("Products", json!({"Product_Name": name, "Product_Code": code, "Unit_Price": price.parse::<f64>().unwrap()})).await;
        self.changed(RecordRef::crm("Products", &id), &["catalog_sync"]).await;
        self.run().await;
        id
    }

    /// The Books item a product was synced to.
    pub async fn item_of(&self, product: &str) -> String {
        self.store.link_by_crm(CONN, bridge::flows::relations::PRODUCT_ITEM.name, product).await.unwrap().expect("product synced").books_id
    }

    /// Relates products to a deal: `(product, quantity, list price, discount amount)`.
    pub async fn relate(&self, deal: &str, lines: &[(&str, &str, &str, &str)]) {
        let rows: Vec<Value> = lines
            .iter()
            .map(|(p, q, price, discount)| json!({"id": p, "quantity": q.parse::<f64>().unwrap(), "list_price": price.parse::<f64>().unwrap(), "Discount": discount.parse::<f64>().unwrap()}))
            .collect();
        for chunk in rows.chunks(100) {
            let r = self.client.crm().relate("Deals", deal, "Products", chunk).await.expect("relate");
            assert!(r.iter().all(|r| r.is_success()), "{r:?}");
        }
    }

    /// A Books contact (for a customer made before the account's first deal); its id.
    pub async fn books_contact(&self, body: Value) -> String {
        let contact: zoho::books::models::Contact = serde_json::from_value(body).unwrap();
        self.client.books().create_contact(&contact).await.expect("create contact").contact_id.unwrap()
    }

    /// The Books id of a currency.
    pub async fn currency_id(&self, code: &str) -> String {
        use futures_util::TryStreamExt;
        let all: Vec<zoho::books::models::Currency> = self.client.books().currencies().try_collect().await.unwrap();
        all.into_iter().find(|c| c.currency_code.as_deref() == Some(code)).and_then(|c| c.currency_id).expect("currency")
    }

    /// Every Books invoice, in full.
    pub async fn invoices(&self) -> Vec<Value> {
        use futures_util::TryStreamExt;
        let rows: Vec<Value> = self.client.books().list("/books/v3/invoices", "invoices", zoho::books::ListQuery::new()).try_collect().await.unwrap();
        let mut out = Vec::new();
        for r in rows {
            let id = r["invoice_id"].as_str().unwrap().to_string();
            out.push(serde_json::to_value(self.client.books().invoice(&id).await.unwrap()).unwrap());
        }
        out
    }

    /// Every Books credit note, in full.
    pub async fn credit_notes(&self) -> Vec<Value> {
        use futures_util::TryStreamExt;
        let rows: Vec<Value> = self.client.books().list("/books/v3/creditnotes", "creditnotes", zoho::books::ListQuery::new()).try_collect().await.unwrap();
        let mut out = Vec::new();
        for r in rows {
            let id = r["creditnote_id"].as_str().unwrap().to_string();
            out.push(serde_json::to_value(self.client.books().credit_note(&id).await.unwrap()).unwrap());
        }
        out
    }

    /// A CRM record's fields.
    pub async fn crm_get(&self, module: &str, id: &str, fields: &[&str]) -> Value {
        self.client.crm().get::<Value>(module, id, fields).await.unwrap().expect("record")
    }
}
