//! Price lists (`/pricebooks`): list, read, create, update, delete, active/inactive.
//!
//! Books' price lists change an item's selling (or purchase) rate for the customers they
//! are given to: either every item by a percentage (`fixed_percentage`, `percentage` with
//! `is_increase` for a markup or a markdown) or item by item (`per_item`,
//! `pricebook_items[{item_id, pricebook_rate}]`, or quantity brackets with
//! `pricing_scheme` `volume`). Fields and messages follow Zoho's `pricelists.yml`; the
//! name is unique per organisation. `GET /pricebooks/{id}` is not in the file but the
//! Books API answers it like every other entity (the sync engine reads a list back by id).

use std::collections::BTreeSet;

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
    common::{Paging, stamp, touch, with_org},
    store::{Org, PriceBracket, PriceList, PriceListItem},
};
use crate::{clock::Clock, state::AppState};

/// Price list routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pricebooks", get(list).post(create))
        .route("/pricebooks/{id}", get(read).put(update).delete(remove))
        .route("/pricebooks/{id}/active", post(mark_active))
        .route("/pricebooks/{id}/inactive", post(mark_inactive))
}

/// The rounding types the file allows (`round_to_dollor` is Books' own spelling).
const ROUNDING: &[&str] = &["no_rounding", "round_to_dollor", "round_to_dollar_minus_01", "round_to_half_dollar", "round_to_half_dollar_minus_01"];

/// A discount as Books takes it: a percentage with its sign, `"5%"`, `"10.5%"`.
fn read_discount(b: &Map<String, Value>) -> Result<String, BooksError> {
    let Some(d) = b.opt_str("pricebook_discount")? else { return Ok(String::new()) };
    let d = d.trim().to_string();
    if d.is_empty() {
        return Ok(d);
    }
    let pct = d.strip_suffix('%').and_then(body::decimal_from_text).ok_or_else(|| BooksError::invalid("pricebook_discount"))?;
    if pct.is_sign_negative() || pct > Decimal::ONE_HUNDRED {
        return Err(BooksError::invalid("pricebook_discount"));
    }
    Ok(d)
}

/// A rate that must not be negative.
fn read_rate(b: &Map<String, Value>, key: &str) -> Result<Option<Decimal>, BooksError> {
    match b.opt_decimal(key)? {
        Some(r) if r.is_sign_negative() => Err(BooksError::invalid(key)),
        other => Ok(other),
    }
}

/// The volume brackets of one item: each `start_quantity ≤ end_quantity` (0 = open end,
/// last only), rate given, no overlap.
fn read_brackets(org: &mut Org, b: &Map<String, Value>) -> Result<Vec<PriceBracket>, BooksError> {
    let given = b.opt_objects("price_brackets")?.unwrap_or_default();
    if given.is_empty() {
        return Err(BooksError::missing("price_brackets"));
    }
    let mut out: Vec<PriceBracket> = Vec::with_capacity(given.len());
    for (n, br) in given.iter().enumerate() {
        let start = br.opt_decimal("start_quantity")?.ok_or_else(|| BooksError::missing("start_quantity"))?;
        let end = br.opt_decimal("end_quantity")?.unwrap_or_default();
        let rate = read_rate(br, "pricebook_rate")?.ok_or_else(|| BooksError::missing("pricebook_rate"))?;
        let open_end = end.is_zero();
        if start.is_sign_negative() || (!open_end && end < start) || (open_end && n + 1 != given.len()) {
            return Err(BooksError::invalid("price_brackets"));
        }
        if let Some(prev) = out.last()
            && (prev.end_quantity.is_zero() || start <= prev.end_quantity)
        {
            return Err(BooksError::invalid("price_brackets"));
        }
        let id = match br.opt_str("pricebook_item_id")? {
            Some(id) if !id.is_empty() => id,
            _ => org.new_id(),
        };
        out.push(PriceBracket {
            pricebook_item_id: id,
            start_quantity: start,
            end_quantity: end,
            pricebook_rate: rate,
            pricebook_discount: read_discount(br)?,
        });
    }
    Ok(out)
}

/// The `pricebook_items` of a `per_item` list: each names an existing item once, with a
/// rate (unit pricing) or brackets (volume pricing). Line ids sent back are kept.
fn read_items(org: &mut Org, b: &Map<String, Value>, scheme: &str, old: &[PriceListItem]) -> Result<Vec<PriceListItem>, BooksError> {
    let given = b.opt_objects("pricebook_items")?.unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(given.len());
    for line in given {
        let item_id = line.req_str("item_id")?;
        if !org.items.contains_key(&item_id) {
            return Err(BooksError::invalid("item_id"));
        }
        if !seen.insert(item_id.clone()) {
            return Err(BooksError::bad(body::INVALID_VALUE, format!("The item {item_id} is listed more than once in pricebook_items.")));
        }
        let line_scheme = match line.opt_str("pricing_scheme")? {
            None => scheme.to_string(),
            Some(s) if s == "unit" || s == "volume" => s,
            Some(_) => return Err(BooksError::invalid("pricing_scheme")),
        };
        let kept = line.opt_str("pricebook_item_id")?.filter(|id| old.iter().any(|o| &o.pricebook_item_id == id));
        let pricebook_item_id = match kept {
            Some(id) => id,
            None => org.new_id(),
        };
        let (rate, brackets) = if line_scheme == "volume" {
            (Decimal::ZERO, read_brackets(org, line)?)
        } else {
            (read_rate(line, "pricebook_rate")?.ok_or_else(|| BooksError::missing("pricebook_rate"))?, Vec::new())
        };
        out.push(PriceListItem {
            pricebook_item_id,
            item_id,
            pricebook_rate: rate,
            pricebook_discount: read_discount(line)?,
            pricing_scheme: line_scheme,
            price_brackets: brackets,
        });
    }
    Ok(out)
}

/// Applies a create or update body. The file marks `name`, `pricebook_type` and
/// `sales_or_purchase_type` required on both.
fn apply(org: &mut Org, b: &Map<String, Value>, p: &mut PriceList) -> Result<(), BooksError> {
    p.name = b.req_str("name")?.trim().to_string();
    p.pricebook_type = match b.req_str("pricebook_type")?.as_str() {
        t @ ("per_item" | "fixed_percentage") => t.to_string(),
        _ => return Err(BooksError::invalid("pricebook_type")),
    };
    p.sales_or_purchase_type = match b.req_str("sales_or_purchase_type")?.as_str() {
        t @ ("sales" | "purchases") => t.to_string(),
        _ => return Err(BooksError::invalid("sales_or_purchase_type")),
    };
    if let Some(d) = b.opt_str("description")? {
        p.description = d.trim().to_string();
    }
    match b.opt_str("currency_id")? {
        Some(c) if !c.is_empty() => {
            if !org.currencies.contains_key(&c) {
                return Err(BooksError::invalid("currency_id"));
            }
            p.currency_id = c;
        }
        _ if p.currency_id.is_empty() => p.currency_id = org.base_currency().map(|c| c.currency_id.clone()).unwrap_or_default(),
        _ => {}
    }
    if let Some(r) = b.opt_str("rounding_type")? {
        if !ROUNDING.contains(&r.as_str()) {
            return Err(BooksError::invalid("rounding_type"));
        }
        p.rounding_type = r;
    }
    if let Some(d) = b.opt_int("decimal_place")? {
        if !(1..=3).contains(&d) {
            return Err(BooksError::invalid("decimal_place"));
        }
        p.decimal_place = d as u32;
    }
    if let Some(up) = b.opt_bool("is_increase")? {
        p.is_increase = up;
    }
    if p.pricebook_type == "fixed_percentage" {
        let pct = b.opt_decimal("percentage")?.ok_or_else(|| BooksError::missing("percentage"))?;
        // A markdown of more than 100% would make every rate negative.
        if pct.is_sign_negative() || (!p.is_increase && pct > Decimal::ONE_HUNDRED) {
            return Err(BooksError::invalid("percentage"));
        }
        p.percentage = pct;
        p.pricing_scheme = String::new();
        p.items.clear();
    } else {
        p.pricing_scheme = match b.opt_str("pricing_scheme")? {
            None if p.pricing_scheme.is_empty() => "unit".into(),
            None => p.pricing_scheme.clone(),
            Some(s) if s == "unit" || s == "volume" => s,
            Some(_) => return Err(BooksError::invalid("pricing_scheme")),
        };
        p.percentage = Decimal::ZERO;
        if b.contains_key("pricebook_items") || p.items.is_empty() {
            let old = std::mem::take(&mut p.items);
            p.items = read_items(org, b, &p.pricing_scheme.clone(), &old)?;
        }
    }
    Ok(())
}

/// Refuses a name another price list has (case-insensitive).
fn check_name(org: &Org, p: &PriceList) -> Result<(), BooksError> {
    let key = p.name.to_lowercase();
    if org.pricelists.values().any(|o| o.pricebook_id != p.pricebook_id && o.name.to_lowercase() == key) {
        return Err(BooksError::duplicate(format!("Price list with the name \"{}\" already exists.", p.name)));
    }
    Ok(())
}

/// The price list JSON.
pub fn pricelist_json(org: &Org, p: &PriceList, clock: &Clock) -> Value {
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|l| {
            let item = org.items.get(&l.item_id);
            json!({
                "pricebook_item_id": l.pricebook_item_id,
                "item_id": l.item_id,
                "name": item.map(|i| i.name.as_str()).unwrap_or_default(),
                "sku": item.map(|i| i.sku.as_str()).unwrap_or_default(),
                "rate": money(item.map(|i| i.rate).unwrap_or_default()),
                "pricebook_rate": money(l.pricebook_rate),
                "pricebook_discount": l.pricebook_discount,
                "pricing_scheme": l.pricing_scheme,
                "price_brackets": l.price_brackets.iter().map(|b| json!({
                    "pricebook_item_id": b.pricebook_item_id,
                    "start_quantity": money(b.start_quantity),
                    "end_quantity": money(b.end_quantity),
                    "pricebook_rate": money(b.pricebook_rate),
                    "pricebook_discount": b.pricebook_discount,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({
        "pricebook_id": p.pricebook_id,
        "name": p.name,
        "description": p.description,
        "currency_id": p.currency_id,
        "currency_code": org.currencies.get(&p.currency_id).map(|c| c.currency_code.as_str()).unwrap_or_default(),
        "pricebook_type": p.pricebook_type,
        "sales_or_purchase_type": p.sales_or_purchase_type,
        "percentage": money(p.percentage),
        "is_increase": p.is_increase,
        "rounding_type": p.rounding_type,
        "decimal_place": p.decimal_place,
        "is_default": false,
        "status": p.status,
        "pricebook_items": items,
        "created_time": stamp(clock, p.created_ms),
        "last_modified_time": stamp(clock, p.modified_ms),
    });
    if p.pricebook_type == "per_item" {
        out["pricing_scheme"] = json!(p.pricing_scheme);
    }
    out
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, _| {
        let now = clock.now_ms();
        let mut p = PriceList {
            status: "active".into(),
            rounding_type: "no_rounding".into(),
            decimal_place: 2,
            is_increase: true,
            created_ms: now,
            modified_ms: now,
            ..PriceList::default()
        };
        apply(org, &b, &mut p)?;
        check_name(org, &p)?;
        p.pricebook_id = org.new_id();
        let out = pricelist_json(org, &p, clock);
        org.pricelists.insert(p.pricebook_id.clone(), p);
        Ok(envelope(StatusCode::CREATED, "Price list has been created.", "pricebook", out))
    })
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let p = org.pricelists.get(&id).ok_or_else(|| BooksError::not_found("Price list"))?;
        Ok(envelope(StatusCode::OK, "success", "pricebook", pricelist_json(org, p, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, _| {
        let mut p = org.pricelists.get(&id).cloned().ok_or_else(|| BooksError::not_found("Price list"))?;
        apply(org, &b, &mut p)?;
        check_name(org, &p)?;
        p.modified_ms = touch(clock, p.modified_ms);
        let out = pricelist_json(org, &p, clock);
        org.pricelists.insert(id.clone(), p);
        Ok(envelope(StatusCode::OK, "Price list has been updated.", "pricebook", out))
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        org.pricelists.remove(&id).ok_or_else(|| BooksError::not_found("Price list"))?;
        Ok(done("Price list has been deleted."))
    })
}

fn set_status(state: &AppState, q: Option<String>, id: &str, status: &str, message: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, clock, _| {
        let p = org.pricelists.get_mut(id).ok_or_else(|| BooksError::not_found("Price list"))?;
        if p.status != status {
            p.status = status.into();
            p.modified_ms = touch(clock, p.modified_ms);
        }
        Ok(done(message))
    })
}

async fn mark_active(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "active", "The price list has been marked active.")
}

async fn mark_inactive(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "inactive", "The price list has been marked inactive.")
}

/// `GET /pricebooks`: `filter_by` `SalesOrPurchaseType.All|Sales|Purchases`,
/// `search_text` (in the name), paging; sorted by name.
async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["name", "created_time", "last_modified_time"])?;
    let filter = q.get("filter_by").unwrap_or("SalesOrPurchaseType.All");
    let kind = match filter {
        "SalesOrPurchaseType.All" => None,
        "SalesOrPurchaseType.Sales" => Some("sales"),
        "SalesOrPurchaseType.Purchases" => Some("purchases"),
        _ => return Err(BooksError::invalid("filter_by")),
    };
    let search = q.get("search_text").map(str::to_lowercase);
    with_org(&state, &q, |org, clock, _| {
        let rows: Vec<&PriceList> = org
            .pricelists
            .values()
            .filter(|p| kind.is_none_or(|k| p.sales_or_purchase_type == k))
            .filter(|p| search.as_ref().is_none_or(|s| p.name.to_lowercase().contains(s)))
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "created_time" => a.created_ms.cmp(&b.created_ms),
                "last_modified_time" => a.modified_ms.cmp(&b.modified_ms),
                _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            }
            .then_with(|| a.pricebook_id.cmp(&b.pricebook_id))
        });
        let rows: Vec<Value> = page.iter().map(|p| pricelist_json(org, p, clock)).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("pricebooks".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Price Lists", filter));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
