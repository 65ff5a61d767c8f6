//! Flows: each one file, a config struct that builds it and one `run` over a context.
//!
//! A flow says only what is particular to it: which records it reads, how it maps them
//! (its mapping, from the config file), how it finds the target (link, then natural key)
//! and what it writes. It does all of that through its [`Context`], which keeps the
//! invariants once for every flow: every write is journaled before it is sent and
//! completed with Zoho's answer; links (by [`relations`]) and the snapshot of the
//! record's trigger fields are recorded by the run and stored with the job's end in one
//! transaction; time comes from the one clock. The [`runner`] turns the run into a job
//! result; only the worker decides retries.
//!
//! Adding a flow: a file here with its config struct (`[flows.<name>]`, serde, with
//! defaults), a `build` that compiles it, and `impl Flow`; then one line in
//! [`FlowsConfig`].

pub mod catalog_sync;
mod context;
pub mod customer_sync;
pub mod deal_to_credit_note;
pub mod deal_to_invoice;
pub mod order;
pub mod overdue_to_task;
pub mod payment_to_crm;
pub mod pricebook_sync;
pub mod quote_to_invoice;
pub mod relations;
pub mod runner;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use context::{Context, FlowStore, Preview, Write, Wrote, error_json, outcome_pending};
pub use runner::{execute, preview, run_job};

use crate::{
    mapping::{CompileError, Mapping, Tables},
    money::MoneyConfig,
    store::System,
    triggers::Clock,
    worker::Backoff,
};

/// A flow: what one kind of change does.
pub trait Flow: Send + Sync + 'static {
    /// The name jobs and the config carry (`catalog_sync`).
    fn name(&self) -> &'static str;
    /// Runs the flow for the record the job is about ([`Context::record`]). Reads go
    /// through [`Context::client`], writes through [`Context::write`]; links and the
    /// snapshot are recorded on the context.
    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome>;
    /// What it reads and writes, for `zoho-bridge check --online` and `preview`. Default:
    /// nothing to check.
    fn shape(&self) -> FlowShape {
        FlowShape::default()
    }
}

/// What a flow reads and writes: its source and target, its mapping, the target's
/// fields it may write, and the custom fields it relies on.
#[derive(Debug, Clone, Default)]
pub struct FlowShape {
    /// The records it runs for (`crm`, `Products`).
    pub source: Option<(System, &'static str)>,
    /// The records it writes (`books`, `items`).
    pub target: Option<(System, &'static str)>,
    /// Its compiled mapping.
    pub mapping: Option<Mapping>,
    /// The target's fields a mapping may write, with their kinds.
    pub target_fields: &'static [TargetField],
    /// Custom fields of the target that must exist and be marked unique (upsert keys),
    /// with the setting naming each (`flows.catalog_sync.crm_id_field`).
    pub unique_keys: Vec<(String, String)>,
    /// CRM fields the flow writes that a person may have to create (custom fields named
    /// in its config).
    pub crm_fields: Vec<CrmField>,
}

/// A CRM field a flow writes, as `check --online` verifies it: present, of the right
/// type, with the picklist values the flow writes, unique when it keys an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmField {
    /// The setting naming it (`flows.payment_to_crm.deal.balance_due`).
    pub setting: String,
    /// Its module (`Deals`).
    pub module: &'static str,
    /// Its API name (`Balance_Due`).
    pub api_name: String,
    /// The CRM data type to create it with (`currency`, `date`, `picklist`, `text`).
    pub data_type: &'static str,
    /// For a picklist, the values the flow writes.
    pub values: Vec<String>,
    /// Whether it must be marked unique ("Do not allow duplicate values": an upsert key).
    pub unique: bool,
}

/// A field of a target record a mapping may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetField {
    /// Its API name.
    pub name: &'static str,
    /// What values it takes.
    pub kind: FieldKind,
    /// Whether creating a record needs it.
    pub mandatory: bool,
}

/// What values a target field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text.
    Text,
    /// A number (decimal).
    Number,
    /// `true` or `false`.
    Bool,
    /// One of these texts.
    OneOf(&'static [&'static str]),
    /// An array (of objects).
    List,
    /// An object (an address).
    Object,
}

/// How a run ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It did this (for people).
    Done(String),
    /// Nothing to do, for this reason (for people).
    Skipped(String),
}

/// What a flow run can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Zoho answered with an error, the network failed, or the outcome of a write is
    /// unknown.
    #[error(transparent)]
    Zoho(#[from] zoho::Error),
    /// The source data cannot be synced as it is (a person must fix it): permanent.
    #[error("{0}")]
    Data(String),
    /// The store failed (a write could not be journaled, a link not read): nothing was
    /// sent; retryable.
    #[error("{0}")]
    Store(String),
    /// A dry run reached its first write ([`Context::dry_run`]): not a failure.
    #[error("the dry run stopped before its first write")]
    Preview,
}

/// The future a flow returns.
pub type FlowFuture<'a, T> = BoxFuture<'a, Result<T, FlowError>>;

/// What the runner needs besides the job: who runs it, the clock, and how failures are
/// retried.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The worker id (audit actor, lease owner).
    pub worker: String,
    /// The connection the client belongs to (links and audit are keyed by it).
    pub connection: String,
    /// Attempts before a retryable failure is dead-lettered.
    pub max_attempts: i32,
    /// Delay before the next attempt.
    pub backoff: Backoff,
    /// The engine's one clock.
    pub clock: Clock,
}

/// The `[flows]` section: one sub-section per flow, each with defaults (so a file names
/// only what it changes).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowsConfig {
    /// `[flows.catalog_sync]`: CRM Products → Books items.
    pub catalog_sync: catalog_sync::CatalogSyncConfig,
    /// `[flows.customer_sync]`: CRM Accounts + Contacts ⇄ Books contacts + persons.
    pub customer_sync: customer_sync::CustomerSyncConfig,
    /// `[flows.pricebook_sync]`: CRM Price Books → Books price lists.
    pub pricebook_sync: pricebook_sync::PricebookSyncConfig,
    /// `[flows.deal_to_invoice]`: a deal closed won → one Books invoice.
    pub deal_to_invoice: deal_to_invoice::DealToInvoiceConfig,
    /// `[flows.deal_to_credit_note]`: an invoiced deal lost, lowered or refunded → a
    /// Books credit note.
    pub deal_to_credit_note: deal_to_credit_note::DealToCreditNoteConfig,
    /// `[flows.payment_to_crm]`: Books payments, invoices and credit notes → the CRM deal
    /// and account they belong to.
    pub payment_to_crm: payment_to_crm::PaymentToCrmConfig,
    /// `[flows.overdue_to_task]`: an overdue Books invoice → one CRM task.
    pub overdue_to_task: overdue_to_task::OverdueToTaskConfig,
    /// `[flows.quote_to_invoice]`: a quote accepted → one draft Books invoice.
    pub quote_to_invoice: quote_to_invoice::QuoteToInvoiceConfig,
}

impl FlowsConfig {
    /// The flows this build has, by name.
    pub const NAMES: &'static [&'static str] = &[
        catalog_sync::NAME,
        pricebook_sync::NAME,
        customer_sync::NAME,
        deal_to_invoice::NAME,
        deal_to_credit_note::NAME,
        payment_to_crm::NAME,
        overdue_to_task::NAME,
        quote_to_invoice::NAME,
    ];

    /// Builds every flow as configured, compiling its mapping with the config's lookup
    /// `tables`, with the organisation's `money` rules (currency policy, tax rules) for
    /// the order-to-cash flows; `text` is the config file's text, for the exact place of
    /// an error.
    pub fn build(&self, tables: &Tables, money: &MoneyConfig, text: Option<&str>) -> Result<Vec<Arc<dyn Flow>>, CompileError> {
        let catalog = self.catalog_sync.build(tables, text)?;
        // The price book flow syncs a book's products not yet synced with the catalog's
        // own mapping; the catalog brings the price lists of an updated item up to date.
        let pricebooks = Arc::new(self.pricebook_sync.build(tables, text, catalog.clone())?);
        let customers = Arc::new(self.customer_sync.build(tables, text)?);
        // The order flows share one order code (and its settings cache), finding
        // customers as customer_sync does.
        let orders = order::Orders::new(money.clone(), customers.clone());
        Ok(vec![
            Arc::new(catalog.clone().with_price_lists(pricebooks.clone())),
            pricebooks,
            customers,
            Arc::new(self.deal_to_invoice.build(orders.clone())?),
            Arc::new(self.deal_to_credit_note.build(orders.clone())?),
            Arc::new(self.payment_to_crm.build()?),
            Arc::new(self.overdue_to_task.build()?),
            // A quoted product not yet synced is synced first, by the catalog's mapping.
            Arc::new(self.quote_to_invoice.build(tables, text, catalog, orders)?),
        ])
    }

    /// The shipped sections of every flow, as TOML a user can copy into the config file
    /// (`zoho-bridge config defaults`).
    pub fn defaults_toml() -> String {
        SHIPPED.iter().map(|(name, defaults)| section_text(name, defaults)).collect()
    }
}

/// Each flow's name and shipped section ([`FlowsConfig::defaults_toml`]).
const SHIPPED: &[(&str, &str)] = &[
    (catalog_sync::NAME, catalog_sync::DEFAULTS),
    (pricebook_sync::NAME, pricebook_sync::DEFAULTS),
    (customer_sync::NAME, customer_sync::DEFAULTS),
    (deal_to_invoice::NAME, deal_to_invoice::DEFAULTS),
    (deal_to_credit_note::NAME, deal_to_credit_note::DEFAULTS),
    (payment_to_crm::NAME, payment_to_crm::DEFAULTS),
    (overdue_to_task::NAME, overdue_to_task::DEFAULTS),
    (quote_to_invoice::NAME, quote_to_invoice::DEFAULTS),
];

/// A flow's shipped defaults (written relative to its section) as the section of a config
/// file: `[flows.<name>]`, and each sub-table header prefixed (`[map]` → `[flows.<name>.map]`).
fn section_text(name: &str, defaults: &str) -> String {
    let mut out = format!("[flows.{name}]\n");
    for line in defaults.lines() {
        match line.strip_prefix('[') {
            Some(rest) if !line.starts_with("[[") => out.push_str(&format!("[flows.{name}.{rest}\n")),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out
}

/// Every flow this build has, on its shipped defaults.
pub fn all() -> Vec<Arc<dyn Flow>> {
    FlowsConfig::default().build(&Tables::new(), &MoneyConfig::default(), None).expect("the shipped flows compile (tested)")
}

/// The names of the flows this build has, for checking the config's routes.
pub fn names() -> Vec<&'static str> {
    FlowsConfig::NAMES.to_vec()
}

/// The system clock's now, epoch milliseconds, for callers that have no [`Clock`] of
/// their own (tests, admin commands). The engine reads [`RunSettings::clock`].
pub fn now_ms() -> i64 {
    Clock::system().now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_defaults_parse_as_a_config_section_and_build() {
        let text = FlowsConfig::defaults_toml();
        #[derive(Deserialize)]
        struct File {
            flows: FlowsConfig,
        }
        let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let flows = file.flows.build(&Tables::new(), &MoneyConfig::default(), Some(&text)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(flows.iter().map(|f| f.name()).collect::<Vec<_>>(), FlowsConfig::NAMES);
        assert!(text.starts_with("[flows.catalog_sync]\n"), "{text}");
        assert!(text.contains("\n[flows.catalog_sync.map]\n"), "{text}");
        assert!(text.contains("\n[flows.pricebook_sync]\n") && text.contains("\n[flows.pricebook_sync.lines.map]\n"), "{text}");
    }
}
