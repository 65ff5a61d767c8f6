//! Fault injection: the failures a real network and a real Zoho produce, on demand and
//! reproducibly.
//!
//! Rules are set per run (config, `--faults`) or changed live (`PUT /__emulator/faults`)
//! and match requests by path prefix and method. A matching request may be delayed,
//! answered with a 500/502/503, held until the client gives up (a timeout), or — the
//! nastiest case for a sync engine — *executed* and then have its connection dropped
//! before any response arrives ("commit then drop"). Webhook faults (loss, duplication,
//! reordering) live here too and are applied by the outbox. Every decision comes from one
//! seeded generator, so a failing run can be replayed exactly.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    errors::{books_error, crm_error},
    rng::Rng,
    state::AppState,
};

/// All fault settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the fault dice (defaults to the emulator's seed).
    pub seed: Option<u64>,
    /// Request faults; the first rule that matches a request applies.
    pub rules: Vec<FaultRule>,
    /// Faults on outgoing webhooks and notification callbacks.
    pub webhooks: WebhookFaults,
}

impl FaultConfig {
    /// `ms` of latency on every CRM and Books call and nothing else (the token endpoint and
    /// the control surface answer at once): "Zoho is `ms` away", as the benchmarks want it.
    /// Start an emulator with it (`EmulatorConfig { faults: FaultConfig::api_latency(100), .. }`),
    /// or send it to a running one (`PUT /__emulator/faults`, or the CLI's `--faults FILE`
    /// with the same two rules).
    pub fn api_latency(ms: u64) -> FaultConfig {
        let rule = |prefix: &str| FaultRule { path_prefix: prefix.into(), latency_ms: ms, ..FaultRule::default() };
        FaultConfig { rules: vec![rule("/crm/"), rule("/books/")], ..FaultConfig::default() }
    }
}

/// Faults for the requests one rule matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Requests whose path starts with this (`""` matches everything).
    pub path_prefix: String,
    /// Only this HTTP method, if set (`"POST"`).
    pub method: Option<String>,
    /// Share of requests answered with one of `error_statuses` without being executed.
    pub error_rate: f64,
    /// Statuses to pick from for injected errors.
    pub error_statuses: Vec<u16>,
    /// Latency added to every matching request, ms.
    pub latency_ms: u64,
    /// Share of requests held for `timeout_ms` and then dropped without an answer.
    pub timeout_rate: f64,
    /// How long a "timed out" request is held.
    pub timeout_ms: u64,
    /// Share of requests executed (committed) whose connection is then dropped.
    pub drop_response_rate: f64,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            path_prefix: String::new(),
            method: None,
            error_rate: 0.0,
            error_statuses: vec![500, 502, 503],
            latency_ms: 0,
            timeout_rate: 0.0,
            timeout_ms: 30_000,
            drop_response_rate: 0.0,
        }
    }
}

/// Faults on webhooks the emulator sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    /// Share of deliveries silently lost.
    pub loss_rate: f64,
    /// Share of deliveries sent twice.
    pub duplicate_rate: f64,
    /// Deliveries are held in a buffer of this size and released in shuffled order
    /// (0 or 1: in order).
    pub reorder_window: usize,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Serve it normally.
    Pass,
    /// Answer with this status without executing it.
    Error(u16),
    /// Hold it this long, then drop the connection without executing it.
    Timeout(u64),
    /// Execute it, then drop the connection instead of answering.
    DropResponse,
}

/// The live fault settings and their dice.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<(FaultConfig, Rng)>,
    /// Whether any request rule is set: the common case (none) skips the lock.
    has_rules: AtomicBool,
}

impl Faults {
    /// Faults from config; `default_seed` is used when the config has none.
    pub fn new(config: FaultConfig, default_seed: u64) -> Self {
        let rng = Rng::new(config.seed.unwrap_or(default_seed) ^ 0xFA17);
        let has_rules = AtomicBool::new(!config.rules.is_empty());
        Faults { inner: Mutex::new((config, rng)), has_rules }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultConfig, Rng)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings in force.
    pub fn config(&self) -> FaultConfig {
        self.lock().0.clone()
    }

    /// Replaces the settings and re-seeds the dice.
    pub fn set(&self, config: FaultConfig, default_seed: u64) {
        self.has_rules.store(!config.rules.is_empty(), Ordering::Relaxed);
        *self.lock() = (config.clone(), Rng::new(config.seed.unwrap_or(default_seed) ^ 0xFA17));
    }

    /// Rolls the dice for one request: (added latency ms, action).
    pub fn decide(&self, method: &str, path: &str) -> (u64, Action) {
        let mut guard = self.lock();
        let (config, rng) = &mut *guard;
        let Some(rule) = config.rules.iter().find(|r| path.starts_with(&r.path_prefix) && r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)))
        else {
            return (0, Action::Pass);
        };
        let action = if rng.chance(rule.error_rate) && !rule.error_statuses.is_empty() {
            Action::Error(*rng.pick(&rule.error_statuses))
        } else if rng.chance(rule.timeout_rate) {
            Action::Timeout(rule.timeout_ms)
        } else if rng.chance(rule.drop_response_rate) {
            Action::DropResponse
        } else {
            Action::Pass
        };
        (rule.latency_ms, action)
    }

    /// Rolls the dice for one outgoing webhook: how many copies to send (0, 1 or 2).
    pub fn webhook_copies(&self) -> usize {
        let mut guard = self.lock();
        let (config, rng) = &mut *guard;
        if rng.chance(config.webhooks.loss_rate) {
            0
        } else if rng.chance(config.webhooks.duplicate_rate) {
            2
        } else {
            1
        }
    }

    /// The reorder window for webhooks, and a shuffle of `n` positions.
    pub fn webhook_order(&self, n: usize) -> Vec<usize> {
        let mut guard = self.lock();
        let rng = &mut guard.1;
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        order
    }

    /// The configured reorder window.
    pub fn reorder_window(&self) -> usize {
        self.lock().0.webhooks.reorder_window
    }
}

/// A response body that fails at once: hyper aborts the connection, so the client sees
/// the connection close with no (or an incomplete) answer.
fn dropped_connection() -> Response {
    Response::new(Body::from_stream(FailingBody))
}

/// A body stream whose first poll is an error.
struct FailingBody;

impl futures_core::Stream for FailingBody {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("fault injection: connection dropped"))))
    }
}

/// The error answer for an injected status, in the shape of the API that was called.
fn injected_error(path: &str, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        if path.starts_with("/books") {
            return books_error(status, 1000, "Internal error");
        }
        if path.starts_with("/crm") {
            return crm_error(status, "INTERNAL_ERROR", "Internal Server Error", json!({}));
        }
    }
    // 502/503 come from Zoho's front proxies as plain text, not API JSON.
    (status, status.canonical_reason().unwrap_or("error").to_string()).into_response()
}

/// Middleware applying the fault rules.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.faults.has_rules.load(Ordering::Relaxed) {
        return next.run(req).await;
    }
    // Inside a nested router the URI has lost its `/crm/v8` or `/books/v3` prefix; rules
    // are written against the full path.
    let path = req.extensions().get::<axum::extract::OriginalUri>().map(|u| u.path().to_string()).unwrap_or_else(|| req.uri().path().to_string());
    let (latency, action) = state.faults.decide(req.method().as_str(), &path);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match action {
        Action::Pass => next.run(req).await,
        Action::Error(status) => injected_error(&path, status),
        Action::Timeout(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            dropped_connection()
        }
        Action::DropResponse => {
            let resp = next.run(req).await;
            drop(resp);
            dropped_connection()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_latency_delays_crm_and_books_but_not_the_token_endpoint() {
        let faults = Faults::new(FaultConfig::api_latency(100), 1);
        assert_eq!(faults.decide("GET", "/crm/v8/Deals"), (100, Action::Pass));
        assert_eq!(faults.decide("POST", "/books/v3/invoices"), (100, Action::Pass));
        assert_eq!(faults.decide("POST", "/oauth/v2/token"), (0, Action::Pass));
        assert_eq!(faults.decide("GET", "/__emulator/stats"), (0, Action::Pass));
    }

    #[test]
    fn decisions_are_deterministic_and_match_rules() {
        let config = FaultConfig {
            rules: vec![FaultRule { path_prefix: "/books".into(), method: Some("POST".into()), error_rate: 0.5, ..FaultRule::default() }],
            ..FaultConfig::default()
        };
        let a = Faults::new(config.clone(), 3);
        let b = Faults::new(config, 3);
        let xs: Vec<_> = (0..50).map(|_| a.decide("POST", "/books/v3/invoices")).collect();
        let ys: Vec<_> = (0..50).map(|_| b.decide("POST", "/books/v3/invoices")).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|(_, a)| matches!(a, Action::Error(_))));
        assert!(xs.iter().any(|(_, a)| *a == Action::Pass));
        assert_eq!(a.decide("GET", "/books/v3/invoices"), (0, Action::Pass));
        assert_eq!(a.decide("POST", "/crm/v8/Deals"), (0, Action::Pass));
    }
}
