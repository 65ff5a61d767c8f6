//! Bearer tokens of the agent gateway (MCP): who may call which tools.
//!
//! The store keeps a token's name, its scopes and the SHA-256 of the token, never the
//! token itself (it is shown once, when created). A call presents the token; the gateway
//! hashes it and looks the hash up here. Revoking keeps the row, so the audit's
//! `mcp:<name>` still names a known token and the name is not handed out again.
//!
//! Kept apart from [`Store`](super::Store) like [`Approvals`](super::Approvals); every
//! back end implements [`AgentTokens`] with the same SQL.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::StoreResult;

/// A token as stored (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentToken {
    /// Its name, unique (`claude-finance`): the audit's actor is `mcp:<name>`.
    pub name: String,
    /// What it may do (`read`, `write`, `money`), in the order given at creation.
    pub scopes: Vec<String>,
    /// Created, epoch ms.
    pub created_ms: i64,
    /// Revoked, epoch ms; `None` while it is valid.
    pub revoked_ms: Option<i64>,
}

impl AgentToken {
    /// Whether it carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Agent tokens kept by a store.
pub trait AgentTokens: Clone + Send + Sync + 'static {
    /// Stores a new token under `name` with the SHA-256 `token_hash` (hex) of its secret.
    /// A name already taken (even by a revoked token) is `Refused`.
    fn create_agent_token(&self, name: &str, token_hash: &str, scopes: &[String], now_ms: i64) -> impl Future<Output = StoreResult<AgentToken>> + Send;

    /// The valid (not revoked) token whose secret hashes to `token_hash`, if any.
    fn agent_token_by_hash(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<AgentToken>>> + Send;

    /// Every token, revoked ones included, by name.
    fn agent_tokens(&self) -> impl Future<Output = StoreResult<Vec<AgentToken>>> + Send;

    /// Revokes the token `name`; `NotFound` when there is no valid token of that name.
    fn revoke_agent_token(&self, name: &str, now_ms: i64) -> impl Future<Output = StoreResult<AgentToken>> + Send;

    /// Counts a call of token `name` at `now_ms` if it made fewer than `limit` calls in the
    /// `window_ms` before, or refuses it with the ms to wait until its oldest call in the
    /// window leaves it (`Ok(Err(wait_ms))`). One transaction per call, serialised per
    /// token (the token's row is locked on PostgreSQL; SQLite has one writer), so the limit
    /// holds across every process on the store.
    fn admit_agent_call(&self, name: &str, now_ms: i64, window_ms: i64, limit: u32) -> impl Future<Output = StoreResult<Result<(), i64>>> + Send;
}

/// A row of `agent_tokens` as read: name, scopes (comma-separated), created, revoked.
pub(crate) type TokenRow = (String, String, i64, Option<i64>);

/// The columns of [`TokenRow`].
pub(crate) const TOKEN_COLUMNS: &str = "name, scopes, created_ms, revoked_ms";

/// A token from its row.
pub(crate) fn token_from_row((name, scopes, created_ms, revoked_ms): TokenRow) -> AgentToken {
    let scopes = scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    AgentToken { name, scopes, created_ms, revoked_ms }
}

/// `impl AgentTokens for $store`: the same SQL on both back ends; `$lock_token` is the
/// statement that serialises the calls of one token inside a transaction.
macro_rules! shared_agent_tokens {
    ($store:ty, $lock_token:expr) => {
        impl $crate::store::AgentTokens for $store {
            async fn create_agent_token(
                &self,
                name: &str,
                token_hash: &str,
                scopes: &[String],
                now_ms: i64,
            ) -> $crate::store::StoreResult<$crate::store::AgentToken> {
                use $crate::store::StoreError;
                let taken: Option<(String,)> = sqlx::query_as("SELECT name FROM agent_tokens WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                if taken.is_some() {
                    return Err(StoreError::Refused(format!("an agent token named {name:?} exists already (revoked tokens keep their names)")));
                }
                sqlx::query("INSERT INTO agent_tokens (name, token_hash, scopes, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, NULL)")
                    .bind(name)
                    .bind(token_hash)
                    .bind(scopes.join(","))
                    .bind(now_ms)
                    .execute(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                Ok($crate::store::AgentToken { name: name.to_string(), scopes: scopes.to_vec(), created_ms: now_ms, revoked_ms: None })
            }

            async fn agent_token_by_hash(&self, token_hash: &str) -> $crate::store::StoreResult<Option<$crate::store::AgentToken>> {
                use $crate::store::agent_tokens::{TOKEN_COLUMNS, TokenRow, token_from_row};
                let select = format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens WHERE token_hash = $1 AND revoked_ms IS NULL");
                let row: Option<TokenRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(token_hash).fetch_optional(self.reader()).await.map_err($crate::store::convert::db_err)?;
                Ok(row.map(token_from_row))
            }

            async fn agent_tokens(&self) -> $crate::store::StoreResult<Vec<$crate::store::AgentToken>> {
                use $crate::store::agent_tokens::{TOKEN_COLUMNS, TokenRow, token_from_row};
                let select = format!("SELECT {TOKEN_COLUMNS} FROM agent_tokens ORDER BY name");
                let rows: Vec<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(select)).fetch_all(self.reader()).await.map_err($crate::store::convert::db_err)?;
                Ok(rows.into_iter().map(token_from_row).collect())
            }

            async fn revoke_agent_token(&self, name: &str, now_ms: i64) -> $crate::store::StoreResult<$crate::store::AgentToken> {
                use $crate::store::agent_tokens::{TOKEN_COLUMNS, TokenRow, token_from_row};
                let update = format!("UPDATE agent_tokens SET revoked_ms = $2 WHERE name = $1 AND revoked_ms IS NULL RETURNING {TOKEN_COLUMNS}");
                let row: Option<TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(update))
                    .bind(name)
                    .bind(now_ms)
                    .fetch_optional(self.writer())
                    .await
                    .map_err($crate::store::convert::db_err)?;
                row.map(token_from_row).ok_or_else(|| $crate::store::StoreError::NotFound(format!("valid agent token {name:?}")))
            }

            async fn admit_agent_call(&self, name: &str, now_ms: i64, window_ms: i64, limit: u32) -> $crate::store::StoreResult<Result<(), i64>> {
                use $crate::store::convert::db_err;
                let mut tx = self.begin().await?;
                sqlx::query($lock_token).bind(name).execute(&mut *tx).await.map_err(db_err)?;
                sqlx::query("DELETE FROM agent_calls WHERE token_name = $1 AND at_ms <= $2")
                    .bind(name)
                    .bind(now_ms - window_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let (count, oldest): (i64, Option<i64>) = sqlx::query_as("SELECT COUNT(*), MIN(at_ms) FROM agent_calls WHERE token_name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let answer = if count >= i64::from(limit) {
                    Err((oldest.unwrap_or(now_ms) + window_ms - now_ms).max(1))
                } else {
                    sqlx::query("INSERT INTO agent_calls (token_name, at_ms) VALUES ($1, $2)")
                        .bind(name)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                };
                tx.commit().await.map_err(db_err)?;
                Ok(answer)
            }
        }
    };
}

pub(crate) use shared_agent_tokens;
