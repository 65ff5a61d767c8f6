//! The operating surface of `zoho-bridge serve`, measured from the outside: the agent
//! gateway (MCP over streamable HTTP at `/mcp`), the dashboard's pages and the `/metrics`
//! scrape, on a store that has been running for a while, and what serve's memory peaks
//! at meanwhile.
//!
//! Why: these are what people and their tools touch every minute. An agent's tool call
//! goes through the bearer check, the per-token rate limit, the tool and the audit; the
//! overview and `/metrics` read the store on every load and every scrape. Whether that
//! stays fast as the store fills up (jobs are kept) is not visible in the unit tests, and
//! timed assertions do not belong there: this harness prints the figures instead.
//!
//! How it measures (the real binary as a child process, as the `e2e` bench does, with
//! its `support` module):
//! - The store (SQLite, a fresh file) is seeded through `bridge`'s `Store` API before
//!   serve starts: `--jobs` done jobs spread over five flows and the last 24 hours (each
//!   with its event and one audited Zoho write), plus `--dead` dead letters (with Zoho's
//!   refusal audited). An agent token (scopes read and money) is made in it.
//! - The emulator runs in this process with its limits off and holds one CRM deal of
//!   5,000.00 USD, above `[mcp] approval_above` (1,000). `[mcp] calls_per_minute` is set
//!   far above what the bench sends, so the rate limit admits every call (it is still
//!   counted on each).
//! - MCP: `--mcp-calls` `tools/call` requests per tool and concurrency, each session an
//!   MCP client of its own (`McpSession`, the demo's minimal JSON-RPC client: one POST per
//!   call, the answer read as JSON or server-sent events), after `--warmup` untimed calls.
//!   Tools: `job_status` (one job from the store), `dead_letters` (50 rows from the store)
//!   and `create_invoice_for_deal` on the deal above the approval amount, which reads the
//!   deal from CRM (the emulator) and leaves a pending approval: no invoice is made.
//!   Every answer is checked (a refused or failed call ends the run).
//! - Dashboard: logged in through the login form with the token whose hash is in
//!   `[dashboard] token_sha256`; `--page-loads` GETs of the overview (`/`) and of `/dead`
//!   (the 200 newest dead letters, each with its audit) per concurrency, with the session
//!   cookie; then `/metrics` scraped `--scrapes` times, one at a time.
//! - The overview and `/metrics` are timed twice: before the MCP phase and after it, when
//!   every money call has left a pending approval (both pages count the pending ones).
//! - serve's peak resident memory is its `VmHWM` in `/proc/<pid>/status`, read after the
//!   last request (and `VmRSS` after start, for comparison).
//!
//! ```sh
//! cargo bench -p zoho-bridge --bench gateway                        # the defaults below
//! cargo bench -p zoho-bridge --bench gateway -- --jobs 100000 --dead 2000
//! cargo bench -p zoho-bridge --bench gateway -- --concurrency 1,4,16,64 --mcp-calls 4000
//! cargo bench -p zoho-bridge --bench gateway -- --help              # every option
//! ```
//!
//! Figures measured (`cargo bench -p zoho-bridge --bench gateway`, release, defaults:
//! 10,000 done jobs over 5 flows + 200 dead letters, SQLite; a 2-core machine shared
//! with other builds, so read them as an order of magnitude):
//!
//! ```text
//!   ms per request                                       conc      n      p50      p90      p99      max     per s
//!   dashboard overview /                                    1    200     8.73     9.98    15.53    17.65       113
//!   dashboard /dead (200 dead letters)                      1    200    14.62    15.71    19.08    21.54        68
//!   dashboard overview /                                    4    200    24.87    30.21    33.44    34.14       159
//!   dashboard /dead (200 dead letters)                      4    200    31.57    37.47    44.76    46.71       123
//!   /metrics scrape                                         1    200     0.84     0.89     1.05     1.37      1176
//!   MCP job_status (store read)                             1   1000     0.82     1.19     4.21    11.20      1035
//!   MCP job_status (store read)                            16   1000     7.76    10.28    21.02    21.43      1817
//!   MCP dead_letters, 50 rows (store read)                  1   1000     1.74     1.88     2.61    17.17       552
//!   MCP dead_letters, 50 rows (store read)                 16   1000    18.67    21.03    39.64    40.99       837
//!   MCP create_invoice_for_deal → pending approval          1   1000     1.18     1.29     1.53     6.89       826
//!   MCP create_invoice_for_deal → pending approval         16   1000    12.93    18.15    21.67    24.71      1153
//!   dashboard overview / (2170 approvals pending)           1    200     8.30     9.11    11.53    11.96       118
//!   /metrics scrape (2170 approvals pending)                1    200     0.92     1.04     1.21     1.30      1055
//!   serve's memory: VmRSS 25.6 MiB after start, 52.9 MiB at the end; peak (VmHWM) 53.6 MiB
//! ```
//!
//! What these figures found, and what was changed for it:
//! - Every MCP call took 44 ms whatever the tool (28 calls/s per session, 355/s with 16):
//!   the answer is a server-sent event stream written in several small writes, and with
//!   Nagle's algorithm on, the second waited for the client's delayed ACK. serve's
//!   listeners now set `TCP_NODELAY`: 0.8 ms.
//! - `/metrics` and the overview read every pending approval to count them: with 2,170
//!   pending, a scrape took 16.5 ms (0.8 ms with none) and the overview 24 ms. They count
//!   in the store now (`Approvals::count_approvals`): 0.9 ms and 8.3 ms.
//! - Still growing with the store: `/metrics` and the overview count jobs by status over
//!   every job kept (`job_counts`). With `--jobs 100000`, a scrape takes 5.6 ms (0.84 ms at
//!   10,000) and the overview 14 ms (8.7 ms); `[retention] days` bounds it. `/dead` reads
//!   each dead letter's audit in a query of its own (200 queries, 14.6 ms).

mod support;

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bridge::{
    flows::now_ms,
    store::{AnyStore, AuditEntry, Failure, Finish, JobResult, NewEvent, NewJob, RecordRef, Source, Store},
};
use clap::Parser;
use serde_json::{Value, json};
use support::{Child, Summary, TempDir};
use zoho_bridge::{
    demo::finale::{McpSession, tool_json},
    mcp::governance::{Scope, create_token},
};
use zoho_emulator::{Emulator, EmulatorConfig};

/// The dashboard's login token in the generated config (only its hash is written).
const LOGIN_TOKEN: &str = "gateway-bench-login-token";
/// The deal's amount, above `APPROVAL_ABOVE`: the money tool holds it for a person.
const DEAL_AMOUNT: f64 = 5000.0;
/// `[mcp] approval_above`.
const APPROVAL_ABOVE: &str = "1000";
/// The five flows the seeded jobs belong to, with the module their records are in.
const FLOWS: [(&str, &str, &str); 5] = [
    ("catalog_sync", "crm", "Products"),
    ("customer_sync", "crm", "Accounts"),
    ("deal_to_invoice", "crm", "Deals"),
    ("quote_to_invoice", "crm", "Quotes"),
    ("payment_to_crm", "books", "customerpayments"),
];

/// The bench's command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", about = "MCP tool calls, dashboard pages and /metrics of zoho-bridge serve, timed from outside, on a seeded store")]
struct Options {
    /// Done jobs seeded in the store (over 5 flows and the last 24 h).
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Dead letters seeded in the store.
    #[arg(long, default_value_t = 200)]
    dead: usize,
    /// MCP sessions calling at once, one measurement each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Timed `tools/call` requests per tool and concurrency.
    #[arg(long, default_value_t = 1000)]
    mcp_calls: usize,
    /// Untimed calls per session before each measurement.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Page loads in flight at once on the dashboard, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    page_concurrency: Vec<usize>,
    /// Timed GETs per page and page concurrency.
    #[arg(long, default_value_t = 200)]
    page_loads: usize,
    /// Timed `/metrics` scrapes (one at a time).
    #[arg(long, default_value_t = 200)]
    scrapes: usize,
    /// RUST_LOG of serve (its output goes to a log file).
    #[arg(long, default_value = "warn")]
    rust_log: String,
    /// Copy serve's log and config into this directory.
    #[arg(long)]
    keep_logs: Option<std::path::PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(options)) {
        eprintln!("gateway: {e:#}");
        std::process::exit(1);
    }
}

/// One measured row: a sample of latencies (ms) and the wall time it took.
struct Row {
    label: String,
    concurrency: usize,
    summary: Summary,
    per_s: f64,
}

impl Row {
    fn new(label: String, concurrency: usize, latencies: &[f64], wall: Duration) -> Row {
        Row { label, concurrency, summary: Summary::of(latencies), per_s: latencies.len() as f64 / wall.as_secs_f64() }
    }

    fn line(&self) -> String {
        let s = &self.summary;
        format!("  {:<52} {:>4} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.0}", self.label, self.concurrency, s.n, s.p50, s.p90, s.p99, s.max, self.per_s)
    }
}

async fn run(options: Options) -> anyhow::Result<()> {
    zoho_emulator::install_crypto_provider();
    if options.concurrency.iter().chain(&options.page_concurrency).any(|&c| c == 0) {
        bail!("--concurrency and --page-concurrency take numbers of at least 1");
    }
    let dir = TempDir::new()?;
    let store_path = dir.0.join("bridge.db").display().to_string();

    // The emulator, with one deal above the approval amount.
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.context("starting the emulator")?;
    let deal_id = deal_above_approval(&emulator.url()).await?;

    // The store, seeded before serve opens it.
    let started = Instant::now();
    let store = AnyStore::connect(&store_path).await.with_context(|| format!("creating the store {store_path}"))?;
    let seeded = seed(&store, options.jobs, options.dead).await?;
    let agent = create_token(&store, "bench-agent", &[Scope::Read, Scope::Money], now_ms()).await.map_err(|e| anyhow::anyhow!(e))?;
    store.close().await;
    eprintln!("seeded {} done jobs over {} flows and {} dead letters in {:.1} s", options.jobs, FLOWS.len(), options.dead, started.elapsed().as_secs_f64());

    // serve, with the dashboard on its main listener and the gateway at /mcp.
    let config_path = dir.0.join("zoho-bridge.toml");
    let config_text = format!(
        r#"# Generated by the gateway bench (crates/zoho-bridge/benches/gateway.rs).
store = "{store_path}"
listen = "127.0.0.1:0"

[zoho]
emulator = "{}"

[dashboard]
token_sha256 = "{}"

[mcp]
# Far above what the bench sends: every call is admitted (and counted).
calls_per_minute = 100000000
approval_above = "{APPROVAL_ABOVE}"
"#,
        emulator.url(),
        bridge::hash::secret_hash(LOGIN_TOKEN)
    );
    std::fs::write(&config_path, &config_text)?;
    let log = dir.0.join("serve.log");
    let mut command = std::process::Command::new(support::BIN);
    command.args(["serve", "--config"]).arg(&config_path).env("RUST_LOG", &options.rust_log);
    let mut serve = Child::spawn("zoho-bridge serve", command, &log)?;
    let line = serve.wait_line("zoho-bridge serving on", Instant::now() + Duration::from_secs(60), &log).await?;
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).with_context(|| format!("no address in {line:?}"))?.trim_end_matches('/').to_string();
    let pid = serve.pid();
    let rss_at_start = memory_kib(pid, "VmRSS:");

    let measured = measure(&options, &base, &agent.secret, &deal_id, &seeded).await;
    let hwm = memory_kib(pid, "VmHWM:");
    let rss_at_end = memory_kib(pid, "VmRSS:");
    serve.stop(Duration::from_secs(20)).await;
    if let Some(keep) = &options.keep_logs {
        std::fs::create_dir_all(keep).with_context(|| format!("creating {}", keep.display()))?;
        std::fs::copy(&log, keep.join("serve.log"))?;
        std::fs::copy(&config_path, keep.join("zoho-bridge.toml"))?;
    }
    let measured = measured.with_context(|| format!("serve's log ends:\n{}", log_tail(&log)))?;
    emulator.stop().await;

    println!(
        "zoho-bridge serve ({} build): {} done jobs over {} flows + {} dead letters (SQLite), emulator with limits off",
        support::profile(),
        options.jobs,
        FLOWS.len(),
        options.dead
    );
    println!("  {:<52} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}", "ms per request", "conc", "n", "p50", "p90", "p99", "max", "per s");
    for row in &measured {
        println!("{}", row.line());
    }
    let mib = |kib: Option<u64>| kib.map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("  serve's memory: VmRSS {} after start, {} at the end; peak (VmHWM) {}", mib(rss_at_start), mib(rss_at_end), mib(hwm));
    Ok(())
}

/// Every measurement, in order; the rows of the table.
async fn measure(options: &Options, base: &str, agent_token: &str, deal_id: &str, seeded: &Seeded) -> anyhow::Result<Vec<Row>> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(60)).build()?;
    let cookie = login(&http, base).await?;
    let mut rows = Vec::new();

    // The dashboard and /metrics on the seeded store.
    for &c in &options.page_concurrency {
        rows.push(pages(&http, base, "/", &cookie, c, options.page_loads, "dashboard overview /").await?);
        rows.push(pages(&http, base, "/dead", &cookie, c, options.page_loads, &format!("dashboard /dead ({} dead letters)", seeded.dead)).await?);
    }
    rows.push(pages(&http, base, "/metrics", "", 1, options.scrapes, "/metrics scrape").await?);

    // The agent gateway.
    let mcp = format!("{base}{}", zoho_bridge::mcp::PATH);
    let tools: [(&str, &str, Value); 3] = [
        ("job_status", "MCP job_status (store read)", json!({"job_id": seeded.done_job})),
        ("dead_letters", "MCP dead_letters, 50 rows (store read)", json!({})),
        ("create_invoice_for_deal", "MCP create_invoice_for_deal → pending approval", json!({"deal_id": deal_id})),
    ];
    let mut held = 0;
    for (tool, label, args) in &tools {
        for &c in &options.concurrency {
            let row = mcp_calls(&http, &mcp, agent_token, tool, args, c, options.mcp_calls, options.warmup).await?;
            if *tool == "create_invoice_for_deal" {
                held += options.mcp_calls + c * options.warmup;
            }
            rows.push(Row { label: label.to_string(), ..row });
        }
    }

    // The overview and /metrics again, with every money call's approval pending.
    rows.push(pages(&http, base, "/", &cookie, 1, options.page_loads, &format!("dashboard overview / ({held} approvals pending)")).await?);
    rows.push(pages(&http, base, "/metrics", "", 1, options.scrapes, &format!("/metrics scrape ({held} approvals pending)")).await?);
    Ok(rows)
}

/// Logs in through the login form; the session cookie (`name=value`).
async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let answer = http.post(format!("{base}/login")).form(&[("token", LOGIN_TOKEN), ("name", "bench")]).send().await.context("posting the login form")?;
    if answer.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("the login form answered {}: {}", answer.status(), answer.text().await.unwrap_or_default());
    }
    let cookie = answer.headers().get("set-cookie").and_then(|v| v.to_str().ok()).context("the login set no cookie")?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// `loads` GETs of `path` (with `cookie` unless empty), `concurrency` at a time; each must
/// answer 200 with a body.
async fn pages(http: &reqwest::Client, base: &str, path: &str, cookie: &str, concurrency: usize, loads: usize, label: &str) -> anyhow::Result<Row> {
    let url = Arc::new(format!("{base}{path}"));
    let get = |http: reqwest::Client, url: Arc<String>, cookie: String| async move {
        let mut request = http.get(url.as_str());
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        let t0 = Instant::now();
        let answer = request.send().await.with_context(|| format!("GET {url}"))?;
        let status = answer.status();
        let body = answer.bytes().await.with_context(|| format!("reading GET {url}"))?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if status != reqwest::StatusCode::OK || body.is_empty() {
            bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body[..body.len().min(500)]));
        }
        anyhow::Ok(ms)
    };
    // One untimed load per worker first (connections made, caches warm).
    for _ in 0..concurrency {
        get(http.clone(), url.clone(), cookie.to_string()).await?;
    }
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (http, url, cookie) = (http.clone(), url.clone(), cookie.to_string());
        let share = loads / concurrency + usize::from(w < loads % concurrency);
        workers.spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                out.push(get(http.clone(), url.clone(), cookie.clone()).await?);
            }
            anyhow::Ok(out)
        });
    }
    let mut latencies = Vec::with_capacity(loads);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined??);
    }
    Ok(Row::new(label.to_string(), concurrency, &latencies, started.elapsed()))
}

/// `calls` `tools/call` requests of `tool` with `args` over `concurrency` MCP sessions
/// (opened untimed, then `warmup` untimed calls each); every answer must be the tool's
/// JSON, not an error.
#[allow(clippy::too_many_arguments)]
async fn mcp_calls(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    args: &Value,
    concurrency: usize,
    calls: usize,
    warmup: usize,
) -> anyhow::Result<Row> {
    let params = json!({"name": tool, "arguments": args});
    let mut sessions = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut session = McpSession::open(http, url, token).await.context("opening an MCP session")?;
        for _ in 0..warmup {
            checked(&mut session, tool, &params).await?;
        }
        sessions.push(session);
    }
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (w, mut session) in sessions.into_iter().enumerate() {
        let share = calls / concurrency + usize::from(w < calls % concurrency);
        let (tool, params) = (tool.to_string(), params.clone());
        workers.spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                let t0 = Instant::now();
                checked(&mut session, &tool, &params).await?;
                out.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(out)
        });
    }
    let mut latencies = Vec::with_capacity(calls);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined??);
    }
    Ok(Row::new(tool.to_string(), concurrency, &latencies, started.elapsed()))
}

/// One `tools/call`; its answer must be what the tool answers when all is well.
async fn checked(session: &mut McpSession, tool: &str, params: &Value) -> anyhow::Result<()> {
    let result = session.call("tools/call", params.clone()).await?;
    let answer = tool_json(&result).with_context(|| format!("calling {tool}"))?;
    let expected = match tool {
        "create_invoice_for_deal" => answer["status"] == "pending_approval" && answer["approval_id"].as_i64().is_some_and(|id| id > 0),
        "dead_letters" => !answer.is_null(),
        _ => answer.to_string().contains("done"),
    };
    if !expected {
        bail!("{tool} answered {answer}");
    }
    Ok(())
}

/// What the seeding left in the store.
struct Seeded {
    /// A done job's id (for `job_status`).
    done_job: i64,
    /// Dead letters.
    dead: usize,
}

/// Seeds `jobs` done jobs (over [`FLOWS`], their events received over the last 24 hours,
/// each with one audited write) and `dead` dead letters (a permanent refusal, audited),
/// the way the engine leaves them: events added, jobs claimed, results recorded.
async fn seed(store: &AnyStore, jobs: usize, dead: usize) -> anyhow::Result<Seeded> {
    const BATCH: usize = 500;
    let total = jobs + dead;
    let now = now_ms();
    let span_ms = 24 * 3_600_000i64;
    let batches = total.div_ceil(BATCH).max(1);
    let mut done_job = 0;
    let mut made = 0;
    for b in 0..batches {
        let from = b * BATCH;
        let to = (from + BATCH).min(total);
        let t = now - span_ms + (b as i64 * span_ms) / batches as i64;
        let events: Vec<(NewEvent, Vec<NewJob>)> = (from..to)
            .map(|i| {
                let (flow, system, module) = FLOWS[i % FLOWS.len()];
                let record = match system {
                    "crm" => RecordRef::crm(module, format!("9{i:011}")),
                    _ => RecordRef::books(module, format!("7{i:011}")),
                };
                let event = NewEvent::for_record(Source::CrmWebhook, "default", &record, json!({"id": record.id}), format!("bench:{}:{i}", record.job_key()));
                (event, vec![NewJob::for_record(flow, &record)])
            })
            .collect();
        store.add_events(&events, t).await?;
        let claimed = store.claim("bench-seed", t + 20, 600_000, (to - from) as u32).await?;
        if claimed.len() != to - from {
            bail!("seeding: claimed {} jobs of the {} just added", claimed.len(), to - from);
        }
        // Jobs finish 100 ms to ~1 s after their event, ten groups per batch.
        for (g, group) in claimed.chunks(BATCH / 10).enumerate() {
            let finished = t + 100 + g as i64 * 90;
            let results: Vec<(i64, JobResult)> = group
                .iter()
                .map(|job| {
                    made += 1;
                    let write = |ok: bool, response: Value| AuditEntry {
                        id: 0,
                        at_ms: finished - 40,
                        actor: "bench-seed".into(),
                        job_id: Some(job.id),
                        event_id: Some(job.event_id),
                        connection: "default".into(),
                        system: "books".into(),
                        module: "items".into(),
                        record_id: Some(format!("B{}", job.id)),
                        action: "update".into(),
                        request: json!({"name": format!("Item {}", job.id), "rate": "12.50"}),
                        response,
                        ok,
                    };
                    // Every `total / dead`-th job dies, spread over the day and the flows.
                    let dies = dead > 0 && made % (total / dead).max(1) == 0 && made / (total / dead).max(1) <= dead;
                    let result = if dies {
                        let error = "Books refused the write: 400 code 1001: Item \"SKU-1\" already exists".to_string();
                        let refusal = json!({"status": 400, "code": 1001, "message": "Item \"SKU-1\" already exists"});
                        JobResult::Fail {
                            failure: Failure { error, retryable: false, audit: vec![write(false, refusal)] },
                            retry_at_ms: finished,
                            max_attempts: 5,
                        }
                    } else {
                        done_job = job.id;
                        let answer = json!({"status": 200, "code": 0, "message": "The item has been updated."});
                        JobResult::Finish(Finish::Done {
                            outcome: "updated the Books item".into(),
                            links: vec![],
                            snapshot: None,
                            audit: vec![write(true, answer)],
                        })
                    };
                    (job.id, result)
                })
                .collect();
            for outcome in store.record("bench-seed", &results, finished).await? {
                outcome?;
            }
        }
    }
    let counts = store.job_counts().await?;
    let dead_now = counts.iter().find(|(s, _)| *s == bridge::store::JobStatus::Dead).map_or(0, |(_, n)| *n) as usize;
    if dead_now != dead {
        bail!("seeding: {dead_now} dead letters in the store, {dead} wanted ({counts:?})");
    }
    Ok(Seeded { done_job, dead: dead_now })
}

/// Creates a CRM account and its Closed Won deal of [`DEAL_AMOUNT`] in the emulator at
/// `url`; returns the deal's id.
async fn deal_above_approval(url: &str) -> anyhow::Result<String> {
    use zoho::crm::records::WriteOptions;
    let connection = zoho::Connection::from_emulator(url).await.context("the emulator's credentials")?;
    let client = zoho::Client::builder(connection).budget(zoho::BudgetConfig::unlimited()).budget_registry(zoho::BudgetRegistry::new()).build()?;
    let insert = |module: &'static str, fields: Value| {
        let client = client.clone();
        async move {
            let r = client.crm().insert(module, &[fields], &WriteOptions::no_triggers()).await?;
            match r.first() {
                Some(r) if r.is_success() => anyhow::Ok(r.id().unwrap_or_default().to_string()),
                other => bail!("CRM did not create the {module} record: {other:?}"),
            }
        }
    };
    let account = insert("Accounts", json!({"Account_Name": "Bench Gateway Ltd", "Billing_Country": "US", "Billing_State": "CA"})).await?;
    insert("Deals", json!({"Deal_Name": "Bench: gateway", "Stage": "Closed Won", "Amount": DEAL_AMOUNT, "Account_Name": {"id": account}})).await
}

/// A `VmHWM:`/`VmRSS:` figure of process `pid`, KiB (Linux; `None` elsewhere).
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// The last lines of serve's log.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
