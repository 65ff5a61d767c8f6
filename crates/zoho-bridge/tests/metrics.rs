//! `zoho-bridge serve`'s operations endpoints and log as a monitoring system and a log
//! collector see them: `/metrics` read by a Prometheus text parser after a webhook went
//! through a flow, `/healthz`, `/readyz` (ready, and not ready when Zoho refuses the
//! token or the store is gone), the JSON log lines carrying the job's span, and a text
//! log file without colour codes.

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bridge::{
    flows::{self, catalog_sync},
    store::{AnyStore, Approvals, AuditEntry, Candidate, JobResult, NewReview, RecordRef, ReviewKind, Reviews, Source, Store},
};
use futures_util::TryStreamExt;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::{Value as Json, json};
use zoho::{
    Client,
    books::ListQuery,
    crm::{models::Product, records::WriteOptions},
};
use zoho_emulator::{Emulator, EmulatorConfig};

use support::{Serving, TempDir, zoho_client};

/// A config for `serve` on `store` against `emulator`: CRM products announced by a
/// workflow webhook become Books items; `extra` is appended.
fn config(dir: &TempDir, store: &str, emulator: &Emulator, extra: &str) -> std::path::PathBuf {
    support::serve_config(dir, store, emulator, &format!("\n[[routes]]\nsystem = \"crm\"\nmodule = \"Products\"\nflows = [\"catalog_sync\"]\n{extra}"))
}

/// `/metrics`, parsed.
async fn scrape(http: &reqwest::Client, base: &str) -> Vec<Sample> {
    let answer = http.get(format!("{base}/metrics")).send().await.expect("scrape");
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = answer.text().await.expect("body");
    let samples = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format").samples;
    // The parser skips lines it cannot read: every line must have become a sample (the
    // buckets of a histogram become one).
    let lines = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("_bucket{")).count();
    assert_eq!(samples.iter().filter(|s| !matches!(s.value, Value::Histogram(_))).count(), lines, "lines the parser skipped in:\n{text}");
    samples
}

/// The value of the counter or gauge `metric` with exactly `labels`, if exported.
fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let sample = samples.iter().find(|s| s.metric == metric && s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))?;
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => panic!("{metric} is not a single value: {sample:?}"),
    }
}

/// The samples of `metric`, by their labels.
fn series<'a>(samples: &'a [Sample], metric: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.metric == metric).collect()
}

async fn wait_for_item(client: &Client, sku: &str) -> Json {
    let start = Instant::now();
    loop {
        let items: Vec<Json> = client.books().list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await.unwrap_or_default();
        if let Some(item) = items.into_iter().next() {
            return item;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no Books item with SKU {sku} after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Puts in the store what its gauges read: a dead letter, an approval waiting, an open
/// review and a totals mismatch.
async fn seed_store(db: &str) {
    let store = AnyStore::connect(db).await.expect("store");
    let now = flows::now_ms();
    let event = catalog_sync::event("default", Source::Poller, "404", "gone");
    store.add_event(&event, &[catalog_sync::job("404")], now).await.expect("add_event");
    let job = store.claim("earlier", now, 60_000, 1).await.expect("claim").remove(0);
    let refused = bridge::store::Failure { error: "CRM says: record not found".into(), retryable: false, audit: Vec::new() };
    let dead = store.record("earlier", &[(job.id, JobResult::Fail { failure: refused, retry_at_ms: now, max_attempts: 1 })], now).await.expect("record");
    assert_eq!(dead[0].as_ref().ok(), Some(&bridge::store::JobStatus::Dead));
    store.create_approval("agent", "issue_credit_note", &json!({"amount": "120.00"}), now).await.expect("approval");
    let candidates = ["b-1", "b-2"].map(|id| Candidate { id: id.into(), name: "Acme".into(), why: "name".into() }).to_vec();
    let review = NewReview {
        connection: "default".into(),
        flow: "customer_sync".into(),
        record: RecordRef::crm("Accounts", "a-1"),
        kind: ReviewKind::Ambiguous,
        reason: "two Books contacts named Acme".into(),
        candidates,
    };
    store.open_review(&review, now).await.expect("review");
    let mismatch = AuditEntry {
        id: 0,
        at_ms: now,
        actor: "earlier".into(),
        job_id: None,
        event_id: None,
        connection: "default".into(),
        system: "books".into(),
        module: "invoices".into(),
        record_id: Some("inv-1".into()),
        action: "totals_mismatch".into(),
        request: json!({}),
        response: json!({}),
        ok: false,
    };
    store.add_audit(&mismatch).await.expect("audit");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_json_logs_follow_a_webhook_through_its_flow() {
    zoho_emulator::install_crypto_provider();
    // Zoho's limits, so that the budget gauges have windows.
    let emulator = Emulator::start(EmulatorConfig::default(), 0).await.expect("emulator");
    let client = zoho_client(&emulator).await;
    let dir = TempDir::new("metrics");
    let db = dir.0.join("bridge.db").display().to_string();
    seed_store(&db).await;
    let log = dir.0.join("bridge.log");
    let config = config(&dir, &db, &emulator, &format!("\n[log]\nformat = \"json\"\nfile = \"{}\"\n", log.display()));
    let serving = Serving::start(&config, "info,bridge=debug");
    let (base, http) = (serving.base.clone(), reqwest::Client::new());

    let health = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Json>().await.expect("JSON"), json!({"status": "ok"}));
    let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Json>().await.expect("JSON"), json!({"status": "ready", "checks": {"store": {"ok": true}, "zoho_token": {"ok": true}}}));

    // A product announced by a workflow webhook.
    let product =
        Product { product_name: Some("Metered".into()), product_code: Some("MET-1".into()), unit_price: Some("9.90".parse().unwrap()), ..Product::default() };
    let inserted = client.crm().insert("Products", &[product], &WriteOptions::no_triggers()).await.expect("insert");
    let product_id = inserted[0].id().expect("id").to_string();
    let hook = http
        .post(format!("{base}/hooks/crm/workflow"))
        .header("X-Zoho-Bridge-Secret", "wf-secret")
        .json(&json!({"module": "Products", "id": product_id}))
        .send()
        .await
        .expect("webhook");
    assert!(hook.status().is_success(), "{}", hook.status());
    wait_for_item(&client, "MET-1").await;

    // The job is counted once its result is stored, just after the item exists.
    let done = [("flow", "catalog_sync"), ("outcome", "done")];
    let start = Instant::now();
    let samples = loop {
        let samples = scrape(&http, &base).await;
        if value(&samples, "zoho_bridge_jobs_total", &done).is_some() {
            break samples;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no finished catalog_sync job counted after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let v = |metric: &str, labels: &[(&str, &str)]| value(&samples, metric, labels);

    assert_eq!(v("zoho_bridge_events_total", &[("source", "crm_webhook"), ("result", "stored")]), Some(1.0));
    assert_eq!(series(&samples, "zoho_bridge_events_total").len(), 1, "only the webhook's event was stored by this process");
    assert_eq!(v("zoho_bridge_jobs_total", &done), Some(1.0));
    assert_eq!(series(&samples, "zoho_bridge_jobs_total").len(), 1, "nothing else ended");

    // The latency histogram: one observation, in its buckets.
    let latency = series(&samples, "zoho_bridge_flow_latency_seconds");
    assert_eq!(latency.len(), 1, "{latency:?}");
    assert_eq!(latency[0].labels.get("flow"), Some("catalog_sync"));
    let Value::Histogram(buckets) = &latency[0].value else { panic!("not a histogram: {:?}", latency[0]) };
    assert_eq!(buckets.iter().map(|b| b.less_than).collect::<Vec<_>>().last(), Some(&f64::INFINITY));
    assert_eq!(buckets.last().unwrap().count, 1.0, "one job done: {buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "cumulative: {buckets:?}");
    assert_eq!(v("zoho_bridge_flow_latency_seconds_count", &[("flow", "catalog_sync")]), Some(1.0));
    assert!(v("zoho_bridge_flow_latency_seconds_sum", &[("flow", "catalog_sync")]).is_some_and(|s| s > 0.0));

    // Zoho calls by API, operation and status: the flow read the product from CRM and
    // wrote the item to Books; the token came from Accounts.
    let calls = series(&samples, "zoho_bridge_zoho_calls_total");
    let total = |api: &str| -> f64 {
        calls
            .iter()
            .filter(|s| s.labels.get("api") == Some(api))
            .map(|s| match s.value {
                Value::Counter(n) => n,
                _ => panic!("{s:?}"),
            })
            .sum()
    };
    assert!(total("crm") > 0.0 && total("books") > 0.0 && total("accounts") > 0.0, "{calls:#?}");
    for call in &calls {
        let status = call.labels.get("status").expect("a status label");
        assert!(status.parse::<u16>().is_ok() || status == "network_error", "{call:?}");
        let operation = call.labels.get("operation").expect("an operation label");
        assert!(!operation.contains(&product_id), "record ids are not labels: {operation}");
    }
    assert!(calls.iter().any(|s| s.labels.get("api") == Some("crm") && s.labels.get("operation") == Some("GET /crm/v8/Products/:id")), "{calls:#?}");
    assert!(calls.iter().any(|s| s.labels.get("api") == Some("books") && s.labels.get("status").is_some_and(|st| st.starts_with('2'))), "{calls:#?}");

    // The budget left per API and organisation.
    let org = client.connection().organization_id.clone();
    let books_minute =
        v("zoho_bridge_budget_remaining", &[("api", "books"), ("organization", &org), ("window", "per_minute")]).expect("Books per-minute budget");
    let books_limit = v("zoho_bridge_budget_limit", &[("api", "books"), ("organization", &org), ("window", "per_minute")]).expect("Books per-minute limit");
    assert!(books_minute < books_limit, "the item's write used some: {books_minute} of {books_limit}");
    assert!(series(&samples, "zoho_bridge_budget_remaining").iter().any(|s| s.labels.get("api") == Some("crm")));

    // The gauges read from the store at the scrape.
    assert_eq!(v("zoho_bridge_dead_letters", &[]), Some(1.0));
    assert_eq!(v("zoho_bridge_jobs", &[("status", "dead")]), Some(1.0));
    assert_eq!(v("zoho_bridge_jobs", &[("status", "done")]), Some(1.0));
    assert_eq!(v("zoho_bridge_jobs", &[("status", "queued")]), Some(0.0));
    assert_eq!(v("zoho_bridge_approvals_waiting", &[]), Some(1.0));
    assert_eq!(v("zoho_bridge_review_items_open", &[]), Some(1.0));
    assert_eq!(v("zoho_bridge_totals_mismatches", &[]), Some(1.0));
    assert_eq!(v("zoho_bridge_store_up", &[]), Some(1.0));

    let (status, _) = serving.stop();
    assert!(status.success(), "{status:?}");

    // The log: JSON lines, no colour codes, and the run's lines carry the job's span.
    let text = std::fs::read_to_string(&log).expect("the log file");
    assert!(!text.contains('\u{1b}'), "no ANSI codes in a log file");
    let lines: Vec<Json> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "zoho-bridge serving"), "{text}");
    let in_job: Vec<&Json> = lines.iter().filter(|l| l["span"]["name"] == "job").collect();
    assert!(!in_job.is_empty(), "no line inside a job span: {text}");
    let span = &in_job[0]["span"];
    let want: HashMap<&str, Json> =
        HashMap::from([("flow", json!("catalog_sync")), ("system", json!("crm")), ("module", json!("Products")), ("record_id", json!(product_id))]);
    for (field, value) in want {
        assert_eq!(span[field], value, "{field} in {span}");
    }
    assert!(span["job_id"].as_i64().is_some_and(|id| id > 1), "the webhook's job, not the seeded one: {span}");
    assert!(in_job.iter().any(|l| l["fields"]["message"] == "job ran" && l["fields"]["result"] == "done"), "{text}");
    emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_the_zoho_token_is_refused_without_showing_a_secret() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("readyz-token");
    let db = dir.0.join("bridge.db").display().to_string();
    // A text log in a file, this time.
    let log = dir.0.join("bridge.log");
    let serving = Serving::start(&config(&dir, &db, &emulator, &format!("\n[log]\nfile = \"{}\"\n", log.display())), "info");
    let http = reqwest::Client::new();

    // Zoho revokes the refresh token (a person removed the connection, say).
    let connection = zoho::Connection::from_emulator(&emulator.url()).await.expect("credentials");
    let revoked =
        http.post(format!("{}/oauth/v2/token/revoke", emulator.url())).query(&[("token", connection.refresh_token.expose())]).send().await.expect("revoke");
    assert!(revoked.status().is_success(), "{}", revoked.status());

    let answer = http.get(format!("{}/readyz", serving.base)).send().await.expect("readyz");
    assert_eq!(answer.status(), 503);
    let text = answer.text().await.expect("body");
    let body: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["not_ready"], json!(["zoho_token"]));
    assert_eq!(body["checks"]["store"], json!({"ok": true}));
    let error = body["checks"]["zoho_token"]["error"].as_str().expect("why");
    assert!(error.contains("refused"), "{error}");
    for secret in [connection.refresh_token.expose(), connection.client_secret.expose()] {
        assert!(!text.contains(secret), "a secret in {text}");
    }
    // The process itself is up.
    assert_eq!(http.get(format!("{}/healthz", serving.base)).send().await.expect("healthz").status(), 200);
    let (status, _) = serving.stop();
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).expect("the log file");
    assert!(text.lines().any(|l| l.contains("INFO") && l.contains("zoho-bridge serving")), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour codes in a log file: {text:?}");
    assert!(serde_json::from_str::<Json>(text.lines().next().unwrap_or_default()).is_err(), "text, not JSON: {text}");
    emulator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_store_when_it_cannot_be_read() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("readyz-store");
    let store = AnyStore::connect(&dir.0.join("bridge.db").display().to_string()).await.expect("store");
    let operations = zoho_bridge::http::Operations { store: store.clone(), client: zoho_client(&emulator).await };
    let app = zoho_bridge::http::router(operations).expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();

    assert_eq!(http.get(format!("{base}/readyz")).send().await.expect("readyz").status(), 200);
    store.close().await;
    let answer = http.get(format!("{base}/readyz")).send().await.expect("readyz");
    assert_eq!(answer.status(), 503);
    let body: Json = answer.json().await.expect("JSON");
    assert_eq!(body["not_ready"], json!(["store"]), "{body}");
    assert!(body["checks"]["store"]["error"].as_str().is_some_and(|e| e.starts_with("the store did not answer a read")), "{body}");
    assert_eq!(body["checks"]["zoho_token"], json!({"ok": true}));
    // The scrape still answers, saying the store is down.
    let samples = scrape(&http, &base).await;
    assert_eq!(value(&samples, "zoho_bridge_store_up", &[]), Some(0.0));
    server.abort();
    emulator.stop().await;
}
