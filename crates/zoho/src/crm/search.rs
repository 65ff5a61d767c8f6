//! `GET /crm/v8/{module}/search`: by criteria, email, phone or word, as a stream.
//!
//! Search pages by `page` only and stops at 2,000 results (Zoho's ceiling); no match is
//! a 204, i.e. an empty stream. Freshly written records may be missing for a moment
//! (Zoho's index lag): use [`Crm::get`] or COQL for read-after-write.

use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Crm, MAX_FIELDS, MAX_PER_PAGE, criteria::Criteria, models::Page};
use crate::{
    error::{Api, Error, Result},
    transport::Request,
};

/// What to search by (exactly one, as Zoho requires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchBy {
    /// A criteria expression (escaped when rendered).
    Criteria(Criteria),
    /// Any email field (partial match).
    Email(String),
    /// Any phone field (at least 3 characters).
    Phone(String),
    /// A word over all fields (at least 2 characters).
    Word(String),
}

impl SearchBy {
    fn param(&self) -> (&'static str, String) {
        match self {
            SearchBy::Criteria(c) => ("criteria", c.to_string()),
            SearchBy::Email(e) => ("email", e.clone()),
            SearchBy::Phone(p) => ("phone", p.clone()),
            SearchBy::Word(w) => ("word", w.clone()),
        }
    }
}

impl From<Criteria> for SearchBy {
    fn from(c: Criteria) -> Self {
        SearchBy::Criteria(c)
    }
}

impl Crm {
    /// Records of `module` matching `by`, with `fields` (Zoho's default set when empty).
    pub fn search<T: DeserializeOwned + Send + 'static>(
        &self,
        module: &str,
        by: impl Into<SearchBy>,
        fields: &[&str],
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        let crm = self.clone();
        let path = format!("/crm/v8/{module}/search");
        let (key, value) = by.into().param();
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let check = if fields.len() > MAX_FIELDS { Err(Error::InvalidInput(format!("search reads at most {MAX_FIELDS} fields"))) } else { Ok(()) };
        let pages = stream::try_unfold((1u32, false, check), move |(page, done, check)| {
            let crm = crm.clone();
            let path = path.clone();
            let value = value.clone();
            let fields = fields.clone();
            async move {
                check?;
                if done {
                    return Ok::<_, Error>(None);
                }
                let mut req = Request::new(Api::Crm, Method::GET, path.clone())
                    .query(key, value)
                    .query("page", page.to_string())
                    .query("per_page", MAX_PER_PAGE.to_string());
                if !fields.is_empty() {
                    req = req.query("fields", fields.join(","));
                }
                let resp = crm.transport().send(&req).await?;
                if resp.is_empty() {
                    return Ok(None);
                }
                let body: Page<Map<String, Value>> = resp.json(&path)?;
                let done = !body.info.more_records || body.data.is_empty();
                Ok(Some((body.data, (page + 1, done, Ok(())))))
            }
        });
        pages
            .map_ok(|rows| stream::iter(rows.into_iter().map(|r| serde_json::from_value::<T>(Value::Object(r)).map_err(|e| Error::decode("CRM search", e)))))
            .try_flatten()
            .boxed()
    }
}
