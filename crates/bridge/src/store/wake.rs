//! Waking idle workers when there is work, instead of letting them sleep out their poll.
//!
//! Measured from outside on `serve` (emulator adding 100 ms per Zoho call), a worker with
//! nothing to claim slept out its 500 ms poll interval before it saw a new job: about
//! 125 ms added at the median between a webhook and its Books item, and up to the whole
//! interval. Now every store carries a [`JobSignal`] shared by all its clones: the store
//! raises it after each commit that enqueued jobs (and after storing results, which can
//! make a record's next job runnable), and each worker waits on its own [`JobWatch`]
//! together with its poll timer. On PostgreSQL the signal also crosses processes: the
//! enqueuing transaction sends a `NOTIFY`, and each store's listener task raises the
//! local signal when one arrives (see `postgres.rs`). Several processes on one SQLite
//! file have no such channel: they still poll. Polling stays everywhere as the safety
//! net; the signal only makes the common case fast.
//!
//! A watch (a counter in a `tokio::sync::watch`) rather than a bare `Notify`: a worker
//! marks the signal seen *before* it claims, so a job enqueued between its claim and its
//! wait still wakes it, and every waiting worker wakes, not just one.

use std::sync::Arc;

use tokio::sync::watch;

/// Raised when jobs may have become runnable. Cheap to clone; the clones of a store share
/// one.
#[derive(Debug, Clone)]
pub struct JobSignal {
    sender: Arc<watch::Sender<u64>>,
}

impl Default for JobSignal {
    fn default() -> Self {
        JobSignal::new()
    }
}

impl JobSignal {
    /// A signal nobody has raised yet.
    pub fn new() -> JobSignal {
        let (sender, _) = watch::channel(0);
        JobSignal { sender: Arc::new(sender) }
    }

    /// Wakes every [`JobWatch`] of this signal (now, or at its next wait).
    pub fn notify(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new watch of this signal; it sees the raises that come after it was made.
    pub fn watch(&self) -> JobWatch {
        JobWatch { receiver: Some(self.sender.subscribe()) }
    }
}

/// One waiter's view of a [`JobSignal`]: remembers which raises it has seen.
#[derive(Debug)]
pub struct JobWatch {
    receiver: Option<watch::Receiver<u64>>,
}

impl JobWatch {
    /// A watch that never fires (a store that cannot tell: its workers only poll).
    pub fn never() -> JobWatch {
        JobWatch { receiver: None }
    }

    /// Marks every raise so far as seen. Call it before looking for work, so that a
    /// raise during the look makes the next [`JobWatch::changed`] return at once.
    pub fn mark_seen(&mut self) {
        if let Some(receiver) = &mut self.receiver {
            receiver.borrow_and_update();
        }
    }

    /// Returns once the signal was raised after the last [`JobWatch::mark_seen`] (at
    /// once if it already was). Cancel-safe.
    pub async fn changed(&mut self) {
        match &mut self.receiver {
            Some(receiver) => {
                if receiver.changed().await.is_ok() {
                    receiver.borrow_and_update();
                    return;
                }
                // The signal is gone (cannot happen while a store holds it): never again.
                std::future::pending::<()>().await
            }
            None => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_raise_between_mark_and_wait_is_not_lost_and_wakes_every_watch() {
        let signal = JobSignal::new();
        let (mut a, mut b) = (signal.watch(), signal.watch());
        a.mark_seen();
        b.mark_seen();
        assert!(a.changed().now_or_never().is_none(), "nothing raised yet");
        signal.clone().notify();
        assert!(a.changed().now_or_never().is_some());
        assert!(b.changed().now_or_never().is_some());
        assert!(a.changed().now_or_never().is_none(), "seen once");
        assert!(JobWatch::never().changed().now_or_never().is_none());
    }
}
