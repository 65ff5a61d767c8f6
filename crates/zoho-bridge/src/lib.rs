//! zoho-bridge as a library: what the binary runs, reachable from tests.
//!
//! The engine as one running value ([`server`]: what `serve` runs and the demo leaves
//! serving), and what it hosts: the operations endpoints ([`http`]: `/metrics`,
//! `/healthz`, `/readyz`), the [`dashboard`] and the agent gateway ([`mcp`]); the demo
//! walk-through against the built-in emulator; how the commands reach Zoho (or the
//! emulator) and where the log goes. The sync engine lives in the `bridge` crate and the
//! Zoho client in `zoho`.

pub mod connection;
pub mod dashboard;
pub mod demo;
pub mod http;
pub mod logging;
pub mod mcp;
pub mod server;
