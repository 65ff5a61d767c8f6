//! Related lists: `GET /{module}/{id}/{list}` reads one record's related list, `PUT` relates
//! products to a deal or a price book.
//!
//! Which lists exist and where their records come from is [`crate::crm::relations`]: an
//! account's contacts, deals and quotes (by their `Account_Name` lookup), a deal's products,
//! contact roles and quotes, a product's price books and deals, a price book's products. Rows
//! of product links carry the link's `list_price` and `quantity`. Lists are paged like record
//! lists (`page`, `per_page` 1–200, `info`), honour `If-Modified-Since` (304 when nothing
//! changed) and answer 204 when empty.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Map, Value, json};

use crate::{
    crm::{
        list, money,
        relations::{self, RelatedList, Source},
        reply,
        store::{CrmData, ProductLink, Record, parse_id},
    },
    errors::crm_error,
    state::AppState,
};

/// The module and related list named in the path, or Zoho's refusal.
fn check(module: &str, related: &str) -> Result<&'static RelatedList, Response> {
    let module = reply::module(module)?;
    relations::find(module.api_name, related)
        .ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "The relation name given seems to be invalid", json!({"resource_path_index": 2})))
}

/// A parent record id that names no record. related_records.json lists no "id is invalid"
/// message of its own, so this is its generic `INVALID_DATA` "invalid data", pointing at the id.
fn invalid_parent(id: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"id": id, "resource_path_index": 1}))
}

/// A listed record: its modified time and its row as the answer shows it.
type Row = (i64, Value);

fn row(record: &Record, fields: &[String]) -> Value {
    if fields.is_empty() { Value::Object(record.fields.clone()) } else { reply::project(&record.fields, fields) }
}

/// Adds a product link's `list_price`, `quantity` and (deals) `Discount` to a row.
fn with_link(mut row: Value, link: &ProductLink) -> Value {
    if let Some(d) = link.discount.as_deref().and_then(|d| money::dec(&json!(d))) {
        row["Discount"] = money::num(d);
    }
    if let Some(p) = link.list_price.as_deref().and_then(|p| money::dec(&json!(p))) {
        row["list_price"] = money::num(p);
    }
    if let Some(q) = link.quantity.as_deref().and_then(|q| money::dec(&json!(q))) {
        row["quantity"] = money::num(q);
    }
    row
}

/// The id a lookup field value `{name, id}` points at.
fn lookup_id(fields: &Map<String, Value>, field: &str) -> Option<u64> {
    fields.get(field).and_then(|v| v.get("id")).and_then(parse_id)
}

/// Every record of `list` for the parent record `parent`, in id order.
fn rows(crm: &CrmData, list: &RelatedList, parent: &Record, fields: &[String]) -> Vec<Row> {
    match list.source {
        Source::Lookup { module, field } => crm
            .modules
            .get(module)
            .map(|m| m.records.values().filter(|r| lookup_id(&r.fields, field) == Some(parent.id)).map(|r| (r.modified_ms, row(r, fields))).collect())
            .unwrap_or_default(),
        Source::LinkedProducts => crm
            .modules
            .get(list.parent)
            .and_then(|m| m.products.get(&parent.id))
            .map(|links| {
                links.iter().filter_map(|link| crm.record("Products", link.product_id).map(|p| (p.modified_ms, with_link(row(p, fields), link)))).collect()
            })
            .unwrap_or_default(),
        Source::Linking { module } => crm
            .modules
            .get(module)
            .map(|m| {
                m.products
                    .iter()
                    .filter_map(|(id, links)| {
                        let link = links.iter().find(|l| l.product_id == parent.id)?;
                        let record = m.records.get(id)?;
                        Some((record.modified_ms, with_link(row(record, fields), link)))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Source::DealContact => lookup_id(&parent.fields, "Contact_Name")
            .and_then(|id| crm.record("Contacts", id))
            .map(|c| {
                let mut r = row(c, fields);
                r["Contact_Role"] = Value::Null;
                vec![(c.modified_ms, r)]
            })
            .unwrap_or_default(),
    }
}

/// `GET /{module}/{id}/{related_list}?fields=…&page=…&per_page=…`, with `If-Modified-Since`.
pub async fn list(
    State(state): State<AppState>,
    Path((module, id, related)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match list_inner(&state, &module, &id, &related, &reply::params(query.as_deref()), &headers) {
        Ok(r) | Err(r) => r,
    }
}

fn list_inner(state: &AppState, module: &str, id: &str, related: &str, params: &reply::Params, headers: &HeaderMap) -> Result<Response, Response> {
    let list = check(module, related)?;
    let fields = list::fields_param(params, false)?;
    let per_page = reply::int_param(params, "per_page", 200, 1, 200)? as usize;
    let page = reply::int_param(params, "page", 1, 1, 100_000)? as usize;
    let ims = reply::time_header(headers, "If-Modified-Since")?;
    let world = state.world();
    let Some(parent) = id.parse::<u64>().ok().and_then(|n| world.crm.record(list.parent, n)) else {
        drop(world);
        return Err(invalid_parent(id));
    };
    let all = rows(&world.crm, list, parent, &fields);
    drop(world);
    let changed: Vec<Value> = all.into_iter().filter(|(modified, _)| ims.is_none_or(|t| *modified > t)).map(|(_, row)| row).collect();
    if changed.is_empty() {
        let status = if ims.is_some() { StatusCode::NOT_MODIFIED } else { StatusCode::NO_CONTENT };
        return Ok(reply::empty(status));
    }
    let more = changed.len() > page.saturating_mul(per_page);
    let rows: Vec<Value> = changed.into_iter().skip((page - 1).saturating_mul(per_page)).take(per_page).collect();
    if rows.is_empty() {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    }
    let info = json!({"per_page": per_page, "count": rows.len(), "page": page, "more_records": more});
    Ok(reply::page(rows, info))
}

/// `PUT /{module}/{id}/Products` with `{"data":[{"id":product, "list_price":…, "quantity":…}]}`
/// (and, on a deal, the line's `Discount`: an amount, not negative).
pub async fn relate(State(state): State<AppState>, Path((module, id, related)): Path<(String, String, String)>, body: Bytes) -> Response {
    // Only product links are written here; the other lists follow a lookup of the listed record.
    let module = match check(&module, &related) {
        Ok(list) if list.source == Source::LinkedProducts => list.parent,
        Ok(_) => {
            return crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "The relation name given seems to be invalid", json!({"resource_path_index": 2}));
        }
        Err(r) => return r,
    };
    let body = match reply::body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(items) = body.get("data").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return crm_error(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "data", "json_path": "$.data"}));
    };
    let mut world = state.world();
    let Some(record_id) = id.parse::<u64>().ok().filter(|n| world.crm.record(module, *n).is_some()) else {
        drop(world);
        return invalid_parent(&id);
    };
    let mut entries = Vec::new();
    let mut ok = 0;
    for item in items {
        let product = item.get("id").and_then(parse_id).filter(|p| world.crm.record("Products", *p).is_some());
        let Some(product) = product else {
            entries.push(json!({"code": "INVALID_DATA", "details": {"id": item.get("id").cloned().unwrap_or(Value::Null)},
                "message": "the related id given seems to be invalid", "status": "error"}));
            continue;
        };
        let decimal = |k: &str| item.get(k).and_then(money::dec).map(|d| d.to_string());
        let discount = if module == "Deals" { item.get("Discount").or(item.get("discount")) } else { None };
        let discount = match discount.filter(|d| !d.is_null()) {
            None => None,
            Some(d) => match money::dec(d).filter(|d| !d.is_sign_negative()) {
                Some(d) => Some(d.to_string()),
                None => {
                    entries.push(json!({"code": "INVALID_DATA", "details": {"api_name": "Discount", "id": product.to_string()},
                        "message": "invalid data", "status": "error"}));
                    continue;
                }
            },
        };
        let links = world.crm.module_mut(module).products.entry(record_id).or_default();
        match links.iter_mut().find(|l| l.product_id == product) {
            Some(l) => {
                l.list_price = decimal("list_price").or(l.list_price.take());
                l.quantity = decimal("quantity").or(l.quantity.take());
                l.discount = discount.or(l.discount.take());
            }
            None => links.push(ProductLink { product_id: product, quantity: decimal("quantity"), list_price: decimal("list_price"), discount }),
        }
        ok += 1;
        entries.push(json!({"code": "SUCCESS", "details": {"id": product.to_string()}, "message": "relation added", "status": "success"}));
    }
    drop(world);
    let status = if ok == entries.len() {
        StatusCode::OK
    } else if ok == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::MULTI_STATUS
    };
    reply::json(status, json!({"data": entries}))
}
