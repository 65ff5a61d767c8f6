//! Estimates (`/estimates`): create/get/list/update, numbering `EST-000001`, and the
//! status actions sent/accepted/declined.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::{Map, Value};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope},
    common::{Paging, modified_since, status_filter, text_filter, touch, with_org},
    document,
    invoices::date_filter,
    store::{Document, Estimate, Event, Org},
};
use crate::{clock::Clock, state::AppState};

/// Estimate routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/estimates", get(list).post(create))
        .route("/estimates/{id}", get(read).put(update).delete(remove))
        .route("/estimates/{id}/status/sent", post(mark_sent))
        .route("/estimates/{id}/status/accepted", post(mark_accepted))
        .route("/estimates/{id}/status/declined", post(mark_declined))
}

/// The estimate JSON.
pub fn estimate_json(org: &Org, e: &Estimate, clock: &Clock) -> Value {
    let t = document::compute(org, &e.doc);
    let mut m = Map::new();
    m.insert("estimate_id".into(), e.estimate_id.clone().into());
    m.insert("estimate_number".into(), e.estimate_number.clone().into());
    m.insert("status".into(), e.status.clone().into());
    m.insert("expiry_date".into(), e.expiry_date.clone().into());
    document::render_into(org, &e.doc, &t, clock, &mut m);
    Value::Object(m)
}

fn apply(org: &mut Org, b: &Map<String, Value>, e: &mut Estimate, creating: bool, manual: bool) -> Result<(), BooksError> {
    document::apply(org, b, &mut e.doc, "estimates", creating)?;
    if let Some(d) = b.opt_date("expiry_date")? {
        e.expiry_date = d;
    }
    if !e.expiry_date.is_empty() && e.expiry_date < e.doc.date {
        return Err(BooksError::invalid("expiry_date"));
    }
    let given = b.opt_str("estimate_number")?.filter(|s| !s.trim().is_empty());
    if creating {
        e.estimate_number = match given {
            Some(n) if manual => n,
            None if manual => return Err(BooksError::missing("estimate_number")),
            _ => loop {
                let n = format!("EST-{:06}", org.series.estimate);
                org.series.estimate += 1;
                if !org.estimate_number_taken(&n, "") {
                    break n;
                }
            },
        };
    } else if let Some(n) = given {
        e.estimate_number = n;
    }
    if org.estimate_number_taken(&e.estimate_number, &e.estimate_id) {
        return Err(BooksError::duplicate(format!("Estimate number {} already exists.", e.estimate_number)));
    }
    e.doc.total = document::compute(org, &e.doc).total;
    Ok(())
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let manual = q.flag("ignore_auto_number_generation")?;
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let now = clock.now_ms();
        let mut e = Estimate {
            status: "draft".into(),
            doc: Document { date: clock.today(), item_level: true, discount_before_tax: true, created_ms: now, modified_ms: now, ..Document::default() },
            ..Estimate::default()
        };
        apply(org, &b, &mut e, true, manual)?;
        e.estimate_id = org.new_id();
        org.put_estimate(e.clone());
        let out = estimate_json(org, &e, clock);
        events.push(Event { event: "estimate.created", key: "estimate", body: out.clone() });
        Ok(envelope(StatusCode::CREATED, "Estimate has been created.", "estimate", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let e = org.estimates.get(&id).ok_or_else(|| BooksError::not_found("Estimate"))?;
        Ok(envelope(StatusCode::OK, "success", "estimate", estimate_json(org, e, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, _| {
        let mut e = org.estimates.get(&id).cloned().ok_or_else(|| BooksError::not_found("Estimate"))?;
        apply(org, &b, &mut e, false, false)?;
        e.doc.modified_ms = touch(clock, e.doc.modified_ms);
        org.put_estimate(e.clone());
        Ok(envelope(StatusCode::OK, "Estimate has been updated.", "estimate", estimate_json(org, &e, clock)))
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        org.remove_estimate(&id).ok_or_else(|| BooksError::not_found("Estimate"))?;
        Ok(done("The estimate has been deleted."))
    })
}

fn change(state: &AppState, q: Option<String>, id: &str, to: &str, from: &[&str], message: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, clock, events| {
        let e = org.estimates.get_mut(id).ok_or_else(|| BooksError::not_found("Estimate"))?;
        if !from.contains(&e.status.as_str()) {
            return Err(BooksError::not_allowed(format!("The estimate cannot be changed from {} to {to}.", e.status)));
        }
        e.status = to.into();
        e.doc.modified_ms = touch(clock, e.doc.modified_ms);
        let e = e.clone();
        if to == "accepted" {
            events.push(Event { event: "estimate.accepted", key: "estimate", body: estimate_json(org, &e, clock) });
        }
        Ok(done(message))
    })
}

async fn mark_sent(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change(&state, q, &id, "sent", &["draft"], "Estimate status has been changed to Sent.")
}

async fn mark_accepted(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change(&state, q, &id, "accepted", &["sent", "declined"], "Estimate status has been changed to Accepted.")
}

async fn mark_declined(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    change(&state, q, &id, "declined", &["sent", "accepted"], "Estimate status has been changed to Declined.")
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["created_time", "estimate_number", "date", "customer_name", "total", "last_modified_time"])?;
    let status = status_filter(
        &q,
        &[
            "draft",
            "pending_approval",
            "approved",
            "sent",
            "invoiced",
            "accepted",
            "declined",
            "expired",
            "viewed",
            "signed",
            "rejected",
            "partially_invoiced",
            "pending_signature",
        ],
        &["draft", "sent", "invoiced", "accepted", "declined", "expired"],
    )?;
    let number = text_filter(&q, "estimate_number");
    let reference = text_filter(&q, "reference_number");
    let customer = q.get("customer_id").map(str::to_string);
    let zcrm = q.get("zcrm_potential_id").map(str::to_string);
    let date = date_filter(&q, "date")?;
    let since = modified_since(&q)?;
    with_org(&state, &q, |org, clock, _| {
        let rows: Vec<&Estimate> = org
            .estimates
            .values()
            .filter(|e| status.as_ref().is_none_or(|s| &e.status == s))
            .filter(|e| number.as_ref().is_none_or(|f| f(&e.estimate_number)))
            .filter(|e| reference.as_ref().is_none_or(|f| f(&e.doc.reference_number)))
            .filter(|e| customer.as_ref().is_none_or(|c| &e.doc.customer_id == c))
            .filter(|e| zcrm.as_ref().is_none_or(|z| &e.doc.zcrm_potential_id == z))
            .filter(|e| date(&e.doc.date))
            .filter(|e| since.is_none_or(|t| e.doc.modified_ms >= t))
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "estimate_number" => a.estimate_number.cmp(&b.estimate_number),
                "date" => a.doc.date.cmp(&b.doc.date),
                "total" => a.doc.total.cmp(&b.doc.total),
                "last_modified_time" => a.doc.modified_ms.cmp(&b.doc.modified_ms),
                _ => a.doc.created_ms.cmp(&b.doc.created_ms),
            }
            .then_with(|| a.estimate_id.cmp(&b.estimate_id))
        });
        let rows: Vec<Value> = page
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("estimate_id".into(), e.estimate_id.clone().into());
                m.insert("estimate_number".into(), e.estimate_number.clone().into());
                m.insert("status".into(), e.status.clone().into());
                m.insert("expiry_date".into(), e.expiry_date.clone().into());
                document::row_into(org, &e.doc, clock, &mut m);
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("estimates".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Estimates", q.get("filter_by").unwrap_or("Status.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
