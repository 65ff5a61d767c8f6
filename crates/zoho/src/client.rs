//! The entry point: a cheap-to-clone handle on one connection.

use std::{sync::Arc, time::Duration};

use crate::{
    books::Books,
    budget::{BudgetConfig, BudgetRegistry, BudgetUsage},
    connection::Connection,
    crm::Crm,
    error::{Error, Result},
    retry::RetryPolicy,
    token_cache::TokenCache,
    transport::{Transport, TransportConfig},
};

/// A client for one [`Connection`]. Clone it freely: clones share the token, the HTTP
/// connection pool and the budgets.
#[derive(Debug, Clone)]
pub struct Client {
    transport: Arc<Transport>,
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    connection: Connection,
    config: TransportConfig,
    registry: Option<Arc<BudgetRegistry>>,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// Limits to keep (default: [`BudgetConfig::default`]). The first client of an
    /// organisation in a registry fixes its limits.
    pub fn budget(mut self, budget: BudgetConfig) -> Self {
        self.config.budget = budget;
        self
    }

    /// Where budgets are shared (default: [`BudgetRegistry::global`], the whole process).
    pub fn budget_registry(mut self, registry: Arc<BudgetRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Retry behaviour (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// Timeout of one HTTP exchange (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Connect timeout (default 10 s). Ignored with [`ClientBuilder::http_client`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Refresh the access token this long before it expires (default 5 minutes, never
    /// more than a tenth of the token's lifetime).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.config.refresh_margin = margin;
        self
    }

    /// Shares the access token with the other processes of this connection through
    /// `cache` (see [`TokenCache`]): a token one of them obtained is used by all until it
    /// is about to expire, so together they stay within Zoho's token allowance.
    pub fn token_cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.config.token_cache = Some(cache);
        self
    }

    /// Uses an existing `reqwest::Client` (its TLS setup is then yours).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client. Installs rustls' *ring* crypto provider as the process default
    /// if no provider is installed yet.
    pub fn build(self) -> Result<Client> {
        let http = match self.http {
            Some(http) => http,
            None => {
                install_ring();
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .pool_idle_timeout(Duration::from_secs(50))
                    .user_agent(concat!("zoho-rs/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| Error::Setup(e.to_string()))?
            }
        };
        let registry = self.registry.unwrap_or_else(BudgetRegistry::global);
        Ok(Client { transport: Arc::new(Transport::new(http, self.connection, self.config, registry)) })
    }
}

/// Installs rustls' *ring* provider as the process default if none is installed yet
/// (reqwest is built without one and panics on a client built before).
pub(crate) fn install_ring() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Client {
    /// A builder with default settings.
    pub fn builder(connection: Connection) -> ClientBuilder {
        ClientBuilder {
            connection,
            config: TransportConfig {
                budget: BudgetConfig::default(),
                retry: RetryPolicy::default(),
                timeout: Duration::from_secs(30),
                refresh_margin: Duration::from_secs(300),
                token_cache: None,
            },
            registry: None,
            http: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A client with default settings.
    pub fn new(connection: Connection) -> Result<Client> {
        Client::builder(connection).build()
    }

    /// Zoho CRM v8.
    pub fn crm(&self) -> Crm {
        Crm::new(self.clone())
    }

    /// Zoho Books v3, for the connection's organisation.
    pub fn books(&self) -> Books {
        Books::new(self.clone())
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        self.transport.connection()
    }

    /// The budgets of this connection's organisation (CRM, Books), for metrics.
    pub fn budget_usage(&self) -> Vec<BudgetUsage> {
        self.transport.usage()
    }

    /// How many access tokens this client has requested.
    pub fn token_refreshes(&self) -> u64 {
        self.transport.tokens().refresh_count()
    }

    /// The transport, for calls this crate has no typed method for.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}
