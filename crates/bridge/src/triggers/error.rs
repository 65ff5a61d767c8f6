//! The one error type of the triggers, so callers (the binary, tests) match on causes
//! instead of strings. Messages never carry secrets or tokens.

use crate::store::StoreError;

/// What can go wrong in a trigger.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Zoho refused or could not be reached.
    #[error("zoho: {0}")]
    Zoho(#[from] zoho::Error),
    /// A record read from Zoho lacked something the trigger needs (id, modified time).
    #[error("{stream}: {problem}")]
    BadRecord {
        /// The stream being read (`crm:Deals`).
        stream: String,
        /// What was wrong.
        problem: String,
    },
    /// A configured value is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// CRM refused to enable or renew a channel.
    #[error("channel {channel_id}: CRM answered {code}: {message}")]
    Channel {
        /// The channel.
        channel_id: String,
        /// Zoho's code.
        code: String,
        /// Zoho's message.
        message: String,
    },
}
