//! Customer payments and their allocation to invoices.

use futures_core::Stream;
use reqwest::Method;

use super::{Books, ListQuery, Message, models::CustomerPayment};
use crate::error::Result;

impl Books {
    /// Customer payments matching `query`, as a stream.
    pub fn customer_payments(&self, query: ListQuery) -> impl Stream<Item = Result<CustomerPayment>> + Send + 'static {
        self.list("/books/v3/customerpayments", "customer_payments", query)
    }

    /// One customer payment.
    pub async fn customer_payment(&self, payment_id: &str) -> Result<CustomerPayment> {
        self.get_entity(format!("/books/v3/customerpayments/{payment_id}"), "payment").await
    }

    /// Records a payment. Not idempotent.
    pub async fn create_customer_payment(&self, payment: &CustomerPayment) -> Result<CustomerPayment> {
        self.create("/books/v3/customerpayments".into(), "payment", payment, &[]).await
    }

    /// Deletes a payment.
    pub async fn delete_customer_payment(&self, payment_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/customerpayments/{payment_id}"), true).await
    }
}
