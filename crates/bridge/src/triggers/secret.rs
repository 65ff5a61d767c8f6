//! Shared secrets and channel tokens: never printed, compared in constant time.
//!
//! Webhook secrets and notification tokens authenticate callers that Zoho does not sign
//! for us. They are the `zoho` crate's [`zoho::Secret`] (redacted in `Debug`, `Display`
//! and serialisation, compared with [`zoho::Secret::matches`]); this module only adds
//! the making of channel tokens.

/// A secret from the config or derived here.
pub type SecretString = zoho::Secret;

/// The token of notification channel `channel_id` on connection `conn`: an
/// HMAC-SHA-256 of the channel id keyed by the connection's client secret and refresh
/// token, as 32 hex characters. Every process of a connection, and the same process after
/// a restart, computes the same token without storing it anywhere, so a callback is
/// accepted by whichever process receives it and a restart refuses none. A new refresh
/// token (or client secret) gives new tokens; the keeper re-enables its channels with
/// them on its first round.
pub fn channel_token(conn: &zoho::Connection, channel_id: &str) -> SecretString {
    use ring::hmac;
    let mut key_material = Vec::new();
    for part in [conn.client_secret.expose(), conn.refresh_token.expose()] {
        key_material.extend_from_slice(&(part.len() as u64).to_be_bytes());
        key_material.extend_from_slice(part.as_bytes());
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_material);
    let tag = hmac::sign(&key, format!("zoho-bridge notification channel token v1\n{}\n{channel_id}", conn.client_id).as_bytes());
    SecretString::new(tag.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(secret: &str, refresh: &str) -> zoho::Connection {
        zoho::Connection::new(zoho::DataCenter::Us, "1000.CLIENT", secret, refresh, "1")
    }

    #[test]
    fn channel_tokens_are_stable_per_connection_and_channel() {
        let conn = connection("client-secret", "1000.refresh");
        let t = channel_token(&conn, "1000000001");
        assert_eq!(t.expose().len(), 32);
        assert!(t.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t.expose(), channel_token(&connection("client-secret", "1000.refresh"), "1000000001").expose(), "same for every process");
        assert_ne!(t.expose(), channel_token(&conn, "1000000002").expose(), "one per channel");
        assert_ne!(t.expose(), channel_token(&connection("client-secret", "1000.other"), "1000000001").expose(), "a new refresh token gives new tokens");
        assert_ne!(t.expose(), channel_token(&connection("other-secret", "1000.refresh"), "1000000001").expose());
    }
}
