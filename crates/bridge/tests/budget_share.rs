//! Two processes of one organisation (two clients with budget registries of their own,
//! each with its own handle on one SQLite store file) bursting CRM and Books calls at one
//! emulator whose limits are tight: sharing the budget through the store, no call meets a
//! 429; without it, the emulator refuses some.

mod common;

use std::time::Duration;

use bridge::budget_share::{ShareKeeper, ShareSettings, join};
use bridge::store::SqliteStore;
use common::TempDir;
use zoho::{BudgetConfig, BudgetRegistry, Client, Connection, RetryPolicy};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule, LimitsConfig};

/// CRM calls in flight at once, for the whole organisation.
const CRM_CONCURRENCY: u32 = 2;
/// Books calls a minute, for the whole organisation.
const BOOKS_PER_MINUTE: u32 = 8;
/// CRM calls each process makes, all at once.
const CRM_CALLS: usize = 12;
/// Books calls each process makes, all at once (together within the minute's limit).
const BOOKS_CALLS: usize = 4;

async fn emulator() -> (Emulator, Connection) {
    let config = EmulatorConfig {
        limits: LimitsConfig { crm_concurrency: Some(CRM_CONCURRENCY), books_per_minute: Some(BOOKS_PER_MINUTE), ..LimitsConfig::unlimited() },
        // Calls that last, so that the two processes' calls overlap.
        faults: FaultConfig { rules: vec![FaultRule { path_prefix: "/crm".into(), latency_ms: 80, ..FaultRule::default() }], ..FaultConfig::default() },
        ..EmulatorConfig::unlimited()
    };
    let emu = Emulator::start(config, 0).await.expect("emulator starts");
    let connection = Connection::from_emulator(&emu.url()).await.expect("credentials");
    (emu, connection)
}

/// A client as a process of its own would have: its own budgets, the emulator's limits,
/// short pauses after a 429 (so the unshared run ends soon).
async fn process_client(emu: &Emulator, connection: &Connection) -> Client {
    let budget = BudgetConfig::from_emulator(&emu.url()).await.expect("limits");
    assert_eq!((budget.crm_concurrency, budget.books_per_minute), (Some(CRM_CONCURRENCY), Some(BOOKS_PER_MINUTE)));
    let client = Client::builder(connection.clone())
        .budget_registry(BudgetRegistry::new())
        .budget(budget)
        .retry(RetryPolicy { rate_limit_pause: Duration::from_millis(50), max_rate_limited: 50, ..RetryPolicy::default() })
        .build()
        .expect("client");
    // The token first, so that both bursts start together.
    client.transport().access_token().await.expect("token");
    client
}

/// Both clients' calls at once; every call must succeed (after waiting out any 429).
async fn burst(clients: &[Client]) {
    let mut calls = tokio::task::JoinSet::new();
    for client in clients {
        for _ in 0..CRM_CALLS {
            let client = client.clone();
            calls.spawn(async move { client.crm().fields("Deals").await.map(|_| ()) });
        }
        for _ in 0..BOOKS_CALLS {
            let client = client.clone();
            calls.spawn(async move { client.books().organizations().await.map(|_| ()) });
        }
    }
    while let Some(done) = calls.join_next().await {
        done.expect("call task").expect("every call succeeds");
    }
}

/// (CRM 429s, Books 429s) the emulator answered.
fn rejected(emu: &Emulator, connection: &Connection) -> (u64, u64) {
    let usage = emu.state().limiter.usage(emu.state().clock.now_ms());
    let books = usage.books.get(&connection.organization_id).and_then(|v| v["rejected"].as_u64()).unwrap_or(0);
    (usage.crm_rejected, books)
}

fn settings(label: &str) -> ShareSettings {
    ShareSettings { interval: Duration::from_millis(50), ttl: Duration::from_secs(2), label: label.into(), ..ShareSettings::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_sharing_the_budget_through_the_store_meet_no_429() {
    let (emu, connection) = emulator().await;
    let dir = TempDir::new("budget-share");
    let path = dir.0.join("bridge.db");
    // One store file, a handle each, as two processes would have.
    let (engine_store, backfill_store) = (SqliteStore::open(&path).await.expect("store"), SqliteStore::open(&path).await.expect("store"));
    let engine = process_client(&emu, &connection).await;
    let backfill = process_client(&emu, &connection).await;
    let keepers: Vec<ShareKeeper> = vec![
        join(engine_store.clone(), "default", &engine, settings("engine")).await.expect("engine joins"),
        join(backfill_store.clone(), "default", &backfill, settings("backfill")).await.expect("backfill joins"),
    ];
    let started = std::time::Instant::now();
    burst(&[engine.clone(), backfill.clone()]).await;
    eprintln!("shared: 429s (CRM, Books) {:?}, burst took {:?}", rejected(&emu, &connection), started.elapsed());

    assert_eq!(rejected(&emu, &connection), (0, 0), "no call met a 429");
    for client in [&engine, &backfill] {
        for usage in client.budget_usage() {
            assert_eq!(usage.throttled, 0, "{usage:?}");
        }
    }
    let admitted: u64 = [&engine, &backfill].iter().flat_map(|c| c.budget_usage()).map(|u| u.admitted).sum();
    assert_eq!(admitted, 2 * (CRM_CALLS + BOOKS_CALLS) as u64, "each call sent once");
    // Between them, never more than the organisation's limits allotted.
    let allotted = |name: &str, api: zoho::Api| -> u64 {
        [&engine, &backfill]
            .iter()
            .flat_map(|c| c.budget_usage())
            .filter(|u| u.api == api)
            .flat_map(|u| u.windows)
            .filter(|w| w.name == name)
            .map(|w| w.allotment.expect("shared"))
            .sum()
    };
    assert!(allotted("concurrency", zoho::Api::Crm) <= u64::from(CRM_CONCURRENCY));
    assert!(allotted("per_minute", zoho::Api::Books) <= u64::from(BOOKS_PER_MINUTE));
    for keeper in keepers {
        keeper.leave().await.expect("leave");
    }
    engine_store.close().await;
    backfill_store.close().await;
}

/// The same two processes without sharing: each keeps to the whole limit, so together
/// they exceed it and the emulator refuses calls (which is what the test above rules out).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_processes_unshared_meet_429s() {
    let (emu, connection) = emulator().await;
    let engine = process_client(&emu, &connection).await;
    let backfill = process_client(&emu, &connection).await;
    let started = std::time::Instant::now();
    burst(&[engine.clone(), backfill.clone()]).await;
    eprintln!("unshared: 429s (CRM, Books) {:?}, burst took {:?}", rejected(&emu, &connection), started.elapsed());
    let (crm, _books) = rejected(&emu, &connection);
    assert!(crm >= 1, "two unshared budgets of {CRM_CONCURRENCY} calls in flight each overran the organisation's {CRM_CONCURRENCY}");
    let throttled: u64 = [&engine, &backfill].iter().flat_map(|c| c.budget_usage()).map(|u| u.throttled).sum();
    assert!(throttled >= 1);
}
