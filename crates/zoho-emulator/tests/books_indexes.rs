//! The Books indexes must be invisible: a contact list answered from them (walking a sort
//! index, or starting from an exact-filter index) gives exactly the rows and order the
//! documented sort gives, balances follow invoices, payments and credit notes, and
//! everything survives a state snapshot (indexes are rebuilt, not serialised).

mod books_support;

use std::cmp::Ordering;

use books_support::Books;
use reqwest::Method;
use serde_json::{Value, json};

/// Every row of `/contacts` with `query`, read `per_page` at a time.
async fn all_pages(b: &Books, query: &str, per_page: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let (s, body) = b.get(&format!("/contacts?{query}&per_page={per_page}&page={page}")).await;
        assert_eq!(s, 200, "{query}: {body}");
        let rows = body["contacts"].as_array().unwrap().clone();
        let more = body["page_context"]["has_more_page"].as_bool().unwrap();
        assert!(rows.len() <= per_page);
        if more {
            assert_eq!(rows.len(), per_page, "{query}: a page before the last is full");
        }
        out.extend(rows);
        if !more {
            break;
        }
    }
    out
}

fn text<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key].as_str().unwrap_or("")
}

fn amount(row: &Value) -> rust_decimal::Decimal {
    row["outstanding_receivable_amount"].to_string().trim_matches('"').parse().unwrap()
}

/// The documented order of a column, computed here from the rows themselves.
fn expected_order(rows: &mut [Value], column: &str, descending: bool) {
    rows.sort_by(|a, b| {
        let o = match column {
            "contact_name" => text(a, "contact_name").to_lowercase().cmp(&text(b, "contact_name").to_lowercase()),
            "company_name" => text(a, "company_name").to_lowercase().cmp(&text(b, "company_name").to_lowercase()),
            "email" => text(a, "email").cmp(text(b, "email")),
            "outstanding_receivable_amount" => amount(a).cmp(&amount(b)),
            // Contacts are created in id order, so creation order is id order.
            "created_time" => Ordering::Equal,
            other => panic!("no oracle for {other}"),
        }
        .then_with(|| text(a, "contact_id").cmp(text(b, "contact_id")));
        if descending { o.reverse() } else { o }
    });
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| text(r, "contact_id").to_string()).collect()
}

/// Creates a varied population: repeated companies, emails differing by case, CRM
/// links, inactive contacts and contacts without persons.
async fn populate(b: &Books) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..90 {
        let prefix = ["acme", "Zeta", "Ötzi", "beta"][i % 4];
        let company = ["Globex", "globex", "Initech", "", "Umbrella"][i % 5];
        let mut body = json!({"contact_name": format!("{prefix} Customer {i:03}"), "company_name": company});
        if i % 7 != 0 {
            let who = ["ann", "Ann", "bob"];
            body["contact_persons"] = json!([
                {"first_name": "P", "email": format!("{}{}@Example.com", who[i % 3], i % 11), "is_primary_contact": true},
                {"first_name": "Q", "email": format!("shared{}@example.com", i % 2)},
            ]);
        }
        if i % 6 == 0 {
            body["zcrm_account_id"] = json!(format!("57257670000{}", i % 4));
        }
        let (s, r) = b.post("/contacts", body).await;
        assert_eq!(s, 201, "{r}");
        created.push(r["contact"]["contact_id"].as_str().unwrap().to_string());
    }
    for id in created.iter().step_by(9) {
        let (s, _) = b.post(&format!("/contacts/{id}/inactive"), json!({})).await;
        assert_eq!(s, 200);
    }
    // Balances: invoices for a few customers, one paid in part and one with a credit note.
    for (n, id) in created.iter().enumerate().filter(|(n, _)| n % 10 == 3) {
        let (s, inv) = b.post("/invoices", json!({"customer_id": id, "line_items": [{"name": "Work", "rate": 10 * (n + 1), "quantity": 1}]})).await;
        assert_eq!(s, 201, "{inv}");
        let inv_id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
        assert_eq!(b.post(&format!("/invoices/{inv_id}/status/sent"), json!({})).await.0, 200);
        if n == 13 {
            let (s, p) = b
                .post(
                    "/customerpayments",
                    json!({"customer_id": id, "payment_mode": "cash", "amount": 50, "invoices": [{"invoice_id": inv_id, "amount_applied": 30}]}),
                )
                .await;
            assert_eq!(s, 201, "{p}");
        }
        if n == 23 {
            let (s, c) = b.post("/creditnotes", json!({"customer_id": id, "line_items": [{"name": "Refund", "rate": 5, "quantity": 1}]})).await;
            assert_eq!(s, 201, "{c}");
        }
    }
    created
}

/// Which rows a filter keeps, judged from the rows themselves.
type RowTest = Box<dyn Fn(&Value) -> bool>;

async fn check_orders(b: &Books) {
    let mut everyone = all_pages(b, "sort_column=contact_name", 200).await;
    assert_eq!(everyone.len(), 90);
    for column in ["contact_name", "company_name", "email", "outstanding_receivable_amount", "created_time"] {
        for descending in [false, true] {
            let order = if descending { "D" } else { "A" };
            let got = all_pages(b, &format!("sort_column={column}&sort_order={order}"), 7).await;
            if column == "created_time" {
                let mut by_id = ids(&everyone);
                by_id.sort();
                if descending {
                    by_id.reverse();
                }
                assert_eq!(ids(&got), by_id, "{column} {order}");
            } else {
                expected_order(&mut everyone, column, descending);
                assert_eq!(ids(&got), ids(&everyone), "{column} {order}");
            }
        }
    }
    // Filters, through an index or a walk, agree with filtering the full list.
    let filters: [(&str, RowTest); 9] = [
        ("contact_name_contains=TOMER%2001", Box::new(|r| text(r, "contact_name").to_lowercase().contains("tomer 01"))),
        ("contact_name_startswith=ÖTZI%20c", Box::new(|r| text(r, "contact_name").starts_with("Ötzi C"))),
        ("contact_name_startswith=ötzi&filter_by=Status.Active", Box::new(|r| text(r, "contact_name").starts_with("Ötzi") && text(r, "status") == "active")),
        ("filter_by=Status.Inactive", Box::new(|r| text(r, "status") == "inactive")),
        ("filter_by=Status.Crm", Box::new(|r| !text(r, "zcrm_account_id").is_empty())),
        ("zcrm_account_id=572576700002", Box::new(|r| text(r, "zcrm_account_id") == "572576700002")),
        ("company_name_contains=GLOB", Box::new(|r| text(r, "company_name").to_lowercase().contains("glob"))),
        ("contact_name=zeta%20customer%20001", Box::new(|r| text(r, "contact_name") == "Zeta Customer 001")),
        ("contact_name=ÖTZI%20CUSTOMER%20002", Box::new(|r| text(r, "contact_name") == "Ötzi Customer 002")),
    ];
    for (query, keep) in &filters {
        for column in ["contact_name", "company_name"] {
            expected_order(&mut everyone, column, true);
            let want: Vec<Value> = everyone.iter().filter(|r| keep(r)).cloned().collect();
            let got = all_pages(b, &format!("{query}&sort_column={column}&sort_order=D"), 4).await;
            assert!(!want.is_empty(), "{query} matches something");
            assert_eq!(ids(&got), ids(&want), "{query} by {column}");
        }
    }
    // `email=` matches any person's email, whatever its case.
    let got = all_pages(b, "email=ANN1@example.COM", 200).await;
    assert!(!got.is_empty());
    for r in &got {
        let (_, full) = b.get(&format!("/contacts/{}", text(r, "contact_id"))).await;
        let persons = full["contact"]["contact_persons"].as_array().unwrap();
        assert!(persons.iter().any(|p| p["email"].as_str().unwrap().eq_ignore_ascii_case("ann1@example.com")));
    }
    let shared = all_pages(b, "email=shared1@example.com", 200).await;
    assert_eq!(shared.len(), (0..90).filter(|i| i % 2 == 1 && i % 7 != 0).count(), "secondary persons match too");
}

#[tokio::test]
async fn indexed_contact_lists_match_the_documented_sort_and_survive_a_snapshot() {
    let b = Books::start().await;
    let created = populate(&b).await;
    check_orders(&b).await;
    let (_, with_invoice) = b.get(&format!("/contacts/{}", created[13])).await;
    assert_eq!(with_invoice["contact"]["outstanding_receivable_amount"], json!(110));
    assert_eq!(with_invoice["contact"]["unused_credits_receivable_amount"], json!(20));
    assert_eq!(with_invoice["contact"]["has_transaction"], json!(true));
    let (_, with_note) = b.get(&format!("/contacts/{}", created[23])).await;
    assert_eq!(with_note["contact"]["unused_credits_receivable_amount"], json!(5));

    // A renamed, re-mailed, relinked contact moves in every index.
    let moved = &created[1];
    let (s, r) = b
        .put(
            &format!("/contacts/{moved}"),
            json!({"contact_name": "AAA first now", "company_name": "Aardvark", "zcrm_account_id": "999",
                   "contact_persons": [{"first_name": "New", "email": "New.Person@example.com"}]}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(ids(&all_pages(&b, "sort_column=contact_name", 1).await[..1]), vec![moved.clone()]);
    assert_eq!(ids(&all_pages(&b, "email=new.person@EXAMPLE.com", 200).await), vec![moved.clone()]);
    assert_eq!(ids(&all_pages(&b, "zcrm_account_id=999", 200).await), vec![moved.clone()]);
    assert!(all_pages(&b, "email=ann1@example.com", 200).await.iter().all(|r| text(r, "contact_id") != moved));
    // A deleted contact leaves every index.
    let gone = &created[2];
    assert_eq!(b.delete(&format!("/contacts/{gone}")).await.0, 200);
    assert!(all_pages(&b, "sort_column=email", 13).await.iter().all(|r| text(r, "contact_id") != gone));
    assert_eq!(b.delete(&format!("/contacts/{}", created[13])).await.0, 400, "a contact with transactions stays");

    // Snapshot and restore: the indexes are rebuilt from the records.
    let before = all_pages(&b, "sort_column=company_name&sort_order=D", 200).await;
    let url = format!("{}/__emulator/state", b.emu.url());
    let snapshot: Value = b.http.get(&url).send().await.unwrap().json().await.unwrap();
    let text_snapshot = snapshot.to_string();
    assert!(!text_snapshot.contains("contacts_by_company"), "indexes are not serialised");
    let (s, _) = Books::send(b.http.request(Method::PUT, &url).json(&snapshot)).await;
    assert_eq!(s, 200);
    assert_eq!(all_pages(&b, "sort_column=company_name&sort_order=D", 200).await, before);
    assert_eq!(all_pages(&b, "zcrm_account_id=999", 200).await.len(), 1);
    check_orders_after_restore(&b).await;
    b.emu.stop().await;
}

async fn check_orders_after_restore(b: &Books) {
    let (s, r) = b.post("/contacts", json!({"contact_name": "aaa first now"})).await;
    assert_eq!(s, 400, "the name index survived the restore: {r}");
    let rows = all_pages(b, "", 200).await;
    let customer = text(&rows[0], "contact_id");
    let (s, est) = b.post("/estimates", json!({"customer_id": customer, "line_items": [{"name": "x", "rate": 1}]})).await;
    assert_eq!(s, 201, "{est}");
    assert_eq!(est["estimate"]["estimate_number"], json!("EST-000001"));
}

/// Unique custom values and document numbers are checked through the indexes: taken
/// values are refused, freed ones (deleted records) can be used again.
#[tokio::test]
async fn unique_values_and_numbers_are_enforced_through_the_indexes() {
    let b = Books::start().await;
    let cf = |v: &str| json!([{"api_name": "cf_crm_account_id", "value": v}]);
    let (s, first) = b.post("/contacts", json!({"contact_name": "One", "custom_fields": cf("A-1")})).await;
    assert_eq!(s, 201);
    let (s, r) = b.post("/contacts", json!({"contact_name": "Two", "custom_fields": cf("A-1")})).await;
    assert_eq!(s, 400, "{r}");
    let first_id = first["contact"]["contact_id"].as_str().unwrap().to_string();
    // Updating the holder itself keeps its value.
    assert_eq!(b.put(&format!("/contacts/{first_id}"), json!({"notes": "x", "custom_fields": cf("A-1")})).await.0, 200);
    assert_eq!(b.delete(&format!("/contacts/{first_id}")).await.0, 200);
    let (s, r) = b.post("/contacts", json!({"contact_name": "Two", "custom_fields": cf("A-1")})).await;
    assert_eq!(s, 201, "a freed value can be reused: {r}");
    let customer = r["contact"]["contact_id"].as_str().unwrap().to_string();

    let line = json!([{"name": "x", "rate": 1}]);
    let (s, _) =
        b.post("/estimates?ignore_auto_number_generation=true", json!({"customer_id": customer, "estimate_number": "EST-000002", "line_items": line})).await;
    assert_eq!(s, 201);
    let (_, e1) = b.post("/estimates", json!({"customer_id": customer, "line_items": line})).await;
    let (_, e2) = b.post("/estimates", json!({"customer_id": customer, "line_items": line})).await;
    assert_eq!(e1["estimate"]["estimate_number"], json!("EST-000001"));
    assert_eq!(e2["estimate"]["estimate_number"], json!("EST-000003"), "the taken number is skipped");
    let (s, _) =
        b.post("/estimates?ignore_auto_number_generation=true", json!({"customer_id": customer, "estimate_number": "EST-000003", "line_items": line})).await;
    assert_eq!(s, 400);
    let (s, c1) =
        b.post("/creditnotes?ignore_auto_number_generation=true", json!({"customer_id": customer, "creditnote_number": "CN-000001", "line_items": line})).await;
    assert_eq!(s, 201, "{c1}");
    let (_, c2) = b.post("/creditnotes", json!({"customer_id": customer, "line_items": line})).await;
    assert_eq!(c2["creditnote"]["creditnote_number"], json!("CN-000002"));
    let c1_id = c1["creditnote"]["creditnote_id"].as_str().unwrap();
    assert_eq!(b.delete(&format!("/creditnotes/{c1_id}")).await.0, 200);
    let (s, _) =
        b.post("/creditnotes?ignore_auto_number_generation=true", json!({"customer_id": customer, "creditnote_number": "CN-000001", "line_items": line})).await;
    assert_eq!(s, 201, "a deleted credit note's number is free again");
    b.emu.stop().await;
}
