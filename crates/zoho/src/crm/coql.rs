//! COQL: `POST /crm/v8/coql` with a `select_query`.
//!
//! COQL is the read-after-write tool (no index lag) and the way to join through lookups.
//! Its cost in credits grows with `LIMIT` (1–200: 1, 201–1000: 2, 1001–2000: 3), which
//! the budget is charged. No rows is a 204, i.e. an empty page.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    Crm,
    models::{Info, Page},
};
use crate::{
    error::{Api, Result},
    transport::Request,
};

/// One COQL answer.
#[derive(Debug, Clone, Default)]
pub struct CoqlPage {
    /// Rows as selected (aliases and dotted lookup columns as keys).
    pub rows: Vec<Map<String, Value>>,
    /// `count` and `more_records`.
    pub info: Info,
}

/// The credits a query costs, from its `LIMIT` (default 200 rows → 1 credit).
pub fn credits(query: &str) -> u64 {
    let lower = query.to_ascii_lowercase();
    let limit = lower
        .rsplit_once(" limit ")
        .map(|(_, rest)| {
            // `limit offset, count` or `limit count [offset n]`
            let rest = rest.trim();
            let first: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let after = rest[first.len()..].trim_start();
            if let Some(second) = after.strip_prefix(',') { second.trim().chars().take_while(|c| c.is_ascii_digit()).collect::<String>() } else { first }
        })
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(200);
    match limit {
        0..=200 => 1,
        201..=1000 => 2,
        _ => 3,
    }
}

impl Crm {
    /// Runs a COQL query.
    pub async fn coql(&self, query: &str) -> Result<CoqlPage> {
        let req = Request::new(Api::Crm, Method::POST, "/crm/v8/coql").json(&json!({ "select_query": query }))?.idempotent(true).cost(credits(query));
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(CoqlPage::default());
        }
        let page: Page<Map<String, Value>> = resp.json("coql")?;
        Ok(CoqlPage { rows: page.data, info: page.info })
    }
}

#[cfg(test)]
mod tests {
    use super::credits;

    #[test]
    fn cost_follows_limit() {
        assert_eq!(credits("select id from Deals where id is not null"), 1);
        assert_eq!(credits("select id from Deals where id is not null limit 0, 500"), 2);
        assert_eq!(credits("select id from Deals where id is not null LIMIT 2000 OFFSET 10"), 3);
    }
}
