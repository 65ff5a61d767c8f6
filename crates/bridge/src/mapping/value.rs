//! Conversions between the records' JSON, the config's TOML and rhai's `Dynamic`.
//!
//! Mapping expressions see JSON numbers as exact numbers: integers as rhai `INT` (i64),
//! everything else as `Decimal`, read through the shortest text of the `f64` serde_json
//! parsed (the same rule as [`zoho::money`], so `120.5` is exactly 120.5). Results go
//! back the same way: an integral decimal becomes a JSON integer, any other decimal the
//! `f64` whose shortest text is the decimal's text. No arithmetic happens in floating
//! point. JSON `null` is rhai's unit `()`: an empty field and a missing one look alike.

use std::str::FromStr;

use rhai::{Array, Dynamic, ImmutableString, Map};
use rust_decimal::Decimal;

/// Converts a JSON value into the value an expression sees.
///
/// A number too large for a decimal (beyond about 7.9e28) is kept as its text rather
/// than failing the whole record: only an expression that uses it can go wrong.
pub fn json_to_dynamic(value: &serde_json::Value) -> Dynamic {
    match value {
        serde_json::Value::Null => Dynamic::UNIT,
        serde_json::Value::Bool(b) => Dynamic::from_bool(*b),
        serde_json::Value::Number(n) => number_to_dynamic(n),
        serde_json::Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        serde_json::Value::Array(items) => {
            let array: Array = items.iter().map(json_to_dynamic).collect();
            Dynamic::from_array(array)
        }
        serde_json::Value::Object(fields) => {
            let mut map = Map::new();
            for (key, value) in fields {
                map.insert(key.as_str().into(), json_to_dynamic(value));
            }
            Dynamic::from_map(map)
        }
    }
}

fn number_to_dynamic(n: &serde_json::Number) -> Dynamic {
    if let Some(i) = n.as_i64() {
        return Dynamic::from_int(i);
    }
    if let Some(u) = n.as_u64() {
        return Dynamic::from_decimal(Decimal::from(u));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            let text = f.to_string();
            match Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)) {
                Ok(d) => Dynamic::from_decimal(d.normalize()),
                Err(_) => Dynamic::from(ImmutableString::from(text)),
            }
        }
        _ => Dynamic::from(ImmutableString::from(n.to_string())),
    }
}

/// Converts a decimal to a JSON number the way [`zoho::money`] serialises amounts.
pub fn decimal_to_json(value: Decimal) -> serde_json::Value {
    zoho::money::serialize(&value, serde_json::value::Serializer).unwrap_or_else(|_| serde_json::Value::String(value.normalize().to_string()))
}

/// Converts an expression's result into JSON.
///
/// `()` becomes `null` (callers decide earlier what a unit result of a whole field
/// means); a value with no JSON form (a function pointer, a range…) is an error naming
/// its type.
pub fn dynamic_to_json(value: &Dynamic) -> Result<serde_json::Value, String> {
    if value.is_unit() {
        return Ok(serde_json::Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(serde_json::Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(serde_json::Value::from(i));
    }
    if let Ok(d) = value.as_decimal() {
        return Ok(decimal_to_json(d));
    }
    if let Ok(c) = value.as_char() {
        return Ok(serde_json::Value::String(c.to_string()));
    }
    if value.is_string() {
        return Ok(serde_json::Value::String(value.clone().into_string().unwrap_or_default()));
    }
    if value.is_array() {
        let array = value.read_lock::<Array>().ok_or("an array that cannot be read")?;
        let items = array.iter().map(dynamic_to_json).collect::<Result<Vec<_>, _>>()?;
        return Ok(serde_json::Value::Array(items));
    }
    if value.is_map() {
        let map = value.read_lock::<Map>().ok_or("an object map that cannot be read")?;
        let mut object = serde_json::Map::with_capacity(map.len());
        for (key, item) in map.iter() {
            object.insert(key.to_string(), dynamic_to_json(item)?);
        }
        return Ok(serde_json::Value::Object(object));
    }
    Err(format!("a value of type {} cannot be written as JSON", value.type_name()))
}

/// Converts a TOML value (a `defaults` entry or a table value) into the value an
/// expression sees. Dates and times have no place in a payload: they are an error
/// (reported at load time).
pub fn toml_to_dynamic(value: &toml::Value) -> Result<Dynamic, String> {
    Ok(match value {
        toml::Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        toml::Value::Integer(i) => Dynamic::from_int(*i),
        toml::Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("{f} is not a usable number"));
            }
            let text = f.to_string();
            let d = Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).map_err(|e| format!("{text} is not a usable number: {e}"))?;
            Dynamic::from_decimal(d.normalize())
        }
        toml::Value::Boolean(b) => Dynamic::from_bool(*b),
        toml::Value::Datetime(d) => {
            return Err(format!("a date-time ({d}) cannot be used as a value; write it as a string, e.g. \"{d}\""));
        }
        toml::Value::Array(items) => Dynamic::from_array(items.iter().map(toml_to_dynamic).collect::<Result<Array, _>>()?),
        toml::Value::Table(fields) => {
            let mut map = Map::new();
            for (key, value) in fields {
                map.insert(key.as_str().into(), toml_to_dynamic(value)?);
            }
            Dynamic::from_map(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_numbers_become_exact() {
        let d = json_to_dynamic(&json!(0.1));
        assert_eq!(d.as_decimal().unwrap(), Decimal::from_str("0.1").unwrap());
        let i = json_to_dynamic(&json!(12));
        assert_eq!(i.as_int().unwrap(), 12);
        let big = json_to_dynamic(&json!(u64::MAX));
        assert_eq!(big.as_decimal().unwrap(), Decimal::from(u64::MAX));
        assert!(json_to_dynamic(&json!(null)).is_unit());
    }

    #[test]
    fn round_trip_through_dynamic() {
        let value = json!({"a": [1, 2.5, "x", true, null], "b": {"c": 19.99}});
        assert_eq!(dynamic_to_json(&json_to_dynamic(&value)).unwrap(), value);
    }

    #[test]
    fn decimals_print_as_json_numbers() {
        assert_eq!(decimal_to_json(Decimal::from_str("120.00").unwrap()).to_string(), "120");
        assert_eq!(decimal_to_json(Decimal::from_str("0.30").unwrap()).to_string(), "0.3");
        assert_eq!(decimal_to_json(Decimal::from_str("1234567.89").unwrap()).to_string(), "1234567.89");
    }

    #[test]
    fn toml_values() {
        let v: toml::Value = toml::from_str::<toml::Table>("x = 1.10\ny = 'a'\nz = 1979-05-27").unwrap().into();
        let t = v.as_table().unwrap();
        assert_eq!(toml_to_dynamic(&t["x"]).unwrap().as_decimal().unwrap(), Decimal::from_str("1.1").unwrap());
        assert_eq!(toml_to_dynamic(&t["y"]).unwrap().into_string().unwrap(), "a");
        assert!(toml_to_dynamic(&t["z"]).unwrap_err().contains("date-time"));
    }
}
