//! Books against the emulator: a 450-contact list paged completely, settings, invoices
//! through their life, payments, credit notes applied and refunded, money exactness.

mod support;

use std::str::FromStr;

use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use zoho::books::{
    ListQuery,
    models::{Contact, ContactPerson, CreditApplication, CreditNote, CustomerPayment, Estimate, Invoice, Item, LineItem, PaymentInvoice, Refund},
};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn customer(books: &zoho::books::Books, name: &str) -> String {
    let c = Contact {
        contact_name: Some(name.into()),
        contact_type: Some("customer".into()),
        contact_persons: vec![ContactPerson {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some(format!("{}@example.com", name.to_lowercase().replace(' ', "."))),
            is_primary_contact: Some(true),
            ..ContactPerson::default()
        }],
        ..Contact::default()
    };
    books.create_contact(&c).await.unwrap().contact_id.unwrap()
}

fn line(item_id: &str, rate: &str, qty: &str) -> LineItem {
    LineItem { item_id: Some(item_id.into()), rate: Some(dec(rate)), quantity: Some(dec(qty)), ..LineItem::default() }
}

#[tokio::test]
async fn a_450_contact_list_is_paged_completely() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    for i in 0..450 {
        books.create_contact(&Contact { contact_name: Some(format!("Customer {i:03}")), ..Contact::default() }).await.unwrap();
    }
    let all: Vec<Contact> = books.contacts(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 450);
    let mut names: Vec<String> = all.into_iter().map(|c| c.contact_name.unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 450);
    let small: Vec<Contact> = books.contacts(ListQuery::new().per_page(64)).try_collect().await.unwrap();
    assert_eq!(small.len(), 450);
}

#[tokio::test]
async fn settings_are_readable() {
    let (_emu, client, creds) = support::start().await;
    let books = client.books();
    let orgs = books.organizations().await.unwrap();
    assert!(orgs.iter().any(|o| o.organization_id.as_deref() == Some(creds.organization_id.as_str())));
    let taxes: Vec<zoho::books::models::Tax> = books.taxes().try_collect().await.unwrap();
    assert!(taxes.iter().all(|t| t.tax_percentage.is_some()));
    let currencies: Vec<zoho::books::models::Currency> = books.currencies().try_collect().await.unwrap();
    assert!(currencies.iter().any(|c| c.is_base_currency == Some(true)));
    assert!(!books.invoice_templates().await.unwrap().is_empty());
    books.estimate_templates().await.unwrap();
    books.credit_note_templates().await.unwrap();
}

#[tokio::test]
async fn an_invoice_through_its_life() {
    let (emu, client, _) = support::start().await;
    let books = client.books();
    let customer_id = customer(&books, "Acme Corp").await;
    let item = books.create_item(&Item { name: Some("Widget".into()), rate: Some(dec("19.99")), sku: Some("W-1".into()), ..Item::default() }).await.unwrap();
    assert_eq!(item.rate, Some(dec("19.99")));
    let item_id = item.item_id.unwrap();
    let found: Vec<Item> = books.items(ListQuery::new().param("sku", "W-1")).try_collect().await.unwrap();
    assert_eq!(found.len(), 1);

    let since = jiff::Timestamp::from_millisecond(emu.state().clock.now_ms() - 1000).unwrap();
    let draft = Invoice {
        customer_id: Some(customer_id.clone()),
        reference_number: Some("DEAL-42".into()),
        line_items: vec![line(&item_id, "0.1", "3"), line(&item_id, "0.2", "1")],
        ..Invoice::default()
    };
    let inv = books.create_invoice(&draft).await.unwrap();
    assert_eq!(inv.status.as_deref(), Some("draft"));
    assert_eq!(inv.sub_total, Some(dec("0.5")), "0.1*3 + 0.2 exactly");
    let id = inv.invoice_id.clone().unwrap();

    // Read-modify-write keeps every field the struct does not name.
    let mut read = books.invoice(&id).await.unwrap();
    assert!(!read.extra.is_empty());
    read.notes = Some("Thanks".into());
    let updated = books.update_invoice(&id, &Invoice { notes: read.notes.clone(), ..Invoice::default() }).await.unwrap();
    assert_eq!(updated.notes.as_deref(), Some("Thanks"));

    books.mark_invoice_sent(&id).await.unwrap();
    assert_eq!(books.invoice(&id).await.unwrap().status.as_deref(), Some("sent"));
    let changed: Vec<Invoice> = books.invoices_modified_since(since).try_collect().await.unwrap();
    assert!(changed.iter().any(|i| i.invoice_id.as_deref() == Some(id.as_str())));
    let by_ref: Vec<Invoice> = books.invoices(ListQuery::new().param("reference_number", "DEAL-42")).try_collect().await.unwrap();
    assert_eq!(by_ref.len(), 1);

    // Pay part of it.
    let pay = books
        .create_customer_payment(&CustomerPayment {
            customer_id: Some(customer_id.clone()),
            payment_mode: Some("banktransfer".into()),
            amount: Some(dec("0.2")),
            date: Some("2026-01-15".into()),
            invoices: vec![PaymentInvoice { invoice_id: Some(id.clone()), amount_applied: Some(dec("0.2")), ..PaymentInvoice::default() }],
            ..CustomerPayment::default()
        })
        .await
        .unwrap();
    assert_eq!(pay.amount, Some(dec("0.2")));
    let after = books.invoice(&id).await.unwrap();
    assert_eq!(after.balance, Some(dec("0.3")));
    assert_eq!(after.status.as_deref(), Some("partially_paid"));
    let payments: Vec<CustomerPayment> = books.customer_payments(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(payments.len(), 1);
    books.customer_payment(pay.payment_id.as_deref().unwrap()).await.unwrap();

    // Credit the rest, apply it, and the invoice is paid.
    let note = books
        .create_credit_note(
            &CreditNote {
                customer_id: Some(customer_id.clone()),
                date: Some("2026-01-16".into()),
                line_items: vec![line(&item_id, "0.3", "1")],
                ..CreditNote::default()
            },
            None,
        )
        .await
        .unwrap();
    let note_id = note.creditnote_id.unwrap();
    assert_eq!(note.total, Some(dec("0.3")));
    books
        .apply_credit_note(&note_id, &[CreditApplication { invoice_id: Some(id.clone()), amount_applied: Some(dec("0.3")), ..CreditApplication::default() }])
        .await
        .unwrap();
    let paid = books.invoice(&id).await.unwrap();
    assert_eq!(paid.balance, Some(Decimal::ZERO));
    assert_eq!(paid.status.as_deref(), Some("paid"));
    assert_eq!(books.invoice_credits_applied(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn credit_notes_refund_and_invoices_void() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer_id = customer(&books, "Refund Co").await;
    let item_id = books.create_item(&Item { name: Some("Service".into()), rate: Some(dec("100")), ..Item::default() }).await.unwrap().item_id.unwrap();
    let note = books
        .create_credit_note(
            &CreditNote {
                customer_id: Some(customer_id.clone()),
                date: Some("2026-02-01".into()),
                line_items: vec![line(&item_id, "100", "1")],
                ..CreditNote::default()
            },
            None,
        )
        .await
        .unwrap();
    let note_id = note.creditnote_id.unwrap();
    let refund = books
        .refund_credit_note(
            &note_id,
            &Refund { date: Some("2026-02-02".into()), amount: Some(dec("40.25")), refund_mode: Some("cash".into()), ..Refund::default() },
        )
        .await
        .unwrap();
    assert_eq!(refund.amount, Some(dec("40.25")));
    assert_eq!(books.credit_note(&note_id).await.unwrap().balance, Some(dec("59.75")));
    let notes: Vec<CreditNote> = books.credit_notes(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(notes.len(), 1);

    let inv = books
        .create_invoice(&Invoice { customer_id: Some(customer_id.clone()), line_items: vec![line(&item_id, "100", "2")], ..Invoice::default() })
        .await
        .unwrap();
    let inv_id = inv.invoice_id.unwrap();
    books.mark_invoice_sent(&inv_id).await.unwrap();
    books.void_invoice(&inv_id).await.unwrap();
    assert_eq!(books.invoice(&inv_id).await.unwrap().status.as_deref(), Some("void"));
    // Unknown ids are typed errors with Books' code.
    let err = books.invoice("999999").await.unwrap_err();
    assert_eq!(err.api().unwrap().books_code(), Some(1002), "{err}");
}

#[tokio::test]
async fn estimates_and_contact_persons() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer_id = customer(&books, "Quote Inc").await;
    let item_id = books.create_item(&Item { name: Some("Thing".into()), rate: Some(dec("12.5")), ..Item::default() }).await.unwrap().item_id.unwrap();
    let est = books
        .create_estimate(&Estimate { customer_id: Some(customer_id.clone()), line_items: vec![line(&item_id, "12.5", "4")], ..Estimate::default() })
        .await
        .unwrap();
    assert_eq!(est.total, Some(dec("50")));
    let est_id = est.estimate_id.unwrap();
    books.set_estimate_status(&est_id, "sent").await.unwrap();
    books.set_estimate_status(&est_id, "accepted").await.unwrap();
    assert_eq!(books.estimate(&est_id).await.unwrap().status.as_deref(), Some("accepted"));
    let all: Vec<Estimate> = books.estimates(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 1);

    let person = books
        .create_contact_person(&ContactPerson {
            contact_id: Some(customer_id.clone()),
            first_name: Some("Grace".into()),
            last_name: Some("Hopper".into()),
            email: Some("grace@example.com".into()),
            ..ContactPerson::default()
        })
        .await
        .unwrap();
    let persons = books.contact_persons(&customer_id).await.unwrap();
    assert_eq!(persons.len(), 2);
    books
        .update_contact_person(
            person.contact_person_id.as_deref().unwrap(),
            &ContactPerson { contact_id: Some(customer_id.clone()), phone: Some("+1 555".into()), ..ContactPerson::default() },
        )
        .await
        .unwrap();
    let c = books.contact(&customer_id).await.unwrap();
    assert_eq!(c.contact_name.as_deref(), Some("Quote Inc"));
}

#[tokio::test]
async fn webhook_payloads_from_the_emulator_parse() {
    let (emu, client, _) = support::start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/__emulator/books/webhooks", emu.url()))
        .json(&serde_json::json!({"url": "http://127.0.0.1:9/books", "events": ["invoice.*"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let books = client.books();
    let customer_id = customer(&books, "Hooked").await;
    let item_id = books.create_item(&Item { name: Some("X".into()), rate: Some(dec("1.05")), ..Item::default() }).await.unwrap().item_id.unwrap();
    let inv =
        books.create_invoice(&Invoice { customer_id: Some(customer_id), line_items: vec![line(&item_id, "1.05", "1")], ..Invoice::default() }).await.unwrap();
    let mut body = None;
    for _ in 0..50 {
        if let Some(d) = emu.state().outbox.log().into_iter().find(|d| d.delivery.kind == "books_webhook") {
            body = Some(serde_json::to_vec(&d.delivery.body).unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let payload = zoho::books::webhooks::parse_webhook(&body.expect("a webhook was sent")).unwrap();
    assert_eq!(payload.entity, "invoice");
    assert_eq!(payload.id(), inv.invoice_id.as_deref());
    assert_eq!(payload.invoice().unwrap().unwrap().total, Some(dec("1.05")));
}

#[tokio::test]
async fn price_lists_per_item_and_by_percentage() {
    use zoho::books::models::{PriceBracket, PriceList, PriceListItem};
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let item = Item { name: Some("Priced".into()), rate: Some(dec("10.00")), ..Item::default() };
    let item_id = books.create_item(&item).await.unwrap().item_id.unwrap();
    let spare = Item { name: Some("Spare".into()), rate: Some(dec("2")), ..Item::default() };
    let spare_id = books.create_item(&spare).await.unwrap().item_id.unwrap();

    let list = PriceList {
        name: Some("Wholesale".into()),
        pricebook_type: Some("per_item".into()),
        sales_or_purchase_type: Some("sales".into()),
        pricebook_items: vec![
            PriceListItem { item_id: Some(item_id.clone()), pricebook_rate: Some(dec("8.10")), ..PriceListItem::default() },
            PriceListItem {
                item_id: Some(spare_id.clone()),
                pricing_scheme: Some("volume".into()),
                price_brackets: vec![
                    PriceBracket { start_quantity: Some(dec("1")), end_quantity: Some(dec("9")), pricebook_rate: Some(dec("1.90")), ..PriceBracket::default() },
                    PriceBracket { start_quantity: Some(dec("10")), pricebook_rate: Some(dec("1.75")), ..PriceBracket::default() },
                ],
                ..PriceListItem::default()
            },
        ],
        ..PriceList::default()
    };
    let created = books.create_pricelist(&list).await.unwrap();
    let id = created.pricebook_id.clone().unwrap();
    assert_eq!(created.status.as_deref(), Some("active"));
    assert_eq!(created.pricebook_items[0].pricebook_rate, Some(dec("8.1")));
    assert_eq!(created.pricebook_items[1].price_brackets[1].pricebook_rate, Some(dec("1.75")));

    // A name taken (case aside) is Books' 1001.
    let e = books.create_pricelist(&PriceList { name: Some("WHOLESALE".into()), ..list.clone() }).await.unwrap_err();
    assert_eq!(e.api().and_then(|a| a.books_code()), Some(1001), "{e}");

    // Read-modify-write: the rate changes, the lines keep their ids.
    let mut read = books.pricelist(&id).await.unwrap();
    let line_id = read.pricebook_items[0].pricebook_item_id.clone();
    read.pricebook_items[0].pricebook_rate = Some(dec("7.99"));
    let updated = books.update_pricelist(&id, &read).await.unwrap();
    assert_eq!(updated.pricebook_items[0].pricebook_rate, Some(dec("7.99")));
    assert_eq!(updated.pricebook_items[0].pricebook_item_id, line_id);

    books.set_pricelist_active(&id, false).await.unwrap();
    assert_eq!(books.pricelist(&id).await.unwrap().status.as_deref(), Some("inactive"));
    books.set_pricelist_active(&id, true).await.unwrap();

    let markup = PriceList {
        name: Some("Markup".into()),
        pricebook_type: Some("fixed_percentage".into()),
        sales_or_purchase_type: Some("sales".into()),
        percentage: Some(dec("12.5")),
        is_increase: Some(true),
        ..PriceList::default()
    };
    let markup = books.create_pricelist(&markup).await.unwrap();
    assert_eq!(markup.percentage, Some(dec("12.5")));
    let all: Vec<PriceList> = books.pricelists(ListQuery::new().per_page(1)).try_collect().await.unwrap();
    assert_eq!(all.iter().map(|p| p.name.as_deref().unwrap()).collect::<Vec<_>>(), ["Markup", "Wholesale"]);
    let found: Vec<PriceList> = books.pricelists(ListQuery::new().param("search_text", "whole")).try_collect().await.unwrap();
    assert_eq!(found.len(), 1);

    books.delete_pricelist(markup.pricebook_id.as_deref().unwrap()).await.unwrap();
    let e = books.pricelist(markup.pricebook_id.as_deref().unwrap()).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
}
