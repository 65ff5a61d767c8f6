//! `zoho-bridge check --online` and `zoho-bridge preview` as a user runs them: the
//! binary, a config file, the emulator.
//!
//! `check --online` reports a mapping that reads a CRM field the module does not have
//! and a flow key field missing in Books (with how to create it), and exits non-zero;
//! on a sound file it says ok. `preview` prints what a run would do for a linked and for
//! an unlinked product, and changes nothing: neither the emulator's CRM and Books data
//! nor the store.

mod support;

use std::{path::PathBuf, process::Command, time::Duration};

use bridge::{
    flows::catalog_sync,
    store::{JobStatus, Source, SqliteStore, Store, StoreTokenCache},
    worker::{Worker, WorkerConfig},
};
use serde_json::Value;
use zoho::{
    BudgetConfig, BudgetRegistry, Client, Connection,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig};

use support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

fn config(dir: &TempDir, emulator: &Emulator, flows: &str) -> PathBuf {
    let path = dir.0.join("zoho-bridge.toml");
    let text = format!("store = \"{}\"\n\n[zoho]\nemulator = \"{}\"\n\n{flows}", dir.0.join("bridge.db").display(), emulator.url());
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env("RUST_LOG", "warn").output().expect("run zoho-bridge");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_reports_missing_crm_fields_and_books_custom_fields() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("online");
    let bad = config(
        &dir,
        &emulator,
        "[flows.catalog_sync]\ncrm_id_field = \"cf_crm_prod_id\"\n[flows.catalog_sync.map]\nname = 'text(source.Prodct_Name) ?? \"?\"'\n",
    );
    let path = bad.display().to_string();
    let (code, _, offline) = run(&["check", "--config", &path]);
    assert_eq!(code, 0, "offline the file is sound: {offline}");
    let (code, _, err) = run(&["check", "--config", &path, "--online"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("flows.catalog_sync: reads source.Prodct_Name, but CRM Products has no such field (did you mean source.Product_Name?)"), "{err}");
    assert!(err.contains("flows.catalog_sync.crm_id_field: Books items has no custom field cf_crm_prod_id marked unique"), "{err}");
    assert!(err.contains("New Custom Field") && err.contains("Do not allow duplicate values"), "says how to create it: {err}");
    // No routes yet: every flow is checked, payment_to_crm's CRM fields too (the
    // emulator's CRM, like a fresh one, lacks them).
    assert!(err.contains("flows.payment_to_crm.deal.balance_due: CRM Deals has no field Balance_Due"), "{err}");
    assert!(err.contains("6 problem(s)"), "{err}");

    // With routes, only the flows they start.
    let routed = "[[routes]]\nsystem = \"crm\"\nmodule = \"Products\"\nflows = [\"catalog_sync\"]\n";
    let good = config(&dir, &emulator, routed);
    let (code, out, err) = run(&["check", "--config", &good.display().to_string(), "--online"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok (online: the fields of catalog_sync exist in Zoho)"), "{out}");
    emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_says_what_a_run_would_do_and_changes_nothing() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("preview");
    let path = config(&dir, &emulator, "[flows.catalog_sync.map]\nname = 'upper(source.Product_Name)'\n").display().to_string();

    // Product A is synced (linked); product B is new, and its price changed since.
    let store = SqliteStore::open(dir.0.join("bridge.db")).await.expect("store");
    let connection = Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection)
        .budget(BudgetConfig::unlimited())
        .budget_registry(BudgetRegistry::new())
        .token_cache(std::sync::Arc::new(StoreTokenCache(store.clone())))
        .build()
        .expect("client");
    let product = |name: &str, sku: &str| Product {
        product_name: Some(name.into()),
        product_code: Some(sku.into()),
        unit_price: Some("4".parse().unwrap()),
        ..Product::default()
    };
    let inserted = client.crm().insert("Products", &[product("Alpha", "PV-A"), product("Beta", "PV-B")], &WriteOptions::no_triggers()).await.expect("insert");
    let (a, b) = (inserted[0].id().unwrap().to_string(), inserted[1].id().unwrap().to_string());
    store.add_event(&catalog_sync::event("default", Source::Manual, &a, "a"), &[catalog_sync::job(&a)], bridge::flows::now_ms()).await.unwrap();
    let worker =
        Worker::new(store.clone(), bridge::flows::all(), client.clone(), WorkerConfig { poll_interval: Duration::from_millis(20), ..WorkerConfig::new("w") });
    assert_eq!(worker.run_until_idle().await.unwrap().done, 1);
    let item_a = store.link_by_crm("default", "product_item", &a).await.unwrap().expect("A is linked").books_id;
    let changed = Product { id: Some(a.clone()), unit_price: Some("5".parse().unwrap()), ..Product::default() };
    client.crm().update("Products", &[changed], &WriteOptions::no_triggers()).await.unwrap();

    let http = reqwest::Client::new();
    let data = || async {
        let state: Value = http.get(format!("{}/__emulator/state", emulator.url())).send().await.unwrap().json().await.unwrap();
        (state["crm"].clone(), state["books"].clone())
    };
    let stored = || async {
        (
            store.job_counts().await.unwrap(),
            store.links("default", "product_item").await.unwrap(),
            store.audit_for_job(1).await.unwrap(),
            store.jobs_with_status(JobStatus::Done, 10).await.unwrap(),
        )
    };
    let (emulator_before, store_before) = (data().await, stored().await);

    let (code, out, err) = run(&["preview", "--config", &path, "catalog_sync", &a]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(shown["source"]["Product_Name"], "Alpha");
    assert_eq!(shown["payload"]["name"], "ALPHA", "the configured mapping");
    assert_eq!(shown["payload"]["rate"], 5);
    let notes = shown["notes"].to_string();
    assert!(notes.contains(&format!("linked (product_item) to Books item {item_a}")), "{notes}");
    assert_eq!((shown["would_write"]["action"].as_str(), shown["would_write"]["module"].as_str()), (Some("upsert"), Some("items")));

    let (code, out, err) = run(&["preview", "--config", &path, "catalog_sync", &b]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert!(shown["notes"].to_string().contains("no link and no item with its SKU: the upsert creates the item"), "{shown}");
    assert_eq!(shown["would_write"]["request"]["sku"], "PV-B");

    let (code, _, err) = run(&["preview", "--config", &path, "catalog_synk", &b]);
    assert_ne!(code, 0);
    assert!(err.contains("no flow named \"catalog_synk\""), "{err}");

    assert!(data().await == emulator_before, "the preview changed the emulator's CRM or Books data");
    assert!(stored().await == store_before, "the preview changed the store");
    store.close().await;
    emulator.stop().await;
}
