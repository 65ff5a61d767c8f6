//! Custom fields a user creates through CRM's fields API (`POST /settings/fields?module=`),
//! reads (`GET /settings/fields/{id}`) and deletes (`DELETE /settings/fields/{id}`).
//!
//! Why it exists: the order-to-cash flows write amounts paid and balances into CRM fields the
//! user names in config, and `check --online` tells the user how to create the missing ones.
//! A user following that advice against the emulator creates them here; from then on the
//! field is listed by `GET /settings/fields` and records accept and return values for it,
//! checked like a built-in field of the same `data_type`.
//!
//! Answers follow `crm-oas/v8.0/fields.json`: the create body is `{"fields":[{field_label,
//! data_type, length, pick_list_values…}]}`, a success is `{"fields":[{"code":"SUCCESS",
//! "details":{"id":…},…}]}` (201 on create, 200 on delete), refusals are per-field entries in
//! the same `fields` array with HTTP 400. A create is all or nothing: one refused field and none
//! is created. The API name is derived from the label as Zoho does ("Balance Due" →
//! `Balance_Due`); a label or API name the module already has is refused as `DUPLICATE_DATA`
//! (the code CRM answers for any duplicate; fields.json lists no code for this case).

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    crm::{reply, schema, schema::Kind, values::error_entry},
    errors::crm_error,
    state::AppState,
};

/// A field created by a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomField {
    /// Digit-string id.
    pub id: String,
    /// API name derived from the label (`Balance_Due`).
    pub api_name: String,
    /// The label as given.
    pub label: String,
    /// Zoho's `data_type` (`text`, `currency`, `picklist`…).
    pub data_type: String,
    /// Most characters a text value may have (other kinds: Zoho's default length).
    pub length: u32,
    /// Values of a picklist, in order.
    pub pick_list_values: Vec<String>,
    /// Decimal places of a `currency`/`double` field.
    pub decimal_place: Option<u32>,
}

impl CustomField {
    /// How values of this field are checked and stored.
    pub fn kind(&self) -> Kind {
        kind_of(&self.data_type).unwrap_or(Kind::Text)
    }
}

/// The kinds a user can create, by `data_type`, with the default length of each.
fn kind_of(data_type: &str) -> Option<Kind> {
    Some(match data_type {
        "text" => Kind::Text,
        "textarea" => Kind::TextArea,
        "email" => Kind::Email,
        "phone" => Kind::Phone,
        "website" => Kind::Website,
        "picklist" => Kind::Picklist(&[]),
        "multiselectpicklist" => Kind::MultiSelect,
        "integer" => Kind::Integer,
        "double" => Kind::Double,
        "currency" => Kind::Currency,
        "date" => Kind::Date,
        "datetime" => Kind::DateTime,
        "boolean" => Kind::Boolean,
        _ => return None,
    })
}

/// Zoho's default and maximum length for a kind.
fn default_length(kind: Kind) -> (u32, u32) {
    match kind {
        Kind::TextArea => (32_000, 32_000),
        Kind::Integer => (9, 9),
        Kind::Double | Kind::Currency => (16, 16),
        _ => (255, 255),
    }
}

/// The API name Zoho derives from a label: the label's letters and digits, every run of
/// anything else (spaces, punctuation) becoming one underscore ("Balance Due" → `Balance_Due`,
/// "Amount (Paid)" → `Amount_Paid`).
pub fn api_name_from_label(label: &str) -> String {
    label.split(|c: char| !c.is_ascii_alphanumeric()).filter(|part| !part.is_empty()).collect::<Vec<_>>().join("_")
}

/// A per-field refusal, as fields.json's error wrappers hold them.
fn refusal(code: &str, message: &str, api_name: &str, index: usize) -> Value {
    error_entry(code, message, json!({"api_name": api_name, "json_path": format!("$.fields[{index}].{api_name}")}))
}

/// `POST /settings/fields?module=X`.
pub async fn create(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = reply::params(query.as_deref());
    let module = match module_param(&params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let body = match reply::body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(given) = body.get("fields").and_then(Value::as_array).filter(|f| !f.is_empty()) else {
        return reply::json(
            StatusCode::BAD_REQUEST,
            json!({"fields": [error_entry("MANDATORY_NOT_FOUND", "required field not found", json!({"api_name": "fields", "json_path": "$.fields"}))]}),
        );
    };
    let mut world = state.world();
    let crm = &mut world.crm;
    let mut taken: Vec<(String, String)> = module
        .fields
        .iter()
        .map(|f| (f.label.to_lowercase(), f.api_name.to_lowercase()))
        .chain(crm.custom_fields(module.api_name).iter().map(|f| (f.label.to_lowercase(), f.api_name.to_lowercase())))
        .collect();
    let mut made = Vec::new();
    let mut errors = Vec::new();
    for (i, input) in given.iter().enumerate() {
        match read_field(input, i, &taken) {
            Ok(field) => {
                taken.push((field.label.to_lowercase(), field.api_name.to_lowercase()));
                made.push(field);
            }
            Err(entry) => errors.push(entry),
        }
    }
    if !errors.is_empty() {
        return reply::json(StatusCode::BAD_REQUEST, json!({"fields": errors}));
    }
    let mut entries = Vec::new();
    for mut field in made {
        field.id = crm.new_id().to_string();
        entries.push(json!({"code": "SUCCESS", "details": {"id": field.id}, "message": "field created", "status": "success"}));
        // Records that already exist get the field, empty, as Zoho shows them.
        if let Some(store) = crm.modules.get_mut(module.api_name) {
            for record in store.records.values_mut() {
                record.fields.entry(field.api_name.clone()).or_insert(Value::Null);
            }
        }
        crm.custom_fields.entry(module.api_name.to_string()).or_default().push(field);
    }
    reply::json(StatusCode::CREATED, json!({"fields": entries}))
}

/// Reads one field definition of a create body; the error is its refusal entry.
fn read_field(input: &Value, i: usize, taken: &[(String, String)]) -> Result<CustomField, Value> {
    let Some(input) = input.as_object() else {
        return Err(error_entry(
            "INVALID_DATA",
            "invalid data",
            json!({"api_name": "fields", "json_path": format!("$.fields[{i}]"), "expected_data_type": "jsonobject"}),
        ));
    };
    let label = match input.get("field_label") {
        None | Some(Value::Null) => return Err(refusal("MANDATORY_NOT_FOUND", "required field not found", "field_label", i)),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(_) => return Err(refusal("INVALID_DATA", "invalid data", "field_label", i)),
    };
    let data_type = match input.get("data_type") {
        None | Some(Value::Null) => return Err(refusal("MANDATORY_NOT_FOUND", "required field not found", "data_type", i)),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(refusal("INVALID_DATA", "invalid data", "data_type", i)),
    };
    let kind = kind_of(&data_type).ok_or_else(|| refusal("INVALID_DATA", "invalid data", "data_type", i))?;
    let api_name = api_name_from_label(&label);
    if api_name.is_empty() || label.chars().count() > 50 {
        return Err(refusal("INVALID_DATA", "invalid data", "field_label", i));
    }
    if taken.iter().any(|(l, a)| *l == label.to_lowercase() || *a == api_name.to_lowercase()) {
        return Err(refusal("DUPLICATE_DATA", "duplicate data", "field_label", i));
    }
    let (default, max) = default_length(kind);
    let length = match input.get("length") {
        None | Some(Value::Null) => default,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n <= u64::from(max) => n as u32,
            _ => return Err(refusal("INVALID_DATA", "invalid data", "length", i)),
        },
    };
    let pick_list_values = match (kind, input.get("pick_list_values")) {
        (Kind::Picklist(_) | Kind::MultiSelect, Some(Value::Array(values))) if !values.is_empty() => {
            let mut out = Vec::new();
            for v in values {
                let text = v.get("display_value").or_else(|| v.get("actual_value")).and_then(Value::as_str).or_else(|| v.as_str());
                match text {
                    Some(t) if !t.trim().is_empty() => out.push(t.to_string()),
                    _ => return Err(refusal("INVALID_DATA", "invalid data", "pick_list_values", i)),
                }
            }
            out
        }
        (Kind::Picklist(_) | Kind::MultiSelect, _) => return Err(refusal("MANDATORY_NOT_FOUND", "required field not found", "pick_list_values", i)),
        _ => Vec::new(),
    };
    let decimal_place = match kind {
        Kind::Currency | Kind::Double => Some(input.get("decimal_place").and_then(Value::as_u64).map(|n| n.min(9) as u32).unwrap_or(2)),
        _ => None,
    };
    Ok(CustomField { id: String::new(), api_name, label, data_type, length, pick_list_values, decimal_place })
}

/// The `module` query parameter, checked (fields.json: missing → `REQUIRED_PARAM_MISSING`,
/// unknown → `INVALID_MODULE` with `{"api_name": "module"}`).
fn module_param(params: &reply::Params) -> Result<&'static schema::Module, Response> {
    let Some(name) = params.get("module") else {
        return Err(reply::required_param("module"));
    };
    schema::module(name)
        .ok_or_else(|| crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "the module name given seems to be invalid", json!({"api_name": "module"})))
}

/// `GET /settings/fields/{id}?module=X`: one field, built in or created, as the list shows it.
pub async fn get_one(State(state): State<AppState>, RawQuery(query): RawQuery, Path(id): Path<String>) -> Response {
    let params = reply::params(query.as_deref());
    let module = match module_param(&params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let rows = crate::crm::metadata::all_field_rows(&state, module);
    match rows.into_iter().find(|r| r["id"] == json!(id) || r["api_name"] == json!(id)) {
        Some(row) => reply::json(StatusCode::OK, json!({"fields": [row]})),
        None => reply::empty(StatusCode::NO_CONTENT),
    }
}

/// `DELETE /settings/fields/{id}?module=X`: removes a field a user created, and its values
/// from every record. A built-in field or an unknown id is refused as `INVALID_DATA`.
pub async fn delete(State(state): State<AppState>, RawQuery(query): RawQuery, Path(id): Path<String>) -> Response {
    let params = reply::params(query.as_deref());
    let module = match module_param(&params) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let mut world = state.world();
    let crm = &mut world.crm;
    let list = crm.custom_fields.entry(module.api_name.to_string()).or_default();
    let Some(pos) = list.iter().position(|f| f.id == id) else {
        return reply::json(
            StatusCode::BAD_REQUEST,
            error_entry("INVALID_DATA", "the id given seems to be invalid", json!({"api_name": "id", "json_path": "$.id"})),
        );
    };
    let field = list.remove(pos);
    if let Some(store) = crm.modules.get_mut(module.api_name) {
        for record in store.records.values_mut() {
            record.fields.remove(&field.api_name);
        }
    }
    reply::json(StatusCode::OK, json!({"fields": [{"code": "SUCCESS", "details": {"id": field.id}, "message": "field deleted", "status": "success"}]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_come_from_labels() {
        assert_eq!(api_name_from_label("Balance Due"), "Balance_Due");
        assert_eq!(api_name_from_label("Amount (Paid)"), "Amount_Paid");
        assert_eq!(api_name_from_label("  Last payment-date "), "Last_payment_date");
        assert_eq!(api_name_from_label("()"), "");
    }

    #[test]
    fn a_duplicate_label_or_api_name_is_refused() {
        let taken = vec![("amount".to_string(), "amount".to_string())];
        let entry = read_field(&json!({"field_label": "Amount", "data_type": "currency"}), 0, &taken).unwrap_err();
        assert_eq!(entry["code"], "DUPLICATE_DATA");
        assert_eq!(entry["details"]["json_path"], "$.fields[0].field_label");
        assert!(read_field(&json!({"field_label": "Balance Due", "data_type": "currency"}), 0, &taken).is_ok());
        let entry = read_field(&json!({"field_label": "X", "data_type": "hologram"}), 2, &taken).unwrap_err();
        assert_eq!(entry["details"]["api_name"], "data_type");
    }
}
