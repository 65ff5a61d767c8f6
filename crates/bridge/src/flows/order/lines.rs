//! Document lines: CRM order lines (a deal's products, a quote's items) as Books line
//! items in the document's currency (converted when the billing says so, rounded to the
//! currency's decimal places), with the tax the rule chose; and the totals check after
//! the write, with the causes the lines can tell.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use zoho::books::models::LineItem;

use super::{billing::Billing, settings::AppliedTax};
use crate::{
    flows::{Context, FlowError},
    money::{Mismatch, currency},
};

/// A line's discount as CRM gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineDiscount {
    /// An amount off the line (CRM's `Discount` on a deal's or quote's product).
    Amount(Decimal),
    /// A percentage of the line (`10` is 10 %).
    Percent(Decimal),
}

/// One line of a CRM order, before it is a Books line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The Books item (through the product's link); `None` for a line of its own.
    pub item_id: Option<String>,
    /// The line's name (the product's, the deal's).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit price, in the CRM record's currency.
    pub rate: Decimal,
    /// Discount, if any.
    pub discount: Option<LineDiscount>,
}

impl OrderLine {
    /// What CRM says the line comes to: `quantity × rate − discount`, rounded to `code`.
    pub fn crm_total(&self, code: &str) -> Decimal {
        let gross = currency::round(self.quantity * self.rate, code);
        let off = match self.discount {
            None => Decimal::ZERO,
            Some(LineDiscount::Amount(a)) => currency::round(a, code),
            Some(LineDiscount::Percent(p)) => currency::round(gross * p / Decimal::ONE_HUNDRED, code),
        };
        gross - off
    }
}

/// `lines` as Books line items for a document `billing` describes, with `tax`: the
/// rule's tax on every line; no tax on an exempt document; the item's own tax when no
/// rule applies (no rules configured).
pub fn books_lines(lines: &[OrderLine], billing: &Billing, tax: Option<&AppliedTax>) -> Vec<LineItem> {
    lines
        .iter()
        .enumerate()
        .map(|(n, line)| {
            let mut item = LineItem {
                item_id: line.item_id.clone(),
                name: Some(line.name.clone()),
                description: line.description.clone(),
                rate: Some(billing.amount(line.rate)),
                quantity: Some(line.quantity),
                item_order: Some(n as i64 + 1),
                ..LineItem::default()
            };
            item.discount = match line.discount {
                None => None,
                Some(LineDiscount::Amount(a)) if a.is_zero() => None,
                Some(LineDiscount::Amount(a)) => Some(json!(billing.amount(a))),
                Some(LineDiscount::Percent(p)) => Some(json!(format!("{}%", p.normalize()))),
            };
            match tax {
                Some(AppliedTax { tax_id: Some(id), .. }) => item.tax_id = Some(id.clone()),
                Some(AppliedTax { exemption_id: Some(id), .. }) => {
                    item.tax_id = Some(String::new());
                    item.extra.insert("tax_exemption_id".into(), json!(id));
                }
                _ => {}
            }
            item
        })
        .collect()
}

/// The document-level fields of `tax`: the exemption with its reason in the notes, and
/// the template (`credit_note` picks the credit note template).
pub fn document_tax_fields(tax: Option<&AppliedTax>, credit_note: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(tax) = tax else { return out };
    if let Some(id) = &tax.exemption_id {
        out.insert("tax_exemption_id".into(), json!(id));
    }
    if let Some(reason) = &tax.reason {
        out.insert("notes".into(), json!(reason));
    }
    let template = if credit_note { &tax.creditnote_template_id } else { &tax.invoice_template_id };
    if let Some(id) = template {
        out.insert("template_id".into(), json!(id));
    }
    out
}

/// Why Books' lines differ from what was sent (the rate a price list changed, a
/// discount not carried), line by line.
pub fn line_causes(sent: &[LineItem], written: &[LineItem]) -> Vec<String> {
    let mut causes = Vec::new();
    for (n, (s, w)) in sent.iter().zip(written).enumerate() {
        let name = s.name.as_deref().unwrap_or_default();
        if let (Some(a), Some(b)) = (s.rate, w.rate)
            && a != b
        {
            causes.push(format!("line {} ({name}): a price list changed the rate from {a} to {b}", n + 1));
        }
        let number = |v: &Option<Value>| -> Decimal {
            match v {
                Some(Value::Number(n)) => n.to_string().parse().unwrap_or_default(),
                Some(Value::String(s)) => s.trim().trim_end_matches('%').parse().unwrap_or_default(),
                _ => Decimal::ZERO,
            }
        };
        let (a, b) = (number(&s.discount), number(&w.discount));
        if a != b {
            causes.push(format!("line {} ({name}): discount {a} sent, Books has {b}", n + 1));
        }
    }
    if sent.len() != written.len() {
        causes.push(format!("{} lines sent, Books has {}", sent.len(), written.len()));
    }
    causes
}

/// What the totals check compares, and what it knows of the causes.
#[derive(Debug, Clone)]
pub struct TotalsCheck {
    /// `Deals`, `Quotes`.
    pub crm_module: &'static str,
    /// The CRM record.
    pub crm_id: String,
    /// What CRM says (in the document's currency).
    pub crm_total: Decimal,
    /// `invoices`, `creditnotes`.
    pub books_entity: &'static str,
    /// The Books document.
    pub books_id: String,
    /// Its number.
    pub books_number: Option<String>,
    /// What Books computed (the figure comparable with the CRM one).
    pub books_total: Decimal,
    /// The document's currency.
    pub currency: String,
    /// The causes found so far.
    pub causes: Vec<String>,
}

impl TotalsCheck {
    /// Compares the two figures; beyond the currency's rounding, records the mismatch
    /// (audit, `zoho-bridge leaks`) with the causes. Whether they matched.
    pub async fn record(self, ctx: &mut Context<'_>) -> Result<bool, FlowError> {
        let Some(difference) = Mismatch::check(self.crm_total, self.books_total, &self.currency) else {
            return Ok(true);
        };
        let mismatch = Mismatch {
            crm_module: self.crm_module.into(),
            crm_id: self.crm_id,
            books_entity: self.books_entity.into(),
            books_id: self.books_id,
            books_number: self.books_number,
            currency: self.currency,
            crm_total: self.crm_total,
            books_total: self.books_total,
            difference,
            cause: (!self.causes.is_empty()).then(|| self.causes.join("; ")),
        };
        ctx.record_mismatch(&mismatch).await?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::order::billing::{Conversion, Customer};
    use crate::money::RateSource;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn billing(code: &str, conversion: Option<Conversion>) -> Billing {
        let customer = Customer {
            id: "c".into(),
            name: "C".into(),
            currency_id: "1".into(),
            currency_code: code.into(),
            country: None,
            state: None,
            customer_type: None,
            contact: Value::Null,
        };
        Billing { customer, currency: code.into(), conversion }
    }

    #[test]
    fn lines_are_rounded_to_the_currency_and_taxed_as_the_rule_says() {
        let lines = vec![
            OrderLine {
                item_id: Some("i1".into()),
                name: "Widget".into(),
                description: None,
                quantity: d("3"),
                rate: d("1234.5"),
                discount: Some(LineDiscount::Amount(d("100.4"))),
            },
            OrderLine { item_id: None, name: "Setup".into(), description: Some("on site".into()), quantity: d("1"), rate: d("10"), discount: None },
        ];
        let tax = AppliedTax {
            rule: "r".into(),
            tax_id: Some("t".into()),
            exemption_id: None,
            reason: None,
            invoice_template_id: None,
            creditnote_template_id: None,
        };
        let jpy = books_lines(&lines, &billing("JPY", None), Some(&tax));
        assert_eq!((jpy[0].rate, jpy[0].discount.clone(), jpy[0].tax_id.as_deref()), (Some(d("1235")), Some(json!(d("100"))), Some("t")));
        assert_eq!((jpy[1].item_id.as_deref(), jpy[1].name.as_deref(), jpy[1].item_order), (None, Some("Setup"), Some(2)));
        let exempt = AppliedTax { tax_id: None, exemption_id: Some("x".into()), reason: Some("RC".into()), ..tax };
        let kwd = books_lines(&lines, &billing("KWD", None), Some(&exempt));
        assert_eq!((kwd[0].rate, kwd[0].tax_id.as_deref(), kwd[0].extra.get("tax_exemption_id")), (Some(d("1234.500")), Some(""), Some(&json!("x"))));
        assert_eq!(document_tax_fields(Some(&exempt), false)["notes"], "RC");
        // Converted: 10 EUR at 0.92/USD into USD.
        let conv = Conversion { from: "EUR".into(), to: "USD".into(), from_per_home: d("0.92"), to_per_home: d("1"), source: RateSource::Deal };
        let usd = books_lines(&lines[1..], &billing("USD", Some(conv)), None);
        assert_eq!((usd[0].rate, usd[0].tax_id.as_deref()), (Some(d("10.87")), None));
        assert_eq!(lines[0].crm_total("USD"), d("3603.10"));
    }

    #[test]
    fn line_causes_name_the_rate_and_the_discount() {
        let sent = vec![LineItem { name: Some("A".into()), rate: Some(d("10")), discount: Some(json!(2)), ..LineItem::default() }];
        let written = vec![LineItem { name: Some("A".into()), rate: Some(d("9")), discount: Some(json!(0)), ..LineItem::default() }];
        let causes = line_causes(&sent, &written);
        assert_eq!(causes, vec!["line 1 (A): a price list changed the rate from 10 to 9".to_string(), "line 1 (A): discount 2 sent, Books has 0".to_string()]);
    }
}
