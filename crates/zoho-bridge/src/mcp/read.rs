//! The read tools: answers from Zoho (through the zoho client, within the shared rate
//! budget) and from the store (links, jobs, audit, reviews, approvals). Nothing here
//! writes.

use std::collections::BTreeMap;

use bridge::{
    actions,
    flows::relations::{ACCOUNT_CONTACT, DEAL_CREDITNOTE, DEAL_INVOICE, QUOTE_INVOICE, Relation},
    store::{Job, JobStatus, ReviewStatus, Reviews, Store},
};
use futures_util::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use zoho::{
    books::{ListQuery, models::Invoice},
    crm::search::SearchBy,
};

use super::{
    Gateway,
    tools::{ApprovalId, CustomerInvoices, DealId, FindCustomer, JobId, Listing, OverdueInvoices},
};

/// The most rows a listing answers with.
const MAX_ROWS: u32 = 200;

/// `limit` within 1..=200, 50 by default.
fn rows(limit: Option<u32>) -> u32 {
    limit.unwrap_or(50).clamp(1, MAX_ROWS)
}

/// A Zoho failure in words for the agent (Zoho's code and message; no secret is in it).
pub fn zoho_err(what: &str, e: zoho::Error) -> String {
    format!("{what}: {e}")
}

/// A store failure in words.
pub fn store_err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: the store failed: {e}")
}

/// `find_customer`.
pub async fn find_customer(g: &Gateway, args: FindCustomer) -> Result<Value, String> {
    let query = args.query.trim().to_string();
    if query.chars().count() < 2 {
        return Err("query: give at least 2 characters of a name, or an email address".into());
    }
    let crm = g.client().crm();
    let by = if query.contains('@') { SearchBy::Email(query.clone()) } else { SearchBy::Word(query.clone()) };
    // An email names a contact; a word names an account.
    let accounts = async {
        if query.contains('@') {
            let contacts: Vec<Value> = crm.search::<Value>("Contacts", by, &["Full_Name", "Email", "Account_Name"]).take(10).try_collect().await?;
            let ids: Vec<String> = contacts.iter().filter_map(|c| c.pointer("/Account_Name/id").and_then(Value::as_str).map(str::to_string)).collect();
            let mut accounts = Vec::new();
            for id in ids {
                if let Some(a) = crm.get::<Value>("Accounts", &id, &["Account_Name", "Billing_Country", "Phone", "Owner"]).await? {
                    accounts.push(a);
                }
            }
            Ok::<_, zoho::Error>(accounts)
        } else {
            crm.search::<Value>("Accounts", by, &["Account_Name", "Billing_Country", "Phone", "Owner"]).take(10).try_collect().await
        }
    };
    let books =
        g.client().books().contacts(ListQuery::new().param("search_text", query.clone()).param("contact_type", "customer")).take(10).try_collect::<Vec<_>>();
    let (accounts, contacts) = tokio::join!(accounts, books);
    let accounts = accounts.map_err(|e| zoho_err("searching CRM accounts", e))?;
    let contacts = contacts.map_err(|e| zoho_err("searching Books customers", e))?;
    let store = g.store();
    let mut crm_out = Vec::new();
    for a in &accounts {
        let id = a.get("id").and_then(Value::as_str).unwrap_or_default();
        let link = store.link_by_crm(g.connection(), ACCOUNT_CONTACT.name, id).await.map_err(|e| store_err("reading links", e))?;
        crm_out.push(json!({
            "crm_account_id": id,
            "name": a.get("Account_Name"),
            "country": a.get("Billing_Country"),
            "phone": a.get("Phone"),
            "owner": a.pointer("/Owner/name"),
            "books_customer_id": link.map(|l| l.books_id),
        }));
    }
    let mut books_out = Vec::new();
    for c in &contacts {
        let id = c.contact_id.clone().unwrap_or_default();
        let link = store.link_by_books(g.connection(), ACCOUNT_CONTACT.name, &id).await.map_err(|e| store_err("reading links", e))?;
        books_out.push(json!({
            "books_customer_id": id,
            "name": c.contact_name,
            "email": c.email,
            "status": c.status,
            "outstanding_receivable": c.outstanding_receivable_amount.map(|d| d.to_string()),
            "crm_account_id": link.map(|l| l.crm_id),
        }));
    }
    Ok(json!({"query": query, "crm_accounts": crm_out, "books_customers": books_out}))
}

/// An invoice as the tools show it.
fn invoice_row(i: &Invoice) -> Value {
    json!({
        "invoice_id": i.invoice_id,
        "invoice_number": i.invoice_number,
        "customer_id": i.customer_id,
        "customer_name": i.customer_name,
        "status": i.status,
        "date": i.date,
        "due_date": i.due_date,
        "currency": i.currency_code,
        "total": i.total.map(|d| d.to_string()),
        "balance": i.balance.map(|d| d.to_string()),
        "crm_deal_id": i.zcrm_potential_id,
    })
}

/// `customer_invoices`.
pub async fn customer_invoices(g: &Gateway, args: CustomerInvoices) -> Result<Value, String> {
    let books_id = match (args.books_customer_id.filter(|s| !s.trim().is_empty()), args.crm_account_id.filter(|s| !s.trim().is_empty())) {
        (Some(id), _) => id,
        (None, Some(account)) => g
            .store()
            .link_by_crm(g.connection(), ACCOUNT_CONTACT.name, &account)
            .await
            .map_err(|e| store_err("reading links", e))?
            .map(|l| l.books_id)
            .ok_or_else(|| format!("CRM account {account} has no Books customer linked yet (find_customer shows both sides)"))?,
        (None, None) => return Err("give books_customer_id or crm_account_id".into()),
    };
    let books = g.client().books();
    let contact = books.contact(&books_id).await.map_err(|e| zoho_err(&format!("reading Books customer {books_id}"), e))?;
    let invoices: Vec<Invoice> = books
        .invoices(ListQuery::new().param("customer_id", books_id.clone()))
        .take(MAX_ROWS as usize)
        .try_collect()
        .await
        .map_err(|e| zoho_err(&format!("listing the invoices of Books customer {books_id}"), e))?;
    Ok(json!({
        "customer": {
            "books_customer_id": books_id,
            "name": contact.contact_name,
            "outstanding_receivable": contact.outstanding_receivable_amount.map(|d| d.to_string()),
        },
        "invoices": invoices.iter().map(invoice_row).collect::<Vec<_>>(),
    }))
}

/// `overdue_invoices`.
pub async fn overdue_invoices(g: &Gateway, args: OverdueInvoices) -> Result<Value, String> {
    let invoices: Vec<Invoice> = g
        .client()
        .books()
        .invoices(ListQuery::new().param("status", "overdue"))
        .take(rows(args.limit) as usize)
        .try_collect()
        .await
        .map_err(|e| zoho_err("listing overdue Books invoices", e))?;
    let mut per_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    for i in &invoices {
        *per_currency.entry(i.currency_code.clone().unwrap_or_default()).or_default() += i.balance.unwrap_or_default();
    }
    let totals: BTreeMap<String, String> = per_currency.into_iter().map(|(c, d)| (c, d.to_string())).collect();
    Ok(json!({"count": invoices.len(), "overdue_balance_by_currency": totals, "invoices": invoices.iter().map(invoice_row).collect::<Vec<_>>()}))
}

/// A job as the tools show it.
pub fn job_row(j: &Job) -> Value {
    json!({
        "job_id": j.id,
        "flow": j.flow,
        "record": j.key,
        "status": j.status.as_str(),
        "attempts": j.attempts,
        "outcome": j.outcome,
        "last_error": j.last_error,
        "updated_ms": j.updated_ms,
    })
}

/// `deal_sync_state`.
pub async fn deal_sync_state(g: &Gateway, args: DealId) -> Result<Value, String> {
    let deal = args.deal_id.trim();
    let store = g.store();
    let mut links = serde_json::Map::new();
    for relation in [DEAL_INVOICE, DEAL_CREDITNOTE] {
        let link = store.link_by_crm(g.connection(), relation.name, deal).await.map_err(|e| store_err("reading links", e))?;
        links.insert(relation.name.into(), json!(link.map(|l| json!({"books_id": l.books_id, "updated_ms": l.updated_ms}))));
    }
    let events = store.events_for_record("crm", "Deals", deal, 20).await.map_err(|e| store_err("reading events", e))?;
    let mut history = Vec::new();
    for e in &events {
        let jobs = store.jobs_for_event(e.id).await.map_err(|e| store_err("reading jobs", e))?;
        history.push(json!({
            "event_id": e.id,
            "source": e.event.source,
            "received_ms": e.received_ms,
            "jobs": jobs.iter().map(job_row).collect::<Vec<_>>(),
        }));
    }
    let mut audit = store.audit_for_record("crm", "Deals", deal).await.map_err(|e| store_err("reading the audit", e))?;
    audit.truncate(20);
    let audit: Vec<Value> = audit
        .iter()
        .map(|a| json!({"at_ms": a.at_ms, "actor": a.actor, "job_id": a.job_id, "system": a.system, "module": a.module, "action": a.action, "ok": a.ok}))
        .collect();
    Ok(json!({"deal_id": deal, "links": links, "events": history, "audit": audit}))
}

/// `job_status`.
pub async fn job_status(g: &Gateway, args: JobId) -> Result<Value, String> {
    let job = g.store().job(args.job_id).await.map_err(|e| store_err("reading the job", e))?.ok_or_else(|| format!("there is no job {}", args.job_id))?;
    Ok(job_row(&job))
}

/// `dead_letters`.
pub async fn dead_letters(g: &Gateway, args: Listing) -> Result<Value, String> {
    let jobs = g.store().jobs_with_status(JobStatus::Dead, rows(args.limit)).await.map_err(|e| store_err("reading dead letters", e))?;
    Ok(json!({"count": jobs.len(), "dead_letters": jobs.iter().map(job_row).collect::<Vec<_>>()}))
}

/// `list_reviews`.
pub async fn list_reviews(g: &Gateway, args: Listing) -> Result<Value, String> {
    let status = match args.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => ReviewStatus::Open,
        Some(s) => ReviewStatus::parse(s).ok_or_else(|| format!("status {s:?}: one of open, linked, created, ignored"))?,
    };
    let reviews = g.store().reviews(Some(status), rows(args.limit)).await.map_err(|e| store_err("reading reviews", e))?;
    Ok(json!({"count": reviews.len(), "reviews": reviews}))
}

/// The relation a money flow's document is linked in.
fn document_relation(flow: &str) -> Option<Relation> {
    match flow {
        "deal_to_invoice" => Some(DEAL_INVOICE),
        "deal_to_credit_note" => Some(DEAL_CREDITNOTE),
        "quote_to_invoice" => Some(QUOTE_INVOICE),
        _ => None,
    }
}

/// `approval_status`.
pub async fn approval_status(g: &Gateway, args: ApprovalId) -> Result<Value, String> {
    let state = actions::approval_state(g.store(), args.approval_id).await.map_err(|e| e.to_string())?;
    let stage = state.stage();
    let mut document = Value::Null;
    if stage == JobStatus::Done.as_str()
        && let Some(relation) = document_relation(&state.request.flow)
    {
        let link =
            g.store().link_by_crm(&state.request.connection, relation.name, &state.request.record.id).await.map_err(|e| store_err("reading links", e))?;
        document = json!(link.map(|l| json!({"books_entity": relation.books_entity, "books_id": l.books_id})));
    }
    Ok(json!({
        "approval_id": state.approval.id,
        "stage": stage,
        "finished": matches!(stage, "rejected" | "done" | "skipped" | "dead"),
        "summary": state.request.summary,
        "tool": state.approval.action,
        "requested_by": state.approval.requested_by,
        "decided_by": state.approval.decided_by,
        "job": state.job.as_ref().map(job_row),
        "document": document,
    }))
}
