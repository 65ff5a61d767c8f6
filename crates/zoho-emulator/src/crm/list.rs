//! Reading records: `GET /{module}` (pages and page tokens), `GET /{module}/{id}`,
//! `GET /{module}/actions/count` and `GET /{module}/deleted`.
//!
//! Zoho lets `page` reach only the first 2,000 records; past that a client must follow
//! `next_page_token`. Tokens here are stateless: they carry the sort key of the last
//! record served, the page number, the number of records walked, an expiry and a hash of
//! the parameters they were issued for, so walking is O(log n) per page and a token used
//! with other parameters is detected.

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use crate::{
    crm::{
        reply::{self, Params},
        store::{ModuleStore, SortBy},
    },
    errors::crm_error,
    state::AppState,
};

/// Most records reachable with `page`.
pub const DISCRETE_LIMIT: i64 = 2000;
/// Most records reachable with page tokens.
pub const TOKEN_LIMIT: i64 = 100_000;
/// How long a page token lives.
pub const TOKEN_TTL_MS: i64 = 86_400_000;

/// Where a page token resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    /// Sort key of the last record served.
    pub after: (i64, u64),
    /// The page the token leads to.
    pub page: i64,
    /// Records served before that page.
    pub walked: i64,
    /// Expiry, ms.
    pub expiry_ms: i64,
    /// Hash of the parameters it was issued for.
    pub params_hash: u64,
}

impl PageToken {
    /// The opaque string form.
    pub fn encode(&self) -> String {
        format!(
            "{:x}.{:x}.{:x}.{:x}.{:x}.{:x}",
            self.after.0 as u64, self.after.1, self.page as u64, self.walked as u64, self.expiry_ms as u64, self.params_hash
        )
    }

    /// Parses the string form.
    pub fn decode(s: &str) -> Option<PageToken> {
        let parts: Vec<u64> = s.split('.').map(|p| u64::from_str_radix(p, 16).ok()).collect::<Option<_>>()?;
        let [a, b, page, walked, expiry, hash] = parts.as_slice() else { return None };
        Some(PageToken { after: (*a as i64, *b), page: *page as i64, walked: *walked as i64, expiry_ms: *expiry as i64, params_hash: *hash })
    }
}

/// FNV-1a of the parameters a token is bound to.
fn params_hash(module: &str, params: &Params, ims: Option<i64>) -> u64 {
    let mut text = module.to_string();
    for name in ["fields", "sort_by", "sort_order", "per_page", "ids"] {
        text.push('|');
        text.push_str(params.get(name).map(String::as_str).unwrap_or(""));
    }
    text.push_str(&format!("|{ims:?}"));
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// The `fields` parameter, checked: required, at most 50.
pub fn fields_param(params: &Params, required: bool) -> Result<Vec<String>, Response> {
    let raw = params.get("fields").map(|s| s.trim()).unwrap_or("");
    if raw.is_empty() {
        return if required { Err(reply::required_param("fields")) } else { Ok(Vec::new()) };
    }
    let fields: Vec<String> = raw.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
    if fields.len() > 50 {
        return Err(crm_error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "Max field limit exceeded", json!({"limit": 50, "param_name": "fields"})));
    }
    Ok(fields)
}

/// `GET /{module}`.
pub async fn list(State(state): State<AppState>, Path(module): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    match list_inner(&state, &module, &reply::params(query.as_deref()), &headers) {
        Ok(r) | Err(r) => r,
    }
}

fn list_inner(state: &AppState, module: &str, params: &Params, headers: &HeaderMap) -> Result<Response, Response> {
    let module = reply::module(module)?;
    let fields = fields_param(params, true)?;
    let per_page = reply::int_param(params, "per_page", 200, 1, 200)?;
    let page = reply::int_param(params, "page", 1, 1, i64::MAX / 400)?;
    let sort = match params.get("sort_by").map(String::as_str) {
        None | Some("id") => SortBy::Id,
        Some("Created_Time") => SortBy::CreatedTime,
        Some("Modified_Time") => SortBy::ModifiedTime,
        Some(_) => return Err(reply::invalid_param("sort_by")),
    };
    let descending = match params.get("sort_order").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(reply::invalid_param("sort_order")),
    };
    let ids: Option<Vec<u64>> = match params.get("ids") {
        None => None,
        Some(raw) => Some(raw.split(',').map(|s| s.trim().parse::<u64>()).collect::<Result<_, _>>().map_err(|_| reply::invalid_param("ids"))?),
    };
    let ims = reply::time_header(headers, "If-Modified-Since")?;
    let now = state.clock.now_ms();
    let hash = params_hash(module.api_name, params, ims);

    let (after, page, walked) = match params.get("page_token") {
        Some(raw) => {
            let token = PageToken::decode(raw).ok_or_else(|| reply::invalid_param("page_token"))?;
            if token.expiry_ms < now {
                return Err(crm_error(StatusCode::BAD_REQUEST, "EXPIRED_VALUE", "the page token has expired", json!({"api_name": "page_token"})));
            }
            if token.params_hash != hash {
                return Err(crm_error(
                    StatusCode::BAD_REQUEST,
                    "TOKEN_BOUND_DATA_MISMATCH",
                    "the page token is bound to different parameters",
                    json!({"param_name": "page_token"}),
                ));
            }
            if token.walked >= TOKEN_LIMIT {
                return Err(crm_error(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_LIMIT_EXCEEDED",
                    "You can only get the first 100000 records using page_token param",
                    json!({"limit": TOKEN_LIMIT}),
                ));
            }
            (Some(token.after), token.page, token.walked)
        }
        None => {
            if page * per_page > DISCRETE_LIMIT {
                return Err(crm_error(
                    StatusCode::BAD_REQUEST,
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    "You can only get the first 2000 records without using page_token param",
                    json!({"limit": DISCRETE_LIMIT}),
                ));
            }
            (None, page, (page - 1) * per_page)
        }
    };
    let skip = if after.is_some() { 0 } else { walked as usize };

    let mut world = state.world();
    let store = world.crm.module_mut(module.api_name);
    let wanted = |r: &crate::crm::store::Record| ims.is_none_or(|t| r.modified_ms > t) && ids.as_ref().is_none_or(|ids| ids.contains(&r.id));
    let mut rows = Vec::with_capacity(per_page as usize);
    let mut last_key = None;
    let mut more = false;
    for record in store.ordered(sort, descending, after).filter(|r| wanted(r)).skip(skip) {
        if rows.len() == per_page as usize {
            more = true;
            break;
        }
        last_key = Some(ModuleStore::key(record, sort));
        rows.push(reply::project(&record.fields, &fields));
    }
    let any_at_all = ims.is_some() && store.records.values().any(wanted);
    drop(world);

    if rows.is_empty() {
        return Ok(if ims.is_some() && !any_at_all { reply::empty(StatusCode::NOT_MODIFIED) } else { reply::empty(StatusCode::NO_CONTENT) });
    }
    let mut info = json!({
        "call": false,
        "email": false,
        "per_page": per_page,
        "count": rows.len(),
        "page": page,
        "sort_by": sort.name(),
        "sort_order": if descending { "desc" } else { "asc" },
        "more_records": more,
    });
    if more && let Some(key) = last_key {
        let expiry_ms = now + TOKEN_TTL_MS;
        let token = PageToken { after: key, page: page + 1, walked: walked + rows.len() as i64, expiry_ms, params_hash: hash };
        info["next_page_token"] = json!(token.encode());
        info["page_token_expiry"] = json!(state.clock.crm_datetime(jiff::Timestamp::from_millisecond(expiry_ms).unwrap_or_default()));
    }
    Ok(reply::page(rows, info))
}

/// `GET /{module}/{id}`.
pub async fn get_one(State(state): State<AppState>, Path((module, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let module = match reply::module(&module) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let ims = match reply::time_header(&headers, "If-Modified-Since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let found = id.parse::<u64>().ok().and_then(|n| {
        let world = state.world();
        world.crm.record(module.api_name, n).map(|r| (r.modified_ms, Value::Object(r.fields.clone())))
    });
    match found {
        None => invalid_id(&id),
        Some((modified, _)) if ims.is_some_and(|t| modified <= t) => reply::empty(StatusCode::NOT_MODIFIED),
        Some((_, record)) => reply::json(StatusCode::OK, json!({"data": [record]})),
    }
}

/// Zoho's answer for an id that names no record.
pub fn invalid_id(id: &str) -> Response {
    crm_error(StatusCode::BAD_REQUEST, "INVALID_DATA", "the id given seems to be invalid", json!({"id": id, "resource_path_index": 1}))
}

/// `GET /{module}/actions/count`.
pub async fn count(State(state): State<AppState>, Path(module): Path<String>) -> Response {
    let module = match reply::module(&module) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let n = state.world().crm.modules.get(module.api_name).map_or(0, |m| m.records.len());
    reply::json(StatusCode::OK, json!({"count": n.to_string()}))
}

/// After this long in the recycle bin a deleted record is purged ("permanent").
pub const RECYCLE_MS: i64 = 60 * 86_400_000;

/// `GET /{module}/deleted?type=all|recycle|permanent`. `If-Modified-Since` keeps only records
/// deleted after that time (none → 304, as for lists); a malformed one is refused like on
/// every other read.
pub async fn deleted(State(state): State<AppState>, Path(module): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let params = reply::params(query.as_deref());
    let module = match reply::module(&module) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let kind = params.get("type").map(String::as_str).unwrap_or("all");
    if !matches!(kind, "all" | "recycle" | "permanent") {
        return reply::invalid_param("type");
    }
    let per_page = match reply::int_param(&params, "per_page", 200, 1, 200) {
        Ok(n) => n as usize,
        Err(r) => return r,
    };
    let page = match reply::int_param(&params, "page", 1, 1, 10_000) {
        Ok(n) => n as usize,
        Err(r) => return r,
    };
    let ims = match reply::time_header(&headers, "If-Modified-Since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = state.clock.now_ms();
    let world = state.world();
    let Some(store) = world.crm.modules.get(module.api_name) else {
        return reply::empty(if ims.is_some() { StatusCode::NOT_MODIFIED } else { StatusCode::NO_CONTENT });
    };
    // 304 only when nothing at all was deleted since; a page past the end is 204.
    let modified = ims.is_none_or(|t| store.deleted.iter().any(|d| d.deleted_ms > t));
    let mut rows: Vec<Value> = store
        .deleted
        .iter()
        .rev()
        .filter(|d| ims.is_none_or(|t| d.deleted_ms > t))
        .filter_map(|d| {
            let permanent = now - d.deleted_ms > RECYCLE_MS;
            let this = if permanent { "permanent" } else { "recycle" };
            if kind != "all" && kind != this {
                return None;
            }
            let deleted_time = state.clock.crm_datetime(jiff::Timestamp::from_millisecond(d.deleted_ms).unwrap_or_default());
            Some(if permanent {
                json!({"deleted_by": null, "id": d.id.to_string(), "display_name": null, "type": this,
                       "created_by": null, "deleted_time": deleted_time})
            } else {
                json!({"deleted_by": d.deleted_by, "id": d.id.to_string(), "display_name": d.display_name,
                       "type": this, "created_by": d.created_by, "deleted_time": deleted_time})
            })
        })
        .skip((page - 1) * per_page)
        .take(per_page + 1)
        .collect();
    drop(world);
    if rows.is_empty() {
        return reply::empty(if modified { StatusCode::NO_CONTENT } else { StatusCode::NOT_MODIFIED });
    }
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let info = json!({"per_page": per_page, "count": rows.len(), "page": page, "more_records": more});
    reply::page(rows, info)
}
