//! `overdue_to_task`: an overdue Books invoice becomes one CRM task for the account's
//! owner, and the task is completed when the invoice is paid.
//!
//! Runs for Books `invoices` changes: Books' `invoice.overdue` webhook, the poller's
//! invoices stream, and the daily scan ([`crate::triggers::overdue_scan`]), the safety
//! net that lists every overdue invoice. For an **overdue** invoice with no open task it
//! creates one: related to the deal (the `deal_invoice` link, else the invoice's
//! `zcrm_potential_id`) or, without a deal, to the account (the `account_contact` link
//! of the customer, else the deal's `Account_Name`); owned by the account's owner (the
//! deal's without an account); its subject and description giving the invoice number,
//! the amount still owed in the invoice's currency, the days overdue (from the engine's
//! clock) and a link to the invoice in Books; its `Books_Invoice_ID` holding the
//! invoice id. When the invoice is **paid or void** (or deleted), its task is marked
//! `Completed`.
//!
//! **One task per invoice.** The `invoice_task` link is read first: a linked task that
//! still exists is left alone (open, or completed by a person), so neither a second
//! webhook nor the scan makes another. The task itself is created by an upsert keyed by
//! `Books_Invoice_ID` (unique in CRM), so a run repeated after Zoho committed (a crash,
//! a lost answer) finds the task the first one made rather than adding one.
//!
//! The description is written once: the days overdue are those on the day the task was
//! made.

use futures_util::FutureExt;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zoho::crm::records::WriteOptions;

use super::{
    Context, CrmField, Flow, FlowError, FlowFuture, FlowShape, Outcome, Write, Wrote,
    relations::{ACCOUNT_CONTACT, DEAL_INVOICE, INVOICE_TASK},
};
use crate::{hash::content_hash, mapping::CompileError, money::currency, store::System};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "overdue_to_task";
/// The CRM module tasks are in.
const TASKS: &str = "Tasks";

/// The shipped `[flows.overdue_to_task]` section.
pub const DEFAULTS: &str = r#"# An overdue Books invoice -> one CRM task for the account owner; completed once paid.
# Route Books invoices to this flow (the invoice.overdue webhook, the invoices stream).
# Besides, while a route names this flow, `serve` lists Books' overdue invoices every
# scan_every_secs (the safety net for a lost webhook); 0 turns the scan off.
scan_every_secs = 86400
# The Tasks field (API name, marked unique in CRM) holding the Books invoice id: the key
# of the upsert that makes the task, so a repeated run finds it rather than adding one.
books_id_field = "Books_Invoice_ID"
# The link to the invoice written in the task; {organization_id} and {invoice_id} are
# filled in. Use your data centre's Books address (books.zoho.eu, books.zoho.in, ...).
invoice_url = "https://books.zoho.com/app/{organization_id}#/invoices/{invoice_id}"
# The task's Priority, and its Status when made and when the invoice is paid.
priority = "High"
open_status = "Not Started"
done_status = "Completed"
"#;

/// `[flows.overdue_to_task]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverdueToTaskConfig {
    /// Seconds between two scans of Books' overdue invoices (0: no scan). Default a day.
    pub scan_every_secs: u64,
    /// The Tasks field (unique) holding the invoice id. Default `Books_Invoice_ID`.
    pub books_id_field: String,
    /// The link to the invoice in Books, with `{organization_id}` and `{invoice_id}`.
    pub invoice_url: String,
    /// The task's Priority. Default `High`.
    pub priority: String,
    /// The task's Status when made. Default `Not Started`.
    pub open_status: String,
    /// The task's Status once the invoice is paid or void. Default `Completed`.
    pub done_status: String,
}

impl Default for OverdueToTaskConfig {
    fn default() -> Self {
        OverdueToTaskConfig {
            scan_every_secs: 86_400,
            books_id_field: "Books_Invoice_ID".into(),
            invoice_url: "https://books.zoho.com/app/{organization_id}#/invoices/{invoice_id}".into(),
            priority: "High".into(),
            open_status: "Not Started".into(),
            done_status: "Completed".into(),
        }
    }
}

impl OverdueToTaskConfig {
    /// The flow as configured; an empty setting is refused naming it.
    pub fn build(&self) -> Result<OverdueToTask, CompileError> {
        for (setting, value) in [
            ("books_id_field", &self.books_id_field),
            ("invoice_url", &self.invoice_url),
            ("priority", &self.priority),
            ("open_status", &self.open_status),
            ("done_status", &self.done_status),
        ] {
            if value.trim().is_empty() {
                return Err(CompileError { path: format!("flows.{NAME}.{setting}"), offset: None, message: "empty: see `zoho-bridge config defaults`".into() });
            }
        }
        if !self.invoice_url.contains("{invoice_id}") {
            return Err(CompileError {
                path: format!("flows.{NAME}.invoice_url"),
                offset: None,
                message: "names no {invoice_id}: the link would not lead to the invoice".into(),
            });
        }
        Ok(OverdueToTask { config: self.clone() })
    }
}

/// Overdue Books invoices → CRM tasks.
#[derive(Debug, Clone)]
pub struct OverdueToTask {
    config: OverdueToTaskConfig,
}

impl Default for OverdueToTask {
    /// The flow on its shipped defaults.
    fn default() -> Self {
        OverdueToTaskConfig::default().build().expect("the shipped overdue_to_task settings are valid (tested)")
    }
}

/// `amount` in currency `code` as people read it: rounded to the currency's decimal
/// places, thousands grouped (`USD 1,234.50`, `JPY 120,000`, `KWD 12.345`).
pub fn format_amount(amount: Decimal, code: &str) -> String {
    let places = currency::decimals(code);
    let rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", places as usize, rounded.abs());
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    let code = code.trim().to_ascii_uppercase();
    match fraction {
        Some(f) => format!("{code} {sign}{grouped}.{f}"),
        None => format!("{code} {sign}{grouped}"),
    }
}

/// Days from `due` (`yyyy-mm-dd`) to `today`; `None` when `due` is not a date.
pub fn days_overdue(due: &str, today: jiff::civil::Date) -> Option<i64> {
    let due: jiff::civil::Date = due.parse().ok()?;
    due.until(today).ok().map(|span| i64::from(span.get_days()))
}

/// Text at `field` of a JSON object, when not empty.
fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The id of lookup `field` (`{"name": …, "id": …}`).
fn lookup_id(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(|l| l.get("id")).and_then(Value::as_str).map(str::to_string)
}

/// What the task hangs on.
struct Parent {
    module: &'static str,
    id: String,
    owner: Option<String>,
    name: String,
}

impl OverdueToTask {
    /// Books invoice `id` as JSON; `None` when it no longer exists.
    async fn invoice(ctx: &Context<'_>, id: &str) -> Result<Option<Value>, FlowError> {
        match ctx.client().books().invoice(id).await {
            Ok(inv) => Ok(Some(serde_json::to_value(&inv).unwrap_or(Value::Null))),
            Err(e) if e.status() == Some(404) || e.api().and_then(|a| a.books_code()) == Some(1002) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The deal (else the account) the task hangs on, and whose owner gets it.
    async fn parent(&self, ctx: &Context<'_>, invoice: &Value) -> Result<Option<Parent>, FlowError> {
        let invoice_id = text(invoice, "invoice_id").unwrap_or_default();
        let deal_id = match ctx.link_by_books(&DEAL_INVOICE, invoice_id).await? {
            Some(link) => Some(link.crm_id),
            None => text(invoice, "zcrm_potential_id").map(str::to_string),
        };
        let crm = ctx.client().crm();
        let deal = match &deal_id {
            Some(id) => crm.get::<Value>("Deals", id, &["Deal_Name", "Account_Name", "Owner"]).await?,
            None => None,
        };
        let account_id = match text(invoice, "customer_id") {
            Some(customer) => ctx.link_by_books(&ACCOUNT_CONTACT, customer).await?.map(|l| l.crm_id),
            None => None,
        }
        .or_else(|| deal.as_ref().and_then(|d| lookup_id(d, "Account_Name")));
        let account = match &account_id {
            Some(id) => crm.get::<Value>("Accounts", id, &["Account_Name", "Owner"]).await?,
            None => None,
        };
        let account_owner = account.as_ref().and_then(|a| lookup_id(a, "Owner"));
        Ok(match (deal, account) {
            (Some(deal), _) => Some(Parent {
                module: "Deals",
                id: text(&deal, "id").or(deal_id.as_deref()).unwrap_or_default().to_string(),
                owner: account_owner.or_else(|| lookup_id(&deal, "Owner")),
                name: text(&deal, "Deal_Name").unwrap_or_default().to_string(),
            }),
            (None, Some(account)) => Some(Parent {
                module: "Accounts",
                id: text(&account, "id").or(account_id.as_deref()).unwrap_or_default().to_string(),
                owner: account_owner,
                name: text(&account, "Account_Name").unwrap_or_default().to_string(),
            }),
            (None, None) => None,
        })
    }

    /// The task for an overdue invoice: subject, description, relation, owner, key.
    fn task_body(&self, ctx: &Context<'_>, invoice: &Value, parent: &Parent) -> Result<Value, FlowError> {
        let id = text(invoice, "invoice_id").unwrap_or_default();
        let number = text(invoice, "invoice_number").unwrap_or(id);
        let code = text(invoice, "currency_code").unwrap_or("USD");
        let owed = invoice.get("balance").and_then(|b| zoho::money::deserialize(b.clone()).ok()).unwrap_or(Decimal::ZERO);
        let total = invoice.get("total").and_then(|b| zoho::money::deserialize(b.clone()).ok()).unwrap_or(owed);
        let due = text(invoice, "due_date").unwrap_or_default();
        let today = ctx.now().to_zoned(jiff::tz::TimeZone::UTC).date();
        let days = days_overdue(due, today).ok_or_else(|| FlowError::Data(format!("Books invoice {id} is overdue but its due_date {due:?} is not a date")))?;
        let url = self.config.invoice_url.replace("{organization_id}", ctx.client().books().organization_id()).replace("{invoice_id}", id);
        let customer = text(invoice, "customer_name").unwrap_or_default();
        let day_word = if days == 1 { "day" } else { "days" };
        let subject = format!("Overdue invoice {number}: {} owed, {days} {day_word} late", format_amount(owed, code));
        let description = format!(
            "Books invoice {number} to {customer} ({} in all) was due on {due}; {} is still owed, {days} {day_word} overdue.\nOpen it in Books: {url}",
            format_amount(total, code),
            format_amount(owed, code),
        );
        let mut body = json!({
            "Subject": subject,
            "Description": description,
            "Status": self.config.open_status,
            "Priority": self.config.priority,
            "Due_Date": today.to_string(),
            "What_Id": {"id": parent.id},
            "$se_module": parent.module,
            (self.config.books_id_field.as_str()): id,
        });
        if let Some(owner) = &parent.owner {
            body["Owner"] = json!({"id": owner});
        }
        Ok(body)
    }

    /// An overdue invoice: its task, unless it has one.
    async fn open(&self, ctx: &mut Context<'_>, invoice: &Value, link: Option<crate::store::Link>) -> Result<Outcome, FlowError> {
        let id = text(invoice, "invoice_id").unwrap_or_default().to_string();
        if let Some(link) = &link {
            match ctx.client().crm().get::<Value>(TASKS, &link.crm_id, &["Status"]).await? {
                Some(task) => {
                    let status = text(&task, "Status").unwrap_or("?");
                    return Ok(Outcome::Skipped(format!("overdue invoice {id} already has its task {} ({status})", link.crm_id)));
                }
                None => ctx.note(format!("the task {} of invoice {id} was deleted in CRM: making it again", link.crm_id)),
            }
        }
        let Some(parent) = self.parent(ctx, invoice).await? else {
            return Ok(Outcome::Skipped(format!(
                "overdue invoice {id} has no CRM deal (deal_invoice link, zcrm_potential_id) nor account (account_contact link): no task"
            )));
        };
        let body = self.task_body(ctx, invoice, &parent)?;
        ctx.mapped(&body);
        let key = [self.config.books_id_field.as_str()];
        let write = Write { system: System::Crm, module: TASKS, action: "upsert", record_id: None, request: &body };
        let crm = ctx.client().crm();
        let results = ctx
            .write(write, crm.upsert(TASKS, std::slice::from_ref(&body), &key, &WriteOptions::no_triggers()), |r: &Vec<zoho::crm::models::WriteResult>| {
                r.first().and_then(|r| r.id()).map(str::to_string)
            })
            .await?;
        let result = results.first().ok_or_else(|| FlowError::Data(format!("CRM answered the task upsert for invoice {id} with no result")))?;
        if !result.is_success() {
            return Err(FlowError::Data(format!("CRM refused the task for invoice {id}: {} {} {}", result.code, result.message, result.details)));
        }
        let task = result.id().ok_or_else(|| FlowError::Data("CRM answered the task upsert without an id".into()))?.to_string();
        ctx.link(&INVOICE_TASK, &task, &id, Wrote::Crm(content_hash(&body)));
        let how = if result.action.as_deref() == Some("update") { "found (by its Books_Invoice_ID) and refreshed" } else { "created" };
        Ok(Outcome::Done(format!("{how} task {task} on {} {} ({}) for overdue invoice {id}", parent.module, parent.id, parent.name)))
    }

    /// A paid, void or deleted invoice: its task, if any, completed.
    async fn close(&self, ctx: &mut Context<'_>, id: &str, why: &str, link: Option<crate::store::Link>) -> Result<Outcome, FlowError> {
        let Some(link) = link else {
            return Ok(Outcome::Skipped(format!("invoice {id} is {why} and has no follow-up task")));
        };
        let task_id = link.crm_id.clone();
        let Some(task) = ctx.client().crm().get::<Value>(TASKS, &task_id, &["Status"]).await? else {
            return Ok(Outcome::Skipped(format!("invoice {id} is {why}; its task {task_id} was deleted in CRM")));
        };
        if text(&task, "Status") == Some(self.config.done_status.as_str()) {
            return Ok(Outcome::Skipped(format!("invoice {id} is {why}; its task {task_id} is already {}", self.config.done_status)));
        }
        let body = json!({"id": task_id, "Status": self.config.done_status});
        let write = Write { system: System::Crm, module: TASKS, action: "update", record_id: Some(&task_id), request: &body };
        let crm = ctx.client().crm();
        let results = ctx.write(write, crm.update(TASKS, std::slice::from_ref(&body), &WriteOptions::no_triggers()), |_| Some(task_id.clone())).await?;
        if let Some(r) = results.iter().find(|r| !r.is_success()) {
            return Err(FlowError::Data(format!("CRM refused to complete task {task_id}: {} {} {}", r.code, r.message, r.details)));
        }
        ctx.link(&INVOICE_TASK, &task_id, id, Wrote::Crm(content_hash(&body)));
        Ok(Outcome::Done(format!("invoice {id} is {why}: completed its task {task_id}")))
    }

    async fn sync(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let record = ctx.record().clone();
        if record.system != System::Books || record.module != INVOICE_TASK.books_entity {
            return Ok(Outcome::Skipped(format!("{NAME} runs for Books invoices, not {record}")));
        }
        let id = record.id.as_str();
        let (invoice, link) = tokio::join!(Self::invoice(ctx, id), ctx.link_by_books(&INVOICE_TASK, id));
        let (invoice, link) = (invoice?, link?);
        let Some(invoice) = invoice else {
            return self.close(ctx, id, "deleted", link).await;
        };
        ctx.saw_source(&invoice);
        match text(&invoice, "status").unwrap_or_default() {
            "overdue" => self.open(ctx, &invoice, link).await,
            status @ ("paid" | "void") => self.close(ctx, id, status, link).await,
            status => Ok(Outcome::Skipped(format!("invoice {id} is {status}, not overdue"))),
        }
    }
}

impl Flow for OverdueToTask {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        self.sync(ctx).boxed()
    }

    fn shape(&self) -> FlowShape {
        let key = CrmField {
            setting: format!("flows.{NAME}.books_id_field"),
            module: TASKS,
            api_name: self.config.books_id_field.clone(),
            data_type: "text",
            values: Vec::new(),
            unique: true,
        };
        FlowShape {
            source: Some((System::Books, INVOICE_TASK.books_entity)),
            target: Some((System::Crm, TASKS)),
            crm_fields: vec![key],
            ..FlowShape::default()
        }
    }
}

/// The overdue scan's setting, for the trigger that runs it.
impl OverdueToTaskConfig {
    /// How often `serve` lists overdue invoices; `None` when the scan is off.
    pub fn scan_every(&self) -> Option<std::time::Duration> {
        (self.scan_every_secs > 0).then(|| std::time::Duration::from_secs(self.scan_every_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_section_is_the_default() {
        let parsed: OverdueToTaskConfig = toml::from_str(DEFAULTS).unwrap();
        assert_eq!(parsed, OverdueToTaskConfig::default());
        assert!(parsed.build().is_ok());
        let bad: OverdueToTaskConfig = toml::from_str("invoice_url = \"https://books.zoho.eu/app\"\n").unwrap();
        assert_eq!(bad.build().unwrap_err().path, "flows.overdue_to_task.invoice_url");
        let off: OverdueToTaskConfig = toml::from_str("scan_every_secs = 0\n").unwrap();
        assert_eq!(off.scan_every(), None);
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        for (amount, code, want) in [
            ("1234.5", "USD", "USD 1,234.50"),
            ("0.5", "usd", "USD 0.50"),
            ("120000", "JPY", "JPY 120,000"),
            ("119999.5", "JPY", "JPY 120,000"),
            ("12.3456", "KWD", "KWD 12.346"),
            ("1000000", "EUR", "EUR 1,000,000.00"),
            ("999.995", "USD", "USD 1,000.00"),
            ("-42", "USD", "USD -42.00"),
        ] {
            assert_eq!(format_amount(d(amount), code), want, "{amount} {code}");
        }
    }

    #[test]
    fn days_overdue_count_calendar_days() {
        let today: jiff::civil::Date = "2024-03-01".parse().unwrap();
        assert_eq!(days_overdue("2024-02-28", today), Some(2), "2024 is a leap year");
        assert_eq!(days_overdue("2023-03-01", today), Some(366));
        assert_eq!(days_overdue("2024-03-01", today), Some(0));
        assert_eq!(days_overdue("soon", today), None);
    }
}
