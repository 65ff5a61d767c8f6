//! Items (the catalogue the CRM products map to): list, read, create, update, upsert by
//! a unique custom field, active/inactive.

use futures_core::Stream;
use reqwest::Method;

use super::{Books, ListQuery, Message, UpsertOutcome, models::Item};
use crate::error::Result;

impl Books {
    /// Items matching `query` (e.g. `sku=…`, `filter_by=Status.Active`), as a stream.
    pub fn items(&self, query: ListQuery) -> impl Stream<Item = Result<Item>> + Send + 'static {
        self.list("/books/v3/items", "items", query)
    }

    /// One item.
    pub async fn item(&self, item_id: &str) -> Result<Item> {
        self.get_entity(format!("/books/v3/items/{item_id}"), "item").await
    }

    /// Creates an item. Not idempotent (look it up by SKU after an unknown outcome).
    pub async fn create_item(&self, item: &Item) -> Result<Item> {
        self.create("/books/v3/items".into(), "item", item, &[]).await
    }

    /// Creates or updates, in one call, the item whose unique custom field `key_field`
    /// (api name, e.g. `cf_crm_product_id`) holds `key_value`, and says which happened.
    /// The key field is set to `key_value` on the item. Creating needs `name` and `rate`.
    /// Idempotent: repeated after a lost answer, it still leaves one item. Books refuses
    /// (HTTP 400) a field that is not marked unique ("do not allow duplicate values").
    pub async fn upsert_item(&self, key_field: &str, key_value: &str, item: &Item) -> Result<(Item, UpsertOutcome)> {
        self.upsert("/books/v3/items".into(), "item", key_field, key_value, item).await
    }

    /// Updates an item.
    pub async fn update_item(&self, item_id: &str, item: &Item) -> Result<Item> {
        self.update(format!("/books/v3/items/{item_id}"), "item", item).await
    }

    /// Marks an item active or inactive.
    pub async fn set_item_active(&self, item_id: &str, active: bool) -> Result<Message> {
        let state = if active { "active" } else { "inactive" };
        self.action(Method::POST, format!("/books/v3/items/{item_id}/{state}"), true).await
    }
}
