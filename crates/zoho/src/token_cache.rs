//! Sharing one access token between processes.
//!
//! Zoho allows about ten token requests per ten minutes per refresh token. One process
//! refreshes once for all its tasks ([`crate::token::TokenManager`]); several processes
//! of one connection (a `serve` and its extra workers, or a worker restarted in a crash
//! loop) must also share, or together they exhaust the allowance and every one of them
//! is refused. A [`TokenCache`] is the shared place (the sync engine keeps it in its
//! store): before asking Zoho, a process takes a token another one left there if it is
//! still good; after asking, it leaves its own.
//!
//! The cache never sees a token in clear: [`SealedToken`]s are sealed with AES-256-GCM
//! under a key derived (HKDF-SHA-256) from the connection's client secret and refresh
//! token, which every process of the connection has and the cache does not. The cache
//! key is a hash of the connection (accounts server, client id, refresh token), so
//! connections never read each other's tokens and no secret shows in the key.

use std::fmt;

use futures_util::future::BoxFuture;
use ring::{aead, digest, hkdf, rand::SecureRandom};
use serde::{Deserialize, Serialize};

use crate::{connection::Connection, secret::Secret};

/// A sealed access token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedToken {
    /// Nonce and ciphertext, hex.
    pub sealed: String,
    /// When the token expires, epoch ms (Zoho's lifetime, not shortened by any margin).
    pub expires_ms: i64,
}

/// Where processes of one connection keep its access token. Errors are text: a cache
/// that fails only costs a token request, so the client logs them and carries on.
pub trait TokenCache: Send + Sync + fmt::Debug {
    /// The token stored under `key`, if any.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<SealedToken>, String>>;
    /// Stores `token` under `key`, replacing what was there.
    fn save<'a>(&'a self, key: &'a str, token: &'a SealedToken) -> BoxFuture<'a, Result<(), String>>;
}

/// What is sealed.
#[derive(Serialize, Deserialize)]
struct Plain {
    access_token: String,
    api_domain: String,
    /// The token's whole lifetime (the refresh margin is a share of it).
    lifetime_ms: u64,
}

/// Seals and opens the tokens of one connection.
pub(crate) struct Sealer {
    key: aead::LessSafeKey,
    cache_key: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("cache_key", &self.cache_key).finish_non_exhaustive()
    }
}

/// The HKDF output length for AES-256.
struct Aes256;

impl hkdf::KeyType for Aes256 {
    fn len(&self) -> usize {
        32
    }
}

impl Sealer {
    /// The sealer of `conn`.
    pub(crate) fn new(conn: &Connection) -> Sealer {
        let mut ikm = Vec::new();
        for part in [conn.client_secret.expose(), conn.refresh_token.expose()] {
            ikm.extend_from_slice(&(part.len() as u64).to_be_bytes());
            ikm.extend_from_slice(part.as_bytes());
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"zoho-bridge token cache v1").extract(&ikm);
        let mut bytes = [0u8; 32];
        prk.expand(&[b"access token"], Aes256).and_then(|okm| okm.fill(&mut bytes)).expect("32 bytes is a valid HKDF-SHA-256 output length");
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &bytes).expect("32-byte AES-256 key"));
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in ["v1", conn.endpoints.accounts_url.as_str(), conn.client_id.as_str(), conn.refresh_token.expose()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let cache_key = format!("zoho-token:{}", hex(&ctx.finish().as_ref()[..16]));
        Sealer { key, cache_key }
    }

    /// The key this connection's token is cached under.
    pub(crate) fn cache_key(&self) -> &str {
        &self.cache_key
    }

    /// Seals `token` for `api_domain`, living `lifetime_ms` and expiring at `expires_ms`.
    pub(crate) fn seal(&self, token: &Secret, api_domain: &str, lifetime_ms: u64, expires_ms: i64) -> Option<SealedToken> {
        let plain = Plain { access_token: token.expose().to_string(), api_domain: api_domain.to_string(), lifetime_ms };
        let plain = serde_json::to_vec(&plain).ok()?;
        let mut nonce = [0u8; aead::NONCE_LEN];
        ring::rand::SystemRandom::new().fill(&mut nonce).ok()?;
        let mut data = plain;
        self.key.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(self.cache_key.as_bytes()), &mut data).ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(SealedToken { sealed: hex(&out), expires_ms })
    }

    /// Opens `sealed`: the token, its API domain and its lifetime (ms), or `None` when it
    /// was not sealed for this connection (or was tampered with).
    pub(crate) fn open(&self, sealed: &SealedToken) -> Option<(Secret, String, u64)> {
        let mut bytes = unhex(&sealed.sealed)?;
        if bytes.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return None;
        }
        let mut data = bytes.split_off(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self.key.open_in_place(nonce, aead::Aad::from(self.cache_key.as_bytes()), &mut data).ok()?;
        let plain: Plain = serde_json::from_slice(plain).ok()?;
        Some((Secret::new(plain.access_token), plain.api_domain, plain.lifetime_ms))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dc::Endpoints;

    fn conn(refresh: &str) -> Connection {
        Connection::new(Endpoints::custom("https://accounts.example", "https://api.example"), "1000.ID", "client-secret", refresh, "42")
    }

    #[test]
    fn seals_opens_and_refuses_other_connections_and_tampering() {
        let sealer = Sealer::new(&conn("refresh-a"));
        let token = Secret::new("1000.the-access-token");
        let sealed = sealer.seal(&token, "https://www.zohoapis.eu", 3_600_000, 1_700_000_000_000).unwrap();
        assert!(!sealed.sealed.contains("the-access-token"));
        assert!(!sealer.cache_key().contains("refresh-a"));
        let (opened, domain, lifetime) = sealer.open(&sealed).unwrap();
        assert_eq!((opened.expose(), domain.as_str(), lifetime), ("1000.the-access-token", "https://www.zohoapis.eu", 3_600_000));
        // Sealed twice, two different texts (fresh nonce).
        assert_ne!(sealer.seal(&token, "d", 1, 1).unwrap().sealed, sealer.seal(&token, "d", 1, 1).unwrap().sealed);

        let other = Sealer::new(&conn("refresh-b"));
        assert_ne!(other.cache_key(), sealer.cache_key());
        assert!(other.open(&sealed).is_none(), "another refresh token cannot open it");
        let mut tampered = sealed.clone();
        let last = tampered.sealed.pop().unwrap();
        tampered.sealed.push(if last == '0' { '1' } else { '0' });
        assert!(sealer.open(&tampered).is_none());
        assert!(sealer.open(&SealedToken { sealed: "zz".into(), expires_ms: 0 }).is_none());
    }
}
