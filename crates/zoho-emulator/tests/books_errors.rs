//! Every bad Books request gets Books' `{"code","message"}` envelope and the right status.

mod books_support;

use books_support::Books;
use serde_json::json;

#[tokio::test]
async fn malformed_json_wrong_types_and_missing_fields() {
    let b = Books::start().await;
    let (s, r) = Books::send(b.req(reqwest::Method::POST, b.url("/contacts")).header("content-type", "application/json").body("{\"contact_name\": ")).await;
    assert_eq!((s, r["code"].as_i64(), r["message"].as_str()), (400, Some(1038), Some("JSON is not well formed")));
    let (s, r) =
        Books::send(b.req(reqwest::Method::POST, b.url("/contacts")).header("content-type", "application/x-www-form-urlencoded").body("JSONString=%7Bbroken"))
            .await;
    assert_eq!((s, r["code"].as_i64()), (400, Some(1038)));
    let (s, r) = b.post("/contacts", json!({})).await;
    assert_eq!((s, r["code"].as_i64()), (400, Some(4)));
    assert!(r["message"].as_str().unwrap().contains("contact_name"), "{r}");
    let (s, r) = b.post("/contacts", json!({"contact_name": ["x"]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for contact_name")));
    let customer = b.customer("Err Co", None).await;
    let (s, r) = b.post("/invoices", json!({"customer_id": customer})).await;
    assert_eq!(s, 400);
    assert!(r["message"].as_str().unwrap().contains("line_items"), "{r}");
    let (s, r) = b.post("/invoices", json!({"line_items": [{"name": "x", "rate": 1}]})).await;
    assert!(s == 400 && r["message"].as_str().unwrap().contains("customer_id"), "{r}");
    let (s, r) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "x", "rate": "abc"}]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for line_items.rate")));
    let (s, r) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "x", "rate": 1, "tax_id": "123"}]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for line_items.tax_id")));
    let (s, r) = b.post("/invoices", json!({"customer_id": customer, "date": "2026-13-01", "line_items": [{"name": "x", "rate": 1}]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for date")));
    let (s, r) = b.post("/invoices", json!({"customer_id": customer, "discount": "ten%", "line_items": [{"name": "x", "rate": 1}]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for discount")));
    let (s, r) = b.post("/invoices", json!({"customer_id": "999", "line_items": [{"name": "x", "rate": 1}]})).await;
    assert_eq!((s, r["message"].as_str()), (400, Some("Invalid value passed for customer_id")));
    let (s, r) = b.get("/invoices?per_page=abc").await;
    assert_eq!((s, r["code"].as_i64()), (400, Some(4)));
    b.emu.stop().await;
}

#[tokio::test]
async fn unknown_ids_unknown_routes_and_organization_id() {
    let b = Books::start().await;
    for (path, entity) in [
        ("/invoices/1", "Invoice"),
        ("/contacts/1", "Contact"),
        ("/items/1", "Item"),
        ("/estimates/1", "Estimate"),
        ("/creditnotes/1", "Credit note"),
        ("/customerpayments/1", "Payment"),
        ("/settings/taxes/1", "Tax"),
    ] {
        let (s, r) = b.get(path).await;
        assert_eq!((s, r["code"].as_i64()), (404, Some(1002)), "{path}");
        assert_eq!(r["message"], format!("{entity} does not exist."));
    }
    let (s, r) = b.post("/invoices/1/status/sent", json!({})).await;
    assert_eq!((s, r["code"].as_i64()), (404, Some(1002)));
    let no_org = format!("{}/books/v3/invoices", b.emu.url());
    let (s, r) = Books::send(b.req(reqwest::Method::GET, no_org)).await;
    assert_eq!((s, r["code"].as_i64(), r["message"].as_str()), (400, Some(2), Some("Invalid value passed for organization_id")));
    let wrong_org = format!("{}/books/v3/invoices?organization_id=1", b.emu.url());
    let (s, r) = Books::send(b.req(reqwest::Method::GET, wrong_org)).await;
    assert_eq!((s, r["code"].as_i64()), (401, Some(57)));
    let (s, r) = b.get("/nothing/here").await;
    assert_eq!((s, r["code"].as_i64()), (404, Some(5)));
    let (s, r) = Books::send(b.req(reqwest::Method::PATCH, b.url("/invoices"))).await;
    assert_eq!((s, r["code"].as_i64()), (405, Some(37)));
    b.emu.stop().await;
}
