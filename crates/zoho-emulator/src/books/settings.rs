//! Organisation-level settings: organisations, the current user, taxes and tax groups,
//! currencies and exchange rates, templates. Documents look taxes and currencies up here.

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope, money},
    common::{Paging, stamp, unknown_org, with_org},
    store::{Currency, ExchangeRate, Org, Tax, TaxGroup},
    totals::LineTax,
};
use crate::state::AppState;

/// Settings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(list_organizations))
        .route("/organizations/{id}", get(get_organization))
        .route("/users/me", get(current_user))
        .route("/settings/taxes", get(list_taxes).post(create_tax))
        .route("/settings/taxes/{id}", get(get_tax).delete(delete_tax))
        .route("/settings/taxgroups", post(create_tax_group))
        .route("/settings/taxgroups/{id}", get(get_tax_group).delete(delete_tax_group))
        .route("/settings/currencies", get(list_currencies))
        .route("/settings/currencies/{id}", get(get_currency))
        .route("/settings/currencies/{id}/exchangerates", get(list_rates).post(add_rate))
        .route("/invoices/templates", get(invoice_templates))
        .route("/estimates/templates", get(estimate_templates))
        .route("/creditnotes/templates", get(creditnote_templates))
}

/// The taxes a `tax_id` (plain tax or group) puts on a line.
pub fn line_taxes(org: &Org, tax_id: &str) -> Result<Vec<LineTax>, BooksError> {
    if tax_id.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(t) = org.taxes.get(tax_id) {
        return Ok(vec![LineTax { tax_id: t.tax_id.clone(), tax_name: t.tax_name.clone(), percentage: t.tax_percentage }]);
    }
    if let Some(g) = org.tax_groups.get(tax_id) {
        return Ok(g
            .taxes
            .iter()
            .filter_map(|id| org.taxes.get(id))
            .map(|t| LineTax { tax_id: t.tax_id.clone(), tax_name: t.tax_name.clone(), percentage: t.tax_percentage })
            .collect());
    }
    Err(BooksError::invalid("tax_id"))
}

/// `(tax_name, tax_type, tax_percentage)` for a tax or group id.
pub fn tax_label(org: &Org, tax_id: &str) -> (String, &'static str, Decimal) {
    if let Some(t) = org.taxes.get(tax_id) {
        return (t.tax_name.clone(), "tax", t.tax_percentage);
    }
    if let Some(g) = org.tax_groups.get(tax_id) {
        return (g.tax_group_name.clone(), "tax_group", group_percentage(org, g));
    }
    (String::new(), "", Decimal::ZERO)
}

fn group_percentage(org: &Org, g: &TaxGroup) -> Decimal {
    g.taxes.iter().filter_map(|id| org.taxes.get(id)).map(|t| t.tax_percentage).sum()
}

/// An organisation as `GET /organizations` shows it.
pub fn organization_json(org: &Org, is_default: bool) -> Value {
    let p = &org.profile;
    let base = org.base_currency();
    json!({
        "organization_id": p.organization_id,
        "name": p.name,
        "contact_name": p.contact_name,
        "email": p.email,
        "is_default_org": is_default,
        "plan_type": 13,
        "tax_group_enabled": true,
        "zi_migration_status": 0,
        "plan_name": p.plan_name,
        "plan_period": "yearly",
        "language_code": "en",
        "fiscal_year_start_month": 0,
        "account_created_date": p.account_created_date,
        "account_created_date_formatted": p.account_created_date,
        "time_zone": p.time_zone,
        "is_org_active": true,
        "currency_id": p.currency_id,
        "currency_code": base.map(|c| c.currency_code.as_str()).unwrap_or("USD"),
        "currency_symbol": base.map(|c| c.currency_symbol.as_str()).unwrap_or("$"),
        "currency_format": base.map(|c| c.currency_format.as_str()).unwrap_or("1,234,567.89"),
        "price_precision": base.map(|c| c.price_precision).unwrap_or(2),
    })
}

async fn list_organizations(State(state): State<AppState>) -> BooksResult {
    let world = state.world();
    let orgs: Vec<Value> = world.books.orgs.values().enumerate().map(|(i, o)| organization_json(o, i == 0)).collect();
    Ok(envelope(StatusCode::OK, "success", "organizations", Value::Array(orgs)))
}

async fn get_organization(State(state): State<AppState>, Path(id): Path<String>) -> BooksResult {
    let world = state.world();
    let first = world.books.orgs.keys().next().cloned();
    let org = world.books.orgs.get(&id).ok_or_else(unknown_org)?;
    Ok(envelope(StatusCode::OK, "success", "organization", organization_json(org, first.as_deref() == Some(id.as_str()))))
}

async fn current_user(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let u = &org.user;
        Ok(envelope(
            StatusCode::OK,
            "success",
            "user",
            json!({
                "user_id": u.user_id,
                "name": u.name,
                "email": u.email,
                "email_ids": [{"email": u.email, "is_selected": true}],
                "status": "active",
                "user_role": "admin",
                "user_type": "zoho",
                "role_id": org.profile.organization_id,
                "cost_rate": 0,
                "photo_url": "",
                "is_employee": false,
                "created_time": stamp(clock, u.created_ms),
            }),
        ))
    })
}

fn tax_json(t: &Tax) -> Value {
    json!({
        "tax_id": t.tax_id,
        "tax_name": t.tax_name,
        "tax_percentage": money(t.tax_percentage),
        "tax_type": t.tax_type,
        "tax_factor": "rate",
        "tax_specific_type": "",
        "tax_authority_id": "",
        "tax_authority_name": "",
        "is_value_added": t.tax_name.contains("VAT"),
        "is_default_tax": t.is_default_tax,
        "is_editable": true,
    })
}

fn group_json(org: &Org, g: &TaxGroup) -> Value {
    json!({
        "tax_group_id": g.tax_group_id,
        "tax_group_name": g.tax_group_name,
        "tax_group_percentage": money(group_percentage(org, g)),
        "taxes": g.taxes.iter().filter_map(|id| org.taxes.get(id)).map(|t| json!({
            "tax_id": t.tax_id, "tax_name": t.tax_name, "tax_percentage": money(t.tax_percentage),
            "tax_type": "tax", "tax_factor": "rate", "tax_authority_id": "", "tax_authority_name": "",
        })).collect::<Vec<_>>(),
    })
}

async fn list_taxes(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["tax_name", "tax_percentage"])?;
    with_org(&state, &q, |org, _, _| {
        let mut rows: Vec<Value> = org.taxes.values().map(tax_json).collect();
        rows.extend(org.tax_groups.values().map(|g| {
            json!({
                "tax_id": g.tax_group_id, "tax_name": g.tax_group_name,
                "tax_percentage": money(group_percentage(org, g)), "tax_type": "tax_group",
                "is_default_tax": false, "is_editable": true,
            })
        }));
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| match col.as_str() {
            "tax_percentage" => a["tax_percentage"].as_f64().partial_cmp(&b["tax_percentage"].as_f64()).unwrap_or(std::cmp::Ordering::Equal),
            _ => a["tax_name"].as_str().cmp(&b["tax_name"].as_str()),
        });
        let mut resp = serde_json::Map::new();
        resp.insert("code".into(), 0.into());
        resp.insert("message".into(), "success".into());
        resp.insert("taxes".into(), Value::Array(page));
        resp.insert("page_context".into(), paging.context(more, "Taxes", "Status.All"));
        Ok((StatusCode::OK, axum::Json(Value::Object(resp))).into_response())
    })
}

use axum::response::IntoResponse;

async fn create_tax(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let name = b.req_str("tax_name")?;
    let pct = b.opt_decimal("tax_percentage")?.ok_or_else(|| BooksError::missing("tax_percentage"))?;
    if pct.is_sign_negative() || pct > Decimal::ONE_HUNDRED {
        return Err(BooksError::invalid("tax_percentage"));
    }
    let tax_type = b.opt_str("tax_type")?.unwrap_or_else(|| "tax".into());
    with_org(&state, &q, |org, _, _| {
        if org.taxes.values().any(|t| t.tax_name.eq_ignore_ascii_case(&name)) {
            return Err(BooksError::duplicate(format!("The tax \"{name}\" already exists.")));
        }
        let tax = Tax { tax_id: org.new_id(), tax_name: name, tax_percentage: pct, tax_type, is_default_tax: false };
        let out = tax_json(&tax);
        org.taxes.insert(tax.tax_id.clone(), tax);
        // The spec types `tax` here as an array of taxes.
        Ok(envelope(StatusCode::CREATED, "The tax has been added.", "tax", Value::Array(vec![out])))
    })
}

async fn get_tax(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let t = org.taxes.get(&id).ok_or_else(|| BooksError::not_found("Tax"))?;
        // taxes.yml types `tax` in this answer as an array, as for create.
        Ok(envelope(StatusCode::OK, "success", "tax", Value::Array(vec![tax_json(t)])))
    })
}

async fn delete_tax(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        if org.taxes.remove(&id).is_none() {
            return Err(BooksError::not_found("Tax"));
        }
        for g in org.tax_groups.values_mut() {
            g.taxes.retain(|t| t != &id);
        }
        Ok(done("The record has been deleted."))
    })
}

async fn create_tax_group(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let name = b.req_str("tax_group_name")?;
    let ids: Vec<String> = b.req_str("taxes")?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    with_org(&state, &q, |org, _, _| {
        if ids.is_empty() || ids.iter().any(|id| !org.taxes.contains_key(id)) {
            return Err(BooksError::invalid("taxes"));
        }
        let g = TaxGroup { tax_group_id: org.new_id(), tax_group_name: name, taxes: ids };
        let out = group_json(org, &g);
        org.tax_groups.insert(g.tax_group_id.clone(), g);
        Ok(envelope(StatusCode::CREATED, "The tax group has been created.", "tax_group", out))
    })
}

async fn get_tax_group(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let g = org.tax_groups.get(&id).ok_or_else(|| BooksError::not_found("Tax group"))?;
        Ok(envelope(StatusCode::OK, "success", "tax_group", group_json(org, g)))
    })
}

async fn delete_tax_group(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        org.tax_groups.remove(&id).ok_or_else(|| BooksError::not_found("Tax group"))?;
        Ok(done("The tax group has been deleted."))
    })
}

/// A currency as `/settings/currencies` shows it.
pub fn currency_json(c: &Currency) -> Value {
    let (rate, date) = c.current_rate();
    json!({
        "currency_id": c.currency_id,
        "currency_code": c.currency_code,
        "currency_name": c.currency_name,
        "currency_symbol": c.currency_symbol,
        "price_precision": c.price_precision,
        "currency_format": c.currency_format,
        "is_base_currency": c.is_base_currency,
        "exchange_rate": money(rate),
        "effective_date": date,
    })
}

async fn list_currencies(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let exclude_base = match q.get("filter_by") {
        None | Some("Currencies.All") => false,
        Some("Currencies.ExcludeBaseCurrency") => true,
        Some(_) => return Err(BooksError::invalid("filter_by")),
    };
    let paging = Paging::read(&q, &["currency_code"])?;
    with_org(&state, &q, |org, _, _| {
        let rows: Vec<Value> = org.currencies.values().filter(|c| !(exclude_base && c.is_base_currency)).map(currency_json).collect();
        let (page, more) = paging.cut(rows, |_, _| std::cmp::Ordering::Equal);
        let mut m = serde_json::Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("currencies".into(), Value::Array(page));
        m.insert("page_context".into(), paging.context(more, "Currencies", q.get("filter_by").unwrap_or("Currencies.All")));
        Ok((StatusCode::OK, axum::Json(Value::Object(m))).into_response())
    })
}

async fn get_currency(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let c = org.currencies.get(&id).ok_or_else(|| BooksError::not_found("Currency"))?;
        Ok(envelope(StatusCode::OK, "success", "currency", currency_json(c)))
    })
}

async fn list_rates(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        let c = org.currencies.get(&id).ok_or_else(|| BooksError::not_found("Currency"))?;
        let rates: Vec<Value> = c
            .rates
            .iter()
            .rev()
            .map(|r| {
                json!({
                    "exchange_rate_id": r.exchange_rate_id, "currency_id": c.currency_id,
                    "currency_code": c.currency_code, "effective_date": r.effective_date, "rate": money(r.rate),
                })
            })
            .collect();
        Ok(envelope(StatusCode::OK, "success", "exchange_rates", Value::Array(rates)))
    })
}

async fn add_rate(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let rate = b.opt_decimal("rate")?.ok_or_else(|| BooksError::missing("rate"))?;
    if rate <= Decimal::ZERO {
        return Err(BooksError::invalid("rate"));
    }
    with_org(&state, &q, |org, clock, _| {
        let date = b.opt_date("effective_date")?.unwrap_or_else(|| clock.today());
        let rate_id = org.new_id();
        let c = org.currencies.get_mut(&id).ok_or_else(|| BooksError::not_found("Currency"))?;
        if c.is_base_currency {
            return Err(BooksError::not_allowed("Exchange rates cannot be set for the base currency."));
        }
        c.rates.push(ExchangeRate { exchange_rate_id: rate_id, effective_date: date, rate });
        c.rates.sort_by(|a, b| a.effective_date.cmp(&b.effective_date));
        Ok(envelope(StatusCode::CREATED, "The exchange rate has been added.", "exchange_rate", money(rate)))
    })
}

fn templates(state: &AppState, q: Option<String>, entity: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, _, _| {
        let rows: Vec<Value> = org
            .templates
            .iter()
            .filter(|t| t.entity == entity)
            .map(|t| json!({"template_id": t.template_id, "template_name": t.template_name, "template_type": t.template_type}))
            .collect();
        Ok(envelope(StatusCode::OK, "success", "templates", Value::Array(rows)))
    })
}

async fn invoice_templates(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    templates(&state, q, "invoices")
}

async fn estimate_templates(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    templates(&state, q, "estimates")
}

async fn creditnote_templates(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    templates(&state, q, "creditnotes")
}
