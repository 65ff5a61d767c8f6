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

/// `[mcp] calls_per_minute` in the store: a token's calls are admitted up to the limit in
/// any window, the next is refused with the wait until its oldest call leaves the window,
/// tokens do not share a count, and callers at once (as several processes would be) are
/// admitted exactly `limit` times.
pub async fn agent_calls_are_limited_per_token_across_callers<S: AgentTokens>(store: S) {
    const WINDOW: i64 = 60_000;
    store.create_agent_token("finance", "h-finance", &["read".into()], T0).await.expect("create");
    store.create_agent_token("ops", "h-ops", &["read".into()], T0).await.expect("create");
    for i in 0..3 {
        assert_eq!(store.admit_agent_call("finance", T0 + i * 1_000, WINDOW, 3).await.expect("admit"), Ok(()), "call {i}");
    }
    assert_eq!(store.admit_agent_call("finance", T0 + 10_000, WINDOW, 3).await.expect("admit"), Err(50_000), "the oldest call leaves at T0 + 60 s");
    assert_eq!(store.admit_agent_call("ops", T0 + 10_000, WINDOW, 3).await.expect("admit"), Ok(()), "another token has its own count");
    assert_eq!(store.admit_agent_call("finance", T0 + WINDOW, WINDOW, 3).await.expect("admit"), Ok(()), "the first call has left the window");
    assert_eq!(store.admit_agent_call("finance", T0 + WINDOW + 1, WINDOW, 3).await.expect("admit"), Err(1_000 - 1));

    // 20 callers at once, limit 7: exactly 7 admitted.
    let later = T0 + 10 * WINDOW;
    let callers: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.admit_agent_call("ops", later + i, WINDOW, 7).await.expect("admit") })
        })
        .collect();
    let mut admitted = 0;
    for caller in callers {
        admitted += usize::from(caller.await.expect("caller").is_ok());
    }
    assert_eq!(admitted, 7, "the limit holds for callers at once");
}
