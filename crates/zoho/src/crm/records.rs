//! Record reads and writes: list (as a stream), get, insert, update, upsert, delete,
//! related lists and field metadata.
//!
//! CRM requires `fields` on list calls and allows at most 50; longer field lists are
//! split into several reads merged by record id. Writes are split into batches of 100.
//! 204 (nothing) and 304 (not modified since) are empty results, not errors.

use std::collections::HashMap;

use futures_core::Stream;
use futures_util::{TryStreamExt, stream};
use jiff::Timestamp;
use reqwest::Method;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};

use super::{
    Crm, MAX_BATCH, MAX_FIELDS, MAX_PER_PAGE, format_time,
    models::{DeletedRecord, FieldMeta, Page, WriteResult},
};
use crate::{
    error::{Api, Error, Result},
    transport::Request,
};

/// Sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Oldest / smallest first.
    Asc,
    /// Newest / largest first.
    Desc,
}

/// What to list and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Field API names to return (required by CRM; more than 50 are read in several passes).
    pub fields: Vec<String>,
    /// Records per page (1–200, default 200).
    pub per_page: u32,
    /// `id`, `Created_Time` or `Modified_Time`.
    pub sort_by: Option<String>,
    /// Sort order.
    pub sort_order: Option<SortOrder>,
    /// A custom view id.
    pub cvid: Option<String>,
    /// Only records modified after this (`If-Modified-Since`); nothing newer is an empty list.
    pub modified_since: Option<Timestamp>,
}

impl ListParams {
    /// Lists these fields, 200 per page.
    pub fn new<I, S>(fields: I) -> ListParams
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ListParams {
            fields: fields.into_iter().map(Into::into).collect(),
            per_page: MAX_PER_PAGE,
            sort_by: None,
            sort_order: None,
            cvid: None,
            modified_since: None,
        }
    }

    /// Sets the page size.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page.clamp(1, MAX_PER_PAGE);
        self
    }

    /// Sorts by a field.
    pub fn sort(mut self, by: impl Into<String>, order: SortOrder) -> Self {
        self.sort_by = Some(by.into());
        self.sort_order = Some(order);
        self
    }

    /// Only records modified after `since`.
    pub fn modified_since(mut self, since: Timestamp) -> Self {
        self.modified_since = Some(since);
        self
    }
}

/// Options of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Automation to run: `None` runs all (Zoho's default), `Some(vec![])` none, or a
    /// subset of `workflow`, `approval`, `blueprint`.
    pub trigger: Option<Vec<String>>,
    /// Update only records not modified after this (`If-Unmodified-Since`, whole
    /// seconds, as CRM's `Modified_Time`). A record changed since answers, in its own
    /// result, `ALREADY_MODIFIED` with its current `Modified_Time`
    /// ([`WriteResult::is_already_modified`]) and is left as it is. For updates and
    /// upserts; CRM ignores it on inserts.
    pub unmodified_since: Option<Timestamp>,
}

impl WriteOptions {
    /// Runs no workflow, approval or blueprint (what a sync engine usually wants, to
    /// avoid echo loops).
    pub fn no_triggers() -> WriteOptions {
        WriteOptions { trigger: Some(Vec::new()), ..WriteOptions::default() }
    }

    /// The same options, writing only records not modified after `since` (read it from
    /// the record's `Modified_Time`): a change someone made after that read is not
    /// overwritten.
    pub fn unmodified_since(mut self, since: Timestamp) -> WriteOptions {
        self.unmodified_since = Some(since);
        self
    }
}

/// Splits field names into groups of at most 50, the first one the caller's first 50.
fn field_chunks(fields: &[String]) -> Result<Vec<String>> {
    if fields.is_empty() {
        return Err(Error::InvalidInput("CRM reads need at least one field name".into()));
    }
    let mut unique: Vec<&str> = Vec::new();
    for f in fields {
        if !unique.contains(&f.as_str()) {
            unique.push(f);
        }
    }
    Ok(unique.chunks(MAX_FIELDS).map(|c| c.join(",")).collect())
}

struct ListState {
    crm: Crm,
    path: String,
    chunks: Vec<String>,
    params: ListParams,
    page: u32,
    page_token: Option<String>,
    done: bool,
    /// Module whose `?ids=` reads fill the extra field chunks (`None` for related lists).
    module: Option<String>,
}

impl ListState {
    async fn next_page(&mut self) -> Result<Vec<Map<String, Value>>> {
        let p = &self.params;
        let mut req = Request::new(Api::Crm, Method::GET, self.path.clone()).query("fields", self.chunks[0].clone()).query("per_page", p.per_page.to_string());
        // `page` works for the first 2,000 records; beyond it only `page_token` does.
        let beyond_discrete = (self.page - 1) * p.per_page >= 2_000;
        match (&self.page_token, beyond_discrete) {
            (Some(token), true) => req = req.query("page_token", token.clone()),
            _ => req = req.query("page", self.page.to_string()),
        }
        if let Some(s) = &p.sort_by {
            req = req.query("sort_by", s.clone());
        }
        if let Some(o) = p.sort_order {
            req = req.query("sort_order", if o == SortOrder::Asc { "asc" } else { "desc" });
        }
        if let Some(c) = &p.cvid {
            req = req.query("cvid", c.clone());
        }
        if let Some(since) = p.modified_since {
            req = req.header("If-Modified-Since", format_time(since));
        }
        let resp = self.crm.transport().send(&req).await?;
        if resp.is_empty() {
            self.done = true;
            return Ok(Vec::new());
        }
        let page: Page<Map<String, Value>> = resp.json(&self.path)?;
        self.done = !page.info.more_records || page.data.is_empty();
        self.page += 1;
        self.page_token = page.info.next_page_token.clone();
        let mut rows = page.data;
        if self.chunks.len() > 1 {
            let module = self.module.clone().ok_or_else(|| Error::InvalidInput(format!("related lists read at most {MAX_FIELDS} fields")))?;
            self.crm.fill_chunks(&module, &mut rows, &self.chunks[1..]).await?;
        }
        Ok(rows)
    }
}

fn page_stream(state: ListState) -> impl Stream<Item = Result<Vec<Map<String, Value>>>> + Send + 'static {
    stream::try_unfold(state, |mut st| async move {
        if st.done {
            return Ok(None);
        }
        let rows = st.next_page().await?;
        Ok(Some((rows, st)))
    })
}

fn decode_rows<T: DeserializeOwned + Send + 'static>(
    pages: impl Stream<Item = Result<Vec<Map<String, Value>>>> + Send + 'static,
) -> impl Stream<Item = Result<T>> + Send + 'static {
    pages
        .map_ok(|rows| stream::iter(rows.into_iter().map(|row| serde_json::from_value::<T>(Value::Object(row)).map_err(|e| Error::decode("CRM record", e)))))
        .try_flatten()
}

impl Crm {
    /// Every record of `module`, page after page, as a stream of `T` (use
    /// [`Record`](super::models::Record) for "any fields").
    pub fn list<T: DeserializeOwned + Send + 'static>(&self, module: &str, params: ListParams) -> impl Stream<Item = Result<T>> + Send + 'static {
        decode_rows(self.list_pages(module, params))
    }

    /// The pages of a list as raw JSON objects.
    pub fn list_pages(&self, module: &str, params: ListParams) -> impl Stream<Item = Result<Vec<Map<String, Value>>>> + Send + 'static {
        let chunks = field_chunks(&params.fields);
        let crm = self.clone();
        let module = module.to_string();
        stream::once(async move { chunks })
            .map_ok(move |chunks| {
                page_stream(ListState {
                    crm: crm.clone(),
                    path: format!("/crm/v8/{module}"),
                    chunks,
                    params: params.clone(),
                    page: 1,
                    page_token: None,
                    done: false,
                    module: Some(module.clone()),
                })
            })
            .try_flatten()
    }

    /// Records of a related list (`/crm/v8/{module}/{id}/{related_list}`), as a stream.
    pub fn related<T: DeserializeOwned + Send + 'static>(
        &self,
        module: &str,
        id: &str,
        related_list: &str,
        params: ListParams,
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        let chunks = field_chunks(&params.fields);
        let crm = self.clone();
        let path = format!("/crm/v8/{module}/{id}/{related_list}");
        let pages = stream::once(async move { chunks })
            .map_ok(move |chunks| {
                page_stream(ListState {
                    crm: crm.clone(),
                    path: path.clone(),
                    chunks,
                    params: params.clone(),
                    page: 1,
                    page_token: None,
                    done: false,
                    module: None,
                })
            })
            .try_flatten();
        decode_rows(pages)
    }

    /// Reads the remaining field groups of `rows` with `?ids=` and merges them in.
    async fn fill_chunks(&self, module: &str, rows: &mut [Map<String, Value>], chunks: &[String]) -> Result<()> {
        let ids: Vec<String> = rows.iter().filter_map(|r| r.get("id").and_then(Value::as_str).map(String::from)).collect();
        let mut extra: HashMap<String, Map<String, Value>> = HashMap::new();
        for chunk in chunks {
            for id_batch in ids.chunks(MAX_BATCH) {
                let req = Request::new(Api::Crm, Method::GET, format!("/crm/v8/{module}")).query("ids", id_batch.join(",")).query("fields", chunk.clone());
                let resp = self.transport().send(&req).await?;
                if resp.is_empty() {
                    continue;
                }
                let page: Page<Map<String, Value>> = resp.json(module)?;
                for row in page.data {
                    if let Some(id) = row.get("id").and_then(Value::as_str).map(String::from) {
                        extra.entry(id).or_default().extend(row);
                    }
                }
            }
        }
        for row in rows.iter_mut() {
            if let Some(more) = row.get("id").and_then(Value::as_str).and_then(|id| extra.remove(id)) {
                for (k, v) in more {
                    row.entry(k).or_insert(v);
                }
            }
        }
        Ok(())
    }

    /// One record by id, with these fields (all fields when empty). `None` when CRM
    /// reports no such record.
    pub async fn get<T: DeserializeOwned>(&self, module: &str, id: &str, fields: &[&str]) -> Result<Option<T>> {
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let chunks = if fields.is_empty() { vec![String::new()] } else { field_chunks(&fields)? };
        let mut merged: Option<Map<String, Value>> = None;
        for chunk in chunks {
            let mut req = Request::new(Api::Crm, Method::GET, format!("/crm/v8/{module}/{id}"));
            if !chunk.is_empty() {
                req = req.query("fields", chunk);
            }
            let resp = match self.transport().send(&req).await {
                Ok(resp) => resp,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            if resp.is_empty() {
                return Ok(None);
            }
            let page: Page<Map<String, Value>> = resp.json(module)?;
            let Some(row) = page.data.into_iter().next() else { return Ok(None) };
            match &mut merged {
                None => merged = Some(row),
                Some(m) => m.extend(row),
            }
        }
        merged.map(|m| serde_json::from_value(Value::Object(m)).map_err(|e| Error::decode("CRM record", e))).transpose()
    }

    async fn write<T: Serialize>(
        &self,
        method: Method,
        path: String,
        records: &[T],
        options: &WriteOptions,
        extra: Map<String, Value>,
        idempotent: bool,
    ) -> Result<Vec<WriteResult>> {
        let mut results = Vec::with_capacity(records.len());
        for batch in records.chunks(MAX_BATCH) {
            let mut body = extra.clone();
            if let Some(t) = &options.trigger {
                body.insert("trigger".into(), json!(t));
            }
            body.insert("data".into(), serde_json::to_value(batch).map_err(|e| Error::InvalidInput(e.to_string()))?);
            let mut req = Request::new(Api::Crm, method.clone(), path.clone()).json(&body)?.idempotent(idempotent);
            if let Some(since) = options.unmodified_since {
                req = req.header("If-Unmodified-Since", format_time(since));
            }
            let sent = async {
                let page: Page<WriteResult> = self.transport().send(&req).await?.json(&path)?;
                if page.data.len() != batch.len() {
                    return Err(Error::decode(&path, format!("{} results for {} records", page.data.len(), batch.len())));
                }
                Ok(page.data)
            };
            match sent.await {
                Ok(data) => results.extend(data),
                Err(e) if results.is_empty() => return Err(e),
                Err(e) => return Err(Error::PartialBatch { completed: results, source: Box::new(e) }),
            }
        }
        Ok(results)
    }

    /// Inserts records (batches of 100). Not idempotent: after a dropped answer the
    /// error is [`Error::OutcomeUnknown`]; look the records up before inserting again.
    pub async fn insert<T: Serialize>(&self, module: &str, records: &[T], options: &WriteOptions) -> Result<Vec<WriteResult>> {
        self.write(Method::POST, format!("/crm/v8/{module}"), records, options, Map::new(), false).await
    }

    /// Updates records; each must carry its `id`.
    pub async fn update<T: Serialize>(&self, module: &str, records: &[T], options: &WriteOptions) -> Result<Vec<WriteResult>> {
        self.write(Method::PUT, format!("/crm/v8/{module}"), records, options, Map::new(), true).await
    }

    /// Inserts or updates records matched on `duplicate_check_fields` (in that order;
    /// empty: the module's unique fields). Repeating an upsert gives the same result, so
    /// it is retried like a read.
    pub async fn upsert<T: Serialize>(&self, module: &str, records: &[T], duplicate_check_fields: &[&str], options: &WriteOptions) -> Result<Vec<WriteResult>> {
        let mut extra = Map::new();
        if !duplicate_check_fields.is_empty() {
            extra.insert("duplicate_check_fields".into(), json!(duplicate_check_fields));
        }
        self.write(Method::POST, format!("/crm/v8/{module}/upsert"), records, options, extra, true).await
    }

    /// Deletes records by id (batches of 100).
    pub async fn delete(&self, module: &str, ids: &[&str]) -> Result<Vec<WriteResult>> {
        let mut results = Vec::with_capacity(ids.len());
        for batch in ids.chunks(MAX_BATCH) {
            let path = format!("/crm/v8/{module}");
            let req = Request::new(Api::Crm, Method::DELETE, path.clone()).query("ids", batch.join(","));
            let resp = self.transport().send(&req).await?;
            if resp.is_empty() {
                continue;
            }
            let page: Page<WriteResult> = resp.json(&path)?;
            results.extend(page.data);
        }
        Ok(results)
    }

    /// Links records to a record's related list (`PUT /{module}/{id}/{related_list}`),
    /// e.g. products to a price book with their `list_price`.
    pub async fn relate<T: Serialize>(&self, module: &str, id: &str, related_list: &str, records: &[T]) -> Result<Vec<WriteResult>> {
        self.write(Method::PUT, format!("/crm/v8/{module}/{id}/{related_list}"), records, &WriteOptions::default(), Map::new(), true).await
    }

    /// Deleted records of a module (`kind`: `all`, `recycle` or `permanent`), newest
    /// first, as a stream.
    pub fn deleted(&self, module: &str, kind: &str) -> impl Stream<Item = Result<DeletedRecord>> + Send + 'static {
        let crm = self.clone();
        let path = format!("/crm/v8/{module}/deleted");
        let kind = kind.to_string();
        stream::try_unfold((1u32, false), move |(page, done)| {
            let crm = crm.clone();
            let path = path.clone();
            let kind = kind.clone();
            async move {
                if done {
                    return Ok::<_, Error>(None);
                }
                let req = Request::new(Api::Crm, Method::GET, path.clone())
                    .query("type", kind)
                    .query("page", page.to_string())
                    .query("per_page", MAX_PER_PAGE.to_string());
                let resp = crm.transport().send(&req).await?;
                if resp.is_empty() {
                    return Ok(None);
                }
                let body: Page<DeletedRecord> = resp.json(&path)?;
                let done = !body.info.more_records || body.data.is_empty();
                Ok(Some((stream::iter(body.data.into_iter().map(Ok)), (page + 1, done))))
            }
        })
        .try_flatten()
    }

    /// Number of records in a module (`/actions/count`).
    pub async fn count(&self, module: &str) -> Result<u64> {
        let path = format!("/crm/v8/{module}/actions/count");
        let resp = self.transport().send(&Request::new(Api::Crm, Method::GET, path.clone())).await?;
        if resp.is_empty() {
            return Ok(0);
        }
        let body: Value = resp.json(&path)?;
        // The v8 spec types `count` as a string; accept a number too.
        match body.get("count") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| Error::decode(&path, "no count in the answer"))
    }

    /// Field metadata of a module.
    pub async fn fields(&self, module: &str) -> Result<Vec<FieldMeta>> {
        #[derive(serde::Deserialize)]
        struct Fields {
            #[serde(default)]
            fields: Vec<FieldMeta>,
        }
        let req = Request::new(Api::Crm, Method::GET, "/crm/v8/settings/fields").query("module", module);
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(Vec::new());
        }
        Ok(resp.json::<Fields>("settings/fields")?.fields)
    }
    /// The organisation's currencies (`/org/currencies`): rows with `iso_code`,
    /// `exchange_rate` (units per one unit of the home currency, as text), `is_base`.
    pub async fn org_currencies(&self) -> Result<Vec<Value>> {
        #[derive(serde::Deserialize)]
        struct Currencies {
            #[serde(default)]
            currencies: Vec<Value>,
        }
        let req = Request::new(Api::Crm, Method::GET, "/crm/v8/org/currencies");
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(Vec::new());
        }
        Ok(resp.json::<Currencies>("org/currencies")?.currencies)
    }
}

/// CRM's ways of saying "no such record" on a get.
fn is_not_found(e: &Error) -> bool {
    e.api().is_some_and(|a| {
        a.status == 404
            || (a.status == 400 && a.crm_code() == Some("INVALID_DATA") && (a.details.get("id").is_some() || a.details.get("resource_path_index").is_some()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_split_by_fifty() {
        let fields: Vec<String> = (0..120).map(|i| format!("F{i}")).collect();
        let chunks = field_chunks(&fields).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].split(',').count(), 50);
        assert_eq!(chunks[2].split(',').count(), 20);
        assert!(field_chunks(&[]).is_err());
    }
}
