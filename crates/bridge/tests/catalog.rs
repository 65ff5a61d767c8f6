//! The catalogue against the emulator and a real SQLite store, with the flows built from
//! a config as the engine builds them: a product's tax reaches its item through
//! `[tables.tax]`; a CRM price book becomes a Books price list with per-item rates
//! (products not yet synced are synced first); a price change in CRM reaches the item and
//! the price list; re-running writes nothing (Books writes counted by the emulator);
//! Books' unique price-list names are adopted or refused as the flow documents.

mod common;

use common::TempDir;
use std::{sync::Arc, time::Duration};

use bridge::{
    flows::{Flow, FlowsConfig, catalog_sync, pricebook_sync},
    mapping::Tables,
    store::{JobStatus, NewEvent, NewJob, Source, SqliteStore, Store},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    books::{
        ListQuery,
        models::{Item, PriceList},
    },
    crm::records::WriteOptions,
};
use zoho_emulator::{Emulator, EmulatorConfig};

const CONN: &str = "default";

struct Setup {
    emulator: Emulator,
    client: Client,
    store: SqliteStore,
    flows: Vec<Arc<dyn Flow>>,
    /// The Books tax the config maps CRM's "Sales Tax" to.
    tax_id: String,
    _dir: TempDir,
}

async fn setup() -> Setup {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");
    let taxes: Vec<zoho::books::models::Tax> = client.books().taxes().try_collect().await.unwrap();
    let tax_id = taxes[0].tax_id.clone().unwrap();
    // The flows as the engine builds them from a config file with a tax table.
    let text = format!("[tables.tax]\n\"Sales Tax\" = \"{tax_id}\"\n");
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        flows: FlowsConfig,
        tables: Tables,
    }
    let file: File = toml::from_str(&text).unwrap();
    let flows = file.flows.build(&file.tables, &Default::default(), Some(&text)).unwrap();
    let dir = TempDir::new("catalog");
    let store = SqliteStore::open(dir.0.join("store.db")).await.expect("store");
    Setup { emulator, client, store, flows, tax_id, _dir: dir }
}

impl Setup {
    async fn run(&self) -> RunStats {
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(20),
            backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(200) },
            max_attempts: 2,
            ..WorkerConfig::new("w")
        };
        Worker::new(self.store.clone(), self.flows.clone(), self.client.clone(), config).run_until_idle().await.unwrap()
    }

    async fn enqueue(&self, event: NewEvent, job: NewJob) {
        self.store.add_event(&event, &[job], bridge::flows::now_ms()).await.unwrap();
    }

    async fn product_changed(&self, id: &str, dedup: &str) {
        self.enqueue(catalog_sync::event(CONN, Source::Manual, id, dedup), catalog_sync::job(id)).await;
    }

    async fn book_changed(&self, id: &str, dedup: &str) {
        self.enqueue(pricebook_sync::event(CONN, Source::Manual, id, dedup), pricebook_sync::job(id)).await;
    }

    async fn insert(&self, module: &str, records: &[Value]) -> Vec<String> {
        let results = self.client.crm().insert(module, records, &WriteOptions::no_triggers()).await.unwrap();
        results
            .iter()
            .map(|r| {
                assert!(r.is_success(), "{r:?}");
                r.id().unwrap().to_string()
            })
            .collect()
    }

    async fn update(&self, module: &str, record: Value) {
        let results = self.client.crm().update(module, &[record], &WriteOptions::no_triggers()).await.unwrap();
        assert!(results[0].is_success(), "{results:?}");
    }

    /// Relates products to a price book with their list prices (`None`: no price of its own).
    async fn relate(&self, book: &str, products: &[(&str, Option<f64>)]) {
        let rows: Vec<Value> = products.iter().map(|(id, price)| json!({"id": id, "list_price": price})).collect();
        let results = self.client.crm().relate("Price_Books", book, "Products", &rows).await.unwrap();
        assert!(results.iter().all(|r| r.is_success()), "{results:?}");
    }

    async fn item_of(&self, product: &str) -> Item {
        let link = self.store.link_by_crm(CONN, "product_item", product).await.unwrap().expect("product_item link");
        self.client.books().item(&link.books_id).await.unwrap()
    }

    async fn list_of(&self, book: &str) -> PriceList {
        let link = self.store.link_by_crm(CONN, "pricebook_pricelist", book).await.unwrap().expect("pricebook_pricelist link");
        self.client.books().pricelist(&link.books_id).await.unwrap()
    }

    /// Books calls other than reads the engine made so far (the emulator counts them).
    async fn books_writes(&self) -> u64 {
        let stats: Value = reqwest::get(format!("{}/__emulator/stats", self.emulator.url())).await.unwrap().json().await.unwrap();
        stats["stats"].as_array().unwrap().iter().filter(|r| r["api"] == "books" && r["method"] != "GET").map(|r| r["calls"].as_u64().unwrap()).sum()
    }

    async fn dead(&self) -> Vec<String> {
        self.store.jobs_with_status(JobStatus::Dead, 10).await.unwrap().into_iter().map(|j| j.last_error.unwrap_or_default()).collect()
    }
}

/// Rates of a price list by item id.
fn rates(list: &PriceList) -> Vec<(String, Decimal)> {
    let mut rates: Vec<(String, Decimal)> = list.pricebook_items.iter().map(|l| (l.item_id.clone().unwrap(), l.pricebook_rate.unwrap())).collect();
    rates.sort();
    rates
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_products_tax_and_unit_reach_its_item_and_an_unmapped_tax_is_dead_lettered() {
    let s = setup().await;
    let ids = s
        .insert(
            "Products",
            &[
                json!({"Product_Name": "Taxed", "Product_Code": "T-1", "Unit_Price": 10, "Tax": ["Sales Tax"], "Taxable": true, "Usage_Unit": "Box"}),
                json!({"Product_Name": "Exempt", "Product_Code": "T-2", "Unit_Price": 10, "Tax": ["Sales Tax"], "Taxable": false, "Usage_Unit": "-None-"}),
                json!({"Product_Name": "Foreign", "Product_Code": "T-3", "Unit_Price": 10, "Tax": ["GST"], "Taxable": true}),
            ],
        )
        .await;
    for (n, id) in ids.iter().enumerate() {
        s.product_changed(id, &format!("p{n}")).await;
    }
    let stats = s.run().await;
    assert_eq!((stats.done, stats.dead), (2, 1), "{stats:?}");
    let taxed = s.item_of(&ids[0]).await;
    assert_eq!((taxed.tax_id.as_deref(), taxed.unit.as_deref()), (Some(s.tax_id.as_str()), Some("Box")));
    let exempt = s.item_of(&ids[1]).await;
    assert_eq!((exempt.tax_id.as_deref(), exempt.unit.as_deref()), (Some(""), Some("")));
    let dead = s.dead().await;
    assert!(dead[0].contains("\"GST\"") && dead[0].contains("[tables.tax]"), "the dead letter names the tax and the table: {dead:?}");
    assert!(s.store.link_by_crm(CONN, "product_item", &ids[2]).await.unwrap().is_none(), "no item without its tax");
    s.emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_book_becomes_a_price_list_and_price_changes_reach_the_item_and_the_list() {
    let s = setup().await;
    let p = s
        .insert(
            "Products",
            &[
                json!({"Product_Name": "Synced", "Product_Code": "S-1", "Unit_Price": 10}),
                json!({"Product_Name": "Not yet synced", "Product_Code": "S-2", "Unit_Price": 20}),
            ],
        )
        .await;
    s.product_changed(&p[0], "p0").await;
    assert_eq!(s.run().await.done, 1);
    let book =
        s.insert("Price_Books", &[json!({"Price_Book_Name": "Wholesale", "Active": true, "Pricing_Model": "Flat", "Description": "trade"})]).await.remove(0);
    // The synced product has a price of its own in the book; the other takes its unit price.
    s.relate(&book, &[(&p[0], Some(8.5)), (&p[1], None)]).await;
    s.book_changed(&book, "b0").await;
    let stats = s.run().await;
    assert_eq!(stats.done, 1, "{stats:?} {:?}", s.dead().await);

    let (item0, item1) = (s.item_of(&p[0]).await, s.item_of(&p[1]).await);
    let (id0, id1) = (item0.item_id.unwrap(), item1.item_id.unwrap());
    assert_eq!(item1.name.as_deref(), Some("Not yet synced"), "the unsynced product was synced first");
    let list = s.list_of(&book).await;
    assert_eq!((list.name.as_deref(), list.description.as_deref(), list.status.as_deref()), (Some("Wholesale"), Some("trade"), Some("active")));
    assert_eq!(list.pricebook_type.as_deref(), Some("per_item"));
    let mut want = vec![(id0.clone(), dec("8.5")), (id1.clone(), dec("20"))];
    want.sort();
    assert_eq!(rates(&list), want);

    // Re-running both flows with nothing changed writes nothing to Books.
    let before = s.books_writes().await;
    s.book_changed(&book, "b1").await;
    s.product_changed(&p[0], "p1").await;
    s.product_changed(&p[1], "p2").await;
    let stats = s.run().await;
    assert_eq!((stats.skipped, stats.done), (3, 0), "{stats:?}");
    assert_eq!(s.books_writes().await, before, "no Books write when nothing changed");

    // The unit price of the product without a price of its own changes in CRM: one job
    // updates its item and the price list.
    s.update("Products", json!({"id": p[1], "Unit_Price": 22.4})).await;
    s.product_changed(&p[1], "p3").await;
    let stats = s.run().await;
    assert_eq!(stats.done, 1, "{stats:?}");
    assert_eq!(s.item_of(&p[1]).await.rate, Some(dec("22.4")));
    let mut want = vec![(id0.clone(), dec("8.5")), (id1.clone(), dec("22.4"))];
    want.sort();
    assert_eq!(rates(&s.list_of(&book).await), want, "the list follows the unit price");
    let done = s.store.jobs_with_status(JobStatus::Done, 20).await.unwrap();
    assert!(done.iter().any(|j| j.outcome.as_deref().is_some_and(|o| o.contains("price lists: Price_Books"))), "{done:?}");

    // The synced product's unit price changes too: its item follows, the list keeps the
    // book's own price for it (nothing written to the list).
    s.update("Products", json!({"id": p[0], "Unit_Price": 11})).await;
    s.product_changed(&p[0], "p4").await;
    let before = s.books_writes().await;
    assert_eq!(s.run().await.done, 1);
    assert_eq!(s.books_writes().await, before + 1, "the item update only");
    assert_eq!(s.item_of(&p[0]).await.rate, Some(dec("11")));
    assert_eq!(rates(&s.list_of(&book).await), want);

    // The book's own price for a product changes: the list follows.
    s.relate(&book, &[(&p[0], Some(7.75))]).await;
    s.book_changed(&book, "b2").await;
    assert_eq!(s.run().await.done, 1);
    let mut want = vec![(id0, dec("7.75")), (id1, dec("22.4"))];
    want.sort();
    assert_eq!(rates(&s.list_of(&book).await), want);

    // The book made inactive in CRM: the list too.
    s.update("Price_Books", json!({"id": book, "Active": false})).await;
    s.book_changed(&book, "b3").await;
    assert_eq!(s.run().await.done, 1);
    assert_eq!(s.list_of(&book).await.status.as_deref(), Some("inactive"));
    assert!(s.dead().await.is_empty());
    s.emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_price_list_name_is_adopted_when_unlinked_and_refused_when_linked() {
    let s = setup().await;
    // A list typed by hand in Books, with the name of a CRM price book.
    let by_hand = PriceList {
        name: Some("Partner".into()),
        pricebook_type: Some("fixed_percentage".into()),
        sales_or_purchase_type: Some("sales".into()),
        percentage: Some(dec("5")),
        ..PriceList::default()
    };
    let by_hand = s.client.books().create_pricelist(&by_hand).await.unwrap().pricebook_id.unwrap();
    let p = s.insert("Products", &[json!({"Product_Name": "Widget", "Product_Code": "W-1", "Unit_Price": 4})]).await.remove(0);
    let book = s.insert("Price_Books", &[json!({"Price_Book_Name": "Partner", "Active": true})]).await.remove(0);
    s.relate(&book, &[(&p, Some(3.0))]).await;
    s.book_changed(&book, "b0").await;
    assert_eq!(s.run().await.done, 1, "{:?}", s.dead().await);
    let list = s.list_of(&book).await;
    assert_eq!(list.pricebook_id.as_deref(), Some(by_hand.as_str()), "the unlinked list of that name was adopted");
    assert_eq!((list.pricebook_type.as_deref(), list.pricebook_items.len()), (Some("per_item"), 1));

    // The book is renamed in CRM, but a new book takes its old name before its own job
    // runs: Books still has "Partner", linked to the first book, so the new one is
    // dead-lettered with Zoho's message...
    s.update("Price_Books", json!({"id": book, "Price_Book_Name": "Partner (old)"})).await;
    let newer = s.insert("Price_Books", &[json!({"Price_Book_Name": "Partner", "Active": true})]).await.remove(0);
    s.book_changed(&newer, "n0").await;
    let stats = s.run().await;
    assert_eq!(stats.dead, 1, "{stats:?}");
    let dead = s.store.jobs_with_status(JobStatus::Dead, 10).await.unwrap();
    let error = dead[0].last_error.clone().unwrap();
    assert!(error.contains("1001") && error.contains("already exists"), "{error}");
    assert_eq!(s.client.books().pricelists(ListQuery::new()).try_collect::<Vec<_>>().await.unwrap().len(), 1);
    // ...and replayed once the first book's rename has reached Books, it gets a list of its own.
    s.book_changed(&book, "b1").await;
    assert_eq!(s.run().await.done, 1);
    s.store.replay(dead[0].id, bridge::flows::now_ms()).await.unwrap();
    assert_eq!(s.run().await.done, 1);
    let (old, new) = (s.list_of(&book).await, s.list_of(&newer).await);
    assert_eq!((old.name.as_deref(), new.name.as_deref()), (Some("Partner (old)"), Some("Partner")));
    assert_ne!(old.pricebook_id, new.pricebook_id);
    s.emulator.stop().await;
}
