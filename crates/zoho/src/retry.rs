//! When and how often a failed request is tried again.
//!
//! Transient failures (connect errors, timeouts of idempotent requests, 5xx, 429) are
//! retried with jittered exponential backoff (`backon`) up to a limit; permanent ones
//! (400-class Zoho codes) never. A non-idempotent write that was sent but got no answer
//! becomes [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown), which is not
//! retryable: the caller must look the record up first. 429s do not consume retries of
//! their own: they pause the organisation's budget and the request waits there (up to
//! [`RetryPolicy::max_rate_limited`] times).

use std::time::Duration;

use backon::ExponentialBuilder;

/// Retry settings of a client.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// How many 429s one request may meet before the error is returned.
    pub max_rate_limited: u32,
    /// Pause after a 429 that names no reset time (CRM never does); doubled on each
    /// further 429 of the same request.
    pub rate_limit_pause: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries from 200 ms to 10 s, jittered; up to 10 rounds of 429, 2 s pause.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_rate_limited: 10,
            rate_limit_pause: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy { max_retries: 0, max_rate_limited: 0, ..RetryPolicy::default() }
    }

    /// The backoff schedule.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_factor(2.0)
            .with_jitter()
    }

    /// Pause after the `n`th (1-based) 429 without a reset time.
    pub fn pause_for(&self, n: u32) -> Duration {
        self.rate_limit_pause.saturating_mul(1 << n.saturating_sub(1).min(5))
    }
}
