//! A faithful local emulator of Zoho Accounts, Zoho CRM v8 and Zoho Books v3.
//!
//! zoho-bridge's tests, demo and benchmarks run against this instead of Zoho. It serves
//! every API on one port under Zoho's real path prefixes (`/oauth/v2/token`,
//! `/crm/v8/…`, `/books/v3/…`), with Zoho's envelopes, error codes, pagination and
//! limits, plus a control surface under `/__emulator` (credentials, clock, state
//! snapshots, fault injection, webhook log).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use zoho_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::default(), 0).await?;
//! println!("Zoho is at {}", emulator.url());
//! emulator.stop().await;
//! # Ok(()) }
//! ```

// Handlers return `Result<T, Response>`: the error *is* the HTTP answer Zoho would give,
// built once where the problem is found; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod auth;
pub mod books;
pub mod clock;
pub mod config;
pub mod control;
pub mod crm;
pub mod errors;
pub mod faults;
pub mod limits;
pub mod rng;
pub mod seed;
pub mod state;
pub mod stats;
pub mod testkit;
pub mod webhooks;

use std::{net::SocketAddr, time::Duration};

use axum::{Router, middleware, routing::post};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::{EmulatorConfig, LimitsConfig, SeedProfile};
pub use faults::{FaultConfig, FaultRule, WebhookFaults};
pub use state::{AppState, World};

/// Installs rustls' *ring* crypto provider as the process default, once.
///
/// The workspace builds reqwest with rustls and no provider of its own choosing (DESIGN:
/// ring, shared with sqlx); a `reqwest::Client` built before a provider is installed
/// panics. The emulator builds one for its webhooks, so it installs ring when it starts;
/// binaries and test harnesses may call this too. Calling it again does nothing.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Builds a fresh world from the config's seed.
///
/// # Panics
///
/// When the seed profile's counts do not fit together; [`try_build_world`] returns
/// that as an error instead.
pub fn build_world(config: &EmulatorConfig) -> World {
    try_build_world(config).unwrap_or_else(|e| panic!("cannot build the emulator world: {e}"))
}

/// Builds a fresh world from the config's seed and seed profile; the error says what in
/// the profile is wrong.
pub fn try_build_world(config: &EmulatorConfig) -> Result<World, String> {
    let clock = clock::Clock::new(config.utc_offset_minutes);
    let mut world = World { accounts: accounts::AccountsData::bootstrap(config.seed), ..World::default() };
    crm::bootstrap(&mut world.crm, config.seed, &clock);
    books::bootstrap(&mut world.books, config.seed, &clock);
    if config.seed_data {
        match &config.seed_profile {
            SeedProfile::Demo => {
                let mut rng = rng::Rng::new(config.seed);
                crm::seed(&mut world.crm, &mut rng, &clock);
                books::seed(&mut world.books, &mut rng, &clock, &world.crm);
            }
            SeedProfile::Overlap(spec) => {
                seed::overlap(&mut world, spec, config.seed)?;
            }
        }
    }
    Ok(world)
}

/// The whole HTTP surface for a state.
pub fn router(state: AppState) -> Router {
    // Layers run outermost-last-added: authentication, then the rate limits, then fault
    // injection, then the handler. Injected latency therefore counts as time in flight
    // (CRM concurrency) and an injected failure has already spent budget, as on Zoho.
    // The request counters (`/__emulator/stats`) sit outside all of them: every call is
    // counted, refused or not.
    let faults = || middleware::from_fn_with_state(state.clone(), faults::layer);
    let stats = |api: &'static str| middleware::from_fn_with_state((state.clone(), api), stats::layer);
    let crm = crm::router()
        .layer(faults())
        .layer(middleware::from_fn_with_state(state.clone(), limits::crm))
        .layer(middleware::from_fn_with_state(state.clone(), auth::crm))
        .layer(stats("crm"));
    let books = books::router()
        .layer(faults())
        .layer(middleware::from_fn_with_state(state.clone(), limits::books))
        .layer(middleware::from_fn_with_state(state.clone(), auth::books))
        .layer(stats("books"));
    let accounts = Router::new()
        .route("/oauth/v2/token", post(accounts::token))
        .route("/oauth/v2/token/revoke", post(accounts::revoke))
        .layer(faults())
        .layer(stats("accounts"));
    Router::new().merge(accounts).nest("/crm/v8", crm).nest("/books/v3", books).nest("/__emulator", control::router()).with_state(state)
}

/// Runs the periodic work: invoices going overdue, notification channels expiring.
pub fn tick(state: &AppState) {
    crm::tick(state);
    books::tick(state);
}

/// A running emulator.
pub struct Emulator {
    state: AppState,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

impl Emulator {
    /// Starts an emulator with a world generated from `config.seed` on `127.0.0.1:port`
    /// (`0` picks a free port).
    pub async fn start(config: EmulatorConfig, port: u16) -> std::io::Result<Emulator> {
        let world = try_build_world(&config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Self::start_with_world(config, world, port).await
    }

    /// Starts an emulator serving an existing world (a restored snapshot).
    pub async fn start_with_world(config: EmulatorConfig, world: World, port: u16) -> std::io::Result<Emulator> {
        install_crypto_provider();
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(config, world);
        let _ = state.base_url.set(format!("http://{addr}"));
        webhooks::start(state.clone());
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        let tick_state = state.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                tick(&tick_state);
            }
        });
        Ok(Emulator { state, addr, shutdown: Some(tx), server, ticker })
    }

    /// `http://127.0.0.1:PORT`: the accounts server and the API domain at once.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (for tests that inspect or change the world directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Waits until the server stops (for the CLI: forever, until Ctrl-C).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }

    /// Stops serving and returns the final world (for `--state FILE`).
    pub async fn stop(mut self) -> World {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
        self.ticker.abort();
        let mut world = std::mem::take(&mut *self.state.world());
        world.clock_offset_ms = self.state.clock.offset_ms();
        world
    }
}
