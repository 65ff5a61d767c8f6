//! The field mapper: a flow's mapping from a source record to a target payload, written
//! in the config file as small expressions, compiled at config load and evaluated per
//! record.
//!
//! ```toml
//! [flows.catalog_sync]
//! when = 'present(source.Product_Name)'
//! optional = ["sku"]
//! [flows.catalog_sync.map]
//! name = 'text(source.Product_Name)'
//! rate = 'source.Unit_Price'
//! sku = 'text(source.Product_Code)'
//! description = 'text(source.Description) ?? ""'
//! status = 'if source.Product_Active == false { "inactive" } else { "active" }'
//! ```
//!
//! Expressions are [rhai](https://rhai.rs) in expression-only mode (no statements, loops,
//! functions or closures; operation, depth and size limits), with exact decimals:
//! `0.1 + 0.2 == 0.3`, and JSON numbers arrive as integers or decimals, never floats.
//! In scope: `source` (the record), `related` (records the flow loaded with it), `now`
//! (RFC 3339 text) and `today` (`YYYY-MM-DD`, UTC), and in line expressions `line` (the
//! element) and `index`. An absent field is `()`, helpers given `()` give `()`, and `??`
//! and `?.` supply fallbacks. A field whose expression gives `()` takes its `defaults`
//! entry, is left out if listed in `optional`, and is otherwise an [`EvalError`] the flow
//! dead-letters the record with.
//!
//! Helpers: `text`, `trim`, `lower`, `upper`, `normalize`, `present`, `round_money`,
//! `decimal`, `add_days`, `due_date` (see [`functions`]) and `lookup("table", key)` /
//! `lookup("table", key, default)` over the config's `[tables.<name>]`.
//!
//! - [`spec`]: the serde form of the config and the overlay on shipped defaults;
//! - [`compile()`]: load-time checks and compilation into a [`Mapping`];
//! - [`Mapping`]: evaluation ([`Mapping::skip_reason`], [`Mapping::apply`]).

#![warn(missing_docs)]

pub mod compile;
pub mod engine;
pub mod eval;
pub mod functions;
pub mod spec;
pub mod value;

pub use compile::{CompileError, CompileOptions, compile, compile_with};
pub use engine::Limits;
pub use eval::{EvalError, Input, Mapping, Outcome};
pub use spec::{LinesSpec, MappingSpec, Tables};

#[cfg(test)]
mod tests;
