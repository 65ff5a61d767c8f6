//! The cash side of order to cash, against the emulator and a real SQLite store:
//! payments (partial, across several invoices, of several deals) land on the CRM deals
//! and the account with the right balances; a refund takes money off the deal; a deleted
//! payment is undone on the deal whether the flow saw the payment before or learns of it
//! only from the webhook; the clock moved past due dates makes exactly one task per
//! overdue invoice (webhook and daily scan both), completed when the invoice is paid;
//! and `check --online` names the CRM fields the flows write that CRM lacks, with how to
//! create them.
//!
//! Invoices are made directly in the emulator's Books with `zcrm_potential_id`, as the
//! native integration or `deal_to_invoice` would leave them.

mod triggers_support;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use bridge::{
    check::check_online,
    flows::{
        Flow,
        overdue_to_task::{OverdueToTask, days_overdue},
        payment_to_crm::{PaymentToCrm, PaymentToCrmConfig},
        relations,
    },
    store::{JobStatus, NewEvent, RecordRef, Source, SqliteStore, Store},
    triggers::{ChannelTokens, OverdueScan, Routes, SecretString, System, TriggerConfig},
    worker::{Backoff, RunStats, Worker, WorkerConfig},
};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use triggers_support::{Env, env, eventually};
use zoho::{
    books::{
        ListQuery,
        models::{Contact, CreditNote, CustomerPayment, Invoice, LineItem, PaymentInvoice, Refund},
    },
    crm::{fields::NewField, records::WriteOptions},
};

const CONN: &str = "default";
const DEAL_FIELDS: &[&str] = &["Amount_Paid", "Balance_Due", "Last_Payment_Date", "Payment_Status"];
const ACCOUNT_FIELDS: &[&str] = &["Outstanding_Balance", "Last_Payment_Date"];

/// The routes a user of both flows configures (examples/zoho-bridge.toml).
fn routes() -> Routes {
    Routes::default().with(System::Books, "customerpayments", &["payment_to_crm"]).with(System::Books, "invoices", &["payment_to_crm", "overdue_to_task"]).with(
        System::Books,
        "creditnotes",
        &["payment_to_crm"],
    )
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

struct Cash {
    env: Env,
    n: std::sync::atomic::AtomicU64,
}

/// The payment fields the shipped config writes and a CRM does not have until someone
/// creates them (as `check --online` advises): (module, label, data type).
const PAYMENT_FIELDS: &[(&str, &str, &str)] = &[
    ("Deals", "Balance Due", "currency"),
    ("Deals", "Last Payment Date", "date"),
    ("Accounts", "Outstanding Balance", "currency"),
    ("Accounts", "Last Payment Date", "date"),
];

/// An emulator and store, with the payment fields created through CRM's fields API.
async fn cash(name: &str) -> Cash {
    let cash = Cash { env: env(name).await, n: Default::default() };
    cash.create_payment_fields().await;
    cash
}

impl Cash {
    /// Creates [`PAYMENT_FIELDS`] in CRM, as a user following `check --online` would.
    async fn create_payment_fields(&self) {
        for (module, label, data_type) in PAYMENT_FIELDS {
            self.env.client.crm().create_field(module, &NewField::new(*label, *data_type)).await.unwrap_or_else(|e| panic!("creating {module}.{label}: {e}"));
        }
    }

    fn store(&self) -> &SqliteStore {
        &self.env.store
    }

    fn worker(&self) -> Worker<SqliteStore> {
        let flows: Vec<Arc<dyn Flow>> = vec![Arc::new(PaymentToCrm::default()), Arc::new(OverdueToTask::default())];
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(20),
            backoff: Backoff { base: Duration::from_millis(20), max: Duration::from_millis(200) },
            batch: 4,
            clock: self.env.clock.clone(),
            ..WorkerConfig::new("w1")
        };
        Worker::new(self.store().clone(), flows, self.env.client.clone(), config)
    }

    /// Runs the worker until idle; fails the test on a dead job.
    async fn run(&self) -> RunStats {
        let stats = self.worker().run_until_idle().await.expect("worker");
        let dead = self.store().jobs_with_status(JobStatus::Dead, 100).await.unwrap();
        assert!(dead.is_empty(), "dead jobs: {:?}", dead.iter().map(|j| (&j.key, &j.last_error)).collect::<Vec<_>>());
        stats
    }

    /// Stores a Books webhook event about `module` record `id` with `payload`, and its
    /// routed jobs, as the receiver would.
    async fn books_event(&self, module: &str, id: &str, payload: Value) {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let record = RecordRef::books(module, id);
        let event = NewEvent::for_record(Source::BooksWebhook, CONN, &record, payload, format!("test:{record}:{n}"));
        let jobs = routes().jobs(System::Books, module, id);
        self.store().add_event(&event, &jobs, self.env.clock.now_ms()).await.expect("add_event");
    }

    async fn crm_insert(&self, module: &str, body: Value) -> String {
        let r = self.env.client.crm().insert(module, &[body], &WriteOptions::no_triggers()).await.expect("insert");
        assert!(r[0].is_success(), "{r:?}");
        r[0].id().unwrap().to_string()
    }

    async fn account(&self, name: &str) -> String {
        self.crm_insert("Accounts", json!({"Account_Name": name})).await
    }

    async fn deal(&self, name: &str, account: &str) -> String {
        self.crm_insert("Deals", json!({"Deal_Name": name, "Stage": "Closed Won", "Account_Name": {"id": account}})).await
    }

    async fn customer(&self, name: &str) -> String {
        let contact = Contact { contact_name: Some(name.into()), contact_type: Some("customer".into()), ..Default::default() };
        self.env.client.books().create_contact(&contact).await.expect("contact").contact_id.unwrap()
    }

    /// A sent invoice of `amount` for `customer`, on deal `deal` (native
    /// `zcrm_potential_id`), due in 30 days.
    async fn invoice(&self, customer: &str, deal: &str, amount: &str) -> String {
        let mut extra = serde_json::Map::new();
        extra.insert("zcrm_potential_id".into(), json!(deal));
        let invoice = Invoice {
            customer_id: Some(customer.into()),
            payment_terms: Some(30),
            line_items: vec![LineItem { name: Some("Services".into()), rate: Some(d(amount)), quantity: Some(Decimal::ONE), ..Default::default() }],
            extra,
            ..Default::default()
        };
        let books = self.env.client.books();
        let id = books.create_invoice(&invoice).await.expect("invoice").invoice_id.unwrap();
        books.mark_invoice_sent(&id).await.expect("sent");
        id
    }

    /// Records a payment of `amount` on `date` applied as `applied` (invoice, amount).
    async fn pay(&self, customer: &str, amount: &str, date: &str, applied: &[(&str, &str)]) -> Value {
        let payment = CustomerPayment {
            customer_id: Some(customer.into()),
            payment_mode: Some("banktransfer".into()),
            amount: Some(d(amount)),
            date: Some(date.into()),
            invoices: applied
                .iter()
                .map(|(i, a)| PaymentInvoice { invoice_id: Some(i.to_string()), amount_applied: Some(d(a)), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        let made = self.env.client.books().create_customer_payment(&payment).await.expect("payment");
        serde_json::to_value(made).unwrap()
    }

    async fn crm(&self, module: &str, id: &str, fields: &[&str]) -> Value {
        let record = self.env.client.crm().get::<Value>(module, id, fields).await.unwrap().expect("record");
        let mut out = serde_json::Map::new();
        for f in fields {
            // Amounts as exact decimal text, so 200.5 and 200.50 read the same.
            let value = match record.get(*f) {
                Some(Value::Number(n)) => json!(d(&n.to_string()).normalize().to_string()),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            out.insert(f.to_string(), value);
        }
        Value::Object(out)
    }

    /// The emulator's today, `yyyy-mm-dd`.
    fn today(&self) -> String {
        self.env.emu.state().clock.today()
    }

    async fn advance_days(&self, days: i64) {
        let url = format!("{}/__emulator/clock", self.env.emu.url());
        let r = self.env.http.post(url).json(&json!({"advance_days": days})).send().await.expect("clock");
        assert!(r.status().is_success(), "{}", r.status());
    }
}

/// A deal's payment fields as CRM must hold them.
fn deal(paid: &str, balance: &str, last: Option<&str>, status: &str) -> Value {
    json!({"Amount_Paid": paid, "Balance_Due": balance, "Last_Payment_Date": last, "Payment_Status": status})
}

/// An account's figures as CRM must hold them.
fn account(owed: &str, last: Option<&str>) -> Value {
    json!({"Outstanding_Balance": owed, "Last_Payment_Date": last})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_payments_across_invoices_and_deals_land_with_the_right_balances() {
    let s = cash("cash-partial").await;
    let acme = s.account("Acme, Inc.").await;
    let (d1, d2) = (s.deal("Acme rollout", &acme).await, s.deal("Acme support", &acme).await);
    let customer = s.customer("Acme, Inc.").await;
    let i1 = s.invoice(&customer, &d1, "100").await;
    let i2 = s.invoice(&customer, &d1, "200.50").await;
    let i3 = s.invoice(&customer, &d2, "300").await;

    // Each step: a payment (amount, applications) on a new day, then what CRM must say.
    struct Step<'a> {
        amount: &'a str,
        applied: Vec<(&'a str, &'a str)>,
        d1: (&'a str, &'a str, &'a str),
        d2: (&'a str, &'a str, &'a str),
        owed: &'a str,
    }
    let steps = [
        Step {
            amount: "150",
            applied: vec![(&i1, "100"), (&i3, "50")],
            d1: ("100", "200.5", "Partially Paid"),
            d2: ("50", "250", "Partially Paid"),
            owed: "450.5",
        },
        Step {
            amount: "250.25",
            applied: vec![(&i2, "150.25"), (&i3, "50")],
            d1: ("250.25", "50.25", "Partially Paid"),
            d2: ("100", "200", "Partially Paid"),
            owed: "250.25",
        },
        // A payment larger than what it settles: the rest stays as customer credit.
        Step { amount: "300", applied: vec![(&i2, "50.25"), (&i3, "200")], d1: ("300.5", "0", "Paid"), d2: ("300", "0", "Paid"), owed: "0" },
    ];
    for (n, step) in steps.iter().enumerate() {
        s.advance_days(1).await;
        let date = s.today();
        let payment = s.pay(&customer, step.amount, &date, &step.applied).await;
        let id = payment["payment_id"].as_str().unwrap().to_string();
        s.books_event("customerpayments", &id, json!({"payment": payment})).await;
        let stats = s.run().await;
        assert_eq!(stats.done, 1, "step {n}: {stats:?}");
        let (p1, b1, st1) = step.d1;
        let (p2, b2, st2) = step.d2;
        assert_eq!(s.crm("Deals", &d1, DEAL_FIELDS).await, deal(p1, b1, Some(&date), st1), "step {n}: deal 1");
        let d2_last = step.applied.iter().any(|(i, _)| *i == i3).then_some(date.as_str());
        assert_eq!(s.crm("Deals", &d2, DEAL_FIELDS).await, deal(p2, b2, d2_last, st2), "step {n}: deal 2");
        assert_eq!(s.crm("Accounts", &acme, ACCOUNT_FIELDS).await, account(step.owed, Some(&date)), "step {n}: account");

        // The same webhook again, and the invoices' own events: all up to date, no write.
        s.books_event("customerpayments", &id, json!({"payment": payment})).await;
        for (invoice, _) in &step.applied {
            s.books_event("invoices", invoice, json!({"invoice": {"invoice_id": invoice}})).await;
        }
        let again = s.run().await;
        assert_eq!((again.done, again.dead), (0, 0), "step {n}: repeats write nothing: {again:?}");
    }
    let audit = s.store().audit_for_record("crm", "Deals", &d1).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "update" && a.ok).count(), 3, "one audited update of deal 1 per payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_is_taken_off_the_deal_and_a_deleted_payment_is_undone() {
    let s = cash("cash-refund").await;
    let acme = s.account("Acme Refunds").await;
    let customer = s.customer("Acme Refunds").await;

    // A refund: paid in full, then 30 of it given back through a credit note against the
    // invoice.
    let refunded = s.deal("Refunded deal", &acme).await;
    let inv = s.invoice(&customer, &refunded, "100").await;
    let date = s.today();
    let payment = s.pay(&customer, "100", &date, &[(&inv, "100")]).await;
    s.books_event("customerpayments", payment["payment_id"].as_str().unwrap(), json!({"payment": payment})).await;
    s.run().await;
    assert_eq!(s.crm("Deals", &refunded, DEAL_FIELDS).await, deal("100", "0", Some(&date), "Paid"));
    let books = s.env.client.books();
    let note = CreditNote {
        customer_id: Some(customer.clone()),
        line_items: vec![LineItem { name: Some("Returned licences".into()), rate: Some(d("30")), quantity: Some(Decimal::ONE), ..Default::default() }],
        ..Default::default()
    };
    let note = books.create_credit_note(&note, Some(&inv)).await.expect("credit note").creditnote_id.unwrap();
    books.refund_credit_note(&note, &Refund { amount: Some(d("30")), refund_mode: Some("cash".into()), ..Default::default() }).await.expect("refund");
    s.books_event("creditnotes", &note, json!({"creditnote": {"creditnote_id": note}})).await;
    assert_eq!(s.run().await.done, 1);
    assert_eq!(s.crm("Deals", &refunded, DEAL_FIELDS).await, deal("70", "0", Some(&date), "Refunded"));

    // Deleted payments: one the flow saw before (its snapshot names the invoices), one it
    // learns of only from the deletion webhook (the payload names them).
    for seen_before in [true, false] {
        let name = format!("Deleted payment (seen before: {seen_before})");
        let dl = s.deal(&name, &acme).await;
        let (a, b) = (s.invoice(&customer, &dl, "100").await, s.invoice(&customer, &dl, "100").await);
        let keep = s.pay(&customer, "40", &date, &[(&a, "40")]).await;
        s.books_event("customerpayments", keep["payment_id"].as_str().unwrap(), json!({"payment": keep})).await;
        s.run().await;
        s.advance_days(1).await;
        let later = s.today();
        let gone = s.pay(&customer, "160", &later, &[(&a, "60"), (&b, "100")]).await;
        let gone_id = gone["payment_id"].as_str().unwrap().to_string();
        if seen_before {
            s.books_event("customerpayments", &gone_id, json!({"payment": {"payment_id": gone_id}})).await;
        } else {
            // The deal learns of the payment through an invoice's event only.
            s.books_event("invoices", &a, json!({"invoice": {"invoice_id": a}})).await;
        }
        s.run().await;
        assert_eq!(s.crm("Deals", &dl, DEAL_FIELDS).await, deal("200", "0", Some(&later), "Paid"), "{name}: before the deletion");

        books.delete_customer_payment(&gone_id).await.expect("delete");
        // The seen payment's event carries only its id; the unseen one's the whole payment.
        let payload = if seen_before { json!({"payment": {"payment_id": gone_id}}) } else { json!({"payment": gone}) };
        s.books_event("customerpayments", &gone_id, payload).await;
        let stats = s.run().await;
        assert_eq!(stats.done, 1, "{name}: {stats:?}");
        assert_eq!(s.crm("Deals", &dl, DEAL_FIELDS).await, deal("40", "160", Some(&date), "Partially Paid"), "{name}: after the deletion");
    }
    // The account: what the customer still owes (two deals owing 160 each), and the date
    // of its latest payment left.
    let contact = serde_json::to_value(books.contact(&customer).await.unwrap()).unwrap();
    assert_eq!(contact["outstanding_receivable_amount"], json!(320), "Books: two deals owing 160 each");
    let payments: Vec<Value> = books.list("/books/v3/customerpayments", "customer_payments", ListQuery::new()).try_collect().await.unwrap();
    let last = payments.iter().filter_map(|p| p["date"].as_str()).max().unwrap().to_string();
    assert_eq!(s.crm("Accounts", &acme, ACCOUNT_FIELDS).await, account("320", Some(&last)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_invoices_get_one_task_each_from_webhook_and_scan_and_it_is_completed_on_payment() {
    let s = cash("cash-overdue").await;
    let mut config = TriggerConfig::new(CONN);
    config.webhooks.books_secret = Some(SecretString::new("books-secret"));
    config.routes = routes();
    let base = s.env.serve(config, ChannelTokens::new()).await;
    let r = s
        .env
        .http
        .post(format!("{}/__emulator/books/webhooks", s.env.emu.url()))
        .json(
            &json!({"url": format!("{base}/hooks/books"), "events": ["invoice.overdue", "invoice.paid"], "headers": {"X-Zoho-Bridge-Secret": "books-secret"}}),
        )
        .send()
        .await
        .expect("register webhook");
    assert!(r.status().is_success(), "{}", r.status());

    let acme = s.account("Acme Overdue").await;
    let owner = s.crm("Accounts", &acme, &["Owner"]).await["Owner"]["id"].as_str().unwrap().to_string();
    let (big, small) = (s.deal("Big deal", &acme).await, s.deal("Small deal", &acme).await);
    let customer = s.customer("Acme Overdue").await;
    let i1 = s.invoice(&customer, &big, "1234.5").await;
    let i2 = s.invoice(&customer, &small, "99").await;
    s.advance_days(10).await;
    let not_yet = s.invoice(&customer, &small, "10").await; // due 20 days after the others

    // 35 days on: two invoices are 5 days overdue, the third is not due yet.
    s.advance_days(25).await;
    let store = s.store().clone();
    let arrived = eventually(15, || {
        let store = store.clone();
        async move { store.jobs_with_status(JobStatus::Queued, 100).await.unwrap().iter().filter(|j| j.flow == "overdue_to_task").count() >= 2 }
    })
    .await;
    assert!(arrived, "the invoice.overdue webhooks reached the inbox");
    s.run().await;

    let today = s.today();
    let org = s.env.client.books().organization_id().to_string();
    let books_today: jiff::civil::Date = today.parse().unwrap();
    let task_of = |invoice: &str| {
        let (store, invoice) = (s.store().clone(), invoice.to_string());
        async move { store.link_by_books(CONN, relations::INVOICE_TASK.name, &invoice).await.unwrap().map(|l| l.crm_id) }
    };
    let fields = ["Subject", "Description", "Status", "Priority", "Due_Date", "What_Id", "$se_module", "Owner", "Books_Invoice_ID"];
    for (invoice, deal_id, deal_name, owed) in [(&i1, &big, "Big deal", "USD 1,234.50"), (&i2, &small, "Small deal", "USD 99.00")] {
        let task = task_of(invoice).await.expect("a task linked to the invoice");
        let inv = s.env.client.books().invoice(invoice).await.unwrap();
        let number = inv.invoice_number.clone().unwrap();
        let due = inv.due_date.clone().unwrap();
        let days = days_overdue(&due, books_today).unwrap();
        assert_eq!(days, 5);
        let mut got = s.crm("Tasks", &task, &fields).await;
        got["Owner"] = got["Owner"]["id"].clone();
        got["What_Id"] = got["What_Id"]["id"].clone();
        assert_eq!(
            got,
            json!({
                "Subject": format!("Overdue invoice {number}: {owed} owed, 5 days late"),
                "Description": format!("Books invoice {number} to Acme Overdue ({owed} in all) was due on {due}; {owed} is still owed, 5 days overdue.\nOpen it in Books: https://books.zoho.com/app/{org}#/invoices/{invoice}"),
                "Status": "Not Started",
                "Priority": "High",
                "Due_Date": today,
                "What_Id": deal_id,
                "$se_module": "Deals",
                "Owner": owner,
                "Books_Invoice_ID": invoice,
            }),
            "the task of {deal_name}'s invoice"
        );
    }
    assert!(task_of(&not_yet).await.is_none(), "an invoice not yet due has no task");

    // The daily scan finds the same two invoices: their jobs run, and no task is added;
    // a second scan the same day adds nothing to the inbox.
    let scan = OverdueScan::new(s.store().clone(), s.env.client.clone(), CONN, Duration::from_secs(86_400), s.env.clock.clone());
    let first = scan.scan_once().await.expect("scan");
    assert_eq!((first.overdue, first.new), (2, 2), "{first:?}");
    let stats = s.run().await;
    assert_eq!((stats.done, stats.skipped), (0, 2), "{stats:?}");
    let second = scan.scan_once().await.expect("scan");
    assert_eq!((second.new, second.duplicates), (0, 2), "{second:?}");
    let tasks: Vec<Value> = s.env.client.crm().list("Tasks", zoho::crm::records::ListParams::new(["Books_Invoice_ID"])).try_collect().await.unwrap();
    let mut keys: Vec<&str> = tasks.iter().filter_map(|t| t["Books_Invoice_ID"].as_str()).collect();
    keys.sort();
    let mut want = vec![i1.as_str(), i2.as_str()];
    want.sort();
    assert_eq!(keys, want, "exactly one task per overdue invoice");

    // Paid: its task is completed (the invoice.paid webhook), the other stays open.
    let t1 = task_of(&i1).await.unwrap();
    let t2 = task_of(&i2).await.unwrap();
    s.pay(&customer, "1234.5", &today, &[(&i1, "1234.5")]).await;
    let paid_arrived = eventually(15, || {
        let store = store.clone();
        let i1 = i1.clone();
        async move { store.jobs_with_status(JobStatus::Queued, 100).await.unwrap().iter().any(|j| j.key == format!("books:invoices:{i1}")) }
    })
    .await;
    assert!(paid_arrived, "the invoice.paid webhook reached the inbox");
    s.run().await;
    assert_eq!(s.crm("Tasks", &t1, &["Status"]).await["Status"], "Completed");
    assert_eq!(s.crm("Tasks", &t2, &["Status"]).await["Status"], "Not Started");
    // The deal saw the payment too (the same webhook routes to payment_to_crm).
    assert_eq!(s.crm("Deals", &big, DEAL_FIELDS).await, deal("1234.5", "0", Some(&today), "Paid"));
    assert_eq!(s.crm("Deals", &small, DEAL_FIELDS).await["Payment_Status"], "Overdue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_names_the_missing_crm_fields_and_how_to_create_them() {
    let s = Cash { env: env("cash-check").await, n: Default::default() };
    // A CRM without the payment fields: the check names each, with the fields-API call
    // that creates it; following that advice (against the emulator's fields API) leaves
    // nothing to report.
    let shipped: Vec<Arc<dyn Flow>> = vec![Arc::new(PaymentToCrm::default()), Arc::new(OverdueToTask::default())];
    let findings = check_online(&s.env.client, &shipped, &s.env.clock).await.expect("check");
    let mut missing: Vec<&str> = findings.iter().map(|f| f.setting.as_str()).collect();
    missing.sort();
    assert_eq!(
        missing,
        [
            "flows.payment_to_crm.account.last_payment_date",
            "flows.payment_to_crm.account.outstanding_balance",
            "flows.payment_to_crm.deal.balance_due",
            "flows.payment_to_crm.deal.last_payment_date"
        ],
        "{findings:#?}"
    );
    for (module, label, data_type) in PAYMENT_FIELDS {
        let advice = findings.iter().find(|f| f.problem.contains(&format!("CRM {module} has no field {}", label.replace(' ', "_")))).expect("advice per field");
        let body = format!("POST /crm/v8/settings/fields?module={module} with {{\"fields\":[{{\"field_label\":\"{label}\",\"data_type\":\"{data_type}\"}}]}}");
        assert!(advice.problem.ends_with(&body), "{}", advice.problem);
    }
    s.create_payment_fields().await;
    let findings = check_online(&s.env.client, &shipped, &s.env.clock).await.expect("check");
    assert_eq!(findings, vec![], "the advice followed, nothing is missing");

    let text = "[deal]\nbalance_due = \"Open_Balance\"\n[account]\nlast_payment_date = \"Last_Paid_On\"\n[statuses]\nrefunded = \"Money Back\"\n";
    let config: PaymentToCrmConfig = toml::from_str(text).unwrap();
    let flows: Vec<Arc<dyn Flow>> = vec![Arc::new(config.build().unwrap())];
    let findings = check_online(&s.env.client, &flows, &s.env.clock).await.expect("check");
    let by_setting: BTreeMap<&str, &str> = findings.iter().map(|f| (f.setting.as_str(), f.problem.as_str())).collect();
    assert_eq!(
        by_setting.keys().copied().collect::<Vec<_>>(),
        ["flows.payment_to_crm.account.last_payment_date", "flows.payment_to_crm.deal.balance_due", "flows.payment_to_crm.deal.payment_status"],
        "{findings:#?}"
    );
    assert_eq!(
        by_setting["flows.payment_to_crm.deal.balance_due"],
        "CRM Deals has no field Open_Balance. Create it in CRM: Setup → Customization → Modules and Fields → Deals → Layouts → drag a Currency field in, \
         labelled \"Open Balance\" (CRM makes its API name Open_Balance); or through CRM's fields API: POST /crm/v8/settings/fields?module=Deals with \
         {\"fields\":[{\"field_label\":\"Open Balance\",\"data_type\":\"currency\"}]}"
    );
    assert_eq!(
        by_setting["flows.payment_to_crm.account.last_payment_date"],
        "CRM Accounts has no field Last_Paid_On. Create it in CRM: Setup → Customization → Modules and Fields → Accounts → Layouts → drag a Date field in, \
         labelled \"Last Paid On\" (CRM makes its API name Last_Paid_On); or through CRM's fields API: POST /crm/v8/settings/fields?module=Accounts with \
         {\"fields\":[{\"field_label\":\"Last Paid On\",\"data_type\":\"date\"}]}"
    );
    assert_eq!(
        by_setting["flows.payment_to_crm.deal.payment_status"],
        "the picklist CRM Deals.Payment_Status lacks the value(s) \"Money Back\": add them in CRM (Setup → Customization → Modules and Fields → Deals → \
         Fields → Payment Status → Edit Properties → Pick List Option), or set the flow's values to ones it has (-None-, Unpaid, Partially Paid, Paid, \
         Overdue, Refunded)"
    );
}
