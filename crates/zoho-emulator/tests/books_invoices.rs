//! Books invoices over real HTTP: exact totals, numbering, status machine, filters, upsert,
//! and the JSONString form body.

mod books_support;

use books_support::Books;
use serde_json::json;

#[tokio::test]
async fn item_level_discounts_with_tax_give_exact_totals() {
    let b = Books::start().await;
    let customer = b.customer("Acme", None).await;
    let sales = b.tax("Sales Tax").await;
    let (s, body) = b
        .post(
            "/invoices",
            json!({
                "customer_id": customer,
                "discount_type": "item_level",
                "line_items": [
                    {"name": "Widget", "rate": 19.99, "quantity": 3, "discount": "10%", "tax_id": sales},
                    {"name": "Service", "rate": 100, "quantity": 1, "discount": 15, "tax_id": sales},
                ],
                "shipping_charge": 10,
                "adjustment": -0.43,
            }),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["code"], 0);
    assert_eq!(body["message"], "The invoice has been created.");
    let inv = &body["invoice"];
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["invoice_number"], "INV-000001");
    assert_eq!(inv["line_items"][0]["discount_amount"], 6.0);
    assert_eq!(inv["line_items"][0]["item_total"], 53.97);
    assert_eq!(inv["line_items"][1]["item_total"], 85);
    assert_eq!(inv["sub_total"], 138.97);
    assert_eq!(inv["taxes"][0]["tax_name"], "Sales Tax");
    assert_eq!(inv["taxes"][0]["tax_amount"], 11.46);
    assert_eq!(inv["tax_total"], 11.46);
    assert_eq!(inv["discount_total"], 21.0);
    assert_eq!(inv["total"], 160);
    assert_eq!(inv["balance"], 160);
    assert_eq!(inv["payment_terms"], 30);
    b.emu.stop().await;
}

#[tokio::test]
async fn entity_discount_before_tax_with_a_tax_group_gives_exact_totals() {
    let b = Books::start().await;
    let customer = b.customer("Bergmann", None).await;
    let vat = b.tax("VAT").await;
    let gst = b.tax("GST").await;
    let group = b.tax("State + City").await;
    let (s, body) = b
        .post(
            "/invoices",
            json!({
                "customer_id": customer,
                "discount_type": "entity_level",
                "discount": "10%",
                "is_discount_before_tax": true,
                "line_items": [
                    {"name": "A", "rate": 100, "quantity": 1, "tax_id": vat},
                    {"name": "B", "rate": 50, "quantity": 1, "tax_id": gst},
                    {"name": "C", "rate": 33.33, "quantity": 1, "tax_id": group},
                ],
            }),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let inv = &body["invoice"];
    assert_eq!(inv["sub_total"], 183.33);
    assert_eq!(inv["discount_amount"], 18.33);
    let taxes: Vec<(String, f64)> =
        inv["taxes"].as_array().unwrap().iter().map(|t| (t["tax_name"].as_str().unwrap().to_string(), t["tax_amount"].as_f64().unwrap())).collect();
    assert_eq!(taxes, vec![("VAT".to_string(), 18.0), ("GST".to_string(), 3.75), ("City Tax".to_string(), 0.98)]);
    assert_eq!(inv["tax_total"], 22.73);
    assert_eq!(inv["total"], 187.73);
    // After tax instead: tax on full amounts, discount off the taxed sum.
    let id = inv["invoice_id"].as_str().unwrap();
    let (s, after) = b.put(&format!("/invoices/{id}"), json!({"is_discount_before_tax": false})).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["message"], "Invoice information has been updated.");
    // VAT 20.00, GST 2.50 + 1.67, City 1.08 -> 25.25; 183.33 + 25.25 - 18.33
    assert_eq!(after["invoice"]["tax_total"], 25.25);
    assert_eq!(after["invoice"]["total"], 190.25);
    b.emu.stop().await;
}

#[tokio::test]
async fn jpy_and_kwd_invoices_round_to_their_currency() {
    let b = Books::start().await;
    let service = b.tax("Service Tax").await;
    let gst = b.tax("GST").await;
    let jp = b.customer("Sakura", Some("JPY")).await;
    let (s, body) = b
        .post("/invoices", json!({"customer_id": jp, "line_items": [{"name": "X", "rate": 1234, "quantity": 3, "discount": "7.5%", "tax_id": service}]}))
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["invoice"]["currency_code"], "JPY");
    assert_eq!(body["invoice"]["exchange_rate"], 0.0067);
    assert_eq!(body["invoice"]["tax_total"], 342);
    assert_eq!(body["invoice"]["total"], 3766);
    let kw = b.customer("Gulf", Some("KWD")).await;
    let (_, body) = b
        .post("/invoices", json!({"customer_id": kw, "exchange_rate": 3.3, "line_items": [{"name": "Y", "rate": 12.3456, "quantity": 2, "tax_id": gst}]}))
        .await;
    assert_eq!(body["invoice"]["exchange_rate"], 3.3);
    assert_eq!(body["invoice"]["sub_total"], 24.691);
    assert_eq!(body["invoice"]["tax_total"], 1.235);
    assert_eq!(body["invoice"]["total"], 25.926);
    b.emu.stop().await;
}

#[tokio::test]
async fn numbering_manual_numbers_and_json_string_form() {
    let b = Books::start().await;
    let customer = b.customer("Numbers Inc", None).await;
    let line = json!([{"name": "L", "rate": 10, "quantity": 1}]);
    let (_, first) = b.post("/invoices", json!({"customer_id": customer, "line_items": line})).await;
    assert_eq!(first["invoice"]["invoice_number"], "INV-000001");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("JSONString", &json!({"customer_id": customer, "line_items": line, "reference_number": "FORM-1"}).to_string())
        .finish();
    let (s, second) =
        Books::send(b.req(reqwest::Method::POST, b.url("/invoices")).header("content-type", "application/x-www-form-urlencoded").body(form)).await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(second["invoice"]["invoice_number"], "INV-000002");
    assert_eq!(second["invoice"]["reference_number"], "FORM-1");
    let (s, missing) = b.post("/invoices?ignore_auto_number_generation=true", json!({"customer_id": customer, "line_items": line})).await;
    assert_eq!(s, 400);
    assert!(missing["message"].as_str().unwrap().contains("invoice_number"), "{missing}");
    let (s, manual) =
        b.post("/invoices?ignore_auto_number_generation=true", json!({"customer_id": customer, "invoice_number": "CUSTOM-9", "line_items": line})).await;
    assert_eq!((s, manual["invoice"]["invoice_number"].as_str()), (201, Some("CUSTOM-9")));
    let (s, dup) =
        b.post("/invoices?ignore_auto_number_generation=true", json!({"customer_id": customer, "invoice_number": "CUSTOM-9", "line_items": line})).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)), "{dup}");
    let (_, third) = b.post("/invoices", json!({"customer_id": customer, "line_items": line})).await;
    assert_eq!(third["invoice"]["invoice_number"], "INV-000003");
    b.emu.stop().await;
}

#[tokio::test]
async fn status_machine_filters_and_delete_rules() {
    let b = Books::start().await;
    let customer = b.customer("Status Co", None).await;
    let (_, inv) = b
        .post(
            "/invoices",
            json!({"customer_id": customer, "reference_number": "DEAL-7", "zcrm_potential_id": "555", "line_items": [{"name": "L", "rate": 100}]}),
        )
        .await;
    let id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
    let (_, other) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "L", "rate": 5}]})).await;
    let other_id = other["invoice"]["invoice_id"].as_str().unwrap().to_string();
    let (s, r) = b.post(&format!("/invoices/{id}/status/draft"), json!({})).await;
    assert_eq!((s, r["code"].as_i64()), (400, Some(1040)), "draft → draft is refused");
    let (s, r) = b.post(&format!("/invoices/{id}/status/sent"), json!({})).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("Invoice status has been changed to Sent.")));
    let (_, sent) = b.get("/invoices?status=sent").await;
    assert_eq!(sent["invoices"].as_array().unwrap().len(), 1);
    let (_, unpaid) = b.get("/invoices?filter_by=Status.Unpaid").await;
    assert_eq!(unpaid["invoices"][0]["invoice_id"], id.as_str());
    let (_, drafts) = b.get("/invoices?filter_by=Status.Draft").await;
    assert_eq!(drafts["invoices"][0]["invoice_id"], other_id.as_str());
    let (_, by_ref) = b.get("/invoices?reference_number=DEAL-7").await;
    assert_eq!(by_ref["invoices"].as_array().unwrap().len(), 1);
    let (_, by_deal) = b.get("/invoices?zcrm_potential_id=555").await;
    assert_eq!(by_deal["invoices"][0]["invoice_id"], id.as_str());
    let (_, search) = b.get("/invoices?search_text=deal-7").await;
    assert_eq!(search["invoices"].as_array().unwrap().len(), 1);
    // last_modified_time filter and sort.
    b.emu.state().clock.advance_ms(5_000);
    let mark = b.emu.state().clock.books_datetime(b.emu.state().clock.now());
    let (_, _) = b.put(&format!("/invoices/{other_id}"), json!({"notes": "touched"})).await;
    let (_, since) = b.get(&format!("/invoices?last_modified_time={}", url::form_urlencoded::byte_serialize(mark.as_bytes()).collect::<String>())).await;
    let ids: Vec<_> = since["invoices"].as_array().unwrap().iter().map(|i| i["invoice_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![other_id.clone()]);
    let (_, sorted) = b.get("/invoices?sort_column=last_modified_time&sort_order=D").await;
    assert_eq!(sorted["invoices"][0]["invoice_id"], other_id.as_str());
    // Void, then back to draft.
    let (s, r) = b.post(&format!("/invoices/{id}/status/void"), json!({})).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("Invoice status has been changed to Void.")));
    let (_, got) = b.get(&format!("/invoices/{id}")).await;
    assert_eq!(got["invoice"]["status"], "void");
    let (s, r) = b.post(&format!("/invoices/{id}/status/draft"), json!({})).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("Status of invoice changed from void to draft")));
    let (s, r) = b.delete(&format!("/invoices/{other_id}")).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("The invoice has been deleted.")));
    let (s, r) = b.get(&format!("/invoices/{other_id}")).await;
    assert_eq!((s, r["code"].as_i64(), r["message"].as_str()), (404, Some(1002), Some("Invoice does not exist.")));
    b.emu.stop().await;
}

#[tokio::test]
async fn upsert_invoice_by_crm_deal_id() {
    let b = Books::start().await;
    let customer = b.customer("Deal Co", None).await;
    let put = |rate: i64| {
        b.req(reqwest::Method::PUT, b.url("/invoices"))
            .header("X-Unique-Identifier-Key", "cf_crm_deal_id")
            .header("X-Unique-Identifier-Value", "D-42")
            .header("X-Upsert", "true")
            .json(&json!({"customer_id": customer, "line_items": [{"name": "Deal", "rate": rate}]}))
    };
    let (s, created) = Books::send(put(100)).await;
    // The spec documents only 200 for the upsert, also when it creates.
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["message"].as_str().map(|m| m.contains("created")), Some(true));
    let id = created["invoice"]["invoice_id"].clone();
    assert_eq!(created["invoice"]["custom_fields"][0]["api_name"], "cf_crm_deal_id");
    let (s, updated) = Books::send(put(250)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["invoice"]["invoice_id"], id);
    assert_eq!(updated["invoice"]["total"], 250);
    let (_, all) = b.get("/invoices").await;
    assert_eq!(all["invoices"].as_array().unwrap().len(), 1);
    let (s, bad) = Books::send(
        b.req(reqwest::Method::PUT, b.url("/invoices"))
            .header("X-Unique-Identifier-Key", "cf_project_code")
            .header("X-Unique-Identifier-Value", "x")
            .json(&json!({"customer_id": customer, "line_items": [{"name": "Deal", "rate": 1}]})),
    )
    .await;
    assert_eq!((s, bad["code"].as_i64()), (400, Some(4)), "a non-unique field cannot key an upsert: {bad}");
    b.emu.stop().await;
}
