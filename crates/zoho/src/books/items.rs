//! Items (the catalogue the CRM products map to).

use futures_core::Stream;
use reqwest::Method;

use super::{Books, ListQuery, Message, models::Item};
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
