//! Request parsing for Books: the JSON body or the legacy `JSONString` form field, the
//! query string, and the numeric `{"code","message"}` errors every failure becomes.
//!
//! Handlers read fields through the accessors here so that a wrong type, a missing
//! mandatory field or malformed JSON always yields Books' error envelope naming the field,
//! never an axum plain-text rejection or a panic.

use std::str::FromStr;

use axum::{
    Json,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::totals::Discount;
use crate::errors::books_error;

/// Code for malformed JSON.
pub const MALFORMED_JSON: i64 = 1038;
/// Code for a missing or invalid field value.
pub const INVALID_VALUE: i64 = 4;
/// Code for a missing `organization_id`.
pub const MISSING_ORG: i64 = 2;
/// Code for an unknown id.
pub const NOT_FOUND: i64 = 1002;
/// Code for a value that must be unique and is not.
pub const DUPLICATE: i64 = 1001;
/// Code for an operation the record's state does not allow.
pub const NOT_ALLOWED: i64 = 1040;

/// A Books failure: HTTP status, numeric code, message.
#[derive(Debug, Clone, PartialEq)]
pub struct BooksError {
    /// HTTP status.
    pub status: StatusCode,
    /// Books' numeric code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
}

impl BooksError {
    /// A 400 with `code`.
    pub fn bad(code: i64, message: impl Into<String>) -> Self {
        BooksError { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }

    /// `Invalid value passed for <field>` (code 4, HTTP 400).
    pub fn invalid(field: &str) -> Self {
        Self::bad(INVALID_VALUE, format!("Invalid value passed for {field}"))
    }

    /// A mandatory field is absent (code 4, HTTP 400).
    pub fn missing(field: &str) -> Self {
        Self::bad(INVALID_VALUE, format!("{field} is mandatory; please provide a value for {field}"))
    }

    /// `<Entity> does not exist.` (code 1002, HTTP 404).
    pub fn not_found(entity: &str) -> Self {
        BooksError { status: StatusCode::NOT_FOUND, code: NOT_FOUND, message: format!("{entity} does not exist.") }
    }

    /// A state transition or deletion the record does not allow (code 1040, HTTP 400).
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::bad(NOT_ALLOWED, message)
    }

    /// A duplicate of a unique value (code 1001, HTTP 400).
    pub fn duplicate(message: impl Into<String>) -> Self {
        Self::bad(DUPLICATE, message)
    }
}

impl IntoResponse for BooksError {
    fn into_response(self) -> Response {
        books_error(self.status, self.code, &self.message)
    }
}

/// What handlers return.
pub type BooksResult = Result<Response, BooksError>;

/// A success envelope: `{"code":0,"message":…, key: value}` with `status`.
pub fn envelope(status: StatusCode, message: &str, key: &str, value: Value) -> Response {
    let mut m = Map::with_capacity(3);
    m.insert("code".into(), Value::from(0));
    m.insert("message".into(), Value::from(message));
    if !key.is_empty() {
        m.insert(key.into(), value);
    }
    (status, Json(Value::Object(m))).into_response()
}

/// `{"code":0,"message":…}` with HTTP 200 (action endpoints).
pub fn done(message: &str) -> Response {
    envelope(StatusCode::OK, message, "", Value::Null)
}

/// The decoded query string.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Decodes `a=1&b=2` (never fails).
    pub fn parse(raw: Option<&str>) -> Self {
        Query(raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default())
    }

    /// The first value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A boolean flag (`true`/`false`), default false.
    pub fn flag(&self, key: &str) -> Result<bool, BooksError> {
        match self.get(key) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    /// A positive integer parameter.
    pub fn number(&self, key: &str) -> Result<Option<u64>, BooksError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| BooksError::invalid(key)),
        }
    }

    /// The mandatory `organization_id`.
    pub fn organization_id(&self) -> Result<&str, BooksError> {
        self.get("organization_id").ok_or_else(|| BooksError::bad(MISSING_ORG, "Invalid value passed for organization_id"))
    }
}

/// Parses a request body: `application/json`, or a form (urlencoded or multipart) with a
/// `JSONString` field. An empty body is an empty object.
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> Result<Map<String, Value>, BooksError> {
    let raw_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let content_type = raw_type.to_ascii_lowercase();
    let text: String = if content_type.starts_with("application/x-www-form-urlencoded") {
        match url::form_urlencoded::parse(bytes).find(|(k, _)| k == "JSONString") {
            Some((_, v)) => v.into_owned(),
            None => return Err(BooksError::missing("JSONString")),
        }
    } else if content_type.starts_with("multipart/form-data") {
        multipart_json_string(raw_type, bytes).ok_or_else(|| BooksError::missing("JSONString"))?
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| BooksError::bad(MALFORMED_JSON, "JSON is not well formed"))?
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(BooksError::bad(MALFORMED_JSON, "JSON is not well formed")),
    }
}

/// The `JSONString` part of a multipart body (a minimal reader: enough for a text field).
fn multipart_json_string(content_type: &str, bytes: &[u8]) -> Option<String> {
    let boundary = content_type.split("boundary=").nth(1)?.split(';').next()?.trim_matches('"');
    let body = String::from_utf8_lossy(bytes);
    let delimiter = format!("--{boundary}");
    body.split(delimiter.as_str()).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        if !head.contains("name=\"JSONString\"") {
            return None;
        }
        Some(value.strip_suffix("\r\n").unwrap_or(value).to_string())
    })
}

/// Typed access to a JSON object's fields, with Books errors naming the field.
pub trait Fields {
    /// A string field; numbers are accepted and rendered (ids are often sent as numbers).
    fn opt_str(&self, key: &str) -> Result<Option<String>, BooksError>;
    /// A mandatory non-empty string field.
    fn req_str(&self, key: &str) -> Result<String, BooksError>;
    /// A number (or a numeric string).
    fn opt_decimal(&self, key: &str) -> Result<Option<Decimal>, BooksError>;
    /// A boolean (or `"true"`/`"false"`).
    fn opt_bool(&self, key: &str) -> Result<Option<bool>, BooksError>;
    /// A whole number.
    fn opt_int(&self, key: &str) -> Result<Option<i64>, BooksError>;
    /// A discount: a number (amount) or `"10%"`.
    fn opt_discount(&self, key: &str) -> Result<Option<Discount>, BooksError>;
    /// An array of objects.
    fn opt_objects(&self, key: &str) -> Result<Option<Vec<&Map<String, Value>>>, BooksError>;
    /// An object.
    fn opt_object(&self, key: &str) -> Result<Option<&Map<String, Value>>, BooksError>;
    /// A `yyyy-mm-dd` date.
    fn opt_date(&self, key: &str) -> Result<Option<String>, BooksError>;
}

fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// Parses a decimal from a JSON number's text (plain or scientific).
pub fn decimal_from_text(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim()).ok().or_else(|| Decimal::from_scientific(s.trim()).ok())
}

/// Whether `s` is a valid `yyyy-mm-dd` calendar date.
pub fn valid_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

impl Fields for Map<String, Value> {
    fn opt_str(&self, key: &str) -> Result<Option<String>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn req_str(&self, key: &str) -> Result<String, BooksError> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(BooksError::missing(key)),
        }
    }

    fn opt_decimal(&self, key: &str) -> Result<Option<Decimal>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::Number(n)) => decimal_from_text(&n.to_string()).map(Some).ok_or_else(|| BooksError::invalid(key)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => decimal_from_text(s).map(Some).ok_or_else(|| BooksError::invalid(key)),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn opt_int(&self, key: &str) -> Result<Option<i64>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| BooksError::invalid(key)),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| BooksError::invalid(key)),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn opt_discount(&self, key: &str) -> Result<Option<Discount>, BooksError> {
        let parsed = match present(self, key) {
            None => return Ok(None),
            Some(Value::Number(n)) => decimal_from_text(&n.to_string()).map(Discount::Amount),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => match s.trim().strip_suffix('%') {
                Some(pct) => decimal_from_text(pct).map(Discount::Percent),
                None => decimal_from_text(s).map(Discount::Amount),
            },
            Some(_) => None,
        };
        match parsed {
            Some(Discount::Amount(a) | Discount::Percent(a)) if a.is_sign_negative() => Err(BooksError::invalid(key)),
            Some(Discount::Percent(p)) if p > Decimal::ONE_HUNDRED => Err(BooksError::invalid(key)),
            Some(d) => Ok(Some(d)),
            None => Err(BooksError::invalid(key)),
        }
    }

    fn opt_objects(&self, key: &str) -> Result<Option<Vec<&Map<String, Value>>>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::Array(items)) => items.iter().map(|v| v.as_object().ok_or_else(|| BooksError::invalid(key))).collect::<Result<Vec<_>, _>>().map(Some),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn opt_object(&self, key: &str) -> Result<Option<&Map<String, Value>>, BooksError> {
        match present(self, key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }

    fn opt_date(&self, key: &str) -> Result<Option<String>, BooksError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) if valid_date(&s) => Ok(Some(s)),
            Some(_) => Err(BooksError::invalid(key)),
        }
    }
}

/// A money amount as a JSON number (integers without a fraction, others as `f64`).
pub fn money(d: Decimal) -> Value {
    let n = d.normalize();
    if n.scale() == 0
        && let Ok(i) = i64::try_from(n.mantissa())
    {
        return Value::from(i);
    }
    n.to_string().parse::<f64>().map(Value::from).unwrap_or(Value::from(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_json_string_forms_parse_to_the_same_object() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(parse(&h, br#"{"a":1}"#).unwrap()["a"], 1);
        h.insert(header::CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        assert_eq!(parse(&h, b"JSONString=%7B%22a%22%3A1%7D").unwrap()["a"], 1);
        h.insert(header::CONTENT_TYPE, "multipart/form-data; boundary=XX".parse().unwrap());
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"JSONString\"\r\n\r\n{\"a\":1}\r\n--XX--\r\n";
        assert_eq!(parse(&h, body).unwrap()["a"], 1);
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(parse(&h, b"{oops").unwrap_err().code, MALFORMED_JSON);
    }

    #[test]
    fn discounts_accept_amounts_and_percentages() {
        let m = json!({"a": 5, "b": "12.5%", "c": "x", "d": -1}).as_object().unwrap().clone();
        assert_eq!(m.opt_discount("a").unwrap(), Some(Discount::Amount(Decimal::from(5))));
        assert_eq!(m.opt_discount("b").unwrap(), Some(Discount::Percent(Decimal::new(125, 1))));
        assert!(m.opt_discount("c").is_err());
        assert!(m.opt_discount("d").is_err());
    }

    #[test]
    fn money_renders_integers_without_fraction() {
        assert_eq!(money(Decimal::new(10000, 2)), json!(100));
        assert_eq!(money(Decimal::new(1235, 3)), json!(1.235));
    }
}
