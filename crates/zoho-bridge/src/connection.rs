//! The Zoho connection the binary's commands use: from a running emulator's seeded
//! credentials, or from explicit settings with the two secrets read from the
//! environment (a flag or a config file would show them to `ps` or to whoever reads the
//! file). Neither secret is ever printed.

use std::sync::Arc;

use anyhow::{Context, bail};
use bridge::{
    budget_share::{ShareKeeper, ShareSettings},
    config::ZohoConfig,
    store::AnyStore,
};
use zoho::{BudgetConfig, Client, Connection, DataCenter, Endpoints, TokenCache};

/// The connection the `[zoho]` section describes: the emulator's seeded credentials, or
/// the data centre (or URLs), client id and organisation with the two secrets from the
/// environment variables it names.
pub async fn from_config(zoho: &ZohoConfig) -> anyhow::Result<Connection> {
    if let Some(url) = &zoho.emulator {
        return from_emulator(url).await;
    }
    let endpoints = match (&zoho.accounts_url, &zoho.api_domain) {
        (Some(accounts), Some(api)) => Endpoints::custom(accounts, api),
        // Checked at load.
        _ => Endpoints::data_center(DataCenter::from_code(&zoho.dc).context("zoho.dc")?),
    };
    from_env(endpoints, &zoho.client_id, &zoho.organization_id, &zoho.client_secret_env, &zoho.refresh_token_env)
}

/// The client for the `[zoho]` section: its connection, the organisation's limits (the
/// emulator's own when pointed at one), and `tokens` to share the access token with the
/// other processes of the store.
pub async fn client(zoho: &ZohoConfig, tokens: Option<Arc<dyn TokenCache>>) -> anyhow::Result<Client> {
    let mut builder = Client::builder(from_config(zoho).await?);
    if let Some(tokens) = tokens {
        builder = builder.token_cache(tokens);
    }
    builder = match &zoho.emulator {
        Some(url) => builder.budget(emulator_budget(url).await?),
        None => builder.budget(zoho.limits.clone()),
    };
    builder.build().context("building the Zoho client")
}

/// Joins the sharing of `client`'s rate budgets (CRM and Books of its organisation) with
/// the other processes on `store` (`serve`, its extra workers, a backfill), as `label`
/// for connection `connection`: see `bridge::budget_share`. Every command that calls
/// Zoho makes this one call right after building its client, before the first call, and
/// ends with [`leave_budget`] once its calls are done. (A command wanting a smaller part,
/// such as a backfill beside a busy engine, calls `bridge::budget_share::join` with a
/// weight of its own instead.)
pub async fn share_budget(store: &AnyStore, connection: &str, client: &Client, label: &str) -> anyhow::Result<ShareKeeper> {
    let settings = ShareSettings { label: label.to_string(), ..ShareSettings::default() };
    bridge::budget_share::join(store.clone(), connection, client, settings).await.context("joining the organisation's rate budget in the store")
}

/// Leaves the budget sharing at the end of a command; a failure only delays the others'
/// larger share until this process's row expires, so it is logged, not returned.
pub async fn leave_budget(keeper: ShareKeeper) {
    if let Err(e) = keeper.leave().await {
        tracing::warn!(error = %e, "leaving the rate budget sharing failed; the others get this share back when its row expires");
    }
}

/// The connection a running emulator at `url` hands out (`/__emulator/credentials`),
/// through the one helper for it, [`Connection::from_emulator`].
pub async fn from_emulator(url: &str) -> anyhow::Result<Connection> {
    Connection::from_emulator(url).await.with_context(|| format!("reading the emulator's credentials from {url}"))
}

/// The limits a running emulator at `url` enforces (`/__emulator/limits`), as the
/// budget to keep against it ([`BudgetConfig::from_emulator`]).
pub async fn emulator_budget(url: &str) -> anyhow::Result<BudgetConfig> {
    BudgetConfig::from_emulator(url).await.with_context(|| format!("reading the emulator's limits from {url}"))
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
