//! The demo's scripted session, checked step by step against the emulator with Zoho's
//! default limits: token refresh, a CRM list of 250 new records paged to the end, an
//! upsert that finds its duplicate, two taxed Books invoices whose totals follow Books'
//! rules, payments to partially_paid then paid, the clock moving an invoice to overdue
//! with its webhook, the engine syncing the seeded CRM products to Books items through
//! a SQLite store, customer_sync linking a duplicate, the order-to-cash story told by
//! the engine with its webhooks (check --online's missing fields created, a closed deal's
//! invoice, an accepted quote's draft, a partial payment on the deal, an overdue task, a
//! lost deal's credit note, a deal with no tax rule dead-lettered then replayed), and a
//! 429 once the per-minute budget is spent; the engine left serving as `serve` does, with
//! an agent's invoice request through the MCP gateway waiting for a person's approval and
//! made once approved. And the binary's ending: with `--exit` it
//! invites nobody to a port it closes, and neither that nor Ctrl-C leaves the store
//! behind.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use bridge::{actions, flows::now_ms, store::Store};
use rust_decimal::Decimal;
use zoho_bridge::demo::{ScratchDir, finale, walk_through};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
use zoho_emulator::{Emulator, EmulatorConfig};

#[tokio::test]
async fn the_scripted_session_shows_every_behaviour() {
    let emu = Emulator::start(EmulatorConfig::default(), 0).await.unwrap();
    let scratch = ScratchDir::new().unwrap();
    let seen = walk_through(&emu.url(), scratch.path(), false).await.unwrap();

    assert_eq!(seen.token_expires_in, 3600);
    assert_eq!(seen.inserted, 250);
    assert!(seen.listed >= 250, "{seen:?}");
    assert_eq!(seen.pages, seen.listed.div_ceil(100), "{seen:?}");
    assert_eq!(seen.upsert, ("update".to_string(), "Email".to_string()));

    // Item-level discounts: 300 − 10% = 270.00 and 99.98 − 5 = 94.98; 10% tax on each
    // discounted line: 27.00 + 9.498 → 36.50.
    assert_eq!(seen.item_level, ("364.98".into(), "36.5".into(), "401.48".into()));
    // 5% entity discount before tax on 351.00 = 17.55; tax 10% of 333.45 = 33.345 → 33.35
    // (half away from zero); total 351.00 − 17.55 + 33.35 = 366.80.
    assert_eq!(seen.entity_level, ("351".into(), "17.55".into(), "33.35".into(), "366.8".into()));

    assert_eq!(seen.statuses_after_payments, ("partially_paid".to_string(), "paid".to_string()));
    assert_eq!(seen.status_after_clock, "overdue");
    assert!(seen.overdue_webhook_received);
    // The engine: every seeded product polled, synced once, linked; nothing new after.
    let (polled, done, links, again) = seen.engine;
    assert!(polled >= 10, "{seen:?}");
    assert_eq!((done as usize, links, again), (polled, polled, 0), "{seen:?}");
    assert!(std::path::Path::new(&seen.store).starts_with(scratch.path()) && std::path::Path::new(&seen.store).exists());
    // Customers: the duplicate spelled differently was linked, not created; the Books
    // edit reached CRM.
    let (linked, existing, _rule, before, after) = &seen.duplicate;
    assert_eq!(linked, existing, "{seen:?}");
    assert_eq!(before, after, "no Books customer created: {seen:?}");
    assert_eq!(seen.books_edit.0, seen.books_edit.1, "{seen:?}");
    assert!(seen.throttled.0 < 100, "{seen:?}");
    let reset: u32 = seen.throttled.1.parse().expect("X-Rate-Limit-Reset is a number of seconds");
    assert!((1..=60).contains(&reset));

    // Order to cash. check --online named the four payment fields CRM lacked; created as
    // it advised, nothing is left.
    let o = &seen.order;
    let mut missing = o.checked.0.clone();
    missing.sort();
    assert_eq!(missing, ["Accounts.Last_Payment_Date", "Accounts.Outstanding_Balance", "Deals.Balance_Due", "Deals.Last_Payment_Date"], "{o:#?}");
    assert_eq!(o.checked.1, Vec::<String>::new());
    // The closed deal's invoice: 2 × 1,250.00 + 199.99, California's 8.25 % per line
    // (206.25 + 16.50), marked sent, its id written back to the deal.
    let c = &o.closed;
    assert_eq!((c.customer.as_str(), c.status.as_str()), ("Contoso Coffee Roasters", "sent"), "{c:#?}");
    let lines = vec![
        ("Espresso Machine E61".to_string(), d("2"), d("1250"), "Sales Tax".to_string()),
        ("Service Plan (1 year)".to_string(), d("1"), d("199.99"), "Sales Tax".to_string()),
    ];
    assert_eq!(c.lines, lines);
    assert_eq!(c.totals, (d("2699.99"), d("222.75"), d("2922.74")));
    assert_eq!(c.written_back, c.invoice_id);
    assert!(c.took_ms >= 0, "the event was stored before its job was done: {c:#?}");
    // The accepted quote's draft: 1,250.00 less 125.00 and 2 × 199.99, taxed per line
    // (92.81 + 33.00); Books' total is the quote's Grand_Total.
    let q = &o.quoted;
    assert_eq!(q.status, "draft");
    let lines = vec![
        ("Espresso Machine E61".to_string(), d("1"), d("1250"), d("125"), "Sales Tax".to_string()),
        ("Service Plan (1 year)".to_string(), d("2"), d("199.99"), d("0"), "Sales Tax".to_string()),
    ];
    assert_eq!(q.lines, lines);
    assert_eq!((q.total, q.grand_total), (d("1650.79"), d("1650.79")));
    assert_eq!(q.written_back, q.invoice_id);
    assert_ne!(q.invoice_id, c.invoice_id);
    // 1,000.00 paid: the deal shows it.
    let p = &o.paid;
    assert_eq!(p.invoice, ("partially_paid".to_string(), d("1922.74")));
    assert_eq!(p.deal, (d("1000"), d("1922.74"), "Partially Paid".to_string()));
    // 31 days on: overdue, one task for the account owner on the deal.
    let t = &o.overdue;
    assert_eq!((t.days_moved, t.invoice_status.as_str(), t.tasks), (31, "overdue", 1), "{t:#?}");
    assert!(t.subject.starts_with(&format!("Overdue invoice {}: USD 1,922.74 owed, ", c.invoice_number)), "{t:#?}");
    assert_eq!(t.owners.0, t.owners.1, "the account owner's task");
    assert_eq!(t.linked_to, ("Deals".to_string(), c.deal_id.clone()));
    assert_eq!((t.status.as_str(), t.deal_status.as_str()), ("Not Started", "Overdue"));
    // Lost: the unpaid 1,922.74 credited and applied; the invoice settled, its task done.
    let l = &o.lost;
    assert_eq!((l.unpaid_before, l.credit_note.1), (d("1922.74"), d("1922.74")), "{l:#?}");
    assert!(l.credit_note.0.starts_with("CN-"), "{l:#?}");
    assert_eq!(l.applied_to, vec![c.invoice_id.clone()]);
    assert_eq!(l.invoice, ("paid".to_string(), Decimal::ZERO));
    assert_eq!(l.task_status, "Completed");
    // No tax rule for Brazil: dead-lettered naming what no rule covers, no invoice; the
    // rule added and the job replayed: 1,250.00 + 20 % VAT.
    let n = &o.no_rule;
    assert!(n.dead.1.contains("no tax rule matches billing country \"Brazil\", state \"SP\""), "{n:#?}");
    assert_eq!(n.invoices_while_dead, 0);
    assert_eq!((n.rule.as_str(), n.invoice.1.as_str(), n.invoice.2), ("Brazil", "VAT", d("1500")), "{n:#?}");
    assert_eq!(n.dead_after, 0);

    assert_eq!(seen.problems(), Vec::<String>::new());
    assert_eq!(seen.steps, 16);

    // The end: the engine serving as `serve` does, and an agent's call waiting for a
    // person. Nothing is invoiced until the approval; once approved (as the dashboard's
    // button does), the worker makes the invoice.
    let finale = finale::start(&emu.url(), scratch.path(), &seen.store, 17, false).await.unwrap();
    let agent = finale.agent.clone();
    assert_eq!(agent.problems(), Vec::<String>::new(), "{agent:#?}");
    assert_eq!((agent.tools, agent.answer["status"].as_str(), agent.stage.as_str()), (14, Some("pending_approval"), "pending"), "{agent:#?}");
    assert!(agent.answer["summary"].as_str().unwrap().contains("18750"), "{agent:#?}");
    let http = reqwest::Client::new();
    let login = http.get(format!("{}login", finale.dashboard)).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let page = login.text().await.unwrap();
    assert!(page.contains("zoho-bridge") && !page.contains(&finale.login_token), "the login page shows no token");
    let store = finale.server.store.clone();
    let approved = actions::decide_approval(&store, agent.approval_id, true, "dashboard:newcomer", now_ms()).await.unwrap();
    assert_eq!(approved.request.record.id, agent.deal_id);
    let mut invoice = None;
    for _ in 0..600 {
        invoice = store.link_by_crm("default", "deal_invoice", &agent.deal_id).await.unwrap().map(|l| l.books_id);
        if invoice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let invoice = invoice.expect("the approved invoice is made by the worker");
    let state = actions::approval_state(&store, agent.approval_id).await.unwrap();
    assert!(matches!(state.stage(), "running" | "done"), "{:?}", state.job);
    assert!(!invoice.is_empty());
    finale.stop().await.unwrap();
    emu.stop().await;
    let dir = scratch.path().to_path_buf();
    drop(scratch);
    assert!(!dir.exists(), "the scratch directory goes with its store");
}

const BIN: &str = env!("CARGO_BIN_EXE_zoho-bridge");

/// The store's path, from the step that names it (`the engine (SQLite store /tmp/…)`).
fn store_named_in(stdout: &str) -> std::path::PathBuf {
    let after = stdout.split("(SQLite store ").nth(1).expect("step 7 names the store");
    after.split(')').next().unwrap().into()
}

#[test]
fn with_exit_it_invites_nobody_to_a_closed_port_and_leaves_no_store() {
    let out = Command::new(BIN).args(["demo", "--exit"]).env("RUST_LOG", "error").output().expect("run zoho-bridge demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("All 17 steps behaved as they should."), "{stdout}");
    assert!(
        !stdout.contains("curl") && !stdout.contains("Press Ctrl-C") && !stdout.contains("zoho-bridge status --store"),
        "nothing to reach after --exit: {stdout}"
    );
    assert!(stdout.contains("without --exit"), "says how to look around: {stdout}");
    let store = store_named_in(&stdout);
    assert!(!store.exists() && !store.parent().unwrap().exists(), "{} is left behind", store.display());
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_serving_removes_the_store() {
    let mut child = Command::new(BIN).args(["demo"]).env("RUST_LOG", "error").stdout(Stdio::piped()).spawn().expect("run zoho-bridge demo");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("Press Ctrl-C to stop.") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the demo ended before serving: {seen}");
        seen.push_str(&line);
    }
    let store = store_named_in(&seen);
    assert!(store.exists(), "the store is there to look into while the demo serves");
    assert!(seen.contains("curl "), "and the emulator is there to reach: {seen}");
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("the demo's store is removed"), "{rest}");
    assert!(!store.parent().unwrap().exists(), "{} is left behind after Ctrl-C", store.display());
}
