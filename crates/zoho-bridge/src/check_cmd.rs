//! The commands that look at a config file's flows without running them:
//! `zoho-bridge check`, `zoho-bridge preview` and `zoho-bridge config defaults`.
//!
//! - `check --config FILE` loads the file as `serve` would (every setting checked, every
//!   mapping expression compiled) and exits non-zero with `file:line:column: field: what`
//!   when anything is wrong; `--online` also reads both APIs' field metadata and maps a
//!   few real records ([`bridge::check`]), writing nothing.
//! - `preview --config FILE FLOW RECORD_ID` runs one record through a flow without
//!   writing: the source as read, the payload it would send, the match it found and what
//!   it would do. Nothing changes in Zoho nor in the store (a missing SQLite store is not
//!   created: the preview then runs on an empty one in a temporary directory).
//! - `config defaults` prints every flow's shipped section as TOML to copy.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use bridge::{
    config::{BridgeConfig, DEFAULT_CONFIG_FILE},
    flows::{self, FlowsConfig, RunSettings},
    store::{AnyStore, RecordRef, StoreTokenCache},
    triggers::Clock,
    worker::Backoff,
};

/// Flags of `zoho-bridge check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// Also check the mappings against the fields Zoho reports (reads only).
    #[arg(long)]
    pub online: bool,
}

/// Flags of `zoho-bridge preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// The flow (`catalog_sync`).
    pub flow: String,
    /// The id of the record to run it for, in the flow's source (a CRM product id for
    /// `catalog_sync`).
    pub record_id: String,
}

/// `zoho-bridge config …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print every flow's shipped settings and mapping, as TOML to copy into a config file.
    Defaults,
}

/// Loads the file or exits 1 with its one-line error.
fn load(path: &std::path::Path) -> BridgeConfig {
    BridgeConfig::load(path, &flows::names()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    })
}

/// `zoho-bridge check`.
pub async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let config = load(&args.config);
    let flows = config.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?;
    if !args.online {
        println!("{}: ok (offline: settings and mappings; --online checks them against Zoho)", args.config.display());
        return Ok(());
    }
    // Online, the flows the routes start: a flow nothing starts writes nothing, and its
    // fields need not exist. A file with no routes yet has every flow checked.
    let routed = config.routes.named_flows();
    let flows: Vec<_> = flows.into_iter().filter(|f| routed.is_empty() || routed.contains(&f.name())).collect();
    let checked = flows.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ");
    let client = zoho_bridge::connection::client(&config.zoho, None).await?;
    let findings = bridge::check::check_online(&client, &flows, &Clock::system()).await.context("reading Zoho's field metadata")?;
    if findings.is_empty() {
        println!("{}: ok (online: the fields of {checked} exist in Zoho)", args.config.display());
        return Ok(());
    }
    for finding in &findings {
        eprintln!("{}: {finding}", args.config.display());
    }
    eprintln!("{}: {} problem(s)", args.config.display(), findings.len());
    std::process::exit(1);
}

/// `zoho-bridge preview`.
pub async fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    let config = load(&args.config);
    let flows = config.build_flows().map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(flow) = flows.iter().find(|f| f.name() == args.flow) else {
        anyhow::bail!("no flow named {:?} (this build has: {})", args.flow, flows::names().join(", "));
    };
    let Some((system, module)) = flow.shape().source else {
        anyhow::bail!("the flow {} cannot be previewed (it names no source)", args.flow);
    };
    // Never create a store to preview: a missing SQLite file is replaced by an empty one.
    let scratch = std::env::temp_dir().join(format!("zoho-bridge-preview-{}", std::process::id()));
    let (url, note) = if AnyStore::file_path(&config.store).is_some_and(|path| !path.exists()) {
        std::fs::create_dir_all(&scratch)?;
        (scratch.join("empty.db").display().to_string(), Some(format!("the store {} does not exist: previewed without links", config.store)))
    } else {
        (config.store.clone(), None)
    };
    let store = AnyStore::connect(&url).await.context("opening the store")?;
    let client = zoho_bridge::connection::client(&config.zoho, Some(Arc::new(StoreTokenCache(store.clone())))).await?;
    let settings = RunSettings {
        worker: "preview".into(),
        connection: config.zoho.connection.clone(),
        max_attempts: 1,
        backoff: Backoff::default(),
        clock: Clock::system(),
    };
    let record = RecordRef { system, module: module.into(), id: args.record_id.clone() };
    let result = bridge::flows::preview(&store, flow.as_ref(), &client, &settings, &record).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let mut preview = result.map_err(|e| anyhow::anyhow!("{}: {e}", record))?;
    if let Some(note) = note {
        preview.notes.insert(0, note);
    }
    let out = serde_json::json!({
        "flow": args.flow,
        "record": record,
        "source": preview.source,
        "payload": preview.payload,
        "notes": preview.notes,
        "would_write": preview.would_write,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `zoho-bridge config …`.
pub fn config(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Defaults => {
            println!("# The shipped settings and mapping of every flow (zoho-bridge config defaults).");
            println!("# Copy the sections or fields to change into your config file: a field you set");
            println!("# replaces the shipped one; the others stay as shipped.\n");
            print!("{}", FlowsConfig::defaults_toml());
        }
    }
    Ok(())
}
