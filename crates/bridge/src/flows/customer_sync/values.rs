//! Comparing a mapped payload with the record it would be written to.
//!
//! A two-way sync writes only what differs, and on a first match only what the other side
//! lacks, so these compare a payload (the mapping's output) with a record as Zoho answers
//! it: the record has more fields than the payload (only the payload's are compared),
//! nested objects (addresses) are compared on the payload's keys, and an empty string is
//! the same as an absent value.

use jiff::Timestamp;
use serde_json::{Map, Value};

/// Whether `v` carries nothing: absent, null, blank text, or an object or array of such.
pub fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Object(m)) => m.values().all(|v| is_blank(Some(v))),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// Whether the record's value `have` already says what `want` says.
pub fn same(want: &Value, have: Option<&Value>) -> bool {
    if is_blank(Some(want)) {
        return is_blank(have);
    }
    match (want, have) {
        (Value::Object(w), Some(Value::Object(h))) => w.iter().all(|(k, v)| same(v, h.get(k))),
        (Value::String(w), Some(Value::String(h))) => w.trim() == h.trim(),
        (Value::String(w), Some(Value::Number(n))) | (Value::Number(n), Some(Value::String(w))) => w.trim() == n.to_string(),
        (w, Some(h)) => w == h,
        (_, None) => false,
    }
}

/// The payload's fields (among those `allowed` says yes to) whose value the record does
/// not already have.
pub fn changes(payload: &Map<String, Value>, record: &Value, allowed: impl Fn(&str) -> bool) -> Map<String, Value> {
    payload.iter().filter(|(k, v)| allowed(k) && !same(v, record.get(k.as_str()))).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The payload's fields the record lacks (blank there, not blank here): what a first
/// match adds to the existing record without overwriting anything. An object (an
/// address) the record has in part is completed: its own values stay, the blank ones
/// are filled.
pub fn lacking(payload: &Map<String, Value>, record: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in payload {
        let have = record.get(k.as_str());
        if is_blank(Some(v)) {
            continue;
        }
        match (v, have) {
            (Value::Object(want), Some(Value::Object(has))) if !is_blank(have) => {
                let fill = lacking(want, &Value::Object(has.clone()));
                if !fill.is_empty() {
                    let mut whole = has.clone();
                    whole.extend(fill);
                    out.insert(k.clone(), Value::Object(whole));
                }
            }
            _ if is_blank(have) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    out
}

/// `record` with `changes` written over it (what the record is after an update).
pub fn merged(record: &Value, changes: &Map<String, Value>) -> Value {
    let mut out = record.as_object().cloned().unwrap_or_default();
    for (k, v) in changes {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// A text field of a record, trimmed; `None` when blank.
pub fn text<'a>(record: &'a Value, pointer: &str) -> Option<&'a str> {
    record.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A Zoho time (`2024-01-02T03:04:05+00:00` from CRM, `2024-01-02T03:04:05+0000` from
/// Books) as a timestamp.
pub fn time(raw: Option<&str>) -> Option<Timestamp> {
    let raw = raw?.trim();
    raw.parse::<Timestamp>()
        .ok()
        .or_else(|| Timestamp::strptime("%Y-%m-%dT%H:%M:%S%z", raw).ok())
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", raw).ok().and_then(|t| t.to_timestamp().ok()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_payload_is_compared_on_its_own_keys_and_blank_is_absent() {
        let record = json!({"contact_name": "Acme", "phone": "", "billing_address": {"address": "1 Main St", "city": "Springfield", "fax": "x"}});
        assert!(same(&json!({"address": "1 Main St", "city": "Springfield"}), record.get("billing_address")));
        assert!(!same(&json!({"address": "2 Main St", "city": "Springfield"}), record.get("billing_address")));
        assert!(same(&json!(""), record.get("phone")) && same(&json!(""), record.get("website")));
        let payload = json!({"contact_name": "Acme", "phone": "555", "website": "", "billing_address": {"address": "1 Main St", "city": "Springfield"}});
        let payload = payload.as_object().unwrap();
        assert_eq!(Value::Object(changes(payload, &record, |_| true)), json!({"phone": "555"}));
        assert_eq!(Value::Object(changes(payload, &record, |f| f != "phone")), json!({}));
        let empty = json!({"contact_name": "Acme", "billing_address": {"address": "", "city": ""}});
        assert_eq!(Value::Object(lacking(payload, &empty)), json!({"phone": "555", "billing_address": {"address": "1 Main St", "city": "Springfield"}}));
        let partial = json!({"contact_name": "Acme", "phone": "1", "billing_address": {"address": "9 Elm", "city": "", "fax": "f"}});
        assert_eq!(
            Value::Object(lacking(payload, &partial)),
            json!({"billing_address": {"address": "9 Elm", "city": "Springfield", "fax": "f"}}),
            "kept, and completed"
        );
    }

    #[test]
    fn both_time_formats_read() {
        let crm = time(Some("2026-11-28T10:00:00+00:00")).unwrap();
        let books = time(Some("2026-11-28T10:00:01+0000")).unwrap();
        assert!(books > crm);
        assert_eq!(time(Some("yesterday")), None);
    }
}
