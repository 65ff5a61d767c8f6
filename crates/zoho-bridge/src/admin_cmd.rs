//! The admin commands: look into the store and act on it from a shell.
//!
//! - `zoho-bridge status`: jobs by status.
//! - `zoho-bridge dead-letters`: the jobs that failed for good, with the error (Zoho's
//!   code and message when Zoho refused).
//! - `zoho-bridge replay ID…`: puts dead jobs back in the queue (after fixing the data).
//! - `zoho-bridge drop ID… --reason TEXT`: gives up on dead jobs, saying why.
//! - `zoho-bridge audit SYSTEM MODULE RECORD_ID`: every write to one record, newest
//!   first (`audit books items 4600000012345`); `--job ID` instead lists one job's.
//! - `zoho-bridge events SYSTEM MODULE RECORD_ID`: what the triggers saw of a record.
//! - `zoho-bridge prune --older-than-days N`: deletes done and skipped jobs, and the
//!   inbox events nothing refers to any more, older than N days (the audit log, links,
//!   dead letters and unfinished work stay). `serve` does it by itself when the config
//!   sets `[retention] days`.
//!
//! Every command takes the store from `--store`, or from the config file's `store`
//! with `--config`. Output is one JSON object per line (for people with `jq`, and for
//! scripts); errors go to stderr with a non-zero exit.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bridge::{
    config::{BridgeConfig, RetentionSettings},
    flows::now_ms,
    store::{AnyStore, JobStatus, Store},
};
use serde_json::json;

/// Where the store is.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The store: a SQLite file path or URL, or `postgres://…`.
    #[arg(long, default_value = bridge::store::DEFAULT_SQLITE_FILE, conflicts_with = "config")]
    pub store: String,
    /// Take the store from this config file instead.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<AnyStore> {
        let url = match &self.config {
            Some(path) => BridgeConfig::load_store(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => self.store.clone(),
        };
        // An admin command must not create an empty database by mistake.
        if AnyStore::file_path(&url).is_some_and(|path| !path.exists()) {
            bail!("no store at {url} (give --store or --config)");
        }
        AnyStore::connect(&url).await.context("opening the store")
    }
}

/// The admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Jobs by status.
    Status(StoreArgs),
    /// List the dead letters: jobs that failed for good, oldest first.
    DeadLetters {
        #[command(flatten)]
        store: StoreArgs,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Put dead jobs back in the queue, to run now.
    Replay {
        #[command(flatten)]
        store: StoreArgs,
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Give up on dead jobs for good (they become skipped, with the reason).
    Drop {
        #[command(flatten)]
        store: StoreArgs,
        /// Why (kept on the job).
        #[arg(long)]
        reason: String,
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Every write to one record (`audit books items 4600000012345`), or one job's.
    Audit {
        #[command(flatten)]
        store: StoreArgs,
        /// The job whose writes to list, instead of a record.
        #[arg(long, conflicts_with_all = ["system", "module", "record_id"])]
        job: Option<i64>,
        /// `crm` or `books`.
        #[arg(required_unless_present = "job")]
        system: Option<String>,
        /// CRM module or Books entity (`items`).
        #[arg(required_unless_present = "job")]
        module: Option<String>,
        /// The record's id.
        #[arg(required_unless_present = "job")]
        record_id: Option<String>,
    },
    /// What the triggers saw of one record, newest first.
    Events {
        #[command(flatten)]
        store: StoreArgs,
        /// `crm` or `books`.
        system: String,
        /// CRM module or Books entity.
        module: String,
        /// The record's id.
        record_id: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Delete finished jobs and their inbox events older than N days (the audit log,
    /// links, dead letters and unfinished work stay).
    Prune {
        #[command(flatten)]
        store: StoreArgs,
        /// Keep the last N days (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        older_than_days: u32,
    },
}

fn line(value: serde_json::Value) {
    println!("{value}");
}

/// Applies `act` to each job id, printing `{"id": …, "<done>": true}` per job done and
/// the error of each that failed; fails when any did (after trying them all).
async fn each_job<F, Fut>(ids: &[i64], done: &str, act: F) -> anyhow::Result<()>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = bridge::store::StoreResult<()>>,
{
    let mut failed = 0;
    for &id in ids {
        match act(id).await {
            Ok(()) => line(json!({"id": id, done: true})),
            Err(e) => {
                failed += 1;
                eprintln!("job {id}: {e}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} job(s) not {done}");
    }
    Ok(())
}

/// Runs one admin command.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Status(store) => {
            let store = store.open().await?;
            for (status, n) in store.job_counts().await? {
                line(json!({"status": status, "jobs": n}));
            }
        }
        AdminCommand::DeadLetters { store, limit } => {
            let store = store.open().await?;
            for job in store.jobs_with_status(JobStatus::Dead, limit).await? {
                line(json!({
                    "id": job.id, "flow": job.flow, "key": job.key, "attempts": job.attempts,
                    "event_id": job.event_id, "error": job.last_error, "updated_ms": job.updated_ms,
                }));
            }
        }
        AdminCommand::Replay { store, ids } => {
            let store = store.open().await?;
            each_job(&ids, "replayed", |id| store.replay(id, now_ms())).await?;
        }
        AdminCommand::Drop { store, reason, ids } => {
            let store = store.open().await?;
            let reason = format!("dropped by {}: {reason}", std::env::var("USER").unwrap_or_else(|_| "an operator".into()));
            each_job(&ids, "dropped", |id| store.drop_dead(id, &reason, now_ms())).await?;
        }
        AdminCommand::Audit { store, job, system, module, record_id } => {
            let store = store.open().await?;
            let entries = match (job, system, module, record_id) {
                (Some(job), ..) => store.audit_for_job(job).await?,
                (None, Some(system), Some(module), Some(record_id)) => store.audit_for_record(&system, &module, &record_id).await?,
                _ => bail!("give SYSTEM MODULE RECORD_ID, or --job ID"),
            };
            for entry in entries {
                line(serde_json::to_value(&entry)?);
            }
        }
        AdminCommand::Events { store, system, module, record_id, limit } => {
            let store = store.open().await?;
            for event in store.events_for_record(&system, &module, &record_id, limit).await? {
                line(serde_json::to_value(&event)?);
            }
        }
        AdminCommand::Prune { store, older_than_days } => {
            let store = store.open().await?;
            let retention = RetentionSettings { days: older_than_days };
            let before_ms = retention.prune_before(now_ms()).context("--older-than-days is at least 1")?;
            let pruned = store.prune(before_ms).await?;
            line(json!({"pruned_jobs": pruned.jobs, "pruned_events": pruned.events, "before_ms": before_ms}));
        }
    }
    Ok(())
}
