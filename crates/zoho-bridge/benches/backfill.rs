//! Backfill at scale: a dry run of `zoho-bridge backfill` (the binary, its own process)
//! over N CRM accounts (one contact each) and N Books customers on the emulator with
//! its limits off, overlapping: half the customers share an account's email (in another
//! case), a quarter its normalised name in its country, a quarter are Books-only.
//!
//! It prints the index time (Zoho read into the directory), the decide time (every
//! record decided from the store), the backfill process's peak memory (its own `VmHWM`,
//! which it reports), and the Zoho calls per record in the index phase (the emulator's
//! counters).
//!
//! ```sh
//! cargo bench -p zoho-bridge --bench backfill               # N = 100,000
//! cargo bench -p zoho-bridge --bench backfill -- -n 10000
//! ```

use std::{process::Command, time::Instant};

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, World};

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
    let config = EmulatorConfig::unlimited();
    let started = Instant::now();
    let world = world(&config, n)?;
    let emulator = Emulator::start_with_world(config, world, 0).await?;
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

/// The data set, written straight into the emulator's world before it starts (creating
/// 300,000 records through the API costs the emulator time that grows with each module's
/// size, and is not what is measured): account `i` has contact `owner{i}@…`; Books
/// customer `i` is, by `i % 4`, the account's email in upper case (0, 1), its name in its
/// country (2), or Books-only (3).
fn world(config: &EmulatorConfig, n: usize) -> anyhow::Result<World> {
    use zoho_emulator::{
        books::store::{Address, Contact, ContactPerson},
        crm::store::Record,
    };
    let mut world = zoho_emulator::build_world(config);
    let base_ms = 1_700_000_000_000i64;
    let stamp = |ms: i64| -> anyhow::Result<String> { Ok(jiff::Timestamp::from_millisecond(ms)?.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string()) };
    let crm = &mut world.crm;
    for i in 0..n {
        let ms = base_ms + i as i64 * 1_000;
        let account = crm.new_id();
        let fields = json!({"id": account.to_string(), "Account_Name": format!("Account {i} Ltd"), "Billing_Country": "US",
            "Created_Time": stamp(ms)?, "Modified_Time": stamp(ms)?});
        let Value::Object(fields) = fields else { unreachable!() };
        crm.module_mut("Accounts").put(Record { id: account, created_ms: ms, modified_ms: ms, fields });
        let person = crm.new_id();
        let fields = json!({"id": person.to_string(), "First_Name": "Olive", "Last_Name": format!("Owner {i}"), "Email": format!("owner{i}@acct.test"),
            "Account_Name": {"id": account.to_string(), "name": format!("Account {i} Ltd")}, "Created_Time": stamp(ms)?, "Modified_Time": stamp(ms)?});
        let Value::Object(fields) = fields else { unreachable!() };
        crm.module_mut("Contacts").put(Record { id: person, created_ms: ms, modified_ms: ms, fields });
    }
    let org = world.books.orgs.values_mut().next().ok_or_else(|| anyhow::anyhow!("the emulator has no Books organisation"))?;
    let currency = org.currencies.keys().next().cloned().unwrap_or_default();
    for i in 0..n {
        let (name, email) = match i % 4 {
            0 | 1 => (format!("Customer {i}"), format!("OWNER{i}@acct.test")),
            2 => (format!("account {i}"), String::new()),
            _ => (format!("Books only {i}"), format!("b{i}@books.test")),
        };
        let id = org.new_id();
        let person = org.new_id();
        let contact = Contact {
            contact_id: id.clone(),
            contact_name: name.clone(),
            company_name: name.clone(),
            contact_type: "customer".into(),
            status: "active".into(),
            currency_id: currency.clone(),
            billing_address: Address { country: "USA".into(), ..Address::default() },
            contact_persons: vec![ContactPerson {
                contact_person_id: person.clone(),
                first_name: "Bea".into(),
                last_name: "Buyer".into(),
                email,
                is_primary_contact: true,
                ..ContactPerson::default()
            }],
            created_ms: base_ms,
            ..Contact::default()
        };
        org.contact_names.insert(name.to_lowercase(), id.clone());
        org.person_owner.insert(person, id.clone());
        org.contacts.insert(id, contact);
    }
    Ok(world)
}
