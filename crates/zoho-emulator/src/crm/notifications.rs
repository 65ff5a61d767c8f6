//! The Notification API (`/actions/watch`): channels that get a POST when records of a
//! module are created, edited or deleted.
//!
//! A channel subscribes to events such as `Deals.edit` or `Deals.all`; it lives until its
//! `channel_expiry` on the emulator clock (1 hour by default, at most a week). Every
//! write call sends one callback per matching channel listing all the ids it touched.
//! Each (channel, module) pair is stored as one [`Watch`], which is also how Zoho lists them.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    crm::{reply, schema, store::CrmData},
    errors::crm_error,
    state::AppState,
    webhooks::Delivery,
};

/// Default channel lifetime.
pub const DEFAULT_EXPIRY_MS: i64 = 3_600_000;
/// Longest channel lifetime.
pub const MAX_EXPIRY_MS: i64 = 7 * 86_400_000;

/// One channel's subscription to one module.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Watch {
    /// The client's channel id.
    pub channel_id: String,
    /// Module API name.
    pub module: String,
    /// Operations: `create`, `edit`, `delete` (or `all`).
    pub operations: Vec<String>,
    /// Where to POST.
    pub notify_url: String,
    /// Echoed back in callbacks.
    pub token: Option<String>,
    /// Expiry, ms on the emulator clock.
    pub expiry_ms: i64,
    /// Notify when related records change.
    pub notify_on_related_action: bool,
    /// Send the changed values too.
    pub return_affected_field_values: bool,
    /// Field-level conditions, kept as given.
    pub notification_condition: Value,
}

/// What a write did, for callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Records created.
    Insert,
    /// Records edited.
    Update,
    /// Records deleted.
    Delete,
}

impl Operation {
    fn event(self) -> &'static str {
        match self {
            Operation::Insert => "create",
            Operation::Update => "edit",
            Operation::Delete => "delete",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// One record touched by a write, with the fields that changed.
#[derive(Debug, Clone)]
pub struct Change {
    /// Record id.
    pub id: u64,
    /// Changed fields and their new values.
    pub fields: Map<String, Value>,
}

fn selected_fields(condition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) = o.get("field").and_then(|f| f.get("api_name")).and_then(Value::as_str) {
                    out.push(name.to_string());
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(condition, &mut out);
    out
}

/// The callbacks a write causes: one per live channel watching `module` for `op`.
pub fn deliveries(crm: &CrmData, base_url: &str, module: &str, op: Operation, changes: &[Change], now_ms: i64) -> Vec<Delivery> {
    if changes.is_empty() || crm.watches.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for watch in crm.watches.iter().filter(|w| w.module == module && w.expiry_ms > now_ms) {
        if !watch.operations.iter().any(|o| o == "all" || o == op.event()) {
            continue;
        }
        let condition_fields = selected_fields(&watch.notification_condition);
        let relevant: Vec<&Change> = changes
            .iter()
            .filter(|c| op != Operation::Update || condition_fields.is_empty() || condition_fields.iter().any(|f| c.fields.contains_key(f)))
            .collect();
        if relevant.is_empty() {
            continue;
        }
        let ids: Vec<String> = relevant.iter().map(|c| c.id.to_string()).collect();
        let affected_fields: Vec<Value> = if op == Operation::Update {
            relevant.iter().map(|c| json!({ c.id.to_string(): c.fields.keys().collect::<Vec<_>>() })).collect()
        } else {
            Vec::new()
        };
        let query_params: Map<String, Value> = url::Url::parse(&watch.notify_url)
            .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
            .unwrap_or_default();
        let mut body = json!({
            "server_time": now_ms,
            "query_params": query_params,
            "module": module,
            "resource_uri": format!("{base_url}/crm/v8/{module}"),
            "ids": ids,
            "affected_fields": affected_fields,
            "operation": op.name(),
            "channel_id": watch.channel_id,
            "token": watch.token,
        });
        if watch.return_affected_field_values && op == Operation::Update {
            body["affected_values"] = Value::Array(relevant.iter().map(|c| json!({"record_id": c.id.to_string(), "values": c.fields})).collect());
        }
        out.push(Delivery {
            kind: "crm_notification".into(),
            event: format!("{module}.{}", op.event()),
            url: watch.notify_url.clone(),
            headers: Default::default(),
            body,
        });
    }
    out
}

/// The records a record points at through its lookups (`Account_Name`, `Deal_Name`,
/// Tasks' `What_Id` with `$se_module`, …): `(parent module, parent id)`.
pub fn parents_of(module: &schema::Module, fields: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for field in module.fields {
        let parent_module = match field.kind {
            schema::Kind::Lookup(m) => m.to_string(),
            schema::Kind::WhatLookup => match fields.get("$se_module").and_then(Value::as_str) {
                Some(m) => m.to_string(),
                None => continue,
            },
            _ => continue,
        };
        if let Some(id) = fields.get(field.api_name).and_then(|v| v.get("id")).and_then(Value::as_str) {
            out.push((parent_module, id.to_string()));
        }
    }
    out
}

/// Related-record notifications: when a record is created, changed or deleted, every
/// live channel watching edits of a record it points at (and not opted out with
/// `notify_on_related_action: false`) is told that the parent changed. Zoho does not
/// document this callback's exact body; the emulator sends the usual body for the parent
/// with `operation: "update"` and `affected_fields: [{"<parent id>": ["<child module>"]}]`.
pub fn related_deliveries(crm: &CrmData, base_url: &str, child_module: &str, parents: &[(String, String)], now_ms: i64) -> Vec<Delivery> {
    if parents.is_empty() || crm.watches.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for watch in crm
        .watches
        .iter()
        .filter(|w| w.notify_on_related_action && w.expiry_ms > now_ms && w.module != child_module && w.operations.iter().any(|o| o == "all" || o == "edit"))
    {
        let mut ids: Vec<&str> = parents.iter().filter(|(m, _)| *m == watch.module).map(|(_, id)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        let query_params: Map<String, Value> = url::Url::parse(&watch.notify_url)
            .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
            .unwrap_or_default();
        let affected: Vec<Value> = ids.iter().map(|id| json!({ *id: [child_module] })).collect();
        out.push(Delivery {
            kind: "crm_notification".into(),
            event: format!("{}.edit", watch.module),
            url: watch.notify_url.clone(),
            headers: Default::default(),
            body: json!({
                "server_time": now_ms,
                "query_params": query_params,
                "module": watch.module,
                "resource_uri": format!("{base_url}/crm/v8/{}", watch.module),
                "ids": ids,
                "affected_fields": affected,
                "operation": Operation::Update.name(),
                "channel_id": watch.channel_id,
                "token": watch.token,
            }),
        });
    }
    out
}

/// Drops channels whose expiry has passed.
pub fn expire(crm: &mut CrmData, now_ms: i64) {
    crm.watches.retain(|w| w.expiry_ms > now_ms);
}

fn watch_error(code: &str, message: &str, details: Value) -> Response {
    reply::json(StatusCode::BAD_REQUEST, json!({"watch": [{"code": code, "details": details, "message": message, "status": "error"}]}))
}

fn channel_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_digit()) => Some(s.trim().to_string()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// Parses one `watch[]` item into per-module watches.
fn parse_item(item: &Value, i: usize, now: i64, existing: &[Watch]) -> Result<Vec<Watch>, Response> {
    let path = |k: &str| format!("$.watch[{i}].{k}");
    let Some(obj) = item.as_object() else {
        return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "watch", "json_path": format!("$.watch[{i}]")})));
    };
    let channel_id = match obj.get("channel_id") {
        None => return Err(watch_error("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "channel_id", "json_path": path("channel_id")}))),
        Some(v) => {
            channel_text(v).ok_or_else(|| watch_error("INVALID_DATA", "invalid data", json!({"api_name": "channel_id", "json_path": path("channel_id")})))?
        }
    };
    let previous: Vec<&Watch> = existing.iter().filter(|w| w.channel_id == channel_id).collect();
    let notify_url = match obj.get("notify_url").and_then(Value::as_str) {
        Some(u) if url::Url::parse(u).is_ok() => u.to_string(),
        Some(_) => return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "notify_url", "json_path": path("notify_url")}))),
        None => match previous.first() {
            Some(w) => w.notify_url.clone(),
            None => {
                return Err(watch_error("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "notify_url", "json_path": path("notify_url")})));
            }
        },
    };
    let events = match obj.get("events").and_then(Value::as_array) {
        Some(e) if !e.is_empty() => e,
        _ => return Err(watch_error("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "events", "json_path": path("events")}))),
    };
    let token = match obj.get("token") {
        None | Some(Value::Null) => previous.first().and_then(|w| w.token.clone()),
        Some(Value::String(t)) if t.chars().count() <= 50 => Some(t.clone()),
        Some(_) => return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "token", "json_path": path("token")}))),
    };
    let expiry_ms = match obj.get("channel_expiry") {
        None | Some(Value::Null) => now + DEFAULT_EXPIRY_MS,
        Some(v) => {
            let at = v.as_str().and_then(crate::clock::parse_datetime).map(|t| t.as_millisecond());
            match at {
                Some(at) if at <= now => {
                    return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "channel_expiry", "json_path": path("channel_expiry")})));
                }
                Some(at) if at - now > MAX_EXPIRY_MS => now + DEFAULT_EXPIRY_MS,
                Some(at) => at,
                None => return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "channel_expiry", "json_path": path("channel_expiry")}))),
            }
        }
    };
    let flag = |k: &str, default: bool| obj.get(k).and_then(Value::as_bool).unwrap_or(default);
    let mut by_module: Vec<Watch> = Vec::new();
    for (j, event) in events.iter().enumerate() {
        let parsed = event.as_str().and_then(|e| e.split_once('.')).and_then(|(m, op)| {
            let m = schema::module(m)?;
            matches!(op, "create" | "edit" | "delete" | "all").then(|| (m.api_name, op.to_string()))
        });
        let Some((module, op)) = parsed else {
            return Err(watch_error("INVALID_DATA", "invalid data", json!({"api_name": "events", "json_path": format!("$.watch[{i}].events[{j}]")})));
        };
        match by_module.iter_mut().find(|w| w.module == module) {
            Some(w) => {
                if !w.operations.contains(&op) {
                    w.operations.push(op)
                }
            }
            None => by_module.push(Watch {
                channel_id: channel_id.clone(),
                module: module.to_string(),
                operations: vec![op],
                notify_url: notify_url.clone(),
                token: token.clone(),
                expiry_ms,
                notify_on_related_action: flag("notify_on_related_action", true),
                return_affected_field_values: flag("return_affected_field_values", false),
                notification_condition: obj.get("notification_condition").cloned().unwrap_or(Value::Null),
            }),
        }
    }
    Ok(by_module)
}

fn event_entry(state: &AppState, w: &Watch) -> Value {
    let module_id = schema::module(&w.module).map(|m| m.id).unwrap_or("");
    json!({
        "channel_expiry": crate::crm::render_ms(&state.clock, w.expiry_ms),
        "resource_uri": format!("{}/crm/v8/{}", state.base_url(), w.module),
        "resource_id": module_id,
        "resource_name": w.module,
        "channel_id": w.channel_id,
        "notification_condition": if w.notification_condition.is_array() { w.notification_condition.clone() } else { json!([]) },
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Enable,
    Replace,
    Patch,
}

/// `POST /actions/watch`.
pub async fn enable(State(state): State<AppState>, body: Bytes) -> Response {
    subscribe(&state, &body, Verb::Enable)
}

/// `PUT /actions/watch`.
pub async fn replace(State(state): State<AppState>, body: Bytes) -> Response {
    subscribe(&state, &body, Verb::Replace)
}

/// `PATCH /actions/watch`.
pub async fn patch(State(state): State<AppState>, body: Bytes) -> Response {
    subscribe(&state, &body, Verb::Patch)
}

fn subscribe(state: &AppState, bytes: &[u8], verb: Verb) -> Response {
    let body = match reply::body(bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(items) = body.get("watch").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return watch_error("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "watch", "json_path": "$.watch"}));
    };
    let now = state.clock.now_ms();
    let mut world = state.world();
    let crm = &mut world.crm;
    let mut parsed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_item(item, i, now, &crm.watches) {
            Ok(w) => parsed.push((w, item.get("_delete_events").and_then(Value::as_bool).unwrap_or(false))),
            Err(r) => return r,
        }
    }
    let mut entries = Vec::new();
    for (watches, delete_events) in parsed {
        let Some(channel) = watches.first().map(|w| w.channel_id.clone()) else { continue };
        if verb == Verb::Replace {
            crm.watches.retain(|w| w.channel_id != channel);
        }
        let mut events = Vec::new();
        for w in watches {
            match crm.watches.iter_mut().find(|x| x.channel_id == w.channel_id && x.module == w.module) {
                Some(existing) if verb == Verb::Patch && delete_events => {
                    existing.operations.retain(|o| !w.operations.contains(o));
                    events.push(event_entry(state, existing));
                }
                Some(existing) => {
                    for op in &w.operations {
                        if !existing.operations.contains(op) {
                            existing.operations.push(op.clone());
                        }
                    }
                    existing.notify_url = w.notify_url.clone();
                    existing.token = w.token.clone();
                    existing.expiry_ms = w.expiry_ms;
                    existing.notify_on_related_action = w.notify_on_related_action;
                    existing.return_affected_field_values = w.return_affected_field_values;
                    events.push(event_entry(state, existing));
                }
                None if verb == Verb::Patch && delete_events => {}
                None => {
                    events.push(event_entry(state, &w));
                    crm.watches.push(w);
                }
            }
        }
        crm.watches.retain(|w| !w.operations.is_empty());
        let message = match verb {
            Verb::Enable => "Successfully subscribed for actions-watch of the given module",
            Verb::Replace | Verb::Patch if delete_events => "Successfully removed the subscribe details",
            Verb::Replace | Verb::Patch => "Successfully updated the subscribe details",
        };
        entries.push(json!({"code": "SUCCESS", "details": {"events": events}, "message": message, "status": "success"}));
    }
    drop(world);
    let status = if verb == Verb::Enable { StatusCode::CREATED } else { StatusCode::OK };
    reply::json(status, json!({"watch": entries}))
}

/// `GET /actions/watch`.
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let per_page = match reply::int_param(&params, "per_page", 200, 1, 200) {
        Ok(n) => n as usize,
        Err(r) => return r,
    };
    let page = match reply::int_param(&params, "page", 1, 1, 10_000) {
        Ok(n) => n as usize,
        Err(r) => return r,
    };
    let now = state.clock.now_ms();
    let world = state.world();
    let mut rows: Vec<Value> = world
        .crm
        .watches
        .iter()
        .filter(|w| w.expiry_ms > now)
        .filter(|w| params.get("channel_id").is_none_or(|c| *c == w.channel_id))
        .filter(|w| params.get("module").is_none_or(|m| m.eq_ignore_ascii_case(&w.module)))
        .skip((page - 1) * per_page)
        .take(per_page + 1)
        .map(|w| {
            let mut e = event_entry(&state, w);
            e["notify_url"] = json!(w.notify_url);
            e["events"] = json!(w.operations.iter().map(|o| format!("{}.{o}", w.module)).collect::<Vec<_>>());
            e["token"] = json!(w.token);
            e["fields"] = Value::Null;
            e["notify_on_related_action"] = json!(w.notify_on_related_action);
            e["return_affected_field_values"] = json!(w.return_affected_field_values);
            if w.notification_condition.is_array() {
                e["notification_condition"] = w.notification_condition.clone();
            }
            e
        })
        .collect();
    drop(world);
    if rows.is_empty() {
        return reply::empty(StatusCode::NO_CONTENT);
    }
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let info = json!({"per_page": per_page, "count": rows.len(), "page": page, "more_records": more});
    reply::json(StatusCode::OK, json!({"watch": rows, "info": info}))
}

/// `DELETE /actions/watch?channel_ids=…`.
pub async fn disable(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let Some(raw) = params.get("channel_ids").filter(|s| !s.trim().is_empty()) else {
        return crm_error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "channel_ids", "param": "channel_ids"}),
        );
    };
    let channels: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).collect();
    let mut entries = Vec::new();
    let mut world = state.world();
    for channel in &channels {
        let (gone, kept): (Vec<Watch>, Vec<Watch>) = std::mem::take(&mut world.crm.watches).into_iter().partition(|w| &w.channel_id == channel);
        world.crm.watches = kept;
        if gone.is_empty() {
            entries.push(json!({"code": "NOT_SUBSCRIBED", "details": {"channel_id": channel},
                "message": "the channel is not subscribed", "status": "error"}));
        }
        for w in gone {
            entries.push(json!({"code": "SUCCESS", "details": {
                "resource_uri": format!("{}/crm/v8/{}", state.base_url(), w.module),
                "resource_id": schema::module(&w.module).map(|m| m.id).unwrap_or(""),
                "channel_id": w.channel_id},
                "message": "Successfully un-subscribed from actions-watch", "status": "success"}));
        }
    }
    drop(world);
    let ok = entries.iter().any(|e| e["status"] == "success");
    reply::json(if ok { StatusCode::OK } else { StatusCode::BAD_REQUEST }, json!({"watch": entries}))
}
