//! Zoho CRM v8: records, search, COQL, metadata and notifications.
//!
//! Obtain a [`Crm`] with [`Client::crm`](crate::Client::crm). Lists are `Stream`s that
//! page on their own; writes go in batches of up to 100 records and return one
//! [`WriteResult`](models::WriteResult) per record, in input order.

pub mod coql;
pub mod criteria;
pub mod fields;
pub mod models;
pub mod notifications;
pub mod records;
pub mod search;

use jiff::{Timestamp, tz::TimeZone};

use crate::{client::Client, transport::Transport};

/// Most field API names one read may ask for.
pub const MAX_FIELDS: usize = 50;
/// Most records one write may carry.
pub const MAX_BATCH: usize = 100;
/// Largest page size.
pub const MAX_PER_PAGE: u32 = 200;

/// Handle on Zoho CRM for one connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Crm {
    client: Client,
}

impl Crm {
    pub(crate) fn new(client: Client) -> Crm {
        Crm { client }
    }

    pub(crate) fn transport(&self) -> &Transport {
        self.client.transport()
    }

    /// The connection this handle calls CRM with.
    pub fn connection(&self) -> &crate::Connection {
        self.client.connection()
    }
}

/// CRM's date-time format: `2024-05-10T01:10:47+00:00`.
pub fn format_time(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}
