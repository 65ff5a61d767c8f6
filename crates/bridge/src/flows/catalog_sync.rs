//! `catalog_sync`: a CRM Product becomes a Books item.
//!
//! The simplest flow, and the one that proves the spine: name ← `Product_Name`, rate ←
//! `Unit_Price` (decimal), sku ← `Product_Code`, description ← `Description`, status ←
//! `Product_Active`, and the custom field `cf_crm_product_id` ← the CRM id. The natural
//! key is the SKU; an item found by SKU is ours when its `cf_crm_product_id` is the
//! product's id, or adopted when the field is empty (an item typed by hand); an item
//! whose field names another product is a conflict a person must resolve. A product
//! without a code is matched by scanning the items for the custom field. A product
//! deleted in CRM makes its item inactive.

use futures_util::{FutureExt, TryStreamExt};
use serde_json::{Map, Value, json};
use zoho::{
    Client,
    books::{ListQuery, models::Item},
    crm::models::Product,
};

use super::{Decision, Existing, Flow, FlowError, FlowFuture, WriteLog};
use crate::store::{Link, NewEvent, NewJob, Source};

/// The flow's name on jobs.
pub const NAME: &str = "catalog_sync";
/// The Books item custom field that holds the CRM product id.
pub const CRM_ID_FIELD: &str = "cf_crm_product_id";
/// CRM fields the flow reads.
const FIELDS: &[&str] = &["Product_Name", "Product_Code", "Unit_Price", "Product_Active", "Description"];

/// CRM Product → Books item.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogSync;

/// The job that syncs CRM product `record_id` (key `crm:Products:<id>`: one at a time per
/// product, in order).
pub fn job(record_id: &str) -> NewJob {
    NewJob { flow: NAME.into(), key: format!("crm:Products:{record_id}"), payload: json!({"record_id": record_id}) }
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

impl Flow for CatalogSync {
    fn name(&self) -> &'static str {
        NAME
    }

    fn source_module(&self) -> &'static str {
        "Products"
    }

    fn target_entity(&self) -> &'static str {
        "items"
    }

    fn load<'a>(&'a self, client: &'a Client, source_id: &'a str) -> FlowFuture<'a, Option<Value>> {
        async move {
            let product: Option<Value> = client.crm().get("Products", source_id, FIELDS).await?;
            Ok(product)
        }
        .boxed()
    }

    fn filter(&self, source: &Value) -> Decision {
        match source.get("Product_Name").and_then(Value::as_str).map(str::trim) {
            Some(name) if !name.is_empty() => Decision::Sync,
            _ => Decision::Skip("the product has no Product_Name (Books items need a name)".into()),
        }
    }

    fn map(&self, source_id: &str, source: &Value) -> Result<Value, FlowError> {
        let product: Product =
            serde_json::from_value(source.clone()).map_err(|e| FlowError::Data(format!("unreadable CRM product {source_id}: {e}")))?;
        let rate = product.unit_price.ok_or_else(|| FlowError::Data(format!("CRM product {source_id} has no Unit_Price")))?;
        let mut extra = Map::new();
        extra.insert("custom_fields".into(), json!([{"api_name": CRM_ID_FIELD, "value": source_id}]));
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

    fn find<'a>(&'a self, client: &'a Client, source_id: &'a str, payload: &'a Value) -> FlowFuture<'a, Option<Existing>> {
        async move {
            let books = client.books();
            let candidates: Vec<Value> = match payload.get("sku").and_then(Value::as_str) {
                Some(sku) => books.list("/books/v3/items", "items", ListQuery::new().param("sku", sku)).try_collect().await?,
                // No SKU: the custom field is the only key; Books cannot filter on it.
                None => {
                    let all: Vec<Value> = books.list("/books/v3/items", "items", ListQuery::new()).try_collect().await?;
                    all.into_iter().filter(|i| custom_field(i, CRM_ID_FIELD) == Some(source_id)).collect()
                }
            };
            let Some(found) = candidates.into_iter().next() else {
                return Ok(None);
            };
            let id = found.get("item_id").and_then(Value::as_str).unwrap_or_default().to_string();
            match custom_field(&found, CRM_ID_FIELD) {
                Some(other) if other != source_id => Err(FlowError::Data(format!(
                    "SKU {:?} is already used by Books item {id}, which belongs to CRM product {other}",
                    payload.get("sku").and_then(Value::as_str).unwrap_or_default()
                ))),
                _ => Ok(Some(Existing { id, record: found })),
            }
        }
        .boxed()
    }

    /// A product deleted in CRM: its item is marked inactive (Books keeps items that
    /// invoices use; inactive ones are no longer offered). An item already gone from
    /// Books is left so.
    fn gone<'a>(&'a self, client: &'a Client, link: &'a Link, log: &'a mut WriteLog) -> FlowFuture<'a, Option<String>> {
        async move {
            let id = link.books_id.as_str();
            let write = log.before("books", "items", "mark_inactive", Some(id), &json!({"item_id": id})).await?;
            let result = client.books().set_item_active(id, false).await.map(|m| json!({"code": m.code, "message": m.message}));
            log.after(write, Some(id), &result);
            match result {
                Ok(_) => Ok(Some(format!("marked Books item {id} inactive"))),
                Err(e) if e.status() == Some(404) => Ok(Some(format!("Books item {id} is gone too"))),
                Err(e) => Err(e.into()),
            }
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        client: &'a Client,
        existing: Option<&'a Existing>,
        payload: &'a Value,
        log: &'a mut WriteLog,
    ) -> FlowFuture<'a, String> {
        async move {
            let books = client.books();
            let item: Item = serde_json::from_value(payload.clone()).map_err(|e| FlowError::Data(format!("payload is not an item: {e}")))?;
            let (action, known_id) = match existing {
                Some(e) => ("update", Some(e.id.as_str())),
                None => ("create", None),
            };
            let write = log.before("books", "items", action, known_id, payload).await?;
            let result = match existing {
                Some(e) => books.update_item(&e.id, &item).await,
                None => books.create_item(&item).await,
            };
            let written_id = result.as_ref().ok().and_then(|i| i.item_id.clone());
            log.after(write, written_id.as_deref().or(known_id), &result);
            let written = result?;
            let id = written_id
                .or(known_id.map(str::to_string))
                .ok_or_else(|| FlowError::Data("Books returned an item without item_id".into()))?;
            // Books sets the status through its own endpoints, not the item body.
            let want_active = item.status.as_deref() != Some("inactive");
            if written.status.as_deref().map(|s| s == "active") != Some(want_active) {
                let action = if want_active { "mark_active" } else { "mark_inactive" };
                let write = log.before("books", "items", action, Some(&id), &json!({"item_id": id})).await?;
                let result = books.set_item_active(&id, want_active).await.map(|m| json!({"code": m.code, "message": m.message}));
                log.after(write, Some(&id), &result);
                result?;
            }
            Ok(id)
        }
        .boxed()
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
        let item = CatalogSync.map("77", &product).unwrap();
        assert_eq!(item["name"], "Widget");
        assert_eq!(item["sku"], "W-1");
        assert_eq!(item["rate"], json!(12.5));
        assert_eq!(item["status"], "inactive");
        assert_eq!(item["description"], "A widget");
        assert_eq!(custom_field(&item, CRM_ID_FIELD), Some("77"));
        // The same product maps to the same hash; a price change does not.
        assert_eq!(content_hash(&item), content_hash(&CatalogSync.map("77", &product).unwrap()));
        let mut dearer = product.clone();
        dearer["Unit_Price"] = json!(12.51);
        assert_ne!(content_hash(&item), content_hash(&CatalogSync.map("77", &dearer).unwrap()));
    }

    #[test]
    fn no_price_is_a_data_error_and_no_name_is_skipped() {
        assert!(matches!(CatalogSync.map("1", &json!({"Product_Name": "X"})), Err(FlowError::Data(_))));
        assert!(matches!(CatalogSync.filter(&json!({"Product_Name": "  "})), Decision::Skip(_)));
        assert_eq!(CatalogSync.filter(&json!({"Product_Name": "X"})), Decision::Sync);
    }
}
