//! Organisation-level settings the flows look up: organisations, taxes, tax exemptions,
//! currencies and templates.

use futures_core::Stream;
use reqwest::Method;

use super::{
    Books, ListQuery, Message,
    models::{Currency, Organization, Tax, TaxExemption, Template},
};
use crate::{
    error::{Api, Result},
    transport::Request,
};

impl Books {
    /// The organisations the token can reach (this call needs no `organization_id`,
    /// but carrying it does no harm).
    pub async fn organizations(&self) -> Result<Vec<Organization>> {
        let req = Request::new(Api::Books, Method::GET, "/books/v3/organizations");
        self.entity(&req, "organizations").await
    }

    /// Taxes, as a stream.
    pub fn taxes(&self) -> impl Stream<Item = Result<Tax>> + Send + 'static {
        self.list("/books/v3/settings/taxes", "taxes", ListQuery::new())
    }

    /// Tax exemptions.
    pub async fn tax_exemptions(&self) -> Result<Vec<TaxExemption>> {
        self.get_entity("/books/v3/settings/taxexemptions".into(), "tax_exemptions").await
    }

    /// Creates a tax exemption (`tax_exemption_code`, `type` `customer` or `item`, and the
    /// `description` printed on exempt documents). Books refuses a code twice (1001).
    pub async fn create_tax_exemption(&self, exemption: &TaxExemption) -> Result<TaxExemption> {
        self.create("/books/v3/settings/taxexemptions".into(), "tax_exemption", exemption, &[]).await
    }

    /// Deletes a tax exemption no document uses.
    pub async fn delete_tax_exemption(&self, tax_exemption_id: &str) -> Result<Message> {
        self.action(Method::DELETE, format!("/books/v3/settings/taxexemptions/{tax_exemption_id}"), true).await
    }

    /// Currencies, as a stream.
    pub fn currencies(&self) -> impl Stream<Item = Result<Currency>> + Send + 'static {
        self.list("/books/v3/settings/currencies", "currencies", ListQuery::new())
    }

    /// Invoice templates.
    pub async fn invoice_templates(&self) -> Result<Vec<Template>> {
        self.get_entity("/books/v3/invoices/templates".into(), "templates").await
    }

    /// Estimate templates.
    pub async fn estimate_templates(&self) -> Result<Vec<Template>> {
        self.get_entity("/books/v3/estimates/templates".into(), "templates").await
    }

    /// Credit note templates.
    pub async fn credit_note_templates(&self) -> Result<Vec<Template>> {
        self.get_entity("/books/v3/creditnotes/templates".into(), "templates").await
    }
}
