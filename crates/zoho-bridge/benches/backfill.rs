//! Backfill at scale: a dry run of `zoho-bridge backfill` (the binary, its own process)
//! over N CRM accounts (one contact each) and N Books customers on the emulator with
//! its limits off, overlapping: half the customers share an account's email (in another
//! case), a quarter its normalised name in its country, a quarter are Books-only.
//!
//! It prints the index time (Zoho read into the directory), the decide time (every
//! record decided from the store), the backfill process's peak memory (its own `VmHWM`,
//! which it reports), and the Zoho calls per record in the index phase (the emulator's
//! counters). Building the data set through the client takes a while at 100,000.
//!
//! ```sh
//! cargo bench -p zoho-bridge --bench backfill               # N = 100,000
//! cargo bench -p zoho-bridge --bench backfill -- -n 10000
//! ```

use std::{process::Command, time::Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use zoho::{BudgetConfig, BudgetRegistry, Client, books::models::Contact, crm::records::WriteOptions};
use zoho_emulator::{Emulator, EmulatorConfig};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

fn main() {
    let mut n: usize = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "-n" {
            n = args.next().and_then(|v| v.parse().ok()).expect("-n takes a number of records");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(n)) {
        eprintln!("backfill bench: {e:#}");
        std::process::exit(1);
    }
}

async fn run(n: usize) -> anyhow::Result<()> {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await?;
    let connection = zoho::Connection::from_emulator(&emulator.url()).await?;
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build()?;
    let started = Instant::now();
    build(&client, n).await?;
    eprintln!("data set: {n} CRM accounts + {n} contacts, {n} Books customers, built in {:.0} s", started.elapsed().as_secs_f64());

    let dir = std::env::temp_dir().join(format!("zb-bench-backfill-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("zoho-bridge.toml");
    std::fs::write(&config, format!("store = \"{}\"\n\n[zoho]\nemulator = \"{}\"\n", dir.join("bridge.db").display(), emulator.url()))?;
    let http = reqwest::Client::new();
    http.delete(format!("{}/__emulator/stats", emulator.url())).send().await?.error_for_status()?;
    let report = dir.join("report.jsonl");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["backfill", "--dry-run", "--config"]).arg(&config).arg("--report").arg(&report).env("RUST_LOG", "warn").output()
    })
    .await??;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    anyhow::ensure!(out.status.success(), "backfill failed: {stderr}");
    let stats: Value = http.get(format!("{}/__emulator/stats", emulator.url())).send().await?.json().await?;
    let calls: u64 = stats["stats"].as_array().into_iter().flatten().filter(|r| r["api"] != "accounts").map(|r| r["calls"].as_u64().unwrap_or(0)).sum();
    let table = ["system ", "crm ", "books ", "index: ", "peak memory"];
    let summary: Vec<&str> = stderr.lines().filter(|l| table.iter().any(|t| l.starts_with(t))).collect();
    println!(
        "backfill --dry-run, {n} CRM accounts vs {n} Books customers (emulator, limits off, {} build)",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    for line in &summary {
        println!("  {line}");
    }
    println!("  wall time of the process: {:.2} s", wall.as_secs_f64());
    println!(
        "  Zoho calls (all in the index phase: a dry run decides from the store): {calls}, {:.4} per record ({} records)",
        calls as f64 / (3 * n) as f64,
        3 * n
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The data set: account `i` has contact `owner{i}@…`; Books customer `i` is, by `i % 4`,
/// the account's email in upper case (0, 1), its name in its country (2), or Books-only (3).
async fn build(client: &Client, n: usize) -> anyhow::Result<()> {
    let crm = client.crm();
    let accounts: Vec<Value> = (0..n).map(|i| json!({"Account_Name": format!("Account {i} Ltd"), "Billing_Country": "US"})).collect();
    let ids: Vec<String> = stream::iter(accounts.chunks(100).map(<[Value]>::to_vec))
        .map(|chunk| {
            let crm = crm.clone();
            async move { crm.insert("Accounts", &chunk, &WriteOptions::no_triggers()).await }
        })
        .buffered(4)
        .map_ok(|results| stream::iter(results.into_iter().map(|r| Ok::<_, zoho::Error>(r.id().unwrap_or_default().to_string()))))
        .try_flatten()
        .try_collect()
        .await?;
    let people: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"First_Name": "Olive", "Last_Name": format!("Owner {i}"), "Email": format!("owner{i}@acct.test"), "Account_Name": {"id": id}}))
        .collect();
    stream::iter(people.chunks(100).map(<[Value]>::to_vec))
        .map(|chunk| {
            let crm = crm.clone();
            async move { crm.insert("Contacts", &chunk, &WriteOptions::no_triggers()).await.map(|_| ()) }
        })
        .buffer_unordered(4)
        .try_collect::<()>()
        .await?;
    let books = client.books();
    stream::iter(0..n)
        .map(|i| {
            let books = books.clone();
            async move {
                let (name, email) = match i % 4 {
                    0 | 1 => (format!("Customer {i}"), Some(format!("OWNER{i}@acct.test"))),
                    2 => (format!("account {i}"), None),
                    _ => (format!("Books only {i}"), Some(format!("b{i}@books.test"))),
                };
                let mut body = json!({"contact_name": name, "company_name": name, "contact_type": "customer", "billing_address": {"country": "USA"}});
                if let Some(email) = email {
                    body["contact_persons"] = json!([{"first_name": "Bea", "last_name": "Buyer", "email": email, "is_primary_contact": true}]);
                }
                let contact: Contact = serde_json::from_value(body).expect("a contact body");
                books.create_contact(&contact).await.map(|_| ())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await?;
    Ok(())
}
