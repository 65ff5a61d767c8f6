//! Fault injection over real HTTP: injected statuses, added latency, timeouts and
//! "commit then drop the response".

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, FaultRule, testkit};

async fn set_faults(http: &reqwest::Client, base: &str, faults: FaultConfig) {
    let r = http.put(format!("{base}/__emulator/faults")).json(&faults).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

fn rule(prefix: &str) -> FaultRule {
    FaultRule { path_prefix: prefix.into(), ..FaultRule::default() }
}

#[tokio::test]
async fn injected_errors_are_answered_without_executing() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    set_faults(
        &http,
        &emu.url(),
        FaultConfig { rules: vec![FaultRule { error_rate: 1.0, error_statuses: vec![503], ..rule("/oauth") }], ..FaultConfig::default() },
    )
    .await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.as_str()),
        ("refresh_token", creds.refresh_token.as_str()),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let r = http.post(format!("{}/oauth/v2/token", emu.url())).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(emu.state().world().accounts.access_tokens.is_empty(), "nothing was executed");
    // The control surface is never faulted.
    assert_eq!(http.get(format!("{}/__emulator/clock", emu.url())).send().await.unwrap().status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn commit_then_drop_executes_the_call_but_the_client_gets_no_answer() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let creds = testkit::credentials(&http, &emu.url()).await.unwrap();
    set_faults(&http, &emu.url(), FaultConfig { rules: vec![FaultRule { drop_response_rate: 1.0, ..rule("/oauth/v2/token") }], ..FaultConfig::default() })
        .await;
    let outcome = testkit::refresh(&http, &creds).await;
    assert!(outcome.is_err(), "the client must not get a usable answer: {outcome:?}");
    assert_eq!(emu.state().world().accounts.access_tokens.len(), 1, "but the token was minted");
    emu.stop().await;
}

#[tokio::test]
async fn latency_and_timeouts_hold_the_request() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    set_faults(
        &http,
        &emu.url(),
        FaultConfig {
            rules: vec![FaultRule { latency_ms: 120, ..rule("/oauth/v2/token/revoke") }, FaultRule { timeout_rate: 1.0, timeout_ms: 5_000, ..rule("/oauth") }],
            ..FaultConfig::default()
        },
    )
    .await;
    let started = Instant::now();
    let r = http.post(format!("{}/oauth/v2/token/revoke?token=x", emu.url())).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"error": "invalid_token"}));
    let timed_out = http.post(format!("{}/oauth/v2/token", emu.url())).send().await.unwrap_err();
    assert!(timed_out.is_timeout(), "{timed_out:?}");
    emu.stop().await;
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fault_sequence() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let config = EmulatorConfig {
            faults: FaultConfig { seed: Some(seed), rules: vec![FaultRule { error_rate: 0.5, ..rule("/oauth") }], ..FaultConfig::default() },
            ..EmulatorConfig::unlimited()
        };
        let emu = Emulator::start(config, 0).await.unwrap();
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..20 {
            let r = http.post(format!("{}/oauth/v2/token/revoke?token=x", emu.url())).send().await.unwrap();
            out.push(r.status().as_u16());
        }
        emu.stop().await;
        out
    }
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await);
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500), "{a:?}");
    assert_ne!(a, statuses(43).await);
}
