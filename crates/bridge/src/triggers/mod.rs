//! Triggers: everything that notices a change in Zoho and puts it in the inbox.
//!
//! Three sources feed the store's inbox ([`crate::store::Store::add_event`]):
//!
//! - the **webhook receiver** ([`webhooks::router`]): CRM Notification API callbacks,
//!   CRM workflow-rule webhooks and Books webhooks, each authenticated, parsed into
//!   events and stored (with the jobs the [`Routes`] name) before the 2xx is sent;
//! - the **channel keeper** ([`ChannelKeeper`]): keeps the CRM notification channels
//!   registered, renewed before they expire, and re-created when CRM dropped them;
//! - the **poller** ([`Poller`]): reads each stream from its modified-time cursor, the
//!   safety net for webhooks that never arrived;
//! - the **overdue scan** ([`OverdueScan`]): lists Books' overdue invoices daily for
//!   `overdue_to_task`, the safety net for its webhook.
//!
//! A webhook body is a hint, not the truth: events carry the record id and the
//! modified time as the source reported them, and flows read the record fresh. Repeated
//! deliveries are absorbed by the events' dedup keys.

pub mod channels;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod overdue_scan;
pub mod poller;
pub mod routes;
pub mod secret;
pub mod webhooks;

pub use channels::{ChannelKeeper, ChannelTokens, KeeperReport};
pub use clock::Clock;
pub use config::{ChannelsConfig, PollerConfig, StreamConfig, System, TriggerConfig, WatchConfig, WebhookConfig};
pub use error::TriggerError;
pub use overdue_scan::{OverdueScan, ScanReport};
pub use poller::{PollReport, Poller};
pub use routes::{Route, Routes};
pub use secret::{SecretString, channel_token};
pub use webhooks::router;
