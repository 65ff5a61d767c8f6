//! Credit notes (`/creditnotes`): create (optionally against an invoice), upsert by a unique
//! custom field (`PUT /creditnotes` with `X-Unique-Identifier-*`), totals like
//! invoices, statuses draft/open/closed/void, applying credit to invoices, refunds, and
//! the release of applied credit when an invoice is voided.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope, money},
    common::{
        Paging, check_unique_custom, holder_of, modified_since, stamp, status_filter, text_filter, touch, unique_field, upsert_body, upsert_headers, with_org,
    },
    document,
    invoices::{date_filter, settle},
    store::{Credit, CreditNote, Document, Event, Org, Refund},
};
use crate::{clock::Clock, state::AppState};

/// Credit note routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/creditnotes", get(list).post(create).put(upsert))
        .route("/creditnotes/refunds", get(list_all_refunds))
        .route("/creditnotes/{id}", get(read).put(update).delete(remove))
        .route("/creditnotes/{id}/status/void", post(mark_void))
        .route("/creditnotes/{id}/status/open", post(mark_open))
        .route("/creditnotes/{id}/status/draft", post(mark_draft))
        .route("/creditnotes/{id}/invoices", get(list_applied).post(apply))
        .route("/creditnotes/{id}/refunds", get(list_refunds).post(refund))
}

/// The credit note JSON.
pub fn creditnote_json(org: &Org, n: &CreditNote, clock: &Clock) -> Value {
    let t = document::compute(org, &n.doc);
    let mut m = Map::new();
    m.insert("creditnote_id".into(), n.creditnote_id.clone().into());
    m.insert("creditnote_number".into(), n.creditnote_number.clone().into());
    m.insert("status".into(), n.status.clone().into());
    m.insert("invoice_id".into(), n.invoice_id.clone().into());
    document::render_into(org, &n.doc, &t, clock, &mut m);
    m.insert("balance".into(), money(n.balance()));
    m.insert(
        "invoices".into(),
        Value::Array(
            n.credits
                .iter()
                .map(|c| {
                    json!({
                        "invoice_id": c.invoice_id,
                        "invoice_number": org.invoices.get(&c.invoice_id).map(|i| i.invoice_number.as_str()).unwrap_or(""),
                        "amount": money(c.amount),
                    })
                })
                .collect(),
        ),
    );
    m.insert("updated_time".into(), stamp(clock, n.doc.modified_ms).into());
    Value::Object(m)
}

fn restatus(n: &mut CreditNote) {
    if matches!(n.status.as_str(), "open" | "closed") {
        n.status = if n.balance() <= Decimal::ZERO { "closed" } else { "open" }.into();
    }
}

fn next_number(org: &mut Org) -> String {
    loop {
        let n = format!("CN-{:06}", org.series.creditnote);
        org.series.creditnote += 1;
        if !org.creditnote_number_taken(&n) {
            return n;
        }
    }
}

/// Creates a credit note from a body (against `invoice_id` when given).
fn create_creditnote(org: &mut Org, clock: &Clock, b: &Map<String, Value>, manual: bool, invoice_id: Option<&str>) -> Result<CreditNote, BooksError> {
    let now = clock.now_ms();
    let mut doc = Document { date: clock.today(), item_level: true, discount_before_tax: true, created_ms: now, modified_ms: now, ..Document::default() };
    document::apply(org, b, &mut doc, "creditnotes", true)?;
    if let Some(inv_id) = invoice_id {
        let inv = org.invoices.get(inv_id).ok_or_else(|| BooksError::invalid("invoice_id"))?;
        if inv.doc.customer_id != doc.customer_id {
            return Err(BooksError::invalid("invoice_id"));
        }
    }
    check_unique_custom(org, "creditnotes", &doc.custom_fields, None)?;
    let number = match b.opt_str("creditnote_number")?.filter(|s| !s.trim().is_empty()) {
        Some(n) if manual => n,
        None if manual => return Err(BooksError::missing("creditnote_number")),
        _ => next_number(org),
    };
    if org.creditnote_number_taken(&number) {
        return Err(BooksError::duplicate(format!("Credit note number {number} already exists.")));
    }
    doc.total = document::compute(org, &doc).total;
    let is_draft = b.opt_bool("is_draft")?.unwrap_or(false);
    let n = CreditNote {
        creditnote_id: org.new_id(),
        creditnote_number: number,
        status: if is_draft { "draft" } else { "open" }.into(),
        invoice_id: invoice_id.unwrap_or_default().to_string(),
        doc,
        ..CreditNote::default()
    };
    org.put_creditnote(n.clone());
    Ok(n)
}

/// Applies an update body to a credit note.
fn update_creditnote(org: &mut Org, clock: &Clock, id: &str, b: &Map<String, Value>) -> Result<CreditNote, BooksError> {
    let mut n = org.creditnotes.get(id).cloned().ok_or_else(|| BooksError::not_found("Credit note"))?;
    if n.status == "void" {
        return Err(BooksError::not_allowed("Void credit notes cannot be edited."));
    }
    document::apply(org, b, &mut n.doc, "creditnotes", false)?;
    check_unique_custom(org, "creditnotes", &n.doc.custom_fields, Some(id))?;
    n.doc.total = document::compute(org, &n.doc).total;
    if n.balance().is_sign_negative() {
        return Err(BooksError::not_allowed("The credit note total cannot be less than the credits used."));
    }
    n.doc.modified_ms = touch(clock, n.doc.modified_ms);
    restatus(&mut n);
    org.put_creditnote(n.clone());
    Ok(n)
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let manual = q.flag("ignore_auto_number_generation")?;
    let invoice_id = q.get("invoice_id").map(str::to_string);
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let n = create_creditnote(org, clock, &b, manual, invoice_id.as_deref())?;
        let out = creditnote_json(org, &n, clock);
        events.push(Event { event: "creditnote.created", key: "creditnote", body: out.clone() });
        Ok(envelope(StatusCode::CREATED, "The credit note has been created.", "creditnote", out))
    })
}

/// `PUT /creditnotes` with `X-Unique-Identifier-Key/-Value` (and `X-Upsert: true` to
/// create): updates the credit note whose unique custom field holds the value, or creates
/// it; one credit note per key value however often it is repeated.
async fn upsert(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let manual = q.flag("ignore_auto_number_generation")?;
    let invoice_id = q.get("invoice_id").map(str::to_string);
    let b = body::parse(&headers, &bytes)?;
    let (key, value, allow_create) = upsert_headers(&headers)?.ok_or_else(|| BooksError::missing("X-Unique-Identifier-Key"))?;
    with_org(&state, &q, |org, clock, events| {
        let def = unique_field(org, "creditnotes", &key)?.clone();
        let found = holder_of(org, "creditnotes", &def, &value);
        let b = upsert_body(&b, &def, &value)?;
        match found {
            Some(id) => {
                let n = update_creditnote(org, clock, &id, &b)?;
                let out = creditnote_json(org, &n, clock);
                events.push(Event { event: "creditnote.updated", key: "creditnote", body: out.clone() });
                Ok(envelope(StatusCode::OK, "Credit Note information has been updated.", "creditnote", out))
            }
            None if allow_create => {
                let n = create_creditnote(org, clock, &b, manual, invoice_id.as_deref())?;
                let out = creditnote_json(org, &n, clock);
                events.push(Event { event: "creditnote.created", key: "creditnote", body: out.clone() });
                Ok(envelope(StatusCode::OK, "The credit note has been created.", "creditnote", out))
            }
            None => Err(BooksError::not_found("Credit note")),
        }
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let n = org.creditnotes.get(&id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        Ok(envelope(StatusCode::OK, "success", "creditnote", creditnote_json(org, n, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let n = update_creditnote(org, clock, &id, &b)?;
        let out = creditnote_json(org, &n, clock);
        events.push(Event { event: "creditnote.updated", key: "creditnote", body: out.clone() });
        Ok(envelope(StatusCode::OK, "Credit Note information has been updated.", "creditnote", out))
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let n = org.creditnotes.get(&id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        if !n.credits.is_empty() || !n.refunds.is_empty() {
            return Err(BooksError::not_allowed("Credit notes that are applied or refunded cannot be deleted."));
        }
        org.remove_creditnote(&id);
        Ok(done("The credit note has been deleted."))
    })
}

fn change_status(state: &AppState, q: Option<String>, id: &str, to: &str, message: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, clock, _| {
        let n = org.creditnotes.get_mut(id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        let allowed = match to {
            "void" => n.status != "void" && n.credits.is_empty() && n.refunds.is_empty(),
            "open" => n.status == "draft",
            _ => n.status == "void",
        };
        if !allowed {
            return Err(BooksError::not_allowed(format!("The credit note cannot be changed from {} to {to}.", n.status)));
        }
        n.status = to.into();
        restatus(n);
        n.doc.modified_ms = touch(clock, n.doc.modified_ms);
        Ok(done(message))
    })
}

async fn mark_void(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change_status(&state, q, &id, "void", "The credit note has been marked as void.")
}

async fn mark_open(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change_status(&state, q, &id, "open", "The credit note status has been changed to open.")
}

async fn mark_draft(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change_status(&state, q, &id, "draft", "The credit note status has been changed to draft.")
}

/// Applies `amount` of a credit note to an invoice (≤ both balances).
pub fn apply_to_invoice(
    org: &mut Org,
    creditnote_id: &str,
    invoice_id: &str,
    amount: Decimal,
    clock: &Clock,
    events: &mut Vec<Event>,
) -> Result<(), BooksError> {
    let n = org.creditnotes.get(creditnote_id).ok_or_else(|| BooksError::not_found("Credit note"))?;
    if n.status != "open" {
        return Err(BooksError::not_allowed("Only open credit notes can be applied."));
    }
    let inv = org.invoices.get(invoice_id).ok_or_else(|| BooksError::not_found("Invoice"))?;
    if inv.doc.customer_id != n.doc.customer_id || matches!(inv.status.as_str(), "draft" | "void") {
        return Err(BooksError::invalid("invoice_id"));
    }
    if amount <= Decimal::ZERO || amount > n.balance() || amount > inv.balance() {
        return Err(BooksError::invalid("amount_applied"));
    }
    let credit_id = org.new_id();
    let date = clock.today();
    if let Some(inv) = org.invoices.get_mut(invoice_id) {
        inv.credits_applied += amount;
    }
    let Some(n) = org.creditnotes.get_mut(creditnote_id) else { return Ok(()) };
    n.credits.push(Credit { creditnote_invoice_id: credit_id, invoice_id: invoice_id.to_string(), amount, date });
    restatus(n);
    n.doc.modified_ms = touch(clock, n.doc.modified_ms);
    let n = n.clone();
    events.push(Event { event: "creditnote.applied", key: "creditnote", body: creditnote_json(org, &n, clock) });
    Ok(())
}

/// Voiding an invoice: credits applied to it go back to their credit notes.
pub fn release_invoice(org: &mut Org, invoice_id: &str, clock: &Clock) {
    for n in org.creditnotes.values_mut() {
        let before = n.credits.len();
        n.credits.retain(|c| c.invoice_id != invoice_id);
        if n.credits.len() != before {
            restatus(n);
            n.doc.modified_ms = touch(clock, n.doc.modified_ms);
        }
    }
}

async fn apply(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let given = b.opt_objects("invoices")?.ok_or_else(|| BooksError::missing("invoices"))?;
    let mut wanted = Vec::new();
    for a in given {
        let amount = a.opt_decimal("amount_applied")?.ok_or_else(|| BooksError::missing("amount_applied"))?;
        wanted.push((a.req_str("invoice_id")?, amount));
    }
    with_org(&state, &q, |org, clock, events| {
        if !org.creditnotes.contains_key(&id) {
            return Err(BooksError::not_found("Credit note"));
        }
        let saved = (org.creditnotes.get(&id).cloned(), org.invoices.clone());
        for (inv, amount) in &wanted {
            if let Err(e) = apply_to_invoice(org, &id, inv, *amount, clock, events) {
                if let Some(n) = saved.0 {
                    org.put_creditnote(n);
                }
                org.invoices = saved.1;
                events.clear();
                return Err(e);
            }
        }
        for (inv, _) in &wanted {
            settle(org, inv, clock, events);
        }
        Ok(done("Credits have been applied to the invoice(s)."))
    })
}

async fn list_applied(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let n = org.creditnotes.get(&id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        let rows: Vec<Value> = n
            .credits
            .iter()
            .map(|c| {
                json!({
                    "creditnote_id": n.creditnote_id,
                    "invoice_id": c.invoice_id,
                    "creditnote_invoice_id": c.creditnote_invoice_id,
                    "date": c.date,
                    "invoice_number": org.invoices.get(&c.invoice_id).map(|i| i.invoice_number.as_str()).unwrap_or(""),
                    "creditnote_number": n.creditnote_number,
                    "credited_amount": money(c.amount),
                })
            })
            .collect();
        Ok(envelope(StatusCode::OK, "success", "invoices_credited", Value::Array(rows)))
    })
}

fn refund_json(org: &Org, n: &CreditNote, r: &Refund) -> Value {
    json!({
        "creditnote_refund_id": r.creditnote_refund_id,
        "creditnote_id": n.creditnote_id,
        "creditnote_number": n.creditnote_number,
        "date": r.date,
        "refund_mode": r.refund_mode,
        "payment_form": "",
        "reference_number": r.reference_number,
        "amount": money(r.amount),
        "amount_bcy": money(r.amount * n.doc.exchange_rate),
        "amount_fcy": money(r.amount),
        "customer_name": org.contacts.get(&n.doc.customer_id).map(|c| c.contact_name.as_str()).unwrap_or(""),
        "description": r.description,
    })
}

async fn refund(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let amount = b.opt_decimal("amount")?.ok_or_else(|| BooksError::missing("amount"))?;
    with_org(&state, &q, |org, clock, events| {
        let refund_id = org.new_id();
        let date = b.opt_date("date")?.unwrap_or_else(|| clock.today());
        let n = org.creditnotes.get_mut(&id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        if n.status != "open" {
            return Err(BooksError::not_allowed("Only open credit notes can be refunded."));
        }
        if amount <= Decimal::ZERO || amount > n.balance() {
            return Err(BooksError::invalid("amount"));
        }
        let r = Refund {
            creditnote_refund_id: refund_id,
            date,
            refund_mode: b.opt_str("refund_mode")?.unwrap_or_else(|| "cash".into()),
            reference_number: b.opt_str("reference_number")?.unwrap_or_default(),
            description: b.opt_str("description")?.unwrap_or_default(),
            amount,
            from_account_id: b.opt_str("from_account_id")?.unwrap_or_default(),
        };
        n.refunds.push(r.clone());
        restatus(n);
        n.doc.modified_ms = touch(clock, n.doc.modified_ms);
        let n = n.clone();
        let out = refund_json(org, &n, &r);
        events.push(Event { event: "creditnote.refunded", key: "creditnote", body: creditnote_json(org, &n, clock) });
        Ok(envelope(StatusCode::OK, "The credit note amount is refunded successfully.", "creditnote_refund", out))
    })
}

async fn list_refunds(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["date"])?;
    with_org(&state, &q, |org, _, _| {
        let n = org.creditnotes.get(&id).ok_or_else(|| BooksError::not_found("Credit note"))?;
        let rows: Vec<Value> = n.refunds.iter().map(|r| refund_json(org, n, r)).collect();
        refunds_page(&paging, rows)
    })
}

async fn list_all_refunds(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["date"])?;
    let customer = q.get("customer_id").map(str::to_string);
    with_org(&state, &q, |org, _, _| {
        let org: &Org = org;
        let rows: Vec<Value> = org
            .creditnotes
            .values()
            .filter(|n| customer.as_ref().is_none_or(|c| &n.doc.customer_id == c))
            .flat_map(|n| n.refunds.iter().map(move |r| refund_json(org, n, r)))
            .collect();
        refunds_page(&paging, rows)
    })
}

fn refunds_page(paging: &Paging, rows: Vec<Value>) -> BooksResult {
    let (page, more) = paging.cut(rows, |a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    let mut m = Map::new();
    m.insert("code".into(), 0.into());
    m.insert("message".into(), "success".into());
    m.insert("creditnote_refunds".into(), Value::Array(page));
    m.insert("page_context".into(), paging.context(more, "Credit Note Refunds", "Status.All"));
    Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["created_time", "creditnote_number", "date", "customer_name", "total", "balance", "last_modified_time"])?;
    let status = status_filter(
        &q,
        &[
            "draft",
            "pending_approval",
            "approved",
            "open",
            "closed",
            "void",
            "rejected",
            "signed",
            "pending_signature",
            "unsigned_all",
            "unsigned_draft",
            "unsigned_sent",
            "unsigned_approved",
        ],
        &["draft", "open", "closed", "void"],
    )?;
    let number = text_filter(&q, "creditnote_number");
    let reference = text_filter(&q, "reference_number");
    let customer = q.get("customer_id").map(str::to_string);
    let search = q.get("search_text").map(str::to_lowercase);
    let date = date_filter(&q, "date")?;
    let since = modified_since(&q)?;
    with_org(&state, &q, |org, clock, _| {
        let name_of = |n: &CreditNote| org.contacts.get(&n.doc.customer_id).map(|c| c.contact_name.clone()).unwrap_or_default();
        let rows: Vec<&CreditNote> = org
            .creditnotes
            .values()
            .filter(|n| status.as_ref().is_none_or(|s| &n.status == s))
            .filter(|n| number.as_ref().is_none_or(|f| f(&n.creditnote_number)))
            .filter(|n| reference.as_ref().is_none_or(|f| f(&n.doc.reference_number)))
            .filter(|n| customer.as_ref().is_none_or(|c| &n.doc.customer_id == c))
            .filter(|n| date(&n.doc.date))
            .filter(|n| since.is_none_or(|t| n.doc.modified_ms >= t))
            .filter(|n| search.as_ref().is_none_or(|s| n.creditnote_number.to_lowercase().contains(s) || name_of(n).to_lowercase().contains(s)))
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "creditnote_number" => a.creditnote_number.cmp(&b.creditnote_number),
                "date" => a.doc.date.cmp(&b.doc.date),
                "customer_name" => name_of(a).cmp(&name_of(b)),
                "total" => a.doc.total.cmp(&b.doc.total),
                "balance" => a.balance().cmp(&b.balance()),
                "last_modified_time" => a.doc.modified_ms.cmp(&b.doc.modified_ms),
                _ => a.doc.created_ms.cmp(&b.doc.created_ms),
            }
            .then_with(|| a.creditnote_id.cmp(&b.creditnote_id))
        });
        let rows: Vec<Value> = page
            .iter()
            .map(|n| {
                let mut m = Map::new();
                m.insert("creditnote_id".into(), n.creditnote_id.clone().into());
                m.insert("creditnote_number".into(), n.creditnote_number.clone().into());
                m.insert("status".into(), n.status.clone().into());
                document::row_into(org, &n.doc, clock, &mut m);
                m.insert("balance".into(), money(n.balance()));
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("creditnotes".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Credit Notes", q.get("filter_by").unwrap_or("Status.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
