//! Zoho's request budgets, enforced the way Zoho enforces them.
//!
//! - Books: requests per minute per organisation and per day per organisation. Every
//!   Books answer carries `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and
//!   `X-Rate-Limit-Reset` (seconds until the minute window resets); over budget → HTTP 429
//!   with Books' `{"code":…,"message":…}` body.
//! - CRM: API credits over a rolling 24 hours, and calls in flight at once; over either →
//!   HTTP 429 `TOO_MANY_REQUESTS`.
//!
//! Windows follow the emulator's clock, so a test can spend a budget and then jump ahead.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use serde::Serialize;
use serde_json::json;

use crate::{
    config::LimitsConfig,
    errors::{books_error, crm_error},
    state::AppState,
};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Books code for "too many requests per minute" (Zoho's number is not published; 44 is
/// what clients in the wild report for throttling).
pub const BOOKS_MINUTE_CODE: i64 = 44;
/// Books code for "daily quota used up".
pub const BOOKS_DAY_CODE: i64 = 45;

#[derive(Debug, Default, Clone, Serialize)]
struct OrgWindow {
    minute: i64,
    minute_count: u32,
    day: i64,
    day_count: u32,
    rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    books: HashMap<String, OrgWindow>,
    /// (minute index, credits spent in it), oldest first, covering the last 24 h.
    crm_credits: VecDeque<(i64, u64)>,
    crm_rejected: u64,
}

/// The shared limiter.
#[derive(Debug)]
pub struct Limiter {
    config: Mutex<LimitsConfig>,
    counters: Mutex<Counters>,
    crm_in_flight: AtomicU32,
}

/// A snapshot of budget use, served at `GET /__emulator/limits`.
#[derive(Debug, Serialize)]
pub struct Usage {
    /// The limits in force.
    pub config: LimitsConfig,
    /// Books use per organisation in the current minute and day.
    pub books: HashMap<String, serde_json::Value>,
    /// CRM credits spent in the last 24 h.
    pub crm_credits_used: u64,
    /// CRM requests refused with 429.
    pub crm_rejected: u64,
    /// CRM calls in flight now.
    pub crm_in_flight: u32,
}

impl Limiter {
    /// A limiter with these limits.
    pub fn new(config: LimitsConfig) -> Self {
        Limiter { config: Mutex::new(config), counters: Mutex::new(Counters::default()), crm_in_flight: AtomicU32::new(0) }
    }

    /// Replaces the limits (counters are kept).
    pub fn set_config(&self, config: LimitsConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn config(&self) -> LimitsConfig {
        self.config.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every count (used when state is restored).
    pub fn reset(&self) {
        *self.counters() = Counters::default();
    }

    /// Current use of every budget.
    pub fn usage(&self, now_ms: i64) -> Usage {
        let mut counters = self.counters();
        prune_credits(&mut counters.crm_credits, now_ms);
        let books = counters
            .books
            .iter()
            .map(|(org, w)| {
                let current_minute = w.minute == now_ms.div_euclid(MINUTE_MS);
                let current_day = w.day == now_ms.div_euclid(DAY_MS);
                (
                    org.clone(),
                    json!({
                        "minute_used": if current_minute { w.minute_count } else { 0 },
                        "day_used": if current_day { w.day_count } else { 0 },
                        "rejected": w.rejected,
                    }),
                )
            })
            .collect();
        Usage {
            config: self.config(),
            books,
            crm_credits_used: counters.crm_credits.iter().map(|(_, c)| c).sum(),
            crm_rejected: counters.crm_rejected,
            crm_in_flight: self.crm_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Counts one Books request for `org`; `Err` carries the 429 to answer.
    fn books_admit(&self, org: &str, now_ms: i64) -> Result<Option<(u32, u32, i64)>, Response> {
        let config = self.config();
        if config.books_per_minute.is_none() && config.books_per_day.is_none() {
            return Ok(None);
        }
        let minute = now_ms.div_euclid(MINUTE_MS);
        let day = now_ms.div_euclid(DAY_MS);
        let reset_secs = ((minute + 1) * MINUTE_MS - now_ms + 999) / 1000;
        let mut counters = self.counters();
        let w = counters.books.entry(org.to_string()).or_default();
        if w.minute != minute {
            w.minute = minute;
            w.minute_count = 0;
        }
        if w.day != day {
            w.day = day;
            w.day_count = 0;
        }
        let per_minute = config.books_per_minute.unwrap_or(u32::MAX);
        if let Some(per_day) = config.books_per_day
            && w.day_count >= per_day
        {
            w.rejected += 1;
            let day_reset = ((day + 1) * DAY_MS - now_ms + 999) / 1000;
            let mut resp = books_error(
                StatusCode::TOO_MANY_REQUESTS,
                BOOKS_DAY_CODE,
                "You have reached the maximum number of API requests allowed per day for your organization.",
            );
            rate_headers(&mut resp, per_day, 0, day_reset);
            return Err(resp);
        }
        if w.minute_count >= per_minute {
            w.rejected += 1;
            let mut resp = books_error(
                StatusCode::TOO_MANY_REQUESTS,
                BOOKS_MINUTE_CODE,
                "You have made too many requests continuously. Please try again after some time.",
            );
            rate_headers(&mut resp, per_minute, 0, reset_secs);
            return Err(resp);
        }
        w.minute_count += 1;
        w.day_count += 1;
        Ok(Some((per_minute, per_minute.saturating_sub(w.minute_count), reset_secs)))
    }

    /// Spends CRM credits; `false` when the 24 h budget is used up.
    pub fn crm_spend(&self, credits: u64, now_ms: i64) -> bool {
        let Some(budget) = self.config().crm_credits_per_day else {
            return true;
        };
        let mut counters = self.counters();
        prune_credits(&mut counters.crm_credits, now_ms);
        let used: u64 = counters.crm_credits.iter().map(|(_, c)| c).sum();
        if used + credits > budget {
            counters.crm_rejected += 1;
            return false;
        }
        let minute = now_ms.div_euclid(MINUTE_MS);
        match counters.crm_credits.back_mut() {
            Some((m, c)) if *m == minute => *c += credits,
            _ => counters.crm_credits.push_back((minute, credits)),
        }
        true
    }
}

fn prune_credits(credits: &mut VecDeque<(i64, u64)>, now_ms: i64) {
    let oldest = (now_ms - DAY_MS).div_euclid(MINUTE_MS);
    while credits.front().is_some_and(|(m, _)| *m <= oldest) {
        credits.pop_front();
    }
}

fn rate_headers(resp: &mut Response, limit: u32, remaining: u32, reset_secs: i64) {
    let h = resp.headers_mut();
    h.insert("X-Rate-Limit-Limit", HeaderValue::from(limit));
    h.insert("X-Rate-Limit-Remaining", HeaderValue::from(remaining));
    h.insert("X-Rate-Limit-Reset", HeaderValue::from(reset_secs.max(0)));
}

/// The `organization_id` query parameter, if present.
fn organization_id(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "organization_id").map(|(_, v)| v.into_owned())
}

/// Middleware for `/books/v3`.
pub async fn books(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(org) = organization_id(&req) else {
        return next.run(req).await;
    };
    match state.limiter.books_admit(&org, state.clock.now_ms()) {
        Err(resp) => resp,
        Ok(None) => next.run(req).await,
        Ok(Some((limit, remaining, reset))) => {
            let mut resp = next.run(req).await;
            rate_headers(&mut resp, limit, remaining, reset);
            resp
        }
    }
}

struct InFlight<'a>(&'a AtomicU32);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Middleware for `/crm/v8`.
pub async fn crm(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = state.limiter.config();
    let too_many = |message: &str| crm_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message, json!({}));
    let counter = &state.limiter.crm_in_flight;
    let in_flight = counter.fetch_add(1, Ordering::AcqRel) + 1;
    let guard = InFlight(counter);
    if limits.crm_concurrency.is_some_and(|max| in_flight > max) {
        state.limiter.counters().crm_rejected += 1;
        return too_many("The concurrency limit for your account has been exceeded. Please try again after some time.");
    }
    if !state.limiter.crm_spend(1, state.clock.now_ms()) {
        return too_many("You have exceeded the maximum number of API credits allowed for your account in 24 hours.");
    }
    let resp = next.run(req).await;
    drop(guard);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_minute_budget_then_reset() {
        let l = Limiter::new(LimitsConfig { books_per_minute: Some(3), ..LimitsConfig::unlimited() });
        for _ in 0..3 {
            assert!(l.books_admit("1", 1_000).is_ok());
        }
        let refused = l.books_admit("1", 2_000).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["X-Rate-Limit-Reset"], "58");
        assert!(l.books_admit("2", 2_000).is_ok(), "budgets are per organisation");
        assert!(l.books_admit("1", 61_000).is_ok(), "a new minute resets the budget");
    }

    #[test]
    fn crm_credits_roll_over_24_hours() {
        let l = Limiter::new(LimitsConfig { crm_credits_per_day: Some(2), ..LimitsConfig::unlimited() });
        assert!(l.crm_spend(1, 0));
        assert!(l.crm_spend(1, 60_000));
        assert!(!l.crm_spend(1, 120_000));
        assert!(l.crm_spend(1, DAY_MS + 1), "the first credit has rolled out of the window");
    }
}
