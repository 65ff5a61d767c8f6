//! Price lists (`/pricebooks`, what CRM price books map to): list, read, create, update,
//! delete, active/inactive.

use futures_core::Stream;
use reqwest::Method;

use super::{Books, ListQuery, Message, models::PriceList};
use crate::error::Result;

impl Books {
    /// Price lists matching `query` (`filter_by=SalesOrPurchaseType.Sales`,
    /// `search_text=…` in the name), as a stream.
    pub fn pricelists(&self, query: ListQuery) -> impl Stream<Item = Result<PriceList>> + Send + 'static {
        self.list("/books/v3/pricebooks", "pricebooks", query)
    }

    /// One price list, with its item rates.
    pub async fn pricelist(&self, pricebook_id: &str) -> Result<PriceList> {
        self.get_entity(format!("/books/v3/pricebooks/{pricebook_id}"), "pricebook").await
    }

    /// Creates a price list (`name`, `pricebook_type` and `sales_or_purchase_type` are
    /// mandatory; the name must be unique). Not idempotent: after an unknown outcome look
    /// it up by name.
    pub async fn create_pricelist(&self, pricelist: &PriceList) -> Result<PriceList> {
        self.create("/books/v3/pricebooks".into(), "pricebook", pricelist, &[]).await
    }

    /// Updates a price list. Books wants `name`, `pricebook_type` and
    /// `sales_or_purchase_type` on an update too; `pricebook_items`, when sent, replace
    /// the list's lines (lines sent back with their `pricebook_item_id` keep it).
    pub async fn update_pricelist(&self, pricebook_id: &str, pricelist: &PriceList) -> Result<PriceList> {
        self.update(format!("/books/v3/pricebooks/{pricebook_id}"), "pricebook", pricelist).await
    }

    /// Deletes a price list.
    pub async fn delete_pricelist(&self, pricebook_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/pricebooks/{pricebook_id}"), true).await
    }

    /// Marks a price list active or inactive.
    pub async fn set_pricelist_active(&self, pricebook_id: &str, active: bool) -> Result<Message> {
        let state = if active { "active" } else { "inactive" };
        self.action(Method::POST, format!("/books/v3/pricebooks/{pricebook_id}/{state}"), true).await
    }
}
