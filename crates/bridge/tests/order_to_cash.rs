//! Order to cash against the emulator and a real SQLite store, the flows built from a
//! config as the engine builds them: each case asserts the exact Books document (its
//! customer, lines, rates, discounts, taxes, totals, currency, custom fields).
//!
//! deal_to_invoice: a single product; no products; line discounts; JPY and KWD; awkward
//! names; 150 lines; the deal's currency differing from its customer's under each
//! policy; no matching tax rule (dead letter, the rule added, replay); a deal closed
//! twice with duplicated and reordered webhooks; a retry after Books committed.
//! deal_to_credit_note: lost after a partial payment; the amount lowered twice; a credit
//! note asked for (a lowering the flow never saw, credited once; an invoice credited by
//! hand left to a person).

mod common;

use bridge::{
    flows::{deal_to_credit_note, deal_to_invoice, relations},
    store::{JobStatus, RecordRef, SqliteStore, Store},
};
use common::orders::{CONN, World};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const BOTH: &[&str] = &[deal_to_invoice::NAME, deal_to_credit_note::NAME];

/// The tax rules every case runs under (the emulator's taxes: Sales Tax 8.25 %, GST 5 %,
/// VAT 20 %, City Tax 3.25 %, group "State + City" = GST + City Tax).
const RULES: &str = r#"
[[money.tax_rules]]
name = "US California"
countries = ["US"]
states = ["CA"]
tax = "Sales Tax"

[[money.tax_rules]]
name = "US other states"
countries = ["US"]
tax = "State + City"

[[money.tax_rules]]
name = "Japan"
countries = ["JP"]
tax = "GST"

[[money.tax_rules]]
name = "Kuwait"
countries = ["KW"]
tax = "VAT"
"#;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn deal(id: &str) -> RecordRef {
    RecordRef::crm("Deals", id)
}

/// An account (its Books customer made by customer_sync on the first deal).
async fn account(w: &World, name: &str, country: &str, state: &str) -> String {
    w.crm_insert("Accounts", json!({"Account_Name": name, "Billing_Country": country, "Billing_State": state})).await
}

/// An account whose Books customer exists already, in `currency`.
async fn account_in(w: &World, name: &str, country: &str, currency: &str) -> String {
    let id = account(w, name, country, "").await;
    let currency_id = w.currency_id(currency).await;
    w.books_contact(json!({
        "contact_name": name, "company_name": name, "contact_type": "customer", "currency_id": currency_id,
        "billing_address": {"country": country}, "zcrm_account_id": id,
        "custom_fields": [{"api_name": "cf_crm_account_id", "value": id}],
    }))
    .await;
    id
}

/// A closed-won deal of `account`.
async fn won_deal(w: &World, name: &str, account: &str, amount: &str, currency: Option<&str>) -> String {
    let mut fields = json!({"Deal_Name": name, "Stage": "Closed Won", "Amount": amount.parse::<f64>().unwrap(), "Account_Name": {"id": account}});
    if let Some(c) = currency {
        fields["Currency"] = json!(c);
    }
    w.crm_insert("Deals", fields).await
}

/// One expected line: name, rate, quantity, discount, tax name, item total.
type Line<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Asserts the invoice made for `deal_id`.
fn assert_invoice(inv: &Value, deal_id: &str, customer: &str, currency: &str, lines: &[Line], totals: (&str, &str, &str)) {
    assert_eq!(inv["customer_name"], customer, "{inv:#}");
    assert_eq!(inv["currency_code"], currency);
    assert_eq!(inv["reference_number"], deal_id);
    assert_eq!(inv["zcrm_potential_id"], deal_id);
    assert_eq!(inv["status"], "draft");
    let cf = inv["custom_fields"].as_array().unwrap().iter().find(|c| c["api_name"] == "cf_crm_deal_id").expect("cf_crm_deal_id");
    assert_eq!(cf["value"], deal_id);
    let got = inv["line_items"].as_array().unwrap();
    assert_eq!(got.len(), lines.len(), "{inv:#}");
    for (n, (g, (name, rate, qty, discount, tax, total))) in got.iter().zip(lines).enumerate() {
        assert_eq!(g["name"], *name, "line {n}");
        assert_eq!((dec(&g["rate"]), dec(&g["quantity"]), dec(&g["discount"])), (d(rate), d(qty), d(discount)), "line {n}: {g:#}");
        assert_eq!(g["tax_name"], *tax, "line {n}");
        assert_eq!(dec(&g["item_total"]), d(total), "line {n}");
    }
    assert_eq!((dec(&inv["sub_total"]), dec(&inv["tax_total"]), dec(&inv["total"])), (d(totals.0), d(totals.1), d(totals.2)), "{inv:#}");
}

#[tokio::test]
async fn a_closed_won_deal_becomes_the_invoice_an_accountant_would_type() {
    let w = World::new(RULES).await;
    let widget = w.product("Widget", "W-1", "100").await;
    let gadget = w.product("Gadget", "G-1", "33.33").await;
    let bolt = w.product("Bolt", "B-1", "50").await;
    let odd = w.product("Gizmo \"Ünïcode\" (v2), 🚀", "Z-1", "10").await;

    struct Case<'a> {
        name: &'a str,
        account: String,
        customer: &'a str,
        currency: &'a str,
        deal_currency: Option<&'a str>,
        amount: &'a str,
        products: Vec<(&'a str, &'a str, &'a str, &'a str)>,
        lines: Vec<Line<'a>>,
        totals: (&'a str, &'a str, &'a str),
    }
    let awkward = "O'Brien \"Ünïcode\" (Café), Ltd. 🚀";
    let cases = vec![
        Case {
            name: "single product, California",
            account: account(&w, "Acme West", "US", "CA").await,
            customer: "Acme West",
            currency: "USD",
            deal_currency: None,
            amount: "200",
            products: vec![(&widget, "2", "100", "0")],
            lines: vec![("Widget", "100", "2", "0", "Sales Tax", "200")],
            totals: ("200", "16.50", "216.50"),
        },
        Case {
            name: "no products: one line of the Amount, New York (a tax group)",
            account: account(&w, "Acme East", "United States", "New York").await,
            customer: "Acme East",
            currency: "USD",
            deal_currency: None,
            amount: "1234.56",
            products: vec![],
            lines: vec![("no products: one line of the Amount, New York (a tax group)", "1234.56", "1", "0", "State + City", "1234.56")],
            totals: ("1234.56", "101.85", "1336.41"),
        },
        Case {
            // CRM keeps a line discount as an amount: 10 % of 99.99 is 10.00.
            name: "line discounts, as a percentage and an amount",
            account: account(&w, "Acme South", "US", "California").await,
            customer: "Acme South",
            currency: "USD",
            deal_currency: None,
            amount: "134.99",
            products: vec![(&gadget, "3", "33.33", "10"), (&bolt, "1", "50", "5")],
            lines: vec![("Gadget", "33.33", "3", "10", "Sales Tax", "89.99"), ("Bolt", "50", "1", "5", "Sales Tax", "45")],
            totals: ("134.99", "11.13", "146.12"),
        },
        Case {
            name: "JPY: no decimal places",
            account: account_in(&w, "Tokyo KK", "Japan", "JPY").await,
            customer: "Tokyo KK",
            currency: "JPY",
            deal_currency: Some("JPY"),
            amount: "4500",
            products: vec![(&widget, "3", "1500.4", "0")],
            lines: vec![("Widget", "1500", "3", "0", "GST", "4500")],
            totals: ("4500", "225", "4725"),
        },
        Case {
            name: "KWD: three decimal places",
            account: account_in(&w, "Kuwait Co", "Kuwait", "KWD").await,
            customer: "Kuwait Co",
            currency: "KWD",
            deal_currency: Some("KWD"),
            amount: "24.69",
            products: vec![(&widget, "2", "12.345", "0")],
            lines: vec![("Widget", "12.345", "2", "0", "VAT", "24.690")],
            totals: ("24.690", "4.938", "29.628"),
        },
        Case {
            name: "names with quotes, commas, parentheses, accents and emoji",
            account: account(&w, awkward, "US", "CA").await,
            customer: awkward,
            currency: "USD",
            deal_currency: None,
            amount: "10",
            products: vec![(&odd, "1", "10", "0")],
            lines: vec![("Gizmo \"Ünïcode\" (v2), 🚀", "10", "1", "0", "Sales Tax", "10")],
            totals: ("10", "0.83", "10.83"),
        },
    ];
    for case in &cases {
        let id = won_deal(&w, case.name, &case.account, case.amount, case.deal_currency).await;
        if !case.products.is_empty() {
            w.relate(&id, &case.products).await;
        }
        w.changed(deal(&id), BOTH).await;
        w.run().await;
        assert_eq!(w.dead().await, vec![], "{}", case.name);
        let link = w.store.link_by_crm(CONN, relations::DEAL_INVOICE.name, &id).await.unwrap().unwrap_or_else(|| panic!("{}: no invoice link", case.name));
        let inv = serde_json::to_value(w.client.books().invoice(&link.books_id).await.unwrap()).unwrap();
        assert_invoice(&inv, &id, case.customer, case.currency, &case.lines, case.totals);
        for (line, (product, ..)) in inv["line_items"].as_array().unwrap().iter().zip(&case.products) {
            assert_eq!(line["item_id"], w.item_of(product).await.as_str(), "{}", case.name);
        }
        // The invoice id is written back to the deal.
        assert_eq!(w.crm_get("Deals", &id, &["Books_Invoice_ID"]).await["Books_Invoice_ID"], link.books_id.as_str(), "{}", case.name);
    }
    assert_eq!(w.invoices().await.len(), cases.len());
    // No totals mismatch was recorded: each Amount is what Books computed before tax.
    for inv in w.invoices().await {
        let audit = w.store.audit_for_record("books", "invoices", inv["invoice_id"].as_str().unwrap()).await.unwrap();
        assert!(audit.iter().all(|a| a.action != "totals_mismatch"), "{audit:?}");
    }
}

#[tokio::test]
async fn a_deal_of_150_lines_is_one_invoice_of_150_lines() {
    let w = World::new(RULES).await;
    let account = account(&w, "Bulk Buyer", "US", "CA").await;
    let mut products = Vec::new();
    for n in 0..150 {
        products.push(w.product(&format!("Part {n:03}"), &format!("P-{n:03}"), "1.10").await);
    }
    let lines: Vec<(&str, &str, &str, &str)> = products.iter().map(|p| (p.as_str(), "3", "1.10", "0")).collect();
    let id = won_deal(&w, "Bulk order", &account, "495", None).await;
    w.relate(&id, &lines).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    let got = inv["line_items"].as_array().unwrap();
    assert_eq!(got.len(), 150);
    for (n, line) in got.iter().enumerate() {
        assert_eq!((line["name"].as_str().unwrap(), dec(&line["item_total"]), dec(&line["quantity"])), (format!("Part {n:03}").as_str(), d("3.30"), d("3")));
    }
    // 150 × 3.30 = 495.00; tax per line round(3.30 × 8.25 %) = 0.27, × 150 = 40.50.
    assert_eq!((dec(&inv["sub_total"]), dec(&inv["tax_total"]), dec(&inv["total"])), (d("495"), d("40.50"), d("535.50")));
}

#[tokio::test]
async fn a_deal_in_another_currency_follows_the_policy() {
    // refuse: dead-lettered naming both currencies.
    let w = World::new("").await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Euro deal", &acme, "100", Some("EUR")).await;
    w.relate(&id, &[(&widget, "1", "100", "0")]).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    let dead = w.dead().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].1.contains("is in EUR but its Books customer \"Acme\"") && dead[0].1.contains("bills in USD"), "{}", dead[0].1);
    assert!(w.invoices().await.is_empty());

    // per_currency_customer: "Acme (EUR)" in EUR, made once for two deals.
    let w = World::new("[money.currency]\npolicy = \"per_currency_customer\"\n").await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    for n in 0..2 {
        let id = won_deal(&w, &format!("Euro deal {n}"), &acme, "100", Some("EUR")).await;
        w.relate(&id, &[(&widget, "1", "100", "0")]).await;
        w.changed(deal(&id), BOTH).await;
        w.run().await;
    }
    assert_eq!(w.dead().await, vec![]);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 2);
    for inv in &invoices {
        assert_eq!((inv["customer_name"].as_str(), inv["currency_code"].as_str(), dec(&inv["total"])), (Some("Acme (EUR)"), Some("EUR"), d("100")));
    }
    assert_eq!(invoices[0]["customer_id"], invoices[1]["customer_id"]);
    let euro = w.client.books().contact(invoices[0]["customer_id"].as_str().unwrap()).await.unwrap();
    assert_eq!(serde_json::to_value(&euro).unwrap()["custom_fields"][0]["value"], format!("{acme}-EUR"));

    // convert at the deal's rate: 100 EUR at 0.92 EUR per USD = 108.70 USD.
    let w = World::new("[money.currency]\npolicy = \"convert\"\nrates = \"deal\"\n").await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Euro deal", &acme, "100", Some("EUR")).await;
    w.relate(&id, &[(&widget, "1", "100", "0")]).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1);
    assert_eq!((invoices[0]["customer_name"].as_str(), invoices[0]["currency_code"].as_str()), (Some("Acme"), Some("USD")));
    assert_eq!((dec(&invoices[0]["line_items"][0]["rate"]), dec(&invoices[0]["total"])), (d("108.70"), d("108.70")));
}

#[tokio::test]
async fn a_deal_matching_no_tax_rule_is_dead_lettered_then_replayed_after_the_rule_is_added() {
    let mut w = World::new(RULES).await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme Brasil", "Brazil", "SP").await;
    let id = won_deal(&w, "Brazil deal", &acme, "100", None).await;
    w.relate(&id, &[(&widget, "1", "100", "0")]).await;
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    let dead = w.dead().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].1.contains("no tax rule matches billing country \"Brazil\", state \"SP\""), "{}", dead[0].1);
    assert!(w.invoices().await.is_empty(), "never an invoice with a wrong tax");
    w.configure(&format!("{RULES}\n[[money.tax_rules]]\nname = \"Brazil\"\ncountries = [\"BR\"]\ntax = \"VAT\"\n"));
    w.store.replay(dead[0].0, bridge::flows::now_ms()).await.unwrap();
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1);
    assert_invoice(&invoices[0], &id, "Acme Brasil", "USD", &[("Widget", "100", "1", "0", "VAT", "100")], ("100", "20", "120"));
}

#[tokio::test]
async fn a_deal_closed_twice_with_repeated_and_reordered_webhooks_is_invoiced_once() {
    let mut w = World::new(RULES).await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Twice", &acme, "100", None).await;
    w.relate(&id, &[(&widget, "1", "100", "0")]).await;
    // The same change delivered twice, then the deal reopened and closed again, the
    // webhooks of the two changes arriving in the opposite order.
    w.changed(deal(&id), BOTH).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    w.crm_update("Deals", &id, json!({"Stage": "Negotiation/Review"})).await;
    w.crm_update("Deals", &id, json!({"Stage": "Closed Won"})).await;
    w.changed(deal(&id), BOTH).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    w.crm_update("Deals", &id, json!({"Stage": "Negotiation/Review"})).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    w.crm_update("Deals", &id, json!({"Stage": "Closed Won"})).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    assert_eq!(w.invoices().await.len(), 1);

    // A crash after Books committed: the store lost the run's link and snapshot (a
    // fresh store), and the job runs again: Books' upsert finds the invoice.
    let dir = common::TempDir::new("orders-fresh");
    w.store = SqliteStore::open(dir.0.join("store.db")).await.unwrap();
    // The product's link comes back the way it was made (catalog_sync's upsert finds
    // the item).
    w.changed(RecordRef::crm("Products", &widget), &["catalog_sync"]).await;
    w.run().await;
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1, "still one invoice");
    let link = w.store.link_by_crm(CONN, relations::DEAL_INVOICE.name, &id).await.unwrap().unwrap();
    assert_eq!(invoices[0]["invoice_id"], link.books_id.as_str());
}

#[tokio::test]
async fn a_deal_already_closed_when_last_seen_is_invoiced_when_asked_for_and_only_once() {
    // The stage setting named another stage when the deal closed: the engine saw it
    // Closed Won and did nothing.
    let mut w = World::new(&format!("[flows.deal_to_invoice]\nstage = \"Won\"\n{RULES}")).await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Late", &acme, "100", None).await;
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    // Set right, a webhook of the deal is not a new close: nothing happens.
    w.configure(RULES);
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    assert_eq!(w.invoices().await.len(), 0);
    let skipped = w.store.jobs_with_status(JobStatus::Skipped, 10).await.unwrap();
    assert!(skipped.last().unwrap().outcome.as_deref().unwrap().contains("not a new close"), "{skipped:?}");
    // A person asks for the invoice: it is made, once, however often they ask.
    w.asked(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    assert_eq!(w.invoices().await.len(), 1);
    w.asked(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    assert_eq!(w.invoices().await.len(), 1, "a second request changes nothing");
    let skipped = w.store.jobs_with_status(JobStatus::Skipped, 10).await.unwrap();
    assert!(skipped.last().unwrap().outcome.as_deref().unwrap().contains("already invoiced"), "{skipped:?}");
}

/// Pays `amount` of an invoice (marked sent first).
async fn pay(w: &World, invoice: &Value, amount: &str) {
    let id = invoice["invoice_id"].as_str().unwrap();
    let payment = zoho::books::models::CustomerPayment {
        customer_id: invoice["customer_id"].as_str().map(str::to_string),
        payment_mode: Some("cash".into()),
        amount: Some(d(amount)),
        date: invoice["date"].as_str().map(str::to_string),
        invoices: vec![zoho::books::models::PaymentInvoice { invoice_id: Some(id.into()), amount_applied: Some(d(amount)), ..Default::default() }],
        ..Default::default()
    };
    w.client.books().create_customer_payment(&payment).await.expect("payment");
}

#[tokio::test]
async fn a_deal_lost_after_a_partial_payment_is_credited_what_is_unpaid() {
    let config = format!("[flows.deal_to_invoice]\nmark_sent = true\n{RULES}");
    let w = World::new(&config).await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Lost later", &acme, "200", None).await;
    w.relate(&id, &[(&widget, "2", "100", "0")]).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    let inv = &w.invoices().await[0];
    assert_eq!((inv["status"].as_str(), dec(&inv["total"])), (Some("sent"), d("216.50")));
    pay(&w, inv, "50").await;
    w.crm_update("Deals", &id, json!({"Stage": "Closed Lost"})).await;
    w.changed(deal(&id), BOTH).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let notes = w.credit_notes().await;
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let note = &notes[0];
    assert_eq!((dec(&note["total"]), dec(&note["balance"]), note["reference_number"].as_str()), (d("166.50"), d("0"), Some(format!("{id}/1").as_str())));
    assert_eq!(note["invoices"][0]["invoice_id"], inv["invoice_id"]);
    assert_eq!(note["line_items"][0]["tax_id"], "");
    let after = &w.invoices().await[0];
    assert_eq!((after["status"].as_str(), dec(&after["balance"]), dec(&after["credits_applied"])), (Some("paid"), d("0"), d("166.50")));
    let link = w.store.link_by_crm(CONN, relations::DEAL_CREDITNOTE.name, &id).await.unwrap().unwrap();
    assert_eq!(note["creditnote_id"], link.books_id.as_str());
}

#[tokio::test]
async fn an_amount_lowered_twice_is_credited_twice_with_the_invoice_tax_and_never_again() {
    let config = format!("[flows.deal_to_invoice]\nmark_sent = true\n{RULES}");
    let w = World::new(&config).await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Shrinking", &acme, "200", None).await;
    w.changed(deal(&id), BOTH).await;
    w.run().await;
    assert_eq!(dec(&w.invoices().await[0]["total"]), d("216.50"));
    for amount in [150.0, 120.0] {
        w.crm_update("Deals", &id, json!({"Amount": amount})).await;
        w.changed(deal(&id), BOTH).await;
        w.changed(deal(&id), BOTH).await;
        w.run().await;
    }
    assert_eq!(w.dead().await, vec![]);
    let mut notes = w.credit_notes().await;
    notes.sort_by_key(|n| n["reference_number"].as_str().unwrap().to_string());
    assert_eq!(notes.len(), 2, "{notes:#?}");
    // 50 + 8.25 % = 54.13; 30 + 8.25 % = 32.48 (2.475 rounds up).
    let got: Vec<(Decimal, Decimal, String)> =
        notes.iter().map(|n| (dec(&n["line_items"][0]["rate"]), dec(&n["total"]), n["line_items"][0]["tax_name"].as_str().unwrap().to_string())).collect();
    assert_eq!(got, vec![(d("50"), d("54.13"), "Sales Tax".to_string()), (d("30"), d("32.48"), "Sales Tax".to_string())]);
    let inv = &w.invoices().await[0];
    assert_eq!((dec(&inv["credits_applied"]), dec(&inv["balance"])), (d("86.61"), d("129.89")));
    assert!(w.store.jobs_with_status(JobStatus::Dead, 10).await.unwrap().is_empty());
}

/// The outcome of the latest skipped run of `flow`.
async fn last_skip(w: &World, flow: &str) -> String {
    let skipped = w.store.jobs_with_status(JobStatus::Skipped, 1000).await.unwrap();
    let last = skipped.into_iter().filter(|j| j.flow == flow).max_by_key(|j| j.id).expect("a skipped run");
    last.outcome.unwrap_or_default()
}

#[tokio::test]
async fn a_credit_note_asked_for_credits_what_the_invoice_bills_beyond_the_deal_once() {
    let config = format!("[flows.deal_to_invoice]\nmark_sent = true\n{RULES}");
    let w = World::new(&config).await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Asked", &acme, "200", None).await;
    // Invoiced; the credit note flow has not seen the deal yet.
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    assert_eq!(dec(&w.invoices().await[0]["total"]), d("216.50"));

    // Lowered, first seen by a webhook after the fact: the flow takes 150 as its
    // baseline and credits nothing by itself.
    w.crm_update("Deals", &id, json!({"Amount": 150.0})).await;
    w.changed(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.run().await;
    assert!(w.credit_notes().await.is_empty(), "a webhook's first look is the baseline");

    // Asked: the invoice bills 200 before tax, the deal says 150: 50 + 8.25 % credited.
    w.asked(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.run().await;
    assert_eq!(w.dead().await, vec![]);
    let notes = w.credit_notes().await;
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!((dec(&notes[0]["line_items"][0]["rate"]), dec(&notes[0]["total"])), (d("50"), d("54.13")));
    let inv = &w.invoices().await[0];
    assert_eq!(notes[0]["invoices"][0]["invoice_id"], inv["invoice_id"], "applied to the invoice");
    assert_eq!((dec(&inv["credits_applied"]), dec(&inv["balance"])), (d("54.13"), d("162.37")));

    // Asked twice more, and a webhook: never a second note.
    w.asked(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.asked(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.changed(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.run().await;
    assert_eq!(w.credit_notes().await.len(), 1);
    let why = last_skip(&w, deal_to_credit_note::NAME).await;
    assert!(why.contains("no change that takes money back"), "the webhook: {why}");
    let asked: Vec<_> = w.store.jobs_with_status(JobStatus::Skipped, 1000).await.unwrap().into_iter().filter(|j| j.flow == deal_to_credit_note::NAME).collect();
    let why = asked[asked.len() - 2].outcome.clone().unwrap_or_default();
    assert!(
        why.starts_with(&format!("nothing to credit: CRM deal {id} is Closed Won at 150 USD, and Books invoice"))
            && why.contains("stands for 150 USD before tax, after the 54.13 USD zoho-bridge credited"),
        "a request says why: {why}"
    );

    // Lowered again, seen by its webhook: only the new difference (150 -> 120).
    w.crm_update("Deals", &id, json!({"Amount": 120.0})).await;
    w.changed(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.asked(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.run().await;
    let mut notes = w.credit_notes().await;
    notes.sort_by_key(|n| n["reference_number"].as_str().unwrap().to_string());
    assert_eq!(notes.iter().map(|n| dec(&n["line_items"][0]["rate"])).collect::<Vec<_>>(), vec![d("50"), d("30")]);
}

#[tokio::test]
async fn a_credit_note_asked_for_an_invoice_credited_by_hand_is_left_to_a_person() {
    let config = format!("[flows.deal_to_invoice]\nmark_sent = true\n{RULES}");
    let w = World::new(&config).await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = won_deal(&w, "Credited by hand", &acme, "200", None).await;
    w.changed(deal(&id), &[deal_to_invoice::NAME]).await;
    w.run().await;
    let inv = &w.invoices().await[0];
    let line = zoho::books::models::LineItem { name: Some("Goodwill".into()), rate: Some(d("20")), quantity: Some(Decimal::ONE), ..Default::default() };
    let note = zoho::books::models::CreditNote { customer_id: inv["customer_id"].as_str().map(str::to_string), line_items: vec![line], ..Default::default() };
    let made = w.client.books().create_credit_note(&note, None).await.expect("a credit note by hand");
    let applied = zoho::books::models::CreditApplication {
        invoice_id: inv["invoice_id"].as_str().map(str::to_string),
        amount_applied: Some(d("20")),
        ..Default::default()
    };
    w.client.books().apply_credit_note(made.creditnote_id.as_deref().unwrap(), &[applied]).await.expect("applied by hand");
    assert_eq!(dec(&w.invoices().await[0]["credits_applied"]), d("20"));
    w.crm_update("Deals", &id, json!({"Amount": 150.0})).await;
    w.asked(deal(&id), &[deal_to_credit_note::NAME]).await;
    w.run().await;
    assert_eq!(w.credit_notes().await.len(), 1, "only the note made by hand");
    let why = last_skip(&w, deal_to_credit_note::NAME).await;
    assert!(why.contains("credits zoho-bridge did not make"), "{why}");
}
