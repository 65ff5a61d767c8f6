//! The zoho-bridge sync engine: store, inbox, queue, triggers, flows.
//!
//! Triggers (webhooks, notification callbacks, pollers) write events into the inbox of
//! a [`store::Store`]; each event enqueues jobs; workers claim jobs with a lease and run
//! the flow named on them; a flow reads the source record fresh, maps it, finds the
//! existing target (ID link, then natural key), writes through the `zoho` client, and
//! records the link and the audit entry in one transaction with the job's completion.

pub mod actions;
pub mod backfill;
pub mod budget_share;
pub mod check;
pub mod config;
pub mod flows;
pub mod hash;
pub mod mapping;
pub mod matching;
pub mod money;
pub mod store;
pub mod triggers;
pub mod worker;
