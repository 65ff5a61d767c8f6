//! The triggers' part of the config file: which webhooks are accepted and how they are
//! authenticated, which CRM notification channels are kept alive, which streams are
//! polled and how often, and which flows each change starts.
//!
//! The config file is the product's interface, so every field has a default where one
//! makes sense and a doc comment saying what it does. Example (TOML):
//!
//! ```toml
//! connection = "default"
//!
//! [webhooks]
//! crm_workflow_secret = "long-random-string"   # sent by the CRM workflow webhook
//! books_secret = "another-long-random-string"  # sent by the Books webhook
//!
//! [channels]
//! notify_url = "https://bridge.example.com/hooks/crm/notify"
//! ttl_secs = 86400
//! [[channels.watch]]
//! channel_id = "1000000001"
//! events = ["Deals.edit", "Products.all"]
//!
//! [poller]
//! interval_secs = 300
//! [[poller.streams]]
//! system = "crm"
//! module = "Deals"
//! [[poller.streams]]
//! system = "books"
//! module = "invoices"
//!
//! [[routes]]
//! system = "crm"
//! module = "Deals"
//! flows = ["deal_to_invoice", "deal_to_credit_note"]
//! ```

use serde::{Deserialize, Serialize};

use super::{routes::Routes, secret::SecretString};

/// Which Zoho product a change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// Zoho CRM.
    Crm,
    /// Zoho Books.
    Books,
}

impl System {
    /// `crm` or `books`, as stored on events and in job keys.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Crm => "crm",
            System::Books => "books",
        }
    }

    /// The system stored as `s` (`crm`, `books`).
    pub fn parse(s: &str) -> Option<System> {
        match s {
            "crm" => Some(System::Crm),
            "books" => Some(System::Books),
            _ => None,
        }
    }

    /// `CRM` or `Books`, as people write it.
    pub fn label(self) -> &'static str {
        match self {
            System::Crm => "CRM",
            System::Books => "Books",
        }
    }
}

/// Everything the triggers need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerConfig {
    /// The connection (Zoho org pair) events belong to. Default `default`.
    pub connection: String,
    /// The webhook receiver.
    pub webhooks: WebhookConfig,
    /// CRM notification channels.
    pub channels: ChannelsConfig,
    /// Pollers (safety net for missed webhooks).
    pub poller: PollerConfig,
    /// Which flows each (system, module) change starts.
    pub routes: Routes,
}

impl TriggerConfig {
    /// A config for `connection` with every other setting at its default.
    pub fn new(connection: impl Into<String>) -> TriggerConfig {
        TriggerConfig { connection: connection.into(), ..TriggerConfig::default() }
    }

    /// The connection name, `default` when unset.
    pub fn connection(&self) -> &str {
        if self.connection.is_empty() { "default" } else { &self.connection }
    }
}

/// How webhooks are authenticated. Neither CRM nor Books signs its webhooks, so each
/// carries a shared secret, either in the `X-Zoho-Bridge-Secret` header or in the
/// `secret` query parameter of the URL configured in Zoho. An endpoint whose secret is
/// not set refuses every call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Secret expected on `POST /hooks/crm/workflow`.
    pub crm_workflow_secret: Option<SecretString>,
    /// …or the environment variable holding it (read when the config file is loaded).
    pub crm_workflow_secret_env: Option<String>,
    /// Secret expected on `POST /hooks/books`.
    pub books_secret: Option<SecretString>,
    /// …or the environment variable holding it (read when the config file is loaded).
    pub books_secret_env: Option<String>,
    /// Largest accepted body, bytes (at least 1 KiB). Default 1 MiB.
    pub max_body_bytes: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig { crm_workflow_secret: None, crm_workflow_secret_env: None, books_secret: None, books_secret_env: None, max_body_bytes: 1 << 20 }
    }
}

/// CRM Notification API channels kept alive by the [`ChannelKeeper`](super::ChannelKeeper).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Public URL of `POST /hooks/crm/notify`, where CRM sends callbacks.
    pub notify_url: String,
    /// Life of a channel, seconds: 1 to a week (CRM's limit). Default one day.
    pub ttl_secs: u64,
    /// Renew a channel when less than this share of its life is left, strictly between
    /// 0 and 1. Default 0.2.
    pub renew_when_left: f64,
    /// How often the keeper checks the channels, seconds: 1 up to the renewal window
    /// (`ttl_secs × renew_when_left`), so no channel expires between two checks.
    /// Default 300.
    pub check_every_secs: u64,
    /// The channels.
    pub watch: Vec<WatchConfig>,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig { notify_url: String::new(), ttl_secs: 86_400, renew_when_left: 0.2, check_every_secs: 300, watch: Vec::new() }
    }
}

/// One notification channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// A number of your choosing, as text (CRM's `channel_id`).
    pub channel_id: String,
    /// `Module.create|edit|delete|all`, e.g. `Deals.edit`; the module is checked at load
    /// like every CRM module name in the file (see `[zoho] custom_modules`).
    pub events: Vec<String>,
    /// Token CRM echoes in callbacks (at most 50 characters). When unset, one derived
    /// from the connection's secrets is used: the same in every process and after every
    /// restart ([`channel_token`](super::secret::channel_token)).
    #[serde(default)]
    pub token: Option<SecretString>,
    /// …or the environment variable holding it (read when the config file is loaded).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// The pollers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollerConfig {
    /// Seconds between two polls of every stream: 1 to a day (the poller is the safety
    /// net for lost webhooks). Default 300.
    pub interval_secs: u64,
    /// Where a stream without a cursor starts, epoch ms (not negative). Default 0
    /// (everything).
    pub start_ms: i64,
    /// The streams to poll.
    pub streams: Vec<StreamConfig>,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig { interval_secs: 300, start_ms: 0, streams: Vec::new() }
    }
}

/// One polled stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `crm` or `books`.
    pub system: System,
    /// CRM module API name (`Deals`) or Books entity (`invoices`, `contacts`, `items`,
    /// `customerpayments`, `creditnotes`, `estimates`, `salesorders`); checked at load.
    pub module: String,
}

impl StreamConfig {
    /// A stream.
    pub fn new(system: System, module: impl Into<String>) -> StreamConfig {
        StreamConfig { system, module: module.into() }
    }

    /// The cursor's stream name: `crm:Deals`, `books:invoices`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.system.as_str(), self.module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let c: TriggerConfig = serde_json::from_str(r#"{"poller":{"streams":[{"system":"books","module":"invoices"}]}}"#).unwrap();
        assert_eq!(c.connection(), "default");
        assert_eq!(c.poller.interval_secs, 300);
        assert_eq!(c.channels.ttl_secs, 86_400);
        assert_eq!(c.poller.streams[0].name(), "books:invoices");
        assert!(serde_json::from_str::<TriggerConfig>(r#"{"webhook":{}}"#).is_err());
    }
}
