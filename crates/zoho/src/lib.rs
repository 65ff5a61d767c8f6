//! Typed async client for Zoho CRM v8 and Zoho Books v3.
//! (crate docs are completed below)

#![warn(missing_docs)]

pub mod books;
pub mod budget;
pub mod client;
pub mod connection;
pub mod crm;
pub mod dc;
pub mod error;
pub mod money;
pub mod retry;
pub mod secret;
pub mod token;
pub mod transport;

pub use budget::{BooksPlan, BudgetConfig, BudgetRegistry, BudgetUsage, CrmEdition};
pub use client::{Client, ClientBuilder};
pub use connection::Connection;
pub use dc::{DataCenter, Endpoints};
pub use error::{Api, ApiError, Error, Result, ZohoCode};
pub use retry::RetryPolicy;
pub use secret::Secret;
