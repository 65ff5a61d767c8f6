//! The dashboard on a listener of its own (`[dashboard] listen`), over plain HTTP (the
//! Chromium test covers the pages themselves on the main listener).
//!
//! The design: with `listen` set, the dashboard's pages are served there and only there;
//! the main listener keeps the webhooks, `/metrics`, the health checks and `/mcp`, so
//! the main port can face Zoho while the dashboard's stays private. `serve` prints the
//! dashboard's URL on its second line. Logging in works there, and the pages name event
//! sources and Zoho APIs in words ("CRM webhook", "CRM"), never as Rust names.

mod support;

use std::io::BufRead;

use bridge::{
    flows::now_ms,
    store::{AnyStore, JobStatus, NewEvent, RecordRef, Source, Store},
};
use serde_json::json;
use zoho::crm::records::WriteOptions;
use zoho_emulator::{Emulator, EmulatorConfig};

use support::{Serving, TempDir, wait_for, zoho_client};

const TOKEN: &str = "listener-test-token-3b7e";

/// The `http://host:port` of an `http://host:port/...` URL.
fn origin(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
    format!("http://{}", rest.split('/').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_on_its_own_listener_serves_its_pages_there_only_and_logs_in() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let zoho = zoho_client(&emulator).await;
    let dir = TempDir::new("dashboard-listener");
    let db = dir.0.join("bridge.db").display().to_string();
    let hash: String = bridge::config::token_hash(TOKEN).iter().map(|b| format!("{b:02x}")).collect();
    let config = support::serve_config(
        &dir,
        &db,
        &emulator,
        &format!(
            r#"
[[routes]]
system = "crm"
module = "Accounts"
flows = ["customer_sync"]

[dashboard]
listen = "127.0.0.1:0"
token_sha256 = "{hash}"
"#
        ),
    );
    let mut serving = Serving::start(&config, "warn");
    let main = serving.base.clone();
    let mut second = String::new();
    serving.stdout.read_line(&mut second).expect("read");
    let url = second.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no dashboard URL in {second:?}")).to_string();
    assert!(second.starts_with("dashboard at ") && second.contains("log in with the configured token"), "{second}");
    let dashboard = origin(&url);
    assert_ne!(dashboard, main, "the dashboard has its own port: {second}");

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Its pages are on its listener, not on the main one; the main one keeps its own.
    let login_page = http.get(format!("{dashboard}/login")).send().await.unwrap();
    assert_eq!(login_page.status(), 200);
    assert!(login_page.text().await.unwrap().contains("name=\"token\""), "the login form");
    // (A 404, not the MCP gateway's "no token" 401: its bearer check guards /mcp only.)
    for path in ["/", "/login", "/dead", "/approvals", "/static/dashboard.css"] {
        let on_main = http.get(format!("{main}{path}")).send().await.unwrap();
        let status = on_main.status();
        assert_eq!(status, 404, "{path} is not on the main listener: {}", on_main.text().await.unwrap());
    }
    assert_eq!(http.get(format!("{main}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{dashboard}/healthz")).send().await.unwrap().status(), 404, "nor the operations routes on the dashboard's");
    let home = http.get(format!("{dashboard}/")).send().await.unwrap();
    assert_eq!((home.status().as_u16(), home.headers()["location"].to_str().unwrap()), (303, "/login"));

    // A CRM webhook for an account (the worker syncs it through Zoho) and a request.
    let account = zoho.crm().insert("Accounts", &[json!({"Account_Name": "Listener Ltd", "Billing_Country": "UK"})], &WriteOptions::no_triggers()).await;
    let account = account.expect("insert")[0].id().expect("id").to_string();
    let hook = http.post(format!("{main}/hooks/crm/workflow")).header("X-Zoho-Bridge-Secret", "wf-secret").json(&json!({"module": "Accounts", "id": account}));
    assert!(hook.send().await.expect("webhook").status().is_success());
    let store = AnyStore::connect(&db).await.expect("the store serve uses");
    let record = RecordRef::crm("Accounts", &account);
    let asked = NewEvent::for_record(Source::Manual, "default", &record, json!({"asked_by": "test"}), "test:asked");
    store.add_event(&asked, &[], now_ms()).await.expect("a manual event");
    wait_for("the account's sync", || async {
        let done = store.jobs_with_status(JobStatus::Done, 10).await.unwrap();
        done.into_iter().find(|j| j.key == record.job_key()).map(|_| ())
    })
    .await;

    // Logging in on the dashboard's listener.
    let wrong = http.post(format!("{dashboard}/login")).form(&[("token", "not-it")]).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let logged = http.post(format!("{dashboard}/login")).form(&[("token", TOKEN), ("name", "ops")]).send().await.unwrap();
    assert_eq!(logged.status(), 303);
    let cookie = logged.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = |path: String| {
        let request = http.get(format!("{dashboard}{path}")).header("cookie", &cookie);
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            answer.text().await.unwrap()
        }
    };
    let overview = page("/".into()).await;
    assert!(overview.contains("customer_sync"), "the overview lists the flows");
    let history = page(format!("/record?system=crm&module=Accounts&id={account}")).await;
    assert!(history.contains("CRM webhook") && history.contains("asked for by a person or an agent"), "sources in words:\n{history}");
    assert!(!history.contains("CrmWebhook") && !history.contains("Manual"), "no Rust names:\n{history}");
    let budget = page("/budget".into()).await;
    assert!(budget.contains("CRM · organisation"), "the API in words:\n{budget}");
    assert!(!budget.contains("Crm"), "{budget}");

    store.close().await;
    let (status, _) = serving.stop();
    assert!(status.success(), "serve stopped cleanly: {status}");
}
