//! `[dashboard]`: where the dashboard is served and who may log in.
//!
//! The dashboard lets people replay and drop dead letters, decide reviews and approve
//! actions, so every page but the login needs a token. The token is never in the file:
//! the file holds its SHA-256 (`token_sha256`), or the environment variable
//! [`TOKEN_ENV`] holds it in clear, which is hashed as soon as it is read and only the
//! hash kept. Sessions are cookies signed with a key that is random per process unless
//! `session_key_env` names an environment variable holding one (so that sessions outlive
//! a restart, or are shared by processes behind one address).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{Key, Problem, within};
use crate::triggers::SecretString;

/// The environment variable that may hold the dashboard's login token in clear.
pub const TOKEN_ENV: &str = "ZOHO_BRIDGE_DASHBOARD_TOKEN";

/// The shortest session signing key accepted, in bytes.
pub const MIN_SESSION_KEY_BYTES: usize = 32;

/// The dashboard's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardSettings {
    /// Serve the dashboard at all. Default true.
    pub enabled: bool,
    /// A second listener for the dashboard alone (`127.0.0.1:8081`); default none: it is
    /// served under `/` on the main listener, beside `/hooks`.
    pub listen: Option<String>,
    /// The SHA-256 of the login token, 64 hex digits (`printf %s "$TOKEN" | sha256sum`).
    /// [`TOKEN_ENV`] may hold a token in clear instead (or as well).
    pub token_sha256: Option<String>,
    /// How long a login lasts, seconds: a minute to 30 days. Default 12 hours.
    pub session_secs: u64,
    /// Environment variable holding the key that signs session cookies (at least 32
    /// bytes). Default none: a random key per process (a restart logs everyone out).
    pub session_key_env: Option<String>,
    /// The key read from `session_key_env`.
    #[serde(skip)]
    pub session_key: Option<SecretString>,
    /// The SHA-256 of every accepted token: `token_sha256` and the token in
    /// [`TOKEN_ENV`], hashed when the file was loaded.
    #[serde(skip)]
    pub token_hashes: Vec<[u8; 32]>,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            enabled: true,
            listen: None,
            token_sha256: None,
            session_secs: 12 * 3_600,
            session_key_env: None,
            session_key: None,
            token_hashes: Vec::new(),
        }
    }
}

/// The SHA-256 of `token`.
pub fn token_hash(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// `[dashboard] token_sha256` as bytes, if it is 64 hex digits.
fn parse_hex_hash(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn at(names: &[&'static str]) -> Vec<Key<'static>> {
    names.iter().map(|n| Key::Name(n)).collect()
}

impl DashboardSettings {
    /// Checks the section and reads the token and the session key from `env`; `main`
    /// is the main listener's address.
    pub(super) fn load(&mut self, main: &str, env: &impl Fn(&str) -> Option<String>) -> Result<(), Problem> {
        if let Some(listen) = &self.listen {
            let Ok(addr) = listen.parse::<SocketAddr>() else {
                return Err(Problem::new(at(&["dashboard", "listen"]), format!("{listen:?} is not an address and port (e.g. 127.0.0.1:8081)")));
            };
            if addr.port() != 0 && main.parse::<SocketAddr>().is_ok_and(|m| m == addr) {
                return Err(Problem::new(
                    at(&["dashboard", "listen"]),
                    format!("{listen} is the main listener's address: leave dashboard.listen out to serve the dashboard there, or pick another port"),
                ));
            }
        }
        within(at(&["dashboard", "session_secs"]), self.session_secs, (60, 30 * 86_400), "seconds", " (how long a login lasts)")?;
        self.token_hashes.clear();
        if let Some(hex) = &self.token_sha256 {
            let hash = parse_hex_hash(hex)
                .ok_or_else(|| Problem::new(at(&["dashboard", "token_sha256"]), "not a SHA-256 in hex (64 digits 0-9a-f): printf %s \"$TOKEN\" | sha256sum"))?;
            self.token_hashes.push(hash);
        }
        if let Some(token) = env(TOKEN_ENV).filter(|t| !t.is_empty()) {
            self.token_hashes.push(token_hash(&token));
        }
        self.session_key = None;
        if let Some(var) = &self.session_key_env {
            let key = env(var)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Problem::new(at(&["dashboard", "session_key_env"]), format!("the environment variable {var} is not set (or is empty)")))?;
            if key.len() < MIN_SESSION_KEY_BYTES {
                return Err(Problem::new(
                    at(&["dashboard", "session_key_env"]),
                    format!("the key in {var} is shorter than {MIN_SESSION_KEY_BYTES} bytes (e.g. openssl rand -hex 32)"),
                ));
            }
            self.session_key = Some(SecretString::new(key));
        }
        Ok(())
    }
}
