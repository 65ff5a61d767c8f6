//! `catalog_sync`: a CRM Product becomes a Books item.
//!
//! The simplest flow, and the one that proves the spine: name ← `Product_Name`, rate ←
//! `Unit_Price` (decimal), sku ← `Product_Code`, description ← `Description`, status ←
//! `Product_Active`, and the custom field `cf_crm_product_id` ← the CRM id. The product
//! and its item are linked in the `product_item` relation. Without a link, the natural
//! key is the SKU: an item found by SKU is ours when its `cf_crm_product_id` is the
//! product's id, or adopted when the field is empty (an item typed by hand); an item
//! whose field names another product is a conflict a person must resolve. A product
//! without a code is matched by scanning the items for the custom field. A product
//! deleted in CRM makes its item inactive.

use futures_util::{FutureExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zoho::{
    Client,
    books::{ListQuery, models::Item},
    crm::models::Product,
};

use super::{
    Context, Flow, FlowError, FlowFuture, Outcome, Write, Wrote,
    relations::{PRODUCT_ITEM, Relation},
};
use crate::{
    hash::content_hash,
    store::{Link, NewEvent, NewJob, RecordRef, Source, System},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "catalog_sync";
/// The Books item custom field that holds the CRM product id, by default.
pub const CRM_ID_FIELD: &str = "cf_crm_product_id";
/// CRM fields the flow reads.
const FIELDS: &[&str] = &["Product_Name", "Product_Code", "Unit_Price", "Product_Active", "Description"];
/// The relation its links are kept in.
const RELATION: Relation = PRODUCT_ITEM;

/// `[flows.catalog_sync]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSyncConfig {
    /// The Books item custom field holding the CRM product id. Default `cf_crm_product_id`.
    pub crm_id_field: String,
}

impl Default for CatalogSyncConfig {
    fn default() -> Self {
        CatalogSyncConfig { crm_id_field: CRM_ID_FIELD.into() }
    }
}

impl CatalogSyncConfig {
    /// The flow as configured.
    pub fn build(&self) -> CatalogSync {
        CatalogSync { crm_id_field: self.crm_id_field.clone() }
    }
}

/// CRM Product → Books item.
#[derive(Debug, Clone)]
pub struct CatalogSync {
    crm_id_field: String,
}

impl Default for CatalogSync {
    fn default() -> Self {
        CatalogSyncConfig::default().build()
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
    NewEvent {
        source,
        connection: connection.into(),
        system: "crm".into(),
        module: "Products".into(),
        record_id: record_id.into(),
        modified_ms: None,
        payload: json!({"id": record_id}),
        dedup_key: dedup_key.into(),
    }
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

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// An item found by natural key.
struct Found {
    id: String,
}

/// How the target was matched.
enum Target {
    /// Through the `product_item` link.
    Linked(Link),
    /// By natural key (SKU, or the custom field).
    Found(Found),
    /// Not at all: create it.
    New,
}

impl CatalogSync {
    /// Whether the product should be synced, else why not.
    fn skip_reason(&self, source: &Value) -> Option<String> {
        match source.get("Product_Name").and_then(Value::as_str).map(str::trim) {
            Some(name) if !name.is_empty() => None,
            _ => Some("the product has no Product_Name (Books items need a name)".into()),
        }
    }

    /// The item payload for the product.
    fn map(&self, source_id: &str, source: &Value) -> Result<Value, FlowError> {
        let product: Product =
            serde_json::from_value(source.clone()).map_err(|e| FlowError::Data(format!("unreadable CRM product {source_id}: {e}")))?;
        let rate = product.unit_price.ok_or_else(|| FlowError::Data(format!("CRM product {source_id} has no Unit_Price")))?;
        let mut extra = Map::new();
        extra.insert("custom_fields".into(), json!([{"api_name": self.crm_id_field, "value": source_id}]));
        let item = Item {
            name: text(product.product_name.as_deref()),
            rate: Some(rate),
            sku: text(product.product_code.as_deref()),
            description: Some(text(source.get("Description").and_then(Value::as_str)).unwrap_or_default()),
            status: Some(if product.active == Some(false) { "inactive" } else { "active" }.into()),
            extra,
            ..Item::default()
        };
        serde_json::to_value(&item).map_err(|e| FlowError::Data(format!("mapping CRM product {source_id}: {e}")))
    }

    /// The item with this payload's natural key: the SKU, or without one the custom
    /// field holding the product id.
    async fn find(&self, client: &Client, source_id: &str, payload: &Value) -> Result<Option<Found>, FlowError> {
        let books = client.books();
        let candidates: Vec<Value> = match payload.get("sku").and_then(Value::as_str) {
            Some(sku) => books.list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await?,
            // No SKU: the custom field is the only key; Books cannot filter on it.
            None => {
                let all: Vec<Value> = books.list("/books/v3/items", "items", ListQuery::new()).try_collect().await?;
                all.into_iter().filter(|i| custom_field(i, &self.crm_id_field) == Some(source_id)).collect()
            }
        };
        let Some(found) = candidates.into_iter().next() else {
            return Ok(None);
        };
        let id = found.get("item_id").and_then(Value::as_str).unwrap_or_default().to_string();
        match custom_field(&found, &self.crm_id_field) {
            Some(other) if other != source_id => Err(FlowError::Data(format!(
                "SKU {:?} is already used by Books item {id}, which belongs to CRM product {other}",
                payload.get("sku").and_then(Value::as_str).unwrap_or_default()
            ))),
            _ => Ok(Some(Found { id })),
        }
    }

    /// Creates the item (`existing` is `None`) or updates it, then sets its status (Books
    /// sets it through its own endpoints, not the item body); returns the item's id.
    async fn write(&self, ctx: &mut Context<'_>, existing: Option<&str>, payload: &Value) -> Result<String, FlowError> {
        let books = ctx.client().books();
        let item: Item = serde_json::from_value(payload.clone()).map_err(|e| FlowError::Data(format!("payload is not an item: {e}")))?;
        let action = if existing.is_some() { "update" } else { "create" };
        let write = Write { system: System::Books, module: "items", action, record_id: existing, request: payload };
        let written = match existing {
            Some(id) => ctx.write(write, books.update_item(id, &item), |i: &Item| i.item_id.clone()).await?,
            None => ctx.write(write, books.create_item(&item), |i: &Item| i.item_id.clone()).await?,
        };
        let id = written
            .item_id
            .clone()
            .or(existing.map(str::to_string))
            .ok_or_else(|| FlowError::Data("Books returned an item without item_id".into()))?;
        let want_active = item.status.as_deref() != Some("inactive");
        if written.status.as_deref().map(|s| s == "active") != Some(want_active) {
            self.set_active(ctx, &id, want_active).await?;
        }
        Ok(id)
    }

    /// Marks item `id` active or inactive.
    async fn set_active(&self, ctx: &mut Context<'_>, id: &str, active: bool) -> Result<(), FlowError> {
        let books = ctx.client().books();
        let action = if active { "mark_active" } else { "mark_inactive" };
        let request = json!({"item_id": id});
        let write = Write { system: System::Books, module: "items", action, record_id: Some(id), request: &request };
        let call = async { books.set_item_active(id, active).await.map(|m| json!({"code": m.code, "message": m.message})) };
        ctx.write(write, call, |_| Some(id.to_string())).await?;
        Ok(())
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
        let client = ctx.client();
        let Some(source): Option<Value> = client.crm().get(RELATION.crm_module, &source_id, FIELDS).await? else {
            return self.gone(ctx, &source_id).await;
        };
        ctx.saw_source(&source);
        if let Some(reason) = self.skip_reason(&source) {
            return Ok(Outcome::Skipped(reason));
        }
        let payload = self.map(&source_id, &source)?;
        ctx.mapped(&payload);
        let hash = content_hash(&payload);
        let link = ctx.link_by_crm(&RELATION, &source_id).await?;
        if let Some(link) = &link
            && link.books_hash.as_deref() == Some(hash.as_str())
        {
            return Ok(Outcome::Skipped(format!(
                "unchanged: the mapped item equals what was last written to Books item {} (hash equal)",
                link.books_id
            )));
        }
        // The link first, then the natural key.
        let target = match link {
            Some(link) => Target::Linked(link),
            None => match self.find(client, &source_id, &payload).await? {
                Some(found) => Target::Found(found),
                None => Target::New,
            },
        };
        let (existing, how) = match &target {
            Target::Linked(link) => (Some(link.books_id.as_str()), "updated (ID link)"),
            Target::Found(found) => (Some(found.id.as_str()), "updated (matched by natural key)"),
            Target::New => (None, "created"),
        };
        ctx.note(match existing {
            Some(id) => format!("{how}: Books item {id}"),
            None => "no link and no item with its natural key: create".to_string(),
        });
        let id = match self.write(ctx, existing, &payload).await {
            Ok(id) => id,
            // The linked item was deleted in Books: find it by natural key or create it.
            Err(FlowError::Zoho(e)) if matches!(target, Target::Linked(_)) && e.status() == Some(404) => {
                tracing::info!(job = ctx.job().id, "linked item is gone; matching by natural key");
                let found = self.find(client, &source_id, &payload).await?;
                self.write(ctx, found.as_ref().map(|f| f.id.as_str()), &payload).await?
            }
            Err(e) => return Err(e),
        };
        ctx.link(&RELATION, &source_id, &id, Wrote::Books(hash));
        Ok(Outcome::Done(format!("{how} Books items {id}")))
    }
}

impl Flow for CatalogSync {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.sync(ctx).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::content_hash;

    #[test]
    fn maps_a_product_to_an_item() {
        let product = json!({
            "id": "77", "Product_Name": " Widget ", "Product_Code": "W-1", "Unit_Price": 12.5,
            "Product_Active": false, "Description": "A widget",
        });
        let item = CatalogSync::default().map("77", &product).unwrap();
        assert_eq!(item["name"], "Widget");
        assert_eq!(item["sku"], "W-1");
        assert_eq!(item["rate"], json!(12.5));
        assert_eq!(item["status"], "inactive");
        assert_eq!(item["description"], "A widget");
        assert_eq!(custom_field(&item, CRM_ID_FIELD), Some("77"));
        // The same product maps to the same hash; a price change does not.
        assert_eq!(content_hash(&item), content_hash(&CatalogSync::default().map("77", &product).unwrap()));
        let mut dearer = product.clone();
        dearer["Unit_Price"] = json!(12.51);
        assert_ne!(content_hash(&item), content_hash(&CatalogSync::default().map("77", &dearer).unwrap()));
    }

    #[test]
    fn no_price_is_a_data_error_and_no_name_is_skipped() {
        assert!(matches!(CatalogSync::default().map("1", &json!({"Product_Name": "X"})), Err(FlowError::Data(_))));
        assert!(matches!(CatalogSync::default().skip_reason(&json!({"Product_Name": "  "})), Some(_)));
        assert_eq!(CatalogSync::default().skip_reason(&json!({"Product_Name": "X"})), None);
    }
}
