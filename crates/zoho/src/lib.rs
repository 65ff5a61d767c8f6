//! Typed async client for Zoho CRM v8 and Zoho Books v3.
//!
//! `zoho` is the part of zoho-bridge that talks to Zoho, usable on its own. It takes care
//! of what every Zoho integration gets wrong sooner or later:
//!
//! - **OAuth per data centre.** A [`Connection`] names the data centre ([`DataCenter`]:
//!   US, EU, IN, AU, JP, CA, SA, CN) or explicit base URLs ([`Endpoints::custom`], for the
//!   emulator or a proxy), the OAuth client, the refresh token and the Books
//!   organisation. The access token is refreshed shortly before it expires, once for all
//!   concurrent tasks; a call refused with CRM `INVALID_TOKEN` or Books code 57 refreshes
//!   and is retried exactly once; the `api_domain` of the token answer is honoured; OAuth
//!   errors hidden in HTTP 200 (`{"error":"invalid_code"}`) become [`Error::OAuth`].
//!   Credentials are [`Secret`]s, which never show in `Debug`, logs or errors.
//! - **Rate budgets.** One budget per organisation and API, shared by every client in
//!   the process ([`BudgetRegistry::global`]): Books requests per minute and per day,
//!   CRM credits per 24 hours and calls in flight, from [`BudgetConfig`] (Zoho's
//!   published defaults per plan). A request waits for budget instead of being refused;
//!   a 429 pauses the organisation for the time Zoho names. Use and remaining budget are
//!   observable with [`Client::budget_usage`].
//! - **Retries that are safe.** Connect errors, timeouts, 5xx and 429 are retried with
//!   jittered exponential backoff ([`RetryPolicy`]); 400-class Zoho errors are not. A
//!   non-idempotent write whose answer was lost (timeout, dropped connection) is never
//!   sent again: it fails with [`Error::OutcomeUnknown`] so the caller can look the
//!   record up first.
//! - **Metrics**: every exchange with Zoho is counted through the `metrics` facade by
//!   API, operation and status ([`telemetry`]); without a recorder that costs nothing.
//! - **Typed errors** ([`ApiError`]) with HTTP status, Zoho's code (string in CRM,
//!   number in Books), message and CRM field details, and [`Error::is_retryable`].
//! - **CRM** ([`crm::Crm`]): lists as `Stream`s (pages and page tokens, `fields` split
//!   into reads of 50), get, insert/update/upsert/delete in batches of 100 with one
//!   result per record, search with an escaping [`crm::criteria::Criteria`] builder,
//!   COQL, related lists, field metadata, If-Modified-Since reads and If-Unmodified-Since
//!   updates, and the Notification API.
//! - **Books** ([`books::Books`]): organisations, contacts and contact persons, items,
//!   taxes, currencies, templates, invoices, estimates, customer payments and credit
//!   notes, lists as `Stream`s over `page_context`, create-or-update in one call by a
//!   unique custom field ([`books::Books::upsert_item`], `upsert_contact`,
//!   `upsert_invoice`, telling [`books::UpsertOutcome`]), webhook payload parsing.
//! - **Models** keep every field they do not name in an `extra` map, so a
//!   read-modify-write loses nothing, and hold money as [`rust_decimal::Decimal`]
//!   (see [`money`] for how exactness is kept on the wire).
//!
//! # Example
//!
//! Against the local emulator (crate `zoho-emulator`), which plays Zoho Accounts, CRM
//! and Books on one base URL. The same program is run for real by the integration test
//! `tests/example.rs`.
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use zoho::{
//!     Client, Connection,
//!     books::{ListQuery, models::Contact as BooksContact},
//!     crm::{criteria::Criteria, models::Contact, records::{ListParams, WriteOptions}},
//! };
//! use zoho_emulator::{Emulator, EmulatorConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // reqwest is built without a default TLS provider: install ring once per process.
//! let _ = rustls::crypto::ring::default_provider().install_default();
//! let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await?;
//!
//! // The emulator's seeded self-client (see the `emulator` module). For real Zoho:
//! // `Connection::new(Endpoints::from(zoho::DataCenter::Eu), client_id, secret,
//! // refresh_token, organization_id)`.
//! let connection = Connection::from_emulator(&emulator.url()).await?;
//! let client = Client::new(connection)?;
//!
//! // CRM: insert a contact, find it again, list them all.
//! let crm = client.crm();
//! let ada = Contact {
//!     last_name: Some("Lovelace (Analytical), Ltd.".into()),
//!     email: Some("ada@example.com".into()),
//!     ..Contact::default()
//! };
//! let results = crm.insert("Contacts", &[ada], &WriteOptions::no_triggers()).await?;
//! assert!(results[0].is_success());
//! let found: Vec<Contact> = crm
//!     .search("Contacts", Criteria::equals("Last_Name", "Lovelace (Analytical), Ltd."), &["Last_Name"])
//!     .try_collect()
//!     .await?;
//! assert_eq!(found.len(), 1);
//! let everyone: Vec<Contact> =
//!     crm.list("Contacts", ListParams::new(["Last_Name", "Email"])).try_collect().await?;
//! println!("{} CRM contacts", everyone.len());
//!
//! // Books: create a customer and page through the customers.
//! let books = client.books();
//! let customer = BooksContact { contact_name: Some("Analytical Engines".into()), ..Default::default() };
//! let created = books.create_contact(&customer).await?;
//! println!("Books contact {:?}", created.contact_id);
//! let customers: Vec<BooksContact> = books.contacts(ListQuery::new()).try_collect().await?;
//! println!("{} Books contacts; budget: {:?}", customers.len(), client.budget_usage());
//! emulator.stop().await;
//! # Ok(()) }
//! ```
//!
//! # TLS
//!
//! reqwest is built with rustls and no compiled-in default provider (the workspace uses
//! *ring*). [`ClientBuilder::build`] installs ring as the process default if nothing is
//! installed yet; programs that build other `reqwest` clients first must install it
//! themselves (`rustls::crypto::ring::default_provider().install_default()`).

#![warn(missing_docs)]

pub mod books;
pub mod budget;
pub mod client;
pub mod connection;
pub mod crm;
pub mod dc;
pub mod emulator;
pub mod error;
pub mod money;
pub mod retry;
pub mod secret;
pub mod telemetry;
pub mod token;
pub mod token_cache;
pub mod transport;

pub use budget::{Allotment, ApiBudget, BooksPlan, BudgetConfig, BudgetRegistry, BudgetUsage, CrmEdition, Share};
pub use client::{Client, ClientBuilder};
pub use connection::Connection;
pub use dc::{DataCenter, Endpoints};
pub use error::{Api, ApiError, Error, Result, ZohoCode};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use token_cache::{SealedToken, TokenCache};
