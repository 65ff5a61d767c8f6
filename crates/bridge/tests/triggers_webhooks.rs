//! The webhook receiver against a real SQLite store: every source authenticated,
//! malformed bodies refused with 400 naming the problem, nothing stored when refused,
//! duplicates absorbed; and, with the emulator's webhook faults (loss, duplication,
//! reordering) on Books webhooks, the inbox ends with the same records as a clean
//! delivery once the poller has run, and each Books change runs its routed flow once.

mod triggers_support;

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use bridge::{
    flows::{Context, Flow, FlowFuture, Outcome},
    store::RecordRef,
    triggers::{ChannelTokens, Poller, Routes, SecretString, StreamConfig, System, TriggerConfig, WatchConfig},
    worker::{Worker, WorkerConfig},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use triggers_support::{env, eventually, job_total, queued, queued_keys};

fn config() -> TriggerConfig {
    let mut c = TriggerConfig::new("test");
    c.webhooks.crm_workflow_secret = Some(SecretString::new("wf-secret"));
    c.webhooks.books_secret = Some(SecretString::new("books-secret"));
    c.channels.watch.push(WatchConfig {
        channel_id: "1000".into(),
        events: vec!["Deals.all".into()],
        token: Some(SecretString::new("chan-token")),
        token_env: None,
    });
    c.routes = Routes::default().with(System::Crm, "Deals", &["deal_to_invoice"]).with(System::Books, "invoices", &["overdue_to_task"]).with(
        System::Books,
        "items",
        &["catalog_sync"],
    );
    c
}

async fn post(http: &reqwest::Client, url: String, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    let mut req = http.post(url).body(body.to_string()).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("receiver answers");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const NOTIFY: &str = r#"{"server_time":1718117126473,"query_params":{},"module":"Deals","resource_uri":"x","ids":["11","12"],"affected_fields":[],"operation":"update","channel_id":1000,"token":"chan-token"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_notification_callbacks_are_authenticated_by_the_channel_token() {
    let env = env("notify").await;
    let base = env.serve(config(), ChannelTokens::new()).await;
    let url = || format!("{base}/hooks/crm/notify");

    let (s, _) = post(&env.http, url(), &[], &NOTIFY.replace("chan-token", "wrong")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(&env.http, url(), &[], &NOTIFY.replace(r#","token":"chan-token""#, "")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = post(&env.http, url(), &[], &NOTIFY.replace("1000", "999")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "unknown channel");
    let (s, body) = post(&env.http, url(), &[], r#"{"channel_id":1000,"token":"chan-token","module":"Deals""#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap_or("").contains("not valid JSON"), "{body}");
    let (s, body) = post(&env.http, url(), &[], &NOTIFY.replace(r#""ids":["11","12"],"#, "")).await;
    assert_eq!((s, body["at"].as_str()), (StatusCode::BAD_REQUEST, Some("$.ids")));
    assert_eq!(job_total(&env.store).await, 0, "nothing refused is stored");

    let (s, body) = post(&env.http, url(), &[], NOTIFY).await;
    assert_eq!((s, body["stored"].as_u64()), (StatusCode::OK, Some(2)));
    let (s, body) = post(&env.http, url(), &[], NOTIFY).await;
    assert_eq!((s, body["stored"].as_u64(), body["duplicates"].as_u64()), (StatusCode::OK, Some(0), Some(2)));
    let keys = queued_keys(&env.store).await;
    assert_eq!(keys, BTreeSet::from(["crm:Deals:11".to_string(), "crm:Deals:12".to_string()]));
    assert_eq!(queued(&env.store).await.len(), 2, "the duplicate enqueued nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_workflow_webhooks_need_the_shared_secret() {
    let env = env("workflow").await;
    let base = env.serve(config(), ChannelTokens::new()).await;
    let url = format!("{base}/hooks/crm/workflow");
    let body = r#"{"module":"Deals","id":"42","modified_time":"2024-05-10T01:10:47+00:00"}"#;

    let (s, _) = post(&env.http, url.clone(), &[], body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = post(&env.http, url.clone(), &[("X-Zoho-Bridge-Secret", "nope")], body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(&env.http, format!("{url}?secret=books-secret"), &[], body).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another endpoint's secret");
    let (s, b) = post(&env.http, url.clone(), &[("X-Zoho-Bridge-Secret", "wf-secret")], r#"{"module":"Deals"}"#).await;
    assert_eq!((s, b["at"].as_str()), (StatusCode::BAD_REQUEST, Some("$.id")));
    let (s, b) = post(&env.http, url.clone(), &[("X-Zoho-Bridge-Secret", "wf-secret")], r#"{"module":"Deals","id":"1","modified_time":"yesterday"}"#).await;
    assert_eq!((s, b["at"].as_str()), (StatusCode::BAD_REQUEST, Some("$.modified_time")));
    assert_eq!(job_total(&env.store).await, 0);

    let (s, _) = post(&env.http, url.clone(), &[("X-Zoho-Bridge-Secret", "wf-secret")], body).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = post(&env.http, format!("{url}?secret=wf-secret"), &[], body).await;
    assert_eq!((s, b["duplicates"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(queued_keys(&env.store).await, BTreeSet::from(["crm:Deals:42".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_webhooks_need_the_shared_secret_and_an_id() {
    let env = env("books").await;
    let base = env.serve(config(), ChannelTokens::new()).await;
    let url = format!("{base}/hooks/books");
    let body = r#"{"invoice":{"invoice_id":"9","status":"overdue","last_modified_time":"2024-05-10T01:10:47+0000"}}"#;

    assert_eq!(post(&env.http, url.clone(), &[], body).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&env.http, format!("{url}?secret=wf-secret"), &[], body).await.0, StatusCode::FORBIDDEN);
    let h = [("X-Zoho-Bridge-Secret", "books-secret")];
    let (s, b) = post(&env.http, url.clone(), &h, r#"{"invoice":{"status":"sent"}}"#).await;
    assert_eq!((s, b["at"].as_str()), (StatusCode::BAD_REQUEST, Some("$.invoice.invoice_id")));
    let (s, b) = post(&env.http, url.clone(), &h, "{{{").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let error = b["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("the body is neither JSON (") && error.contains("nor a form with a JSONString field"), "says what is wrong: {b}");
    let (s, b) = post(&env.http, url.clone(), &h, "[1, 2]").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"].as_str().unwrap_or_default().contains("not an object (it is an array)"), "{b}");
    let (s, _) = post(&env.http, url.clone(), &h, r#"{"thing":{"id":"1"}}"#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(job_total(&env.store).await, 0);

    assert_eq!(post(&env.http, url.clone(), &h, body).await.0, StatusCode::OK);
    // The same change as a JSONString form: a duplicate.
    let form = format!("JSONString={}", url::form_urlencoded::byte_serialize(body.as_bytes()).collect::<String>());
    let resp = env
        .http
        .post(&url)
        .header("X-Zoho-Bridge-Secret", "books-secret")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    let b: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(b["duplicates"].as_u64(), Some(1));
    assert_eq!(queued_keys(&env.store).await, BTreeSet::from(["books:invoices:9".to_string()]));
}

/// A body over `webhooks.max_body_bytes` is refused with 413 and a JSON error naming the
/// limit, like every other refusal, on each route; the routes with a shared secret check
/// it first (a stranger learns nothing of the limit); nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_json_naming_the_limit() {
    let env = env("oversized").await;
    let mut config = config();
    config.webhooks.max_body_bytes = 1024;
    let base = env.serve(config, ChannelTokens::new()).await;
    let padding = "x".repeat(2048);
    let big_books = format!(r#"{{"invoice":{{"invoice_id":"9","notes":"{padding}"}}}}"#);
    let big_workflow = format!(r#"{{"module":"Deals","id":"42","notes":"{padding}"}}"#);
    let big_notify = NOTIFY.replace(r#""query_params":{}"#, &format!(r#""query_params":{{"notes":"{padding}"}}"#));

    let refused = [
        post(&env.http, format!("{base}/hooks/books"), &[("X-Zoho-Bridge-Secret", "books-secret")], &big_books).await,
        post(&env.http, format!("{base}/hooks/crm/workflow"), &[("X-Zoho-Bridge-Secret", "wf-secret")], &big_workflow).await,
        post(&env.http, format!("{base}/hooks/crm/notify"), &[], &big_notify).await,
    ];
    for (status, body) in &refused {
        assert_eq!(*status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains("1024 bytes") && error.contains("webhooks.max_body_bytes"), "a JSON error naming the limit: {body}");
    }
    let (status, body) = post(&env.http, format!("{base}/hooks/books"), &[], &big_books).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the secret is checked before the size: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("missing secret")), "{body}");
    assert_eq!(job_total(&env.store).await, 0, "nothing refused is stored");
    // Under the limit, the same routes accept.
    let (status, _) = post(&env.http, format!("{base}/hooks/books"), &[("X-Zoho-Bridge-Secret", "books-secret")], r#"{"invoice":{"invoice_id":"9"}}"#).await;
    assert_eq!(status, StatusCode::OK);
}

/// Lost, duplicated and reordered Books webhooks: after the poller has run, the inbox
/// holds exactly one event per created item, as clean delivery would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_books_webhooks_plus_the_poller_give_every_change_once() {
    const N: usize = 30;
    let env = env("faults").await;
    let mut cfg = config();
    let start = env.now_floor_s();
    cfg.poller.start_ms = start;
    cfg.poller.streams.push(StreamConfig::new(System::Books, "items"));
    let base = env.serve(cfg.clone(), ChannelTokens::new()).await;
    let emu = env.emu.url();
    let r = env
        .http
        .post(format!("{emu}/__emulator/books/webhooks"))
        .json(&json!({"url": format!("{base}/hooks/books"), "events": ["item.created"], "headers": {"X-Zoho-Bridge-Secret": "books-secret"}}))
        .send()
        .await
        .expect("register webhook");
    assert!(r.status().is_success(), "{}", r.status());
    let r = env
        .http
        .put(format!("{emu}/__emulator/faults"))
        .json(&json!({"seed": 7, "webhooks": {"loss_rate": 0.3, "duplicate_rate": 0.3, "reorder_window": 4}}))
        .send()
        .await
        .expect("set faults");
    assert!(r.status().is_success(), "{}", r.status());

    let books = env.client.books();
    let mut created = BTreeSet::new();
    for i in 0..N {
        let item =
            zoho::books::models::Item { name: Some(format!("Widget {i}")), rate: Some(rust_decimal::Decimal::new(1000 + i as i64, 2)), ..Default::default() };
        let item = books.create_item(&item).await.expect("item created");
        created.insert(format!("books:items:{}", item.item_id.expect("an id")));
    }
    // Wait until the emulator has dealt with every delivery (lost ones are logged too).
    let log_url = format!("{emu}/__emulator/webhooks/log");
    let http = env.http.clone();
    let all_sent = eventually(15, || {
        let (http, log_url) = (http.clone(), log_url.clone());
        async move {
            let log: Value = match http.get(&log_url).send().await {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            let entries = log.as_array().cloned().or_else(|| log.get("log").and_then(Value::as_array).cloned()).unwrap_or_default();
            entries.len() >= N
        }
    })
    .await;
    assert!(all_sent, "the emulator sent every webhook");
    let log: Value = env.http.get(&log_url).send().await.expect("log").json().await.expect("json log");
    let entries = log.as_array().cloned().or_else(|| log.get("log").and_then(Value::as_array).cloned()).unwrap_or_default();
    let lost = entries.iter().filter(|e| e["copies"] == 0).count();
    let doubled = entries.iter().filter(|e| e["copies"] == 2).count();
    assert!(lost > 0 && doubled > 0, "the faults happened: {lost} lost, {doubled} duplicated");

    let via_webhooks = queued_keys(&env.store).await;
    assert!(via_webhooks.len() < N, "some webhooks were lost");
    assert!(via_webhooks.is_subset(&created));
    assert_eq!(queued(&env.store).await.len(), via_webhooks.len(), "duplicates absorbed");

    // The poller fills the losses (after the current second has passed).
    env.advance(2_000);
    let poller = Poller::new(env.store.clone(), env.client.clone(), cfg, env.clock.clone());
    let report = poller.poll_once(&StreamConfig::new(System::Books, "items")).await.expect("poll");
    assert_eq!(report.read, N);
    assert_eq!(report.new, N - via_webhooks.len(), "{report:?}");
    assert_eq!(queued_keys(&env.store).await, created, "every change is in the inbox");
    assert_eq!(queued(&env.store).await.len(), N, "each change exactly once");

    // The jobs route to flows exactly as CRM ones do: the flow routed for Books items runs
    // once per change, given the Books record.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let flow: Arc<dyn Flow> = Arc::new(Recorder { name: "catalog_sync", seen: seen.clone() });
    let worker = Worker::new(env.store.clone(), vec![flow], env.client.clone(), WorkerConfig::new("w"));
    assert_eq!(worker.run_until_idle().await.expect("run").done, N as u64);
    let seen: BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r: &RecordRef| {
            assert_eq!((r.system, r.module.as_str()), (System::Books, "items"));
            r.job_key()
        })
        .collect();
    assert_eq!(seen, created, "every Books change ran its flow once");
}

/// A flow that only notes the records it is run for.
struct Recorder {
    name: &'static str,
    seen: Arc<Mutex<Vec<RecordRef>>>,
}

impl Flow for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.seen.lock().unwrap().push(ctx.record().clone());
        Box::pin(async { Ok(Outcome::Done("seen".into())) })
    }
}

/// Refusals are logged, but never with the secret or token that was presented or
/// expected (DESIGN invariant 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_logged_without_secrets() {
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_max_level(tracing::Level::DEBUG).with_writer(move || writer.clone()).finish();
    // Handlers run on the runtime's worker threads: the subscriber must be global.
    let _ = tracing::subscriber::set_global_default(subscriber);

    let env = env("logs").await;
    let base = env.serve(config(), ChannelTokens::new()).await;
    post(&env.http, format!("{base}/hooks/crm/notify"), &[], &NOTIFY.replace("chan-token", "presented-token")).await;
    post(&env.http, format!("{base}/hooks/books"), &[("X-Zoho-Bridge-Secret", "presented-secret")], "{}").await;
    post(&env.http, format!("{base}/hooks/crm/workflow?secret=query-secret"), &[], "{}").await;
    post(&env.http, format!("{base}/hooks/crm/notify"), &[], NOTIFY).await;

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(|p| p.into_inner())).to_string();
    assert!(logs.contains("webhook refused"), "refusals are logged: {logs}");
    for secret in ["presented-token", "chan-token", "presented-secret", "books-secret", "query-secret", "wf-secret"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs: {logs}");
    }
}
