//! `zoho-bridge worker`: runs the sync engine's worker against a store and one Zoho
//! connection.
//!
//! The connection comes from flags or environment variables; the OAuth client secret
//! and the refresh token come from the environment only (a flag would show in `ps`), and
//! neither is ever printed. `--emulator URL` reads the emulator's seeded credentials
//! instead, for tests and demos. `--until-idle` exits once no job is queued or running,
//! which is how tests and batch runs use it; otherwise the worker runs until Ctrl-C or
//! SIGTERM and lets its running jobs finish. `--flows-from FILE` takes the flows' mappings
//! from serve's config file, so that every worker on a store maps alike. The worker shares
//! the organisation's rate budget with the other processes on the store
//! (`bridge::budget_share`).

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use bridge::{
    flows,
    store::{AnyStore, Store, StoreTokenCache},
    worker::{Backoff, Worker, WorkerConfig},
};
use zoho::{BudgetConfig, Client, Connection, Endpoints};

/// Flags of `zoho-bridge worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The store: a SQLite file path or URL (`sqlite://…`), or `postgres://…`.
    #[arg(long, default_value = "zoho-bridge.db")]
    pub store: String,
    /// This worker's id (lease owner, audit actor); default `worker-<pid>`.
    #[arg(long)]
    pub id: Option<String>,
    /// The connection's name in the store (links and audit are keyed by it).
    #[arg(long, default_value = "default")]
    pub connection: String,
    /// Zoho Accounts URL (e.g. https://accounts.zoho.eu).
    #[arg(long, env = "ZOHO_ACCOUNTS_URL")]
    pub accounts_url: Option<String>,
    /// Zoho API domain (e.g. https://www.zohoapis.eu).
    #[arg(long, env = "ZOHO_API_DOMAIN")]
    pub api_domain: Option<String>,
    /// OAuth client id (the secret and the refresh token are read from
    /// ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN).
    #[arg(long, env = "ZOHO_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Books organisation id.
    #[arg(long, env = "ZOHO_ORGANIZATION_ID")]
    pub organization_id: Option<String>,
    /// Take the connection from a running emulator's seeded credentials instead.
    #[arg(long, conflicts_with_all = ["accounts_url", "api_domain", "client_id", "organization_id"])]
    pub emulator: Option<String>,
    /// Keep no client-side rate budget (only against the emulator with --no-limits).
    #[arg(long)]
    pub no_budget: bool,
    /// Exit when no job is queued or running.
    #[arg(long)]
    pub until_idle: bool,
    /// Jobs run at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,
    /// Lease length in milliseconds: the heartbeat extends the leases every fifth of it;
    /// a killed worker's jobs are taken over after at most this long.
    #[arg(long, default_value_t = bridge::worker::DEFAULT_LEASE_MS)]
    pub lease_ms: i64,
    /// Pause between polls of an empty queue, milliseconds.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// Attempts before a failing job is dead-lettered.
    #[arg(long, default_value_t = 8)]
    pub max_attempts: i32,
    /// First retry delay, milliseconds (doubles per attempt, jittered).
    #[arg(long, default_value_t = 2_000)]
    pub backoff_ms: u64,
    /// Take the flows' settings and mappings (`[flows.*]`, `[tables.*]`) from this
    /// config file: workers sharing a store must map alike, so give them serve's file.
    /// Without it, the shipped defaults.
    #[arg(long)]
    pub flows_from: Option<std::path::PathBuf>,
}

/// Runs the worker.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    // A bad flows file fails before anything is opened or announced ready.
    let flows = match &args.flows_from {
        Some(path) => {
            let file = bridge::config::BridgeConfig::load(path, &flows::names()).map_err(|e| anyhow::anyhow!("{e}"))?;
            file.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?
        }
        None => flows::all(),
    };
    let connection = connection(&args).await?;
    let store = AnyStore::connect(&args.store).await.context("opening the store")?;
    // Workers sharing the store share the access token too.
    let mut builder = Client::builder(connection).token_cache(Arc::new(StoreTokenCache(store.clone())));
    if args.no_budget {
        builder = builder.budget(BudgetConfig::unlimited());
    } else if let Some(url) = &args.emulator {
        // Against the emulator, keep to the limits it says it enforces.
        builder = builder.budget(zoho_bridge::connection::emulator_budget(url).await?);
    }
    let client = builder.build().context("building the Zoho client")?;
    let id = args.id.clone().unwrap_or_else(|| format!("worker-{}", std::process::id()));
    // And the organisation's rate budget, before the first call.
    let budget_share = zoho_bridge::connection::share_budget(&store, &args.connection, &client, &id).await?;
    let config = WorkerConfig {
        id,
        connection: args.connection.clone(),
        lease_ms: args.lease_ms,
        batch: args.concurrency,
        poll_interval: Duration::from_millis(args.poll_ms),
        max_attempts: args.max_attempts,
        backoff: Backoff { base: Duration::from_millis(args.backoff_ms), ..Backoff::default() },
        clock: bridge::triggers::Clock::system(),
    };
    tracing::info!(id = %config.id, concurrency = config.batch, until_idle = args.until_idle, "worker starting");
    // A line on stdout when the store and the client are ready (tests wait for it).
    println!("worker {} ready", config.id);
    let worker = Worker::new(store.clone(), flows, client, config);
    let stats = if args.until_idle { worker.run_until_idle().await? } else { worker.run(zoho_bridge::connection::shutdown_signal()).await? };
    zoho_bridge::connection::leave_budget(budget_share).await;
    tracing::info!(?stats, "worker stopped");
    let counts = store.job_counts().await?;
    println!("worker done: {stats} in this run; jobs in the store: {}", bridge::store::job_counts_text(&counts));
    Ok(())
}

/// The Zoho connection from `--emulator`, or from flags and the environment.
async fn connection(args: &WorkerArgs) -> anyhow::Result<Connection> {
    if let Some(url) = &args.emulator {
        return zoho_bridge::connection::from_emulator(url).await;
    }
    let need = |v: &Option<String>, flag: &str, env: &str| v.clone().with_context(|| format!("missing --{flag} (or {env})"));
    let accounts = need(&args.accounts_url, "accounts-url", "ZOHO_ACCOUNTS_URL")?;
    let api = need(&args.api_domain, "api-domain", "ZOHO_API_DOMAIN")?;
    let client_id = need(&args.client_id, "client-id", "ZOHO_CLIENT_ID")?;
    let org = need(&args.organization_id, "organization-id", "ZOHO_ORGANIZATION_ID")?;
    zoho_bridge::connection::from_env(Endpoints::custom(&accounts, &api), &client_id, &org, "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")
}
