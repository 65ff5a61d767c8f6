//! The access token of one connection, refreshed once for everyone.
//!
//! Zoho allows about ten token requests per ten minutes per refresh token and keeps at
//! most ten live access tokens, so a process must not let forty tasks refresh at once.
//! [`TokenManager`] caches the token, refreshes it a little before it expires, and makes
//! concurrent callers wait on a single in-flight refresh (single flight). A 401 from an API
//! invalidates only the token generation that was refused, so forty tasks hitting the same
//! expired token still cause one refresh. The `api_domain` of the token response becomes
//! the base URL of API calls. With a [`TokenCache`], processes of one connection share
//! the token too: a process takes a still-good token from the cache before asking Zoho.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Deserialize;

use crate::{
    connection::Connection,
    error::{Error, Result},
    secret::Secret,
    token_cache::{Sealer, TokenCache},
};

/// An access token as handed to the transport.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// Where CRM and Books live for this token.
    pub api_domain: String,
    /// Counter identifying this token among the ones this manager obtained.
    pub generation: u64,
    /// When it stops being used (already shortened by the refresh margin).
    pub refresh_at: Instant,
    /// When Zoho says it expires, epoch ms.
    pub expires_ms: i64,
    /// Its whole lifetime, ms.
    pub lifetime_ms: u64,
}

/// Now, epoch ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The token endpoint's answer: success fields or Zoho's `error` (inside HTTP 200).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    api_domain: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A failed refresh, kept so that tasks queued behind it share its outcome instead of
/// each asking the accounts server again (which, when throttled, extends the block).
#[derive(Debug, Clone)]
enum Failure {
    OAuth { code: String, description: Option<String> },
    Other(String),
}

impl Failure {
    fn of(e: &Error) -> Failure {
        match e {
            Error::OAuth { code, description } => Failure::OAuth { code: code.clone(), description: description.clone() },
            other => Failure::Other(other.to_string()),
        }
    }

    fn error(&self) -> Error {
        match self {
            Failure::OAuth { code, description } => Error::OAuth { code: code.clone(), description: description.clone() },
            Failure::Other(message) => {
                Error::Transport { method: "POST".into(), path: "/oauth/v2/token".into(), message: format!("token refresh failed: {message}"), not_sent: false }
            }
        }
    }
}

/// Caches and refreshes the access token of one [`Connection`].
#[derive(Debug)]
pub struct TokenManager {
    current: Mutex<Option<AccessToken>>,
    /// Where other processes' tokens are found and ours are left ([`TokenCache`]).
    shared: Option<(Arc<dyn TokenCache>, Sealer)>,
    /// The last token Zoho refused: one the cache still holds is not taken again.
    refused: Mutex<Option<Secret>>,
    failure: Mutex<Option<(Instant, Failure)>>,
    refresh_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    refreshes: AtomicU64,
    margin: Duration,
}

impl TokenManager {
    /// A manager that refreshes `margin` before expiry (capped at a tenth of the lifetime
    /// so short-lived test tokens are still used).
    pub fn new(margin: Duration) -> TokenManager {
        TokenManager {
            current: Mutex::new(None),
            shared: None,
            refused: Mutex::new(None),
            failure: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            margin,
        }
    }

    /// Shares tokens with the other processes of `conn` through `cache`, when given.
    pub fn with_cache(mut self, cache: Option<Arc<dyn TokenCache>>, conn: &Connection) -> TokenManager {
        self.shared = cache.map(|c| (c, Sealer::new(conn)));
        self
    }

    /// How many token requests this manager has made.
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<AccessToken> {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().filter(|t| Instant::now() < t.refresh_at).cloned()
    }

    /// A valid token, refreshing it first if needed. Concurrent callers share one refresh.
    pub async fn get(&self, http: &reqwest::Client, conn: &Connection) -> Result<AccessToken> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let asked = Instant::now();
        let _flight = self.refresh_lock.lock().await;
        // Someone else may have refreshed while we waited for the lock…
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        // …or tried and failed: share that answer rather than asking again.
        if let Some((at, failure)) = self.failure.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *at >= asked
        {
            return Err(failure.error());
        }
        if let Some(token) = self.cached_elsewhere().await {
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
            return Ok(token);
        }
        match self.refresh(http, conn).await {
            Ok(token) => {
                self.share(&token).await;
                *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(token)
            }
            Err(e) => {
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), Failure::of(&e)));
                Err(e)
            }
        }
    }

    /// Marks the token of `generation` as refused by Zoho. Tokens of a later generation
    /// (already refreshed by another task) are kept.
    pub fn invalidate(&self, generation: u64) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = guard.as_ref().filter(|t| t.generation == generation) {
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(t.token.clone());
            *guard = None;
        }
    }

    /// A token another process left in the shared cache, if it is good for longer than
    /// the margin and is not the one Zoho just refused. A failing cache only costs a
    /// token request.
    async fn cached_elsewhere(&self) -> Option<AccessToken> {
        let (cache, sealer) = self.shared.as_ref()?;
        let sealed = match cache.load(sealer.cache_key()).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, "reading the shared access token failed; asking Zoho for one");
                return None;
            }
        };
        let left = Duration::from_millis(u64::try_from(sealed.expires_ms - now_ms()).ok()?);
        let Some((token, api_domain, lifetime_ms)) = sealer.open(&sealed) else {
            tracing::warn!("the shared access token cannot be opened with this connection's secrets; asking Zoho for one");
            return None;
        };
        let margin = self.margin_for(Duration::from_millis(lifetime_ms));
        if left <= margin {
            return None;
        }
        if self.refused.lock().unwrap_or_else(|p| p.into_inner()).as_ref() == Some(&token) {
            return None;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!("using the access token another process obtained");
        Some(AccessToken { token, api_domain, generation, refresh_at: Instant::now() + (left - margin), expires_ms: sealed.expires_ms, lifetime_ms })
    }

    /// How long before expiry a token of `lifetime` stops being used: the configured
    /// margin, at most a tenth of the lifetime (so short-lived test tokens are used).
    fn margin_for(&self, lifetime: Duration) -> Duration {
        self.margin.min(lifetime / 10)
    }

    /// Leaves `token` in the shared cache for the other processes.
    async fn share(&self, token: &AccessToken) {
        let Some((cache, sealer)) = self.shared.as_ref() else { return };
        let Some(sealed) = sealer.seal(&token.token, &token.api_domain, token.lifetime_ms, token.expires_ms) else { return };
        if let Err(e) = cache.save(sealer.cache_key(), &sealed).await {
            tracing::warn!(error = %e, "sharing the access token failed; other processes will ask Zoho for their own");
        }
    }

    async fn refresh(&self, http: &reqwest::Client, conn: &Connection) -> Result<AccessToken> {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let url = conn.endpoints.token_url();
        tracing::debug!(accounts = %conn.endpoints.accounts_url, "refreshing Zoho access token");
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", conn.client_id.as_str()),
            ("client_secret", conn.client_secret.expose()),
            ("refresh_token", conn.refresh_token.expose()),
        ];
        let started = Instant::now();
        let counted = |status| crate::telemetry::count_call("accounts", &reqwest::Method::POST, "/oauth/v2/token", status);
        let resp = http.post(&url).form(&form).send().await.map_err(|e| {
            counted(None);
            Error::Transport { method: "POST".into(), path: "/oauth/v2/token".into(), message: without_url(&e), not_sent: e.is_connect() }
        })?;
        let status = resp.status().as_u16();
        counted(Some(status));
        let body = resp.bytes().await.map_err(|e| Error::Transport {
            method: "POST".into(),
            path: "/oauth/v2/token".into(),
            message: without_url(&e),
            not_sent: false,
        })?;
        // Never echo the body: on success it holds the token.
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::decode(format!("token endpoint (HTTP {status})"), e))?;
        if let Some(code) = parsed.error {
            return Err(Error::OAuth { code, description: parsed.error_description });
        }
        let access = parsed.access_token.ok_or_else(|| Error::decode("token endpoint", "no access_token in the answer"))?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let margin = self.margin_for(lifetime);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let expires_ms = now_ms() - started.elapsed().as_millis() as i64 + lifetime.as_millis() as i64;
        Ok(AccessToken {
            token: Secret::new(access),
            api_domain: parsed.api_domain.map(|d| d.trim_end_matches('/').to_string()).unwrap_or_else(|| conn.endpoints.api_domain.clone()),
            generation,
            refresh_at: started + lifetime - margin,
            expires_ms,
            lifetime_ms: lifetime.as_millis() as u64,
        })
    }
}

/// A reqwest error's text without its URL (token URLs carry no secrets, but API URLs may
/// carry search values; keep messages short and uniform).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        if self.is_timeout() {
            "timed out".into()
        } else if self.is_connect() {
            "connect failed".into()
        } else if self.is_body() || self.is_decode() {
            "reading the answer failed".into()
        } else if self.is_request() {
            "request failed".into()
        } else {
            "HTTP error".into()
        }
    }
}
