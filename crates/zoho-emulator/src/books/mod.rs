//! Zoho Books v3 under `/books/v3`.

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::{clock::Clock, crm::CrmData, rng::Rng, state::AppState};

/// Everything the emulated Books stores.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BooksData {}

/// Creates the organisation, currencies, taxes and templates (always present).
pub fn bootstrap(_data: &mut BooksData, _seed: u64, _clock: &Clock) {}

/// Adds demo records.
pub fn seed(_data: &mut BooksData, _rng: &mut Rng, _clock: &Clock, _crm: &CrmData) {}

/// The id of the seeded organisation.
pub fn default_organization_id(_data: &BooksData) -> String {
    String::new()
}

/// The `/books/v3` routes (mounted behind auth and limits).
pub fn router() -> Router<AppState> {
    Router::new()
}

/// Called every second and whenever the clock moves (invoices going overdue).
pub fn tick(_state: &AppState) {}
