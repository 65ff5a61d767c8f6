//! Estimates (Books' quotes) and their status changes.

use futures_core::Stream;
use reqwest::Method;

use super::{Books, ListQuery, Message, models::Estimate};
use crate::error::Result;

impl Books {
    /// Estimates matching `query`, as a stream.
    pub fn estimates(&self, query: ListQuery) -> impl Stream<Item = Result<Estimate>> + Send + 'static {
        self.list("/books/v3/estimates", "estimates", query)
    }

    /// One estimate.
    pub async fn estimate(&self, estimate_id: &str) -> Result<Estimate> {
        self.get_entity(format!("/books/v3/estimates/{estimate_id}"), "estimate").await
    }

    /// Creates an estimate. Not idempotent.
    pub async fn create_estimate(&self, estimate: &Estimate) -> Result<Estimate> {
        self.create("/books/v3/estimates".into(), "estimate", estimate, &[]).await
    }

    /// Updates an estimate.
    pub async fn update_estimate(&self, estimate_id: &str, estimate: &Estimate) -> Result<Estimate> {
        self.update(format!("/books/v3/estimates/{estimate_id}"), "estimate", estimate).await
    }

    /// Moves an estimate to `sent`, `accepted` or `declined`.
    pub async fn set_estimate_status(&self, estimate_id: &str, status: &str) -> Result<Message> {
        self.action(Method::POST, format!("/books/v3/estimates/{estimate_id}/status/{status}"), true).await
    }
}
