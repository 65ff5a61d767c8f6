//! The admin commands as an operator uses them, on the store a worker left: a product
//! Zoho refuses is listed by `dead-letters` with Zoho's message; after the data is fixed
//! in CRM, `replay` queues it and the next worker run creates the item; `audit` and
//! `events` show what happened to the record; `drop` gives up on a job with a reason;
//! `prune` deletes old finished work; mistakes (no such store, no such job) fail loudly.

use std::process::{Command, Output};

use bridge::{
    flows::{catalog_sync, now_ms},
    store::{AnyStore, Source, Store},
};
use serde_json::Value;
use zoho::{
    BudgetConfig, BudgetRegistry, Client,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_LOG", "error").output().expect("run zoho-bridge")
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replay_drop_audit_and_events_from_the_shell() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let connection = zoho::Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let client = Client::builder(connection).budget(BudgetConfig::unlimited()).budget_registry(BudgetRegistry::new()).build().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("zb-admin-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("store.db").display().to_string();
    let store = AnyStore::connect(&db).await.expect("store");

    // Three products; Books refuses the second (negative rate), and the third has no
    // price at all (our own refusal).
    let product = |name: &str, sku: &str, price: Option<&str>| Product {
        product_name: Some(name.into()),
        product_code: Some(sku.into()),
        unit_price: price.map(|p| p.parse().unwrap()),
        ..Product::default()
    };
    let products = [product("Good", "ADM-1", Some("10")), product("Negative", "ADM-2", Some("-5")), product("Priceless", "ADM-3", None)];
    let ids: Vec<String> =
        client.crm().insert("Products", &products, &WriteOptions::no_triggers()).await.unwrap().iter().map(|r| r.id().unwrap().to_string()).collect();
    for (n, id) in ids.iter().enumerate() {
        let event = catalog_sync::event("default", Source::Poller, id, &format!("adm-{n}"));
        store.add_event(&event, &[catalog_sync::job(id)], now_ms()).await.unwrap();
    }
    let worker = |label: &str| {
        let out = run(&["worker", "--store", &db, "--emulator", &emulator.url(), "--no-budget", "--until-idle", "--id", label, "--max-attempts", "1"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    worker("first");

    let status = lines(&run(&["status", "--store", &db]));
    let count = |rows: &[Value], s: &str| rows.iter().find(|r| r["status"] == s).map_or(0, |r| r["jobs"].as_i64().unwrap());
    assert_eq!((count(&status, "done"), count(&status, "dead")), (1, 2), "{status:?}");

    let dead = lines(&run(&["dead-letters", "--store", &db]));
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead[0]["updated"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')), "RFC 3339 beside the epoch ms: {}", dead[0]);
    let negative = dead.iter().find(|d| d["key"] == format!("crm:Products:{}", ids[1])).expect("the refused product");
    assert!(negative["error"].as_str().unwrap().contains("Invalid value passed for rate"), "Zoho's message: {negative}");
    let priceless = dead.iter().find(|d| d["key"] == format!("crm:Products:{}", ids[2])).expect("the priceless product");
    let error = priceless["error"].as_str().unwrap();
    assert!(error.contains("flows.catalog_sync.map.rate") && error.contains("Unit_Price"), "the flow, the field and why: {priceless}");

    // Fix the refused one in CRM and replay it; give up on the other.
    let fixed = Product { id: Some(ids[1].clone()), unit_price: Some("5".parse().unwrap()), ..Product::default() };
    client.crm().update("Products", &[fixed], &WriteOptions::no_triggers()).await.unwrap();
    let replay_id = negative["id"].as_i64().unwrap().to_string();
    assert_eq!(lines(&run(&["replay", "--store", &db, &replay_id]))[0]["replayed"], true);
    let drop_id = priceless["id"].as_i64().unwrap().to_string();
    assert_eq!(lines(&run(&["drop", "--store", &db, "--reason", "discontinued product", &drop_id]))[0]["dropped"], true);
    worker("second");
    let none = run(&["dead-letters", "--store", &db]);
    assert!(lines(&none).is_empty());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no dead letters"), "said on stderr");
    let status = lines(&run(&["status", "--store", &db]));
    assert_eq!((count(&status, "done"), count(&status, "skipped"), count(&status, "dead")), (2, 1, 0), "{status:?}");
    let dropped = store.job(drop_id.parse().unwrap()).await.unwrap().unwrap();
    assert!(dropped.outcome.unwrap().contains("discontinued product"));

    // The replayed job's audit: the refused upsert (an attempt whose outcome Books'
    // refusal makes plain), the replay a person asked for, then the write that created
    // the item.
    let by_job = lines(&run(&["audit", "--store", &db, "--job", &replay_id]));
    let shown: Vec<(bool, &str)> = by_job.iter().map(|a| (a["ok"].as_bool().unwrap(), a["action"].as_str().unwrap())).collect();
    assert_eq!(shown, [(false, "upsert"), (true, "replay"), (true, "create")], "{by_job:#?}");
    let item_id = by_job[2]["record_id"].as_str().unwrap().to_string();
    let by_record = lines(&run(&["audit", "--store", &db, "books", "items", &item_id]));
    assert_eq!(by_record.len(), 1);
    assert_eq!(by_record[0]["request"]["sku"], "ADM-2");
    let events = lines(&run(&["events", "--store", &db, "crm", "Products", &ids[1]]));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["source"], "poller");

    // Pruning: work finished three days ago goes with `--older-than-days 2`; today's
    // jobs, the dead letters' history and the audit log stay.
    let three_days_ago = now_ms() - 3 * 86_400_000;
    let old = catalog_sync::event("default", Source::Poller, &ids[0], "adm-old");
    store.add_event(&old, &[catalog_sync::job(&ids[0])], three_days_ago).await.unwrap();
    let claimed = store.claim("old-worker", three_days_ago, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let skipped = bridge::store::JobResult::Finish(bridge::store::Finish::Skipped { reason: "unchanged".into(), snapshot: None });
    store.record("old-worker", &[(claimed[0].id, skipped)], three_days_ago).await.unwrap();
    let pruned = lines(&run(&["prune", "--store", &db, "--older-than-days", "2"]));
    assert_eq!((pruned[0]["pruned_jobs"].as_u64(), pruned[0]["pruned_events"].as_u64()), (Some(1), Some(1)), "{pruned:?}");
    assert_eq!(store.job(claimed[0].id).await.unwrap(), None);
    let status = lines(&run(&["status", "--store", &db]));
    assert_eq!((count(&status, "done"), count(&status, "skipped")), (2, 1), "today's jobs stay: {status:?}");
    assert_eq!(lines(&run(&["audit", "--store", &db, "--job", &replay_id])).len(), 3, "the audit log stays");
    let out = run(&["prune", "--store", &db, "--older-than-days", "0"]);
    assert!(!out.status.success(), "pruning everything up to now is refused");

    // Mistakes fail loudly.
    let out = run(&["replay", "--store", &db, "999999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("job 999999: there is no job 999999"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["status", "--store", &dir.join("nope.db").display().to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
    assert!(!dir.join("nope.db").exists(), "an admin command creates no database");

    store.close().await;
    emulator.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `leaks` lists the totals mismatches the flows recorded, newest first, with both
/// figures and the cause, and sums the differences per currency on stderr; with none it
/// says so on stderr and prints nothing on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_lists_the_totals_mismatches_with_both_figures() {
    use bridge::money::{Mismatch, TOTALS_MISMATCH};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("zb-leaks-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("store.db").display().to_string();
    let store = AnyStore::connect(&db).await.expect("store");

    let out = run(&["leaks", "--store", &db]);
    assert!(lines(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no totals mismatches recorded"), "{}", String::from_utf8_lossy(&out.stderr));

    let mismatch = |crm_id: &str, crm: &str, books: &str, currency: &str, cause: Option<&str>| Mismatch {
        crm_module: "Deals".into(),
        crm_id: crm_id.into(),
        books_entity: "invoices".into(),
        books_id: format!("inv-{crm_id}"),
        books_number: Some(format!("INV-{crm_id}")),
        currency: currency.into(),
        crm_total: crm.parse().unwrap(),
        books_total: books.parse().unwrap(),
        difference: books.parse::<rust_decimal::Decimal>().unwrap() - crm.parse::<rust_decimal::Decimal>().unwrap(),
        cause: cause.map(str::to_string),
    };
    let recorded = [
        mismatch("d1", "100.00", "119.00", "EUR", Some("tax rule \"DE VAT\" added 19.00 of tax the deal's amount did not include")),
        mismatch("d2", "5000", "4500", "JPY", None),
        mismatch("d3", "10.00", "9.50", "EUR", Some("price list \"Retail\" changed the rate of SKU-1 from 10.00 to 9.50")),
    ];
    for (n, m) in recorded.iter().enumerate() {
        let entry = bridge::store::AuditEntry {
            id: 0,
            at_ms: 1_700_000_000_000 + n as i64,
            actor: "worker-1".into(),
            job_id: Some(n as i64 + 1),
            event_id: None,
            connection: "default".into(),
            system: "books".into(),
            module: "invoices".into(),
            record_id: Some(m.books_id.clone()),
            action: TOTALS_MISMATCH.into(),
            request: serde_json::to_value(m).unwrap(),
            response: serde_json::json!({"said": "…"}),
            ok: true,
        };
        store.add_audit(&entry).await.unwrap();
    }
    let out = run(&["leaks", "--store", &db]);
    let listed = lines(&out);
    let shown: Vec<(&str, &str, &str, &str)> = listed
        .iter()
        .map(|l| (l["crm_id"].as_str().unwrap(), l["crm_total"].as_str().unwrap(), l["books_total"].as_str().unwrap(), l["difference"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [("d3", "10.00", "9.50", "-0.50"), ("d2", "5000", "4500", "-500"), ("d1", "100.00", "119.00", "19.00")], "newest first");
    assert!(listed[0]["cause"].as_str().unwrap().contains("price list"));
    assert_eq!(listed[1]["cause"], Value::Null);
    assert_eq!(listed[2]["at"], "2023-11-14T22:13:20Z");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("3 totals mismatch(es) recorded") && said.contains("18.50 EUR") && said.contains("-500 JPY"), "{said}");
    assert_eq!(lines(&run(&["leaks", "--store", &db, "--limit", "1"])).len(), 1);
}
