//! Code shared by the emulator's integration tests.
//!
//! Each integration test file is its own crate, so shared helpers live here and are pulled in
//! with `mod support;` at the top of a test file. Not every test file uses every helper, hence
//! the `dead_code` allowance below (without it, each test crate would warn about the helpers it
//! does not call).

#![allow(dead_code)]

pub mod contract;
pub mod openapi;
