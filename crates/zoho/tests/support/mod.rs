//! Shared set-up of the integration tests: an emulator on loopback and a client for it.

#![allow(dead_code)]

use std::time::Duration;

use zoho::{BudgetConfig, BudgetRegistry, Client, ClientBuilder, Connection, Endpoints, RetryPolicy};
use zoho_emulator::{Emulator, EmulatorConfig, testkit::Credentials};

/// Installs rustls' ring provider (reqwest is built without a default one).
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts an emulator and reads its seeded credentials.
pub async fn emulator(config: EmulatorConfig) -> (Emulator, Credentials) {
    install_tls();
    let emu = Emulator::start(config, 0).await.expect("emulator starts");
    let http = reqwest::Client::new();
    let creds = zoho_emulator::testkit::credentials(&http, &emu.url()).await.expect("credentials");
    (emu, creds)
}

/// The connection for the emulator's credentials.
pub fn connection(creds: &Credentials) -> Connection {
    Connection::new(
        Endpoints::custom(&creds.accounts_url, &creds.api_domain),
        &creds.client_id,
        creds.client_secret.as_str(),
        creds.refresh_token.as_str(),
        &creds.organization_id,
    )
}

/// Fast retries, no client-side limits, a budget registry of its own.
pub fn builder(creds: &Credentials) -> ClientBuilder {
    Client::builder(connection(creds))
        .budget_registry(BudgetRegistry::new())
        .budget(BudgetConfig::unlimited())
        .retry(RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        })
        .timeout(Duration::from_secs(10))
}

/// An emulator without limits or seed data, and a client for it.
pub async fn start() -> (Emulator, Client, Credentials) {
    let (emu, creds) = emulator(EmulatorConfig::unlimited()).await;
    let client = builder(&creds).build().expect("client builds");
    (emu, client, creds)
}

/// How many access tokens the emulator has minted for the refresh token.
pub fn tokens_minted(emu: &Emulator, creds: &Credentials) -> usize {
    emu.state().world().accounts.refresh_tokens.get(&creds.refresh_token).map(|t| t.live.len()).unwrap_or(0)
}
