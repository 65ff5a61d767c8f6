//! Zoho Books v3 under `/books/v3`.
//!
//! One file per concept: `body` (request parsing and errors), `common` (org lookup,
//! webhooks, paging), `totals` (document arithmetic), `document` (what invoices, estimates
//! and credit notes share), one file per entity, and `seed` (bootstrap and demo data).

mod body;
mod common;
mod contacts;
mod creditnotes;
mod document;
mod estimates;
mod index;
mod invoices;
mod items;
mod payments;
mod pricelists;
mod seed;
mod settings;
pub mod store;
mod taxexemptions;
pub mod totals;

use std::collections::BTreeMap;

use axum::{Router, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{clock::Clock, crm::CrmData, errors::books_error, rng::Rng, state::AppState};

/// Everything the emulated Books stores: organisations by id.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BooksData {
    /// Organisations by id (the first is the default one).
    pub orgs: BTreeMap<String, store::Org>,
}

/// Creates the organisation, currencies, taxes and templates (always present).
pub fn bootstrap(data: &mut BooksData, seed: u64, clock: &Clock) {
    seed::bootstrap(data, seed, clock);
}

/// Adds demo records.
pub fn seed(data: &mut BooksData, rng: &mut Rng, clock: &Clock, crm: &CrmData) {
    seed::seed(data, rng, clock, crm);
}

/// Creates a contact in the default organisation through the API's own code path (used
/// by seed profiles); the error names what Books refused.
pub fn seed_contact(data: &mut BooksData, clock: &Clock, body: &serde_json::Map<String, serde_json::Value>) -> Result<store::Contact, String> {
    let org = data.orgs.values_mut().next().ok_or("no Books organisation")?;
    org.ensure_indexes();
    contacts::create_contact(org, clock, body).map_err(|e| e.message)
}

/// The id of the seeded organisation.
pub fn default_organization_id(data: &BooksData) -> String {
    data.orgs.keys().next().cloned().unwrap_or_default()
}

/// The `/books/v3` routes (mounted behind auth and limits).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(settings::router())
        .merge(taxexemptions::router())
        .merge(contacts::router())
        .merge(items::router())
        .merge(invoices::router())
        .merge(estimates::router())
        .merge(payments::router())
        .merge(creditnotes::router())
        .merge(pricelists::router())
        .fallback(|| async { books_error(StatusCode::NOT_FOUND, 5, "Invalid URL Passed") })
        .method_not_allowed_fallback(|| async { books_error(StatusCode::METHOD_NOT_ALLOWED, 37, "The HTTP method is not allowed for the requested resource") })
}

/// Called every second and whenever the clock moves (invoices going overdue).
pub fn tick(state: &AppState) {
    invoices::tick(state);
}
