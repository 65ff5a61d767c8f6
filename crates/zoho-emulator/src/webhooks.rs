//! Outgoing HTTP calls the emulator makes: CRM Notification API callbacks and Books
//! workflow webhooks.
//!
//! Handlers hand a [`Delivery`] to the [`Outbox`] and return at once; a background task
//! posts it, applying the webhook faults (loss, duplication, reordering) from
//! [`crate::faults`]. Every delivery, including a lost one, is kept in a log that tests
//! read at `GET /__emulator/webhooks/log`.
//!
//! Books has no API to register webhooks (they are set up in its UI), so the emulator
//! offers `POST /__emulator/books/webhooks` to do what a user would do there.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::state::AppState;

/// A Books webhook as configured in Books' Settings → Automation → Webhooks, attached to
/// a workflow rule on some events.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BooksWebhook {
    /// Assigned by the emulator.
    #[serde(default)]
    pub webhook_id: String,
    /// The organisation whose events it receives.
    #[serde(default)]
    pub organization_id: String,
    /// Where to POST.
    pub url: String,
    /// Events such as `invoice.created`, `invoice.overdue`, `payment.created`, or
    /// `invoice.*`; empty means every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// Extra headers (Books users put a shared secret here; Books signs nothing).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl BooksWebhook {
    fn wants(&self, org: &str, event: &str) -> bool {
        (self.organization_id.is_empty() || self.organization_id == org)
            && (self.events.is_empty() || self.events.iter().any(|e| e == event || e.strip_suffix(".*").is_some_and(|p| event.split('.').next() == Some(p))))
    }
}

/// One HTTP POST to make.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// `crm_notification` or `books_webhook`.
    pub kind: String,
    /// The event (`Deals.edit`, `invoice.overdue`, …).
    pub event: String,
    /// Target URL.
    pub url: String,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    pub body: Value,
}

/// What happened to one delivery.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Copies actually sent (0 = lost by fault injection, 2 = duplicated).
    pub copies: usize,
    /// HTTP status of the last copy, when it got an answer.
    pub status: Option<u16>,
    /// Transport error of the last copy, if any.
    pub error: Option<String>,
}

/// The queue of outgoing calls and the log of sent ones.
pub struct Outbox {
    tx: mpsc::UnboundedSender<Delivery>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Delivery>>>,
    log: Mutex<Vec<DeliveryRecord>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// An outbox; nothing is sent until [`start`] runs.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Outbox { tx, rx: Mutex::new(Some(rx)), log: Mutex::new(Vec::new()) }
    }

    /// Queues a delivery. Never blocks.
    pub fn send(&self, delivery: Delivery) {
        let _ = self.tx.send(delivery);
    }

    /// Everything delivered (or lost) so far.
    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Clears the log.
    pub fn clear_log(&self) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn record(&self, r: DeliveryRecord) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }
}

/// Queues a Books webhook for every subscription of `org` that wants `event`.
/// The body is Books' default payload: `{"<entity_key>": {entity JSON}}`.
pub fn books_event(state: &AppState, hooks: &[BooksWebhook], org: &str, event: &str, entity_key: &str, entity: &Value) {
    for hook in hooks.iter().filter(|h| h.wants(org, event)) {
        state.outbox.send(Delivery {
            kind: "books_webhook".into(),
            event: event.into(),
            url: hook.url.clone(),
            headers: hook.headers.clone(),
            body: json!({ entity_key: entity }),
        });
    }
}

/// Starts the delivery task (once; later calls do nothing).
pub fn start(state: AppState) {
    let Some(mut rx) = state.outbox.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("a plain HTTP client builds");
        let mut held: Vec<Delivery> = Vec::new();
        loop {
            let window = state.faults.reorder_window();
            let next = if held.is_empty() {
                rx.recv().await
            } else {
                // Release a partly filled reorder buffer after a short quiet spell.
                match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                    Ok(d) => d,
                    Err(_) => {
                        flush(&state, &client, &mut held).await;
                        continue;
                    }
                }
            };
            let Some(delivery) = next else { break };
            held.push(delivery);
            if held.len() >= window.max(1) {
                flush(&state, &client, &mut held).await;
            }
        }
    });
}

async fn flush(state: &AppState, client: &reqwest::Client, held: &mut Vec<Delivery>) {
    let order = state.faults.webhook_order(held.len());
    let batch: Vec<Delivery> = std::mem::take(held);
    let mut slots: Vec<Option<Delivery>> = batch.into_iter().map(Some).collect();
    for i in order {
        if let Some(d) = slots[i].take() {
            deliver(state, client, d).await;
        }
    }
}

async fn deliver(state: &AppState, client: &reqwest::Client, delivery: Delivery) {
    let copies = state.faults.webhook_copies();
    let mut status = None;
    let mut error = None;
    for _ in 0..copies {
        let mut req = client.post(&delivery.url).json(&delivery.body);
        for (k, v) in &delivery.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) => {
                status = Some(resp.status().as_u16());
                error = None;
            }
            Err(e) => {
                // The query string may carry a shared secret: log the URL without it.
                let shown = delivery.url.split('?').next().unwrap_or_default();
                let e = e.without_url();
                tracing::warn!(url = %shown, error = %e, "webhook delivery failed");
                error = Some(e.to_string());
            }
        }
    }
    state.outbox.record(DeliveryRecord { delivery, copies, status, error });
}
