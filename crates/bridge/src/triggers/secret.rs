//! Shared secrets and channel tokens: never printed, compared in constant time.
//!
//! Webhook secrets and notification tokens authenticate callers that Zoho does not sign
//! for us; a derived `Debug` or a timing difference in `==` would leak them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// A secret string from the config (or generated): redacted in `Debug`/`Display`.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// A random token of 32 hex characters (128 bits; fits CRM's 50-character limit).
    pub fn random() -> SecretString {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 16];
        // A failing OS generator is not something to limp on with a weak token.
        if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
            panic!("the operating system's random number generator failed");
        }
        SecretString(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The value, for sending it where it belongs (never for logs).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (an empty secret authenticates nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with what a caller presented; an empty secret matches
    /// nothing.
    pub fn matches(&self, presented: &str) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Config dumps show that a secret is set, not what it is.
        s.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed_and_compared_exactly() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "SecretString(***) ***");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter"));
        assert!(!s.matches("hunter22"));
        assert!(!SecretString::default().matches(""));
        let r = SecretString::random();
        assert_eq!(r.expose().len(), 32);
        assert_ne!(r.expose(), SecretString::random().expose());
    }
}
