//! The whole engine as one running value: what `zoho-bridge serve` runs, and what
//! `zoho-bridge demo` leaves serving at the end of its story (so the demo's dashboard is
//! `serve`'s, not a copy).
//!
//! [`Server::start`] opens the store, builds the Zoho client (sharing the access token and
//! the organisation's rate budget with the other processes on the store), and starts on
//! one listener: the webhook receiver (`/hooks/...`), `/metrics`, `/healthz`, `/readyz`,
//! the agent gateway at `/mcp` (unless `[mcp] http = false`) and the dashboard under `/`
//! (or on `[dashboard] listen`); then the CRM notification channel keeper (when channels
//! are configured), the pollers (when streams are), the overdue invoice scan (while a route
//! names `overdue_to_task`), the pruning of old finished work (`[retention] days`), and a
//! worker running the flows. [`Server::stop`] stops taking webhooks, stops the keeper and
//! the pollers, lets the running jobs finish, and says what the worker did.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt as _;
use bridge::{
    config::{BridgeConfig, RetentionSettings},
    flows,
    store::{AnyStore, Store, StoreResult, StoreTokenCache},
    triggers::{ChannelKeeper, ChannelTokens, Clock, OverdueScan, Poller, webhooks},
    worker::{RunStats, Worker},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// The engine, running.
pub struct Server {
    /// The main listener's address.
    pub addr: SocketAddr,
    /// The dashboard's address (`None` when `[dashboard] enabled = false`).
    pub dashboard_url: Option<String>,
    /// The store it runs on.
    pub store: AnyStore,
    stop: watch::Sender<bool>,
    worker: JoinHandle<StoreResult<RunStats>>,
    servers: Vec<(&'static str, JoinHandle<std::io::Result<()>>)>,
    background: tokio::task::JoinSet<()>,
    budget_share: bridge::budget_share::ShareKeeper,
}

impl Server {
    /// Starts everything `config` asks for, on `listener` if given (else it binds
    /// `config.listen`), with `clock` as the time of its events, jobs and channel expiries
    /// (`Clock::system()`, except against an emulator whose clock was moved). The metrics
    /// recorder is installed first (at most once per process). Returns once every part is
    /// up.
    pub async fn start(config: &BridgeConfig, listener: Option<TcpListener>, clock: Clock) -> anyhow::Result<Server> {
        crate::http::metrics::install()?;
        let store = AnyStore::connect(&config.store).await.context("opening the store")?;
        // Processes sharing the store share the access token too.
        let client = crate::connection::client(&config.zoho, Some(Arc::new(StoreTokenCache(store.clone())))).await?;
        // And the organisation's rate budget, before the first call.
        let worker_config = bridge::worker::WorkerConfig { clock: clock.clone(), ..config.worker() };
        let budget_share = crate::connection::share_budget(&store, &config.zoho.connection, &client, &worker_config.id).await?;
        let triggers = config.triggers();
        let tokens = ChannelTokens::new();
        let (stop, stopped) = watch::channel(false);

        // The keeper is built first: it puts the channel tokens where the receiver finds them.
        let keeper = if triggers.channels.watch.is_empty() {
            None
        } else {
            let keeper = ChannelKeeper::new(client.crm(), triggers.channels.clone(), tokens.clone(), clock.clone());
            Some(keeper.context("setting up the notification channels")?)
        };
        let operations = crate::http::Operations { store: store.clone(), client: client.clone() };
        let mut app = webhooks::router_with_clock(store.clone(), triggers.clone(), tokens.clone(), clock.clone()).merge(crate::http::router(operations)?);
        if config.mcp.http {
            // The agent gateway: MCP over streamable HTTP, a bearer token on every request.
            let gateway = crate::mcp::Gateway::new(store.clone(), client.clone(), &config.zoho.connection, config.mcp.clone());
            app = app.merge(gateway.router());
            tracing::info!(path = crate::mcp::PATH, "MCP agent gateway mounted (tokens: zoho-bridge tokens create)");
        }
        let listener = match listener {
            Some(listener) => listener,
            None => {
                let addr: SocketAddr = config.listen.parse().context("listen")?;
                TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?
            }
        };
        let addr = listener.local_addr()?;
        // The dashboard: under / beside the webhooks, or on a listener of its own.
        let mut servers = Vec::new();
        let mut dashboard_url = None;
        if config.dashboard.enabled {
            let pages = crate::dashboard::router(store.clone(), client.clone(), &config.dashboard);
            match &config.dashboard.listen {
                None => {
                    app = app.merge(pages);
                    dashboard_url = Some(format!("http://{addr}/"));
                }
                Some(listen) => {
                    let at: SocketAddr = listen.parse().context("dashboard.listen")?;
                    let own = TcpListener::bind(at).await.with_context(|| format!("binding the dashboard's {at}"))?;
                    dashboard_url = Some(format!("http://{}/", own.local_addr()?));
                    let serve = axum::serve(own.tap_io(no_delay), pages).with_graceful_shutdown(until(stopped.clone()));
                    servers.push(("the dashboard", tokio::spawn(serve.into_future())));
                }
            }
        }
        servers.push((
            "the webhook receiver",
            tokio::spawn(axum::serve(listener.tap_io(no_delay), app).with_graceful_shutdown(until(stopped.clone())).into_future()),
        ));

        let mut background = tokio::task::JoinSet::new();
        if let Some(keeper) = keeper {
            background.spawn(async move { keeper.run().await });
        }
        if !triggers.poller.streams.is_empty() {
            let poller = Poller::new(store.clone(), client.clone(), triggers.clone(), clock.clone());
            background.spawn(async move { poller.run().await });
        }
        // The overdue scan runs while a route names overdue_to_task (and its interval is set).
        let overdue_routed = triggers.routes.0.iter().any(|r| r.flows.iter().any(|f| f == flows::overdue_to_task::NAME));
        if let Some(every) = config.flows.overdue_to_task.scan_every().filter(|_| overdue_routed) {
            let scan = OverdueScan::new(store.clone(), client.clone(), triggers.connection(), every, clock.clone());
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
        let built = config.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?;
        let worker = Worker::new(store.clone(), built, client, worker_config);
        let worker = tokio::spawn(async move { worker.run(until(stopped)).await });
        Ok(Server { addr, dashboard_url, store, stop, worker, servers, background, budget_share })
    }

    /// Stops taking webhooks, stops the keeper, the pollers and the scan, lets the
    /// running jobs finish, leaves the shared budget, and returns what the worker did.
    pub async fn stop(mut self) -> anyhow::Result<RunStats> {
        let _ = self.stop.send(true);
        let stats = self.worker.await.context("the worker panicked")?;
        self.background.shutdown().await;
        for (what, server) in self.servers {
            server.await.with_context(|| format!("{what} panicked"))?.with_context(|| format!("{what} failed"))?;
        }
        crate::connection::leave_budget(self.budget_share).await;
        let stats = stats?;
        tracing::info!(%stats, "worker stopped");
        Ok(stats)
    }
}

/// Sends each write at once (no Nagle): the gateway answers a tool call as a server-sent
/// event stream written in several small writes, and without this the second waited for
/// the client's delayed ACK, ~40 ms on Linux, on every call (`benches/gateway.rs`).
fn no_delay(tcp: &mut TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY could not be set on a connection");
    }
}

/// A future that ends when `stopped` turns true.
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
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
