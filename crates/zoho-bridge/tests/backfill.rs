//! `zoho-bridge backfill` against the emulator, as the binary, on data both systems
//! already hold: ~100 CRM accounts (with contacts) and ~90 Books customers, overlapping
//! by email (in another case), by normalised name and country, by the native link
//! fields; two Books customers normalising alike (ambiguous), the same name in another
//! country (two customers), and customers on one side only.
//!
//! A dry run reports the expected action per record and writes nothing to Zoho (the
//! emulator's call counters); a real run links every true pair, creates the rest once,
//! puts the ambiguous ones on the review list; a run killed with SIGKILL at several
//! points and run again ends as one clean run does; and `--flow catalog_sync` dry-runs
//! and applies.

mod support;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use bridge::store::{AnyStore, Directory, ReviewStatus, Reviews, Store, System};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use support::TempDir;
use zoho::{
    BudgetConfig, BudgetRegistry, Client,
    books::{ListQuery, models::Contact, models::Item},
    crm::records::WriteOptions,
};
use zoho_emulator::{Emulator, EmulatorConfig};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");
const CONN: &str = "default";

struct World {
    emulator: Emulator,
    client: Client,
    dir: TempDir,
    config: PathBuf,
    store: PathBuf,
}

/// The emulator (no limits, no seeded records), a client for building the data, and a
/// config file pointing the binary at both and at a fresh SQLite store.
async fn world(tag: &str) -> World {
    world_with(tag, zoho_emulator::build_world(&EmulatorConfig::unlimited())).await
}

/// [`world`] over records already written into the emulator's world (a seed).
async fn world_with(tag: &str, data: zoho_emulator::World) -> World {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start_with_world(EmulatorConfig::unlimited(), data, 0).await.expect("emulator");
    let connection = zoho::Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().expect("client");
    let dir = TempDir::new(tag);
    let store = dir.0.join("bridge.db");
    let text = format!(
        "store = \"{}\"\n\n[zoho]\nemulator = \"{}\"\n\n[worker]\nconcurrency = 8\nlease_secs = 3\npoll_ms = 50\nmax_attempts = 3\nbackoff_secs = 1\n",
        store.display(),
        emulator.url()
    );
    let config = dir.file("zoho-bridge.toml", &text);
    World { emulator, client, dir, config, store }
}

/// Runs the binary's `backfill` with `args` and the world's config; its output.
async fn backfill(w: &World, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("backfill").arg("--config").arg(&w.config).args(args).env("RUST_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || command.output().expect("running zoho-bridge backfill")).await.expect("join");
    assert!(out.status.success(), "backfill {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Starts the binary's `backfill` once per delay and SIGKILLs it after that many
/// milliseconds (unless it had finished).
async fn kill_during_backfills(w: &World, report_path: &Path, delays_ms: &[u64]) {
    for (n, &delay_ms) in delays_ms.iter().enumerate() {
        let mut child = Command::new(BIN)
            .arg("backfill")
            .arg("--config")
            .arg(&w.config)
            .arg("--report")
            .arg(report_path)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting zoho-bridge backfill");
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let finished = child.try_wait().expect("try_wait").is_some();
        if !finished {
            child.kill().expect("SIGKILL");
        }
        let _ = child.wait();
        eprintln!("kill {n} after {delay_ms} ms: {}", if finished { "had finished" } else { "killed" });
    }
}

/// The report's lines by (system, id).
fn report(path: &Path) -> BTreeMap<(String, String), Value> {
    let text = std::fs::read_to_string(path).expect("report file");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l}: {e}"));
            ((v["system"].as_str().unwrap().to_string(), v["id"].as_str().unwrap().to_string()), v)
        })
        .collect()
}

/// Calls to the CRM and Books APIs other than reads, from the emulator's counters.
async fn zoho_writes(w: &World) -> u64 {
    let stats: Value = reqwest::get(format!("{}/__emulator/stats", w.emulator.url())).await.unwrap().json().await.unwrap();
    stats["stats"].as_array().unwrap().iter().filter(|r| r["api"] != "accounts" && r["method"] != "GET").map(|r| r["calls"].as_u64().unwrap()).sum()
}

async fn clear_stats(w: &World) {
    reqwest::Client::new().delete(format!("{}/__emulator/stats", w.emulator.url())).send().await.unwrap().error_for_status().unwrap();
}

/// What the data set says each record is.
#[derive(Debug, Default)]
struct Expected {
    /// CRM account id → (action, rule, the Books id it links to).
    crm: BTreeMap<String, (&'static str, Option<&'static str>, Option<String>)>,
    /// Books customer id → (action, rule) for those no account speaks for.
    books: BTreeMap<String, (&'static str, Option<&'static str>)>,
    /// CRM account id → its two Books candidates (ambiguous).
    ambiguous: BTreeMap<String, Vec<String>>,
    /// (CRM account id, Books contact id) of the same name in different countries.
    other_country: Vec<(String, String)>,
    /// Books ids that are someone's candidate or pair (never created in CRM).
    spoken_for: Vec<String>,
}

async fn accounts(client: &Client, rows: Vec<Value>) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in rows.chunks(100) {
        for r in client.crm().insert("Accounts", chunk, &WriteOptions::no_triggers()).await.expect("insert accounts") {
            assert!(r.is_success(), "{r:?}");
            ids.push(r.id().unwrap().to_string());
        }
    }
    ids
}

async fn contacts(client: &Client, rows: Vec<Value>) {
    for chunk in rows.chunks(100) {
        for r in client.crm().insert("Contacts", chunk, &WriteOptions::no_triggers()).await.expect("insert contacts") {
            assert!(r.is_success(), "{r:?}");
        }
    }
}

async fn customer(client: &Client, body: Value) -> String {
    let contact: Contact = serde_json::from_value(body).unwrap();
    client.books().create_contact(&contact).await.expect("create Books contact").contact_id.unwrap()
}

fn books_body(name: &str, country: &str, email: Option<&str>, crm_id: Option<&str>) -> Value {
    let mut body = json!({"contact_name": name, "company_name": name, "contact_type": "customer", "billing_address": {"country": country}});
    if let Some(email) = email {
        body["contact_persons"] = json!([{"first_name": "Bea", "last_name": "Buyer", "email": email, "is_primary_contact": true}]);
    }
    if let Some(id) = crm_id {
        body["zcrm_account_id"] = json!(id);
    }
    body
}

/// 100 CRM accounts and 90 Books customers:
/// - 40 pairs by email: Books has the CRM account's first contact's email in another case
///   (the account has a second, newer contact with another email), and another name;
/// - 25 pairs by name: `Name & Sons N Inc` (Germany) and `name and sons N` (DE);
/// - 5 pairs by the CRM native field (`Books_Contact_ID`), 5 by the Books one
///   (`zcrm_account_id`), names and emails unlike;
/// - 2 accounts each with two Books customers normalising alike in its country (review);
/// - 3 names in France on CRM and in Spain on Books (two customers each);
/// - 20 accounts only in CRM, 8 customers only in Books.
async fn customers_data(client: &Client) -> Expected {
    let mut x = Expected::default();
    // Email pairs.
    let ids = accounts(client, (0..40).map(|i| json!({"Account_Name": format!("Email Co {i}"), "Billing_Country": "US"})).collect()).await;
    let firsts = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"First_Name": "Olive", "Last_Name": format!("Owner {i}"), "Email": format!("owner{i}@email.test"), "Account_Name": {"id": id}}));
    contacts(client, firsts.collect()).await;
    let seconds = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"First_Name": "Carl", "Last_Name": format!("Clerk {i}"), "Email": format!("clerk{i}@email.test"), "Account_Name": {"id": id}}));
    contacts(client, seconds.collect()).await;
    for (i, crm) in ids.iter().enumerate() {
        let email = format!(" OWNER{i}@Email.TEST");
        let b = customer(client, books_body(&format!("Email Company {i} Holdings"), "USA", Some(email.trim()), None)).await;
        x.crm.insert(crm.clone(), ("link", Some("email"), Some(b.clone())));
        x.spoken_for.push(b);
    }
    // Name pairs.
    let ids = accounts(client, (0..25).map(|i| json!({"Account_Name": format!("Name & Sons {i} Inc"), "Billing_Country": "Germany"})).collect()).await;
    contacts(
        client,
        ids.iter()
            .enumerate()
            .map(|(i, id)| json!({"First_Name": "Nina", "Last_Name": "N", "Email": format!("crm{i}@name.test"), "Account_Name": {"id": id}}))
            .collect(),
    )
    .await;
    for (i, crm) in ids.iter().enumerate() {
        let b = customer(client, books_body(&format!("name and sons {i}"), "DE", Some(&format!("books{i}@name.test")), None)).await;
        x.crm.insert(crm.clone(), ("link", Some("name"), Some(b.clone())));
        x.spoken_for.push(b);
    }
    // Native fields: CRM names the Books contact, or the Books contact names the account.
    let mut books_first = Vec::new();
    for i in 0..5 {
        books_first.push(customer(client, books_body(&format!("Native Books {i}"), "US", None, None)).await);
    }
    let ids =
        accounts(client, books_first.iter().enumerate().map(|(i, b)| json!({"Account_Name": format!("Native CRM {i}"), "Books_Contact_ID": b})).collect())
            .await;
    for (crm, b) in ids.iter().zip(&books_first) {
        x.crm.insert(crm.clone(), ("link", Some("native"), Some(b.clone())));
        x.spoken_for.push(b.clone());
    }
    let ids = accounts(client, (0..5).map(|i| json!({"Account_Name": format!("Linked CRM {i}")})).collect()).await;
    for (i, crm) in ids.iter().enumerate() {
        let b = customer(client, books_body(&format!("Linked Books {i}"), "US", None, Some(crm))).await;
        x.crm.insert(crm.clone(), ("link", Some("native"), Some(b.clone())));
        x.spoken_for.push(b);
    }
    // Ambiguous: two Books customers normalising alike.
    let ids = accounts(client, (0..2).map(|i| json!({"Account_Name": format!("Ambig {i}"), "Billing_Country": "United States"})).collect()).await;
    contacts(
        client,
        ids.iter()
            .enumerate()
            .map(|(i, id)| json!({"First_Name": "Ada", "Last_Name": "A", "Email": format!("a{i}@ambig.test"), "Account_Name": {"id": id}}))
            .collect(),
    )
    .await;
    for (i, crm) in ids.iter().enumerate() {
        let mut two = vec![
            customer(client, books_body(&format!("Ambig {i} LLC"), "US", None, None)).await,
            customer(client, books_body(&format!("AMBIG {i}"), "usa", None, None)).await,
        ];
        two.sort();
        x.crm.insert(crm.clone(), ("review", Some("name"), None));
        x.spoken_for.extend(two.clone());
        x.ambiguous.insert(crm.clone(), two);
    }
    // The same name in another country: two customers (CRM and Books each get the other
    // as `Country 0 (Spain)` / `Country 0 (France)`, their names being unique).
    let ids = accounts(client, (0..3).map(|i| json!({"Account_Name": format!("Country {i}"), "Billing_Country": "France"})).collect()).await;
    for (i, crm) in ids.iter().enumerate() {
        let b = customer(client, books_body(&format!("Country {i}"), "Spain", None, None)).await;
        x.crm.insert(crm.clone(), ("create", None, None));
        x.books.insert(b.clone(), ("create", None));
        x.other_country.push((crm.clone(), b));
    }
    // One side only.
    let ids = accounts(client, (0..20).map(|i| json!({"Account_Name": format!("Solo CRM {i}"), "Billing_Country": "UK"})).collect()).await;
    for crm in ids {
        x.crm.insert(crm, ("create", None, None));
    }
    for i in 0..8 {
        let b = customer(client, books_body(&format!("Solo Books {i}"), "IT", Some(&format!("solo{i}@books.test")), None)).await;
        x.books.insert(b, ("create", None));
    }
    assert_eq!((x.crm.len(), x.books.len() + x.spoken_for.len()), (100, 90));
    x
}

fn check_report(lines: &BTreeMap<(String, String), Value>, x: &Expected) {
    for (id, (action, rule, other)) in &x.crm {
        let line = lines.get(&("crm".to_string(), id.clone())).unwrap_or_else(|| panic!("no line for CRM account {id}"));
        assert_eq!((line["action"].as_str(), line["rule"].as_str(), line["other_id"].as_str()), (Some(*action), *rule, other.as_deref()), "{line}");
        if let Some(two) = x.ambiguous.get(id) {
            assert_eq!(line["candidates"], json!(two), "{line}");
        }
    }
    for (id, (action, rule)) in &x.books {
        let line = lines.get(&("books".to_string(), id.clone())).unwrap_or_else(|| panic!("no line for Books customer {id}"));
        assert_eq!((line["action"].as_str(), line["rule"].as_str()), (Some(*action), *rule), "{line}");
    }
    assert_eq!(lines.len(), x.crm.len() + x.books.len(), "one line per account and per Books customer no account speaks for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_reports_each_record_and_writes_nothing_to_zoho() {
    let w = world("backfill-dry").await;
    let x = customers_data(&w.client).await;
    clear_stats(&w).await;
    let path = w.dir.0.join("report.jsonl");
    let out = backfill(&w, &["--dry-run", "--report", path.to_str().unwrap()]).await;
    check_report(&report(&path), &x);
    assert_eq!(zoho_writes(&w).await, 0, "a dry run writes nothing to Zoho");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("index:") && stderr.contains("decide:"), "the summary table: {stderr}");
    // Nothing was enqueued, and the directory holds both sides.
    let store = AnyStore::connect(w.store.to_str().unwrap()).await.unwrap();
    assert!(store.job_counts().await.unwrap().is_empty());
    assert_eq!(store.directory_count(CONN, System::Crm, "Accounts").await.unwrap(), 100);
    assert_eq!(store.directory_count(CONN, System::Books, "contacts").await.unwrap(), 90);
    // Without --report, the lines go to stdout.
    let out = backfill(&w, &["--dry-run"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 111);
    store.close().await;
}

/// What a run left, by names (ids differ between two emulators): linked pairs, open
/// reviews, and how many records each side has.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    pairs: Vec<(String, String)>,
    reviews: Vec<(String, Vec<String>)>,
    crm_accounts: usize,
    books_customers: usize,
}

async fn outcome(w: &World) -> Outcome {
    let store = AnyStore::connect(w.store.to_str().unwrap()).await.unwrap();
    let accounts: HashMap<String, String> = w
        .client
        .crm()
        .list::<Value>("Accounts", zoho::crm::records::ListParams::new(["id", "Account_Name"]))
        .map_ok(|a| (a["id"].as_str().unwrap().to_string(), a["Account_Name"].as_str().unwrap().to_string()))
        .try_collect()
        .await
        .unwrap();
    let books: HashMap<String, String> = w
        .client
        .books()
        .list::<Value>("/books/v3/contacts", "contacts", ListQuery::new())
        .map_ok(|c| (c["contact_id"].as_str().unwrap().to_string(), c["contact_name"].as_str().unwrap().to_string()))
        .try_collect()
        .await
        .unwrap();
    let mut pairs: Vec<(String, String)> =
        store.links(CONN, "account_contact").await.unwrap().into_iter().map(|l| (accounts[&l.crm_id].clone(), books[&l.books_id].clone())).collect();
    pairs.sort();
    let mut reviews: Vec<(String, Vec<String>)> = store
        .reviews(Some(ReviewStatus::Open), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let mut names: Vec<String> = r.candidates.iter().map(|c| books[&c.id].clone()).collect();
            names.sort();
            (accounts[&r.record.id].clone(), names)
        })
        .collect();
    reviews.sort();
    store.close().await;
    Outcome { pairs, reviews, crm_accounts: accounts.len(), books_customers: books.len() }
}

/// The invariants of a finished real run on [`customers_data`].
async fn check_applied(w: &World, x: &Expected) {
    let store = AnyStore::connect(w.store.to_str().unwrap()).await.unwrap();
    for job in store.jobs_with_status(bridge::store::JobStatus::Dead, 3).await.unwrap() {
        eprintln!("dead job {} {}: {:?}", job.flow, job.key, job.last_error);
    }
    let links = store.links(CONN, "account_contact").await.unwrap();
    let by_crm: HashMap<&str, &str> = links.iter().map(|l| (l.crm_id.as_str(), l.books_id.as_str())).collect();
    let by_books: HashMap<&str, &str> = links.iter().map(|l| (l.books_id.as_str(), l.crm_id.as_str())).collect();
    assert_eq!((by_crm.len(), by_books.len()), (links.len(), links.len()), "no record linked twice");
    for (crm, (action, _, other)) in &x.crm {
        match *action {
            "link" => assert_eq!(by_crm.get(crm.as_str()).copied(), other.as_deref(), "true pair of CRM account {crm}"),
            "create" => assert!(by_crm.get(crm.as_str()).is_some_and(|b| !x.spoken_for.iter().any(|s| s == b)), "CRM account {crm} gets a new Books customer"),
            _ => assert_eq!(by_crm.get(crm.as_str()), None, "ambiguous CRM account {crm} is not linked"),
        }
    }
    for (crm, books) in &x.other_country {
        assert_ne!(by_crm.get(crm.as_str()).copied(), Some(books.as_str()), "same name in another country: not merged");
        assert!(by_books.get(books.as_str()).is_some_and(|c| c != crm), "the Spanish customer gets a CRM account of its own");
    }
    for b in x.books.keys() {
        assert!(by_books.contains_key(b.as_str()), "Books customer {b} is linked");
    }
    for candidates in x.ambiguous.values() {
        for b in candidates {
            assert_eq!(by_books.get(b.as_str()), None, "an ambiguous candidate is not linked by guess");
        }
    }
    let open = store.reviews(Some(ReviewStatus::Open), 100).await.unwrap();
    let mut reviewed: Vec<(String, Vec<String>)> = open
        .iter()
        .map(|r| {
            let mut ids: Vec<String> = r.candidates.iter().map(|c| c.id.clone()).collect();
            ids.sort();
            (r.record.id.clone(), ids)
        })
        .collect();
    reviewed.sort();
    assert_eq!(reviewed, x.ambiguous.clone().into_iter().collect::<Vec<_>>(), "the ambiguous accounts are on the review list");
    let dead = store.job_counts().await.unwrap().into_iter().find(|(s, _)| *s == bridge::store::JobStatus::Dead).map_or(0, |(_, n)| n);
    assert_eq!(dead, 0, "no dead job");
    store.close().await;
    // No duplicate: exactly the creates on each side (20 solo + 3 other-country in
    // Books; 8 solo + 3 other-country in CRM).
    let o = outcome(w).await;
    assert_eq!((o.crm_accounts, o.books_customers), (100 + 11, 90 + 23), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_run_links_every_pair_creates_the_rest_once_and_reviews_the_ambiguous() {
    let w = world("backfill-apply").await;
    let x = customers_data(&w.client).await;
    let path = w.dir.0.join("report.jsonl");
    clear_stats(&w).await;
    let out = backfill(&w, &["--report", path.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("applied in"), "{stderr}");
    // What the whole backfill cost in Zoho calls, per API and per record (for planning a
    // run under Zoho's real limits; printed with --no-capture).
    let stats: Value = reqwest::get(format!("{}/__emulator/stats", w.emulator.url())).await.unwrap().json().await.unwrap();
    let calls = |api: &str| -> u64 { stats["stats"].as_array().unwrap().iter().filter(|r| r["api"] == api).map(|r| r["calls"].as_u64().unwrap()).sum() };
    let records = (x.crm.len() + x.books.len()) as f64;
    eprintln!(
        "backfill of {} CRM accounts and {} Books customers: {} CRM calls ({:.2} per record), {} Books calls ({:.2} per record)",
        x.crm.len(),
        x.books.len(),
        calls("crm"),
        calls("crm") as f64 / records,
        calls("books"),
        calls("books") as f64 / records
    );
    check_report(&report(&path), &x);
    check_applied(&w, &x).await;
    // Run again: only the 11 CRM accounts the first run created are new to it (their
    // jobs find them in step); nothing is written.
    let before = outcome(&w).await;
    clear_stats(&w).await;
    let again = backfill(&w, &["--report", path.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("11 events enqueued; jobs done 0, skipped 11, dead 0"), "{stderr}");
    assert_eq!(zoho_writes(&w).await, 0, "a second run writes nothing");
    assert_eq!(outcome(&w).await, before);
    let lines = report(&path);
    assert!(lines.values().filter(|l| l["system"] == "crm").all(|l| l["action"] == "update" || l["action"] == "review"), "all linked now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_with_sigkill_at_several_points_and_run_again_it_ends_as_one_clean_run() {
    let clean = world("backfill-clean").await;
    let x_clean = customers_data(&clean.client).await;
    backfill(&clean, &["--report", clean.dir.0.join("r.jsonl").to_str().unwrap()]).await;
    let expected = outcome(&clean).await;

    let w = world("backfill-killed").await;
    let x = customers_data(&w.client).await;
    assert_eq!(x.crm.len(), x_clean.crm.len());
    let report_path = w.dir.0.join("r.jsonl");
    // Kills land in the index, the decisions, the enqueueing and the worker's runs.
    kill_during_backfills(&w, &report_path, &[120, 250, 400, 600, 900, 1300]).await;
    backfill(&w, &["--report", report_path.to_str().unwrap()]).await;
    check_applied(&w, &x).await;
    assert_eq!(outcome(&w).await, expected, "the same links, reviews and records as one clean run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_sync_dry_run_and_apply() {
    let w = world("backfill-catalog").await;
    let products: Vec<Value> =
        (0..30).map(|i| json!({"Product_Name": format!("Widget {i}"), "Product_Code": format!("W-{i:03}"), "Unit_Price": 10 + i})).collect();
    let mut ids = Vec::new();
    for r in w.client.crm().insert("Products", &products, &WriteOptions::no_triggers()).await.unwrap() {
        ids.push(r.id().unwrap().to_string());
    }
    let item = |body: Value| async {
        let item: Item = serde_json::from_value(body).unwrap();
        w.client.books().create_item(&item).await.expect("create item").item_id.unwrap()
    };
    let mut expected: BTreeMap<String, (&str, Option<&str>, Option<String>)> = BTreeMap::new();
    // 10 items typed by hand with the product's SKU (another case): adopted by SKU.
    for (i, id) in ids.iter().enumerate().take(10) {
        let item_id = item(json!({"name": format!("Hand {i}"), "rate": 1, "sku": format!("w-{i:03}")})).await;
        expected.insert(id.clone(), ("link", Some("sku"), Some(item_id)));
    }
    // 5 items already naming their product in the custom field: the upsert updates them.
    for (i, id) in ids.iter().enumerate().skip(10).take(5) {
        let item_id =
            item(json!({"name": format!("Tagged {i}"), "rate": 1, "sku": format!("T-{i}"), "custom_fields": [{"api_name": "cf_crm_product_id", "value": id}]}))
                .await;
        expected.insert(id.clone(), ("link", Some("native"), Some(item_id)));
    }
    // One item holding a product's SKU but naming another product: a conflict.
    let clash = item(json!({"name": "Clash", "rate": 1, "sku": "W-015", "custom_fields": [{"api_name": "cf_crm_product_id", "value": "999"}]})).await;
    expected.insert(ids[15].clone(), ("skip", Some("sku"), None));
    for id in ids.iter().skip(16) {
        expected.insert(id.clone(), ("create", None, None));
    }
    clear_stats(&w).await;
    let path = w.dir.0.join("catalog.jsonl");
    backfill(&w, &["--flow", "catalog_sync", "--dry-run", "--report", path.to_str().unwrap()]).await;
    assert_eq!(zoho_writes(&w).await, 0);
    let lines = report(&path);
    assert_eq!(lines.len(), 30);
    for (id, (action, rule, other)) in &expected {
        let line = &lines[&("crm".to_string(), id.clone())];
        assert_eq!((line["action"].as_str(), line["rule"].as_str(), line["other_id"].as_str()), (Some(*action), *rule, other.as_deref()), "{line}");
    }
    assert_eq!(lines[&("crm".to_string(), ids[15].clone())]["candidates"], json!([clash]));

    backfill(&w, &["--flow", "catalog_sync", "--report", path.to_str().unwrap()]).await;
    let store = AnyStore::connect(w.store.to_str().unwrap()).await.unwrap();
    let links: HashMap<String, String> = store.links(CONN, "product_item").await.unwrap().into_iter().map(|l| (l.crm_id, l.books_id)).collect();
    for (id, (action, _, other)) in &expected {
        match *action {
            "link" => assert_eq!(links.get(id), other.as_ref(), "product {id}"),
            "create" => assert!(links.contains_key(id), "product {id} has its item"),
            _ => assert!(!links.contains_key(id), "the conflict is not resolved by guess"),
        }
    }
    let items: Vec<Value> = w.client.books().list("/books/v3/items", "items", ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(items.len(), 16 + 14, "the 14 creates, no duplicate");
    store.close().await;
}

/// The proof on the emulator's `overlap` seed: 2,000 CRM accounts and 1,800 Books
/// customers, 1,200 of them the same customers spelled differently (every normalisation
/// rule), 30 ambiguous, 40 with the same name in another country. The backfill is killed
/// with SIGKILL ten times at instants spread over its run, then run to its end: every
/// true pair is linked, the ambiguous ones are on the review list, the other-country
/// ones are not merged, and nothing exists twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seeded_overlap_is_linked_without_duplicates_even_killed_ten_times() {
    use zoho_emulator::seed::{Expected as Truth, OverlapSpec, overlap};
    let mut data = zoho_emulator::build_world(&EmulatorConfig::unlimited());
    let truth = overlap(&mut data, &OverlapSpec::default(), 7).expect("overlap seed");
    let w = world_with("backfill-overlap", data).await;
    let report_path = w.dir.0.join("r.jsonl");
    kill_during_backfills(&w, &report_path, &[150, 300, 500, 800, 1200, 1700, 2300, 3000, 4000, 5500]).await;
    backfill(&w, &["--report", report_path.to_str().unwrap()]).await;

    let store = AnyStore::connect(w.store.to_str().unwrap()).await.unwrap();
    for job in store.jobs_with_status(bridge::store::JobStatus::Dead, 5).await.unwrap() {
        eprintln!("dead job {} {}: {:?}", job.flow, job.key, job.last_error);
    }
    let links = store.links(CONN, "account_contact").await.unwrap();
    let by_crm: HashMap<&str, &str> = links.iter().map(|l| (l.crm_id.as_str(), l.books_id.as_str())).collect();
    let by_books: HashMap<&str, &str> = links.iter().map(|l| (l.books_id.as_str(), l.crm_id.as_str())).collect();
    assert_eq!((by_crm.len(), by_books.len()), (links.len(), links.len()), "no record linked twice");
    let seeded: std::collections::HashSet<&str> = truth.books_names.iter().map(|(id, _)| id.as_str()).collect();
    let open = store.reviews(Some(ReviewStatus::Open), 1_000).await.unwrap();
    let reviews: HashMap<&str, Vec<String>> = open
        .iter()
        .map(|r| {
            let mut ids: Vec<String> = r.candidates.iter().map(|c| c.id.clone()).collect();
            ids.sort();
            (r.record.id.as_str(), ids)
        })
        .collect();
    let (mut linked, mut reviewed, mut created) = (0, 0, 0);
    for a in &truth.accounts {
        match &a.expected {
            Truth::Link { books_contact_id, rule } => {
                assert_eq!(by_crm.get(a.account_id.as_str()).copied(), Some(books_contact_id.as_str()), "{} ({:?}) by {rule:?}", a.account_name, a.country);
                linked += 1;
            }
            Truth::Review { candidates } => {
                assert_eq!(by_crm.get(a.account_id.as_str()), None, "{} is not linked by a guess", a.account_name);
                assert_eq!(reviews.get(a.account_id.as_str()), Some(candidates), "{} is on the review list with its candidates", a.account_name);
                reviewed += 1;
            }
            Truth::Create => {
                let books = by_crm.get(a.account_id.as_str()).unwrap_or_else(|| panic!("{} got a Books customer", a.account_name));
                let name = truth.books_names.iter().find(|(id, _)| id == books).map(|(_, n)| n.as_str());
                let other = truth.different_country.iter().find(|(_, b)| b == books);
                assert!(
                    !seeded.contains(books),
                    "{} ({}, {}) got a new Books customer, not seeded {books} {name:?} (other-country pair: {other:?})",
                    a.account_name,
                    a.country,
                    a.primary_email
                );
                created += 1;
            }
        }
    }
    for (crm, books) in &truth.different_country {
        assert_ne!(by_crm.get(crm.as_str()).copied(), Some(books.as_str()), "same name, another country: not merged");
    }
    let mut finished = Vec::new();
    for status in [bridge::store::JobStatus::Done, bridge::store::JobStatus::Skipped] {
        finished.extend(store.jobs_with_status(status, 100_000).await.unwrap());
    }
    let lines = report(&report_path);
    for books in &truth.books_only {
        let key = format!("books:contacts:{books}");
        let runs: Vec<String> =
            finished.iter().filter(|j| j.key == key).map(|j| format!("{:?}: {}", j.status, j.outcome.clone().unwrap_or_default())).collect();
        let name = truth.books_names.iter().find(|(id, _)| id == books).map(|(_, n)| n.as_str());
        let reported = lines.get(&("books".to_string(), books.clone()));
        assert!(by_books.contains_key(books.as_str()), "Books-only customer {books} {name:?} got its CRM account; reported {reported:?}; its runs: {runs:?}");
    }
    assert_eq!((linked, reviewed), (1_200, 30));
    let dead = store.job_counts().await.unwrap().into_iter().find(|(s, _)| *s == bridge::store::JobStatus::Dead).map_or(0, |(_, n)| n);
    assert_eq!(dead, 0, "no dead job");
    store.close().await;
    // Nothing twice: each side holds its seeded records plus exactly the creates.
    let o = outcome(&w).await;
    assert_eq!(
        (o.crm_accounts, o.books_customers),
        (truth.accounts.len() + truth.books_only.len(), truth.books_names.len() + created),
        "{:?}",
        (o.crm_accounts, o.books_customers)
    );
}
