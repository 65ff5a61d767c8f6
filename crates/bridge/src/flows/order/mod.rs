//! What the order-to-cash flows share (`deal_to_invoice`, `deal_to_credit_note`,
//! `quote_to_invoice`): who a document bills, in which currency, with which tax, its
//! lines, and the totals check after it is written.
//!
//! - **Customer** ([`Orders::billing`]): the Books customer linked to the CRM account;
//!   else `customer_sync`'s own matching and creation, run in the calling job (an
//!   ambiguous account goes on `customer_sync`'s review list, and the document fails as a
//!   data error naming the review).
//! - **Currency** (`[money.currency]`): a Books customer has one currency and a document
//!   takes it. When the CRM record's currency differs: `refuse` fails the document naming
//!   both; `per_currency_customer` bills a second customer `Name (CUR)` in the record's
//!   currency, made once per account and currency (upsert on the customer's unique
//!   custom field holding `<account id>-<CUR>`, linked in `account_currency_contact`);
//!   `convert` bills the customer in its own currency, every amount converted at the
//!   deal's rate (with CRM's rate for the customer's currency) or at Books' current rates.
//! - **Tax** ([`Orders::tax`]): the `[[money.tax_rules]]` rule for the customer's billing
//!   country, state and type, in Books ids (tax or tax group, exemption, template); no
//!   rule matching is a data error naming what was looked for (dead letter; replay after
//!   adding the rule).
//! - **Lines** ([`lines`]): rounded to the document currency's decimal places.
//! - **Totals** ([`TotalsCheck`]): what Books computed against the CRM amount, a
//!   difference beyond rounding recorded with its causes.
//!
//! Books settings (taxes, exemptions, templates, currencies) and CRM's exchange rates are
//! read once per process ([`settings::SettingsCache`]), never once per document.

pub mod billing;
pub mod lines;
pub mod settings;

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;

pub use billing::{Billing, Conversion, Customer, currency_key, is_currency_key};
pub use lines::{LineDiscount, OrderLine, TotalsCheck, books_lines, document_tax_fields, line_causes};
pub use settings::{AppliedTax, BooksSettings, SettingsCache};

use super::{Context, FlowError, customer_sync::CustomerSync};
use crate::money::{CurrencyPolicy, MoneyConfig, RateSource};

/// The order code, built once with the organisation's money rules and shared by the
/// order flows (with its settings cache).
#[derive(Debug, Clone)]
pub struct Orders {
    money: MoneyConfig,
    customers: Arc<CustomerSync>,
    cache: SettingsCache,
}

/// The CRM side of a document's billing: whose it is and in which currency.
#[derive(Debug, Clone, Copy)]
pub struct Billed<'a> {
    /// For errors and notes (`deal 123`).
    pub what: &'a str,
    /// The CRM account billed.
    pub account_id: &'a str,
    /// The record's currency (`Currency`), if it has one.
    pub currency: Option<&'a str>,
    /// The record's `Exchange_Rate` (units per CRM home unit).
    pub exchange_rate: Option<Decimal>,
}

impl Orders {
    /// The order code over `money`, finding customers as `customers` does.
    pub fn new(money: MoneyConfig, customers: Arc<CustomerSync>) -> Orders {
        Orders { money, customers, cache: SettingsCache::default() }
    }

    /// The money rules.
    pub fn money(&self) -> &MoneyConfig {
        &self.money
    }

    /// The Books settings, read once per process.
    pub async fn settings(&self, ctx: &Context<'_>) -> Result<Arc<BooksSettings>, FlowError> {
        self.cache.get(ctx, &self.money, false).await
    }

    /// The Books customer of CRM account `account_id` (the link, else `customer_sync`'s
    /// matching and creation), read from Books.
    pub async fn customer(&self, ctx: &mut Context<'_>, account_id: &str) -> Result<Customer, FlowError> {
        let books_id = self.customers.customer_for_account(ctx, account_id).await?;
        let books = ctx.client().books();
        let (contact, settings) = tokio::join!(books.contact(&books_id), self.settings(ctx));
        let contact = match contact {
            Ok(c) => c,
            Err(e) if e.status() == Some(404) => {
                return Err(FlowError::Data(format!(
                    "Books customer {books_id}, linked to CRM account {account_id}, no longer exists: relink the account (customer_sync), then replay"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let settings = settings?;
        Customer::from_contact(serde_json::to_value(contact).unwrap_or(Value::Null), &settings)
    }

    /// Who a document for `billed` bills and in which currency, as `[money.currency]`
    /// says when the record's currency is not its customer's.
    pub async fn billing(&self, ctx: &mut Context<'_>, billed: Billed<'_>) -> Result<Billing, FlowError> {
        let customer = self.customer(ctx, billed.account_id).await?;
        let wanted = billed.currency.map(str::trim).filter(|c| !c.is_empty()).map(str::to_ascii_uppercase);
        let Some(wanted) = wanted.filter(|w| !w.eq_ignore_ascii_case(&customer.currency_code)) else {
            let currency = customer.currency_code.clone();
            return Ok(Billing { customer, currency, conversion: None });
        };
        let have = customer.currency_code.clone();
        match self.money.currency.policy {
            CurrencyPolicy::Refuse => Err(FlowError::Data(format!(
                "{} is in {wanted} but its Books customer {:?} ({}) bills in {have}: money.currency.policy = \"refuse\"; set \"per_currency_customer\" or \"convert\", or change the currency on one side, then replay",
                billed.what, customer.name, customer.id
            ))),
            CurrencyPolicy::PerCurrencyCustomer => {
                let settings = self.settings(ctx).await?;
                let key_field = self.customers.crm_id_field().to_string();
                let other = billing::currency_customer(ctx, &settings, &key_field, billed.account_id, &customer, &wanted).await?;
                Ok(Billing { currency: other.currency_code.clone(), customer: other, conversion: None })
            }
            CurrencyPolicy::Convert => {
                let source = self.money.currency.rates;
                let (crm_rates, books_rates) = match source {
                    RateSource::Deal => (self.cache.crm_rates(ctx).await?.as_ref().clone(), Vec::new()),
                    RateSource::Books => (Vec::new(), self.cache.books_rates(ctx).await?),
                };
                let conversion = billing::rates(source, &wanted, &have, billed.exchange_rate, &crm_rates, &books_rates).map_err(|why| {
                    FlowError::Data(format!("{} in {wanted} cannot be converted to {have} for Books customer {}: {why}", billed.what, customer.id))
                })?;
                ctx.note(format!("converting {wanted} to {have} at {} per home unit against {}", conversion.from_per_home, conversion.to_per_home));
                Ok(Billing { customer, currency: have, conversion: Some(conversion) })
            }
        }
    }

    /// The tax rule for `customer`, in Books ids: `None` when no rules are configured
    /// (lines keep their items' taxes). No rule matching, or a rule naming what Books
    /// does not have, is a data error naming it.
    pub async fn tax(&self, ctx: &Context<'_>, customer: &Customer) -> Result<Option<AppliedTax>, FlowError> {
        let choice =
            self.money.tax_for(&customer.buyer()).map_err(|e| FlowError::Data(format!("Books customer {} ({:?}): {e}", customer.id, customer.name)))?;
        let Some(choice) = choice else { return Ok(None) };
        let settings = self.settings(ctx).await?;
        match settings::resolve(&settings, &choice) {
            Ok(applied) => Ok(Some(applied)),
            Err(_) => {
                // Books may have gained it since the settings were read.
                let fresh = self.cache.get(ctx, &self.money, true).await?;
                settings::resolve(&fresh, &choice)
                    .map(Some)
                    .map_err(|why| FlowError::Data(format!("tax rule {:?}: {why}; add it in Books or correct money.tax_rules, then replay", choice.rule.name)))
            }
        }
    }
}
