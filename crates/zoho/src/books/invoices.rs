//! Invoices: create with line items, update, mark sent, void, list by last change.

use futures_core::Stream;
use jiff::Timestamp;
use reqwest::Method;

use super::{
    Books, ListQuery, Message, UpsertOutcome,
    models::{CreditApplication, Invoice},
};
use crate::error::Result;

impl Books {
    /// Invoices matching `query`, as a stream.
    pub fn invoices(&self, query: ListQuery) -> impl Stream<Item = Result<Invoice>> + Send + 'static {
        self.list("/books/v3/invoices", "invoices", query)
    }

    /// Invoices modified at or after `since`, oldest change first.
    pub fn invoices_modified_since(&self, since: Timestamp) -> impl Stream<Item = Result<Invoice>> + Send + 'static {
        self.invoices(ListQuery::new().modified_since(since).sort("last_modified_time", true))
    }

    /// One invoice.
    pub async fn invoice(&self, invoice_id: &str) -> Result<Invoice> {
        self.get_entity(format!("/books/v3/invoices/{invoice_id}"), "invoice").await
    }

    /// Creates an invoice (a draft unless Books is told to send it). Not idempotent:
    /// after [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) look it up by
    /// `reference_number` first.
    pub async fn create_invoice(&self, invoice: &Invoice) -> Result<Invoice> {
        self.create("/books/v3/invoices".into(), "invoice", invoice, &[]).await
    }

    /// Creates an invoice with the given `invoice_number` instead of the auto series
    /// (`ignore_auto_number_generation=true`).
    pub async fn create_invoice_numbered(&self, invoice: &Invoice) -> Result<Invoice> {
        self.create("/books/v3/invoices".into(), "invoice", invoice, &[("ignore_auto_number_generation", "true")]).await
    }

    /// Creates or updates, in one call, the invoice whose unique custom field `key_field`
    /// (api name, e.g. `cf_crm_deal_id`) holds `key_value`, and says which happened.
    /// Idempotent, as [`Books::upsert_item`]: one invoice per key value, however often
    /// it is repeated.
    pub async fn upsert_invoice(&self, key_field: &str, key_value: &str, invoice: &Invoice) -> Result<(Invoice, UpsertOutcome)> {
        self.upsert("/books/v3/invoices".into(), "invoice", key_field, key_value, invoice).await
    }

    /// Updates an invoice with the fields set in `invoice`.
    pub async fn update_invoice(&self, invoice_id: &str, invoice: &Invoice) -> Result<Invoice> {
        self.update(format!("/books/v3/invoices/{invoice_id}"), "invoice", invoice).await
    }

    /// Marks an invoice sent (without emailing it).
    pub async fn mark_invoice_sent(&self, invoice_id: &str) -> Result<Message> {
        self.action(Method::POST, format!("/books/v3/invoices/{invoice_id}/status/sent"), true).await
    }

    /// Voids an invoice (its payments and credits become customer credit).
    pub async fn void_invoice(&self, invoice_id: &str) -> Result<Message> {
        self.action(Method::POST, format!("/books/v3/invoices/{invoice_id}/status/void"), true).await
    }

    /// Deletes an invoice (Books refuses when payments or credits are applied).
    pub async fn delete_invoice(&self, invoice_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/invoices/{invoice_id}"), true).await
    }

    /// Credit notes applied to an invoice.
    pub async fn invoice_credits_applied(&self, invoice_id: &str) -> Result<Vec<CreditApplication>> {
        self.get_entity(format!("/books/v3/invoices/{invoice_id}/creditsapplied"), "credits").await
    }
}
