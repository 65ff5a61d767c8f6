//! Books contacts, contact persons, items and settings over real HTTP.

mod books_support;

use books_support::Books;
use serde_json::json;

#[tokio::test]
async fn organizations_and_settings_are_bootstrapped() {
    let b = Books::start().await;
    let (s, body) = Books::send(b.req(reqwest::Method::GET, format!("{}/books/v3/organizations", b.emu.url()))).await;
    assert_eq!(s, 200);
    let org = &body["organizations"][0];
    assert_eq!(org["organization_id"], b.org.as_str());
    assert!(b.org.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(org["currency_code"], "USD");
    let (s, one) = b.get(&format!("/organizations/{}", b.org)).await;
    assert_eq!(s, 200);
    assert_eq!(one["organization"]["name"], org["name"]);
    let (_, cur) = b.get("/settings/currencies").await;
    let codes: Vec<_> = cur["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["currency_code"].as_str().unwrap().to_string(), c["price_precision"].as_u64().unwrap()))
        .collect();
    for (code, p) in [("USD", 2), ("EUR", 2), ("GBP", 2), ("INR", 2), ("JPY", 0), ("KWD", 3)] {
        assert!(codes.contains(&(code.to_string(), p)), "{code}");
    }
    let (_, ex) = b.get("/settings/currencies?filter_by=Currencies.ExcludeBaseCurrency").await;
    assert!(ex["currencies"].as_array().unwrap().iter().all(|c| c["is_base_currency"] == false));
    let eur = b.currency("EUR").await;
    let (s, r) = b.post(&format!("/settings/currencies/{eur}/exchangerates"), json!({"rate": 1.11, "effective_date": "2099-01-01"})).await;
    assert_eq!(s, 201, "{r}");
    let (_, rates) = b.get(&format!("/settings/currencies/{eur}/exchangerates")).await;
    assert_eq!(rates["exchange_rates"][0]["rate"], 1.11);
    let (_, taxes) = b.get("/settings/taxes").await;
    assert!(taxes["taxes"].as_array().unwrap().len() >= 5);
    assert_eq!(taxes["page_context"]["page"], 1);
    let (_, t) = b.get("/invoices/templates").await;
    assert!(!t["templates"].as_array().unwrap().is_empty());
    let (_, me) = b.get("/users/me").await;
    assert!(me["user"]["user_id"].is_string());
    b.emu.stop().await;
}

#[tokio::test]
async fn contact_crud_persons_filters_and_uniqueness() {
    let b = Books::start().await;
    let gbp = b.currency("GBP").await;
    let (s, c) = b
        .post(
            "/contacts",
            json!({
                "contact_name": "Thames Ltd", "company_name": "Thames Limited", "currency_id": gbp,
                "zcrm_account_id": "9001", "zcrm_contact_id": "9002",
                "billing_address": {"city": "London", "country": "UK"},
                "contact_persons": [{"first_name": "Olivia", "email": "olivia@thames.example", "is_primary_contact": true}],
                "custom_fields": [{"api_name": "cf_segment", "value": "Enterprise"}],
                "made_up_field": 1,
            }),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["message"], "The contact has been created");
    let contact = &c["contact"];
    let id = contact["contact_id"].as_str().unwrap().to_string();
    assert_eq!(contact["currency_code"], "GBP");
    assert_eq!(contact["zcrm_account_id"], "9001");
    assert_eq!(contact["is_linked_with_zohocrm"], true);
    assert_eq!(contact["custom_fields"][0]["value"], "Enterprise");
    assert!(contact.get("made_up_field").is_none(), "unknown fields are ignored");
    assert_eq!(contact["contact_persons"][0]["is_primary_contact"], true);

    let (s, dup) = b.post("/contacts", json!({"contact_name": "thames ltd"})).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)), "{dup}");

    let (_, by_email) = b.get("/contacts?email=olivia@thames.example").await;
    assert_eq!(by_email["contacts"][0]["contact_id"], id.as_str());
    let (_, by_crm) = b.get("/contacts?zcrm_account_id=9001").await;
    assert_eq!(by_crm["contacts"].as_array().unwrap().len(), 1);
    let (_, starts) = b.get("/contacts?contact_name_startswith=tham").await;
    assert_eq!(starts["contacts"].as_array().unwrap().len(), 1);
    let (_, none) = b.get("/contacts?contact_name_contains=zzz").await;
    assert_eq!(none["contacts"].as_array().unwrap().len(), 0);

    // Contact persons.
    let (s, p) = b.post("/contacts/contactpersons", json!({"contact_id": id, "first_name": "Sam", "email": "sam@thames.example"})).await;
    assert_eq!(s, 201, "{p}");
    let pid = p["contact_person"][0]["contact_person_id"].as_str().unwrap().to_string();
    let (s, _) = b.post(&format!("/contacts/contactpersons/{pid}/primary"), json!({})).await;
    assert_eq!(s, 200);
    let (_, persons) = b.get(&format!("/contacts/{id}/contactpersons")).await;
    let persons = persons["contact_persons"].as_array().unwrap().clone();
    assert_eq!(persons.len(), 2);
    assert_eq!(persons.iter().filter(|p| p["is_primary_contact"] == true).count(), 1);
    assert!(persons.iter().any(|p| p["contact_person_id"] == pid.as_str() && p["is_primary_contact"] == true));

    // Update advances last_modified_time; inactive filter.
    let before = contact["last_modified_time"].as_str().unwrap().to_string();
    b.emu.state().clock.advance_ms(2_000);
    let (s, u) = b.put(&format!("/contacts/{id}"), json!({"website": "thames.example"})).await;
    assert_eq!(s, 200);
    assert_eq!(u["message"], "Contact has been updated successfully");
    assert!(u["contact"]["last_modified_time"].as_str().unwrap() > before.as_str());
    let (s, _) = b.post(&format!("/contacts/{id}/inactive"), json!({})).await;
    assert_eq!(s, 200);
    let (_, inactive) = b.get("/contacts?filter_by=Status.Inactive").await;
    assert_eq!(inactive["contacts"][0]["contact_id"], id.as_str());
    let (_, active) = b.get("/contacts?filter_by=Status.Active").await;
    assert!(active["contacts"].as_array().unwrap().iter().all(|c| c["contact_id"] != id.as_str()));
    let (s, _) = b.delete(&format!("/contacts/{id}")).await;
    assert_eq!(s, 200);
    let (s, gone) = b.get(&format!("/contacts/{id}")).await;
    assert_eq!((s, gone["code"].as_i64(), gone["message"].as_str()), (404, Some(1002), Some("Contact does not exist.")));
    b.emu.stop().await;
}

#[tokio::test]
async fn four_hundred_fifty_contacts_page_completely_and_sort_by_modified_time() {
    let b = Books::start().await;
    {
        // Create directly through HTTP would be slow-ish; 450 POSTs over loopback are fine.
        for i in 0..450 {
            let (s, body) = b.post("/contacts", json!({"contact_name": format!("Customer {i:03}")})).await;
            assert_eq!(s, 201, "{body}");
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut page = 1;
    loop {
        let (s, body) = b.get(&format!("/contacts?page={page}&per_page=200&sort_column=contact_name")).await;
        assert_eq!(s, 200);
        let rows = body["contacts"].as_array().unwrap();
        assert!(rows.len() <= 200);
        for r in rows {
            assert!(seen.insert(r["contact_id"].as_str().unwrap().to_string()));
        }
        assert_eq!(body["page_context"]["page"], page);
        assert_eq!(body["page_context"]["per_page"], 200);
        if body["page_context"]["has_more_page"] == false {
            break;
        }
        page += 1;
    }
    assert_eq!(seen.len(), 450);
    assert_eq!(page, 3);
    let (_, over) = b.get("/contacts?per_page=500").await;
    assert_eq!(over["page_context"]["per_page"], 200);
    let (_, desc) = b.get("/contacts?sort_column=last_modified_time&sort_order=D&per_page=1").await;
    assert_eq!(desc["contacts"][0]["contact_name"], "Customer 449");
    assert_eq!(desc["page_context"]["sort_order"], "D");
    b.emu.stop().await;
}

#[tokio::test]
async fn upsert_contact_by_unique_custom_field_creates_then_updates() {
    let b = Books::start().await;
    let upsert = |name: &str, upsert: bool| {
        let rb = b
            .req(reqwest::Method::PUT, b.url("/contacts"))
            .header("X-Unique-Identifier-Key", "cf_crm_account_id")
            .header("X-Unique-Identifier-Value", "ACC-77")
            .json(&json!({"contact_name": name}));
        if upsert { rb.header("X-Upsert", "true") } else { rb }
    };
    let (s, missing) = Books::send(upsert("Nobody", false)).await;
    assert_eq!((s, missing["code"].as_i64()), (404, Some(1002)), "{missing}");
    let (s, created) = Books::send(upsert("Upsert Co", true)).await;
    // The spec documents only 200 for the upsert, also when it creates.
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["message"].as_str().map(|m| m.contains("created")), Some(true));
    let id = created["contact"]["contact_id"].clone();
    assert_eq!(created["contact"]["custom_fields"][0]["api_name"], "cf_crm_account_id");
    assert_eq!(created["contact"]["custom_fields"][0]["value"], "ACC-77");
    let (s, updated) = Books::send(upsert("Upsert Co Renamed", true)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["contact"]["contact_id"], id);
    assert_eq!(updated["contact"]["contact_name"], "Upsert Co Renamed");
    let (_, all) = b.get("/contacts").await;
    assert_eq!(all["contacts"].as_array().unwrap().len(), 1);
    // A second contact may not take the same unique value.
    let (s, dup) = b.post("/contacts", json!({"contact_name": "Other", "custom_fields": [{"api_name": "cf_crm_account_id", "value": "ACC-77"}]})).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)), "{dup}");
    b.emu.stop().await;
}

#[tokio::test]
async fn upsert_item_by_unique_custom_field_creates_then_updates() {
    let b = Books::start().await;
    let upsert = |key: &str, value: &str, body: serde_json::Value, upsert: bool| {
        let rb = b.req(reqwest::Method::PUT, b.url("/items")).header("X-Unique-Identifier-Key", key).header("X-Unique-Identifier-Value", value).json(&body);
        if upsert { rb.header("X-Upsert", "true") } else { rb }
    };
    let widget = json!({"name": "Upsert Widget", "rate": 10, "sku": "UW-1"});
    // Without X-Upsert a missing item is not created.
    let (s, missing) = Books::send(upsert("cf_crm_product_id", "P-77", widget.clone(), false)).await;
    assert_eq!((s, missing["code"].as_i64()), (404, Some(1002)), "{missing}");
    // Only a custom field of items marked unique can key an upsert.
    let (s, not_unique) = Books::send(upsert("cf_segment", "P-77", widget.clone(), true)).await;
    assert_eq!(s, 400, "{not_unique}");
    assert!(not_unique["message"].as_str().unwrap().contains("X-Unique-Identifier-Key"), "{not_unique}");
    let (_, none) = b.get("/items").await;
    assert!(none["items"].as_array().unwrap().is_empty(), "refusals created nothing");
    // Created: 200 (PUT /items documents only 200) with the create message.
    let (s, created) = Books::send(upsert("cf_crm_product_id", "P-77", widget.clone(), true)).await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["message"], "The item has been added.");
    let id = created["item"]["item_id"].clone();
    assert_eq!(created["item"]["custom_fields"][0]["api_name"], "cf_crm_product_id");
    assert_eq!(created["item"]["custom_fields"][0]["value"], "P-77");
    // Updated, by api name or label, with or without X-Upsert.
    let (s, updated) = Books::send(upsert("cf_crm_product_id", "P-77", json!({"rate": 12.5}), true)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["message"], "The item details have been updated.");
    assert_eq!((&updated["item"]["item_id"], updated["item"]["rate"].as_f64()), (&id, Some(12.5)));
    assert_eq!(updated["item"]["name"], "Upsert Widget", "fields left out are kept");
    let (s, by_label) = Books::send(upsert("CRM Product ID", "P-77", json!({"name": "Renamed Widget"}), false)).await;
    assert_eq!((s, &by_label["item"]["item_id"]), (200, &id), "{by_label}");
    // Repeating the same upsert changes nothing about how many items there are.
    Books::send(upsert("cf_crm_product_id", "P-77", widget.clone(), true)).await;
    let (_, all) = b.get("/items").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    // A create by upsert still keeps SKUs unique, and the required fields required.
    let (s, dup) = Books::send(upsert("cf_crm_product_id", "P-78", json!({"name": "Clone", "rate": 1, "sku": "uw-1"}), true)).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)), "{dup}");
    let (s, no_rate) = Books::send(upsert("cf_crm_product_id", "P-79", json!({"name": "No rate"}), true)).await;
    assert_eq!(s, 400, "{no_rate}");
    // The value header is required.
    let (s, no_value) = Books::send(b.req(reqwest::Method::PUT, b.url("/items")).header("X-Unique-Identifier-Key", "cf_crm_product_id").json(&widget)).await;
    assert_eq!(s, 400, "{no_value}");
    b.emu.stop().await;
}

#[tokio::test]
async fn items_have_unique_skus_status_and_filters() {
    let b = Books::start().await;
    let tax = b.tax("VAT").await;
    let (s, i) = b
        .post(
            "/items",
            json!({"name": "Widget", "rate": 12.5, "sku": "W-1", "tax_id": tax, "custom_fields": [{"api_name": "cf_crm_product_id", "value": "P1"}]}),
        )
        .await;
    assert_eq!(s, 201, "{i}");
    assert_eq!(i["message"], "The item has been added.");
    assert_eq!(i["item"]["rate"], 12.5);
    assert_eq!(i["item"]["tax_name"], "VAT");
    let id = i["item"]["item_id"].as_str().unwrap().to_string();
    let (s, dup) = b.post("/items", json!({"name": "Other", "rate": 1, "sku": "w-1"})).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)));
    let (s, missing) = b.post("/items", json!({"name": "No rate"})).await;
    assert_eq!(s, 400);
    assert!(missing["message"].as_str().unwrap().contains("rate"));
    b.post("/items", json!({"name": "Gizmo", "rate": 3})).await;
    let (_, found) = b.get("/items?name_startswith=wid").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    b.post(&format!("/items/{id}/inactive"), json!({})).await;
    let (_, active) = b.get("/items?filter_by=Status.Active").await;
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    assert_eq!(active["items"][0]["name"], "Gizmo");
    let (s, u) = b.put(&format!("/items/{id}"), json!({"rate": 13})).await;
    assert_eq!((s, u["item"]["rate"].as_i64()), (200, Some(13)));
    b.emu.stop().await;
}

#[tokio::test]
async fn seeded_world_has_demo_records_and_survives_a_snapshot() {
    let config = zoho_emulator::EmulatorConfig { seed_data: true, ..zoho_emulator::EmulatorConfig::unlimited() };
    let emu = zoho_emulator::Emulator::start(config, 0).await.unwrap();
    let http = reqwest::Client::new();
    let (creds, token) = zoho_emulator::testkit::login(&http, &emu.url()).await.unwrap();
    let b = Books { emu, http, org: creds.organization_id, token };
    let (_, contacts) = b.get("/contacts").await;
    let codes: std::collections::BTreeSet<_> =
        contacts["contacts"].as_array().unwrap().iter().map(|c| c["currency_code"].as_str().unwrap().to_string()).collect();
    assert!(codes.len() >= 5, "{codes:?}");
    let (_, items) = b.get("/items").await;
    assert!(items["items"].as_array().unwrap().iter().all(|i| i["sku"].as_str().unwrap().starts_with("SKU-")));
    let (_, invoices) = b.get("/invoices").await;
    let statuses: std::collections::BTreeSet<_> = invoices["invoices"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap().to_string()).collect();
    for s in ["draft", "sent", "overdue", "paid"] {
        assert!(statuses.contains(s), "{statuses:?}");
    }
    let (_, pays) = b.get("/customerpayments").await;
    assert_eq!(pays["customer_payments"].as_array().unwrap().len(), 1);
    let snapshot: serde_json::Value = b.http.get(format!("{}/__emulator/state", b.emu.url())).send().await.unwrap().json().await.unwrap();
    let world: zoho_emulator::World = serde_json::from_value(snapshot).unwrap();
    assert_eq!(world.books.orgs.values().next().unwrap().invoices.len(), 5);
    b.emu.stop().await;
}

/// `sku=` finds the one item with that SKU whatever its case (through the SKU index),
/// follows renames and deletions, and combines with the other filters.
#[tokio::test]
async fn items_are_found_by_exact_sku() {
    let b = Books::start().await;
    let (s, a) = b.post("/items", json!({"name": "Alpha", "rate": 1, "sku": "AbC-1"})).await;
    assert_eq!(s, 201, "{a}");
    let id = a["item"]["item_id"].as_str().unwrap().to_string();
    b.post("/items", json!({"name": "Beta", "rate": 2, "sku": "AbC-10"})).await;
    let names = |v: &serde_json::Value| v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&b.get("/items?sku=abc-1").await.1), ["Alpha"]);
    assert_eq!(names(&b.get("/items?sku=ABC-1&filter_by=Status.Active").await.1), ["Alpha"]);
    assert!(names(&b.get("/items?sku=ABC-1&filter_by=Status.Inactive").await.1).is_empty());
    assert!(names(&b.get("/items?sku=abc-1&name=Beta").await.1).is_empty());
    assert_eq!(names(&b.get("/items?sku_startswith=abc-1&sort_column=name").await.1), ["Alpha", "Beta"]);
    // Renamed SKU: found under the new one only.
    let (s, r) = b.put(&format!("/items/{id}"), json!({"sku": "ZZ-9"})).await;
    assert_eq!(s, 200, "{r}");
    assert!(names(&b.get("/items?sku=abc-1").await.1).is_empty());
    assert_eq!(names(&b.get("/items?sku=zz-9").await.1), ["Alpha"]);
    let (s, _) = b.delete(&format!("/items/{id}")).await;
    assert_eq!(s, 200);
    assert!(names(&b.get("/items?sku=zz-9").await.1).is_empty());
    b.emu.stop().await;
}
