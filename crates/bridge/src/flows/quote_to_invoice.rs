//! `quote_to_invoice`: a CRM quote the customer accepted becomes one **draft** Books
//! invoice carrying every line of the quote.
//!
//! **When.** A quote whose `Quote_Stage` *becomes* the accepted stage (`accepted_stage`,
//! default `Confirmed`): the flow keeps the stage it saw last as the record's snapshot,
//! and a quote it sees accepted for the first time counts as becoming accepted (a quote
//! created accepted is invoiced). Never two invoices for one quote: a quote linked to an
//! invoice (`quote_invoice`) is skipped whatever its stage does later; the invoice is
//! written by Books' upsert keyed by a unique invoice custom field holding the quote id
//! (`cf_crm_quote_id`), so a repeat after a lost answer or a crash finds the invoice the
//! first call made; and duplicated webhooks are jobs of one record, run one after the
//! other, the second finding the link.
//!
//! **What.** The invoice is mapped by the flow's mapping (`[flows.quote_to_invoice]`;
//! shipped default: [`DEFAULTS`]: date ← today, `reference_number` ← `Quote_Number`,
//! `terms` ← `Terms_and_Conditions`, and one line per `Quoted_Items` row: its Books item
//! (through the `product_item` link; a product not yet synced is synced first, in the
//! same job, by `catalog_sync`), description, quantity, rate ← `List_Price`). The flow
//! adds what is not a matter of taste: the customer, the line discounts and the quote
//! discount, the taxes, the adjustment, `zcrm_potential_id` ← the quote's deal, and the
//! custom field holding the quote id. The CRM quote then gets the invoice id
//! (`Books_Invoice_ID`), and the two are linked.
//!
//! **Discounts.** CRM keeps a discount amount per line and one for the quote; a Books
//! invoice has either line discounts (`discount_type = item_level`) or one document
//! discount (`entity_level`), never both. A quote without a quote discount gives line
//! discounts (amounts, as CRM keeps them). A quote with one gives the document discount,
//! taken before or after tax as `discount_before_tax` says (Books'
//! `is_discount_before_tax`; CRM takes a quote discount after the line taxes, so the
//! shipped `false` is what makes the totals agree), and a line that also has a discount
//! of its own carries it in its rate: the discounted line amount over the quantity (when
//! that rate gives the line amount exactly, else one unit at the line amount), its
//! description saying what the list price and the discount were.
//!
//! **Totals.** Books' own total must equal the quote's `Grand_Total` (to the currency's
//! rounding); otherwise the totals check records a mismatch in the audit log with both
//! figures and the cause when the flow can tell (the tax, the discount's place, the
//! lines), and the draft is kept for a person to correct.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::relations::{QUOTE_INVOICE, Relation};
use crate::{
    mapping::{self, CompileError, CompileOptions, LinesSpec, Mapping, MappingSpec, Tables, value::decimal_to_json},
    money::currency,
    store::{NewEvent, NewJob, RecordRef, Source},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "quote_to_invoice";
/// The Books invoice custom field that holds the CRM quote id, by default.
pub const CRM_ID_FIELD: &str = "cf_crm_quote_id";
/// The CRM quote field that receives the invoice id, by default.
pub const BOOKS_ID_FIELD: &str = "Books_Invoice_ID";
/// The quote stage that means accepted, by default (one of CRM's stock stages).
pub const ACCEPTED_STAGE: &str = "Confirmed";
/// The relation its links are kept in.
const RELATION: Relation = QUOTE_INVOICE;
/// The lookup table CRM tax names are found in (as `catalog_sync` uses it).
pub const TAX_TABLE: &str = "tax";
/// The quote fields the flow reads besides those its mapping names.
const ALWAYS_READ: &[&str] = &[
    "Quote_Stage",
    "Quote_Number",
    "Quoted_Items",
    "Account_Name",
    "Deal_Name",
    "Currency",
    "Exchange_Rate",
    "Sub_Total",
    "Discount",
    "Tax",
    "Adjustment",
    "Grand_Total",
    "Billing_Country",
    "Billing_State",
];

/// The shipped `[flows.quote_to_invoice]` section: the flow's settings and its default
/// mapping. A user's section overrides it field by field.
pub const DEFAULTS: &str = r#"# CRM Quotes -> Books draft invoices, when a quote reaches the accepted stage.
# The Quote_Stage meaning the customer accepted (CRM's stock stages: Draft, Negotiation,
# Delivered, On Hold, Confirmed, Closed Won, Closed Lost).
accepted_stage = "Confirmed"
# The invoice custom field (marked unique in Books) holding the CRM quote id: the key of
# the one-call upsert that makes a second invoice for one quote impossible.
crm_id_field = "cf_crm_quote_id"
# The CRM quote field that receives the Books invoice id ("" to write nothing back).
books_id_field = "Books_Invoice_ID"
# Whether Books takes the quote discount before tax (true) or after (false). CRM takes a
# quote discount after the line taxes: keep false for Books' total to equal Grand_Total.
discount_before_tax = false

[map]
date = 'today'
reference_number = 'text(source.Quote_Number) ?? ""'
terms = 'text(source.Terms_and_Conditions) ?? ""'

# One line per Quoted_Items row: `line` is the row as CRM gives it, with `item_id` (its
# Books item). The flow adds each line's discount and tax.
[lines]
from = 'related.lines'
target = "line_items"
[lines.map]
item_id = 'line.item_id'
description = 'text(line.Description) ?? ""'
quantity = 'line.Quantity'
rate = 'line.List_Price'
"#;

/// `[flows.quote_to_invoice]`: the settings and the mapping (over [`DEFAULTS`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuoteToInvoiceConfig {
    /// The `Quote_Stage` that means accepted. Default `Confirmed`.
    pub accepted_stage: String,
    /// The Books invoice custom field (marked unique) holding the CRM quote id. Default
    /// `cf_crm_quote_id`.
    pub crm_id_field: String,
    /// The CRM quote field receiving the invoice id; empty: none. Default
    /// `Books_Invoice_ID`.
    pub books_id_field: String,
    /// Whether Books takes the quote discount before tax. Default false (as CRM).
    pub discount_before_tax: bool,
    /// Only quotes for which this holds are invoiced; the others are skipped with the
    /// reason.
    pub when: Option<toml::Spanned<String>>,
    /// Invoice field = expression over `source` (the CRM quote).
    pub map: BTreeMap<String, toml::Spanned<String>>,
    /// Values for fields whose expression gives no value.
    pub defaults: BTreeMap<String, toml::Value>,
    /// Fields left out when their expression gives no value.
    pub optional: Vec<String>,
    /// The lines (`line_items`), over `related.lines`.
    pub lines: Option<LinesSpec>,
}

impl Default for QuoteToInvoiceConfig {
    fn default() -> Self {
        QuoteToInvoiceConfig {
            accepted_stage: ACCEPTED_STAGE.into(),
            crm_id_field: CRM_ID_FIELD.into(),
            books_id_field: BOOKS_ID_FIELD.into(),
            discount_before_tax: false,
            when: None,
            map: BTreeMap::new(),
            defaults: BTreeMap::new(),
            optional: Vec::new(),
            lines: None,
        }
    }
}

impl QuoteToInvoiceConfig {
    /// The mapping part of the section.
    fn spec(&self) -> MappingSpec {
        MappingSpec { when: self.when.clone(), map: self.map.clone(), defaults: self.defaults.clone(), optional: self.optional.clone(), lines: self.lines.clone() }
    }

    /// The settings and the compiled mapping (the shipped one overlaid by this
    /// section's); `text` is the config file, for exact error offsets.
    fn compile(&self, tables: &Tables, text: Option<&str>) -> Result<Settings, CompileError> {
        let error = |field: &str, message: &str| CompileError { path: format!("flows.{NAME}.{field}"), offset: None, message: message.into() };
        let shipped: QuoteToInvoiceConfig =
            toml::from_str(DEFAULTS).map_err(|e| error("", &format!("the shipped defaults do not parse (a bug): {e}")))?;
        let spec = shipped.spec().overlay(&self.spec());
        let options = CompileOptions { config_text: text, ..CompileOptions::default() };
        let mapping = mapping::compile_with(&spec, NAME, tables, &options)?;
        if mapping.lines_target() != Some("line_items") {
            return Err(error("lines.target", "the lines of an invoice must be its \"line_items\""));
        }
        if self.accepted_stage.trim().is_empty() {
            return Err(error("accepted_stage", "empty: the Quote_Stage meaning the customer accepted"));
        }
        if self.crm_id_field.trim().is_empty() {
            return Err(error("crm_id_field", "empty: the invoice custom field (unique) holding the CRM quote id"));
        }
        Ok(Settings {
            accepted_stage: self.accepted_stage.trim().to_string(),
            crm_id_field: self.crm_id_field.trim().to_string(),
            books_id_field: Some(self.books_id_field.trim().to_string()).filter(|f| !f.is_empty()),
            discount_before_tax: self.discount_before_tax,
            mapping,
            tax_table: tables.get(TAX_TABLE).cloned(),
        })
    }
}

/// The compiled section.
#[derive(Debug, Clone)]
struct Settings {
    accepted_stage: String,
    crm_id_field: String,
    books_id_field: Option<String>,
    discount_before_tax: bool,
    mapping: Mapping,
    /// `[tables.tax]`: CRM tax names (joined with `", "`) → Books tax or tax group id.
    tax_table: Option<BTreeMap<String, toml::Value>>,
}

/// The job that invoices CRM quote `record_id` (key `crm:Quotes:<id>`: one at a time per
/// quote, in order).
pub fn job(record_id: &str) -> NewJob {
    NewJob::for_record(NAME, &RecordRef::crm(RELATION.crm_module, record_id))
}

/// An event saying CRM quote `record_id` changed, as a trigger would store it;
/// `dedup_key` names the change (a second delivery with the same key is absorbed).
pub fn event(connection: &str, source: Source, record_id: &str, dedup_key: &str) -> NewEvent {
    NewEvent::for_record(source, connection, &RecordRef::crm(RELATION.crm_module, record_id), json!({"id": record_id}), dedup_key)
}

/// A JSON number (or numeric text) as a decimal.
fn number(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    text.parse::<Decimal>().or_else(|_| Decimal::from_scientific(&text)).ok()
}

/// A decimal field of a record; absent or empty is zero.
fn amount(record: &Value, field: &str) -> Decimal {
    record.get(field).and_then(number).unwrap_or_default()
}

/// The id of a CRM lookup field (`{"name": …, "id": …}`).
fn lookup_id<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record.get(field)?.get("id")?.as_str().filter(|id| !id.is_empty())
}

/// One `Quoted_Items` row, as CRM computed it.
#[derive(Debug, Clone, PartialEq)]
struct QuoteLine {
    /// Its position (from 1), for messages.
    number: usize,
    /// The CRM product.
    product_id: String,
    /// The product's name, for messages.
    product_name: String,
    /// The line's own discount, an amount.
    discount: Decimal,
    /// Its taxes: CRM tax name and percentage.
    taxes: Vec<(String, Decimal)>,
}

impl QuoteLine {
    /// The CRM tax names joined with `", "` (the key of `[tables.tax]`); `None` when the
    /// line is not taxed.
    fn tax_key(&self) -> Option<String> {
        (!self.taxes.is_empty()).then(|| self.taxes.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", "))
    }

    /// The sum of its tax percentages.
    fn tax_percent(&self) -> Decimal {
        self.taxes.iter().map(|(_, pct)| *pct).sum()
    }
}

/// The quote's `Quoted_Items`, each naming its product; a row without one is refused
/// (Books wants an item per line).
fn quote_lines(quote: &Value) -> Result<Vec<QuoteLine>, String> {
    let rows = quote.get("Quoted_Items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut lines = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let position = i + 1;
        let product_id = lookup_id(row, "Product_Name").ok_or_else(|| format!("Quoted_Items line {position} names no product"))?.to_string();
        let product_name = row.get("Product_Name").and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or_default().to_string();
        let taxes = row
            .get("Line_Tax")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t.get("name")?.as_str()?.trim().to_string(), t.get("percentage").and_then(number).unwrap_or_default())))
            .filter(|(name, _)| !name.is_empty())
            .collect();
        lines.push(QuoteLine { number: position, product_id, product_name, discount: amount(row, "Discount"), taxes });
    }
    Ok(lines)
}

/// A decimal field of a mapped line, or the error naming it.
fn line_number(line: &Map<String, Value>, field: &str, n: usize) -> Result<Decimal, String> {
    line.get(field).and_then(number).ok_or_else(|| format!("invoice line {n}: the mapped {field} is not a number: {}", line.get(field).unwrap_or(&Value::Null)))
}

/// Puts the quote's discounts on the invoice (see the module doc): line discounts when
/// the quote has no quote discount; else the document discount, before or after tax, and
/// each discounted line's own discount carried in its rate. `lines` are the mapped lines,
/// in the order of `quote`'s lines; amounts are rounded to `code`'s decimal places.
fn apply_discounts(
    invoice: &mut Map<String, Value>,
    lines: &mut [Map<String, Value>],
    quote: &[QuoteLine],
    quote_discount: Decimal,
    before_tax: bool,
    code: &str,
) -> Result<(), String> {
    let quote_discount = currency::round(quote_discount, code);
    if quote_discount.is_zero() {
        invoice.insert("discount_type".into(), json!("item_level"));
        for (line, crm) in lines.iter_mut().zip(quote) {
            let discount = currency::round(crm.discount, code);
            if !discount.is_zero() {
                line.insert("discount".into(), decimal_to_json(discount));
            }
        }
        return Ok(());
    }
    invoice.insert("discount_type".into(), json!("entity_level"));
    invoice.insert("discount".into(), decimal_to_json(quote_discount));
    invoice.insert("is_discount_before_tax".into(), json!(before_tax));
    for (line, crm) in lines.iter_mut().zip(quote) {
        let discount = currency::round(crm.discount, code);
        if discount.is_zero() {
            continue;
        }
        let (rate, quantity) = (line_number(line, "rate", crm.number)?, line_number(line, "quantity", crm.number)?);
        let net = currency::round(rate * quantity, code) - discount;
        if net.is_sign_negative() || quantity.is_zero() {
            return Err(format!("Quoted_Items line {} ({}): its discount {discount} is more than the line's amount", crm.number, crm.product_name));
        }
        let said = format!("{quantity} × {rate} less a discount of {discount}");
        // The rate that gives the discounted amount, to at most six places (Books keeps
        // rates to six).
        let net_rate = (net / quantity).round_dp(6);
        if currency::round(net_rate * quantity, code) == net {
            line.insert("rate".into(), decimal_to_json(net_rate.normalize()));
        } else {
            line.insert("quantity".into(), json!(1));
            line.insert("rate".into(), decimal_to_json(net));
        }
        let description = line.get("description").and_then(Value::as_str).map(str::trim).unwrap_or_default();
        let description = if description.is_empty() { said } else { format!("{description}\n{said}") };
        line.insert("description".into(), json!(description));
    }
    Ok(())
}

/// The Books tax (or tax group) of a quote line taxed `key` (its CRM tax names joined
/// with `", "`), from `[tables.tax]` first, else the Books tax of that name (one tax
/// only: a combination needs a table row naming its Books tax group). `books_taxes` are
/// Books' taxes and tax groups: id, name, percentage.
fn books_tax_of(key: &str, table: Option<&BTreeMap<String, toml::Value>>, books_taxes: &[(String, String, Decimal)]) -> Result<(String, Option<Decimal>), String> {
    if let Some(row) = table.and_then(|t| t.get(key)) {
        let id = row
            .as_str()
            .map(str::to_string)
            .or_else(|| row.as_integer().map(|i| i.to_string()))
            .ok_or_else(|| format!("[tables.{TAX_TABLE}] row {key:?} is not a Books tax id (text)"))?;
        let pct = books_taxes.iter().find(|(tid, _, _)| *tid == id).map(|(_, _, pct)| *pct);
        return Ok((id, pct));
    }
    let single = !key.contains(", ");
    match books_taxes.iter().find(|(_, name, _)| single && name.trim().eq_ignore_ascii_case(key)) {
        Some((id, _, pct)) => Ok((id.clone(), Some(*pct))),
        None => Err(format!(
            "the CRM tax {key:?} has no Books tax of that name and no row in [tables.{TAX_TABLE}]: add `\"{key}\" = \"<Books tax or tax group id>\"`"
        )),
    }
}

/// What Books computed for the invoice, as the totals check compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BooksTotals {
    sub_total: Decimal,
    tax_total: Decimal,
    total: Decimal,
}

/// Why Books' total differs from the quote's, when the figures tell: the tax (a tax rule
/// applied, or a Books tax at another rate than CRM's), the quote discount's place
/// (before tax in Books), or the lines' amounts.
fn mismatch_cause(quote: &Value, books: &BooksTotals, code: &str, before_tax: bool, tax_note: Option<&str>) -> Option<String> {
    let close = |a: Decimal, b: Decimal| (a - b).abs() <= currency::minor_unit(code);
    let crm_tax = amount(quote, "Tax");
    let mut causes = Vec::new();
    if !close(crm_tax, books.tax_total) {
        let mut said = format!("tax: the quote's is {crm_tax}, Books computed {}", books.tax_total);
        if let Some(note) = tax_note {
            said.push_str(&format!(" ({note})"));
        }
        if before_tax && !amount(quote, "Discount").is_zero() {
            said.push_str("; Books takes the quote discount before tax (discount_before_tax = true), CRM after");
        }
        causes.push(said);
    }
    let crm_lines = amount(quote, "Sub_Total");
    if !close(crm_lines, books.sub_total) {
        causes.push(format!("lines: the quote's sub total is {crm_lines}, the invoice's {} (a price or a line discount was not carried)", books.sub_total));
    }
    (!causes.is_empty()).then(|| causes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn crm_line(number: usize, discount: &str, taxes: &[(&str, &str)]) -> QuoteLine {
        QuoteLine {
            number,
            product_id: format!("P{number}"),
            product_name: format!("Product {number}"),
            discount: d(discount),
            taxes: taxes.iter().map(|(n, p)| (n.to_string(), d(p))).collect(),
        }
    }

    fn mapped(rate: &str, quantity: &str, description: &str) -> Map<String, Value> {
        let Value::Object(line) = json!({"item_id": "I", "rate": number(&json!(rate)).map(decimal_to_json), "quantity": number(&json!(quantity)).map(decimal_to_json), "description": description}) else {
            unreachable!()
        };
        line
    }

    #[test]
    fn the_shipped_section_parses_to_the_default_settings_and_compiles() {
        let shipped: QuoteToInvoiceConfig = toml::from_str(DEFAULTS).unwrap();
        let default = QuoteToInvoiceConfig::default();
        assert_eq!(
            (&shipped.accepted_stage, &shipped.crm_id_field, &shipped.books_id_field, shipped.discount_before_tax),
            (&default.accepted_stage, &default.crm_id_field, &default.books_id_field, default.discount_before_tax)
        );
        let settings = default.compile(&Tables::new(), None).unwrap();
        let mut fields = settings.mapping.source_fields().to_vec();
        fields.sort();
        assert_eq!(fields, ["Quote_Number", "Terms_and_Conditions"]);
        assert_eq!(settings.mapping.line_target_fields(), ["description", "item_id", "quantity", "rate"]);
        let bad = QuoteToInvoiceConfig { accepted_stage: " ".into(), ..QuoteToInvoiceConfig::default() };
        assert_eq!(bad.compile(&Tables::new(), None).unwrap_err().path, "flows.quote_to_invoice.accepted_stage");
        let text = "[lines]\ntarget = \"items\"\n";
        let moved: QuoteToInvoiceConfig = toml::from_str(text).unwrap();
        assert_eq!(moved.compile(&Tables::new(), Some(text)).unwrap_err().path, "flows.quote_to_invoice.lines.target");
    }

    #[test]
    fn quote_lines_keep_product_discount_and_taxes() {
        let quote = json!({"Quoted_Items": [
            {"Product_Name": {"id": "11", "name": "Widget"}, "Quantity": 3, "List_Price": 19.99, "Discount": 5,
             "Line_Tax": [{"name": "Sales Tax", "percentage": 8.25}, {"name": "City Tax", "percentage": 3.25}]},
            {"Product_Name": {"id": "12", "name": "Gadget"}, "Quantity": 1, "List_Price": 10, "Line_Tax": []},
        ]});
        let lines = quote_lines(&quote).unwrap();
        assert_eq!(lines[0], crm_line(1, "5", &[("Sales Tax", "8.25"), ("City Tax", "3.25")]).with_product("11", "Widget"));
        assert_eq!(lines[0].tax_key().as_deref(), Some("Sales Tax, City Tax"));
        assert_eq!(lines[0].tax_percent(), d("11.50"));
        assert_eq!((lines[1].discount, lines[1].tax_key()), (Decimal::ZERO, None));
        let err = quote_lines(&json!({"Quoted_Items": [{"Quantity": 1}]})).unwrap_err();
        assert_eq!(err, "Quoted_Items line 1 names no product");
        assert!(quote_lines(&json!({})).unwrap().is_empty());
    }

    impl QuoteLine {
        fn with_product(mut self, id: &str, name: &str) -> QuoteLine {
            self.product_id = id.into();
            self.product_name = name.into();
            self
        }
    }

    #[test]
    fn without_a_quote_discount_the_lines_keep_their_discounts() {
        let mut invoice = Map::new();
        let mut lines = vec![mapped("19.99", "3", ""), mapped("1234", "1", "")];
        let quote = [crm_line(1, "6", &[]), crm_line(2, "0", &[])];
        apply_discounts(&mut invoice, &mut lines, &quote, Decimal::ZERO, false, "USD").unwrap();
        assert_eq!(Value::Object(invoice), json!({"discount_type": "item_level"}));
        assert_eq!(lines[0]["discount"], json!(6));
        assert!(!lines[1].contains_key("discount"));
        // JPY: a discount is whole yen.
        let mut invoice = Map::new();
        let mut lines = vec![mapped("1234", "3", "")];
        apply_discounts(&mut invoice, &mut lines, &[crm_line(1, "277.65", &[])], Decimal::ZERO, false, "JPY").unwrap();
        assert_eq!(lines[0]["discount"], json!(278));
    }

    #[test]
    fn a_quote_discount_is_the_documents_and_line_discounts_go_into_the_rate() {
        let mut invoice = Map::new();
        let mut lines = vec![mapped("20", "3", "Blue"), mapped("19.99", "3", ""), mapped("10", "2", "")];
        let quote = [crm_line(1, "6", &[]), crm_line(2, "5", &[]), crm_line(3, "0", &[])];
        apply_discounts(&mut invoice, &mut lines, &quote, d("12.345"), true, "USD").unwrap();
        assert_eq!(Value::Object(invoice), json!({"discount_type": "entity_level", "discount": 12.35, "is_discount_before_tax": true}));
        // 60 - 6 = 54 = 3 × 18: the rate says it.
        assert_eq!((&lines[0]["rate"], &lines[0]["quantity"]), (&json!(18), &json!(3)));
        assert_eq!(lines[0]["description"], "Blue\n3 × 20 less a discount of 6");
        // 59.97 - 5 = 54.97 is no multiple of 3, but 3 × 18.323333 rounds to it.
        assert_eq!((&lines[1]["rate"], &lines[1]["quantity"]), (&json!(18.323333), &json!(3)));
        assert_eq!((&lines[2]["rate"], &lines[2]["quantity"], &lines[2]["description"]), (&json!(10), &json!(2), &json!("")));
        // A rate that cannot give the amount at six places: one unit at the amount.
        let mut lines = vec![mapped("0.0000003", "10000000", "")];
        apply_discounts(&mut Map::new(), &mut lines, &[crm_line(1, "1", &[])], d("1"), false, "USD").unwrap();
        assert_eq!((&lines[0]["rate"], &lines[0]["quantity"]), (&json!(2), &json!(1)));
        // A discount larger than its line is refused, naming it.
        let mut lines = vec![mapped("1", "1", "")];
        let err = apply_discounts(&mut Map::new(), &mut lines, &[crm_line(1, "2", &[])], d("1"), false, "USD").unwrap_err();
        assert!(err.starts_with("Quoted_Items line 1 (Product 1): its discount 2"), "{err}");
    }

    #[test]
    fn line_taxes_come_from_the_table_then_from_books_by_name() {
        let books = vec![("T1".to_string(), "Sales Tax".to_string(), d("8.25")), ("G1".to_string(), "State + City".to_string(), d("11.5"))];
        let table: BTreeMap<String, toml::Value> = toml::from_str("\"Sales Tax, City Tax\" = \"G1\"\nVAT = \"T9\"").unwrap();
        assert_eq!(books_tax_of("sales tax", None, &books), Ok(("T1".into(), Some(d("8.25")))));
        assert_eq!(books_tax_of("Sales Tax, City Tax", Some(&table), &books), Ok(("G1".into(), Some(d("11.5")))));
        assert_eq!(books_tax_of("VAT", Some(&table), &books), Ok(("T9".into(), None)));
        let err = books_tax_of("Sales Tax, City Tax", None, &books).unwrap_err();
        assert!(err.contains("[tables.tax]") && err.contains("\"Sales Tax, City Tax\" = "), "{err}");
        assert!(books_tax_of("GST", None, &books).is_err());
    }

    #[test]
    fn the_cause_of_a_mismatch_names_the_tax_the_discount_or_the_lines() {
        let quote = json!({"Sub_Total": 100, "Tax": 8.25, "Discount": 10, "Grand_Total": 98.25});
        let books = BooksTotals { sub_total: d("100"), tax_total: d("7.43"), total: d("97.43") };
        let cause = mismatch_cause(&quote, &books, "USD", true, None).unwrap();
        assert_eq!(cause, "tax: the quote's is 8.25, Books computed 7.43; Books takes the quote discount before tax (discount_before_tax = true), CRM after");
        let books = BooksTotals { sub_total: d("100"), tax_total: d("7.25"), total: d("97.25") };
        let cause = mismatch_cause(&quote, &books, "USD", false, Some("tax rule \"US California\": CA Sales Tax")).unwrap();
        assert_eq!(cause, "tax: the quote's is 8.25, Books computed 7.25 (tax rule \"US California\": CA Sales Tax)");
        let books = BooksTotals { sub_total: d("90"), tax_total: d("8.26"), total: d("88.26") };
        assert!(mismatch_cause(&quote, &books, "USD", false, None).unwrap().starts_with("lines: the quote's sub total is 100"));
        assert_eq!(mismatch_cause(&quote, &BooksTotals { sub_total: d("100.01"), tax_total: d("8.25"), total: d("98.26") }, "USD", false, None), None);
    }
}
