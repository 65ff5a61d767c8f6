//! zoho-bridge as a library: what the binary runs, reachable from tests.
//!
//! Today: the demo walk-through against the built-in emulator, how the commands reach
//! Zoho (or the emulator), the operations endpoints (`/metrics`, `/healthz`, `/readyz`),
//! where the log goes, and the dashboard `serve` hosts. The sync engine lives in
//! the `bridge` crate and the Zoho client in `zoho`.

pub mod connection;
pub mod dashboard;
pub mod demo;
pub mod http;
pub mod logging;
pub mod mcp;
