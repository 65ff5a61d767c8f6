//! The agent gateway's tokens: kept by hash, found only while valid, revoked for good,
//! names never reused.

use bridge::store::{AgentTokens, StoreError};

use super::T0;

/// Create, find by hash, list, revoke; a revoked token is not found and its name stays
/// taken; revoking twice or an unknown name is `NotFound`.
pub async fn agent_tokens_are_found_by_hash_until_revoked<S: AgentTokens>(store: S) {
    let scopes = vec!["read".to_string(), "money".to_string()];
    let made = store.create_agent_token("claude-finance", "hash-a", &scopes, T0).await.expect("create");
    assert_eq!(made.scopes, scopes);
    store.create_agent_token("ops-bot", "hash-b", &["read".to_string()], T0 + 1).await.expect("create a second");

    let found = store.agent_token_by_hash("hash-a").await.expect("by hash").expect("a valid token");
    assert_eq!(found.name, "claude-finance");
    assert!(found.has_scope("money") && !found.has_scope("write"), "{found:?}");
    assert_eq!(found.revoked_ms, None);
    assert_eq!(store.agent_token_by_hash("no-such-hash").await.expect("by hash"), None);

    let again = store.create_agent_token("claude-finance", "hash-c", &scopes, T0 + 2).await;
    assert!(matches!(again, Err(StoreError::Refused(_))), "a taken name is refused: {again:?}");
    let same_hash = store.create_agent_token("other", "hash-a", &scopes, T0 + 2).await;
    assert!(same_hash.is_err(), "two tokens never share a hash: {same_hash:?}");

    let revoked = store.revoke_agent_token("claude-finance", T0 + 3).await.expect("revoke");
    assert_eq!(revoked.revoked_ms, Some(T0 + 3));
    assert_eq!(store.agent_token_by_hash("hash-a").await.expect("by hash"), None, "a revoked token opens nothing");
    assert!(matches!(store.revoke_agent_token("claude-finance", T0 + 4).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.revoke_agent_token("nobody", T0 + 4).await, Err(StoreError::NotFound(_))));
    let reuse = store.create_agent_token("claude-finance", "hash-d", &scopes, T0 + 5).await;
    assert!(matches!(reuse, Err(StoreError::Refused(_))), "a revoked token's name stays taken: {reuse:?}");

    let all = store.agent_tokens().await.expect("list");
    let names: Vec<(&str, Option<i64>)> = all.iter().map(|t| (t.name.as_str(), t.revoked_ms)).collect();
    assert_eq!(names, vec![("claude-finance", Some(T0 + 3)), ("ops-bot", None)]);
}
