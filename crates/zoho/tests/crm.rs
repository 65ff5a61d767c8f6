//! CRM against the emulator: paging 450 records, batch writes with per-record results,
//! search values with every special character, If-Modified-Since, If-Unmodified-Since,
//! metadata, notification channels and related lists (a price book's products, an account's
//! contacts).

mod support;

use std::time::Duration;

use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use zoho::crm::{
    criteria::Criteria,
    models::{Contact, Deal, Lookup, Record},
    notifications::{Channel, verify_callback},
    records::{ListParams, SortOrder, WriteOptions},
    search::SearchBy,
};

fn contact(last: &str, email: &str) -> Contact {
    Contact { last_name: Some(last.into()), email: Some(email.into()), ..Contact::default() }
}

#[tokio::test]
async fn a_450_record_list_is_paged_completely() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let contacts: Vec<Contact> = (0..450).map(|i| contact(&format!("Person {i:03}"), &format!("p{i}@example.com"))).collect();
    let results = crm.insert("Contacts", &contacts, &WriteOptions::no_triggers()).await.unwrap();
    assert_eq!(results.len(), 450, "five batches of up to 100");
    assert!(results.iter().all(|r| r.is_success() && r.id().is_some()));
    let listed: Vec<Contact> = crm.list("Contacts", ListParams::new(["Last_Name", "Email"]).sort("id", SortOrder::Asc)).try_collect().await.unwrap();
    assert_eq!(listed.len(), 450);
    let mut names: Vec<String> = listed.iter().map(|c| c.last_name.clone().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 450, "no record twice, none missing");
    // Small pages walk the same set.
    let small: Vec<Record> = crm.list("Contacts", ListParams::new(["Last_Name"]).per_page(37)).try_collect().await.unwrap();
    assert_eq!(small.len(), 450);
}

#[tokio::test]
async fn an_empty_module_is_an_empty_stream() {
    let (_emu, client, _) = support::start().await;
    let deals: Vec<Deal> = client.crm().list("Deals", ListParams::new(["Deal_Name"])).try_collect().await.unwrap();
    assert!(deals.is_empty());
    let err = client.crm().list::<Deal>("Deals", ListParams::new(Vec::<String>::new())).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, zoho::Error::InvalidInput(_)));
}

#[tokio::test]
async fn batch_upsert_reports_each_record() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    crm.insert("Contacts", &[contact("Existing", "existing@example.com")], &WriteOptions::default()).await.unwrap();
    let batch = vec![
        contact("Existing Updated", "existing@example.com"),
        contact("Brand New", "new@example.com"),
        Contact { email: Some("nolastname@example.com".into()), ..Contact::default() },
        contact("Bad Email", "not-an-email"),
    ];
    let results = crm.upsert("Contacts", &batch, &["Email"], &WriteOptions::no_triggers()).await.unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_success());
    assert_eq!(results[0].action.as_deref(), Some("update"));
    assert!(results[1].is_success());
    assert_eq!(results[1].action.as_deref(), Some("insert"));
    assert!(!results[2].is_success());
    assert_eq!(results[2].code, "MANDATORY_NOT_FOUND");
    assert_eq!(results[2].api_name(), Some("Last_Name"));
    assert!(!results[3].is_success());
    assert_eq!(results[3].code, "INVALID_DATA");
    // Read-modify-write through the typed struct keeps unknown fields.
    let id = results[0].id().unwrap().to_string();
    let mut got: Contact = crm.get("Contacts", &id, &[]).await.unwrap().expect("exists");
    assert_eq!(got.last_name.as_deref(), Some("Existing Updated"));
    assert!(!got.extra.is_empty(), "fields the struct does not name are kept");
    got.first_name = Some("Ada".into());
    let upd = crm.update("Contacts", &[got.clone()], &WriteOptions::no_triggers()).await.unwrap();
    assert!(upd[0].is_success(), "{:?}", upd[0]);
    // Delete, then the record is gone.
    let del = crm.delete("Contacts", &[id.as_str()]).await.unwrap();
    assert!(del[0].is_success());
    assert!(crm.get::<Contact>("Contacts", &id, &[]).await.unwrap().is_none());
}

#[tokio::test]
async fn all_failed_batch_is_results_not_an_error() {
    let (_emu, client, _) = support::start().await;
    let batch = vec![Contact { first_name: Some("x".into()), ..Contact::default() }; 3];
    let results = client.crm().insert("Contacts", &batch, &WriteOptions::default()).await.unwrap();
    assert!(results.iter().all(|r| r.code == "MANDATORY_NOT_FOUND"));
}

#[tokio::test]
async fn search_values_with_every_special_character_round_trip() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let names =
        [r"O'Brien (Sales), Ltd.", r"Back\slash\", r#"Quote "double" and 'single'"#, "Commas,,and)parens(", "Plus+Amp&Percent%Hash#Eq=Q?", "Ünïcødé — 東京"];
    let contacts: Vec<Contact> = names.iter().enumerate().map(|(i, n)| contact(n, &format!("s{i}@example.com"))).collect();
    let results = crm.insert("Contacts", &contacts, &WriteOptions::default()).await.unwrap();
    assert!(results.iter().all(|r| r.is_success()), "{results:?}");
    for name in names {
        let found: Vec<Contact> = crm.search("Contacts", Criteria::equals("Last_Name", name), &["Last_Name", "Email"]).try_collect().await.unwrap();
        assert_eq!(found.len(), 1, "searching {name:?} found {found:?}");
        assert_eq!(found[0].last_name.as_deref(), Some(name));
    }
    // `in` with escaped commas inside values, and `or`.
    let c = Criteria::is_in("Last_Name", [names[0], names[3]]).or(Criteria::starts_with("Last_Name", r"Back\"));
    let found: Vec<Record> = crm.search("Contacts", c, &["Last_Name"]).try_collect().await.unwrap();
    assert_eq!(found.len(), 3);
    let by_email: Vec<Record> = crm.search("Contacts", SearchBy::Email("s4@example.com".into()), &[]).try_collect().await.unwrap();
    assert_eq!(by_email.len(), 1);
    let none: Vec<Record> = crm.search("Contacts", Criteria::equals("Last_Name", "Nobody At All"), &[]).try_collect().await.unwrap();
    assert!(none.is_empty(), "204 is an empty stream");
}

#[tokio::test]
async fn if_modified_since_returns_only_newer_records_or_nothing() {
    let (emu, client, _) = support::start().await;
    let crm = client.crm();
    crm.insert("Contacts", &[contact("Old", "old@example.com")], &WriteOptions::default()).await.unwrap();
    emu.state().clock.advance_ms(60_000);
    let since = jiff::Timestamp::from_millisecond(emu.state().clock.now_ms()).unwrap();
    let none: Vec<Record> = crm.list("Contacts", ListParams::new(["Last_Name"]).modified_since(since)).try_collect().await.unwrap();
    assert!(none.is_empty(), "304 is an empty stream");
    emu.state().clock.advance_ms(60_000);
    crm.insert("Contacts", &[contact("New", "new@example.com")], &WriteOptions::default()).await.unwrap();
    let newer: Vec<Contact> = crm.list("Contacts", ListParams::new(["Last_Name"]).modified_since(since)).try_collect().await.unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(newer[0].last_name.as_deref(), Some("New"));
}

#[tokio::test]
async fn if_unmodified_since_keeps_a_change_made_after_our_read() {
    let (emu, client, _) = support::start().await;
    let crm = client.crm();
    let inserted = crm.insert("Contacts", &[contact("First", "first@example.com")], &WriteOptions::default()).await.unwrap();
    let id = inserted[0].id().unwrap().to_string();
    let read_time = || {
        let crm = crm.clone();
        let id = id.clone();
        async move {
            let read: Contact = crm.get("Contacts", &id, &["Last_Name", "Modified_Time"]).await.unwrap().unwrap();
            read.modified_time.as_deref().expect("Modified_Time").parse::<jiff::Timestamp>().unwrap()
        }
    };
    let ours = Contact { id: Some(id.clone()), last_name: Some("Ours".into()), ..Contact::default() };

    // Nobody changed it since our read: the update goes through (within the same second too).
    let since = read_time().await;
    let r = crm.update("Contacts", std::slice::from_ref(&ours), &WriteOptions::default().unmodified_since(since)).await.unwrap();
    assert!(r[0].is_success() && !r[0].is_already_modified(), "{r:?}");

    // We read it again; someone else edits it five seconds later; our update from that
    // read is refused in its own result (CRM answers 412) and their change stays.
    let since = read_time().await;
    emu.state().clock.advance_ms(5_000);
    let theirs = Contact { id: Some(id.clone()), last_name: Some("Theirs".into()), ..Contact::default() };
    crm.update("Contacts", &[theirs], &WriteOptions::default()).await.unwrap();
    let r = crm.update("Contacts", &[ours], &WriteOptions::default().unmodified_since(since)).await.unwrap();
    assert!(r[0].is_already_modified() && !r[0].is_success(), "{r:?}");
    assert!(r[0].details.get("Modified_Time").is_some_and(|t| t.is_string()), "{r:?}");
    let now: Contact = crm.get("Contacts", &id, &["Last_Name"]).await.unwrap().unwrap();
    assert_eq!(now.last_name.as_deref(), Some("Theirs"));
}

#[tokio::test]
async fn deals_carry_money_as_decimals() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let deal = Deal {
        deal_name: Some("Decimal deal".into()),
        stage: Some("Qualification".into()),
        amount: Some("1234567.89".parse::<Decimal>().unwrap()),
        ..Deal::default()
    };
    let r = crm.insert("Deals", &[deal], &WriteOptions::default()).await.unwrap();
    assert!(r[0].is_success(), "{:?}", r[0]);
    let got: Deal = crm.get("Deals", r[0].id().unwrap(), &["Deal_Name", "Amount"]).await.unwrap().unwrap();
    assert_eq!(got.amount, Some("1234567.89".parse().unwrap()));
}

#[tokio::test]
async fn field_metadata_lists_picklists() {
    let (_emu, client, _) = support::start().await;
    let fields = client.crm().fields("Deals").await.unwrap();
    let stage = fields.iter().find(|f| f.api_name == "Stage").expect("Stage");
    assert!(stage.pick_list_values.iter().any(|v| v.actual_value == "Closed Won"));
}

#[tokio::test]
async fn notification_channels_enable_renew_callback_disable() {
    let (emu, client, _) = support::start().await;
    let crm = client.crm();
    let mut channel = Channel::new("1000000068001", &["Contacts.all"], "http://127.0.0.1:9/hook?k=v", "TOKEN-1", Duration::from_secs(600));
    let r = crm.enable_notifications(std::slice::from_ref(&channel)).await.unwrap();
    assert!(r[0].is_success(), "{r:?}");
    assert!(!channel.needs_renewal(jiff::Timestamp::now(), Duration::from_secs(60)));
    assert!(crm.renew_if_due(&mut channel, Duration::from_secs(60), Duration::from_secs(3600)).await.unwrap().is_none());
    let before = channel.channel_expiry;
    let renewed = crm.renew_if_due(&mut channel, Duration::from_secs(900), Duration::from_secs(3600)).await.unwrap();
    assert!(renewed.unwrap().is_success());
    assert!(channel.channel_expiry > before);
    // A write fires a callback; parse and verify what the emulator sent.
    let ids = crm.insert("Contacts", &[contact("Watched", "w@example.com")], &WriteOptions::default()).await.unwrap();
    let id = ids[0].id().unwrap().to_string();
    let mut body = None;
    for _ in 0..50 {
        if let Some(d) = emu.state().outbox.log().into_iter().find(|d| d.delivery.kind == "crm_notification") {
            body = Some(serde_json::to_vec(&d.delivery.body).unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cb = verify_callback(&body.expect("a callback was sent"), &channel).unwrap();
    assert_eq!(cb.module, "Contacts");
    assert_eq!(cb.ids, vec![id]);
    let off = crm.disable_notifications(&["1000000068001"]).await.unwrap();
    assert!(off[0].is_success(), "{off:?}");
    assert!(crm.list_notifications().await.unwrap().is_empty());
}

#[tokio::test]
async fn more_than_fifty_fields_are_read_in_several_passes() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let mut c = contact("Wide", "wide@example.com");
    c.first_name = Some("Many".into());
    crm.insert("Contacts", &[c], &WriteOptions::default()).await.unwrap();
    // 61 names: CRM refuses more than 50 in one read, so Email (position 55) and
    // First_Name (position 59) come from the second pass, merged by id.
    let mut fields: Vec<String> = vec!["Last_Name".into()];
    fields.extend((0..54).map(|i| format!("Not_A_Field_{i}")));
    fields.push("Email".into());
    fields.extend((0..3).map(|i| format!("Also_Not_{i}")));
    fields.push("First_Name".into());
    fields.push("Phone".into());
    assert_eq!(fields.len(), 61);
    let rows: Vec<Contact> = crm.list("Contacts", ListParams::new(fields.clone())).try_collect().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].email.as_deref(), Some("wide@example.com"));
    assert_eq!(rows[0].first_name.as_deref(), Some("Many"));
    let id = rows[0].id.clone().unwrap();
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let one: Contact = crm.get("Contacts", &id, &names).await.unwrap().unwrap();
    assert_eq!(one.email.as_deref(), Some("wide@example.com"));
}

#[tokio::test]
async fn beyond_two_thousand_records_page_tokens_take_over() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let contacts: Vec<Contact> = (0..2_150).map(|i| contact(&format!("Bulk {i:04}"), &format!("b{i}@example.com"))).collect();
    let results = crm.insert("Contacts", &contacts, &WriteOptions::no_triggers()).await.unwrap();
    assert!(results.iter().all(|r| r.is_success()));
    let listed: Vec<Record> = crm.list("Contacts", ListParams::new(["Last_Name"])).try_collect().await.unwrap();
    assert_eq!(listed.len(), 2_150);
    let mut ids: Vec<String> = listed.into_iter().map(|r| r.id.unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2_150);
}

#[tokio::test]
async fn related_lists_stream_their_records() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let products: Vec<zoho::crm::models::Product> = (0..3)
        .map(|i| zoho::crm::models::Product {
            product_name: Some(format!("P{i}")),
            product_code: Some(format!("SKU-{i}")),
            unit_price: Some(Decimal::new(1999, 2)),
            ..Default::default()
        })
        .collect();
    let made = crm.insert("Products", &products, &WriteOptions::default()).await.unwrap();
    let mut book = Record::default();
    book.set("Price_Book_Name", "Wholesale");
    let book_id = crm.insert("Price_Books", &[book], &WriteOptions::default()).await.unwrap()[0].id().unwrap().to_string();
    let links: Vec<serde_json::Value> = made.iter().map(|r| serde_json::json!({"id": r.id().unwrap(), "list_price": 12.5})).collect();
    let linked = crm.relate("Price_Books", &book_id, "Products", &links).await.unwrap();
    assert!(linked.iter().all(|r| r.is_success()), "{linked:?}");
    let related: Vec<Record> = crm.related("Price_Books", &book_id, "Products", ListParams::new(["Product_Name", "Product_Code"])).try_collect().await.unwrap();
    assert_eq!(related.len(), 3);
    assert!(related.iter().all(|r| r.get("list_price") == Some(&serde_json::json!(12.5))));
}

#[tokio::test]
async fn an_accounts_contacts_are_read_through_its_related_list_page_after_page() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let mut accounts = Vec::new();
    for name in ["Primary Co", "Other Co"] {
        let mut a = Record::default();
        a.set("Account_Name", name);
        accounts.push(a);
    }
    let made = crm.insert("Accounts", &accounts, &WriteOptions::default()).await.unwrap();
    let (account, other) = (made[0].id().unwrap().to_string(), made[1].id().unwrap().to_string());
    let people: Vec<Contact> = (0..6)
        .map(|i| {
            let owner = if i == 5 { &other } else { &account };
            Contact { account: Some(Lookup::id(owner.clone())), ..contact(&format!("Member {i}"), &format!("member{i}@example.com")) }
        })
        .collect();
    assert!(crm.insert("Contacts", &people, &WriteOptions::default()).await.unwrap().iter().all(|r| r.is_success()));
    // Two per page, so the stream has to follow `more_records` across three pages.
    let listed: Vec<Contact> =
        crm.related("Accounts", &account, "Contacts", ListParams::new(["Last_Name", "Email", "Account_Name"]).per_page(2)).try_collect().await.unwrap();
    let mut emails: Vec<String> = listed.iter().filter_map(|c| c.email.clone()).collect();
    emails.sort();
    assert_eq!(emails, ["member0@example.com", "member1@example.com", "member2@example.com", "member3@example.com", "member4@example.com"]);
    assert!(listed.iter().all(|c| c.account.as_ref().map(|a| a.id.as_str()) == Some(account.as_str())));
    // An account without contacts is an empty stream (CRM answers 204).
    let mut lonely = Record::default();
    lonely.set("Account_Name", "Lonely Co");
    let lonely = crm.insert("Accounts", &[lonely], &WriteOptions::default()).await.unwrap()[0].id().unwrap().to_string();
    let none: Vec<Contact> = crm.related("Accounts", &lonely, "Contacts", ListParams::new(["Email"])).try_collect().await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn coql_reads_pages_and_reports_errors() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let people: Vec<Contact> = ["Coql A", "Coql B", "Coql C", "Other"].iter().map(|n| contact(n, &format!("{}@example.com", n.replace(' ', ".")))).collect();
    crm.insert("Contacts", &people, &WriteOptions::default()).await.unwrap();
    let page = crm.coql("select Last_Name, Email from Contacts where Last_Name like 'Coql%' order by Last_Name asc limit 0, 2").await.unwrap();
    assert_eq!(page.rows.len(), 2);
    assert!(page.info.more_records);
    assert_eq!(page.rows[0]["Last_Name"], "Coql A");
    let rest = crm.coql("select Last_Name from Contacts where Last_Name like 'Coql%' order by Last_Name asc limit 2, 2").await.unwrap();
    assert_eq!(rest.rows.len(), 1);
    assert!(!rest.info.more_records);
    let none = crm.coql("select Last_Name from Contacts where Last_Name = 'Nobody'").await.unwrap();
    assert!(none.rows.is_empty(), "204 is an empty page");
    let err = crm.coql("select from where").await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.api().unwrap().crm_code().is_some_and(|c| c == "SYNTAX_ERROR" || c == "INVALID_QUERY"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn deleted_records_and_counts() {
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let made = crm.insert("Contacts", &[contact("Gone", "gone@example.com"), contact("Kept", "kept@example.com")], &WriteOptions::default()).await.unwrap();
    assert_eq!(crm.count("Contacts").await.unwrap(), 2);
    let gone = made[0].id().unwrap();
    crm.delete("Contacts", &[gone]).await.unwrap();
    assert_eq!(crm.count("Contacts").await.unwrap(), 1);
    let deleted: Vec<zoho::crm::models::DeletedRecord> = crm.deleted("Contacts", "all").try_collect().await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, gone);
    assert_eq!(deleted[0].kind, "recycle");
}

#[tokio::test]
async fn quotes_with_line_items_compute_exact_totals() {
    use zoho::crm::models::{Lookup, Product, Quote, QuotedItem};
    let (_emu, client, _) = support::start().await;
    let crm = client.crm();
    let product = Product { product_name: Some("Gadget".into()), unit_price: Some(Decimal::new(10, 1)), ..Product::default() };
    let pid = crm.insert("Products", &[product], &WriteOptions::default()).await.unwrap()[0].id().unwrap().to_string();
    let line = |price: i64, qty: i64| QuotedItem {
        product: Some(Lookup::id(&pid)),
        list_price: Some(Decimal::new(price, 2)),
        quantity: Some(Decimal::from(qty)),
        ..QuotedItem::default()
    };
    let quote = Quote { subject: Some("Q-1".into()), quoted_items: vec![line(10, 3), line(20, 1)], adjustment: Some(Decimal::new(1, 2)), ..Quote::default() };
    let r = crm.insert("Quotes", &[quote], &WriteOptions::default()).await.unwrap();
    assert!(r[0].is_success(), "{:?}", r[0]);
    let got: Quote = crm.get("Quotes", r[0].id().unwrap(), &[]).await.unwrap().unwrap();
    assert_eq!(got.quoted_items.len(), 2);
    assert_eq!(got.quoted_items[0].total, Some(Decimal::new(30, 2)), "0.10 × 3 exactly");
    assert_eq!(got.sub_total, Some(Decimal::new(50, 2)));
    assert_eq!(got.grand_total, Some(Decimal::new(51, 2)));
}
