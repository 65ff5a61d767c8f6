//! Customer payments: their allocation to invoices, changes, deletion and refunds of
//! the unused amount.

use futures_core::Stream;
use reqwest::Method;

use super::{
    Books, ListQuery, Message,
    models::{CustomerPayment, PaymentRefund},
};
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

    /// Changes a payment; with `invoices` set, re-allocates it (the old allocations are taken
    /// back first). Idempotent: the same body gives the same payment.
    pub async fn update_customer_payment(&self, payment_id: &str, payment: &CustomerPayment) -> Result<CustomerPayment> {
        self.update(format!("/books/v3/customerpayments/{payment_id}"), "payment", payment).await
    }

    /// Refunds part of a payment's unused amount. Not idempotent.
    pub async fn refund_customer_payment(&self, payment_id: &str, refund: &PaymentRefund) -> Result<PaymentRefund> {
        // customer-payments.yml answers with a `payment_refunds` array holding the one refund.
        let refunds: Vec<PaymentRefund> = self.create(format!("/books/v3/customerpayments/{payment_id}/refunds"), "payment_refunds", refund, &[]).await?;
        refunds.into_iter().next().ok_or_else(|| crate::Error::decode("customerpayments/refunds", "no refund in the answer"))
    }

    /// The refunds of a payment.
    pub async fn customer_payment_refunds(&self, payment_id: &str) -> Result<Vec<PaymentRefund>> {
        self.get_entity(format!("/books/v3/customerpayments/{payment_id}/refunds"), "payment_refunds").await
    }

    /// Deletes a payment (the invoices get their balances back).
    pub async fn delete_customer_payment(&self, payment_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/customerpayments/{payment_id}"), true).await
    }
}
