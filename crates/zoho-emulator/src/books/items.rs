//! Items (`/items`): CRUD, unique SKU, active/inactive, list filters, and upsert by a
//! unique custom field (`PUT /items` with `X-Unique-Identifier-Key/-Value`, `X-Upsert`).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::{
    body::{self, BooksError, BooksResult, Fields, Query, done, envelope, money},
    common::{
        Paging, check_unique_custom, custom_fields_json, holder_of, read_custom_fields, stamp, text_filter, touch, unique_field, upsert_body, upsert_headers,
        with_org,
    },
    settings::tax_label,
    store::{Event, Item, Org},
};
use crate::{clock::Clock, state::AppState};

/// Item routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/items", get(list).post(create).put(upsert))
        .route("/items/{id}", get(read).put(update).delete(remove))
        .route("/items/{id}/active", post(mark_active))
        .route("/items/{id}/inactive", post(mark_inactive))
}

/// The item JSON.
pub fn item_json(org: &Org, i: &Item, clock: &Clock) -> Value {
    let (tax_name, tax_type, pct) = tax_label(org, &i.tax_id);
    json!({
        "item_id": i.item_id,
        "name": i.name,
        "status": i.status,
        "description": i.description,
        "rate": money(i.rate),
        "unit": i.unit,
        "tax_id": i.tax_id,
        "tax_name": tax_name,
        "tax_percentage": pct.normalize().to_string(),
        "tax_type": tax_type,
        "sku": i.sku,
        "product_type": i.product_type,
        "item_type": i.item_type,
        "purchase_rate": money(i.purchase_rate),
        "custom_fields": custom_fields_json(org, &i.custom_fields),
        "created_time": stamp(clock, i.created_ms),
        "last_modified_time": stamp(clock, i.modified_ms),
    })
}

fn apply(org: &Org, b: &Map<String, Value>, i: &mut Item, creating: bool) -> Result<(), BooksError> {
    if creating || b.contains_key("name") {
        i.name = b.req_str("name")?;
    }
    match b.opt_decimal("rate")? {
        Some(r) if r.is_sign_negative() => return Err(BooksError::invalid("rate")),
        Some(r) => i.rate = r,
        None if creating => return Err(BooksError::missing("rate")),
        None => {}
    }
    if let Some(r) = b.opt_decimal("purchase_rate")? {
        i.purchase_rate = r;
    }
    for (name, slot) in [("description", &mut i.description), ("unit", &mut i.unit), ("sku", &mut i.sku)] {
        if let Some(v) = b.opt_str(name)? {
            *slot = v.trim().to_string();
        }
    }
    if let Some(v) = b.opt_str("product_type")? {
        if !matches!(v.as_str(), "goods" | "service" | "digital_service") {
            return Err(BooksError::invalid("product_type"));
        }
        i.product_type = v;
    }
    if let Some(v) = b.opt_str("item_type")? {
        if !matches!(v.as_str(), "sales" | "purchases" | "sales_and_purchases" | "inventory") {
            return Err(BooksError::invalid("item_type"));
        }
        i.item_type = v;
    }
    if let Some(t) = b.opt_str("tax_id")? {
        if !t.is_empty() && !org.taxes.contains_key(&t) && !org.tax_groups.contains_key(&t) {
            return Err(BooksError::invalid("tax_id"));
        }
        i.tax_id = t;
    }
    read_custom_fields(org, "items", b, &mut i.custom_fields)
}

fn store(org: &mut Org, i: Item) -> Result<(), BooksError> {
    let key = i.sku.to_lowercase();
    if !key.is_empty()
        && let Some(owner) = org.skus.get(&key)
        && owner != &i.item_id
    {
        return Err(BooksError::duplicate(format!("An item with the SKU \"{}\" already exists.", i.sku)));
    }
    check_unique_custom(org, "items", &i.custom_fields, Some(&i.item_id))?;
    if let Some(old) = org.items.get(&i.item_id) {
        let old_key = old.sku.to_lowercase();
        if old_key != key {
            org.skus.remove(&old_key);
        }
    }
    if !key.is_empty() {
        org.skus.insert(key, i.item_id.clone());
    }
    org.put_item(i);
    Ok(())
}

/// Creates an item from a body.
pub fn create_item(org: &mut Org, clock: &Clock, b: &Map<String, Value>) -> Result<Item, BooksError> {
    let now = clock.now_ms();
    let mut i = Item { status: "active".into(), product_type: "goods".into(), item_type: "sales".into(), created_ms: now, modified_ms: now, ..Item::default() };
    apply(org, b, &mut i, true)?;
    if !i.sku.is_empty() && org.skus.contains_key(&i.sku.to_lowercase()) {
        return Err(BooksError::duplicate(format!("An item with the SKU \"{}\" already exists.", i.sku)));
    }
    i.item_id = org.new_id();
    store(org, i.clone())?;
    Ok(i)
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let i = create_item(org, clock, &b)?;
        let out = item_json(org, &i, clock);
        events.push(Event { event: "item.created", key: "item", body: out.clone() });
        Ok(envelope(StatusCode::CREATED, ITEM_ADDED, "item", out))
    })
}

fn update_item(org: &mut Org, clock: &Clock, id: &str, b: &Map<String, Value>) -> Result<Item, BooksError> {
    let mut i = org.items.get(id).cloned().ok_or_else(|| BooksError::not_found("Item"))?;
    apply(org, b, &mut i, false)?;
    i.modified_ms = touch(clock, i.modified_ms);
    store(org, i.clone())?;
    Ok(i)
}

async fn read(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, clock, _| {
        let i = org.items.get(&id).ok_or_else(|| BooksError::not_found("Item"))?;
        Ok(envelope(StatusCode::OK, "success", "item", item_json(org, i, clock)))
    })
}

async fn update(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    with_org(&state, &q, |org, clock, events| {
        let i = update_item(org, clock, &id, &b)?;
        let out = item_json(org, &i, clock);
        events.push(Event { event: "item.updated", key: "item", body: out.clone() });
        Ok(envelope(StatusCode::OK, ITEM_UPDATED, "item", out))
    })
}

/// Books' message for an updated item (by id or by upsert).
const ITEM_UPDATED: &str = "The item details have been updated.";
/// Books' message for a created item (by POST or by upsert).
const ITEM_ADDED: &str = "The item has been added.";

/// `PUT /items`: the item whose unique custom field `X-Unique-Identifier-Key` holds
/// `X-Unique-Identifier-Value` is updated; with `X-Upsert: true` and no such item, one is
/// created (the key field set to the value). As for contacts and invoices, the field must
/// be marked unique, and without `X-Upsert` a missing item is 404 code 1002.
async fn upsert(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap, bytes: Bytes) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let b = body::parse(&headers, &bytes)?;
    let (key, value, allow_create) = upsert_headers(&headers)?.ok_or_else(|| BooksError::missing("X-Unique-Identifier-Key"))?;
    with_org(&state, &q, |org, clock, events| {
        let def = unique_field(org, "items", &key)?.clone();
        let found = holder_of(org, "items", &def, &value);
        let b = upsert_body(&b, &def, &value)?;
        match found {
            Some(id) => {
                let i = update_item(org, clock, &id, &b)?;
                let out = item_json(org, &i, clock);
                events.push(Event { event: "item.updated", key: "item", body: out.clone() });
                Ok(envelope(StatusCode::OK, ITEM_UPDATED, "item", out))
            }
            None if allow_create => {
                let i = create_item(org, clock, &b)?;
                let out = item_json(org, &i, clock);
                events.push(Event { event: "item.created", key: "item", body: out.clone() });
                // An upsert answers 200 even when it creates: PUT /items documents only 200.
                Ok(envelope(StatusCode::OK, ITEM_ADDED, "item", out))
            }
            None => Err(BooksError::not_found("Item")),
        }
    })
}

async fn remove(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(&state, &q, |org, _, _| {
        if !org.items.contains_key(&id) {
            return Err(BooksError::not_found("Item"));
        }
        if org.invoices.values().any(|inv| inv.doc.lines.iter().any(|l| l.item_id == id)) {
            return Err(BooksError::not_allowed("The item is used in transactions and cannot be deleted."));
        }
        if let Some(i) = org.remove_item(&id) {
            org.skus.remove(&i.sku.to_lowercase());
        }
        Ok(done("The item has been deleted."))
    })
}

fn set_status(state: &AppState, q: Option<String>, id: &str, status: &str, message: &str) -> BooksResult {
    let q = Query::parse(q.as_deref());
    with_org(state, &q, |org, clock, events| {
        let i = org.items.get_mut(id).ok_or_else(|| BooksError::not_found("Item"))?;
        i.status = status.into();
        i.modified_ms = touch(clock, i.modified_ms);
        let i = i.clone();
        events.push(Event { event: "item.updated", key: "item", body: item_json(org, &i, clock) });
        Ok(done(message))
    })
}

async fn mark_active(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "active", "The item has been marked as active.")
}

async fn mark_inactive(State(state): State<AppState>, RawQuery(q): RawQuery, Path(id): Path<String>) -> BooksResult {
    set_status(&state, q, &id, "inactive", "The item has been marked as inactive.")
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> BooksResult {
    let q = Query::parse(q.as_deref());
    let paging = Paging::read(&q, &["name", "rate", "tax_name", "sku", "created_time", "last_modified_time"])?;
    let status = match q.get("filter_by").unwrap_or("Status.All") {
        "Status.All" => None,
        "Status.Active" => Some("active"),
        "Status.Inactive" => Some("inactive"),
        _ => return Err(BooksError::invalid("filter_by")),
    };
    let name = text_filter(&q, "name");
    let sku = text_filter(&q, "sku");
    let description = text_filter(&q, "description");
    let search = q.get("search_text").map(str::to_lowercase);
    // An exact `sku=` names at most one item: take it from the SKU index instead of
    // scanning every item (the sync engine looks items up by SKU before each create).
    let exact_sku = q.get("sku").filter(|v| !v.is_empty()).map(str::to_lowercase);
    with_org(&state, &q, |org, clock, _| {
        let candidates: Box<dyn Iterator<Item = &Item>> = match &exact_sku {
            Some(key) => Box::new(org.skus.get(key).and_then(|id| org.items.get(id)).into_iter()),
            None => Box::new(org.items.values()),
        };
        let rows: Vec<&Item> = candidates
            .filter(|i| status.is_none_or(|s| i.status == s))
            .filter(|i| name.as_ref().is_none_or(|f| f(&i.name)))
            .filter(|i| sku.as_ref().is_none_or(|f| f(&i.sku)))
            .filter(|i| description.as_ref().is_none_or(|f| f(&i.description)))
            .filter(|i| {
                search
                    .as_ref()
                    .is_none_or(|s| i.name.to_lowercase().contains(s) || i.sku.to_lowercase().contains(s) || i.description.to_lowercase().contains(s))
            })
            .collect();
        let col = paging.sort_column.clone();
        let (page, more) = paging.cut(rows, |a, b| {
            match col.as_str() {
                "rate" => a.rate.cmp(&b.rate),
                "tax_name" => tax_label(org, &a.tax_id).0.cmp(&tax_label(org, &b.tax_id).0),
                "sku" => a.sku.cmp(&b.sku),
                "created_time" => a.created_ms.cmp(&b.created_ms),
                "last_modified_time" => a.modified_ms.cmp(&b.modified_ms),
                _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            }
            .then_with(|| a.item_id.cmp(&b.item_id))
        });
        let rows: Vec<Value> = page.iter().map(|i| item_json(org, i, clock)).collect();
        let mut m = Map::new();
        m.insert("code".into(), 0.into());
        m.insert("message".into(), "success".into());
        m.insert("items".into(), Value::Array(rows));
        m.insert("page_context".into(), paging.context(more, "Items", q.get("filter_by").unwrap_or("Status.All")));
        Ok((StatusCode::OK, Json(Value::Object(m))).into_response())
    })
}
