//! The one path every API call takes.
//!
//! [`Transport::send`] applies, in order: a valid access token (refreshed once for all
//! tasks), the organisation's rate budget (waiting for it), the HTTP exchange with a
//! timeout, reconciling the Books budget with Zoho's `X-Rate-Limit-*` headers, error
//! parsing into [`ApiError`], a single refresh-and-retry on an invalid token, a pause
//! of the organisation on 429, and jittered backoff for transient
//! failures. Ambiguous failures of non-idempotent writes surface as
//! [`Error::OutcomeUnknown`] instead of being repeated. Each exchange is counted
//! ([`crate::telemetry`]).

use std::{sync::Arc, time::Duration};

use backon::Retryable;
use bytes::Bytes;
use reqwest::{Method, header};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    budget::{ApiBudget, BudgetConfig, BudgetRegistry, BudgetUsage, ServerView},
    connection::Connection,
    error::{Api, ApiError, Error, Result, ZohoCode},
    retry::RetryPolicy,
    token::{AccessToken, TokenManager, without_url},
    token_cache::TokenCache,
};

/// One API call, before auth and budget are applied.
#[derive(Debug, Clone)]
pub struct Request {
    /// CRM or Books.
    pub api: Api,
    /// HTTP method.
    pub method: Method,
    /// Path below the API domain, e.g. `/crm/v8/Deals`.
    pub path: String,
    /// Query parameters (Books' `organization_id` is added by the transport).
    pub query: Vec<(String, String)>,
    /// JSON body, already serialised.
    pub body: Option<Bytes>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Whether sending it twice has the same effect as once (GET, PUT of a full record,
    /// DELETE, upsert). Only idempotent requests are repeated after an ambiguous failure.
    pub idempotent: bool,
    /// Budget units (CRM credits; 1 on Books).
    pub cost: u64,
}

impl Request {
    /// A request with no query, no body; idempotent iff the method is GET, PUT or DELETE.
    pub fn new(api: Api, method: Method, path: impl Into<String>) -> Request {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE | Method::HEAD);
        Request { api, method, path: path.into(), query: Vec::new(), body: None, headers: Vec::new(), idempotent, cost: 1 }
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Request {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Request> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidInput(format!("body does not serialise: {e}")))?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    /// Overrides whether the request is safe to repeat.
    pub fn idempotent(mut self, idempotent: bool) -> Request {
        self.idempotent = idempotent;
        self
    }

    /// Sets the budget cost.
    pub fn cost(mut self, cost: u64) -> Request {
        self.cost = cost;
        self
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status (2xx, 304, or CRM's 400/412 carrying per-record results).
    pub status: u16,
    /// The body (empty for 204 and 304).
    pub body: Bytes,
}

impl Response {
    /// Whether there is no body to decode (204, 304, empty).
    pub fn is_empty(&self) -> bool {
        self.status == 204 || self.status == 304 || self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// Decodes the body.
    pub fn json<T: DeserializeOwned>(&self, context: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::decode(context, e))
    }
}

/// Settings of the transport (see [`ClientBuilder`](crate::ClientBuilder)).
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Limits kept per organisation and API.
    pub budget: BudgetConfig,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Refresh the token this long before it expires.
    pub refresh_margin: Duration,
    /// Where processes of this connection share its access token, if anywhere.
    pub token_cache: Option<Arc<dyn TokenCache>>,
}

/// The shared machinery of a client.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    connection: Connection,
    tokens: TokenManager,
    config: TransportConfig,
    registry: Arc<BudgetRegistry>,
    crm_budget: Arc<ApiBudget>,
    books_budget: Arc<ApiBudget>,
}

impl Transport {
    /// A transport for one connection.
    pub fn new(http: reqwest::Client, connection: Connection, config: TransportConfig, registry: Arc<BudgetRegistry>) -> Transport {
        let crm_budget = registry.budget(&connection.organization_id, Api::Crm, &config.budget);
        let books_budget = registry.budget(&connection.organization_id, Api::Books, &config.budget);
        Transport {
            http,
            tokens: TokenManager::new(config.refresh_margin).with_cache(config.token_cache.clone(), &connection),
            connection,
            config,
            registry,
            crm_budget,
            books_budget,
        }
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The token manager.
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// The budget of an API.
    pub fn budget(&self, api: Api) -> &Arc<ApiBudget> {
        match api {
            Api::Crm => &self.crm_budget,
            Api::Books => &self.books_budget,
        }
    }

    /// Snapshots of this connection's two budgets.
    pub fn usage(&self) -> Vec<BudgetUsage> {
        vec![self.crm_budget.usage(), self.books_budget.usage()]
    }

    /// The registry the budgets live in.
    pub fn registry(&self) -> &Arc<BudgetRegistry> {
        &self.registry
    }

    /// A valid access token (refreshing if needed).
    pub async fn access_token(&self) -> Result<AccessToken> {
        self.tokens.get(&self.http, &self.connection).await
    }

    /// Sends a request with auth, budget, retries and error parsing.
    pub async fn send(&self, req: &Request) -> Result<Response> {
        (|| self.attempt(req))
            .retry(self.config.retry.backoff())
            .sleep(tokio::time::sleep)
            // 429s were already waited out inside the attempt; do not multiply them.
            .when(|e| e.is_retryable() && !e.api().is_some_and(ApiError::is_rate_limited))
            .notify(|err, delay| {
                tracing::debug!(method = %req.method, path = %req.path, error = %err, ?delay, "retrying Zoho call");
            })
            .await
    }

    /// Sends and decodes a JSON answer.
    pub async fn send_json<T: DeserializeOwned>(&self, req: &Request) -> Result<T> {
        let resp = self.send(req).await?;
        resp.json(&req.path)
    }

    /// One attempt: a token refresh on 401 and waits on 429 happen inside it.
    async fn attempt(&self, req: &Request) -> Result<Response> {
        let budget = self.budget(req.api);
        let mut refreshed = false;
        let mut throttled = 0u32;
        loop {
            // A token before the budget: tasks needing a refresh then queue behind one
            // refresh together and share its outcome, rather than one by one behind a
            // fresh Books budget's probe (one request in flight until Zoho answers).
            self.access_token().await?;
            let permit = budget.acquire(req.cost).await?;
            // And again after the budget (a cached look-up): a long wait must not leave us
            // holding a token that expired meanwhile.
            let token = match self.access_token().await {
                Ok(token) => token,
                Err(e) => {
                    permit.refund();
                    return Err(e);
                }
            };
            let result = self.exchange(req, &token, budget).await;
            match result {
                Err(e) if e.is_invalid_token() && !refreshed => {
                    drop(permit);
                    tracing::debug!(api = %req.api, "access token refused; refreshing once");
                    self.tokens.invalidate(token.generation);
                    refreshed = true;
                }
                Err(Error::Api(e)) if e.is_rate_limited() => {
                    throttled += 1;
                    let pause = e.retry_after.unwrap_or_else(|| self.config.retry.pause_for(throttled));
                    budget.pause(pause);
                    permit.refund();
                    if throttled > self.config.retry.max_rate_limited {
                        return Err(Error::Api(e));
                    }
                }
                other => return other,
            }
        }
    }

    fn network_error(&self, req: &Request, e: &reqwest::Error, sent: bool) -> Error {
        let message = without_url(e);
        let not_sent = !sent || e.is_connect();
        if not_sent || req.idempotent {
            Error::Transport { method: req.method.to_string(), path: req.path.clone(), message, not_sent }
        } else {
            Error::OutcomeUnknown { method: req.method.to_string(), path: req.path.clone(), message }
        }
    }

    async fn exchange(&self, req: &Request, token: &AccessToken, budget: &ApiBudget) -> Result<Response> {
        let url = format!("{}{}", token.api_domain, req.path);
        let mut auth = header::HeaderValue::from_str(&format!("Zoho-oauthtoken {}", token.token.expose()))
            .map_err(|_| Error::decode("token endpoint", "the access token is not a valid header value"))?;
        // Marked sensitive so HTTP layers never log or index it.
        auth.set_sensitive(true);
        let mut rb = self.http.request(req.method.clone(), url).timeout(self.config.timeout).header(header::AUTHORIZATION, auth);
        if req.api == Api::Books {
            rb = rb.query(&[("organization_id", self.connection.organization_id.as_str())]);
        }
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        for (name, value) in &req.headers {
            rb = rb.header(*name, value);
        }
        if let Some(body) = &req.body {
            rb = rb.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let started = std::time::Instant::now();
        let resp = match rb.send().await {
            Ok(resp) => resp,
            Err(e) => {
                crate::telemetry::count_call(req.api.as_str(), &req.method, &req.path, None);
                return Err(self.network_error(req, &e, !e.is_connect() && !e.is_builder()));
            }
        };
        let status = resp.status().as_u16();
        crate::telemetry::count_call(req.api.as_str(), &req.method, &req.path, Some(status));
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| self.network_error(req, &e, true))?;
        tracing::debug!(api = %req.api, method = %req.method, path = %req.path, status, elapsed = ?started.elapsed(), "Zoho call");
        // Every Books answer reconciles the budget with Zoho's own count (and the first
        // one ends a fresh budget's probe).
        if req.api == Api::Books {
            match server_view(&headers) {
                Some(view) => budget.observe_server(view),
                None => budget.observe_answer(status),
            }
        }
        if (200..300).contains(&status) || status == 304 {
            return Ok(Response { status, body });
        }
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        // CRM writes answer 400 when every record failed (412 when every one failed on
        // If-Unmodified-Since), still with per-record `data`.
        if req.api == Api::Crm && (status == 400 || status == 412) && parsed.as_ref().is_some_and(|v| v.get("data").is_some_and(Value::is_array)) {
            return Ok(Response { status, body });
        }
        Err(parse_error(req.api, status, parsed, &body, &headers).into())
    }
}

fn header_u64(headers: &header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn server_view(headers: &header::HeaderMap) -> Option<ServerView> {
    Some(ServerView {
        limit: header_u64(headers, "x-rate-limit-limit")?,
        remaining: header_u64(headers, "x-rate-limit-remaining")?,
        reset_secs: header_u64(headers, "x-rate-limit-reset").unwrap_or(0),
    })
}

/// Builds an [`ApiError`] from an error answer of either API.
pub fn parse_error(api: Api, status: u16, parsed: Option<Value>, body: &[u8], headers: &header::HeaderMap) -> ApiError {
    let retry_after = header_u64(headers, "x-rate-limit-reset").or_else(|| header_u64(headers, "retry-after")).map(Duration::from_secs);
    // Settings APIs (CRM `/settings/fields`) wrap their refusals in an array, one entry per
    // item sent (`{"fields":[{"code":"DUPLICATE_DATA",…}]}`): the first entry is the error.
    let parsed = match parsed {
        Some(Value::Object(map)) if !map.contains_key("code") => {
            let entry = map.values().filter_map(Value::as_array).flatten().find(|e| e.get("code").is_some()).cloned();
            entry.or(Some(Value::Object(map)))
        }
        other => other,
    };
    let (code, message, details) = match parsed {
        Some(Value::Object(map)) => {
            let code = match map.get("code") {
                Some(Value::String(s)) => ZohoCode::Crm(s.clone()),
                Some(Value::Number(n)) => n.as_i64().map(ZohoCode::Books).unwrap_or(ZohoCode::None),
                _ => ZohoCode::None,
            };
            let message = map.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
            (code, message, map.get("details").cloned().unwrap_or(Value::Null))
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            (ZohoCode::None, text.chars().take(200).collect(), Value::Null)
        }
    };
    ApiError { api, status, code, message, details, retry_after }
}
