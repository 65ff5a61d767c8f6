//! The time triggers read "now" from, replaceable in tests.
//!
//! The poller's upper bound and the channel keeper's expiry arithmetic must agree with
//! Zoho's clock; in tests that clock is the emulator's, which can be moved forward.

use std::{fmt, sync::Arc};

/// A source of "now" in epoch milliseconds. Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| jiff::Timestamp::now().as_millisecond()))
    }

    /// A clock reading `now` (e.g. the emulator's clock in tests).
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, epoch ms.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}
