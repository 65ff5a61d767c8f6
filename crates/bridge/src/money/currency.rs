//! Currencies: how many decimal places each has, rounding to them, converting between
//! two through exchange rates, and what to do when a deal's currency is not its
//! customer's.
//!
//! Books keeps one currency per customer and an invoice takes its customer's currency;
//! a CRM deal has its own (`Currency`, `Exchange_Rate`). When the two differ a flow
//! follows [`CurrencyPolicy`]. Decimal places follow ISO 4217 (JPY 0, USD 2, KWD 3),
//! which is also what Books' `price_precision` says for these currencies; a currency
//! not listed has 2.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// ISO 4217 currencies with no minor unit.
const ZERO_DECIMALS: &[&str] = &["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"];
/// ISO 4217 currencies with three decimal places.
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// The decimal places of currency `code` (`JPY` 0, `USD` 2, `KWD` 3; case-insensitive;
/// 2 for a code not known to have another number).
pub fn decimals(code: &str) -> u32 {
    let code = code.trim().to_ascii_uppercase();
    if ZERO_DECIMALS.contains(&code.as_str()) {
        0
    } else if THREE_DECIMALS.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// `amount` rounded to `code`'s decimal places, half away from zero (as Books rounds).
pub fn round(amount: Decimal, code: &str) -> Decimal {
    amount.round_dp_with_strategy(decimals(code), RoundingStrategy::MidpointAwayFromZero)
}

/// The smallest amount of `code` (`0.01` for USD, `1` for JPY, `0.001` for KWD): two
/// totals that differ by no more than this differ only by rounding.
pub fn minor_unit(code: &str) -> Decimal {
    Decimal::new(1, decimals(code))
}

/// `amount` in currency A converted to currency B, both rates given per one unit of the
/// same home currency (CRM's `Exchange_Rate`: 1 home = `rate` units), rounded to `to`'s
/// decimal places. `None` when a rate is not positive.
pub fn convert(amount: Decimal, from_per_home: Decimal, to_per_home: Decimal, to: &str) -> Option<Decimal> {
    if from_per_home <= Decimal::ZERO || to_per_home <= Decimal::ZERO {
        return None;
    }
    Some(round(amount / from_per_home * to_per_home, to))
}

/// What a flow does when a deal's currency is not its customer's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrencyPolicy {
    /// Refuse the document: the job goes to the dead letters saying which currencies
    /// differ, for a person to decide (the default: never an invoice in a currency nobody
    /// chose).
    #[default]
    Refuse,
    /// Use (or create) a second Books customer in the deal's currency, linked to the same
    /// CRM account, named `Account name (CUR)`.
    PerCurrencyCustomer,
    /// Invoice the customer in its own currency, converting each amount at the
    /// configured exchange rate ([`RateSource`]).
    Convert,
}

/// Where exchange rates come from when amounts are converted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSource {
    /// The deal's own `Exchange_Rate` (what sales agreed), and CRM's rate for the
    /// customer's currency.
    #[default]
    Deal,
    /// Books' current exchange rates (`/settings/currencies/{id}/exchangerates`).
    Books,
}

/// `[money.currency]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurrencyConfig {
    /// When a deal's currency is not its customer's. Default `refuse`.
    pub policy: CurrencyPolicy,
    /// Exchange rates for `convert`. Default `deal`.
    pub rates: RateSource,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn each_currency_rounds_to_its_own_places() {
        let cases = [
            ("JPY", d("1234.5"), d("1235")),
            ("jpy", d("-0.5"), d("-1")),
            ("USD", d("10.005"), d("10.01")),
            ("EUR", d("10.004"), d("10.00")),
            ("KWD", d("1.2345"), d("1.235")),
            ("BHD", d("0.0004"), d("0.000")),
            ("XYZ", d("3.14159"), d("3.14")),
        ];
        for (code, amount, want) in cases {
            assert_eq!(round(amount, code), want, "{code} {amount}");
        }
        assert_eq!((minor_unit("JPY"), minor_unit("USD"), minor_unit("KWD")), (d("1"), d("0.01"), d("0.001")));
    }

    #[test]
    fn conversion_goes_through_the_home_currency_and_refuses_bad_rates() {
        // Home USD: 1 USD = 0.9 EUR = 150 JPY. 90 EUR = 100 USD = 15,000 JPY.
        assert_eq!(convert(d("90"), d("0.9"), d("150"), "JPY"), Some(d("15000")));
        assert_eq!(convert(d("100"), d("1"), d("0.307"), "KWD"), Some(d("30.700")));
        assert_eq!(convert(d("1"), d("0"), d("1"), "USD"), None);
        assert_eq!(convert(d("1"), d("1"), d("-2"), "USD"), None);
    }
}
