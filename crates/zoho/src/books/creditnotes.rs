//! Credit notes: create, upsert by a unique custom field, apply to invoices, refund.

use futures_core::Stream;
use reqwest::Method;
use serde_json::json;

use super::{
    Books, ListQuery, Message, UpsertOutcome,
    models::{CreditApplication, CreditNote, Refund},
};
use crate::error::Result;

impl Books {
    /// Credit notes matching `query`, as a stream.
    pub fn credit_notes(&self, query: ListQuery) -> impl Stream<Item = Result<CreditNote>> + Send + 'static {
        self.list("/books/v3/creditnotes", "creditnotes", query)
    }

    /// One credit note.
    pub async fn credit_note(&self, creditnote_id: &str) -> Result<CreditNote> {
        self.get_entity(format!("/books/v3/creditnotes/{creditnote_id}"), "creditnote").await
    }

    /// Creates a credit note; with `invoice_id` it is raised against that invoice.
    /// Not idempotent.
    pub async fn create_credit_note(&self, note: &CreditNote, invoice_id: Option<&str>) -> Result<CreditNote> {
        let query: Vec<(&str, &str)> = invoice_id.map(|id| ("invoice_id", id)).into_iter().collect();
        self.create("/books/v3/creditnotes".into(), "creditnote", note, &query).await
    }

    /// Creates or updates, in one call, the credit note whose unique custom field
    /// `key_field` (e.g. `cf_crm_credit_key`) holds `key_value`, and says which happened:
    /// one credit note per key value however often it is repeated.
    pub async fn upsert_credit_note(&self, key_field: &str, key_value: &str, note: &CreditNote) -> Result<(CreditNote, UpsertOutcome)> {
        self.upsert("/books/v3/creditnotes".into(), "creditnote", key_field, key_value, note).await
    }

    /// Applies credit to invoices. Not idempotent (applying twice credits twice).
    pub async fn apply_credit_note(&self, creditnote_id: &str, invoices: &[CreditApplication]) -> Result<Message> {
        self.action_with(Method::POST, format!("/books/v3/creditnotes/{creditnote_id}/invoices"), &json!({ "invoices": invoices }), false).await
    }

    /// Refunds (part of) a credit note. Not idempotent.
    pub async fn refund_credit_note(&self, creditnote_id: &str, refund: &Refund) -> Result<Refund> {
        self.create(format!("/books/v3/creditnotes/{creditnote_id}/refunds"), "creditnote_refund", refund, &[]).await
    }

    /// Voids a credit note.
    pub async fn void_credit_note(&self, creditnote_id: &str) -> Result<Message> {
        self.action(Method::POST, format!("/books/v3/creditnotes/{creditnote_id}/status/void"), true).await
    }
}
