//! Keeping CRM notification channels alive.
//!
//! A Notification API channel expires (CRM drops it at `channel_expiry`), so someone
//! must renew each one before that, and re-create it when it was lost anyway (expired
//! while we were down, disabled by hand). The [`ChannelKeeper`] does this from the
//! config; the tokens it registers are shared with the webhook receiver through
//! [`ChannelTokens`], which is how callbacks are authenticated.
//!
//! A channel's token is the one set in the config, or else derived from the connection's
//! secrets ([`channel_token`](super::secret::channel_token)): every process of one
//! connection and every restart use the same token, so no callback is refused because
//! another process (or this one before a restart) registered the channel.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use serde_json::{Map, Value};
use zoho::crm::{Crm, notifications::Channel};

use super::{
    clock::Clock,
    config::{ChannelsConfig, WatchConfig},
    error::TriggerError,
    events::parse_time,
    secret::SecretString,
};

/// The token of every channel we registered or were configured with, by channel id.
/// Shared by the keeper (writes) and the webhook receiver (reads). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ChannelTokens(Arc<RwLock<HashMap<String, SecretString>>>);

impl ChannelTokens {
    /// No channels.
    pub fn new() -> ChannelTokens {
        ChannelTokens::default()
    }

    /// Sets the token of a channel.
    pub fn set(&self, channel_id: &str, token: SecretString) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(channel_id.to_string(), token);
    }

    /// The token of a channel, if known.
    pub fn get(&self, channel_id: &str) -> Option<SecretString> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(channel_id).cloned()
    }
}

/// What one round of the keeper did, by channel id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeeperReport {
    /// Channels enabled (first registration, or re-created after CRM lost them).
    pub created: Vec<String>,
    /// Channels renewed because little of their life was left.
    pub renewed: Vec<String>,
    /// Channels left alone.
    pub unchanged: Vec<String>,
    /// Channels CRM refused, with Zoho's code and message.
    pub failed: Vec<(String, String)>,
}

/// Registers, renews and re-creates the configured channels.
#[derive(Debug)]
pub struct ChannelKeeper {
    crm: Crm,
    config: ChannelsConfig,
    tokens: ChannelTokens,
    clock: Clock,
    /// Channels this process has enabled (with our token) at least once.
    registered: Mutex<HashSet<String>>,
}

impl ChannelKeeper {
    /// A keeper for `config.watch`; channels without a configured token get the one
    /// derived from `crm`'s connection. All are put in `tokens` at once.
    pub fn new(crm: Crm, config: ChannelsConfig, tokens: ChannelTokens, clock: Clock) -> Result<ChannelKeeper, TriggerError> {
        if !config.watch.is_empty() && url::Url::parse(&config.notify_url).is_err() {
            return Err(TriggerError::Config("channels.notify_url is not an absolute URL".into()));
        }
        if config.ttl_secs == 0 || !(0.0..1.0).contains(&config.renew_when_left) {
            return Err(TriggerError::Config("channels.ttl_secs must be > 0 and renew_when_left in [0, 1)".into()));
        }
        for w in &config.watch {
            if w.channel_id.is_empty() || !w.channel_id.chars().all(|c| c.is_ascii_digit()) {
                return Err(TriggerError::Config(format!("channel_id {:?} is not a number", w.channel_id)));
            }
            if w.events.is_empty() {
                return Err(TriggerError::Config(format!("channel {} watches no events", w.channel_id)));
            }
            let token = w.token.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| super::secret::channel_token(crm.connection(), &w.channel_id));
            if token.expose().chars().count() > 50 {
                return Err(TriggerError::Config(format!("the token of channel {} is longer than 50 characters", w.channel_id)));
            }
            tokens.set(&w.channel_id, token);
        }
        Ok(ChannelKeeper { crm, config, tokens, clock, registered: Mutex::new(HashSet::new()) })
    }

    fn ttl_ms(&self) -> i64 {
        (self.config.ttl_secs.min(7 * 86_400) as i64) * 1000
    }

    /// One round: reads the live channels from CRM, enables the ones this process has not
    /// registered yet or that CRM no longer has, and renews the ones with less than
    /// `renew_when_left` of their life left.
    pub async fn run_once(&self) -> Result<KeeperReport, TriggerError> {
        let live = self.crm.list_notifications().await?;
        let now = self.clock.now_ms();
        let mut report = KeeperReport::default();
        for watch in &self.config.watch {
            let action = self.action_for(watch, &live, now);
            let id = watch.channel_id.clone();
            match action {
                Action::Keep => report.unchanged.push(id),
                Action::Create | Action::Renew => match self.enable(watch, now).await {
                    Ok(()) => {
                        tracing::info!(channel_id = %id, renewed = matches!(action, Action::Renew), "CRM notification channel enabled");
                        self.registered.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone());
                        if matches!(action, Action::Renew) { report.renewed.push(id) } else { report.created.push(id) }
                    }
                    Err(e) => {
                        tracing::warn!(channel_id = %id, error = %e, "CRM notification channel not enabled");
                        report.failed.push((id, e.to_string()));
                    }
                },
            }
        }
        Ok(report)
    }

    fn action_for(&self, watch: &WatchConfig, live: &[Value], now: i64) -> Action {
        if !self.registered.lock().unwrap_or_else(|p| p.into_inner()).contains(&watch.channel_id) {
            return Action::Create;
        }
        let entries: Vec<&Value> = live.iter().filter(|e| channel_of(e).as_deref() == Some(watch.channel_id.as_str())).collect();
        let modules: HashSet<&str> = entries.iter().filter_map(|e| e.get("resource_name").and_then(Value::as_str)).collect();
        let wanted: HashSet<&str> = watch.events.iter().filter_map(|e| e.split('.').next()).collect();
        if entries.is_empty() || !wanted.iter().all(|m| modules.contains(m)) {
            return Action::Create;
        }
        let expiry =
            entries.iter().map(|e| e.get("channel_expiry").and_then(Value::as_str).and_then(parse_time)).try_fold(i64::MAX, |acc, e| e.map(|e| acc.min(e)));
        match expiry {
            // Unknown expiry: renewing is harmless.
            None => Action::Renew,
            Some(exp) if ((exp - now) as f64) < self.config.renew_when_left * self.ttl_ms() as f64 => Action::Renew,
            Some(_) => Action::Keep,
        }
    }

    async fn enable(&self, watch: &WatchConfig, now: i64) -> Result<(), TriggerError> {
        let token = self.tokens.get(&watch.channel_id).ok_or_else(|| TriggerError::Config(format!("no token for channel {}", watch.channel_id)))?;
        // Whole seconds: CRM's date-time has no fraction.
        let expiry = jiff::Timestamp::from_second((now + self.ttl_ms()) / 1000).map_err(|e| TriggerError::Config(format!("channel expiry: {e}")))?;
        let channel = Channel {
            channel_id: watch.channel_id.clone(),
            events: watch.events.clone(),
            notify_url: self.config.notify_url.clone(),
            token: Some(token.expose().to_string()),
            channel_expiry: Some(expiry),
            return_affected_field_values: None,
            notify_on_related_action: None,
            extra: Map::new(),
        };
        let result = self.crm.enable_notifications(std::slice::from_ref(&channel)).await?;
        match result.into_iter().next() {
            Some(r) if r.is_success() => Ok(()),
            Some(r) => Err(TriggerError::Channel { channel_id: watch.channel_id.clone(), code: r.code, message: r.message }),
            None => Err(TriggerError::Channel { channel_id: watch.channel_id.clone(), code: "NO_RESULT".into(), message: "CRM answered nothing".into() }),
        }
    }

    /// Runs [`ChannelKeeper::run_once`] every `check_every_secs`, forever (the binary
    /// spawns it and aborts it at shutdown).
    pub async fn run(&self) {
        let mut every = tokio::time::interval(Duration::from_secs(self.config.check_every_secs.max(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.run_once().await {
                Ok(r) if !r.failed.is_empty() => tracing::warn!(failed = r.failed.len(), "some CRM notification channels could not be enabled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not check CRM notification channels"),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Keep,
    Create,
    Renew,
}

fn channel_of(entry: &Value) -> Option<String> {
    match entry.get("channel_id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
