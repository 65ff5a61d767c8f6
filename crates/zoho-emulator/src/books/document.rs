//! The parts invoices, estimates and credit notes share: reading line items, discounts,
//! currency and custom fields from a body, computing totals, and rendering them.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    body::{BooksError, Fields, money},
    common::{custom_fields_json, read_custom_fields, stamp},
    contacts::document_address,
    settings::{line_taxes, tax_label},
    store::{Document, Line, Org},
    totals::{self, Discount, DocumentInput, DocumentTotals, LineInput},
};
use crate::clock::Clock;

/// Applies a create/update body to a document. `entity` names the custom-field set.
pub fn apply(org: &mut Org, b: &Map<String, Value>, d: &mut Document, entity: &str, creating: bool) -> Result<(), BooksError> {
    if creating || b.contains_key("customer_id") {
        let customer = b.req_str("customer_id")?;
        let c = org.contacts.get(&customer).ok_or_else(|| BooksError::invalid("customer_id"))?;
        if creating || d.customer_id != customer {
            d.currency_id = c.currency_id.clone();
        }
        d.customer_id = customer;
    }
    if let Some(date) = b.opt_date("date")? {
        d.date = date;
    }
    let strings: [(&str, &mut String); 7] = [
        ("reference_number", &mut d.reference_number),
        ("salesperson_name", &mut d.salesperson_name),
        ("notes", &mut d.notes),
        ("terms", &mut d.terms),
        ("adjustment_description", &mut d.adjustment_description),
        ("zcrm_potential_id", &mut d.zcrm_potential_id),
        ("template_id", &mut d.template_id),
    ];
    for (name, slot) in strings {
        if let Some(v) = b.opt_str(name)? {
            *slot = v;
        }
    }
    if !d.template_id.is_empty() && !org.templates.iter().any(|t| t.template_id == d.template_id) {
        return Err(BooksError::invalid("template_id"));
    }
    if let Some(cur) = b.opt_str("currency_id")? {
        if !org.currencies.contains_key(&cur) {
            return Err(BooksError::invalid("currency_id"));
        }
        // A Books customer has one currency and its documents are in it: a document in
        // another currency is refused (a second customer in that currency is the way).
        let customer_currency = org.contacts.get(&d.customer_id).map(|c| c.currency_id.as_str()).unwrap_or_default();
        if !customer_currency.is_empty() && cur != customer_currency {
            return Err(BooksError::bad(
                super::body::INVALID_VALUE,
                "The currency of the transaction must be the customer's currency. Create a customer in that currency to bill in it.",
            ));
        }
        d.currency_id = cur;
    }
    let currency = org.currencies.get(&d.currency_id).ok_or_else(|| BooksError::invalid("currency_id"))?;
    match b.opt_decimal("exchange_rate")? {
        Some(r) if r <= Decimal::ZERO => return Err(BooksError::invalid("exchange_rate")),
        Some(r) => d.exchange_rate = r,
        None if creating || b.contains_key("currency_id") => d.exchange_rate = currency.current_rate().0,
        None => {}
    }
    if currency.is_base_currency {
        d.exchange_rate = Decimal::ONE;
    }
    if let Some(t) = b.opt_str("discount_type")? {
        d.item_level = match t.as_str() {
            "item_level" => true,
            "entity_level" => false,
            _ => return Err(BooksError::invalid("discount_type")),
        };
    }
    if let Some(disc) = b.opt_discount("discount")? {
        d.discount = disc;
        if b.opt_str("discount_type")?.is_none() && disc != Discount::None {
            d.item_level = false;
        }
    }
    if let Some(v) = b.opt_bool("is_discount_before_tax")? {
        d.discount_before_tax = v;
    }
    if let Some(v) = b.opt_bool("is_inclusive_tax")? {
        d.inclusive_tax = v;
    }
    if let Some(v) = b.opt_decimal("shipping_charge")? {
        if v.is_sign_negative() {
            return Err(BooksError::invalid("shipping_charge"));
        }
        d.shipping_charge = v;
    }
    if let Some(v) = b.opt_decimal("adjustment")? {
        d.adjustment = v;
    }
    read_custom_fields(org, entity, b, &mut d.custom_fields)?;
    if let Some(e) = b.opt_str("tax_exemption_id")? {
        if !e.is_empty() && !org.tax_exemptions.contains_key(&e) {
            return Err(BooksError::invalid("tax_exemption_id"));
        }
        d.tax_exemption_id = e;
    }
    match b.opt_objects("line_items")? {
        Some(lines) if lines.is_empty() => return Err(BooksError::missing("line_items")),
        Some(lines) => d.lines = read_lines(org, &lines, &d.lines)?,
        None if creating => return Err(BooksError::missing("line_items")),
        None => {}
    }
    // An exempt document carries no tax on any line, whatever the lines or items said.
    if !d.tax_exemption_id.is_empty() {
        for line in &mut d.lines {
            line.tax_id.clear();
        }
    }
    Ok(())
}

fn read_lines(org: &mut Org, given: &[&Map<String, Value>], old: &[Line]) -> Result<Vec<Line>, BooksError> {
    let mut out = Vec::with_capacity(given.len());
    for (n, lb) in given.iter().enumerate() {
        let existing = lb.opt_str("line_item_id")?.and_then(|id| old.iter().find(|l| l.line_item_id == id).cloned());
        let mut l = match existing {
            Some(l) => l,
            None => Line { line_item_id: org.new_id(), quantity: Decimal::ONE, ..Line::default() },
        };
        if let Some(item_id) = lb.opt_str("item_id")? {
            let item = org.items.get(&item_id).ok_or_else(|| BooksError::invalid("line_items.item_id"))?;
            if l.item_id != item_id {
                l.name = item.name.clone();
                l.description = item.description.clone();
                l.rate = item.rate;
                l.unit = item.unit.clone();
                l.tax_id = item.tax_id.clone();
                l.product_type = item.product_type.clone();
            }
            l.item_id = item_id;
        }
        let field = |f: &str| format!("line_items.{f}");
        if let Some(v) = lb.opt_str("name").map_err(|_| BooksError::invalid(&field("name")))? {
            l.name = v;
        }
        if let Some(v) = lb.opt_str("description").map_err(|_| BooksError::invalid(&field("description")))? {
            l.description = v;
        }
        if let Some(v) = lb.opt_str("unit").map_err(|_| BooksError::invalid(&field("unit")))? {
            l.unit = v;
        }
        if let Some(v) = lb.opt_decimal("rate").map_err(|_| BooksError::invalid(&field("rate")))? {
            if v.is_sign_negative() {
                return Err(BooksError::invalid(&field("rate")));
            }
            l.rate = v;
        }
        if let Some(v) = lb.opt_decimal("quantity").map_err(|_| BooksError::invalid(&field("quantity")))? {
            l.quantity = v;
        }
        if let Some(v) = lb.opt_discount("discount").map_err(|_| BooksError::invalid(&field("discount")))? {
            l.discount = v;
        }
        if let Some(v) = lb.opt_str("tax_id").map_err(|_| BooksError::invalid(&field("tax_id")))? {
            if !v.is_empty() {
                line_taxes(org, &v).map_err(|_| BooksError::invalid(&field("tax_id")))?;
            }
            l.tax_id = v;
        }
        if let Some(v) = lb.opt_str("product_type")? {
            l.product_type = v;
        }
        l.item_order = lb.opt_int("item_order")?.unwrap_or(n as i64 + 1);
        if l.item_id.is_empty() && l.name.trim().is_empty() {
            return Err(BooksError::missing("line_items.item_id"));
        }
        out.push(l);
    }
    Ok(out)
}

/// Computes a document's totals from its stored inputs.
pub fn compute(org: &Org, d: &Document) -> DocumentTotals {
    let input = DocumentInput {
        lines: d
            .lines
            .iter()
            .map(|l| LineInput { rate: l.rate, quantity: l.quantity, discount: l.discount, taxes: line_taxes(org, &l.tax_id).unwrap_or_default() })
            .collect(),
        item_level: d.item_level,
        discount: d.discount,
        discount_before_tax: d.discount_before_tax,
        inclusive_tax: d.inclusive_tax,
        shipping_charge: d.shipping_charge,
        adjustment: d.adjustment,
        precision: org.precision(&d.currency_id),
    };
    totals::compute(&input)
}

fn discount_number(d: Discount) -> Decimal {
    match d {
        Discount::None => Decimal::ZERO,
        Discount::Amount(a) | Discount::Percent(a) => a,
    }
}

/// The fields every document renders the same way, into `m`.
pub fn render_into(org: &Org, d: &Document, t: &DocumentTotals, clock: &Clock, m: &mut Map<String, Value>) {
    let customer = org.contacts.get(&d.customer_id);
    let currency = org.currencies.get(&d.currency_id);
    let template = org.templates.iter().find(|x| x.template_id == d.template_id);
    let lines: Vec<Value> = d
        .lines
        .iter()
        .zip(t.lines.iter())
        .map(|(l, lt)| {
            let (tax_name, tax_type, pct) = tax_label(org, &l.tax_id);
            json!({
                "line_item_id": l.line_item_id,
                "item_id": l.item_id,
                "name": l.name,
                "description": l.description,
                "item_order": l.item_order,
                "product_type": l.product_type,
                "bcy_rate": money(totals::round(l.rate * d.exchange_rate, org.precision(&d.currency_id))),
                "rate": money(l.rate),
                "quantity": money(l.quantity),
                "unit": l.unit,
                "discount_amount": money(lt.discount_amount),
                "discount": money(discount_number(l.discount)),
                "tax_id": l.tax_id,
                "tax_name": tax_name,
                "tax_type": tax_type,
                "tax_percentage": money(pct),
                "item_total": money(lt.item_total),
                "line_item_category": "line_item",
            })
        })
        .collect();
    let entries: [(&str, Value); 38] = [
        ("date", d.date.clone().into()),
        ("reference_number", d.reference_number.clone().into()),
        ("customer_id", d.customer_id.clone().into()),
        ("customer_name", customer.map(|c| c.contact_name.clone()).unwrap_or_default().into()),
        ("email", customer.and_then(|c| c.primary()).map(|p| p.email.clone()).unwrap_or_default().into()),
        ("currency_id", d.currency_id.clone().into()),
        ("currency_code", currency.map(|c| c.currency_code.clone()).unwrap_or_default().into()),
        ("currency_symbol", currency.map(|c| c.currency_symbol.clone()).unwrap_or_default().into()),
        ("exchange_rate", money(d.exchange_rate)),
        ("discount", money(discount_number(d.discount))),
        (
            "discount_percent",
            money(match d.discount {
                Discount::Percent(p) => p,
                _ => Decimal::ZERO,
            }),
        ),
        ("discount_amount", money(t.entity_discount)),
        ("discount_total", money(t.discount_total)),
        ("is_discount_before_tax", d.discount_before_tax.into()),
        ("discount_type", if d.item_level { "item_level" } else { "entity_level" }.into()),
        ("is_inclusive_tax", d.inclusive_tax.into()),
        ("line_items", Value::Array(lines)),
        ("shipping_charge", money(t.shipping_charge)),
        ("adjustment", money(t.adjustment)),
        ("adjustment_description", d.adjustment_description.clone().into()),
        ("sub_total", money(t.sub_total)),
        ("tax_total", money(t.tax_total)),
        ("total", money(t.total)),
        ("taxes", Value::Array(t.taxes.iter().map(|s| json!({"tax_id": s.tax_id, "tax_name": s.tax_name, "tax_amount": money(s.tax_amount)})).collect())),
        ("price_precision", org.precision(&d.currency_id).into()),
        ("billing_address", customer.map(|c| document_address(&c.billing_address)).unwrap_or(json!({}))),
        ("shipping_address", customer.map(|c| document_address(&c.shipping_address)).unwrap_or(json!({}))),
        ("notes", d.notes.clone().into()),
        ("terms", d.terms.clone().into()),
        ("custom_fields", custom_fields_json(org, &d.custom_fields)),
        ("template_id", d.template_id.clone().into()),
        ("template_name", template.map(|x| x.template_name.clone()).unwrap_or_default().into()),
        ("salesperson_name", d.salesperson_name.clone().into()),
        ("zcrm_potential_id", d.zcrm_potential_id.clone().into()),
        ("tax_exemption_id", d.tax_exemption_id.clone().into()),
        ("tax_exemption_code", org.tax_exemptions.get(&d.tax_exemption_id).map(|e| e.tax_exemption_code.clone()).unwrap_or_default().into()),
        ("created_time", stamp(clock, d.created_ms).into()),
        ("last_modified_time", stamp(clock, d.modified_ms).into()),
    ];
    for (k, v) in entries {
        m.insert(k.into(), v);
    }
}

/// A short list row for a document.
pub fn row_into(org: &Org, d: &Document, clock: &Clock, m: &mut Map<String, Value>) {
    let customer = org.contacts.get(&d.customer_id);
    let currency = org.currencies.get(&d.currency_id);
    m.insert("customer_id".into(), d.customer_id.clone().into());
    m.insert("customer_name".into(), customer.map(|c| c.contact_name.clone()).unwrap_or_default().into());
    m.insert("reference_number".into(), d.reference_number.clone().into());
    m.insert("date".into(), d.date.clone().into());
    m.insert("currency_id".into(), d.currency_id.clone().into());
    m.insert("currency_code".into(), currency.map(|c| c.currency_code.clone()).unwrap_or_default().into());
    m.insert("exchange_rate".into(), money(d.exchange_rate));
    m.insert("total".into(), money(d.total));
    m.insert("salesperson_name".into(), d.salesperson_name.clone().into());
    m.insert("zcrm_potential_id".into(), d.zcrm_potential_id.clone().into());
    m.insert("custom_fields".into(), custom_fields_json(org, &d.custom_fields));
    m.insert("created_time".into(), stamp(clock, d.created_ms).into());
    m.insert("last_modified_time".into(), stamp(clock, d.modified_ms).into());
}

/// Adds `days` to a `yyyy-mm-dd` date.
pub fn add_days(date: &str, days: i64) -> Option<String> {
    let d: jiff::civil::Date = date.parse().ok()?;
    d.checked_add(jiff::Span::new().days(days)).ok().map(|x| x.to_string())
}
