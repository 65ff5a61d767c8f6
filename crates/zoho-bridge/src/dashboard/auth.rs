//! Who may use the dashboard: the login token, the session cookie and the CSRF token.
//!
//! The token is kept only as SHA-256 hashes ([`bridge::config::DashboardSettings`]); a
//! login hashes what was typed and compares it with each in constant time. A session is
//! a cookie `<expires_ms>.<nonce>.<name>.<mac>`: the HMAC-SHA256 of the rest under a key
//! random per process (or from `[dashboard] session_key_env`), so it cannot be forged
//! or extended, and it ends at `expires_ms` whatever the browser does. The CSRF token of
//! a session is the HMAC of its nonce under the same key: every form carries it and
//! every POST is refused without it, so another site cannot make a logged-in browser
//! act. Nothing here is logged or shown.

use ring::{hmac, rand::SecureRandom};

/// The session cookie's name.
pub const COOKIE: &str = "zb_session";

/// The longest name a person may give at login (it goes into the audit of decisions).
pub const MAX_NAME: usize = 40;

/// A logged-in session, read from a valid cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who logged in (the name given at login, or `dashboard`).
    pub name: String,
    /// When it ends, epoch ms.
    pub expires_ms: i64,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// The login check and the session signing key.
pub struct Login {
    /// SHA-256 of each accepted token; empty: nobody can log in.
    token_hashes: Vec<[u8; 32]>,
    key: hmac::Key,
    session_ms: i64,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("tokens", &self.token_hashes.len()).field("session_ms", &self.session_ms).finish_non_exhaustive()
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
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

/// The name as kept in a session: letters, digits and `.-_@ `, at most [`MAX_NAME`]
/// characters; `dashboard` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let kept: String = name.trim().chars().filter(|c| c.is_alphanumeric() || " .-_@".contains(*c)).take(MAX_NAME).collect();
    if kept.trim().is_empty() { "dashboard".into() } else { kept.trim().to_string() }
}

impl Login {
    /// Accepts the tokens hashed in `settings`, signs with its session key or a random
    /// one.
    pub fn new(settings: &bridge::config::DashboardSettings) -> Login {
        let key = match &settings.session_key {
            Some(key) => hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes()),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new()).expect("the system's random source"),
        };
        let session_ms = i64::try_from(settings.session_secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
        Login { token_hashes: settings.token_hashes.clone(), key, session_ms }
    }

    /// Whether a token is configured at all.
    pub fn configured(&self) -> bool {
        !self.token_hashes.is_empty()
    }

    /// Whether `token` is one of the accepted ones (every hash is compared, in constant
    /// time).
    pub fn accepts(&self, token: &str) -> bool {
        let hash = bridge::config::token_hash(token);
        self.token_hashes.iter().fold(false, |ok, h| constant_time_eq(h, &hash) | ok)
    }

    /// A new session for `name` at `now_ms`: the cookie's value and the session.
    pub fn start(&self, name: &str, now_ms: i64) -> (String, Session) {
        let mut nonce = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut nonce).expect("the system's random source");
        let expires_ms = now_ms.saturating_add(self.session_ms);
        let name = clean_name(name);
        let body = format!("{expires_ms}.{}.{}", hex(&nonce), hex(name.as_bytes()));
        let mac = hmac::sign(&self.key, format!("session v1\n{body}").as_bytes());
        let session = Session { name, expires_ms, csrf: self.csrf(&nonce) };
        (format!("{body}.{}", hex(mac.as_ref())), session)
    }

    /// The session a cookie value stands for, if it is one this process signed and it
    /// has not expired at `now_ms`.
    pub fn session(&self, cookie: &str, now_ms: i64) -> Option<Session> {
        let (body, mac) = cookie.rsplit_once('.')?;
        hmac::verify(&self.key, format!("session v1\n{body}").as_bytes(), &unhex(mac)?).ok()?;
        let mut parts = body.split('.');
        let expires_ms: i64 = parts.next()?.parse().ok()?;
        let nonce = unhex(parts.next()?)?;
        let name = String::from_utf8(unhex(parts.next()?)?).ok()?;
        if parts.next().is_some() || now_ms >= expires_ms {
            return None;
        }
        Some(Session { name, expires_ms, csrf: self.csrf(&nonce) })
    }

    /// The CSRF token of the session with `nonce`.
    fn csrf(&self, nonce: &[u8]) -> String {
        let mut input = b"csrf v1\n".to_vec();
        input.extend_from_slice(nonce);
        hex(&hmac::sign(&self.key, &input).as_ref()[..16])
    }

    /// The `Set-Cookie` value that starts a session (`max_age_secs` from now).
    pub fn set_cookie(&self, value: &str, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", self.session_ms / 1000)
    }
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value among a request's `Cookie` headers.
pub fn cookie_value<'a>(headers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    headers.flat_map(|h| h.split(';')).map(str::trim).find_map(|pair| pair.strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(token: &str) -> Login {
        let settings = bridge::config::DashboardSettings { token_hashes: vec![bridge::config::token_hash(token)], ..Default::default() };
        Login::new(&settings)
    }

    #[test]
    fn only_the_configured_token_logs_in() {
        let l = login("correct horse");
        assert!(l.configured());
        assert!(l.accepts("correct horse"));
        assert!(!l.accepts("correct hors") && !l.accepts("") && !l.accepts("correct horse "));
        assert!(!Login::new(&Default::default()).configured());
        assert!(!Login::new(&Default::default()).accepts(""), "no token configured: nobody logs in");
    }

    #[test]
    fn sessions_are_signed_expire_and_carry_their_csrf_token() {
        let l = login("t");
        let (cookie, session) = l.start("Ann <script>", 1_000);
        assert_eq!(session.name, "Ann script", "the name is cleaned");
        assert_eq!(l.session(&cookie, 1_001), Some(session.clone()));
        assert_eq!(l.session(&cookie, session.expires_ms), None, "expired");
        // Another process's key (or a forged cookie) is refused.
        assert_eq!(login("t").session(&cookie, 1_001), None);
        let (body, mac) = cookie.rsplit_once('.').unwrap();
        let longer = body.replacen(&session.expires_ms.to_string(), &(session.expires_ms + 1).to_string(), 1);
        assert_eq!(l.session(&format!("{longer}.{mac}"), 1_001), None, "the expiry cannot be moved");
        assert_eq!(l.session("garbage", 1_001), None);
        // Each session has its own CSRF token.
        let (_, other) = l.start("Bo", 1_000);
        assert_ne!(session.csrf, other.csrf);
        assert_eq!(session.csrf.len(), 32);
    }

    #[test]
    fn the_cookie_is_found_among_others_and_set_strictly() {
        assert_eq!(cookie_value(["a=1; zb_session=abc.def; b=2"].into_iter()), Some("abc.def"));
        assert_eq!(cookie_value(["zb_sessionx=1", "zb_session=v"].into_iter()), Some("v"));
        assert_eq!(cookie_value(["other=1"].into_iter()), None);
        let set = login("t").set_cookie("v", false);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age=43200"), "{set}");
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
