//! The write and money tools. Each one is an action of `bridge::actions` (the same as
//! the dashboard's and the admin commands'): a flow run queued as a manual event, a
//! replay, a review decision, or an approval request. None writes to Zoho itself: the
//! worker runs the flow with its usual checks, links and audit.

use bridge::{
    actions::{self, FlowRequest},
    flows::{
        deal_to_credit_note, deal_to_invoice,
        deal_to_invoice::{decimal, text},
        quote_to_invoice,
        relations::{DEAL_INVOICE, QUOTE_INVOICE},
    },
    store::{ApprovalStatus, RecordRef, ReviewDecision, Store, System},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    Gateway,
    read::{job_row, store_err, zoho_err},
    tools::{CreditNote, DealId, JobId, QuoteId, ResolveReview, SyncRecord},
};

/// The flows with a money tool of their own (never through `sync_record`).
const MONEY_FLOWS: [&str; 3] = [deal_to_invoice::NAME, quote_to_invoice::NAME, deal_to_credit_note::NAME];

/// The event key of a request by `token` at `now_ms`: each call is a request of its own
/// (the flows make a document once whatever the number of requests).
fn request_key(token: &str, flow: &str, record: &RecordRef, now_ms: i64) -> String {
    format!("mcp:{token}:{flow}:{}:{now_ms}", record.job_key())
}

/// `sync_record`.
pub async fn sync_record(g: &Gateway, token: &str, args: SyncRecord, now_ms: i64) -> Result<Value, String> {
    let flow = args.flow.trim();
    if MONEY_FLOWS.contains(&flow) {
        return Err(format!("{flow} moves money: use create_invoice_for_deal, convert_quote or issue_credit_note (scope money)"));
    }
    let system = match args.system.trim() {
        "crm" => System::Crm,
        "books" => System::Books,
        other => return Err(format!("system {other:?}: crm or books")),
    };
    let (module, id) = (args.module.trim(), args.record_id.trim());
    if module.is_empty() || id.is_empty() {
        return Err("module and record_id must not be empty".into());
    }
    let record = RecordRef { system, module: module.to_string(), id: id.to_string() };
    let queued = actions::run_flow_now(g.store(), g.connection(), flow, &record, &format!("mcp:{token}"), &request_key(token, flow, &record, now_ms), now_ms)
        .await
        .map_err(|e| e.to_string())?;
    Ok(
        json!({"status": "queued", "flow": flow, "record": record.job_key(), "event_id": queued.event_id, "job_id": queued.job_id, "next": "job_status tells how it ended"}),
    )
}

/// `replay_dead_letter`.
pub async fn replay(g: &Gateway, token: &str, args: JobId, now_ms: i64) -> Result<Value, String> {
    let job = actions::replay(g.store(), args.job_id, &format!("mcp:{token}"), now_ms).await.map_err(|e| e.to_string())?;
    Ok(json!({"status": "queued", "job_id": job.id, "flow": job.flow, "record": job.key, "was": job_row(&job), "next": "job_status tells how it ended"}))
}

/// `resolve_review`.
pub async fn resolve_review(g: &Gateway, token: &str, args: ResolveReview, now_ms: i64) -> Result<Value, String> {
    let decision = match (args.decision.trim(), args.candidate_id.as_deref().map(str::trim).filter(|s| !s.is_empty())) {
        ("link", Some(id)) => ReviewDecision::Link(id.to_string()),
        ("link", None) => return Err("decision link needs candidate_id: one of the review's candidates (list_reviews shows them)".into()),
        ("create", _) => ReviewDecision::Create,
        ("ignore", _) => ReviewDecision::Ignore,
        (other, _) => return Err(format!("decision {other:?}: link, create or ignore")),
    };
    let decided =
        actions::decide_review(g.store(), args.review_id, &decision, &format!("mcp:{token}"), args.note.as_deref(), now_ms).await.map_err(|e| e.to_string())?;
    Ok(json!({"review": decided.review, "queued": decided.queued}))
}

/// What a money tool asks for.
struct Ask {
    /// The tool.
    tool: &'static str,
    /// The flow to run.
    flow: &'static str,
    /// The record to run it for.
    record: RecordRef,
    /// One line for the person approving it.
    summary: String,
    /// The tool's arguments.
    args: Value,
    /// Whether it waits for a person's approval.
    hold: bool,
}

/// Queues the flow run at once, or holds it for a person's approval when `ask.hold`:
/// what a money tool answers.
async fn run_or_hold(g: &Gateway, token: &str, ask: Ask, now_ms: i64) -> Result<Value, String> {
    let Ask { tool, flow, record, summary, args, hold } = ask;
    let by = format!("mcp:{token}");
    if hold {
        let request = FlowRequest { connection: g.connection().to_string(), flow: flow.to_string(), record, summary: summary.clone(), args };
        let id = actions::request_approval(g.store(), &by, tool, &request, now_ms).await.map_err(|e| e.to_string())?;
        return Ok(json!({
            "status": "pending_approval",
            "approval_id": id,
            "summary": summary,
            "next": "a person approves or rejects it (dashboard or `zoho-bridge approvals`); poll approval_status with this approval_id",
        }));
    }
    let queued = actions::run_flow_now(g.store(), g.connection(), flow, &record, &by, &request_key(token, flow, &record, now_ms), now_ms)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({"status": "queued", "summary": summary, "event_id": queued.event_id, "job_id": queued.job_id, "next": "job_status tells how it ended"}))
}

/// Reads CRM record `module`/`id` with `fields`; its absence is an error naming it.
async fn crm_record(g: &Gateway, module: &str, id: &str, fields: &[&str]) -> Result<Value, String> {
    g.client()
        .crm()
        .get::<Value>(module, id, fields)
        .await
        .map_err(|e| zoho_err(&format!("reading CRM {module} {id}"), e))?
        .ok_or_else(|| format!("there is no CRM {module} record {id}"))
}

/// `create_invoice_for_deal`.
pub async fn invoice_deal(g: &Gateway, token: &str, args: DealId, now_ms: i64) -> Result<Value, String> {
    let id = args.deal_id.trim();
    if let Some(link) = g.store().link_by_crm(g.connection(), DEAL_INVOICE.name, id).await.map_err(|e| store_err("reading links", e))? {
        return Err(format!("CRM deal {id} is invoiced already: Books invoice {} (a deal is invoiced once)", link.books_id));
    }
    let deal = crm_record(g, "Deals", id, &["Deal_Name", "Stage", "Amount", "Currency", "Account_Name"]).await?;
    let amount = decimal(&deal, "/Amount").unwrap_or_default();
    let currency = text(&deal, "/Currency").unwrap_or("");
    let summary = format!(
        "invoice for CRM deal {:?} ({id}) of {}: {amount} {currency}",
        text(&deal, "/Deal_Name").unwrap_or("?"),
        text(&deal, "/Account_Name/name").unwrap_or("?")
    );
    let hold = amount > g.settings().approval_above;
    let ask =
        Ask { tool: "create_invoice_for_deal", flow: deal_to_invoice::NAME, record: RecordRef::crm("Deals", id), summary, args: json!({"deal_id": id}), hold };
    run_or_hold(g, token, ask, now_ms).await
}

/// `convert_quote`.
pub async fn convert_quote(g: &Gateway, token: &str, args: QuoteId, now_ms: i64) -> Result<Value, String> {
    let id = args.quote_id.trim();
    if let Some(link) = g.store().link_by_crm(g.connection(), QUOTE_INVOICE.name, id).await.map_err(|e| store_err("reading links", e))? {
        return Err(format!("CRM quote {id} is invoiced already: Books invoice {} (a quote is invoiced once)", link.books_id));
    }
    let quote = crm_record(g, "Quotes", id, &["Subject", "Quote_Stage", "Grand_Total", "Currency", "Account_Name"]).await?;
    let total = decimal(&quote, "/Grand_Total").unwrap_or_default();
    let currency = text(&quote, "/Currency").unwrap_or("");
    let summary = format!(
        "draft invoice for CRM quote {:?} ({id}) of {}: {total} {currency}",
        text(&quote, "/Subject").unwrap_or("?"),
        text(&quote, "/Account_Name/name").unwrap_or("?")
    );
    let hold = total > g.settings().approval_above;
    let ask = Ask { tool: "convert_quote", flow: quote_to_invoice::NAME, record: RecordRef::crm("Quotes", id), summary, args: json!({"quote_id": id}), hold };
    run_or_hold(g, token, ask, now_ms).await
}

/// `issue_credit_note`: always held for approval. Refused at once, before any approval,
/// when Books says there is nothing to credit (the invoice is void or fully credited) or
/// a request for the same deal already waits for a person. Once approved, the flow
/// credits what the deal, as CRM has it then, says was not owed (lost, lowered, refunded),
/// once; when that is nothing, the approval ends `skipped` with the flow's reason.
pub async fn credit_note(g: &Gateway, token: &str, args: CreditNote, now_ms: i64) -> Result<Value, String> {
    let id = args.deal_id.trim();
    let link = g
        .store()
        .link_by_crm(g.connection(), DEAL_INVOICE.name, id)
        .await
        .map_err(|e| store_err("reading links", e))?
        .ok_or_else(|| format!("CRM deal {id} has no Books invoice from zoho-bridge: there is nothing to credit"))?;
    let waiting = actions::approvals(g.store(), ApprovalStatus::Pending).await.map_err(|e| e.to_string())?;
    if let Some(a) = waiting.iter().find(|a| a.request.flow == deal_to_credit_note::NAME && a.request.record == RecordRef::crm("Deals", id)) {
        return Err(format!(
            "a credit note for CRM deal {id} is already waiting for a person: approval {} (asked by {}); poll approval_status with it",
            a.approval.id, a.approval.requested_by
        ));
    }
    let invoice = g.client().books().invoice(&link.books_id).await.map_err(|e| zoho_err(&format!("reading Books invoice {}", link.books_id), e))?;
    let number = invoice.invoice_number.clone().unwrap_or_else(|| link.books_id.clone());
    let currency = invoice.currency_code.clone().unwrap_or_default();
    let (total, credited) = (invoice.total.unwrap_or_default(), invoice.credits_applied.unwrap_or_default());
    if invoice.status.as_deref() == Some("void") {
        return Err(format!("nothing to credit: Books invoice {number} of CRM deal {id} is void"));
    }
    if total > Decimal::ZERO && credited >= total {
        return Err(format!("nothing left to credit: Books invoice {number} of CRM deal {id} ({total} {currency}) is fully credited"));
    }
    let deal = crm_record(g, "Deals", id, &["Deal_Name", "Stage", "Amount", "Currency"]).await?;
    let reason = args.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let summary = format!(
        "credit note against Books invoice {number} ({total} {currency}, {credited} credited, {} unpaid) for CRM deal {:?} ({id}), now {} at {} {}{}",
        invoice.balance.unwrap_or_default(),
        text(&deal, "/Deal_Name").unwrap_or("?"),
        text(&deal, "/Stage").unwrap_or("?"),
        decimal(&deal, "/Amount").unwrap_or(Decimal::ZERO),
        text(&deal, "/Currency").unwrap_or(""),
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    );
    let args = json!({"deal_id": id, "reason": reason});
    let ask = Ask { tool: "issue_credit_note", flow: deal_to_credit_note::NAME, record: RecordRef::crm("Deals", id), summary, args, hold: true };
    run_or_hold(g, token, ask, now_ms).await
}
