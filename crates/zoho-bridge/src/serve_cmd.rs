//! `zoho-bridge serve`: the whole engine in one process, configured by one file.
//!
//! It reads the config file (`zoho-bridge.toml`, see `examples/zoho-bridge.toml`),
//! opens the store, and runs together: the webhook receiver (`/hooks/...`, plus
//! `/metrics`, `/healthz` and `/readyz`: `zoho_bridge::http`), the dashboard (under `/`,
//! or on `[dashboard] listen`), the CRM notification channel keeper (when channels are configured),
//! the pollers (when streams are configured), the overdue invoice scan (while a route
//! names `overdue_to_task`), the pruning of old finished work (when
//! `[retention] days` is set), and a worker running the flows. On
//! Ctrl-C or SIGTERM it stops taking webhooks, stops the keeper and the pollers, lets
//! the running jobs finish, and exits. More workers can share a PostgreSQL store with
//! `zoho-bridge worker`; the processes on one store share the organisation's rate budget
//! (`bridge::budget_share`). The agent gateway (MCP over streamable HTTP) is mounted at
//! `/mcp` unless `[mcp] http = false`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use bridge::{
    config::{BridgeConfig, DEFAULT_CONFIG_FILE, RetentionSettings},
    flows,
    store::{AnyStore, Store, StoreTokenCache},
    triggers::{ChannelKeeper, ChannelTokens, Clock, OverdueScan, Poller, webhooks},
    worker::Worker,
};
use tokio::sync::watch;

/// Flags of `zoho-bridge serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// Check the config file, and the environment variables it names, and exit: 0 when
    /// `serve` can start with it, 1 with the file, line, column and setting at fault.
    #[arg(long)]
    pub check_config: bool,
}

/// Runs the engine until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The error already names the file, line, column and field.
    let loaded = BridgeConfig::load(&args.config, &flows::names());
    if args.check_config {
        // One line either way, for people and CI logs (no "Error:" wrapping or backtrace).
        match loaded {
            Ok(_) => println!("{}: ok", args.config.display()),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    let config = loaded.map_err(|e| anyhow::anyhow!("{e}"))?;
    zoho_bridge::logging::init(&config.log, "info")?;
    // Before anything is counted.
    zoho_bridge::http::metrics::install()?;
    let store = AnyStore::connect(&config.store).await.context("opening the store")?;
    // Processes sharing the store share the access token too.
    let client = zoho_bridge::connection::client(&config.zoho, Some(Arc::new(StoreTokenCache(store.clone())))).await?;
    // And the organisation's rate budget, before the first call.
    let worker_config = config.worker();
    let budget_share = zoho_bridge::connection::share_budget(&store, &config.zoho.connection, &client, &worker_config.id).await?;
    let triggers = config.triggers();
    let tokens = ChannelTokens::new();

    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    // The keeper is built first: it puts the channel tokens where the receiver finds them.
    let keeper = if triggers.channels.watch.is_empty() {
        None
    } else {
        let keeper = ChannelKeeper::new(client.crm(), triggers.channels.clone(), tokens.clone(), Clock::system());
        Some(keeper.context("setting up the notification channels")?)
    };
    let operations = zoho_bridge::http::Operations { store: store.clone(), client: client.clone() };
    let mut app = webhooks::router(store.clone(), triggers.clone(), tokens.clone()).merge(zoho_bridge::http::router(operations)?);
    if config.mcp.http {
        // The agent gateway: MCP over streamable HTTP, a bearer token on every request.
        let gateway = zoho_bridge::mcp::Gateway::new(store.clone(), client.clone(), &config.zoho.connection, config.mcp.clone());
        app = app.merge(gateway.router());
        tracing::info!(path = zoho_bridge::mcp::PATH, "MCP agent gateway mounted (tokens: zoho-bridge tokens create)");
    }
    // The dashboard: under / beside the webhooks, or on a listener of its own.
    let mut dashboard_server = None;
    let mut dashboard_url = None;
    if config.dashboard.enabled {
        let pages = zoho_bridge::dashboard::router(store.clone(), client.clone(), &config.dashboard);
        match &config.dashboard.listen {
            None => app = app.merge(pages),
            Some(listen) => {
                let addr: SocketAddr = listen.parse().context("dashboard.listen")?;
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the dashboard's {addr}"))?;
                dashboard_url = Some(format!("http://{}/", listener.local_addr()?));
                let serve = axum::serve(listener, pages).with_graceful_shutdown(until_stopped(stopped.clone()));
                dashboard_server = Some(tokio::spawn(serve.into_future()));
            }
        }
    }
    let addr: SocketAddr = config.listen.parse().context("listen")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(until_stopped(stopped.clone())).into_future());

    let mut background = tokio::task::JoinSet::new();
    if let Some(keeper) = keeper {
        background.spawn(async move { keeper.run().await });
    }
    if !triggers.poller.streams.is_empty() {
        let poller = Poller::new(store.clone(), client.clone(), triggers.clone(), Clock::system());
        background.spawn(async move { poller.run().await });
    }
    // The overdue scan runs while a route names overdue_to_task (and its interval is set).
    let overdue_routed = triggers.routes.0.iter().any(|r| r.flows.iter().any(|f| f == flows::overdue_to_task::NAME));
    if let Some(every) = config.flows.overdue_to_task.scan_every().filter(|_| overdue_routed) {
        let scan = OverdueScan::new(store.clone(), client.clone(), triggers.connection(), every, Clock::system());
        background.spawn(async move { scan.run().await });
    }
    if config.retention.days > 0 {
        background.spawn(prune_every_hour(store.clone(), config.retention.clone()));
    }

    tracing::info!(
        listen = %addr,
        store = %bridge::store::redact_url(&config.store),
        worker = %worker_config.id,
        channels = triggers.channels.watch.len(),
        streams = triggers.poller.streams.len(),
        "zoho-bridge serving"
    );
    // A line on stdout when everything is up (tests and scripts wait for it).
    println!("zoho-bridge serving on http://{addr} (webhooks under /hooks, metrics at /metrics, health at /healthz and /readyz)");
    if config.dashboard.enabled {
        let url = dashboard_url.unwrap_or_else(|| format!("http://{addr}/"));
        println!("dashboard at {url} ({})", zoho_bridge::dashboard::login_hint(&config.dashboard));
    }
    let flows = config.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?;
    let worker = Worker::new(store.clone(), flows, client, worker_config);
    let signal = tokio::spawn(async move {
        zoho_bridge::connection::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let stats = worker.run(until_stopped(stopped.clone())).await;
    signal.abort();
    background.shutdown().await;
    server.await.context("the webhook receiver failed")?.context("the webhook receiver failed")?;
    if let Some(dashboard) = dashboard_server {
        dashboard.await.context("the dashboard failed")?.context("the dashboard failed")?;
    }
    zoho_bridge::connection::leave_budget(budget_share).await;
    let stats = stats?;
    tracing::info!(%stats, "worker stopped");
    println!("zoho-bridge stopped: {stats} in this run; jobs in the store: {}", bridge::store::job_counts_text(&store.job_counts().await?));
    store.close().await;
    Ok(())
}

/// Deletes finished work older than `[retention] days`, at start and then every hour.
async fn prune_every_hour(store: AnyStore, retention: RetentionSettings) {
    let mut every = tokio::time::interval(Duration::from_secs(3_600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(before_ms) = retention.prune_before(flows::now_ms()) else { return };
        match store.prune(before_ms).await {
            Ok(pruned) => tracing::info!(jobs = pruned.jobs, events = pruned.events, days = retention.days, "pruned finished work"),
            Err(e) => tracing::warn!(error = %e, "pruning finished work failed; trying again in an hour"),
        }
    }
}
