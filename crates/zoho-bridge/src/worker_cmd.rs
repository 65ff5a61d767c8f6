//! `zoho-bridge worker`: runs the sync engine's worker against a store and one Zoho
//! connection.
//!
//! The connection comes from flags or environment variables; the OAuth client secret
//! and the refresh token come from the environment only (a flag would show in `ps`), and
//! neither is ever printed. `--emulator URL` reads the emulator's seeded credentials
//! instead, for tests and demos. `--config FILE` (`-c`) takes all of it from serve's config
//! file instead: the store, the connection, the flows and the `[worker]` settings (a
//! flag given too overrides that setting). `--until-idle` exits once no job is queued or running,
//! which is how tests and batch runs use it; otherwise the worker runs until Ctrl-C or
//! SIGTERM and lets its running jobs finish. `--flows-from FILE` takes the flows' mappings
//! from serve's config file, so that every worker on a store maps alike. The worker shares
//! the organisation's rate budget with the other processes on the store
//! (`bridge::budget_share`).

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use bridge::{
    config::BridgeConfig,
    flows,
    store::{AnyStore, Store, StoreTokenCache},
    worker::{Backoff, Worker, WorkerConfig},
};
use zoho::{BudgetConfig, Client, Connection, Endpoints};

/// Flags of `zoho-bridge worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Serve's config file: the store, the Zoho connection, the flows and the `[worker]`
    /// settings come from it (a worker flag given too overrides its setting).
    #[arg(long, short, conflicts_with_all = ["store", "connection", "emulator", "flows_from"])]
    pub config: Option<PathBuf>,
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
    /// Jobs run at once [default: 16, or the config's `worker.concurrency`].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Lease length in seconds (`1.5` allowed): the heartbeat extends the leases every
    /// fifth of it; a killed worker's jobs are taken over after at most this long
    /// [default: 10, or the config's `worker.lease_secs`].
    #[arg(long, value_parser = seconds)]
    pub lease_secs: Option<Duration>,
    /// The lease in milliseconds (the old spelling of --lease-secs).
    #[arg(long, hide = true, conflicts_with = "lease_secs")]
    pub lease_ms: Option<u64>,
    /// Pause between polls of an empty queue, milliseconds [default: 500, or the
    /// config's `worker.poll_ms`].
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Attempts before a failing job is dead-lettered [default: 8, or the config's
    /// `worker.max_attempts`].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub max_attempts: Option<i32>,
    /// First retry delay in seconds (`0.5` allowed), doubling per attempt, jittered
    /// [default: 2, or the config's `worker.backoff_secs`].
    #[arg(long, value_parser = seconds)]
    pub backoff_secs: Option<Duration>,
    /// The first retry delay in milliseconds (the old spelling of --backoff-secs).
    #[arg(long, hide = true, conflicts_with = "backoff_secs")]
    pub backoff_ms: Option<u64>,
    /// Take the flows' settings and mappings (`[flows.*]`, `[tables.*]`) from this
    /// config file: workers sharing a store must map alike, so give them serve's file.
    /// Without it, the shipped defaults.
    #[arg(long)]
    pub flows_from: Option<PathBuf>,
}

/// A `--…-secs` value: a positive number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{text} is not a positive number of seconds")),
    }
}

impl WorkerArgs {
    /// The worker's settings: the config file's `[worker]` (or the defaults), with the
    /// flags given laid over them.
    fn worker_config(&self, file: Option<&BridgeConfig>) -> WorkerConfig {
        let mut config = match file {
            Some(file) => file.worker(),
            None => WorkerConfig { connection: self.connection.clone(), ..WorkerConfig::new(format!("worker-{}", std::process::id())) },
        };
        if let Some(id) = &self.id {
            config.id = id.clone();
        }
        if let Some(n) = self.concurrency {
            config.batch = n;
        }
        if let Some(lease) = self.lease_secs.or(self.lease_ms.map(Duration::from_millis)) {
            config.lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1);
        }
        if let Some(ms) = self.poll_ms {
            config.poll_interval = Duration::from_millis(ms);
        }
        if let Some(n) = self.max_attempts {
            config.max_attempts = n;
        }
        if let Some(base) = self.backoff_secs.or(self.backoff_ms.map(Duration::from_millis)) {
            config.backoff = Backoff { base, max: config.backoff.max.max(base) };
        }
        config
    }
}

/// Runs the worker.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    // A bad config or flows file fails before anything is opened or announced ready.
    let file = match args.config.as_ref().or(args.flows_from.as_ref()) {
        Some(path) => Some(BridgeConfig::load(path, &flows::names()).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let flows = match &file {
        Some(file) => file.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?,
        None => flows::all(),
    };
    // --flows-from gives the flows only; --config everything.
    let whole = file.as_ref().filter(|_| args.config.is_some());
    let config = args.worker_config(whole);
    let store_url = whole.map_or(args.store.as_str(), |f| f.store.as_str());
    let store = AnyStore::connect(store_url).await.context("opening the store")?;
    // Workers sharing the store share the access token too.
    let tokens = Arc::new(StoreTokenCache(store.clone()));
    let client = match whole {
        Some(file) if !args.no_budget => zoho_bridge::connection::client(&file.zoho, Some(tokens)).await?,
        Some(file) => Client::builder(zoho_bridge::connection::from_config(&file.zoho).await?)
            .token_cache(tokens)
            .budget(BudgetConfig::unlimited())
            .build()
            .context("building the Zoho client")?,
        None => {
            let mut builder = Client::builder(connection(&args).await?).token_cache(tokens);
            if args.no_budget {
                builder = builder.budget(BudgetConfig::unlimited());
            } else if let Some(url) = &args.emulator {
                // Against the emulator, keep to the limits it says it enforces.
                builder = builder.budget(zoho_bridge::connection::emulator_budget(url).await?);
            }
            builder.build().context("building the Zoho client")?
        }
    };
    // And the organisation's rate budget, before the first call.
    let budget_share = zoho_bridge::connection::share_budget(&store, &config.connection, &client, &config.id).await?;
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
