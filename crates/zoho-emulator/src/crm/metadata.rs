//! Metadata endpoints: `/settings/fields`, `/settings/modules` (and one module),
//! `/settings/related_lists`, `/users`, `/org`, `/org/currencies`.
//!
//! The answers start from templates under `templates/` that hold every property the
//! OpenAPI spec marks required (generated from the spec), then fill in the real values
//! from [`crate::crm::schema`] and the org data, so they validate against the spec.

use std::sync::OnceLock;

use axum::{
    extract::{Path as AxumPath, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    crm::{relations, reply, schema},
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
    // The module is a query parameter here, not a path segment: fields.json documents the
    // refusal's details as `{"api_name": …}` (its InvalidParamDetails), not `resource_path_index`.
    let Some(module) = schema::module(name) else {
        return crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "the module name given seems to be invalid", json!({"api_name": "module"}));
    };
    // Every emulated field is in use, so `type=unused` lists none.
    // fields.json documents a bad value as INVALID_DATA with `api_name` and `json_path`.
    let refuse = |name: &str| crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"api_name": name, "json_path": format!("$.{name}")}));
    match reply::enum_param(&params, "type", &["all", "unused", "used"], refuse) {
        Err(r) => return r,
        Ok(Some("unused")) => return reply::empty(StatusCode::NO_CONTENT),
        Ok(_) => {}
    }
    reply::json(StatusCode::OK, json!({"fields": all_field_rows(&state, module)}))
}

/// What a field row is built from: a built-in field of the schema, or one a user created.
struct FieldView<'a> {
    id: String,
    api_name: &'a str,
    label: &'a str,
    kind: schema::Kind,
    read_only: bool,
    custom: bool,
    mandatory: bool,
    unique: bool,
    length: u32,
    pick_list_values: Vec<&'a str>,
    decimal_place: Option<u32>,
}

/// Every field of `module` as `/settings/fields` lists it: the schema's, then those users
/// created (`crate::crm::fields`).
pub fn all_field_rows(state: &AppState, module: &schema::Module) -> Vec<Value> {
    let world = state.world();
    let currencies: Vec<String> = world.crm.currencies.iter().map(|c| c.iso_code.clone()).collect();
    let mut rows = field_rows(module, &currencies);
    let base = FIELD.value();
    for f in world.crm.custom_fields(module.api_name) {
        let view = FieldView {
            id: f.id.clone(),
            api_name: &f.api_name,
            label: &f.label,
            kind: f.kind(),
            read_only: false,
            custom: true,
            mandatory: false,
            unique: false,
            length: f.length,
            pick_list_values: f.pick_list_values.iter().map(String::as_str).collect(),
            decimal_place: f.decimal_place,
        };
        rows.push(field_row(&base, &view));
    }
    rows
}

/// The metadata of every built-in field of `module`; `currencies` are the org's ISO codes
/// (the `Currency` picklist's values).
fn field_rows(module: &schema::Module, currencies: &[String]) -> Vec<Value> {
    let base = FIELD.value();
    module
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let view = FieldView {
                id: field_id(module, i),
                api_name: f.api_name,
                label: f.label,
                kind: f.kind,
                read_only: f.read_only,
                custom: f.custom,
                mandatory: module.mandatory.contains(&f.api_name),
                unique: f.unique,
                length: if f.kind == schema::Kind::TextArea { 32000 } else { 255 },
                pick_list_values: match f.kind {
                    schema::Kind::Picklist(_) if f.api_name == "Currency" => currencies.iter().map(String::as_str).collect(),
                    schema::Kind::Picklist(v) => v.to_vec(),
                    _ => Vec::new(),
                },
                decimal_place: None,
            };
            field_row(&base, &view)
        })
        .collect()
}

/// One field's row, filled into a copy of the template `base`.
fn field_row(base: &Value, f: &FieldView<'_>) -> Value {
    let mut row = base.clone();
    let id = &f.id;
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
    row["system_mandatory"] = json!(f.mandatory);
    row["visible"] = json!(true);
    row["searchable"] = json!(f.kind.is_text() || matches!(f.kind, schema::Kind::Picklist(_)));
    row["filterable"] = json!(true);
    row["sortable"] = json!(true);
    row["length"] = json!(f.length);
    if let Some(places) = f.decimal_place {
        row["decimal_place"] = json!(places);
    }
    row["unique"] = if f.unique { json!({"casesensitive": false}) } else { Value::Null };
    row["operation_type"] = json!({"web_update": !f.read_only, "api_create": !f.read_only,
        "web_create": !f.read_only, "api_update": !f.read_only});
    row["pick_list_values"] = Value::Array(
        f.pick_list_values
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
}

/// `GET /settings/modules?status=…`.
pub async fn modules(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    // Every emulated module is visible; the other statuses list none.
    // modules.json documents NOT_SUPPORTED for this.
    let refuse = |_: &str| crm_error(StatusCode::BAD_REQUEST, "NOT_SUPPORTED", "the given status is not supported", json!({}));
    match reply::enum_param(&params, "status", &["visible", "scheduled_for_deletion", "user_hidden", "system_hidden"], refuse) {
        Err(r) => return r,
        Ok(Some(s)) if s != "visible" => return reply::empty(StatusCode::NO_CONTENT),
        Ok(_) => {}
    }
    let rows: Vec<Value> = schema::MODULES.iter().map(|m| module_row(&state, m)).collect();
    reply::json(StatusCode::OK, json!({"modules": rows}))
}

/// `GET /settings/modules/{api_name}` (or `/{id}`): one module with its fields and related
/// lists, in the same `{"modules": [ … ]}` envelope; an unknown module is `INVALID_MODULE`.
pub async fn module(State(state): State<AppState>, AxumPath(name): AxumPath<String>) -> Response {
    let Some(module) = schema::module(&name).or_else(|| schema::MODULES.iter().find(|m| m.id == name)) else {
        return crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "the module name given seems to be invalid", json!({"resource_path_index": 2}));
    };
    let mut row = module_row(&state, module);
    row["fields"] = Value::Array(all_field_rows(&state, module));
    row["related_lists"] = Value::Array(related_list_rows(module));
    reply::json(StatusCode::OK, json!({"modules": [row]}))
}

/// A module's summary as `/settings/modules` lists it, with its default custom view.
fn module_row(state: &AppState, m: &'static schema::Module) -> Value {
    let mut row = MODULE.value();
    let sequence = schema::MODULES.iter().position(|x| x.api_name == m.api_name).unwrap_or(0) + 1;
    row["id"] = json!(m.id);
    row["api_name"] = json!(m.api_name);
    row["module_name"] = json!(m.api_name);
    row["singular_label"] = json!(m.singular);
    row["plural_label"] = json!(plural_label(m));
    row["sequence_number"] = json!(sequence);
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
    row["custom_view"] = custom_view(state, m);
    row
}

fn plural_label(m: &schema::Module) -> String {
    m.api_name.replace('_', " ")
}

/// The module's "All <plural>" view, the one Zoho opens by default: digit-string ids derived
/// from the module's id (stable across runs), made by the org's current user when the org was
/// created, sorted by the module's name field.
fn custom_view(state: &AppState, m: &'static schema::Module) -> Value {
    let world = state.world();
    let user = world.crm.current_user();
    let created = crate::crm::render_ms(&state.clock, world.crm.org.created_ms);
    drop(world);
    let base: u64 = m.id.parse().unwrap_or(0);
    let label = format!("All {}", plural_label(m));
    let name_index = m.fields.iter().position(|f| f.api_name == m.name_field).unwrap_or(0);
    let mut view = MODULE.value()["custom_view"].take();
    view["id"] = json!((base + 1_000_000_000).to_string());
    view["name"] = json!(label);
    view["display_value"] = json!(label);
    view["system_name"] = json!("ALLVIEWS");
    view["category"] = json!("public_views");
    view["created_time"] = json!(created);
    view["modified_time"] = json!(created);
    view["created_by"] = json!({"name": user.full_name(), "id": user.id});
    view["modified_by"] = json!({"name": user.full_name(), "id": user.id});
    view["module"] = json!({"name": m.api_name, "id": m.id});
    view["default"] = json!(true);
    view["system_defined"] = json!(true);
    view["locked"] = json!(false);
    view["access_type"] = json!("public");
    view["fields"] = json!([{"id": field_id(m, name_index), "api_name": m.name_field, "_pin": false}]);
    view["sort_by"] = json!({"id": field_id(m, name_index), "api_name": m.name_field});
    view["sort_order"] = json!("asc");
    view
}

/// The related lists of `module` as `/settings/related_lists` describes them.
fn related_list_rows(module: &schema::Module) -> Vec<Value> {
    relations::of(module.api_name)
        .map(|(n, l)| {
            let target = schema::module(l.module).map(|m| m.id).unwrap_or_default();
            json!({
                "id": relations::id(module, n),
                "sequence_number": (n + 1).to_string(),
                "display_label": l.display_label,
                "api_name": l.api_name,
                "module": {"api_name": l.module, "id": target},
                "name": l.name,
                "action": null,
                "href": format!("{}/{{ENTITYID}}/{}", module.api_name, l.api_name),
                "type": "default",
                "visible": true,
                "customize_sort": false,
                "customize_fields": false,
                "customize_display_label": false,
                "sort_by": {"api_name": null, "id": null},
                "sort_order": null,
                "fields": [],
                "status": "visible",
            })
        })
        .collect()
}

/// `GET /settings/related_lists?module=X`: the related lists the emulator serves for that
/// module (204 when it has none). related_lists.json documents a missing module as
/// `REQUIRED_PARAM_MISSING` and an unknown one as `INVALID_MODULE` with `{"param": "module"}`.
pub async fn related_lists(RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    let Some(name) = params.get("module") else {
        return reply::required_param("module");
    };
    let Some(module) = schema::module(name) else {
        return crm_error(StatusCode::BAD_REQUEST, "INVALID_MODULE", "the module name given seems to be invalid", json!({"param": "module"}));
    };
    let rows = related_list_rows(module);
    if rows.is_empty() {
        return reply::empty(StatusCode::NO_CONTENT);
    }
    reply::json(StatusCode::OK, json!({"related_lists": rows}))
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

/// A rate as Zoho writes it in `/org/currencies`: a string with nine decimals ("1.000000000").
/// A stored rate that is not a decimal is passed through unchanged.
fn exchange_rate_text(rate: &str) -> String {
    match rate.trim().parse::<rust_decimal::Decimal>() {
        Ok(mut d) => {
            d.rescale(9);
            d.to_string()
        }
        Err(_) => rate.to_string(),
    }
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
            row["exchange_rate"] = json!(exchange_rate_text(&c.exchange_rate));
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

/// The `type` values `/users` accepts. Every emulated user is active and confirmed, so the
/// deactivated and unconfirmed kinds list none.
const USER_TYPES: [&str; 9] = [
    "AllUsers",
    "ActiveUsers",
    "CurrentUser",
    "AdminUsers",
    "ActiveConfirmedUsers",
    "ConfirmedUsers",
    "ActiveConfirmedAdmins",
    "DeactiveUsers",
    "NotConfirmedUsers",
];

/// `GET /users?type=…&page=…&per_page=…&ids=…`, with `If-Modified-Since`.
///
/// Pages of at most 200 users (`per_page` 1–200, default 200); `info` says which page this is
/// and whether more follow. With `If-Modified-Since`, only users modified after that time are
/// listed, and when none was the answer is 304 with no body (ZOHO_API.md §2.2). A bad `type`,
/// `page`, `per_page`, `ids` or header is users.json's `INVALID_DATA`.
pub async fn users(State(state): State<AppState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    match users_inner(&state, &reply::params(query.as_deref()), &headers) {
        Ok(r) | Err(r) => r,
    }
}

fn users_inner(state: &AppState, params: &reply::Params, headers: &HeaderMap) -> Result<Response, Response> {
    let kind = reply::enum_param(params, "type", &USER_TYPES, reply::invalid_param)?.unwrap_or("AllUsers");
    let per_page = reply::int_param(params, "per_page", 200, 1, 200)? as usize;
    let page = reply::int_param(params, "page", 1, 1, 100_000)? as usize;
    let ids: Option<Vec<String>> = match params.get("ids") {
        None => None,
        Some(raw) => {
            let ids: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).collect();
            if ids.iter().any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit())) {
                return Err(reply::invalid_param("ids"));
            }
            Some(ids)
        }
    };
    let ims = reply::time_header(headers, "If-Modified-Since")?;
    let world = state.world();
    // Users are created with the org and never change afterwards.
    let modified_ms = world.crm.org.created_ms;
    let created = crate::crm::render_ms(&state.clock, modified_ms);
    let chosen: Vec<&crate::crm::store::User> = world
        .crm
        .users
        .iter()
        .filter(|u| match kind {
            "CurrentUser" => u.current,
            "AdminUsers" | "ActiveConfirmedAdmins" => u.profile == "Administrator",
            "DeactiveUsers" | "NotConfirmedUsers" => false,
            _ => true,
        })
        .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.id)))
        .collect();
    if ims.is_some_and(|t| modified_ms <= t) && !chosen.is_empty() {
        return Ok(reply::empty(StatusCode::NOT_MODIFIED));
    }
    let more = chosen.len() > page.saturating_mul(per_page);
    let rows: Vec<Value> = chosen
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
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
    if rows.is_empty() {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    }
    let info = json!({"per_page": per_page, "count": rows.len(), "page": page, "more_records": more});
    Ok(reply::json(StatusCode::OK, json!({"users": rows, "info": info})))
}

#[cfg(test)]
mod rate_tests {
    #[test]
    fn exchange_rates_have_nine_decimals() {
        assert_eq!(super::exchange_rate_text("1"), "1.000000000");
        assert_eq!(super::exchange_rate_text("0.92"), "0.920000000");
        assert_eq!(super::exchange_rate_text("151.5"), "151.500000000");
        assert_eq!(super::exchange_rate_text("0.3071234567891"), "0.307123457");
    }
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
