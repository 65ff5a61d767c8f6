//! Times as people read them, beside the epoch milliseconds the store keeps.
//!
//! The store and the engine count time in epoch milliseconds (`updated_ms`), which a
//! script compares easily and a person cannot read. Whatever shows a stored time to
//! people (the admin commands, pages) gives it both ways through this one module:
//! [`rfc3339`] for one time, [`with_rfc3339`] for a JSON object whose `…_ms` fields are
//! points in time.

use serde_json::{Map, Value};

/// An epoch-ms time as RFC 3339 in UTC (`2024-05-01T09:30:00.25Z`); `None` when it is
/// outside the years jiff can represent (-9999 to 9999).
pub fn rfc3339(ms: i64) -> Option<String> {
    jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_string())
}

/// `value` with, right after each top-level field `x_ms` holding an integer, a field `x`
/// holding the same time in RFC 3339 (`"updated_ms": 1714555800250, "updated":
/// "2024-05-01T09:30:00.25Z"`); a `null` `x_ms` gives a `null` `x`. For objects whose
/// `_ms` fields are all points in time (not durations). Nested values are left alone:
/// they are data (a request sent to Zoho, an event's payload) and are shown as they
/// were. A field `x` already present is kept as it is; anything but an object is
/// returned unchanged.
pub fn with_rfc3339(value: Value) -> Value {
    let Value::Object(fields) = value else { return value };
    let mut out = Map::with_capacity(fields.len() * 2);
    for (key, field) in fields.iter() {
        out.insert(key.clone(), field.clone());
        let Some(name) = key.strip_suffix("_ms").filter(|n| !n.is_empty() && !fields.contains_key(*n)) else { continue };
        let time = match field {
            Value::Null => Value::Null,
            Value::Number(n) => match n.as_i64().and_then(rfc3339) {
                Some(t) => Value::String(t),
                None => continue,
            },
            _ => continue,
        };
        out.insert(name.to_string(), time);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_is_utc_with_the_milliseconds_kept() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(1_714_555_800_250).as_deref(), Some("2024-05-01T09:30:00.25Z"));
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn each_ms_field_gets_its_rfc3339_twin_right_after_it() {
        let shown = with_rfc3339(json!({
            "id": 7, "created_ms": 1_700_000_000_000_i64, "lease_until_ms": null, "flow": "catalog_sync",
            "payload": {"modified_ms": 1}, "at": "kept", "at_ms": 0, "_ms": 5, "odd_ms": "text",
        }));
        let keys: Vec<&str> = shown.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "created_ms", "created", "lease_until_ms", "lease_until", "flow", "payload", "at", "at_ms", "_ms", "odd_ms"]);
        assert_eq!(shown["created"], "2023-11-14T22:13:20Z");
        assert_eq!(shown["lease_until"], Value::Null);
        assert_eq!(shown["payload"], json!({"modified_ms": 1}), "nested data is left as it was");
        assert_eq!(shown["at"], "kept", "an existing field is not overwritten");
        assert_eq!(with_rfc3339(json!([1, 2])), json!([1, 2]));
    }
}
