//! Outgoing webhooks under fault injection: loss, duplication and reordering, each
//! visible in the delivery log and reproducible from the seed.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use zoho_emulator::{
    Emulator, EmulatorConfig, FaultConfig, WebhookFaults,
    webhooks::{BooksWebhook, books_event},
};

/// A receiver that records the `seq` of every body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<i64>>>) {
    let got: Arc<Mutex<Vec<i64>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body.0["invoice"]["seq"].as_i64().unwrap_or(-1));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn run(faults: WebhookFaults, seed: u64, n: i64) -> (Vec<i64>, Vec<usize>) {
    let config = EmulatorConfig { faults: FaultConfig { seed: Some(seed), webhooks: faults, ..FaultConfig::default() }, ..EmulatorConfig::unlimited() };
    let emu = Emulator::start(config, 0).await.unwrap();
    let (url, got) = receiver().await;
    let hooks = vec![BooksWebhook {
        webhook_id: "1".into(),
        organization_id: "42".into(),
        url,
        events: vec!["invoice.*".into()],
        headers: [("X-Secret".to_string(), "s3cret".to_string())].into(),
    }];
    for seq in 0..n {
        books_event(emu.state(), &hooks, "42", "invoice.created", "invoice", &json!({"seq": seq}));
    }
    // Another org's event and an unsubscribed entity are not delivered.
    books_event(emu.state(), &hooks, "43", "invoice.created", "invoice", &json!({"seq": 999}));
    books_event(emu.state(), &hooks, "42", "payment.created", "payment", &json!({"seq": 998}));
    for _ in 0..100 {
        if emu.state().outbox.log().len() as i64 >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let copies: Vec<usize> = emu.state().outbox.log().iter().map(|r| r.copies).collect();
    let received = got.lock().unwrap().clone();
    emu.stop().await;
    (received, copies)
}

#[tokio::test]
async fn clean_delivery_is_complete_and_in_order() {
    let (received, copies) = run(WebhookFaults::default(), 1, 20).await;
    assert_eq!(received, (0..20).collect::<Vec<_>>());
    assert!(copies.iter().all(|c| *c == 1));
}

#[tokio::test]
async fn loss_and_duplication_match_the_log() {
    let faults = WebhookFaults { loss_rate: 0.2, duplicate_rate: 0.3, reorder_window: 0 };
    let (received, copies) = run(faults.clone(), 5, 60).await;
    assert_eq!(copies.len(), 60);
    assert_eq!(received.len(), copies.iter().sum::<usize>(), "every copy the log claims arrived");
    assert!(copies.contains(&0), "some were lost: {copies:?}");
    assert!(copies.contains(&2), "some were duplicated: {copies:?}");
    let (again, _) = run(faults, 5, 60).await;
    assert_eq!(received, again, "the same seed loses and duplicates the same deliveries");
}

#[tokio::test]
async fn reordering_shuffles_within_the_window_and_loses_nothing() {
    let faults = WebhookFaults { reorder_window: 5, ..WebhookFaults::default() };
    let (received, _) = run(faults, 9, 20).await;
    assert_ne!(received, (0..20).collect::<Vec<_>>(), "order changed");
    let mut sorted = received.clone();
    sorted.sort();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>(), "nothing lost");
    for (position, seq) in received.iter().enumerate() {
        assert_eq!(position / 5, *seq as usize / 5, "a delivery stays within its window: {received:?}");
    }
}
