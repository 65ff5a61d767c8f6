//! Rate budgets against the emulator's limits: a 429 storm pauses the organisation for
//! the time Books gives and loses nothing; a client budget that matches the server's
//! causes no 429 at all, also right after a restart, when Zoho still counts the calls
//! of the process before it.

mod support;

use std::time::{Duration, Instant};

use zoho::{BudgetConfig, RetryPolicy};
use zoho_emulator::{EmulatorConfig, FaultConfig, FaultRule, LimitsConfig};

fn books_rejected(emu: &zoho_emulator::Emulator, org: &str) -> u64 {
    let usage = emu.state().limiter.usage(emu.state().clock.now_ms());
    usage.books.get(org).and_then(|v| v["rejected"].as_u64()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_books_429_storm_pauses_the_org_and_loses_nothing() {
    let limits = LimitsConfig { books_per_minute: Some(15), ..LimitsConfig::unlimited() };
    let (emu, creds) = support::emulator(EmulatorConfig { limits, ..EmulatorConfig::unlimited() }).await;
    let client = support::builder(&creds).budget(BudgetConfig { books_per_minute: Some(15), ..BudgetConfig::unlimited() }).build().unwrap();
    client.books().organizations().await.unwrap();
    // Put Zoho's minute boundary ten seconds ahead (always forward, whatever second of
    // the minute the test starts at), so the test does not wait a minute; everything
    // below lands in that one emulated minute, even on a slow machine.
    minute_ends_in(&emu, 10);
    // Another process spends the rest of this minute's 15 requests behind our back (14:
    // our first call is in this minute too), so our next request meets a 429 whatever the
    // timing. (It spent 10 before: then the first of our answers could tell the client how
    // few were left before its other requests went out, and it held them without a 429,
    // a race that failed the test on some runs.)
    let http = reqwest::Client::new();
    let (_, token) = zoho_emulator::testkit::login(&http, &emu.url()).await.unwrap();
    for _ in 0..14 {
        let r = http
            .get(format!("{}/books/v3/organizations?organization_id={}", emu.url(), creds.organization_id))
            .header("authorization", zoho_emulator::testkit::auth_header(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.books().organizations().await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every request eventually succeeds");
    }
    let rejected = books_rejected(&emu, &creds.organization_id);
    assert!(rejected >= 1, "the storm happened");
    assert!(rejected <= 12, "no hot loop: at most one 429 per request in flight, got {rejected}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(20), "waited for Zoho's reset only: {waited:?}");
    let books = client.budget_usage().into_iter().find(|u| u.api == zoho::Api::Books).unwrap();
    assert!(books.throttled >= 1);
    let server = books.server.expect("X-Rate-Limit headers observed");
    assert_eq!(server.limit, 15);
}

/// Puts the emulator's minute boundary `secs` seconds away (always moving the clock
/// forward, whatever second of the minute it is), so a test that waits for Zoho's reset
/// waits seconds, not a minute.
fn minute_ends_in(emu: &zoho_emulator::Emulator, secs: i64) {
    let now = emu.state().clock.now_ms();
    emu.state().clock.advance_ms((60_000 - now.rem_euclid(60_000) - secs * 1_000).rem_euclid(60_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_client_starts_from_zohos_count_and_causes_no_429() {
    const PER_MINUTE: u32 = 10;
    let limits = LimitsConfig { books_per_minute: Some(PER_MINUTE), ..LimitsConfig::unlimited() };
    let (emu, creds) = support::emulator(EmulatorConfig { limits, ..EmulatorConfig::unlimited() }).await;
    minute_ends_in(&emu, 6);
    let budget = BudgetConfig { books_per_minute: Some(PER_MINUTE), ..BudgetConfig::unlimited() };
    // The process before the restart (its own budget registry) spends 8 of the minute's 10.
    let before = support::builder(&creds).budget(budget.clone()).build().unwrap();
    for _ in 0..8 {
        before.books().organizations().await.unwrap();
    }
    drop(before);
    // The restarted process: a fresh registry, so a fresh budget; a burst at once.
    let after = support::builder(&creds).budget(budget).build().unwrap();
    after.transport().access_token().await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let client = after.clone();
        tasks.push(tokio::spawn(async move { client.books().organizations().await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every request succeeds");
    }
    assert_eq!(books_rejected(&emu, &creds.organization_id), 0, "no 429 reached Zoho");
    let books = after.budget_usage().into_iter().find(|u| u.api == zoho::Api::Books).unwrap();
    assert_eq!((books.throttled, books.admitted), (0, 6), "each call sent once");
    // Two fitted in the old minute (the probe and the one Zoho said remained); the rest
    // waited for Zoho's reset instead of meeting 429s.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(3) && waited < Duration::from_secs(15), "{waited:?}");
    assert!(books.waited >= Duration::from_secs(3), "the budget did the waiting: {:?}", books.waited);
}

fn crm_emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        limits: LimitsConfig { crm_concurrency: Some(2), ..LimitsConfig::unlimited() },
        faults: FaultConfig { rules: vec![FaultRule { path_prefix: "/crm".into(), latency_ms: 60, ..FaultRule::default() }], ..FaultConfig::default() },
        ..EmulatorConfig::unlimited()
    }
}

async fn crm_burst(client: &zoho::Client, n: usize) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.crm().fields("Deals").await }));
    }
    for t in tasks {
        assert!(!t.await.unwrap().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crm_concurrency_429s_are_waited_out() {
    let (emu, creds) = support::emulator(crm_emulator_config()).await;
    let client = support::builder(&creds).retry(RetryPolicy { rate_limit_pause: Duration::from_millis(50), ..RetryPolicy::default() }).build().unwrap();
    crm_burst(&client, 12).await;
    let rejected = emu.state().limiter.usage(emu.state().clock.now_ms()).crm_rejected;
    assert!(rejected >= 1, "the client had no concurrency limit, so the server refused some");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_matching_crm_budget_causes_no_429() {
    let (emu, creds) = support::emulator(crm_emulator_config()).await;
    let client = support::builder(&creds).budget(BudgetConfig { crm_concurrency: Some(2), ..BudgetConfig::unlimited() }).build().unwrap();
    crm_burst(&client, 12).await;
    assert_eq!(emu.state().limiter.usage(emu.state().clock.now_ms()).crm_rejected, 0);
    let crm = client.budget_usage().into_iter().find(|u| u.api == zoho::Api::Crm).unwrap();
    assert_eq!(crm.admitted, 12, "12 calls, none repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_429_rounds_run_out_the_error_is_returned_not_retried_again() {
    let mut config = crm_emulator_config();
    config.limits.crm_concurrency = Some(1);
    config.faults.rules[0].latency_ms = 300;
    let (emu, creds) = support::emulator(config).await;
    let client = support::builder(&creds)
        .retry(RetryPolicy { max_rate_limited: 0, rate_limit_pause: Duration::from_millis(10), ..RetryPolicy::default() })
        .build()
        .unwrap();
    client.transport().access_token().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.crm().fields("Deals").await }));
    }
    let mut refused = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.status(), Some(429), "{e}");
            assert!(e.is_retryable(), "the caller may try again later");
            refused += 1;
        }
    }
    assert!(refused >= 1);
    let rejected = emu.state().limiter.usage(emu.state().clock.now_ms()).crm_rejected;
    assert_eq!(rejected, refused, "each refused call was sent once, not retried by the backoff too");
}
