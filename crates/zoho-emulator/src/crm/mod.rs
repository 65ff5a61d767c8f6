//! Zoho CRM v8 under `/crm/v8`.

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::{clock::Clock, rng::Rng, state::AppState};

/// Everything the emulated CRM stores.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CrmData {}

/// Creates the org, its users, currencies and field metadata (always present).
pub fn bootstrap(_data: &mut CrmData, _seed: u64, _clock: &Clock) {}

/// Adds demo records.
pub fn seed(_data: &mut CrmData, _rng: &mut Rng, _clock: &Clock) {}

/// The `/crm/v8` routes (mounted behind auth and limits).
pub fn router() -> Router<AppState> {
    Router::new()
}

/// Called every second and whenever the clock moves.
pub fn tick(_state: &AppState) {}
