//! `zoho-bridge demo`: the built-in emulator with seeded data, and a scripted walk
//! through what it does, over real HTTP, the way a client of Zoho sees it.
//!
//! The walk-through returns what it observed so a test can check every step; the binary
//! prints it, and says every step behaved only when [`Observations::problems`] finds
//! nothing wrong. Secrets (client secret, refresh and access tokens) are never printed.
//! The engine's SQLite store lives in a [`ScratchDir`], removed when the demo ends,
//! fails or is interrupted with Ctrl-C: a run leaves nothing behind.
//! The order-to-cash story, told by the engine with its webhooks, is in
//! [`order_to_cash`].

pub mod finale;
pub mod order_to_cash;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

/// What the walk-through saw, step by step.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// `expires_in` of the refreshed access token.
    pub token_expires_in: i64,
    /// CRM Contacts inserted for the paging step.
    pub inserted: usize,
    /// Pages walked and records listed.
    pub pages: usize,
    /// Records listed in total.
    pub listed: usize,
    /// `action` and `duplicate_field` of the upsert that met an existing e-mail.
    pub upsert: (String, String),
    /// Books totals of the item-level-discount invoice: (sub_total, tax_total, total).
    pub item_level: (String, String, String),
    /// Books totals of the before-tax entity-discount invoice: (sub_total, discount_total, tax_total, total).
    pub entity_level: (String, String, String, String),
    /// Invoice status after the first and the second payment.
    pub statuses_after_payments: (String, String),
    /// Invoice status after the clock moved past its due date.
    pub status_after_clock: String,
    /// The `invoice.overdue` webhook arrived at our receiver.
    pub overdue_webhook_received: bool,
    /// The engine: CRM products the poller put in the inbox, jobs done, ID links, and
    /// what a second poll added.
    pub engine: (usize, u64, usize, usize),
    /// The engine's SQLite store.
    pub store: String,
    /// One synced product: (CRM product id, Books item id).
    pub sample: (String, String),
    /// Customers: the Books contact a CRM account spelled differently was linked to, the
    /// one that already existed, the rule that matched, and Books customers before and
    /// after (a link, not a create).
    pub duplicate: (String, String, String, usize, usize),
    /// The billing street a Books edit gave, and the CRM account's after the sync.
    pub books_edit: (String, String),
    /// Books calls answered before the first 429, and that 429's `X-Rate-Limit-Reset`.
    pub throttled: (usize, String),
    /// The order-to-cash story.
    pub order: order_to_cash::OrderToCash,
    /// Steps told.
    pub steps: usize,
}

impl Observations {
    /// What did not behave as it should, one sentence each (empty: every step did). The
    /// checks hold whatever the seed; the demo's test checks the exact figures too.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                out.push(what);
            }
        };
        check(self.token_expires_in > 0, format!("the token lives {} s", self.token_expires_in));
        check(self.listed >= self.inserted && self.pages == self.listed.div_ceil(100), format!("listed {} in {} pages", self.listed, self.pages));
        check(self.upsert == ("update".into(), "Email".into()), format!("the upsert answered {:?}", self.upsert));
        check(self.statuses_after_payments == ("partially_paid".into(), "paid".into()), format!("payments gave {:?}", self.statuses_after_payments));
        check(self.status_after_clock == "overdue" && self.overdue_webhook_received, "the invoice did not go overdue with its webhook".into());
        let (polled, done, links, again) = self.engine;
        check(polled > 0 && done as usize == polled && links == polled && again == 0, format!("the engine: {:?}", self.engine));
        check(self.duplicate.0 == self.duplicate.1 && self.duplicate.3 == self.duplicate.4, format!("customer_sync: {:?}", self.duplicate));
        check(self.books_edit.0 == self.books_edit.1, format!("the Books edit reached CRM as {:?}", self.books_edit.1));
        check(self.throttled.1.parse::<u32>().is_ok_and(|s| (1..=60).contains(&s)), format!("the 429: {:?}", self.throttled));
        let o = &self.order;
        check(!o.checked.0.is_empty() && o.checked.1.is_empty(), format!("check --online: {:?}", o.checked));
        let c = &o.closed;
        check(
            !c.invoice_id.is_empty() && c.written_back == c.invoice_id,
            format!("the closed deal's invoice {:?} is not on the deal ({:?})", c.invoice_id, c.written_back),
        );
        check(c.totals.0 + c.totals.1 == c.totals.2 && c.status == "sent", format!("the closed deal's invoice: {c:?}"));
        let q = &o.quoted;
        check(q.status == "draft" && !q.lines.is_empty() && q.written_back == q.invoice_id, format!("the accepted quote's invoice: {q:?}"));
        check(q.total == q.grand_total && q.total > Decimal::ZERO, format!("the draft's total {} is not the quote's Grand_Total {}", q.total, q.grand_total));
        let p = &o.paid;
        check(p.deal == (p.amount, c.totals.2 - p.amount, "Partially Paid".into()), format!("the deal shows the payment as {:?}", p.deal));
        let d = &o.overdue;
        check(d.invoice_status == "overdue" && d.tasks == 1, format!("overdue: invoice {}, {} tasks", d.invoice_status, d.tasks));
        check(d.owners.0 == d.owners.1 && d.linked_to == ("Deals".into(), c.deal_id.clone()), format!("the task: {d:?}"));
        let l = &o.lost;
        check(l.credit_note.1 == l.unpaid_before && l.applied_to == [c.invoice_id.clone()], format!("the credit note: {l:?}"));
        check(l.invoice == ("paid".into(), Decimal::ZERO) && l.task_status == "Completed", format!("after the credit note: {l:?}"));
        let n = &o.no_rule;
        check(n.dead.1.contains("no tax rule matches") && n.invoices_while_dead == 0, format!("the deal with no tax rule: {:?}", n.dead));
        check(!n.invoice.0.is_empty() && n.dead_after == 0, format!("after the replay: {n:?}"));
        out
    }
}

/// The demo's scratch directory (the engine's SQLite store), removed with everything in
/// it when dropped: when the demo ends, fails, or is interrupted.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new() -> anyhow::Result<ScratchDir> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("zoho-bridge-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the emulator, runs the walk-through, prints it, and serves until Ctrl-C
/// (or returns at once with `exit`). The store is removed when it returns, also after
/// Ctrl-C during the walk-through.
pub async fn run(port: u16, seed: u64, exit: bool) -> anyhow::Result<()> {
    let scratch = ScratchDir::new()?;
    let config = EmulatorConfig { seed, ..EmulatorConfig::default() };
    let emulator = Emulator::start(config, port).await.context("starting the emulator")?;
    println!("Zoho emulator (Accounts, CRM v8, Books v3) listening on {}\n", emulator.url());
    let url = emulator.url();
    let seen = tokio::select! {
        seen = walk_through(&url, scratch.path(), true) => seen?,
        _ = tokio::signal::ctrl_c() => {
            emulator.stop().await;
            println!("\nInterrupted: the emulator is stopped and the demo's store removed.");
            return Ok(());
        }
    };
    let problems = seen.problems();
    if !problems.is_empty() {
        emulator.stop().await;
        bail!("{} of the demo's checks failed:\n  {}", problems.len(), problems.join("\n  "));
    }
    // The end of the story: the engine left serving, and an agent's call waiting.
    let finale = finale::start(&url, scratch.path(), &seen.store, seen.steps + 1, true).await?;
    let problems = finale.agent.problems();
    if !problems.is_empty() {
        finale.stop().await?;
        emulator.stop().await;
        bail!("{} of the demo's checks failed:\n  {}", problems.len(), problems.join("\n  "));
    }
    println!("\nAll {} steps behaved as they should.\n", seen.steps + 1);
    tracing::debug!(?seen, agent = ?finale.agent, "demo observations");
    if exit {
        // Nothing is left to look into: the engine and the emulator stop and the store goes now.
        finale.stop().await?;
        emulator.stop().await;
        println!("The engine and the emulator are stopped and the demo's store removed (--exit). Run `zoho-bridge demo` without --exit to look into them.");
        return Ok(());
    }
    let base = format!("http://{}", finale.server.addr);
    println!("The engine keeps serving on the demo's store, as `zoho-bridge serve` would:");
    println!("  dashboard    {}  (log in with the token {})", finale.dashboard, finale.login_token);
    println!(
        "               approval {} waits under Approvals: approve it and the worker makes the invoice of \"{}\"",
        finale.agent.approval_id,
        finale::DEAL_NAME
    );
    println!("  metrics      {base}/metrics   health {base}/healthz and {base}/readyz");
    println!("  MCP gateway  {base}/mcp  (header Authorization: Bearer {})", finale.agent_token);
    println!("  its config   {}", scratch.path().join("zoho-bridge.toml").display());
    println!("Look into the engine's store while the demo runs (it is removed when the demo stops):");
    println!("  zoho-bridge status --store {}", seen.store);
    println!("  zoho-bridge events --store {} crm Products {}", seen.store, seen.sample.0);
    println!("  zoho-bridge audit --store {} books items {}", seen.store, seen.sample.1);
    println!("  zoho-bridge audit --store {} books contacts {}", seen.store, seen.duplicate.0);
    println!("  zoho-bridge review list --store {} --status all", seen.store);
    println!("  zoho-bridge audit --store {} books invoices {}", seen.store, seen.order.closed.invoice_id);
    println!("  zoho-bridge events --store {} crm Deals {}", seen.store, seen.order.no_rule.deal_id);
    println!(
        "  zoho-bridge approvals list --store {}      (or approve it here: zoho-bridge approvals approve {} --store {})",
        seen.store, finale.agent.approval_id, seen.store
    );
    println!("Reach the emulator yourself:");
    println!("  curl {}/__emulator/credentials", emulator.url());
    println!("  then POST {}/oauth/v2/token with grant_type=refresh_token,", emulator.url());
    println!("  and call {}/crm/v8/... and {}/books/v3/...?organization_id=...", emulator.url(), emulator.url());
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    finale.stop().await?;
    emulator.stop().await;
    println!("Stopped: the demo's store is removed.");
    Ok(())
}

/// A tiny authenticated client for the walk-through.
struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
    org: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let url = if path.starts_with("/books/") {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{}{path}{sep}organization_id={}", self.base, self.org)
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.http.request(method, &url).header("Authorization", &self.auth);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.with_context(|| format!("calling {path}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok((status, value))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }
}

/// Numbers the steps as they are told, so the numbering and the count in the last line
/// cannot drift apart.
pub struct Steps {
    verbose: bool,
    told: usize,
}

impl Steps {
    fn new(verbose: bool) -> Steps {
        Steps { verbose, told: 0 }
    }

    /// The next step, in one line.
    fn say(&mut self, line: String) {
        self.told += 1;
        if self.verbose {
            println!("{}. {line}", self.told);
        }
    }

    /// The next step, in parts: `4a.`, `4b.`, …
    fn say_parts(&mut self, lines: &[String]) {
        self.told += 1;
        for (line, letter) in lines.iter().zip('a'..='z') {
            if self.verbose {
                println!("{}{letter}. {line}", self.told);
            }
        }
    }

    /// One more line of the current step.
    fn more(&self, line: String) {
        if self.verbose {
            println!("   {line}");
        }
    }
}

/// A JSON number or string as an exact decimal.
fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An exact decimal as the JSON number Zoho expects (its digits are kept as written).
fn money(d: Decimal) -> Value {
    serde_json::Number::from_str(&d.normalize().to_string()).map(Value::Number).unwrap_or(Value::Null)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Runs every step against the emulator at `base`, with the engine's store in `dir`.
pub async fn walk_through(base: &str, dir: &Path, verbose: bool) -> anyhow::Result<Observations> {
    use reqwest::Method;
    let mut seen = Observations::default();
    let mut steps = Steps::new(verbose);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;

    // 1. OAuth: the refresh-token grant, as after registering a self-client.
    let creds = testkit::credentials(&http, base).await?;
    let token = testkit::refresh(&http, &creds).await?;
    let access = token["access_token"].as_str().ok_or_else(|| anyhow!("no access_token in {token}"))?;
    seen.token_expires_in = token["expires_in"].as_i64().unwrap_or_default();
    steps.say(format!("token refreshed: a Bearer token for {} s, api_domain {}", seen.token_expires_in, token["api_domain"]));
    let mut api = Api { http: http.clone(), base: base.to_string(), auth: testkit::auth_header(access), org: creds.organization_id.clone() };

    // 2. A CRM list of 250 new records, paged to the end.
    for batch in 0..3 {
        let rows: Vec<Value> = (0..100)
            .map(|i| batch * 100 + i)
            .filter(|n| *n < 250)
            .map(|n| json!({"Last_Name": format!("Walkthrough {n:03}"), "Email": format!("walk{n:03}@example.com")}))
            .collect();
        seen.inserted += rows.len();
        api.ok(Method::POST, "/crm/v8/Contacts", Some(json!({"data": rows}))).await?;
    }
    let mut page = 1;
    loop {
        let (status, body) = api.call(Method::GET, &format!("/crm/v8/Contacts?fields=Last_Name,Email&per_page=100&page={page}"), None).await?;
        if status == 204 {
            break;
        }
        if status != 200 {
            bail!("listing Contacts page {page}: {status} {body}");
        }
        seen.pages += 1;
        seen.listed += body["data"].as_array().map_or(0, Vec::len);
        if body["info"]["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    steps.say(format!("inserted {} CRM Contacts; listed {} in {} pages of 100", seen.inserted, seen.listed, seen.pages));

    // 3. An upsert that finds the duplicate by e-mail.
    let up = api
        .ok(
            Method::POST,
            "/crm/v8/Contacts/upsert",
            Some(json!({"data": [{"Last_Name": "Walkthrough 007 (updated)", "Email": "walk007@example.com"}], "duplicate_check_fields": ["Email"]})),
        )
        .await?;
    seen.upsert = (text(&up["data"][0]["action"]), text(&up["data"][0]["duplicate_field"]));
    steps.say(format!("upsert by Email: action {}, duplicate_field {}", seen.upsert.0, seen.upsert.1));

    // 4. Two taxed Books invoices.
    let taxes = api.ok(Method::GET, "/books/v3/settings/taxes", None).await?;
    let tax = taxes["taxes"]
        .as_array()
        .and_then(|t| t.iter().find(|t| decimal(&t["tax_percentage"]) == Some(Decimal::TEN)))
        .ok_or_else(|| anyhow!("no 10% tax in {taxes}"))?;
    let tax_id = text(&tax["tax_id"]);
    let customer = api.ok(Method::POST, "/books/v3/contacts", Some(json!({"contact_name": "Walkthrough Traders Ltd", "contact_type": "customer"}))).await?;
    let customer_id = text(&customer["contact"]["contact_id"]);
    let a = api
        .ok(
            Method::POST,
            "/books/v3/invoices",
            Some(json!({
                "customer_id": customer_id, "discount_type": "item_level", "payment_terms": 15,
                "line_items": [
                    {"name": "Consulting", "rate": 100.00, "quantity": 3, "discount": "10%", "tax_id": tax_id},
                    {"name": "Licence", "rate": 49.99, "quantity": 2, "discount": 5, "tax_id": tax_id}
                ]
            })),
        )
        .await?;
    let a = &a["invoice"];
    seen.item_level = (text(&a["sub_total"]), text(&a["tax_total"]), text(&a["total"]));
    let line_discounts = format!(
        "invoice {} with line discounts: sub_total {}, tax {}, total {}",
        text(&a["invoice_number"]),
        seen.item_level.0,
        seen.item_level.1,
        seen.item_level.2
    );
    let b = api
        .ok(
            Method::POST,
            "/books/v3/invoices",
            Some(json!({
                "customer_id": customer_id, "discount_type": "entity_level", "discount": "5%",
                "is_discount_before_tax": true, "payment_terms": 15,
                "line_items": [
                    {"name": "Hardware", "rate": 200.00, "quantity": 1, "tax_id": tax_id},
                    {"name": "Support", "rate": 75.50, "quantity": 2, "tax_id": tax_id}
                ]
            })),
        )
        .await?;
    let b = &b["invoice"];
    seen.entity_level = (text(&b["sub_total"]), text(&b["discount_total"]), text(&b["tax_total"]), text(&b["total"]));
    let entity_discount = format!(
        "invoice {} with a 5% discount before tax: sub_total {}, discount {}, tax {}, total {}",
        text(&b["invoice_number"]),
        seen.entity_level.0,
        seen.entity_level.1,
        seen.entity_level.2,
        seen.entity_level.3
    );
    steps.say_parts(&[line_discounts, entity_discount]);

    // 5. Payments: partially paid, then paid.
    let a_id = text(&a["invoice_id"]);
    api.ok(Method::POST, &format!("/books/v3/invoices/{a_id}/status/sent"), None).await?;
    let total = decimal(&a["total"]).ok_or_else(|| anyhow!("invoice total missing: {a}"))?;
    let first = (total / Decimal::TWO).round_dp(2);
    let pay = |amount: Decimal| {
        json!({"customer_id": customer_id, "payment_mode": "banktransfer", "amount": money(amount),
               "date": "2026-01-01", "invoices": [{"invoice_id": a_id, "amount_applied": money(amount)}]})
    };
    let first_s = first.to_string();
    api.ok(Method::POST, "/books/v3/customerpayments", Some(pay(first))).await?;
    let after_first = api.ok(Method::GET, &format!("/books/v3/invoices/{a_id}"), None).await?;
    let rest = decimal(&after_first["invoice"]["balance"]).ok_or_else(|| anyhow!("no balance: {after_first}"))?;
    api.ok(Method::POST, "/books/v3/customerpayments", Some(pay(rest))).await?;
    let after_second = api.ok(Method::GET, &format!("/books/v3/invoices/{a_id}"), None).await?;
    seen.statuses_after_payments = (text(&after_first["invoice"]["status"]), text(&after_second["invoice"]["status"]));
    steps.say(format!("payments: {} after {first_s}, {} after the balance", seen.statuses_after_payments.0, seen.statuses_after_payments.1));

    // 6. The clock moves 30 days; the other invoice goes overdue and its webhook arrives.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let receiver = axum::Router::new().route(
        "/books-hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/books-hook", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });
    let hook: Value = http
        .post(format!("{base}/__emulator/books/webhooks"))
        .json(&json!({"url": hook_url, "events": ["invoice.overdue"], "headers": {"X-Shared-Secret": "demo"}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let b_id = text(&b["invoice_id"]);
    api.ok(Method::POST, &format!("/books/v3/invoices/{b_id}/status/sent"), None).await?;
    http.post(format!("{base}/__emulator/clock")).json(&json!({"advance_days": 30})).send().await?.error_for_status()?;
    // Thirty days later the access token has long expired, as it would on Zoho: refresh.
    let (status, _) = api.call(Method::GET, &format!("/books/v3/invoices/{b_id}"), None).await?;
    let expired = status == 401;
    if expired {
        let token = testkit::refresh(&http, &creds).await?;
        let access = token["access_token"].as_str().ok_or_else(|| anyhow!("no access_token in {token}"))?;
        api.auth = testkit::auth_header(access);
    }
    let b_now = api.ok(Method::GET, &format!("/books/v3/invoices/{b_id}"), None).await?;
    seen.status_after_clock = text(&b_now["invoice"]["status"]);
    for _ in 0..50 {
        let got = received.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|v| text(&v["invoice"]["invoice_id"]) == b_id);
        if got {
            seen.overdue_webhook_received = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    // Its receiver is gone: take the webhook off Books' settings.
    http.delete(format!("{base}/__emulator/books/webhooks/{}", text(&hook["webhook"]["webhook_id"]))).send().await?.error_for_status()?;
    steps.say(format!("clock +30 days: invoice is {}; invoice.overdue webhook received: {}", seen.status_after_clock, seen.overdue_webhook_received));
    if expired {
        steps.more("the clock jump expired the access token (401, code 57): refreshed it".to_string());
    }

    // 7. The engine, on its embedded defaults: a SQLite store, a poll of CRM Products
    // into the inbox, the worker running `catalog_sync`: one Books item per product.
    seen.engine = engine(base, dir, &mut seen.store, &mut seen.sample).await?;
    steps.say(format!(
            "the engine (SQLite store {}): the poller put {} CRM products in the inbox, the worker synced {} of them to Books items ({} ID links, every write audited); a second poll added {}",
            seen.store, seen.engine.0, seen.engine.1, seen.engine.2, seen.engine.3
    ));

    // 8. Customers, two ways: a CRM account spelled differently from an existing Books
    // customer is linked to it (not created again), and an address edited in Books
    // reaches the CRM account.
    (seen.duplicate, seen.books_edit) = customers(base, &seen.store).await?;
    steps.say(format!(
            "customer_sync: CRM \"Northwind Traders\" matched the Books customer \"Northwind Traders, Inc.\" by {} and was linked ({} Books customers before, {} after); a billing address edited in Books reached the CRM account: {:?}",
            seen.duplicate.2, seen.duplicate.3, seen.duplicate.4, seen.books_edit.1
    ));

    // 9.–15. Order to cash, told by the engine with its webhooks, on the same store.
    seen.order = order_to_cash::walk(base, &seen.store, &mut steps).await?;

    // 16. Spend the Books per-minute budget until Books answers 429 (the clock moved in
    // step 13: the access token is refreshed first).
    let (status, _) = api.call(Method::GET, "/books/v3/invoices?per_page=1", None).await?;
    if status == 401 {
        let token = testkit::refresh(&http, &creds).await?;
        let access = token["access_token"].as_str().ok_or_else(|| anyhow!("no access_token in {token}"))?;
        api.auth = testkit::auth_header(access);
    }
    for n in 0..1000 {
        let resp = http.get(format!("{base}/books/v3/invoices?organization_id={}&per_page=1", api.org)).header("Authorization", &api.auth).send().await?;
        if resp.status() == 429 {
            let reset = resp.headers().get("X-Rate-Limit-Reset").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            seen.throttled = (n, reset);
            break;
        }
    }
    steps.say(format!("Books answered 429 after {} more calls this minute (X-Rate-Limit-Reset: {} s)", seen.throttled.0, seen.throttled.1));
    seen.steps = steps.told;
    Ok(seen)
}

/// Step 7: the sync engine against the emulator, with a SQLite store in `dir` (its path
/// goes to `store`). Returns (events polled, jobs done, links, events added by a second
/// poll).
async fn engine(base: &str, dir: &Path, store_path: &mut String, sample: &mut (String, String)) -> anyhow::Result<(usize, u64, usize, usize)> {
    use bridge::{
        flows,
        store::{AnyStore, Store, StoreTokenCache},
        triggers::{Clock, Poller, Routes, StreamConfig, System, TriggerConfig},
        worker::{Worker, WorkerConfig},
    };
    *store_path = dir.join(bridge::store::DEFAULT_SQLITE_FILE).display().to_string();
    let store = AnyStore::connect(store_path).await.context("opening the demo's store")?;
    let client = zoho::Client::builder(crate::connection::from_emulator(base).await?).token_cache(Arc::new(StoreTokenCache(store.clone()))).build()?;
    let mut triggers = TriggerConfig::new("default");
    triggers.poller.streams.push(StreamConfig::new(System::Crm, "Products"));
    triggers.routes = Routes::default().with(System::Crm, "Products", &["catalog_sync"]);
    let poller = Poller::new(store.clone(), client.clone(), triggers.clone(), Clock::system());
    let stream = &triggers.poller.streams[0];
    // The poller takes only whole seconds that have passed (a record changed later in the
    // current second could share its modified time); the products were seeded moments
    // ago, so let their second pass.
    tokio::time::sleep(Duration::from_millis(1_005 - bridge::flows::now_ms().rem_euclid(1_000) as u64)).await;
    let first = poller.poll_once(stream).await.context("polling CRM Products")?;
    let worker =
        Worker::new(store.clone(), flows::all(), client, WorkerConfig { poll_interval: Duration::from_millis(50), ..WorkerConfig::new("demo-worker") });
    let stats = worker.run_until_idle().await?;
    let links = store.links("default", "product_item").await?;
    if let Some(link) = links.first() {
        *sample = (link.crm_id.clone(), link.books_id.clone());
    }
    let links = links.len();
    let second = poller.poll_once(stream).await.context("polling CRM Products again")?;
    store.close().await;
    Ok((first.new, stats.done, links, second.new))
}

/// Step 8: customer_sync with the same store as step 7. Returns (the Books contact the
/// CRM account was linked to, the one that existed before, the matching rule, Books
/// customers before, after) and (the street written in Books, the CRM account's street
/// after the sync).
async fn customers(base: &str, store_path: &str) -> anyhow::Result<((String, String, String, usize, usize), (String, String))> {
    use bridge::{
        flows::{self, customer_sync},
        store::{AnyStore, NewEvent, RecordRef, Source, Store, StoreTokenCache},
        worker::{Worker, WorkerConfig},
    };
    use futures_util::TryStreamExt;
    use zoho::{
        books::{ListQuery, models::Contact},
        crm::records::WriteOptions,
    };
    let store = AnyStore::connect(store_path).await.context("opening the demo's store")?;
    let client = zoho::Client::builder(crate::connection::from_emulator(base).await?).token_cache(Arc::new(StoreTokenCache(store.clone()))).build()?;
    let customers = |client: zoho::Client| async move {
        let all: Vec<Value> = client.books().list("/books/v3/contacts", "contacts", ListQuery::new().param("contact_type", "customer")).try_collect().await?;
        anyhow::Ok(all.len())
    };
    // In Books, typed by hand long ago.
    let existing: Contact = serde_json::from_value(json!({
        "contact_name": "Northwind Traders, Inc.", "company_name": "Northwind Traders, Inc.", "contact_type": "customer",
        "billing_address": {"address": "12 Harbour Rd", "country": "United States"},
        "contact_persons": [{"first_name": "Nancy", "last_name": "Davolio", "email": "nancy@northwind.test", "is_primary_contact": true}],
    }))?;
    let existing = client.books().create_contact(&existing).await?.contact_id.unwrap_or_default();
    let before = customers(client.clone()).await?;
    // In CRM, entered by sales with another spelling.
    let account = client
        .crm()
        .insert("Accounts", &[json!({"Account_Name": "Northwind Traders", "Billing_Country": "USA", "Phone": "+1 206 555 0100"})], &WriteOptions::no_triggers())
        .await?;
    let account = account.first().and_then(|r| r.id()).ok_or_else(|| anyhow!("CRM did not create the account"))?.to_string();
    let person = json!({"First_Name": "Nancy", "Last_Name": "Davolio", "Email": " Nancy@Northwind.TEST", "Account_Name": {"id": account}});
    client.crm().insert("Contacts", &[person], &WriteOptions::no_triggers()).await?;

    let worker =
        Worker::new(store.clone(), flows::all(), client.clone(), WorkerConfig { poll_interval: Duration::from_millis(50), ..WorkerConfig::new("demo-worker") });
    let sync = |record: RecordRef, n: u32| {
        let store = store.clone();
        async move {
            let event = NewEvent::for_record(Source::Manual, "default", &record, json!({"id": record.id}), format!("demo:{record}:{n}"));
            store.add_event(&event, &[customer_sync::job(&record)], flows::now_ms()).await?;
            anyhow::Ok(())
        }
    };
    sync(RecordRef::crm("Accounts", &account), 1).await?;
    worker.run_until_idle().await?;
    let link = store.link_by_crm("default", "account_contact", &account).await?.ok_or_else(|| anyhow!("the CRM account was not linked"))?;
    let key = RecordRef::crm("Accounts", &account).job_key();
    let done = store.jobs_with_status(bridge::store::JobStatus::Done, 10_000).await?;
    let outcome = done.iter().rev().find(|j| j.key == key && j.flow == customer_sync::NAME).and_then(|j| j.outcome.clone()).unwrap_or_default();
    let rule = outcome.split("matched by ").nth(1).and_then(|r| r.split(')').next()).unwrap_or("?").to_string();
    let after = customers(client.clone()).await?;

    // In Books, the customer moves.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let moved: Contact = serde_json::from_value(json!({"billing_address": {"address": "500 Pine St", "city": "Seattle", "country": "United States"}}))?;
    client.books().update_contact(&link.books_id, &moved).await?;
    sync(RecordRef::books("contacts", &link.books_id), 2).await?;
    worker.run_until_idle().await?;
    let street = client.crm().get::<Value>("Accounts", &account, &["Billing_Street"]).await?.map(|a| text(&a["Billing_Street"])).unwrap_or_default();
    store.close().await;
    Ok(((link.books_id, existing, rule, before, after), ("500 Pine St".into(), street)))
}
