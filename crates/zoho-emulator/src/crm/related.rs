//! Related lists: the products of a deal and of a price book.
//!
//! `GET /Deals/{id}/Products` lists the deal's products with the `quantity` and
//! `list_price` agreed on the deal; `GET /Price_Books/{id}/Products` lists products with
//! their `list_price` in that book. `PUT` on the same path relates products (or changes
//! their price and quantity).

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    crm::{
        list, money, reply,
        store::{ProductLink, parse_id},
    },
    errors::crm_error,
    state::AppState,
};

fn check(module: &str, related: &str) -> Result<&'static str, Response> {
    let module = reply::module(module)?;
    if !matches!(module.api_name, "Deals" | "Price_Books") || !related.eq_ignore_ascii_case("Products") {
        return Err(crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "the related list given seems to be invalid", json!({"resource_path_index": 2})));
    }
    Ok(module.api_name)
}

/// `GET /{module}/{id}/Products`.
pub async fn list(State(state): State<AppState>, Path((module, id, related)): Path<(String, String, String)>, RawQuery(query): RawQuery) -> Response {
    let module = match check(&module, &related) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let params = reply::params(query.as_deref());
    let fields = match list::fields_param(&params, false) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let world = state.world();
    let Some(record_id) = id.parse::<u64>().ok().filter(|n| world.crm.record(module, *n).is_some()) else {
        drop(world);
        return list::invalid_id(&id);
    };
    let links = world.crm.modules.get(module).and_then(|m| m.products.get(&record_id)).cloned().unwrap_or_default();
    let rows: Vec<Value> = links
        .iter()
        .filter_map(|link| {
            let product = world.crm.record("Products", link.product_id)?;
            let mut row = if fields.is_empty() { Value::Object(product.fields.clone()) } else { reply::project(&product.fields, &fields) };
            if let Some(p) = link.list_price.as_deref().and_then(|p| money::dec(&json!(p))) {
                row["list_price"] = money::num(p);
            }
            if let Some(q) = link.quantity.as_deref().and_then(|q| money::dec(&json!(q))) {
                row["quantity"] = money::num(q);
            }
            Some(row)
        })
        .collect();
    drop(world);
    if rows.is_empty() {
        return reply::empty(StatusCode::NO_CONTENT);
    }
    let info = json!({"per_page": 200, "count": rows.len(), "page": 1, "more_records": false});
    reply::page(rows, info)
}

/// `PUT /{module}/{id}/Products` with `{"data":[{"id":product, "list_price":…, "quantity":…}]}`.
pub async fn relate(State(state): State<AppState>, Path((module, id, related)): Path<(String, String, String)>, body: Bytes) -> Response {
    let module = match check(&module, &related) {
        Ok(m) => m,
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
        return list::invalid_id(&id);
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
        let links = world.crm.module_mut(module).products.entry(record_id).or_default();
        match links.iter_mut().find(|l| l.product_id == product) {
            Some(l) => {
                l.list_price = decimal("list_price").or(l.list_price.take());
                l.quantity = decimal("quantity").or(l.quantity.take());
            }
            None => links.push(ProductLink { product_id: product, quantity: decimal("quantity"), list_price: decimal("list_price") }),
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
