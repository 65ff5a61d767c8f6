//! `zoho-bridge approvals` as a person uses it: an agent's money tool left a pending
//! approval; `list` shows what it would do, `approve` queues its flow run (which a worker
//! then runs), `reject` runs nothing, a decision is never changed, and `show` tells how
//! it ended.

mod support;

use bridge::{
    actions::{self, FlowRequest},
    flows::now_ms,
    store::{AnyStore, JobStatus, RecordRef, Store},
};
use serde_json::json;
use support::{TempDir, json_lines, run_cli};

fn request(deal: &str) -> FlowRequest {
    FlowRequest {
        connection: "default".into(),
        flow: "deal_to_credit_note".into(),
        record: RecordRef::crm("Deals", deal),
        summary: format!("credit note for deal {deal}: 250.00 EUR"),
        args: json!({"deal_id": deal, "amount": "250.00"}),
    }
}

#[tokio::test]
async fn pending_approvals_are_listed_approved_and_rejected_from_the_shell() {
    let dir = TempDir::new("approvals");
    let db = dir.0.join("store.db").display().to_string();
    let store = AnyStore::connect(&db).await.expect("store");
    let yes = actions::request_approval(&store, "mcp:finance-agent", "issue_credit_note", &request("71"), now_ms()).await.unwrap();
    let no = actions::request_approval(&store, "mcp:finance-agent", "issue_credit_note", &request("72"), now_ms()).await.unwrap();

    let pending = json_lines(&run_cli(&["approvals", "list", "--store", &db]));
    let shown: Vec<_> = pending.iter().map(|a| (a["id"].as_i64().unwrap(), a["stage"].as_str().unwrap(), a["summary"].as_str().unwrap())).collect();
    assert_eq!(shown, [(yes, "pending", "credit note for deal 71: 250.00 EUR"), (no, "pending", "credit note for deal 72: 250.00 EUR")]);
    assert_eq!((pending[0]["tool"].as_str(), pending[0]["requested_by"].as_str()), (Some("issue_credit_note"), Some("mcp:finance-agent")));
    assert!(pending[0]["created"].as_str().is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()), "RFC 3339 beside the epoch ms: {}", pending[0]);

    let approved = json_lines(&run_cli(&["approvals", "approve", "--store", &db, &yes.to_string(), "--by", "ann"]));
    assert_eq!((approved[0]["stage"].as_str(), approved[0]["decided_by"].as_str()), (Some("queued"), Some("ann")));
    let job_id = approved[0]["job"]["id"].as_i64().expect("the queued job");
    let job = store.job(job_id).await.unwrap().unwrap();
    assert_eq!((job.flow.as_str(), job.status, job.record().unwrap()), ("deal_to_credit_note", JobStatus::Queued, RecordRef::crm("Deals", "71")));

    let rejected = json_lines(&run_cli(&["approvals", "reject", "--store", &db, &no.to_string(), "--by", "ann"]));
    assert_eq!((rejected[0]["stage"].as_str(), rejected[0]["job"].is_null()), (Some("rejected"), true));
    assert_eq!(store.jobs_with_status(JobStatus::Queued, 10).await.unwrap().len(), 1, "only the approved request runs");

    let again = run_cli(&["approvals", "reject", "--store", &db, &yes.to_string()]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("approval {yes} is already queued (by ann): a decision is never changed")),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let none = run_cli(&["approvals", "list", "--store", &db]);
    assert!(json_lines(&none).is_empty());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no pending approvals"));
    let shown = json_lines(&run_cli(&["approvals", "show", "--store", &db, &yes.to_string()]));
    assert_eq!(shown[0]["job"]["status"].as_str(), Some("queued"));
    let unknown = run_cli(&["approvals", "show", "--store", &db, "999"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no approval 999"));
    store.close().await;
}
