//! Shared secrets and channel tokens: never printed, compared in constant time.
//!
//! Webhook secrets and notification tokens authenticate callers that Zoho does not sign
//! for us. They are the `zoho` crate's [`zoho::Secret`] (redacted in `Debug`, `Display`
//! and serialisation, compared with [`zoho::Secret::matches`]); this module only adds
//! the generation of fresh channel tokens.

/// A secret from the config or generated here.
pub type SecretString = zoho::Secret;

/// A random token of 32 hex characters (128 bits; fits CRM's 50-character limit).
pub fn random_token() -> SecretString {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // A failing OS generator is not something to limp on with a weak token.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("the operating system's random number generator failed");
    }
    SecretString::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_bit_hex_and_fresh() {
        let r = random_token();
        assert_eq!(r.expose().len(), 32);
        assert!(r.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(r.expose(), random_token().expose());
    }
}
