//! What the trigger tests share: an emulator, a Zoho client on it, a SQLite store in a
//! fresh file, the webhook receiver served on a random port, and inbox inspection.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;
pub use common::eventually;

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicU32, Ordering},
};

use bridge::{
    store::{JobStatus, SqliteStore, Store},
    triggers::{ChannelTokens, Clock, TriggerConfig, webhooks::router_with_clock},
};
use zoho::{Client, Connection};
use zoho_emulator::{Emulator, EmulatorConfig};

/// A running emulator with a client and a store.
pub struct Env {
    /// The emulator.
    pub emu: Emulator,
    /// A client on it.
    pub client: Client,
    /// A plain HTTP client (for the receiver and the emulator's control surface).
    pub http: reqwest::Client,
    /// The store.
    pub store: SqliteStore,
    /// The emulator's clock, as the triggers read it.
    pub clock: Clock,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh SQLite file path.
pub fn db_path(name: &str) -> std::path::PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("bridge-triggers-{name}-{}-{n}-{nanos}.db", std::process::id()))
}

/// Starts everything.
pub async fn env(name: &str) -> Env {
    zoho_emulator::install_crypto_provider();
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator starts");
    let http = reqwest::Client::new();
    let connection = Connection::from_emulator(&emu.url()).await.expect("credentials");
    let client = Client::new(connection).expect("client");
    let store = SqliteStore::open(db_path(name)).await.expect("store opens");
    let state = emu.state().clone();
    let clock = Clock::from_fn(move || state.clock.now_ms());
    Env { emu, client, http, store, clock }
}

impl Env {
    /// Serves the receiver on a random port; returns its base URL.
    pub async fn serve(&self, config: TriggerConfig, tokens: ChannelTokens) -> String {
        let app = router_with_clock(self.store.clone(), config, tokens, self.clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    /// The emulator clock now, floored to the second (Zoho's timestamps have seconds).
    pub fn now_floor_s(&self) -> i64 {
        self.clock.now_ms() / 1000 * 1000
    }

    /// Moves the emulator clock.
    pub fn advance(&self, ms: i64) {
        self.emu.state().clock.advance_ms(ms);
    }
}

/// The queued jobs (one per stored event when one flow is routed per module).
pub async fn queued<S: Store>(store: &S) -> Vec<bridge::store::Job> {
    store.jobs_with_status(JobStatus::Queued, 10_000).await.expect("jobs")
}

/// The (job key) of every queued job: `system:module:record_id`, as a set.
pub async fn queued_keys<S: Store>(store: &S) -> BTreeSet<String> {
    queued(store).await.into_iter().map(|j| j.key).collect()
}

/// Total jobs in any status.
pub async fn job_total<S: Store>(store: &S) -> i64 {
    store.job_counts().await.expect("counts").into_iter().map(|(_, n)| n).sum()
}
