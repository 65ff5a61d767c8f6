//! The config file (`zoho-bridge.toml`): the product's interface.
//!
//! One TOML file says where the store is, which Zoho organisation pair to keep in step,
//! how webhooks are authenticated, which notification channels and streams to watch,
//! which flows each change starts, and how the worker runs. Every section has defaults,
//! so a file holds only what differs; `examples/zoho-bridge.toml` is a commented
//! starting point. Secrets that let someone act on Zoho (the OAuth client secret and the
//! refresh token) are never in the file: it names the environment variables holding
//! them.
//!
//! A file that loads is one `serve` can start with (`serve --check-config` says so): a
//! bad one fails at load with `file:line:column: field.path: what is wrong`, the line
//! and column coming from the TOML parser's spans ([`Spans`]). Besides TOML and type
//! errors, the load refuses:
//!
//! - no `[zoho]` section (an empty file is refused as such); `zoho.emulator`,
//!   `accounts_url`, `api_domain` and `channels.notify_url` that are not http(s) URLs;
//!   an unknown data centre; a missing `client_id` or `organization_id`;
//! - off the emulator, the environment variables named by `zoho.client_secret_env` and
//!   `zoho.refresh_token_env` unset or empty (the message names the variable, never a
//!   value); likewise every `*_env` the file names;
//! - CRM module names that are near misses of a standard one (`Prodcuts`: "did you mean
//!   Products?") in `[[routes]]`, `[[poller.streams]]` and channel events, unless listed
//!   in `zoho.custom_modules` (other custom modules pass as they are); Books entities the
//!   engine does not read ([`BOOKS_ENTITIES`]); unknown flows; malformed channel events
//!   and ids, tokens over 50 characters;
//! - durations out of range: `worker.lease_secs` 3 s to a day, `worker.poll_ms` 10 ms to
//!   an hour, `worker.backoff_secs` 1 s to a day, `worker.max_backoff_secs` 1 s to a
//!   week, `poller.interval_secs` 1 s to a day, `channels.ttl_secs` 1 s to a week (CRM's
//!   limit), `channels.check_every_secs` from 1 s to the renewal window
//!   (`ttl_secs × renew_when_left`, so no channel expires between two checks), and
//!   `channels.renew_when_left` strictly between 0 and 1; `worker.concurrency` and
//!   `worker.max_attempts` below 1, `webhooks.max_body_bytes` below 1 KiB, a negative
//!   `poller.start_ms`;
//! - a `log.format` other than `text` or `json`; an empty `log.file`, or one in a
//!   directory that does not exist.
//! - `[dashboard]`: a `listen` that is not an address or is the main one, a
//!   `token_sha256` that is not 64 hex digits, `session_secs` outside a minute to 30
//!   days, a `session_key_env` naming an unset variable or a key under 32 bytes.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

mod dashboard;
mod gateway;
mod names;
mod spans;

pub use dashboard::{DashboardSettings, TOKEN_ENV as DASHBOARD_TOKEN_ENV, token_hash};
pub use gateway::McpSettings;
pub use names::{BOOKS_ENTITIES, CRM_MODULES, near_miss};
pub use spans::{Dotted, Key, Spans, line_column};

use crate::{
    flows::{Flow, FlowsConfig},
    mapping::{CompileError, Tables},
    money::MoneyConfig,
    triggers::{ChannelsConfig, PollerConfig, Routes, SecretString, System, TriggerConfig, WebhookConfig},
    worker::{Backoff, WorkerConfig},
};

/// The default config file name.
pub const DEFAULT_CONFIG_FILE: &str = "zoho-bridge.toml";

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// The store: a SQLite file path or `sqlite://` URL, or `postgres://…`. Default
    /// `zoho-bridge.db`.
    pub store: String,
    /// Where the webhook receiver listens. Default `127.0.0.1:8080` (put a TLS proxy in
    /// front of it; Zoho calls HTTPS URLs).
    pub listen: String,
    /// The Zoho connection.
    pub zoho: ZohoConfig,
    /// The worker.
    pub worker: WorkerSettings,
    /// The webhook receiver.
    pub webhooks: WebhookConfig,
    /// CRM notification channels.
    pub channels: ChannelsConfig,
    /// Pollers (safety net for missed webhooks).
    pub poller: PollerConfig,
    /// Which flows each (system, module) change starts (`[[routes]]`).
    pub routes: Routes,
    /// How long finished work is kept.
    pub retention: RetentionSettings,
    /// Each flow's settings and mapping (`[flows.<name>]`, over its shipped defaults:
    /// `zoho-bridge config defaults` prints them).
    pub flows: FlowsConfig,
    /// Lookup tables the mappings read with `lookup("name", key)` (`[tables.<name>]`).
    pub tables: Tables,
    /// Currency policy and tax rules the order-to-cash flows share (`[money]`).
    pub money: MoneyConfig,
    /// The dashboard: where it is served and who may log in (`[dashboard]`).
    pub dashboard: DashboardSettings,
    /// The agent gateway's limits (`[mcp]`).
    pub mcp: McpSettings,
    /// How the log is written (`[log]`).
    pub log: LogSettings,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            store: crate::store::DEFAULT_SQLITE_FILE.into(),
            listen: "127.0.0.1:8080".into(),
            zoho: ZohoConfig::default(),
            worker: WorkerSettings::default(),
            webhooks: WebhookConfig::default(),
            channels: ChannelsConfig::default(),
            poller: PollerConfig::default(),
            routes: Routes::default(),
            retention: RetentionSettings::default(),
            flows: FlowsConfig::default(),
            tables: Tables::new(),
            money: MoneyConfig::default(),
            dashboard: DashboardSettings::default(),
            mcp: McpSettings::default(),
            log: LogSettings::default(),
        }
    }
}

/// One Zoho organisation pair (CRM org + Books organisation) and how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZohoConfig {
    /// The connection's name: links, cursors and audit are keyed by it. Default `default`.
    pub connection: String,
    /// Data centre: `us`, `eu`, `in`, `au`, `jp`, `ca`, `sa` or `cn`. Default `us`.
    /// `accounts_url` and `api_domain` override it.
    pub dc: String,
    /// Zoho Accounts URL, e.g. `https://accounts.zoho.eu` (instead of `dc`).
    pub accounts_url: Option<String>,
    /// API domain, e.g. `https://www.zohoapis.eu` (instead of `dc`).
    pub api_domain: Option<String>,
    /// OAuth client id (API Console).
    pub client_id: String,
    /// Books organisation id.
    pub organization_id: String,
    /// Environment variable holding the OAuth client secret; off the emulator it must be
    /// set when the file is loaded. Default `ZOHO_CLIENT_SECRET`.
    pub client_secret_env: String,
    /// Environment variable holding the refresh token; off the emulator it must be set
    /// when the file is loaded. Default `ZOHO_REFRESH_TOKEN`.
    pub refresh_token_env: String,
    /// Take everything above from a running zoho-bridge emulator's seeded credentials
    /// instead (an http(s) URL, `http://127.0.0.1:8089`): for trying it out and for tests.
    pub emulator: Option<String>,
    /// The CRM's custom modules (API names) that are a near miss of a standard module
    /// name (`Deal` beside `Deals`), so that they are not taken for a misspelling. A CRM
    /// module name in the file is accepted when it is a standard one ([`CRM_MODULES`]),
    /// listed here, or not a near miss: not the same letters in another case, and more
    /// than one edit (insert, delete, replace, swap of neighbours) away from every
    /// standard name, two for standard names of ten characters or more. So other custom
    /// modules need not be listed. Default none.
    pub custom_modules: Vec<String>,
    /// The organisation's API limits (`[zoho.limits]`), which differ by Zoho plan:
    /// `books_per_minute`, `books_per_day`, `books_concurrency`, `crm_credits_per_day`,
    /// `crm_concurrency`, `max_wait_secs` (each `false` for none). Default: the default
    /// plan. Against the emulator, the limits the emulator says it enforces are used.
    pub limits: zoho::BudgetConfig,
}

impl Default for ZohoConfig {
    fn default() -> Self {
        ZohoConfig {
            connection: "default".into(),
            dc: "us".into(),
            accounts_url: None,
            api_domain: None,
            client_id: String::new(),
            organization_id: String::new(),
            client_secret_env: "ZOHO_CLIENT_SECRET".into(),
            refresh_token_env: "ZOHO_REFRESH_TOKEN".into(),
            emulator: None,
            custom_modules: Vec::new(),
            limits: zoho::BudgetConfig::default(),
        }
    }
}

/// How the worker runs (see [`WorkerConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// This worker's id (lease owner, audit actor). Default `worker-<pid>`.
    pub id: Option<String>,
    /// Jobs run at once, at least 1. Default 16.
    pub concurrency: u32,
    /// Lease length, seconds: 3 to a day; renewed every fifth of it while a job runs, so a
    /// dead worker's jobs are taken over this long after its last beat. Default 10.
    pub lease_secs: u64,
    /// Pause when the queue is empty, milliseconds: 10 to an hour. Default 500.
    pub poll_ms: u64,
    /// Attempts before a failing job is dead-lettered, at least 1. Default 8.
    pub max_attempts: i32,
    /// First retry delay, seconds (doubles per attempt, jittered): 1 to a day. Default 2.
    pub backoff_secs: u64,
    /// Longest retry delay, seconds: 1 to a week (never below `backoff_secs`). Default 600.
    pub max_backoff_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings { id: None, concurrency: 16, lease_secs: 10, poll_ms: 500, max_attempts: 8, backoff_secs: 2, max_backoff_secs: 600 }
    }
}

/// How long finished work is kept ([`Store::prune`](crate::store::Store::prune)).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Done and skipped jobs, and the inbox events nothing refers to any more, are
    /// deleted this many days after they finished (checked every hour by `serve`). The
    /// audit log, links, cursors, dead letters and unfinished work are kept. Default 0:
    /// keep everything.
    pub days: u32,
}

impl RetentionSettings {
    /// The cut-off for pruning at `now_ms`, or `None` when everything is kept.
    pub fn prune_before(&self, now_ms: i64) -> Option<i64> {
        (self.days > 0).then(|| now_ms - i64::from(self.days) * 86_400_000)
    }
}

/// How the log is written (`[log]`); `RUST_LOG` sets what is logged (default `info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (default): a line per event for people; `json`: a JSON object per line,
    /// with the fields of the event and of its spans (a job's id, flow and record), for
    /// log collectors.
    pub format: LogFormat,
    /// Append the log to this file instead of writing it to standard error (its
    /// directory must exist). Either way, colour codes are written only to a terminal.
    pub file: Option<PathBuf>,
}

/// The log's format (`log.format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// A line per event for people.
    #[default]
    Text,
    /// A JSON object per line.
    Json,
}

impl LogFormat {
    /// From its name in the file or the environment: `text` or `json`.
    pub fn parse(name: &str) -> Option<LogFormat> {
        match name {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// A config file that cannot be used: which file, where in it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, not readable, not UTF-8).
    #[error("cannot read the config file {file}: {reason}{hint}")]
    Unreadable {
        /// The file.
        file: String,
        /// The system's reason.
        reason: String,
        /// What to do about it, starting with `: `, or empty.
        hint: String,
    },
    /// The file holds nothing but blank space.
    #[error("{file}: empty file: needs at least a [zoho] section (see examples/zoho-bridge.toml)")]
    Empty {
        /// The file.
        file: String,
    },
    /// A setting is wrong (or missing): a TOML syntax or type error as the parser found
    /// it, or a check made after it.
    #[error("{file}:{line}:{column}: {}{message}", field_prefix(.field))]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The setting's dotted path (`routes[0].flows[1]`); empty only for a syntax
        /// error outside any setting.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The error for setting `field` (a dotted path) at byte `offset` of `text`, the
    /// contents of `file`: for checks made outside this module that know where in the
    /// file they are (a flow's mapping reports a byte offset).
    pub fn at_offset(file: &str, text: &str, offset: usize, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_column(text, offset);
        ConfigError::Invalid { file: file.into(), line, column, field: field.into(), message: message.into() }
    }
}

/// `field: `, or nothing for no field.
fn field_prefix(field: &str) -> String {
    if field.is_empty() { String::new() } else { format!("{field}: ") }
}

/// A check that failed: the setting at fault (located through [`Spans`]) and why.
#[derive(Debug)]
struct Problem {
    at: Vec<Key<'static>>,
    message: String,
}

impl Problem {
    fn new(at: Vec<Key<'static>>, message: impl Into<String>) -> Problem {
        Problem { at, message: message.into() }
    }

    fn located(self, file: &str, spans: &Spans) -> ConfigError {
        let (line, column) = spans.line_column_of(&self.at);
        ConfigError::Invalid { file: file.into(), line, column, field: Dotted(&self.at).to_string(), message: self.message }
    }
}

/// A key path for [`Problem`]: `at!["routes", i, "flows", j]`.
macro_rules! at {
    ($($key:expr),* $(,)?) => { vec![$(Key::from($key)),*] };
}

/// Fails unless `min <= value <= max` (a duration or size in `unit`).
fn within(at: Vec<Key<'static>>, value: u64, (min, max): (u64, u64), unit: &str, why: &str) -> Result<(), Problem> {
    if value < min {
        return Err(Problem::new(at, format!("{value} is too short: at least {min} {unit}{why}")));
    }
    if value > max {
        return Err(Problem::new(at, format!("{value} is too long: at most {max} {unit}{why}")));
    }
    Ok(())
}

/// Fails unless `value` is an absolute `http://` or `https://` URL with a host.
fn http_url(at: Vec<Key<'static>>, value: &str, example: &str) -> Result<(), Problem> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(Problem::new(at, format!("{value:?} is not an http(s) URL (e.g. {example:?})"))),
    }
}

/// A mapping that does not compile, as a config error: at the byte it names, else at the
/// setting its path names (`flows.catalog_sync.map.rate`).
fn compile_error(file: &str, text: &str, spans: &Spans, e: CompileError) -> ConfigError {
    match e.offset {
        Some(offset) => ConfigError::at_offset(file, text, offset, e.path, e.message),
        None => {
            let keys: Vec<Key> = e.path.split('.').map(Key::Name).collect();
            let (line, column) = spans.line_column_of(&keys);
            ConfigError::Invalid { file: file.into(), line, column, field: e.path, message: e.message }
        }
    }
}

/// The text of the config file at `path`, with its name for errors.
fn read_file(path: &Path) -> Result<(String, String), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let reason = e.to_string();
        // "No such file or directory (os error 2)": the number says nothing more.
        let reason = reason.split(" (os error").next().unwrap_or(&reason).to_string();
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                ": start from a copy of examples/zoho-bridge.toml (a Zoho connection) or examples/emulator.toml (the emulator)".into()
            }
            _ => String::new(),
        };
        ConfigError::Unreadable { file: file.clone(), reason, hint }
    })?;
    Ok((file, text))
}

/// The longest channel life CRM accepts, seconds (a week).
const CHANNEL_TTL_MAX_SECS: u64 = 7 * 86_400;

impl BridgeConfig {
    /// Reads and checks the file at `path`; `flows` are the flow names this binary has.
    pub fn load(path: &Path, flows: &[&str]) -> Result<BridgeConfig, ConfigError> {
        let (file, text) = read_file(path)?;
        BridgeConfig::parse(&file, &text, flows)
    }

    /// Reads only the `store` setting of the file at `path` (default `zoho-bridge.db`):
    /// the admin commands need the store, not a usable Zoho connection nor its secrets.
    pub fn load_store(path: &Path) -> Result<String, ConfigError> {
        #[derive(Deserialize)]
        struct StoreOnly {
            #[serde(default = "default_store")]
            store: String,
        }
        fn default_store() -> String {
            crate::store::DEFAULT_SQLITE_FILE.into()
        }
        let (file, text) = read_file(path)?;
        let invalid = |e: toml::de::Error| {
            let (line, column) = line_column(&text, e.span().map_or(0, |s| s.start));
            ConfigError::Invalid { file: file.clone(), line, column, field: "store".into(), message: e.message().trim().to_string() }
        };
        let only: StoreOnly = toml::from_str(&text).map_err(invalid)?;
        Ok(only.store)
    }

    /// Parses and checks `text` (named `file` in errors), reading the environment
    /// variables the file names from the process environment.
    pub fn parse(file: &str, text: &str, flows: &[&str]) -> Result<BridgeConfig, ConfigError> {
        BridgeConfig::parse_with_env(file, text, flows, |name| std::env::var(name).ok())
    }

    /// Like [`BridgeConfig::parse`], with `env` standing for the environment.
    pub fn parse_with_env(file: &str, text: &str, flows: &[&str], env: impl Fn(&str) -> Option<String>) -> Result<BridgeConfig, ConfigError> {
        if text.trim().is_empty() {
            return Err(ConfigError::Empty { file: file.into() });
        }
        let toml_error = |field: &dyn Fn(std::ops::Range<usize>) -> Option<String>, e: toml::de::Error| {
            let span = e.span().unwrap_or(0..0);
            let (line, column) = line_column(text, span.start);
            let field = field(span).unwrap_or_default();
            ConfigError::Invalid { file: file.into(), line, column, field, message: e.message().trim().to_string() }
        };
        let spans = Spans::parse(text).map_err(|e| {
            let partial = Spans::parse_partial(text);
            toml_error(&|span| partial.syntax_field(span), e)
        })?;
        let mut config: BridgeConfig = spans.deserialize().map_err(|e| toml_error(&|span| spans.field_at(span.start), e))?;
        config.check(&spans, flows, &env).map_err(|p| p.located(file, &spans))?;
        config.read_secrets(&env).map_err(|p| p.located(file, &spans))?;
        let listen = config.listen.clone();
        config.dashboard.load(&listen, &env).map_err(|p| p.located(file, &spans))?;
        // Every mapping expression compiles now, or the file is refused where it is wrong.
        config.flows.build(&config.tables, &config.money, Some(text)).map_err(|e| compile_error(file, text, &spans, e))?;
        Ok(config)
    }

    /// The flows as configured (their mappings were checked at load).
    pub fn build_flows(&self) -> Result<Vec<std::sync::Arc<dyn Flow>>, CompileError> {
        self.flows.build(&self.tables, &self.money, None)
    }

    /// Fills the secrets named by `*_env` settings from `env`.
    fn read_secrets(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), Problem> {
        // `field` is the secret's path, `var` the environment variable named by `field`_env.
        let read = |field: Vec<Key<'static>>, secret: &mut Option<SecretString>, var: &Option<String>| -> Result<(), Problem> {
            let Some(var) = var else { return Ok(()) };
            let Some((Key::Name(last), parent)) = field.split_last() else { unreachable!("a secret's path ends in its name") };
            let env_name: &'static str = match *last {
                "crm_workflow_secret" => "crm_workflow_secret_env",
                "books_secret" => "books_secret_env",
                _ => "token_env",
            };
            let mut at = parent.to_vec();
            at.push(Key::Name(env_name));
            if secret.is_some() {
                let both = format!("set either {} or {}, not both", Dotted(&field), Dotted(&at));
                return Err(Problem::new(at, both));
            }
            match env(var).filter(|v| !v.is_empty()) {
                Some(value) => {
                    *secret = Some(SecretString::new(value));
                    Ok(())
                }
                None => Err(Problem::new(at, format!("the environment variable {var} is not set (or is empty)"))),
            }
        };
        let w = &mut self.webhooks;
        read(at!["webhooks", "crm_workflow_secret"], &mut w.crm_workflow_secret, &w.crm_workflow_secret_env.clone())?;
        read(at!["webhooks", "books_secret"], &mut w.books_secret, &w.books_secret_env.clone())?;
        for (i, watch) in self.channels.watch.iter_mut().enumerate() {
            read(at!["channels", "watch", i, "token"], &mut watch.token, &watch.token_env.clone())?;
            if watch.token.as_ref().is_some_and(|t| t.expose().chars().count() > 50) {
                let key = if watch.token_env.is_some() { "token_env" } else { "token" };
                return Err(Problem::new(at!["channels", "watch", i, key], "the token is longer than 50 characters (CRM's limit)"));
            }
        }
        Ok(())
    }

    /// The checks serde cannot make.
    fn check(&self, spans: &Spans, flows: &[&str], env: &impl Fn(&str) -> Option<String>) -> Result<(), Problem> {
        if spans.value(&[Key::Name("zoho")]).is_none() {
            return Err(Problem::new(
                at!["zoho"],
                "the [zoho] section is missing: set zoho.emulator = \"http://127.0.0.1:8089\" to try the emulator, or the connection (dc, client_id, organization_id)",
            ));
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return Err(Problem::new(at!["listen"], format!("{:?} is not an address and port (e.g. 127.0.0.1:8080)", self.listen)));
        }
        if self.store.trim().is_empty() {
            return Err(Problem::new(at!["store"], "empty: a SQLite file path, or postgres://…"));
        }
        self.check_zoho(env)?;
        self.check_worker()?;
        self.check_log()?;
        self.money.validate().map_err(|e| Problem::new(at!["money", "tax_rules", e.index], e.message))?;
        self.check_triggers(flows)
    }

    /// `[zoho]`: a usable connection, or the emulator.
    fn check_zoho(&self, env: &impl Fn(&str) -> Option<String>) -> Result<(), Problem> {
        let z = &self.zoho;
        if z.connection.trim().is_empty() {
            return Err(Problem::new(at!["zoho", "connection"], "empty: links, cursors and audit are kept under this name (default \"default\")"));
        }
        for (i, module) in z.custom_modules.iter().enumerate() {
            if module.trim().is_empty() {
                return Err(Problem::new(at!["zoho", "custom_modules", i], "empty: a custom module's API name"));
            }
        }
        if let Some(url) = &z.emulator {
            return http_url(at!["zoho", "emulator"], url, "http://127.0.0.1:8089");
        }
        match (&z.accounts_url, &z.api_domain) {
            (Some(accounts), Some(api)) => {
                http_url(at!["zoho", "accounts_url"], accounts, "https://accounts.zoho.eu")?;
                http_url(at!["zoho", "api_domain"], api, "https://www.zohoapis.eu")?;
            }
            (Some(_), None) => return Err(Problem::new(at!["zoho", "accounts_url"], "set zoho.api_domain too, or neither (and zoho.dc)")),
            (None, Some(_)) => return Err(Problem::new(at!["zoho", "api_domain"], "set zoho.accounts_url too, or neither (and zoho.dc)")),
            (None, None) => {
                if zoho::DataCenter::from_code(&z.dc).is_none() {
                    return Err(Problem::new(at!["zoho", "dc"], format!("unknown data centre {:?} (us, eu, in, au, jp, ca, sa, cn)", z.dc)));
                }
            }
        }
        for (name, value) in [("client_id", &z.client_id), ("organization_id", &z.organization_id)] {
            if value.trim().is_empty() {
                return Err(Problem::new(at!["zoho", name], "missing (or set zoho.emulator to try it on the emulator)"));
            }
        }
        for (name, var, what) in
            [("client_secret_env", &z.client_secret_env, "the OAuth client secret"), ("refresh_token_env", &z.refresh_token_env, "the refresh token")]
        {
            if var.trim().is_empty() {
                return Err(Problem::new(at!["zoho", name], format!("empty: the name of the environment variable holding {what}")));
            }
            // Only whether it is set: the value is a secret and goes nowhere near a message.
            if env(var).is_none_or(|v| v.is_empty()) {
                return Err(Problem::new(at!["zoho", name], format!("the environment variable {var} is not set (or is empty): it must hold {what}")));
            }
        }
        Ok(())
    }

    /// `[worker]`: numbers the worker can run with.
    fn check_worker(&self) -> Result<(), Problem> {
        let w = &self.worker;
        if w.concurrency == 0 {
            return Err(Problem::new(at!["worker", "concurrency"], "must be at least 1"));
        }
        if w.max_attempts < 1 {
            return Err(Problem::new(at!["worker", "max_attempts"], format!("{} is too few: at least 1", w.max_attempts)));
        }
        within(
            at!["worker", "lease_secs"],
            w.lease_secs,
            (3, 86_400),
            "seconds",
            " (the lease is renewed every fifth of it; a dead worker's jobs wait this long)",
        )?;
        within(at!["worker", "poll_ms"], w.poll_ms, (10, 3_600_000), "milliseconds", " (the pause when the queue is empty)")?;
        within(at!["worker", "backoff_secs"], w.backoff_secs, (1, 86_400), "seconds", " (the first retry delay)")?;
        within(at!["worker", "max_backoff_secs"], w.max_backoff_secs, (1, 7 * 86_400), "seconds", " (the longest retry delay)")
    }

    /// `[log]`: a file that can be created where it is named.
    fn check_log(&self) -> Result<(), Problem> {
        let Some(file) = &self.log.file else { return Ok(()) };
        if file.as_os_str().is_empty() {
            return Err(Problem::new(at!["log", "file"], "empty: a file to append the log to (leave it out for standard error)"));
        }
        let directory = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !directory.is_dir() {
            return Err(Problem::new(at!["log", "file"], format!("the directory {} does not exist", directory.display())));
        }
        if file.is_dir() {
            return Err(Problem::new(at!["log", "file"], format!("{} is a directory, not a file", file.display())));
        }
        Ok(())
    }

    /// `[webhooks]`, `[channels]`, `[poller]` and `[[routes]]`.
    fn check_triggers(&self, flows: &[&str]) -> Result<(), Problem> {
        let custom = &self.zoho.custom_modules;
        let crm_module = |at: Vec<Key<'static>>, name: &str| match names::crm_module_problem(name, custom) {
            Some(problem) => Err(Problem::new(at, problem)),
            None => Ok(()),
        };
        let module = |at: Vec<Key<'static>>, system: System, name: &str| match system {
            System::Crm => crm_module(at, name),
            System::Books => names::books_entity_problem(name).map_or(Ok(()), |problem| Err(Problem::new(at, problem))),
        };
        if self.webhooks.max_body_bytes < 1024 {
            return Err(Problem::new(
                at!["webhooks", "max_body_bytes"],
                format!("{} is too small: at least 1024 (bytes; Zoho's webhooks carry whole records)", self.webhooks.max_body_bytes),
            ));
        }

        let c = &self.channels;
        within(at!["channels", "ttl_secs"], c.ttl_secs, (1, CHANNEL_TTL_MAX_SECS), "seconds", " (a week is CRM's limit)")?;
        if !(c.renew_when_left > 0.0 && c.renew_when_left < 1.0) {
            return Err(Problem::new(
                at!["channels", "renew_when_left"],
                format!("{} is not a share between 0 and 1 (e.g. 0.2: renew with a fifth of the life left)", c.renew_when_left),
            ));
        }
        // A channel must be checked at least once while it is due for renewal.
        let window = (c.ttl_secs as f64 * c.renew_when_left) as u64;
        within(
            at!["channels", "check_every_secs"],
            c.check_every_secs,
            (1, window.max(1)),
            "seconds",
            " (channels.ttl_secs × channels.renew_when_left: a channel could expire between two checks)",
        )?;
        if !c.watch.is_empty() {
            if c.notify_url.trim().is_empty() {
                return Err(Problem::new(at!["channels", "notify_url"], "needed when channels.watch lists channels (the public URL of /hooks/crm/notify)"));
            }
            http_url(at!["channels", "notify_url"], &c.notify_url, "https://bridge.example.com/hooks/crm/notify")?;
        }
        for (i, watch) in c.watch.iter().enumerate() {
            if watch.channel_id.is_empty() || !watch.channel_id.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(Problem::new(
                    at!["channels", "watch", i, "channel_id"],
                    format!("{:?} is not a number (CRM's channel_id is one you choose, e.g. \"1000000001\")", watch.channel_id),
                ));
            }
            if watch.events.is_empty() {
                return Err(Problem::new(at!["channels", "watch", i, "events"], "empty: list events such as \"Deals.edit\" or \"Products.all\""));
            }
            for (j, event) in watch.events.iter().enumerate() {
                let at = at!["channels", "watch", i, "events", j];
                match event.split_once('.') {
                    Some((name, "create" | "edit" | "delete" | "all")) => crm_module(at, name)?,
                    _ => return Err(Problem::new(at, format!("{event:?} is not Module.create, .edit, .delete or .all (e.g. \"Deals.edit\")"))),
                }
            }
        }

        let p = &self.poller;
        within(at!["poller", "interval_secs"], p.interval_secs, (1, 86_400), "seconds", " (the poller is the safety net for lost webhooks: at least daily)")?;
        if p.start_ms < 0 {
            return Err(Problem::new(at!["poller", "start_ms"], format!("{} is before 1970: epoch milliseconds, 0 for everything", p.start_ms)));
        }
        for (i, stream) in p.streams.iter().enumerate() {
            module(at!["poller", "streams", i, "module"], stream.system, &stream.module)?;
        }

        for (i, route) in self.routes.0.iter().enumerate() {
            module(at!["routes", i, "module"], route.system, &route.module)?;
            if route.flows.is_empty() {
                return Err(Problem::new(at!["routes", i, "flows"], format!("empty: name the flows to run (this build has: {})", flows.join(", "))));
            }
            for (j, flow) in route.flows.iter().enumerate() {
                if !flows.contains(&flow.as_str()) {
                    return Err(Problem::new(at!["routes", i, "flows", j], format!("no flow named {flow:?} (this build has: {})", flows.join(", "))));
                }
            }
        }
        Ok(())
    }

    /// The triggers' view of this file.
    pub fn triggers(&self) -> TriggerConfig {
        TriggerConfig {
            connection: self.zoho.connection.clone(),
            webhooks: self.webhooks.clone(),
            channels: self.channels.clone(),
            poller: self.poller.clone(),
            routes: self.routes.clone(),
        }
    }

    /// The worker's settings.
    pub fn worker(&self) -> WorkerConfig {
        let w = &self.worker;
        WorkerConfig {
            id: w.id.clone().unwrap_or_else(|| format!("worker-{}", std::process::id())),
            connection: self.zoho.connection.clone(),
            lease_ms: (w.lease_secs as i64).saturating_mul(1000),
            batch: w.concurrency,
            poll_interval: Duration::from_millis(w.poll_ms),
            max_attempts: w.max_attempts,
            backoff: Backoff { base: Duration::from_secs(w.backoff_secs), max: Duration::from_secs(w.max_backoff_secs.max(w.backoff_secs)) },
            clock: crate::triggers::Clock::system(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOWS: &[&str] = &["catalog_sync"];
    const EMULATOR: &str = "[zoho]\nemulator = \"http://127.0.0.1:8089\"\n";

    /// An environment holding the two Zoho secrets (and a webhook secret).
    fn env(name: &str) -> Option<String> {
        match name {
            "ZOHO_CLIENT_SECRET" | "ZOHO_REFRESH_TOKEN" => Some("s3cret-from-env".into()),
            "BOOKS_HOOK_SECRET" => Some("from-env".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<BridgeConfig, ConfigError> {
        BridgeConfig::parse_with_env("z.toml", text, FLOWS, env)
    }

    /// Line, column, field and message of the error `text` fails with.
    fn error(text: &str) -> (usize, usize, String, String) {
        match parse(text) {
            Err(ConfigError::Invalid { line, column, field, message, .. }) => (line, column, field, message),
            other => panic!("expected an error at a setting, got {other:?}"),
        }
    }

    /// Asserts `text` fails at `line`:`column` on `field` with a message starting `what`.
    #[track_caller]
    fn assert_error(text: &str, (line, column): (usize, usize), field: &str, what: &str) {
        let e = parse(text).unwrap_err();
        let (l, c, f, m) = error(text);
        assert_eq!((l, c, f.as_str()), (line, column, field), "{e}");
        assert!(m.starts_with(what), "{e}");
        assert!(e.to_string().starts_with(&format!("z.toml:{line}:{column}: {field}: {what}")), "{e}");
    }

    #[test]
    fn defaults_fill_everything_but_the_connection() {
        let c = parse(EMULATOR).unwrap();
        assert_eq!((c.store.as_str(), c.listen.as_str(), c.worker.concurrency), ("zoho-bridge.db", "127.0.0.1:8080", 16));
        assert_eq!(c.triggers().connection(), "default");
        assert_eq!(c.worker().lease_ms, 10_000);
    }

    #[test]
    fn an_empty_file_or_one_without_zoho_says_what_is_missing() {
        let e = parse("").unwrap_err();
        assert_eq!(e, ConfigError::Empty { file: "z.toml".into() });
        assert_eq!(e.to_string(), "z.toml: empty file: needs at least a [zoho] section (see examples/zoho-bridge.toml)");
        assert!(matches!(parse(" \n\t\n").unwrap_err(), ConfigError::Empty { .. }));
        let missing = "z.toml:1:1: zoho: the [zoho] section is missing: set zoho.emulator = \"http://127.0.0.1:8089\" to try the emulator, or the connection (dc, client_id, organization_id)";
        assert_eq!(parse("# nothing yet\n").unwrap_err().to_string(), missing);
        assert_eq!(parse("\nstore = \"x.db\"\n[worker]\nconcurrency = 2\n").unwrap_err().to_string(), missing);
    }

    #[test]
    fn a_missing_file_is_named_with_a_hint() {
        let e = BridgeConfig::load(Path::new("/nonexistent/z.toml"), FLOWS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read the config file /nonexistent/z.toml: No such file or directory: start from a copy of examples/zoho-bridge.toml (a Zoho connection) or examples/emulator.toml (the emulator)"
        );
    }

    #[test]
    fn toml_and_type_errors_name_the_field_by_its_path() {
        let text = "store = \"x.db\"\n[zoho]\nemulator = \"http://e\"\n[worker]\nconcurrency = \"many\"\n";
        assert_error(text, (5, 15), "worker.concurrency", "invalid type: string \"many\", expected u32");
        assert_error("[zoho]\nemulator = \"http://e\"\nunknown_thing = 1\n", (3, 1), "zoho.unknown_thing", "unknown field `unknown_thing`");
        let text = format!("{EMULATOR}[[poller.streams]]\nsystem = \"crm\"\nmodule = \"Deals\"\n[[poller.streams]]\nsystem = \"crn\"\nmodule = \"Deals\"\n");
        assert_error(&text, (7, 10), "poller.streams[1].system", "unknown variant `crn`");
        let text = format!("{EMULATOR}[[routes]]\nsystem = \"crm\"\nmodule = \"Deals\"\n");
        assert_error(&text, (3, 1), "routes[0]", "missing field `flows`");
        assert_error(&format!("{EMULATOR}[retention]\ndays = -1\n"), (4, 8), "retention.days", "invalid value: integer `-1`");
        // Syntax errors: the parser's position, and the setting when there is one.
        assert_error("[zoho]\nemulator = \"http://e\"\n[worker]\nconcurrency = \n", (4, 15), "worker.concurrency", "string values must be quoted");
        assert_error("[zoho]\nemulator = \"http://e\"\nemulator = \"http://f\"\n", (3, 1), "zoho.emulator", "duplicate key");
        let (line, column, field, message) = error("[zoho\nemulator = \"http://e\"\n");
        assert_eq!((line, column, field.as_str()), (1, 6, ""), "{message}");
        assert_eq!(parse("[zoho\nemulator = \"http://e\"\n").unwrap_err().to_string(), format!("z.toml:1:6: {message}"));
        assert_eq!(parse("[zoho\n").unwrap_err().to_string(), "z.toml:1:6: unclosed table, expected `]`");
    }

    #[test]
    fn the_log_section_takes_text_or_json_and_a_file_in_a_directory_that_exists() {
        assert_eq!(parse(EMULATOR).unwrap().log, LogSettings::default());
        let dir = std::env::temp_dir().display().to_string();
        let c = parse(&format!("{EMULATOR}[log]\nformat = \"json\"\nfile = \"{dir}/zb.log\"\n")).unwrap();
        assert_eq!((c.log.format, c.log.file), (LogFormat::Json, Some(PathBuf::from(format!("{dir}/zb.log")))));
        assert_error(&format!("{EMULATOR}[log]\nformat = \"xml\"\n"), (4, 10), "log.format", "unknown variant `xml`, expected `text` or `json`");
        assert_error(&format!("{EMULATOR}[log]\nfile = \"/nonexistent/dir/zb.log\"\n"), (4, 8), "log.file", "the directory /nonexistent/dir does not exist");
        assert_error(&format!("{EMULATOR}[log]\nfile = \"\"\n"), (4, 8), "log.file", "empty");
        assert_error(&format!("{EMULATOR}[log]\nfile = \"{dir}\"\n"), (4, 8), "log.file", &format!("{dir} is a directory"));
        assert_error(&format!("{EMULATOR}[log]\nlevel = \"debug\"\n"), (4, 1), "log.level", "unknown field `level`");
    }

    #[test]
    fn an_offset_found_elsewhere_becomes_line_and_column() {
        let text = "[zoho]\nemulator = \"http://e\"\n[flows.deal_to_invoice]\nwhen = \"Stage ==\"\n";
        let offset = text.find("Stage").unwrap() + 6;
        let e = ConfigError::at_offset("z.toml", text, offset, "flows.deal_to_invoice.when", "expected an expression after ==");
        assert_eq!(e.to_string(), "z.toml:4:15: flows.deal_to_invoice.when: expected an expression after ==");
    }

    #[test]
    fn checks_after_parsing_point_at_the_value() {
        let text = "[zoho]\nemulator = \"http://e\"\n\n[[routes]]\nsystem = \"crm\"\nmodule = \"Products\"\nflows = [\"catalog_sync\", \"catalog_synk\"]\n";
        assert_error(text, (7, 26), "routes[0].flows[1]", "no flow named \"catalog_synk\" (this build has: catalog_sync)");
        let text = format!("{EMULATOR}[[routes]]\nsystem = \"crm\"\nmodule = \"Products\"\nflows = []\n");
        assert_error(&text, (6, 9), "routes[0].flows", "empty: name the flows to run");
        assert_error(&format!("listen = \"localhost\"\n{EMULATOR}"), (1, 10), "listen", "\"localhost\" is not an address and port");
        assert_error(&format!("store = \" \"\n{EMULATOR}"), (1, 9), "store", "empty");
        assert_error("[zoho]\ndc = \"mars\"\nclient_id = \"1\"\norganization_id = \"2\"\n", (2, 6), "zoho.dc", "unknown data centre \"mars\"");
        // A missing setting points at its table's header.
        assert_error("\n[zoho]\ndc = \"eu\"\nclient_id = \"1\"\n", (2, 1), "zoho.organization_id", "missing");
        assert_error(
            "[zoho]\naccounts_url = \"https://accounts.zoho.eu\"\nclient_id = \"1\"\norganization_id = \"2\"\n",
            (2, 16),
            "zoho.accounts_url",
            "set zoho.api_domain too",
        );
        let text = format!("{EMULATOR}[channels]\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\n");
        assert_error(&text, (3, 1), "channels.notify_url", "needed when channels.watch lists channels");
        // A table only implied by a dotted header points at its name in that header.
        let text = format!("{EMULATOR}[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\n");
        assert_error(&text, (3, 3), "channels.notify_url", "needed when channels.watch lists channels");
    }

    #[test]
    fn urls_must_be_http_urls() {
        assert_error(
            "[zoho]\nemulator = \"localhost:8089\"\n",
            (2, 12),
            "zoho.emulator",
            "\"localhost:8089\" is not an http(s) URL (e.g. \"http://127.0.0.1:8089\")",
        );
        assert_error("[zoho]\nemulator = \"127.0.0.1:8089\"\n", (2, 12), "zoho.emulator", "\"127.0.0.1:8089\" is not an http(s) URL");
        assert_error("[zoho]\n  emulator = \"ftp://e\"\n", (2, 14), "zoho.emulator", "\"ftp://e\" is not an http(s) URL");
        let text = "[zoho]\naccounts_url = \"https://accounts.zoho.eu\"\napi_domain = \"www.zohoapis.eu\"\nclient_id = \"1\"\norganization_id = \"2\"\n";
        assert_error(text, (3, 14), "zoho.api_domain", "\"www.zohoapis.eu\" is not an http(s) URL");
        let text = format!(
            "{EMULATOR}[channels]\nnotify_url = \"bridge.example.com/hooks/crm/notify\"\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\n"
        );
        assert_error(&text, (4, 14), "channels.notify_url", "\"bridge.example.com/hooks/crm/notify\" is not an http(s) URL");
        assert!(parse("[zoho]\nemulator = \"https://emulator.internal:8443/\"\n").is_ok());
    }

    #[test]
    fn the_zoho_secrets_must_be_in_the_environment_off_the_emulator() {
        let text = "[zoho]\ndc = \"eu\"\nclient_id = \"1000.ABC\"\norganization_id = \"20001\"\n";
        assert!(parse(text).is_ok());
        let none = |_: &str| None;
        let e = BridgeConfig::parse_with_env("z.toml", text, FLOWS, none).unwrap_err();
        assert_eq!(
            e.to_string(),
            "z.toml:1:1: zoho.client_secret_env: the environment variable ZOHO_CLIENT_SECRET is not set (or is empty): it must hold the OAuth client secret"
        );
        // Named in the file: pointed at; set but empty counts as not set; no value is printed.
        let text = "[zoho]\ndc = \"eu\"\nclient_id = \"1000.ABC\"\norganization_id = \"20001\"\nrefresh_token_env = \"MY_REFRESH\"\n";
        let only_secret = |name: &str| match name {
            "ZOHO_CLIENT_SECRET" => Some("s3cret-value".to_string()),
            "MY_REFRESH" => Some(String::new()),
            _ => None,
        };
        let e = BridgeConfig::parse_with_env("z.toml", text, FLOWS, only_secret).unwrap_err();
        assert_eq!(
            e.to_string(),
            "z.toml:5:21: zoho.refresh_token_env: the environment variable MY_REFRESH is not set (or is empty): it must hold the refresh token"
        );
        assert!(!format!("{e:?}").contains("s3cret-value"));
        assert_error(&text.replace("MY_REFRESH", ""), (5, 21), "zoho.refresh_token_env", "empty: the name of the environment variable");
        // The emulator needs none.
        assert!(BridgeConfig::parse_with_env("z.toml", EMULATOR, FLOWS, none).is_ok());
    }

    #[test]
    fn crm_modules_are_checked_with_a_suggestion() {
        let route = format!("{EMULATOR}[[routes]]\nsystem = \"crm\"\nmodule = \"Prodcuts\"\nflows = [\"catalog_sync\"]\n");
        assert_error(&route, (5, 10), "routes[0].module", "\"Prodcuts\" is not a CRM module: did you mean Products?");
        let stream = format!("{EMULATOR}\n[[poller.streams]]\nsystem = \"crm\"\nmodule = \"Prodcuts\"\n");
        assert_error(&stream, (6, 10), "poller.streams[0].module", "\"Prodcuts\" is not a CRM module: did you mean Products?");
        let channel = format!(
            "{EMULATOR}[channels]\nnotify_url = \"https://x/hooks/crm/notify\"\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.edit\", \"Prodcuts.all\"]\n"
        );
        assert_error(&channel, (7, 25), "channels.watch[0].events[1]", "\"Prodcuts\" is not a CRM module: did you mean Products?");
        assert_error(
            &channel.replace("Prodcuts.all", "Deals.edti"),
            (7, 25),
            "channels.watch[0].events[1]",
            "\"Deals.edti\" is not Module.create, .edit, .delete or .all",
        );
        assert_error(&channel.replace("\"1\"", "\"abc\""), (6, 14), "channels.watch[0].channel_id", "\"abc\" is not a number");
        assert_error(&channel.replace("[\"Deals.edit\", \"Prodcuts.all\"]", "[]"), (7, 10), "channels.watch[0].events", "empty");
        // Custom modules: far from every standard name, or listed.
        assert!(parse(&route.replace("Prodcuts", "Projects")).is_ok());
        let near = route.replace("Prodcuts", "Product");
        assert_error(&near, (5, 10), "routes[0].module", "\"Product\" is not a CRM module: did you mean Products?");
        assert!(parse(&near.replace("[zoho]\n", "[zoho]\ncustom_modules = [\"Product\"]\n")).is_ok());
        assert_error(&near.replace("[zoho]\n", "[zoho]\ncustom_modules = [\"\"]\n"), (2, 19), "zoho.custom_modules[0]", "empty");
    }

    #[test]
    fn books_entities_are_the_ones_the_engine_reads() {
        let route = format!("{EMULATOR}[[routes]]\nsystem = \"books\"\nmodule = \"invoice\"\nflows = [\"catalog_sync\"]\n");
        assert_error(&route, (5, 10), "routes[0].module", "\"invoice\" is not a Books entity the engine reads: did you mean invoices?");
        assert!(parse(&route.replace("invoice", "invoices")).is_ok());
        let stream = format!("{EMULATOR}[[poller.streams]]\nsystem = \"books\"\nmodule = \"widgets\"\n");
        assert_error(&stream, (5, 10), "poller.streams[0].module", "\"widgets\" is not a Books entity the engine reads (invoices,");
    }

    #[test]
    fn zero_and_absurd_durations_are_refused() {
        /// Table header, the line under it, where the error points, the field, the message.
        type Case = (&'static str, &'static str, (usize, usize), &'static str, &'static str);
        let cases: &[Case] = &[
            ("[poller]", "interval_secs = 0", (4, 17), "poller.interval_secs", "0 is too short: at least 1 seconds"),
            ("[poller]", "interval_secs = 604800", (4, 17), "poller.interval_secs", "604800 is too long: at most 86400 seconds"),
            ("[poller]", "start_ms = -1", (4, 12), "poller.start_ms", "-1 is before 1970"),
            ("[worker]", "poll_ms = 0", (4, 11), "worker.poll_ms", "0 is too short: at least 10 milliseconds"),
            ("[worker]", "backoff_secs = 0", (4, 16), "worker.backoff_secs", "0 is too short: at least 1 seconds"),
            ("[worker]", "max_backoff_secs = 0", (4, 20), "worker.max_backoff_secs", "0 is too short"),
            ("[worker]", "lease_secs = 2", (4, 14), "worker.lease_secs", "2 is too short: at least 3 seconds (the lease is renewed every fifth of it"),
            ("[worker]", "lease_secs = 172800", (4, 14), "worker.lease_secs", "172800 is too long: at most 86400 seconds"),
            ("[worker]", "concurrency = 0", (4, 15), "worker.concurrency", "must be at least 1"),
            ("[worker]", "max_attempts = 0", (4, 16), "worker.max_attempts", "0 is too few: at least 1"),
            ("[webhooks]", "max_body_bytes = 0", (4, 18), "webhooks.max_body_bytes", "0 is too small: at least 1024"),
            ("[channels]", "ttl_secs = 0", (4, 12), "channels.ttl_secs", "0 is too short: at least 1 seconds"),
            ("[channels]", "ttl_secs = 1209600", (4, 12), "channels.ttl_secs", "1209600 is too long: at most 604800 seconds (a week is CRM's limit)"),
            ("[channels]", "check_every_secs = 0", (4, 20), "channels.check_every_secs", "0 is too short"),
            ("[channels]", "check_every_secs = 20000", (4, 20), "channels.check_every_secs", "20000 is too long: at most 17280 seconds"),
            ("[channels]", "renew_when_left = 1.0", (4, 19), "channels.renew_when_left", "1 is not a share between 0 and 1"),
            ("[channels]", "renew_when_left = 0.0", (4, 19), "channels.renew_when_left", "0 is not a share between 0 and 1"),
        ];
        for (table, line, at, field, what) in cases {
            assert_error(&format!("{EMULATOR}{table}\n{line}\n"), *at, field, what);
        }
        // A default out of range because of another setting points at the table.
        assert_error(&format!("{EMULATOR}[channels]\nttl_secs = 600\n"), (3, 1), "channels.check_every_secs", "300 is too long: at most 120 seconds");
    }

    #[test]
    fn webhook_and_channel_secrets_can_come_from_the_environment() {
        let text = format!("{EMULATOR}[webhooks]\nbooks_secret_env = \"BOOKS_HOOK_SECRET\"\n");
        let c = parse(&text).unwrap();
        assert!(c.webhooks.books_secret.as_ref().unwrap().matches("from-env"));
        assert!(!format!("{c:?}").contains("from-env"));

        assert_error(
            &format!("{EMULATOR}[webhooks]\ncrm_workflow_secret_env = \"MISSING_VAR\"\n"),
            (4, 27),
            "webhooks.crm_workflow_secret_env",
            "the environment variable MISSING_VAR is not set",
        );
        let text = format!("{EMULATOR}[webhooks]\nbooks_secret = \"x\"\nbooks_secret_env = \"BOOKS_HOOK_SECRET\"\n");
        assert_error(&text, (5, 20), "webhooks.books_secret_env", "set either webhooks.books_secret or webhooks.books_secret_env, not both");

        let text = format!(
            "{EMULATOR}[channels]\nnotify_url = \"https://x/hooks/crm/notify\"\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\ntoken_env = \"BOOKS_HOOK_SECRET\"\n"
        );
        let c = parse(&text).unwrap();
        assert!(c.channels.watch[0].token.as_ref().unwrap().matches("from-env"));
        let long = format!(
            "{EMULATOR}[channels]\nnotify_url = \"https://x/hooks/crm/notify\"\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\ntoken = \"{}\"\n",
            "t".repeat(51)
        );
        assert_error(&long, (8, 9), "channels.watch[0].token", "the token is longer than 50 characters");
    }

    #[test]
    fn the_dashboard_section_is_checked_and_its_token_kept_only_hashed() {
        let c = parse(EMULATOR).unwrap();
        assert!(c.dashboard.enabled && c.dashboard.listen.is_none() && c.dashboard.token_hashes.is_empty());
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // sha256("test")
        let c = parse(&format!("{EMULATOR}[dashboard]\nlisten = \"127.0.0.1:8081\"\ntoken_sha256 = \"{hash}\"\n")).unwrap();
        assert_eq!((c.dashboard.listen.as_deref(), c.dashboard.token_hashes.clone()), (Some("127.0.0.1:8081"), vec![token_hash("test")]));
        // The token in the environment, hashed at load; the clear text is kept nowhere.
        let with_token = |name: &str| if name == DASHBOARD_TOKEN_ENV { Some("clear-token-value".to_string()) } else { env(name) };
        let c = BridgeConfig::parse_with_env("z.toml", EMULATOR, FLOWS, with_token).unwrap();
        assert_eq!(c.dashboard.token_hashes, vec![token_hash("clear-token-value")]);
        assert!(!format!("{c:?}").contains("clear-token-value"));

        assert_error(&format!("{EMULATOR}[dashboard]\nlisten = \"8081\"\n"), (4, 10), "dashboard.listen", "\"8081\" is not an address and port");
        let same = format!("listen = \"127.0.0.1:8080\"\n{EMULATOR}[dashboard]\nlisten = \"127.0.0.1:8080\"\n");
        assert_error(&same, (5, 10), "dashboard.listen", "127.0.0.1:8080 is the main listener's address");
        assert_error(&format!("{EMULATOR}[dashboard]\ntoken_sha256 = \"abc\"\n"), (4, 16), "dashboard.token_sha256", "not a SHA-256 in hex");
        assert_error(&format!("{EMULATOR}[dashboard]\nsession_secs = 5\n"), (4, 16), "dashboard.session_secs", "5 is too short: at least 60 seconds");
        assert_error(
            &format!("{EMULATOR}[dashboard]\nsession_key_env = \"NO_SUCH_KEY\"\n"),
            (4, 19),
            "dashboard.session_key_env",
            "the environment variable NO_SUCH_KEY is not set",
        );
        let short_key = |name: &str| if name == "DASH_KEY" { Some("short".to_string()) } else { env(name) };
        let e = BridgeConfig::parse_with_env("z.toml", &format!("{EMULATOR}[dashboard]\nsession_key_env = \"DASH_KEY\"\n"), FLOWS, short_key).unwrap_err();
        assert!(e.to_string().contains("shorter than 32 bytes") && !e.to_string().contains("short\""), "{e}");
        assert_error(&format!("{EMULATOR}[dashboard]\nport = 1\n"), (4, 1), "dashboard.port", "unknown field `port`");
    }

    #[test]
    fn retention_keeps_everything_unless_days_are_set() {
        let c = parse(EMULATOR).unwrap();
        assert_eq!(c.retention.prune_before(10 * 86_400_000), None);
        let c = parse(&format!("{EMULATOR}[retention]\ndays = 3\n")).unwrap();
        assert_eq!(c.retention.prune_before(10 * 86_400_000), Some(7 * 86_400_000));
    }

    #[test]
    fn the_examples_are_valid() {
        for (name, text) in [
            ("examples/zoho-bridge.toml", include_str!("../../../examples/zoho-bridge.toml")),
            ("examples/emulator.toml", include_str!("../../../examples/emulator.toml")),
        ] {
            BridgeConfig::parse_with_env(name, text, crate::flows::FlowsConfig::NAMES, env).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_real_connection_and_secrets_stay_out_of_the_file() {
        let text = "[zoho]\ndc = \"eu\"\nclient_id = \"1000.ABC\"\norganization_id = \"20001\"\n\n[webhooks]\nbooks_secret = \"s3cret-value\"\n";
        let c = parse(text).unwrap();
        assert_eq!((c.zoho.client_secret_env.as_str(), c.zoho.refresh_token_env.as_str()), ("ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"));
        let dump = format!("{c:?}");
        assert!(!dump.contains("s3cret-value"), "{dump}");
    }

    #[test]
    fn flow_mappings_are_compiled_at_load_and_errors_point_into_the_expression() {
        // A syntax error: at the end of the expression, where rhai found it wanting.
        let text = format!("{EMULATOR}[flows.catalog_sync.map]\nrate = 'source.Unit_Price *'\n");
        let (line, column, field, message) = error(&text);
        assert_eq!((line, field.as_str()), (4, "flows.catalog_sync.map.rate"), "{message}");
        assert!(column > "rate = 'source.Unit_Price".len() && column <= "rate = 'source.Unit_Price *'".len(), "{column}: {message}");
        // An unknown function, at its name.
        let text = format!("{EMULATOR}[flows.catalog_sync.map]\nname = 'text(source.Product_Name) + shout(source.Product_Code)'\n");
        let (line, column, field, message) = error(&text);
        assert_eq!((line, column, field.as_str()), (4, 37, "flows.catalog_sync.map.name"), "{message}");
        assert!(message.contains("shout"), "{message}");
        // A statement (no loops, no assignments: expressions only).
        let text = format!("{EMULATOR}[flows.catalog_sync]\nwhen = 'while true {{ }}'\n");
        let (line, _, field, message) = error(&text);
        assert_eq!((line, field.as_str()), (4, "flows.catalog_sync.when"), "{message}");
        // A lookup table that does not exist, at its name.
        let text = format!("{EMULATOR}[tables.vat]\nDE = \"19\"\n[flows.catalog_sync.map]\ndescription = 'lookup(\"tax\", source.Product_Code)'\n");
        let (line, column, field, message) = error(&text);
        assert_eq!((line, column, field.as_str()), (6, 23, "flows.catalog_sync.map.description"), "{message}");
        assert!(message.contains("tax"), "{message}");
        // TOML that is not a mapping: a number where an expression goes, an unknown flow.
        let (line, _, field, _) = error(&format!("{EMULATOR}[flows.catalog_sync.map]\nrate = 3\n"));
        assert_eq!((line, field.as_str()), (4, "flows.catalog_sync.map.rate"));
        let (line, _, _, message) = error(&format!("{EMULATOR}[flows.catalog_synk]\n"));
        assert_eq!(line, 3, "{message}");
        assert!(message.contains("catalog_synk") && message.contains("catalog_sync"), "{message}");
        // A good mapping loads, and the flows build from it.
        let text = format!("{EMULATOR}[tables.tax]\nW = \"t1\"\n[flows.catalog_sync.map]\ndescription = 'lookup(\"tax\", source.Product_Code) ?? \"\"'\n");
        let config = parse(&text).unwrap();
        assert_eq!(config.build_flows().unwrap().len(), crate::flows::FlowsConfig::NAMES.len());
    }
}
