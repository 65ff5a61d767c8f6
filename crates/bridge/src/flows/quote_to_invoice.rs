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
//! **What.** The document-level fields are mapped by the flow's mapping
//! (`[flows.quote_to_invoice]`; shipped default: [`DEFAULTS`]: date ← today,
//! `reference_number` ← `Quote_Number`, `terms` ← `Terms_and_Conditions`). The order
//! code shared with `deal_to_invoice` ([`super::order`]) finds the customer (the account's
//! link, else `customer_sync`'s matching and creation), the currency (`[money.currency]`)
//! and the tax rule (`[[money.tax_rules]]`), and makes the lines: one per `Quoted_Items`
//! row, with its Books item (through the `product_item` link; a product not yet synced
//! is synced first, in the same job, by `catalog_sync`), description, quantity, list
//! price and discount. The flow adds the lines' taxes, the quote discount, the
//! adjustment, `zcrm_potential_id` ← the quote's deal, and the custom field holding the
//! quote id. The CRM quote then gets the invoice id (`Books_Invoice_ID`), and the two are
//! linked.
//!
//! **Taxes.** With tax rules, the rule's tax goes on every line CRM taxed (an exempt
//! invoice has none); without, each line gets its own CRM taxes in Books: the
//! `[tables.tax]` row of its tax names (joined with `", "`, as `catalog_sync` looks them
//! up), else the Books tax of that name. A line CRM did not tax is not taxed.
//!
//! **Discounts.** CRM keeps a discount amount per line and one for the quote; a Books
//! invoice has either line discounts (`discount_type = item_level`) or one document
//! discount (`entity_level`), never both. A quote without a quote discount gives line
//! discounts (amounts, as CRM keeps them). A quote with one gives the document discount,
//! taken before or after tax as `discount_before_tax` says (Books'
//! `is_discount_before_tax`; CRM takes a quote discount after the line taxes, so the
//! shipped `false` is what makes the totals agree), and a line that also has a discount
//! of its own carries it in its rate: the discounted line amount over the quantity (when
//! a rate of at most six places gives the line amount exactly, else one unit at the line
//! amount), its description saying what the list price and the discount were.
//!
//! **Totals.** Books' own total must equal the quote's `Grand_Total` (to the currency's
//! rounding); otherwise the totals check records a mismatch in the audit log with both
//! figures and the cause when the flow can tell (the tax, the discount's place, the
//! lines), and the draft is kept for a person to correct.
//!
//! **Calls per quote: 4; 3 sequential round trips until the invoice exists.** The quote
//! is read (1; its link and snapshot are read from the store at the same time); the
//! customer is read for its currency and address (2; its link is in the store, the first
//! time `customer_sync` matches or creates it); the invoice is upserted (3; no search
//! before it: the upsert key makes it idempotent); the quote gets the invoice id (4).
//! Books' settings (taxes, currencies, templates) are read once per process. A quoted
//! product not yet synced costs `catalog_sync`'s calls, once.

use std::collections::BTreeMap;

use futures_util::{FutureExt, future::try_join_all};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zoho::{
    books::{UpsertOutcome, models::Invoice},
    crm::records::WriteOptions,
};

use super::{
    Context, FieldKind, Flow, FlowError, FlowFuture, FlowShape, Outcome, TargetField, Write, Wrote,
    catalog_sync::CatalogSync,
    order::{AppliedTax, Billed, Billing, LineDiscount, OrderLine, Orders, TotalsCheck, books_lines, document_tax_fields, line_causes},
    relations::{PRODUCT_ITEM, QUOTE_INVOICE, Relation},
};
use crate::{
    hash::content_hash,
    mapping::{self, CompileError, CompileOptions, Input, Mapping, MappingSpec, Tables, value::decimal_to_json},
    money::currency,
    store::{NewEvent, NewJob, RecordRef, Source, System},
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
];

/// The shipped `[flows.quote_to_invoice]` section: the flow's settings and its default
/// mapping (the invoice's own fields; the lines are the quote's). A user's section
/// overrides it field by field.
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
        }
    }
}

impl QuoteToInvoiceConfig {
    /// The mapping part of the section.
    fn spec(&self) -> MappingSpec {
        MappingSpec { when: self.when.clone(), map: self.map.clone(), defaults: self.defaults.clone(), optional: self.optional.clone(), lines: None }
    }

    /// The settings and the compiled mapping (the shipped one overlaid by this
    /// section's); `text` is the config file, for exact error offsets.
    fn compile(&self, tables: &Tables, text: Option<&str>) -> Result<Settings, CompileError> {
        let error = |field: &str, message: &str| CompileError { path: format!("flows.{NAME}.{field}"), offset: None, message: message.into() };
        let shipped: QuoteToInvoiceConfig = toml::from_str(DEFAULTS).map_err(|e| error("", &format!("the shipped defaults do not parse (a bug): {e}")))?;
        let spec = shipped.spec().overlay(&self.spec());
        let options = CompileOptions { config_text: text, ..CompileOptions::default() };
        let mapping = mapping::compile_with(&spec, NAME, tables, &options)?;
        if let Some(field) = spec.map.keys().find(|f| FLOW_FIELDS.contains(&f.as_str())) {
            return Err(error(&format!("map.{field}"), "the flow writes this field itself (from the quote and the order rules)"));
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

    /// The flow as configured; `catalog` syncs quoted products not yet synced, `orders`
    /// finds the customer, the currency and the tax.
    pub fn build(&self, tables: &Tables, text: Option<&str>, catalog: CatalogSync, orders: Orders) -> Result<QuoteToInvoice, CompileError> {
        Ok(QuoteToInvoice { settings: self.compile(tables, text)?, catalog, orders })
    }
}

/// The invoice fields the flow writes itself (a mapping naming one is refused at load).
const FLOW_FIELDS: &[&str] = &[
    "customer_id",
    "currency_id",
    "line_items",
    "discount",
    "discount_type",
    "is_discount_before_tax",
    "adjustment",
    "zcrm_potential_id",
    "custom_fields",
    "tax_exemption_id",
];

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

/// One `Quoted_Items` row, as CRM keeps it.
#[derive(Debug, Clone, PartialEq)]
struct QuoteLine {
    /// Its position (from 1), for messages.
    number: usize,
    /// The CRM product.
    product_id: String,
    /// The product's name.
    product_name: String,
    /// The row's description.
    description: Option<String>,
    /// Quantity.
    quantity: Decimal,
    /// List price, in the quote's currency.
    list_price: Decimal,
    /// The line's own discount, an amount.
    discount: Decimal,
    /// Its taxes' CRM names.
    taxes: Vec<String>,
}

impl QuoteLine {
    /// The CRM tax names joined with `", "` (the key of `[tables.tax]`); `None` when the
    /// line is not taxed.
    fn tax_key(&self) -> Option<String> {
        (!self.taxes.is_empty()).then(|| self.taxes.join(", "))
    }

    /// The line for the order code, with its Books item.
    fn order_line(&self, item_id: &str) -> OrderLine {
        OrderLine {
            item_id: Some(item_id.to_string()),
            name: self.product_name.clone(),
            description: self.description.clone(),
            quantity: self.quantity,
            rate: self.list_price,
            discount: (!self.discount.is_zero()).then_some(LineDiscount::Amount(self.discount)),
        }
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
        let text = |field: &str| row.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let taxes = row
            .get("Line_Tax")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.get("name")?.as_str().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string))
            .collect();
        lines.push(QuoteLine {
            number: position,
            product_id,
            product_name: row.get("Product_Name").and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or_default().to_string(),
            description: text("Description"),
            quantity: row.get("Quantity").and_then(number).unwrap_or(Decimal::ONE),
            list_price: amount(row, "List_Price"),
            discount: amount(row, "Discount"),
            taxes,
        });
    }
    Ok(lines)
}

/// Puts the quote's discount on the invoice (see the module doc). `lines` are the Books
/// lines, carrying their own discounts (amounts); without a quote discount they keep
/// them (`item_level`); with one, the invoice gets it (`entity_level`, before or after
/// tax) and each line's own discount goes into its rate. Amounts are in `code`, already
/// rounded.
fn apply_discounts(
    invoice: &mut Map<String, Value>,
    lines: &mut [Map<String, Value>],
    quote_discount: Decimal,
    before_tax: bool,
    code: &str,
) -> Result<(), String> {
    if quote_discount.is_zero() {
        invoice.insert("discount_type".into(), json!("item_level"));
        return Ok(());
    }
    invoice.insert("discount_type".into(), json!("entity_level"));
    invoice.insert("discount".into(), decimal_to_json(quote_discount));
    invoice.insert("is_discount_before_tax".into(), json!(before_tax));
    for (n, line) in lines.iter_mut().enumerate() {
        let Some(discount) = line.remove("discount").as_ref().and_then(number).filter(|d| !d.is_zero()) else { continue };
        let field = |line: &Map<String, Value>, field: &str| {
            line.get(field)
                .and_then(number)
                .ok_or_else(|| format!("invoice line {}: {field} is not a number: {}", n + 1, line.get(field).unwrap_or(&Value::Null)))
        };
        let (rate, quantity) = (field(line, "rate")?, field(line, "quantity")?);
        let net = currency::round(rate * quantity, code) - discount;
        if net.is_sign_negative() || quantity.is_zero() {
            let name = line.get("name").and_then(Value::as_str).unwrap_or_default();
            return Err(format!("Quoted_Items line {} ({name}): its discount {discount} is more than the line's amount", n + 1));
        }
        let places = currency::decimals(code) as usize;
        let said = format!("{quantity} × {rate} less a discount of {discount:.places$}");
        // The rate that gives the discounted amount, to at most six places.
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

/// The Books tax (or tax group) id of a quote line taxed `key` (its CRM tax names joined
/// with `", "`), from `[tables.tax]` first, else the Books tax of that name (one tax
/// only: a combination needs a table row naming its Books tax group). `books_taxes` are
/// Books' taxes and tax groups as (id, name).
fn books_tax_of<'a>(
    key: &str,
    table: Option<&BTreeMap<String, toml::Value>>,
    mut books_taxes: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<String, String> {
    if let Some(row) = table.and_then(|t| t.get(key)) {
        return row
            .as_str()
            .map(str::to_string)
            .or_else(|| row.as_integer().map(|i| i.to_string()))
            .ok_or_else(|| format!("[tables.{TAX_TABLE}] row {key:?} is not a Books tax id (text)"));
    }
    let single = !key.contains(", ");
    match books_taxes.find(|(_, name)| single && name.trim().eq_ignore_ascii_case(key)) {
        Some((id, _)) => Ok(id.to_string()),
        None => Err(format!(
            "the CRM tax {key:?} has no Books tax of that name and no row in [tables.{TAX_TABLE}]: add `\"{key}\" = \"<Books tax or tax group id>\"`"
        )),
    }
}

/// What Books computed for the invoice, as the totals check explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BooksTotals {
    sub_total: Decimal,
    tax_total: Decimal,
}

/// Why Books' figures differ from the quote's, when they tell: the tax (a tax rule
/// applied, the quote discount taken before tax) or the lines' amounts. The quote's
/// figures are converted by `billing` first.
fn mismatch_causes(quote: &Value, books: &BooksTotals, billing: &Billing, before_tax: bool, tax_note: Option<&str>) -> Vec<String> {
    let code = billing.currency.as_str();
    let close = |a: Decimal, b: Decimal| (a - b).abs() <= currency::minor_unit(code);
    let crm_tax = billing.amount(amount(quote, "Tax"));
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
    if let Some(conversion) = &billing.conversion {
        causes.push(format!("the quote's amounts converted from {} to {}", conversion.from, conversion.to));
    }
    let crm_lines = billing.amount(amount(quote, "Sub_Total"));
    if !close(crm_lines, books.sub_total) {
        causes.push(format!("lines: the quote's sub total is {crm_lines}, the invoice's {} (a price or a line discount was not carried)", books.sub_total));
    }
    causes
}

/// CRM Quote → Books draft invoice.
#[derive(Debug, Clone)]
pub struct QuoteToInvoice {
    settings: Settings,
    /// Syncs a quoted product that has no Books item yet.
    catalog: CatalogSync,
    /// The order code shared with `deal_to_invoice`: customer, currency, tax rules.
    orders: Orders,
}

impl QuoteToInvoice {
    /// Its compiled mapping (the shipped one overlaid by the config's).
    pub fn mapping(&self) -> &Mapping {
        &self.settings.mapping
    }

    /// The quote fields the flow reads: its mapping's, the ones it always needs, and the
    /// field it writes the invoice id to (to write it only once).
    fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = self.settings.mapping.source_fields().iter().map(String::as_str).collect();
        fields.extend(ALWAYS_READ.iter().copied().chain(self.settings.books_id_field.as_deref()));
        fields.sort_unstable();
        fields.dedup();
        fields
    }

    /// The Books item of each quoted product: their links read at once, then the
    /// products not yet synced synced one by one (in line order).
    async fn items_of(&self, ctx: &mut Context<'_>, lines: &[QuoteLine]) -> Result<Vec<String>, FlowError> {
        let mut products: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
        products.sort_unstable();
        products.dedup();
        let reads = products.iter().map(|id| {
            let ctx = &*ctx;
            async move { ctx.link_by_crm(&PRODUCT_ITEM, id).await.map(|link| (id.to_string(), link.map(|l| l.books_id))) }
        });
        let mut known: BTreeMap<String, Option<String>> = try_join_all(reads).await?.into_iter().collect();
        let mut items = Vec::with_capacity(lines.len());
        for line in lines {
            if let Some(Some(item)) = known.get(&line.product_id) {
                items.push(item.clone());
                continue;
            }
            ctx.note(format!("quoted product {} has no Books item yet: syncing it first", line.product_id));
            let item = match self.catalog.sync_product(ctx, &line.product_id).await? {
                (_, Some(written)) => written.item_id,
                (Outcome::Done(why) | Outcome::Skipped(why), None) => {
                    return Err(FlowError::Data(format!(
                        "Quoted_Items line {} names CRM product {} ({}), which cannot become a Books item ({why})",
                        line.number, line.product_id, line.product_name
                    )));
                }
            };
            known.insert(line.product_id.clone(), Some(item.clone()));
            items.push(item);
        }
        Ok(items)
    }

    /// Each line's Books tax id (`""`: untaxed): the rule's on every line CRM taxed (none
    /// on an exempt invoice), else the line's own CRM taxes in Books. Also a note for the
    /// totals check saying where the taxes came from.
    async fn line_taxes(&self, ctx: &Context<'_>, lines: &[QuoteLine], tax: Option<&AppliedTax>) -> Result<(Vec<String>, Option<String>), FlowError> {
        if let Some(applied) = tax {
            let id = applied.tax_id.clone().unwrap_or_default();
            let taxes = lines.iter().map(|l| if l.taxes.is_empty() { String::new() } else { id.clone() }).collect();
            let note = match &applied.exemption_id {
                Some(_) => format!("tax rule {:?}: exempt", applied.rule),
                None => format!("tax rule {:?} applied", applied.rule),
            };
            return Ok((taxes, Some(note)));
        }
        let table = self.settings.tax_table.as_ref();
        let keys: Vec<Option<String>> = lines.iter().map(QuoteLine::tax_key).collect();
        // Books' taxes are read (once per process) only when the table does not say.
        let needs_books = keys.iter().flatten().any(|k| table.is_none_or(|t| !t.contains_key(k)));
        let settings = if needs_books { Some(self.orders.settings(ctx).await?) } else { None };
        let books_taxes = || settings.iter().flat_map(|s| s.taxes.iter().map(|t| (t.id.as_str(), t.name.as_str())));
        let mut taxes = Vec::with_capacity(lines.len());
        for (line, key) in lines.iter().zip(&keys) {
            taxes.push(match key {
                None => String::new(),
                Some(key) => books_tax_of(key, table, books_taxes()).map_err(|e| FlowError::Data(format!("Quoted_Items line {}: {e}", line.number)))?,
            });
        }
        Ok((taxes, None))
    }

    /// The invoice payload: the mapping over the quote, the lines (with their taxes), the
    /// discounts, the adjustment, customer, tax treatment, deal and the custom field
    /// holding the quote id. `Err(reason)`: the mapping skips the quote.
    #[allow(clippy::too_many_arguments)]
    fn payload(
        &self,
        ctx: &Context<'_>,
        quote: &Value,
        lines: &[QuoteLine],
        items: &[String],
        taxes: &[String],
        billing: &Billing,
        tax: Option<&AppliedTax>,
    ) -> Result<Result<Value, String>, FlowError> {
        let input = Input { source: quote, related: &Value::Null, now: ctx.now() };
        let mut invoice = match self.settings.mapping.evaluate(&input).map_err(|e| FlowError::Data(e.to_string()))? {
            mapping::Outcome::Skipped(reason) => return Ok(Err(reason)),
            mapping::Outcome::Payload(invoice) => invoice,
        };
        let order: Vec<OrderLine> = lines.iter().zip(items).map(|(l, item)| l.order_line(item)).collect();
        let mut books: Vec<Map<String, Value>> = Vec::with_capacity(order.len());
        for (line, tax_id) in books_lines(&order, billing, tax).into_iter().zip(taxes) {
            let Ok(Value::Object(mut line)) = serde_json::to_value(&line) else {
                return Err(FlowError::Data(format!("an invoice line is not a JSON object: {line:?}")));
            };
            line.insert("tax_id".into(), json!(tax_id));
            books.push(line);
        }
        let code = billing.currency.as_str();
        apply_discounts(&mut invoice, &mut books, billing.amount(amount(quote, "Discount")), self.settings.discount_before_tax, code)
            .map_err(FlowError::Data)?;
        invoice.insert("line_items".into(), Value::Array(books.into_iter().map(Value::Object).collect()));
        let adjustment = billing.amount(amount(quote, "Adjustment"));
        if !adjustment.is_zero() {
            invoice.insert("adjustment".into(), decimal_to_json(adjustment));
            invoice.insert("adjustment_description".into(), json!("Adjustment"));
        }
        invoice.insert("customer_id".into(), json!(billing.customer.id));
        for (field, value) in document_tax_fields(tax, false) {
            let mapped = invoice.get(&field).and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty());
            let value = match (field.as_str(), mapped, value.as_str()) {
                ("notes", Some(mapped), Some(reason)) => json!(format!("{mapped}\n{reason}")),
                _ => value,
            };
            invoice.insert(field, value);
        }
        if let Some(deal) = lookup_id(quote, "Deal_Name") {
            invoice.insert("zcrm_potential_id".into(), json!(deal));
        }
        invoice.insert("custom_fields".into(), json!([{"api_name": self.settings.crm_id_field, "value": ctx.record().id}]));
        Ok(Ok(Value::Object(invoice)))
    }

    /// Writes the invoice: one upsert keyed by the custom field holding the quote id (a
    /// draft when created). Returns the invoice sent, the one written, and whether it was
    /// created.
    async fn upsert(&self, ctx: &mut Context<'_>, payload: &Value) -> Result<(Invoice, Invoice, bool), FlowError> {
        let quote_id = ctx.record().id.clone();
        let invoice: Invoice =
            serde_json::from_value(payload.clone()).map_err(|e| FlowError::Data(format!("the mapped payload is not a Books invoice: {e}")))?;
        let write = Write { system: System::Books, module: RELATION.books_entity, action: "upsert", record_id: None, request: payload };
        let n = ctx.announce(write).await?;
        match ctx.client().books().upsert_invoice(&self.settings.crm_id_field, &quote_id, &invoice).await {
            Ok((written, outcome)) => {
                let created = outcome == UpsertOutcome::Created;
                ctx.answer(n, written.invoice_id.as_deref(), Some(if created { "create" } else { "update" }), Ok(&written));
                Ok((invoice, written, created))
            }
            Err(e) => {
                ctx.answer::<Invoice>(n, None, None, Err(&e));
                Err(e.into())
            }
        }
    }

    /// Writes the invoice id to the quote (unless it holds it already).
    async fn write_back(&self, ctx: &mut Context<'_>, quote: &Value, invoice_id: &str) -> Result<(), FlowError> {
        let Some(field) = self.settings.books_id_field.as_deref() else { return Ok(()) };
        if quote.get(field).and_then(Value::as_str) == Some(invoice_id) {
            return Ok(());
        }
        let quote_id = ctx.record().id.clone();
        let body = json!({ "id": quote_id, field: invoice_id });
        let write = Write { system: System::Crm, module: RELATION.crm_module, action: "update", record_id: Some(&quote_id), request: &body };
        let crm = ctx.client().crm();
        let results =
            ctx.write(write, crm.update(RELATION.crm_module, std::slice::from_ref(&body), &WriteOptions::no_triggers()), |_| Some(quote_id.clone())).await?;
        match results.iter().find(|r| !r.is_success()) {
            Some(r) => Err(FlowError::Data(format!("CRM refused writing {field} = {invoice_id} on the quote: {} {} {}", r.code, r.message, r.details))),
            None => Ok(()),
        }
    }

    async fn invoice(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let quote_id = ctx.record().id.clone();
        let fields = self.fields();
        // The quote, its link and what this flow saw of it last, at once.
        let crm = ctx.client().crm();
        let read = crm.get::<Value>(RELATION.crm_module, &quote_id, &fields);
        let (quote, link, previous) = tokio::join!(read, ctx.link_by_crm(&RELATION, &quote_id), ctx.previous_snapshot());
        let Some(quote) = quote? else {
            return Ok(Outcome::Skipped(format!("Quotes {quote_id} no longer exists in CRM")));
        };
        ctx.saw_source(&quote);
        let stage = quote.get("Quote_Stage").and_then(Value::as_str).unwrap_or_default().to_string();
        ctx.keep_snapshot(json!({ "Quote_Stage": stage }));
        let accepted = self.settings.accepted_stage.as_str();
        if stage != accepted {
            return Ok(Outcome::Skipped(format!("its stage {stage:?} is not the accepted stage {accepted:?}")));
        }
        if let Some(link) = link? {
            return Ok(Outcome::Skipped(format!("already invoiced: Books invoice {} (a quote is invoiced once)", link.books_id)));
        }
        let was = previous?.and_then(|p| p.get("Quote_Stage").and_then(Value::as_str).map(str::to_string));
        if was.as_deref() == Some(accepted) && !ctx.asked_for().await? {
            return Ok(Outcome::Skipped(format!("it was {accepted:?} already when last seen: a quote is invoiced when it becomes accepted")));
        }
        let input = Input { source: &quote, related: &Value::Null, now: ctx.now() };
        if let Some(reason) = self.settings.mapping.skip_reason(&input).map_err(|e| FlowError::Data(e.to_string()))? {
            return Ok(Outcome::Skipped(reason));
        }
        let lines = quote_lines(&quote).map_err(FlowError::Data)?;
        if lines.is_empty() {
            return Err(FlowError::Data("the quote has no Quoted_Items: a Books invoice needs at least one line".into()));
        }
        let account =
            lookup_id(&quote, "Account_Name").ok_or_else(|| FlowError::Data("the quote names no account (Account_Name): nobody to invoice".into()))?;
        let what = format!("quote {quote_id}");
        let billed = Billed {
            what: &what,
            account_id: account,
            currency: quote.get("Currency").and_then(Value::as_str),
            exchange_rate: quote.get("Exchange_Rate").and_then(number),
        };
        let billing = self.orders.billing(ctx, billed).await?;
        let tax = self.orders.tax(ctx, &billing.customer).await?;
        let items = self.items_of(ctx, &lines).await?;
        let (taxes, tax_note) = self.line_taxes(ctx, &lines, tax.as_ref()).await?;
        let payload = match self.payload(ctx, &quote, &lines, &items, &taxes, &billing, tax.as_ref())? {
            Ok(payload) => payload,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        ctx.mapped(&payload);
        let hash = content_hash(&payload);
        ctx.note(format!("upsert the Books invoice keyed by {} = {quote_id}", self.settings.crm_id_field));
        let (sent, written, created) = self.upsert(ctx, &payload).await?;
        let id = written.invoice_id.clone().ok_or_else(|| FlowError::Data("Books returned an invoice without invoice_id".into()))?;
        ctx.link(&RELATION, &quote_id, &id, Wrote::Books(hash));
        let books = BooksTotals { sub_total: written.sub_total.unwrap_or_default(), tax_total: written.tax_total.unwrap_or_default() };
        let mut causes = mismatch_causes(&quote, &books, &billing, self.settings.discount_before_tax, tax_note.as_deref());
        causes.extend(line_causes(&sent.line_items, &written.line_items));
        let total = written.total.unwrap_or_default();
        let check = TotalsCheck {
            crm_module: RELATION.crm_module,
            crm_id: quote_id.clone(),
            crm_total: billing.amount(amount(&quote, "Grand_Total")),
            books_entity: RELATION.books_entity,
            books_id: id.clone(),
            books_number: written.invoice_number.clone(),
            books_total: total,
            currency: billing.currency.clone(),
            causes,
        };
        let crm_total = check.crm_total;
        let matched = check.record(ctx).await?;
        self.write_back(ctx, &quote, &id).await?;
        let how = if created { "created draft" } else { "updated (matched by the quote id)" };
        let number = written.invoice_number.as_deref().unwrap_or(&id);
        let leak = if matched { String::new() } else { format!("; it differs from the quote's Grand_Total {crm_total} (recorded)") };
        Ok(Outcome::Done(format!("{how} Books invoice {number} ({id}), total {total} {}{leak}", billing.currency)))
    }
}

impl Flow for QuoteToInvoice {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.invoice(ctx).boxed()
    }

    fn shape(&self) -> FlowShape {
        FlowShape {
            source: Some((System::Crm, RELATION.crm_module)),
            target: Some((System::Books, RELATION.books_entity)),
            mapping: Some(self.settings.mapping.clone()),
            target_fields: INVOICE_FIELDS,
            unique_keys: vec![(format!("flows.{NAME}.crm_id_field"), self.settings.crm_id_field.clone())],
            crm_fields: super::deal_to_invoice::write_back_field(NAME, RELATION.crm_module, self.settings.books_id_field.as_deref().unwrap_or_default()),
        }
    }
}

/// The Books invoice fields a mapping may write (Books v3 invoices: create and update
/// bodies), besides those the flow writes itself.
const INVOICE_FIELDS: &[TargetField] = &[
    TargetField { name: "date", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "due_date", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "payment_terms", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "payment_terms_label", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "reference_number", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "invoice_number", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "salesperson_name", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "notes", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "terms", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "template_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "shipping_charge", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "adjustment_description", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "is_inclusive_tax", kind: FieldKind::Bool, mandatory: false },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        flows::order::{Conversion, Customer},
        money::RateSource,
    };

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A Books line as the order code makes it: rate, quantity, description, and the
    /// line's discount amount when it has one.
    fn line(rate: &str, quantity: &str, description: &str, discount: Option<&str>) -> Map<String, Value> {
        let mut line = Map::new();
        line.insert("name".into(), json!("Widget"));
        line.insert("rate".into(), decimal_to_json(d(rate)));
        line.insert("quantity".into(), decimal_to_json(d(quantity)));
        line.insert("description".into(), json!(description));
        if let Some(discount) = discount {
            line.insert("discount".into(), json!(discount));
        }
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
        let bad = QuoteToInvoiceConfig { accepted_stage: " ".into(), ..QuoteToInvoiceConfig::default() };
        assert_eq!(bad.compile(&Tables::new(), None).unwrap_err().path, "flows.quote_to_invoice.accepted_stage");
        let text = "[map]\ndiscount = '0'\n";
        let theirs: QuoteToInvoiceConfig = toml::from_str(text).unwrap();
        assert_eq!(theirs.compile(&Tables::new(), Some(text)).unwrap_err().path, "flows.quote_to_invoice.map.discount", "the flow writes the discount");
        assert!(toml::from_str::<QuoteToInvoiceConfig>("[lines]\nfrom = 'x'\n").is_err(), "the lines are the quote's");
    }

    #[test]
    fn quote_lines_keep_product_price_discount_and_taxes() {
        let quote = json!({"Quoted_Items": [
            {"Product_Name": {"id": "11", "name": "Widget"}, "Quantity": 3, "List_Price": 19.99, "Discount": 5, "Description": " Blue ",
             "Line_Tax": [{"name": "Sales Tax", "percentage": 8.25}, {"name": "City Tax", "percentage": 3.25}]},
            {"Product_Name": {"id": "12", "name": "Gadget"}, "List_Price": "10", "Line_Tax": []},
        ]});
        let lines = quote_lines(&quote).unwrap();
        assert_eq!(
            lines[0],
            QuoteLine {
                number: 1,
                product_id: "11".into(),
                product_name: "Widget".into(),
                description: Some("Blue".into()),
                quantity: d("3"),
                list_price: d("19.99"),
                discount: d("5"),
                taxes: vec!["Sales Tax".into(), "City Tax".into()],
            }
        );
        assert_eq!(lines[0].tax_key().as_deref(), Some("Sales Tax, City Tax"));
        let order = lines[0].order_line("I1");
        assert_eq!((order.item_id.as_deref(), order.rate, order.discount), (Some("I1"), d("19.99"), Some(LineDiscount::Amount(d("5")))));
        assert_eq!((lines[1].quantity, lines[1].discount, lines[1].tax_key(), lines[1].order_line("I2").discount), (Decimal::ONE, Decimal::ZERO, None, None));
        let err = quote_lines(&json!({"Quoted_Items": [{"Quantity": 1}]})).unwrap_err();
        assert_eq!(err, "Quoted_Items line 1 names no product");
        assert!(quote_lines(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn without_a_quote_discount_the_lines_keep_their_discounts() {
        let mut invoice = Map::new();
        let mut lines = vec![line("19.99", "3", "", Some("6.00")), line("1234", "1", "", None)];
        apply_discounts(&mut invoice, &mut lines, Decimal::ZERO, false, "USD").unwrap();
        assert_eq!(Value::Object(invoice), json!({"discount_type": "item_level"}));
        assert_eq!((&lines[0]["discount"], &lines[0]["rate"]), (&json!("6.00"), &json!(19.99)));
    }

    #[test]
    fn a_quote_discount_is_the_documents_and_line_discounts_go_into_the_rate() {
        let mut invoice = Map::new();
        let mut lines = vec![line("20", "3", "Blue", Some("6")), line("19.99", "3", "", Some("5.00")), line("10", "2", "", None)];
        apply_discounts(&mut invoice, &mut lines, d("12.35"), true, "USD").unwrap();
        assert_eq!(Value::Object(invoice), json!({"discount_type": "entity_level", "discount": 12.35, "is_discount_before_tax": true}));
        // 60 - 6 = 54 = 3 × 18: the rate says it, and the description what it was.
        assert_eq!((&lines[0]["rate"], &lines[0]["quantity"]), (&json!(18), &json!(3)));
        assert_eq!(lines[0]["description"], "Blue\n3 × 20 less a discount of 6.00");
        assert!(!lines[0].contains_key("discount"), "Books ignores line discounts on an entity-level invoice");
        // 59.97 - 5 = 54.97 is no multiple of 3, but 3 × 18.323333 rounds to it.
        assert_eq!((&lines[1]["rate"], &lines[1]["quantity"]), (&json!(18.323333), &json!(3)));
        assert_eq!(lines[1]["description"], "3 × 19.99 less a discount of 5.00");
        assert_eq!(lines[2].get("discount"), None);
        assert_eq!((&lines[2]["rate"], &lines[2]["quantity"], &lines[2]["description"]), (&json!(10), &json!(2), &json!("")));
        // A rate that cannot give the amount at six places: one unit at the amount.
        let mut lines = vec![line("0.0000003", "10000000", "", Some("1"))];
        apply_discounts(&mut Map::new(), &mut lines, d("1"), false, "USD").unwrap();
        assert_eq!((&lines[0]["rate"], &lines[0]["quantity"]), (&json!(2), &json!(1)));
        // JPY: whole yen.
        let mut lines = vec![line("1234", "3", "", Some("278"))];
        apply_discounts(&mut Map::new(), &mut lines, d("100"), false, "JPY").unwrap();
        assert_eq!((&lines[0]["rate"], &lines[0]["quantity"]), (&json!(1141.333333), &json!(3)), "3702 - 278 = 3424");
        assert_eq!(lines[0]["description"], "3 × 1234 less a discount of 278");
        // A discount larger than its line is refused, naming it.
        let mut lines = vec![line("1", "1", "", Some("2"))];
        let err = apply_discounts(&mut Map::new(), &mut lines, d("1"), false, "USD").unwrap_err();
        assert!(err.starts_with("Quoted_Items line 1 (Widget): its discount 2"), "{err}");
    }

    #[test]
    fn line_taxes_come_from_the_table_then_from_books_by_name() {
        let books = [("T1", "Sales Tax"), ("G1", "State + City")];
        let table: BTreeMap<String, toml::Value> = toml::from_str("\"Sales Tax, City Tax\" = \"G1\"\nVAT = \"T9\"").unwrap();
        assert_eq!(books_tax_of("sales tax", None, books.into_iter()), Ok("T1".into()));
        assert_eq!(books_tax_of("Sales Tax, City Tax", Some(&table), books.into_iter()), Ok("G1".into()));
        assert_eq!(books_tax_of("VAT", Some(&table), books.into_iter()), Ok("T9".into()));
        let err = books_tax_of("Sales Tax, City Tax", None, books.into_iter()).unwrap_err();
        assert!(err.contains("[tables.tax]") && err.contains("\"Sales Tax, City Tax\" = "), "{err}");
        assert!(books_tax_of("GST", None, books.into_iter()).is_err());
    }

    fn billing(currency: &str, conversion: Option<Conversion>) -> Billing {
        let customer = Customer {
            id: "C1".into(),
            name: "Acme".into(),
            currency_id: "1".into(),
            currency_code: currency.into(),
            country: Some("US".into()),
            state: None,
            customer_type: None,
            contact: Value::Null,
        };
        Billing { customer, currency: currency.into(), conversion }
    }

    #[test]
    fn the_cause_of_a_mismatch_names_the_tax_the_discounts_place_or_the_lines() {
        let quote = json!({"Sub_Total": 100, "Tax": 20, "Discount": 10, "Grand_Total": 110});
        let usd = billing("USD", None);
        let causes = mismatch_causes(&quote, &BooksTotals { sub_total: d("100"), tax_total: d("18") }, &usd, true, None);
        assert_eq!(causes, ["tax: the quote's is 20, Books computed 18; Books takes the quote discount before tax (discount_before_tax = true), CRM after"]);
        let causes = mismatch_causes(&quote, &BooksTotals { sub_total: d("100"), tax_total: d("8.25") }, &usd, false, Some("tax rule \"US\" applied"));
        assert_eq!(causes, ["tax: the quote's is 20, Books computed 8.25 (tax rule \"US\" applied)"]);
        let causes = mismatch_causes(&quote, &BooksTotals { sub_total: d("90"), tax_total: d("20.01") }, &usd, false, None);
        assert_eq!(causes, ["lines: the quote's sub total is 100, the invoice's 90 (a price or a line discount was not carried)"]);
        assert!(mismatch_causes(&quote, &BooksTotals { sub_total: d("100.01"), tax_total: d("19.99") }, &usd, false, None).is_empty(), "rounding is no cause");
        // Converted: the quote's figures in the invoice's currency (1 home = 150 JPY = 1 USD).
        let conversion = Conversion { from: "USD".into(), to: "JPY".into(), from_per_home: d("1"), to_per_home: d("150"), source: RateSource::Deal };
        let jpy = billing("JPY", Some(conversion));
        let causes = mismatch_causes(&quote, &BooksTotals { sub_total: d("15000"), tax_total: d("3001") }, &jpy, false, None);
        assert_eq!(causes, ["the quote's amounts converted from USD to JPY"]);
        let causes = mismatch_causes(&quote, &BooksTotals { sub_total: d("15000"), tax_total: d("3002") }, &jpy, false, None);
        assert_eq!(causes, ["tax: the quote's is 3000, Books computed 3002", "the quote's amounts converted from USD to JPY"]);
    }
}
