//! quote_to_invoice against the emulator and a real SQLite store, the flows built from a
//! config as the engine builds them. Each case is a CRM quote reaching the accepted
//! stage and asserts the exact draft Books invoice (customer, currency, lines with their
//! rates, quantities, discounts, taxes and totals, the document discount and its place,
//! the adjustment, terms, reference, deal and quote ids) and that Books' total equals the
//! quote's Grand_Total as CRM computed it, or, where it cannot, that the totals check
//! recorded the difference with its cause.
//!
//! Cases: line discounts (an amount, and one CRM computed from a percentage); the quote
//! discount after tax, and with a line discount of its own; an adjustment; JPY and KWD
//! (per-currency customers); two taxes on a line through `[tables.tax]` and a product
//! not yet synced; tax rules applied (and one giving another tax than the quote's); the
//! quote discount before tax; a quote not (yet) accepted; accepted twice with repeated
//! webhooks, and a retry after Books committed.

mod common;

use bridge::{
    flows::{quote_to_invoice, relations},
    money::TOTALS_MISMATCH,
    store::{RecordRef, SqliteStore, Store},
};
use common::orders::{CONN, World};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const FLOW: &[&str] = &[quote_to_invoice::NAME];

/// Quotes in another currency than their customer's get a customer of their own.
const PER_CURRENCY: &str = "[money.currency]\npolicy = \"per_currency_customer\"\n";

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

fn quote(id: &str) -> RecordRef {
    RecordRef::crm("Quotes", id)
}

/// A CRM account (its Books customer made by customer_sync on its first quote).
async fn account(w: &World, name: &str, country: &str, state: &str) -> String {
    w.crm_insert("Accounts", json!({"Account_Name": name, "Billing_Country": country, "Billing_State": state})).await
}

/// One quote line: product, quantity, list price, discount amount, CRM taxes (name, %).
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A quote of `account` in `stage` with `rows`, a quote discount and an adjustment.
async fn new_quote(w: &World, account: &str, stage: &str, currency: &str, rows: &[Row<'_>], discount: &str, adjustment: &str) -> String {
    let items: Vec<Value> = rows
        .iter()
        .map(|(product, qty, price, discount, taxes)| {
            let taxes: Vec<Value> = taxes.iter().map(|(name, pct)| json!({"name": name, "percentage": pct.parse::<f64>().unwrap()})).collect();
            json!({"Product_Name": {"id": product}, "Quantity": qty.parse::<f64>().unwrap(), "List_Price": price.parse::<f64>().unwrap(),
                   "Discount": discount.parse::<f64>().unwrap(), "Line_Tax": taxes})
        })
        .collect();
    w.crm_insert(
        "Quotes",
        json!({
            "Subject": "Quote", "Quote_Stage": stage, "Account_Name": {"id": account}, "Currency": currency, "Quoted_Items": items,
            "Discount": discount.parse::<f64>().unwrap(), "Adjustment": adjustment.parse::<f64>().unwrap(),
            "Terms_and_Conditions": "Payment within 30 days.",
        }),
    )
    .await
}

/// The quote as CRM computed it.
async fn crm_quote(w: &World, id: &str) -> Value {
    w.crm_get("Quotes", id, &["Quote_Number", "Sub_Total", "Tax", "Discount", "Grand_Total", "Books_Invoice_ID", "Deal_Name"]).await
}

/// The invoice holding `quote_id` in its custom field (exactly one).
fn invoice_of<'a>(invoices: &'a [Value], quote_id: &str) -> &'a Value {
    let mine: Vec<&Value> = invoices
        .iter()
        .filter(|inv| inv["custom_fields"].as_array().unwrap().iter().any(|c| c["api_name"] == "cf_crm_quote_id" && c["value"] == quote_id))
        .collect();
    assert_eq!(mine.len(), 1, "one invoice for quote {quote_id}: {mine:#?}");
    mine[0]
}

/// The totals mismatches recorded on an invoice.
async fn mismatches(w: &World, invoice_id: &str) -> Vec<Value> {
    let audit = w.store.audit_for_record("books", "invoices", invoice_id).await.unwrap();
    audit.into_iter().filter(|a| a.action == TOTALS_MISMATCH).map(|a| a.request).collect()
}

/// One expected line: name, rate, quantity, discount, tax name, item total, description.
type Line<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// What the invoice of a quote must be.
struct Expected<'a> {
    customer: &'a str,
    currency: &'a str,
    /// `discount_type`, document discount, `is_discount_before_tax`.
    discount: (&'a str, &'a str, bool),
    adjustment: &'a str,
    lines: Vec<Line<'a>>,
    /// Sub total, tax total, total.
    totals: (&'a str, &'a str, &'a str),
}

/// Asserts the invoice made for quote `quote_id` (as CRM has it now): the document, the
/// quote's Books_Invoice_ID and the link.
async fn assert_invoice(w: &World, inv: &Value, quote_id: &str, want: &Expected<'_>) {
    let crm = crm_quote(w, quote_id).await;
    let id = inv["invoice_id"].as_str().unwrap();
    assert_eq!((inv["customer_name"].as_str(), inv["currency_code"].as_str()), (Some(want.customer), Some(want.currency)), "{inv:#}");
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["reference_number"], crm["Quote_Number"]);
    assert_eq!(inv["terms"], "Payment within 30 days.");
    let deal = crm["Deal_Name"]["id"].as_str().unwrap_or_default();
    assert_eq!(inv["zcrm_potential_id"], deal);
    assert_eq!(
        (inv["discount_type"].as_str(), dec(&inv["discount"]), inv["is_discount_before_tax"].as_bool()),
        (Some(want.discount.0), d(want.discount.1), Some(want.discount.2)),
        "{inv:#}"
    );
    assert_eq!(dec(&inv["adjustment"]), d(want.adjustment));
    let got = inv["line_items"].as_array().unwrap();
    assert_eq!(got.len(), want.lines.len(), "{inv:#}");
    for (n, (g, (name, rate, qty, discount, tax, total, description))) in got.iter().zip(&want.lines).enumerate() {
        assert_eq!((g["name"].as_str(), g["description"].as_str()), (Some(*name), Some(*description)), "line {n}");
        assert_eq!((dec(&g["rate"]), dec(&g["quantity"]), dec(&g["discount"])), (d(rate), d(qty), d(discount)), "line {n}: {g:#}");
        assert_eq!(g["tax_name"], *tax, "line {n}");
        assert_eq!(dec(&g["item_total"]), d(total), "line {n}");
    }
    assert_eq!((dec(&inv["sub_total"]), dec(&inv["tax_total"]), dec(&inv["total"])), (d(want.totals.0), d(want.totals.1), d(want.totals.2)), "{inv:#}");
    assert_eq!(crm["Books_Invoice_ID"], id, "the invoice id is written back");
    let link = w.store.link_by_crm(CONN, relations::QUOTE_INVOICE.name, quote_id).await.unwrap().expect("quote_invoice link");
    assert_eq!(link.books_id, id);
}

#[tokio::test]
async fn an_accepted_quote_becomes_the_draft_invoice_an_accountant_would_type() {
    let mut w = World::new(PER_CURRENCY).await;
    let widget = w.product("Widget", "W-1", "19.99").await;
    let gadget = w.product("Gadget", "G-1", "100").await;
    // Not synced: the flow syncs it first.
    let bolt = w.crm_insert("Products", json!({"Product_Name": "Bolt", "Product_Code": "B-1", "Unit_Price": 25})).await;
    let taxes: Vec<zoho::books::models::Tax> = w.client.books().taxes().try_collect().await.unwrap();
    let group = taxes.iter().find(|t| t.tax_name.as_deref() == Some("State + City")).and_then(|t| t.tax_id.clone()).expect("tax group");
    // A line taxed twice in CRM is one Books tax group, found through [tables.tax].
    w.configure(&format!("{PER_CURRENCY}\n[tables.tax]\n\"GST, City Tax\" = \"{group}\"\n"));
    let acme = account(&w, "Acme West", "US", "CA").await;
    let deal = w.crm_insert("Deals", json!({"Deal_Name": "Acme renewal", "Stage": "Qualification", "Account_Name": {"id": acme}})).await;
    let sales: &[(&str, &str)] = &[("Sales Tax", "8.25")];

    struct Case<'a> {
        name: &'a str,
        currency: &'a str,
        rows: Vec<Row<'a>>,
        discount: &'a str,
        adjustment: &'a str,
        want: Expected<'a>,
    }
    let item_level = ("item_level", "0", true);
    let cases = [
        Case {
            name: "line discounts: an amount, and one CRM computed from 10 %",
            currency: "USD",
            rows: vec![(&widget, "3", "19.99", "5", sales), (&gadget, "2", "100", "20", sales)],
            discount: "0",
            adjustment: "0",
            want: Expected {
                customer: "Acme West",
                currency: "USD",
                discount: item_level,
                adjustment: "0",
                // 54.97 × 8.25 % = 4.535025 -> 4.54; 180 × 8.25 % = 14.85.
                lines: vec![("Widget", "19.99", "3", "5", "Sales Tax", "54.97", ""), ("Gadget", "100", "2", "20", "Sales Tax", "180", "")],
                totals: ("234.97", "19.39", "254.36"),
            },
        },
        Case {
            name: "quote discount after tax",
            currency: "USD",
            rows: vec![(&widget, "3", "19.99", "0", sales), (&gadget, "1", "40", "0", sales)],
            discount: "10",
            adjustment: "0",
            want: Expected {
                customer: "Acme West",
                currency: "USD",
                discount: ("entity_level", "10", false),
                adjustment: "0",
                // 59.97 × 8.25 % = 4.947525 -> 4.95; 40 × 8.25 % = 3.30; 99.97 + 8.25 - 10.
                lines: vec![("Widget", "19.99", "3", "0", "Sales Tax", "59.97", ""), ("Gadget", "40", "1", "0", "Sales Tax", "40", "")],
                totals: ("99.97", "8.25", "98.22"),
            },
        },
        Case {
            name: "quote discount and a line discount (carried in the rate)",
            currency: "USD",
            rows: vec![(&widget, "3", "19.99", "5", sales), (&gadget, "2", "10", "0", &[])],
            discount: "7.5",
            adjustment: "0",
            want: Expected {
                customer: "Acme West",
                currency: "USD",
                discount: ("entity_level", "7.5", false),
                adjustment: "0",
                // 59.97 - 5 = 54.97 = round(3 × 18.323333); tax 4.54; 74.97 + 4.54 - 7.50.
                lines: vec![
                    ("Widget", "18.323333", "3", "0", "Sales Tax", "54.97", "3 × 19.99 less a discount of 5.00"),
                    ("Gadget", "10", "2", "0", "", "20", ""),
                ],
                totals: ("74.97", "4.54", "72.01"),
            },
        },
        Case {
            name: "adjustment",
            currency: "USD",
            rows: vec![(&gadget, "2.5", "100", "0", sales)],
            discount: "0",
            adjustment: "-0.63",
            want: Expected {
                customer: "Acme West",
                currency: "USD",
                discount: item_level,
                adjustment: "-0.63",
                // 250 × 8.25 % = 20.625 -> 20.63; 270.63 - 0.63.
                lines: vec![("Gadget", "100", "2.5", "0", "Sales Tax", "250", "")],
                totals: ("250", "20.63", "270"),
            },
        },
        Case {
            name: "two taxes on a line (a Books tax group), a product not yet synced, in the quote's deal",
            currency: "USD",
            rows: vec![(&bolt, "4", "25", "0", &[("GST", "5"), ("City Tax", "3.25")])],
            discount: "0",
            adjustment: "0",
            want: Expected {
                customer: "Acme West",
                currency: "USD",
                discount: item_level,
                adjustment: "0",
                lines: vec![("Bolt", "25", "4", "0", "State + City", "100", "")],
                totals: ("100", "8.25", "108.25"),
            },
        },
        Case {
            name: "JPY: whole yen",
            currency: "JPY",
            rows: vec![(&widget, "3", "1234", "278", &[("Service Tax", "10")])],
            discount: "0",
            adjustment: "0",
            want: Expected {
                customer: "Acme West (JPY)",
                currency: "JPY",
                discount: item_level,
                adjustment: "0",
                // 3702 - 278 (7.5 %, rounded by CRM) = 3424; tax 342.4 -> 342.
                lines: vec![("Widget", "1234", "3", "278", "Service Tax", "3424", "")],
                totals: ("3424", "342", "3766"),
            },
        },
        Case {
            name: "KWD: three places",
            currency: "KWD",
            rows: vec![(&widget, "2", "12.345", "0.5", &[("GST", "5")]), (&gadget, "1", "7.125", "0", &[])],
            discount: "0",
            adjustment: "0",
            want: Expected {
                customer: "Acme West (KWD)",
                currency: "KWD",
                discount: item_level,
                adjustment: "0",
                // 24.690 - 0.500 = 24.190; 24.190 × 5 % = 1.2095 -> 1.210.
                lines: vec![("Widget", "12.345", "2", "0.5", "GST", "24.19", ""), ("Gadget", "7.125", "1", "0", "", "7.125", "")],
                totals: ("31.315", "1.21", "32.525"),
            },
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        let id = new_quote(&w, &acme, "Confirmed", case.currency, &case.rows, case.discount, case.adjustment).await;
        if case.name.contains("in the quote's deal") {
            w.crm_update("Quotes", &id, json!({"Deal_Name": {"id": deal}})).await;
        }
        w.changed(quote(&id), FLOW).await;
        let stats = w.run().await;
        assert_eq!((stats.done, stats.dead), (1, 0), "case {n} ({}): {stats:?} {:?}", case.name, w.dead().await);
        let invoices = w.invoices().await;
        let inv = invoice_of(&invoices, &id);
        assert_invoice(&w, inv, &id, &case.want).await;
        // Books' own total is the quote's Grand_Total, so no mismatch was recorded.
        assert_eq!(dec(&inv["total"]), dec(&crm_quote(&w, &id).await["Grand_Total"]), "case {n} ({})", case.name);
        assert_eq!(mismatches(&w, inv["invoice_id"].as_str().unwrap()).await, Vec::<Value>::new(), "case {n} ({})", case.name);
    }
    assert_eq!(w.invoices().await.len(), cases.len(), "one invoice per quote");
}

#[tokio::test]
async fn tax_rules_decide_the_tax_and_a_tax_other_than_the_quotes_is_a_recorded_mismatch() {
    let rules = r#"
[[money.tax_rules]]
name = "US California"
countries = ["US"]
states = ["CA"]
tax = "Sales Tax"

[[money.tax_rules]]
name = "US other states"
countries = ["US"]
tax = "VAT"

[[money.tax_rules]]
name = "EU reverse charge"
countries = ["DE", "FR"]
exemption = "EU-RC"
reason = "Reverse charge: VAT to be accounted for by the recipient."
"#;
    let w = World::new(rules).await;
    let exemption = zoho::books::models::TaxExemption {
        tax_exemption_code: Some("EU-RC".into()),
        description: Some("EU reverse charge".into()),
        kind: Some("customer".into()),
        ..Default::default()
    };
    let exemption = w.client.books().create_tax_exemption(&exemption).await.unwrap().tax_exemption_id.unwrap();
    let widget = w.product("Widget", "W-1", "50").await;
    let gadget = w.product("Gadget", "G-1", "10").await;
    let sales: &[(&str, &str)] = &[("Sales Tax", "8.25")];
    // California: the rule's tax is the quote's; the line CRM did not tax stays untaxed.
    let west = account(&w, "Acme West", "US", "CA").await;
    let id = new_quote(&w, &west, "Confirmed", "USD", &[(&widget, "2", "50", "0", sales), (&gadget, "1", "10", "0", &[])], "0", "0").await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.dead), (1, 0), "{:?}", w.dead().await);
    let invoices = w.invoices().await;
    let want = Expected {
        customer: "Acme West",
        currency: "USD",
        discount: ("item_level", "0", true),
        adjustment: "0",
        lines: vec![("Widget", "50", "2", "0", "Sales Tax", "100", ""), ("Gadget", "10", "1", "0", "", "10", "")],
        totals: ("110", "8.25", "118.25"),
    };
    let inv = invoice_of(&invoices, &id);
    assert_invoice(&w, inv, &id, &want).await;
    assert_eq!(mismatches(&w, inv["invoice_id"].as_str().unwrap()).await, Vec::<Value>::new());

    // New York: the rule says VAT (20 %) where the quote has 8.25 %: the invoice carries
    // the rule's tax, and the totals check records the difference with its cause.
    let east = account(&w, "Acme East", "US", "NY").await;
    let id = new_quote(&w, &east, "Confirmed", "USD", &[(&widget, "2", "50", "0", sales)], "0", "0").await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.dead), (1, 0), "{:?}", w.dead().await);
    let invoices = w.invoices().await;
    let inv = invoice_of(&invoices, &id);
    let want = Expected {
        customer: "Acme East",
        currency: "USD",
        discount: ("item_level", "0", true),
        adjustment: "0",
        lines: vec![("Widget", "50", "2", "0", "VAT", "100", "")],
        totals: ("100", "20", "120"),
    };
    assert_invoice(&w, inv, &id, &want).await;
    let found = mismatches(&w, inv["invoice_id"].as_str().unwrap()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((dec(&found[0]["crm_total"]), dec(&found[0]["books_total"]), dec(&found[0]["difference"])), (d("108.25"), d("120"), d("11.75")));
    assert_eq!((found[0]["crm_module"].as_str(), found[0]["crm_id"].as_str()), (Some("Quotes"), Some(id.as_str())));
    assert_eq!(found[0]["cause"], "tax: the quote's is 8.25, Books computed 20 (tax rule \"US other states\" applied)");

    // Germany: exempt (reverse charge), the reason in the notes; the quote has no tax.
    let berlin = account(&w, "Berlin GmbH", "Germany", "").await;
    let id = new_quote(&w, &berlin, "Confirmed", "USD", &[(&widget, "2", "50", "0", &[])], "0", "0").await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.dead), (1, 0), "{:?}", w.dead().await);
    let invoices = w.invoices().await;
    let inv = invoice_of(&invoices, &id);
    let want = Expected {
        customer: "Berlin GmbH",
        currency: "USD",
        discount: ("item_level", "0", true),
        adjustment: "0",
        lines: vec![("Widget", "50", "2", "0", "", "100", "")],
        totals: ("100", "0", "100"),
    };
    assert_invoice(&w, inv, &id, &want).await;
    assert_eq!(inv["tax_exemption_id"], exemption.as_str(), "{inv:#}");
    assert_eq!(inv["notes"], "Reverse charge: VAT to be accounted for by the recipient.");
    assert_eq!(mismatches(&w, inv["invoice_id"].as_str().unwrap()).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_quote_discount_before_tax_is_taken_before_tax_and_the_difference_from_crm_recorded() {
    let w = World::new("[flows.quote_to_invoice]\ndiscount_before_tax = true\n").await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    // CRM takes a quote discount after the line taxes: 100 - 10 + 20 = 110. Books, told
    // to take it before tax, taxes 90: 100 - 10 + 18 = 108.
    let id = new_quote(&w, &acme, "Confirmed", "USD", &[(&widget, "1", "100", "0", &[("VAT", "20")])], "10", "0").await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.dead), (1, 0), "{:?}", w.dead().await);
    let invoices = w.invoices().await;
    let inv = invoice_of(&invoices, &id);
    let want = Expected {
        customer: "Acme",
        currency: "USD",
        discount: ("entity_level", "10", true),
        adjustment: "0",
        lines: vec![("Widget", "100", "1", "0", "VAT", "100", "")],
        totals: ("100", "18", "108"),
    };
    assert_invoice(&w, inv, &id, &want).await;
    assert_eq!(dec(&crm_quote(&w, &id).await["Grand_Total"]), d("110"));
    let found = mismatches(&w, inv["invoice_id"].as_str().unwrap()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((dec(&found[0]["crm_total"]), dec(&found[0]["books_total"]), dec(&found[0]["difference"])), (d("110"), d("108"), d("-2")));
    assert_eq!(
        found[0]["cause"],
        "tax: the quote's is 20, Books computed 18; Books takes the quote discount before tax (discount_before_tax = true), CRM after"
    );
}

#[tokio::test]
async fn a_quote_is_invoiced_once_when_it_becomes_accepted_whatever_the_webhooks_do() {
    let mut w = World::new("").await;
    let widget = w.product("Widget", "W-1", "100").await;
    let acme = account(&w, "Acme", "US", "CA").await;
    let id = new_quote(&w, &acme, "Draft", "USD", &[(&widget, "1", "100", "0", &[])], "0", "0").await;
    // Not accepted: nothing.
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.skipped), (0, 1), "{stats:?}");
    assert!(w.invoices().await.is_empty());
    // Accepted, the webhook delivered twice; then back to negotiation and accepted again,
    // and once more delivered twice.
    w.crm_update("Quotes", &id, json!({"Quote_Stage": "Confirmed"})).await;
    w.changed(quote(&id), FLOW).await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.skipped, stats.dead), (1, 1, 0), "{stats:?} {:?}", w.dead().await);
    w.crm_update("Quotes", &id, json!({"Quote_Stage": "Negotiation"})).await;
    w.changed(quote(&id), FLOW).await;
    w.run().await;
    w.crm_update("Quotes", &id, json!({"Quote_Stage": "Confirmed"})).await;
    w.changed(quote(&id), FLOW).await;
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.skipped, stats.dead), (0, 2, 0), "{stats:?}");
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1);
    let first = invoices[0]["invoice_id"].clone();

    // A crash after Books committed: the store lost the run's link and snapshot (a fresh
    // store), and the job runs again: Books' upsert on cf_crm_quote_id finds the invoice.
    let dir = common::TempDir::new("quote-fresh");
    w.store = SqliteStore::open(dir.0.join("store.db")).await.unwrap();
    w.changed(quote(&id), FLOW).await;
    let stats = w.run().await;
    assert_eq!((stats.done, stats.dead), (1, 0), "{stats:?} {:?}", w.dead().await);
    let invoices = w.invoices().await;
    assert_eq!(invoices.len(), 1, "still one invoice");
    assert_eq!(invoices[0]["invoice_id"], first);
    let link = w.store.link_by_crm(CONN, relations::QUOTE_INVOICE.name, &id).await.unwrap().unwrap();
    assert_eq!(invoices[0]["invoice_id"], link.books_id.as_str());
    assert_eq!(crm_quote(&w, &id).await["Books_Invoice_ID"], first);
}
