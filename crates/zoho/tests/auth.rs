//! OAuth against the emulator's Accounts: one refresh for many tasks, expiry mid-run,
//! the refresh-and-retry-once on 401, typed OAuth errors, secrets kept out of Debug.

mod support;

use std::{sync::Arc, time::Duration};

use zoho::{Error, Secret};
use zoho_emulator::{EmulatorConfig, FaultRule};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_tasks_share_one_refresh() {
    let (emu, client, creds) = support::start().await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.books().organizations().await }));
    }
    for t in tasks {
        let orgs = t.await.unwrap().unwrap();
        assert!(orgs.iter().any(|o| o.organization_id.as_deref() == Some(creds.organization_id.as_str())));
    }
    assert_eq!(support::tokens_minted(&emu, &creds), 1, "exactly one token request for 40 tasks");
    assert_eq!(client.token_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_mid_run_refreshes_once_for_everyone() {
    let (emu, client, creds) = support::start().await;
    client.books().organizations().await.unwrap();
    assert_eq!(support::tokens_minted(&emu, &creds), 1);
    // The emulator's clock jumps two hours: the token dies while the client still
    // believes it valid, so 40 tasks meet Books' 401 code 57 / CRM's INVALID_TOKEN.
    emu.state().clock.advance_ms(2 * 3600 * 1000);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 { client.books().organizations().await.map(|_| ()) } else { client.crm().fields("Deals").await.map(|_| ()) }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(support::tokens_minted(&emu, &creds), 2, "one refresh after expiry, not forty");
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let config = EmulatorConfig { token_ttl_secs: 2, ..EmulatorConfig::unlimited() };
    let (emu, creds) = support::emulator(config).await;
    let client = support::builder(&creds).build().unwrap();
    let started = std::time::Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(4500) {
        client.books().organizations().await.unwrap();
        calls += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(calls > 20);
    let minted = support::tokens_minted(&emu, &creds);
    assert!((3..=4).contains(&minted), "a fresh token about every 1.8 s, got {minted}");
}

#[tokio::test]
async fn a_refused_token_is_refreshed_and_the_call_retried_once() {
    let (emu, client, creds) = support::start().await;
    client.crm().fields("Deals").await.unwrap();
    // Zoho revokes the token (e.g. an 11th token was issued elsewhere).
    emu.state().world().accounts.access_tokens.clear();
    client.crm().fields("Deals").await.unwrap();
    assert_eq!(support::tokens_minted(&emu, &creds), 2);
    emu.state().world().accounts.access_tokens.clear();
    client.books().organizations().await.unwrap();
    assert_eq!(support::tokens_minted(&emu, &creds), 3);
}

#[tokio::test]
async fn oauth_errors_inside_http_200_are_typed() {
    let (_emu, creds) = support::emulator(EmulatorConfig::unlimited()).await;
    let mut bad = creds.clone();
    bad.refresh_token = "1000.not.a.token".into();
    let client = support::builder(&bad).build().unwrap();
    match client.books().organizations().await {
        Err(Error::OAuth { code, .. }) => assert_eq!(code, "invalid_code"),
        other => panic!("expected invalid_code, got {other:?}"),
    }
    let mut bad = creds.clone();
    bad.client_id = "1000.UNKNOWN".into();
    let client = support::builder(&bad).build().unwrap();
    let err = client.crm().fields("Deals").await.unwrap_err();
    assert!(matches!(&err, Error::OAuth { code, .. } if code == "invalid_client"), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let (_emu, client, creds) = support::start().await;
    client.books().organizations().await.unwrap();
    let shown = format!("{client:?} {:?}", client.connection());
    assert!(!shown.contains(creds.client_secret.expose()));
    assert!(!shown.contains(creds.refresh_token.expose()));
    let token = client.transport().access_token().await.unwrap();
    assert!(!format!("{token:?}").contains(token.token.expose()));
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    let mut bad = creds.clone();
    bad.client_secret = "wrong-secret-value".into();
    let err = support::builder(&bad).build().unwrap().books().organizations().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("wrong-secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_refresh_is_shared_not_repeated_by_every_task() {
    // Zoho's throttle: 3 token requests per window, so a stampede would be refused.
    let mut config = EmulatorConfig { token_requests_per_window: Some(3), ..EmulatorConfig::unlimited() };
    // The token endpoint answers slowly, and every task has started before the first
    // answer arrives, so all 40 are queued behind the first refresh however the
    // scheduler runs them (without this a loaded machine could run them one by one).
    config.faults.rules.push(FaultRule { path_prefix: "/oauth/v2/token".into(), latency_ms: 300, ..FaultRule::default() });
    let (emu, creds) = support::emulator(config).await;
    let mut bad = creds.clone();
    bad.client_secret = "not-the-secret".into();
    let client = support::builder(&bad).build().unwrap();
    let started = Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let client = client.clone();
        let started = started.clone();
        tasks.push(tokio::spawn(async move {
            started.wait().await;
            client.books().organizations().await
        }));
    }
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(&err, Error::OAuth { code, .. } if code == "invalid_client_secret"), "{err:?}");
    }
    assert!(client.token_refreshes() <= 2, "tasks queued behind a failed refresh share it: {} refreshes", client.token_refreshes());
    // The good client still gets its token: the bad one did not burn the throttle.
    let good = support::builder(&creds).build().unwrap();
    good.books().organizations().await.unwrap();
    assert_eq!(support::tokens_minted(&emu, &creds), 1);
}

#[tokio::test]
async fn a_wrong_organisation_is_a_typed_error_after_one_refresh_at_most() {
    let (emu, creds) = support::emulator(EmulatorConfig::unlimited()).await;
    let mut wrong = creds.clone();
    wrong.organization_id = "999999999".into();
    let client = support::builder(&wrong).build().unwrap();
    let err = client.books().contacts(zoho::books::ListQuery::new()).next_page_error().await;
    let api = err.api().expect("an API error");
    assert!(api.books_code().is_some_and(|c| c != 0), "{err}");
    assert!(!err.is_retryable());
    assert!(support::tokens_minted(&emu, &creds) <= 2);
}

trait FirstError {
    async fn next_page_error(self) -> Error;
}

impl<S: futures_util::Stream<Item = zoho::Result<zoho::books::models::Contact>>> FirstError for S {
    async fn next_page_error(self) -> Error {
        use futures_util::TryStreamExt;
        self.try_collect::<Vec<_>>().await.expect_err("listing a wrong organisation fails")
    }
}

/// A token cache in memory, standing in for the engine's store.
#[derive(Debug, Default)]
struct MemoryCache(std::sync::Mutex<std::collections::HashMap<String, zoho::SealedToken>>);

impl zoho::TokenCache for MemoryCache {
    fn load<'a>(&'a self, key: &'a str) -> futures_util::future::BoxFuture<'a, Result<Option<zoho::SealedToken>, String>> {
        let found = self.0.lock().unwrap().get(key).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(&'a self, key: &'a str, token: &'a zoho::SealedToken) -> futures_util::future::BoxFuture<'a, Result<(), String>> {
        self.0.lock().unwrap().insert(key.to_string(), token.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Ten "processes" (clients with nothing in common but the cache) start one after the
/// other: one token request between them, not ten; the cache holds no token in clear.
/// When Zoho refuses the shared token, one process refreshes and the others take its new
/// one from the cache.
#[tokio::test]
async fn processes_share_one_token_through_a_token_cache() {
    let (emu, creds) = support::emulator(zoho_emulator::EmulatorConfig::unlimited()).await;
    let cache = Arc::new(MemoryCache::default());
    let process = || support::builder(&creds).token_cache(cache.clone()).build().expect("client");
    let clients: Vec<zoho::Client> = (0..10).map(|_| process()).collect();
    for c in &clients {
        c.books().organizations().await.unwrap();
    }
    assert_eq!(support::tokens_minted(&emu, &creds), 1, "one token for ten processes");
    assert_eq!(clients.iter().map(|c| c.token_refreshes()).sum::<u64>(), 1);
    let stored = cache.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    let (key, sealed) = stored.into_iter().next().unwrap();
    assert!(!key.contains(creds.refresh_token.expose()) && !sealed.sealed.contains(creds.refresh_token.expose()));
    for token in emu.state().world().accounts.access_tokens.keys() {
        assert!(!sealed.sealed.contains(token.as_str()), "the cache holds the token sealed only");
    }

    // Zoho refuses it: the first process to notice refreshes and shares; the rest follow.
    emu.state().world().accounts.access_tokens.clear();
    for c in &clients {
        c.crm().fields("Deals").await.unwrap();
    }
    assert_eq!(support::tokens_minted(&emu, &creds), 2, "one new token, shared");
    assert_eq!(clients.iter().map(|c| c.token_refreshes()).sum::<u64>(), 2);

    // A process of another connection (another refresh token) cannot use it.
    let mut other = creds.clone();
    other.refresh_token = "1000.not-the-same".into();
    let stranger = support::builder(&other).token_cache(cache.clone()).build().expect("client");
    assert!(stranger.books().organizations().await.is_err(), "its own (unknown) refresh token is refused");
}
