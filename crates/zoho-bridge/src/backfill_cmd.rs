//! `zoho-bridge backfill`: links a CRM and a Books that already hold overlapping data,
//! through the engine (see `bridge::backfill` for the phases, the matching and why it is
//! safe to interrupt and run again).
//!
//! The report (one JSON line per record) goes to `--report FILE`, or to stdout; the
//! summary table and progress go to stderr: a bar with count, rate and ETA on a
//! terminal, a plain line every few seconds otherwise (logs, CI, tests).

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use bridge::{
    backfill::{Backfill, Progress, Target},
    config::{BridgeConfig, DEFAULT_CONFIG_FILE},
    flows,
    store::{AnyStore, StoreTokenCache},
    worker::WorkerConfig,
};
use indicatif::{ProgressBar, ProgressStyle};

/// Flags of `zoho-bridge backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The config file (store, Zoho connection, flows, worker settings).
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// The flow whose records to link: `customer_sync` or `catalog_sync`.
    #[arg(long, default_value = "customer_sync", value_parser = ["customer_sync", "catalog_sync"])]
    pub flow: String,
    /// Index and report only: nothing is written to Zoho and no job is enqueued.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the report (JSON lines) to this file instead of stdout.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs a backfill; exits when it is done, or at Ctrl-C / SIGTERM (run it again to
/// continue where it stopped).
pub async fn run(args: BackfillArgs) -> anyhow::Result<()> {
    let config = BridgeConfig::load(&args.config, &flows::names()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = Target::from_flow(&args.flow).with_context(|| format!("no backfill for flow {:?}", args.flow))?;
    let store = AnyStore::connect(&config.store).await.context("opening the store")?;
    // The same client as serve and worker: the organisation's rate budget, the shared token.
    let client = zoho_bridge::connection::client(&config.zoho, Some(Arc::new(StoreTokenCache(store.clone())))).await?;
    // And the organisation's rate budget with any serve/worker running: this process
    // takes its share from the store and never spends more than it.
    let budget_share = zoho_bridge::connection::share_budget(&store, &config.zoho.connection, &client, &format!("backfill-{}", std::process::id())).await?;
    let mut backfill = Backfill::new(store.clone(), client, &config.zoho.connection, target, &config.flows, &config.tables)?.with_progress(progress());
    if !args.dry_run {
        let flows = config.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?;
        let worker = WorkerConfig { id: format!("backfill-{}", std::process::id()), ..config.worker() };
        backfill = backfill.applying(flows, worker);
    }
    let mut out: Box<dyn Write + Send> = match &args.report {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let summary = tokio::select! {
        summary = backfill.run(&mut *out) => summary?,
        () = zoho_bridge::connection::shutdown_signal() => {
            eprintln!("backfill interrupted: run the same command again to continue (nothing is done twice)");
            zoho_bridge::connection::leave_budget(budget_share).await;
            store.close().await;
            std::process::exit(130);
        }
    };
    out.flush().context("writing the report")?;
    eprint!("{}", summary.table());
    zoho_bridge::connection::leave_budget(budget_share).await;
    store.close().await;
    Ok(())
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
fn progress() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() { Arc::new(Bar::default()) } else { Arc::new(Lines::default()) }
}

/// A bar with count, rate and ETA (a spinner with count and rate when the total is not
/// known).
#[derive(Default)]
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        let mut slot = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.finish();
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg:36} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("{msg:36} {spinner} {pos} {per_sec}").unwrap_or_else(|_| ProgressStyle::default_spinner())),
        };
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        *slot = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(n);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish();
        }
    }
}

/// How often a plain progress line is printed.
const EVERY: Duration = Duration::from_secs(3);

/// A line every few seconds, and one at each phase's start and end.
#[derive(Default)]
struct Lines {
    state: Mutex<Option<LinesState>>,
}

struct LinesState {
    name: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    printed: Instant,
}

impl LinesState {
    fn print(&self) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { self.done as f64 / secs } else { 0.0 };
        match self.total {
            Some(total) => {
                let eta = if rate > 0.0 { total.saturating_sub(self.done) as f64 / rate } else { 0.0 };
                eprintln!("{}: {}/{total} ({rate:.0}/s, ETA {eta:.0} s)", self.name, self.done);
            }
            None => eprintln!("{}: {} ({rate:.0}/s)", self.name, self.done),
        }
    }
}

impl Progress for Lines {
    fn phase(&self, name: &str, total: Option<u64>) {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.print();
        }
        let now = Instant::now();
        *slot = Some(LinesState { name: name.to_string(), total, done: 0, started: now, printed: now });
        eprintln!("{name}{}", total.map(|t| format!(": {t} records")).unwrap_or_default());
    }

    fn advance(&self, n: u64) {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = slot.as_mut() {
            state.done += n;
            if state.printed.elapsed() >= EVERY {
                state.printed = Instant::now();
                state.print();
            }
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).take() {
            state.print();
        }
    }
}
