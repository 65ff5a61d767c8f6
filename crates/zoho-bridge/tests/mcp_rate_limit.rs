//! The gateway's per-token rate limit holds across processes: two gateways on one store
//! (as `serve` and a `zoho-bridge mcp` session would be) share a token's
//! `[mcp] calls_per_minute`, the call too many is refused with the wait, audited, and
//! another token is not held up.

mod support;

use bridge::{
    config::McpSettings,
    flows::now_ms,
    store::{AnyStore, Store},
};
use serde_json::json;
use support::{TempDir, zoho_client};
use zoho_bridge::mcp::{
    Gateway,
    governance::{Scope, create_token},
};
use zoho_emulator::{Emulator, EmulatorConfig};

#[tokio::test]
async fn two_gateways_on_one_store_share_a_tokens_calls_per_minute() {
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let dir = TempDir::new("mcp-rate-limit");
    let store = AnyStore::connect(&dir.0.join("bridge.db").display().to_string()).await.expect("store");
    let settings = McpSettings { calls_per_minute: 3, ..McpSettings::default() };
    let serve = Gateway::new(store.clone(), zoho_client(&emulator).await, "default", settings.clone());
    let stdio = Gateway::new(store.clone(), zoho_client(&emulator).await, "default", settings);
    let agent = create_token(&store, "agent", &[Scope::Read], now_ms()).await.expect("token").token;
    let other = create_token(&store, "other", &[Scope::Read], now_ms()).await.expect("token").token;

    for gateway in [&serve, &stdio, &serve] {
        gateway.call(&agent, "dead_letters", json!({})).await.expect("within the limit");
    }
    let refused = stdio.call(&agent, "dead_letters", json!({})).await.expect_err("the fourth call in a minute, through the other gateway");
    assert!(refused.contains("token \"agent\" made 3 calls in the last minute ([mcp] calls_per_minute); try again in"), "{refused}");
    serve.call(&other, "dead_letters", json!({})).await.expect("another token has its own minute");

    let audit = store.audit_by_action("mcp_call", 10).await.expect("audit");
    assert_eq!(audit.len(), 5, "every call is audited, the refusal too");
    assert!(audit.iter().any(|e| !e.ok && e.actor == "mcp:agent"), "{audit:?}");
    store.close().await;
    emulator.stop().await;
}
