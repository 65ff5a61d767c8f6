//! Small helpers every CRM handler uses to read a request and shape an answer.
//!
//! Query strings and bodies are parsed by hand rather than with axum's extractors, so a
//! bad parameter or malformed JSON gets Zoho's JSON error instead of axum's plain text.

use std::collections::HashMap;

use axum::{
    Json,
    body::Body,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{crm::schema, errors::crm_error};

/// Query parameters by name (the last value wins).
pub type Params = HashMap<String, String>;

/// Parses a raw query string.
pub fn params(raw: Option<&str>) -> Params {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// An empty answer (204, 304).
pub fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

/// The module named in the path, or Zoho's `INVALID_MODULE`.
pub fn module(name: &str) -> Result<&'static schema::Module, Response> {
    schema::module(name)
        .ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "The module name given seems to be invalid", json!({"resource_path_index": 0})))
}

/// Parses a JSON body; malformed JSON is answered with `INVALID_DATA` "body".
pub fn body(bytes: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(bytes).ok().filter(Value::is_object).ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "body", json!({})))
}

/// `REQUIRED_PARAM_MISSING` for a query parameter.
pub fn required_param(name: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({"param_name": name, "param": name}))
}

/// A query parameter that must be one of `allowed` (as the spec's enum says), if given.
/// Each endpoint's spec documents a different error for a bad value, so the caller
/// builds it with `refuse`.
pub fn enum_param<'a>(params: &'a Params, name: &str, allowed: &[&str], refuse: impl FnOnce(&str) -> Response) -> Result<Option<&'a str>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v.as_str())),
        Some(_) => Err(refuse(name)),
    }
}

/// `INVALID_DATA` for a query parameter with a bad value.
pub fn invalid_param(name: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": name}))
}

/// An integer query parameter within `lo..=hi`, `default` when absent.
pub fn int_param(params: &Params, name: &str, default: i64, lo: i64, hi: i64) -> Result<i64, Response> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(invalid_param(name)),
        },
    }
}

/// A header parsed as a date-time (If-Modified-Since / If-Unmodified-Since), in ms.
pub fn time_header(headers: &HeaderMap, name: &str) -> Result<Option<i64>, Response> {
    let Some(raw) = headers.get(name) else { return Ok(None) };
    let text = raw.to_str().unwrap_or("");
    crate::clock::parse_datetime(text.trim())
        .map(|ts| Some(ts.as_millisecond()))
        .ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": name})))
}

/// A `200` list answer `{"data": rows, "info": info}`. Builds the envelope by moving the
/// rows in (`json!` would serialise a copy of every row first).
pub fn page(rows: Vec<Value>, info: Value) -> Response {
    let mut body = serde_json::Map::with_capacity(2);
    body.insert("data".into(), Value::Array(rows));
    body.insert("info".into(), info);
    json(StatusCode::OK, Value::Object(body))
}

/// Keeps only `id` and the requested fields of a record's JSON.
pub fn project(fields: &serde_json::Map<String, Value>, wanted: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(id) = fields.get("id") {
        out.insert("id".into(), id.clone());
    }
    for name in wanted {
        if name == "id" {
            continue;
        }
        if let Some(v) = fields.get(name) {
            out.insert(name.clone(), v.clone());
        } else {
            out.insert(name.clone(), Value::Null);
        }
        if name == "What_Id"
            && let Some(se) = fields.get("$se_module")
        {
            out.insert("$se_module".into(), se.clone());
        }
    }
    Value::Object(out)
}
