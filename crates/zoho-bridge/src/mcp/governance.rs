//! Who may call which tool, how often, and the record of every call.
//!
//! A call carries a bearer token made by `zoho-bridge tokens create`; the store keeps
//! only its SHA-256 ([`bridge::store::AgentTokens`]). Each tool needs one [`Scope`]; each
//! token may make `[mcp] calls_per_minute` calls in any sliding minute ([`RateLimit`]);
//! every call that names a valid token is audited with the token's name, the tool, its
//! arguments and what came of it ([`audit_call`]), refusals included.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    sync::Mutex,
};

use bridge::store::{AgentToken, AgentTokens, AnyStore, AuditEntry, Store};
use serde_json::{Value, json};

/// The environment variable `zoho-bridge mcp` reads its token from.
pub const TOKEN_ENV: &str = "ZOHO_BRIDGE_MCP_TOKEN";

/// What a token may do; each tool needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read Zoho and the store (customers, invoices, a deal's sync state, reviews).
    Read,
    /// Act without moving money: sync a record now, replay a dead letter, resolve a review.
    Write,
    /// Ask for invoices and credit notes (held for a person's approval when configured).
    Money,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Money];

    /// Its name as typed and stored (`read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Money => "money",
        }
    }

    /// Parses `read,write,money` (spaces allowed, repeats ignored); an unknown name is an
    /// error naming it and the valid ones.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let scope =
                Scope::ALL.into_iter().find(|s| s.as_str() == word).ok_or_else(|| format!("unknown scope {word:?}: the scopes are read, write, money"))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("give at least one scope: read, write, money".into());
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token just made: its secret is in here and nowhere else.
pub struct NewToken {
    /// As stored.
    pub token: AgentToken,
    /// The bearer secret, shown once.
    pub secret: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken").field("token", &self.token).field("secret", &"<hidden>").finish()
    }
}

/// Makes a token `name` with `scopes`: a random secret, stored as its hash.
pub async fn create_token<S: AgentTokens>(store: &S, name: &str, scopes: &[Scope], now_ms: i64) -> Result<NewToken, String> {
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!("token name {name:?}: use letters, digits, '-', '_' or '.' (it appears in the audit as mcp:<name>)"));
    }
    let secret = bridge::hash::random_secret("zbt_")?;
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_string()).collect();
    let token = store.create_agent_token(name, &bridge::hash::secret_hash(&secret), &scopes, now_ms).await.map_err(|e| e.to_string())?;
    Ok(NewToken { token, secret })
}

/// The valid token whose secret is `secret`, or why there is none (the secret is never
/// part of the message).
pub async fn verify<S: AgentTokens>(store: &S, secret: &str) -> Result<AgentToken, String> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err("no token: give a bearer token made with `zoho-bridge tokens create`".into());
    }
    match store.agent_token_by_hash(&bridge::hash::secret_hash(secret)).await {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err("the token is unknown or revoked (`zoho-bridge tokens list` shows the valid ones)".into()),
        Err(e) => Err(format!("the token could not be checked: {e}")),
    }
}

/// The calls each token made in the last minute, to refuse the one too many.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    calls: Mutex<HashMap<String, VecDeque<i64>>>,
}

/// A minute, in ms.
const MINUTE_MS: i64 = 60_000;

impl RateLimit {
    /// At most `per_minute` calls per token in any 60 s.
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit { per_minute, calls: Mutex::new(HashMap::new()) }
    }

    /// Counts a call of `token` at `now_ms`, or refuses it with the ms to wait until the
    /// oldest call in the window leaves it.
    pub fn admit(&self, token: &str, now_ms: i64) -> Result<(), i64> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let window = calls.entry(token.to_string()).or_default();
        while window.front().is_some_and(|&t| t <= now_ms - MINUTE_MS) {
            window.pop_front();
        }
        if window.len() >= self.per_minute as usize {
            let oldest = window.front().copied().unwrap_or(now_ms);
            return Err((oldest + MINUTE_MS - now_ms).max(1));
        }
        window.push_back(now_ms);
        Ok(())
    }
}

/// One tool call, as audited.
pub struct Call<'a> {
    /// The token's name.
    pub token: &'a str,
    /// The tool.
    pub tool: &'a str,
    /// The record it was about (a deal id, a job id), when there is one.
    pub record_id: Option<String>,
    /// Its arguments.
    pub args: &'a Value,
}

/// Writes one call to the audit log: actor `mcp:<token>`, action `mcp_call`, module the
/// tool, the record it was about when there is one, the arguments as the request and the
/// result (or the error) as the response. A failure to audit is logged: the call's
/// answer was already decided.
pub async fn audit_call(store: &AnyStore, connection: &str, call: Call<'_>, result: &Result<Value, String>, now_ms: i64) {
    let Call { token, tool, record_id, args } = call;
    let (response, ok) = match result {
        Ok(v) => (json!({"result": v}), true),
        Err(e) => (json!({"error": e}), false),
    };
    let entry = AuditEntry {
        id: 0,
        at_ms: now_ms,
        actor: format!("mcp:{token}"),
        job_id: None,
        event_id: None,
        connection: connection.to_string(),
        system: "mcp".into(),
        module: tool.to_string(),
        record_id,
        action: "mcp_call".into(),
        request: args.clone(),
        response,
        ok,
    };
    if let Err(e) = store.add_audit(&entry).await {
        tracing::warn!(error = %e, tool, token, "auditing an MCP call failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_with_spaces_and_repeats_and_refuse_unknown_names() {
        assert_eq!(Scope::parse_list("read, money,read").unwrap(), vec![Scope::Read, Scope::Money]);
        assert!(Scope::parse_list("read,admin").unwrap_err().contains("\"admin\""));
        assert!(Scope::parse_list(" , ").is_err());
    }

    #[test]
    fn the_rate_limit_counts_each_token_in_a_sliding_minute() {
        let limit = RateLimit::new(2);
        let t0 = 1_000_000;
        assert_eq!(limit.admit("a", t0), Ok(()));
        assert_eq!(limit.admit("a", t0 + 10_000), Ok(()));
        assert_eq!(limit.admit("a", t0 + 20_000), Err(40_000), "the third call waits for the first to leave the minute");
        assert_eq!(limit.admit("b", t0 + 20_000), Ok(()), "each token has its own minute");
        assert_eq!(limit.admit("a", t0 + 60_000), Ok(()), "a minute after the first call");
        assert_eq!(limit.admit("a", t0 + 60_001), Err(9_999));
    }
}
