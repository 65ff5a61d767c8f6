//! The end of `zoho-bridge demo`: the engine left serving on the demo's store, as
//! `zoho-bridge serve` runs it ([`Server`]: webhooks, the dashboard, `/metrics`, the agent
//! gateway at `/mcp`, a worker), and one agent's call through the gateway that waits for a
//! person.
//!
//! While no engine listened (between the story's engine and this one), a deal of
//! 18,750.00 USD was closed won: no webhook reached anyone, so no invoice. A finance
//! agent, holding a token with the `read` and `money` scopes, finds it and asks the
//! gateway over MCP (streamable HTTP, JSON-RPC, as any MCP client would) for the deal's
//! invoice. The amount is above `[mcp] approval_above` (1,000), so the gateway makes no
//! invoice: it answers with a pending approval. The newcomer opens the dashboard with the
//! printed login token, sees the approval waiting, approves it, and the worker makes the
//! invoice through the same flow, link and audit as a webhook's.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use bridge::{actions, flows::relations, store::Store, triggers::Clock};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use zoho::crm::records::WriteOptions;

use super::order_to_cash::{CHANNEL_ID, CONNECTION, amount_json, parse, register_books_webhook, serving_config};
use crate::{
    mcp::governance::{Scope, create_token},
    server::Server,
};

/// The deal closed while no engine listened.
pub const DEAL_NAME: &str = "Globex: espresso bar fit-out";
/// Its amount, above the gateway's approval amount.
const DEAL_AMOUNT: &str = "18750.00";
/// `[mcp] approval_above` in the demo's config.
const APPROVAL_ABOVE: &str = "1000";

/// The engine serving at the end of the demo, and what the agent's call did.
pub struct Finale {
    /// The engine, serving.
    pub server: Server,
    /// The dashboard's address.
    pub dashboard: String,
    /// The dashboard's login token (made for this run; only its hash is in the config).
    pub login_token: String,
    /// The agent's token for `/mcp` (stored as a hash; shown once, here).
    pub agent_token: String,
    /// What the agent's call did.
    pub agent: AgentCall,
}

/// One agent's call through the gateway, as the demo saw it.
#[derive(Debug, Clone, Default)]
pub struct AgentCall {
    /// The deal closed while no engine listened.
    pub deal_id: String,
    /// Its amount.
    pub amount: Decimal,
    /// Tools the gateway listed to the agent.
    pub tools: usize,
    /// The tool's answer.
    pub answer: Value,
    /// The approval it left.
    pub approval_id: i64,
    /// Where the approval stands right after the call.
    pub stage: String,
    /// Whether the deal had an invoice while its approval waited.
    pub invoiced_while_pending: bool,
}

impl AgentCall {
    /// What did not behave as it should, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.tools == 0 {
            out.push("the gateway listed no tools".into());
        }
        if self.answer["status"] != "pending_approval" || self.approval_id <= 0 || self.stage != "pending" {
            out.push(format!("the agent's invoice request did not wait for approval: {} (stage {:?})", self.answer, self.stage));
        }
        if self.invoiced_while_pending {
            out.push(format!("deal {} was invoiced before anyone approved it", self.deal_id));
        }
        out
    }
}

/// Closes the deal while nothing listens, starts the engine on `store` with the dashboard
/// and the gateway, and makes the agent's call; tells it as step `step`.
pub async fn start(base: &str, dir: &Path, store: &str, step: usize, verbose: bool) -> anyhow::Result<Finale> {
    let http = reqwest::Client::new();
    // A minute later on the emulator's clock: Books' per-minute window (spent by the last
    // step) starts afresh for the engine.
    http.post(format!("{base}/__emulator/clock")).json(&json!({"advance_secs": 61})).send().await?.error_for_status()?;
    let people = people_client(base).await?;
    // The story's engine is gone: its channel, pointing at its closed receiver, goes too
    // (the engine started below enables it again, pointing at itself).
    people.crm().disable_notifications(&[CHANNEL_ID]).await.context("disabling the story's CRM channel")?;
    let deal_id = close_deal_unheard(&people).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the demo's engine")?;
    let receiver = format!("http://{}", listener.local_addr()?);
    let login_token = bridge::hash::random_secret("zbd_").map_err(|e| anyhow!(e))?;
    let text = format!(
        "{}\n[dashboard]\ntoken_sha256 = \"{}\"\n\n[mcp]\napproval_above = \"{APPROVAL_ABOVE}\"\n",
        serving_config(store, base, &receiver),
        bridge::hash::secret_hash(&login_token)
    );
    std::fs::write(dir.join("zoho-bridge.toml"), &text).context("writing the demo's config file")?;
    let config = parse(&text)?;
    register_books_webhook(&http, base, &receiver).await?;
    // The engine's clock is the emulator's (moved by the story), as in the story's engine.
    let clock_offset: Value = http.get(format!("{base}/__emulator/clock")).send().await?.error_for_status()?.json().await?;
    let offset = clock_offset["offset_ms"].as_i64().ok_or_else(|| anyhow!("the emulator's clock has no offset_ms: {clock_offset}"))?;
    let clock = Clock::from_fn(move || Clock::system().now_ms() + offset);
    let server = Server::start(&config, Some(listener), clock).await.context("starting the engine as serve does")?;
    let dashboard = server.dashboard_url.clone().unwrap_or_else(|| format!("{receiver}/"));

    let made = create_token(&server.store, "finance-agent", &[Scope::Read, Scope::Money], bridge::flows::now_ms()).await.map_err(|e| anyhow!(e))?;
    let mut agent = AgentCall { deal_id: deal_id.clone(), amount: DEAL_AMOUNT.parse()?, ..AgentCall::default() };
    let mut mcp = McpSession::open(&http, &format!("{receiver}{}", crate::mcp::PATH), &made.secret).await?;
    agent.tools = mcp.call("tools/list", json!({})).await?["tools"].as_array().map_or(0, Vec::len);
    let result = mcp.call("tools/call", json!({"name": "create_invoice_for_deal", "arguments": {"deal_id": deal_id}})).await?;
    agent.answer = tool_json(&result)?;
    agent.approval_id = agent.answer["approval_id"].as_i64().unwrap_or_default();
    if agent.approval_id > 0 {
        agent.stage = actions::approval_state(&server.store, agent.approval_id).await?.stage().to_string();
    }
    agent.invoiced_while_pending = server.store.link_by_crm(CONNECTION, relations::DEAL_INVOICE.name, &deal_id).await?.is_some();
    if verbose {
        println!(
            "{step}. the engine serves on, as `zoho-bridge serve` would (dashboard, /metrics, MCP gateway, worker); deal \"{DEAL_NAME}\" ({DEAL_AMOUNT} USD) was closed won while nothing listened, so it has no invoice. A finance agent (token \"finance-agent\", scopes read and money) listed the gateway's {} tools over MCP and called create_invoice_for_deal: above [mcp] approval_above ({APPROVAL_ABOVE}) it is held: approval {} is {}, and no invoice exists until a person approves it",
            agent.tools, agent.approval_id, agent.stage
        );
    }
    Ok(Finale { server, dashboard, login_token, agent_token: made.secret, agent })
}

impl Finale {
    /// Stops the engine (the running jobs finish).
    pub async fn stop(self) -> anyhow::Result<()> {
        let store = self.server.store.clone();
        self.server.stop().await?;
        store.close().await;
        Ok(())
    }
}

/// The client of the people in the story (sales closing the deal), with no budget of
/// its own to share with the engine.
async fn people_client(base: &str) -> anyhow::Result<zoho::Client> {
    let connection = zoho::Connection::from_emulator(base).await.context("the emulator's credentials")?;
    Ok(zoho::Client::builder(connection).budget(zoho::BudgetConfig::unlimited()).budget_registry(zoho::BudgetRegistry::new()).build()?)
}

/// Creates a US customer and its deal, already Closed Won: what sales did while no
/// engine listened. Returns the deal's id.
async fn close_deal_unheard(people: &zoho::Client) -> anyhow::Result<String> {
    let insert = |module: &'static str, fields: Value| async move {
        let r = people.crm().insert(module, &[fields], &WriteOptions::no_triggers()).await?;
        match r.first() {
            Some(r) if r.is_success() => Ok(r.id().unwrap_or_default().to_string()),
            other => bail!("CRM did not create the {module} record: {other:?}"),
        }
    };
    let account = insert("Accounts", json!({"Account_Name": "Globex Espresso Bars", "Billing_Country": "US", "Billing_State": "CA"})).await?;
    insert("Deals", json!({"Deal_Name": DEAL_NAME, "Stage": "Closed Won", "Amount": amount_json(DEAL_AMOUNT)?, "Account_Name": {"id": account}})).await
}

/// The JSON a tool answered (its first text block), or the tool's error.
pub fn tool_json(result: &Value) -> anyhow::Result<Value> {
    let text = result["content"][0]["text"].as_str().ok_or_else(|| anyhow!("the tool answered no text: {result}"))?;
    if result["isError"] == true {
        bail!("the gateway refused the agent's call: {text}");
    }
    serde_json::from_str(text).with_context(|| format!("the tool's answer is not JSON: {text}"))
}

/// An MCP client session over streamable HTTP, as small as the protocol allows: JSON-RPC
/// requests POSTed with the bearer token and the session id, answers read as JSON or as
/// a server-sent event stream. Public for the `gateway` bench, which times these calls.
pub struct McpSession {
    http: reqwest::Client,
    url: String,
    bearer: String,
    session: Option<String>,
    next_id: i64,
}

impl McpSession {
    /// Initializes a session at `url` with `token`.
    pub async fn open(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<McpSession> {
        let mut session = McpSession { http: http.clone(), url: url.to_string(), bearer: format!("Bearer {token}"), session: None, next_id: 0 };
        let init = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "zoho-bridge-demo-agent", "version": env!("CARGO_PKG_VERSION")}});
        session.call("initialize", init).await?;
        session.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
        Ok(session)
    }

    /// Calls `method` with `params`; its result, or the JSON-RPC error.
    pub async fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let answer = self.post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await?;
        let message = answer.into_iter().find(|m| m["id"] == id).ok_or_else(|| anyhow!("the gateway did not answer {method}"))?;
        if let Some(error) = message.get("error") {
            bail!("the gateway answered {method} with an error: {error}");
        }
        Ok(message["result"].clone())
    }

    /// POSTs one message; the JSON-RPC messages that came back (none for a notification).
    async fn post(&mut self, message: Value) -> anyhow::Result<Vec<Value>> {
        let mut request = self
            .http
            .post(&self.url)
            .header("Authorization", &self.bearer)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18")
            .json(&message);
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        let response = request.send().await.context("reaching the MCP gateway")?;
        let status = response.status();
        if let Some(id) = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            self.session = Some(id.to_string());
        }
        let is_stream = response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/event-stream"));
        let body = response.text().await?;
        if !status.is_success() {
            bail!("the MCP gateway answered {status}: {body}");
        }
        if body.trim().is_empty() {
            return Ok(Vec::new());
        }
        if !is_stream {
            return Ok(vec![serde_json::from_str(&body).with_context(|| format!("the gateway's answer is not JSON: {body}"))?]);
        }
        // One `data:` line per message (the gateway sends each message in one event).
        Ok(body.lines().filter_map(|l| l.strip_prefix("data:")).filter_map(|d| serde_json::from_str(d.trim()).ok()).collect())
    }
}
