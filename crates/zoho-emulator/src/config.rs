//! Typed configuration of one emulator instance.
//!
//! Every Zoho limit the emulator enforces is a field here with Zoho's published default,
//! so tests can make tokens expire in a second or give Books a budget of 5 requests a
//! minute, and benchmarks can switch limits off.

use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;

/// How one emulator behaves. `Default` is "like Zoho, seeded with seed 1".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Seed of every generated id, record and fault decision.
    pub seed: u64,
    /// Generate records (which ones: `seed_profile`). The organisation, its users,
    /// currencies and taxes always exist.
    pub seed_data: bool,
    /// Which records `seed_data` generates: the demo set, or overlapping customers for
    /// dedup tests (`crate::seed`).
    pub seed_profile: SeedProfile,
    /// Lifetime of an access token, seconds (Zoho: 3600).
    pub token_ttl_secs: i64,
    /// Access-token requests allowed per refresh token per window (Zoho: 10 per 600 s).
    /// `None` switches the throttle off.
    pub token_requests_per_window: Option<u32>,
    /// Length of that window, seconds.
    pub token_window_secs: i64,
    /// Live access tokens kept per refresh token; the oldest is revoked beyond it (Zoho: 10).
    pub max_live_tokens: usize,
    /// The org's UTC offset in minutes, used to render timestamps.
    pub utc_offset_minutes: i32,
    /// Rate limits and quotas.
    pub limits: LimitsConfig,
    /// Delay before a written CRM record shows up in search results (Zoho's index lag).
    pub search_index_lag_ms: u64,
    /// Fault injection.
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: 1,
            seed_data: true,
            seed_profile: SeedProfile::Demo,
            token_ttl_secs: 3600,
            token_requests_per_window: Some(10),
            token_window_secs: 600,
            max_live_tokens: 10,
            utc_offset_minutes: 0,
            limits: LimitsConfig::default(),
            search_index_lag_ms: 0,
            faults: FaultConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// A configuration for tests and benchmarks: no throttles, no quotas, no seed records.
    pub fn unlimited() -> Self {
        EmulatorConfig {
            seed_data: false,
            token_requests_per_window: None,
            max_live_tokens: usize::MAX,
            limits: LimitsConfig::unlimited(),
            ..EmulatorConfig::default()
        }
    }
}

/// The records a seeded emulator starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedProfile {
    /// A small demo: accounts, contacts, products, deals, quotes in CRM; contacts, items,
    /// invoices and a payment in Books.
    #[default]
    Demo,
    /// The same customers in CRM and Books, spelled differently, with a known truth
    /// ([`crate::seed::overlap`]).
    Overlap(crate::seed::OverlapSpec),
}

/// Zoho's request budgets. `None` means unlimited.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Books requests per minute per organisation (Zoho: 100).
    pub books_per_minute: Option<u32>,
    /// Books requests per day per organisation (Zoho: 1,000 Free … 10,000 Premium and up).
    pub books_per_day: Option<u32>,
    /// CRM API credits per rolling 24 h (Zoho: 5,000 Free; 50,000 + per-user on paid editions).
    pub crm_credits_per_day: Option<u64>,
    /// CRM calls in flight at once per user (Zoho: 5 Free … 25 Ultimate; 10 Standard).
    pub crm_concurrency: Option<u32>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { books_per_minute: Some(100), books_per_day: Some(10_000), crm_credits_per_day: Some(50_000), crm_concurrency: Some(10) }
    }
}

impl LimitsConfig {
    /// No limits at all (benchmarks).
    pub fn unlimited() -> Self {
        LimitsConfig { books_per_minute: None, books_per_day: None, crm_credits_per_day: None, crm_concurrency: None }
    }
}
