//! Zoho Books v3: organisations, contacts, items, taxes, currencies, templates,
//! invoices, estimates, customer payments, credit notes, price lists, and webhook payloads.
//!
//! Obtain a [`Books`] with [`Client::books`](crate::Client::books); every call carries
//! the connection's `organization_id`. Lists are `Stream`s that follow
//! `page_context.has_more_page`.

pub mod contacts;
pub mod creditnotes;
pub mod estimates;
pub mod invoices;
pub mod items;
pub mod models;
pub mod payments;
pub mod pricelists;
pub mod settings;
pub mod webhooks;

use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt, stream};
use jiff::{Timestamp, tz::TimeZone};
use reqwest::Method;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    client::Client,
    error::{Api, Error, Result},
    transport::{Request, Transport},
};

/// Handle on Zoho Books for one connection's organisation. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Books {
    client: Client,
}

/// Query parameters of a list (filters, sorting). `page` and `per_page` are managed by
/// the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    params: Vec<(String, String)>,
    per_page: Option<u32>,
}

impl ListQuery {
    /// No filters, 200 per page.
    pub fn new() -> ListQuery {
        ListQuery::default()
    }

    /// Adds any filter Books understands (`status`, `customer_id`, `reference_number`,
    /// `email`, `filter_by`, `search_text`, `sku`…).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Only entities modified at or after `since` (`last_modified_time`, on invoices,
    /// estimates and credit notes).
    pub fn modified_since(self, since: Timestamp) -> Self {
        self.param("last_modified_time", format_time(since))
    }

    /// Sorts by a column, ascending or not.
    pub fn sort(self, column: impl Into<String>, ascending: bool) -> Self {
        self.param("sort_column", column).param("sort_order", if ascending { "A" } else { "D" })
    }

    /// Page size (1–200).
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page.clamp(1, 200));
        self
    }
}

/// Books' timestamp format: `2024-05-10T01:10:47+0000` (offset without colon).
pub fn format_time(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// `page_context` of a list answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PageContext {
    /// Page number.
    #[serde(default)]
    pub page: u32,
    /// Page size.
    #[serde(default)]
    pub per_page: u32,
    /// Whether another page follows.
    #[serde(default)]
    pub has_more_page: bool,
    /// Everything else (`sort_column`, `applied_filter`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of an action endpoint: `{"code":0,"message":"…"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// 0 on success.
    pub code: i64,
    /// Zoho's message.
    #[serde(default)]
    pub message: String,
}

/// What an upsert by a unique custom field did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpsertOutcome {
    /// No record held the key value; Books created one (only with `X-Upsert: true`).
    Created,
    /// The record holding the key value was updated.
    Updated,
}

impl UpsertOutcome {
    /// Reads Books' answer to an upsert. Books answers 200 both ways (the files document
    /// only 200 for `PUT /items`, `/contacts`, `/invoices`), so the message tells: the
    /// create messages say "added"/"created", the update messages "updated"/"saved". A
    /// 201 is a create; an unknown message falls back to the entity's own stamps (a
    /// record just created was never modified after its creation).
    pub fn from_answer(status: u16, message: &str, entity: &Value) -> UpsertOutcome {
        if status == 201 {
            return UpsertOutcome::Created;
        }
        let message = message.to_ascii_lowercase();
        if message.contains("updated") || message.contains("saved") {
            return UpsertOutcome::Updated;
        }
        if message.contains("added") || message.contains("created") {
            return UpsertOutcome::Created;
        }
        let stamp = |key: &str| entity.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        match (stamp("created_time"), stamp("last_modified_time")) {
            (Some(created), Some(modified)) if created == modified => UpsertOutcome::Created,
            _ => UpsertOutcome::Updated,
        }
    }
}

impl Books {
    pub(crate) fn new(client: Client) -> Books {
        Books { client }
    }

    pub(crate) fn transport(&self) -> &Transport {
        self.client.transport()
    }

    /// The organisation id every call carries.
    pub fn organization_id(&self) -> &str {
        &self.client.connection().organization_id
    }

    /// GETs `path` and returns the entity under `key`.
    pub(crate) async fn get_entity<T: DeserializeOwned>(&self, path: String, key: &str) -> Result<T> {
        let req = Request::new(Api::Books, Method::GET, path);
        self.entity(&req, key).await
    }

    /// Sends `req` and takes the entity under `key` from the answer.
    pub(crate) async fn entity<T: DeserializeOwned>(&self, req: &Request, key: &str) -> Result<T> {
        let resp = self.transport().send(req).await?;
        let mut body: Map<String, Value> = resp.json(&req.path)?;
        let value = body.remove(key).ok_or_else(|| Error::decode(&req.path, format!("no `{key}` in the answer")))?;
        match value {
            // Some endpoints (contact persons) wrap the one entity in an array.
            Value::Array(mut one) if one.len() == 1 => {
                let first = one.pop().unwrap_or_default();
                serde_json::from_value::<T>(first.clone())
                    .or_else(|_| serde_json::from_value(Value::Array(vec![first])))
                    .map_err(|e| Error::decode(&req.path, e))
            }
            value => serde_json::from_value(value).map_err(|e| Error::decode(&req.path, e)),
        }
    }

    /// Creates an entity (`POST`, not idempotent).
    pub(crate) async fn create<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: String, key: &str, body: &B, query: &[(&str, &str)]) -> Result<T> {
        let mut req = Request::new(Api::Books, Method::POST, path).json(body)?;
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        self.entity(&req, key).await
    }

    /// Updates an entity (`PUT`, idempotent).
    pub(crate) async fn update<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: String, key: &str, body: &B) -> Result<T> {
        let req = Request::new(Api::Books, Method::PUT, path).json(body)?;
        self.entity(&req, key).await
    }

    /// Creates or updates, in one call, the entity whose unique custom field `key_field`
    /// (api name, e.g. `cf_crm_product_id`) holds `key_value`: `PUT path` with
    /// `X-Unique-Identifier-Key`, `X-Unique-Identifier-Value` and `X-Upsert: true`.
    /// Idempotent, so it is repeated after an ambiguous failure like any PUT.
    pub(crate) async fn upsert<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: String,
        key: &str,
        key_field: &str,
        key_value: &str,
        body: &B,
    ) -> Result<(T, UpsertOutcome)> {
        for (name, value) in [("key field", key_field), ("key value", key_value)] {
            // Header values: visible ASCII and spaces only; checked here so a bad value is
            // the caller's error, not a "network" failure that looks worth retrying.
            if value.trim().is_empty() || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                return Err(Error::InvalidInput(format!("the upsert {name} must be non-empty printable ASCII, got {value:?}")));
            }
        }
        let req = Request::new(Api::Books, Method::PUT, path)
            .json(body)?
            .header("X-Unique-Identifier-Key", key_field)
            .header("X-Unique-Identifier-Value", key_value)
            .header("X-Upsert", "true")
            .idempotent(true);
        let resp = self.transport().send(&req).await?;
        let mut answer: Map<String, Value> = resp.json(&req.path)?;
        let entity = answer.remove(key).ok_or_else(|| Error::decode(&req.path, format!("no `{key}` in the answer")))?;
        let message = answer.get("message").and_then(Value::as_str).unwrap_or_default();
        let outcome = UpsertOutcome::from_answer(resp.status, message, &entity);
        let entity = serde_json::from_value(entity).map_err(|e| Error::decode(&req.path, e))?;
        Ok((entity, outcome))
    }

    /// Checks, changing nothing, that custom field `key_field` can key upserts of `entity`
    /// (`items`, `contacts`, `invoices`): a `PUT /{entity}` naming a key value no record
    /// holds, without `X-Upsert`, which Books answers 404 ("does not exist") when the
    /// field exists and is marked unique, and refuses (400) otherwise. `Ok` when usable;
    /// else Books' refusal.
    pub async fn check_upsert_key(&self, entity: &str, key_field: &str) -> Result<()> {
        let probe = format!("zoho-bridge-check-{}", std::process::id());
        let req = Request::new(Api::Books, Method::PUT, format!("/books/v3/{entity}"))
            .json(&serde_json::json!({}))?
            .header("X-Unique-Identifier-Key", key_field)
            .header("X-Unique-Identifier-Value", &probe)
            .idempotent(true);
        match self.transport().send(&req).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Calls an action endpoint without a body.
    pub(crate) async fn action(&self, method: Method, path: String, idempotent: bool) -> Result<Message> {
        let req = Request::new(Api::Books, method, path).idempotent(idempotent);
        self.transport().send_json(&req).await
    }

    /// Calls an action endpoint with a JSON body.
    pub(crate) async fn action_with<B: Serialize + ?Sized>(&self, method: Method, path: String, body: &B, idempotent: bool) -> Result<Message> {
        let req = Request::new(Api::Books, method, path).json(body)?.idempotent(idempotent);
        self.transport().send_json(&req).await
    }

    /// Every entity of a list endpoint, page after page; `key` is the plural key
    /// (`invoices`, `contacts`…).
    pub fn list<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        key: &'static str,
        query: ListQuery,
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        let books = self.clone();
        let path = path.to_string();
        let per_page = query.per_page.unwrap_or(200);
        stream::try_unfold((1u32, false), move |(page, done)| {
            let books = books.clone();
            let path = path.clone();
            let params = query.params.clone();
            async move {
                if done {
                    return Ok(None);
                }
                let mut req = Request::new(Api::Books, Method::GET, path.clone()).query("page", page.to_string()).query("per_page", per_page.to_string());
                for (k, v) in params {
                    req = req.query(k, v);
                }
                let resp = books.transport().send(&req).await?;
                if resp.is_empty() {
                    return Ok(None);
                }
                let mut body: Map<String, Value> = resp.json(&path)?;
                let rows = match body.remove(key) {
                    Some(Value::Array(rows)) => rows,
                    Some(Value::Null) => Vec::new(),
                    // A missing key means we asked the wrong way; an empty list is `[]`.
                    None => return Err(Error::decode(&path, format!("no `{key}` in the answer"))),
                    Some(other) => return Err(Error::decode(&path, format!("`{key}` is not a list: {other}"))),
                };
                let ctx: PageContext =
                    body.remove("page_context").map(serde_json::from_value).transpose().map_err(|e| Error::decode(&path, e))?.unwrap_or_default();
                let done = !ctx.has_more_page || rows.is_empty();
                Ok(Some((rows, (page + 1, done))))
            }
        })
        .map_ok(|rows| stream::iter(rows.into_iter().map(|r| serde_json::from_value::<T>(r).map_err(|e| Error::decode("Books list row", e)))))
        .try_flatten()
        .boxed()
    }
}
