//! Invoices (`/invoices`): create/update/get/delete/list, auto numbering, upsert by a
//! unique custom field, the status machine (draft → sent → partially_paid | paid |
//! overdue → void → draft), balances, applied payments and credits, and the overdue tick.

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
    common::{Paging, check_unique_custom, holder_of, modified_since, text_filter, touch, unique_field, upsert_body, upsert_headers, with_org},
    creditnotes, document, payments,
    store::{Document, Event, Invoice, Org},
};
use crate::{clock::Clock, state::AppState, webhooks};

/// Invoice routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices", get(list).post(create).put(upsert))
        .route("/invoices/{id}", get(read).put(update).delete(remove))
        .route("/invoices/{id}/status/sent", post(mark_sent))
        .route("/invoices/{id}/status/void", post(mark_void))
        .route("/invoices/{id}/status/draft", post(mark_draft))
        .route("/invoices/{id}/payments", get(list_payments))
        .route("/invoices/{id}/creditsapplied", get(list_credits))
        .route("/invoices/{id}/credits", post(apply_credits))
}

/// The full invoice JSON.
pub fn invoice_json(org: &Org, inv: &Invoice, clock: &Clock) -> Value {
    let t = document::compute(org, &inv.doc);
    let mut m = Map::new();
    m.insert("invoice_id".into(), inv.invoice_id.clone().into());
    m.insert("invoice_number".into(), inv.invoice_number.clone().into());
    m.insert("status".into(), inv.status.clone().into());
    m.insert("payment_terms".into(), inv.payment_terms.into());
    m.insert("payment_terms_label".into(), inv.payment_terms_label.clone().into());
    m.insert("due_date".into(), inv.due_date.clone().into());
    document::render_into(org, &inv.doc, &t, clock, &mut m);
    m.insert("payment_made".into(), money(inv.payment_made));
    m.insert("credits_applied".into(), money(inv.credits_applied));
    m.insert("write_off_amount".into(), money(inv.write_off_amount));
    m.insert("tax_amount_withheld".into(), 0.into());
    m.insert("balance".into(), money(inv.balance()));
    m.insert("allow_partial_payments".into(), true.into());
    m.insert("is_emailed".into(), false.into());
    m.insert("reminders_sent".into(), 0.into());
    m.insert("last_payment_date".into(), inv.last_payment_date.clone().into());
    m.insert("invoiced_estimate_id".into(), inv.invoiced_estimate_id.clone().into());
    m.insert("invoice_url".into(), format!("https://books.zoho.com/SecurePayment?CInvoiceID={}", inv.invoice_id).into());
    Value::Object(m)
}

fn row_json(org: &Org, inv: &Invoice, clock: &Clock) -> Value {
    let mut m = Map::new();
    m.insert("invoice_id".into(), inv.invoice_id.clone().into());
    m.insert("invoice_number".into(), inv.invoice_number.clone().into());
    m.insert("status".into(), inv.status.clone().into());
    m.insert("due_date".into(), inv.due_date.clone().into());
    document::row_into(org, &inv.doc, clock, &mut m);
    m.insert("balance".into(), money(inv.balance()));
    m.insert("payment_made".into(), money(inv.payment_made));
    m.insert("write_off_amount".into(), money(inv.write_off_amount));
    m.insert("is_emailed".into(), false.into());
    m.insert("last_payment_date".into(), inv.last_payment_date.clone().into());
    Value::Object(m)
}

/// Recomputes the status of a non-draft, non-void invoice from its balance and due date,
/// returning the events the change fires (`invoice.paid`, `invoice.overdue` once).
pub fn restatus(inv: &mut Invoice, today: &str) -> Vec<&'static str> {
    if matches!(inv.status.as_str(), "draft" | "void") {
        return Vec::new();
    }
    let before = inv.status.clone();
    let settled = inv.payment_made + inv.credits_applied + inv.write_off_amount;
    inv.status = if inv.balance() <= Decimal::ZERO {
        "paid"
    } else if !inv.due_date.is_empty() && inv.due_date.as_str() < today {
        "overdue"
    } else if settled > Decimal::ZERO {
        "partially_paid"
    } else {
        "sent"
    }
    .into();
    let mut events = Vec::new();
    if inv.status == "paid" && before != "paid" {
        events.push("invoice.paid");
    }
    if inv.status == "overdue" && !inv.overdue_notified {
        inv.overdue_notified = true;
        events.push("invoice.overdue");
    }
    events
}

/// Recomputes an invoice's status after money moved and queues its events.
pub fn settle(org: &mut Org, invoice_id: &str, clock: &Clock, events: &mut Vec<Event>) {
    let today = clock.today();
    let Some(inv) = org.invoices.get_mut(invoice_id) else { return };
    inv.doc.modified_ms = touch(clock, inv.doc.modified_ms);
    let fired = restatus(inv, &today);
    if !fired.is_empty() {
        let inv = inv.clone();
        let body = invoice_json(org, &inv, clock);
        for e in fired {
            events.push(Event { event: e, key: "invoice", body: body.clone() });
        }
    }
}

/// Runs the overdue check over all organisations (called by the emulator's tick).
pub fn tick(state: &AppState) {
    let today = state.clock.today();
    let mut guard = state.world();
    let world = &mut *guard;
    for (org_id, org) in world.books.orgs.iter_mut() {
        org.ensure_indexes();
        let due: Vec<String> = org
            .invoices
            .values()
            .filter(|i| matches!(i.status.as_str(), "sent" | "partially_paid") && !i.due_date.is_empty() && i.due_date.as_str() < today.as_str())
            .map(|i| i.invoice_id.clone())
            .collect();
        for id in due {
            let Some(inv) = org.invoices.get_mut(&id) else { continue };
            let fired = restatus(inv, &today);
            if fired.is_empty() {
                continue;
            }
            let inv = inv.clone();
            let body = invoice_json(org, &inv, &state.clock);
            for e in fired {
                webhooks::books_event(state, &world.books_webhooks, org_id, e, "invoice", &body);
            }
        }
    }
}

fn next_number(org: &mut Org) -> String {
    loop {
        let n = format!("INV-{:06}", org.series.invoice);
        org.series.invoice += 1;
        if !org.invoice_numbers.contains_key(&n) {
            return n;
        }
    }
}

/// Applies the invoice-only fields (terms, due date, number).
fn apply(org: &mut Org, b: &Map<String, Value>, inv: &mut Invoice, clock: &Clock, creating: bool, manual_number: bool) -> Result<(), BooksError> {
    if creating {
        inv.doc.date = clock.today();
        inv.doc.discount_before_tax = true;
        inv.doc.item_level = true;
    }
    let old_customer = inv.doc.customer_id.clone();
    document::apply(org, b, &mut inv.doc, "invoices", creating)?;
    if (creating || old_customer != inv.doc.customer_id)
        && let Some(c) = org.contacts.get(&inv.doc.customer_id)
    {
        inv.payment_terms = c.payment_terms;
        inv.payment_terms_label = c.payment_terms_label.clone();
    }
    if let Some(t) = b.opt_int("payment_terms")? {
        if t < 0 {
            return Err(BooksError::invalid("payment_terms"));
        }
        inv.payment_terms = t;
        inv.payment_terms_label = if t == 0 { "Due on Receipt".into() } else { format!("Net {t}") };
    }
    if let Some(l) = b.opt_str("payment_terms_label")? {
        inv.payment_terms_label = l;
    }
    match b.opt_date("due_date")? {
        Some(d) => inv.due_date = d,
        None if creating || b.contains_key("payment_terms") || b.contains_key("date") => {
            inv.due_date = document::add_days(&inv.doc.date, inv.payment_terms).ok_or_else(|| BooksError::invalid("date"))?;
        }
        None => {}
    }
    if inv.due_date < inv.doc.date {
        return Err(BooksError::invalid("due_date"));
    }
    if let Some(e) = b.opt_str("invoiced_estimate_id")? {
        if !e.is_empty() && !org.estimates.contains_key(&e) {
            return Err(BooksError::invalid("invoiced_estimate_id"));
        }
        inv.invoiced_estimate_id = e;
    }
    let given_number = b.opt_str("invoice_number")?.filter(|s| !s.trim().is_empty());
    if creating {
        inv.invoice_number = if manual_number { given_number.ok_or_else(|| BooksError::missing("invoice_number"))? } else { next_number(org) };
    } else if let Some(n) = given_number {
        inv.invoice_number = n;
    }
    if let Some(owner) = org.invoice_numbers.get(&inv.invoice_number)
        && owner != &inv.invoice_id
    {
        return Err(BooksError::duplicate(format!("Invoice number {} already exists.", inv.invoice_number)));
    }
    let t = document::compute(org, &inv.doc);
    if t.total.is_sign_negative() {
        return Err(BooksError::invalid("total"));
    }
    inv.doc.total = t.total;
    if inv.doc.total < inv.payment_made + inv.credits_applied + inv.write_off_amount {
        return Err(BooksError::not_allowed("The invoice total cannot be less than the amount already paid or credited."));
    }
    check_unique_custom(org, "invoices", &inv.doc.custom_fields, Some(&inv.invoice_id))
}

fn store(org: &mut Org, inv: Invoice) {
    if let Some(old) = org.invoices.get(&inv.invoice_id)
        && old.invoice_number != inv.invoice_number
    {
        org.invoice_numbers.remove(&old.invoice_number);
    }
    org.invoice_numbers.insert(inv.invoice_number.clone(), inv.invoice_id.clone());
    org.put_invoice(inv);
}

/// Creates an invoice from a body.
pub fn create_invoice(org: &mut Org, clock: &Clock, b: &Map<String, Value>, manual_number: bool) -> Result<Invoice, BooksError> {
    let now = clock.now_ms();
    let mut inv = Invoice { status: "draft".into(), doc: Document { created_ms: now, modified_ms: now, ..Document::default() }, ..Invoice::default() };
    let series_before = org.series.invoice;
    if let Err(e) = apply(org, b, &mut inv, clock, true, manual_number) {
        org.series.invoice = series_before;
        return Err(e);
    }
    inv.invoice_id = org.new_id();
    store(org, inv.clone());
    Ok(inv)
}

fn update_invoice(org: &mut Org, clock: &Clock, id: &str, b: &Map<String, Value>) -> Result<Invoice, BooksError> {
    let mut inv = org.invoices.get(id).cloned().ok_or_else(|| BooksError::not_found("Invoice"))?;
    if inv.status == "void" {
        return Err(BooksError::not_allowed("Voided invoices cannot be edited."));
    }
    apply(org, b, &mut inv, clock, false, false)?;
    inv.doc.modified_ms = touch(clock, inv.doc.modified_ms);
    let today = clock.today();
    restatus(&mut inv, &today);
    store(org, inv.clone());
    Ok(inv)
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let manual = q.flag("ignore_auto_number_generation")?;
    let send = q.flag("send")?;
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let inv = create_invoice(org, clock, &b, manual)?;
        let out = invoice_json(org, &inv, clock);
        events.push(Event { event: "invoice.created", key: "invoice", body: out.clone() });
        if send {
            return send_invoice(org, clock, &inv.invoice_id, events)
                .map(|inv| envelope(StatusCode::CREATED, "The invoice has been created.", "invoice", invoice_json(org, &inv, clock)));
        }
        Ok(envelope(StatusCode::CREATED, "The invoice has been created.", "invoice", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let inv = org.invoices.get(&id).ok_or_else(|| BooksError::not_found("Invoice"))?;
        Ok(envelope(StatusCode::OK, "success", "invoice", invoice_json(org, inv, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let inv = update_invoice(org, clock, &id, &b)?;
        let out = invoice_json(org, &inv, clock);
        events.push(Event { event: "invoice.updated", key: "invoice", body: out.clone() });
        Ok(envelope(StatusCode::OK, "Invoice information has been updated.", "invoice", out))
    })
}

async fn upsert(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let manual = q.flag("ignore_auto_number_generation")?;
    let b = body::parse(&headers, &bytes)?;
    let (key, value, allow_create) = upsert_headers(&headers)?.ok_or_else(|| BooksError::missing("X-Unique-Identifier-Key"))?;
    with_org(&state, &q, |org, clock, events| {
        let def = unique_field(org, "invoices", &key)?.clone();
        let found = holder_of(org, "invoices", &def, &value);
        let b = upsert_body(&b, &def, &value)?;
        match found {
            Some(id) => {
                let inv = update_invoice(org, clock, &id, &b)?;
                let out = invoice_json(org, &inv, clock);
                events.push(Event { event: "invoice.updated", key: "invoice", body: out.clone() });
                Ok(envelope(StatusCode::OK, "Invoice information has been updated.", "invoice", out))
            }
            None if allow_create => {
                let inv = create_invoice(org, clock, &b, manual)?;
                let out = invoice_json(org, &inv, clock);
                events.push(Event { event: "invoice.created", key: "invoice", body: out.clone() });
                // An upsert answers 200 even when it creates: PUT /invoices documents only 200.
                Ok(envelope(StatusCode::OK, "The invoice has been created.", "invoice", out))
            }
            None => Err(BooksError::not_found("Invoice")),
        }
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let inv = org.invoices.get(&id).ok_or_else(|| BooksError::not_found("Invoice"))?;
        if inv.payment_made > Decimal::ZERO || inv.credits_applied > Decimal::ZERO {
            return Err(BooksError::not_allowed("Invoices with payments or credits applied cannot be deleted."));
        }
        if let Some(inv) = org.remove_invoice(&id) {
            org.invoice_numbers.remove(&inv.invoice_number);
        }
        Ok(done("The invoice has been deleted."))
    })
}

fn send_invoice(org: &mut Org, clock: &Clock, id: &str, events: &mut Vec<Event>) -> Result<Invoice, BooksError> {
    let today = clock.today();
    let inv = org.invoices.get_mut(id).ok_or_else(|| BooksError::not_found("Invoice"))?;
    if inv.status == "void" {
        return Err(BooksError::not_allowed("Voided invoices cannot be marked as sent."));
    }
    let was_draft = inv.status == "draft";
    if was_draft {
        inv.status = "sent".into();
    }
    inv.doc.modified_ms = touch(clock, inv.doc.modified_ms);
    let fired = restatus(inv, &today);
    let inv = inv.clone();
    let body = invoice_json(org, &inv, clock);
    if was_draft {
        events.push(Event { event: "invoice.sent", key: "invoice", body: body.clone() });
    }
    for e in fired {
        events.push(Event { event: e, key: "invoice", body: body.clone() });
    }
    Ok(inv)
}

async fn mark_sent(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        send_invoice(org, clock, &id, events)?;
        Ok(done("Invoice status has been changed to Sent."))
    })
}

async fn mark_void(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        let status = org.invoices.get(&id).map(|i| i.status.clone()).ok_or_else(|| BooksError::not_found("Invoice"))?;
        if status == "void" {
            return Err(BooksError::not_allowed("The invoice is already void."));
        }
        payments::release_invoice(org, &id, clock);
        creditnotes::release_invoice(org, &id, clock);
        let inv = org.invoices.get_mut(&id).ok_or_else(|| BooksError::not_found("Invoice"))?;
        inv.payment_made = Decimal::ZERO;
        inv.credits_applied = Decimal::ZERO;
        inv.write_off_amount = Decimal::ZERO;
        inv.status = "void".into();
        inv.doc.modified_ms = touch(clock, inv.doc.modified_ms);
        let inv = inv.clone();
        events.push(Event { event: "invoice.voided", key: "invoice", body: invoice_json(org, &inv, clock) });
        Ok(done("Invoice status has been changed to Void."))
    })
}

async fn mark_draft(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        let inv = org.invoices.get_mut(&id).ok_or_else(|| BooksError::not_found("Invoice"))?;
        if inv.status != "void" {
            return Err(BooksError::not_allowed("Only void invoices can be changed to draft."));
        }
        inv.status = "draft".into();
        inv.overdue_notified = false;
        inv.doc.modified_ms = touch(clock, inv.doc.modified_ms);
        let inv = inv.clone();
        events.push(Event { event: "invoice.updated", key: "invoice", body: invoice_json(org, &inv, clock) });
        Ok(done("Status of invoice changed from void to draft"))
    })
}

async fn list_payments(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        if !org.invoices.contains_key(&id) {
            return Err(BooksError::not_found("Invoice"));
        }
        let rows: Vec<Value> = org
            .payments
            .values()
            .flat_map(|p| p.invoices.iter().filter(|a| a.invoice_id == id).map(move |a| (p, a)))
            .map(|(p, a)| {
                json!({
                    "payment_id": p.payment_id,
                    "payment_number": p.payment_number,
                    "invoice_id": a.invoice_id,
                    "invoice_payment_id": a.allocation_id,
                    "payment_mode": p.payment_mode,
                    "description": p.description,
                    "date": p.date,
                    "reference_number": p.reference_number,
                    "exchange_rate": money(p.exchange_rate),
                    "amount": money(a.amount_applied),
                    "tax_amount_withheld": 0,
                    "online_transaction_id": "",
                    "is_single_invoice_payment": p.invoices.len() == 1,
                })
            })
            .collect();
        Ok(envelope(StatusCode::OK, "success", "payments", Value::Array(rows)))
    })
}

async fn list_credits(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        if !org.invoices.contains_key(&id) {
            return Err(BooksError::not_found("Invoice"));
        }
        let rows: Vec<Value> = org
            .creditnotes
            .values()
            .flat_map(|n| n.credits.iter().filter(|c| c.invoice_id == id).map(move |c| (n, c)))
            .map(|(n, c)| {
                json!({
                    "creditnote_id": n.creditnote_id,
                    "creditnotes_invoice_id": c.creditnote_invoice_id,
                    "creditnotes_number": n.creditnote_number,
                    "credited_date": c.date,
                    "amount_applied": money(c.amount),
                })
            })
            .collect();
        Ok(envelope(StatusCode::OK, "success", "credits", Value::Array(rows)))
    })
}

async fn apply_credits(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let notes = b.opt_objects("apply_creditnotes")?.unwrap_or_default();
    let pays = b.opt_objects("invoice_payments")?.unwrap_or_default();
    if notes.is_empty() && pays.is_empty() {
        return Err(BooksError::missing("apply_creditnotes"));
    }
    let mut note_list = Vec::new();
    for n in notes {
        let amount = n.opt_decimal("amount_applied")?.ok_or_else(|| BooksError::missing("amount_applied"))?;
        note_list.push((n.req_str("creditnote_id")?, amount));
    }
    let mut pay_list = Vec::new();
    for p in pays {
        let amount = p.opt_decimal("amount_applied")?.ok_or_else(|| BooksError::missing("amount_applied"))?;
        pay_list.push((p.req_str("payment_id")?, amount));
    }
    with_org(&state, &q, |org, clock, events| {
        if !org.invoices.contains_key(&id) {
            return Err(BooksError::not_found("Invoice"));
        }
        let snapshot = (org.invoices.get(&id).cloned(), org.creditnotes.clone(), org.payments.clone());
        let result = (|| {
            for (cn, amount) in &note_list {
                creditnotes::apply_to_invoice(org, cn, &id, *amount, clock, events)?;
            }
            for (pid, amount) in &pay_list {
                payments::apply_unused(org, pid, &id, *amount, clock)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            if let Some(inv) = snapshot.0 {
                org.put_invoice(inv);
            }
            org.creditnotes = snapshot.1;
            org.payments = snapshot.2;
            events.clear();
            return Err(e);
        }
        settle(org, &id, clock, events);
        Ok(done("Credits have been applied to the invoice(s)."))
    })
}

/// A `yyyy-mm-dd` range filter with `x`, `x_start`, `x_end`, `x_before`, `x_after`.
pub fn date_filter(q: &Query, field: &str) -> Result<impl Fn(&str) -> bool + use<>, BooksError> {
    let mut bounds: Vec<(String, &'static str)> = Vec::new();
    for (suffix, op) in [("", "eq"), ("_start", "ge"), ("_end", "le"), ("_before", "lt"), ("_after", "gt")] {
        let key = format!("{field}{suffix}");
        if let Some(v) = q.get(&key) {
            if !body::valid_date(v) {
                return Err(BooksError::invalid(&key));
            }
            bounds.push((v.to_string(), op));
        }
    }
    Ok(move |d: &str| {
        bounds.iter().all(|(v, op)| match *op {
            "eq" => d == v,
            "ge" => d >= v.as_str(),
            "le" => d <= v.as_str(),
            "lt" => d < v.as_str(),
            _ => d > v.as_str(),
        })
    })
}

const SORTS: &[&str] = &["created_time", "customer_name", "invoice_number", "date", "due_date", "total", "balance", "last_modified_time", "reference_number"];

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, SORTS)?;
    let filter_status: Option<&str> = match q.get("filter_by").unwrap_or("Status.All") {
        "Status.All" => None,
        "Status.Sent" => Some("sent"),
        "Status.Draft" => Some("draft"),
        "Status.OverDue" | "Status.Overdue" => Some("overdue"),
        "Status.Paid" => Some("paid"),
        "Status.Void" => Some("void"),
        "Status.Unpaid" => Some("unpaid"),
        "Status.PartiallyPaid" => Some("partially_paid"),
        _ => return Err(BooksError::invalid("filter_by")),
    };
    let status = match q.get("status") {
        None => None,
        Some(s @ ("draft" | "sent" | "overdue" | "paid" | "partially_paid" | "void" | "unpaid")) => Some(s.to_string()),
        Some(_) => return Err(BooksError::invalid("status")),
    };
    let number = text_filter(&q, "invoice_number");
    let reference = text_filter(&q, "reference_number");
    let customer_name = text_filter(&q, "customer_name");
    let customer_id = q.get("customer_id").map(str::to_string);
    let zcrm = q.get("zcrm_potential_id").map(str::to_string);
    let search = q.get("search_text").map(str::to_lowercase);
    let date = date_filter(&q, "date")?;
    let due = date_filter(&q, "due_date")?;
    let since = modified_since(&q)?;
    let matches_status = |want: &str, have: &str| match want {
        "unpaid" => matches!(have, "sent" | "overdue" | "partially_paid"),
        w => w == have,
    };
    with_org(&state, &q, |org, clock, _| {
        let name_of = |i: &Invoice| org.contacts.get(&i.doc.customer_id).map(|c| c.contact_name.clone()).unwrap_or_default();
        let rows: Vec<&Invoice> = org
            .invoices
            .values()
            .filter(|i| filter_status.is_none_or(|s| matches_status(s, &i.status)))
            .filter(|i| status.as_deref().is_none_or(|s| matches_status(s, &i.status)))
            .filter(|i| number.as_ref().is_none_or(|f| f(&i.invoice_number)))
            .filter(|i| reference.as_ref().is_none_or(|f| f(&i.doc.reference_number)))
            .filter(|i| customer_id.as_ref().is_none_or(|c| &i.doc.customer_id == c))
            .filter(|i| customer_name.as_ref().is_none_or(|f| f(&name_of(i))))
            .filter(|i| zcrm.as_ref().is_none_or(|z| &i.doc.zcrm_potential_id == z))
            .filter(|i| date(&i.doc.date) && due(&i.due_date))
            .filter(|i| since.is_none_or(|t| i.doc.modified_ms >= t))
            .filter(|i| {
                search.as_ref().is_none_or(|s| {
                    i.invoice_number.to_lowercase().contains(s) || i.doc.reference_number.to_lowercase().contains(s) || name_of(i).to_lowercase().contains(s)
                })
            })
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "customer_name" => name_of(a).to_lowercase().cmp(&name_of(b).to_lowercase()),
                "invoice_number" => a.invoice_number.cmp(&b.invoice_number),
                "reference_number" => a.doc.reference_number.cmp(&b.doc.reference_number),
                "date" => a.doc.date.cmp(&b.doc.date),
                "due_date" => a.due_date.cmp(&b.due_date),
                "total" => a.doc.total.cmp(&b.doc.total),
                "balance" => a.balance().cmp(&b.balance()),
                "last_modified_time" => a.doc.modified_ms.cmp(&b.doc.modified_ms),
                _ => a.doc.created_ms.cmp(&b.doc.created_ms),
            }
            .then_with(|| a.invoice_id.cmp(&b.invoice_id))
        });
        let rows: Vec<Value> = page.iter().map(|i| row_json(org, i, clock)).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("invoices".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Invoices", q.get("filter_by").unwrap_or("Status.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
