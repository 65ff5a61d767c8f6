//! The emulator's own control surface under `/__emulator`: what a test or a demo script
//! needs that Zoho does not offer through an API.
//!
//! - `GET  /credentials`        client id/secret, a refresh token, the Books org id
//! - `POST /grant_codes`        a self-client grant code for the authorization_code grant
//! - `GET|POST /clock`          read or move the emulated clock
//! - `GET|PUT /state`           snapshot / restore everything
//! - `GET|PUT /faults`          fault injection rules
//! - `GET|PUT /limits`          rate limits and current use (PUT changes the named ones);
//!   `config` holds exactly the limits enforced (`null`: off), named as the client's
//!   `BudgetConfig` names them (Books concurrency is never enforced, so it is absent)
//! - `GET|DELETE /webhooks/log` outgoing webhooks and callbacks
//! - `GET|POST /books/webhooks`, `DELETE /books/webhooks/{id}`  Books webhook setup
//! - `GET|DELETE /stats`        calls per caller, API, method and route ([`crate::stats`])

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    accounts::FULL_SCOPE,
    clock::parse_datetime,
    config::LimitsConfig,
    faults::FaultConfig,
    state::{AppState, World},
    webhooks::BooksWebhook,
};

/// The `/__emulator` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/credentials", get(credentials))
        .route("/grant_codes", post(grant_code))
        .route("/clock", get(clock).post(move_clock))
        .route("/state", get(snapshot).put(restore))
        .route("/faults", get(faults).put(set_faults))
        .route("/limits", get(limits).put(set_limits))
        .route("/webhooks/log", get(webhook_log).delete(clear_webhook_log))
        .route("/books/webhooks", get(books_webhooks).post(add_books_webhook))
        .route("/books/webhooks/{id}", delete(remove_books_webhook))
        .merge(crate::stats::router())
}

/// A 400 for a malformed control request, naming what was wrong.
fn bad_request(what: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": what.to_string() }))).into_response()
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

async fn credentials(State(state): State<AppState>) -> Response {
    let world = state.world();
    let Some((client, refresh)) = world.accounts.primary() else {
        return bad_request("no client is registered");
    };
    let base = state.base_url();
    Json(json!({
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": refresh,
        "organization_id": crate::books::default_organization_id(&world.books),
        "accounts_url": base,
        "api_domain": base,
        "scope": FULL_SCOPE,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    valid_secs: Option<i64>,
}

async fn grant_code(State(state): State<AppState>, body: Bytes) -> Response {
    let req: GrantRequest = if body.is_empty() {
        GrantRequest { scope: None, valid_secs: None }
    } else {
        match parse(&body) {
            Ok(r) => r,
            Err(e) => return e,
        }
    };
    let now = state.clock.now_ms();
    let scope = req.scope.unwrap_or_else(|| FULL_SCOPE.to_string());
    let code = state.world().accounts.new_grant_code(&scope, now, req.valid_secs.unwrap_or(180));
    match code {
        Some(code) => Json(json!({ "code": code, "scope": scope })).into_response(),
        None => bad_request("no client is registered"),
    }
}

fn clock_json(state: &AppState) -> Value {
    let now = state.clock.now();
    json!({
        "now": now.to_string(),
        "crm": state.clock.crm_datetime(now),
        "books": state.clock.books_datetime(now),
        "date": state.clock.date(now),
        "offset_ms": state.clock.offset_ms(),
    })
}

async fn clock(State(state): State<AppState>) -> Json<Value> {
    Json(clock_json(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    #[serde(default)]
    advance_secs: Option<i64>,
    #[serde(default)]
    advance_days: Option<i64>,
    #[serde(default)]
    set: Option<String>,
}

async fn move_clock(State(state): State<AppState>, body: Bytes) -> Response {
    let m: ClockMove = match parse(&body) {
        Ok(m) => m,
        Err(e) => return e,
    };
    match (m.advance_secs, m.advance_days, m.set) {
        (Some(s), None, None) => state.clock.advance_ms(s * 1000),
        (None, Some(d), None) => state.clock.advance_ms(d * 86_400_000),
        (None, None, Some(at)) => match parse_datetime(&at) {
            Some(ts) => state.clock.set(ts),
            None => return bad_request(format!("`set`: {at:?} is not an RFC 3339 date-time")),
        },
        _ => return bad_request("give exactly one of `advance_secs`, `advance_days` or `set`"),
    }
    crate::tick(&state);
    Json(clock_json(&state)).into_response()
}

async fn snapshot(State(state): State<AppState>) -> Response {
    let mut world = state.world();
    world.clock_offset_ms = state.clock.offset_ms();
    Json(&*world).into_response()
}

async fn restore(State(state): State<AppState>, body: Bytes) -> Response {
    let new: World = match parse(&body) {
        Ok(w) => w,
        Err(e) => return e,
    };
    state.clock.set_offset_ms(new.clock_offset_ms);
    *state.world() = new;
    state.limiter.reset();
    Json(json!({ "restored": true })).into_response()
}

async fn faults(State(state): State<AppState>) -> Json<FaultConfig> {
    Json(state.faults.config())
}

async fn set_faults(State(state): State<AppState>, body: Bytes) -> Response {
    match parse::<FaultConfig>(&body) {
        Ok(config) => {
            state.faults.set(config.clone(), state.config.seed);
            Json(config).into_response()
        }
        Err(e) => e,
    }
}

async fn limits(State(state): State<AppState>) -> Response {
    Json(state.limiter.usage(state.clock.now_ms())).into_response()
}

/// Changes only the limits named in the body; `null` switches one off.
async fn set_limits(State(state): State<AppState>, body: Bytes) -> Response {
    let changes: serde_json::Map<String, Value> = match parse(&body) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut merged = match serde_json::to_value(state.limiter.usage(state.clock.now_ms()).config) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    merged.extend(changes);
    match serde_json::from_value::<LimitsConfig>(Value::Object(merged)) {
        Ok(config) => {
            state.limiter.set_config(config);
            Json(state.limiter.usage(state.clock.now_ms())).into_response()
        }
        Err(e) => bad_request(format!("invalid limits: {e}")),
    }
}

async fn webhook_log(State(state): State<AppState>) -> Response {
    Json(state.outbox.log()).into_response()
}

async fn clear_webhook_log(State(state): State<AppState>) -> StatusCode {
    state.outbox.clear_log();
    StatusCode::NO_CONTENT
}

async fn books_webhooks(State(state): State<AppState>) -> Response {
    Json(json!({ "webhooks": state.world().books_webhooks })).into_response()
}

async fn add_books_webhook(State(state): State<AppState>, body: Bytes) -> Response {
    let mut hook: BooksWebhook = match parse(&body) {
        Ok(h) => h,
        Err(e) => return e,
    };
    if url::Url::parse(&hook.url).is_err() {
        return bad_request(format!("`url`: {:?} is not an absolute URL", hook.url));
    }
    let mut world = state.world();
    if hook.organization_id.is_empty() {
        hook.organization_id = crate::books::default_organization_id(&world.books);
    }
    hook.webhook_id = format!("{}", 460_000_000_000_000u64 + world.books_webhooks.len() as u64 + 1);
    world.books_webhooks.push(hook.clone());
    (StatusCode::CREATED, Json(json!({ "webhook": hook }))).into_response()
}

async fn remove_books_webhook(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let mut world = state.world();
    let before = world.books_webhooks.len();
    world.books_webhooks.retain(|h| h.webhook_id != id);
    if world.books_webhooks.len() == before {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": format!("no webhook {id}") }))).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}
