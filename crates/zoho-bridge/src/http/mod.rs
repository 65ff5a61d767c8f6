//! The operations endpoints `serve` answers beside the webhooks: `/metrics` for
//! Prometheus, `/healthz` and `/readyz` for whoever runs the process. `demo` mounts the
//! same router.

pub mod health;
pub mod metrics;

use axum::Router;
use bridge::store::AnyStore;

/// What the operations endpoints read: the store and the Zoho client of the process.
#[derive(Clone)]
pub struct Operations {
    /// The store the engine runs on.
    pub store: AnyStore,
    /// The process's Zoho client (its budgets and its access token).
    pub client: zoho::Client,
}

/// `/metrics`, `/healthz` and `/readyz` on one router, to merge into the process's
/// own. Installs the Prometheus recorder if it is not installed yet
/// ([`metrics::install`]).
pub fn router(operations: Operations) -> anyhow::Result<Router> {
    Ok(metrics::router(operations.clone())?.merge(health::router(operations)))
}
