//! Tax exemptions (`/settings/taxexemptions`, taxes.yml): list, create, get, update, delete.
//!
//! Why it exists: the order-to-cash tax rules can pick an exemption (EU reverse charge, an
//! exempt organisation) instead of a tax; an invoice or credit note carrying a known
//! `tax_exemption_id` then has untaxed lines (see `document::apply`). Each exemption has a
//! code, a description (the reason printed on the document) and a `type`, `customer` or
//! `item`. Messages are taxes.yml's examples; an unknown id is 1002 "Tax exemption does not
//! exist.", a code already used is 1001.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use serde_json::{Map, Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope},
    common::with_org,
    store::{Org, TaxExemption},
};
use crate::state::AppState;

/// Tax exemption routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/settings/taxexemptions", get(list).post(create)).route("/settings/taxexemptions/{id}", get(read).put(update).delete(remove))
}

/// An exemption as taxes.yml shows it.
pub fn exemption_json(e: &TaxExemption) -> Value {
    json!({
        "tax_exemption_id": e.tax_exemption_id,
        "tax_exemption_code": e.tax_exemption_code,
        "description": e.description,
        "type": e.kind,
    })
}

/// Reads code, description and type from a body into `e` (all three required on create,
/// code and type on update as taxes.yml says).
fn apply(org: &Org, b: &Map<String, Value>, e: &mut TaxExemption) -> Result<(), BooksError> {
    let code = b.req_str("tax_exemption_code")?;
    let kind = b.req_str("type")?;
    if !matches!(kind.as_str(), "customer" | "item") {
        return Err(BooksError::invalid("type"));
    }
    if org.tax_exemptions.values().any(|x| x.tax_exemption_id != e.tax_exemption_id && x.tax_exemption_code.eq_ignore_ascii_case(&code)) {
        return Err(BooksError::duplicate(format!("The tax exemption code \"{code}\" already exists.")));
    }
    e.tax_exemption_code = code;
    e.kind = kind;
    if let Some(d) = b.opt_str("description")? {
        e.description = d;
    }
    Ok(())
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let rows: Vec<Value> = org.tax_exemptions.values().map(exemption_json).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("tax_exemptions".into(), Value::Array(rows));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, _, _| {
        let mut e = TaxExemption::default();
        apply(org, &b, &mut e)?;
        e.tax_exemption_id = org.new_id();
        let out = exemption_json(&e);
        org.tax_exemptions.insert(e.tax_exemption_id.clone(), e);
        // taxes.yml documents 200 (not 201) for this create.
        Ok(envelope(StatusCode::OK, "Tax Exemption has been added.", "tax_exemption", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let e = org.tax_exemptions.get(&id).ok_or_else(|| BooksError::not_found("Tax exemption"))?;
        Ok(envelope(StatusCode::OK, "success", "tax_exemption", exemption_json(e)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, _, _| {
        let mut e = org.tax_exemptions.get(&id).cloned().ok_or_else(|| BooksError::not_found("Tax exemption"))?;
        apply(org, &b, &mut e)?;
        let out = exemption_json(&e);
        org.tax_exemptions.insert(id.clone(), e);
        Ok(envelope(StatusCode::OK, "Tax Exemption has been updated.", "tax_exemption", out))
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let used = org.invoices.values().any(|i| i.doc.tax_exemption_id == id) || org.creditnotes.values().any(|n| n.doc.tax_exemption_id == id);
        if !org.tax_exemptions.contains_key(&id) {
            return Err(BooksError::not_found("Tax exemption"));
        }
        if used {
            return Err(BooksError::not_allowed("The tax exemption is used in transactions and cannot be deleted."));
        }
        org.tax_exemptions.remove(&id);
        Ok(done("Tax exemption has been deleted successfully."))
    })
}
