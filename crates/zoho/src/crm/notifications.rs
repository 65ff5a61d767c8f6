//! The Notification API (`/crm/v8/actions/watch`): enable, renew, disable channels, and
//! parse the callbacks CRM POSTs to `notify_url`.
//!
//! Channels expire (default one hour, at most a week), so a subscriber must renew each
//! one before `channel_expiry`; [`Channel::needs_renewal`] says when. Callbacks carry no
//! signature: check `channel_id` and `token` with [`verify_callback`], then re-read the
//! records, since the callback is a hint, not the data.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Crm, format_time, models::NotificationCallback};
use crate::{
    error::{Api, Error, Result},
    transport::Request,
};

/// A notification channel to enable (or as last enabled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// A number you choose, as text.
    pub channel_id: String,
    /// `Module.create|edit|delete|all`, e.g. `Deals.edit`.
    pub events: Vec<String>,
    /// Where CRM POSTs callbacks.
    pub notify_url: String,
    /// Echoed back in callbacks (≤ 50 characters): check it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the channel stops; serialised as `yyyy-MM-ddTHH:mm:ss+00:00`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "expiry")]
    pub channel_expiry: Option<Timestamp>,
    /// Whether callbacks carry the changed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_affected_field_values: Option<bool>,
    /// Whether changes to related records notify too (Zoho's default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_on_related_action: Option<bool>,
    /// Other settings (`notification_condition`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

mod expiry {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ts) => s.serialize_str(&super::format_time(*ts)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| s.parse::<Timestamp>().map_err(serde::de::Error::custom)).transpose()
    }
}

impl Channel {
    /// A channel for `events` posting to `notify_url`, verified by `token`, living `ttl`.
    pub fn new(channel_id: impl Into<String>, events: &[&str], notify_url: impl Into<String>, token: impl Into<String>, ttl: Duration) -> Channel {
        Channel {
            channel_id: channel_id.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            notify_url: notify_url.into(),
            token: Some(token.into()),
            channel_expiry: Some(expiry_in(ttl)),
            return_affected_field_values: None,
            notify_on_related_action: None,
            extra: Map::new(),
        }
    }

    /// Whether the channel expires within `margin` of `now` (or has no known expiry).
    pub fn needs_renewal(&self, now: Timestamp, margin: Duration) -> bool {
        match self.channel_expiry {
            Some(exp) => now + SignedDuration::try_from(margin).unwrap_or(SignedDuration::MAX) >= exp,
            None => true,
        }
    }
}

fn expiry_in(ttl: Duration) -> Timestamp {
    let secs = ttl.as_secs().min(7 * 86_400) as i64;
    // Whole seconds: CRM's format has no fraction.
    Timestamp::from_second(Timestamp::now().as_second() + secs).unwrap_or_else(|_| Timestamp::now())
}

/// CRM's answer for one channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WatchResult {
    /// `SUCCESS` or an error code.
    pub code: String,
    /// `success` or `error`.
    #[serde(default)]
    pub status: String,
    /// Zoho's message.
    #[serde(default)]
    pub message: String,
    /// `events[{channel_expiry, resource_name, channel_id…}]` on success.
    #[serde(default)]
    pub details: Value,
}

impl WatchResult {
    /// Whether the operation succeeded for this channel.
    pub fn is_success(&self) -> bool {
        self.code == "SUCCESS" || self.status.eq_ignore_ascii_case("success")
    }
}

#[derive(Deserialize)]
struct WatchAnswer {
    #[serde(default)]
    watch: Vec<WatchResult>,
}

impl Crm {
    /// Enables channels (`POST /actions/watch`).
    pub async fn enable_notifications(&self, channels: &[Channel]) -> Result<Vec<WatchResult>> {
        let req = Request::new(Api::Crm, Method::POST, "/crm/v8/actions/watch").json(&json!({ "watch": channels }))?.idempotent(true);
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(Vec::new());
        }
        Ok(resp.json::<WatchAnswer>("actions/watch")?.watch)
    }

    /// Renews a channel for another `ttl` (re-subscribes it with a new expiry) and
    /// updates `channel.channel_expiry`.
    pub async fn renew_notification(&self, channel: &mut Channel, ttl: Duration) -> Result<WatchResult> {
        let mut renewed = channel.clone();
        renewed.channel_expiry = Some(expiry_in(ttl));
        let result = self
            .enable_notifications(std::slice::from_ref(&renewed))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::decode("actions/watch", "no result for the channel"))?;
        if result.is_success() {
            *channel = renewed;
        }
        Ok(result)
    }

    /// Renews `channel` if it expires within `margin`; `None` when it was not due.
    pub async fn renew_if_due(&self, channel: &mut Channel, margin: Duration, ttl: Duration) -> Result<Option<WatchResult>> {
        if channel.needs_renewal(Timestamp::now(), margin) { self.renew_notification(channel, ttl).await.map(Some) } else { Ok(None) }
    }

    /// Disables channels (`DELETE /actions/watch?channel_ids=…`).
    pub async fn disable_notifications(&self, channel_ids: &[&str]) -> Result<Vec<WatchResult>> {
        let req = Request::new(Api::Crm, Method::DELETE, "/crm/v8/actions/watch").query("channel_ids", channel_ids.join(","));
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(Vec::new());
        }
        Ok(resp.json::<WatchAnswer>("actions/watch")?.watch)
    }

    /// The channels enabled now (`GET /actions/watch`).
    pub async fn list_notifications(&self) -> Result<Vec<Value>> {
        let req = Request::new(Api::Crm, Method::GET, "/crm/v8/actions/watch");
        let resp = self.transport().send(&req).await?;
        if resp.is_empty() {
            return Ok(Vec::new());
        }
        let body: Value = resp.json("actions/watch")?;
        Ok(body.get("watch").and_then(Value::as_array).cloned().unwrap_or_default())
    }
}

/// Parses a callback body.
pub fn parse_callback(body: &[u8]) -> Result<NotificationCallback> {
    serde_json::from_slice(body).map_err(|e| Error::decode("CRM notification callback", e))
}

/// Parses a callback and checks it belongs to `channel` (same id and token).
pub fn verify_callback(body: &[u8], channel: &Channel) -> Result<NotificationCallback> {
    let cb = parse_callback(body)?;
    if cb.channel_id != channel.channel_id || cb.token != channel.token {
        return Err(Error::InvalidInput(format!("callback for channel {} does not match channel {}", cb.channel_id, channel.channel_id)));
    }
    Ok(cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_parse_and_verify() {
        let body = br#"{"server_time":1718117126473,"query_params":{},"module":"Leads","resource_uri":"https://www.zohoapis.com/crm/v2/Leads","ids":["5725767000003000064","5725767000003000065"],"affected_fields":[],"operation":"insert","channel_id":1000000068001,"token":"TOK"}"#;
        let ch = Channel::new("1000000068001", &["Leads.all"], "https://x/y", "TOK", Duration::from_secs(3600));
        let cb = verify_callback(body, &ch).unwrap();
        assert_eq!(cb.ids.len(), 2);
        assert_eq!(cb.operation, "insert");
        let other = Channel { token: Some("nope".into()), ..ch.clone() };
        assert!(verify_callback(body, &other).is_err());
    }

    #[test]
    fn renewal_is_due_near_expiry() {
        let ch = Channel::new("1", &["Deals.edit"], "u", "t", Duration::from_secs(3600));
        assert!(!ch.needs_renewal(Timestamp::now(), Duration::from_secs(600)));
        assert!(ch.needs_renewal(Timestamp::now(), Duration::from_secs(3601)));
        let json = serde_json::to_value(&ch).unwrap();
        assert!(json["channel_expiry"].as_str().unwrap().ends_with("+00:00"));
    }
}
