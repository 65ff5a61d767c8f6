//! The zoho-bridge sync engine: store, inbox, queue, triggers, flows.
//!
//! Not written yet (issue 4). This crate exists so the workspace has the layout of
//! `DESIGN.md` from the start; it holds no code that pretends to work.
