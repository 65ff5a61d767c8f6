//! The Agent Gateway: the engine's actions as MCP tools for AI agents, governed.
//!
//! Served over stdio by `zoho-bridge mcp` (the token from `--token` or
//! `ZOHO_BRIDGE_MCP_TOKEN`) and over streamable HTTP at `/mcp` by `serve` (a bearer token
//! on every request), with the official Rust SDK (rmcp). Every call goes through one
//! door, [`Gateway::call`]: the token is checked (valid, not revoked), the tool's scope
//! ([`governance::Scope`]) and the token's rate limit are enforced, the tool runs, and the
//! call is audited with the token's name, the arguments and the result. Read tools answer
//! from Zoho and the store ([`read`]); write and money tools are `bridge::actions`
//! ([`act`]): flow runs queued as manual events, never a write of their own. Money tools
//! above `[mcp] approval_above` (credit notes always) only create a pending approval; a
//! person decides in the dashboard or with `zoho-bridge approvals`, and the agent polls
//! `approval_status`.

mod act;
pub mod governance;
mod read;
pub mod tools;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use bridge::{
    config::McpSettings,
    flows::now_ms,
    store::{AgentToken, AnyStore},
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
        ServerConfig,
    },
    service::RequestContext,
    transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use governance::{Call, audit_call, verify};

/// The path `serve` mounts the gateway at.
pub const PATH: &str = "/mcp";

/// The gateway: the store, the Zoho client and the limits, shared by every session.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    store: AnyStore,
    client: zoho::Client,
    connection: String,
    settings: McpSettings,
    /// The token of a stdio session (checked again on every call, so a revocation
    /// takes effect at once); `None` over HTTP, where each request brings its own.
    stdio_token: Option<String>,
}

/// The token an HTTP request was authenticated with (put in the request by the bearer
/// check, read back from the request parts rmcp hands to the tool call).
#[derive(Debug, Clone)]
struct Caller(AgentToken);

impl Gateway {
    /// A gateway on `store` and `client` for connection `connection` with `settings`.
    pub fn new(store: AnyStore, client: zoho::Client, connection: &str, settings: McpSettings) -> Gateway {
        Gateway::build(store, client, connection, settings, None)
    }

    fn build(store: AnyStore, client: zoho::Client, connection: &str, settings: McpSettings, stdio_token: Option<String>) -> Gateway {
        Gateway { inner: Arc::new(Inner { store, client, connection: connection.to_string(), settings, stdio_token }) }
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.inner.store
    }

    /// The Zoho client.
    pub fn client(&self) -> &zoho::Client {
        &self.inner.client
    }

    /// The connection tools act for.
    pub fn connection(&self) -> &str {
        &self.inner.connection
    }

    /// `[mcp]`.
    pub fn settings(&self) -> &McpSettings {
        &self.inner.settings
    }

    /// Serves one MCP session on stdin/stdout as the holder of `token` (checked now, so a
    /// bad token fails at start, and again on every call), until the client closes it.
    pub async fn serve_stdio(self, token: String) -> Result<(), String> {
        let holder = verify(self.store(), &token).await?;
        tracing::info!(token = %holder.name, "MCP gateway on stdio");
        let inner = &self.inner;
        let gateway = Gateway::build(inner.store.clone(), inner.client.clone(), &inner.connection, inner.settings.clone(), Some(token));
        let running = gateway.serve(rmcp::transport::stdio()).await.map_err(|e| format!("starting the MCP session on stdio: {e}"))?;
        running.waiting().await.map_err(|e| format!("the MCP session on stdio failed: {e}"))?;
        Ok(())
    }

    /// The streamable HTTP endpoint at [`PATH`], behind the bearer-token check, for
    /// `serve` to merge into its router.
    pub fn router(self) -> Router {
        let gateway = self.clone();
        // Host checking guards unauthenticated local servers against DNS rebinding;
        // every request here needs a bearer token, and `serve` may sit behind a proxy
        // under any host name.
        let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
        let service = StreamableHttpService::new(move || Ok(gateway.clone()), Arc::new(LocalSessionManager::default()), config);
        // `route_layer`: the bearer check guards /mcp only; with `layer` it also answered
        // every unknown path of the merged listener with "no token" instead of 404.
        Router::new().nest_service(PATH, service).route_layer(middleware::from_fn_with_state(self, bearer_check))
    }

    /// Who is calling: the HTTP request's token, or the stdio session's (checked again).
    async fn caller(&self, context: &RequestContext<RoleServer>) -> Result<AgentToken, String> {
        if let Some(parts) = context.extensions.get::<axum::http::request::Parts>()
            && let Some(Caller(token)) = parts.extensions.get::<Caller>()
        {
            return Ok(token.clone());
        }
        match &self.inner.stdio_token {
            Some(secret) => verify(self.store(), secret).await,
            None => Err("no token: give a bearer token made with `zoho-bridge tokens create`".into()),
        }
    }

    /// One governed call of `tool` with `args` by `token`: scope, rate limit, the tool,
    /// the audit. The answer is the tool's JSON or a sentence saying what was wrong.
    pub async fn call(&self, token: &AgentToken, tool: &str, args: Value) -> Result<Value, String> {
        let now = now_ms();
        let result = self.governed(token, tool, &args, now).await;
        let record = ["deal_id", "quote_id", "record_id", "job_id", "review_id", "approval_id"]
            .iter()
            .find_map(|k| args.get(*k))
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        audit_call(self.store(), self.connection(), Call { token: &token.name, tool, record_id: record, args: &args }, &result, now).await;
        result
    }

    async fn governed(&self, token: &AgentToken, tool: &str, args: &Value, now: i64) -> Result<Value, String> {
        let spec = tools::find(tool).ok_or_else(|| format!("there is no tool {tool:?}"))?;
        if !token.has_scope(spec.scope.as_str()) {
            return Err(format!(
                "refused: {tool} needs the {} scope and token {:?} has {}; make a token with it (`zoho-bridge tokens create --scope {}`)",
                spec.scope,
                token.name,
                token.scopes.join(", "),
                spec.scope
            ));
        }
        if let Err(wait_ms) = governance::admit(self.store(), &token.name, self.inner.settings.calls_per_minute, now).await? {
            return Err(format!(
                "refused: token {:?} made {} calls in the last minute ([mcp] calls_per_minute); try again in {} s",
                token.name,
                self.inner.settings.calls_per_minute,
                (wait_ms + 999) / 1000
            ));
        }
        let name = token.name.as_str();
        match tool {
            "find_customer" => read::find_customer(self, parse(tool, args)?).await,
            "customer_invoices" => read::customer_invoices(self, parse(tool, args)?).await,
            "overdue_invoices" => read::overdue_invoices(self, parse(tool, args)?).await,
            "deal_sync_state" => read::deal_sync_state(self, parse(tool, args)?).await,
            "job_status" => read::job_status(self, parse(tool, args)?).await,
            "dead_letters" => read::dead_letters(self, parse(tool, args)?).await,
            "list_reviews" => read::list_reviews(self, parse(tool, args)?).await,
            "approval_status" => read::approval_status(self, parse(tool, args)?).await,
            "sync_record" => act::sync_record(self, name, parse(tool, args)?, now).await,
            "replay_dead_letter" => act::replay(self, name, parse(tool, args)?, now).await,
            "resolve_review" => act::resolve_review(self, name, parse(tool, args)?, now).await,
            "create_invoice_for_deal" => act::invoice_deal(self, name, parse(tool, args)?, now).await,
            "convert_quote" => act::convert_quote(self, name, parse(tool, args)?, now).await,
            "issue_credit_note" => act::credit_note(self, name, parse(tool, args)?, now).await,
            other => Err(format!("tool {other:?} is listed but not served (a bug: please report it)")),
        }
    }
}

/// `args` as tool `tool`'s argument struct, or what is wrong with them.
fn parse<T: DeserializeOwned>(tool: &str, args: &Value) -> Result<T, String> {
    let args = if args.is_null() { json!({}) } else { args.clone() };
    serde_json::from_value(args).map_err(|e| format!("bad arguments for {tool}: {e}"))
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("zoho-bridge", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "zoho-bridge keeps Zoho CRM and Zoho Books in step. Read tools look customers, invoices and a deal's sync state up; \
                 write tools queue the same flows a webhook would; money tools may answer pending_approval with an approval_id: \
                 poll approval_status until it is finished.",
            )
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::TOOLS.iter().map(tools::ToolSpec::tool).collect()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let token = match self.caller(&context).await {
            Ok(token) => token,
            Err(e) => return Ok(CallToolResult::error(vec![ContentBlock::text(e)]).into()),
        };
        let args = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        let result = match self.call(&token, &request.name, args).await {
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(serde_json::to_string_pretty(&value).unwrap_or_default())]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
        };
        Ok(result.into())
    }
}

/// Refuses a request without a valid bearer token (401, JSON, `WWW-Authenticate`), and
/// hands the token on to the tool call.
async fn bearer_check(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let secret = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("").to_string();
    match verify(gateway.store(), &secret).await {
        Ok(token) => {
            request.extensions_mut().insert(Caller(token));
            next.run(request).await
        }
        Err(e) => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], Json(json!({"error": e}))).into_response(),
    }
}
