//! `deal_to_credit_note`: after a deal was invoiced (`deal_invoice` link), a change that
//! takes money back becomes a Books credit note against the invoice.
//!
//! - **Lost**: the Stage becomes `Closed Lost` (configurable): a credit note for what is
//!   unpaid on the invoice (`lost_credit = "unpaid"`) or for everything invoiced and not
//!   yet credited (`"full"`), applied to the invoice (what the invoice cannot take stays
//!   on the note as the customer's credit).
//! - **Amount lowered**: the deal's Amount goes down: a credit note for the difference
//!   (with the invoice's tax on it when its lines share one), applied to the invoice.
//! - **Refund**: the Stage becomes `refund_stage`, or the boolean `refund_field` becomes
//!   true: a credit note for everything not yet credited, its unpaid part applied to the
//!   invoice and the rest refunded (`/creditnotes/{id}/refunds`).
//!
//! **Asked for.** A run a person or an agent asked for (a manual event: the gateway's
//! `issue_credit_note` once approved) credits what the deal, as CRM has it now, says was
//! not owed, even when the flow never saw the change happen (its first look came after
//! it, so the lowered Amount became its baseline): a lost or refunded deal as above, or
//! an Amount below what the invoice stands for (its `sub_total`, in its currency, less
//! the lowerings this flow credited). When there is nothing to credit the run is skipped
//! with a sentence saying why (the deal's Stage and Amount against the invoice); credits
//! on the invoice that zoho-bridge did not make stop it (it cannot tell what they cover).
//!
//! **Never the same change twice.** The run's snapshot keeps the Stage, the Amount and
//! the refund flag it saw, how many changes it credited and how much: a repeated or
//! reordered webhook finds nothing changed. Each credited change has its own key, the
//! deal id and the change's number (`<deal id>/<n>`), as the credit note's
//! `reference_number`: a retry after a crash that happened after Books committed finds
//! the note it made (one look-up by that reference) and only finishes what is left
//! (applying, refunding). **Never more than invoiced**: a credit is capped at the
//! invoice's total less what was already credited (the larger of what this flow credited
//! and what Books shows applied to the invoice).

use futures_util::{FutureExt, TryStreamExt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zoho::books::{
    ListQuery,
    models::{CreditApplication, CreditNote, Invoice, LineItem, Refund},
};

use super::{
    Context, Flow, FlowError, FlowFuture, FlowShape, Outcome, Write, Wrote,
    deal_to_invoice::{decimal, text},
    order::{Billed, Orders, TotalsCheck},
    relations::{DEAL_CREDITNOTE, DEAL_INVOICE},
};
use crate::{
    hash::content_hash,
    mapping::CompileError,
    store::{NewJob, RecordRef, System},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "deal_to_credit_note";
/// The CRM module it runs for.
const DEALS: &str = "Deals";

/// The shipped `[flows.deal_to_credit_note]` section.
pub const DEFAULTS: &str = r#"# Invoiced CRM deals -> Books credit notes: lost, amount lowered, refunded.
# The Stage of a lost deal.
lost_stage = "Closed Lost"
# A lost deal's credit: "unpaid" (what is still owed on the invoice) or "full"
# (everything invoiced and not yet credited; beyond the unpaid part it stays as the
# customer's credit).
lost_credit = "unpaid"
# A refund: the deal reaching this Stage, or this boolean deal field becoming true.
# refund_stage = "Refunded"
# refund_field = "Refunded"
# How a refund is paid (Books' refund_mode).
refund_mode = "cash"
# The credit note custom field holding the CRM deal id.
crm_id_field = "cf_crm_deal_id"
"#;

/// What a lost deal's credit note covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostCredit {
    /// What is still owed on the invoice.
    #[default]
    Unpaid,
    /// Everything invoiced and not yet credited.
    Full,
}

/// `[flows.deal_to_credit_note]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DealToCreditNoteConfig {
    /// The Stage of a lost deal. Default `Closed Lost`.
    pub lost_stage: String,
    /// A lost deal's credit. Default `unpaid`.
    pub lost_credit: LostCredit,
    /// The Stage that means a refund.
    pub refund_stage: Option<String>,
    /// The boolean deal field that means a refund when it becomes true.
    pub refund_field: Option<String>,
    /// Books' `refund_mode`. Default `cash`.
    pub refund_mode: String,
    /// The credit note custom field holding the deal id. Default `cf_crm_deal_id`.
    pub crm_id_field: String,
}

impl Default for DealToCreditNoteConfig {
    fn default() -> Self {
        DealToCreditNoteConfig {
            lost_stage: "Closed Lost".into(),
            lost_credit: LostCredit::Unpaid,
            refund_stage: None,
            refund_field: None,
            refund_mode: "cash".into(),
            crm_id_field: "cf_crm_deal_id".into(),
        }
    }
}

impl DealToCreditNoteConfig {
    /// The flow as configured, through `orders`.
    pub fn build(&self, orders: Orders) -> Result<DealToCreditNote, CompileError> {
        for (name, value) in [("lost_stage", &self.lost_stage), ("refund_mode", &self.refund_mode), ("crm_id_field", &self.crm_id_field)] {
            if value.trim().is_empty() {
                return Err(CompileError { path: format!("flows.{NAME}.{name}"), offset: None, message: "empty".into() });
            }
        }
        if self.refund_stage.as_deref() == Some(self.lost_stage.as_str()) {
            return Err(CompileError { path: format!("flows.{NAME}.refund_stage"), offset: None, message: "the same as lost_stage".into() });
        }
        Ok(DealToCreditNote { config: self.clone(), orders })
    }
}

/// Invoiced CRM Deal (lost, lowered, refunded) → Books credit note.
#[derive(Debug, Clone)]
pub struct DealToCreditNote {
    config: DealToCreditNoteConfig,
    orders: Orders,
}

/// The job that looks at CRM deal `deal_id` for this flow.
pub fn job(deal_id: &str) -> NewJob {
    NewJob::for_record(NAME, &RecordRef::crm(DEALS, deal_id))
}

/// What the flow saw last time, and what it credited.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    stage: Option<String>,
    amount: Option<Decimal>,
    refund: bool,
    /// Changes credited so far (the last credit note's number).
    changes: u64,
    /// Total credited so far.
    credited: Decimal,
    /// What the invoice stands for before tax, in its currency, after the amount
    /// lowerings this flow credited (`None` until it credited one).
    billed: Option<Decimal>,
}

impl Seen {
    fn read(v: &Value) -> Seen {
        Seen {
            stage: text(v, "/Stage").map(str::to_string),
            amount: decimal(v, "/Amount"),
            refund: v.get("Refund").and_then(Value::as_bool).unwrap_or(false),
            changes: v.get("changes").and_then(Value::as_u64).unwrap_or(0),
            credited: decimal(v, "/credited").unwrap_or_default(),
            billed: decimal(v, "/billed"),
        }
    }

    fn json(&self) -> Value {
        json!({
            "Stage": self.stage,
            "Amount": self.amount.map(|a| a.to_string()),
            "Refund": self.refund,
            "changes": self.changes,
            "credited": self.credited.to_string(),
            "billed": self.billed.map(|b| b.to_string()),
        })
    }
}

/// What `invoice` bills before tax: its `sub_total` (the sum of its lines), else its
/// total less its tax.
fn invoiced_before_tax(invoice: &Invoice) -> Decimal {
    invoice.sub_total.unwrap_or_else(|| invoice.total.unwrap_or_default() - invoice.tax_total.unwrap_or_default())
}

/// A change that takes money back.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Lost,
    /// The Amount went down from `from` to `to`: in the deal's currency when the change
    /// was seen between two runs, in the invoice's (`invoice_currency`) when a request
    /// compared the deal with what the invoice stands for.
    Lowered {
        from: Decimal,
        to: Decimal,
        invoice_currency: bool,
    },
    Refund,
}

impl DealToCreditNote {
    fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = ["Deal_Name", "Stage", "Amount", "Currency", "Exchange_Rate", "Account_Name"].iter().map(|s| s.to_string()).collect();
        f.extend(self.config.refund_field.clone());
        f
    }

    fn change(&self, before: &Seen, now: &Seen, had_baseline: bool) -> Option<Change> {
        let became = |stage: &str| now.stage.as_deref() == Some(stage) && before.stage.as_deref() != Some(stage);
        if (now.refund && !before.refund) || self.config.refund_stage.as_deref().is_some_and(became) {
            return Some(Change::Refund);
        }
        if became(&self.config.lost_stage) {
            return Some(Change::Lost);
        }
        match (before.amount, now.amount) {
            (Some(from), Some(to)) if had_baseline && to < from => Some(Change::Lowered { from, to, invoice_currency: false }),
            _ => None,
        }
    }

    async fn deal_changed(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let deal_id = ctx.record().id.clone();
        let fields = self.fields();
        let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let crm = ctx.client().crm();
        let (deal, previous, link) =
            tokio::join!(crm.get::<Value>(DEALS, &deal_id, &field_refs), ctx.previous_snapshot(), ctx.link_by_crm(&DEAL_INVOICE, &deal_id));
        let (previous, link) = (previous?, link?);
        let Some(deal) = deal? else { return Ok(Outcome::Skipped(format!("CRM deal {deal_id} no longer exists"))) };
        ctx.saw_source(&deal);
        let before = previous.as_ref().map(Seen::read).unwrap_or_default();
        let mut now = Seen {
            stage: text(&deal, "/Stage").map(str::to_string),
            amount: decimal(&deal, "/Amount"),
            refund: self.config.refund_field.as_ref().is_some_and(|f| deal.get(f) == Some(&Value::Bool(true))),
            changes: before.changes,
            credited: before.credited,
            billed: before.billed,
        };
        ctx.keep_snapshot(now.json());
        let Some(link) = link else { return Ok(Outcome::Skipped("not invoiced (no deal_invoice link): nothing to credit".into())) };
        // A change seen between two runs is credited as it comes; a person's or an
        // agent's request ("issue the credit note for this deal") compares the deal as it
        // is now with what the invoice stands for, so a loss, lowering or refund this flow
        // never saw (its first look came after it) is still credited, once.
        let seen = self.change(&before, &now, previous.is_some());
        let asked = seen.is_none() && ctx.asked_for().await?;
        if seen.is_none() && !asked {
            return Ok(Outcome::Skipped(
                if previous.is_none() { "first look since it was invoiced: Stage and Amount kept as the baseline" } else { "no change that takes money back" }
                    .into(),
            ));
        }
        let invoice_id = link.books_id.clone();
        let invoice = ctx.client().books().invoice(&invoice_id).await?;
        if invoice.status.as_deref() == Some("void") {
            return Ok(Outcome::Skipped(format!("Books invoice {invoice_id} is void: nothing to credit")));
        }
        let currency = invoice.currency_code.clone().unwrap_or_default();
        let total = invoice.total.unwrap_or_default();
        let already = before.credited.max(invoice.credits_applied.unwrap_or_default());
        let remaining = (total - already).max(Decimal::ZERO);
        let change = match seen {
            Some(change) => change,
            None => match self.asked_change(ctx, &deal, &before, &now, &invoice).await? {
                Ok(change) => change,
                Err(reason) => return Ok(Outcome::Skipped(reason)),
            },
        };
        let n = before.changes + 1;
        let key = format!("{deal_id}/{n}");
        let existing: Vec<CreditNote> = ctx.client().books().credit_notes(ListQuery::new().param("reference_number", key.as_str())).try_collect().await?;
        let existing = existing.into_iter().find(|c| c.status.as_deref() != Some("void"));
        let (amount, line_name, taxed) = match &change {
            Change::Lost => {
                let amount = match self.config.lost_credit {
                    LostCredit::Unpaid => invoice.balance.unwrap_or_default().min(remaining),
                    LostCredit::Full => remaining,
                };
                (amount, format!("Deal lost: credit on invoice {}", invoice.invoice_number.as_deref().unwrap_or(&invoice_id)), false)
            }
            Change::Refund => (remaining, format!("Refund of invoice {}", invoice.invoice_number.as_deref().unwrap_or(&invoice_id)), false),
            Change::Lowered { from, to, invoice_currency } => {
                let mut difference = *from - *to;
                let deal_currency = text(&deal, "/Currency").unwrap_or(&currency).to_string();
                if !invoice_currency && !deal_currency.eq_ignore_ascii_case(&currency) {
                    let what = format!("CRM deal {deal_id}");
                    let account = text(&deal, "/Account_Name/id").unwrap_or_default().to_string();
                    let billed = Billed { what: &what, account_id: &account, currency: Some(&deal_currency), exchange_rate: decimal(&deal, "/Exchange_Rate") };
                    difference = self.orders.billing(ctx, billed).await?.amount(difference);
                }
                (difference.min(remaining), format!("Amount lowered from {from} to {to}"), true)
            }
        };
        if existing.is_none() && amount <= Decimal::ZERO {
            return Ok(Outcome::Skipped(format!(
                "nothing left to credit on Books invoice {invoice_id}: total {total} {currency}, credited {already}, unpaid {}",
                invoice.balance.unwrap_or_default()
            )));
        }
        let note = match existing {
            Some(note) => {
                ctx.note(format!("credit note {} for change {key} was made by an earlier attempt", note.creditnote_id.as_deref().unwrap_or("?")));
                note
            }
            None => self.create(ctx, &deal_id, &invoice, &key, amount, line_name, taxed).await?,
        };
        let note_id = note.creditnote_id.clone().ok_or_else(|| FlowError::Data("Books answered a credit note without creditnote_id".into()))?;
        let note = self.settle(ctx, &invoice, note, change == Change::Refund).await?;
        ctx.link(&DEAL_CREDITNOTE, &deal_id, &note_id, Wrote::Books(content_hash(&json!({"reference_number": key}))));
        let note_total = note.total.unwrap_or(amount);
        now.changes = n;
        now.credited = before.credited + note_total;
        if matches!(change, Change::Lowered { .. }) {
            let billed = before.billed.unwrap_or_else(|| invoiced_before_tax(&invoice));
            now.billed = Some((billed - amount).max(Decimal::ZERO));
        }
        ctx.keep_snapshot(now.json());
        let tax_total = note.extra.get("tax_total").and_then(|v| v.to_string().parse::<Decimal>().ok()).unwrap_or_default();
        let check = TotalsCheck {
            crm_module: DEALS,
            crm_id: deal_id.clone(),
            crm_total: amount,
            books_entity: "creditnotes",
            books_id: note_id.clone(),
            books_number: note.creditnote_number.clone(),
            books_total: note_total - tax_total,
            currency: currency.clone(),
            causes: Vec::new(),
        };
        check.record(ctx).await?;
        Ok(Outcome::Done(format!(
            "{}: Books credit note {} ({note_id}) of {note_total} {currency} against invoice {invoice_id}",
            match change {
                Change::Lost => "lost".to_string(),
                Change::Refund => "refunded".to_string(),
                Change::Lowered { from, to, invoice_currency: false } => format!("amount lowered from {from} to {to}"),
                Change::Lowered { from, to, invoice_currency: true } =>
                    format!("amount lowered: the invoice stood for {from} {currency} before tax, the deal now for {to} {currency}"),
            },
            note.creditnote_number.as_deref().unwrap_or("-"),
        )))
    }

    /// What a request credits when no change was seen since the last run: a refund or a
    /// loss as the deal is now, or the deal's Amount below what the invoice stands for
    /// (before tax, in its currency, after the lowerings this flow credited). `Err` is
    /// why there is nothing to credit, in words for the person or agent who asked.
    async fn asked_change(
        &self,
        ctx: &mut Context<'_>,
        deal: &Value,
        before: &Seen,
        now: &Seen,
        invoice: &Invoice,
    ) -> Result<Result<Change, String>, FlowError> {
        if now.refund || self.config.refund_stage.as_deref().is_some_and(|s| now.stage.as_deref() == Some(s)) {
            return Ok(Ok(Change::Refund));
        }
        if now.stage.as_deref() == Some(self.config.lost_stage.as_str()) {
            return Ok(Ok(Change::Lost));
        }
        let deal_id = ctx.record().id.clone();
        let invoice_name = invoice.invoice_number.clone().or_else(|| invoice.invoice_id.clone()).unwrap_or_default();
        let currency = invoice.currency_code.clone().unwrap_or_default();
        let Some(amount) = now.amount else {
            return Ok(Err(format!("nothing to credit: CRM deal {deal_id} has no Amount to compare with Books invoice {invoice_name}")));
        };
        let credits = invoice.credits_applied.unwrap_or_default();
        let from = match before.billed {
            Some(billed) => billed,
            None if credits > Decimal::ZERO => {
                return Ok(Err(format!(
                    "nothing credited: Books invoice {invoice_name} already has {credits} {currency} of credits zoho-bridge did not make; \
                     it cannot tell what they cover, so a person credits the rest by hand"
                )));
            }
            None => invoiced_before_tax(invoice),
        };
        let deal_currency = text(deal, "/Currency").unwrap_or(&currency).to_string();
        let to = if deal_currency.eq_ignore_ascii_case(&currency) {
            amount
        } else {
            let what = format!("CRM deal {deal_id}");
            let account = text(deal, "/Account_Name/id").unwrap_or_default().to_string();
            let billed = Billed { what: &what, account_id: &account, currency: Some(&deal_currency), exchange_rate: decimal(deal, "/Exchange_Rate") };
            self.orders.billing(ctx, billed).await?.amount(amount)
        };
        if to < from {
            return Ok(Ok(Change::Lowered { from, to, invoice_currency: true }));
        }
        let credited = match before.credited > Decimal::ZERO {
            true => format!(", after the {} {currency} zoho-bridge credited", before.credited),
            false => String::new(),
        };
        Ok(Err(format!(
            "nothing to credit: CRM deal {deal_id} is {} at {amount} {deal_currency}, and Books invoice {invoice_name} stands for {from} {currency} before tax{credited}; \
             only a lost deal (Stage {:?}), a lower Amount or a refund is credited",
            now.stage.as_deref().unwrap_or("without a Stage"),
            self.config.lost_stage
        )))
    }

    /// Makes the credit note for change `key` against `invoice`.
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        ctx: &mut Context<'_>,
        deal_id: &str,
        invoice: &Invoice,
        key: &str,
        amount: Decimal,
        name: String,
        taxed: bool,
    ) -> Result<CreditNote, FlowError> {
        let invoice_id = invoice.invoice_id.clone().unwrap_or_default();
        // A lowered amount carries the invoice's tax when its lines share one; the other
        // credits are of amounts that already include tax.
        let taxes: Vec<&str> = invoice.line_items.iter().map(|l| l.tax_id.as_deref().unwrap_or_default()).collect();
        let common = taxes.first().filter(|t| !t.is_empty() && taxes.iter().all(|x| x == *t)).map(|t| t.to_string());
        let mut line = LineItem { name: Some(name), rate: Some(amount), quantity: Some(Decimal::ONE), ..LineItem::default() };
        line.tax_id = Some(if taxed { common.unwrap_or_default() } else { String::new() });
        let mut note =
            CreditNote { customer_id: invoice.customer_id.clone(), reference_number: Some(key.to_string()), line_items: vec![line], ..CreditNote::default() };
        note.extra.insert("custom_fields".into(), json!([{"api_name": self.config.crm_id_field, "value": deal_id}]));
        if let Some(exemption) = invoice.extra.get("tax_exemption_id").filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
            note.extra.insert("tax_exemption_id".into(), exemption.clone());
        }
        let body = serde_json::to_value(&note).unwrap_or(Value::Null);
        ctx.mapped(&body);
        let write = Write { system: System::Books, module: "creditnotes", action: "create", record_id: None, request: &body };
        let books = ctx.client().books();
        let made = ctx.write(write, books.create_credit_note(&note, Some(&invoice_id)), |c: &CreditNote| c.creditnote_id.clone()).await?;
        Ok(made)
    }

    /// Applies the note to the invoice as far as the invoice is unpaid (once), then, for
    /// a refund, refunds what is left on the note. Each step is skipped when done.
    async fn settle(&self, ctx: &mut Context<'_>, invoice: &Invoice, note: CreditNote, refund: bool) -> Result<CreditNote, FlowError> {
        let invoice_id = invoice.invoice_id.clone().unwrap_or_default();
        let note_id = note.creditnote_id.clone().unwrap_or_default();
        let mut balance = note.balance.unwrap_or_else(|| note.total.unwrap_or_default());
        let applied = note
            .extra
            .get("invoices")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.get("invoice_id").and_then(Value::as_str) == Some(invoice_id.as_str())));
        let open = matches!(invoice.status.as_deref(), Some("sent" | "overdue" | "partially_paid" | "unpaid" | "viewed"));
        let unpaid = invoice.balance.unwrap_or_default();
        if !applied && open && balance > Decimal::ZERO && unpaid > Decimal::ZERO {
            let amount = balance.min(unpaid);
            let application = vec![CreditApplication { invoice_id: Some(invoice_id.clone()), amount_applied: Some(amount), ..CreditApplication::default() }];
            let request = json!({"invoices": application});
            let write = Write { system: System::Books, module: "creditnotes", action: "apply", record_id: Some(&note_id), request: &request };
            let books = ctx.client().books();
            ctx.write(write, async { books.apply_credit_note(&note_id, &application).await.map(|m| json!({"code": m.code, "message": m.message})) }, |_| {
                Some(note_id.clone())
            })
            .await?;
            balance -= amount;
        } else if !open {
            ctx.note(format!(
                "Books invoice {invoice_id} is {}: the credit note stays open as the customer's credit",
                invoice.status.as_deref().unwrap_or("?")
            ));
        }
        if refund && balance > Decimal::ZERO {
            let date = jiff::tz::TimeZone::UTC.to_datetime(ctx.now()).date().to_string();
            let body = Refund {
                date: Some(date),
                refund_mode: Some(self.config.refund_mode.clone()),
                amount: Some(balance),
                reference_number: note.reference_number.clone(),
                ..Refund::default()
            };
            let request = serde_json::to_value(&body).unwrap_or(Value::Null);
            let write = Write { system: System::Books, module: "creditnotes", action: "refund", record_id: Some(&note_id), request: &request };
            let books = ctx.client().books();
            ctx.write(write, books.refund_credit_note(&note_id, &body), |r: &Refund| r.creditnote_refund_id.clone()).await?;
        }
        Ok(note)
    }
}

impl Flow for DealToCreditNote {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run<'a>(&'a self, ctx: &'a mut Context<'_>) -> FlowFuture<'a, Outcome> {
        async move {
            ctx.require_record(System::Crm, DEALS)?;
            self.deal_changed(ctx).await
        }
        .boxed()
    }

    fn shape(&self) -> FlowShape {
        FlowShape { source: Some((System::Crm, DEALS)), target: Some((System::Books, "creditnotes")), ..FlowShape::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn flow(text: &str) -> DealToCreditNote {
        let config: DealToCreditNoteConfig = toml::from_str(text).unwrap();
        config.build(Orders::new(Default::default(), std::sync::Arc::new(super::super::customer_sync::CustomerSync::default()))).unwrap()
    }

    #[test]
    fn the_shipped_section_is_the_default() {
        assert_eq!(toml::from_str::<DealToCreditNoteConfig>(DEFAULTS).unwrap(), DealToCreditNoteConfig::default());
    }

    #[test]
    fn only_a_change_that_takes_money_back_is_credited() {
        let f = flow("refund_field = \"Refunded\"");
        let seen = |stage: &str, amount: &str, refund: bool| Seen { stage: Some(stage.into()), amount: Some(d(amount)), refund, ..Seen::default() };
        let won = seen("Closed Won", "100", false);
        assert_eq!(f.change(&won, &seen("Closed Lost", "100", false), true), Some(Change::Lost));
        assert_eq!(f.change(&seen("Closed Lost", "100", false), &seen("Closed Lost", "100", false), true), None);
        assert_eq!(f.change(&won, &seen("Closed Won", "80", false), true), Some(Change::Lowered { from: d("100"), to: d("80"), invoice_currency: false }));
        assert_eq!(f.change(&won, &seen("Closed Won", "120", false), true), None);
        assert_eq!(f.change(&won, &seen("Closed Won", "80", false), false), None, "no baseline: no amount change");
        assert_eq!(f.change(&won, &seen("Closed Won", "100", true), true), Some(Change::Refund));
        assert_eq!(f.change(&seen("Closed Won", "100", true), &seen("Closed Won", "100", true), true), None);
        let snapshot = Seen { changes: 2, credited: d("30.50"), billed: Some(d("69.50")), ..won.clone() };
        assert_eq!(Seen::read(&snapshot.json()), snapshot);
    }
}
