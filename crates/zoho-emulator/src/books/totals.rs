//! Invoice, estimate and credit-note arithmetic, done the way Books does it.
//!
//! Pure functions on [`Decimal`]; JSON numbers are converted at the edge (see `body.rs`).
//! The rules, applied with the document currency's decimal places `p` (JPY 0, KWD 3,
//! others 2) and half-up rounding (`MidpointAwayFromZero`):
//!
//! 1. Line gross = `round(rate × quantity, p)`.
//! 2. Line discount (only when `discount_type` is `item_level`): an amount is taken as
//!    given; a percentage is `round(gross × pct / 100, p)`. `item_total = gross − discount`.
//! 3. `sub_total = Σ item_total`.
//! 4. Entity discount (`discount_type = entity_level`): an amount as given, a percentage
//!    `round(sub_total × pct / 100, p)`.
//!    - before tax (`is_discount_before_tax = true`): the discount is spread over the lines
//!      in proportion to their `item_total` (`round(D × item_total / sub_total, p)`, the
//!      last taxed line taking the rounding remainder) and each line's tax is computed on
//!      its discounted amount;
//!    - after tax: taxes are computed on `item_total` and the discount is subtracted from
//!      `sub_total + tax_total`.
//! 5. Tax per line and per tax: `round(base × pct / 100, p)`; a tax group contributes one
//!    amount per member tax. With `is_inclusive_tax` the rate already contains the tax:
//!    `round(base × pct / (100 + Σ line pct), p)` and the tax is not added to the total.
//! 6. `taxes[]` sums the per-line amounts by tax name, in order of first appearance;
//!    `tax_total = Σ taxes`.
//! 7. `total = sub_total − (entity discount) + tax_total (exclusive only) + shipping_charge
//!    + adjustment`, every part already rounded.

use rust_decimal::{Decimal, RoundingStrategy};

/// A discount as a client writes it: `12.5` or `"10%"`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum Discount {
    /// No discount.
    #[default]
    None,
    /// A fixed amount in the document currency.
    Amount(Decimal),
    /// A percentage (`10` means 10 %).
    Percent(Decimal),
}

impl Discount {
    /// The amount this discount takes off `base`, rounded to `p` places.
    pub fn amount_of(&self, base: Decimal, p: u32) -> Decimal {
        match *self {
            Discount::None => Decimal::ZERO,
            Discount::Amount(a) => round(a, p),
            Discount::Percent(pct) => round(base * pct / Decimal::ONE_HUNDRED, p),
        }
    }
}

/// One tax applied to a line (a plain tax, or one member of a tax group).
#[derive(Debug, Clone, PartialEq)]
pub struct LineTax {
    /// The tax's id.
    pub tax_id: String,
    /// The tax's name (the key of the `taxes[]` summary).
    pub tax_name: String,
    /// Its rate in percent.
    pub percentage: Decimal,
}

/// What a line contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineInput {
    /// Unit price.
    pub rate: Decimal,
    /// Quantity.
    pub quantity: Decimal,
    /// Line discount (ignored unless the document is `item_level`).
    pub discount: Discount,
    /// Taxes on the line (empty: untaxed).
    pub taxes: Vec<LineTax>,
}

/// The document-level inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInput {
    /// The lines.
    pub lines: Vec<LineInput>,
    /// `true` for `item_level` discounts, `false` for `entity_level`.
    pub item_level: bool,
    /// The entity-level discount.
    pub discount: Discount,
    /// Whether the entity discount is applied before tax.
    pub discount_before_tax: bool,
    /// Whether rates already include tax.
    pub inclusive_tax: bool,
    /// Shipping charge.
    pub shipping_charge: Decimal,
    /// Adjustment (may be negative).
    pub adjustment: Decimal,
    /// Decimal places of the currency.
    pub precision: u32,
}

/// The computed figures of one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineTotals {
    /// The line's own discount amount.
    pub discount_amount: Decimal,
    /// `rate × quantity − line discount`.
    pub item_total: Decimal,
    /// The share of a before-tax entity discount borne by this line.
    pub entity_discount_share: Decimal,
    /// Tax amounts, one per [`LineTax`].
    pub tax_amounts: Vec<Decimal>,
}

/// One entry of the `taxes[]` summary.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxSummary {
    /// The first tax id seen with this name.
    pub tax_id: String,
    /// Tax name.
    pub tax_name: String,
    /// Sum over lines.
    pub tax_amount: Decimal,
}

/// The computed figures of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentTotals {
    /// Per line, in input order.
    pub lines: Vec<LineTotals>,
    /// `Σ item_total`.
    pub sub_total: Decimal,
    /// The entity-level discount amount (0 for item-level documents).
    pub entity_discount: Decimal,
    /// All discounts: line discounts plus the entity discount.
    pub discount_total: Decimal,
    /// Taxes by name.
    pub taxes: Vec<TaxSummary>,
    /// `Σ taxes`.
    pub tax_total: Decimal,
    /// Shipping charge (rounded).
    pub shipping_charge: Decimal,
    /// Adjustment (rounded).
    pub adjustment: Decimal,
    /// The grand total.
    pub total: Decimal,
}

/// Half-up rounding to `p` places, as Books rounds money.
pub fn round(x: Decimal, p: u32) -> Decimal {
    x.round_dp_with_strategy(p, RoundingStrategy::MidpointAwayFromZero)
}

/// Computes every figure of a document.
pub fn compute(doc: &DocumentInput) -> DocumentTotals {
    let p = doc.precision;
    let mut lines: Vec<LineTotals> = doc
        .lines
        .iter()
        .map(|l| {
            let gross = round(l.rate * l.quantity, p);
            let discount_amount = if doc.item_level { l.discount.amount_of(gross, p) } else { Decimal::ZERO };
            LineTotals { discount_amount, item_total: gross - discount_amount, entity_discount_share: Decimal::ZERO, tax_amounts: Vec::new() }
        })
        .collect();
    let sub_total: Decimal = lines.iter().map(|l| l.item_total).sum();
    let entity_discount = if doc.item_level { Decimal::ZERO } else { doc.discount.amount_of(sub_total, p) };

    if entity_discount != Decimal::ZERO && doc.discount_before_tax && sub_total != Decimal::ZERO {
        let mut spread = Decimal::ZERO;
        let last = lines.iter().rposition(|l| l.item_total != Decimal::ZERO);
        for (i, line) in lines.iter_mut().enumerate() {
            let share = if Some(i) == last { entity_discount - spread } else { round(entity_discount * line.item_total / sub_total, p) };
            line.entity_discount_share = share;
            spread += share;
        }
    }

    let mut taxes: Vec<TaxSummary> = Vec::new();
    for (input, line) in doc.lines.iter().zip(lines.iter_mut()) {
        let base = line.item_total - line.entity_discount_share;
        let line_pct: Decimal = input.taxes.iter().map(|t| t.percentage).sum();
        for tax in &input.taxes {
            let amount = if doc.inclusive_tax {
                round(base * tax.percentage / (Decimal::ONE_HUNDRED + line_pct), p)
            } else {
                round(base * tax.percentage / Decimal::ONE_HUNDRED, p)
            };
            line.tax_amounts.push(amount);
            match taxes.iter_mut().find(|s| s.tax_name == tax.tax_name) {
                Some(s) => s.tax_amount += amount,
                None => taxes.push(TaxSummary { tax_id: tax.tax_id.clone(), tax_name: tax.tax_name.clone(), tax_amount: amount }),
            }
        }
    }
    let tax_total: Decimal = taxes.iter().map(|t| t.tax_amount).sum();
    let line_discounts: Decimal = lines.iter().map(|l| l.discount_amount).sum();
    let shipping_charge = round(doc.shipping_charge, p);
    let adjustment = round(doc.adjustment, p);
    let added_tax = if doc.inclusive_tax { Decimal::ZERO } else { tax_total };
    let total = sub_total - entity_discount + added_tax + shipping_charge + adjustment;
    DocumentTotals { lines, sub_total, entity_discount, discount_total: line_discounts + entity_discount, taxes, tax_total, shipping_charge, adjustment, total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn tax(name: &str, pct: &str) -> LineTax {
        LineTax { tax_id: format!("id-{name}"), tax_name: name.into(), percentage: d(pct) }
    }

    fn line(rate: &str, qty: &str, discount: Discount, taxes: Vec<LineTax>) -> LineInput {
        LineInput { rate: d(rate), quantity: d(qty), discount, taxes }
    }

    fn doc(lines: Vec<LineInput>, p: u32) -> DocumentInput {
        DocumentInput {
            lines,
            item_level: true,
            discount: Discount::None,
            discount_before_tax: true,
            inclusive_tax: false,
            shipping_charge: Decimal::ZERO,
            adjustment: Decimal::ZERO,
            precision: p,
        }
    }

    #[test]
    fn item_level_percent_and_amount_discounts() {
        let t = compute(&doc(
            vec![
                line("19.99", "3", Discount::Percent(d("10")), vec![tax("Sales", "8.25")]),
                line("100", "1", Discount::Amount(d("15")), vec![tax("Sales", "8.25")]),
            ],
            2,
        ));
        // 59.97 - round(5.997) = 59.97 - 6.00 = 53.97; 100 - 15 = 85.
        assert_eq!(t.lines[0].discount_amount, d("6.00"));
        assert_eq!(t.lines[0].item_total, d("53.97"));
        assert_eq!(t.lines[1].item_total, d("85"));
        assert_eq!(t.sub_total, d("138.97"));
        // 53.97*0.0825 = 4.452525 -> 4.45; 85*0.0825 = 7.0125 -> 7.01
        assert_eq!(t.lines[0].tax_amounts, vec![d("4.45")]);
        assert_eq!(t.lines[1].tax_amounts, vec![d("7.01")]);
        assert_eq!(t.tax_total, d("11.46"));
        assert_eq!(t.discount_total, d("21.00"));
        assert_eq!(t.total, d("150.43"));
    }

    #[test]
    fn entity_discount_before_tax_is_spread_over_lines() {
        let mut input = doc(vec![line("100", "1", Discount::None, vec![tax("VAT", "20")]), line("50", "1", Discount::None, vec![tax("GST", "5")])], 2);
        input.item_level = false;
        input.discount = Discount::Percent(d("10"));
        let t = compute(&input);
        assert_eq!(t.entity_discount, d("15.00"));
        assert_eq!(t.lines[0].entity_discount_share, d("10.00"));
        assert_eq!(t.lines[1].entity_discount_share, d("5.00"));
        assert_eq!(t.taxes[0].tax_amount, d("18.00"));
        assert_eq!(t.taxes[1].tax_amount, d("2.25"));
        assert_eq!(t.total, d("155.25"));
    }

    #[test]
    fn entity_discount_after_tax_comes_off_the_taxed_amount() {
        let mut input = doc(vec![line("100", "1", Discount::None, vec![tax("VAT", "20")])], 2);
        input.item_level = false;
        input.discount_before_tax = false;
        input.discount = Discount::Amount(d("10"));
        input.shipping_charge = d("5");
        input.adjustment = d("-0.5");
        let t = compute(&input);
        assert_eq!(t.tax_total, d("20.00"));
        assert_eq!(t.total, d("114.50"));
    }

    #[test]
    fn tax_group_adds_each_member() {
        let t = compute(&doc(vec![line("33.33", "1", Discount::None, vec![tax("State", "5"), tax("City", "3.25")])], 2));
        // 1.6665 -> 1.67 ; 1.083225 -> 1.08
        assert_eq!(t.lines[0].tax_amounts, vec![d("1.67"), d("1.08")]);
        assert_eq!(t.total, d("36.08"));
    }

    #[test]
    fn jpy_rounds_to_whole_yen_and_kwd_to_fils() {
        let t = compute(&doc(vec![line("1234", "3", Discount::Percent(d("7.5")), vec![tax("CT", "10")])], 0));
        // 3702 - round(277.65)=278 -> 3424; tax 342.4 -> 342
        assert_eq!(t.lines[0].item_total, d("3424"));
        assert_eq!(t.tax_total, d("342"));
        assert_eq!(t.total, d("3766"));
        let t = compute(&doc(vec![line("12.3456", "2", Discount::None, vec![tax("VAT", "5")])], 3));
        // 24.6912 -> 24.691 ; 1.23455 -> 1.235 (half up)
        assert_eq!(t.sub_total, d("24.691"));
        assert_eq!(t.tax_total, d("1.235"));
        assert_eq!(t.total, d("25.926"));
    }

    #[test]
    fn inclusive_tax_is_extracted_not_added() {
        let mut input = doc(vec![line("120", "1", Discount::None, vec![tax("VAT", "20")])], 2);
        input.inclusive_tax = true;
        let t = compute(&input);
        assert_eq!(t.tax_total, d("20.00"));
        assert_eq!(t.total, d("120"));
    }

    #[test]
    fn rounding_is_half_up_away_from_zero() {
        assert_eq!(round(d("2.345"), 2), d("2.35"));
        assert_eq!(round(d("-2.345"), 2), d("-2.35"));
        assert_eq!(round(d("0.5"), 0), d("1"));
    }
}
