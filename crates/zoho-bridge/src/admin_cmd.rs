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
//! - `zoho-bridge leaks`: the totals mismatches (revenue leakage): invoices and credit
//!   notes whose Books total differs from the CRM amount beyond the currency's rounding,
//!   with both figures and the cause when known, newest first; a count and the sum of the
//!   differences per currency on stderr.
//! - `zoho-bridge review list|show|link|create|ignore`: the review list, the records
//!   customer matching would not guess about; a person links one to a candidate, has a
//!   new record created, or ignores it, and a linked or created one is queued to run again.
//!
//! Every command takes the store from `--store`, or from the config file's `store`
//! with `--config`. Output is one JSON object per line (for people with `jq`, and for
//! scripts); errors go to stderr with a non-zero exit.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bridge::{
    config::{BridgeConfig, RetentionSettings},
    flows::now_ms,
    money::{Mismatch, TOTALS_MISMATCH},
    store::{AnyStore, JobStatus, Review, ReviewDecision, ReviewStatus, Reviews, Store},
};
use serde_json::{Value, json};

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
    pub(crate) async fn open(&self) -> anyhow::Result<AnyStore> {
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
    #[command(override_usage = "zoho-bridge audit [OPTIONS] <SYSTEM> <MODULE> <RECORD_ID>\n       zoho-bridge audit [OPTIONS] --job <JOB>")]
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
    /// Totals mismatches (revenue leakage): Books totals that differ from the CRM amount,
    /// newest first.
    Leaks {
        #[command(flatten)]
        store: StoreArgs,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// The review list: records customer matching would not guess about.
    #[command(subcommand)]
    Review(ReviewCommand),
}

/// The `review` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ReviewCommand {
    /// List reviews, oldest first (the open ones unless --status says otherwise).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Which reviews.
        #[arg(long, value_enum, default_value_t = StatusFilter::Open)]
        status: StatusFilter,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One review, with the record's recent events and writes (why it is there).
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The review's id.
        id: i64,
        /// At most this many events and this many audit entries, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Link the record to one of its candidates, and run its flow again.
    Link {
        #[command(flatten)]
        store: StoreArgs,
        /// The review's id.
        id: i64,
        /// The candidate's id (one of the review's candidates).
        candidate_id: String,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// Have a new record created on the other side, and run the flow again.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// The review's id.
        id: i64,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// Leave the record as it is: it is not synced.
    Ignore {
        #[command(flatten)]
        store: StoreArgs,
        /// The review's id.
        id: i64,
        #[command(flatten)]
        decision: DecisionArgs,
    },
}

/// Which reviews `review list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFilter {
    /// Waiting for a person.
    Open,
    /// Linked to a candidate.
    Linked,
    /// A new record is to be created.
    Created,
    /// Not synced.
    Ignored,
    /// Every review.
    All,
}

impl StatusFilter {
    fn status(self) -> Option<ReviewStatus> {
        match self {
            StatusFilter::Open => Some(ReviewStatus::Open),
            StatusFilter::Linked => Some(ReviewStatus::Linked),
            StatusFilter::Created => Some(ReviewStatus::Created),
            StatusFilter::Ignored => Some(ReviewStatus::Ignored),
            StatusFilter::All => None,
        }
    }
}

/// Who decides, and why.
#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// Who decides (default: $USER, else `admin`).
    #[arg(long)]
    by: Option<String>,
    /// A note kept with the decision.
    #[arg(long)]
    note: Option<String>,
}

fn line(value: serde_json::Value) {
    println!("{value}");
}

/// Applies `act` to each job id, printing `{"id": …, "<done>": true}` per job done and
/// the error of each that failed; fails when any did (after trying them all).
async fn each_job<F, Fut>(ids: &[i64], done: &str, act: F) -> anyhow::Result<()>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<bridge::store::Job, bridge::actions::ActionError>>,
{
    let mut failed = 0;
    for &id in ids {
        match act(id).await {
            Ok(_) => line(json!({"id": id, done: true})),
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
            let dead = store.jobs_with_status(JobStatus::Dead, limit).await?;
            if dead.is_empty() {
                // stdout stays JSON lines (none); people are told on stderr.
                eprintln!("no dead letters: every job ended done or skipped, or is still queued");
            }
            for job in dead {
                line(json!({
                    "id": job.id, "flow": job.flow, "key": job.key, "attempts": job.attempts,
                    "event_id": job.event_id, "error": job.last_error, "updated_ms": job.updated_ms, "updated": rfc3339(job.updated_ms),
                }));
            }
        }
        AdminCommand::Replay { store, ids } => {
            let store = store.open().await?;
            let by = operator();
            each_job(&ids, "replayed", |id| bridge::actions::replay(&store, id, &by, now_ms())).await?;
        }
        AdminCommand::Drop { store, reason, ids } => {
            let store = store.open().await?;
            let by = operator();
            each_job(&ids, "dropped", |id| bridge::actions::drop_dead(&store, id, &by, &reason, now_ms())).await?;
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
        AdminCommand::Leaks { store, limit } => leaks(store, limit).await?,
        AdminCommand::Review(command) => review(command).await?,
    }
    Ok(())
}

/// Lists the totals mismatches, newest first (one JSON object each on stdout), then
/// says on stderr how many there are and what they add up to per currency.
async fn leaks(store: StoreArgs, limit: u32) -> anyhow::Result<()> {
    let store = store.open().await?;
    let total = store.count_audit_action(TOTALS_MISMATCH).await?;
    let entries = store.audit_by_action(TOTALS_MISMATCH, limit).await?;
    let mut sums: std::collections::BTreeMap<String, rust_decimal::Decimal> = Default::default();
    for entry in &entries {
        let mismatch: Mismatch = serde_json::from_value(entry.request.clone()).with_context(|| format!("audit entry {} is not a totals mismatch", entry.id))?;
        *sums.entry(mismatch.currency.clone()).or_default() += mismatch.difference;
        let mut out = serde_json::to_value(&mismatch)?;
        out["audit_id"] = json!(entry.id);
        out["job_id"] = json!(entry.job_id);
        out["at_ms"] = json!(entry.at_ms);
        out["at"] = json!(rfc3339(entry.at_ms));
        line(out);
    }
    if total == 0 {
        eprintln!("no totals mismatches recorded: every Books total matched its CRM amount");
    } else {
        let sums = sums.iter().map(|(currency, sum)| format!("{sum} {currency}")).collect::<Vec<_>>().join(", ");
        eprintln!("{total} totals mismatch(es) recorded; the {} listed differ by {sums} in all (Books minus CRM)", entries.len());
    }
    Ok(())
}

/// Runs one `review` subcommand.
async fn review(command: ReviewCommand) -> anyhow::Result<()> {
    match command {
        ReviewCommand::List { store, status, limit } => {
            let store = store.open().await?;
            let reviews = store.reviews(status.status(), limit).await?;
            if reviews.is_empty() {
                let which = status.status().map_or("", ReviewStatus::as_str);
                eprintln!("no {which}{}reviews", if which.is_empty() { "" } else { " " });
            }
            for review in &reviews {
                line(review_json(review));
            }
        }
        ReviewCommand::Show { store, id, limit } => {
            let store = store.open().await?;
            let review = existing_review(&store, id).await?;
            let record = &review.record;
            let events = store.events_for_record(record.system.as_str(), &record.module, &record.id, limit).await?;
            let mut audit = store.audit_for_record(record.system.as_str(), &record.module, &record.id).await?;
            audit.truncate(limit as usize);
            let mut shown = review_json(&review);
            shown["events"] = serde_json::to_value(&events)?;
            shown["audit"] = serde_json::to_value(&audit)?;
            line(shown);
        }
        ReviewCommand::Link { store, id, candidate_id, decision } => decide(store, id, ReviewDecision::Link(candidate_id), decision).await?,
        ReviewCommand::Create { store, id, decision } => decide(store, id, ReviewDecision::Create, decision).await?,
        ReviewCommand::Ignore { store, id, decision } => decide(store, id, ReviewDecision::Ignore, decision).await?,
    }
    Ok(())
}

/// The review with this id, or an error saying there is none.
async fn existing_review(store: &AnyStore, id: i64) -> anyhow::Result<Review> {
    store.review(id).await?.with_context(|| format!("no review {id} (`zoho-bridge review list --status all` lists them)"))
}

/// Decides review `id` through [`bridge::actions::decide_review`] (a link or a create
/// queues the review's flow for its record, so the decision is honoured now). Prints the
/// decided review with the queued event's and job's ids.
async fn decide(store: StoreArgs, id: i64, decision: ReviewDecision, args: DecisionArgs) -> anyhow::Result<()> {
    let store = store.open().await?;
    let by = args.by.unwrap_or_else(operator);
    let decided = bridge::actions::decide_review(&store, id, &decision, &by, args.note.as_deref(), now_ms()).await?;
    let mut shown = review_json(&decided.review);
    shown["event_id"] = json!(decided.queued.as_ref().map(|q| q.event_id));
    shown["job_id"] = json!(decided.queued.as_ref().and_then(|q| q.job_id));
    line(shown);
    Ok(())
}

/// Who is acting from this shell: `$USER`, else `admin`.
pub fn operator() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "admin".into())
}

/// An epoch-ms time as RFC 3339 (`2024-05-01T09:30:00.250Z`).
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_string())
}

/// A review as one JSON object, its times both as epoch ms and as RFC 3339.
fn review_json(review: &Review) -> Value {
    json!({
        "id": review.id,
        "connection": review.connection,
        "flow": review.flow,
        "record": {"system": review.record.system.as_str(), "module": review.record.module, "id": review.record.id},
        "kind": review.kind.as_str(),
        "reason": review.reason,
        "candidates": review.candidates,
        "status": review.status.as_str(),
        "chosen_id": review.chosen_id,
        "decided_by": review.decided_by,
        "note": review.note,
        "created_ms": review.created_ms,
        "created": rfc3339(review.created_ms),
        "updated_ms": review.updated_ms,
        "updated": rfc3339(review.updated_ms),
        "decided_ms": review.decided_ms,
        "decided": review.decided_ms.and_then(rfc3339),
    })
}
