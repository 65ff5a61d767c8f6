//! `pricebook_sync`: a CRM Price Book becomes a Books price list.
//!
//! CRM keeps a price book's products on its related list (`/Price_Books/{id}/Products`),
//! each with the book's `list_price`; Books keeps a `per_item` price list's rates in
//! `pricebook_items[{item_id, pricebook_rate}]`. The flow reads the book and its products,
//! finds each product's Books item through its `product_item` link, maps the book with
//! its mapping (`[flows.pricebook_sync]`; shipped default: [`DEFAULTS`]: name ←
//! `Price_Book_Name`, description, status ← `Active`, the Books base currency (or, with
//! the shipped commented-out `currency_id` line, the book's currency through
//! `[tables.currency]`), one line per product with rate ← `list_price`, or the product's
//! `Unit_Price` when the book gives none) and writes the list. Book and list are linked in
//! the `pricebook_pricelist` relation, with the hash of what was written (a run that maps
//! to the same list writes nothing).
//!
//! **A product not yet synced** is synced first, in the same job, through
//! `catalog_sync`'s own upsert (so the list is complete and nothing is dropped); a
//! product that cannot become an item (its mapping skips it, or it is gone) dead-letters
//! the book naming the product, rather than writing a list without it.
//!
//! **Pricing model.** A book without `Pricing_Details` gives unit rates. A `Flat` book's
//! ranges (`from_range`, `to_range`, `discount` %) become Books volume brackets on every
//! line (the discount of the range the quantity falls in applies to every unit, as Books
//! prices a volume bracket). A `Differential` book with ranges discounts each range's
//! units separately, which Books cannot express: such a book is dead-lettered saying so.
//!
//! **Unique names.** Books refuses a second list of the same name (code 1001). The flow
//! then adopts the list holding the name if no other CRM price book is linked to it (a
//! list typed by hand, or created by an earlier attempt whose answer was lost); if it is
//! linked to another book the job is dead-lettered with Zoho's message.
//!
//! **Calls per book:** 2 CRM reads (book, products) and 1 Books write when the mapped
//! list changed (plus 1 when the status changes); on a name clash 1 Books list call more.

use std::collections::BTreeMap;

use futures_util::{FutureExt, TryStreamExt};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zoho::{
    books::{ListQuery, models::PriceList},
    crm::records::ListParams,
};

use super::{
    Context, FieldKind, Flow, FlowError, FlowFuture, FlowShape, Outcome, TargetField, Write, Wrote,
    catalog_sync::CatalogSync,
    relations::{PRICEBOOK_PRICELIST, PRODUCT_ITEM, Relation},
};
use crate::{
    hash::content_hash,
    mapping::{self, CompileError, CompileOptions, Input, Mapping, MappingSpec, Tables, value::decimal_to_json},
    store::{NewEvent, NewJob, RecordRef, Source, System},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "pricebook_sync";
/// The relation its links are kept in.
const RELATION: Relation = PRICEBOOK_PRICELIST;
/// Books' code for "a price list with this name already exists".
const DUPLICATE: i64 = 1001;
/// The lookup table the shipped mapping finds Books currency ids in.
pub const CURRENCY_TABLE: &str = "currency";
/// The book fields the flow reads besides those its mapping names (the pricing model).
const ALWAYS_READ: &[&str] = &["Pricing_Model", "Pricing_Details"];
/// The product fields read from the book's related list (`list_price` is the book's).
const PRODUCT_FIELDS: &[&str] = &["Product_Name", "Product_Code", "Unit_Price", "list_price"];

/// The shipped `[flows.pricebook_sync]` section: its default mapping. A user's section
/// overrides it field by field.
pub const DEFAULTS: &str = r#"# CRM Price Books -> Books price lists (one rate per item).
# Books price lists need a name: a book without one is skipped, saying so.
when = 'present(source.Price_Book_Name)'

[map]
name = 'text(source.Price_Book_Name)'
description = 'text(source.Description) ?? ""'
status = 'if source.Active == false { "inactive" } else { "active" }'
# Multi-currency CRM orgs (whose price books have a Currency field): uncomment, and map
# each code in [tables.currency]: EUR = "<Books currency_id>". A currency with no row is
# then dead-lettered, not synced in the wrong currency. Left out: the Books base currency.
# currency_id = 'if present(source.Currency) { lookup("currency", source.Currency) } else { "" }'

[defaults]
pricebook_type = "per_item"
sales_or_purchase_type = "sales"
decimal_place = 2
rounding_type = "no_rounding"

# One line per product of the book: `line` is the product as the book's related list
# gives it, with `item_id` (its Books item) and `list_price` (its price in this book).
[lines]
from = 'related.products'
target = "pricebook_items"
[lines.map]
item_id = 'line.item_id'
pricebook_rate = 'line.list_price ?? line.Unit_Price'
"#;

/// `[flows.pricebook_sync]`: the mapping (over [`DEFAULTS`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricebookSyncConfig {
    /// Only books for which this holds are synced; the others are skipped with the reason.
    pub when: Option<toml::Spanned<String>>,
    /// Price list field = expression over `source` (the CRM price book) and
    /// `related.products`.
    pub map: BTreeMap<String, toml::Spanned<String>>,
    /// Values for fields whose expression gives no value.
    pub defaults: BTreeMap<String, toml::Value>,
    /// Fields left out when their expression gives no value.
    pub optional: Vec<String>,
    /// The per-product lines (`pricebook_items`).
    pub lines: Option<mapping::LinesSpec>,
}

impl PricebookSyncConfig {
    /// The mapping part of the section.
    fn spec(&self) -> MappingSpec {
        MappingSpec {
            when: self.when.clone(),
            map: self.map.clone(),
            defaults: self.defaults.clone(),
            optional: self.optional.clone(),
            lines: self.lines.clone(),
        }
    }

    /// The flow as configured: the shipped mapping overlaid by this section's, compiled;
    /// `catalog` syncs the book's products not yet synced.
    pub fn build(&self, tables: &Tables, text: Option<&str>, catalog: CatalogSync) -> Result<PricebookSync, CompileError> {
        let shipped: PricebookSyncConfig = toml::from_str(DEFAULTS).map_err(|e| CompileError {
            path: format!("flows.{NAME}"),
            offset: None,
            message: format!("the shipped defaults do not parse (a bug): {e}"),
        })?;
        let spec = shipped.spec().overlay(&self.spec());
        let options = CompileOptions { config_text: text, ..CompileOptions::default() };
        let mapping = mapping::compile_with(&spec, NAME, tables, &options)?;
        if mapping.lines_target() != Some("pricebook_items") {
            return Err(CompileError {
                path: format!("flows.{NAME}.lines.target"),
                offset: None,
                message: "the lines of a price list must be its \"pricebook_items\"".into(),
            });
        }
        Ok(PricebookSync { mapping, catalog })
    }
}

/// CRM Price Book → Books price list.
#[derive(Debug, Clone)]
pub struct PricebookSync {
    mapping: Mapping,
    catalog: CatalogSync,
}

impl Default for PricebookSync {
    /// The flow on its shipped defaults.
    fn default() -> Self {
        PricebookSyncConfig::default().build(&Tables::new(), None, CatalogSync::default()).expect("the shipped pricebook_sync mapping compiles (tested)")
    }
}

/// The job that syncs CRM price book `record_id`.
pub fn job(record_id: &str) -> NewJob {
    NewJob::for_record(NAME, &RecordRef::crm(RELATION.crm_module, record_id))
}

/// An event saying CRM price book `record_id` changed (its fields, or its products'
/// list prices), as a trigger would store it.
pub fn event(connection: &str, source: Source, record_id: &str, dedup_key: &str) -> NewEvent {
    NewEvent::for_record(source, connection, &RecordRef::crm(RELATION.crm_module, record_id), json!({"id": record_id}), dedup_key)
}

/// The volume brackets of a `Flat` book's `Pricing_Details` for a line of `rate`: one per
/// range, its rate discounted by the range's percentage and rounded to `places`.
pub fn flat_brackets(details: &[Value], rate: Decimal, places: u32) -> Result<Vec<Value>, String> {
    let number = |range: &Value, key: &str| -> Result<Decimal, String> {
        let value = range.get(key).ok_or_else(|| format!("a Pricing_Details range has no {key}: {range}"))?;
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            Value::Null => "0".into(),
            other => return Err(format!("Pricing_Details {key} is not a number: {other}")),
        };
        text.parse::<Decimal>().or_else(|_| Decimal::from_scientific(&text)).map_err(|_| format!("Pricing_Details {key} is not a number: {text}"))
    };
    let mut brackets = Vec::with_capacity(details.len());
    for range in details {
        let (from, to, discount) = (number(range, "from_range")?, number(range, "to_range")?, number(range, "discount")?);
        if discount.is_sign_negative() || discount > Decimal::ONE_HUNDRED {
            return Err(format!("a Pricing_Details discount must be 0 to 100 %, not {discount}"));
        }
        let discounted =
            (rate * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED).round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
        brackets.push(json!({"start_quantity": decimal_to_json(from), "end_quantity": decimal_to_json(to), "pricebook_rate": decimal_to_json(discounted)}));
    }
    Ok(brackets)
}

/// Applies the book's pricing model to the mapped list: a `Flat` book's ranges become
/// volume brackets on every line; a `Differential` book with ranges is refused.
fn apply_pricing_model(book: &Value, list: &mut Map<String, Value>) -> Result<(), FlowError> {
    let details: &[Value] = book.get("Pricing_Details").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if details.is_empty() {
        return Ok(());
    }
    match book.get("Pricing_Model").and_then(Value::as_str).unwrap_or_default() {
        "Flat" => {}
        "Differential" => {
            return Err(FlowError::Data(
                "the price book's Differential pricing (each quantity range discounted separately) has no Books equivalent: use Flat pricing or no ranges"
                    .into(),
            ));
        }
        other => return Err(FlowError::Data(format!("Pricing_Details given with an unknown Pricing_Model {other:?}"))),
    }
    let places = list.get("decimal_place").and_then(Value::as_u64).unwrap_or(2) as u32;
    for line in list.get_mut("pricebook_items").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(line) = line.as_object_mut() else { continue };
        let rate = line.remove("pricebook_rate").map(|r| r.to_string()).unwrap_or_default();
        let rate: Decimal = rate.parse().map_err(|_| FlowError::Data(format!("a price list line has no rate: {line:?}")))?;
        line.insert("pricing_scheme".into(), json!("volume"));
        line.insert("price_brackets".into(), Value::Array(flat_brackets(details, rate, places).map_err(FlowError::Data)?));
    }
    list.insert("pricing_scheme".into(), json!("volume"));
    Ok(())
}

impl PricebookSync {
    /// Its compiled mapping (the shipped one overlaid by the config's).
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Brings every Books price list holding item `item_id` that is linked to a CRM price
    /// book up to date (run by `catalog_sync` after it updated the item). Returns what
    /// was done per list.
    pub async fn reprice_item(&self, ctx: &mut Context<'_>, item_id: &str) -> Result<Vec<String>, FlowError> {
        let lists: Vec<PriceList> = ctx.client().books().pricelists(ListQuery::new()).try_collect().await?;
        let mut done = Vec::new();
        for list in lists {
            let Some(id) = list.pricebook_id.as_deref() else { continue };
            if !list.pricebook_items.iter().any(|l| l.item_id.as_deref() == Some(item_id)) {
                continue;
            }
            let Some(link) = ctx.link_by_books(&RELATION, id).await? else {
                ctx.note(format!("Books price list {id} holds the item but is not linked to a CRM price book: left as it is"));
                continue;
            };
            ctx.note(format!("Books price list {id} holds item {item_id}: syncing CRM price book {}", link.crm_id));
            // A book that cannot be synced as it is (its own job dead-letters it, saying
            // why) does not fail the product's job: the item is written; the outcome says
            // the list was not.
            let outcome = match self.sync_book(ctx, &link.crm_id).await {
                Ok(Outcome::Done(s) | Outcome::Skipped(s)) => s,
                Err(FlowError::Data(why)) => format!("NOT updated: {why}"),
                Err(e) => return Err(e),
            };
            done.push(format!("Price_Books {}: {outcome}", link.crm_id));
        }
        Ok(done)
    }

    /// The Books item of each of the book's products, syncing those not yet synced.
    async fn items_of(&self, ctx: &mut Context<'_>, book_id: &str, products: Vec<Value>) -> Result<Vec<Value>, FlowError> {
        let mut lines = Vec::with_capacity(products.len());
        for mut product in products {
            let product_id = product.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let item_id = match ctx.link_by_crm(&PRODUCT_ITEM, &product_id).await? {
                Some(link) => link.books_id,
                None => {
                    ctx.note(format!("product {product_id} of price book {book_id} has no Books item yet: syncing it first"));
                    match self.catalog.sync_product(ctx, &product_id).await? {
                        (_, Some(written)) => written.item_id,
                        (Outcome::Done(why) | Outcome::Skipped(why), None) => {
                            return Err(FlowError::Data(format!(
                                "price book {book_id} lists CRM product {product_id}, which cannot become a Books item ({why}); fix the product or take it off the book"
                            )));
                        }
                    }
                }
            };
            product["item_id"] = json!(item_id);
            lines.push(product);
        }
        Ok(lines)
    }

    /// Syncs CRM price book `book_id` to its Books price list.
    pub(crate) async fn sync_book(&self, ctx: &mut Context<'_>, book_id: &str) -> Result<Outcome, FlowError> {
        let mut fields: Vec<&str> = self.mapping.source_fields().iter().map(String::as_str).collect();
        fields.extend(ALWAYS_READ.iter().filter(|f| !self.mapping.source_fields().iter().any(|s| s == *f)));
        let crm = ctx.client().crm();
        let read = crm.get::<Value>(RELATION.crm_module, book_id, &fields);
        let products =
            crm.related::<Value>(RELATION.crm_module, book_id, "Products", ListParams::new(PRODUCT_FIELDS.iter().copied())).try_collect::<Vec<Value>>();
        let (book, products, link) = tokio::join!(read, products, ctx.link_by_crm(&RELATION, book_id));
        let Some(book) = book? else {
            return self.gone(ctx, book_id).await;
        };
        ctx.saw_source(&book);
        let input = Input { source: &book, related: &Value::Null, now: ctx.now() };
        if let Some(reason) = self.mapping.skip_reason(&input).map_err(|e| FlowError::Data(e.to_string()))? {
            return Ok(Outcome::Skipped(reason));
        }
        let lines = self.items_of(ctx, book_id, products?).await?;
        let related = json!({"products": lines});
        let input = Input { source: &book, related: &related, now: ctx.now() };
        let mut list = match self.mapping.evaluate(&input).map_err(|e| FlowError::Data(currency_hint(e, &book)))? {
            mapping::Outcome::Skipped(reason) => return Ok(Outcome::Skipped(reason)),
            mapping::Outcome::Payload(list) => list,
        };
        apply_pricing_model(&book, &mut list)?;
        let payload = Value::Object(list);
        ctx.mapped(&payload);
        let hash = content_hash(&payload);
        let link = link?;
        if let Some(link) = &link
            && link.books_hash.as_deref() == Some(hash.as_str())
        {
            return Ok(Outcome::Skipped(format!(
                "unchanged: the mapped price list equals what was last written to Books price list {} (hash equal)",
                link.books_id
            )));
        }
        let (id, how) = self.write(ctx, link.as_ref().map(|l| l.books_id.as_str()), book_id, &payload).await?;
        ctx.link(&RELATION, book_id, &id, Wrote::Books(hash));
        Ok(Outcome::Done(format!("{how} Books price list {id}")))
    }

    /// Writes the list: an update of the linked list (created anew if it was deleted in
    /// Books), or a create; a create refused for its name adopts the list of that name
    /// unless another book is linked to it. Then the status, if it differs.
    async fn write(&self, ctx: &mut Context<'_>, linked: Option<&str>, book_id: &str, payload: &Value) -> Result<(String, &'static str), FlowError> {
        let books = ctx.client().books();
        let list: PriceList =
            serde_json::from_value(payload.clone()).map_err(|e| FlowError::Data(format!("the mapped payload is not a Books price list: {e}")))?;
        let id_of = |l: &PriceList| l.pricebook_id.clone();
        let (written, how) = match linked {
            Some(id) => {
                let write = Write { system: System::Books, module: RELATION.books_entity, action: "update", record_id: Some(id), request: payload };
                match ctx.write(write, books.update_pricelist(id, &list), id_of).await {
                    Ok(written) => (written, "updated"),
                    Err(FlowError::Zoho(e)) if e.status() == Some(404) => {
                        ctx.note(format!("the linked Books price list {id} is gone: creating it anew"));
                        self.create(ctx, book_id, &list, payload).await?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => self.create(ctx, book_id, &list, payload).await?,
        };
        let id = written.pricebook_id.clone().ok_or_else(|| FlowError::Data("Books returned a price list without pricebook_id".into()))?;
        let want_active = list.status.as_deref() != Some("inactive");
        if written.status.as_deref().map(|s| s == "active") != Some(want_active) {
            self.set_active(ctx, &id, want_active).await?;
        }
        Ok((id, how))
    }

    /// Creates the list; on Books' "name taken", adopts the list of that name if no other
    /// book is linked to it.
    async fn create(&self, ctx: &mut Context<'_>, book_id: &str, list: &PriceList, payload: &Value) -> Result<(PriceList, &'static str), FlowError> {
        let books = ctx.client().books();
        let write = Write { system: System::Books, module: RELATION.books_entity, action: "create", record_id: None, request: payload };
        let e = match ctx.write(write, books.create_pricelist(list), |l: &PriceList| l.pricebook_id.clone()).await {
            Ok(created) => return Ok((created, "created")),
            Err(FlowError::Zoho(e)) if e.api().and_then(|a| a.books_code()) == Some(DUPLICATE) => e,
            Err(e) => return Err(e),
        };
        let name = list.name.clone().unwrap_or_default();
        let same: Vec<PriceList> = books.pricelists(ListQuery::new().param("search_text", &name)).try_collect().await?;
        let Some(id) = same.iter().find(|l| l.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&name))).and_then(|l| l.pricebook_id.clone()) else {
            return Err(e.into());
        };
        if let Some(other) = ctx.link_by_books(&RELATION, &id).await?
            && other.crm_id != book_id
        {
            ctx.note(format!("the name {name:?} is Books price list {id}, linked to CRM price book {}", other.crm_id));
            return Err(e.into());
        }
        ctx.note(format!("the name {name:?} is Books price list {id}, not linked to another price book: adopting it"));
        let write = Write { system: System::Books, module: RELATION.books_entity, action: "update", record_id: Some(&id), request: payload };
        let written = ctx.write(write, books.update_pricelist(&id, list), |l: &PriceList| l.pricebook_id.clone()).await?;
        Ok((written, "updated (adopted by name)"))
    }

    /// Marks price list `id` active or inactive.
    async fn set_active(&self, ctx: &mut Context<'_>, id: &str, active: bool) -> Result<(), FlowError> {
        let books = ctx.client().books();
        ctx.set_books_active(RELATION.books_entity, "pricebook_id", id, active, books.set_pricelist_active(id, active)).await
    }

    /// The book is gone from CRM: its list, if synced, is marked inactive (contacts may
    /// still name it), and the link's hash no longer matches any mapping.
    async fn gone(&self, ctx: &mut Context<'_>, book_id: &str) -> Result<Outcome, FlowError> {
        let what = format!("Price_Books {book_id} no longer exists in CRM");
        let Some(link) = ctx.link_by_crm(&RELATION, book_id).await? else {
            return Ok(Outcome::Skipped(format!("{what}; it was never synced")));
        };
        let id = link.books_id.as_str();
        let done = match self.set_active(ctx, id, false).await {
            Ok(()) => format!("marked Books price list {id} inactive"),
            Err(FlowError::Zoho(e)) if e.status() == Some(404) => format!("Books price list {id} is gone too"),
            Err(e) => return Err(e),
        };
        ctx.link(&RELATION, book_id, id, Wrote::Books(content_hash(&json!({"source_gone": book_id}))));
        Ok(Outcome::Done(format!("{what}: {done}")))
    }
}

/// An evaluation error, with a hint when it is the currency look-up that found nothing.
fn currency_hint(e: mapping::EvalError, book: &Value) -> String {
    match book.get("Currency").and_then(Value::as_str) {
        Some(code) if e.field.ends_with(".map.currency_id") => {
            format!("{e} (the CRM currency {code:?} has no row in [tables.{CURRENCY_TABLE}]: add `{code} = \"<Books currency_id>\"`)")
        }
        _ => e.to_string(),
    }
}

impl Flow for PricebookSync {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        async move {
            let id = ctx.record().id.clone();
            self.sync_book(ctx, &id).await
        }
        .boxed()
    }

    fn shape(&self) -> FlowShape {
        FlowShape {
            source: Some((System::Crm, RELATION.crm_module)),
            target: Some((System::Books, RELATION.books_entity)),
            mapping: Some(self.mapping.clone()),
            target_fields: PRICELIST_FIELDS,
            unique_keys: Vec::new(),
            crm_fields: Vec::new(),
        }
    }
}

/// The Books price list fields a mapping may write (`pricelists.yml` create/update bodies).
const PRICELIST_FIELDS: &[TargetField] = &[
    TargetField { name: "name", kind: FieldKind::Text, mandatory: true },
    TargetField { name: "pricebook_type", kind: FieldKind::OneOf(&["per_item", "fixed_percentage"]), mandatory: true },
    TargetField { name: "sales_or_purchase_type", kind: FieldKind::OneOf(&["sales", "purchases"]), mandatory: true },
    TargetField { name: "description", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "currency_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "percentage", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "is_increase", kind: FieldKind::Bool, mandatory: false },
    TargetField {
        name: "rounding_type",
        kind: FieldKind::OneOf(&["no_rounding", "round_to_dollor", "round_to_dollar_minus_01", "round_to_half_dollar", "round_to_half_dollar_minus_01"]),
        mandatory: false,
    },
    TargetField { name: "decimal_place", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "pricing_scheme", kind: FieldKind::OneOf(&["unit", "volume"]), mandatory: false },
    TargetField { name: "status", kind: FieldKind::OneOf(&["active", "inactive"]), mandatory: false },
    TargetField { name: "pricebook_items", kind: FieldKind::List, mandatory: false },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(book: &Value, products: Value) -> Result<Value, String> {
        let flow = PricebookSync::default();
        let related = json!({"products": products});
        let input = Input { source: book, related: &related, now: jiff::Timestamp::UNIX_EPOCH };
        match flow.mapping.evaluate(&input) {
            Ok(mapping::Outcome::Payload(mut p)) => {
                apply_pricing_model(book, &mut p).map_err(|e| e.to_string())?;
                Ok(Value::Object(p))
            }
            Ok(mapping::Outcome::Skipped(r)) => Err(format!("skipped: {r}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn the_shipped_mapping_maps_a_book_to_a_per_item_list() {
        let book = json!({"id": "9", "Price_Book_Name": " Wholesale ", "Active": false, "Description": null});
        let products = json!([
            {"id": "1", "Unit_Price": 10, "list_price": 8.5, "item_id": "I1"},
            {"id": "2", "Unit_Price": 20, "list_price": null, "item_id": "I2"},
        ]);
        let list = payload(&book, products).unwrap();
        assert_eq!(
            list,
            json!({"name": "Wholesale", "description": "", "status": "inactive", "pricebook_type": "per_item",
                   "sales_or_purchase_type": "sales", "decimal_place": 2, "rounding_type": "no_rounding",
                   "pricebook_items": [{"item_id": "I1", "pricebook_rate": 8.5}, {"item_id": "I2", "pricebook_rate": 20}]})
        );
        let mut fields = PricebookSync::default().mapping.source_fields().to_vec();
        fields.sort();
        assert_eq!(fields, ["Active", "Description", "Price_Book_Name"]);
    }

    #[test]
    fn the_commented_currency_line_maps_a_currency_or_fails_naming_it() {
        let line = DEFAULTS.lines().find_map(|l| l.strip_prefix("# currency_id = ")).expect("the shipped currency line");
        let text = format!("[tables.currency]\nEUR = \"460000000000099\"\n[flows.pricebook_sync.map]\ncurrency_id = {line}\n");
        #[derive(Deserialize)]
        struct File {
            tables: Tables,
            flows: BTreeMap<String, PricebookSyncConfig>,
        }
        let file: File = toml::from_str(&text).unwrap();
        let flow = file.flows[NAME].build(&file.tables, Some(&text), CatalogSync::default()).unwrap();
        let related = json!({"products": []});
        let currency = |book: Value| match flow.mapping.evaluate(&Input { source: &book, related: &related, now: jiff::Timestamp::UNIX_EPOCH }) {
            Ok(mapping::Outcome::Payload(list)) => Ok(list["currency_id"].clone()),
            Ok(mapping::Outcome::Skipped(r)) => Err(r),
            Err(e) => Err(currency_hint(e, &book)),
        };
        assert_eq!(currency(json!({"Price_Book_Name": "EU", "Currency": "EUR"})), Ok(json!("460000000000099")));
        assert_eq!(currency(json!({"Price_Book_Name": "Base"})), Ok(json!("")));
        let e = currency(json!({"Price_Book_Name": "JP", "Currency": "JPY"})).unwrap_err();
        assert!(e.starts_with("flows.pricebook_sync.map.currency_id:") && e.contains("[tables.currency]") && e.contains("JPY"), "{e}");
    }

    #[test]
    fn flat_ranges_become_volume_brackets_and_differential_ones_are_refused() {
        let details = json!([{"from_range": 1, "to_range": 9, "discount": 0}, {"from_range": 10, "to_range": 99, "discount": 12.5}]);
        let book = json!({"Price_Book_Name": "Tiers", "Pricing_Model": "Flat", "Pricing_Details": details});
        let list = payload(&book, json!([{"id": "1", "list_price": 10.01, "item_id": "I1"}])).unwrap();
        let line = &list["pricebook_items"][0];
        assert_eq!(line["pricing_scheme"], "volume");
        assert!(line.get("pricebook_rate").is_none(), "{line}");
        assert_eq!(
            line["price_brackets"],
            json!([{"start_quantity": 1, "end_quantity": 9, "pricebook_rate": 10.01}, {"start_quantity": 10, "end_quantity": 99, "pricebook_rate": 8.76}])
        );
        let differential = json!({"Price_Book_Name": "Tiers", "Pricing_Model": "Differential", "Pricing_Details": details});
        assert!(payload(&differential, json!([])).unwrap_err().contains("no Books equivalent"));
        // Without ranges the model does not matter.
        let plain = json!({"Price_Book_Name": "Plain", "Pricing_Model": "Differential", "Pricing_Details": []});
        assert_eq!(payload(&plain, json!([{"id": "1", "list_price": 3, "item_id": "I1"}])).unwrap()["pricebook_items"][0]["pricebook_rate"], 3);
        assert!(flat_brackets(&[json!({"from_range": 1, "to_range": 2, "discount": 101})], Decimal::ONE, 2).is_err());
    }

    #[test]
    fn a_book_without_a_name_is_skipped() {
        assert!(payload(&json!({"Price_Book_Name": " "}), json!([])).unwrap_err().starts_with("skipped"));
    }
}
