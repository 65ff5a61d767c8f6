//! The Zoho connection the binary's commands use: from a running emulator's seeded
//! credentials, or from explicit settings with the two secrets read from the
//! environment (a flag or a config file would show them to `ps` or to whoever reads the
//! file). Neither secret is ever printed.

use anyhow::{Context, bail};
use zoho::{Connection, Endpoints};
use zoho_emulator::testkit::Credentials;

/// The connection a running emulator at `url` hands out (`/__emulator/credentials`).
pub async fn from_emulator(url: &str) -> anyhow::Result<Connection> {
    let creds = zoho_emulator::testkit::credentials(&reqwest::Client::new(), url.trim_end_matches('/'))
        .await
        .with_context(|| format!("reading the emulator's credentials from {url}"))?;
    Ok(from_credentials(&creds))
}

/// The connection for an emulator's seeded credentials.
pub fn from_credentials(creds: &Credentials) -> Connection {
    Connection::new(
        Endpoints::custom(&creds.accounts_url, &creds.api_domain),
        &creds.client_id,
        creds.client_secret.as_str(),
        creds.refresh_token.as_str(),
        &creds.organization_id,
    )
}

/// A connection to `endpoints` for `client_id` and Books organisation `organization_id`,
/// with the client secret and the refresh token read from the environment variables
/// named `secret_env` and `refresh_env`.
pub fn from_env(endpoints: Endpoints, client_id: &str, organization_id: &str, secret_env: &str, refresh_env: &str) -> anyhow::Result<Connection> {
    let secret = |env: &str| std::env::var(env).with_context(|| format!("missing environment variable {env}"));
    let client_secret = secret(secret_env)?;
    let refresh_token = secret(refresh_env)?;
    if client_secret.is_empty() || refresh_token.is_empty() {
        bail!("{secret_env} and {refresh_env} must not be empty");
    }
    Ok(Connection::new(endpoints, client_id, client_secret.as_str(), refresh_token.as_str(), organization_id))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing running jobs");
}
