//! `[mcp]`: the agent gateway's limits, read by `serve` (the `/mcp` endpoint) and by
//! `zoho-bridge mcp` (stdio). Tokens themselves live in the store, not here.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

/// `[mcp]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSettings {
    /// Tool calls one token may make per minute (a sliding minute); the next one is
    /// refused with a tool error saying when to try again. Default 60.
    pub calls_per_minute: u32,
    /// An invoice an agent asks for (a deal's or a quote's) whose amount is above this
    /// waits for a person's approval; credit notes always do. A number or a decimal
    /// text (`"2500.00"`), in the document's currency. Default 1000.
    #[serde(deserialize_with = "decimal_or_integer")]
    pub approval_above: Decimal,
    /// Whether `serve` mounts the gateway at `/mcp`. Default true (every call needs a
    /// token made with `zoho-bridge tokens create`).
    pub http: bool,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings { calls_per_minute: 60, approval_above: Decimal::from(1000), http: true }
    }
}

/// A decimal written as TOML text (`"2500.00"`) or as an integer (`2500`); a float is
/// refused (it would not be exact).
fn decimal_or_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Integer(i64),
        Text(String),
    }
    match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected an integer or a decimal text such as \"2500.00\""))? {
        Raw::Integer(n) => Ok(Decimal::from(n)),
        Raw::Text(s) => s.trim().parse().map_err(|e| serde::de::Error::custom(format!("{s:?} is not a decimal: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_above_reads_integers_and_decimal_text_and_refuses_floats() {
        let read = |text: &str| toml::from_str::<McpSettings>(text);
        assert_eq!(read("approval_above = 2500").unwrap().approval_above, Decimal::from(2500));
        assert_eq!(read("approval_above = \"99.95\"").unwrap().approval_above, "99.95".parse::<Decimal>().unwrap());
        assert!(read("approval_above = 99.95").is_err());
        assert_eq!(read("").unwrap(), McpSettings::default());
        assert!(read("calls_per_hour = 5").is_err());
    }
}
