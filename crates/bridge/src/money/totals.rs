//! The totals check: after every invoice or credit note, the total Books computed is
//! compared with the CRM amount it came from (a deal's `Amount`, a quote's
//! `Grand_Total`). A difference beyond the currency's rounding is revenue leaking (or
//! appearing) between the two systems: the flow records it in the audit log as a
//! [`TOTALS_MISMATCH`] entry (with both figures and the cause when known), and
//! `zoho-bridge leaks` lists them. The document itself is kept: Books' arithmetic is
//! the legal one, and a person decides what to correct.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::currency;

/// The audit action of a recorded mismatch.
pub const TOTALS_MISMATCH: &str = "totals_mismatch";

/// A Books total that differs from its CRM amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The CRM module the amount came from (`Deals`, `Quotes`).
    pub crm_module: String,
    /// The CRM record.
    pub crm_id: String,
    /// The Books entity written (`invoices`, `creditnotes`).
    pub books_entity: String,
    /// The Books document.
    pub books_id: String,
    /// Its number, for people (`INV-00042`).
    pub books_number: Option<String>,
    /// The currency both figures are in.
    pub currency: String,
    /// What CRM says (`Amount`, `Grand_Total`).
    pub crm_total: Decimal,
    /// What Books computed.
    pub books_total: Decimal,
    /// `books_total - crm_total`.
    pub difference: Decimal,
    /// Why, when the flow could tell (a price list changed a rate, a tax rule added or
    /// removed tax, a discount was not carried).
    pub cause: Option<String>,
}

impl Mismatch {
    /// Compares `books_total` with `crm_total` in `currency`: `Some` when they differ by
    /// more than one minor unit of the currency (what rounding lines one by one can
    /// leave), with the difference; the caller fills in the records and the cause.
    pub fn check(crm_total: Decimal, books_total: Decimal, currency: &str) -> Option<Decimal> {
        let difference = books_total - crm_total;
        (difference.abs() > currency::minor_unit(currency)).then_some(difference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_difference_beyond_rounding_is_a_mismatch() {
        let cases = [
            ("100.00", "100.01", "USD", None),
            ("100.00", "100.02", "USD", Some("0.02")),
            ("100.00", "99.98", "EUR", Some("-0.02")),
            ("1000", "1001", "JPY", None),
            ("1000", "1002", "JPY", Some("2")),
            ("10.000", "10.001", "KWD", None),
            ("10.000", "10.002", "KWD", Some("0.002")),
            ("119.00", "100.00", "EUR", Some("-19.00")),
        ];
        for (crm, books, currency, want) in cases {
            assert_eq!(Mismatch::check(d(crm), d(books), currency), want.map(d), "{crm} vs {books} {currency}");
        }
    }
}
