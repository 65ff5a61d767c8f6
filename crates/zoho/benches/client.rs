//! Client benchmarks against the emulator on loopback (run with `cargo bench -p zoho`).
//!
//! 1. Overhead per request: the same Books call made with a bare `reqwest` client and
//!    with `zoho::Client` (token, budget bookkeeping, retry wrapper, error parsing, typed
//!    decoding), on a single-threaded runtime that also runs the emulator, so elapsed
//!    time is CPU time and the difference is what the client adds (target < 50 µs).
//! 2. Sustained throughput under a Books budget scaled up to 6,000 requests a minute in
//!    both the emulator and the client: share of the budget used (target ≥ 98 %) and
//!    429s seen (target 0). Runs `ZOHO_BENCH_MINUTES` minutes (default 2).
//!
//! Figures are printed; nothing is asserted.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;
use zoho::{BudgetConfig, BudgetRegistry, Client, Connection};
use zoho_emulator::{Emulator, EmulatorConfig, LimitsConfig, testkit};

async fn overhead() {
    const N: u32 = 4_000;
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let url = format!("{}/books/v3/organizations?organization_id={}", emu.url(), creds.organization_id);
    let auth = testkit::auth_header(&token);
    let budget =
        BudgetConfig { books_per_minute: Some(100_000_000), books_per_day: Some(100_000_000), books_concurrency: Some(10), ..BudgetConfig::unlimited() };
    let client = Client::builder(Connection::from_emulator(&emu.url()).await.unwrap()).budget_registry(BudgetRegistry::new()).budget(budget).build().unwrap();
    let books = client.books();

    let raw = || async {
        let bytes = http.get(&url).header("authorization", &auth).send().await.unwrap().bytes().await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["code"], 0);
    };
    for _ in 0..300 {
        raw().await;
        books.organizations().await.unwrap();
    }
    let (mut raw_total, mut zoho_total) = (Duration::ZERO, Duration::ZERO);
    for _round in 0..4 {
        let t = Instant::now();
        for _ in 0..N / 4 {
            raw().await;
        }
        raw_total += t.elapsed();
        let t = Instant::now();
        for _ in 0..N / 4 {
            books.organizations().await.unwrap();
        }
        zoho_total += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
    println!("overhead: GET /books/v3/organizations x{N}, emulator and client on one thread");
    println!("  bare reqwest + serde_json::Value : {:8.1} µs/request", per(raw_total));
    println!("  zoho::Client (typed)             : {:8.1} µs/request", per(zoho_total));
    println!("  client overhead                  : {:8.1} µs/request", per(zoho_total) - per(raw_total));
    emu.stop().await;
}

async fn throughput(minutes: u64) {
    const PER_MINUTE: u32 = 6_000;
    const WORKERS: usize = 64;
    let config = EmulatorConfig { limits: LimitsConfig { books_per_minute: Some(PER_MINUTE), ..LimitsConfig::unlimited() }, ..EmulatorConfig::unlimited() };
    let emu = Arc::new(Emulator::start(config, 0).await.unwrap());
    let budget = BudgetConfig {
        books_per_minute: Some(PER_MINUTE),
        books_per_day: None,
        books_concurrency: Some(WORKERS as u32),
        max_wait: Duration::from_secs(3600),
        ..BudgetConfig::unlimited()
    };
    let client = Client::builder(Connection::from_emulator(&emu.url()).await.unwrap()).budget_registry(BudgetRegistry::new()).budget(budget).build().unwrap();
    client.transport().access_token().await.unwrap();
    let run = Duration::from_secs(minutes * 60);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + run;
    // Completions per minute of the emulator's clock (the window Zoho counts in).
    let per_minute: Arc<Mutex<BTreeMap<i64, u64>>> = Arc::default();
    let errors = Arc::new(Mutex::new(0u64));
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let books = client.books();
        let emu = emu.clone();
        let per_minute = per_minute.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match tokio::time::timeout_at(deadline, books.organizations()).await {
                    Err(_) => break,
                    Ok(Ok(_)) => {
                        let minute = emu.state().clock.now_ms().div_euclid(60_000);
                        *per_minute.lock().unwrap().entry(minute).or_default() += 1;
                    }
                    Ok(Err(e)) => {
                        eprintln!("error: {e}");
                        *errors.lock().unwrap() += 1;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let per_minute = per_minute.lock().unwrap().clone();
    let done: u64 = per_minute.values().sum();
    let org = client.connection().organization_id.clone();
    let usage = emu.state().limiter.usage(emu.state().clock.now_ms());
    let rejected = usage.books.get(&org).and_then(|v| v["rejected"].as_u64()).unwrap_or(0);
    let throttled = client.budget_usage().iter().map(|u| u.throttled).sum::<u64>();
    let budget_total = PER_MINUTE as u64 * minutes;
    println!("throughput: Books budget {PER_MINUTE}/min in emulator and client, {WORKERS} tasks, {:.1} s", elapsed.as_secs_f64());
    println!("  completed requests      : {done}");
    println!("  used share of budget    : {:.2} % ({done} / {budget_total})", done as f64 * 100.0 / budget_total as f64);
    println!("  per emulator minute     : {:?}", per_minute.values().collect::<Vec<_>>());
    println!("  max in one Zoho minute  : {} (limit {PER_MINUTE})", per_minute.values().max().unwrap_or(&0));
    println!("  429s answered (emulator): {rejected}; seen by client: {throttled}; other errors: {}", errors.lock().unwrap());
    if let Ok(emu) = Arc::try_unwrap(emu) {
        emu.stop().await;
    }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let single = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    single.block_on(overhead());
    let minutes = std::env::var("ZOHO_BENCH_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(2);
    let multi = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    multi.block_on(throughput(minutes));
}
