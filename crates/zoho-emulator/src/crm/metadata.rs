//! Metadata endpoints: `/settings/fields`, `/settings/modules`, `/users`, `/org`,
//! `/org/currencies`.
//!
//! The answers start from templates under `templates/` that hold every property the
//! OpenAPI spec marks required (generated from the spec), then fill in the real values
//! from [`crate::crm::schema`] and the org data, so they validate against the spec.

use std::sync::OnceLock;

use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    crm::{reply, schema},
    errors::crm_error,
    state::AppState,
};

/// A response template: Zoho's shape with every required property, parsed once.
struct Template {
    text: &'static str,
    parsed: OnceLock<Value>,
}

impl Template {
    const fn new(text: &'static str) -> Self {
        Template { text, parsed: OnceLock::new() }
    }

    /// A fresh copy to fill in (templates are compiled in; a test checks they parse).
    fn value(&self) -> Value {
        self.parsed.get_or_init(|| serde_json::from_str(self.text).unwrap_or_else(|_| json!({}))).clone()
    }
}

static FIELD: Template = Template::new(include_str!("templates/field.json"));
static MODULE: Template = Template::new(include_str!("templates/module.json"));
static ORG: Template = Template::new(include_str!("templates/org.json"));
static CURRENCY: Template = Template::new(include_str!("templates/currency.json"));

/// A stable id for a field: the module id plus the field's position.
fn field_id(module: &schema::Module, i: usize) -> String {
    let base: u64 = module.id.parse().unwrap_or(0);
    (base + 100 + i as u64).to_string()
}

/// `GET /settings/fields?module=X`.
pub async fn fields(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let Some(name) = params.get("module") else {
        return reply::required_param("module");
    };
    let module = match reply::module(name) {
        Ok(m) => m,
        Err(r) => return r,
    };
    // Every emulated field is in use, so `type=unused` lists none.
    // fields.json documents a bad value as INVALID_DATA with `api_name` and `json_path`.
    let refuse = |name: &str| crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"api_name": name, "json_path": format!("$.{name}")}));
    match reply::enum_param(&params, "type", &["all", "unused", "used"], refuse) {
        Err(r) => return r,
        Ok(Some("unused")) => return reply::empty(StatusCode::NO_CONTENT),
        Ok(_) => {}
    }
    let currencies: Vec<String> = state.world().crm.currencies.iter().map(|c| c.iso_code.clone()).collect();
    let base = FIELD.value();
    let rows: Vec<Value> = module
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut row = base.clone();
            let id = field_id(module, i);
            row["id"] = json!(id);
            row["api_name"] = json!(f.api_name);
            row["field_label"] = json!(f.label);
            row["display_label"] = json!(f.label);
            row["column_name"] = json!(f.api_name.to_uppercase());
            row["data_type"] = json!(f.kind.data_type());
            row["json_type"] = json!(f.kind.json_type());
            row["custom_field"] = json!(f.custom);
            row["created_source"] = json!(if f.custom { "crm" } else { "default" });
            row["read_only"] = json!(f.read_only);
            row["field_read_only"] = json!(f.read_only);
            row["system_mandatory"] = json!(module.mandatory.contains(&f.api_name));
            row["visible"] = json!(true);
            row["searchable"] = json!(f.kind.is_text() || matches!(f.kind, schema::Kind::Picklist(_)));
            row["filterable"] = json!(true);
            row["sortable"] = json!(true);
            row["length"] = json!(if f.kind == schema::Kind::TextArea { 32000 } else { 255 });
            row["unique"] = if f.unique { json!({"casesensitive": false}) } else { Value::Null };
            row["operation_type"] = json!({"web_update": !f.read_only, "api_create": !f.read_only,
                "web_create": !f.read_only, "api_update": !f.read_only});
            let values: Vec<&str> = match f.kind {
                schema::Kind::Picklist(_) if f.api_name == "Currency" => currencies.iter().map(String::as_str).collect(),
                schema::Kind::Picklist(v) => v.to_vec(),
                _ => Vec::new(),
            };
            row["pick_list_values"] = Value::Array(
                values
                    .iter()
                    .enumerate()
                    .map(|(j, v)| {
                        json!({"colour_code": null, "actual_value": v, "type": "used",
                        "id": format!("{id}{j:03}"), "sequence_number": j + 1, "display_value": v})
                    })
                    .collect(),
            );
            match f.kind {
                schema::Kind::Lookup(target) => {
                    let target_id = schema::module(target).map(|m| m.id).unwrap_or("");
                    row["lookup"] = json!({"display_label": f.label, "api_name": f.api_name,
                        "module": {"api_name": target, "id": target_id}, "id": id});
                }
                schema::Kind::Subform => {
                    row["subform"] = json!({"module": "Quoted_Items", "id": id});
                    row["associated_module"] = json!({"api_name": "Quoted_Items", "id": id});
                }
                _ => {}
            }
            row
        })
        .collect();
    reply::json(StatusCode::OK, json!({"fields": rows}))
}

/// `GET /settings/modules?status=…`.
pub async fn modules(State(_state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    // Every emulated module is visible; the other statuses list none.
    // modules.json documents NOT_SUPPORTED for this.
    let refuse = |_: &str| crm_error(StatusCode::BAD_REQUEST, "NOT_SUPPORTED", "the given status is not supported", json!({}));
    match reply::enum_param(&params, "status", &["visible", "scheduled_for_deletion", "user_hidden", "system_hidden"], refuse) {
        Err(r) => return r,
        Ok(Some(s)) if s != "visible" => return reply::empty(StatusCode::NO_CONTENT),
        Ok(_) => {}
    }
    let base = MODULE.value();
    let rows: Vec<Value> = schema::MODULES
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut row = base.clone();
            row["id"] = json!(m.id);
            row["api_name"] = json!(m.api_name);
            row["module_name"] = json!(m.api_name);
            row["singular_label"] = json!(m.singular);
            row["plural_label"] = json!(m.api_name.replace('_', " "));
            row["sequence_number"] = json!(i + 1);
            for k in [
                "api_supported",
                "creatable",
                "editable",
                "deletable",
                "viewable",
                "visible",
                "show_as_tab",
                "common.search_supported",
                "filter_supported",
                "triggers_supported",
            ] {
                row[k] = json!(true);
            }
            row["visibility"] = json!(1);
            row["generated_type"] = json!("default");
            row["inventory_template_supported"] = json!(m.api_name == "Quotes");
            row
        })
        .collect();
    reply::json(StatusCode::OK, json!({"modules": rows}))
}

/// `GET /org`.
pub async fn org(State(state): State<AppState>) -> Response {
    let world = state.world();
    let o = &world.crm.org;
    let mut row = ORG.value();
    let base = world.crm.base_currency();
    row["id"] = json!(o.id);
    row["company_name"] = json!(o.company_name);
    row["zgid"] = json!(o.zgid);
    row["ezgid"] = json!(format!("ez{}", o.zgid));
    row["domain_name"] = json!(format!("org{}", o.zgid));
    row["time_zone"] = json!(o.time_zone);
    row["currency"] = json!(base.map(|c| c.name.clone()).unwrap_or_default());
    row["iso_code"] = json!(o.currency);
    row["currency_symbol"] = json!(base.map(|c| c.symbol.clone()).unwrap_or_default());
    row["currency_locale"] = json!("en_US");
    row["country"] = json!(o.country);
    row["country_code"] = json!(o.country_code);
    row["primary_email"] = json!(o.primary_email);
    row["primary_zuid"] = json!(world.crm.current_user().id);
    row["mc_status"] = json!(world.crm.currencies.len() > 1);
    row["max_per_page"] = json!(200);
    row["phone"] = json!("+1-555-0100");
    row["type"] = json!("Production");
    row["license_details"]["paid"] = json!(true);
    row["license_details"]["paid_type"] = json!("enterprise");
    row["license_details"]["users_license_purchased"] = json!(world.crm.users.len());
    // A paid licence runs a year past the org's creation (a date-time, as org.json types it).
    row["license_details"]["paid_expiry"] = json!(crate::crm::render_ms(&state.clock, world.crm.org.created_ms + 365 * 86_400_000));
    drop(world);
    reply::json(StatusCode::OK, json!({"org": [row]}))
}

/// `GET /org/currencies`.
pub async fn currencies(State(state): State<AppState>) -> Response {
    let world = state.world();
    let user = world.crm.current_user();
    let created = crate::crm::render_ms(&state.clock, world.crm.org.created_ms);
    let base = CURRENCY.value();
    let rows: Vec<Value> = world
        .crm
        .currencies
        .iter()
        .map(|c| {
            let mut row = base.clone();
            row["id"] = json!(c.id);
            row["iso_code"] = json!(c.iso_code);
            row["name"] = json!(c.name);
            row["symbol"] = json!(c.symbol);
            row["prefix_symbol"] = json!(true);
            row["is_active"] = json!(true);
            row["is_base"] = json!(c.is_base);
            row["exchange_rate"] = json!(c.exchange_rate);
            row["format"] = json!({"decimal_separator": "Period", "thousand_separator": "Comma",
                "decimal_places": c.decimal_places.to_string()});
            row["created_time"] = json!(created);
            row["modified_time"] = json!(created);
            row["created_by"] = json!({"name": user.full_name(), "id": user.id});
            row["modified_by"] = json!({"name": user.full_name(), "id": user.id});
            row
        })
        .collect();
    drop(world);
    reply::json(StatusCode::OK, json!({"currencies": rows}))
}

/// `GET /users?type=AllUsers|ActiveUsers|CurrentUser`.
pub async fn users(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let kind = params.get("type").map(String::as_str).unwrap_or("AllUsers");
    if !matches!(kind, "AllUsers" | "ActiveUsers" | "CurrentUser" | "AdminUsers") {
        return crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": "type"}));
    }
    let world = state.world();
    let created = crate::crm::render_ms(&state.clock, world.crm.org.created_ms);
    let rows: Vec<Value> = world
        .crm
        .users
        .iter()
        .filter(|u| match kind {
            "CurrentUser" => u.current,
            "AdminUsers" => u.profile == "Administrator",
            _ => true,
        })
        .map(|u| {
            json!({"id": u.id, "first_name": u.first_name, "last_name": u.last_name, "full_name": u.full_name(),
                "email": u.email, "status": "active", "confirm": true, "zuid": u.id,
                "role": {"name": u.role, "id": format!("{}1", &u.id[..u.id.len().saturating_sub(1)])},
                "profile": {"name": u.profile, "id": format!("{}2", &u.id[..u.id.len().saturating_sub(1)])},
                "time_zone": world.crm.org.time_zone, "country": world.crm.org.country, "locale": "en_US",
                "language": "en_US", "date_format": "MM-dd-yyyy", "time_format": "HH:mm", "created_time": created,
                "Modified_Time": created, "Currency": world.crm.org.currency})
        })
        .collect();
    drop(world);
    let info = json!({"per_page": 200, "count": rows.len(), "page": 1, "more_records": false});
    reply::json(StatusCode::OK, json!({"users": rows, "info": info}))
}

#[cfg(test)]
mod template_tests {
    #[test]
    fn every_template_is_a_json_object() {
        for t in [&super::FIELD, &super::MODULE, &super::ORG, &super::CURRENCY] {
            let parsed: serde_json::Value = serde_json::from_str(t.text).expect("template parses");
            assert!(parsed.is_object());
        }
    }
}
