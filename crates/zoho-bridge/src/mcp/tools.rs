//! The tools an agent sees: names, descriptions, argument schemas and the scope each
//! needs. The arguments are plain structs; their JSON schema comes from their doc
//! comments (schemars), so what the agent reads is what is checked.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;

use super::governance::Scope;

/// One tool: what the agent reads and what it needs.
pub struct ToolSpec {
    /// Its name.
    pub name: &'static str,
    /// The scope a token needs to call it.
    pub scope: Scope,
    /// What it does, for the agent.
    pub description: &'static str,
    /// Its arguments' JSON schema.
    schema: fn() -> Arc<JsonObject>,
}

impl ToolSpec {
    /// As MCP lists it, with its scope in the title and read-only or destructive hints.
    pub fn tool(&self) -> Tool {
        let annotations = ToolAnnotations::new().read_only(self.scope == Scope::Read).destructive(false).idempotent(self.scope != Scope::Money);
        Tool::new(self.name, self.description, (self.schema)()).with_title(format!("{} (scope: {})", self.name, self.scope)).with_annotations(annotations)
    }
}

fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_type::<T>()
}

/// `find_customer`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindCustomer {
    /// A company name (or part of one, at least 2 characters) or an email address.
    pub query: String,
}

/// `customer_invoices`: one of the two ids.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInvoices {
    /// The customer's Books contact id.
    pub books_customer_id: Option<String>,
    /// The CRM account id (its linked Books customer is used).
    pub crm_account_id: Option<String>,
}

/// `overdue_invoices`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverdueInvoices {
    /// At most this many invoices (default 50, at most 200).
    pub limit: Option<u32>,
}

/// `deal_sync_state`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealId {
    /// The CRM deal id.
    pub deal_id: String,
}

/// `convert_quote`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteId {
    /// The CRM quote id.
    pub quote_id: String,
}

/// `issue_credit_note`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNote {
    /// The CRM deal id (it must have been invoiced).
    pub deal_id: String,
    /// Why, for the person approving it.
    pub reason: Option<String>,
}

/// `sync_record`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRecord {
    /// The flow: customer_sync, catalog_sync, pricebook_sync, payment_to_crm or overdue_to_task (invoices and credit notes have tools of their own).
    pub flow: String,
    /// `crm` or `books`: where the record lives.
    pub system: String,
    /// The CRM module (`Accounts`, `Products`) or Books entity (`contacts`, `customerpayments`).
    pub module: String,
    /// The record's id in that system.
    pub record_id: String,
}

/// `job_status`, `replay_dead_letter`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobId {
    /// The job id (from sync_record, dead_letters or deal_sync_state).
    pub job_id: i64,
}

/// `dead_letters`, `list_reviews`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// For list_reviews: open (default), linked, created or ignored. Ignored by dead_letters.
    pub status: Option<String>,
    /// At most this many (default 50, at most 200).
    pub limit: Option<u32>,
}

/// `resolve_review`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveReview {
    /// The review id (from list_reviews).
    pub review_id: i64,
    /// `link` (to one of its candidates), `create` (a new record on the other side) or `ignore` (do not sync it).
    pub decision: String,
    /// For `link`: the candidate's id.
    pub candidate_id: Option<String>,
    /// Why, kept with the decision.
    pub note: Option<String>,
}

/// `approval_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalId {
    /// The approval id a money tool answered with.
    pub approval_id: i64,
}

/// Every tool, in the order they are listed.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "find_customer",
        scope: Scope::Read,
        description: "Find a customer in both Zoho CRM (accounts) and Zoho Books (customers) by name or email, with the link between the two when zoho-bridge made one.",
        schema: schema::<FindCustomer>,
    },
    ToolSpec {
        name: "customer_invoices",
        scope: Scope::Read,
        description: "A customer's Books invoices (number, status, dates, total, balance) and outstanding receivable balance, by Books customer id or CRM account id.",
        schema: schema::<CustomerInvoices>,
    },
    ToolSpec {
        name: "overdue_invoices",
        scope: Scope::Read,
        description: "The overdue Books invoices (customer, due date, balance), with the total overdue per currency.",
        schema: schema::<OverdueInvoices>,
    },
    ToolSpec {
        name: "deal_sync_state",
        scope: Scope::Read,
        description: "What zoho-bridge did for a CRM deal: its links (invoice, credit note), the events and jobs about it (status, outcome, error) and the audited writes.",
        schema: schema::<DealId>,
    },
    ToolSpec {
        name: "job_status",
        scope: Scope::Read,
        description: "One job's status (queued, running, done, skipped, dead), outcome and last error.",
        schema: schema::<JobId>,
    },
    ToolSpec {
        name: "dead_letters",
        scope: Scope::Read,
        description: "Jobs that failed for good and wait for a person or an agent: flow, record and Zoho's error. replay_dead_letter runs one again once its data is fixed.",
        schema: schema::<Listing>,
    },
    ToolSpec {
        name: "list_reviews",
        scope: Scope::Read,
        description: "The review list: customers zoho-bridge could not match for sure between CRM and Books, with their candidates. resolve_review decides one.",
        schema: schema::<Listing>,
    },
    ToolSpec {
        name: "approval_status",
        scope: Scope::Read,
        description: "Where an approval stands: pending (waiting for a person), rejected, or approved and then queued, running, done, skipped or dead, with the job's outcome and the document made. Poll it after a money tool answered pending_approval.",
        schema: schema::<ApprovalId>,
    },
    ToolSpec {
        name: "sync_record",
        scope: Scope::Write,
        description: "Sync one record now through its flow (customer_sync, catalog_sync, pricebook_sync, payment_to_crm, overdue_to_task): queued like a webhook's change, with the same checks, links and audit. Answers the job id; job_status tells how it ended.",
        schema: schema::<SyncRecord>,
    },
    ToolSpec {
        name: "replay_dead_letter",
        scope: Scope::Write,
        description: "Put a dead letter back in the queue to run again (after its data was fixed in Zoho).",
        schema: schema::<JobId>,
    },
    ToolSpec {
        name: "resolve_review",
        scope: Scope::Write,
        description: "Decide a review: link the record to one of its candidates, create a new record on the other side, or ignore it. A link or create is carried out at once by the review's flow.",
        schema: schema::<ResolveReview>,
    },
    ToolSpec {
        name: "create_invoice_for_deal",
        scope: Scope::Money,
        description: "Create the Books invoice for a closed-won CRM deal now (flow deal_to_invoice: never twice for one deal). Above the configured amount it waits for a person's approval: the answer is then pending_approval with an approval_id to poll with approval_status.",
        schema: schema::<DealId>,
    },
    ToolSpec {
        name: "convert_quote",
        scope: Scope::Money,
        description: "Turn an accepted CRM quote into a Books draft invoice now (flow quote_to_invoice: never twice for one quote). Above the configured amount it waits for a person's approval (answer pending_approval with an approval_id).",
        schema: schema::<QuoteId>,
    },
    ToolSpec {
        name: "issue_credit_note",
        scope: Scope::Money,
        description: "Issue the Books credit note for an invoiced CRM deal that is lost, lowered or refunded in CRM (flow deal_to_credit_note): it credits what the invoice bills beyond the deal as CRM has it (all that is unpaid for a lost deal; the difference, with the invoice's tax, for a lower Amount), applied to the invoice, never twice. Refused at once when there is nothing to credit in Books (void or fully credited invoice) or a request for the deal already waits. Otherwise always waits for a person's approval: answers pending_approval with an approval_id; poll approval_status until finished: done (document: the credit note), rejected, or skipped with the reason (e.g. nothing to credit) in job.outcome.",
        schema: schema::<CreditNote>,
    },
];

/// The tool named `name`.
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}
