//! `deal_to_invoice`: a CRM deal whose Stage *becomes* `Closed Won` (configurable)
//! yields one Books invoice.
//!
//! **What the invoice carries.** The customer (the account's Books customer: link, else
//! `customer_sync`'s matching and creation; see [`super::order`]), one line per product
//! related to the deal (the Books item through the product's `product_item` link, the
//! quantity, the list price and the line's discount as the deal's product list holds
//! them) or, for a deal without products, one line of the deal's Amount named after the
//! deal; the tax the `[[money.tax_rules]]` rule for the customer says (a tax or tax group
//! on every line, or an exemption with its reason in the notes, and the rule's template);
//! the salesperson (the deal's owner); the payment terms (config, else the customer's),
//! from which Books computes the due date; the currency (the customer's, or as
//! `[money.currency]` decides); `reference_number` and the native `zcrm_potential_id`
//! (the deal id); and the unique custom field (`cf_crm_deal_id`) holding the deal id.
//! The invoice id is written back to the deal (`Books_Invoice_ID`), and the two are
//! linked (`deal_invoice`).
//!
//! **Never twice.** The Stage is kept as the run's snapshot: only a change *to* the
//! stage counts (a duplicated or reordered webhook sees it already there), unless a
//! person or an agent asked for the invoice (a manual event: "create the invoice now"
//! for a deal that closed before the bridge saw it, or whose first run was dropped). A deal already
//! linked to its invoice is never invoiced again, even if it leaves the stage and comes
//! back. And the invoice is written with Books' upsert keyed by the unique custom field
//! (`PUT /invoices` with `X-Unique-Identifier-*`): a retry after a crash that happened
//! after Books committed (no link stored yet) updates the invoice the first attempt
//! made instead of making a second one, with no search before it.
//!
//! **Calls per invoice: 4; 3 sequential round trips until the invoice exists.** The deal
//! and its products are read at once (1); the customer is read (2; its link is in the
//! store); the invoice is upserted (3); the deal gets the invoice id (4). Books settings
//! (taxes, templates, currencies) are read once per process, not per invoice. The totals
//! check uses Books' answer to the upsert.
//!
//! A deal matching no tax rule is refused (a data error, dead-lettered, naming what
//! was looked for): never an invoice with a wrong tax; replay it after adding the rule.

use futures_util::{FutureExt, TryStreamExt, future::try_join_all};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zoho::{
    books::{UpsertOutcome, models::Invoice},
    crm::records::{ListParams, WriteOptions},
};

use super::{
    Context, Flow, FlowError, FlowFuture, FlowShape, Outcome, Write, Wrote,
    order::{Billed, LineDiscount, OrderLine, Orders, TotalsCheck, books_lines, document_tax_fields, line_causes},
    relations::{DEAL_INVOICE, PRODUCT_ITEM},
};
use crate::{
    hash::content_hash,
    mapping::CompileError,
    store::{NewJob, RecordRef, System},
};

/// The flow's name on jobs and in the config.
pub const NAME: &str = "deal_to_invoice";
/// The CRM module it runs for.
const DEALS: &str = "Deals";

/// The shipped `[flows.deal_to_invoice]` section.
pub const DEFAULTS: &str = r#"# CRM Deals -> Books invoices: a deal whose Stage becomes `stage` yields one invoice.
stage = "Closed Won"
# The invoice custom field (marked unique in Books) holding the CRM deal id: the key of
# the one-call, retry-safe create.
crm_id_field = "cf_crm_deal_id"
# The CRM Deals field the Books invoice id is written back to.
books_id_field = "Books_Invoice_ID"
# Days from the invoice date to its due date (0: due on receipt). Left out: the
# customer's own payment terms.
# payment_terms = 30
# Mark the invoice sent (no email) once made, so payments and credits can be applied to
# it; false leaves it a draft for a person to check and send.
mark_sent = false
# Whether the deal's Amount includes tax: the totals check compares it with Books' total
# (true) or with Books' total before tax (false).
amount_includes_tax = false
"#;

/// `[flows.deal_to_invoice]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DealToInvoiceConfig {
    /// The Stage that makes an invoice. Default `Closed Won`.
    pub stage: String,
    /// The invoice custom field (unique) holding the deal id. Default `cf_crm_deal_id`.
    pub crm_id_field: String,
    /// The deal field the invoice id is written to. Default `Books_Invoice_ID`.
    pub books_id_field: String,
    /// Payment terms in days; `None`: the customer's.
    pub payment_terms: Option<i64>,
    /// Mark the invoice sent once made. Default false.
    pub mark_sent: bool,
    /// Whether the deal's Amount includes tax. Default false.
    pub amount_includes_tax: bool,
}

impl Default for DealToInvoiceConfig {
    fn default() -> Self {
        DealToInvoiceConfig {
            stage: "Closed Won".into(),
            crm_id_field: "cf_crm_deal_id".into(),
            books_id_field: "Books_Invoice_ID".into(),
            payment_terms: None,
            mark_sent: false,
            amount_includes_tax: false,
        }
    }
}

impl DealToInvoiceConfig {
    /// The flow as configured, billing through `orders`.
    pub fn build(&self, orders: Orders) -> Result<DealToInvoice, CompileError> {
        let check = |name: &str, value: &str| {
            if value.trim().is_empty() {
                return Err(CompileError { path: format!("flows.{NAME}.{name}"), offset: None, message: "empty".into() });
            }
            Ok(())
        };
        check("stage", &self.stage)?;
        check("crm_id_field", &self.crm_id_field)?;
        check("books_id_field", &self.books_id_field)?;
        if self.payment_terms.is_some_and(|t| t < 0) {
            return Err(CompileError { path: format!("flows.{NAME}.payment_terms"), offset: None, message: "days cannot be negative".into() });
        }
        Ok(DealToInvoice { config: self.clone(), orders })
    }
}

/// CRM Deal (closed won) → Books invoice.
#[derive(Debug, Clone)]
pub struct DealToInvoice {
    config: DealToInvoiceConfig,
    orders: Orders,
}

/// The job that looks at CRM deal `deal_id` for this flow.
pub fn job(deal_id: &str) -> NewJob {
    NewJob::for_record(NAME, &RecordRef::crm(DEALS, deal_id))
}

/// The deal fields a run reads.
pub fn deal_fields(books_id_field: &str) -> Vec<String> {
    let mut fields: Vec<String> =
        ["Deal_Name", "Stage", "Amount", "Currency", "Exchange_Rate", "Account_Name", "Owner", "Modified_Time"].iter().map(|s| s.to_string()).collect();
    fields.push(books_id_field.to_string());
    fields
}

/// Text at `pointer` in `v`, trimmed, not empty.
pub fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A decimal at `pointer` in `v` (a JSON number or a numeric text).
pub fn decimal(v: &Value, pointer: &str) -> Option<Decimal> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.to_string().parse().ok().or_else(|| Decimal::from_scientific(&n.to_string()).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a deal and its related products at once: the deal (`None`: gone) and the
/// product rows (with the link's `list_price`, `quantity`, `Discount`).
pub async fn read_deal_and_products(ctx: &Context<'_>, deal_id: &str, fields: &[String]) -> Result<(Option<Value>, Vec<Value>), FlowError> {
    let crm = ctx.client().crm();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let deal = crm.get::<Value>(DEALS, deal_id, &fields);
    let params = ListParams::new(["Product_Name", "Product_Code", "Unit_Price"]);
    let products = crm.related::<Value>(DEALS, deal_id, "Products", params).try_collect::<Vec<_>>();
    let (deal, products) = tokio::join!(deal, products);
    Ok((deal?, products?))
}

/// The deal's order lines: one per product (its Books item through the product's link,
/// which must exist), or one line of the Amount named after the deal.
pub async fn deal_lines(ctx: &Context<'_>, deal_id: &str, deal: &Value, products: &[Value]) -> Result<Vec<OrderLine>, FlowError> {
    if products.is_empty() {
        let amount =
            decimal(deal, "/Amount").ok_or_else(|| FlowError::Data(format!("CRM deal {deal_id} has neither products nor an Amount: nothing to invoice")))?;
        let name = text(deal, "/Deal_Name").unwrap_or("Deal").to_string();
        return Ok(vec![OrderLine { item_id: None, name, description: None, quantity: Decimal::ONE, rate: amount, discount: None }]);
    }
    let links = try_join_all(products.iter().map(|p| {
        let id = text(p, "/id").unwrap_or_default().to_string();
        async move { ctx.link_by_crm(&PRODUCT_ITEM, &id).await.map(|l| (id, l)) }
    }))
    .await?;
    let missing: Vec<String> = products
        .iter()
        .zip(&links)
        .filter(|(_, (_, link))| link.is_none())
        .map(|(p, (id, _))| format!("{id} ({:?})", text(p, "/Product_Name").unwrap_or_default()))
        .collect();
    if !missing.is_empty() {
        return Err(FlowError::Data(format!(
            "CRM deal {deal_id}: product {} has no Books item yet (catalog_sync links products to items): replay once it is synced",
            missing.join(", ")
        )));
    }
    Ok(products
        .iter()
        .zip(links)
        .map(|(p, (_, link))| OrderLine {
            item_id: link.map(|l| l.books_id),
            name: text(p, "/Product_Name").unwrap_or_default().to_string(),
            description: None,
            quantity: decimal(p, "/quantity").unwrap_or(Decimal::ONE),
            rate: decimal(p, "/list_price").or_else(|| decimal(p, "/Unit_Price")).unwrap_or_default(),
            discount: decimal(p, "/Discount").filter(|d| !d.is_zero()).map(LineDiscount::Amount),
        })
        .collect())
}

/// CRM's answer to a write: the first per-record refusal as a data error.
pub fn crm_refused(results: &[zoho::crm::models::WriteResult], what: &str) -> Result<(), FlowError> {
    match results.iter().find(|r| !r.is_success()) {
        Some(r) => Err(FlowError::Data(format!("CRM refused {what}: {} {} {}", r.code, r.message, r.details))),
        None => Ok(()),
    }
}

impl DealToInvoice {
    async fn deal_changed(&self, ctx: &mut Context<'_>) -> Result<Outcome, FlowError> {
        let deal_id = ctx.record().id.clone();
        let fields = deal_fields(&self.config.books_id_field);
        let (read, previous, link) =
            tokio::join!(read_deal_and_products(ctx, &deal_id, &fields), ctx.previous_snapshot(), ctx.link_by_crm(&DEAL_INVOICE, &deal_id));
        let (deal, products) = read?;
        let (previous, link) = (previous?, link?);
        let Some(deal) = deal else { return Ok(Outcome::Skipped(format!("CRM deal {deal_id} no longer exists"))) };
        ctx.saw_source(&deal);
        let stage = text(&deal, "/Stage").unwrap_or_default().to_string();
        ctx.keep_snapshot(json!({ "Stage": stage }));
        let was = previous.as_ref().and_then(|p| p.get("Stage")).and_then(Value::as_str).map(str::to_string);
        if stage != self.config.stage {
            return Ok(Outcome::Skipped(format!("Stage is {stage:?}, not {:?}", self.config.stage)));
        }
        if was.as_deref() == Some(self.config.stage.as_str()) && !ctx.asked_for().await? {
            return Ok(Outcome::Skipped(format!("already {:?} when last seen: not a new close", self.config.stage)));
        }
        if let Some(link) = link {
            return Ok(Outcome::Skipped(format!("already invoiced: Books invoice {} (a deal is invoiced once)", link.books_id)));
        }
        self.invoice(ctx, &deal_id, &deal, &products).await
    }

    async fn invoice(&self, ctx: &mut Context<'_>, deal_id: &str, deal: &Value, products: &[Value]) -> Result<Outcome, FlowError> {
        let what = format!("CRM deal {deal_id}");
        let account_id = text(deal, "/Account_Name/id").ok_or_else(|| FlowError::Data(format!("{what} has no account: an invoice needs a customer")))?;
        let billed = Billed { what: &what, account_id, currency: text(deal, "/Currency"), exchange_rate: decimal(deal, "/Exchange_Rate") };
        let lines = deal_lines(ctx, deal_id, deal, products).await?;
        let billing = self.orders.billing(ctx, billed).await?;
        let tax = self.orders.tax(ctx, &billing.customer).await?;
        if let Some(t) = &tax {
            ctx.note(format!("tax rule {:?} applies", t.rule));
        }
        let items = books_lines(&lines, &billing, tax.as_ref());
        let mut invoice = Invoice {
            customer_id: Some(billing.customer.id.clone()),
            reference_number: Some(deal_id.to_string()),
            salesperson_name: text(deal, "/Owner/name").map(str::to_string),
            payment_terms: self.config.payment_terms,
            line_items: items.clone(),
            ..Invoice::default()
        };
        invoice.extra.insert("zcrm_potential_id".into(), json!(deal_id));
        invoice.extra.insert("custom_fields".into(), json!([{"api_name": self.config.crm_id_field, "value": deal_id}]));
        for (k, v) in document_tax_fields(tax.as_ref(), false) {
            match k.as_str() {
                "notes" => invoice.notes = v.as_str().map(str::to_string),
                "template_id" => invoice.template_id = v.as_str().map(str::to_string),
                _ => {
                    invoice.extra.insert(k, v);
                }
            }
        }
        let body = serde_json::to_value(&invoice).unwrap_or(Value::Null);
        ctx.mapped(&body);
        let n = ctx.announce(Write { system: System::Books, module: "invoices", action: "upsert", record_id: None, request: &body }).await?;
        let result = ctx.client().books().upsert_invoice(&self.config.crm_id_field, deal_id, &invoice).await;
        let (written, outcome) = match result {
            Ok((written, outcome)) => {
                let action = if outcome == UpsertOutcome::Created { "create" } else { "update" };
                ctx.answer(n, written.invoice_id.as_deref(), Some(action), Ok(&written));
                (written, outcome)
            }
            Err(e) => {
                ctx.answer::<Invoice>(n, None, None, Err(&e));
                return Err(e.into());
            }
        };
        let invoice_id = written.invoice_id.clone().ok_or_else(|| FlowError::Data("Books answered an invoice without invoice_id".into()))?;
        ctx.link(&DEAL_INVOICE, deal_id, &invoice_id, Wrote::Books(content_hash(&body)));
        let number = written.invoice_number.clone();
        if self.config.mark_sent && written.status.as_deref() == Some("draft") {
            let books = ctx.client().books();
            let request = json!({"invoice_id": invoice_id, "status": "sent"});
            let write = Write { system: System::Books, module: "invoices", action: "mark_sent", record_id: Some(&invoice_id), request: &request };
            ctx.write(write, async { books.mark_invoice_sent(&invoice_id).await.map(|m| json!({"code": m.code, "message": m.message})) }, |_| {
                Some(invoice_id.clone())
            })
            .await?;
        }
        if text(deal, &format!("/{}", self.config.books_id_field)) != Some(invoice_id.as_str()) {
            let update = json!({"id": deal_id, self.config.books_id_field.as_str(): invoice_id});
            let write = Write { system: System::Crm, module: DEALS, action: "update", record_id: Some(deal_id), request: &update };
            let crm = ctx.client().crm();
            let results =
                ctx.write(write, crm.update(DEALS, std::slice::from_ref(&update), &WriteOptions::no_triggers()), |_| Some(deal_id.to_string())).await?;
            crm_refused(&results, &format!("writing {} on deal {deal_id}", self.config.books_id_field))?;
        }
        self.check_totals(ctx, deal_id, deal, &billing, &lines, &items, &written, tax.as_ref().map(|t| t.rule.as_str())).await?;
        let verb = if outcome == UpsertOutcome::Created { "invoiced" } else { "invoice already made by an earlier attempt, brought up to date" };
        Ok(Outcome::Done(format!(
            "{verb}: Books invoice {} ({invoice_id}) for customer {}, {} lines, total {} {}",
            number.as_deref().unwrap_or("-"),
            billing.customer.id,
            items.len(),
            written.total.unwrap_or_default(),
            billing.currency
        )))
    }

    /// Books' figure against the deal's Amount (in the invoice's currency), with the
    /// causes the flow can tell.
    #[allow(clippy::too_many_arguments)]
    async fn check_totals(
        &self,
        ctx: &mut Context<'_>,
        deal_id: &str,
        deal: &Value,
        billing: &super::order::Billing,
        lines: &[OrderLine],
        sent: &[zoho::books::models::LineItem],
        written: &Invoice,
        rule: Option<&str>,
    ) -> Result<bool, FlowError> {
        let Some(amount) = decimal(deal, "/Amount") else { return Ok(true) };
        let total = written.total.unwrap_or_default();
        let tax_total = written.tax_total.unwrap_or_default();
        let books_total = if self.config.amount_includes_tax { total } else { total - tax_total };
        let mut causes = line_causes(sent, &written.line_items);
        let crm_currency = text(deal, "/Currency").unwrap_or(&billing.currency).to_string();
        let lines_total: Decimal = lines.iter().map(|l| l.crm_total(&crm_currency)).sum();
        if (lines.len() > 1 || lines.first().is_some_and(|l| l.item_id.is_some())) && lines_total != amount {
            causes.push(format!("the deal's products come to {lines_total} {crm_currency}, its Amount is {amount}"));
        }
        if self.config.amount_includes_tax && !tax_total.is_zero() {
            causes.push(format!("tax of {tax_total} (rule {})", rule.unwrap_or("none: the items' own taxes")));
        }
        if billing.conversion.is_some() {
            causes.push(format!("converted from {crm_currency} to {}", billing.currency));
        }
        let check = TotalsCheck {
            crm_module: DEALS,
            crm_id: deal_id.to_string(),
            crm_total: billing.amount(amount),
            books_entity: "invoices",
            books_id: written.invoice_id.clone().unwrap_or_default(),
            books_number: written.invoice_number.clone(),
            books_total,
            currency: billing.currency.clone(),
            causes,
        };
        check.record(ctx).await
    }
}

impl Flow for DealToInvoice {
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
        FlowShape {
            source: Some((System::Crm, DEALS)),
            target: Some((System::Books, "invoices")),
            mapping: None,
            target_fields: &[],
            unique_keys: vec![(format!("flows.{NAME}.crm_id_field"), self.config.crm_id_field.clone())],
            crm_fields: write_back_field(NAME, DEALS, &self.config.books_id_field),
        }
    }
}

/// The CRM field an invoice flow writes the invoice id back to (`Books_Invoice_ID`), for
/// `check --online`; none when the setting is empty (no write-back).
pub fn write_back_field(flow: &str, module: &'static str, api_name: &str) -> Vec<super::CrmField> {
    let api_name = api_name.trim();
    if api_name.is_empty() {
        return Vec::new();
    }
    vec![super::CrmField {
        setting: format!("flows.{flow}.books_id_field"),
        module,
        api_name: api_name.to_string(),
        data_type: "text",
        values: Vec::new(),
        unique: false,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_section_is_the_default() {
        let parsed: DealToInvoiceConfig = toml::from_str(DEFAULTS).unwrap();
        assert_eq!(parsed, DealToInvoiceConfig::default());
        let bad: DealToInvoiceConfig = toml::from_str("stage = \" \"").unwrap();
        let orders = Orders::new(Default::default(), std::sync::Arc::new(super::super::customer_sync::CustomerSync::default()));
        assert_eq!(bad.build(orders.clone()).unwrap_err().path, "flows.deal_to_invoice.stage");
        let bad: DealToInvoiceConfig = toml::from_str("payment_terms = -1").unwrap();
        assert_eq!(bad.build(orders).unwrap_err().path, "flows.deal_to_invoice.payment_terms");
    }
}
