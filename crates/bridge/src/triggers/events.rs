//! Turning what Zoho sends (callback bodies, webhook bodies, listed records) into inbox
//! events with dedup keys.
//!
//! Kept apart from the HTTP handlers so the parsing rules are plain functions with
//! plain tests. Dedup keys are chosen so that repeats collapse: a change seen by the
//! poller and by a Books or workflow webhook carrying the same modified time gets the
//! same key (`system:module:id:modified_ms`); a CRM notification, which only carries
//! its send time, is keyed by (channel, module, id, server_time, operation).
//!
//! Known limit: Zoho's modified times have whole seconds, so two webhooks for two
//! changes of one record within the same second share a key and the second is absorbed.
//! The flow of the first reads the record fresh; only if it ran between the two changes
//! is the second change missed until the record changes again. (The poller avoids this
//! by reading only seconds that have fully passed.)

use serde_json::{Map, Value};

use super::config::System;
use crate::store::{NewEvent, Source};

/// Why a body was refused: what was wrong, and where in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (at {at})")]
pub struct BadBody {
    /// What was wrong.
    pub problem: String,
    /// Where: a JSON path (`$.ids[2]`) or `body`.
    pub at: String,
}

impl BadBody {
    fn new(problem: impl Into<String>, at: impl Into<String>) -> BadBody {
        BadBody { problem: problem.into(), at: at.into() }
    }
}

/// Parses a Zoho date-time (`2024-05-10T01:10:47+00:00`, Books' `…+0000`, or epoch ms
/// as text) into epoch ms.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", text).ok().and_then(|t| t.to_timestamp().ok()).map(|t| t.as_millisecond())
}

/// The dedup key of a change with a known modified time: `crm:Deals:42:1718117126000`.
pub fn change_key(system: System, module: &str, record_id: &str, modified_ms: i64) -> String {
    format!("{}:{module}:{record_id}:{modified_ms}", system.as_str())
}

/// A stable 64-bit FNV-1a hash (for dedup keys of bodies without a modified time: a
/// redelivery is byte-identical, and the key must not change between releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, BadBody> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BadBody::new(format!("the body is not valid JSON: {e}"), format!("line {}, column {}", e.line(), e.column())))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(BadBody::new("the body is not a JSON object", "$")),
    }
}

fn text_or_number(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A CRM Notification API callback, parsed far enough to authenticate it.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmCallback {
    /// The channel it claims to come from.
    pub channel_id: String,
    /// The token it carries (compare with the channel's, in constant time).
    pub token: Option<String>,
    body: Map<String, Value>,
}

impl CrmCallback {
    /// Parses the JSON and reads `channel_id` and `token`.
    pub fn parse(body: &[u8]) -> Result<CrmCallback, BadBody> {
        let body = json_body(body)?;
        let channel_id = match body.get("channel_id") {
            None => return Err(BadBody::new("channel_id is missing", "$.channel_id")),
            Some(v) => text_or_number(v).ok_or_else(|| BadBody::new("channel_id is not a number or text", "$.channel_id"))?,
        };
        let token = body.get("token").and_then(Value::as_str).map(str::to_string);
        Ok(CrmCallback { channel_id, token, body })
    }

    /// One event per id (call after authenticating).
    pub fn events(&self, connection: &str) -> Result<Vec<NewEvent>, BadBody> {
        let b = &self.body;
        let module =
            b.get("module").and_then(Value::as_str).filter(|m| !m.is_empty()).ok_or_else(|| BadBody::new("module is missing or not text", "$.module"))?;
        let operation = b
            .get("operation")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| BadBody::new("operation is missing or not text", "$.operation"))?;
        let server_time =
            b.get("server_time").and_then(Value::as_i64).ok_or_else(|| BadBody::new("server_time is missing or not a number", "$.server_time"))?;
        let ids =
            b.get("ids").and_then(Value::as_array).filter(|ids| !ids.is_empty()).ok_or_else(|| BadBody::new("ids is missing, empty or not a list", "$.ids"))?;
        let mut payload = Value::Object(b.clone());
        if let Some(obj) = payload.as_object_mut() {
            obj.remove("token");
        }
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let id = text_or_number(id).ok_or_else(|| BadBody::new("the id is not a number or text", format!("$.ids[{i}]")))?;
            out.push(NewEvent {
                source: Source::CrmNotification,
                connection: connection.to_string(),
                system: System::Crm.as_str().to_string(),
                module: module.to_string(),
                dedup_key: format!("crm-notify:{}:{module}:{id}:{server_time}:{operation}", self.channel_id),
                record_id: id,
                modified_ms: Some(server_time),
                payload: payload.clone(),
            });
        }
        Ok(out)
    }
}

/// A CRM workflow-rule webhook: a JSON object (or a form) with `module`, `id` and,
/// preferably, `modified_time` (CRM date-time or epoch ms); other fields are kept in the
/// payload. Without `modified_time` a redelivery is recognised by its identical body
/// only.
pub fn crm_workflow_event(body: &[u8], connection: &str) -> Result<NewEvent, BadBody> {
    let map = match json_body(body) {
        Ok(map) => map,
        Err(json_err) => {
            // Workflow webhooks may also send their parameters as a form.
            let looks_like_form = !body.is_empty() && !body.starts_with(b"{") && !body.starts_with(b"[") && body.contains(&b'=');
            if !looks_like_form {
                return Err(json_err);
            }
            url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect()
        }
    };
    let module = map
        .get("module")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| BadBody::new("module is missing or not text", "$.module"))?
        .to_string();
    let id = map.get("id").and_then(text_or_number).ok_or_else(|| BadBody::new("id is missing or not a number or text", "$.id"))?;
    let modified_ms = match map.get("modified_time") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| BadBody::new("modified_time is not a whole number", "$.modified_time"))?),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_time(s).ok_or_else(|| BadBody::new("modified_time is not a date-time", "$.modified_time"))?),
        Some(_) => return Err(BadBody::new("modified_time is not a date-time", "$.modified_time")),
    };
    let dedup_key = match modified_ms {
        Some(ms) => change_key(System::Crm, &module, &id, ms),
        None => format!("crm-workflow:{module}:{id}:body:{:016x}", fnv1a(body)),
    };
    Ok(NewEvent {
        source: Source::CrmWebhook,
        connection: connection.to_string(),
        system: System::Crm.as_str().to_string(),
        module,
        record_id: id,
        modified_ms,
        payload: Value::Object(map),
        dedup_key,
    })
}

/// The Books list (stream) name of a webhook entity: `invoice` → `invoices`.
pub fn books_module(entity: &str) -> Option<&'static str> {
    Some(match entity {
        "invoice" => "invoices",
        "payment" => "customerpayments",
        "creditnote" => "creditnotes",
        "estimate" => "estimates",
        "salesorder" => "salesorders",
        "item" => "items",
        "contact" => "contacts",
        _ => return None,
    })
}

/// The id field of a Books stream's rows: `invoices` → `invoice_id`.
pub fn books_id_field(module: &str) -> Option<&'static str> {
    Some(match module {
        "invoices" => "invoice_id",
        "customerpayments" => "payment_id",
        "creditnotes" => "creditnote_id",
        "estimates" => "estimate_id",
        "salesorders" => "salesorder_id",
        "items" => "item_id",
        "contacts" => "contact_id",
        _ => return None,
    })
}

/// A Books webhook (default payload `{"invoice": {...}}`, a bare entity, or a
/// `JSONString=` form): one event for the entity, keyed by its `last_modified_time`.
pub fn books_event(body: &[u8], connection: &str) -> Result<NewEvent, BadBody> {
    let parsed = zoho::books::webhooks::parse_webhook(body).map_err(|e| {
        // The client's message says what is wrong with the body, never a secret.
        let problem = match e {
            zoho::Error::InvalidInput(problem) => problem,
            other => other.to_string(),
        };
        BadBody::new(problem, "body")
    })?;
    let module =
        books_module(&parsed.entity).ok_or_else(|| BadBody::new("no known entity (invoice, payment, creditnote, estimate, salesorder, item, contact)", "$"))?;
    let id_field = books_id_field(module).unwrap_or("id");
    let at = |field: &str| format!("$.{}.{field}", parsed.entity);
    let id = parsed.data.get(id_field).and_then(text_or_number).ok_or_else(|| BadBody::new(format!("{id_field} is missing or not text"), at(id_field)))?;
    let modified_ms = match parsed.data.get("last_modified_time") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(parse_time).ok_or_else(|| BadBody::new("last_modified_time is not a date-time", at("last_modified_time")))?),
    };
    let dedup_key = match modified_ms {
        Some(ms) => change_key(System::Books, module, &id, ms),
        None => format!("books-webhook:{module}:{id}:body:{:016x}", fnv1a(body)),
    };
    let mut payload = Map::new();
    payload.insert(parsed.entity.clone(), Value::Object(parsed.data));
    Ok(NewEvent {
        source: Source::BooksWebhook,
        connection: connection.to_string(),
        system: System::Books.as_str().to_string(),
        module: module.to_string(),
        record_id: id,
        modified_ms,
        payload: Value::Object(payload),
        dedup_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crm_callback_gives_one_event_per_id_without_the_token() {
        let body = br#"{"server_time":1718117126473,"module":"Deals","ids":["1","2"],"operation":"update","channel_id":1000,"token":"T"}"#;
        let cb = CrmCallback::parse(body).unwrap();
        assert_eq!((cb.channel_id.as_str(), cb.token.as_deref()), ("1000", Some("T")));
        let events = cb.events("c").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].record_id, "2");
        assert_eq!(events[0].dedup_key, "crm-notify:1000:Deals:1:1718117126473:update");
        assert!(events[0].payload.get("token").is_none());
        let bad = CrmCallback::parse(br#"{"channel_id":"1","token":"T","module":"Deals","operation":"x","server_time":1,"ids":[1,{}]}"#).unwrap();
        assert_eq!(bad.events("c").unwrap_err().at, "$.ids[1]");
        assert_eq!(CrmCallback::parse(b"{").unwrap_err().at, "line 1, column 1");
        assert_eq!(CrmCallback::parse(b"{}").unwrap_err().at, "$.channel_id");
    }

    #[test]
    fn workflow_bodies_json_and_form() {
        let e = crm_workflow_event(br#"{"module":"Deals","id":"42","modified_time":"2024-05-10T01:10:47+00:00"}"#, "c").unwrap();
        assert_eq!(e.dedup_key, "crm:Deals:42:1715303447000");
        let f = crm_workflow_event(b"module=Deals&id=42", "c").unwrap();
        assert!(f.dedup_key.starts_with("crm-workflow:Deals:42:body:"));
        assert_eq!(crm_workflow_event(br#"{"module":"Deals"}"#, "c").unwrap_err().at, "$.id");
        assert_eq!(crm_workflow_event(br#"{"id":"1"}"#, "c").unwrap_err().at, "$.module");
        assert!(crm_workflow_event(b"not json", "c").is_err());
    }

    #[test]
    fn books_bodies() {
        let e = books_event(br#"{"invoice":{"invoice_id":"9","last_modified_time":"2024-05-10T01:10:47+0000"}}"#, "c").unwrap();
        assert_eq!((e.module.as_str(), e.record_id.as_str()), ("invoices", "9"));
        assert_eq!(e.dedup_key, "books:invoices:9:1715303447000");
        let form = b"JSONString=%7B%22payment%22%3A%7B%22payment_id%22%3A%227%22%7D%7D";
        assert_eq!(books_event(form, "c").unwrap().module, "customerpayments");
        assert_eq!(books_event(br#"{"invoice":{"total":1}}"#, "c").unwrap_err().at, "$.invoice.invoice_id");
        assert!(books_event(br#"{"foo":1}"#, "c").is_err());
    }
}
