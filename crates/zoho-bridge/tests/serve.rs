//! `zoho-bridge serve` as a user runs it: the binary, a config file, the emulator.
//!
//! A product announced by a CRM workflow webhook becomes a Books item; a product nobody
//! announced is found by the poller and becomes one too; an unauthenticated webhook is
//! refused; work finished longer ago than `[retention] days` is pruned; SIGTERM stops
//! it cleanly; a bad config file fails at load naming the file, line and field; a
//! mapping in the file changes the item's name format.

mod support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use bridge::store::Store;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use zoho::{
    Client,
    books::ListQuery,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig};

use support::{Serving, TempDir, zoho_client};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

async fn item_with_sku(client: &Client, sku: &str) -> Option<Value> {
    let items: Vec<Value> = client.books().list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await.ok()?;
    items.into_iter().next()
}

/// Waits up to 30 s for the item with `sku` to exist in Books.
async fn wait_for_item(client: &Client, sku: &str) -> Value {
    let start = Instant::now();
    loop {
        if let Some(item) = item_with_sku(client, sku).await {
            return item;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no Books item with SKU {sku} after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn insert_product(client: &Client, name: &str, sku: &str) -> String {
    let product = Product { product_name: Some(name.into()), product_code: Some(sku.into()), unit_price: Some("9.90".parse().unwrap()), ..Product::default() };
    let r = client.crm().insert("Products", &[product], &WriteOptions::no_triggers()).await.expect("insert");
    r[0].id().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_webhooks_poller_and_worker_from_one_config_file() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let client = zoho_client(&emulator).await;
    let dir = TempDir::new("run");
    let config = dir.0.join("zoho-bridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"store = "{store}"
listen = "127.0.0.1:0"

[zoho]
emulator = "{emulator}"

[worker]
poll_ms = 50

[webhooks]
crm_workflow_secret = "wf-secret"

[poller]
interval_secs = 1

[[poller.streams]]
system = "crm"
module = "Products"

[[routes]]
system = "crm"
module = "Products"
flows = ["catalog_sync"]

[retention]
days = 2

# A user's mapping: only the item name format changes; the other fields keep the
# shipped mapping.
[flows.catalog_sync.map]
name = 'text(source.Product_Name) + " (" + source.Product_Code + ")"'
"#,
            store = dir.0.join("bridge.db").display(),
            emulator = emulator.url(),
        ),
    )
    .unwrap();
    // Work finished three days ago, for `[retention] days = 2` to prune.
    let old_job = {
        let store = bridge::store::AnyStore::connect(&dir.0.join("bridge.db").display().to_string()).await.expect("store");
        let three_days_ago = bridge::flows::now_ms() - 3 * 86_400_000;
        let event = bridge::flows::catalog_sync::event("default", bridge::store::Source::Poller, "1", "old-change");
        store.add_event(&event, &[bridge::flows::catalog_sync::job("1")], three_days_ago).await.expect("add_event");
        let job = store.claim("old", three_days_ago, 60_000, 1).await.expect("claim").remove(0);
        let skipped = bridge::store::JobResult::Finish(bridge::store::Finish::Skipped { reason: "unchanged".into(), snapshot: None });
        store.record("old", &[(job.id, skipped)], three_days_ago).await.expect("record");
        store.close().await;
        job.id
    };

    let serving = Serving::start(&config, "warn");
    let base = serving.base.clone();
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/healthz")).send().await.expect("healthz").status(), 200);

    // Announced by a workflow webhook.
    let announced = insert_product(&client, "Announced", "SRV-1").await;
    let hook = format!("{base}/hooks/crm/workflow");
    let body = json!({"module": "Products", "id": announced});
    let refused = http.post(&hook).json(&body).send().await.expect("post");
    assert_eq!(refused.status(), 401, "no secret, no entry");
    let accepted = http.post(&hook).header("X-Zoho-Bridge-Secret", "wf-secret").json(&body).send().await.expect("post");
    assert!(accepted.status().is_success(), "{}", accepted.status());
    let item = wait_for_item(&client, "SRV-1").await;
    assert_eq!(item["name"], "Announced (SRV-1)", "the configured name format");
    assert_eq!(item["rate"].to_string(), "9.9", "the shipped mapping of the other fields");

    // Announced by nobody: the poller finds it.
    insert_product(&client, "Silent", "SRV-2").await;
    let item = wait_for_item(&client, "SRV-2").await;
    assert_eq!(item["name"], "Silent (SRV-2)");

    // SIGTERM: a clean stop, with the summary line.
    let (status, rest) = serving.stop();
    assert!(status.success(), "{status:?}");
    assert!(rest.contains("zoho-bridge stopped: ") && rest.contains(" done, ") && rest.contains("jobs in the store: done "), "{rest}");
    assert!(!rest.contains("RunStats") && !rest.contains("[("), "no Rust debug formatting: {rest}");
    // One item per product, whichever trigger saw it first.
    for sku in ["SRV-1", "SRV-2"] {
        let items: Vec<Value> = client.books().list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await.expect("items");
        assert_eq!(items.len(), 1, "{sku}: {items:?}");
    }
    // The webhook's event is in the inbox as such.
    let store = bridge::store::AnyStore::connect(&dir.0.join("bridge.db").display().to_string()).await.expect("store");
    let events = store.events_for_record("crm", "Products", &announced, 10).await.expect("events");
    assert!(events.iter().any(|e| e.event.source == bridge::store::Source::CrmWebhook), "{events:#?}");
    // The work finished three days ago was pruned; today's stays.
    assert_eq!(store.job(old_job).await.expect("job"), None, "pruned by [retention]");
    assert!(!store.events_for_record("crm", "Products", &announced, 10).await.expect("events").is_empty());
    store.close().await;
    emulator.stop().await;
}

#[test]
fn a_bad_config_fails_at_load_with_file_line_and_field() {
    let dir = TempDir::new("bad");
    let config = dir.0.join("bad.toml");
    std::fs::write(&config, "[zoho]\nemulator = \"http://127.0.0.1:1\"\n\n[worker]\nconcurrency = \"lots\"\n").unwrap();
    let out = Command::new(BIN).args(["serve", "--config"]).arg(&config).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:5:15: worker.concurrency: invalid type", config.display());
    assert!(stderr.contains(&want), "{stderr}");

    std::fs::write(&config, "[zoho]\nemulator = \"http://127.0.0.1:1\"\n[[routes]]\nsystem = \"crm\"\nmodule = \"Deals\"\nflows = [\"deal_to_invoise\"]\n")
        .unwrap();
    let out = Command::new(BIN).args(["serve", "--config"]).arg(&config).arg("--check-config").output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":6:10: routes[0].flows[0]: no flow named \"deal_to_invoise\""), "{stderr}");

    let out = Command::new(BIN).args(["serve", "--config"]).arg(dir.0.join("missing.toml")).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

/// A script that reads serve's first line and closes the pipe does not stop the engine:
/// serve's later lines (the dashboard's, the stop line) go nowhere, it keeps answering,
/// and it stops cleanly (`println!` would have panicked on the closed pipe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_outlives_a_closed_stdout() {
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("serve-stdout");
    let db = dir.0.join("bridge.db").display().to_string();
    // With the dashboard on (no token yet), serve writes a second line after the first.
    let config = support::serve_config(&dir, &db, &emulator, "");
    let serving = Serving::start(&config, "error");
    let Serving { child, base, stdout } = serving;
    drop(stdout);
    let http = reqwest::Client::new();
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let health = http.get(format!("{base}/healthz")).send().await.expect("serve still answers");
        assert_eq!(health.status(), 200);
    }
    let mut child = child;
    assert!(child.0.try_wait().expect("try_wait").is_none(), "serve is still running");
    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "serve stopped cleanly with its stdout closed: {status:?}");
    emulator.stop().await;
}
