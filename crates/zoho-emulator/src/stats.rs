//! Request counters: how many calls each caller made to each API route, and how they
//! were answered, at `GET /__emulator/stats` (`DELETE` clears them).
//!
//! Zoho shows nothing like it through an API; the emulator keeps it so a benchmark can
//! say how many Zoho calls the engine spent per record (CRM reads, Books reads, Books
//! writes) without making calls of its own that would count against the engine's
//! budget. A call is keyed by its caller (the `User-Agent` header, so a harness creating
//! test data under its own name is told apart from the engine), the API (`accounts`,
//! `crm`, `books`), the method and the route pattern (`/books/v3/items/{id}`, never the
//! ids themselves, so the table stays small). Every call is counted, including the ones
//! refused by authentication, the rate limits or fault injection, with the class of its
//! answer and the time the emulator spent on it (injected latency included).
//!
//! The middleware sits outermost on the API routers, so it adds one short lock per call
//! and nothing to the control surface.

use std::{collections::BTreeMap, sync::Mutex, time::Instant};

use axum::{
    Json, Router,
    extract::{MatchedPath, OriginalUri, Request, State},
    http::{StatusCode, header::USER_AGENT},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use serde_json::json;

use crate::state::AppState;

/// Longest caller name kept (a `User-Agent` can be long).
const MAX_CALLER: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    caller: String,
    api: &'static str,
    method: String,
    route: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    calls: u64,
    ok: u64,
    client_errors: u64,
    rate_limited: u64,
    server_errors: u64,
    total_us: u64,
}

/// One row of `GET /__emulator/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StatsRow {
    /// The `User-Agent` of the calls (`-` when none).
    pub caller: String,
    /// `accounts`, `crm` or `books`.
    pub api: String,
    /// HTTP method.
    pub method: String,
    /// Route pattern with the API prefix (`/crm/v8/{module}/{id}`), `(no route)` when
    /// nothing matched.
    pub route: String,
    /// Calls made.
    pub calls: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Answered 4xx other than 429.
    pub client_errors: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered 5xx, or dropped by fault injection.
    pub server_errors: u64,
    /// Time the emulator spent on them, milliseconds (injected latency included).
    pub total_ms: f64,
}

/// The counters, shared by every handler.
#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<Key, Counts>>,
}

impl Stats {
    /// Empty counters.
    pub fn new() -> Stats {
        Stats::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Counts>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, key: Key, status: StatusCode, elapsed_us: u64) {
        let mut counts = self.lock();
        let c = counts.entry(key).or_default();
        c.calls += 1;
        c.total_us += elapsed_us;
        match status.as_u16() {
            200..=299 => c.ok += 1,
            429 => c.rate_limited += 1,
            400..=499 => c.client_errors += 1,
            500..=599 => c.server_errors += 1,
            _ => {}
        }
    }

    /// Every row, sorted by caller, API, method and route.
    pub fn rows(&self) -> Vec<StatsRow> {
        self.lock()
            .iter()
            .map(|(k, c)| StatsRow {
                caller: k.caller.clone(),
                api: k.api.to_string(),
                method: k.method.clone(),
                route: k.route.clone(),
                calls: c.calls,
                ok: c.ok,
                client_errors: c.client_errors,
                rate_limited: c.rate_limited,
                server_errors: c.server_errors,
                total_ms: c.total_us as f64 / 1000.0,
            })
            .collect()
    }

    /// Forgets every count.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Middleware counting the calls of one API (`api`: `accounts`, `crm`, `books`).
pub async fn layer(State((state, api)): State<(AppState, &'static str)>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let caller =
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(MAX_CALLER).collect::<String>()).unwrap_or_else(|| "-".into());
    // Inside a nested router the matched path lacks the `/crm/v8` or `/books/v3` prefix;
    // the original URI says which prefix it was.
    let route = match req.extensions().get::<MatchedPath>() {
        Some(m) => {
            let path = m.as_str();
            let prefix = req
                .extensions()
                .get::<OriginalUri>()
                .map(|u| u.path().to_string())
                .and_then(|full| ["/crm/v8", "/books/v3"].into_iter().find(|p| full.starts_with(p) && !path.starts_with(p)))
                .unwrap_or("");
            format!("{prefix}{path}")
        }
        None => "(no route)".to_string(),
    };
    let method = req.method().as_str().to_string();
    let resp = next.run(req).await;
    // A fault-injected dropped connection still answers 200 here with a failing body;
    // it is counted as what the handler answered.
    let elapsed = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
    state.stats.count(Key { caller, api, method, route }, resp.status(), elapsed);
    resp
}

/// `GET /stats` and `DELETE /stats`, mounted under `/__emulator`.
pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(read).delete(clear))
}

async fn read(State(state): State<AppState>) -> Response {
    Json(json!({ "stats": state.stats.rows() })).into_response()
}

async fn clear(State(state): State<AppState>) -> StatusCode {
    state.stats.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::{Emulator, EmulatorConfig, testkit};

    fn row<'a>(rows: &'a [StatsRow], caller: &str, method: &str, route: &str) -> Option<&'a StatsRow> {
        rows.iter().find(|r| r.caller == caller && r.method == method && r.route == route)
    }

    #[tokio::test]
    async fn counts_calls_by_caller_api_method_and_route_pattern() {
        let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
        let http = reqwest::Client::builder().user_agent("stats-test/1").build().unwrap();
        let (creds, access) = testkit::login(&http, &emu.url()).await.unwrap();
        let auth = testkit::auth_header(&access);
        let org = &creds.organization_id;
        for _ in 0..2 {
            let r = http.get(format!("{}/books/v3/items?organization_id={org}", emu.url())).header("authorization", &auth).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = http.get(format!("{}/books/v3/items/1?organization_id={org}", emu.url())).header("authorization", &auth).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let r = http.get(format!("{}/crm/v8/Products?fields=Product_Name", emu.url())).header("authorization", &auth).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        // No token: refused by authentication, counted all the same.
        let r = reqwest::Client::new().get(format!("{}/crm/v8/Products/42", emu.url())).send().await.unwrap();
        assert_eq!(r.status(), 401);

        let body: Value = http.get(format!("{}/__emulator/stats", emu.url())).send().await.unwrap().json().await.unwrap();
        let rows: Vec<StatsRow> = serde_json::from_value(body["stats"].clone()).unwrap();
        let caller = "stats-test/1";
        let list = row(&rows, caller, "GET", "/books/v3/items").expect("items list");
        assert_eq!((list.api.as_str(), list.calls, list.ok), ("books", 2, 2));
        let one = row(&rows, caller, "GET", "/books/v3/items/{id}").expect("item read");
        assert_eq!((one.calls, one.client_errors), (1, 1));
        assert_eq!(row(&rows, caller, "GET", "/crm/v8/{module}").map(|r| (r.api.as_str(), r.ok)), Some(("crm", 1)));
        assert_eq!(row(&rows, caller, "POST", "/oauth/v2/token").map(|r| (r.api.as_str(), r.calls)), Some(("accounts", 1)));
        let refused = rows.iter().find(|r| r.caller != caller && r.api == "crm").expect("unauthenticated call");
        assert_eq!((refused.route.as_str(), refused.client_errors), ("/crm/v8/{module}/{id}", 1));
        // The control surface is not counted.
        assert!(rows.iter().all(|r| !r.route.starts_with("/__emulator")), "{rows:?}");

        let r = http.delete(format!("{}/__emulator/stats", emu.url())).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert!(emu.state().stats.rows().is_empty());
        emu.stop().await;
    }
}
