//! The `zoho-bridge` binary.
//!
//! Today it runs the built-in Zoho emulator (`zoho-bridge emulator`) and the demo
//! (`zoho-bridge demo`: the emulator with seeded data plus a scripted walk through what
//! it does), the engine as one configured process (`zoho-bridge serve`), extra
//! workers sharing its store (`zoho-bridge worker`), the admin commands on the
//! store (`status`, `dead-letters`, `replay`, `drop`, `audit`, `events`, `prune`,
//! `review`, `approvals`), and the commands that look at a config's flows (`check`, `preview`,
//! `config defaults`).

mod admin_cmd;
mod approvals_cmd;
mod backfill_cmd;
mod check_cmd;
mod mcp_cmd;
mod serve_cmd;
mod worker_cmd;

use zoho_bridge::demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use zoho_emulator::{Emulator, EmulatorConfig, FaultConfig, SeedProfile, World};

#[derive(Parser)]
#[command(name = "zoho-bridge", version, about = "Keeps Zoho CRM and Zoho Books in step")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Zoho emulator (Accounts, CRM v8, Books v3) on one port.
    Emulator(EmulatorArgs),
    /// Start the emulator with seeded data, walk through what it does, keep serving.
    Demo {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Exit after the walk-through instead of serving until Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Run the engine as configured: webhook receiver, channel keeper, pollers, worker.
    Serve(serve_cmd::ServeArgs),
    /// Run the sync engine's worker: claim jobs from the store and run their flows.
    Worker(worker_cmd::WorkerArgs),
    /// Check a config file (settings and mappings); --online also against Zoho's fields.
    Check(check_cmd::CheckArgs),
    /// Run one record through a flow without writing anything: what it would do.
    Preview(check_cmd::PreviewArgs),
    /// Config file helpers.
    #[command(subcommand)]
    Config(check_cmd::ConfigCommand),
    /// Link a CRM and a Books that already hold overlapping data (index, decide, apply).
    Backfill(backfill_cmd::BackfillArgs),
    /// Serve the agent gateway (MCP tools) on stdin/stdout for one agent's token.
    Mcp(mcp_cmd::McpArgs),
    /// The agent gateway's bearer tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Tokens(mcp_cmd::TokensCommand),
    /// The human in the loop: agents' actions waiting for a yes or no.
    #[command(subcommand)]
    Approvals(approvals_cmd::ApprovalsCommand),
    #[command(flatten)]
    Admin(admin_cmd::AdminCommand),
}

#[derive(clap::Args)]
struct EmulatorArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Seed of every generated id, record and fault decision.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Load the world from this JSON file if it exists, and save it there on exit.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Start with the organisation only: no records.
    #[arg(long, conflicts_with = "seed_profile")]
    no_seed_data: bool,
    /// Which records to start with: `demo` (a small demo set) or `overlap` (the same
    /// customers in CRM and Books spelled differently, for dedup tests; 2,000 CRM
    /// accounts vs 1,800 Books contacts, see `zoho_emulator::seed`).
    #[arg(long, value_enum, default_value_t = SeedProfileArg::Demo)]
    seed_profile: SeedProfileArg,
    /// Switch off every rate limit, quota and token throttle (benchmarks).
    #[arg(long)]
    no_limits: bool,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: i64,
    /// Books requests per minute per organisation.
    #[arg(long)]
    books_per_minute: Option<u32>,
    /// Fault injection rules, a JSON file (see the README).
    #[arg(long)]
    faults: Option<PathBuf>,
}

/// `--seed-profile` values.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SeedProfileArg {
    /// The demo records.
    Demo,
    /// Overlapping CRM and Books customers with the default counts.
    Overlap,
}

impl SeedProfileArg {
    fn profile(self) -> SeedProfile {
        match self {
            SeedProfileArg::Demo => SeedProfile::Demo,
            SeedProfileArg::Overlap => SeedProfile::Overlap(zoho_emulator::seed::OverlapSpec::default()),
        }
    }
}

/// Logs at `default` unless `RUST_LOG` says otherwise.
fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
}

/// Logs to stderr at `default` unless `RUST_LOG` says otherwise, without colour codes.
fn init_stderr_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(false).with_writer(std::io::stderr).init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo prints its own story: the engine's log says only what went wrong
    // (RUST_LOG=info shows all of it).
    if matches!(cli.command, Command::Mcp(_)) {
        // stdout carries the MCP session: logs go to stderr.
        init_stderr_tracing("warn");
    } else {
        init_tracing(if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" });
    }
    zoho_emulator::install_crypto_provider();
    match cli.command {
        Command::Emulator(args) => run_emulator(args).await,
        Command::Demo { port, seed, exit } => demo::run(port, seed, exit).await,
        Command::Serve(args) => serve_cmd::run(args).await,
        Command::Worker(args) => worker_cmd::run(args).await,
        Command::Check(args) => check_cmd::check(args).await,
        Command::Preview(args) => check_cmd::preview(args).await,
        Command::Config(command) => check_cmd::config(command),
        Command::Backfill(args) => backfill_cmd::run(args).await,
        Command::Mcp(args) => mcp_cmd::run(args).await,
        Command::Tokens(command) => mcp_cmd::tokens(command).await,
        Command::Approvals(command) => approvals_cmd::run(command).await,
        Command::Admin(command) => admin_cmd::run(command).await,
    }
}

async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = if args.no_limits { EmulatorConfig::unlimited() } else { EmulatorConfig::default() };
    config.seed = args.seed;
    config.seed_data = !args.no_seed_data;
    config.seed_profile = args.seed_profile.profile();
    config.token_ttl_secs = args.token_ttl;
    if let Some(n) = args.books_per_minute {
        config.limits.books_per_minute = Some(n);
    }
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.faults = serde_json::from_str::<FaultConfig>(&text).map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.line(), e.column(), e))?;
    }
    let world = match &args.state {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let world: World = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}:{}: not an emulator state file: {}", path.display(), e.line(), e.column(), e))?;
            tracing::info!(file = %path.display(), "restored emulator state");
            world
        }
        _ => zoho_emulator::try_build_world(&config).map_err(|e| anyhow::anyhow!("--seed-profile: {e}"))?,
    };
    let emulator = Emulator::start_with_world(config, world, args.port).await.with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    println!("Zoho emulator listening on {}", emulator.url());
    println!("  credentials:  curl {}/__emulator/credentials", emulator.url());
    println!("  token:        POST {}/oauth/v2/token", emulator.url());
    println!("  CRM v8:       {}/crm/v8/...", emulator.url());
    println!("  Books v3:     {}/books/v3/...?organization_id=...", emulator.url());
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    let world = emulator.stop().await;
    if let Some(path) = &args.state {
        let text = serde_json::to_string(&world)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("state saved to {}", path.display());
    }
    Ok(())
}
