//! Connecting to a running zoho-bridge emulator (crate `zoho-emulator`): its seeded
//! credentials as a [`Connection`] and the limits it enforces as a [`BudgetConfig`].
//!
//! Why it lives here: the binary, the benchmarks and every test that talk to an emulator
//! need exactly these two conversions, and they used to be copied into each of them. The
//! emulator crate cannot provide them (it does not know this crate: `zoho` depends on
//! `zoho-emulator` for its own tests, not the other way round), and reading two small JSON
//! documents from the emulator's control surface needs nothing but the HTTP client this
//! crate already has.
//!
//! - [`Connection::from_emulator`] reads `GET {url}/__emulator/credentials`.
//! - [`BudgetConfig::from_emulator`] reads `GET {url}/__emulator/limits` and keeps what
//!   the emulator enforces: Books per minute and per day, CRM credits and concurrency.
//!   The emulator does not enforce Books concurrency, so that limit is off; the wait
//!   ceiling is [`BudgetConfig::default`]'s. (On the emulator's side,
//!   `zoho_emulator::testkit::limits` returns the same numbers as the emulator's own
//!   `LimitsConfig`, for tests that drive the emulator without this client.)
//!
//! For real Zoho, build the [`Connection`] from the data centre and your own secrets, and
//! the [`BudgetConfig`] from your plans ([`BudgetConfig::for_plans`]) or your config file.
//! No error of this module carries a secret: the credentials' body is never quoted.

use std::time::Duration;

use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    budget::BudgetConfig,
    connection::Connection,
    dc::Endpoints,
    error::{Error, Result},
    secret::Secret,
    token::without_url,
};

/// What `GET /__emulator/credentials` answers.
#[derive(Deserialize)]
struct Credentials {
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
    organization_id: String,
    accounts_url: String,
    api_domain: String,
}

/// The limits in `GET /__emulator/limits` (under `config`). Absent or `null`: not enforced.
#[derive(Deserialize)]
struct EnforcedLimits {
    #[serde(default)]
    books_per_minute: Option<u32>,
    #[serde(default)]
    books_per_day: Option<u32>,
    #[serde(default)]
    crm_credits_per_day: Option<u64>,
    #[serde(default)]
    crm_concurrency: Option<u32>,
}

/// `GET /__emulator/limits`.
#[derive(Deserialize)]
struct LimitsAnswer {
    config: EnforcedLimits,
}

/// GETs `{base}{path}` and decodes it; errors name the path only, never the body.
async fn read<T: DeserializeOwned>(base: &str, path: &str) -> Result<T> {
    crate::client::install_ring();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| Error::Setup(e.to_string()))?;
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let network = |e: reqwest::Error| Error::Transport { method: "GET".into(), path: path.into(), message: without_url(&e), not_sent: e.is_connect() };
    let resp = http.get(url).send().await.map_err(network)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(network)?;
    if !status.is_success() {
        return Err(Error::decode(path, format!("the emulator answered HTTP {}", status.as_u16())));
    }
    // serde's message may quote a value (a secret, for the credentials): say only where.
    serde_json::from_slice(&body).map_err(|e| Error::decode(path, format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column())))
}

impl Connection {
    /// The connection a running emulator at `url` (`http://127.0.0.1:8089`) hands out
    /// for its seeded self-client: both endpoints at `url`, its client id and secret, a
    /// refresh token with every scope, and its Books organisation.
    pub async fn from_emulator(url: &str) -> Result<Connection> {
        let c: Credentials = read(url, "/__emulator/credentials").await?;
        Ok(Connection::new(Endpoints::custom(&c.accounts_url, &c.api_domain), c.client_id, c.client_secret, c.refresh_token, c.organization_id))
    }
}

impl BudgetConfig {
    /// The limits a running emulator at `url` enforces, as a budget: what it does not
    /// enforce is off (Books concurrency always; any limit the emulator runs without).
    pub async fn from_emulator(url: &str) -> Result<BudgetConfig> {
        let answer: LimitsAnswer = read(url, "/__emulator/limits").await?;
        let l = answer.config;
        Ok(BudgetConfig {
            books_per_minute: l.books_per_minute,
            books_per_day: l.books_per_day,
            books_concurrency: None,
            crm_credits_per_day: l.crm_credits_per_day,
            crm_concurrency: l.crm_concurrency,
            max_wait: BudgetConfig::default().max_wait,
        })
    }
}
