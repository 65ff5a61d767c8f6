//! Money rules the order-to-cash flows share: currencies (decimal places, rounding,
//! conversion and the policy when a deal's currency is not its customer's), tax rules
//! (which Books tax, tax group or exemption a document gets, chosen by the customer's
//! billing country, state and type), and the totals check that catches revenue leaking
//! between a CRM amount and the total Books computed.
//!
//! These are settings of the organisation, not of one flow: `deal_to_invoice`,
//! `quote_to_invoice` and `deal_to_credit_note` read the same `[money]` section, so a
//! deal and its quote can never be taxed by two different rule sets. All amounts are
//! [`rust_decimal::Decimal`]; nothing here reads the clock or calls Zoho.

pub mod currency;
pub mod tax;
pub mod totals;

use serde::{Deserialize, Serialize};

pub use currency::{CurrencyConfig, CurrencyPolicy, RateSource};
pub use tax::{Buyer, CustomerType, NoTaxRule, RuleError, TaxChoice, TaxRule, Treatment};
pub use totals::{Mismatch, TOTALS_MISMATCH};

/// The `[money]` section.
///
/// ```toml
/// [money.currency]
/// policy = "refuse"          # or "per_currency_customer", "convert"
/// rates = "deal"             # or "books"
///
/// [[money.tax_rules]]
/// name = "EU reverse charge"
/// countries = ["AT", "BE", "DE", "FR", "NL"]
/// customer_type = "business"
/// exemption = "EU-RC"        # a Books tax exemption (code or id)
/// reason = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 VAT Directive)"
/// template = "EU invoice"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoneyConfig {
    /// What to do when a deal's currency is not its customer's, and where exchange rates
    /// come from.
    pub currency: CurrencyConfig,
    /// The tax rules, tried in order; the first whose conditions all hold decides. Empty
    /// (the default): documents carry the tax their items and products carry, and no rule
    /// is required. With at least one rule, a document matching none is refused.
    pub tax_rules: Vec<TaxRule>,
}

impl MoneyConfig {
    /// The tax rule for a document to `buyer` ([`tax::choose`]): `None` when no rules are
    /// configured (taxes are left to the items).
    pub fn tax_for(&self, buyer: &Buyer) -> Result<Option<TaxChoice<'_>>, NoTaxRule> {
        tax::choose(&self.tax_rules, buyer)
    }

    /// Checks the rules make sense (each says what it applies, names are unique);
    /// returns what is wrong, naming the rule.
    pub fn validate(&self) -> Result<(), tax::RuleError> {
        tax::validate(&self.tax_rules)
    }
}
