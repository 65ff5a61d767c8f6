//! Writing records: insert, update, upsert and delete, up to 100 records a call.
//!
//! Every input record gets one entry in the answer's `data[]`, in input order. The
//! HTTP status sums them up the way Zoho does: 201 all inserted, 200 updated, 207 mixed,
//! 400 all failed (412 when every failure is `ALREADY_MODIFIED`). Successful writes
//! queue Notification API callbacks, one per channel per call.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Map, Value, json};

use crate::{
    crm::{
        money,
        notifications::{self, Change, Operation},
        reply,
        schema::{self, Kind, Module},
        store::{CrmData, DeletedRecord, Record, parse_id},
        values::{self, error_entry},
    },
    errors::crm_error,
    state::AppState,
};

/// Most records in one write.
pub const MAX_RECORDS: usize = 100;

/// What a write call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Insert,
    Update,
    Upsert,
}

/// `POST /{module}`.
pub async fn insert(State(state): State<AppState>, Path(module): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    write(&state, &module, &body, Mode::Insert, None, &headers)
}

/// `PUT /{module}`.
pub async fn update(State(state): State<AppState>, Path(module): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    write(&state, &module, &body, Mode::Update, None, &headers)
}

/// `PUT /{module}/{id}`.
pub async fn update_one(State(state): State<AppState>, Path((module, id)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    write(&state, &module, &body, Mode::Update, Some(id), &headers)
}

/// `POST /{module}/upsert`.
pub async fn upsert(State(state): State<AppState>, Path(module): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    write(&state, &module, &body, Mode::Upsert, None, &headers)
}

enum Done {
    Inserted,
    Updated,
    Failed,
    Stale,
}

fn write(state: &AppState, module: &str, bytes: &[u8], mode: Mode, path_id: Option<String>, headers: &HeaderMap) -> Response {
    let module = match reply::module(module) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let body = match reply::body(bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(data) = body.get("data") else {
        return crm_error(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "data", "json_path": "$.data"}));
    };
    let Some(data) = data.as_array() else {
        return crm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_DATA",
            "invalid data",
            json!({"expected_data_type": "jsonarray", "api_name": "data", "json_path": "$.data"}),
        );
    };
    if data.is_empty() {
        return crm_error(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "data", "json_path": "$.data"}));
    }
    if data.len() > MAX_RECORDS {
        return crm_error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "Record count exceeded",
            json!({"limit": MAX_RECORDS, "api_name": "data", "json_path": "$.data"}),
        );
    }
    let unmodified_since = match reply::time_header(headers, "If-Unmodified-Since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let duplicate_fields: Vec<String> = match body.get("duplicate_check_fields") {
        None | Some(Value::Null) => {
            module.system_duplicate_check.iter().map(|s| s.to_string()).chain(module.fields.iter().filter(|f| f.unique).map(|f| f.api_name.to_string())).fold(
                Vec::new(),
                |mut acc, f| {
                    if !acc.contains(&f) {
                        acc.push(f);
                    }
                    acc
                },
            )
        }
        Some(Value::Array(list)) if list.iter().all(|v| v.as_str().is_some_and(|s| state.world().crm.field_kind(module, s).is_some())) => {
            list.iter().filter_map(Value::as_str).map(String::from).collect()
        }
        Some(_) => {
            return crm_error(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                "invalid data",
                json!({"api_name": "duplicate_check_fields", "json_path": "$.duplicate_check_fields"}),
            );
        }
    };

    let now = state.clock.now_ms();
    let mut entries = Vec::with_capacity(data.len());
    let mut outcomes = Vec::with_capacity(data.len());
    let mut inserted: Vec<Change> = Vec::new();
    let mut updated: Vec<Change> = Vec::new();
    let deliveries;
    {
        let mut world = state.world();
        let crm = &mut world.crm;
        for (i, input) in data.iter().enumerate() {
            let path = format!("$.data[{i}]");
            let Value::Object(input) = input else {
                entries.push(values::wrong_type("data", &path, "jsonobject"));
                outcomes.push(Done::Failed);
                continue;
            };
            // Which existing record, if any, this input writes to.
            let mut duplicate_field = None;
            let target: Result<Option<u64>, Value> = match mode {
                Mode::Insert => Ok(None),
                Mode::Update => {
                    let id = path_id.as_ref().map(|s| Value::String(s.clone())).or_else(|| input.get("id").cloned());
                    match id {
                        None => Err(values::mandatory("id", &format!("{path}.id"))),
                        Some(id) => match parse_id(&id).filter(|n| crm.record(module.api_name, *n).is_some()) {
                            Some(n) => Ok(Some(n)),
                            None => Err(values::bad_id("id", &format!("{path}.id"), &id)),
                        },
                    }
                }
                Mode::Upsert => {
                    let by_id = input.get("id").and_then(parse_id).filter(|n| crm.record(module.api_name, *n).is_some());
                    let mut found = by_id;
                    if found.is_none() {
                        for name in &duplicate_fields {
                            let Some(value) = input.get(name).filter(|v| !v.is_null()) else { continue };
                            if duplicate_field.is_none() {
                                duplicate_field = Some(name.clone());
                            }
                            if let Some(id) = find_duplicate(crm, module, name, value, None) {
                                duplicate_field = Some(name.clone());
                                found = Some(id);
                                break;
                            }
                        }
                    }
                    Ok(found)
                }
            };
            let target = match target {
                Ok(t) => t,
                Err(entry) => {
                    entries.push(entry);
                    outcomes.push(Done::Failed);
                    continue;
                }
            };
            // Compared in whole seconds, the resolution of `Modified_Time` (and so of
            // the time a client read and sends back).
            if let (Some(id), Some(since)) = (target, unmodified_since)
                && let Some(record) = crm.record(module.api_name, id)
                && record.modified_ms.div_euclid(1000) * 1000 > since
            {
                let f = &record.fields;
                entries.push(error_entry(
                    "ALREADY_MODIFIED",
                    "record updated time has already passed if-unmodified-since time",
                    json!({"Modified_Time": f["Modified_Time"], "Created_Time": f["Created_Time"],
                                   "id": id.to_string(), "Modified_By": f["Modified_By"], "Created_By": f["Created_By"]}),
                ));
                outcomes.push(Done::Stale);
                continue;
            }
            match apply(crm, module, input, &path, target, now, &state.clock) {
                Err(entry) => {
                    entries.push(entry);
                    outcomes.push(Done::Failed);
                }
                Ok((record, changed)) => {
                    let f = &record.fields;
                    let mut details = json!({"Modified_Time": f["Modified_Time"], "Modified_By": f["Modified_By"],
                        "Created_Time": f["Created_Time"], "id": record.id.to_string(), "Created_By": f["Created_By"],
                        "$approval_state": "approved"});
                    if mode == Mode::Upsert
                        && let Some(obj) = details.as_object_mut()
                    {
                        obj.remove("$approval_state");
                    }
                    let is_insert = target.is_none();
                    let mut entry = json!({"code": "SUCCESS", "details": details,
                        "message": if is_insert { "record added" } else { "record updated" }, "status": "success"});
                    if mode == Mode::Upsert {
                        entry["action"] = json!(if is_insert { "insert" } else { "update" });
                        if let Some(df) = &duplicate_field {
                            entry["duplicate_field"] = json!(df);
                        }
                    }
                    entries.push(entry);
                    let change = Change { id: record.id, fields: changed };
                    if is_insert {
                        outcomes.push(Done::Inserted);
                        inserted.push(change);
                    } else {
                        outcomes.push(Done::Updated);
                        updated.push(change);
                    }
                }
            }
        }
        let base = state.base_url();
        let mut out = notifications::deliveries(crm, &base, module.api_name, Operation::Insert, &inserted, now);
        out.extend(notifications::deliveries(crm, &base, module.api_name, Operation::Update, &updated, now));
        let parents: Vec<(String, String)> = inserted
            .iter()
            .chain(&updated)
            .filter_map(|c| crm.record(module.api_name, c.id))
            .flat_map(|r| notifications::parents_of(module, &r.fields))
            .collect();
        out.extend(notifications::related_deliveries(crm, &base, module.api_name, &parents, now));
        deliveries = out;
    }
    for d in deliveries {
        state.outbox.send(d);
    }
    let ok = outcomes.iter().filter(|o| matches!(o, Done::Inserted | Done::Updated)).count();
    let status = if ok == outcomes.len() {
        if outcomes.iter().all(|o| matches!(o, Done::Inserted)) { StatusCode::CREATED } else { StatusCode::OK }
    } else if ok > 0 {
        StatusCode::MULTI_STATUS
    } else if outcomes.iter().all(|o| matches!(o, Done::Stale)) {
        StatusCode::PRECONDITION_FAILED
    } else {
        StatusCode::BAD_REQUEST
    };
    reply::json(status, json!({"data": entries}))
}

/// The id of another record whose `field` equals `value` (case-insensitive), if any.
fn find_duplicate(crm: &CrmData, module: &Module, field: &str, value: &Value, except: Option<u64>) -> Option<u64> {
    let store = crm.modules.get(module.api_name)?;
    let wanted = value.as_str().map(str::to_lowercase);
    store
        .records
        .values()
        .find(|r| {
            Some(r.id) != except
                && match (r.fields.get(field), &wanted) {
                    (Some(Value::String(s)), Some(w)) => s.to_lowercase() == *w,
                    (Some(v), None) => !v.is_null() && v == value,
                    _ => false,
                }
        })
        .map(|r| r.id)
}

/// Validates one input and writes it; returns the stored record and the names of the
/// fields whose values changed, with their new values.
fn apply(
    crm: &mut CrmData,
    module: &Module,
    input: &Map<String, Value>,
    path: &str,
    target: Option<u64>,
    now: i64,
    clock: &crate::clock::Clock,
) -> Result<(Record, Map<String, Value>), Value> {
    let existing = target.and_then(|id| crm.record(module.api_name, id).cloned());
    let mut errors = Vec::new();
    let mut changes = Map::new();

    let se_module =
        input.get("$se_module").and_then(Value::as_str).map(String::from).or_else(|| existing.as_ref().and_then(|r| r.text("$se_module").map(String::from)));
    if module.api_name == "Tasks" && input.contains_key("What_Id") && !input["What_Id"].is_null() {
        match se_module.as_deref().and_then(schema::module) {
            Some(m) if schema::WHAT_MODULES.contains(&m.api_name) => {
                changes.insert("$se_module".into(), json!(m.api_name));
            }
            Some(_) => errors.push(error_entry("INVALID_DATA", "invalid data", json!({"api_name": "$se_module", "json_path": format!("{path}.$se_module")}))),
            None => errors.push(values::mandatory("$se_module", &format!("{path}.$se_module"))),
        }
    }
    let se_canonical = changes.get("$se_module").and_then(Value::as_str).map(String::from);

    for field in module.fields {
        let name = field.api_name;
        let field_path = format!("{path}.{name}");
        let given = input.get(name);
        let mandatory = module.mandatory.contains(&name);
        let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
        if mandatory && ((existing.is_none() && given.is_none_or(blank)) || given.is_some_and(blank)) {
            errors.push(values::mandatory(name, &field_path));
            continue;
        }
        let Some(value) = given else { continue };
        if field.read_only {
            continue;
        }
        if field.kind == Kind::Subform {
            continue; // Quoted_Items is merged below, once the other fields are known.
        }
        if field.kind == Kind::WhatLookup && se_canonical.is_none() && !value.is_null() {
            continue; // the missing or wrong `$se_module` is already reported
        }
        match values::normalise(crm, name, field.kind, None, value, &field_path, se_canonical.as_deref()) {
            Ok(stored) => {
                if field.unique
                    && !stored.is_null()
                    && let Some(dup) = find_duplicate(crm, module, name, &stored, target)
                {
                    let owner = crm.record(module.api_name, dup).and_then(|r| r.fields.get("Owner").cloned());
                    errors.push(error_entry(
                        "DUPLICATE_DATA",
                        "duplicate data",
                        json!({"api_name": name, "json_path": field_path, "id": dup.to_string(),
                                   "duplicate_record": {"Owner": owner, "id": dup.to_string(),
                                       "module": {"api_name": module.api_name, "id": module.id}},
                                   "more_records": false}),
                    ));
                    continue;
                }
                changes.insert(name.to_string(), stored);
            }
            Err(entry) => errors.push(entry),
        }
    }
    for field in crm.custom_fields(module.api_name) {
        let Some(value) = input.get(&field.api_name) else { continue };
        let field_path = format!("{path}.{}", field.api_name);
        match values::normalise(crm, &field.api_name, field.kind(), Some(field.length as usize), value, &field_path, None) {
            Ok(stored) => {
                changes.insert(field.api_name.clone(), stored);
            }
            Err(entry) => errors.push(entry),
        }
    }
    if module.api_name == "Quotes"
        && let Some(items) = input.get("Quoted_Items")
    {
        let current: Vec<Value> = existing.as_ref().and_then(|r| r.fields.get("Quoted_Items")).and_then(Value::as_array).cloned().unwrap_or_default();
        match values::merge_quoted_items(crm, &current, items, &format!("{path}.Quoted_Items")) {
            Ok(rows) => {
                changes.insert("Quoted_Items".into(), Value::Array(rows));
            }
            Err(entry) => errors.push(entry),
        }
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => return Err(error_entry("MULTIPLE_OR_MULTI_ERRORS", "Multiple errors in the request", json!({"errors": errors}))),
    }

    let user = crm.current_user();
    let user_ref = json!({"name": user.full_name(), "id": user.id, "email": user.email});
    let mut record = match existing {
        Some(r) => r,
        None => {
            let id = crm.new_id();
            let mut fields = Map::new();
            fields.insert("id".into(), json!(id.to_string()));
            fields.insert("Owner".into(), user_ref.clone());
            fields.insert("Created_By".into(), user_ref.clone());
            fields.insert("Created_Time".into(), Value::Null);
            fields.insert("$approval_state".into(), json!("approved"));
            for field in module.fields {
                if !field.read_only && !fields.contains_key(field.api_name) {
                    fields.insert(field.api_name.into(), Value::Null);
                }
            }
            for field in crm.custom_fields(module.api_name) {
                fields.entry(field.api_name.clone()).or_insert(Value::Null);
            }
            Record { id, created_ms: now, modified_ms: now, fields }
        }
    };
    let is_new = record.fields["Created_Time"].is_null();
    let mut changed = Map::new();
    for (name, value) in &changes {
        if record.fields.get(name) != Some(value) {
            changed.insert(name.clone(), value.clone());
        }
        record.fields.insert(name.clone(), value.clone());
    }
    derive(crm, module, &mut record, is_new);
    let modified_ms = if is_new { now } else { now.max(record.modified_ms + 1) };
    record.modified_ms = modified_ms;
    let stamp = crate::crm::render_ms(clock, modified_ms);
    if is_new {
        record.created_ms = modified_ms;
        record.fields.insert("Created_Time".into(), json!(stamp));
    }
    record.fields.insert("Modified_Time".into(), json!(stamp));
    record.fields.insert("Modified_By".into(), user_ref);
    crm.module_mut(module.api_name).put(record.clone());
    Ok((record, changed))
}

/// Fields Zoho computes from others.
fn derive(crm: &mut CrmData, module: &Module, record: &mut Record, is_new: bool) {
    let f = &mut record.fields;
    let base = crm.base_currency().map(|c| c.iso_code.clone()).unwrap_or_else(|| "USD".into());
    if module.field("Currency").is_some() {
        if f.get("Currency").is_none_or(Value::is_null) {
            f.insert("Currency".into(), json!(base));
        }
        let iso = f["Currency"].as_str().unwrap_or("USD").to_string();
        let rate = crm.currency(&iso).and_then(|c| c.exchange_rate.parse::<rust_decimal::Decimal>().ok());
        if let Some(rate) = rate {
            f.insert("Exchange_Rate".into(), money::num(rate));
        }
    }
    match module.api_name {
        "Contacts" => {
            let first = f.get("First_Name").and_then(Value::as_str).unwrap_or("");
            let last = f.get("Last_Name").and_then(Value::as_str).unwrap_or("");
            let full = format!("{first} {last}").trim().to_string();
            f.insert("Full_Name".into(), json!(full));
        }
        "Deals" => {
            if let Some(p) = f.get("Stage").and_then(Value::as_str).and_then(schema::stage_probability) {
                f.insert("Probability".into(), json!(p));
            }
            let amount = f.get("Amount").and_then(money::dec);
            let probability = f.get("Probability").and_then(money::dec);
            if let (Some(a), Some(p)) = (amount, probability) {
                f.insert("Expected_Revenue".into(), money::num(money::round(a * p / rust_decimal::Decimal::ONE_HUNDRED, 2)));
            }
        }
        "Quotes" => {
            if is_new {
                crm.next_quote_number += 1;
                f.insert("Quote_Number".into(), json!(format!("{}", 5725767000000500000u64 + crm.next_quote_number)));
            }
            f.entry("Quoted_Items").or_insert(json!([]));
            if f["Quoted_Items"].is_null() {
                f.insert("Quoted_Items".into(), json!([]));
            }
            let dp = money::currency_places(f["Currency"].as_str().unwrap_or("USD"));
            values::compute_quote(f, dp);
        }
        _ => {}
    }
}

/// `DELETE /{module}?ids=…`.
pub async fn delete_many(State(state): State<AppState>, Path(module): Path<String>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let Some(raw) = params.get("ids").filter(|s| !s.trim().is_empty()) else {
        return match reply::module(&module) {
            Err(r) => r,
            Ok(_) => reply::required_param("ids"),
        };
    };
    let ids: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    delete(&state, &module, ids)
}

/// `DELETE /{module}/{id}`.
pub async fn delete_one(State(state): State<AppState>, Path((module, id)): Path<(String, String)>) -> Response {
    delete(&state, &module, vec![id])
}

fn delete(state: &AppState, module: &str, ids: Vec<String>) -> Response {
    let module = match reply::module(module) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if ids.len() > MAX_RECORDS {
        return crm_error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "Record count exceeded", json!({"limit": MAX_RECORDS, "param_name": "ids"}));
    }
    let now = state.clock.now_ms();
    let mut entries = Vec::new();
    let mut removed = Vec::new();
    let mut parents: Vec<(String, String)> = Vec::new();
    let deliveries = {
        let mut world = state.world();
        let crm = &mut world.crm;
        let user = crm.current_user();
        let who = json!({"name": user.full_name(), "id": user.id});
        for id in &ids {
            let found = id.parse::<u64>().ok().and_then(|n| crm.module_mut(module.api_name).remove(n));
            match found {
                Some(record) => {
                    let display_name = record.text(module.name_field).map(String::from);
                    let created_by = record.fields.get("Created_By").cloned().unwrap_or(Value::Null);
                    let created_by = json!({"name": created_by["name"], "id": created_by["id"]});
                    crm.module_mut(module.api_name).deleted.push(DeletedRecord {
                        id: record.id,
                        display_name,
                        created_by,
                        deleted_by: who.clone(),
                        deleted_ms: now,
                    });
                    parents.extend(notifications::parents_of(module, &record.fields));
                    removed.push(Change { id: record.id, fields: Map::new() });
                    entries.push(json!({"code": "SUCCESS", "details": {"id": id}, "message": "record deleted", "status": "success"}));
                }
                None => entries.push(json!({"code": "INVALID_DATA", "details": {"id": id}, "message": "record not deleted", "status": "error"})),
            }
        }
        let mut out = notifications::deliveries(crm, &state.base_url(), module.api_name, Operation::Delete, &removed, now);
        out.extend(notifications::related_deliveries(crm, &state.base_url(), module.api_name, &parents, now));
        out
    };
    for d in deliveries {
        state.outbox.send(d);
    }
    let status = if removed.len() == ids.len() {
        StatusCode::OK
    } else if removed.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::MULTI_STATUS
    };
    reply::json(status, json!({"data": entries}))
}

/// Writes one record the way an insert call would (used by the seed); returns its id.
pub fn seed_record(crm: &mut CrmData, module: &str, input: &Map<String, Value>, clock: &crate::clock::Clock) -> Option<u64> {
    let module = schema::module(module)?;
    apply(crm, module, input, "$.data[0]", None, clock.now_ms(), clock).ok().map(|(r, _)| r.id)
}
