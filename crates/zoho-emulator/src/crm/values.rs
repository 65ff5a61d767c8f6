//! Checking and normalising the field values of one record in a write.
//!
//! Turns what a client sent into what Zoho stores (lookups become `{name,id}`, owners
//! gain name and email, quote lines get ids and computed amounts), or into the per-record
//! error entries Zoho answers with (`MANDATORY_NOT_FOUND`, `INVALID_DATA`).

use serde_json::{Map, Value, json};

use crate::crm::{
    money,
    schema::{self, Kind, Module},
    store::{CrmData, Record, parse_id},
};

/// A per-record error entry, as it appears in `data[]`.
pub fn error_entry(code: &str, message: &str, details: Value) -> Value {
    json!({"code": code, "details": details, "message": message, "status": "error"})
}

/// `MANDATORY_NOT_FOUND` for a field.
pub fn mandatory(api_name: &str, path: &str) -> Value {
    error_entry("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": api_name, "json_path": path}))
}

/// `INVALID_DATA` for a value of the wrong type.
pub fn wrong_type(api_name: &str, path: &str, expected: &str) -> Value {
    error_entry("INVALID_DATA", "invalid data", json!({"expected_data_type": expected, "api_name": api_name, "json_path": path}))
}

/// `INVALID_DATA` for a lookup id that names no record.
pub fn bad_id(api_name: &str, path: &str, id: &Value) -> Value {
    let id = match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    error_entry("INVALID_DATA", "the id given seems to be invalid", json!({"api_name": api_name, "json_path": path, "id": id}))
}

/// The `{name,id}` form of a record.
pub fn lookup_value(module: &Module, record: &Record) -> Value {
    let name = record.text(module.name_field).unwrap_or("").to_string();
    json!({"name": name, "id": record.id.to_string()})
}

/// The `{name,id,email}` form of a user.
pub fn user_value(crm: &CrmData, id: &str) -> Option<Value> {
    crm.user(id).map(|u| json!({"name": u.full_name(), "id": u.id, "email": u.email}))
}

fn lookup_id(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(o) => o.get("id"),
        Value::String(_) | Value::Number(_) => Some(value),
        _ => None,
    }
}

/// Checks one value against its field (`name`, of `kind`, text at most `max_length`
/// characters); `Ok` carries the stored form.
pub fn normalise(crm: &CrmData, name: &str, kind: Kind, max_length: Option<usize>, value: &Value, path: &str, se_module: Option<&str>) -> Result<Value, Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match kind {
        Kind::Text | Kind::TextArea | Kind::Phone | Kind::Website | Kind::Email | Kind::Picklist(_) => {
            let Some(text) = value.as_str() else {
                return Err(wrong_type(name, path, kind.data_type()));
            };
            if kind == Kind::Email && !text.is_empty() && !(text.contains('@') && text.contains('.')) {
                return Err(error_entry("INVALID_DATA", "invalid data", json!({"api_name": name, "json_path": path})));
            }
            if name == "Currency" && crm.currency(text).is_none() {
                return Err(error_entry("INVALID_DATA", "invalid data", json!({"api_name": name, "json_path": path})));
            }
            let limit = max_length.unwrap_or(if kind == Kind::TextArea { 32_000 } else { 255 });
            if text.chars().count() > limit {
                return Err(error_entry("INVALID_DATA", "invalid data", json!({"maximum_length": limit.to_string(), "api_name": name, "json_path": path})));
            }
            Ok(value.clone())
        }
        Kind::MultiSelect => match value {
            Value::Array(items) if items.iter().all(|v| v.is_string() || v.is_object()) => Ok(value.clone()),
            _ => Err(wrong_type(name, path, "jsonarray")),
        },
        Kind::Integer => match value.as_i64() {
            Some(_) => Ok(value.clone()),
            None => Err(wrong_type(name, path, "integer")),
        },
        Kind::Double | Kind::Currency => match (value.is_number(), money::dec(value)) {
            (true, Some(d)) => Ok(money::num(d)),
            _ => Err(wrong_type(name, path, "double")),
        },
        Kind::Date => match value.as_str().and_then(|s| s.parse::<jiff::civil::Date>().ok()) {
            Some(_) => Ok(value.clone()),
            None => Err(wrong_type(name, path, "date")),
        },
        Kind::DateTime => match value.as_str().and_then(crate::clock::parse_datetime) {
            Some(_) => Ok(value.clone()),
            None => Err(wrong_type(name, path, "datetime")),
        },
        Kind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(wrong_type(name, path, "boolean")),
        },
        Kind::Owner => {
            let id = lookup_id(value).ok_or_else(|| wrong_type(name, path, "jsonobject"))?;
            let id_text = match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            user_value(crm, &id_text).ok_or_else(|| bad_id(name, path, id))
        }
        Kind::Lookup(target) => resolve(crm, target, name, path, value),
        Kind::WhatLookup => {
            let Some(target) = se_module else {
                return Err(mandatory("$se_module", "$.data[*].$se_module"));
            };
            resolve(crm, target, name, path, value)
        }
        Kind::Subform => match value {
            Value::Array(_) => Ok(value.clone()),
            _ => Err(wrong_type(name, path, "jsonarray")),
        },
    }
}

fn resolve(crm: &CrmData, target: &str, name: &str, path: &str, value: &Value) -> Result<Value, Value> {
    let id = lookup_id(value).ok_or_else(|| wrong_type(name, path, "jsonobject"))?;
    let module = schema::module(target).ok_or_else(|| bad_id(name, path, id))?;
    let record = parse_id(id).and_then(|n| crm.record(module.api_name, n)).ok_or_else(|| bad_id(name, path, id))?;
    let mut out = lookup_value(module, record);
    if target == "Products" {
        out["Product_Code"] = record.fields.get("Product_Code").cloned().unwrap_or(Value::Null);
    }
    Ok(out)
}

/// Merges a `Quoted_Items` input into the existing rows: rows with `id` update that row
/// (or remove it when they carry `_delete`), rows without are appended, `[]` clears.
pub fn merge_quoted_items(crm: &mut CrmData, existing: &[Value], input: &Value, path: &str) -> Result<Vec<Value>, Value> {
    let Value::Array(rows) = input else {
        return Err(wrong_type("Quoted_Items", path, "jsonarray"));
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<Value> = existing.to_vec();
    for (j, row) in rows.iter().enumerate() {
        let row_path = format!("{path}[{j}]");
        let Value::Object(row) = row else {
            return Err(wrong_type("Quoted_Items", &row_path, "jsonobject"));
        };
        let target = match row.get("id") {
            Some(id) => {
                let id_text = match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let pos = out.iter().position(|r| r.get("id").and_then(Value::as_str) == Some(id_text.as_str()));
                let Some(pos) = pos else {
                    return Err(bad_id("id", &format!("{row_path}.id"), id));
                };
                if row.contains_key("_delete") {
                    out.remove(pos);
                    continue;
                }
                pos
            }
            None => {
                if !row.contains_key("Product_Name") {
                    return Err(mandatory("Product_Name", &format!("{row_path}.Product_Name")));
                }
                let id = crm.new_id();
                out.push(json!({"id": id.to_string(), "Quantity": 1}));
                out.len() - 1
            }
        };
        let mut merged = out[target].as_object().cloned().unwrap_or_default();
        for field in schema::QUOTED_ITEM_FIELDS {
            let Some(value) = row.get(field.api_name) else { continue };
            if field.read_only {
                continue;
            }
            let field_path = format!("{row_path}.{}", field.api_name);
            let stored = if field.api_name == "Line_Tax" {
                line_tax(value, &field_path)?
            } else {
                normalise(crm, field.api_name, field.kind, None, value, &field_path, None)?
            };
            merged.insert(field.api_name.to_string(), stored);
        }
        if !merged.contains_key("List_Price") || merged["List_Price"].is_null() {
            let price = merged
                .get("Product_Name")
                .and_then(|p| p.get("id"))
                .and_then(parse_id)
                .and_then(|id| crm.record("Products", id))
                .and_then(|p| p.fields.get("Unit_Price").cloned())
                .unwrap_or(json!(0));
            merged.insert("List_Price".into(), price);
        }
        out[target] = Value::Object(merged);
    }
    Ok(out)
}

fn line_tax(value: &Value, path: &str) -> Result<Value, Value> {
    let Value::Array(items) = value else {
        return Err(wrong_type("Line_Tax", path, "jsonarray"));
    };
    let mut out = Vec::new();
    for item in items {
        let name = item.get("name").and_then(Value::as_str);
        let pct = item.get("percentage").and_then(money::dec);
        match (name, pct) {
            (Some(name), Some(pct)) => out.push(json!({"name": name, "percentage": money::num(pct)})),
            _ => return Err(wrong_type("Line_Tax", path, "jsonarray")),
        }
    }
    Ok(Value::Array(out))
}

/// Fills in the computed amounts of every line and of the quote.
pub fn compute_quote(fields: &mut Map<String, Value>, dp: u32) {
    let zero = rust_decimal::Decimal::ZERO;
    let mut totals = Vec::new();
    if let Some(Value::Array(rows)) = fields.get_mut("Quoted_Items") {
        for (i, row) in rows.iter_mut().enumerate() {
            let Some(row) = row.as_object_mut() else { continue };
            let get = |k: &str| row.get(k).and_then(money::dec);
            let qty = get("Quantity").unwrap_or(rust_decimal::Decimal::ONE);
            let price = get("List_Price").unwrap_or(zero);
            let discount = get("Discount").unwrap_or(zero);
            let percents: Vec<rust_decimal::Decimal> = row
                .get("Line_Tax")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|x| x.get("percentage").and_then(money::dec)).collect())
                .unwrap_or_default();
            let line = money::line_totals(qty, price, discount, &percents, dp);
            // Each tax of the line carries its amount (`value`) on the discounted total.
            if let Some(Value::Array(taxes)) = row.get_mut("Line_Tax") {
                for tax in taxes.iter_mut() {
                    let pct = tax.get("percentage").and_then(money::dec).unwrap_or(zero);
                    tax["value"] = money::num(money::tax_amount(line.total_after_discount, pct, dp));
                }
            }
            row.insert("Total".into(), money::num(line.total));
            row.insert("Total_After_Discount".into(), money::num(line.total_after_discount));
            row.insert("Tax".into(), money::num(line.tax));
            row.insert("Net_Total".into(), money::num(line.net_total));
            row.insert("Sequence_Number".into(), json!(i + 1));
            row.entry("Discount").or_insert(json!(0));
            row.entry("Line_Tax").or_insert(json!([]));
            totals.push(line);
        }
    }
    let discount = fields.get("Discount").and_then(money::dec).unwrap_or(zero);
    let adjustment = fields.get("Adjustment").and_then(money::dec).unwrap_or(zero);
    let q = money::quote_totals(&totals, discount, adjustment, dp);
    fields.insert("Sub_Total".into(), money::num(q.sub_total));
    fields.insert("Tax".into(), money::num(q.tax));
    fields.insert("Grand_Total".into(), money::num(q.grand_total));
    fields.entry("Discount").or_insert(json!(0));
    fields.entry("Adjustment").or_insert(json!(0));
}
