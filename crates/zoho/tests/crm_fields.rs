//! CRM's fields API against the emulator: a user creates a custom field the way
//! `check --online` advises ("Balance Due" on Deals), records take and return values for
//! it typed like a built-in currency field, a duplicate label is refused with Zoho's code,
//! and deleting the field removes it from the metadata and from the records.

mod support;

use serde_json::json;
use zoho::crm::{fields::NewField, models::Record, records::WriteOptions};

#[tokio::test]
async fn a_created_currency_field_takes_and_returns_deal_values() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let id = crm.create_field("Deals", &NewField::new("Balance Due", "currency")).await.unwrap();
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "a digit-string id: {id}");

    let meta = crm.fields("Deals").await.unwrap();
    let field = meta.iter().find(|f| f.api_name == "Balance_Due").expect("the field is listed");
    assert_eq!((field.data_type.as_str(), field.field_label.as_deref(), field.id.as_deref()), ("currency", Some("Balance Due"), Some(id.as_str())));
    assert_eq!(crm.field("Deals", &id).await.unwrap().map(|f| f.api_name), Some("Balance_Due".to_string()));

    let mut deal = Record::default();
    deal.set("Deal_Name", "Field test").set("Stage", "Qualification").set("Balance_Due", json!(1234.5));
    let written = crm.insert("Deals", &[deal], &WriteOptions::default()).await.unwrap();
    assert!(written[0].is_success(), "{written:?}");
    let deal_id = written[0].id().unwrap().to_string();
    let read: Record = crm.get("Deals", &deal_id, &["Deal_Name", "Balance_Due"]).await.unwrap().expect("the deal");
    assert_eq!(read.get("Balance_Due"), Some(&json!(1234.5)));

    // Typed like a currency field: text is refused with INVALID_DATA naming the field.
    let mut wrong = Record::default();
    wrong.set("id", deal_id.clone()).set("Balance_Due", "a lot");
    let refused = crm.update("Deals", &[wrong], &WriteOptions::default()).await.unwrap();
    assert_eq!((refused[0].code.as_str(), refused[0].api_name()), ("INVALID_DATA", Some("Balance_Due")));

    // The same label again: DUPLICATE_DATA, and the field exists once.
    let err = crm.create_field("Deals", &NewField::new("balance due", "text")).await.unwrap_err();
    let api = err.api().expect("an API refusal");
    assert_eq!((api.status, api.crm_code()), (400, Some("DUPLICATE_DATA")));
    assert_eq!(crm.fields("Deals").await.unwrap().iter().filter(|f| f.api_name == "Balance_Due").count(), 1);
    // A built-in label is taken too.
    assert!(crm.create_field("Deals", &NewField::new("Amount", "currency")).await.is_err());

    // Deleting it removes the metadata and the values.
    crm.delete_field("Deals", &id).await.unwrap();
    assert!(crm.fields("Deals").await.unwrap().iter().all(|f| f.api_name != "Balance_Due"));
    let read: Record = crm.get("Deals", &deal_id, &[]).await.unwrap().expect("the deal");
    assert_eq!(read.get("Balance_Due"), None);
}

#[tokio::test]
async fn picklists_need_values_and_unknown_types_are_refused() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let err = crm.create_field("Deals", &NewField::new("Payment State", "picklist")).await.unwrap_err();
    assert_eq!(err.api().and_then(|a| a.crm_code()), Some("MANDATORY_NOT_FOUND"));
    let err = crm.create_field("Deals", &NewField::new("Hologram", "hologram")).await.unwrap_err();
    assert_eq!(err.api().and_then(|a| a.crm_code()), Some("INVALID_DATA"));
    crm.create_field("Deals", &NewField::picklist("Payment State", ["Unpaid", "Paid"])).await.unwrap();
    let field = crm.field("Deals", "Payment_State").await.unwrap().expect("created");
    let values: Vec<&str> = field.pick_list_values.iter().map(|v| v.actual_value.as_str()).collect();
    assert_eq!(values, ["Unpaid", "Paid"]);
    let mut deal = Record::default();
    deal.set("Deal_Name", "Picklist").set("Stage", "Qualification").set("Payment_State", "Paid");
    let written = crm.insert("Deals", &[deal], &WriteOptions::default()).await.unwrap();
    let read: Record = crm.get("Deals", written[0].id().unwrap(), &["Payment_State"]).await.unwrap().unwrap();
    assert_eq!(read.str("Payment_State"), Some("Paid"));
}
