//! `catalog_sync`: a CRM Product becomes a Books item.
//!
//! The item is mapped from the product by the flow's mapping (`[flows.catalog_sync]`;
//! shipped default: [`DEFAULTS`]: name ← `Product_Name`, rate ← `Unit_Price`, sku ←
//! `Product_Code`, description ← `Description`, status ← `Product_Active`, unit ←
//! `Usage_Unit`, tax_id ← the product's taxes through the `[tables.tax]` lookup table),
//! and the flow adds the item custom field `cf_crm_product_id` ← the CRM id. Product and
//! item are linked in the `product_item` relation.
//!
//! **Tax.** A Books item carries one tax (or tax group) id; a CRM product carries a
//! multi-select `Tax` of tax names and a `Taxable` flag. The flow hands the mapping the
//! product's tax names joined with `", "` as `related.taxes` (`"Sales Tax"`,
//! `"Sales Tax, VAT"`), and the shipped mapping looks that text up in `[tables.tax]`
//! (`"Sales Tax" = "<Books tax_id>"`; a combination maps to a Books tax group). A product
//! that is not taxable, or has no tax, gets no tax (`tax_id = ""`). A taxed product whose
//! taxes have no row is not synced with a wrong or missing tax: its job is dead-lettered
//! naming the taxes and the table, and replays once the row is added. The `tax_id` line is
//! part of the shipped mapping only when the config has a `[tables.tax]`: without one the
//! items' taxes are left alone, and synced once the table says what they are in Books.
//!
//! **Price lists.** When a product's item is updated (its price changed, say), every Books
//! price list holding the item that is linked to a CRM price book is brought up to date
//! in the same job (`pricebook_sync`'s mapping: a price book entry without a list price of
//! its own takes the product's unit price), so the next invoice priced from the list sees
//! the new price. Setting `update_price_lists = false` turns it off (one Books list call
//! per updated product is saved).
//!
//! **Calls per product: 2 (floor: 2 sequential round trips).** The CRM product is read
//! (the fields the mapping uses), then the item is written with Books' upsert keyed by
//! the unique custom field holding the CRM id (`PUT /items` with
//! `X-Unique-Identifier-*`): one call creates or updates it, and a repeated call after a
//! lost answer finds what the first one created, so no look-up is needed before it. A
//! third call is made only when the status must change (Books sets it through its own
//! endpoints). The natural key is looked up only when Books refuses the upsert because
//! the SKU is taken: an item typed by hand (custom field empty) is adopted, one whose
//! field names another product is a conflict a person must resolve. A product deleted in
//! CRM makes its item inactive.

use std::collections::BTreeMap;

use futures_util::{FutureExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zoho::books::{ListQuery, UpsertOutcome, models::Item};

use std::sync::Arc;

use super::{
    Context, FieldKind, Flow, FlowError, FlowFuture, FlowShape, Outcome, TargetField, Write, Wrote,
    pricebook_sync::PricebookSync,
    relations::{PRODUCT_ITEM, Relation},
};
use crate::{
    hash::content_hash,
    mapping::{self, CompileError, CompileOptions, Input, Mapping, MappingSpec, Tables},
    store::{NewEvent, NewJob, RecordRef, Source, System},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "catalog_sync";
/// The Books item custom field that holds the CRM product id, by default.
pub const CRM_ID_FIELD: &str = "cf_crm_product_id";
/// The relation its links are kept in.
const RELATION: Relation = PRODUCT_ITEM;
/// Books' code for "a record with this unique value (the SKU) already exists".
const DUPLICATE: i64 = 1001;
/// The lookup table the shipped mapping finds Books tax ids in.
pub const TAX_TABLE: &str = "tax";
/// The product fields the flow reads besides those its mapping names: the taxes it
/// hands the mapping as `related.taxes`.
const ALWAYS_READ: &[&str] = &["Tax"];

/// The shipped `[flows.catalog_sync]` section: the flow's settings and its default
/// mapping. A user's section overrides it field by field.
pub const DEFAULTS: &str = r#"# CRM Products -> Books items.
# The item custom field (marked unique in Books) holding the CRM product id: the key of
# the one-call upsert.
crm_id_field = "cf_crm_product_id"
# Books items need a name: a product without one is skipped, saying so.
when = 'present(source.Product_Name)'
# A product without a code gets an item without a SKU.
optional = ["sku"]
# After an item is updated, bring the Books price lists holding it (linked to CRM price
# books) up to date in the same job.
update_price_lists = true

[map]
name = 'text(source.Product_Name)'
rate = 'source.Unit_Price'
sku = 'text(source.Product_Code)'
description = 'text(source.Description) ?? ""'
status = 'if source.Product_Active == false { "inactive" } else { "active" }'
# "-None-" is CRM's empty picklist value.
unit = 'if text(source.Usage_Unit) == "-None-" { "" } else { text(source.Usage_Unit) ?? "" }'
# Taxes: with a [tables.tax] in the config, the flow also maps the line below (as if it
# were not commented out); without one, items keep the tax they have in Books.
# related.taxes is the product's CRM tax names joined with ", "; add a row per tax (or
# combination, for a Books tax group): "Sales Tax" = "<Books tax_id>". A taxed product
# whose taxes have no row is dead-lettered, not synced without its tax.
# tax_id = 'if source.Taxable == false || !present(related.taxes) { "" } else { lookup("tax", related.taxes) }'
"#;

/// `[flows.catalog_sync]`: the settings and the mapping (over [`DEFAULTS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSyncConfig {
    /// The Books item custom field (marked unique) holding the CRM product id. Default
    /// `cf_crm_product_id`.
    pub crm_id_field: String,
    /// Only products for which this holds are synced (an expression); the others are
    /// skipped with the reason.
    pub when: Option<toml::Spanned<String>>,
    /// Item field = expression over `source` (the CRM product).
    pub map: BTreeMap<String, toml::Spanned<String>>,
    /// Values for fields whose expression gives no value.
    pub defaults: BTreeMap<String, toml::Value>,
    /// Fields left out when their expression gives no value.
    pub optional: Vec<String>,
    /// After an item is updated, update the Books price lists holding it that are linked
    /// to CRM price books (default true).
    pub update_price_lists: bool,
}

impl Default for CatalogSyncConfig {
    fn default() -> Self {
        CatalogSyncConfig {
            crm_id_field: CRM_ID_FIELD.into(),
            when: None,
            map: BTreeMap::new(),
            defaults: BTreeMap::new(),
            optional: Vec::new(),
            update_price_lists: true,
        }
    }
}

impl CatalogSyncConfig {
    /// The mapping part of the section.
    fn spec(&self) -> MappingSpec {
        MappingSpec { when: self.when.clone(), map: self.map.clone(), defaults: self.defaults.clone(), optional: self.optional.clone(), lines: None }
    }

    /// The flow as configured: the shipped mapping overlaid by this section's, compiled
    /// (`text` is the config file, for exact error offsets).
    pub fn build(&self, tables: &Tables, text: Option<&str>) -> Result<CatalogSync, CompileError> {
        // With a tax table, the shipped `tax_id` line (commented out in DEFAULTS, which
        // ends in its [map] table) is part of the shipped mapping.
        let shipped = match (tables.contains_key(TAX_TABLE), DEFAULTS.lines().find_map(|l| l.strip_prefix("# ").filter(|l| l.starts_with("tax_id = ")))) {
            (true, Some(tax_line)) => format!("{DEFAULTS}{tax_line}\n"),
            _ => DEFAULTS.to_string(),
        };
        let shipped: CatalogSyncConfig = toml::from_str(&shipped).map_err(|e| CompileError {
            path: format!("flows.{NAME}"),
            offset: None,
            message: format!("the shipped defaults do not parse (a bug): {e}"),
        })?;
        let spec = shipped.spec().overlay(&self.spec());
        let options = CompileOptions { config_text: text, ..CompileOptions::default() };
        let mapping = mapping::compile_with(&spec, NAME, tables, &options)?;
        if self.crm_id_field.trim().is_empty() {
            return Err(CompileError {
                path: format!("flows.{NAME}.crm_id_field"),
                offset: None,
                message: "empty: the item custom field holding the CRM product id".into(),
            });
        }
        Ok(CatalogSync { crm_id_field: self.crm_id_field.clone(), mapping, update_price_lists: self.update_price_lists, price_lists: None })
    }
}

/// CRM Product → Books item.
#[derive(Debug, Clone)]
pub struct CatalogSync {
    crm_id_field: String,
    mapping: Mapping,
    update_price_lists: bool,
    /// The price book flow that brings price lists up to date after an item update
    /// ([`CatalogSync::with_price_lists`]); none in the copy that flow keeps itself.
    price_lists: Option<Arc<PricebookSync>>,
}

impl Default for CatalogSync {
    /// The flow on its shipped defaults.
    fn default() -> Self {
        CatalogSyncConfig::default().build(&Tables::new(), None).expect("the shipped catalog_sync mapping compiles (tested)")
    }
}

/// The job that syncs CRM product `record_id` (key `crm:Products:<id>`: one at a time per
/// product, in order).
pub fn job(record_id: &str) -> NewJob {
    NewJob::for_record(NAME, &RecordRef::crm("Products", record_id))
}

/// An event saying CRM product `record_id` changed, as a trigger would store it;
/// `dedup_key` names the change (a second delivery with the same key is absorbed).
pub fn event(connection: &str, source: Source, record_id: &str, dedup_key: &str) -> NewEvent {
    NewEvent::for_record(source, connection, &RecordRef::crm("Products", record_id), json!({"id": record_id}), dedup_key)
}

/// The value of custom field `api_name` on a Books record, if set.
pub fn custom_field<'a>(record: &'a Value, api_name: &str) -> Option<&'a str> {
    record
        .get("custom_fields")?
        .as_array()?
        .iter()
        .find(|cf| cf.get("api_name").and_then(Value::as_str) == Some(api_name))?
        .get("value")?
        .as_str()
        .filter(|v| !v.is_empty())
}

/// A product's CRM tax names joined with `", "` (the key of `[tables.tax]`); `None` when
/// it has none. CRM gives a multi-select as an array of names.
pub fn tax_key(product: &Value) -> Option<String> {
    let names: Vec<&str> = match product.get("Tax") {
        Some(Value::Array(names)) => names.iter().filter_map(|n| n.as_str().or_else(|| n.get("name").and_then(Value::as_str))).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    };
    let names: Vec<&str> = names.into_iter().map(str::trim).filter(|n| !n.is_empty()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

impl CatalogSync {
    /// Its compiled mapping (the shipped one overlaid by the config's).
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The flow that also brings the price lists holding an updated item up to date
    /// (when `update_price_lists` is on).
    pub fn with_price_lists(mut self, price_lists: Arc<PricebookSync>) -> CatalogSync {
        if self.update_price_lists {
            self.price_lists = Some(price_lists);
        }
        self
    }

    /// The fields of a product the flow reads.
    fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = self.mapping.source_fields().iter().map(String::as_str).collect();
        fields.extend(ALWAYS_READ.iter().filter(|f| !self.mapping.source_fields().iter().any(|s| s == *f)));
        fields
    }

    /// The item payload for the product, or why it is skipped: the mapping (given the
    /// product's taxes as `related.taxes`), plus the custom field holding the CRM id.
    fn map(&self, ctx: &Context<'_>, source_id: &str, source: &Value) -> Result<Result<Value, String>, FlowError> {
        let taxes = tax_key(source);
        let related = json!({"taxes": taxes});
        let input = Input { source, related: &related, now: ctx.now() };
        let evaluated = self.mapping.evaluate(&input).map_err(|e| {
            let hint = match &taxes {
                Some(taxes) if e.field.ends_with(".map.tax_id") => {
                    format!(" (the CRM taxes {taxes:?} have no row in [tables.{TAX_TABLE}]: add `\"{taxes}\" = \"<Books tax_id>\"`)")
                }
                _ => String::new(),
            };
            FlowError::Data(format!("{e}{hint}"))
        })?;
        let mut item = match evaluated {
            mapping::Outcome::Skipped(reason) => return Ok(Err(reason)),
            mapping::Outcome::Payload(item) => item,
        };
        item.insert("custom_fields".into(), json!([{"api_name": self.crm_id_field, "value": source_id}]));
        Ok(Ok(Value::Object(item)))
    }

    /// The item whose SKU is `sku`, if it may be ours: its custom field is empty (typed
    /// by hand in Books: adopted) or already names this product.
    async fn item_by_sku(&self, ctx: &Context<'_>, source_id: &str, sku: &str) -> Result<Option<String>, FlowError> {
        let found: Vec<Value> = ctx.client().books().list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await?;
        let Some(found) = found.into_iter().next() else { return Ok(None) };
        let id = found.get("item_id").and_then(Value::as_str).unwrap_or_default().to_string();
        match custom_field(&found, &self.crm_id_field) {
            Some(other) if other != source_id => {
                Err(FlowError::Data(format!("SKU {sku:?} is already used by Books item {id}, which belongs to CRM product {other}")))
            }
            _ => Ok(Some(id)),
        }
    }

    /// Writes the item: one upsert keyed by the custom field holding the CRM id; when
    /// Books refuses it because the SKU is taken, the item with that SKU is adopted
    /// (updated by id) if it may be ours. Then the status, if it differs. Returns the
    /// item's id and what was done.
    async fn write(&self, ctx: &mut Context<'_>, source_id: &str, payload: &Value) -> Result<(String, &'static str), FlowError> {
        let books = ctx.client().books();
        let item: Item = serde_json::from_value(payload.clone()).map_err(|e| FlowError::Data(format!("the mapped payload is not a Books item: {e}")))?;
        let write = Write { system: System::Books, module: "items", action: "upsert", record_id: None, request: payload };
        let n = ctx.announce(write).await?;
        let result = books.upsert_item(&self.crm_id_field, source_id, &item).await;
        let (written, how) = match result {
            Ok((written, outcome)) => {
                let action = match outcome {
                    UpsertOutcome::Created => "create",
                    UpsertOutcome::Updated => "update",
                };
                ctx.answer(n, written.item_id.as_deref(), Some(action), Ok(&written));
                let how = if action == "create" { "created" } else { "updated (matched by the CRM id)" };
                (written, how)
            }
            Err(e) => {
                ctx.answer::<Item>(n, None, None, Err(&e));
                let sku_taken = e.api().and_then(|a| a.books_code()) == Some(DUPLICATE);
                let Some(sku) = item.sku.as_deref().filter(|_| sku_taken) else { return Err(e.into()) };
                let Some(id) = self.item_by_sku(ctx, source_id, sku).await? else { return Err(e.into()) };
                ctx.note(format!("SKU {sku:?} is Books item {id}, not yet ours: adopting it"));
                let write = Write { system: System::Books, module: "items", action: "update", record_id: Some(&id), request: payload };
                let written = ctx.write(write, books.update_item(&id, &item), |i: &Item| i.item_id.clone()).await?;
                (written, "updated (matched by natural key)")
            }
        };
        let id = written.item_id.clone().ok_or_else(|| FlowError::Data("Books returned an item without item_id".into()))?;
        let want_active = item.status.as_deref() != Some("inactive");
        if written.status.as_deref().map(|s| s == "active") != Some(want_active) {
            self.set_active(ctx, &id, want_active).await?;
        }
        Ok((id, how))
    }

    /// Marks item `id` active or inactive.
    async fn set_active(&self, ctx: &mut Context<'_>, id: &str, active: bool) -> Result<(), FlowError> {
        let books = ctx.client().books();
        ctx.set_books_active("items", "item_id", id, active, books.set_item_active(id, active)).await
    }

    /// The product is gone from CRM: if it was synced, its item is marked inactive (Books
    /// keeps items that invoices use; inactive ones are no longer offered), and the link
    /// then carries a hash no mapping can have, so that a product restored from CRM's
    /// recycle bin is written again, not skipped as unchanged.
    async fn gone(&self, ctx: &mut Context<'_>, source_id: &str) -> Result<Outcome, FlowError> {
        let what = format!("Products {source_id} no longer exists in CRM");
        let Some(link) = ctx.link_by_crm(&RELATION, source_id).await? else {
            return Ok(Outcome::Skipped(format!("{what}; it was never synced")));
        };
        let id = link.books_id.as_str();
        let done = match self.set_active(ctx, id, false).await {
            Ok(()) => format!("marked Books item {id} inactive"),
            Err(FlowError::Zoho(e)) if e.status() == Some(404) => format!("Books item {id} is gone too"),
            Err(e) => return Err(e),
        };
        ctx.link(&RELATION, source_id, id, Wrote::Books(content_hash(&json!({"source_gone": source_id}))));
        Ok(Outcome::Done(format!("{what}: {done}")))
    }

    async fn sync(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let source_id = ctx.record().id.clone();
        let (outcome, written) = self.sync_product(ctx, &source_id).await?;
        let (Some(item_id), Some(price_lists)) = (written.filter(|w| !w.created).map(|w| w.item_id), &self.price_lists) else {
            return Ok(outcome);
        };
        let updated = price_lists.reprice_item(ctx, &item_id).await?;
        Ok(match (outcome, updated.is_empty()) {
            (outcome, true) => outcome,
            (Outcome::Done(done), false) | (Outcome::Skipped(done), false) => Outcome::Done(format!("{done}; price lists: {}", updated.join("; "))),
        })
    }

    /// Syncs CRM product `source_id` to its Books item; says what was done and, when the
    /// item was written, which item (and whether it was created). Used by this flow's
    /// run and by `pricebook_sync` for a price book's products not yet synced.
    pub(crate) async fn sync_product(&self, ctx: &mut Context<'_>, source_id: &str) -> Result<(Outcome, Option<WrittenItem>), FlowError> {
        let source_id = source_id.to_string();
        let fields = self.fields();
        // The product and its link are read at once (they do not depend on each other).
        let crm = ctx.client().crm();
        let read = crm.get::<Value>(RELATION.crm_module, &source_id, &fields);
        let (source, link) = tokio::join!(read, ctx.link_by_crm(&RELATION, &source_id));
        let Some(source) = source? else {
            return Ok((self.gone(ctx, &source_id).await?, None));
        };
        ctx.saw_source(&source);
        let payload = match self.map(ctx, &source_id, &source)? {
            Ok(payload) => payload,
            Err(reason) => return Ok((Outcome::Skipped(reason), None)),
        };
        ctx.mapped(&payload);
        let hash = content_hash(&payload);
        let link = link?;
        if let Some(link) = &link
            && link.books_hash.as_deref() == Some(hash.as_str())
        {
            let unchanged = format!("unchanged: the mapped item equals what was last written to Books item {} (hash equal)", link.books_id);
            return Ok((Outcome::Skipped(unchanged), None));
        }
        match &link {
            Some(link) => {
                ctx.note(format!("linked (product_item) to Books item {}; the mapped item differs from what was last written: update it", link.books_id))
            }
            None if ctx.is_dry_run() => {
                // A preview says what the upsert would meet (a real run needs no look-up).
                let sku = payload.get("sku").and_then(Value::as_str);
                let found = match sku {
                    Some(sku) => self.item_by_sku(ctx, &source_id, sku).await.map_err(|e| e.to_string()),
                    None => Ok(None),
                };
                ctx.note(match found {
                    Ok(Some(id)) => format!(
                        "no link; Books item {id} has its SKU: the upsert updates the item holding {} = {source_id}, or adopts item {id}",
                        self.crm_id_field
                    ),
                    Ok(None) => format!(
                        "no link and no item with its SKU: the upsert creates the item (or updates one already holding {} = {source_id})",
                        self.crm_id_field
                    ),
                    Err(conflict) => format!("no link, and the write would fail: {conflict}"),
                });
            }
            None => {}
        }
        ctx.note(format!("upsert Books item keyed by {} = {source_id}", self.crm_id_field));
        let (id, how) = self.write(ctx, &source_id, &payload).await?;
        ctx.link(&RELATION, &source_id, &id, Wrote::Books(hash));
        let written = WrittenItem { item_id: id.clone(), created: how == "created" };
        Ok((Outcome::Done(format!("{how} Books items {id}")), Some(written)))
    }
}

/// The item a product sync wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenItem {
    /// Its id.
    pub item_id: String,
    /// Whether the write created it.
    pub created: bool,
}

impl Flow for CatalogSync {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.sync(ctx).boxed()
    }

    fn shape(&self) -> FlowShape {
        FlowShape {
            source: Some((System::Crm, RELATION.crm_module)),
            target: Some((System::Books, RELATION.books_entity)),
            mapping: Some(self.mapping.clone()),
            target_fields: ITEM_FIELDS,
            unique_keys: vec![(format!("flows.{NAME}.crm_id_field"), self.crm_id_field.clone())],
            crm_fields: Vec::new(),
        }
    }
}

/// The Books item fields a mapping may write (Books v3 items: create and update bodies).
const ITEM_FIELDS: &[TargetField] = &[
    TargetField { name: "name", kind: FieldKind::Text, mandatory: true },
    TargetField { name: "rate", kind: FieldKind::Number, mandatory: true },
    TargetField { name: "sku", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "description", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "status", kind: FieldKind::OneOf(&["active", "inactive"]), mandatory: false },
    TargetField { name: "unit", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "product_type", kind: FieldKind::OneOf(&["goods", "service", "digital_service"]), mandatory: false },
    TargetField { name: "item_type", kind: FieldKind::OneOf(&["sales", "purchases", "sales_and_purchases", "inventory"]), mandatory: false },
    TargetField { name: "tax_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "is_taxable", kind: FieldKind::Bool, mandatory: false },
    TargetField { name: "tax_exemption_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "account_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "purchase_rate", kind: FieldKind::Number, mandatory: false },
    TargetField { name: "purchase_description", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "purchase_account_id", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "hsn_or_sac", kind: FieldKind::Text, mandatory: false },
    TargetField { name: "custom_fields", kind: FieldKind::List, mandatory: false },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(product: &Value) -> Result<Value, String> {
        let flow = CatalogSync::default();
        let input = Input { source: product, related: &Value::Null, now: jiff::Timestamp::UNIX_EPOCH };
        match flow.mapping.evaluate(&input) {
            Ok(mapping::Outcome::Payload(p)) => Ok(Value::Object(p)),
            Ok(mapping::Outcome::Skipped(r)) => Err(format!("skipped: {r}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn the_shipped_mapping_maps_a_product_to_an_item() {
        let product = json!({
            "id": "77", "Product_Name": " Widget ", "Product_Code": "W-1", "Unit_Price": 12.5,
            "Product_Active": false, "Description": "A widget",
        });
        let item = payload(&product).unwrap();
        assert_eq!(item, json!({"name": "Widget", "sku": "W-1", "rate": 12.5, "status": "inactive", "description": "A widget", "unit": ""}));
        // The same product maps to the same hash; a price change does not.
        assert_eq!(content_hash(&item), content_hash(&payload(&product).unwrap()));
        let mut dearer = product.clone();
        dearer["Unit_Price"] = json!(12.51);
        assert_ne!(content_hash(&item), content_hash(&payload(&dearer).unwrap()));
        let mut fields = CatalogSync::default().mapping.source_fields().to_vec();
        fields.sort();
        assert_eq!(fields, ["Description", "Product_Active", "Product_Code", "Product_Name", "Unit_Price", "Usage_Unit"], "no tax table: taxes left alone");
    }

    #[test]
    fn taxes_reach_the_item_through_the_tax_table() {
        let text = "[tables.tax]\n\"Sales Tax\" = \"T1\"\n\"Sales Tax, VAT\" = \"G1\"\n";
        let tables: Tables = toml::from_str::<BTreeMap<String, Tables>>(text).unwrap().remove("tables").unwrap();
        let flow = CatalogSyncConfig::default().build(&tables, None).unwrap();
        assert!(flow.mapping.source_fields().iter().any(|f| f == "Taxable"), "with a tax table, taxes are mapped");
        let tax_id = |product: Value| {
            let related = json!({"taxes": tax_key(&product)});
            let input = Input { source: &product, related: &related, now: jiff::Timestamp::UNIX_EPOCH };
            flow.mapping.apply(&input).map(|item| item["tax_id"].clone()).map_err(|e| e.to_string())
        };
        let product = |tax: Value, taxable: bool| json!({"Product_Name": "X", "Unit_Price": 1, "Tax": tax, "Taxable": taxable, "Usage_Unit": "Box"});
        assert_eq!(tax_id(product(json!(["Sales Tax"]), true)), Ok(json!("T1")));
        assert_eq!(tax_id(product(json!(["Sales Tax", "VAT"]), true)), Ok(json!("G1")), "a combination maps to a tax group");
        assert_eq!(tax_id(product(json!(["Sales Tax"]), false)), Ok(json!("")), "not taxable: no tax");
        assert_eq!(tax_id(product(json!([]), true)), Ok(json!("")), "no tax");
        let e = tax_id(product(json!(["GST"]), true)).unwrap_err();
        assert!(e.starts_with("flows.catalog_sync.map.tax_id:"), "a tax with no row is an error, not an item without tax: {e}");
        assert_eq!(tax_key(&json!({"Tax": [{"name": "A"}, " B "]})), Some("A, B".into()));
        let related = json!({"taxes": null});
        let item = flow.mapping.apply(&Input { source: &product(json!([]), true), related: &related, now: jiff::Timestamp::UNIX_EPOCH }).unwrap();
        assert_eq!(item["unit"], "Box");
    }

    #[test]
    fn no_price_is_a_data_error_naming_the_field_and_no_name_is_skipped() {
        let e = payload(&json!({"Product_Name": "X"})).unwrap_err();
        assert!(e.starts_with("flows.catalog_sync.map.rate:"), "{e}");
        assert!(payload(&json!({"Product_Name": "  ", "Unit_Price": 1})).unwrap_err().starts_with("skipped"));
        let item = payload(&json!({"Product_Name": "X", "Unit_Price": 1})).unwrap();
        assert!(item.get("sku").is_none() && item["description"] == "", "{item}");
    }

    #[test]
    fn a_user_mapping_overrides_the_shipped_one_field_by_field() {
        let text = "map.name = 'upper(source.Product_Name) + \" (\" + source.Product_Code + \")\"'\n";
        let config: CatalogSyncConfig = toml::from_str(text).unwrap();
        let flow = config.build(&Tables::new(), Some(text)).unwrap();
        let input = Input {
            source: &json!({"Product_Name": "Widget", "Product_Code": "W-1", "Unit_Price": 3}),
            related: &Value::Null,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let Ok(mapping::Outcome::Payload(item)) = flow.mapping.evaluate(&input) else { panic!() };
        assert_eq!((item["name"].as_str(), item["sku"].as_str()), (Some("WIDGET (W-1)"), Some("W-1")), "the other fields keep the shipped mapping");
    }

    #[test]
    fn a_bad_user_expression_fails_the_build_at_its_byte() {
        let text = "crm_id_field = \"cf_x\"\n[map]\nrate = 'source.Unit_Price *'\n";
        let config: CatalogSyncConfig = toml::from_str(text).unwrap();
        let e = config.build(&Tables::new(), Some(text)).unwrap_err();
        assert_eq!(e.path, "flows.catalog_sync.map.rate");
        let offset = e.offset.expect("an offset");
        assert!(offset >= text.find("source.Unit_Price").unwrap() && offset <= text.rfind('\'').unwrap(), "{offset}: {e}");
    }
}
