//! Money as exact decimals on the wire as JSON numbers.
//!
//! Zoho sends and expects amounts as JSON numbers (`"rate": 120.5`). Models keep them as
//! [`rust_decimal::Decimal`] and never do arithmetic on `f64`. The workspace's
//! `serde_json` is built without `arbitrary_precision` (switching it on changes number
//! handling for every crate in the build), so a JSON number reaches a deserializer either
//! as an integer or as the `f64` nearest to its text. This module converts that `f64`
//! through its shortest round-trip decimal text (Rust's `Display`), which reproduces the
//! text Zoho sent for every number of up to 15 significant digits — every amount Books or
//! CRM can hold. Serialising goes the other way: the decimal's text is parsed to the
//! nearest `f64`, which `serde_json` prints as that same shortest text. No addition,
//! multiplication or rounding ever happens in floating point; trailing zeros (`12.30`)
//! are not kept, the value is. Strings holding numbers are accepted too.
//!
//! Use with `#[serde(with = "zoho::money")]` or, for optional fields,
//! `#[serde(default, with = "zoho::money::option", skip_serializing_if = "Option::is_none")]`.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserializer, Serializer, de};

/// Serialises a decimal as a JSON number.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let normal = value.normalize();
    if normal.scale() == 0
        && let Ok(i) = i64::try_from(normal.mantissa())
    {
        return serializer.serialize_i64(i);
    }
    let float = f64::from_str(&normal.to_string()).map_err(serde::ser::Error::custom)?;
    serializer.serialize_f64(float)
}

/// Deserialises a decimal from a JSON number or a numeric string.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    deserializer.deserialize_any(DecimalVisitor)?.ok_or_else(|| de::Error::custom("expected a number, found an empty value"))
}

struct DecimalVisitor;

impl<'de> de::Visitor<'de> for DecimalVisitor {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if !v.is_finite() {
            return Err(E::custom("not a finite number"));
        }
        Decimal::from_str(&v.to_string()).map(Some).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        Decimal::from_str(v).or_else(|_| Decimal::from_scientific(v)).map(Some).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The same for `Option<Decimal>`: `null`, a missing field and `""` are `None`.
pub mod option {
    use super::*;

    /// Serialises `Some` as a number and `None` as `null`.
    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserialises a number, a numeric string, `""` or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Row {
        #[serde(with = "crate::money")]
        amount: Decimal,
        #[serde(default, with = "crate::money::option")]
        rate: Option<Decimal>,
    }

    #[test]
    fn amounts_round_trip_exactly() {
        for text in ["0.1", "0.3", "19.99", "1234567.89", "0.005", "99999999999.99", "-42.5", "120", "0", "1000000000000.01"] {
            let json = format!(r#"{{"amount":{text},"rate":{text}}}"#);
            let row: Row = serde_json::from_str(&json).unwrap();
            let expect = Decimal::from_str(text).unwrap();
            assert_eq!(row.amount, expect, "{text}");
            assert_eq!(serde_json::to_string(&row).unwrap(), json.replace(".0,", ",").replace(".0}", "}"));
        }
        // Sums stay exact because they happen in Decimal.
        let a: Row = serde_json::from_str(r#"{"amount":0.1,"rate":0.2}"#).unwrap();
        assert_eq!(a.amount + a.rate.unwrap(), Decimal::from_str("0.3").unwrap());
    }

    #[test]
    fn every_cent_value_round_trips() {
        for cents in (0..2_000_000i64).step_by(7) {
            let d = Decimal::new(cents * 1_000_003, 2);
            let row = Row { amount: d, rate: None };
            let back: Row = serde_json::from_str(&serde_json::to_string(&row).unwrap()).unwrap();
            assert_eq!(back.amount, d);
        }
    }

    #[test]
    fn strings_and_empties() {
        let row: Row = serde_json::from_str(r#"{"amount":"12.50","rate":""}"#).unwrap();
        assert_eq!(row.amount, Decimal::from_str("12.5").unwrap());
        assert_eq!(row.rate, None);
        let row: Row = serde_json::from_str(r#"{"amount":3,"rate":null}"#).unwrap();
        assert_eq!(row.rate, None);
    }
}
