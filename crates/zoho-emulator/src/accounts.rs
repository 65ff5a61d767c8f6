//! Zoho Accounts: the OAuth 2.0 token endpoint and the tokens it hands out.
//!
//! Reproduces what a client must cope with: the refresh-token and self-client
//! authorization-code grants, errors answered with HTTP 200 and an `error` field, the
//! per-refresh-token throttle (10 token requests per 10 minutes), at most 10 live access
//! tokens per refresh token (the oldest is silently revoked), and expiry after
//! `expires_in` seconds.

use std::collections::{BTreeMap, HashMap, VecDeque};

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{rng::Rng, state::AppState};

/// Every scope the seeded self-client is granted.
pub const FULL_SCOPE: &str = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,\
ZohoCRM.org.READ,ZohoCRM.notifications.ALL,ZohoCRM.coql.READ,ZohoBooks.fullaccess.all";

/// A registered OAuth client (a self-client in Zoho's API console).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Client {
    /// `1000.XXXX...`
    pub client_id: String,
    /// The secret; only ever returned by `/__emulator/credentials`.
    pub client_secret: String,
}

/// A refresh token and the bookkeeping Zoho keeps for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshToken {
    /// The client it belongs to.
    pub client_id: String,
    /// Comma-separated scopes.
    pub scope: String,
    /// When access tokens were requested with it (epoch ms), for the throttle.
    #[serde(default)]
    pub requests: VecDeque<i64>,
    /// Its live access tokens, oldest first.
    #[serde(default)]
    pub live: VecDeque<String>,
}

/// An issued access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    /// The refresh token it was minted from.
    pub refresh_token: String,
    /// Comma-separated scopes.
    pub scope: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
}

/// A one-time self-client grant code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantCode {
    /// The client it was generated for.
    pub client_id: String,
    /// Comma-separated scopes.
    pub scope: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
}

/// What Zoho Accounts stores.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountsData {
    /// Registered clients.
    pub clients: Vec<Client>,
    /// Refresh tokens by value.
    pub refresh_tokens: BTreeMap<String, RefreshToken>,
    /// Access tokens by value.
    pub access_tokens: HashMap<String, AccessToken>,
    /// Unused grant codes by value.
    pub grant_codes: BTreeMap<String, GrantCode>,
    /// Generator for token strings.
    pub rng: Option<Rng>,
}

/// Why a presented access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Unknown, revoked or expired.
    Invalid,
    /// Valid, but without the scope the call needs.
    ScopeMismatch,
}

impl AccountsData {
    /// Creates the seeded self-client and its refresh token.
    pub fn bootstrap(seed: u64) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(17));
        let client_id = format!("1000.{}", hex(&mut rng, 30).to_uppercase());
        let client_secret = hex(&mut rng, 42);
        let refresh = format!("1000.{}.{}", hex(&mut rng, 32), hex(&mut rng, 32));
        let mut data = AccountsData { clients: vec![Client { client_id: client_id.clone(), client_secret }], rng: Some(rng), ..Default::default() };
        data.refresh_tokens.insert(refresh, RefreshToken { client_id, scope: FULL_SCOPE.into(), requests: VecDeque::new(), live: VecDeque::new() });
        data
    }

    fn rng(&mut self) -> &mut Rng {
        self.rng.get_or_insert_with(|| Rng::new(99))
    }

    /// The seeded client and its first refresh token.
    pub fn primary(&self) -> Option<(&Client, &str)> {
        let client = self.clients.first()?;
        let token = self.refresh_tokens.iter().find(|(_, t)| t.client_id == client.client_id).map(|(k, _)| k.as_str())?;
        Some((client, token))
    }

    /// Creates a self-client grant code (what the API console's "Generate Code" does).
    pub fn new_grant_code(&mut self, scope: &str, now_ms: i64, valid_secs: i64) -> Option<String> {
        let client_id = self.clients.first()?.client_id.clone();
        let code = format!("1000.{}.{}", hex(self.rng(), 32), hex(self.rng(), 32));
        self.grant_codes.insert(code.clone(), GrantCode { client_id, scope: scope.into(), expires_at_ms: now_ms + valid_secs * 1000 });
        Some(code)
    }

    /// Checks a presented access token against the scope a call needs.
    pub fn check(&self, token: &str, now_ms: i64, needs: &[String]) -> Result<(), TokenProblem> {
        let t = self.access_tokens.get(token).ok_or(TokenProblem::Invalid)?;
        if t.expires_at_ms <= now_ms {
            return Err(TokenProblem::Invalid);
        }
        if needs.is_empty() || t.scope.split(',').any(|s| needs.iter().any(|n| n.eq_ignore_ascii_case(s.trim()))) {
            Ok(())
        } else {
            Err(TokenProblem::ScopeMismatch)
        }
    }

    fn mint(&mut self, refresh: &str, now_ms: i64, ttl_secs: i64, max_live: usize) -> String {
        let token = format!("1000.{}.{}", hex(self.rng(), 32), hex(self.rng(), 32));
        let rt = self.refresh_tokens.get_mut(refresh).expect("checked by caller");
        rt.live.push_back(token.clone());
        let mut revoked = Vec::new();
        while rt.live.len() > max_live {
            revoked.extend(rt.live.pop_front());
        }
        let scope = rt.scope.clone();
        for old in revoked {
            self.access_tokens.remove(&old);
        }
        // Forget expired tokens so the table does not grow without bound.
        self.access_tokens.retain(|_, t| t.expires_at_ms > now_ms);
        self.access_tokens.insert(token.clone(), AccessToken { refresh_token: refresh.into(), scope, expires_at_ms: now_ms + ttl_secs * 1000 });
        token
    }
}

fn hex(rng: &mut Rng, len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(len);
    s
}

/// Zoho Accounts' failure answer: HTTP 200 with an `error` field.
fn oauth_error(error: &str) -> Response {
    (StatusCode::OK, Json(json!({ "error": error }))).into_response()
}

/// `POST /oauth/v2/token`: parameters in the query string or a form body.
pub async fn token(State(state): State<AppState>, Query(mut params): Query<HashMap<String, String>>, body: Bytes) -> Response {
    if let Ok(form) = serde_urlencoded_pairs(&body) {
        params.extend(form);
    }
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let now = state.clock.now_ms();
    let cfg = &state.config;
    let api_domain = state.base_url();
    let mut world = state.world();
    let accounts = &mut world.accounts;

    let Some(client) = accounts.clients.iter().find(|c| c.client_id == get("client_id")) else {
        return oauth_error("invalid_client");
    };
    if client.client_secret != get("client_secret") {
        return oauth_error("invalid_client_secret");
    }
    let client_id = client.client_id.clone();

    match get("grant_type") {
        "refresh_token" => {
            let refresh = get("refresh_token").to_string();
            let Some(rt) = accounts.refresh_tokens.get_mut(&refresh) else {
                return oauth_error("invalid_code");
            };
            if rt.client_id != client_id {
                return oauth_error("invalid_code");
            }
            if let Some(limit) = cfg.token_requests_per_window {
                let window_start = now - cfg.token_window_secs * 1000;
                while rt.requests.front().is_some_and(|t| *t <= window_start) {
                    rt.requests.pop_front();
                }
                if rt.requests.len() >= limit as usize {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({
                            "error_description": "You have made too many requests continuously. Please try again after some time.",
                            "error": "Access Denied",
                            "status": "failure"
                        })),
                    )
                        .into_response();
                }
                rt.requests.push_back(now);
            }
            let token = accounts.mint(&refresh, now, cfg.token_ttl_secs, cfg.max_live_tokens);
            Json(json!({
                "access_token": token,
                "api_domain": api_domain,
                "token_type": "Bearer",
                "expires_in": cfg.token_ttl_secs
            }))
            .into_response()
        }
        "authorization_code" => {
            let code = get("code");
            let Some(grant) = accounts.grant_codes.remove(code) else {
                return oauth_error("invalid_code");
            };
            if grant.client_id != client_id || grant.expires_at_ms <= now {
                return oauth_error("invalid_code");
            }
            let refresh = format!("1000.{}.{}", hex(accounts.rng(), 32), hex(accounts.rng(), 32));
            accounts
                .refresh_tokens
                .insert(refresh.clone(), RefreshToken { client_id, scope: grant.scope.clone(), requests: VecDeque::from([now]), live: VecDeque::new() });
            let token = accounts.mint(&refresh, now, cfg.token_ttl_secs, cfg.max_live_tokens);
            Json(json!({
                "access_token": token,
                "refresh_token": refresh,
                "scope": grant.scope.replace(',', " "),
                "api_domain": api_domain,
                "token_type": "Bearer",
                "expires_in": cfg.token_ttl_secs
            }))
            .into_response()
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

/// `POST /oauth/v2/token/revoke?token=<refresh token>`: revokes it and its access tokens.
pub async fn revoke(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let mut world = state.world();
    let accounts = &mut world.accounts;
    let token = params.get("token").map(String::as_str).unwrap_or("");
    match accounts.refresh_tokens.remove(token) {
        Some(rt) => {
            for t in rt.live {
                accounts.access_tokens.remove(&t);
            }
            Json(json!({"status": "success"})).into_response()
        }
        None => oauth_error("invalid_token"),
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into pairs.
fn serde_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, ()> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleventh_token_revokes_the_oldest() {
        let mut a = AccountsData::bootstrap(1);
        let refresh = a.primary().unwrap().1.to_string();
        let first = a.mint(&refresh, 0, 3600, 10);
        for _ in 0..9 {
            a.mint(&refresh, 0, 3600, 10);
        }
        assert!(a.check(&first, 1, &[]).is_ok());
        a.mint(&refresh, 0, 3600, 10);
        assert_eq!(a.check(&first, 1, &[]), Err(TokenProblem::Invalid));
    }

    #[test]
    fn expiry_and_scope_are_checked() {
        let mut a = AccountsData::bootstrap(1);
        let refresh = a.primary().unwrap().1.to_string();
        let t = a.mint(&refresh, 0, 10, 10);
        assert!(a.check(&t, 9_999, &["zohocrm.modules.all".into()]).is_ok());
        assert_eq!(a.check(&t, 10_000, &[]), Err(TokenProblem::Invalid));
        assert_eq!(a.check(&t, 1, &["ZohoCRM.bulk.ALL".into()]), Err(TokenProblem::ScopeMismatch));
    }
}
