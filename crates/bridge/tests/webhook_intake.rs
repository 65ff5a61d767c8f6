//! The webhook receiver stores concurrent deliveries together: many deliveries, few
//! transactions; none acknowledged before the transaction holding it committed; each
//! stored exactly once and repeated deliveries absorbed; and a group the store refuses
//! is stored delivery by delivery, so one bad delivery does not refuse the others.

mod engine_support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use axum::{extract::Request, middleware::Next, response::Response};
use bridge::{
    store::{JobStatus, Store},
    triggers::{ChannelTokens, Clock, Routes, SecretString, System, TriggerConfig, webhooks::router_with_clock},
};
use engine_support::{Probe, TempDir, count, eventually, sqlite};
use serde_json::Value;

const SECRET: &str = "books-secret";

fn config() -> TriggerConfig {
    let mut c = TriggerConfig::new("default");
    c.webhooks.books_secret = Some(SecretString::new(SECRET));
    c.routes = Routes::default().with(System::Books, "items", &["catalog_sync"]);
    c
}

/// Serves the receiver on `store`; returns its URL and the count of requests that reached
/// it.
async fn serve<S: Store>(store: S) -> (String, Arc<AtomicUsize>) {
    zoho_emulator::install_crypto_provider();
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = arrived.clone();
    let app =
        router_with_clock(store, config(), ChannelTokens::new(), Clock::system()).layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let response: Response = next.run(request).await;
                response
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks/books"), arrived)
}

/// The Books webhook body for item `id` (no modified time: the dedup key is the body's
/// hash, so the same body twice is one change).
fn body(id: &str) -> String {
    format!(r#"{{"item": {{"item_id": "{id}", "name": "Item {id}"}}}}"#)
}

/// The dedup key the receiver gives `body(id)`, read back from the store once stored.
async fn dedup_key<S: Store>(store: &S, id: &str) -> Option<String> {
    let events = store.events_for_record("books", "items", id, 1).await.expect("events");
    events.first().map(|e| e.event.dedup_key.clone())
}

/// Posts `body(id)`; answers (status, JSON body, whether the probe had committed the
/// event when the answer arrived).
async fn deliver<S: Store>(http: reqwest::Client, url: String, store: Probe<S>, id: String) -> (u16, Value, bool) {
    let response =
        http.post(url).header("x-zoho-bridge-secret", SECRET).header("content-type", "application/json").body(body(&id)).send().await.expect("answer");
    // Read what was committed the moment the answer is in, before anything else runs.
    let stored = dedup_key(&store.inner, &id).await.is_some_and(|key| store.committed(&key));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null), stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_share_a_transaction_and_are_acknowledged_after_it() {
    const DELIVERIES: usize = 40;
    let dir = TempDir::new("intake");
    let store = Probe::new(sqlite(&dir, Duration::from_secs(30)).await);
    let (url, arrived) = serve(store.clone()).await;
    let http = reqwest::Client::new();

    // The store holds every transaction until the gate opens.
    store.close_gate();
    let ids: Vec<String> = (0..DELIVERIES).map(|n| format!("{}", 9_000 + n)).collect();
    let answers: Vec<_> = ids.iter().map(|id| tokio::spawn(deliver(http.clone(), url.clone(), store.clone(), id.clone()))).collect();
    assert!(eventually(10, || async { arrived.load(Ordering::SeqCst) == DELIVERIES && store.calls("add_events") >= 1 }).await);
    assert!(answers.iter().all(|a| !a.is_finished()), "a delivery was acknowledged before its transaction committed");
    store.open_gate();
    let mut stored = 0;
    for answer in answers {
        let (status, body, committed) = answer.await.expect("delivery");
        assert_eq!(status, 200, "{body}");
        assert!(committed, "acknowledged before its event was committed: {body}");
        stored += body["stored"].as_u64().unwrap_or(0);
    }
    assert_eq!(stored, DELIVERIES as u64);
    let transactions = store.calls("add_events");
    assert!(transactions <= (DELIVERIES / 4) as u64, "{DELIVERIES} deliveries took {transactions} transactions");
    assert_eq!(count(&store.inner, JobStatus::Queued).await, DELIVERIES as i64);

    // The same deliveries again, concurrently: all acknowledged, nothing new stored.
    let again: Vec<_> = ids.iter().map(|id| tokio::spawn(deliver(http.clone(), url.clone(), store.clone(), id.clone()))).collect();
    for answer in again {
        let (status, body, _) = answer.await.expect("delivery");
        assert_eq!((status, body["stored"].as_u64(), body["duplicates"].as_u64()), (200, Some(0), Some(1)), "{body}");
    }
    assert_eq!(count(&store.inner, JobStatus::Queued).await, DELIVERIES as i64);
    assert!(store.errors().is_empty(), "{:?}", store.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_does_not_refuse_the_others_stored_with_it() {
    const DELIVERIES: usize = 12;
    let dir = TempDir::new("intake-refused");
    let store = Probe::new(sqlite(&dir, Duration::from_secs(30)).await);
    let (url, arrived) = serve(store.clone()).await;
    let http = reqwest::Client::new();
    store.refuse_record("poison");
    store.close_gate();
    // A first delivery holds the intake at the gate while the others queue behind it.
    let first = tokio::spawn(deliver(http.clone(), url.clone(), store.clone(), "first".into()));
    assert!(eventually(10, || async { store.calls("add_events") >= 1 }).await);
    let mut ids: Vec<String> = (0..DELIVERIES).map(|n| format!("{}", 7_000 + n)).collect();
    ids.insert(DELIVERIES / 2, "poison".into());
    let answers: Vec<_> = ids.iter().map(|id| (id.clone(), tokio::spawn(deliver(http.clone(), url.clone(), store.clone(), id.clone())))).collect();
    assert!(eventually(10, || async { arrived.load(Ordering::SeqCst) == DELIVERIES + 2 }).await);
    store.open_gate();
    assert_eq!(first.await.expect("first").0, 200);
    for (id, answer) in answers {
        let (status, body, committed) = answer.await.expect("delivery");
        if id == "poison" {
            assert_eq!(status, 500, "{body}");
        } else {
            assert_eq!((status, committed), (200, true), "{id}: {body}");
        }
    }
    assert_eq!(count(&store.inner, JobStatus::Queued).await, DELIVERIES as i64 + 1);
}
