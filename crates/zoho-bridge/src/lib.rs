//! zoho-bridge as a library: what the binary runs, reachable from tests.
//!
//! Today: the demo walk-through against the built-in emulator. The sync engine lives in
//! the `bridge` crate and the Zoho client in `zoho`.

pub mod demo;
