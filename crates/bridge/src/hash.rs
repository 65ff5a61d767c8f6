//! Content hashes of mapped payloads, for echo suppression.
//!
//! A flow stores the hash of what it last wrote on the ID link; a later run whose mapped
//! payload hashes the same has nothing to write (our own echo, or a repeated event). The
//! hash must not depend on the order of keys in a JSON object, so objects are hashed in
//! sorted-key order; numbers are hashed as written (`"12.50"` and `12.5` differ, which
//! is why money travels as strings in payloads).

use ring::digest::{Context, SHA256};
use serde_json::Value;

/// SHA-256 of the canonical form of `value`, as 64 lowercase hex digits.
pub fn content_hash(value: &Value) -> String {
    let mut ctx = Context::new(&SHA256);
    feed(&mut ctx, value);
    let digest = ctx.finish();
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a secret (an agent's bearer token), as 64 lowercase hex digits: what the
/// store keeps instead of the secret.
pub fn secret_hash(secret: &str) -> String {
    let digest = ring::digest::digest(&SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new secret of 32 random bytes from the operating system, as `prefix` followed by 64
/// lowercase hex digits (`zbt_…`: the prefix tells a reader what the secret opens).
pub fn random_secret(prefix: &str) -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "the operating system gave no random bytes".to_string())?;
    Ok(format!("{prefix}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Feeds `value` in canonical form: type tag, then content; object keys sorted.
fn feed(ctx: &mut Context, value: &Value) {
    match value {
        Value::Null => ctx.update(b"n"),
        Value::Bool(b) => ctx.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            ctx.update(b"d");
            feed_str(ctx, &n.to_string());
        }
        Value::String(s) => {
            ctx.update(b"s");
            feed_str(ctx, s);
        }
        Value::Array(items) => {
            ctx.update(b"[");
            ctx.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                feed(ctx, item);
            }
        }
        Value::Object(map) => {
            ctx.update(b"{");
            ctx.update(&(map.len() as u64).to_le_bytes());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                feed_str(ctx, key);
                feed(ctx, &map[key]);
            }
        }
    }
}

/// A length-prefixed string, so `["ab","c"]` and `["a","bc"]` differ.
fn feed_str(ctx: &mut Context, s: &str) {
    ctx.update(&(s.len() as u64).to_le_bytes());
    ctx.update(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a = json!({"name": "Widget", "rate": "12.50", "custom_fields": [{"api_name": "x", "value": "1"}]});
        let b = json!({"custom_fields": [{"value": "1", "api_name": "x"}], "rate": "12.50", "name": "Widget"});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_eq!(content_hash(&a).len(), 64);
    }

    #[test]
    fn content_matters() {
        let a = json!({"name": "Widget", "rate": "12.50"});
        assert_ne!(content_hash(&a), content_hash(&json!({"name": "Widget", "rate": "12.51"})));
        assert_ne!(content_hash(&json!(["ab", "c"])), content_hash(&json!(["a", "bc"])));
        assert_ne!(content_hash(&json!("1")), content_hash(&json!(1)));
        assert_ne!(content_hash(&json!(null)), content_hash(&json!(false)));
    }
}
