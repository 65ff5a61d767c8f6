//! The crate's one error type.
//!
//! Zoho reports failures in several shapes: OAuth errors inside HTTP 200, CRM string
//! codes with field details, Books numeric codes, proxy pages for 502/503, and a network
//! that may fail after a write was committed. [`Error`] keeps the HTTP status, Zoho's code
//! and message and (CRM) the details, and answers the two questions a caller has:
//! [`Error::is_retryable`] and [`Error::is_outcome_unknown`]. No variant ever holds a
//! token or a client secret.

use std::time::Duration;

use serde_json::Value;

/// Which Zoho API a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Zoho CRM v8.
    Crm,
    /// Zoho Books v3.
    Books,
}

impl Api {
    /// `crm` or `books`.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Crm => "crm",
            Api::Books => "books",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Zoho's own error code: a string in CRM (`INVALID_DATA`), a number in Books (`1002`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZohoCode {
    /// A CRM code such as `MANDATORY_NOT_FOUND`.
    Crm(String),
    /// A Books code such as `57` or `1002`.
    Books(i64),
    /// The answer carried no Zoho code (a proxy page, an empty body).
    None,
}

impl std::fmt::Display for ZohoCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZohoCode::Crm(c) => f.write_str(c),
            ZohoCode::Books(c) => write!(f, "{c}"),
            ZohoCode::None => f.write_str("-"),
        }
    }
}

/// An error answer from CRM or Books.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The API that answered.
    pub api: Api,
    /// HTTP status.
    pub status: u16,
    /// Zoho's code.
    pub code: ZohoCode,
    /// Zoho's message (or the start of a non-JSON body).
    pub message: String,
    /// CRM `details` (`api_name`, `json_path`, `param_name`, …); `Null` for Books.
    pub details: Value,
    /// For 429: how long Zoho asked us to wait (`X-Rate-Limit-Reset`).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The CRM code, if this is a CRM error.
    pub fn crm_code(&self) -> Option<&str> {
        match &self.code {
            ZohoCode::Crm(c) => Some(c),
            _ => None,
        }
    }

    /// The Books code, if this is a Books error.
    pub fn books_code(&self) -> Option<i64> {
        match self.code {
            ZohoCode::Books(c) => Some(c),
            _ => None,
        }
    }

    /// Whether sending the same request later may succeed (429, 5xx).
    pub fn is_retryable(&self) -> bool {
        self.status >= 500 || self.is_rate_limited()
    }

    /// Whether Zoho refused the call for rate or quota reasons (HTTP 429, CRM
    /// `TOO_MANY_REQUESTS` / `RATE_LIMIT_EXCEEDED`).
    pub fn is_rate_limited(&self) -> bool {
        self.status == 429 || matches!(self.crm_code(), Some("TOO_MANY_REQUESTS" | "RATE_LIMIT_EXCEEDED"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} answered HTTP {} code {}: {}", self.api, self.status, self.code, self.message)
    }
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The accounts server refused the token request (`invalid_code`, `invalid_client`,
    /// `Access Denied` when throttled…), usually inside an HTTP 200.
    #[error("OAuth token request refused: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// Zoho's `error` value.
        code: String,
        /// Zoho's `error_description`, if any.
        description: Option<String>,
    },
    /// CRM or Books answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The request did not complete and was not (or may safely be re-) sent: connect
    /// failure, or a timeout on an idempotent request.
    #[error("network error on {method} {path}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path (no query string, which may carry ids only; never tokens).
        path: String,
        /// What failed.
        message: String,
        /// Whether the request never left this process (connect failure).
        not_sent: bool,
    },
    /// A non-idempotent write was sent but no answer came (timeout, dropped connection):
    /// Zoho may or may not have applied it. Look the record up before writing again.
    #[error("outcome unknown for {method} {path}: {message}; look the record up before retrying")]
    OutcomeUnknown {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// What failed.
        message: String,
    },
    /// Waiting for rate budget would take longer than the configured maximum.
    #[error("{api} budget for organisation {organization} exhausted; next slot in {wait:?}")]
    BudgetExhausted {
        /// The API.
        api: Api,
        /// The organisation key of the budget.
        organization: String,
        /// How long the wait would be.
        wait: Duration,
    },
    /// A write of several batches failed part-way: the batches before the failing one
    /// were written and their per-record results are here; the failing batch and those
    /// after it were not (or, if `source` is outcome-unknown, the failing one may have
    /// been). Not retryable as a whole: resend only what is missing.
    #[error("batch write stopped after {} records: {source}", completed.len())]
    PartialBatch {
        /// Results of the records written before the failure, in input order.
        completed: Vec<crate::crm::models::WriteResult>,
        /// Why the next batch failed.
        source: Box<Error>,
    },
    /// Zoho's answer could not be decoded into the expected shape.
    #[error("unexpected answer from {context}: {message}")]
    Decode {
        /// Which call.
        context: String,
        /// The decoder's complaint.
        message: String,
    },
    /// The caller passed something Zoho would refuse (e.g. no fields on a CRM list).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Building the HTTP client failed.
    #[error("HTTP client setup failed: {0}")]
    Setup(String),
}

impl Error {
    /// Whether repeating the same call later may succeed: network failures that are safe
    /// to repeat, 429 and 5xx. Permanent errors (400-class Zoho codes such as
    /// `INVALID_DATA`, `MANDATORY_NOT_FOUND`, `DUPLICATE_DATA`), OAuth refusals (a
    /// throttled token endpoint stays closed for minutes; hammering it makes it worse)
    /// and outcome-unknown writes are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport { .. } => true,
            _ => false,
        }
    }

    /// Whether a write may or may not have been applied.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::OutcomeUnknown { .. } => true,
            Error::PartialBatch { source, .. } => source.is_outcome_unknown(),
            _ => false,
        }
    }

    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// Whether this is Zoho saying the access token is invalid or expired
    /// (CRM 401 `INVALID_TOKEN`, Books 401 code 57).
    pub fn is_invalid_token(&self) -> bool {
        self.api().is_some_and(|e| e.status == 401 && (e.crm_code() == Some("INVALID_TOKEN") || e.books_code() == Some(57)))
    }

    pub(crate) fn decode(context: impl Into<String>, err: impl std::fmt::Display) -> Error {
        Error::Decode { context: context.into(), message: err.to_string() }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
