//! What every Books handler shares: resolving the organisation, firing webhooks after the
//! work is done, timestamps, list paging/sorting, and custom field values.

use std::cmp::Ordering;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{
    body::{BooksError, Fields, Query},
    store::{CustomFieldDef, CustomValue, Event, Org},
};
use crate::{clock::Clock, state::AppState, webhooks};

/// Runs `work` on the organisation named by `organization_id`, then queues the webhooks it
/// collected. Missing id → 400 code 2; unknown id → 401 code 57 (as Books answers a wrong org).
pub fn with_org<R>(state: &AppState, query: &Query, work: impl FnOnce(&mut Org, &Clock, &mut Vec<Event>) -> Result<R, BooksError>) -> Result<R, BooksError> {
    let org_id = query.organization_id()?.to_string();
    let mut guard = state.world();
    let world = &mut *guard;
    let org = world.books.orgs.get_mut(&org_id).ok_or_else(unknown_org)?;
    org.ensure_indexes();
    let mut events = Vec::new();
    let out = work(org, &state.clock, &mut events)?;
    for e in &events {
        webhooks::books_event(state, &world.books_webhooks, &org_id, e.event, e.key, &e.body);
    }
    Ok(out)
}

/// The error for an organisation id the caller has no access to.
pub fn unknown_org() -> BooksError {
    BooksError { status: StatusCode::UNAUTHORIZED, code: 57, message: "You are not authorized to perform this operation".into() }
}

/// Books' timestamp for a millisecond instant.
pub fn stamp(clock: &Clock, ms: i64) -> String {
    clock.books_datetime(jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

/// A strictly increasing "now" for a record: never equal to or before `previous`.
pub fn touch(clock: &Clock, previous: i64) -> i64 {
    clock.now_ms().max(previous + 1)
}

/// Paging parameters read from the query.
#[derive(Debug, Clone)]
pub struct Paging {
    /// 1-based page.
    pub page: usize,
    /// Rows per page (≤ 200).
    pub per_page: usize,
    /// Sort column as asked (or the default).
    pub sort_column: String,
    /// `A` or `D`.
    pub descending: bool,
}

impl Paging {
    /// Reads `page`, `per_page`, `sort_column`, `sort_order`; `allowed` lists sortable
    /// columns (the first is the default).
    pub fn read(q: &Query, allowed: &[&str]) -> Result<Paging, BooksError> {
        let page = q.number("page")?.unwrap_or(1);
        let per_page = q.number("per_page")?.unwrap_or(200);
        if page == 0 {
            return Err(BooksError::invalid("page"));
        }
        if per_page == 0 {
            return Err(BooksError::invalid("per_page"));
        }
        let sort_column = match q.get("sort_column") {
            None => allowed.first().copied().unwrap_or("created_time").to_string(),
            Some(c) if allowed.contains(&c) => c.to_string(),
            Some(_) => return Err(BooksError::invalid("sort_column")),
        };
        let descending = match q.get("sort_order") {
            None => false,
            Some("A") | Some("ascending") => false,
            Some("D") | Some("descending") => true,
            Some(_) => return Err(BooksError::invalid("sort_order")),
        };
        Ok(Paging { page: page as usize, per_page: per_page.min(200) as usize, sort_column, descending })
    }

    /// Sorts `rows` with `cmp` (ascending), reversing for `D`, and cuts the page.
    /// Returns the page and whether more rows follow.
    pub fn cut<T>(&self, mut rows: Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) -> (Vec<T>, bool) {
        let order = |a: &T, b: &T| if self.descending { cmp(b, a) } else { cmp(a, b) };
        let start = (self.page - 1).saturating_mul(self.per_page);
        let end = start.saturating_add(self.per_page);
        let has_more = rows.len() > end;
        // Only the rows up to the end of this page need sorting: pick them in linear time
        // first, so a page of 10 from 50,000 invoices does not sort all 50,000.
        if has_more {
            rows.select_nth_unstable_by(end, order);
            rows.truncate(end);
        }
        rows.sort_by(order);
        let page: Vec<T> = rows.into_iter().skip(start).take(self.per_page).collect();
        (page, has_more)
    }

    /// The page of rows already in list order (ascending or descending as asked), and
    /// whether more follow: reads only up to the row after the page.
    pub fn walk<T>(&self, mut rows: impl Iterator<Item = T>) -> (Vec<T>, bool) {
        let start = (self.page - 1).saturating_mul(self.per_page);
        let page: Vec<T> = rows.by_ref().skip(start).take(self.per_page).collect();
        let more = page.len() == self.per_page && rows.next().is_some();
        (page, more)
    }

    /// The `page_context` object (an object, as real Books returns it).
    pub fn context(&self, has_more: bool, report_name: &str, applied_filter: &str) -> Value {
        json!({
            "page": self.page,
            "per_page": self.per_page,
            "has_more_page": has_more,
            "report_name": report_name,
            "applied_filter": applied_filter,
            "sort_column": self.sort_column,
            "sort_order": if self.descending { "D" } else { "A" },
            "search_criteria": [],
        })
    }
}

/// The status a list is filtered by, from `status` or `filter_by=Status.X`.
///
/// `spec_statuses` is the spec's enum for `status` (anything else is refused);
/// `emulated` are the statuses this entity can actually have (a valid spec status the
/// emulator never assigns simply matches nothing). `filter_by` must be `Status.All` or
/// `Status.<emulated>`.
pub fn status_filter(q: &Query, spec_statuses: &[&str], emulated: &[&str]) -> Result<Option<String>, BooksError> {
    if let Some(s) = q.get("status")
        && !spec_statuses.contains(&s)
    {
        return Err(BooksError::invalid("status"));
    }
    let from_filter = match q.get("filter_by") {
        None => None,
        Some(f) => {
            let s = f.strip_prefix("Status.").map(str::to_lowercase).ok_or_else(|| BooksError::invalid("filter_by"))?;
            if s != "all" && !emulated.contains(&s.as_str()) {
                return Err(BooksError::invalid("filter_by"));
            }
            Some(s)
        }
    };
    Ok(q.get("status").map(str::to_string).or(from_filter).filter(|s| s != "all"))
}

/// A predicate on a text field.
pub type TextFilter = Box<dyn Fn(&str) -> bool>;

/// Case-insensitive text filter with Books' `x`, `x_startswith`, `x_contains` variants.
/// Returns `None` when the query has none of them.
pub fn text_filter(q: &Query, field: &str) -> Option<TextFilter> {
    if let Some(v) = q.get(field) {
        let v = v.to_lowercase();
        // Exact lookups (`sku=`, `email=`) run over every row: compare without allocating
        // when both sides are ASCII, which they almost always are.
        return Some(Box::new(move |s: &str| if s.is_ascii() && v.is_ascii() { s.eq_ignore_ascii_case(&v) } else { s.to_lowercase() == v }));
    }
    // The variants also run over every row: ASCII text (nearly all of it) is compared in
    // place, anything else lower-cased first.
    if let Some(v) = q.get(&format!("{field}_startswith")) {
        let v = v.to_lowercase();
        return Some(Box::new(move |s: &str| {
            if s.is_ascii() && v.is_ascii() {
                s.len() >= v.len() && s.as_bytes()[..v.len()].eq_ignore_ascii_case(v.as_bytes())
            } else {
                s.to_lowercase().starts_with(&v)
            }
        }));
    }
    if let Some(v) = q.get(&format!("{field}_contains")) {
        let v = v.to_lowercase();
        return Some(Box::new(move |s: &str| {
            if s.is_ascii() && v.is_ascii() {
                v.is_empty() || s.as_bytes().windows(v.len()).any(|w| w.eq_ignore_ascii_case(v.as_bytes()))
            } else {
                s.to_lowercase().contains(&v)
            }
        }));
    }
    None
}

/// `last_modified_time` filter: only records modified at or after the given instant.
pub fn modified_since(q: &Query) -> Result<Option<i64>, BooksError> {
    match q.get("last_modified_time") {
        None => Ok(None),
        Some(s) => crate::clock::parse_datetime(s).map(|t| Some(t.as_millisecond())).ok_or_else(|| BooksError::invalid("last_modified_time")),
    }
}

/// Resolves `custom_fields[{customfield_id|api_name|label|index, value}]` for `entity`
/// and merges them into `current` (a field given twice keeps the last value).
pub fn read_custom_fields(org: &Org, entity: &str, body: &Map<String, Value>, current: &mut Vec<CustomValue>) -> Result<(), BooksError> {
    let Some(given) = body.opt_objects("custom_fields")? else {
        return Ok(());
    };
    for cf in given {
        let def = find_custom_field(org, entity, cf)?;
        let value = match cf.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(BooksError::invalid("custom_fields")),
        };
        match current.iter_mut().find(|c| c.customfield_id == def.customfield_id) {
            Some(c) => c.value = value,
            None => current.push(CustomValue { customfield_id: def.customfield_id.clone(), value }),
        }
    }
    Ok(())
}

fn find_custom_field<'a>(org: &'a Org, entity: &str, cf: &Map<String, Value>) -> Result<&'a CustomFieldDef, BooksError> {
    let defs = || org.custom_fields.iter().filter(|d| d.entity == entity);
    let found = if let Some(id) = cf.opt_str("customfield_id")? {
        defs().find(|d| d.customfield_id == id)
    } else if let Some(api) = cf.opt_str("api_name")? {
        defs().find(|d| d.api_name == api)
    } else if let Some(label) = cf.opt_str("label")? {
        defs().find(|d| d.label == label)
    } else if let Some(index) = cf.opt_int("index")? {
        defs().find(|d| d.index == index)
    } else {
        None
    };
    found.ok_or_else(|| BooksError::invalid("custom_fields"))
}

/// Renders stored custom values with their definitions.
pub fn custom_fields_json(org: &Org, values: &[CustomValue]) -> Value {
    Value::Array(
        values
            .iter()
            .filter_map(|v| {
                let def = org.custom_fields.iter().find(|d| d.customfield_id == v.customfield_id)?;
                Some(json!({
                    "customfield_id": def.customfield_id,
                    "index": def.index,
                    "label": def.label,
                    "api_name": def.api_name,
                    "data_type": def.data_type,
                    "value": v.value,
                }))
            })
            .collect(),
    )
}

/// The custom field an upsert names in `X-Unique-Identifier-Key` (api name or label),
/// which must be a unique field of `entity`.
pub fn unique_field<'a>(org: &'a Org, entity: &str, key: &str) -> Result<&'a CustomFieldDef, BooksError> {
    org.custom_fields
        .iter()
        .find(|d| d.entity == entity && (d.api_name == key || d.label == key) && d.is_unique)
        .ok_or_else(|| BooksError::invalid("X-Unique-Identifier-Key"))
}

/// The record of `entity` whose unique custom field `def` holds `value` (the lowest id
/// when several do): the record an upsert keyed by `def` names.
pub fn holder_of(org: &Org, entity: &str, def: &CustomFieldDef, value: &str) -> Option<String> {
    org.custom_holder(entity, &def.customfield_id, value, None).cloned()
}

/// An upsert's body `b` with its key field `def` set to `value` (added to the body's
/// `custom_fields`), as the create or update it becomes.
pub fn upsert_body(b: &Map<String, Value>, def: &CustomFieldDef, value: &str) -> Result<Map<String, Value>, BooksError> {
    let mut b = b.clone();
    let mut cfs = b.opt_objects("custom_fields")?.map(|v| v.into_iter().map(|m| Value::Object(m.clone())).collect::<Vec<_>>()).unwrap_or_default();
    cfs.push(json!({"customfield_id": def.customfield_id, "value": value}));
    b.insert("custom_fields".into(), Value::Array(cfs));
    Ok(b)
}

/// Checks every unique custom field of `values` against the other records of `entity`
/// (all but `except`), through the organisation's custom value index.
pub fn check_unique_custom(org: &Org, entity: &str, values: &[CustomValue], except: Option<&str>) -> Result<(), BooksError> {
    for v in values {
        if let Some(def) = org.custom_fields.iter().find(|d| d.entity == entity && d.customfield_id == v.customfield_id && d.is_unique)
            && !v.value.is_empty()
            && org.custom_holder(entity, &def.customfield_id, &v.value, except).is_some()
        {
            return Err(BooksError::duplicate(format!("The value \"{}\" for {} already exists.", v.value, def.label)));
        }
    }
    Ok(())
}

/// Upsert headers: `(key, value, upsert)` when `X-Unique-Identifier-Key` is present.
pub fn upsert_headers(headers: &axum::http::HeaderMap) -> Result<Option<(String, String, bool)>, BooksError> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(key) = get("x-unique-identifier-key") else {
        return Ok(None);
    };
    let value = get("x-unique-identifier-value").filter(|v| !v.is_empty()).ok_or_else(|| BooksError::missing("X-Unique-Identifier-Value"))?;
    let upsert = matches!(get("x-upsert").as_deref(), Some("true"));
    Ok(Some((key, value, upsert)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_of_a_cut_equals_the_same_slice_of_a_full_sort() {
        // Values with many ties, broken by position, as lists break ties by id.
        let rows: Vec<(u32, u32)> = (0..1_000u32).map(|i| ((i * 7919) % 97, i)).collect();
        for descending in [false, true] {
            let mut sorted = rows.clone();
            sorted.sort();
            if descending {
                sorted.reverse();
            }
            for per_page in [1usize, 10, 200] {
                let mut seen = Vec::new();
                for page in 1.. {
                    let p = Paging { page, per_page, sort_column: String::new(), descending };
                    let (rows_on_page, more) = p.cut(rows.clone(), |a, b| a.cmp(b));
                    seen.extend(rows_on_page);
                    if !more {
                        break;
                    }
                }
                assert_eq!(seen, sorted, "per_page {per_page}, descending {descending}");
            }
        }
    }
}
