//! The order-to-cash story of `zoho-bridge demo`, told live against the emulator by the
//! engine as `serve` runs it: the flows built from a config file with a `[money]`
//! section, the webhook receiver fed by a CRM notification channel and a Books webhook,
//! and a worker running in the background.
//!
//! `check --online` names the CRM fields the flows write and CRM lacks, and they are
//! created through CRM's fields API as its advice says. A deal closes and its invoice
//! appears (timed from the webhook's arrival to the job done, on the engine's clock); a
//! quote is accepted and becomes a draft invoice whose total is the quote's Grand_Total;
//! a partial payment lands in Books and the deal shows it;
//! the emulator's clock passes the due date and an overdue task appears for the account
//! owner; the deal is lost and a credit note for what is unpaid is applied to the
//! invoice; a deal whose customer matches no tax rule goes to the dead letters naming
//! what no rule covers, and once the rule is added its replayed job makes the invoice.
//!
//! The clock is moved, never waited for. The engine reads the emulator's clock, so the
//! events it stores and the jobs it finishes carry the emulator's time.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use bridge::{
    check::check_online,
    config::BridgeConfig,
    flows::{self, deal_to_invoice, quote_to_invoice, relations},
    store::{AnyStore, Job, JobStatus, RecordRef, Store, StoreResult, StoreTokenCache},
    triggers::{ChannelKeeper, ChannelTokens, Clock, webhooks},
    worker::{RunStats, Worker},
};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::{sync::watch, task::JoinHandle};
use zoho::{
    books::models::{CustomerPayment, PaymentInvoice},
    crm::records::{ListParams, WriteOptions},
};

use super::{Steps, decimal, money, text};

/// What the order-to-cash steps saw.
#[derive(Debug, Clone, Default)]
pub struct OrderToCash {
    /// `check --online` before the engine starts: the CRM fields it found missing
    /// (`Module.Field`), and the findings left once they were created as it advises.
    pub checked: (Vec<String>, Vec<String>),
    /// A deal closed won and its invoice.
    pub closed: Closed,
    /// An accepted quote's draft invoice.
    pub quoted: Quoted,
    /// A partial payment as the invoice and the deal show it.
    pub paid: Paid,
    /// The clock past the due date: the invoice and its task.
    pub overdue: Overdue,
    /// The deal lost: its credit note.
    pub lost: Lost,
    /// A deal no tax rule matched: dead-lettered, then replayed after the rule was added.
    pub no_rule: NoRule,
}

/// The invoice a closed-won deal became.
#[derive(Debug, Clone, Default)]
pub struct Closed {
    /// The CRM deal.
    pub deal_id: String,
    /// The Books invoice (linked to the deal).
    pub invoice_id: String,
    /// Its number.
    pub invoice_number: String,
    /// Its Books status.
    pub status: String,
    /// Its customer's name.
    pub customer: String,
    /// Its lines: (name, quantity, rate, tax name).
    pub lines: Vec<(String, Decimal, Decimal, String)>,
    /// Books' totals: (sub_total, tax_total, total).
    pub totals: (Decimal, Decimal, Decimal),
    /// The deal's `Books_Invoice_ID` afterwards.
    pub written_back: String,
    /// Milliseconds on the engine's clock from the webhook's event stored to the
    /// `deal_to_invoice` job done (invoice in Books, its id on the deal).
    pub took_ms: i64,
}

/// The draft invoice of an accepted quote.
#[derive(Debug, Clone, Default)]
pub struct Quoted {
    /// The CRM quote.
    pub quote_id: String,
    /// Its `Grand_Total` as CRM computed it.
    pub grand_total: Decimal,
    /// The Books invoice (linked to the quote).
    pub invoice_id: String,
    /// Its number.
    pub invoice_number: String,
    /// Its Books status.
    pub status: String,
    /// Its lines: (name, quantity, rate, discount, tax name).
    pub lines: Vec<(String, Decimal, Decimal, Decimal, String)>,
    /// Books' total.
    pub total: Decimal,
    /// The quote's `Books_Invoice_ID` afterwards.
    pub written_back: String,
}

/// A partial payment.
#[derive(Debug, Clone, Default)]
pub struct Paid {
    /// The amount paid.
    pub amount: Decimal,
    /// The invoice's status and balance after it.
    pub invoice: (String, Decimal),
    /// The deal's `Amount_Paid`, `Balance_Due` and `Payment_Status` after it.
    pub deal: (Decimal, Decimal, String),
}

/// The clock moved past the due date.
#[derive(Debug, Clone, Default)]
pub struct Overdue {
    /// Days the clock moved.
    pub days_moved: i64,
    /// The invoice's status after the move.
    pub invoice_status: String,
    /// CRM tasks holding the invoice id.
    pub tasks: usize,
    /// The task's Subject.
    pub subject: String,
    /// The task's owner and the account's owner (CRM user ids).
    pub owners: (String, String),
    /// What the task is linked to: (`$se_module`, `What_Id`).
    pub linked_to: (String, String),
    /// The task's Status.
    pub status: String,
    /// The deal's `Payment_Status` after the move.
    pub deal_status: String,
}

/// The deal lost.
#[derive(Debug, Clone, Default)]
pub struct Lost {
    /// What was unpaid on the invoice before.
    pub unpaid_before: Decimal,
    /// The credit note's number and total.
    pub credit_note: (String, Decimal),
    /// The invoices it was applied to.
    pub applied_to: Vec<String>,
    /// The invoice's status and balance after.
    pub invoice: (String, Decimal),
    /// The overdue task's Status after.
    pub task_status: String,
}

/// A deal whose customer matched no tax rule.
#[derive(Debug, Clone, Default)]
pub struct NoRule {
    /// The CRM deal.
    pub deal_id: String,
    /// The dead `deal_to_invoice` job's id and error.
    pub dead: (i64, String),
    /// Invoices of the deal while it was dead.
    pub invoices_while_dead: usize,
    /// The rule added (its name).
    pub rule: String,
    /// After the replay: the invoice's number, tax name and total.
    pub invoice: (String, String, Decimal),
    /// Dead jobs left afterwards.
    pub dead_after: usize,
}

/// The connection the demo's config names (the default).
pub(super) const CONNECTION: &str = "default";
/// The story's CRM notification channel.
pub(super) const CHANNEL_ID: &str = "1000000001";
/// The shared secret on the Books webhook (Books signs nothing).
const BOOKS_SECRET: &str = "demo-books-secret";
/// The tax rule the Brazilian deal lacks at first.
const BRAZIL_RULE: &str = "\n[[money.tax_rules]]\nname = \"Brazil\"\ncountries = [\"BR\"]\ntax = \"VAT\"\n";
/// How long a step waits for the engine before it fails, naming what it waited for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The config file the demo's engine runs with: the receiver's address, the store, the
/// emulator, the CRM channel, the Books webhook secret, the routes, the order flows'
/// settings and the tax rules (no rule for Brazil).
fn config_text(store: &str, emulator: &str, receiver: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        r#"store = {store}
listen = "127.0.0.1:0"

[zoho]
emulator = {emulator}

[worker]
poll_ms = 20
backoff_secs = 1
max_attempts = 3

[webhooks]
books_secret = {secret}

[channels]
notify_url = {notify}

[[channels.watch]]
channel_id = {channel_id}
events = ["Deals.all", "Quotes.all", "Products.all"]

[[routes]]
system = "crm"
module = "Products"
flows = ["catalog_sync"]

[[routes]]
system = "crm"
module = "Deals"
flows = ["deal_to_invoice", "deal_to_credit_note"]

[[routes]]
system = "crm"
module = "Quotes"
flows = ["quote_to_invoice"]

[[routes]]
system = "books"
module = "customerpayments"
flows = ["payment_to_crm"]

[[routes]]
system = "books"
module = "invoices"
flows = ["payment_to_crm", "overdue_to_task"]

[flows.deal_to_invoice]
payment_terms = 30
mark_sent = true

[[money.tax_rules]]
name = "US California"
countries = ["US"]
states = ["CA"]
tax = "Sales Tax"

[[money.tax_rules]]
name = "US other states"
countries = ["US"]
tax = "State + City"
"#,
        store = quote(store),
        emulator = quote(emulator),
        secret = quote(BOOKS_SECRET),
        channel_id = quote(CHANNEL_ID),
        notify = quote(&format!("{receiver}/hooks/crm/notify")),
    )
}

/// The config the engine keeps serving with once the story is told: the story's, with
/// the Brazil rule it added, and the receiver at `receiver`.
pub(super) fn serving_config(store: &str, emulator: &str, receiver: &str) -> String {
    config_text(store, emulator, receiver) + BRAZIL_RULE
}

/// Registers `receiver`'s Books webhook in the emulator (the Books settings page would).
pub(super) async fn register_books_webhook(http: &reqwest::Client, base: &str, receiver: &str) -> anyhow::Result<()> {
    let hook = json!({"url": format!("{receiver}/hooks/books"), "events": ["payment.created", "invoice.overdue", "invoice.paid"],
                      "headers": {"X-Zoho-Bridge-Secret": BOOKS_SECRET}});
    http.post(format!("{base}/__emulator/books/webhooks")).json(&hook).send().await?.error_for_status().context("registering the Books webhook")?;
    Ok(())
}

/// The engine of the story: the store, a client, the receiver, the channel keeper and a
/// background worker, all on the emulator's clock; and the people's client.
struct Engine {
    base: String,
    http: reqwest::Client,
    text: String,
    store: AnyStore,
    /// The engine's client.
    client: zoho::Client,
    /// The client of the people in the story (sales closing deals, accounts recording
    /// payments) and of the demo's own checks: what they do is not the engine's work, so
    /// it has a rate budget of its own.
    people: zoho::Client,
    clock: Clock,
    offset: Arc<AtomicI64>,
    keeper: ChannelKeeper,
    receiver: JoinHandle<()>,
    worker: Option<(watch::Sender<bool>, JoinHandle<StoreResult<RunStats>>)>,
}

impl Engine {
    /// Serves the receiver and registers the CRM channel and the Books webhook, for the
    /// config of [`config_text`]; the worker is started apart ([`Engine::start_worker`]).
    async fn start(base: &str, store_path: &str) -> anyhow::Result<Engine> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the demo's webhook receiver")?;
        let receiver_url = format!("http://{}", listener.local_addr()?);
        let text = config_text(store_path, base, &receiver_url);
        let config = parse(&text)?;
        let store = AnyStore::connect(&config.store).await.context("opening the demo's store")?;
        // The engine's budget is its own, as `serve` started now would have (it learns
        // what Books counted from the X-Rate-Limit headers); the earlier steps' clients
        // share the process's.
        let tokens: Arc<dyn zoho::TokenCache> = Arc::new(StoreTokenCache(store.clone()));
        let client = budgeted_client(&config, base, tokens.clone()).await?;
        let people = budgeted_client(&config, base, tokens).await?;
        let offset = Arc::new(AtomicI64::new(0));
        let clock = {
            let offset = offset.clone();
            Clock::from_fn(move || Clock::system().now_ms() + offset.load(Ordering::Relaxed))
        };
        let triggers = config.triggers();
        let tokens = ChannelTokens::new();
        let keeper = ChannelKeeper::new(client.crm(), triggers.channels.clone(), tokens.clone(), clock.clone()).context("the demo's CRM channel")?;
        let app = webhooks::router_with_clock(store.clone(), triggers, tokens, clock.clone());
        let receiver = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the demo's webhook receiver stopped");
            }
        });
        let engine = Engine { base: base.to_string(), http, text, store, client, people, clock, offset, keeper, receiver, worker: None };
        engine.read_clock().await?;
        let report = engine.keeper.run_once().await?;
        if !report.failed.is_empty() {
            bail!("CRM refused the demo's notification channel: {:?}", report.failed);
        }
        register_books_webhook(&engine.http, base, &receiver_url).await?;
        Ok(engine)
    }

    /// Starts a worker on the flows `config` builds.
    fn start_worker(&mut self, config: BridgeConfig) -> anyhow::Result<()> {
        let flows = config.build_flows().map_err(|e| anyhow!("building the demo's flows: {e}"))?;
        let worker_config = bridge::worker::WorkerConfig { id: "demo-worker".into(), clock: self.clock.clone(), ..config.worker() };
        let worker = Worker::new(self.store.clone(), flows, self.client.clone(), worker_config);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        self.worker = Some((stop, task));
        Ok(())
    }

    /// Stops the worker, letting its running jobs finish.
    async fn stop_worker(&mut self) -> anyhow::Result<()> {
        if let Some((stop, task)) = self.worker.take() {
            let _ = stop.send(true);
            task.await.context("the demo's worker panicked")?.context("the demo's worker")?;
        }
        Ok(())
    }

    /// Adds `more` to the config file and restarts the worker on it, as a user editing
    /// the file and restarting `serve` would.
    async fn reconfigure(&mut self, more: &str) -> anyhow::Result<()> {
        self.text.push_str(more);
        let config = parse(&self.text)?;
        self.stop_worker().await?;
        self.start_worker(config)
    }

    /// Reads the emulator's clock offset into the engine's clock.
    async fn read_clock(&self) -> anyhow::Result<()> {
        let clock: Value = self.http.get(format!("{}/__emulator/clock", self.base)).send().await?.error_for_status()?.json().await?;
        let offset = clock["offset_ms"].as_i64().ok_or_else(|| anyhow!("the emulator's clock has no offset_ms: {clock}"))?;
        self.offset.store(offset, Ordering::Relaxed);
        Ok(())
    }

    /// The emulator's today, `yyyy-mm-dd`.
    async fn today(&self) -> anyhow::Result<String> {
        let clock: Value = self.http.get(format!("{}/__emulator/clock", self.base)).send().await?.error_for_status()?.json().await?;
        Ok(text(&clock["date"]))
    }

    /// Moves the emulator's clock `days` ahead; the engine follows. The CRM channel's
    /// life ran out in the jump, so the keeper enables it again (as `serve`'s keeper does
    /// on its next round).
    async fn move_clock(&self, days: i64) -> anyhow::Result<()> {
        self.http.post(format!("{}/__emulator/clock", self.base)).json(&json!({"advance_days": days})).send().await?.error_for_status()?;
        self.read_clock().await?;
        let report = self.keeper.run_once().await?;
        if !report.failed.is_empty() {
            bail!("CRM refused to enable the demo's channel again: {:?}", report.failed);
        }
        Ok(())
    }

    /// `check --online` for the routed flows; each CRM field it finds missing is
    /// created with the fields-API call its advice gives, then the check runs again.
    /// Returns the fields created (`Module.Field`) and what the second check still found.
    async fn check_and_create_fields(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let config = parse(&self.text)?;
        let flows = config.build_flows().map_err(|e| anyhow!("building the demo's flows: {e}"))?;
        // As `check --online` does: the flows the routes start.
        let routed = config.routes.named_flows();
        let flows: Vec<_> = flows.into_iter().filter(|f| routed.contains(&f.name())).collect();
        let findings = check_online(&self.people, &flows, &self.clock).await.context("check --online")?;
        let mut missing = Vec::new();
        for finding in &findings {
            let Some((module, field, body)) = fields_api_advice(&finding.problem) else { continue };
            let request =
                zoho::transport::Request::new(zoho::Api::Crm, reqwest::Method::POST, "/crm/v8/settings/fields").query("module", module).json(&body)?;
            self.people.transport().send(&request).await.with_context(|| format!("following check --online's advice for {}", finding.setting))?;
            missing.push(format!("{module}.{field}"));
        }
        let left = check_online(&self.people, &flows, &self.clock).await.context("check --online, again")?;
        Ok((missing, left.iter().map(ToString::to_string).collect()))
    }

    /// A deal in CRM, in an open stage, with `products` (id, quantity, list price); its
    /// id once the engine has handled the new deal (nothing to invoice yet).
    async fn open_deal(&self, name: &str, account: &str, amount: &str, products: &[(&str, u32, &str)]) -> anyhow::Result<String> {
        let deal = self
            .crm_insert("Deals", json!({"Deal_Name": name, "Stage": "Negotiation/Review", "Amount": amount_json(amount)?, "Account_Name": {"id": account}}))
            .await?;
        let mut rows = Vec::new();
        for (id, quantity, price) in products {
            rows.push(json!({"id": id, "quantity": quantity, "list_price": amount_json(price)?}));
        }
        let related = self.people.crm().relate("Deals", &deal, "Products", &rows).await?;
        if let Some(r) = related.iter().find(|r| !r.is_success()) {
            bail!("CRM did not relate the products to deal {deal}: {r:?}");
        }
        let record = &RecordRef::crm("Deals", &deal);
        wait_for(
            "the engine to handle the new deal",
            || async move { Ok(self.jobs(JobStatus::Skipped, deal_to_invoice::NAME, record).await?.first().map(|_| ())) },
        )
        .await?;
        self.settle().await?;
        Ok(deal)
    }

    /// Waits until the worker has nothing queued or running.
    async fn settle(&self) -> anyhow::Result<()> {
        let store = &self.store;
        wait_for("the engine to finish its queued jobs", || async move {
            let counts = store.job_counts().await?;
            Ok(counts.iter().all(|(status, n)| *n == 0 || !matches!(status, JobStatus::Queued | JobStatus::Running)).then_some(()))
        })
        .await
    }

    /// A CRM record made by a person (no automation); its id.
    async fn crm_insert(&self, module: &str, fields: Value) -> anyhow::Result<String> {
        let r = self.people.crm().insert(module, &[fields], &WriteOptions::no_triggers()).await?;
        match r.first() {
            Some(r) if r.is_success() => Ok(r.id().unwrap_or_default().to_string()),
            other => bail!("CRM did not create the {module} record: {other:?}"),
        }
    }

    /// A CRM record edited by a person.
    async fn crm_update(&self, module: &str, id: &str, mut fields: Value) -> anyhow::Result<()> {
        fields["id"] = json!(id);
        let r = self.people.crm().update(module, &[fields], &WriteOptions::no_triggers()).await?;
        match r.first() {
            Some(r) if r.is_success() => Ok(()),
            other => bail!("CRM did not update {module} {id}: {other:?}"),
        }
    }

    async fn crm_get(&self, module: &str, id: &str, fields: &[&str]) -> anyhow::Result<Value> {
        self.people.crm().get::<Value>(module, id, fields).await?.ok_or_else(|| anyhow!("CRM has no {module} {id}"))
    }

    async fn invoice(&self, id: &str) -> anyhow::Result<Value> {
        Ok(serde_json::to_value(self.people.books().invoice(id).await?)?)
    }

    /// The Books id linked to CRM record `crm_id` by `relation`, once there.
    async fn linked(&self, relation: &str, crm_id: &str, what: &str) -> anyhow::Result<String> {
        let store = &self.store;
        wait_for(what, || async move { Ok(store.link_by_crm(CONNECTION, relation, crm_id).await?.map(|l| l.books_id)) }).await
    }

    /// The jobs of `flow` for `record` with `status`.
    async fn jobs(&self, status: JobStatus, flow: &str, record: &RecordRef) -> anyhow::Result<Vec<Job>> {
        let key = record.job_key();
        Ok(self.store.jobs_with_status(status, 10_000).await?.into_iter().filter(|j| j.flow == flow && j.key == key).collect())
    }

    /// Stops everything.
    async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_worker().await?;
        self.receiver.abort();
        self.store.close().await;
        Ok(())
    }
}

/// The module, the field and the body of the fields-API call in `check --online`'s
/// advice for a missing CRM field (`CRM Deals has no field Balance_Due. … POST
/// /crm/v8/settings/fields?module=Deals with {"fields":[…]}`).
fn fields_api_advice(problem: &str) -> Option<(&str, &str, Value)> {
    let field = problem.split(" has no field ").nth(1)?.split(['.', ' ']).next()?;
    let call = problem.split("CRM's fields API: POST /crm/v8/settings/fields?module=").nth(1)?;
    let (module, body) = call.split_once(" with ")?;
    Some((module, field, serde_json::from_str(body).ok()?))
}

/// A client for the `[zoho]` section of `config` with the emulator's limits as its
/// budget (a budget of its own) and the store's access token.
async fn budgeted_client(config: &BridgeConfig, base: &str, tokens: Arc<dyn zoho::TokenCache>) -> anyhow::Result<zoho::Client> {
    zoho::Client::builder(crate::connection::from_config(&config.zoho).await?)
        .token_cache(tokens)
        .budget(crate::connection::emulator_budget(base).await?)
        .budget_registry(zoho::BudgetRegistry::new())
        .build()
        .context("building the demo's Zoho client")
}

/// Parses the demo's config as `serve` parses a file.
pub(super) fn parse(text: &str) -> anyhow::Result<BridgeConfig> {
    BridgeConfig::parse_with_env("demo config", text, &flows::names(), |_| None).map_err(|e| anyhow!("{e}"))
}

/// Polls `probe` until it yields, failing after [`PATIENCE`] with `what` was awaited.
pub(super) async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe().await? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("the demo waited {} s for {what}", PATIENCE.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A line's fields as the observations keep them.
fn lines_of(invoice: &Value) -> Vec<(String, Decimal, Decimal, String)> {
    invoice["line_items"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| (text(&l["name"]), decimal(&l["quantity"]).unwrap_or_default(), decimal(&l["rate"]).unwrap_or_default(), text(&l["tax_name"])))
                .collect()
        })
        .unwrap_or_default()
}

/// An amount written as text (`"199.99"`), as the JSON number CRM takes for a currency
/// field (exactly those digits).
pub(super) fn amount_json(amount: &str) -> anyhow::Result<Value> {
    let exact: Decimal = amount.parse().with_context(|| format!("{amount:?} is not an amount"))?;
    Ok(money(exact))
}

fn dec(v: &Value) -> Decimal {
    decimal(v).unwrap_or_default()
}

/// Runs the order-to-cash steps with the store of the earlier engine steps.
pub async fn walk(base: &str, store_path: &str, steps: &mut Steps) -> anyhow::Result<OrderToCash> {
    let mut seen = OrderToCash::default();
    // The next day: Books' per-minute window starts afresh (it follows the emulator's
    // clock), as does the budget of the engine started now.
    let http = reqwest::Client::new();
    http.post(format!("{base}/__emulator/clock")).json(&json!({"advance_days": 1})).send().await?.error_for_status()?;
    let mut engine = Engine::start(base, store_path).await?;

    // Before `serve`: `check --online`, its advice followed, and the worker started.
    seen.checked = engine.check_and_create_fields().await?;
    engine.start_worker(parse(&engine.text)?)?;
    steps.say(format!(
        "order to cash, the next day, by the engine as `serve` runs it (a config with [money] tax rules, a CRM notification channel, a Books webhook, a worker): `check --online` found {} CRM fields the flows write missing ({}); created through CRM's fields API as it advises, the check then finds {}",
        seen.checked.0.len(),
        seen.checked.0.join(", "),
        if seen.checked.1.is_empty() { "nothing".to_string() } else { seen.checked.1.join("; ") }
    ));

    // The products and the customer of the story; the products reach Books through the
    // channel and catalog_sync, as they would in production.
    let machine =
        engine.crm_insert("Products", json!({"Product_Name": "Espresso Machine E61", "Product_Code": "EM-61", "Unit_Price": amount_json("1250.00")?})).await?;
    let plan =
        engine.crm_insert("Products", json!({"Product_Name": "Service Plan (1 year)", "Product_Code": "SP-1Y", "Unit_Price": amount_json("199.99")?})).await?;
    for product in [&machine, &plan] {
        engine.linked(relations::PRODUCT_ITEM.name, product, "catalog_sync to link the demo's products to Books items").await?;
    }
    let account = engine.crm_insert("Accounts", json!({"Account_Name": "Contoso Coffee Roasters", "Billing_Country": "US", "Billing_State": "CA"})).await?;
    let deal = engine.open_deal("Contoso: two machines", &account, "2699.99", &[(&machine, 2, "1250.00"), (&plan, 1, "199.99")]).await?;

    // 1. The deal closes: the channel tells the receiver, the worker makes the invoice.
    engine.crm_update("Deals", &deal, json!({"Stage": "Closed Won"})).await?;
    let invoice_id = engine.linked(relations::DEAL_INVOICE.name, &deal, "deal_to_invoice to make the closed deal's invoice").await?;
    let record = &RecordRef::crm("Deals", &deal);
    let (e, deal_ref) = (&engine, deal.as_str());
    let job = wait_for("the deal_to_invoice job to be recorded done", || async move {
        Ok(e.jobs(JobStatus::Done, deal_to_invoice::NAME, record).await?.into_iter().next())
    })
    .await?;
    let received = engine.store.event(job.event_id).await?.map_or(job.created_ms, |e| e.received_ms);
    let invoice = engine.invoice(&invoice_id).await?;
    let written_back = engine.crm_get("Deals", &deal, &["Books_Invoice_ID"]).await?;
    seen.closed = Closed {
        deal_id: deal.clone(),
        invoice_id: invoice_id.clone(),
        invoice_number: text(&invoice["invoice_number"]),
        status: text(&invoice["status"]),
        customer: text(&invoice["customer_name"]),
        lines: lines_of(&invoice),
        totals: (dec(&invoice["sub_total"]), dec(&invoice["tax_total"]), dec(&invoice["total"])),
        written_back: text(&written_back["Books_Invoice_ID"]),
        took_ms: job.updated_ms - received,
    };
    let c = &seen.closed;
    steps.say(format!(
        "deal \"Contoso: two machines\" → Closed Won; Books invoice {} for {} appeared: {} lines, sub_total {}, tax {}, total {} ({}), {} ms from the webhook to the invoice made and its id on the deal",
        c.invoice_number, c.customer, c.lines.len(), c.totals.0, c.totals.1, c.totals.2, c.status, c.took_ms
    ));

    // 2. A quote is accepted: quote_to_invoice makes a draft invoice of its lines.
    let sales_tax = json!([{"name": "Sales Tax", "percentage": amount_json("8.25")?}]);
    let items = json!([
        {"Product_Name": {"id": machine}, "Quantity": 1, "List_Price": amount_json("1250.00")?, "Discount": amount_json("125.00")?, "Line_Tax": sales_tax},
        {"Product_Name": {"id": plan}, "Quantity": 2, "List_Price": amount_json("199.99")?, "Discount": 0, "Line_Tax": sales_tax},
    ]);
    engine.settle().await?;
    let quote = engine
        .crm_insert(
            "Quotes",
            json!({"Subject": "Contoso: a third machine", "Quote_Stage": "Delivered", "Account_Name": {"id": account}, "Quoted_Items": items,
                   "Terms_and_Conditions": "Payment within 30 days."}),
        )
        .await?;
    let record = &RecordRef::crm("Quotes", &quote);
    wait_for("the engine to handle the new quote", || async move { Ok(e.jobs(JobStatus::Skipped, quote_to_invoice::NAME, record).await?.first().map(|_| ())) })
        .await?;
    engine.settle().await?;
    engine.crm_update("Quotes", &quote, json!({"Quote_Stage": "Confirmed"})).await?;
    let draft_id = engine.linked(relations::QUOTE_INVOICE.name, &quote, "quote_to_invoice to make the accepted quote's draft invoice").await?;
    let draft = engine.invoice(&draft_id).await?;
    let crm_quote = engine.crm_get("Quotes", &quote, &["Grand_Total", "Books_Invoice_ID"]).await?;
    seen.quoted = Quoted {
        quote_id: quote.clone(),
        grand_total: dec(&crm_quote["Grand_Total"]),
        invoice_id: draft_id.clone(),
        invoice_number: text(&draft["invoice_number"]),
        status: text(&draft["status"]),
        lines: draft["line_items"]
            .as_array()
            .map(|lines| lines.iter().map(|l| (text(&l["name"]), dec(&l["quantity"]), dec(&l["rate"]), dec(&l["discount"]), text(&l["tax_name"]))).collect())
            .unwrap_or_default(),
        total: dec(&draft["total"]),
        written_back: text(&crm_quote["Books_Invoice_ID"]),
    };
    let q = &seen.quoted;
    steps.say(format!(
        "quote \"Contoso: a third machine\" → Confirmed: {} invoice {} with its {} lines (a line discount, Sales Tax), total {} = the quote's Grand_Total {}",
        q.status,
        q.invoice_number,
        q.lines.len(),
        q.total,
        q.grand_total
    ));

    // 3. A partial payment lands in Books; its webhook reaches payment_to_crm.
    let amount = Decimal::new(1000, 0);
    let payment = CustomerPayment {
        customer_id: Some(text(&invoice["customer_id"])),
        payment_mode: Some("banktransfer".into()),
        amount: Some(amount),
        date: Some(engine.today().await?),
        invoices: vec![PaymentInvoice { invoice_id: Some(invoice_id.clone()), amount_applied: Some(amount), ..Default::default() }],
        ..Default::default()
    };
    engine.people.books().create_customer_payment(&payment).await.context("recording the demo's payment in Books")?;
    let fields = ["Amount_Paid", "Balance_Due", "Payment_Status"];
    let fields = &fields;
    let shown = wait_for("payment_to_crm to put the payment on the deal", || async move {
        let d = e.crm_get("Deals", deal_ref, fields).await?;
        Ok((dec(&d["Amount_Paid"]) == amount).then(|| (dec(&d["Amount_Paid"]), dec(&d["Balance_Due"]), text(&d["Payment_Status"]))))
    })
    .await?;
    let after = engine.invoice(&invoice_id).await?;
    seen.paid = Paid { amount, invoice: (text(&after["status"]), dec(&after["balance"])), deal: shown };
    let p = &seen.paid;
    steps.say(format!(
        "a payment of {} lands in Books (invoice {}, balance {}); the CRM deal shows Amount_Paid {}, Balance_Due {}, Payment_Status {:?}",
        p.amount, p.invoice.0, p.invoice.1, p.deal.0, p.deal.1, p.deal.2
    ));

    // 4. The clock passes the due date: invoice.overdue reaches overdue_to_task.
    seen.overdue.days_moved = 31;
    engine.settle().await?;
    engine.move_clock(seen.overdue.days_moved).await?;
    let invoice_ref = invoice_id.as_str();
    let task = wait_for("overdue_to_task to make the overdue invoice's task", || async move {
        Ok(e.store.link_by_books(CONNECTION, relations::INVOICE_TASK.name, invoice_ref).await?.map(|l| l.crm_id))
    })
    .await?;
    // The same webhook reaches payment_to_crm: the deal says Overdue.
    let deal_status = wait_for("payment_to_crm to mark the deal overdue", || async move {
        let d = e.crm_get("Deals", deal_ref, &["Payment_Status"]).await?;
        Ok((text(&d["Payment_Status"]) == "Overdue").then(|| text(&d["Payment_Status"])))
    })
    .await?;
    let t = engine.crm_get("Tasks", &task, &["Subject", "Status", "Owner", "What_Id", "$se_module"]).await?;
    let owner = engine.crm_get("Accounts", &account, &["Owner"]).await?;
    let tasks: Vec<Value> = engine.people.crm().list("Tasks", ListParams::new(["Books_Invoice_ID"])).try_collect().await?;
    seen.overdue = Overdue {
        days_moved: seen.overdue.days_moved,
        invoice_status: text(&engine.invoice(&invoice_id).await?["status"]),
        tasks: tasks.iter().filter(|t| text(&t["Books_Invoice_ID"]) == invoice_id).count(),
        subject: text(&t["Subject"]),
        owners: (text(&t["Owner"]["id"]), text(&owner["Owner"]["id"])),
        linked_to: (text(&t["$se_module"]), text(&t["What_Id"]["id"])),
        status: text(&t["Status"]),
        deal_status,
    };
    let o = &seen.overdue;
    steps.say(format!(
        "the clock moves {} days: the invoice is {}; a CRM task for the account owner appeared, linked to the deal: {:?} ({}); the deal's Payment_Status is {:?}",
        o.days_moved, o.invoice_status, o.subject, o.status, o.deal_status
    ));

    // 5. The deal is lost: deal_to_credit_note credits what is unpaid.
    engine.settle().await?;
    let unpaid = dec(&engine.invoice(&invoice_id).await?["balance"]);
    engine.crm_update("Deals", &deal, json!({"Stage": "Closed Lost"})).await?;
    let note_id = engine.linked(relations::DEAL_CREDITNOTE.name, &deal, "deal_to_credit_note to credit the lost deal").await?;
    let note = serde_json::to_value(engine.people.books().credit_note(&note_id).await?)?;
    let task_ref = task.as_str();
    let task_status = wait_for("overdue_to_task to complete the task of the settled invoice", || async move {
        let status = text(&e.crm_get("Tasks", task_ref, &["Status"]).await?["Status"]);
        Ok((status == "Completed").then_some(status))
    })
    .await?;
    let settled = engine.invoice(&invoice_id).await?;
    seen.lost = Lost {
        unpaid_before: unpaid,
        credit_note: (text(&note["creditnote_number"]), dec(&note["total"])),
        applied_to: note["invoices"].as_array().map(|a| a.iter().map(|i| text(&i["invoice_id"])).collect()).unwrap_or_default(),
        invoice: (text(&settled["status"]), dec(&settled["balance"])),
        task_status,
    };
    let l = &seen.lost;
    steps.say(format!(
        "the deal is lost: credit note {} for the {} unpaid, applied to invoice {} (now {}, balance {}); the overdue task is {}",
        l.credit_note.0, l.credit_note.1, seen.closed.invoice_number, l.invoice.0, l.invoice.1, l.task_status
    ));

    // 6. A customer no tax rule covers: dead letter, the rule added, the job replayed.
    let brazil = engine.crm_insert("Accounts", json!({"Account_Name": "Lojas Aurora Ltda", "Billing_Country": "Brazil", "Billing_State": "SP"})).await?;
    engine.settle().await?;
    let deal = engine.open_deal("Aurora: one machine", &brazil, "1250.00", &[(&machine, 1, "1250.00")]).await?;
    engine.crm_update("Deals", &deal, json!({"Stage": "Closed Won"})).await?;
    let record = &RecordRef::crm("Deals", &deal);
    let dead = wait_for("the deal no tax rule matches to reach the dead letters", || async move {
        Ok(e.jobs(JobStatus::Dead, deal_to_invoice::NAME, record).await?.into_iter().next())
    })
    .await?;
    seen.no_rule.deal_id = deal.clone();
    seen.no_rule.dead = (dead.id, dead.last_error.clone().unwrap_or_default());
    seen.no_rule.invoices_while_dead = usize::from(engine.store.link_by_crm(CONNECTION, relations::DEAL_INVOICE.name, &deal).await?.is_some());
    steps.say(format!("deal \"Aurora: one machine\" (Brazil) → Closed Won: job {} went to the dead letters: {}", dead.id, seen.no_rule.dead.1));
    engine.reconfigure(BRAZIL_RULE).await?;
    seen.no_rule.rule = "Brazil".into();
    bridge::actions::replay(&engine.store, dead.id, "demo", engine.clock.now_ms()).await?;
    let invoice_id = engine.linked(relations::DEAL_INVOICE.name, &deal, "the replayed job to make the invoice").await?;
    let invoice = engine.invoice(&invoice_id).await?;
    seen.no_rule.invoice = (text(&invoice["invoice_number"]), text(&invoice["line_items"][0]["tax_name"]), dec(&invoice["total"]));
    seen.no_rule.dead_after = engine.store.jobs_with_status(JobStatus::Dead, 10_000).await?.len();
    let n = &seen.no_rule;
    steps.more(format!(
        "added [[money.tax_rules]] {:?} (VAT) to the config, restarted the worker, replayed job {} (as `zoho-bridge replay {}` does): invoice {} with {}, total {}; {} dead letters left",
        n.rule, n.dead.0, n.dead.0, n.invoice.0, n.invoice.1, n.invoice.2, n.dead_after
    ));

    engine.stop().await?;
    Ok(seen)
}
