//! Backfill: links two systems that already hold overlapping data, without duplicates.
//!
//! A new connection between a CRM and a Books that both have years of customers must not
//! create every customer twice. Backfill runs in three phases:
//!
//! 1. **Index** ([`index`]): both sides are read page by page into the store's directory
//!    of match keys (Books customers, CRM Accounts, and each account's email from its
//!    oldest contact), with the keys computed exactly as the live flow computes them.
//! 2. **Decide** ([`decide`]): each CRM account, read from the directory a page at a
//!    time, goes through the flow's matching order against the directory only (link,
//!    native field, email, name in the same country); then the Books customers no account
//!    spoke for. One JSON line per record says what happens ([`report`]).
//! 3. **Apply** (not with a dry run): through the engine, never a side door. One event
//!    per record (source `manual`, dedup key `backfill:<flow>:<system>:<id>`, so a re-run
//!    stores nothing twice) enqueues the flow's job, and the configured worker runs them
//!    in this process until idle: the flow matches again, with the directory now full,
//!    and links, creates, enriches or opens reviews exactly as it does live. The CRM
//!    accounts run first; the Books customers nobody matched are decided and enqueued
//!    once the accounts' links exist, so a customer is never created in CRM while the
//!    account that matches it is still waiting in the queue.
//!
//! For `catalog_sync`: Books items are indexed by SKU and by the custom field holding the
//! CRM product id; each CRM product is decided (link by that field, then SKU, else
//! create) as it is read, and applied by enqueuing the flow's jobs (its upsert is
//! idempotent).
//!
//! **Resumable.** The index steps done are kept in the store's cursor
//! `backfill:<flow>:<connection>` (its position is the number of steps done), so a run
//! interrupted (Ctrl-C, SIGKILL) and started again skips them; an index step cut short
//! starts again from its first page (its rows are upserts). Deciding is always redone
//! (it reads only the store: seconds for 100,000 records), and applying relies on the
//! dedup keys, the links and the flows' upserts: nothing is enqueued or created twice.
//! The cursor is reset when a run completes, so the next run reads Zoho afresh.
//!
//! **Memory** stays flat in the number of records: pages are read, written and dropped;
//! what crosses pages lives in the store.

mod decide;
mod index;
mod report;

use std::{io::Write, sync::Arc, time::Instant};

use futures_util::TryStreamExt;
use serde_json::{Value, json};
use zoho::{Client, crm::records::ListParams};

pub use decide::{Candidates, Links, Verdict, matching_order};
pub use report::{Action, Line, Report, Summary, peak_memory_kib};

use crate::{
    flows::{
        Flow, FlowsConfig, catalog_sync,
        catalog_sync::CatalogSync,
        customer_sync::{self, CustomerSync},
        relations::{ACCOUNT_CONTACT, PRODUCT_ITEM},
    },
    mapping::{self, Input, Tables},
    matching::Party,
    store::{Cursor, Key, NewEvent, NewJob, RecordRef, Source, Store, StoreError, System},
    worker::{RunStats, Worker, WorkerConfig},
};
use index::{ACCOUNTS, CONTACTS, ITEMS, sku_key, text};

/// Records per page: read from Zoho at a time (Books and CRM give at most 200) and
/// decided at a time from the directory.
pub const PAGE: u32 = 200;
/// Records decided at a time from the directory.
const DECIDE_PAGE: u32 = 1_000;

/// Which flow's records a backfill links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `customer_sync`: CRM Accounts ⇄ Books customers.
    Customers,
    /// `catalog_sync`: CRM Products → Books items.
    Catalog,
}

impl Target {
    /// The target of flow `name`.
    pub fn from_flow(name: &str) -> Option<Target> {
        match name {
            customer_sync::NAME => Some(Target::Customers),
            catalog_sync::NAME => Some(Target::Catalog),
            _ => None,
        }
    }

    /// Its flow's name.
    pub fn flow(self) -> &'static str {
        match self {
            Target::Customers => customer_sync::NAME,
            Target::Catalog => catalog_sync::NAME,
        }
    }

    /// Its index steps, in order (the cursor counts those done).
    fn steps(self) -> &'static [Step] {
        match self {
            Target::Customers => &[Step::Accounts, Step::Emails, Step::Customers],
            Target::Catalog => &[Step::Items],
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Accounts,
    Emails,
    Customers,
    Items,
}

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Zoho failed (after the client's retries).
    #[error("Zoho: {0}")]
    Zoho(#[from] zoho::Error),
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Report(#[from] std::io::Error),
    /// The config's flow section does not build.
    #[error("{0}")]
    Config(String),
}

/// Where a backfill says how far it is. The binary shows a bar (a terminal) or lines.
pub trait Progress: Send + Sync {
    /// A phase starts; `total` records when known.
    fn phase(&self, name: &str, total: Option<u64>);
    /// `n` more records of the phase are done.
    fn advance(&self, n: u64);
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}

/// The worker that applies: the configured flows and settings.
struct Apply {
    flows: Vec<Arc<dyn Flow>>,
    config: WorkerConfig,
}

/// One backfill of one flow on one connection.
pub struct Backfill<S: Store> {
    store: S,
    client: Client,
    connection: String,
    target: Target,
    customers: CustomerSync,
    create_in_books: bool,
    create_in_crm: bool,
    catalog: CatalogSync,
    catalog_id_field: String,
    apply: Option<Apply>,
    progress: Arc<dyn Progress>,
}

impl<S: Store> Backfill<S> {
    /// A dry run of `target` on `connection` with the flows as `flows` configures them
    /// (their lookup `tables`): it indexes and reports, and writes nothing to Zoho.
    pub fn new(store: S, client: Client, connection: &str, target: Target, flows: &FlowsConfig, tables: &Tables) -> Result<Backfill<S>, BackfillError> {
        let customers = flows.customer_sync.build(tables, None).map_err(|e| BackfillError::Config(e.to_string()))?;
        let catalog = flows.catalog_sync.build(tables, None).map_err(|e| BackfillError::Config(e.to_string()))?;
        Ok(Backfill {
            store,
            client,
            connection: connection.to_string(),
            target,
            customers,
            create_in_books: flows.customer_sync.create_in_books.unwrap_or(true),
            create_in_crm: flows.customer_sync.create_in_crm.unwrap_or(true),
            catalog,
            catalog_id_field: flows.catalog_sync.crm_id_field.clone(),
            apply: None,
            progress: Arc::new(Quiet),
        })
    }

    /// Applies what it decides, by running `flows` in a worker configured by `config`.
    pub fn applying(mut self, flows: Vec<Arc<dyn Flow>>, config: WorkerConfig) -> Backfill<S> {
        self.apply = Some(Apply { flows, config });
        self
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Backfill<S> {
        self.progress = progress;
        self
    }

    /// The cursor keeping the index steps done.
    fn cursor_name(&self) -> String {
        format!("backfill:{}:{}", self.target.flow(), self.connection)
    }

    async fn set_steps_done(&self, done: i64) -> Result<(), BackfillError> {
        let now = crate::flows::now_ms();
        let cursor = Cursor { connection: self.connection.clone(), stream: self.cursor_name(), position_ms: done, updated_ms: now };
        self.store.add_events_and_move_cursor(&[], &cursor, now).await?;
        Ok(())
    }

    /// Runs the backfill, writing the report's lines to `out`; the summary.
    pub async fn run(&self, out: &mut (dyn Write + Send)) -> Result<Summary, BackfillError> {
        let mut report = Report::new(out);
        let started = Instant::now();
        let done = self.store.cursor(&self.connection, &self.cursor_name()).await?.map_or(0, |c| c.position_ms.max(0) as usize);
        for (i, step) in self.target.steps().iter().enumerate().skip(done) {
            report.summary.indexed += match step {
                Step::Accounts => self.index_accounts().await?,
                Step::Emails => self.index_emails().await?,
                Step::Customers => self.index_customers().await?,
                Step::Items => self.index_items().await?,
            };
            self.set_steps_done(i as i64 + 1).await?;
        }
        // The directory's statistics, so that its look-ups by key use their indexes.
        self.store.analyze_directory().await?;
        report.summary.index_time = started.elapsed();
        match self.target {
            Target::Customers => {
                let at = Instant::now();
                self.accounts_pass(&mut report).await?;
                report.summary.decide_time += at.elapsed();
                self.work(&mut report).await?;
                let at = Instant::now();
                self.customers_pass(&mut report).await?;
                report.summary.decide_time += at.elapsed();
                self.work(&mut report).await?;
            }
            Target::Catalog => {
                let at = Instant::now();
                self.products_pass(&mut report).await?;
                report.summary.decide_time += at.elapsed();
                self.work(&mut report).await?;
            }
        }
        report.flush()?;
        self.set_steps_done(0).await?;
        report.summary.peak_kib = peak_memory_kib();
        Ok(report.summary)
    }

    /// When applying: the worker runs the queue until idle.
    async fn work(&self, report: &mut Report<'_>) -> Result<(), BackfillError> {
        let Some(apply) = &self.apply else { return Ok(()) };
        self.progress.phase("apply (the worker runs the jobs)", None);
        let started = Instant::now();
        let worker = Worker::new(self.store.clone(), apply.flows.clone(), self.client.clone(), apply.config.clone());
        let stats = worker.run_until_idle().await?;
        report.summary.apply_time += started.elapsed();
        let total = report.summary.applied.get_or_insert_with(RunStats::default);
        total.done += stats.done;
        total.skipped += stats.skipped;
        total.retried += stats.retried;
        total.dead += stats.dead;
        total.unrecorded += stats.unrecorded;
        self.progress.advance(stats.done + stats.skipped + stats.dead);
        Ok(())
    }

    /// When applying: one event (and its flow's job) per record, in one transaction.
    async fn enqueue(&self, report: &mut Report<'_>, records: &[RecordRef]) -> Result<(), BackfillError> {
        if self.apply.is_none() || records.is_empty() {
            return Ok(());
        }
        let flow = self.target.flow();
        let events: Vec<(NewEvent, Vec<NewJob>)> = records
            .iter()
            .map(|r| {
                let payload = json!({"id": r.id, "backfill": flow});
                let event = NewEvent::for_record(Source::Manual, &self.connection, r, payload, format!("backfill:{flow}:{}:{}", r.system.as_str(), r.id));
                let job = match self.target {
                    Target::Customers => customer_sync::job(r),
                    Target::Catalog => catalog_sync::job(&r.id),
                };
                (event, vec![job])
            })
            .collect();
        let inserted = self.store.add_events(&events, crate::flows::now_ms()).await?;
        report.summary.enqueued += inserted.iter().filter(|i| matches!(i, crate::store::Inserted::New(_))).count() as u64;
        Ok(())
    }

    /// Each CRM account, a page at a time from the directory: its verdict.
    async fn accounts_pass(&self, report: &mut Report<'_>) -> Result<(), BackfillError> {
        let total = self.store.directory_count(&self.connection, System::Crm, ACCOUNTS).await?;
        self.progress.phase("decide CRM accounts", Some(total as u64));
        let mut after = String::new();
        loop {
            let page: Vec<Party> =
                self.store.directory_page(&self.connection, System::Crm, ACCOUNTS, &after, DECIDE_PAGE).await?.into_iter().map(|e| e.party).collect();
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let (books, links) = self.books_side(&page, &[]).await?;
            let mut records = Vec::with_capacity(page.len());
            for a in &page {
                let verdict = decide::account(a, &books, &links, self.create_in_books);
                report.line(&line(System::Crm, ACCOUNTS, a, verdict))?;
                records.push(RecordRef::crm(ACCOUNTS, &a.id));
            }
            self.enqueue(report, &records).await?;
            self.progress.advance(page.len() as u64);
        }
        Ok(())
    }

    /// The Books candidates of CRM accounts `accounts` and the links of both (and of
    /// `also`, more Books ids).
    async fn books_side(&self, accounts: &[Party], also: &[&str]) -> Result<(Candidates, Links), BackfillError> {
        let keys = Candidates::keys_of(accounts);
        let books = Candidates::new(self.store.find_directory_any(&self.connection, System::Books, CONTACTS, &keys).await?);
        let crm_ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        let mut books_ids: Vec<&str> = books.rows().iter().map(|b| b.id.as_str()).collect();
        books_ids.extend_from_slice(also);
        let links = Links::new(self.store.links_among(&self.connection, ACCOUNT_CONTACT.name, &crm_ids, &books_ids).await?);
        Ok((books, links))
    }

    /// The Books customers no account spoke for, a page at a time: their verdict (the
    /// flow's matching order on the CRM side, over the accounts not linked and not
    /// taken by their own verdict).
    async fn customers_pass(&self, report: &mut Report<'_>) -> Result<(), BackfillError> {
        let total = self.store.directory_count(&self.connection, System::Books, CONTACTS).await?;
        self.progress.phase("decide Books customers", Some(total as u64));
        let mut after = String::new();
        loop {
            let page: Vec<Party> =
                self.store.directory_page(&self.connection, System::Books, CONTACTS, &after, DECIDE_PAGE).await?.into_iter().map(|e| e.party).collect();
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            // The accounts that may speak for them, and those accounts' own verdicts.
            let keys = Candidates::keys_of(&page);
            let accounts = Candidates::new(self.store.find_directory_any(&self.connection, System::Crm, ACCOUNTS, &keys).await?);
            let page_ids: Vec<&str> = page.iter().map(|b| b.id.as_str()).collect();
            let (books, links) = self.books_side(accounts.rows(), &page_ids).await?;
            let verdicts: std::collections::HashMap<&str, Verdict> =
                accounts.rows().iter().map(|a| (a.id.as_str(), decide::account(a, &books, &links, self.create_in_books))).collect();
            // The Books records those verdicts name (as their match or a candidate).
            let spoken: std::collections::HashSet<&str> = verdicts.values().flat_map(|v| v.other_id.iter().chain(&v.candidates)).map(String::as_str).collect();
            let mut records = Vec::new();
            for b in &page {
                if links.of_books(&b.id).is_some() || spoken.contains(b.id.as_str()) {
                    continue;
                }
                let free = |a: &Party| links.of_crm(&a.id).is_none() && !verdicts.get(a.id.as_str()).is_some_and(Verdict::takes);
                let verdict = Verdict::of(matching_order(b, &accounts, free), self.create_in_crm);
                report.line(&line(System::Books, CONTACTS, b, verdict))?;
                records.push(RecordRef::books(CONTACTS, &b.id));
            }
            self.enqueue(report, &records).await?;
            self.progress.advance(page.len() as u64);
        }
        Ok(())
    }

    /// Each CRM product, a page at a time from CRM: its verdict against the Books items
    /// (link, the custom field holding its id, its SKU).
    async fn products_pass(&self, report: &mut Report<'_>) -> Result<(), BackfillError> {
        let crm = self.client.crm();
        let total = crm.count(PRODUCT_ITEM.crm_module).await.ok();
        self.progress.phase("decide CRM products", total);
        let mut fields: Vec<String> = self.catalog.mapping().source_fields().to_vec();
        fields.push("id".into());
        let mut pages = std::pin::pin!(crm.list_pages(PRODUCT_ITEM.crm_module, ListParams::new(fields)));
        let now = jiff::Timestamp::now();
        while let Some(page) = pages.try_next().await? {
            // Each product's SKU as the flow maps it, or why the flow skips it.
            let products: Vec<(Party, Result<Option<String>, String>)> = page
                .into_iter()
                .map(|row| {
                    let row = Value::Object(row);
                    let id = text(&row, "/id").unwrap_or_default().to_string();
                    let input = Input { source: &row, related: &Value::Null, now };
                    let (name, sku) = match self.catalog.mapping().evaluate(&input) {
                        Ok(mapping::Outcome::Payload(item)) => (
                            item.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                            Ok(item.get("sku").and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(sku_key)),
                        ),
                        Ok(mapping::Outcome::Skipped(reason)) => (String::new(), Err(format!("the mapping skips it: {reason}"))),
                        Err(e) => (String::new(), Err(format!("the mapping fails, the flow would dead-letter it: {e}"))),
                    };
                    (Party { id, name, ..Party::default() }, sku)
                })
                .collect();
            let mut keys: Vec<Key<'_>> = Vec::new();
            for (p, sku) in &products {
                keys.push(Key::Native(&p.id));
                if let Ok(Some(sku)) = sku {
                    keys.push(Key::Name(sku));
                }
            }
            let items = Candidates::new(self.store.find_directory_any(&self.connection, System::Books, ITEMS, &keys).await?);
            let crm_ids: Vec<&str> = products.iter().map(|(p, _)| p.id.as_str()).collect();
            let item_ids: Vec<&str> = items.rows().iter().map(|i| i.id.as_str()).collect();
            let links = Links::new(self.store.links_among(&self.connection, PRODUCT_ITEM.name, &crm_ids, &item_ids).await?);
            let mut records = Vec::new();
            for (p, sku) in &products {
                let verdict = product(p, sku, &items, &links);
                report.line(&line(System::Crm, PRODUCT_ITEM.crm_module, p, verdict))?;
                records.push(RecordRef::crm(PRODUCT_ITEM.crm_module, &p.id));
            }
            self.enqueue(report, &records).await?;
            self.progress.advance(products.len() as u64);
        }
        Ok(())
    }
}

/// A CRM product's verdict: its link; an item whose custom field holds its id (the
/// upsert updates it); an item with its SKU (adopted if its custom field is empty, a
/// conflict if it names another product); else a new item.
fn product(p: &Party, sku: &Result<Option<String>, String>, items: &Candidates, links: &Links) -> Verdict {
    let sku = match sku {
        Err(reason) => return Verdict::skip(reason.clone()),
        Ok(sku) => sku,
    };
    if let Some(item) = links.of_crm(&p.id) {
        return Verdict::linked(item);
    }
    let found =
        |rule: &'static str, id: &str| Verdict { action: Action::Link, rule: Some(rule), candidates: Vec::new(), other_id: Some(id.to_string()), reason: None };
    if let Some(item) = items.rows().iter().find(|i| i.native_id.as_deref() == Some(p.id.as_str())) {
        return found("native", &item.id);
    }
    if let Some(sku) = sku
        && let Some(item) = items.rows().iter().find(|i| i.name_key.as_deref() == Some(sku.as_str()))
    {
        let owner = item.native_id.as_deref().or(links.of_books(&item.id));
        return match owner {
            Some(other) if other != p.id => Verdict {
                action: Action::Skip,
                rule: Some("sku"),
                candidates: vec![item.id.clone()],
                other_id: None,
                reason: Some(format!(
                    "SKU {sku:?} is Books item {}, which belongs to CRM product {other}: the flow would fail until a person resolves it",
                    item.id
                )),
            },
            _ => found("sku", &item.id),
        };
    }
    Verdict { action: Action::Create, rule: None, candidates: Vec::new(), other_id: None, reason: None }
}

/// The report line of `party` (of `system`/`module`) with its verdict.
fn line(system: System, module: &str, party: &Party, verdict: Verdict) -> Line {
    Line {
        system: system.as_str(),
        module: module.to_string(),
        id: party.id.clone(),
        name: party.name.clone(),
        action: verdict.action,
        rule: verdict.rule,
        candidates: verdict.candidates,
        other_id: verdict.other_id,
        reason: verdict.reason,
    }
}
