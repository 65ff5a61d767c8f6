//! Zoho CRM v8 under `/crm/v8`.
//!
//! The files here split the API by concept: `store` (records and indexes), `schema`
//! (modules and fields), `list` / `write` (records endpoints), `values` / `money`
//! (validation and quote arithmetic), `search` / `criteria`, `notifications`,
//! `metadata`, `fields` (custom fields users create), `related` / `relations` (related lists), `seed`, and `coql` / `coql_parser` (COQL queries).

pub mod coql;
pub mod coql_parser;
pub mod criteria;
pub mod fields;
pub mod list;
pub mod metadata;
pub mod money;
pub mod notifications;
pub mod related;
pub mod relations;
pub mod reply;
pub mod schema;
pub mod search;
pub mod seed;
pub mod store;
pub mod values;
pub mod write;

use axum::{
    Router,
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
use serde_json::json;

use crate::{clock::Clock, errors::crm_error, rng::Rng, state::AppState};

pub use store::CrmData;

/// Creates the org, its users, currencies and field metadata (always present).
pub fn bootstrap(data: &mut CrmData, seed: u64, clock: &Clock) {
    seed::bootstrap(data, seed, clock);
}

/// Adds demo records.
pub fn seed(data: &mut CrmData, rng: &mut Rng, clock: &Clock) {
    seed::records(data, rng, clock);
}

/// Renders a time in ms as CRM's date-time.
pub fn render_ms(clock: &Clock, ms: i64) -> String {
    clock.crm_datetime(jiff::Timestamp::from_millisecond(ms).unwrap_or_default())
}

async fn no_route() -> Response {
    crm_error(StatusCode::NOT_FOUND, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", json!({}))
}

async fn bad_method() -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", json!({}))
}

/// The `/crm/v8` routes (mounted behind auth and limits).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/org", get(metadata::org))
        .route("/org/currencies", get(metadata::currencies))
        .route("/users", get(metadata::users))
        .route("/settings/fields", get(metadata::fields).post(fields::create))
        .route("/settings/fields/{id}", get(fields::get_one).delete(fields::delete))
        .route("/settings/modules", get(metadata::modules))
        .route("/settings/modules/{api_name}", get(metadata::module))
        .route("/settings/related_lists", get(metadata::related_lists))
        .route(
            "/actions/watch",
            get(notifications::list).post(notifications::enable).put(notifications::replace).patch(notifications::patch).delete(notifications::disable),
        )
        .route("/coql", post(coql::query))
        .route("/{module}", get(list::list).post(write::insert).put(write::update).delete(write::delete_many))
        .route("/{module}/upsert", post(write::upsert))
        .route("/{module}/deleted", get(list::deleted))
        .route("/{module}/search", get(search::search))
        .route("/{module}/actions/count", get(list::count))
        .route("/{module}/{id}", get(list::get_one).put(write::update_one).delete(write::delete_one))
        .route("/{module}/{id}/{related}", get(related::list).put(related::relate))
        .fallback(no_route)
        .method_not_allowed_fallback(bad_method)
}

/// Called every second and whenever the clock moves: expires notification channels.
pub fn tick(state: &AppState) {
    let now = state.clock.now_ms();
    notifications::expire(&mut state.world().crm, now);
}
