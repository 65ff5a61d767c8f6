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
//! A bad file fails at load with its path, line, column and the field: a TOML or type
//! error as the parser found it, and the checks serde cannot make (an unknown flow, a
//! Books stream the poller cannot read, channels without a callback URL, …) pointing at
//! the line of the offending value.

use std::{net::SocketAddr, path::Path, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
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
    /// Environment variable holding the OAuth client secret. Default `ZOHO_CLIENT_SECRET`.
    pub client_secret_env: String,
    /// Environment variable holding the refresh token. Default `ZOHO_REFRESH_TOKEN`.
    pub refresh_token_env: String,
    /// Take everything above from a running zoho-bridge emulator's seeded credentials
    /// instead (`http://127.0.0.1:8089`): for trying it out and for tests.
    pub emulator: Option<String>,
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
        }
    }
}

/// How the worker runs (see [`WorkerConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// This worker's id (lease owner, audit actor). Default `worker-<pid>`.
    pub id: Option<String>,
    /// Jobs run at once. Default 16.
    pub concurrency: u32,
    /// Lease length, seconds. Default 60.
    pub lease_secs: u64,
    /// Pause when the queue is empty, milliseconds. Default 500.
    pub poll_ms: u64,
    /// Attempts before a failing job is dead-lettered. Default 8.
    pub max_attempts: i32,
    /// First retry delay, seconds (doubles per attempt, jittered). Default 2.
    pub backoff_secs: u64,
    /// Longest retry delay, seconds. Default 600.
    pub max_backoff_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings { id: None, concurrency: 16, lease_secs: 60, poll_ms: 500, max_attempts: 8, backoff_secs: 2, max_backoff_secs: 600 }
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

/// A config file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the problem is the file as a whole).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

impl BridgeConfig {
    /// Reads and checks the file at `path`; `flows` are the flow names this binary has.
    pub fn load(path: &Path, flows: &[&str]) -> Result<BridgeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the config file: {e}"),
        })?;
        BridgeConfig::parse(&path.display().to_string(), &text, flows)
    }

    /// Parses and checks `text` (named `file` in errors), reading `*_env` secrets from
    /// the process environment.
    pub fn parse(file: &str, text: &str, flows: &[&str]) -> Result<BridgeConfig, ConfigError> {
        BridgeConfig::parse_with_env(file, text, flows, |name| std::env::var(name).ok())
    }

    /// Like [`BridgeConfig::parse`], with `env` standing for the environment.
    pub fn parse_with_env(file: &str, text: &str, flows: &[&str], env: impl Fn(&str) -> Option<String>) -> Result<BridgeConfig, ConfigError> {
        let mut config: BridgeConfig = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, offset);
            let message = match key_at(text, line) {
                Some(key) if !e.message().contains(&format!("`{key}`")) => format!("{key}: {}", e.message()),
                _ => e.message().to_string(),
            };
            ConfigError { file: file.into(), line, column, message }
        })?;
        let located = |(needle, message): (Option<String>, String)| {
            let (line, column) = needle.and_then(|n| find(text, &n)).unwrap_or((0, 0));
            ConfigError { file: file.into(), line, column, message }
        };
        config.read_secrets(&env).map_err(located)?;
        config.check(flows).map_err(located)?;
        Ok(config)
    }

    /// Fills the secrets named by `*_env` settings from `env`.
    fn read_secrets(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), (Option<String>, String)> {
        let read = |field: &str, secret: &mut Option<SecretString>, var: &Option<String>| -> Result<(), (Option<String>, String)> {
            let Some(var) = var else { return Ok(()) };
            let at = Some(format!("\"{var}\""));
            if secret.is_some() {
                return Err((at, format!("{field}: set either {field} or {field}_env, not both")));
            }
            match env(var).filter(|v| !v.is_empty()) {
                Some(value) => {
                    *secret = Some(SecretString::new(value));
                    Ok(())
                }
                None => Err((at, format!("{field}_env: the environment variable {var} is not set (or empty)"))),
            }
        };
        let w = &mut self.webhooks;
        read("webhooks.crm_workflow_secret", &mut w.crm_workflow_secret, &w.crm_workflow_secret_env.clone())?;
        read("webhooks.books_secret", &mut w.books_secret, &w.books_secret_env.clone())?;
        for (i, watch) in self.channels.watch.iter_mut().enumerate() {
            read(&format!("channels.watch[{i}].token"), &mut watch.token, &watch.token_env.clone())?;
        }
        Ok(())
    }

    /// The checks serde cannot make. An error carries text to find its line by.
    fn check(&self, flows: &[&str]) -> Result<(), (Option<String>, String)> {
        let at = |value: &str| Some(format!("\"{value}\""));
        if self.listen.parse::<SocketAddr>().is_err() {
            return Err((at(&self.listen), format!("listen: {:?} is not an address and port (e.g. 127.0.0.1:8080)", self.listen)));
        }
        if self.store.trim().is_empty() {
            return Err((Some("store".into()), "store: empty (a SQLite file path, or postgres://…)".into()));
        }
        let z = &self.zoho;
        if z.emulator.is_none() {
            if z.accounts_url.is_some() != z.api_domain.is_some() {
                return Err((Some("[zoho]".into()), "zoho: set both accounts_url and api_domain, or neither (and dc)".into()));
            }
            if z.accounts_url.is_none() && zoho::DataCenter::from_code(&z.dc).is_none() {
                return Err((at(&z.dc), format!("zoho.dc: unknown data centre {:?} (us, eu, in, au, jp, ca, sa, cn)", z.dc)));
            }
            for (name, value) in [("client_id", &z.client_id), ("organization_id", &z.organization_id)] {
                if value.trim().is_empty() {
                    return Err((Some("[zoho]".into()), format!("zoho.{name}: missing (or set zoho.emulator to try it on the emulator)")));
                }
            }
        }
        if self.worker.concurrency == 0 {
            return Err((Some("concurrency".into()), "worker.concurrency: must be at least 1".into()));
        }
        if self.worker.lease_secs < 3 {
            return Err((Some("lease_secs".into()), "worker.lease_secs: must be at least 3 (the lease is extended every third of it)".into()));
        }
        if !self.channels.watch.is_empty() && self.channels.notify_url.trim().is_empty() {
            return Err((Some("[channels]".into()), "channels.notify_url: needed when channels.watch lists channels (the public URL of /hooks/crm/notify)".into()));
        }
        for stream in &self.poller.streams {
            if stream.system == System::Books && !crate::triggers::poller::books_stream_known(&stream.module) {
                return Err((at(&stream.module), format!("poller.streams: Books entity {:?} cannot be polled (invoices, customerpayments, creditnotes, estimates, salesorders, items, contacts)", stream.module)));
            }
        }
        for (i, route) in self.routes.0.iter().enumerate() {
            for flow in &route.flows {
                if !flows.contains(&flow.as_str()) {
                    return Err((at(flow), format!("routes[{i}].flows: no flow named {flow:?} (this build has: {})", flows.join(", "))));
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

/// 1-based line and column of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key assigned on 1-based `line` (`a` in `a = 1`), if the line assigns one.
fn key_at(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_string())
}

/// Line and column of the first occurrence of `needle` outside comments.
fn find(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let code = l.split('#').next().unwrap_or(l);
        code.find(needle).map(|c| (i + 1, code[..c].chars().count() + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOWS: &[&str] = &["catalog_sync"];

    #[test]
    fn an_empty_file_is_all_defaults_but_needs_a_connection() {
        let e = BridgeConfig::parse("z.toml", "", FLOWS).unwrap_err();
        assert!(e.message.contains("zoho.client_id: missing"), "{e}");
        let c = BridgeConfig::parse("z.toml", "[zoho]\nemulator = \"http://127.0.0.1:8089\"\n", FLOWS).unwrap();
        assert_eq!((c.store.as_str(), c.listen.as_str(), c.worker.concurrency), ("zoho-bridge.db", "127.0.0.1:8080", 16));
        assert_eq!(c.triggers().connection(), "default");
        assert_eq!(c.worker().lease_ms, 60_000);
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let text = "store = \"x.db\"\n[zoho]\nemulator = \"http://e\"\n[worker]\nconcurrency = \"many\"\n";
        let e = BridgeConfig::parse("z.toml", text, FLOWS).unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.column), ("z.toml", 5, 15), "{e}");
        assert!(e.message.starts_with("concurrency: invalid type"), "{e}");
        assert!(e.to_string().starts_with("z.toml:5:15: concurrency:"), "{e}");

        let text = "[zoho]\nemulator = \"http://e\"\nunknown_thing = 1\n";
        let e = BridgeConfig::parse("z.toml", text, FLOWS).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("unknown field `unknown_thing`"), "{e}");

        let text = "[zoho]\nemulator = \"http://e\"\n\n[[routes]]\nsystem = \"crm\"\nmodule = \"Products\"\nflows = [\"catalog_sync\", \"catalog_synk\"]\n";
        let e = BridgeConfig::parse("z.toml", text, FLOWS).unwrap_err();
        assert_eq!((e.line, e.column), (7, 26), "{e}");
        assert!(e.message.contains("routes[0].flows: no flow named \"catalog_synk\" (this build has: catalog_sync)"), "{e}");

        let text = "[zoho]\nemulator = \"http://e\"\n[[poller.streams]]\nsystem = \"books\"\nmodule = \"widgets\"\n";
        let e = BridgeConfig::parse("z.toml", text, FLOWS).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("\"widgets\" cannot be polled"), "{e}");

        let text = "listen = \"localhost\"\n[zoho]\nemulator = \"http://e\"\n";
        assert_eq!(BridgeConfig::parse("z.toml", text, FLOWS).unwrap_err().line, 1);
        let e = BridgeConfig::parse("z.toml", "[zoho]\ndc = \"mars\"\nclient_id = \"1\"\norganization_id = \"2\"\n", FLOWS).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = BridgeConfig::parse("z.toml", "[zoho]\nemulator = \"http://e\"\n[channels]\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\n", FLOWS).unwrap_err();
        assert!(e.message.contains("channels.notify_url"), "{e}");
        let e = BridgeConfig::load(Path::new("/nonexistent/z.toml"), FLOWS).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/z.toml:0:0: cannot read the config file"), "{e}");
    }

    #[test]
    fn secrets_can_come_from_the_environment() {
        let env = |name: &str| (name == "BOOKS_HOOK_SECRET").then(|| "from-env".to_string());
        let text = "[zoho]\nemulator = \"http://e\"\n[webhooks]\nbooks_secret_env = \"BOOKS_HOOK_SECRET\"\n";
        let c = BridgeConfig::parse_with_env("z.toml", text, FLOWS, env).unwrap();
        assert!(c.webhooks.books_secret.as_ref().unwrap().matches("from-env"));
        assert!(!format!("{c:?}").contains("from-env"));

        let text = "[zoho]\nemulator = \"http://e\"\n[webhooks]\ncrm_workflow_secret_env = \"MISSING_VAR\"\n";
        let e = BridgeConfig::parse_with_env("z.toml", text, FLOWS, env).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("MISSING_VAR is not set"), "{e}");

        let text = "[zoho]\nemulator = \"http://e\"\n[webhooks]\nbooks_secret = \"x\"\nbooks_secret_env = \"BOOKS_HOOK_SECRET\"\n";
        let e = BridgeConfig::parse_with_env("z.toml", text, FLOWS, env).unwrap_err();
        assert!(e.message.contains("not both"), "{e}");

        let text = "[zoho]\nemulator = \"http://e\"\n[channels]\nnotify_url = \"https://x/hooks/crm/notify\"\n[[channels.watch]]\nchannel_id = \"1\"\nevents = [\"Deals.all\"]\ntoken_env = \"BOOKS_HOOK_SECRET\"\n";
        let c = BridgeConfig::parse_with_env("z.toml", text, FLOWS, env).unwrap();
        assert!(c.channels.watch[0].token.as_ref().unwrap().matches("from-env"));
    }

    #[test]
    fn retention_keeps_everything_unless_days_are_set() {
        let c = BridgeConfig::parse("z.toml", "[zoho]\nemulator = \"http://e\"\n", FLOWS).unwrap();
        assert_eq!(c.retention.prune_before(10 * 86_400_000), None);
        let c = BridgeConfig::parse("z.toml", "[zoho]\nemulator = \"http://e\"\n[retention]\ndays = 3\n", FLOWS).unwrap();
        assert_eq!(c.retention.prune_before(10 * 86_400_000), Some(7 * 86_400_000));
        let e = BridgeConfig::parse("z.toml", "[zoho]\nemulator = \"http://e\"\n[retention]\ndays = -1\n", FLOWS).unwrap_err();
        assert_eq!((e.line, e.message.starts_with("days:")), (4, true), "{e}");
    }

    #[test]
    fn the_examples_are_valid() {
        for (name, text) in [
            ("examples/zoho-bridge.toml", include_str!("../../../examples/zoho-bridge.toml")),
            ("examples/emulator.toml", include_str!("../../../examples/emulator.toml")),
        ] {
            BridgeConfig::parse(name, text, FLOWS).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_real_connection_and_secrets_stay_out_of_the_file() {
        let text = "[zoho]\ndc = \"eu\"\nclient_id = \"1000.ABC\"\norganization_id = \"20001\"\n\n[webhooks]\nbooks_secret = \"s3cret-value\"\n";
        let c = BridgeConfig::parse("z.toml", text, FLOWS).unwrap();
        assert_eq!((c.zoho.client_secret_env.as_str(), c.zoho.refresh_token_env.as_str()), ("ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"));
        let dump = format!("{c:?}");
        assert!(!dump.contains("s3cret-value"), "{dump}");
    }
}
