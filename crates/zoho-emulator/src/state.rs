//! The emulator's shared state: the world of records plus the machinery around it.
//!
//! `World` is plain data (serialisable, so `GET/PUT /__emulator/state` and `--state FILE`
//! can snapshot and restore everything). `AppState` is what handlers receive: the world
//! behind a mutex, the clock, the limiter, the fault dice and the webhook outbox.
//! Handlers lock the world briefly and never hold the lock across an `.await`.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde::{Deserialize, Serialize};

use crate::{
    accounts::AccountsData, books::BooksData, clock::Clock, config::EmulatorConfig, crm::CrmData, faults::Faults, limits::Limiter, stats::Stats,
    webhooks::Outbox,
};

/// Everything Zoho would store, as plain data.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct World {
    /// OAuth clients, refresh tokens, access tokens, grant codes.
    pub accounts: AccountsData,
    /// CRM org, users, modules and records.
    pub crm: CrmData,
    /// Books organisations and their entities.
    pub books: BooksData,
    /// Books webhooks registered through `/__emulator/books/webhooks`.
    pub books_webhooks: Vec<crate::webhooks::BooksWebhook>,
    /// Offset of the emulated clock from real time, ms (restored with the snapshot).
    pub clock_offset_ms: i64,
}

/// Cheap to clone; every handler gets one.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The configuration the emulator was started with (faults can be changed at run time).
    pub config: EmulatorConfig,
    /// The data.
    pub world: Mutex<World>,
    /// The adjustable clock.
    pub clock: Clock,
    /// Rate limits and quotas.
    pub limiter: Limiter,
    /// Fault injection.
    pub faults: Faults,
    /// Outgoing webhooks and notification callbacks.
    pub outbox: Outbox,
    /// Calls per caller, API, method and route (`/__emulator/stats`).
    pub stats: Stats,
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: OnceLock<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state around an existing world.
    pub fn new(config: EmulatorConfig, world: World) -> Self {
        let clock = Clock::new(config.utc_offset_minutes);
        clock.set_offset_ms(world.clock_offset_ms);
        let limiter = Limiter::new(config.limits.clone());
        let faults = Faults::new(config.faults.clone(), config.seed);
        AppState(Arc::new(Inner {
            config,
            world: Mutex::new(world),
            clock,
            limiter,
            faults,
            outbox: Outbox::new(),
            stats: Stats::new(),
            base_url: OnceLock::new(),
        }))
    }

    /// Locks the world. A poisoned lock (a panic elsewhere) is recovered: the data is
    /// still consistent because every mutation is a few plain assignments.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The base URL clients use (the emulator plays every Zoho host at once).
    pub fn base_url(&self) -> String {
        self.base_url.get().cloned().unwrap_or_else(|| "http://127.0.0.1".to_string())
    }
}
