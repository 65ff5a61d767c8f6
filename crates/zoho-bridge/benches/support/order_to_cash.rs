//! The order-to-cash latency harness: deals closing in CRM → their Books invoices, through
//! `zoho-bridge serve`, timed from the outside (`cargo bench -p zoho-bridge --bench
//! order_to_cash`; the `order_to_cash_harness` test runs the same code with a handful of
//! deals at zero latency, for correctness only).
//!
//! Why a harness of its own: the figure a finance team feels is "the deal is won → how
//! long until its invoice exists in Books", with Zoho's round trips in the way, and
//! whether a thousand deals closing together each get exactly one invoice. It reuses the
//! product harness's parts (child processes, the store, the emulator's counters; see
//! `support/mod.rs`) and differs in what it sets up and waits for:
//!
//! 1. Untimed, at zero latency: `--accounts` CRM accounts and `--products` CRM products,
//!    synced to Books by serve itself (customer_sync and catalog_sync, through their
//!    webhooks) so that customers and items are linked as in a running installation;
//!    then `-n` open deals, each with 0..=`--lines-max` related products (quantity, list
//!    price, discount) — a deal without products is invoiced from its Amount.
//! 2. The latency rule goes on (`--latency-ms` on every `/crm` and `/books` call), every
//!    deal's Stage becomes `Closed Won` (CRM batch updates of 100, no workflow), and the
//!    CRM workflow webhooks are posted at `--rate` per second (0: all at once), each
//!    timed from its post.
//! 3. A Books webhook (`invoice.created`, registered in the emulator as a user would in
//!    Books' settings) reaches a listener here: an invoice is seen the moment Books
//!    commits it. Latency per deal = webhook posted → its `invoice.created`.
//! 4. After the run: the engine's Zoho calls (the emulator's counters, the harness's own
//!    calls told apart by their `User-Agent`), where each deal's time went (from the
//!    store: the job stamped by the receiver, the invoice write journaled), and the
//!    invoices in Books per deal at the end (exactly one each, or the run says which).
//!
//! The floor is `latency × --floor-calls`: the sequential Zoho round trips the data needs
//! before the invoice can exist. For `deal_to_invoice` with linked customers and items,
//! 3: (1) the deal and its related products, read at once (both need only the deal's
//! id); (2) the Books customer the deal's account is linked to (store look-up, no call),
//! read for its currency (the currency policy) and billing address (the tax rules) —
//! it depends on the deal's account, so it cannot go with (1); (3) one Books upsert keyed
//! by the deal id in a unique custom field, which creates the invoice without a prior
//! search. Item links come from the store; Books' taxes, currencies and exemptions are
//! read once per process. The write-back of the invoice id to the deal comes after the
//! invoice exists and is not in the figure.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bridge::store::{AnyStore, JobStatus, Store};
use serde_json::{Value, json};
use tokio::sync::watch;
use zoho_emulator::{Emulator, EmulatorConfig};

use super::{Arrival, Arrivals, CALLER, Calls, Child, EpochClock, PgDatabase, Summary, TempDir, engine_calls, ms_between, profile};

/// The CRM workflow webhook secret in the generated config.
const SECRET: &str = "o2c-harness-secret";
/// The Books custom fields holding the CRM ids (the flows' shipped defaults).
const ACCOUNT_FIELD: &str = "cf_crm_account_id";
const PRODUCT_FIELD: &str = "cf_crm_product_id";
const DEAL_FIELD: &str = "cf_crm_deal_id";

/// The harness's options (the bench's command line).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "order_to_cash", about = "Deals closing in CRM → Books invoices through zoho-bridge serve, timed from the outside")]
pub struct Options {
    /// Deals that close.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub deals: usize,
    /// Webhooks posted per second (0: all at once).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Latency added to every CRM and Books call during the timed part, ms.
    #[arg(long, default_value_t = 100)]
    pub latency_ms: u64,
    /// CRM accounts (Books customers) the deals belong to.
    #[arg(long, default_value_t = 50)]
    pub accounts: usize,
    /// CRM products (Books items) the deals' lines use.
    #[arg(long, default_value_t = 20)]
    pub products: usize,
    /// Each deal gets 0..=this many products (deal `i` gets `i % (lines_max + 1)`).
    #[arg(long, default_value_t = 3)]
    pub lines_max: usize,
    /// `sqlite` (a fresh file) or a PostgreSQL server URL (a database is made for the run).
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// `[worker] concurrency` of serve.
    #[arg(long, default_value_t = 64)]
    pub worker_concurrency: u32,
    /// `[worker] poll_ms` of serve (default: the engine's).
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Sequential Zoho round trips the data needs per invoice (the floor is latency × this;
    /// see the module doc for why 3).
    #[arg(long, default_value_t = 3)]
    pub floor_calls: u32,
    /// Deadline for the whole run, seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// RUST_LOG of serve (its output goes to a log file).
    #[arg(long, default_value = "warn")]
    pub rust_log: String,
    /// Copy serve's log and config into this directory.
    #[arg(long)]
    pub keep_logs: Option<std::path::PathBuf>,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

/// What one deal went through.
#[derive(Debug, Clone)]
pub struct DealRun {
    pub crm_id: String,
    /// Its related products (0: one line from the Amount).
    pub lines: usize,
    /// Webhook posted → serve answered, ms.
    pub ack_ms: f64,
    /// Webhook posted → `invoice.created` seen, ms (`None`: not by the deadline).
    pub latency_ms: Option<f64>,
    /// `invoice.created` webhooks seen for it.
    pub invoices_created: usize,
    /// Invoices in Books carrying its id at the end.
    pub invoices_at_end: usize,
    /// From the store: webhook → job stamped (`stored_ms`) → invoice write journaled
    /// (`to_write_ms`) → invoice seen (`write_ms`), ms.
    pub stored_ms: Option<f64>,
    pub to_write_ms: Option<f64>,
    pub write_ms: Option<f64>,
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub profile: &'static str,
    pub store_kind: &'static str,
    pub deals: Vec<DealRun>,
    /// First webhook posted → last invoice seen, seconds.
    pub wall_s: f64,
    /// The engine's Zoho calls during the timed part only.
    pub calls: Calls,
    /// Jobs by status at the end.
    pub jobs: Vec<(JobStatus, i64)>,
    pub serve_summary: Vec<String>,
}

impl Report {
    /// Deals whose invoice was seen.
    pub fn done(&self) -> usize {
        self.deals.iter().filter(|d| d.latency_ms.is_some()).count()
    }

    /// Every deal has exactly one invoice (created once, one in Books at the end).
    pub fn check_one_invoice_each(&self) -> anyhow::Result<()> {
        let wrong: Vec<String> = self
            .deals
            .iter()
            .filter(|d| d.invoices_created != 1 || d.invoices_at_end != 1)
            .map(|d| format!("{}: {} created, {} at the end", d.crm_id, d.invoices_created, d.invoices_at_end))
            .collect();
        if !wrong.is_empty() {
            bail!("{} of {} deals have not exactly one invoice: {}", wrong.len(), self.deals.len(), wrong.join("; "));
        }
        Ok(())
    }

    pub fn latency(&self) -> Summary {
        Summary::of(&self.deals.iter().filter_map(|d| d.latency_ms).collect::<Vec<_>>())
    }

    pub fn floor_ms(&self) -> f64 {
        (self.options.latency_ms * u64::from(self.options.floor_calls)) as f64
    }

    fn per_deal(&self, n: u64) -> f64 {
        n as f64 / self.deals.len().max(1) as f64
    }

    fn segment(&self, f: fn(&DealRun) -> Option<f64>) -> Summary {
        Summary::of(&self.deals.iter().filter_map(f).collect::<Vec<_>>())
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("== zoho-bridge order to cash: {} deals | profile {} | store {} ==", o.deals, self.profile, self.store_kind));
        line(format!(
            "options: rate={} latency_ms={} (every /crm and /books call) accounts={} products={} lines 0..={} worker_concurrency={} poll_ms={} floor_calls={}",
            if o.rate > 0.0 { format!("{}/s", o.rate) } else { "all at once".into() },
            o.latency_ms,
            o.accounts,
            o.products,
            o.lines_max,
            o.worker_concurrency,
            o.poll_ms.map_or("default".to_string(), |v| v.to_string()),
            o.floor_calls,
        ));
        let lat = self.latency();
        line(format!("  {:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}", "ms, per deal", "n", "p50", "p90", "p99", "max", "mean"));
        line(lat.row("webhook sent → Books invoice created"));
        line(Summary::of(&self.deals.iter().map(|d| d.ack_ms).collect::<Vec<_>>()).row("  webhook sent → 2xx from serve"));
        line(self.segment(|d| d.stored_ms).row("  webhook sent → serve stamps its job (a)"));
        line(self.segment(|d| d.to_write_ms).row("  job stamped → invoice write journaled (b)"));
        line(self.segment(|d| d.write_ms).row("  write journaled → invoice seen (c)"));
        line("  (a) the job's created_ms; (b) the commit, the claim and the reads (deal, products, ...);".into());
        line("  (c) the Books upsert. From the store in whole ms; sent and seen are this process's clock.".into());
        let missing = self.deals.len() - self.done();
        line(format!(
            "throughput: {} invoices in {:.2} s = {:.2} invoices/s{}",
            self.done(),
            self.wall_s,
            self.done() as f64 / self.wall_s.max(1e-9),
            if missing > 0 { format!("  ({missing} MISSING at the deadline)") } else { String::new() }
        ));
        let floor = self.floor_ms();
        let ratio = |x: f64| if floor > 0.0 { format!("{:.3}", x / floor) } else { "-".into() };
        line(format!(
            "floor: {floor:.0} ms = {} ms × {} sequential round trips (deal ∥ its products → the Books customer → Books upsert by the deal id); p50/floor {}, p99/floor {}, max/floor {}",
            o.latency_ms,
            o.floor_calls,
            ratio(lat.p50),
            ratio(lat.p99),
            ratio(lat.max)
        ));
        let bad = self.deals.iter().filter(|d| d.invoices_created != 1 || d.invoices_at_end != 1).count();
        line(format!("correctness: {} of {} deals have exactly one Books invoice", self.deals.len() - bad, self.deals.len()));
        line(format!("jobs at the end: {}", bridge::store::job_counts_text(&self.jobs)));
        let c = &self.calls;
        line(format!(
            "engine's Zoho calls per invoice (timed part): CRM reads {:.2}, CRM writes {:.2}, Books reads {:.2}, Books writes {:.2}, token {:.2} (total {}, {} answered 429, {} other errors)",
            self.per_deal(c.crm_reads),
            self.per_deal(c.crm_writes),
            self.per_deal(c.books_reads),
            self.per_deal(c.books_writes),
            self.per_deal(c.token),
            c.crm_reads + c.crm_writes + c.books_reads + c.books_writes + c.token,
            c.rate_limited,
            c.errors
        ));
        for r in &c.rows {
            line(format!(
                "  {:<7} {:<6} {:<36} {:>6} calls {:>5} 4xx {:>5} 5xx  {:>8.1} ms avg in the emulator",
                r.api,
                r.method,
                r.route,
                r.calls,
                r.client_errors,
                r.server_errors,
                r.total_ms / r.calls.max(1) as f64
            ));
        }
        for s in &self.serve_summary {
            line(format!("  {s}"));
        }
        out
    }

    /// The figures as JSON.
    pub fn json(&self) -> Value {
        let o = &self.options;
        let lat = self.latency();
        json!({
            "profile": self.profile,
            "store": self.store_kind,
            "options": {
                "deals": o.deals, "rate": o.rate, "latency_ms": o.latency_ms, "accounts": o.accounts, "products": o.products,
                "lines_max": o.lines_max, "worker_concurrency": o.worker_concurrency, "poll_ms": o.poll_ms, "floor_calls": o.floor_calls,
            },
            "latency_ms": lat.json(),
            "segments_ms": {
                "sent_to_job_stamped": self.segment(|d| d.stored_ms).json(),
                "job_stamped_to_write_journaled": self.segment(|d| d.to_write_ms).json(),
                "write_journaled_to_invoice_seen": self.segment(|d| d.write_ms).json(),
            },
            "invoices": self.done(),
            "missing": self.deals.len() - self.done(),
            "wall_s": self.wall_s,
            "floor_ms": self.floor_ms(),
            "p99_over_floor": lat.p99 / self.floor_ms().max(1e-9),
            "calls_per_invoice": {
                "crm_reads": self.per_deal(self.calls.crm_reads), "crm_writes": self.per_deal(self.calls.crm_writes),
                "books_reads": self.per_deal(self.calls.books_reads), "books_writes": self.per_deal(self.calls.books_writes),
            },
            "calls": self.calls.rows,
            "jobs": self.jobs.iter().map(|(s, n)| json!({"status": s, "jobs": n})).collect::<Vec<_>>(),
        })
    }
}

/// The CRM id a Books record carries in custom field `field`.
fn custom_value(record: &Value, field: &str) -> Option<String> {
    record["custom_fields"].as_array()?.iter().find(|cf| cf["api_name"] == field).and_then(|cf| cf["value"].as_str()).map(str::to_string)
}

/// Books' webhooks, keyed `invoice:<deal>`, `contact:<account>`, `item:<product>` in the
/// product harness's [`Arrivals`].
async fn books_hook(axum::extract::State(seen): axum::extract::State<Arc<Arrivals>>, body: axum::body::Bytes) -> axum::http::StatusCode {
    let at = Instant::now();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return axum::http::StatusCode::BAD_REQUEST };
    let found = if let Some(invoice) = body.get("invoice") {
        let deal = custom_value(invoice, DEAL_FIELD).or_else(|| invoice["zcrm_potential_id"].as_str().filter(|s| !s.is_empty()).map(str::to_string));
        deal.map(|d| (format!("invoice:{d}"), invoice["invoice_id"].as_str().unwrap_or_default().to_string()))
    } else if let Some(contact) = body.get("contact") {
        custom_value(contact, ACCOUNT_FIELD).map(|a| (format!("contact:{a}"), contact["contact_id"].as_str().unwrap_or_default().to_string()))
    } else if let Some(item) = body.get("item") {
        custom_value(item, PRODUCT_FIELD).map(|p| (format!("item:{p}"), item["item_id"].as_str().unwrap_or_default().to_string()))
    } else {
        None
    };
    if let Some((key, id)) = found {
        seen.lock().entry(key).or_default().push(Arrival { at, item_id: id });
        if let Some(tick) = &seen.tick {
            tick.send_modify(|n| *n += 1);
        }
    }
    axum::http::StatusCode::OK
}

/// A decimal as a JSON number written exactly as given (CRM's currency fields take
/// numbers; going through `f64` could change the amount).
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("{text:?} is not a number"))
}

/// The harness's own CRM calls (setup and closing the deals), under its `User-Agent`.
struct Crm {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Crm {
    async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<Crm> {
        let (_, access) = zoho_emulator::testkit::login(http, base).await.context("logging in to the emulator")?;
        Ok(Crm { http: http.clone(), base: base.into(), auth: zoho_emulator::testkit::auth_header(&access) })
    }

    /// Inserts (`POST`) or updates (`PUT`) up to 100 `rows` of `module` without
    /// workflows; returns each row's id and Modified_Time.
    async fn write(&self, method: reqwest::Method, module: &str, rows: Vec<Value>) -> anyhow::Result<Vec<(String, Value)>> {
        let resp = self
            .http
            .request(method, format!("{}/crm/v8/{module}", self.base))
            .header("authorization", &self.auth)
            .json(&json!({"data": rows, "trigger": []}))
            .send()
            .await
            .with_context(|| format!("writing CRM {module}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.context("reading CRM's answer")?;
        if !status.is_success() {
            bail!("CRM {module} write answered {status}: {body}");
        }
        let data = body["data"].as_array().context("no data in CRM's answer")?;
        data.iter()
            .map(|d| {
                let id = d["details"]["id"].as_str().with_context(|| format!("CRM {module} write without an id: {d}"))?;
                Ok((id.to_string(), d["details"]["Modified_Time"].clone()))
            })
            .collect()
    }

    /// Every row, 100 per call.
    async fn write_all(&self, method: reqwest::Method, module: &str, rows: Vec<Value>) -> anyhow::Result<Vec<(String, Value)>> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(100) {
            out.extend(self.write(method.clone(), module, chunk.to_vec()).await?);
        }
        Ok(out)
    }

    /// Relates `lines` (product id, quantity, list price, discount) to deal `deal`.
    async fn relate_products(&self, deal: &str, lines: &[(String, u32, String, String)]) -> anyhow::Result<()> {
        let data: Vec<Value> =
            lines.iter().map(|(id, q, price, discount)| json!({"id": id, "quantity": q, "list_price": number(price), "Discount": number(discount)})).collect();
        let resp = self
            .http
            .put(format!("{}/crm/v8/Deals/{deal}/Products", self.base))
            .header("authorization", &self.auth)
            .json(&json!({"data": data}))
            .send()
            .await
            .context("relating products to a deal")?;
        if !resp.status().is_success() {
            bail!("relating products to deal {deal} answered {}: {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        Ok(())
    }
}

/// Posts the CRM workflow webhook for one record; returns the ms until serve answered.
async fn post_webhook(http: &reqwest::Client, hook: &str, module: &str, id: &str, modified_time: &Value) -> anyhow::Result<f64> {
    let body = json!({"module": module, "id": id, "modified_time": modified_time});
    let t0 = Instant::now();
    let resp = http.post(hook).header("X-Zoho-Bridge-Secret", SECRET).json(&body).send().await.context("posting the webhook")?;
    let ack = ms_between(t0, Instant::now());
    if !resp.status().is_success() {
        bail!("serve refused the webhook for {module} {id}: {} {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(ack)
}

/// Waits until the store has no queued or running job (links are stored with the job's
/// end, after Books committed), or `deadline`.
async fn wait_idle(store_url: &str, deadline: Instant) -> anyhow::Result<()> {
    let store = AnyStore::connect(store_url).await.context("opening the store")?;
    loop {
        let counts = store.job_counts().await?;
        if counts.iter().all(|(s, n)| !matches!(s, JobStatus::Queued | JobStatus::Running) || *n == 0) {
            store.close().await;
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the setup's jobs did not finish by the deadline: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the scenario and returns what it measured; every child process and temporary
/// resource is gone when it returns.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    zoho_emulator::install_crypto_provider();
    let deadline = Instant::now() + Duration::from_secs(options.timeout_secs);
    if options.deals == 0 || options.accounts == 0 {
        bail!("--deals and --accounts must be at least 1");
    }
    if options.lines_max > 0 && options.products == 0 {
        bail!("--lines-max needs --products");
    }
    let dir = TempDir::new()?;
    let postgres = options.store.starts_with("postgres://") || options.store.starts_with("postgresql://");
    let (database, store_url) = if postgres {
        let (db, url) = PgDatabase::create(&options.store).await?;
        (Some(db), url)
    } else {
        (None, dir.0.join("bridge.db").display().to_string())
    };

    let mut config = EmulatorConfig::unlimited();
    config.seed_data = false;
    let emulator = Emulator::start(config, 0).await.context("starting the emulator")?;
    let emu = emulator.url();
    let control = reqwest::Client::builder().user_agent(CALLER).timeout(Duration::from_secs(60)).build()?;

    let (tick, _) = watch::channel(0u64);
    let seen = Arc::new(Arrivals { by_crm_id: Mutex::default(), tick: Some(tick) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/books", listener.local_addr()?);
    let app = axum::Router::new().route("/books", axum::routing::post(books_hook)).with_state(seen.clone());
    let listener_task = tokio::spawn(async move { axum::serve(listener, app).await });
    let hook = json!({"url": hook_url, "events": ["invoice.created", "contact.created", "item.created"]});
    control.post(format!("{emu}/__emulator/books/webhooks")).json(&hook).send().await?.error_for_status().context("registering the Books webhook")?;

    let config_path = dir.0.join("zoho-bridge.toml");
    let poll = options.poll_ms.map(|ms| format!("poll_ms = {ms}\n")).unwrap_or_default();
    let config_text = format!(
        r#"# Generated by the order-to-cash harness (crates/zoho-bridge/benches/support/order_to_cash.rs).
store = "{store_url}"
listen = "127.0.0.1:0"

[zoho]
emulator = "{emu}"

# The emulator runs without Zoho's limits here: the figure is the engine's latency, not
# the plan's quota (Books allows 100 calls a minute: 1,000 invoices take 20 minutes).
[zoho.limits]
books_per_minute = false
books_per_day = false
books_concurrency = false
crm_credits_per_day = false
crm_concurrency = false

[worker]
concurrency = {concurrency}
{poll}
[webhooks]
crm_workflow_secret = "{SECRET}"

[[routes]]
system = "crm"
module = "Accounts"
flows = ["customer_sync"]

[[routes]]
system = "crm"
module = "Products"
flows = ["catalog_sync"]

[[routes]]
system = "crm"
module = "Deals"
flows = ["deal_to_invoice"]
"#,
        concurrency = options.worker_concurrency,
    );
    std::fs::write(&config_path, &config_text)?;
    let serve_log = dir.0.join("serve.log");
    let mut command = std::process::Command::new(super::BIN);
    command.args(["serve", "--config"]).arg(&config_path).env("RUST_LOG", &options.rust_log);
    let mut serve = Child::spawn("zoho-bridge serve", command, &serve_log)?;
    let ready_by = (Instant::now() + Duration::from_secs(60)).min(deadline);
    let line = serve.wait_line("zoho-bridge serving on", ready_by, &serve_log).await?;
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).with_context(|| format!("no address in {line:?}"))?.to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(256).build()?;
    let hook = format!("{base}/hooks/crm/workflow");

    // 1. Setup at zero latency: accounts and products synced by serve, then the deals.
    let crm = Crm::login(&control, &emu).await?;
    let states = ["CA", "NY", "TX", "WA"];
    let accounts = crm
        .write_all(
            reqwest::Method::POST,
            "Accounts",
            (0..options.accounts)
                .map(|i| json!({"Account_Name": format!("O2C Customer {i}"), "Billing_Country": "United States", "Billing_State": states[i % states.len()], "Billing_City": "Springfield"}))
                .collect(),
        )
        .await?;
    let products = crm
        .write_all(
            reqwest::Method::POST,
            "Products",
            (0..options.products)
                .map(|i| json!({"Product_Name": format!("O2C product {i}"), "Product_Code": format!("O2C-{i:04}"), "Unit_Price": number(&format!("{}.50", 10 + i * 7 % 90)), "Product_Active": true}))
                .collect(),
        )
        .await?;
    for (id, modified) in &accounts {
        post_webhook(&http, &hook, "Accounts", id, modified).await?;
    }
    for (id, modified) in &products {
        post_webhook(&http, &hook, "Products", id, modified).await?;
    }
    let mut synced: Vec<String> = accounts.iter().map(|(id, _)| format!("contact:{id}")).collect();
    synced.extend(products.iter().map(|(id, _)| format!("item:{id}")));
    let missing = seen.wait_all(&synced, deadline).await;
    if missing > 0 {
        bail!("{missing} accounts or products were not synced to Books by the deadline (see serve's log)");
    }
    wait_idle(&store_url, deadline).await?;

    let deal_rows: Vec<Value> = (0..options.deals)
        .map(|i| {
            json!({
                "Deal_Name": format!("O2C deal {i} — “Müller & Söhne”, (renewal)"),
                "Stage": "Qualification",
                "Amount": number(&format!("{}.00", 500 + i % 4500)),
                "Closing_Date": "2026-12-15",
                "Account_Name": {"id": accounts[i % accounts.len()].0},
            })
        })
        .collect();
    let deals = crm.write_all(reqwest::Method::POST, "Deals", deal_rows).await?;
    let mut lines_of = Vec::with_capacity(deals.len());
    for (i, (deal, _)) in deals.iter().enumerate() {
        let k = if options.lines_max == 0 { 0 } else { i % (options.lines_max + 1) };
        let lines: Vec<(String, u32, String, String)> = (0..k)
            .map(|j| {
                let p = (i + j) % products.len();
                (products[p].0.clone(), (1 + (i + j) % 5) as u32, format!("{}.50", 10 + p * 7 % 90), if j == 1 { "5.00".to_string() } else { "0".to_string() })
            })
            .collect();
        if !lines.is_empty() {
            crm.relate_products(deal, &lines).await?;
        }
        lines_of.push(k);
    }

    // 2. The timed part: latency on, deals closed, webhooks posted at the rate.
    if options.latency_ms > 0 {
        let rule = |prefix: &str| json!({"path_prefix": prefix, "latency_ms": options.latency_ms});
        let faults = json!({"rules": [rule("/crm"), rule("/books")]});
        control.put(format!("{emu}/__emulator/faults")).json(&faults).send().await?.error_for_status().context("setting the latency rule")?;
    }
    let closed = crm.write_all(reqwest::Method::PUT, "Deals", deals.iter().map(|(id, _)| json!({"id": id, "Stage": "Closed Won"})).collect()).await?;
    control.delete(format!("{emu}/__emulator/stats")).send().await?.error_for_status().context("clearing the emulator's counters")?;
    let clock = EpochClock::new();
    let started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for (i, (id, modified)) in closed.iter().enumerate() {
        let at = if options.rate > 0.0 { started + Duration::from_secs_f64(i as f64 / options.rate) } else { started };
        let (http, hook, id, modified) = (http.clone(), hook.clone(), id.clone(), modified.clone());
        posts.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let t0 = Instant::now();
            let ack = post_webhook(&http, &hook, "Deals", &id, &modified).await;
            (i, t0, ack)
        });
    }
    let mut sent = vec![(started, f64::NAN); closed.len()];
    while let Some(joined) = posts.join_next().await {
        let (i, t0, ack) = joined?;
        sent[i] = (t0, ack?);
    }
    let keys: Vec<String> = closed.iter().map(|(id, _)| format!("invoice:{id}")).collect();
    seen.wait_all(&keys, deadline).await;
    let mut last = started;
    let mut runs = Vec::with_capacity(closed.len());
    for ((i, (id, _)), (t0, ack_ms)) in closed.iter().enumerate().zip(&sent) {
        let first = seen.first(&format!("invoice:{id}"));
        if let Some(a) = &first {
            last = last.max(a.at);
        }
        runs.push(DealRun {
            crm_id: id.clone(),
            lines: lines_of[i],
            ack_ms: *ack_ms,
            latency_ms: first.as_ref().map(|a| ms_between(*t0, a.at)),
            invoices_created: 0,
            invoices_at_end: 0,
            stored_ms: None,
            to_write_ms: None,
            write_ms: None,
        });
    }
    let wall_s = ms_between(started, last) / 1000.0;
    // Let the write-backs and job ends land before counting calls and stopping.
    let _ = wait_idle(&store_url, (Instant::now() + Duration::from_secs(60)).min(deadline)).await;
    let calls = engine_calls(&control, &emu).await?;
    let serve_summary = serve.stop(Duration::from_secs(20)).await;

    // 3. Where the time went, and the invoices at the end.
    let store = AnyStore::connect(&store_url).await.context("opening the store after the run")?;
    for (run, (t0, _)) in runs.iter_mut().zip(&sent) {
        run.invoices_created = seen.count(&format!("invoice:{}", run.crm_id));
        let Some(Arrival { at: seen_at, item_id: invoice_id }) = seen.first(&format!("invoice:{}", run.crm_id)) else { continue };
        let audit = store.audit_for_record("books", "invoices", &invoice_id).await?;
        let Some(write) = audit.iter().filter(|a| matches!(a.action.as_str(), "create" | "upsert")).min_by_key(|a| a.at_ms) else { continue };
        let Some(job) = (match write.job_id {
            Some(id) => store.job(id).await?,
            None => None,
        }) else {
            continue;
        };
        let sent_ms = clock.ms(*t0);
        run.stored_ms = Some(job.created_ms as f64 - sent_ms);
        run.to_write_ms = Some((write.at_ms - job.created_ms) as f64);
        run.write_ms = Some(clock.ms(seen_at) - write.at_ms as f64);
    }
    let jobs = store.job_counts().await?;
    store.close().await;
    {
        let world = emulator.state().world();
        let org = world.books.orgs.values().next().context("no Books organisation")?;
        let field_id = org.custom_fields.iter().find(|d| d.api_name == DEAL_FIELD).map(|d| d.customfield_id.clone());
        let mut at_end: HashMap<String, usize> = HashMap::new();
        for invoice in org.invoices.values() {
            let by_field = invoice.doc.custom_fields.iter().find(|v| Some(&v.customfield_id) == field_id.as_ref()).map(|v| v.value.clone());
            if let Some(deal) = by_field {
                *at_end.entry(deal).or_default() += 1;
            }
        }
        for run in &mut runs {
            run.invoices_at_end = at_end.get(&run.crm_id).copied().unwrap_or(0);
        }
    }

    let report = Report {
        options: options.clone(),
        profile: profile(),
        store_kind: if database.is_some() { "postgres" } else { "sqlite" },
        deals: runs,
        wall_s,
        calls,
        jobs,
        serve_summary: serve_summary.into_iter().filter(|l| l.starts_with("zoho-bridge stopped")).collect(),
    };
    if let Some(keep) = &options.keep_logs {
        std::fs::create_dir_all(keep).with_context(|| format!("creating {}", keep.display()))?;
        for name in ["serve.log", "zoho-bridge.toml"] {
            std::fs::copy(dir.0.join(name), keep.join(name))?;
        }
    }
    listener_task.abort();
    emulator.stop().await;
    drop(serve);
    drop(database);
    drop(dir);
    Ok(report)
}

/// Runs the harness as the bench does: run, print the table, write the JSON.
pub async fn main_with(options: Options) -> anyhow::Result<Report> {
    let report = tokio::select! {
        r = run(&options) => r?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    };
    print!("{}", report.table());
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report.json())?).with_context(|| format!("writing {}", path.display()))?;
        println!("figures written to {}", path.display());
    }
    Ok(report)
}
