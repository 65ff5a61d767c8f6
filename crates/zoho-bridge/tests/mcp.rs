//! The agent gateway as an agent meets it, through an MCP client nobody here wrote: the
//! official MCP Python SDK (`mcp` on PyPI, installed by this test in a virtual
//! environment under `target/mcp-venv`, reused when present), running
//! `tests/mcp_client.py` against `serve`'s `/mcp` (streamable HTTP) and against
//! `zoho-bridge mcp` (stdio). The client lists the tools, calls a read tool, is refused a
//! write tool (its token has the read and money scopes only), and asks for an invoice
//! (a money tool) that waits for approval; this test approves it through
//! `bridge::actions` as the dashboard would, the client polls until the run is done, and
//! the invoice is then in the emulator's Books. Then it asks for the credit note of a
//! deal invoiced and lowered in CRM afterwards: over HTTP, a second request while the
//! first waits is refused, the approved one makes one credit note applied to the invoice,
//! and asking again ends `skipped` with the reason (nothing more to credit); over stdio,
//! the request is rejected and the agent sees `rejected` with nothing run. Every call is
//! in the audit.
//!
//! Without python3 (or pip, or PyPI) the test is skipped with a loud message, unless
//! `ZOHO_BRIDGE_TEST_PYTHON=required` (CI), where it fails.

mod support;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use bridge::store::{AnyStore, Store};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use zoho::{Client, books::ListQuery, crm::records::WriteOptions};
use zoho_emulator::{Emulator, EmulatorConfig};

use support::{Running, TempDir, crm_insert, wait_for, zoho_client};

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");
/// The SDK's major version the script is written for.
const MCP_PACKAGE: &str = "mcp>=2.3,<3";

/// The virtual environment's python with `mcp` installed, or `None` (skipped, said
/// loudly) when python3, venv or pip are not available and Python is not required.
fn python() -> Option<PathBuf> {
    let required = std::env::var("ZOHO_BRIDGE_TEST_PYTHON").is_ok_and(|v| v == "required");
    let unavailable = |why: String| -> Option<PathBuf> {
        assert!(!required, "ZOHO_BRIDGE_TEST_PYTHON=required but {why}");
        eprintln!("\n*** SKIPPED the MCP Python SDK test: {why} (set ZOHO_BRIDGE_TEST_PYTHON=required to make this a failure) ***\n");
        None
    };
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").to_path_buf();
    let venv = target.join("mcp-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        match Command::new("python3").args(["-m", "venv"]).arg(&venv).status() {
            Ok(s) if s.success() => {}
            Ok(s) => return unavailable(format!("`python3 -m venv {}` failed ({s})", venv.display())),
            Err(e) => return unavailable(format!("python3 cannot be run: {e}")),
        }
    }
    let has_mcp = |python: &Path| Command::new(python).args(["-c", "import mcp.client.streamable_http"]).status().is_ok_and(|s| s.success());
    if !has_mcp(&python) {
        let pip = Command::new(&python).args(["-m", "pip", "install", "--quiet", MCP_PACKAGE]).status();
        if !pip.as_ref().is_ok_and(|s| s.success()) || !has_mcp(&python) {
            return unavailable(format!("`pip install {MCP_PACKAGE}` in {} failed: {pip:?}", venv.display()));
        }
    }
    Some(python)
}

/// The Books invoices made for CRM deal `deal`.
async fn invoices_of(client: &Client, deal: &str) -> Vec<Value> {
    let all: Vec<Value> = client.books().list("/books/v3/invoices", "invoices", ListQuery::new()).try_collect().await.expect("invoices");
    all.into_iter().filter(|i| i["reference_number"] == deal).collect()
}

/// The Books credit notes made for CRM deal `deal` (their reference is `<deal>/<n>`).
async fn credit_notes_of(client: &Client, deal: &str) -> Vec<zoho::books::models::CreditNote> {
    let all: Vec<zoho::books::models::CreditNote> = client.books().credit_notes(ListQuery::new()).try_collect().await.expect("credit notes");
    let mut out = Vec::new();
    for note in all.into_iter().filter(|n| n.reference_number.as_deref().is_some_and(|r| r.starts_with(&format!("{deal}/")))) {
        out.push(client.books().credit_note(note.creditnote_id.as_deref().expect("id")).await.expect("the credit note"));
    }
    out
}

/// Queues deal `deal`'s invoice as a person's request (run by `serve`'s worker) and
/// waits for it; answers the Books invoice id.
async fn invoice_now(store_path: &Path, deal: &str) -> String {
    let store = AnyStore::connect(&store_path.display().to_string()).await.expect("store");
    let record = bridge::store::RecordRef::crm("Deals", deal);
    let queued = bridge::actions::run_flow_now(&store, "default", "deal_to_invoice", &record, "test", &format!("test:invoice:{deal}"), bridge::flows::now_ms())
        .await
        .expect("queued");
    let job_id = queued.job_id.expect("its job");
    let job = wait_for("the deal's invoice job to end", || async {
        let job = store.job(job_id).await.expect("job").expect("stored");
        matches!(job.status, bridge::store::JobStatus::Done | bridge::store::JobStatus::Skipped | bridge::store::JobStatus::Dead).then_some(job)
    })
    .await;
    assert_eq!(job.status, bridge::store::JobStatus::Done, "the deal's invoice: {job:?}");
    let link = store.link_by_crm("default", "deal_invoice", deal).await.expect("links").expect("the deal's invoice link");
    store.close().await;
    link.books_id
}

/// Runs the client script with `args` and the token; decides each approval it announces
/// as a person would, through `bridge::actions` (invoices approved, credit notes approved
/// when `approve_credits`, else rejected); returns its output once it ends well.
async fn run_agent(python: &Path, store_path: &Path, token: &str, args: &[&str], approve_credits: bool) -> String {
    let mut child = Running(
        Command::new(python)
            .arg(SCRIPT)
            .args(args)
            .env("ZOHO_BRIDGE_MCP_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let store_path = store_path.display().to_string();
    let handle = tokio::runtime::Handle::current();
    let (output, child) = tokio::task::spawn_blocking(move || {
        let mut output = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read the client's output");
            output.push_str(&line);
            output.push('\n');
            if let Some(id) = line.strip_prefix("APPROVAL ") {
                let id: i64 = id.trim().parse().expect("an approval id");
                handle.block_on(async {
                    let store = AnyStore::connect(&store_path).await.expect("store");
                    let pending = bridge::actions::approvals(&store, bridge::store::ApprovalStatus::Pending).await.expect("approvals");
                    let held = pending.iter().find(|a| a.approval.id == id).unwrap_or_else(|| panic!("approval {id} is not pending: {pending:?}"));
                    assert_eq!(held.approval.requested_by, "mcp:agent", "{held:?}");
                    let approve = match held.request.flow.as_str() {
                        "deal_to_invoice" => true,
                        "deal_to_credit_note" => approve_credits,
                        other => panic!("an approval for {other}: {held:?}"),
                    };
                    bridge::actions::decide_approval(&store, id, approve, "finance-lead", bridge::flows::now_ms()).await.expect("decide");
                    store.close().await;
                });
            }
        }
        (output, child)
    })
    .await
    .expect("reading the client");
    let mut child = child;
    let status = child.0.wait().expect("wait");
    assert!(status.success() && output.contains("\nOK\n"), "the MCP client failed ({status}):\n{output}");
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_python_sdk_reads_is_refused_gets_approved_invoices_and_one_credit_note_and_sees_a_rejection() {
    let Some(python) = python() else { return };
    zoho_emulator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig::unlimited(), 0).await.expect("emulator");
    let zoho = zoho_client(&emulator).await;
    let account = crm_insert(&zoho, "Accounts", json!({"Account_Name": "Gatewaytest Ltd", "Billing_Country": "US", "Billing_State": "CA"})).await;
    let deal = |name: &str| json!({"Deal_Name": name, "Stage": "Closed Won", "Amount": 120.0, "Account_Name": {"id": account}});
    let over_http = crm_insert(&zoho, "Deals", deal("Over HTTP")).await;
    let over_stdio = crm_insert(&zoho, "Deals", deal("Over stdio")).await;
    let to_credit = crm_insert(&zoho, "Deals", deal("To credit")).await;

    let dir = TempDir::new("mcp");
    let store_path = dir.0.join("bridge.db");
    let config = dir.file(
        "zoho-bridge.toml",
        &format!(
            "store = \"{}\"\nlisten = \"127.0.0.1:0\"\n\n[zoho]\nemulator = \"{}\"\n\n[worker]\npoll_ms = 50\n\n# Every invoice an agent asks for waits for a person.\n[mcp]\napproval_above = 0\n\n# Sent invoices take credit notes.\n[flows.deal_to_invoice]\nmark_sent = true\n",
            store_path.display(),
            emulator.url()
        ),
    );
    AnyStore::connect(&store_path.display().to_string()).await.expect("create the store").close().await;
    let made =
        Command::new(BIN).args(["tokens", "create", "--name", "agent", "--scope", "read,money", "--config"]).arg(&config).output().expect("tokens create");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let made: Value = serde_json::from_slice(&made.stdout).expect("one JSON line");
    let token = made["token"].as_str().expect("the token").to_string();
    let listed = Command::new(BIN).args(["tokens", "list", "--config"]).arg(&config).output().expect("tokens list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("\"agent\"") && !listed.contains(&token), "listed without its secret: {listed}");

    let mut serve = Running(Command::new(BIN).args(["serve", "--config"]).arg(&config).env("RUST_LOG", "warn").stdout(Stdio::piped()).spawn().expect("serve"));
    let mut line = String::new();
    let mut out = BufReader::new(serve.0.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("read");
    // The rest of serve's output, passed on (serve no longer dies of a closed pipe, but
    // its lines belong in the test's log).
    std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| eprintln!("serve: {l}")));
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    let url = format!("{base}/mcp");

    // No token, or a wrong one: refused before any MCP.
    let http = reqwest::Client::new();
    let refused = http.post(&url).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).send().await.expect("post");
    assert_eq!(refused.status(), 401);
    let refused = http.post(&url).bearer_auth("zbt_wrong").json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).send().await.expect("post");
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("unknown or revoked"));

    // The deal to credit is invoiced (as "create the invoice now" does), then its Amount
    // is lowered in CRM with no webhook: only the agent's request credits it.
    let invoice = invoice_now(&store_path, &to_credit).await;
    zoho.crm().update("Deals", &[json!({"id": to_credit, "Amount": 90.0})], &WriteOptions::no_triggers()).await.expect("lower the deal");

    let http_args =
        ["--transport", "http", "--url", &url, "--deal", &over_http, "--customer", "Gatewaytest", "--credit-deal", &to_credit, "--credit-asks", "2"];
    let output = run_agent(&python, &store_path, &token, &http_args, true).await;
    assert!(output.contains("REFUSED write") && output.contains("FINISHED done"), "{output}");
    let made = invoices_of(&zoho, &over_http).await;
    assert_eq!(made.len(), 1, "one invoice for the deal asked for over HTTP: {made:?}");
    assert!(output.contains(made[0]["invoice_id"].as_str().unwrap()), "the agent was told the invoice: {output}");
    assert!(output.contains("CREDIT DUPLICATE refused"), "{output}");
    let notes = credit_notes_of(&zoho, &to_credit).await;
    assert_eq!(notes.len(), 1, "one credit note: {notes:?}");
    let note_id = notes[0].creditnote_id.clone().expect("its id");
    assert_eq!(notes[0].total, Some("30".parse().unwrap()), "120 invoiced, 90 now: {:?}", notes[0]);
    let applied = notes[0].extra.get("invoices").and_then(Value::as_array).cloned().unwrap_or_default();
    assert!(applied.iter().any(|a| a["invoice_id"] == invoice.as_str()), "applied to the invoice: {:?}", notes[0]);
    let after = zoho.books().invoice(&invoice).await.expect("the invoice");
    assert_eq!((after.credits_applied, after.balance), (Some("30".parse().unwrap()), Some("90".parse().unwrap())));
    assert!(output.contains(&format!("CREDIT 0 done {note_id} ")), "the agent was told the credit note: {output}");
    let second = output.lines().find(|l| l.starts_with("CREDIT 1 ")).unwrap_or_default();
    assert!(second.starts_with("CREDIT 1 skipped - job=") && second.contains(":: nothing to credit: CRM deal"), "asked again: {output}");

    // Lowered once more, asked over stdio, and rejected: the agent sees it, nothing runs.
    zoho.crm().update("Deals", &[json!({"id": to_credit, "Amount": 60.0})], &WriteOptions::no_triggers()).await.expect("lower the deal again");
    let config_arg = config.display().to_string();
    let output = run_agent(
        &python,
        &store_path,
        &token,
        &["--transport", "stdio", "--bridge", BIN, "--config", &config_arg, "--deal", &over_stdio, "--customer", "Gatewaytest", "--credit-deal", &to_credit],
        false,
    )
    .await;
    assert!(output.contains("FINISHED done"), "{output}");
    assert_eq!(invoices_of(&zoho, &over_stdio).await.len(), 1, "one invoice for the deal asked for over stdio");
    assert!(output.contains("CREDIT 0 rejected - job=none :: \n"), "{output}");
    assert_eq!(credit_notes_of(&zoho, &to_credit).await.len(), 1, "the rejected request made nothing");

    // Every call is audited under the token's name, the refusal too.
    let store = AnyStore::connect(&store_path.display().to_string()).await.expect("store");
    let calls = store.audit_by_action("mcp_call", 1000).await.expect("audit");
    assert!(calls.iter().all(|c| c.actor == "mcp:agent"), "{calls:?}");
    let refusals: Vec<_> = calls.iter().filter(|c| c.module == "sync_record").collect();
    assert_eq!(refusals.len(), 2, "one refusal per transport");
    assert!(refusals.iter().all(|c| !c.ok && c.response["error"].as_str().unwrap().contains("needs the write scope")));
    for tool in ["find_customer", "create_invoice_for_deal", "approval_status"] {
        assert!(calls.iter().any(|c| c.module == tool && c.ok), "{tool} audited");
    }
    let asked = calls.iter().find(|c| c.module == "create_invoice_for_deal" && c.record_id.as_deref() == Some(over_http.as_str())).expect("the HTTP request");
    assert_eq!(asked.request, json!({"deal_id": over_http}));
    assert_eq!(asked.response["result"]["status"], "pending_approval");

    // A revoked token opens nothing, from the next request on.
    let revoked = Command::new(BIN).args(["tokens", "revoke", "agent", "--config"]).arg(&config).output().expect("revoke");
    assert!(revoked.status.success());
    let refused = http.post(&url).bearer_auth(&token).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).send().await.expect("post");
    assert_eq!(refused.status(), 401);
    store.close().await;
    drop(serve);
}
