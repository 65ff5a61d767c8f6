//! The end-to-end latency harness: `zoho-bridge serve` driven over HTTP the way a user's
//! Zoho drives it, timed from the outside.
//!
//! Why: the figures that matter to a user are "a product changes in CRM → how long until
//! its Books item exists" and "how many changes a second can the receiver take", with
//! Zoho's round-trip latency and rate limits in the way. Inner benchmarks (`bridge`'s
//! `engine` and `store`) cannot show those; this harness runs the real binary as a child
//! process, with a generated config file and a fresh store, against the emulator with
//! latency injected on every CRM and Books call. The `e2e` bench
//! (`cargo bench -p zoho-bridge --bench e2e -- --help`) and the `e2e_harness` test (a
//! handful of products at zero latency, correctness only) both run this code, so it
//! cannot rot.
//!
//! How it measures:
//! - The emulator runs in this process, with Zoho's rate limits (unless `--no-limits`)
//!   and a fault rule adding `--latency-ms` to every `/crm` and `/books` call
//!   (`PUT /__emulator/faults`); OAuth token calls get no latency.
//! - A Books webhook (`item.created`, registered with `POST /__emulator/books/webhooks`,
//!   as a user would in Books' settings) points at a listener in this process: the item's
//!   creation is seen the moment the emulator commits it, with no Zoho call of our own.
//! - Latency per product = webhook posted to serve's `/hooks/crm/workflow` → the
//!   `item.created` webhook for that product (told by its `cf_crm_product_id`) arriving.
//!   One at a time, a random pause (`--gap-ms`) comes before each webhook: without it the
//!   arrivals fall in step with the worker's polls of the queue and always wait the same
//!   share of `poll_ms`.
//! - The harness creates the CRM products itself (one API call per 100, untimed) under
//!   its own `User-Agent`, so the emulator's counters (`GET /__emulator/stats`) separate
//!   its calls from the engine's: the Zoho calls per product are the engine's only.
//! - After the run the store is read for where each product's time went: webhook →
//!   the job's `created_ms` (stamped by the receiver), → the Books create's audit entry
//!   (`at_ms`, journaled just before the call: commit, claim wait, CRM read), → the item
//!   seen (journal write and the upsert call).
//! - The floor is `latency × --floor-calls` (default 2: catalog_sync's data needs the
//!   CRM product before it can write the item, with one Books upsert keyed by the CRM id;
//!   the second call waits for the first), the time no engine can beat at this latency;
//!   the report gives p99 / floor.
//!
//! Every wait has a deadline (`--timeout-secs` for the whole run), child processes are
//! killed when the harness ends (also on panic or Ctrl-C), a PostgreSQL database is
//! created for the run and dropped after it, and all traffic stays on 127.0.0.1.

#![allow(dead_code)]

use std::{
    collections::{BTreeMap, HashMap},
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use bridge::store::{AnyStore, Store};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use zoho_emulator::{Emulator, EmulatorConfig, stats::StatsRow};

pub mod order_to_cash;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");
/// The `User-Agent` of the harness's own Zoho calls (product creation).
pub const CALLER: &str = "zoho-bridge-e2e-harness";
/// The CRM workflow webhook secret in the generated config.
const SECRET: &str = "e2e-harness-secret";
/// The Books item custom field holding the CRM product id (set by catalog_sync).
const CRM_ID_FIELD: &str = "cf_crm_product_id";

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// N products one at a time: create, post its webhook, wait for its item, next.
    One,
    /// Create N products, post N webhooks at once, wait for every item.
    Burst,
    /// Zero latency: webhooks/s acknowledged by serve's receiver under `--senders`
    /// concurrent senders (the engine processes them when it can; not waited for).
    Intake,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::One => "one",
            Mode::Burst => "burst",
            Mode::Intake => "intake",
        }
    }
}

/// The harness's options (the bench's command line).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "e2e", about = "End-to-end latency of zoho-bridge serve against the emulator, over HTTP")]
pub struct Options {
    /// Scenario.
    #[arg(long, value_enum, default_value = "one")]
    pub mode: Mode,
    /// Products (one, burst) or webhooks (intake). Default: one 30, burst 100, intake 2000.
    #[arg(long, short = 'n')]
    pub products: Option<usize>,
    /// Latency added to every CRM and Books call, ms. Default 100 (intake: always 0).
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// `sqlite` (a fresh file in a temp dir) or a PostgreSQL server URL
    /// (`postgres://postgres@127.0.0.1:5432/postgres`): a database is created for the run
    /// and dropped after it.
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// Extra `zoho-bridge worker` processes on the same store (PostgreSQL only), besides
    /// the worker inside serve.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Concurrent webhook senders (intake).
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// `[worker] poll_ms` for serve and the workers (default: the engine's, 500).
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// `[worker] concurrency` for serve and the workers (default: the engine's, 16).
    #[arg(long)]
    pub worker_concurrency: Option<u32>,
    /// Switch off the emulator's rate limits (the engine's own client budget stays).
    #[arg(long)]
    pub no_limits: bool,
    /// Sequential Zoho calls the data needs per product (the floor is latency × this).
    #[arg(long, default_value_t = 2)]
    pub floor_calls: u32,
    /// Deadline for the whole run, seconds; what is missing by then is reported missing.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// RUST_LOG of serve and the workers (their stderr goes to log files).
    #[arg(long, default_value = "warn")]
    pub rust_log: String,
    /// Copy serve's and the workers' logs and config into this directory.
    #[arg(long)]
    pub keep_logs: Option<PathBuf>,
    /// One at a time: pause a random 0..=N ms before each webhook, so that arrivals do
    /// not fall in step with the worker's polls (as a user's edits would not).
    #[arg(long, default_value_t = 1000)]
    pub gap_ms: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Options {
    /// Products (or webhooks) this run uses.
    pub fn count(&self) -> usize {
        self.products.unwrap_or(match self.mode {
            Mode::One => 30,
            Mode::Burst => 100,
            Mode::Intake => 2000,
        })
    }

    /// The latency injected on every CRM and Books call.
    pub fn latency(&self) -> u64 {
        match self.mode {
            Mode::Intake => 0,
            _ => self.latency_ms.unwrap_or(100),
        }
    }

    fn postgres(&self) -> Option<&str> {
        (self.store.starts_with("postgres://") || self.store.starts_with("postgresql://")).then_some(self.store.as_str())
    }
}

/// The profile this harness (and so the binary under test) was built with.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) { "debug" } else { "release" }
}

/// Percentile `p` (0..=1) of sorted `xs`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// p50, p90, p99, max and mean of a sample, ms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn of(xs: &[f64]) -> Summary {
        let mut s: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        let mean = if s.is_empty() { f64::NAN } else { s.iter().sum::<f64>() / s.len() as f64 };
        Summary {
            n: s.len(),
            p50: percentile(&s, 0.50),
            p90: percentile(&s, 0.90),
            p99: percentile(&s, 0.99),
            max: s.last().copied().unwrap_or(f64::NAN),
            mean,
        }
    }

    fn json(&self) -> Value {
        json!({"n": self.n, "p50": self.p50, "p90": self.p90, "p99": self.p99, "max": self.max, "mean": self.mean})
    }

    fn row(&self, label: &str) -> String {
        format!("  {label:<44} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}", self.n, self.p50, self.p90, self.p99, self.max, self.mean)
    }
}

/// What one product went through.
#[derive(Debug, Clone)]
pub struct ProductRun {
    pub crm_id: String,
    pub sku: String,
    /// Webhook posted → serve answered, ms.
    pub ack_ms: f64,
    /// Webhook posted → `item.created` seen, ms (`None`: not seen by the deadline).
    pub latency_ms: Option<f64>,
    /// `item.created` webhooks seen for it.
    pub items_created: usize,
    /// Items in the emulator's Books carrying its CRM id at the end.
    pub items_at_end: usize,
    /// From the store: webhook posted → the job stamped by the receiver (`stored_ms`),
    /// → the Books create journaled (`to_create_ms`), → the item seen (`create_ms`), ms.
    pub stored_ms: Option<f64>,
    pub to_create_ms: Option<f64>,
    pub create_ms: Option<f64>,
}

/// Intake figures.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    pub sent: usize,
    pub acked: usize,
    pub refused: usize,
    pub elapsed_s: f64,
    pub ack: Summary,
}

/// The engine's Zoho calls, summed from the emulator's counters.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    pub crm_reads: u64,
    pub crm_writes: u64,
    pub books_reads: u64,
    pub books_writes: u64,
    pub token: u64,
    pub rate_limited: u64,
    pub errors: u64,
    /// Every engine row (not the harness's own).
    pub rows: Vec<StatsRow>,
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub profile: &'static str,
    pub store_kind: &'static str,
    pub latency_ms: u64,
    pub products: Vec<ProductRun>,
    /// First webhook posted → last item seen (or the deadline), seconds.
    pub wall_s: f64,
    pub intake: Option<Intake>,
    pub calls: Calls,
    /// serve's last stdout lines (its stop summary).
    pub serve_summary: Vec<String>,
    pub workers_summary: Vec<String>,
}

impl Report {
    /// Products whose item was seen.
    pub fn done(&self) -> usize {
        self.products.iter().filter(|p| p.latency_ms.is_some()).count()
    }

    /// Every product has exactly one item (seen created once, and one in Books at the end).
    pub fn check_one_item_each(&self) -> anyhow::Result<()> {
        let wrong: Vec<String> = self
            .products
            .iter()
            .filter(|p| p.items_created != 1 || p.items_at_end != 1)
            .map(|p| format!("{} ({}): {} created, {} at the end", p.crm_id, p.sku, p.items_created, p.items_at_end))
            .collect();
        if !wrong.is_empty() {
            bail!("{} of {} products have not exactly one item: {}", wrong.len(), self.products.len(), wrong.join("; "));
        }
        Ok(())
    }

    pub fn latency(&self) -> Summary {
        Summary::of(&self.products.iter().filter_map(|p| p.latency_ms).collect::<Vec<_>>())
    }

    /// `latency × floor_calls`, ms.
    pub fn floor_ms(&self) -> f64 {
        (self.latency_ms * u64::from(self.options.floor_calls)) as f64
    }

    /// Items per second over the run.
    pub fn throughput(&self) -> f64 {
        self.done() as f64 / self.wall_s.max(1e-9)
    }

    /// `n` per product (intake: per webhook sent).
    fn per_product(&self, n: u64) -> f64 {
        let of = self.intake.as_ref().map_or(self.products.len(), |i| i.sent);
        n as f64 / of.max(1) as f64
    }

    fn store_label(&self) -> String {
        match self.store_kind {
            "postgres" => format!("postgres (serve + {} worker process(es))", self.options.workers),
            _ => "sqlite".into(),
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("== zoho-bridge e2e: mode {} | profile {} | store {} ==", o.mode.name(), self.profile, self.store_label()));
        line(format!(
            "options: n={} latency_ms={} (every /crm and /books call) emulator_limits={} poll_ms={} worker_concurrency={} senders={} gap_ms={} floor_calls={}",
            o.count(),
            self.latency_ms,
            if o.no_limits { "off" } else { "zoho" },
            o.poll_ms.map_or("500 (default)".to_string(), |v| v.to_string()),
            o.worker_concurrency.map_or("16 (default)".to_string(), |v| v.to_string()),
            if o.mode == Mode::Intake { o.senders.to_string() } else { "-".into() },
            if o.mode == Mode::One { format!("0..={}", o.gap_ms) } else { "-".into() },
            o.floor_calls,
        ));
        if let Some(i) = &self.intake {
            line(format!(
                "intake: {} webhooks by {} senders in {:.2} s = {:.0} webhooks/s acknowledged ({} refused)",
                i.sent,
                o.senders,
                i.elapsed_s,
                i.acked as f64 / i.elapsed_s.max(1e-9),
                i.refused
            ));
            line(format!("  {:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}", "ms", "n", "p50", "p90", "p99", "max", "mean"));
            line(i.ack.row("webhook posted → 2xx from serve"));
            line("  (webhooks name products that do not exist: the engine reads each from CRM, gets a 404, skips it)".into());
        } else {
            let lat = self.latency();
            line(format!("  {:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}", "ms, per product", "n", "p50", "p90", "p99", "max", "mean"));
            line(lat.row("webhook sent → Books item created"));
            let seg = |f: fn(&ProductRun) -> Option<f64>| Summary::of(&self.products.iter().filter_map(f).collect::<Vec<_>>());
            line(Summary::of(&self.products.iter().map(|p| p.ack_ms).collect::<Vec<_>>()).row("  webhook sent → 2xx from serve"));
            line(seg(|p| p.stored_ms).row("  webhook sent → serve stamps its job (a)"));
            line(seg(|p| p.to_create_ms).row("  job stamped → Books create journaled (b)"));
            line(seg(|p| p.create_ms).row("  create journaled → item seen (c)"));
            line("  (a) the job's created_ms, taken before the receiver's transaction; (b) the commit, waiting".into());
            line("  to be claimed and the CRM read; (c) the audit journal write + the Books write (upsert).".into());
            line("  From the store, in whole ms; sent and seen are this process's clock.".into());
            let missing = self.products.len() - self.done();
            line(format!(
                "throughput: {} items in {:.2} s = {:.2} items/s{}",
                self.done(),
                self.wall_s,
                self.throughput(),
                if missing > 0 { format!("  ({missing} MISSING at the deadline)") } else { String::new() }
            ));
            let floor = self.floor_ms();
            let ratio = |x: f64| if floor > 0.0 { format!("{:.2}", x / floor) } else { "-".into() };
            line(format!(
                "floor: {:.0} ms = {} ms latency × {} sequential calls (catalog_sync: CRM read product → Books upsert item); p50/floor {}, p99/floor {}",
                floor,
                self.latency_ms,
                o.floor_calls,
                ratio(lat.p50),
                ratio(lat.p99)
            ));
            let books_ok: u64 = self.calls.rows.iter().filter(|r| r.api == "books").map(|r| r.ok).sum();
            if books_ok > 0 {
                let windows = books_ok.div_ceil(100);
                line(format!(
                    "Books budget: 100 calls/min per organisation (Zoho's limit; each engine process's client keeps to it): {books_ok} Books calls answered need {windows} minute window(s), so expect the last items ~{} s after the first (less when the run straddles Zoho's fixed minute window and several processes each keep a budget of their own)",
                    (windows - 1) * 60
                ));
            }
            let bad = self.products.iter().filter(|p| p.items_created != 1 || p.items_at_end != 1).count();
            line(format!("correctness: {} of {} products have exactly one Books item", self.products.len() - bad, self.products.len()));
        }
        let c = &self.calls;
        line(format!(
            "engine's Zoho calls per {}: CRM reads {:.2}, CRM writes {:.2}, Books reads {:.2}, Books writes {:.2}, token {:.2} (total: {} calls, {} answered 429, {} other errors)",
            if self.intake.is_some() { "webhook" } else { "product" },
            self.per_product(c.crm_reads),
            self.per_product(c.crm_writes),
            self.per_product(c.books_reads),
            self.per_product(c.books_writes),
            self.per_product(c.token),
            c.crm_reads + c.crm_writes + c.books_reads + c.books_writes + c.token,
            c.rate_limited,
            c.errors
        ));
        for r in &c.rows {
            line(format!(
                "  {:<7} {:<6} {:<32} {:>6} calls {:>5} 429 {:>5} 4xx {:>5} 5xx  {:>8.1} ms avg in the emulator",
                r.api,
                r.method,
                r.route,
                r.calls,
                r.rate_limited,
                r.client_errors,
                r.server_errors,
                r.total_ms / r.calls.max(1) as f64
            ));
        }
        for s in self.serve_summary.iter().chain(&self.workers_summary) {
            line(format!("  {s}"));
        }
        out
    }

    /// The figures as JSON.
    pub fn json(&self) -> Value {
        let o = &self.options;
        let seg = |f: fn(&ProductRun) -> Option<f64>| Summary::of(&self.products.iter().filter_map(f).collect::<Vec<_>>()).json();
        let lat = self.latency();
        json!({
            "mode": o.mode.name(),
            "profile": self.profile,
            "store": self.store_kind,
            "options": {
                "n": o.count(), "latency_ms": self.latency_ms, "emulator_limits": !o.no_limits, "workers": o.workers,
                "senders": o.senders, "gap_ms": o.gap_ms, "poll_ms": o.poll_ms, "worker_concurrency": o.worker_concurrency, "floor_calls": o.floor_calls,
            },
            "latency_ms": lat.json(),
            "segments_ms": {
                "ack": Summary::of(&self.products.iter().map(|p| p.ack_ms).collect::<Vec<_>>()).json(),
                "sent_to_job_stamped": seg(|p| p.stored_ms),
                "job_stamped_to_create_journaled": seg(|p| p.to_create_ms),
                "create_journaled_to_item_seen": seg(|p| p.create_ms),
            },
            "items": self.done(),
            "missing": self.products.len() - self.done(),
            "wall_s": self.wall_s,
            "items_per_s": self.throughput(),
            "floor_ms": self.floor_ms(),
            "p99_over_floor": if self.floor_ms() > 0.0 { json!(lat.p99 / self.floor_ms()) } else { Value::Null },
            "intake": self.intake.as_ref().map(|i| json!({
                "sent": i.sent, "acked": i.acked, "refused": i.refused, "elapsed_s": i.elapsed_s,
                "webhooks_per_s": i.acked as f64 / i.elapsed_s.max(1e-9), "ack_ms": i.ack.json(),
            })),
            "calls_per_product": {
                "crm_reads": self.per_product(self.calls.crm_reads), "crm_writes": self.per_product(self.calls.crm_writes),
                "books_reads": self.per_product(self.calls.books_reads), "books_writes": self.per_product(self.calls.books_writes),
                "token": self.per_product(self.calls.token),
            },
            "calls": self.calls.rows,
            "rate_limited": self.calls.rate_limited,
            "serve_summary": self.serve_summary,
            "products": self.products.iter().map(|p| json!({
                "crm_id": p.crm_id, "sku": p.sku, "latency_ms": p.latency_ms, "ack_ms": p.ack_ms,
                "stored_ms": p.stored_ms, "to_create_ms": p.to_create_ms, "create_ms": p.create_ms,
                "items_created": p.items_created, "items_at_end": p.items_at_end,
            })).collect::<Vec<_>>(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Resources that must not outlive the run: child processes, the temp dir, the database.

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system's temp dir.
    pub fn new() -> anyhow::Result<TempDir> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let dir = std::env::temp_dir().join(format!("zb-e2e-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed on drop. The binary logs to stdout: every line goes to its
/// log file (with stderr) and arrives on a channel.
pub struct Child {
    name: String,
    process: std::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Child {
    /// Spawns `command` (named `name` in errors), its output going to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Child> {
        let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut copy = file.try_clone()?;
        let mut process = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(file).spawn().with_context(|| format!("spawning {name} ({BIN})"))?;
        let stdout = process.stdout.take().context("child stdout")?;
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            use std::io::Write as _;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(copy, "{line}");
                let _ = tx.send(line);
            }
        });
        Ok(Child { name: name.into(), process, lines })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Waits for a stdout line containing `needle`, until `deadline`.
    pub async fn wait_line(&mut self, needle: &str, deadline: Instant, log: &Path) -> anyhow::Result<String> {
        loop {
            match tokio::time::timeout_at(deadline.into(), self.lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return Ok(line),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => {
                    let status = self.process.try_wait().ok().flatten();
                    let tail = std::fs::read_to_string(log).unwrap_or_default();
                    let tail: String = tail.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                    bail!("{} did not print {needle:?} (exit status {status:?}); its log ends:\n{tail}", self.name);
                }
            }
        }
    }

    /// SIGTERM, then up to `grace` for a clean stop (else SIGKILL); returns the stdout
    /// lines printed meanwhile.
    pub async fn stop(&mut self, grace: Duration) -> Vec<String> {
        let _ = Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status();
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.process.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !matches!(self.process.try_wait(), Ok(Some(_))) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
        // The reader thread ends at EOF; give it a moment to pass the last lines.
        let mut lines = Vec::new();
        let end = Instant::now() + Duration::from_millis(500);
        while let Ok(Some(line)) = tokio::time::timeout_at(end.into(), self.lines.recv()).await {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A PostgreSQL database made for one run, dropped (with its connections) on drop.
struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    async fn create(server: &str) -> anyhow::Result<(PgDatabase, String)> {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(server).await.with_context(|| format!("connecting to {}", bridge::store::redact_url(server)))?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let name = format!("zb_e2e_{}_{nanos}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.context("CREATE DATABASE")?;
        let _ = admin.close().await;
        let mut url = url::Url::parse(server).context("--store is not a URL")?;
        url.set_path(&format!("/{name}"));
        Ok((PgDatabase { server: server.into(), name }, url.to_string()))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop may run inside the runtime (or while unwinding): use a thread of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut admin = sqlx::PgConnection::connect(&server).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()?;
                Some(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("e2e: could not drop database {}; drop it by hand", self.name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The listener for Books' item.created webhooks.

/// A Books record seen created: when, and its id (an item's, or in the order-to-cash
/// harness an invoice's, customer's or item's).
#[derive(Debug, Clone)]
struct Arrival {
    at: Instant,
    item_id: String,
}

#[derive(Default)]
struct Arrivals {
    by_crm_id: Mutex<HashMap<String, Vec<Arrival>>>,
    tick: Option<watch::Sender<u64>>,
}

impl Arrivals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arrival>>> {
        self.by_crm_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn first(&self, crm_id: &str) -> Option<Arrival> {
        self.lock().get(crm_id).and_then(|v| v.first().cloned())
    }

    fn count(&self, crm_id: &str) -> usize {
        self.lock().get(crm_id).map_or(0, Vec::len)
    }

    /// Waits until every id in `ids` has an item, or `deadline`; returns how many have not.
    async fn wait_all(&self, ids: &[String], deadline: Instant) -> usize {
        let Some(tick) = &self.tick else { return ids.len() };
        let mut rx = tick.subscribe();
        loop {
            let missing = {
                let seen = self.lock();
                ids.iter().filter(|id| !seen.contains_key(*id)).count()
            };
            if missing == 0 {
                return 0;
            }
            match tokio::time::timeout_at(deadline.into(), rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return missing,
            }
        }
    }
}

async fn books_hook(axum::extract::State(arrivals): axum::extract::State<Arc<Arrivals>>, body: axum::body::Bytes) -> axum::http::StatusCode {
    let at = Instant::now();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return axum::http::StatusCode::BAD_REQUEST };
    let item = &body["item"];
    let crm_id = item["custom_fields"]
        .as_array()
        .and_then(|cfs| cfs.iter().find(|cf| cf["api_name"] == CRM_ID_FIELD))
        .and_then(|cf| cf["value"].as_str())
        .map(str::to_string);
    if let Some(crm_id) = crm_id {
        let item_id = item["item_id"].as_str().unwrap_or_default().to_string();
        arrivals.lock().entry(crm_id).or_default().push(Arrival { at, item_id });
        if let Some(tick) = &arrivals.tick {
            tick.send_modify(|n| *n += 1);
        }
    }
    axum::http::StatusCode::OK
}

// ---------------------------------------------------------------------------------------
// The run.

#[derive(Debug, Clone)]
struct Product {
    crm_id: String,
    sku: String,
    modified_time: Value,
}

/// Epoch milliseconds of an `Instant` (for comparing with the store's timestamps).
struct EpochClock {
    instant: Instant,
    epoch_ms: f64,
}

impl EpochClock {
    fn new() -> EpochClock {
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        EpochClock { instant: Instant::now(), epoch_ms }
    }

    fn ms(&self, at: Instant) -> f64 {
        self.epoch_ms + at.saturating_duration_since(self.instant).as_secs_f64() * 1000.0 - self.instant.saturating_duration_since(at).as_secs_f64() * 1000.0
    }
}

fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

/// Runs one scenario and returns what it measured. Every child process is stopped and
/// every temporary resource removed before it returns (or when it is dropped).
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    zoho_emulator::install_crypto_provider();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.timeout_secs);
    let latency = options.latency();
    let n = options.count();
    if options.workers > 0 && options.postgres().is_none() {
        bail!("--workers needs a PostgreSQL store (--store postgres://…): SQLite is one process's");
    }
    if n == 0 {
        bail!("--products must be at least 1");
    }

    // Resources, dropped in reverse order: children before the database and the dir.
    let dir = TempDir::new()?;
    let (database, store_url) = match options.postgres() {
        Some(server) => {
            let (db, url) = PgDatabase::create(server).await?;
            (Some(db), url)
        }
        None => (None, dir.0.join("bridge.db").display().to_string()),
    };
    let mut children: Vec<Child> = Vec::new();

    // The emulator, with Zoho's limits unless told otherwise, and no seeded records.
    let mut config = if options.no_limits { EmulatorConfig::unlimited() } else { EmulatorConfig::default() };
    config.seed_data = false;
    let emulator = Emulator::start(config, 0).await.context("starting the emulator")?;
    let emu = emulator.url();
    let control = reqwest::Client::builder().user_agent(CALLER).timeout(Duration::from_secs(30)).build()?;
    if latency > 0 {
        let rule = |prefix: &str| json!({"path_prefix": prefix, "latency_ms": latency});
        let faults = json!({"rules": [rule("/crm"), rule("/books")]});
        control.put(format!("{emu}/__emulator/faults")).json(&faults).send().await?.error_for_status().context("setting the latency rule")?;
    }

    // The listener for item.created.
    let (tick, _) = watch::channel(0u64);
    let arrivals = Arc::new(Arrivals { by_crm_id: Mutex::default(), tick: Some(tick) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/books", listener.local_addr()?);
    let app = axum::Router::new().route("/books", axum::routing::post(books_hook)).with_state(arrivals.clone());
    let listener_task = tokio::spawn(async move { axum::serve(listener, app).await });
    let hook = json!({"url": hook_url, "events": ["item.created"]});
    control.post(format!("{emu}/__emulator/books/webhooks")).json(&hook).send().await?.error_for_status().context("registering the Books webhook")?;

    // serve, with a generated config file.
    let config_path = dir.0.join("zoho-bridge.toml");
    let mut worker_section = String::new();
    if let Some(ms) = options.poll_ms {
        worker_section.push_str(&format!("poll_ms = {ms}\n"));
    }
    if let Some(c) = options.worker_concurrency {
        worker_section.push_str(&format!("concurrency = {c}\n"));
    }
    let config_text = format!(
        r#"# Generated by the e2e harness (crates/zoho-bridge/benches/support/mod.rs).
store = "{store_url}"
listen = "127.0.0.1:0"

[zoho]
emulator = "{emu}"

[worker]
{worker_section}
[webhooks]
crm_workflow_secret = "{SECRET}"

[[routes]]
system = "crm"
module = "Products"
flows = ["catalog_sync"]
"#
    );
    std::fs::write(&config_path, &config_text)?;
    let serve_log = dir.0.join("serve.log");
    let mut serve = Command::new(BIN);
    serve.args(["serve", "--config"]).arg(&config_path).env("RUST_LOG", &options.rust_log);
    children.push(Child::spawn("zoho-bridge serve", serve, &serve_log)?);
    let ready_by = (Instant::now() + Duration::from_secs(60)).min(deadline);
    let line = children[0].wait_line("zoho-bridge serving on", ready_by, &serve_log).await?;
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).with_context(|| format!("no address in {line:?}"))?.to_string();
    for i in 0..options.workers {
        let log = dir.0.join(format!("worker-{i}.log"));
        let mut worker = Command::new(BIN);
        worker.args(["worker", "--store", &store_url, "--emulator", &emu, "--id", &format!("e2e-worker-{i}")]).env("RUST_LOG", &options.rust_log);
        if let Some(ms) = options.poll_ms {
            worker.args(["--poll-ms", &ms.to_string()]);
        }
        if let Some(c) = options.worker_concurrency {
            worker.args(["--concurrency", &c.to_string()]);
        }
        let mut child = Child::spawn(&format!("zoho-bridge worker {i}"), worker, &log)?;
        child.wait_line("ready", ready_by, &log).await?;
        children.push(child);
    }

    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let hook = format!("{base}/hooks/crm/workflow");
    let clock = EpochClock::new();
    let mut runs: Vec<ProductRun> = Vec::new();
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut intake = None;
    let first_sent;
    let last_seen;

    match options.mode {
        Mode::One => {
            let crm = CrmWriter::login(&control, &emu).await?;
            let mut first = None;
            let mut last = Instant::now();
            for i in 0..n {
                let product = crm.create(&control, i, 1).await?.remove(0);
                if options.gap_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=options.gap_ms))).await;
                }
                let t0 = Instant::now();
                first.get_or_insert(t0);
                let ack_ms = post_webhook(&http, &hook, &product).await?;
                let ids = [product.crm_id.clone()];
                arrivals.wait_all(&ids, deadline).await;
                let seen = arrivals.first(&product.crm_id);
                if let Some(a) = &seen {
                    last = a.at;
                }
                sent_at.push(t0);
                runs.push(product_run(product, ack_ms, t0, seen.as_ref()));
                if Instant::now() >= deadline {
                    break;
                }
            }
            // One at a time: the throughput counts from the first webhook to the last
            // item, product creation in between included.
            first_sent = first.unwrap_or(last);
            last_seen = last;
        }
        Mode::Burst => {
            let crm = CrmWriter::login(&control, &emu).await?;
            let mut products = Vec::with_capacity(n);
            while products.len() < n {
                let batch = (n - products.len()).min(100);
                products.extend(crm.create(&control, products.len(), batch).await?);
            }
            let mut posts = tokio::task::JoinSet::new();
            first_sent = Instant::now();
            for (i, product) in products.iter().enumerate() {
                let (http, hook, product) = (http.clone(), hook.clone(), product.clone());
                posts.spawn(async move {
                    let t0 = Instant::now();
                    let ack = post_webhook(&http, &hook, &product).await;
                    (i, t0, ack)
                });
            }
            let mut acks = vec![(first_sent, f64::NAN); n];
            while let Some(joined) = posts.join_next().await {
                let (i, t0, ack) = joined?;
                acks[i] = (t0, ack?);
            }
            let ids: Vec<String> = products.iter().map(|p| p.crm_id.clone()).collect();
            arrivals.wait_all(&ids, deadline).await;
            let mut last = first_sent;
            for (product, (t0, ack_ms)) in products.into_iter().zip(acks) {
                let seen = arrivals.first(&product.crm_id);
                if let Some(a) = &seen {
                    last = last.max(a.at);
                }
                sent_at.push(t0);
                runs.push(product_run(product, ack_ms, t0, seen.as_ref()));
            }
            last_seen = if runs.iter().all(|r| r.latency_ms.is_some()) { last } else { Instant::now() };
        }
        Mode::Intake => {
            first_sent = Instant::now();
            intake = Some(send_intake(&http, &hook, n, options.senders.max(1), deadline).await?);
            last_seen = Instant::now();
        }
    }
    let wall_s = ms_between(first_sent, last_seen) / 1000.0;

    // Stop the processes (serve lets its running jobs finish), then read the counters.
    let mut summaries = Vec::new();
    for child in children.iter_mut().rev() {
        summaries.push(child.stop(Duration::from_secs(20)).await);
    }
    let serve_summary = summaries.pop().unwrap_or_default();
    let workers_summary: Vec<String> = summaries.into_iter().flatten().filter(|l| l.starts_with("worker done")).collect();
    let calls = engine_calls(&control, &emu).await?;

    // Where each product's time went, from the store; and the items in Books at the end.
    if !runs.is_empty() {
        let store = AnyStore::connect(&store_url).await.context("opening the store after the run")?;
        for (run, t0) in runs.iter_mut().zip(&sent_at) {
            let Some(first) = arrivals.first(&run.crm_id) else { continue };
            let audit = store.audit_for_record("books", "items", &first.item_id).await?;
            let Some(create) = audit.iter().filter(|a| a.action == "create").min_by_key(|a| a.at_ms) else { continue };
            let Some(job) = (match create.job_id {
                Some(id) => store.job(id).await?,
                None => None,
            }) else {
                continue;
            };
            let sent = clock.ms(*t0);
            run.stored_ms = Some(job.created_ms as f64 - sent);
            run.to_create_ms = Some((create.at_ms - job.created_ms) as f64);
            run.create_ms = Some(clock.ms(first.at) - create.at_ms as f64);
        }
        store.close().await;
        let world = emulator.state().world();
        let org = world.books.orgs.values().next().context("no Books organisation")?;
        let field_id = org.custom_fields.iter().find(|d| d.api_name == CRM_ID_FIELD).map(|d| d.customfield_id.clone());
        let mut at_end: HashMap<&str, usize> = HashMap::new();
        for item in org.items.values() {
            for v in item.custom_fields.iter().filter(|v| Some(&v.customfield_id) == field_id.as_ref()) {
                *at_end.entry(v.value.as_str()).or_default() += 1;
            }
        }
        for run in &mut runs {
            run.items_created = arrivals.count(&run.crm_id);
            run.items_at_end = at_end.get(run.crm_id.as_str()).copied().unwrap_or(0);
        }
    }

    let report = Report {
        options: options.clone(),
        profile: profile(),
        store_kind: if database.is_some() { "postgres" } else { "sqlite" },
        latency_ms: latency,
        products: runs,
        wall_s,
        intake,
        calls,
        serve_summary: serve_summary.into_iter().filter(|l| l.starts_with("zoho-bridge stopped")).collect(),
        workers_summary,
    };
    if let Some(keep) = &options.keep_logs {
        std::fs::create_dir_all(keep).with_context(|| format!("creating {}", keep.display()))?;
        for entry in std::fs::read_dir(&dir.0)?.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(".log") || name.to_string_lossy().ends_with(".toml") {
                std::fs::copy(entry.path(), keep.join(&name))?;
            }
        }
    }
    listener_task.abort();
    emulator.stop().await;
    drop(children);
    drop(database);
    drop(dir);
    Ok(report)
}

fn product_run(product: Product, ack_ms: f64, t0: Instant, seen: Option<&Arrival>) -> ProductRun {
    ProductRun {
        crm_id: product.crm_id,
        sku: product.sku,
        ack_ms,
        latency_ms: seen.map(|a| ms_between(t0, a.at)),
        items_created: 0,
        items_at_end: 0,
        stored_ms: None,
        to_create_ms: None,
        create_ms: None,
    }
}

/// Posts the CRM workflow webhook for `product`; returns the ms until serve answered.
async fn post_webhook(http: &reqwest::Client, hook: &str, product: &Product) -> anyhow::Result<f64> {
    let body = json!({"module": "Products", "id": product.crm_id, "modified_time": product.modified_time});
    let t0 = Instant::now();
    let resp = http.post(hook).header("X-Zoho-Bridge-Secret", SECRET).json(&body).send().await.context("posting the webhook")?;
    let ack = ms_between(t0, Instant::now());
    if !resp.status().is_success() {
        bail!("serve refused the webhook for {}: {} {}", product.crm_id, resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(ack)
}

/// `n` webhooks for products that do not exist, by `senders` concurrent senders.
async fn send_intake(http: &reqwest::Client, hook: &str, n: usize, senders: usize, deadline: Instant) -> anyhow::Result<Intake> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders {
        let (http, hook, next) = (http.clone(), hook.to_string(), next.clone());
        tasks.spawn(async move {
            let (mut acks, mut refused) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                // Ids no product has: the engine reads CRM, finds nothing and skips them.
                let body = json!({"module": "Products", "id": format!("{}", 9_000_000_000_000u64 + i as u64)});
                let t0 = Instant::now();
                match http.post(&hook).header("X-Zoho-Bridge-Secret", SECRET).json(&body).send().await {
                    Ok(r) if r.status().is_success() => acks.push(ms_between(t0, Instant::now())),
                    _ => refused += 1,
                }
            }
            (acks, refused)
        });
    }
    let (mut acks, mut refused) = (Vec::new(), 0);
    while let Some(joined) = tasks.join_next().await {
        let (a, r) = joined?;
        acks.extend(a);
        refused += r;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(Intake { sent: acks.len() + refused, acked: acks.len(), refused, elapsed_s, ack: Summary::of(&acks) })
}

/// Creates CRM products through the emulator's API, as a CRM user would, under the
/// harness's own `User-Agent`.
struct CrmWriter {
    base: String,
    auth: String,
}

impl CrmWriter {
    async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<CrmWriter> {
        let (_, access) = zoho_emulator::testkit::login(http, base).await.context("logging in to the emulator")?;
        Ok(CrmWriter { base: base.into(), auth: zoho_emulator::testkit::auth_header(&access) })
    }

    /// Products `from..from + n` (at most 100 at once: CRM's limit per insert).
    async fn create(&self, http: &reqwest::Client, from: usize, n: usize) -> anyhow::Result<Vec<Product>> {
        let rows: Vec<Value> = (from..from + n)
            .map(|i| {
                json!({
                    "Product_Name": format!("E2E product {i}"),
                    "Product_Code": format!("E2E-{i:06}"),
                    "Unit_Price": 10 + i % 90,
                    "Product_Active": true,
                })
            })
            .collect();
        let resp = http
            .post(format!("{}/crm/v8/Products", self.base))
            .header("authorization", &self.auth)
            .json(&json!({"data": rows, "trigger": []}))
            .send()
            .await
            .context("creating CRM products")?;
        let status = resp.status();
        let body: Value = resp.json().await.context("reading the CRM insert answer")?;
        if !status.is_success() {
            bail!("CRM insert answered {status}: {body}");
        }
        let data = body["data"].as_array().context("no data in the CRM insert answer")?;
        data.iter()
            .zip(from..)
            .map(|(d, i)| {
                let id = d["details"]["id"].as_str().with_context(|| format!("CRM insert entry without an id: {d}"))?;
                Ok(Product { crm_id: id.to_string(), sku: format!("E2E-{i:06}"), modified_time: d["details"]["Modified_Time"].clone() })
            })
            .collect()
    }
}

/// The engine's calls (everyone's but the harness's), from `GET /__emulator/stats`.
async fn engine_calls(http: &reqwest::Client, emu: &str) -> anyhow::Result<Calls> {
    let body: Value = http.get(format!("{emu}/__emulator/stats")).send().await?.error_for_status()?.json().await?;
    let rows: Vec<StatsRow> = serde_json::from_value(body["stats"].clone()).context("reading /__emulator/stats")?;
    let mut calls = Calls::default();
    // Merge callers (serve and the workers share one User-Agent; keep the table short).
    let mut merged: BTreeMap<(String, String, String), StatsRow> = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.caller != CALLER) {
        let read = r.method == "GET";
        match (r.api.as_str(), read) {
            ("crm", true) => calls.crm_reads += r.calls,
            ("crm", false) => calls.crm_writes += r.calls,
            ("books", true) => calls.books_reads += r.calls,
            ("books", false) => calls.books_writes += r.calls,
            _ => calls.token += r.calls,
        }
        calls.rate_limited += r.rate_limited;
        calls.errors += r.client_errors + r.server_errors;
        let key = (r.api.clone(), r.method.clone(), r.route.clone());
        match merged.get_mut(&key) {
            Some(m) => {
                m.calls += r.calls;
                m.ok += r.ok;
                m.client_errors += r.client_errors;
                m.rate_limited += r.rate_limited;
                m.server_errors += r.server_errors;
                m.total_ms += r.total_ms;
            }
            None => {
                merged.insert(key, StatsRow { caller: "engine".into(), ..r });
            }
        }
    }
    calls.rows = merged.into_values().collect();
    Ok(calls)
}

/// Runs the harness as the bench does: parse, run, print the table, write the JSON.
/// Ctrl-C stops the run (and its child processes).
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
