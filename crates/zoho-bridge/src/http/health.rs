//! `/healthz` and `/readyz`: whether the process is up, and whether it can do its work.
//!
//! `/healthz` answers 200 `{"status":"ok"}` while the process serves HTTP at all.
//! `/readyz` answers 200 when the store answers a read and the Zoho client holds (or can
//! obtain) a valid access token, else 503 naming what is not ready, with the reason:
//!
//! ```json
//! {"status":"not_ready","not_ready":["zoho_token"],
//!  "checks":{"store":{"ok":true},"zoho_token":{"ok":false,"error":"OAuth token request refused: invalid_code"}}}
//! ```
//!
//! The token is checked through the client's own token path, so a check needs no Zoho
//! call while the token is good, and no token or secret ever shows (the client's
//! errors carry none). After a failed check the failure is answered again for
//! [`TOKEN_RECHECK_AFTER`] without asking Zoho: Zoho allows few token requests per
//! refresh token, and a probe asking every few seconds would use them up.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use bridge::store::Store;
use serde_json::{Value, json};

use super::Operations;

/// How long a failed token check is answered again without asking Zoho.
pub const TOKEN_RECHECK_AFTER: Duration = Duration::from_secs(30);

/// The longest a check waits (for the store, or for a token).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the checks share between requests.
#[derive(Clone)]
struct Health {
    operations: Operations,
    /// The last failed token check: when, and why.
    token_failure: Arc<Mutex<Option<(Instant, String)>>>,
}

/// `GET /healthz` and `GET /readyz`.
pub fn router(operations: Operations) -> Router {
    let health = Health { operations, token_failure: Arc::new(Mutex::new(None)) };
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(health)
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The store and the Zoho token, each with its reason when not ready.
async fn readyz(State(health): State<Health>) -> Response {
    let (store, token) = tokio::join!(check_store(&health.operations), health.check_token());
    let checks = [("store", store), ("zoho_token", token)];
    let not_ready: Vec<&str> = checks.iter().filter(|(_, c)| c.is_err()).map(|(name, _)| *name).collect();
    let checks: serde_json::Map<String, Value> = checks
        .into_iter()
        .map(|(name, check)| {
            let answer = match check {
                Ok(()) => json!({"ok": true}),
                Err(error) => json!({"ok": false, "error": error}),
            };
            (name.to_string(), answer)
        })
        .collect();
    if not_ready.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ready", "checks": checks}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "not_ready", "not_ready": not_ready, "checks": checks}))).into_response()
    }
}

/// One read by primary key: the cheapest question that still goes to the database.
async fn check_store(operations: &Operations) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, operations.store.job(0)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("the store did not answer a read: {e}")),
        Err(_) => Err(format!("the store did not answer a read within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

impl Health {
    /// A valid access token: the client's cached one, or a fresh one from Zoho (unless a
    /// check failed less than [`TOKEN_RECHECK_AFTER`] ago: then that failure).
    async fn check_token(&self) -> Result<(), String> {
        if let Some((at, error)) = self.token_failure.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < TOKEN_RECHECK_AFTER
        {
            return Err(error.clone());
        }
        let answer = match tokio::time::timeout(CHECK_TIMEOUT, self.operations.client.transport().access_token()).await {
            Ok(Ok(_token)) => Ok(()),
            Ok(Err(e)) => Err(format!("no valid Zoho access token: {e}")),
            Err(_) => Err(format!("no Zoho access token within {} s", CHECK_TIMEOUT.as_secs())),
        };
        *self.token_failure.lock().unwrap_or_else(|e| e.into_inner()) = answer.as_ref().err().map(|e| (Instant::now(), e.clone()));
        answer
    }
}
