//! Shared set-up of the integration tests: an emulator on loopback and a client for it.

#![allow(dead_code)]

use std::time::Duration;

use zoho::{BudgetConfig, BudgetRegistry, Client, ClientBuilder, Connection, RetryPolicy};
use zoho_emulator::{Emulator, EmulatorConfig};

/// Installs rustls' ring provider (reqwest is built without a default one).
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts an emulator and takes the connection for its seeded credentials (the crate's
/// one helper for that, [`Connection::from_emulator`]). Tests that need wrong
/// credentials change the connection's fields.
pub async fn emulator(config: EmulatorConfig) -> (Emulator, Connection) {
    install_tls();
    let emu = Emulator::start(config, 0).await.expect("emulator starts");
    let connection = Connection::from_emulator(&emu.url()).await.expect("credentials");
    (emu, connection)
}

/// Fast retries, no client-side limits, a budget registry of its own.
pub fn builder(connection: &Connection) -> ClientBuilder {
    Client::builder(connection.clone())
        .budget_registry(BudgetRegistry::new())
        .budget(BudgetConfig::unlimited())
        .retry(RetryPolicy { max_retries: 6, min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(200), ..RetryPolicy::default() })
        .timeout(Duration::from_secs(10))
}

/// An emulator without limits or seed data, and a client for it.
pub async fn start() -> (Emulator, Client, Connection) {
    let (emu, creds) = emulator(EmulatorConfig::unlimited()).await;
    let client = builder(&creds).build().expect("client builds");
    (emu, client, creds)
}

/// How many access tokens the emulator has minted for the refresh token.
pub fn tokens_minted(emu: &Emulator, connection: &Connection) -> usize {
    emu.state().world().accounts.refresh_tokens.get(connection.refresh_token.expose()).map(|t| t.live.len()).unwrap_or(0)
}
