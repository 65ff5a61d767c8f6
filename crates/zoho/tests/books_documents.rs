//! The Books calls the order-to-cash flows make, through the client against the emulator:
//! an invoice carrying every field the flows send (CRM deal link, reference, salesperson,
//! terms, template, custom field, notes, terms text, a tax exemption) read back as sent; a
//! credit note upserted by a unique custom field (one per key value); and a payment across
//! two invoices changed, refunded and deleted, the invoices' balances following.

mod support;

use std::str::FromStr;

use rust_decimal::Decimal;
use zoho::books::{
    UpsertOutcome,
    models::{Contact, CreditNote, CustomFieldValue, CustomerPayment, Invoice, LineItem, PaymentInvoice, PaymentRefund, TaxExemption},
};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn line(name: &str, rate: &str) -> LineItem {
    LineItem { name: Some(name.into()), rate: Some(dec(rate)), quantity: Some(Decimal::ONE), ..LineItem::default() }
}

#[tokio::test]
async fn an_invoice_keeps_every_field_the_flows_send() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer = books.create_contact(&Contact { contact_name: Some("Fields & Co".into()), ..Contact::default() }).await.unwrap();
    let template = books.invoice_templates().await.unwrap().pop().unwrap().template_id;
    let exemption = books
        .create_tax_exemption(&TaxExemption {
            tax_exemption_code: Some("EXEMPT-ORG".into()),
            kind: Some("customer".into()),
            description: Some("Exempt organisation".into()),
            ..TaxExemption::default()
        })
        .await
        .unwrap();
    assert_eq!(books.tax_exemptions().await.unwrap(), vec![exemption.clone()]);
    let sent = Invoice {
        customer_id: customer.contact_id.clone(),
        reference_number: Some("DEAL-42".into()),
        salesperson_name: Some("Ada Admin".into()),
        payment_terms: Some(45),
        payment_terms_label: Some("Net 45".into()),
        template_id: template.clone(),
        notes: Some("Thanks, \"valued\" customer (Zoë)".into()),
        terms: Some("Pay within 45 days".into()),
        zcrm_potential_id: Some("5725767000000424242".into()),
        tax_exemption_id: exemption.tax_exemption_id.clone(),
        custom_fields: vec![CustomFieldValue::new("cf_crm_deal_id", "5725767000000424242")],
        line_items: vec![line("Consulting", "1200")],
        ..Invoice::default()
    };
    let created = books.create_invoice(&sent).await.unwrap();
    let got = books.invoice(created.invoice_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(got.reference_number.as_deref(), Some("DEAL-42"));
    assert_eq!(got.salesperson_name.as_deref(), Some("Ada Admin"));
    assert_eq!((got.payment_terms, got.payment_terms_label.as_deref()), (Some(45), Some("Net 45")));
    assert_eq!(got.template_id, template);
    assert_eq!(got.notes, sent.notes);
    assert_eq!(got.terms, sent.terms);
    assert_eq!(got.zcrm_potential_id, sent.zcrm_potential_id);
    assert_eq!(got.tax_exemption_id, exemption.tax_exemption_id);
    assert_eq!((got.tax_total, got.total), (Some(Decimal::ZERO), Some(dec("1200"))));
    let cf = got.custom_fields.iter().find(|c| c.api_name.as_deref() == Some("cf_crm_deal_id")).expect("the custom field");
    assert_eq!(cf.value, Some(serde_json::json!("5725767000000424242")));
    let date = got.date.clone().unwrap();
    let due: jiff::civil::Date = got.due_date.as_deref().unwrap().parse().unwrap();
    assert_eq!(due, date.parse::<jiff::civil::Date>().unwrap().checked_add(jiff::Span::new().days(45)).unwrap(), "due date from the terms");
}

#[tokio::test]
async fn a_credit_note_upserted_by_its_key_exists_once() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer = books.create_contact(&Contact { contact_name: Some("Credited Ltd".into()), ..Contact::default() }).await.unwrap();
    let note = |rate: &str| CreditNote { customer_id: customer.contact_id.clone(), line_items: vec![line("Lowered amount", rate)], ..CreditNote::default() };
    let (first, outcome) = books.upsert_credit_note("cf_crm_credit_key", "DEAL-1/amount/2", &note("100")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    let (again, outcome) = books.upsert_credit_note("cf_crm_credit_key", "DEAL-1/amount/2", &note("100")).await.unwrap();
    assert_eq!((outcome, again.creditnote_id.clone()), (UpsertOutcome::Updated, first.creditnote_id.clone()));
    let (_, outcome) = books.upsert_credit_note("cf_crm_credit_key", "DEAL-1/amount/3", &note("40")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    // The key is unique: a plain create with a taken value is refused.
    let mut taken = note("1");
    taken.custom_fields = vec![CustomFieldValue::new("cf_crm_credit_key", "DEAL-1/amount/2")];
    let err = books.create_credit_note(&taken, None).await.unwrap_err();
    assert_eq!(err.api().map(|a| a.status), Some(400));
}

#[tokio::test]
async fn a_payment_across_two_invoices_is_changed_refunded_and_deleted() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer = books.create_contact(&Contact { contact_name: Some("Payer GmbH".into()), ..Contact::default() }).await.unwrap();
    let mut invoices = Vec::new();
    for rate in ["100", "50"] {
        let inv =
            books.create_invoice(&Invoice { customer_id: customer.contact_id.clone(), line_items: vec![line("L", rate)], ..Invoice::default() }).await.unwrap();
        books.mark_invoice_sent(inv.invoice_id.as_deref().unwrap()).await.unwrap();
        invoices.push(inv.invoice_id.unwrap());
    }
    let applied = |a: &str, b: &str| {
        vec![
            PaymentInvoice { invoice_id: Some(invoices[0].clone()), amount_applied: Some(dec(a)), ..PaymentInvoice::default() },
            PaymentInvoice { invoice_id: Some(invoices[1].clone()), amount_applied: Some(dec(b)), ..PaymentInvoice::default() },
        ]
    };
    let payment = books
        .create_customer_payment(&CustomerPayment {
            customer_id: customer.contact_id.clone(),
            payment_mode: Some("banktransfer".into()),
            amount: Some(dec("130")),
            date: Some("2026-03-01".into()),
            invoices: applied("60", "20"),
            ..CustomerPayment::default()
        })
        .await
        .unwrap();
    let pid = payment.payment_id.clone().unwrap();
    let balance = |i: usize| {
        let books = books.clone();
        let id = invoices[i].clone();
        async move { books.invoice(&id).await.unwrap().balance }
    };
    assert_eq!((balance(0).await, balance(1).await), (Some(dec("40")), Some(dec("30"))));
    let changed = books.update_customer_payment(&pid, &CustomerPayment { invoices: applied("100", "25"), ..CustomerPayment::default() }).await.unwrap();
    assert_eq!(changed.unused_amount, Some(dec("5")));
    assert_eq!((balance(0).await, balance(1).await), (Some(Decimal::ZERO), Some(dec("25"))));
    let refund = books
        .refund_customer_payment(&pid, &PaymentRefund { amount: Some(dec("5")), date: Some("2026-03-02".into()), ..PaymentRefund::default() })
        .await
        .unwrap();
    assert_eq!(refund.amount, Some(dec("5")));
    assert_eq!(books.customer_payment_refunds(&pid).await.unwrap().len(), 1);
    assert_eq!(books.customer_payment(&pid).await.unwrap().amount_refunded, Some(dec("5")));
    // A refunded payment cannot be deleted; a fresh one can, and the balance comes back.
    assert!(books.delete_customer_payment(&pid).await.is_err());
    let second = books
        .create_customer_payment(&CustomerPayment {
            customer_id: customer.contact_id.clone(),
            payment_mode: Some("cash".into()),
            amount: Some(dec("25")),
            invoices: vec![PaymentInvoice { invoice_id: Some(invoices[1].clone()), amount_applied: Some(dec("25")), ..PaymentInvoice::default() }],
            ..CustomerPayment::default()
        })
        .await
        .unwrap();
    assert_eq!(balance(1).await, Some(Decimal::ZERO));
    books.delete_customer_payment(second.payment_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(balance(1).await, Some(dec("25")));
}
