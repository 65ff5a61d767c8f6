//! Who may call which tool, how often, and the record of every call.
//!
//! A call carries a bearer token made by `zoho-bridge tokens create`; the store keeps
//! only its SHA-256 ([`bridge::store::AgentTokens`]). Each tool needs one [`Scope`]; each
//! token may make `[mcp] calls_per_minute` calls in any sliding minute, counted in the
//! store so the limit holds across every process on it ([`admit`]);
//! every call that names a valid token is audited with the token's name, the tool, its
//! arguments and what came of it ([`audit_call`]), refusals included.

use std::fmt;

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

/// A minute, in ms.
const MINUTE_MS: i64 = 60_000;

/// Counts a call of `token` at `now_ms`, or refuses it with the ms to wait until its
/// oldest call in the last minute leaves it. The count is the store's
/// ([`AgentTokens::admit_agent_call`]): `serve` and every `zoho-bridge mcp` session on one
/// store share it.
pub async fn admit<S: AgentTokens>(store: &S, token: &str, per_minute: u32, now_ms: i64) -> Result<Result<(), i64>, String> {
    store.admit_agent_call(token, now_ms, MINUTE_MS, per_minute).await.map_err(|e| format!("the token's rate limit could not be checked: {e}"))
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
}
