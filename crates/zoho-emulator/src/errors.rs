//! Zoho's two error shapes, built in one place.
//!
//! CRM answers `{"code":"INVALID_DATA","details":{...},"message":"...","status":"error"}`
//! with a string code; Books answers `{"code":1002,"message":"..."}` with a number. Every
//! handler, middleware and extractor in the emulator goes through these helpers so that a
//! client never sees an axum default error or a bare 500.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// A CRM request-level error (no `data` wrapper).
pub fn crm_error(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    (status, Json(json!({"code": code, "details": details, "message": message, "status": "error"}))).into_response()
}

/// A Books error: numeric `code` and `message`.
pub fn books_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}
