//! `GET /{module}/search`: criteria, email, phone or word search.
//!
//! Zoho searches an index that lags behind writes; records written less than
//! `search_index_lag_ms` ago (emulator clock) are not found yet. At most 2,000 results
//! can be paged through.

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    crm::{
        criteria::{self, CriteriaError, Node},
        list, reply,
        schema::{Kind, Module},
    },
    errors::crm_error,
    state::AppState,
};

/// Most results a search can reach.
pub const RESULT_LIMIT: usize = 2000;

fn invalid_query(details: Value) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "Invalid query formed", details)
}

enum Query {
    Criteria(Node),
    Email(String),
    Phone(String),
    Word(String),
}

fn matches(module: &Module, query: &Query, fields: &serde_json::Map<String, Value>) -> bool {
    let any_field = |kinds: &dyn Fn(Kind) -> bool, needle: &str| {
        let needle = needle.to_lowercase();
        module
            .fields
            .iter()
            .filter(|f| kinds(f.kind))
            .any(|f| fields.get(f.api_name).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().contains(&needle)))
    };
    match query {
        Query::Criteria(node) => node.matches(module, fields),
        Query::Email(e) => any_field(&|k| k == Kind::Email, e),
        Query::Phone(p) => any_field(&|k| k == Kind::Phone, p),
        Query::Word(w) => any_field(&|k| k.is_text() || matches!(k, Kind::Picklist(_)), w),
    }
}

/// `GET /{module}/search`.
pub async fn search(State(state): State<AppState>, Path(module): Path<String>, RawQuery(query): RawQuery) -> Response {
    let params = reply::params(query.as_deref());
    match run(&state, &module, &params) {
        Ok(r) | Err(r) => r,
    }
}

/// The `approval_state` values the spec allows; every emulated record is `approved`.
const APPROVAL_STATES: [&str; 15] = [
    "approval_process_pending",
    "webform_invalid",
    "review_process_pending",
    "webform_invalid_approval",
    "zia_vision_validation",
    "review_process_rejected",
    "webform_unapproved",
    "email_parser_waiting",
    "approved",
    "merge_pending",
    "email_parser_rejected",
    "zia_vision_rejected",
    "zia_vision_pending",
    "approval_process_rejected",
    "webform_double_optin",
];

fn run(state: &AppState, module: &str, params: &reply::Params) -> Result<Response, Response> {
    let module = reply::module(module)?;
    // module_search.json documents a bad parameter value as INVALID_REQUEST.
    let refuse = |name: &str| crm_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "invalid value given for a parameter", json!({"param_name": name}));
    // Paging is checked on every search, whatever else the request holds.
    let per_page = reply::int_param(params, "per_page", 200, 1, 200).map_err(|_| refuse("per_page"))? as usize;
    let page = reply::int_param(params, "page", 1, 1, 100_000).map_err(|_| refuse("page"))? as usize;
    // `converted` only matters for Leads, which the emulator does not serve; still checked.
    reply::enum_param(params, "converted", &["true", "false", "both"], refuse)?;
    let approval_state = reply::enum_param(params, "approval_state", &APPROVAL_STATES, refuse)?;
    // One of criteria/email/phone/word is needed (in that order of priority); a parameter given
    // empty is no criterion at all, so `approval_state` alone or `email=` is refused too.
    let given = |name: &str| params.get(name).filter(|v| !v.trim().is_empty());
    let query = if let Some(text) = given("criteria") {
        match criteria::parse(text) {
            Ok(node) => {
                if let Some(bad) = node.fields().into_iter().find(|f| *f != "id" && state.world().crm.field_kind(module, f).is_none()) {
                    return Err(invalid_query(json!({"api_name": bad, "reason": "the given field is not available in module"})));
                }
                Query::Criteria(node)
            }
            Err(CriteriaError::TooMany) => {
                return Err(crm_error(StatusCode::BAD_REQUEST, "CRITERIA_LIMIT_EXCEEDED", "no of criterium that can be given exceed the limit 15", json!({})));
            }
            Err(CriteriaError::Operator(field, op)) => {
                return Err(invalid_query(json!({"operator": op, "api_name": field, "reason": "invalid operator found"})));
            }
            Err(CriteriaError::Syntax(reason)) => return Err(invalid_query(json!({"api_name": "criteria", "reason": reason}))),
        }
    } else if let Some(email) = given("email") {
        Query::Email(email.clone())
    } else if let Some(phone) = given("phone") {
        if phone.trim().chars().count() < 3 {
            return Err(invalid_query(json!({"api_name": "phone", "reason": "the phone should have at least 3 characters"})));
        }
        Query::Phone(phone.clone())
    } else if let Some(word) = given("word") {
        if word.trim().chars().count() < 2 {
            return Err(invalid_query(json!({"api_name": "word", "reason": "the word should have at least 2 characters"})));
        }
        Query::Word(word.clone())
    } else {
        return Err(crm_error(
            StatusCode::BAD_REQUEST,
            "EXPECTED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_names": ["criteria", "email", "phone", "word"]}),
        ));
    };
    // Every emulated record is approved, so any other state finds nothing.
    if approval_state.is_some_and(|s| s != "approved") {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    }
    let fields = list::fields_param(params, false)?;
    let skip = (page - 1) * per_page;
    if skip >= RESULT_LIMIT {
        return Err(crm_error(StatusCode::BAD_REQUEST, "LIMIT_REACHED", "maximum response iteration limit reached", json!({"limit": "2000"})));
    }
    let visible_before = state.clock.now_ms() - state.config.search_index_lag_ms as i64;
    let world = state.world();
    let Some(store) = world.crm.modules.get(module.api_name) else {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    };
    let mut rows: Vec<Value> = store
        .records
        .values()
        .filter(|r| r.modified_ms <= visible_before)
        .filter(|r| matches(module, &query, &r.fields))
        .take(RESULT_LIMIT)
        .skip(skip)
        .take(per_page + 1)
        .map(|r| if fields.is_empty() { Value::Object(r.fields.clone()) } else { reply::project(&r.fields, &fields) })
        .collect();
    drop(world);
    if rows.is_empty() {
        return Ok(reply::empty(StatusCode::NO_CONTENT));
    }
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let info = json!({"per_page": per_page, "count": rows.len(), "page": page, "more_records": more});
    Ok(reply::page(rows, info))
}
