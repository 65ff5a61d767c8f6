//! Money and quote arithmetic in `rust_decimal::Decimal`.
//!
//! Amounts arrive and leave as JSON numbers; in between they are decimals, never
//! floating point. This file holds the conversions and the quote line/total rules.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

/// A JSON number (or numeric string) as a decimal.
pub fn dec(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).ok()
}

/// A decimal as a JSON number (at the edge).
pub fn num(value: Decimal) -> Value {
    let text = value.normalize().to_string();
    text.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null)
}

/// Rounds half away from zero to `dp` places.
pub fn round(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// Decimal places a currency uses.
pub fn currency_places(iso: &str) -> u32 {
    match iso {
        "JPY" | "KRW" | "VND" => 0,
        "KWD" | "BHD" | "OMR" | "JOD" => 3,
        _ => 2,
    }
}

/// The computed amounts of one quote line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTotals {
    /// Quantity × List_Price.
    pub total: Decimal,
    /// Total − line Discount.
    pub total_after_discount: Decimal,
    /// Tax on Total_After_Discount at the sum of the line's tax percentages.
    pub tax: Decimal,
    /// Total_After_Discount + Tax.
    pub net_total: Decimal,
}

/// One tax on a line: `round(amount × percent / 100, dp)`.
pub fn tax_amount(amount: Decimal, percent: Decimal, dp: u32) -> Decimal {
    round(amount * percent / Decimal::ONE_HUNDRED, dp)
}

/// Computes one line: `discount` is an amount, `tax_percents` the line's taxes (each
/// rounded on its own, the line's Tax being their sum).
pub fn line_totals(quantity: Decimal, list_price: Decimal, discount: Decimal, tax_percents: &[Decimal], dp: u32) -> LineTotals {
    let total = round(quantity * list_price, dp);
    let total_after_discount = total - round(discount, dp);
    let tax = tax_percents.iter().map(|p| tax_amount(total_after_discount, *p, dp)).sum();
    LineTotals { total, total_after_discount, tax, net_total: total_after_discount + tax }
}

/// The computed amounts of a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteTotals {
    /// Sum of the lines' Total_After_Discount.
    pub sub_total: Decimal,
    /// Sum of the lines' Tax.
    pub tax: Decimal,
    /// Sub_Total − Discount + Tax + Adjustment.
    pub grand_total: Decimal,
}

/// Computes a quote from its lines and its quote-level discount and adjustment.
pub fn quote_totals(lines: &[LineTotals], discount: Decimal, adjustment: Decimal, dp: u32) -> QuoteTotals {
    let sub_total: Decimal = lines.iter().map(|l| l.total_after_discount).sum();
    let tax: Decimal = lines.iter().map(|l| l.tax).sum();
    let grand_total = sub_total - round(discount, dp) + tax + round(adjustment, dp);
    QuoteTotals { sub_total, tax, grand_total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::d;

    mod rust_decimal_macros_free {
        pub fn d(s: &str) -> rust_decimal::Decimal {
            s.parse().expect("test literal")
        }
    }

    #[test]
    fn a_line_applies_discount_then_tax() {
        let l = line_totals(d("3"), d("19.99"), d("5"), &[d("8.25")], 2);
        assert_eq!(l.total, d("59.97"));
        assert_eq!(l.total_after_discount, d("54.97"));
        assert_eq!(l.tax, d("4.54")); // 4.535025 rounds half away from zero
        assert_eq!(l.net_total, d("59.51"));
    }

    #[test]
    fn each_line_tax_is_rounded_on_its_own() {
        // 10.05 × 5 % = 0.5025 → 0.50 for each of two 5 % taxes: 1.00 (one 10 % tax: 1.005 → 1.01).
        let l = line_totals(d("1"), d("10.05"), d("0"), &[d("5"), d("5")], 2);
        assert_eq!(l.tax, d("1.00"));
        assert_eq!(line_totals(d("1"), d("10.05"), d("0"), &[d("10")], 2).tax, d("1.01"));
    }

    #[test]
    fn quote_totals_add_up_exactly() {
        let a = line_totals(d("0.1"), d("1"), d("0"), &[], 2);
        let b = line_totals(d("0.2"), d("1"), d("0"), &[d("10")], 2);
        let q = quote_totals(&[a, b], d("0.05"), d("-0.01"), 2);
        assert_eq!(q.sub_total, d("0.30"));
        assert_eq!(q.tax, d("0.02"));
        assert_eq!(q.grand_total, d("0.26"));
    }

    #[test]
    fn yen_has_no_decimals_and_dinar_three() {
        let l = line_totals(d("1"), d("999.5"), d("0"), &[d("10")], currency_places("JPY"));
        assert_eq!(l.total, d("1000"));
        assert_eq!(l.tax, d("100"));
        let k = line_totals(d("1"), d("1.2345"), d("0"), &[], currency_places("KWD"));
        assert_eq!(k.total, d("1.235"));
    }

    #[test]
    fn json_numbers_round_trip_through_decimal() {
        let v: Value = serde_json::from_str("12.34").unwrap();
        assert_eq!(dec(&v), Some(d("12.34")));
        assert_eq!(num(d("12.340")), serde_json::json!(12.34));
        assert_eq!(dec(&serde_json::json!("1e2")), Some(d("100")));
        assert_eq!(dec(&serde_json::json!(true)), None);
    }
}
