//! `zoho-bridge mcp` (the agent gateway on stdio) and `zoho-bridge tokens
//! create|list|revoke` (the bearer tokens agents present, stored as hashes).
//!
//! `tokens create` prints the token once, on stdout, in a JSON line; nothing shows it
//! again (the store keeps its SHA-256 only). `tokens list` never shows a secret.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use bridge::{
    config::{BridgeConfig, DEFAULT_CONFIG_FILE},
    flows::{self, now_ms},
    store::{AgentTokens, AnyStore, StoreTokenCache},
};
use serde_json::json;
use zoho_bridge::mcp::{
    Gateway,
    governance::{Scope, TOKEN_ENV, create_token},
};

use crate::admin_cmd::StoreArgs;

/// Flags of `zoho-bridge mcp`.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The config file (the store, the Zoho connection, `[mcp]`).
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// The bearer token (`zoho-bridge tokens create`); better given in the environment,
    /// where `ps` does not show it.
    #[arg(long, env = TOKEN_ENV, hide_env_values = true)]
    pub token: String,
}

/// `zoho-bridge tokens ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Make a token for an agent; prints it once.
    Create {
        /// Its name (the audit shows calls as `mcp:<name>`).
        #[arg(long)]
        name: String,
        /// What it may do: read, write, money, comma-separated.
        #[arg(long, default_value = "read")]
        scope: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The tokens (names, scopes, when made and revoked; never a secret).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token: calls with it are refused from now on.
    Revoke {
        /// The token's name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs `zoho-bridge mcp`: one MCP session on stdin/stdout until the client closes it.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let config = BridgeConfig::load(&args.config, &flows::names()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = AnyStore::connect(&config.store).await.context("opening the store")?;
    let client = zoho_bridge::connection::client(&config.zoho, Some(Arc::new(StoreTokenCache(store.clone())))).await?;
    let budget = zoho_bridge::connection::share_budget(&store, &config.zoho.connection, &client, "mcp").await?;
    let gateway = Gateway::new(store.clone(), client, &config.zoho.connection, config.mcp.clone());
    let served = gateway.serve_stdio(args.token).await;
    zoho_bridge::connection::leave_budget(budget).await;
    store.close().await;
    served.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs `zoho-bridge tokens ...`.
pub async fn tokens(command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create { name, scope, store } => {
            let scopes = Scope::parse_list(&scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let store = store.open().await?;
            let made = create_token(&store, &name, &scopes, now_ms()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", json!({"name": made.token.name, "scopes": made.token.scopes, "token": made.secret}));
            eprintln!("This is the only time the token is shown: keep it in your agent's secret store (the bridge keeps only its hash).");
        }
        TokensCommand::List { store } => {
            let tokens = store.open().await?.agent_tokens().await?;
            if tokens.is_empty() {
                eprintln!("no tokens (zoho-bridge tokens create --name NAME --scope read,write,money)");
            }
            for t in tokens {
                println!(
                    "{}",
                    json!({
                        "name": t.name, "scopes": t.scopes, "created_ms": t.created_ms, "created": rfc3339(t.created_ms),
                        "revoked_ms": t.revoked_ms, "revoked": t.revoked_ms.map(rfc3339),
                    })
                );
            }
        }
        TokensCommand::Revoke { name, store } => {
            let token = store.open().await?.revoke_agent_token(&name, now_ms()).await.map_err(|e| anyhow::anyhow!("revoking token {name:?}: {e}"))?;
            println!("{}", json!({"name": token.name, "revoked_ms": token.revoked_ms, "revoked": token.revoked_ms.map(rfc3339)}));
        }
    }
    Ok(())
}

/// Epoch ms as RFC 3339 text.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| ms.to_string())
}
