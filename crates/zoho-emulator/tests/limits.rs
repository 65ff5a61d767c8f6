//! Zoho's limits over real HTTP: Books per-minute and per-day budgets per organisation
//! with `X-Rate-Limit-*` headers, CRM credits and concurrency, each refused with Zoho's
//! own 429 body.

use std::time::Duration;

use serde_json::Value;
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule, LimitsConfig, testkit};

fn config(limits: LimitsConfig) -> EmulatorConfig {
    EmulatorConfig { limits, ..EmulatorConfig::unlimited() }
}

#[tokio::test]
async fn books_per_minute_budget_answers_429_with_headers_until_the_minute_turns() {
    let emu = Emulator::start(config(LimitsConfig { books_per_minute: Some(5), ..LimitsConfig::unlimited() }), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let url = format!("{}/books/v3/settings/taxes?organization_id={}", emu.url(), creds.organization_id);
    let get = || http.get(&url).header("Authorization", testkit::auth_header(&token)).send();
    for remaining in (0..5).rev() {
        let r = get().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["X-Rate-Limit-Limit"], "5");
        assert_eq!(r.headers()["X-Rate-Limit-Remaining"], remaining.to_string().as_str());
    }
    let r = get().await.unwrap();
    assert_eq!(r.status(), 429);
    let reset: i64 = r.headers()["X-Rate-Limit-Reset"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 44);
    assert!(body["message"].as_str().unwrap().contains("too many requests"));

    // Another organisation has its own budget; the next minute resets this one.
    let other = http
        .get(format!("{}/books/v3/settings/taxes?organization_id=999", emu.url()))
        .header("Authorization", testkit::auth_header(&token))
        .send()
        .await
        .unwrap();
    assert_ne!(other.status(), 429);
    emu.state().clock.advance_ms(61_000);
    assert_eq!(get().await.unwrap().status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn books_daily_quota_answers_429_with_its_own_code() {
    let emu = Emulator::start(config(LimitsConfig { books_per_day: Some(3), ..LimitsConfig::unlimited() }), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let url = format!("{}/books/v3/settings/taxes?organization_id={}", emu.url(), creds.organization_id);
    for _ in 0..3 {
        let r = http.get(&url).header("Authorization", testkit::auth_header(&token)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http.get(&url).header("Authorization", testkit::auth_header(&token)).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 45);
    emu.stop().await;
}

#[tokio::test]
async fn crm_credits_run_out_over_24_hours() {
    let emu = Emulator::start(config(LimitsConfig { crm_credits_per_day: Some(3), ..LimitsConfig::unlimited() }), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let get = || http.get(format!("{}/crm/v8/org", emu.url())).header("Authorization", testkit::auth_header(&token)).send();
    for _ in 0..3 {
        assert_eq!(get().await.unwrap().status(), 200);
    }
    let r = get().await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_REQUESTS");
    assert_eq!(body["status"], "error");
    emu.state().clock.advance_ms(86_400_000 + 60_000);
    // A day later the access token has expired too; a fresh one spends the new budget.
    let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let r = http.get(format!("{}/crm/v8/org", emu.url())).header("Authorization", testkit::auth_header(&token)).send();
    assert_eq!(r.await.unwrap().status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn crm_calls_beyond_the_concurrency_limit_are_refused() {
    let mut cfg = config(LimitsConfig { crm_concurrency: Some(2), ..LimitsConfig::unlimited() });
    cfg.faults = FaultConfig { rules: vec![FaultRule { path_prefix: "/crm".into(), latency_ms: 300, ..FaultRule::default() }], ..FaultConfig::default() };
    let emu = Emulator::start(cfg, 0).await.unwrap();
    let http = reqwest::Client::new();
    let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
    let calls = (0..5).map(|_| http.get(format!("{}/crm/v8/org", emu.url())).header("Authorization", testkit::auth_header(&token)).send());
    let mut statuses = Vec::new();
    for r in futures_join(calls.collect()).await {
        statuses.push(r.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 429, 429, 429], "two in flight at once");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let usage: Value = http.get(format!("{}/__emulator/limits", emu.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(usage["crm_in_flight"], 0);
    assert_eq!(usage["crm_rejected"], 3);
    emu.stop().await;
}

/// Runs futures concurrently on the current task set (no futures crate needed).
async fn futures_join<F, T>(futs: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = reqwest::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn the_emulator_says_which_limits_it_enforces() {
    let limits = LimitsConfig { books_per_minute: Some(7), books_per_day: Some(700), crm_credits_per_day: None, crm_concurrency: Some(3) };
    let emu = Emulator::start(config(limits), 0).await.unwrap();
    let http = reqwest::Client::new();
    let said = testkit::limits(&http, &emu.url()).await.unwrap();
    assert_eq!((said.books_per_minute, said.books_per_day, said.crm_credits_per_day, said.crm_concurrency), (Some(7), Some(700), None, Some(3)));
    // A change made live is what it says next.
    let r = http.put(format!("{}/__emulator/limits", emu.url())).json(&serde_json::json!({"books_per_minute": null})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(testkit::limits(&http, &emu.url()).await.unwrap().books_per_minute, None);
    emu.stop().await;
}
