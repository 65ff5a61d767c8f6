//! `zoho-bridge approvals list|show|approve|reject`: the human in the loop from a shell.
//!
//! An agent's tool that moves money (a credit note, an invoice above the configured
//! amount) does not run: it leaves a pending approval. A person decides here or on the
//! dashboard; approving queues the flow run (a `serve` or `worker` on the same store runs
//! it), rejecting runs nothing. Both go through `bridge::actions`, as the dashboard and
//! the gateway do. Output is one JSON object per line; times as epoch ms and RFC 3339.

use bridge::{
    actions::{self, ApprovalState},
    flows::now_ms,
    store::ApprovalStatus,
};
use serde_json::{Value, json};

use crate::admin_cmd::{StoreArgs, operator, rfc3339};

/// The `approvals` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ApprovalsCommand {
    /// List approvals, oldest first (the pending ones unless --status says otherwise).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Which approvals.
        #[arg(long, value_enum, default_value_t = Which::Pending)]
        status: Which,
    },
    /// One approval: what it would run, who asked, and how it ended.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The approval's id.
        id: i64,
    },
    /// Allow it: its flow run is queued and runs at once.
    Approve {
        #[command(flatten)]
        store: StoreArgs,
        /// The approval's id.
        id: i64,
        /// Who decides (default: $USER, else `admin`).
        #[arg(long)]
        by: Option<String>,
    },
    /// Refuse it: nothing runs; the agent sees it rejected.
    Reject {
        #[command(flatten)]
        store: StoreArgs,
        /// The approval's id.
        id: i64,
        /// Who decides (default: $USER, else `admin`).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Which approvals `approvals list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Waiting for a person.
    Pending,
    /// Allowed.
    Approved,
    /// Refused.
    Rejected,
}

/// Runs one `approvals` subcommand.
pub async fn run(command: ApprovalsCommand) -> anyhow::Result<()> {
    match command {
        ApprovalsCommand::List { store, status } => {
            let store = store.open().await?;
            let status = match status {
                Which::Pending => ApprovalStatus::Pending,
                Which::Approved => ApprovalStatus::Approved,
                Which::Rejected => ApprovalStatus::Rejected,
            };
            let list = actions::approvals(&store, status).await?;
            if list.is_empty() {
                eprintln!("no {} approvals", serde_json::to_value(status)?.as_str().unwrap_or_default());
            }
            for state in &list {
                println!("{}", approval_json(state));
            }
        }
        ApprovalsCommand::Show { store, id } => {
            let store = store.open().await?;
            println!("{}", approval_json(&actions::approval_state(&store, id).await?));
        }
        ApprovalsCommand::Approve { store, id, by } => decide(store, id, true, by).await?,
        ApprovalsCommand::Reject { store, id, by } => decide(store, id, false, by).await?,
    }
    Ok(())
}

/// Decides approval `id` and prints it as decided.
async fn decide(store: StoreArgs, id: i64, approve: bool, by: Option<String>) -> anyhow::Result<()> {
    let store = store.open().await?;
    let state = actions::decide_approval(&store, id, approve, &by.unwrap_or_else(operator), now_ms()).await?;
    println!("{}", approval_json(&state));
    if approve {
        eprintln!("approval {id} approved: its {} run is queued; a serve or worker on this store runs it", state.request.flow);
    }
    Ok(())
}

/// An approval as one JSON object.
pub fn approval_json(state: &ApprovalState) -> Value {
    let a = &state.approval;
    let job = state.job.as_ref().map(|j| json!({"id": j.id, "status": j.status, "outcome": j.outcome, "error": j.last_error}));
    json!({
        "id": a.id,
        "stage": state.stage(),
        "tool": a.action,
        "requested_by": a.requested_by,
        "summary": state.request.summary,
        "flow": state.request.flow,
        "connection": state.request.connection,
        "record": {"system": state.request.record.system.as_str(), "module": state.request.record.module, "id": state.request.record.id},
        "args": state.request.args,
        "decided_by": a.decided_by,
        "created_ms": a.created_ms,
        "created": rfc3339(a.created_ms),
        "decided_ms": a.decided_ms,
        "decided": a.decided_ms.and_then(rfc3339),
        "job": job,
    })
}
