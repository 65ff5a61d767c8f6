//! Customer payments (`/customerpayments`): allocation of `amount_applied` across invoices
//! (the rest stays as unused customer credit), list/get/update/delete (updating
//! re-allocates, deleting restores the invoices' balances), refunds of the unused amount
//! (`/customerpayments/{id}/refunds`), and the release of allocations when an invoice is
//! voided. Webhooks: `payment.created`, `payment.updated`, `payment.deleted` and
//! `payment.refunded`, each with the payment (and the invoices it was applied to) as the
//! default payload, plus the invoices' own `invoice.paid` / `invoice.overdue`.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope, money},
    common::{Paging, stamp, text_filter, touch, with_org},
    invoices::{date_filter, settle},
    store::{Allocation, Event, Invoice, Org, Payment, PaymentRefund},
};
use crate::{clock::Clock, state::AppState};

/// Payment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customerpayments", get(list).post(create))
        .route("/customerpayments/{id}", get(read).put(update).delete(remove))
        .route("/customerpayments/{id}/refunds", get(list_refunds).post(refund))
}

const MODES: &[&str] = &["cash", "check", "creditcard", "banktransfer", "bankremittance", "autotransaction", "paypal", "stripe", "others"];

/// The payment JSON.
pub fn payment_json(org: &Org, p: &Payment, clock: &Clock) -> Value {
    let customer = org.contacts.get(&p.customer_id);
    let currency = org.currencies.get(&p.currency_id);
    json!({
        "payment_id": p.payment_id,
        // customer-payments.yml types it as a string here (an integer under /invoices/{id}/payments).
        "payment_number": p.payment_number.to_string(),
        "payment_mode": p.payment_mode,
        "amount": money(p.amount),
        "amount_refunded": money(p.amount_refunded),
        "unused_amount": money(p.unused()),
        "bank_charges": money(p.bank_charges),
        "date": p.date,
        "status": "success",
        "reference_number": p.reference_number,
        "description": p.description,
        "customer_id": p.customer_id,
        "customer_name": customer.map(|c| c.contact_name.as_str()).unwrap_or(""),
        "email": customer.and_then(|c| c.primary()).map(|x| x.email.as_str()).unwrap_or(""),
        "exchange_rate": money(p.exchange_rate),
        "invoices": p.invoices.iter().map(|a| {
            let inv = org.invoices.get(&a.invoice_id);
            json!({
                "invoice_id": a.invoice_id,
                "invoice_payment_id": a.allocation_id,
                "invoice_number": inv.map(|i| i.invoice_number.as_str()).unwrap_or(""),
                "date": inv.map(|i| i.doc.date.as_str()).unwrap_or(""),
                "invoice_amount": money(inv.map(|i| i.doc.total).unwrap_or_default()),
                "amount_applied": money(a.amount_applied),
                "balance_amount": money(inv.map(|i| i.balance()).unwrap_or_default()),
                "tax_amount_withheld": 0,
            })
        }).collect::<Vec<_>>(),
        "currency_id": p.currency_id,
        "currency_code": currency.map(|c| c.currency_code.as_str()).unwrap_or(""),
        "currency_symbol": currency.map(|c| c.currency_symbol.as_str()).unwrap_or(""),
        "custom_fields": [],
        "created_time": stamp(clock, p.created_ms),
        "last_modified_time": stamp(clock, p.modified_ms),
    })
}

/// Adds `amount` to an invoice's payments, checking it does not exceed the balance.
fn pay_invoice(org: &mut Org, invoice_id: &str, customer_id: &str, amount: Decimal, date: &str) -> Result<(), BooksError> {
    let inv = org.invoices.get_mut(invoice_id).ok_or_else(|| BooksError::invalid("invoices.invoice_id"))?;
    if inv.doc.customer_id != customer_id {
        return Err(BooksError::invalid("invoices.invoice_id"));
    }
    if matches!(inv.status.as_str(), "draft" | "void") {
        return Err(BooksError::not_allowed(format!("Payments cannot be recorded for a {} invoice.", inv.status)));
    }
    if amount <= Decimal::ZERO || amount > inv.balance() {
        return Err(BooksError::invalid("invoices.amount_applied"));
    }
    inv.payment_made += amount;
    if inv.last_payment_date.as_str() < date {
        inv.last_payment_date = date.to_string();
    }
    Ok(())
}

/// Reads `invoices[{invoice_id, amount_applied}]` from a body.
fn read_allocations(b: &Map<String, Value>) -> Result<Option<Vec<(String, Decimal)>>, BooksError> {
    let Some(given) = b.opt_objects("invoices")? else { return Ok(None) };
    let mut allocations = Vec::with_capacity(given.len());
    for a in given {
        let id = a.req_str("invoice_id")?;
        let applied = a.opt_decimal("amount_applied")?.ok_or_else(|| BooksError::missing("amount_applied"))?;
        allocations.push((id, applied));
    }
    Ok(Some(allocations))
}

/// Pays every allocation (all or nothing: on a refusal the invoices are put back as they
/// were in `before`).
fn pay_all(org: &mut Org, allocations: &[(String, Decimal)], customer_id: &str, date: &str, before: Vec<Invoice>) -> Result<(), BooksError> {
    for (id, applied) in allocations {
        if let Err(e) = pay_invoice(org, id, customer_id, *applied, date) {
            for inv in before {
                org.put_invoice(inv);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Sets an invoice's `last_payment_date` from the payments still applied to it (after a
/// payment was deleted or re-allocated).
fn refresh_last_payment_date(org: &mut Org, invoice_id: &str) {
    let last = org.payments.values().flat_map(|p| p.invoices.iter()).filter(|a| a.invoice_id == invoice_id).map(|a| a.date.clone()).max().unwrap_or_default();
    if let Some(inv) = org.invoices.get_mut(invoice_id) {
        inv.last_payment_date = last;
    }
}

fn check_mode(mode: &str) -> Result<(), BooksError> {
    if MODES.contains(&mode.to_lowercase().as_str()) { Ok(()) } else { Err(BooksError::invalid("payment_mode")) }
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let customer_id = b.req_str("customer_id")?;
    let mode = b.req_str("payment_mode")?;
    check_mode(&mode)?;
    let amount = b.opt_decimal("amount")?.ok_or_else(|| BooksError::missing("amount"))?;
    if amount <= Decimal::ZERO {
        return Err(BooksError::invalid("amount"));
    }
    let allocations = read_allocations(&b)?.ok_or_else(|| BooksError::missing("invoices"))?;
    let applied_sum: Decimal = allocations.iter().map(|(_, a)| *a).sum();
    if applied_sum > amount {
        return Err(BooksError::bad(body::INVALID_VALUE, "The amount applied to invoices exceeds the payment amount."));
    }
    with_org(&state, &q, |org, clock, events| {
        let contact = org.contacts.get(&customer_id).ok_or_else(|| BooksError::invalid("customer_id"))?;
        let currency_id = contact.currency_id.clone();
        let date = b.opt_date("date")?.unwrap_or_else(|| clock.today());
        let exchange_rate = b.opt_decimal("exchange_rate")?.unwrap_or(Decimal::ONE);
        let before: Vec<_> = allocations.iter().filter_map(|(id, _)| org.invoices.get(id).cloned()).collect();
        pay_all(org, &allocations, &customer_id, &date, before)?;
        let now = clock.now_ms();
        let mut p = Payment {
            payment_id: org.new_id(),
            payment_number: org.series.payment,
            customer_id: customer_id.clone(),
            payment_mode: mode.clone(),
            amount,
            bank_charges: b.opt_decimal("bank_charges")?.unwrap_or_default(),
            date: date.clone(),
            reference_number: b.opt_str("reference_number")?.unwrap_or_default(),
            description: b.opt_str("description")?.unwrap_or_default(),
            exchange_rate,
            currency_id,
            created_ms: now,
            modified_ms: now,
            ..Payment::default()
        };
        org.series.payment += 1;
        for (id, applied) in &allocations {
            p.invoices.push(Allocation { allocation_id: org.new_id(), invoice_id: id.clone(), amount_applied: *applied, date: date.clone() });
        }
        org.put_payment(p.clone());
        for (id, _) in &allocations {
            settle(org, id, clock, events);
        }
        let out = payment_json(org, &p, clock);
        events.insert(0, Event { event: "payment.created", key: "payment", body: out.clone() });
        Ok(envelope(StatusCode::CREATED, "The payment has been created.", "payment", out))
    })
}

/// `PUT /customerpayments/{id}`: changes the amount, date, mode, reference or description,
/// and with `invoices` re-allocates the payment (the old allocations are taken back first,
/// all or nothing). The customer cannot change; the applied and refunded amounts may not
/// exceed the new amount.
async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let allocations = read_allocations(&b)?;
    with_org(&state, &q, |org, clock, events| {
        let mut p = org.payments.get(&id).cloned().ok_or_else(|| BooksError::not_found("Payment"))?;
        if let Some(c) = b.opt_str("customer_id")?
            && c != p.customer_id
        {
            return Err(BooksError::invalid("customer_id"));
        }
        if let Some(m) = b.opt_str("payment_mode")? {
            check_mode(&m)?;
            p.payment_mode = m;
        }
        if let Some(a) = b.opt_decimal("amount")? {
            if a <= Decimal::ZERO {
                return Err(BooksError::invalid("amount"));
            }
            p.amount = a;
        }
        if let Some(d) = b.opt_date("date")? {
            p.date = d;
        }
        if let Some(r) = b.opt_str("reference_number")? {
            p.reference_number = r;
        }
        if let Some(d) = b.opt_str("description")? {
            p.description = d;
        }
        if let Some(c) = b.opt_decimal("bank_charges")? {
            p.bank_charges = c;
        }
        if let Some(r) = b.opt_decimal("exchange_rate")? {
            p.exchange_rate = r;
        }
        let mut touched: Vec<String> = p.invoices.iter().map(|a| a.invoice_id.clone()).collect();
        if let Some(new) = &allocations {
            touched.extend(new.iter().map(|(i, _)| i.clone()));
            touched.sort();
            touched.dedup();
            let before: Vec<Invoice> = touched.iter().filter_map(|i| org.invoices.get(i).cloned()).collect();
            for a in &p.invoices {
                if let Some(inv) = org.invoices.get_mut(&a.invoice_id) {
                    inv.payment_made -= a.amount_applied;
                }
            }
            pay_all(org, new, &p.customer_id, &p.date, before)?;
            let mut kept = Vec::new();
            for (invoice_id, applied) in new {
                let allocation_id = p.invoices.iter().find(|a| &a.invoice_id == invoice_id).map(|a| a.allocation_id.clone()).unwrap_or_else(|| org.new_id());
                kept.push(Allocation { allocation_id, invoice_id: invoice_id.clone(), amount_applied: *applied, date: p.date.clone() });
            }
            p.invoices = kept;
        }
        if p.unused().is_sign_negative() {
            if let Some(old) = org.payments.get(&id).cloned() {
                // Undo the re-allocation: take the new amounts back, give the old ones again.
                for a in &p.invoices {
                    if let Some(inv) = org.invoices.get_mut(&a.invoice_id) {
                        inv.payment_made -= a.amount_applied;
                    }
                }
                for a in &old.invoices {
                    if let Some(inv) = org.invoices.get_mut(&a.invoice_id) {
                        inv.payment_made += a.amount_applied;
                    }
                }
            }
            return Err(BooksError::bad(body::INVALID_VALUE, "The amount applied to invoices exceeds the payment amount."));
        }
        p.modified_ms = touch(clock, p.modified_ms);
        org.put_payment(p.clone());
        for invoice_id in &touched {
            refresh_last_payment_date(org, invoice_id);
            settle(org, invoice_id, clock, events);
        }
        let out = payment_json(org, &p, clock);
        events.insert(0, Event { event: "payment.updated", key: "payment", body: out.clone() });
        Ok(envelope(StatusCode::OK, "The payment details have been updated.", "payment", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    match q.get("accept") {
        None | Some("json") => {}
        Some("pdf") => return Err(BooksError::not_allowed("PDF rendering of payments is not emulated; use accept=json")),
        Some(_) => return Err(BooksError::invalid("accept")),
    }
    with_org(&state, &q, |org, clock, _| {
        let p = org.payments.get(&id).ok_or_else(|| BooksError::not_found("Payment"))?;
        Ok(envelope(StatusCode::OK, "success", "payment", payment_json(org, p, clock)))
    })
}

/// `DELETE /customerpayments/{id}`: the invoices get their balances back and
/// `payment.deleted` carries the payment as it was, with the invoices it was applied to.
async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, events| {
        let p = org.payments.get(&id).ok_or_else(|| BooksError::not_found("Payment"))?;
        if !p.refunds.is_empty() {
            return Err(BooksError::not_allowed("Payments that have been refunded cannot be deleted."));
        }
        let gone = payment_json(org, p, clock);
        let p = org.remove_payment(&id).ok_or_else(|| BooksError::not_found("Payment"))?;
        events.push(Event { event: "payment.deleted", key: "payment", body: gone });
        for a in &p.invoices {
            if let Some(inv) = org.invoices.get_mut(&a.invoice_id) {
                inv.payment_made -= a.amount_applied;
            }
            refresh_last_payment_date(org, &a.invoice_id);
            settle(org, &a.invoice_id, clock, events);
        }
        Ok(done("The payment has been deleted."))
    })
}

fn refund_json(org: &Org, p: &Payment, r: &PaymentRefund) -> Value {
    json!({
        "payment_refund_id": r.payment_refund_id,
        "payment_id": p.payment_id,
        "payment_number": p.payment_number.to_string(),
        "date": r.date,
        "refund_mode": r.refund_mode,
        "reference_number": r.reference_number,
        "description": r.description,
        "amount": money(r.amount),
        "exchange_rate": money(p.exchange_rate),
        "amount_bcy": money(r.amount * p.exchange_rate),
        "amount_fcy": money(r.amount),
        "from_account_id": r.from_account_id,
        "customer_name": org.contacts.get(&p.customer_id).map(|c| c.contact_name.as_str()).unwrap_or(""),
    })
}

/// `POST /customerpayments/{id}/refunds`: refunds part of the payment's unused amount;
/// fires `payment.refunded` with the payment.
async fn refund(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let amount = b.opt_decimal("amount")?.ok_or_else(|| BooksError::missing("amount"))?;
    with_org(&state, &q, |org, clock, events| {
        let refund_id = org.new_id();
        let date = b.opt_date("date")?.unwrap_or_else(|| clock.today());
        let p = org.payments.get_mut(&id).ok_or_else(|| BooksError::not_found("Payment"))?;
        if amount <= Decimal::ZERO || amount > p.unused() {
            return Err(BooksError::bad(body::INVALID_VALUE, "The refund amount exceeds the unused amount of the payment."));
        }
        let r = PaymentRefund {
            payment_refund_id: refund_id,
            date,
            refund_mode: b.opt_str("refund_mode")?.unwrap_or_else(|| "cash".into()),
            reference_number: b.opt_str("reference_number")?.unwrap_or_default(),
            description: b.opt_str("description")?.unwrap_or_default(),
            amount,
            from_account_id: b.opt_str("from_account_id")?.unwrap_or_default(),
        };
        p.refunds.push(r.clone());
        p.amount_refunded += amount;
        p.modified_ms = touch(clock, p.modified_ms);
        let p = p.clone();
        events.push(Event { event: "payment.refunded", key: "payment", body: payment_json(org, &p, clock) });
        // customer-payments.yml answers this create with a `payment_refunds` array.
        Ok(envelope(StatusCode::OK, "The refund information for this payment has been saved.", "payment_refunds", Value::Array(vec![refund_json(org, &p, &r)])))
    })
}

/// `GET /customerpayments/{id}/refunds`.
async fn list_refunds(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["date"])?;
    with_org(&state, &q, |org, _, _| {
        let p = org.payments.get(&id).ok_or_else(|| BooksError::not_found("Payment"))?;
        let rows: Vec<Value> = p.refunds.iter().map(|r| refund_json(org, p, r)).collect();
        let (page, more) = paging.cut(rows, |a, b| a["date"].as_str().cmp(&b["date"].as_str()));
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("payment_refunds".into(), Value::Array(page));
        m.insert("page_context".into(), paging.context(more, "Payment Refunds", "All"));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}

/// Voiding an invoice: every payment allocation to it is released; the money stays on
/// the payment as unused customer credit.
pub fn release_invoice(org: &mut Org, invoice_id: &str, clock: &Clock) {
    for p in org.payments.values_mut() {
        let before = p.invoices.len();
        p.invoices.retain(|a| a.invoice_id != invoice_id);
        if p.invoices.len() != before {
            p.modified_ms = touch(clock, p.modified_ms);
        }
    }
}

/// Applies `amount` of a payment's unused credit to an invoice.
pub fn apply_unused(org: &mut Org, payment_id: &str, invoice_id: &str, amount: Decimal, clock: &Clock) -> Result<(), BooksError> {
    let p = org.payments.get(payment_id).ok_or_else(|| BooksError::not_found("Payment"))?;
    if amount <= Decimal::ZERO || amount > p.unused() {
        return Err(BooksError::invalid("invoice_payments.amount_applied"));
    }
    let customer = p.customer_id.clone();
    let date = clock.today();
    pay_invoice(org, invoice_id, &customer, amount, &date)?;
    let alloc_id = org.new_id();
    if let Some(p) = org.payments.get_mut(payment_id) {
        p.invoices.push(Allocation { allocation_id: alloc_id, invoice_id: invoice_id.to_string(), amount_applied: amount, date });
        p.modified_ms = touch(clock, p.modified_ms);
    }
    Ok(())
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["created_time", "date", "customer_name", "amount", "reference_number", "payment_number"])?;
    let mode_filter = match q.get("filter_by").unwrap_or("PaymentMode.All") {
        "PaymentMode.All" => None,
        f => match f.strip_prefix("PaymentMode.") {
            Some(m) => Some(m.to_lowercase()),
            None => return Err(BooksError::invalid("filter_by")),
        },
    };
    let mode = text_filter(&q, "payment_mode");
    let reference = text_filter(&q, "reference_number");
    let customer_name = text_filter(&q, "customer_name");
    let customer_id = q.get("customer_id").map(str::to_string);
    let search = q.get("search_text").map(str::to_lowercase);
    let date = date_filter(&q, "date")?;
    with_org(&state, &q, |org, clock, _| {
        let name_of = |p: &Payment| org.contacts.get(&p.customer_id).map(|c| c.contact_name.clone()).unwrap_or_default();
        let rows: Vec<&Payment> = org
            .payments
            .values()
            .filter(|p| mode_filter.as_ref().is_none_or(|m| &p.payment_mode.to_lowercase() == m))
            .filter(|p| mode.as_ref().is_none_or(|f| f(&p.payment_mode)))
            .filter(|p| reference.as_ref().is_none_or(|f| f(&p.reference_number)))
            .filter(|p| customer_name.as_ref().is_none_or(|f| f(&name_of(p))))
            .filter(|p| customer_id.as_ref().is_none_or(|c| &p.customer_id == c))
            .filter(|p| date(&p.date))
            .filter(|p| search.as_ref().is_none_or(|s| p.reference_number.to_lowercase().contains(s) || name_of(p).to_lowercase().contains(s)))
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "date" => a.date.cmp(&b.date),
                "customer_name" => name_of(a).cmp(&name_of(b)),
                "amount" => a.amount.cmp(&b.amount),
                "reference_number" => a.reference_number.cmp(&b.reference_number),
                "payment_number" => a.payment_number.cmp(&b.payment_number),
                _ => a.created_ms.cmp(&b.created_ms),
            }
            .then_with(|| a.payment_id.cmp(&b.payment_id))
        });
        let rows: Vec<Value> = page.iter().map(|p| payment_json(org, p, clock)).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("customer_payments".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Customer Payments", q.get("filter_by").unwrap_or("PaymentMode.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
