//! `/metrics`: the engine's series in Prometheus' text format.
//!
//! Counters and the latency histogram are kept by the Prometheus recorder this module
//! installs for the process ([`install`]); the crates count through the `metrics`
//! facade as things happen (`bridge::telemetry`, `zoho::telemetry`). What lives in the
//! store or the client is read at each scrape and set as gauges before rendering: jobs
//! per status and the dead letters among them, approvals waiting, open review items,
//! totals mismatches, and the rate budget left per API, organisation and window. When
//! the store cannot be read, `zoho_bridge_store_up` is 0 and the store's gauges keep
//! their last values.
//!
//! | series | type | labels |
//! | --- | --- | --- |
//! | `zoho_bridge_events_total` | counter | `source`, `result` (`stored`, `duplicate`) |
//! | `zoho_bridge_jobs_total` | counter | `flow`, `outcome` (`done`, `skipped`, `retried`, `dead`, `unrecorded`) |
//! | `zoho_bridge_flow_latency_seconds` | histogram | `flow` |
//! | `zoho_bridge_zoho_calls_total` | counter | `api` (`crm`, `books`, `accounts`), `operation`, `status` |
//! | `zoho_bridge_budget_remaining` | gauge | `api`, `organization`, `window` |
//! | `zoho_bridge_budget_limit` | gauge | `api`, `organization`, `window` |
//! | `zoho_bridge_jobs` | gauge | `status` |
//! | `zoho_bridge_dead_letters` | gauge | |
//! | `zoho_bridge_approvals_waiting` | gauge | |
//! | `zoho_bridge_review_items_open` | gauge | |
//! | `zoho_bridge_totals_mismatches` | gauge | |
//! | `zoho_bridge_store_up` | gauge | |

use std::{sync::Mutex, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use bridge::{
    store::{ApprovalStatus, Approvals, JobStatus, ReviewStatus, Reviews, Store},
    telemetry::{FLOW_LATENCY, FLOW_LATENCY_BUCKETS},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::Operations;

/// Gauge of jobs in the store per `status`.
pub const JOBS_IN_STORE: &str = "zoho_bridge_jobs";
/// Gauge of dead letters (dead jobs waiting for a person).
pub const DEAD_LETTERS: &str = "zoho_bridge_dead_letters";
/// Gauge of approvals waiting for a decision.
pub const APPROVALS_WAITING: &str = "zoho_bridge_approvals_waiting";
/// Gauge of open review items (customer matches to decide).
pub const REVIEW_ITEMS_OPEN: &str = "zoho_bridge_review_items_open";
/// Gauge of totals mismatches found (audit entries `totals_mismatch`).
pub const TOTALS_MISMATCHES: &str = "zoho_bridge_totals_mismatches";
/// Gauge of what this process may still use of a rate budget window.
pub const BUDGET_REMAINING: &str = "zoho_bridge_budget_remaining";
/// Gauge of a rate budget window's limit.
pub const BUDGET_LIMIT: &str = "zoho_bridge_budget_limit";
/// Gauge: 1 when the last scrape could read the store, else 0.
pub const STORE_UP: &str = "zoho_bridge_store_up";

/// The `window` label of the remaining budget Zoho itself reported (Books'
/// `X-Rate-Limit-*` headers).
pub const ZOHO_REPORTED_WINDOW: &str = "zoho_reported";

/// How often histograms are folded into their buckets between scrapes (so that samples
/// do not pile up when nobody scrapes).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The longest a scrape waits for the store.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The recorder's handle, once installed.
static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Installs the Prometheus recorder as the process's `metrics` recorder, with the flow
/// latency buckets, describes every series, and (inside a tokio runtime) starts the
/// task folding histograms between scrapes. Later calls return the same handle. Fails
/// when another recorder was installed first.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let builder =
        PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(FLOW_LATENCY.into()), FLOW_LATENCY_BUCKETS).context("the flow latency buckets")?;
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).context("installing the Prometheus recorder (another metrics recorder is installed)")?;
    describe();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let upkeep = handle.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                upkeep.run_upkeep();
            }
        });
    }
    *installed = Some(handle.clone());
    Ok(handle)
}

/// The `# HELP` lines of every series.
fn describe() {
    bridge::telemetry::describe();
    zoho::telemetry::describe();
    metrics::describe_gauge!(JOBS_IN_STORE, "Jobs in the store per status, read at each scrape");
    metrics::describe_gauge!(DEAD_LETTERS, "Dead letters: jobs that failed for good and wait for a person");
    metrics::describe_gauge!(APPROVALS_WAITING, "Approvals waiting for a decision");
    metrics::describe_gauge!(REVIEW_ITEMS_OPEN, "Open review items (customer matches to decide)");
    metrics::describe_gauge!(TOTALS_MISMATCHES, "Totals mismatches found between CRM and Books (audit entries)");
    metrics::describe_gauge!(BUDGET_REMAINING, "Rate budget this process may still use, per API, organisation and window");
    metrics::describe_gauge!(BUDGET_LIMIT, "Rate budget limit per API, organisation and window");
    metrics::describe_gauge!(STORE_UP, "1 when the last scrape could read the store, else 0");
}

/// `GET /metrics`, installing the recorder if needed.
pub fn router(operations: Operations) -> anyhow::Result<Router> {
    let handle = install()?;
    Ok(Router::new().route("/metrics", get(scrape)).with_state((operations, handle)))
}

/// Sets the gauges read from the store and the client, then renders everything.
async fn scrape(State((operations, handle)): State<(Operations, PrometheusHandle)>) -> impl IntoResponse {
    budget_gauges(&operations.client);
    let up = match tokio::time::timeout(STORE_TIMEOUT, store_gauges(&operations)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading the store for /metrics failed; its gauges keep their last values");
            false
        }
        Err(_) => {
            tracing::warn!(timeout = ?STORE_TIMEOUT, "reading the store for /metrics timed out; its gauges keep their last values");
            false
        }
    };
    metrics::gauge!(STORE_UP).set(if up { 1.0 } else { 0.0 });
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

/// The gauges the store answers.
async fn store_gauges(operations: &Operations) -> Result<(), bridge::store::StoreError> {
    let store = &operations.store;
    let counts = store.job_counts().await?;
    let count = |status: JobStatus| counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
    let waiting = store.count_approvals(ApprovalStatus::Pending).await?;
    let open = store.count_reviews(Some(ReviewStatus::Open)).await?;
    let mismatches = store.count_audit_action("totals_mismatch").await?;
    // Every status, so that one with no job left reads 0 rather than its last count.
    for status in [JobStatus::Queued, JobStatus::Running, JobStatus::Done, JobStatus::Skipped, JobStatus::Dead] {
        metrics::gauge!(JOBS_IN_STORE, "status" => status.as_str()).set(count(status) as f64);
    }
    metrics::gauge!(DEAD_LETTERS).set(count(JobStatus::Dead) as f64);
    metrics::gauge!(APPROVALS_WAITING).set(waiting as f64);
    metrics::gauge!(REVIEW_ITEMS_OPEN).set(open as f64);
    metrics::gauge!(TOTALS_MISMATCHES).set(mismatches as f64);
    Ok(())
}

/// The rate budget gauges of the client's organisation (CRM and Books).
fn budget_gauges(client: &zoho::Client) {
    for usage in client.budget_usage() {
        let (api, organization) = (usage.api.as_str(), usage.organization.clone());
        for window in &usage.windows {
            let labels = [("api", api.to_string()), ("organization", organization.clone()), ("window", window.name.to_string())];
            metrics::gauge!(BUDGET_REMAINING, &labels).set(window.remaining as f64);
            metrics::gauge!(BUDGET_LIMIT, &labels).set(window.limit as f64);
        }
        if let Some(server) = usage.server {
            let labels = [("api", api.to_string()), ("organization", organization.clone()), ("window", ZOHO_REPORTED_WINDOW.to_string())];
            metrics::gauge!(BUDGET_REMAINING, &labels).set(server.remaining as f64);
            metrics::gauge!(BUDGET_LIMIT, &labels).set(server.limit as f64);
        }
    }
}
