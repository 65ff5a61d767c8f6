//! Books upserts by a unique custom field (`PUT /items|/contacts|/invoices` with the
//! `X-Unique-Identifier-*` headers) through the client, against the emulator: created
//! then updated in one call each, the seeded organisation ready for `cf_crm_product_id`,
//! refusals classified, and a repeat after a lost answer leaving one record.

mod support;

use std::{str::FromStr, time::Duration};

use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::Value;
use zoho::{
    Error, RetryPolicy,
    books::{
        ListQuery, UpsertOutcome,
        models::{Contact, Invoice, Item, LineItem},
    },
};
use zoho_emulator::{EmulatorConfig, FaultConfig, FaultRule, LimitsConfig};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn item(name: &str, rate: &str) -> Item {
    Item { name: Some(name.into()), rate: Some(dec(rate)), ..Item::default() }
}

/// The value of custom field `api_name` on an entity read back from Books.
fn custom_value(extra: &serde_json::Map<String, Value>, api_name: &str) -> Option<String> {
    extra.get("custom_fields")?.as_array()?.iter().find(|cf| cf["api_name"] == api_name)?["value"].as_str().map(str::to_string)
}

/// Items whose `cf_crm_product_id` is `value`.
async fn items_keyed(books: &zoho::books::Books, value: &str) -> Vec<Item> {
    let all: Vec<Item> = books.items(ListQuery::new()).try_collect().await.unwrap();
    all.into_iter().filter(|i| custom_value(&i.extra, "cf_crm_product_id").as_deref() == Some(value)).collect()
}

#[tokio::test]
async fn upsert_item_creates_then_updates_in_one_call_each() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let (created, outcome) = books.upsert_item("cf_crm_product_id", "P-1", &item("Widget", "10.50")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    assert_eq!(created.rate, Some(dec("10.50")));
    assert_eq!(custom_value(&created.extra, "cf_crm_product_id").as_deref(), Some("P-1"));
    let change = Item { rate: Some(dec("11.25")), sku: Some("W-1".into()), ..Item::default() };
    let (updated, outcome) = books.upsert_item("cf_crm_product_id", "P-1", &change).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Updated);
    assert_eq!(updated.item_id, created.item_id);
    assert_eq!((updated.rate, updated.sku.as_deref(), updated.name.as_deref()), (Some(dec("11.25")), Some("W-1"), Some("Widget")));
    // A second key is a second item.
    let (other, outcome) = books.upsert_item("cf_crm_product_id", "P-2", &item("Gadget", "3")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    assert_ne!(other.item_id, created.item_id);
    assert_eq!(items_keyed(&books, "P-1").await.len(), 1);
    let books_usage = client.budget_usage().into_iter().find(|u| u.api == zoho::Api::Books).unwrap();
    assert_eq!(books_usage.admitted, 3 + 1, "one call per upsert, no look-up before it (plus the one list page)");
}

#[tokio::test]
async fn the_seeded_organisation_upserts_items_by_crm_product_id_out_of_the_box() {
    // The default world (seed data on), limits off so the test is not paced.
    let config = EmulatorConfig { limits: LimitsConfig::unlimited(), ..EmulatorConfig::default() };
    let (_emu, creds) = support::emulator(config).await;
    let client = support::builder(&creds).build().unwrap();
    let books = client.books();
    // The seed links item i to CRM product 7000000 + i.
    let seeded = items_keyed(&books, "7000000").await;
    assert_eq!(seeded.len(), 1, "the seed holds one item for CRM product 7000000");
    let (updated, outcome) = books.upsert_item("cf_crm_product_id", "7000000", &Item { rate: Some(dec("99.99")), ..Item::default() }).await.unwrap();
    assert_eq!((outcome, &updated.item_id), (UpsertOutcome::Updated, &seeded[0].item_id));
    let (_, outcome) = books.upsert_item("cf_crm_product_id", "P-NEW", &item("Brand New", "1")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
}

#[tokio::test]
async fn refusals_are_typed_and_not_retried() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    // A custom field that is not an items field marked unique: Books' 400.
    let err = books.upsert_item("cf_segment", "P-1", &item("Widget", "1")).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(!err.is_retryable());
    // Missing mandatory fields on a create: Books' 400, nothing created.
    let err = books.upsert_item("cf_crm_product_id", "P-1", &Item { name: Some("No rate".into()), ..Item::default() }).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(items_keyed(&books, "P-1").await.is_empty());
    // A key that cannot travel in a header is the caller's error, not a network failure.
    for bad in ["", "  ", "line\nbreak", "Zoë"] {
        let err = books.upsert_item("cf_crm_product_id", bad, &item("Widget", "1")).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{bad:?}: {err}");
    }
    let books_usage = client.budget_usage().into_iter().find(|u| u.api == zoho::Api::Books).unwrap();
    assert_eq!(books_usage.admitted, 3, "each refusal sent once; invalid keys never sent");
}

#[tokio::test]
async fn an_upsert_whose_answer_was_lost_is_repeated_and_leaves_one_item() {
    let (emu, creds) = support::emulator(EmulatorConfig::unlimited()).await;
    let client = support::builder(&creds)
        .retry(RetryPolicy { max_retries: 2, min_delay: Duration::from_millis(5), max_delay: Duration::from_millis(10), ..RetryPolicy::default() })
        .build()
        .unwrap();
    let books = client.books();
    // Every answer to an item upsert is lost after Books committed it.
    let drop_all = FaultRule { path_prefix: "/books/v3/items".into(), method: Some("PUT".into()), drop_response_rate: 1.0, ..FaultRule::default() };
    emu.state().faults.set(FaultConfig { seed: Some(3), rules: vec![drop_all], ..FaultConfig::default() }, 3);
    let err = books.upsert_item("cf_crm_product_id", "P-9", &item("Lost", "5")).await.unwrap_err();
    // A PUT is safe to repeat: the transport did (three sends), and says the call may be
    // repeated, not "look it up first".
    assert!(err.is_retryable() && !err.is_outcome_unknown(), "{err}");
    emu.state().faults.set(FaultConfig::default(), 3);
    assert_eq!(items_keyed(&books, "P-9").await.len(), 1, "three committed sends, one item");
    // The caller's repeat finds it.
    let (found, outcome) = books.upsert_item("cf_crm_product_id", "P-9", &item("Lost", "5")).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Updated);
    assert_eq!(items_keyed(&books, "P-9").await[0].item_id, found.item_id);
}

#[tokio::test]
async fn contacts_and_invoices_upsert_the_same_way() {
    let (_emu, client, _) = support::start().await;
    let books = client.books();
    let customer = Contact { contact_name: Some("Upsert Customer".into()), ..Contact::default() };
    let (contact, outcome) = books.upsert_contact("cf_crm_account_id", "A-1", &customer).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    let (again, outcome) =
        books.upsert_contact("cf_crm_account_id", "A-1", &Contact { company_name: Some("Upsert Co".into()), ..Contact::default() }).await.unwrap();
    assert_eq!((outcome, &again.contact_id), (UpsertOutcome::Updated, &contact.contact_id));
    let (widget, _) = books.upsert_item("cf_crm_product_id", "P-1", &item("Widget", "10")).await.unwrap();
    let invoice = Invoice {
        customer_id: contact.contact_id.clone(),
        line_items: vec![LineItem { item_id: widget.item_id.clone(), rate: Some(dec("10")), quantity: Some(dec("2")), ..LineItem::default() }],
        ..Invoice::default()
    };
    let (first, outcome) = books.upsert_invoice("cf_crm_deal_id", "D-1", &invoice).await.unwrap();
    assert_eq!(outcome, UpsertOutcome::Created);
    let (second, outcome) = books.upsert_invoice("cf_crm_deal_id", "D-1", &invoice).await.unwrap();
    assert_eq!((outcome, &second.invoice_id), (UpsertOutcome::Updated, &first.invoice_id));
    let all: Vec<Invoice> = books.invoices(ListQuery::new()).try_collect().await.unwrap();
    assert_eq!(all.len(), 1, "one invoice per deal");
}

#[test]
fn the_outcome_is_read_from_books_answer() {
    use serde_json::json;
    let stamps = |c: &str, m: &str| json!({"created_time": c, "last_modified_time": m});
    let same = stamps("2024-05-10T01:10:47+0000", "2024-05-10T01:10:47+0000");
    let later = stamps("2024-05-10T01:10:47+0000", "2024-05-11T01:10:47+0000");
    assert_eq!(UpsertOutcome::from_answer(200, "The item has been added.", &later), UpsertOutcome::Created);
    assert_eq!(UpsertOutcome::from_answer(200, "The item details have been updated.", &same), UpsertOutcome::Updated);
    assert_eq!(UpsertOutcome::from_answer(200, "Item details have been saved.", &same), UpsertOutcome::Updated);
    assert_eq!(UpsertOutcome::from_answer(200, "The contact has been created", &later), UpsertOutcome::Created);
    assert_eq!(UpsertOutcome::from_answer(201, "success", &later), UpsertOutcome::Created);
    assert_eq!(UpsertOutcome::from_answer(200, "success", &same), UpsertOutcome::Created);
    assert_eq!(UpsertOutcome::from_answer(200, "success", &later), UpsertOutcome::Updated);
}
